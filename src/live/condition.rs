//! nodewatch's judgement as a NodeCondition (`kubernetes.condition`), so
//! remediators that read node conditions (medik8s NodeHealthCheck, Cluster
//! API MachineHealthCheck, Karpenter node repair, cloud auto-repair) can act
//! on it.
//!
//! The condition (type `NodewatchUnhealthy` by default, problem-style like
//! node-problem-detector's `KernelDeadlock`) is `True` while a node-scope
//! alert fires for the node, with the alert as reason and its explanation
//! as message, and `False` once every such alert resolved. It mirrors the
//! alerts that reach the sinks, behind the same gate: only the lease holder
//! writes, nothing while paused, and in dry-run it is only logged. Writes go
//! through the `nodes/status` subresource, one strategic-merge patch per
//! real transition: the node is read first and a condition already in the
//! wanted state is left alone, so `lastTransitionTime` moves only when the
//! status does (a condition whose transition time keeps resetting never
//! satisfies a remediator's `duration`). A bounded queue feeds one writer
//! task; transient errors are retried with growing backoff.
//!
//! Two things besides alerts move it. After a restart (or a change of
//! leader) the new leader brings leftovers in line ([`ConditionMirror::reconcile`]):
//! a `True` for a node it has judged healthy for its settling time is set
//! `False`; a node still sick gets its alert again, and its `True` is left
//! as it is (same `lastTransitionTime`). And a maintenance window holds
//! the `True` of the nodes it covers ([`ConditionMirror::set_held`]) as it
//! holds their cordons: it is written when the window ends, if the alert
//! still fires.

use super::LiveError;
use crate::act::Notification;
use crate::k8s::EXCLUDE;
use crate::time::{Clock, SystemClock};
use ::kube::api::{Api, Patch, PatchParams};
use k8s_openapi::api::core::v1::Node;
use serde::Deserialize;
use serde_json::json;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Longest condition message written (Kubernetes has no limit of its own;
/// explanations can be long and every node object carries it).
pub const MESSAGE_MAX: usize = 1024;
/// Transitions queued for the writer; beyond it they are dropped (counted).
const QUEUE: usize = 4096;
/// Attempts per write on 409, 429, 5xx or a broken connection.
const ATTEMPTS: u32 = 5;

/// `kubernetes.condition`: publish nodewatch's judgement as a NodeCondition.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ConditionSettings {
    /// Write the condition (off by default; needs `patch` on `nodes/status`,
    /// which the shipped RBAC grants).
    pub enabled: bool,
    /// Condition type; `True` means a node-scope alert fires for the node.
    #[serde(rename = "type")]
    pub kind: String,
}

impl Default for ConditionSettings {
    fn default() -> Self {
        ConditionSettings {
            enabled: false,
            kind: "NodewatchUnhealthy".to_string(),
        }
    }
}

/// Counters of the condition writer.
#[derive(Debug, Default)]
pub struct ConditionStats {
    /// Transitions written.
    pub written: AtomicU64,
    /// Transitions not written: dry-run, or already in that state.
    pub skipped: AtomicU64,
    /// Writes that failed after their attempts, or dropped from a full queue.
    pub errors: AtomicU64,
}

/// One alert transition about one node.
struct Change {
    node: String,
    alert: String,
    firing: bool,
    explanation: String,
}

/// What the writer task is told.
enum Msg {
    /// An alert transition.
    Alert(Change),
    /// Bring the node's condition in line with the alerts the writer
    /// knows (after a restart: a leftover `True` with none firing).
    Reconcile(String),
    /// The nodes a maintenance window holds now (their `True` waits).
    Held(HashSet<String>),
}

/// The gate's hook: turns node-scope alert notifications into condition
/// writes, done by a background task.
pub struct ConditionMirror {
    tx: mpsc::Sender<Msg>,
    stats: Arc<ConditionStats>,
}

impl ConditionMirror {
    /// Starts the writer task (needs a tokio runtime).
    pub fn start(client: ::kube::Client, settings: &ConditionSettings, dry_run: bool) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let stats = Arc::new(ConditionStats::default());
        let w = Writer {
            nodes: Api::all(client),
            kind: settings.kind.clone(),
            dry_run,
            stats: stats.clone(),
            firing: HashMap::new(),
            held: HashSet::new(),
        };
        tokio::spawn(w.run(rx));
        ConditionMirror { tx, stats }
    }

    /// The writer's counters.
    pub fn stats(&self) -> &ConditionStats {
        &self.stats
    }

    /// Called for every notification that passed the gate.
    pub fn observe(&self, n: &Notification) {
        if n.alert.scope != "node" {
            return;
        }
        let c = Change {
            node: n.alert.subject.clone(),
            alert: n.alert.name.clone(),
            firing: n.status == crate::model::AlertState::Firing,
            // The rule's description carries the explanation; else its summary.
            explanation: ["description", "summary"]
                .iter()
                .find_map(|k| n.alert.annotations.get(*k).filter(|v| !v.is_empty()))
                .cloned()
                .unwrap_or_default(),
        };
        self.send(Msg::Alert(c));
    }

    /// Asks the writer to bring `node`'s condition in line with the node
    /// alerts it knows: a `True` left by an earlier leader for a node no
    /// alert fires for now is set `False`; a node held by a window that
    /// ended gets its `True`. Only the lease holder, not paused, calls it.
    pub fn reconcile(&self, node: &str) {
        self.send(Msg::Reconcile(node.to_string()));
    }

    /// The nodes a maintenance window holds now: their `True` is not
    /// written until they leave the set (then it is, if still firing).
    pub fn set_held(&self, nodes: HashSet<String>) {
        self.send(Msg::Held(nodes));
    }

    fn send(&self, m: Msg) {
        if self.tx.try_send(m).is_err() {
            self.stats.errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("node condition queue full: a transition was dropped");
        }
    }
}

struct Writer {
    nodes: Api<Node>,
    kind: String,
    dry_run: bool,
    stats: Arc<ConditionStats>,
    /// Per node: the node alerts firing now, with their explanations.
    firing: HashMap<String, BTreeMap<String, String>>,
    /// Nodes a maintenance window holds now.
    held: HashSet<String>,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        while let Some(m) = rx.recv().await {
            match m {
                Msg::Alert(c) => {
                    let alerts = self.firing.entry(c.node.clone()).or_default();
                    if c.firing {
                        alerts.insert(c.alert, c.explanation);
                    } else {
                        alerts.remove(&c.alert);
                    }
                    self.apply(&c.node).await;
                }
                Msg::Reconcile(node) => self.apply(&node).await,
                Msg::Held(nodes) => {
                    let released: Vec<String> = self
                        .held
                        .difference(&nodes)
                        .filter(|n| self.firing.contains_key(*n))
                        .cloned()
                        .collect();
                    self.held = nodes;
                    for node in &released {
                        self.apply(node).await;
                    }
                }
            }
        }
    }

    /// Writes what the node alerts known for `node` say, unless a window
    /// holds a `True`.
    async fn apply(&mut self, node: &str) {
        let (status, reason, message) = match self.firing.get(node).and_then(|a| a.iter().next()) {
            Some((alert, why)) => ("True", alert.clone(), truncate(why)),
            None => (
                "False",
                "NodewatchHealthy".to_string(),
                "no nodewatch node alert fires".to_string(),
            ),
        };
        if status == "False" {
            self.firing.remove(node);
        } else if self.held.contains(node) {
            self.stats.skipped.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                node,
                "{}=True held by a maintenance window; written when it ends if still firing",
                self.kind
            );
            return;
        }
        self.write(node, status, &reason, &message).await;
    }

    /// Sets the condition on `node` unless it already has that status.
    async fn write(&self, node: &str, status: &str, reason: &str, message: &str) {
        let mut wait = Duration::from_millis(200);
        for attempt in 1..=ATTEMPTS {
            match self.try_write(node, status, reason, message).await {
                Ok(()) => return,
                Err(e) if e.retryable() && attempt < ATTEMPTS => {
                    tracing::warn!(
                        node,
                        "node condition: attempt {attempt} failed, retrying in {wait:?}: {e}"
                    );
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(10));
                }
                Err(e) => {
                    self.stats.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(node, "node condition {} not written: {e}", self.kind);
                    return;
                }
            }
        }
    }

    async fn try_write(
        &self,
        node: &str,
        status: &str,
        reason: &str,
        message: &str,
    ) -> Result<(), LiveError> {
        let cur = self.nodes.get_status(node).await?;
        let m = &cur.metadata;
        let excluded = [&m.labels, &m.annotations].iter().any(|x| {
            x.as_ref()
                .and_then(|x| x.get(EXCLUDE))
                .is_some_and(|v| v == "true")
        });
        if excluded && status == "True" {
            self.stats.skipped.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                node,
                "not setting {}: the node opts out ({EXCLUDE})",
                self.kind
            );
            return Ok(());
        }
        let existing = cur
            .status
            .and_then(|s| s.conditions)
            .into_iter()
            .flatten()
            .find(|c| c.type_ == self.kind)
            .map(|c| c.status);
        // Already so, or a node never marked, which needs no "False" either.
        if existing.as_deref() == Some(status) || (status == "False" && existing.is_none()) {
            self.stats.skipped.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        if self.dry_run {
            self.stats.skipped.fetch_add(1, Ordering::Relaxed);
            tracing::info!(node, "dry-run: would set {}={status} ({reason})", self.kind);
            return Ok(());
        }
        let now = SystemClock.now().to_rfc3339();
        let patch = json!({"status": {"conditions": [{
            "type": self.kind, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": now, "lastHeartbeatTime": now,
        }]}});
        self.nodes
            .patch_status(node, &PatchParams::default(), &Patch::Strategic(patch))
            .await?;
        self.stats.written.fetch_add(1, Ordering::Relaxed);
        tracing::info!(node, "set {}={status} ({reason})", self.kind);
        Ok(())
    }
}

/// `s` cut to at most [`MESSAGE_MAX`] bytes, on a character boundary.
fn truncate(s: &str) -> String {
    if s.len() <= MESSAGE_MAX {
        return s.to_string();
    }
    let mut end = MESSAGE_MAX - 3;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_bounded_on_a_char_boundary() {
        let long = "é".repeat(2000);
        let t = truncate(&long);
        assert!(t.len() <= MESSAGE_MAX && t.ends_with("..."), "{}", t.len());
        assert_eq!(truncate("short"), "short");
        let d: ConditionSettings = serde_yaml::from_str("{enabled: true, type: Sick}").unwrap();
        assert_eq!((d.enabled, d.kind.as_str()), (true, "Sick"));
    }
}
