//! Every finding conforms to OCSF 1.3.0 Detection Finding (the validator: ocsf_schema.rs).

use crate::common::{data, records, run_cfg};
use crate::ocsf_schema::Schema;
use credtrail::{Config, Emit, Input};
use credtrail_generate::{GenConfig, generate_to_vec};
use serde_json::{Value, json};
use std::fs;

/// Asserts every line of `--emit findings` output conforms; used by other modules' fixtures too.
pub fn assert_conforms(findings: &[Value]) {
    let schema = Schema::load();
    for f in findings {
        let errors = schema.validate(f);
        assert!(errors.is_empty(), "{errors:#?}\n{f:#}");
    }
}

fn findings(input: Vec<u8>, ranges: bool) -> Vec<Value> {
    let out = run_cfg(Config {
        inputs: vec![Input::Memory("input".into(), input)],
        emit: Emit::Findings,
        threads: 2,
        aws_ip_ranges: ranges.then(|| data("ip-ranges-sample.json")),
        ..Config::default()
    });
    records(&out.stdout)
}

/// A generated trail with thefts, with and without the AWS ranges (origins inside and outside).
fn generated() -> Vec<Value> {
    let cfg = GenConfig {
        seed: 3,
        records: 20_000,
        instances: 30,
        attacks: 6,
        events_per_sec: 1.0,
        ..GenConfig::default()
    };
    let (input, _) = generate_to_vec(&cfg);
    let mut all = findings(input.clone(), false);
    all.extend(findings(input, true));
    all
}

#[test]
fn findings_of_the_cases_the_sample_and_a_generated_trail_conform() {
    let mut all = generated();
    let mut cases: Vec<_> = fs::read_dir(crate::common::repo("tests/cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "ndjson"))
        .collect();
    cases.sort();
    cases.push(data("sample-attack.ndjson"));
    for case in cases {
        for ranges in [false, true] {
            all.extend(findings(fs::read(&case).unwrap(), ranges));
        }
    }
    let activities: std::collections::BTreeSet<_> =
        all.iter().map(|f| f["activity_id"].as_i64().unwrap()).collect();
    assert_eq!(
        activities.into_iter().collect::<Vec<_>>(),
        [1, 2, 3],
        "the trails give Create, Update and Close lines"
    );
    assert!(
        all.iter().any(|f| f["unmapped"]["aws_ip_range"].is_object()),
        "some origin is inside AWS"
    );
    assert_conforms(&all);
}

#[test]
fn the_validator_catches_what_it_checks() {
    let schema = Schema::load();
    let good = generated().remove(0);
    assert_eq!(schema.validate(&good), Vec::<String>::new());
    let broken = |f: &dyn Fn(&mut Value)| {
        let mut e = good.clone();
        f(&mut e);
        schema.validate(&e)
    };
    let has = |errors: Vec<String>, what: &str| {
        assert!(errors.iter().any(|e| e.contains(what)), "{what}: {errors:#?}");
    };
    let remove = |e: &mut Value, path: &[&str], key: &str| {
        let mut o = e;
        for p in path {
            o = &mut o[*p];
        }
        o.as_object_mut().unwrap().remove(key).unwrap();
    };
    has(
        broken(&|e| remove(e, &["finding_info"], "uid")),
        "$.finding_info.uid: required",
    );
    has(
        broken(&|e| remove(e, &["metadata", "product"], "vendor_name")),
        "vendor_name: required",
    );
    has(
        broken(&|e| remove(e, &["cloud"], "provider")),
        "provider: required",
    );
    has(broken(&|e| e["severity_id"] = json!(7)), "not in the enum");
    has(
        broken(&|e| e["severity"] = json!("Critical")),
        "is not the caption",
    );
    has(
        broken(&|e| e["cloud"]["account"]["type_id"] = json!(11)),
        "$.cloud.account.type_id: 11 not in the enum",
    );
    has(broken(&|e| e["type_uid"] = json!(200402)), "type_uid");
    has(broken(&|e| e["class_uid"] = json!(2005)), "class_uid");
    has(broken(&|e| e["time"] = json!(1_709_251_200)), "$.time");
    has(broken(&|e| e["time"] = json!(1.7e12)), "$.time");
    has(broken(&|e| e["count"] = json!("1")), "$.count");
    has(
        broken(&|e| e["src_endpoint"] = json!({"ip": "1.2.3.4"})),
        "$.src_endpoint: not an attribute",
    );
    has(
        broken(&|e| e["finding_info"]["titel"] = json!("x")),
        "$.finding_info.titel: not an attribute",
    );
    has(
        broken(&|e| e["metadata"]["profiles"] = json!([])),
        "$.cloud: needs profile",
    );
    has(
        broken(&|e| e["evidences"][0]["src_endpoint"]["ip"] = json!("1.2.3")),
        "not a ip_t",
    );
    has(
        broken(&|e| e["evidences"] = json!({})),
        "$.evidences: not an array",
    );
    has(
        broken(&|e| e["evidences"][1] = json!({})),
        "needs at least one of",
    );
    // A profile's required attribute is required once the profile is listed.
    has(
        broken(&|e| e["metadata"]["profiles"] = json!(["cloud", "security_control"])),
        "$.action_id: required",
    );
}
