//! Reading input into blocks of whole lines.
//!
//! One reusable reader per source cuts what it reads at the last newline and carries the partial
//! tail forward. On a pipe a read returns what is there, and that is handed on at once: a lone
//! record must not wait for a block to fill. A line longer than the limit is passed on in pieces
//! rather than buffered without bound. A pretty-printed document (a line that is only `{`, as
//! `jq .` or `json.tool` write a whole CloudTrail log file) is gathered into one block of its own.

use crate::parse::shape::DepthScan;
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// Whole lines, each ending in `\n` except the last line of a source that has none.
    Lines,
    /// One pretty-printed JSON document over several lines.
    Document,
    /// A piece of a line longer than the limit.
    Oversized { first: bool, last: bool },
}

#[derive(Debug)]
pub struct Frame {
    pub data: Vec<u8>,
    pub kind: BlockKind,
}

enum State {
    Normal,
    /// Gathering a document that starts at offset 0 of `pending`; `scanned` bytes are in `scan`.
    Document {
        scan: DepthScan,
        scanned: usize,
    },
    Oversized,
}

/// Block buffers handed back after use, so that the reader does not ask the kernel for fresh,
/// zeroed pages for every block.
#[derive(Clone)]
pub struct BufferPool {
    tx: crossbeam_channel::Sender<Vec<u8>>,
    rx: crossbeam_channel::Receiver<Vec<u8>>,
}

impl BufferPool {
    /// Keeps at most `n` buffers; `0` keeps none.
    pub fn new(n: usize) -> BufferPool {
        let (tx, rx) = crossbeam_channel::bounded(n);
        BufferPool { tx, rx }
    }

    pub fn take(&self, capacity: usize) -> Vec<u8> {
        match self.rx.try_recv() {
            Ok(mut v) => {
                v.clear();
                v.reserve(capacity);
                v
            }
            Err(_) => Vec::with_capacity(capacity),
        }
    }

    pub fn give(&self, v: Vec<u8>) {
        let _ = self.tx.try_send(v);
    }
}

/// Spare capacity a block keeps after its last byte: a parser may pad there without reallocating.
pub const BLOCK_SLACK: usize = 64;

pub struct FrameReader<R> {
    pool: BufferPool,
    src: R,
    pending: Vec<u8>,
    read_size: usize,
    /// What the next read asks for: the block size from a file, about what a pipe gives.
    chunk: usize,
    max_line: usize,
    eof: bool,
    state: State,
    /// Set by a signal: read no more, and leave the line being read unread (see [`Self::stop_on`]).
    stop: Option<Arc<AtomicBool>>,
}

impl<R: Read> FrameReader<R> {
    pub fn new(src: R, read_size: usize, max_line: usize) -> Self {
        Self::with_pool(src, read_size, max_line, BufferPool::new(0))
    }

    pub fn with_pool(src: R, read_size: usize, max_line: usize, pool: BufferPool) -> Self {
        FrameReader {
            pool,
            src,
            pending: Vec::with_capacity(read_size),
            read_size: read_size.max(1),
            chunk: read_size.max(1),
            max_line: max_line.max(1),
            eof: false,
            state: State::Normal,
            stop: None,
        }
    }

    /// Ends the input as soon as `stop` is set. The whole lines read by then are still handed on;
    /// the line (or pretty-printed document) being read is dropped, neither passed on nor counted:
    /// half a record must not go downstream as if it were the last line of the input, and a
    /// consumer that restarts reads it again whole.
    pub fn stop_on(mut self, stop: Option<Arc<AtomicBool>>) -> Self {
        self.stop = stop;
        self
    }

    fn stopped(&self) -> bool {
        self.stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed))
    }

    /// The input ended by a stop: what is pending is the part of a line (or document) read so far.
    fn end_stopped(&mut self) -> io::Result<bool> {
        self.eof = true;
        self.pending.clear();
        Ok(false)
    }

    /// Reads once; returns false at end of input.
    fn fill(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.stopped() {
            return self.end_stopped();
        }
        let len = self.pending.len();
        // Ask for what the buffer has room for when that is enough: growing it for a carried tail
        // would reallocate (fresh, kernel-zeroed pages) on every block. And ask a pipe for about
        // what it gave last time, not a whole block: the bytes asked for are zeroed first.
        let small = self.read_size.min(64 << 10);
        // Reads leave room for the parser's padding after the block, which is then never grown.
        let room = (self.pending.capacity() - len).saturating_sub(BLOCK_SLACK);
        let ask = if room >= small {
            self.chunk.min(room).max(small)
        } else {
            self.chunk
        };
        self.pending.resize(len + ask, 0);
        let n = loop {
            match self.src.read(&mut self.pending[len..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // A gzip stream cut short by the stop under it, say: the stop, not a read error.
                Err(_) if self.stopped() => return self.end_stopped(),
                Err(e) => {
                    self.pending.truncate(len);
                    return Err(e);
                }
            }
        };
        self.pending.truncate(len + n);
        self.chunk = if n < ask {
            (2 * n).clamp(small, self.read_size)
        } else {
            (2 * ask).min(self.read_size)
        };
        if n == 0 {
            if self.stopped() {
                return self.end_stopped();
            }
            self.eof = true;
        }
        Ok(n > 0)
    }

    /// Hands `pending[..at]` on and keeps the rest.
    fn take(&mut self, at: usize, kind: BlockKind) -> Frame {
        let mut rest = self.pool.take(self.read_size.max(self.pending.len() - at));
        rest.extend_from_slice(&self.pending[at..]);
        let mut data = std::mem::replace(&mut self.pending, rest);
        data.truncate(at);
        Frame { data, kind }
    }

    pub fn next_frame(&mut self) -> io::Result<Option<Frame>> {
        loop {
            match &mut self.state {
                State::Normal => {
                    if let Some(last_nl) = memchr::memrchr(b'\n', &self.pending) {
                        let end = last_nl + 1;
                        match document_start(&self.pending[..end]) {
                            Some(0) => {
                                self.state = State::Document {
                                    scan: DepthScan::default(),
                                    scanned: 0,
                                };
                                continue;
                            }
                            Some(p) => return Ok(Some(self.take(p, BlockKind::Lines))),
                            None => return Ok(Some(self.take(end, BlockKind::Lines))),
                        }
                    }
                    if self.pending.len() > self.max_line {
                        self.state = State::Oversized;
                        let all = self.pending.len();
                        return Ok(Some(self.take(
                            all,
                            BlockKind::Oversized {
                                first: true,
                                last: false,
                            },
                        )));
                    }
                    if !self.fill()? {
                        if self.pending.is_empty() {
                            return Ok(None);
                        }
                        let all = self.pending.len();
                        return Ok(Some(self.take(all, BlockKind::Lines)));
                    }
                }
                State::Document { .. } => match self.gather_document()? {
                    Next::Frame(f) => return Ok(f),
                    Next::Again => {}
                },
                State::Oversized => return self.oversized_piece().map(Some),
            }
        }
    }

    /// Gathers the document being read, line by line, until it closes, turns out not to be one,
    /// or grows past the limit.
    fn gather_document(&mut self) -> io::Result<Next> {
        let State::Document { scan, scanned } = &mut self.state else {
            return Ok(Next::Again);
        };
        // Feed whole lines only, so that a line is never split across two decisions.
        while let Some(nl) = memchr::memchr(b'\n', &self.pending[*scanned..]) {
            let line = &self.pending[*scanned..*scanned + nl + 1];
            // Pretty printers indent what is nested: a line that starts with `{` after
            // the first is a record of its own, and the lone `{` was just a bad line.
            if *scanned > 0 && line.first() == Some(&b'{') {
                let first_line = *scanned;
                self.state = State::Normal;
                return Ok(Next::Frame(Some(self.take(first_line, BlockKind::Lines))));
            }
            scan.feed(line);
            *scanned += nl + 1;
            if scan.depth <= 0 {
                let end = *scanned;
                self.state = State::Normal;
                return Ok(Next::Frame(Some(self.take(end, BlockKind::Document))));
            }
        }
        if self.pending.len() > self.max_line {
            // Too big to be a document we will hold: give its lines back one by one.
            let end = *scanned;
            self.state = State::Normal;
            if end > 0 {
                return Ok(Next::Frame(Some(self.take(end, BlockKind::Lines))));
            }
            return Ok(Next::Again);
        }
        let (mut scan, scanned) = (*scan, *scanned);
        if !self.fill()? {
            if self.pending.is_empty() {
                // A stop dropped the document being read.
                self.state = State::Normal;
                return Ok(Next::Frame(None));
            }
            // The last line may have no newline: it can still close the document.
            let end = self.pending.len();
            scan.feed(&self.pending[scanned..]);
            let kind = if scan.depth <= 0 {
                BlockKind::Document
            } else {
                BlockKind::Lines
            };
            self.state = State::Normal;
            if end == 0 {
                return Ok(Next::Frame(None));
            }
            return Ok(Next::Frame(Some(self.take(end, kind))));
        }
        Ok(Next::Again)
    }

    /// The next piece of a line longer than the limit.
    fn oversized_piece(&mut self) -> io::Result<Frame> {
        if self.pending.is_empty() && !self.fill()? {
            self.state = State::Normal;
            return Ok(Frame {
                data: Vec::new(),
                kind: BlockKind::Oversized {
                    first: false,
                    last: true,
                },
            });
        }
        if let Some(nl) = memchr::memchr(b'\n', &self.pending) {
            self.state = State::Normal;
            return Ok(self.take(
                nl + 1,
                BlockKind::Oversized {
                    first: false,
                    last: true,
                },
            ));
        }
        let all = self.pending.len();
        Ok(self.take(
            all,
            BlockKind::Oversized {
                first: false,
                last: false,
            },
        ))
    }
}

/// What a step of gathering a document came to.
enum Next {
    /// A frame to hand on, or the end of the input.
    Frame(Option<Frame>),
    /// Look again, in the state the step left.
    Again,
}

/// The offset of the first line of `lines` that is a lone `{`: blanks may follow it, and a byte
/// order mark may precede it on the first line (as an editor saves a whole log file).
fn document_start(lines: &[u8]) -> Option<usize> {
    let lone_brace = |rest: &[u8]| {
        rest.first() == Some(&b'{')
            && rest[1..]
                .iter()
                .find(|c| !matches!(c, b' ' | b'\t' | b'\r'))
                .is_some_and(|&c| c == b'\n')
    };
    if lone_brace(lines.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(lines)) {
        return Some(0);
    }
    memchr::memmem::find_iter(lines, b"\n{")
        .map(|p| p + 1)
        .find(|&p| lone_brace(&lines[p..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads everything with the given read size and limit.
    fn frames(input: &[u8], read_size: usize, max_line: usize) -> Vec<(BlockKind, String)> {
        let mut r = FrameReader::new(input, read_size, max_line);
        let mut out = Vec::new();
        while let Some(f) = r.next_frame().unwrap() {
            out.push((f.kind, String::from_utf8(f.data).unwrap()));
        }
        out
    }

    fn joined(frames: &[(BlockKind, String)]) -> String {
        frames.iter().map(|(_, s)| s.as_str()).collect()
    }

    #[test]
    fn every_byte_comes_out_once_in_order_whatever_the_read_size() {
        let input = "{\"a\":1}\n\n{\"b\":2}\r\nlast-without-newline";
        for rs in [1, 2, 3, 7, 64, 4096] {
            let f = frames(input.as_bytes(), rs, 1 << 20);
            assert_eq!(joined(&f), input, "read size {rs}");
            for (kind, s) in &f[..f.len() - 1] {
                assert_eq!(*kind, BlockKind::Lines);
                assert!(s.ends_with('\n'), "read size {rs}: {s:?}");
            }
        }
    }

    #[test]
    fn a_long_line_is_passed_on_in_pieces() {
        let long = "x".repeat(100);
        let input = format!("{{\"a\":1}}\n{long}\n{{\"b\":2}}\n");
        let f = frames(input.as_bytes(), 8, 16);
        assert_eq!(joined(&f), input);
        let pieces: Vec<_> = f
            .iter()
            .filter(|(k, _)| matches!(k, BlockKind::Oversized { .. }))
            .collect();
        assert!(pieces.len() > 1);
        assert_eq!(
            pieces[0].0,
            BlockKind::Oversized {
                first: true,
                last: false
            }
        );
        assert_eq!(
            pieces.last().unwrap().0,
            BlockKind::Oversized {
                first: false,
                last: true
            }
        );
        assert!(pieces.iter().all(|(_, s)| s.len() <= 24));
        assert_eq!(f.last().unwrap(), &(BlockKind::Lines, "{\"b\":2}\n".to_string()));
    }

    #[test]
    fn a_pretty_printed_document_is_one_block() {
        let doc = "{\n  \"Records\": [\n    {\"x\": \"{\\\"\"}\n  ]\n}\n";
        let input = format!("{{\"a\":1}}\n{doc}{{\"b\":2}}\n");
        for rs in [1, 5, 4096] {
            let f = frames(input.as_bytes(), rs, 1 << 20);
            assert_eq!(joined(&f), input);
            assert!(
                f.contains(&(BlockKind::Document, doc.to_string())),
                "read size {rs}: {f:?}"
            );
        }
    }

    #[test]
    fn a_document_may_end_without_a_newline() {
        let doc = "{\n  \"Records\": []\n}";
        let f = frames(doc.as_bytes(), 3, 1 << 20);
        assert_eq!(f, vec![(BlockKind::Document, doc.to_string())]);
    }

    #[test]
    fn a_lone_brace_before_records_is_just_a_bad_line() {
        let input = "{\n{\"a\":1}\n{\"b\":2}\n";
        let f = frames(input.as_bytes(), 4096, 1 << 20);
        assert_eq!(joined(&f), input);
        assert!(f.iter().all(|(k, _)| *k == BlockKind::Lines));
    }

    /// A live pipe: what the writer has written so far, then nothing yet. A read past it would
    /// wait for the writer; here it fails instead, so a reader that asks for more than it needs
    /// fails the test rather than hanging it.
    struct Live<'a>(&'a [u8]);

    impl Read for Live<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    "a live pipe: nothing more yet",
                ));
            }
            let n = buf.len().min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    /// A lone `{` followed by records on a live stream: the records go out as they come, without
    /// waiting for the `}` that will never come. (Mutation: without the rule that a line starting
    /// with `{` ends the document, the reader waits for more input, which here is an error and on
    /// a real pipe a stall until the writer closes it.)
    #[test]
    fn a_lone_brace_on_a_live_pipe_does_not_hold_the_records_back() {
        let written = b"{\n{\"a\":1}\n{\"b\":2}\n";
        for rs in [1, 4096] {
            let mut r = FrameReader::new(Live(written), rs, 1 << 20);
            let mut got = Vec::new();
            while got.len() < written.len() {
                let f = r
                    .next_frame()
                    .unwrap_or_else(|e| panic!("read size {rs}: asked for more than was written: {e}"))
                    .expect("a frame");
                assert_eq!(f.kind, BlockKind::Lines);
                got.extend_from_slice(&f.data);
            }
            assert_eq!(got, written);
        }
    }

    /// A source that sets `stop` once it has given `before` bytes, as a signal arriving mid-line.
    struct StopsAfter<'a> {
        data: &'a [u8],
        before: usize,
        stop: Arc<AtomicBool>,
    }

    impl Read for StopsAfter<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.before == 0 {
                self.stop.store(true, Ordering::Relaxed);
                return Ok(0);
            }
            let n = buf.len().min(self.before).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            self.before -= n;
            Ok(n)
        }
    }

    /// A stop mid-line hands on the whole lines read before it and drops the part of the line (or
    /// of the pretty-printed document) being read, at every read size. (Mutation: without the
    /// clearing in `end_stopped` the partial line comes out as a last line.)
    #[test]
    fn a_stop_mid_line_leaves_the_line_being_read_unread() {
        let input = b"{\"a\":1}\n{\"b\":2}\n{\"c\":";
        let doc = b"{\"a\":1}\n{\n  \"Records\": [\n";
        for (data, whole) in [(&input[..], 16), (&doc[..], 8)] {
            for rs in [1, 3, 4096] {
                let stop = Arc::new(AtomicBool::new(false));
                let src = StopsAfter {
                    data,
                    before: data.len(),
                    stop: stop.clone(),
                };
                let mut r = FrameReader::new(src, rs, 1 << 20).stop_on(Some(stop));
                let mut got = Vec::new();
                while let Some(f) = r.next_frame().unwrap() {
                    got.extend_from_slice(&f.data);
                }
                assert_eq!(got, &data[..whole], "read size {rs}");
            }
        }
    }

    /// Without a stop, the same end of input hands the last line on: it is a real last line.
    #[test]
    fn a_real_end_hands_the_last_line_on() {
        let input = b"{\"a\":1}\n{\"c\":";
        let f = frames(input, 3, 1 << 20);
        assert_eq!(joined(&f).as_bytes(), input);
    }

    #[test]
    fn an_unclosed_document_comes_back_as_lines() {
        let input = "{\n  \"a\": [\n";
        let f = frames(input.as_bytes(), 3, 1 << 20);
        assert_eq!(joined(&f), input);
        assert!(f.iter().all(|(k, _)| *k == BlockKind::Lines));
    }
}
