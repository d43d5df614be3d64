//! A hash map laid out for size, for the two maps that hold an entry per live session (the table's
//! rows and the same-account rule's locks).
//!
//! A hash map is mostly empty slots (half of them just after it doubles), so a slot here is only a
//! 4-byte position into the entries, which are dense. A plain map of the rows held 220 bytes of slots
//! per session at 1 M sessions, and one of the locks 105 bytes a slot (the harness's
//! table-per-session row measures the whole). The entries are kept in chunks of [`CHUNK`], not one
//! vector: a vector copies itself as it doubles, and the allocator keeps the old copy resident for
//! a while.

use std::hash::Hash;

/// An entry that carries its own key.
pub trait Keyed {
    /// The key as looked up: borrowed from the entry, or rebuilt from what it holds.
    type Key<'a>: Hash
    where
        Self: 'a;

    fn key(&self) -> Self::Key<'_>;

    /// Whether this entry's key is `key` (the two keys' lifetimes differ, so `==` cannot say).
    fn is(&self, key: &Self::Key<'_>) -> bool;
}

/// Entries by key, in the order they were first inserted.
pub struct DenseMap<T> {
    chunks: Vec<Vec<T>>,
    /// Positions in the entries, counted across chunks. 32 bits: 4 G entries would be hundreds of GB.
    index: hashbrown::HashTable<u32>,
    hasher: ahash::RandomState,
}

impl<T> Default for DenseMap<T> {
    fn default() -> Self {
        DenseMap {
            chunks: Vec::new(),
            index: hashbrown::HashTable::new(),
            hasher: ahash::RandomState::new(),
        }
    }
}

/// Entries per chunk.
pub const CHUNK: usize = 4096;

fn at<T>(chunks: &[Vec<T>], i: u32) -> &T {
    &chunks[i as usize / CHUNK][i as usize % CHUNK]
}

/// Appends an entry; its position.
fn push<T>(chunks: &mut Vec<Vec<T>>, entry: T) -> u32 {
    if chunks.last().is_none_or(|c| c.len() == CHUNK) {
        chunks.push(Vec::with_capacity(CHUNK));
    }
    let n = chunks.len();
    chunks[n - 1].push(entry);
    ((n - 1) * CHUNK + chunks[n - 1].len() - 1) as u32
}

impl<T: Keyed> DenseMap<T> {
    /// Entries held.
    pub fn len(&self) -> usize {
        self.chunks
            .last()
            .map_or(0, |c| (self.chunks.len() - 1) * CHUNK + c.len())
    }

    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    fn position(&self, key: &T::Key<'_>) -> Option<u32> {
        let chunks = &self.chunks;
        let found = self
            .index
            .find(self.hasher.hash_one(key), |&i| at(chunks, i).is(key));
        found.copied()
    }

    pub fn get(&self, key: T::Key<'_>) -> Option<&T> {
        let i = self.position(&key)?;
        Some(at(&self.chunks, i))
    }

    pub fn get_mut(&mut self, key: T::Key<'_>) -> Option<&mut T> {
        let i = self.position(&key)? as usize;
        Some(&mut self.chunks[i / CHUNK][i % CHUNK])
    }

    /// The entry of `key`, made by `make` if there was none.
    pub fn get_or_insert_with(&mut self, key: T::Key<'_>, make: impl FnOnce() -> T) -> &mut T {
        let i = match self.position(&key) {
            Some(i) => i,
            None => {
                let hash = self.hasher.hash_one(&key);
                self.push_new(hash, make())
            }
        } as usize;
        &mut self.chunks[i / CHUNK][i % CHUNK]
    }

    /// Sets the entry of its key, replacing the one it had.
    pub fn insert(&mut self, entry: T) {
        let hash = self.hasher.hash_one(entry.key());
        let chunks = &self.chunks;
        let found = {
            let key = entry.key();
            self.index.find(hash, |&i| at(chunks, i).is(&key)).copied()
        };
        match found {
            Some(i) => self.chunks[i as usize / CHUNK][i as usize % CHUNK] = entry,
            None => {
                self.push_new(hash, entry);
            }
        }
    }

    fn push_new(&mut self, hash: u64, entry: T) -> u32 {
        let (chunks, hasher) = (&mut self.chunks, &self.hasher);
        let i = push(chunks, entry);
        self.index
            .insert_unique(hash, i, |&j| hasher.hash_one(at(chunks, j).key()));
        i
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten()
    }

    /// Keeps the entries `keep` is true of, in their order; it may change them too.
    pub fn retain(&mut self, mut keep: impl FnMut(&mut T) -> bool) {
        let before = self.len();
        for mut e in std::mem::take(&mut self.chunks).into_iter().flatten() {
            if keep(&mut e) {
                push(&mut self.chunks, e);
            }
        }
        if self.len() == before {
            return;
        }
        // Every later position moved: rebuilding costs no more than the pass that removed them.
        let (chunks, hasher) = (&self.chunks, &self.hasher);
        self.index.clear();
        for (i, e) in chunks.iter().flatten().enumerate() {
            self.index
                .insert_unique(hasher.hash_one(e.key()), i as u32, |&j| {
                    hasher.hash_one(at(chunks, j).key())
                });
        }
    }
}
