//! The session table: 64 partitions of rows, and what keeps each partition's memory bounded (the
//! sweep of expired rows, eviction when full, the alerted ids remembered). The rules that read and
//! change the rows are in [`super`].

use super::rows::{RowMap, intern};
use super::workload::{KINDS, Kind};
use super::{DetectorConfig, LATE_GRACE, Routed, Row, Verdict};
use crate::parse::event_time::Millis;
use crate::parse::session_key::SessionKey;
use compact_str::CompactString;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

/// The session table is cut into this many partitions by a fixed hash of the instance id. A
/// partition's records arrive in input order whatever the thread count, and every bound on memory
/// is applied per partition, so that evictions too are the same for any `--threads`.
pub const PARTITIONS: usize = 64;

/// The partition an instance's rows live in: XXH3-64 of the id, whose output its specification
/// fixes, so that it is the same on every machine and in every version (a state file's rows land in
/// the partitions, and so meet the evictions, that a run without a restart would give them).
pub fn partition_of(instance: &str) -> usize {
    (xxhash_rust::xxh3::xxh3_64(instance.as_bytes()) % PARTITIONS as u64) as usize
}

/// The rows of the partitions a thread owns.
pub struct Shard {
    tables: Vec<Table>,
}

impl Shard {
    pub fn new(cfg: DetectorConfig) -> Shard {
        let cap = (cfg.max_sessions / PARTITIONS).max(1);
        Shard {
            tables: (0..PARTITIONS).map(|_| Table::new(cfg.clone(), cap)).collect(),
        }
    }

    /// Rows held (live, or expired less than [`LATE_GRACE`] ago on the watermark).
    pub fn sessions(&self) -> usize {
        self.tables.iter().map(|t| t.live_rows).sum()
    }

    /// Sessions live at `watermark` (not expired): what the summary reports. [`Shard::sessions`]
    /// counts the expired ones kept for late records too. Visits every row, so once a run.
    pub fn live_at(&self, watermark: Millis) -> usize {
        self.tables
            .iter()
            .map(|t| {
                t.rows
                    .iter()
                    .map(|(_, rows)| rows.iter().filter(|r| watermark <= r.expires).count())
                    .sum::<usize>()
            })
            .sum()
    }

    /// Rows dropped because their partition was full.
    pub fn evicted(&self) -> u64 {
        self.tables.iter().map(|t| t.evicted).sum()
    }

    /// From now on, a call from the locked address or by an AWS service (nearly every call) is
    /// judged and counted in [`Shard::quiet_judged`] but gets no verdict: only alerts, first locks
    /// and added addresses do. Alerts and findings do nothing with the others, and building and
    /// dropping their verdicts cost 4 % of the CPU (by hand, 10 alternating runs on the harness's
    /// corpus: 0.920 to 0.883 s).
    pub fn notable_only(&mut self) {
        for t in &mut self.tables {
            t.notable_only = true;
        }
    }

    /// Calls judged without a verdict (see [`Shard::notable_only`]).
    pub fn quiet_judged(&self) -> u64 {
        self.tables.iter().map(|t| t.quiet).sum()
    }

    /// The kinds judged (`--no-workload`).
    pub fn kinds(&self) -> super::workload::Kinds {
        self.tables[0].cfg.kinds
    }

    /// Sessions with a judged call, by kind (in [`KINDS`] order).
    pub fn judged_by_kind(&self) -> [u64; KINDS.len()] {
        self.sum(|t| &t.judged_sessions)
    }

    /// Issues not tracked because their kind is switched off, by kind.
    pub fn unjudged_by_kind(&self) -> [u64; KINDS.len()] {
        self.sum(|t| &t.unjudged_issues)
    }

    fn sum(&self, f: impl Fn(&Table) -> &[u64; KINDS.len()]) -> [u64; KINDS.len()] {
        let mut out = [0; KINDS.len()];
        for t in &self.tables {
            for (o, n) in out.iter_mut().zip(f(t)) {
                *o += n;
            }
        }
        out
    }

    /// Applies one step. A call is judged against the state before it; only calls get a verdict.
    pub fn apply(&mut self, r: Routed) -> Option<Verdict> {
        let part = partition_of(r.instance());
        self.tables[part].apply(r)
    }

    /// Whether `fact`'s verdict is settled as of `settle_at` in event time (see
    /// `Table::settled`): only a call from a settled lock, or from AWS on the
    /// session's behalf, is; anything else may change a row and waits.
    pub fn settled(&self, fact: &crate::parse::record::Fact, settle_at: Millis, wm: Millis) -> bool {
        let crate::parse::record::Fact::Call {
            session,
            time,
            source,
            via_endpoint,
            context,
            ..
        } = fact
        else {
            return false;
        };
        // A call through another account's endpoint is judged by the endpoint's account.
        if context.endpoint_account.is_some() {
            return false;
        }
        let call = super::SettledCall {
            session,
            time: *time,
            source,
            via_endpoint: *via_endpoint,
        };
        self.tables[partition_of(&session.instance)].settled(&call, settle_at, wm)
    }

    /// A copy of every row, for saving: `(instance, rows)`, in no particular order (the saver
    /// sorts, off the stream's path).
    pub fn export(&self) -> Vec<(CompactString, Vec<Row>)> {
        let mut out = Vec::with_capacity(self.sessions());
        for t in &self.tables {
            out.extend(t.rows.iter().map(|(k, v)| (k.clone(), v.to_vec())));
        }
        out
    }

    /// The alerted ids of every partition, in the order each remembers them: `(partition, id,
    /// time)`.
    pub fn export_alerted(&self) -> Vec<(u8, u64, Millis)> {
        let mut out = Vec::new();
        for (p, t) in self.tables.iter().enumerate() {
            out.extend(
                t.alerted_order
                    .iter()
                    .filter(|(id, at)| t.alerted.get(id) == Some(at))
                    .map(|&(id, at)| (p as u8, id, at)),
            );
        }
        out
    }

    /// Takes ids saved by [`Shard::export_alerted`].
    pub fn import_alerted(&mut self, ids: &[(u8, u64, Millis)]) {
        for &(p, id, at) in ids {
            if let Some(t) = self.tables.get_mut(usize::from(p))
                && t.alerted.insert(id, at).is_none()
            {
                t.alerted_order.push_back((id, at));
            }
        }
    }

    /// What the workload rules remember beside the rows: the stopped tasks and the Lambda
    /// functions attached to a VPC, sorted, so that a saved state is the same bytes whatever the
    /// hash maps' order.
    pub fn export_workloads(&self) -> super::state::WorkloadState {
        let mut w = super::state::WorkloadState::default();
        for t in &self.tables {
            w.stopped.extend(t.stopped.iter().map(|(k, at)| (k.clone(), *at)));
            w.vpc_functions.extend(t.vpc_functions.iter().cloned());
        }
        w.stopped.sort();
        w.vpc_functions.sort();
        w
    }

    /// Takes what [`Shard::export_workloads`] saved: each entry goes to its task's or function's
    /// partition.
    pub fn import_workloads(&mut self, w: &super::state::WorkloadState) {
        for (task, at) in &w.stopped {
            let t = &mut self.tables[partition_of(task)];
            if t.stopped.len() < super::MAX_STOPPED_TASKS {
                t.stopped.insert(task.clone(), *at);
            }
        }
        for (account, function) in &w.vpc_functions {
            let t = &mut self.tables[partition_of(function)];
            if t.vpc_functions.len() < super::MAX_VPC_FUNCTIONS {
                t.vpc_functions.insert((account.clone(), function.clone()));
            }
        }
    }

    /// The addresses tied to instances, partition by partition, oldest first in each.
    pub fn export_ties(&self) -> Vec<(CompactString, Vec<crate::parse::addresses::Net>)> {
        self.tables.iter().flat_map(|t| t.ties.export()).collect()
    }

    /// Takes the ties of a saved [`super::state::Estate`].
    pub fn import_estate(&mut self, e: &super::state::Estate) {
        for (instance, nets) in &e.ties {
            self.tables[partition_of(instance)]
                .ties
                .add(instance.clone(), nets.clone());
        }
    }

    /// Takes rows saved by [`Shard::export`] and sorted by instance (of any shard: each goes to its
    /// partition, a chained session's to its chain root's, which `route_of` says). `contested`
    /// names rows by instance and place among the rows of that instance id, counted over the
    /// entries of the same id (a chained session may share its name with a row of another
    /// partition).
    pub fn import<'a>(
        &mut self,
        saved: Vec<(CompactString, Vec<Row>)>,
        contested: &[(CompactString, u32)],
        route_of: impl Fn(&SessionKey) -> Option<&'a str>,
    ) {
        let contested: HashSet<(&str, u32), ahash::RandomState> =
            contested.iter().map(|(i, n)| (i.as_str(), *n)).collect();
        let mut previous: Option<CompactString> = None;
        let mut n = 0u32;
        for (instance, rows) in saved {
            if previous.as_ref() != Some(&instance) {
                n = 0;
                previous = Some(instance.clone());
            }
            for mut r in rows {
                r.contested = contested.contains(&(instance.as_str(), n));
                n += 1;
                let key = &r.ident;
                let route = (key.workload.kind == Kind::Chained)
                    .then(|| {
                        route_of(&SessionKey {
                            partition: key.partition,
                            account: key.account.clone(),
                            role: key.role.clone(),
                            instance: instance.clone(),
                        })
                    })
                    .flatten();
                let t = &mut self.tables[partition_of(route.unwrap_or(&instance))];
                t.live_rows += 1;
                r.ident = intern(&mut t.idents, (*r.ident).clone());
                t.rows.entry(instance.clone()).push(r);
            }
        }
    }
}

/// One partition of the session table.
pub(super) struct Table {
    pub(super) cfg: DetectorConfig,
    cap: usize,
    pub(super) rows: RowMap,
    pub(super) idents: HashSet<Arc<super::Identity>, ahash::RandomState>,
    /// Recently alerted `eventID`s (hashed), to recognise a record delivered twice.
    alerted: HashMap<u64, Millis, ahash::RandomState>,
    alerted_order: VecDeque<(u64, Millis)>,
    pub(super) live_rows: usize,
    swept_at: Millis,
    steps_since_sweep: usize,
    evicted: u64,
    /// See [`Shard::notable_only`].
    pub(super) notable_only: bool,
    /// Calls judged without a verdict, under `notable_only`.
    pub(super) quiet: u64,
    /// Sessions with a judged call, by [`Kind`](super::workload::Kind).
    pub(super) judged_sessions: [u64; KINDS.len()],
    /// Issues of a kind that is switched off, by kind.
    pub(super) unjudged_issues: [u64; KINDS.len()],
    /// Lambda functions attached to a VPC: (account, function name).
    pub(super) vpc_functions: HashSet<(CompactString, CompactString), ahash::RandomState>,
    /// Addresses the trail tied to this partition's instances.
    pub(super) ties: super::ties::Ties,
    /// Tasks stopped (StopTask), by task id: when (see [`super::TASK_STOP_GRACE`]).
    pub(super) stopped: HashMap<CompactString, Millis, ahash::RandomState>,
}

/// Alerted records remembered per partition for duplicate delivery.
const MAX_ALERTED: usize = 4096;

impl Table {
    fn new(cfg: DetectorConfig, cap: usize) -> Table {
        Table {
            cfg,
            cap,
            rows: RowMap::default(),
            idents: HashSet::default(),
            alerted: HashMap::default(),
            alerted_order: VecDeque::new(),
            live_rows: 0,
            swept_at: Millis::MIN,
            steps_since_sweep: 0,
            evicted: 0,
            notable_only: false,
            quiet: 0,
            judged_sessions: [0; KINDS.len()],
            unjudged_issues: [0; KINDS.len()],
            vpc_functions: HashSet::default(),
            ties: Default::default(),
            stopped: HashMap::default(),
        }
    }

    /// The live rows of `instance` (in `account`, when the record names one) for a record at `time`.
    pub(super) fn rows_of<'a>(
        &'a mut self,
        instance: &str,
        account: &'a Option<CompactString>,
        time: Millis,
        wm: Millis,
    ) -> impl Iterator<Item = &'a mut Row> {
        self.rows
            .get_mut(instance)
            .into_iter()
            .flat_map(|rows| rows.iter_mut())
            .filter(move |row| row.in_account(account) && row.live_at(time, wm))
    }

    /// A new row was added: past the partition's share of `--max-sessions`, room is made.
    pub(super) fn added_row(&mut self, wm: Millis) {
        self.live_rows += 1;
        if self.live_rows > self.cap {
            self.make_room(wm);
        }
    }

    /// The partition is full (a flood of AssumeRoles for made-up instances, or a table sized too
    /// small): drop what has expired, then the eighth of the rows closest to expiry. Ties are broken
    /// by key, so the choice depends only on the partition's own records.
    fn make_room(&mut self, wm: Millis) {
        self.sweep(wm);
        if self.live_rows <= self.cap {
            return;
        }
        let mut all: Vec<(Millis, CompactString, usize)> = self
            .rows
            .iter()
            .flat_map(|(k, rows)| {
                rows.iter()
                    .enumerate()
                    .map(move |(i, r)| (r.expires, k.clone(), i))
            })
            .collect();
        let n = (self.cap / 8).max(1).min(all.len());
        let (_, nth, _) = all.select_nth_unstable_by(n - 1, |a, b| (a.0, &a.1, a.2).cmp(&(b.0, &b.1, b.2)));
        // No two rows share a key and index, so the n first are exactly those up to the n-th.
        let cut = std::mem::take(nth);
        self.rows.retain(|k, rows| {
            let mut i = 0;
            rows.retain(|r| {
                i += 1;
                (r.expires, k, i - 1) > (cut.0, &cut.1, cut.2)
            });
            !rows.is_empty()
        });
        self.live_rows -= n;
        self.evicted += n as u64;
    }

    /// Remembers an alerted record; false if it was alerted already within the TTL.
    pub(super) fn first_alert(&mut self, id: u64, time: Millis, wm: Millis) -> bool {
        let horizon = wm.saturating_sub(self.cfg.ttl);
        while let Some(&(old, at)) = self.alerted_order.front() {
            if at >= horizon && self.alerted_order.len() < MAX_ALERTED {
                break;
            }
            self.alerted_order.pop_front();
            if self.alerted.get(&old) == Some(&at) {
                self.alerted.remove(&old);
            }
        }
        if self.alerted.contains_key(&id) {
            return false;
        }
        self.alerted.insert(id, time);
        self.alerted_order.push_back((id, time));
        true
    }

    /// Drops rows past their grace on the watermark. Amortised: a sweep visits every row, so it
    /// runs only after as many steps as there are instances, and once per quarter of the grace.
    pub(super) fn maybe_sweep(&mut self, wm: Millis) {
        self.steps_since_sweep += 1;
        if self.steps_since_sweep < self.rows.len().max(1024)
            || wm < self.swept_at.saturating_add(LATE_GRACE / 4)
        {
            return;
        }
        self.sweep(wm);
    }

    fn sweep(&mut self, wm: Millis) {
        self.steps_since_sweep = 0;
        self.swept_at = wm;
        let mut removed = 0;
        self.rows.retain(|_, rows| {
            let before = rows.len();
            rows.retain(|row| wm <= row.expires.saturating_add(LATE_GRACE));
            removed += before - rows.len();
            !rows.is_empty()
        });
        self.live_rows -= removed;
        self.idents.retain(|a| Arc::strong_count(a) > 1);
        self.forget_stopped_without_rows();
    }

    /// Forgets the stopped tasks whose rows are gone: their credentials expired with them, so
    /// nothing of theirs is judged any more (and the saved state does not keep them forever).
    pub(super) fn forget_stopped_without_rows(&mut self) {
        if !self.stopped.is_empty() {
            let rows = &self.rows;
            self.stopped.retain(|t, _| rows.get(t.as_str()).is_some());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Resolver;

    /// XXH3-64 as its specification gives it (the empty input's value is the reference
    /// implementation's test vector), and the partitions of a few instance ids: a change of hash
    /// or of its use would move rows between partitions, and with them which rows a full partition
    /// evicts. (Mutation: `% PARTITIONS` on ahash, as before, fails here.)
    #[test]
    fn partitions_are_fixed_by_a_specified_hash() {
        assert_eq!(xxhash_rust::xxh3::xxh3_64(b""), 0x2d06_8005_38d3_94c2);
        let got: Vec<usize> = ["i-0a1b2c3d4e5f60718", "i-0123456789abcdef0", "i-1", ""]
            .iter()
            .map(|i| partition_of(i))
            .collect();
        assert_eq!(got, PINNED_PARTITIONS);
    }

    const PINNED_PARTITIONS: [usize; 4] = [43, 9, 41, 2];

    /// The children that two instances of one role get by assuming one role share one interned
    /// identity (a chained session costs an instance's memory), and a child's verdict still names
    /// its own chain, root first, from the route. (Mutation seen failing here: keeping the
    /// parent's name at the first link too, `name: Some(parent.instance.clone())`.)
    #[test]
    fn chained_children_of_one_role_share_an_identity() {
        use crate::parse::issuer::Issued;
        use crate::parse::record::{CallContext, Fact};
        use crate::parse::session_key::Partition;
        use crate::parse::source_address::Source;
        let key = |account: &str, role: &str, name: &str| SessionKey {
            partition: Partition::Aws,
            account: account.into(),
            role: role.into(),
            instance: name.into(),
        };
        let mut resolver = Resolver::default();
        let mut shard = Shard::new(DetectorConfig::default());
        let mut verdicts = Vec::new();
        let mut feed = |fact: Fact| {
            resolver.route(fact, |r| verdicts.extend(shard.apply(r)));
        };
        // Identities are interned per partition, as the rows are: two instances of one partition.
        let mut same = (0..)
            .map(|n| format!("i-{n}"))
            .filter(|i| partition_of(i) == partition_of("i-0"));
        let (one, two) = (same.next().unwrap(), same.next().unwrap());
        for (n, i) in [one.as_str(), two.as_str()].into_iter().enumerate() {
            let t = n as Millis;
            feed(Fact::Issue {
                session: key("1", "app", i),
                time: t,
                issued: Issued::default(),
            });
            feed(Fact::Chain {
                parent: key("1", "app", i),
                child: key("2", "deploy", &format!("build-{i}")),
                time: t,
                expires: None,
            });
        }
        feed(Fact::Call {
            session: key("2", "deploy", &format!("build-{two}")),
            time: 5,
            source: Source::Ip("3.3.3.3".parse().unwrap()),
            source_text: "3.3.3.3".into(),
            via_endpoint: false,
            context: CallContext::default(),
        });
        let ident = |name: &str| {
            let t = shard.tables.iter().find_map(|t| t.rows.get(name))?;
            t.iter().next().map(|r| r.ident.clone())
        };
        let (a, b) = (
            ident(&format!("build-{one}")).unwrap(),
            ident(&format!("build-{two}")).unwrap(),
        );
        assert!(Arc::ptr_eq(&a, &b), "{a:?} / {b:?}");
        let v = verdicts.last().unwrap();
        assert_eq!(
            v.workload.chain(),
            [format!("arn:aws:sts::1:assumed-role/app/{two}")]
        );
    }
}
