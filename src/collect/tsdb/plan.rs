//! Query plans: everything about a [`MetricQuery`] that does not depend on
//! the evaluation time — which series match, in which order Prometheus
//! aggregates them, and which group each one falls into — worked out once
//! so each tick only selects samples and folds numbers.

use super::aggregate::Acc;
use super::select;
use super::Tsdb;
use crate::catalog::signal::Matcher;
use crate::catalog::{Aggregation, MetricQuery};
use crate::time::Duration;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A prepared query: one or two sides over a shared, sorted list of groups.
#[derive(Debug)]
pub(super) struct Plan {
    /// Every group key either side can produce (BY label values in BY
    /// order), sorted, so results come out sorted without a sort per tick.
    pub(super) keys: Vec<Vec<String>>,
    /// `AGG by (BY) (rate(METRIC{...}[W]))`.
    pub(super) num: Side,
    /// The denominator, when the query is a ratio.
    pub(super) den: Option<Side>,
}

/// One aggregated selector of a plan.
#[derive(Debug)]
pub(super) struct Side {
    /// `(series index, group index)` in Prometheus's series order.
    members: Vec<(usize, usize)>,
    /// Per member, where the last window search ended: the next tick's
    /// window is usually a few samples further. Atomics keep plans
    /// shareable; a hint lost to a race only costs a longer search.
    hints: Vec<AtomicUsize>,
    /// Rate window in ms, or `None` for an instant selector.
    rate_ms: Option<i64>,
    /// The aggregation operator.
    pub(super) agg: Aggregation,
}

impl Plan {
    /// Resolves `q` against the series of `db`.
    pub(super) fn build(db: &Tsdb, q: &MetricQuery) -> Plan {
        let num = matching(db, &q.name, &q.matchers, q.rate, &q.by);
        let den = q
            .ratio_to
            .as_ref()
            .map(|d| (matching(db, &d.name, &d.matchers, d.rate, &q.by), d));
        let mut all: BTreeSet<&Vec<String>> = num.iter().map(|(_, k)| k).collect();
        if let Some((d, _)) = &den {
            all.extend(d.iter().map(|(_, k)| k));
        }
        let keys: Vec<Vec<String>> = all.into_iter().cloned().collect();
        let side = |found: Vec<(usize, Vec<String>)>, rate: Option<Duration>, agg| Side {
            hints: found.iter().map(|_| AtomicUsize::new(0)).collect(),
            members: found
                .into_iter()
                .map(|(s, k)| (s, keys.binary_search(&k).unwrap_or_default()))
                .collect(),
            rate_ms: rate.map(|d| d.0),
            agg,
        };
        let num = side(num, q.rate, q.aggregate);
        let den = den.map(|(found, d)| side(found, d.rate, d.aggregate));
        Plan { keys, num, den }
    }
}

impl Side {
    /// The series this side reads, each with how far back it looks at
    /// them (ms): its `rate` window, or the instant lookback.
    pub(super) fn reach(&self) -> impl Iterator<Item = (usize, i64)> + '_ {
        let back = self.rate_ms.unwrap_or(select::LOOKBACK_MS);
        self.members.iter().map(move |&(s, _)| (s, back))
    }

    /// Evaluates this side at `at` into one accumulator per plan group.
    pub(super) fn eval(&self, db: &Tsdb, at: i64, groups: usize) -> Vec<Acc> {
        let mut accs = vec![Acc::default(); groups];
        for (&(s, g), hint) in self.members.iter().zip(&self.hints) {
            let series = &db.series[s];
            let h = hint.load(Ordering::Relaxed);
            let (v, h) = match self.rate_ms {
                Some(w) => select::rate(&series.ts, &series.vs, at, w, h),
                None => select::instant(&series.ts, &series.vs, at, h),
            };
            hint.store(h, Ordering::Relaxed);
            if let Some(v) = v {
                accs[g].add(self.agg, v);
            }
        }
        accs
    }
}

/// The series of metric `name` that every matcher accepts, in Prometheus
/// order, each with its group key.
fn matching(
    db: &Tsdb,
    name: &str,
    matchers: &[Matcher],
    rate: Option<Duration>,
    by: &[String],
) -> Vec<(usize, Vec<String>)> {
    let Some(ids) = db.by_name.get(name) else {
        return Vec::new();
    };
    // `rate` drops the metric name, so a `by (__name__)` then groups on "".
    let name_after = if rate.is_some() { "" } else { name };
    ids.iter()
        .filter(|&&s| {
            let labels = &db.series[s].labels;
            matchers
                .iter()
                .all(|m| m.matches(label(labels, &m.label, name)))
        })
        .map(|&s| {
            let labels = &db.series[s].labels;
            (
                s,
                by.iter()
                    .map(|b| label(labels, b, name_after).to_string())
                    .collect(),
            )
        })
        .collect()
}

/// The value of label `key`, `""` when absent (PromQL has no empty labels),
/// with `__name__` answered from the metric name.
fn label<'a>(labels: &'a [(String, String)], key: &str, name: &'a str) -> &'a str {
    if key == "__name__" {
        return name;
    }
    labels
        .iter()
        .find(|(k, _)| k == key)
        .map_or("", |(_, v)| v.as_str())
}
