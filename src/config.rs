//! The validated run configuration, built from the command line before any input is read.

use crate::detect::DetectorConfig;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emit {
    /// Only records judged `compromise`.
    Alerts,
    /// Every input line, annotated where there is something to say.
    All,
    /// One OCSF Detection Finding per (session, foreign address) incident, updated as it goes.
    Findings,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin,
    Path(PathBuf),
    /// In-memory input, for tests and benchmarks: a name for messages and the bytes.
    Memory(String, Vec<u8>),
    /// A path under a directory given that the walk could not enter (one it may not read, a loop
    /// of links), and why: reported in its turn as an input that could not be read.
    Unwalkable(PathBuf, String),
}

impl Input {
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "<stdin>".into(),
            Input::Path(p) | Input::Unwalkable(p, _) => p.display().to_string(),
            Input::Memory(name, _) => name.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub inputs: Vec<Input>,
    pub emit: Emit,
    /// Threads that read, parse and, in turn, judge and write.
    pub threads: usize,
    pub detector: DetectorConfig,
    pub max_line_bytes: usize,
    /// How much one read asks for.
    pub read_size: usize,
    /// Malformed lines reported one by one before only the count goes on.
    pub report_limit: u64,
    /// Where the session table is loaded from and saved to.
    pub state: Option<PathBuf>,
    /// An unreadable state file starts an empty table instead of stopping.
    pub state_reset: bool,
    pub checkpoint_interval: std::time::Duration,
    /// Counters for a progress display (files, bytes, records, alerts), updated as the run goes.
    pub progress: Option<std::sync::Arc<Progress>>,
    /// AWS's ip-ranges.json, to classify foreign addresses.
    pub aws_ip_ranges: Option<PathBuf>,
    /// Event time a record may arrive behind the newest one read and still be judged in its
    /// place: how long the reorder window holds a record.
    pub lateness: crate::parse::event_time::Millis,
    /// Event time behind the newest one read within which a repeated `eventID` is recognised.
    pub dedupe_horizon: crate::parse::event_time::Millis,
    /// Wall-clock time an idle input may leave records in the window before all are released.
    pub idle_release: std::time::Duration,
    /// With `state`: the records still in the window at the end of input are judged rather than
    /// saved for the next run.
    pub release_at_end: bool,
    /// What `--emit all` does with malformed lines.
    pub malformed: crate::output::wrap::MalformedOutput,
    /// Set (by SIGTERM or SIGINT) to stop reading: what was read is finished and flushed.
    pub stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// CloudTrail digest files left out of the inputs (see [`crate::input::is_digest`]).
    pub digests_skipped: u64,
    /// `--keyed`: trust the resolutions `credtrail key` forwards (see [`crate::keying`]).
    pub keyed: bool,
    /// What the reorder window may hold, blocks and entries (see
    /// [`crate::stages::MAX_HELD_BYTES`]); not an option, a test sets it small.
    pub max_held_bytes: usize,
}

pub const DEFAULT_MAX_LINE_BYTES: usize = 64 << 20;

impl Default for Config {
    fn default() -> Self {
        Config {
            inputs: vec![Input::Stdin],
            emit: Emit::Alerts,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            detector: DetectorConfig::default(),
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            read_size: 1 << 20,
            report_limit: 100,
            state: None,
            state_reset: false,
            checkpoint_interval: std::time::Duration::from_secs(60),
            stop: None,
            lateness: 15 * crate::parse::event_time::MINUTE,
            release_at_end: false,
            dedupe_horizon: crate::parse::event_time::HOUR,
            idle_release: std::time::Duration::from_millis(200),
            aws_ip_ranges: None,
            progress: None,
            malformed: crate::output::wrap::MalformedOutput::Pass,
            digests_skipped: 0,
            keyed: false,
            max_held_bytes: crate::stages::MAX_HELD_BYTES,
        }
    }
}

/// What a progress display reads while the run goes on.
#[derive(Debug, Default)]
pub struct Progress {
    /// Bytes read from input files (compressed bytes for gzip files).
    pub bytes: std::sync::atomic::AtomicU64,
    pub files_done: std::sync::atomic::AtomicU64,
    pub records: std::sync::atomic::AtomicU64,
    pub alerts: std::sync::atomic::AtomicU64,
}
