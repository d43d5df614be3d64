//! Signals that end a run cleanly.

use signal_hook::consts::{SIGINT, SIGTERM};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// The status a second signal exits with: 128 + its number, as a shell reports a process a
/// signal ended (130 for SIGINT, 143 for SIGTERM).
pub fn second_signal_status(sig: i32) -> i32 {
    128 + sig
}

/// SIGTERM and SIGINT stop the reading: the whole lines read so far are finished, written,
/// flushed and saved (`--state`); the line being read is left unread; the exit is 0. A second
/// signal says so on stderr and exits at once with [`second_signal_status`], writing and saving
/// nothing more.
pub fn stop_on_signals() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    // The flag is set in the handler itself, so that a reader polling it sees it at once.
    for sig in [SIGTERM, SIGINT] {
        let _ = signal_hook::flag::register(sig, stop.clone());
    }
    // Messages and the second signal's exit from a thread of their own: a handler may not print.
    if let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGTERM, SIGINT]) {
        std::thread::spawn(move || {
            let mut seen = 0;
            for sig in signals.forever() {
                seen += 1;
                let name = if sig == SIGINT { "SIGINT" } else { "SIGTERM" };
                if seen == 1 {
                    eprintln!(
                        "credtrail: {name}: stopping: finishing what was read and saving \
                         (a second signal exits at once)"
                    );
                } else {
                    eprintln!(
                        "credtrail: {name} again: exiting at once; output and --state since the \
                         first signal are not written"
                    );
                    std::process::exit(second_signal_status(sig));
                }
            }
        });
    }
    stop
}
