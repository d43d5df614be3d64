//! Readers wrapped around an input: one that a signal can stop, one that counts for a progress
//! display, one whose errors say where in the input they happened.

use crate::config::Progress;
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Counts the bytes read from a file for a progress display.
pub struct Counted<R> {
    inner: R,
    progress: Arc<Progress>,
}

impl<R> Counted<R> {
    pub fn new(inner: R, progress: Arc<Progress>) -> Self {
        Counted { inner, progress }
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A source that ends when `stop` is set, even while it waits on an idle pipe: it polls the
/// descriptor with a short timeout instead of blocking in `read`.
pub struct Stoppable<R> {
    inner: R,
    stop: Arc<AtomicBool>,
}

impl<R> Stoppable<R> {
    pub fn new(inner: R, stop: Arc<AtomicBool>) -> Self {
        Stoppable { inner, stop }
    }
}

impl<R: Read + AsFd> Read for Stoppable<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        const TICK: Timespec = Timespec {
            tv_sec: 0,
            tv_nsec: 100_000_000,
        };
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(0);
            }
            let mut fds = [PollFd::new(&self.inner, PollFlags::IN)];
            match poll(&mut fds, Some(&TICK)) {
                Ok(0) | Err(rustix::io::Errno::INTR) => {}
                // Ready, or a descriptor poll cannot wait on: the read says which.
                Ok(_) | Err(_) => return self.inner.read(buf),
            }
        }
    }
}

/// Says in its errors how far into the input they happened (for a gzip file, in its decompressed
/// content): a truncated file among many is then named with the place where it stops.
pub struct Located<R> {
    inner: R,
    at: u64,
    decompressed: bool,
}

impl<R> Located<R> {
    pub fn new(inner: R, decompressed: bool) -> Self {
        Located {
            inner,
            at: 0,
            decompressed,
        }
    }
}

impl<R: Read> Read for Located<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.at += n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                let of = if self.decompressed {
                    " of the decompressed content"
                } else {
                    ""
                };
                Err(io::Error::new(e.kind(), format!("{e} at byte {}{of}", self.at)))
            }
        }
    }
}
