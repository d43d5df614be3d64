//! The inputs named on the command line: directories walked, their files in the time order their
//! CloudTrail names give.

use crate::config::Input;
use std::path::{Path, PathBuf};

/// A directory that could not be walked.
#[derive(Debug, thiserror::Error)]
#[error("{}: {reason}", path.display())]
pub struct WalkError {
    /// The directory as given.
    pub path: PathBuf,
    pub reason: String,
}

/// Paths as given; directories are walked and their files read in the time order their names give
/// (`…_CloudTrail_REGION_20240301T1205Z_…`), merging regions and accounts, then by path. Names that
/// start with `.` are left out, below the directory given, and so are CloudTrail digest files.
pub fn inputs(paths: Vec<PathBuf>) -> Result<Vec<Input>, WalkError> {
    walked(paths).map(|w| w.inputs)
}

/// The inputs to read, and how many CloudTrail digest files were left out of them.
#[derive(Debug, Default)]
pub struct Walked {
    pub inputs: Vec<Input>,
    pub digests: u64,
}

/// [`inputs`], counting the digest files left out.
pub fn walked(paths: Vec<PathBuf>) -> Result<Walked, WalkError> {
    let mut w = Walked::default();
    if paths.is_empty() {
        w.inputs.push(Input::Stdin);
        return Ok(w);
    }
    for p in paths {
        if p.as_os_str() == "-" {
            w.inputs.push(Input::Stdin);
        } else if p.is_dir() {
            let mut files = walk(&p)?;
            let before = files.len();
            files.retain(|f| !is_digest(f));
            w.digests += (before - files.len()) as u64;
            files.sort_by(|a, b| (time_in_name(a), a).cmp(&(time_in_name(b), b)));
            w.inputs.extend(files.into_iter().map(Input::Path));
        } else if is_digest(&p) {
            w.digests += 1;
        } else {
            w.inputs.push(Input::Path(p));
        }
    }
    Ok(w)
}

/// A CloudTrail digest file, by its name: `ACCOUNT_CloudTrail-Digest_REGION_TRAIL_REGION_
/// 20240301T120000Z[_backfill].json.gz`, delivered beside the logs under `CloudTrail-Digest/`. It
/// holds the hashes of the log files of an hour for `validate-logs`, no records: read as a trail
/// it would be one malformed line per file, every hour.
pub fn is_digest(p: &Path) -> bool {
    p.file_name()
        .is_some_and(|n| n.to_string_lossy().contains("_CloudTrail-Digest_"))
}

/// Every file under `dir`, following links to directories. A loop of them is an error: the
/// hand-written walk this replaced read the files under it again and again, some 40 times, until
/// the kernel's limit on links in one path stopped it.
fn walk(dir: &Path) -> Result<Vec<PathBuf>, WalkError> {
    let hidden = |e: &walkdir::DirEntry| e.depth() > 0 && e.file_name().to_string_lossy().starts_with('.');
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir)
        .follow_links(true)
        .into_iter()
        .filter_entry(|e| !hidden(e))
    {
        match entry {
            Ok(entry) if !entry.file_type().is_dir() => files.push(entry.into_path()),
            Ok(_) => {}
            // A link to nothing is a file that cannot be opened: reported when it is read, as any.
            Err(e)
                if e.path()
                    .is_some_and(|p| e.depth() > 0 && p.is_symlink() && !p.exists()) =>
            {
                files.extend(e.path().map(Path::to_path_buf));
            }
            Err(e) => {
                return Err(WalkError {
                    path: dir.to_path_buf(),
                    reason: match e.io_error() {
                        Some(io) => io.to_string(),
                        None => e.to_string(),
                    },
                });
            }
        }
    }
    Ok(files)
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

    fn tree(name: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("credtrail-walk-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("acct/us-east-1")).unwrap();
        root
    }

    /// Files in the time order of their names, hidden names left out, a dangling link kept (it is
    /// reported when it is read), links to directories followed.
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
            .unwrap()
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
                "/linked/1_CloudTrail_us-east-1_20240301T1210Z_a.json.gz",
            ]
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

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
        let w = walked(vec![root.clone()]).unwrap();
        assert_eq!(w.inputs, [Input::Path(log.clone())]);
        assert_eq!(w.digests, 2);
        let w = walked(vec![digest, log.clone()]).unwrap();
        assert_eq!((w.inputs, w.digests), (vec![Input::Path(log)], 1));
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// A link back up the tree is an error that names the directory given, not the same files read
    /// again and again (which the hand-written walk before did, some 40 times over).
    #[test]
    fn a_loop_of_links_is_an_error_naming_the_directory() {
        let root = tree("loop");
        std::os::unix::fs::symlink(&root, root.join("acct/up")).unwrap();
        let e = inputs(vec![root.clone()]).unwrap_err();
        assert_eq!(e.path, root);
        assert!(e.to_string().starts_with(&*root.to_string_lossy()), "{e}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
