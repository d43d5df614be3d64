//! The threads: reader → parse workers → sequencer → shard owners → writer.
//!
//! ```text
//!  input ─► reader ─► workers (N) ─► sequencer ─► shards (N) ─► writer ─► stdout
//!           frames     stateless      input order   own disjoint   input order,
//!           numbered   parse          + resolver    instances      flush when idle
//! ```
//! Every verdict is the one a sequential pass gives: the sequencer restores input order and runs
//! the [`Resolver`] on it, each instance lives on one shard, and each shard applies its steps in the
//! order it receives them, which is input order. Every channel is bounded, so a slow consumer
//! slows the reader instead of filling memory.

use crate::annotation;
use crate::block::{BlockParser, ParsedBlock};
use crate::config::{Config, Emit, Input};
use crate::detector::{Resolver, Routed, Shard, VerdictKind};
use crate::framing::{BlockKind, BufferPool, Frame, FrameReader};
use crossbeam_channel::{Receiver, Sender, bounded};
use std::collections::{BTreeMap, HashMap};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::thread::{self, JoinHandle};

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
    /// The reader of our output went away (`| head -1`); the run stopped early.
    pub output_closed: bool,
}

impl Stats {
    pub fn summary(&self) -> String {
        format!(
            "credtrail: {} records, {} judged, {} alerts, {} malformed, {} sessions live",
            self.records, self.judged, self.alerts, self.malformed, self.sessions
        )
    }
}

struct Work {
    seq: u64,
    source: u32,
    frame: Option<Frame>,
    note: Option<String>,
}

struct Parsed {
    seq: u64,
    source: u32,
    block: Option<ParsedBlock>,
    note: Option<String>,
    /// The block's parse failed: its lines are lost.
    lost: bool,
}

struct ShardBatch {
    seq: u64,
    steps: Vec<(u32, Routed)>,
}

struct Judgement {
    unit: u32,
    annotation: Vec<u8>,
}

struct WriterBlock {
    seq: u64,
    block: Option<ParsedBlock>,
    /// Shard batches to wait for before writing.
    expect: usize,
    messages: Vec<String>,
}

/// Opens an input, decompressing gzip when its first bytes say so (CloudTrail's S3 objects are
/// `.json.gz`, but names are not to be trusted).
pub fn open(input: Input) -> io::Result<Box<dyn Read + Send>> {
    let raw: Box<dyn Read + Send> = match input {
        Input::Stdin => Box::new(io::stdin()),
        Input::Path(p) => Box::new(std::fs::File::open(p)?),
        Input::Memory(_, bytes) => Box::new(io::Cursor::new(bytes)),
    };
    let mut buffered = BufReader::with_capacity(1 << 16, raw);
    let head = buffered.fill_buf()?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::bufread::MultiGzDecoder::new(buffered)))
    } else {
        Ok(Box::new(buffered))
    }
}

/// Which shard owns an instance. Fixed seeds: the deal is the same in every run.
fn shard_of(instance: &str, shards: usize) -> usize {
    static HASHER: std::sync::LazyLock<ahash::RandomState> = std::sync::LazyLock::new(|| {
        ahash::RandomState::with_seeds(0x6372_6564, 0x7472_6169, 0x6c5f_7368, 0x6172_6473)
    });
    (HASHER.hash_one(instance) % shards as u64) as usize
}

/// Runs the filter over `cfg.inputs`, writing records to `out` and messages to `err`.
pub fn run(cfg: &Config, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<Stats> {
    let threads = cfg.threads.max(1);
    let depth = 2 * threads;
    let (work_tx, work_rx) = bounded::<Work>(depth);
    let (parsed_tx, parsed_rx) = bounded::<Parsed>(depth);
    let (writer_tx, writer_rx) = bounded::<WriterBlock>(4 * depth);
    let (judged_tx, judged_rx) = bounded::<(u64, Vec<Judgement>)>(4 * depth);

    let pool = BufferPool::new(8 * threads);
    let reader = spawn_reader(cfg, work_tx, pool.clone());
    let max_line = cfg.max_line_bytes;
    let workers: Vec<JoinHandle<()>> = (0..threads)
        .map(|_| {
            let (rx, tx) = (work_rx.clone(), parsed_tx.clone());
            thread::spawn(move || parse_worker(rx, tx, max_line))
        })
        .collect();
    drop((work_rx, parsed_tx));

    let mut shard_txs = Vec::new();
    let mut shards: Vec<JoinHandle<(u64, u64, u64)>> = Vec::new();
    for _ in 0..threads {
        let (tx, rx) = bounded::<ShardBatch>(depth);
        shard_txs.push(tx);
        let jtx = judged_tx.clone();
        let dcfg = cfg.detector;
        let emit = cfg.emit;
        shards.push(thread::spawn(move || {
            shard_owner(Shard::new(dcfg), emit, dcfg.change_window, rx, jtx)
        }));
    }
    drop(judged_tx);

    let tally = Tally::new(cfg.inputs.iter().map(Input::name).collect(), cfg.report_limit);
    let emit = cfg.emit;
    let seq_pool = pool.clone();
    let sequencer = thread::spawn(move || sequencer(parsed_rx, shard_txs, writer_tx, tally, emit, seq_pool));

    let mut stats = Stats::default();
    let closed = write_output(cfg.emit, writer_rx, judged_rx, out, err, &pool)?;
    if closed {
        // Threads still blocked on input are left to end with the process.
        stats.output_closed = true;
        return Ok(stats);
    }
    let tally = sequencer.join().ok();
    for w in workers {
        let _ = w.join();
    }
    for s in shards {
        if let Ok((judged, alerts, sessions)) = s.join() {
            stats.judged += judged;
            stats.alerts += alerts;
            stats.sessions += sessions;
        }
    }
    stats.input_errors = reader.join().unwrap_or(1) + tally.as_ref().map_or(1, |t| t.lost_blocks);
    stats.records = tally.as_ref().map_or(0, |t| t.records);
    stats.malformed = tally.as_ref().map_or(0, |t| t.malformed);
    Ok(stats)
}

fn spawn_reader(cfg: &Config, tx: Sender<Work>, pool: BufferPool) -> JoinHandle<u64> {
    let inputs = cfg.inputs.clone();
    let (read_size, max_line) = (cfg.read_size, cfg.max_line_bytes);
    thread::spawn(move || {
        let mut seq = 0u64;
        let mut errors = 0u64;
        for (source, input) in inputs.into_iter().enumerate() {
            let source = source as u32;
            let name = input.name();
            let mut frames = match open(input) {
                Ok(r) => FrameReader::with_pool(r, read_size, max_line, pool.clone()),
                Err(e) => {
                    errors += 1;
                    let note = Some(format!("credtrail: {name}: {e}"));
                    if tx
                        .send(Work {
                            seq,
                            source,
                            frame: None,
                            note,
                        })
                        .is_err()
                    {
                        return errors;
                    }
                    seq += 1;
                    continue;
                }
            };
            loop {
                let (frame, note) = match frames.next_frame() {
                    Ok(Some(f)) => (Some(f), None),
                    Ok(None) => break,
                    Err(e) => {
                        errors += 1;
                        (None, Some(format!("credtrail: {name}: read error: {e}")))
                    }
                };
                let failed = note.is_some();
                if tx
                    .send(Work {
                        seq,
                        source,
                        frame,
                        note,
                    })
                    .is_err()
                {
                    return errors;
                }
                seq += 1;
                if failed {
                    break;
                }
            }
        }
        errors
    })
}

fn parse_worker(rx: Receiver<Work>, tx: Sender<Parsed>, max_line: usize) {
    let mut parser = BlockParser::with_max_line(max_line);
    for w in rx {
        let mut note = w.note;
        let mut lost = false;
        let block = w.frame.and_then(|f| {
            // A bug in parsing must not stall the sequencer, which waits for every block in turn:
            // the block is reported lost, counted as an error, and the run goes on.
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser.parse(f))) {
                Ok(b) => Some(b),
                Err(_) => {
                    parser = BlockParser::with_max_line(max_line);
                    lost = true;
                    note = Some(
                        "credtrail: internal error: a block of input could not be parsed and was lost".into(),
                    );
                    None
                }
            }
        });
        if tx
            .send(Parsed {
                seq: w.seq,
                source: w.source,
                block,
                note,
                lost,
            })
            .is_err()
        {
            return;
        }
    }
}

/// Line numbers and counts, kept in input order: which line of which input each malformed unit is.
struct Tally {
    names: Vec<String>,
    report_limit: u64,
    source: u32,
    line_base: u64,
    records: u64,
    malformed: u64,
    lost_blocks: u64,
}

impl Tally {
    fn new(names: Vec<String>, report_limit: u64) -> Tally {
        Tally {
            names,
            report_limit,
            source: u32::MAX,
            line_base: 0,
            records: 0,
            malformed: 0,
            lost_blocks: 0,
        }
    }

    /// Counts a block and returns the messages it deserves, in order after `note`.
    fn account(&mut self, source: u32, block: Option<&ParsedBlock>, note: Option<String>) -> Vec<String> {
        if source != self.source {
            self.source = source;
            self.line_base = 0;
        }
        let mut messages: Vec<String> = note.into_iter().collect();
        let Some(block) = block else { return messages };
        let name = self.names.get(source as usize).map_or("<input>", String::as_str);
        self.records += u64::from(block.records);
        for (unit, m) in &block.malformed {
            self.malformed += 1;
            let line = self.line_base + u64::from(block.units[*unit as usize].line) + 1;
            report(&mut messages, self.malformed, self.report_limit, || {
                format!("credtrail: {name}:{line}: malformed: {}", m.0)
            });
        }
        if let BlockKind::Oversized { first, last } = block.kind {
            if first {
                self.malformed += 1;
                let line = self.line_base + 1;
                report(&mut messages, self.malformed, self.report_limit, || {
                    format!(
                        "credtrail: {name}:{line}: malformed: line longer than --max-line-bytes; passed on unread"
                    )
                });
            }
            if last {
                self.line_base += 1;
            }
        } else {
            self.line_base += u64::from(block.lines);
        }
        messages
    }
}

/// Restores input order, numbers lines, runs the resolver and deals steps to the shards.
fn sequencer(
    rx: Receiver<Parsed>,
    shards: Vec<Sender<ShardBatch>>,
    writer: Sender<WriterBlock>,
    mut tally: Tally,
    emit: Emit,
    pool: BufferPool,
) -> Tally {
    let mut resolver = Resolver::default();
    let mut waiting: BTreeMap<u64, Parsed> = BTreeMap::new();
    let mut next = 0u64;
    let mut batches: Vec<Vec<(u32, Routed)>> = (0..shards.len()).map(|_| Vec::new()).collect();
    for p in rx {
        waiting.insert(p.seq, p);
        while let Some(p) = waiting.remove(&next) {
            next += 1;
            tally.lost_blocks += u64::from(p.lost);
            let messages = tally.account(p.source, p.block.as_ref(), p.note);
            let mut expect = 0;
            if let Some(block) = &p.block {
                for (unit, fact) in &block.facts {
                    resolver.route(fact.clone(), |r| {
                        batches[shard_of(r.instance(), shards.len())].push((*unit, r));
                    });
                }
                for (tx, steps) in shards.iter().zip(batches.iter_mut()) {
                    if !steps.is_empty() {
                        expect += 1;
                        if tx
                            .send(ShardBatch {
                                seq: p.seq,
                                steps: std::mem::take(steps),
                            })
                            .is_err()
                        {
                            return tally;
                        }
                    }
                }
            }
            let needed = emit == Emit::All
                || expect > 0
                || !messages.is_empty()
                || p.block
                    .as_ref()
                    .is_some_and(|b| matches!(b.kind, BlockKind::Oversized { .. }));
            if !needed {
                if let Some(b) = p.block {
                    pool.give(b.data);
                }
                continue;
            }
            if writer
                .send(WriterBlock {
                    seq: p.seq,
                    block: p.block,
                    expect,
                    messages,
                })
                .is_err()
            {
                break;
            }
        }
    }
    tally
}

/// Reports the first `limit` malformed lines one by one, then says that only the count goes on.
fn report(messages: &mut Vec<String>, n: u64, limit: u64, msg: impl FnOnce() -> String) {
    if n <= limit {
        messages.push(msg());
    }
    if n == limit {
        messages.push(format!(
            "credtrail: {limit} malformed lines reported; further ones are only counted in the summary"
        ));
    }
}

/// Applies one step; returns the annotation to write if the mode wants one.
fn judge(
    shard: &mut Shard,
    emit: Emit,
    window: i64,
    unit: u32,
    routed: Routed,
    counts: &mut (u64, u64),
) -> Option<Judgement> {
    let v = shard.apply(routed)?;
    counts.0 += 1;
    let alert = v.kind == VerdictKind::Compromise;
    counts.1 += u64::from(alert);
    (alert || emit == Emit::All).then(|| {
        let mut annotation = Vec::with_capacity(512);
        annotation::write(&v, window, &mut annotation);
        Judgement { unit, annotation }
    })
}

/// The same stages in one loop, without threads: the reference the threaded pipeline must equal.
pub fn run_sequential(cfg: &Config, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<Stats> {
    let mut tally = Tally::new(cfg.inputs.iter().map(Input::name).collect(), cfg.report_limit);
    let mut parser = BlockParser::with_max_line(cfg.max_line_bytes);
    let mut resolver = Resolver::default();
    let mut shard = Shard::new(cfg.detector);
    let mut counts = (0, 0);
    let mut input_errors = 0;
    let mut buf = Vec::new();
    for (source, input) in cfg.inputs.iter().enumerate() {
        let name = input.name();
        let mut frames = match open(input.clone()) {
            Ok(r) => FrameReader::new(r, cfg.read_size, cfg.max_line_bytes),
            Err(e) => {
                input_errors += 1;
                for m in tally.account(source as u32, None, Some(format!("credtrail: {name}: {e}"))) {
                    writeln!(err, "{m}")?;
                }
                continue;
            }
        };
        loop {
            let (block, note) = match frames.next_frame() {
                Ok(Some(f)) => (Some(parser.parse(f)), None),
                Ok(None) => break,
                Err(e) => {
                    input_errors += 1;
                    (None, Some(format!("credtrail: {name}: read error: {e}")))
                }
            };
            let failed = note.is_some();
            for m in tally.account(source as u32, block.as_ref(), note) {
                writeln!(err, "{m}")?;
            }
            if let Some(block) = block {
                let mut js = Vec::new();
                for (unit, fact) in &block.facts {
                    resolver.route(fact.clone(), |r| {
                        js.extend(judge(
                            &mut shard,
                            cfg.emit,
                            cfg.detector.change_window,
                            *unit,
                            r,
                            &mut counts,
                        ));
                    });
                }
                render(cfg.emit, &block, &js, &mut buf);
                out.write_all(&buf)?;
                buf.clear();
            }
            if failed {
                break;
            }
        }
    }
    out.flush()?;
    Ok(Stats {
        records: tally.records,
        judged: counts.0,
        alerts: counts.1,
        malformed: tally.malformed,
        sessions: shard.sessions() as u64,
        input_errors,
        output_closed: false,
    })
}

fn shard_owner(
    mut shard: Shard,
    emit: Emit,
    window: i64,
    rx: Receiver<ShardBatch>,
    tx: Sender<(u64, Vec<Judgement>)>,
) -> (u64, u64, u64) {
    let mut counts = (0u64, 0u64);
    for batch in rx {
        let mut out = Vec::new();
        for (unit, routed) in batch.steps {
            out.extend(judge(&mut shard, emit, window, unit, routed, &mut counts));
        }
        if tx.send((batch.seq, out)).is_err() {
            break;
        }
    }
    (counts.0, counts.1, shard.sessions() as u64)
}

/// Writes blocks in input order once their shards have answered. Returns whether the output was
/// closed by its reader.
fn write_output(
    emit: Emit,
    blocks: Receiver<WriterBlock>,
    judged: Receiver<(u64, Vec<Judgement>)>,
    out: &mut dyn Write,
    err: &mut dyn Write,
    pool: &BufferPool,
) -> io::Result<bool> {
    let mut early: HashMap<u64, (usize, Vec<Judgement>)> = HashMap::new();
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
    while let Ok(wb) = blocks.recv() {
        let (mut got, mut js) = early.remove(&wb.seq).unwrap_or_default();
        while got < wb.expect {
            let Ok((seq, j)) = judged.recv() else { break };
            if seq == wb.seq {
                got += 1;
                js.extend(j);
            } else {
                let e = early.entry(seq).or_default();
                e.0 += 1;
                e.1.extend(j);
            }
        }
        for m in &wb.messages {
            let _ = writeln!(err, "{m}");
        }
        if let Some(block) = wb.block {
            js.sort_unstable_by_key(|j| j.unit);
            render(emit, &block, &js, &mut buf);
            pool.give(block.data);
        }
        if (buf.len() >= (1 << 20) || blocks.is_empty())
            && let Some(closed) = flush(out, &mut buf)?
        {
            return Ok(closed);
        }
    }
    Ok(flush(out, &mut buf)?.unwrap_or(false))
}

/// Writes and flushes `buf`. `Some(true)`: the reader has gone.
fn flush(out: &mut dyn Write, buf: &mut Vec<u8>) -> io::Result<Option<bool>> {
    let r = out.write_all(buf).and_then(|()| out.flush());
    buf.clear();
    match r {
        Ok(()) => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Some(true)),
        Err(e) => Err(e),
    }
}

fn render(emit: Emit, block: &ParsedBlock, js: &[Judgement], buf: &mut Vec<u8>) {
    if let BlockKind::Oversized { last, .. } = block.kind {
        if emit == Emit::All {
            buf.extend_from_slice(&block.data);
            if last && block.data.last() != Some(&b'\n') {
                buf.push(b'\n');
            }
        }
        return;
    }
    match emit {
        Emit::Alerts => {
            for j in js {
                annotation::splice(block.bytes(&block.units[j.unit as usize]), &j.annotation, buf);
            }
        }
        Emit::All => {
            let mut js = js.iter().peekable();
            for (i, u) in block.units.iter().enumerate() {
                let bytes = block.bytes(u);
                match js.peek() {
                    Some(j) if j.unit as usize == i => {
                        annotation::splice(bytes, &j.annotation, buf);
                        js.next();
                    }
                    _ => {
                        buf.extend_from_slice(bytes);
                        buf.push(b'\n');
                    }
                }
            }
        }
    }
}
