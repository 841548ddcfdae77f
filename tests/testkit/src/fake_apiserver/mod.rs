//! A fake Kubernetes API server on 127.0.0.1 that speaks the real wire
//! protocol. One module, shared by the fake-server `tests/kube/*.rs`, the
//! `tests/deploy/*.rs` that run the agent, and `benches/kube_scale.rs`.
//!
//! A real kube-apiserver now runs in the tests too (`tests/testkit/
//! src/kube_real.rs`; `tests/kube/real*.rs`: manifests, RBAC, cordon, `nodewatch
//! run`, live = replay, two replicas, cuts and a real 410). The fake stays
//! for what the real one cannot be made to do, or not cheaply: scenario
//! objects with their own `creationTimestamp` and Events at 2018 simulated
//! time without moving the scenario (the full 43-hour Binder runs of
//! `kube_live.rs`, `kube_leader.rs`, `kube_faults.rs`), PATCH errors
//! injected on demand (409/429/5xx retries in `kube_cordon.rs`), a request
//! log to count writes and 403s (`kube_rbac.rs`, `deploy_dry_run.rs`), and
//! thousands of nodes in milliseconds (`benches/kube_scale.rs`). Where the
//! two disagreed, the fake was made to follow the real one (node taints are
//! an atomic list: `patch.rs`).
//!
//! - list (paginated with `limit`/`continue`) and watch (from a
//!   resourceVersion, bookmarks with `allowWatchBookmarks`, 410 Gone after
//!   compaction, streams that can be broken mid-burst);
//! - strategic-merge and merge PATCH on nodes (with `resourceVersion`
//!   preconditions), Event create on core/v1 and events.k8s.io/v1, Lease
//!   get/create/update with 409 on a stale resourceVersion;
//! - bearer-token authentication and RBAC loaded from
//!   `deploy/base/rbac.yaml`: anything it does not grant gets 403;
//! - a scenario's events released by watch at simulated time
//!   ([`FakeApiServer::advance_to`]), expiring after an hour as the real
//!   server's event TTL does;
//! - faults: an outage ([`FakeApiServer::down`]/[`FakeApiServer::up`]),
//!   dropped watches, compaction, injected PATCH errors.

pub mod harness;
pub mod http;
mod net;
pub mod patch;
pub mod rbac;
mod sim;
pub mod store;
mod stream;
mod verbs;

use self::http::{lock, Faults, Inner, Logged};
use self::rbac::{Rbac, User};
use self::sim::Clock;
use self::store::{Key, Store};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

/// The token of the `nodewatch` ServiceAccount.
pub const SA_TOKEN: &str = "nodewatch-service-account-token";

/// How long events live after their last write (the API server's default
/// `--event-ttl`).
pub const EVENT_TTL_MS: i64 = 3_600_000;

/// Options of a fake server.
#[derive(Clone, Debug)]
pub struct Options {
    /// Enforce `deploy/base/rbac.yaml` (else any known token may do anything).
    pub rbac: bool,
    /// Changes kept for resuming watches.
    pub history: usize,
    /// Idle time before a watch sends a bookmark.
    pub bookmark_every: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            rbac: true,
            history: 100_000,
            bookmark_every: Duration::from_millis(200),
        }
    }
}

/// A running fake API server.
pub struct FakeApiServer {
    inner: Arc<Inner>,
    addr: SocketAddr,
    clock: Arc<Mutex<Clock>>,
    serving: Mutex<Option<(JoinHandle<()>, tokio::sync::watch::Sender<u64>)>>,
}

/// The path of the shipped RBAC manifest.
pub fn rbac_path() -> PathBuf {
    crate::repo_root().join("deploy/base/rbac.yaml")
}

impl FakeApiServer {
    /// Starts a server on a free loopback port.
    pub async fn start(opts: Options) -> Self {
        let rbac = opts.rbac.then(|| {
            let text = std::fs::read_to_string(rbac_path()).expect("read deploy/base/rbac.yaml");
            Rbac::parse(&text).expect("parse deploy/base/rbac.yaml")
        });
        let mut tokens = HashMap::new();
        tokens.insert(
            SA_TOKEN.to_string(),
            User::service_account("nodewatch", "nodewatch"),
        );
        let clock = Arc::new(Mutex::new(Clock::default()));
        let inner = Arc::new(Inner {
            store: Mutex::new(Store::new(opts.history)),
            changed: Default::default(),
            rbac,
            tokens,
            faults: Mutex::new(Faults::default()),
            log: Mutex::new(Vec::new()),
            drop_watches: tokio::sync::watch::channel(0).0,
            bookmark_every: opts.bookmark_every,
            on_event_write: Mutex::new(None),
        });
        let c = clock.clone();
        *lock(&inner.on_event_write) = Some(Box::new(move |ev: &Value| lock(&c).wrote(ev)));
        let listener = net::bind(None).await;
        let addr = listener.local_addr().expect("local addr");
        let server = FakeApiServer {
            inner,
            addr,
            clock,
            serving: Mutex::new(None),
        };
        server.serve(listener);
        server
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let (kill_tx, kill_rx) = tokio::sync::watch::channel(0u64);
        let inner = self.inner.clone();
        let task = tokio::spawn(net::serve(listener, kill_rx, inner));
        *lock(&self.serving) = Some((task, kill_tx));
    }

    /// Address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Writes a kubeconfig for the ServiceAccount token into `dir`.
    pub fn kubeconfig(&self, dir: &Path) -> PathBuf {
        let path = dir.join(format!("kubeconfig-{}", self.addr.port()));
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://{}\nusers:\n- name: nodewatch\n  user:\n    token: {SA_TOKEN}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: nodewatch\n    namespace: nodewatch\ncurrent-context: fake\n",
            self.addr
        );
        std::fs::write(&path, text).expect("write kubeconfig");
        path
    }

    /// A client authenticated as the ServiceAccount.
    pub async fn client(&self, dir: &Path) -> kube::Client {
        let opts = nodewatch::live::ClientOptions {
            kubeconfig: Some(self.kubeconfig(dir)),
            context: None,
        };
        nodewatch::live::client_from(&opts)
            .await
            .expect("client for the fake server")
    }

    /// Loads objects without recording history (fixtures, the scale bench).
    pub fn preload(&self, store: &'static str, objs: impl IntoIterator<Item = Value>) {
        let mut s = lock(&self.inner.store);
        for o in objs {
            s.put(store, o, false);
        }
    }

    /// Puts an object (nodes, pods, events, leases store), recording the
    /// change for watchers.
    pub fn put(&self, store: &'static str, obj: Value) -> Value {
        let v = lock(&self.inner.store).put(store, obj, true);
        if store == "events" {
            if let Some(h) = lock(&self.inner.on_event_write).as_mut() {
                h(&v);
            }
        }
        self.inner.changed.notify_waiters();
        v
    }

    /// Deletes an object (`namespace` empty for nodes), recording the
    /// deletion for watchers.
    pub fn remove(&self, store: &'static str, namespace: &str, name: &str) -> bool {
        let key = (namespace.to_string(), name.to_string());
        let gone = lock(&self.inner.store).delete(store, &key).is_some();
        self.inner.changed.notify_waiters();
        gone
    }

    /// A node as stored.
    pub fn node(&self, name: &str) -> Option<Value> {
        lock(&self.inner.store).get_value("nodes", &(String::new(), name.to_string()))
    }

    /// A human's `kubectl cordon`/`uncordon`.
    pub fn set_unschedulable(&self, name: &str, on: bool) {
        let mut v = self.node(name).expect("node exists");
        if on {
            v["spec"]["unschedulable"] = json!(true);
        } else if let Some(spec) = v["spec"].as_object_mut() {
            spec.remove("unschedulable");
        }
        self.put("nodes", v);
    }

    /// Every stored event (core/v1 shape).
    pub fn events(&self) -> Vec<Value> {
        lock(&self.inner.store)
            .list("events", "")
            .iter()
            .filter_map(|j| serde_json::from_str(j).ok())
            .collect()
    }

    /// Events about a node (involvedObject kind Node).
    pub fn events_about_node(&self, name: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| {
                e["involvedObject"]["kind"] == "Node" && e["involvedObject"]["name"] == name
            })
            .collect()
    }

    /// A Lease.
    pub fn lease(&self, namespace: &str, name: &str) -> Option<Value> {
        lock(&self.inner.store).get_value("leases", &(namespace.to_string(), name.to_string()))
    }

    /// Sets (or with `None` removes) an annotation on a Lease.
    pub fn annotate_lease(&self, namespace: &str, name: &str, key: &str, value: Option<&str>) {
        let mut v = self.lease(namespace, name).expect("lease exists");
        match value {
            Some(x) => v["metadata"]["annotations"][key] = json!(x),
            None => {
                if let Some(a) = v["metadata"]["annotations"].as_object_mut() {
                    a.remove(key);
                }
            }
        }
        self.put("leases", v);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Logged> {
        lock(&self.inner.log).clone()
    }

    /// Number of list requests whose path ends in `plural`.
    pub fn lists_of(&self, plural: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.verb == "list" && r.path.ends_with(plural))
            .count()
    }

    /// Status codes the next node PATCHes answer.
    pub fn fail_node_patches(&self, codes: &[u16]) {
        lock(&self.inner.faults).patch_nodes.extend(codes);
    }

    /// Watch streams break after `n` objects each (`None`: never).
    pub fn drop_watches_after(&self, n: Option<usize>) {
        lock(&self.inner.faults).drop_watch_after = n;
    }

    /// Holds (or releases) everything on event watches.
    pub fn hold_event_watches(&self, on: bool) {
        lock(&self.inner.faults).hold_events = on;
        self.inner.changed.notify_waiters();
    }

    /// Breaks every open watch stream now.
    pub fn drop_watches(&self) {
        self.inner.drop_watches.send_modify(|g| *g += 1);
    }

    /// Compacts the history: resuming an older watch gets 410 Gone.
    pub fn compact(&self) {
        lock(&self.inner.store).compact();
    }

    /// Objects in a store.
    pub fn count(&self, store: &str) -> usize {
        lock(&self.inner.store).count(store)
    }

    /// An outage: stops accepting (connections are refused) and breaks
    /// every open connection.
    pub fn down(&self) {
        if let Some((task, kill)) = lock(&self.serving).take() {
            kill.send_modify(|g| *g += 1);
            task.abort();
        }
        self.drop_watches();
    }

    /// Ends an outage, on the same port.
    pub async fn up(&self) {
        let listener = net::bind(Some(self.addr)).await;
        self.serve(listener);
    }
}

fn event_key(ev: &Value) -> Key {
    let m = &ev["metadata"];
    (
        m["namespace"].as_str().unwrap_or("").to_string(),
        m["name"].as_str().unwrap_or("").to_string(),
    )
}

fn rv_of(v: &Value) -> u64 {
    v["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.down();
    }
}
