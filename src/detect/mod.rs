//! The Netflix method ("Detecting Credential Compromise in AWS", Bengtson 2018), top to bottom.
//!
//! 1. The EC2 service's AssumeRole for an instance creates or refreshes a row keyed by the session,
//!    live for a TTL of event time.
//! 2. A call by a live session locks the first address it comes from; a later call from an address
//!    outside the lock is a compromise.
//! 3. Exceptions: AWS services calling on the session's behalf; a VPC endpoint's private address,
//!    which has a slot of its own; an address newly attached to the instance; a stop/start.
//!
//! Beyond the blog, what a real estate needs (the private `ties` module): addresses the trail
//! ties to the instance, a NAT gateway's several addresses, the other address family, and
//! evidence against a first call from outside AWS.
//!
//! The state is split in two so that it can be spread over threads without changing a verdict:
//! [`Resolver`] holds what must be seen in input order across all instances (which allocation id
//! is which address, which interface belongs to which instance, the event-time watermark) and
//! turns each [`Fact`](crate::parse::record::Fact) into [`Routed`] steps about one instance; [`Shard`] holds the rows of some
//! instances and applies steps to them. A sequential pass is one resolver feeding one shard.

pub mod dense;
mod egress;
pub mod events;
pub mod peers;
mod resolver;
mod rows;
pub mod state;
pub mod state_file;
mod table;
mod ties;
pub mod workload;

pub use resolver::{Resolver, Routed, Step};
pub use rows::{Identity, Lock, LockOrigin, Row, Slot};
pub use table::{PARTITIONS, Shard, partition_of};

use crate::output::ip_ranges::AwsRanges;
use crate::parse::addresses::Net;
use crate::parse::event_time::{HOUR, Millis};
use crate::parse::issuer::Issued;
use crate::parse::record::CallContext;
use crate::parse::session_key::SessionKey;
use crate::parse::source_address::{Source, is_private};
use compact_str::CompactString;
use rows::{Locks, PendingChange, PendingList, RowMap, intern};
use smallvec::SmallVec;
use std::net::IpAddr;
use std::sync::Arc;
use table::Table;
use ties::{Accepted, Evidence};
use workload::{Kind, Kinds, MAX_CHAIN_DEPTH, Tracked, Up, Workload};

/// How long after its expiry a row is still kept for records delivered late. Past
/// `expires + LATE_GRACE` on the watermark the row is gone, whatever the time of a later record:
/// this is what lets memory follow the live sessions.
pub const LATE_GRACE: Millis = HOUR;
/// Addresses one row may hold (first locks plus accepted changes); beyond it the oldest accepted
/// change is forgotten.
pub const MAX_LOCKS: usize = 16;
/// Address changes waiting to be used per row; beyond it the oldest is dropped.
pub const MAX_PENDING: usize = 8;
/// Lambda functions attached to a VPC remembered per partition; beyond it a newly attached one is
/// not (its calls through a VPC endpoint then alert).
pub const MAX_VPC_FUNCTIONS: usize = 1 << 14;
/// Stopped tasks remembered per partition (see [`TASK_STOP_GRACE`]); beyond it a stopped task's
/// session ends at its StopTask, as before, and a later call with it is not judged.
pub const MAX_STOPPED_TASKS: usize = 1 << 14;
/// How long a task's containers may still run after its StopTask: ECS sends SIGTERM and waits the
/// task's stop timeout (30 s by default, at most 120 s) before SIGKILL. STS does not revoke the
/// task's credentials when it stops: they live until they expire, hours later, so a call with them
/// after this grace comes from a copy of the key, not from the task.
pub const TASK_STOP_GRACE: Millis = 2 * 60 * 1000;
/// Allocation ids and interfaces remembered; beyond it the oldest are forgotten.
pub const MAX_MAP_ENTRIES: usize = 1 << 20;

#[derive(Debug, Clone)]
pub struct DetectorConfig {
    pub ttl: Millis,
    pub change_window: Millis,
    /// Rows held at most, over all partitions.
    pub max_sessions: usize,
    /// Track instance sessions from their first call (`ec2RoleDelivery` set) when their AssumeRole
    /// was never seen. Off by default: the blog's method judges only sessions it saw issued.
    pub infer_sessions: bool,
    /// Accounts whose VPC endpoints an instance may use besides its own and the trail's.
    pub trusted_accounts: Arc<Vec<CompactString>>,
    /// Which workload kinds are judged (`--no-workload`; Lambda functions need the ranges).
    pub kinds: Kinds,
    /// `--aws-ip-ranges`, as evidence of which addresses are AWS's (rules 14 and 17), and where a
    /// Lambda function's calls may come from (21).
    pub ranges: Option<Arc<AwsRanges>>,
    /// `--trusted-networks`: declared egress of the estate outside AWS (17).
    pub trusted_networks: Arc<Vec<Net>>,
    /// The ablation of the estate rules (14 to 17 and the organisation's accounts of 9), for the
    /// estate benchmark's comparison with the blog's method: not a user option.
    #[doc(hidden)]
    pub plain_method: bool,
}

/// Room for two million sessions: about 200 MB of table, and 130 MB for the writer's copy of
/// their locks (same-account peers).
pub const DEFAULT_MAX_SESSIONS: usize = 2_000_000;

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            ttl: 6 * HOUR,
            change_window: 15 * crate::parse::event_time::MINUTE,
            max_sessions: DEFAULT_MAX_SESSIONS,
            infer_sessions: false,
            trusted_accounts: Arc::default(),
            kinds: Kinds::default(),
            ranges: None,
            trusted_networks: Arc::default(),
            plain_method: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerdictKind {
    /// A call from an address outside the lock.
    Compromise,
    /// A call from the locked address, or the first call, which locks its slot.
    Locked,
    /// AWS called on the session's behalf.
    AwsService,
    /// A new address of the instance, accepted because of an address change.
    IpAdded,
    /// The same record (`eventID`) alerted already: CloudTrail delivered it again.
    Duplicate,
}

impl VerdictKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::Compromise => "compromise",
            VerdictKind::Locked => "locked",
            VerdictKind::AwsService => "aws_service",
            VerdictKind::IpAdded => "ip_added",
            VerdictKind::Duplicate => "duplicate",
        }
    }
}

/// What the detector says about one call, with what a reader needs to act on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub kind: VerdictKind,
    pub session: SessionKey,
    /// `sourceIPAddress` as the record wrote it.
    pub source: CompactString,
    /// `source` read as an address, when it is one: parsed once, for the alert's origin, its
    /// finding and the same-account rule.
    pub ip: Option<IpAddr>,
    pub slot: Slot,
    /// The lock after this call (an alert leaves it unchanged).
    pub locks: SmallVec<[Lock; 2]>,
    pub expires: Millis,
    /// This call locked an empty slot.
    pub first_lock: bool,
    /// The session's first call from the address its own issuing record came from
    /// (AssumeRoleWithWebIdentity), which took the lock: same-account peers learn the lock from
    /// it, as from a first lock.
    pub issuer_lock: bool,
    /// For `ip_added`: when the address change was made and whether it named the address.
    pub change: Option<(Millis, bool)>,
    /// The session's row was inferred from its calls (`--infer-sessions`): lower confidence.
    pub inferred: bool,
    /// The alert is for a call through a VPC endpoint of this other, untrusted account.
    pub foreign_endpoint: Option<CompactString>,
    /// Whose credentials these are: the kind, a name for the workload, the chain back to it.
    pub workload: Workload,
    /// Why a rule beyond the lock decided (rules 14 to 17).
    pub why: Option<Why>,
    /// A call from the lock of a session for which another address alerted (17).
    pub contested: bool,
    /// The record sorts before one released early by a short idle of the input (see
    /// `Ordered::release_settled`): it is judged after it, not in event-time order.
    pub overtook_early_release: bool,
    pub time: Millis,
    pub context: CallContext,
}

/// The evidence a verdict rests on when a rule beyond the lock decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// `ip_added`: the trail ties the address to the instance (14).
    Tied,
    /// `ip_added`: another public address of the NAT gateway of a locked address (15).
    SameGateway,
    /// `ip_added`: the other address family inside AWS's EC2 ranges of the lock's region (14).
    OtherFamily,
    /// `compromise`: a first call from outside AWS and outside `--trusted-networks` (17).
    OutsideAws,
    /// `compromise`: a private address the trail does not tie to the instance, while it ties
    /// others (14).
    UntiedPrivate,
    /// `ip_added`: the trail ties the address to the instance, and the locked address, which it
    /// does not, moved out of the lock (17).
    LockMoved(IpAddr),
    /// `ip_added`: with `--aws-ip-ranges`, the address lies in the instance's own region (its
    /// AssumeRole's) and the locked one, also inside AWS, in another: the lock moved from it (17).
    OwnRegion(IpAddr),
    /// `compromise`: a call with an ECS task's credentials more than [`TASK_STOP_GRACE`] after the
    /// task's StopTask, whatever its address (18).
    AfterTaskStopped,
}

impl Why {
    pub fn as_str(self) -> &'static str {
        match self {
            Why::Tied => "tied",
            Why::SameGateway => "nat_gateway",
            Why::OtherFamily => "other_family",
            Why::OutsideAws => "outside_aws",
            Why::UntiedPrivate => "untied_private",
            Why::LockMoved(_) => "lock_moved",
            Why::OwnRegion(_) => "own_region",
            Why::AfterTaskStopped => "after_task_stopped",
        }
    }

    /// The address that left the lock as the thief's, when the lock moved.
    pub fn moved_from(self) -> Option<IpAddr> {
        match self {
            Why::LockMoved(ip) | Why::OwnRegion(ip) => Some(ip),
            _ => None,
        }
    }
}

/// An alert, a first lock, an added address or a call from the lock of a contested session: the
/// verdicts that alerts and findings act on (see [`Shard::notable_only`]), and that the writer
/// tells same-account peers about.
pub fn notable(kind: VerdictKind, first_lock: bool, contested: bool) -> bool {
    matches!(kind, VerdictKind::Compromise | VerdictKind::IpAdded) || first_lock || contested
}

impl Table {
    /// One step, against the state before it: only calls get a verdict.
    fn apply(&mut self, r: Routed) -> Option<Verdict> {
        let wm = r.watermark;
        self.maybe_sweep(wm);
        match r.step {
            Step::Issue {
                session,
                time,
                issued,
            } => {
                self.issue(session, time, issued, wm);
                None
            }
            Step::Chain {
                parent,
                child,
                time,
                expires,
            } => {
                self.chain(&parent, child, time, expires, wm);
                None
            }
            Step::End { task, account, time } => {
                self.end(&task, &account, time, wm);
                None
            }
            Step::FunctionVpc {
                function,
                account,
                attached,
            } => {
                let key = (account, function);
                if !attached {
                    self.vpc_functions.remove(&key);
                } else if self.vpc_functions.len() < MAX_VPC_FUNCTIONS {
                    self.vpc_functions.insert(key);
                }
                None
            }
            Step::Call {
                session,
                time,
                source,
                source_text,
                via_endpoint,
                context,
                egress,
            } => {
                let call = Call {
                    session,
                    time,
                    source,
                    source_text,
                    via_endpoint,
                    egress,
                    route: r.route,
                };
                self.call(call, context, wm)
            }
            Step::Tie { instance, nets } => {
                self.ties.add(instance, nets);
                None
            }
            Step::Change {
                instance,
                account,
                time,
                address,
            } => {
                self.change(&instance, &account, time, address, wm);
                None
            }
            Step::Restart {
                instance,
                account,
                time,
            } => {
                self.restart(&instance, &account, time, wm);
                None
            }
        }
    }

    /// (1, 2, 18 to 21) A workload's issue creates a row live until `time + ttl` (or the
    /// credentials' own expiration, when the record gives it for a workload other than an
    /// instance), or refreshes it.
    fn issue(&mut self, session: SessionKey, time: Millis, issued: Issued, wm: Millis) {
        if !self.cfg.kinds.on(issued.kind) {
            self.unjudged_issues[issued.kind as usize] += 1;
            return;
        }
        let expires = issued
            .expires
            .unwrap_or_else(|| time.saturating_add(self.cfg.ttl));
        let workload = Tracked {
            kind: issued.kind,
            detail: issued.detail,
            up: None,
        };
        let first: SmallVec<[Lock; 2]> = issued
            .first_lock
            .map(|ip| Lock {
                ip,
                slot: slot_of(ip, issued.via_endpoint),
                since: time,
                origin: LockOrigin::Issuer,
            })
            .into_iter()
            .collect();
        self.upsert(session, expires, (workload, issued.region), &first, time, wm);
    }

    /// The row of `session` created, refreshed (its locks kept and its expiry never shortened:
    /// CloudTrail may deliver an older issue after a newer one) or restarted empty after expiry;
    /// `locks` join its locks unless they hold the address in that slot already. The region (17)
    /// is the one of the record that created the row: a refresh from elsewhere does not move it.
    fn upsert(
        &mut self,
        session: SessionKey,
        expires: Millis,
        (workload, region): (Tracked, Option<CompactString>),
        locks: &[Lock],
        time: Millis,
        wm: Millis,
    ) {
        let add = |row: &mut Row| {
            for l in locks {
                if !row.locks.iter().any(|h| h.slot == l.slot && h.ip == l.ip) && row.locks.len() < MAX_LOCKS
                {
                    row.locks.push(*l);
                }
            }
        };
        let existing = self
            .rows
            .get_mut(&session.instance)
            .and_then(|rows| rows.iter_mut().find(|row| row.is(&session)));
        if let Some(row) = existing {
            if row.live_at(time, wm) {
                row.expires = row.expires.max(expires);
            } else {
                row.expires = expires;
                row.locks.clear();
                row.pending.clear();
                row.inferred = false;
                row.contested = false;
            }
            row.inferred = false;
            add(row);
            if row.ident.workload != workload {
                let ident = intern(
                    &mut self.idents,
                    Identity {
                        workload,
                        ..(*row.ident).clone()
                    },
                );
                if let Some(row) = self
                    .rows
                    .get_mut(&session.instance)
                    .and_then(|rows| rows.iter_mut().find(|row| row.is(&session)))
                {
                    row.ident = ident;
                }
            }
            return;
        }
        let ident = intern(
            &mut self.idents,
            Identity {
                partition: session.partition,
                account: session.account,
                role: session.role,
                region,
                workload,
            },
        );
        let mut row = Row {
            ident,
            expires,
            locks: Locks::None,
            pending: PendingList::default(),
            inferred: false,
            judged: false,
            contested: false,
        };
        add(&mut row);
        self.rows.entry(session.instance).push(row);
        self.added_row(wm);
    }

    /// (22) A live session's AssumeRole: the session it returned inherits its locks and lives
    /// until its own expiration, to [`MAX_CHAIN_DEPTH`] sessions below the workload's.
    fn chain(
        &mut self,
        parent: &SessionKey,
        child: SessionKey,
        time: Millis,
        expires: Option<Millis>,
        wm: Millis,
    ) {
        if !self.cfg.kinds.on(Kind::Chained) {
            return;
        }
        let Some(p) = self
            .rows
            .get(&parent.instance)
            .and_then(|rs| rs.iter().find(|r| r.is(parent) && r.live_at(time, wm)))
        else {
            return;
        };
        // A Lambda function's session has no lock to pass on.
        if p.ident.workload.depth() + 1 > MAX_CHAIN_DEPTH || p.ident.workload.kind == Kind::Function {
            return;
        }
        // The parent's name is needed only below the first link: the root's is the route's key.
        let workload = Tracked {
            kind: Kind::Chained,
            detail: None,
            up: Some(Arc::new(Up {
                name: (p.ident.workload.kind == Kind::Chained).then(|| parent.instance.clone()),
                ident: p.ident.clone(),
            })),
        };
        let locks: SmallVec<[Lock; 2]> = p.locks.iter().copied().collect();
        // The chain runs where its workload does: the root's region.
        let region = p.ident.region.clone();
        let expires = expires.unwrap_or(time.saturating_add(workload::CHAIN_DEFAULT_LIFE));
        self.upsert(child, expires, (workload, region), &locks, time, wm);
    }

    /// (18) StopTask: the task's session ends; its later calls are not judged.
    fn end(&mut self, task: &str, account: &Option<CompactString>, time: Millis, wm: Millis) {
        let known = self.stopped.contains_key(task);
        if !known && self.stopped.len() >= MAX_STOPPED_TASKS {
            // Full: the tasks whose rows are gone are forgotten first.
            self.forget_stopped_without_rows();
        }
        let room = known || self.stopped.len() < MAX_STOPPED_TASKS;
        let mut ended = false;
        for row in self.rows_of(task, account, time, wm) {
            if row.ident.workload.kind == Kind::Task {
                // The session stays, so that a later call with its credentials is seen (see
                // `TASK_STOP_GRACE`); with no room to remember the stop, it ends here.
                if !room {
                    row.expires = row.expires.min(time);
                }
                ended = true;
            }
        }
        if ended && room {
            let at = self.stopped.entry(CompactString::from(task)).or_insert(time);
            *at = (*at).min(time);
        }
    }

    /// (3) A call by a live session is judged: against someone else's VPC endpoint (9), or by its
    /// address against the lock (4 to 6); an alert for a record alerted already is a duplicate
    /// (10). With `--infer-sessions`, instance credentials without a row create their row (11).
    fn call(&mut self, c: Call, context: CallContext, wm: Millis) -> Option<Verdict> {
        let time = c.time;
        let live = |rows: &RowMap| {
            rows.get(&c.session.instance)
                .is_some_and(|rs| rs.iter().any(|r| r.is(&c.session) && r.live_at(time, wm)))
        };
        if self.cfg.infer_sessions
            && context.role_delivery
            && events::inferable(&c.session)
            && !live(&self.rows)
        {
            self.infer(&c.session, time, wm);
        }
        // Looked up only when a task was ever stopped in this partition.
        let stopped_at = (!self.stopped.is_empty())
            .then(|| self.stopped.get(c.session.instance.as_str()).copied())
            .flatten();
        // One lookup for the row: every call record comes here, and finding it is most of the cost.
        let row = self
            .rows
            .get_mut(&c.session.instance)?
            .iter_mut()
            .find(|r| r.is(&c.session) && r.live_at(time, wm))?;
        let plain = self.cfg.plain_method;
        // A copy, not a borrow of the row the rules then change: a region name is stored inline
        // (the parser keeps only names that fit), so this is a 24-byte copy, and the identity's
        // reference count, shared by every row of the role across threads, is not touched.
        let region = row.ident.region.clone();
        if !row.judged {
            row.judged = true;
            self.judged_sessions[row.ident.workload.kind as usize] += 1;
        }
        let evidence = Evidence::new(
            &self.ties,
            &c.session.instance,
            c.egress.as_deref(),
            self.cfg.ranges.as_deref().filter(|_| !plain),
            if plain { &[] } else { &self.cfg.trusted_networks },
            region.as_deref(),
        )
        .for_kind(row.ident.workload.kind);
        // An endpoint in another, untrusted account: the attacker's own VPC endpoint hides where the
        // stolen keys are used, whatever the address says.
        let foreign_endpoint = context
            .endpoint_account
            .clone()
            .filter(|a| *a != row.ident.account && !self.cfg.trusted_accounts.contains(a));
        // (18) A call of a task more than the grace after its StopTask: not the task's.
        let stopped = row.ident.workload.kind == Kind::Task
            && !matches!(c.source, Source::AwsService)
            && stopped_at.is_some_and(|at| time > at.saturating_add(TASK_STOP_GRACE));
        let mut v = match &foreign_endpoint {
            _ if stopped => {
                let mut v = verdict(after_stop(&c), c, row);
                v.foreign_endpoint = foreign_endpoint;
                v
            }
            Some(_) => {
                let outcome = Outcome {
                    kind: VerdictKind::Compromise,
                    slot: Slot::Private,
                    first_lock: false,
                    issuer_lock: false,
                    change: None,
                    why: None,
                };
                let mut v = verdict(outcome, c, row);
                v.foreign_endpoint = foreign_endpoint;
                v
            }
            None if row.ident.workload.kind == Kind::Function => {
                let attached = self
                    .vpc_functions
                    .contains(&(row.ident.account.clone(), c.session.instance.clone()));
                let j = function_outcome(row, &c, self.cfg.ranges.as_deref(), attached)?;
                if self.notable_only && !notable(j.kind, j.first_lock, false) {
                    self.quiet += 1;
                    return None;
                }
                verdict(j, c, row)
            }
            None => {
                let j = address_outcome(row, &c, self.cfg.change_window, &evidence)?;
                if j.kind == VerdictKind::Compromise {
                    row.contested = true;
                }
                let contested = row.contested && j.kind == VerdictKind::Locked;
                if self.notable_only && !notable(j.kind, j.first_lock || j.issuer_lock, contested) {
                    self.quiet += 1;
                    return None;
                }
                verdict(j, c, row)
            }
        };
        if v.kind == VerdictKind::Compromise
            && context.event_id != 0
            && !self.first_alert(context.event_id, time, wm)
        {
            v.kind = VerdictKind::Duplicate;
        }
        v.time = time;
        v.context = context;
        Some(v)
    }

    /// Whether a call's verdict is settled as of `settle_at` (the arrival watermark less the
    /// lateness): the session is live with a row of its own, it is no Lambda function, no address
    /// change waits on it, it is not contested, and the call comes from AWS on its behalf or from
    /// an address locked at `settle_at` or earlier. Such a call changes no row (a call from the
    /// lock is judged before any other rule), so judging it before the records that may still
    /// arrive with earlier times changes no other verdict; only a change to the lock itself (an
    /// earlier-timed record arriving later) could change its own, and that record is marked.
    pub(super) fn settled(&self, c: &SettledCall<'_>, settle_at: Millis, wm: Millis) -> bool {
        let Some(row) = self
            .rows
            .get(&c.session.instance)
            .and_then(|rs| rs.iter().find(|r| r.is(c.session) && r.live_at(c.time, wm)))
        else {
            return false;
        };
        if row.ident.workload.kind == Kind::Function || row.pending.len() > 0 || row.contested {
            return false;
        }
        // A stopped task's calls turn into alerts once its grace is over: none is settled.
        if row.ident.workload.kind == Kind::Task && self.stopped.contains_key(c.session.instance.as_str()) {
            return false;
        }
        match c.source {
            Source::AwsService => true,
            Source::Ip(ip) => {
                let slot = slot_of(*ip, c.via_endpoint);
                let Some(l) = row.locks.iter().find(|l| l.slot == slot && l.ip == *ip) else {
                    return false;
                };
                // A first lock that rule 17 may still show to be a thief's (the instance has tied
                // addresses, or the lock is in AWS in another region) is no settled lock.
                let home = row.ident.region.as_deref();
                let foreign = self
                    .cfg
                    .ranges
                    .as_deref()
                    .zip(home)
                    .is_some_and(|(r, home)| r.lookup(l.ip).is_some_and(|o| o.region != home));
                let movable = l.origin == LockOrigin::FirstUse
                    && (foreign || !self.ties.of(&c.session.instance).is_empty());
                // The first call from an issuer's lock changes the row (it tells the peers).
                l.since <= settle_at && !movable && l.origin != LockOrigin::Issuer
            }
            Source::NotAnAddress => false,
        }
    }

    /// (11) Creates the row of a session known only from its calls.
    fn infer(&mut self, session: &SessionKey, time: Millis, wm: Millis) {
        self.issue(session.clone(), time, Issued::default(), wm);
        if let Some(row) = self
            .rows
            .get_mut(&session.instance)
            .and_then(|rs| rs.iter_mut().find(|r| r.is(session)))
        {
            row.inferred = true;
        }
    }

    /// (6) An address change for the instance: each live row of it may accept one new address.
    fn change(
        &mut self,
        instance: &str,
        account: &Option<CompactString>,
        time: Millis,
        address: Option<IpAddr>,
        wm: Millis,
    ) {
        for row in self.rows_of(instance, account, time, wm) {
            if row.pending.len() >= MAX_PENDING {
                row.pending.remove(0);
            }
            row.pending.push(PendingChange {
                at: time,
                ip: address,
            });
        }
    }

    /// (7, 16) A stop or start, by anyone or by EC2 itself (a Spot interruption): the instance
    /// comes back with a new address, so both slots are emptied.
    fn restart(&mut self, instance: &str, account: &Option<CompactString>, time: Millis, wm: Millis) {
        for row in self.rows_of(instance, account, time, wm) {
            row.locks.clear();
            row.contested = false;
        }
    }
}

/// What a call's address is to its row: the verdict's kind, the slot, whether it locked the slot,
/// and the address change that accepted it.
struct Outcome {
    kind: VerdictKind,
    slot: Slot,
    first_lock: bool,
    /// The session's first call from the lock its issuing record took (see
    /// [`Verdict::issuer_lock`]).
    issuer_lock: bool,
    change: Option<(Millis, bool)>,
    why: Option<Why>,
}

/// (21) A Lambda function's call, judged by where it came from: its session is shared by every
/// execution environment of the function, which call from many AWS addresses, so there is no
/// lock. An AWS address of the function's region is its own; an address outside AWS or of another
/// region alerts; a private address is the function's only through a VPC endpoint, and only when
/// the function is attached to a VPC.
fn function_outcome(row: &Row, c: &Call, ranges: Option<&AwsRanges>, vpc_attached: bool) -> Option<Outcome> {
    let plain = |kind| Outcome {
        kind,
        slot: Slot::Public,
        first_lock: false,
        issuer_lock: false,
        change: None,
        why: None,
    };
    let ip = match &c.source {
        Source::Ip(ip) => *ip,
        Source::AwsService => return Some(plain(VerdictKind::AwsService)),
        Source::NotAnAddress => return None,
    };
    if is_private(&ip) {
        let ok = c.via_endpoint && vpc_attached;
        return Some(Outcome {
            slot: Slot::Private,
            ..plain(if ok {
                VerdictKind::Locked
            } else {
                VerdictKind::Compromise
            })
        });
    }
    let region = row.ident.workload.detail.as_deref();
    let home = ranges?
        .lookup(ip)
        .is_some_and(|r| region.is_none_or(|want| r.region == want));
    Some(plain(if home {
        VerdictKind::Locked
    } else {
        VerdictKind::Compromise
    }))
}

/// Judges a call's address against its live row, and updates the row's locks and pending
/// changes.
fn address_outcome(row: &mut Row, c: &Call, window: Millis, ev: &Evidence<'_>) -> Option<Outcome> {
    let plain = |kind, slot| Outcome {
        kind,
        slot,
        first_lock: false,
        issuer_lock: false,
        change: None,
        why: None,
    };
    let ip = match &c.source {
        Source::Ip(ip) => *ip,
        Source::AwsService => return Some(plain(VerdictKind::AwsService, Slot::Public)),
        Source::NotAnAddress => return None,
    };
    let time = c.time;
    let slot = slot_of(ip, c.via_endpoint);
    if let Some(l) = row.locks.iter_mut().find(|l| l.slot == slot && l.ip == ip) {
        // The lock an AssumeRoleWithWebIdentity took from its own address is told to
        // same-account peers on the session's first call from it, as a first use is: the
        // issuing record gives no verdict of its own to carry it.
        let issuer_lock = l.origin == LockOrigin::Issuer;
        if issuer_lock {
            l.origin = LockOrigin::IssuerCalled;
        }
        return Some(Outcome {
            issuer_lock,
            ..plain(VerdictKind::Locked, slot)
        });
    }
    let alert = |why| {
        Some(Outcome {
            why,
            ..plain(VerdictKind::Compromise, slot)
        })
    };
    if !row.locks.iter().any(|l| l.slot == slot) {
        // (14) The trail names the instance's private addresses: the endpoint slot takes only
        // those, instead of whoever uses the endpoint first.
        if slot == Slot::Private && ev.ties_private() && !ev.tied(ip) {
            return alert(Some(Why::UntiedPrivate));
        }
        // (17) An EC2 instance does not call from outside AWS, unless through a declared network.
        if slot == Slot::Public && ev.outside(ip) {
            return alert(Some(Why::OutsideAws));
        }
        let origin = if ev.tied(ip) {
            LockOrigin::Tied
        } else {
            LockOrigin::FirstUse
        };
        row.locks.push(Lock {
            ip,
            slot,
            since: time,
            origin,
        });
        return Some(Outcome {
            first_lock: true,
            ..plain(VerdictKind::Locked, slot)
        });
    }
    if slot == Slot::Private && ev.ties_private() && !ev.tied(ip) {
        return alert(Some(Why::UntiedPrivate));
    }
    // A change that named this address wins; otherwise the open window that closes first.
    let pending = |row: &Row| {
        let named = row.pending.iter().position(|p| p.ip == Some(ip));
        named.or_else(|| {
            row.pending
                .iter()
                .enumerate()
                .filter(|(_, p)| p.ip.is_none() && p.at <= time && time <= p.at.saturating_add(window))
                .min_by_key(|(_, p)| p.at)
                .map(|(i, _)| i)
        })
    };
    if let Some(a) = ev.accepts(ip, slot, &row.locks) {
        let (origin, mut why) = match a {
            Accepted::Tied => (LockOrigin::Tied, Why::Tied),
            Accepted::SameGateway => (LockOrigin::SameGateway, Why::SameGateway),
            Accepted::OtherFamily => (LockOrigin::OtherFamily, Why::OtherFamily),
        };
        if a == Accepted::Tied {
            // The change that brought the tied address (an interface attached) is used up by it,
            // so its window is no free slot for another address.
            if let Some(used) = pending(row) {
                row.pending.remove(used);
            }
            // (17) The thief who called first: the trail ties this address to the instance, and
            // the first lock of its family is neither tied nor one of the instance's other
            // egresses, so that lock is the thief's. It leaves the lock, and its later calls alert.
            if let Some(i) = ev.thief_lock(ip, slot, &row.locks) {
                let thief = row.locks.remove(i);
                why = Why::LockMoved(thief.ip);
            }
        }
        add_lock(row, ip, slot, time, origin);
        return Some(Outcome {
            why: Some(why),
            ..plain(VerdictKind::IpAdded, slot)
        });
    }
    let Some(used) = pending(row) else {
        return region_move(row, ip, slot, time, ev).or_else(|| alert(None));
    };
    let change = row.pending.remove(used);
    add_lock(row, ip, slot, time, LockOrigin::AddressChange);
    Some(Outcome {
        change: Some((change.at, change.ip.is_some())),
        ..plain(VerdictKind::IpAdded, slot)
    })
}

/// (17) Both addresses inside AWS, the call's in the instance's own region and the lock's in
/// another: the lock was the thief's (a machine of theirs in AWS), and moves to the call's.
fn region_move(row: &mut Row, ip: IpAddr, slot: Slot, time: Millis, ev: &Evidence<'_>) -> Option<Outcome> {
    let i = ev.foreign_region_lock(ip, slot, &row.locks)?;
    let thief = row.locks.remove(i);
    add_lock(row, ip, slot, time, LockOrigin::OwnRegion);
    Some(Outcome {
        kind: VerdictKind::IpAdded,
        slot,
        first_lock: false,
        issuer_lock: false,
        change: None,
        why: Some(Why::OwnRegion(thief.ip)),
    })
}

/// An accepted address joins the lock; past [`MAX_LOCKS`] the oldest accepted one is forgotten
/// (a first lock stays).
fn add_lock(row: &mut Row, ip: IpAddr, slot: Slot, time: Millis, origin: LockOrigin) {
    if row.locks.len() >= MAX_LOCKS
        && let Some(oldest) = row.locks.iter().position(|l| l.origin != LockOrigin::FirstUse)
    {
        row.locks.remove(oldest);
    }
    row.locks.push(Lock {
        ip,
        slot,
        since: time,
        origin,
    });
}

/// The slot an address is locked in: private when seen through a VPC endpoint (5).
/// (18) A task's call more than [`TASK_STOP_GRACE`] after its StopTask: an alert, whatever the
/// address.
fn after_stop(c: &Call) -> Outcome {
    Outcome {
        kind: VerdictKind::Compromise,
        slot: match c.source {
            Source::Ip(ip) => slot_of(ip, c.via_endpoint),
            Source::AwsService | Source::NotAnAddress => Slot::Public,
        },
        first_lock: false,
        issuer_lock: false,
        change: None,
        why: Some(Why::AfterTaskStopped),
    }
}

fn slot_of(ip: IpAddr, via_endpoint: bool) -> Slot {
    if via_endpoint && is_private(&ip) {
        Slot::Private
    } else {
        Slot::Public
    }
}

/// What `Table::settled` looks at of a call.
pub(crate) struct SettledCall<'a> {
    pub(crate) session: &'a SessionKey,
    pub(crate) time: Millis,
    pub(crate) source: &'a Source,
    pub(crate) via_endpoint: bool,
}

struct Call {
    session: SessionKey,
    time: Millis,
    source: Source,
    source_text: CompactString,
    via_endpoint: bool,
    egress: Option<Arc<[IpAddr]>>,
    /// The name of the session at the root of a chained session's chain.
    route: Option<CompactString>,
}

fn verdict(o: Outcome, c: Call, row: &Row) -> Verdict {
    Verdict {
        kind: o.kind,
        session: c.session,
        source: c.source_text,
        ip: match c.source {
            Source::Ip(ip) => Some(ip),
            Source::AwsService | Source::NotAnAddress => None,
        },
        slot: o.slot,
        locks: row.locks.iter().copied().collect(),
        expires: row.expires,
        first_lock: o.first_lock,
        issuer_lock: o.issuer_lock,
        change: o.change,
        inferred: row.inferred,
        foreign_endpoint: None,
        workload: row.ident.workload.named(c.route.as_deref()),
        why: o.why,
        contested: row.contested && o.kind == VerdictKind::Locked,
        overtook_early_release: false,
        time: 0,
        context: CallContext::default(),
    }
}
