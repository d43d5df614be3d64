//! The command line as typed, its translation into a validated configuration for each command,
//! and the exit status a run ends with.

use crate::config::{Config, DEFAULT_MAX_LINE_BYTES, Emit};
use crate::detect::DetectorConfig;
use crate::detect::workload::{Kind, Kinds};
use crate::parse::event_time::parse_duration;
use clap::{Parser, Subcommand, ValueEnum};
use credtrail_generate::{EstateConfig, EstateError, GenConfig, GenError, Shares};
use std::path::PathBuf;

/// How a run ends, as its exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Every input was read (alerts or not); also when the reader of stdout goes away early.
    Success = 0,
    /// An input could not be opened or read to the end, or stdout failed (or the `--state` or
    /// `--aws-ip-ranges` file could not be read or written).
    Failure = 1,
    /// A bad option or value: nothing was read.
    Usage = 2,
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e as u8)
    }
}

/// [`Exit`] as `--help` lists it, after what a DURATION is (every duration option takes one).
pub const EXIT_CODES: &str = "\
A DURATION is numbers with units, ms, s, m, h or d, run together (90s, 1h30m); a bare 0 is zero.

Exit status:
  0  every input was read (alerts or not); also when the reader of stdout goes away early, and
     after SIGTERM or SIGINT: reading stops, the whole lines read are finished, written and saved
     (--state), the line being read is left unread (a consumer restarting reads it whole)
  1  an input could not be opened or read to the end, or stdout failed
  2  usage error (bad option or value)
  130, 143  a second SIGINT or SIGTERM: exits at once, saying so, writing and saving nothing more";

/// A command line that names no run: said before any input is read.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    /// A value that does not read as what the option takes.
    #[error("{option} {reason}")]
    Value { option: &'static str, reason: String },
    /// A value outside what the option allows.
    #[error("{option} must be {bound}")]
    Bound { option: &'static str, bound: String },
}

fn bound(option: &'static str, bound: impl Into<String>) -> UsageError {
    UsageError::Bound {
        option,
        bound: bound.into(),
    }
}

fn value(option: &'static str) -> impl Fn(String) -> UsageError {
    move |reason| UsageError::Value { option, reason }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EmitArg {
    /// Only records judged `compromise`, each with a `credtrail` key added, written when judged
    /// (in event-time order).
    Alerts,
    /// Every input line in input order: annotated where there is something to say, else unchanged.
    All,
    /// OCSF 1.3 Detection Findings (class 2004), one per (session, foreign address) incident: a
    /// Create line at its first alert, Update lines as it grows, a Close line when the session
    /// expires or the input ends.
    Findings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MalformedArg {
    /// The line as it came (but for one that names `credtrail` or is over --max-line-bytes:
    /// always wrapped)
    Pass,
    /// `{"credtrail":{"malformed":REASON,"line":TEXT}}` (`line_base64` when not UTF-8), so that
    /// every output line is JSON for a consumer such as jq; a line over --max-line-bytes keeps
    /// only its first --max-line-bytes and its length:
    /// `{"credtrail":{"malformed":REASON,"line_prefix":TEXT,"bytes":N}}` (`line_prefix_base64`)
    Wrap,
}

/// Detects stolen EC2 instance credentials in CloudTrail records (Netflix's method: a session's
/// first address locks it; a call from any other address is an alert).
#[derive(Debug, Parser)]
#[command(name = "credtrail", version, after_help = EXIT_CODES, args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Files to read in order (gzip is detected by its magic bytes); `-` or nothing reads stdin.
    /// One record per line, `{"Records":[…]}` log file bodies, EventBridge envelopes, or
    /// `aws cloudtrail lookup-events` output (read oldest first).
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,

    /// Which records to write.
    #[arg(long, value_enum, default_value_t = EmitArg::Alerts)]
    pub emit: EmitArg,

    /// What --emit all writes for a malformed line.
    #[arg(long, value_enum, value_name = "HOW", default_value_t = MalformedArg::Pass)]
    pub malformed: MalformedArg,

    /// Threads that read, parse and judge, each doing every stage [default: the number of cores].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,

    /// How long a session stays in the table after the EC2 AssumeRole that issued or refreshed it,
    /// on event time.
    #[arg(long, value_name = "DURATION", default_value = "6h")]
    pub ttl: String,

    /// How long after an address change that does not name the address the instance's first new
    /// address is accepted, on event time.
    #[arg(long, value_name = "DURATION", default_value = "15m")]
    pub ip_change_window: String,

    /// Lines longer than this are reported and not read (see --malformed): 1KiB to 1GiB, in bytes
    /// or with a unit (K, KB, KiB, M, MB, MiB, G, GB, GiB: all powers of 1024), e.g. 64MiB, 512K,
    /// 1000000.
    #[arg(long, value_name = "SIZE", default_value = "64MiB")]
    pub max_line_bytes: String,

    /// Sessions held at most (at least 1000); past it the ones closest to expiry are evicted (and
    /// counted), so a flood of AssumeRoles for made-up instances cannot exhaust memory.
    #[arg(long, value_name = "N", default_value_t = crate::detect::DEFAULT_MAX_SESSIONS)]
    pub max_sessions: usize,

    /// Load the session table from FILE at start, save it at exit (end of input, SIGTERM, SIGINT)
    /// and every --checkpoint-interval, so a restart is not blind until the next credential refresh.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,

    /// Start with an empty table when the --state file cannot be read (with a warning) instead of
    /// refusing to start.
    #[arg(long, requires = "state")]
    pub state_reset: bool,

    /// Track instance sessions from their first call (`sessionContext.ec2RoleDelivery` set) when
    /// their AssumeRole was never seen: no blind spot after a start mid-stream. Their verdicts are
    /// marked `inferred`. Off by default (the blog's method).
    #[arg(long)]
    pub infer_sessions: bool,

    /// The input is `credtrail key`'s output (one Kafka partition's consumer): apply the
    /// allocation and interface resolutions it forwards in `credtrail_key`, so that N partition
    /// consumers resolve address changes as one process would. Without it the field is ignored.
    #[arg(long)]
    pub keyed: bool,

    /// Accounts whose VPC endpoints instances may use besides their own and those the trail names
    /// as `recipientAccountId` (comma-separated 12-digit ids). A call through an endpoint of any
    /// other account alerts, whatever its address.
    #[arg(long, value_name = "ACCOUNT,...", value_delimiter = ',')]
    pub trusted_accounts: Vec<String>,

    /// AWS's published ip-ranges.json: alerts then say whether the foreign address is inside AWS
    /// (with region and service) or outside it, and their severity follows. It is evidence too: a
    /// session's address of the other family inside AWS's EC2 ranges of its region is accepted,
    /// and a first call from outside AWS (and outside --trusted-networks) alerts. Lambda
    /// functions' sessions are judged only with it, by where their calls come from.
    #[arg(long, value_name = "FILE")]
    pub aws_ip_ranges: Option<PathBuf>,

    /// Networks outside AWS that instances legitimately call from (comma-separated CIDR blocks,
    /// e.g. a corporate proxy reached over Direct Connect): with --aws-ip-ranges, a first call from
    /// one of them locks as a first call from inside AWS does.
    #[arg(long, value_name = "CIDR,...", value_delimiter = ',')]
    pub trusted_networks: Vec<String>,

    /// Workload kinds not to judge (comma-separated): task (ECS task roles), pod (EKS Pod
    /// Identity), web_identity (IRSA and other AssumeRoleWithWebIdentity sessions), chained
    /// (sessions a judged session assumed), function (Lambda). Instances are always judged.
    #[arg(long, value_name = "KIND,...", value_delimiter = ',')]
    pub no_workload: Vec<String>,

    /// Event time a record may arrive behind the newest one read and still be judged as if the
    /// trail had come sorted by eventTime: records wait this long in a reorder window. A record
    /// later than this is judged when it comes, and counted as late in the summary.
    #[arg(long, value_name = "DURATION", default_value = "15m")]
    pub lateness: String,

    /// Event time behind the newest one read within which a record whose eventID was read already
    /// is recognised as delivered twice (passed on, never judged again). At least --lateness.
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    pub dedupe_horizon: String,

    /// Wall-clock time an input may wait for more data (a quiet pipe) while records wait in the
    /// reorder window; then all of them are judged: the longest any record waits on an idle input.
    /// Records whose earlier-timed peers arrive after such a release are late. Set it above the
    /// gaps of a bursty delivery to keep its order. Settled calls (a known session's, from a lock
    /// older than --lateness) go after 20 ms of such a wait.
    #[arg(long, value_name = "DURATION", default_value = "200ms")]
    pub idle_release: String,

    /// With --state: at the end of input, judge the records still in the reorder window and close
    /// the open findings instead of saving them for the next run (for a batch over a trail that
    /// is complete). Records of a later run that are earlier than them are then late.
    #[arg(long, requires = "state")]
    pub release_at_end: bool,

    /// Wall-clock time between saves of --state while running.
    #[arg(long, value_name = "DURATION", default_value = "60s", requires = "state")]
    pub checkpoint_interval: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print `KEY<TAB>RECORD` per record for a keyed Kafka producer (`kcat -P -K '\t'`): KEY is the
    /// instance id the record belongs to (empty when none), so partitions keep instances together.
    #[command(after_help = EXIT_CODES)]
    Key(KeyArgs),
    /// Write seeded, realistic CloudTrail traffic (NDJSON) with injected credential thefts, for
    /// trying credtrail out, tests and benchmarks. The same options give the same bytes.
    #[command(after_help = EXIT_CODES)]
    Generate(GenerateArgs),
    /// Print the man page (roff), generated from these options (README.md, "Install").
    Man,
    /// Print the completion script for SHELL, generated from these options (README.md, "Install").
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, clap::Args)]
pub struct KeyArgs {
    /// Files to read in order; `-` or nothing reads stdin.
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Lines longer than this are reported and not keyed (1KiB to 1GiB; units as the filter's).
    #[arg(long, value_name = "SIZE", default_value = "64MiB")]
    pub max_line_bytes: String,
}

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Records to write.
    #[arg(long, default_value_t = 100_000)]
    pub records: usize,
    /// Seed of the generator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// EC2 instances with instance roles.
    #[arg(long, default_value_t = 200)]
    pub instances: usize,
    /// Credential thefts to inject.
    #[arg(long, default_value_t = 3)]
    pub attacks: usize,
    /// Records per second of event time.
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
    /// Workloads besides instances, the first of each kind stolen after its first call and the
    /// second before it: task=N,pod=N,web_identity=N,function=N,chained=N (none by default).
    #[arg(long, value_name = "KIND=N,...", conflicts_with = "estate")]
    pub workloads: Option<String>,
    /// Simulate an estate instead (README.md, "An estate to measure on"): --instances in the
    /// topologies of --estate-shares over --days, --attacks thefts (half with the thief calling
    /// first); --records and --rate do not apply.
    #[arg(long, conflicts_with_all = ["records", "rate"])]
    pub estate: bool,
    /// Days the estate runs.
    #[arg(long, default_value_t = 1, requires = "estate")]
    pub days: u32,
    /// Weights of the estate's topologies, `NAME=WEIGHT,…` (plain, dual-stack, nat-gateway, spot,
    /// eks, auto-scaling, stop-start, central-endpoint), or `default`.
    #[arg(long, value_name = "SHARES", default_value = "default", requires = "estate")]
    pub estate_shares: String,
    /// Write each record's label (eventID, whose: instance, thief or other; instance; topology)
    /// to FILE as NDJSON, and the estate's AWS ranges (ip-ranges.json form) to FILE.ip-ranges.json.
    #[arg(long, value_name = "FILE", requires = "estate")]
    pub labels: Option<PathBuf>,
}

/// Why a size was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    #[error("'{0}': expected a size such as 64MiB")]
    NotASize(String),
    #[error("'{text}': unknown unit '{unit}' (B, K, KB, KiB, M, MB, MiB, G, GB, GiB)")]
    Unit { text: String, unit: String },
    #[error("'{0}': too large")]
    TooLarge(String),
}

pub fn parse_size(s: &str) -> Result<usize, SizeError> {
    let s = s.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: usize = s[..digits].parse().map_err(|_| SizeError::NotASize(s.into()))?;
    let unit = match s[digits..].trim() {
        "" | "B" => 1,
        // `MB` as `MiB`: a line limit has no use for the difference, and refusing the spelling
        // most people type was the worse surprise.
        "K" | "KB" | "KiB" | "k" | "kB" => 1 << 10,
        "M" | "MB" | "MiB" => 1 << 20,
        "G" | "GB" | "GiB" => 1 << 30,
        u => {
            return Err(SizeError::Unit {
                text: s.into(),
                unit: u.into(),
            });
        }
    };
    n.checked_mul(unit).ok_or_else(|| SizeError::TooLarge(s.into()))
}

/// `--max-line-bytes`, read and bounded alike for every command that takes it.
fn max_line_bytes(s: &str) -> Result<usize, UsageError> {
    let n = parse_size(s).map_err(|e| value("--max-line-bytes")(e.to_string()))?;
    if !(1024..=(1 << 30)).contains(&n) {
        return Err(bound(
            "--max-line-bytes",
            format!(
                "between 1KiB and 1GiB (default {}MiB)",
                DEFAULT_MAX_LINE_BYTES >> 20
            ),
        ));
    }
    Ok(n)
}

/// `--trusted-accounts`: each value an account id of 12 digits. Spaces around a value are
/// dropped ("A, B" is two accounts); anything else is refused rather than silently never matching.
fn trusted_accounts(values: &[String]) -> Result<Vec<compact_str::CompactString>, UsageError> {
    values
        .iter()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .map(|v| {
            if v.len() == 12 && v.bytes().all(|c| c.is_ascii_digit()) {
                Ok(v.into())
            } else {
                Err(value("--trusted-accounts")(format!(
                    "'{v}': an account id is 12 digits"
                )))
            }
        })
        .collect()
}

/// `--trusted-networks`: CIDR blocks (or single addresses), spaces around each dropped.
fn trusted_networks(values: &[String]) -> Result<Vec<crate::parse::addresses::Net>, UsageError> {
    values
        .iter()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .map(|v| {
            cidr(v).ok_or_else(|| {
                value("--trusted-networks")(format!("'{v}': expected a CIDR block such as 192.0.2.0/24"))
            })
        })
        .collect()
}

/// A CIDR block of any width (a declared network may be large), its host bits cleared.
fn cidr(s: &str) -> Option<crate::parse::addresses::Net> {
    use std::net::IpAddr;
    let (ip, len) = match s.split_once('/') {
        Some((ip, len)) => (ip.parse::<IpAddr>().ok()?, len.parse::<u8>().ok()?),
        None => {
            let ip: IpAddr = s.parse().ok()?;
            (ip, if ip.is_ipv4() { 32 } else { 128 })
        }
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some(crate::parse::addresses::Net { ip, len })
}

impl TryFrom<Args> for Config {
    type Error = UsageError;

    fn try_from(a: Args) -> Result<Config, UsageError> {
        let ttl = parse_duration(&a.ttl).map_err(value("--ttl"))?;
        let change_window = parse_duration(&a.ip_change_window).map_err(value("--ip-change-window"))?;
        if ttl <= 0 {
            return Err(bound("--ttl", "more than zero"));
        }
        let max_line_bytes = max_line_bytes(&a.max_line_bytes)?;
        if a.max_sessions < 1000 {
            return Err(bound("--max-sessions", "at least 1000"));
        }
        let max_sessions = a.max_sessions;
        let checkpoint_interval =
            parse_duration(&a.checkpoint_interval).map_err(value("--checkpoint-interval"))?;
        if checkpoint_interval < 1000 {
            return Err(bound("--checkpoint-interval", "at least 1s"));
        }
        let checkpoint_interval = std::time::Duration::from_millis(checkpoint_interval as u64);
        let lateness = parse_duration(&a.lateness).map_err(value("--lateness"))?;
        let dedupe_horizon = parse_duration(&a.dedupe_horizon).map_err(value("--dedupe-horizon"))?;
        if dedupe_horizon < lateness {
            return Err(bound("--dedupe-horizon", "at least --lateness"));
        }
        let idle_release = parse_duration(&a.idle_release).map_err(value("--idle-release"))?;
        if idle_release < 10 {
            return Err(bound("--idle-release", "at least 10ms"));
        }
        let idle_release = std::time::Duration::from_millis(idle_release as u64);
        let threads = match a.threads {
            Some(0) => return Err(bound("--threads", "at least 1")),
            Some(n) if n > 256 => return Err(bound("--threads", "at most 256")),
            Some(n) => n,
            None => Config::default().threads,
        };
        let mut kinds = Kinds::default();
        for name in &a.no_workload {
            match Kind::parse(name) {
                Some(k) if k != Kind::Instance => kinds = kinds.with(k, false),
                _ => {
                    return Err(value("--no-workload")(format!(
                        "'{name}': expected task, pod, web_identity, chained or function"
                    )));
                }
            }
        }
        let walked = crate::input::walked(a.inputs);
        Ok(Config {
            inputs: walked.inputs,
            digests_skipped: walked.digests,
            emit: match a.emit {
                EmitArg::Alerts => Emit::Alerts,
                EmitArg::All => Emit::All,
                EmitArg::Findings => Emit::Findings,
            },
            threads,
            detector: DetectorConfig {
                ttl,
                change_window,
                max_sessions,
                infer_sessions: a.infer_sessions,
                trusted_accounts: std::sync::Arc::new(trusted_accounts(&a.trusted_accounts)?),
                trusted_networks: std::sync::Arc::new(trusted_networks(&a.trusted_networks)?),
                kinds,
                ranges: None,
                plain_method: false,
            },
            malformed: match a.malformed {
                MalformedArg::Pass => crate::output::wrap::MalformedOutput::Pass,
                MalformedArg::Wrap => crate::output::wrap::MalformedOutput::Wrap,
            },
            aws_ip_ranges: a.aws_ip_ranges,
            state: a.state,
            state_reset: a.state_reset,
            keyed: a.keyed,
            checkpoint_interval,
            max_line_bytes,
            lateness,
            dedupe_horizon,
            idle_release,
            release_at_end: a.release_at_end,
            ..Config::default()
        })
    }
}

impl TryFrom<KeyArgs> for Config {
    type Error = UsageError;

    fn try_from(a: KeyArgs) -> Result<Config, UsageError> {
        let max_line_bytes = max_line_bytes(&a.max_line_bytes)?;
        let walked = crate::input::walked(a.inputs);
        Ok(Config {
            inputs: walked.inputs,
            digests_skipped: walked.digests,
            max_line_bytes,
            ..Config::default()
        })
    }
}

impl TryFrom<GenerateArgs> for GenConfig {
    type Error = UsageError;

    fn try_from(a: GenerateArgs) -> Result<GenConfig, UsageError> {
        let config = GenConfig {
            seed: a.seed,
            records: a.records,
            instances: a.instances,
            attacks: a.attacks,
            events_per_sec: a.rate,
            workloads: credtrail_generate::Workloads::parse(a.workloads.as_deref().unwrap_or(""))
                .map_err(value("--workloads"))?,
            ..GenConfig::default()
        };
        config.validate()?;
        Ok(config)
    }
}

impl TryFrom<&GenerateArgs> for EstateConfig {
    type Error = UsageError;

    fn try_from(a: &GenerateArgs) -> Result<EstateConfig, UsageError> {
        let shares = Shares::parse(&a.estate_shares).map_err(|e| value("--estate-shares")(e.to_string()))?;
        let config = EstateConfig {
            seed: a.seed,
            instances: a.instances,
            days: a.days,
            thefts: a.attacks,
            shares,
            ..EstateConfig::default()
        };
        config.validate().map_err(|e| match e {
            EstateError::Size => bound(
                "--days",
                format!(
                    "between 1 and 366, with --instances times --days at most {}",
                    credtrail_generate::MAX_INSTANCE_DAYS
                ),
            ),
            EstateError::Counts => bound("--instances", "at least 1"),
            e => value("--estate-shares")(e.to_string()),
        })?;
        Ok(config)
    }
}

/// The generator's refusal, in the words of the option that caused it.
impl From<GenError> for UsageError {
    fn from(e: GenError) -> UsageError {
        match e {
            GenError::Rate(_) => bound("--rate", "a number of records per second above zero"),
            GenError::Instances(_) => bound(
                "--instances",
                format!("between 1 and {}", credtrail_generate::MAX_INSTANCES),
            ),
            GenError::Span { .. } => bound("--records", "few enough for --rate to end them by the year 9999"),
            // Not an option: the generator's own default.
            e @ GenError::Accounts(_) => UsageError::Value {
                option: "generate",
                reason: e.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Input;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Args::command().debug_assert();
    }

    /// Every duration option shows `<DURATION>`: the help says once what one is, units and the
    /// bare zero, instead of leaving `--ttl 6` to find out from an error.
    #[test]
    fn the_help_says_what_a_duration_is() {
        let help = Args::command().render_long_help().to_string();
        assert!(help.contains("<DURATION>"), "no duration option left to explain");
        for needle in ["ms, s, m, h or d", "1h30m", "a bare 0 is zero"] {
            assert!(help.contains(needle), "--help lacks {needle:?}");
        }
    }

    fn config(args: &[&str]) -> Result<Config, String> {
        let a = Args::try_parse_from(std::iter::once("credtrail").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        Config::try_from(a).map_err(|e| e.to_string())
    }

    /// Each subcommand's configuration, as `main` builds it.
    fn command(args: &[&str]) -> Result<Command, String> {
        let a = Args::try_parse_from(std::iter::once("credtrail").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        a.command.ok_or_else(|| "no subcommand".into())
    }

    #[test]
    fn subcommands_are_validated_as_the_filter_is() {
        let key = |args: &[&str]| match command(args).unwrap() {
            Command::Key(k) => Config::try_from(k).map_err(|e| e.to_string()),
            c => panic!("{c:?}"),
        };
        let generate = |args: &[&str]| match command(args).unwrap() {
            Command::Generate(g) => GenConfig::try_from(g).map_err(|e| e.to_string()),
            c => panic!("{c:?}"),
        };
        assert_eq!(
            key(&["key", "--max-line-bytes", "2KiB"]).unwrap().max_line_bytes,
            2048
        );
        for bad in ["1", "2GiB", "12XB"] {
            let e = key(&["key", "--max-line-bytes", bad]).unwrap_err();
            assert!(e.starts_with("--max-line-bytes "), "{e}");
        }
        assert_eq!(
            generate(&["generate", "--rate", "0.5"]).unwrap().events_per_sec,
            0.5
        );
        for bad in ["0", "-1", "NaN", "inf"] {
            let e = generate(&["generate", &format!("--rate={bad}")]).unwrap_err();
            assert!(e.starts_with("--rate must be"), "{bad}: {e}");
        }
        for bad in ["0", "1000001"] {
            let e = generate(&["generate", "--instances", bad]).unwrap_err();
            assert_eq!(e, "--instances must be between 1 and 1000000", "{bad}");
        }
        let e = generate(&["generate", "--records", "100000000000", "--rate", "1e-9"]).unwrap_err();
        assert!(e.starts_with("--records must be"), "{e}");
        assert_eq!(generate(&["generate", "--instances", "1"]).unwrap().instances, 1);
        let w = generate(&["generate", "--workloads", "task=2,function=1"]).unwrap();
        assert_eq!(
            (w.workloads.task, w.workloads.function, w.workloads.pod),
            (2, 1, 0)
        );
        let e = generate(&["generate", "--workloads", "vm=1"]).unwrap_err();
        assert!(e.to_string().starts_with("--workloads 'vm'"), "{e}");
    }

    #[test]
    fn the_exit_codes_listed_are_the_enum() {
        for (e, what) in [
            (Exit::Success, "every input was read"),
            (Exit::Failure, "could not be opened"),
            (Exit::Usage, "usage error"),
        ] {
            let line = format!("  {}  ", e as u8);
            assert!(
                EXIT_CODES
                    .lines()
                    .any(|l| l.starts_with(&line) && l.contains(what)),
                "{e:?}"
            );
        }
    }

    #[test]
    fn defaults_and_values() {
        let c = config(&[]).unwrap();
        assert_eq!(c.inputs, vec![Input::Stdin]);
        assert_eq!(c.emit, Emit::Alerts);
        assert_eq!(c.detector.ttl, 6 * 3600 * 1000);
        let c = config(&["--emit", "all", "--ttl", "1h", "--threads", "3", "a", "-"]).unwrap();
        assert_eq!(c.emit, Emit::All);
        assert_eq!(c.threads, 3);
        assert_eq!(c.inputs, vec![Input::Path("a".into()), Input::Stdin]);
    }

    /// "A, B" is two accounts (a space after the comma used to make B an account that never
    /// matched), and a value that is not an account id is refused. (Mutation: dropping the trim
    /// fails the first assertion; dropping the length check lets "99" through.)
    #[test]
    fn trusted_accounts_are_account_ids() {
        let c = config(&["--trusted-accounts", "111111111111, 222222222222"]).unwrap();
        assert_eq!(*c.detector.trusted_accounts, vec!["111111111111", "222222222222"]);
        let e = config(&["--trusted-accounts", "99"]).unwrap_err();
        assert_eq!(e, "--trusted-accounts '99': an account id is 12 digits");
    }

    #[test]
    fn bad_values_are_refused_before_reading() {
        for bad in [
            &["--ttl", "6"][..],
            &["--ttl", "0s"],
            &["--threads", "0"],
            &["--ip-change-window", "soon"],
            &["--max-line-bytes", "12XB"],
            &["--max-line-bytes", "10"],
            &["--emit", "some"],
            &["--trusted-accounts", "99"],
            &["--trusted-networks", "10.0.0.0/33"],
            &["--trusted-networks", "proxy"],
            &["--trusted-accounts", "111111111111,22222222222x"],
        ] {
            assert!(config(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(
            parse_size("3 TiB").unwrap_err().to_string(),
            "'3 TiB': unknown unit 'TiB' (B, K, KB, KiB, M, MB, MiB, G, GB, GiB)"
        );
        assert_eq!(parse_size("1000"), Ok(1000));
    }

    /// A bare `0` is zero for every duration option (README: "`--lateness 0` is input order"),
    /// refused only by the options' own bounds, in their words as for `0s`; another number
    /// without a unit is still refused. (Mutation: dropping the bare-zero case in
    /// `parse_duration` fails every option with "missing unit".)
    #[test]
    fn a_bare_zero_is_a_duration_for_every_duration_option() {
        let c = config(&["--lateness", "0", "--dedupe-horizon", "0"]).unwrap();
        assert_eq!((c.lateness, c.dedupe_horizon), (0, 0));
        assert_eq!(
            config(&["--ip-change-window", "0"])
                .unwrap()
                .detector
                .change_window,
            0
        );
        for option in [
            "--ttl",
            "--ip-change-window",
            "--lateness",
            "--dedupe-horizon",
            "--idle-release",
        ] {
            let zero = config(&[option, "0"]).map(|_| ());
            assert_eq!(zero, config(&[option, "0s"]).map(|_| ()), "{option} 0");
            if let Err(e) = zero {
                assert!(!e.contains("missing unit"), "{option} 0: {e}");
            }
        }
        let e = config(&["--state", "s", "--checkpoint-interval", "0"]).unwrap_err();
        assert!(e.contains("at least 1s"), "{e}");
        let e = config(&["--lateness", "5"]).unwrap_err();
        assert!(e.contains("missing unit"), "{e}");
    }

    /// `1MB` reads as `1MiB` (it was refused while `1M` was taken), and `--help` says which sizes
    /// and what minimum the options take. (Mutation: dropping `"MB"` fails the first assertion.)
    #[test]
    fn sizes_take_the_units_people_type_and_help_says_so() {
        for (text, n) in [
            ("1MB", 1 << 20),
            ("1MiB", 1 << 20),
            ("1M", 1 << 20),
            ("512KB", 512 << 10),
            ("1GB", 1 << 30),
        ] {
            assert_eq!(parse_size(text), Ok(n), "{text}");
        }
        let help = Args::command().render_long_help().to_string();
        assert!(help.contains("at least 1000"), "{help}");
        assert!(help.contains("1KiB to 1GiB") && help.contains("MB"), "{help}");
    }
}
