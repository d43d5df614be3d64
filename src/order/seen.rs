//! The `eventID`s read recently: a record delivered again (an overlap after a restart, a
//! consumer's at-least-once redelivery) is recognised and changes nothing.

use crate::parse::event_time::Millis;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};

/// Ids remembered at most; past it the oldest read is forgotten (and counted), so a flood of
/// records with made-up ids cannot grow the set without bound. About 40 bytes each.
pub const MAX_SEEN: usize = 1 << 21;

/// `eventID` hashes (XXH3-64, 8 bytes) of the records read whose `eventTime` is within the
/// horizon of the watermark, in reading order.
#[derive(Default)]
pub struct Seen {
    horizon: Millis,
    map: HashMap<u64, Millis, ahash::RandomState>,
    order: VecDeque<(u64, Millis)>,
    /// Ids forgotten because the set was full.
    pub overflowed: u64,
}

impl Seen {
    pub fn new(horizon: Millis) -> Seen {
        Seen {
            horizon,
            ..Seen::default()
        }
    }

    /// Remembers `id` (of a record at `time`, watermark `wm`); false if it was read already.
    /// Ids older than the horizon are forgotten in reading order: one read out of time order
    /// stays until the ids read before it go.
    pub fn first(&mut self, id: u64, time: Millis, wm: Millis) -> bool {
        let keep_from = wm.saturating_sub(self.horizon);
        while let Some(&(old, at)) = self.order.front() {
            let full = self.order.len() >= MAX_SEEN;
            if at >= keep_from && !full {
                break;
            }
            self.overflowed += u64::from(full && at >= keep_from);
            self.order.pop_front();
            if self.map.get(&old) == Some(&at) {
                self.map.remove(&old);
            }
        }
        // One probe of a table too large for the cache, not two.
        match self.map.entry(id) {
            Entry::Occupied(_) => false,
            Entry::Vacant(v) => {
                v.insert(time);
                self.order.push_back((id, time));
                true
            }
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// In reading order, for the state file.
    pub fn export(&self) -> Vec<(u64, Millis)> {
        self.order
            .iter()
            .filter(|(id, at)| self.map.get(id) == Some(at))
            .copied()
            .collect()
    }

    pub fn import(&mut self, ids: &[(u64, Millis)]) {
        for &(id, at) in ids {
            if self.map.insert(id, at).is_none() {
                self.order.push_back((id, at));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_new_once_within_the_horizon() {
        let mut s = Seen::new(100);
        assert!(s.first(7, 1_000, 1_000));
        assert!(!s.first(7, 1_000, 1_050), "read again within the horizon");
        assert!(s.first(8, 1_200, 1_200));
        // 7 is 200 behind the watermark now: forgotten, so it counts as new (it is late anyway).
        assert!(s.first(7, 1_000, 1_200));
        let mut t = Seen::new(100);
        t.import(&s.export());
        assert!(!t.first(8, 1_200, 1_200), "the export keeps what it knew");
    }
}
