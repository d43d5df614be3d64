//! What the verdicts become: annotated records, OCSF findings, the summary.

pub mod annotation;
pub mod findings;
pub mod ip_ranges;
