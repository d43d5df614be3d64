//! What a call's address is to the instance beyond the lock: an address the trail ties to it
//! (rule 14), another address of the NAT gateway it calls through (15), its address of the other
//! family inside AWS's EC2 ranges of its region (14), or an address outside AWS and outside the
//! declared networks (17). The rules that use it are in [`super`]; the addresses tied to each
//! instance are kept here, beside the rows of its partition and not in them, so a row stays small.

use super::rows::{Lock, Slot};
use crate::output::ip_ranges::AwsRanges;
use crate::parse::addresses::{MAX_NETS, Net};
use crate::parse::source_address::is_private;
use compact_str::CompactString;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

/// Instances whose addresses a partition remembers; past it the oldest are forgotten (their
/// calls are then judged by the plain method).
const MAX_INSTANCES: usize = 4096;

/// The addresses the trail tied to each instance of one partition, oldest instance first.
#[derive(Default)]
pub(super) struct Ties {
    map: HashMap<CompactString, Vec<Net>, ahash::RandomState>,
    order: VecDeque<CompactString>,
}

impl Ties {
    pub(super) fn add(&mut self, instance: CompactString, nets: Vec<Net>) {
        match self.map.get_mut(&instance) {
            Some(all) => {
                for n in nets {
                    if !all.contains(&n) && all.len() < MAX_NETS {
                        all.push(n);
                    }
                }
            }
            None => {
                self.order.push_back(instance.clone());
                self.map.insert(instance, nets);
                if self.order.len() > MAX_INSTANCES
                    && let Some(old) = self.order.pop_front()
                {
                    self.map.remove(&old);
                }
            }
        }
    }

    pub(super) fn export(&self) -> impl Iterator<Item = (CompactString, Vec<Net>)> + '_ {
        self.order
            .iter()
            .filter_map(|i| Some((i.clone(), self.map.get(i)?.clone())))
    }

    pub(super) fn of(&self, instance: &str) -> &[Net] {
        if self.map.is_empty() {
            return &[];
        }
        self.map.get(instance).map_or(&[], |v| v)
    }
}

/// What the rules may know about the instance's addresses when a call's address is not locked.
pub(super) struct Evidence<'a> {
    /// The partition's ties and the call's instance: looked up only when a call's address is not
    /// locked (nearly every call's is), so the common call pays nothing for them.
    pub(super) ties: Option<&'a Ties>,
    pub(super) instance: &'a str,
    /// Rule 17's first call from outside AWS applies (to instances only).
    outside_aws: bool,
    tied: std::cell::OnceCell<&'a [Net]>,
    /// The NAT gateway's addresses, when the call's address is one of several of a gateway.
    pub(super) egress: Option<&'a [IpAddr]>,
    /// `--aws-ip-ranges`.
    pub(super) ranges: Option<&'a AwsRanges>,
    /// `--trusted-networks`.
    pub(super) trusted: &'a [Net],
    /// The instance's region (its AssumeRole's), when known.
    pub(super) region: Option<&'a str>,
}

/// Why an address that is not locked is the instance's anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Accepted {
    /// The trail ties it to the instance.
    Tied,
    /// Another public address of the NAT gateway of a locked address.
    SameGateway,
    /// The other address family, inside AWS's EC2 ranges of the region of the locked address.
    OtherFamily,
}

impl<'a> Evidence<'a> {
    pub(super) fn new(
        ties: &'a Ties,
        instance: &'a str,
        egress: Option<&'a [IpAddr]>,
        ranges: Option<&'a AwsRanges>,
        trusted: &'a [Net],
        region: Option<&'a str>,
    ) -> Self {
        Evidence {
            ties: Some(ties),
            instance,
            outside_aws: true,
            tied: std::cell::OnceCell::new(),
            egress,
            ranges,
            trusted,
            region,
        }
    }

    /// The rules that judge a session of `kind`: all of them for an instance; for an ECS task,
    /// whose interfaces the trail names as an instance's, all but the first call from outside AWS
    /// (ECS Anywhere runs tasks on a customer's own machines); for the other kinds, which may run
    /// outside AWS and whose addresses the trail does not name, only the NAT gateway's (15).
    pub(super) fn for_kind(mut self, kind: super::workload::Kind) -> Self {
        use super::workload::Kind;
        match kind {
            Kind::Instance => {}
            Kind::Task => self.outside_aws = false,
            Kind::Pod | Kind::WebIdentity | Kind::Function | Kind::Chained => {
                self.outside_aws = false;
                self.ties = None;
                self.ranges = None;
            }
        }
        self
    }

    /// The addresses the trail tied to the instance.
    fn nets(&self) -> &'a [Net] {
        self.tied
            .get_or_init(|| self.ties.map_or(&[], |t| t.of(self.instance)))
    }

    pub(super) fn tied(&self, ip: IpAddr) -> bool {
        self.nets().iter().any(|n| n.contains(ip))
    }

    /// The trail tied private addresses to the instance: its private slot takes only those.
    pub(super) fn ties_private(&self) -> bool {
        self.nets().iter().any(|n| is_private(&n.ip))
    }

    pub(super) fn trusted_network(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|n| n.contains(ip))
    }

    /// With `--aws-ip-ranges`: a public address outside every AWS range and every declared
    /// network, which an EC2 instance does not call from.
    pub(super) fn outside(&self, ip: IpAddr) -> bool {
        self.outside_aws
            && self.ranges.is_some_and(|r| r.lookup(ip).is_none())
            && !is_private(&ip)
            && !self.trusted_network(ip)
            && !self.tied(ip)
    }

    /// The lock that a tied `ip` shows to be the thief's (rule 17): the slot's first lock of the
    /// same family, when it is neither tied, nor declared, nor of the call's NAT gateway.
    pub(super) fn thief_lock(&self, ip: IpAddr, slot: Slot, locks: &[Lock]) -> Option<usize> {
        locks.iter().position(|l| {
            l.slot == slot
                && l.origin == super::LockOrigin::FirstUse
                && l.ip.is_ipv6() == ip.is_ipv6()
                && !self.tied(l.ip)
                && !self.trusted_network(l.ip)
                && self.egress.is_none_or(|g| !g.contains(&l.ip))
        })
    }

    /// The lock that `ip` shows to be the thief's by region (rule 17): with the ranges, `ip` is
    /// inside AWS in the instance's own region, and the slot's first lock of the same family is
    /// inside AWS in another region, neither tied, nor declared, nor of the call's NAT gateway.
    pub(super) fn foreign_region_lock(&self, ip: IpAddr, slot: Slot, locks: &[Lock]) -> Option<usize> {
        let (ranges, home) = (self.ranges?, self.region?);
        if slot != Slot::Public || ranges.lookup(ip)?.region != home {
            return None;
        }
        locks.iter().position(|l| {
            l.slot == slot
                && l.origin == super::LockOrigin::FirstUse
                && l.ip.is_ipv6() == ip.is_ipv6()
                && ranges.lookup(l.ip).is_some_and(|o| o.region != home)
                && !self.tied(l.ip)
                && !self.trusted_network(l.ip)
                && self.egress.is_none_or(|g| !g.contains(&l.ip))
        })
    }

    /// Whether `ip`, in `slot` whose locks are `locks` (none of them `ip`), is the instance's.
    pub(super) fn accepts(&self, ip: IpAddr, slot: Slot, locks: &[Lock]) -> Option<Accepted> {
        if self.tied(ip) {
            return Some(Accepted::Tied);
        }
        let in_slot = || locks.iter().filter(|l| l.slot == slot);
        if let Some(g) = self.egress
            && in_slot().any(|l| g.contains(&l.ip))
        {
            return Some(Accepted::SameGateway);
        }
        if slot == Slot::Public
            && let Some(r) = self.ranges
            && !in_slot().any(|l| l.ip.is_ipv6() == ip.is_ipv6())
            && let Some(here) = r.lookup(ip).filter(|o| o.service == "EC2")
            && in_slot().any(|l| {
                r.lookup(l.ip)
                    .is_some_and(|o| o.service == "EC2" && o.region == here.region)
            })
        {
            return Some(Accepted::OtherFamily);
        }
        None
    }
}
