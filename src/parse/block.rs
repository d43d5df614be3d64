//! A block of input cut into output units (what will become one output line each) and the facts
//! its records tell. Stateless, so any number of workers can do it in parallel.

use crate::input::framing::{BlockKind, Frame};
use crate::parse::lookup_events::{self, Entry};
use crate::parse::record::{Fact, Malformed, Parser, Shape, Stamp};
use crate::parse::shape::{self, BodyEnd};
use simd_json::INPUT_PADDING;
use std::ops::Range;

/// One future output line: a span of the block's bytes (or of its compacted document).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unit {
    pub start: u32,
    pub end: u32,
    /// The span is in [`ParsedBlock::compacted`], not in [`ParsedBlock::data`].
    pub compacted: bool,
    /// A record or envelope that parsed: an annotation may be spliced into it.
    pub record: bool,
    /// Lines from the start of the block to this unit's line.
    pub line: u32,
}

#[derive(Debug)]
pub struct ParsedBlock {
    pub data: Vec<u8>,
    pub kind: BlockKind,
    pub compacted: Vec<u8>,
    pub units: Vec<Unit>,
    /// Facts in the order they apply, each with the index of its unit.
    pub facts: Vec<(u32, Fact)>,
    /// The time and id of each unit that has facts, in unit order.
    pub stamps: Vec<(u32, Stamp)>,
    /// Malformed units: the index of the unit and why.
    pub malformed: Vec<(u32, Malformed)>,
    /// Input lines in this block.
    pub lines: u32,
    /// CloudTrail records and envelopes read.
    pub records: u32,
}

impl ParsedBlock {
    /// A block of nothing: what is left where one was taken away.
    pub fn empty() -> ParsedBlock {
        ParsedBlock {
            data: Vec::new(),
            kind: BlockKind::Lines,
            compacted: Vec::new(),
            units: Vec::new(),
            facts: Vec::new(),
            malformed: Vec::new(),
            stamps: Vec::new(),
            lines: 0,
            records: 0,
        }
    }

    pub fn bytes(&self, u: &Unit) -> &[u8] {
        let src = if u.compacted { &self.compacted } else { &self.data };
        &src[u.start as usize..u.end as usize]
    }
}

/// Per-worker scratch, reused from block to block.
pub struct BlockParser {
    parser: Parser,
    elements: Vec<Range<usize>>,
    facts: Vec<Fact>,
    max_line: usize,
    /// Where [`ParsedBlock::compacted`] will start the records taken out of a lookup-events page:
    /// after the compacted document, if the block is one.
    extracted_base: usize,
    /// One record of a lookup-events page, compacted.
    one_line: Vec<u8>,
    /// Units and facts of the last block: the next one is sized alike, instead of growing its
    /// vectors by doubling (each doubling copies every fact so far).
    last_len: (usize, usize),
}

impl Default for BlockParser {
    fn default() -> Self {
        BlockParser::with_max_line(usize::MAX)
    }
}

/// The reason given for a line over `--max-line-bytes`, wherever it is caught. "Not read": not
/// parsed nor judged, whatever `--emit all` writes of it.
pub const OVERSIZED: &str = "line longer than --max-line-bytes; not read";

impl BlockParser {
    /// Lines longer than `max_line` are malformed and not read. The reader already cuts
    /// lines that outgrow its buffer; this catches the ones whose newline came in the same read.
    pub fn with_max_line(max_line: usize) -> Self {
        BlockParser {
            parser: Parser::default(),
            elements: Vec::new(),
            facts: Vec::new(),
            max_line,
            extracted_base: 0,
            one_line: Vec::new(),
            last_len: (0, 0),
        }
    }

    pub fn parse(&mut self, frame: Frame) -> ParsedBlock {
        self.parser.new_block();
        let mut b = ParsedBlock {
            data: frame.data,
            kind: frame.kind,
            compacted: Vec::new(),
            units: Vec::with_capacity(self.last_len.0 + self.last_len.0 / 8),
            facts: Vec::with_capacity(self.last_len.1 + self.last_len.1 / 8),
            malformed: Vec::new(),
            stamps: Vec::new(),
            lines: 0,
            records: 0,
        };
        match frame.kind {
            BlockKind::Lines => {
                let mut data = std::mem::take(&mut b.data);
                let len = data.len();
                // Padding after the last line lets every line be parsed where it lies (the reader
                // left room for it).
                const _: () = assert!(INPUT_PADDING <= crate::input::framing::BLOCK_SLACK);
                data.resize(len + INPUT_PADDING, 0);
                self.extracted_base = 0;
                let mut start = 0;
                while start < len {
                    let (end, escaped) = line_end(&data[..len], start);
                    let how = if escaped { Parse::Copy } else { Parse::InPlace };
                    self.line(&mut data, start..end, b.lines, false, how, &mut b);
                    b.lines += 1;
                    start = end + 1;
                }
                data.truncate(len);
                b.data = data;
            }
            BlockKind::Document => {
                b.lines = memchr::memchr_iter(b'\n', &b.data).count() as u32;
                let mut compacted = Vec::new();
                shape::compact(&b.data, &mut compacted);
                let before = (b.units.len(), b.facts.len(), b.malformed.len());
                // A string over a line break is not JSON, and compacting keeps it: read as a
                // body, its record would go out over two lines when passed on and as one
                // wrapper when wrapped. The document goes out as its lines, in both modes alike.
                let string_over_lines = memchr::memchr(b'\n', &compacted).is_some();
                let mut extracted = Vec::new();
                let reason = if string_over_lines {
                    Some(Malformed("a string runs over a line break".into()))
                } else {
                    let len = compacted.len();
                    self.extracted_base = len;
                    self.line(&mut compacted, 0..len, 0, true, Parse::Copy, &mut b);
                    // Records taken out of a lookup-events page, to go after the document.
                    extracted = std::mem::take(&mut b.compacted);
                    let whole_doc_failed = b.units.len() == before.0 + 1
                        && b.malformed.len() == before.2 + 1
                        && shape::records_body_start(&compacted).is_none();
                    whole_doc_failed.then(|| {
                        let (reason_unit, reason) = b.malformed.pop().expect("just pushed");
                        debug_assert_eq!(reason_unit as usize, before.0);
                        reason
                    })
                };
                if let Some(reason) = reason {
                    // Not something we can read: every line goes out as it came in.
                    b.units.truncate(before.0);
                    let data = std::mem::take(&mut b.data);
                    let mut start = 0;
                    let mut line = 0;
                    while start < data.len() {
                        let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
                        b.units.push(unit(start..end, line, false, false));
                        line += 1;
                        start = end + 1;
                    }
                    b.data = data;
                    b.malformed.push((
                        before.0 as u32,
                        Malformed(format!("document over {} lines: {}", b.lines, reason.0)),
                    ));
                } else {
                    compacted.extend_from_slice(&extracted);
                    b.compacted = compacted;
                }
            }
            BlockKind::Oversized { .. } => {}
        }
        self.last_len = (b.units.len(), b.facts.len());
        b
    }

    /// One line (or a compacted document) of `src`.
    fn line(
        &mut self,
        src: &mut [u8],
        span: Range<usize>,
        line: u32,
        compacted: bool,
        how: Parse,
        b: &mut ParsedBlock,
    ) {
        // A byte order mark (Windows editors write one) is read past, and kept in the output.
        let bom = if src[span.clone()].starts_with(b"\xEF\xBB\xBF") {
            3
        } else {
            0
        };
        let bytes = &src[span.start + bom..span.end];
        if span.len() > self.max_line {
            self.malformed(b, unit(span, line, compacted, false), Malformed(OVERSIZED.into()));
            return;
        }
        if bytes.iter().all(|c| matches!(c, b' ' | b'\t' | b'\r')) {
            self.malformed(
                b,
                unit(span, line, compacted, false),
                Malformed("empty line".into()),
            );
            return;
        }
        if let Some(start) = shape::records_body_start(bytes) {
            self.elements.clear();
            let end = shape::split_body(bytes, start, &mut self.elements);
            if self.elements.is_empty() && end != BodyEnd::Clean {
                // Nothing could be cut out of it: the line goes on whole, as it came.
                let m = Malformed("Records body is cut short or has bytes after it".into());
                self.malformed(b, unit(span, line, compacted, false), m);
                return;
            }
            if self.elements.is_empty() {
                // A log file with no events: nothing to judge, but `--emit all` passes every line.
                self.facts.clear();
                b.units.push(unit(span, line, compacted, false));
                return;
            }
            let elements = std::mem::take(&mut self.elements);
            for (i, e) in elements.iter().enumerate() {
                let r = span.start + bom + e.start..span.start + bom + e.end;
                match self.read(src, r.clone(), how) {
                    Ok(Shape::Record) => self.record(b, unit(r, line, compacted, true)),
                    Ok(Shape::EventBridge | Shape::OtherEvent) => self.malformed(
                        b,
                        unit(r, line, compacted, false),
                        Malformed(format!(
                            "Records[{i}] is an EventBridge event, not a CloudTrail record"
                        )),
                    ),
                    Err(m) => self.malformed(
                        b,
                        unit(r, line, compacted, false),
                        Malformed(format!("Records[{i}]: {}", m.0)),
                    ),
                }
            }
            self.elements = elements;
            if let BodyEnd::Broken(rest) = end {
                let r = span.start + bom + rest.start..span.start + bom + rest.end;
                self.malformed(
                    b,
                    unit(r, line, compacted, false),
                    Malformed("Records body is cut short or has bytes after it".into()),
                );
            }
            return;
        }
        if lookup_events::is_page(bytes) {
            self.lookup_page(span, bom, src, line, compacted, b);
            return;
        }
        match self.read(src, span.start + bom..span.end, how) {
            Ok(Shape::Record | Shape::EventBridge) => self.record(b, unit(span, line, compacted, true)),
            Ok(Shape::OtherEvent) => {
                b.records += 1;
                b.units.push(unit(span, line, compacted, false));
            }
            Err(m) => self.malformed(b, unit(span, line, compacted, false), m),
        }
    }

    /// A lookup-events page: its records, oldest first, each a unit of its own in
    /// [`ParsedBlock::compacted`] (so `--emit all` writes them one per line, like a log file body).
    fn lookup_page(
        &mut self,
        span: Range<usize>,
        bom: usize,
        src: &[u8],
        line: u32,
        compacted: bool,
        b: &mut ParsedBlock,
    ) {
        let entries = match lookup_events::entries(&src[span.start + bom..span.end]) {
            Ok(e) => e,
            Err(why) => return self.malformed(b, unit(span, line, compacted, false), Malformed(why)),
        };
        if entries.is_empty() {
            // No events: nothing to judge, but `--emit all` passes the page on.
            self.facts.clear();
            b.units.push(unit(span, line, compacted, false));
            return;
        }
        for entry in entries {
            let (text, bad) = match &entry {
                Entry::Record(text) => (text.as_bytes(), None),
                Entry::Bad(raw, why) => (raw.as_bytes(), Some(why)),
            };
            // A record's text may be spread over lines: each output unit is one line.
            shape::compact(text, &mut self.one_line);
            let at = self.extracted_base + b.compacted.len();
            b.compacted.extend_from_slice(&self.one_line);
            let end = at + self.one_line.len();
            let u = |record| unit(at..end, line, true, record);
            if let Some(why) = bad {
                self.malformed(b, u(false), Malformed(why.clone()));
                continue;
            }
            match self.parser.read(&self.one_line, &mut self.facts) {
                Ok(Shape::Record) => self.record(b, u(true)),
                Ok(Shape::EventBridge | Shape::OtherEvent) => {
                    let m = Malformed("a CloudTrailEvent is an EventBridge event, not a record".into());
                    self.malformed(b, u(false), m);
                }
                Err(m) => self.malformed(b, u(false), Malformed(format!("CloudTrailEvent: {}", m.0))),
            }
        }
    }

    fn read(&mut self, src: &mut [u8], r: Range<usize>, how: Parse) -> Result<Shape, Malformed> {
        match how {
            Parse::InPlace => self
                .parser
                .read_in_place(&mut src[r.start..], r.len(), &mut self.facts),
            Parse::Copy => self.parser.read(&src[r], &mut self.facts),
        }
    }

    fn record(&mut self, b: &mut ParsedBlock, u: Unit) {
        let idx = b.units.len() as u32;
        b.records += 1;
        b.units.push(u);
        // An account named is no fact of its own record's time (the parser names it once per
        // block): only records that tell the detector more are stamped.
        if self.facts.iter().any(|f| !matches!(f, Fact::Account(_))) {
            b.stamps.push((idx, self.parser.stamp));
        }
        b.facts.extend(self.facts.drain(..).map(|f| (idx, f)));
    }

    fn malformed(&mut self, b: &mut ParsedBlock, u: Unit, m: Malformed) {
        self.facts.clear();
        b.malformed.push((b.units.len() as u32, m));
        b.units.push(u);
    }
}

/// How a line is handed to the parser.
#[derive(Clone, Copy)]
enum Parse {
    /// Where it lies: the line has no backslash, so the parser changes none of its bytes, and at
    /// least [`INPUT_PADDING`] bytes follow it.
    InPlace,
    /// From a copy, because unescaping would rewrite the line that goes out.
    Copy,
}

/// Where the line that starts at `start` ends, and whether it has a backslash. One pass finds
/// both: backslashes are rare in CloudTrail, so the search nearly always stops at the newline.
fn line_end(data: &[u8], start: usize) -> (usize, bool) {
    match memchr::memchr2(b'\n', b'\\', &data[start..]) {
        None => (data.len(), false),
        Some(i) if data[start + i] == b'\n' => (start + i, false),
        Some(i) => {
            let from = start + i;
            (
                memchr::memchr(b'\n', &data[from..]).map_or(data.len(), |j| from + j),
                true,
            )
        }
    }
}

fn unit(span: Range<usize>, line: u32, compacted: bool, record: bool) -> Unit {
    Unit {
        start: span.start as u32,
        end: span.end as u32,
        compacted,
        record,
        line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines are parsed where they lie unless they have a backslash: whatever the mix, the block's
    /// bytes (which go out with `--emit all`) are the bytes that came in, and the escaped values
    /// are still read. The last line has no newline, so only the block's padding follows it.
    #[test]
    fn parsing_leaves_every_byte_of_the_block_as_it_came() {
        let plain = r#"{"eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","eventTime":"2024-01-01T00:00:00Z"}"#;
        let escaped = r#"{"eventSource":"ec2.amazonaws.com","eventName":"Describe\u0049nstances","userAgent":"a \"b\" \\ c","eventTime":"2024-01-01T00:00:00Z"}"#;
        let body = format!(r#"{{"Records":[{plain},{escaped},{plain}]}}"#);
        let input = [plain, escaped, &body, plain, escaped].join("\n");
        let b = BlockParser::default().parse(Frame {
            data: input.clone().into_bytes(),
            kind: BlockKind::Lines,
        });
        assert_eq!(String::from_utf8(b.data).unwrap(), input);
        assert_eq!((b.records, b.malformed.len()), (7, 0));
    }
}
