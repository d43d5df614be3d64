//! The inputs read in order into numbered blocks, by one thread at a time.

use super::framing::{BufferPool, Frame, FrameReader};
use super::open_counted;
use super::prefetch::{Ahead, Fetched, prefetch};
use crate::config::{Config, Input, Progress};
use crossbeam_channel::Receiver;
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A block as read, numbered in input order; `note` says why there is no frame (an input that
/// could not be opened or read).
pub struct Numbered {
    pub seq: u64,
    /// The input's place on the command line.
    pub source: u32,
    pub frame: Option<Frame>,
    pub note: Option<String>,
}

type Frames = FrameReader<Box<dyn Read + Send>>;

/// Reads the inputs in order into numbered blocks.
pub struct Sources {
    inputs: std::iter::Enumerate<std::vec::IntoIter<Input>>,
    /// The input being read: its number, name and frames.
    current: Option<(u32, String, Frames)>,
    ahead: Option<Receiver<Option<Fetched>>>,
    seq: u64,
    errors: u64,
    pool: BufferPool,
    stop: Option<Arc<AtomicBool>>,
    progress: Option<Arc<Progress>>,
    read_size: usize,
    max_line: usize,
}

impl Sources {
    /// With `read_ahead`, small files are read whole on threads of their own (see the `prefetch` module).
    pub fn new(cfg: &Config, pool: BufferPool, read_ahead: bool) -> Sources {
        Sources {
            inputs: cfg.inputs.clone().into_iter().enumerate(),
            current: None,
            ahead: read_ahead
                .then(|| prefetch(&cfg.inputs, cfg.stop.clone(), cfg.progress.clone()))
                .flatten(),
            seq: 0,
            errors: 0,
            pool,
            stop: cfg.stop.clone(),
            progress: cfg.progress.clone(),
            read_size: cfg.read_size,
            max_line: cfg.max_line_bytes,
        }
    }

    /// The number the next block will get: blocks read so far.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Inputs that could not be opened or read to the end.
    pub fn errors(&self) -> u64 {
        self.errors
    }

    fn stopped(&self) -> bool {
        self.stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed))
    }

    fn numbered(&mut self, source: u32, frame: Option<Frame>, note: Option<String>) -> Numbered {
        self.seq += 1;
        Numbered {
            seq: self.seq - 1,
            source,
            frame,
            note,
        }
    }

    /// The next block, or the note of an input that failed; `None` after the last input.
    pub fn next_block(&mut self) -> Option<Numbered> {
        loop {
            let Some((source, name, frames)) = &mut self.current else {
                // After a stop no other input is opened.
                if self.stopped() {
                    return None;
                }
                let (source, input) = self.inputs.next()?;
                let source = source as u32;
                let name = input.name();
                let fetched = self.ahead.as_ref().and_then(|rx| rx.recv().ok()).flatten();
                let opened = match fetched {
                    Some(done) => done
                        .recv()
                        .unwrap_or_else(|_| Err(io::Error::other("decompression failed")))
                        .map(Ahead::into_reader),
                    None => open_counted(input, self.stop.as_ref(), self.progress.as_ref()),
                };
                match opened {
                    Ok(r) => {
                        let frames =
                            FrameReader::with_pool(r, self.read_size, self.max_line, self.pool.clone())
                                .stop_on(self.stop.clone());
                        self.current = Some((source, name, frames));
                    }
                    // A file read ahead that the stop cut short: not an error, just the end.
                    Err(_) if self.stopped() => return None,
                    Err(e) => {
                        self.errors += 1;
                        return Some(self.numbered(source, None, Some(format!("credtrail: {name}: {e}"))));
                    }
                }
                continue;
            };
            let source = *source;
            let (frame, note) = match frames.next_frame() {
                Ok(Some(f)) => return Some(self.numbered(source, Some(f), None)),
                Ok(None) => (None, None),
                Err(e) => {
                    self.errors += 1;
                    (None, Some(format!("credtrail: {name}: read error: {e}")))
                }
            };
            self.current = None;
            if let Some(p) = &self.progress {
                p.files_done.fetch_add(1, Ordering::Relaxed);
            }
            if note.is_some() {
                return Some(self.numbered(source, frame, note));
            }
        }
    }
}
