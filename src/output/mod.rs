//! What the verdicts become: judged into lines (annotated records or OCSF findings), rendered
//! with the records they belong to, and counted for the summary.

pub mod annotation;
pub mod findings;
pub mod ip_ranges;
pub mod judge;
pub mod ocsf;
pub mod printable;
pub mod render;
pub mod summary;
pub mod tally;
pub mod wrap;
