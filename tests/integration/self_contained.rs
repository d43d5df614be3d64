//! Nothing the project runs reads outside the repository. `.ci/run` proves it for the tests by
//! running them in a copy with nothing beside it; this also catches an absolute path, which such a
//! copy would still find on a machine that has it.

use crate::common::repo;
use std::fs;
use std::path::Path;

/// Where the files that tests, benches, fuzzing, pipelines and CI run live.
const ROOTS: &[&str] = &[
    "src",
    "crates",
    "tests",
    "benches",
    "fuzz",
    "pipelines",
    ".ci",
    "Cargo.toml",
];

fn visit(path: &Path, found: &mut Vec<String>, needles: &[String]) {
    let rel = path
        .strip_prefix(repo(""))
        .unwrap()
        .to_string_lossy()
        .into_owned();
    // Build output and cargo-fuzz's local corpus are not the project's files.
    let generated = Path::new(&rel)
        .components()
        .any(|c| ["target", "corpus", "artifacts"].contains(&c.as_os_str().to_string_lossy().as_ref()));
    if rel.ends_with("Cargo.lock") || generated {
        return;
    }
    if path.is_dir() {
        for e in fs::read_dir(path).unwrap() {
            visit(&e.unwrap().path(), found, needles);
        }
    } else if let Ok(text) = fs::read_to_string(path) {
        for (n, line) in text.lines().enumerate() {
            if needles.iter().any(|s| line.contains(s.as_str())) {
                found.push(format!("{rel}:{}: {line}", n + 1));
            }
        }
    }
}

#[test]
fn no_path_leaves_the_repository() {
    // Built so that this file does not match itself.
    let needles = [format!("../{}", "shared"), format!("/{}/", "work")];
    let mut found = Vec::new();
    for root in ROOTS {
        visit(&repo(root), &mut found, &needles);
    }
    assert!(
        found.is_empty(),
        "paths outside the repository (vendor the data into tests/data instead):\n{}",
        found.join("\n")
    );
}
