//! The pipeline driver: one tick of collect → engine → act, shared by
//! replay, suite, demo and the live agent. It owns the engine, the governor
//! and the action log, hands notifications to the notifier and cordons
//! through the cordoner only when the governor agrees. Its fields are
//! private: callers go through the methods below, so the core is never
//! mutated from outside.

use crate::act::{Cordoner, Governor, Mode, Notifier, Refusal};
use crate::collect::{Observation, Source};
use crate::engine::{Engine, PoolRules};
use crate::model::{ActionKind, ActionRecord, AlertState, CordonRequest, NodeFacts, Notification};
use crate::state::Snapshot;
use crate::time::Timestamp;
use std::collections::HashSet;

/// Actions kept for the snapshot (the report keeps its own full list).
const RECENT_ACTIONS: usize = 100;

/// Drives the engine and the actors.
pub struct Pipeline<N: Notifier, C: Cordoner> {
    /// The pure core.
    engine: Engine,
    /// The safety governor.
    governor: Governor,
    /// Where alerts go.
    notifier: N,
    /// Who cordons.
    cordoner: C,
    /// Every cordon, uncordon and refusal, in order (the newest
    /// `max_actions` of them in a long-running agent).
    actions: Vec<ActionRecord>,
    max_actions: usize,
    /// Alerts (name, node) not sent because their node's pool is
    /// detect-only; their resolution is not sent either.
    muted: HashSet<(String, String)>,
    notifications: u64,
    tick_seconds: f64,
}

impl<N: Notifier, C: Cordoner> Pipeline<N, C> {
    /// Assembles a pipeline.
    pub fn new(mut engine: Engine, governor: Governor, notifier: N, cordoner: C) -> Self {
        engine.keep_labels(governor.label_keys());
        // The pool policies' thresholds and hub selectors, for the core.
        let pools = governor
            .settings()
            .pools
            .iter()
            .map(|p| PoolRules {
                name: p.name.clone(),
                selector: p.selector.clone(),
                hub: p.hub.clone(),
                thresholds: p.thresholds.clone(),
            })
            .collect();
        let engine = engine.with_pools(pools);
        Pipeline {
            engine,
            governor,
            notifier,
            cordoner,
            actions: Vec::new(),
            max_actions: usize::MAX,
            muted: HashSet::new(),
            notifications: 0,
            tick_seconds: 0.0,
        }
    }

    /// Keeps only the newest `n` action records (a replay keeps all; the
    /// live agent runs for months, and the audit log is the durable copy).
    pub fn keep_actions(mut self, n: usize) -> Self {
        self.max_actions = n.max(RECENT_ACTIONS);
        self
    }

    /// The pure core (read-only).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Where alerts go (read-only).
    pub fn notifier(&self) -> &N {
        &self.notifier
    }

    /// Where alerts go, for switches the notifier itself owns (the live
    /// agent's leadership gate).
    pub fn notifier_mut(&mut self) -> &mut N {
        &mut self.notifier
    }

    /// Who cordons (read-only: its counters).
    pub fn cordoner(&self) -> &C {
        &self.cordoner
    }

    /// Every cordon, uncordon and refusal so far, in order.
    pub fn actions(&self) -> &[ActionRecord] {
        &self.actions
    }

    /// The notifier and the full action log, once the run is over.
    pub fn into_results(self) -> (N, Vec<ActionRecord>) {
        (self.notifier, self.actions)
    }

    /// Switches actions off (the pause flag or annotation, or a standby
    /// replica): every cordon is refused and reported, scoring goes on.
    pub fn set_paused(&mut self, paused: bool) {
        self.governor.set_paused(paused);
    }

    /// Holds every cordon for `reason` (an outside condition such as an
    /// Alertmanager alert) until called with `None`.
    pub fn set_hold(&mut self, reason: Option<String>) {
        self.governor.set_hold(reason);
    }

    /// Whether nodewatch cordoned `node` (as far as the ledger knows).
    pub fn is_cordoned_by_us(&self, node: &str) -> bool {
        self.governor.ledger().is_cordoned_by_us(node)
    }

    /// Adopts a cordon nodewatch made earlier (found in the node's
    /// annotations after a restart or on another replica), made at `at`
    /// when known: it counts for the limits and the rate limit.
    pub fn adopt_cordon(&mut self, node: &str, at: Option<Timestamp>) {
        self.governor.ledger_mut().adopt_cordon(node, at);
    }

    /// Whether `node`, schedulable but annotated as cordoned by nodewatch at
    /// `cordon_at`, is seen so for the first time (see the ledger).
    pub fn first_sight_of_annotated_uncordon(&mut self, node: &str, cordon_at: &str) -> bool {
        self.governor
            .ledger_mut()
            .first_sight_of_annotated_uncordon(node, cordon_at)
    }

    /// Records that a human uncordoned `node` after nodewatch cordoned it:
    /// it is left alone until it has been healthy again.
    pub fn note_human_uncordon(&mut self, node: &str) {
        self.governor.ledger_mut().note_human_uncordon(node);
    }

    /// Observes `source` at `at` and runs one tick; returns the actions
    /// taken or refused in it.
    pub async fn step<S: Source>(&mut self, source: &mut S, at: Timestamp) -> Vec<ActionRecord> {
        let obs = source.observe(at, self.engine.catalog()).await;
        self.step_with(obs).await
    }

    /// Runs one tick on an observation.
    pub async fn step_with(&mut self, obs: Observation) -> Vec<ActionRecord> {
        let started = std::time::Instant::now();
        // The node list goes to the ledger before the tick is judged: it
        // supersedes what nodewatch wrote and shows humans' uncordons.
        let ledger = self.governor.ledger_mut();
        let mut human_uncordoned = Vec::new();
        let out = self.engine.tick_with(obs, |changed| {
            human_uncordoned = ledger.observe_listed(changed);
            ledger.cordons().clone()
        });
        self.tick_seconds = started.elapsed().as_secs_f64();
        let at = out.at;
        for n in out.notifications {
            if self.mute(&n) {
                continue;
            }
            self.notifications += 1;
            tracing::info!(at = %at, "alert {} {} [{}] {}", n.status, n.alert.name, n.alert.scope, n.alert.subject);
            self.notifier.notify(n);
        }
        for node in &human_uncordoned {
            tracing::warn!(
                node,
                "a human uncordoned a node nodewatch had cordoned; leaving it alone until healthy"
            );
        }
        for node in self.governor.ledger().overridden() {
            let healthy = self.engine.is_healthy(&node);
            self.governor.observe_health(&node, healthy, at);
        }
        let mut taken = Vec::new();
        let mut requested = Vec::new();
        for req in &out.cordon_requests {
            requested.push(req.node.clone());
            // Facts change as cordons happen within one tick.
            let facts = self.governor.ledger().cordons().refresh(&out.facts);
            let record = |kind: ActionKind, reason: String| ActionRecord {
                at,
                node: req.node.clone(),
                kind,
                rule: req.rule.clone(),
                reason,
                score: req.score,
            };
            let mode = facts
                .iter()
                .find(|f| f.name == req.node)
                .and_then(|f| self.governor.mode_of(f));
            let req = &CordonRequest {
                drain: req.drain && mode != Some(Mode::Cordon),
                ..req.clone()
            };
            match self.governor.check(req, &facts, at) {
                Ok(()) => match self.cordoner.cordon(&req.node, req, at).await {
                    Ok(()) => {
                        tracing::info!(node = %req.node, rule = %req.rule, "cordoned: {}", req.explanation);
                        self.governor
                            .ledger_mut()
                            .record_cordon(&req.node, at, &req.rule);
                        taken.push(record(ActionKind::Cordon, req.explanation.clone()));
                    }
                    Err(e) => tracing::warn!(node = %req.node, "cordon failed, will retry: {e}"),
                },
                Err(refusal) => {
                    let reason = refusal.to_string();
                    if self.governor.ledger_mut().note_refusal(&req.node, &reason) {
                        log_refusal(&req.node, &refusal);
                        let mut text = format!("would cordon, refused because {reason}");
                        if refusal == Refusal::DryRun && req.drain {
                            if let Some(more) = self.cordoner.would_also(&req.node).await {
                                text = format!("{text}; {more}");
                            }
                        }
                        taken.push(record(ActionKind::Refused, text));
                    }
                }
            }
        }
        // A node no longer asked for starts a fresh refusal streak.
        self.governor.ledger_mut().end_refusal_streaks(&requested);
        for node in &out.uncordon_requests {
            if !self.governor.acts() {
                continue;
            }
            // A maintenance window holds uncordons too (until it ends).
            if self.window_hold_of(node, at).is_some() {
                continue;
            }
            match self.cordoner.uncordon(node, at).await {
                Ok(()) => {
                    self.governor.ledger_mut().record_uncordon(node, at);
                    taken.push(ActionRecord {
                        at,
                        node: node.clone(),
                        kind: ActionKind::Uncordon,
                        rule: String::new(),
                        reason: "healthy again after nodewatch cordoned it".into(),
                        score: 0.0,
                    });
                }
                Err(e) => tracing::warn!(node = %node, "uncordon failed, will retry: {e}"),
            }
        }
        for a in &taken {
            if !self.detect_only(&a.node) {
                self.notifier.record_action(a);
            }
        }
        self.actions.extend(taken.iter().cloned());
        trim(&mut self.actions, self.max_actions);
        taken
    }

    /// The maintenance window holding `node` at `at`, if any, in words.
    pub fn window_hold_of(&self, node: &str, at: Timestamp) -> Option<String> {
        let facts = self.node_facts(node)?;
        self.governor.window_hold_of(&facts, at)
    }

    /// `node` as the governor sees it now: the engine's facts with the
    /// ledger's current cordon state (actions of this tick count).
    fn node_facts(&self, node: &str) -> Option<NodeFacts> {
        let mut facts = self.engine.node_facts(node)?;
        self.governor.ledger().cordons().refresh_one(&mut facts);
        Some(facts)
    }

    /// Who cordons (the live agent resumes drains with it).
    pub fn cordoner_mut(&mut self) -> &mut C {
        &mut self.cordoner
    }

    /// Whether `node`'s pool policy is detect-only (nothing sent for it).
    fn detect_only(&self, node: &str) -> bool {
        self.governor.has_pools()
            && self
                .node_facts(node)
                .is_some_and(|f| self.governor.mode_of(&f) == Some(Mode::DetectOnly))
    }

    /// Whether `n` stays unsent: a node alert of a detect-only pool, or the
    /// resolution of one that was not sent.
    fn mute(&mut self, n: &Notification) -> bool {
        if !self.governor.has_pools() {
            return false;
        }
        let key = (n.alert.name.clone(), n.alert.subject.clone());
        if n.status == AlertState::Resolved {
            return self.muted.remove(&key);
        }
        if n.alert.scope == "node" && self.detect_only(&n.alert.subject) {
            tracing::debug!(node = %n.alert.subject, "alert {} not sent: the node's pool is detect-only", n.alert.name);
            self.muted.insert(key);
            return true;
        }
        false
    }

    /// The snapshot to publish, with recent actions and self-health.
    pub fn snapshot(&self, scenario: Option<&str>) -> Snapshot {
        let mut s = self.engine.snapshot();
        // The engine's view is from the start of the tick; the ledger's
        // includes this tick's cordons and uncordons.
        let cordons = self.governor.ledger().cordons();
        for n in &mut s.nodes {
            n.cordoned = cordons.unschedulable(&n.name, n.cordoned);
            n.cordoned_by_us = cordons.is_ours(&n.name);
        }
        s.scenario = scenario.map(str::to_string);
        let from = self.actions.len().saturating_sub(RECENT_ACTIONS);
        s.actions = self.actions[from..].to_vec();
        s.stats.tick_seconds = self.tick_seconds;
        s.stats.notifications = self.notifications;
        s.stats.sinks = self.notifier.sink_stats();
        s.stats.holds = self
            .governor
            .holds(s.at)
            .into_iter()
            .map(|h| crate::state::Hold {
                kind: h.kind.to_string(),
                name: h.name,
                reason: h.reason,
                until: h.until,
                active: h.active,
            })
            .collect();
        s
    }
}

/// Keeps the newest `max` records once there are twice as many, so the
/// copy is amortized over many ticks.
fn trim(actions: &mut Vec<ActionRecord>, max: usize) {
    if actions.len() > max.saturating_mul(2) {
        let drop = actions.len() - max;
        actions.drain(..drop);
    }
}

fn log_refusal(node: &str, r: &Refusal) {
    tracing::info!(node, "would cordon, refused because {r}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    #[test]
    fn a_long_running_pipeline_keeps_the_newest_actions() {
        let record = |i: i64| ActionRecord {
            at: Timestamp(i),
            node: format!("n{i}"),
            kind: ActionKind::Refused,
            rule: "NodeUnhealthy".into(),
            reason: "would cordon, refused because min interval".into(),
            score: 0.9,
        };
        let mut actions = Vec::new();
        for i in 0..1_000 {
            actions.push(record(i));
            trim(&mut actions, 100);
            assert!(actions.len() <= 200, "bounded: {}", actions.len());
        }
        assert_eq!(actions.last().unwrap().at, Timestamp(999), "newest kept");
        assert!(actions.len() >= 100);
        let mut all: Vec<_> = (0..1_000).map(record).collect();
        trim(&mut all, usize::MAX);
        assert_eq!(all.len(), 1_000, "a replay keeps everything");
    }
}
