//! The embedded time-series store that replay evaluates metric signals on.
//!
//! It holds a scenario's metric families in memory and evaluates the
//! structured [`MetricQuery`] with the semantics of Prometheus 2.42 (the
//! version the cross-check test runs against): 5 m lookback for instant
//! selectors, closed `[t - W, t]` range windows, `extrapolatedRate`,
//! `sum`/`max`/`min`/`avg` by labels, and one-to-one vector division.
//! Like Prometheus, `rate` applies counter-reset handling to every series,
//! whatever the family's declared type.
//! Live mode sends [`crate::catalog::render`]'s PromQL for the same query
//! to Prometheus instead; the two must agree.
//!
//! Matching is static, so a query is resolved once into a plan (matching
//! series, aggregation order, group keys) and every tick only binary-searches
//! each series' window and folds the values.

mod aggregate;
mod plan;
mod select;
mod stream;

pub use select::{extrapolated, Extrapolation, LOOKBACK_MS};

use crate::catalog::MetricQuery;
use crate::scenario::Family;
use crate::time::Timestamp;
use plan::Plan;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

/// Query plans kept by [`Tsdb::eval`]; a catalog has far fewer signals, so
/// reaching this only means callers keep inventing queries.
const PLAN_CACHE_MAX: usize = 256;

/// Values of one query at one instant: `(BY label values, value)` per group,
/// sorted by key; NaN and ±Inf are kept.
pub type QueryResult = Vec<(Vec<String>, f64)>;

/// In-memory series indexed by metric name, with a PromQL-subset evaluator.
pub struct Tsdb {
    series: Vec<Stored>,
    /// Metric name → series indices, in Prometheus's series order.
    by_name: HashMap<String, Vec<usize>>,
    /// Plans built by [`Tsdb::eval`], so repeated calls skip matching.
    plans: Mutex<Vec<(MetricQuery, Arc<Plan>)>>,
}

/// One series, with timestamps and values apart so window searches touch
/// only timestamps.
#[derive(Default)]
struct Stored {
    labels: Vec<(String, String)>,
    ts: Vec<i64>,
    vs: Vec<f64>,
}

impl Tsdb {
    /// Indexes `families` by metric name. Families sharing a name are merged,
    /// and series with identical labels become one series (as Prometheus
    /// would store them); samples are sorted by time, keeping the last of
    /// duplicate timestamps.
    pub fn new(families: Vec<Family>) -> Self {
        Self::build(families).0
    }

    /// [`Tsdb::new`], also returning, per input series (families in order,
    /// then their series), the index of the series it became, and whether
    /// any two input series became one.
    fn build(families: Vec<Family>) -> (Self, Vec<usize>, bool) {
        let mut raw: HashMap<String, Vec<(Stored, usize)>> = HashMap::new();
        let mut inputs = 0;
        for fam in families {
            let list = raw.entry(fam.name).or_default();
            for s in fam.series {
                let mut labels = s.labels;
                labels.retain(|(_, v)| !v.is_empty());
                labels.sort();
                let (ts, vs) = s.samples.into_iter().unzip();
                list.push((Stored { labels, ts, vs }, inputs));
                inputs += 1;
            }
        }
        let mut origin = vec![0; inputs];
        let mut merged = false;
        let mut series: Vec<Stored> = Vec::new();
        let mut by_name = HashMap::new();
        for (name, list) in raw {
            // Prometheus hands series to the engine sorted by their full
            // label set, `__name__` included; sums follow that order.
            let order = {
                let keys: Vec<_> = list
                    .iter()
                    .map(|(s, _)| prometheus_order(&name, &s.labels))
                    .collect();
                let mut order: Vec<usize> = (0..list.len()).collect();
                order.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
                order
            };
            let mut slots: Vec<Option<(Stored, usize)>> = list.into_iter().map(Some).collect();
            let mut ids: Vec<usize> = Vec::with_capacity(slots.len());
            for (s, input) in order.into_iter().filter_map(|i| slots[i].take()) {
                match ids.last() {
                    Some(&prev) if series[prev].labels == s.labels => {
                        merge_into(&mut series[prev], s);
                        origin[input] = prev;
                        merged = true;
                    }
                    _ => {
                        origin[input] = series.len();
                        ids.push(series.len());
                        series.push(normalized(s));
                    }
                }
            }
            by_name.insert(name, ids);
        }
        let db = Tsdb {
            series,
            by_name,
            plans: Mutex::new(Vec::new()),
        };
        (db, origin, merged)
    }

    /// The first and last sample timestamps (ms) over all series, or `None`
    /// when there are no samples.
    pub fn time_range(&self) -> Option<(i64, i64)> {
        let first = self.series.iter().filter_map(|s| s.ts.first()).min()?;
        let last = self.series.iter().filter_map(|s| s.ts.last()).max()?;
        Some((*first, *last))
    }

    /// Resolves `q` once (matching series, group keys) for repeated
    /// evaluation with [`PreparedQuery::eval`].
    pub fn prepare(&self, q: &MetricQuery) -> PreparedQuery<'_> {
        PreparedQuery {
            db: self,
            plan: Arc::new(Plan::build(self, q)),
        }
    }

    /// Evaluates `q` at `at` as Prometheus 2.42 would: one entry per group
    /// (BY label values in BY order), sorted by key. Plans are cached per
    /// distinct query, so calling this every tick costs no re-matching.
    pub fn eval(&self, q: &MetricQuery, at: Timestamp) -> QueryResult {
        let plan = {
            let mut plans = self.plans.lock().unwrap_or_else(PoisonError::into_inner);
            match plans.iter().find(|(k, _)| k == q) {
                Some((_, p)) => Arc::clone(p),
                None => {
                    if plans.len() >= PLAN_CACHE_MAX {
                        plans.clear();
                    }
                    let p = Arc::new(Plan::build(self, q));
                    plans.push((q.clone(), Arc::clone(&p)));
                    p
                }
            }
        };
        self.run(&plan, at.0)
    }

    fn run(&self, plan: &Plan, at: i64) -> QueryResult {
        let groups = plan.keys.len();
        let num = plan.num.eval(self, at, groups);
        let den = plan.den.as_ref().map(|d| (d.eval(self, at, groups), d.agg));
        let mut out = Vec::new();
        for (g, key) in plan.keys.iter().enumerate() {
            let Some(a) = num[g].value(plan.num.agg) else {
                continue;
            };
            let v = match &den {
                None => a,
                // One-to-one matching on the BY labels; a group missing on
                // either side is dropped, and x/0 is ±Inf or NaN as in Go.
                Some((d, agg)) => match d[g].value(*agg) {
                    Some(b) => a / b,
                    None => continue,
                },
            };
            out.push((key.clone(), v));
        }
        out
    }
}

impl fmt::Debug for Tsdb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tsdb")
            .field("metrics", &self.by_name.len())
            .field("series", &self.series.len())
            .field("time_range", &self.time_range())
            .finish()
    }
}

/// A query resolved against one [`Tsdb`]: evaluating it per tick costs only
/// the window searches and arithmetic.
#[derive(Debug, Clone)]
pub struct PreparedQuery<'a> {
    db: &'a Tsdb,
    plan: Arc<Plan>,
}

impl PreparedQuery<'_> {
    /// Evaluates at `at`; same result as [`Tsdb::eval`].
    pub fn eval(&self, at: Timestamp) -> QueryResult {
        self.db.run(&self.plan, at.0)
    }

    /// Every group key this query can ever produce, sorted.
    pub fn keys(&self) -> &[Vec<String>] {
        &self.plan.keys
    }
}

/// The sort key Prometheus orders series by: all labels with `__name__`,
/// sorted by name, compared pairwise.
fn prometheus_order<'a>(name: &'a str, labels: &'a [(String, String)]) -> Vec<(&'a str, &'a str)> {
    let mut key: Vec<(&str, &str)> = labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    key.push(("__name__", name));
    key.sort_unstable();
    key
}

/// Sorts samples by time and drops duplicate timestamps (keeping the last),
/// which the window searches rely on; a no-op for well-formed series.
fn normalized(mut s: Stored) -> Stored {
    if s.ts.windows(2).all(|w| w[0] < w[1]) {
        return s;
    }
    let mut pairs: Vec<(i64, f64)> = s.ts.iter().copied().zip(s.vs.iter().copied()).collect();
    pairs.sort_by_key(|p| p.0);
    let mut out: Vec<(i64, f64)> = Vec::with_capacity(pairs.len());
    for p in pairs {
        match out.last_mut() {
            Some(last) if last.0 == p.0 => *last = p,
            _ => out.push(p),
        }
    }
    (s.ts, s.vs) = out.into_iter().unzip();
    s
}

/// Appends `extra`'s samples to `into` (same labels) and re-normalizes.
fn merge_into(into: &mut Stored, extra: Stored) {
    let mut merged = std::mem::take(into);
    merged.ts.extend(extra.ts);
    merged.vs.extend(extra.vs);
    *into = normalized(merged);
}
