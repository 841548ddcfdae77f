//! "One definition, two evaluators": every metric signal of the default
//! catalog, rendered to PromQL and sent by the live collector to a real
//! Prometheus 2.42 holding a backfilled scenario, must give the same
//! per-subject values as the embedded evaluator on the same samples: same
//! subjects, relative difference ≤ 1e-9 (NaN matching NaN).
//!
//! Three scenarios: the built-in Binder incident (hub counters reset when
//! the hub restarts), `kernel-deadlock` (node-problem-detector's series on
//! one node), and a small generated one built to poke at the edges:
//! counters that reset, series that start late and stop early, a pod-level
//! cAdvisor series the `container!=""` matcher must drop. Instants are the
//! evaluation grid spread over the scenario plus the instants around every
//! counter reset, series start and series end (lookback edges included).

use nodewatch_testkit as support;

use nodewatch::catalog::Catalog;
use nodewatch::collect::prometheus::{PrometheusCollector, PrometheusConfig};
use nodewatch::collect::tsdb::Tsdb;
use nodewatch::collect::{MetricSource, SignalResult};
use nodewatch::scenario::gen::{utc, CounterStep, MetricRecorder};
use nodewatch::scenario::rng::Rng;
use nodewatch::scenario::{self, Meta, MetricType, Scenario};
use nodewatch::time::{Duration, Timestamp};
use std::collections::BTreeMap;
use support::prometheus::Prometheus;

/// Evenly spread grid instants per scenario.
const GRID_INSTANTS: usize = 60;
/// Instants taken around resets, starts and ends (at most).
const EDGE_INSTANTS: usize = 60;
/// Largest relative difference accepted.
const TOLERANCE: f64 = 1e-9;

/// The optional exporters' signals (node-problem-detector, the EKS node
/// monitoring agent): scenarios without those exporters have no data.
const NO_NODE_PROBLEMS: [&str; 3] = [
    "node_problem_conditions",
    "node_health_conditions_failing",
    "npd_problem_gauge",
];

#[tokio::test]
async fn builtin_binder_scenario() {
    let s = scenario::builtin("binder").expect("built-in binder scenario");
    agree(s, &NO_NODE_PROBLEMS).await;
}

/// node-problem-detector's condition and gauge, on one node only: the
/// regex matchers of the node-problem signals and series that exist on a
/// single subject.
#[tokio::test]
async fn builtin_kernel_deadlock_scenario() {
    let s = scenario::builtin("kernel-deadlock").expect("built-in scenario");
    for metric in ["kube_node_status_condition", "problem_gauge"] {
        assert!(s.metrics.iter().any(|f| f.name == metric), "{metric}");
    }
    agree(
        s,
        &["node_health_conditions_failing", "hub_cpu", "hub_threads"],
    )
    .await;
}

#[tokio::test]
async fn resets_late_starts_and_early_stops() {
    agree(edge_scenario(), &NO_NODE_PROBLEMS).await;
}

/// Backfills `s` into a real Prometheus and compares both evaluators.
async fn agree(s: Scenario, no_data: &[&str]) {
    let dir = tempfile::tempdir().expect("temp dir");
    scenario::write_dir(&s, dir.path()).expect("write scenario");
    let prom = Prometheus::with_scenario(dir.path());
    let mut cfg = PrometheusConfig::new(prom.url());
    cfg.timeout = Duration::secs(30);
    let mut live = PrometheusCollector::new(&cfg).expect("collector");
    let catalog = Catalog::builtin();
    let instants = instants(&s);
    assert!(instants.len() >= 50, "only {} instants", instants.len());
    let mut embedded = Tsdb::new(s.metrics.clone());
    let mut mismatches = Vec::new();
    let mut compared: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for &at in &instants {
        let ours = embedded.metrics(at, &catalog).await;
        let theirs = live.metrics(at, &catalog).await;
        for (i, sig) in catalog.signals.iter().enumerate() {
            let (Some(a), Some(b)) = (&ours[i], &theirs[i]) else {
                assert!(
                    ours[i].is_none() && theirs[i].is_none(),
                    "{}: one side skipped it",
                    sig.name
                );
                continue;
            };
            let entry = compared.entry(sig.name.as_str()).or_default();
            entry.0 += 1;
            entry.1 += rows(a).len();
            if let Some(m) = differ(rows(a), rows(b)) {
                mismatches.push(format!("{} at {at}: {m}", sig.name));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches, first ones:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    let metric_signals = catalog
        .signals
        .iter()
        .filter(|s| s.metric.is_some())
        .count();
    assert_eq!(compared.len(), metric_signals);
    // Every signal had values, or the comparison proves nothing about it,
    // except those the scenario has no data for (and those have none).
    for (name, (n, values)) in &compared {
        assert!(*n >= 50, "{name}: compared at {n} instants only");
        assert_eq!(
            *values == 0,
            no_data.contains(name),
            "{name}: {values} values (expected none: {no_data:?})"
        );
    }
    assert_eq!(live.health().state().errors.values().sum::<u64>(), 0);
    eprintln!(
        "{}: {} instants; values compared per signal: {compared:?}",
        s.meta.name,
        instants.len()
    );
}

fn rows(r: &SignalResult) -> &[(Vec<String>, f64)] {
    match r {
        Ok(rows) => rows,
        Err(e) => panic!("query failed: {e}"),
    }
}

/// Why two results differ, if they do.
fn differ(a: &[(Vec<String>, f64)], b: &[(Vec<String>, f64)]) -> Option<String> {
    let keys = |r: &[(Vec<String>, f64)]| r.iter().map(|(k, _)| k.join("/")).collect::<Vec<_>>();
    if keys(a) != keys(b) {
        return Some(format!(
            "subjects differ: embedded {:?}, prometheus {:?}",
            keys(a),
            keys(b)
        ));
    }
    for ((k, x), (_, y)) in a.iter().zip(b) {
        let same = (x.is_nan() && y.is_nan())
            || x == y
            || (x - y).abs() <= TOLERANCE * x.abs().max(y.abs());
        if !same {
            return Some(format!("{}: embedded {x:e}, prometheus {y:e}", k.join("/")));
        }
    }
    None
}

/// The evaluation grid spread evenly, plus instants at and after every
/// counter reset, series start and series end (up to 5 min later, the
/// lookback and rate window edges).
fn instants(s: &Scenario) -> Vec<Timestamp> {
    let (start, end, step) = (s.meta.start.0, s.meta.end.0, s.meta.step.0);
    let steps = (end - start) / step;
    let mut grid: Vec<i64> = (0..GRID_INSTANTS as i64)
        .map(|k| start + (k * steps / (GRID_INSTANTS as i64 - 1)) * step)
        .collect();
    let mut edges = Vec::new();
    for fam in &s.metrics {
        for series in &fam.series {
            let (Some(first), Some(last)) = (series.samples.first(), series.samples.last()) else {
                continue;
            };
            let mut marks = vec![first.0, last.0];
            if fam.kind == MetricType::Counter {
                marks.extend(
                    series
                        .samples
                        .windows(2)
                        .filter(|w| w[1].1 < w[0].1)
                        .map(|w| w[1].0),
                );
            }
            for m in marks {
                for after in [0, 1_000, 60_000, 150_000, 299_000, 300_000, 301_000] {
                    edges.push(m + after);
                }
            }
        }
    }
    edges.retain(|t| (start..=end).contains(t));
    edges.sort_unstable();
    edges.dedup();
    // An even pick keeps the count bounded whatever the scenario holds.
    let stride = edges.len().div_ceil(EDGE_INSTANTS).max(1);
    grid.extend(edges.into_iter().step_by(stride));
    grid.sort_unstable();
    grid.dedup();
    grid.into_iter().map(Timestamp).collect()
}

/// Four nodes over six hours: n-late joins after 1 h, n-early leaves 1 h
/// before the end, n-reboot's counters reset; the hub restarts (its CPU
/// counter resets) and a second hub pod starts late; probe counters reset
/// with the kubelet; one cAdvisor series is pod-level (`container=""`).
fn edge_scenario() -> Scenario {
    let start = utc(2019, 6, 1, 0, 0);
    let end = utc(2019, 6, 1, 6, 0);
    let hour = Duration::mins(60);
    let mut rec = MetricRecorder::new(7, Duration::secs(30));
    let mut rng = Rng::new(11);
    let nodes = [
        ("n-steady", start, end),
        ("n-late", start.add(hour), end),
        ("n-early", start, end.sub(hour)),
        ("n-reboot", start, end),
    ];
    let reboot = start.add(Duration::mins(150));
    for (node, from, to) in nodes {
        let resets = node == "n-reboot";
        let max = 30_000.0 + rng.range(0, 5000) as f64;
        rec.gauge(
            "node_processes_max_threads",
            "",
            &[("instance", node)],
            node,
            from,
            to,
            |_| max,
        );
        let mut r = rng.child(node);
        rec.gauge(
            "node_processes_threads",
            "",
            &[("instance", node)],
            node,
            from,
            to,
            |_| (800.0 + r.normal(0.0, 40.0)).round(),
        );
        for (cpu, mode, rate) in [
            ("0", "idle", 0.7),
            ("0", "user", 0.25),
            ("1", "idle", 0.6),
            ("1", "system", 0.1),
        ] {
            let labels = [("instance", node), ("cpu", cpu), ("mode", mode)];
            let mut r = rng.child(&format!("{node}/{cpu}/{mode}"));
            rec.counter(
                "node_cpu_seconds_total",
                "",
                &labels,
                node,
                from,
                to,
                1000.0,
                |p, t| {
                    if resets && p < reboot && t >= reboot {
                        CounterStep::Reset(0.5)
                    } else {
                        CounterStep::Add(t.since(p).as_secs_f64() * rate * r.uniform(0.8, 1.2))
                    }
                },
            );
        }
        let kubelet_restart = start.add(Duration::mins(200));
        for (result, p) in [("successful", 1.0), ("failed", 0.05)] {
            let labels = [
                ("node", node),
                ("probe_type", "Readiness"),
                ("result", result),
            ];
            let mut r = rng.child(&format!("{node}/probe/{result}"));
            rec.counter(
                "prober_probe_total",
                "",
                &labels,
                node,
                from,
                to,
                0.0,
                |prev, t| {
                    if prev < kubelet_restart && t >= kubelet_restart {
                        CounterStep::Reset(0.0)
                    } else {
                        CounterStep::Add(if r.chance(p) { 3.0 } else { 0.0 })
                    }
                },
            );
        }
        let ready = |t: Timestamp| {
            if node == "n-reboot" && t >= reboot && t < reboot.add(Duration::mins(4)) {
                0.0
            } else {
                1.0
            }
        };
        let labels = [("node", node), ("condition", "Ready"), ("status", "true")];
        rec.gauge(
            "kube_node_status_condition",
            "",
            &labels,
            node,
            from,
            to,
            ready,
        );
        for (container, base) in [("web", 40.0), ("", 45.0)] {
            let labels = [
                ("node", node),
                ("namespace", "prod"),
                ("pod", "web-1"),
                ("container", container),
            ];
            rec.gauge("container_threads", "", &labels, node, from, to, |_| base);
        }
    }
    let hub_restart = start.add(Duration::mins(170));
    for (pod, from) in [
        ("hub-7f9c", start),
        ("hub-late", start.add(Duration::mins(95))),
    ] {
        let labels = [
            ("node", "n-steady"),
            ("namespace", "prod"),
            ("pod", pod),
            ("container", "hub"),
        ];
        let mut r = rng.child(pod);
        rec.counter(
            "container_cpu_usage_seconds_total",
            "",
            &labels,
            "n-steady",
            from,
            end,
            10.0,
            |p, t| {
                if p < hub_restart && t >= hub_restart {
                    CounterStep::Reset(0.2)
                } else {
                    CounterStep::Add(t.since(p).as_secs_f64() * r.uniform(0.3, 0.9))
                }
            },
        );
        let mut threads = 300.0;
        rec.gauge(
            "container_threads",
            "",
            &labels,
            "n-steady",
            from,
            end,
            |_| {
                threads += 1.0;
                threads
            },
        );
    }
    Scenario {
        meta: Meta {
            name: "edges".into(),
            description: "counter resets, late and early series".into(),
            start,
            end,
            step: Duration::secs(30),
            maintenance_windows: Vec::new(),
            truth: Default::default(),
        },
        metrics: rec.finish(),
        ..Default::default()
    }
}
