//! Items of the adversarial and newcomer review that had no test of their own: a far-future first
//! record saved into `--state`, the limits `--help` must name, and a released version in the
//! changelog.

use crate::common::trail::{call, issue, lines};
use crate::common::*;
use credtrail::{Config, Emit, Input};

/// A first record dated 2099, then the session's AssumeRole and lock, saved into `--state`; the
/// next run reads the theft and alerts. Before, the first record became the watermark unclamped,
/// every session expired against it, and saved in the state it blinded every later run too.
/// (Mutation: letting a first record set the watermark, `far_future` skipped while there is none,
/// fails it: the record is not counted far-future and the state saves a 2099 watermark.)
#[test]
fn a_far_future_first_record_does_not_blind_later_runs_through_the_state() {
    let dir = std::env::temp_dir().join(format!("credtrail-far-first-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state.bin");
    let mut far = call("future", 0.5, "7.7.7.7");
    far["eventTime"] = "2099-01-01T00:00:00Z".into();
    far["userIdentity"]["arn"] = "arn:aws:sts::123456789012:assumed-role/app-role/i-0000000000000000f".into();
    let run = |name: &str, records: &[serde_json::Value]| {
        run_cfg(Config {
            inputs: vec![Input::Memory(name.into(), lines(records))],
            emit: Emit::Alerts,
            threads: 2,
            state: Some(state.clone()),
            release_at_end: true,
            ..Config::default()
        })
    };
    let first = run("first", &[far, issue("issue", 0.0), call("lock", 1.0, "3.3.3.3")]);
    assert_eq!(first.stats.far_future, 1, "{}", first.stats.summary());
    let second = run("second", &[call("theft", 2.0, "203.0.113.9")]);
    assert_eq!(alerts(&second.stdout), ["theft"], "{}", second.stats.summary());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--help` names `--max-sessions`' minimum and the units `--max-line-bytes` takes, both spellings
/// (`MB` and `MiB`), as the values accepted; and the values it names are accepted. (Mutation:
/// dropping `MB` from the size parser fails the last run.)
#[test]
fn help_names_the_limits_it_enforces() {
    let out = bin().arg("--help").env("COLUMNS", "200").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("at least 1000"), "{help}");
    for unit in ["KiB", "MB", "MiB", "GB"] {
        assert!(help.contains(unit), "{unit} in\n{help}");
    }
    for size in ["1MB", "1MiB", "1000000"] {
        let out = bin()
            .args(["--max-line-bytes", size, "--max-sessions", "1000"])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{size}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = bin()
        .args(["--max-sessions", "999"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "below the minimum named");
}

/// CHANGELOG.md has a section for the version Cargo.toml declares (a release, not only
/// Unreleased), dated, under Unreleased. (Mutation: a version bump without its section fails it.)
#[test]
fn the_changelog_has_a_section_for_this_version() {
    let changelog = std::fs::read_to_string(repo("CHANGELOG.md")).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    let headings: Vec<&str> = changelog.lines().filter(|l| l.starts_with("## ")).collect();
    assert_eq!(headings.first(), Some(&"## Unreleased"), "{headings:?}");
    let ours = headings
        .iter()
        .find(|h| h.starts_with(&format!("## {version} ")))
        .unwrap_or_else(|| panic!("no `## {version} — DATE` section in {headings:?}"));
    let date = ours.rsplit(' ').next().unwrap();
    assert!(
        date.len() == 10 && date.as_bytes()[4] == b'-' && date.as_bytes()[7] == b'-',
        "{ours}"
    );
}
