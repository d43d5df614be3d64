//! The input-ordered part of the state: which allocation id is which address, which interface
//! belongs to which instance, and the event-time watermark. It turns each [`Fact`] into
//! [`Routed`] steps about one instance, which a shard of the table applies.

use super::{LATE_GRACE, MAX_MAP_ENTRIES};
use crate::parse::event_time::Millis;
use crate::parse::issuer::Issued;
use crate::parse::record::{CallContext, ChangeAddress, ChangeTarget, Fact};
use crate::parse::session_key::SessionKey;
use crate::parse::source_address::Source;
use compact_str::CompactString;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

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
            Step::Change { instance, .. } | Step::Restart { instance, .. } => instance,
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
    watermark: Option<Millis>,
}

impl Resolver {
    pub fn watermark(&self) -> Option<Millis> {
        self.watermark
    }

    /// The maps and watermark into a snapshot (rows are the shards' part).
    pub fn export(&self, into: &mut crate::detect::state::Snapshot) {
        into.watermark = self.watermark;
        into.allocations = self.allocations.export();
        into.interfaces = self.interfaces.export();
        into.chains = self.chains.export();
        into.chain_seed = self.chains.seed;
    }

    /// The shard key a chained session's rows live under, when it is one.
    pub fn route_of(&self, session: &SessionKey) -> Option<&str> {
        self.chains.get(session)
    }

    pub fn import(s: &crate::detect::state::Snapshot) -> Resolver {
        let mut r = Resolver {
            watermark: s.watermark,
            ..Resolver::default()
        };
        for (k, v) in &s.allocations {
            r.allocations.insert(k.clone(), *v);
        }
        for (k, v) in &s.interfaces {
            r.interfaces.insert(k.clone(), v.clone());
        }
        if s.chain_seed != 0 {
            r.chains.seed = s.chain_seed;
        }
        for (k, to, until) in &s.chains {
            r.chains.map.insert(*k, (to.clone(), *until));
        }
        r
    }

    /// Turns one fact into the steps the shards apply; facts about the maps stop here.
    pub fn route(&mut self, fact: Fact, mut out: impl FnMut(Routed)) {
        self.advance(&fact);
        let watermark = self.watermark.unwrap_or(Millis::MIN);
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
            | Fact::Restart { time, .. } => *time,
            Fact::Allocation { .. } | Fact::InterfaceOwner { .. } | Fact::FunctionVpc { .. } => return,
        };
        self.watermark = Some(
            self.watermark
                .map_or(time, |w| w.max(time.min(w.saturating_add(LATE_GRACE)))),
        );
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
                context,
            } => {
                let route = self.chains.route(&session, watermark);
                let step = Step::Call {
                    session,
                    time,
                    source,
                    source_text,
                    via_endpoint,
                    context,
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
            } => {
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
                return Some((step, route));
            }
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
            Fact::InterfaceOwner { interface, instance } => {
                self.interfaces.insert(interface, instance);
                return None;
            }
            Fact::AddressChange {
                target,
                account,
                time,
                address,
            } => Step::Change {
                instance: match target {
                    ChangeTarget::Instance(i) => i,
                    ChangeTarget::Interface(n) => self.interfaces.get(&n)?.clone(),
                },
                account,
                time,
                address: match address {
                    ChangeAddress::Named(ip) => Some(ip),
                    ChangeAddress::Allocation(id) => self.allocations.get(&id).copied(),
                    ChangeAddress::Unnamed => None,
                },
            },
        };
        Some((step, None))
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

impl ChainRoutes {
    fn hash(&self, s: &SessionKey) -> u64 {
        let mut h = xxhash_rust::xxh3::Xxh3::with_seed(self.seed);
        h.update(&[s.partition as u8]);
        for part in [&s.account, &s.role, &s.instance] {
            h.update(part.as_bytes());
            // Not a byte of any UTF-8 text: the parts cannot run into each other.
            h.update(&[0xff]);
        }
        h.digest()
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
