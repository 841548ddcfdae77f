//! A workload's own trouble is not its node's: when a node's anomalous
//! evidence comes overwhelmingly from one pod that nodewatch watches as a
//! workload (a subject of a workload signal, with its own alerts), that
//! evidence is taken off the node's score, and the node's explanation says
//! whose it is. The seed's trap: a hub whose threads, CPU and probe
//! timeouts made its node look sick.
//!
//! Only a *watched* workload takes the blame, because only then does an
//! alert name it; a pod nobody watches (a worker leaking threads toward
//! threads-max) stays on its node's account, where the node alert names
//! it as the top contributor. A fixed threshold crossed (a node resource
//! exhausted, NotReady, a node-local detector's verdict) is never
//! discounted: that hurts every pod on the node, whoever caused it.
//!
//! Cost: only nodes that run a watched pod are looked at, so a tick at
//! 5,000 nodes with one hub does one node's worth of work here.

use super::Engine;
use crate::catalog::SignalScope;

/// Share of a signal's anomaly one workload must account for to own it.
pub const OWN_SHARE: f64 = 0.9;

/// How one anomalous node signal breaks down by pod.
#[derive(Clone, Debug, PartialEq)]
pub enum Trace {
    /// No per-pod breakdown (a node-wide aggregate or ratio).
    Untraced,
    /// Its largest contributor (a pod, or `namespace/workload-*`), that
    /// contributor's share of the anomaly in [0, 1], and whether nodewatch
    /// watches it as a workload.
    Top {
        /// Pod or workload name.
        name: String,
        /// Share of the anomaly.
        share: f64,
        /// A subject of a workload signal.
        watched: bool,
    },
}

/// One anomalous node signal: its breakdown and whether a fixed threshold
/// was crossed.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    /// How it breaks down.
    pub trace: Trace,
    /// A fixed threshold crossed (never discounted).
    pub threshold: bool,
}

/// Which of a node's anomalous signals are one watched workload's own
/// trouble: the workload and the indices into `parts` to discount, or
/// `None` when the node's evidence is not one watched workload's.
///
/// A traced part is the workload's when it accounts for [`OWN_SHARE`] of
/// it. Untraced parts (node threads, node CPU, the node's probe failure
/// ratio) are the workload's too only when every traced part is: nothing
/// that can be traced points anywhere else.
pub fn workload_own(parts: &[Part]) -> Option<(String, Vec<usize>)> {
    fn owns(t: &Trace) -> Option<&str> {
        match t {
            Trace::Top {
                name,
                share,
                watched: true,
            } if *share >= OWN_SHARE => Some(name.as_str()),
            _ => None,
        }
    }
    let mut owners: Vec<&str> = parts.iter().filter_map(|p| owns(&p.trace)).collect();
    owners.sort_unstable();
    owners.dedup();
    // Two watched workloads each owning a signal: not one workload's.
    let [owner] = owners[..] else { return None };
    let all_traced_owned = parts
        .iter()
        .all(|p| p.trace == Trace::Untraced || owns(&p.trace) == Some(owner));
    let idx = (0..parts.len())
        .filter(|&k| {
            let p = &parts[k];
            !p.threshold
                && match &p.trace {
                    Trace::Untraced => all_traced_owned,
                    t => owns(t) == Some(owner),
                }
        })
        .collect::<Vec<_>>();
    (!idx.is_empty()).then(|| (owner.to_string(), idx))
}

/// A node's evidence discounted this tick: the workload and, per signal,
/// its share when traced (kept for debugging views).
#[derive(Clone, Debug)]
pub(super) struct Discount {
    pub node: u32,
    pub workload: String,
    pub signals: Vec<(usize, Option<f64>)>,
}

impl Engine {
    /// Watched pods (subjects of workload signals) per node they run on.
    fn watched_pods(&self) -> Vec<(u32, String)> {
        let mut out: Vec<(u32, String)> = Vec::new();
        for map in &self.workloads {
            for (subject, wl) in map {
                if let Some(i) = self.node_of(&wl.labels) {
                    out.push((i, subject.clone()));
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Takes one watched workload's own trouble off its node's score
    /// (after common cause, before scoring).
    pub(super) fn attribution_pass(&mut self) {
        self.discounts.clear();
        let watched = self.watched_pods();
        let mut nodes: Vec<u32> = watched.iter().map(|w| w.0).collect();
        nodes.dedup();
        for i in nodes {
            let here: Vec<&str> = watched
                .iter()
                .filter(|w| w.0 == i)
                .map(|w| w.1.as_str())
                .collect();
            let is_watched = |name: &str| {
                here.iter().any(|p| match name.strip_suffix('*') {
                    Some(prefix) => p.starts_with(prefix),
                    None => *p == name,
                })
            };
            let mut sigs = Vec::new();
            let mut parts = Vec::new();
            for (s, sig) in self.catalog.signals.iter().enumerate() {
                if sig.scope != SignalScope::Node {
                    continue;
                }
                let Some(ev) = self.evidence[s].get(i as usize).copied().flatten() else {
                    continue;
                };
                if ev.level <= 0.0 {
                    continue;
                }
                let trace = match self.trace(s, i, ev) {
                    Some((name, share)) => Trace::Top {
                        watched: is_watched(&name),
                        name,
                        share,
                    },
                    None => Trace::Untraced,
                };
                sigs.push(s);
                parts.push(Part {
                    trace,
                    threshold: ev.threshold,
                });
            }
            let Some((workload, idx)) = workload_own(&parts) else {
                continue;
            };
            let mut signals = Vec::new();
            for k in idx {
                let s = sigs[k];
                if let Some(Some(ev)) = self.evidence[s].get_mut(i as usize) {
                    ev.level = 0.0;
                }
                let share = match &parts[k].trace {
                    Trace::Top { share, .. } => Some(*share),
                    Trace::Untraced => None,
                };
                signals.push((s, share));
            }
            self.discounts.push(Discount {
                node: i,
                workload,
                signals,
            });
        }
    }

    /// The largest contributor of node signal `s` on node `i` and its share
    /// of the anomaly; `None` without a breakdown.
    fn trace(&self, s: usize, i: u32, ev: crate::score::Evidence) -> Option<(String, f64)> {
        if self.catalog.signals[s].events.is_some() {
            let (top, total) = self.windows[s].get(i as usize)?.top();
            let (name, n) = top.into_iter().next()?;
            return Some((name, (n as f64 / total.max(1) as f64).min(1.0)));
        }
        if self.breakdown[s].is_empty() {
            return None;
        }
        // The share of the node's excess over its own baseline that the
        // pod's excess over its own makes up, or its share of the value
        // when larger: a pod that is nearly all of the node's value is
        // what the node's series shows (the two baselines adapt at their
        // own pace, so their excesses differ by noise).
        let node_excess = ev.value - ev.median;
        let mut best: Option<(String, f64)> = None;
        for &w in &self.breakdown[s] {
            for (subject, wl) in &self.workloads[w] {
                let Some(pe) = wl.evidence else { continue };
                if self.node_of(&wl.labels) != Some(i) {
                    continue;
                }
                let by_excess = if ev.warm && pe.warm && node_excess > 0.0 {
                    (pe.value - pe.median).max(0.0) / node_excess
                } else {
                    0.0
                };
                let by_value = if ev.value > 0.0 {
                    pe.value.max(0.0) / ev.value
                } else {
                    0.0
                };
                let share = by_excess.max(by_value);
                let share = share.clamp(0.0, 1.0);
                if best.as_ref().is_none_or(|b| share > b.1) {
                    best = Some((subject.clone(), share));
                }
            }
        }
        // Nothing watched runs here: the breakdown says nothing.
        best
    }

    /// The watched workload whose own trouble node signal `s` on node
    /// `i` was taken as this tick, if it was.
    pub(super) fn discounted(&self, s: usize, i: u32) -> Option<&str> {
        self.discounts
            .iter()
            .find(|d| d.node == i && d.signals.iter().any(|x| x.0 == s))
            .map(|d| d.workload.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn top(name: &str, share: f64, watched: bool) -> Part {
        Part {
            trace: Trace::Top {
                name: name.into(),
                share,
                watched,
            },
            threshold: false,
        }
    }

    fn untraced() -> Part {
        Part {
            trace: Trace::Untraced,
            threshold: false,
        }
    }

    #[test]
    fn a_node_whose_evidence_is_95_percent_one_watched_pod_is_not_blamed() {
        let parts = [
            top("prod/hub-5f7c9d-x2x9z", 0.95, true),
            top("prod/hub-5f7c9d-x2x9z", 1.0, true),
            untraced(),
        ];
        assert_eq!(
            workload_own(&parts),
            Some(("prod/hub-5f7c9d-x2x9z".to_string(), vec![0, 1, 2]))
        );
    }

    #[test]
    fn evidence_spread_over_many_pods_stays_the_nodes() {
        // Probe failures from many pods: the hub is only one of them.
        let parts = [
            top("prod/hub-5f7c9d-x2x9z", 0.95, true),
            top("prod/jupyter-demo-*", 0.6, false),
            untraced(),
        ];
        // The hub's own threads are discounted, the rest is the node's.
        assert_eq!(
            workload_own(&parts),
            Some(("prod/hub-5f7c9d-x2x9z".to_string(), vec![0]))
        );
        let spread = [top("prod/hub-5f7c9d-x2x9z", 0.3, true), untraced()];
        assert_eq!(workload_own(&spread), None);
    }

    #[test]
    fn an_unwatched_pod_and_a_crossed_threshold_stay_the_nodes() {
        // A worker nobody watches leaks threads: the node alert names it.
        assert_eq!(
            workload_own(&[top("shop/worker-7c9-abcde", 0.99, false), untraced()]),
            None
        );
        // Threads-max reached: every pod suffers, whoever caused it.
        let exhausted = Part {
            trace: Trace::Untraced,
            threshold: true,
        };
        assert_eq!(
            workload_own(&[top("prod/hub-1", 0.99, true), exhausted]),
            Some(("prod/hub-1".to_string(), vec![0]))
        );
    }

    #[test]
    fn two_watched_workloads_are_not_one_workloads_trouble() {
        let parts = [
            top("prod/hub-1", 0.95, true),
            top("prod/proxy-2", 0.95, true),
        ];
        assert_eq!(workload_own(&parts), None);
        assert_eq!(workload_own(&[untraced()]), None);
    }
}
