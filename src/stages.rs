//! The stages that need input order, in one driver: tally → resolver → table → peers → judge, then
//! render. The threaded run's turn ([`crate::pipeline`]), the sequential reference
//! ([`run_sequential`]) and `credtrail key` ([`crate::keying`]) all feed their blocks through it.

use crate::config::{Config, Emit};
use crate::detect::peers::Peers;
use crate::detect::state::{self, Snapshot};
use crate::detect::{Resolver, Routed, Shard};
use crate::input::Sources;
use crate::input::framing::BufferPool;
use crate::output::annotation::Annotator;
use crate::output::judge::{Judge, Judgement, TickClock, judgement_key};
use crate::output::render;
use crate::output::summary::Stats;
use crate::output::tally::{Reports, Tally};
use crate::parse::block::{BlockParser, ParsedBlock};
use crate::parse::event_time::Millis;
use crate::parse::record::Fact;
use std::io::{self, Write};

/// What follows the resolver: the judging stages of the filter, or the keys of `credtrail key`.
pub trait AfterResolver {
    /// A fact of `unit`, before the resolver takes it.
    fn fact(&mut self, _unit: u32, _fact: &Fact) {}
    /// A step the resolver routed, in input order.
    fn routed(&mut self, unit: u32, r: Routed);
    /// Every fact of the block has been routed.
    fn block_done(&mut self) {}
}

/// The driver: the tally and the resolver, then the stages `S`.
pub struct Ordered<S> {
    pub tally: Tally,
    pub resolver: Resolver,
    pub stages: S,
}

impl<S: AfterResolver> Ordered<S> {
    /// One numbered block (or the note of an input that failed): counted, its facts routed
    /// through the stages. The messages it deserves, for stderr.
    pub fn step(
        &mut self,
        source: u32,
        block: Option<&mut ParsedBlock>,
        note: Option<String>,
    ) -> Vec<String> {
        let messages = self.tally.account(source, block.as_deref(), note);
        if let Some(block) = block {
            let stages = &mut self.stages;
            for (unit, fact) in std::mem::take(&mut block.facts) {
                stages.fact(unit, &fact);
                self.resolver.route(fact, |r| stages.routed(unit, r));
            }
            stages.block_done();
        }
        messages
    }
}

/// The filter's stages after the resolver: the session table, the same-account rule, and what
/// the verdicts become.
pub struct Judging {
    pub shard: Shard,
    /// `None` for `--emit findings`, which does not name same-account peers.
    peers: Option<Peers>,
    judge: Judge,
    /// `--emit findings`: when incidents are checked for closing.
    clock: Option<TickClock>,
    /// The judgements of the block being stepped, in output order once it is done.
    pub js: Vec<Judgement>,
}

impl AfterResolver for Judging {
    fn routed(&mut self, unit: u32, r: Routed) {
        let wm = r.watermark;
        if self.clock.as_mut().is_some_and(|c| c.due(wm)) {
            self.judge.tick(unit, wm, &mut self.js);
        }
        let Some(v) = self.shard.apply(r) else { return };
        let peer = self.peers.as_mut().and_then(|p| p.observe(&v, wm));
        self.judge.verdict(unit, wm, &v, peer.as_ref(), &mut self.js);
    }

    fn block_done(&mut self) {
        // Already in order but for findings closed by the clock: sorting every block's judgements
        // again (with `--emit all`, one per record) allocated and compared for nothing.
        if !self.js.is_sorted_by(|a, b| judgement_key(a) <= judgement_key(b)) {
            self.js.sort_by(|a, b| judgement_key(a).cmp(&judgement_key(b)));
        }
    }
}

impl Ordered<Judging> {
    /// The filter's stages, from `snapshot`. With `notable_only`, calls that change nothing get
    /// no verdict (see [`Shard::notable_only`]).
    pub fn judging(cfg: &Config, snapshot: Snapshot, annotator: Annotator, notable_only: bool) -> Self {
        // The ranges loaded once for the annotations are the detector's evidence too.
        let detector = crate::detect::DetectorConfig {
            ranges: annotator.ranges.clone(),
            ..cfg.detector.clone()
        };
        let mut shard = Shard::new(detector);
        if notable_only {
            shard.notable_only();
        }
        let mut resolver = Resolver::import(&snapshot);
        resolver.trust_forwarded = cfg.keyed;
        resolver.plain_method = cfg.detector.plain_method;
        for (instance, rows) in snapshot.rows {
            shard.import(instance, rows);
        }
        shard.import_estate(&snapshot.estate);
        let findings = cfg.emit == Emit::Findings;
        Ordered {
            tally: Tally::new(
                cfg.inputs.iter().map(|i| i.name()).collect(),
                Reports::Lines {
                    limit: cfg.report_limit,
                },
            ),
            resolver,
            stages: Judging {
                shard,
                peers: (!findings).then(Peers::default),
                judge: Judge::new(cfg.emit, annotator, cfg.progress.clone()),
                clock: findings.then(TickClock::default),
                js: Vec::new(),
            },
        }
    }

    /// After the last block: the lines of the findings still open, in an order that depends on
    /// nothing but their bytes.
    pub fn last_lines(&mut self, buf: &mut Vec<u8>) {
        let mut last = Vec::new();
        let wm = self.resolver.watermark().unwrap_or(i64::MIN);
        self.stages.judge.finish(wm, &mut last);
        last.sort_unstable_by(|a, b| a.annotation.cmp(&b.annotation));
        for j in last {
            buf.extend_from_slice(&j.annotation);
        }
    }

    /// What the run saw.
    pub fn stats(&mut self, input_errors: u64, output_closed: bool) -> Stats {
        let Judging { shard, judge, .. } = &mut self.stages;
        Stats {
            records: self.tally.records,
            judged: judge.judged + shard.quiet_judged(),
            alerts: judge.alerts,
            malformed: self.tally.malformed,
            sessions: shard.live_at(self.resolver.watermark().unwrap_or(Millis::MIN)) as u64,
            input_errors: input_errors + self.tally.lost_blocks,
            evicted: shard.evicted(),
            findings_shed: judge.findings_shed(),
            alert_table: judge.alert_rows(),
            output_closed,
            ..Stats::default()
        }
    }

    /// Saves the table to `--state`, if there is one.
    pub fn save(&self, cfg: &Config) -> io::Result<()> {
        match &cfg.state {
            Some(path) => state::save_snapshot(path, state::snapshot(&self.resolver, &self.stages.shard)),
            None => Ok(()),
        }
    }
}

/// Every block of `cfg.inputs` in order, parsed on this thread and handed to `each` with its
/// input's number (or the note of an input that failed). `each` returns false to stop early.
pub fn in_order(
    cfg: &Config,
    mut each: impl FnMut(u32, Option<&mut ParsedBlock>, Option<String>) -> io::Result<bool>,
) -> io::Result<u64> {
    let mut sources = Sources::new(cfg, BufferPool::new(0), false);
    let mut parser = BlockParser::with_max_line(cfg.max_line_bytes);
    while let Some(n) = sources.next_block() {
        let mut block = n.frame.map(|f| parser.parse(f));
        if !each(n.source, block.as_mut(), n.note)? {
            break;
        }
    }
    Ok(sources.errors())
}

/// The same stages in one loop, without threads: the reference the threaded pipeline must equal.
/// (Every verdict is kept here, where the threaded run skips those that change nothing: the tests
/// that hold one to the other check that skipping changes nothing.)
pub fn run_sequential(cfg: &Config, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<Stats> {
    let _held = crate::detect::state_file::hold_for(cfg, err)?;
    let snapshot = state::load_for(cfg, err)?;
    let annotator = Annotator::for_config(cfg)?;
    let mut ordered = Ordered::judging(cfg, snapshot, annotator, false);
    let mut buf = Vec::new();
    let input_errors = in_order(cfg, |source, mut block, note| {
        for m in ordered.step(source, block.as_deref_mut(), note) {
            writeln!(err, "{m}")?;
        }
        if let Some(block) = block {
            if cfg.emit == Emit::All {
                crate::output::wrap::wrap_malformed(block, cfg.malformed);
            }
            render::render(cfg.emit, block, &ordered.stages.js, &mut buf);
            ordered.stages.js.clear();
            out.write_all(&buf)?;
            buf.clear();
        }
        Ok(true)
    })?;
    ordered.last_lines(&mut buf);
    out.write_all(&buf)?;
    out.flush()?;
    ordered.save(cfg)?;
    let stats = ordered.stats(input_errors, false);
    Ok(Stats {
        digests_skipped: cfg.digests_skipped,
        ..stats
    })
}
