//! Lines that `--emit all` cannot pass on as they are. A malformed line passed through unchanged
//! stops a JSON consumer (the README's own jq recipe printed 12 of 24 alerts, then jq exited 4);
//! with `--malformed wrap` each is written as a JSON object holding the reason and every byte of
//! the line:
//!
//! `{"credtrail":{"malformed":"REASON","line":"TEXT"}}`, or `"line_base64"` when the line is not
//! UTF-8.
//!
//! A line whose value has a top-level `credtrail` key is always written so, in either mode: that
//! key is credtrail's verdict, and passed on it would forge one
//! (`jq 'select(.credtrail.verdict=="compromise")'` reported it). Wrapped, the input's key is
//! inside a string.
//!
//! Done on the parsed block before it is rendered: a wrapped unit points at its new bytes, so the
//! writer, which copies spans, needs no other path. Lines over `--max-line-bytes` are streamed in
//! pieces and pass as they are.

use super::annotation::escape_json;
use crate::parse::block::ParsedBlock;
use crate::parse::record::FORGED_VERDICT;

/// What `--emit all` does with a malformed line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MalformedOutput {
    /// Passed on unchanged (but for one with a top-level `credtrail` key).
    #[default]
    Pass,
    /// Written as `{"credtrail":{"malformed":…,"line":…}}`.
    Wrap,
}

/// Rewrites the malformed units of `block` that `mode` (or a forged verdict) says to wrap.
pub fn wrap_malformed(block: &mut ParsedBlock, mode: MalformedOutput) {
    if block.malformed.is_empty() {
        return;
    }
    let malformed = std::mem::take(&mut block.malformed);
    for (k, (unit, m)) in malformed.iter().enumerate() {
        let wrap = mode == MalformedOutput::Wrap || m.0 == FORGED_VERDICT;
        if !wrap {
            continue;
        }
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
            let mut text = Vec::new();
            wrapped(&m.0, block.bytes(&block.units[i]), &mut text);
            let start = block.compacted.len();
            block.compacted.extend_from_slice(&text);
            let end = block.compacted.len();
            let u = &mut block.units[i];
            (u.start, u.end, u.compacted) = (start as u32, end as u32, true);
        }
    }
    block.malformed = malformed;
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
