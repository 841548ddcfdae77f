//! String interning and the small, fast hasher the history store keys its
//! maps with. Every label name and value is stored once and referred to by
//! a `u32`, so a series' label set is a few integers, queries compare
//! integers instead of strings, and the evaluator never copies a string.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A label set as interned `(name, value)` pairs, sorted by label name
/// (the order Prometheus prints and sorts series in), `__name__` included.
pub type LabelIds = Box<[(u32, u32)]>;

/// The multiply-rotate hash of rustc's `FxHasher`: the keys here are short
/// strings and integer slices produced by nodewatch itself, so the DoS
/// resistance of SipHash buys nothing and its cost shows at 5,000 nodes.
#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // The multiply leaves the low bits depending on the low bits of the
        // last word only (for a label-set key: the same label name every
        // time), and hashbrown picks buckets by the low bits: without this
        // final mix (splitmix64's) most keys collide.
        let mut z = self.hash;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// A `HashMap` with [`FxHasher`].
pub type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Strings by id and ids by string. Strings are never removed: the set of
/// label names and values nodewatch produces is bounded by nodes, signals
/// and rules, and dropping ids would invalidate every stored label set.
#[derive(Default)]
pub struct Interner {
    ids: FxMap<Box<str>, u32>,
    strings: Vec<Box<str>>,
    bytes: usize,
}

impl Interner {
    /// The id of `s`, adding it when new.
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(id) = self.ids.get(s) {
            return *id;
        }
        let id = self.strings.len() as u32;
        self.strings.push(s.into());
        self.ids.insert(s.into(), id);
        self.bytes += 2 * s.len() + 48;
        id
    }

    /// The id of `s` if it was ever interned.
    pub fn get(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }

    /// The string of `id` (empty for an unknown id, which only a bug makes).
    pub fn resolve(&self, id: u32) -> &str {
        self.strings.get(id as usize).map_or("", |s| s)
    }

    /// Approximate heap bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Number of strings.
    pub fn len(&self) -> usize {
        self.strings.len()
    }

    /// Whether no string was interned.
    pub fn is_empty(&self) -> bool {
        self.strings.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_stable_and_resolvable() {
        let mut i = Interner::default();
        let a = i.intern("node");
        let b = i.intern("zone");
        assert_ne!(a, b);
        assert_eq!(i.intern("node"), a);
        assert_eq!(i.resolve(b), "zone");
        assert_eq!(i.get("pool"), None);
        assert_eq!(i.resolve(99), "");
        assert_eq!(i.len(), 2);
    }
}
