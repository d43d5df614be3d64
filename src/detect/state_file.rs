//! The `--state` file on disk, apart from what it holds: held by one process at a time, checked
//! before any input is read, and replaced atomically.
//!
//! - **Held**: an advisory lock (`flock`) on `.NAME.lock` beside it, for the whole run. A second
//!   process on the same file stops (after retrying for half a second), naming the holder's pid,
//!   instead of both running and the last to save losing the other's sessions. The lock is on a file of its own because the
//!   state file is replaced by a rename, which would leave a lock on the old inode. The kernel
//!   drops the lock when its holder dies, even by `kill -9`.
//! - **Checked up front**: the folder must exist and take a new file, or the run stops before
//!   reading input (before, an unwritable folder was found at the first save, after all input had
//!   been judged).
//! - **Replaced atomically**: bytes go to a temporary `.NAME.tmp-XXXXXX` of a random name, created
//!   with `O_EXCL` (so a planted link is never followed), fsynced and renamed over the file, then
//!   the folder fsynced. A process killed during a save leaves its temporary behind; the next
//!   holder of the lock removes such leftovers, which no one else can be writing.

use std::fs;
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The lock on a state file, held until dropped.
#[derive(Debug)]
pub struct Held {
    _lock: fs::File,
    /// Leftover temporaries of an interrupted save that were removed.
    pub stale_removed: usize,
}

fn parts(path: &Path) -> (PathBuf, String) {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".into());
    (dir.to_path_buf(), name)
}

fn temp_prefix(name: &str) -> String {
    format!(".{name}.tmp-")
}

/// Takes the lock on `path`, checks that its folder takes new files, and removes the temporaries
/// an interrupted save left. Errors name the file and, when another process holds it, that
/// process.
pub fn hold(path: &Path) -> io::Result<Held> {
    let named = |e: io::Error| io::Error::new(e.kind(), format!("--state {}: {e}", path.display()));
    let (dir, name) = parts(path);
    if !dir.is_dir() {
        return Err(named(io::Error::new(
            io::ErrorKind::NotFound,
            format!("folder {} does not exist", dir.display()),
        )));
    }
    let lock_path = dir.join(format!(".{name}.lock"));
    let mut lock = open_lock(&lock_path).map_err(named)?;
    match lock_within(&lock, BUSY_RETRY) {
        Ok(()) => {}
        Err(rustix::io::Errno::WOULDBLOCK) => {
            let mut holder = String::new();
            let _ = lock.read_to_string(&mut holder);
            let who = match holder.trim().parse::<u32>() {
                Ok(pid) => format!("process {pid}"),
                Err(_) => "another process".into(),
            };
            return Err(named(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("in use by {who} (it holds {})", lock_path.display()),
            )));
        }
        Err(e) => return Err(named(e.into())),
    }
    // Who holds it, for the message of the next one to try.
    lock.set_len(0)
        .and_then(|()| lock.rewind())
        .and_then(|()| writeln!(lock, "{}", std::process::id()))
        .map_err(named)?;
    let stale_removed = remove_stale(&dir, &name);
    // A new file can be made where the state will be saved.
    temp_in(&dir, &name).map(drop).map_err(|e| {
        named(io::Error::new(
            e.kind(),
            format!("cannot save in {}: {e}", dir.display()),
        ))
    })?;
    Ok(Held {
        _lock: lock,
        stale_removed,
    })
}

/// How long [`hold`] retries a lock held by someone else before refusing. A `flock` belongs to the
/// open file, and a process that forks (a program embedding the library and spawning a child; a
/// supervisor restarting credtrail) hands the child a copy of the descriptor that lives until the
/// child's `exec` closes it: for that moment the lock of a run that has ended still looks held.
/// Seen as a spurious "in use by process" naming the caller's own pid in a test process that ran
/// children meanwhile. A real holder keeps it far longer than this.
const BUSY_RETRY: std::time::Duration = std::time::Duration::from_millis(500);

/// Takes the exclusive lock, retrying for `patience` while someone else holds it.
fn lock_within(lock: &fs::File, patience: std::time::Duration) -> Result<(), rustix::io::Errno> {
    let until = std::time::Instant::now() + patience;
    loop {
        match rustix::fs::flock(lock, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Err(rustix::io::Errno::WOULDBLOCK) if std::time::Instant::now() < until => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            r => return r,
        }
    }
}

/// [`hold`] of `--state`, if there is one, saying on `err` what leftovers were removed.
pub fn hold_for(cfg: &crate::config::Config, err: &mut dyn Write) -> io::Result<Option<Held>> {
    let Some(path) = &cfg.state else {
        return Ok(None);
    };
    let held = hold(path)?;
    if held.stale_removed > 0 {
        writeln!(
            err,
            "credtrail: --state {}: removed {} temporary files an interrupted save left",
            path.display(),
            held.stale_removed
        )?;
    }
    Ok(Some(held))
}

fn open_lock(path: &Path) -> io::Result<fs::File> {
    let mut o = fs::OpenOptions::new();
    o.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // A link planted at the lock's name is refused rather than followed.
        o.custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .mode(0o666);
    }
    o.open(path)
}

/// Removes `.NAME.tmp-*` in `dir`: only the lock's holder saves, so none is being written.
fn remove_stale(dir: &Path, name: &str) -> usize {
    let prefix = temp_prefix(name);
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        // A link is removed itself, never what it points to.
        .filter(|e| fs::remove_file(e.path()).is_ok())
        .count()
}

fn temp_in(dir: &Path, name: &str) -> io::Result<tempfile::NamedTempFile> {
    let prefix = temp_prefix(name);
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix);
    // As `File::create` makes a file (less the umask), not tempfile's owner-only default: who may
    // read the state is left to the folder and the umask, as before.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    builder.tempfile_in(dir)
}

/// Writes `bytes` as the file at `path` atomically: temporary file, fsync, rename, fsync of the
/// folder.
pub fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let (dir, name) = parts(path);
    // Removed when dropped, should anything below fail.
    let mut tmp = temp_in(&dir, &name)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    if let Ok(d) = fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("credtrail-state-file-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A second holder is refused while the first holds, with the first's pid; once it lets go,
    /// the file can be held again. (Mutation: ignoring `WOULDBLOCK` lets the second hold too.)
    #[test]
    fn one_holder_at_a_time_and_the_refusal_names_it() {
        let dir = scratch("lock");
        let path = dir.join("state.bin");
        let first = hold(&path).unwrap();
        let e = hold(&path).unwrap_err().to_string();
        assert!(
            e.contains(&format!("in use by process {}", std::process::id())),
            "{e}"
        );
        assert!(e.contains("state.bin"), "{e}");
        drop(first);
        hold(&path).unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }

    /// A lock let go shortly after a second holder asks (a forked child's copy of the descriptor
    /// closing at its `exec`) is taken, not refused. (Mutation: no retry in `lock_within` refuses.)
    #[test]
    fn a_lock_let_go_within_the_retry_is_taken() {
        let dir = scratch("retry");
        let path = dir.join("state.bin");
        let first = hold(&path).unwrap();
        let letting_go = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(100));
            drop(first);
        });
        hold(&path).unwrap();
        letting_go.join().unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }

    /// Temporaries left by a save that was killed are removed by the next holder, and a link
    /// planted at such a name is removed without touching its target. (Mutation: not calling
    /// `remove_stale` leaves both.)
    #[test]
    fn stale_temporaries_are_removed_and_planted_links_not_followed() {
        let dir = scratch("stale");
        let path = dir.join("state.bin");
        let target = dir.join("precious");
        fs::write(&target, b"keep").unwrap();
        fs::write(dir.join(".state.bin.tmp-123"), vec![0u8; 4096]).unwrap();
        std::os::unix::fs::symlink(&target, dir.join(".state.bin.tmp-456")).unwrap();
        let held = hold(&path).unwrap();
        assert_eq!(held.stale_removed, 2);
        replace(&path, b"new state").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"keep");
        assert_eq!(fs::read(&path).unwrap(), b"new state");
        let mut left: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [".state.bin.lock", "precious", "state.bin"]);
        fs::remove_dir_all(&dir).unwrap();
    }

    /// A folder that does not exist is found before any input is read.
    #[test]
    fn a_missing_folder_is_refused_up_front() {
        let dir = scratch("missing");
        let e = hold(&dir.join("no/such/state.bin")).unwrap_err().to_string();
        assert!(
            e.contains("does not exist") && e.contains("no/such/state.bin"),
            "{e}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
