//! The reorder window: records that an earlier one may still overtake, held until the watermark
//! is `--lateness` past them and released in `(eventTime, arrival)` order.
//!
//! Most input arrives nearly sorted, so an entry goes to the back of a queue when it is not older
//! than the queue's last, and only the others into a heap: releasing is then a comparison of two
//! fronts, and the heap stays as small as the disorder.

use crate::parse::event_time::Millis;
use crate::parse::record::Fact;
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

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

impl Entry {
    fn key(&self) -> (Millis, u64) {
        (self.time, self.seq)
    }
}

/// Entries older than the queue's last wait in `slab`, ordered by a heap of their keys alone: a
/// heap of whole entries (280 bytes) spent its time moving them.
#[derive(Default)]
pub struct Window {
    sorted: VecDeque<Entry>,
    heap: BinaryHeap<Reverse<(Millis, u64, u32)>>,
    slab: Vec<Option<Entry>>,
    free: Vec<u32>,
    next_seq: u64,
}

impl Window {
    pub fn push(&mut self, time: Millis, block: u64, unit: u32, fact: Fact) {
        let e = Entry {
            time,
            seq: self.next_seq,
            block,
            unit,
            fact,
        };
        self.next_seq += 1;
        self.insert(e);
    }

    fn insert(&mut self, e: Entry) {
        match self.sorted.back() {
            Some(last) if last.key() > e.key() => {
                let key = e.key();
                let slot = match self.free.pop() {
                    Some(s) => {
                        self.slab[s as usize] = Some(e);
                        s
                    }
                    None => {
                        self.slab.push(Some(e));
                        (self.slab.len() - 1) as u32
                    }
                };
                self.heap.push(Reverse((key.0, key.1, slot)));
            }
            _ => self.sorted.push_back(e),
        }
    }

    /// The time of the entry released next.
    pub fn first_time(&self) -> Option<Millis> {
        match (self.sorted.front(), self.heap.peek()) {
            (Some(a), Some(Reverse(b))) => Some(a.time.min(b.0)),
            (Some(a), None) => Some(a.time),
            (None, Some(Reverse(b))) => Some(b.0),
            (None, None) => None,
        }
    }

    /// The first entry in `(time, arrival)` order.
    pub fn pop(&mut self) -> Option<Entry> {
        let from_heap = match (self.sorted.front(), self.heap.peek()) {
            (Some(a), Some(Reverse(b))) => (b.0, b.1) < a.key(),
            (None, Some(_)) => true,
            _ => false,
        };
        if from_heap {
            let Reverse((_, _, slot)) = self.heap.pop()?;
            self.free.push(slot);
            self.slab.get_mut(slot as usize)?.take()
        } else {
            self.sorted.pop_front()
        }
    }

    pub fn len(&self) -> usize {
        self.sorted.len() + self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every entry in release order, for the state file (the window itself is unchanged).
    pub fn export(&self) -> Vec<Entry> {
        let mut all: Vec<Entry> = self.sorted.iter().cloned().collect();
        all.extend(self.slab.iter().flatten().cloned());
        all.sort_by_key(Entry::key);
        all
    }

    /// Entries saved by [`Window::export`]; arrival numbers go on after theirs.
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
