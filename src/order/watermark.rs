//! The event-time watermark: the newest `eventTime` read, clamped.

use crate::detect::LATE_GRACE;
use crate::parse::event_time::Millis;
use serde::{Deserialize, Serialize};

/// Milliseconds since the epoch on the wall clock (0 before 1970, which no real clock reads).
pub fn wall_clock_now() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(Millis::MAX))
}

/// A record dated more than [`LATE_GRACE`] past the wall clock: no real CloudTrail record is, so it
/// moves no watermark (a first record dated 2099 would otherwise expire every later session).
pub fn far_future(t: Millis, now: Millis) -> bool {
    t > now.saturating_add(LATE_GRACE)
}

/// The newest event time read, where one record moves it by at most [`LATE_GRACE`] (a gap in the
/// trail is caught up over a few records) and a far-future record ([`far_future`]) not at all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermark(pub Option<Millis>);

impl Watermark {
    /// Takes the time of one record; false (and no move) for a far-future one.
    pub fn advance(&mut self, t: Millis, now: Millis) -> bool {
        if far_future(t, now) {
            return false;
        }
        self.0 = Some(self.0.map_or(t, |w| w.max(t.min(w.saturating_add(LATE_GRACE)))));
        true
    }

    pub fn get(self) -> Option<Millis> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::event_time::HOUR;

    #[test]
    fn one_record_moves_it_an_hour_at_most_and_the_far_future_not_at_all() {
        let now = 1_800_000_000_000;
        let mut w = Watermark::default();
        // The first record too: a 2099 record must not become the watermark.
        assert!(!w.advance(4_070_908_800_000, now));
        assert_eq!(w.get(), None);
        assert!(w.advance(now - 5 * HOUR, now));
        assert_eq!(w.get(), Some(now - 5 * HOUR));
        assert!(w.advance(now, now));
        assert_eq!(w.get(), Some(now - 4 * HOUR), "clamped to an hour");
        assert!(w.advance(now - 6 * HOUR, now));
        assert_eq!(w.get(), Some(now - 4 * HOUR), "never back");
        assert!(
            w.advance(now + HOUR, now),
            "an hour ahead of the clock is still believed"
        );
        assert!(!w.advance(now + HOUR + 1, now));
    }
}
