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
//! per (long-window signal, node), and its family's members, listed once.

use super::Engine;
use crate::catalog::{Catalog, SignalScope};
use crate::score::Evidence;
use crate::time::Duration;

/// Windows from this length on are "long".
pub const LONG_WINDOW: Duration = Duration::mins(30);

/// The catalog's long-window node signals and their lingering state, laid
/// out once when the engine is built so a tick only walks vectors.
#[derive(Debug, Default)]
pub(super) struct LongWindows {
    /// `[signal]` the window of long-window node signals.
    by_signal: Vec<Option<Duration>>,
    long: Vec<Long>,
}

/// One long-window node signal and what its two lingering rules read.
#[derive(Debug)]
struct Long {
    signal: usize,
    window: Duration,
    /// Node signals of its family (itself included): where the family was
    /// a common cause.
    family: Vec<usize>,
    /// The family's short node signals: the node's own acute incident.
    short: Vec<usize>,
    /// `[node]` the last tick the family was a common cause there.
    last_common: Vec<u64>,
    /// `[node]` the last tick a short member counted there.
    last_own: Vec<u64>,
}

impl LongWindows {
    /// The long-window node signals of `catalog`.
    pub(super) fn new(catalog: &Catalog) -> Self {
        let node = |s: usize| catalog.signals[s].scope == SignalScope::Node;
        let by_signal: Vec<Option<Duration>> = (0..catalog.signals.len())
            .map(|s| {
                let w = catalog.signals[s].metric.as_ref().and_then(|m| m.rate)?;
                (node(s) && w.0 >= LONG_WINDOW.0).then_some(w)
            })
            .collect();
        let long = (0..by_signal.len())
            .filter_map(|s| {
                let window = by_signal[s]?;
                let fam = catalog.signals[s].family();
                let family: Vec<usize> = (0..by_signal.len())
                    .filter(|&m| node(m) && catalog.signals[m].family() == fam)
                    .collect();
                let short = family
                    .iter()
                    .copied()
                    .filter(|&m| by_signal[m].is_none())
                    .collect();
                Some(Long {
                    signal: s,
                    window,
                    family,
                    short,
                    last_common: Vec::new(),
                    last_own: Vec::new(),
                })
            })
            .collect();
        LongWindows { by_signal, long }
    }

    /// The window of signal `s` if it is a long-window node signal.
    pub(super) fn window(&self, s: usize) -> Option<Duration> {
        self.by_signal[s]
    }
}

impl Engine {
    /// Whether node `i` is too young to be judged on long-window signal `s`
    /// at this tick (created less than warm-up + window ago).
    pub(super) fn too_young_for(&self, s: usize, i: u32) -> bool {
        let Some(w) = self.long.window(s) else {
            return false;
        };
        let created = self.nodes.entry(i).created;
        created.is_some_and(|c| self.at.since(c).0 < self.settings.warm_up.0 + w.0)
    }

    /// After the common-cause pass: records the nodes where each long
    /// signal's family was suppressed (a common cause) or a short member
    /// counted this tick, and suppresses or silences the long signal on
    /// nodes where either happened within its window.
    pub(super) fn linger_common_cause(&mut self) {
        let (step, tick, n) = (self.settings.step.0.max(1), self.tick, self.nodes.len());
        let evidence = &mut self.evidence;
        for l in &mut self.long.long {
            l.last_common.resize(n, 0);
            l.last_own.resize(n, 0);
            let mark = |last: &mut [u64], members: &[usize], hit: &dyn Fn(&Evidence) -> bool| {
                for &m in members {
                    for (i, ev) in evidence[m].iter().enumerate() {
                        if ev.as_ref().is_some_and(hit) {
                            last[i] = tick;
                        }
                    }
                }
            };
            mark(&mut l.last_common, &l.family, &|e| e.suppressed);
            mark(&mut l.last_own, &l.short, &|e| e.level >= 0.5);
            let keep = (l.window.0 / step) as u64;
            let within = |t: u64| t > 0 && tick - t <= keep;
            for (i, ev) in evidence[l.signal].iter_mut().enumerate() {
                let Some(ev) = ev.as_mut() else { continue };
                if within(l.last_common[i]) {
                    ev.suppressed = true;
                    ev.level = 0.0;
                } else if within(l.last_own[i]) {
                    ev.level = 0.0;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Observation;
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
            LongWindows::new(&engine().catalog).by_signal,
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
