//! A durable audit trail (`kubernetes.audit`): every alert transition,
//! cordon, uncordon and refusal the lease holder sends out, with its
//! explanation, appended as one JSON line to a ConfigMap beside the Lease.
//!
//! Kubernetes Events expire after an hour; the ConfigMap survives restarts,
//! failovers and upgrades, and `kubectl get configmap nodewatch-audit -o
//! jsonpath='{.data.audit\.jsonl}'` reads it. It is bounded: the newest
//! `max_entries` lines and at most [`MAX_BYTES`] (a ConfigMap holds 1 MiB),
//! older lines dropped first. Entries pass the same gate as notifications
//! (only the lease holder writes, nothing while paused). A bounded queue
//! feeds one writer task, which appends whole batches with the ConfigMap's
//! resourceVersion as a precondition (a 409 reads again), retries
//! transient errors with growing backoff and counts what it could not
//! write.

use super::LiveError;
use crate::model::{ActionRecord, Notification};
use ::kube::api::{Api, PostParams};
use k8s_openapi::api::core::v1::ConfigMap;
use serde::Deserialize;
use serde_json::json;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// The ConfigMap key holding the lines.
pub const KEY: &str = "audit.jsonl";
/// Largest log kept, in bytes (half a ConfigMap's 1 MiB).
pub const MAX_BYTES: usize = 512 * 1024;
/// Longest explanation kept per entry.
const EXPLANATION_MAX: usize = 1024;
/// Entries queued for the writer; beyond it they are dropped (counted).
const QUEUE: usize = 4096;
/// Attempts per batch on 409, 429, 5xx or a broken connection.
const ATTEMPTS: u32 = 6;

/// `kubernetes.audit`: keep a durable log of what nodewatch did and why.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSettings {
    /// Write the log (off by default; the shipped Role grants the
    /// ConfigMap named below in the Lease's namespace).
    pub enabled: bool,
    /// ConfigMap name, in `kubernetes.lease.namespace`.
    pub configmap: String,
    /// Lines kept (newest first kept).
    pub max_entries: usize,
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings {
            enabled: false,
            configmap: "nodewatch-audit".to_string(),
            max_entries: 1000,
        }
    }
}

/// Counters of the audit writer.
#[derive(Debug, Default)]
pub struct AuditStats {
    /// Entries written.
    pub written: AtomicU64,
    /// Entries lost: dropped from a full queue, or their batch failed.
    pub errors: AtomicU64,
}

/// The gate's hook: queues entries for the writer task.
pub struct AuditLog {
    tx: mpsc::Sender<String>,
    stats: Arc<AuditStats>,
}

impl AuditLog {
    /// Starts the writer task for `namespace/settings.configmap` (needs a
    /// tokio runtime).
    pub fn start(client: ::kube::Client, namespace: &str, settings: &AuditSettings) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let stats = Arc::new(AuditStats::default());
        let w = Writer {
            api: Api::namespaced(client, namespace),
            name: settings.configmap.clone(),
            max_entries: settings.max_entries.max(1),
            stats: stats.clone(),
        };
        tokio::spawn(w.run(rx));
        AuditLog { tx, stats }
    }

    /// The writer's counters.
    pub fn stats(&self) -> &AuditStats {
        &self.stats
    }

    /// Records an alert transition.
    pub fn alert(&self, n: &Notification) {
        let a = &n.alert;
        let why = a
            .annotations
            .get("description")
            .cloned()
            .unwrap_or_default();
        self.push(json!({
            "at": n.ends_at.or(a.fired_at).unwrap_or(a.active_since).to_rfc3339(),
            "kind": "alert", "alert": a.name, "status": n.status.as_str(),
            "scope": a.scope, "subject": a.subject, "explanation": cut(&why),
        }));
    }

    /// Records a cordon, uncordon or refusal.
    pub fn action(&self, r: &ActionRecord) {
        self.push(json!({
            "at": r.at.to_rfc3339(), "kind": r.kind.as_str(), "node": r.node,
            "rule": r.rule, "score": r.score, "explanation": cut(&r.reason),
        }));
    }

    fn push(&self, v: serde_json::Value) {
        if self.tx.try_send(v.to_string()).is_err() {
            self.stats.errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("audit queue full: an entry was dropped");
        }
    }
}

fn cut(s: &str) -> String {
    let mut end = s.len().min(EXPLANATION_MAX);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

struct Writer {
    api: Api<ConfigMap>,
    name: String,
    max_entries: usize,
    stats: Arc<AuditStats>,
}

impl Writer {
    async fn run(self, mut rx: mpsc::Receiver<String>) {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while let Ok(more) = rx.try_recv() {
                batch.push(more);
                if batch.len() >= self.max_entries {
                    break;
                }
            }
            self.append(&batch).await;
        }
    }

    async fn append(&self, batch: &[String]) {
        let mut wait = Duration::from_millis(200);
        for attempt in 1..=ATTEMPTS {
            match self.try_append(batch).await {
                Ok(()) => {
                    self.stats
                        .written
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    return;
                }
                Err(e) if e.retryable() && attempt < ATTEMPTS => {
                    tracing::warn!(
                        "audit log: attempt {attempt} failed, retrying in {wait:?}: {e}"
                    );
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(10));
                }
                Err(e) => {
                    self.stats
                        .errors
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    tracing::warn!("audit log: {} entries not written: {e}", batch.len());
                    return;
                }
            }
        }
    }

    async fn try_append(&self, batch: &[String]) -> Result<(), LiveError> {
        let found = match self.api.get(&self.name).await {
            Ok(cm) => Some(cm),
            Err(e) => match LiveError::from(e) {
                e if e.code() == Some(404) => None,
                e => return Err(e),
            },
        };
        let old = found
            .as_ref()
            .and_then(|cm| cm.data.as_ref()?.get(KEY).cloned())
            .unwrap_or_default();
        let text = bounded(&old, batch, self.max_entries);
        let mut cm = found.unwrap_or_else(|| ConfigMap {
            metadata: ::kube::api::ObjectMeta {
                name: Some(self.name.clone()),
                labels: Some(BTreeMap::from([(
                    "app.kubernetes.io/name".to_string(),
                    "nodewatch".to_string(),
                )])),
                ..Default::default()
            },
            ..Default::default()
        });
        let create = cm.metadata.resource_version.is_none();
        cm.data = Some(BTreeMap::from([(KEY.to_string(), text)]));
        if create {
            self.api.create(&PostParams::default(), &cm).await?;
        } else {
            // Carries the resourceVersion read above: a concurrent writer
            // turns this into a 409 and a fresh read.
            self.api
                .replace(&self.name, &PostParams::default(), &cm)
                .await?;
        }
        Ok(())
    }
}

/// `old` lines plus `batch`, keeping the newest `max_entries` lines and at
/// most [`MAX_BYTES`].
fn bounded(old: &str, batch: &[String], max_entries: usize) -> String {
    let mut lines: VecDeque<&str> = old.lines().filter(|l| !l.is_empty()).collect();
    lines.extend(batch.iter().map(String::as_str));
    while lines.len() > max_entries {
        lines.pop_front();
    }
    let mut size: usize = lines.iter().map(|l| l.len() + 1).sum();
    while size > MAX_BYTES {
        size -= lines.pop_front().map_or(0, |l| l.len() + 1);
    }
    let mut out = String::with_capacity(size);
    for l in lines {
        out.push_str(l);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_keeps_the_newest_lines_within_both_bounds() {
        let batch: Vec<String> = (0..5).map(|i| format!("{{\"n\":{i}}}")).collect();
        let text = bounded("{\"n\":-1}\n", &batch, 3);
        assert_eq!(text, "{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n");
        let big = vec!["x".repeat(200_000); 4];
        let text = bounded("", &big, 100);
        assert!(
            text.len() <= MAX_BYTES && text.lines().count() == 2,
            "{}",
            text.len()
        );
        assert_eq!(cut(&"é".repeat(1000)).len(), EXPLANATION_MAX);
    }
}
