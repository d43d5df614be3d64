//! The pipeline's central promise: for any `--threads`, output and counts are exactly those of the
//! sequential reference pass (`run_sequential`), over generated streams that mix every kind of
//! record the detector reads, out-of-order times, malformed lines and all input shapes.

use crate::common::trail::*;
use credtrail::{Config, Emit, Input};
use proptest::prelude::*;
use serde_json::{Value, json};

const INSTANCES: [&str; 4] = [
    "i-0123456789abcdef0",
    "i-0aaaaaaaaaaaaaaa1",
    "i-0bbbbbbbbbbbbbbb2",
    "i-0ccccccccccccccc3",
];
const IPS: [&str; 7] = [
    "3.3.3.3",
    "9.9.9.9",
    "4.4.4.4",
    "10.0.0.5",
    "2600:1f18::1",
    "AWS Internal",
    "s3.amazonaws.com",
];

fn session(i: usize) -> String {
    format!("arn:aws:sts::{ACCOUNT}:assumed-role/app-role/{}", INSTANCES[i])
}

/// One generated line: a record of some kind about instance `i`, or a malformed line.
fn line(kind: u8, i: usize, ip: usize, minute: u32, n: usize) -> String {
    let id = format!("e{n}");
    let at = at(f64::from(minute));
    let inst = INSTANCES[i];
    let rec: Value = match kind % 10 {
        0 => {
            json!({"eventTime": at, "eventSource": "sts.amazonaws.com", "eventName": "AssumeRole", "sourceIPAddress": "ec2.amazonaws.com",
                     "userIdentity": {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"},
                     "requestParameters": {"roleArn": format!("arn:aws:iam::{ACCOUNT}:role/app-role"), "roleSessionName": inst}, "eventID": id})
        }
        1..=4 => {
            json!({"eventTime": at, "eventSource": "s3.amazonaws.com", "eventName": "GetObject", "sourceIPAddress": IPS[ip],
                        "userIdentity": {"type": "AssumedRole", "arn": session(i)}, "eventID": id})
        }
        5 => {
            json!({"eventTime": at, "eventSource": "s3.amazonaws.com", "eventName": "GetObject", "sourceIPAddress": IPS[ip], "vpcEndpointId": "vpce-1",
                    "userIdentity": {"type": "AssumedRole", "arn": session(i)}, "eventID": id})
        }
        6 => {
            json!({"eventTime": at, "eventSource": "ec2.amazonaws.com", "eventName": "AssociateAddress", "sourceIPAddress": "1.1.1.1",
                    "requestParameters": {"instanceId": inst, "publicIp": IPS[ip]}, "eventID": id, "recipientAccountId": ACCOUNT})
        }
        7 => {
            json!({"eventTime": at, "eventSource": "ec2.amazonaws.com", "eventName": "AttachNetworkInterface", "sourceIPAddress": "1.1.1.1",
                    "requestParameters": {"instanceId": inst, "networkInterfaceId": format!("eni-{i}")}, "eventID": id})
        }
        8 => {
            json!({"eventTime": at, "eventSource": "ec2.amazonaws.com", "eventName": if ip.is_multiple_of(2) { "StopInstances" } else { "AssignPrivateIpAddresses" },
                    "sourceIPAddress": "1.1.1.1",
                    "requestParameters": {"instancesSet": {"items": [{"instanceId": inst}]}, "networkInterfaceId": format!("eni-{i}")}, "eventID": id})
        }
        _ => {
            return [
                "garbage",
                "",
                "{\"eventTime\":",
                "[1,2]",
                "{\"eventSource\":\"x\",\"eventName\":\"y\"}",
            ][ip % 5]
                .to_string();
        }
    };
    rec.to_string()
}

fn stream() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec((any::<u8>(), 0..INSTANCES.len(), 0..IPS.len(), 0u32..900), 1..160).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(n, (k, i, ip, m))| line(k, i, ip, m, n))
            .collect()
    })
}

fn config(input: &[u8], emit: Emit, threads: usize, read_size: usize) -> Config {
    Config {
        inputs: vec![Input::Memory("generated".into(), input.to_vec())],
        emit,
        threads,
        read_size,
        ..Config::default()
    }
}

fn check(input: &[u8], read_size: usize) -> Result<(), TestCaseError> {
    for emit in [Emit::All, Emit::Alerts, Emit::Findings] {
        let (mut want, mut want_err) = (Vec::new(), Vec::new());
        let want_stats =
            credtrail::run_sequential(&config(input, emit, 1, read_size), &mut want, &mut want_err).unwrap();
        for threads in [1, 2, 3, 4] {
            let (mut got, mut got_err) = (Vec::new(), Vec::new());
            let stats =
                credtrail::run(&config(input, emit, threads, read_size), &mut got, &mut got_err).unwrap();
            prop_assert_eq!(&got, &want, "{:?} at --threads {}", emit, threads);
            prop_assert_eq!(&stats, &want_stats);
            prop_assert_eq!(&got_err, &want_err);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// NDJSON, read in small pieces so that blocks end everywhere.
    #[test]
    fn ndjson_streams(lines in stream(), read_size in prop::sample::select(vec![1usize, 7, 64, 4096, 1 << 20])) {
        let input = lines.join("\n") + "\n";
        check(input.as_bytes(), read_size)?;
    }

    /// The same records grouped into `{"Records":[…]}` bodies and EventBridge envelopes.
    #[test]
    fn mixed_shapes(lines in stream(), group in 1usize..6) {
        let mut input = String::new();
        for (n, chunk) in lines.chunks(group).enumerate() {
            let objs: Vec<Value> = chunk.iter().filter_map(|l| serde_json::from_str::<Value>(l).ok()).collect();
            match n % 3 {
                0 => input.push_str(&json!({"Records": objs}).to_string()),
                1 => {
                    for o in objs {
                        input.push_str(&json!({"detail-type": "AWS API Call via CloudTrail", "detail": o}).to_string());
                        input.push('\n');
                    }
                    continue;
                }
                _ => input.push_str(&chunk.join("\n")),
            }
            input.push('\n');
        }
        check(input.as_bytes(), 256)?;
    }

    /// Arbitrary bytes never panic, and every thread count agrees on them.
    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        check(&bytes, 64)?;
    }
}

/// The generated streams exercise the detector: a fixed one yields every verdict.
#[test]
fn generated_streams_reach_every_verdict() {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let lines: Vec<String> = (0..3000)
        .map(|n| {
            let r = next();
            line(
                (r % 9) as u8,
                (r >> 8) as usize % INSTANCES.len(),
                (r >> 16) as usize % IPS.len(),
                (n / 4) as u32,
                n,
            )
        })
        .collect();
    let input = lines.join("\n") + "\n";
    let out = crate::common::run_lib(input.as_bytes(), Emit::All, 2).stdout;
    for verdict in ["compromise", "locked", "aws_service", "ip_added"] {
        assert!(
            !crate::common::ids_with(&out, verdict).is_empty(),
            "no {verdict} in the generated stream"
        );
    }
}
