//! Which records the method reads, and as what: the README's "How it decides", items 1, 3, 6, 7
//! and 18 to 22. The parser asks here, then reads the fields the answer needs.

use crate::detect::workload::Kind;
use crate::parse::session_key::{SessionKey, is_instance_id};

/// The service whose AssumeRole issues instance credentials, and whose records change addresses.
pub const EC2: &str = "ec2.amazonaws.com";

/// What a record is to the method besides a call to judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// AssumeRole: issues or refreshes a workload's session when an AWS service made it for one
    /// (1, 14, 15, 17).
    Issue,
    /// AssumeRoleWithWebIdentity: a workload's own session (20).
    WebIdentity,
    /// RunTask: which network interfaces belong to which task (18).
    TaskLaunch,
    /// StopTask: the task's session ends (18).
    TaskStop,
    /// CreateFunction / UpdateFunctionConfiguration: whether a Lambda function is in a VPC (21).
    FunctionConfig,
    /// An address attached to an instance or to a network interface of one (6). `maps_interface`:
    /// the record also says which instance the interface belongs to; `may_name_address`: it may
    /// say which address (`publicIp`, or an `allocationId`).
    AddressChange {
        maps_interface: bool,
        may_name_address: bool,
    },
    /// StopInstances, StartInstances: the instance comes back with a new address (7).
    Restart,
    /// AllocateAddress: which Elastic IP an allocation id stands for (6).
    Allocation,
    /// RunInstances: which network interfaces and addresses belong to which instance (6, 14).
    Launch,
    /// CreateNetworkInterface: the addresses of a new interface (14).
    InterfaceCreated,
    /// CreateNatGateway, AssociateNatGatewayAddress, DisassociateNatGatewayAddress: a NAT
    /// gateway's public addresses (15).
    NatGateway,
    /// DisassociateAddress: the instance gets a new, automatically assigned address (16).
    Disassociation,
}

/// What `eventSource` and `eventName` make of a record. A failed call (`errorCode`) changes
/// nothing, whoever made it.
pub fn event(source: &str, name: &str, failed: bool) -> Option<Event> {
    if failed {
        return None;
    }
    let change = |maps_interface, may_name_address| {
        Some(Event::AddressChange {
            maps_interface,
            may_name_address,
        })
    };
    match (source, name) {
        ("sts.amazonaws.com", "AssumeRole") => Some(Event::Issue),
        ("sts.amazonaws.com", "AssumeRoleWithWebIdentity") => Some(Event::WebIdentity),
        ("ecs.amazonaws.com", "RunTask") => Some(Event::TaskLaunch),
        ("ecs.amazonaws.com", "StopTask") => Some(Event::TaskStop),
        // Lambda's event names carry the API version (`CreateFunction20150331`,
        // `UpdateFunctionConfiguration20150331v2`).
        ("lambda.amazonaws.com", n)
            if n.starts_with("CreateFunction") || n.starts_with("UpdateFunctionConfiguration") =>
        {
            Some(Event::FunctionConfig)
        }
        (EC2, "AssociateAddress") => change(false, true),
        (EC2, "AttachNetworkInterface") => change(true, false),
        (EC2, "AssignPrivateIpAddresses" | "AssignIpv6Addresses") => change(false, false),
        (EC2, "StopInstances" | "StartInstances" | "BidEvictedEvent") => Some(Event::Restart),
        (EC2, "AllocateAddress") => Some(Event::Allocation),
        (EC2, "RunInstances") => Some(Event::Launch),
        (EC2, "CreateNetworkInterface") => Some(Event::InterfaceCreated),
        (EC2, "CreateNatGateway" | "AssociateNatGatewayAddress" | "DisassociateNatGatewayAddress") => {
            Some(Event::NatGateway)
        }
        (EC2, "DisassociateAddress") => Some(Event::Disassociation),
        _ => None,
    }
}

/// The workload kind an AssumeRole issues credentials for, when an AWS service made it for one:
/// its `sourceIPAddress` or `userIdentity.invokedBy` (1, 14, 15, 17).
pub fn issuing_service(source_ip: Option<&str>, invoked_by: Option<&str>) -> Option<Kind> {
    invoked_by
        .and_then(crate::parse::issuer::service_kind)
        .or_else(|| source_ip.and_then(crate::parse::issuer::service_kind))
}

/// The session a call may be judged for: any assumed role (3). Whether it is, its row decides.
/// Failed calls are judged too.
pub fn judged_session(identity_type: Option<&str>, arn: Option<&str>) -> Option<SessionKey> {
    if identity_type != Some("AssumedRole") {
        return None;
    }
    arn.and_then(SessionKey::from_session_arn)
}

/// A call that returns a session of its own, chained to the caller's (22). AssumeRoleWithWebIdentity
/// and GetFederationToken are not here: CloudTrail records the first with no caller session (its
/// `userIdentity` is the web identity), and STS refuses the second to assumed-role sessions.
pub fn chains(source: &str, name: &str, failed: bool) -> bool {
    !failed && source == "sts.amazonaws.com" && name == "AssumeRole"
}

/// Whether `--infer-sessions` may create a row for this session: an instance's (11).
pub fn inferable(session: &SessionKey) -> bool {
    is_instance_id(&session.instance)
}
