//! The crew: every thread reads, parses and, in turn, judges and writes.
//!
//! ```text
//!  input ─► read (one at a time) ─► parse (all threads at once) ─► inbox ─► turn ─► stdout
//!           blocks cut at line       stateless, the bulk of the    by block  input order: tally,
//!           ends, numbered           work                          number    resolver, table, writer
//! ```
//! Each of the `--threads` threads loops: take the next block from the reader, parse it, put it in
//! the inbox, then, if no other thread holds the turn, take every block whose turn it is and run it
//! through the stages that need input order (line numbers, the resolver, the session table, the
//! writer). So `--threads 1` is one thread doing everything, the same stages as any other count, and
//! `--threads 2` keeps two cores busy with no thread of its own waiting on another: on a 2-core
//! machine, stage threads handing blocks to each other capped scaling (`cargo bench --bench
//! end_to_end` compares `--threads 2` with `--threads 1`).
//!
//! Every verdict is the one a sequential pass gives: the turn takes blocks strictly in input order.
//! The reader stays at most a few blocks ahead of the turn, so memory is bounded whatever the input.

use crate::config::{Config, Emit, Input};
use crate::detect::state::{self, Snapshot};
use crate::detect::{Resolver, Routed, Row, Shard, VerdictKind};
use crate::input::framing::{BlockKind, BufferPool, Frame, FrameReader};
use crate::output::annotation::{self, Annotator};
use crate::parse::block::{BlockParser, ParsedBlock};
use compact_str::CompactString;
use crossbeam_channel::{Receiver, Sender, bounded};
use std::collections::{BTreeMap, HashSet};
use std::io::{self, BufRead, BufReader, IoSlice, Read, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

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
    /// Alerts by (account, role, instance, foreign address), sorted (not for `--emit findings`).
    pub alert_table: Vec<AlertRow>,
    /// The reader of our output went away (`| head -1`); the run stopped early.
    pub output_closed: bool,
}

impl Stats {
    /// The alerts as a table for a person at a terminal, most alerts first.
    pub fn alert_table_text(&self) -> String {
        if self.alert_table.is_empty() {
            return String::new();
        }
        let mut rows = self.alert_table.clone();
        rows.sort_by(|a, b| b.4.cmp(&a.4).then_with(|| a.cmp(b)));
        let head = ("account", "role", "instance", "foreign address", "alerts");
        let w = |f: &dyn Fn(&AlertRow) -> usize, h: &str| rows.iter().map(f).max().unwrap_or(0).max(h.len());
        let (w0, w1, w2, w3) = (
            w(&|r| r.0.len(), head.0),
            w(&|r| r.1.len(), head.1),
            w(&|r| r.2.len(), head.2),
            w(&|r| r.3.len(), head.3),
        );
        let mut out = format!(
            "{:w0$}  {:w1$}  {:w2$}  {:w3$}  {}\n",
            head.0, head.1, head.2, head.3, head.4
        );
        for r in &rows {
            out.push_str(&format!(
                "{:w0$}  {:w1$}  {:w2$}  {:w3$}  {}\n",
                r.0, r.1, r.2, r.3, r.4
            ));
        }
        out
    }

    pub fn summary(&self) -> String {
        let mut s = format!(
            "credtrail: {} records, {} judged, {} alerts, {} malformed, {} sessions live",
            self.records, self.judged, self.alerts, self.malformed, self.sessions
        );
        if self.evicted > 0 {
            s.push_str(&format!(
                "\ncredtrail: warning: the session table was full (--max-sessions): {} sessions closest \
                 to expiry were evicted and their later calls not judged",
                self.evicted
            ));
        }
        s
    }
}

/// A block as read, numbered in input order; `note` says why there is no frame (an input that
/// could not be opened or read).
struct Work {
    seq: u64,
    source: u32,
    frame: Option<Frame>,
    note: Option<String>,
}

/// A block parsed, waiting in the inbox for its turn.
struct Parsed {
    seq: u64,
    source: u32,
    block: Option<ParsedBlock>,
    note: Option<String>,
    /// The block's parse failed: its lines are lost.
    lost: bool,
}

struct Judgement {
    unit: u32,
    /// Place among the unit's lines: 0 for findings closed as event time passed (sorted by their
    /// bytes, an order that depends on nothing else), then 1, 2, … in the order written.
    order: u32,
    annotation: Vec<u8>,
    /// What the writer needs to tell lateral movement (see [`Peers`]).
    peer: Option<Box<PeerInfo>>,
}

/// A lock taken, or an alert's foreign address, for [`Peers`].
enum PeerInfo {
    Lock {
        account: CompactString,
        ip: IpAddr,
        instance: CompactString,
        role: CompactString,
        expires: i64,
    },
    Alert {
        account: CompactString,
        ip: IpAddr,
        instance: CompactString,
        role: CompactString,
        time: i64,
    },
}

/// Locked addresses of every session, kept by the writer in input order: when an alert's foreign
/// address is the locked address of another live session in the same account, the credentials moved
/// to (or came from) another instance of that account, which the annotation says. The writer keeps
/// them as it writes, in input order, so the answer is the same for any thread count.
#[derive(Default)]
struct Peers {
    map: LockedAddresses,
    latest: i64,
    /// Alerts by account, role, instance and foreign address, for the final summary.
    table: BTreeMap<(String, String, String, String), u64>,
    alerts: u64,
    /// Where a progress display reads the alerts so far.
    progress: Option<Arc<crate::config::Progress>>,
}

/// One row of the alert summary: account, role, instance, foreign address, alerts.
pub type AlertRow = (String, String, String, String, u64);

impl Peers {
    const MAX: usize = 1 << 21;

    fn table_rows(&mut self) -> Vec<AlertRow> {
        std::mem::take(&mut self.table)
            .into_iter()
            .map(|((a, r, i, ip), n)| (a, r, i, ip, n))
            .collect()
    }

    fn observe(&mut self, js: &mut [Judgement]) {
        for j in js.iter_mut() {
            let Some(peer) = j.peer.take() else { continue };
            match *peer {
                PeerInfo::Lock {
                    account,
                    ip,
                    instance,
                    role,
                    expires,
                } => {
                    if self.map.len() >= Self::MAX {
                        let now = self.latest;
                        self.map.retain(|l| l.expires >= now);
                    }
                    self.map.insert(account, role, ip, instance, expires);
                }
                PeerInfo::Alert {
                    account,
                    ip,
                    instance,
                    role,
                    time,
                } => {
                    self.latest = self.latest.max(time);
                    self.alerts += 1;
                    if let Some(p) = &self.progress {
                        p.alerts.store(self.alerts, Ordering::Relaxed);
                    }
                    if self.table.len() < 100_000 {
                        let k = (
                            account.to_string(),
                            role.to_string(),
                            instance.to_string(),
                            ip.to_string(),
                        );
                        *self.table.entry(k).or_default() += 1;
                    }
                    let Some(PeerLock {
                        owner,
                        instance: other,
                        expires,
                        ..
                    }) = self.map.get(&account, ip)
                    else {
                        continue;
                    };
                    let role = &owner.role;
                    if *other == instance || time > *expires || j.annotation.last() != Some(&b'}') {
                        continue;
                    }
                    let note = serde_json::json!({
                        "instance_id": other.as_str(),
                        "role": role.as_str(),
                        "note": format!(
                            "used from {other}, role {role}: the address is that instance's own, locked in the same \
                             account; lateral movement inside the account"
                        ),
                    });
                    j.annotation.pop();
                    j.annotation.extend_from_slice(b",\"same_account_peer\":");
                    let _ = serde_json::to_writer(&mut j.annotation, &note);
                    j.annotation.push(b'}');
                }
            }
        }
    }
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

/// Owners kept for sharing; past it a new one is not shared until the next purge.
const MAX_OWNERS: usize = 1 << 16;

/// A session's lock as [`Peers`] keeps it.
struct PeerLock {
    owner: Arc<Owner>,
    instance: CompactString,
    expires: i64,
    /// IPv4 mapped into IPv6; `owner.v6` tells which the address was.
    octets: [u8; 16],
}

fn octets(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

impl PeerLock {
    fn ip(&self) -> IpAddr {
        let v6 = std::net::Ipv6Addr::from(self.octets);
        match v6.to_ipv4_mapped() {
            Some(v4) if !self.owner.v6 => v4.into(),
            _ => v6.into(),
        }
    }

    fn is(&self, account: &str, ip: IpAddr) -> bool {
        self.octets == octets(ip) && self.owner.v6 == ip.is_ipv6() && self.owner.account == account
    }
}

/// The locks by account and address, one or more per live session, so laid out for size. A hash
/// map is mostly empty slots (half of them just after it doubles), so a slot here is only an index
/// (5 bytes) into the locks, which are dense. A plain map of the same data was 105 bytes a slot
/// (the harness's table-per-session row measures the whole).
#[derive(Default)]
struct LockedAddresses {
    /// In chunks of [`CHUNK`] locks, not one vector: a vector copies itself as it doubles, and the
    /// allocator keeps the old copy resident for a while.
    chunks: Vec<Vec<PeerLock>>,
    /// Positions in the locks, counted across chunks.
    index: hashbrown::HashTable<u32>,
    hasher: ahash::RandomState,
    owners: HashSet<Arc<Owner>, ahash::RandomState>,
    /// Owners made since the last purge of unused ones: a purge visits every owner, so it waits
    /// for as many new ones.
    owners_since_purge: usize,
}

const CHUNK: usize = 4096;

fn lock_hash(hasher: &ahash::RandomState, account: &str, ip: IpAddr) -> u64 {
    hasher.hash_one((account, ip))
}

fn lock_at(chunks: &[Vec<PeerLock>], i: u32) -> &PeerLock {
    &chunks[i as usize / CHUNK][i as usize % CHUNK]
}

/// Appends a lock; its position.
fn push_lock(chunks: &mut Vec<Vec<PeerLock>>, lock: PeerLock) -> u32 {
    if chunks.last().is_none_or(|c| c.len() == CHUNK) {
        chunks.push(Vec::with_capacity(CHUNK));
    }
    let n = chunks.len();
    chunks[n - 1].push(lock);
    // At most `Peers::MAX` locks: a position fits in 32 bits.
    ((n - 1) * CHUNK + chunks[n - 1].len() - 1) as u32
}

impl LockedAddresses {
    fn len(&self) -> usize {
        self.chunks
            .last()
            .map_or(0, |c| (self.chunks.len() - 1) * CHUNK + c.len())
    }

    fn get(&self, account: &str, ip: IpAddr) -> Option<&PeerLock> {
        let chunks = &self.chunks;
        let found = self.index.find(lock_hash(&self.hasher, account, ip), |&i| {
            lock_at(chunks, i).is(account, ip)
        });
        found.map(|&i| lock_at(chunks, i))
    }

    /// Sets the lock of `(account, ip)`, replacing the one it had.
    fn insert(
        &mut self,
        account: CompactString,
        role: CompactString,
        ip: IpAddr,
        instance: CompactString,
        expires: i64,
    ) {
        let hash = lock_hash(&self.hasher, &account, ip);
        let owner = self.owner(Owner {
            account,
            role,
            v6: ip.is_ipv6(),
        });
        let lock = PeerLock {
            owner,
            instance,
            expires,
            octets: octets(ip),
        };
        let (chunks, hasher) = (&mut self.chunks, &self.hasher);
        let found = self
            .index
            .find(hash, |&i| lock_at(chunks, i).is(&lock.owner.account, ip));
        match found.copied() {
            Some(i) => chunks[i as usize / CHUNK][i as usize % CHUNK] = lock,
            None => {
                let i = push_lock(chunks, lock);
                self.index.insert_unique(hash, i, |&j| {
                    let l = lock_at(chunks, j);
                    lock_hash(hasher, &l.owner.account, l.ip())
                });
            }
        }
    }

    fn retain(&mut self, mut keep: impl FnMut(&PeerLock) -> bool) {
        for l in std::mem::take(&mut self.chunks).into_iter().flatten() {
            if keep(&l) {
                push_lock(&mut self.chunks, l);
            }
        }
        let (chunks, hasher) = (&self.chunks, &self.hasher);
        let hash = |l: &PeerLock| lock_hash(hasher, &l.owner.account, l.ip());
        self.index.clear();
        for (i, l) in chunks.iter().flatten().enumerate() {
            self.index
                .insert_unique(hash(l), i as u32, |&j| hash(lock_at(chunks, j)));
        }
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

/// What the table is given: a step, or (for findings) the event time having moved on.
// Ticks are rare and steps are the traffic: boxing every step to shrink a tick would cost more.
#[allow(clippy::large_enum_variant)]
enum Item {
    Step(Routed),
    Tick(i64),
}

/// How often, in event time, findings are checked for closing.
const TICK: i64 = crate::parse::event_time::MINUTE;

/// Decides, from the routed steps in input order, where the findings clock ticks: the same places
/// for any thread count and any block cuts.
#[derive(Default)]
struct TickClock {
    next: Option<i64>,
}

impl TickClock {
    fn due(&mut self, wm: i64) -> bool {
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

/// Opens an input, decompressing gzip when its first bytes say so (CloudTrail's S3 objects are
/// `.json.gz`, but names are not to be trusted). With `stop`, the input ends as soon as it is set.
pub fn open(input: Input, stop: Option<&Arc<AtomicBool>>) -> io::Result<Box<dyn Read + Send>> {
    open_counted(input, stop, None)
}

fn open_counted(
    input: Input,
    stop: Option<&Arc<AtomicBool>>,
    progress: Option<&Arc<crate::config::Progress>>,
) -> io::Result<Box<dyn Read + Send>> {
    use std::os::fd::AsRawFd;
    if matches!(input, Input::Stdin) {
        widen_pipe(io::stdin().as_raw_fd());
    }
    let raw: Box<dyn Read + Send> = match (input, stop) {
        (Input::Stdin, Some(stop)) => Box::new(Stoppable {
            fd: io::stdin().as_raw_fd(),
            inner: io::stdin(),
            stop: stop.clone(),
        }),
        (Input::Stdin, None) => Box::new(io::stdin()),
        (Input::Path(p), Some(stop)) => {
            let f = std::fs::File::open(p)?;
            Box::new(Stoppable {
                fd: f.as_raw_fd(),
                inner: f,
                stop: stop.clone(),
            })
        }
        (Input::Path(p), None) => Box::new(std::fs::File::open(p)?),
        (Input::Memory(_, bytes), _) => Box::new(io::Cursor::new(bytes)),
    };
    let raw: Box<dyn Read + Send> = match progress {
        Some(p) => Box::new(Counted {
            inner: raw,
            progress: p.clone(),
        }),
        None => raw,
    };
    let mut buffered = BufReader::with_capacity(1 << 16, raw);
    let head = buffered.fill_buf()?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::bufread::MultiGzDecoder::new(buffered)))
    } else {
        Ok(Box::new(buffered))
    }
}

/// Asks for a 1 MiB pipe buffer when `fd` is a pipe (Linux allows that much unprivileged). On
/// stdin, the default 64 KiB let the writer (`cat`, `kcat`) fill the pipe and sleep whenever the
/// threads were all parsing, and cut blocks of 64 KiB (the harness's `cat FILE | credtrail` row
/// measures it). On stdout, writing a block of 1 MiB or more into 64 KiB took some 16 wake-ups of
/// the reader and of this process, with the turn held (the `--emit all` row measures it).
pub fn widen_pipe(fd: std::os::fd::RawFd) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: fstat and fcntl on a descriptor we were given; failure changes nothing.
        unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            if libc::fstat(fd, &mut st) == 0 && (st.st_mode & libc::S_IFMT) == libc::S_IFIFO {
                libc::fcntl(fd, libc::F_SETPIPE_SZ, 1 << 20);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = fd;
}

/// Counts the bytes read from a file for a progress display.
struct Counted<R> {
    inner: R,
    progress: Arc<crate::config::Progress>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A source that ends when `stop` is set, even while it waits on an idle pipe: it polls the
/// descriptor with a short timeout instead of blocking in `read`.
struct Stoppable<R> {
    fd: std::os::fd::RawFd,
    inner: R,
    stop: Arc<AtomicBool>,
}

impl<R: Read> Read for Stoppable<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(0);
            }
            let mut pfd = libc::pollfd {
                fd: self.fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd, for the duration of the call.
            let n = unsafe { libc::poll(&mut pfd, 1, 100) };
            if n > 0 || (n < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted) {
                return self.inner.read(buf);
            }
        }
    }
}

/// Runs the filter over `cfg.inputs`, writing records to `out` and messages to `err`.
pub fn run(cfg: &Config, out: &mut (dyn Write + Send), err: &mut (dyn Write + Send)) -> io::Result<Stats> {
    let threads = cfg.threads.max(1);
    let snapshot = load_state(cfg, err)?;
    let annotator = annotator(cfg)?;
    // Enough for every block in flight, so that the reader does not fault in fresh pages again.
    let pool = BufferPool::new(8 * threads + 8);
    let mut shard = Shard::new(cfg.detector.clone());
    // Only `--emit all` writes a verdict for every call. (`run_sequential` keeps every verdict: the
    // tests that hold this run to it check that the ones skipped here change nothing.)
    if cfg.emit != Emit::All {
        shard.notable_only();
    }
    let resolver = Resolver::import(&snapshot);
    for (instance, rows) in snapshot.rows {
        shard.import(instance, rows);
    }
    let turn = Turn {
        emit: cfg.emit,
        tally: Tally::new(cfg.inputs.iter().map(Input::name).collect(), cfg.report_limit),
        resolver,
        shard,
        judge: Judge::new(cfg.emit, annotator),
        clock: (cfg.emit == Emit::Findings).then(TickClock::default),
        peers: Peers {
            progress: cfg.progress.clone(),
            ..Peers::default()
        },
        js: Vec::new(),
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
        reader: Mutex::new(ReadSide::new(cfg, pool)),
        inbox: Mutex::new(Inbox::default()),
        room: Condvar::new(),
        turn: Mutex::new(turn),
        halt: AtomicBool::new(false),
        // Two blocks a thread keeps every thread busy; more only holds memory (a block in flight is
        // up to a read of input, 1 MiB, and its parse).
        ahead: 2 * threads as u64 + 4,
        max_line: cfg.max_line_bytes,
        stop: cfg.stop.clone(),
    };
    thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(|| crew.work());
        }
        crew.work();
    });
    let reader = crew.reader.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut turn = crew.turn.into_inner().unwrap_or_else(|e| e.into_inner());
    turn.finish(cfg, reader.errors)
}

/// What the threads share.
struct Crew<'a> {
    reader: Mutex<ReadSide>,
    inbox: Mutex<Inbox>,
    /// Signalled when the turn takes a block, for a reader waiting for room.
    room: Condvar,
    turn: Mutex<Turn<'a>>,
    /// The output is gone or failed: stop reading.
    halt: AtomicBool,
    /// How many blocks the reader may be ahead of the turn.
    ahead: u64,
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

impl Crew<'_> {
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
    fn next_work(&self) -> Option<Work> {
        let mut reader = lock(&self.reader);
        {
            let mut inbox = lock(&self.inbox);
            while reader.seq >= inbox.next + self.ahead && !self.halted() {
                inbox.waiters += 1;
                inbox = self.room.wait(inbox).unwrap_or_else(|e| e.into_inner());
                inbox.waiters -= 1;
            }
        }
        if self.halted() {
            return None;
        }
        reader.next_work()
    }

    /// Takes the turn, unless another thread has it, and runs every block that is ready in order.
    fn take_turns(&self) {
        loop {
            let Ok(mut turn) = self.turn.try_lock() else {
                // The holder looks at the inbox again after letting go, so this block is not left.
                return;
            };
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

type Frames = FrameReader<Box<dyn Read + Send>>;

/// Reads the inputs in order into numbered blocks; one thread at a time.
struct ReadSide {
    inputs: std::iter::Enumerate<std::vec::IntoIter<Input>>,
    /// The input being read: its number, name and frames.
    current: Option<(u32, String, Frames)>,
    ahead: Option<Receiver<Option<Fetched>>>,
    seq: u64,
    errors: u64,
    pool: BufferPool,
    stop: Option<Arc<AtomicBool>>,
    progress: Option<Arc<crate::config::Progress>>,
    read_size: usize,
    max_line: usize,
}

impl ReadSide {
    fn new(cfg: &Config, pool: BufferPool) -> ReadSide {
        ReadSide {
            inputs: cfg.inputs.clone().into_iter().enumerate(),
            current: None,
            ahead: prefetch(&cfg.inputs, cfg.stop.clone(), cfg.progress.clone()),
            seq: 0,
            errors: 0,
            pool,
            stop: cfg.stop.clone(),
            progress: cfg.progress.clone(),
            read_size: cfg.read_size,
            max_line: cfg.max_line_bytes,
        }
    }

    fn numbered(&mut self, source: u32, frame: Option<Frame>, note: Option<String>) -> Work {
        self.seq += 1;
        Work {
            seq: self.seq - 1,
            source,
            frame,
            note,
        }
    }

    fn next_work(&mut self) -> Option<Work> {
        loop {
            let Some((source, name, frames)) = &mut self.current else {
                let (source, input) = self.inputs.next()?;
                let source = source as u32;
                let name = input.name();
                let fetched = self.ahead.as_ref().and_then(|rx| rx.recv().ok()).flatten();
                let opened = match fetched {
                    Some(done) => done
                        .recv()
                        .unwrap_or_else(|_| Err(io::Error::other("decompression failed")))
                        .map(|bytes| -> Box<dyn Read + Send> { Box::new(io::Cursor::new(bytes)) }),
                    None => open_counted(input, self.stop.as_ref(), self.progress.as_ref()),
                };
                match opened {
                    Ok(r) => {
                        let frames =
                            FrameReader::with_pool(r, self.read_size, self.max_line, self.pool.clone());
                        self.current = Some((source, name, frames));
                    }
                    Err(e) => {
                        self.errors += 1;
                        return Some(self.numbered(source, None, Some(format!("credtrail: {name}: {e}"))));
                    }
                }
                continue;
            };
            let source = *source;
            let (frame, note) = match frames.next_frame() {
                Ok(Some(f)) => return Some(self.numbered(source, Some(f), None)),
                Ok(None) => (None, None),
                Err(e) => {
                    self.errors += 1;
                    (None, Some(format!("credtrail: {name}: read error: {e}")))
                }
            };
            self.current = None;
            if let Some(p) = &self.progress {
                p.files_done.fetch_add(1, Ordering::Relaxed);
            }
            if note.is_some() {
                return Some(self.numbered(source, frame, note));
            }
        }
    }
}

fn parse(parser: &mut BlockParser, w: Work, max_line: usize) -> Parsed {
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

/// The stages that need input order, run by whichever thread holds the turn.
struct Turn<'a> {
    emit: Emit,
    tally: Tally,
    resolver: Resolver,
    shard: Shard,
    judge: Judge,
    clock: Option<TickClock>,
    peers: Peers,
    js: Vec<Judgement>,
    buf: Vec<u8>,
    out: &'a mut (dyn Write + Send),
    err: &'a mut (dyn Write + Send),
    pool: BufferPool,
    progress: Option<Arc<crate::config::Progress>>,
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
        self.tally.lost_blocks += u64::from(p.lost);
        if let (Some(pr), Some(b)) = (&self.progress, &p.block) {
            pr.records.fetch_add(u64::from(b.records), Ordering::Relaxed);
        }
        for m in self.tally.account(p.source, p.block.as_ref(), p.note.take()) {
            let _ = writeln!(self.err, "{m}");
        }
        let Some(mut block) = p.block else { return };
        let Turn {
            resolver,
            shard,
            judge,
            clock,
            js,
            ..
        } = self;
        js.clear();
        for (unit, fact) in std::mem::take(&mut block.facts) {
            resolver.route(fact, |r| {
                if clock.as_mut().is_some_and(|c| c.due(r.watermark)) {
                    judge.item(shard, unit, Item::Tick(r.watermark), js);
                }
                judge.item(shard, unit, Item::Step(r), js);
            });
        }
        if !js.is_empty() {
            // Already in order but for findings closed by the clock: sorting every block's
            // judgements again (with `--emit all`, one per record) allocated and compared for nothing.
            if !js.is_sorted_by(|a, b| judgement_key(a) <= judgement_key(b)) {
                js.sort_by(|a, b| judgement_key(a).cmp(&judgement_key(b)));
            }
            self.peers.observe(js);
        }
        if self.emit == Emit::All && !matches!(block.kind, BlockKind::Oversized { .. }) {
            // Every byte goes out again: written from where it lies, not copied into `buf` first.
            self.flush();
            let js = std::mem::take(&mut self.js);
            let mut slices = Vec::with_capacity(2 * js.len() + 8);
            render_all(&block, &js, &mut slices);
            self.write_vectored(&mut slices);
            drop(slices);
            self.js = js;
        } else {
            render(self.emit, &block, &self.js, &mut self.buf);
        }
        self.pool.give(block.data);
        if self.buf.len() >= 1 << 20 {
            self.flush();
        }
    }

    /// Writes what is buffered: called whenever no further block is ready, so that a lone record
    /// on a live stream goes out at once.
    fn flush(&mut self) {
        if self.buf.is_empty() || self.closed || self.failure.is_some() {
            self.buf.clear();
            return;
        }
        let r = flush(self.out, &mut self.buf);
        self.settle(r);
    }

    fn write_vectored(&mut self, slices: &mut [IoSlice<'_>]) {
        if self.closed || self.failure.is_some() {
            return;
        }
        let r = write_all_vectored(self.out, slices).and_then(|()| self.out.flush());
        self.settle(written(r));
    }

    fn settle(&mut self, r: io::Result<Option<bool>>) {
        match r {
            Ok(Some(true)) => self.closed = true,
            Ok(_) => {}
            Err(e) => self.failure = Some(e),
        }
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
        let rows = self.shard.export();
        let mut snap = Snapshot::default();
        self.resolver.export(&mut snap);
        let resolver = Resolver::import(&snap);
        let path = path.clone();
        self.saver = Some(thread::spawn(move || {
            if let Err(e) = save_state(&path, &resolver, rows) {
                eprintln!("credtrail: warning: checkpoint not saved: {e}");
            }
        }));
    }

    /// After the last block: findings still open, the output flushed, the state saved.
    fn finish(&mut self, cfg: &Config, read_errors: u64) -> io::Result<Stats> {
        if let Some(e) = self.failure.take() {
            return Err(e);
        }
        let mut stats = Stats {
            records: self.tally.records,
            judged: self.judge.judged + self.shard.quiet_judged(),
            alerts: self.judge.alerts,
            malformed: self.tally.malformed,
            sessions: self.shard.sessions() as u64,
            input_errors: read_errors + self.tally.lost_blocks,
            evicted: self.shard.evicted(),
            alert_table: self.peers.table_rows(),
            output_closed: self.closed,
        };
        if self.closed {
            return Ok(stats);
        }
        let mut last = Vec::new();
        self.judge
            .finish(self.resolver.watermark().unwrap_or(i64::MIN), &mut last);
        last.sort_unstable_by(|a, b| a.annotation.cmp(&b.annotation));
        for j in last {
            self.buf.extend_from_slice(&j.annotation);
        }
        if let Some(closed) = flush(self.out, &mut self.buf)? {
            stats.output_closed = closed;
            return Ok(stats);
        }
        if let Some(h) = self.saver.take() {
            let _ = h.join();
        }
        if let Some(path) = &cfg.state {
            save_state(path, &self.resolver, self.shard.export())?;
        }
        Ok(stats)
    }
}
/// What the annotations need: the window, and `--aws-ip-ranges` loaded once for all.
fn annotator(cfg: &Config) -> io::Result<Annotator> {
    let ranges = match &cfg.aws_ip_ranges {
        Some(p) => Some(Arc::new(
            crate::output::ip_ranges::AwsRanges::load(p)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?,
        )),
        None => None,
    };
    Ok(Annotator {
        window: cfg.detector.change_window,
        ranges,
    })
}

/// The table to start from: the `--state` file, or empty.
fn load_state(cfg: &Config, err: &mut dyn Write) -> io::Result<Snapshot> {
    let Some(path) = &cfg.state else {
        return Ok(Snapshot::default());
    };
    match state::load(path) {
        Ok(s) => Ok(s),
        Err(e) if cfg.state_reset => {
            writeln!(
                err,
                "credtrail: warning: {e}; starting with an empty session table (--state-reset)"
            )?;
            Ok(Snapshot::default())
        }
        Err(e) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{e} (use --state-reset to start empty)"),
        )),
    }
}

fn save_state(
    path: &std::path::Path,
    resolver: &Resolver,
    rows: Vec<(CompactString, Vec<Row>)>,
) -> io::Result<()> {
    let mut snap = Snapshot::default();
    resolver.export(&mut snap);
    snap.rows = rows;
    snap.rows.sort_by(|a, b| a.0.cmp(&b.0));
    state::save(path, &snap).map_err(|e| io::Error::new(e.kind(), format!("--state {}: {e}", path.display())))
}

/// Files read whole on worker threads ahead of the reader when there are many small ones, as in a
/// CloudTrail archive (thousands of `.json.gz` files of a few hundred KB): decompression then runs
/// on other cores while the reader feeds the parse workers. Bounded: at most `LOOKAHEAD` files ahead,
/// each under `SMALL` bytes on disk; bigger files are streamed by the reader itself.
type Fetched = Receiver<io::Result<Vec<u8>>>;

fn prefetch(
    inputs: &[Input],
    stop: Option<Arc<AtomicBool>>,
    progress: Option<Arc<crate::config::Progress>>,
) -> Option<Receiver<Option<Fetched>>> {
    const LOOKAHEAD: usize = 4;
    const SMALL: u64 = 2 << 20;
    if inputs.len() < 2 {
        return None;
    }
    let (order_tx, order_rx) = bounded::<Option<Fetched>>(LOOKAHEAD);
    let (job_tx, job_rx) = bounded::<(PathBuf, Sender<io::Result<Vec<u8>>>)>(LOOKAHEAD);
    for _ in 0..2 {
        let (rx, stop, progress) = (job_rx.clone(), stop.clone(), progress.clone());
        thread::spawn(move || {
            for (path, done) in rx {
                let result =
                    open_counted(Input::Path(path), stop.as_ref(), progress.as_ref()).and_then(|mut r| {
                        let mut bytes = Vec::new();
                        r.read_to_end(&mut bytes).map(|_| bytes)
                    });
                let _ = done.send(result);
            }
        });
    }
    let inputs = inputs.to_vec();
    thread::spawn(move || {
        for input in inputs {
            let small = match &input {
                Input::Path(p) => std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.len() <= SMALL),
                _ => false,
            };
            let slot = match input {
                Input::Path(p) if small => {
                    let (done_tx, done_rx) = bounded(1);
                    if job_tx.send((p, done_tx)).is_err() {
                        return;
                    }
                    Some(done_rx)
                }
                _ => None,
            };
            if order_tx.send(slot).is_err() {
                return;
            }
        }
    });
    Some(order_rx)
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

/// What the table's verdicts become, per mode; counts what it judged.
struct Judge {
    emit: Emit,
    ctx: Annotator,
    incidents: Option<crate::output::findings::Incidents>,
    judged: u64,
    alerts: u64,
}

impl Judge {
    fn new(emit: Emit, ctx: Annotator) -> Judge {
        let incidents = (emit == Emit::Findings)
            .then(|| crate::output::findings::Incidents::new(Default::default(), ctx.ranges.clone()));
        Judge {
            emit,
            ctx,
            incidents,
            judged: 0,
            alerts: 0,
        }
    }

    fn item(&mut self, shard: &mut Shard, unit: u32, item: Item, out: &mut Vec<Judgement>) {
        let routed = match item {
            Item::Step(r) => r,
            Item::Tick(wm) => {
                if let Some(inc) = &mut self.incidents {
                    let mut buf = Vec::new();
                    inc.advance(wm, &mut buf);
                    push_lines(&buf, unit, 0, out);
                }
                return;
            }
        };
        let wm = routed.watermark;
        let Some(v) = shard.apply(routed) else { return };
        self.judged += 1;
        let alert = v.kind == VerdictKind::Compromise;
        self.alerts += u64::from(alert);
        match (&mut self.incidents, self.emit) {
            (Some(inc), _) if alert => {
                let c = &v.context;
                let a = crate::output::findings::Alert {
                    verdict: &v,
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
            }
            (Some(_), _) => {}
            (None, emit) => {
                let peer = peer_info(&v);
                let wanted = alert || emit == Emit::All;
                if wanted || peer.is_some() {
                    let mut annotation = Vec::new();
                    if wanted {
                        annotation.reserve(512);
                        annotation::write(&v, &self.ctx, &mut annotation);
                    }
                    out.push(Judgement {
                        unit,
                        order: 1,
                        annotation,
                        peer,
                    });
                }
            }
        }
    }

    fn finish(&mut self, wm: i64, out: &mut Vec<Judgement>) {
        if let Some(inc) = &mut self.incidents {
            let mut buf = Vec::new();
            inc.finish(wm, &mut buf);
            push_lines(&buf, u32::MAX, 0, out);
        }
    }
}

/// What a verdict tells [`Peers`]: a newly locked address, or an alert's foreign address.
fn peer_info(v: &crate::detect::Verdict) -> Option<Box<PeerInfo>> {
    // Most verdicts are a call from the locked address: nothing to tell, nothing to parse.
    if !crate::detect::notable(v.kind, v.first_lock) {
        return None;
    }
    let ip: IpAddr = v.source.parse().ok()?;
    let (account, instance) = (v.session.account.clone(), v.session.instance.clone());
    match v.kind {
        VerdictKind::Compromise => Some(Box::new(PeerInfo::Alert {
            account,
            ip,
            instance,
            role: v.session.role.clone(),
            time: v.time,
        })),
        VerdictKind::Locked if v.first_lock => Some(Box::new(PeerInfo::Lock {
            account,
            ip,
            instance,
            role: v.session.role.clone(),
            expires: v.expires,
        })),
        VerdictKind::IpAdded => Some(Box::new(PeerInfo::Lock {
            account,
            ip,
            instance,
            role: v.session.role.clone(),
            expires: v.expires,
        })),
        _ => None,
    }
}

/// The order a block's judgements are written in.
fn judgement_key(j: &Judgement) -> (u32, u32, &[u8]) {
    (j.unit, j.order, &j.annotation)
}

/// Finding lines one by one: lines closed by the clock are ordered by their bytes (`order` 0),
/// those written for one record keep the order they were written in (`order` 1, 2, …).
fn push_lines(buf: &[u8], unit: u32, order: u32, out: &mut Vec<Judgement>) {
    for (i, line) in buf.split_inclusive(|&c| c == b'\n').enumerate() {
        let order = if order == 0 { 0 } else { order + i as u32 };
        out.push(Judgement {
            unit,
            order,
            annotation: line.to_vec(),
            peer: None,
        });
    }
}

/// The same stages in one loop, without threads: the reference the threaded pipeline must equal.
pub fn run_sequential(cfg: &Config, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<Stats> {
    let mut tally = Tally::new(cfg.inputs.iter().map(Input::name).collect(), cfg.report_limit);
    let mut parser = BlockParser::with_max_line(cfg.max_line_bytes);
    let snapshot = load_state(cfg, err)?;
    let annotator = annotator(cfg)?;
    let mut resolver = Resolver::import(&snapshot);
    let mut shard = Shard::new(cfg.detector.clone());
    for (instance, rows) in snapshot.rows {
        shard.import(instance, rows);
    }
    let mut judge = Judge::new(cfg.emit, annotator.clone());
    let mut peers = Peers::default();
    let mut clock = (cfg.emit == Emit::Findings).then(TickClock::default);
    let mut input_errors = 0;
    let mut buf = Vec::new();
    for (source, input) in cfg.inputs.iter().enumerate() {
        let name = input.name();
        let mut frames = match open(input.clone(), cfg.stop.as_ref()) {
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
            if let Some(mut block) = block {
                let mut js = Vec::new();
                for (unit, fact) in std::mem::take(&mut block.facts) {
                    resolver.route(fact, |r| {
                        if clock.as_mut().is_some_and(|c| c.due(r.watermark)) {
                            judge.item(&mut shard, unit, Item::Tick(r.watermark), &mut js);
                        }
                        judge.item(&mut shard, unit, Item::Step(r), &mut js);
                    });
                }
                js.sort_by(|a, b| judgement_key(a).cmp(&judgement_key(b)));
                peers.observe(&mut js);
                render(cfg.emit, &block, &js, &mut buf);
                out.write_all(&buf)?;
                buf.clear();
            }
            if failed {
                break;
            }
        }
    }
    let mut last = Vec::new();
    judge.finish(resolver.watermark().unwrap_or(i64::MIN), &mut last);
    last.sort_unstable_by(|a, b| a.annotation.cmp(&b.annotation));
    for j in last {
        out.write_all(&j.annotation)?;
    }
    out.flush()?;
    if let Some(path) = &cfg.state {
        save_state(path, &resolver, shard.export())?;
    }
    Ok(Stats {
        records: tally.records,
        judged: judge.judged + shard.quiet_judged(),
        alerts: judge.alerts,
        malformed: tally.malformed,
        sessions: shard.sessions() as u64,
        evicted: shard.evicted(),
        alert_table: peers.table_rows(),
        input_errors,
        output_closed: false,
    })
}

/// Writes and flushes `buf`. `Some(true)`: the reader has gone.
fn flush(out: &mut dyn Write, buf: &mut Vec<u8>) -> io::Result<Option<bool>> {
    let r = out.write_all(buf).and_then(|()| out.flush());
    buf.clear();
    written(r)
}

/// What a write to the output came to. `Some(true)`: the reader has gone.
fn written(r: io::Result<()>) -> io::Result<Option<bool>> {
    match r {
        Ok(()) => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Some(true)),
        Err(e) => Err(io::Error::new(e.kind(), format!("output: {e}"))),
    }
}

/// `Write::write_all_vectored`, which is not stable yet: every byte of `slices`, in order, however
/// many calls it takes.
fn write_all_vectored(out: &mut dyn Write, mut slices: &mut [IoSlice<'_>]) -> io::Result<()> {
    IoSlice::advance_slices(&mut slices, 0);
    while !slices.is_empty() {
        match out.write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// [`render`]'s `--emit all` output of a block of lines as slices of the block and of the
/// annotations: runs of lines passed on unchanged are one slice each, newlines included.
/// `run_sequential` keeps `render`, so the property tests hold the two to the same bytes.
fn render_all<'a>(block: &'a ParsedBlock, js: &'a [Judgement], out: &mut Vec<IoSlice<'a>>) {
    // The unchanged run being gathered: a span of `block.data`.
    let mut run: Option<(usize, usize)> = None;
    let mut js = js.iter().peekable();
    for (i, u) in block.units.iter().enumerate() {
        let annotated = js.next_if(|j| j.unit as usize == i);
        let (start, end) = (u.start as usize, u.end as usize);
        // A line of the block followed by its own newline goes out as it lies, newline and all.
        let whole_line = annotated.is_none() && !u.compacted && block.data.get(end) == Some(&b'\n');
        if whole_line {
            match &mut run {
                Some((_, run_end)) if *run_end == start => *run_end = end + 1,
                _ => {
                    push_run(block, run.take(), out);
                    run = Some((start, end + 1));
                }
            }
            continue;
        }
        push_run(block, run.take(), out);
        let bytes = block.bytes(u);
        match annotated {
            Some(j) => {
                for part in annotation::spliced(bytes, &j.annotation) {
                    push_slice(part, out);
                }
            }
            None => {
                push_slice(bytes, out);
                push_slice(b"\n", out);
            }
        }
    }
    push_run(block, run, out);
}

fn push_run<'a>(block: &'a ParsedBlock, run: Option<(usize, usize)>, out: &mut Vec<IoSlice<'a>>) {
    if let Some((start, end)) = run {
        push_slice(&block.data[start..end], out);
    }
}

fn push_slice<'a>(bytes: &'a [u8], out: &mut Vec<IoSlice<'a>>) {
    if !bytes.is_empty() {
        out.push(IoSlice::new(bytes));
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
        Emit::Findings => {
            for j in js {
                buf.extend_from_slice(&j.annotation);
            }
        }
        Emit::Alerts => {
            for j in js.iter().filter(|j| !j.annotation.is_empty()) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// What the map of `(account, ip)` to `(instance, role, expires)` it replaced did.
    #[test]
    fn locked_addresses_act_as_a_map() {
        let mut m = LockedAddresses::default();
        let seen = |m: &LockedAddresses, a: &str, i: &str| {
            m.get(a, ip(i)).map(|l| {
                (
                    l.instance.to_string(),
                    l.owner.role.to_string(),
                    l.expires,
                    l.ip(),
                )
            })
        };
        m.insert("1".into(), "r".into(), ip("3.3.3.3"), "i-1".into(), 10);
        m.insert("1".into(), "r".into(), ip("::ffff:3.3.3.3"), "i-2".into(), 20);
        m.insert("2".into(), "s".into(), ip("3.3.3.3"), "i-3".into(), 30);
        assert_eq!(
            seen(&m, "1", "3.3.3.3"),
            Some(("i-1".into(), "r".into(), 10, ip("3.3.3.3")))
        );
        assert_eq!(
            seen(&m, "1", "::ffff:3.3.3.3"),
            Some(("i-2".into(), "r".into(), 20, ip("::ffff:3.3.3.3"))),
            "an IPv4 address and the same address mapped into IPv6 are two keys"
        );
        assert_eq!(
            seen(&m, "2", "3.3.3.3"),
            Some(("i-3".into(), "s".into(), 30, ip("3.3.3.3")))
        );
        assert_eq!(seen(&m, "3", "3.3.3.3"), None);
        m.insert("1".into(), "t".into(), ip("3.3.3.3"), "i-4".into(), 40);
        assert_eq!(
            seen(&m, "1", "3.3.3.3"),
            Some(("i-4".into(), "t".into(), 40, ip("3.3.3.3")))
        );
        assert_eq!(m.len(), 3);
        m.retain(|l| l.expires >= 25);
        assert_eq!(m.len(), 2);
        assert_eq!(seen(&m, "1", "::ffff:3.3.3.3"), None);
        assert_eq!(
            seen(&m, "2", "3.3.3.3"),
            Some(("i-3".into(), "s".into(), 30, ip("3.3.3.3")))
        );
        assert_eq!(
            seen(&m, "1", "3.3.3.3"),
            Some(("i-4".into(), "t".into(), 40, ip("3.3.3.3")))
        );
        for n in 0..10_000u32 {
            let a = IpAddr::from(n.to_be_bytes());
            m.insert(
                "1".into(),
                format!("r{}", n % 7).into(),
                a,
                format!("i-{n}").into(),
                50,
            );
        }
        assert_eq!(m.len(), 10_002);
        m.retain(|l| l.instance != "i-5");
        assert_eq!(m.len(), 10_001);
        for n in (0..10_000u32).filter(|&n| n != 5) {
            let l = m.get("1", IpAddr::from(n.to_be_bytes())).unwrap();
            assert_eq!(
                (l.instance.as_str(), l.owner.role.as_str()),
                (format!("i-{n}").as_str(), format!("r{}", n % 7).as_str())
            );
        }
    }

    /// One per live session: what it costs decides, with the session table, how many fit.
    #[test]
    fn a_lock_stays_small() {
        assert!(
            std::mem::size_of::<PeerLock>() <= 56,
            "{}",
            std::mem::size_of::<PeerLock>()
        );
    }

    /// Takes at most 5 bytes a call, and is interrupted every third call, as a slow pipe may be.
    struct Trickle {
        got: Vec<u8>,
        calls: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls.is_multiple_of(3) {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = b.len().min(5);
            self.got.extend_from_slice(&b[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// `--emit all` written from where the bytes lie says exactly what `render` copies, for lines
    /// passed on, annotated lines (CRLF and BOM ones too), a line with no newline at the end of the
    /// input, and the records of a pretty-printed document (compacted, so not in the block's bytes),
    /// whichever lines are annotated; and every byte arrives through a writer that takes a few at a
    /// time.
    #[test]
    fn emit_all_slices_are_what_render_copies() {
        let lines: &[u8] = b"{\"a\":1}\n{\"b\":2}\r\n\xEF\xBB\xBF{\"c\":3}\nnot json\n\n{ }\n{\"d\":4}";
        // Spaced so that the document's byte at the end of its first compacted record is a newline:
        // a compacted record must not be taken for a line of the block.
        let document: &[u8] = b"{\n\"Records\":[      \n{\"e\":5},{\"f\":6}]\n}\n";
        let mut saw_compacted = false;
        for (data, kind) in [(lines, BlockKind::Lines), (document, BlockKind::Document)] {
            let block = BlockParser::default().parse(Frame {
                data: data.to_vec(),
                kind,
            });
            saw_compacted |= block.units.iter().any(|u| u.compacted);
            let n = block.units.len();
            assert!(n >= 2, "{n} units");
            for annotated in [0usize, 1, 2, 3] {
                let js: Vec<Judgement> = (0..n)
                    .filter(|i| match annotated {
                        0 => false,
                        1 => true,
                        2 => i % 2 == 0,
                        _ => i % 2 == 1,
                    })
                    .map(|i| Judgement {
                        unit: i as u32,
                        order: 1,
                        annotation: format!("{{\"v\":{i}}}").into_bytes(),
                        peer: None,
                    })
                    .collect();
                let mut copied = Vec::new();
                render(Emit::All, &block, &js, &mut copied);
                let mut slices = Vec::new();
                render_all(&block, &js, &mut slices);
                let mut out = Trickle {
                    got: Vec::new(),
                    calls: 0,
                };
                write_all_vectored(&mut out, &mut slices).unwrap();
                assert_eq!(
                    String::from_utf8_lossy(&out.got),
                    String::from_utf8_lossy(&copied),
                    "{kind:?}, annotated {annotated}"
                );
            }
        }
        assert!(saw_compacted, "the document's records are compacted units");
    }
}
