//! The real captures vendored in tests/data/cloudtrail (its README gives each file's source and
//! licence; ground-truth.json says which records are the attacker's and why): verdicts as the
//! ground truth says, no alert anywhere else, no crash on any file, in every input shape, and the
//! same output for every thread count as the sequential reference.

use crate::common::*;
use credtrail::{Config, Emit, Input};
use std::fs;
use std::path::PathBuf;

fn cloudtrail(rel: &str) -> PathBuf {
    data("cloudtrail").join(rel)
}

const OTRF: &str = "otrf-security-datasets/ec2-proxy-s3-exfiltration.ndjson";
const OTRF_NORMALIZED: &str = "otrf-security-datasets/ec2-proxy-s3-exfiltration.normalized.ndjson";
const DIGEST: &str = "handwritten/cloudtrail-digest.json";
const ODD: &str = "handwritten/odd-shapes.ndjson";

fn sample() -> PathBuf {
    data("sample-attack.ndjson")
}

fn ground_truth_attackers() -> Vec<String> {
    let gt: serde_json::Value =
        serde_json::from_slice(&fs::read(cloudtrail("ground-truth.json")).unwrap()).unwrap();
    gt["scenarios"][0]["attacker_records_eventIDs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// Every NDJSON capture, real and handwritten.
fn captures() -> Vec<PathBuf> {
    let mut out = vec![
        cloudtrail(OTRF),
        cloudtrail(OTRF_NORMALIZED),
        cloudtrail("panther-analysis/cloudtrail-tests.ndjson"),
        cloudtrail(DIGEST),
    ];
    let mut stratus: Vec<PathBuf> = fs::read_dir(cloudtrail("stratus-red-team"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ndjson"))
        .collect();
    stratus.sort();
    assert_eq!(stratus.len(), 35);
    out.extend(stratus);
    out
}

fn sequential(input: &[u8], emit: Emit) -> Run {
    let cfg = Config {
        inputs: vec![Input::Memory("input".into(), input.to_vec())],
        emit,
        ..Config::default()
    };
    let mut out = Vec::new();
    let mut err = Vec::new();
    let stats = credtrail::run_sequential(&cfg, &mut out, &mut err).unwrap();
    Run {
        stdout: out,
        stderr: String::from_utf8_lossy(&err).into_owned(),
        stats,
    }
}

#[test]
fn the_sample_is_the_capture_plus_one_instance_call_and_alerts_exactly_the_attacker() {
    let capture = fs::read_to_string(cloudtrail(OTRF_NORMALIZED)).unwrap();
    let sample = fs::read_to_string(sample()).unwrap();
    let mut lines: Vec<&str> = sample.lines().collect();
    let injected = lines.remove(92);
    assert!(injected.contains("00000000-injected-instance-own-call"));
    assert_eq!(
        lines,
        capture.lines().collect::<Vec<_>>(),
        "the sample must be the capture plus one line"
    );

    // The instance's own call locks its address first; every call made with the stolen key then
    // comes from elsewhere.
    for threads in [1, 2, 4] {
        let run = run_lib(sample.as_bytes(), Emit::Alerts, threads);
        assert_eq!(
            alerts(&run.stdout),
            ground_truth_attackers(),
            "--threads {threads}"
        );
        assert_eq!(run.stats.malformed, 0);
    }
}

#[test]
fn the_capture_alone_cannot_alert_and_says_the_thief_locked_the_session() {
    // ground-truth.json: "no alert: every call with the instance session comes from one address".
    let capture = fs::read(cloudtrail(OTRF_NORMALIZED)).unwrap();
    let run = run_lib(&capture, Emit::All, 2);
    assert_eq!(alerts(&run.stdout), Vec::<String>::new());
    let attackers = ground_truth_attackers();
    assert_eq!(
        ids_with(&run.stdout, "locked"),
        attackers,
        "the session is in the table and judged"
    );
    assert_eq!(run.stats.sessions, 2, "two instances had EC2 AssumeRoles");
}

#[test]
fn when_the_thief_called_first_the_instance_alert_names_the_thief_lock() {
    // The same injected instance call (00:55:00Z) delivered after the thief's records is put back in
    // its place by event time: the same alerts as the sample. The thief's records reach past
    // 01:10, so the call is within a lateness of a day, not of the default 15 minutes (beyond the
    // bound a late record is judged in input order: tests/cases/45).
    let sample = fs::read_to_string(sample()).unwrap();
    let mut lines: Vec<&str> = sample.lines().collect();
    let injected = lines.remove(92);
    lines.push(injected);
    let input = lines.join("\n") + "\n";
    let run = run_cfg(Config {
        inputs: vec![Input::Memory("sample".into(), input.clone().into_bytes())],
        emit: Emit::Alerts,
        threads: 2,
        lateness: 24 * 3_600_000,
        ..Config::default()
    });
    assert_eq!(
        alerts(&run.stdout),
        ground_truth_attackers(),
        "delivery order is invisible"
    );
    // Made after the thief's last call in event time, the attacker locked the session at
    // 01:00:04Z from 1.2.3.4, and the instance's own call is the one that alerts.
    let later = injected.replace("2020-09-14T00:55:00Z", "2020-09-14T01:14:00Z");
    lines.pop();
    lines.push(&later);
    let input = lines.join("\n") + "\n";
    let run = run_lib(input.as_bytes(), Emit::Alerts, 2);
    let out = records(&run.stdout);
    assert_eq!(out.len(), 1);
    let c = &out[0]["credtrail"];
    assert_eq!(out[0]["eventID"], "00000000-injected-instance-own-call");
    assert_eq!(c["locked_ips"][0]["ip"], "1.2.3.4");
    assert_eq!(c["locked_ips"][0]["since"], "2020-09-14T01:00:04Z");
    assert!(c["reason"].as_str().unwrap().contains("called first"));
}

#[test]
fn stratus_lacks_the_assume_role_so_nothing_is_judged() {
    // ground-truth.json: "no alert possible: the EC2 AssumeRole record is absent".
    let path = cloudtrail("stratus-red-team/aws.credential-access.ec2-steal-instance-credentials.ndjson");
    let run = run_lib(&fs::read(path).unwrap(), Emit::All, 2);
    assert_eq!(
        (
            run.stats.records,
            run.stats.judged,
            run.stats.alerts,
            run.stats.malformed
        ),
        (45, 0, 0, 0)
    );
}

#[test]
fn the_raw_capture_without_event_time_is_reported_not_judged() {
    // Logstash replaced eventTime with @timestamp: the detector cannot place those records in time.
    let run = run_lib(&fs::read(cloudtrail(OTRF)).unwrap(), Emit::Alerts, 2);
    assert_eq!(run.stats.alerts, 0);
    assert_eq!(
        run.stats.malformed, 16,
        "5 EC2 AssumeRoles and 11 session calls have no eventTime"
    );
    assert!(run.stderr.contains("malformed: no eventTime"), "{}", run.stderr);
}

#[test]
fn the_s3_log_file_body_is_read_as_its_records() {
    let path = cloudtrail(
        "invictus-ir-aws-dataset/218007301253_CloudTrail_us-east-1_20230710T1200Z_x9kHmzMa7cx6l9wM.json",
    );
    let body = fs::read(&path).unwrap();
    let run = run_lib(&body, Emit::All, 2);
    assert_eq!(
        (run.stats.records, run.stats.malformed, run.stats.sessions),
        (132, 0, 1)
    );
    let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let want: Vec<&serde_json::Value> = parsed["Records"].as_array().unwrap().iter().collect();
    let got = records(&run.stdout);
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        let mut g = g.clone();
        g.as_object_mut().unwrap().remove("credtrail");
        assert_eq!(&g, w);
    }
}

/// The NDJSON lines that parse as JSON objects, for building the other shapes.
fn objects(bytes: &[u8]) -> Vec<serde_json::Value> {
    bytes
        .split(|&c| c == b'\n')
        .filter_map(|l| serde_json::from_slice::<serde_json::Value>(l).ok())
        .filter(|v| v.is_object())
        .collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// (verdict, eventID) of every annotated record, in order.
fn verdicts(stdout: &[u8]) -> Vec<(String, String)> {
    stdout
        .split(|&c| c == b'\n')
        .filter_map(|l| serde_json::from_slice::<serde_json::Value>(l).ok())
        .filter(|o| o.get("credtrail").is_some())
        .map(|o| {
            (
                o["credtrail"]["verdict"].as_str().unwrap().to_string(),
                inner(&o)["eventID"].to_string(),
            )
        })
        .collect()
}

/// Shapes seen in vendors' sanitized samples (whose licence keeps them out of this repository),
/// written by hand in `handwritten/odd-shapes.ndjson`: an aws-us-gov instance session whose
/// AssumeRole also has `responseElements.assumedRoleUser`, a `sourceIPAddress` holding two
/// addresses (`"81.2.69.142, 192.168.10.10"`, as a proxy may write it) and one that is
/// `redacted`, an `errorCode` of `"200"`, and an Identity Center user with an empty ARN in a
/// 13-digit account. Expected: the non-addresses neither lock nor get an annotation, the failed-
/// looking call is judged and locks 81.2.69.142, the Identity Center record passes unjudged, and
/// the last call, from 198.51.100.20, alerts.
#[test]
fn odd_shapes_from_vendor_samples() {
    let input = fs::read(cloudtrail(ODD)).unwrap();
    for threads in [1, 2] {
        let run = run_lib(&input, Emit::All, threads);
        assert_eq!(
            verdicts(&run.stdout),
            [
                ("locked".to_string(), "\"lock\"".to_string()),
                ("compromise".to_string(), "\"thief\"".to_string())
            ],
            "{}",
            run.stderr
        );
        assert_eq!(
            (run.stats.records, run.stats.judged, run.stats.malformed),
            (6, 2, 0)
        );
        let alert = &records(&run.stdout)[5]["credtrail"];
        assert_eq!(alert["instance_id"], "i-0fedcba9876543210");
        assert_eq!(alert["locked_ips"][0]["ip"], "81.2.69.142");
    }
}

#[test]
fn every_capture_in_every_shape_at_every_thread_count() {
    let sample = sample();
    let odd = cloudtrail(ODD);
    for path in captures().into_iter().chain([sample.clone(), odd.clone()]) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let ndjson = fs::read(&path).unwrap();
        let reference = sequential(&ndjson, Emit::All);
        if path != sample && path != odd {
            assert_eq!(
                reference.stats.alerts, 0,
                "{name}: no alert in the captures as published"
            );
        }
        let objs = objects(&ndjson);
        let body = serde_json::to_vec(&serde_json::json!({ "Records": objs })).unwrap();
        let pretty = serde_json::to_vec_pretty(&serde_json::json!({ "Records": objs })).unwrap();
        let envelopes: Vec<u8> = objs
            .iter()
            .flat_map(|o| {
                let mut l = serde_json::to_vec(&serde_json::json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.cloudtrail", "detail": o})).unwrap();
                l.push(b'\n');
                l
            })
            .collect();
        // Judged records only come from records that parse, so every shape gives the same verdicts.
        let want = verdicts(&sequential(&ndjson, Emit::All).stdout);
        for (shape, input) in [
            ("ndjson", ndjson.clone()),
            ("gzip", gzip(&ndjson)),
            ("body", body.clone()),
            ("gzipped body", gzip(&body)),
            ("pretty body", pretty),
            ("eventbridge", envelopes),
        ] {
            let seq = sequential(&input, Emit::All);
            assert_eq!(verdicts(&seq.stdout), want, "{name} as {shape}");
            for threads in [1, 2, 4] {
                let run = run_lib(&input, Emit::All, threads);
                assert_eq!(run.stdout, seq.stdout, "{name} as {shape} at --threads {threads}");
                assert_eq!(run.stats, seq.stats, "{name} as {shape} at --threads {threads}");
                assert_eq!(run.stderr, seq.stderr, "{name} as {shape} at --threads {threads}");
            }
        }
        // Nothing is lost: --emit all gives back one line per NDJSON line.
        let input_lines = ndjson.split(|&c| c == b'\n').count() - usize::from(ndjson.ends_with(b"\n"));
        assert_eq!(
            reference.stdout.iter().filter(|&&c| c == b'\n').count(),
            input_lines,
            "{name}"
        );
    }
}

#[test]
fn several_files_and_gzip_through_the_binary() {
    let dir = std::env::temp_dir().join(format!("credtrail-real-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let sample = fs::read(sample()).unwrap();
    let gz = dir.join("sample.json.gz");
    fs::write(&gz, gzip(&sample)).unwrap();
    let out = bin()
        .arg(cloudtrail(DIGEST))
        .arg(&gz)
        .arg(dir.join("missing.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "a missing input is an error exit");
    assert_eq!(alerts(&out.stdout), ground_truth_attackers());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cloudtrail-digest.json:1: malformed: not a CloudTrail record"),
        "{stderr}"
    );
    assert!(stderr.contains("missing.json: No such file"), "{stderr}");
    assert!(
        stderr
            .lines()
            .last()
            .unwrap()
            .starts_with("credtrail: 104 records, 12 judged, 11 alerts, 1 malformed"),
        "{stderr}"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_summary_table_counts_alerts_by_account_role_instance_and_address() {
    let sample = fs::read(sample()).unwrap();
    for threads in [1, 2] {
        let run = run_lib(&sample, Emit::Alerts, threads);
        assert_eq!(
            run.stats.alert_table,
            [(
                "123456789123".to_string(),
                "MordorNginxStack-BankingWAFRole-9S3E0UAE1MM0".to_string(),
                "instance".to_string(),
                "i-0317f6c6b66ae9c40".to_string(),
                "1.2.3.4".to_string(),
                11
            )]
        );
        let text = run.stats.alert_table_text();
        assert!(text.starts_with("account"), "{text}");
        assert!(
            text.contains("i-0317f6c6b66ae9c40") && text.trim_end().ends_with("11"),
            "{text}"
        );
    }
}
