//! One series' samples: fixed-length chunks of `f64`, aligned to the global
//! tick index, with the stale marker for "absent at this tick". A sealed
//! chunk is Gorilla XOR-compressed ([`super::gorilla`]); one whose samples
//! all have the same bits (an anomaly level that stayed 0, a node that
//! stayed Ready, a series absent for an hour) is stored as that one value,
//! which is most of the history of a healthy cluster; consecutive
//! constant chunks of the same value share one slot (a run), so a series
//! that stayed 0 for the whole retention costs one slot, not one per
//! chunk (at 5,000 nodes, ~260,000 series × 12 chunks of 6 h).

use super::gorilla::{self, Encoder};
use std::collections::VecDeque;

/// Ticks per chunk: memory is released a chunk at a time, so retention
/// overshoots by at most this many ticks (32 min at a 30 s tick).
pub const CHUNK: usize = 64;

/// The marker of a tick at which the series was absent: Prometheus's
/// staleness marker, a NaN payload no arithmetic produces. Real NaN values
/// are stored as the canonical quiet NaN.
pub const STALE_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The stale marker as a value.
pub fn stale() -> f64 {
    f64::from_bits(STALE_BITS)
}

/// Whether `v` is the stale marker.
#[inline]
pub fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_BITS
}

/// A sealed chunk, or a run of identical constant ones.
enum Chunk {
    /// `n` (≥ 1) consecutive chunks whose every sample has these bits.
    Const(f64, u32),
    /// `CHUNK` samples, Gorilla-encoded.
    Xor(Box<[u64]>),
}

impl Chunk {
    /// Heap bytes of its stream (its slot is counted with the queue's).
    fn stream(&self) -> usize {
        match self {
            Chunk::Const(..) => 0,
            Chunk::Xor(w) => w.len() * 8,
        }
    }

    /// Chunks this slot stands for.
    fn chunks(&self) -> u64 {
        match self {
            Chunk::Const(_, n) => u64::from(*n),
            Chunk::Xor(_) => 1,
        }
    }
}

/// The samples of one series from its first retained chunk to now. One
/// per series (~260,000 at 5,000 nodes), so it is kept small: `u32` chunk
/// counts (2^32 chunks of 64 ticks is 8 years at a tick per millisecond),
/// and a queue whose first slot is allocated alone (a growing `VecDeque`
/// starts at 4 slots, 96 bytes, where a constant series needs 1).
pub struct Column {
    /// Chunk index (global tick / `CHUNK`) of `sealed[0]`'s first chunk.
    first_chunk: u32,
    /// Chunks in `sealed` (runs counted by their length).
    sealed_chunks: u32,
    /// Sealed chunks; its allocated slots are counted ([`Column::bytes`]).
    sealed: VecDeque<Chunk>,
    /// The chunk being filled; `head.len()` is the offset of the next tick.
    head: Encoder,
}

impl Column {
    /// A column whose first sample is at global tick `tick`; the earlier
    /// ticks of that chunk are stale.
    pub fn starting_at(tick: u64) -> Self {
        let mut head = Encoder::default();
        for _ in 0..tick % CHUNK as u64 {
            head.push(stale());
        }
        Column {
            first_chunk: u32::try_from(tick / CHUNK as u64).unwrap_or(u32::MAX),
            sealed_chunks: 0,
            sealed: VecDeque::new(),
            head,
        }
    }

    /// Appends the sample of the next tick; returns the change in heap
    /// bytes (the head's stream growing, a chunk being sealed).
    pub fn push(&mut self, v: f64) -> isize {
        // Real NaNs are canonicalised so they can never read as stale.
        let v = if v.is_nan() && !is_stale(v) {
            f64::NAN
        } else {
            v
        };
        let before = self.fixed_bytes() as isize;
        self.head.push(v);
        if self.head.len() < CHUNK {
            return self.fixed_bytes() as isize - before;
        }
        self.sealed_chunks += 1;
        let chunk = match self.head.constant() {
            Some(c) => {
                self.head = Encoder::default();
                if let Some(Chunk::Const(last, n)) = self.sealed.back_mut() {
                    if last.to_bits() == c.to_bits() && *n < u32::MAX {
                        *n += 1;
                        return self.fixed_bytes() as isize - before;
                    }
                }
                Chunk::Const(c, 1)
            }
            None => Chunk::Xor(self.head.finish()),
        };
        // A first slot is allocated alone: a constant series never needs
        // a second. Later ones grow as a `Vec` does, so a moving series
        // does not reallocate its queue at every chunk.
        if self.sealed.is_empty() {
            self.sealed.reserve_exact(1);
        }
        let stream = chunk.stream();
        self.sealed.push_back(chunk);
        // The head may keep room for the next chunk: counted too.
        (stream + self.fixed_bytes()) as isize - before
    }

    /// Appends the `CHUNK` samples of chunk `c` (global tick / `CHUNK`) to
    /// `out`: stale where the column has none.
    pub fn decode(&self, c: u64, out: &mut Vec<f64>) {
        let start = out.len();
        let sealed = u64::from(self.sealed_chunks);
        if let Some(mut i) = c.checked_sub(u64::from(self.first_chunk)) {
            if i == sealed {
                self.head.decode(out);
            } else if i < sealed {
                // Without runs a slot is a chunk: index it directly. With
                // runs, walk the slots (a series with runs has few: a run
                // stands for many chunks).
                let no_runs = self.sealed.len() as u64 == sealed;
                let skip = if no_runs { std::mem::take(&mut i) } else { 0 };
                for chunk in self.sealed.range(skip as usize..) {
                    if i >= chunk.chunks() {
                        i -= chunk.chunks();
                        continue;
                    }
                    match chunk {
                        Chunk::Const(v, _) => out.resize(start + CHUNK, *v),
                        Chunk::Xor(words) => gorilla::decode(words, CHUNK, out),
                    }
                    break;
                }
            }
        }
        out.resize(start + CHUNK, stale());
    }

    /// The sample at global tick `tick` (stale when out of range). Decodes
    /// the chunk: to read many samples, use [`super::Cursor`].
    pub fn get(&self, tick: u64) -> f64 {
        let mut buf = Vec::with_capacity(CHUNK);
        self.decode(tick / CHUNK as u64, &mut buf);
        buf[(tick % CHUNK as u64) as usize]
    }

    /// Drops sealed chunks that end at or before global tick `base`;
    /// returns the heap bytes released.
    pub fn drop_before(&mut self, base: u64) -> usize {
        let (mut freed, slots) = (0, self.slot_bytes());
        while (u64::from(self.first_chunk) + 1) * CHUNK as u64 <= base {
            match self.sealed.front_mut() {
                Some(Chunk::Const(_, n)) if *n > 1 => *n -= 1,
                Some(_) => freed += self.sealed.pop_front().map_or(0, |c| c.stream()),
                None => break,
            }
            self.sealed_chunks -= 1;
            self.first_chunk += 1;
        }
        // Mostly empty (a series that stopped moving, or left): give the
        // slots back. A few spare ones stay for the next chunks.
        if self.sealed.len() * 4 <= self.sealed.capacity() {
            self.sealed.shrink_to_fit();
        }
        freed + slots - self.slot_bytes()
    }

    /// Heap bytes counted for this column: the sealed chunks' streams, the
    /// queue's slots and the head.
    pub fn bytes(&self) -> usize {
        self.sealed.iter().map(Chunk::stream).sum::<usize>() + self.fixed_bytes()
    }

    /// Heap bytes of the queue's allocated slots.
    fn slot_bytes(&self) -> usize {
        self.sealed.capacity() * std::mem::size_of::<Chunk>()
    }

    /// Heap bytes besides the sealed streams: the queue's slots and the head.
    fn fixed_bytes(&self) -> usize {
        self.slot_bytes() + self.head.heap_bytes()
    }

    /// Bytes of the sealed chunks' streams alone and their sample count,
    /// for bytes per sample.
    pub fn stream_bytes(&self) -> (usize, usize) {
        let words: usize = self
            .sealed
            .iter()
            .map(|c| match c {
                Chunk::Const(..) => 0,
                Chunk::Xor(w) => w.len(),
            })
            .sum();
        (words * 8, self.sealed_chunks as usize * CHUNK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLOT: usize = std::mem::size_of::<Chunk>();

    #[test]
    fn constant_chunks_are_compact_and_reads_are_aligned() {
        let start = 3 * CHUNK as u64 + 10;
        let mut c = Column::starting_at(start);
        let mut grew = c.head.heap_bytes() as isize;
        for i in 0..(3 * CHUNK as u64) {
            let t = start + i;
            // First chunk constant 0 (after the stale prefix: not constant),
            // then varying, then constant again.
            let v = if t < 5 * CHUNK as u64 {
                (t % 3) as f64
            } else {
                0.0
            };
            grew += c.push(v);
        }
        assert_eq!(grew, c.bytes() as isize, "deltas add up");
        assert!(is_stale(c.get(start - 1)));
        assert_eq!(c.get(start), (start % 3) as f64);
        assert_eq!(c.get(start + 100), ((start + 100) % 3) as f64);
        assert_eq!(c.get(5 * CHUNK as u64 + 1), 0.0);
        assert!(is_stale(c.get(start + 3 * CHUNK as u64)), "future");
        // Two encoded chunks (the partial first and the varying one), one
        // constant; the head holds the rest of the constant run.
        assert_eq!(c.sealed.len(), 3);
        assert!(matches!(c.sealed[2], Chunk::Const(v, 1) if v == 0.0));
        let (stream, samples) = c.stream_bytes();
        assert_eq!(c.bytes(), stream + c.sealed.capacity() * SLOT);
        assert_eq!(samples, 3 * CHUNK);
        assert!(stream > 0 && stream < 2 * CHUNK * 8, "{stream}");
        let held = c.bytes();
        let freed = c.drop_before(5 * CHUNK as u64);
        assert_eq!(freed, held - c.bytes());
        assert_eq!(c.sealed.capacity(), 1, "a mostly empty queue shrinks");
        assert_eq!(c.bytes(), SLOT, "one constant slot left");
        assert!(is_stale(c.get(start)));
        assert_eq!(c.get(5 * CHUNK as u64 + 1), 0.0);
    }

    #[test]
    fn a_run_of_constant_chunks_takes_one_slot() {
        let mut c = Column::starting_at(0);
        let mut grew = c.head.heap_bytes() as isize;
        // 3 chunks of 0, one of 1, 4 of 0 again, then 2 varying ticks.
        let v = |t: u64| match t / CHUNK as u64 {
            3 => 1.0,
            8 => t as f64,
            _ => 0.0,
        };
        for t in 0..(8 * CHUNK as u64 + 2) {
            grew += c.push(v(t));
        }
        assert_eq!(grew, c.bytes() as isize, "deltas add up");
        assert_eq!(c.sealed.len(), 3, "runs 3 × 0, 1 × 1, 4 × 0");
        assert_eq!(c.stream_bytes(), (0, 8 * CHUNK));
        for t in 0..(8 * CHUNK as u64 + 2) {
            assert_eq!(c.get(t), v(t), "tick {t}");
        }
        assert!(is_stale(c.get(8 * CHUNK as u64 + 2)));
        // Dropping chunks shortens the run first; its slot goes last.
        assert_eq!(c.drop_before(2 * CHUNK as u64), 0);
        assert_eq!(c.get(2 * CHUNK as u64), 0.0);
        assert!(is_stale(c.get(CHUNK as u64)));
        let held = c.bytes();
        assert_eq!(c.drop_before(3 * CHUNK as u64), held - c.bytes());
        assert_eq!(c.sealed.len(), 2);
        assert_eq!(c.get(3 * CHUNK as u64 + 5), 1.0);
        assert_eq!(c.get(7 * CHUNK as u64), 0.0);
        assert_eq!(c.stream_bytes(), (0, 5 * CHUNK));
        let held = c.bytes();
        assert_eq!(c.drop_before(8 * CHUNK as u64), held - c.bytes());
        assert!(c.sealed.is_empty() && c.sealed.capacity() == 0);
        assert_eq!(c.get(8 * CHUNK as u64 + 1), v(8 * CHUNK as u64 + 1));
    }

    #[test]
    fn a_constant_series_costs_one_slot_and_no_open_stream() {
        let mut c = Column::starting_at(0);
        let mut grew = 0;
        for _ in 0..(5 * CHUNK + 7) {
            grew += c.push(1.0);
        }
        assert_eq!(c.head.heap_bytes(), 0, "the open constant chunk");
        assert_eq!((c.sealed.len(), c.sealed.capacity()), (1, 1));
        assert_eq!(c.bytes(), SLOT);
        assert_eq!(grew, SLOT as isize, "deltas add up");
        // The first change writes the open chunk's run, as if written all
        // along: every value reads back.
        grew += c.push(2.0);
        assert!(c.head.heap_bytes() > 0);
        assert_eq!(grew, c.bytes() as isize);
        assert_eq!(c.get(5 * CHUNK as u64 + 6), 1.0);
        assert_eq!(c.get(5 * CHUNK as u64 + 7), 2.0);
        assert_eq!(c.get(3), 1.0);
        // A record of ~100 bytes, not the 144 of a u64-counted column
        // with a 64-bit window (each byte is 0.25 MiB at 260,000 series).
        let (column, slot) = (std::mem::size_of::<Column>(), SLOT);
        eprintln!("Column {column} B, Chunk {slot} B");
        assert!(column <= 80 && slot <= 24, "{column} {slot}");
    }

    #[test]
    fn nan_is_a_value_and_never_stale() {
        let mut c = Column::starting_at(0);
        c.push(f64::NAN);
        c.push(stale());
        c.push(f64::from_bits(0x7ff8_dead_0000_0001));
        assert!(c.get(0).is_nan() && !is_stale(c.get(0)));
        assert!(is_stale(c.get(1)));
        assert_eq!(c.get(2).to_bits(), f64::NAN.to_bits(), "canonical");
    }

    #[test]
    fn chunk_boundaries_keep_every_value_exact() {
        let values = |t: u64| match t % 5 {
            0 => 123_456_792.0,
            1 => -0.0,
            2 => 9.988e307,
            3 => f64::from_bits(1),
            _ => t as f64 / 3.0,
        };
        let mut c = Column::starting_at(CHUNK as u64 - 1);
        for t in (CHUNK as u64 - 1)..(4 * CHUNK as u64 + 1) {
            c.push(values(t));
        }
        for t in (CHUNK as u64 - 1)..(4 * CHUNK as u64 + 1) {
            assert_eq!(c.get(t).to_bits(), values(t).to_bits(), "tick {t}");
        }
        let mut out = Vec::new();
        c.decode(4, &mut out);
        assert_eq!(out[0].to_bits(), values(4 * CHUNK as u64).to_bits());
        assert!(out[1..].iter().all(|v| is_stale(*v)), "head then stale");
        assert!(is_stale(c.get(0)) && is_stale(c.get(9 * CHUNK as u64)));
    }
}
