//! The estate's records are what its labels say: every line parses, every label names a record,
//! the thefts are there, and the same config gives the same bytes.

use super::*;
use serde_json::Value;

fn small() -> EstateConfig {
    EstateConfig {
        instances: 40,
        thefts: 6,
        ..EstateConfig::default()
    }
}

#[test]
fn every_record_is_labelled_and_parses() {
    let (out, truth) = generate_estate_to_vec(&small());
    let lines: Vec<&[u8]> = out.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), truth.labels.len());
    let mut last = String::new();
    for (line, label) in lines.iter().zip(&truth.labels) {
        let v: Value = serde_json::from_slice(line).expect("a record is JSON");
        assert_eq!(v["eventID"], label.event_id.as_str());
        let t = v["eventTime"].as_str().unwrap().to_owned();
        assert!(t >= last, "records in event-time order");
        last = t;
        if label.whose == Whose::Thief {
            let n = label.instance.unwrap() as usize;
            assert!(
                v["userIdentity"]["arn"]
                    .as_str()
                    .unwrap()
                    .ends_with(&truth.instances[n].id)
            );
        }
    }
    assert!(truth.thefts.len() >= 5, "{:?}", truth.thefts);
    assert!(truth.thefts.iter().any(|t| t.thief_first));
    assert!(truth.thefts.iter().any(|t| !t.thief_first));
    let thief = truth.labels.iter().filter(|l| l.whose == Whose::Thief).count();
    assert!(thief >= 3 * truth.thefts.len());
    for t in Topology::ALL {
        assert!(
            truth.instances.iter().any(|i| i.topology == t),
            "{} missing",
            t.name()
        );
    }
    let days = truth.instance_days();
    assert!((30.0..60.0).contains(&days), "{days}");
}

#[test]
fn the_topologies_write_their_records() {
    let (out, _) = generate_estate_to_vec(&small());
    let text = String::from_utf8(out).unwrap();
    for name in [
        "\"CreateNatGateway\"",
        "\"AssociateNatGatewayAddress\"",
        "\"AssignPrivateIpAddresses\"",
        "\"BidEvictedEvent\"",
        "\"StopInstances\"",
        "\"DisassociateAddress\"",
        "\"TerminateInstances\"",
        "\"ipv6Address\"",
        "\"vpcEndpointAccountId\"",
    ] {
        assert!(text.contains(name), "{name}");
    }
}

#[test]
fn the_same_config_gives_the_same_bytes_and_shares_steer_it() {
    let a = generate_estate_to_vec(&small());
    assert_eq!(a, generate_estate_to_vec(&small()));
    let only_nat = EstateConfig {
        shares: Shares::parse("nat-gateway=1").unwrap(),
        thefts: 0,
        ..small()
    };
    let (_, t) = generate_estate_to_vec(&only_nat);
    assert!(t.instances.iter().all(|i| i.topology == Topology::NatGateway));
}

#[test]
fn shares_and_sizes_are_validated() {
    assert_eq!(Shares::parse("default"), Ok(Shares::default()));
    assert!(matches!(Shares::parse("eks=x"), Err(EstateError::Share(_))));
    assert!(matches!(Shares::parse("vms=1"), Err(EstateError::Share(_))));
    assert_eq!(Shares::parse("eks=0"), Err(EstateError::NoShare));
    assert_eq!(EstateConfig::default().validate(), Ok(()));
    let big = EstateConfig {
        instances: 30_000,
        ..EstateConfig::default()
    };
    assert_eq!(big.validate(), Err(EstateError::Size));
}
