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

/// Turns transparent huge pages off for this process. mimalloc asks for them on its arenas, and
/// each first touch then zeroed 2 MiB, mostly for buffers of a few KiB: about 170 such faults,
/// some 3 % of the CPU time on a 1 GB file (by hand, 12 alternating runs), and peak RSS 45 MB
/// where 17 MB are used. A working set this small gains nothing from huge pages.
fn small_pages_only() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with integer arguments only; failure (an old kernel) changes nothing.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

fn main() -> ExitCode {
    small_pages_only();
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
    let bar = progress_bar(&mut config);
    // Not locked: every thread may write in its turn. Writes are whole blocks, so the lock taken
    // per write costs nothing.
    let mut out = io::stdout();
    credtrail::pipeline::widen_pipe(std::os::fd::AsRawFd::as_raw_fd(&out));
    let mut err = io::stderr();
    let result = run(&config, &mut out, &mut err);
    if let Some((done, handle)) = bar {
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = handle.join();
    }
    match result {
        Ok(stats) if stats.output_closed => ExitCode::SUCCESS,
        Ok(stats) => {
            // The table is for a person hunting from a terminal; pipelines get the one-line summary.
            if std::io::IsTerminal::is_terminal(&err) {
                let _ = write!(err, "{}", stats.alert_table_text());
            }
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

type Bar = (
    std::sync::Arc<std::sync::atomic::AtomicBool>,
    std::thread::JoinHandle<()>,
);

/// On a terminal, a progress bar on stderr: files and bytes done, records/s, alerts so far, ETA.
/// Silent when stderr is not a terminal (a pipeline's log).
fn progress_bar(config: &mut Config) -> Option<Bar> {
    use std::sync::atomic::{AtomicBool, Ordering};
    if !std::io::IsTerminal::is_terminal(&io::stderr()) {
        return None;
    }
    let files: Vec<&std::path::Path> = config
        .inputs
        .iter()
        .filter_map(|i| match i {
            credtrail::Input::Path(p) => Some(p.as_path()),
            _ => None,
        })
        .collect();
    if files.is_empty() {
        return None;
    }
    let total: u64 = files
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let nfiles = files.len();
    let progress = std::sync::Arc::new(credtrail::config::Progress::default());
    config.progress = Some(progress.clone());
    let done = std::sync::Arc::new(AtomicBool::new(false));
    let stop = done.clone();
    let handle = std::thread::spawn(move || {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] {bytes}/{total_bytes} {msg} ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let start = std::time::Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let records = progress.records.load(Ordering::Relaxed);
            let rate = records as f64 / start.elapsed().as_secs_f64().max(0.001);
            bar.set_position(progress.bytes.load(Ordering::Relaxed));
            bar.set_message(format!(
                "files {}/{nfiles}, {rate:.0} records/s, {} alerts",
                progress.files_done.load(Ordering::Relaxed),
                progress.alerts.load(Ordering::Relaxed)
            ));
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        bar.finish_and_clear();
    });
    Some((done, handle))
}
