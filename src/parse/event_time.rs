//! Event time: CloudTrail's `eventTime` as milliseconds since the Unix epoch. The code is the
//! credtrail-time crate's, which the generator shares, so the two write dates alike.

pub use credtrail_time::*;
