use clap::Parser;
use credtrail::cli::{Args, Command};
use credtrail::{Config, run};
use std::io::{self, Write};
use std::process::ExitCode;

// mimalloc: the pipeline allocates and frees many small buffers across threads, where the system
// allocator's locks show up in profiles.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = Args::parse();
    match args.command {
        Some(Command::Key {
            inputs,
            max_line_bytes,
        }) => return key(inputs, &max_line_bytes),
        Some(Command::Generate {
            records,
            seed,
            instances,
            attacks,
            rate,
        }) => {
            return generate(credtrail::generator::GenConfig {
                seed,
                records,
                instances: instances.max(1),
                attacks,
                events_per_sec: rate,
                ..Default::default()
            });
        }
        None => {}
    }
    let config = match Config::try_from(args) {
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

fn key(inputs: Vec<std::path::PathBuf>, max_line_bytes: &str) -> ExitCode {
    let config = match credtrail::cli::inputs(inputs).and_then(|inputs| {
        let max_line_bytes =
            credtrail::cli::parse_size(max_line_bytes).map_err(|e| format!("--max-line-bytes {e}"))?;
        Ok(Config {
            inputs,
            max_line_bytes,
            ..Config::default()
        })
    }) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("credtrail: {e}");
            return ExitCode::from(2);
        }
    };
    let stdout = io::stdout();
    match credtrail::keying::run_key(&config, &mut stdout.lock(), &mut io::stderr()) {
        Ok(stats) if stats.input_errors > 0 => ExitCode::from(1),
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("credtrail: output: {e}");
            ExitCode::from(1)
        }
    }
}

fn generate(cfg: credtrail::generator::GenConfig) -> ExitCode {
    let mut out = io::BufWriter::with_capacity(1 << 20, io::stdout().lock());
    match credtrail::generator::generate(&cfg, &mut out).and_then(|_| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("credtrail: generate: {e}");
            ExitCode::from(1)
        }
    }
}
