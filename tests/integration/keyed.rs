//! `credtrail key` makes N partition consumers agree with one process: the resolutions an address
//! change needs from records keyed elsewhere travel inside it (`credtrail_key`), and a consumer run
//! with `--keyed` applies them. Partitioned here as librdkafka's default partitioner does
//! (CRC32 of the key modulo N; an empty key spread at random, here round-robin); the real broker
//! runs in `pipelines.rs`.

use crate::common::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;

const ACCOUNT: &str = "123456789012";

fn at(minutes: f64) -> String {
    crate::common::trail::at(minutes)
}

fn issue(id: &str, m: f64, instance: &str) -> Value {
    json!({"eventTime": at(m), "eventSource": "sts.amazonaws.com", "eventName": "AssumeRole",
           "sourceIPAddress": "ec2.amazonaws.com",
           "userIdentity": {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"},
           "requestParameters": {"roleArn": format!("arn:aws:iam::{ACCOUNT}:role/app"), "roleSessionName": instance},
           "eventID": id, "recipientAccountId": ACCOUNT})
}

fn call(id: &str, m: f64, instance: &str, ip: &str) -> Value {
    json!({"eventTime": at(m), "eventSource": "s3.amazonaws.com", "eventName": "GetObject",
           "sourceIPAddress": ip,
           "userIdentity": {"type": "AssumedRole", "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/app/{instance}")},
           "eventID": id, "recipientAccountId": ACCOUNT})
}

fn ec2(id: &str, m: f64, name: &str, request: Value, response: Value) -> Value {
    crate::common::trail::ec2(id, m, name, request, response)
}

/// Two thefts a partition consumer only judges as one process does when it gets what was
/// resolved elsewhere, each beside the instance's own calls that must stay quiet:
/// - i-…a1 moves to an Elastic IP named by allocation id (its AllocateAddress has no instance, so
///   an empty key) and calls from it 30 minutes later, past the window an unnamed change opens;
/// - i-…b2 was launched by a RunInstances that also names i-…b1 (a copy goes to each one's
///   partition), and its interface gets a named address.
///
/// The thieves call from 198.51.100.66 after each move.
pub fn trail() -> Vec<Value> {
    let (a, b1, b2) = ("i-00000000000000a1", "i-00000000000000b1", "i-00000000000000b2");
    vec![
        issue("ar-a", 0.0, a),
        issue("ar-b1", 0.0, b1),
        issue("ar-b2", 0.0, b2),
        call("a-1", 1.0, a, "3.3.3.3"),
        call("b1-1", 1.0, b1, "4.4.4.4"),
        // Sixth line: an empty key, dealt (round-robin) away from i-…a1's partition of 2 and 4.
        ec2(
            "alloc",
            1.0,
            "AllocateAddress",
            json!({"domain": "vpc"}),
            json!({"allocationId": "eipalloc-0a1", "publicIp": "52.0.0.1"}),
        ),
        call("b2-1", 1.0, b2, "5.5.5.5"),
        ec2(
            "launch",
            2.0,
            "RunInstances",
            json!({}),
            json!({"instancesSet": {"items": [
                {"instanceId": b1, "networkInterfaceSet": {"items": [{"networkInterfaceId": "eni-00b1"}]}},
                {"instanceId": b2, "networkInterfaceSet": {"items": [{"networkInterfaceId": "eni-00b2"}]}}
            ]}}),
        ),
        ec2(
            "assoc-a",
            3.0,
            "AssociateAddress",
            json!({"instanceId": a, "allocationId": "eipalloc-0a1"}),
            json!({}),
        ),
        ec2(
            "assoc-b2",
            3.0,
            "AssociateAddress",
            json!({"networkInterfaceId": "eni-00b2", "publicIp": "52.0.0.2"}),
            json!({}),
        ),
        call("a-2", 33.0, a, "52.0.0.1"),
        call("b2-2", 33.0, b2, "52.0.0.2"),
        call("thief-a", 34.0, a, "198.51.100.66"),
        call("thief-b2", 34.0, b2, "198.51.100.66"),
    ]
}

/// `credtrail key` over `input`: its `KEY<TAB>RECORD` lines.
fn key(input: &[u8]) -> Vec<(String, String)> {
    let out = run_bin(&["key"], input);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (k, r) = l.split_once('\t').expect("KEY<TAB>RECORD");
            (k.to_owned(), r.to_owned())
        })
        .collect()
}

/// The keyed lines dealt over `n` partitions, each in its order.
fn partitions(keyed: &[(String, String)], n: usize) -> Vec<Vec<u8>> {
    let mut parts = vec![Vec::new(); n];
    for (i, (k, r)) in keyed.iter().enumerate() {
        let p = if k.is_empty() {
            i % n
        } else {
            crc32fast::hash(k.as_bytes()) as usize % n
        };
        parts[p].extend_from_slice(r.as_bytes());
        parts[p].push(b'\n');
    }
    parts
}

fn alerts_of(input: &[u8], args: &[&str]) -> BTreeSet<String> {
    let out = run_bin(args, input);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    alerts(&out.stdout).into_iter().collect()
}

/// 1, 2 and 4 consumers with `--keyed`, and one consumer reading the 4 partitions one after
/// another: the alerts of one process over the trail. Without `--keyed` (the field ignored, as
/// before it existed) four consumers do not agree: the test can fail. (Mutation: with the key
/// stage forwarding nothing, the `--keyed` runs alert on the instances' own calls `a-2`, `b2-2`.)
#[test]
fn partition_consumers_agree_with_one_process() {
    let input = lines_of(&trail());
    let want = alerts_of(&input, &[]);
    assert_eq!(
        want,
        BTreeSet::from(["thief-a".to_owned(), "thief-b2".to_owned()])
    );
    let keyed = key(&input);
    let (b1, b2) = ("i-00000000000000b1", "i-00000000000000b2");
    assert_ne!(
        crc32fast::hash(b1.as_bytes()) % 4,
        crc32fast::hash(b2.as_bytes()) % 4,
        "the launched instances must land on different partitions for the test to mean anything"
    );
    for n in [1, 2, 4] {
        let mut union = BTreeSet::new();
        for part in partitions(&keyed, n) {
            for id in alerts_of(&part, &["--keyed"]) {
                assert!(union.insert(id.clone()), "{n} consumers: {id} alerted twice");
            }
        }
        assert_eq!(union, want, "{n} consumers");
    }
    let one_after_another = partitions(&keyed, 4).concat();
    assert_eq!(
        alerts_of(&one_after_another, &["--keyed"]),
        want,
        "partitions one after another"
    );
    let mut unkeyed = BTreeSet::new();
    for part in partitions(&keyed, 4) {
        unkeyed.extend(alerts_of(&part, &[]));
    }
    assert_ne!(
        unkeyed, want,
        "without --keyed the consumers miss what was resolved elsewhere"
    );
}

/// The caller, and the two instances it stops and an admin starts again.
const STOPPED: (&str, &str, &str) = ("i-00000000000000c2", "i-00000000000000d1", "i-00000000000000d4");

/// A stop and a start of two instances (`STOPPED`), the stop called from 198.51.100.66 with the
/// key of a third: alerts `stop` and, after the restart, the thief's `thief-d4`; the instances'
/// own calls from their new addresses stay quiet.
pub fn stop_trail() -> Vec<Value> {
    let (c, d1, d4) = STOPPED;
    let set = json!({"items": [{"instanceId": d1}, {"instanceId": d4}]});
    let mut stop = ec2(
        "stop",
        2.0,
        "StopInstances",
        json!({"instancesSet": set}),
        json!({}),
    );
    stop["sourceIPAddress"] = json!("198.51.100.66");
    stop["userIdentity"] = json!({"type": "AssumedRole",
        "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/app/{c}")});
    vec![
        issue("ar-c", 0.0, c),
        issue("ar-d1", 0.0, d1),
        issue("ar-d4", 0.0, d4),
        call("c-1", 1.0, c, "6.6.6.6"),
        call("d1-1", 1.0, d1, "7.7.7.7"),
        call("d4-1", 1.0, d4, "8.8.8.8"),
        stop,
        ec2(
            "start",
            4.0,
            "StartInstances",
            json!({"instancesSet": set}),
            json!({}),
        ),
        call("d1-2", 5.0, d1, "9.9.9.1"),
        call("d4-2", 5.0, d4, "9.9.9.4"),
        call("thief-d4", 6.0, d4, "198.51.100.66"),
    ]
}

/// A stop and a start that name two instances, keyed to different partitions, and a stop called
/// with a stolen key of a third instance: each stopped instance's partition must learn its
/// restart (or the instance's own calls from its new address alert: what keying by the first
/// instance named did), and the stolen-key call must alert once over all partitions, also when one
/// consumer reads the copies of every partition. (Mutations: writing one line keyed by the first
/// instance fails the copies check; a consumer applying every fact of a copy judges the stop's
/// call three times in the one-after-another read; copies deduplicated by `eventID` alone fail
/// for one consumer.)
#[test]
fn a_record_naming_several_instances_reaches_each_partition() {
    let (c, d1, d4) = STOPPED;
    let hash = |i: &str| crc32fast::hash(i.as_bytes());
    assert!(
        hash(c) % 4 != hash(d1) % 4 && hash(c) % 4 != hash(d4) % 4 && hash(d1) % 4 != hash(d4) % 4,
        "the three instances must land on different partitions of 4"
    );
    assert_ne!(
        hash(d1) % 2,
        hash(d4) % 2,
        "and the stopped ones on different partitions of 2"
    );
    let records = stop_trail();
    let input = lines_of(&records);
    let want = alerts_of(&input, &[]);
    assert_eq!(want, BTreeSet::from(["stop".to_owned(), "thief-d4".to_owned()]));
    let keyed = key(&input);
    let copies: Vec<&str> = keyed
        .iter()
        .filter(|(_, r)| r.contains("\"stop\""))
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(
        copies,
        [c, d1, d4],
        "one copy of the stop per instance it concerns"
    );
    for n in [1, 2, 4] {
        let mut union = BTreeSet::new();
        for part in partitions(&keyed, n) {
            for id in alerts_of(&part, &["--keyed"]) {
                assert!(union.insert(id.clone()), "{n} consumers: {id} alerted twice");
            }
        }
        assert_eq!(union, want, "{n} consumers");
    }
    // Every alert line, not a set: the copies must not make one consumer alert twice.
    let out = run_bin(&["--keyed"], &partitions(&keyed, 4).concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut got = alerts(&out.stdout);
    got.sort();
    assert_eq!(got, Vec::from_iter(want), "partitions one after another");
    // And it judges each call once, as one process over the trail does.
    let judged = |stderr: &[u8]| {
        let s = String::from_utf8_lossy(stderr).into_owned();
        let n = s
            .split(" judged")
            .next()
            .and_then(|h| h.rsplit(' ').next())
            .map(str::to_owned);
        n.unwrap_or_default()
    };
    let once = run_bin(&[], &input);
    assert_eq!(
        judged(&out.stderr),
        judged(&once.stderr),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The forwarded field is only ever written by `credtrail key`: a record that already
/// has one is reported and not forwarded; a consumer without `--keyed` ignores the field, so an
/// input cannot name the address an instance moved to by carrying it.
#[test]
fn credtrail_key_in_the_input_is_not_trusted() {
    let mut assoc = ec2(
        "assoc",
        3.0,
        "AssociateAddress",
        json!({"instanceId": "i-00000000000000a1", "allocationId": "eipalloc-0ff"}),
        json!({}),
    );
    assoc["credtrail_key"] = json!({"allocation": {"id": "eipalloc-0ff", "ip": "198.51.100.66"}});
    let records = [
        issue("ar", 0.0, "i-00000000000000a1"),
        call("a-1", 1.0, "i-00000000000000a1", "3.3.3.3"),
        assoc,
        call("thief", 30.0, "i-00000000000000a1", "198.51.100.66"),
    ];
    let input = lines_of(&records);
    let out = run_bin(&["key"], &input);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("already has credtrail_key"), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("\"assoc\""));
    assert_eq!(alerts_of(&input, &[]), BTreeSet::from(["thief".to_owned()]));
}

fn lines_of(records: &[Value]) -> Vec<u8> {
    crate::common::trail::lines(records)
}

/// A StopInstances / StartInstances naming two instances reaches both partitions: each instance
/// comes back with a new public address, and its calls from it lock, not alert, on whatever
/// partition it lands. One process alerts nothing; neither do 2 or 4 consumers, nor one reading
/// the partitions one after another (the second copy of each record is a redelivery). (Mutation:
/// keying the record to its first instance only, as before, alerts the second instance's call
/// from its new address on its partition.)
#[test]
fn a_stop_start_of_several_instances_reaches_each_partition() {
    let (i1, i2) = ("i-00000000000000a1", "i-00000000000000b1");
    let both = json!({"instancesSet": {"items": [{"instanceId": i1}, {"instanceId": i2}]}});
    let trail = [
        issue("ar-1", 0.0, i1),
        issue("ar-2", 0.0, i2),
        call("c1", 1.0, i1, "3.3.3.3"),
        call("c2", 1.0, i2, "4.4.4.4"),
        ec2("stop", 5.0, "StopInstances", both.clone(), json!({})),
        ec2("start", 6.0, "StartInstances", both, json!({})),
        call("c1-new", 7.0, i1, "6.6.6.6"),
        call("c2-new", 7.0, i2, "7.7.7.7"),
    ];
    let input = lines_of(&trail);
    assert_eq!(alerts_of(&input, &[]), BTreeSet::new(), "one process");
    let keyed = key(&input);
    for id in ["stop", "start"] {
        let keys: Vec<&str> = keyed
            .iter()
            .filter(|(_, r)| r.contains(&format!("\"eventID\":\"{id}\"")))
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(keys, [i1, i2], "{id} keyed to each instance");
    }
    assert_ne!(
        crc32fast::hash(i1.as_bytes()) % 2,
        crc32fast::hash(i2.as_bytes()) % 2,
        "the two instances must land on different partitions for the test to mean anything"
    );
    assert_ne!(
        crc32fast::hash(i1.as_bytes()) % 4,
        crc32fast::hash(i2.as_bytes()) % 4
    );
    for n in [2, 4] {
        for (p, part) in partitions(&keyed, n).iter().enumerate() {
            assert_eq!(
                alerts_of(part, &["--keyed"]),
                BTreeSet::new(),
                "{n} consumers, partition {p}"
            );
        }
    }
    let one_after_another = partitions(&keyed, 4).concat();
    assert_eq!(alerts_of(&one_after_another, &["--keyed"]), BTreeSet::new());
}
