//! Lines that `--emit all` cannot pass on as they are. A malformed line passed through unchanged
//! stops a JSON consumer (the README's own jq recipe printed 12 of 24 alerts, then jq exited 4);
//! with `--malformed wrap` each is written as a JSON object holding the reason and every byte of
//! the line:
//!
//! `{"credtrail":{"malformed":"REASON","line":"TEXT"}}`, or `"line_base64"` when the line is not
//! UTF-8.
//!
//! A malformed line that names `credtrail` (also spelt with `\u0063`-style escapes, in a record of
//! a `{"Records":[…]}` body or a lookup-events page's `CloudTrailEvent`) is always written so, in
//! either mode: that key is credtrail's verdict, and passed on it could forge one
//! (`jq 'select(.credtrail.verdict=="compromise")'` reported it), also from a line a lenient
//! reader still parses. Wrapped, the input's key is inside a string.
//!
//! Done on the parsed block before it is rendered: a wrapped unit points at its new bytes, so the
//! writer, which copies spans, needs no other path.
//!
//! A line over `--max-line-bytes` is not held whole: it comes in pieces ([`LongLine`]), or as one
//! unit when its newline came in the same read. Wrapped, it keeps its first `--max-line-bytes`
//! bytes and its length, the same however it came:
//!
//! `{"credtrail":{"malformed":"line longer than --max-line-bytes; not read","line_prefix":"TEXT","bytes":N}}`
//!
//! (`"line_prefix_base64"` when the prefix is not UTF-8; a character cut at its end is left out
//! of the text.) Not every byte, unlike a wrapped line under the limit: a consumer would have to
//! hold a line of any length as one JSON string (a gzip bomb of one line is gigabytes), where the
//! limit bounds the lines of the input it would hold. A long line is wrapped in either mode: it
//! is not read, so whether it carries a forged `credtrail` key is not known.

use super::annotation::escape_json;
use crate::parse::block::{OVERSIZED, ParsedBlock};

/// What `--emit all` does with a malformed line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MalformedOutput {
    /// Passed on unchanged (but for one that names `credtrail` or is over the line limit).
    #[default]
    Pass,
    /// Written as `{"credtrail":{"malformed":…,"line":…}}`.
    Wrap,
}

/// Rewrites the malformed units of `block` that `mode` says to wrap, and in either mode those
/// that name `credtrail` or are over `max_line` bytes; a line over `max_line` keeps its first
/// `max_line`.
pub fn wrap_malformed(block: &mut ParsedBlock, mode: MalformedOutput, max_line: usize) {
    if block.malformed.is_empty() {
        return;
    }
    let malformed = std::mem::take(&mut block.malformed);
    for (k, (unit, m)) in malformed.iter().enumerate() {
        // A document that could not be read goes out as its lines, after the one the reason is
        // on: each is wrapped with that reason.
        let last = if m.0.starts_with("document over ") {
            malformed
                .get(k + 1)
                .map_or(block.units.len(), |(next, _)| *next as usize)
        } else {
            *unit as usize + 1
        };
        for i in *unit as usize..last {
            let line = block.bytes(&block.units[i]);
            let wrap = mode == MalformedOutput::Wrap || m.0 == OVERSIZED || names_credtrail(line);
            if !wrap {
                continue;
            }
            let mut text = Vec::new();
            if m.0 == OVERSIZED {
                long_line_head(&line[..max_line.min(line.len())], &mut text);
                long_line_tail(line_len(line), &mut text);
            } else {
                wrapped(&m.0, line, &mut text);
            }
            let start = block.compacted.len();
            block.compacted.extend_from_slice(&text);
            let end = block.compacted.len();
            let u = &mut block.units[i];
            (u.start, u.end, u.compacted) = (start as u32, end as u32, true);
        }
    }
    block.malformed = malformed;
}

/// Whether `line` spells `credtrail` (ASCII case ignored), once its `\uXXXX` escapes are read:
/// a malformed line is not parsed, so where the word stands in it (a key, a top-level key) is not
/// known, and a lenient reader could take it for credtrail's verdict.
pub fn names_credtrail(line: &[u8]) -> bool {
    const WORD: &[u8] = b"credtrail";
    let mut matched = 0;
    let mut i = 0;
    while i < line.len() {
        let mut c = line[i];
        i += 1;
        if c == b'\\' && line.get(i) == Some(&b'u') {
            let code = line
                .get(i + 1..i + 5)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u32::from_str_radix(h, 16).ok());
            if let Some(code) = code {
                // Not ASCII: no letter of the word.
                c = u8::try_from(code).ok().filter(u8::is_ascii).unwrap_or(0);
                i += 5;
            }
        }
        let c = c.to_ascii_lowercase();
        if c == WORD[matched] {
            matched += 1;
            if matched == WORD.len() {
                return true;
            }
        } else {
            matched = usize::from(c == WORD[0]);
        }
    }
    false
}

/// `{"credtrail":{"malformed":REASON,"line":LINE}}`, no newline.
pub fn wrapped(reason: &str, line: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"credtrail\":{\"malformed\":\"");
    escape_json(reason, out);
    // A CRLF line's CR is its line end, not its content.
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    match std::str::from_utf8(line) {
        Ok(text) => {
            out.extend_from_slice(b"\",\"line\":\"");
            escape_json(text, out);
        }
        Err(_) => {
            out.extend_from_slice(b"\",\"line_base64\":\"");
            base64(line, out);
        }
    }
    out.extend_from_slice(b"\"}}");
}

/// `{"credtrail":{"malformed":OVERSIZED,"line_prefix":TEXT` (or `line_prefix_base64`), the
/// wrapper of a long line up to its length.
fn long_line_head(prefix: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"credtrail\":{\"malformed\":\"");
    escape_json(OVERSIZED, out);
    // The prefix ends where the limit does, which may be inside a character: that character is
    // left out rather than making the whole prefix base64.
    let text = match std::str::from_utf8(prefix) {
        Ok(text) => Some(text),
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&prefix[..e.valid_up_to()]).ok(),
        Err(_) => None,
    };
    match text {
        Some(text) => {
            out.extend_from_slice(b"\",\"line_prefix\":\"");
            escape_json(text, out);
        }
        None => {
            out.extend_from_slice(b"\",\"line_prefix_base64\":\"");
            base64(prefix, out);
        }
    }
    out.push(b'"');
}

/// `,"bytes":N}}`: the end of a long line's wrapper (no newline).
fn long_line_tail(bytes: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(format!(",\"bytes\":{bytes}}}}}").as_bytes());
}

/// A line's length without its line end (as [`wrapped`], a final `\r` is one).
fn line_len(line: &[u8]) -> u64 {
    line.strip_suffix(b"\r").unwrap_or(line).len() as u64
}

/// The line over `--max-line-bytes` being written in `--emit all`, piece by piece: as it came, or
/// wrapped (see the module). Its pieces are consecutive blocks, so one writer's state suffices.
#[derive(Debug)]
pub struct LongLine {
    max_line: usize,
    /// The line being written: its bytes so far, and whether the last of them is a `\r`.
    open: Option<(u64, bool)>,
}

impl LongLine {
    /// A long line is wrapped in either `--malformed` mode (see the module).
    pub fn new(max_line: usize) -> LongLine {
        LongLine {
            max_line: max_line.max(1),
            open: None,
        }
    }

    /// Writes one piece of a long line to `out`.
    pub fn piece(&mut self, data: &[u8], first: bool, last: bool, out: &mut Vec<u8>) {
        if first {
            self.interrupted(out);
            // The reader cuts a first piece only past the limit: it holds the whole prefix.
            long_line_head(&data[..self.max_line.min(data.len())], out);
            self.open = Some((0, false));
        }
        let Some((bytes, cr)) = &mut self.open else {
            return;
        };
        let line = match data.strip_suffix(b"\n") {
            Some(line) if last => line,
            _ => data,
        };
        *bytes += line.len() as u64;
        if let Some(&c) = line.last() {
            *cr = c == b'\r';
        }
        if last {
            self.interrupted(out);
        }
    }

    /// Ends the line being written, if any: at its last piece, or when the input it came from
    /// failed before its end (a read error), so that the next line does not run on from it.
    pub fn interrupted(&mut self, out: &mut Vec<u8>) {
        let Some((bytes, cr)) = self.open.take() else {
            return;
        };
        long_line_tail(bytes - u64::from(cr), out);
        out.push(b'\n');
    }
}

/// Standard base64 (RFC 4648, padded).
fn base64(bytes: &[u8], out: &mut Vec<u8>) {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        out.push(A[(n >> 18) as usize & 63]);
        out.push(A[(n >> 12) as usize & 63]);
        out.push(if c.len() > 1 {
            A[(n >> 6) as usize & 63]
        } else {
            b'='
        });
        out.push(if c.len() > 2 { A[n as usize & 63] } else { b'=' });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The RFC 4648 test vectors.
    #[test]
    fn base64_as_rfc_4648_gives_it() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            let mut out = Vec::new();
            base64(plain.as_bytes(), &mut out);
            assert_eq!(out, coded.as_bytes());
        }
    }

    /// A long line through `LongLine` in pieces.
    fn in_pieces(max_line: usize, pieces: &[&[u8]], last: bool) -> Vec<u8> {
        let mut long = LongLine::new(max_line);
        let mut out = Vec::new();
        for (i, p) in pieces.iter().enumerate() {
            long.piece(p, i == 0, last && i + 1 == pieces.len(), &mut out);
        }
        long.interrupted(&mut out);
        out
    }

    /// A long line wrapped keeps its first `max_line` bytes (a character cut by the limit left
    /// out of the text) and its length without the line end, the same however it is cut into
    /// pieces (a CRLF's `\r` in the piece before its `\n` included), and the same as the line
    /// wrapped whole; it is one JSON object on one line. (Mutations: writing the head at every
    /// piece, or counting the `\n`, fail it.)
    #[test]
    fn a_long_line_wraps_the_same_in_any_pieces() {
        let line = "abcdéfgh\"\\ij\r\n".as_bytes();
        let content = &line[..line.len() - 2];
        // `é` is bytes 4 and 5: a limit of 5 cuts it.
        for (max_line, want_prefix) in [(4, "abcd"), (5, "abcd"), (6, "abcdé"), (9, "abcdéfgh")] {
            let mut whole = Vec::new();
            long_line_head(&content[..max_line], &mut whole);
            long_line_tail(content.len() as u64, &mut whole);
            whole.push(b'\n');
            let v: serde_json::Value = serde_json::from_slice(&whole).unwrap();
            assert_eq!(v["credtrail"]["line_prefix"], want_prefix, "max_line {max_line}");
            assert_eq!(v["credtrail"]["bytes"], content.len());
            assert_eq!(v["credtrail"]["malformed"], OVERSIZED);
            for cut in max_line + 1..line.len() {
                for cut2 in cut..line.len() {
                    let pieces = [&line[..cut], &line[cut..cut2], &line[cut2..]];
                    let got = in_pieces(max_line, &pieces, true);
                    assert_eq!(
                        String::from_utf8_lossy(&got),
                        String::from_utf8_lossy(&whole),
                        "{max_line} {cut} {cut2}"
                    );
                }
            }
        }
        // Not UTF-8 in the prefix: base64.
        let got = in_pieces(4, &[b"ab\xffcd", b"ef"], true);
        let v: serde_json::Value = serde_json::from_slice(&got).unwrap();
        assert_eq!(v["credtrail"]["line_prefix_base64"], "YWL/Yw==");
        assert_eq!(v["credtrail"]["bytes"], 7);
    }

    /// A long line is wrapped whole, however its pieces end; a line whose input failed before its
    /// last piece is ended with a newline, so that the next line is a line of its own.
    /// (Mutation: not ending it in `interrupted` fails it.)
    #[test]
    fn a_long_line_cut_short_still_ends() {
        let five = b"{\"credtrail\":{\"malformed\":\"line longer than --max-line-bytes; not read\",\"line_prefix\":\"ab\",\"bytes\":5}}\n";
        assert_eq!(in_pieces(2, &[b"abc", b"de\n"], true), five);
        assert_eq!(in_pieces(2, &[b"abc", b"de"], true), five);
        assert_eq!(records_of(&in_pieces(2, &[b"abc", b""], true)), 1);
        let got = in_pieces(2, &[b"abc", b"de"], false);
        assert_eq!(got, b"{\"credtrail\":{\"malformed\":\"line longer than --max-line-bytes; not read\",\"line_prefix\":\"ab\",\"bytes\":5}}\n");
        // A second long line after one cut short: each on its own line.
        let mut long = LongLine::new(2);
        let mut out = Vec::new();
        long.piece(b"abc", true, false, &mut out);
        long.piece(b"xyz\n", true, true, &mut out);
        assert_eq!(records_of(&out), 2);
    }

    /// The number of lines of `out`, each of which must be JSON.
    fn records_of(out: &[u8]) -> usize {
        let lines: Vec<&[u8]> = out.split(|&c| c == b'\n').filter(|l| !l.is_empty()).collect();
        for l in &lines {
            serde_json::from_slice::<serde_json::Value>(l).unwrap();
        }
        lines.len()
    }

    /// `credtrail` is found however it is spelt: plain, in any ASCII case, with letters as
    /// `\uXXXX` escapes (either hex case), after a false start; not across a non-ASCII escape or
    /// when a letter is missing. (Mutation: not reading escapes fails the second case.)
    #[test]
    fn names_credtrail_reads_escapes() {
        for yes in [
            &br#"{"credtrail":1"#[..],
            br#"{"\u0063redtrail":1}"#,
            br#"x"\u0043RED\u0074ra\u0069l"#,
            b"ccredtrail",
            b"credcredtrail",
        ] {
            assert!(names_credtrail(yes), "{}", String::from_utf8_lossy(yes));
        }
        for no in [
            &b"credtrai"[..],
            b"cred trail",
            br#"\u0163redtrail"#,
            br#"\u006"#,
            b"",
        ] {
            assert!(!names_credtrail(no), "{}", String::from_utf8_lossy(no));
        }
    }

    /// Text lines keep every character as a JSON string, others every byte as base64, and each
    /// wrapped line is one JSON object. (Mutation: writing the text unescaped fails the parse.)
    #[test]
    fn a_wrapped_line_is_json_and_keeps_its_bytes() {
        let mut out = Vec::new();
        wrapped("invalid JSON", b"{\"a\":\"q\\\"\t", &mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["credtrail"]["line"], "{\"a\":\"q\\\"\t");
        out.clear();
        wrapped("invalid JSON: not UTF-8", b"caf\xe9", &mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["credtrail"]["line_base64"], "Y2Fm6Q==");
    }
}
