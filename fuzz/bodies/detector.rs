//! Sequences of CloudTrail records from a small alphabet (EC2 AssumeRole, calls, address changes,
//! stop/start, …) with fuzzer-chosen instances, roles, addresses and times, plus a few bad lines
//! and `{"Records":[…]}` bodies. The same bytes go through `credtrail::run` with one thread and
//! with three (and another read size), and through `pipeline::run_sequential`: stdout and stats
//! must be identical, since every verdict is the one a sequential pass gives. `--emit alerts` must
//! hold exactly the `compromise` lines of `--emit all`, in the order they were judged (the
//! sequential reference's): alerts go out when decided, in event-time order through the reorder
//! window, where `--emit all` keeps input order.
use arbitrary::{Arbitrary, Unstructured};
use credtrail::{Config, Emit, Input};
use std::fmt::Write as _;

#[derive(Arbitrary, Debug)]
pub struct Script {
    read_size: u16,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug, Clone)]
enum Op {
    AssumeRole {
        inst: u8,
        role: u8,
        t: u16,
        invoked_by_only: bool,
    },
    Call {
        inst: u8,
        role: u8,
        ip: u8,
        t: u16,
        endpoint: bool,
        error: bool,
    },
    Associate {
        target: u8,
        ip: Option<u8>,
        alloc: Option<u8>,
        t: u16,
    },
    Attach {
        inst: u8,
        eni: u8,
        t: u16,
    },
    Allocate {
        alloc: u8,
        ip: u8,
    },
    Run {
        inst: u8,
        eni: u8,
        t: u16,
    },
    Stop {
        inst: u8,
        t: u16,
    },
    Start {
        inst: u8,
        t: u16,
    },
    Garbage(u8),
    Body(Vec<Op>),
}

const ACCOUNT: &str = "123456789012";

fn inst(n: u8) -> String {
    format!("i-{:017x}", n % 5)
}

fn role(n: u8) -> &'static str {
    ["app-role", "web", "path/nested"][usize::from(n % 3)]
}

fn addr(n: u8) -> String {
    match n % 12 {
        0..=4 => format!("203.0.113.{}", n % 5),
        5 => "10.0.0.7".into(),
        6 => "100.64.1.1".into(),
        7 => "fc00::1".into(),
        8 => "2001:db8::1".into(),
        9 => "ec2.amazonaws.com".into(),
        10 => "AWS Internal".into(),
        _ => "redacted".into(),
    }
}

fn ip(n: u8) -> String {
    format!("203.0.113.{}", n % 6)
}

fn time(t: u16) -> String {
    // Up to ~7.6 days from the base, in 10 s steps: long enough for the 6 h TTL to lapse.
    let secs = 1_709_251_200u64 + u64::from(t) * 10;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // 2024-03-01 is day 19783 since the epoch; March has 31 days.
    let mut day = days - 19_783 + 1;
    let mut month = 3;
    if day > 31 {
        day -= 31;
        month = 4;
    }
    format!(
        "2024-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

// One arm per operation the fuzzer can script; `too_many_lines` holds for src.
#[allow(clippy::too_many_lines)]
fn render(op: &Op, n: usize, out: &mut String, depth: u8) {
    let id = format!("e{n}");
    match op {
        Op::AssumeRole {
            inst: i,
            role: r,
            t,
            invoked_by_only,
        } => {
            let src = if *invoked_by_only {
                "203.0.113.250"
            } else {
                "ec2.amazonaws.com"
            };
            let role = role(*r);
            let _ = write!(
                out,
                r#"{{"eventTime":"{}","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","sourceIPAddress":"{src}","userIdentity":{{"type":"AWSService","invokedBy":"ec2.amazonaws.com"}},"requestParameters":{{"roleArn":"arn:aws:iam::{ACCOUNT}:role/{role}","roleSessionName":"{}"}},"eventID":"{id}","recipientAccountId":"{ACCOUNT}"}}"#,
                time(*t),
                inst(*i)
            );
        }
        Op::Call {
            inst: i,
            role: r,
            ip: a,
            t,
            endpoint,
            error,
        } => {
            let role = role(*r).rsplit('/').next().unwrap();
            let vpce = if *endpoint {
                r#","vpcEndpointId":"vpce-1""#
            } else {
                ""
            };
            let err = if *error {
                r#","errorCode":"AccessDenied""#
            } else {
                ""
            };
            let _ = write!(
                out,
                r#"{{"eventTime":"{}","eventSource":"s3.amazonaws.com","eventName":"GetObject","sourceIPAddress":"{}","userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{}"}}{vpce}{err},"eventID":"{id}","recipientAccountId":"{ACCOUNT}"}}"#,
                time(*t),
                addr(*a),
                inst(*i)
            );
        }
        Op::Associate {
            target,
            ip: a,
            alloc,
            t,
        } => {
            let tgt = if target & 1 == 0 {
                format!(r#""instanceId":"{}""#, inst(target >> 1))
            } else {
                format!(r#""networkInterfaceId":"eni-{}""#, (target >> 1) % 4)
            };
            let mut req = tgt;
            if let Some(a) = a {
                let _ = write!(req, r#","publicIp":"{}""#, ip(*a));
            }
            if let Some(al) = alloc {
                let _ = write!(req, r#","allocationId":"eipalloc-{}""#, al % 4);
            }
            let _ = write!(
                out,
                r#"{{"eventTime":"{}","eventSource":"ec2.amazonaws.com","eventName":"AssociateAddress","sourceIPAddress":"198.51.100.1","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::{ACCOUNT}:user/admin"}},"requestParameters":{{{req}}},"eventID":"{id}","recipientAccountId":"{ACCOUNT}"}}"#,
                time(*t)
            );
        }
        Op::Attach { inst: i, eni, t } => {
            let _ = write!(
                out,
                r#"{{"eventTime":"{}","eventSource":"ec2.amazonaws.com","eventName":"AttachNetworkInterface","sourceIPAddress":"198.51.100.1","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::{ACCOUNT}:user/admin"}},"requestParameters":{{"instanceId":"{}","networkInterfaceId":"eni-{}","deviceIndex":1}},"eventID":"{id}","recipientAccountId":"{ACCOUNT}"}}"#,
                time(*t),
                inst(*i),
                eni % 4
            );
        }
        Op::Allocate { alloc, ip: a } => {
            let _ = write!(
                out,
                r#"{{"eventTime":"2024-03-01T00:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"AllocateAddress","sourceIPAddress":"198.51.100.1","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::{ACCOUNT}:user/admin"}},"requestParameters":{{"domain":"vpc"}},"responseElements":{{"allocationId":"eipalloc-{}","publicIp":"{}"}},"eventID":"{id}","recipientAccountId":"{ACCOUNT}"}}"#,
                alloc % 4,
                ip(*a)
            );
        }
        Op::Run { inst: i, eni, t } => {
            let _ = write!(
                out,
                r#"{{"eventTime":"{}","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","sourceIPAddress":"198.51.100.1","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::{ACCOUNT}:user/admin"}},"responseElements":{{"instancesSet":{{"items":[{{"instanceId":"{}","networkInterfaceSet":{{"items":[{{"networkInterfaceId":"eni-{}"}}]}}}}]}}}},"eventID":"{id}","recipientAccountId":"{ACCOUNT}"}}"#,
                time(*t),
                inst(*i),
                eni % 4
            );
        }
        Op::Stop { inst: i, t } | Op::Start { inst: i, t } => {
            let name = if matches!(op, Op::Stop { .. }) {
                "StopInstances"
            } else {
                "StartInstances"
            };
            let _ = write!(
                out,
                r#"{{"eventTime":"{}","eventSource":"ec2.amazonaws.com","eventName":"{name}","sourceIPAddress":"198.51.100.1","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::{ACCOUNT}:user/admin"}},"requestParameters":{{"instancesSet":{{"items":[{{"instanceId":"{}"}}]}}}},"eventID":"{id}","recipientAccountId":"{ACCOUNT}"}}"#,
                time(*t),
                inst(*i)
            );
        }
        Op::Garbage(g) => out.push_str(
            [
                "garbage",
                "",
                "{",
                "}",
                "   ",
                r#"{"Records":5}"#,
                r#"{"eventSource":"s3.amazonaws.com","eventName":"#,
                "\u{feff}",
                "[[[[",
                "null",
            ][usize::from(g % 10)],
        ),
        Op::Body(ops) => {
            if depth > 0 {
                out.push_str("null");
                return;
            }
            out.push_str(r#"{"Records":["#);
            for (k, op) in ops.iter().take(8).enumerate() {
                if k > 0 {
                    out.push(',');
                }
                render(op, n * 100 + k, out, depth + 1);
            }
            out.push_str("]}");
        }
    }
}

fn threaded(input: &[u8], emit: Emit, threads: usize, read_size: usize) -> (Vec<u8>, credtrail::Stats) {
    let cfg = Config {
        inputs: vec![Input::Memory("fuzz".into(), input.to_vec())],
        emit,
        threads,
        read_size,
        ..Config::default()
    };
    let mut out = Vec::new();
    let mut err = Vec::new();
    let stats = credtrail::run(&cfg, &mut out, &mut err).expect("in-memory run");
    (out, stats)
}

/// `credtrail::run_sequential`: the same stages in one loop, the reference.
fn sequential(input: &[u8], emit: Emit, read_size: usize) -> (Vec<u8>, credtrail::Stats) {
    let cfg = Config {
        inputs: vec![Input::Memory("fuzz".into(), input.to_vec())],
        emit,
        threads: 1,
        read_size,
        ..Config::default()
    };
    let mut out = Vec::new();
    let mut err = Vec::new();
    let stats = credtrail::run_sequential(&cfg, &mut out, &mut err).expect("in-memory run");
    (out, stats)
}

/// The bytes decoded as `fuzz_target!` decodes a typed input (too short for a script: nothing to
/// do), so a file from the fuzzer's corpus or artifacts is the same script here as there.
pub fn run(data: &[u8]) {
    if data.len() < Script::size_hint(0).0 {
        return;
    }
    if let Ok(script) = Script::arbitrary_take_rest(Unstructured::new(data)) {
        check(script);
    }
}

pub fn check(script: Script) {
    let mut text = String::new();
    for (n, op) in script.ops.iter().take(400).enumerate() {
        render(op, n, &mut text, 0);
        text.push('\n');
    }
    let input = text.as_bytes();
    let small = 1 + usize::from(script.read_size % 512);

    let (one, s1) = threaded(input, Emit::All, 1, 1 << 20);
    let (seq, ss) = sequential(input, Emit::All, small);
    assert_eq!(s1, ss, "stats at 1 thread and of the sequential reference");
    assert!(
        one == seq,
        "--emit all differs at 1 thread and in the sequential reference\n--- 1:\n{}\n--- seq:\n{}",
        String::from_utf8_lossy(&one),
        String::from_utf8_lossy(&seq)
    );
    let (three, s3) = threaded(input, Emit::All, 3, small);
    assert_eq!(s1, s3, "stats at 1 and 3 threads");
    assert!(
        one == three,
        "--emit all differs at 1 and 3 threads\n--- 1:\n{}\n--- 3:\n{}",
        String::from_utf8_lossy(&one),
        String::from_utf8_lossy(&three)
    );

    // The compromise lines of `--emit all`, in input order.
    let mut compromise: Vec<&[u8]> = Vec::new();
    for line in one.split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) else {
            continue; // A bad line passed through.
        };
        if v["credtrail"]["verdict"] == "compromise" {
            compromise.push(line);
        }
    }
    let (alerts, sa) = threaded(input, Emit::Alerts, 2, small);
    assert_eq!(
        (sa.records, sa.judged, sa.alerts, sa.malformed),
        (s1.records, s1.judged, s1.alerts, s1.malformed)
    );
    // In the order judged: the sequential reference's, at any thread count and read size.
    let (seq_alerts, _) = sequential(input, Emit::Alerts, 1 << 20);
    assert!(
        alerts == seq_alerts,
        "--emit alerts differs at 2 threads and in the sequential reference\n--- 2:\n{}\n--- seq:\n{}",
        String::from_utf8_lossy(&alerts),
        String::from_utf8_lossy(&seq_alerts)
    );
    // The same lines as `--emit all`'s compromise lines, whatever their order.
    let mut got: Vec<&[u8]> = alerts.split(|&c| c == b'\n').filter(|l| !l.is_empty()).collect();
    let mut want = compromise.clone();
    got.sort_unstable();
    want.sort_unstable();
    assert!(
        got == want,
        "--emit alerts does not hold the compromise lines of --emit all\n--- alerts:\n{}\n--- all:\n{}",
        String::from_utf8_lossy(&alerts),
        String::from_utf8_lossy(&one)
    );
    assert_eq!(s1.alerts as usize, compromise.len());
}
