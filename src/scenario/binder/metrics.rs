//! The Binder scenario's series, with the real exporters' names and labels:
//! node_exporter (`instance`), kube-state-metrics, kubelet probes and
//! cAdvisor (`node`). The hub model is the heart of it: spawners keep 4
//! idle threads each, and the hub's CPU grows with its thread count.

use super::{feb20, feb21, feb22, node_name};
use super::{
    Cluster, Infra, Role, END, FIX, GRAFANA_RESTARTS, GRAFANA_TROUBLE, HUB_RESTARTS, LEAK_FROM,
    READINESS_WINDOWS, SCRAPE, START, VVSW_OUTAGE,
};
use crate::scenario::gen::exporters::{
    readiness_probe_series, HELP_CCPU, HELP_CONDITION, HELP_CPU, HELP_CTHREADS, HELP_MAX_THREADS,
    HELP_PROBE, HELP_THREADS,
};
use crate::scenario::gen::{within, CounterStep, Grid, MetricRecorder};
use crate::scenario::rng::Rng;
use crate::scenario::Family;
use crate::time::Timestamp;

/// New spawners per minute (each keeps 4 idle threads) from each time on.
const SPAWN_RATE: [(Timestamp, f64); 8] = [
    (LEAK_FROM, 6.0),
    (feb20(15, 20), 7.0),
    (feb20(17, 3), 5.0),
    (feb20(18, 0), 2.5),
    (feb20(21, 12), 0.5),
    (feb21(7, 0), 1.2),
    (feb21(22, 0), 0.6),
    (feb22(6, 18), 0.0),
];

/// Hub threads and CPU cores per minute of `grid`.
pub(super) struct Hub {
    /// Threads of the hub container.
    pub threads: Vec<f64>,
    /// CPU cores the hub container uses.
    pub cores: Vec<f64>,
}

/// The hub: ~100 threads; from 14:30 every spawner adds 4; restarts start
/// over; the fix ends the leak. CPU ≈ 0.03 + threads/5600 (a Python
/// process walking thousands of idle threads), overwhelmed by traffic in
/// the evening readiness windows (0.9–1.25 cores).
pub(super) fn hub_model(grid: &Grid, rng: &Rng) -> Hub {
    let mut r = rng.child("hub");
    let (mut spawners, mut threads, mut cores) = (0.0f64, Vec::new(), Vec::new());
    let mut spike = 0.0;
    for t in grid.points() {
        if HUB_RESTARTS.iter().any(|&x| t.sub(grid.step) < x && x <= t) {
            spawners = 0.0;
        }
        let rate = SPAWN_RATE
            .iter()
            .rev()
            .find(|(at, _)| *at <= t)
            .map_or(0.0, |&(_, v)| v);
        spawners += rate * r.uniform(0.5, 1.5);
        let n = (100.0 + 4.0 * spawners + r.normal(0.0, 3.0))
            .round()
            .max(1.0);
        let mut c = 0.03 + n / 5600.0 + r.normal(0.0, 0.015);
        let evening = within(t, feb20(18, 0), feb20(21, 0));
        if evening && READINESS_WINDOWS.iter().any(|&(a, b)| within(t, a, b)) {
            // Traffic floods a hub already near its limit.
            spike = (0.7 * spike + 0.3 * r.uniform(0.9, 1.25)).max(0.9);
            c = c.max(spike);
        } else {
            spike = 0.0;
        }
        if t >= FIX {
            c = 0.02 + r.normal(0.0, 0.004);
        }
        threads.push(n);
        cores.push(c.clamp(0.004, 1.25));
    }
    Hub { threads, cores }
}

/// Records every series of the scenario.
pub(super) fn record(
    c: &Cluster,
    infra: &Infra,
    users: &[Vec<u32>],
    grid: &Grid,
    rng: &Rng,
) -> Vec<Family> {
    let hub = hub_model(grid, rng);
    let total: Vec<f64> = (0..grid.len)
        .map(|i| users.iter().map(|u| f64::from(u[i])).sum())
        .collect();
    let mut m = MetricRecorder::new(0x005c_2a9e, SCRAPE);
    let hub_node = c.pods[infra.first(Role::Hub)].node.clone();
    for (n, node) in c.nodes.iter().enumerate() {
        let from = node.created.max(START);
        let name = node.name.as_str();
        let target = format!("node-exporter/{name}");
        let inst = [("instance", name)];
        let mut r = rng.child(&format!("node/{name}"));
        let hub_here = node.name == hub_node;
        m.gauge(
            "node_processes_threads",
            HELP_THREADS,
            &inst,
            &target,
            from,
            END,
            |t| {
                let i = grid.index(t);
                let extra = if hub_here { hub.threads[i] } else { 0.0 };
                (500.0 + 3.0 * f64::from(users[n][i]) + extra + r.normal(0.0, 8.0)).round()
            },
        );
        m.gauge(
            "node_processes_max_threads",
            HELP_MAX_THREADS,
            &inst,
            &target,
            from,
            END,
            |_| 126_000.0,
        );
        let uptime = (from.0 - node.created.0) as f64 / 1000.0 + 20.0;
        for cpu in ["0", "1"] {
            let mut r = rng.child(&format!("cpu/{name}/{cpu}"));
            let busy: Vec<f64> = (0..grid.len)
                .map(|i| {
                    let hub_share = if hub_here { hub.cores[i] / 2.0 } else { 0.0 };
                    (0.05 + 0.009 * f64::from(users[n][i]) + hub_share + r.normal(0.0, 0.02))
                        .clamp(0.02, 0.97)
                })
                .collect();
            for (mode, share, boot) in [
                ("idle", -1.0, 0.9),
                ("user", 0.7, 0.07),
                ("system", 0.3, 0.03),
            ] {
                let labels = [("cpu", cpu), ("instance", name), ("mode", mode)];
                m.counter(
                    "node_cpu_seconds_total",
                    HELP_CPU,
                    &labels,
                    &target,
                    from,
                    END,
                    uptime * boot,
                    |p, t| {
                        let b = busy[grid.index(t)];
                        let frac = if share < 0.0 { 1.0 - b } else { share * b };
                        CounterStep::Add(frac * (t.0 - p.0) as f64 / 1000.0)
                    },
                );
            }
        }
        for status in ["true", "false", "unknown"] {
            let labels = [("condition", "Ready"), ("node", name), ("status", status)];
            let v = if status == "true" { 1.0 } else { 0.0 };
            m.gauge(
                "kube_node_status_condition",
                HELP_CONDITION,
                &labels,
                "kube-state-metrics",
                from,
                END,
                |_| v,
            );
        }
    }
    for &(role, i) in &infra.pods {
        containers(&mut m, c, role, i, grid, &hub, &total, rng);
    }
    m.finish()
}

/// Probe counters (kubelet) and CPU/threads (cAdvisor) of one infra pod.
#[allow(clippy::too_many_arguments)] // Internal: the scenario's shared model, passed through.
fn containers(
    m: &mut MetricRecorder,
    c: &Cluster,
    role: Role,
    i: usize,
    grid: &Grid,
    hub: &Hub,
    total: &[f64],
    rng: &Rng,
) {
    let p = &c.pods[i];
    let from = p.created.max(START);
    let (ns, pod, container, node) = (
        p.namespace.as_str(),
        p.name.as_str(),
        p.container.as_str(),
        p.node.as_str(),
    );
    let mut r = rng.child(&format!("probe/{pod}"));
    let vvsw = node_name("vvsw");
    let failed: Vec<f64> = grid
        .points()
        .map(|t| {
            let p_fail = if node == vvsw && within(t, VVSW_OUTAGE.0, VVSW_OUTAGE.1) {
                1.0
            } else if role == Role::Grafana && within(t, GRAFANA_TROUBLE.0, GRAFANA_TROUBLE.1) {
                0.9
            } else if matches!(role, Role::Proxy | Role::Binder | Role::Ingress)
                && READINESS_WINDOWS.iter().any(|&(a, b)| within(t, a, b))
            {
                0.6
            } else {
                0.0005
            };
            (0..6).filter(|_| r.chance(p_fail)).count() as f64
        })
        .collect();
    let kubelet = format!("kubelet/{node}");
    for (result, initial, labels) in
        readiness_probe_series([ns, pod, container, node], p.created, from)
    {
        m.counter(
            "prober_probe_total",
            HELP_PROBE,
            &labels,
            &kubelet,
            from,
            END,
            initial,
            |_, t| {
                let f = failed[grid.index(t)];
                CounterStep::Add(if result == "failed" { f } else { 6.0 - f })
            },
        );
    }
    // cAdvisor: (threads, CPU cores at rest, cores per user pod in the cluster).
    let (threads, base, per_user): (f64, f64, f64) = match role {
        Role::Hub => (0.0, 0.0, 0.0),
        Role::Proxy => (11.0, 0.02, 0.0004),
        Role::Binder => (24.0, 0.01, 0.0002),
        Role::Grafana => (14.0, 0.01, 0.0),
        Role::Prometheus => (46.0, 0.12, 0.0002),
        Role::Ingress => (33.0, 0.02, 0.0003),
        Role::KubeDns => (18.0, 0.004, 0.00002),
        Role::NodeExporter => (7.0, 0.002, 0.0),
    };
    let restarts: &[Timestamp] = match role {
        Role::Hub => &HUB_RESTARTS,
        Role::Grafana => &GRAFANA_RESTARTS,
        _ => &[],
    };
    let mut r = rng.child(&format!("cadvisor/{pod}"));
    let cores: Vec<f64> = (0..grid.len)
        .map(|k| match role {
            Role::Hub => hub.cores[k],
            _ => (base + per_user * total[k] + r.normal(0.0, base * 0.1)).max(0.0005),
        })
        .collect();
    let cadvisor = format!("cadvisor/{node}");
    let labels = [
        ("container", container),
        ("namespace", ns),
        ("node", node),
        ("pod", pod),
    ];
    let initial = cores[0] * (from.0 - p.created.0) as f64 / 1000.0;
    m.counter(
        "container_cpu_usage_seconds_total",
        HELP_CCPU,
        &labels,
        &cadvisor,
        from,
        END,
        initial,
        |prev, t| {
            let k = grid.index(t);
            match restarts.iter().find(|&&x| prev < x && x <= t) {
                Some(&x) => CounterStep::Reset(cores[k] * (t.0 - x.0) as f64 / 1000.0),
                None => CounterStep::Add(cores[k] * (t.0 - prev.0) as f64 / 1000.0),
            }
        },
    );
    let mut r = rng.child(&format!("threads/{pod}"));
    m.gauge(
        "container_threads",
        HELP_CTHREADS,
        &labels,
        &cadvisor,
        from,
        END,
        |t| {
            let k = grid.index(t);
            let fresh = restarts.iter().any(|&x| x <= t && t.0 - x.0 < 120_000);
            match role {
                Role::Hub => hub.threads[k],
                _ if fresh => (threads * 0.6).round(),
                _ => (threads + r.normal(0.0, 1.0)).round().max(1.0),
            }
        },
    );
}
