//! The `--state` file: saved when the reader of stdout goes away, held by one process at a time,
//! checked before input is read.

use crate::common::trail::{call, issue, lines};
use crate::common::*;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Stdio;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("credtrail-hardening-state-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `credtrail --emit all --state S FILE | head -1`: the run ends with exit 0, nothing on stderr,
/// and the state saved with the session it judged. Before, a closed stdout skipped the save, so a
/// forwarder's restart lost the table. (Mutation: returning early when closed, as before, leaves
/// no state file, which loads as an empty table.)
#[test]
fn a_reader_going_away_still_leaves_the_state_saved() {
    let dir = scratch("head");
    let state = dir.join("state.bin");
    let input = dir.join("in.ndjson");
    // Far more than the 1 MiB pipe buffer, so that the writes after the reader left fail.
    let mut records = vec![issue("issue", 0.0)];
    records.extend((0..30_000).map(|i| call(&format!("c{i}"), 1.0, "3.3.3.3")));
    std::fs::write(&input, lines(&records)).unwrap();
    // --lateness 0: lines go out as read, as the reader needs (with a window they would wait in
    // the state for the next run).
    let mut child = bin()
        .args(["--emit", "all", "--threads", "2", "--lateness", "0s", "--state"])
        .arg(&state)
        .arg(&input)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(first.contains("\"issue\""), "{first}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "");
    let saved = credtrail::detect::state::load(&state).expect("state saved");
    assert_eq!(saved.sessions(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A second process on a state file in use stops before reading any input (exit 1), naming the
/// process that holds it. Before, both ran and the last to save lost the other's sessions.
/// (Mutation: not taking the lock in `run` lets the run go on and print the alert.)
#[test]
fn a_state_file_in_use_is_refused_naming_its_holder() {
    let dir = scratch("lock");
    let state = dir.join("state.bin");
    let held = credtrail::detect::state_file::hold(&state).unwrap();
    let input = lines(&[
        issue("i", 0.0),
        call("a", 1.0, "3.3.3.3"),
        call("b", 2.0, "9.9.9.9"),
    ]);
    let state_arg = state.display().to_string();
    let out = run_bin(&["--state", &state_arg], &input);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty(), "input was read");
    assert!(
        stderr.contains(&format!(
            "--state {state_arg}: in use by process {}",
            std::process::id()
        )),
        "{stderr}"
    );
    drop(held);
    // --release-at-end: judged now, not held in the state for a next run.
    let out = run_bin(&["--state", &state_arg, "--release-at-end"], &input);
    assert_eq!(alerts(&out.stdout), ["b"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A state folder that does not exist is reported before any input is read, not at the first
/// save after the whole input was judged.
#[test]
fn a_state_folder_that_cannot_take_the_file_is_refused_up_front() {
    let dir = scratch("nofolder");
    let state = dir.join("missing/state.bin").display().to_string();
    let input = lines(&[
        issue("i", 0.0),
        call("a", 1.0, "3.3.3.3"),
        call("b", 2.0, "9.9.9.9"),
    ]);
    let out = run_bin(&["--state", &state], &input);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty(), "input was read");
    assert!(
        stderr.contains(&state) && stderr.contains("does not exist"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A second SIGTERM while the first is still being honoured (here, stuck writing to a reader that
/// never reads) ends the process at once, with exit 1 and a message saying what is lost. Before,
/// it ended with exit 1 and nothing said. (Mutation: exiting without the message fails it.)
#[test]
fn a_second_signal_exits_at_once_and_says_so() {
    let dir = scratch("signal");
    let input = dir.join("in.ndjson");
    let mut records = vec![issue("issue", 0.0)];
    records.extend((0..20_000).map(|i| call(&format!("c{i}"), 1.0, "3.3.3.3")));
    std::fs::write(&input, lines(&records)).unwrap();
    let mut child = bin()
        .args(["--emit", "all"])
        .arg(&input)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let kill = |pid: u32| {
        let ok = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    };
    // Until the output pipe is full: then the run cannot finish while stdout is not read.
    std::thread::sleep(std::time::Duration::from_millis(500));
    kill(child.id());
    std::thread::sleep(std::time::Duration::from_millis(300));
    kill(child.id());
    let stderr_pipe = child.stderr.take().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut BufReader::new(stderr_pipe), &mut stderr).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(credtrail::signals::second_signal_status(libc::SIGTERM)),
        "{stderr}"
    );
    assert!(stderr.contains("SIGTERM again: exiting at once"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}
