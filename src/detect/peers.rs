//! Another instance of the same account: when an alert's foreign address is the locked address of
//! another live session in the same account, the credentials moved to (or came from) another
//! instance of that account, lateral movement that GuardDuty does not report.
//!
//! The locks of every session are kept here in input order, across all partitions of the table,
//! so the answer is the same for any thread count.

use super::dense::{DenseMap, Keyed};
use super::{LATE_GRACE, Verdict, VerdictKind, notable};
use crate::parse::event_time::Millis;
use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

/// The other session whose locked address an alert came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub instance: CompactString,
    pub role: CompactString,
}

/// The same-account locks as the state keeps them (see [`Peers::export`]).
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedPeers {
    /// Account, role, locked address, instance and expiry of each lock, in the map's order.
    pub locks: Vec<(CompactString, CompactString, IpAddr, CompactString, Millis)>,
    /// Locks held when the next sweep runs.
    pub sweep_at: u64,
}

/// Locks held before the first sweep of expired ones.
const FIRST_SWEEP: usize = 4096;

/// Owners kept for sharing; past it a new one is not shared until the next purge.
const MAX_OWNERS: usize = 1 << 16;

/// The locked addresses of every session, by account and address.
#[derive(Default)]
pub struct Peers {
    locks: DenseMap<PeerLock>,
    /// Locks held when the next sweep runs: twice what the last sweep kept, so that a sweep, which
    /// visits every lock, comes after at least half as many new ones (O(1) per lock, amortised),
    /// and the map holds at most twice the live locks. A fixed threshold made every lock past it
    /// sweep the whole map when nothing had expired (0.2 s a record at 2^21 locks).
    sweep_at: usize,
    /// Locks visited by sweeps, for the test that holds the cost per lock to a constant.
    swept: u64,
    owners: HashSet<Arc<Owner>, ahash::RandomState>,
    /// Owners made since the last purge of unused ones: a purge visits every owner, so it waits
    /// for as many new ones.
    owners_since_purge: usize,
}

/// Who holds a lock: shared by the locks of one role, since an account runs many instances under a
/// few roles. The address family is here too, so that a lock keeps its address in 16 bytes (an
/// `IpAddr` takes 17, which would make a lock 64 bytes instead of 56).
#[derive(PartialEq, Eq, Hash)]
struct Owner {
    account: CompactString,
    role: CompactString,
    v6: bool,
}

/// A session's lock as [`Peers`] keeps it.
struct PeerLock {
    owner: Arc<Owner>,
    instance: CompactString,
    expires: Millis,
    /// IPv4 mapped into IPv6; `owner.v6` tells which the address was.
    octets: [u8; 16],
}

impl PeerLock {
    fn ip(&self) -> IpAddr {
        let v6 = Ipv6Addr::from(self.octets);
        match v6.to_ipv4_mapped() {
            Some(v4) if !self.owner.v6 => v4.into(),
            _ => v6.into(),
        }
    }
}

impl Keyed for PeerLock {
    type Key<'a> = (&'a str, IpAddr);

    fn key(&self) -> (&str, IpAddr) {
        (&self.owner.account, self.ip())
    }

    fn is(&self, &(account, ip): &(&str, IpAddr)) -> bool {
        self.octets == octets(ip) && self.owner.v6 == ip.is_ipv6() && self.owner.account == account
    }
}

fn octets(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

impl Peers {
    /// Takes in a verdict, in input order, with the watermark it was routed with: a first lock or
    /// an added address is remembered; for an alert, the other live session of the same account
    /// locked to its address, if there is one.
    pub fn observe(&mut self, v: &Verdict, watermark: Millis) -> Option<Peer> {
        // Most verdicts are a call from the locked address: nothing to tell.
        if !notable(v.kind, v.first_lock || v.issuer_lock, v.contested) {
            return None;
        }
        let ip = v.ip?;
        match v.kind {
            VerdictKind::Compromise => self.peer(&v.session.account, ip, &v.session.instance, v.time),
            VerdictKind::Locked | VerdictKind::IpAdded => {
                self.lock(
                    v.session.account.clone(),
                    v.session.role.clone(),
                    ip,
                    v.session.instance.clone(),
                    v.expires,
                    watermark,
                );
                None
            }
            _ => None,
        }
    }

    /// The session of another instance locked to `ip` in `account`, live at `time`.
    fn peer(&self, account: &str, ip: IpAddr, instance: &str, time: Millis) -> Option<Peer> {
        let l = self.locks.get((account, ip))?;
        if l.instance == instance || time > l.expires {
            return None;
        }
        Some(Peer {
            instance: l.instance.clone(),
            role: l.owner.role.clone(),
        })
    }

    /// Sets the lock of `(account, ip)`, replacing the one it had.
    fn lock(
        &mut self,
        account: CompactString,
        role: CompactString,
        ip: IpAddr,
        instance: CompactString,
        expires: Millis,
        watermark: Millis,
    ) {
        if self.locks.len() >= self.sweep_at.max(FIRST_SWEEP) {
            self.sweep(watermark);
        }
        let owner = self.owner(Owner {
            account,
            role,
            v6: ip.is_ipv6(),
        });
        self.locks.insert(PeerLock {
            owner,
            instance,
            expires,
            octets: octets(ip),
        });
    }

    /// Drops the locks whose session's row the table has dropped too (past its expiry plus
    /// [`LATE_GRACE`] on the watermark): no record can find that row live, so none can find
    /// its lock either.
    fn sweep(&mut self, watermark: Millis) {
        self.swept += self.locks.len() as u64;
        self.locks
            .retain(|l| watermark <= l.expires.saturating_add(LATE_GRACE));
        self.sweep_at = 2 * self.locks.len();
    }

    /// The locks in their order, and when the next sweep runs: what a restart needs so that an
    /// alert after it names the same peer as one run over the whole trail would.
    pub fn export(&self) -> SavedPeers {
        SavedPeers {
            locks: self
                .locks
                .iter()
                .map(|l| {
                    (
                        l.owner.account.clone(),
                        l.owner.role.clone(),
                        l.ip(),
                        l.instance.clone(),
                        l.expires,
                    )
                })
                .collect(),
            sweep_at: self.sweep_at as u64,
        }
    }

    /// The locks [`Peers::export`] gave, in their order.
    pub fn import(&mut self, saved: SavedPeers) {
        for (account, role, ip, instance, expires) in saved.locks {
            let owner = self.owner(Owner {
                account,
                role,
                v6: ip.is_ipv6(),
            });
            self.locks.insert(PeerLock {
                owner,
                instance,
                expires,
                octets: octets(ip),
            });
        }
        self.sweep_at = usize::try_from(saved.sweep_at).unwrap_or(usize::MAX);
    }

    /// Locks held.
    pub fn len(&self) -> usize {
        self.locks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.locks.is_empty()
    }

    fn owner(&mut self, o: Owner) -> Arc<Owner> {
        if let Some(shared) = self.owners.get(&o) {
            return shared.clone();
        }
        if self.owners.len() >= MAX_OWNERS && self.owners_since_purge >= MAX_OWNERS {
            self.owners.retain(|s| Arc::strong_count(s) > 1);
            self.owners_since_purge = 0;
        }
        self.owners_since_purge += 1;
        let o = Arc::new(o);
        if self.owners.len() < MAX_OWNERS {
            self.owners.insert(o.clone());
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Slot;
    use crate::parse::record::CallContext;
    use crate::parse::session_key::{Partition, SessionKey};

    fn verdict(kind: VerdictKind, instance: &str, ip: &str, time: Millis, expires: Millis) -> Verdict {
        Verdict {
            kind,
            session: SessionKey {
                partition: Partition::Aws,
                account: "123456789012".into(),
                role: format!("role-of-{instance}").into(),
                instance: instance.into(),
            },
            source: ip.into(),
            ip: ip.parse().ok(),
            slot: Slot::Public,
            locks: Default::default(),
            expires,
            first_lock: kind == VerdictKind::Locked,
            change: None,
            inferred: false,
            foreign_endpoint: None,
            workload: Default::default(),
            why: None,
            contested: false,
            issuer_lock: false,
            overtook_early_release: false,
            time,
            context: CallContext::default(),
        }
    }

    /// An alert from the address another instance of the account locked names that instance while
    /// its lock lives (expiry inclusive, as a row's), and no longer once it has expired: the lock
    /// of a session gone for hours says nothing about where its credentials are now. (Mutation:
    /// deleting `time > expires` from the lookup fails the last assertion.)
    #[test]
    fn a_peer_is_named_only_while_its_lock_lives() {
        let mut peers = Peers::default();
        let expires = 10_000;
        let first = verdict(VerdictKind::Locked, "i-0aaaaaaaaaaaaaaaa", "3.3.3.3", 0, expires);
        assert_eq!(peers.observe(&first, 0), None);
        let alert_at = |time| {
            verdict(
                VerdictKind::Compromise,
                "i-0bbbbbbbbbbbbbbbb",
                "3.3.3.3",
                time,
                time + 1,
            )
        };
        let named = Some(Peer {
            instance: "i-0aaaaaaaaaaaaaaaa".into(),
            role: "role-of-i-0aaaaaaaaaaaaaaaa".into(),
        });
        assert_eq!(peers.observe(&alert_at(expires - 1), 0), named);
        assert_eq!(peers.observe(&alert_at(expires), 0), named);
        assert_eq!(peers.observe(&alert_at(expires + 1), 0), None);
    }

    /// The instance's own lock is not a peer, and another account's lock is not either.
    #[test]
    fn a_peer_is_another_instance_of_the_same_account() {
        let mut peers = Peers::default();
        peers.observe(
            &verdict(VerdictKind::Locked, "i-0aaaaaaaaaaaaaaaa", "3.3.3.3", 0, 100),
            0,
        );
        let own = verdict(VerdictKind::Compromise, "i-0aaaaaaaaaaaaaaaa", "3.3.3.3", 5, 100);
        assert_eq!(peers.observe(&own, 5), None);
        let mut other_account = verdict(VerdictKind::Compromise, "i-0bbbbbbbbbbbbbbbb", "3.3.3.3", 5, 100);
        other_account.session.account = "210987654321".into();
        assert_eq!(peers.observe(&other_account, 5), None);
    }

    /// A long run of sessions that each lock one address and never alert keeps the map at the
    /// live locks (here, those of the last few minutes) and visits each lock a bounded number of
    /// times, whatever the run's length. Counted, not timed. (Mutation: sweeping only at a fixed
    /// count, as before, lets the map grow with the run and fails the first assertion; sweeping at
    /// every lock past the threshold fails the second.)
    #[test]
    fn locks_are_bounded_by_live_sessions_at_constant_cost_per_lock() {
        let mut peers = Peers::default();
        let n: u32 = 200_000;
        let life = 5 * 60_000;
        for k in 0..n {
            let t = Millis::from(k) * 1_000;
            let ip = std::net::Ipv4Addr::from(0x0300_0000 + k).to_string();
            let v = verdict(VerdictKind::Locked, &format!("i-{k:017x}"), &ip, t, t + life);
            peers.observe(&v, t);
        }
        // Live on the last watermark: expiry plus the grace not yet passed.
        let live = usize::try_from((life + LATE_GRACE) / 1_000).unwrap_or(usize::MAX);
        assert!(
            peers.len() <= 2 * live.max(FIRST_SWEEP),
            "{} locks held",
            peers.len()
        );
        assert!(peers.swept <= 3 * u64::from(n), "{} locks visited", peers.swept);
    }
}
