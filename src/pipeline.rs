//! The crew: every thread reads, parses and, in turn, judges and writes.
//!
//! ```text
//!  input ─► read (one at a time) ─► parse (all threads at once) ─► inbox ─► turn ─► stdout
//!           blocks cut at line       stateless, the bulk of the    by block  input order: the
//!           ends, numbered           work                          number    ordered stages
//! ```
//! Each of the `--threads` threads loops: take the next block from the reader, parse it, put it in
//! the inbox, then, if no other thread holds the turn, take every block whose turn it is and run it
//! through the stages that need input order ([`crate::stages`]: line numbers, the resolver, the
//! session table, the writer). So `--threads 1` is one thread doing everything, the same stages as
//! any other count, and `--threads 2` keeps two cores busy with no thread of its own waiting on
//! another: on a 2-core machine, stage threads handing blocks to each other capped scaling (`cargo
//! bench --bench end_to_end` compares `--threads 2` with `--threads 1`).
//!
//! Every verdict is the one a sequential pass gives: the turn takes blocks strictly in input order.
//! The reader stays at most a few blocks ahead of the turn, so memory is bounded whatever the input.

use crate::config::{Config, Emit, Progress};
use crate::detect::{state, state_file};
use crate::input::framing::{BlockKind, BufferPool};
use crate::input::{Numbered, Sources};
use crate::output::annotation::Annotator;
use crate::output::render::{self, render_all_units, render_units, write_all_vectored, written};
use crate::output::summary::Stats;
use crate::output::wrap::LongLine;
use crate::parse::block::{BlockParser, ParsedBlock};
use crate::stages::{Judging, Ordered, Out};
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long an input waits for data before the records of the window whose verdicts are settled
/// are released (see [`Ordered::release_settled`](crate::stages::Ordered::release_settled)): short
/// enough that such a record comes out within 50 ms of being written into an idle pipe, long
/// enough that a writer's pause between two lines of one burst is not one.
pub const SHORT_IDLE: Duration = Duration::from_millis(20);

/// A block parsed, waiting in the inbox for its turn.
struct Parsed {
    seq: u64,
    source: u32,
    block: Option<ParsedBlock>,
    note: Option<String>,
    /// The block's parse failed: its lines are lost.
    lost: bool,
}

/// Runs the filter over `cfg.inputs`, writing records to `out` and messages to `err`.
pub fn run(cfg: &Config, out: &mut (dyn Write + Send), err: &mut (dyn Write + Send)) -> io::Result<Stats> {
    let threads = cfg.threads.max(1);
    // Held until the run returns, after its last save.
    let _held = state_file::hold_for(cfg, err)?;
    let snapshot = state::load_for(cfg, err)?;
    let annotator = Annotator::for_config(cfg)?;
    // Enough for every block in flight and every block the reorder window may hold, so that the
    // reader does not fault in fresh pages again: with 24 buffers, a quarter of a run went to the
    // kernel zeroing the pages of new ones while the window held over a hundred blocks.
    // At most 256 of them: the pool is a bounded channel that lays out all its slots up front, and
    // a small `--read-size` (1 byte in the tests) would otherwise ask for 134 million (4 GiB).
    let window_blocks = (cfg.max_held_bytes / cfg.read_size.max(1)).min(256);
    let pool = BufferPool::new(8 * threads + 8 + window_blocks);
    // Only `--emit all` writes a verdict for every call. (`run_sequential` keeps every verdict: the
    // tests that hold this run to it check that the ones skipped here change nothing.)
    let ordered = Ordered::judging(cfg, snapshot, annotator, cfg.emit != Emit::All);
    let turn = Turn {
        emit: cfg.emit,
        long: LongLine::new(cfg.max_line_bytes),
        ordered,
        buf: Vec::with_capacity(2 << 20),
        out,
        err,
        pool: pool.clone(),
        progress: cfg.progress.clone(),
        checkpoints: cfg.state.clone().map(|p| (cfg.checkpoint_interval, p)),
        next_checkpoint: Some(Instant::now() + cfg.checkpoint_interval).filter(|_| cfg.state.is_some()),
        saver: None,
        closed: false,
        failure: None,
    };
    let crew = Crew {
        reader: Mutex::new(Sources::new(cfg, pool, true)),
        inbox: Mutex::new(Inbox::default()),
        room: Condvar::new(),
        turn: Mutex::new(turn),
        halt: AtomicBool::new(false),
        // Two blocks a thread keeps every thread busy; more only holds memory (a block in flight is
        // up to a read of input, 1 MiB, and its parse).
        ahead: 2 * threads as u64 + 4,
        read: AtomicU64::new(0),
        max_line: cfg.max_line_bytes,
        stop: cfg.stop.clone(),
    };
    let (done, finished) = std::sync::mpsc::channel::<()>();
    thread::scope(|s| {
        let (crew, idle) = (&crew, cfg.idle_release);
        s.spawn(move || crew.watch_idle(idle, &finished));
        thread::scope(|w| {
            for _ in 1..threads {
                w.spawn(|| crew.work());
            }
            crew.work();
        });
        drop(done);
    });
    let reader = crew.reader.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut turn = crew.turn.into_inner().unwrap_or_else(|e| e.into_inner());
    let stats = turn.finish(cfg, reader.errors())?;
    Ok(Stats {
        digests_skipped: cfg.digests_skipped,
        ..stats
    })
}

/// What the threads share.
struct Crew<'a> {
    reader: Mutex<Sources>,
    inbox: Mutex<Inbox>,
    /// Signalled when the turn takes a block, for a reader waiting for room.
    room: Condvar,
    turn: Mutex<Turn<'a>>,
    /// The output is gone or failed: stop reading.
    halt: AtomicBool,
    /// How many blocks the reader may be ahead of the turn.
    ahead: u64,
    /// Blocks handed out by the reader: when the turn has taken as many, none is being parsed.
    read: AtomicU64,
    max_line: usize,
    /// Set to make inputs waiting on an idle pipe give up (the `--stop` flag of signals).
    stop: Option<Arc<AtomicBool>>,
}

/// Parsed blocks waiting for their turn, and the number of the block whose turn it is.
#[derive(Default)]
struct Inbox {
    waiting: BTreeMap<u64, Parsed>,
    next: u64,
    /// Readers waiting for room: the turn wakes them only then (a wake is a system call).
    waiters: u32,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in another thread is reported by the scope that joins it; what it held is not
    // needed to end the run.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<'a> Crew<'a> {
    fn work(&self) {
        // A thread that panics must not leave the others waiting for a block it will never bring.
        struct OnPanic<'c, 'a>(&'c Crew<'a>);
        impl Drop for OnPanic<'_, '_> {
            fn drop(&mut self) {
                if thread::panicking() {
                    self.0.stop_all();
                }
            }
        }
        let _guard = OnPanic(self);
        let mut parser = BlockParser::with_max_line(self.max_line);
        while let Some(work) = self.next_work() {
            let parsed = parse(&mut parser, work, self.max_line);
            let seq = parsed.seq;
            lock(&self.inbox).waiting.insert(seq, parsed);
            self.take_turns();
        }
    }

    /// While the run goes on: when an input has waited [`SHORT_IDLE`] for data, the records of
    /// the window whose verdicts are settled are judged and written; when it has waited `idle`
    /// with records in the window, they are all judged and written (the `--idle-release` bound on
    /// latency). Only a waiting input counts, never a slow machine: a file is never idle, nor is
    /// a pipe while a block read from it is still being parsed.
    fn watch_idle(&self, idle: Duration, finished: &std::sync::mpsc::Receiver<()>) {
        let short = SHORT_IDLE.min(idle);
        let tick = (short / 4).clamp(Duration::from_millis(2), Duration::from_millis(100));
        while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(tick) {
            let Some(waited) = self.idle_for() else {
                continue;
            };
            if waited < short {
                continue;
            }
            let mut turn = lock(&self.turn);
            if waited < idle {
                turn.release_settled();
            } else {
                turn.release_idle();
            }
            // A block put in the inbox while the release wrote found the turn taken and was left
            // to this holder: without this look, the last block of the input stayed there unwritten.
            self.run_turns(turn);
        }
    }

    fn halted(&self) -> bool {
        self.halt.load(Ordering::Relaxed)
    }

    fn stop_all(&self) {
        self.halt.store(true, Ordering::Relaxed);
        if let Some(stop) = &self.stop {
            stop.store(true, Ordering::Relaxed);
        }
        let _inbox = lock(&self.inbox);
        self.room.notify_all();
    }

    /// The next block of input, once the turn is close enough behind.
    fn next_work(&self) -> Option<Numbered> {
        let mut reader = lock(&self.reader);
        {
            let mut inbox = lock(&self.inbox);
            while reader.seq() >= inbox.next + self.ahead && !self.halted() {
                inbox.waiters += 1;
                inbox = self.room.wait(inbox).unwrap_or_else(|e| e.into_inner());
                inbox.waiters -= 1;
            }
        }
        if self.halted() {
            return None;
        }
        let b = reader.next_block();
        // Counted before the reader is let go, so before it can wait on the input again.
        self.read.fetch_add(u64::from(b.is_some()), Ordering::Relaxed);
        b
    }

    /// The input waits for data, and every block read is in the turn's hands: how long it has
    /// waited. (A block still being parsed is no idle: a slow machine must not release.)
    fn idle_for(&self) -> Option<Duration> {
        let since = crate::input::waiting_since()?;
        let inbox = lock(&self.inbox);
        (inbox.next >= self.read.load(Ordering::Relaxed)).then(|| since.elapsed())
    }

    /// Takes the turn, unless another thread has it, and runs every block that is ready in order.
    fn take_turns(&self) {
        let Ok(turn) = self.turn.try_lock() else {
            // The holder looks at the inbox again after letting go, so this block is not left.
            return;
        };
        self.run_turns(turn);
    }

    /// With the turn held: runs every block that is ready in order, lets the turn go, and takes
    /// it again for a block put in meanwhile. Whoever holds the turn must end through here.
    fn run_turns<'t>(&'t self, mut turn: MutexGuard<'t, Turn<'a>>) {
        loop {
            while let Some(p) = self.take_next() {
                turn.step(p);
            }
            turn.flush();
            if turn.closed || turn.failure.is_some() {
                drop(turn);
                self.stop_all();
                return;
            }
            drop(turn);
            // A block put in after the last look but before the unlock found the turn taken.
            let inbox = lock(&self.inbox);
            if !inbox.waiting.contains_key(&inbox.next) {
                return;
            }
            drop(inbox);
            let Ok(t) = self.turn.try_lock() else {
                return;
            };
            turn = t;
        }
    }

    fn take_next(&self) -> Option<Parsed> {
        let mut inbox = lock(&self.inbox);
        let next = inbox.next;
        let p = inbox.waiting.remove(&next)?;
        inbox.next += 1;
        if inbox.waiters > 0 {
            self.room.notify_all();
        }
        Some(p)
    }
}

/// An output write's result as closed (the reader went away) or failed.
fn settle(closed: &mut bool, failure: &mut Option<io::Error>, r: io::Result<Option<bool>>) {
    match r {
        Ok(Some(true)) => *closed = true,
        Ok(_) => {}
        Err(e) => *failure = Some(e),
    }
}

fn parse(parser: &mut BlockParser, w: Numbered, max_line: usize) -> Parsed {
    let mut note = w.note;
    let mut lost = false;
    let block = w.frame.and_then(|f| {
        // A bug in parsing must not stall the turn, which waits for every block in order: the
        // block is reported lost, counted as an error, and the run goes on.
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser.parse(f))) {
            Ok(b) => Some(b),
            Err(_) => {
                *parser = BlockParser::with_max_line(max_line);
                lost = true;
                note = Some(
                    "credtrail: internal error: a block of input could not be parsed and was lost".into(),
                );
                None
            }
        }
    });
    Parsed {
        seq: w.seq,
        source: w.source,
        block,
        note,
        lost,
    }
}

/// The ordered stages, run by whichever thread holds the turn, and where their output goes.
struct Turn<'a> {
    emit: Emit,
    /// The line over `--max-line-bytes` being written, if one is.
    long: LongLine,
    ordered: Ordered<Judging>,
    buf: Vec<u8>,
    out: &'a mut (dyn Write + Send),
    err: &'a mut (dyn Write + Send),
    pool: BufferPool,
    progress: Option<Arc<Progress>>,
    checkpoints: Option<(Duration, PathBuf)>,
    next_checkpoint: Option<Instant>,
    saver: Option<JoinHandle<()>>,
    /// The reader of our output went away.
    closed: bool,
    failure: Option<io::Error>,
}

impl Turn<'_> {
    fn step(&mut self, mut p: Parsed) {
        if self.closed || self.failure.is_some() {
            return;
        }
        self.checkpoint();
        self.ordered.tally.lost_blocks += u64::from(p.lost);
        if let (Some(pr), Some(b)) = (&self.progress, &p.block) {
            pr.records.fetch_add(u64::from(b.records), Ordering::Relaxed);
        }
        for m in self.ordered.take(p.source, p.block.take(), p.note.take()) {
            let _ = writeln!(self.err, "{m}");
        }
        self.write_ready();
    }

    /// Writes what the held blocks allow (see [`Ordered::drain`]).
    fn write_ready(&mut self) {
        let Turn {
            ordered,
            emit,
            long,
            buf,
            out,
            pool,
            closed,
            failure,
            ..
        } = self;
        ordered.drain(|o| match o {
            Out::Units(block, js, units) => {
                if *closed || failure.is_some() {
                    return;
                }
                if *emit == Emit::All && !matches!(block.kind, BlockKind::Oversized { .. }) {
                    // Every byte goes out again: written from where it lies, not copied into `buf`
                    // first.
                    if !units.is_empty() {
                        long.interrupted(buf);
                    }
                    let r = render::flush(*out, buf);
                    settle(closed, failure, r);
                    let mut slices = Vec::with_capacity(2 * js.len() + 8);
                    render_all_units(block, js, units, &mut slices);
                    if *closed || failure.is_some() {
                        return;
                    }
                    let r = write_all_vectored(*out, &mut slices).and_then(|()| out.flush());
                    settle(closed, failure, written(r));
                } else {
                    render_units(*emit, block, js, units, long, buf);
                }
            }
            // (Findings hold no bytes: nothing to give back.)
            Out::Done(block) if block.data.capacity() > 0 => pool.give(block.data),
            Out::Done(_) => {}
        });
        if self.buf.len() >= 1 << 20 {
            self.flush();
        }
    }

    /// The input has been idle for [`SHORT_IDLE`]: the settled records are judged and written.
    fn release_settled(&mut self) {
        if self.ordered.holding() == 0 || self.closed || self.failure.is_some() {
            return;
        }
        if self.ordered.release_settled() > 0 {
            self.write_ready();
            self.flush();
        }
    }

    /// The input has been idle for `--idle-release`: every record waiting is judged and written.
    fn release_idle(&mut self) {
        if self.ordered.holding() == 0 || self.closed || self.failure.is_some() {
            return;
        }
        self.ordered.release_all();
        self.write_ready();
        self.flush();
    }

    /// Writes what is buffered: called whenever no further block is ready, so that a lone record
    /// on a live stream goes out at once.
    fn flush(&mut self) {
        if self.buf.is_empty() || self.closed || self.failure.is_some() {
            self.buf.clear();
            return;
        }
        let r = render::flush(self.out, &mut self.buf);
        self.settle(r);
    }

    fn settle(&mut self, r: io::Result<Option<bool>>) {
        settle(&mut self.closed, &mut self.failure, r);
    }

    /// Every `--checkpoint-interval`: a copy of the table now, saved on a thread of its own so that
    /// the stream waits only for the copy.
    fn checkpoint(&mut self) {
        let (Some(due), Some((every, path))) = (self.next_checkpoint, &self.checkpoints) else {
            return;
        };
        if Instant::now() < due {
            return;
        }
        self.next_checkpoint = Some(Instant::now() + *every);
        if self.saver.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        let snap = self.ordered.snapshot();
        let path = path.clone();
        self.saver = Some(thread::spawn(move || {
            if let Err(e) = crate::detect::state::save_snapshot(&path, snap) {
                eprintln!("credtrail: warning: checkpoint not saved: {e}");
            }
        }));
    }

    /// After the last block: findings still open, the output flushed, the state saved.
    fn finish(&mut self, cfg: &Config, read_errors: u64) -> io::Result<Stats> {
        if let Some(e) = self.failure.take() {
            return Err(e);
        }
        if !self.closed {
            if cfg.state.is_none() || cfg.release_at_end {
                self.ordered.release_all();
            }
            self.write_ready();
            if let Some(e) = self.failure.take() {
                return Err(e);
            }
        }
        let mut stats = self.ordered.stats(read_errors, self.closed);
        if !self.closed {
            self.long.interrupted(&mut self.buf);
            self.ordered.last_lines(&mut self.buf);
            if let Some(closed) = render::flush(self.out, &mut self.buf)? {
                stats.output_closed = closed;
            }
        }
        // Saved also when the reader of stdout went away (`| head -1`, a forwarder's restart):
        // what was judged is the state the next run starts from.
        if let Some(h) = self.saver.take() {
            let _ = h.join();
        }
        self.ordered.save(cfg)?;
        stats.resume = cfg.state.is_some();
        Ok(stats)
    }
}
