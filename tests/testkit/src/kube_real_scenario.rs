//! A built-in scenario played through a real API server
//! (`tests/testkit/src/kube_real.rs`): a window of it moved to after now, its
//! nodes and pods created through the API, its Events written at
//! simulated time as the kubelet would, agents started as nodewatch's
//! ServiceAccount, and a cordon checked on the server.
//!
//! What the real server forces (the fake accepted both):
//! - It sets `creationTimestamp` itself, and nodewatch counts a node only
//!   from its creation on (and holds it in warm-up for its first 10
//!   minutes), so a 2018 scenario would see no node: the window is moved
//!   forward by whole weeks to start at least an hour after now (same
//!   weekday and time of day; Prometheus holds the moved samples).
//! - It refuses a core/v1 Event that has `eventTime` but no `action`
//!   (422); the scenario format keeps no `action`, so those Events get
//!   their reason as action.

use super::kube_real::ControlPlane;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Event, Namespace, Node, Pod, ServiceAccount};
use kube::api::{Api, Patch, PatchParams, PostParams};
use nodewatch::act::CordonRequest;
use nodewatch::live::{ClientOptions, CORDONED_BY};
use nodewatch::scenario::{self, Scenario};
use nodewatch::time::Timestamp;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// A client for the real server as the kubeconfig's user, built the way
/// `nodewatch run` builds it.
pub async fn client(kubeconfig: PathBuf) -> kube::Client {
    nodewatch::live::client_from(&ClientOptions {
        kubeconfig: Some(kubeconfig),
        context: None,
    })
    .await
    .expect("client for the real server")
}

/// Applies the rendered `deploy/base` (RBAC, the Lease, …) as the admin.
pub fn apply_base(cp: &ControlPlane) {
    let base = super::deploy::render("deploy/base");
    let objects = json!({"apiVersion": "v1", "kind": "List", "items": base.objects}).to_string();
    cp.kubectl_ok(&["apply", "--server-side", "-f", "-"], Some(&objects));
}

/// A cordon request as the pipeline makes them.
pub fn request(node: &str) -> CordonRequest {
    CordonRequest {
        node: node.into(),
        rule: "NodeUnhealthy".into(),
        score: 0.9,
        explanation: "score 0.9: test".into(),
        fresh: true,
        drain: true,
    }
}

/// nodewatch's Events about `node` in `default`, by reason.
pub fn event_reasons(cp: &ControlPlane, node: &str) -> Vec<String> {
    let out = cp.kubectl_ok(
        &[
            "get",
            "events",
            "-n",
            "default",
            "-o",
            "json",
            &format!("--field-selector=involvedObject.name={node}"),
        ],
        None,
    );
    let list: Value = serde_json::from_str(&out).expect("JSON");
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["source"]["component"] == "nodewatch")
        .map(|e| e["reason"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Plain nodes, as an admin creates them.
pub fn create_nodes(cp: &ControlPlane, names: &[&str]) {
    for n in names {
        let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": n}});
        cp.kubectl_ok(&["create", "-f", "-"], Some(&node.to_string()));
    }
}

const WEEK_MS: i64 = 7 * 24 * 3600 * 1000;
/// Metric history kept before the window (the rules' longest look-back
/// is far shorter).
const LOOKBACK_MS: i64 = 6 * 3600 * 1000;

pub fn t(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

/// Moves an RFC 3339 time by `d` ms, keeping microseconds where it had a
/// fraction (the API server parses MicroTime strictly).
fn shift_time(s: &str, d: i64) -> String {
    let ts: jiff::Timestamp = s.parse().expect("RFC 3339 time");
    let moved = ts + jiff::SignedDuration::from_millis(d);
    let fmt = if s.contains('.') {
        "%Y-%m-%dT%H:%M:%S%.6fZ"
    } else {
        "%Y-%m-%dT%H:%M:%SZ"
    };
    moved.strftime(fmt).to_string()
}

/// Moves every time field an object of the scenario has by `d` ms.
fn shift_value(v: &mut Value, d: i64) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                match (k.as_str(), x.as_str()) {
                    (
                        "creationTimestamp" | "firstTimestamp" | "lastTimestamp" | "eventTime"
                        | "lastObservedTime",
                        Some(s),
                    ) => *x = Value::from(shift_time(s, d)),
                    _ => shift_value(x, d),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| shift_value(x, d)),
        _ => {}
    }
}

fn shifted<T: serde::Serialize + DeserializeOwned>(items: &[T], d: i64) -> Vec<T> {
    items
        .iter()
        .map(|x| {
            let mut v = serde_json::to_value(x).expect("to JSON");
            shift_value(&mut v, d);
            serde_json::from_value(v).expect("from JSON")
        })
        .collect()
}

/// The Binder incident's events due in `[from, to]`, metrics from
/// `LOOKBACK_MS` before, moved forward by whole weeks to start after now.
pub fn window(from: Timestamp, to: Timestamp) -> Scenario {
    window_of("binder", from, to)
}

/// [`window`] of the built-in scenario `name`.
pub fn window_of(name: &str, from: Timestamp, to: Timestamp) -> Scenario {
    let mut sc = scenario::builtin(name).expect("built-in scenario");
    sc.nodes
        .sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    sc.events.retain(|e| {
        e.last_seen()
            .and_then(|s| Timestamp::parse_rfc3339(s).ok())
            .is_some_and(|at| from <= at && at <= to)
    });
    // At least an hour after now: the server stamps the nodes' creation
    // with now, and a node younger than the warm-up (10 min) at the
    // window's start would be held as just joined.
    let now = jiff::Timestamp::now().as_millisecond() + 3_600_000;
    let d = ((now - from.0) / WEEK_MS + 1) * WEEK_MS;
    sc.meta.start = Timestamp(from.0 + d);
    sc.meta.end = Timestamp(to.0 + d);
    for f in &mut sc.meta.truth.faulty_nodes {
        (f.from, f.to) = (Timestamp(f.from.0 + d), Timestamp(f.to.0 + d));
    }
    for i in &mut sc.meta.truth.cluster_incidents {
        (i.from, i.to) = (Timestamp(i.from.0 + d), Timestamp(i.to.0 + d));
    }
    sc.nodes = shifted(&sc.nodes, d);
    sc.pods = shifted(&sc.pods, d);
    sc.events = shifted(&sc.events, d);
    for fam in &mut sc.metrics {
        for s in &mut fam.series {
            s.samples
                .retain(|(ts, _)| from.0 - LOOKBACK_MS <= *ts && *ts <= to.0);
            s.samples.iter_mut().for_each(|(ts, _)| *ts += d);
        }
        fam.series.retain(|s| !s.samples.is_empty());
    }
    sc
}

/// A scenario object as a new API object: no uid, resourceVersion or
/// creationTimestamp (the server sets them).
fn fresh<T: serde::Serialize>(x: &T, api_version: &str, kind: &str) -> Value {
    let mut v = serde_json::to_value(x).expect("to JSON");
    v["apiVersion"] = api_version.into();
    v["kind"] = kind.into();
    let meta = v["metadata"].as_object_mut().expect("metadata");
    for k in ["uid", "resourceVersion", "creationTimestamp"] {
        meta.remove(k);
    }
    v
}

fn typed<T: DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("API object")
}

/// Creates the scenario's namespaces (with the `default` ServiceAccount no
/// controller-manager makes here), nodes and pods through the API.
pub async fn load(client: &kube::Client, sc: &Scenario) {
    let pp = PostParams::default();
    let namespaces: BTreeSet<&str> = sc
        .pods
        .iter()
        .map(|p| p.metadata.namespace.as_str())
        .chain(sc.events.iter().map(|e| e.metadata.namespace.as_str()))
        .collect();
    for ns in namespaces {
        let nss: Api<Namespace> = Api::all(client.clone());
        if nss.get_opt(ns).await.expect("get namespace").is_none() {
            nss.create(&pp, &typed(json!({"metadata": {"name": ns}})))
                .await
                .expect("namespace");
        }
        let sa: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
        sa.create(&pp, &typed(json!({"metadata": {"name": "default"}})))
            .await
            .expect("ServiceAccount");
    }
    let nodes: Api<Node> = Api::all(client.clone());
    for n in &sc.nodes {
        let v = fresh(n, "v1", "Node");
        nodes
            .create(&pp, &typed(v.clone()))
            .await
            .expect("create node");
        // Status is the kubelet's: written through its subresource.
        let status = json!({"status": v["status"]});
        nodes
            .patch_status(
                &n.metadata.name,
                &PatchParams::default(),
                &Patch::Merge(status),
            )
            .await
            .expect("node status");
    }
    futures::stream::iter(sc.pods.iter().map(|p| {
        let mut v = fresh(p, "v1", "Pod");
        // The scenario keeps identity and node only; a pod needs a container.
        v["spec"]["containers"] = json!([{"name": "main", "image": "scenario"}]);
        let api: Api<Pod> = Api::namespaced(client.clone(), &p.metadata.namespace);
        async move {
            let pp = PostParams::default();
            api.create(&pp, &typed(v)).await.map(|_| ())
        }
    }))
    .buffer_unordered(8)
    .try_collect::<Vec<_>>()
    .await
    .expect("create pods");
}

/// Writes the scenario's events due by `at` (from `next` on), as the
/// kubelet would; returns the resourceVersion of the last one written.
pub async fn release(
    client: &kube::Client,
    sc: &Scenario,
    next: &mut usize,
    at: Timestamp,
) -> Option<u64> {
    let mut rv = None;
    while let Some(e) = sc.events.get(*next) {
        let due = e.last_seen().and_then(|s| Timestamp::parse_rfc3339(s).ok());
        if due.is_some_and(|d| d > at) {
            break;
        }
        *next += 1;
        let mut v = fresh(e, "v1", "Event");
        if e.event_time.is_some() {
            v["action"] = e.reason.clone().into();
        }
        let api: Api<Event> = Api::namespaced(client.clone(), &e.metadata.namespace);
        let pp = PatchParams::apply("kubelet").force();
        let done = api
            .patch(&e.metadata.name, &pp, &Patch::Apply(&v))
            .await
            .unwrap_or_else(|err| {
                panic!("the real server refused event {}: {err}", e.metadata.name)
            });
        rv = done.metadata.resource_version.and_then(|r| r.parse().ok());
    }
    rv
}

/// The cordon is on the real server: unschedulable, annotated, with a
/// Warning Event on the node.
pub fn assert_cordon_visible(cp: &ControlPlane, c: &nodewatch::state::ActionRecord, by: &str) {
    let node = cp.get("node", None, &c.node).expect("node");
    assert_eq!(
        node["spec"]["unschedulable"], true,
        "{} unschedulable",
        c.node
    );
    let ann = &node["metadata"]["annotations"];
    assert_eq!(ann[CORDONED_BY], by);
    assert_eq!(ann["nodewatch.io/rule"], c.rule.as_str());
    assert_eq!(ann["nodewatch.io/at"], c.at.to_rfc3339().as_str());
    let events = cp.kubectl_ok(
        &[
            "get",
            "events",
            "-n",
            "default",
            "-o",
            "json",
            &format!(
                "--field-selector=involvedObject.name={},reason=NodewatchCordon",
                c.node
            ),
        ],
        None,
    );
    let events: Value = serde_json::from_str(&events).expect("JSON");
    let ev = &events["items"][0];
    assert_eq!(
        ev["type"], "Warning",
        "an Event about the cordon of {}",
        c.node
    );
    assert_eq!(ev["involvedObject"]["uid"], node["metadata"]["uid"]);
    assert!(ev["message"].as_str().unwrap_or("").contains(&c.rule));
}

/// The Binder incident's vvsw window (2018-02-20 16:30–17:10: 2,734
/// Events, two alerts, one cordon at 17:03), moved after now.
pub fn vvsw_window() -> Scenario {
    window(t("2018-02-20T16:30:00Z"), t("2018-02-20T17:10:00Z"))
}

/// A replica as these tests run it.
pub type Replica = nodewatch::live::Agent<
    nodewatch::collect::prometheus::PrometheusCollector,
    nodewatch::act::RecordingNotifier,
>;

/// Starts a replica called `identity` for `sc` (its step, leader election
/// on the shipped Lease with its settings), metrics from the Prometheus at
/// `prometheus`, and waits for its first lists.
pub async fn start_replica(
    client: kube::Client,
    sc: &Scenario,
    prometheus: &str,
    identity: &str,
) -> Replica {
    start_replica_with(client, sc, prometheus, identity, |_| {}).await
}

/// [`start_replica`] with its options changed by `tweak` first.
pub async fn start_replica_with(
    client: kube::Client,
    sc: &Scenario,
    prometheus: &str,
    identity: &str,
    tweak: impl FnOnce(&mut nodewatch::live::AgentOptions),
) -> Replica {
    use nodewatch::collect::prometheus::{PrometheusCollector, PrometheusConfig};
    let mut opts = nodewatch::live::AgentOptions {
        elect: true,
        ..Default::default()
    };
    opts.engine.step = sc.meta.step;
    opts.kube.identity = Some(identity.into());
    tweak(&mut opts);
    let metrics = PrometheusCollector::new(&PrometheusConfig::new(prometheus)).expect("collector");
    let catalog = std::sync::Arc::new(nodewatch::catalog::Catalog::builtin());
    let agent = nodewatch::live::Agent::start(
        client,
        catalog,
        metrics,
        nodewatch::act::RecordingNotifier::default(),
        opts,
    );
    agent
        .wait_synced(std::time::Duration::from_secs(60))
        .await
        .expect("initial lists from the real server");
    agent
}

/// Writes the events due at `at` and waits (bounded) until every replica
/// has them by watch; then ticks each.
pub async fn tick_all(
    admin: &kube::Client,
    sc: &Scenario,
    next: &mut usize,
    replicas: &mut [&mut Replica],
    at: Timestamp,
) -> Vec<nodewatch::state::ActionRecord> {
    let rv = release(admin, sc, next, at).await;
    let mut out = Vec::new();
    for r in replicas.iter_mut() {
        if let Some(rv) = rv {
            assert!(
                r.source
                    .wait_for_events(rv, std::time::Duration::from_secs(30))
                    .await,
                "events up to resourceVersion {rv} not delivered by watch at {at}: {:?}",
                r.source.stats()
            );
        }
        out.extend(r.tick(at).await);
    }
    out
}
