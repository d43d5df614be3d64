//! credtrail: detects stolen EC2 instance credentials in CloudTrail records.
//!
//! The detector is Netflix's method ([`detector`]); the rest moves records through it quickly
//! ([`pipeline`]) without losing or reordering any.

pub mod annotation;
pub mod block;
pub mod cli;
pub mod config;
pub mod detector;
pub mod event_time;
pub mod framing;
pub mod keying;
pub mod pipeline;
pub mod record;
pub mod session_key;
pub mod shape;
pub mod source_address;
pub mod state;

pub use config::{Config, Emit, Input};
pub use pipeline::{Stats, run, run_sequential};
pub mod findings;
pub mod generator;
pub mod ip_ranges;
