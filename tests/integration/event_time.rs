//! Event time: the alerts are a function of the trail, not of its delivery. For any delivery in
//! which no record arrives more than `--lateness` behind the newest one read, the set of
//! `(eventID, verdict)` equals that of one pass over the same records stably sorted by
//! `eventTime`; also when records are delivered twice, when the input is cut into runs joined by
//! `--state`, and at any thread count.
//!
//! The trails are the generator's (thefts included, the odd-numbered ones with the thief calling
//! first), built sorted (`jitter_secs: 0`); the deliveries are made here: random delays within the
//! bound, CloudTrail's per-region 5-minute files unordered inside, overlaps, cuts.

use crate::common::trail::*;
use crate::common::*;
use credtrail::parse::event_time::{self, MINUTE, Millis};
use credtrail::{Config, Emit, Input};
use credtrail_generate::{GenConfig, generate_to_vec};
use proptest::prelude::*;
use serde_json::Value;
use std::collections::BTreeSet;

/// A sorted trail of about an hour of event time (0.8 records a second): longer than the bound,
/// so that records are released while others still arrive.
fn trail(seed: u64) -> Vec<String> {
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
    assert!(
        !truth.thief_event_ids.is_empty(),
        "seed {seed}: a trail without a theft tests nothing"
    );
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

fn time_of(line: &str) -> Millis {
    let v: Value = serde_json::from_str(line).unwrap();
    event_time::parse(v["eventTime"].as_str().unwrap()).unwrap()
}

fn region_of(line: &str) -> String {
    let v: Value = serde_json::from_str(line).unwrap();
    v["awsRegion"].as_str().unwrap_or("us-east-1").to_string()
}

/// `lines` stably sorted by event time: the reference order for a delivery.
fn sorted(lines: &[String]) -> Vec<String> {
    let mut v: Vec<(Millis, &String)> = lines.iter().map(|l| (time_of(l), l)).collect();
    v.sort_by_key(|(t, _)| *t);
    v.into_iter().map(|(_, l)| l.clone()).collect()
}

fn joined(lines: &[String]) -> Vec<u8> {
    let mut s = lines.join("\n");
    s.push('\n');
    s.into_bytes()
}

/// `(eventID, verdict)` of every annotated record in `out`.
fn verdicts(out: &[u8]) -> BTreeSet<(String, String)> {
    records(out)
        .iter()
        .filter_map(|r| {
            let v = r["credtrail"]["verdict"].as_str()?;
            Some((r["eventID"].as_str()?.to_string(), v.to_string()))
        })
        .collect()
}

fn alert_set(out: &[u8]) -> BTreeSet<(String, String)> {
    alert_pairs(out)
}

fn run(input: &[u8], emit: Emit, threads: usize) -> Run {
    run_cfg(Config {
        inputs: vec![Input::Memory("delivery".into(), input.to_vec())],
        emit,
        threads,
        ..Config::default()
    })
}

/// A tiny random source for the deliveries (proptest gives the seed).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        // SplitMix64.
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n.max(1)
    }
}

/// Each record delayed by up to `bound` and delivered in order of time plus delay: a record is
/// then never read more than `bound` behind the newest one read before it.
fn delayed(lines: &[String], bound: Millis, rng: &mut Rng) -> Vec<String> {
    let mut v: Vec<(Millis, usize, &String)> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (time_of(l) + rng.below(bound as u64) as Millis, i, l))
        .collect();
    v.sort();
    v.into_iter().map(|(_, _, l)| l.clone()).collect()
}

/// CloudTrail's S3 delivery: one `{"Records":[…]}` file per region and 5 minutes, its records in no
/// order, each file landing up to `max_delay` after its 5 minutes end, files read in landing
/// order. IAM and STS records are logged in us-east-1, so an AssumeRole may land after the first
/// call it issued the key for, from another region's earlier file.
fn cloudtrail_files(lines: &[String], max_delay: Millis, rng: &mut Rng) -> Vec<String> {
    let mut files: std::collections::BTreeMap<(Millis, String), Vec<String>> = Default::default();
    for l in lines {
        let t = time_of(l);
        let v: Value = serde_json::from_str(l).unwrap();
        let global = matches!(
            v["eventSource"].as_str(),
            Some("iam.amazonaws.com" | "sts.amazonaws.com")
        );
        let region = if global {
            "us-east-1".to_string()
        } else {
            region_of(l)
        };
        files
            .entry((t - t.rem_euclid(5 * MINUTE), region))
            .or_default()
            .push(l.clone());
    }
    let mut landed: Vec<(Millis, String)> = files
        .into_iter()
        .map(|((bucket, _), mut recs)| {
            for i in (1..recs.len()).rev() {
                recs.swap(i, rng.below(i as u64 + 1) as usize);
            }
            let body = format!("{{\"Records\":[{}]}}", recs.join(","));
            (bucket + 5 * MINUTE + rng.below(max_delay as u64) as Millis, body)
        })
        .collect();
    landed.sort();
    landed.into_iter().map(|(_, b)| b).collect()
}

/// Runs `pieces` one after another joined by `--state` (see [`alerts_in_pieces`]).
fn in_pieces(pieces: &[Vec<String>], threads: &[usize], name: &str) -> BTreeSet<(String, String)> {
    let pieces: Vec<Vec<u8>> = pieces.iter().map(|p| joined(p)).collect();
    alerts_in_pieces(&pieces, threads, &format!("event-time-{name}"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// Records delayed at random within 14 minutes (under the default 15): every verdict, not only
    /// the alerts, is that of the sorted delivery, at 1 to 4 threads.
    #[test]
    fn delays_within_the_bound_change_no_verdict(seed in 0u64..400, shuffle in any::<u64>(), threads in 1usize..5) {
        let lines = trail(seed);
        let d = delayed(&lines, 14 * MINUTE, &mut Rng(shuffle));
        prop_assume!(d != lines);
        let want = run(&joined(&sorted(&d)), Emit::All, 1);
        let got = run(&joined(&d), Emit::All, threads);
        prop_assert!(!alert_set(&want.stdout).is_empty());
        prop_assert_eq!(verdicts(&got.stdout), verdicts(&want.stdout));
        prop_assert_eq!(alert_set(&run(&joined(&d), Emit::Alerts, threads).stdout), alert_set(&want.stdout));
        prop_assert_eq!(got.stats.late, 0);
    }

    /// CloudTrail's delivery: per-region 5-minute files, unordered inside, landing up to 5 minutes
    /// late, global events in us-east-1. Alerts as if sorted.
    #[test]
    fn cloudtrail_files_change_no_alert(seed in 0u64..400, shuffle in any::<u64>(), threads in 1usize..5) {
        let lines = trail(seed);
        let files = cloudtrail_files(&lines, 5 * MINUTE, &mut Rng(shuffle));
        let want = run(&joined(&sorted(&lines)), Emit::Alerts, 1);
        let got = run(&joined(&files), Emit::Alerts, threads);
        prop_assert!(!alert_set(&want.stdout).is_empty());
        prop_assert_eq!(alert_set(&got.stdout), alert_set(&want.stdout));
        prop_assert_eq!(got.stats.late, 0);
    }

    /// A stretch of the delivery read again right after (a consumer's redelivery): the second
    /// copies are duplicates, judged never, and the alerts are those of one copy.
    #[test]
    fn an_overlap_changes_no_alert(seed in 0u64..400, shuffle in any::<u64>(), from in 0.0f64..1.0, len in 1usize..600) {
        let lines = trail(seed);
        let d = delayed(&lines, 10 * MINUTE, &mut Rng(shuffle));
        let at = ((d.len() as f64) * from) as usize;
        let end = (at + len).min(d.len());
        let mut twice = d[..end].to_vec();
        twice.extend_from_slice(&d[at..]);
        let want = run(&joined(&sorted(&d)), Emit::Alerts, 1);
        let got = run(&joined(&twice), Emit::Alerts, 2);
        prop_assert_eq!(alert_set(&got.stdout), alert_set(&want.stdout));
        // Records the detector has nothing to do with are passed on unread, duplicates or not.
        prop_assert!(got.stats.duplicates as usize <= end - at);
        prop_assert!(end - at < 50 || got.stats.duplicates > 0);
        let all = run(&joined(&twice), Emit::All, 1);
        let marked = records(&all.stdout).iter().filter(|r| r["credtrail"]["verdict"] == "duplicate").count();
        prop_assert_eq!(marked as u64, got.stats.duplicates, "--emit all marks each second copy");
    }

    /// The delivery cut at random points into runs joined by `--state`, the restart overlapping
    /// the records before the cut (what a consumer re-reads from its last committed offset), at
    /// random thread counts: the alerts of all runs are those of the sorted trail, each once.
    #[test]
    fn cuts_with_state_change_no_alert(
        seed in 0u64..400,
        shuffle in any::<u64>(),
        cuts in prop::collection::vec(0.0f64..1.0, 1..4),
        overlap in 0usize..200,
        threads in prop::collection::vec(1usize..5, 1..4),
    ) {
        let lines = trail(seed);
        let d = delayed(&lines, 10 * MINUTE, &mut Rng(shuffle));
        let mut at: Vec<usize> = cuts.iter().map(|c| ((d.len() as f64) * c) as usize).collect();
        at.sort();
        at.dedup();
        let mut pieces = Vec::new();
        let mut start: usize = 0;
        for &a in at.iter().chain(std::iter::once(&d.len())) {
            pieces.push(d[start.saturating_sub(overlap).min(a)..a].to_vec());
            start = a;
        }
        let want = run(&joined(&sorted(&d)), Emit::Alerts, 1);
        prop_assert_eq!(in_pieces(&pieces, &threads, &format!("{seed}-{shuffle}")), alert_set(&want.stdout));
    }
}

/// The case that made input order wrong, by hand: the instance's first call (eu-west-1, read
/// first) is issued by an AssumeRole logged in us-east-1 whose file lands later, and the thief
/// calls a minute after. In input order the call precedes its row and is not judged, so the
/// thief locks the session; in event time the instance locks and the thief alerts.
#[test]
fn an_assume_role_in_a_later_file_than_the_first_call() {
    let input = lines(&[
        call("instance", 1.0, "3.3.3.3"),
        issue("ar", 0.0),
        call("thief", 2.0, "9.9.9.9"),
    ]);
    for threads in [1, 2] {
        let r = run(&input, Emit::Alerts, threads);
        assert_eq!(alerts(&r.stdout), ["thief"], "--threads {threads}");
        assert_eq!((r.stats.late, r.stats.held), (0, 0));
    }
    // --lateness 0 is input order: the control that shows the window is what catches it. The
    // instance's call finds no row, and the thief's locks the session: nothing alerts.
    let r = run_cfg(Config {
        inputs: vec![Input::Memory("delivery".into(), input.clone())],
        lateness: 0,
        ..Config::default()
    });
    assert_eq!(alerts(&r.stdout), Vec::<String>::new());
}

/// A record later than the bound is judged when it comes and counted; one dated past the wall
/// clock moves no watermark, even as the first record, so the trail after it is judged as usual.
#[test]
fn late_and_far_future_records_are_counted() {
    let mut far = call("future", 0.5, "7.7.7.7");
    far["eventTime"] = "2099-01-01T00:00:00Z".into();
    let input = lines(&[
        far,
        issue("ar", 0.0),
        call("a", 1.0, "3.3.3.3"),
        call("b", 40.0, "3.3.3.3"),
        call("late", 2.0, "9.9.9.9"),
        call("c", 41.0, "9.9.9.9"),
    ]);
    let r = run(&input, Emit::Alerts, 2);
    // `late` is 38 minutes behind `b`: judged when it comes, against the lock `a` set.
    assert_eq!(alerts(&r.stdout), ["late", "c"]);
    assert_eq!((r.stats.late, r.stats.far_future), (1, 1));
    assert!(r.stderr.is_empty() || !r.stderr.contains("panicked"));
    let summary = r.stats.summary();
    assert!(
        summary.contains("1 late") && summary.contains("1 far-future"),
        "{summary}"
    );
}

/// The state of an earlier version is refused with what to do; the position and watermark a
/// consumer resumes from are in the state and the summary.
#[test]
fn the_state_names_where_to_resume() {
    let dir = std::env::temp_dir().join(format!("credtrail-event-time-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state.bin");
    let input = lines(&[
        issue("ar", 0.0),
        call("a", 1.0, "3.3.3.3"),
        call("b", 30.0, "3.3.3.3"),
    ]);
    let out = bin().args(["--state"]).arg(&state).output_with_stdin(&input);
    let snap = credtrail::detect::state::load(&state).unwrap();
    assert_eq!(snap.order.position, 3);
    assert_eq!(snap.order.arrived.get(), event_time::parse(&at(30.0)));
    assert!(out.contains("resume after line 3"), "{out}");
    let mut bytes = std::fs::read(&state).unwrap();
    bytes[16] = 1;
    std::fs::write(&state, &bytes).unwrap();
    let out = bin().args(["--state"]).arg(&state).output_with_stdin(b"");
    assert!(
        out.contains("version 1") && out.contains("--state-reset"),
        "{out}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

trait WithStdin {
    fn output_with_stdin(&mut self, input: &[u8]) -> String;
}

impl WithStdin for std::process::Command {
    /// Runs with `input` on stdin; stderr as text.
    fn output_with_stdin(&mut self, input: &[u8]) -> String {
        use std::io::Write;
        let mut child = self
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

/// Two thefts delivered out of order within `--lateness`: `--emit alerts` writes them when
/// judged, in event-time order, and `--emit all` writes every line in input order, at 1 and 2
/// threads and in the sequential reference (README, "Output"; the detector fuzz target found the
/// two orders, which README had described as one). (Mutation: `--lateness 0`, which judges in
/// input order, fails the first assertion.)
#[test]
fn alerts_are_written_in_event_time_order_and_all_in_input_order() {
    let input = lines(&[
        issue("issue", 0.0),
        call("lock", 1.0, "3.3.3.3"),
        call("later", 3.0, "9.9.9.9"),
        call("earlier", 2.0, "8.8.8.8"),
    ]);
    for threads in [1, 2] {
        let alerted = run(&input, Emit::Alerts, threads);
        assert_eq!(
            alerts(&alerted.stdout),
            ["earlier", "later"],
            "--threads {threads}"
        );
        let all = run(&input, Emit::All, threads);
        assert_eq!(alerts(&all.stdout), ["later", "earlier"], "--threads {threads}");
        let ids: Vec<String> = records(&all.stdout)
            .iter()
            .map(|v| v["eventID"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids, ["issue", "lock", "later", "earlier"]);
    }
    let cfg = Config {
        inputs: vec![Input::Memory("delivery".into(), input.clone())],
        emit: Emit::Alerts,
        ..Config::default()
    };
    let mut seq = Vec::new();
    credtrail::run_sequential(&cfg, &mut seq, &mut Vec::new()).unwrap();
    assert_eq!(alerts(&seq), ["earlier", "later"], "the sequential reference");
}
