//! Backtest: the rules evaluated over a Prometheus's history. Metric
//! signals come from chunked range queries ([`RangeSource`]); events, nodes
//! and pods from files (what `kubectl get -o json` and an event archive
//! give); everything runs through the same loop as replay
//! ([`crate::tools::replay::drive`]), so on the same data a backtest produces the
//! same alerts, cordons and report as `nodewatch replay`.

use crate::act::GovernorSettings;
use crate::catalog::Catalog;
use crate::collect::prometheus::{ConfigError, PrometheusConfig, RangeSource, MAX_POINTS};
use crate::collect::replay::ReplaySource;
use crate::collect::{MetricSource, Observation, Source};
use crate::engine::Settings;
use crate::k8s;
use crate::scenario::{Meta, Scenario, Truth};
use crate::time::{Duration, Timestamp};
use crate::tools::replay::{self, Outcome};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Default history per fetch: one hour of every metric signal.
pub const DEFAULT_CHUNK: Duration = Duration(3_600_000);

/// What to backtest.
#[derive(Clone, Debug)]
pub struct Options {
    /// Report name (`scenario` in the report).
    pub name: String,
    /// First evaluation time (whole seconds).
    pub from: Timestamp,
    /// Last evaluation time (whole seconds).
    pub to: Timestamp,
    /// Evaluation interval (whole seconds).
    pub step: Duration,
    /// History fetched per round of range queries.
    pub chunk: Duration,
    /// Ground truth for the report (empty: report alerts only).
    pub truth: Truth,
    /// Events in delivery order (JSON lines of core/v1 Events).
    pub events: Vec<k8s::Event>,
    /// Nodes (zones, pools, creation times); learned from metrics if empty.
    pub nodes: Vec<k8s::Node>,
    /// Pods, for attributing pod events to nodes.
    pub pods: Vec<k8s::Pod>,
    /// Engine settings (`step` is taken from above).
    pub engine: Settings,
    /// Governor settings.
    pub governor: GovernorSettings,
}

impl Options {
    /// A backtest of `[from, to]` every `step` with everything else empty.
    pub fn new(from: Timestamp, to: Timestamp, step: Duration) -> Self {
        Options {
            name: "backtest".into(),
            from,
            to,
            step,
            chunk: DEFAULT_CHUNK,
            truth: Truth::default(),
            events: Vec::new(),
            nodes: Vec::new(),
            pods: Vec::new(),
            engine: Settings::default(),
            governor: GovernorSettings::default(),
        }
    }

    /// Takes the report name and the truth from a `scenario.yaml`.
    pub fn with_meta(mut self, meta: &Meta) -> Self {
        self.name = meta.name.clone();
        self.truth = meta.truth.clone();
        self
    }
}

/// Why a backtest could not run or finish.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    /// The Prometheus settings cannot work.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The time range or step cannot be evaluated.
    #[error("{0}")]
    Range(String),
    /// Prometheus kept failing; a report on partial data would mislead.
    #[error(
        "Prometheus failed at {at} after retries: {detail} (if it refused the \
         load, a smaller --chunk makes each query lighter)"
    )]
    Fetch {
        /// The tick being evaluated.
        at: Timestamp,
        /// What failed.
        detail: String,
    },
}

/// Events, nodes and pods from files, metric signals from range queries.
struct BacktestSource {
    k8s: ReplaySource,
    metrics: RangeSource,
}

impl Source for BacktestSource {
    async fn observe(&mut self, at: Timestamp, catalog: &Catalog) -> Observation {
        // The replay source delivers events, nodes and pods exactly as
        // replay does; it holds no metrics, so its own are replaced.
        let mut obs = self.k8s.observe(at, catalog).await;
        obs.metrics = self.metrics.metrics(at, catalog).await;
        obs
    }
}

/// Runs the backtest. `on_tick` sees every evaluated time (for progress).
pub async fn run(
    prometheus: &PrometheusConfig,
    catalog: Arc<Catalog>,
    opts: Options,
    mut on_tick: impl FnMut(Timestamp),
) -> Result<Outcome, BacktestError> {
    check_range(&opts)?;
    let meta = Meta {
        name: opts.name.clone(),
        description: String::new(),
        start: opts.from,
        end: opts.to,
        step: opts.step,
        maintenance_windows: Vec::new(),
        truth: opts.truth.clone(),
    };
    let longest = catalog
        .signals
        .iter()
        .filter_map(|s| s.events.as_ref().map(|e| e.window))
        .max()
        .unwrap_or_default();
    let k8s = ReplaySource::new(Scenario {
        meta: meta.clone(),
        nodes: opts.nodes,
        pods: opts.pods,
        events: rebase(opts.events, opts.from.sub(longest)),
        metrics: Vec::new(),
        node_changes: Vec::new(),
    });
    let metrics = RangeSource::new(prometheus, opts.to, opts.step, opts.chunk)?;
    let mut source = BacktestSource { k8s, metrics };
    let ropts = replay::Options {
        engine: opts.engine,
        governor: opts.governor,
        ..Default::default()
    };
    // `drive` holds the source, so the source's failure is watched through
    // a shared flag; the loop stops at the tick it surfaced in.
    let failed = source.metrics.failure_flag();
    let mut failed_at = None;
    let outcome = replay::drive(&mut source, meta, catalog, ropts, |at| {
        on_tick(at);
        if failed.load(Ordering::SeqCst) {
            failed_at = Some(at);
            return false;
        }
        true
    })
    .await;
    if let Some(e) = source.metrics.fatal() {
        return Err(BacktestError::Fetch {
            at: failed_at.unwrap_or(opts.from),
            detail: e.detail.clone(),
        });
    }
    Ok(outcome)
}

/// An archive usually starts long before `--from`. Occurrences before
/// `cutoff` (the start minus the longest event window) are history: those
/// events are not delivered, and later copies of the same event carry only
/// the occurrences after them, so the first tick does not see years of
/// counts as one burst. Events within the window are delivered at the first
/// tick, as replay does.
fn rebase(events: Vec<k8s::Event>, cutoff: Timestamp) -> Vec<k8s::Event> {
    let mut before: HashMap<(String, String), i64> = HashMap::new();
    let mut out = Vec::with_capacity(events.len());
    for mut ev in events {
        let key = (ev.metadata.namespace.clone(), ev.metadata.name.clone());
        let seen = ev
            .last_seen()
            .and_then(|t| Timestamp::parse_rfc3339(t).ok());
        if seen.is_some_and(|t| t < cutoff) {
            let n = before.entry(key).or_default();
            *n = (*n).max(ev.total_count());
            continue;
        }
        if let Some(&old) = before.get(&key) {
            let left = ev.total_count() - old;
            if left <= 0 {
                continue;
            }
            match &mut ev.series {
                Some(series) => series.count = left,
                None => ev.count = Some(left),
            }
        }
        out.push(ev);
    }
    out
}

fn check_range(o: &Options) -> Result<(), BacktestError> {
    let bad = |m: String| Err(BacktestError::Range(m));
    if o.from > o.to {
        return bad(format!("--from {} is after --to {}", o.from, o.to));
    }
    if o.step.0 <= 0 || o.step.0 % 1000 != 0 {
        return bad(format!(
            "step {} must be a positive whole number of seconds",
            o.step
        ));
    }
    if o.from.0 % 1000 != 0 || o.to.0 % 1000 != 0 {
        return bad("--from and --to must be whole seconds".into());
    }
    if o.chunk < o.step || o.chunk.0 / o.step.0 > MAX_POINTS {
        return bad(format!(
            "chunk {} must hold between 1 and {MAX_POINTS} steps of {}",
            o.chunk, o.step
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_before_the_start_is_not_counted_again() {
        let ev = |name: &str, count: i64, at: &str| k8s::Event {
            metadata: k8s::ObjectMeta {
                namespace: "prod".into(),
                name: name.into(),
                ..Default::default()
            },
            count: Some(count),
            last_timestamp: Some(at.into()),
            ..Default::default()
        };
        let cutoff = Timestamp::parse_rfc3339("2024-01-01T12:00:00Z").unwrap();
        let out = rebase(
            vec![
                ev("old", 40, "2024-01-01T11:00:00Z"),
                ev("recent", 3, "2024-01-01T12:01:00Z"),
                ev("old", 42, "2024-01-01T12:30:00Z"),
                ev("old", 40, "2024-01-01T12:31:00Z"),
                ev("new", 1, "2024-01-01T13:00:00Z"),
            ],
            cutoff,
        );
        let got: Vec<(&str, Option<i64>)> = out
            .iter()
            .map(|e| (e.metadata.name.as_str(), e.count))
            .collect();
        assert_eq!(
            got,
            vec![("recent", Some(3)), ("old", Some(2)), ("new", Some(1))]
        );
    }

    #[test]
    fn ranges_that_cannot_be_queried_are_refused() {
        let t = |s: i64| Timestamp(s * 1000);
        let ok = Options::new(t(0), t(3600), Duration::secs(30));
        assert!(check_range(&ok).is_ok());
        let err = |o: Options| check_range(&o).unwrap_err().to_string();
        assert!(err(Options::new(t(10), t(0), Duration::secs(30))).contains("after"));
        assert!(
            err(Options::new(Timestamp(500), t(10), Duration::secs(30))).contains("whole seconds")
        );
        assert!(err(Options::new(t(0), t(10), Duration(1500))).contains("whole number"));
        let mut big = ok.clone();
        big.chunk = Duration::secs(30 * (MAX_POINTS + 1));
        assert!(err(big).contains("chunk"));
    }
}
