//! What a new leader (after a restart, a crash or a hand-over) takes over
//! from the one before, besides the cordons it adopts from annotations
//! (`agent.rs`): drains left unfinished, NodeConditions left `True` with
//! no alert behind them any more, and which nodes a maintenance window
//! holds for the condition writer.
//!
//! - A drain whose node still says `nodewatch.io/drain: evicting` (the
//!   leader died mid-drain) or `handover` (it lost the lease) is resumed
//!   with what is left of the timeout since the cordon
//!   ([`Drainer::resume`](super::drain::Drainer::resume)), at least one
//!   round; not in dry-run or while paused.
//! - A `True` condition is left alone until the new leader has led for its
//!   settling time (`engine.warm_up` plus the longest `for` of the node
//!   rules plus a tick): a node still sick has its alert fire again by
//!   then, and its condition keeps its `lastTransitionTime`; a node judged
//!   healthy then, on fresh data, is set `False`.

use super::cordon::{KubeCordoner, AT, CORDONED_BY, DRAIN_ANNOTATION};
use super::gated::Gated;
use crate::act::Notifier;
use crate::catalog::{AlertScope, Catalog};
use crate::k8s;
use crate::pipeline::Pipeline;
use crate::time::{Duration, Timestamp};
use std::collections::HashSet;

/// What the take-over needs to know of the configuration.
#[derive(Clone, Debug, Default)]
pub struct Duties {
    /// `kubernetes.condition.type` when the condition is on.
    pub condition: Option<String>,
    /// `governor.dry_run`: nothing is resumed.
    pub dry_run: bool,
    /// [`settling_time`].
    pub settle: Duration,
}

/// One tick's take-over duties of the acting leader (see the module
/// header); `nodes` is the latest node list.
pub fn take_over<N: Notifier>(
    p: &mut Pipeline<Gated<N>, KubeCordoner>,
    term: &mut Term,
    duties: &Duties,
    nodes: &[k8s::Node],
    at: Timestamp,
    acting: bool,
) {
    term.observe(acting, at);
    if !acting {
        return;
    }
    if !duties.dry_run {
        for n in nodes {
            let name = &n.metadata.name;
            if term.resumed.contains(name) {
                continue;
            }
            if let Some(elapsed) = unfinished_drain(n, at) {
                if p.cordoner_mut().resume_drain(name, elapsed) {
                    term.resumed.insert(name.clone());
                }
            }
        }
    }
    let Some(kind) = &duties.condition else {
        return;
    };
    let held: HashSet<String> = nodes
        .iter()
        .map(|n| &n.metadata.name)
        .filter(|n| p.window_hold_of(n, at).is_some())
        .cloned()
        .collect();
    let Some(mirror) = p.notifier().condition() else {
        return;
    };
    if term.held.as_ref() != Some(&held) {
        mirror.set_held(held.clone());
        term.held = Some(held);
    }
    if !term.settled(at, duties.settle) {
        return;
    }
    let engine = p.engine();
    for n in nodes.iter().filter(|n| marked(n, kind)) {
        let name = &n.metadata.name;
        if !term.reconciled.contains(name) && engine.is_healthy(name) && engine.is_fresh(name) {
            mirror.reconcile(name);
            term.reconciled.insert(name.clone());
        }
    }
}

/// How long a new leader evaluates before clearing leftover conditions.
pub fn settling_time(catalog: &Catalog, warm_up: Duration, step: Duration) -> Duration {
    let longest_for = catalog
        .rules
        .iter()
        .filter(|r| r.scope == AlertScope::Node)
        .map(|r| r.for_.0)
        .max()
        .unwrap_or(0);
    Duration(warm_up.0 + longest_for + step.0)
}

/// For a node whose drain an earlier leader left unfinished: how long ago
/// it was cordoned (0 when the time cannot be read).
pub fn unfinished_drain(n: &k8s::Node, now: Timestamp) -> Option<Duration> {
    let a = &n.metadata.annotations;
    let state = a.get(DRAIN_ANNOTATION)?;
    if !n.spec.unschedulable
        || !a.contains_key(CORDONED_BY)
        || !matches!(state.as_str(), "evicting" | "handover")
    {
        return None;
    }
    let at = a.get(AT).and_then(|t| Timestamp::parse_rfc3339(t).ok());
    Some(at.map_or(Duration(0), |at| Duration(now.since(at).0.max(0))))
}

/// Whether the node carries condition `kind` with status `True`.
pub fn marked(n: &k8s::Node, kind: &str) -> bool {
    n.status
        .conditions
        .iter()
        .any(|c| c.type_ == kind && c.status == "True")
}

/// A leader's term: since when it acts, and what it already took over.
#[derive(Debug, Default)]
pub struct Term {
    /// First tick of this term as the acting leader.
    pub since: Option<Timestamp>,
    /// Drains resumed in this term.
    pub resumed: HashSet<String>,
    /// Leftover conditions reconciled in this term.
    pub reconciled: HashSet<String>,
    /// The held set last sent to the condition writer.
    pub held: Option<HashSet<String>>,
}

impl Term {
    /// Records whether this replica acts at `at`; a pause or a lost lease
    /// ends the term (the next one takes over afresh).
    pub fn observe(&mut self, acting: bool, at: Timestamp) {
        if acting {
            self.since.get_or_insert(at);
        } else {
            *self = Term::default();
        }
    }

    /// Whether the term has lasted `settle` at `at`.
    pub fn settled(&self, at: Timestamp, settle: Duration) -> bool {
        self.since.is_some_and(|s| at.since(s) >= settle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(unschedulable: bool, annotations: &[(&str, &str)]) -> k8s::Node {
        let mut n = k8s::Node::default();
        n.metadata.name = "n1".into();
        n.spec.unschedulable = unschedulable;
        for (k, v) in annotations {
            n.metadata.annotations.insert(k.to_string(), v.to_string());
        }
        n
    }

    #[test]
    fn only_our_unfinished_drains_of_cordoned_nodes_are_resumed() {
        let now = Timestamp::parse_rfc3339("2026-12-04T10:05:00Z").unwrap();
        let ours = [
            (CORDONED_BY, "replica-a"),
            (AT, "2026-12-04T10:00:00Z"),
            (DRAIN_ANNOTATION, "evicting"),
        ];
        assert_eq!(
            unfinished_drain(&node(true, &ours), now),
            Some(Duration::mins(5))
        );
        let mut handover = ours;
        handover[2].1 = "handover";
        assert!(unfinished_drain(&node(true, &handover), now).is_some());
        // Finished, stopped at its timeout, uncordoned, or not ours: no.
        for state in ["done", "stopped", "deleted"] {
            let mut a = ours;
            a[2].1 = state;
            assert_eq!(unfinished_drain(&node(true, &a), now), None, "{state}");
        }
        assert_eq!(unfinished_drain(&node(false, &ours), now), None);
        assert_eq!(unfinished_drain(&node(true, &ours[1..]), now), None);
        // An unreadable cordon time: the whole timeout is left.
        let mut a = ours;
        a[1].1 = "yesterday";
        assert_eq!(unfinished_drain(&node(true, &a), now), Some(Duration(0)));
    }

    #[test]
    fn a_term_settles_and_ends_with_the_lease() {
        let t0 = Timestamp::parse_rfc3339("2026-12-04T10:00:00Z").unwrap();
        let settle = settling_time(&Catalog::builtin(), Duration::mins(10), Duration::secs(30));
        assert_eq!(
            settle,
            Duration(Duration::mins(12).0 + 30_000),
            "warm-up + NodeUnhealthy's for 2m + a tick"
        );
        let mut t = Term::default();
        t.observe(true, t0);
        t.observe(true, t0.add(Duration::mins(5)));
        assert!(!t.settled(t0.add(Duration::mins(5)), settle));
        assert!(t.settled(t0.add(settle), settle));
        t.observe(false, t0.add(Duration::mins(13)));
        t.observe(true, t0.add(Duration::mins(14)));
        assert!(!t.settled(t0.add(Duration::mins(20)), settle));
        let mut n = node(false, &[]);
        assert!(!marked(&n, "NodewatchUnhealthy"));
        n.status.conditions.push(k8s::NodeCondition {
            type_: "NodewatchUnhealthy".into(),
            status: "True".into(),
        });
        assert!(marked(&n, "NodewatchUnhealthy"));
    }
}
