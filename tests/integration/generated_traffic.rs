//! Realistic generated traffic (crates/credtrail-generate): every injected theft is caught, nothing else
//! alerts, and every thread count gives the sequential reference's output.

use credtrail::{Config, Emit, Input};
use credtrail_generate::{GenConfig, generate_to_vec};
use std::collections::HashSet;

fn run(input: &[u8], emit: Emit, threads: usize) -> Vec<u8> {
    let cfg = Config {
        inputs: vec![Input::Memory("gen".into(), input.to_vec())],
        emit,
        threads,
        ..Config::default()
    };
    let mut out = Vec::new();
    credtrail::run(&cfg, &mut out, &mut Vec::new()).unwrap();
    out
}

fn sequential(input: &[u8], emit: Emit) -> Vec<u8> {
    let cfg = Config {
        inputs: vec![Input::Memory("gen".into(), input.to_vec())],
        emit,
        ..Config::default()
    };
    let mut out = Vec::new();
    credtrail::run_sequential(&cfg, &mut out, &mut Vec::new()).unwrap();
    out
}

#[test]
fn every_theft_is_caught_and_only_thefts_alert() {
    for seed in [1, 2, 3, 4] {
        // One event per second over four and a half hours: refreshes, address changes, restarts.
        let cfg = GenConfig {
            seed,
            records: 16_000,
            instances: 40,
            attacks: 4,
            events_per_sec: 1.0,
            ..GenConfig::default()
        };
        let (input, truth) = generate_to_vec(&cfg);
        let out = run(&input, Emit::Alerts, 2);
        let alerted: Vec<serde_json::Value> = crate::common::records(&out);
        assert!(
            !truth.incidents.is_empty(),
            "seed {seed}: the generator injected no incident"
        );
        let attacked: HashSet<&str> = truth.attacked_sessions.iter().map(String::as_str).collect();
        for a in &alerted {
            let session = a["credtrail"]["session"].as_str().unwrap();
            assert!(
                attacked.contains(session),
                "seed {seed}: false alert on {session}: {a}"
            );
        }
        for incident in &truth.incidents {
            assert!(
                alerted
                    .iter()
                    .any(|a| a["credtrail"]["session"] == incident.session_arn.as_str()),
                "seed {seed}: incident on {} not caught",
                incident.session_arn
            );
        }
        // Instance-first incidents: the thief's own calls are the alerts.
        let thief_ids: HashSet<&str> = truth.thief_event_ids.iter().map(String::as_str).collect();
        let caught_thief_calls = alerted
            .iter()
            .filter(|a| thief_ids.contains(a["eventID"].as_str().unwrap_or("")))
            .count();
        assert!(caught_thief_calls > 0, "seed {seed}");
    }
}

#[test]
fn every_thread_count_equals_the_sequential_pass_on_generated_traffic() {
    let cfg = GenConfig {
        seed: 7,
        records: 20_000,
        instances: 60,
        attacks: 5,
        events_per_sec: 2.0,
        ..GenConfig::default()
    };
    let (input, _) = generate_to_vec(&cfg);
    for emit in [Emit::All, Emit::Alerts, Emit::Findings] {
        let want = sequential(&input, emit);
        for threads in [1, 2, 3, 5] {
            assert!(
                run(&input, emit, threads) == want,
                "{emit:?} at --threads {threads}"
            );
        }
    }
}
