//! The scenario suite run: every built-in scenario replayed through the
//! full pipeline (the replay loop: [`ReplaySource`] → [`Pipeline`] with the
//! real governor), scored against its `truth` with the replay report, and
//! tabulated: per scenario, the detection delay of each faulty node, the
//! cluster incident delay, false node alerts, false cordons, cluster alerts
//! outside any incident, and the nodes the engine reported without data.
//! Optionally beside what kube-prometheus' rules make of the same data on
//! a real Prometheus ([`kube_prometheus`]).

use crate::act::{Governor, InMemoryCordoner, RecordingNotifier};
use crate::catalog::Catalog;
use crate::collect::replay::ReplaySource;
use crate::engine::Engine;
use crate::pipeline::Pipeline;
use crate::scenario::Scenario;
use crate::time::{Duration, Timestamp};
use crate::tools::replay::{Options, Outcome};
use crate::tools::report::Report;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

pub mod kube_prometheus;
pub mod local_prometheus;
mod table;

/// How often the engine's own report of missing data is looked at.
const MISSING_SAMPLE: Duration = Duration::mins(10);
/// Data a node has not had yet is not "missing": the first minutes of the
/// replay and of a newly joined node are warm-up (rates need two samples).
const WARM_UP: Duration = Duration::mins(10);

/// Why a suite run could not complete.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    /// No built-in scenario has that name.
    #[error("no built-in scenario {name:?}; available: {available}")]
    UnknownScenario {
        /// The name asked for.
        name: String,
        /// The names there are, comma-separated.
        available: String,
    },
    /// The local Prometheus for the comparison could not be set up.
    #[error(transparent)]
    Launch(#[from] local_prometheus::LaunchError),
    /// kube-prometheus' rules could not be evaluated.
    #[error("{scenario}: {source}")]
    Evaluate {
        /// The scenario.
        scenario: String,
        /// What failed.
        #[source]
        source: kube_prometheus::EvalError,
    },
}

/// One scenario's row of the suite table.
#[derive(Clone, Debug, Serialize)]
pub struct SuiteRow {
    /// Scenario name.
    pub scenario: String,
    /// Nodes in the scenario.
    pub nodes: usize,
    /// Per faulty-node window: node, kind and seconds to the first node
    /// alert (`None`: not detected).
    pub faulty: Vec<Detection>,
    /// Per cluster incident: seconds to the first cluster or workload alert.
    pub incidents: Vec<Detection>,
    /// Node alerts outside faulty windows.
    pub false_alerts: usize,
    /// Cordons outside faulty windows.
    pub false_cordons: usize,
    /// Cordons in all.
    pub cordons: usize,
    /// Cluster alerts that fired outside every cluster incident.
    pub cluster_alerts_outside: usize,
    /// Nodes the engine reported with signals lacking data after warm-up,
    /// with those signals.
    pub missing_data: BTreeMap<String, Vec<String>>,
    /// The same scenario under kube-prometheus' rules, when compared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kube_prometheus: Option<Baseline>,
    /// The full replay report.
    #[serde(skip)]
    pub report: Report,
}

/// What kube-prometheus' rules detected on a scenario.
#[derive(Clone, Debug, Serialize)]
pub struct Baseline {
    /// Per faulty-node window, as for nodewatch.
    pub faulty: Vec<Detection>,
    /// Per cluster incident.
    pub incidents: Vec<Detection>,
    /// Node alerts outside faulty windows (pod alerts count for their node).
    pub false_alerts: usize,
    /// Firings per alert name (those that fired at least once).
    pub fired: BTreeMap<String, usize>,
    /// The report built from its alerts.
    #[serde(skip)]
    pub report: Report,
}

impl Baseline {
    /// Scores kube-prometheus' evaluation against `truth`.
    pub fn new(eval: kube_prometheus::Evaluation, truth: &crate::scenario::Truth) -> Self {
        let (faulty, incidents) = detections(&eval.report, truth);
        Baseline {
            faulty,
            incidents,
            false_alerts: eval.report.false_alerts,
            fired: eval.fired.into_iter().filter(|(_, n)| *n > 0).collect(),
            report: eval.report,
        }
    }

    /// The median detection delay, counting a miss as the whole window
    /// (the incident was over before anyone was told); `None` when nothing
    /// was to be detected.
    pub fn median_delay(&self) -> Option<f64> {
        median_with_misses(&self.faulty, &self.incidents)
    }
}

/// A detection: what, and after how long.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Detection {
    /// Node (empty for incidents).
    pub node: String,
    /// Free text from `truth`.
    pub kind: String,
    /// Seconds from the window's start to the first alert.
    pub delay_s: Option<f64>,
    /// Seconds the window lasts.
    pub window_s: f64,
}

impl SuiteRow {
    /// The median detection delay over faulty nodes and incidents, a miss
    /// counting as the whole window; `None` when nothing was to be detected.
    pub fn median_delay(&self) -> Option<f64> {
        median_with_misses(&self.faulty, &self.incidents)
    }
}

/// Median of the delays, a missed window counting as its whole length.
fn median_with_misses(faulty: &[Detection], incidents: &[Detection]) -> Option<f64> {
    let mut d: Vec<f64> = faulty
        .iter()
        .chain(incidents)
        .map(|x| x.delay_s.unwrap_or(x.window_s))
        .collect();
    median(&mut d)
}

/// The median of `d` (sorted in place); `None` when empty.
pub fn median(d: &mut [f64]) -> Option<f64> {
    if d.is_empty() {
        return None;
    }
    d.sort_by(f64::total_cmp);
    let n = d.len();
    Some(if n % 2 == 1 {
        d[n / 2]
    } else {
        (d[n / 2 - 1] + d[n / 2]) / 2.0
    })
}

/// Replays `scenario` and builds its row.
pub async fn run_one(scenario: Scenario, catalog: Arc<Catalog>, opts: Options) -> SuiteRow {
    let meta = scenario.meta.clone();
    let mut engine_settings = opts.engine.clone();
    engine_settings.step = meta.step;
    let created: BTreeMap<String, Timestamp> = scenario
        .nodes
        .iter()
        .filter_map(|n| {
            let at = n.metadata.creation_timestamp.as_deref()?;
            Some((n.metadata.name.clone(), Timestamp::parse_rfc3339(at).ok()?))
        })
        .collect();
    let nodes = scenario.nodes.len();
    let mut governor = opts.governor.clone();
    governor
        .maintenance_windows
        .extend(meta.maintenance_windows.iter().cloned());
    let mut pipeline = Pipeline::new(
        Engine::new(catalog, engine_settings),
        Governor::new(governor),
        RecordingNotifier::default(),
        InMemoryCordoner::default(),
    );
    let mut source = ReplaySource::new(scenario);
    let mut missing: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let (mut at, mut ticks, mut next_look) = (meta.start, 0, meta.start.add(WARM_UP));
    while at <= meta.end {
        pipeline.step(&mut source, at).await;
        ticks += 1;
        if at >= next_look {
            next_look = at.add(MISSING_SAMPLE);
            for n in pipeline.engine().snapshot().nodes {
                let young = created.get(&n.name).is_some_and(|c| at < c.add(WARM_UP));
                // A held node (draining, shutting down, rebooting, just
                // joined) losing its data is expected, not missing.
                if n.unknown.is_empty() || young || n.held.is_some() {
                    continue;
                }
                let seen = missing.entry(n.name).or_default();
                for s in n.unknown {
                    if !seen.contains(&s) {
                        seen.push(s);
                    }
                }
            }
        }
        at = at.add(meta.step);
    }
    let (notifier, actions) = pipeline.into_results();
    let outcome = Outcome {
        meta: meta.clone(),
        notifications: notifier.sent,
        actions,
        ticks,
    };
    let report = outcome.report();
    row(&meta.truth, nodes, missing, report)
}

/// Per faulty node and per incident, the detection `report` found.
fn detections(report: &Report, truth: &crate::scenario::Truth) -> (Vec<Detection>, Vec<Detection>) {
    let faulty = report
        .faulty_nodes
        .iter()
        .zip(&truth.faulty_nodes)
        .map(|(f, t)| Detection {
            node: f.node.clone(),
            kind: t.kind.clone(),
            delay_s: f.delay_s,
            window_s: f.to.since(f.from).as_secs_f64(),
        })
        .collect();
    let incidents = report
        .cluster_incidents
        .iter()
        .zip(&truth.cluster_incidents)
        .map(|(c, t)| Detection {
            node: String::new(),
            kind: t.kind.clone(),
            delay_s: c.delay_s,
            window_s: c.to.since(c.from).as_secs_f64(),
        })
        .collect();
    (faulty, incidents)
}

fn row(
    truth: &crate::scenario::Truth,
    nodes: usize,
    missing_data: BTreeMap<String, Vec<String>>,
    report: Report,
) -> SuiteRow {
    let (faulty, incidents) = detections(&report, truth);
    let cluster_alerts_outside = report
        .alerts
        .iter()
        .filter(|a| a.scope == "cluster")
        .filter(|a| {
            !truth
                .cluster_incidents
                .iter()
                .any(|c| c.from <= a.fired_at && a.fired_at <= c.to)
        })
        .count();
    SuiteRow {
        scenario: report.scenario.clone(),
        nodes,
        faulty,
        incidents,
        false_alerts: report.false_alerts,
        false_cordons: report.false_cordons,
        cordons: report.cordons.len(),
        cluster_alerts_outside,
        missing_data,
        kube_prometheus: None,
        report,
    }
}

/// The whole suite's result.
#[derive(Clone, Debug, Serialize)]
pub struct SuiteReport {
    /// One row per scenario, in the order run.
    pub rows: Vec<SuiteRow>,
}

/// Generates and replays the built-in scenarios named in `names` (all of
/// them when empty), one after the other; with `kube_prometheus`, each is
/// also backfilled into a local Prometheus and kube-prometheus' rules
/// evaluated on it (needs `prometheus` and `promtool`).
pub async fn run_builtin(
    names: &[String],
    catalog: Arc<Catalog>,
    kube_prometheus: bool,
) -> Result<SuiteReport, SuiteError> {
    let all: Vec<&str> = crate::scenario::builtin_names()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let wanted: Vec<&str> = if names.is_empty() {
        all.clone()
    } else {
        names.iter().map(String::as_str).collect()
    };
    let mut rows = Vec::with_capacity(wanted.len());
    for name in wanted {
        let sc = crate::scenario::builtin(name).ok_or_else(|| SuiteError::UnknownScenario {
            name: name.to_string(),
            available: all.join(", "),
        })?;
        let baseline = if kube_prometheus {
            let prom = local_prometheus::LocalPrometheus::start(&sc)?;
            let eval = kube_prometheus::evaluate(&prom.url(), &sc)
                .await
                .map_err(|source| SuiteError::Evaluate {
                    scenario: name.to_string(),
                    source,
                })?;
            Some(Baseline::new(eval, &sc.meta.truth))
        } else {
            None
        };
        let mut row = run_one(sc, catalog.clone(), Options::default()).await;
        row.kube_prometheus = baseline;
        rows.push(row);
    }
    Ok(SuiteReport { rows })
}
