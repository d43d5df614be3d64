//! The idle release (`--idle-release`) on a live pipe: what it writes, and that the blocks read
//! while it writes are not left behind.

use crate::common::trail::*;
use crate::common::*;
use std::io::{Read, Write};
use std::process::Stdio;
use std::time::Duration;

/// A trail of `n` calls a second apart from `start` seconds, the first one with the issue.
fn calls(prefix: &str, start: usize, n: usize) -> Vec<u8> {
    let records: Vec<_> = (start..start + n)
        .map(|i| call(&format!("{prefix}{i}"), i as f64 / 60.0, "AWS Internal"))
        .collect();
    lines(&records)
}

/// The idle release writes what the window held while the reader of stdout is not reading, so it
/// holds the turn, blocked, when the last block arrives and the input ends: that block must still
/// be judged and written. On the first version the idle watcher let the turn go without looking at
/// the inbox, and the block read meanwhile (the last of the input) was never written: 8 000 lines
/// in, 7 000 out, exit 0. (Mutation: dropping the inbox look after the idle release fails this.)
#[test]
fn a_block_read_during_the_idle_release_is_written() {
    for threads in ["1", "2"] {
        let mut child = bin()
            // A day of lateness: every record waits in the window until the input is idle.
            .args([
                "--emit",
                "all",
                "--lateness",
                "1d",
                "--dedupe-horizon",
                "1d",
                "--idle-release",
                "10ms",
                "--threads",
                threads,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut first = lines(&[issue("ar", 0.0)]);
        // Some 2 MB: more than a pipe holds, so the release blocks on the unread stdout.
        first.extend(calls("a", 1, 6_999));
        stdin.write_all(&first).unwrap();
        stdin.flush().unwrap();
        // Idle: the release starts and blocks writing.
        std::thread::sleep(Duration::from_millis(600));
        let last = calls("b", 7_000, 1_000);
        stdin.write_all(&last).unwrap();
        drop(stdin);
        // The input has ended and the last block is parsed before anyone reads stdout.
        std::thread::sleep(Duration::from_millis(600));
        let mut out = Vec::new();
        child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
        let mut err = String::new();
        child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        assert!(child.wait().unwrap().success(), "{err}");
        let n = out.split(|&c| c == b'\n').filter(|l| !l.is_empty()).count();
        assert_eq!(n, 8_000, "--threads {threads}: lines out of 8 000 in; {err}");
    }
}
