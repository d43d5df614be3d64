//! The idle release (`--idle-release`) on a live pipe: what it writes, and that the blocks read
//! while it writes are not left behind.

use crate::common::trail::*;
use crate::common::*;
use credtrail::{Config, Emit, Input};
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

/// Lines of stdout as they come, on a thread.
fn stream(out: impl Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines() {
            if tx.send(line.unwrap_or_default()).is_err() {
                return;
            }
        }
    });
    rx
}

/// The next line whose record has `id`, waiting at most `limit`.
fn line_of(rx: &std::sync::mpsc::Receiver<String>, id: &str, limit: Duration) -> Option<String> {
    let end = std::time::Instant::now() + limit;
    let key = format!("\"eventID\":\"{id}\"");
    loop {
        let left = end.checked_duration_since(std::time::Instant::now())?;
        match rx.recv_timeout(left) {
            Ok(l) if l.contains(&key) => return Some(l),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

/// A call of another instance, whose AssumeRole the trail has not given.
fn stranger(id: &str, minutes: f64) -> serde_json::Value {
    let mut v = call(id, minutes, "3.3.3.3");
    v["userIdentity"]["arn"] = SESSION.replace(INSTANCE, "i-0fffffffffffffff0").into();
    v
}

/// On an idle pipe, a call from a lock older than `--lateness` comes out after the short idle,
/// long before `--idle-release` (10 s here: anything written within it is the short release's);
/// a call that truly waits (a session whose AssumeRole has not come) stays until the input ends;
/// a record that then arrives within the bound but sorts before the early release says so.
/// (Mutations: `release_settled` releasing nothing fails the first; `settled` true for any call
/// fails the second; no mark on `Admit::Overtook` fails the third.)
#[test]
fn a_settled_call_leaves_an_idle_pipe_at_once_and_a_waiting_one_waits() {
    let mut child = bin()
        .args(["--emit", "all", "--idle-release", "10s"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let rx = stream(child.stdout.take().unwrap());
    // The session locks 3.89.12.7 at minute 1; at minute 20 that lock is 19 minutes old.
    stdin
        .write_all(&lines(&[
            issue("ar", 0.0),
            call("c1", 1.0, "3.89.12.7"),
            call("c20", 20.0, "3.89.12.7"),
        ]))
        .unwrap();
    stdin.flush().unwrap();
    let settled = line_of(&rx, "c20", Duration::from_secs(5));
    let settled = settled.expect("the settled call was not written within 5 s (--idle-release 10s)");
    assert!(settled.contains("\"verdict\":\"locked\""), "{settled}");
    assert!(!settled.contains("overtook_early_release"), "{settled}");

    stdin.write_all(&lines(&[stranger("s21", 21.0)])).unwrap();
    stdin.flush().unwrap();
    assert_eq!(
        line_of(&rx, "s21", Duration::from_secs(1)),
        None,
        "a call of a session without its AssumeRole left before --idle-release"
    );
    // Minute 10: within the 15 minutes of lateness, but after the minute-20 call was released.
    stdin
        .write_all(&lines(&[call("c10", 10.0, "3.89.12.7")]))
        .unwrap();
    drop(stdin);
    // Input order: the waiting call's line, then the minute-10 one.
    assert!(line_of(&rx, "s21", Duration::from_secs(20)).is_some(), "s21 lost");
    let late = line_of(&rx, "c10", Duration::from_secs(20)).expect("the minute-10 call");
    assert!(late.contains("\"overtook_early_release\":true"), "{late}");
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(child.wait().unwrap().success(), "{err}");
    assert!(err.contains("1 overtook an early release"), "{err}");
}

/// A credential issue for the stranger of [`stranger`].
fn stranger_issue(id: &str, minutes: f64) -> serde_json::Value {
    let mut v = issue(id, minutes);
    v["requestParameters"]["roleSessionName"] = "i-0fffffffffffffff0".into();
    v
}

/// One run on a live pipe with `args`: `first` is written, then, once the record `early` has come
/// out (released early by the short idle), `then`, and the input ends. The lines written and the
/// summary.
fn around_an_early_release(
    args: &[&str],
    first: &[serde_json::Value],
    early: &str,
    then: &[serde_json::Value],
) -> (Vec<String>, String) {
    let mut child = bin()
        .args(["--emit", "all", "--idle-release", "10s"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let rx = stream(child.stdout.take().unwrap());
    stdin.write_all(&lines(first)).unwrap();
    stdin.flush().unwrap();
    let mut out = Vec::new();
    let key = format!("\"eventID\":\"{early}\"");
    while !out.last().is_some_and(|l: &String| l.contains(&key)) {
        let line = rx.recv_timeout(Duration::from_secs(5));
        out.push(line.unwrap_or_else(|_| panic!("{early} was not released within 5 s: {out:?}")));
    }
    stdin.write_all(&lines(then)).unwrap();
    drop(stdin);
    out.extend(rx.iter());
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(child.wait().unwrap().success(), "{err}");
    (out, err)
}

/// Each record's verdict (its `credtrail` object) by `eventID`.
fn verdicts(lines: &[String]) -> std::collections::BTreeMap<String, serde_json::Value> {
    lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|r| (r["eventID"].as_str().unwrap().to_owned(), r["credtrail"].clone()))
        .collect()
}

/// A restart right after an early release judges as one run does. One run: the minute-20 call
/// leaves the idle pipe early; then the stranger's minute-21 call (waiting for its AssumeRole),
/// the minute-10 call (it overtook the early release: marked) and the stranger's AssumeRole at
/// minute 20.5 (in time for its call). Cut with `--state` right after the early release, the
/// second run must still know the early release (the minute-10 call waits, marked, instead of
/// being late and releasing the stranger's call before its AssumeRole); cut after the minute-10
/// call, the saved window must still know it overtook. (Mutation: saving neither the early
/// release's time nor the overtakers, as the state format 5 did, leaves c10 unmarked in both
/// cuts, counts it late in the first, and judges s21 without its session.)
#[test]
fn a_restart_after_an_early_release_judges_as_one_run() {
    let first = [
        issue("ar", 0.0),
        call("c1", 1.0, "3.89.12.7"),
        call("c20", 20.0, "3.89.12.7"),
    ];
    let rest = [
        stranger("s21", 21.0),
        call("c10", 10.0, "3.89.12.7"),
        stranger_issue("ar2", 20.5),
    ];
    for threads in ["1", "2"] {
        let (one, err) = around_an_early_release(&["--threads", threads], &first, "c20", &rest);
        let want = verdicts(&one);
        assert_eq!(want.len(), 6, "{one:?}");
        assert_eq!(want["c10"]["overtook_early_release"], true, "{one:?}");
        assert!(err.contains("1 overtook an early release"), "{err}");
        assert!(!err.contains("late (judged when they came)"), "{err}");
        for cut in 0..=rest.len() {
            let dir = tempfile::tempdir().unwrap();
            let state = dir.path().join("state.bin");
            let state_arg = state.to_str().unwrap();
            let args = ["--threads", threads, "--state", state_arg];
            let (mut out, err) = around_an_early_release(&args, &first, "c20", &rest[..cut]);
            let second = run_cfg(Config {
                inputs: vec![Input::Memory("rest".into(), lines(&rest[cut..]))],
                emit: Emit::All,
                state: Some(state.clone()),
                release_at_end: true,
                ..Config::default()
            });
            out.extend(
                String::from_utf8(second.stdout)
                    .unwrap()
                    .lines()
                    .map(str::to_owned),
            );
            assert_eq!(
                verdicts(&out),
                want,
                "--threads {threads}, cut after {cut} of the rest"
            );
            let overtook = u64::from(err.contains("1 overtook an early release"));
            let late = u64::from(err.contains("late (judged when they came)"));
            assert_eq!(
                (overtook + second.stats.overtook, late + second.stats.late),
                (1, 0),
                "--threads {threads}, cut after {cut}: {err} {}",
                second.stderr
            );
        }
    }
}
