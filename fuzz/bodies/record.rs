//! Arbitrary bytes through every reading layer: the record parser, a block of lines, a
//! pretty-printed document, the frame reader, and the whole pipeline in `--emit all`.
//!
//! Besides "no panic", it asserts what the output contract rests on:
//! - parsing leaves a block's bytes as they came (lines are parsed in place);
//! - a block's units are in order, do not overlap, stay inside their line, and every line has one
//!   (a line that is not a `{"Records":[…]}` body has exactly one unit, the whole line);
//! - `records + malformed == units`, and facts only belong to record units;
//! - the frame reader hands on every byte once, in order;
//! - `--emit all` writes every unit, in order: a unit as it came in, or a record with one
//!   `"credtrail":{…}` key spliced before its closing brace, or a malformed unit that names
//!   `credtrail` or is over the limit wrapped; an oversized line wrapped (its prefix and length);
//! - `--malformed wrap` changes only malformed lines, each into a JSON wrapper of its bytes (a
//!   line over the limit: its prefix and length), and keeps the line count of `pass`.
use credtrail::input::framing::{BlockKind, Frame, FrameReader};
use credtrail::parse::block::{BlockParser, ParsedBlock, Unit};
use credtrail::parse::record::Parser;
use credtrail::parse::shape;
use credtrail::{Config, Emit, Input};

pub fn run(data: &[u8]) {
    // The parser alone.
    let mut facts = Vec::new();
    let _ = Parser::default().read(data, &mut facts);

    // The bytes as a block of lines, then as a document.
    let mut bp = BlockParser::default();
    let lines = bp.parse(Frame {
        data: data.to_vec(),
        kind: BlockKind::Lines,
    });
    // Lines are parsed where they lie unless they have a backslash: not one byte may change.
    assert!(lines.data == data, "the block's bytes changed");
    check_lines_block(data, &lines);
    if !data.is_empty() {
        // The frame reader never makes an empty document.
        let doc = bp.parse(Frame {
            data: data.to_vec(),
            kind: BlockKind::Document,
        });
        check_document_block(data, &doc);
    }

    // Framing and the pipeline, with a read size and a line limit taken from the input. A record's
    // second byte is nearly always `"`, and it leaves lines whole, so that records are parsed and
    // annotated; any other second byte sets a small limit (`{ "…` is a record cut as oversized).
    let (read_size, max_line) = match data {
        [a, b'"', ..] => (1 + usize::from(*a % 64), 1 << 20),
        [a, b, ..] => (1 + usize::from(*a % 64), 1 + usize::from(*b) * 4),
        _ => (7, 64),
    };
    check_frames(data, read_size, max_line);
    check_emit_all(data, read_size, max_line);
}

fn line_spans(data: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < data.len() {
        let end = memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
        out.push((start, end));
        start = end + 1;
    }
    out
}

fn memchr(c: u8, s: &[u8]) -> Option<usize> {
    s.iter().position(|&x| x == c)
}

fn check_counts(b: &ParsedBlock) {
    // An empty body (`{"Records":[]}`) is passed on but counted as neither record nor malformed.
    let empty_bodies = b
        .units
        .iter()
        .enumerate()
        .filter(|(i, u)| {
            let bytes = b.bytes(u);
            let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            !u.record
                && !b.malformed.iter().any(|(m, _)| *m as usize == *i)
                && shape::records_body_start(bytes).is_some()
        })
        .count();
    assert_eq!(
        b.units.len(),
        b.records as usize + b.malformed.len() + empty_bodies,
        "every unit is a record, malformed, or an empty body"
    );
    let mut prev = None;
    for (i, _) in &b.malformed {
        assert!((*i as usize) < b.units.len());
        assert!(prev.is_none_or(|p| p < *i), "malformed units in order");
        assert!(!b.units[*i as usize].record, "a malformed unit is not a record");
        prev = Some(*i);
    }
    let mut prev = 0;
    for (i, _) in &b.facts {
        assert!((*i as usize) < b.units.len());
        assert!(*i >= prev, "facts in unit order");
        assert!(b.units[*i as usize].record, "facts only from records");
        prev = *i;
    }
}

fn check_in_order(b: &ParsedBlock, units: &[Unit]) {
    let mut last_end = [0u32; 2];
    for u in units {
        let src = if u.compacted { &b.compacted } else { &b.data };
        assert!(u.start <= u.end && u.end as usize <= src.len(), "{u:?} in bounds");
        let k = usize::from(u.compacted);
        assert!(u.start >= last_end[k], "{u:?} after the previous unit");
        last_end[k] = u.end;
        let _ = b.bytes(u);
    }
}

fn check_lines_block(data: &[u8], b: &ParsedBlock) {
    assert_eq!(b.data, data);
    assert_eq!(b.kind, BlockKind::Lines);
    check_counts(b);
    check_in_order(b, &b.units);
    let spans = line_spans(data);
    assert_eq!(b.lines as usize, spans.len());
    for (n, &(s, e)) in spans.iter().enumerate() {
        let us: Vec<&Unit> = b.units.iter().filter(|u| u.line as usize == n).collect();
        for u in &us {
            assert!(!u.compacted);
            assert!(
                u.start as usize >= s && u.end as usize <= e,
                "unit inside its line"
            );
        }
        let line = &data[s..e];
        let no_bom = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        let blank = no_bom.iter().all(|c| matches!(c, b' ' | b'\t' | b'\r'));
        if !blank && let Some(start) = shape::records_body_start(no_bom) {
            if us.is_empty() {
                // Only an empty body has nothing to say.
                let mut el = Vec::new();
                assert_eq!(shape::split_body(no_bom, start, &mut el), shape::BodyEnd::Clean);
                assert!(
                    el.is_empty(),
                    "line {n} lost: {:?}",
                    String::from_utf8_lossy(line)
                );
            }
        } else {
            assert_eq!(us.len(), 1, "line {n}: one unit");
            assert_eq!(
                (us[0].start as usize, us[0].end as usize),
                (s, e),
                "line {n}: whole line"
            );
        }
    }
    assert!(b.units.iter().all(|u| (u.line as usize) < spans.len()));
}

fn check_document_block(data: &[u8], b: &ParsedBlock) {
    assert_eq!(b.data, data);
    check_in_order(b, &b.units);
    let compacted = b.units.iter().filter(|u| u.compacted).count();
    assert!(
        compacted == 0 || compacted == b.units.len(),
        "one way or the other"
    );
    if compacted > 0 {
        check_counts(b);
        // Each compacted unit goes out as one line: a string over a line break would split it.
        for u in &b.units {
            assert!(!b.bytes(u).contains(&b'\n'), "a compacted unit holds a newline");
        }
    } else {
        // Not readable as a document: given back line by line, each line whole, in order, with
        // one malformed report for the whole document.
        assert_eq!(b.records, 0);
        assert_eq!(b.malformed.len(), 1);
        assert_eq!(b.malformed[0].0, 0);
        let spans = line_spans(data);
        assert_eq!(b.units.len(), spans.len());
        for (u, (s, e)) in b.units.iter().zip(spans) {
            assert_eq!((u.start as usize, u.end as usize), (s, e));
        }
    }
}

fn check_frames(data: &[u8], read_size: usize, max_line: usize) {
    let mut r = FrameReader::new(data, read_size, max_line);
    let mut joined = Vec::new();
    let mut in_oversized = false;
    let mut frames = Vec::new();
    while let Some(f) = r.next_frame().expect("reading a slice cannot fail") {
        match f.kind {
            BlockKind::Oversized { first, last } => {
                assert_eq!(first, !in_oversized, "oversized pieces start once");
                in_oversized = !last;
            }
            _ => {
                assert!(!in_oversized, "an oversized line ends before other frames");
                assert!(!f.data.is_empty(), "no empty frames");
            }
        }
        joined.extend_from_slice(&f.data);
        frames.push(f.kind);
    }
    assert!(!in_oversized, "an oversized line is closed");
    assert_eq!(joined, data, "every byte once, in order ({frames:?})");
}

/// What `--emit all` must write, unit by unit, computed from the public layers; then the pipeline's
/// real output is walked against it.
fn check_emit_all(data: &[u8], read_size: usize, max_line: usize) {
    if data.starts_with(&[0x1f, 0x8b]) {
        return; // Read as gzip.
    }
    let input = Input::Memory("fuzz".into(), data.to_vec());
    let cfg = Config {
        inputs: vec![input.clone()],
        emit: Emit::All,
        threads: 1,
        read_size,
        max_line_bytes: max_line,
        ..Config::default()
    };
    let mut out = Vec::new();
    let mut err = Vec::new();
    let stats = credtrail::run(&cfg, &mut out, &mut err).expect("in-memory run");
    assert_eq!(stats.input_errors, 0);

    let reader = credtrail::input::open(input, None).expect("open");
    let mut frames = FrameReader::new(reader, read_size, max_line);
    // The same line limit as the run: a long line whose newline came in the same read is reported
    // by the block parser, not cut by the reader.
    let mut bp = BlockParser::with_max_line(max_line);
    let mut at = 0usize;
    let mut long = Vec::new();
    let (mut records, mut malformed) = (0u64, 0u64);
    while let Some(f) = frames.next_frame().expect("read") {
        if let BlockKind::Oversized { first, last } = f.kind {
            // Wrapped in either mode: one line once its last piece is read.
            malformed += u64::from(first);
            if first {
                long = Vec::new();
            }
            long.extend_from_slice(&f.data);
            if last {
                let line = long.strip_suffix(b"\n").unwrap_or(&long);
                let nl = memchr(b'\n', &out[at..]).expect("a wrapped long line ends") + at;
                assert!(is_wrapper_of(&out[at..nl], line), "a long line is wrapped");
                at = nl + 1;
            }
            continue;
        }
        let b = bp.parse(f);
        records += u64::from(b.records);
        malformed += b.malformed.len() as u64;
        for u in &b.units {
            let bytes = b.bytes(u);
            let rest = &out[at..];
            if rest.len() > bytes.len() && rest.starts_with(bytes) && rest[bytes.len()] == b'\n' {
                at += bytes.len() + 1;
                continue;
            }
            if !u.record {
                // Wrapped in either mode: over the limit, or naming `credtrail`.
                let nl = memchr(b'\n', rest).map_or(out.len(), |i| at + i);
                if is_wrapper_of(&out[at..nl], bytes) {
                    at = nl + 1;
                    continue;
                }
            }
            assert!(
                u.record,
                "unit {:?} not written as it came in at output offset {at}: {:?}",
                String::from_utf8_lossy(bytes),
                String::from_utf8_lossy(&rest[..rest.len().min(200)])
            );
            let close = bytes
                .iter()
                .rposition(|&c| c == b'}')
                .expect("a record ends in }");
            expect(&out, &mut at, &bytes[..close]);
            let rest = &out[at..];
            let key = if rest.starts_with(b",\"credtrail\":") {
                13
            } else if rest.starts_with(b"\"credtrail\":") {
                12
            } else {
                panic!("record at output offset {at} has no credtrail key");
            };
            let nl = memchr(b'\n', &rest[key..]).expect("annotated line ends") + key;
            // A CRLF line keeps its `\r`.
            let end = if bytes.ends_with(b"\r") { nl - 1 } else { nl };
            assert_eq!(&rest[end - 1..nl], if end < nl { &b"}\r"[..] } else { &b"}"[..] });
            let ann: serde_json::Value =
                serde_json::from_slice(&rest[key..end - 1]).expect("the annotation is JSON");
            assert!(ann["verdict"].is_string());
            at += nl + 1;
        }
    }
    assert_eq!(at, out.len(), "nothing written beyond the units");
    assert_eq!((stats.records, stats.malformed), (records, malformed));
    check_wrapped(&cfg, &out);
}

/// `--malformed wrap` writes the same lines as `pass` but for malformed ones, each of which is a
/// JSON wrapper that holds the line (or, for a line over the limit, its prefix and length).
fn check_wrapped(pass_cfg: &Config, pass: &[u8]) {
    let cfg = Config {
        malformed: credtrail::output::wrap::MalformedOutput::Wrap,
        ..pass_cfg.clone()
    };
    let mut out = Vec::new();
    credtrail::run(&cfg, &mut out, &mut Vec::new()).expect("in-memory run");
    let pass_lines: Vec<&[u8]> = pass.split(|&c| c == b'\n').collect();
    let wrap_lines: Vec<&[u8]> = out.split(|&c| c == b'\n').collect();
    assert_eq!(
        pass_lines.len(),
        wrap_lines.len(),
        "wrap mode keeps the line count"
    );
    for (p, w) in pass_lines.iter().zip(&wrap_lines) {
        if p == w {
            continue;
        }
        assert!(
            is_wrapper_of(w, p),
            "wrap mode changed a line into something other than its wrapper: {:?} -> {:?}",
            String::from_utf8_lossy(p),
            String::from_utf8_lossy(w)
        );
    }
}

/// Whether `w` is the JSON wrapper of the line `p`: its bytes, or for a line over the limit its
/// prefix and length.
fn is_wrapper_of(w: &[u8], p: &[u8]) -> bool {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(w) else {
        return false;
    };
    let c = &v["credtrail"];
    if !c["malformed"].is_string() {
        return false;
    }
    let line = p.strip_suffix(b"\r").unwrap_or(p);
    if let Some(text) = c["line"].as_str() {
        text.as_bytes() == line
    } else if let Some(prefix) = c["line_prefix"].as_str() {
        line.starts_with(prefix.as_bytes()) && c["bytes"] == line.len()
    } else if c["line_prefix_base64"].is_string() {
        c["bytes"] == line.len()
    } else {
        c["line_base64"].is_string()
    }
}

fn expect(out: &[u8], at: &mut usize, want: &[u8]) {
    let got = &out[*at..(*at + want.len()).min(out.len())];
    assert!(
        got == want,
        "output at {at}: expected {:?}, got {:?}",
        String::from_utf8_lossy(want),
        String::from_utf8_lossy(got)
    );
    *at += want.len();
}
