//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

use credtrail::{Config, Emit, Input, Stats};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A path inside the repository: tests read nothing outside it.
pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// A file of `tests/data` (see its README for each file's source and licence).
pub fn data(rel: &str) -> PathBuf {
    repo("tests/data").join(rel)
}

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_credtrail"))
}

/// Runs the binary with `args`, feeding `stdin` from a thread.
pub fn run_bin(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn credtrail");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait for credtrail");
    feeder.join().unwrap();
    out
}

pub struct Run {
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub stats: Stats,
}

/// Runs the library over in-memory input.
pub fn run_lib(input: &[u8], emit: Emit, threads: usize) -> Run {
    run_cfg(Config {
        inputs: vec![Input::Memory("input".into(), input.to_vec())],
        emit,
        threads,
        ..Config::default()
    })
}

pub fn run_cfg(cfg: Config) -> Run {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let stats = credtrail::run(&cfg, &mut out, &mut err).expect("run");
    Run {
        stdout: out,
        stderr: String::from_utf8_lossy(&err).into_owned(),
        stats,
    }
}

/// The records in output, parsed.
pub fn records(stdout: &[u8]) -> Vec<serde_json::Value> {
    stdout
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            serde_json::from_slice(l)
                .unwrap_or_else(|e| panic!("output line is not JSON ({e}): {}", String::from_utf8_lossy(l)))
        })
        .collect()
}

/// The record inside an EventBridge envelope, or the record itself.
pub fn inner(o: &serde_json::Value) -> &serde_json::Value {
    match o.get("detail") {
        Some(d) if d.is_object() => d,
        _ => o,
    }
}

/// `eventID`s of the output records whose verdict is `verdict`, in output order.
/// Lines that are not JSON (malformed input passed through by `--emit all`) are skipped.
pub fn ids_with(stdout: &[u8], verdict: &str) -> Vec<String> {
    stdout
        .split(|&c| c == b'\n')
        .filter_map(|l| serde_json::from_slice::<serde_json::Value>(l).ok())
        .collect::<Vec<_>>()
        .iter()
        .filter(|o| o["credtrail"]["verdict"] == verdict)
        .map(|o| inner(o)["eventID"].as_str().unwrap_or("").to_string())
        .collect()
}

pub fn alerts(stdout: &[u8]) -> Vec<String> {
    ids_with(stdout, "compromise")
}

/// `(eventID, verdict)` of the alerts (`compromise`) in `stdout`.
pub fn alert_pairs(stdout: &[u8]) -> std::collections::BTreeSet<(String, String)> {
    records(stdout)
        .iter()
        .filter_map(|r| {
            let v = r["credtrail"]["verdict"]
                .as_str()
                .filter(|v| *v == "compromise")?;
            Some((r["eventID"].as_str()?.to_string(), v.to_string()))
        })
        .collect()
}

/// Runs `pieces` one after another joined by a fresh `--state` (in a scratch folder named after
/// `name`), piece `i` at `threads[i % threads.len()]` threads, the last one judging what is left
/// (`--release-at-end`): the alerts of all runs together, each asserted to come out only once.
pub fn alerts_in_pieces(
    pieces: &[Vec<u8>],
    threads: &[usize],
    name: &str,
) -> std::collections::BTreeSet<(String, String)> {
    let dir = std::env::temp_dir().join(format!("credtrail-pieces-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state.bin");
    let _ = std::fs::remove_file(&state);
    let mut all = std::collections::BTreeSet::new();
    for (i, piece) in pieces.iter().enumerate() {
        let r = run_cfg(Config {
            inputs: vec![Input::Memory("piece".into(), piece.clone())],
            emit: Emit::Alerts,
            threads: threads[i % threads.len()],
            state: Some(state.clone()),
            release_at_end: i + 1 == pieces.len(),
            ..Config::default()
        });
        let got = alert_pairs(&r.stdout);
        assert!(
            all.is_disjoint(&got),
            "{name}: an alert came out twice across runs"
        );
        all.extend(got);
    }
    std::fs::remove_dir_all(&dir).unwrap();
    all
}

/// Builders of minimal CloudTrail records, shaped like tests/cases, for small fixtures.
pub mod trail {
    use serde_json::{Value, json};

    pub const ACCOUNT: &str = "123456789012";
    pub const INSTANCE: &str = "i-0123456789abcdef0";
    pub const SESSION: &str = "arn:aws:sts::123456789012:assumed-role/app-role/i-0123456789abcdef0";

    /// `2024-03-01T00:00:00Z` plus `minutes`.
    pub fn at(minutes: f64) -> String {
        let secs = (minutes * 60.0).round() as i64;
        format!(
            "2024-03-01T{:02}:{:02}:{:02}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }

    /// The EC2 service issues credentials for INSTANCE.
    pub fn issue(id: &str, minutes: f64) -> Value {
        json!({"eventTime": at(minutes), "eventSource": "sts.amazonaws.com", "eventName": "AssumeRole",
               "sourceIPAddress": "ec2.amazonaws.com",
               "userIdentity": {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"},
               "requestParameters": {"roleArn": format!("arn:aws:iam::{ACCOUNT}:role/app-role"), "roleSessionName": INSTANCE},
               "eventID": id, "recipientAccountId": ACCOUNT})
    }

    /// INSTANCE's session calls S3 from `ip`.
    pub fn call(id: &str, minutes: f64, ip: &str) -> Value {
        json!({"eventTime": at(minutes), "eventSource": "s3.amazonaws.com", "eventName": "GetObject",
               "sourceIPAddress": ip, "userIdentity": {"type": "AssumedRole", "arn": SESSION},
               "eventID": id, "recipientAccountId": ACCOUNT})
    }

    /// The same through a VPC endpoint.
    pub fn call_via_endpoint(id: &str, minutes: f64, ip: &str) -> Value {
        let mut v = call(id, minutes, ip);
        v["vpcEndpointId"] = json!("vpce-0a1b2c3d");
        v
    }

    /// An administrator's EC2 call with these request parameters (and response elements).
    pub fn ec2(id: &str, minutes: f64, name: &str, request: Value, response: Value) -> Value {
        json!({"eventTime": at(minutes), "eventSource": "ec2.amazonaws.com", "eventName": name,
               "sourceIPAddress": "198.51.100.7",
               "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::{ACCOUNT}:user/admin")},
               "requestParameters": request, "responseElements": response,
               "eventID": id, "recipientAccountId": ACCOUNT})
    }

    /// NDJSON of the records.
    pub fn lines(records: &[Value]) -> Vec<u8> {
        let mut out = Vec::new();
        for r in records {
            out.extend_from_slice(r.to_string().as_bytes());
            out.push(b'\n');
        }
        out
    }
}
