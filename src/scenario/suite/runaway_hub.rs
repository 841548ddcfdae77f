//! `runaway-hub`: the seed's trap. A JupyterHub pod (`jhub/hub-…`,
//! container `hub`, matched by the shipped `pod=~hub-.*` selector) runs
//! away on its node from 08:10: every spawner leaves idle threads behind,
//! so its threads climb by thousands (about 30 a minute, ~7,000 by noon),
//! its CPU follows them past 0.7 cores (from about 09:50) and, once it is
//! busy, its own readiness probe times out more and more often. The
//! node's thread count and CPU rise by exactly the hub's. The other pods
//! on that node (and every other node) are fine; ordinary noise everywhere.
//!
//! What an SRE calls right: the hub's workload alerts (HubThreadsClimbing,
//! HubCPUHigh) and no alert and no cordon on its node — a workload's own
//! threads, CPU and probe timeouts are not its node's sickness (the
//! operators in the seed cordoned nodes for what was the hub's doing).
//! Truth: one workload incident (a `cluster_incidents` window, which
//! workload alerts satisfy), no faulty node.

use super::{at, small_world, World, END};
use crate::scenario::gen::{CounterStep, EventType, MetricRecorder, PodInfo};
use crate::scenario::{Family, Incident, Scenario};
use crate::time::{Duration, Timestamp};

/// Scenario name.
pub const NAME: &str = "runaway-hub";
/// One-line description.
pub const DESCRIPTION: &str = "The hub pod runs away on one of 12 nodes from 08:10 (threads +~30/min, CPU past 0.7 cores, its own probes time out); its node is fine";
const SEED: u64 = 0x6ab0_0001;
/// The node the hub runs on (index).
const NODE: usize = 5;
/// Threads the hub adds a minute while it runs away (idle spawner pools).
const THREADS_PER_MIN: f64 = 30.0;
/// Cores the hub burns per thousand of its threads (idle threads still
/// cost the interpreter: ~7,000 gave the seed's hub 125%).
const CORES_PER_1000: f64 = 0.17;

/// Generates the scenario, deterministically.
pub fn generate() -> Scenario {
    let mut w = small_world(NAME, DESCRIPTION, SEED, 12);
    let from = at(8, 10);
    let hub = add_hub(&mut w, NODE, from);
    let truth = super::truth(
        vec![],
        vec![Incident {
            from,
            to: END,
            kind: "workload: the hub runs away (its threads, CPU and probe timeouts); its node is fine"
                .to_string(),
        }],
    );
    let extra = hub.series(&w);
    let mut s = w.finish(truth);
    merge(&mut s.metrics, extra);
    s
}

/// A hub pod and what it does minute by minute.
pub(super) struct Hub {
    pod: PodInfo,
    /// Extra threads per grid minute.
    threads: Vec<f64>,
    /// Cores used per grid minute.
    cores: Vec<f64>,
    /// Probability that its readiness probe fails, per grid minute.
    fail: Vec<f64>,
}

/// Adds the hub to node `n`; it runs away from `from`, and the node's
/// own series (threads, CPU) carry its load.
pub(super) fn add_hub(w: &mut World, n: usize, from: Timestamp) -> Hub {
    let node = w.cluster.nodes[n].name.clone();
    let hash = w.cluster.template_hash("hub");
    let name = w.cluster.generate_name(&format!("hub-{hash}-"), "hub");
    let created = w.start.sub(Duration::mins(60 * 30));
    let i = w.add_pod("jhub", &name, "hub", &node, created, "ReplicaSet");
    w.cluster.pods[i]
        .labels
        .insert("component".to_string(), "hub".to_string());
    let pod = w.cluster.pods[i].clone();
    let mut r = w.rng.child("hub");
    let len = w.grid.len;
    let (mut threads, mut cores, mut fail) = (vec![0.0; len], vec![0.0; len], vec![0.0; len]);
    let mut extra = 0.0;
    for (k, t) in w.grid.points().enumerate() {
        if t >= from {
            extra += (THREADS_PER_MIN + r.normal(0.0, 8.0)).max(0.0);
        }
        threads[k] = extra;
        cores[k] = (0.04 + CORES_PER_1000 * extra / 1000.0 + r.normal(0.0, 0.02)).max(0.01);
        // A single-threaded event loop this busy answers /hub/health late.
        fail[k] = ((cores[k] - 0.6) / 0.8).clamp(0.0, 0.6);
    }
    for k in 0..len {
        w.stories[n].extra_threads[k] += threads[k];
        // Two CPUs per node.
        w.stories[n].extra_busy[k] += cores[k] / 2.0;
    }
    // Its readiness probe's timeouts, as the kubelet reports them.
    let msg = format!(
        "Readiness probe failed: Get \"http://{}:8081/hub/health\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
        pod.ip
    );
    for (k, t) in w.grid.points().enumerate() {
        let n_fail = (0..6).filter(|_| r.chance(fail[k])).count();
        for j in 0..n_fail {
            let at = t.add(Duration::secs(10 * j as i64 + r.range(0, 9)));
            w.events
                .kubelet(at, &pod, EventType::Warning, "Unhealthy", &msg);
        }
    }
    Hub {
        pod,
        threads,
        cores,
        fail,
    }
}

impl Hub {
    /// The hub's own series: cAdvisor's threads and CPU, the kubelet's
    /// readiness probe counters.
    pub(super) fn series(&self, w: &World) -> Vec<Family> {
        let mut m = MetricRecorder::new(w.seed ^ 0x0a0b, super::world::SCRAPE);
        let p = &self.pod;
        let g = &w.grid;
        let labels = [
            ("container", "hub"),
            ("namespace", p.namespace.as_str()),
            ("node", p.node.as_str()),
            ("pod", p.name.as_str()),
        ];
        let cadvisor = format!("cadvisor/{}", p.node);
        let mut r = w.rng.child("hub/series");
        m.gauge(
            "container_threads",
            "Number of threads running inside the container",
            &labels,
            &cadvisor,
            w.start,
            w.end,
            |t| (38.0 + self.threads[g.index(t)] + r.normal(0.0, 1.0)).round(),
        );
        m.counter(
            "container_cpu_usage_seconds_total",
            "Cumulative cpu time consumed by the container in core-seconds",
            &labels,
            &cadvisor,
            w.start,
            w.end,
            93_412.0,
            |a, b| CounterStep::Add(self.cores[g.index(b)] * (b.0 - a.0) as f64 / 1000.0),
        );
        let kubelet = format!("kubelet/{}", p.node);
        for result in ["successful", "failed"] {
            let labels = [
                ("container", "hub"),
                ("namespace", p.namespace.as_str()),
                ("node", p.node.as_str()),
                ("pod", p.name.as_str()),
                ("probe_type", "Readiness"),
                ("result", result),
            ];
            let initial = if result == "failed" { 2.0 } else { 10_800.0 };
            m.counter(
                "prober_probe_total",
                "Cumulative number of a liveness, readiness or startup probe for a container by result.",
                &labels,
                &kubelet,
                w.start,
                w.end,
                initial,
                |a, b| {
                    let probes = 6.0 * (b.0 - a.0) as f64 / 60_000.0;
                    let f = self.fail[g.index(b)];
                    CounterStep::Add(if result == "failed" { probes * f } else { probes * (1.0 - f) })
                },
            );
        }
        m.finish()
    }
}

/// Adds `extra` families to `metrics`, into the same-named family where
/// there is one (a name appears once in OpenMetrics).
pub(super) fn merge(metrics: &mut Vec<Family>, extra: Vec<Family>) {
    for fam in extra {
        match metrics.iter_mut().find(|f| f.name == fam.name) {
            Some(f) => f.series.extend(fam.series),
            None => metrics.push(fam),
        }
    }
}
