//! One series' samples: fixed-length chunks of `f32`, aligned to the global
//! tick index, with the stale marker for "absent at this tick". A sealed
//! chunk whose samples are all the same bits (an anomaly level that stayed
//! 0, a node that stayed Ready, a series absent for an hour) is stored as
//! that one value, which is most of the history of a healthy cluster.

use std::collections::VecDeque;

/// Ticks per chunk: memory is released a chunk at a time, so retention
/// overshoots by at most this many ticks (32 min at a 30 s tick).
pub const CHUNK: usize = 64;

/// The marker of a tick at which the series was absent (Prometheus's
/// staleness marker plays the same role). A NaN payload no arithmetic
/// produces: real NaN values are stored as the canonical quiet NaN.
pub const STALE_BITS: u32 = 0x7f80_0002;

/// The stale marker as a value.
pub fn stale() -> f32 {
    f32::from_bits(STALE_BITS)
}

/// Whether `v` is the stale marker.
#[inline]
pub fn is_stale(v: f32) -> bool {
    v.to_bits() == STALE_BITS
}

/// A sealed chunk.
enum Chunk {
    /// Every sample has these bits.
    Const(f32),
    /// `CHUNK` samples.
    Dense(Box<[f32]>),
}

/// Heap bytes of a dense chunk (what the memory bound counts).
const DENSE_BYTES: usize = CHUNK * 4;

/// The samples of one series from its first retained chunk to now.
pub struct Column {
    /// Chunk index (global tick / `CHUNK`) of `sealed[0]`.
    first_chunk: u64,
    sealed: VecDeque<Chunk>,
    /// The chunk being filled; `head.len()` is the offset of the next tick.
    head: Vec<f32>,
}

impl Column {
    /// A column whose first sample is at global tick `tick`; the earlier
    /// ticks of that chunk are stale.
    pub fn starting_at(tick: u64) -> Self {
        let off = (tick % CHUNK as u64) as usize;
        let mut head = Vec::with_capacity(CHUNK);
        head.resize(off, stale());
        Column {
            first_chunk: tick / CHUNK as u64,
            sealed: VecDeque::new(),
            head,
        }
    }

    /// Appends the sample of the next tick; returns the change in heap
    /// bytes (sealing a chunk may shrink it).
    pub fn push(&mut self, v: f32) -> isize {
        // Real NaNs are canonicalised so they can never read as stale.
        let v = if v.is_nan() && !is_stale(v) {
            f32::NAN
        } else {
            v
        };
        self.head.push(v);
        if self.head.len() < CHUNK {
            return 0;
        }
        let first = self.head[0].to_bits();
        let chunk = if self.head.iter().all(|x| x.to_bits() == first) {
            Chunk::Const(self.head[0])
        } else {
            Chunk::Dense(std::mem::take(&mut self.head).into_boxed_slice())
        };
        let delta = match chunk {
            Chunk::Const(_) => 0,
            Chunk::Dense(_) => DENSE_BYTES as isize,
        };
        self.sealed.push_back(chunk);
        self.head.clear();
        if self.head.capacity() < CHUNK {
            self.head.reserve_exact(CHUNK);
        }
        delta
    }

    /// The sample at global tick `tick` (stale when out of range).
    #[inline]
    pub fn get(&self, tick: u64) -> f32 {
        let c = tick / CHUNK as u64;
        if c < self.first_chunk {
            return stale();
        }
        let i = (c - self.first_chunk) as usize;
        let off = (tick % CHUNK as u64) as usize;
        match self.sealed.get(i) {
            Some(Chunk::Const(v)) => *v,
            Some(Chunk::Dense(vs)) => vs[off],
            None if i == self.sealed.len() => self.head.get(off).copied().unwrap_or(stale()),
            None => stale(),
        }
    }

    /// Drops sealed chunks that end at or before global tick `base`;
    /// returns the heap bytes released.
    pub fn drop_before(&mut self, base: u64) -> usize {
        let mut freed = 0;
        while (self.first_chunk + 1) * CHUNK as u64 <= base {
            match self.sealed.pop_front() {
                Some(Chunk::Dense(_)) => freed += DENSE_BYTES,
                Some(Chunk::Const(_)) => {}
                None => break,
            }
            self.first_chunk += 1;
        }
        freed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_chunks_are_compact_and_reads_are_aligned() {
        let start = 3 * CHUNK as u64 + 10;
        let mut c = Column::starting_at(start);
        let mut grew = 0;
        for i in 0..(3 * CHUNK as u64) {
            let t = start + i;
            // First chunk constant 0 (after the stale prefix: not constant),
            // then varying, then constant again.
            let v = if t < 5 * CHUNK as u64 {
                (t % 3) as f32
            } else {
                0.0
            };
            grew += c.push(v);
        }
        assert!(is_stale(c.get(start - 1)));
        assert_eq!(c.get(start), (start % 3) as f32);
        assert_eq!(c.get(start + 100), ((start + 100) % 3) as f32);
        assert_eq!(c.get(5 * CHUNK as u64 + 1), 0.0);
        assert!(is_stale(c.get(start + 3 * CHUNK as u64)), "future");
        // Two dense chunks (the partial first and the varying one).
        assert_eq!(grew, 2 * DENSE_BYTES as isize);
        assert_eq!(c.drop_before(5 * CHUNK as u64), 2 * DENSE_BYTES);
        assert!(is_stale(c.get(start)));
        assert_eq!(c.get(5 * CHUNK as u64 + 1), 0.0);
    }

    #[test]
    fn nan_is_a_value_and_never_stale() {
        let mut c = Column::starting_at(0);
        c.push(f32::NAN);
        c.push(stale());
        assert!(c.get(0).is_nan() && !is_stale(c.get(0)));
        assert!(is_stale(c.get(1)));
    }
}
