//! The lines of a block as they go out: records passed on, annotated records, finding lines.

use super::annotation;
use super::judge::Judgement;
use super::wrap::LongLine;
use crate::config::Emit;
use crate::input::framing::BlockKind;
use crate::parse::block::ParsedBlock;
use std::io::{self, IoSlice, Write};

/// Writes and flushes `buf`. `Some(true)`: the reader has gone.
pub fn flush(out: &mut dyn Write, buf: &mut Vec<u8>) -> io::Result<Option<bool>> {
    let r = out.write_all(buf).and_then(|()| out.flush());
    buf.clear();
    written(r)
}

/// What a write to the output came to. `Some(true)`: the reader has gone.
pub fn written(r: io::Result<()>) -> io::Result<Option<bool>> {
    match r {
        Ok(()) => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Some(true)),
        Err(e) => Err(io::Error::new(e.kind(), format!("output: {e}"))),
    }
}

/// `Write::write_all_vectored`, which is not stable yet: every byte of `slices`, in order, however
/// many calls it takes.
pub fn write_all_vectored(out: &mut dyn Write, mut slices: &mut [IoSlice<'_>]) -> io::Result<()> {
    IoSlice::advance_slices(&mut slices, 0);
    while !slices.is_empty() {
        match out.write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// [`render`]'s `--emit all` output of a block of lines as slices of the block and of the
/// annotations: runs of lines passed on unchanged are one slice each, newlines included.
/// `run_sequential` keeps `render`, so the property tests hold the two to the same bytes.
pub fn render_all<'a>(block: &'a ParsedBlock, js: &'a [Judgement], out: &mut Vec<IoSlice<'a>>) {
    render_all_units(block, js, 0..block.units.len(), out);
}

/// [`render_all`] of the units in `units` only (`js` holds theirs): a block is written up to its
/// first record still waiting in the reorder window.
pub fn render_all_units<'a>(
    block: &'a ParsedBlock,
    js: &'a [Judgement],
    units: std::ops::Range<usize>,
    out: &mut Vec<IoSlice<'a>>,
) {
    // The unchanged run being gathered: a span of `block.data`.
    let mut run: Option<(usize, usize)> = None;
    let mut js = js.iter().peekable();
    for (i, u) in block.units.iter().enumerate().take(units.end).skip(units.start) {
        let annotated = js.next_if(|j| j.unit as usize == i);
        let (start, end) = (u.start as usize, u.end as usize);
        // A line of the block followed by its own newline goes out as it lies, newline and all.
        let whole_line = annotated.is_none() && !u.compacted && block.data.get(end) == Some(&b'\n');
        if whole_line {
            match &mut run {
                Some((_, run_end)) if *run_end == start => *run_end = end + 1,
                _ => {
                    push_run(block, run.take(), out);
                    run = Some((start, end + 1));
                }
            }
            continue;
        }
        push_run(block, run.take(), out);
        let bytes = block.bytes(u);
        match annotated {
            Some(j) => {
                for part in annotation::spliced(bytes, &j.annotation) {
                    push_slice(part, out);
                }
            }
            None => {
                push_slice(bytes, out);
                push_slice(b"\n", out);
            }
        }
    }
    push_run(block, run, out);
}

fn push_run<'a>(block: &'a ParsedBlock, run: Option<(usize, usize)>, out: &mut Vec<IoSlice<'a>>) {
    if let Some((start, end)) = run {
        push_slice(&block.data[start..end], out);
    }
}

fn push_slice<'a>(bytes: &'a [u8], out: &mut Vec<IoSlice<'a>>) {
    if !bytes.is_empty() {
        out.push(IoSlice::new(bytes));
    }
}

/// Appends the output of `block` to `buf`; a line over `--max-line-bytes`, which comes in pieces,
/// goes through `long` (only `--emit all` writes it).
pub fn render(emit: Emit, block: &ParsedBlock, js: &[Judgement], long: &mut LongLine, buf: &mut Vec<u8>) {
    render_units(emit, block, js, 0..block.units.len(), long, buf);
}

/// [`render`] of the units in `units` only (`js` holds theirs); an oversized block, which has no
/// units, goes whole with the range that starts at 0.
pub fn render_units(
    emit: Emit,
    block: &ParsedBlock,
    js: &[Judgement],
    units: std::ops::Range<usize>,
    long: &mut LongLine,
    buf: &mut Vec<u8>,
) {
    if let BlockKind::Oversized { first, last } = block.kind {
        if units.start > 0 {
            return;
        }
        if emit == Emit::All {
            long.piece(&block.data, first, last, buf);
        }
        return;
    }
    // (A range with no units writes nothing: alerts made for a block held further back.)
    if emit == Emit::All && !units.is_empty() {
        long.interrupted(buf);
    }
    match emit {
        Emit::Findings => {
            for j in js {
                buf.extend_from_slice(&j.annotation);
            }
        }
        Emit::Alerts => {
            for j in js.iter().filter(|j| !j.annotation.is_empty()) {
                annotation::splice(block.bytes(&block.units[j.unit as usize]), &j.annotation, buf);
            }
        }
        Emit::All => {
            let mut js = js.iter().peekable();
            for (i, u) in block.units.iter().enumerate().take(units.end).skip(units.start) {
                let bytes = block.bytes(u);
                match js.peek() {
                    Some(j) if j.unit as usize == i => {
                        annotation::splice(bytes, &j.annotation, buf);
                        js.next();
                    }
                    _ => {
                        buf.extend_from_slice(bytes);
                        buf.push(b'\n');
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::framing::Frame;
    use crate::parse::block::BlockParser;

    /// Takes at most 5 bytes a call, and is interrupted every third call, as a slow pipe may be.
    struct Trickle {
        got: Vec<u8>,
        calls: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls.is_multiple_of(3) {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = b.len().min(5);
            self.got.extend_from_slice(&b[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// `--emit all` written from where the bytes lie says exactly what `render` copies, for lines
    /// passed on, annotated lines (CRLF and BOM ones too), a line with no newline at the end of the
    /// input, and the records of a pretty-printed document (compacted, so not in the block's bytes),
    /// whichever lines are annotated; and every byte arrives through a writer that takes a few at a
    /// time.
    #[test]
    fn emit_all_slices_are_what_render_copies() {
        let lines: &[u8] = b"{\"a\":1}\n{\"b\":2}\r\n\xEF\xBB\xBF{\"c\":3}\nnot json\n\n{ }\n{\"d\":4}";
        // Spaced so that the document's byte at the end of its first compacted record is a newline:
        // a compacted record must not be taken for a line of the block.
        let document: &[u8] = b"{\n\"Records\":[      \n{\"e\":5},{\"f\":6}]\n}\n";
        let mut saw_compacted = false;
        for (data, kind) in [(lines, BlockKind::Lines), (document, BlockKind::Document)] {
            let block = BlockParser::default().parse(Frame {
                data: data.to_vec(),
                kind,
            });
            saw_compacted |= block.units.iter().any(|u| u.compacted);
            let n = block.units.len();
            assert!(n >= 2, "{n} units");
            for annotated in [0usize, 1, 2, 3] {
                let js: Vec<Judgement> = (0..n)
                    .filter(|i| match annotated {
                        0 => false,
                        1 => true,
                        2 => i % 2 == 0,
                        _ => i % 2 == 1,
                    })
                    .map(|i| Judgement {
                        unit: i as u32,
                        order: 1,
                        annotation: format!("{{\"v\":{i}}}").into_bytes(),
                    })
                    .collect();
                let mut copied = Vec::new();
                render(Emit::All, &block, &js, &mut LongLine::new(1), &mut copied);
                let mut slices = Vec::new();
                render_all(&block, &js, &mut slices);
                let mut out = Trickle {
                    got: Vec::new(),
                    calls: 0,
                };
                write_all_vectored(&mut out, &mut slices).unwrap();
                assert_eq!(
                    String::from_utf8_lossy(&out.got),
                    String::from_utf8_lossy(&copied),
                    "{kind:?}, annotated {annotated}"
                );
            }
        }
        assert!(saw_compacted, "the document's records are compacted units");
    }
}
