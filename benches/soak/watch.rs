//! What the soak does to the agent from outside while it runs, and what it
//! records: Grafana-shaped `query_range` requests and `/metrics` scrapes
//! (latency, failures), the agent's memory and CPU (`/proc`), the alerts
//! the webhook receiver got (first firing per node, duplicates) and the
//! cordons the fake API server accepted.

use nodewatch_testkit::fake_apiserver::FakeApiServer;
use nodewatch_testkit::receiver::Receiver;
use nodewatch_testkit::serve::http;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Everything recorded, shared by the watching tasks.
#[derive(Default)]
pub struct Record {
    /// (seconds since start, VmRSS KiB, utime+stime in clock ticks).
    pub samples: Vec<(f64, u64, u64)>,
    /// Latencies of Grafana-shaped queries, ms.
    pub query_ms: Vec<f64>,
    /// Failed queries by kind (see [`Failure`]) and query.
    pub query_failed: BTreeMap<String, u64>,
    /// Latencies of `/metrics` scrapes, ms.
    pub scrape_ms: Vec<f64>,
    /// Failed scrapes by kind.
    pub scrape_failed: BTreeMap<String, u64>,
    /// First firing NodeUnhealthy per node, seconds since start.
    pub first_alert: HashMap<String, f64>,
    /// Firing notifications of the same alert (labels, startsAt) seen
    /// more than once.
    pub duplicates: u64,
    /// Alert names seen firing, with counts.
    pub alertnames: HashMap<String, u64>,
    /// Cordons (node PATCHes answered 200), with seconds since start.
    pub cordons: Vec<(f64, String)>,
    /// The history's size from each `/metrics` scrape: (seconds since
    /// start, ticks retained, series, estimated bytes).
    pub history: Vec<(f64, u64, u64, u64)>,
}

/// The value of the unlabelled gauge `name` in an exposition `body`.
fn gauge(body: &str, name: &str) -> u64 {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

impl Record {
    /// The history's ticks retained at `t` seconds: the last scrape before.
    pub fn history_at(&self, t: f64) -> Option<(u64, u64)> {
        let h = self.history.iter().rev().find(|h| h.0 <= t)?;
        Some((h.1, h.2))
    }
}

/// `VmRSS` in KiB and utime+stime in clock ticks of `pid`.
pub fn proc_sample(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime is the
    // 12th and stime the 13th of them.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let cpu = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    (rss, cpu)
}

/// Starts the watching tasks; they run until `until`.
pub fn start(
    rec: Arc<Mutex<Record>>,
    started: Instant,
    until: Instant,
    pid: u32,
    agent: SocketAddr,
    server: Arc<FakeApiServer>,
    receiver: Arc<Receiver>,
) {
    let secs = move || started.elapsed().as_secs_f64();
    let r = rec.clone();
    tokio::spawn(async move {
        while Instant::now() < until {
            let (rss, cpu) = proc_sample(pid);
            r.lock().expect("lock").samples.push((secs(), rss, cpu));
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
    });
    // Grafana's dashboard refresh: its panels' range queries over the last
    // hour, one every 2 s.
    let r = rec.clone();
    tokio::spawn(async move {
        let queries = [
            "nodewatch_node_score",
            "topk(10, nodewatch_node_score)",
            "max by (zone) (nodewatch_node_score)",
            "sum by (signal) (nodewatch_signal_anomaly)",
            "nodewatch_tick_duration_seconds",
        ];
        let mut i = 0;
        while Instant::now() < until {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let q = queries[i % queries.len()].replace(' ', "%20");
            let path = format!(
                "/api/v1/query_range?query={q}&start={}&end={now}&step=30",
                now - 3600
            );
            let t = Instant::now();
            let got = timed_get(agent, &path).await;
            {
                let mut g = r.lock().expect("lock");
                match got {
                    Ok(_) => g.query_ms.push(t.elapsed().as_secs_f64() * 1e3),
                    Err(kind) => {
                        let key = format!("{kind} [{}]", queries[i % queries.len()]);
                        *g.query_failed.entry(key).or_default() += 1;
                    }
                }
            }
            i += 1;
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });
    // A Prometheus scraping the agent every 15 s.
    let r = rec.clone();
    tokio::spawn(async move {
        while Instant::now() < until {
            let t = Instant::now();
            let got = timed_get(agent, "/metrics").await;
            {
                let mut g = r.lock().expect("lock");
                match got {
                    Ok(body) => {
                        g.scrape_ms.push(t.elapsed().as_secs_f64() * 1e3);
                        let h = |n| gauge(&body, n);
                        g.history.push((
                            secs(),
                            h("nodewatch_history_ticks"),
                            h("nodewatch_history_series"),
                            h("nodewatch_history_memory_bytes"),
                        ));
                    }
                    Err(kind) => *g.scrape_failed.entry(kind).or_default() += 1,
                }
            }
            tokio::time::sleep(Duration::from_secs(15)).await;
        }
    });
    // Alerts and cordons, read once a second.
    tokio::spawn(async move {
        let (mut seen_alerts, mut seen_requests) = (0, 0);
        let mut firing = HashMap::new();
        while Instant::now() < until + Duration::from_secs(1) {
            let now = secs();
            let seen = receiver.seen();
            let requests = server.requests();
            {
                let mut g = rec.lock().expect("lock");
                for s in &seen[seen_alerts.min(seen.len())..] {
                    let Ok(body) = serde_json::from_slice::<serde_json::Value>(&s.body) else {
                        continue;
                    };
                    for a in body["alerts"].as_array().into_iter().flatten() {
                        if a["status"] != "firing" {
                            continue;
                        }
                        let name = a["labels"]["alertname"].as_str().unwrap_or("").to_string();
                        *g.alertnames.entry(name.clone()).or_default() += 1;
                        let key = format!("{}{}", a["labels"], a["startsAt"]);
                        if *firing.entry(key).and_modify(|n| *n += 1).or_insert(1) > 1 {
                            g.duplicates += 1;
                        }
                        if name == "NodeUnhealthy" {
                            if let Some(node) = a["labels"]["node"].as_str() {
                                g.first_alert.entry(node.to_string()).or_insert(now);
                            }
                        }
                    }
                }
                seen_alerts = seen.len();
                for q in &requests[seen_requests.min(requests.len())..] {
                    if q.verb == "patch" && q.status == 200 && q.path.contains("/nodes/") {
                        let node = q.path.rsplit('/').next().unwrap_or("").to_string();
                        g.cordons.push((now, node));
                    }
                }
                seen_requests = requests.len();
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

/// The body of a GET that answered 200 within 30 s, or why not: `connect` (refused,
/// e.g. before the agent listens), `timeout` (no answer in 30 s), or the
/// status with the Prometheus `errorType` and the start of the `error`.
async fn timed_get(addr: SocketAddr, path: &str) -> Result<String, String> {
    let path = path.to_string();
    let req = tokio::spawn(async move {
        let stream = tokio::net::TcpStream::connect(addr).await;
        if stream.is_err() {
            return None;
        }
        drop(stream);
        Some(http::request(addr, "GET", &path, &[]).await)
    });
    match tokio::time::timeout(Duration::from_secs(30), req).await {
        Err(_) => Err("timeout".into()),
        Ok(Err(_)) => Err("broken answer".into()),
        Ok(Ok(None)) => Err("connect".into()),
        Ok(Ok(Some(r))) if r.status == 200 => Ok(r.body),
        Ok(Ok(Some(r))) => {
            let v: serde_json::Value = serde_json::from_str(&r.body).unwrap_or_default();
            let error: String = v["error"].as_str().unwrap_or("").chars().take(60).collect();
            Err(format!(
                "{} {}: {error}",
                r.status,
                v["errorType"].as_str().unwrap_or("-")
            ))
        }
    }
}

/// The `q`-quantile of `v` (sorted in place); 0 when empty.
pub fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}
