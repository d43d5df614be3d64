//! The input-ordered part of the state: which allocation id is which address, which interface
//! belongs to which instance, and the event-time watermark. It turns each [`Fact`] into
//! [`Routed`] steps about one instance, which a shard of the table applies.

use super::MAX_MAP_ENTRIES;
use crate::order::Watermark;
use crate::parse::event_time::Millis;
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
        match &self.step {
            Step::Call { session, .. } | Step::Issue { session, .. } => &session.instance,
            Step::Change { instance, .. } | Step::Restart { instance, .. } => instance,
        }
    }
}

/// The input-ordered part of the state.
#[derive(Default)]
pub struct Resolver {
    allocations: BoundedMap<IpAddr>,
    interfaces: BoundedMap<CompactString>,
    watermark: Watermark,
    /// The wall clock, for [`far_future`](crate::order::far_future) records; `None`: not known
    /// (then no record is far-future).
    now: Option<Millis>,
    /// `--keyed`: apply the map entries `credtrail key` forwarded ([`Fact::Forwarded`]).
    pub trust_forwarded: bool,
}

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

    /// Turns one fact into the steps the shards apply; facts about the maps stop here.
    pub fn route(&mut self, fact: Fact, mut out: impl FnMut(Routed)) {
        let time = match &fact {
            Fact::Call { time, .. }
            | Fact::Issue { time, .. }
            | Fact::AddressChange { time, .. }
            | Fact::Restart { time, .. } => Some(*time),
            Fact::Allocation { .. } | Fact::InterfaceOwner { .. } | Fact::Forwarded(_) => None,
        };
        if let Some(t) = time {
            // One record may move the watermark by at most LATE_GRACE: a single absurd eventTime
            // (year 2099) must not expire every session, and LATE_GRACE is exactly what a live row
            // survives. A real gap in the trail is caught up over a few records.
            self.watermark.advance(t, self.now.unwrap_or(Millis::MAX));
        }
        let watermark = self.watermark.get().unwrap_or(Millis::MIN);
        let step = match fact {
            Fact::Call {
                session,
                time,
                source,
                source_text,
                via_endpoint,
                context,
            } => Step::Call {
                session,
                time,
                source,
                source_text,
                via_endpoint,
                context,
            },
            Fact::Issue { session, time } => Step::Issue { session, time },
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
                return;
            }
            Fact::InterfaceOwner { interface, instance } => {
                self.interfaces.insert(interface, instance);
                return;
            }
            Fact::Forwarded(entry) => {
                if self.trust_forwarded
                    && matches!(*entry, Fact::Allocation { .. } | Fact::InterfaceOwner { .. })
                {
                    self.route(*entry, out);
                }
                return;
            }
            Fact::AddressChange {
                target,
                account,
                time,
                address,
            } => {
                let instance = match target {
                    ChangeTarget::Instance(i) => i,
                    ChangeTarget::Interface(n) => match self.interfaces.get(&n) {
                        Some(i) => i.clone(),
                        None => return,
                    },
                };
                let address = match address {
                    ChangeAddress::Named(ip) => Some(ip),
                    ChangeAddress::Allocation(id) => self.allocations.get(&id).copied(),
                    ChangeAddress::Unnamed => None,
                };
                Step::Change {
                    instance,
                    account,
                    time,
                    address,
                }
            }
        };
        out(Routed { step, watermark });
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
