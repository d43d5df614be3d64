//! `--emit findings`: compromise verdicts grouped into incidents, written as OCSF Detection
//! Findings.
//!
//! # Incidents
//!
//! An incident is one (session, foreign address) pair: every `compromise` verdict for session `S`
//! from address `A` joins the incident `(S, A)` until it closes. Two foreign addresses on one session
//! are two incidents; the same address again is the same incident.
//!
//! # What is written, and when
//!
//! Each incident is written as a *stream of snapshots* sharing one `finding_info.uid`:
//!
//! - **Create** (`activity_id` 1) at once, on the incident's first alert: the lowest latency the
//!   input allows, which is what matters for stolen credentials (the thief acts within minutes).
//! - **Update** (`activity_id` 2) on a later alert when it adds an API call not seen in the incident
//!   before (a new operation, or a known one with a new error code), or when at least
//!   [`FindingsConfig::update_interval`] of event time has passed since the previous line. Repeats
//!   of known calls in between only raise the counts, which the next line carries. An incident
//!   writes at most `1 + max_calls + (last_seen - first_seen) / update_interval` lines, plus its
//!   Close. Calls after the latest line and before the close are in the Close line.
//! - **Close** (`activity_id` 3) once the watermark passes the session's expiry plus
//!   [`FindingsConfig::close_grace`] (by default the detector's own [`LATE_GRACE`], so an incident
//!   closes when the detector forgets the session row), or at the end of the input.
//!
//! Every line is a complete snapshot, never a delta: a consumer keeps the line with the highest
//! `metadata.sequence` per `finding_info.uid` (an upsert), or, in a batch run, reads only the
//! `activity_id` 3 lines, which hold each incident's final state. A Create/Update stream rather
//! than one line at close was chosen because a close can come hours after the theft (the session
//! TTL); the close line still gives batch consumers one complete record per incident.
//!
//! # Determinism
//!
//! Nothing here reads the wall clock: every time is CloudTrail event time, and `time` is the first
//! alert's time (Create), the latest alert's time (Update) or the close time (session expiry plus
//! grace, or the final watermark). Ids are a fixed hash of the session ARN, the foreign address and
//! the first alert's time ([`incident_id`]). All the state of an incident is its session's, so
//! [`Incidents`] can live on the shard that owns the session: the lines and their content do not
//! depend on the number of shards, provided each shard is fed its sessions' alerts in input order
//! (which the pipeline already guarantees) and [`Incidents::advance`] / [`Incidents::finish`] are
//! called with the same watermarks on every shard.
//!
//! # Severity
//!
//! See [`severity`]: OutsideAWS is High, InsideAWS (or a private address through a VPC endpoint)
//! is Medium, one step lower when the caller knows the foreign address to be another instance of
//! the same account.
//!
//! # OCSF mapping (version [`OCSF_VERSION`], class 2004 Detection Finding, profile `cloud`)
//!
//! - `finding_info`: `uid` (incident id), `title`, `desc`, `types`
//!   (`credtrail:InstanceCredentialExfiltration.{OutsideAWS,InsideAWS,PrivateNetwork,Unclassified}`),
//!   `created_time`/`first_seen_time` (first alert), `modified_time`/`last_seen_time` (latest
//!   alert), `analytic` (rule `credtrail.ip-lock`), `data_sources`.
//! - `start_time`, `end_time`, `count` (calls from the address), `duration`.
//! - `resources`: the instance (`AWS::EC2::Instance`, uid the instance id) and the role session
//!   (`AWS::STS::AssumedRoleSession`, uid the session ARN, name the role).
//! - `evidences[0]`: `actor` (user: the session ARN, type AssumedRole, account; session: uid the
//!   session ARN, issuer the role ARN, credential_uid the access key id when known) and
//!   `src_endpoint.ip`, the foreign address. In OCSF 1.3.0 Detection Finding has no class-level
//!   `src_endpoint`, and a class-level `actor` only under the `host` profile (it would describe the
//!   host, which the thief is not), so both live in the evidence, where 1.3.0 puts them.
//! - `evidences[1..]`: one per distinct (operation, error code), first-seen order:
//!   `api.operation`, `api.response.error`, and `data` {count, first/last seen}.
//! - `cloud`: provider `AWS`, account, region (the alerting calls' `awsRegion`, when known).
//! - `severity_id`/`severity`, `confidence_id`/`confidence`, `status_id` 1 New on every line (the
//!   status is the consumer's triage state; closing is the activity, not a resolution).
//! - `metadata`: `version`, `product` {name, vendor_name `credtrail`, version}, `uid`
//!   (`<incident id>/<sequence>`), `correlation_uid` (incident id), `sequence`, `profiles`.
//! - `unmapped` (no OCSF home): `origin`, `aws_ip_range` {region, service, network_border_group},
//!   `slot`, `locked_ips` [{ip, slot, since (ms), origin}], `calls_not_listed`,
//!   `session_row_expires` (ms), `close_reason` (`session_expired`, `end_of_input`, `not_tracked`),
//!   `peer_note`, and `evidence` with a `note` when a rule beyond the address decided:
//!   `lock_moved` or `own_region` (with `moved_from`), `after_task_stopped`.

use crate::detect::workload::{Kind, Workload};
use crate::detect::{LATE_GRACE, Lock, Slot, Verdict, VerdictKind, Why};
use crate::output::ip_ranges::AwsRanges;
use crate::output::ocsf::{
    Account, Actor, Analytic, Api, AwsIpRange, CallData, Cloud, DetectionFinding, EvidenceData, Evidences,
    FindingInfo, LockedIp, Metadata, NetworkEndpoint, OriginData, Product, ResourceData, ResourceDetails,
    Response, Session, Unmapped, User, WorkloadData,
};
use crate::parse::event_time::{self, MINUTE, Millis};
use crate::parse::session_key::SessionKey;
use crate::parse::source_address::is_private;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// The OCSF version the findings follow (and `tests/data/ocsf/` validates against).
pub const OCSF_VERSION: &str = "1.3.0";
const CLASS_UID: u32 = 2004;
const CATEGORY_UID: u32 = 2;
/// Strings copied from records (operation names, error codes, regions, key ids) are cut to this
/// many bytes, so a hostile record cannot make an incident large.
pub const MAX_FIELD_BYTES: usize = 256;

/// Where the foreign address is, which is what the severity follows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Origin {
    /// A public address in no AWS range.
    OutsideAws,
    /// A public address in an AWS range: another AWS customer's resource, or one of yours.
    InsideAws {
        region: String,
        service: String,
        network_border_group: String,
    },
    /// A private address (RFC 1918, 100.64.0.0/10, fc00::/7), as VPC endpoints report.
    PrivateNetwork,
    /// A public address, but no `--aws-ip-ranges` was given to tell inside from outside.
    Unclassified,
}

impl Origin {
    pub fn classify(ip: IpAddr, ranges: Option<&AwsRanges>) -> Origin {
        if is_private(&ip) {
            return Origin::PrivateNetwork;
        }
        let Some(ranges) = ranges else {
            return Origin::Unclassified;
        };
        match ranges.lookup(ip) {
            Some(r) => Origin::InsideAws {
                region: r.region.to_owned(),
                service: r.service.to_owned(),
                network_border_group: r.network_border_group.to_owned(),
            },
            None => Origin::OutsideAws,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Origin::OutsideAws => "outside_aws",
            Origin::InsideAws { .. } => "inside_aws",
            Origin::PrivateNetwork => "private_network",
            Origin::Unclassified => "unclassified",
        }
    }

    fn finding_type(&self) -> &'static str {
        match self {
            Origin::OutsideAws => "credtrail:InstanceCredentialExfiltration.OutsideAWS",
            Origin::InsideAws { .. } => "credtrail:InstanceCredentialExfiltration.InsideAWS",
            Origin::PrivateNetwork => "credtrail:InstanceCredentialExfiltration.PrivateNetwork",
            Origin::Unclassified => "credtrail:InstanceCredentialExfiltration.Unclassified",
        }
    }
}

/// OCSF `severity_id` and its caption.
///
/// | origin | severity |
/// |---|---|
/// | OutsideAWS | 4 High |
/// | unclassified (no `--aws-ip-ranges`) | 4 High |
/// | InsideAWS | 3 Medium |
/// | private address (VPC endpoint) | 3 Medium |
///
/// and one step lower (High to Medium, Medium to Low) with a `peer_note`: the caller knows the
/// foreign address to be another instance of the same account.
///
/// Why: instance credentials used from outside AWS have no benign explanation in the method (an
/// instance's own calls leave from AWS addresses), so that is "act now". The benign explanations the
/// method can miss all sit inside AWS (an egress NAT gateway with several addresses, a proxy fleet,
/// an address change CloudTrail did not record), and so does a thief's own EC2 instance: still an
/// alert, but with more false positives. Without the ranges the origin is unknown and the finding
/// keeps the higher severity. In every case the caveat of the method holds: if the thief called
/// before the instance did, the locked address is the thief's and the "foreign" one the instance's;
/// the finding's description says so, and it changes nothing about the severity, since either way
/// two parties use one instance's credentials.
pub fn severity(origin: &Origin, peer_note: bool) -> (u8, &'static str) {
    let base = match origin {
        Origin::OutsideAws | Origin::Unclassified => 4,
        Origin::InsideAws { .. } | Origin::PrivateNetwork => 3,
    };
    let id = if peer_note { base - 1 } else { base };
    (id, severity_caption(id))
}

fn severity_caption(id: u8) -> &'static str {
    match id {
        1 => "Informational",
        2 => "Low",
        3 => "Medium",
        4 => "High",
        5 => "Critical",
        6 => "Fatal",
        _ => "Unknown",
    }
}

/// OCSF `confidence_id` and its caption: High outside AWS, Medium inside AWS, on a private address
/// or unclassified, Low with a `peer_note`.
pub fn confidence(origin: &Origin, peer_note: bool) -> (u8, &'static str) {
    match (origin, peer_note) {
        (_, true) => (1, "Low"),
        (Origin::OutsideAws, false) => (3, "High"),
        _ => (2, "Medium"),
    }
}

/// One distinct (operation, error code) of an incident.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CallSummary {
    /// CloudTrail `eventName`.
    pub operation: String,
    /// CloudTrail `errorCode`, if the call failed.
    pub error_code: Option<String>,
    pub count: u64,
    pub first_seen: Millis,
    pub last_seen: Millis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CloseReason {
    /// The watermark passed the session's expiry plus the grace.
    SessionExpired,
    /// The input ended.
    EndOfInput,
    /// Past the bounds on open incidents: written as one alert's Create and Close at once.
    NotTracked,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::SessionExpired => "session_expired",
            CloseReason::EndOfInput => "end_of_input",
            CloseReason::NotTracked => "not_tracked",
        }
    }
}

/// The state of one (session, foreign address) incident: what a finding line is written from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Incident {
    /// [`incident_id`] of the session ARN, the address and `first_seen`.
    pub id: String,
    pub session: SessionKey,
    pub foreign_ip: IpAddr,
    /// The slot the first alert was judged in.
    pub slot: Slot,
    pub origin: Origin,
    /// Event time of the first alert (the id's), and the latest.
    pub first_seen: Millis,
    pub last_seen: Millis,
    /// Calls from the address.
    pub count: u64,
    /// Distinct (operation, error code), in first-seen order, at most `max_calls`.
    pub calls: Vec<CallSummary>,
    /// Calls whose (operation, error code) did not fit in `calls`.
    pub calls_not_listed: u64,
    /// The session's locks at the latest alert.
    pub locks: Vec<Lock>,
    /// The latest expiry of the session row seen with an alert.
    pub session_expires: Millis,
    /// `awsRegion` of the first alert that had one.
    pub region: Option<String>,
    /// `userIdentity.accessKeyId` of the first alert that had one.
    pub access_key_id: Option<String>,
    /// `userIdentity.sessionContext.sessionIssuer.arn` of the first alert that had one: the role
    /// ARN with its path. Without it the role ARN is rebuilt from the session key, without path.
    pub role_arn: Option<String>,
    /// Set by the caller when it knows more about the address (e.g. "locked by i-0abc… of the same
    /// account"); lowers the severity one step.
    pub peer_note: Option<String>,
    /// Lines written so far; the next line's `metadata.sequence`.
    pub lines: u32,
    pub closed: Option<(Millis, CloseReason)>,
    /// Whose credentials: the kind, its name, the chain back to the workload.
    pub workload: Workload,
    /// Calls from the session's lock since this incident opened (a contested session): what the
    /// other side did meanwhile.
    pub lock_calls: u64,
    /// The trail tied this address to the instance and the lock moved to it (rule 17): the
    /// address named by this finding is the instance's, and the one named here the thief's.
    pub lock_moved_from: Option<IpAddr>,
    /// The evidence the lock moved on: the trail's tie, or the instance's own region.
    pub lock_moved_by_region: bool,
    /// An alert of the incident was a task's call after its StopTask (rule 18): the address may be
    /// one the session is locked to, so the finding must say why it alerted. Not saved (the state
    /// format stays as it is): every later call of a stopped task alerts with the same evidence, so
    /// the next line after a restart that a call causes says it again.
    #[serde(skip)]
    pub after_task_stopped: bool,
}

/// The lifecycle step a line reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Open,
    Update,
    Close,
}

impl Phase {
    fn activity(self) -> (u32, &'static str) {
        match self {
            Phase::Open => (1, "Create"),
            Phase::Update => (2, "Update"),
            Phase::Close => (3, "Close"),
        }
    }
}

/// A deterministic incident id: `ctf-` and 32 hex digits of the 128-bit FNV-1a hash of
/// `session_arn`, `foreign_ip` and `first_seen` (milliseconds, decimal), newline-separated. Stable
/// across runs, machines, versions of Rust and thread counts.
pub fn incident_id(session_arn: &str, foreign_ip: &str, first_seen: Millis) -> String {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    let mut h = OFFSET;
    let first = first_seen.to_string();
    for part in [
        session_arn.as_bytes(),
        b"\n",
        foreign_ip.as_bytes(),
        b"\n",
        first.as_bytes(),
    ] {
        for &b in part {
            h ^= u128::from(b);
            h = h.wrapping_mul(PRIME);
        }
    }
    format!("ctf-{h:032x}")
}

/// Writes one finding line (OCSF Detection Finding JSON and a newline) for `incident` at `phase`.
/// The line's `metadata.sequence` is `incident.lines`; the caller counts lines ([`Incidents`]
/// does).
pub fn write_finding(incident: &Incident, phase: Phase, out: &mut Vec<u8>) {
    let names = Names::of(incident);
    let origin = origin_data(incident);
    let finding = finding(incident, phase, &names, &origin);
    // Serialising these structs into a Vec cannot fail; serde_json escapes every control
    // character, so the line holds no newline of its own.
    let _ = serde_json::to_writer(&mut *out, &finding);
    out.push(b'\n');
}

fn slot_name(s: Slot) -> &'static str {
    match s {
        Slot::Public => "public",
        Slot::Private => "private",
    }
}

fn aws_account(account: &str) -> Account<'_> {
    Account {
        type_: "AWS Account",
        type_id: 10,
        uid: account,
    }
}

/// The strings a finding names its session by, built once per line and borrowed by its objects.
struct Names {
    arn: String,
    role_arn: String,
    ip: String,
    /// The workload's name: a pod's `namespace/pod`, else the session name.
    workload: String,
}

impl Names {
    fn of(inc: &Incident) -> Names {
        let s = &inc.session;
        let role_arn = inc
            .role_arn
            .clone()
            .unwrap_or_else(|| format!("arn:{}:iam::{}:role/{}", s.partition.as_str(), s.account, s.role));
        Names {
            arn: s.to_string(),
            role_arn,
            ip: inc.foreign_ip.to_string(),
            workload: workload_name(inc),
        }
    }
}

fn origin_data(inc: &Incident) -> OriginData<'_> {
    let aws_ip_range = match &inc.origin {
        Origin::InsideAws {
            region,
            service,
            network_border_group,
        } => Some(AwsIpRange {
            network_border_group,
            region,
            service,
        }),
        _ => None,
    };
    OriginData {
        aws_ip_range,
        origin: inc.origin.as_str(),
    }
}

fn finding<'a>(
    inc: &'a Incident,
    phase: Phase,
    names: &'a Names,
    origin: &'a OriginData<'a>,
) -> DetectionFinding<'a> {
    let s = &inc.session;
    let note = inc.peer_note.is_some();
    let (severity_id, severity) = severity(&inc.origin, note);
    let (confidence_id, confidence) = confidence(&inc.origin, note);
    let (activity_id, activity) = phase.activity();
    let time = match (phase, inc.closed) {
        (Phase::Open, _) => inc.first_seen,
        (Phase::Close, Some((at, _))) => at,
        _ => inc.last_seen,
    };
    let (title, desc, message) = texts(inc, &names.arn, &names.ip);

    DetectionFinding {
        activity_id,
        activity_name: activity,
        category_name: "Findings",
        category_uid: CATEGORY_UID,
        class_name: "Detection Finding",
        class_uid: CLASS_UID,
        cloud: Cloud {
            account: aws_account(&s.account),
            provider: "AWS",
            region: inc.region.as_deref(),
        },
        confidence,
        confidence_id,
        count: inc.count,
        duration: inc.last_seen.saturating_sub(inc.first_seen),
        end_time: inc.last_seen,
        evidences: evidences(inc, names, origin),
        finding_info: FindingInfo {
            analytic: Analytic {
                name: "EC2 instance credentials used outside the session's locked address \
                       (Netflix, Bengtson 2018)",
                type_: "Rule",
                type_id: 1,
                uid: "credtrail.ip-lock",
                version: env!("CARGO_PKG_VERSION"),
            },
            created_time: inc.first_seen,
            data_sources: ["AWS CloudTrail"],
            desc,
            first_seen_time: inc.first_seen,
            last_seen_time: inc.last_seen,
            modified_time: inc.last_seen,
            title,
            types: [inc.origin.finding_type()],
            uid: &inc.id,
        },
        message,
        metadata: Metadata {
            correlation_uid: &inc.id,
            product: Product {
                name: "credtrail",
                vendor_name: "credtrail",
                version: env!("CARGO_PKG_VERSION"),
            },
            profiles: ["cloud"],
            sequence: inc.lines,
            uid: format!("{}/{}", inc.id, inc.lines),
            version: OCSF_VERSION,
        },
        resources: resources(inc, names),
        severity,
        severity_id,
        start_time: inc.first_seen,
        status: "New",
        status_id: 1,
        time,
        timezone_offset: 0,
        type_name: format!("Detection Finding: {activity}"),
        type_uid: CLASS_UID * 100 + activity_id,
        unmapped: unmapped(inc, phase, origin),
    }
}

/// The title, description and message of a finding: what a person reads.
fn texts(inc: &Incident, arn: &str, ip: &str) -> (String, String, String) {
    let s = &inc.session;
    let locks = describe_locks(&inc.locks);
    let where_from = match &inc.origin {
        Origin::OutsideAws => "outside AWS".to_owned(),
        Origin::InsideAws { region, service, .. } => format!("inside AWS ({region} {service})"),
        Origin::PrivateNetwork => "a private network address".to_owned(),
        Origin::Unclassified => "an address not classified (no AWS ranges loaded)".to_owned(),
    };
    let w = &inc.workload;
    let name = workload_name(inc);
    let title = format!(
        "{} credentials of {name} used from {} ({ip})",
        match w.kind {
            Kind::Instance => "EC2 instance",
            Kind::Task => "ECS task",
            Kind::Pod => "EKS pod",
            Kind::WebIdentity => "Web-identity session",
            Kind::Function => "Lambda function",
            Kind::Chained => "Chained session",
        },
        match &inc.origin {
            Origin::OutsideAws => "outside AWS",
            Origin::InsideAws { .. } => "another AWS address",
            Origin::PrivateNetwork => "another private address",
            Origin::Unclassified => "an address outside the session's lock",
        }
    );
    let operations = inc
        .calls
        .iter()
        .map(|c| match &c.error_code {
            Some(e) => format!("{} ({e}) x{}", c.operation, c.count),
            None => format!("{} x{}", c.operation, c.count),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let more = if inc.calls_not_listed > 0 {
        format!(" and {} more", inc.calls_not_listed)
    } else {
        String::new()
    };
    let chained = match w.root() {
        (root, Some(root_arn)) => format!(", assumed from the {} session {root_arn}", root.kind.noun()),
        _ => String::new(),
    };
    let mut desc = format!(
        "The {kind} session {arn} ({noun} {name}{chained}, role {role}, account {acct}) is locked to \
         {locks}. {n} call(s) with its credentials came from {ip}, {where_from}, between {first} \
         and {last}: {operations}{more}. Either the credentials were stolen and used from {ip}, \
         or the locked address is the thief's, who called first: check which address is the \
         {root}'s.",
        kind = w.kind.as_str(),
        noun = w.kind.noun(),
        root = w.root().0.kind.noun(),
        role = s.role,
        acct = s.account,
        n = inc.count,
        first = event_time::format(inc.first_seen),
        last = event_time::format(inc.last_seen),
    );
    if let Some(n) = &inc.peer_note {
        desc.push_str(" Note: ");
        desc.push_str(n);
    }
    let message = format!(
        "{} call(s) with the credentials of {} {name} (role {}) from {ip}, {where_from}; the \
         session is locked to {locks}",
        inc.count,
        w.kind.noun(),
        s.role
    );

    (title, desc, message)
}

/// A pod by `namespace/pod`, any other workload by its session name.
fn workload_name(inc: &Incident) -> String {
    inc.workload
        .pod(&inc.session.instance)
        .unwrap_or_else(|| inc.session.instance.to_string())
}

/// The workload (the instance, task, pod, function) and its role session.
fn resources<'a>(inc: &'a Incident, names: &'a Names) -> [ResourceDetails<'a>; 2] {
    let s = &inc.session;
    let partition = s.partition.as_str();
    let instance = ResourceDetails {
        cloud_partition: partition,
        data: ResourceData {
            account_uid: &s.account,
            role_arn: None,
        },
        name: &names.workload,
        region: inc.region.as_deref(),
        type_: match inc.workload.kind {
            Kind::Instance => "AWS::EC2::Instance",
            Kind::Task => "AWS::ECS::Task",
            Kind::Pod => "AWS::EKS::Pod",
            Kind::WebIdentity => "AWS::STS::WebIdentitySession",
            Kind::Function => "AWS::Lambda::Function",
            Kind::Chained => "AWS::STS::ChainedRoleSession",
        },
        uid: &s.instance,
    };
    let role_session = ResourceDetails {
        cloud_partition: partition,
        data: ResourceData {
            account_uid: &s.account,
            role_arn: Some(&names.role_arn),
        },
        name: &s.role,
        region: None,
        type_: "AWS::STS::AssumedRoleSession",
        uid: &names.arn,
    };

    [instance, role_session]
}

/// Who called from where (with the origin's data, which `unmapped` repeats), then the calls made.
fn evidences<'a>(inc: &'a Incident, names: &'a Names, origin: &'a OriginData<'a>) -> Vec<Evidences<'a>> {
    let s = &inc.session;
    let key = inc.access_key_id.as_deref();
    let mut evidences = Vec::with_capacity(1 + inc.calls.len());
    evidences.push(Evidences {
        actor: Some(Actor {
            session: Session {
                credential_uid: key,
                issuer: &names.role_arn,
                uid: &names.arn,
            },
            user: User {
                account: aws_account(&s.account),
                credential_uid: key,
                name: &s.role,
                type_: "AssumedRole",
                type_id: 99,
                uid: &names.arn,
            },
        }),
        api: None,
        data: EvidenceData::Origin(origin),
        src_endpoint: Some(NetworkEndpoint { ip: &names.ip }),
    });
    evidences.extend(inc.calls.iter().map(|c| Evidences {
        actor: None,
        api: Some(Api {
            operation: &c.operation,
            response: c.error_code.as_deref().map(|error| Response { error }),
        }),
        data: EvidenceData::Call(CallData {
            count: c.count,
            first_seen_time: c.first_seen,
            last_seen_time: c.last_seen,
        }),
        src_endpoint: None,
    }));

    evidences
}

/// Whether `v` alerted because a task's key was used after its StopTask.
fn after_task_stopped(v: &Verdict) -> bool {
    v.why == Some(Why::AfterTaskStopped)
}

/// What OCSF has no attribute for: the origin, the slot and locks, and why the incident closed.
fn unmapped<'a>(inc: &'a Incident, phase: Phase, origin: &'a OriginData<'a>) -> Unmapped<'a> {
    let close_reason = match (phase, inc.closed) {
        (Phase::Close, Some((_, reason))) => Some(reason.as_str()),
        _ => None,
    };
    let (evidence, why) = if inc.lock_moved_by_region {
        ("own_region", "lies in AWS's ranges of the instance's own region")
    } else {
        ("lock_moved", "is tied to the instance by the trail")
    };
    let (evidence, note) = match (inc.lock_moved_from, inc.after_task_stopped) {
        (Some(thief), _) => (
            Some(evidence),
            Some(format!(
                "{} {why}; {thief}, which called first and held the lock, is taken for the thief's",
                inc.foreign_ip
            )),
        ),
        (None, true) => (
            Some(Why::AfterTaskStopped.as_str()),
            Some(format!(
                "{} used the task's credentials more than two minutes after its StopTask: the task \
                 is gone and STS does not revoke its key, so this is a copy, whatever the address",
                inc.foreign_ip
            )),
        ),
        (None, false) => (None, None),
    };
    Unmapped {
        aws_ip_range: origin.aws_ip_range.as_ref(),
        calls_not_listed: inc.calls_not_listed,
        close_reason,
        evidence,
        lock_calls_while_contested: (inc.lock_calls > 0).then_some(inc.lock_calls),
        locked_ips: inc
            .locks
            .iter()
            .map(|l| LockedIp {
                ip: l.ip,
                origin: l.origin.as_str(),
                since: l.since,
                slot: slot_name(l.slot),
            })
            .collect(),
        moved_from: inc.lock_moved_from,
        note,
        origin: origin.origin,
        peer_note: inc.peer_note.as_deref(),
        session_row_expires: inc.session_expires,
        slot: slot_name(inc.slot),
        workload: workload_data(inc),
    }
}

/// `unmapped.workload`, as the annotation's `workload`.
fn workload_data(inc: &Incident) -> WorkloadData<'_> {
    let w = &inc.workload;
    let pod = w.pod(&inc.session.instance);
    let region = match (&w.detail, w.kind, &pod) {
        (Some(d), Kind::Function, None) => Some(d.as_str()),
        _ => None,
    };
    WorkloadData {
        kind: w.kind.as_str(),
        id: &inc.session.instance,
        pod,
        region,
        chain: w.parent.is_some().then(|| w.chain()),
        root_kind: w.parent.is_some().then(|| w.root().0.kind.as_str()),
    }
}

fn describe_locks(locks: &[Lock]) -> String {
    if locks.is_empty() {
        return "no address".into();
    }
    locks
        .iter()
        .map(|l| {
            format!(
                "{} ({}, since {})",
                l.ip,
                slot_name(l.slot),
                event_time::format(l.since)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// How incidents are grouped and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FindingsConfig {
    /// Least event time between two lines of an incident when no new (operation, error) appeared.
    pub update_interval: Millis,
    /// An incident closes when the watermark passes the session's expiry plus this.
    pub close_grace: Millis,
    /// Distinct (operation, error code) listed per incident; further ones are only counted.
    pub max_calls: usize,
    /// Incidents open at once for one session; an alert from a further address of that session
    /// is written untracked (see [`Incidents::shed`]). Per session, so independent of the shard
    /// count.
    pub max_incidents_per_session: usize,
    /// Bytes all open incidents may hold, estimated by [`weight`]; an alert that would open one
    /// past it is written untracked. Before, 300 000 incidents held 2.9 GB.
    pub max_open_bytes: usize,
}

impl Default for FindingsConfig {
    fn default() -> Self {
        FindingsConfig {
            update_interval: 5 * MINUTE,
            close_grace: LATE_GRACE,
            max_calls: 50,
            max_incidents_per_session: 256,
            max_open_bytes: 256 << 20,
        }
    }
}

/// One `compromise` verdict, with what the record said about the call.
#[derive(Debug, Clone, Copy)]
pub struct Alert<'a> {
    /// The verdict; anything but [`VerdictKind::Compromise`] is ignored.
    pub verdict: &'a Verdict,
    /// The call's event time (`Step::Call::time`).
    pub time: Millis,
    /// The watermark the step was routed with (`Routed::watermark`).
    pub watermark: Millis,
    /// CloudTrail `eventName`.
    pub event_name: &'a str,
    /// CloudTrail `errorCode`, if any.
    pub error_code: Option<&'a str>,
    /// CloudTrail `awsRegion`, if any.
    pub region: Option<&'a str>,
    /// `userIdentity.accessKeyId`, if any.
    pub access_key_id: Option<&'a str>,
    /// `userIdentity.sessionContext.sessionIssuer.arn`, if any.
    pub role_arn: Option<&'a str>,
    /// See [`Incident::peer_note`].
    pub peer_note: Option<&'a str>,
}

struct Open {
    incident: Incident,
    /// Event time of the latest line.
    last_line: Millis,
    /// [`weight`] of the incident, as counted in [`Incidents::open_bytes`].
    bytes: usize,
}

/// The bytes an open incident holds, estimated: its struct, its strings, its calls and locks, and
/// its keys in the maps. What bounds findings' memory (see [`FindingsConfig::max_open_bytes`]).
pub fn weight(inc: &Incident) -> usize {
    let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    let key = std::mem::size_of::<(SessionKey, IpAddr)>() + 2 * inc.session.to_string().len();
    std::mem::size_of::<Open>()
        + key
        + inc.id.len()
        + opt(&inc.region)
        + opt(&inc.access_key_id)
        + opt(&inc.role_arn)
        + opt(&inc.peer_note)
        + inc.locks.len() * std::mem::size_of::<Lock>()
        + inc
            .calls
            .iter()
            .map(|c| std::mem::size_of::<CallSummary>() + c.operation.len() + opt(&c.error_code))
            .sum::<usize>()
}

/// The open incidents of some sessions (those of one shard), and when to write them.
///
/// Plain state driven by event times: no threads, no wall clock.
pub struct Incidents {
    cfg: FindingsConfig,
    ranges: Option<Arc<AwsRanges>>,
    open: HashMap<(SessionKey, IpAddr), Open, ahash::RandomState>,
    /// The foreign addresses of each session's open incidents.
    per_session: HashMap<SessionKey, Vec<IpAddr>, ahash::RandomState>,
    /// The earliest close time of the open incidents.
    next_close: Millis,
    /// Sum of the open incidents' [`weight`].
    open_bytes: usize,
    shed: u64,
    lines: u64,
}

impl Incidents {
    pub fn new(cfg: FindingsConfig, ranges: Option<Arc<AwsRanges>>) -> Incidents {
        Incidents {
            cfg,
            ranges,
            open: HashMap::default(),
            per_session: HashMap::default(),
            next_close: Millis::MAX,
            open_bytes: 0,
            shed: 0,
            lines: 0,
        }
    }

    /// Incidents open now.
    pub fn open(&self) -> usize {
        self.open.len()
    }

    /// Alerts written untracked (a Create and a Close of their own, `not_tracked`) because their
    /// session had `max_incidents_per_session` open or the open incidents held `max_open_bytes`.
    /// Never dropped: 256 decoy addresses once hid the real theft from the findings.
    pub fn shed(&self) -> u64 {
        self.shed
    }

    /// Bytes the open incidents hold, as [`weight`] estimates them.
    pub fn open_bytes(&self) -> usize {
        self.open_bytes
    }

    /// Lines written so far.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// The open incidents, in id order, with the event time of each one's latest line: what a
    /// restart needs so that an incident open when a run ended stays one incident, with one id.
    pub fn export(&self) -> Vec<(Incident, Millis)> {
        let mut open: Vec<(Incident, Millis)> = self
            .open
            .values()
            .map(|o| (o.incident.clone(), o.last_line))
            .collect();
        open.sort_by(|a, b| a.0.id.cmp(&b.0.id));
        open
    }

    /// Opens again the incidents [`Incidents::export`] gave.
    pub fn import(&mut self, open: Vec<(Incident, Millis)>) {
        for (incident, last_line) in open {
            let ip = incident.foreign_ip;
            let key = (incident.session.clone(), ip);
            let bytes = weight(&incident);
            self.open_bytes += bytes;
            self.next_close = self.next_close.min(close_at(&incident, &self.cfg));
            self.per_session.entry(key.0.clone()).or_default().push(ip);
            self.open.insert(
                key,
                Open {
                    incident,
                    last_line,
                    bytes,
                },
            );
        }
    }

    /// Applies one alert; writes the lines it causes (none, a Create, an Update, or a Close of an
    /// expired incident of the same pair followed by the Create of a new one). Returns how many.
    pub fn alert(&mut self, a: &Alert<'_>, out: &mut Vec<u8>) -> usize {
        let v = a.verdict;
        if v.kind != VerdictKind::Compromise {
            return 0;
        }
        let Some(ip) = v.ip else {
            return 0;
        };
        let mut written = 0;
        let key = (v.session.clone(), ip);
        // An incident whose session was forgotten does not take new calls: the pair starts over.
        if let Some(o) = self.open.get(&key)
            && close_at(&o.incident, &self.cfg) < a.watermark
        {
            let at = close_at(&o.incident, &self.cfg);
            written += self.close(&key, at, CloseReason::SessionExpired, out);
            self.recompute_next_close();
        }
        let cfg = self.cfg;
        let call = (clip(a.event_name), a.error_code.map(clip));
        if let Some(o) = self.open.get_mut(&key) {
            let inc = &mut o.incident;
            let new_call = record_call(inc, call, a.time, cfg.max_calls);
            inc.count += 1;
            inc.last_seen = inc.last_seen.max(a.time);
            inc.locks = v.locks.to_vec();
            inc.session_expires = inc.session_expires.max(v.expires);
            fill(&mut inc.region, a.region);
            fill(&mut inc.access_key_id, a.access_key_id);
            fill(&mut inc.role_arn, a.role_arn);
            fill(&mut inc.peer_note, a.peer_note);
            inc.after_task_stopped |= after_task_stopped(v);
            let bytes = weight(inc);
            self.open_bytes = self.open_bytes + bytes - o.bytes;
            o.bytes = bytes;
            if new_call || inc.last_seen >= o.last_line.saturating_add(cfg.update_interval) {
                write_finding(inc, Phase::Update, out);
                inc.lines += 1;
                o.last_line = inc.last_seen;
                self.lines += 1;
                written += 1;
            }
            self.next_close = self.next_close.min(close_at(inc, &cfg));
            return written;
        }
        let open_here = self.per_session.get(&v.session).map_or(0, Vec::len);
        let mut inc = Incident {
            id: incident_id(&v.session.to_string(), &ip.to_string(), a.time),
            session: v.session.clone(),
            foreign_ip: ip,
            slot: v.slot,
            origin: Origin::classify(ip, self.ranges.as_deref()),
            first_seen: a.time,
            last_seen: a.time,
            count: 1,
            calls: Vec::new(),
            calls_not_listed: 0,
            locks: v.locks.to_vec(),
            session_expires: v.expires,
            region: a.region.map(clip),
            access_key_id: a.access_key_id.map(clip),
            role_arn: a.role_arn.map(clip),
            peer_note: a.peer_note.map(clip),
            lines: 0,
            closed: None,
            workload: v.workload.clone(),
            lock_calls: 0,
            lock_moved_from: None,
            lock_moved_by_region: false,
            after_task_stopped: after_task_stopped(v),
        };
        record_call(&mut inc, call, a.time, cfg.max_calls);
        write_finding(&inc, Phase::Open, out);
        inc.lines = 1;
        self.lines += 1;
        written += 1;
        let bytes = weight(&inc);
        if open_here >= cfg.max_incidents_per_session || self.open_bytes + bytes > cfg.max_open_bytes {
            // Written whole at once, so that no alert is lost and a reader of Close lines sees it.
            inc.closed = Some((a.time, CloseReason::NotTracked));
            write_finding(&inc, Phase::Close, out);
            self.lines += 1;
            self.shed += 1;
            return written + 1;
        }
        self.open_bytes += bytes;
        self.next_close = self.next_close.min(close_at(&inc, &cfg));
        self.per_session.entry(v.session.clone()).or_default().push(ip);
        self.open.insert(
            key,
            Open {
                incident: inc,
                last_line: a.time,
                bytes,
            },
        );
        written
    }

    /// A call from the lock of a contested session (rule 17) joins the session's open incidents:
    /// each counts it, and writes an Update at most every `update_interval` of event time, so the
    /// analyst sees what both addresses did. Returns the lines written.
    pub fn lock_call(&mut self, v: &Verdict, time: Millis, out: &mut Vec<u8>) -> usize {
        let Some(ips) = self.per_session.get(&v.session) else {
            return 0;
        };
        let mut ips = ips.clone();
        ips.sort();
        let cfg = self.cfg;
        let mut written = 0;
        for ip in ips {
            let Some(o) = self.open.get_mut(&(v.session.clone(), ip)) else {
                continue;
            };
            let inc = &mut o.incident;
            inc.lock_calls += 1;
            inc.locks = v.locks.to_vec();
            if time >= o.last_line.saturating_add(cfg.update_interval) {
                write_finding(inc, Phase::Update, out);
                inc.lines += 1;
                o.last_line = time;
                self.lines += 1;
                written += 1;
            }
        }
        written
    }

    /// The lock moved to `v.ip`, tied to the instance, away from `thief` (rule 17): the incident
    /// of `v.ip`, opened while the thief held the lock, is updated to say the address is the
    /// instance's. Returns the lines written.
    pub fn lock_moved(&mut self, v: &Verdict, thief: IpAddr, time: Millis, out: &mut Vec<u8>) -> usize {
        let Some(ip) = v.ip else { return 0 };
        let Some(o) = self.open.get_mut(&(v.session.clone(), ip)) else {
            return 0;
        };
        let inc = &mut o.incident;
        inc.lock_moved_from = Some(thief);
        inc.lock_moved_by_region = matches!(v.why, Some(Why::OwnRegion(_)));
        inc.locks = v.locks.to_vec();
        write_finding(inc, Phase::Update, out);
        inc.lines += 1;
        o.last_line = o.last_line.max(time);
        self.lines += 1;
        1
    }

    /// Closes the incidents whose session expired before `watermark` (expiry plus grace), in order
    /// of close time then id. Cheap when nothing is due.
    pub fn advance(&mut self, watermark: Millis, out: &mut Vec<u8>) -> usize {
        if watermark <= self.next_close {
            return 0;
        }
        let cfg = self.cfg;
        let mut due: Vec<(Millis, String, (SessionKey, IpAddr))> = self
            .open
            .iter()
            .map(|(k, o)| (close_at(&o.incident, &cfg), o.incident.id.clone(), k.clone()))
            .filter(|(at, _, _)| *at < watermark)
            .collect();
        // Ids are unique among open incidents: (close time, id) is a total order.
        due.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        let mut written = 0;
        for (at, _, key) in due {
            written += self.close(&key, at, CloseReason::SessionExpired, out);
        }
        self.recompute_next_close();
        written
    }

    /// Closes every incident at the end of the input: those already expired at `watermark` as
    /// [`Incidents::advance`] would, the others at `watermark` (or their last alert, if later),
    /// in id order.
    pub fn finish(&mut self, watermark: Millis, out: &mut Vec<u8>) -> usize {
        let mut written = self.advance(watermark, out);
        let mut rest: Vec<(String, (SessionKey, IpAddr), Millis)> = self
            .open
            .iter()
            .map(|(k, o)| (o.incident.id.clone(), k.clone(), o.incident.last_seen))
            .collect();
        rest.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, key, last_seen) in rest {
            written += self.close(&key, watermark.max(last_seen), CloseReason::EndOfInput, out);
        }
        self.next_close = Millis::MAX;
        written
    }

    fn close(
        &mut self,
        key: &(SessionKey, IpAddr),
        at: Millis,
        reason: CloseReason,
        out: &mut Vec<u8>,
    ) -> usize {
        let Some(mut o) = self.open.remove(key) else {
            return 0;
        };
        self.open_bytes -= o.bytes;
        o.incident.closed = Some((at, reason));
        write_finding(&o.incident, Phase::Close, out);
        self.lines += 1;
        if let Some(ips) = self.per_session.get_mut(&key.0) {
            ips.retain(|ip| *ip != key.1);
            if ips.is_empty() {
                self.per_session.remove(&key.0);
            }
        }
        1
    }

    fn recompute_next_close(&mut self) {
        let cfg = self.cfg;
        self.next_close = self
            .open
            .values()
            .map(|o| close_at(&o.incident, &cfg))
            .min()
            .unwrap_or(Millis::MAX);
    }
}

fn close_at(inc: &Incident, cfg: &FindingsConfig) -> Millis {
    inc.session_expires.saturating_add(cfg.close_grace)
}

/// Adds one call to the summaries; true if it is a new listed (operation, error code).
fn record_call(
    inc: &mut Incident,
    (operation, error_code): (String, Option<String>),
    time: Millis,
    max_calls: usize,
) -> bool {
    if let Some(c) = inc
        .calls
        .iter_mut()
        .find(|c| c.operation == operation && c.error_code == error_code)
    {
        c.count += 1;
        c.first_seen = c.first_seen.min(time);
        c.last_seen = c.last_seen.max(time);
        return false;
    }
    if inc.calls.len() >= max_calls {
        inc.calls_not_listed += 1;
        return false;
    }
    inc.calls.push(CallSummary {
        operation,
        error_code,
        count: 1,
        first_seen: time,
        last_seen: time,
    });
    true
}

fn fill(slot: &mut Option<String>, value: Option<&str>) {
    if slot.is_none()
        && let Some(v) = value
    {
        *slot = Some(clip(v));
    }
}

/// At most [`MAX_FIELD_BYTES`], cut at a character boundary.
fn clip(s: &str) -> String {
    if s.len() <= MAX_FIELD_BYTES {
        return s.to_owned();
    }
    let mut end = MAX_FIELD_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// The OCSF validator the integration tests use, over the vendored schema in tests/data/ocsf.
#[cfg(test)]
#[path = "../../tests/integration/ocsf_schema.rs"]
mod ocsf_schema;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{DetectorConfig, Routed, Shard, Step};
    use crate::parse::event_time::HOUR;
    use crate::parse::source_address::Source;
    use serde_json::Value;

    fn assert_valid(event: &Value) {
        let errors = super::ocsf_schema::Schema::load().validate(event);
        assert!(errors.is_empty(), "{errors:#?}\n{event:#}");
    }
    use smallvec::SmallVec;

    const T0: Millis = 1_709_251_200_000; // 2024-03-01T00:00:00Z

    fn key(arn: &str) -> SessionKey {
        SessionKey::from_session_arn(arn).unwrap()
    }

    fn lock(ip: &str, since: Millis) -> Lock {
        Lock {
            ip: ip.parse().unwrap(),
            slot: Slot::Public,
            since,
            origin: crate::detect::LockOrigin::FirstUse,
        }
    }

    fn compromise(session: &SessionKey, source: &str, expires: Millis) -> Verdict {
        Verdict {
            kind: VerdictKind::Compromise,
            session: session.clone(),
            source: source.into(),
            ip: source.parse().ok(),
            slot: Slot::Public,
            locks: SmallVec::from_iter([lock("3.89.12.7", T0)]),
            expires,
            first_lock: false,
            change: None,
            inferred: false,
            foreign_endpoint: None,
            workload: Default::default(),
            why: None,
            contested: false,
            issuer_lock: false,
            overtook_early_release: false,
            time: 0,
            context: Default::default(),
        }
    }

    fn alert<'a>(v: &'a Verdict, time: Millis, name: &'a str, error: Option<&'a str>) -> Alert<'a> {
        Alert {
            verdict: v,
            time,
            watermark: time,
            event_name: name,
            error_code: error,
            region: Some("us-east-1"),
            access_key_id: Some("ASIAEXAMPLEKEY000001"),
            role_arn: None,
            peer_note: None,
        }
    }

    fn lines(out: &[u8]) -> Vec<Value> {
        let text = std::str::from_utf8(out).unwrap();
        assert!(text.is_empty() || text.ends_with('\n'));
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    fn ranges() -> Arc<AwsRanges> {
        Arc::new(
            AwsRanges::load(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/data/ip-ranges-sample.json"
            ))
            .unwrap(),
        )
    }

    /// A run of every kind of line: two incidents (outside AWS and inside), updates, a failed
    /// call, both close reasons.
    fn sample_run(ranges: Option<Arc<AwsRanges>>) -> Vec<u8> {
        let s = key("arn:aws:sts::123456789012:assumed-role/app-role/i-0317f6c6b66ae9c40");
        let mut inc = Incidents::new(FindingsConfig::default(), ranges);
        let mut out = Vec::new();
        let outside = compromise(&s, "203.0.113.9", T0 + 6 * HOUR);
        let inside = compromise(&s, "18.236.4.20", T0 + 6 * HOUR);
        inc.alert(&alert(&outside, T0 + 60_000, "ListBuckets", None), &mut out);
        inc.alert(
            &alert(&outside, T0 + 61_000, "GetObject", Some("AccessDenied")),
            &mut out,
        );
        inc.alert(&alert(&inside, T0 + 62_000, "GetCallerIdentity", None), &mut out);
        inc.alert(&alert(&outside, T0 + HOUR, "ListBuckets", None), &mut out);
        inc.advance(T0 + 8 * HOUR, &mut out);
        let later = compromise(&s, "2001:db8::7", T0 + 12 * HOUR);
        inc.alert(&alert(&later, T0 + 9 * HOUR, "DescribeInstances", None), &mut out);
        inc.finish(T0 + 9 * HOUR + 5, &mut out);
        out
    }

    #[test]
    fn a_sample_run_writes_every_kind_of_line() {
        // tests/integration/ocsf.rs validates such lines against the vendored OCSF schema.
        for ranges in [None, Some(ranges())] {
            let out = sample_run(ranges);
            let activities: Vec<_> = lines(&out)
                .iter()
                .map(|e| e["activity_id"].as_i64().unwrap())
                .collect();
            assert_eq!(activities, [1, 2, 1, 2, 3, 3, 1, 3]);
        }
    }

    #[test]
    fn grouping_by_session_and_address() {
        let s = key("arn:aws:sts::123456789012:assumed-role/app-role/i-1");
        let other = key("arn:aws:sts::123456789012:assumed-role/app-role/i-2");
        let mut inc = Incidents::new(FindingsConfig::default(), None);
        let mut out = Vec::new();
        let a = compromise(&s, "203.0.113.9", T0 + 6 * HOUR);
        let b = compromise(&s, "198.51.100.1", T0 + 6 * HOUR);
        let c = compromise(&other, "203.0.113.9", T0 + 6 * HOUR);
        assert_eq!(inc.alert(&alert(&a, T0, "ListBuckets", None), &mut out), 1);
        assert_eq!(inc.alert(&alert(&b, T0 + 1, "ListBuckets", None), &mut out), 1);
        assert_eq!(inc.alert(&alert(&c, T0 + 2, "ListBuckets", None), &mut out), 1);
        // The same address again, same call within the interval: counted, no line.
        assert_eq!(inc.alert(&alert(&a, T0 + 3, "ListBuckets", None), &mut out), 0);
        // A new call: an update of the same finding, not a new one.
        assert_eq!(inc.alert(&alert(&a, T0 + 4, "GetObject", None), &mut out), 1);
        assert_eq!(inc.open(), 3);
        let e = lines(&out);
        let ids: Vec<&str> = e
            .iter()
            .map(|e| e["finding_info"]["uid"].as_str().unwrap())
            .collect();
        assert_eq!(ids[0], ids[3]);
        assert_ne!(ids[0], ids[1]);
        assert_ne!(ids[0], ids[2]);
        assert_ne!(ids[1], ids[2]);
        let update = &e[3];
        assert_eq!(update["activity_id"], 2);
        assert_eq!(update["count"], 3);
        assert_eq!(update["metadata"]["sequence"], 1);
        assert_eq!(update["evidences"][1]["api"]["operation"], "ListBuckets");
        assert_eq!(update["evidences"][1]["data"]["count"], 2);
        assert_eq!(update["evidences"][2]["api"]["operation"], "GetObject");
        assert_eq!(update["evidences"][0]["src_endpoint"]["ip"], "203.0.113.9");
        assert_eq!(
            update["evidences"][0]["actor"]["user"]["uid"],
            "arn:aws:sts::123456789012:assumed-role/app-role/i-1"
        );
        assert_eq!(update["start_time"], T0);
        assert_eq!(update["end_time"], T0 + 4);
        assert_eq!(update["unmapped"]["locked_ips"][0]["ip"], "3.89.12.7");
        assert_eq!(update["unmapped"]["locked_ips"][0]["since"], T0);
        // The role ARN is rebuilt from the session without path, unless a record gave it.
        assert_eq!(
            update["evidences"][0]["actor"]["session"]["issuer"],
            "arn:aws:iam::123456789012:role/app-role"
        );
        let d = compromise(&s, "192.0.2.1", T0 + 6 * HOUR);
        let mut with_path = alert(&d, T0 + 6, "ListBuckets", None);
        with_path.role_arn = Some("arn:aws:iam::123456789012:role/svc/team/app-role");
        inc.alert(&with_path, &mut out);
        let opened = lines(&out).pop().unwrap();
        assert_eq!(
            opened["evidences"][0]["actor"]["session"]["issuer"],
            "arn:aws:iam::123456789012:role/svc/team/app-role"
        );
        assert_valid(&opened);
        // Locked/other verdicts are not incidents.
        let mut locked = a.clone();
        locked.kind = VerdictKind::Locked;
        assert_eq!(
            inc.alert(&alert(&locked, T0 + 5, "ListBuckets", None), &mut out),
            0
        );
    }

    #[test]
    fn updates_are_rate_limited_by_event_time() {
        let s = key("arn:aws:sts::1:assumed-role/r/i-1");
        let cfg = FindingsConfig::default();
        let mut inc = Incidents::new(cfg, None);
        let mut out = Vec::new();
        let v = compromise(&s, "203.0.113.9", T0 + 6 * HOUR);
        assert_eq!(inc.alert(&alert(&v, T0, "ListBuckets", None), &mut out), 1);
        for i in 1..100 {
            assert_eq!(
                inc.alert(&alert(&v, T0 + i * 1000, "ListBuckets", None), &mut out),
                0
            );
        }
        // A known operation with a new error code is a new call.
        assert_eq!(
            inc.alert(
                &alert(&v, T0 + 100_000, "ListBuckets", Some("Throttling")),
                &mut out
            ),
            1
        );
        assert_eq!(
            inc.alert(&alert(&v, T0 + 100_001, "ListBuckets", None), &mut out),
            0
        );
        // The interval runs from the latest line.
        assert_eq!(
            inc.alert(
                &alert(&v, T0 + 100_000 + cfg.update_interval - 1, "ListBuckets", None),
                &mut out
            ),
            0
        );
        assert_eq!(
            inc.alert(
                &alert(&v, T0 + 100_000 + cfg.update_interval, "ListBuckets", None),
                &mut out
            ),
            1
        );
        let e = lines(&out);
        assert_eq!(e.len(), 3);
        assert_eq!(e[2]["count"], 104);
        assert_eq!(e[2]["metadata"]["sequence"], 2);
        assert_eq!(
            e[2]["metadata"]["uid"],
            format!("{}/2", e[0]["finding_info"]["uid"].as_str().unwrap())
        );
    }

    #[test]
    fn closes_at_session_expiry_and_starts_over_after() {
        let s = key("arn:aws:sts::1:assumed-role/r/i-1");
        let mut inc = Incidents::new(FindingsConfig::default(), None);
        let mut out = Vec::new();
        let expires = T0 + 6 * HOUR;
        let v = compromise(&s, "203.0.113.9", expires);
        inc.alert(&alert(&v, T0, "ListBuckets", None), &mut out);
        assert_eq!(
            inc.advance(expires + LATE_GRACE, &mut out),
            0,
            "the row still lives"
        );
        assert_eq!(inc.advance(expires + LATE_GRACE + 1, &mut out), 1);
        assert_eq!(inc.advance(expires + LATE_GRACE + 2, &mut out), 0);
        assert_eq!(inc.open(), 0);
        let e = lines(&out);
        assert_eq!(e[1]["activity_id"], 3);
        assert_eq!(e[1]["time"], expires + LATE_GRACE);
        assert_eq!(e[1]["unmapped"]["close_reason"], "session_expired");
        assert_eq!(e[1]["finding_info"]["uid"], e[0]["finding_info"]["uid"]);

        // Without advance, an alert past the close time closes the old incident itself, then
        // opens a new one: the result does not depend on when advance runs.
        let mut lazy = Incidents::new(FindingsConfig::default(), None);
        let mut out2 = Vec::new();
        lazy.alert(&alert(&v, T0, "ListBuckets", None), &mut out2);
        let renewed = compromise(&s, "203.0.113.9", T0 + 20 * HOUR);
        let mut late = alert(&renewed, T0 + 15 * HOUR, "ListBuckets", None);
        late.watermark = expires + LATE_GRACE + 1;
        assert_eq!(lazy.alert(&late, &mut out2), 2);
        let e2 = lines(&out2);
        assert_eq!(e2[1], e[1]);
        assert_eq!(e2[2]["activity_id"], 1);
        assert_ne!(e2[2]["finding_info"]["uid"], e2[0]["finding_info"]["uid"]);
    }

    #[test]
    fn finish_closes_everything_in_id_order() {
        let s = key("arn:aws:sts::1:assumed-role/r/i-1");
        let mut inc = Incidents::new(FindingsConfig::default(), None);
        let mut out = Vec::new();
        for (i, ip) in ["203.0.113.1", "203.0.113.2", "203.0.113.3"].iter().enumerate() {
            let v = compromise(&s, ip, T0 + 6 * HOUR);
            inc.alert(&alert(&v, T0 + i as Millis, "ListBuckets", None), &mut out);
        }
        out.clear();
        assert_eq!(inc.finish(T0 + HOUR, &mut out), 3);
        assert_eq!(inc.open(), 0);
        let e = lines(&out);
        let ids: Vec<_> = e
            .iter()
            .map(|e| e["finding_info"]["uid"].as_str().unwrap().to_owned())
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        for e in &e {
            assert_eq!(e["activity_id"], 3);
            assert_eq!(e["time"], T0 + HOUR);
            assert_eq!(e["unmapped"]["close_reason"], "end_of_input");
        }
    }

    #[test]
    fn ids_are_deterministic() {
        let arn = "arn:aws:sts::123456789012:assumed-role/app-role/i-0317f6c6b66ae9c40";
        let id = incident_id(arn, "203.0.113.9", T0);
        // Pinned: a change here changes every finding id credtrail ever wrote.
        assert_eq!(id, incident_id(arn, "203.0.113.9", T0));
        assert_eq!(id.len(), 36);
        assert!(id.starts_with("ctf-"));
        assert_eq!(id, PINNED_ID);
        assert_ne!(id, incident_id(arn, "203.0.113.9", T0 + 1));
        assert_ne!(id, incident_id(arn, "203.0.113.90", T0));
        assert_ne!(id, incident_id(&arn.replace("i-0", "i-1"), "203.0.113.9", T0));
        // Same input, same bytes.
        assert_eq!(sample_run(Some(ranges())), sample_run(Some(ranges())));
    }

    const PINNED_ID: &str = "ctf-0d139d4a4f97f4acd7b07c39b8d7804e";

    /// Sessions split over several trackers (as over shards) give the same lines as one tracker,
    /// when advance and finish see the same watermarks.
    #[test]
    fn sharding_does_not_change_the_lines() {
        let sessions: Vec<SessionKey> = (0..6)
            .map(|i| key(&format!("arn:aws:sts::1:assumed-role/r/i-{i}")))
            .collect();
        let verdicts: Vec<Verdict> = (0..60)
            .map(|n| {
                let s = &sessions[n % sessions.len()];
                compromise(
                    s,
                    &format!("203.0.113.{}", n % 4),
                    T0 + 6 * HOUR + (n as Millis / 7) * HOUR,
                )
            })
            .collect();
        let names = ["ListBuckets", "GetObject", "PutObject", "ListUsers"];
        let run = |shards: usize| {
            let mut trackers: Vec<Incidents> = (0..shards)
                .map(|_| Incidents::new(FindingsConfig::default(), None))
                .collect();
            let mut out: Vec<Vec<u8>> = vec![Vec::new(); shards];
            for (n, v) in verdicts.iter().enumerate() {
                let time = T0 + n as Millis * 20 * MINUTE;
                let shard = v.session.instance.as_bytes()[2] as usize % shards;
                let a = alert(v, time, names[n % 3 + n / 30], None);
                trackers[shard].alert(&a, &mut out[shard]);
                if n % 10 == 9 {
                    for (t, o) in trackers.iter_mut().zip(out.iter_mut()) {
                        t.advance(time, o);
                    }
                }
            }
            for (t, o) in trackers.iter_mut().zip(out.iter_mut()) {
                t.finish(T0 + 40 * HOUR, o);
            }
            let mut all: Vec<String> = out
                .iter()
                .flat_map(|o| {
                    std::str::from_utf8(o)
                        .unwrap()
                        .lines()
                        .map(str::to_owned)
                        .collect::<Vec<_>>()
                })
                .collect();
            all.sort();
            all
        };
        let one = run(1);
        assert!(one.len() > 20, "{}", one.len());
        assert_eq!(one, run(2));
        assert_eq!(one, run(3));
    }

    #[test]
    fn hostile_strings_stay_one_valid_json_line() {
        let s = SessionKey {
            partition: crate::parse::session_key::Partition::Aws,
            account: "1\"2\n3".into(),
            role: "r\u{0}o\\le\u{2028}</script>".into(),
            instance: "i-\u{1b}[31m\r\n{\"x\":1}".into(),
        };
        let name = "Get\"Object\n\t\u{7f}\u{0}\u{fffd}😀";
        let error = "Access\u{0}Denied\"}]";
        let mut inc = Incidents::new(FindingsConfig::default(), Some(ranges()));
        let mut out = Vec::new();
        let v = compromise(&s, "203.0.113.9", T0 + 6 * HOUR);
        let mut a = alert(&v, T0, name, Some(error));
        a.region = Some("us-east-1\n\"");
        a.peer_note = Some("note \"\n\u{0}");
        inc.alert(&a, &mut out);
        let long = "x".repeat(10_000) + "é";
        inc.alert(&alert(&v, T0 + 1, &long, None), &mut out);
        inc.finish(T0 + 2, &mut out);
        let text = std::str::from_utf8(&out).unwrap();
        assert_eq!(text.matches('\n').count(), 3);
        let e = lines(&out);
        for e in &e {
            assert_valid(e);
        }
        assert_eq!(e[0]["evidences"][1]["api"]["operation"], name);
        assert_eq!(e[0]["evidences"][1]["api"]["response"]["error"], error);
        assert_eq!(e[0]["resources"][0]["uid"], s.instance.as_str());
        assert_eq!(e[0]["cloud"]["account"]["uid"], s.account.as_str());
        assert_eq!(e[0]["unmapped"]["peer_note"], "note \"\n\u{0}");
        let clipped = e[1]["evidences"][2]["api"]["operation"].as_str().unwrap();
        assert_eq!(clipped.len(), MAX_FIELD_BYTES);
    }

    #[test]
    fn calls_are_capped() {
        let s = key("arn:aws:sts::1:assumed-role/r/i-1");
        let cfg = FindingsConfig {
            max_calls: 5,
            ..FindingsConfig::default()
        };
        let mut inc = Incidents::new(cfg, None);
        let mut out = Vec::new();
        let v = compromise(&s, "203.0.113.9", T0 + 6 * HOUR);
        let names: Vec<String> = (0..8).map(|i| format!("Op{i}")).collect();
        for (i, n) in names.iter().enumerate() {
            inc.alert(&alert(&v, T0 + i as Millis, n, None), &mut out);
        }
        inc.finish(T0 + 10, &mut out);
        let e = lines(&out);
        assert_eq!(e.len(), 5 + 1, "a create, four updates for new calls, the close");
        let last = e.last().unwrap();
        assert_eq!(last["evidences"].as_array().unwrap().len(), 1 + 5);
        assert_eq!(last["unmapped"]["calls_not_listed"], 3);
        assert_eq!(last["count"], 8);
        assert_valid(last);
    }

    /// Past the per-session bound, an alert from a further address is not dropped: it is written
    /// as a Create and a Close of its own (`not_tracked`), each a valid finding, and counted.
    /// Before, 256 decoy addresses hid the real theft from the findings while the alerts output
    /// had it. (Mutation: returning before writing, as before, fails the line count.)
    #[test]
    fn per_session_incidents_are_bounded_and_none_is_dropped() {
        let s = key("arn:aws:sts::1:assumed-role/r/i-1");
        let cfg = FindingsConfig {
            max_incidents_per_session: 2,
            ..FindingsConfig::default()
        };
        let mut inc = Incidents::new(cfg, None);
        let mut out = Vec::new();
        let mut written = 0;
        for i in 0..5 {
            let v = compromise(&s, &format!("203.0.113.{i}"), T0 + 6 * HOUR);
            written += inc.alert(&alert(&v, T0 + i, "ListBuckets", None), &mut out);
        }
        assert_eq!(inc.open(), 2);
        assert_eq!(inc.shed(), 3);
        assert_eq!(written, 2 + 3 * 2);
        let lines: Vec<Value> = out
            .split(|&c| c == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        let shed: Vec<&Value> = lines
            .iter()
            .filter(|l| l["unmapped"]["close_reason"] == "not_tracked")
            .collect();
        assert_eq!(shed.len(), 3, "{shed:?}");
        for l in &lines {
            assert_valid(l);
        }
        assert!(
            lines
                .iter()
                .any(|l| l["evidences"][0]["src_endpoint"]["ip"] == "203.0.113.4")
        );
        inc.finish(T0 + 10, &mut out);
        let v = compromise(&s, "203.0.113.4", T0 + 6 * HOUR);
        assert_eq!(inc.alert(&alert(&v, T0 + 11, "ListBuckets", None), &mut out), 1);
    }

    /// The open incidents' bytes are bounded: past `max_open_bytes`, new incidents are written
    /// untracked, and the estimate goes back to zero once every incident is closed.
    /// (Mutation: not subtracting a closed incident's bytes fails the last assertion.)
    #[test]
    fn open_incidents_are_bounded_by_bytes() {
        let one = {
            let mut probe = Incidents::new(FindingsConfig::default(), None);
            let s = key("arn:aws:sts::1:assumed-role/r/i-0");
            let v = compromise(&s, "203.0.113.1", T0 + 6 * HOUR);
            probe.alert(&alert(&v, T0, "ListBuckets", None), &mut Vec::new());
            probe.open_bytes()
        };
        let cfg = FindingsConfig {
            max_open_bytes: 10 * one + one / 2,
            ..FindingsConfig::default()
        };
        let mut inc = Incidents::new(cfg, None);
        let mut out = Vec::new();
        for i in 0..40 {
            let s = key(&format!("arn:aws:sts::1:assumed-role/r/i-{}", i % 10));
            let v = compromise(&s, &format!("203.0.113.{i}"), T0 + 6 * HOUR);
            inc.alert(&alert(&v, T0 + i64::from(i), "ListBuckets", None), &mut out);
        }
        assert!(inc.open_bytes() <= cfg.max_open_bytes, "{}", inc.open_bytes());
        assert_eq!(inc.open(), 10);
        assert_eq!(inc.shed(), 30);
        inc.finish(T0 + 100, &mut out);
        assert_eq!(inc.open_bytes(), 0);
    }

    #[test]
    fn severity_mapping() {
        let inside = Origin::InsideAws {
            region: "us-east-1".into(),
            service: "EC2".into(),
            network_border_group: "us-east-1".into(),
        };
        assert_eq!(severity(&Origin::OutsideAws, false), (4, "High"));
        assert_eq!(severity(&Origin::Unclassified, false), (4, "High"));
        assert_eq!(severity(&inside, false), (3, "Medium"));
        assert_eq!(severity(&Origin::PrivateNetwork, false), (3, "Medium"));
        assert_eq!(severity(&Origin::OutsideAws, true), (3, "Medium"));
        assert_eq!(severity(&inside, true), (2, "Low"));
        assert_eq!(confidence(&Origin::OutsideAws, false), (3, "High"));
        assert_eq!(confidence(&inside, false), (2, "Medium"));
        assert_eq!(confidence(&inside, true), (1, "Low"));

        let r = ranges();
        let classify = |ip: &str| Origin::classify(ip.parse().unwrap(), Some(&r));
        assert_eq!(classify("203.0.113.9"), Origin::OutsideAws);
        assert_eq!(
            classify("3.80.1.2"),
            Origin::InsideAws {
                region: "us-east-1".into(),
                service: "EC2".into(),
                network_border_group: "us-east-1".into(),
            }
        );
        assert_eq!(classify("10.1.2.3"), Origin::PrivateNetwork);
        assert_eq!(classify("fd00::1"), Origin::PrivateNetwork);
        assert_eq!(
            Origin::classify("203.0.113.9".parse().unwrap(), None),
            Origin::Unclassified
        );

        let out = sample_run(Some(r.clone()));
        let e = lines(&out);
        assert_eq!(e[0]["severity_id"], 4);
        assert_eq!(
            e[0]["finding_info"]["types"][0],
            "credtrail:InstanceCredentialExfiltration.OutsideAWS"
        );
        assert_eq!(e[2]["severity_id"], 3);
        assert_eq!(e[2]["unmapped"]["aws_ip_range"]["service"], "EC2");
        assert_eq!(e[2]["unmapped"]["aws_ip_range"]["region"], "us-west-2");
    }

    /// The real detector's verdicts drive the incidents: the instance locks, two foreign addresses
    /// call, one of them twice.
    #[test]
    fn from_detector_verdicts() {
        let s = key("arn:aws:sts::1:assumed-role/r/i-1");
        let mut shard = Shard::new(DetectorConfig::default());
        let mut inc = Incidents::new(FindingsConfig::default(), Some(ranges()));
        let mut out = Vec::new();
        shard.apply(Routed {
            route: None,
            step: Step::Issue {
                issued: Default::default(),
                session: s.clone(),
                time: T0,
            },
            watermark: T0,
        });
        let calls = [
            ("3.89.12.7", "DescribeInstances"),
            ("203.0.113.9", "ListBuckets"),
            ("18.236.4.20", "GetCallerIdentity"),
            ("203.0.113.9", "ListBuckets"),
            ("3.89.12.7", "DescribeInstances"),
        ];
        for (n, (ip, name)) in calls.iter().enumerate() {
            let time = T0 + (n as Millis + 1) * 1000;
            let v = shard
                .apply(Routed {
                    route: None,
                    step: Step::Call {
                        session: s.clone(),
                        time,
                        source: Source::classify(ip),
                        source_text: (*ip).into(),
                        via_endpoint: false,
                        context: Default::default(),
                        egress: None,
                    },
                    watermark: time,
                })
                .unwrap();
            inc.alert(&alert(&v, time, name, None), &mut out);
        }
        inc.finish(T0 + HOUR, &mut out);
        let e = lines(&out);
        let summary: Vec<(i64, &str, i64)> = e
            .iter()
            .map(|e| {
                (
                    e["activity_id"].as_i64().unwrap(),
                    e["evidences"][0]["src_endpoint"]["ip"].as_str().unwrap(),
                    e["count"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(summary.len(), 4);
        assert_eq!(summary[0], (1, "203.0.113.9", 1));
        assert_eq!(summary[1], (1, "18.236.4.20", 1));
        let mut closes = summary[2..].to_vec();
        closes.sort();
        assert_eq!(closes, [(3, "18.236.4.20", 1), (3, "203.0.113.9", 2)]);
        for e in &e {
            assert_valid(e);
            assert_eq!(e["unmapped"]["locked_ips"][0]["ip"], "3.89.12.7");
        }
    }
}
