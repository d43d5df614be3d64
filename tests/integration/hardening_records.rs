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
