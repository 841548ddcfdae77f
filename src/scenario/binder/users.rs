//! The Binder scenario's user pods: how many people launched JupyterLab,
//! where the scheduler put them, when they were culled, and the routine
//! events each launch leaves (plus rare isolated warnings a good detector
//! must ignore). User pods carry no probe or cAdvisor series (that keeps
//! `metrics.om` small) but feed the node-level series through their count.

use super::{
    feb20, feb21, feb22, Cluster, EventRecorder, Rng, END, READINESS_WINDOWS, START, USER_IMAGE,
    USER_PREFIX, VVSW_OUTAGE,
};
use crate::scenario::gen::{within, EventType, Grid, Involved};
use crate::time::{Duration, Timestamp};

/// User pods a node takes before the scheduler looks elsewhere (and the
/// autoscaler adds nodes).
const NODE_CAPACITY: u32 = 90;

/// People wanting a JupyterLab at each time (linear in between).
const DEMAND: [(Timestamp, f64); 14] = [
    (START, 50.0),
    (feb20(13, 17), 50.0),
    (feb20(14, 0), 650.0),
    (feb20(17, 0), 650.0),
    (feb20(18, 30), 420.0),
    (feb20(21, 0), 380.0),
    (feb20(21, 12), 300.0),
    (feb20(23, 0), 140.0),
    (feb21(4, 0), 50.0),
    (feb21(10, 0), 110.0),
    (feb21(15, 0), 180.0),
    (feb21(21, 0), 150.0),
    (feb22(2, 0), 60.0),
    (END, 70.0),
];

fn demand(t: Timestamp) -> f64 {
    let mut prev = DEMAND[0];
    for &(at, v) in &DEMAND {
        if t <= at {
            let span = (at.0 - prev.0 .0).max(1) as f64;
            return prev.1 + (v - prev.1) * (t.0 - prev.0 .0) as f64 / span;
        }
        prev = (at, v);
    }
    prev.1
}

/// The per-repo limit: 300, raised to 500 at 14:32, back to 300 at 17:03.
fn limit(t: Timestamp) -> f64 {
    if within(t, feb20(14, 32), feb20(17, 3)) {
        500.0
    } else {
        300.0
    }
}

/// Simulates user pods minute by minute and records their events.
pub(super) fn simulate(c: &mut Cluster, ev: &mut EventRecorder, rng: &Rng) {
    let mut r = rng.child("launches");
    let mut alive: Vec<usize> = Vec::new();
    let mut pulled: Vec<String> = Vec::new(); // Nodes that already have the image.
    let mut ordinal = 0u64;
    for t in Grid::new(START, END, Duration::mins(1)).points() {
        alive.retain(|&i| c.pods[i].alive(t));
        // The humans' mass deletions: cull pods older than 2 h (103 of
        // them), delete those older than 1 h, then delete everything.
        let mass: Option<(Duration, usize)> = match t {
            _ if t == feb20(17, 3) => Some((Duration::mins(120), 103)),
            _ if t == feb20(17, 30) => Some((Duration::mins(60), usize::MAX)),
            _ if t == feb20(21, 12) => Some((Duration(0), usize::MAX)),
            _ => None,
        };
        if let Some((age, max)) = mass {
            alive.sort_by_key(|&i| c.pods[i].created);
            let victims: Vec<usize> = alive
                .iter()
                .copied()
                .filter(|&i| c.pods[i].created <= t.sub(age))
                .take(max)
                .collect();
            for i in victims {
                c.pods[i].deleted = Some(t.add(Duration(r.range(1_000, 50_000))));
            }
            alive.retain(|&i| {
                c.pods[i]
                    .deleted
                    .is_none_or(|d| d > t.add(Duration::mins(1)))
            });
        }
        // Launches: up to the limit, a few per minute; almost none get
        // through while the hub is timing out everybody.
        let target = demand(t).min(limit(t));
        let jammed = READINESS_WINDOWS.iter().any(|&(a, b)| within(t, a, b));
        let rate = if jammed {
            r.range(0, 2)
        } else {
            r.range(5, 10)
        };
        let gap = (target - alive.len() as f64).max(0.0) as i64;
        for _ in 0..gap.min(rate) {
            let Some(node) = place(c, &alive, t, &mut r) else {
                break;
            };
            ordinal += 1;
            let i = launch(c, ev, &mut r, &mut pulled, &node, t, ordinal);
            alive.push(i);
        }
        background_noise(c, ev, &alive, t, &mut r);
    }
}

/// Picks a node for a new pod: the emptier of two random ready nodes with
/// room (the scheduler spreads; autoscaled nodes fill up first).
fn place(c: &Cluster, alive: &[usize], t: Timestamp, r: &mut Rng) -> Option<String> {
    let ready: Vec<&str> = c.nodes_at(t.sub(Duration::mins(3)));
    let load = |n: &str| alive.iter().filter(|&&i| c.pods[i].node == n).count() as u32;
    let room: Vec<(&str, u32)> = ready
        .into_iter()
        .map(|n| (n, load(n)))
        .filter(|&(_, l)| l < NODE_CAPACITY)
        .collect();
    let a = r.pick(&room).copied()?;
    let b = r.pick(&room).copied()?;
    Some(if b.1 < a.1 { b.0 } else { a.0 }.to_string())
}

/// Creates one user pod on `node` during minute `t` and records its
/// scheduling and start-up events.
fn launch(
    c: &mut Cluster,
    ev: &mut EventRecorder,
    r: &mut Rng,
    pulled: &mut Vec<String>,
    node: &str,
    t: Timestamp,
    ordinal: u64,
) -> usize {
    let name = c.unique_name(
        USER_PREFIX,
        &ordinal.to_string(),
        "abcdefghijklmnopqrstuvwxyz0123456789",
        8,
    );
    let created = t.add(Duration(r.range(0, 60_000)));
    let i = c.add_pod(super::NS, &name, "notebook", node, created);
    let lifetime = Duration::mins(r.range(40, 240));
    let p = &mut c.pods[i];
    p.deleted = Some(created.add(lifetime));
    p.labels
        .insert("component".into(), "singleuser-server".into());
    p.labels.insert("app".into(), "jupyterhub".into());
    let p = p.clone();
    let scheduled = format!("Successfully assigned {}/{} to {node}", p.namespace, p.name);
    // The scheduler reports no node of its own: attribution needs spec.nodeName.
    ev.record(
        created,
        Involved::pod(&p),
        "default-scheduler",
        "",
        EventType::Normal,
        "Scheduled",
        &scheduled,
    );
    // On vvsw during the outage the sandbox cannot be set up: the
    // containers only start once the network is back.
    let mut at =
        if node == super::node_name("vvsw") && within(created, VVSW_OUTAGE.0, VVSW_OUTAGE.1) {
            VVSW_OUTAGE.1.add(Duration(r.range(5_000, 90_000)))
        } else {
            created.add(Duration(r.range(1_000, 3_000)))
        };
    if !pulled.iter().any(|n| n == node) {
        pulled.push(node.to_string());
        ev.kubelet(
            at,
            &p,
            EventType::Normal,
            "Pulling",
            &format!("pulling image \"{USER_IMAGE}\""),
        );
        at = at.add(Duration(r.range(40_000, 120_000)));
        ev.kubelet(
            at,
            &p,
            EventType::Normal,
            "Pulled",
            &format!("Successfully pulled image \"{USER_IMAGE}\""),
        );
    } else {
        let msg = format!("Container image \"{USER_IMAGE}\" already present on machine");
        ev.kubelet(at, &p, EventType::Normal, "Pulled", &msg);
    }
    at = at.add(Duration(r.range(300, 1_500)));
    ev.kubelet(at, &p, EventType::Normal, "Created", "Created container");
    at = at.add(Duration(r.range(300, 1_500)));
    ev.kubelet(at, &p, EventType::Normal, "Started", "Started container");
    i
}

/// Now and then (about twice an hour) one isolated warning for one random
/// user pod: background a detector must not mistake for a sick node.
fn background_noise(
    c: &Cluster,
    ev: &mut EventRecorder,
    alive: &[usize],
    t: Timestamp,
    r: &mut Rng,
) {
    if !r.chance(2.0 / 60.0) {
        return;
    }
    let Some(&i) = r.pick(alive) else { return };
    let p = &c.pods[i];
    let at = t.add(Duration(r.range(0, 60_000)));
    if r.chance(0.5) {
        ev.kubelet(at, p, EventType::Warning, "FailedSync", "Error syncing pod");
    } else {
        let user = p.name.strip_prefix("jupyter-").unwrap_or(&p.name);
        let msg = format!(
            "Readiness probe failed: Get http://{}:8888/user/{user}/api: net/http: request canceled \
             (Client.Timeout exceeded while awaiting headers)",
            p.ip
        );
        ev.kubelet(at, p, EventType::Warning, "Unhealthy", &msg);
    }
}
