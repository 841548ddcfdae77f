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
//! - **the node's own incident lingers too**: a node on which a short
//!   member of the family counted (an acute fault: lost networking, every
//!   probe failing) within the window is not judged on the long one — the
//!   short signals tell that incident while it lasts, and its hour would
//!   otherwise keep the node unhealthy (and cordoned) for an hour after it
//!   recovered. A gray node is exactly one the short signals never see;
//! - **no judgement before the node has a whole window of its own after
//!   its warm-up**: the first hour of a new node holds its start-up
//!   (probes refused while pods start), which is no gray failure.
//!
//! Only signals whose window is at least [`LONG_WINDOW`] are concerned,
//! so the short signals behave exactly as before. State: two tick numbers
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
            let last = self.last_common.entry(fam.clone()).or_default();
            last.resize(n, 0);
            for &m in &members {
                for (i, ev) in self.evidence[m].iter().enumerate() {
                    if ev.as_ref().is_some_and(|e| e.suppressed) {
                        last[i] = self.tick;
                    }
                }
            }
            let own = self.last_own.entry(fam).or_default();
            own.resize(n, 0);
            for &m in members.iter().filter(|&&m| self.long_window[m].is_none()) {
                for (i, ev) in self.evidence[m].iter().enumerate() {
                    if ev.as_ref().is_some_and(|e| e.level >= 0.5) {
                        own[i] = self.tick;
                    }
                }
            }
            let keep = (w.0 / step) as u64;
            let within = |t: u64| t > 0 && self.tick - t <= keep;
            for (i, ev) in self.evidence[s].iter_mut().enumerate() {
                let Some(ev) = ev.as_mut() else { continue };
                if within(last[i]) {
                    ev.suppressed = true;
                    ev.level = 0.0;
                } else if within(own[i]) {
                    ev.level = 0.0;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::Observation;
    use crate::time::Timestamp;
    use std::path::PathBuf;
    use std::sync::Arc;

    const CATALOG: &str = "
signals:
  - name: short
    family: f
    metric: {name: m, by: [node]}
    detect: {z: 4, mad_floor: 0.05}
  - name: long
    family: f
    metric: {name: m, rate: 1h, by: [node]}
    detect: {baseline: false, z: 4, mad_floor: 0.01}
rules:
  - alert: NodeUnhealthy
    scope: node
    when: {score_above: 0.8}
    for: 2m
";

    fn engine() -> Engine {
        let c = crate::catalog::Catalog::from_sources(vec![(
            PathBuf::from("t.yaml"),
            CATALOG.to_string(),
        )])
        .unwrap();
        Engine::new(Arc::new(c), super::super::Settings::default())
    }

    fn obs(t: i64, short: impl Fn(usize) -> f64, long: impl Fn(usize) -> f64) -> Observation {
        let rows = |f: &dyn Fn(usize) -> f64| {
            (0..8)
                .map(|n| (vec![format!("n{n}")], f(n)))
                .collect::<Vec<_>>()
        };
        Observation {
            at: Timestamp(t * 30_000),
            metrics: vec![Some(Ok(rows(&short))), Some(Ok(rows(&long)))],
            events_ok: true,
            ..Default::default()
        }
    }

    fn quiet(t: i64, n: usize) -> f64 {
        0.01 * (((t * 7 + n as i64 * 13) % 5) as f64)
    }

    #[test]
    fn a_common_cause_lingers_on_long_windows_for_their_window() {
        assert_eq!(
            long_windows(&engine().catalog),
            vec![None, Some(Duration::mins(60))]
        );
        let mut e = engine();
        // Ticks of 30 s: a cluster-wide incident on `short` at ticks 40–49;
        // the long window still carries it on node 3 afterwards.
        let mut first_alert = None;
        for t in 0..300 {
            let incident = (40..50).contains(&t);
            let out = e.tick(obs(
                t,
                |n| if incident { 0.9 } else { quiet(t, n) },
                |n| {
                    if n == 3 && t >= 40 {
                        0.2
                    } else {
                        quiet(t, n) / 5.0
                    }
                },
            ));
            if (40..=49 + 120).contains(&t) {
                let ev = e.evidence[1][3].unwrap();
                assert!(ev.suppressed && ev.level == 0.0, "tick {t}: {ev:?}");
            }
            if first_alert.is_none() && !out.notifications.is_empty() {
                first_alert = Some(t);
            }
        }
        // One hour (120 ticks) after the incident's last tick, node 3 is
        // judged on its hour again: 0.2 against peers at 0 is a gray node.
        let t = first_alert.expect("node 3 judged after the window");
        assert!(t > 49 + 120, "alerted at tick {t}, inside the window");
        let ev = e.evidence[1][3].unwrap();
        assert!(!ev.suppressed && ev.level > 0.9, "{ev:?}");
    }

    #[test]
    fn a_nodes_own_acute_incident_lingers_on_long_windows() {
        let mut e = engine();
        // Node 3 alone fails hard at ticks 40–49 (the short signal tells
        // it); its hour of failures is no gray failure on top of that.
        for t in 0..200 {
            let acute = (40..50).contains(&t);
            e.tick(obs(
                t,
                |n| if acute && n == 3 { 0.9 } else { quiet(t, n) },
                |n| {
                    if n == 3 && t >= 40 {
                        0.2
                    } else {
                        quiet(t, n) / 5.0
                    }
                },
            ));
            let ev = e.evidence[1][3].unwrap();
            if (40..=49 + 120).contains(&t) {
                assert!(ev.level == 0.0 && !ev.suppressed, "tick {t}: {ev:?}");
            } else if t > 49 + 120 {
                assert!(ev.level > 0.9, "tick {t}: {ev:?}");
            }
        }
    }
}
