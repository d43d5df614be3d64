//! Wider pipe buffers.

use std::os::fd::AsFd;

/// Asks for a 1 MiB pipe buffer when `fd` is a pipe (Linux allows that much unprivileged). On
/// stdin, the default 64 KiB let the writer (`cat`, `kcat`) fill the pipe and sleep whenever the
/// threads were all parsing, and cut blocks of 64 KiB (the harness's `cat FILE | credtrail` row
/// measures it). On stdout, writing a block of 1 MiB or more into 64 KiB took some 16 wake-ups of
/// the reader and of this process, with the turn held (the `--emit all` row measures it).
pub fn widen_pipe(fd: impl AsFd) {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{FileType, fstat};
        // Failure (not a pipe, an old kernel, a limit) changes nothing.
        if fstat(&fd).is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Fifo) {
            let _ = rustix::pipe::fcntl_setpipe_size(&fd, 1 << 20);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = fd;
}
