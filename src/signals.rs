//! Signals that end a run cleanly.

use signal_hook::consts::{SIGINT, SIGTERM};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What a second signal says before the process ends.
pub const SECOND_SIGNAL: &str =
    "credtrail: second signal: exiting at once (output may end mid-block, --state not saved)";

/// SIGTERM and SIGINT stop the reading: what was read is finished, flushed and saved, and the
/// exit is 0. A second signal ends the process at once, with exit 1 and [`SECOND_SIGNAL`] on
/// stderr (before, it ended with exit 1 and nothing said).
pub fn stop_on_signals() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    // A thread that waits for the signals: a handler may do almost nothing (no allocation, no
    // lock), and this crate writes no unsafe code to install one. Should the thread's pipe not be
    // had, flags set from the handlers do the same, without the message.
    match signal_hook::iterator::Signals::new([SIGTERM, SIGINT]) {
        Ok(mut signals) => {
            let stop = stop.clone();
            std::thread::spawn(move || {
                for _ in signals.forever() {
                    if stop.swap(true, Ordering::Relaxed) {
                        eprintln!("{SECOND_SIGNAL}");
                        std::process::exit(1);
                    }
                }
            });
        }
        Err(_) => {
            for sig in [SIGTERM, SIGINT] {
                let _ = signal_hook::flag::register_conditional_shutdown(sig, 1, stop.clone());
                let _ = signal_hook::flag::register(sig, stop.clone());
            }
        }
    }
    stop
}
