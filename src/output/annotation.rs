//! The `credtrail` object added to a record that has something to say, and how it is spliced into
//! the record's bytes without re-serialising them.

use crate::config::Config;
use crate::detect::peers::Peer;
use crate::detect::workload::Kind;
use crate::detect::{Lock, LockOrigin, Slot, Verdict, VerdictKind, Why};
use crate::output::ip_ranges::AwsRanges;
use crate::parse::event_time::{self, Millis};
use std::io;
use std::net::IpAddr;
use std::sync::Arc;

/// What annotating needs besides the verdict.
#[derive(Debug, Clone, Default)]
pub struct Annotator {
    /// `--ip-change-window`, for the reason of an `ip_added`.
    pub window: Millis,
    /// `--aws-ip-ranges`, to say who owns a foreign address.
    pub ranges: Option<Arc<AwsRanges>>,
}

impl Annotator {
    /// What the run's annotations need: the window, and `--aws-ip-ranges` loaded once for all.
    pub fn for_config(cfg: &Config) -> io::Result<Annotator> {
        let ranges = match &cfg.aws_ip_ranges {
            Some(p) => Some(Arc::new(
                AwsRanges::load(p).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?,
            )),
            None => None,
        };
        Ok(Annotator {
            window: cfg.detector.change_window,
            ranges,
        })
    }
}

fn slot_name(s: Slot) -> &'static str {
    match s {
        Slot::Public => "public",
        Slot::Private => "private",
    }
}

/// Writes the annotation object (without the key) as JSON; the README documents it field by field.
/// `peer` is the other instance of the account whose locked address an alert came from.
///
/// In `--emit all` nearly every record gets one, so it is written straight into `out`: building it
/// as a struct of formatted strings for serde cost a fifth of the run. That version is kept as
/// `reference::write`, which the tests hold this one to byte for byte.
pub fn write(v: &Verdict, peer: Option<&Peer>, ctx: &Annotator, out: &mut Vec<u8>) {
    let s = &v.session;
    let mut j = Json(out);
    j.raw("{\"verdict\":\"").raw(v.kind.as_str());
    j.raw("\",\"reason\":\"");
    reason(v, ctx.window, &mut j);
    j.raw("\",\"session\":\"arn:").raw(s.partition.as_str());
    j.raw(":sts::").text(&s.account);
    j.raw(":assumed-role/").text(&s.role);
    j.raw("/").text(&s.instance);
    if v.workload.kind == Kind::Instance {
        j.raw("\",\"instance_id\":\"").text(&s.instance);
    }
    workload(v, &mut j);
    j.raw(",\"source_ip\":\"").text(&v.source);
    j.raw("\",\"slot\":\"").raw(slot_name(v.slot));
    j.raw("\",\"locked_ips\":[");
    for (i, l) in v.locks.iter().enumerate() {
        j.raw(if i == 0 { "{\"ip\":\"" } else { ",{\"ip\":\"" }).ip(l.ip);
        j.raw("\",\"slot\":\"").raw(slot_name(l.slot));
        j.raw("\",\"since\":\"").time(l.since);
        j.raw("\",\"origin\":\"").raw(l.origin.as_str()).raw("\"}");
    }
    j.raw("],\"ttl_expires\":\"").time(v.expires).raw("\"");
    if let Some((at, _)) = v.change {
        j.raw(",\"address_change_at\":\"").time(at).raw("\"");
    }
    origin(v, ctx.ranges.as_deref(), &mut j);
    if v.inferred {
        j.raw(",\"inferred\":true");
    }
    if let Some(acct) = &v.foreign_endpoint {
        j.raw(",\"vpc_endpoint_account\":\"").text(acct).raw("\"");
    }
    if let Some(why) = v.why {
        j.raw(",\"evidence\":\"").raw(why.as_str()).raw("\"");
        if let Some(from) = why.moved_from() {
            j.raw(",\"moved_from\":\"").ip(from).raw("\"");
        }
    }
    if v.contested {
        j.raw(",\"contested\":true");
    }
    if v.overtook_early_release {
        j.raw(",\"overtook_early_release\":true");
    }
    if let Some(p) = peer {
        same_account_peer(p, &mut j);
    }
    j.raw("}");
}

/// `"workload":{…}` (after a closing quote): the kind, the session name that identifies it, the
/// pod or the function's region, and for a chained session the sessions back to the workload.
fn workload(v: &Verdict, j: &mut Json) {
    let w = &v.workload;
    j.raw("\",\"workload\":{\"kind\":\"").raw(w.kind.as_str());
    j.raw("\",\"id\":\"").text(&v.session.instance);
    if let Some(pod) = w.pod(&v.session.instance) {
        j.raw("\",\"pod\":\"").text(&pod);
    }
    if let (Some(d), Kind::Function) = (&w.detail, w.kind) {
        j.raw("\",\"region\":\"").text(d);
    }
    j.raw("\"");
    if w.parent.is_some() {
        j.raw(",\"chain\":[");
        for (i, arn) in w.chain().into_iter().enumerate() {
            j.raw(if i == 0 { "\"" } else { ",\"" }).text(arn).raw("\"");
        }
        j.raw("],\"root_kind\":\"")
            .raw(w.root().0.kind.as_str())
            .raw("\"");
    }
    j.raw("}");
}

/// "instance i-…", "ECS task 4d2b…", "EKS pod ns/app", "chained session s (role r, assumed from
/// task 4d2b…)": who the credentials belong to, in a sentence.
fn who(v: &Verdict, j: &mut Json) {
    let w = &v.workload;
    j.raw(w.kind.noun()).raw(" ");
    match w.pod(&v.session.instance) {
        Some(pod) => j.text(&pod),
        None => j.text(&v.session.instance),
    };
    if let (root, Some(arn)) = w.root() {
        j.raw(", assumed from the ")
            .raw(root.kind.noun())
            .raw(" session ")
            .text(arn);
    }
}

/// The other instance whose locked address an alert came from. Its keys in serde_json's order
/// (sorted), as when this object was a `json!` appended to the annotation.
fn same_account_peer(p: &Peer, j: &mut Json) {
    j.raw(",\"same_account_peer\":{\"instance_id\":\"")
        .text(&p.instance);
    j.raw("\",\"note\":\"used from ").text(&p.instance);
    j.raw(", role ").text(&p.role);
    j.raw(": the address is that instance's own, locked in the same account; lateral movement inside the account");
    j.raw("\",\"role\":\"").text(&p.role).raw("\"}");
}

/// Appends `s` as the inside of a JSON string, escaped exactly as serde_json escapes it (the
/// property test holds the annotation to serde's bytes).
///
/// By hand rather than through serde_json's writer because the figure says so: `cargo bench --bench
/// micro -- json_string`, over the strings annotations take (account, role, instance id, source
/// address of the calls of a generated corpus), measured 22.8 ns a string this way and 42.1 ns
/// through `serde_json::to_writer`. `--emit all` writes five a judged call, 2.75 million per GiB of
/// the harness's corpus: about 53 ms more per GiB for serde_json, some 4 % of that run's CPU.
pub fn escape_json(s: &str, out: &mut Vec<u8>) {
    let b = s.as_bytes();
    // Names and addresses all but never need escaping. Checked without an early exit, every byte
    // at once, the check vectorises; then the string is copied whole.
    let plain = b
        .iter()
        .fold(true, |plain, &c| plain & (c >= 0x20) & (c != b'"') & (c != b'\\'));
    if plain {
        out.extend_from_slice(b);
        return;
    }
    let hex = |n: u8| b"0123456789abcdef"[usize::from(n)];
    let mut from = 0;
    for (i, &c) in b.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..0x20 => &[b'\\', b'u', b'0', b'0', hex(c >> 4), hex(c & 0xf)],
            _ => continue,
        };
        out.extend_from_slice(&b[from..i]);
        out.extend_from_slice(esc);
        from = i + 1;
    }
    out.extend_from_slice(&b[from..]);
}

/// JSON appended piece by piece: `raw` for text that needs no escaping (this module's own words,
/// times, addresses), `text` for strings that come from a record or a file, inside quotes the caller
/// writes.
struct Json<'a>(&'a mut Vec<u8>);

impl Json<'_> {
    fn raw(&mut self, s: &str) -> &mut Self {
        self.0.extend_from_slice(s.as_bytes());
        self
    }

    fn text(&mut self, s: &str) -> &mut Self {
        escape_json(s, self.0);
        self
    }

    fn time(&mut self, t: Millis) -> &mut Self {
        event_time::write(t, self.0);
        self
    }

    /// As `Display` writes it.
    fn ip(&mut self, ip: IpAddr) -> &mut Self {
        match ip {
            IpAddr::V4(v4) => {
                let mut text = [b'.'; 16];
                let mut len = 0;
                for o in v4.octets() {
                    if o >= 100 {
                        text[len] = b'0' + o / 100;
                        len += 1;
                    }
                    if o >= 10 {
                        text[len] = b'0' + o / 10 % 10;
                        len += 1;
                    }
                    text[len] = b'0' + o % 10;
                    len += 2;
                }
                self.0.extend_from_slice(&text[..len - 1]);
            }
            // Rare, and its text (the longest run of zeros elided, embedded IPv4) is best left to std.
            IpAddr::V6(v6) => {
                use std::io::Write;
                // Writing into a Vec cannot fail.
                let _ = write!(self.0, "{v6}");
            }
        }
        self
    }
}

fn reason(v: &Verdict, window: Millis, j: &mut Json) {
    let inst = &v.session.instance;
    let role = &v.session.role;
    let slot = slot_name(v.slot);
    if let Some(acct) = &v.foreign_endpoint {
        j.raw("Credentials of ");
        who(v, j);
        j.raw(" (role ").text(role);
        j.raw(") were used through a VPC endpoint of account ").text(acct);
        j.raw(", not the session's account ").text(&v.session.account);
        j.raw(": an endpoint the attacker owns hides where stolen keys are used. Check who owns account ");
        j.text(acct).raw(".");
        return;
    }
    if v.workload.kind == Kind::Function && matches!(v.kind, VerdictKind::Compromise | VerdictKind::Locked) {
        function_reason(v, j);
        return;
    }
    if let Some(text) = evidence_reason(v) {
        j.text(&text);
        return;
    }
    match v.kind {
        VerdictKind::Duplicate => {
            j.raw("CloudTrail delivered this record (same eventID) again; ");
            j.raw("it was alerted the first time from ").text(&v.source);
            j.raw(".");
        }
        VerdictKind::Compromise => {
            j.raw("Credentials of ");
            who(v, j);
            j.raw(" (role ").text(role);
            j.raw(") were used from ").text(&v.source);
            j.raw(", outside the ").raw(slot);
            j.raw(" address the session is locked to: ");
            describe_locks(&v.locks, v.slot, j);
            j.raw(". Either they were stolen and used from ").text(&v.source);
            j.raw(", or the locked address is the thief's, who called first: ");
            j.raw("check which address is the ")
                .raw(v.workload.root().0.kind.noun())
                .raw("'s.");
        }
        VerdictKind::Locked if v.first_lock => {
            j.raw("First call of this session from a ").raw(slot);
            j.raw(" address: ").text(&v.source);
            j.raw(" now locks it for ");
            who(v, j);
            j.raw(".");
        }
        VerdictKind::Locked => {
            j.raw("Call from the ").raw(slot);
            j.raw(" address the session is locked to (").text(&v.source);
            j.raw(").");
        }
        VerdictKind::AwsService => {
            j.text(&v.source);
            j.raw(" called on the session's behalf; AWS service addresses never lock nor alert.");
        }
        VerdictKind::IpAdded => {
            j.raw("New address ").text(&v.source);
            j.raw(" accepted");
            match v.change {
                Some((at, true)) => {
                    j.raw(": an address change for instance ").text(inst);
                    j.raw(" at ").time(at);
                    j.raw(" named it");
                }
                Some((at, false)) => {
                    j.raw(": first new address after an address change for instance ")
                        .text(inst);
                    j.raw(" at ").time(at);
                    // Wrapping, as the addition always did in release builds: the text must not change.
                    j.raw(" (window open until ").time(at.wrapping_add(window));
                    j.raw(")");
                }
                None => {}
            }
            j.raw(".");
        }
    }
}

/// A Lambda function's call, judged by where it came from (no lock).
fn function_reason(v: &Verdict, j: &mut Json) {
    let region = v.workload.detail.as_deref();
    let private = v.slot == Slot::Private;
    if v.kind == VerdictKind::Locked {
        if private {
            j.raw("Call through a VPC endpoint from ").text(&v.source);
            j.raw(": the function is attached to a VPC.");
        } else {
            j.raw("Call from ")
                .text(&v.source)
                .raw(", an AWS address of the function's region");
            if let Some(r) = region {
                j.raw(" (").text(r).raw(")");
            }
            j.raw(": a Lambda function's calls are judged by where they come from, not locked.");
        }
        return;
    }
    j.raw("Credentials of ");
    who(v, j);
    j.raw(" (role ").text(&v.session.role);
    j.raw(") were used from ").text(&v.source);
    j.raw(if private {
        ", a private address not seen through a VPC endpoint of a function attached to a VPC"
    } else {
        ", which is not an AWS address of the function's region"
    });
    if let Some(r) = region {
        j.raw(" (").text(r).raw(")");
    }
    j.raw(": a function's own calls come from AWS addresses of its region, or through the VPC endpoints of its VPC. ");
    j.raw("Check who holds the function's credentials.");
}

/// How a lock came to be, in a reason's words.
fn lock_how(o: LockOrigin) -> &'static str {
    match o {
        LockOrigin::FirstUse => "by the session's first call from it",
        LockOrigin::AddressChange => "after an address change",
        LockOrigin::Tied => "as an address the trail ties to the instance",
        LockOrigin::SameGateway => "as an address of the NAT gateway of a locked address",
        LockOrigin::OtherFamily => "as the instance's address of the other family",
        LockOrigin::Issuer | LockOrigin::IssuerCalled => "by the session's own issuing call from it",
        LockOrigin::OwnRegion => "as the address in the instance's own region",
    }
}

/// The reason of a verdict that a rule beyond the lock decided (rules 14 to 17), the same for
/// both writers: these are rare, and their words are plain text.
fn evidence_reason(v: &Verdict) -> Option<String> {
    let inst = &v.session.instance;
    let role = &v.session.role;
    let src = &v.source;
    // Rules 14 to 17 judge instances and ECS tasks (whose interfaces the trail names too).
    let noun = v.workload.kind.noun();
    Some(match (v.kind, v.why) {
        (VerdictKind::IpAdded, Some(Why::Tied)) => {
            format!("New address {src} accepted: the trail ties it to {noun} {inst}.")
        }
        (VerdictKind::IpAdded, Some(Why::SameGateway)) => format!(
            "New address {src} accepted: another public address of the NAT gateway the session's \
             locked address belongs to; one egress."
        ),
        (VerdictKind::IpAdded, Some(Why::OtherFamily)) => format!(
            "New address {src} accepted: the {noun}'s address of the other family, inside AWS's \
             EC2 ranges of the locked address's region (dual stack)."
        ),
        (VerdictKind::IpAdded, Some(Why::LockMoved(thief))) => format!(
            "New address {src} accepted: the trail ties it to {noun} {inst}, and not the address \
             {thief} that called first and locked the session. {thief} is taken for the thief's: it \
             leaves the lock, and its later calls alert."
        ),
        (VerdictKind::IpAdded, Some(Why::OwnRegion(thief))) => format!(
            "New address {src} accepted: it lies in AWS's ranges of the instance's own region (its \
             AssumeRole's), and the address {thief} that called first and locked the session lies \
             in another region's. {thief} is taken for the thief's: it leaves the lock, and its \
             later calls alert."
        ),
        (VerdictKind::Compromise, Some(Why::OutsideAws)) => format!(
            "Credentials of {noun} {inst} (role {role}) were used from {src}, outside AWS and \
             outside --trusted-networks, by the session's first call from a public address: an EC2 \
             instance does not call from there. The lock stays empty."
        ),
        (VerdictKind::Compromise, Some(Why::UntiedPrivate)) => format!(
            "Credentials of {noun} {inst} (role {role}) were used through a VPC endpoint from \
             {src}, a private address the trail does not tie to the {noun}, while it names the \
             {noun}'s private addresses: another machine reached the account's endpoint."
        ),
        (VerdictKind::Compromise, Some(Why::AfterTaskStopped)) => format!(
            "Credentials of {noun} {inst} (role {role}) were used from {src} more than two minutes \
             after the task's StopTask: its containers are gone, and STS does not revoke the \
             credentials, so this is a copy of the key."
        ),
        (VerdictKind::Locked, _) if v.contested && !v.first_lock => format!(
            "Call from the {} address the session is locked to ({src}); the session is contested: \
             another address alerted for it, and nothing in the trail says which is the \
             {noun}'s.",
            slot_name(v.slot)
        ),
        _ => return None,
    })
}

fn describe_locks(locks: &[Lock], slot: Slot, j: &mut Json) {
    let mut any = false;
    for l in locks.iter().filter(|l| l.slot == slot) {
        j.raw(if any { ", " } else { "" }).ip(l.ip);
        j.raw(" (locked ").time(l.since);
        j.raw(" ").raw(lock_how(l.origin)).raw(")");
        any = true;
    }
    if !any {
        j.raw("nothing");
    }
}

/// Who the foreign address of an alert belongs to, and how bad that makes it: `OutsideAWS`,
/// `InsideAWS` (the split GuardDuty makes), `private`, or `unclassified` (no `--aws-ip-ranges`
/// given).
fn origin(v: &Verdict, ranges: Option<&crate::output::ip_ranges::AwsRanges>, j: &mut Json) {
    use crate::output::findings::{Origin, severity};
    if v.kind != VerdictKind::Compromise {
        return;
    }
    let Some(ip) = v.ip else {
        return;
    };
    let o = Origin::classify(ip, ranges);
    j.raw(",\"origin\":{\"class\":\"");
    match &o {
        Origin::OutsideAws => j.raw("OutsideAWS"),
        Origin::InsideAws { region, service, .. } => {
            j.raw("InsideAWS\",\"region\":\"").text(region);
            j.raw("\",\"service\":\"").text(service)
        }
        Origin::PrivateNetwork => j.raw("private"),
        Origin::Unclassified => j.raw("unclassified"),
    };
    j.raw("\",\"severity\":\"").raw(severity(&o, false).1);
    j.raw("\"}");
}

/// Writes `record` with `"credtrail":annotation` added as its last top-level key, then a newline.
/// `record` is a JSON object (it parsed as one), so its last non-blank byte is `}`.
pub fn splice(record: &[u8], annotation: &[u8], out: &mut Vec<u8>) {
    for part in spliced(record, annotation) {
        out.extend_from_slice(part);
    }
}

/// What [`splice`] writes, in four parts (for a vectored write that copies none of them).
pub fn spliced<'a>(record: &'a [u8], annotation: &'a [u8]) -> [&'a [u8]; 4] {
    let close = record.iter().rposition(|&c| c == b'}').unwrap_or(record.len());
    let body = &record[..close];
    let empty = body
        .iter()
        .rev()
        .find(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
        .is_none_or(|&c| c == b'{');
    let key: &[u8] = if empty {
        b"\"credtrail\":"
    } else {
        b",\"credtrail\":"
    };
    // A CRLF line keeps its line end, as the lines around it that are passed on untouched do.
    let end: &[u8] = if record.ends_with(b"\r") { b"}\r\n" } else { b"}\n" };
    [body, key, annotation, end]
}

#[cfg(test)]
mod reference {
    //! The annotation as it was written before [`super::write`]: serde over a struct of formatted
    //! strings, kept as what the hand-written JSON must equal.

    use super::Annotator;
    use crate::detect::peers::Peer;
    use crate::detect::workload::Kind;
    use crate::detect::{Lock, Slot, Verdict, VerdictKind};
    use crate::parse::event_time::{self, Millis};
    use serde::Serialize;

    /// Who the foreign address of an alert belongs to, and how bad that makes it.
    #[derive(Serialize)]
    struct OriginOut {
        /// `OutsideAWS`, `InsideAWS` (the split GuardDuty makes), `private`, or `unclassified` (no
        /// `--aws-ip-ranges` given).
        class: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        region: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        service: Option<String>,
        severity: &'static str,
    }

    /// The annotation's schema; the README documents it field by field.
    #[derive(Serialize)]
    struct Annotation<'a> {
        verdict: &'static str,
        reason: String,
        session: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        instance_id: Option<&'a str>,
        workload: WorkloadOut<'a>,
        source_ip: &'a str,
        slot: &'static str,
        locked_ips: Vec<LockedIp>,
        ttl_expires: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        address_change_at: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        origin: Option<OriginOut>,
        /// Set when the session's row was inferred from its calls (`--infer-sessions`).
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        inferred: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        vpc_endpoint_account: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        evidence: Option<&'static str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        moved_from: Option<String>,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        contested: bool,
    }

    #[derive(Serialize)]
    struct WorkloadOut<'a> {
        kind: &'static str,
        id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        pod: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        region: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        chain: Option<Vec<&'a str>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        root_kind: Option<&'static str>,
    }

    fn workload(v: &Verdict) -> WorkloadOut<'_> {
        let w = &v.workload;
        let detail = |k| w.detail.as_deref().filter(|_| w.kind == k);
        WorkloadOut {
            kind: w.kind.as_str(),
            id: &v.session.instance,
            pod: w.pod(&v.session.instance),
            region: detail(Kind::Function),
            chain: w.parent.is_some().then(|| w.chain()),
            root_kind: w.parent.is_some().then(|| w.root().0.kind.as_str()),
        }
    }

    fn who(v: &Verdict) -> String {
        let w = &v.workload;
        let name = w
            .pod(&v.session.instance)
            .unwrap_or_else(|| v.session.instance.to_string());
        match w.root() {
            (root, Some(arn)) => format!(
                "{} {name}, assumed from the {} session {arn}",
                w.kind.noun(),
                root.kind.noun()
            ),
            _ => format!("{} {name}", w.kind.noun()),
        }
    }

    #[derive(Serialize)]
    struct LockedIp {
        ip: String,
        slot: &'static str,
        since: String,
        origin: &'static str,
    }

    fn slot_name(s: Slot) -> &'static str {
        match s {
            Slot::Public => "public",
            Slot::Private => "private",
        }
    }

    fn describe_locks(locks: &[Lock], slot: Slot) -> String {
        let mut parts: Vec<String> = locks
            .iter()
            .filter(|l| l.slot == slot)
            .map(|l| {
                let how = super::lock_how(l.origin);
                format!(
                    "{} (locked {} {how})",
                    l.ip,
                    event_time::format_with_time(l.since)
                )
            })
            .collect();
        if parts.is_empty() {
            parts.push("nothing".into());
        }
        parts.join(", ")
    }

    fn reason(v: &Verdict, window_note: impl Fn(Millis) -> String) -> String {
        let inst = &v.session.instance;
        let role = &v.session.role;
        let slot = slot_name(v.slot);
        if let Some(acct) = &v.foreign_endpoint {
            return format!(
                "Credentials of {} (role {role}) were used through a VPC endpoint of account \
                 {acct}, not the session's account {}: an endpoint the attacker owns hides where stolen keys \
                 are used. Check who owns account {acct}.",
                who(v),
                v.session.account
            );
        }
        if v.workload.kind == Kind::Function
            && matches!(v.kind, VerdictKind::Compromise | VerdictKind::Locked)
        {
            let region = v
                .workload
                .detail
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            let private = v.slot == Slot::Private;
            return match (v.kind, private) {
                (VerdictKind::Locked, true) => format!(
                    "Call through a VPC endpoint from {}: the function is attached to a VPC.",
                    v.source
                ),
                (VerdictKind::Locked, false) => format!(
                    "Call from {}, an AWS address of the function's region{region}: a Lambda function's calls \
                     are judged by where they come from, not locked.",
                    v.source
                ),
                _ => format!(
                    "Credentials of {} (role {role}) were used from {}, {}{region}: a function's own calls come \
                     from AWS addresses of its region, or through the VPC endpoints of its VPC. Check who holds \
                     the function's credentials.",
                    who(v),
                    v.source,
                    if private {
                        "a private address not seen through a VPC endpoint of a function attached to a VPC"
                    } else {
                        "which is not an AWS address of the function's region"
                    }
                ),
            };
        }
        if let Some(text) = super::evidence_reason(v) {
            return text;
        }
        match v.kind {
            VerdictKind::Duplicate => format!(
                "CloudTrail delivered this record (same eventID) again; it was alerted the first time from {}.",
                v.source
            ),
            VerdictKind::Compromise => format!(
                "Credentials of {} (role {role}) were used from {src}, outside the {slot} \
                 address the session is locked to: {locks}. Either they were stolen and used from {src}, \
                 or the locked address is the thief's, who called first: check which address is the \
                 {}'s.",
                who(v),
                v.workload.root().0.kind.noun(),
                src = v.source,
                locks = describe_locks(&v.locks, v.slot)
            ),
            VerdictKind::Locked if v.first_lock => format!(
                "First call of this session from a {slot} address: {} now locks it for {}.",
                v.source,
                who(v)
            ),
            VerdictKind::Locked => format!(
                "Call from the {slot} address the session is locked to ({}).",
                v.source
            ),
            VerdictKind::AwsService => format!(
                "{} called on the session's behalf; AWS service addresses never lock nor alert.",
                v.source
            ),
            VerdictKind::IpAdded => match v.change {
                Some((at, true)) => format!(
                    "New address {} accepted: an address change for instance {inst} at {} named it.",
                    v.source,
                    event_time::format_with_time(at)
                ),
                Some((at, false)) => format!(
                    "New address {} accepted: first new address after an address change for instance \
                     {inst} at {}{}.",
                    v.source,
                    event_time::format_with_time(at),
                    window_note(at)
                ),
                None => format!("New address {} accepted.", v.source),
            },
        }
    }

    fn origin(v: &Verdict, ranges: Option<&crate::output::ip_ranges::AwsRanges>) -> Option<OriginOut> {
        use crate::output::findings::{Origin, severity};
        if v.kind != VerdictKind::Compromise {
            return None;
        }
        let ip: std::net::IpAddr = v.source.parse().ok()?;
        let o = Origin::classify(ip, ranges);
        let (_, sev) = severity(&o, false);
        Some(match o {
            Origin::OutsideAws => OriginOut {
                class: "OutsideAWS",
                region: None,
                service: None,
                severity: sev,
            },
            Origin::InsideAws { region, service, .. } => OriginOut {
                class: "InsideAWS",
                region: Some(region),
                service: Some(service),
                severity: sev,
            },
            Origin::PrivateNetwork => OriginOut {
                class: "private",
                region: None,
                service: None,
                severity: sev,
            },
            Origin::Unclassified => OriginOut {
                class: "unclassified",
                region: None,
                service: None,
                severity: sev,
            },
        })
    }

    /// The serde version of [`super::write`]; `peer` appended to its JSON as the writer once did.
    pub(super) fn write(v: &Verdict, peer: Option<&Peer>, ctx: &Annotator, out: &mut Vec<u8>) {
        let window = ctx.window;
        let a = Annotation {
            verdict: v.kind.as_str(),
            reason: reason(v, |at| {
                format!(
                    " (window open until {})",
                    event_time::format_with_time(at + window)
                )
            }),
            session: v.session.to_string(),
            instance_id: (v.workload.kind == Kind::Instance).then_some(v.session.instance.as_str()),
            workload: workload(v),
            source_ip: &v.source,
            slot: slot_name(v.slot),
            locked_ips: v
                .locks
                .iter()
                .map(|l| LockedIp {
                    ip: l.ip.to_string(),
                    slot: slot_name(l.slot),
                    since: event_time::format_with_time(l.since),
                    origin: l.origin.as_str(),
                })
                .collect(),
            ttl_expires: event_time::format_with_time(v.expires),
            address_change_at: v.change.map(|(at, _)| event_time::format_with_time(at)),
            origin: origin(v, ctx.ranges.as_deref()),
            inferred: v.inferred,
            vpc_endpoint_account: v.foreign_endpoint.as_deref(),
            evidence: v.why.map(|w| w.as_str()),
            moved_from: v.why.and_then(|w| w.moved_from()).map(|ip| ip.to_string()),
            contested: v.contested,
        };
        // Serialising plain strings and vectors into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &a);
        if let Some(Peer { instance, role }) = peer {
            let note = serde_json::json!({
                "instance_id": instance.as_str(),
                "role": role.as_str(),
                "note": format!(
                    "used from {instance}, role {role}: the address is that instance's own, locked in the same \
                     account; lateral movement inside the account"
                ),
            });
            out.pop();
            out.extend_from_slice(b",\"same_account_peer\":");
            let _ = serde_json::to_writer(&mut *out, &note);
            out.push(b'}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::workload::{Parent, Workload};
    use crate::output::ip_ranges::AwsRanges;
    use crate::parse::event_time::MINUTE;
    use crate::parse::session_key::{Partition, SessionKey};
    use proptest::prelude::*;
    use std::net::Ipv4Addr;
    use std::sync::{Arc, LazyLock};

    #[test]
    fn text_escapes_as_serde_json_does() {
        let every: String = (0..=0x7f_u8)
            .map(char::from)
            .chain(['é', '€', '\u{2028}', '😀'])
            .collect();
        for s in [every.as_str(), "", "plain", "\"\\\"", "a\u{0}b\u{1f}c\u{7f}"] {
            let mut out = Vec::new();
            Json(&mut out).raw("\"").text(s).raw("\"");
            assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(s).unwrap());
        }
    }

    #[test]
    fn ips_as_display_writes_them() {
        let v6 = [
            "::",
            "::1",
            "2600:1f18::1",
            "::ffff:3.80.0.1",
            "1:0:0:1::",
            "fe80::1:0:0:1",
        ];
        let ips = [
            "0.0.0.0",
            "255.255.255.255",
            "10.0.0.5",
            "100.64.9.99",
            "1.20.3.40",
        ];
        for ip in ips.iter().chain(&v6) {
            let ip: IpAddr = ip.parse().unwrap();
            let mut out = Vec::new();
            Json(&mut out).ip(ip);
            assert_eq!(String::from_utf8(out).unwrap(), ip.to_string());
        }
    }

    /// The sample `--aws-ip-ranges`, and a file whose region and service names need escaping, over
    /// blocks that [`ip`] aims at.
    static RANGES: LazyLock<[Arc<AwsRanges>; 2]> = LazyLock::new(|| {
        let sample = include_bytes!("../../tests/data/ip-ranges-sample.json");
        let odd = serde_json::json!({
            "prefixes": [{"ip_prefix": "3.80.0.0/12", "region": "us-\"east\"\\1\n", "service": "EC2\u{1}é"}],
            "ipv6_prefixes": [{"ipv6_prefix": "2600:1f18::/32", "region": "\t😀", "service": "\\"}],
        });
        [
            Arc::new(AwsRanges::parse(sample).unwrap()),
            Arc::new(AwsRanges::parse(odd.to_string().as_bytes()).unwrap()),
        ]
    });

    const MAX_WINDOW: Millis = 30 * 24 * 60 * MINUTE;

    /// Mostly plain names, with the characters JSON escapes and some beyond ASCII.
    fn text() -> impl Strategy<Value = String> {
        let odd = [
            '"', '\\', '\n', '\r', '\t', '\u{8}', '\u{c}', '\0', '\u{1f}', '\u{7f}', 'é', '😀', '/', ':',
        ];
        let c = prop_oneof![
            6 => prop::char::range('a', 'z'),
            2 => prop::sample::select(odd.to_vec()),
            1 => any::<char>(),
        ];
        prop::collection::vec(c, 0..10).prop_map(|cs| cs.into_iter().collect())
    }

    /// Anywhere, and where [`RANGES`] or the private ranges have something to say.
    fn ip() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<u32>().prop_map(|a| IpAddr::V4(a.into())),
            (0u32..1 << 20).prop_map(|a| IpAddr::V4((u32::from(Ipv4Addr::new(3, 80, 0, 0)) | a).into())),
            (0u32..1 << 24).prop_map(|a| IpAddr::V4(((10 << 24) | a).into())),
            (0u32..256).prop_map(|a| IpAddr::V4(a.into())),
            any::<u128>().prop_map(|a| IpAddr::V6(a.into())),
            (0u128..1 << 96).prop_map(|a| IpAddr::V6(((0x2600_1f18 << 96) | a).into())),
            (0u128..1 << 16).prop_map(|a| IpAddr::V6(a.into())),
            any::<u32>().prop_map(|a| IpAddr::V6(Ipv4Addr::from(a).to_ipv6_mapped())),
            any::<[u16; 8]>().prop_map(|g| IpAddr::V6(g.map(|x| if x < 0x8000 { 0 } else { x }).into())),
        ]
    }

    fn millis() -> impl Strategy<Value = Millis> {
        prop_oneof![
            (1_500_000_000i64..2_000_000_000).prop_map(|s| s * 1000),
            1_500_000_000_000i64..2_000_000_000_000,
            -400_000_000_000_000i64..400_000_000_000_000,
            any::<i64>(),
        ]
    }

    fn lock() -> impl Strategy<Value = Lock> {
        let slot = prop::sample::select(vec![Slot::Public, Slot::Private]);
        let origin = prop::sample::select(vec![
            LockOrigin::FirstUse,
            LockOrigin::AddressChange,
            LockOrigin::Tied,
            LockOrigin::SameGateway,
            LockOrigin::OtherFamily,
            LockOrigin::OwnRegion,
        ]);
        (ip(), slot, millis(), origin).prop_map(|(ip, slot, since, origin)| Lock {
            ip,
            slot,
            since,
            origin,
        })
    }

    fn verdict() -> impl Strategy<Value = Verdict> {
        let kind = prop::sample::select(vec![
            VerdictKind::Compromise,
            VerdictKind::Locked,
            VerdictKind::AwsService,
            VerdictKind::IpAdded,
            VerdictKind::Duplicate,
        ]);
        let partition = prop::sample::select(vec![Partition::Aws, Partition::AwsCn, Partition::AwsUsGov]);
        let session =
            (partition, text(), text(), text()).prop_map(|(partition, account, role, instance)| SessionKey {
                partition,
                account: account.into(),
                role: role.into(),
                instance: instance.into(),
            });
        let source = prop_oneof![
            3 => ip().prop_map(|ip| ip.to_string()),
            1 => text(),
            1 => prop::sample::select(vec!["AWS Internal".to_owned(), "ec2.amazonaws.com".to_owned()]),
        ];
        let slot = prop::sample::select(vec![Slot::Public, Slot::Private]);
        // Kept below the overflow of adding the window: a debug build of the reference panics on it.
        let change = prop::option::of((millis().prop_map(|t| t.min(i64::MAX - MAX_WINDOW)), any::<bool>()));
        let endpoint = prop::option::weighted(0.2, text().prop_map(Into::into));
        let why = prop::option::weighted(
            0.3,
            prop_oneof![
                prop::sample::select(vec![
                    Why::Tied,
                    Why::SameGateway,
                    Why::OtherFamily,
                    Why::OutsideAws,
                    Why::UntiedPrivate,
                    Why::AfterTaskStopped,
                ]),
                ip().prop_map(Why::LockMoved),
                ip().prop_map(Why::OwnRegion),
            ],
        );
        (
            (kind, session, source, slot, workload()),
            prop::collection::vec(lock(), 0..=3),
            (millis(), any::<bool>(), change, any::<bool>(), endpoint, millis()),
            (why, any::<bool>()),
        )
            .prop_map(
                |(
                    (kind, session, source, slot, workload),
                    locks,
                    (expires, first_lock, change, inferred, endpoint, time),
                    (why, contested),
                )| {
                    Verdict {
                        kind,
                        session,
                        ip: source.parse().ok(),
                        source: source.into(),
                        slot,
                        locks: locks.into_iter().collect(),
                        expires,
                        first_lock,
                        change,
                        inferred,
                        foreign_endpoint: endpoint,
                        workload,
                        why,
                        contested,
                        issuer_lock: false,
                        overtook_early_release: false,
                        time,
                        context: Default::default(),
                    }
                },
            )
    }

    /// Any kind, with or without a detail, chained up to three sessions deep.
    fn workload() -> impl Strategy<Value = Workload> {
        let kind = prop::sample::select(crate::detect::workload::KINDS.to_vec());
        let one = (kind, prop::option::of(text())).prop_map(|(kind, detail)| Workload {
            kind,
            detail: detail.map(Into::into),
            parent: None,
        });
        (one, prop::collection::vec(text(), 0..=3)).prop_map(|(root, arns)| {
            arns.into_iter().fold(root, |w, arn| Workload {
                kind: Kind::Chained,
                detail: None,
                parent: Some(Arc::new(Parent {
                    arn: arn.into(),
                    workload: w,
                })),
            })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

        #[test]
        fn write_equals_the_serde_reference(
            v in verdict(),
            window in prop_oneof![Just(15 * MINUTE), 0..=MAX_WINDOW],
            ranges in 0usize..3,
            peer in prop::option::weighted(0.2, (text(), text())),
        ) {
            let ctx = Annotator {
                window,
                ranges: RANGES.get(ranges).cloned(),
            };
            let peer = peer.map(|(instance, role)| Peer { instance: instance.into(), role: role.into() });
            let (mut got, mut want) = (b"prefix".to_vec(), b"prefix".to_vec());
            write(&v, peer.as_ref(), &ctx, &mut got);
            reference::write(&v, peer.as_ref(), &ctx, &mut want);
            // As text first, for a readable failure.
            prop_assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want));
            prop_assert_eq!(&got, &want);
            let parsed: serde_json::Value = serde_json::from_slice(&got[b"prefix".len()..]).unwrap();
            prop_assert_eq!(parsed["verdict"].as_str(), Some(v.kind.as_str()));
        }
    }

    #[test]
    fn splice_adds_one_key() {
        let mut out = Vec::new();
        splice(br#"{"a":1} "#, br#"{"v":2}"#, &mut out);
        assert_eq!(out, b"{\"a\":1,\"credtrail\":{\"v\":2}}\n");
        out.clear();
        splice(b"{ }\r", br#"{}"#, &mut out);
        assert_eq!(out, b"{ \"credtrail\":{}}\r\n");
    }
}
