//! Time to alert at scale on a real API server: kube-apiserver v1.37.2 and
//! etcd (`tests/testkit/src/kube_real.rs`), NODES Node objects with
//! PODS_PER_NODE pods bound to each, the `nodewatch` binary running the
//! shipped deployment (`deploy/base`: its config, RBAC and Lease, as its
//! ServiceAccount), and node faults injected as Events on 1%, 10% and 25%
//! of the nodes at once, each level on a fresh control plane.
//!
//! A faulty node's kubelet reports what a hung container runtime looks
//! like: every ROUND seconds the readiness probes of all its pods fail and
//! all but one report FailedSync; node-problem-detector reports
//! ContainerdHung on the Node once. Healthy nodes carry background noise (1% of them get one
//! failed probe per round). No Prometheus runs, so the catalog is the
//! shipped one without its metric signals (the Event signals decide).
//!
//! Per faulty node it reports, from the moment the API server accepted its
//! first fault Event:
//! - detection: until NodeUnhealthy turns pending (score above 0.8);
//! - alert: until it fires (the shipped rule waits `for: 2m`);
//! - decision: until the governor cordons or refuses (shipped limits: one
//!   cordon per 10 min, at most 10% of nodes; the rest are refusals).
//!
//! Faults start after WARMUP seconds (default 360: the detectors' own
//! baselines need 10 ticks of normal data first). The config's only change
//! besides dropping Prometheus is `engine.warm_up: 0s`: the Node objects
//! are minutes old but stand for a cluster's long-running nodes, which the
//! just-joined hold does not concern.
//!
//! `cargo bench --bench kube_latency` (NODES, PODS_PER_NODE, FRACTIONS
//! e.g. `0.01,0.1`, STEP (the config's engine.step, default the shipped
//! 30s), WARMUP and TIMEOUT in seconds override the defaults; DEBUG=1
//! prints nodewatch's event counters). About 10 minutes per level.

use nodewatch_testkit::deploy;
use nodewatch_testkit::kube_real;

use deploy::{container_command, container_env, flag, free_addr, get, render, Process};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Event, Namespace, Node, Pod, ServiceAccount};
use kube::api::{Api, PostParams};
use kube_real::ControlPlane;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

const NAMESPACES: usize = 10;
/// Seconds between the kubelet's reports of a sick node.
const ROUND: u64 = 30;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn node_name(i: usize) -> String {
    format!("gke-prod-pool-{}-{i:05}", i % 4)
}

fn pod_name(node: usize, k: usize) -> (String, String) {
    (
        format!("team-{}", (node + k) % NAMESPACES),
        format!("web-{node:05}-{k}"),
    )
}

fn typed<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("object")
}

/// Milliseconds since the epoch, now.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn rfc3339_now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Creates `items` with `concurrency` requests in flight.
async fn create_all<T>(api_for: impl Fn(&T) -> Api<T>, items: Vec<T>, concurrency: usize)
where
    T: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    futures::stream::iter(items.into_iter().map(|x| {
        let api = api_for(&x);
        async move { api.create(&PostParams::default(), &x).await.map(|_| ()) }
    }))
    .buffer_unordered(concurrency)
    .collect::<Vec<_>>()
    .await
    .into_iter()
    .collect::<Result<Vec<_>, _>>()
    .expect("create");
}

async fn populate(client: &kube::Client, nodes: usize, pods_per_node: usize) {
    let pp = PostParams::default();
    for ns in 0..NAMESPACES {
        let name = format!("team-{ns}");
        Api::<Namespace>::all(client.clone())
            .create(&pp, &typed(json!({"metadata": {"name": name}})))
            .await
            .expect("namespace");
        Api::<ServiceAccount>::namespaced(client.clone(), &name)
            .create(&pp, &typed(json!({"metadata": {"name": "default"}})))
            .await
            .expect("ServiceAccount");
    }
    let node_objs: Vec<Node> = (0..nodes)
        .map(|i| {
            let name = node_name(i);
            typed(json!({"metadata": {"name": name, "labels": {
                "cloud.google.com/gke-nodepool": format!("pool-{}", i % 4),
                "kubernetes.io/hostname": name,
                "topology.kubernetes.io/zone": format!("us-central1-{}", ["a", "b", "c"][i % 3])}},
                "spec": {"providerID": format!("gce://prod/us-central1-a/{name}")}}))
        })
        .collect();
    create_all(|_| Api::all(client.clone()), node_objs, 16).await;
    let pods: Vec<Pod> = (0..nodes)
        .flat_map(|n| (0..pods_per_node).map(move |k| (n, k)))
        .map(|(n, k)| {
            let (ns, name) = pod_name(n, k);
            typed(json!({"metadata": {"name": name, "namespace": ns, "labels": {"app": "web"}},
                "spec": {"nodeName": node_name(n), "containers": [{"name": "web",
                    "image": "registry.example.com/web:1.2.3",
                    "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10}}]}}))
        })
        .collect();
    create_all(
        |p: &Pod| Api::namespaced(client.clone(), p.metadata.namespace.as_deref().unwrap()),
        pods,
        16,
    )
    .await;
}

/// An Event as the kubelet (or node-problem-detector) writes it.
fn event(
    seq: u64,
    ns: &str,
    kind: &str,
    name: &str,
    node: &str,
    reason: &str,
    message: &str,
) -> Event {
    let now = rfc3339_now();
    typed(
        json!({"metadata": {"name": format!("{name}.{seq:x}"), "namespace": ns},
        "involvedObject": {"apiVersion": "v1", "kind": kind, "name": name,
            "namespace": if kind == "Pod" { ns } else { "" }},
        "reason": reason, "message": message, "type": "Warning", "count": 1,
        "source": {"component": if kind == "Pod" { "kubelet" } else { "kernel-monitor" }, "host": node},
        "firstTimestamp": now, "lastTimestamp": now}),
    )
}

/// One round of a sick node's Events (`first`: also the NPD condition).
fn fault_events(seq: &mut u64, n: usize, pods: usize, first: bool) -> Vec<Event> {
    let node = node_name(n);
    let mut out = Vec::new();
    for k in 0..pods {
        let (ns, pod) = pod_name(n, k);
        *seq += 1;
        out.push(event(*seq, &ns, "Pod", &pod, &node, "Unhealthy",
            "Readiness probe failed: Get \"http://10.8.3.14:8080/healthz\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"));
    }
    for k in 1..pods {
        let (ns, pod) = pod_name(n, k);
        *seq += 1;
        out.push(event(*seq, &ns, "Pod", &pod, &node, "FailedSync",
            "error determining status: rpc error: code = DeadlineExceeded desc = context deadline exceeded"));
    }
    if first {
        *seq += 1;
        out.push(event(
            *seq,
            "default",
            "Node",
            &node,
            &node,
            "ContainerdHung",
            "containerd is unresponsive: task [containerd] blocked for more than 120 seconds",
        ));
    }
    out
}

/// Shipped rules without metric signals (and the rules that need them).
fn events_only_catalog(rules_dir: &Path) {
    let path = rules_dir.join("signals.yaml");
    let mut doc: Value = serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let signals = doc["signals"].as_array_mut().unwrap();
    signals.retain(|s| s.get("events").is_some());
    let kept: Vec<String> = signals
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    std::fs::write(&path, serde_yaml::to_string(&doc).unwrap()).unwrap();
    let path = rules_dir.join("alerts.yaml");
    let mut doc: Value = serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    doc["rules"].as_array_mut().unwrap().retain(|r| {
        r["when"]["signal"]
            .as_str()
            .is_none_or(|s| kept.iter().any(|k| k == s))
    });
    std::fs::write(&path, serde_yaml::to_string(&doc).unwrap()).unwrap();
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1]
}

fn row(what: &str, mut v: Vec<f64>, of: usize) -> String {
    v.sort_by(f64::total_cmp);
    format!(
        "| {what} | {}/{of} | {:.1} | {:.1} | {:.1} | {:.1} |",
        v.len(),
        percentile(&v, 50.0),
        percentile(&v, 90.0),
        percentile(&v, 99.0),
        v.last().copied().unwrap_or(f64::NAN)
    )
}

/// The first time per node a log line matching `what` was written.
fn first_log_times(log: &str, what: &str) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for line in log.lines().filter(|l| l.contains(what)) {
        let Some(ts) = line
            .split_whitespace()
            .next()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        else {
            continue;
        };
        let Some(node) = line
            .split("node=")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
        else {
            continue;
        };
        out.entry(node.trim_matches('"').to_string())
            .or_insert(ts.as_millisecond());
    }
    out
}

async fn level(fraction: f64, nodes: usize, pods_per_node: usize) -> Vec<String> {
    let (step, warmup, timeout) = (
        env_or("STEP", "30s".to_string()),
        env_or("WARMUP", 360u64),
        env_or("TIMEOUT", 600u64),
    );
    let cp = ControlPlane::start();
    let base = render("deploy/base");
    let objects = json!({"apiVersion": "v1", "kind": "List", "items": base.objects}).to_string();
    cp.kubectl_ok(&["apply", "--server-side", "-f", "-"], Some(&objects));
    let admin = kube_client(&cp.admin_kubeconfig()).await;
    let started = Instant::now();
    populate(&admin, nodes, pods_per_node).await;
    eprintln!(
        "{nodes} nodes, {} pods created in {:.0?}",
        nodes * pods_per_node,
        started.elapsed()
    );

    let tmp = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let sa = cp.service_account_kubeconfig("nodewatch", "nodewatch");
    let args = container_command(&base, tmp.path(), &addr, &sa);
    let config = flag(&args, "--config").unwrap();
    let mut cfg: Value = serde_yaml::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    cfg.as_object_mut().unwrap().remove("prometheus");
    cfg["engine"]["step"] = json!(step);
    // The nodes were created seconds ago; in the cluster this stands for
    // they are old, so the just-joined hold (10 min) must not apply.
    cfg["engine"]["warm_up"] = json!("0s");
    std::fs::write(&config, serde_yaml::to_string(&cfg).unwrap()).unwrap();
    events_only_catalog(Path::new(&flag(&args, "--rules").unwrap()));
    let mut p = Process::spawn(&args, &container_env(&base), tmp.path(), &addr);
    p.wait_ready(Duration::from_secs(300)).await;
    eprintln!("nodewatch ready {:.0?} after start", started.elapsed());

    // Evenly spread, and across the 4 pools (a stride of exactly 4 would
    // put every fault in one pool): up to 25% of the nodes.
    let faulty: Vec<usize> = {
        let k = ((nodes as f64 * fraction).round() as usize).clamp(1, nodes / 4);
        (0..k)
            .map(|i| {
                let base = i * nodes / k;
                (base - base % 4 + i % 4).min(nodes - 1)
            })
            .collect()
    };
    let events = |ns: &str| Api::<Event>::namespaced(admin.clone(), ns);
    let mut seq = 0u64;
    let mut fault_at: BTreeMap<String, i64> = BTreeMap::new();
    let mut pending: BTreeMap<String, i64> = BTreeMap::new();
    let mut fired: BTreeMap<String, i64> = BTreeMap::new();
    let t_start = Instant::now();
    let mut next_round = Instant::now();
    let mut round = 0u64;
    let faults_from = Duration::from_secs(warmup);
    loop {
        let elapsed = t_start.elapsed();
        if Instant::now() >= next_round {
            next_round += Duration::from_secs(ROUND);
            round += 1;
            // Background: 1% of the healthy nodes, one failed probe each.
            let mut batch: Vec<(Option<String>, Event)> = (0..nodes / 100)
                .map(|i| (i * 7919 + round as usize * 104_729) % nodes)
                .filter(|n| !faulty.contains(n) || elapsed < faults_from)
                .map(|n| {
                    let (ns, pod) = pod_name(n, round as usize % pods_per_node);
                    seq += 1;
                    (
                        None,
                        event(
                            seq,
                            &ns,
                            "Pod",
                            &pod,
                            &node_name(n),
                            "Unhealthy",
                            "Readiness probe failed: HTTP probe failed with statuscode: 503",
                        ),
                    )
                })
                .collect();
            if elapsed >= faults_from {
                for &n in &faulty {
                    let first = !fault_at.contains_key(&node_name(n));
                    for e in fault_events(&mut seq, n, pods_per_node, first) {
                        batch.push((first.then(|| node_name(n)), e));
                    }
                }
            }
            let results: Vec<(Option<String>, i64)> =
                futures::stream::iter(batch.into_iter().map(|(mark, e)| {
                    let api = events(e.metadata.namespace.as_deref().unwrap());
                    async move {
                        api.create(&PostParams::default(), &e)
                            .await
                            .expect("create event");
                        (mark, now_ms())
                    }
                }))
                .buffer_unordered(16)
                .collect()
                .await;
            for (mark, at) in results {
                if let Some(node) = mark {
                    let t = fault_at.entry(node).or_insert(at);
                    *t = (*t).min(at);
                }
            }
        }
        if let Some((200, body)) = get(&addr, "/api/v1/nodewatch/snapshot").await {
            let snap: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            for a in snap["alerts"].as_array().into_iter().flatten() {
                if a["name"] != "NodeUnhealthy" {
                    continue;
                }
                let node = a["subject"].as_str().unwrap_or_default().to_string();
                let ms = |v: &Value| {
                    v.as_str()
                        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
                        .map(|t| t.as_millisecond())
                };
                if let Some(t) = ms(&a["active_since"]) {
                    pending.entry(node.clone()).or_insert(t);
                }
                if let Some(t) = ms(&a["fired_at"]) {
                    fired.entry(node).or_insert(t);
                }
            }
        }
        let done =
            !fault_at.is_empty() && faulty.iter().all(|n| fired.contains_key(&node_name(*n)));
        if (done && elapsed > faults_from + Duration::from_secs(60))
            || elapsed > faults_from + Duration::from_secs(timeout)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // What nodewatch says of the first faulty node, for the record.
    if let Some((200, body)) = get(&addr, "/api/v1/nodewatch/snapshot").await {
        let snap: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let first = node_name(faulty[0]);
        if let Some(n) = snap["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|n| n["name"] == first)
        {
            eprintln!(
                "{first}: score {} — {}\n{}",
                n["score"], n["explanation"], n["signals"]
            );
        }
    }
    if std::env::var_os("DEBUG").is_some() {
        if let Some((_, m)) = get(&addr, "/metrics").await {
            eprintln!(
                "{}",
                m.lines()
                    .filter(|l| l.contains("events") || l.contains("source"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
    }
    let log = p.log();
    let (_, _) = p.terminate().await;
    let cordoned = first_log_times(&log, "cordoned:");
    let refused = first_log_times(&log, "would cordon, refused because");
    let mut decided = cordoned.clone();
    for (n, t) in &refused {
        decided
            .entry(n.clone())
            .and_modify(|x| *x = (*x).min(*t))
            .or_insert(*t);
    }
    let lat = |m: &BTreeMap<String, i64>| -> Vec<f64> {
        fault_at
            .iter()
            .filter_map(|(n, t0)| m.get(n).map(|t| (t - t0) as f64 / 1000.0))
            .collect()
    };
    let false_alerts = fired.keys().filter(|n| !fault_at.contains_key(*n)).count();
    // Why the governor refused, counted by reason (the node's name and
    // numbers taken out).
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for line in log.lines() {
        if let Some(r) = line.split("refused because ").nth(1) {
            let r: String = r
                .chars()
                .map(|c| if c.is_ascii_digit() { '#' } else { c })
                .collect();
            *reasons
                .entry(
                    r.split(" node=")
                        .next()
                        .unwrap_or_default()
                        .trim()
                        .to_string(),
                )
                .or_default() += 1;
        }
    }
    let k = faulty.len();
    vec![
        format!(
            "{:.0}% ({k} of {nodes} nodes): {} cordoned, {} refused, {false_alerts} alerts on healthy nodes",
            fraction * 100.0,
            cordoned.keys().filter(|n| fault_at.contains_key(*n)).count(),
            refused.keys().filter(|n| fault_at.contains_key(*n) && !cordoned.contains_key(*n)).count()
        ) + &format!("; refusals by reason: {reasons:?}"),
        row(&format!("{:.0}% detection (pending)", fraction * 100.0), lat(&pending), k),
        row(&format!("{:.0}% alert (firing)", fraction * 100.0), lat(&fired), k),
        row(&format!("{:.0}% decision (cordon or refusal)", fraction * 100.0), lat(&decided), k),
    ]
}

async fn kube_client(kubeconfig: &Path) -> kube::Client {
    nodewatch::live::client_from(&nodewatch::live::ClientOptions {
        kubeconfig: Some(kubeconfig.to_path_buf()),
        context: None,
    })
    .await
    .expect("client")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes --bench; nothing else is taken from the command line.
    let nodes = env_or("NODES", 1500usize);
    let pods_per_node = env_or("PODS_PER_NODE", 6usize).max(2);
    let fractions: Vec<f64> = env_or("FRACTIONS", "0.01,0.1,0.25".to_string())
        .split(',')
        .filter_map(|f| f.trim().parse().ok())
        .collect();
    let mut lines = vec![
        "| faulty nodes: latency from the first fault Event (s) | nodes | P50 | P90 | P99 | max |"
            .to_string(),
        "| --- | ---: | ---: | ---: | ---: | ---: |".to_string(),
    ];
    let mut notes = Vec::new();
    for f in fractions {
        let mut out = level(f, nodes, pods_per_node).await;
        notes.push(out.remove(0));
        lines.extend(out);
    }
    println!("{}\n\n{}", lines.join("\n"), notes.join("\n"));
}
