//! Signals that end a run cleanly.

use signal_hook::consts::{SIGINT, SIGTERM};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// What a second signal says before the process ends.
pub const SECOND_SIGNAL: &str =
    "credtrail: second signal: exiting at once (output may end mid-block, --state not saved)";

/// SIGTERM and SIGINT stop the reading: the whole lines read so far are finished, written,
/// flushed and saved (`--state`); the line being read is left unread (see
/// [`crate::input::framing::FrameReader::stop_on`]); the exit is 0. A second signal ends the
/// process at once, with exit 1 and [`SECOND_SIGNAL`] on stderr.
pub fn stop_on_signals() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    // The flag is set in the handler itself, so that a reader polling it sees it at once.
    for sig in [SIGTERM, SIGINT] {
        let _ = signal_hook::flag::register(sig, stop.clone());
    }
    // Messages and the second signal's exit from a thread that waits for the signals: a handler
    // may do almost nothing (no allocation, no lock), and this crate writes no unsafe code to
    // install one. Should the thread's pipe not be had, the exit is signal-hook's, without a word.
    match signal_hook::iterator::Signals::new([SIGTERM, SIGINT]) {
        Ok(mut signals) => {
            std::thread::spawn(move || {
                let mut seen = 0;
                for sig in signals.forever() {
                    seen += 1;
                    if seen == 1 {
                        let name = if sig == SIGINT { "SIGINT" } else { "SIGTERM" };
                        eprintln!(
                            "credtrail: {name}: stopping: finishing what was read and saving \
                             (a second signal exits at once)"
                        );
                    } else {
                        eprintln!("{SECOND_SIGNAL}");
                        std::process::exit(1);
                    }
                }
            });
        }
        Err(_) => {
            for sig in [SIGTERM, SIGINT] {
                let _ = signal_hook::flag::register_conditional_shutdown(sig, 1, stop.clone());
            }
        }
    }
    stop
}
