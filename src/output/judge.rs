//! Judging into lines: what each verdict becomes in the mode asked for (an annotation to splice
//! into its record, or finding lines), and when the findings clock closes incidents.

use super::annotation::{self, Annotator};
use super::findings::{Alert, Incident, Incidents};
use super::summary::{AlertRow, AlertTable};
use crate::config::{Emit, Progress};
use crate::detect::peers::Peer;
use crate::detect::{Verdict, VerdictKind, Why};
use crate::parse::event_time::{MINUTE, Millis};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// What one unit (a record) of a block gets: an annotation, or finding lines.
pub struct Judgement {
    pub unit: u32,
    /// Place among the unit's lines: 0 for findings closed as event time passed (sorted by their
    /// bytes, an order that depends on nothing else), then 1, 2, … in the order written.
    pub order: u32,
    pub annotation: Vec<u8>,
}

/// The order a block's judgements are written in.
pub fn judgement_key(j: &Judgement) -> (u32, u32, &[u8]) {
    (j.unit, j.order, &j.annotation)
}

/// How often, in event time, findings are checked for closing.
const TICK: Millis = MINUTE;

/// Decides, from the routed steps in input order, where the findings clock ticks: the same places
/// for any thread count and any block cuts.
#[derive(Default)]
pub struct TickClock {
    /// The watermark of the next tick (`None` before the first step).
    pub next: Option<Millis>,
}

impl TickClock {
    pub fn due(&mut self, wm: Millis) -> bool {
        match self.next {
            Some(n) if wm < n => false,
            Some(_) => {
                self.next = Some(wm.saturating_add(TICK));
                true
            }
            None => {
                self.next = Some(wm.saturating_add(TICK));
                false
            }
        }
    }
}

/// What the table's verdicts become, per mode; counts what it judged.
pub struct Judge {
    emit: Emit,
    ctx: Annotator,
    incidents: Option<Incidents>,
    pub judged: u64,
    pub alerts: u64,
    /// Alerts by who and where (not for `--emit findings`).
    table: AlertTable,
    /// Where a progress display reads the alerts so far.
    progress: Option<Arc<Progress>>,
}

impl Judge {
    pub fn new(emit: Emit, ctx: Annotator, progress: Option<Arc<Progress>>) -> Judge {
        let incidents =
            (emit == Emit::Findings).then(|| Incidents::new(Default::default(), ctx.ranges.clone()));
        Judge {
            emit,
            ctx,
            incidents,
            judged: 0,
            alerts: 0,
            table: AlertTable::default(),
            progress,
        }
    }

    /// The findings clock ticked at watermark `wm`: the incidents it closes.
    pub fn tick(&mut self, unit: u32, wm: Millis, out: &mut Vec<Judgement>) {
        if let Some(inc) = &mut self.incidents {
            let mut buf = Vec::new();
            inc.advance(wm, &mut buf);
            push_lines(&buf, unit, 0, out);
        }
    }

    /// A verdict of the table, routed with watermark `wm`; `peer` as the same-account rule found.
    pub fn verdict(
        &mut self,
        unit: u32,
        wm: Millis,
        v: &Verdict,
        peer: Option<&Peer>,
        out: &mut Vec<Judgement>,
    ) {
        self.judged += 1;
        let alert = v.kind == VerdictKind::Compromise;
        self.alerts += u64::from(alert);
        if let Some(inc) = &mut self.incidents {
            if alert {
                let c = &v.context;
                let a = Alert {
                    verdict: v,
                    time: v.time,
                    watermark: wm,
                    event_name: &c.event_name,
                    error_code: c.error_code.as_deref(),
                    region: c.region.as_deref(),
                    access_key_id: None,
                    role_arn: None,
                    peer_note: None,
                };
                let mut buf = Vec::new();
                inc.alert(&a, &mut buf);
                push_lines(&buf, unit, 1, out);
            } else if v.contested {
                let mut buf = Vec::new();
                inc.lock_call(v, v.time, &mut buf);
                push_lines(&buf, unit, 1, out);
            } else if let Some(thief) = v.why.and_then(Why::moved_from) {
                let mut buf = Vec::new();
                inc.lock_moved(v, thief, v.time, &mut buf);
                push_lines(&buf, unit, 1, out);
            }
            return;
        }
        if alert && v.ip.is_some() {
            self.count(v);
        }
        if let (Some(thief), Some(ip)) = (v.why.and_then(Why::moved_from), v.ip) {
            let s = &v.session;
            let by_region = matches!(v.why, Some(Why::OwnRegion(_)));
            self.table.lock_moved(
                &s.account,
                &s.role,
                (v.workload.kind, &s.instance),
                (ip, thief),
                by_region,
            );
        }
        if alert || self.emit == Emit::All {
            let mut annotation = Vec::with_capacity(512);
            annotation::write(v, peer, &self.ctx, &mut annotation);
            out.push(Judgement {
                unit,
                order: 1,
                annotation,
            });
        }
    }

    /// A record whose `eventID` was read already: not judged again. `--emit all` says so on its
    /// line; the other modes have nothing to write.
    pub fn redelivered(&mut self, unit: u32, out: &mut Vec<Judgement>) {
        if self.emit == Emit::All {
            out.push(Judgement {
                unit,
                order: 1,
                annotation: REDELIVERED.to_vec(),
            });
        }
    }

    fn count(&mut self, v: &Verdict) {
        if let Some(ip) = v.ip {
            let s = &v.session;
            let why = match v.why {
                Some(Why::OutsideAws) => Some("first call, outside AWS"),
                Some(Why::UntiedPrivate) => Some("private, not the instance's"),
                Some(Why::AfterTaskStopped) => Some("after the task stopped"),
                _ => None,
            };
            self.table
                .count(&s.account, &s.role, (v.workload.kind, &s.instance), ip, why);
        }
        if let Some(p) = &self.progress {
            p.alerts.store(self.table.alerts, Ordering::Relaxed);
        }
    }

    /// After the last block: the findings still open, closed at watermark `wm`.
    pub fn finish(&mut self, wm: Millis, out: &mut Vec<Judgement>) {
        if let Some(inc) = &mut self.incidents {
            let mut buf = Vec::new();
            inc.finish(wm, &mut buf);
            push_lines(&buf, u32::MAX, 0, out);
        }
    }

    /// `--emit findings`: the open incidents, for the state (see [`Incidents::export`]).
    pub fn export_incidents(&self) -> Vec<(Incident, Millis)> {
        self.incidents.as_ref().map_or_else(Vec::new, Incidents::export)
    }

    /// `--emit findings`: the incidents a saved state left open.
    pub fn import_incidents(&mut self, open: Vec<(Incident, Millis)>) {
        if let Some(inc) = &mut self.incidents {
            inc.import(open);
        }
    }

    /// `--emit findings`: alerts written untracked (see [`Incidents::shed`]).
    pub fn findings_shed(&self) -> u64 {
        self.incidents.as_ref().map_or(0, Incidents::shed)
    }

    /// The alert table's rows, sorted.
    pub fn alert_rows(&mut self) -> Vec<AlertRow> {
        self.table.take_rows()
    }
}

/// Finding lines one by one: lines closed by the clock are ordered by their bytes (`order` 0),
/// those written for one record keep the order they were written in (`order` 1, 2, …).
/// The annotation of a record delivered again.
pub const REDELIVERED: &[u8] =
    br#"{"verdict":"duplicate","reason":"this eventID was read already; not judged again"}"#;

fn push_lines(buf: &[u8], unit: u32, order: u32, out: &mut Vec<Judgement>) {
    for (i, line) in buf.split_inclusive(|&c| c == b'\n').enumerate() {
        let order = if order == 0 { 0 } else { order + i as u32 };
        out.push(Judgement {
            unit,
            order,
            annotation: line.to_vec(),
        });
    }
}
