//! The command line as a user meets it: golden files of every help text, usage error and file
//! error (tests/cli, see its README), README.md's options block against `--help`, and the one
//! message a golden file cannot hold (a directory that cannot be walked needs a link loop made at
//! run time).

use crate::common::*;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

/// clap wraps help to the terminal, and reads its width from `COLUMNS` first: pinned, so that the
/// golden files do not depend on the shell that runs the tests.
const COLUMNS: &str = "100";

#[test]
fn golden_command_lines() {
    trycmd::TestCases::new()
        .env("COLUMNS", COLUMNS)
        .register_bin(
            "credtrail",
            std::path::PathBuf::from(env!("CARGO_BIN_EXE_credtrail")),
        )
        .case("tests/cli/*.toml");
}

fn stdout_of(args: &[&str]) -> String {
    let out = bin().args(args).env("COLUMNS", COLUMNS).output().unwrap();
    assert!(out.status.success(), "credtrail {args:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// One option as a help text lists it: `--name <VALUE>`, and its default if it says one.
#[derive(Debug, PartialEq)]
struct Opt {
    spec: String,
    default: Option<String>,
}

/// The options of `credtrail --help`, in order, without `--help` and `--version`. An option's
/// description is read as one text, so that a `[default: …]` wrapped over two lines is found.
fn help_options(help: &str) -> Vec<Opt> {
    let mut options: Vec<(String, String)> = Vec::new();
    for line in help.lines() {
        if line.starts_with("      --") {
            options.push((line.trim().to_string(), String::new()));
        } else if line.is_empty() {
            // Between the paragraphs of one description.
        } else if line.starts_with("  -") || !line.starts_with(' ') {
            // `-h, --help`, or the next heading: the options above are complete.
            options.push((String::new(), String::new()));
        } else if let Some((_, text)) = options.last_mut() {
            text.push(' ');
            text.push_str(line.trim());
        }
    }
    options
        .into_iter()
        .filter(|(spec, _)| !spec.is_empty())
        .map(|(spec, text)| {
            let default = text.find("[default: ").map(|i| {
                let rest = &text[i + "[default: ".len()..];
                rest[..rest.find(']').unwrap()].to_string()
            });
            Opt { spec, default }
        })
        .collect()
}

/// The options of README.md's block: the `--name <VALUE>` that starts each line, and the `[X]`
/// that ends it.
fn readme_options(block: &str) -> Vec<Opt> {
    block
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("--"))
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let spec = match words.get(1) {
                Some(v) if v.starts_with('<') => format!("{} {v}", words[0]),
                _ => words[0].to_string(),
            };
            let default = l
                .strip_suffix(']')
                .and_then(|l| l.rfind('[').map(|i| l[i + 1..].to_string()));
            Opt { spec, default }
        })
        .collect()
}

fn readme_options_block() -> String {
    let readme = fs::read_to_string(repo("README.md")).unwrap();
    let start = readme
        .find("## Options\n")
        .expect("README has an Options section");
    let body = &readme[start..];
    let open = body.find("```\n").unwrap() + 4;
    let len = body[open..].find("```").unwrap();
    body[open..open + len].to_string()
}

#[test]
fn the_readme_options_block_matches_help() {
    let help = stdout_of(&["--help"]);
    let block = readme_options_block();
    let want = help_options(&help);
    assert!(want.len() > 10, "options read from --help: {want:?}");
    let got = readme_options(&block);
    let specs = |o: &[Opt]| o.iter().map(|o| o.spec.clone()).collect::<Vec<_>>();
    assert_eq!(
        specs(&got),
        specs(&want),
        "README.md's options block lists --help's options, in its order"
    );
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(
            g.default, w.default,
            "{}: the README's [default] is --help's",
            w.spec
        );
    }
    // The usage lines: the filter's as --help says it, each subcommand's as its own help says it.
    let usage = |args: &[&str]| {
        let h = stdout_of(args);
        let line = h.lines().find(|l| l.starts_with("Usage: ")).unwrap();
        line["Usage: ".len()..].to_string()
    };
    let lines: Vec<&str> = block.lines().take_while(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], format!("Usage: {}", usage(&["--help"])));
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        // A command's name is indented by two; its wrapped description by more.
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert_eq!(commands, ["key", "generate", "man", "completions"]);
    for c in commands {
        let u = usage(&[c, "--help"]);
        assert!(
            lines.iter().any(|l| l.trim_start().starts_with(&u)),
            "README.md's usage lines have `{u}`:\n{block}"
        );
    }
    // And --emit's values.
    let emit = block
        .lines()
        .find(|l| l.trim_start().starts_with("--emit"))
        .unwrap();
    for value in ["alerts", "all", "findings"] {
        assert!(help.contains(&format!("- {value}:")), "--help lists {value}");
        assert!(emit.contains(value), "README's --emit line lists {value}");
    }
}

/// A directory that cannot be walked is an input error of its own: the message names it and why,
/// the rest is read, the summary printed, and the exit status is 1 (not a usage error). A loop of
/// links makes one even for root; a directory without read permission makes one for everyone else
/// (root reads it anyway, so that half is only checked where it applies).
#[test]
fn an_unreadable_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let looped = tmp.path().join("looped");
    fs::create_dir(&looped).unwrap();
    std::os::unix::fs::symlink(&looped, looped.join("again")).unwrap();
    let out = bin().arg(&looped).output().unwrap();
    let d = looped.display();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "credtrail: {d}/again: a loop of links back to {d}: not followed\n\
             credtrail: 0 records, 0 judged, 0 alerts, 0 malformed, 0 sessions live\n"
        )
    );
    assert!(out.stdout.is_empty());

    use std::os::unix::fs::PermissionsExt;
    let locked = tmp.path().join("locked");
    fs::create_dir_all(locked.join("inner")).unwrap();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
    if fs::read_dir(&locked).is_err() {
        let out = bin().arg(&locked).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .starts_with(&format!("credtrail: {}: cannot walk: ", locked.display())),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).unwrap();
}

/// The README's man page and completion commands, run as written on a machine where none of
/// their folders exists (the paths moved under a temporary root, `~` its home): each creates its
/// folder and writes a non-empty file. (Mutation: the README's completion lines without their
/// `mkdir -p`, as they were, fail it: the shell cannot open the file.)
#[test]
fn the_readme_man_and_completion_commands_work_on_a_fresh_machine() {
    let readme = fs::read_to_string(repo("README.md")).unwrap();
    let commands: Vec<&str> = readme
        .lines()
        .skip_while(|l| !l.starts_with("The man page and shell completions are generated"))
        .skip_while(|l| *l != "```sh")
        .skip(1)
        .take_while(|l| *l != "```")
        .collect();
    assert_eq!(commands.len(), 4, "man, bash, zsh, fish: {commands:?}");
    let root = tempfile::tempdir().unwrap();
    let r = root.path().display().to_string();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_credtrail"))
        .parent()
        .unwrap()
        .to_owned();
    for line in commands {
        let command = line.split("   #").next().unwrap().trim();
        let target = command.rsplit("> ").next().unwrap().trim();
        let moved = command
            .replace(" /usr/", &format!(" {r}/usr/"))
            .replace(" ~/", &format!(" {r}/home/"));
        let out = Command::new("sh")
            .arg("-c")
            .arg(&moved)
            .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "`{moved}`: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let file = match target.strip_prefix("~/") {
            Some(rest) => root.path().join("home").join(rest),
            None => root.path().join(target.trim_start_matches('/')),
        };
        let len = fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        assert!(len > 100, "`{command}` wrote {}: {len} bytes", file.display());
    }
}

/// README's "Upgrading" names the state format version this binary writes and reads, in the
/// words of the message it gives for a file of another version. (Mutation: the section as it was,
/// "version 4" where the binary reads 5, fails it.)
#[test]
fn the_readme_upgrading_section_names_the_state_version_the_binary_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state.bin");
    // A state header of version 99, an empty payload.
    let mut bytes = b"credtrail-state\n".to_vec();
    bytes.extend_from_slice(&99u32.to_le_bytes());
    bytes.extend_from_slice(&[0; 12]);
    fs::write(&state, bytes).unwrap();
    let out = bin()
        .arg("--state")
        .arg(&state)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let reads = err
        .split("this credtrail reads version ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("{err}"));
    let readme = fs::read_to_string(repo("README.md")).unwrap();
    let upgrading: String = readme
        .split("\n## Upgrading\n")
        .nth(1)
        .unwrap()
        .split("\n## ")
        .next()
        .unwrap()
        .replace('\n', " ");
    assert!(
        upgrading.contains(&format!("this credtrail reads version {reads}\")")),
        "Upgrading quotes the message: {upgrading}"
    );
    assert!(
        upgrading.contains(&format!("writes version {reads} ")),
        "Upgrading names the version written: {upgrading}"
    );
}
