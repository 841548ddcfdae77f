//! Soak under faults at scale (issue 13), on demand, not in CI:
//! `nodewatch run` (the release binary, its own process, shipped rules and
//! governor defaults) against the fake API server serving NODES nodes and
//! PODS pods shaped like real ones, and a real Prometheus (Debian's 2.42)
//! scraping every pod's and node's series from [`exporter`] every SCRAPE (30 s).
//! While it runs for MINUTES at `engine.step` STEP:
//!
//! - an event storm: STORM Events (default 50,000) in 10 minutes, the
//!   Scheduled/Pulling/Pulled/Created/Started flood of a large rollout;
//! - pod churn: 20 pods replaced every 5 s;
//! - SICK nodes (default 4) turn sick one after another: every pod on them
//!   fails its readiness probe (kubelet Events and `prober_probe_total`);
//! - a 410 relist at full size (compaction, every watch broken);
//! - the API server down for 2 minutes, then Prometheus down for 2;
//! - a webhook receiver that never answers, beside the one that does;
//! - Grafana-shaped `query_range` requests every 2 s and `/metrics`
//!   scrapes every 15 s ([`watch`]).
//!
//! It prints RSS over time, CPU per tick, tick durations, event-to-alert
//! latency, alerts lost, duplicate notifications and cordons (of healthy
//! nodes or on stale data), for BENCHMARKS.md.
//!
//! `cargo bench --bench soak` (NODES 5000, PODS 150000, MINUTES 40,
//! STEP 10s, SICK 4, STORM 50000, RETENTION 6h — `serve.history_retention`;
//! SCRAPE 30s, Prometheus' scrape interval; FULL 720, the ticks per series
//! from which the history counts as full for the RSS summary;
//! AGENT_WRAP runs the agent under a tool such as heaptrack). Failed
//! queries and scrapes are counted by kind.

mod exporter;
mod watch;

use nodewatch::time::Timestamp;
use nodewatch_testkit::cluster::{node, node_name, pod, pod_name};
use nodewatch_testkit::fake_apiserver::{FakeApiServer, Options};
use nodewatch_testkit::prometheus::{self, Prometheus};
use nodewatch_testkit::receiver::{Receiver, Reply};
use serde_json::json;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    Timestamp::from_secs_f64(secs).to_rfc3339()
}

/// A kubelet Event about pod `p` on node `n`.
fn kubelet_event(
    name: String,
    p: usize,
    n: usize,
    reason: &str,
    message: &str,
    count: u64,
) -> serde_json::Value {
    let (ns, pod) = pod_name(p);
    let now = now_rfc3339();
    json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": name, "namespace": ns},
        "involvedObject": {"kind": "Pod", "namespace": ns, "name": pod, "uid": format!("pod-uid-{p}")},
        "reason": reason, "message": message, "source": {"component": "kubelet", "host": node_name(n)},
        "type": if reason == "Unhealthy" { "Warning" } else { "Normal" }, "count": count,
        "firstTimestamp": now, "lastTimestamp": now})
}

/// Minutes from start at which each fault begins.
struct Schedule {
    storm: f64,
    relist: f64,
    api_down: f64,
    prom_down: f64,
    sick: Vec<f64>,
}

async fn run() {
    let (nodes, pods, minutes) = (
        env_or("NODES", 5_000),
        env_or("PODS", 150_000),
        env_or("MINUTES", 40),
    );
    let (n_sick, storm) = (env_or("SICK", 4), env_or("STORM", 50_000));
    let step = std::env::var("STEP").unwrap_or_else(|_| "10s".into());
    // `serve.history_retention`; the shipped 6h at the shipped 30 s step
    // is 720 ticks per series, which STEP=5s RETENTION=1h also holds.
    let retention = std::env::var("RETENTION").unwrap_or_else(|_| "6h".into());
    // Prometheus' scrape interval (kube-prometheus-stack ships 30s): its
    // ingestion and the agent's `rate(...[5m])` queries scale with it.
    let scrape = std::env::var("SCRAPE").unwrap_or_else(|_| "30s".into());
    // The history is "full" once it holds this many ticks per series: the
    // shipped 6h retention at the shipped 30s step.
    let full = env_or("FULL", 720) as u64;
    let m = minutes as f64 / 40.0; // the schedule is written for 40 minutes
    let plan = Schedule {
        storm: 5.0 * m,
        relist: 11.0 * m,
        api_down: 16.0 * m,
        prom_down: 21.0 * m,
        sick: (0..n_sick).map(|k| (7.0 + 6.0 * k as f64) * m).collect(),
    };
    prometheus::require_tools();
    let server = Arc::new(
        FakeApiServer::start(Options {
            history: 200_000,
            ..Default::default()
        })
        .await,
    );
    server.preload("nodes", (0..nodes).map(node));
    server.preload("pods", (0..pods).map(|i| pod(i, nodes)));
    let (exp, exp_addr) = exporter::Exporter::start(nodes, pods).await;
    let prom_dir = tempfile::tempdir().expect("temp dir");
    // `honor_labels`: the one exporter stands for every node's
    // node_exporter, whose `instance` names the node. Without it Prometheus
    // renames that label `exported_instance` and sets `instance` to the
    // exporter's address, so every node's series would land on one node.
    let mut prom = Prometheus::start_with(
        &prom_dir.path().join("data"),
        prometheus::Options {
            config: Some(format!(
                "global:\n  scrape_interval: {scrape}\n  scrape_timeout: {scrape}\nscrape_configs:\n  - job_name: cluster\n    honor_labels: true\n    static_configs:\n      - targets: ['{exp_addr}']\n"
            )),
            ..Default::default()
        },
    );
    let good = Arc::new(Receiver::start(&[]).await);
    let hanging = Receiver::start(&[Reply::Hold; 4096]).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = server.kubeconfig(dir.path());
    let config = dir.path().join("nodewatch.yaml");
    std::fs::write(
        &config,
        format!(
            "engine:\n  step: {step}\n  pool_label: cloud.google.com/gke-nodepool\n\
             serve:\n  history_retention: {retention}\n\
             prometheus:\n  url: {}\n  timeout: 10s\n\
             sinks:\n  webhooks:\n    - name: oncall\n      url: {}\n    - name: hanging\n      url: {}\n      delivery: {{timeout: 5s}}\n",
            prom.url(),
            good.url,
            hanging.url
        ),
    )
    .expect("config");
    let port = nodewatch_testkit::free_port();
    let agent_addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    // AGENT_WRAP runs the agent under a tool, e.g. `heaptrack -o /tmp/h`.
    let wrap = std::env::var("AGENT_WRAP").unwrap_or_default();
    let mut argv: Vec<String> = wrap.split_whitespace().map(String::from).collect();
    argv.push(env!("CARGO_BIN_EXE_nodewatch").into());
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .args(["run", "--kubeconfig", kubeconfig.to_str().unwrap_or("")])
        .args([
            "--listen",
            &agent_addr.to_string(),
            "--config",
            config.to_str().unwrap_or(""),
        ])
        .args(["--identity", "soak"])
        .env("RUST_LOG", "warn")
        .stderr(Stdio::from(
            std::fs::File::create(dir.path().join("agent.log")).expect("log"),
        ))
        .spawn()
        .expect("start nodewatch run");
    eprintln!(
        "agent pid {}, log {}",
        child.id(),
        dir.path().join("agent.log").display()
    );
    let started = Instant::now();
    let until = started + Duration::from_secs(60 * minutes as u64);
    let rec = Arc::new(Mutex::new(watch::Record::default()));
    watch::start(
        rec.clone(),
        started,
        until,
        child.id(),
        agent_addr,
        server.clone(),
        good.clone(),
    );
    let at = |min: f64| started + Duration::from_secs_f64(min * 60.0);
    let mins = || started.elapsed().as_secs_f64() / 60.0;

    // Pod churn: 20 pods replaced every 5 s, all along.
    let s = server.clone();
    tokio::spawn(async move {
        let mut next = 0;
        while Instant::now() < until {
            for _ in 0..20 {
                let i = next % pods;
                let (ns, name) = pod_name(i);
                s.remove("pods", &ns, &name);
                let mut p = pod(i, nodes);
                p["metadata"]["uid"] = json!(format!("pod-uid-{i}-{next}"));
                s.put("pods", p);
                next += 1;
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    });
    // The storm: `storm` Events over 10 minutes, in batches every 100 ms.
    let s = server.clone();
    let storm_at = at(plan.storm);
    tokio::spawn(async move {
        tokio::time::sleep_until(storm_at.into()).await;
        let per_batch = storm.div_ceil(6000);
        let reasons = [
            ("Scheduled", "Successfully assigned"),
            (
                "Pulling",
                "Pulling image \"registry.example.com/web:1.2.4\"",
            ),
            ("Pulled", "Successfully pulled image"),
            ("Created", "Created container web"),
            ("Started", "Started container web"),
        ];
        let mut i = 0;
        while i < storm {
            for _ in 0..per_batch.min(storm - i) {
                let p = i * 7919 % pods;
                let (reason, msg) = reasons[i % reasons.len()];
                s.put(
                    "events",
                    kubelet_event(format!("storm-{i}"), p, p % nodes, reason, msg, 1),
                );
                i += 1;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    // Sick nodes, spread over the cluster; every pod on them fails readiness.
    let mut sick_nodes = Vec::new();
    for (k, &t) in plan.sick.iter().enumerate() {
        let n = (17 + k * nodes / plan.sick.len()) % nodes;
        sick_nodes.push((node_name(n), t));
        let (s, e) = (server.clone(), exp.clone());
        let start = at(t);
        tokio::spawn(async move {
            tokio::time::sleep_until(start.into()).await;
            e.make_sick(n);
            let mut count = 1;
            while Instant::now() < until {
                for p in (n..pods).step_by(nodes) {
                    let msg = "Readiness probe failed: Get \"http://10.4.0.7:8080/healthz\": context deadline exceeded";
                    s.put(
                        "events",
                        kubelet_event(format!("sick-{p}"), p, n, "Unhealthy", msg, count),
                    );
                }
                count += 1;
                tokio::time::sleep(Duration::from_secs(10)).await;
            }
        });
    }
    // Outages, in order.
    tokio::time::sleep_until(at(plan.relist).into()).await;
    eprintln!("{:.1} min: 410 relist", mins());
    server.compact();
    server.drop_watches();
    tokio::time::sleep_until(at(plan.api_down).into()).await;
    eprintln!("{:.1} min: API server down", mins());
    server.down();
    tokio::time::sleep(Duration::from_secs(120)).await;
    server.up().await;
    eprintln!("{:.1} min: API server up", mins());
    tokio::time::sleep_until(at(plan.prom_down).into()).await;
    eprintln!("{:.1} min: Prometheus down", mins());
    prom.kill();
    tokio::time::sleep(Duration::from_secs(120)).await;
    prom.restart();
    eprintln!("{:.1} min: Prometheus up", mins());
    tokio::time::sleep_until(until.into()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ticks = tick_durations(agent_addr, minutes).await;
    let actions = actions(agent_addr).await;
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let log = std::fs::read_to_string(dir.path().join("agent.log")).unwrap_or_default();
    let rec = rec.lock().expect("lock");
    println!("the agent's actions (cordons and refusals, with the governor's reasons):");
    for a in &actions {
        println!("  {a}");
    }
    report(
        &rec,
        &plan,
        &sick_nodes,
        ticks,
        &log,
        full,
        (nodes, pods, minutes, &step, storm, &retention),
    );
}

/// The agent's action records (cordons, refusals and why), one line each.
async fn actions(agent: std::net::SocketAddr) -> Vec<String> {
    let path = nodewatch::serve::SNAPSHOT_PATH;
    let r = nodewatch_testkit::serve::http::request(agent, "GET", path, &[]).await;
    let v: serde_json::Value = match serde_json::from_str(&r.body) {
        Ok(v) => v,
        Err(e) => {
            let body = r.body.len();
            return vec![format!(
                "(snapshot unreadable: status {}, {body} bytes: {e})",
                r.status
            )];
        }
    };
    v["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| a.to_string().chars().take(400).collect())
        .collect()
}

/// Every tick's duration over the run, from the agent's own history.
async fn tick_durations(agent: std::net::SocketAddr, minutes: usize) -> Vec<f64> {
    let end = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let path = format!(
        "/api/v1/query_range?query=nodewatch_tick_duration_seconds&start={}&end={end}&step=1",
        end - 60 * minutes as u64
    );
    let r = nodewatch_testkit::serve::http::request(agent, "GET", &path, &[]).await;
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap_or_default();
    let mut out: Vec<f64> = v["data"]["result"][0]["values"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p[1].as_str()?.parse().ok())
        .collect();
    out.dedup(); // step 1 s repeats each tick's value until the next one
    out
}

fn report(
    rec: &watch::Record,
    plan: &Schedule,
    sick: &[(String, f64)],
    mut ticks: Vec<f64>,
    log: &str,
    full: u64,
    (nodes, pods, minutes, step, storm, retention): (usize, usize, usize, &str, usize, &str),
) {
    let mib = |kb: u64| kb as f64 / 1024.0;
    println!(
        "soak: {nodes} nodes, {pods} pods, {minutes} min at step {step}, {storm} storm Events, history retention {retention}"
    );
    println!("| minute | RSS MiB | CPU s (cumulative) | history ticks | history series |\n| ---: | ---: | ---: | ---: | ---: |");
    let hz = 100.0; // USER_HZ on Linux
    for (t, rss, cpu) in rec.samples.iter().step_by(6) {
        let (ticks, series) = rec.history_at(*t).unwrap_or_default();
        println!(
            "| {:.0} | {:.0} | {:.0} | {ticks} | {series} |",
            t / 60.0,
            mib(*rss),
            *cpu as f64 / hz
        );
    }
    // The goal's condition: RSS once the history holds `full` ticks.
    let full_samples: Vec<_> = rec
        .samples
        .iter()
        .filter(|(t, _, _)| rec.history_at(*t).is_some_and(|h| h.0 >= full))
        .collect();
    let mut at_full: Vec<f64> = full_samples.iter().map(|s| mib(s.1)).collect();
    match full_samples.first() {
        None => println!("the history never held {full} ticks: the goal's condition was not reached"),
        Some(first) => println!(
            "with >= {full} ticks in the history ({} samples, from minute {:.0}): RSS median {:.0} MiB, min {:.0}, max {:.0}",
            at_full.len(),
            first.0 / 60.0,
            watch::quantile(&mut at_full, 0.5),
            watch::quantile(&mut at_full, 0.0),
            watch::quantile(&mut at_full, 1.0)
        ),
    }
    let peak = rec.samples.iter().map(|s| s.1).max().unwrap_or(0);
    let cpu_total = rec.samples.last().map_or(0, |s| s.2) as f64 / hz;
    let n = ticks.len();
    println!("peak RSS {:.0} MiB; CPU {cpu_total:.0} s in {n} ticks = {:.0} ms per tick (everything the process did)",
        mib(peak), cpu_total * 1e3 / n.max(1) as f64);
    println!(
        "tick duration: median {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        watch::quantile(&mut ticks, 0.5) * 1e3,
        watch::quantile(&mut ticks, 0.99) * 1e3,
        watch::quantile(&mut ticks, 1.0) * 1e3
    );
    let (mut q, mut s) = (rec.query_ms.clone(), rec.scrape_ms.clone());
    println!(
        "query_range: {} answered, median {:.1} ms, p99 {:.1} ms, {} failed",
        q.len(),
        watch::quantile(&mut q, 0.5),
        watch::quantile(&mut q, 0.99),
        rec.query_failed.values().sum::<u64>()
    );
    for (kind, n) in &rec.query_failed {
        println!("  query_range failed {n}x: {kind}");
    }
    println!(
        "/metrics: {} scrapes, median {:.1} ms, p99 {:.1} ms, {} failed",
        s.len(),
        watch::quantile(&mut s, 0.5),
        watch::quantile(&mut s, 0.99),
        rec.scrape_failed.values().sum::<u64>()
    );
    for (kind, n) in &rec.scrape_failed {
        println!("  /metrics failed {n}x: {kind}");
    }
    let mut lost = 0;
    for (node, t) in sick {
        match rec.first_alert.get(node) {
            Some(a) => println!(
                "sick {node} at {t:.1} min: NodeUnhealthy after {:.1} min",
                a / 60.0 - t
            ),
            None => {
                lost += 1;
                println!("sick {node} at {t:.1} min: NO ALERT");
            }
        }
    }
    let healthy_alerts = rec
        .first_alert
        .keys()
        .filter(|n| !sick.iter().any(|(s, _)| s == *n))
        .count();
    println!("alerts lost: {lost}; NodeUnhealthy on healthy nodes: {healthy_alerts}; duplicate notifications: {}", rec.duplicates);
    println!("firing alerts by name: {:?}", rec.alertnames);
    let outage = |t: f64| {
        let m = t / 60.0;
        (plan.api_down..plan.api_down + 2.5).contains(&m)
            || (plan.prom_down..plan.prom_down + 2.5).contains(&m)
    };
    let bad = rec
        .cordons
        .iter()
        .filter(|(t, n)| outage(*t) || !sick.iter().any(|(s, _)| s == n))
        .count();
    println!(
        "node PATCHes (cordons): {:?}; of healthy nodes or during an outage: {bad}",
        rec.cordons
    );
    let warn = log.lines().filter(|l| l.contains("WARN")).count();
    let error = log.lines().filter(|l| l.contains("ERROR")).count();
    println!(
        "agent log: {} lines, {warn} WARN, {error} ERROR; storm started {:.1} min, relist {:.1}",
        log.lines().count(),
        plan.storm,
        plan.relist
    );
}

fn main() {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run());
}
