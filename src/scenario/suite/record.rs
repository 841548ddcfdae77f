//! Records a [`World`]'s series as Prometheus would have scraped them,
//! with the real exporters' names and labels: node_exporter (`instance`),
//! kubelet probes and cAdvisor (`node`), kube-state-metrics (`node`). A
//! node's own targets are missing while its story says Prometheus cannot
//! scrape them (samples simply stop, counters carry on underneath).

use super::world::{World, APPS, SCRAPE, THREADS_MAX};
use crate::scenario::gen::exporters::{
    readiness_probe_series, HELP_CONDITION, HELP_CPU, HELP_CTHREADS, HELP_MAX_THREADS, HELP_PROBE,
    HELP_THREADS,
};
use crate::scenario::gen::{within, CounterStep, MetricRecorder};
use crate::scenario::Family;
use crate::time::Timestamp;

const HELP_UP: &str = "1 if the target was scraped successfully, 0 if not (Prometheus).";
const HELP_TAINT: &str = "The taint of a cluster node.";
/// Readiness probes per minute (periodSeconds 10).
const PROBES_PER_MIN: usize = 6;
/// Probe failures that happen anyway (a slow response now and then).
const BASE_FAIL: f64 = 0.0005;

/// Which scrapes of a target are recorded.
pub(super) type Scraped<'a> = &'a dyn Fn(Timestamp) -> bool;

/// Records a gauge at the scraped times only.
#[allow(clippy::too_many_arguments)] // A series definition plus its gaps.
pub(super) fn gauge(
    m: &mut MetricRecorder,
    name: &str,
    help: &str,
    labels: &[(&str, &str)],
    target: &str,
    (from, to): (Timestamp, Timestamp),
    scraped: Scraped,
    mut value: impl FnMut(Timestamp) -> f64,
) {
    for (a, b) in runs(&m.scrapes(target, from, to), scraped) {
        m.gauge(name, help, labels, target, a, b, &mut value);
    }
}

/// Records a counter whose value moves by `incr(prev, now)` between
/// scrapes, at the scraped times only: after a gap it resumes where the
/// process got to meanwhile, as a real counter does.
#[allow(clippy::too_many_arguments)] // As for `gauge`, plus the start value.
fn counter(
    m: &mut MetricRecorder,
    name: &str,
    help: &str,
    labels: &[(&str, &str)],
    target: &str,
    (from, to): (Timestamp, Timestamp),
    initial: f64,
    scraped: Scraped,
    mut incr: impl FnMut(Timestamp, Timestamp) -> f64,
) {
    let times = m.scrapes(target, from, to);
    let mut values = Vec::with_capacity(times.len());
    let mut v = initial;
    for (k, &t) in times.iter().enumerate() {
        if k > 0 {
            v += incr(times[k - 1], t).max(0.0);
        }
        values.push(v);
    }
    let at = |t: Timestamp| times.binary_search(&t).map_or(0.0, |k| values[k]);
    for (a, b) in runs(&times, scraped) {
        m.counter(name, help, labels, target, a, b, at(a), |p, t| {
            CounterStep::Add(at(t) - at(p))
        });
    }
}

/// Contiguous runs of scraped times, as (first, last).
fn runs(times: &[Timestamp], scraped: Scraped) -> Vec<(Timestamp, Timestamp)> {
    let mut out = Vec::new();
    let mut open: Option<(Timestamp, Timestamp)> = None;
    for &t in times {
        match (scraped(t), open.as_mut()) {
            (true, Some(run)) => run.1 = t,
            (true, None) => open = Some((t, t)),
            (false, _) => out.extend(open.take()),
        }
    }
    out.extend(open);
    out
}

/// Every series of the world.
pub(super) fn record(w: &World) -> Vec<Family> {
    let mut m = MetricRecorder::new(w.seed ^ 0x5c2a_9e00, SCRAPE);
    let g = &w.grid;
    for (n, node) in w.cluster.nodes.iter().enumerate() {
        let s = &w.stories[n];
        let span = (
            node.created.max(w.start),
            node.deleted.map_or(w.end, |d| d.min(w.end)),
        );
        let name = node.name.as_str();
        let scraped = |t: Timestamp| s.scraped[g.index(t)];
        let exporter = format!("node-exporter/{name}");
        let inst = [("instance", name)];
        let mut r = w.rng.child(&format!("series/{name}"));
        let pods = w
            .probed
            .iter()
            .filter(|&&i| w.cluster.pods[i].node == node.name)
            .count() as f64;
        gauge(
            &mut m,
            "node_processes_threads",
            HELP_THREADS,
            &inst,
            &exporter,
            span,
            &scraped,
            |t| {
                let i = g.index(t);
                let diurnal = w.load_threads(name, i);
                (380.0 + 26.0 * pods + s.extra_threads[i] + diurnal + r.normal(0.0, 6.0)).round()
            },
        );
        gauge(
            &mut m,
            "node_processes_max_threads",
            HELP_MAX_THREADS,
            &inst,
            &exporter,
            span,
            &scraped,
            |_| THREADS_MAX,
        );
        let base = r.uniform(0.12, 0.3);
        for cpu in ["0", "1"] {
            let mut r = w.rng.child(&format!("cpu/{name}/{cpu}"));
            let busy: Vec<f64> = (0..g.len)
                .map(|i| {
                    (base * w.load[i] + s.extra_busy[i] + r.normal(0.0, 0.02)).clamp(0.02, 0.98)
                })
                .collect();
            for (mode, share) in [("idle", -1.0), ("user", 0.7), ("system", 0.3)] {
                let labels = [("cpu", cpu), ("instance", name), ("mode", mode)];
                let initial = 86_400.0 * if share < 0.0 { 0.8 } else { 0.2 * share };
                counter(
                    &mut m,
                    "node_cpu_seconds_total",
                    HELP_CPU,
                    &labels,
                    &exporter,
                    span,
                    initial,
                    &scraped,
                    |p, t| {
                        let b = busy[g.index(t)];
                        let frac = if share < 0.0 { 1.0 - b } else { share * b };
                        frac * (t.0 - p.0) as f64 / 1000.0
                    },
                );
            }
        }
        // Prometheus' own `up` for the node's targets, 0 while unreachable.
        for (job, path, target) in [
            ("node-exporter", "/metrics", &exporter),
            ("kubelet", "/metrics", &format!("kubelet/{name}")),
            ("kubelet", "/metrics/cadvisor", &format!("cadvisor/{name}")),
        ] {
            let labels = [("instance", name), ("job", job), ("metrics_path", path)];
            gauge(
                &mut m,
                "up",
                HELP_UP,
                &labels,
                target,
                span,
                &|_| true,
                |t| f64::from(u8::from(scraped(t))),
            );
        }
        // The node controller's taint while the node is not ready (the
        // series exists only while the taint does).
        let labels = [
            ("effect", "NoSchedule"),
            ("key", "node.kubernetes.io/not-ready"),
            ("node", name),
            ("value", ""),
        ];
        let not_ready = |t: Timestamp| !s.ready[g.index(t)];
        gauge(
            &mut m,
            "kube_node_spec_taint",
            HELP_TAINT,
            &labels,
            "kube-state-metrics",
            span,
            &not_ready,
            |_| 1.0,
        );
        for status in ["true", "false", "unknown"] {
            let labels = [("condition", "Ready"), ("node", name), ("status", status)];
            gauge(
                &mut m,
                "kube_node_status_condition",
                HELP_CONDITION,
                &labels,
                "kube-state-metrics",
                span,
                &|_| true,
                |t| {
                    let ready = s.ready[g.index(t)];
                    f64::from(u8::from((status == "true") == ready && status != "unknown"))
                },
            );
        }
    }
    for n in 0..w.cluster.nodes.len() {
        super::npd::record(&mut m, w, n);
    }
    for &i in &w.probed {
        pod_series(&mut m, w, i);
    }
    for i in 0..w.cluster.pods.len() {
        super::kube_state::pod(&mut m, w, i);
    }
    m.finish()
}

/// Readiness probe counters (kubelet) and threads (cAdvisor) of one pod.
fn pod_series(m: &mut MetricRecorder, w: &World, i: usize) {
    let p = &w.cluster.pods[i];
    let g = &w.grid;
    let Some(n) = w.cluster.nodes.iter().position(|x| x.name == p.node) else {
        return;
    };
    let s = &w.stories[n];
    let from = p.created.max(w.start);
    let to = p.deleted.map_or(w.end, |d| d.min(w.end));
    if to <= from {
        return;
    }
    let scraped = |t: Timestamp| s.scraped[g.index(t)];
    let mut r = w.rng.child(&format!("probe/{}", p.name));
    let failed: Vec<f64> = g
        .points()
        .enumerate()
        .map(|(k, t)| {
            let starting = w.pod_state[i].unready.iter().any(|&(a, b)| within(t, a, b));
            let p_fail = if starting {
                1.0
            } else {
                s.probe_fail[k].max(BASE_FAIL)
            };
            (0..PROBES_PER_MIN).filter(|_| r.chance(p_fail)).count() as f64
        })
        .collect();
    let (ns, pod, container, node) = (
        p.namespace.as_str(),
        p.name.as_str(),
        p.container.as_str(),
        p.node.as_str(),
    );
    let kubelet = format!("kubelet/{node}");
    for (result, initial, labels) in
        readiness_probe_series([ns, pod, container, node], p.created, from)
    {
        counter(
            m,
            "prober_probe_total",
            HELP_PROBE,
            &labels,
            &kubelet,
            (from, to),
            initial,
            &scraped,
            |p, t| {
                let f = failed[g.index(t)];
                let probes = PROBES_PER_MIN as f64 * (t.0 - p.0) as f64 / 60_000.0;
                if result == "failed" {
                    f
                } else {
                    (probes - f).max(0.0)
                }
            },
        );
    }
    let threads = APPS.iter().find(|a| a.1 == container).map_or(8.0, |a| a.2);
    let leaks = s.leaking_pod == Some(i);
    let mut r = w.rng.child(&format!("threads/{pod}"));
    let labels = [
        ("container", container),
        ("namespace", ns),
        ("node", node),
        ("pod", pod),
    ];
    gauge(
        m,
        "container_threads",
        HELP_CTHREADS,
        &labels,
        &format!("cadvisor/{node}"),
        (from, to),
        &scraped,
        |t| {
            let i = g.index(t);
            let mut extra = if leaks { s.extra_threads[i] } else { 0.0 };
            if container == "worker" {
                extra += w.load_threads(node, i);
            }
            (threads + extra + r.normal(0.0, 1.0)).round().max(1.0)
        },
    );
}
