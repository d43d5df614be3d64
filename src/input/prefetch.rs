//! Files read ahead on worker threads of the reader when there are many small ones, as in a
//! CloudTrail archive (thousands of `.json.gz` files of a few hundred KB): decompression then runs
//! on other cores while the reader feeds the parse workers. Bounded: at most `LOOKAHEAD` files ahead,
//! each under `SMALL` bytes on disk, and of each at most [`HEAD`] decompressed bytes; the reader
//! streams the rest itself, and bigger files whole. A bound on disk alone let two 1 MB gzip bombs
//! among the inputs decompress to 4.6 GB ahead of the reader.

use super::open_counted;
use crate::config::{Input, Progress};
use crossbeam_channel::{Receiver, Sender, bounded};
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::thread;

/// Decompressed bytes read ahead of the reader, per file.
pub const HEAD: usize = 8 << 20;

/// A file being read ahead: its first bytes, once they are there.
pub type Fetched = Receiver<io::Result<Ahead>>;

/// What was read ahead of a file, and how it goes on.
pub struct Ahead {
    pub head: Vec<u8>,
    pub tail: Tail,
}

pub enum Tail {
    /// The head is the whole file.
    End,
    /// The file goes on past [`HEAD`]: the reader streams the rest.
    More(Box<dyn Read + Send>),
    /// Reading failed after the head (a truncated gzip): the head is still read, then this.
    Failed(io::Error),
}

impl Ahead {
    /// Reads up to [`HEAD`] bytes of `r`.
    pub fn read(mut r: Box<dyn Read + Send>) -> Ahead {
        let mut head = Vec::new();
        let tail = match r.by_ref().take(HEAD as u64).read_to_end(&mut head) {
            Ok(_) if head.len() < HEAD => Tail::End,
            Ok(_) => Tail::More(r),
            // read_to_end keeps what it read before the error.
            Err(e) => Tail::Failed(e),
        };
        Ahead { head, tail }
    }

    /// The file's bytes as one reader: the head, then the tail.
    pub fn into_reader(self) -> Box<dyn Read + Send> {
        let head = io::Cursor::new(self.head);
        match self.tail {
            Tail::End => Box::new(head),
            Tail::More(r) => Box::new(head.chain(r)),
            Tail::Failed(e) => Box::new(head.chain(FailsWith(Some(e)))),
        }
    }
}

/// A reader that fails with its error once, then ends.
struct FailsWith(Option<io::Error>);

impl Read for FailsWith {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        match self.0.take() {
            Some(e) => Err(e),
            None => Ok(0),
        }
    }
}

/// One slot per input, in order: `Some` for a file read ahead, `None` for one the reader opens.
pub fn prefetch(
    inputs: &[Input],
    stop: Option<Arc<AtomicBool>>,
    progress: Option<Arc<Progress>>,
) -> Option<Receiver<Option<Fetched>>> {
    const LOOKAHEAD: usize = 4;
    const SMALL: u64 = 2 << 20;
    if inputs.len() < 2 {
        return None;
    }
    let (order_tx, order_rx) = bounded::<Option<Fetched>>(LOOKAHEAD);
    let (job_tx, job_rx) = bounded::<(PathBuf, Sender<io::Result<Ahead>>)>(LOOKAHEAD);
    for _ in 0..2 {
        let (rx, stop, progress) = (job_rx.clone(), stop.clone(), progress.clone());
        thread::spawn(move || {
            for (path, done) in rx {
                let result =
                    open_counted(Input::Path(path), stop.as_ref(), progress.as_ref()).map(Ahead::read);
                let _ = done.send(result);
            }
        });
    }
    let inputs = inputs.to_vec();
    thread::spawn(move || {
        for input in inputs {
            let small = match &input {
                Input::Path(p) => std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.len() <= SMALL),
                _ => false,
            };
            let slot = match input {
                Input::Path(p) if small => {
                    let (done_tx, done_rx) = bounded(1);
                    if job_tx.send((p, done_tx)).is_err() {
                        return;
                    }
                    Some(done_rx)
                }
                _ => None,
            };
            if order_tx.send(slot).is_err() {
                return;
            }
        }
    });
    Some(order_rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(bytes).unwrap();
        gz.finish().unwrap()
    }

    /// A gzip bomb (48 MiB of lines in some 50 KB) is read ahead only to [`HEAD`] bytes, and the
    /// rest streams from the same reader: every byte is read, in order. (Mutation: reading
    /// the whole file ahead, as before, fails the first assertion.)
    #[test]
    fn a_gzip_bomb_is_read_ahead_only_to_the_cap() {
        let line = b"{\"eventName\":\"GetObject\"}\n";
        let plain: Vec<u8> = line.iter().copied().cycle().take(48 << 20).collect();
        let packed = gzip(&plain);
        assert!(packed.len() < 1 << 20);
        let r = super::super::open(Input::Memory("bomb".into(), packed), None).unwrap();
        let ahead = Ahead::read(r);
        assert_eq!(ahead.head.len(), HEAD);
        assert!(matches!(ahead.tail, Tail::More(_)));
        let mut all = Vec::new();
        ahead.into_reader().read_to_end(&mut all).unwrap();
        assert!(all == plain, "the streamed file differs from its content");
    }

    /// A truncated gzip gives what could be decompressed, then the error, which says where it
    /// happened. (Mutation: dropping the head on an error, as `read_to_end(..)?` did, fails the
    /// length.)
    #[test]
    fn a_truncated_gzip_gives_what_is_readable_then_the_error() {
        let plain: Vec<u8> = (0..20_000)
            .flat_map(|i| format!("{{\"n\":{i}}}\n").into_bytes())
            .collect();
        let packed = gzip(&plain);
        let cut = packed[..packed.len() / 2].to_vec();
        let r = super::super::open(Input::Memory("cut".into(), cut), None).unwrap();
        let ahead = Ahead::read(r);
        assert!(ahead.head.len() > plain.len() / 4, "{} bytes", ahead.head.len());
        assert!(plain.starts_with(&ahead.head));
        let Tail::Failed(e) = &ahead.tail else {
            panic!("no error")
        };
        assert!(
            e.to_string().contains(&format!("at byte {}", ahead.head.len())),
            "{e}"
        );
    }
}
