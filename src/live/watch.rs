//! The watchers: one kube-runtime watcher per kind (Events in all
//! namespaces, Nodes, Pods), each in its own task, folding what it sees into
//! a shared [`Inbox`] that the [`LiveSource`](super::LiveSource) drains once
//! per tick.
//!
//! kube-runtime does the protocol (paginated list, watch from the last
//! resourceVersion, bookmarks, relist after 410 Gone); this file decides
//! what a relist means for each kind:
//! - events: every delivered object is passed on; the core's increment
//!   counting makes a redelivery add nothing, so a relist never counts twice
//!   and, because a resumed watch starts at the last version seen, never
//!   loses one;
//! - nodes: a store of reduced nodes, replaced atomically at the end of a
//!   relist (nodes gone from it are gone);
//! - pods: only a pod that is new or moved to another node is passed on; a
//!   map of 64-bit keys remembers where each pod is, so deletions (seen on
//!   the watch, or missing from a relist) are passed on too.

use super::errlog::ErrorLog;
use super::inbox::{same_node, Op};
pub use super::inbox::{Drained, Inbox, WatchStats};
use super::slim::{rv_number, SlimEvent, SlimNode, SlimPod};
use crate::act::sinks::retry::{Backoff, RetryConfig};
use ::kube::runtime::watcher;
use ::kube::Api;
use futures::StreamExt;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// The three kinds watched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// core/v1 Events.
    Events = 0,
    /// Nodes.
    Nodes = 1,
    /// Pods.
    Pods = 2,
}

impl Kind {
    /// Lower-case plural, as in the API path.
    pub fn as_str(self) -> &'static str {
        ["events", "nodes", "pods"][self as usize]
    }
}

/// The inbox and the wake-up for anyone waiting on watcher progress.
#[derive(Default)]
pub struct Shared {
    inbox: Mutex<Inbox>,
    progress: Notify,
}

impl Shared {
    /// Locks the inbox (a poisoned lock only means a watcher task panicked
    /// mid-update; the data is still the best there is).
    pub fn lock(&self) -> MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until `done` holds for the inbox, or `timeout` passes.
    pub async fn wait_for(&self, timeout: Duration, done: impl Fn(&Inbox) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.progress.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if done(&self.lock()) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return done(&self.lock());
            }
        }
    }
}

/// Starts the three watchers; they run until the handles are aborted.
pub fn spawn_all(
    client: ::kube::Client,
    shared: Arc<Shared>,
    backoff_max: Duration,
) -> Vec<tokio::task::JoinHandle<()>> {
    let cfg = watcher::Config::default();
    vec![
        tokio::spawn(drive(
            Api::<SlimEvent>::all(client.clone()),
            cfg.clone(),
            Kind::Events,
            shared.clone(),
            backoff_max,
            |inbox, obj: SlimEvent, op| {
                // Expired events are simply gone: nothing to undo.
                if op != Op::Delete {
                    inbox.event(obj.event)
                }
            },
        )),
        tokio::spawn(drive(
            Api::<SlimNode>::all(client.clone()),
            cfg.clone(),
            Kind::Nodes,
            shared.clone(),
            backoff_max,
            |inbox, obj: SlimNode, op| inbox.node(obj.node, op),
        )),
        tokio::spawn(drive(
            Api::<SlimPod>::all(client),
            cfg,
            Kind::Pods,
            shared,
            backoff_max,
            |inbox, obj: SlimPod, op| inbox.pod(obj.pod, op),
        )),
    ]
}

/// Runs one watcher, applying its objects to the inbox, with its own
/// exponential backoff (with jitter, up to `backoff_max`) after errors and
/// a rate-limited log of them.
async fn drive<K>(
    api: Api<K>,
    cfg: watcher::Config,
    kind: Kind,
    shared: Arc<Shared>,
    backoff_max: Duration,
    apply: impl Fn(&mut Inbox, K, Op),
) where
    K: ::kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let stream = watcher(api, cfg);
    futures::pin_mut!(stream);
    let first = FIRST_DELAY.min(backoff_max);
    let mut backoff = Backoff::new(&RetryConfig {
        initial: ms(first),
        max: ms(backoff_max.max(first)),
        max_attempts: 0,
    });
    let mut log = ErrorLog::default();
    while let Some(item) = stream.next().await {
        let wait = {
            let mut inbox = shared.lock();
            let i = kind as usize;
            match item {
                Ok(ev) => {
                    // `Init` comes before every list request, so it is no
                    // sign the server answers: only objects and the end of
                    // a list reset the backoff.
                    if !matches!(ev, watcher::Event::Init) {
                        inbox.stats[i].item_since_error = true;
                        backoff.reset();
                        if let Some(n) = log.recovered() {
                            tracing::info!(
                                kind = kind.as_str(),
                                "watch working again after {n} errors"
                            );
                        }
                    }
                    handle(&mut inbox, kind, ev, &apply);
                    None
                }
                Err(e) => {
                    let wait = backoff.next_wait();
                    let s = &mut inbox.stats[i];
                    s.errors += 1;
                    let msg = e.to_string();
                    let refused = forbidden(&e);
                    if refused {
                        s.forbidden += 1;
                    }
                    log_error(&mut log, kind, refused, &msg, wait);
                    s.last_error = Some(msg);
                    s.last_error_at = Some(Instant::now());
                    s.item_since_error = false;
                    Some(wait)
                }
            }
        };
        shared.progress.notify_waiters();
        if let Some(wait) = wait {
            tokio::time::sleep(wait).await;
        }
    }
}

/// First wait after a watch error; it doubles up to `watch_backoff_max`.
const FIRST_DELAY: Duration = Duration::from_millis(200);

fn ms(d: Duration) -> crate::time::Duration {
    crate::time::Duration(d.as_millis().min(i64::MAX as u128) as i64)
}

/// Logs a watch error if the rate limit lets it through.
fn log_error(log: &mut ErrorLog, kind: Kind, refused: bool, msg: &str, wait: Duration) {
    let Some(due) = log.failed() else { return };
    let (kind, wait) = (kind.as_str(), wait.as_secs_f64());
    let n = due.since_last;
    if refused {
        tracing::error!(
            kind,
            errors = due.run,
            "watch refused by RBAC (is deploy/base/rbac.yaml applied?); {n} error(s) since the last line, retrying in {wait:.1}s: {msg}"
        );
    } else if due.run == 1 {
        tracing::warn!(kind, "watch failed, retrying in {wait:.1}s: {msg}");
    } else {
        tracing::warn!(
            kind,
            errors = due.run,
            "watch still failing: {n} error(s) since the last line, retrying in {wait:.1}s: {msg}"
        );
    }
}

/// Whether RBAC refused the watcher's request.
fn forbidden(e: &watcher::Error) -> bool {
    match e {
        watcher::Error::InitialListFailed(k)
        | watcher::Error::WatchStartFailed(k)
        | watcher::Error::WatchFailed(k) => {
            matches!(k, ::kube::Error::Api(s) if s.code == 403)
        }
        watcher::Error::WatchError(s) => s.code == 403,
        _ => false,
    }
}

fn handle<K: ::kube::Resource>(
    inbox: &mut Inbox,
    kind: Kind,
    ev: watcher::Event<K>,
    apply: &impl Fn(&mut Inbox, K, Op),
) {
    let i = kind as usize;
    let note_rv = |inbox: &mut Inbox, obj: &K| {
        let rv = rv_number(obj.meta().resource_version.as_deref());
        let s = &mut inbox.stats[i];
        s.rv = s.rv.max(rv);
    };
    match ev {
        watcher::Event::Init => {
            inbox.stats[i].lists += 1;
            match kind {
                Kind::Nodes => inbox.nodes_relist = Some(BTreeMap::new()),
                Kind::Pods => inbox.pod_relist = Some(HashMap::new()),
                Kind::Events => {}
            }
        }
        watcher::Event::InitApply(obj) => {
            note_rv(inbox, &obj);
            apply(inbox, obj, Op::Relist);
        }
        watcher::Event::Apply(obj) => {
            note_rv(inbox, &obj);
            apply(inbox, obj, Op::Apply);
        }
        watcher::Event::Delete(obj) => {
            note_rv(inbox, &obj);
            apply(inbox, obj, Op::Delete);
        }
        watcher::Event::InitDone => {
            inbox.stats[i].synced = true;
            match kind {
                Kind::Nodes => {
                    if let Some(m) = inbox.nodes_relist.take() {
                        if m.len() != inbox.nodes.len()
                            || m.iter()
                                .any(|(k, n)| inbox.nodes.get(k).is_none_or(|o| !same_node(o, n)))
                        {
                            inbox.nodes_changed = true;
                        }
                        inbox.nodes = m;
                    }
                }
                Kind::Pods => inbox.pod_relist_done(),
                Kind::Events => {}
            }
        }
    }
}
