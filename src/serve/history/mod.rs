//! The bounded in-memory history of nodewatch's own series, which the
//! Prometheus-compatible query API reads (so Grafana's built-in Prometheus
//! datasource works with no plugin and no Prometheus in between).
//!
//! Layout: one shared timeline of tick times, and per series a [`Column`]
//! of `f64` samples aligned to it, one sample per tick (the stale marker
//! where the series was absent, exactly where Prometheus would have written
//! a staleness marker when scraping `/metrics` every tick), in Gorilla
//! XOR-compressed chunks read through a [`Cursor`]. Label sets are
//! interned. The series live in a table of fixed pages (`pages.rs`), so
//! growing it never doubles or copies it. Two bounds hold memory:
//! `retention` (ticks older than that are dropped, a chunk of [`CHUNK`]
//! ticks at a time) and `max_bytes` (when the estimate exceeds it, the
//! oldest chunks go first, shortening retention).

mod cache;
mod chunk;
mod gorilla;
mod ingest;
mod intern;
mod pages;
mod read;

pub use chunk::{is_stale, CHUNK};
pub use ingest::{record, record_with, ExtraSample, SERIES};
pub use intern::{FxMap, Interner, LabelIds};
pub use read::Cursor;

use chunk::Column;
use std::collections::VecDeque;

/// Heap bytes a series costs besides its chunks (which [`Column`] counts,
/// the open one included) and its record in the series table (counted
/// per id handed out, see [`History::bytes`]): the label set (~4 pairs,
/// 32 bytes and malloc's 16), its index entry (~20 with the hash table's
/// spare room), and ~28 for its `by_name` posting, its `pending` sample
/// and the node cache's id. An estimate used for the memory bound,
/// checked against real allocations in the benchmark.
const SERIES_OVERHEAD: usize = 96;

/// Bytes of a slot of the series table.
const RECORD: usize = std::mem::size_of::<Option<Series>>();

/// One stored series.
pub struct Series {
    /// Interned label set, sorted by name, `__name__` included.
    pub labels: LabelIds,
    column: Column,
    /// Global ticks of the first and last sample that was not stale.
    first_present: u64,
    last_present: u64,
}

/// The store. Writes come from [`record`] once per published snapshot;
/// reads from the query API, under the caller's lock.
pub struct History {
    /// Label names and values.
    pub strings: Interner,
    retention_ms: i64,
    max_bytes: usize,
    times: VecDeque<i64>,
    /// Global tick index of `times[0]`.
    base: u64,
    /// The series by id, in fixed pages (see `pages.rs`), with the free
    /// list of removed series' ids.
    series: pages::Pages<Series>,
    /// Series ids by a 64-bit hash of the flat label set ([`key_hash`]):
    /// the label sets themselves are stored once, in the series (a copy
    /// as the map's key cost ~60 bytes a series, 15 MiB at 5,000 nodes).
    index: FxMap<u64, u32>,
    /// The rare series whose hash another series had first.
    collided: FxMap<Box<[u32]>, u32>,
    by_name: FxMap<u32, Vec<u32>>,
    /// This tick's value per series id (stale until set).
    pending: Vec<f64>,
    in_tick: bool,
    key: Vec<u32>,
    ids: Vec<(u32, u32)>,
    /// Heap bytes of every column's chunks (see [`Column::bytes`]).
    chunk_bytes: usize,
    live: usize,
    /// Series ids of the per-node series, kept by [`record`] across ticks.
    cache: cache::NodeCache,
}

impl History {
    /// An empty store keeping `retention_ms` of ticks within `max_bytes`.
    pub fn new(retention_ms: i64, max_bytes: usize) -> Self {
        History {
            strings: Interner::default(),
            retention_ms: retention_ms.max(0),
            max_bytes,
            times: VecDeque::new(),
            base: 0,
            series: pages::Pages::default(),
            index: FxMap::default(),
            collided: FxMap::default(),
            by_name: FxMap::default(),
            pending: Vec::new(),
            in_tick: false,
            key: Vec::new(),
            ids: Vec::new(),
            chunk_bytes: 0,
            live: 0,
            cache: cache::NodeCache::default(),
        }
    }

    /// Starts the tick at `at` (ms). A time not after the last tick is
    /// ignored (returns false): samples must move forward in time.
    pub fn begin(&mut self, at: i64) -> bool {
        if self.times.back().is_some_and(|last| at <= *last) {
            return false;
        }
        self.pending.clear();
        self.pending.resize(self.series.len(), chunk::stale());
        self.times.push_back(at);
        self.in_tick = true;
        true
    }

    /// Sets a sample of the current tick. `labels` must include `__name__`;
    /// a label set given twice in one tick keeps its first value.
    pub fn set(&mut self, labels: &[(&str, &str)], value: f64) {
        if let Some(sid) = self.series_id(labels) {
            self.put(sid, value);
        }
    }

    /// The id of the series `labels` (as for [`History::set`]), created
    /// when new; `None` outside a tick.
    fn series_id(&mut self, labels: &[(&str, &str)]) -> Option<u32> {
        if !self.in_tick {
            return None;
        }
        let mut ids = std::mem::take(&mut self.ids);
        ids.clear();
        for (n, v) in labels {
            // An empty value is the same as no label, as in Prometheus.
            if !v.is_empty() {
                ids.push((self.strings.intern(n), self.strings.intern(v)));
            }
        }
        let strings = &self.strings;
        ids.sort_by(|a, b| strings.resolve(a.0).cmp(strings.resolve(b.0)));
        ids.dedup_by_key(|p| p.0);
        self.key.clear();
        self.key.extend(ids.iter().flat_map(|(n, v)| [*n, *v]));
        let sid = match self.lookup(&self.key) {
            Some(sid) => sid,
            None => self.create(ids.as_slice().into()),
        };
        self.ids = ids;
        Some(sid)
    }

    /// Sets the current tick's sample of series `sid`, unless it was set
    /// already this tick.
    fn put(&mut self, sid: u32, value: f64) {
        if let Some(slot) = self.pending.get_mut(sid as usize) {
            if self.in_tick && chunk::is_stale(*slot) {
                // A NaN never reads as the stale marker.
                *slot = if value.is_nan() { f64::NAN } else { value };
            }
        }
    }

    fn create(&mut self, labels: LabelIds) -> u32 {
        let tick = self.now_tick();
        let series = Series {
            labels,
            column: Column::starting_at(tick),
            first_present: tick,
            last_present: tick,
        };
        self.chunk_bytes += series.column.bytes();
        let name = self.name_of(&series.labels);
        let key: Box<[u32]> = series.labels.iter().flat_map(|(n, v)| [*n, *v]).collect();
        let sid = self.series.insert(series);
        // A new id is one past `pending`'s end; a reused one is in it.
        self.pending.resize(self.series.len(), chunk::stale());
        self.pending[sid as usize] = chunk::stale();
        match self.index.entry(key_hash(&key)) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(sid);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.collided.insert(key, sid);
            }
        }
        if let Some(n) = name {
            self.by_name.entry(n).or_default().push(sid);
        }
        self.live += 1;
        sid
    }

    /// Ends the tick: appends every series' sample, then applies the
    /// retention and memory bounds.
    pub fn end(&mut self) {
        if !self.in_tick {
            return;
        }
        self.in_tick = false;
        let tick = self.now_tick();
        for (sid, s) in self.series.iter_mut() {
            let v = self.pending[sid as usize];
            if !chunk::is_stale(v) {
                s.last_present = tick;
            }
            let delta = s.column.push(v);
            self.chunk_bytes = (self.chunk_bytes as isize + delta).max(0) as usize;
        }
        let newest = *self.times.back().unwrap_or(&0);
        let mut base = self.base;
        while self.times.len() > 1 && self.times[0] < newest - self.retention_ms {
            self.times.pop_front();
            base += 1;
        }
        // Over the byte budget: give up whole chunks of the oldest ticks,
        // never the chunk being filled.
        while self.bytes() > self.max_bytes {
            let next = (base / CHUNK as u64 + 1) * CHUNK as u64;
            if next > tick - tick % CHUNK as u64 {
                break;
            }
            let drop = (next - base) as usize;
            self.times.drain(..drop.min(self.times.len()));
            base = next;
            self.release(base);
        }
        if base != self.base || tick.is_multiple_of(CHUNK as u64) {
            self.release(base);
        }
    }

    /// Drops chunks and series that lie entirely before global tick `base`.
    fn release(&mut self, base: u64) {
        self.base = base;
        let mut gone = Vec::new();
        for (sid, s) in self.series.iter_mut() {
            self.chunk_bytes = self.chunk_bytes.saturating_sub(s.column.drop_before(base));
            if s.last_present < base {
                gone.push(sid);
            }
        }
        // Many series of one metric often go together (nodes leaving): each
        // name's list is filtered once, not once per series.
        let mut names = std::collections::HashSet::new();
        for &sid in &gone {
            let Some(s) = self.series.remove(sid) else {
                continue;
            };
            self.chunk_bytes = self.chunk_bytes.saturating_sub(s.column.bytes());
            let key: Box<[u32]> = s.labels.iter().flat_map(|(n, v)| [*n, *v]).collect();
            let h = key_hash(&key);
            if self.index.get(&h) == Some(&sid) {
                self.index.remove(&h);
            } else {
                self.collided.remove(&key);
            }
            names.extend(self.name_of(&s.labels));
            self.live -= 1;
        }
        if !gone.is_empty() {
            let gone_set: std::collections::HashSet<u32> = gone.iter().copied().collect();
            for n in names {
                if let Some(list) = self.by_name.get_mut(&n) {
                    list.retain(|x| !gone_set.contains(x));
                }
            }
            self.by_name.retain(|_, l| !l.is_empty());
        }
        self.cache.forget(&gone);
    }

    /// The id of the series whose flat label set is `key`.
    fn lookup(&self, key: &[u32]) -> Option<u32> {
        if let Some(&sid) = self.index.get(&key_hash(key)) {
            let same = self.series(sid).is_some_and(|s| {
                s.labels.len() * 2 == key.len()
                    && s.labels
                        .iter()
                        .flat_map(|(n, v)| [*n, *v])
                        .eq(key.iter().copied())
            });
            if same {
                return Some(sid);
            }
        }
        self.collided.get(key).copied()
    }

    /// The interned metric name of a label set.
    fn name_of(&self, labels: &[(u32, u32)]) -> Option<u32> {
        let n = self.strings.get("__name__")?;
        labels.iter().find(|(k, _)| *k == n).map(|(_, v)| *v)
    }

    /// Global index of the newest tick (0 before the first).
    fn now_tick(&self) -> u64 {
        (self.base + self.times.len() as u64).saturating_sub(1)
    }
}

/// The index's hash of a flat label set: SipHash, so label values from
/// the cluster cannot be chosen to collide cheaply (a collision is still
/// answered right, through `collided`).
fn key_hash(key: &[u32]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    // Tests keep 2 bits, so every test of the store goes through the
    // collision path too.
    if cfg!(test) {
        return h.finish() & 3;
    }
    h.finish()
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History")
            .field("series", &self.live)
            .field("ticks", &self.times.len())
            .field("bytes", &self.bytes())
            .finish()
    }
}

#[cfg(test)]
mod tests;
