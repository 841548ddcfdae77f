//! A [`Tsdb`] filled as a replay goes rather than all at once: series are
//! known from the start (so query plans match as before), samples are
//! appended in time order and dropped once no window can reach them.
//! Evaluation is unchanged: windows only ever look at `[at - W, at]`, so
//! samples outside it, dropped or not yet read, do not change a result.

use super::plan::Plan;
use super::{Stored, Tsdb};
use crate::catalog::MetricQuery;
use crate::scenario::Family;

impl Tsdb {
    /// A Tsdb with the series of `families` and no samples yet, and per
    /// input series (families in order, then their series) the index to
    /// [`Tsdb::push`] its samples to. `None` when two input series are one
    /// to Prometheus (labels differing only by empty values): merging their
    /// samples needs them all, so such a file is read whole.
    pub fn for_stream(mut families: Vec<Family>) -> Option<(Tsdb, Vec<usize>)> {
        for s in families.iter_mut().flat_map(|f| f.series.iter_mut()) {
            s.samples = Vec::new();
        }
        let (db, origin, merged) = Tsdb::build(families);
        (!merged).then_some((db, origin))
    }

    /// Appends a sample to series `series`; samples come in time order per
    /// series (a sample not after the last is dropped, as the file's
    /// parser would have refused it).
    pub fn push(&mut self, series: usize, ts: i64, v: f64) {
        let Some(s) = self.series.get_mut(series) else {
            return;
        };
        if s.ts.last().is_some_and(|&last| ts <= last) {
            return;
        }
        if s.ts.len() == s.ts.capacity() {
            // Grow by a quarter rather than double: a window holds about
            // the same count all along, and doubling would leave up to
            // half of every series' buffer unused.
            let more = s.ts.len() / 4 + 4;
            s.ts.reserve_exact(more);
            s.vs.reserve_exact(more);
        }
        s.ts.push(ts);
        s.vs.push(v);
    }

    /// Drops every sample older than `ts` (ms). Plans' search hints may
    /// then point past the right place, which only costs one binary search.
    pub fn forget_before(&mut self, ts: i64) {
        for s in &mut self.series {
            forget(s, ts);
        }
    }

    /// Per series, how far back (ms) any of `queries` looks at it: the
    /// widest `rate` window or instant lookback of the queries matching
    /// it, 0 for a series none reads. A replay keeps only that much of
    /// each series: most are read by instant selectors (5 minutes) even
    /// when a few queries take an hour's `rate`.
    pub fn reach<'a>(&self, queries: impl IntoIterator<Item = &'a MetricQuery>) -> Vec<i64> {
        let mut reach = vec![0; self.series.len()];
        for q in queries {
            let plan = Plan::build(self, q);
            for (s, back) in plan
                .num
                .reach()
                .chain(plan.den.iter().flat_map(|d| d.reach()))
            {
                if let Some(r) = reach.get_mut(s) {
                    *r = (*r).max(back);
                }
            }
        }
        reach
    }

    /// Drops, from each series `i`, the samples older than `at - reach[i]`
    /// (ms); series beyond `reach` are left alone.
    pub fn forget_each(&mut self, at: i64, reach: &[i64]) {
        for (s, &back) in self.series.iter_mut().zip(reach) {
            forget(s, at.saturating_sub(back));
        }
    }

    /// Samples held, over all series.
    pub fn samples_held(&self) -> usize {
        self.series.iter().map(|s| s.ts.len()).sum()
    }
}

fn forget(s: &mut Stored, before: i64) {
    let n = s.ts.partition_point(|&t| t < before);
    if n > 0 {
        s.ts.drain(..n);
        s.vs.drain(..n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{MetricType, Series};

    fn family(name: &str, series: &[&[(&str, &str)]]) -> Family {
        Family {
            name: name.into(),
            kind: MetricType::Gauge,
            help: String::new(),
            series: series
                .iter()
                .map(|l| Series {
                    labels: l
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    samples: vec![(1, 1.0)],
                })
                .collect(),
        }
    }

    #[test]
    fn streamed_series_fill_and_drain_in_time_order() {
        let fams = vec![
            family("b", &[&[("n", "2")], &[("n", "1")]]),
            family("a", &[&[]]),
        ];
        let (mut db, stored) = Tsdb::for_stream(fams).expect("no merge");
        assert_eq!(db.samples_held(), 0, "samples of the families are not kept");
        for t in 0..10 {
            for &s in &stored {
                db.push(s, t * 1000, t as f64);
            }
        }
        db.push(stored[0], 5000, 0.0); // out of order: dropped
        assert_eq!(db.samples_held(), 30);
        db.forget_before(7000);
        assert_eq!(db.samples_held(), 9);
        // Labels differing only by an empty value are one series.
        let fams = vec![family("c", &[&[("n", "")], &[]])];
        assert!(Tsdb::for_stream(fams).is_none());
    }
}
