//! The reorder window: records that an earlier one may still overtake, held until the watermark
//! is `--lateness` past them and released in `(eventTime, arrival)` order.
//!
//! Entries are kept in buckets of one `eventTime` each (arrival order inside), in a B-tree by time:
//! CloudTrail times have whole seconds, so a window of 15 minutes is at most 900 keys, and a record
//! costs a short search of a tree that stays in cache. A binary heap of the entries (or of their
//! keys) spent 13 % of the run on cache misses over the trail's jitter.

use crate::parse::event_time::Millis;
use crate::parse::record::Fact;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// One fact held, with where its verdict goes: the block (by number) and unit it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub time: Millis,
    /// Arrival order: equal times keep it, so only permutations across times are undone.
    pub seq: u64,
    pub block: u64,
    pub unit: u32,
    pub fact: Fact,
}

#[derive(Default)]
pub struct Window {
    buckets: BTreeMap<Millis, VecDeque<Entry>>,
    len: usize,
    next_seq: u64,
}

impl Window {
    /// Holds `fact`; its arrival number.
    pub fn push(&mut self, time: Millis, block: u64, unit: u32, fact: Fact) -> u64 {
        let e = Entry {
            time,
            seq: self.next_seq,
            block,
            unit,
            fact,
        };
        self.next_seq += 1;
        self.insert(e);
        self.next_seq - 1
    }

    fn insert(&mut self, e: Entry) {
        self.len += 1;
        self.buckets.entry(e.time).or_default().push_back(e);
    }

    /// The time of the entry released next.
    pub fn first_time(&self) -> Option<Millis> {
        self.buckets.first_key_value().map(|(t, _)| *t)
    }

    /// The entry released next, left in place.
    pub fn first(&self) -> Option<&Entry> {
        self.buckets.first_key_value().and_then(|(_, b)| b.front())
    }

    /// The first entry in `(time, arrival)` order.
    pub fn pop(&mut self) -> Option<Entry> {
        let mut bucket = self.buckets.first_entry()?;
        let e = bucket.get_mut().pop_front();
        if bucket.get().is_empty() {
            bucket.remove();
        }
        self.len -= usize::from(e.is_some());
        e
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every entry in release order, for the state file (the window itself is unchanged).
    pub fn export(&self) -> Vec<Entry> {
        self.buckets.values().flatten().cloned().collect()
    }

    /// Entries saved by [`Window::export`] (in release order); arrival numbers go on after theirs.
    pub fn import(&mut self, entries: Vec<Entry>) {
        for e in entries {
            self.next_seq = self.next_seq.max(e.seq + 1);
            self.insert(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::record::Fact;

    fn fact() -> Fact {
        Fact::Allocation {
            allocation_id: "eipalloc-1".into(),
            ip: "1.2.3.4".parse().unwrap(),
        }
    }

    #[test]
    fn releases_in_time_then_arrival_order() {
        let mut w = Window::default();
        for (i, t) in [5, 3, 5, 9, 1, 3, 7].into_iter().enumerate() {
            w.push(t, 0, i as u32, fact());
        }
        let mut saved = Window::default();
        saved.import(w.export());
        let order =
            |w: &mut Window| std::iter::from_fn(|| w.pop().map(|e| (e.time, e.unit))).collect::<Vec<_>>();
        let want = vec![(1, 4), (3, 1), (3, 5), (5, 0), (5, 2), (7, 6), (9, 3)];
        assert_eq!(order(&mut w), want);
        assert_eq!(order(&mut saved), want, "a saved window releases alike");
    }

    /// What one held fact costs, printed for the README (`cargo test --lib held_size -- --nocapture`).
    #[test]
    fn held_size() {
        let entry = std::mem::size_of::<Entry>();
        println!(
            "window entry: {entry} bytes (fact {} bytes)",
            std::mem::size_of::<Fact>()
        );
        assert!(entry <= 320, "an entry grew to {entry} bytes");
    }
}
