//! Readers wrapped around an input: one that a signal can stop, one that counts for a progress
//! display.

use crate::config::Progress;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, RawFd};
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
    fd: RawFd,
    inner: R,
    stop: Arc<AtomicBool>,
}

impl<R: AsRawFd> Stoppable<R> {
    pub fn new(inner: R, stop: Arc<AtomicBool>) -> Self {
        Stoppable {
            fd: inner.as_raw_fd(),
            inner,
            stop,
        }
    }
}

impl<R: Read> Read for Stoppable<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(0);
            }
            let mut pfd = libc::pollfd {
                fd: self.fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd, for the duration of the call.
            let n = unsafe { libc::poll(&mut pfd, 1, 100) };
            if n > 0 || (n < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted) {
                return self.inner.read(buf);
            }
        }
    }
}
