//! Where a signal's value comes from: the pods behind a node signal and
//! the workloads behind a cluster-wide one, so explanations point at the
//! cause ("container_threads 7012 …, 95% from prod/hub-…"). Built only for
//! what is explained (anomalous signals, firing alerts), never in the
//! scoring hot path, and only from bounded state: the event windows' top-k
//! and the workload signals' subjects.

use super::Engine;
use crate::catalog::{Aggregation, Catalog, SignalScope};
use crate::signals::contributors::workload_of;
use crate::state::Contributor;

/// Contributors named per signal in an explanation.
const SHOWN: usize = 3;
/// Tripped nodes looked at for a cluster explanation at most (evenly
/// spread), so its cost stays bounded at 5,000 nodes.
const CLUSTER_SAMPLE: usize = 128;
/// Contributors after the first are named only from this share on (the
/// long tail of single pods says nothing).
const MIN_SHARE: f64 = 0.05;

/// For each node signal, the workload signals that break it down by pod: a
/// workload signal over the same metric (same rate, no ratio) by
/// `namespace` and `pod` measures a part of the node's sum.
pub(super) fn breakdowns(catalog: &Catalog) -> Vec<Vec<usize>> {
    let sigs = &catalog.signals;
    sigs.iter()
        .map(|node| {
            let Some(m) = node.metric.as_ref() else {
                return Vec::new();
            };
            if node.scope != SignalScope::Node
                || m.ratio_to.is_some()
                || m.aggregate != Aggregation::Sum
            {
                return Vec::new();
            }
            (0..sigs.len())
                .filter(|&w| {
                    sigs[w].scope == SignalScope::Workload
                        && sigs[w].metric.as_ref().is_some_and(|wm| {
                            wm.name == m.name
                                && wm.rate == m.rate
                                && wm.ratio_to.is_none()
                                && wm.by.iter().any(|b| b == "namespace")
                                && wm.by.iter().any(|b| b == "pod")
                        })
                })
                .collect()
        })
        .collect()
}

/// `, 92% from prod/hub-…, 5% from prod/x` (empty without contributors).
pub(super) fn from_text(top: &[Contributor]) -> String {
    top.iter()
        .map(|c| match c.share {
            Some(f) => format!(", {:.0}% from {}", f * 100.0, c.name),
            None => format!(", {} from {}", crate::score::node::fmt(c.amount), c.name),
        })
        .collect()
}

fn label<'a>(labels: &'a [(String, String)], key: &str) -> Option<&'a str> {
    labels
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

impl Engine {
    /// The pods behind node signal `s` on node `i` (whose value is
    /// `value`), largest first.
    pub(super) fn top_contributors(&self, s: usize, i: u32, value: f64) -> Vec<Contributor> {
        let mut out: Vec<Contributor> = Vec::new();
        if self.catalog.signals[s].events.is_some() {
            if let Some(w) = self.windows[s].get(i as usize) {
                let (top, total) = w.top();
                out = top
                    .into_iter()
                    .map(|(name, n)| Contributor {
                        name,
                        amount: n as f64,
                        share: (total > 0).then(|| (n as f64 / total as f64).min(1.0)),
                    })
                    .collect();
            }
        } else {
            for &w in &self.breakdown[s] {
                for (subject, wl) in &self.workloads[w] {
                    let Some(v) = wl.evidence.map(|e| e.value).filter(|v| *v > 0.0) else {
                        continue;
                    };
                    if self.node_of(&wl.labels) != Some(i) {
                        continue;
                    }
                    out.push(Contributor {
                        name: subject.clone(),
                        amount: v,
                        share: (value > 0.0).then(|| (v / value).min(1.0)),
                    });
                }
            }
            out.sort_by(|a, b| {
                b.amount
                    .total_cmp(&a.amount)
                    .then_with(|| a.name.cmp(&b.name))
            });
        }
        let mut k = 0;
        out.retain(|c| {
            k += 1;
            k == 1 || c.share.is_none_or(|f| f >= MIN_SHARE)
        });
        out.truncate(SHOWN);
        out
    }

    /// The node a workload subject's pod runs on, when known.
    pub(super) fn node_of(&self, labels: &[(String, String)]) -> Option<u32> {
        self.events
            .node_of_pod(label(labels, "namespace")?, label(labels, "pod")?)
    }

    /// For a workload alert: the subject's pod, the node it runs on and
    /// its share of that node's signals it is part of.
    pub(super) fn workload_context(&self, s: usize, subject: &str) -> String {
        let Some(wl) = self.workloads[s].get(subject) else {
            return String::new();
        };
        let Some(i) = self.node_of(&wl.labels) else {
            return String::new();
        };
        let mut text = format!("; {subject} runs on node {}", self.nodes.entry(i).name);
        let v = wl.evidence.map_or(f64::NAN, |e| e.value);
        for (n, ws) in self.breakdown.iter().enumerate() {
            let node_value = self.evidence[n]
                .get(i as usize)
                .copied()
                .flatten()
                .map_or(f64::NAN, |e| e.value);
            if ws.contains(&s) && node_value > 0.0 && v.is_finite() {
                text += &format!(
                    ", {:.0}% of its {}",
                    (v / node_value).min(1.0) * 100.0,
                    self.catalog.signals[n].name
                );
            }
        }
        text
    }

    /// For a cluster alert: the workloads behind signal `s` on the nodes
    /// tripping it, as ` (most from prod/jupyter-* 64%, …)`; shares are of
    /// an even sample of at most [`CLUSTER_SAMPLE`] of those nodes.
    pub(super) fn cluster_contributors(&self, s: usize, nodes: &[u32]) -> String {
        let mut by_workload: Vec<(String, f64)> = Vec::new();
        let mut total = 0.0;
        let stride = nodes.len().div_ceil(CLUSTER_SAMPLE).max(1);
        for &i in nodes.iter().step_by(stride) {
            let value = self.evidence[s]
                .get(i as usize)
                .copied()
                .flatten()
                .map_or(0.0, |e| e.value);
            let top = self.top_contributors(s, i, value);
            total += match self.windows[s].get(i as usize) {
                Some(w) => w.top().1 as f64,
                None => value.max(0.0),
            };
            for c in top {
                let name = workload_of(&c.name);
                let name = if name.len() < c.name.len() {
                    format!("{name}-*")
                } else {
                    c.name
                };
                match by_workload.iter_mut().find(|(n, _)| *n == name) {
                    Some(e) => e.1 += c.amount,
                    None => by_workload.push((name, c.amount)),
                }
            }
        }
        if by_workload.is_empty() || total <= 0.0 {
            return String::new();
        }
        by_workload.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let parts: Vec<String> = by_workload
            .iter()
            .take(SHOWN)
            .map(|(n, a)| format!("{n} {:.0}%", (a / total).min(1.0) * 100.0))
            .collect();
        format!(" (most from {})", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Settings;
    use crate::k8s::{ObjectMeta, Pod, PodSpec};
    use crate::model::Observation;
    use crate::time::Timestamp;
    use std::path::PathBuf;
    use std::sync::Arc;

    const CATALOG: &str = "
signals:
  - name: threads
    metric: {name: container_threads, by: [node]}
    detect: {z: 6, mad_floor: 50}
  - name: threads_ratio
    metric:
      name: container_threads
      by: [node]
      ratio_to: {name: container_threads_max}
    detect: {z: 6, mad_floor: 0.01}
  - name: hub_threads
    scope: workload
    metric: {name: container_threads, matchers: {pod: \"=~hub-.*\"}, by: [namespace, pod]}
    detect: {z: 6, mad_floor: 50, peers: false}
";

    fn engine() -> Engine {
        let c =
            Catalog::from_sources(vec![(PathBuf::from("t.yaml"), CATALOG.to_string())]).unwrap();
        Engine::new(Arc::new(c), Settings::default())
    }

    fn obs(t: i64, hub: f64) -> Observation {
        obs_with(t, hub, 0.0)
    }

    /// As [`obs`], with `other` threads from pods nobody watches on n0.
    fn obs_with(t: i64, hub: f64, other: f64) -> Observation {
        let node_rows = |v: &[f64]| {
            Some(Ok(v
                .iter()
                .enumerate()
                .map(|(i, x)| (vec![format!("n{i}")], *x))
                .collect()))
        };
        Observation {
            at: Timestamp(t * 30_000),
            metrics: vec![
                node_rows(&[100.0 + hub + other, 100.0]),
                node_rows(&[0.1, 0.1]),
                Some(Ok(vec![(
                    vec!["prod".into(), "hub-5f7c9d-x2x9z".into()],
                    hub,
                )])),
            ],
            events_ok: true,
            pods: if t == 0 {
                vec![Pod {
                    metadata: ObjectMeta {
                        namespace: "prod".into(),
                        name: "hub-5f7c9d-x2x9z".into(),
                        ..Default::default()
                    },
                    spec: PodSpec {
                        node_name: "n0".into(),
                    },
                }]
            } else {
                Vec::new()
            },
            ..Default::default()
        }
    }

    #[test]
    fn only_a_same_metric_plain_sum_is_broken_down_by_pod() {
        let e = engine();
        assert_eq!(e.breakdown, vec![vec![2], vec![], vec![]]);
    }

    #[test]
    fn a_node_signal_names_its_pod_and_the_pod_alert_its_node() {
        let mut e = engine();
        for t in 0..40 {
            e.tick(obs(t, 100.0));
        }
        e.tick(obs(40, 4_900.0));
        let n0 = e.nodes.get("n0").unwrap();
        let top = e.top_contributors(0, n0, 5_000.0);
        assert_eq!(top.len(), 1);
        assert_eq!(top[0].name, "prod/hub-5f7c9d-x2x9z");
        assert_eq!(top[0].share, Some(0.98));
        assert!(
            e.node_explanation(n0).contains("threads 5000: ")
                && e.node_explanation(n0)
                    .contains(", 98% from prod/hub-5f7c9d-x2x9z"),
            "{}",
            e.node_explanation(n0)
        );
        // The node's threads are the hub's own trouble: shown, not counted.
        assert!(e.scores[n0 as usize] < 0.5, "{}", e.node_explanation(n0));
        assert!(e
            .node_explanation(n0)
            .contains("not counted: prod/hub-5f7c9d-x2x9z's own trouble, 98% from"));
        // The other node runs no hub: nothing to name.
        assert!(e
            .top_contributors(0, e.nodes.get("n1").unwrap(), 100.0)
            .is_empty());
        assert_eq!(
            e.workload_context(2, "prod/hub-5f7c9d-x2x9z"),
            "; prod/hub-5f7c9d-x2x9z runs on node n0, 98% of its threads"
        );
        // The status page's views carry the same names.
        let snap = e.snapshot();
        assert!(snap.workloads[0]
            .detail
            .ends_with("prod/hub-5f7c9d-x2x9z runs on node n0, 98% of its threads"));
        let n0_view = snap.nodes.iter().find(|n| n.name == "n0").unwrap();
        assert_eq!(
            n0_view.contributions[0].top[0].name,
            "prod/hub-5f7c9d-x2x9z"
        );
    }

    #[test]
    fn threads_spread_over_pods_stay_the_nodes() {
        let mut e = engine();
        for t in 0..40 {
            e.tick(obs(t, 100.0));
        }
        // The hub adds 1,500 threads, pods nobody watches 3,400 more: the
        // node's anomaly is not the hub's alone.
        e.tick(obs_with(40, 1_600.0, 3_400.0));
        let n0 = e.nodes.get("n0").unwrap();
        assert!(e.scores[n0 as usize] > 0.9, "{}", e.node_explanation(n0));
        assert!(!e.node_explanation(n0).contains("not counted"));
    }

    #[test]
    fn from_text_lists_shares_or_amounts() {
        let c = |name: &str, amount: f64, share: Option<f64>| Contributor {
            name: name.into(),
            amount,
            share,
        };
        assert_eq!(from_text(&[]), "");
        assert_eq!(
            from_text(&[c("prod/a", 9.0, Some(0.9)), c("prod/b", 2.0, None)]),
            ", 90% from prod/a, 2 from prod/b"
        );
    }
}
