//! Properties of the generated stream, checked with a reference implementation of the rules
//! a first-use detector applies.

use crate::generator::Gen;
use crate::schedule::slot_time;
use crate::text::Draw;
use crate::{GenConfig, Incident};
use crate::{generate, generate_to_vec};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::io;
use std::io::Write;
use std::net::IpAddr;

fn cfg(records: usize) -> GenConfig {
    GenConfig {
        records,
        ..GenConfig::default()
    }
}

/// A long stream at a low rate: hours of event time, so refreshes, stops and changes happen.
fn long_cfg(seed: u64) -> GenConfig {
    GenConfig {
        seed,
        records: 16_000,
        events_per_sec: 1.0,
        attacks: 6,
        instances: 40,
        ..GenConfig::default()
    }
}

fn lines(out: &[u8]) -> Vec<&[u8]> {
    assert!(out.is_empty() || out.ends_with(b"\n"));
    out.split(|&c| c == b'\n').filter(|l| !l.is_empty()).collect()
}

fn parse(out: &[u8]) -> Vec<Value> {
    lines(out)
        .iter()
        .enumerate()
        .map(|(n, l)| {
            serde_json::from_slice(l)
                .unwrap_or_else(|e| panic!("line {} is not JSON: {e}: {}", n + 1, String::from_utf8_lossy(l)))
        })
        .collect()
}

fn s<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut v = v;
    for p in path {
        v = v.get(p)?;
    }
    v.as_str()
}

fn time_of(v: &Value) -> i64 {
    let t = s(v, &["eventTime"]).expect("eventTime");
    credtrail_time::parse(t)
        .expect("RFC 3339")
        .div_euclid(credtrail_time::SECOND)
}

/// `(account, role, instance)` of an instance session ARN.
fn instance_session(arn: &str) -> Option<(String, String, String)> {
    let rest = arn.strip_prefix("arn:aws:sts::")?;
    let (acct, rest) = rest.split_once(":assumed-role/")?;
    let (role, sess) = rest.split_once('/')?;
    sess.starts_with("i-")
        .then(|| (acct.to_string(), role.to_string(), sess.to_string()))
}

fn is_ec2_issue(v: &Value) -> bool {
    s(v, &["eventName"]) == Some("AssumeRole") && s(v, &["sourceIPAddress"]) == Some("ec2.amazonaws.com")
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let c = cfg(5_000);
    let (a, ta) = generate_to_vec(&c);
    let (b, tb) = generate_to_vec(&c);
    assert_eq!(a, b);
    assert_eq!(ta, tb);
    let (d, _) = generate_to_vec(&GenConfig { seed: 2, ..c.clone() });
    assert_ne!(a, d);
    // generate() into any writer gives the same bytes as generate_to_vec().
    let mut w = Vec::new();
    let tw = generate(&c, &mut w).expect("write");
    assert_eq!(w, a);
    assert_eq!(tw, ta);
}

#[test]
fn exact_record_count() {
    for (records, jitter, eps) in [
        (0, 120, 50.0),
        (1, 120, 50.0),
        (7, 0, 50.0),
        (333, 5, 0.5),
        (12_345, 120, 50.0),
        (4_000, 600, 1000.0),
    ] {
        let c = GenConfig {
            records,
            jitter_secs: jitter,
            events_per_sec: eps,
            ..GenConfig::default()
        };
        let (out, _) = generate_to_vec(&c);
        assert_eq!(lines(&out).len(), records, "{c:?}");
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), records);
    }
    // Degenerate configs still produce exactly the count.
    for c in [
        GenConfig {
            instances: 0,
            attacks: 5,
            records: 500,
            ..GenConfig::default()
        },
        GenConfig {
            instances: 1,
            attacks: 5,
            accounts: 0,
            records: 500,
            ..GenConfig::default()
        },
        GenConfig {
            instances: 3,
            attacks: 3,
            records: 500,
            events_per_sec: 0.0,
            ..GenConfig::default()
        },
    ] {
        let (out, _) = generate_to_vec(&c);
        assert_eq!(parse(&out).len(), 500, "{c:?}");
    }
}

#[test]
fn every_line_is_a_cloudtrail_record() {
    let (out, _) = generate_to_vec(&cfg(20_000));
    let recs = parse(&out);
    let mut ids = HashSet::new();
    for v in &recs {
        for f in [
            "eventVersion",
            "eventTime",
            "eventSource",
            "eventName",
            "awsRegion",
            "sourceIPAddress",
            "userAgent",
            "eventID",
            "eventType",
            "recipientAccountId",
            "eventCategory",
        ] {
            assert!(s(v, &[f]).is_some_and(|x| !x.is_empty()), "{f} missing: {v}");
        }
        assert!(v["userIdentity"].is_object(), "{v}");
        assert!(
            v.get("requestParameters").is_some() && v.get("responseElements").is_some(),
            "{v}"
        );
        assert!(
            v["managementEvent"].is_boolean() && v["readOnly"].is_boolean(),
            "{v}"
        );
        let t = s(v, &["eventTime"]).unwrap_or_default();
        assert_eq!(t.len(), 20, "{t}");
        time_of(v);
        let id = s(v, &["eventID"]).unwrap_or_default();
        assert_eq!(id.len(), 36);
        assert!(ids.insert(id.to_string()), "duplicate eventID {id}");
        let acct = s(v, &["recipientAccountId"]).unwrap_or_default();
        assert!(
            acct.len() == 12 && acct.bytes().all(|c| c.is_ascii_digit()),
            "{acct}"
        );
    }
}

#[test]
fn field_shapes() {
    let (out, _) = generate_to_vec(&long_cfg(3));
    let recs = parse(&out);
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut role_paths = HashSet::new();
    for v in &recs {
        let src = s(v, &["sourceIPAddress"]).unwrap_or_default();
        let name = s(v, &["eventName"]).unwrap_or_default();
        let arn = s(v, &["userIdentity", "arn"]).unwrap_or_default();
        if is_ec2_issue(v) {
            bump(&mut seen, "ec2-assume-role");
            if let Some(with_path) = ec2_issue_shape(v) {
                role_paths.insert(with_path);
            }
        }
        if let Some((acct, role, inst)) = instance_session(arn) {
            bump(&mut seen, "instance-session");
            if let Some(k) = instance_call_shape(v, src, &acct, &role, &inst) {
                bump(&mut seen, k);
            }
        } else if s(v, &["userIdentity", "type"]) == Some("AssumedRole") {
            bump(&mut seen, "other-assumed-role");
        }
        if let Some(k) = lifecycle_shape(v, name) {
            bump(&mut seen, k);
        }
        if v.get("errorCode").is_some() {
            bump(&mut seen, "error");
        }
    }
    for k in [
        "ec2-assume-role",
        "instance-session",
        "ipv6",
        "vpce",
        "service-source",
        "aws-internal",
        "other-assumed-role",
        "console",
        "allocate",
        "associate-named",
        "associate-alloc",
        "attach",
        "stop-start",
        "run-instances",
        "error",
    ] {
        assert!(seen.get(k).copied().unwrap_or(0) > 0, "no {k} records: {seen:?}");
    }
    assert!(!role_paths.is_empty(), "no role with a path");
}

fn bump(seen: &mut HashMap<&'static str, usize>, k: &'static str) {
    *seen.entry(k).or_default() += 1;
}

/// Checks an EC2 AssumeRole's fields; returns the role ARN when the role has a path.
fn ec2_issue_shape(v: &Value) -> Option<String> {
    assert_eq!(s(v, &["eventSource"]), Some("sts.amazonaws.com"));
    assert_eq!(s(v, &["userAgent"]), Some("ec2.amazonaws.com"));
    assert_eq!(s(v, &["userIdentity", "type"]), Some("AWSService"));
    assert_eq!(s(v, &["userIdentity", "invokedBy"]), Some("ec2.amazonaws.com"));
    let role_arn = s(v, &["requestParameters", "roleArn"]).expect("roleArn");
    let sess = s(v, &["requestParameters", "roleSessionName"]).expect("roleSessionName");
    assert!(sess.starts_with("i-0") && sess.len() == 19, "{sess}");
    let key = s(v, &["responseElements", "credentials", "accessKeyId"]).expect("key");
    assert!(key.starts_with("ASIA") && key.len() == 20);
    assert!(
        s(v, &["responseElements", "credentials", "sessionToken"])
            .expect("token")
            .len()
            > 500
    );
    assert!(s(v, &["responseElements", "credentials", "expiration"]).is_some());
    let acct = s(v, &["recipientAccountId"]).unwrap_or_default();
    assert!(role_arn.starts_with(&format!("arn:aws:iam::{acct}:role/")));
    (role_arn.matches('/').count() > 1).then(|| role_arn.to_string())
}

/// Checks a call by an instance session; returns what kind of source it came from, if notable.
fn instance_call_shape(v: &Value, src: &str, acct: &str, role: &str, inst: &str) -> Option<&'static str> {
    assert_eq!(s(v, &["userIdentity", "type"]), Some("AssumedRole"));
    assert_eq!(inst.len(), 19);
    assert!(inst[2..].bytes().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(s(v, &["userIdentity", "accountId"]), Some(acct));
    assert_eq!(
        s(
            v,
            &["userIdentity", "sessionContext", "sessionIssuer", "userName"]
        ),
        Some(role)
    );
    let issuer = s(v, &["userIdentity", "sessionContext", "sessionIssuer", "arn"]).expect("issuer");
    assert!(issuer.ends_with(&format!("/{role}")), "{issuer}");
    assert!(
        s(
            v,
            &["userIdentity", "sessionContext", "attributes", "creationDate"]
        )
        .is_some()
    );
    assert!(matches!(
        s(v, &["userIdentity", "sessionContext", "ec2RoleDelivery"]),
        Some("2.0" | "1.0")
    ));
    assert!(s(v, &["userIdentity", "accessKeyId"]).is_some_and(|k| k.starts_with("ASIA")));
    let p = s(v, &["userIdentity", "principalId"]).unwrap_or_default();
    assert!(p.starts_with("AROA") && p.ends_with(&format!(":{inst}")));
    match src.parse::<IpAddr>() {
        Ok(IpAddr::V6(_)) => Some("ipv6"),
        Ok(IpAddr::V4(ip)) => {
            if v.get("vpcEndpointId").is_some() {
                assert!(ip.is_private(), "{src}");
                assert!(s(v, &["vpcEndpointId"]).is_some_and(|e| e.starts_with("vpce-")));
                Some("vpce")
            } else {
                assert!(!ip.is_private(), "private source without endpoint: {v}");
                None
            }
        }
        Err(_) => {
            assert!(src == "AWS Internal" || src.ends_with(".amazonaws.com"), "{src}");
            assert!(s(v, &["userIdentity", "invokedBy"]).is_some(), "{v}");
            Some(if src == "AWS Internal" {
                "aws-internal"
            } else {
                "service-source"
            })
        }
    }
}

/// Checks an address-change, launch or sign-in record; returns its kind.
fn lifecycle_shape(v: &Value, name: &str) -> Option<&'static str> {
    match name {
        "ConsoleLogin" => {
            assert_eq!(s(v, &["eventType"]), Some("AwsConsoleSignIn"));
            Some("console")
        }
        "AllocateAddress" => {
            assert!(s(v, &["responseElements", "allocationId"]).is_some_and(|a| a.starts_with("eipalloc-")));
            assert!(s(v, &["responseElements", "publicIp"]).is_some_and(|a| a.parse::<IpAddr>().is_ok()));
            assert_eq!(s(v, &["responseElements", "domain"]), Some("vpc"));
            Some("allocate")
        }
        "AssociateAddress" => {
            let rp = &v["requestParameters"];
            assert!(rp.get("instanceId").is_some() || rp.get("networkInterfaceId").is_some());
            if rp.get("publicIp").is_some() {
                Some("associate-named")
            } else {
                assert!(s(rp, &["allocationId"]).is_some());
                Some(if rp.get("networkInterfaceId").is_some() {
                    "associate-eni"
                } else {
                    "associate-alloc"
                })
            }
        }
        "AttachNetworkInterface" => {
            assert!(
                s(v, &["requestParameters", "networkInterfaceId"]).is_some_and(|e| e.starts_with("eni-"))
            );
            assert!(s(v, &["requestParameters", "instanceId"]).is_some());
            assert_eq!(v["requestParameters"]["deviceIndex"], 1);
            Some("attach")
        }
        "StopInstances" | "StartInstances" => {
            assert!(
                s(
                    &v["requestParameters"]["instancesSet"]["items"][0],
                    &["instanceId"]
                )
                .is_some()
            );
            Some("stop-start")
        }
        "RunInstances" => {
            let item = &v["responseElements"]["instancesSet"]["items"][0];
            assert!(s(item, &["instanceId"]).is_some());
            assert!(s(&item["networkInterfaceSet"]["items"][0], &["networkInterfaceId"]).is_some());
            Some("run-instances")
        }
        _ => None,
    }
}

#[test]
fn record_mix() {
    let (out, _) = generate_to_vec(&cfg(20_000));
    let recs = parse(&out);
    let inst = recs
        .iter()
        .filter(|v| instance_session(s(v, &["userIdentity", "arn"]).unwrap_or_default()).is_some())
        .count();
    let share = inst as f64 / recs.len() as f64;
    assert!((0.84..=0.95).contains(&share), "instance-session share {share}");
}

#[test]
fn sizes() {
    let (out, _) = generate_to_vec(&cfg(20_000));
    let ls = lines(&out);
    let mean = out.len() as f64 / ls.len() as f64;
    assert!((1200.0..=2200.0).contains(&mean), "mean {mean}");
    let big = ls.iter().filter(|l| l.len() >= 5_000).count();
    let max = ls.iter().map(|l| l.len()).max().unwrap_or(0);
    assert!(big >= 20, "only {big} records of 5 KB or more");
    assert!((10_000..=64 * 1024).contains(&max), "max {max}");
}

fn check_jitter(out: &[u8], jitter: i64) -> i64 {
    let times: Vec<i64> = parse(out).iter().map(time_of).collect();
    let mut max_seen = i64::MIN;
    let mut worst = 0;
    for &t in &times {
        max_seen = max_seen.max(t);
        worst = worst.max(max_seen - t);
        assert!(
            max_seen - t <= jitter,
            "a record at {t} follows one at {max_seen}"
        );
    }
    worst
}

#[test]
fn jitter_is_bounded() {
    for j in [0u32, 7, 120, 600] {
        let c = GenConfig {
            jitter_secs: j,
            ..cfg(10_000)
        };
        let (out, _) = generate_to_vec(&c);
        let worst = check_jitter(&out, i64::from(j));
        // 10k records at 50/s span 200 s: no record can be more out of order than that.
        let usable = i64::from(j).min(200);
        assert!(worst >= usable / 2, "jitter {j} barely used: {worst}");
    }
}

/// Every key an instance session uses was issued by an EC2 AssumeRole delivered before it, for
/// that instance and role; and no call's event time precedes its key's issue.
#[test]
fn assume_role_precedes_each_session_use() {
    for c in [
        cfg(20_000),
        long_cfg(5),
        GenConfig {
            jitter_secs: 600,
            ..long_cfg(6)
        },
    ] {
        let (out, _) = generate_to_vec(&c);
        let mut issued: HashMap<String, ((String, String, String), i64)> = HashMap::new();
        let mut calls = 0;
        for v in parse(&out) {
            if is_ec2_issue(&v) {
                let role_arn = s(&v, &["requestParameters", "roleArn"]).unwrap_or_default();
                let role = role_arn.rsplit('/').next().unwrap_or_default().to_string();
                let acct = s(&v, &["recipientAccountId"]).unwrap_or_default().to_string();
                let inst = s(&v, &["requestParameters", "roleSessionName"])
                    .unwrap_or_default()
                    .to_string();
                let key = s(&v, &["responseElements", "credentials", "accessKeyId"]).unwrap_or_default();
                issued.insert(key.to_string(), ((acct, role, inst), time_of(&v)));
            } else if let Some(sess) = instance_session(s(&v, &["userIdentity", "arn"]).unwrap_or_default()) {
                calls += 1;
                let key = s(&v, &["userIdentity", "accessKeyId"]).unwrap_or_default();
                let Some((owner, at)) = issued.get(key) else {
                    panic!("key {key} used before its AssumeRole: {v}")
                };
                assert_eq!(owner, &sess);
                assert!(time_of(&v) >= *at);
            }
        }
        assert!(calls > 1000);
    }
}

/// The Netflix rules, as the detector applies them, over the output in order.
#[derive(Default)]
struct RefDetector {
    rows: HashMap<String, Row>,
    allocations: HashMap<String, IpAddr>,
    interfaces: HashMap<String, String>,
    alerts: Vec<(String, String, String)>,
    first_locks: HashMap<String, String>,
}

#[derive(Default)]
struct Row {
    expires: i64,
    locks: Vec<(IpAddr, bool)>,
    pending: Vec<(i64, Option<IpAddr>)>,
}

impl RefDetector {
    fn feed(&mut self, v: &Value) {
        let t = time_of(v);
        let src = s(v, &["sourceIPAddress"]).unwrap_or_default();
        let id = s(v, &["eventID"]).unwrap_or_default().to_string();
        if let Some((_, _, inst)) = instance_session(s(v, &["userIdentity", "arn"]).unwrap_or_default())
            && let Ok(ip) = src.parse::<IpAddr>()
        {
            {
                let row = self.rows.get_mut(&inst).expect("call before any AssumeRole");
                assert!(t <= row.expires, "call after the session expired: {v}");
                let private =
                    v.get("vpcEndpointId").is_some() && matches!(ip, IpAddr::V4(x) if x.is_private());
                if row.locks.contains(&(ip, private)) {
                } else if !row.locks.iter().any(|l| l.1 == private) {
                    row.locks.push((ip, private));
                    self.first_locks.entry(inst.clone()).or_insert(id.clone());
                } else if let Some(p) = row.pending.iter().position(|p| p.1 == Some(ip)) {
                    row.pending.remove(p);
                    row.locks.push((ip, private));
                } else if let Some(p) = row
                    .pending
                    .iter()
                    .position(|p| p.1.is_none() && p.0 <= t && t <= p.0 + 900)
                {
                    row.pending.remove(p);
                    row.locks.push((ip, private));
                } else {
                    self.alerts.push((id.clone(), inst.clone(), src.to_string()));
                }
            }
        }
        if v["errorCode"].is_string() {
            return;
        }
        let rp = &v["requestParameters"];
        match s(v, &["eventName"]).unwrap_or_default() {
            "AssumeRole" if src == "ec2.amazonaws.com" => {
                let inst = s(rp, &["roleSessionName"]).unwrap_or_default().to_string();
                let row = self.rows.entry(inst).or_default();
                if t > row.expires {
                    *row = Row::default();
                }
                row.expires = row.expires.max(t + 6 * 3600);
            }
            "AllocateAddress" => {
                let re = &v["responseElements"];
                let ip = s(re, &["publicIp"])
                    .and_then(|x| x.parse().ok())
                    .expect("publicIp");
                self.allocations
                    .insert(s(re, &["allocationId"]).unwrap_or_default().to_string(), ip);
            }
            "RunInstances" => {
                for item in v["responseElements"]["instancesSet"]["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    for nic in item["networkInterfaceSet"]["items"]
                        .as_array()
                        .into_iter()
                        .flatten()
                    {
                        let n = s(nic, &["networkInterfaceId"]).unwrap_or_default().to_string();
                        self.interfaces
                            .insert(n, s(item, &["instanceId"]).unwrap_or_default().to_string());
                    }
                }
            }
            "AssociateAddress" | "AttachNetworkInterface" => {
                let inst = match (s(rp, &["instanceId"]), s(rp, &["networkInterfaceId"])) {
                    (Some(i), _) => i.to_string(),
                    (None, Some(n)) => self.interfaces.get(n).cloned().expect("unknown interface"),
                    _ => panic!("no target: {v}"),
                };
                let ip = match (s(rp, &["publicIp"]), s(rp, &["allocationId"])) {
                    (Some(ip), _) => Some(ip.parse().expect("publicIp")),
                    (None, Some(a)) => Some(*self.allocations.get(a).expect("allocation announced before")),
                    _ => None,
                };
                if let Some(row) = self.rows.get_mut(&inst) {
                    row.pending.push((t, ip));
                }
            }
            "StopInstances" | "StartInstances" => {
                let inst = s(&rp["instancesSet"]["items"][0], &["instanceId"]).unwrap_or_default();
                if let Some(row) = self.rows.get_mut(inst) {
                    row.locks.clear();
                }
            }
            _ => {}
        }
    }
}

/// Replays the output through the Netflix rules: the only alerts are thief calls and, for
/// attacker-first incidents, the robbed instance's own calls; every incident alerts.
fn check_detection(c: &GenConfig) -> (usize, usize) {
    let (out, truth) = generate_to_vec(c);
    let recs = parse(&out);
    let mut det = RefDetector::default();
    for v in &recs {
        det.feed(v);
    }
    let thief: HashSet<&str> = truth.thief_event_ids.iter().map(|s| s.as_str()).collect();
    let af: HashMap<&str, &Incident> = truth
        .incidents
        .iter()
        .filter(|i| i.attacker_first)
        .map(|i| (i.instance_id.as_str(), i))
        .collect();
    let alerted: HashSet<&str> = det.alerts.iter().map(|a| a.0.as_str()).collect();
    for (id, inst, src) in &det.alerts {
        if thief.contains(id.as_str()) {
            continue;
        }
        let inc = af
            .get(inst.as_str())
            .unwrap_or_else(|| panic!("false alert {id} on {inst} from {src} ({c:?})"));
        assert!(!inc.thief_ips.contains(src));
    }
    let mut thief_alerts = 0;
    for inc in &truth.incidents {
        assert!(!inc.thief_event_ids.is_empty());
        if inc.attacker_first {
            // The thief's first call locked the session; the instance's calls are the alerts.
            assert_eq!(
                det.first_locks.get(&inc.instance_id),
                Some(&inc.thief_event_ids[0]),
                "{inc:?}"
            );
            assert!(
                det.alerts
                    .iter()
                    .any(|a| a.1 == inc.instance_id && !thief.contains(a.0.as_str())),
                "{inc:?}"
            );
        } else {
            for id in &inc.thief_event_ids {
                assert!(
                    alerted.contains(id.as_str()),
                    "thief call {id} not alerted ({inc:?})"
                );
                thief_alerts += 1;
            }
        }
    }
    (det.alerts.len(), thief_alerts)
}

#[test]
fn detection_ground_truth_holds() {
    let (alerts, thief_alerts) = check_detection(&cfg(20_000));
    assert!(alerts > 0 && thief_alerts > 0);
}

#[test]
fn detection_ground_truth_holds_over_hours() {
    for seed in 1..=2 {
        check_detection(&long_cfg(seed));
    }
}

#[test]
fn detection_ground_truth_holds_for_any_jitter() {
    check_detection(&GenConfig {
        jitter_secs: 0,
        ..long_cfg(9)
    });
    check_detection(&GenConfig {
        jitter_secs: 900,
        ..long_cfg(10)
    });
}

#[test]
fn detection_ground_truth_holds_with_many_instances() {
    check_detection(&GenConfig {
        records: 40_000,
        events_per_sec: 200.0,
        attacks: 10,
        instances: 200,
        accounts: 7,
        ..long_cfg(11)
    });
}

#[test]
fn truth_matches_output() {
    let c = long_cfg(21);
    let (out, truth) = generate_to_vec(&c);
    let recs = parse(&out);
    assert_eq!(truth.incidents.len(), c.attacks);
    assert_eq!(truth.attacked_sessions.len(), c.attacks);
    assert!(truth.incidents.iter().filter(|i| i.attacker_first).count() == c.attacks / 2);
    assert!(!truth.thief_ips.is_empty());
    let by_id: HashMap<&str, &Value> = recs
        .iter()
        .map(|v| (s(v, &["eventID"]).unwrap_or_default(), v))
        .collect();
    let thief: HashSet<&str> = truth.thief_event_ids.iter().map(|s| s.as_str()).collect();
    assert_eq!(thief.len(), truth.thief_event_ids.len());
    let issued_at: HashMap<&str, i64> = recs
        .iter()
        .filter(|v| is_ec2_issue(v))
        .map(|v| {
            (
                s(v, &["responseElements", "credentials", "accessKeyId"]).unwrap_or_default(),
                time_of(v),
            )
        })
        .collect();
    for inc in &truth.incidents {
        assert!(truth.attacked_sessions.contains(&inc.session_arn));
        for id in &inc.thief_event_ids {
            let v = by_id
                .get(id.as_str())
                .unwrap_or_else(|| panic!("thief event {id} not in output"));
            assert_eq!(s(v, &["userIdentity", "arn"]), Some(inc.session_arn.as_str()));
            assert_eq!(
                s(v, &["userIdentity", "accessKeyId"]),
                Some(inc.access_key_id.as_str())
            );
            let src = s(v, &["sourceIPAddress"]).unwrap_or_default();
            assert!(inc.thief_ips.iter().any(|i| i == src) && truth.thief_ips.iter().any(|i| i == src));
            assert!(s(v, &["userAgent"]).is_some_and(|u| u.contains("aws-cli/")));
            let dt = time_of(v) - issued_at[inc.access_key_id.as_str()];
            assert!((0..=3600).contains(&dt), "thief call {dt} s after the AssumeRole");
        }
    }
    assert!(
        recs.iter()
            .any(|v| thief.contains(s(v, &["eventID"]).unwrap_or_default()) && v.get("errorCode").is_some())
    );
    // No thief address was ever an instance's, and all thief records are in the truth.
    let mut instance_ips = HashSet::new();
    for v in &recs {
        let id = s(v, &["eventID"]).unwrap_or_default();
        if instance_session(s(v, &["userIdentity", "arn"]).unwrap_or_default()).is_some()
            && !thief.contains(id)
        {
            instance_ips.insert(s(v, &["sourceIPAddress"]).unwrap_or_default());
        }
        if let Some(ip) = s(v, &["responseElements", "publicIp"]) {
            instance_ips.insert(ip);
        }
        if let Some(ip) = s(v, &["requestParameters", "publicIp"]) {
            instance_ips.insert(ip);
        }
        if truth
            .thief_ips
            .iter()
            .any(|t| Some(t.as_str()) == s(v, &["sourceIPAddress"]))
        {
            assert!(thief.contains(id), "untracked record from a thief address: {v}");
        }
    }
    for ip in &truth.thief_ips {
        assert!(
            !instance_ips.contains(ip.as_str()),
            "thief address {ip} was an instance's"
        );
    }
}

#[test]
fn default_truth_is_not_empty() {
    let (out, truth) = generate_to_vec(&GenConfig::default());
    assert!(
        !truth.attacked_sessions.is_empty()
            && !truth.thief_event_ids.is_empty()
            && !truth.thief_ips.is_empty()
    );
    assert_eq!(truth.incidents.len(), 3);
    let text = String::from_utf8(out).expect("utf8");
    for id in &truth.thief_event_ids {
        assert!(text.contains(&format!("\"eventID\":\"{id}\"")));
    }
}

/// Unnamed changes (AttachNetworkInterface) are followed by exactly one new address, used
/// within 15 minutes; Stop is followed by a Start later than the jitter.
#[test]
fn unnamed_changes_are_used_promptly() {
    let c = long_cfg(31);
    let (out, _) = generate_to_vec(&c);
    let recs = parse(&out);
    let mut ips: HashMap<String, Vec<(i64, String)>> = HashMap::new();
    let mut attaches = Vec::new();
    let mut changes: HashMap<String, Vec<i64>> = HashMap::new();
    for v in &recs {
        if let Some((_, _, inst)) = instance_session(s(v, &["userIdentity", "arn"]).unwrap_or_default()) {
            let src = s(v, &["sourceIPAddress"]).unwrap_or_default();
            if v.get("vpcEndpointId").is_none() && src.parse::<IpAddr>().is_ok() {
                ips.entry(inst).or_default().push((time_of(v), src.to_string()));
            }
        }
        let rp = &v["requestParameters"];
        let target = s(rp, &["instanceId"]).or_else(|| s(&rp["instancesSet"]["items"][0], &["instanceId"]));
        match (s(v, &["eventName"]).unwrap_or_default(), target) {
            ("AttachNetworkInterface", Some(i)) => {
                attaches.push((i.to_string(), time_of(v)));
                changes.entry(i.to_string()).or_default().push(time_of(v));
            }
            ("AssociateAddress" | "StartInstances", Some(i)) => {
                changes.entry(i.to_string()).or_default().push(time_of(v))
            }
            _ => {}
        }
    }
    assert!(!attaches.is_empty());
    let mut changed = 0;
    for (inst, at) in attaches {
        let mut calls = ips.get(&inst).cloned().unwrap_or_default();
        calls.sort();
        let before: HashSet<&str> = calls.iter().filter(|c| c.0 < at).map(|c| c.1.as_str()).collect();
        let until = changes[&inst]
            .iter()
            .copied()
            .filter(|&t| t > at)
            .min()
            .unwrap_or(i64::MAX);
        let new: Vec<&(i64, String)> = calls
            .iter()
            .filter(|c| c.0 >= at && c.0 < until && !before.contains(c.1.as_str()))
            .collect();
        if let Some(first) = new.first() {
            changed += 1;
            assert!(
                first.0 - at <= 900,
                "first new address {} s after the change",
                first.0 - at
            );
            let distinct: HashSet<&str> = new.iter().map(|c| c.1.as_str()).collect();
            assert_eq!(distinct.len(), 1);
        }
    }
    assert!(changed > 0);
}

/// Memory stays bounded: the records held back for delivery never exceed the jitter window.
#[test]
fn pending_records_are_bounded() {
    let c = GenConfig {
        records: 50_000,
        events_per_sec: 100.0,
        jitter_secs: 30,
        ..GenConfig::default()
    };
    let mut g = Gen::new(&c);
    let mut sink = std::io::sink();
    let mut max = 0;
    // Run the loop by hand to watch the queue.
    for i in 0..c.records {
        let t = slot_time(&c, i);
        g.c.now = t;
        let horizon = g.key(t, 0);
        while g.out.peek().is_some_and(|p| p.key <= horizon) {
            if let Some(p) = g.out.pop() {
                sink.write_all(&p.buf).expect("sink");
            }
        }
        max = max.max(g.out.len());
        let mut done = false;
        while !done && g.sched.peek().is_some_and(|d| d.at <= t) {
            if let Some(d) = g.sched.pop() {
                done = g.act(d.act);
            }
        }
        if !done {
            g.background();
        }
    }
    assert!(
        max <= (31.0 * c.events_per_sec) as usize + 10,
        "{max} records held"
    );
}

/// Many seeds and shapes of config: `cargo test --release -p credtrail-generate -- --ignored tests::seed_sweep`
#[test]
#[ignore]
fn seed_sweep() {
    for seed in 100..160u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let c = GenConfig {
            seed,
            records: rng.between(2_000, 40_000) as usize,
            instances: rng.between(2, 300) as usize,
            accounts: rng.between(1, 9) as usize,
            attacks: rng.between(1, 8) as usize,
            jitter_secs: *rng.pick(&[0, 1, 30, 120, 300, 900]),
            events_per_sec: *rng.pick(&[0.5, 2.0, 20.0, 50.0, 400.0]),
            ..GenConfig::default()
        };
        let (out, _) = generate_to_vec(&c);
        assert_eq!(lines(&out).len(), c.records, "{c:?}");
        check_jitter(&out, i64::from(c.jitter_secs));
        check_detection(&c);
    }
}

/// `cargo test --release -p credtrail-generate -- --ignored --nocapture tests::speed_and_stats`
#[test]
#[ignore]
fn speed_and_stats() {
    let c = GenConfig {
        records: 100_000,
        ..GenConfig::default()
    };
    let (out, truth) = generate_to_vec(&c);
    let recs = parse(&out);
    let ls = lines(&out);
    let mut sizes: Vec<usize> = ls.iter().map(|l| l.len() + 1).collect();
    sizes.sort_unstable();
    let pct = |p: usize| sizes[(sizes.len() - 1) * p / 100];
    println!(
        "records {} bytes {} mean {:.0} p50 {} p90 {} p99 {} max {} >=5KB {} >=10KB {} >=20KB {}",
        recs.len(),
        out.len(),
        out.len() as f64 / recs.len() as f64,
        pct(50),
        pct(90),
        pct(99),
        sizes[sizes.len() - 1],
        sizes.iter().filter(|&&s| s >= 5_000).count(),
        sizes.iter().filter(|&&s| s >= 10_000).count(),
        sizes.iter().filter(|&&s| s >= 20_000).count(),
    );
    let mut mix: HashMap<String, usize> = HashMap::new();
    for v in &recs {
        let arn = s(v, &["userIdentity", "arn"]).unwrap_or_default();
        let src = s(v, &["sourceIPAddress"]).unwrap_or_default();
        let k = if is_ec2_issue(v) {
            "ec2 AssumeRole (issue)".to_string()
        } else if instance_session(arn).is_some() {
            match src.parse::<IpAddr>() {
                Ok(IpAddr::V6(_)) => "instance session, IPv6".into(),
                Ok(_) if v.get("vpcEndpointId").is_some() => "instance session, VPC endpoint".into(),
                Ok(_) => "instance session, public IPv4".into(),
                Err(_) => format!("instance session, via {src}"),
            }
        } else {
            format!(
                "{} {}",
                s(v, &["userIdentity", "type"]).unwrap_or("?"),
                if s(v, &["eventType"]) == Some("AwsConsoleSignIn") {
                    "console sign-in"
                } else {
                    ""
                }
            )
        };
        *mix.entry(k).or_default() += 1;
        if matches!(
            s(v, &["eventName"]),
            Some(
                "AllocateAddress"
                    | "AssociateAddress"
                    | "AttachNetworkInterface"
                    | "StopInstances"
                    | "StartInstances"
                    | "RunInstances"
            )
        ) {
            *mix.entry(format!("  change: {}", s(v, &["eventName"]).unwrap_or_default()))
                .or_default() += 1;
        }
    }
    let mut mix: Vec<_> = mix.into_iter().collect();
    mix.sort();
    for (k, n) in mix {
        println!("{k:45} {n:7} {:5.2} %", n as f64 * 100.0 / recs.len() as f64);
    }
    println!(
        "truth: {} incidents, {} thief events, thief ips {:?}",
        truth.incidents.len(),
        truth.thief_event_ids.len(),
        truth.thief_ips
    );

    // Speed: 1 GiB-class stream into a sink.
    struct Count(u64);
    impl Write for Count {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0 += b.len() as u64;
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let c = GenConfig {
        records: 400_000,
        ..GenConfig::default()
    };
    let mut w = Count(0);
    let t0 = std::time::Instant::now();
    generate(&c, &mut w).expect("gen");
    let dt = t0.elapsed().as_secs_f64();
    println!(
        "speed: {} records, {:.1} MB in {:.3} s = {:.0} MB/s, {:.0} records/s",
        c.records,
        w.0 as f64 / 1e6,
        dt,
        w.0 as f64 / 1e6 / dt,
        c.records as f64 / dt
    );
}
