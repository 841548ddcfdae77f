//! Background readiness-probe failures on every node, as real clusters
//! have them: each node fails a small share of its probes (a slow response
//! now and then, a GC pause, a noisy neighbour), at its own rate. The
//! kubelet reports each failure twice — in `prober_probe_total{result=
//! "failed"}` (through the node's story) and as an `Unhealthy` Event — so
//! both are written here, at the same rate. Used by `gray-node` and
//! `zone-outage`, where the sick node or zone has to stand out of it.

use super::story::{probe_refused, probe_timeout};
use super::world::World;
use crate::scenario::gen::EventType;
use crate::scenario::rng::Rng;
use crate::time::{Duration, Timestamp};

/// Readiness probes a pod gets per minute (`periodSeconds: 10`).
const PROBES_PER_MIN: usize = 6;

/// Node `n` fails a share `p` of its probes in `[from, to)` (at least:
/// a story already failing more keeps its rate), with an `Unhealthy`
/// event per failure — mostly timeouts, now and then a refused
/// connection (a worker restarting inside its container).
pub fn probe_failures(
    w: &mut World,
    n: usize,
    from: Timestamp,
    to: Timestamp,
    p: f64,
    r: &mut Rng,
) {
    let node = w.cluster.nodes[n].name.clone();
    let mut v = std::mem::take(&mut w.stories[n].probe_fail);
    for (i, t) in w.grid.points().enumerate() {
        if from <= t && t < to {
            v[i] = v[i].max(p);
        }
    }
    w.stories[n].probe_fail = v;
    let minutes: Vec<Timestamp> = w.grid.points().filter(|&t| from <= t && t < to).collect();
    for t in minutes {
        for pod in w.probed_on(&node, t) {
            for _ in 0..PROBES_PER_MIN {
                if !r.chance(p) {
                    continue;
                }
                let at = t.add(Duration(r.range(0, 60_000)));
                let msg = if r.chance(0.85) {
                    probe_timeout(&pod)
                } else {
                    probe_refused(&pod)
                };
                w.events
                    .kubelet(at, &pod, EventType::Warning, "Unhealthy", &msg);
            }
        }
    }
}

/// Every node fails probes at its own background rate, drawn once per
/// node from `[lo, hi)`, over the whole scenario; returns the rates.
pub fn everywhere(w: &mut World, (lo, hi): (f64, f64), r: &mut Rng) -> Vec<f64> {
    let (start, end) = (w.start, w.end);
    (0..w.stories.len())
        .map(|n| {
            let p = r.uniform(lo, hi);
            probe_failures(w, n, start, end, p, r);
            p
        })
        .collect()
}
