//! Evidence by region and NAT gateways of one address: with `--aws-ip-ranges`, when both
//! contested addresses are inside AWS, the one in the instance's own region (its AssumeRole's
//! `awsRegion`) is the instance's; a NAT gateway holding a single address is one egress like a
//! gateway of several. Each both ways.

use crate::common::trail::*;
use crate::common::*;
use credtrail::{Config, Emit, Input};
use serde_json::{Value, json};
use std::path::PathBuf;

/// `--emit all` with 1 and 3 threads (which must agree), parsed.
fn run(trail: &[Value], ranges: bool) -> Vec<Value> {
    let input = lines(trail);
    let mut outs = Vec::new();
    for threads in [1, 3] {
        let cfg = Config {
            inputs: vec![Input::Memory("input".into(), input.clone())],
            emit: Emit::All,
            threads,
            aws_ip_ranges: ranges
                .then(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/ip-ranges-sample.json")),
            ..Config::default()
        };
        outs.push(run_cfg(cfg).stdout);
    }
    assert_eq!(outs[0], outs[1], "thread counts disagree");
    records(&outs[0])
}

fn ann<'a>(out: &'a [Value], id: &str) -> &'a Value {
    &out.iter()
        .find(|o| o["eventID"] == id)
        .unwrap_or_else(|| panic!("no record {id}"))["credtrail"]
}

fn verdict(out: &[Value], id: &str) -> String {
    ann(out, id)["verdict"].as_str().unwrap_or("none").to_owned()
}

/// The EC2 AssumeRole, in the instance's region (as EC2 writes it).
fn issue_in(id: &str, minutes: f64, region: Option<&str>) -> Value {
    let mut v = issue(id, minutes);
    if let Some(r) = region {
        v["awsRegion"] = json!(r);
    }
    v
}

// In the sample ranges 3.80.0.0/12 is EC2 in us-east-1 and 18.236.0.0/15 EC2 in us-west-2.

#[test]
fn the_address_in_the_instances_own_region_takes_the_lock_from_another_regions() {
    let thief_first = |region: Option<&str>, thief: &str| {
        vec![
            issue_in("ar", 0.0, region),
            call("thief", 1.0, thief),
            call("own", 2.0, "3.80.0.40"),
            call("thief-again", 3.0, thief),
            call("own-again", 4.0, "3.80.0.40"),
        ]
    };
    let out = run(&thief_first(Some("us-east-1"), "18.236.0.5"), true);
    assert_eq!(
        verdict(&out, "thief"),
        "locked",
        "the first call locks: nothing to say yet"
    );
    assert_eq!(verdict(&out, "own"), "ip_added");
    assert_eq!(ann(&out, "own")["evidence"], "own_region");
    assert_eq!(ann(&out, "own")["moved_from"], "18.236.0.5");
    assert!(
        ann(&out, "own")["reason"]
            .as_str()
            .unwrap()
            .contains("own region")
    );
    assert_eq!(verdict(&out, "thief-again"), "compromise");
    assert_eq!(verdict(&out, "own-again"), "locked");
    let locks = &ann(&out, "own-again")["locked_ips"];
    assert_eq!(locks[0]["ip"], "3.80.0.40");
    assert_eq!(locks[0]["origin"], "own_region");
    // No evidence, no move: without the ranges, without the AssumeRole's region, or with both
    // addresses in the instance's region.
    for (trail, ranges, why) in [
        (thief_first(Some("us-east-1"), "18.236.0.5"), false, "no ranges"),
        (thief_first(None, "18.236.0.5"), true, "no region"),
        (thief_first(Some("us-east-1"), "3.80.0.99"), true, "same region"),
        (
            thief_first(Some("eu-west-1"), "18.236.0.5"),
            true,
            "neither in the instance's region",
        ),
    ] {
        let out = run(&trail, ranges);
        assert_eq!(verdict(&out, "own"), "compromise", "{why}");
        assert_eq!(verdict(&out, "thief-again"), "locked", "{why}");
        assert_eq!(ann(&out, "thief-again")["contested"], true, "{why}");
    }
}

#[test]
fn the_instance_locking_first_keeps_its_lock_against_another_region() {
    let t = [
        issue_in("ar", 0.0, Some("us-east-1")),
        call("own", 1.0, "3.80.0.40"),
        call("thief", 2.0, "18.236.0.5"),
        call("own-again", 3.0, "3.80.0.40"),
    ];
    let out = run(&t, true);
    assert_eq!(verdict(&out, "thief"), "compromise");
    assert_eq!(verdict(&out, "own-again"), "locked");
    assert_eq!(ann(&out, "own-again")["locked_ips"][0]["ip"], "3.80.0.40");
}

fn allocate(id: &str, minutes: f64, alloc: &str, ip: &str) -> Value {
    ec2(
        id,
        minutes,
        "AllocateAddress",
        json!({"domain": "vpc"}),
        json!({"allocationId": alloc, "publicIp": ip, "domain": "vpc"}),
    )
}

fn nat_of_one(id: &str, minutes: f64) -> Value {
    ec2(
        id,
        minutes,
        "CreateNatGateway",
        json!({"CreateNatGatewayRequest": {"SubnetId": "subnet-1", "AllocationId": "eipalloc-a"}}),
        json!({"CreateNatGatewayResponse": {"natGateway": {"natGatewayId": "nat-1",
            "natGatewayAddressSet": {"item": [{"allocationId": "eipalloc-a", "publicIp": "3.80.0.10", "isPrimary": true}]}}}}),
    )
}

#[test]
fn a_nat_gateway_of_one_address_is_one_egress_like_one_of_several() {
    // The session locks the gateway's one address; the gateway gets a second one later; the
    // instance calls from it.
    let t = |gateway: bool, second: bool| {
        let mut t = vec![allocate("alloc-a", 0.0, "eipalloc-a", "3.80.0.10")];
        if gateway {
            t.push(nat_of_one("nat", 0.1));
        }
        t.extend([issue("ar", 0.5), call("a", 1.0, "3.80.0.10")]);
        t.push(allocate("alloc-b", 2.0, "eipalloc-b", "3.80.0.11"));
        if second {
            t.push(ec2(
                "nat-more",
                2.5,
                "AssociateNatGatewayAddress",
                json!({"AssociateNatGatewayAddressRequest": {"NatGatewayId": "nat-1", "AllocationId": {"tag": 1, "content": "eipalloc-b"}}}),
                json!({"AssociateNatGatewayAddressResponse": {"natGatewayId": "nat-1"}}),
            ));
        }
        t.extend([
            call("b", 3.0, "3.80.0.11"),
            call("a-again", 4.0, "3.80.0.10"),
            call("thief", 5.0, "9.9.9.9"),
        ]);
        t
    };
    let out = run(&t(true, true), false);
    assert_eq!(verdict(&out, "a"), "locked");
    assert_eq!(verdict(&out, "b"), "ip_added");
    assert_eq!(ann(&out, "b")["evidence"], "nat_gateway");
    assert_eq!(verdict(&out, "a-again"), "locked");
    assert_eq!(
        verdict(&out, "thief"),
        "compromise",
        "the gateway is no free slot"
    );
    // The other way: an address the gateway never held, or no gateway at all.
    assert_eq!(verdict(&run(&t(true, false), false), "b"), "compromise");
    assert_eq!(verdict(&run(&t(false, true), false), "b"), "compromise");
}

#[test]
fn a_nat_gateway_of_one_address_gives_the_lock_no_free_slot() {
    // Locked to the one address, a call from elsewhere alerts as it would with several.
    let t = [
        allocate("alloc-a", 0.0, "eipalloc-a", "3.80.0.10"),
        nat_of_one("nat", 0.1),
        issue("ar", 0.5),
        call("a", 1.0, "3.80.0.10"),
        call("other", 2.0, "3.80.0.12"),
    ];
    let out = run(&t, false);
    assert_eq!(verdict(&out, "a"), "locked");
    assert_eq!(verdict(&out, "other"), "compromise");
}

#[test]
fn when_the_lock_moves_by_region_the_finding_and_the_table_name_the_thief() {
    // The instance's first call moves the lock at once (nothing of it alerted before), so the
    // finding and the table are the thief's: its later call alerts, and the table says that
    // address called first and lost the lock.
    let t = [
        issue_in("ar", 0.0, Some("us-east-1")),
        call("thief", 1.0, "18.236.0.5"),
        call("own", 2.0, "3.80.0.40"),
        call("thief-again", 3.0, "18.236.0.5"),
    ];
    let run_emit = |emit| {
        run_cfg(Config {
            inputs: vec![Input::Memory("input".into(), lines(&t))],
            emit,
            threads: 1,
            aws_ip_ranges: Some(
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/ip-ranges-sample.json"),
            ),
            ..Config::default()
        })
    };
    let f = records(&run_emit(Emit::Findings).stdout);
    assert!(
        !f.is_empty() && f.iter().all(|l| l.to_string().contains("18.236.0.5")),
        "the thief's alert makes the only incident: {f:?}"
    );
    let table: Vec<(String, u64)> = run_emit(Emit::Alerts)
        .stats
        .alert_table
        .into_iter()
        .map(|r| (r.4, r.5))
        .collect();
    assert_eq!(table, [("18.236.0.5 (called first, lock moved)".to_owned(), 1)]);
}
