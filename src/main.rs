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
    let mut config = match Config::try_from(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("credtrail: {e}");
            return ExitCode::from(2);
        }
    };
    config.stop = Some(stop_on_signals());
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
            let _ = writeln!(err, "credtrail: {e}");
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

/// SIGTERM and SIGINT stop the reading: what was read is finished, flushed and saved, and the
/// exit is 0. A second signal ends the process at once.
fn stop_on_signals() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [SIGTERM, SIGINT] {
        let _ = signal_hook::flag::register_conditional_shutdown(sig, 1, stop.clone());
        let _ = signal_hook::flag::register(sig, stop.clone());
    }
    stop
}
