//! What a restart from `--state` keeps beyond the table: the same-account locks (an alert after
//! the restart still names the other instance) and the open incidents (one theft across the cut
//! stays one finding, one id, its lines numbered on). Each run over the trail cut in two is
//! compared with one run over the whole.

use crate::common::trail::*;
use crate::common::*;
use credtrail::{Config, Emit, Input};
use serde_json::{Value, json};
use std::path::PathBuf;

/// A record of instance `inst` of account ACCOUNT under role `web-role`: issue or call.
fn peer_record(kind: &str, id: &str, minutes: f64, inst: &str, ip: &str) -> Value {
    if kind == "issue" {
        let mut r = issue(id, minutes);
        r["requestParameters"] =
            json!({"roleArn": format!("arn:aws:iam::{ACCOUNT}:role/web-role"), "roleSessionName": inst});
        r
    } else {
        let mut r = call(id, minutes, ip);
        r["userIdentity"]["arn"] = json!(format!("arn:aws:sts::{ACCOUNT}:assumed-role/web-role/{inst}"));
        r
    }
}

fn state_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("credtrail-restart-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The output of each run over `pieces` joined by one `--state`, the last judging what is left.
fn in_pieces(pieces: &[&[Value]], emit: Emit, threads: usize, name: &str) -> Vec<Vec<u8>> {
    let dir = state_dir(name);
    let state = dir.join("state.bin");
    let outs = pieces
        .iter()
        .enumerate()
        .map(|(i, piece)| {
            run_cfg(Config {
                inputs: vec![Input::Memory("piece".into(), lines(piece))],
                emit,
                threads,
                state: Some(state.clone()),
                release_at_end: i + 1 == pieces.len(),
                ..Config::default()
            })
            .stdout
        })
        .collect();
    std::fs::remove_dir_all(&dir).unwrap();
    outs
}

/// i-0bbb… locks 4.4.4.4 before the cut; after it INSTANCE's credentials come from 4.4.4.4. The
/// alert names the peer as a single run does. The first piece ends twenty minutes on, so its
/// records leave the reorder window in that run and the lock is taken before the cut. (Mutation:
/// not importing the saved locks drops `same_account_peer` from the second run's alert.)
#[test]
fn a_restart_keeps_the_same_account_peer() {
    let peer = "i-0bbbbbbbbbbbbbbb2";
    let before = [
        issue("ar", 0.0),
        call("a", 1.0, "3.3.3.3"),
        peer_record("issue", "ar2", 0.5, peer, ""),
        peer_record("call", "p", 1.5, peer, "4.4.4.4"),
        peer_record("call", "p2", 20.0, peer, "4.4.4.4"),
    ];
    let after = [call("b", 21.0, "4.4.4.4")];
    let whole: Vec<Value> = before.iter().chain(&after).cloned().collect();
    for emit in [Emit::Alerts, Emit::All] {
        for threads in [1, 3] {
            let one = run_lib(&lines(&whole), emit, threads).stdout;
            let b_of = |out: &[u8]| {
                records(out)
                    .into_iter()
                    .find(|r| r["eventID"] == "b")
                    .map(|r| r["credtrail"].clone())
            };
            let expected = b_of(&one).expect("one run alerts b");
            assert_eq!(expected["verdict"], "compromise");
            assert_eq!(expected["same_account_peer"]["instance_id"], peer);
            let outs = in_pieces(&[&before, &after], emit, threads, "peer");
            assert_eq!(b_of(&outs[0]), None, "{emit:?}: b is after the cut");
            assert_eq!(
                b_of(&outs[1]),
                Some(expected),
                "{emit:?}, {threads} threads: the restart lost the peer"
            );
            assert_eq!(
                outs.concat(),
                one,
                "{emit:?}, {threads} threads: the two runs together differ from one"
            );
        }
    }
}

/// `--emit findings`: 9.9.9.9 steals INSTANCE's credentials before the cut and calls again after
/// it. One run writes Create, Update (the lock's own call 18 minutes on, the session contested),
/// Update (a new operation) and Close of one incident; the two runs write the same lines, the
/// first the Create (its incident stays open in the state; the lock's call, the newest record
/// read, waits in the window), the second both Updates and the Close, with the same id and
/// sequence numbers going on. (Mutation:
/// closing every incident at the end of a `--state` run writes a Close in the first run and a
/// second incident in the second; not importing the saved incidents writes a second Create.)
#[test]
fn a_restart_keeps_one_incident_one_finding() {
    let before = [
        issue("ar", 0.0),
        call("a", 1.0, "3.3.3.3"),
        call("b", 2.0, "9.9.9.9"),
        call("a2", 20.0, "3.3.3.3"),
    ];
    let mut c = call("c", 21.0, "9.9.9.9");
    c["eventName"] = json!("PutObject");
    let after = [c];
    let whole: Vec<Value> = before.iter().chain(&after).cloned().collect();
    let activities = |out: &[u8]| -> Vec<(String, String, String)> {
        records(out)
            .iter()
            .map(|f| {
                (
                    f["activity_name"].as_str().unwrap_or_default().to_owned(),
                    f["finding_info"]["uid"].as_str().unwrap_or_default().to_owned(),
                    f["metadata"]["uid"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    };
    for threads in [1, 3] {
        let one = run_lib(&lines(&whole), Emit::Findings, threads).stdout;
        let expected = activities(&one);
        let names: Vec<&str> = expected.iter().map(|a| a.0.as_str()).collect();
        assert_eq!(names, ["Create", "Update", "Update", "Close"], "one run");
        assert!(expected.iter().all(|a| a.1 == expected[0].1), "one incident");
        let outs = in_pieces(&[&before, &after], Emit::Findings, threads, "incident");
        assert_eq!(
            activities(&outs[0]),
            expected[..1],
            "{threads} threads: the first run"
        );
        assert_eq!(
            activities(&outs[1]),
            expected[1..],
            "{threads} threads: the second run"
        );
        assert_eq!(
            outs.concat(),
            one,
            "{threads} threads: the lines differ from one run's"
        );
    }
}
