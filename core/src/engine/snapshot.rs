//! Builds the published [`Snapshot`] and the explanations in words. Only
//! done once per tick for what is shown, never in the scoring hot path.

use super::contributors::from_text;
use super::Engine;
use crate::catalog::SignalScope;
use crate::score::node::fmt;
use crate::state::{
    CommonCause, Contribution, NodeView, SignalInfo, SignalValue, Snapshot, WorkloadView,
};

impl Engine {
    /// A node's score explained: the contributing signals, strongest first,
    /// and any signals without data.
    pub fn node_explanation(&self, i: u32) -> String {
        let contributions = self.contributions(i);
        let mut parts: Vec<String> = contributions
            .iter()
            .take(4)
            .map(|c| format!("{} {}{}", c.signal, c.detail, from_text(&c.top)))
            .collect();
        if parts.is_empty() {
            parts.push("all signals normal".to_string());
        }
        let unknown = self.unknown_signals(i);
        if !unknown.is_empty() {
            parts.push(format!("no fresh data for {}", unknown.join(", ")));
        }
        if let Some(d) = self.held(i) {
            parts.push(format!("held, {d}"));
        }
        format!(
            "score {}: {}",
            fmt(self.scores[i as usize]),
            parts.join("; ")
        )
    }

    fn contributions(&self, i: u32) -> Vec<Contribution> {
        let mut out: Vec<Contribution> = self
            .catalog
            .signals
            .iter()
            .enumerate()
            .filter(|(_, sig)| sig.scope == SignalScope::Node)
            .filter_map(|(s, sig)| {
                let ev = self.evidence[s].get(i as usize).copied().flatten()?;
                // A watched workload's own trouble is shown, marked, at 0.
                let owner = self.discounted(s, i);
                (ev.level > 0.0 || owner.is_some()).then(|| Contribution {
                    signal: sig.name.clone(),
                    value: ev.value,
                    level: ev.level,
                    weight: sig.detect.weight,
                    detail: match owner {
                        Some(w) => format!(
                            "{}, not counted: {w}'s own trouble",
                            ev.describe(&sig.detect)
                        ),
                        None => ev.describe(&sig.detect),
                    },
                    top: self.top_contributors(s, i, ev.value),
                })
            })
            .collect();
        out.sort_by(|a, b| (b.level * b.weight).total_cmp(&(a.level * a.weight)));
        out
    }

    fn unknown_signals(&self, i: u32) -> Vec<String> {
        self.catalog
            .signals
            .iter()
            .enumerate()
            .filter(|(s, sig)| {
                sig.scope == SignalScope::Node
                    && self.evidence[*s]
                        .get(i as usize)
                        .is_some_and(Option::is_none)
            })
            .map(|(_, sig)| sig.name.clone())
            .collect()
    }

    /// The cluster-level explanation for signals in common-cause state.
    pub(super) fn cluster_explanation(&self, signals: &[usize]) -> String {
        let parts: Vec<String> = signals
            .iter()
            .filter_map(|&s| {
                let (nodes, of) = self.common[s].as_ref()?;
                let domain = self.common_domain[s]
                    .as_ref()
                    .map(|d| format!(", all in {}", super::topology::describe(d)))
                    .unwrap_or_default();
                Some(format!(
                    "{} tripped on {} of {} nodes at once{domain}{}",
                    self.catalog.signals[s].name,
                    nodes.len(),
                    of,
                    self.cluster_contributors(s, nodes)
                ))
            })
            .collect();
        if parts.is_empty() {
            "no signal is tripped cluster-wide".to_string()
        } else {
            format!(
                "{}: a shared cause, so no node is blamed or cordoned for it",
                parts.join("; ")
            )
        }
    }

    /// Everything the outside world may see now.
    pub fn snapshot(&self) -> Snapshot {
        let upgrading = self.upgrading_pools();
        let mut nodes: Vec<NodeView> = self
            .existing()
            .map(|i| {
                let e = self.nodes.entry(i);
                let signals = self
                    .catalog
                    .signals
                    .iter()
                    .enumerate()
                    .filter(|(_, sig)| sig.scope == SignalScope::Node)
                    .map(|(s, sig)| {
                        let ev = self.evidence[s].get(i as usize).copied().flatten();
                        SignalValue {
                            signal: sig.name.clone(),
                            value: ev.map(|e| e.value).filter(|v| v.is_finite()),
                            level: ev.map_or(0.0, |e| e.level),
                        }
                    })
                    .collect();
                NodeView {
                    name: e.name.clone(),
                    zone: e.zone.clone(),
                    pool: e.pool.clone(),
                    score: self.scores[i as usize],
                    explanation: self.node_explanation(i),
                    contributions: self.contributions(i),
                    signals,
                    unknown: self.unknown_signals(i),
                    cordoned: self.unschedulable(i),
                    cordoned_by_us: self.is_ours(i),
                    held: self
                        .held(i)
                        .map(|d| d.to_string())
                        .or_else(|| upgrading.get(&e.pool).cloned()),
                }
            })
            .collect();
        nodes.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.name.cmp(&b.name))
        });
        let mut workloads = Vec::new();
        for (s, map) in self.workloads.iter().enumerate() {
            let sig = &self.catalog.signals[s];
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for k in keys {
                let w = &map[k];
                let Some(ev) = w.evidence else { continue };
                // A pod another scope's hub selector judges is shown there.
                if !self.owner(s, k).0 {
                    continue;
                }
                workloads.push(WorkloadView {
                    signal: sig.name.clone(),
                    subject: k.clone(),
                    labels: w.labels.iter().cloned().collect(),
                    value: Some(ev.value).filter(|v| v.is_finite()),
                    level: ev.level,
                    // Where the pod runs and its share of that node.
                    detail: format!(
                        "{}{}",
                        ev.describe(&sig.detect),
                        self.workload_context(s, k)
                    ),
                });
            }
        }
        let common_cause = self
            .common
            .iter()
            .enumerate()
            .filter_map(|(s, c)| {
                let (tripped, of) = c.as_ref()?;
                Some(CommonCause {
                    signal: self.catalog.signals[s].name.clone(),
                    nodes: tripped
                        .iter()
                        .map(|&i| self.nodes.entry(i).name.clone())
                        .collect(),
                    of: *of,
                })
            })
            .collect();
        let alerts = self
            .alerts
            .iter()
            .map(|((r, subject), e)| {
                let rule = &self.catalog.rules[r];
                self.alert_view(
                    rule,
                    subject,
                    e.value,
                    &e.explanation,
                    e.active_since,
                    e.fired_at,
                )
            })
            .collect();
        let signals = self
            .catalog
            .signals
            .iter()
            .filter(|s| s.variant.is_none())
            .map(|s| SignalInfo {
                name: s.name.clone(),
                help: s.help.clone(),
                scope: match s.scope {
                    SignalScope::Node => "node",
                    SignalScope::Workload => "workload",
                }
                .to_string(),
            })
            .collect();
        let (ingested, increments, unattributed) = self.event_counts();
        let mut snap = Snapshot {
            at: self.at,
            nodes,
            workloads,
            common_cause,
            alerts,
            signals,
            ..Default::default()
        };
        snap.stats.ticks = self.tick;
        snap.stats.events_ingested = ingested;
        snap.stats.event_increments = increments;
        snap.stats.events_unattributed = unattributed;
        snap.stats.metric_rows_unlisted = self.metric_rows_unlisted().0;
        snap.stats.pods_tracked = self.events.pods_known() as u64;
        snap
    }
}
