//! Real estates: the instance's own addresses never alert (its other address family, its NAT
//! gateway's several addresses, addresses the trail ties to it, EC2 changing its address), and the
//! thief who calls first does not hide behind the lock. Each rule both ways: the instance stays
//! quiet, and a thief who lacks the tie still alerts.

use crate::common::trail::*;
use crate::common::*;
use credtrail::{Config, Emit, Input};
use serde_json::{Value, json};
use std::path::PathBuf;

/// `--emit all` over `records` with 1 and 3 threads (which must agree), parsed.
fn run_with(trail: &[Value], tweak: impl Fn(&mut Config)) -> Vec<Value> {
    let input = lines(trail);
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
    records(&outs[0])
}

fn plain(records: &[Value]) -> Vec<Value> {
    run_with(records, |_| {})
}

fn with_ranges(records: &[Value]) -> Vec<Value> {
    run_with(records, |c| c.aws_ip_ranges = Some(ranges()))
}

fn ranges() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/ip-ranges-sample.json")
}

fn ann<'a>(out: &'a [Value], id: &str) -> &'a Value {
    &out.iter()
        .find(|o| o["eventID"] == id)
        .unwrap_or_else(|| panic!("no record {id}"))["credtrail"]
}

fn verdict(out: &[Value], id: &str) -> String {
    ann(out, id)["verdict"].as_str().unwrap_or("none").to_owned()
}

/// RunInstances for INSTANCE, its one interface `eni-1` holding these addresses in the response's
/// shape (`privateIpAddressesSet`, `ipv6AddressesSet`, `association.publicIp`).
fn launch(id: &str, minutes: f64, private: &str, ipv6: Option<&str>, public: Option<&str>) -> Value {
    let mut nic = json!({"networkInterfaceId": "eni-1", "privateIpAddress": private,
        "privateIpAddressesSet": {"item": [{"privateIpAddress": private, "primary": true}]}});
    if let Some(v6) = ipv6 {
        nic["ipv6AddressesSet"] = json!({"item": [{"ipv6Address": v6}]});
    }
    if let Some(p) = public {
        nic["association"] = json!({"publicIp": p, "ipOwnerId": "amazon"});
    }
    ec2(
        id,
        minutes,
        "RunInstances",
        json!({"instancesSet": {"items": [{"imageId": "ami-1"}]}}),
        json!({"instancesSet": {"items": [{"instanceId": INSTANCE, "privateIpAddress": private,
            "networkInterfaceSet": {"items": [nic]}}]}}),
    )
}

#[test]
fn a_dual_stack_instance_calls_from_the_ipv6_address_the_trail_ties_to_it() {
    let trail = |tie: Option<&str>| {
        vec![
            launch("run", 0.0, "10.0.1.5", tie, None),
            issue("ar", 0.5),
            call("v4", 1.0, "3.80.0.5"),
            call("v6", 2.0, "2600:1f18::7"),
            call("v6-other", 3.0, "2600:1f18::9"),
        ]
    };
    let out = plain(&trail(Some("2600:1f18::7")));
    assert_eq!(verdict(&out, "v6"), "ip_added");
    assert_eq!(ann(&out, "v6")["evidence"], "tied");
    assert_eq!(
        verdict(&out, "v6-other"),
        "compromise",
        "an IPv6 address the trail does not tie is no free slot"
    );
    // Without the tie the second family alerts, as the plain method does.
    let out = plain(&trail(None));
    assert_eq!(verdict(&out, "v6"), "compromise");
}

#[test]
fn with_the_ranges_the_other_family_of_the_locked_region_is_accepted_once() {
    let trail = [
        issue("ar", 0.0),
        call("v4", 1.0, "3.80.0.5"),     // EC2 us-east-1
        call("v6", 2.0, "2600:1f18::5"), // EC2 us-east-1, IPv6
        call("v6-again", 3.0, "2600:1f18::5"),
        call("v6-second", 4.0, "2600:1f18::6"),
        call("v6-eu", 5.0, "2a05:d018::5"), // EC2 eu-west-1
    ];
    let out = with_ranges(&trail);
    assert_eq!(verdict(&out, "v6"), "ip_added");
    assert_eq!(ann(&out, "v6")["evidence"], "other_family");
    assert_eq!(verdict(&out, "v6-again"), "locked");
    assert_eq!(
        verdict(&out, "v6-second"),
        "compromise",
        "one address of each family"
    );
    assert_eq!(verdict(&out, "v6-eu"), "compromise");
    // Another region's IPv6 is not the instance's second family.
    let eu_first = [
        issue("ar", 0.0),
        call("v4", 1.0, "3.80.0.5"),
        call("v6-eu", 2.0, "2a05:d018::5"),
    ];
    assert_eq!(verdict(&with_ranges(&eu_first), "v6-eu"), "compromise");
    // Without the ranges there is no evidence.
    assert_eq!(verdict(&plain(&trail), "v6"), "compromise");
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

#[test]
fn all_addresses_of_a_nat_gateway_are_one_egress() {
    let gateway = |with: bool| {
        let mut t = vec![
            allocate("alloc-a", 0.0, "eipalloc-a", "3.80.0.10"),
            allocate("alloc-b", 0.1, "eipalloc-b", "3.80.0.11"),
            allocate("alloc-c", 0.2, "eipalloc-c", "3.80.0.12"),
        ];
        if with {
            // The response's shape: the EC2 XML answer as CloudTrail writes it, the second address
            // known only by its allocation id.
            t.push(ec2(
                "nat",
                0.3,
                "CreateNatGateway",
                json!({"CreateNatGatewayRequest": {"SubnetId": "subnet-1", "AllocationId": "eipalloc-a"}}),
                json!({"CreateNatGatewayResponse": {"natGateway": {"natGatewayId": "nat-1",
                    "natGatewayAddressSet": {"item": [
                        {"allocationId": "eipalloc-a", "publicIp": "3.80.0.10", "isPrimary": true},
                        {"allocationId": "eipalloc-b", "status": "associating"}]}}}}),
            ));
            t.push(ec2(
                "nat-more",
                0.4,
                "AssociateNatGatewayAddress",
                json!({"AssociateNatGatewayAddressRequest": {"NatGatewayId": "nat-1", "AllocationId": {"tag": 1, "content": "eipalloc-c"}}}),
                json!({"AssociateNatGatewayAddressResponse": {"natGatewayId": "nat-1"}}),
            ));
        }
        t.extend([
            issue("ar", 0.5),
            call("a", 1.0, "3.80.0.10"),
            call("b", 2.0, "3.80.0.11"),
            call("c", 3.0, "3.80.0.12"),
            call("thief", 4.0, "9.9.9.9"),
        ]);
        t
    };
    let out = plain(&gateway(true));
    assert_eq!(verdict(&out, "b"), "ip_added");
    assert_eq!(ann(&out, "b")["evidence"], "nat_gateway");
    assert_eq!(verdict(&out, "c"), "ip_added", "an address associated later");
    assert_eq!(verdict(&out, "thief"), "compromise");
    let out = plain(&gateway(false));
    assert_eq!(
        verdict(&out, "b"),
        "compromise",
        "no gateway in the trail, no group"
    );
}

#[test]
fn a_gateway_address_disassociated_no_longer_counts() {
    let t = [
        allocate("alloc-a", 0.0, "eipalloc-a", "3.80.0.10"),
        allocate("alloc-b", 0.1, "eipalloc-b", "3.80.0.11"),
        ec2(
            "nat",
            0.3,
            "CreateNatGateway",
            json!({}),
            json!({"CreateNatGatewayResponse": {"natGateway": {"natGatewayId": "nat-1",
                "natGatewayAddressSet": {"item": [
                    {"allocationId": "eipalloc-a", "associationId": "eipassoc-a"},
                    {"allocationId": "eipalloc-b", "associationId": "eipassoc-b"}]}}}}),
        ),
        ec2(
            "nat-less",
            0.4,
            "DisassociateNatGatewayAddress",
            json!({"DisassociateNatGatewayAddressRequest": {"NatGatewayId": "nat-1", "AssociationId": {"tag": 1, "content": "eipassoc-b"}}}),
            json!({}),
        ),
        issue("ar", 0.5),
        call("a", 1.0, "3.80.0.10"),
        call("b", 2.0, "3.80.0.11"),
    ];
    assert_eq!(verdict(&plain(&t), "b"), "compromise");
}

#[test]
fn a_spot_interruption_empties_the_lock_like_a_stop() {
    // BidEvictedEvent as CloudTrail writes it: an AwsServiceEvent naming the instances in
    // serviceEventDetails.
    let evicted = json!({"eventVersion": "1.05", "userIdentity": {"accountId": ACCOUNT, "invokedBy": "ec2.amazonaws.com"},
        "eventTime": at(5.0), "eventSource": "ec2.amazonaws.com", "eventName": "BidEvictedEvent",
        "sourceIPAddress": "ec2.amazonaws.com", "userAgent": "ec2.amazonaws.com", "awsRegion": "us-east-1",
        "eventID": "evicted", "eventType": "AwsServiceEvent", "recipientAccountId": ACCOUNT,
        "RequestParameters": null, "ResponseElements": null,
        "serviceEventDetails": {"instanceIdSet": [INSTANCE]}});
    let t = |with: bool| {
        let mut t = vec![issue("ar", 0.0), call("a", 1.0, "3.80.0.5")];
        if with {
            t.push(evicted.clone());
        }
        t.push(call("after", 30.0, "3.80.0.99"));
        t
    };
    let out = plain(&t(true));
    assert_eq!(verdict(&out, "after"), "locked");
    assert_eq!(ann(&out, "after")["locked_ips"][0]["ip"], "3.80.0.99");
    assert_eq!(verdict(&plain(&t(false)), "after"), "compromise");
}

#[test]
fn disassociating_an_elastic_ip_accepts_the_next_automatic_address() {
    let t = |request: Option<Value>| {
        let mut t = vec![
            issue("ar", 0.0),
            call("a", 1.0, "3.80.0.5"),
            ec2(
                "assoc",
                2.0,
                "AssociateAddress",
                json!({"instanceId": INSTANCE, "publicIp": "3.80.0.20"}),
                json!({"_return": true, "associationId": "eipassoc-1"}),
            ),
            call("eip", 3.0, "3.80.0.20"),
        ];
        if let Some(r) = request {
            t.push(ec2(
                "disassoc",
                20.0,
                "DisassociateAddress",
                r,
                json!({"_return": true}),
            ));
        }
        t.push(call("auto", 22.0, "3.80.0.30"));
        t.push(call("thief", 23.0, "9.9.9.9"));
        t
    };
    for how in [
        json!({"associationId": "eipassoc-1"}),
        json!({"publicIp": "3.80.0.20"}),
    ] {
        let out = plain(&t(Some(how.clone())));
        assert_eq!(verdict(&out, "eip"), "ip_added");
        assert_eq!(verdict(&out, "auto"), "ip_added", "{how}");
        assert_eq!(verdict(&out, "thief"), "compromise", "one address per change");
    }
    assert_eq!(verdict(&plain(&t(None)), "auto"), "compromise");
    // A disassociation of an unknown association changes nothing.
    let other = plain(&t(Some(json!({"associationId": "eipassoc-other"}))));
    assert_eq!(verdict(&other, "auto"), "compromise");
}

fn via(id: &str, minutes: f64, ip: &str, endpoint_account: &str) -> Value {
    let mut c = call_via_endpoint(id, minutes, ip);
    c["vpcEndpointAccountId"] = json!(endpoint_account);
    c
}

#[test]
fn the_organisations_accounts_are_trusted_for_endpoints() {
    // An organisation trail: the central networking account's own records name it.
    let mut network_call = ec2("net", 0.1, "DescribeVpcEndpoints", json!({}), json!(null));
    network_call["recipientAccountId"] = json!("222222222222");
    let t = |with: bool| {
        let mut t = vec![issue("ar", 0.0)];
        if with {
            t.push(network_call.clone());
        }
        t.extend([
            call("a", 1.0, "3.80.0.5"),
            via("central", 2.0, "10.0.0.5", "222222222222"),
            via("evil", 3.0, "10.0.0.5", "666666666666"),
        ]);
        t
    };
    let out = plain(&t(true));
    assert_eq!(verdict(&out, "central"), "locked");
    assert_eq!(verdict(&out, "evil"), "compromise");
    assert_eq!(ann(&out, "evil")["vpc_endpoint_account"], "666666666666");
    let out = plain(&t(false));
    assert_eq!(
        verdict(&out, "central"),
        "compromise",
        "an account the trail never names"
    );
}

#[test]
fn with_the_ranges_a_first_call_from_outside_aws_alerts_at_once() {
    let t = [
        issue("ar", 0.0),
        call("outside", 1.0, "198.51.100.9"),
        call("inside", 2.0, "3.80.0.5"),
        call("outside-again", 3.0, "198.51.100.9"),
    ];
    let out = with_ranges(&t);
    assert_eq!(verdict(&out, "outside"), "compromise");
    assert_eq!(ann(&out, "outside")["evidence"], "outside_aws");
    assert_eq!(ann(&out, "outside")["locked_ips"], json!([]));
    assert_eq!(verdict(&out, "inside"), "locked", "the instance's own call locks");
    assert_eq!(verdict(&out, "outside-again"), "compromise");
    // A declared network (a proxy over Direct Connect) is the estate's own egress.
    let out = run_with(&t, |c| {
        c.aws_ip_ranges = Some(ranges());
        c.detector.trusted_networks = std::sync::Arc::new(vec![credtrail::parse::addresses::Net {
            ip: "198.51.100.0".parse().unwrap(),
            len: 24,
        }]);
    });
    assert_eq!(verdict(&out, "outside"), "locked");
    // Without the ranges the first call locks, as in the blog.
    assert_eq!(verdict(&plain(&t), "outside"), "locked");
}

#[test]
fn the_lock_of_a_contested_session_is_not_silent() {
    let t = [
        issue("ar", 0.0),
        call("a", 1.0, "3.80.0.5"),
        call("a2", 2.0, "3.80.0.5"),
        call("thief", 3.0, "9.9.9.9"),
        call("a3", 4.0, "3.80.0.5"),
    ];
    let out = plain(&t);
    assert!(
        ann(&out, "a2").get("contested").is_none(),
        "nothing contested yet"
    );
    assert_eq!(verdict(&out, "thief"), "compromise");
    assert_eq!(verdict(&out, "a3"), "locked");
    assert_eq!(ann(&out, "a3")["contested"], true);
    assert!(ann(&out, "a3")["reason"].as_str().unwrap().contains("contested"));
}

#[test]
fn the_thief_who_called_first_loses_the_lock_to_the_address_the_trail_ties() {
    let t = |tie: Option<&str>| {
        vec![
            launch("run", 0.0, "10.0.1.5", None, tie),
            issue("ar", 0.5),
            call("thief", 1.0, "18.236.0.5"),
            call("own", 2.0, "3.80.0.40"),
            call("thief-again", 3.0, "18.236.0.5"),
            call("own-again", 4.0, "3.80.0.40"),
        ]
    };
    let out = plain(&t(Some("3.80.0.40")));
    assert_eq!(verdict(&out, "own"), "ip_added");
    assert_eq!(ann(&out, "own")["evidence"], "lock_moved");
    assert_eq!(ann(&out, "own")["moved_from"], "18.236.0.5");
    assert_eq!(verdict(&out, "thief-again"), "compromise");
    assert_eq!(verdict(&out, "own-again"), "locked");
    // Without evidence the alert stays where it is, but the lock holder's calls say the session
    // is contested.
    let out = plain(&t(None));
    assert_eq!(verdict(&out, "own"), "compromise");
    assert_eq!(verdict(&out, "thief-again"), "locked");
    assert_eq!(ann(&out, "thief-again")["contested"], true);
}

#[test]
fn the_private_slot_takes_the_addresses_the_trail_ties_and_eks_pods_stay_quiet() {
    let t = |tied: bool| {
        let mut t = vec![];
        if tied {
            t.push(launch("run", 0.0, "10.0.1.5", None, None));
            // The VPC CNI gives the node's interface secondary addresses and a prefix for pods.
            t.push(ec2(
                "cni",
                0.2,
                "AssignPrivateIpAddresses",
                json!({"networkInterfaceId": "eni-1", "secondaryPrivateIpAddressCount": 2}),
                json!({"networkInterfaceId": "eni-1",
                    "assignedPrivateIpAddressesSet": {"item": [{"privateIpAddress": "10.0.1.20"}, {"privateIpAddress": "10.0.1.21"}]},
                    "assignedIpv4PrefixSet": {"item": [{"ipv4Prefix": "10.0.2.16/28"}]}}),
            ));
        }
        t.extend([
            issue("ar", 0.5),
            call("a", 1.0, "3.80.0.5"),
            call_via_endpoint("onprem", 1.5, "10.9.9.9"),
            call_via_endpoint("node", 2.0, "10.0.1.5"),
            call_via_endpoint("pod", 3.0, "10.0.1.20"),
            call_via_endpoint("pod-prefix", 4.0, "10.0.2.30"),
            call_via_endpoint("pod-again", 5.0, "10.0.1.20"),
        ]);
        t
    };
    let out = plain(&t(true));
    assert_eq!(
        verdict(&out, "onprem"),
        "compromise",
        "the empty slot is no free slot"
    );
    assert_eq!(ann(&out, "onprem")["evidence"], "untied_private");
    assert_eq!(verdict(&out, "node"), "locked");
    assert_eq!(verdict(&out, "pod"), "ip_added");
    assert_eq!(verdict(&out, "pod-prefix"), "ip_added");
    assert_eq!(verdict(&out, "pod-again"), "locked");
    // Without ties the first endpoint user locks the slot, as the blog's method does.
    let out = plain(&t(false));
    assert_eq!(verdict(&out, "onprem"), "locked");
    assert_eq!(verdict(&out, "node"), "compromise");
}

#[test]
fn the_estate_survives_a_restart_through_the_state_file() {
    // Ties, gateways and accounts learnt before a restart still count after it.
    let dir = std::env::temp_dir().join(format!("credtrail-estate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state.bin");
    let before = lines(&[
        launch("run", 0.0, "10.0.1.5", Some("2600:1f18::7"), None),
        issue("ar", 0.5),
        call("v4", 1.0, "3.80.0.5"),
        call("thief", 1.5, "9.9.9.9"),
    ]);
    let after = lines(&[call("v6", 2.0, "2600:1f18::7"), call("v4-again", 3.0, "3.80.0.5")]);
    let run = |input: &[u8]| {
        run_cfg(Config {
            inputs: vec![Input::Memory("input".into(), input.to_vec())],
            emit: Emit::All,
            threads: 2,
            state: Some(state.clone()),
            // Judged at the end of each run rather than held in the state for the next.
            release_at_end: true,
            ..Config::default()
        })
    };
    run(&before);
    let out = records(&run(&after).stdout);
    assert_eq!(verdict(&out, "v6"), "ip_added");
    assert_eq!(ann(&out, "v4-again")["contested"], true);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The finding lines of `--emit findings` over `trail`, parsed.
fn findings(trail: &[Value]) -> Vec<Value> {
    let out = run_cfg(Config {
        inputs: vec![Input::Memory("input".into(), lines(trail))],
        emit: Emit::Findings,
        threads: 2,
        ..Config::default()
    });
    let findings = records(&out.stdout);
    crate::ocsf::assert_conforms(&findings);
    findings
}

#[test]
fn in_findings_the_lock_holders_calls_join_the_incident() {
    let t = |contested_calls: usize| {
        let mut t = vec![
            issue("ar", 0.0),
            call("a", 1.0, "3.80.0.5"),
            call("thief", 2.0, "9.9.9.9"),
        ];
        for n in 0..contested_calls {
            t.push(call(&format!("a{n}"), 3.0 + n as f64, "3.80.0.5"));
        }
        t
    };
    let last = |f: &[Value]| f.last().cloned().unwrap();
    let f = findings(&t(2));
    let close = last(&f);
    assert_eq!(close["activity_name"], "Close");
    assert_eq!(close["unmapped"]["lock_calls_while_contested"], 2);
    // The same incident without the lock's calls says nothing of them.
    let f = findings(&t(0));
    assert!(last(&f)["unmapped"].get("lock_calls_while_contested").is_none());
}

#[test]
fn when_the_lock_moves_the_finding_and_the_table_say_whose_address_is_whose() {
    let t = |tied: bool| {
        let mut t = vec![
            issue("ar", 0.0),
            call("thief", 1.0, "18.236.0.5"),
            call("own", 2.0, "3.80.0.40"),
        ];
        if tied {
            t.push(ec2(
                "eni",
                2.2,
                "CreateNetworkInterface",
                json!({"subnetId": "subnet-1"}),
                json!({"networkInterface": {"networkInterfaceId": "eni-2", "privateIpAddress": "10.0.1.9",
                    "association": {"publicIp": "3.80.0.40"}}}),
            ));
            t.push(ec2(
                "attach",
                2.4,
                "AttachNetworkInterface",
                json!({"networkInterfaceId": "eni-2", "instanceId": INSTANCE, "deviceIndex": 1}),
                json!({"attachmentId": "eni-attach-1"}),
            ));
        }
        t.extend([
            call("own-again", 3.0, "3.80.0.40"),
            call("thief-again", 4.0, "18.236.0.5"),
        ]);
        t
    };
    let f = findings(&t(true));
    let own: Vec<&Value> = f
        .iter()
        .filter(|l| l["unmapped"]["evidence"] == "lock_moved")
        .collect();
    assert!(!own.is_empty(), "the instance's incident is updated: {f:?}");
    assert_eq!(own[0]["unmapped"]["moved_from"], "18.236.0.5");
    let table = |tied: bool| {
        run_cfg(Config {
            inputs: vec![Input::Memory("input".into(), lines(&t(tied)))],
            emit: Emit::Alerts,
            threads: 1,
            ..Config::default()
        })
        .stats
        .alert_table
        .into_iter()
        .map(|r| (r.4, r.5))
        .collect::<Vec<_>>()
    };
    assert_eq!(
        table(true),
        [
            ("18.236.0.5 (called first, lock moved)".to_owned(), 1),
            ("3.80.0.40 (the instance's own: tied by the trail)".to_owned(), 1),
        ]
    );
    assert_eq!(table(false), [("3.80.0.40".to_owned(), 2)]);
    assert!(
        findings(&t(false))
            .iter()
            .all(|l| l["unmapped"].get("evidence").is_none())
    );
}
