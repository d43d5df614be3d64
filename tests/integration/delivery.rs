//! Inputs that come with real delivery: `aws cloudtrail lookup-events` output, and the digest
//! files CloudTrail writes beside the logs in a synced S3 tree.

use crate::common::trail::*;
use crate::common::*;
use credtrail::Emit;
use serde_json::{Value, json};

/// A lookup-events page as the AWS CLI prints it (four-space indent, `"key": value`; the shape of
/// the CloudTrail API's `Event`: EventId, EventName, ReadOnly, EventTime, EventSource, Username,
/// Resources, CloudTrailEvent), listing `records` newest first as the API does. Hand-made: no
/// real page is vendored, since a real one names real accounts.
fn page(records_oldest_first: &[Value], pretty: bool) -> Vec<u8> {
    let events: Vec<Value> = records_oldest_first
        .iter()
        .rev()
        .map(|r| {
            json!({
                "EventId": r["eventID"],
                "EventName": r["eventName"],
                "ReadOnly": "true",
                "EventTime": r["eventTime"].as_str().unwrap().replace('Z', "+00:00"),
                "EventSource": r["eventSource"],
                "Username": "i-0123456789abcdef0",
                "Resources": [],
                "CloudTrailEvent": r.to_string(),
            })
        })
        .collect();
    let doc = json!({"Events": events, "NextToken": "eyJOZXh0VG9rZW4iOiBudWxsfQ=="});
    let mut out = Vec::new();
    if pretty {
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
        serde::Serialize::serialize(&doc, &mut ser).unwrap();
    } else {
        out = serde_json::to_vec(&doc).unwrap();
    }
    out.push(b'\n');
    out
}

/// The instance locks 3.3.3.3 and the thief calls from 203.0.113.9 after it. Listed newest first,
/// a reader that took the page in its order would lock the thief's address and alert on the
/// instance's own call (`a`); read oldest first, the thief (`b`) alerts, as in the NDJSON trail.
/// (Mutation: with the page read in its own order the alert is `a` and the test fails.)
#[test]
fn a_lookup_events_page_is_read_as_its_records_oldest_first() {
    let trail = [
        issue("ar", 0.0),
        call("a", 1.0, "3.3.3.3"),
        call("b", 2.0, "203.0.113.9"),
    ];
    let ndjson = run_lib(&lines(&trail), Emit::Alerts, 1);
    assert_eq!(alerts(&ndjson.stdout), ["b"]);
    for pretty in [true, false] {
        for threads in [1, 2] {
            let got = run_lib(&page(&trail, pretty), Emit::Alerts, threads);
            assert_eq!(
                alerts(&got.stdout),
                ["b"],
                "pretty {pretty}, threads {threads}: {}",
                got.stderr
            );
            assert_eq!((got.stats.records, got.stats.malformed), (3, 0), "{}", got.stderr);
        }
    }
    // Through the binary from stdin, as `aws cloudtrail lookup-events | credtrail` runs.
    let out = run_bin(&[], &page(&trail, true));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(alerts(&out.stdout), ["b"]);
}

/// `--emit all` writes the page as its records, one per line, oldest first: each the record the
/// CloudTrailEvent string held, with `credtrail` where there is something to say.
#[test]
fn emit_all_writes_a_page_as_its_records_one_per_line() {
    let trail = [
        issue("ar", 0.0),
        call("a", 1.0, "3.3.3.3"),
        call("b", 2.0, "203.0.113.9"),
    ];
    let got = run_lib(&page(&trail, true), Emit::All, 2);
    let out = records(&got.stdout);
    assert_eq!(out.len(), 3, "{}", String::from_utf8_lossy(&got.stdout));
    for (o, want) in out.iter().zip(&trail) {
        let mut o = o.clone();
        o.as_object_mut().unwrap().remove("credtrail");
        assert_eq!(&o, want);
    }
    assert_eq!(out[1]["credtrail"]["verdict"], "locked");
    assert_eq!(out[2]["credtrail"]["verdict"], "compromise");
}

/// An element without a CloudTrailEvent is reported and passed on, the others still read; an
/// empty page is nothing to judge and not malformed; a page cut short is one malformed line.
#[test]
fn a_bad_event_or_page_is_reported_and_the_rest_read() {
    let trail = [
        issue("ar", 0.0),
        call("a", 1.0, "3.3.3.3"),
        call("b", 2.0, "203.0.113.9"),
    ];
    let mut doc: Value = serde_json::from_slice(&page(&trail, false)).unwrap();
    doc["Events"]
        .as_array_mut()
        .unwrap()
        .insert(1, json!({"EventId": "x"}));
    let got = run_lib(doc.to_string().as_bytes(), Emit::All, 1);
    assert_eq!(alerts(&got.stdout), ["b"]);
    assert_eq!((got.stats.records, got.stats.malformed), (3, 1), "{}", got.stderr);
    assert!(got.stderr.contains("no CloudTrailEvent"), "{}", got.stderr);
    assert_eq!(got.stdout.iter().filter(|&&c| c == b'\n').count(), 4);

    let empty = run_lib(b"{\"Events\": []}\n", Emit::All, 1);
    assert_eq!(
        (empty.stats.records, empty.stats.malformed),
        (0, 0),
        "{}",
        empty.stderr
    );
    assert_eq!(empty.stdout, b"{\"Events\": []}\n");

    let cut = page(&trail, false);
    let cut = &cut[..cut.len() / 2];
    let got = run_lib(cut, Emit::All, 1);
    assert_eq!(got.stats.malformed, 1, "{}", got.stderr);
    assert!(got.stderr.contains("lookup-events output"), "{}", got.stderr);
    assert_eq!(got.stdout, [cut, b"\n"].concat());
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(bytes).unwrap();
    z.finish().unwrap()
}

/// A synced S3 tree with a digest file beside each log folder: the digests are left out by name and
/// counted in the summary, never read as a malformed line, and the log files' thief is caught.
/// The digest's content follows AWS's documented sample (hand-made, shortened). (Mutation: with
/// `is_digest` always false the summary says `1 malformed` and no digest count.)
#[test]
fn digest_files_in_a_synced_tree_are_skipped_and_counted() {
    let root = std::env::temp_dir().join(format!("credtrail-digests-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let acct = root.join("AWSLogs/123456789012");
    let logs = acct.join("CloudTrail/us-east-1/2024/03/01");
    let digests = acct.join("CloudTrail-Digest/us-east-1/2024/03/01");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::create_dir_all(&digests).unwrap();
    let body = |recs: &[Value]| json!({"Records": recs}).to_string().into_bytes();
    std::fs::write(
        logs.join("123456789012_CloudTrail_us-east-1_20240301T0000Z_a1.json.gz"),
        gzip(&body(&[issue("ar", 0.0), call("a", 1.0, "3.3.3.3")])),
    )
    .unwrap();
    std::fs::write(
        logs.join("123456789012_CloudTrail_us-east-1_20240301T0005Z_b2.json.gz"),
        gzip(&body(&[call("b", 6.0, "203.0.113.9")])),
    )
    .unwrap();
    let digest = json!({
        "awsAccountId": "123456789012",
        "digestStartTime": "2024-03-01T00:00:00Z",
        "digestEndTime": "2024-03-01T01:00:00Z",
        "digestS3Bucket": "example-bucket",
        "digestS3Object": "AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2024/03/01/123456789012_CloudTrail-Digest_us-east-1_trail_us-east-1_20240301T010000Z.json.gz",
        "digestSignatureAlgorithm": "SHA256withRSA",
        "newestEventTime": "2024-03-01T00:06:00Z",
        "oldestEventTime": "2024-03-01T00:00:00Z",
        "previousDigestS3Bucket": null,
        "previousDigestSignature": null,
        "logFiles": []
    });
    std::fs::write(
        digests.join("123456789012_CloudTrail-Digest_us-east-1_trail_us-east-1_20240301T010000Z.json.gz"),
        gzip(digest.to_string().as_bytes()),
    )
    .unwrap();
    let out = run_bin(&[root.to_str().unwrap()], b"");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(alerts(&out.stdout), ["b"]);
    assert!(
        stderr.contains("3 records, 2 judged, 1 alerts, 0 malformed")
            && stderr.contains("1 digest files skipped"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}
