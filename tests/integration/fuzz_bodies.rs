//! The cargo-fuzz targets' bodies over the seeds committed in `fuzz/seeds`. CI does not run
//! cargo-fuzz; without this the bodies were compiled by nobody and broke unseen when the library
//! changed. A seed fails as it would under libFuzzer: on a panic in any thread, including one the
//! pipeline catches in a parse worker and only reports as a lost block.

#[path = "../../fuzz/bodies/detector.rs"]
mod detector;
#[path = "../../fuzz/bodies/record.rs"]
mod record;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once};

static PANICS: AtomicUsize = AtomicUsize::new(0);
/// The panic count is process-wide: one target at a time, so a panic is blamed on its own seed.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            default(info);
        }));
    });
}

fn seeds(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a seed directory entry").path())
        .filter(|p| p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no seeds in {}", dir.display());
    paths
}

fn run_seeds(target: &str, body: fn(&[u8])) {
    count_panics();
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut failed = Vec::new();
    for path in seeds(target) {
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let before = PANICS.load(Ordering::SeqCst);
        let unwound = std::panic::catch_unwind(|| body(&data)).is_err();
        if unwound || PANICS.load(Ordering::SeqCst) != before {
            failed.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    assert!(
        failed.is_empty(),
        "the {target} fuzz body panicked on {failed:?} (messages above)"
    );
}

#[test]
fn record_body_holds_on_its_seeds() {
    run_seeds("record", record::run);
}

#[test]
fn detector_body_holds_on_its_seeds() {
    run_seeds("detector", detector::run);
}
