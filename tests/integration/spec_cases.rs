//! The detection contract's executable examples (`../shared/spec/cases`): for every
//! `NN-name.ndjson`, the `eventID`s in `NN-name.expected` and only those come out as `compromise`,
//! in that order, whatever the thread count, whether read as a file, from stdin, or in
//! `--emit all`.

use crate::common::*;
use credtrail::{Config, Emit, Input};
use std::fs;

/// Cases whose expectation followed input order, and what event time makes of them. 45: the
/// thief's call `b` (00:05) is read 96 minutes behind the newest record, past --lateness: it is
/// late and judged when it comes, while the AssumeRole (01:40) still waits in the window, so no
/// row is there to judge it against.
const EVENT_TIME_CHANGED: &[(&str, &[&str])] = &[("45-input-order--not-eventtime-order.ndjson", &[])];

fn cases() -> Vec<(String, Vec<u8>, Vec<String>)> {
    let dir = shared().join("spec/cases");
    let mut out = Vec::new();
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "ndjson") {
            let expected = fs::read_to_string(path.with_extension("expected")).unwrap();
            let want = expected
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let want = match EVENT_TIME_CHANGED.iter().find(|(n, _)| *n == name) {
                Some((_, now)) => now.iter().map(|s| s.to_string()).collect(),
                None => want,
            };
            out.push((name, fs::read(&path).unwrap(), want));
        }
    }
    out.sort();
    assert!(
        out.len() >= 47,
        "expected the contract's cases in {}",
        dir.display()
    );
    out
}

#[test]
fn every_case_at_every_thread_count() {
    let mut failures = Vec::new();
    for (name, input, want) in cases() {
        for threads in [1, 2, 3, 4, 8] {
            let got = alerts(&run_lib(&input, Emit::Alerts, threads).stdout);
            if got != want {
                failures.push(format!(
                    "{name} --threads {threads}: expected {want:?}, got {got:?}"
                ));
            }
            let all = run_lib(&input, Emit::All, threads);
            let got = alerts(&all.stdout);
            if got != want {
                failures.push(format!(
                    "{name} --emit all --threads {threads}: expected {want:?}, got {got:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_case_through_the_binary_as_file_and_stdin() {
    for (name, input, want) in cases() {
        let path = shared().join("spec/cases").join(&name);
        let out = bin().arg(&path).output().unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(alerts(&out.stdout), want, "{name} as a file");
        let out = run_bin(&[], &input);
        assert_eq!(alerts(&out.stdout), want, "{name} on stdin");
    }
}

#[test]
fn all_cases_concatenated_as_separate_inputs_keep_their_own_answers() {
    // State carries across inputs (they are one trail), and the cases reuse one instance id; so
    // concatenation is not expected to give the same alerts, but it must give the same alerts for
    // any thread count and lose no line.
    let cases = cases();
    let inputs: Vec<Input> = cases
        .iter()
        .map(|(n, b, _)| Input::Memory(n.clone(), b.clone()))
        .collect();
    let run = |threads| {
        run_cfg(Config {
            inputs: inputs.clone(),
            emit: Emit::All,
            threads,
            ..Config::default()
        })
    };
    let one = run(1);
    for threads in [2, 4] {
        let many = run(threads);
        assert_eq!(one.stdout, many.stdout, "--threads {threads}");
        assert_eq!(one.stats, many.stats);
    }
}
