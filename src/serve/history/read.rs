//! Reading the history: its size, its time axis and one series at a time
//! through a [`Cursor`] that decodes each chunk once. What the query
//! evaluator, `/metrics` and the memory bound read; writing (one tick's
//! values, retention) is `mod.rs`.

use super::{is_stale, Column, History, Series, CHUNK, RECORD, SERIES_OVERHEAD};

impl History {
    /// Estimated heap bytes: chunks (compressed streams, their slots and
    /// the open chunks), the series table's slots (those of removed series
    /// too, until reused; not the unused rest of the last page, at most a
    /// page), per-series overhead and interned strings.
    pub fn bytes(&self) -> usize {
        self.chunk_bytes
            + self.series.len() * RECORD
            + self.live * SERIES_OVERHEAD
            + self.strings.bytes()
    }

    /// Bytes of the sealed chunks' compressed streams and the samples
    /// those chunks hold (constant chunks included, at 0 bytes): bytes per
    /// sample is the first over the second.
    pub fn stream_bytes(&self) -> (usize, usize) {
        self.series
            .iter()
            .map(|(_, s)| s.column.stream_bytes())
            .fold((0, 0), |(b, n), (b2, n2)| (b + b2, n + n2))
    }

    /// Number of stored series.
    pub fn series_count(&self) -> usize {
        self.live
    }

    /// Number of retained ticks.
    pub fn ticks(&self) -> usize {
        self.times.len()
    }

    /// Times of the oldest and newest retained ticks (ms).
    pub fn time_range(&self) -> Option<(i64, i64)> {
        Some((*self.times.front()?, *self.times.back()?))
    }

    /// The newest global tick with time ≤ `t`.
    pub fn tick_at_or_before(&self, t: i64) -> Option<u64> {
        let n = self.times.partition_point(|x| *x <= t);
        (n > 0).then(|| self.base + n as u64 - 1)
    }

    /// Global ticks with `lo ≤ time ≤ hi`, as a half-open range.
    pub fn ticks_between(&self, lo: i64, hi: i64) -> std::ops::Range<u64> {
        let a = self.times.partition_point(|x| *x < lo) as u64;
        let b = self.times.partition_point(|x| *x <= hi) as u64;
        (self.base + a)..(self.base + b.max(a))
    }

    /// Time (ms) of global tick `tick`, which must be retained.
    pub fn time_of(&self, tick: u64) -> i64 {
        let i = tick.saturating_sub(self.base) as usize;
        self.times.get(i).copied().unwrap_or(i64::MIN)
    }

    /// The series `sid`, if it exists.
    pub fn series(&self, sid: u32) -> Option<&Series> {
        self.series.get(sid)
    }

    /// Sample of `sid` at global tick `tick`; `None` when absent. Decodes
    /// a chunk per call: to read many samples, use [`History::cursor`].
    pub fn value(&self, sid: u32, tick: u64) -> Option<f64> {
        let s = self.series.get(sid)?;
        let v = s.column.get(tick);
        (!is_stale(v)).then_some(v)
    }

    /// A reader of series' samples that decodes each chunk once.
    pub fn cursor(&self) -> Cursor<'_> {
        Cursor {
            h: self,
            column: None,
            first: 0,
            buf: Vec::new(),
        }
    }

    /// Ids of the series named `name` (by interned id).
    pub fn postings(&self, name: u32) -> &[u32] {
        self.by_name.get(&name).map_or(&[], Vec::as_slice)
    }

    /// Ids of all series.
    pub fn all_ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.series.iter().map(|(id, _)| id)
    }

    /// Whether `sid` had a sample between global ticks `lo` and `hi`
    /// (inclusive), judged by its first and last present ticks.
    pub fn overlaps(&self, sid: u32, lo: u64, hi: u64) -> bool {
        self.series(sid)
            .is_some_and(|s| s.first_present <= hi && s.last_present >= lo)
    }
}

/// Reads one series at a time ([`Cursor::series`]), sample by sample
/// ([`Cursor::get`]), decoding each chunk once while the ticks asked for
/// move forward (a range query's steps, the sliding windows of `rate`):
/// decoded chunks are kept while each next one is contiguous, and dropped
/// when a read jumps elsewhere. The buffer is reused from series to
/// series; it holds at most the retained history of one series.
pub struct Cursor<'h> {
    h: &'h History,
    column: Option<&'h Column>,
    /// Chunk index (global tick / `CHUNK`) of `buf[0]`.
    first: u64,
    buf: Vec<f64>,
}

impl Cursor<'_> {
    /// Reads series `sid` from now on (nothing if it does not exist).
    pub fn series(&mut self, sid: u32) {
        self.column = self.h.series(sid).map(|s| &s.column);
        self.buf.clear();
    }

    /// The current series' sample at global tick `tick`; `None` when absent.
    #[inline]
    pub fn get(&mut self, tick: u64) -> Option<f64> {
        let column = self.column?;
        let c = tick / CHUNK as u64;
        let have = (self.buf.len() / CHUNK) as u64;
        if c < self.first || c >= self.first + have {
            if have == 0 || c != self.first + have {
                self.buf.clear();
                self.first = c;
            }
            column.decode(c, &mut self.buf);
        }
        let v = self.buf[(tick - self.first * CHUNK as u64) as usize];
        (!is_stale(v)).then_some(v)
    }
}
