//! Which records the method reads, and as what: the README's "How it decides", items 1, 3, 6
//! and 7. The parser asks here, then reads the fields the answer needs.

use crate::parse::session_key::{SessionKey, is_instance_id};

/// The service whose AssumeRole issues instance credentials, and whose records change addresses.
pub const EC2: &str = "ec2.amazonaws.com";

/// What a record is to the method besides a call to judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// AssumeRole: issues or refreshes an instance's session when the EC2 service made it (1).
    Issue,
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

/// An AssumeRole issues instance credentials when the EC2 service made it: its
/// `sourceIPAddress` or `userIdentity.invokedBy` (1).
pub fn issued_by_ec2(source_ip: Option<&str>, invoked_by: Option<&str>) -> bool {
    source_ip == Some(EC2) || invoked_by == Some(EC2)
}

/// The session a call is judged for: an assumed role whose session is named after an instance
/// (3). Failed calls are judged too.
pub fn judged_session(identity_type: Option<&str>, arn: Option<&str>) -> Option<SessionKey> {
    if identity_type != Some("AssumedRole") {
        return None;
    }
    arn.and_then(SessionKey::from_session_arn)
        .filter(|s| is_instance_id(&s.instance))
}

/// The session an AssumeRole issues: one named after an instance.
pub fn issued_session(role_arn: &str, session_name: &str) -> Option<SessionKey> {
    SessionKey::from_role_arn(role_arn, session_name).filter(|s| is_instance_id(&s.instance))
}
