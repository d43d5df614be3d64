//! The body lives in `fuzz/bodies/detector.rs`, where `tests/integration/fuzz_bodies.rs` also runs it (over
//! `fuzz/seeds/detector`), so CI compiles it and checks its assertions without cargo-fuzz.
#![no_main]

// `run`, which decodes the bytes itself, is for the tests. Typed here, `fuzz_target!` tells
// libFuzzer to drop inputs too short for a script, and `cargo fuzz fmt` prints the script.
#[allow(dead_code)]
#[path = "../bodies/detector.rs"]
mod detector;

libfuzzer_sys::fuzz_target!(|script: detector::Script| detector::check(script));
