//! Readers wrapped around an input: one that a signal can stop, one that counts for a progress
//! display, one whose errors say where in the input they happened.

use crate::config::Progress;
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

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

/// When the input being read began to wait for data that has not come: the reorder window's
/// `--idle-release` reads it. One for the process, as only one input is read at a time.
static WAITING_SINCE: Mutex<Option<Instant>> = Mutex::new(None);

/// When the input being read began waiting for data, if it is waiting now.
pub fn waiting_since() -> Option<Instant> {
    *WAITING_SINCE.lock().unwrap_or_else(|e| e.into_inner())
}

fn set_waiting(since: Option<Instant>) {
    *WAITING_SINCE.lock().unwrap_or_else(|e| e.into_inner()) = since;
}

impl<R: Read + AsFd> Read for Stoppable<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let asked = Instant::now();
        let mut waiting = false;
        let r = self.read_polled(buf, || {
            if !waiting {
                waiting = true;
                set_waiting(Some(asked));
            }
        });
        if waiting {
            set_waiting(None);
        }
        r
    }
}

impl<R: Read + AsFd> Stoppable<R> {
    /// Reads once data is there, calling `idle` after every tick without any.
    fn read_polled(&mut self, buf: &mut [u8], mut idle: impl FnMut()) -> io::Result<usize> {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        const TICK: Timespec = Timespec {
            tv_sec: 0,
            tv_nsec: 100_000_000,
        };
        const NOW: Timespec = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // The first look does not wait, so that an input with no data counts as waiting at once,
        // not after a tick: the short idle release is timed from it.
        let mut first = true;
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(0);
            }
            let mut fds = [PollFd::new(&self.inner, PollFlags::IN)];
            let wait = if std::mem::take(&mut first) { &NOW } else { &TICK };
            match poll(&mut fds, Some(wait)) {
                Ok(0) => idle(),
                Err(rustix::io::Errno::INTR) => {}
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
