//! One CloudTrail record, read with simd-json's tape: only the fields the detector needs, and only
//! as far as the kind of record requires. The result is a short list of [`Fact`]s.

use crate::detect::events::{self, Event};
use crate::detect::workload::Kind;
use crate::parse::addresses::{self, NatAddress, Net};
use crate::parse::event_time::{self, Millis};
use crate::parse::issuer::{self, Issued};
use crate::parse::limits;
use crate::parse::session_key::SessionKey;
use crate::parse::source_address::Source;
use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use simd_json::prelude::*;
use simd_json::tape::{Object, Value};
use simd_json::{Buffers, INPUT_PADDING, Tape};
use std::net::IpAddr;

/// What a record tells the detector. A record may say more than one thing (an instance session
/// that calls AssociateAddress is both judged and a change), in the order they apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Fact {
    /// An EC2 instance session made a call: judge it.
    Call {
        session: SessionKey,
        time: Millis,
        source: Source,
        /// `sourceIPAddress` as written, for the annotation.
        source_text: CompactString,
        /// `vpcEndpointId` is present and not empty.
        via_endpoint: bool,
        context: CallContext,
    },
    /// A workload's credentials were issued (an instance's, a task's, a pod's, a function's, a web
    /// identity's): create or refresh its row.
    Issue {
        session: SessionKey,
        time: Millis,
        issued: Issued,
    },
    /// A session (judged, if it has a row) assumed a role: the session returned is chained to it.
    Chain {
        parent: SessionKey,
        child: SessionKey,
        time: Millis,
        expires: Option<Millis>,
    },
    /// CreateFunction / UpdateFunctionConfiguration: whether the Lambda function (in `account`) is
    /// attached to a VPC.
    FunctionVpc {
        function: CompactString,
        account: CompactString,
        attached: bool,
    },
    /// StopTask: the task's session ends.
    End {
        task: CompactString,
        account: Option<CompactString>,
        time: Millis,
    },
    /// An address was attached to an instance, or to a network interface of one.
    AddressChange {
        target: ChangeTarget,
        account: Option<CompactString>,
        time: Millis,
        address: ChangeAddress,
    },
    /// StopInstances / StartInstances: the instance comes back with a new public address.
    Restart {
        instance: CompactString,
        account: Option<CompactString>,
        time: Millis,
    },
    /// AllocateAddress: an allocation id stands for this Elastic IP.
    Allocation {
        allocation_id: CompactString,
        ip: IpAddr,
    },
    /// AttachNetworkInterface / RunInstances / RunTask: this interface belongs to that instance
    /// (or task).
    InterfaceOwner {
        interface: CompactString,
        instance: CompactString,
    },
    /// An [`Fact::Allocation`] or [`Fact::InterfaceOwner`] that `credtrail key` forwarded inside
    /// the address change it needs (`credtrail_key`), for a consumer of one Kafka partition that
    /// never saw the record it came from. Applied only with `--keyed`.
    Forwarded(Box<Fact>),
    /// A fact of a record that names several instances, in the copy `credtrail key` wrote for
    /// the partition of `instance` (`credtrail_key.instance`). With `--keyed` only what concerns
    /// that instance is applied, so that each instance is judged once over all partitions; without
    /// it the whole record is.
    Scoped {
        instance: CompactString,
        fact: Box<Fact>,
    },
    /// RunInstances, CreateNetworkInterface, AssignPrivateIpAddresses, AssignIpv6Addresses: these
    /// addresses (and prefixes) are the instance's, or the interface's.
    Tie { target: ChangeTarget, nets: Vec<Net> },
    /// CreateNatGateway, AssociateNatGatewayAddress: these addresses joined the NAT gateway;
    /// DisassociateNatGatewayAddress: the ones named by these ids (association or allocation)
    /// left it.
    NatGateway {
        gateway: CompactString,
        joined: Vec<NatAddress>,
        left: Vec<CompactString>,
    },
    /// AssociateAddress's answer: the association id, for a later DisassociateAddress.
    Association {
        association_id: Option<CompactString>,
        target: ChangeTarget,
        address: ChangeAddress,
    },
    /// DisassociateAddress: the instance gets a new public address, automatically assigned.
    Disassociation {
        association_id: Option<CompactString>,
        public_ip: Option<IpAddr>,
        account: Option<CompactString>,
        time: Millis,
    },
    /// A `recipientAccountId` of the trail: an account of the organisation. Written only for the
    /// first record of each account in a block, which is enough for the set of accounts seen to be
    /// the same, at every record, for any block cuts.
    Account(CompactString),
}

/// Accounts a block remembers having written (see [`Fact::Account`]); an organisation trail
/// interleaves many in one block.
const MAX_BLOCK_ACCOUNTS: usize = 4096;

type Accounts = std::collections::HashSet<CompactString, ahash::RandomState>;

/// What else a call says, for the evasion checks and for findings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CallContext {
    /// A hash of `eventID` (0 when there is none): CloudTrail may deliver a record twice.
    pub event_id: u64,
    /// `vpcEndpointAccountId`: the account that owns the VPC endpoint the call came through.
    pub endpoint_account: Option<CompactString>,
    /// `userIdentity.sessionContext.ec2RoleDelivery` is set: these are instance credentials.
    pub role_delivery: bool,
    pub event_name: CompactString,
    pub error_code: Option<CompactString>,
    pub region: Option<CompactString>,
}

/// When a record happened and which it is, for the reorder window and the dedupe set: read for
/// every record that tells the detector something.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stamp {
    /// `eventTime`; `None` when absent or unreadable (only records whose facts need no time).
    pub time: Option<Millis>,
    /// [`event_id_hash`] of `eventID`, 0 when there is none.
    pub event_id: u64,
}

/// A fixed hash of an `eventID`: XXH3-64, whose output its specification fixes, so that it is the
/// same on every machine and in every version; never 0, which stands for "no `eventID`".
pub fn event_id_hash(id: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(id.as_bytes()).max(1)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ChangeTarget {
    Instance(CompactString),
    Interface(CompactString),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ChangeAddress {
    /// The event names the new address.
    Named(IpAddr),
    /// The event names an Elastic IP by allocation id; an earlier AllocateAddress may resolve it.
    Allocation(CompactString),
    /// The event does not say which address.
    Unnamed,
}

/// How a parsed JSON value was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Record,
    /// An EventBridge "AWS API Call via CloudTrail" envelope; the record is its `detail`.
    EventBridge,
    /// Another EventBridge event: a valid input the detector has nothing to do with.
    OtherEvent,
}

/// Why an input value could not be used. The text ends up on stderr after the line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub String);

impl Malformed {
    fn wrong_type(field: &str, expected: &str, got: ValueType) -> Malformed {
        Malformed(format!("{field} is {}, expected {expected}", type_name(got)))
    }
}

fn type_name(t: ValueType) -> &'static str {
    match t {
        ValueType::Null => "null",
        ValueType::Bool => "a boolean",
        ValueType::String => "a string",
        ValueType::Array => "an array",
        ValueType::Object => "an object",
        _ => "a number",
    }
}

/// A reusable simd-json parser. simd-json unescapes strings in place: a value with a backslash is
/// parsed from a scratch copy, so that the caller keeps the original bytes for output.
pub struct Parser {
    /// The last record's [`Stamp`].
    pub stamp: Stamp,
    scratch: Vec<u8>,
    buffers: Buffers,
    tape: Option<Tape<'static>>,
    /// The `recipientAccountId`s written since [`Parser::new_block`].
    accounts: Accounts,
}

impl Default for Parser {
    fn default() -> Self {
        Parser {
            stamp: Stamp::default(),
            scratch: Vec::new(),
            // No depth limit: the parse keeps its own stack on the heap (bounded by the line), and
            // the tape is walked without recursion. simd-json's default of 1 024 made a record
            // malformed, and so unjudged, when a field the detector never reads (an attacker's
            // request parameters) nested deeper.
            buffers: Buffers::with_max_depth(64 * 1024, usize::MAX),
            tape: Some(Tape::null()),
            accounts: Accounts::default(),
        }
    }
}

impl Parser {
    /// A block starts: its accounts are written whatever the last block's were.
    pub fn new_block(&mut self) {
        self.accounts.clear();
    }

    /// Parses one JSON value and appends what it says to `facts`.
    pub fn read(&mut self, bytes: &[u8], facts: &mut Vec<Fact>) -> Result<Shape, Malformed> {
        self.scratch.clear();
        self.scratch.extend_from_slice(bytes);
        self.scratch.resize(bytes.len() + INPUT_PADDING, 0);
        parse_padded(
            &mut self.buffers,
            &mut self.tape,
            &mut self.scratch,
            bytes.len(),
            &mut self.accounts,
            (facts, &mut self.stamp),
        )
    }

    /// [`Parser::read`] of `buf[..len]` without the scratch copy. The caller promises that
    /// `buf[..len]` has no backslash (simd-json writes only where it unescapes, so the bytes stay
    /// as they are) and that `buf` has [`INPUT_PADDING`] bytes after `len`, of any content: the
    /// next line serves.
    pub fn read_in_place(
        &mut self,
        buf: &mut [u8],
        len: usize,
        facts: &mut Vec<Fact>,
    ) -> Result<Shape, Malformed> {
        debug_assert!(memchr::memchr(b'\\', &buf[..len]).is_none());
        parse_padded(
            &mut self.buffers,
            &mut self.tape,
            buf,
            len,
            &mut self.accounts,
            (facts, &mut self.stamp),
        )
    }
}

fn parse_padded(
    buffers: &mut Buffers,
    slot: &mut Option<Tape<'static>>,
    buf: &mut [u8],
    len: usize,
    accounts: &mut Accounts,
    (facts, stamp): (&mut Vec<Fact>, &mut Stamp),
) -> Result<Shape, Malformed> {
    *stamp = Stamp::default();
    let mut tape = slot.take().unwrap_or_else(Tape::null).reset();
    let result = match simd_json::fill_tape_padded(buf, len, buffers, &mut tape) {
        Ok(()) => classify(tape.as_value(), accounts, facts, stamp),
        Err(e) => Err(Malformed(super::json_error::describe(&e))),
    };
    *slot = Some(tape.reset());
    result
}

/// Why a value with a top-level `credtrail` key is malformed: that key is credtrail's verdict, and
/// no input may carry one (see `output::wrap`, which always writes such lines wrapped).
pub const FORGED_VERDICT: &str = "a top-level credtrail key: only credtrail writes one";

fn classify(
    root: Value<'_, '_>,
    accounts: &mut Accounts,
    facts: &mut Vec<Fact>,
    stamp: &mut Stamp,
) -> Result<Shape, Malformed> {
    let Some(obj) = root.as_object() else {
        return Err(Malformed(format!(
            "a JSON {} is not a CloudTrail record",
            match root.value_type() {
                ValueType::Array => "array",
                ValueType::String => "string",
                ValueType::Null => "null",
                ValueType::Bool => "boolean",
                _ => "number",
            }
        )));
    };
    let mut detail_type = None;
    let mut detail = None;
    let mut records = None;
    for (k, v) in obj.iter() {
        match k {
            "credtrail" => return Err(Malformed(FORGED_VERDICT.into())),
            "detail-type" => detail_type = Some(v),
            "detail" => detail = Some(v),
            "Records" => records = Some(v),
            _ => {}
        }
    }
    if let Some(records) = records {
        return Err(Malformed(if records.is_array() {
            "a Records body must start with {\"Records\":[".into()
        } else {
            format!(
                "Records is {}, expected an array",
                type_name(records.value_type())
            )
        }));
    }
    if let Some(dt) = detail_type {
        let dt = opt_str("detail-type", dt)?;
        if dt != Some("AWS API Call via CloudTrail") {
            return Ok(Shape::OtherEvent);
        }
        let detail = detail.ok_or_else(|| Malformed("EventBridge envelope without detail".into()))?;
        let detail = detail
            .as_object()
            .ok_or_else(|| Malformed::wrong_type("detail", "an object", detail.value_type()))?;
        read_record(&detail, accounts, facts, stamp)?;
        return Ok(Shape::EventBridge);
    }
    read_record(&obj, accounts, facts, stamp)?;
    Ok(Shape::Record)
}

/// The top-level fields every record is checked for. A field of the wrong type makes the record
/// malformed (it is not judged); `null` counts as absent.
#[derive(Default)]
struct Top<'t, 'i> {
    event_time: Option<&'i str>,
    event_source: Option<&'i str>,
    event_name: Option<&'i str>,
    source_ip: Option<&'i str>,
    identity_type: Option<&'i str>,
    identity_arn: Option<&'i str>,
    invoked_by: Option<&'i str>,
    error_code: Option<&'i str>,
    vpc_endpoint_id: Option<&'i str>,
    recipient_account: Option<&'i str>,
    request: Option<Object<'t, 'i>>,
    response: Option<Object<'t, 'i>>,
    event_id: Option<&'i str>,
    endpoint_account: Option<&'i str>,
    region: Option<&'i str>,
    role_delivery: bool,
    /// `credtrail_key`: what `credtrail key` forwarded (read on address changes only).
    forwarded: Option<Object<'t, 'i>>,
    /// `credtrail_key.instance`: this line is the copy for that instance's partition.
    scope: Option<&'i str>,
    /// `serviceEventDetails` of an `AwsServiceEvent` (BidEvictedEvent names its instances there).
    service_event: Option<Value<'t, 'i>>,
}

fn opt_str<'i>(field: &str, v: Value<'_, 'i>) -> Result<Option<&'i str>, Malformed> {
    match v.value_type() {
        ValueType::Null => Ok(None),
        ValueType::String => Ok(v.into_string()),
        t => Err(Malformed::wrong_type(field, "a string", t)),
    }
}

fn opt_obj<'t, 'i>(field: &str, v: Value<'t, 'i>) -> Result<Option<Object<'t, 'i>>, Malformed> {
    match v.value_type() {
        ValueType::Null => Ok(None),
        ValueType::Object => Ok(v.as_object()),
        t => Err(Malformed::wrong_type(field, "an object", t)),
    }
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

/// A record that names a field twice means whatever the parser decides; it is not judged.
fn once(seen: &mut u32, bit: u32, field: &str) -> Result<(), Malformed> {
    if *seen & bit != 0 {
        return Err(Malformed(format!("duplicate key {field}")));
    }
    *seen |= bit;
    Ok(())
}

fn read_top<'t, 'i>(obj: &Object<'t, 'i>) -> Result<Top<'t, 'i>, Malformed> {
    let mut top = Top::default();
    let mut seen = 0u32;
    for (k, v) in obj.iter() {
        match k {
            "eventTime" => {
                once(&mut seen, 1, k)?;
                top.event_time = opt_str(k, v)?;
            }
            "eventSource" => {
                once(&mut seen, 1 << 1, k)?;
                top.event_source = opt_str(k, v)?;
            }
            "eventName" => {
                once(&mut seen, 1 << 2, k)?;
                top.event_name = opt_str(k, v)?;
            }
            "sourceIPAddress" => {
                once(&mut seen, 1 << 3, k)?;
                top.source_ip = opt_str(k, v)?;
            }
            "errorCode" => {
                once(&mut seen, 1 << 4, k)?;
                top.error_code = opt_str(k, v)?;
            }
            "vpcEndpointId" => {
                once(&mut seen, 1 << 5, k)?;
                top.vpc_endpoint_id = opt_str(k, v)?;
            }
            "recipientAccountId" => {
                once(&mut seen, 1 << 6, k)?;
                top.recipient_account = opt_str(k, v)?;
            }
            "requestParameters" => {
                once(&mut seen, 1 << 7, k)?;
                top.request = opt_obj(k, v)?;
            }
            "responseElements" => {
                once(&mut seen, 1 << 8, k)?;
                top.response = opt_obj(k, v)?;
            }
            "eventID" => top.event_id = opt_str(k, v)?,
            "vpcEndpointAccountId" => {
                once(&mut seen, 1 << 13, k)?;
                top.endpoint_account = opt_str(k, v)?;
            }
            "awsRegion" => top.region = opt_str(k, v)?,
            "credtrail_key" => {
                once(&mut seen, 1 << 14, k)?;
                top.forwarded = v.as_object();
                top.scope = top
                    .forwarded
                    .as_ref()
                    .and_then(|f| f.get("instance"))
                    .and_then(|i| i.into_string())
                    .and_then(|i| limits::resource_id("credtrail_key.instance", i).ok());
            }
            "serviceEventDetails" => top.service_event = Some(v),
            "userIdentity" => {
                once(&mut seen, 1 << 9, k)?;
                if let Some(id) = opt_obj(k, v)? {
                    for (k, v) in id.iter() {
                        match k {
                            "type" => {
                                once(&mut seen, 1 << 10, "userIdentity.type")?;
                                top.identity_type = opt_str("userIdentity.type", v)?;
                            }
                            "arn" => {
                                once(&mut seen, 1 << 11, "userIdentity.arn")?;
                                top.identity_arn = opt_str("userIdentity.arn", v)?;
                            }
                            "sessionContext" => {
                                top.role_delivery = v
                                    .as_object()
                                    .and_then(|c| c.get("ec2RoleDelivery"))
                                    .and_then(|d| d.into_string())
                                    .is_some_and(|d| !d.is_empty());
                            }
                            "invokedBy" => {
                                once(&mut seen, 1 << 12, "userIdentity.invokedBy")?;
                                top.invoked_by = opt_str("userIdentity.invokedBy", v)?;
                            }
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(top)
}

impl Top<'_, '_> {
    fn time(&self) -> Result<Millis, Malformed> {
        let s = self.event_time.ok_or_else(|| Malformed("no eventTime".into()))?;
        event_time::parse(s).ok_or_else(|| Malformed(format!("eventTime {s:?} is not an RFC 3339 time")))
    }

    fn failed(&self) -> bool {
        non_empty(self.error_code).is_some()
    }

    /// `recipientAccountId`, when there is one.
    fn account(&self) -> Option<CompactString> {
        non_empty(self.recipient_account).map(CompactString::from)
    }

    fn request_str(&self, field: &str) -> Result<Option<&str>, Malformed> {
        match self.request.as_ref().and_then(|r| r.get(field)) {
            Some(v) => opt_str(field, v).map(non_empty),
            None => Ok(None),
        }
    }
}

fn read_record(
    obj: &Object<'_, '_>,
    accounts: &mut Accounts,
    facts: &mut Vec<Fact>,
    stamp: &mut Stamp,
) -> Result<(), Malformed> {
    let top = read_top(obj)?;
    let (Some(source), Some(name)) = (top.event_source, top.event_name) else {
        return Err(Malformed(
            "not a CloudTrail record (no eventSource or eventName)".into(),
        ));
    };
    let start = facts.len();
    let result = read_facts(&top, source, name, facts);
    if result.is_err() {
        facts.truncate(start);
        return result;
    }
    if let Some(instance) = top.scope {
        for f in &mut facts[start..] {
            let fact = Box::new(std::mem::replace(f, Fact::Account(CompactString::default())));
            *f = Fact::Scoped {
                instance: instance.into(),
                fact,
            };
        }
    }
    // Only a record that was read counts its account: one that failed gives no facts at all.
    if let Some(a) = non_empty(top.recipient_account)
        && !accounts.contains(a)
    {
        // Past the bound, each record of a further account writes its own.
        if accounts.len() < MAX_BLOCK_ACCOUNTS {
            accounts.insert(a.into());
        }
        facts.insert(start, Fact::Account(a.into()));
    }
    if facts.len() > start {
        *stamp = Stamp {
            time: top.time().ok(),
            // The copies of one record for different partitions are different deliveries: a
            // consumer reading several partitions applies each once (a redelivered copy is still
            // recognised).
            event_id: match (non_empty(top.event_id), top.scope) {
                (None, _) => 0,
                (Some(id), None) => event_id_hash(id),
                (Some(id), Some(instance)) => event_id_hash(&format!("{id}\u{0}{instance}")),
            },
        };
    }
    result
}

fn read_facts(top: &Top<'_, '_>, source: &str, name: &str, facts: &mut Vec<Fact>) -> Result<(), Malformed> {
    let caller = events::judged_session(top.identity_type, top.identity_arn);
    if let Some(session) = &caller {
        limits::session("userIdentity.arn", session)?;
    }
    // Cloned only for the rare record that may chain: every call record has a caller.
    let chain_parent = caller
        .as_ref()
        .filter(|_| events::chains(source, name, top.failed()))
        .cloned();
    if let Some(session) = caller {
        let ip = top
            .source_ip
            .ok_or_else(|| Malformed("no sourceIPAddress".into()))?;
        facts.push(Fact::Call {
            session,
            time: top.time()?,
            source: Source::classify(ip),
            source_text: ip.into(),
            via_endpoint: non_empty(top.vpc_endpoint_id).is_some(),
            context: CallContext {
                event_id: non_empty(top.event_id).map_or(0, event_id_hash),
                endpoint_account: non_empty(top.endpoint_account).map(CompactString::from),
                role_delivery: top.role_delivery,
                event_name: name.into(),
                error_code: non_empty(top.error_code).map(CompactString::from),
                region: non_empty(top.region).map(CompactString::from),
            },
        });
    }
    // (22) A session's own AssumeRole: what it returns is chained to it.
    if let Some(parent) = chain_parent
        && let Some(child) = issuer::returned_session(top.response.as_ref())
    {
        facts.push(Fact::Chain {
            parent,
            child,
            time: top.time()?,
            expires: issuer::expiration(top.response.as_ref()),
        });
        return Ok(());
    }
    match events::event(source, name, top.failed()) {
        Some(Event::Issue) => read_issue(top, facts),
        Some(Event::WebIdentity) => read_web_identity(top, facts),
        Some(Event::TaskLaunch) => read_task_launch(top, facts),
        Some(Event::TaskStop) => read_task_stop(top, facts),
        Some(Event::FunctionConfig) => read_function_config(top, facts),
        Some(Event::AddressChange {
            maps_interface,
            may_name_address,
        }) => read_address_change(top, maps_interface, may_name_address, facts),
        Some(Event::Restart) => read_restart(top, facts),
        Some(Event::Allocation) => read_allocation(top, facts),
        Some(Event::Launch) => read_launch(top, facts),
        Some(Event::InterfaceCreated) => read_interface_created(top, facts),
        Some(Event::NatGateway) => read_nat_gateway(top, facts),
        Some(Event::Disassociation) => read_disassociation(top, facts),
        None => Ok(()),
    }
}

/// (1, 14, 15, 17) An AWS service's AssumeRole for an instance, a task, a pod or a function.
fn read_issue(top: &Top<'_, '_>, facts: &mut Vec<Fact>) -> Result<(), Malformed> {
    let Some(kind) = events::issuing_service(top.source_ip, top.invoked_by) else {
        return Ok(());
    };
    let (Some(role_arn), Some(name)) = (top.request_str("roleArn")?, top.request_str("roleSessionName")?)
    else {
        return Ok(());
    };
    let Some(session) = issuer::service_session(kind, role_arn, name) else {
        return Ok(());
    };
    limits::at_most("requestParameters.roleArn", role_arn, limits::ARN)?;
    limits::session("requestParameters", &session)?;
    let detail = match kind {
        Kind::Pod => issuer::pod_place(top.request.as_ref()),
        Kind::Function => non_empty(top.region).map(CompactString::from),
        _ => None,
    };
    let expires = match kind {
        // Instances keep the blog's TTL: their refreshes come every hour or so whatever the expiry.
        Kind::Instance => None,
        _ => issuer::expiration(top.response.as_ref()),
    };
    facts.push(Fact::Issue {
        session,
        time: top.time()?,
        issued: Issued {
            kind,
            detail,
            expires,
            // The workload's own region (17). Region names are short; a longer value is no
            // region (and would not be stored inline).
            region: non_empty(top.region)
                .filter(|r| r.len() <= 24)
                .map(CompactString::from),
            ..Issued::default()
        },
    });
    Ok(())
}

/// (20) AssumeRoleWithWebIdentity, made by the workload itself: the session it returns is first
/// locked to the address it was made from.
fn read_web_identity(top: &Top<'_, '_>, facts: &mut Vec<Fact>) -> Result<(), Malformed> {
    let Some(session) = issuer::returned_session(top.response.as_ref()) else {
        return Ok(());
    };
    let first_lock = top.source_ip.and_then(|ip| match Source::classify(ip) {
        Source::Ip(ip) => Some(ip),
        Source::AwsService | Source::NotAnAddress => None,
    });
    facts.push(Fact::Issue {
        session,
        time: top.time()?,
        issued: Issued {
            kind: Kind::WebIdentity,
            detail: None,
            expires: issuer::expiration(top.response.as_ref()),
            first_lock,
            via_endpoint: non_empty(top.vpc_endpoint_id).is_some(),
            // The STS endpoint's region, not necessarily the workload's: region evidence (17)
            // is not for these sessions.
            region: None,
        },
    });
    Ok(())
}

/// The task id of `arn:aws:ecs:REGION:ACCOUNT:task/CLUSTER/ID` (or of the older
/// `task/ID`), or the id itself.
fn task_id(s: &str) -> Option<&str> {
    let id = s.rsplit('/').next()?;
    (!id.is_empty() && !id.contains(':')).then_some(id)
}

/// (18) RunTask: the network interfaces of its tasks (awsvpc mode), named in the attachments'
/// details, belong to the task as an instance's do to it, and so do the addresses the details give
/// the interface (`privateIPv4Address`, `ipv6Address`): tied to the task as RunInstances ties an
/// instance's (14), since its calls through an endpoint come from them.
fn read_task_launch(top: &Top<'_, '_>, facts: &mut Vec<Fact>) -> Result<(), Malformed> {
    let Some(tasks) = top
        .response
        .as_ref()
        .and_then(|r| r.get("tasks"))
        .and_then(|t| t.as_array())
    else {
        return Ok(());
    };
    for task in tasks.iter().filter_map(|t| t.as_object()) {
        let Some(id) = task
            .get("taskArn")
            .and_then(|v| v.into_string())
            .and_then(task_id)
        else {
            continue;
        };
        let attachments = task.get("attachments");
        let mut nets = Vec::new();
        for att in attachments
            .iter()
            .filter_map(|a| a.as_array())
            .flat_map(|a| a.iter())
        {
            let details = att.as_object().and_then(|a| a.get("details"));
            for d in details.iter().filter_map(|d| d.as_array()).flat_map(|d| d.iter()) {
                let Some(d) = d.as_object() else { continue };
                let value = non_empty(d.get("value").and_then(|v| v.into_string()));
                match (d.get("name").and_then(|v| v.into_string()), value) {
                    (Some("networkInterfaceId"), Some(eni)) => facts.push(Fact::InterfaceOwner {
                        interface: eni.into(),
                        instance: id.into(),
                    }),
                    (Some("privateIPv4Address" | "ipv6Address"), Some(ip)) => {
                        if let Ok(ip) = ip.parse::<IpAddr>() {
                            nets.push(Net::one(ip));
                        }
                    }
                    _ => {}
                }
            }
        }
        if !nets.is_empty() {
            facts.push(Fact::Tie {
                target: ChangeTarget::Instance(id.into()),
                nets: std::mem::take(&mut nets),
            });
        }
    }
    Ok(())
}

/// (21) CreateFunction / UpdateFunctionConfiguration: a `vpcConfig` with subnets attaches the
/// function to a VPC, one without detaches it; a configuration change that does not name
/// `vpcConfig` leaves it as it was. The response says what AWS applied, so it is read first.
fn read_function_config(top: &Top<'_, '_>, facts: &mut Vec<Fact>) -> Result<(), Malformed> {
    let Some(account) = top.account() else {
        return Ok(());
    };
    fn from<'i>(o: Option<&Object<'_, 'i>>) -> Option<(&'i str, bool)> {
        let o = o?;
        let name = o.get("functionName").and_then(|v| v.into_string())?;
        let vpc = o.get("vpcConfig")?;
        let subnets = vpc
            .as_object()
            .and_then(|v| v.get("subnetIds"))
            .and_then(|s| s.as_array().map(|a| !a.is_empty()));
        Some((name, subnets.unwrap_or(false)))
    }
    if let Some((name, attached)) = from(top.response.as_ref()).or_else(|| from(top.request.as_ref()))
        && let Some(name) = function_name(name)
    {
        facts.push(Fact::FunctionVpc {
            function: name.into(),
            account,
            attached,
        });
    }
    Ok(())
}

/// The name of `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`, or the name itself.
fn function_name(s: &str) -> Option<&str> {
    let name = match s.split_once(":function:") {
        Some((_, rest)) => rest.split(':').next()?,
        None => s,
    };
    (!name.is_empty() && !name.contains(':')).then_some(name)
}

/// (18) StopTask ends the task's session.
fn read_task_stop(top: &Top<'_, '_>, facts: &mut Vec<Fact>) -> Result<(), Malformed> {
    if let Some(task) = top.request_str("task")?.and_then(task_id) {
        facts.push(Fact::End {
            task: task.into(),
            account: top.account(),
            time: top.time()?,
        });
    }
    Ok(())
}

fn read_address_change(
    top: &Top<'_, '_>,
    maps_interface: bool,
    may_name_address: bool,
    facts: &mut Vec<Fact>,
) -> Result<(), Malformed> {
    let instance = top
        .request_str("instanceId")?
        .map(|i| limits::resource_id("requestParameters.instanceId", i))
        .transpose()?;
    let interface = top
        .request_str("networkInterfaceId")?
        .map(|n| limits::resource_id("requestParameters.networkInterfaceId", n))
        .transpose()?;
    if maps_interface && let (Some(i), Some(n)) = (instance, interface) {
        facts.push(Fact::InterfaceOwner {
            interface: n.into(),
            instance: i.into(),
        });
    }
    let target = match (instance, interface) {
        (Some(i), _) => ChangeTarget::Instance(i.into()),
        (None, Some(n)) => ChangeTarget::Interface(n.into()),
        (None, None) => return Ok(()),
    };
    let address = if may_name_address {
        match (top.request_str("publicIp")?, top.request_str("allocationId")?) {
            (Some(ip), _) => match ip.parse() {
                Ok(ip) => ChangeAddress::Named(ip),
                Err(_) => ChangeAddress::Unnamed,
            },
            (None, Some(id)) => {
                ChangeAddress::Allocation(limits::resource_id("requestParameters.allocationId", id)?.into())
            }
            (None, None) => ChangeAddress::Unnamed,
        }
    } else {
        ChangeAddress::Unnamed
    };
    let time = top.time()?;
    if let Some(f) = &top.forwarded {
        read_forwarded(f, facts);
    }
    if !may_name_address && let Some(resp) = &top.response {
        // AssignPrivateIpAddresses / AssignIpv6Addresses: the answer lists what was assigned.
        let mut nets = Vec::new();
        addresses::nets_in(resp, &mut nets);
        if !nets.is_empty() {
            facts.push(Fact::Tie {
                target: target.clone(),
                nets,
            });
        }
    }
    if may_name_address {
        let association_id = top
            .response
            .as_ref()
            .and_then(|r| addresses::find_str(r, "associationId"))
            .map(CompactString::from);
        facts.push(Fact::Association {
            association_id,
            target: target.clone(),
            address: address.clone(),
        });
    }
    facts.push(Fact::AddressChange {
        target,
        account: top.account(),
        time,
        address,
    });
    Ok(())
}

/// `credtrail_key` of an address change, as `credtrail key` writes it:
/// `{"allocation":{"id":"eipalloc-…","ip":"…"},"interface":{"id":"eni-…","instance":"i-…"}}`,
/// either part optional. What does not read as that is left out: only `credtrail key` writes
/// the field, and a consumer without `--keyed` ignores it.
fn read_forwarded(f: &Object<'_, '_>, facts: &mut Vec<Fact>) {
    let pair = |part: &str, a: &str, b: &str| {
        let o = f.get(part)?.as_object()?;
        let (x, y) = (o.get(a)?.into_string()?, o.get(b)?.into_string()?);
        let x = limits::resource_id("credtrail_key", x).ok()?;
        Some((CompactString::from(x), y))
    };
    if let Some((id, ip)) = pair("allocation", "id", "ip")
        && let Ok(ip) = ip.parse()
    {
        let f = Fact::Allocation {
            allocation_id: id,
            ip,
        };
        facts.push(Fact::Forwarded(Box::new(f)));
    }
    if let Some((interface, instance)) = pair("interface", "id", "instance")
        && let Ok(instance) = limits::resource_id("credtrail_key", instance)
    {
        let f = Fact::InterfaceOwner {
            interface,
            instance: instance.into(),
        };
        facts.push(Fact::Forwarded(Box::new(f)));
    }
}

fn read_interface_created(top: &Top<'_, '_>, facts: &mut Vec<Fact>) -> Result<(), Malformed> {
    let Some(resp) = &top.response else {
        return Ok(());
    };
    let Some(interface) = addresses::find_str(resp, "networkInterfaceId") else {
        return Ok(());
    };
    let mut nets = Vec::new();
    addresses::nets_in(resp, &mut nets);
    if !nets.is_empty() {
        facts.push(Fact::Tie {
            target: ChangeTarget::Interface(interface.into()),
            nets,
        });
    }
    Ok(())
}

fn read_nat_gateway(top: &Top<'_, '_>, facts: &mut Vec<Fact>) -> Result<(), Malformed> {
    let parts = || top.request.iter().chain(top.response.iter());
    let Some(gateway) = parts().find_map(|p| addresses::find_str(p, "natGatewayId")) else {
        return Ok(());
    };
    let mut joined = Vec::new();
    let mut left = Vec::new();
    if top.event_name == Some("DisassociateNatGatewayAddress") {
        let mut ids = Vec::new();
        for p in parts() {
            addresses::ids_in(p, "eipassoc-", &mut ids);
            addresses::ids_in(p, "eipalloc-", &mut ids);
        }
        left = ids.into_iter().map(CompactString::from).collect();
    } else {
        // The answer lists each address with what is known of it; a request's bare allocation
        // ids count when the answer has no list.
        if let Some(r) = &top.response {
            addresses::nat_addresses(r, &mut joined);
        }
        if joined.is_empty() {
            let mut ids = Vec::new();
            for p in parts() {
                addresses::ids_in(p, "eipalloc-", &mut ids);
            }
            joined = ids
                .into_iter()
                .map(|id| NatAddress {
                    allocation_id: Some(id.into()),
                    ip: None,
                    association_id: None,
                })
                .collect();
        }
    }
    facts.push(Fact::NatGateway {
        gateway: gateway.into(),
        joined,
        left,
    });
    Ok(())
}

fn read_disassociation(top: &Top<'_, '_>, facts: &mut Vec<Fact>) -> Result<(), Malformed> {
    let association_id = top.request_str("associationId")?.map(CompactString::from);
    let public_ip = top.request_str("publicIp")?.and_then(|p| p.parse().ok());
    if association_id.is_none() && public_ip.is_none() {
        return Ok(());
    }
    facts.push(Fact::Disassociation {
        association_id,
        public_ip,
        account: top.account(),
        time: top.time()?,
    });
    Ok(())
}

fn read_restart(top: &Top<'_, '_>, facts: &mut Vec<Fact>) -> Result<(), Malformed> {
    let time = top.time()?;
    let account = top.account();
    let mut ids = instances_set(top.request.as_ref())?;
    // A stop or start EC2 makes itself (a Spot interruption's stop or hibernation, its restart)
    // may name the instances only in its answer; BidEvictedEvent names them in
    // `serviceEventDetails.instanceIdSet`.
    if ids.is_empty() {
        ids = instances_set(top.response.as_ref())?;
    }
    if let Some(set) = top
        .service_event
        .and_then(|d| d.as_object())
        .and_then(|d| d.get("instanceIdSet"))
        .and_then(|s| s.as_array())
    {
        for v in set.iter() {
            if let Some(id) = non_empty(v.into_string())
                && !ids.contains(&id)
            {
                ids.push(id);
            }
        }
    }
    for instance in ids {
        facts.push(Fact::Restart {
            instance: instance.into(),
            account: account.clone(),
            time,
        });
    }
    Ok(())
}

fn read_allocation(top: &Top<'_, '_>, facts: &mut Vec<Fact>) -> Result<(), Malformed> {
    let Some(resp) = top.response.as_ref() else {
        return Ok(());
    };
    let id = resp
        .get("allocationId")
        .map(|v| opt_str("allocationId", v))
        .transpose()?
        .flatten();
    let ip = resp
        .get("publicIp")
        .map(|v| opt_str("publicIp", v))
        .transpose()?
        .flatten();
    if let (Some(id), Some(Ok(ip))) = (non_empty(id), ip.map(str::parse::<IpAddr>)) {
        facts.push(Fact::Allocation {
            allocation_id: limits::resource_id("responseElements.allocationId", id)?.into(),
            ip,
        });
    }
    Ok(())
}

fn read_launch(top: &Top<'_, '_>, facts: &mut Vec<Fact>) -> Result<(), Malformed> {
    let Some(resp) = top.response.as_ref() else {
        return Ok(());
    };
    for item in items(resp.get("instancesSet"))? {
        let Some(instance) = item.get("instanceId").and_then(|v| v.into_string()) else {
            continue;
        };
        let instance = limits::resource_id("responseElements.instancesSet.items[].instanceId", instance)?;
        for nic in items(item.get("networkInterfaceSet"))? {
            if let Some(n) = nic.get("networkInterfaceId").and_then(|v| v.into_string()) {
                let field =
                    "responseElements.instancesSet.items[].networkInterfaceSet.items[].networkInterfaceId";
                facts.push(Fact::InterfaceOwner {
                    interface: limits::resource_id(field, n)?.into(),
                    instance: instance.into(),
                });
            }
        }
        // The launch's answer names the instance's addresses: private ones, IPv6 ones, and a
        // public one when it is already known.
        let mut nets = Vec::new();
        addresses::nets_in(&item, &mut nets);
        if !nets.is_empty() {
            facts.push(Fact::Tie {
                target: ChangeTarget::Instance(instance.into()),
                nets,
            });
        }
    }
    Ok(())
}

/// `{"items":[{…},…]}`, the EC2 list shape. Anything else is an empty list.
fn items<'t, 'i>(set: Option<Value<'t, 'i>>) -> Result<Vec<Object<'t, 'i>>, Malformed> {
    let Some(items) = set.and_then(|s| s.as_object()).and_then(|s| s.get("items")) else {
        return Ok(Vec::new());
    };
    let Some(items) = items.as_array() else {
        return Ok(Vec::new());
    };
    Ok(items.iter().filter_map(|v| v.as_object()).collect())
}

fn instances_set<'i>(request: Option<&Object<'_, 'i>>) -> Result<Vec<&'i str>, Malformed> {
    let Some(request) = request else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for item in items(request.get("instancesSet"))? {
        if let Some(v) = item.get("instanceId")
            && let Some(id) = non_empty(opt_str("instancesSet.items[].instanceId", v)?)
        {
            out.push(limits::resource_id("instancesSet.items[].instanceId", id)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Duplicate delivery is recognised by these hashes: pinned, so that a change of hash (ahash's
    /// output, used before, differs between its versions and between machines) shows. (Mutation:
    /// hashing with a seed, or dropping `.max(1)`, fails here.)
    #[test]
    fn event_ids_hash_to_fixed_values() {
        let got: Vec<u64> = ["", "3f0c5a1e-8d2b-4f6a-9c7e-1b2d3e4f5a6b", "x"]
            .iter()
            .map(|id| event_id_hash(id))
            .collect();
        assert_eq!(
            got,
            [
                0x2d06_8005_38d3_94c2,
                0xeff1_8385_c26d_783d,
                0xeaf0_6c64_80b2_cd11
            ]
        );
    }
}
