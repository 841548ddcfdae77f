//! Per-tick assessment, the score stage run over the engine's tables: each
//! node signal's values against their own baselines and the peers (with
//! common cause per signal family taken off), each workload subject's
//! value against its own baseline, and the node scores they combine into.

use super::{Engine, Workload, LEAVING, NOT_HELD};
use crate::catalog::{EventCount, SignalScope};
use crate::decide::common_cause;
use crate::model::Observation;
use crate::score::{self, SeriesState};

impl Engine {
    pub(super) fn assess_node_signal(&mut self, s: usize, obs: &Observation, rows: &[(u32, f64)]) {
        let sig = &self.catalog.signals[s];
        let n = self.nodes.len();
        self.values.clear();
        self.values.resize(n, f64::NAN);
        let mut known = vec![false; n];
        if let Some(q) = &sig.events {
            if obs.events_ok {
                for (i, k) in known.iter_mut().enumerate() {
                    if self.nodes.exists(i as u32, obs.at) {
                        self.values[i] = self.windows[s][i].value(self.tick, q.count);
                        *k = true;
                    }
                }
            }
        } else {
            let answered = matches!(obs.metrics.get(s), Some(Some(Ok(_))));
            if answered && sig.metric.as_ref().is_some_and(|q| q.absent_is_zero) {
                self.values.fill(0.0);
                known.fill(true);
            }
            for &(i, v) in rows {
                self.values[i as usize] = v;
                known[i as usize] = true;
            }
        }
        if self.long.window(s).is_some() {
            for i in 0..n {
                if self.too_young_for(s, i as u32) {
                    self.values[i] = f64::NAN;
                }
            }
        }
        let exists: Vec<bool> = (0..n)
            .map(|i| self.nodes.exists(i as u32, obs.at))
            .collect();
        // A node on its way out (drained, tainted for deletion) is no peer;
        // a node in warm-up is.
        let peer: Vec<bool> = (0..n)
            .map(|i| exists[i] && known[i] && self.holds[i] != LEAVING)
            .collect();
        let peers = score::peer_stats(
            (0..n).filter(|&i| peer[i]).map(|i| self.values[i]),
            &mut self.scratch,
        );
        let count_tail = sig
            .events
            .as_ref()
            .is_some_and(|q| q.count == EventCount::Increments);
        // Drift is judged against the peers' common movement: the median
        // of their standardized deviations from their own baselines.
        let common_drift = if sig.detect.drift && sig.detect.peers && peers.is_some() {
            let (series, values) = (&self.series[s], &self.values);
            score::detectors::peer_median(
                (0..n).filter(|&i| peer[i]).filter_map(|i| {
                    score::node::drift_residual(&sig.detect, &series[i], values[i])
                }),
                &mut self.scratch,
            )
            .unwrap_or(0.0)
        } else {
            0.0
        };
        let (mut tripped, mut with_data) = (Vec::new(), 0usize);
        // Common cause is judged per family once all signals are assessed.
        for i in 0..n {
            if !(exists[i] && known[i]) {
                self.evidence[s][i] = None;
                continue;
            }
            let ev = score::node::assess_relative(
                &sig.detect,
                &mut self.series[s][i],
                self.values[i],
                peers,
                count_tail,
                common_drift,
            );
            if ev.value.is_finite() {
                with_data += 1;
            }
            // Expected disruption is not sickness: a held node never
            // counts towards a common cause.
            if ev.tripped && self.holds[i] == NOT_HELD {
                tripped.push(i as u32);
            }
            self.evidence[s][i] = Some(ev);
        }
        self.common[s] = Some((tripped, with_data));
    }

    /// Common cause per family: the nodes tripping any member signal; when
    /// they are many, every member stops counting on those nodes.
    pub(super) fn common_cause_pass(&mut self) {
        let catalog = self.catalog.clone();
        let mut families: Vec<&str> = catalog
            .signals
            .iter()
            .filter(|s| s.scope == SignalScope::Node)
            .map(|s| s.family())
            .collect();
        families.sort();
        families.dedup();
        let mut verdicts = vec![None; catalog.signals.len()];
        let mut domains = vec![None; catalog.signals.len()];
        for fam in families {
            let members: Vec<usize> = (0..catalog.signals.len())
                .filter(|&s| {
                    catalog.signals[s].scope == SignalScope::Node
                        && catalog.signals[s].family() == fam
                })
                .collect();
            let mut nodes: Vec<u32> = Vec::new();
            let mut of = 0;
            for &s in &members {
                if let Some((t, w)) = &self.common[s] {
                    nodes.extend(t);
                    of = of.max(*w);
                }
            }
            nodes.sort_unstable();
            nodes.dedup();
            let mut domain = None;
            if !common_cause(nodes.len(), of, &self.settings.common_cause) {
                let Some((d, inside)) = self.topology_cause(&nodes) else {
                    continue;
                };
                (nodes, domain) = (inside, Some(d));
            }
            for &s in &members {
                for &i in &nodes {
                    if let Some(Some(ev)) = self.evidence[s].get_mut(i as usize) {
                        ev.suppressed = true;
                        ev.level = 0.0;
                    }
                }
                verdicts[s] = Some((nodes.clone(), of));
                domains[s] = domain.clone();
            }
        }
        self.common = verdicts;
        self.common_domain = domains;
    }

    pub(super) fn assess_workload_signal(&mut self, s: usize, obs: &Observation) {
        let sig = &self.catalog.signals[s];
        let tick = self.tick;
        let by = sig
            .metric
            .as_ref()
            .map(|m| m.by.clone())
            .unwrap_or_default();
        let map = &mut self.workloads[s];
        for w in map.values_mut() {
            w.evidence = None;
        }
        if let Some(Some(Ok(rows))) = obs.metrics.get(s) {
            for (subject, v) in rows {
                let key = subject.join("/");
                let stagger = map.len();
                let w = map.entry(key).or_insert_with(|| Workload {
                    labels: by.iter().cloned().zip(subject.iter().cloned()).collect(),
                    state: SeriesState::new(self.settings.baseline_len, stagger),
                    evidence: None,
                    last_seen: tick,
                });
                w.last_seen = tick;
                w.evidence = Some(score::node::assess(
                    &sig.detect,
                    &mut w.state,
                    *v,
                    None,
                    false,
                ));
            }
        }
        // Subjects gone for an hour (a restarted pod's old name) are dropped,
        // keeping memory bounded.
        let keep = (3_600_000 / self.settings.step.0.max(1)) as u64;
        map.retain(|_, w| tick - w.last_seen <= keep);
    }

    pub(super) fn score_nodes(&mut self) {
        for i in 0..self.nodes.len() {
            self.known[i] = self
                .evidence
                .iter()
                .filter(|e| e.get(i).is_some_and(Option::is_some))
                .count() as u16;
            let parts = self
                .catalog
                .signals
                .iter()
                .enumerate()
                .filter_map(|(s, sig)| {
                    let ev = self.evidence[s].get(i)?.as_ref()?;
                    (sig.scope == SignalScope::Node).then_some((sig.detect.weight, ev.level))
                });
            self.scores[i] = score::combine(parts);
        }
    }
}
