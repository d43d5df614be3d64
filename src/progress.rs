//! A progress bar for a person at a terminal.

use crate::config::Config;
use std::io;

/// The progress display's stop flag and thread.
pub type Bar = (
    std::sync::Arc<std::sync::atomic::AtomicBool>,
    std::thread::JoinHandle<()>,
);

/// On a terminal, a progress bar on stderr: files and bytes done, records/s, alerts so far, ETA.
/// Silent when stderr is not a terminal (a pipeline's log).
pub fn progress_bar(config: &mut Config) -> Option<Bar> {
    use std::sync::atomic::{AtomicBool, Ordering};
    if !std::io::IsTerminal::is_terminal(&io::stderr()) {
        return None;
    }
    let files: Vec<&std::path::Path> = config
        .inputs
        .iter()
        .filter_map(|i| match i {
            crate::Input::Path(p) => Some(p.as_path()),
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
    let progress = std::sync::Arc::new(crate::config::Progress::default());
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
