//! Opt-in drain after a cordon (`kubernetes.drain`), through the Eviction
//! API, so the API server enforces PodDisruptionBudgets exactly as for
//! `kubectl drain`.
//!
//! A drain starts only after the cordoner wrote a cordon, which the
//! governor approved: its limits, pause and dry-run apply to drains as to
//! cordons (a refused or dry-run cordon never drains anything). It runs as
//! one background task per node, so a drain waiting on a budget never
//! delays a tick. Each round lists the node's pods, skips DaemonSet pods,
//! mirror (static) pods and finished pods, asks for an eviction of every
//! other pod not already terminating, and waits with growing backoff; a
//! 429 (the budget allows no disruption now) is retried until `timeout`.
//! Then `on_timeout` decides: `stop` leaves the rest and says so, `delete`
//! deletes them with `grace_period`. Every step is a Node Event and the
//! `nodewatch.io/drain` annotation; only the lease holder evicts, checked
//! before every request; an uncordon cancels the node's drain. A drain
//! left unfinished by a restart or a change of leader (annotation
//! `evicting`, or `handover` from a leader that lost the lease) is resumed
//! by the next leader with what is left of its timeout ([`Drainer::resume`]).

use super::cordon::event_body;
pub use super::cordon::DRAIN_ANNOTATION;
use super::leader::LeaderHandle;
use super::LiveError;
use crate::time::{Clock, Duration, SystemClock};
use ::kube::api::{Api, DeleteParams, EvictParams, ListParams, Patch, PatchParams, PostParams};
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::task::AbortHandle;

/// Pods asked for per round: a node runs at most a few hundred.
const MAX_PODS_PER_ROUND: usize = 500;
/// Longest wait between two rounds.
const MAX_ROUND_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// What a drain does with the pods left when `timeout` runs out.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OnTimeout {
    /// Leave them, report the drain as stopped (Warning Event, annotation,
    /// counter): a person decides.
    #[default]
    Stop,
    /// Delete them with `grace_period`, ignoring their budgets.
    Delete,
}

/// `kubernetes.drain`: evict a node's pods after nodewatch cordons it.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DrainSettings {
    /// Drain after every cordon (off by default: cordon only).
    pub enabled: bool,
    /// How long evictions are retried before `on_timeout`.
    pub timeout: Duration,
    /// What to do with the pods left after `timeout`.
    pub on_timeout: OnTimeout,
    /// Grace period of evictions and deletions (default: each pod's own
    /// `terminationGracePeriodSeconds`).
    pub grace_period: Option<Duration>,
    /// First wait between rounds; doubles up to a minute.
    pub retry_backoff: Duration,
}

impl Default for DrainSettings {
    fn default() -> Self {
        DrainSettings {
            enabled: false,
            timeout: Duration::mins(10),
            on_timeout: OnTimeout::Stop,
            grace_period: None,
            retry_backoff: Duration::secs(5),
        }
    }
}

/// Counters of every drain so far, for `/metrics`.
#[derive(Debug, Default)]
pub struct DrainStats {
    /// Drains started.
    pub started: AtomicU64,
    /// Drains that ended with the node empty.
    pub completed: AtomicU64,
    /// Drains stopped at the timeout with pods left.
    pub stopped: AtomicU64,
    /// Evictions the API server accepted.
    pub evicted: AtomicU64,
    /// Evictions refused because a disruption budget allowed none (429).
    pub refused: AtomicU64,
    /// Pods deleted after the timeout (`on_timeout: delete`).
    pub deleted: AtomicU64,
    /// Requests that failed otherwise (logged).
    pub errors: AtomicU64,
}

impl DrainStats {
    /// The counters by outcome, as `/metrics` labels them.
    pub fn by_outcome(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        [
            ("started", &self.started),
            ("completed", &self.completed),
            ("stopped", &self.stopped),
            ("evicted", &self.evicted),
            ("refused", &self.refused),
            ("deleted", &self.deleted),
            ("errors", &self.errors),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.load(Ordering::Relaxed)))
    }
}

/// Starts and cancels the per-node drain tasks.
pub struct Drainer {
    ctx: Arc<Ctx>,
    running: HashMap<String, AbortHandle>,
}

/// What every drain task needs.
struct Ctx {
    pods: Api<Pod>,
    nodes: Api<Node>,
    events: Api<Event>,
    identity: String,
    settings: DrainSettings,
    leader: LeaderHandle,
    stats: Arc<DrainStats>,
}

impl Drainer {
    /// A drainer writing Events to `events` as `identity`.
    pub fn new(
        client: ::kube::Client,
        events: Api<Event>,
        identity: &str,
        settings: DrainSettings,
        leader: LeaderHandle,
    ) -> Self {
        Drainer {
            ctx: Arc::new(Ctx {
                pods: Api::all(client.clone()),
                nodes: Api::all(client),
                events,
                identity: identity.to_string(),
                settings,
                leader,
                stats: Arc::default(),
            }),
            running: HashMap::new(),
        }
    }

    /// The counters, shared with the running tasks.
    pub fn stats(&self) -> &DrainStats {
        &self.ctx.stats
    }

    /// Starts draining `node` (cordoned because of `why`), unless a drain
    /// of it is already running. Needs a tokio runtime.
    pub fn start(&mut self, node: &str, why: &str) {
        let timeout = self.ctx.settings.timeout;
        self.spawn(node, why, timeout, false);
    }

    /// Resumes the drain of `node` that an earlier leader began (its
    /// `nodewatch.io/drain` annotation says `evicting` or `handover`) and
    /// did not finish: a restart or a lost lease. It gets what is left of
    /// `timeout` since `elapsed` ago, the cordon, and at least one round
    /// of evictions; the Event says it was resumed. No-op while a drain of
    /// the node runs here.
    pub fn resume(&mut self, node: &str, elapsed: Duration) {
        let s = &self.ctx.settings;
        let left = Duration((s.timeout.0 - elapsed.0.max(0)).max(s.retry_backoff.0.max(1)));
        self.spawn(
            node,
            "resumed after a restart or a change of leader",
            left,
            true,
        );
    }

    fn spawn(&mut self, node: &str, why: &str, timeout: Duration, resumed: bool) {
        self.running.retain(|_, h| !h.is_finished());
        if self.running.contains_key(node) {
            return;
        }
        self.ctx.stats.started.fetch_add(1, Ordering::Relaxed);
        let task = tokio::spawn(drain(
            self.ctx.clone(),
            node.to_string(),
            why.to_string(),
            (timeout, resumed),
        ));
        self.running.insert(node.to_string(), task.abort_handle());
    }

    /// Whether a drain of `node` runs here now.
    pub fn running(&self, node: &str) -> bool {
        self.running.get(node).is_some_and(|h| !h.is_finished())
    }

    /// What a drain of `node` would evict now (dry-run): "would drain: N
    /// pod(s): …", or why it cannot tell.
    pub async fn plan(&self, node: &str) -> Option<String> {
        Some(match pods_on(&self.ctx.pods, node).await {
            Ok((evict, _)) => format!(
                "would drain: evict {} pod(s): {}",
                evict.len(),
                list(&evict)
            ),
            Err(e) => format!("would drain (pods not listed: {e})"),
        })
    }

    /// Stops the drain of `node` (it was uncordoned).
    pub fn cancel(&mut self, node: &str) {
        if let Some(h) = self.running.remove(node) {
            h.abort();
        }
    }
}

impl Drop for Drainer {
    fn drop(&mut self) {
        for h in self.running.values() {
            h.abort();
        }
    }
}

/// The pods a drain must move off `node`: `(to evict, already terminating)`.
async fn pods_on(api: &Api<Pod>, node: &str) -> Result<(Vec<String>, Vec<String>), LiveError> {
    let lp = ListParams::default()
        .fields(&format!("spec.nodeName={node}"))
        .limit(MAX_PODS_PER_ROUND as u32);
    let (mut evict, mut leaving) = (Vec::new(), Vec::new());
    for p in api.list(&lp).await?.items {
        let m = &p.metadata;
        let daemon = m
            .owner_references
            .iter()
            .flatten()
            .any(|o| o.kind == "DaemonSet");
        let mirror = m
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"));
        let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
        let finished = matches!(phase, Some("Succeeded" | "Failed"));
        if daemon || mirror || finished {
            continue;
        }
        let name = format!(
            "{}/{}",
            m.namespace.as_deref().unwrap_or_default(),
            m.name.as_deref().unwrap_or_default()
        );
        if m.deletion_timestamp.is_some() {
            leaving.push(name);
        } else {
            evict.push(name);
        }
    }
    Ok((evict, leaving))
}

fn grace(s: &DrainSettings) -> DeleteParams {
    DeleteParams {
        grace_period_seconds: s.grace_period.map(|g| (g.0 / 1000) as u32),
        ..Default::default()
    }
}

/// Evicts `ns/name`; true when the API server accepted it (or the pod is
/// already gone).
async fn evict(ctx: &Ctx, pod: &str) -> bool {
    let (ns, name) = pod.split_once('/').unwrap_or(("", pod));
    let api: Api<Pod> = Api::namespaced(ctx.pods.clone().into_client(), ns);
    let ep = EvictParams {
        delete_options: Some(grace(&ctx.settings)),
        ..Default::default()
    };
    match api.evict(name, &ep).await.map_err(LiveError::from) {
        Ok(_) => {
            ctx.stats.evicted.fetch_add(1, Ordering::Relaxed);
            true
        }
        Err(e) if e.code() == Some(404) => true,
        Err(e) if e.code() == Some(429) => {
            ctx.stats.refused.fetch_add(1, Ordering::Relaxed);
            false
        }
        Err(e) => {
            ctx.stats.errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(pod, "eviction failed: {e}");
            false
        }
    }
}

/// One node's drain, from the first eviction to empty, stopped or deleted.
async fn drain(ctx: Arc<Ctx>, node: String, why: String, (timeout, resumed): (Duration, bool)) {
    let s = &ctx.settings;
    let deadline =
        tokio::time::Instant::now() + std::time::Duration::from_millis(timeout.0.max(0) as u64);
    let mut wait = std::time::Duration::from_millis(s.retry_backoff.0.max(1) as u64);
    let mut announced = false;
    let left = loop {
        if !ctx.leader.is_leader() {
            // `handover`, not `stopped`: the new leader resumes it.
            note(
                &ctx,
                &node,
                "handover",
                "Normal",
                "lost the lease; the new leader resumes the drain".into(),
            )
            .await;
            return;
        }
        match pods_on(&ctx.pods, &node).await {
            Ok((evict_now, leaving)) => {
                if evict_now.is_empty() && leaving.is_empty() {
                    ctx.stats.completed.fetch_add(1, Ordering::Relaxed);
                    note(&ctx, &node, "done", "Normal", format!("{node} drained")).await;
                    return;
                }
                if !announced {
                    announced = true;
                    let msg = format!(
                        "evicting {} pod(s) from {node} ({why}{}): {}",
                        evict_now.len(),
                        if resumed {
                            format!("; {timeout} of the timeout left")
                        } else {
                            String::new()
                        },
                        list(&evict_now)
                    );
                    note(&ctx, &node, "evicting", "Normal", msg).await;
                }
                if tokio::time::Instant::now() >= deadline {
                    break [evict_now, leaving].concat();
                }
                for p in &evict_now {
                    if !ctx.leader.is_leader() {
                        break;
                    }
                    evict(&ctx, p).await;
                }
            }
            Err(e) => {
                ctx.stats.errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(node, "listing the node's pods for the drain failed: {e}");
                if tokio::time::Instant::now() >= deadline {
                    break Vec::new();
                }
            }
        }
        let now = tokio::time::Instant::now();
        tokio::time::sleep(
            wait.min(deadline.saturating_duration_since(now))
                .max(std::time::Duration::from_millis(10)),
        )
        .await;
        wait = (wait * 2).min(MAX_ROUND_WAIT);
    };
    match s.on_timeout {
        OnTimeout::Stop => {
            ctx.stats.stopped.fetch_add(1, Ordering::Relaxed);
            let msg = format!(
                "drain of {node} stopped after {}: {} pod(s) left (disruption budgets or slow termination): {}",
                s.timeout,
                left.len(),
                list(&left)
            );
            tracing::warn!(node, "{msg}");
            note(&ctx, &node, "stopped", "Warning", msg).await;
        }
        OnTimeout::Delete => {
            for pod in &left {
                let (ns, name) = pod.split_once('/').unwrap_or(("", pod));
                let api: Api<Pod> = Api::namespaced(ctx.pods.clone().into_client(), ns);
                match api.delete(name, &grace(s)).await.map_err(LiveError::from) {
                    Ok(_) => ctx.stats.deleted.fetch_add(1, Ordering::Relaxed),
                    Err(e) if e.code() == Some(404) => 0,
                    Err(e) => {
                        tracing::warn!(pod, "deleting after the drain timeout failed: {e}");
                        ctx.stats.errors.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
            let msg = format!(
                "drain of {node} timed out after {}; deleted {} pod(s): {}",
                s.timeout,
                left.len(),
                list(&left)
            );
            note(&ctx, &node, "deleted", "Warning", msg).await;
        }
    }
}

/// Up to ten pod names, then a count.
fn list(pods: &[String]) -> String {
    let mut s = pods.iter().take(10).cloned().collect::<Vec<_>>().join(", ");
    if pods.len() > 10 {
        s.push_str(&format!(" and {} more", pods.len() - 10));
    }
    s
}

/// Records a drain step: the `nodewatch.io/drain` annotation and a Node
/// Event. Both are best effort (logged): the drain itself goes on.
async fn note(ctx: &Ctx, node: &str, state: &str, kind: &str, message: String) {
    let patch = json!({"metadata": {"annotations": {DRAIN_ANNOTATION: state}}});
    let uid = match ctx
        .nodes
        .patch(node, &PatchParams::default(), &Patch::Merge(patch))
        .await
    {
        Ok(n) => n.metadata.uid.unwrap_or_default(),
        Err(e) => {
            tracing::warn!(node, "writing the drain annotation failed: {e}");
            String::new()
        }
    };
    let at = SystemClock.now();
    let reason = format!("NodewatchDrain{}", capitalized(state));
    let body = event_body(
        &ctx.events,
        node,
        &uid,
        &reason,
        kind,
        &message,
        at,
        &ctx.identity,
    );
    match serde_json::from_value::<Event>(body) {
        Ok(ev) => {
            if let Err(e) = ctx.events.create(&PostParams::default(), &ev).await {
                tracing::warn!(node, "writing the drain Event failed: {e}");
            }
        }
        Err(e) => tracing::error!("building the drain Event failed: {e}"),
    }
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_off_and_stop() {
        let d = DrainSettings::default();
        assert!(!d.enabled);
        assert_eq!(d.on_timeout, OnTimeout::Stop);
        let d: DrainSettings =
            serde_yaml::from_str("{enabled: true, on_timeout: delete, grace_period: 0s}").unwrap();
        assert_eq!(
            (d.on_timeout, grace(&d).grace_period_seconds),
            (OnTimeout::Delete, Some(0))
        );
        assert!(serde_yaml::from_str::<DrainSettings>("{on_timeout: force}").is_err());
    }

    #[test]
    fn pod_lists_are_bounded_in_messages() {
        let pods: Vec<String> = (0..25).map(|i| format!("ns/p{i}")).collect();
        let s = list(&pods);
        assert!(s.ends_with("and 15 more"), "{s}");
        assert_eq!(capitalized("evicting"), "Evicting");
    }
}
