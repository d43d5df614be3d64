//! `aws cloudtrail lookup-events` output: `{"Events":[{"EventId":…,"CloudTrailEvent":"<record as
//! JSON text>",…}],"NextToken":…}`. Each event carries the whole record as a string; the record is
//! that string's text, unescaped and compacted onto one line. The API lists events newest first,
//! so they are handed on in the reverse of their order on the page: oldest first, as a trail reads.
//!
//! Not the hot path (the API gives at most 50 events per call, two calls a second), so the page is
//! parsed whole with serde_json.

use serde::Deserialize;
use serde_json::value::RawValue;

/// True if `line` opens a lookup-events page: `{"Events":` with any whitespace. The cheap test
/// that keeps every other line off the slow path.
pub fn is_page(line: &[u8]) -> bool {
    let ws = |b: &[u8], mut i: usize| {
        while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
        }
        i
    };
    let i = ws(line, 0);
    if line.get(i) != Some(&b'{') {
        return false;
    }
    let i = ws(line, i + 1);
    line[i..].starts_with(b"\"Events\"") && line.get(ws(line, i + 8)) == Some(&b':')
}

#[derive(Deserialize)]
struct Page<'a> {
    #[serde(rename = "Events", borrow)]
    events: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "CloudTrailEvent")]
    cloud_trail_event: Option<String>,
}

/// One event of a page, in the order to read them.
#[derive(Debug, PartialEq, Eq)]
pub enum Entry<'a> {
    /// The record's JSON text, unescaped (not yet compacted or validated).
    Record(String),
    /// An element without a `CloudTrailEvent` string: its bytes as they were, and why.
    Bad(&'a str, String),
}

/// The events of a page, oldest first; `Err` says why the page could not be read at all.
pub fn entries(page: &[u8]) -> Result<Vec<Entry<'_>>, String> {
    let page: Page = serde_json::from_slice(page).map_err(|e| format!("lookup-events output: {e}"))?;
    let mut out = Vec::with_capacity(page.events.len());
    for (i, raw) in page.events.iter().enumerate().rev() {
        let entry = match serde_json::from_str::<Event>(raw.get()) {
            Ok(Event {
                cloud_trail_event: Some(text),
            }) => Entry::Record(text),
            Ok(_) => Entry::Bad(raw.get(), format!("Events[{i}] has no CloudTrailEvent string")),
            Err(e) => Entry::Bad(raw.get(), format!("Events[{i}]: {e}")),
        };
        out.push(entry);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_recognised_by_its_first_key() {
        assert!(is_page(br#"{"Events":[]}"#));
        assert!(is_page(b"{\n    \"Events\" : [\n"));
        assert!(!is_page(br#"{"Records":[]}"#));
        assert!(!is_page(br#"{"EventsX":[]}"#));
        assert!(!is_page(br#"{"eventName":"Events"}"#));
    }

    /// Newest first on the page, oldest first out; the record text unescaped; an element that is
    /// not an event kept with its reason; `NextToken` and the other fields ignored.
    #[test]
    fn events_come_out_oldest_first_with_their_records_unescaped() {
        let page = br#"{"Events":[
            {"EventId":"b","EventTime":"2024-03-01T12:06:00+00:00","CloudTrailEvent":"{\"eventID\":\"b\",\"x\":\"q\\\"\"}"},
            {"EventId":"c"},
            {"EventId":"a","CloudTrailEvent":"{\"eventID\":\"a\"}"}
        ],"NextToken":"tok"}"#;
        let e = entries(page).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[0], Entry::Record(r#"{"eventID":"a"}"#.into()));
        assert!(matches!(&e[1], Entry::Bad(raw, why) if raw.contains("\"c\"") && why.contains("Events[1]")));
        assert_eq!(e[2], Entry::Record(r#"{"eventID":"b","x":"q\""}"#.into()));
    }

    #[test]
    fn a_page_that_is_not_json_is_an_error() {
        assert!(entries(br#"{"Events":[{"CloudTrailEvent":"x"}"#).is_err());
        assert!(entries(br#"{"Events":5}"#).is_err());
    }
}
