//! Files read whole on worker threads ahead of the reader when there are many small ones, as in a
//! CloudTrail archive (thousands of `.json.gz` files of a few hundred KB): decompression then runs
//! on other cores while the reader feeds the parse workers. Bounded: at most `LOOKAHEAD` files ahead,
//! each under `SMALL` bytes on disk; bigger files are streamed by the reader itself.

use super::open_counted;
use crate::config::{Input, Progress};
use crossbeam_channel::{Receiver, Sender, bounded};
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::thread;

/// A file being read ahead: its bytes, decompressed, once they are there.
pub type Fetched = Receiver<io::Result<Vec<u8>>>;

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
    let (job_tx, job_rx) = bounded::<(PathBuf, Sender<io::Result<Vec<u8>>>)>(LOOKAHEAD);
    for _ in 0..2 {
        let (rx, stop, progress) = (job_rx.clone(), stop.clone(), progress.clone());
        thread::spawn(move || {
            for (path, done) in rx {
                let result =
                    open_counted(Input::Path(path), stop.as_ref(), progress.as_ref()).and_then(|mut r| {
                        let mut bytes = Vec::new();
                        r.read_to_end(&mut bytes).map(|_| bytes)
                    });
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
