//! credtrail: detects stolen EC2 instance credentials in CloudTrail records.
//!
//! The method is Netflix's ([`detect`]); the rest reads records ([`input`], [`parse`]), moves them
//! through it quickly ([`pipeline`]) without losing or reordering any, and writes what it says
//! ([`output`]).

#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod detect;
// Split by what it models into a crate of its own; until then its long functions are allowed.
#[allow(clippy::too_many_lines)]
pub mod generator;
pub mod input;
pub mod keying;
pub mod order;
pub mod output;
pub mod parse;
pub mod pipeline;
pub mod progress;
pub mod signals;
pub mod stages;

pub use config::{Config, Emit, Input};
pub use output::summary::Stats;
pub use pipeline::run;
pub use stages::run_sequential;
