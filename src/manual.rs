//! The man page and the shell completions, generated from the clap definition of the command
//! line (`credtrail man`, `credtrail completions SHELL`), so that neither can drift from
//! `--help`.

use crate::cli::Args;
use clap::CommandFactory;
use clap_complete::Shell;
use std::io::{self, Write};

/// credtrail(1) in roff: the options, the subcommands and the exit codes of `--help`.
pub fn write_man(out: &mut dyn Write) -> io::Result<()> {
    clap_mangen::Man::new(Args::command()).render(out)
}

/// The completion script for `shell`.
pub fn write_completions(shell: Shell, out: &mut dyn Write) -> io::Result<()> {
    // clap_complete writes with no way to report an error; a buffer keeps the failure (a closed
    // stdout) the caller's to see.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Args::command(), "credtrail", &mut script);
    out.write_all(&script)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> String {
        let mut out = Vec::new();
        write(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_man_page_holds_every_option_and_the_exit_codes() {
        let man = text(write_man);
        assert!(
            man.starts_with(".ie \\n(.g .ds Aq") || man.contains(".TH credtrail 1"),
            "{man:.200}"
        );
        for needle in [
            "\\-\\-state",
            "\\-\\-emit",
            "\\-\\-aws\\-ip\\-ranges",
            "generate",
            "completions",
            "Exit status",
        ] {
            assert!(man.contains(needle), "man page lacks {needle}");
        }
    }

    /// bash parses the script (`bash -n`): a generator bug would break every user's shell start.
    #[test]
    fn the_bash_script_parses() {
        let script = text(|out| write_completions(Shell::Bash, out));
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &script).unwrap();
        let status = std::process::Command::new("bash")
            .arg("-n")
            .arg(file.path())
            .status();
        match status {
            Ok(s) => assert!(s.success(), "bash -n failed on the completion script"),
            Err(e) => eprintln!("SKIPPED bash -n: {e}"),
        }
    }

    #[test]
    fn every_shell_gets_a_script_naming_the_options() {
        for shell in [
            Shell::Bash,
            Shell::Zsh,
            Shell::Fish,
            Shell::Elvish,
            Shell::PowerShell,
        ] {
            let script = text(|out| write_completions(shell, out));
            assert!(script.contains("credtrail"), "{shell}");
            assert!(script.contains("max-line-bytes"), "{shell}: no --max-line-bytes");
        }
    }
}
