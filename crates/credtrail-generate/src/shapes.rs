//! Delivery shapes: what real pipelines do to a trail that [`crate::generate`] wrote in its own
//! delivery order. Each takes the trail's lines and returns them in another order, so that a test
//! can check that verdicts do not depend on it. Seeded: the same seed gives the same shape.
//!
//! - [`cloudtrail_files`]: CloudTrail's S3 delivery. One file per region and 5 minutes of event
//!   time, records in no order inside a file; IAM and STS events (AssumeRole among them) in
//!   us-east-1's files, which land after the other regions' files of the same 5 minutes, so a
//!   session's AssumeRole can arrive in a later file than its first call.
//! - [`redeliver`]: at-least-once delivery, runs of records read again after later ones.
//! - [`newest_first`]: `aws cloudtrail lookup-events` order.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// The span of event time one CloudTrail log file covers, in milliseconds.
pub const FILE_SPAN_MS: i64 = 5 * 60 * 1000;

/// Global services whose events CloudTrail logs in us-east-1.
const GLOBAL_SOURCES: [&str; 2] = ["iam.amazonaws.com", "sts.amazonaws.com"];

/// The string value of the first `"field":"…"` in a line the generator wrote (its top-level
/// fields come before anything nested that could name them).
fn field<'a>(line: &'a [u8], field: &str) -> Option<&'a str> {
    let pat = format!("\"{field}\":\"");
    let start = line.windows(pat.len()).position(|w| w == pat.as_bytes())? + pat.len();
    let len = line[start..].iter().position(|&c| c == b'"')?;
    std::str::from_utf8(&line[start..start + len]).ok()
}

/// The line's `eventTime` in milliseconds, or `None` for a line without one.
pub fn event_time(line: &[u8]) -> Option<i64> {
    credtrail_time::parse(field(line, "eventTime")?)
}

/// The trail as CloudTrail's files deliver it: files in the order they land (end of their 5
/// minutes, us-east-1's last), records shuffled inside each. A record is at most two file spans
/// behind the newest one read before it. Lines without an `eventTime` stay where they were
/// relative to the file of the line before them.
pub fn cloudtrail_files(lines: &[Vec<u8>], seed: u64) -> Vec<Vec<u8>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // (span, us-east-1 last, region) -> lines
    let mut files: BTreeMap<(i64, bool, String), Vec<Vec<u8>>> = BTreeMap::new();
    let mut last = (i64::MIN, false, String::new());
    for line in lines {
        let key = match event_time(line) {
            Some(t) => {
                let global = field(line, "eventSource").is_some_and(|s| GLOBAL_SOURCES.contains(&s));
                let region = if global {
                    "us-east-1"
                } else {
                    field(line, "awsRegion").unwrap_or("us-east-1")
                };
                (
                    t.div_euclid(FILE_SPAN_MS),
                    region == "us-east-1",
                    region.to_owned(),
                )
            }
            None => last.clone(),
        };
        files.entry(key.clone()).or_default().push(line.clone());
        last = key;
    }
    let mut out = Vec::with_capacity(lines.len());
    for (_, mut file) in files {
        file.shuffle(&mut rng);
        out.extend(file);
    }
    out
}

/// At-least-once delivery: after about one line in `every`, the last 1 to `max_run` lines are
/// delivered again (a consumer resuming from an older offset).
pub fn redeliver(lines: &[Vec<u8>], seed: u64, every: u32, max_run: usize) -> Vec<Vec<u8>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(lines.len() + lines.len() / every.max(1) as usize * max_run);
    for (i, line) in lines.iter().enumerate() {
        out.push(line.clone());
        if max_run > 0 && rng.random_ratio(1, every.max(1)) {
            let run = rng.random_range(1..=max_run).min(i + 1);
            out.extend(lines[i + 1 - run..=i].iter().cloned());
        }
    }
    out
}

/// `aws cloudtrail lookup-events` order: newest first.
pub fn newest_first(lines: &[Vec<u8>]) -> Vec<Vec<u8>> {
    lines.iter().rev().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(t: &str, source: &str, region: &str, id: &str) -> Vec<u8> {
        format!(
            "{{\"eventVersion\":\"1.08\",\"userIdentity\":{{}},\"eventTime\":\"{t}\",\"eventSource\":\"{source}\",\
             \"eventName\":\"X\",\"awsRegion\":\"{region}\",\"eventID\":\"{id}\"}}"
        )
        .into_bytes()
    }

    fn ids(lines: &[Vec<u8>]) -> Vec<&str> {
        lines.iter().map(|l| field(l, "eventID").unwrap()).collect()
    }

    /// An AssumeRole (STS, logged in us-east-1) just before its session's first call in
    /// eu-west-1 lands after it, in the same span's later file; spans stay in order; nothing is
    /// lost or added. (Mutation: ordering us-east-1 first puts `ar` before `call`.)
    #[test]
    fn global_events_land_in_us_east_1s_later_file() {
        let lines = vec![
            record("2024-03-01T00:01:00Z", "sts.amazonaws.com", "eu-west-1", "ar"),
            record("2024-03-01T00:01:01Z", "s3.amazonaws.com", "eu-west-1", "call"),
            record("2024-03-01T00:06:00Z", "s3.amazonaws.com", "eu-west-1", "next"),
        ];
        let got = cloudtrail_files(&lines, 1);
        assert_eq!(ids(&got), ["call", "ar", "next"]);
    }

    /// Inside one file the order is shuffled (some seed moves them), and the lines are the same.
    #[test]
    fn records_are_unordered_inside_a_file() {
        let lines: Vec<Vec<u8>> = (0..20)
            .map(|i| {
                record(
                    &format!("2024-03-01T00:00:{i:02}Z"),
                    "s3.amazonaws.com",
                    "eu-west-1",
                    &i.to_string(),
                )
            })
            .collect();
        let got = cloudtrail_files(&lines, 7);
        assert_ne!(ids(&got), ids(&lines));
        let mut sorted = got.clone();
        sorted.sort();
        let mut want = lines.clone();
        want.sort();
        assert_eq!(sorted, want);
    }

    /// Redelivery only repeats lines already delivered, and keeps every line's first delivery in
    /// order. (Mutation: `every` of 1 with no repeats fails the length check.)
    #[test]
    fn redelivery_repeats_runs_already_read() {
        let lines: Vec<Vec<u8>> = (0..100)
            .map(|i| {
                record(
                    "2024-03-01T00:00:00Z",
                    "s3.amazonaws.com",
                    "eu-west-1",
                    &i.to_string(),
                )
            })
            .collect();
        let got = redeliver(&lines, 3, 5, 4);
        assert!(got.len() > lines.len());
        let mut firsts = Vec::new();
        for l in &got {
            if !firsts.contains(l) {
                firsts.push(l.clone());
            }
        }
        assert_eq!(firsts, lines);
        assert_eq!(ids(&newest_first(&lines))[0], "99");
    }
}
