//! Beyond the blog: who owns the foreign address (`--aws-ip-ranges`), an attacker's own VPC
//! endpoint, duplicate delivery, and sessions inferred from their calls (`--infer-sessions`). Each
//! both ways: the alert that must fire, and the look-alike that must stay quiet.

use crate::common::trail::*;
use crate::common::*;
use credtrail::{Config, Emit, Input};
use serde_json::{Value, json};
use std::path::PathBuf;

fn run_with(records: &[Value], tweak: impl Fn(&mut Config)) -> Vec<Value> {
    let input = lines(records);
    let mut outs = Vec::new();
    for threads in [1, 3] {
        let mut cfg = Config {
            inputs: vec![Input::Memory("input".into(), input.clone())],
            emit: Emit::All,
            threads,
            ..Config::default()
        };
        tweak(&mut cfg);
        outs.push(run_cfg(cfg).stdout);
    }
    assert_eq!(outs[0], outs[1], "thread counts disagree");
    records_of(&outs[0])
}

fn records_of(out: &[u8]) -> Vec<Value> {
    crate::common::records(out)
}

fn ann<'a>(out: &'a [Value], id: &str) -> &'a Value {
    &out.iter()
        .find(|o| o["eventID"] == id)
        .unwrap_or_else(|| panic!("{id}"))["credtrail"]
}

fn via(id: &str, minutes: f64, ip: &str, endpoint_account: &str) -> Value {
    let mut c = call_via_endpoint(id, minutes, ip);
    c["vpcEndpointAccountId"] = json!(endpoint_account);
    c
}

#[test]
fn a_vpc_endpoint_of_another_account_alerts_whatever_the_address() {
    // The attacker's own endpoint: the address is a private one that looks like any endpoint's.
    let out = run_with(
        &[
            issue("ar", 0.0),
            call("a", 1.0, "3.3.3.3"),
            via("own", 2.0, "10.0.0.5", ACCOUNT),
            via("evil", 3.0, "10.0.0.5", "666666666666"),
        ],
        |_| {},
    );
    assert_eq!(
        ann(&out, "own")["verdict"],
        "locked",
        "the session's own account's endpoint"
    );
    let evil = ann(&out, "evil");
    assert_eq!(evil["verdict"], "compromise");
    assert_eq!(evil["vpc_endpoint_account"], "666666666666");
    assert!(evil["reason"].as_str().unwrap().contains("666666666666"));
    // A trusted account's endpoint (a shared-services VPC) is an endpoint like the session's own.
    let out = run_with(
        &[
            issue("ar", 0.0),
            call("a", 1.0, "3.3.3.3"),
            via("shared", 3.0, "10.0.0.5", "222222222222"),
        ],
        |c| c.detector.trusted_accounts = std::sync::Arc::new(vec!["222222222222".into()]),
    );
    assert_eq!(ann(&out, "shared")["verdict"], "locked");
}

#[test]
fn a_record_delivered_twice_alerts_once() {
    let thief = call("b", 2.0, "9.9.9.9");
    let out = run_with(
        &[
            issue("ar", 0.0),
            call("a", 1.0, "3.3.3.3"),
            thief.clone(),
            call("c", 3.0, "9.9.9.9"),
            thief,
        ],
        |_| {},
    );
    let verdicts: Vec<&Value> = out
        .iter()
        .filter(|o| o["eventID"] == "b")
        .map(|o| &o["credtrail"]["verdict"])
        .collect();
    assert_eq!(verdicts, [&json!("compromise"), &json!("duplicate")]);
    assert_eq!(
        ann(&out, "c")["verdict"],
        "compromise",
        "another record from the same address still alerts"
    );
    let input = lines(&[
        issue("ar", 0.0),
        call("a", 1.0, "3.3.3.3"),
        call("b", 2.0, "9.9.9.9"),
        call("b", 2.0, "9.9.9.9"),
    ]);
    assert_eq!(alerts(&run_lib(&input, Emit::Alerts, 2).stdout), ["b"]);
}

fn with_delivery(mut c: Value) -> Value {
    c["userIdentity"]["sessionContext"] = json!({"ec2RoleDelivery": "2.0", "attributes": {}});
    c
}

#[test]
fn inferred_sessions_are_judged_only_when_asked_and_marked() {
    let trail = [
        with_delivery(call("a", 1.0, "3.3.3.3")),
        with_delivery(call("b", 2.0, "9.9.9.9")),
        issue("ar", 3.0),
        with_delivery(call("c", 4.0, "9.9.9.9")),
    ];
    // The blog's behaviour by default: no AssumeRole seen, nothing judged until it comes.
    let out = run_with(&trail, |_| {});
    assert!(out[0].get("credtrail").is_none() && out[1].get("credtrail").is_none());
    assert_eq!(
        ann(&out, "c")["verdict"],
        "locked",
        "the AssumeRole starts the row; c locks it"
    );
    // With inference: the first call locks, the second alerts, marked inferred; the AssumeRole
    // adopts the row, keeping its lock, and later verdicts are no longer inferred.
    let out = run_with(&trail, |c| c.detector.infer_sessions = true);
    assert_eq!(
        (
            ann(&out, "a")["verdict"].clone(),
            ann(&out, "a")["inferred"].clone()
        ),
        (json!("locked"), json!(true))
    );
    assert_eq!(
        (
            ann(&out, "b")["verdict"].clone(),
            ann(&out, "b")["inferred"].clone()
        ),
        (json!("compromise"), json!(true))
    );
    assert_eq!(ann(&out, "c")["verdict"], "compromise");
    assert!(ann(&out, "c").get("inferred").is_none());
    // A call without ec2RoleDelivery is not instance-role traffic: nothing is inferred from it.
    let out = run_with(&[call("a", 1.0, "3.3.3.3"), call("b", 2.0, "9.9.9.9")], |c| {
        c.detector.infer_sessions = true
    });
    assert!(out.iter().all(|o| o.get("credtrail").is_none()));
}

#[test]
fn inference_on_the_stratus_capture_judges_the_stolen_key_but_cannot_alert() {
    // ground-truth.json: the AssumeRole is absent. With --infer-sessions the two calls made with the
    // stolen key (lines 6 and 21, ec2RoleDelivery 1.0) are judged; both come from the operator's one
    // address, so the first locks it and the second matches: nothing tells thief from instance.
    let path =
        data("cloudtrail/stratus-red-team/aws.credential-access.ec2-steal-instance-credentials.ndjson");
    let input = std::fs::read(path).unwrap();
    let mut cfg = Config {
        inputs: vec![Input::Memory("stratus".into(), input)],
        emit: Emit::All,
        ..Config::default()
    };
    cfg.detector.infer_sessions = true;
    let out = run_cfg(cfg);
    assert_eq!(
        (out.stats.judged, out.stats.alerts, out.stats.sessions),
        (2, 0, 1)
    );
    let judged: Vec<(String, String, bool)> = records_of(&out.stdout)
        .iter()
        .filter(|o| o.get("credtrail").is_some())
        .map(|o| {
            (
                o["eventID"].as_str().unwrap().to_string(),
                o["credtrail"]["verdict"].as_str().unwrap().to_string(),
                o["credtrail"]["inferred"] == true,
            )
        })
        .collect();
    assert_eq!(
        judged,
        [
            (
                "b379479b-05c9-4c3c-af4b-cbd43acf29e1".to_string(),
                "locked".to_string(),
                true
            ),
            (
                "394cf343-b9cf-48ce-8a94-e188656ae8ba".to_string(),
                "locked".to_string(),
                true
            )
        ]
    );
}

#[test]
fn the_owner_of_a_foreign_address_sets_the_severity() {
    let ranges = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/ip-ranges-sample.json");
    // The instance's own address is inside AWS (EC2, us-east-1): a first call from outside AWS
    // would alert at once with the ranges loaded.
    let trail = [
        issue("ar", 0.0),
        call("a", 1.0, "3.80.0.5"),
        call("aws", 2.0, "18.236.253.47"),
        call("out", 3.0, "198.51.100.9"),
    ];
    let out = run_with(&trail, |c| c.aws_ip_ranges = Some(ranges.clone()));
    assert_eq!(
        ann(&out, "aws")["origin"],
        json!({"class": "InsideAWS", "region": "us-west-2", "service": "EC2", "severity": "Medium"})
    );
    assert_eq!(
        ann(&out, "out")["origin"],
        json!({"class": "OutsideAWS", "severity": "High"})
    );
    assert!(
        ann(&out, "a").get("origin").is_none(),
        "only alerts are classified"
    );
    // Without the file the split cannot be made, and the alert keeps the higher severity.
    let out = run_with(&trail, |_| {});
    assert_eq!(
        ann(&out, "aws")["origin"],
        json!({"class": "unclassified", "severity": "High"})
    );
    // A missing or bad file is refused before any input is read.
    let o = bin()
        .args(["--aws-ip-ranges", "/nonexistent/ip-ranges.json", "/dev/null"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/ip-ranges.json"));
}

#[test]
fn findings_are_one_incident_per_session_and_foreign_address() {
    // The sample's 11 attacker calls from one address are one incident: a Create line at the first
    // alert, Update lines as it grows, a Close line at the end of input, all with one id, in OCSF
    // 1.3 Detection Finding shape; the same lines for every thread count.
    let sample = std::fs::read(data("sample-attack.ndjson")).unwrap();
    let run = |threads| {
        run_cfg(Config {
            inputs: vec![Input::Memory("s".into(), sample.clone())],
            emit: Emit::Findings,
            threads,
            ..Config::default()
        })
        .stdout
    };
    let one = run(1);
    for threads in [2, 3, 4] {
        assert!(run(threads) == one, "--threads {threads}");
    }
    let lines = records_of(&one);
    let activities: Vec<i64> = lines.iter().map(|l| l["activity_id"].as_i64().unwrap()).collect();
    assert_eq!(activities.first(), Some(&1));
    assert_eq!(activities.last(), Some(&3));
    assert!(activities[1..activities.len() - 1].iter().all(|&a| a == 2));
    for l in &lines {
        assert_eq!(l["class_uid"], 2004);
        assert_eq!(
            l["type_uid"].as_i64().unwrap(),
            200400 + l["activity_id"].as_i64().unwrap()
        );
        assert_eq!(l["finding_info"]["uid"], lines[0]["finding_info"]["uid"]);
        assert!(l["time"].is_i64() && l["severity_id"].is_i64());
    }
    assert_eq!(
        lines.last().unwrap()["count"],
        11,
        "the close line counts every attacker call"
    );
}

/// A record of instance `inst` (role `role`, account `acct`) — issue or call.
fn other(kind: &str, id: &str, minutes: f64, inst: &str, acct: &str, ip: &str) -> Value {
    let mut r = if kind == "issue" {
        issue(id, minutes)
    } else {
        call(id, minutes, ip)
    };
    if kind == "issue" {
        r["requestParameters"] =
            json!({"roleArn": format!("arn:aws:iam::{acct}:role/web-role"), "roleSessionName": inst});
    } else {
        r["userIdentity"]["arn"] = json!(format!("arn:aws:sts::{acct}:assumed-role/web-role/{inst}"));
    }
    r
}

#[test]
fn an_address_locked_by_another_instance_of_the_account_is_named() {
    // i-0bbb… locks 4.4.4.4; INSTANCE's credentials then come from 4.4.4.4: lateral movement.
    let peer = "i-0bbbbbbbbbbbbbbb2";
    let trail = [
        issue("ar", 0.0),
        call("a", 1.0, "3.3.3.3"),
        other("issue", "ar2", 0.5, peer, ACCOUNT, ""),
        other("call", "p", 1.5, peer, ACCOUNT, "4.4.4.4"),
        call("b", 2.0, "4.4.4.4"),
        call("c", 3.0, "9.9.9.9"),
    ];
    for emit in [Emit::All, Emit::Alerts] {
        let input = lines(&trail);
        let outs: Vec<Vec<u8>> = [1, 2, 4]
            .iter()
            .map(|&t| run_lib(&input, emit, t).stdout)
            .collect();
        assert!(
            outs.iter().all(|o| *o == outs[0]),
            "{emit:?}: thread counts disagree"
        );
        let out = records_of(&outs[0]);
        let b = ann(&out, "b");
        assert_eq!(b["verdict"], "compromise");
        assert_eq!(b["same_account_peer"]["instance_id"], peer, "{emit:?}");
        assert_eq!(b["same_account_peer"]["role"], "web-role");
        assert!(
            ann(&out, "c").get("same_account_peer").is_none(),
            "an address no instance holds"
        );
    }
    // The same address locked by an instance of another account says nothing of this account.
    let trail = [
        issue("ar", 0.0),
        call("a", 1.0, "3.3.3.3"),
        other("issue", "ar2", 0.5, peer, "210987654321", ""),
        other("call", "p", 1.5, peer, "210987654321", "4.4.4.4"),
        call("b", 2.0, "4.4.4.4"),
    ];
    let out = run_with(&trail, |_| {});
    assert_eq!(ann(&out, "b")["verdict"], "compromise");
    assert!(ann(&out, "b").get("same_account_peer").is_none());
}
