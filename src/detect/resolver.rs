//! The input-ordered part of the state: which allocation id is which address, which interface
//! belongs to which instance, and the event-time watermark. It turns each [`Fact`] into
//! [`Routed`] steps about one instance, which a shard of the table applies.

use super::egress::Egress;
use super::{LATE_GRACE, MAX_MAP_ENTRIES};
use crate::order::Watermark;
use crate::parse::addresses::Net;
use crate::parse::event_time::Millis;
use crate::parse::issuer::Issued;
use crate::parse::record::{CallContext, ChangeAddress, ChangeTarget, Fact};
use crate::parse::session_key::SessionKey;
use crate::parse::source_address::Source;
use compact_str::CompactString;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;

/// A step about one instance, with the event-time watermark of the input up to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Routed {
    pub step: Step,
    pub watermark: Millis,
    /// The shard key when it is not the step's own session name: a chained session's steps go
    /// where the workload at the root of its chain lives, whose row they need.
    pub route: Option<CompactString>,
}

/// Calls, issues and restarts pass from [`Fact`] unchanged; an address change arrives here resolved
/// (its instance and address known), so a shard never meets an interface or allocation id it could
/// not look up. That difference is why this is a type of its own rather than a `Fact`.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Call {
        session: SessionKey,
        time: Millis,
        source: Source,
        source_text: CompactString,
        via_endpoint: bool,
        context: CallContext,
        /// The other public addresses of the NAT gateway the call's address belongs to (15).
        egress: Option<Arc<[IpAddr]>>,
    },
    Issue {
        session: SessionKey,
        time: Millis,
        issued: Issued,
    },
    Chain {
        parent: SessionKey,
        child: SessionKey,
        time: Millis,
        expires: Option<Millis>,
    },
    End {
        task: CompactString,
        account: Option<CompactString>,
        time: Millis,
    },
    FunctionVpc {
        function: CompactString,
        account: CompactString,
        attached: bool,
    },
    Change {
        instance: CompactString,
        account: Option<CompactString>,
        time: Millis,
        address: Option<IpAddr>,
    },
    Restart {
        instance: CompactString,
        account: Option<CompactString>,
        time: Millis,
    },
    /// These addresses are the instance's, as the trail says (14).
    Tie { instance: CompactString, nets: Vec<Net> },
}

impl Routed {
    /// The shard key: everything one instance's verdicts depend on carries its id.
    pub fn instance(&self) -> &str {
        if let Some(r) = &self.route {
            return r;
        }
        match &self.step {
            Step::Call { session, .. } | Step::Issue { session, .. } => &session.instance,
            Step::Chain { parent, .. } => &parent.instance,
            Step::Change { instance, .. } | Step::Restart { instance, .. } | Step::Tie { instance, .. } => {
                instance
            }
            Step::End { task, .. } => task,
            Step::FunctionVpc { function, .. } => function,
        }
    }
}

/// The input-ordered part of the state.
#[derive(Default)]
pub struct Resolver {
    allocations: BoundedMap<IpAddr>,
    interfaces: BoundedMap<CompactString>,
    /// Chained sessions → the shard key of their chain's root, until they expire.
    chains: ChainRoutes,
    watermark: Watermark,
    /// The wall clock, for [`far_future`](crate::order::far_future) records; `None`: not known
    /// (then no record is far-future).
    now: Option<Millis>,
    /// `--keyed`: apply the map entries `credtrail key` forwarded ([`Fact::Forwarded`]).
    pub trust_forwarded: bool,
    /// [`super::DetectorConfig::plain_method`]: the trail's ties, NAT gateways, disassociations
    /// and organisation accounts are not learnt.
    pub plain_method: bool,
    /// Addresses the trail gave network interfaces, for the instance they are (or get) attached
    /// to (14).
    interface_nets: BoundedMap<Vec<Net>>,
    /// AssociateAddress's association ids and Elastic IPs, for DisassociateAddress (16).
    associations: BoundedMap<ChangeTarget>,
    eips: BoundedMap<ChangeTarget>,
    /// NAT gateways' public addresses (15).
    egress: Egress,
    /// Accounts the trail names as `recipientAccountId`: the organisation's (9).
    accounts: HashSet<CompactString, ahash::RandomState>,
}

/// Accounts of the organisation remembered at most (an organisation has a few thousand).
const MAX_ACCOUNTS: usize = 1 << 16;

impl Resolver {
    pub fn watermark(&self) -> Option<Millis> {
        self.watermark.get()
    }

    /// The wall clock now, which bounds how far the watermark may move.
    pub fn set_now(&mut self, now: Millis) {
        self.now = Some(now);
    }

    /// The maps and watermark into a snapshot (rows are the shards' part).
    pub fn export(&self, into: &mut crate::detect::state::Snapshot) {
        into.watermark = self.watermark.get();
        into.allocations = self.allocations.export();
        into.interfaces = self.interfaces.export();
        let e = &mut into.estate;
        e.interface_nets = self.interface_nets.export();
        e.associations = self.associations.export();
        e.eips = self.eips.export();
        e.gateways = self.egress.export();
        e.accounts = self.accounts.iter().cloned().collect();
        e.accounts.sort();
        into.chains = self.chains.export();
        into.chain_seed = self.chains.seed;
    }

    /// The shard key a chained session's rows live under, when it is one.
    pub fn route_of(&self, session: &SessionKey) -> Option<&str> {
        self.chains.get(session)
    }

    pub fn import(s: &crate::detect::state::Snapshot) -> Resolver {
        let mut r = Resolver {
            watermark: Watermark(s.watermark),
            ..Resolver::default()
        };
        for (k, v) in &s.allocations {
            r.allocations.insert(k.clone(), *v);
        }
        for (k, v) in &s.interfaces {
            r.interfaces.insert(k.clone(), v.clone());
        }
        let e = &s.estate;
        for (k, v) in &e.interface_nets {
            r.interface_nets.insert(k.clone(), v.clone());
        }
        for (k, v) in &e.associations {
            r.associations.insert(k.clone(), v.clone());
        }
        for (k, v) in &e.eips {
            r.eips.insert(k.clone(), v.clone());
        }
        r.egress = Egress::import(&e.gateways);
        for a in &e.accounts {
            r.see_account(a);
        }
        if s.chain_seed != 0 {
            r.chains.seed = s.chain_seed;
        }
        for (k, to, until) in &s.chains {
            r.chains.map.insert(*k, (to.clone(), *until));
        }
        r
    }

    /// What an address change needs from the maps, as the map entries to forward with it to a
    /// consumer that may not have seen the records they came from (`credtrail key`).
    pub fn forwardable(&self, fact: &Fact) -> Vec<Fact> {
        let Fact::AddressChange { target, address, .. } = fact else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if let ChangeAddress::Allocation(id) = address
            && let Some(ip) = self.allocations.get(id)
        {
            out.push(Fact::Allocation {
                allocation_id: id.clone(),
                ip: *ip,
            });
        }
        if let ChangeTarget::Interface(n) = target
            && let Some(i) = self.interfaces.get(n)
        {
            out.push(Fact::InterfaceOwner {
                interface: n.clone(),
                instance: i.clone(),
            });
        }
        out
    }

    fn see_account(&mut self, a: &str) {
        if self.accounts.len() < MAX_ACCOUNTS && !self.accounts.contains(a) {
            self.accounts.insert(a.into());
        }
    }

    /// The instance a change target names, when it is known.
    fn instance_of(&self, target: ChangeTarget) -> Option<CompactString> {
        match target {
            ChangeTarget::Instance(i) => Some(i),
            ChangeTarget::Interface(n) => self.interfaces.get(&n).cloned(),
        }
    }

    fn address_of(&self, address: &ChangeAddress) -> Option<IpAddr> {
        match address {
            ChangeAddress::Named(ip) => Some(*ip),
            ChangeAddress::Allocation(id) => self.allocations.get(id).copied(),
            ChangeAddress::Unnamed => None,
        }
    }

    /// A fact of the copy of a record for `instance`'s partition: with `--keyed` only the steps
    /// for that instance (another partition judges the rest).
    fn route_scoped(&mut self, instance: &str, fact: Fact, mut out: impl FnMut(Routed)) {
        if self.trust_forwarded {
            let mut only = |r: Routed| {
                if r.instance() == instance {
                    out(r);
                }
            };
            // Through `dyn`: one instantiation however deep the recursion could go.
            self.route(fact, &mut only as &mut dyn FnMut(Routed));
        } else {
            self.route(fact, out);
        }
    }

    /// Turns one fact into the steps the shards apply; facts about the maps stop here.
    pub fn route(&mut self, fact: Fact, mut out: impl FnMut(Routed)) {
        // The ablation learns none of the estate's facts.
        let estate = matches!(
            fact,
            Fact::Tie { .. } | Fact::NatGateway { .. } | Fact::Disassociation { .. } | Fact::Account(_)
        );
        if self.plain_method && estate {
            return;
        }
        if let Fact::Forwarded(entry) = fact {
            if self.trust_forwarded && matches!(*entry, Fact::Allocation { .. } | Fact::InterfaceOwner { .. })
            {
                self.route(*entry, out);
            }
            return;
        }
        if let Fact::Scoped { instance, fact } = fact {
            self.route_scoped(&instance, *fact, out);
            return;
        }
        self.advance(&fact);
        let watermark = self.watermark.get().unwrap_or(Millis::MIN);
        if let Some((step, route)) = self.step(fact, watermark) {
            out(Routed {
                step,
                watermark,
                route,
            });
        }
    }

    /// The watermark after `fact`. One record may move it by at most LATE_GRACE: a single absurd
    /// eventTime (year 2099) must not expire every session, and LATE_GRACE is exactly what a live
    /// row survives. A real gap in the trail is caught up over a few records.
    fn advance(&mut self, fact: &Fact) {
        let time = match fact {
            Fact::Call { time, .. }
            | Fact::Issue { time, .. }
            | Fact::Chain { time, .. }
            | Fact::End { time, .. }
            | Fact::AddressChange { time, .. }
            | Fact::Restart { time, .. }
            | Fact::Disassociation { time, .. } => *time,
            Fact::Allocation { .. }
            | Fact::InterfaceOwner { .. }
            | Fact::FunctionVpc { .. }
            | Fact::Forwarded(_)
            | Fact::Scoped { .. }
            | Fact::Tie { .. }
            | Fact::NatGateway { .. }
            | Fact::Association { .. }
            | Fact::Account(_) => return,
        };
        self.watermark.advance(time, self.now.unwrap_or(Millis::MAX));
    }

    /// The step a fact becomes and its route, after what it tells the maps.
    fn step(&mut self, fact: Fact, watermark: Millis) -> Option<(Step, Option<CompactString>)> {
        let step = match fact {
            Fact::Call {
                session,
                time,
                source,
                source_text,
                via_endpoint,
                mut context,
            } => {
                // An endpoint of an account of the organisation is trusted like the session's own.
                if context
                    .endpoint_account
                    .as_ref()
                    .is_some_and(|a| self.accounts.contains(a))
                {
                    context.endpoint_account = None;
                }
                let egress = match source {
                    Source::Ip(ip) => self.egress.of(ip),
                    _ => None,
                };
                let route = self.chains.route(&session, watermark);
                let step = Step::Call {
                    session,
                    time,
                    source,
                    source_text,
                    via_endpoint,
                    context,
                    egress,
                };
                return Some((step, route));
            }
            Fact::Issue {
                session,
                time,
                issued,
            } => {
                // A workload's own session from now on, wherever it was chained before.
                self.chains.forget(&session);
                Step::Issue {
                    session,
                    time,
                    issued,
                }
            }
            Fact::Chain {
                parent,
                child,
                time,
                expires,
            } => return Some(self.chain(parent, child, time, expires, watermark)),
            Fact::End { task, account, time } => Step::End { task, account, time },
            Fact::FunctionVpc {
                function,
                account,
                attached,
            } => Step::FunctionVpc {
                function,
                account,
                attached,
            },
            Fact::Restart {
                instance,
                account,
                time,
            } => Step::Restart {
                instance,
                account,
                time,
            },
            Fact::Allocation { allocation_id, ip } => {
                self.allocations.insert(allocation_id, ip);
                return None;
            }
            Fact::Forwarded(_) | Fact::Scoped { .. } => return None,
            Fact::AddressChange {
                target,
                account,
                time,
                address,
            } => {
                let instance = self.instance_of(target)?;
                let address = self.address_of(&address);
                Step::Change {
                    instance,
                    account,
                    time,
                    address,
                }
            }
            other => self.estate(other)?,
        };
        Some((step, None))
    }

    /// (22) A chained session's route: where its parent's rows live, until it expires.
    fn chain(
        &mut self,
        parent: SessionKey,
        child: SessionKey,
        time: Millis,
        expires: Option<Millis>,
        watermark: Millis,
    ) -> (Step, Option<CompactString>) {
        let route = self.chains.route(&parent, watermark);
        let to = route.clone().unwrap_or_else(|| parent.instance.clone());
        let until = expires.unwrap_or(time.saturating_add(super::workload::CHAIN_DEFAULT_LIFE));
        self.chains.insert(&child, to, until, watermark);
        let step = Step::Chain {
            parent,
            child,
            time,
            expires,
        };
        (step, route)
    }

    /// The facts of real estates (rules 9, 14 to 16): most only feed the maps; a tie or a
    /// disassociation resolved to its instance is a step.
    fn estate(&mut self, fact: Fact) -> Option<Step> {
        Some(match fact {
            Fact::InterfaceOwner { interface, instance } => {
                let nets = self.interface_nets.get(&interface).cloned();
                self.interfaces.insert(interface, instance.clone());
                match nets {
                    Some(nets) => Step::Tie { instance, nets },
                    None => return None,
                }
            }
            Fact::Tie { target, nets } => {
                if let ChangeTarget::Interface(n) = &target {
                    let mut all = self.interface_nets.get(n).cloned().unwrap_or_default();
                    for net in &nets {
                        if !all.contains(net) && all.len() < crate::parse::addresses::MAX_NETS {
                            all.push(*net);
                        }
                    }
                    self.interface_nets.insert(n.clone(), all);
                }
                match self.instance_of(target) {
                    Some(instance) => Step::Tie { instance, nets },
                    None => return None,
                }
            }
            Fact::NatGateway {
                gateway,
                joined,
                left,
            } => {
                for a in joined {
                    let ip = a.ip.or_else(|| {
                        a.allocation_id
                            .as_ref()
                            .and_then(|id| self.allocations.get(id).copied())
                    });
                    if let Some(ip) = ip {
                        self.egress.join(&gateway, ip, a.allocation_id, a.association_id);
                    }
                }
                for id in left {
                    self.egress.leave(&gateway, &id);
                }
                return None;
            }
            Fact::Association {
                association_id,
                target,
                address,
            } => {
                if let Some(id) = association_id {
                    self.associations.insert(id, target.clone());
                }
                if let Some(ip) = self.address_of(&address) {
                    self.eips.insert(ip.to_string().into(), target);
                }
                return None;
            }
            Fact::Disassociation {
                association_id,
                public_ip,
                account,
                time,
            } => {
                let target = association_id
                    .and_then(|id| self.associations.get(&id).cloned())
                    .or_else(|| public_ip.and_then(|ip| self.eips.get(&ip.to_string()).cloned()));
                match target.and_then(|t| self.instance_of(t)) {
                    // The instance gets a new public address it did not choose: one unnamed
                    // change.
                    Some(instance) => Step::Change {
                        instance,
                        account,
                        time,
                        address: None,
                    },
                    None => return None,
                }
            }
            Fact::Account(a) => {
                self.see_account(&a);
                return None;
            }
            _ => return None,
        })
    }
}

/// A map that forgets its oldest entries past [`MAX_MAP_ENTRIES`], so a flood of ids cannot grow it
/// without bound. Input-ordered, so it forgets the same entries for any thread count.
struct BoundedMap<V> {
    map: HashMap<CompactString, V, ahash::RandomState>,
    order: VecDeque<CompactString>,
}

impl<V> Default for BoundedMap<V> {
    fn default() -> Self {
        BoundedMap {
            map: HashMap::default(),
            order: VecDeque::new(),
        }
    }
}

impl<V> BoundedMap<V> {
    fn insert(&mut self, k: CompactString, v: V) {
        if self.map.insert(k.clone(), v).is_none() {
            self.order.push_back(k);
            if self.order.len() > MAX_MAP_ENTRIES
                && let Some(old) = self.order.pop_front()
            {
                self.map.remove(&old);
            }
        }
    }

    fn get(&self, k: &str) -> Option<&V> {
        self.map.get(k)
    }

    fn export(&self) -> Vec<(CompactString, V)>
    where
        V: Clone,
    {
        self.order
            .iter()
            .filter_map(|k| Some((k.clone(), self.map.get(k)?.clone())))
            .collect()
    }
}

/// Where chained sessions' steps go: the shard key of the root of their chain. Input-ordered, so
/// the same for any thread count; bounded like the other maps, and an entry goes once the
/// watermark passes its session's expiry by [`LATE_GRACE`] (swept when the map has doubled since
/// the last sweep, so a sweep's cost is spread over the inserts that made it due).
///
/// Keyed by a seeded XXH3-64 of the session key rather than the key itself: 40 bytes an entry
/// instead of 112, which was most of a chained session's memory. The seed is random per table
/// (and saved with it), so no one can make up a session key that lands on another's entry.
struct ChainRoutes {
    map: HashMap<u64, (CompactString, Millis), ahash::RandomState>,
    seed: u64,
    swept_at_len: usize,
}

impl Default for ChainRoutes {
    fn default() -> Self {
        ChainRoutes {
            map: HashMap::default(),
            // std's per-process random keys, as its hash maps use against flooding.
            seed: std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), 0u64)
                .max(1),
            swept_at_len: 0,
        }
    }
}

/// The seeded XXH3-64 of a session key's bytes: its partition, then account, role and session
/// name, each followed by 0xff (not a byte of any UTF-8 text, so the parts cannot run into each
/// other). Hashed in one call from a stack buffer: fed to the streaming hasher part by part, as
/// before, it took 3 % of the samples of a `perf record` of the 1 GiB benchmark corpus (its buffering
/// copies; measured by hand, no bench isolates it) for the same digest, which the state saves.
fn chain_key_hash(seed: u64, s: &SessionKey) -> u64 {
    let parts = [s.account.as_bytes(), s.role.as_bytes(), s.instance.as_bytes()];
    let mut buf = [0u8; 256];
    let len = 1 + parts.iter().map(|p| p.len() + 1).sum::<usize>();
    if len > buf.len() {
        let mut h = xxhash_rust::xxh3::Xxh3::with_seed(seed);
        h.update(&[s.partition as u8]);
        for part in parts {
            h.update(part);
            h.update(&[0xff]);
        }
        return h.digest();
    }
    buf[0] = s.partition as u8;
    let mut at = 1;
    for part in parts {
        buf[at..at + part.len()].copy_from_slice(part);
        buf[at + part.len()] = 0xff;
        at += part.len() + 1;
    }
    xxhash_rust::xxh3::xxh3_64_with_seed(&buf[..len], seed)
}

impl ChainRoutes {
    fn hash(&self, s: &SessionKey) -> u64 {
        chain_key_hash(self.seed, s)
    }

    fn route(&mut self, session: &SessionKey, wm: Millis) -> Option<CompactString> {
        // Nearly every call asks, and nearly always no chain was ever seen: no hashing then.
        if self.map.is_empty() {
            return None;
        }
        let k = self.hash(session);
        match self.map.get(&k) {
            Some((_, until)) if wm > until.saturating_add(LATE_GRACE) => {
                self.map.remove(&k);
                None
            }
            Some((to, _)) => Some(to.clone()),
            None => None,
        }
    }

    fn get(&self, session: &SessionKey) -> Option<&str> {
        if self.map.is_empty() {
            return None;
        }
        self.map.get(&self.hash(session)).map(|(to, _)| to.as_str())
    }

    fn insert(&mut self, child: &SessionKey, to: CompactString, until: Millis, wm: Millis) {
        if self.map.len() >= 2 * self.swept_at_len.max(512) {
            self.map
                .retain(|_, (_, until)| wm <= until.saturating_add(LATE_GRACE));
            self.swept_at_len = self.map.len();
        }
        let k = self.hash(child);
        let until = match self.map.get(&k) {
            Some((_, had)) => until.max(*had),
            None => until,
        };
        // Full of live chains: a new one is not routed (its calls pass unjudged), as a full
        // allocation map forgets.
        if self.map.len() < MAX_MAP_ENTRIES || self.map.contains_key(&k) {
            self.map.insert(k, (to, until));
        }
    }

    fn forget(&mut self, session: &SessionKey) {
        if !self.map.is_empty() {
            let k = self.hash(session);
            self.map.remove(&k);
        }
    }

    /// Sorted, so that a saved state is the same bytes whatever the hash map's order.
    fn export(&self) -> Vec<(u64, CompactString, Millis)> {
        let mut v: Vec<_> = self
            .map
            .iter()
            .map(|(k, (to, until))| (*k, to.clone(), *until))
            .collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digest a saved state holds: the parts streamed one by one into XXH3.
    fn streamed(seed: u64, s: &SessionKey) -> u64 {
        let mut h = xxhash_rust::xxh3::Xxh3::with_seed(seed);
        h.update(&[s.partition as u8]);
        for part in [&s.account, &s.role, &s.instance] {
            h.update(part.as_bytes());
            h.update(&[0xff]);
        }
        h.digest()
    }

    #[test]
    fn a_chain_key_hashes_as_the_saved_state_hashed_it() {
        let long = "x".repeat(200);
        for arn in [
            "arn:aws:sts::123456789012:assumed-role/app/i-0123456789abcdef0".to_string(),
            format!("arn:aws-cn:sts::123456789012:assumed-role/{long}/{long}"),
        ] {
            let key = SessionKey::from_session_arn(&arn).expect("a session arn");
            for seed in [1, 0x9e37_79b9_7f4a_7c15] {
                assert_eq!(chain_key_hash(seed, &key), streamed(seed, &key), "{arn}");
            }
        }
    }
}
