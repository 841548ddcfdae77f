//! [`KubeCordoner`]: the [`Cordoner`] that writes to the API server.
//!
//! A cordon reads the node, refuses if it is already unschedulable (a node
//! a human cordoned is left alone), then sends one strategic-merge patch
//! that sets `spec.unschedulable`, nodewatch's annotations (who, rule,
//! score, explanation, time) and optionally a `NoSchedule` taint, with the
//! node's `resourceVersion` as a precondition so a concurrent change turns
//! into a 409 and a fresh attempt instead of a blind overwrite. Node taints
//! are an atomic list to the real API server (no merge key: a patch
//! replaces the whole list), so the taint patch carries the node's other
//! taints as read, and the precondition keeps that read current. A Warning
//! Event on the node follows. 409, 429, 5xx and broken connections are
//! retried with exponential backoff; anything else, or running out of
//! attempts, is an error, and the pipeline does not count a cordon that
//! returned one. Only the lease holder writes: the check is repeated right
//! before every request.

use super::drain::Drainer;
use super::expected::Expectations;
use super::leader::LeaderHandle;
use super::LiveError;
use crate::act::{ActError, CordonRequest, Cordoner};
use crate::time::Timestamp;
use ::kube::api::{Api, Patch, PatchParams, PostParams};
use k8s_openapi::api::core::v1::{Event, Node, Taint};
use serde_json::{json, Value};
use std::future::Future;
use std::time::Duration;

/// Prefix of every annotation nodewatch writes.
pub const ANNOTATION_PREFIX: &str = "nodewatch.io/";
/// Annotation naming the replica that cordoned the node.
pub const CORDONED_BY: &str = "nodewatch.io/cordoned-by";
/// Annotation naming the rule that asked for the cordon.
pub const RULE: &str = "nodewatch.io/rule";
/// Annotation with the node score at the cordon.
pub const SCORE: &str = "nodewatch.io/score";
/// Annotation with the score's explanation.
pub const EXPLANATION: &str = "nodewatch.io/explanation";
/// Annotation with the cordon time (RFC 3339).
pub const AT: &str = "nodewatch.io/at";
/// Lease annotation that pauses all actions when `"true"`.
pub const PAUSED_ANNOTATION: &str = "nodewatch.io/paused";
/// Lease annotation saying who paused and why (free text).
pub const PAUSE_REASON_ANNOTATION: &str = "nodewatch.io/paused-reason";
/// Lease annotation ending the pause at an RFC 3339 time.
pub const PAUSE_UNTIL_ANNOTATION: &str = "nodewatch.io/paused-until";
/// Key of the optional `NoSchedule` taint.
pub const TAINT_KEY: &str = "nodewatch.io/unhealthy";

/// Annotation with the state of the opt-in drain after a cordon.
pub const DRAIN_ANNOTATION: &str = "nodewatch.io/drain";

const ANNOTATIONS: [&str; 5] = [CORDONED_BY, RULE, SCORE, EXPLANATION, AT];

/// Counters of what the cordoner did, for the agent's status.
#[derive(Clone, Debug, Default)]
pub struct CordonStats {
    /// Cordons and uncordons written.
    pub writes: u64,
    /// Attempts retried after a transient error.
    pub retries: u64,
    /// Cordons or uncordons that did not happen.
    pub failed: u64,
    /// Requests refused by RBAC.
    pub forbidden: u64,
    /// Events that could not be written (the cordon itself happened).
    pub events_failed: u64,
}

/// Cordons through the API server.
pub struct KubeCordoner {
    nodes: Api<Node>,
    events: Api<Event>,
    identity: String,
    taint: bool,
    attempts: u32,
    backoff: Duration,
    leader: LeaderHandle,
    /// Where the expected node states go (read by the watchers' inbox).
    expected: Option<Expectations>,
    /// Drains after cordons, when `kubernetes.drain.enabled`.
    drain: Option<Drainer>,
    /// What happened so far.
    pub stats: CordonStats,
}

impl KubeCordoner {
    /// A cordoner writing as `identity`; Events go to `event_namespace`.
    pub fn new(
        client: ::kube::Client,
        identity: &str,
        event_namespace: &str,
        leader: LeaderHandle,
        settings: &super::Settings,
    ) -> Self {
        let events = Api::namespaced(client.clone(), event_namespace);
        let drain = settings.drain.enabled.then(|| {
            let d = settings.drain.clone();
            Drainer::new(client.clone(), events.clone(), identity, d, leader.clone())
        });
        KubeCordoner {
            nodes: Api::all(client),
            events,
            identity: identity.to_string(),
            taint: settings.taint,
            attempts: settings.write_attempts.max(1),
            backoff: Duration::from_millis(settings.write_backoff.0.max(1) as u64),
            leader,
            expected: None,
            drain,
            stats: CordonStats::default(),
        }
    }

    /// Counters of the drains, when draining is on.
    pub fn drain_stats(&self) -> Option<&super::drain::DrainStats> {
        self.drain.as_ref().map(Drainer::stats)
    }

    /// Resumes the unfinished drain of `node`, cordoned `elapsed` ago (see
    /// [`Drainer::resume`]); false when draining is off.
    pub fn resume_drain(&mut self, node: &str, elapsed: crate::time::Duration) -> bool {
        match self.drain.as_mut() {
            Some(d) => {
                if !d.running(node) {
                    tracing::info!(
                        node,
                        "resuming a drain left unfinished by an earlier leader"
                    );
                }
                d.resume(node, elapsed);
                true
            }
            None => false,
        }
    }

    /// Records the node state each write sets in `expected` (which the
    /// watchers' inbox reads), so the next node list does not show the old
    /// state.
    pub fn expect_into(mut self, expected: Expectations) -> Self {
        self.expected = Some(expected);
        self
    }

    async fn retry<T, F, Fut>(&mut self, what: &str, node: &str, mut f: F) -> Result<T, LiveError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, LiveError>>,
    {
        let mut delay = self.backoff;
        let mut attempt = 1;
        loop {
            if !self.leader.is_leader() {
                return Err(LiveError::Refused(
                    "this replica does not hold the lease".into(),
                ));
            }
            match f().await {
                Ok(v) => return Ok(v),
                Err(e) if e.retryable() && attempt < self.attempts => {
                    self.stats.retries += 1;
                    tracing::warn!(
                        node,
                        "{what}: attempt {attempt} failed, retrying in {delay:?}: {e}"
                    );
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                    attempt += 1;
                }
                Err(e) => {
                    if e.forbidden() {
                        self.stats.forbidden += 1;
                        tracing::error!(
                            node,
                            "{what} refused by RBAC (is deploy/base/rbac.yaml applied?): {e}"
                        );
                    }
                    return Err(e);
                }
            }
        }
    }

    async fn event(
        &mut self,
        node: &str,
        uid: &str,
        reason: &str,
        kind: &str,
        message: String,
        at: Timestamp,
    ) {
        let body = event_body(
            &self.events,
            node,
            uid,
            reason,
            kind,
            &message,
            at,
            &self.identity,
        );
        let ev: Event = match serde_json::from_value(body) {
            Ok(ev) => ev,
            Err(e) => {
                tracing::error!("building the Event failed: {e}");
                return;
            }
        };
        let api = self.events.clone();
        let res = self
            .retry("writing the node Event", node, || {
                let (api, ev) = (api.clone(), ev.clone());
                async move {
                    api.create(&PostParams::default(), &ev).await?;
                    Ok(())
                }
            })
            .await;
        if let Err(e) = res {
            self.stats.events_failed += 1;
            tracing::warn!(
                node,
                "the cordon happened but its Event could not be written: {e}"
            );
        }
    }

    /// Set before the write, so the watch's confirmation (which may arrive
    /// before the write's own answer) always finds it.
    fn expect(&self, node: &str, unschedulable: Option<bool>) {
        if let Some(e) = &self.expected {
            match unschedulable {
                Some(u) => e.expect(node, u),
                None => e.forget(node),
            }
        }
    }
}

/// The node's taints other than nodewatch's, as JSON.
/// The core/v1 Event about `node` that nodewatch writes (cordon,
/// uncordon, drain steps), named uniquely by reason and time.
#[allow(clippy::too_many_arguments)] // The Event's own fields.
pub(super) fn event_body(
    events: &Api<Event>,
    node: &str,
    uid: &str,
    reason: &str,
    kind: &str,
    message: &str,
    at: Timestamp,
    identity: &str,
) -> Value {
    let t = at.to_rfc3339();
    json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": format!("{node}.{}.{:x}", reason.to_lowercase(), at.0), "namespace": events.namespace()},
        "involvedObject": {"apiVersion": "v1", "kind": "Node", "name": node, "uid": uid},
        "reason": reason,
        "message": message,
        "type": kind,
        "source": {"component": "nodewatch"},
        "reportingComponent": "nodewatch",
        "reportingInstance": identity,
        "action": reason.trim_start_matches("Nodewatch"),
        "count": 1,
        "firstTimestamp": t,
        "lastTimestamp": t,
    })
}

fn others(taints: &[Taint]) -> Vec<Value> {
    taints
        .iter()
        .filter(|t| t.key != TAINT_KEY)
        .filter_map(|t| serde_json::to_value(t).ok())
        .collect()
}

/// The cordon patch: unschedulable, annotations, guarded by the node's
/// resourceVersion; with `taints` (the node's current ones, when the taint
/// is wanted) the whole list with nodewatch's `NoSchedule` taint added.
pub fn cordon_patch(
    rv: &str,
    identity: &str,
    req: &CordonRequest,
    at: Timestamp,
    taints: Option<&[Taint]>,
) -> Value {
    let mut spec = json!({"unschedulable": true});
    if let Some(current) = taints {
        let mut list = others(current);
        list.push(json!({"key": TAINT_KEY, "value": "true", "effect": "NoSchedule", "timeAdded": at.to_rfc3339()}));
        spec["taints"] = Value::Array(list);
    }
    json!({
        "metadata": {
            "resourceVersion": rv,
            "annotations": {
                CORDONED_BY: identity,
                RULE: req.rule,
                SCORE: format!("{:.3}", req.score),
                EXPLANATION: req.explanation,
                AT: at.to_rfc3339(),
            }
        },
        "spec": spec,
    })
}

/// The uncordon patch: schedulable, nodewatch's annotations gone and, if
/// the node (current `taints`) has it, nodewatch's taint: the list is
/// rewritten without it.
pub fn uncordon_patch(rv: &str, taints: &[Taint]) -> Value {
    // The drain's state goes with the cordon it followed.
    let annotations: serde_json::Map<String, Value> = ANNOTATIONS
        .iter()
        .chain(&[DRAIN_ANNOTATION])
        .map(|a| (a.to_string(), Value::Null))
        .collect();
    let mut spec = json!({"unschedulable": null});
    if taints.iter().any(|t| t.key == TAINT_KEY) {
        spec["taints"] = Value::Array(others(taints));
    }
    json!({
        "metadata": {"resourceVersion": rv, "annotations": annotations},
        "spec": spec,
    })
}

impl Cordoner for KubeCordoner {
    async fn cordon(
        &mut self,
        node: &str,
        req: &CordonRequest,
        at: Timestamp,
    ) -> Result<(), ActError> {
        let (api, identity, taint) = (self.nodes.clone(), self.identity.clone(), self.taint);
        self.expect(node, Some(true));
        let res = self
            .retry("cordon", node, || {
                let (api, identity) = (api.clone(), identity.clone());
                async move {
                    let cur = api.get(node).await?;
                    let spec = cur.spec.unwrap_or_default();
                    if spec.unschedulable == Some(true) {
                        return Err(LiveError::Refused(format!(
                            "{node} is already unschedulable (cordoned by someone else); left alone"
                        )));
                    }
                    let rv = cur.metadata.resource_version.unwrap_or_default();
                    let taints = taint.then(|| spec.taints.unwrap_or_default());
                    let patch = cordon_patch(&rv, &identity, req, at, taints.as_deref());
                    let done = api
                        .patch(node, &PatchParams::default(), &Patch::Strategic(patch))
                        .await?;
                    Ok(done.metadata.uid.unwrap_or_default())
                }
            })
            .await;
        match res {
            Ok(uid) => {
                self.stats.writes += 1;
                let msg = format!(
                    "nodewatch cordoned {node} (rule {}): {}",
                    req.rule, req.explanation
                );
                self.event(node, &uid, "NodewatchCordon", "Warning", msg, at)
                    .await;
                if let Some(d) = self.drain.as_mut().filter(|_| req.drain) {
                    d.start(node, &format!("rule {}", req.rule));
                }
                Ok(())
            }
            Err(e) => {
                self.expect(node, None);
                self.stats.failed += 1;
                Err(ActError(format!("cordon of {node} did not happen: {e}")))
            }
        }
    }

    async fn would_also(&mut self, node: &str) -> Option<String> {
        self.drain.as_ref()?.plan(node).await
    }

    async fn uncordon(&mut self, node: &str, at: Timestamp) -> Result<(), ActError> {
        if let Some(d) = &mut self.drain {
            d.cancel(node);
        }
        let api = self.nodes.clone();
        self.expect(node, Some(false));
        let res = self
            .retry("uncordon", node, || {
                let api = api.clone();
                async move {
                    let cur = api.get(node).await?;
                    let spec = cur.spec.unwrap_or_default();
                    let ours = cur
                        .metadata
                        .annotations
                        .as_ref()
                        .is_some_and(|a| a.contains_key(CORDONED_BY));
                    if !ours || spec.unschedulable != Some(true) {
                        return Err(LiveError::Refused(format!(
                            "{node} is not cordoned by nodewatch any more; left alone"
                        )));
                    }
                    let rv = cur.metadata.resource_version.unwrap_or_default();
                    let patch = uncordon_patch(&rv, &spec.taints.unwrap_or_default());
                    let done = api
                        .patch(node, &PatchParams::default(), &Patch::Strategic(patch))
                        .await?;
                    Ok(done.metadata.uid.unwrap_or_default())
                }
            })
            .await;
        match res {
            Ok(uid) => {
                self.stats.writes += 1;
                let msg =
                    format!("nodewatch uncordoned {node}: healthy again after it cordoned it");
                self.event(node, &uid, "NodewatchUncordon", "Normal", msg, at)
                    .await;
                Ok(())
            }
            Err(e) => {
                self.expect(node, None);
                self.stats.failed += 1;
                Err(ActError(format!("uncordon of {node} did not happen: {e}")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_carry_the_precondition_and_annotations() {
        let req = CordonRequest {
            node: "n1".into(),
            rule: "NodeSick".into(),
            score: 0.8766,
            explanation: "score 0.88: x".into(),
            fresh: true,
            drain: true,
        };
        let other = Taint {
            key: "example.com/dedicated".into(),
            effect: "NoSchedule".into(),
            ..Default::default()
        };
        let p = cordon_patch(
            "41",
            "replica-a",
            &req,
            Timestamp(0),
            Some(std::slice::from_ref(&other)),
        );
        assert_eq!(p["metadata"]["resourceVersion"], "41");
        assert_eq!(p["metadata"]["annotations"][CORDONED_BY], "replica-a");
        assert_eq!(p["metadata"]["annotations"][SCORE], "0.877");
        assert_eq!(p["metadata"]["annotations"][AT], "1970-01-01T00:00:00Z");
        // Taints are replaced whole: the other taint is carried along.
        assert_eq!(p["spec"]["taints"][0]["key"], "example.com/dedicated");
        assert_eq!(p["spec"]["taints"][1]["key"], TAINT_KEY);
        assert_eq!(p["spec"]["taints"][1]["effect"], "NoSchedule");
        let plain = cordon_patch("41", "replica-a", &req, Timestamp(0), None);
        assert!(plain["spec"].get("taints").is_none(), "taints untouched");
        let ours = Taint {
            key: TAINT_KEY.into(),
            effect: "NoSchedule".into(),
            ..Default::default()
        };
        let u = uncordon_patch("42", &[other.clone(), ours]);
        assert!(u["metadata"]["annotations"][RULE].is_null());
        assert_eq!(
            u["spec"]["taints"],
            json!([{"key": "example.com/dedicated", "effect": "NoSchedule"}])
        );
        let u = uncordon_patch("42", &[other]);
        assert!(u["spec"].get("taints").is_none(), "taints untouched");
    }
}
