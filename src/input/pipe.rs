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
        use std::os::fd::AsRawFd;
        let fd = fd.as_fd().as_raw_fd();
        // SAFETY: fstat and fcntl on a descriptor we were given; failure changes nothing.
        unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            if libc::fstat(fd, &mut st) == 0 && (st.st_mode & libc::S_IFMT) == libc::S_IFIFO {
                libc::fcntl(fd, libc::F_SETPIPE_SZ, 1 << 20);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = fd;
}
