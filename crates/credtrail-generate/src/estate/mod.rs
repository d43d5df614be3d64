//! Estate mode: the topologies a real AWS estate has, in configurable shares, over whole days, with
//! credential thefts (some with the thief calling first), every record labelled.
//!
//! Where [`crate::generate`] fills a number of record slots with a realistic mix, an estate is
//! simulated per instance over `days`: each instance lives in one [`Topology`] and calls from the
//! addresses that topology gives it (its public IPv4 and IPv6 address, any address of its NAT
//! gateway, its pods' addresses through a VPC endpoint, a central networking account's endpoint),
//! with the control-plane records a trail shows for it (RunInstances with the interface's
//! addresses, the VPC CNI's AssignPrivateIpAddresses, CreateNatGateway and
//! AssociateNatGatewayAddress, BidEvictedEvent, StopInstances/StartInstances, AssociateAddress and
//! DisassociateAddress, Auto Scaling's RunInstances and TerminateInstances). Nothing an instance
//! does is a theft: a detector's alert on an instance's own record is a false alert, and
//! [`EstateTruth::labels`] says whose every record is.
//!
//! Records are written in event-time order (no delivery jitter: what is measured is the rules, not
//! the reorder tolerance). The world's AWS addresses come from per-region blocks that
//! [`EstateTruth::ip_ranges`] lists in the form of AWS's `ip-ranges.json`, so a detector can be
//! given the estate's own ranges.
//!
//! The estate is planned in memory as small events (about 40 bytes each) and rendered in order, so
//! a week of a thousand instances stays well under a gigabyte.

mod plan;
mod render;
#[cfg(test)]
mod tests;

use std::io::{self, BufWriter, Write};

/// Where an instance lives, which decides the addresses it calls from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topology {
    /// A public IPv4 address and nothing else: the blog's instance.
    Plain,
    /// Public IPv4 for IPv4-only endpoints, its IPv6 address for dual-stack ones. Half of them
    /// are launched in the trail (RunInstances names the IPv6 address), half before it.
    DualStack,
    /// A private subnet behind its account's NAT gateway, which holds one to four Elastic IPs
    /// (one more associated during the trail for some): any call from any of them.
    NatGateway,
    /// A Spot instance interrupted (BidEvictedEvent) and started again with a new address.
    Spot,
    /// An EKS-like node launched in the trail: the VPC CNI assigns secondary addresses to its
    /// interface, and its pods call through the account's VPC endpoints from them (with the
    /// node's role), other calls through the NAT gateway.
    Eks,
    /// Auto Scaling churn: short-lived instances launched and terminated by the group.
    AutoScaling,
    /// Stopped and started by an operator (a new public address), or given an Elastic IP that is
    /// later disassociated (a new automatic address).
    StopStart,
    /// Calls through interface endpoints owned by the organisation's central networking account
    /// (`vpcEndpointAccountId` is that account, whose own records are in the trail).
    CentralEndpoint,
}

impl Topology {
    pub const ALL: [Topology; 8] = [
        Topology::Plain,
        Topology::DualStack,
        Topology::NatGateway,
        Topology::Spot,
        Topology::Eks,
        Topology::AutoScaling,
        Topology::StopStart,
        Topology::CentralEndpoint,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Topology::Plain => "plain",
            Topology::DualStack => "dual-stack",
            Topology::NatGateway => "nat-gateway",
            Topology::Spot => "spot",
            Topology::Eks => "eks",
            Topology::AutoScaling => "auto-scaling",
            Topology::StopStart => "stop-start",
            Topology::CentralEndpoint => "central-endpoint",
        }
    }

    pub fn from_name(s: &str) -> Option<Topology> {
        Topology::ALL.into_iter().find(|t| t.name() == s)
    }
}

/// Relative weights of the topologies, in [`Topology::ALL`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shares(pub [u32; 8]);

impl Default for Shares {
    /// Every topology present, the plain instance and the NAT gateway most common.
    fn default() -> Self {
        Shares([20, 15, 20, 10, 10, 10, 5, 10])
    }
}

impl Shares {
    /// `dual-stack=30,eks=10`: the named topologies get these weights, the others none. `default`
    /// is [`Shares::default`].
    pub fn parse(s: &str) -> Result<Shares, EstateError> {
        if s.trim() == "default" {
            return Ok(Shares::default());
        }
        let mut w = [0u32; 8];
        for part in s.split(',') {
            let part = part.trim();
            let (name, n) = part
                .split_once('=')
                .ok_or_else(|| EstateError::Share(part.to_owned()))?;
            let t = Topology::from_name(name.trim()).ok_or_else(|| EstateError::Share(part.to_owned()))?;
            let n: u32 = n
                .trim()
                .parse()
                .map_err(|_| EstateError::Share(part.to_owned()))?;
            w[t as usize] = n;
        }
        if w.iter().all(|&x| x == 0) {
            return Err(EstateError::NoShare);
        }
        Ok(Shares(w))
    }

    pub(crate) fn total(&self) -> u64 {
        self.0.iter().map(|&x| u64::from(x)).sum()
    }
}

/// What estate to simulate. The same value gives the same bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct EstateConfig {
    pub seed: u64,
    /// Instances (Auto Scaling: groups, each replacing its instances as it goes).
    pub instances: usize,
    /// Member accounts; the organisation's central networking account comes on top.
    pub accounts: usize,
    pub days: u32,
    /// Unix seconds of the first record.
    pub start: i64,
    pub shares: Shares,
    /// Credential thefts, each from one instance's session.
    pub thefts: usize,
    /// Of the thefts, per mille in which the thief calls before the instance does (the instance is
    /// launched in the trail and the thief uses its first credentials).
    pub thief_first_per_mille: u32,
    /// Calls per instance and hour, on average.
    pub calls_per_hour: u32,
}

impl Default for EstateConfig {
    fn default() -> Self {
        EstateConfig {
            seed: 1,
            instances: 200,
            accounts: 4,
            days: 1,
            start: 1_709_251_200, // 2024-03-01T00:00:00Z
            shares: Shares::default(),
            thefts: 10,
            thief_first_per_mille: 500,
            calls_per_hour: 12,
        }
    }
}

/// The most instance-days [`EstateConfig::validate`] accepts (the plan is held in memory).
pub const MAX_INSTANCE_DAYS: u64 = 20_000;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EstateError {
    #[error(
        "'{0}': expected TOPOLOGY=WEIGHT, TOPOLOGY one of plain, dual-stack, nat-gateway, spot, eks, auto-scaling, stop-start, central-endpoint"
    )]
    Share(String),
    #[error("every topology has weight 0")]
    NoShare,
    #[error("instances must be at least 1 and accounts between 1 and {max}", max = crate::MAX_ACCOUNTS)]
    Counts,
    #[error("days must be between 1 and 366, and instances times days at most {MAX_INSTANCE_DAYS}")]
    Size,
    #[error("calls per hour must be between 1 and 3600")]
    Rate,
    #[error("the estate must lie between 1970 and 9999")]
    Start,
}

impl EstateConfig {
    pub fn validate(&self) -> Result<(), EstateError> {
        if self.instances == 0 || self.accounts == 0 || self.accounts > crate::MAX_ACCOUNTS {
            return Err(EstateError::Counts);
        }
        let days = u64::from(self.days);
        if !(1..=366).contains(&days) || (self.instances as u64).saturating_mul(days) > MAX_INSTANCE_DAYS {
            return Err(EstateError::Size);
        }
        if !(1..=3600).contains(&self.calls_per_hour) {
            return Err(EstateError::Rate);
        }
        if self.shares.total() == 0 {
            return Err(EstateError::NoShare);
        }
        // Ten thousand years minus the estate and a day of credential expirations.
        if !(0..=253_402_300_799 - 86_400 * (i64::from(self.days) + 1)).contains(&self.start) {
            return Err(EstateError::Start);
        }
        Ok(())
    }
}

/// Whose a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whose {
    /// A call by an instance's own session, from one of its own addresses (or AWS on its behalf):
    /// an alert on it is a false alert.
    Instance,
    /// A call by a thief with an instance's stolen credentials.
    Thief,
    /// A control-plane record (issuing credentials, launches, address changes) or a call by
    /// another principal.
    Other,
}

/// One record's label, in output order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub event_id: String,
    pub whose: Whose,
    /// The instance the record concerns, by index into [`EstateTruth::instances`].
    pub instance: Option<u32>,
    /// For a thief's record: the theft, by index into [`EstateTruth::thefts`].
    pub theft: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EstateInstance {
    pub id: String,
    pub topology: Topology,
    /// Seconds of the estate it was running.
    pub seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theft {
    pub instance: u32,
    pub session_arn: String,
    pub thief_first: bool,
    /// The thief's addresses are inside AWS (the thief's own EC2 instance in another region).
    pub thief_in_aws: bool,
    pub thief_ips: Vec<String>,
    /// It made at least one call (a stream cut short may leave one without).
    pub calls: bool,
}

/// What the estate was, record by record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EstateTruth {
    pub labels: Vec<Label>,
    pub instances: Vec<EstateInstance>,
    /// Every planned theft, indexed by [`Label::theft`].
    pub thefts: Vec<Theft>,
    /// The estate's AWS address blocks, as AWS's `ip-ranges.json` lists them.
    pub ip_ranges: String,
}

impl Whose {
    pub fn name(self) -> &'static str {
        match self {
            Whose::Instance => "instance",
            Whose::Thief => "thief",
            Whose::Other => "other",
        }
    }
}

impl EstateTruth {
    /// One line per record, in output order:
    /// `{"eventID":…,"whose":"instance"|"thief"|"other","instance":…,"topology":…,"theft":N}`
    /// (the last three when they apply). Every value is ASCII the generator made: no escaping.
    pub fn write_labels(&self, out: &mut impl Write) -> io::Result<()> {
        let mut w = BufWriter::new(out);
        for l in &self.labels {
            write!(
                w,
                "{{\"eventID\":\"{}\",\"whose\":\"{}\"",
                l.event_id,
                l.whose.name()
            )?;
            if let Some(i) = l.instance.and_then(|i| self.instances.get(i as usize)) {
                write!(
                    w,
                    ",\"instance\":\"{}\",\"topology\":\"{}\"",
                    i.id,
                    i.topology.name()
                )?;
            }
            if let Some(t) = l.theft {
                write!(w, ",\"theft\":{t}")?;
            }
            w.write_all(b"}\n")?;
        }
        w.flush()
    }

    /// Instance-days the estate ran (the denominator of false alerts per 1 000 instance-days).
    pub fn instance_days(&self) -> f64 {
        self.instances.iter().map(|i| i.seconds as f64).sum::<f64>() / 86_400.0
    }
}

/// Writes the estate as NDJSON to `out` and returns its labels.
pub fn generate_estate(cfg: &EstateConfig, out: &mut impl Write) -> io::Result<EstateTruth> {
    let mut w = BufWriter::with_capacity(1 << 20, out);
    let mut estate = plan::Estate::new(cfg);
    let truth = estate.render(&mut w)?;
    w.flush()?;
    Ok(truth)
}

/// [`generate_estate`] into memory.
pub fn generate_estate_to_vec(cfg: &EstateConfig) -> (Vec<u8>, EstateTruth) {
    let mut v = Vec::new();
    match generate_estate(cfg, &mut v) {
        Ok(t) => (v, t),
        // Writing to a Vec cannot fail.
        Err(e) => unreachable!("writing to a Vec failed: {e}"),
    }
}
