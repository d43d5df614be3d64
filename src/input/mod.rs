//! Reading input: the inputs named on the command line (directories walked), each opened (gzip
//! recognised by its first bytes), read in order and cut into numbered blocks of lines.

pub mod framing;
mod pipe;
mod prefetch;
mod readers;
mod sources;
mod walk;

pub use pipe::widen_pipe;
pub use readers::waiting_since;
pub use sources::{Numbered, Sources};
pub use walk::{Walked, inputs, is_digest, walked};

use crate::config::{Input, Progress};
use readers::{Counted, Located, Stoppable};
use std::io::{self, BufRead, BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Opens an input, decompressing gzip when its first bytes say so (CloudTrail's S3 objects are
/// `.json.gz`, but names are not to be trusted). With `stop`, the input ends as soon as it is set.
pub fn open(input: Input, stop: Option<&Arc<AtomicBool>>) -> io::Result<Box<dyn Read + Send>> {
    open_counted(input, stop, None)
}

/// [`open`], counting the bytes read into `progress`.
fn open_counted(
    input: Input,
    stop: Option<&Arc<AtomicBool>>,
    progress: Option<&Arc<Progress>>,
) -> io::Result<Box<dyn Read + Send>> {
    if matches!(input, Input::Stdin) {
        widen_pipe(io::stdin());
    }
    let raw: Box<dyn Read + Send> = match (input, stop) {
        (Input::Stdin, Some(stop)) => Box::new(Stoppable::new(io::stdin(), stop.clone())),
        (Input::Stdin, None) => Box::new(io::stdin()),
        (Input::Path(p), Some(stop)) => Box::new(Stoppable::new(std::fs::File::open(p)?, stop.clone())),
        (Input::Path(p), None) => Box::new(std::fs::File::open(p)?),
        (Input::Memory(_, bytes), _) => Box::new(io::Cursor::new(bytes)),
        (Input::Unwalkable(_, reason), _) => return Err(io::Error::other(reason)),
    };
    let raw: Box<dyn Read + Send> = match progress {
        Some(p) => Box::new(Counted::new(raw, p.clone())),
        None => raw,
    };
    let mut buffered = BufReader::with_capacity(1 << 16, raw);
    let head = buffered.fill_buf()?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(Located::new(
            flate2::bufread::MultiGzDecoder::new(buffered),
            true,
        )))
    } else {
        Ok(Box::new(Located::new(buffered, false)))
    }
}
