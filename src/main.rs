//! The command line wired to the library: arguments to a validated configuration, the run, and
//! its exit status.

#![forbid(unsafe_code)]

use clap::Parser;
use credtrail::cli::{Args, Command, Exit, GenerateArgs, KeyArgs};
use credtrail::output::printable::printable;
use credtrail::{Config, run};
use credtrail_generate::GenConfig;
use std::io::{self, Write};
use std::process::ExitCode;

// mimalloc: the pipeline allocates and frees many small buffers across threads, where the system
// allocator's locks show up in profiles.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Turns transparent huge pages off for this process. mimalloc asks for them on its arenas, and
/// each first touch then zeroed 2 MiB, mostly for buffers of a few KiB: about 170 such faults,
/// some 3 % of the CPU time on a 1 GB file (by hand, 12 alternating runs), and peak RSS 45 MB
/// where 17 MB are used. A working set this small gains nothing from huge pages.
fn small_pages_only() {
    // Failure (an old kernel) changes nothing.
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
}

fn main() -> ExitCode {
    small_pages_only();
    let mut args = Args::parse();
    match args.command.take() {
        Some(Command::Key(k)) => key(k),
        Some(Command::Generate(g)) => generate(g),
        Some(Command::Man) => manual(credtrail::manual::write_man),
        Some(Command::Completions { shell }) => {
            manual(|out| credtrail::manual::write_completions(shell, out))
        }
        None => filter(args),
    }
    .into()
}

/// A usage error: said, and nothing read.
fn usage(e: credtrail::cli::UsageError) -> Exit {
    eprintln!("credtrail: {}", printable(&e.to_string()));
    Exit::Usage
}

fn filter(args: Args) -> Exit {
    let mut config = match Config::try_from(args) {
        Ok(c) => c,
        Err(e) => return usage(e),
    };
    config.stop = Some(credtrail::signals::stop_on_signals());
    let bar = credtrail::progress::progress_bar(&mut config);
    // Not locked: every thread may write in its turn. Writes are whole blocks, so the lock taken
    // per write costs nothing.
    let mut out = io::stdout();
    credtrail::input::widen_pipe(&out);
    let mut err = io::stderr();
    let result = run(&config, &mut out, &mut err);
    credtrail::signals::wait_for_the_stop_message();
    if let Some((done, handle)) = bar {
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = handle.join();
    }
    match result {
        Ok(stats) if stats.output_closed => Exit::Success,
        Ok(stats) => {
            // The table is for a person hunting from a terminal; pipelines get the one-line summary.
            if io::IsTerminal::is_terminal(&err) {
                let _ = write!(err, "{}", stats.alert_table_text());
            }
            let _ = writeln!(err, "{}", stats.summary());
            if stats.input_errors > 0 {
                Exit::Failure
            } else {
                Exit::Success
            }
        }
        Err(e) => {
            let _ = writeln!(err, "credtrail: {}", printable(&e.to_string()));
            Exit::Failure
        }
    }
}

fn key(args: KeyArgs) -> Exit {
    let config = match Config::try_from(args) {
        Ok(c) => c,
        Err(e) => return usage(e),
    };
    let stdout = io::stdout();
    match credtrail::keying::run_key(&config, &mut stdout.lock(), &mut io::stderr()) {
        Ok(stats) if stats.input_errors > 0 => Exit::Failure,
        Ok(_) => Exit::Success,
        Err(e) => {
            eprintln!("credtrail: output: {e}");
            Exit::Failure
        }
    }
}

/// The man page or a completion script, on stdout.
fn manual(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Exit {
    let mut out = io::stdout().lock();
    match write(&mut out).and_then(|()| out.flush()) {
        Ok(()) => Exit::Success,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Exit::Success,
        Err(e) => {
            eprintln!("credtrail: {e}");
            Exit::Failure
        }
    }
}

fn generate(args: GenerateArgs) -> Exit {
    if args.estate {
        return estate(&args);
    }
    let cfg = match GenConfig::try_from(args) {
        Ok(c) => c,
        Err(e) => return usage(e),
    };
    let mut out = io::BufWriter::with_capacity(1 << 20, io::stdout().lock());
    match credtrail_generate::generate(&cfg, &mut out).and_then(|_| out.flush()) {
        Ok(()) => Exit::Success,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Exit::Success,
        Err(e) => {
            eprintln!("credtrail: generate: {e}");
            Exit::Failure
        }
    }
}

/// `generate --estate`: the estate to stdout, its labels and ranges beside `--labels`.
fn estate(args: &GenerateArgs) -> Exit {
    let cfg = match credtrail_generate::EstateConfig::try_from(args) {
        Ok(c) => c,
        Err(e) => return usage(e),
    };
    let mut out = io::BufWriter::with_capacity(1 << 20, io::stdout().lock());
    let truth =
        match credtrail_generate::generate_estate(&cfg, &mut out).and_then(|t| out.flush().map(|()| t)) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Exit::Success,
            Err(e) => {
                eprintln!("credtrail: generate: {e}");
                return Exit::Failure;
            }
        };
    let Some(path) = &args.labels else {
        return Exit::Success;
    };
    let mut ranges = path.clone().into_os_string();
    ranges.push(".ip-ranges.json");
    let written = std::fs::File::create(path)
        .and_then(|mut f| truth.write_labels(&mut f))
        .and_then(|()| std::fs::write(&ranges, &truth.ip_ranges));
    match written {
        Ok(()) => Exit::Success,
        Err(e) => {
            eprintln!("credtrail: generate: {}: {e}", path.display());
            Exit::Failure
        }
    }
}
