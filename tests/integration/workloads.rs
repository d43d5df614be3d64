//! The method extended to every workload credential (README "How it decides", 18 to 22), each kind
//! tested both ways: the alert it now gives, and what it still accepts or does not judge. The
//! records are built from the shapes AWS documents and captures show (see src/parse/issuer.rs):
//! services' AssumeRoles carry `userIdentity.type` `AWSService` with `invokedBy` and
//! `sourceIPAddress` the service; STS writes `credentials.expiration` as `Apr 16, 2024, 3:20:04 PM`.

use crate::common::trail::{ACCOUNT, at, lines};
use crate::common::*;
use credtrail::{Config, Emit, Input};
use serde_json::{Value, json};

const TASK: &str = "4d2b5b5e1c2f4e4e9a6d3c0f6b7a8e9d";
const TASK_SESSION: &str =
    "arn:aws:sts::123456789012:assumed-role/task-role/4d2b5b5e1c2f4e4e9a6d3c0f6b7a8e9d";
const POD_NAME: &str = "eks-eksworksho-app1-498124c2-a555-40bf-9059-ca9a26821eb0";
const POD_SESSION: &str = "arn:aws:sts::123456789012:assumed-role/pod-role/eks-eksworksho-app1-498124c2-a555-40bf-9059-ca9a26821eb0";
const IRSA_SESSION: &str = "arn:aws:sts::123456789012:assumed-role/irsa-role/botocore-session-1709251200";
const INSTANCE_SESSION: &str = "arn:aws:sts::123456789012:assumed-role/app-role/i-0123456789abcdef0";

/// `2024-03-01T00:00:00Z` plus `minutes`, as STS records spell an expiration.
fn sts_time(minutes: u32) -> String {
    let (h, m) = (minutes / 60, minutes % 60);
    let (h12, half) = match h {
        0 => (12, "AM"),
        1..=11 => (h, "AM"),
        12 => (12, "PM"),
        _ => (h - 12, "PM"),
    };
    format!("Mar 1, 2024, {h12}:{m:02}:00 {half}")
}

/// An AWS service's AssumeRole for a workload (the shape of the Pod Identity capture in
/// aws-samples/amazon-eks-security-immersion-day, and of ECS's and Lambda's).
fn service_issue(
    id: &str,
    minutes: f64,
    service: &str,
    role: &str,
    session: &str,
    expires_min: u32,
) -> Value {
    json!({"eventTime": at(minutes), "eventSource": "sts.amazonaws.com", "eventName": "AssumeRole",
           "awsRegion": "us-west-2", "sourceIPAddress": service, "userAgent": service,
           "userIdentity": {"type": "AWSService", "invokedBy": service},
           "requestParameters": {"roleArn": format!("arn:aws:iam::{ACCOUNT}:role/{role}"), "roleSessionName": session},
           "responseElements": {"credentials": {"accessKeyId": "ASIAEXAMPLE", "expiration": sts_time(expires_min)},
               "assumedRoleUser": {"assumedRoleId": format!("AROAEXAMPLE:{session}"),
                   "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}")}},
           "eventID": id, "recipientAccountId": ACCOUNT})
}

fn task_issue(id: &str, minutes: f64) -> Value {
    service_issue(id, minutes, "ecs-tasks.amazonaws.com", "task-role", TASK, 360)
}

fn pod_issue(id: &str, minutes: f64) -> Value {
    let mut v = service_issue(id, minutes, "pods.eks.amazonaws.com", "pod-role", POD_NAME, 360);
    v["requestParameters"]["tags"] = json!([
        {"key": "eks-cluster-name", "value": "eksworkshop-eksctl"},
        {"key": "kubernetes-namespace", "value": "ns-a"},
        {"key": "kubernetes-service-account", "value": "sa1"},
        {"key": "kubernetes-pod-name", "value": "app1"},
    ]);
    v
}

fn instance_issue(id: &str, minutes: f64) -> Value {
    crate::common::trail::issue(id, minutes)
}

/// A call by `session` from `ip`.
fn call(id: &str, minutes: f64, session: &str, ip: &str) -> Value {
    json!({"eventTime": at(minutes), "eventSource": "s3.amazonaws.com", "eventName": "GetObject",
           "awsRegion": "us-west-2", "sourceIPAddress": ip,
           "userIdentity": {"type": "AssumedRole", "arn": session},
           "eventID": id, "recipientAccountId": ACCOUNT})
}

/// IRSA: the pod's SDK calls AssumeRoleWithWebIdentity itself, from its own address.
fn web_identity(id: &str, minutes: f64, ip: &str) -> Value {
    json!({"eventTime": at(minutes), "eventSource": "sts.amazonaws.com", "eventName": "AssumeRoleWithWebIdentity",
           "awsRegion": "us-west-2", "sourceIPAddress": ip,
           "userIdentity": {"type": "WebIdentityUser", "principalId":
               "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/8BA4:sts.amazonaws.com:system:serviceaccount:ns-a:sa1",
               "userName": "system:serviceaccount:ns-a:sa1",
               "identityProvider": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/8BA4"},
           "requestParameters": {"roleArn": "arn:aws:iam::123456789012:role/irsa-role",
               "roleSessionName": "botocore-session-1709251200"},
           "responseElements": {"credentials": {"accessKeyId": "ASIAEXAMPLE", "expiration": "2024-03-01T01:00:00Z"},
               "assumedRoleUser": {"assumedRoleId": "AROAEXAMPLE:botocore-session-1709251200", "arn": IRSA_SESSION},
               "provider": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/8BA4",
               "audience": "sts.amazonaws.com"},
           "eventID": id, "recipientAccountId": ACCOUNT})
}

/// `parent` assumes `role` (in account 210987654321) as session `name`, expiring at `expires_min`.
fn assume(id: &str, minutes: f64, parent: &str, ip: &str, role: &str, name: &str, expires_min: u32) -> Value {
    json!({"eventTime": at(minutes), "eventSource": "sts.amazonaws.com", "eventName": "AssumeRole",
           "awsRegion": "us-west-2", "sourceIPAddress": ip,
           "userIdentity": {"type": "AssumedRole", "arn": parent},
           "requestParameters": {"roleArn": format!("arn:aws:iam::210987654321:role/{role}"), "roleSessionName": name},
           "responseElements": {"credentials": {"accessKeyId": "ASIAEXAMPLE", "expiration": sts_time(expires_min)},
               "assumedRoleUser": {"assumedRoleId": format!("AROAEXAMPLE:{name}"),
                   "arn": format!("arn:aws:sts::210987654321:assumed-role/{role}/{name}")}},
           "eventID": id, "recipientAccountId": ACCOUNT})
}

fn child(role: &str, name: &str) -> String {
    format!("arn:aws:sts::210987654321:assumed-role/{role}/{name}")
}

fn ecs(id: &str, minutes: f64, name: &str, request: Value, response: Value) -> Value {
    json!({"eventTime": at(minutes), "eventSource": "ecs.amazonaws.com", "eventName": name,
           "awsRegion": "us-west-2", "sourceIPAddress": "198.51.100.7",
           "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::{ACCOUNT}:user/admin")},
           "requestParameters": request, "responseElements": response,
           "eventID": id, "recipientAccountId": ACCOUNT})
}

fn cfg(records: &[Value], threads: usize, no: &[&str]) -> Config {
    let mut c = Config {
        inputs: vec![Input::Memory("input".into(), lines(records))],
        emit: Emit::All,
        threads,
        ..Config::default()
    };
    for k in no {
        let kind = credtrail::detect::workload::Kind::parse(k).unwrap();
        c.detector.kinds = c.detector.kinds.with(kind, false);
    }
    c
}

/// The trail at 1 and 3 threads (they must agree), with `no` kinds switched off: the records
/// out, and the run.
fn judge_without(records: &[Value], no: &[&str]) -> (Vec<Value>, Run) {
    let one = run_cfg(cfg(records, 1, no));
    let three = run_cfg(cfg(records, 3, no));
    assert_eq!(one.stdout, three.stdout, "thread counts disagree");
    assert_eq!(one.stats, three.stats, "thread counts disagree");
    assert_eq!(one.stats.malformed, 0, "{}", one.stderr);
    (records_of(&one.stdout), one)
}

fn records_of(stdout: &[u8]) -> Vec<Value> {
    crate::common::records(stdout)
}

fn annotation<'a>(out: &'a [Value], id: &str) -> Option<&'a Value> {
    out.iter()
        .find(|o| o["eventID"] == id)
        .unwrap_or_else(|| panic!("{id} not in output"))
        .get("credtrail")
}

fn verdicts(records: &[Value], ids: &[&str], no: &[&str]) -> Vec<Option<String>> {
    let (out, _) = judge_without(records, no);
    ids.iter()
        .map(|id| annotation(&out, id).map(|c| c["verdict"].as_str().unwrap().to_string()))
        .collect()
}

fn v(s: &str) -> Option<String> {
    Some(s.to_string())
}

#[test]
fn an_ecs_task_session_locks_on_first_use_and_alerts_elsewhere() {
    // The container's task-role key used from outside: the task's NAT address locks, 9.9.9.9 alerts.
    let trail = [
        task_issue("ar", 0.0),
        call("a", 1.0, TASK_SESSION, "3.3.3.3"),
        call("b", 2.0, TASK_SESSION, "9.9.9.9"),
        call("c", 3.0, TASK_SESSION, "3.3.3.3"),
    ];
    let (out, run) = judge_without(&trail, &[]);
    let got: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|id| annotation(&out, id).map(|c| c["verdict"].clone()))
        .collect();
    assert_eq!(
        got,
        [
            Some(json!("locked")),
            Some(json!("compromise")),
            Some(json!("locked"))
        ]
    );
    let b = annotation(&out, "b").unwrap();
    assert_eq!(b["workload"], json!({"kind": "task", "id": TASK}));
    assert!(b.get("instance_id").is_none(), "a task is not an instance: {b}");
    assert!(
        b["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("ECS task {TASK}")),
        "{b}"
    );
    assert_eq!(run.stats.judged_by_kind[1], 1, "one task session judged");
    assert!(
        run.stats.kinds_line().contains("1 task"),
        "{}",
        run.stats.kinds_line()
    );
    // Switched off, the same trail is not judged at all.
    assert_eq!(verdicts(&trail, &["a", "b", "c"], &["task"]), [None, None, None]);
    // Only the ECS service issues task sessions: a person's AssumeRole with the same name does not.
    let mut person = task_issue("ar", 0.0);
    person["sourceIPAddress"] = json!("5.5.5.5");
    person["userIdentity"] = json!({"type": "IAMUser", "arn": format!("arn:aws:iam::{ACCOUNT}:user/bob")});
    assert_eq!(
        verdicts(&[person, trail[1].clone(), trail[2].clone()], &["a", "b"], &[]),
        [None, None]
    );
}

#[test]
fn a_tasks_network_interface_is_tied_to_it_and_its_key_used_after_stop_task_alerts() {
    // awsvpc: RunTask names the task's interface; an Elastic IP associated with that interface is
    // the task's new address, as it would be an instance's.
    let run_task = ecs(
        "rt",
        0.5,
        "RunTask",
        json!({"cluster": "web", "taskDefinition": "app:3"}),
        json!({"tasks": [{"taskArn": format!("arn:aws:ecs:us-west-2:{ACCOUNT}:task/web/{TASK}"),
            "attachments": [{"id": "att-1", "type": "ElasticNetworkInterface", "status": "PRECREATED",
                "details": [{"name": "subnetId", "value": "subnet-1"},
                            {"name": "networkInterfaceId", "value": "eni-0task"}]}]}],
               "failures": []}),
    );
    let associate = json!({"eventTime": at(2.0), "eventSource": "ec2.amazonaws.com", "eventName": "AssociateAddress",
        "sourceIPAddress": "198.51.100.7",
        "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::{ACCOUNT}:user/admin")},
        "requestParameters": {"networkInterfaceId": "eni-0task", "publicIp": "7.7.7.7"},
        "eventID": "assoc", "recipientAccountId": ACCOUNT});
    let base = [task_issue("ar", 0.0), call("a", 1.0, TASK_SESSION, "3.3.3.3")];
    let with_eni = [
        &base[..],
        &[
            run_task,
            associate.clone(),
            call("b", 3.0, TASK_SESSION, "7.7.7.7"),
        ],
    ]
    .concat();
    assert_eq!(verdicts(&with_eni, &["b"], &[]), [v("ip_added")]);
    // Without RunTask nothing says whose interface it is: the new address alerts.
    let without = [&base[..], &[associate, call("b", 3.0, TASK_SESSION, "7.7.7.7")]].concat();
    assert_eq!(verdicts(&without, &["b"], &[]), [v("compromise")]);

    // StopTask: a call before it is judged as any other.
    let stop = ecs(
        "st",
        5.0,
        "StopTask",
        json!({"cluster": "web", "task": format!("arn:aws:ecs:us-west-2:{ACCOUNT}:task/web/{TASK}")}),
        json!({}),
    );
    let trail = [
        &base[..],
        &[
            call("b", 4.0, TASK_SESSION, "9.9.9.9"),
            stop,
            // Within two minutes of StopTask the containers may still be stopping: judged as
            // before. After that the credentials, which STS does not revoke, are used from a copy
            // of the key, even from the task's own address; after they expire, nothing is judged.
            call("c", 6.5, TASK_SESSION, "3.3.3.3"),
            call("d", 7.5, TASK_SESSION, "3.3.3.3"),
            call("e", 400.0, TASK_SESSION, "9.9.9.9"),
        ],
    ]
    .concat();
    assert_eq!(
        verdicts(&trail, &["b", "c", "d", "e"], &[]),
        [v("compromise"), v("locked"), v("compromise"), None]
    );
    let (out, _) = judge_without(&trail, &[]);
    assert_eq!(annotation(&out, "d").unwrap()["evidence"], "after_task_stopped");
    assert_eq!(annotation(&out, "b").unwrap().get("evidence"), None);
    // Its finding names the task's own address, locked before: it must say why that alerted.
    let mut c = cfg(&trail, 1, &[]);
    c.emit = Emit::Findings;
    let findings = records_of(&run_cfg(c).stdout);
    let of = |ip: &str| {
        findings
            .iter()
            .find(|f| f["evidences"][0]["src_endpoint"]["ip"] == ip)
            .unwrap_or_else(|| panic!("a finding for {ip}: {findings:?}"))
    };
    assert_eq!(of("3.3.3.3")["unmapped"]["evidence"], "after_task_stopped");
    assert!(
        of("3.3.3.3")["unmapped"]["note"]
            .as_str()
            .is_some_and(|n| n.contains("after its StopTask")),
        "{}",
        of("3.3.3.3")
    );
    assert_eq!(of("9.9.9.9")["unmapped"].get("evidence"), None);
}

#[test]
fn a_tasks_private_address_from_run_task_is_tied_to_it() {
    // RunTask's attachment details give the task's interface its private address (awsvpc): once
    // the trail ties it, the task's private slot takes only it, as an instance's (14). A thief on
    // premises using the account's endpoint first alerts; the task's own call through it does not.
    let run_task = |private: Option<&str>| {
        let mut details = vec![
            json!({"name": "subnetId", "value": "subnet-1"}),
            json!({"name": "networkInterfaceId", "value": "eni-0task"}),
        ];
        if let Some(p) = private {
            details.push(json!({"name": "privateIPv4Address", "value": p}));
        }
        ecs(
            "rt",
            0.5,
            "RunTask",
            json!({"cluster": "web", "taskDefinition": "app:3"}),
            json!({"tasks": [{"taskArn": format!("arn:aws:ecs:us-west-2:{ACCOUNT}:task/web/{TASK}"),
                "attachments": [{"id": "att-1", "type": "ElasticNetworkInterface", "status": "ATTACHED",
                    "details": details}]}], "failures": []}),
        )
    };
    let via_endpoint = |id: &str, minutes: f64, ip: &str| {
        let mut c = call(id, minutes, TASK_SESSION, ip);
        c["vpcEndpointId"] = json!("vpce-0a1b2c3d");
        c
    };
    let trail = |private: Option<&str>| {
        vec![
            task_issue("ar", 0.0),
            run_task(private),
            via_endpoint("thief", 1.0, "10.9.9.9"),
            via_endpoint("own", 2.0, "10.0.7.9"),
        ]
    };
    assert_eq!(
        verdicts(&trail(Some("10.0.7.9")), &["thief", "own"], &[]),
        [v("compromise"), v("locked")],
        "the tied private address is the task's, any other through the endpoint is not"
    );
    // Without the address nothing ties the slot: the thief's first call takes it.
    assert_eq!(
        verdicts(&trail(None), &["thief", "own"], &[]),
        [v("locked"), v("compromise")]
    );
}

#[test]
fn an_eks_pod_identity_session_names_the_pod() {
    // Pod Identity: the STS AssumeRole by pods.eks.amazonaws.com carries the pod in its tags.
    let trail = [
        pod_issue("ar", 0.0),
        call("a", 1.0, POD_SESSION, "10.0.1.5"),
        call("b", 2.0, POD_SESSION, "203.0.113.9"),
    ];
    let (out, run) = judge_without(&trail, &[]);
    let b = annotation(&out, "b").unwrap();
    assert_eq!(b["verdict"], "compromise");
    assert_eq!(
        b["workload"],
        json!({"kind": "pod", "id": POD_NAME, "pod": "ns-a/app1"})
    );
    assert!(
        b["reason"]
            .as_str()
            .unwrap()
            .starts_with("Credentials of EKS pod ns-a/app1 (role pod-role)"),
        "{b}"
    );
    assert_eq!(run.stats.judged_by_kind[2], 1);
    assert_eq!(verdicts(&trail, &["a", "b"], &["pod"]), [None, None]);
    // The eks-auth AssumeRoleForPodIdentity record itself (made by the node, responseElements
    // null) issues nothing: without the STS record the session is not judged.
    let eks_auth = json!({"eventTime": at(0.0), "eventSource": "eks-auth.amazonaws.com",
        "eventName": "AssumeRoleForPodIdentity", "sourceIPAddress": "44.219.101.145",
        "userIdentity": {"type": "AssumedRole", "arn": INSTANCE_SESSION},
        "requestParameters": {"clusterName": "eksworkshop-eksctl", "token": "HIDDEN_DUE_TO_SECURITY_REASONS"},
        "responseElements": null, "eventID": "auth", "recipientAccountId": ACCOUNT});
    assert_eq!(
        verdicts(&[eks_auth, trail[1].clone(), trail[2].clone()], &["a", "b"], &[]),
        [None, None]
    );
}

#[test]
fn a_web_identity_session_is_locked_to_the_address_that_obtained_it() {
    // IRSA: the pod itself obtained the credentials from 3.3.3.3, so that is their lock before any
    // call. A thief who calls first from elsewhere alerts at once (with first use, they would lock).
    let trail = [
        web_identity("ar", 0.0, "3.3.3.3"),
        call("a", 1.0, IRSA_SESSION, "9.9.9.9"),
        call("b", 2.0, IRSA_SESSION, "3.3.3.3"),
    ];
    let (out, _) = judge_without(&trail, &[]);
    let a = annotation(&out, "a").unwrap();
    assert_eq!(a["verdict"], "compromise");
    assert_eq!(a["locked_ips"][0]["origin"], "issuer");
    assert_eq!(a["workload"]["kind"], "web_identity");
    assert_eq!(annotation(&out, "b").unwrap()["verdict"], "locked");
    let b = annotation(&out, "b").unwrap()["reason"].as_str().unwrap();
    assert!(
        !b.starts_with("First call"),
        "the issuer locked it, not this call: {b}"
    );
    // The session lives until its credentials' expiration (01:00), not the 6 h TTL.
    let late = [
        web_identity("ar", 0.0, "3.3.3.3"),
        call("c", 61.0, IRSA_SESSION, "9.9.9.9"),
    ];
    assert_eq!(verdicts(&late, &["c"], &[]), [None]);
    assert_eq!(verdicts(&trail, &["a", "b"], &["web_identity"]), [None, None]);
}

/// The lock a web-identity session took from its issuing record is known to the same-account
/// rule: an instance of the account alerting from that address names the web-identity session
/// as its peer, in every mode, as it would a session that locked on first use. (Mutation: without
/// the issuer lock told to the peers on the first call, the alert names no peer.)
#[test]
fn a_web_identity_sessions_issuer_lock_is_a_same_account_peer() {
    let trail = [
        web_identity("ar", 0.0, "3.3.3.3"),
        instance_issue("ir", 0.5),
        call("a", 1.0, IRSA_SESSION, "3.3.3.3"),
        call("b", 1.5, INSTANCE_SESSION, "8.8.8.8"),
        call("c", 2.0, INSTANCE_SESSION, "3.3.3.3"),
    ];
    for emit in [Emit::All, Emit::Alerts] {
        let mut c = cfg(&trail, 1, &[]);
        c.emit = emit;
        let out = records_of(&run_cfg(c).stdout);
        let alert = annotation(&out, "c").unwrap();
        assert_eq!(alert["verdict"], "compromise", "{emit:?}");
        assert_eq!(
            alert["same_account_peer"]["instance_id"], "botocore-session-1709251200",
            "{emit:?}: {alert}"
        );
        assert_eq!(alert["same_account_peer"]["role"], "irsa-role", "{emit:?}");
    }
    let (out, _) = judge_without(&trail, &[]);
    let a = annotation(&out, "a").unwrap();
    assert_eq!(a["verdict"], "locked");
    assert_eq!(
        a["locked_ips"][0]["origin"], "issuer",
        "the origin reads the same after the call"
    );
}

#[test]
fn a_chained_session_inherits_its_parents_locks_and_names_the_chain() {
    // The instance's session assumes a role in another account from its own address: the child
    // is the instance's too, so it may call from 3.3.3.3 and not from 9.9.9.9.
    let c1 = child("deploy", "build-1");
    let trail = [
        instance_issue("ar", 0.0),
        call("a", 1.0, INSTANCE_SESSION, "3.3.3.3"),
        assume("as", 2.0, INSTANCE_SESSION, "3.3.3.3", "deploy", "build-1", 62),
        call("b", 3.0, &c1, "3.3.3.3"),
        call("c", 4.0, &c1, "9.9.9.9"),
    ];
    let (out, run) = judge_without(&trail, &[]);
    assert_eq!(annotation(&out, "b").unwrap()["verdict"], "locked");
    let c = annotation(&out, "c").unwrap();
    assert_eq!(c["verdict"], "compromise");
    assert_eq!(
        c["workload"],
        json!({"kind": "chained", "id": "build-1", "chain": [INSTANCE_SESSION], "root_kind": "instance"})
    );
    assert!(
        c["reason"].as_str().unwrap().contains(&format!(
            "chained session build-1, assumed from the instance session {INSTANCE_SESSION}"
        )),
        "{c}"
    );
    assert_eq!(run.stats.judged_by_kind[5], 1, "one chained session judged");
    // The child lives until its own expiration (01:02, in STS's spelling); then it is not judged.
    let late = [&trail[..3], &[call("d", 63.0, &c1, "9.9.9.9")]].concat();
    assert_eq!(verdicts(&late, &["d"], &[]), [None]);
    // Switched off, or assumed by a session nobody judges, the child is not judged.
    assert_eq!(verdicts(&trail, &["b", "c"], &["chained"]), [None, None]);
    let person = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin/bob@example.com";
    let unjudged = [
        assume("as", 2.0, person, "3.3.3.3", "deploy", "build-1", 62),
        call("c", 4.0, &c1, "9.9.9.9"),
    ];
    assert_eq!(verdicts(&unjudged, &["c"], &[]), [None]);
}

#[test]
fn chains_are_followed_to_a_bounded_depth_back_to_the_workload() {
    // task -> s1 -> s2 -> s3 -> s4 are followed (depth 4); s5 is not. Each is assumed from the
    // task's address; the thief's calls from 9.9.9.9 alert for every followed level.
    let mut trail = vec![task_issue("ar", 0.0), call("a", 1.0, TASK_SESSION, "3.3.3.3")];
    let mut parent = TASK_SESSION.to_string();
    for level in 1..=5 {
        let name = format!("s{level}");
        trail.push(assume(
            &format!("as{level}"),
            1.0 + level as f64,
            &parent,
            "3.3.3.3",
            "hop",
            &name,
            120,
        ));
        parent = child("hop", &name);
    }
    for level in 1..=5 {
        trail.push(call(
            &format!("x{level}"),
            10.0 + level as f64,
            &child("hop", &format!("s{level}")),
            "9.9.9.9",
        ));
    }
    let (out, _) = judge_without(&trail, &[]);
    for level in 1..=4 {
        let c = annotation(&out, &format!("x{level}")).unwrap();
        assert_eq!(c["verdict"], "compromise", "level {level}");
        assert_eq!(
            c["workload"]["chain"].as_array().unwrap().len(),
            level,
            "level {level}"
        );
        assert_eq!(c["workload"]["chain"][0], TASK_SESSION);
        assert_eq!(c["workload"]["root_kind"], "task");
    }
    assert!(annotation(&out, "x5").is_none(), "beyond the bound");
}

#[test]
fn a_thief_who_assumes_a_role_with_stolen_keys_is_caught_on_both_sessions() {
    // The stolen task key is used from 9.9.9.9 to assume another role: that AssumeRole alerts, and
    // the child inherits the task's lock (3.3.3.3), so its calls from 9.9.9.9 alert too.
    let c1 = child("admin", "pwn");
    let trail = [
        task_issue("ar", 0.0),
        call("a", 1.0, TASK_SESSION, "3.3.3.3"),
        assume("as", 2.0, TASK_SESSION, "9.9.9.9", "admin", "pwn", 62),
        call("b", 3.0, &c1, "9.9.9.9"),
    ];
    assert_eq!(
        verdicts(&trail, &["as", "b"], &[]),
        [v("compromise"), v("compromise")]
    );
}

#[test]
fn findings_and_the_alert_table_name_the_kind() {
    let trail = [
        pod_issue("ar", 0.0),
        call("a", 1.0, POD_SESSION, "10.0.1.5"),
        call("b", 2.0, POD_SESSION, "203.0.113.9"),
    ];
    let mut c = cfg(&trail, 1, &[]);
    c.emit = Emit::Findings;
    let run = run_cfg(c);
    let first = &records_of(&run.stdout)[0];
    assert_eq!(first["resources"][0]["type"], "AWS::EKS::Pod");
    assert_eq!(first["resources"][0]["name"], "ns-a/app1");
    assert_eq!(first["unmapped"]["workload"]["kind"], "pod");
    assert!(
        first["finding_info"]["title"]
            .as_str()
            .unwrap()
            .starts_with("EKS pod credentials of ns-a/app1")
    );
    let run = run_cfg(Config {
        emit: Emit::Alerts,
        ..cfg(&trail, 2, &[])
    });
    assert_eq!(run.stats.alert_table[0].2, "pod");
    assert_eq!(run.stats.alert_table[0].3, POD_NAME);
    assert!(run.stats.alert_table_text().starts_with("account"));
}

#[test]
fn lambda_sessions_are_not_judged_without_the_ranges_and_the_summary_says_so() {
    // A function's session is shared by every execution environment: no first-use lock. Without
    // --aws-ip-ranges it is not judged at all, and the summary says how many went unjudged.
    let fname = "orders-handler";
    let session = format!("arn:aws:sts::{ACCOUNT}:assumed-role/fn-role/{fname}");
    let trail = [
        service_issue("ar", 0.0, "lambda.amazonaws.com", "fn-role", fname, 720),
        call("a", 1.0, &session, "3.3.3.3"),
        call("b", 2.0, &session, "9.9.9.9"),
    ];
    let (out, run) = judge_without(&trail, &[]);
    assert!(annotation(&out, "a").is_none() && annotation(&out, "b").is_none());
    let line = run.stats.kinds_line();
    assert!(
        line.contains("Lambda sessions were not judged (1 issued"),
        "{line}"
    );
}

fn ranges_cfg(records: &[Value], threads: usize, no: &[&str]) -> Config {
    Config {
        aws_ip_ranges: Some(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ip-ranges-sample.json"),
        ),
        ..cfg(records, threads, no)
    }
}

fn lambda_verdicts(records: &[Value], ids: &[&str], no: &[&str]) -> (Vec<Option<String>>, Vec<Value>) {
    let one = run_cfg(ranges_cfg(records, 1, no));
    let three = run_cfg(ranges_cfg(records, 3, no));
    assert_eq!(one.stdout, three.stdout, "thread counts disagree");
    assert_eq!(one.stats.malformed, 0, "{}", one.stderr);
    let out = records_of(&one.stdout);
    let got = ids
        .iter()
        .map(|id| annotation(&out, id).map(|c| c["verdict"].as_str().unwrap().to_string()))
        .collect();
    (got, out)
}

#[test]
fn a_lambda_function_is_judged_by_where_its_calls_come_from() {
    // With the ranges (tests/data/ip-ranges-sample.json): 18.236.0.0/15 is us-west-2 EC2, the
    // function's region, so two different addresses there are both the function's (no lock);
    // 3.80.0.0/12 is us-east-1, another region; 9.9.9.9 is outside AWS.
    let fname = "orders-handler";
    let session = format!("arn:aws:sts::{ACCOUNT}:assumed-role/fn-role/{fname}");
    let trail = [
        service_issue("ar", 0.0, "lambda.amazonaws.com", "fn-role", fname, 720),
        call("a", 1.0, &session, "18.236.1.1"),
        call("b", 2.0, &session, "18.237.5.5"),
        call("c", 3.0, &session, "3.80.1.1"),
        call("d", 4.0, &session, "9.9.9.9"),
    ];
    let (got, out) = lambda_verdicts(&trail, &["a", "b", "c", "d"], &[]);
    assert_eq!(
        got,
        [v("locked"), v("locked"), v("compromise"), v("compromise")],
        "two addresses of the function's region, both its own"
    );
    let c = annotation(&out, "c").unwrap();
    assert_eq!(
        c["workload"],
        json!({"kind": "function", "id": fname, "region": "us-west-2"})
    );
    assert_eq!(c["origin"]["class"], "InsideAWS");
    assert_eq!(annotation(&out, "d").unwrap()["origin"]["class"], "OutsideAWS");
    // No first-use lock: the function's session is locked to nothing.
    assert_eq!(annotation(&out, "b").unwrap()["locked_ips"], json!([]));
    // Switched off, nothing is judged.
    let (got, _) = lambda_verdicts(&trail, &["c", "d"], &["function"]);
    assert_eq!(got, [None, None]);
}

#[test]
fn a_vpc_attached_function_may_call_through_its_vpc_endpoint() {
    // A private address through a VPC endpoint is the function's only once CreateFunction put it
    // in a VPC (its vpcConfig names subnets); before that, the same call alerts.
    let fname = "vpc-handler";
    let session = format!("arn:aws:sts::{ACCOUNT}:assumed-role/fn-role/{fname}");
    let private_call = |id: &str, minutes: f64| {
        let mut c = call(id, minutes, &session, "10.0.4.7");
        c["vpcEndpointId"] = json!("vpce-0a1b2c3d");
        c["vpcEndpointAccountId"] = json!(ACCOUNT);
        c
    };
    let create = json!({"eventTime": at(0.5), "eventSource": "lambda.amazonaws.com",
        "eventName": "CreateFunction20150331", "awsRegion": "us-west-2", "sourceIPAddress": "198.51.100.7",
        "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::{ACCOUNT}:user/admin")},
        "requestParameters": {"functionName": fname, "role": format!("arn:aws:iam::{ACCOUNT}:role/fn-role"),
            "vpcConfig": {"subnetIds": ["subnet-1"], "securityGroupIds": ["sg-1"]}},
        "responseElements": {"functionName": fname,
            "functionArn": format!("arn:aws:lambda:us-west-2:{ACCOUNT}:function:{fname}"),
            "vpcConfig": {"subnetIds": ["subnet-1"], "securityGroupIds": ["sg-1"], "vpcId": "vpc-1"}},
        "eventID": "cf", "recipientAccountId": ACCOUNT});
    let issue = service_issue("ar", 0.0, "lambda.amazonaws.com", "fn-role", fname, 720);
    let (got, _) = lambda_verdicts(
        &[issue.clone(), create.clone(), private_call("a", 1.0)],
        &["a"],
        &[],
    );
    assert_eq!(got, [v("locked")], "attached: its own endpoint");
    let (got, _) = lambda_verdicts(&[issue.clone(), private_call("a", 1.0)], &["a"], &[]);
    assert_eq!(got, [v("compromise")], "not attached: no endpoint of its own");
    // UpdateFunctionConfiguration with an empty vpcConfig detaches it again.
    let mut detach = create.clone();
    detach["eventName"] = json!("UpdateFunctionConfiguration20150331v2");
    detach["eventID"] = json!("uf");
    detach["eventTime"] = json!(at(0.7));
    detach["responseElements"]["vpcConfig"] = json!({"subnetIds": [], "securityGroupIds": []});
    let (got, _) = lambda_verdicts(&[issue, create, detach, private_call("a", 1.0)], &["a"], &[]);
    assert_eq!(got, [v("compromise")]);
}

#[test]
fn a_stopped_task_is_remembered_across_a_restart() {
    // When a task stopped decides its later calls' verdicts, so `--state` keeps it: a run that
    // starts after StopTask was read alerts on the call after the grace as one run does.
    // (Mutation: leaving the stopped tasks out of the saved state fails here.)
    let stop = ecs(
        "st",
        5.0,
        "StopTask",
        json!({"cluster": "web", "task": format!("arn:aws:ecs:us-west-2:{ACCOUNT}:task/web/{TASK}")}),
        json!({}),
    );
    // An instance's AssumeRole at minute 30 takes the watermark past StopTask and its lateness:
    // StopTask is judged in the first run, not kept waiting in the window.
    let first = [
        task_issue("ar", 0.0),
        call("a", 1.0, TASK_SESSION, "3.3.3.3"),
        stop,
        crate::common::trail::issue("ar-i", 30.0),
    ];
    let later = [call("d", 31.0, TASK_SESSION, "3.3.3.3")];
    let whole = crate::common::alerts_in_pieces(
        &[lines(&[&first[..], &later[..]].concat())],
        &[1],
        "stopped-whole",
    );
    assert!(whole.iter().any(|(id, _)| id == "d"), "{whole:?}");
    let cut = crate::common::alerts_in_pieces(&[lines(&first), lines(&later)], &[1, 2], "stopped-cut");
    assert_eq!(cut, whole);
}
