//! The inputs named on the command line: directories walked, their files in the time order their
//! CloudTrail names give.

use crate::config::Input;
use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Paths as given; directories are walked and their files read in the time order their names give
/// (`…_CloudTrail_REGION_20240301T1205Z_…`), merging regions and accounts, then by path. Names that
/// start with `.` are left out, below the directory given. A file reached twice (through a link,
/// or under two directories given) is read once. What the walk could not enter (a directory it
/// may not read, a loop of links) is an [`Input::Unwalkable`] in its place: reported when its
/// turn comes, counted as an input error, and the rest is read. CloudTrail digest files are left
/// out ([`is_digest`]).
pub fn inputs(paths: Vec<PathBuf>) -> Vec<Input> {
    walked(paths).inputs
}

/// The inputs to read, and how many CloudTrail digest files were left out of them.
#[derive(Debug, Default)]
pub struct Walked {
    pub inputs: Vec<Input>,
    pub digests: u64,
}

/// [`inputs`], counting the digest files left out.
pub fn walked(paths: Vec<PathBuf>) -> Walked {
    let mut w = Walked::default();
    if paths.is_empty() {
        w.inputs.push(Input::Stdin);
        return w;
    }
    let mut seen = HashSet::new();
    for p in paths {
        if p.as_os_str() == "-" {
            w.inputs.push(Input::Stdin);
        } else if p.is_dir() {
            let mut found = walk(&p, &mut seen);
            let before = found.len();
            found.retain(|f| !matches!(f, Found::File(p) if is_digest(p)));
            w.digests += (before - found.len()) as u64;
            found.sort_by(|a, b| (time_in_name(a.path()), a.path()).cmp(&(time_in_name(b.path()), b.path())));
            w.inputs.extend(found.into_iter().map(|f| match f {
                Found::File(p) => Input::Path(p),
                Found::Unwalkable(p, reason) => Input::Unwalkable(p, reason),
            }));
        } else if is_digest(&p) {
            w.digests += 1;
        } else {
            w.inputs.push(Input::Path(p));
        }
    }
    w
}

/// A CloudTrail digest file, by its name: `ACCOUNT_CloudTrail-Digest_REGION_TRAIL_REGION_
/// 20240301T120000Z[_backfill].json.gz`, delivered beside the logs under `CloudTrail-Digest/`. It
/// holds the hashes of the log files of an hour for `validate-logs`, no records: read as a trail
/// it would be one malformed line per file, every hour.
pub fn is_digest(p: &Path) -> bool {
    p.file_name()
        .is_some_and(|n| n.to_string_lossy().contains("_CloudTrail-Digest_"))
}

/// What the walk found: a file to read, or a path it could not enter and why.
enum Found {
    File(PathBuf),
    Unwalkable(PathBuf, String),
}

impl Found {
    fn path(&self) -> &Path {
        match self {
            Found::File(p) | Found::Unwalkable(p, _) => p,
        }
    }
}

/// Every file under `dir` not in `seen` (by device and inode), following links to directories.
/// A loop of links is not followed: the hand-written walk this replaced read the files under it
/// again and again, some 40 times, until the kernel's limit on links in one path stopped it.
fn walk(dir: &Path, seen: &mut HashSet<(u64, u64)>) -> Vec<Found> {
    let hidden = |e: &walkdir::DirEntry| e.depth() > 0 && e.file_name().to_string_lossy().starts_with('.');
    let mut found = Vec::new();
    for entry in walkdir::WalkDir::new(dir)
        .follow_links(true)
        .into_iter()
        .filter_entry(|e| !hidden(e))
    {
        match entry {
            Ok(entry) if !entry.file_type().is_dir() => {
                // A file whose metadata cannot be had is kept: opening it says why.
                let id = entry.metadata().ok().map(|m| (m.dev(), m.ino()));
                if id.is_none_or(|id| seen.insert(id)) {
                    found.push(Found::File(entry.into_path()));
                }
            }
            Ok(_) => {}
            // A link to nothing is a file that cannot be opened: reported when it is read, as any.
            Err(e)
                if e.path()
                    .is_some_and(|p| e.depth() > 0 && p.is_symlink() && !p.exists()) =>
            {
                found.extend(e.path().map(|p| Found::File(p.to_path_buf())));
            }
            Err(e) => {
                let path = e.path().unwrap_or(dir).to_path_buf();
                let reason = match (e.loop_ancestor(), e.io_error()) {
                    (Some(up), _) => format!("a loop of links back to {}: not followed", up.display()),
                    (None, Some(io)) => format!("cannot walk: {io}"),
                    (None, None) => format!("cannot walk: {e}"),
                };
                found.push(Found::Unwalkable(path, reason));
            }
        }
    }
    found
}

/// The `YYYYMMDDTHHMMZ` token of a CloudTrail log file name; names without one sort first.
fn time_in_name(p: &Path) -> String {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.split('_')
        .find(|t| {
            t.len() == 14
                && t.as_bytes()[8] == b'T'
                && t.ends_with('Z')
                && t[..8].bytes().all(|c| c.is_ascii_digit())
        })
        .unwrap_or("")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Digest files beside the logs are left out by name and counted, anywhere in the tree and when
    /// named on the command line; a log file whose trail is named `Digest` is not one.
    #[test]
    fn digest_files_are_left_out_and_counted() {
        let root = tree("digest");
        let digest_dir = root.join("acct/CloudTrail-Digest/us-east-1/2024/03/01");
        std::fs::create_dir_all(&digest_dir).unwrap();
        let log = root.join("acct/us-east-1/1_CloudTrail_us-east-1_20240301T1210Z_Digest.json.gz");
        let digest = digest_dir.join("1_CloudTrail-Digest_us-east-1_t_us-east-1_20240301T130000Z.json.gz");
        let backfill =
            digest_dir.join("1_CloudTrail-Digest_us-east-1_t_us-east-1_20240301T140000Z_backfill.json.gz");
        for f in [&log, &digest, &backfill] {
            std::fs::write(f, b"").unwrap();
        }
        let w = walked(vec![root.clone()]);
        assert_eq!(w.inputs, [Input::Path(log.clone())]);
        assert_eq!(w.digests, 2);
        let w = walked(vec![digest, log.clone()]);
        assert_eq!((w.inputs, w.digests), (vec![Input::Path(log)], 1));
        std::fs::remove_dir_all(&root).unwrap();
    }

    fn tree(name: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("credtrail-walk-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("acct/us-east-1")).unwrap();
        root
    }

    /// Files in the time order of their names, hidden names left out, a dangling link kept (it is
    /// reported when it is read), links to directories followed, and a file reached through a
    /// link too read once. (Mutation: not consulting `seen` lists `/linked/1_…` as well.)
    #[test]
    fn a_tree_is_read_in_the_time_order_of_its_names() {
        let root = tree("order");
        let late = root.join("acct/us-east-1/1_CloudTrail_us-east-1_20240301T1210Z_a.json.gz");
        let early = root.join("acct/2_CloudTrail_eu-west-1_20240301T1205Z_b.json.gz");
        for f in [&late, &early, &root.join("acct/.hidden"), &root.join("notes.txt")] {
            std::fs::write(f, b"").unwrap();
        }
        std::os::unix::fs::symlink(root.join("nowhere"), root.join("dangling")).unwrap();
        std::os::unix::fs::symlink(root.join("acct/us-east-1"), root.join("linked")).unwrap();
        let got: Vec<String> = inputs(vec![root.clone()])
            .into_iter()
            .map(|i| {
                i.name()
                    .strip_prefix(&*root.to_string_lossy())
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(
            got,
            [
                "/dangling",
                "/notes.txt",
                "/acct/2_CloudTrail_eu-west-1_20240301T1205Z_b.json.gz",
                "/acct/us-east-1/1_CloudTrail_us-east-1_20240301T1210Z_a.json.gz",
            ]
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// A link back up the tree is named, once, as a loop in the walk's results, and each real
    /// file is read once: not the same files again and again (which the hand-written walk before
    /// did, some 40 times over), nor an error that reads nothing. (Mutation: stopping the walk at
    /// the loop, as before, loses the file after it.)
    #[test]
    fn a_loop_of_links_is_named_and_each_file_read_once() {
        let root = tree("loop");
        std::os::unix::fs::symlink(&root, root.join("acct/up")).unwrap();
        std::os::unix::fs::symlink(root.join("acct"), root.join("acct/us-east-1/self")).unwrap();
        std::fs::write(root.join("acct/us-east-1/z.json"), b"").unwrap();
        let got = inputs(vec![root.clone()]);
        let loops: Vec<_> = got
            .iter()
            .filter_map(|i| match i {
                Input::Unwalkable(p, reason) => Some((p.clone(), reason.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(loops.len(), 2, "{got:?}");
        assert_eq!(loops[0].0, root.join("acct/up"));
        assert!(loops[0].1.contains(&*root.to_string_lossy()), "{}", loops[0].1);
        let files: Vec<_> = got.iter().filter(|i| matches!(i, Input::Path(_))).collect();
        assert_eq!(files, [&Input::Path(root.join("acct/us-east-1/z.json"))]);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
