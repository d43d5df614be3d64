//! Random draws and the text they make: ids, UUIDs, numbers, and the `put!` macro that
//! assembles records from byte pieces.

use rand::{Rng, RngCore};
use rand_chacha::ChaCha8Rng;

pub(crate) const HEX: &[u8; 16] = b"0123456789abcdef";
pub(crate) const HEXU: &[u8; 16] = b"0123456789ABCDEF";
pub(crate) const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
pub(crate) const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
pub(crate) const ALNUM: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789Ab";

pub(crate) trait Draw {
    /// Uniform in `0..n` (0 when `n <= 1`).
    fn below(&mut self, n: u64) -> u64;
    /// Uniform in `lo..=hi` (`lo` when `hi <= lo`).
    fn between(&mut self, lo: i64, hi: i64) -> i64;
    /// True with probability `p` per mille.
    fn per_mille(&mut self, p: u32) -> bool;
    fn pick<'a, T>(&mut self, s: &'a [T]) -> &'a T;
}

impl Draw for ChaCha8Rng {
    fn below(&mut self, n: u64) -> u64 {
        if n <= 1 { 0 } else { self.random_range(0..n) }
    }
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo { lo } else { self.random_range(lo..=hi) }
    }
    fn per_mille(&mut self, p: u32) -> bool {
        (self.next_u32() % 1000) < p
    }
    fn pick<'a, T>(&mut self, s: &'a [T]) -> &'a T {
        &s[self.below(s.len() as u64) as usize]
    }
}

/// Appends `n` characters drawn from `set` (`set.len()` must be `1 << bits`).
pub(crate) fn push_rand(b: &mut Vec<u8>, rng: &mut ChaCha8Rng, n: usize, set: &[u8], bits: u32) {
    debug_assert_eq!(set.len(), 1 << bits);
    let mask = (1u64 << bits) - 1;
    let per = 64 / bits;
    let (mut x, mut left) = (0u64, 0u32);
    for _ in 0..n {
        if left == 0 {
            x = rng.next_u64();
            left = per;
        }
        b.push(set[(x & mask) as usize]);
        x >>= bits;
        left -= 1;
    }
}

pub(crate) fn rand_string(rng: &mut ChaCha8Rng, prefix: &str, n: usize, set: &[u8], bits: u32) -> String {
    let mut b = Vec::with_capacity(prefix.len() + n);
    b.extend_from_slice(prefix.as_bytes());
    push_rand(&mut b, rng, n, set, bits);
    into_string(b)
}

pub(crate) fn hex_id(rng: &mut ChaCha8Rng, prefix: &str, n: usize) -> String {
    rand_string(rng, prefix, n, HEX, 4)
}

/// Only ASCII is ever pushed by this module.
pub(crate) fn into_string(b: Vec<u8>) -> String {
    String::from_utf8(b).unwrap_or_default()
}

/// A random (version 4) UUID, lower case.
pub(crate) fn uuid(rng: &mut ChaCha8Rng) -> [u8; 36] {
    let (a, c) = (rng.next_u64(), rng.next_u64());
    let mut o = [b'-'; 36];
    let mut k = 0;
    for (i, slot) in o.iter_mut().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            continue;
        }
        let nib = if k < 16 {
            (a >> (k * 4)) & 15
        } else {
            (c >> ((k - 16) * 4)) & 15
        };
        *slot = match k {
            12 => b'4',
            16 => b"89ab"[(nib & 3) as usize],
            _ => HEX[nib as usize],
        };
        k += 1;
    }
    o
}

pub(crate) fn uuid_string(rng: &mut ChaCha8Rng) -> String {
    into_string(uuid(rng).to_vec())
}

pub(crate) fn push_u64(b: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    b.extend_from_slice(&buf[i..]);
}

macro_rules! put {
    ($b:expr, $($x:expr),* $(,)?) => {{
        $( $b.extend_from_slice(AsRef::<[u8]>::as_ref(&$x)); )*
    }};
}
pub(crate) use put;
