//! Record contents that used to blind the detector or forge its output.

use crate::common::trail::{call, issue, lines};
use crate::common::*;
use credtrail::Emit;

/// A stolen session's call whose request parameters nest 100 000 levels deep (a field the
/// detector never reads, and one an attacker writes) is judged as any: it alerts. simd-json's
/// default depth limit (1 024) made it malformed and unjudged. (Mutation: `Buffers::new`, the
/// default limit, makes it malformed and fails the alert.)
#[test]
fn a_record_nested_deeper_than_1024_levels_is_still_judged() {
    let n = 100_000;
    let deep = format!("{}1{}", "{\"a\":[".repeat(n), "]}".repeat(n));
    let mut line = call("theft", 2.0, "203.0.113.9").to_string();
    line.truncate(line.len() - 1);
    line.push_str(&format!(",\"requestParameters\":{deep}}}\n"));
    let mut input = lines(&[issue("issue", 0.0), call("lock", 1.0, "3.3.3.3")]);
    input.extend_from_slice(line.as_bytes());
    let run = run_lib(&input, Emit::Alerts, 1);
    assert_eq!(run.stats.malformed, 0, "{}", run.stderr);
    assert_eq!(run.stats.alerts, 1, "{}", run.stderr);
}

/// A role name carrying a window-title escape and a screen clear reaches the alert table (printed
/// to a terminal) and the malformed-line messages (stderr) as text, never as bytes a terminal
/// acts on; so does a file name in a message. (Mutation: building the table from the rows as they
/// are fails on the table; reporting the name as it is fails on stderr.)
#[test]
fn escape_codes_in_the_input_never_reach_the_terminal() {
    use serde_json::json;
    let role = "app\u{1b}]0;owned\u{7}\u{1b}[2J";
    let session = format!("arn:aws:sts::123456789012:assumed-role/{role}/i-0123456789abcdef0");
    let mut records = vec![
        issue("issue", 0.0),
        call("lock", 1.0, "3.3.3.3"),
        call("theft", 2.0, "203.0.113.9"),
    ];
    records[0]["requestParameters"]["roleArn"] = json!(format!("arn:aws:iam::123456789012:role/{role}"));
    for r in &mut records[1..] {
        r["userIdentity"]["arn"] = json!(session);
    }
    let mut input = lines(&records);
    input.extend_from_slice(b"not json\n");
    // A file name is input too (an archive's names are whoever wrote it).
    let run = run_cfg(credtrail::Config {
        inputs: vec![credtrail::Input::Memory("in\u{1b}[2Jput".into(), input)],
        threads: 1,
        ..credtrail::Config::default()
    });
    assert_eq!(run.stats.alerts, 1, "{}", run.stderr);
    let table = run.stats.alert_table_text();
    assert!(table.contains("app\\u{1b}]0;owned\\u{7}\\u{1b}[2J"), "{table}");
    assert!(!table.contains('\u{1b}') && !table.contains('\u{7}'), "{table:?}");
    assert_eq!(run.stats.malformed, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("in\\u{1b}[2Jput:4: malformed"),
        "{:?}",
        run.stderr
    );
    assert!(!run.stderr.contains('\u{1b}'), "{:?}", run.stderr);
}

/// `--emit findings` with 256 decoy addresses before the real theft: the theft's address still
/// comes out as a finding (of its own, `not_tracked`), and the summary says how many alerts were
/// shed from incidents. Before, the findings dropped it silently while the alerts output had it.
/// (Mutation: dropping an alert past the per-session bound, as before, fails the first assertion.)
#[test]
fn findings_never_drop_an_alert_past_the_incident_bound() {
    let mut input = vec![issue("issue", 0.0), call("lock", 1.0, "3.3.3.3")];
    for i in 0..256 {
        input.push(call(
            &format!("decoy-{i}"),
            2.0,
            &format!("198.18.{}.{}", i / 200, i % 200 + 1),
        ));
    }
    input.push(call("theft", 3.0, "203.0.113.9"));
    let run = run_lib(&lines(&input), Emit::Findings, 2);
    let findings = records(&run.stdout);
    let theft: Vec<_> = findings
        .iter()
        .filter(|f| f["evidences"][0]["src_endpoint"]["ip"] == "203.0.113.9")
        .collect();
    assert_eq!(theft.len(), 2, "Create and Close of the shed alert");
    assert_eq!(theft[1]["unmapped"]["close_reason"], "not_tracked");
    assert_eq!(run.stats.findings_shed, 1);
    assert!(
        run.stats
            .summary()
            .contains("1 alerts past the bounds on open incidents"),
        "{}",
        run.stats.summary()
    );
}

/// An input record with a top-level `credtrail` key is malformed and, in `--emit all`, always
/// written wrapped: no output line carries a verdict credtrail did not give, and the forged
/// record's bytes are kept inside a string. Before, the forged alert passed through unjudged and
/// `jq 'select(.credtrail.verdict=="compromise")'` reported it; on a judged record the output had
/// two `credtrail` keys. (Mutation: not recognising the key in `classify` fails the first
/// assertion.)
#[test]
fn an_input_credtrail_key_never_looks_like_a_verdict() {
    use serde_json::json;
    let mut forged = call("forged", 1.5, "3.3.3.3");
    forged["credtrail"] = json!({"verdict": "compromise"});
    let mut escaped = call("escaped", 1.6, "3.3.3.3").to_string();
    escaped.insert_str(1, "\"cred\\u0074rail\":{\"verdict\":\"compromise\"},");
    let mut input = lines(&[issue("issue", 0.0), call("lock", 1.0, "3.3.3.3"), forged]);
    input.extend_from_slice(escaped.as_bytes());
    input.push(b'\n');
    input.extend_from_slice(&lines(&[call("theft", 2.0, "203.0.113.9")]));
    for threads in [1, 2] {
        let run = run_lib(&input, Emit::All, threads);
        assert_eq!(alerts(&run.stdout), ["theft"], "{}", run.stderr);
        assert_eq!(run.stats.malformed, 2, "{}", run.stderr);
        let out = records(&run.stdout);
        assert_eq!(out.len(), 5);
        for i in [2, 3] {
            assert!(
                out[i]["credtrail"]["malformed"]
                    .as_str()
                    .unwrap()
                    .contains("credtrail key")
            );
            let kept: serde_json::Value =
                serde_json::from_str(out[i]["credtrail"]["line"].as_str().unwrap()).unwrap();
            assert_eq!(kept["eventID"], ["forged", "escaped"][i - 2]);
        }
    }
}

/// `--emit all --malformed wrap`: every output line is JSON, so the README's jq recipe reads
/// every alert past a malformed line (before, jq stopped at the first, exit 4), and each wrapped
/// line keeps the line's bytes and says why. Without the flag, the lines pass as they came.
/// (Mutation: not calling `wrap_malformed` in the threaded writer fails the first run.)
#[test]
fn malformed_lines_can_be_wrapped_so_every_output_line_is_json() {
    let mut input = lines(&[issue("issue", 0.0), call("lock", 1.0, "3.3.3.3")]);
    input.extend_from_slice(b"not json\n{\"eventName\":\n\xe9t\xe9\n");
    input.extend_from_slice(&lines(&[call("theft", 2.0, "203.0.113.9")]));
    for threads in [1, 2] {
        let run = run_cfg(credtrail::Config {
            inputs: vec![credtrail::Input::Memory("input".into(), input.clone())],
            emit: Emit::All,
            threads,
            malformed: credtrail::output::wrap::MalformedOutput::Wrap,
            ..credtrail::Config::default()
        });
        let out = records(&run.stdout);
        assert_eq!(out.len(), 6, "{}", run.stderr);
        assert_eq!(out[2]["credtrail"]["line"], "not json");
        assert_eq!(out[3]["credtrail"]["line"], "{\"eventName\":");
        assert_eq!(out[4]["credtrail"]["line_base64"], "6XTp");
        assert_eq!(alerts(&run.stdout), ["theft"]);
        // The reference run wraps alike.
        let mut seq_out = Vec::new();
        let cfg = credtrail::Config {
            inputs: vec![credtrail::Input::Memory("input".into(), input.clone())],
            emit: Emit::All,
            malformed: credtrail::output::wrap::MalformedOutput::Wrap,
            ..credtrail::Config::default()
        };
        credtrail::run_sequential(&cfg, &mut seq_out, &mut Vec::new()).unwrap();
        assert!(seq_out == run.stdout, "run_sequential differs");
    }
    let passed = run_lib(&input, Emit::All, 2);
    assert!(passed.stdout.windows(9).any(|w| w == b"not json\n"));
}

/// The `credtrail` lines of `input` in `--emit all` with `--malformed pass`, at 1 and 2 threads:
/// every malformed one is a wrapper, so none carries the input's key at its top level.
fn forged_runs(input: &[u8], malformed: u64) {
    for threads in [1, 2] {
        let run = run_lib(input, Emit::All, threads);
        assert_eq!(alerts(&run.stdout), ["theft"], "{}", run.stderr);
        assert_eq!(run.stats.malformed, malformed, "{}", run.stderr);
        for line in run.stdout.split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
            let text = String::from_utf8_lossy(line);
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) else {
                panic!("a malformed line passed as it came: {text}");
            };
            if v["credtrail"]["malformed"].is_string() {
                continue;
            }
            assert!(
                ["issue", "lock", "theft"].contains(&v["eventID"].as_str().unwrap_or("")),
                "a forged line passed as it came: {text}"
            );
        }
    }
}

/// Malformed lines that name `credtrail` (invalid JSON a lenient reader still takes, the key spelt
/// with a `\u0063` escape, an element of a `{"Records":[…]}` body) are wrapped in `--malformed
/// pass` too: none goes out as it came. (Mutation: wrapping only in wrap mode, as before for
/// anything but the parser's own forged-key reason, fails it; so does `names_credtrail` without
/// reading escapes.)
#[test]
fn a_malformed_line_naming_credtrail_is_wrapped_in_both_modes() {
    let forged = r#"{"credtrail":{"verdict":"compromise"},"eventID":"forged",}"#;
    let escaped = r#"{"\u0063redtrail":{"verdict":"compromise"},"eventID":"escaped"}"#;
    let mut element = call("element", 1.5, "3.3.3.3");
    element["credtrail"] = serde_json::json!({"verdict": "compromise"});
    let body = format!(r#"{{"Records":[{element}]}}"#);
    let mut input = lines(&[issue("issue", 0.0), call("lock", 1.0, "3.3.3.3")]);
    for bad in [forged, escaped, &body] {
        input.extend_from_slice(bad.as_bytes());
        input.push(b'\n');
    }
    input.extend_from_slice(&lines(&[call("theft", 2.0, "203.0.113.9")]));
    forged_runs(&input, 3);
}

/// A line over `--max-line-bytes` is not read, so it may carry a forged `credtrail` key: wrapped
/// with its prefix and length in `--malformed pass` too. (Mutation: passing long lines on as they
/// came in `pass` mode, as before, fails it.)
#[test]
fn a_line_over_the_limit_is_wrapped_in_both_modes() {
    let mut long = call("long", 1.5, "3.3.3.3");
    long["credtrail"] = serde_json::json!({"verdict": "compromise"});
    long["pad"] = "p".repeat(4096).into();
    let mut input = lines(&[issue("issue", 0.0), call("lock", 1.0, "3.3.3.3"), long]);
    input.extend_from_slice(&lines(&[call("theft", 2.0, "203.0.113.9")]));
    for (threads, read_size) in [(1, 1 << 20), (2, 512)] {
        let run = run_cfg(credtrail::Config {
            inputs: vec![credtrail::Input::Memory("input".into(), input.clone())],
            emit: Emit::All,
            threads,
            read_size,
            max_line_bytes: 1024,
            ..credtrail::Config::default()
        });
        assert_eq!(alerts(&run.stdout), ["theft"], "{}", run.stderr);
        let out = records(&run.stdout);
        assert_eq!(
            out.len(),
            4,
            "every line JSON: {}",
            String::from_utf8_lossy(&run.stdout)
        );
        assert!(out[2]["credtrail"]["line_prefix"].is_string(), "{}", out[2]);
        assert!(out[2]["credtrail"]["verdict"].is_null());
    }
}

/// A lookup-events page whose `CloudTrailEvent` carries a top-level `credtrail` key: that record
/// is forged, so it is malformed and wrapped, in `--malformed pass` too (its reason names the
/// event, which used to keep it from being recognised as forged). (Mutation: wrapping only on the
/// parser's own reason text fails it.)
#[test]
fn a_lookup_events_record_with_a_credtrail_key_is_treated_as_forged() {
    let mut forged = call("forged", 1.5, "3.3.3.3");
    forged["credtrail"] = serde_json::json!({"verdict": "compromise"});
    let page = serde_json::json!({"Events": [{"EventId": "forged", "CloudTrailEvent": forged.to_string()}]});
    let mut input = lines(&[issue("issue", 0.0), call("lock", 1.0, "3.3.3.3"), page]);
    input.extend_from_slice(&lines(&[call("theft", 2.0, "203.0.113.9")]));
    forged_runs(&input, 1);
    let run = run_lib(&input, Emit::All, 1);
    let out = records(&run.stdout);
    assert_eq!(out.len(), 4);
    assert!(
        out[2]["credtrail"]["malformed"]
            .as_str()
            .unwrap()
            .contains("credtrail key"),
        "{}",
        out[2]
    );
}
