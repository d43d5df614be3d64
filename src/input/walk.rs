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
/// start with `.` are left out, below the directory given.
pub fn inputs(paths: Vec<PathBuf>) -> Result<Vec<Input>, WalkError> {
    if paths.is_empty() {
        return Ok(vec![Input::Stdin]);
    }
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            out.push(Input::Stdin);
        } else if p.is_dir() {
            let mut files = walk(&p)?;
            files.sort_by(|a, b| (time_in_name(a), a).cmp(&(time_in_name(b), b)));
            out.extend(files.into_iter().map(Input::Path));
        } else {
            out.push(Input::Path(p));
        }
    }
    Ok(out)
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Result<Vec<PathBuf>, WalkError> {
    let mut files = Vec::new();
    walk_into(dir, &mut files).map_err(|e| WalkError {
        path: dir.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok(files)
}

fn walk_into(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            walk_into(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
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
