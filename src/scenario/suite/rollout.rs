//! A rolling update, as Deployments do it: replacement pods in batches,
//! each failing readiness briefly while it warms up, the old pod stopped
//! once the new one serves. Benign: it must not look like a sick node.

use super::disrupt::{start_pod, Image};
use super::world::World;
use crate::scenario::gen::EventType;
use crate::scenario::rng::Rng;
use crate::time::{Duration, Timestamp};

use EventType::Normal;

/// A rolling update of every pod of Deployment `app` from `at`: batches
/// of `batch` pods every 40–70 s; each replacement starts on the same node,
/// fails readiness (connection refused) for 20–45 s while it warms up,
/// then serves; the old pod is stopped once the new one is ready.
pub fn rolling_update(w: &mut World, app: &str, at: Timestamp, batch: usize, r: &mut Rng) {
    let old: Vec<usize> = w
        .probed
        .iter()
        .copied()
        .filter(|&i| {
            w.cluster.pods[i].labels.get("app").map(String::as_str) == Some(app)
                && w.cluster.pods[i].alive(at)
        })
        .collect();
    let hash = w.cluster.template_hash(&format!("{app}-v2"));
    let mut t = at;
    for (k, chunk) in old.chunks(batch.max(1)).enumerate() {
        for (j, &i) in chunk.iter().enumerate() {
            let prev = w.cluster.pods[i].clone();
            let name = w
                .cluster
                .generate_name(&format!("{app}-{hash}-"), &format!("{k}/{j}"));
            let created = t.add(Duration(r.range(0, 5_000)));
            let ni = w.add_pod(
                &prev.namespace,
                &name,
                &prev.container,
                &prev.node,
                created,
                "ReplicaSet",
            );
            w.cluster.pods[ni].labels = prev.labels.clone();
            w.probed.push(ni);
            let image = Image {
                repo: Some(app),
                version: "v2.4.1",
                pull_ms: (2_000, 6_000),
            };
            let ready_at = start_pod(w, ni, created, &image, r);
            let stop = ready_at.add(Duration(r.range(1_000, 3_000)));
            w.events.kubelet(
                stop,
                &prev,
                Normal,
                "Killing",
                &format!("Stopping container {}", prev.container),
            );
            w.cluster.pods[i].deleted = Some(stop.add(Duration::secs(r.range(2, 30))));
        }
        t = t.add(Duration(r.range(40_000, 70_000)));
    }
}
