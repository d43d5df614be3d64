//! What a newcomer reads: `--help` fits the terminal, the summary's counts mean what they say.

use crate::common::trail::{ACCOUNT, at, call, issue, lines};
use crate::common::*;
use credtrail::Emit;

fn widest(text: &[u8]) -> usize {
    String::from_utf8_lossy(text)
        .lines()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
}

/// `--help` is wrapped to the terminal's width (`COLUMNS` here), and to 100 columns when there is
/// no terminal; before, its lines ran to 245 characters. (Mutation: clap without `wrap_help`
/// fails the first assertion.)
#[test]
fn help_is_wrapped_to_the_terminal() {
    let out = bin().arg("--help").env("COLUMNS", "80").output().unwrap();
    assert!(out.status.success());
    assert!(
        widest(&out.stdout) <= 80,
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = bin().arg("--help").env_remove("COLUMNS").output().unwrap();
    assert!(
        widest(&out.stdout) <= 100,
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// "sessions live" counts the sessions not yet expired at the end of the input: one issued at
/// 00:00 (expired at 06:00) and still kept at 06:30 for late records is not live; the one issued
/// at 06:30 is. Before, the summary said 2. (Mutation: reporting the rows held says 2.)
#[test]
fn sessions_live_counts_only_the_unexpired() {
    let mut later = issue("late-issue", 390.0);
    let other = "i-0fedcba9876543210";
    later["requestParameters"]["roleSessionName"] = serde_json::json!(other);
    assert_eq!(at(390.0), "2024-03-01T06:30:00Z");
    let mut records = vec![issue("issue", 0.0), call("lock", 1.0, "3.3.3.3"), later];
    // One record moves the watermark by an hour at most: enough calls to bring it to 06:30.
    let arn = format!("arn:aws:sts::{ACCOUNT}:assumed-role/app-role/{other}");
    for i in 0..8 {
        let mut c = call(&format!("late-call-{i}"), 391.0 + f64::from(i), "4.4.4.4");
        c["userIdentity"]["arn"] = serde_json::json!(arn);
        records.push(c);
    }
    let input = lines(&records);
    let run = run_lib(&input, Emit::Alerts, 2);
    assert_eq!(run.stats.sessions, 1, "{}", run.stats.summary());
    assert!(
        run.stats.summary().contains("1 sessions live"),
        "{}",
        run.stats.summary()
    );
}
