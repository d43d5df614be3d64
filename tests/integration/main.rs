//! One test binary for every end-to-end test: one link instead of eleven.

mod archive;
mod cli;
mod common;
mod delivery;
mod estate;
mod estate_regions;
mod evasions;
mod event_time;
mod fuzz_bodies;
mod generated_traffic;
mod hardening_cli;
mod hardening_identities;
mod hardening_inputs;
mod hardening_records;
mod hardening_state;
mod keyed;
mod malformed;
mod pipelines;
mod real_data;
mod reliability;
mod rules;
mod self_contained;
mod signals;
mod spec_cases;
mod threads_equal_sequential;
