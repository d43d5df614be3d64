//! What a run saw: the counts of the summary line, and the alerts by who and where for a person at
//! a terminal.

use crate::detect::workload::{KINDS, Kind, Kinds};
use std::collections::BTreeMap;

/// What a run saw. `records` counts CloudTrail records and envelopes; `malformed` the lines (or
/// body elements) that could not be read.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    pub records: u64,
    pub judged: u64,
    pub alerts: u64,
    pub malformed: u64,
    pub sessions: u64,
    /// Inputs that could not be opened or read to the end.
    pub input_errors: u64,
    /// Sessions dropped because the table was full (`--max-sessions`).
    pub evicted: u64,
    /// `--emit findings`: alerts past the bounds on open incidents, written as findings of their
    /// own (Create and Close, `not_tracked`) instead of joining an incident.
    pub findings_shed: u64,
    /// Alerts by (account, role, instance, foreign address), sorted (not for `--emit findings`).
    pub alert_table: Vec<AlertRow>,
    /// The reader of our output went away (`| head -1`); the run stopped early.
    pub output_closed: bool,
    /// Sessions with a judged call, by workload kind (in [`KINDS`] order).
    pub judged_by_kind: [u64; KINDS.len()],
    /// Issues of a kind switched off, by kind.
    pub unjudged_by_kind: [u64; KINDS.len()],
    /// The kinds the run judged.
    pub kinds: Kinds,
    /// Records judged when they came because a later-timed one had been released already.
    pub late: u64,
    /// Records dated more than an hour past the wall clock (judged when they came).
    pub far_future: u64,
    /// Records whose `eventID` was read already: passed on, not judged again.
    pub duplicates: u64,
    /// Records released from the reorder window early because it held too many bytes.
    pub forced: u64,
    /// Released before their time by a short idle of the input, their verdicts settled.
    pub early: u64,
    /// Records within the bound judged after a record released early that sorts after them
    /// (marked `overtook_early_release`).
    pub overtook: u64,
    /// Records left waiting in the window at the end (with `--state`: saved for the next run).
    pub held: u64,
    /// What the window held at its fullest (see [`HeldPeak`]).
    pub peak_held: HeldPeak,
    /// Input lines read by this and earlier runs (`--state`): where the next run starts.
    pub position: u64,
    /// The newest event time read.
    pub watermark: Option<crate::parse::event_time::Millis>,
    /// The run saved a `--state`: the summary says where the next one resumes.
    pub resume: bool,
    /// CloudTrail digest files left out of a walked tree: not records, not malformed.
    pub digests_skipped: u64,
}

/// One row of the alert summary: account, role, workload kind, workload (its session name),
/// foreign address, alerts.
pub type AlertRow = (String, String, String, String, String, u64);

impl Stats {
    /// The alerts as a table for a person at a terminal, most alerts first.
    pub fn alert_table_text(&self) -> String {
        if self.alert_table.is_empty() {
            return String::new();
        }
        // Role names and session names come from the input: shown, never acted on.
        let shown = |s: &str| super::printable::printable(s).into_owned();
        let mut rows: Vec<AlertRow> = self
            .alert_table
            .iter()
            .map(|r| {
                (
                    shown(&r.0),
                    shown(&r.1),
                    r.2.clone(),
                    shown(&r.3),
                    shown(&r.4),
                    r.5,
                )
            })
            .collect();
        rows.sort_by(|a, b| b.5.cmp(&a.5).then_with(|| a.cmp(b)));
        let head = ("account", "role", "kind", "workload", "foreign address", "alerts");
        let w = |f: &dyn Fn(&AlertRow) -> usize, h: &str| rows.iter().map(f).max().unwrap_or(0).max(h.len());
        let (w0, w1, w2, w3, w4) = (
            w(&|r| r.0.len(), head.0),
            w(&|r| r.1.len(), head.1),
            w(&|r| r.2.len(), head.2),
            w(&|r| r.3.len(), head.3),
            w(&|r| r.4.len(), head.4),
        );
        let mut out = format!(
            "{:w0$}  {:w1$}  {:w2$}  {:w3$}  {:w4$}  {}\n",
            head.0, head.1, head.2, head.3, head.4, head.5
        );
        for r in &rows {
            out.push_str(&format!(
                "{:w0$}  {:w1$}  {:w2$}  {:w3$}  {:w4$}  {}\n",
                r.0, r.1, r.2, r.3, r.4, r.5
            ));
        }
        out
    }

    /// Sessions judged by kind, and why Lambda sessions were not, when they were not: the line
    /// before [`Stats::summary`]'s.
    pub fn kinds_line(&self) -> String {
        let mut s = String::from("credtrail: sessions judged by kind:");
        let mut first = true;
        for (i, k) in KINDS.into_iter().enumerate() {
            if self.kinds.on(k) {
                s.push_str(&format!(
                    "{} {} {}",
                    if first { "" } else { "," },
                    self.judged_by_kind[i],
                    k.as_str()
                ));
                first = false;
            }
        }
        let f = Kind::Function as usize;
        if !self.kinds.on(Kind::Function) {
            s.push_str(&format!(
                "; Lambda sessions were not judged ({} issued; they are judged with --aws-ip-ranges, unless --no-workload function)",
                self.unjudged_by_kind[f]
            ));
        }
        s
    }

    pub fn summary(&self) -> String {
        // Said when there is something to count: a run that judged nothing says so in one line.
        let seen = self
            .judged_by_kind
            .iter()
            .chain(&self.unjudged_by_kind)
            .any(|&n| n > 0);
        let kinds = if seen {
            self.kinds_line() + "\n"
        } else {
            String::new()
        };
        let mut s = format!(
            "{kinds}credtrail: {} records, {} judged, {} alerts, {} malformed, {} sessions live",
            self.records, self.judged, self.alerts, self.malformed, self.sessions
        );
        for (n, what) in [
            (self.late, "late (judged when they came)"),
            (self.far_future, "far-future"),
            (self.duplicates, "duplicates"),
            (self.forced, "released early (window full)"),
            (self.overtook, "overtook an early release"),
            (self.held, "held for the next run"),
        ] {
            if n > 0 {
                s.push_str(&format!(", {n} {what}"));
            }
        }
        if self.resume {
            s.push_str(&format!(
                "\ncredtrail: state saved: resume after line {} of the input (all runs), event-time watermark {}",
                self.position,
                self.watermark.map_or_else(|| "none".into(), crate::parse::event_time::format)
            ));
        }
        if self.digests_skipped > 0 {
            s.push_str(&format!(", {} digest files skipped", self.digests_skipped));
        }
        if self.evicted > 0 {
            s.push_str(&format!(
                "\ncredtrail: warning: the session table was full (--max-sessions): {} sessions closest \
                 to expiry were evicted and their later calls not judged",
                self.evicted
            ));
        }
        if self.findings_shed > 0 {
            s.push_str(&format!(
                "\ncredtrail: warning: {} alerts past the bounds on open incidents (256 per session, \
                 256 MiB in all) were written as findings of their own (close_reason not_tracked), \
                 not grouped into incidents",
                self.findings_shed
            ));
        }
        s
    }
}

/// Alerts counted by account, role, workload and foreign address, for [`Stats::alert_table`].
#[derive(Default)]
pub struct AlertTable {
    rows: BTreeMap<(String, String, String, String, String), u64>,
    /// Alerts counted, whether or not the table had room for their row.
    pub alerts: u64,
    /// Instances whose lock moved away from a thief who called first, and that thief's address
    /// (rule 17): their rows say which address is whose.
    moved: BTreeMap<String, std::net::IpAddr>,
}

impl AlertTable {
    /// Rows kept at most: a flood of alerts from made-up addresses must not grow it without bound.
    const MAX: usize = 100_000;

    /// One alert; `why` is the evidence that decided it, when a rule of real estates did.
    pub fn count(
        &mut self,
        account: &str,
        role: &str,
        (kind, workload): (Kind, &str),
        ip: std::net::IpAddr,
        why: Option<&str>,
    ) {
        self.alerts += 1;
        if self.rows.len() < Self::MAX {
            let label = match (why, self.moved.get(workload)) {
                (Some(w), _) => format!("{ip} ({w})"),
                (None, Some(thief)) if *thief == ip => format!("{ip} (called first, lock moved)"),
                _ => ip.to_string(),
            };
            let k = (
                account.into(),
                role.into(),
                kind.as_str().into(),
                workload.into(),
                label,
            );
            *self.rows.entry(k).or_default() += 1;
        }
    }

    /// The lock of `instance` moved to `own`, which the trail ties to it (or, `by_region`, which
    /// lies in its own region), away from `thief`: the alerts counted for `own` while the thief
    /// held the lock were the instance's own calls.
    pub fn lock_moved(
        &mut self,
        account: &str,
        role: &str,
        (kind, instance): (Kind, &str),
        (own, thief): (std::net::IpAddr, std::net::IpAddr),
        by_region: bool,
    ) {
        self.moved.insert(instance.into(), thief);
        let k = (
            account.into(),
            role.into(),
            kind.as_str().into(),
            instance.into(),
            own.to_string(),
        );
        if let Some(n) = self.rows.remove(&k) {
            let relabelled = (
                k.0,
                k.1,
                k.2,
                k.3,
                if by_region {
                    format!("{own} (the {}'s own: in its own region)", kind.as_str())
                } else {
                    format!("{own} (the {}'s own: tied by the trail)", kind.as_str())
                },
            );
            *self.rows.entry(relabelled).or_default() += n;
        }
    }

    pub fn take_rows(&mut self) -> Vec<AlertRow> {
        std::mem::take(&mut self.rows)
            .into_iter()
            .map(|((a, r, k, w, ip), n)| (a, r, k, w, ip, n))
            .collect()
    }
}

/// The most bytes the reorder window held (blocks waiting for output and the entries' facts), and
/// the records in the window then: what a held record costs (`cargo bench --bench micro`).
///
/// A measure of the run, not of the trail: it depends on where blocks were cut and on the thread
/// count, so it equals every other, and stats that must agree across thread counts still do.
#[derive(Debug, Default, Clone, Copy)]
pub struct HeldPeak {
    pub bytes: u64,
    pub records: u64,
}

impl PartialEq for HeldPeak {
    fn eq(&self, _: &HeldPeak) -> bool {
        true
    }
}

impl Eq for HeldPeak {}
