//! Signals that end a run cleanly.

use signal_hook::consts::{SIGINT, SIGTERM};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

/// Set once the first signal's message is on stderr, so that the run's end can wait for it: the
/// message is written by a thread of its own, which a short run could otherwise outrun, ending
/// with a summary and no word of the signal that stopped it.
static ANNOUNCED: (Mutex<bool>, Condvar) = (Mutex::new(false), Condvar::new());

/// Set by the signals alone (the run's stop flag is also set when the output closes).
static SIGNALLED: OnceLock<Arc<AtomicBool>> = OnceLock::new();

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
    let signalled = SIGNALLED.get_or_init(Arc::default);
    for sig in [SIGTERM, SIGINT] {
        let _ = signal_hook::flag::register(sig, stop.clone());
        let _ = signal_hook::flag::register(sig, signalled.clone());
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
                    let (said, cv) = &ANNOUNCED;
                    *said.lock().unwrap_or_else(|e| e.into_inner()) = true;
                    cv.notify_all();
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

/// When a signal came, waits (at most a second) until its message is on stderr, so that the
/// message comes before the summary. Returns at once when no signal came.
pub fn wait_for_the_stop_message() {
    if !SIGNALLED.get().is_some_and(|s| s.load(Ordering::Relaxed)) {
        return;
    }
    let (said, cv) = &ANNOUNCED;
    let guard = said.lock().unwrap_or_else(|e| e.into_inner());
    let _ = cv.wait_timeout_while(guard, Duration::from_secs(1), |said| !*said);
}
