use clap::Parser;
use credtrail::cli::Args;
use credtrail::{Config, run};
use std::io::{self, Write};
use std::process::ExitCode;

// mimalloc: the pipeline allocates and frees many small buffers across threads, where the system
// allocator's locks show up in profiles.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let config = match Config::try_from(Args::parse()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("credtrail: {e}");
            return ExitCode::from(2);
        }
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut err = io::stderr();
    match run(&config, &mut out, &mut err) {
        Ok(stats) if stats.output_closed => ExitCode::SUCCESS,
        Ok(stats) => {
            let _ = writeln!(err, "{}", stats.summary());
            if stats.input_errors > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            let _ = writeln!(err, "credtrail: output: {e}");
            ExitCode::from(1)
        }
    }
}
