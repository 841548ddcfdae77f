//! Records gauge and counter series the way Prometheus would have scraped
//! them: one sample per scrape interval per target, each target at its own
//! fixed offset within the interval, counters cumulative with resets.

use crate::scenario::rng::hash_key;
use crate::scenario::{Family, MetricType, Series};
use crate::time::{Duration, Timestamp};
use std::collections::HashMap;

/// What a counter does between two scrapes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CounterStep {
    /// Grows by this much (negative values are clamped to 0).
    Add(f64),
    /// The process restarted: the counter starts again from this value.
    Reset(f64),
}

/// `v` rounded to `decimals` decimal places. Counters are stored at
/// millisecond-ish precision so `metrics.om` stays small (shortest
/// round-trip formatting of an unrounded sum prints 17 digits); rounding a
/// non-decreasing sequence keeps it non-decreasing.
pub fn round_to(v: f64, decimals: i32) -> f64 {
    let k = 10f64.powi(decimals);
    (v * k).round() / k
}

/// Families and series being recorded.
#[derive(Debug)]
pub struct MetricRecorder {
    seed: u64,
    interval: Duration,
    families: Vec<Family>,
    by_name: HashMap<String, usize>,
    by_labels: HashMap<(usize, Vec<(String, String)>), usize>,
}

impl MetricRecorder {
    /// A recorder scraping every `interval`, with offsets derived from `seed`.
    pub fn new(seed: u64, interval: Duration) -> Self {
        MetricRecorder {
            seed,
            interval,
            families: Vec::new(),
            by_name: HashMap::new(),
            by_labels: HashMap::new(),
        }
    }

    /// The scrape interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The fixed offset of `target`'s scrapes within each interval.
    ///
    /// Whole seconds on purpose: Prometheus' OpenMetrics parser truncates
    /// `seconds * 1000`, so a fractional timestamp can land 1 ms early in a
    /// backfilled TSDB and the embedded evaluator and Prometheus would then
    /// disagree. Offsets on a multiple of 15 s are skipped so that samples
    /// never sit exactly on a window edge of a 15 s / 30 s evaluation grid.
    pub fn offset(&self, target: &str) -> Duration {
        let secs = (self.interval.0 / 1000).max(2);
        let mut s = 1 + (hash_key(self.seed, target) % (secs as u64 - 1)) as i64;
        if s % 15 == 0 {
            s += 1;
        }
        Duration(s.min(secs - 1) * 1000)
    }

    /// `target`'s scrape times within `[from, to]`, on the epoch-aligned
    /// grid `k * interval + offset`.
    pub fn scrapes(&self, target: &str, from: Timestamp, to: Timestamp) -> Vec<Timestamp> {
        let (step, off) = (self.interval.0.max(1), self.offset(target).0);
        let mut t = (from.0 - off).div_euclid(step) * step + off;
        if t < from.0 {
            t += step;
        }
        let mut out = Vec::with_capacity(((to.0 - t).max(0) / step + 1) as usize);
        while t <= to.0 {
            out.push(Timestamp(t));
            t += step;
        }
        out
    }

    /// The series for `name` and `labels`, created (with `help`) on first use.
    fn series(
        &mut self,
        name: &str,
        kind: MetricType,
        help: &str,
        labels: &[(&str, &str)],
    ) -> &mut Series {
        let fam = match self.by_name.get(name) {
            Some(&i) => i,
            None => {
                self.families.push(Family {
                    name: name.to_string(),
                    kind,
                    help: help.to_string(),
                    series: Vec::new(),
                });
                self.by_name
                    .insert(name.to_string(), self.families.len() - 1);
                self.families.len() - 1
            }
        };
        let mut owned: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        owned.sort();
        let family = &mut self.families[fam];
        let idx = *self
            .by_labels
            .entry((fam, owned.clone()))
            .or_insert_with(|| {
                family.series.push(Series {
                    labels: owned,
                    samples: Vec::new(),
                });
                family.series.len() - 1
            });
        &mut family.series[idx]
    }

    /// Records a gauge: `value(t)` at each scrape of `target` in `[from, to]`.
    #[allow(clippy::too_many_arguments)] // Mirrors a series definition; a struct would only rename them.
    pub fn gauge(
        &mut self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        target: &str,
        from: Timestamp,
        to: Timestamp,
        mut value: impl FnMut(Timestamp) -> f64,
    ) {
        let times = self.scrapes(target, from, to);
        let series = self.series(name, MetricType::Gauge, help, labels);
        series
            .samples
            .extend(times.into_iter().map(|t| (t.0, value(t))));
    }

    /// Records a counter starting at `initial` at the first scrape in
    /// `[from, to]`; `step(prev, now)` says what happened between scrapes.
    /// Values are rounded to 3 decimals ([`round_to`]).
    #[allow(clippy::too_many_arguments)] // As for `gauge`.
    pub fn counter(
        &mut self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        target: &str,
        from: Timestamp,
        to: Timestamp,
        initial: f64,
        mut step: impl FnMut(Timestamp, Timestamp) -> CounterStep,
    ) {
        let times = self.scrapes(target, from, to);
        let series = self.series(name, MetricType::Counter, help, labels);
        let mut value = initial.max(0.0);
        let mut prev: Option<Timestamp> = None;
        for t in times {
            if let Some(p) = prev {
                value = match step(p, t) {
                    CounterStep::Add(d) => value + d.max(0.0),
                    CounterStep::Reset(v) => v.max(0.0),
                };
            }
            series.samples.push((t.0, round_to(value, 3)));
            prev = Some(t);
        }
    }

    /// The recorded families, in first-use order, each series' samples
    /// sorted by time with duplicate timestamps dropped (the last one wins),
    /// as the format requires strictly increasing times.
    pub fn finish(mut self) -> Vec<Family> {
        for fam in &mut self.families {
            for s in &mut fam.series {
                s.samples.sort_by_key(|&(t, _)| t);
                let mut out: Vec<(i64, f64)> = Vec::with_capacity(s.samples.len());
                for &(t, v) in &s.samples {
                    match out.last_mut() {
                        Some(last) if last.0 == t => last.1 = v,
                        _ => out.push((t, v)),
                    }
                }
                s.samples = out;
            }
        }
        self.families
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrapes_are_offset_and_counters_reset() {
        let mut m = MetricRecorder::new(1, Duration::secs(60));
        let off = m.offset("node-a").0;
        assert!(off > 0 && off < 60_000 && off % 1000 == 0 && off % 15_000 != 0);
        let times = m.scrapes("node-a", Timestamp(0), Timestamp(300_000));
        assert_eq!(times.len(), 5);
        assert_eq!(times[0].0, off);
        let mut n = 0;
        m.counter(
            "x_total",
            "h",
            &[("b", "2"), ("a", "1")],
            "node-a",
            Timestamp(0),
            Timestamp(300_000),
            5.0,
            |_, _| {
                n += 1;
                if n == 3 {
                    CounterStep::Reset(1.0)
                } else {
                    CounterStep::Add(0.5)
                }
            },
        );
        m.gauge(
            "g",
            "h",
            &[],
            "node-a",
            Timestamp(0),
            Timestamp(120_000),
            |t| t.0 as f64,
        );
        let fams = m.finish();
        assert_eq!(fams[0].series[0].labels[0].0, "a");
        let vals: Vec<f64> = fams[0].series[0].samples.iter().map(|s| s.1).collect();
        assert_eq!(vals, vec![5.0, 5.5, 6.0, 1.0, 1.5]);
        assert_eq!(fams[1].kind, MetricType::Gauge);
    }
}
