//! The end-to-end harness: credtrail beside its baselines, in the same run, on a seeded corpus.
//!
//! ```sh
//! cargo bench --bench end_to_end                               # 1 GiB corpus, best of 3
//! CREDTRAIL_BENCH_BYTES=256MiB cargo bench --bench end_to_end  # a smaller corpus
//! ```
//! Knobs (environment): `CREDTRAIL_BENCH_BYTES` (corpus size, default 1GiB), `CREDTRAIL_BENCH_ROUNDS`
//! (default 3, best of), `CREDTRAIL_BENCH_SESSIONS` (live sessions of the memory test, default
//! 1000000), `CREDTRAIL_BENCH_JQ_BYTES` (the slice jq reads, default 64MiB), `CREDTRAIL_BENCH_SEED`,
//! `CREDTRAIL_BENCH_QUIET_SECS` (before each throughput measurement, wait up to this long for other
//! processes to use less than a fifth of a core; default 30, 0 to not wait),
//! `CREDTRAIL_BENCH_NO_GNU_TIME` (set: poll VmHWM instead of using `/usr/bin/time -v`),
//! `CREDTRAIL_BENCH_ONLY` (a comma-separated subset of `throughput,jq,gzip,latency,sessions`).
//!
//! The corpus is generated once per seed and size (and generator output) under
//! `target/bench-corpus/` and reused. Under `cargo test` (no `--bench` argument) everything runs
//! once on a ~2 MB corpus with the debug binary, and only checks that it works.
//!
//! Figures are throughputs of the whole process (spawn to exit, input in the page cache: it is read
//! through before every run, output to `/dev/null`), best of the rounds, with the rounds interleaved
//! so that a baseline and what is compared with it see the same load. 1 MB = 10^6 bytes. "CPU s" is the user plus system time of
//! the fastest run (with every process it started), "others" the cores other processes kept busy
//! meanwhile (from every process' `/proc/PID/stat`): a figure taken with others near 1 on a 2-core
//! machine is not one to quote.

mod common;

use common::{NINE_FIELDS, PassSummary, TapeBaseline, bench_mode, corpus_config, count_lines, records_for};
use std::collections::hash_map::DefaultHasher;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::hash::{Hash, Hasher};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

const MB: f64 = 1e6;

struct Opts {
    full: bool,
    seed: u64,
    bytes: u64,
    rounds: usize,
    sessions: usize,
    jq_bytes: u64,
    latency_records: usize,
    latency_gap: Duration,
    /// Before each measurement, wait up to this long for other processes to go quiet.
    quiet: Option<Duration>,
}

impl Opts {
    fn from_env() -> Opts {
        let full = bench_mode();
        let size = |name: &str, default: u64| {
            std::env::var(name).ok().map_or(default, |s| {
                credtrail::cli::parse_size(&s).unwrap_or_else(|e| panic!("{name}: {e}")) as u64
            })
        };
        let num = |name: &str, default: u64| {
            std::env::var(name).ok().map_or(default, |s| {
                s.trim().parse().unwrap_or_else(|e| panic!("{name}={s}: {e}"))
            })
        };
        if full {
            Opts {
                full,
                seed: num("CREDTRAIL_BENCH_SEED", 1),
                bytes: size("CREDTRAIL_BENCH_BYTES", 1 << 30),
                rounds: num("CREDTRAIL_BENCH_ROUNDS", 3).max(1) as usize,
                sessions: num("CREDTRAIL_BENCH_SESSIONS", 1_000_000).max(1) as usize,
                jq_bytes: size("CREDTRAIL_BENCH_JQ_BYTES", 64 << 20),
                latency_records: 20,
                latency_gap: Duration::from_millis(20),
                quiet: Some(Duration::from_secs(num("CREDTRAIL_BENCH_QUIET_SECS", 30)))
                    .filter(|d| !d.is_zero()),
            }
        } else {
            Opts {
                full,
                seed: 1,
                bytes: 2_000_000,
                rounds: 1,
                sessions: 10_000,
                jq_bytes: 2_000_000,
                latency_records: 20,
                latency_gap: Duration::from_millis(2),
                quiet: None,
            }
        }
    }
}

/// A generated input file.
struct Corpus {
    path: PathBuf,
    bytes: u64,
    records: u64,
}

/// One timed process run.
struct Run {
    secs: f64,
    /// User plus system time, seconds.
    cpu: Option<f64>,
    /// Peak resident set size, bytes.
    rss: Option<u64>,
    stderr: String,
}

#[derive(Clone, Copy)]
enum Target {
    AtLeast(f64),
    AtMost(f64),
    Below(f64),
}

impl Target {
    fn met(self, v: f64) -> bool {
        match self {
            Target::AtLeast(t) => v >= t,
            Target::AtMost(t) => v <= t,
            Target::Below(t) => v < t,
        }
    }
}

#[derive(Default)]
struct Row {
    name: String,
    mbps: Option<f64>,
    rps: Option<f64>,
    cpu: Option<f64>,
    others: Option<f64>,
    rss: Option<u64>,
    /// Wall times of the rounds.
    runs: String,
    figure: String,
    baseline: String,
    target: String,
    pass: Option<bool>,
}

struct Report {
    rows: Vec<Row>,
    problems: Vec<String>,
}

impl Report {
    fn problem(&mut self, p: String) {
        eprintln!("end_to_end: PROBLEM: {p}");
        self.problems.push(p);
    }
}

impl Row {
    fn judge(&mut self, value: f64, target: Target, shown: &str) {
        self.target = shown.into();
        self.pass = Some(target.met(value));
    }
}

fn main() {
    // The summary reader is what every credtrail row's check stands on: a line that goes on past
    // "sessions live" (a 1 GiB corpus overflows the reorder window) must still be read.
    assert_eq!(
        summary(
            "credtrail: 9 records, 8 judged, 1 alerts, 0 malformed, 7 sessions live, 5 released early (window full)"
        ),
        Some([9, 8, 1, 0, 7])
    );
    let opts = Opts::from_env();
    let started = Instant::now();
    let built = PathBuf::from(env!("CARGO_BIN_EXE_credtrail"));
    let profile_dir = built.parent().expect("the binary is in a directory");
    let target_dir = profile_dir.parent().expect("target/<profile>/credtrail");
    if opts.full && profile_dir.file_name() != Some("release".as_ref()) {
        eprintln!(
            "end_to_end: WARNING: {} is not a release build; run under `cargo bench`",
            built.display()
        );
    }
    let dir = target_dir.join("bench-corpus");
    fs::create_dir_all(&dir).expect("creating target/bench-corpus");
    // A copy, so that a rebuild during the run cannot change what is measured.
    let frozen = Frozen(dir.join(format!("credtrail-{}", std::process::id())));
    fs::copy(&built, &frozen.0).expect("copying the binary");
    let bin = frozen.0.as_path();
    let load_before = loadavg();
    let cpu_before = CpuClock::now();

    let corpus = ensure_corpus(&dir, opts.seed, opts.bytes).expect("generating the corpus");
    eprintln!(
        "end_to_end: corpus {} ({} bytes, {} records), binary {}",
        corpus.path.display(),
        corpus.bytes,
        corpus.records,
        built.display()
    );
    let mut report = Report {
        rows: Vec::new(),
        problems: Vec::new(),
    };
    let only = std::env::var("CREDTRAIL_BENCH_ONLY").unwrap_or_default();
    let part = |name: &str| only.is_empty() || only.split(',').any(|p| p.trim() == name);
    if part("throughput") {
        throughput(&opts, bin, &corpus, &mut report);
    }
    if part("jq") {
        jq(&opts, bin, &dir, &corpus, &mut report);
    }
    if part("gzip") {
        gzip(&opts, bin, &dir, &corpus, &mut report);
    }
    if part("latency") {
        latency(&opts, bin, &mut report);
    }
    if part("sessions") {
        sessions(&opts, bin, &dir, &mut report);
    }
    let load_after = loadavg();
    let others = cpu_before
        .others_since(started.elapsed().as_secs_f64())
        .map_or("?".into(), |c| format!("{c:.2}"));

    println!();
    println!(
        "credtrail end-to-end, {}: corpus {:.0} MB ({} records, seed {}), best of {}, {} cores ({}), load average {} before, {} after, other processes kept {others} cores busy on average, {:.0} s",
        if opts.full {
            "release"
        } else {
            "test mode (debug binary: figures meaningless)"
        },
        corpus.bytes as f64 / MB,
        corpus.records,
        opts.seed,
        opts.rounds,
        thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_model(),
        load_before,
        load_after,
        started.elapsed().as_secs_f64()
    );
    if !opts.full {
        // A debug binary on a small corpus: the targets are not judged.
        for r in &mut report.rows {
            r.pass = None;
        }
    }
    println!();
    print!("{}", table(&report.rows));
    println!();
    println!("Baseline parse: simd-json tape, reused buffers, the nine fields {NINE_FIELDS}.");
    if !report.problems.is_empty() {
        println!();
        for p in &report.problems {
            println!("PROBLEM: {p}");
        }
        if !opts.full {
            panic!("end_to_end: {} problem(s) in test mode", report.problems.len());
        }
    }
}

/// A file removed when dropped.
struct Frozen(PathBuf);

impl Drop for Frozen {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

// -------------------------------------------------------------------------------------------------
// The corpus.

fn ensure_corpus(dir: &Path, seed: u64, bytes: u64) -> io::Result<Corpus> {
    // The name changes with what the generator makes of the configuration.
    let mut h = DefaultHasher::new();
    let probe = corpus_config(seed, bytes, 300);
    format!("{probe:?}").hash(&mut h);
    credtrail_generate::generate_to_vec(&probe).0.hash(&mut h);
    let path = dir.join(format!("corpus-seed{seed}-{bytes}-{:016x}.ndjson", h.finish()));
    if !path.exists() {
        // A first guess from a sample, corrected by the size it gives.
        let guess = records_for(seed, bytes);
        let mut counted = Counted(0);
        credtrail_generate::generate(&corpus_config(seed, bytes, guess), &mut counted)?;
        let records = ((guess as u128 * u128::from(bytes)) / u128::from(counted.0.max(1))).max(1) as usize;
        eprintln!("end_to_end: generating {} ({records} records)", path.display());
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let mut f = File::create(&tmp)?;
        credtrail_generate::generate(&corpus_config(seed, bytes, records), &mut f)?;
        f.sync_all()?;
        fs::rename(&tmp, &path)?;
    }
    // Counting also brings the file into the page cache.
    let s = count_lines(File::open(&path)?)?;
    Ok(Corpus {
        path,
        bytes: s.bytes,
        records: s.records,
    })
}

/// A writer that only counts.
struct Counted(u64);

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The first `bytes` of `corpus`, cut at a line end.
fn slice(dir: &Path, corpus: &Corpus, bytes: u64) -> io::Result<Corpus> {
    if bytes >= corpus.bytes {
        return Ok(Corpus {
            path: corpus.path.clone(),
            bytes: corpus.bytes,
            records: corpus.records,
        });
    }
    let stem = corpus.path.file_stem().unwrap_or_default().to_string_lossy();
    let path = dir.join(format!("{stem}.slice{bytes}.ndjson"));
    if !path.exists() {
        let mut head = vec![0; bytes as usize];
        io::Read::read_exact(&mut File::open(&corpus.path)?, &mut head)?;
        let end = memchr::memrchr(b'\n', &head).map_or(0, |i| i + 1);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        fs::write(&tmp, &head[..end])?;
        fs::rename(&tmp, &path)?;
    }
    let s = count_lines(File::open(&path)?)?;
    Ok(Corpus {
        path,
        bytes: s.bytes,
        records: s.records,
    })
}

// -------------------------------------------------------------------------------------------------
// Running things.

fn gnu_time() -> Option<&'static Path> {
    let p = Path::new("/usr/bin/time");
    (p.exists() && std::env::var_os("CREDTRAIL_BENCH_NO_GNU_TIME").is_none()).then_some(p)
}

/// Runs `argv` with stdin and stdout on /dev/null, timing it from spawn to exit. The peak RSS is
/// GNU time's (`ru_maxrss` of the process and the children it waited for), else VmHWM polled.
fn run(argv: &[OsString]) -> Result<Run, String> {
    let time_out = std::env::temp_dir().join(format!("credtrail-bench-time-{}", std::process::id()));
    let mut cmd = match gnu_time() {
        Some(t) => {
            let mut c = Command::new(t);
            c.arg("-v").arg("-o").arg(&time_out).args(argv);
            c
        }
        None => {
            let mut c = Command::new(&argv[0]);
            c.args(&argv[1..]);
            c
        }
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let name = argv
        .iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let start = Instant::now();
    let cpu_start = own_cpu();
    let mut child = cmd.spawn().map_err(|e| format!("{name}: {e}"))?;
    // Polling sees the process it started, not a shell's children.
    let polling = (gnu_time().is_none() && argv[0] != "sh").then(|| poll_hwm(child.id()));
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = io::Read::read_to_string(&mut e, &mut stderr);
    }
    let status = child.wait().map_err(|e| format!("{name}: {e}"))?;
    let secs = start.elapsed().as_secs_f64();
    // The children this process has waited for, and theirs.
    let cpu = own_cpu().zip(cpu_start).map(|(b, a)| b - a);
    let rss = match polling {
        Some((stop, handle)) => {
            stop.store(true, Ordering::Relaxed);
            handle.join().ok().flatten()
        }
        None if gnu_time().is_some() => {
            let text = fs::read_to_string(&time_out).unwrap_or_default();
            let _ = fs::remove_file(&time_out);
            text.lines()
                .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|kb| kb * 1024)
        }
        None => None,
    };
    if !status.success() {
        return Err(format!("{name}: {status}: {}", stderr.trim()));
    }
    Ok(Run {
        secs,
        cpu,
        rss,
        stderr,
    })
}

/// Polls `/proc/PID/status` for VmHWM until told to stop; returns the last value, in bytes.
fn poll_hwm(pid: u32) -> (Arc<AtomicBool>, thread::JoinHandle<Option<u64>>) {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let h = thread::spawn(move || {
        let mut hwm = None;
        while !s.load(Ordering::Relaxed) {
            let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
                break;
            };
            if let Some(kb) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                hwm = Some(kb * 1024);
            }
            thread::sleep(Duration::from_millis(5));
        }
        hwm
    });
    (stop, h)
}

/// The counts of credtrail's summary line: records, judged, alerts, malformed, sessions. The line
/// goes on after "sessions live" when there is more to count (records released early, late,
/// duplicates), so only what comes before it is read.
fn summary(stderr: &str) -> Option<[u64; 5]> {
    let line = stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("credtrail: ") && l.contains(" sessions live"))?;
    let head = &line[..line.find(" sessions live")?];
    let nums: Vec<u64> = head
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect();
    nums.try_into().ok()
}

fn os(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Vec<OsString> {
    args.iter().map(|a| a.as_ref().to_os_string()).collect()
}

/// What one throughput measurement runs.
enum Job {
    /// Read and split lines in this process.
    Split,
    /// The baseline parse in this process.
    TapeParse,
    Process(Vec<OsString>),
}

struct Measured {
    name: &'static str,
    job: Job,
    /// Whether its summary line must count the corpus' records.
    credtrail: bool,
    best: Option<f64>,
    /// CPU seconds of the fastest run.
    cpu: Option<f64>,
    /// Cores other processes kept busy during the fastest run.
    others: Option<f64>,
    rss: Option<u64>,
    /// Every run's wall time, seconds.
    runs: Vec<f64>,
}

impl Measured {
    fn new(name: &'static str, job: Job, credtrail: bool) -> Measured {
        Measured {
            name,
            job,
            credtrail,
            best: None,
            cpu: None,
            others: None,
            rss: None,
            runs: Vec::new(),
        }
    }
}

/// Runs every job `opts.rounds` times, interleaved. Before each run the files the jobs read (`reads`)
/// are read through once: on this VM the page cache drops the corpus between runs, and a run that
/// reads it from disk measures the disk.
fn measure_rounds(opts: &Opts, corpus: &Corpus, reads: &[&Path], jobs: &mut [Measured], report: &mut Report) {
    for round in 0..opts.rounds {
        for m in jobs.iter_mut() {
            for path in reads {
                if let Err(e) = read_through(path) {
                    report.problem(format!("reading {} into the page cache: {e}", path.display()));
                }
            }
            if let Some(quiet) = opts.quiet {
                wait_quiet(quiet);
            }
            let cpu_before = CpuClock::now();
            let result: Result<(f64, Option<f64>, Option<u64>), String> = match &m.job {
                Job::Split => in_process(corpus, count_lines),
                Job::TapeParse => in_process(corpus, |f| TapeBaseline::default().pass_reader(f)),
                Job::Process(argv) => run(argv).and_then(|r| {
                    if m.credtrail {
                        match summary(&r.stderr) {
                            Some([records, _, _, 0, _]) if records == corpus.records => {}
                            s => {
                                return Err(format!(
                                    "{}: summary {s:?} does not count the corpus' {} records",
                                    m.name, corpus.records
                                ));
                            }
                        }
                    }
                    Ok((r.secs, r.cpu, r.rss))
                }),
            };
            match result {
                Ok((secs, cpu, rss)) => {
                    let others = cpu_before.others_since(secs);
                    eprintln!(
                        "end_to_end: round {} {:<44} {:8.3} s, CPU {:?} s, others {:?} cores, peak RSS {:?}",
                        round + 1,
                        m.name,
                        secs,
                        cpu,
                        others,
                        rss
                    );
                    m.runs.push(secs);
                    if m.best.is_none_or(|b| secs < b) {
                        m.best = Some(secs);
                        m.cpu = cpu;
                        m.others = others;
                    }
                    m.rss = rss.max(m.rss);
                }
                Err(e) => report.problem(e),
            }
        }
    }
}

fn read_through(path: &Path) -> io::Result<()> {
    let mut f = File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    while f.read(&mut buf)? > 0 {}
    Ok(())
}

fn in_process(
    corpus: &Corpus,
    pass: impl FnOnce(File) -> io::Result<PassSummary>,
) -> Result<(f64, Option<f64>, Option<u64>), String> {
    let start = Instant::now();
    let cpu_start = thread_cpu();
    let f = File::open(&corpus.path).map_err(|e| e.to_string())?;
    let s = pass(f).map_err(|e| e.to_string())?;
    let secs = start.elapsed().as_secs_f64();
    let cpu = thread_cpu().zip(cpu_start).map(|(b, a)| b - a);
    std::hint::black_box(s.checksum);
    if s.records != corpus.records || s.invalid != 0 {
        return Err(format!(
            "in-process pass saw {} records ({} invalid), the corpus has {}",
            s.records, s.invalid, corpus.records
        ));
    }
    Ok((secs, cpu, None))
}

/// CPU time spent so far by every process, and by this one with the children it has waited for.
/// Per-process times are exact (`/proc/stat`'s per-CPU ticks are not, on a virtual machine).
#[derive(Clone, Copy)]
struct CpuClock {
    all: Option<f64>,
    own: Option<f64>,
}

impl CpuClock {
    fn now() -> CpuClock {
        CpuClock {
            all: all_cpu(),
            own: own_cpu(),
        }
    }

    /// Cores other processes kept busy on average since `self`, `secs` ago.
    fn others_since(self, secs: f64) -> Option<f64> {
        let now = CpuClock::now();
        let others = (now.all? - self.all?) - (now.own? - self.own?);
        Some((others / secs.max(1e-3)).max(0.0))
    }
}

/// Waits (up to `max`) until other processes use less than a fifth of a core, so that a figure is
/// not taken while the machine compiles something else.
fn wait_quiet(max: Duration) {
    let start = Instant::now();
    loop {
        let before = CpuClock::now();
        thread::sleep(Duration::from_millis(300));
        if before.others_since(0.3).is_none_or(|c| c < 0.2) {
            return;
        }
        if start.elapsed() >= max {
            eprintln!("end_to_end: the machine is busy with other work; measuring anyway");
            return;
        }
    }
}

/// User plus system time of every process (and of the children they have waited for), seconds.
fn all_cpu() -> Option<f64> {
    let mut ticks = 0u64;
    for e in fs::read_dir("/proc").ok()?.flatten() {
        if !e
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            continue;
        }
        if let Some(t) = fs::read_to_string(e.path().join("stat"))
            .ok()
            .and_then(|s| stat_ticks(&s))
        {
            ticks += t;
        }
    }
    Some(ticks as f64 / 100.0)
}

/// utime + stime + cutime + cstime of a `/proc/PID/stat` line, in ticks.
fn stat_ticks(stat: &str) -> Option<u64> {
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some((11..15).filter_map(|i| f.get(i)?.parse::<u64>().ok()).sum())
}

/// CPU seconds of this process and of the children it has waited for (`/proc/self/stat`).
fn own_cpu() -> Option<f64> {
    Some(stat_ticks(&fs::read_to_string("/proc/self/stat").ok()?)? as f64 / 100.0)
}

/// This thread's user plus system time, seconds (`/proc/thread-self/stat`, 100 ticks a second).
fn thread_cpu() -> Option<f64> {
    let stat = fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

fn throughput_row(name: &str, corpus: &Corpus, m: &Measured) -> Row {
    Row {
        name: name.into(),
        mbps: m.best.map(|s| corpus.bytes as f64 / s / MB),
        rps: m.best.map(|s| corpus.records as f64 / s),
        cpu: m.cpu,
        others: m.others,
        rss: m.rss,
        runs: m
            .runs
            .iter()
            .map(|s| format!("{s:.3}"))
            .collect::<Vec<_>>()
            .join(" "),
        ..Row::default()
    }
}

/// `row` against `base`: the ratio of their throughputs.
fn ratio(row: &mut Row, m: &Measured, base: &Measured, base_name: &str) -> Option<f64> {
    let r = base.best? / m.best?;
    row.figure = format!("{r:.2}×");
    row.baseline = base_name.into();
    Some(r)
}

/// The row of `m` against `base`, judged against `goal` (the least ratio, and how it is shown).
fn compared(
    name: &str,
    corpus: &Corpus,
    m: &Measured,
    base: &Measured,
    base_name: &str,
    goal: Option<(f64, &str)>,
) -> Row {
    let mut r = throughput_row(name, corpus, m);
    if let (Some(x), Some((least, shown))) = (ratio(&mut r, m, base, base_name), goal) {
        r.judge(x, Target::AtLeast(least), shown);
    }
    r
}

/// The row of a baseline: its throughput, no ratio.
fn baseline_row(name: &str, corpus: &Corpus, m: &Measured) -> Row {
    let mut r = throughput_row(name, corpus, m);
    r.figure = "—".into();
    r
}

// -------------------------------------------------------------------------------------------------
// (a), (b), (c): files, the parse-only pass, pipes.

// The rows of one table section in the order they print; `too_many_lines` holds for src.
#[allow(clippy::too_many_lines)]
fn throughput(opts: &Opts, bin: &Path, corpus: &Corpus, report: &mut Report) {
    let file = corpus.path.as_os_str();
    let sh = |script: &str, with_bin: bool| {
        let mut v = os(&[&"sh", &"-c", &script, &"sh", &file]);
        if with_bin {
            v.push(bin.as_os_str().to_os_string());
        }
        Job::Process(v)
    };
    let job = Measured::new;
    let mut jobs = vec![
        job("read + split lines (in process, 1 thread)", Job::Split, false),
        job(
            "simd-json tape parse, 9 fields (in process, 1 thread)",
            Job::TapeParse,
            false,
        ),
        job("credtrail FILE", Job::Process(os(&[&bin, &file])), true),
        job(
            "credtrail --threads 1 FILE",
            Job::Process(os(&[&bin, &"--threads", &"1", &file])),
            true,
        ),
        job(
            "credtrail --threads 2 FILE",
            Job::Process(os(&[&bin, &"--threads", &"2", &file])),
            true,
        ),
        job(
            "cat FILE | cat",
            sh(r#"cat "$1" | cat > /dev/null"#, false),
            false,
        ),
        job(
            "cat FILE | credtrail",
            sh(r#"cat "$1" | "$2" > /dev/null"#, true),
            true,
        ),
        job(
            "cat FILE | cat | cat",
            sh(r#"cat "$1" | cat | cat > /dev/null"#, false),
            false,
        ),
        job(
            "cat FILE | credtrail --emit all",
            sh(r#"cat "$1" | "$2" --emit all > /dev/null"#, true),
            true,
        ),
    ];
    measure_rounds(opts, corpus, &[&corpus.path], &mut jobs, report);
    let [
        split,
        tape,
        file_default,
        t1,
        t2,
        catcat,
        cat_cred,
        catcatcat,
        cat_all,
    ] = &jobs[..]
    else {
        unreachable!()
    };
    let threads = thread::available_parallelism().map_or(1, |n| n.get());

    report.rows.push(baseline_row(split.name, corpus, split));
    report
        .rows
        .push(compared(tape.name, corpus, tape, split, "vs read + split", None));
    report.rows.push(compared(
        &format!("credtrail FILE ({threads} threads, alerts)"),
        corpus,
        file_default,
        tape,
        "vs tape parse",
        Some((1.6, "≥ 1.60× (1)")),
    ));
    report
        .rows
        .push(compared(t1.name, corpus, t1, tape, "vs tape parse", None));

    // Why (1) is where it is: on 2 cores, 1.6x the parse needs the whole run to cost at most 1.25x
    // the parse's CPU time.
    if let (Some(c), Some(b)) = (file_default.cpu, tape.cpu) {
        report.rows.push(Row {
            name: "CPU time, credtrail FILE vs tape parse".into(),
            cpu: Some(c),
            figure: format!("{:.2}×", c / b),
            baseline: "CPU s of tape parse".into(),
            ..Row::default()
        });
    }

    let judged = [
        (t2, t1, "vs --threads 1", None, (1.7, "≥ 1.70× (5)")),
        (
            cat_cred,
            catcat,
            "vs cat | cat",
            Some(catcat),
            (0.9, "≥ 0.90× (2)"),
        ),
        (
            cat_all,
            catcatcat,
            "vs cat | cat | cat",
            Some(catcatcat),
            (0.8, "≥ 0.80× (2)"),
        ),
    ];
    for (m, base, base_name, shown_base, goal) in judged {
        if let Some(b) = shown_base {
            report.rows.push(baseline_row(b.name, corpus, b));
        }
        report
            .rows
            .push(compared(m.name, corpus, m, base, base_name, Some(goal)));
    }

    // (f) The peak RSS of `credtrail FILE`.
    let mut r = Row {
        name: format!(
            "peak RSS, credtrail FILE ({:.0} MB corpus)",
            corpus.bytes as f64 / MB
        ),
        rss: file_default.rss,
        ..Row::default()
    };
    match file_default.rss {
        Some(rss) => {
            r.figure = format!("{:.1} MB", rss as f64 / MB);
            r.judge(rss as f64 / MB, Target::Below(200.0), "< 200 MB (4)");
        }
        // Polling can miss a run that short; not a failure of what is measured.
        None => r.figure = "not measured".into(),
    }
    report.rows.push(r);
}

// -------------------------------------------------------------------------------------------------
// (d) jq.

fn jq(opts: &Opts, bin: &Path, dir: &Path, corpus: &Corpus, report: &mut Report) {
    let has_jq = Command::new("jq")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_jq {
        eprintln!("end_to_end: jq is not on PATH: its comparison is skipped");
        report.rows.push(Row {
            name: "jq (not installed)".into(),
            figure: "skipped".into(),
            ..Row::default()
        });
        return;
    }
    let slice = match slice(dir, corpus, opts.jq_bytes) {
        Ok(s) => s,
        Err(e) => return report.problem(format!("cutting the jq slice: {e}")),
    };
    let file = slice.path.as_os_str();
    // credtrail first: a run started right after jq exits was seen to be much slower (0.07 s
    // instead of 0.04 s on 67 MB), whatever the cause.
    let mut jobs = vec![
        Measured::new("credtrail SLICE", Job::Process(os(&[&bin, &file])), true),
        Measured::new(
            "jq -c 'select(.userIdentity.type==\"AssumedRole\")' SLICE",
            Job::Process(os(&[
                &"jq",
                &"-c",
                &r#"select(.userIdentity.type=="AssumedRole")"#,
                &file,
            ])),
            false,
        ),
    ];
    let mb = slice.bytes as f64 / MB;
    let names = [
        format!("credtrail FILE ({mb:.0} MB slice)"),
        format!("jq select AssumedRole ({mb:.0} MB slice)"),
    ];
    beside_baseline(opts, &slice, &slice.path, &mut jobs, names, "vs jq", report);
}

/// Measures `jobs` (credtrail, then its baseline) on `slice`, reading `input`, and adds the baseline's
/// row and credtrail's row compared with it.
fn beside_baseline(
    opts: &Opts,
    slice: &Corpus,
    input: &Path,
    jobs: &mut [Measured],
    [name, base_name]: [String; 2],
    vs: &str,
    report: &mut Report,
) {
    measure_rounds(opts, slice, &[input], jobs, report);
    report.rows.push(baseline_row(&base_name, slice, &jobs[1]));
    report
        .rows
        .push(compared(&name, slice, &jobs[0], &jobs[1], vs, None));
}

// -------------------------------------------------------------------------------------------------
// Archives: a gzipped slice (CloudTrail's S3 objects are `.json.gz`) beside `gzip -dc` of it.

fn gzip(opts: &Opts, bin: &Path, dir: &Path, corpus: &Corpus, report: &mut Report) {
    let slice = match slice(dir, corpus, opts.jq_bytes) {
        Ok(s) => s,
        Err(e) => return report.problem(format!("cutting the gzip slice: {e}")),
    };
    let gz = slice.path.with_extension("ndjson.gz");
    if !gz.exists() {
        let written = (|| -> io::Result<()> {
            let tmp = gz.with_extension(format!("tmp{}", std::process::id()));
            let mut enc = flate2::write::GzEncoder::new(File::create(&tmp)?, flate2::Compression::default());
            io::copy(&mut File::open(&slice.path)?, &mut enc)?;
            enc.finish()?;
            fs::rename(&tmp, &gz)
        })();
        if let Err(e) = written {
            return report.problem(format!("gzipping the slice: {e}"));
        }
    }
    let job = Measured::new;
    let mut jobs = vec![
        job("credtrail SLICE.gz", Job::Process(os(&[&bin, &gz])), true),
        job(
            "gzip -dc SLICE.gz",
            Job::Process(os(&[&"sh", &"-c", &r#"gzip -dc "$1" > /dev/null"#, &"sh", &gz])),
            false,
        ),
    ];
    let mb = slice.bytes as f64 / MB;
    let names = [
        format!("credtrail FILE.gz ({mb:.0} MB slice)"),
        format!("gzip -dc ({mb:.0} MB slice, gzipped)"),
    ];
    beside_baseline(opts, &slice, &gz, &mut jobs, names, "vs gzip -dc", report);
}

// -------------------------------------------------------------------------------------------------
// (e) latency and (g) memory per session: hand-built streams.

const SESSION_ACCOUNT: &str = "123456789012";

/// `2024-03-01T..:..:..Z`, `secs` after midnight (less than a day).
fn event_time(secs: u64) -> String {
    let secs = secs % 86_400;
    format!(
        "2024-03-01T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The EC2 service's AssumeRole for instance `n`. `issuing: false` gives the same bytes from
/// another source, which issues nothing.
fn issue_record(n: u64, issuing: bool, out: &mut Vec<u8>) {
    let source = if issuing {
        "ec2.amazonaws.com"
    } else {
        "ec3.amazonaws.com"
    };
    let _ = write!(
        Fmt(out),
        r#"{{"eventVersion":"1.08","userIdentity":{{"type":"AWSService","invokedBy":"{source}"}},"eventTime":"{}","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"us-east-1","sourceIPAddress":"{source}","userAgent":"{source}","requestParameters":{{"roleArn":"arn:aws:iam::{SESSION_ACCOUNT}:role/bench-role","roleSessionName":"i-{n:017x}"}},"responseElements":null,"eventType":"AwsApiCall","recipientAccountId":"{SESSION_ACCOUNT}"}}"#,
        event_time(n / 500)
    );
    out.push(b'\n');
}

/// A call by instance `n`'s session from an address of its own.
fn call_record(n: u64, out: &mut Vec<u8>) {
    let _ = write!(
        Fmt(out),
        r#"{{"eventVersion":"1.08","userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::{SESSION_ACCOUNT}:assumed-role/bench-role/i-{n:017x}","accountId":"{SESSION_ACCOUNT}"}},"eventTime":"{}","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","sourceIPAddress":"3.{}.{}.{}","eventType":"AwsApiCall","recipientAccountId":"{SESSION_ACCOUNT}"}}"#,
        event_time(n / 500 + 1),
        (n >> 16) & 0xff,
        (n >> 8) & 0xff,
        n & 0xff
    );
    out.push(b'\n');
}

/// `fmt::Write` into a byte vector.
struct Fmt<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Fmt<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// A call by instance 0's session from `ip` at `secs` of event time.
fn call_from(ip: &str, secs: u64, out: &mut Vec<u8>) {
    let _ = write!(
        Fmt(out),
        r#"{{"eventVersion":"1.08","userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::{SESSION_ACCOUNT}:assumed-role/bench-role/i-{:017x}","accountId":"{SESSION_ACCOUNT}"}},"eventTime":"{}","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","sourceIPAddress":"{ip}","eventType":"AwsApiCall","recipientAccountId":"{SESSION_ACCOUNT}"}}"#,
        0,
        event_time(secs)
    );
    out.push(b'\n');
}

/// The wall-clock bound on a waiting record (`--idle-release`, its default) and the slack the
/// waiting rows allow over it.
const IDLE_RELEASE_MS: f64 = 200.0;
const WAIT_SLACK_MS: f64 = 100.0;

fn latency(opts: &Opts, bin: &Path, report: &mut Report) {
    // Instance 0 is issued at 0 s and locks 3.0.0.1 at 60 s; at 1 000 s that lock is older than
    // the lateness (15 minutes), so its calls from 3.0.0.1 are settled.
    let mut warm = Vec::new();
    issue_record(0, true, &mut warm);
    call_from("3.0.0.1", 60, &mut warm);
    call_from("3.0.0.1", 1_000, &mut warm);
    let n = opts.latency_records as u64;
    // Settled: a call from the settled lock, judged after the short idle (20 ms).
    let settled: Vec<Vec<u8>> = (1..=n)
        .map(|i| {
            let mut r = Vec::new();
            call_from("3.0.0.1", 1_000 + i, &mut r);
            r
        })
        .collect();
    // Waiting: a call from another address (an alert, which an earlier-timed change may still
    // overturn), judged when the input has idled for --idle-release.
    let waiting: Vec<Vec<u8>> = (1..=n)
        .map(|i| {
            let mut r = Vec::new();
            call_from(&format!("9.9.9.{i}"), 1_000 + i, &mut r);
            r
        })
        .collect();
    type LatencyRow<'r> = (&'r str, &'r str, &'r [Vec<u8>], Target, String);
    let rows: [LatencyRow<'_>; 3] = [
        (
            "a settled call",
            "all",
            &settled,
            Target::AtMost(50.0),
            "≤ 50 ms (3)".into(),
        ),
        (
            "a waiting call (an alert)",
            "all",
            &waiting,
            Target::AtMost(IDLE_RELEASE_MS + WAIT_SLACK_MS),
            format!("≤ --idle-release + {WAIT_SLACK_MS} ms"),
        ),
        (
            "a waiting call (an alert)",
            "alerts",
            &waiting,
            Target::AtMost(IDLE_RELEASE_MS + WAIT_SLACK_MS),
            format!("≤ --idle-release + {WAIT_SLACK_MS} ms"),
        ),
    ];
    // (A settled call writes nothing with alerts or findings: the settled row is `--emit all`'s.)
    for (what, emit, records, target, shown) in rows {
        let mut row = Row {
            name: format!("latency, {what} into an idle pipe (--emit {emit}, {n})"),
            ..Row::default()
        };
        match latencies(bin, emit, &warm, records, opts.latency_gap) {
            Ok(mut l) => {
                l.sort();
                let max = l.last().copied().unwrap_or_default().as_secs_f64() * 1e3;
                let median = l[l.len() / 2].as_secs_f64() * 1e3;
                row.figure = format!("max {max:.2} ms, median {median:.2} ms");
                row.judge(max, target, &shown);
            }
            Err(e) => {
                row.figure = "no output".into();
                row.pass = Some(false);
                report.problem(format!("latency ({what}, --emit {emit}): {e}"));
            }
        }
        report.rows.push(row);
    }
}

/// Writes `warm` (its output, if any, is let through for a second), then each record alone into
/// credtrail's stdin after `gap` of quiet, and times its line out.
fn latencies(
    bin: &Path,
    emit: &str,
    warm: &[u8],
    records: &[Vec<u8>],
    gap: Duration,
) -> Result<Vec<Duration>, String> {
    let mut child = Command::new(bin)
        .args(["--emit", emit])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    let reader = thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        loop {
            let mut line = Vec::new();
            match r.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if tx.send((Instant::now(), line)).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut stdin = child.stdin.take().expect("piped");
    let mut out = Vec::new();
    let mut result = stdin
        .write_all(warm)
        .map_err(|e| format!("writing the warm-up: {e}"));
    thread::sleep(Duration::from_secs(1));
    while rx.try_recv().is_ok() {}
    for (i, record) in records.iter().enumerate() {
        if result.is_err() {
            break;
        }
        thread::sleep(gap);
        let t0 = Instant::now();
        if let Err(e) = stdin.write_all(record) {
            result = Err(format!("writing record {i}: {e}"));
            break;
        }
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok((t1, line)) if line.first() == Some(&b'{') && line.ends_with(b"}\n") => {
                out.push(t1.duration_since(t0));
            }
            Ok((_, line)) => {
                result = Err(format!(
                    "record {i}: unexpected output {:?}",
                    String::from_utf8_lossy(&line)
                ));
            }
            Err(_) => result = Err(format!("record {i}: no output line within 5 s")),
        }
    }
    drop(stdin);
    if result.is_err() {
        let _ = child.kill();
    }
    let _ = child.wait();
    let _ = reader.join();
    result.map(|()| out)
}

fn sessions(opts: &Opts, bin: &Path, dir: &Path, report: &mut Report) {
    let n = opts.sessions;
    let mut row = Row {
        name: format!("table bytes per live session ({n} sessions)"),
        ..Row::default()
    };
    let measure = |issuing: bool| -> Result<(u64, Run), String> {
        let path = dir.join(format!(
            "sessions-{n}-{}.ndjson",
            if issuing { "live" } else { "none" }
        ));
        if !path.exists() {
            let mut data = Vec::with_capacity(n * 700);
            for i in 0..n as u64 {
                issue_record(i, issuing, &mut data);
                call_record(i, &mut data);
            }
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            fs::write(&tmp, &data).map_err(|e| e.to_string())?;
            fs::rename(&tmp, &path).map_err(|e| e.to_string())?;
        }
        let bytes = fs::metadata(&path).map_err(|e| e.to_string())?.len();
        let mut best: Option<Run> = None;
        for _ in 0..opts.rounds {
            let r = run(&os(&[&bin, &path]))?;
            let want = if issuing { n as u64 } else { 0 };
            match summary(&r.stderr) {
                Some([records, judged, _, 0, live])
                    if records == 2 * n as u64 && judged == want && live == want => {}
                s => {
                    return Err(format!(
                        "{}: summary {s:?}, expected {} records and {want} judged and live",
                        path.display(),
                        2 * n
                    ));
                }
            }
            eprintln!(
                "end_to_end: sessions {:<5} {:8.3} s, peak RSS {:?}",
                if issuing { "live" } else { "none" },
                r.secs,
                r.rss
            );
            // The least noisy estimate of what the run needs: the smallest peak.
            if best.as_ref().is_none_or(|b| r.rss < b.rss) {
                best = Some(r);
            }
        }
        Ok((bytes, best.expect("at least one round")))
    };
    let (with, without) = match (measure(true), measure(false)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            row.figure = "failed".into();
            row.pass = Some(false);
            report.problem(format!("memory per session: {e}"));
            report.rows.push(row);
            return;
        }
    };
    if with.0 != without.0 {
        report.problem(format!(
            "memory per session: the streams differ in size ({} and {} bytes)",
            with.0, without.0
        ));
    }
    let (Some(a), Some(b)) = (with.1.rss, without.1.rss) else {
        row.figure = "not measured".into();
        report.rows.push(row);
        return;
    };
    let per = (a as f64 - b as f64) / n as f64;
    row.rss = Some(a);
    row.mbps = Some(with.0 as f64 / with.1.secs / MB);
    row.rps = Some(2.0 * n as f64 / with.1.secs);
    row.cpu = with.1.cpu;
    row.figure = format!("{per:.0} B ({:.1} MB − {:.1} MB)", a as f64 / MB, b as f64 / MB);
    row.baseline = "vs same bytes, no sessions".into();
    row.judge(per, Target::AtMost(256.0), "≤ 256 B (4)");
    report.rows.push(row);
}

// -------------------------------------------------------------------------------------------------
// Output.

fn table(rows: &[Row]) -> String {
    let head = [
        "measurement",
        "MB/s",
        "records/s",
        "runs, s",
        "CPU s",
        "others",
        "peak RSS",
        "figure",
        "baseline",
        "target",
        "result",
    ];
    let cells: Vec<[String; 11]> = rows
        .iter()
        .map(|r| {
            [
                r.name.replace('|', "\\|"),
                r.mbps.map_or(String::new(), |v| format!("{v:.0}")),
                r.rps.map_or(String::new(), |v| format!("{v:.0}")),
                r.runs.clone(),
                r.cpu.map_or(String::new(), |v| format!("{v:.2}")),
                r.others.map_or(String::new(), |v| format!("{v:.2}")),
                r.rss
                    .map_or(String::new(), |v| format!("{:.0} MB", v as f64 / MB)),
                r.figure.clone(),
                r.baseline.replace('|', "\\|"),
                r.target.clone(),
                match r.pass {
                    Some(true) => "PASS".into(),
                    Some(false) => "FAIL".into(),
                    None if r.target.is_empty() => String::new(),
                    None => "(not judged)".into(),
                },
            ]
        })
        .collect();
    let mut width = head.map(|h| h.chars().count());
    for c in &cells {
        for (w, s) in width.iter_mut().zip(c) {
            *w = (*w).max(s.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, c: &[String]| {
        out.push('|');
        for (i, (s, w)) in c.iter().zip(width).enumerate() {
            let pad = w - s.chars().count();
            // Numbers to the right.
            if (1..=6).contains(&i) {
                let _ = write!(out, " {}{s} |", " ".repeat(pad));
            } else {
                let _ = write!(out, " {s}{} |", " ".repeat(pad));
            }
        }
        out.push('\n');
    };
    line(&mut out, &head.map(String::from));
    out.push('|');
    for (i, w) in width.iter().enumerate() {
        let dashes = "-".repeat(*w);
        if (1..=6).contains(&i) {
            let _ = write!(out, "-{dashes}:|");
        } else {
            let _ = write!(out, "-{dashes}-|");
        }
    }
    out.push('\n');
    for c in &cells {
        line(&mut out, c);
    }
    out
}

fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into())
}

fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_string())
        })
        .unwrap_or_else(|| "?".into())
}
