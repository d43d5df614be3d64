//! The rows of the session table, laid out for size: the table's size per session is what decides
//! how many sessions fit. The rules that read and change it are in [`super`].

use super::LATE_GRACE;
use super::dense::{DenseMap, Keyed};
use crate::parse::event_time::Millis;
use crate::parse::session_key::SessionKey;
use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Slot {
    Public,
    /// A private address seen through a VPC endpoint.
    Private,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LockOrigin {
    /// The slot's first address.
    FirstUse,
    /// Accepted because an address change for the instance announced it.
    AddressChange,
    /// Accepted because the trail ties it to the instance (rule 14).
    Tied,
    /// Accepted as another public address of the NAT gateway of a locked address (15).
    SameGateway,
    /// Accepted as the instance's address of the other family, inside AWS's EC2 ranges of the
    /// locked address's region (14).
    OtherFamily,
    /// The address the session's own issuing record came from (AssumeRoleWithWebIdentity).
    Issuer,
    /// Taken from a lock in another region of AWS, as the address in the instance's own region
    /// (17).
    OwnRegion,
    /// [`LockOrigin::Issuer`] once the session has called from it (and told its peers). Last, so
    /// that state files saved before it read as they did.
    IssuerCalled,
}

impl LockOrigin {
    /// What the annotation's `locked_ips[].origin` says.
    pub fn as_str(self) -> &'static str {
        match self {
            LockOrigin::FirstUse => "first_use",
            LockOrigin::AddressChange => "address_change",
            LockOrigin::Tied => "tied",
            LockOrigin::SameGateway => "nat_gateway",
            LockOrigin::OtherFamily => "other_family",
            LockOrigin::Issuer | LockOrigin::IssuerCalled => "issuer",
            LockOrigin::OwnRegion => "own_region",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    pub ip: IpAddr,
    pub slot: Slot,
    pub since: Millis,
    pub origin: LockOrigin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct PendingChange {
    pub(super) at: Millis,
    /// `None`: the change did not say which address; it accepts one within the window.
    pub(super) ip: Option<IpAddr>,
}

/// Who a session is beside its instance id. Many instances share one role, so rows share one
/// interned copy: the table's size per session is what decides how many sessions fit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Identity {
    pub partition: crate::parse::session_key::Partition,
    pub account: CompactString,
    pub role: CompactString,
    /// The region of the AssumeRole that created the row: the instance's (evidence for 17). Not
    /// saved (the state format stays main's): after a restart the rule has no region until the
    /// next new row.
    #[serde(skip)]
    pub region: Option<CompactString>,
    /// The workload's kind and what names it: shared as widely as the role for instances, tasks
    /// and chained sessions, one per namespace for pods (see [`super::workload::Tracked`]).
    pub workload: super::workload::Tracked,
}

/// Pending address changes: usually none, so one pointer until there is one.
// The box is the point: 8 bytes per row instead of a Vec's 24, paid only by rows with changes.
#[allow(clippy::box_collection)]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub(super) struct PendingList(Option<Box<Vec<PendingChange>>>);

impl PendingList {
    pub(super) fn iter(&self) -> std::slice::Iter<'_, PendingChange> {
        self.0.as_deref().map_or([].iter(), |v| v.iter())
    }

    pub(super) fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |v| v.len())
    }

    pub(super) fn push(&mut self, p: PendingChange) {
        self.0.get_or_insert_with(Default::default).push(p);
    }

    pub(super) fn remove(&mut self, i: usize) -> PendingChange {
        let v = self.0.as_mut().expect("index of an existing change");
        let p = v.remove(i);
        if v.is_empty() {
            self.0 = None;
        }
        p
    }

    pub(super) fn clear(&mut self) {
        self.0 = None;
    }
}

/// The addresses a row is locked to: nearly always one, held inline in 32 bytes (a
/// `SmallVec<[Lock; 1]>` is 40, which made a row 72 bytes instead of 64). Saved as a sequence, as the
/// `SmallVec` was.
#[derive(Debug, Clone, Default)]
pub(super) enum Locks {
    #[default]
    None,
    One(Lock),
    // The box keeps this variant within the inline lock's bytes; more than one lock is rare.
    #[allow(clippy::box_collection)]
    Many(Box<Vec<Lock>>),
}

impl std::ops::Deref for Locks {
    type Target = [Lock];

    fn deref(&self) -> &[Lock] {
        match self {
            Locks::None => &[],
            Locks::One(l) => std::slice::from_ref(l),
            Locks::Many(v) => v,
        }
    }
}

impl std::ops::DerefMut for Locks {
    fn deref_mut(&mut self) -> &mut [Lock] {
        match self {
            Locks::None => &mut [],
            Locks::One(l) => std::slice::from_mut(l),
            Locks::Many(v) => v,
        }
    }
}

impl PartialEq for Locks {
    fn eq(&self, other: &Locks) -> bool {
        **self == **other
    }
}

impl From<Vec<Lock>> for Locks {
    fn from(mut v: Vec<Lock>) -> Locks {
        match v.len() {
            0 => Locks::None,
            1 => Locks::One(v.remove(0)),
            _ => Locks::Many(Box::new(v)),
        }
    }
}

impl Locks {
    pub(super) fn push(&mut self, l: Lock) {
        match self {
            Locks::None => *self = Locks::One(l),
            Locks::One(first) => *self = Locks::Many(Box::new(vec![*first, l])),
            Locks::Many(v) => v.push(l),
        }
    }

    pub(super) fn remove(&mut self, i: usize) -> Lock {
        let mut v = std::mem::take(self).to_vec();
        let l = v.remove(i);
        *self = v.into();
        l
    }

    pub(super) fn clear(&mut self) {
        *self = Locks::None;
    }
}

impl Serialize for Locks {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Locks {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Locks, D::Error> {
        Vec::<Lock>::deserialize(d).map(Locks::from)
    }
}

/// One session's row: its identity beside the instance id, expiry, lock and pending changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub(super) ident: std::sync::Arc<Identity>,
    pub(super) expires: Millis,
    pub(super) locks: Locks,
    pub(super) pending: PendingList,
    /// Created from a call (`--infer-sessions`), not from the AssumeRole that issued it.
    pub(super) inferred: bool,
    /// A call of this session was judged in this run (for the summary's counts by kind). Not
    /// saved: the counts are the run's.
    #[serde(skip)]
    pub(super) judged: bool,
    /// An address outside the lock alerted for this session: its later calls from the lock say
    /// so (rule 17). Not saved: a restart forgets it, as it forgets the alerts.
    #[serde(skip)]
    pub(super) contested: bool,
}

impl Row {
    pub(super) fn is(&self, s: &SessionKey) -> bool {
        let id = &*self.ident;
        id.partition == s.partition && id.account == s.account && id.role == s.role
    }

    /// Live for a record at `time` whose input so far reached `watermark`.
    pub(super) fn live_at(&self, time: Millis, watermark: Millis) -> bool {
        time <= self.expires && watermark <= self.expires.saturating_add(LATE_GRACE)
    }

    pub(super) fn in_account(&self, account: &Option<CompactString>) -> bool {
        account.as_ref().is_none_or(|a| *a == self.ident.account)
    }
}

/// An instance's rows: nearly always one, held then without a vector's pointer, length and
/// capacity (64 bytes where a `SmallVec<[Row; 1]>` is 72).
#[derive(Debug, Clone)]
pub(super) enum Rows {
    One(Row),
    Many(Vec<Row>),
}

impl Default for Rows {
    fn default() -> Self {
        Rows::Many(Vec::new())
    }
}

impl std::ops::Deref for Rows {
    type Target = [Row];

    fn deref(&self) -> &[Row] {
        match self {
            Rows::One(r) => std::slice::from_ref(r),
            Rows::Many(v) => v,
        }
    }
}

impl std::ops::DerefMut for Rows {
    fn deref_mut(&mut self) -> &mut [Row] {
        match self {
            Rows::One(r) => std::slice::from_mut(r),
            Rows::Many(v) => v,
        }
    }
}

impl Rows {
    pub(super) fn push(&mut self, row: Row) {
        *self = match std::mem::take(self) {
            Rows::Many(v) if v.is_empty() => Rows::One(row),
            Rows::Many(mut v) => {
                v.push(row);
                Rows::Many(v)
            }
            Rows::One(first) => Rows::Many(vec![first, row]),
        };
    }

    /// Keeps the rows `keep` is true of, in their order.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&mut Row) -> bool) {
        match self {
            Rows::One(r) => {
                if !keep(r) {
                    *self = Rows::default();
                }
            }
            Rows::Many(v) => v.retain_mut(keep),
        }
    }
}

/// An instance's rows beside its id: an entry of [`RowMap`].
#[derive(Debug, Clone)]
pub(super) struct InstanceRows {
    instance: CompactString,
    rows: Rows,
}

impl Keyed for InstanceRows {
    type Key<'a> = &'a str;

    fn key(&self) -> &str {
        &self.instance
    }

    fn is(&self, instance: &&str) -> bool {
        self.instance == *instance
    }
}

/// A partition's rows by instance id, in a [`DenseMap`]: 4 bytes a slot of the index, 88 an
/// instance and its rows (a hash map of the rows held 220 bytes of slots per session at 1 M).
#[derive(Default)]
pub(super) struct RowMap(DenseMap<InstanceRows>);

impl RowMap {
    pub(super) fn get(&self, instance: &str) -> Option<&Rows> {
        self.0.get(instance).map(|e| &e.rows)
    }

    pub(super) fn get_mut(&mut self, instance: &str) -> Option<&mut Rows> {
        self.0.get_mut(instance).map(|e| &mut e.rows)
    }

    /// The rows of `instance`, empty if it had none.
    pub(super) fn entry(&mut self, instance: CompactString) -> &mut Rows {
        let make = || InstanceRows {
            instance: instance.clone(),
            rows: Rows::default(),
        };
        &mut self.0.get_or_insert_with(&instance, make).rows
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&CompactString, &Rows)> {
        self.0.iter().map(|e| (&e.instance, &e.rows))
    }

    /// Instances held.
    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    /// Keeps the instances `keep` is true of; it may change their rows too.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&CompactString, &mut Rows) -> bool) {
        self.0.retain(|e| keep(&e.instance, &mut e.rows));
    }
}

/// Identities kept for sharing per partition; past it new ones are not shared (a flood of made-up
/// roles must not grow the interner without bound).
pub(super) const MAX_IDENTS: usize = 1 << 16;

pub(super) fn intern(set: &mut HashSet<Arc<Identity>, ahash::RandomState>, id: Identity) -> Arc<Identity> {
    if let Some(a) = set.get(&id) {
        return a.clone();
    }
    let a = Arc::new(id);
    if set.len() < MAX_IDENTS {
        set.insert(a.clone());
    }
    a
}

/// A row as state files of format version 1 saved it, before sessions had a workload kind: every
/// one was an instance's.
#[derive(Deserialize)]
pub(super) struct RowV1 {
    ident: IdentityV1,
    expires: Millis,
    locks: Locks,
    pending: PendingList,
    inferred: bool,
}

#[derive(Deserialize)]
struct IdentityV1 {
    partition: crate::parse::session_key::Partition,
    account: CompactString,
    role: CompactString,
}

impl From<RowV1> for Row {
    fn from(r: RowV1) -> Row {
        Row {
            ident: Arc::new(Identity {
                partition: r.ident.partition,
                account: r.ident.account,
                role: r.ident.role,
                region: None,
                workload: super::workload::Tracked::default(),
            }),
            expires: r.expires,
            locks: r.locks,
            pending: r.pending,
            inferred: r.inferred,
            judged: false,
            contested: false,
        }
    }
}

#[cfg(test)]
mod size_tests {
    use super::*;

    /// The table's size per session decides how many sessions fit: a row must not grow unnoticed
    /// (64 bytes: shared identity, expiry, one inline lock, a pointer for pending changes; 88 with
    /// its instance id).
    #[test]
    fn a_row_stays_small() {
        assert!(std::mem::size_of::<Row>() <= 64, "{}", std::mem::size_of::<Row>());
        assert!(std::mem::size_of::<Lock>() <= 32);
        assert!(
            std::mem::size_of::<Locks>() <= 32,
            "{}",
            std::mem::size_of::<Locks>()
        );
        assert!(
            std::mem::size_of::<Rows>() <= 64,
            "{}",
            std::mem::size_of::<Rows>()
        );
        assert!(std::mem::size_of::<InstanceRows>() <= 88);
    }
}

#[cfg(test)]
mod saved_form {
    use super::*;

    fn lock(ip: &str, slot: Slot, since: Millis, origin: LockOrigin) -> Lock {
        Lock {
            ip: ip.parse().unwrap(),
            slot,
            since,
            origin,
        }
    }

    fn rows() -> Vec<Row> {
        let ident = Arc::new(Identity {
            partition: crate::parse::session_key::Partition::AwsCn,
            account: "123456789012".into(),
            role: "web-role".into(),
            region: None,
            workload: Default::default(),
        });
        let mut pending = PendingList::default();
        pending.push(PendingChange {
            at: 1_709_251_300_000,
            ip: Some("2600:1f18::7".parse().unwrap()),
        });
        pending.push(PendingChange { at: -5, ip: None });
        vec![
            Row {
                ident: ident.clone(),
                expires: 1_709_272_800_000,
                locks: Locks::None,
                pending: PendingList::default(),
                inferred: false,
                judged: false,
                contested: false,
            },
            Row {
                ident: ident.clone(),
                expires: i64::MAX,
                locks: vec![lock(
                    "3.89.12.7",
                    Slot::Public,
                    1_709_251_200_000,
                    LockOrigin::FirstUse,
                )]
                .into(),
                pending,
                inferred: true,
                judged: false,
                contested: false,
            },
            Row {
                ident,
                expires: i64::MIN,
                locks: vec![
                    lock("10.0.3.4", Slot::Private, 7, LockOrigin::FirstUse),
                    lock(
                        "2600:1f18::7",
                        Slot::Public,
                        1_709_251_400_000,
                        LockOrigin::AddressChange,
                    ),
                    lock("3.89.12.8", Slot::Public, 0, LockOrigin::AddressChange),
                ]
                .into(),
                pending: PendingList::default(),
                inferred: false,
                judged: false,
                contested: false,
            },
        ]
    }

    /// The bytes a state file of format version 1 held for these rows (before sessions had a
    /// workload kind, and when a row's locks were a `SmallVec`): they must still read, as
    /// instances' rows.
    const SAVED_V1: &str = concat!(
        "03010c313233343536373839303132087765622d726f6c6580ecc889bf63000000010c31323334353637383930313208",
        "7765622d726f6c65feffffffffffffffff01010003590c07008090fcf4be63000102c0aa88f5be63010126001f180000",
        "00000000000000000007090001010c313233343536373839303132087765622d726f6c65ffffffffffffffffff010300",
        "0a000304010e000126001f180000000000000000000000070080c594f5be63010003590c080000010000",
    );

    /// Version 2: each identity ends with its workload's kind and detail (two bytes for an
    /// instance's). A change of layout must not change them, or state files would not read.
    const SAVED: &str = concat!(
        "03010c313233343536373839303132087765622d726f6c6500000080ecc889bf63000000010c3132333435363738393031",
        "32087765622d726f6c65000000feffffffffffffffff01010003590c07008090fcf4be63000102c0aa88f5be6301012600",
        "1f18000000000000000000000007090001010c313233343536373839303132087765622d726f6c65000000ffffffffffff",
        "ffffff0103000a000304010e000126001f180000000000000000000000070080c594f5be63010003590c080000010000",
    );

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn rows_are_saved_as_before() {
        let bytes = postcard::to_stdvec(&rows()).unwrap();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, SAVED);
        let back: Vec<Row> = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, rows());
    }

    /// (Mutation: giving `IdentityV1` the workload field fails here.)
    #[test]
    fn version_1_rows_read_as_instances() {
        let old: Vec<RowV1> = postcard::from_bytes(&unhex(SAVED_V1)).unwrap();
        let back: Vec<Row> = old.into_iter().map(Row::from).collect();
        assert_eq!(back, rows());
    }
}
