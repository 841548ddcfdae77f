//! A pipeline at simulated time fed by a live metric source: the
//! scenario's events, nodes and pods replayed while metric signals come
//! from the Prometheus collector querying each tick's instant of a
//! backfilled scenario. With a replay of the same slice (embedded
//! evaluator, nothing failing) as the baseline, fault tests can say what
//! should have happened and check what did.

use nodewatch::act::{Governor, InMemoryCordoner, RecordingNotifier};
use nodewatch::catalog::{Catalog, SignalScope};
use nodewatch::collect::prometheus::{
    BackoffConfig, Health, PrometheusCollector, PrometheusConfig,
};
use nodewatch::collect::replay::ReplaySource;
use nodewatch::collect::{MetricSource, Observation, Source};
use nodewatch::engine::{Engine, Settings};
use nodewatch::pipeline::Pipeline;
use nodewatch::scenario::Scenario;
use nodewatch::serve::{Exporter, Format, Published};
use nodewatch::state::Snapshot;
use nodewatch::time::{Duration, Timestamp};
use nodewatch::tools::replay::{self, Outcome};
use std::sync::Arc;

/// The pipeline type the helpers build.
pub type SimPipeline = Pipeline<RecordingNotifier, InMemoryCordoner>;

/// Events the slice starts with: those of the hour before its start.
const EVENT_HISTORY: Duration = Duration(3_600_000);

pub fn t(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).expect("time")
}

/// The events, nodes and pods of `s` from `from - 1h` on, without metrics.
pub fn k8s_slice(s: &Scenario, from: Timestamp) -> Scenario {
    let keep = |e: &nodewatch::k8s::Event| {
        e.last_seen()
            .and_then(|x| Timestamp::parse_rfc3339(x).ok())
            .is_some_and(|x| x >= from.sub(EVENT_HISTORY))
    };
    let mut out = s.clone();
    out.events.retain(keep);
    out.metrics.clear();
    out.meta.start = from;
    out
}

/// What replay says for `[from, to]` of the slice, all data present.
pub async fn baseline(s: &Scenario, from: Timestamp, to: Timestamp) -> Outcome {
    let mut slice = k8s_slice(s, from);
    slice.metrics = s.metrics.clone();
    slice.meta.end = to;
    let meta = slice.meta.clone();
    let mut src = ReplaySource::new(slice);
    replay::drive(
        &mut src,
        meta,
        Arc::new(Catalog::builtin()),
        Default::default(),
        |_| true,
    )
    .await
}

/// Replayed events, nodes and pods plus live-collected metric signals.
pub struct Sim {
    /// Events, nodes and pods.
    pub k8s: ReplaySource,
    /// Metric signals.
    pub metrics: PrometheusCollector,
}

impl Source for Sim {
    async fn observe(&mut self, at: Timestamp, catalog: &Catalog) -> Observation {
        let mut obs = self.k8s.observe(at, catalog).await;
        obs.metrics = self.metrics.metrics(at, catalog).await;
        obs
    }
}

pub fn pipeline(step: Duration) -> SimPipeline {
    let settings = Settings {
        step,
        ..Default::default()
    };
    let engine = Engine::new(Arc::new(Catalog::builtin()), settings);
    Pipeline::new(
        engine,
        Governor::new(Default::default()),
        Default::default(),
        Default::default(),
    )
}

pub fn collector(url: String, timeout: Duration, limit: usize) -> (PrometheusCollector, Health) {
    let mut cfg = PrometheusConfig::new(url);
    cfg.timeout = timeout;
    cfg.max_concurrent_queries = limit;
    cfg.backoff = BackoffConfig {
        initial: Duration(10),
        max: Duration(100),
    };
    let c = PrometheusCollector::new(&cfg).expect("collector");
    let h = c.health();
    (c, h)
}

/// The snapshot with the source health copied in, and its `/metrics` text.
pub fn observe(p: &SimPipeline, h: &Health) -> (Snapshot, String) {
    let mut snap = p.snapshot(None);
    h.apply_to(&mut snap.stats);
    let published = Published::new();
    published.publish(snap.clone());
    let text = Exporter::new(published)
        .render(Format::Prometheus)
        .expect("render /metrics");
    (snap, text)
}

/// Names of the node-scoped metric signals of the default catalog.
pub fn metric_signals() -> Vec<String> {
    let c = Catalog::builtin();
    c.signals
        .iter()
        .filter(|s| s.metric.is_some() && s.scope == SignalScope::Node)
        .map(|s| s.name.clone())
        .collect()
}
