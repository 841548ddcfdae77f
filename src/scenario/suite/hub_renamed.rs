//! `hub-renamed`: a university cluster runs two JupyterHubs. Teaching's is
//! a Zero to JupyterHub install (`hub-…`, container `hub`) on the
//! `default-pool`; research's is a hand-written Deployment named
//! `jupyterhub` (pod `jupyterhub-7c9f8d6b5-x2k4q`, container `jupyterhub`,
//! labels `app=jupyterhub,component=hub`) on the `research-pool`. From
//! 08:40 the research hub overloads: its CPU climbs from 0.2 to 0.95–1.3
//! cores and stays there, its threads climb by about 12 a minute, and from
//! 09:05 its own readiness probe (`/hub/health` on 8081) times out every
//! few minutes. Its node is otherwise fine: the hub's CPU and threads are
//! the only change on it.
//!
//! What an SRE expects: the overload is found (a workload alert about the
//! research hub, whatever its pod is called), the teaching hub stays
//! quiet, and no node is alerted on or cordoned — the hub is the problem,
//! not its node.

use super::world::SCRAPE;
use super::{at, truth, World, END, START};
use crate::scenario::gen::{CounterStep, EventType, MetricRecorder, PodInfo};
use crate::scenario::{Family, Incident, Scenario};
use crate::time::{Duration, Timestamp};

/// Scenario name.
pub const NAME: &str = "hub-renamed";
/// One-line description.
pub const DESCRIPTION: &str =
    "A hub named jupyterhub-… (container jupyterhub) overloads from 08:40; a Zero to JupyterHub hub beside it is fine";
const SEED: u64 = 0x4ab_7e4a;
/// Nodes of the `default-pool` (teaching) and of the `research-pool`.
const DEFAULT_NODES: usize = 6;
const RESEARCH_NODES: usize = 4;
/// The teaching hub's node and the research hub's node (indices).
const TEACHING_NODE: usize = 2;
const RESEARCH_NODE: usize = DEFAULT_NODES + 1;
/// The research hub's pod (a Deployment's ReplicaSet pod name).
pub const RESEARCH_HUB: &str = "jupyterhub-7c9f8d6b5-x2k4q";
/// The teaching hub's pod (Zero to JupyterHub's naming).
pub const TEACHING_HUB: &str = "hub-5d8f7b9c4-m7k2p";
/// When the overload begins.
const OVERLOAD: Timestamp = at(8, 40);
/// CPUs of a node (the world's node_exporter records two).
const CPUS: f64 = 2.0;

/// One hub: its pod and its CPU (cores) and threads minute by minute.
struct Hub {
    pod: usize,
    cores: Vec<f64>,
    threads: Vec<f64>,
}

/// Generates the scenario, deterministically.
pub fn generate() -> Scenario {
    let mut w = World::new(NAME, DESCRIPTION, SEED, START, END);
    for i in 0..DEFAULT_NODES + RESEARCH_NODES {
        let pool = if i < DEFAULT_NODES {
            "default-pool"
        } else {
            "research-pool"
        };
        w.add_node_in(
            i,
            START.sub(Duration::mins(60 * 24 * 4 + 23 * i as i64)),
            pool,
        );
    }
    let created = START.sub(Duration::mins(60 * 24 * 2));
    let teaching = hub_pod(
        &mut w,
        "teaching",
        TEACHING_HUB,
        "hub",
        TEACHING_NODE,
        created,
    );
    let research = hub_pod(
        &mut w,
        "research",
        RESEARCH_HUB,
        "jupyterhub",
        RESEARCH_NODE,
        created,
    );
    let g = w.grid;
    let mut r = w.rng.child("hubs");
    let quiet = |r: &mut crate::scenario::rng::Rng, base: f64| -> Vec<f64> {
        (0..g.len)
            .map(|k| (base + 0.04 * (k as f64 / 60.0).sin() + r.normal(0.0, 0.015)).max(0.02))
            .collect()
    };
    let teaching = Hub {
        pod: teaching,
        cores: quiet(&mut r, 0.22),
        threads: (0..g.len)
            .map(|_| (34.0 + r.normal(0.0, 1.0)).round())
            .collect(),
    };
    let mut research = Hub {
        pod: research,
        cores: quiet(&mut r, 0.18),
        threads: (0..g.len)
            .map(|_| (45.0 + r.normal(0.0, 1.5)).round())
            .collect(),
    };
    // The overload: CPU ramps over 20 minutes, then stays high and noisy;
    // threads climb steadily (spawner threads that never finish).
    let from = g.index(OVERLOAD);
    let mut level = 1.1;
    for k in from..g.len {
        let ramp = ((k - from) as f64 / 20.0).min(1.0);
        level = (level + r.normal(0.0, 0.03)).clamp(0.95, 1.3);
        research.cores[k] += ramp * (level - 0.18);
        research.threads[k] += (12.0 * (k - from) as f64 + r.normal(0.0, 4.0))
            .round()
            .max(0.0);
    }
    // The hub's node carries the hub's CPU and threads, nothing else.
    for k in 0..g.len {
        let s = &mut w.stories[RESEARCH_NODE];
        s.extra_busy[k] = (research.cores[k] - 0.18).max(0.0) / CPUS;
        s.extra_threads[k] = research.threads[k] - 45.0;
    }
    probe_timeouts(&mut w, research.pod, at(9, 5));
    let incident = Incident {
        from: OVERLOAD,
        to: END,
        kind: format!(
            "hub overload: research/{RESEARCH_HUB} above 0.7 cores for hours, threads climbing"
        ),
    };
    let extra = hub_series(&w, &[&teaching, &research]);
    let mut sc = w.finish(truth(vec![], vec![incident]));
    merge(&mut sc.metrics, extra);
    sc
}

/// Adds a hub pod (a ReplicaSet's, labelled as its chart labels it).
fn hub_pod(
    w: &mut World,
    ns: &str,
    name: &str,
    container: &str,
    node: usize,
    created: Timestamp,
) -> usize {
    let node = w.cluster.nodes[node].name.clone();
    let i = w.add_pod(ns, name, container, &node, created, "ReplicaSet");
    let labels = &mut w.cluster.pods[i].labels;
    labels.insert("app".into(), "jupyterhub".into());
    labels.insert("component".into(), "hub".into());
    i
}

/// The hub's readiness probe timing out every 3–8 minutes from `from`.
fn probe_timeouts(w: &mut World, pod: usize, from: Timestamp) {
    let p: PodInfo = w.cluster.pods[pod].clone();
    let msg = format!(
        "Readiness probe failed: Get \"http://{}:8081/hub/health\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
        p.ip
    );
    let mut r = w.rng.child("probes");
    w.events.kubelet_repeat(
        &mut r,
        &p,
        from,
        END,
        (180_000, 480_000),
        EventType::Warning,
        "Unhealthy",
        &msg,
    );
}

/// cAdvisor's series of the hubs: CPU seconds and threads.
fn hub_series(w: &World, hubs: &[&Hub]) -> Vec<Family> {
    let mut m = MetricRecorder::new(w.seed ^ 0x5c2a_9e00, SCRAPE);
    let g = w.grid;
    for h in hubs {
        let p = &w.cluster.pods[h.pod];
        let target = format!("cadvisor/{}", p.node);
        let image = "quay.io/jupyterhub/k8s-hub:3.3.7";
        let labels = [
            ("container", p.container.as_str()),
            ("image", image),
            ("namespace", p.namespace.as_str()),
            ("node", p.node.as_str()),
            ("pod", p.name.as_str()),
        ];
        m.counter(
            "container_cpu_usage_seconds_total",
            "Cumulative cpu time consumed in seconds.",
            &labels,
            &target,
            w.start,
            w.end,
            86_400.0 * 0.2,
            |a, b| CounterStep::Add(h.cores[g.index(b)] * (b.0 - a.0) as f64 / 1000.0),
        );
        m.gauge(
            "container_threads",
            "Number of threads running inside the container",
            &labels[..],
            &target,
            w.start,
            w.end,
            |t| h.threads[g.index(t)],
        );
    }
    m.finish()
}

/// Adds `extra`'s series to the families of the same name.
fn merge(into: &mut Vec<Family>, extra: Vec<Family>) {
    for f in extra {
        match into.iter_mut().find(|x| x.name == f.name) {
            Some(x) => x.series.extend(f.series),
            None => into.push(f),
        }
    }
}
