//! The body lives in `fuzz/bodies/record.rs`, where `tests/integration/fuzz_bodies.rs` also runs it (over
//! `fuzz/seeds/record`), so CI compiles it and checks its assertions without cargo-fuzz.
#![no_main]

#[path = "../bodies/record.rs"]
mod record;

libfuzzer_sys::fuzz_target!(|data: &[u8]| record::run(data));
