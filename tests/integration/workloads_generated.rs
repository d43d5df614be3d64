//! Generated workloads of every kind (credtrail-generate's `workloads`): each theft's calls alert,
//! the workloads' own calls never do, and 1 and 3 threads agree. Lambda sessions are judged only
//! with the AWS ranges, so the run reads tests/data/ip-ranges-sample.json (18.236.0.0/15 is
//! us-west-2 EC2, where the generated functions call from).

use credtrail::detect::workload::Kind;
use credtrail::{Config, Emit, Input};
use credtrail_generate::{GenConfig, Truth, Workloads, generate_to_vec};
use serde_json::Value;
use std::collections::HashSet;

fn trail(seed: u64) -> (Vec<u8>, Truth) {
    let cfg = GenConfig {
        seed,
        records: 6_000,
        instances: 20,
        attacks: 2,
        events_per_sec: 5.0,
        workloads: Workloads {
            task: 3,
            pod: 3,
            web_identity: 3,
            function: 3,
            chained: 3,
        },
        ..GenConfig::default()
    };
    generate_to_vec(&cfg)
}

fn judge(input: &[u8], threads: usize, off: &[&str]) -> Vec<u8> {
    judge_as(input, threads, off, Emit::Alerts)
}

fn judge_as(input: &[u8], threads: usize, off: &[&str], emit: Emit) -> Vec<u8> {
    let mut cfg = Config {
        inputs: vec![Input::Memory("gen".into(), input.to_vec())],
        emit,
        threads,
        aws_ip_ranges: Some(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ip-ranges-sample.json"),
        ),
        ..Config::default()
    };
    for k in off {
        let kind = Kind::parse(k).unwrap();
        cfg.detector.kinds = cfg.detector.kinds.with(kind, false);
    }
    let mut out = Vec::new();
    credtrail::run(&cfg, &mut out, &mut Vec::new()).unwrap();
    out
}

/// The eventIDs that alerted, at 1 and 3 threads (which must agree).
fn alerted(input: &[u8], off: &[&str]) -> HashSet<String> {
    let one = judge(input, 1, off);
    assert_eq!(one, judge(input, 3, off), "thread counts disagree");
    crate::common::records(&one)
        .iter()
        .map(|v: &Value| v["eventID"].as_str().unwrap().to_string())
        .collect()
}

/// The kind of a generated workload's session, by its role's name (workloads.rs).
fn kind_of(session: &str) -> &'static str {
    [
        ("/ecs-task-role-", "task"),
        ("/pod-identity-", "pod"),
        ("/irsa-role-", "web_identity"),
        ("/fn-role-", "function"),
        ("/chained-role-", "chained"),
    ]
    .into_iter()
    .find(|(r, _)| session.contains(r))
    .map_or("instance", |(_, k)| k)
}

/// A pod stolen before its first call: the one theft the filter cannot catch on the thief's calls.
fn pod_stolen_first(inc: &credtrail_generate::Incident) -> bool {
    inc.attacker_first && kind_of(&inc.session_arn) == "pod"
}

/// The generated workloads' own calls, by session ARN.
fn own_calls(input: &[u8], truth: &Truth) -> Vec<(String, String)> {
    let own: HashSet<&str> = truth.workload_event_ids.iter().map(String::as_str).collect();
    crate::common::records(input)
        .into_iter()
        .filter(|v: &Value| own.contains(v["eventID"].as_str().unwrap()))
        .map(|v| {
            let arn = v["userIdentity"]["arn"].as_str().unwrap().to_string();
            (arn, v["eventID"].as_str().unwrap().to_string())
        })
        .collect()
}

#[test]
fn every_kinds_theft_alerts_and_its_own_calls_never_do() {
    for seed in [1, 2] {
        let (input, truth) = trail(seed);
        // Two instance incidents, two workloads of each of the five kinds stolen (one after its
        // first call, one before), and a task's stolen through the account's endpoint.
        assert_eq!(truth.incidents.len(), 13, "seed {seed}: {:?}", truth.incidents);
        let got = alerted(&input, &[]);
        for inc in &truth.incidents {
            // A task's thief who calls first from another region loses the lock to the task's
            // first call (rule 17), so their first call is the one that does not alert; a pod's
            // is the stated limit (each_kinds_thief_first_theft_is_caught_or_its_limit_stated).
            let skip = match kind_of(&inc.session_arn) {
                "task" if inc.attacker_first && inc.thief_ips[0].starts_with("3.") => 1,
                _ if pod_stolen_first(inc) => inc.thief_event_ids.len(),
                _ => 0,
            };
            assert!(
                inc.thief_event_ids[skip..].iter().all(|e| got.contains(e)),
                "seed {seed}: theft of {} not caught",
                inc.session_arn
            );
        }
        assert!(truth.workload_event_ids.len() > 60, "seed {seed}");
        let first_pods: Vec<&str> = truth
            .incidents
            .iter()
            .filter(|i| pod_stolen_first(i))
            .map(|i| i.session_arn.as_str())
            .collect();
        for (arn, e) in own_calls(&input, &truth) {
            if !first_pods.contains(&arn.as_str()) {
                assert!(
                    !got.contains(&e),
                    "seed {seed}: a workload's own call {e} alerted"
                );
            }
        }
    }
}

#[test]
fn each_kinds_thief_first_theft_is_caught_or_its_limit_stated() {
    // The second workload of each kind is stolen before its first call (labelled
    // attacker_first). Judged with the ranges, as README 8, 17 to 22 state:
    let (input, truth) = trail(1);
    let all = judge_as(&input, 1, &[], Emit::All);
    let out = crate::common::records(&all);
    let verdict = |id: &str| -> Value {
        out.iter()
            .find(|v| v["eventID"] == id)
            .map(|v| v["credtrail"].clone())
            .unwrap_or(Value::Null)
    };
    let own = own_calls(&input, &truth);
    let mut kinds = Vec::new();
    for inc in truth.incidents.iter().filter(|i| i.attacker_first) {
        let kind = kind_of(&inc.session_arn);
        if kind == "instance" || inc.thief_ips[0].starts_with("192.168.") {
            continue;
        }
        kinds.push(kind);
        let thief: Vec<Value> = inc.thief_event_ids.iter().map(|e| verdict(e)).collect();
        let mine: Vec<Value> = own
            .iter()
            .filter(|(a, _)| *a == inc.session_arn)
            .map(|(_, e)| verdict(e))
            .collect();
        let what = |vs: &[Value]| -> Vec<String> {
            vs.iter()
                .map(|v| v["verdict"].as_str().unwrap_or("-").to_string())
                .collect()
        };
        match kind {
            // An ECS task's thief from an EC2 address of another region takes the lock; the
            // task's first call, from its own region, takes it back (rule 17, own_region) and the
            // thief's later calls alert. Without the ranges the task's calls would alert instead.
            "task" => {
                assert_eq!(what(&thief), ["locked", "compromise", "compromise"], "{thief:?}");
                assert_eq!(mine[0]["evidence"], "own_region", "{:?}", mine[0]);
                assert!(what(&mine).iter().all(|v| v != "compromise"), "{mine:?}");
            }
            // A pod may run outside AWS (EKS hybrid nodes), so neither rule 17 nor a tie applies
            // (README, before 18): the thief who calls first holds the lock (rule 8), the thief's
            // calls pass, and every call of the pod alerts, naming the thief's address as the lock.
            "pod" => {
                assert!(what(&thief).iter().all(|v| v == "locked"), "{thief:?}");
                assert!(what(&mine).iter().all(|v| v == "compromise"), "{mine:?}");
                assert_eq!(mine[0]["locked_ips"][0]["ip"], inc.thief_ips[0].as_str());
            }
            // A web identity's first lock is the address that obtained it (20), a function's
            // calls are judged by origin (21), and a chained session inherits its parent task's
            // lock (22): the thief's every call alerts, the workload's never.
            _ => {
                assert!(
                    what(&thief).iter().all(|v| v == "compromise"),
                    "{kind}: {thief:?}"
                );
                assert!(what(&mine).iter().all(|v| v != "compromise"), "{kind}: {mine:?}");
            }
        }
    }
    kinds.sort();
    assert_eq!(kinds, ["chained", "function", "pod", "task", "web_identity"]);
}

#[test]
fn a_kind_switched_off_lets_its_theft_through() {
    // The kinds are judged by the filter, not found by the generator's labels: with task sessions
    // not judged, the stolen task's calls pass (the chained one is a task's child, passing too).
    let (input, truth) = trail(1);
    let got = alerted(&input, &["task"]);
    let task = truth
        .incidents
        .iter()
        .find(|i| i.session_arn.contains("/ecs-task-role-"))
        .expect("a stolen task");
    assert!(task.thief_event_ids.iter().all(|e| !got.contains(e)));
}

/// The lines of `input` whose `eventName` is not `name`.
fn without_event(input: &[u8], name: &str) -> Vec<u8> {
    let needle = format!("\"eventName\":\"{name}\"");
    let mut out = Vec::with_capacity(input.len());
    for line in input.split_inclusive(|&b| b == b'\n') {
        if !line.windows(needle.len()).any(|w| w == needle.as_bytes()) {
            out.extend_from_slice(line);
        }
    }
    out
}

/// The task stolen through the account's VPC endpoint, from an on-premises address.
fn endpoint_theft(truth: &Truth) -> &credtrail_generate::Incident {
    truth
        .incidents
        .iter()
        .find(|i| i.session_arn.contains("/ecs-task-role-") && i.thief_ips[0].starts_with("192.168."))
        .expect("a task stolen through the endpoint")
}

#[test]
fn a_generated_tasks_run_task_ties_its_private_address() {
    // The generated RunTask names the task's interface and private address (awsvpc): its calls
    // through the account's endpoint come from it, and a thief through the same endpoint from
    // another private address alerts, even calling first (README 18 and 14).
    let (input, truth) = trail(1);
    let inc = endpoint_theft(&truth);
    assert!(inc.attacker_first);
    let text = String::from_utf8_lossy(&input);
    let run_task = text
        .lines()
        .find(|l| l.contains("\"eventName\":\"RunTask\"") && l.contains(&inc.instance_id))
        .expect("the stolen task's RunTask");
    assert!(run_task.contains("\"privateIPv4Address\""), "{run_task}");
    let got = alerted(&input, &[]);
    assert!(inc.thief_event_ids.iter().all(|e| got.contains(e)));
    // Without the RunTask records nothing ties the address: the thief's first call takes the
    // endpoint slot, its calls pass, and the task's own calls through the endpoint alert.
    let blind = alerted(&without_event(&input, "RunTask"), &[]);
    assert!(inc.thief_event_ids.iter().all(|e| !blind.contains(e)));
    assert!(truth.workload_event_ids.iter().any(|e| blind.contains(e)));
}

#[test]
fn a_generated_tasks_key_used_after_its_stop_task_alerts() {
    // Each generated task ends with CI's StopTask, minutes after its last call. STS does not revoke
    // the task's credentials then, so a call with them more than two minutes later is a copy of
    // the key (README 18): the task's own last call, repeated ten minutes after StopTask from the
    // task's own address, alerts; a minute after StopTask (the containers may still be stopping)
    // it does not; with the StopTask records removed, neither does.
    let (input, truth) = trail(1);
    let inc = truth
        .incidents
        .iter()
        .find(|i| i.session_arn.contains("/ecs-task-role-") && !i.attacker_first)
        .expect("a task stolen after its first call");
    let lines: Vec<Value> = crate::common::records(&input);
    let stop = lines
        .iter()
        .find(|v| v["eventName"] == "StopTask" && v.to_string().contains(&inc.instance_id))
        .expect("the stolen task's StopTask");
    let stopped = credtrail_time::parse(stop["eventTime"].as_str().unwrap()).unwrap() / 1000;
    let own = lines
        .iter()
        .rev()
        .find(|v| {
            v["eventID"]
                .as_str()
                .is_some_and(|e| truth.workload_event_ids.iter().any(|w| w == e))
                && v["userIdentity"]["arn"]
                    .as_str()
                    .is_some_and(|a| a.ends_with(&inc.instance_id))
        })
        .expect("a call of the task's own");
    let again = |id: &str, secs: i64| {
        let mut v = own.clone();
        let t = credtrail_time::event_time_text(stopped + secs);
        v["eventTime"] = Value::from(std::str::from_utf8(&t).unwrap());
        v["eventID"] = Value::from(id);
        v
    };
    let with_again = |trail: &[u8]| {
        let mut t = trail.to_vec();
        for v in [
            again("own-a-minute-after", 60),
            again("own-ten-minutes-after", 600),
        ] {
            t.extend_from_slice(v.to_string().as_bytes());
            t.push(b'\n');
        }
        t
    };
    let got = alerted(&with_again(&input), &[]);
    assert!(
        inc.thief_event_ids.iter().all(|e| got.contains(e)),
        "before StopTask: judged"
    );
    assert!(
        !got.contains("own-a-minute-after"),
        "within the grace: the task's own"
    );
    assert!(
        got.contains("own-ten-minutes-after"),
        "after the grace: a copy of the key"
    );
    let unstopped = alerted(&with_again(&without_event(&input, "StopTask")), &[]);
    assert!(
        !unstopped.contains("own-ten-minutes-after"),
        "without StopTask the task's own address is its own"
    );
}

#[test]
fn a_generated_vpc_functions_calls_through_its_endpoint_are_its_own() {
    // Every second generated function is created by CI's CreateFunction with a vpcConfig (subnets,
    // security group): it calls through its account's VPC endpoints from a private address and
    // through its VPC's NAT gateway, an EC2 address of its region, otherwise (README 21).
    let (input, truth) = trail(1);
    let lines: Vec<Value> = crate::common::records(&input);
    let create = lines
        .iter()
        .find(|v| v["eventName"] == "CreateFunction20150331")
        .expect("a function created in a VPC");
    assert!(create["requestParameters"]["vpcConfig"]["subnetIds"][0].is_string());
    let name = create["requestParameters"]["functionName"].as_str().unwrap();
    let own: HashSet<&str> = truth.workload_event_ids.iter().map(String::as_str).collect();
    let calls: Vec<&Value> = lines
        .iter()
        .filter(|v| own.contains(v["eventID"].as_str().unwrap()))
        .filter(|v| {
            v["userIdentity"]["arn"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/{name}"))
        })
        .collect();
    let (private, nat): (Vec<&Value>, Vec<&Value>) =
        calls.iter().partition(|v| v["vpcEndpointId"].is_string());
    assert!(!private.is_empty() && !nat.is_empty());
    let ids = |vs: &[&Value]| -> Vec<String> {
        vs.iter()
            .map(|v| v["eventID"].as_str().unwrap().to_string())
            .collect()
    };
    let got = alerted(&input, &[]);
    assert!(
        calls
            .iter()
            .all(|v| !got.contains(v["eventID"].as_str().unwrap()))
    );
    // Without CreateFunction the function is in no VPC: its calls through the endpoint alert, its
    // NAT gateway's (AWS, its region) do not.
    let blind = alerted(&without_event(&input, "CreateFunction20150331"), &[]);
    assert!(ids(&private).iter().all(|e| blind.contains(e)));
    assert!(ids(&nat).iter().all(|e| !blind.contains(e)));
    // What the filter cannot tell: any private address through the account's endpoint is the
    // attached function's, since no record ties its subnets' addresses to it. A thief on premises
    // using the endpoint (Direct Connect) is accepted, and only the ranges' rules catch a thief
    // elsewhere.
    let mut on_prem = private[0].clone();
    on_prem["sourceIPAddress"] = Value::from("192.168.7.7");
    on_prem["eventID"] = Value::from("on-premises");
    let mut trail = input.clone();
    trail.extend_from_slice(on_prem.to_string().as_bytes());
    trail.push(b'\n');
    let all = judge_as(&trail, 1, &[], Emit::All);
    let judged = crate::common::records(&all)
        .into_iter()
        .find(|v: &Value| v["eventID"] == "on-premises")
        .unwrap();
    assert_eq!(judged["credtrail"]["verdict"], "locked", "{judged}");
}
