//! Event time before the detector: records are judged in the order of their `eventTime`, not of
//! their arrival, so that a verdict is a function of the trail rather than of how it was
//! delivered.
//!
//! - [`Watermark`]: the newest `eventTime` read, moved at most an hour per record and never past
//!   the wall clock plus an hour, so that one absurd time cannot blind the detector.
//! - [`Window`]: the records that may still be overtaken by an earlier one, released in
//!   `(eventTime, arrival)` order once the watermark is `--lateness` past them.
//! - [`Seen`]: the `eventID`s read within the dedupe horizon, so that a record delivered twice
//!   changes nothing the second time.

mod seen;
mod watermark;
mod window;

pub use seen::{MAX_SEEN, Seen};
pub use watermark::{Watermark, far_future, wall_clock_now};
pub use window::{Entry, Window};
