//! credtrail: detects stolen EC2 instance credentials in CloudTrail records.
//!
//! The method is Netflix's ([`detect`]); the rest reads records ([`input`], [`parse`]), moves them
//! through it quickly ([`pipeline`]) without losing or reordering any, and writes what it says
//! ([`output`]).

#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod detect;
pub mod input;
pub mod keying;
pub mod manual;
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
