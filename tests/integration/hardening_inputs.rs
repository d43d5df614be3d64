//! Inputs that used to blind or stop a run over several files: a truncated gzip among them, a
//! loop of links or an unreadable directory in a tree. Each is named on stderr, the rest is read,
//! the summary is printed, and the exit status is 1 (an input could not be read), not 2 (usage).

use crate::common::trail::{call, issue, lines};
use crate::common::*;
use std::io::Write;
use std::path::PathBuf;

fn scratch(name: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!("credtrail-hardening-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    root
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// A session issued in the first file, locked and then stolen in the last: the alert is seen only
/// if the files between them do not stop the run.
fn theft_around(middle: &[u8], root: &std::path::Path) -> Vec<String> {
    let first = root.join("1_CloudTrail_us-east-1_20240301T0000Z_a.json");
    let last = root.join("3_CloudTrail_us-east-1_20240301T0010Z_c.json");
    std::fs::write(
        &first,
        lines(&[issue("issue", 0.0), call("lock", 1.0, "3.3.3.3")]),
    )
    .unwrap();
    std::fs::write(&last, lines(&[call("theft", 12.0, "203.0.113.9")])).unwrap();
    let mid = root.join("2_CloudTrail_us-east-1_20240301T0005Z_b.json.gz");
    std::fs::write(&mid, middle).unwrap();
    vec![first, mid, last]
        .into_iter()
        .map(|p| p.display().to_string())
        .collect()
}

/// A gzip file cut in half among several inputs (read ahead on another thread) gives every record
/// that could be decompressed, then an error naming the file and the byte where it stops; the
/// next file is read. Before, the whole file was lost: 0 of its records, where read alone it gave
/// them. (Mutation: dropping the bytes read ahead on an error reads none of them.)
#[test]
fn a_truncated_gzip_among_inputs_gives_its_readable_records_and_names_where_it_stops() {
    let root = scratch("truncated");
    let records: Vec<_> = (0..2000)
        .map(|i| call(&format!("mid-{i}"), 2.0, "3.3.3.3"))
        .collect();
    let packed = gzip(&lines(&records));
    let files = theft_around(&packed[..packed.len() / 2], &root);
    let mut args = vec!["--emit", "all"];
    args.extend(files.iter().map(String::as_str));
    let out = run_bin(&args, b"");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let read = records_read(&out.stdout, "mid-");
    assert!(read > 200, "{read} records of the truncated file read; {stderr}");
    assert!(
        stderr.contains(&files[1]) && stderr.contains("at byte "),
        "{stderr}"
    );
    assert_eq!(alerts(&out.stdout), ["theft"], "{stderr}");
    assert!(stderr.contains(" records, "), "no summary: {stderr}");
    std::fs::remove_dir_all(&root).unwrap();
}

fn records_read(stdout: &[u8], prefix: &str) -> usize {
    records(stdout)
        .iter()
        .filter(|r| r["eventID"].as_str().is_some_and(|id| id.starts_with(prefix)))
        .count()
}

/// A tree with a link back to its root: the loop is named once, each real file is read once (the
/// alert is there, and the lock's record not twice), and the run says an input could not be read
/// (exit 1) after printing its summary. Before, the walk stopped the run as a usage error (exit 2)
/// before reading anything. (Mutation: turning the loop into a walk error again fails the status.)
#[test]
fn a_loop_of_links_in_a_tree_is_named_and_the_rest_read_once() {
    let root = scratch("loop");
    let sub = root.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    theft_around(&gzip(b""), &sub);
    std::os::unix::fs::symlink(&root, sub.join("up")).unwrap();
    let out = run_bin(&["--emit", "all", &root.display().to_string()], b"");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(alerts(&out.stdout), ["theft"], "{stderr}");
    assert_eq!(records_read(&out.stdout, "lock"), 1, "{stderr}");
    let named = format!(
        "{}: a loop of links back to {}",
        sub.join("up").display(),
        root.display()
    );
    assert_eq!(stderr.matches(&named).count(), 1, "{stderr}");
    assert!(stderr.contains("3 records"), "no summary: {stderr}");
    std::fs::remove_dir_all(&root).unwrap();
}

/// An unreadable subdirectory is named (itself, not its parent), and the readable files beside it
/// are read; exit 1 with the summary. Root reads every directory, so as root the directory is
/// readable and only the alert is checked.
#[test]
fn an_unreadable_subdirectory_is_named_and_the_rest_read() {
    use std::os::unix::fs::PermissionsExt;
    let root = scratch("unreadable");
    theft_around(&gzip(b""), &root);
    let locked = root.join("locked");
    std::fs::create_dir_all(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let out = run_bin(&[&root.display().to_string()], b"");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(alerts(&out.stdout), ["theft"], "{stderr}");
    if rustix::process::geteuid().is_root() {
        assert_eq!(out.status.code(), Some(0), "{stderr}");
    } else {
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!("{}: cannot walk", locked.display())),
            "{stderr}"
        );
    }
    assert!(stderr.contains("3 records"), "no summary: {stderr}");
    std::fs::remove_dir_all(&root).unwrap();
}
