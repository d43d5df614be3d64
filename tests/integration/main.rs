//! One test binary for every end-to-end test: one link instead of eleven.

mod archive;
mod common;
mod evasions;
mod fuzz_bodies;
mod generated_traffic;
mod malformed;
mod pipelines;
mod real_data;
mod reliability;
mod rules;
mod spec_cases;
mod threads_equal_sequential;
mod workloads;
