//! Source addresses. Each kind of caller draws from its own first octets, so a thief's address
//! can never be one an instance had.

use crate::text::Draw;
use rand::RngCore;
use rand_chacha::ChaCha8Rng;

pub(crate) fn v4(rng: &mut ChaCha8Rng, first: &[u8]) -> String {
    let a = *rng.pick(first);
    let x = rng.next_u32();
    format!("{}.{}.{}.{}", a, x & 0xff, (x >> 8) & 0xff, 1 + ((x >> 16) % 254))
}

pub(crate) fn private_v4(rng: &mut ChaCha8Rng) -> String {
    let x = rng.next_u32();
    if x & 1 == 0 {
        format!(
            "10.{}.{}.{}",
            (x >> 1) & 0xff,
            (x >> 9) & 0xff,
            4 + ((x >> 17) % 250)
        )
    } else {
        format!(
            "172.{}.{}.{}",
            16 + ((x >> 1) & 15),
            (x >> 5) & 0xff,
            4 + ((x >> 13) % 250)
        )
    }
}

pub(crate) fn v6(rng: &mut ChaCha8Rng, prefix: &str) -> String {
    let mut s = String::from(prefix);
    for i in 0..6 {
        if i > 0 {
            s.push(':');
        }
        s.push_str(&format!("{:x}", 1 + rng.below(0xfffe)));
    }
    s
}

// Disjoint first octets, so a thief's address can never be one an instance had.
pub(crate) const POOL_AWS: &[u8] = &[3, 13, 18, 34, 35, 44, 50, 52, 54, 107];
pub(crate) const POOL_THIEF: &[u8] = &[5, 31, 37, 45, 77, 89, 91, 146, 176, 185, 193, 194, 195];
pub(crate) const POOL_OFFICE: &[u8] = &[62, 81, 82, 212, 217];
pub(crate) const POOL_CI: &[u8] = &[20, 40];
pub(crate) const POOL_LAMBDA: &[u8] = &[15, 16];
