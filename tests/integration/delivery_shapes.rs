//! The generator's delivery shapes (`credtrail_generate::shapes`) change no alert: over generated
//! trails with thefts (the odd-numbered ones with the thief calling first), CloudTrail's files,
//! at-least-once redelivery of those, and either cut at random points and run piece by piece with
//! `--state`, give the `(eventID, verdict)` alert set of the trail sorted by eventTime, at 1 to 4
//! threads. (The shapes stay within the default 15-minute bound: files span 5 minutes and
//! us-east-1's lands right after the other regions' of its span.)

use crate::common::*;
use credtrail::{Config, Emit, Input};
use credtrail_generate::{GenConfig, generate_to_vec, shapes};
use proptest::prelude::*;
use std::collections::BTreeSet;

/// About an hour of sorted event time with thefts: longer than the bound, so records are released
/// while others still arrive.
fn trail(seed: u64) -> Vec<Vec<u8>> {
    let cfg = GenConfig {
        seed,
        records: 2500,
        instances: 10,
        accounts: 2,
        attacks: 4,
        jitter_secs: 0,
        events_per_sec: 0.8,
        ..GenConfig::default()
    };
    let (bytes, truth) = generate_to_vec(&cfg);
    assert!(!truth.thief_event_ids.is_empty(), "seed {seed}: no theft to find");
    bytes
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

fn joined(lines: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    out
}

fn sorted(lines: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut v = lines.to_vec();
    v.sort_by_key(|l| shapes::event_time(l));
    v
}

fn alert_set(out: &[u8]) -> BTreeSet<(String, String)> {
    records(out)
        .iter()
        .filter_map(|r| {
            let v = r["credtrail"]["verdict"]
                .as_str()
                .filter(|v| *v == "compromise")?;
            Some((r["eventID"].as_str()?.to_string(), v.to_string()))
        })
        .collect()
}

fn alerts_of(lines: &[Vec<u8>], threads: usize) -> BTreeSet<(String, String)> {
    alert_set(
        &run_cfg(Config {
            inputs: vec![Input::Memory("shape".into(), joined(lines))],
            emit: Emit::Alerts,
            threads,
            ..Config::default()
        })
        .stdout,
    )
}

/// `lines` cut at `cuts` and run piece by piece joined by `--state`; every alert once.
fn in_pieces(lines: &[Vec<u8>], cuts: &[usize], threads: usize, name: &str) -> BTreeSet<(String, String)> {
    let dir = std::env::temp_dir().join(format!("credtrail-shapes-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state.bin");
    let _ = std::fs::remove_file(&state);
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (lines.len() + 1)).collect();
    bounds.push(0);
    bounds.push(lines.len());
    bounds.sort_unstable();
    bounds.dedup();
    let mut all = BTreeSet::new();
    for (i, w) in bounds.windows(2).enumerate() {
        let r = run_cfg(Config {
            inputs: vec![Input::Memory("piece".into(), joined(&lines[w[0]..w[1]]))],
            emit: Emit::Alerts,
            threads,
            state: Some(state.clone()),
            release_at_end: i + 2 == bounds.len(),
            ..Config::default()
        });
        let got = alert_set(&r.stdout);
        assert!(
            all.is_disjoint(&got),
            "{name}: an alert came out twice across runs"
        );
        all.extend(got);
    }
    std::fs::remove_dir_all(&dir).unwrap();
    all
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3, ..ProptestConfig::default() })]

    /// (Mutation: a shape that puts one record a span more than the bound behind, as reading the
    /// trail newest first does, fails: `newest_first` alerts on nothing the sorted trail does.)
    #[test]
    fn delivery_shapes_change_no_alert(
        seed in 0u64..400,
        shape_seed in any::<u64>(),
        threads in 1usize..5,
        cuts in proptest::collection::vec(any::<usize>(), 1..4),
    ) {
        let lines = trail(seed);
        let want = alerts_of(&sorted(&lines), 1);
        prop_assert!(!want.is_empty());
        let files = shapes::cloudtrail_files(&lines, shape_seed);
        prop_assert_ne!(&files, &lines);
        prop_assert_eq!(&alerts_of(&files, threads), &want, "CloudTrail files");
        let again = shapes::redeliver(&files, shape_seed, 50, 20);
        prop_assert!(again.len() > files.len());
        prop_assert_eq!(&alerts_of(&again, threads), &want, "redelivered files");
        prop_assert_eq!(&in_pieces(&again, &cuts, threads, "again"), &want, "redelivered files in pieces");
    }
}
