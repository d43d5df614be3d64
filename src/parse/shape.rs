//! The shapes a line of input can take besides a single record: a CloudTrail log file body
//! (`{"Records":[…]}`) whose elements are cut out without parsing the whole body, and a
//! pretty-printed document spread over many lines that is folded back onto one.

use std::ops::Range;

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// If `line` opens a log file body, `{"Records":[` with any whitespace, the offset just after `[`.
pub fn records_body_start(line: &[u8]) -> Option<usize> {
    let mut i = skip_ws(line, 0);
    if line.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(line, i + 1);
    if !line[i..].starts_with(b"\"Records\"") {
        return None;
    }
    i = skip_ws(line, i + 9);
    if line.get(i) != Some(&b':') {
        return None;
    }
    i = skip_ws(line, i + 1);
    (line.get(i) == Some(&b'[')).then_some(i + 1)
}

/// Where the elements of a body end and what follows them.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyEnd {
    /// `]}` and nothing else but whitespace.
    Clean,
    /// The array or the object is cut short, or other bytes follow: the span that could not be
    /// read as elements.
    Broken(Range<usize>),
}

/// Cuts the array that starts at `start` (just after `[`) into element spans, whitespace trimmed.
/// Strings are skipped whole, so brackets and commas inside them do not count. Elements are not
/// validated here: each one is parsed on its own afterwards.
pub fn split_body(line: &[u8], start: usize, elements: &mut Vec<Range<usize>>) -> BodyEnd {
    let mut i = skip_ws(line, start);
    if line.get(i) == Some(&b']') {
        return body_tail(line, i + 1);
    }
    let mut elem_start = i;
    let mut depth: usize = 0;
    while i < line.len() {
        match line[i] {
            b'"' => match string_end(line, i + 1) {
                Some(end) => {
                    i = end;
                    continue;
                }
                None => return BodyEnd::Broken(elem_start..line.len()),
            },
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth > 0 => depth -= 1,
            b',' if depth == 0 => {
                elements.push(trim(line, elem_start..i));
                elem_start = i + 1;
            }
            b']' => {
                elements.push(trim(line, elem_start..i));
                return body_tail(line, i + 1);
            }
            b'}' => return BodyEnd::Broken(elem_start..line.len()),
            _ => {}
        }
        i += 1;
    }
    BodyEnd::Broken(elem_start..line.len())
}

fn body_tail(line: &[u8], after_bracket: usize) -> BodyEnd {
    let i = skip_ws(line, after_bracket);
    if line.get(i) == Some(&b'}') && skip_ws(line, i + 1) == line.len() {
        BodyEnd::Clean
    } else {
        BodyEnd::Broken(after_bracket..line.len())
    }
}

/// Given the index just after an opening quote, the index just after the closing one.
fn string_end(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        i += memchr::memchr2(b'"', b'\\', b.get(i..)?)?;
        if b[i] == b'\\' {
            // An escape may be the last byte: then the string never ends.
            i += 2;
        } else {
            return Some(i + 1);
        }
    }
}

fn trim(b: &[u8], r: Range<usize>) -> Range<usize> {
    let mut s = r.start;
    let mut e = r.end;
    while s < e && matches!(b[s], b' ' | b'\t' | b'\n' | b'\r') {
        s += 1;
    }
    while e > s && matches!(b[e - 1], b' ' | b'\t' | b'\n' | b'\r') {
        e -= 1;
    }
    s..e
}

/// Removes the whitespace outside strings, so that a pretty-printed document becomes one line.
/// JSON never needs whitespace between tokens, and raw newlines cannot occur inside strings, so
/// the result means the same and contains no newline.
pub fn compact(doc: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(doc.len());
    let mut i = 0;
    while i < doc.len() {
        let c = doc[i];
        if c == b'"' {
            let end = string_end(doc, i + 1).unwrap_or(doc.len()).min(doc.len());
            out.extend_from_slice(&doc[i..end]);
            i = end;
            continue;
        }
        if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
            out.push(c);
        }
        i += 1;
    }
}

/// The bracket depth after reading `chunk`, starting from `state`, for documents that span lines.
#[derive(Debug, Default, Clone, Copy)]
pub struct DepthScan {
    pub depth: i64,
    in_string: bool,
    escaped: bool,
}

impl DepthScan {
    pub fn feed(&mut self, chunk: &[u8]) {
        for &c in chunk {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if c == b'\\' {
                    self.escaped = true;
                } else if c == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match c {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => self.depth -= 1,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(line: &str) -> (Vec<&str>, BodyEnd) {
        let b = line.as_bytes();
        let start = records_body_start(b).expect("a body");
        let mut v = Vec::new();
        let end = split_body(b, start, &mut v);
        (v.into_iter().map(|r| &line[r]).collect(), end)
    }

    #[test]
    fn body_prefixes() {
        assert_eq!(records_body_start(br#"{"Records":[]}"#), Some(12));
        assert_eq!(records_body_start(br#" { "Records" : [ ] }"#), Some(16));
        assert_eq!(records_body_start(br#"{"Records":5}"#), None);
        assert_eq!(records_body_start(br#"{"eventName":"x"}"#), None);
    }

    #[test]
    fn elements_are_cut_at_top_level_commas_only() {
        let (v, end) = spans(r#"{"Records":[{"a":"x,]}\"","b":[1,2]}, 42 ,{"c":{}}]}"#);
        assert_eq!(v, [r#"{"a":"x,]}\"","b":[1,2]}"#, "42", r#"{"c":{}}"#]);
        assert_eq!(end, BodyEnd::Clean);
        let (v, end) = spans(r#"{"Records":[]}"#);
        assert!(v.is_empty());
        assert_eq!(end, BodyEnd::Clean);
    }

    #[test]
    fn broken_bodies_keep_what_was_whole() {
        let (v, end) = spans(r#"{"Records":[{"a":1},{"b":"#);
        assert_eq!(v, [r#"{"a":1}"#]);
        assert!(matches!(end, BodyEnd::Broken(_)));
        let (v, end) = spans(r#"{"Records":[{"a":1}]} trailing"#);
        assert_eq!(v, [r#"{"a":1}"#]);
        assert!(matches!(end, BodyEnd::Broken(_)));
        let (_, end) = spans(r#"{"Records":[{"a":"unterminated}]}"#);
        assert!(matches!(end, BodyEnd::Broken(_)));
    }

    #[test]
    fn a_trailing_backslash_ends_nothing() {
        let (v, end) = spans("{\"Records\":[{\"a\":\"x\\");
        assert!(v.is_empty());
        assert!(matches!(end, BodyEnd::Broken(_)));
        let mut out = Vec::new();
        compact(b"{\"a\":\"\\", &mut out);
        assert_eq!(out, b"{\"a\":\"\\");
    }

    #[test]
    fn compaction_keeps_strings() {
        let mut out = Vec::new();
        compact(
            b"{\n  \"a b\": [ 1,\r\n 2 ],\n \"c\": \"x \\\" y\"\n}\n",
            &mut out,
        );
        assert_eq!(out, br#"{"a b":[1,2],"c":"x \" y"}"#);
    }

    #[test]
    fn depth_spans_lines_and_ignores_strings() {
        let mut d = DepthScan::default();
        d.feed(b"{");
        d.feed(b"  \"Records\": [ \"}]\\\"\",");
        assert_eq!(d.depth, 2);
        d.feed(b"  ]");
        d.feed(b"}");
        assert_eq!(d.depth, 0);
    }
}
