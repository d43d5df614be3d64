//! A seeded generator of realistic CloudTrail traffic, for tests and benchmarks.
//!
//! The output is NDJSON (one record per line, `\n` terminated) in the shape AWS CloudTrail writes
//! (see the real records in `tests/data/cloudtrail/`): EC2 instance-profile sessions calling from their own
//! addresses (public IPv4, IPv6, or private addresses through VPC endpoints), AWS services calling
//! on a session's behalf, IAM users, SSO and Lambda/ECS role sessions, console sign-ins, the EC2
//! AssumeRole that issues and refreshes each instance's credentials, address changes
//! (AllocateAddress/AssociateAddress, AttachNetworkInterface, StopInstances/StartInstances,
//! RunInstances) and `attacks` injected credential-theft incidents, reported in [`Truth`].
//!
//! Determinism: everything is drawn from one `ChaCha8Rng` seeded with [`GenConfig::seed`], only
//! integer arithmetic and IEEE basic operations are used (no `ln`/`exp`, no `usize` sampling, no
//! hash-map iteration), so the same config gives the same bytes on every platform.
//!
//! Ordering: records are built in event-time order, then each gets a delivery delay in
//! `[0, jitter_secs]` and leaves in order of event time + delay (ties in build order). So a record
//! is never delivered after one whose event time is more than `jitter_secs` later. Records the
//! detector's causal chain depends on get no delay ("anchors"): the EC2 AssumeRole, every
//! address-change and RunInstances record, an instance's first call with newly issued credentials,
//! and a thief's first call. An anchor is therefore delivered before every record built after it.
//! An instance's own calls made before one of its address changes (AssociateAddress,
//! AttachNetworkInterface, StopInstances) are held to be delivered before that change.
//!
//! What a first-use detector (Netflix's rules) can rely on, checked by the tests with a reference
//! implementation of those rules:
//! - Every key an `…/assumed-role/ROLE/i-…` session uses was issued by an EC2 AssumeRole
//!   (`sourceIPAddress` `ec2.amazonaws.com`) delivered earlier; refreshes come every 1 h to 5.5 h
//!   of event time, so a 6 h row never lapses while the instance runs.
//! - AssociateAddress names the address (`publicIp`) or an `allocationId` whose AllocateAddress was
//!   delivered earlier; with `networkInterfaceId` instead of `instanceId` the interface was named
//!   by an earlier RunInstances. The instance calls from the new address right after it.
//! - AttachNetworkInterface: either no new address, or exactly one, first used 5 s to 10 min after
//!   the change's eventTime (a record with an anchor delivery).
//! - StopInstances … StartInstances: stopped longer than `jitter_secs`; after the start the
//!   instance calls from a new public address (70 %: after a new AssumeRole; else with its old key).
//! - Instances of incidents never get address changes; thieves call only from addresses no
//!   instance ever had (disjoint first octets), within an hour of the stolen key's AssumeRole.
//! - VPC endpoint calls (`vpcEndpointId` set) come from the instance's private address: all calls
//!   of ~10 % of instances, S3 calls of another ~10 % that otherwise call from a public IPv4.
//!   About 10 % of instances call over IPv6. An instance's first call with new credentials is
//!   never a VPC endpoint call unless all its calls are.
//! - Calls AWS makes for a session (`sourceIPAddress` `s3.amazonaws.com`, `AWS Internal`, …,
//!   with `userIdentity.invokedBy`) can come at any time, jittered.
//!
//! Memory: only records whose delivery time has not been reached are held (about
//! `jitter_secs * events_per_sec` records), so any `records` count streams in bounded memory.

#![forbid(unsafe_code)]

mod addresses;
mod attack;
mod calls;
mod config;
mod delivery;
mod estate;
mod generator;
mod principals;
mod record;
mod schedule;
mod services;
pub mod shapes;
#[cfg(test)]
mod tests;
mod text;
mod traffic;
mod workloads;
mod world;

pub use config::{GenConfig, GenError, MAX_ACCOUNTS, MAX_INSTANCES};
pub use estate::{
    EstateConfig, EstateError, EstateInstance, EstateTruth, Label, MAX_INSTANCE_DAYS, Shares, Theft,
    Topology, Whose, generate_estate, generate_estate_to_vec,
};
use generator::Gen;
use std::io::{self, BufWriter, Write};
pub use workloads::Workloads;

/// What was injected, for tests. Lists are in the order the records were built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Truth {
    /// Session ARNs (`arn:aws:sts::ACCT:assumed-role/ROLE/i-…`) used by a thief.
    pub attacked_sessions: Vec<String>,
    /// `eventID` of every record made by a thief.
    pub thief_event_ids: Vec<String>,
    /// Source addresses thieves used (never an address any instance ever had).
    pub thief_ips: Vec<String>,
    /// One entry per incident that made at least one call (a stream too short may cut some).
    pub incidents: Vec<Incident>,
    /// `eventID` of every call a workload of [`GenConfig::workloads`] made itself.
    pub workload_event_ids: Vec<String>,
}

/// One injected incident.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Incident {
    pub session_arn: String,
    pub instance_id: String,
    pub account_id: String,
    /// The stolen credentials' access key id (issued by the AssumeRole the thief stole from).
    pub access_key_id: String,
    /// The thief's first call precedes the instance's first call with those credentials (in event
    /// time and in output order): a first-use detector locks the thief's address, and the
    /// instance's own calls are the ones that look foreign.
    pub attacker_first: bool,
    pub thief_ips: Vec<String>,
    pub thief_event_ids: Vec<String>,
}

/// Writes `cfg.records` records of NDJSON to `out` and returns what was injected.
pub fn generate(cfg: &GenConfig, out: &mut impl Write) -> io::Result<Truth> {
    let mut w = BufWriter::with_capacity(1 << 20, out);
    let mut g = Gen::new(cfg);
    g.run(&mut w)?;
    w.flush()?;
    Ok(g.truth)
}

/// [`generate`] into memory.
pub fn generate_to_vec(cfg: &GenConfig) -> (Vec<u8>, Truth) {
    let mut v = Vec::with_capacity(cfg.records.saturating_mul(1700).min(1 << 30));
    let truth = match generate(cfg, &mut v) {
        Ok(t) => t,
        // Writing to a Vec cannot fail.
        Err(e) => unreachable!("writing to a Vec failed: {e}"),
    };
    (v, truth)
}
