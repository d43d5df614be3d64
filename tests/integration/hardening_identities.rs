//! Identities longer than AWS issues are malformed, so that a session costs bytes bounded by
//! AWS's limits, not by what a record claims (2 000 sessions with 64 KiB instance ids took 685 MB).

use crate::common::trail::{ACCOUNT, at, lines};
use crate::common::*;
use credtrail::Emit;
use serde_json::json;

fn issue(id: &str, role: &str, session: &str) -> serde_json::Value {
    json!({"eventTime": at(0.0), "eventSource": "sts.amazonaws.com", "eventName": "AssumeRole",
           "sourceIPAddress": "ec2.amazonaws.com",
           "userIdentity": {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"},
           "requestParameters": {"roleArn": format!("arn:aws:iam::{ACCOUNT}:role/{role}"), "roleSessionName": session},
           "eventID": id, "recipientAccountId": ACCOUNT})
}

fn call(id: &str, minutes: f64, role: &str, session: &str, ip: &str) -> serde_json::Value {
    json!({"eventTime": at(minutes), "eventSource": "s3.amazonaws.com", "eventName": "GetObject",
           "sourceIPAddress": ip,
           "userIdentity": {"type": "AssumedRole", "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}")},
           "eventID": id, "recipientAccountId": ACCOUNT})
}

/// A session whose role name and session name are at AWS's limits (64 each) is judged as any: it
/// locks and alerts. One byte past a limit, its AssumeRole and calls are malformed, counted and
/// reported naming the field, and make no session. (Mutation: dropping the check of calls counts
/// 2 malformed, not 6.)
#[test]
fn identities_longer_than_aws_allows_are_malformed() {
    let (role, session) = ("r".repeat(64), format!("i-{}", "a".repeat(62)));
    let (long_role, long_session) = (format!("{role}x"), format!("{session}a"));
    let mut records = Vec::new();
    for (tag, r, s) in [
        ("ok", &role, &session),
        ("role", &long_role, &session),
        ("session", &role, &long_session),
    ] {
        records.push(issue(&format!("{tag}-issue"), r, s));
        records.push(call(&format!("{tag}-lock"), 1.0, r, s, "3.3.3.3"));
        records.push(call(&format!("{tag}-theft"), 2.0, r, s, "203.0.113.9"));
    }
    let run = run_lib(&lines(&records), Emit::Alerts, 2);
    assert_eq!(alerts(&run.stdout), ["ok-theft"], "{}", run.stderr);
    assert_eq!(run.stats.malformed, 6, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("userIdentity.arn's role name is 65 bytes long, more than AWS allows (64)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("requestParameters's session name is 65 bytes long"),
        "{}",
        run.stderr
    );
}

/// A 64 KiB instance id in a stop/start is malformed, not a key kept in the maps.
#[test]
fn an_instance_id_longer_than_ec2_issues_is_malformed() {
    let long = format!("i-{}", "0".repeat(64 << 10));
    let stop = json!({"eventTime": at(0.0), "eventSource": "ec2.amazonaws.com", "eventName": "StopInstances",
                      "sourceIPAddress": "198.51.100.7",
                      "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::{ACCOUNT}:user/admin")},
                      "requestParameters": {"instancesSet": {"items": [{"instanceId": long}]}},
                      "eventID": "stop", "recipientAccountId": ACCOUNT});
    let run = run_lib(&lines(&[stop]), Emit::Alerts, 1);
    assert_eq!(run.stats.malformed, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("instanceId is 65538 bytes long"),
        "{}",
        run.stderr
    );
}
