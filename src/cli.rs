//! The command line as typed, and its translation into a validated [`Config`].

use crate::config::{Config, DEFAULT_MAX_LINE_BYTES, Emit, Input};
use crate::detect::DetectorConfig;
use crate::parse::event_time::parse_duration;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

pub const EXIT_CODES: &str = "\
Exit status:
  0  every input was read (alerts or not); also when the reader of stdout goes away early
  1  an input could not be opened or read to the end, or stdout failed
  2  usage error (bad option or value)";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EmitArg {
    /// Only records judged `compromise`, each with a `credtrail` key added.
    Alerts,
    /// Every input line in input order: annotated where there is something to say, else unchanged.
    All,
    /// OCSF 1.3 Detection Findings (class 2004), one per (session, foreign address) incident: a
    /// Create line at its first alert, Update lines as it grows, a Close line when the session
    /// expires or the input ends.
    Findings,
}

/// Detects stolen EC2 instance credentials in CloudTrail records (Netflix's method: a session's
/// first address locks it; a call from any other address is an alert).
#[derive(Debug, Parser)]
#[command(name = "credtrail", version, after_help = EXIT_CODES, args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Files to read in order (gzip is detected by its magic bytes); `-` or nothing reads stdin.
    /// One record per line, `{"Records":[…]}` log file bodies, or EventBridge envelopes.
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,

    /// Which records to write.
    #[arg(long, value_enum, default_value_t = EmitArg::Alerts)]
    pub emit: EmitArg,

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

    /// Lines longer than this are reported and passed on unread (e.g. 64MiB, 512KiB, 1000000).
    #[arg(long, value_name = "SIZE", default_value = "64MiB")]
    pub max_line_bytes: String,

    /// Sessions held at most; past it the ones closest to expiry are evicted (and counted), so a
    /// flood of AssumeRoles for made-up instances cannot exhaust memory.
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

    /// Accounts whose VPC endpoints instances may use besides their own (comma-separated). A call
    /// through an endpoint of any other account alerts, whatever its address.
    #[arg(long, value_name = "ACCOUNT,...", value_delimiter = ',')]
    pub trusted_accounts: Vec<String>,

    /// AWS's published ip-ranges.json: alerts then say whether the foreign address is inside AWS
    /// (with region and service) or outside it, and their severity follows.
    #[arg(long, value_name = "FILE")]
    pub aws_ip_ranges: Option<PathBuf>,

    /// Wall-clock time between saves of --state while running.
    #[arg(long, value_name = "DURATION", default_value = "60s", requires = "state")]
    pub checkpoint_interval: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print `KEY<TAB>RECORD` per record for a keyed Kafka producer (`kcat -P -K '\t'`): KEY is the
    /// instance id the record belongs to (empty when none), so partitions keep instances together.
    Key {
        /// Files to read in order; `-` or nothing reads stdin.
        #[arg(value_name = "INPUT")]
        inputs: Vec<PathBuf>,
        /// Lines longer than this are reported and not keyed.
        #[arg(long, value_name = "SIZE", default_value = "64MiB")]
        max_line_bytes: String,
    },
    /// Write seeded, realistic CloudTrail traffic (NDJSON) with injected credential thefts, for
    /// trying credtrail out, tests and benchmarks. The same options give the same bytes.
    Generate {
        /// Records to write.
        #[arg(long, default_value_t = 100_000)]
        records: usize,
        /// Seed of the generator.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// EC2 instances with instance roles.
        #[arg(long, default_value_t = 200)]
        instances: usize,
        /// Credential thefts to inject.
        #[arg(long, default_value_t = 3)]
        attacks: usize,
        /// Records per second of event time.
        #[arg(long, default_value_t = 20.0)]
        rate: f64,
    },
}

pub fn parse_size(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: usize = s[..digits]
        .parse()
        .map_err(|_| format!("'{s}': expected a size such as 64MiB"))?;
    let unit = match s[digits..].trim() {
        "" | "B" => 1,
        "K" | "KiB" | "k" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        u => return Err(format!("'{s}': unknown unit '{u}' (B, KiB, MiB, GiB)")),
    };
    n.checked_mul(unit).ok_or_else(|| format!("'{s}': too large"))
}

/// Paths as given; directories are walked and their files read in the time order their names give
/// (`…_CloudTrail_REGION_20240301T1205Z_…`), merging regions and accounts, then by path.
pub fn inputs(paths: Vec<PathBuf>) -> Result<Vec<Input>, String> {
    if paths.is_empty() {
        return Ok(vec![Input::Stdin]);
    }
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            out.push(Input::Stdin);
        } else if p.is_dir() {
            let mut files = Vec::new();
            walk(&p, &mut files).map_err(|e| format!("{}: {e}", p.display()))?;
            files.sort_by(|a, b| (time_in_name(a), a).cmp(&(time_in_name(b), b)));
            out.extend(files.into_iter().map(Input::Path));
        } else {
            out.push(Input::Path(p));
        }
    }
    Ok(out)
}

fn walk(dir: &std::path::Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            walk(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}

/// The `YYYYMMDDTHHMMZ` token of a CloudTrail log file name; names without one sort first.
fn time_in_name(p: &std::path::Path) -> String {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.split('_')
        .find(|t| {
            t.len() == 14
                && t.as_bytes()[8] == b'T'
                && t.ends_with('Z')
                && t[..8].bytes().all(|c| c.is_ascii_digit())
        })
        .unwrap_or("")
        .to_string()
}

impl TryFrom<Args> for Config {
    type Error = String;

    fn try_from(a: Args) -> Result<Config, String> {
        let ttl = parse_duration(&a.ttl).map_err(|e| format!("--ttl {e}"))?;
        let change_window =
            parse_duration(&a.ip_change_window).map_err(|e| format!("--ip-change-window {e}"))?;
        if ttl <= 0 {
            return Err("--ttl must be more than zero".into());
        }
        let max_line_bytes = parse_size(&a.max_line_bytes).map_err(|e| format!("--max-line-bytes {e}"))?;
        if !(1024..=(1 << 30)).contains(&max_line_bytes) {
            return Err(format!(
                "--max-line-bytes must be between 1KiB and 1GiB (default {DEFAULT_MAX_LINE_BYTES})"
            ));
        }
        if a.max_sessions < 1000 {
            return Err("--max-sessions must be at least 1000".into());
        }
        let max_sessions = a.max_sessions;
        let checkpoint_interval =
            parse_duration(&a.checkpoint_interval).map_err(|e| format!("--checkpoint-interval {e}"))?;
        if checkpoint_interval < 1000 {
            return Err("--checkpoint-interval must be at least 1s".into());
        }
        let checkpoint_interval = std::time::Duration::from_millis(checkpoint_interval as u64);
        let threads = match a.threads {
            Some(0) => return Err("--threads must be at least 1".into()),
            Some(n) if n > 256 => return Err("--threads must be at most 256".into()),
            Some(n) => n,
            None => Config::default().threads,
        };
        let inputs = inputs(a.inputs)?;
        Ok(Config {
            inputs,
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
                trusted_accounts: std::sync::Arc::new(
                    a.trusted_accounts.iter().map(|s| s.as_str().into()).collect(),
                ),
            },
            aws_ip_ranges: a.aws_ip_ranges,
            state: a.state,
            state_reset: a.state_reset,
            checkpoint_interval,
            max_line_bytes,
            ..Config::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Args::command().debug_assert();
    }

    fn config(args: &[&str]) -> Result<Config, String> {
        let a = Args::try_parse_from(std::iter::once("credtrail").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        Config::try_from(a)
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
        ] {
            assert!(config(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1000"), Ok(1000));
    }
}
