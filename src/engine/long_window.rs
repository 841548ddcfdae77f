//! Signals over a long window (a rate over an hour, made to see a gray
//! node's small failure share) remember what the short ones have already
//! forgotten, so two rules keep them honest:
//!
//! - **common cause lingers for the window**: a node that was part of a
//!   cluster or zone incident in the signal's family within the window is
//!   not judged on it — its hour still carries the incident, which was
//!   already told once as one cluster alert (a zone's outage would
//!   otherwise re-alert each of its nodes when the zone alone stops being
//!   a common cause);
//! - **no judgement before the node has a whole window of its own after
//!   its warm-up**: the first hour of a new node holds its start-up
//!   (probes refused while pods start), which is no gray failure.
//!
//! Only signals whose window is at least [`LONG_WINDOW`] are concerned,
//! so the short signals behave exactly as before. State: one tick number
//! per (family, node) for families with a long-window member.

use super::Engine;
use crate::catalog::SignalScope;
use crate::time::Duration;

/// Windows from this length on are "long".
pub const LONG_WINDOW: Duration = Duration::mins(30);

/// `[signal]` the long window of each node signal, if it has one.
pub(super) fn long_windows(catalog: &crate::catalog::Catalog) -> Vec<Option<Duration>> {
    catalog
        .signals
        .iter()
        .map(|s| {
            let w = s.metric.as_ref().and_then(|m| m.rate)?;
            (s.scope == SignalScope::Node && w.0 >= LONG_WINDOW.0).then_some(w)
        })
        .collect()
}

impl Engine {
    /// Whether node `i` is too young to be judged on long-window signal `s`
    /// at this tick (created less than warm-up + window ago).
    pub(super) fn too_young_for(&self, s: usize, i: u32) -> bool {
        let Some(w) = self.long_window[s] else {
            return false;
        };
        let created = self.nodes.entry(i).created;
        created.is_some_and(|c| self.at.since(c).0 < self.settings.warm_up.0 + w.0)
    }

    /// After the common-cause pass: records the nodes suppressed this tick
    /// per family, and suppresses the long-window members on nodes that
    /// were suppressed within their window.
    pub(super) fn linger_common_cause(&mut self) {
        let step = self.settings.step.0.max(1);
        let n = self.nodes.len();
        for s in 0..self.catalog.signals.len() {
            let Some(w) = self.long_window[s] else {
                continue;
            };
            let fam = self.catalog.signals[s].family().to_string();
            let members: Vec<usize> = (0..self.catalog.signals.len())
                .filter(|&m| {
                    self.catalog.signals[m].scope == SignalScope::Node
                        && self.catalog.signals[m].family() == fam
                })
                .collect();
            let last = self.last_common.entry(fam).or_default();
            last.resize(n, 0);
            for &m in &members {
                for (i, ev) in self.evidence[m].iter().enumerate() {
                    if ev.as_ref().is_some_and(|e| e.suppressed) {
                        last[i] = self.tick;
                    }
                }
            }
            let keep = (w.0 / step) as u64;
            for (i, ev) in self.evidence[s].iter_mut().enumerate() {
                let Some(ev) = ev.as_mut() else { continue };
                if last[i] > 0 && self.tick - last[i] <= keep {
                    ev.suppressed = true;
                    ev.level = 0.0;
                }
            }
        }
    }
}
