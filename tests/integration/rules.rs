//! One end-to-end test per rule of the detector, each a small trail that states what it expects
//! and why. Exceptions are tested both ways: the case they accept, and the alert that still fires.

use crate::common::trail::*;
use crate::common::*;
use credtrail::Emit;
use serde_json::{Value, json};

/// Runs the trail at 1 and 3 threads (they must agree) and returns the annotated records.
fn judge(records: &[Value]) -> Vec<Value> {
    let input = lines(records);
    let one = run_lib(&input, Emit::All, 1);
    let three = run_lib(&input, Emit::All, 3);
    assert_eq!(one.stdout, three.stdout, "thread counts disagree");
    assert_eq!(one.stats.malformed, 0, "{}", one.stderr);
    crate::common::records(&one.stdout)
}

fn verdict_of(out: &[Value], id: &str) -> Option<String> {
    let rec = out
        .iter()
        .find(|o| o["eventID"] == id)
        .unwrap_or_else(|| panic!("{id} not in output"));
    rec.get("credtrail")
        .map(|c| c["verdict"].as_str().unwrap().to_string())
}

fn verdicts(records: &[Value], ids: &[&str]) -> Vec<Option<String>> {
    let out = judge(records);
    ids.iter().map(|id| verdict_of(&out, id)).collect()
}

fn v(s: &str) -> Option<String> {
    Some(s.to_string())
}

#[test]
fn first_address_locks_and_another_alerts() {
    // The blog's core: 3.3.3.3 locks the session, 9.9.9.9 is somewhere else.
    let got = verdicts(
        &[
            issue("ar", 0.0),
            call("a", 1.0, "3.3.3.3"),
            call("b", 2.0, "9.9.9.9"),
            call("c", 3.0, "3.3.3.3"),
        ],
        &["ar", "a", "b", "c"],
    );
    assert_eq!(got, [None, v("locked"), v("compromise"), v("locked")]);
}

#[test]
fn sessions_not_in_the_table_are_not_judged() {
    // No AssumeRole by EC2 was seen: the session cannot be judged, whatever its addresses.
    let got = verdicts(
        &[call("a", 1.0, "3.3.3.3"), call("b", 2.0, "9.9.9.9")],
        &["a", "b"],
    );
    assert_eq!(got, [None, None]);
    // A person who assumes the role with an instance-like session name creates no row.
    let mut person = issue("ar", 0.0);
    person["sourceIPAddress"] = json!("5.5.5.5");
    person["userIdentity"] = json!({"type": "IAMUser", "arn": format!("arn:aws:iam::{ACCOUNT}:user/bob")});
    let got = verdicts(
        &[person, call("a", 1.0, "3.3.3.3"), call("b", 2.0, "9.9.9.9")],
        &["a", "b"],
    );
    assert_eq!(got, [None, None]);
}

#[test]
fn the_ttl_runs_on_event_time_and_a_refresh_extends_it() {
    // Live until exactly 6 h after the AssumeRole; a refresh at 5 h keeps the lock until 11 h.
    let got = verdicts(
        &[
            issue("ar", 0.0),
            call("a", 1.0, "3.3.3.3"),
            call("b", 360.0, "9.9.9.9"),
            call("c", 360.5, "9.9.9.9"),
        ],
        &["b", "c"],
    );
    assert_eq!(got, [v("compromise"), None]);
    let got = verdicts(
        &[
            issue("ar", 0.0),
            call("a", 1.0, "3.3.3.3"),
            issue("ar2", 300.0),
            call("b", 600.0, "9.9.9.9"),
        ],
        &["b"],
    );
    assert_eq!(got, [v("compromise")]);
}

#[test]
fn failed_calls_are_judged() {
    // An attacker's probes fail; they still come from the wrong address.
    let mut probe = call("b", 2.0, "9.9.9.9");
    probe["errorCode"] = json!("AccessDenied");
    let got = verdicts(&[issue("ar", 0.0), call("a", 1.0, "3.3.3.3"), probe], &["b"]);
    assert_eq!(got, [v("compromise")]);
}

#[test]
fn aws_services_neither_lock_nor_alert() {
    // AWS calling on the session's behalf says nothing about where the keys are.
    let got = verdicts(
        &[
            issue("ar", 0.0),
            call("x", 0.5, "AWS Internal"),
            call("y", 0.7, "athena.amazonaws.com"),
            call("a", 1.0, "3.3.3.3"),
            call("z", 1.5, "s3.amazonaws.com"),
            call("b", 2.0, "9.9.9.9"),
        ],
        &["x", "y", "a", "z", "b"],
    );
    assert_eq!(
        got,
        [
            v("aws_service"),
            v("aws_service"),
            v("locked"),
            v("aws_service"),
            v("compromise")
        ]
    );
}

#[test]
fn a_vpc_endpoint_has_its_own_private_slot() {
    // Accepted: the private address through the endpoint locks the private slot.
    // Still alerts: a second private address through the endpoint, and a private address without one.
    let got = verdicts(
        &[
            issue("ar", 0.0),
            call("a", 1.0, "3.3.3.3"),
            call_via_endpoint("p", 2.0, "10.0.0.5"),
            call_via_endpoint("p2", 3.0, "10.0.0.5"),
            call_via_endpoint("q", 4.0, "10.0.0.6"),
            call("r", 5.0, "10.0.0.5"),
        ],
        &["a", "p", "p2", "q", "r"],
    );
    assert_eq!(
        got,
        [
            v("locked"),
            v("locked"),
            v("locked"),
            v("compromise"),
            v("compromise")
        ]
    );
}

#[test]
fn a_named_new_address_is_accepted_once_and_then_locked() {
    // AssociateAddress names 4.4.4.4 for the instance: accepted hours later, then part of the lock;
    // 5.5.5.5 still alerts.
    let assoc = ec2(
        "assoc",
        2.0,
        "AssociateAddress",
        json!({"instanceId": INSTANCE, "publicIp": "4.4.4.4"}),
        Value::Null,
    );
    let got = verdicts(
        &[
            issue("ar", 0.0),
            call("a", 1.0, "3.3.3.3"),
            assoc,
            call("b", 120.0, "4.4.4.4"),
            call("c", 121.0, "4.4.4.4"),
            call("d", 122.0, "5.5.5.5"),
            call("e", 123.0, "3.3.3.3"),
        ],
        &["b", "c", "d", "e"],
    );
    assert_eq!(got, [v("ip_added"), v("locked"), v("compromise"), v("locked")]);
}

#[test]
fn an_allocation_id_is_resolved_through_allocate_address() {
    let alloc = ec2(
        "alloc",
        0.5,
        "AllocateAddress",
        json!({"domain": "vpc"}),
        json!({"allocationId": "eipalloc-1", "publicIp": "4.4.4.4", "domain": "vpc"}),
    );
    let assoc = ec2(
        "assoc",
        2.0,
        "AssociateAddress",
        json!({"instanceId": INSTANCE, "allocationId": "eipalloc-1"}),
        Value::Null,
    );
    let got = verdicts(
        &[
            issue("ar", 0.0),
            alloc,
            call("a", 1.0, "3.3.3.3"),
            assoc,
            call("b", 100.0, "4.4.4.4"),
            call("c", 101.0, "6.6.6.6"),
        ],
        &["b", "c"],
    );
    assert_eq!(got, [v("ip_added"), v("compromise")]);
}

#[test]
fn an_unnamed_change_accepts_one_address_within_the_window() {
    // AttachNetworkInterface does not say which address: the first new one within 15 min is the
    // instance's; a second one, or one after the window, alerts.
    let attach = || {
        ec2(
            "attach",
            2.0,
            "AttachNetworkInterface",
            json!({"instanceId": INSTANCE, "networkInterfaceId": "eni-1", "deviceIndex": 1}),
            Value::Null,
        )
    };
    let got = verdicts(
        &[
            issue("ar", 0.0),
            call("a", 1.0, "3.3.3.3"),
            attach(),
            call("b", 17.0, "4.4.4.4"),
            call("c", 18.0, "5.5.5.5"),
        ],
        &["b", "c"],
    );
    assert_eq!(got, [v("ip_added"), v("compromise")]);
    let got = verdicts(
        &[
            issue("ar", 0.0),
            call("a", 1.0, "3.3.3.3"),
            attach(),
            call("b", 17.1, "4.4.4.4"),
        ],
        &["b"],
    );
    assert_eq!(got, [v("compromise")]);
}

#[test]
fn interfaces_map_to_instances_through_attach_and_run_instances() {
    let run = ec2(
        "run",
        0.0,
        "RunInstances",
        json!({}),
        json!({"instancesSet": {"items": [{"instanceId": INSTANCE, "networkInterfaceSet": {"items": [{"networkInterfaceId": "eni-7"}]}}]}}),
    );
    let assign = |id: &str, eni: &str, m: f64| {
        ec2(
            id,
            m,
            "AssignIpv6Addresses",
            json!({"networkInterfaceId": eni}),
            Value::Null,
        )
    };
    let got = verdicts(
        &[
            run,
            issue("ar", 0.0),
            call("a", 1.0, "3.3.3.3"),
            assign("x", "eni-7", 2.0),
            call("b", 3.0, "2600:1f18::1"),
            assign("y", "eni-unknown", 4.0),
            call("c", 5.0, "2600:1f18::2"),
        ],
        &["b", "c"],
    );
    assert_eq!(got, [v("ip_added"), v("compromise")]);
}

#[test]
fn changes_from_another_account_or_that_failed_do_nothing() {
    let mut other = ec2(
        "assoc",
        2.0,
        "AssociateAddress",
        json!({"instanceId": INSTANCE, "publicIp": "4.4.4.4"}),
        Value::Null,
    );
    other["recipientAccountId"] = json!("210987654321");
    let mut failed = ec2(
        "assoc2",
        2.5,
        "AssociateAddress",
        json!({"instanceId": INSTANCE, "publicIp": "4.4.4.4"}),
        Value::Null,
    );
    failed["errorCode"] = json!("InvalidAllocationID.NotFound");
    let got = verdicts(
        &[
            issue("ar", 0.0),
            call("a", 1.0, "3.3.3.3"),
            other,
            failed,
            call("b", 3.0, "4.4.4.4"),
        ],
        &["b"],
    );
    assert_eq!(got, [v("compromise")]);
}

#[test]
fn stop_and_start_let_the_lock_start_afresh() {
    // After a restart the instance has a new public address: it locks again. The old one alerts.
    let stop = ec2(
        "stop",
        2.0,
        "StopInstances",
        json!({"instancesSet": {"items": [{"instanceId": INSTANCE}]}}),
        Value::Null,
    );
    let start = ec2(
        "start",
        5.0,
        "StartInstances",
        json!({"instancesSet": {"items": [{"instanceId": INSTANCE}]}}),
        Value::Null,
    );
    let got = verdicts(
        &[
            issue("ar", 0.0),
            call("a", 1.0, "3.3.3.3"),
            stop,
            start,
            call("b", 6.0, "4.4.4.4"),
            call("c", 7.0, "3.3.3.3"),
        ],
        &["b", "c"],
    );
    assert_eq!(got, [v("locked"), v("compromise")]);
}

#[test]
fn addresses_are_compared_parsed() {
    let got = verdicts(
        &[
            issue("ar", 0.0),
            call("a", 1.0, "2600:1f18::1"),
            call("b", 2.0, "2600:1F18:0:0:0:0:0:0001"),
            call("c", 3.0, "::ffff:3.3.3.3"),
        ],
        &["b", "c"],
    );
    assert_eq!(got, [v("locked"), v("compromise")]);
}

#[test]
fn event_time_not_input_order_decides_who_locked_first() {
    // CloudTrail delivers out of order; the record with the earlier eventTime locks even if it is
    // read later, within --lateness.
    let got = verdicts(
        &[
            issue("ar", 0.0),
            call("a", 5.0, "3.3.3.3"),
            call("b", 2.0, "9.9.9.9"),
        ],
        &["a", "b"],
    );
    assert_eq!(got, [v("compromise"), v("locked")]);
}

#[test]
fn an_attacker_first_alert_shows_who_locked_and_when() {
    // The thief calls first and locks 9.9.9.9; the instance's own next call alerts. The annotation
    // must let a reader see both addresses and when the lock was taken.
    let out = judge(&[
        issue("ar", 0.0),
        call("thief", 1.0, "9.9.9.9"),
        call("own", 2.0, "3.3.3.3"),
    ]);
    let own = out.iter().find(|o| o["eventID"] == "own").unwrap();
    let c = &own["credtrail"];
    assert_eq!(c["verdict"], "compromise");
    assert_eq!(c["source_ip"], "3.3.3.3");
    assert_eq!(c["session"], SESSION);
    assert_eq!(c["instance_id"], INSTANCE);
    assert_eq!(
        c["locked_ips"],
        json!([{"ip": "9.9.9.9", "slot": "public", "since": "2024-03-01T00:01:00Z", "origin": "first_use"}])
    );
    assert_eq!(c["ttl_expires"], "2024-03-01T06:00:00Z");
    let reason = c["reason"].as_str().unwrap();
    for needle in ["9.9.9.9", "3.3.3.3", "2024-03-01T00:01:00Z", "called first"] {
        assert!(reason.contains(needle), "reason lacks {needle}: {reason}");
    }
}

#[test]
fn alerts_mode_writes_only_the_compromise_records_unchanged_but_for_one_key() {
    let input = lines(&[
        issue("ar", 0.0),
        call("a", 1.0, "3.3.3.3"),
        call("b", 2.0, "9.9.9.9"),
    ]);
    let run = run_lib(&input, Emit::Alerts, 2);
    let out = crate::common::records(&run.stdout);
    assert_eq!(out.len(), 1);
    let mut rec = out[0].clone();
    rec.as_object_mut().unwrap().remove("credtrail");
    assert_eq!(rec, call("b", 2.0, "9.9.9.9"));
    assert_eq!(
        (
            run.stats.records,
            run.stats.judged,
            run.stats.alerts,
            run.stats.sessions
        ),
        (3, 2, 1, 1)
    );
}

#[test]
fn all_mode_writes_untouched_lines_byte_for_byte() {
    let mut input = br#"{ "eventSource" : "s3.amazonaws.com" , "eventName":"ListBuckets", "eventTime":"2024-03-01T00:00:00Z"}"#.to_vec();
    input.extend_from_slice(b"\r\n");
    input.extend_from_slice(&lines(&[issue("ar", 0.0)]));
    let run = run_lib(&input, Emit::All, 2);
    assert_eq!(run.stdout, input);
}

/// CRLF input: an annotated record keeps its `\r\n` like the untouched lines around it, so the
/// output has one line ending throughout.
#[test]
fn all_mode_keeps_crlf_on_annotated_lines() {
    let input: Vec<u8> = lines(&[issue("ar", 0.0), call("a", 1.0, "3.3.3.3")])
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .flat_map(|l| [l, b"\r\n"].concat())
        .collect();
    let run = run_lib(&input, Emit::All, 2);
    let out = String::from_utf8(run.stdout).unwrap();
    assert_eq!(out.matches("\r\n").count(), 2, "{out}");
    assert_eq!(out.matches('\n').count(), 2, "{out}");
    assert!(out.contains("\"credtrail\""), "{out}");
}

#[test]
fn envelopes_and_bodies_are_judged_like_lines() {
    let body = json!({"Records": [issue("ar", 0.0), call("a", 1.0, "3.3.3.3")]});
    let envelope = json!({"version": "0", "detail-type": "AWS API Call via CloudTrail", "source": "aws.s3", "detail": call("b", 2.0, "9.9.9.9")});
    let input = lines(&[body, envelope]);
    let run = run_lib(&input, Emit::All, 2);
    let out = crate::common::records(&run.stdout);
    assert_eq!(
        out.len(),
        3,
        "the body is written as its two records, then the envelope"
    );
    assert_eq!(out[0]["eventID"], "ar");
    assert_eq!(
        out[2]["credtrail"]["verdict"], "compromise",
        "annotated at the envelope's top level"
    );
    assert_eq!(out[2]["detail"]["eventID"], "b");
}
