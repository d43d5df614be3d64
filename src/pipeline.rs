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

use crate::annotation::{self, Annotator};
use crate::block::{BlockParser, ParsedBlock};
use crate::config::{Config, Emit, Input};
use crate::detector::{Resolver, Routed, Row, Shard, VerdictKind};
use crate::framing::{BlockKind, BufferPool, Frame, FrameReader};
use crate::state::{self, Snapshot};
use compact_str::CompactString;
use crossbeam_channel::{Receiver, Sender, bounded};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
    steps: Vec<(u32, Item)>,
}

type Rows = Vec<(CompactString, Vec<Row>)>;

enum ShardMsg {
    Batch(ShardBatch),
    /// Send a copy of your rows here: a checkpoint cut after the batches before this message.
    Checkpoint(Sender<Rows>),
    /// End of input at this watermark: close what is open (findings).
    Finish(i64),
}

struct Judgement {
    unit: u32,
    /// Place among the unit's lines: 0 for findings closed as event time passed (sorted by their
    /// bytes, since several shards may write them), then 1, 2, … in the order written.
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
/// to (or came from) another instance of that account, which the annotation says. Shards cannot
/// tell, each seeing only its own instances; the writer sees them all, in order, so the answer is
/// the same for any thread count.
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
    owner: Rc<Owner>,
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
/// (5 bytes) into the locks, which are dense. A plain map of the same data was 105 bytes a slot,
/// about 330 bytes per session at 1 M sessions, when it doubles.
#[derive(Default)]
struct LockedAddresses {
    /// In chunks of [`CHUNK`] locks, not one vector: a vector copies itself as it doubles, and the
    /// allocator keeps the old copy resident for a while (16 bytes per session at 1 M, measured).
    chunks: Vec<Vec<PeerLock>>,
    /// Positions in the locks, counted across chunks.
    index: hashbrown::HashTable<u32>,
    hasher: ahash::RandomState,
    owners: HashSet<Rc<Owner>, ahash::RandomState>,
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

    fn owner(&mut self, o: Owner) -> Rc<Owner> {
        if let Some(shared) = self.owners.get(&o) {
            return shared.clone();
        }
        if self.owners.len() >= MAX_OWNERS && self.owners_since_purge >= MAX_OWNERS {
            self.owners.retain(|s| Rc::strong_count(s) > 1);
            self.owners_since_purge = 0;
        }
        self.owners_since_purge += 1;
        let o = Rc::new(o);
        if self.owners.len() < MAX_OWNERS {
            self.owners.insert(o.clone());
        }
        o
    }
}

/// What a shard is given: a step, or (for findings) the event time having moved on.
// Ticks are rare and steps are the traffic: boxing every step to shrink a tick would cost more.
#[allow(clippy::large_enum_variant)]
enum Item {
    Step(Routed),
    Tick(i64),
}

/// How often, in event time, findings are checked for closing.
const TICK: i64 = crate::event_time::MINUTE;

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

struct WriterBlock {
    seq: u64,
    block: Option<ParsedBlock>,
    /// Shard batches to wait for before writing.
    expect: usize,
    messages: Vec<String>,
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

/// Which shard owns an instance: partitions are dealt round the shards.
fn shard_of(instance: &str, shards: usize) -> usize {
    crate::detector::partition_of(instance) % shards
}

/// Runs the filter over `cfg.inputs`, writing records to `out` and messages to `err`.
pub fn run(cfg: &Config, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<Stats> {
    let threads = cfg.threads.max(1);
    let depth = 2 * threads;
    let (work_tx, work_rx) = bounded::<Work>(depth);
    let (parsed_tx, parsed_rx) = bounded::<Parsed>(depth);
    let (writer_tx, writer_rx) = bounded::<WriterBlock>(4 * depth);
    let (judged_tx, judged_rx) = bounded::<(u64, Vec<Judgement>)>(4 * depth);

    // Enough for every block in flight (the channels hold about 30 at two threads): a smaller pool
    // dropped buffers and the reader faulted in fresh pages again (18 % of an --emit all profile).
    let pool = BufferPool::new(64);
    let reader = spawn_reader(cfg, work_tx, pool.clone());
    let max_line = cfg.max_line_bytes;
    let workers: Vec<JoinHandle<()>> = (0..threads)
        .map(|_| {
            let (rx, tx) = (work_rx.clone(), parsed_tx.clone());
            thread::spawn(move || parse_worker(rx, tx, max_line))
        })
        .collect();
    drop((work_rx, parsed_tx));

    let snapshot = load_state(cfg, err)?;
    let annotator = annotator(cfg)?;
    let mut shard_txs = Vec::new();
    let mut shards: Vec<JoinHandle<(u64, u64, Shard)>> = Vec::new();
    let mut dealt: Vec<Shard> = (0..threads).map(|_| Shard::new(cfg.detector.clone())).collect();
    for (instance, rows) in &snapshot.rows {
        dealt[shard_of(instance, threads)].import(instance.clone(), rows.clone());
    }
    for shard in dealt {
        let (tx, rx) = bounded::<ShardMsg>(depth);
        shard_txs.push(tx);
        let jtx = judged_tx.clone();
        let (emit, ctx) = (cfg.emit, annotator.clone());
        shards.push(thread::spawn(move || shard_owner(shard, emit, ctx, rx, jtx)));
    }
    drop(judged_tx);

    let tally = Tally::new(cfg.inputs.iter().map(Input::name).collect(), cfg.report_limit);
    let emit = cfg.emit;
    let seq_pool = pool.clone();
    let resolver = Resolver::import(&snapshot);
    drop(snapshot);
    let checkpoints = cfg.state.clone().map(|p| (cfg.checkpoint_interval, p));
    let progress = cfg.progress.clone();
    let sequencer = thread::spawn(move || {
        sequencer(
            parsed_rx,
            shard_txs,
            writer_tx,
            tally,
            emit,
            seq_pool,
            resolver,
            checkpoints,
            progress,
        )
    });

    let mut stats = Stats::default();
    let mut peers = Peers {
        progress: cfg.progress.clone(),
        ..Peers::default()
    };
    let closed = write_output(cfg.emit, writer_rx, judged_rx, out, err, &pool, &mut peers)?;
    stats.alert_table = peers.table_rows();
    if closed {
        // Threads still blocked on input are left to end with the process.
        stats.output_closed = true;
        return Ok(stats);
    }
    let (tally, resolver) = match sequencer.join() {
        Ok((t, r)) => (Some(t), Some(r)),
        Err(_) => (None, None),
    };
    for w in workers {
        let _ = w.join();
    }
    let mut owned = Vec::new();
    for s in shards {
        if let Ok((judged, alerts, shard)) = s.join() {
            stats.judged += judged;
            stats.alerts += alerts;
            stats.sessions += shard.sessions() as u64;
            stats.evicted += shard.evicted();
            owned.push(shard);
        }
    }
    stats.input_errors = reader.join().unwrap_or(1) + tally.as_ref().map_or(1, |t| t.lost_blocks);
    stats.records = tally.as_ref().map_or(0, |t| t.records);
    stats.malformed = tally.as_ref().map_or(0, |t| t.malformed);
    if let (Some(path), Some(resolver)) = (&cfg.state, &resolver) {
        let rows = owned.iter().map(Shard::export).collect();
        save_state(path, resolver, rows)?;
    }
    Ok(stats)
}

/// What the shards annotate with: the window, and `--aws-ip-ranges` loaded once for all.
fn annotator(cfg: &Config) -> io::Result<Annotator> {
    let ranges = match &cfg.aws_ip_ranges {
        Some(p) => Some(Arc::new(
            crate::ip_ranges::AwsRanges::load(p)
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

fn save_state(path: &std::path::Path, resolver: &Resolver, parts: Vec<Rows>) -> io::Result<()> {
    let mut snap = Snapshot::default();
    resolver.export(&mut snap);
    snap.rows = parts.into_iter().flatten().collect();
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

fn spawn_reader(cfg: &Config, tx: Sender<Work>, pool: BufferPool) -> JoinHandle<u64> {
    let inputs = cfg.inputs.clone();
    let stop = cfg.stop.clone();
    let progress = cfg.progress.clone();
    let (read_size, max_line) = (cfg.read_size, cfg.max_line_bytes);
    let ahead = prefetch(&inputs, stop.clone(), progress.clone());
    thread::spawn(move || {
        let mut seq = 0u64;
        let mut errors = 0u64;
        for (source, input) in inputs.into_iter().enumerate() {
            let source = source as u32;
            let name = input.name();
            let fetched = ahead.as_ref().and_then(|rx| rx.recv().ok()).flatten();
            let opened = match fetched {
                Some(done) => done
                    .recv()
                    .unwrap_or_else(|_| Err(io::Error::other("decompression failed")))
                    .map(|bytes| -> Box<dyn Read + Send> { Box::new(io::Cursor::new(bytes)) }),
                None => open_counted(input, stop.as_ref(), progress.as_ref()),
            };
            let mut frames = match opened {
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
            if let Some(p) = &progress {
                p.files_done.fetch_add(1, Ordering::Relaxed);
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
#[allow(clippy::too_many_arguments)]
fn sequencer(
    rx: Receiver<Parsed>,
    shards: Vec<Sender<ShardMsg>>,
    writer: Sender<WriterBlock>,
    mut tally: Tally,
    emit: Emit,
    pool: BufferPool,
    mut resolver: Resolver,
    checkpoints: Option<(Duration, PathBuf)>,
    progress: Option<Arc<crate::config::Progress>>,
) -> (Tally, Resolver) {
    let mut next_checkpoint = checkpoints.as_ref().map(|(every, _)| Instant::now() + *every);
    let mut saver: Option<JoinHandle<()>> = None;
    let mut waiting: BTreeMap<u64, Parsed> = BTreeMap::new();
    let mut next = 0u64;
    let mut batches: Vec<Vec<(u32, Item)>> = (0..shards.len()).map(|_| Vec::new()).collect();
    let mut clock = (emit == Emit::Findings).then(TickClock::default);
    for p in rx {
        waiting.insert(p.seq, p);
        while let Some(mut p) = waiting.remove(&next) {
            next += 1;
            if let (Some(due), Some((every, path))) = (next_checkpoint, &checkpoints)
                && Instant::now() >= due
            {
                next_checkpoint = Some(Instant::now() + *every);
                if saver.as_ref().is_none_or(|h| h.is_finished()) {
                    saver = Some(checkpoint(&shards, &resolver, path.clone()));
                }
            }
            tally.lost_blocks += u64::from(p.lost);
            if let (Some(pr), Some(b)) = (&progress, &p.block) {
                pr.records.fetch_add(u64::from(b.records), Ordering::Relaxed);
            }
            let messages = tally.account(p.source, p.block.as_ref(), p.note);
            let mut expect = 0;
            if let Some(block) = &mut p.block {
                // The facts move on to the shards; the writer needs only the bytes and units.
                for (unit, fact) in std::mem::take(&mut block.facts) {
                    resolver.route(fact, |r| {
                        if clock.as_mut().is_some_and(|c| c.due(r.watermark)) {
                            for b in batches.iter_mut() {
                                b.push((unit, Item::Tick(r.watermark)));
                            }
                        }
                        batches[shard_of(r.instance(), shards.len())].push((unit, Item::Step(r)));
                    });
                }
                for (tx, steps) in shards.iter().zip(batches.iter_mut()) {
                    if !steps.is_empty() {
                        expect += 1;
                        if tx
                            .send(ShardMsg::Batch(ShardBatch {
                                seq: p.seq,
                                steps: std::mem::take(steps),
                            }))
                            .is_err()
                        {
                            return (tally, resolver);
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
    if emit == Emit::Findings {
        let wm = resolver.watermark().unwrap_or(i64::MIN);
        for tx in &shards {
            let _ = tx.send(ShardMsg::Finish(wm));
        }
    }
    (tally, resolver)
}

/// Asks every shard for a copy of its rows as of now, and saves them with the resolver's maps on a
/// thread of its own: the stream waits only for the copies.
fn checkpoint(shards: &[Sender<ShardMsg>], resolver: &Resolver, path: PathBuf) -> JoinHandle<()> {
    let (tx, rx) = bounded::<Rows>(shards.len());
    let asked = shards
        .iter()
        .filter(|s| s.send(ShardMsg::Checkpoint(tx.clone())).is_ok())
        .count();
    drop(tx);
    let mut snap = Snapshot::default();
    resolver.export(&mut snap);
    let resolver = Resolver::import(&snap);
    thread::spawn(move || {
        let parts: Vec<Rows> = rx.iter().take(asked).collect();
        if parts.len() == asked
            && let Err(e) = save_state(&path, &resolver, parts)
        {
            eprintln!("credtrail: warning: checkpoint not saved: {e}");
        }
    })
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

/// What a shard writes for what it is given, per mode; counts what it judged.
struct Judge {
    emit: Emit,
    ctx: Annotator,
    incidents: Option<crate::findings::Incidents>,
    judged: u64,
    alerts: u64,
}

impl Judge {
    fn new(emit: Emit, ctx: Annotator) -> Judge {
        let incidents = (emit == Emit::Findings)
            .then(|| crate::findings::Incidents::new(Default::default(), ctx.ranges.clone()));
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
                let a = crate::findings::Alert {
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
fn peer_info(v: &crate::detector::Verdict) -> Option<Box<PeerInfo>> {
    // Most verdicts are a call from the locked address: nothing to tell, nothing to parse.
    let relevant = matches!(v.kind, VerdictKind::Compromise | VerdictKind::IpAdded)
        || (v.kind == VerdictKind::Locked && v.first_lock);
    if !relevant {
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

/// Finding lines one by one: lines from several shards are ordered by their bytes (`order` 0),
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
                js.sort_by(|a, b| (a.unit, a.order, &a.annotation).cmp(&(b.unit, b.order, &b.annotation)));
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
        save_state(path, &resolver, vec![shard.export()])?;
    }
    Ok(Stats {
        records: tally.records,
        judged: judge.judged,
        alerts: judge.alerts,
        malformed: tally.malformed,
        sessions: shard.sessions() as u64,
        evicted: shard.evicted(),
        alert_table: peers.table_rows(),
        input_errors,
        output_closed: false,
    })
}

fn shard_owner(
    mut shard: Shard,
    emit: Emit,
    ctx: Annotator,
    rx: Receiver<ShardMsg>,
    tx: Sender<(u64, Vec<Judgement>)>,
) -> (u64, u64, Shard) {
    let mut judge = Judge::new(emit, ctx);
    for msg in rx {
        let batch = match msg {
            ShardMsg::Batch(b) => b,
            ShardMsg::Checkpoint(to) => {
                let _ = to.send(shard.export());
                continue;
            }
            ShardMsg::Finish(wm) => {
                let mut out = Vec::new();
                judge.finish(wm, &mut out);
                let _ = tx.send((u64::MAX, out));
                continue;
            }
        };
        let mut out = Vec::new();
        for (unit, item) in batch.steps {
            judge.item(&mut shard, unit, item, &mut out);
        }
        if tx.send((batch.seq, out)).is_err() {
            break;
        }
    }
    (judge.judged, judge.alerts, shard)
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
    peers: &mut Peers,
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
            js.sort_unstable_by(|a, b| {
                (a.unit, a.order, &a.annotation).cmp(&(b.unit, b.order, &b.annotation))
            });
            peers.observe(&mut js);
            render(emit, &block, &js, &mut buf);
            pool.give(block.data);
        }
        if (buf.len() >= (1 << 20) || blocks.is_empty())
            && let Some(closed) = flush(out, &mut buf)?
        {
            return Ok(closed);
        }
    }
    // Findings still open at the end of input, from every shard, in one order.
    let mut last: Vec<Judgement> = early.remove(&u64::MAX).map(|(_, j)| j).unwrap_or_default();
    last.extend(
        judged
            .iter()
            .filter(|(seq, _)| *seq == u64::MAX)
            .flat_map(|(_, j)| j),
    );
    last.sort_unstable_by(|a, b| a.annotation.cmp(&b.annotation));
    for j in last {
        buf.extend_from_slice(&j.annotation);
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
        Err(e) => Err(io::Error::new(e.kind(), format!("output: {e}"))),
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
}
