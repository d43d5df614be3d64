//! Signals stop a run as documented: the first finishes and saves what was read and leaves the line
//! being read unread; a second exits at once, saying so.

use crate::common::trail::*;
use crate::common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on the pid of a child this test spawned and has not reaped.
    let r = unsafe { libc::kill(child.id() as i32, sig) };
    assert_eq!(r, 0, "kill");
}

fn wait_timeout(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    None
}

/// Three whole lines and half of a fourth are in the pipe when the signal comes: the three are
/// judged, written and saved, the half line is neither written with `--emit all` nor counted as
/// malformed, and the exit is 0; for SIGTERM and SIGINT, at one and two threads. (Mutation: with
/// the reader handing the half line on at the stop, as it did, the output has a fourth line and
/// the summary `1 malformed`.)
#[test]
fn a_signal_mid_line_finishes_the_whole_lines_and_leaves_the_half_line_unread() {
    for (sig, threads) in [(libc::SIGTERM, "1"), (libc::SIGINT, "2")] {
        let dir = std::env::temp_dir().join(format!("credtrail-sig-{}-{sig}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let state = dir.join("state.bin");
        let mut child = bin()
            .args(["--emit", "all", "--threads", threads, "--state"])
            .arg(&state)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let whole = lines(&[
            issue("ar", 0.0),
            call("a", 1.0, "3.3.3.3"),
            call("b", 2.0, "9.9.9.9"),
        ]);
        let next = call("c", 3.0, "9.9.9.9").to_string();
        let half = &next.as_bytes()[..next.len() / 2];
        stdin.write_all(&[&whole[..], half].concat()).unwrap();
        stdin.flush().unwrap();
        let mut got = Vec::new();
        for _ in 0..3 {
            let mut line = String::new();
            out.read_line(&mut line).unwrap();
            got.push(line);
        }
        assert!(got[2].contains("\"compromise\""), "{got:?}");
        // Time for the reader to have taken the half line in.
        std::thread::sleep(Duration::from_millis(300));
        signal(&child, sig);
        let status = wait_timeout(&mut child, Duration::from_secs(10)).expect("exits after the signal");
        let mut rest = Vec::new();
        out.read_to_end(&mut rest).unwrap();
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        assert!(status.success(), "signal {sig}: {status:?} {stderr}");
        assert_eq!(
            String::from_utf8_lossy(&rest),
            "",
            "signal {sig}: nothing after the whole lines"
        );
        assert!(stderr.contains("stopping"), "signal {sig}: {stderr}");
        assert!(
            stderr.contains("credtrail: 3 records, 2 judged, 1 alerts, 0 malformed"),
            "signal {sig}: {stderr}"
        );
        let snap = credtrail::detect::state::load(&state).unwrap();
        assert_eq!(snap.sessions(), 1);
        drop(stdin);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// A run that cannot finish (its stdout is never read, so the writer is stuck) gets a second
/// SIGTERM: it says so and exits at once with 143. (Mutation: without the second-signal exit the
/// run stays stuck and the wait times out.)
#[test]
fn a_second_signal_exits_at_once_with_a_message() {
    let mut child = bin()
        .args(["--emit", "all", "--threads", "1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let _stdout = child.stdout.take().unwrap();
    // Far more than the pipes on both sides hold (1 MiB each when widened).
    let one = lines(&[call("x", 1.0, "3.3.3.3")]);
    let data = one.repeat((16 << 20) / one.len());
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "still running, stuck on its output"
    );
    signal(&child, libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the first signal waits for the output"
    );
    signal(&child, libc::SIGTERM);
    let status = wait_timeout(&mut child, Duration::from_secs(10)).expect("exits after the second signal");
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(status.code(), Some(143), "{stderr}");
    assert!(stderr.contains("SIGTERM again: exiting at once"), "{stderr}");
    drop(_stdout);
    let _ = feeder.join();
}
