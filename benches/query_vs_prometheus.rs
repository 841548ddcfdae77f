//! The query API against a real Prometheus 2.42 on the same series: the
//! synthetic cluster of `benches/query.rs` (`tests/testkit/src/serve/fixture.rs`),
//! NODES nodes × TICKS ticks at 30 s, published into nodewatch's history,
//! and the very same samples written out as OpenMetrics, backfilled with
//! `promtool tsdb create-blocks-from openmetrics` into Debian's
//! Prometheus. Each `query_range` row of `benches/query.rs` (the last hour
//! at a 30 s step) goes over HTTP to both, the same way (no compression),
//! twice: one request per new connection, and on a kept-alive connection
//! as Grafana's Go HTTP client sends them (it pools connections per
//! datasource). The answers must agree (as in the differential corpus), and
//! the median of RUNS timed requests each is reported with the ratio (the
//! figure to keep: it does not depend on the machine as absolute times do).
//!
//! `cargo bench --bench query_vs_prometheus` (NODES, default 540, and TICKS,
//! default 601, as in the first side-by-side; RUNS, default 9;
//! ONLY, a substring: just the rows whose query contains it).

use nodewatch_testkit::prometheus;
use nodewatch_testkit::serve::compare;
use nodewatch_testkit::serve::fixture;
use nodewatch_testkit::serve::http;

use nodewatch::serve::Published;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Percent-encodes a query for a URL.
fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A float as OpenMetrics writes it.
fn om_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v:?}")
    }
}

/// Every sample of the history as OpenMetrics, families contiguous, each
/// series' samples in time order. Returns the number of series.
fn write_openmetrics(published: &Published, path: &std::path::Path) -> usize {
    let h = published.store();
    let mut by_name: std::collections::BTreeMap<String, Vec<(String, u32)>> = Default::default();
    for sid in h.all_ids() {
        let s = h.series(sid).expect("series");
        let mut name = String::new();
        let mut labels = Vec::new();
        for &(k, v) in s.labels.iter() {
            let (k, v) = (h.strings.resolve(k), h.strings.resolve(v));
            if k == "__name__" {
                name = v.to_string();
            } else {
                let v = v
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                labels.push(format!("{k}=\"{v}\""));
            }
        }
        by_name
            .entry(name)
            .or_default()
            .push((labels.join(","), sid));
    }
    let ticks = h.ticks() as u64;
    let first = h.ticks_between(i64::MIN, i64::MAX).start;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut count = 0;
    for (name, series) in &by_name {
        writeln!(out, "# TYPE {name} gauge").unwrap();
        for (labels, sid) in series {
            count += 1;
            let mut line = String::new();
            for tick in first..first + ticks {
                if let Some(v) = h.value(*sid, tick) {
                    line.clear();
                    let t = h.time_of(tick) as f64 / 1000.0;
                    write!(line, "{name}{{{labels}}} {} {t:.3}", om_value(v)).unwrap();
                    writeln!(out, "{line}").unwrap();
                }
            }
        }
    }
    writeln!(out, "# EOF").unwrap();
    count
}

/// Median wall time of `runs` requests of `path` to `addr`, and the last body.
async fn time(addr: SocketAddr, path: &str, runs: usize) -> (Duration, String) {
    let warm = http::request(addr, "GET", path, &[]).await;
    assert_eq!(warm.status, 200, "{addr}{path}: {}", warm.body);
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let r = http::request(addr, "GET", path, &[]).await;
        times.push(t.elapsed());
        assert_eq!(r.status, 200);
    }
    times.sort();
    (times[runs / 2], warm.body)
}

/// Median wall time of `runs` requests of `path` on one kept-alive
/// connection of `client` (warmed by a first request, which opens it).
async fn time_kept_alive(
    client: &reqwest::Client,
    addr: SocketAddr,
    path: &str,
    runs: usize,
) -> Duration {
    let url = format!("http://{addr}{path}");
    let get = || async {
        let r = client.get(&url).send().await.expect("request");
        assert_eq!(r.status(), 200, "{url}");
        r.bytes().await.expect("body");
    };
    get().await;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        get().await;
        times.push(t.elapsed());
    }
    times.sort();
    times[runs / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `block_on` would run the timing loop on the main thread, outside the
    // runtime's workers, so every request would cross one more thread
    // (client loop → connection task → server → back). That hop cost
    // 35–150 µs, varying from run to run, on both servers alike: most of
    // what a one-series query measured. On a worker the loop and the
    // client's connection task share a thread, as in an HTTP client's
    // own request path.
    tokio::spawn(run()).await.expect("bench task");
}

async fn run() {
    let (nodes, ticks, runs) = (
        env_or("NODES", 540),
        env_or("TICKS", 601),
        env_or("RUNS", 9).max(1),
    );
    let only = std::env::var("ONLY").ok();
    let published = Published::new();
    for i in 0..ticks {
        published.publish(fixture::snapshot(nodes, i, ticks));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let om = dir.path().join("metrics.om");
    let started = Instant::now();
    let series = write_openmetrics(&published, &om);
    let storage = dir.path().join("data");
    prometheus::backfill(&om, &storage);
    eprintln!(
        "{series} series × {ticks} ticks written and backfilled in {:.0?} ({:.0} MB of OpenMetrics)",
        started.elapsed(),
        std::fs::metadata(&om).map(|m| m.len()).unwrap_or(0) as f64 / 1e6
    );
    std::fs::remove_file(&om).ok();
    let prom = prometheus::Prometheus::start(&storage);
    let prom_addr: SocketAddr = prom.addr();
    let (nw_addr, _stop) = http::serve(published.clone()).await;

    let end = fixture::at(ticks - 1) / 1000;
    let start = end - 3600;
    // One client per server, so each keeps its own connection alive.
    nodewatch::act::sinks::install_crypto_provider();
    let (nw_client, pr_client) = (reqwest::Client::new(), reqwest::Client::new());
    println!("| `query_range`, last hour at 30 s, {nodes} nodes, {series} series | nodewatch | Prometheus 2.42 | Prometheus ÷ nodewatch | kept alive: nodewatch | Prometheus 2.42 | Prometheus ÷ nodewatch | answers |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    for q in [
        "nodewatch_node_score",
        "max by (zone) (nodewatch_node_score)",
        "topk(10, nodewatch_node_score)",
        "topk(10, nodewatch_signal_anomaly > 0)",
        "sum by (signal) (nodewatch_signal_anomaly)",
        "rate(nodewatch_actions_total[5m])",
    ]
    .into_iter()
    .filter(|q| only.as_deref().is_none_or(|o| q.contains(o)))
    {
        let path = format!(
            "/api/v1/query_range?query={}&start={start}&end={end}&step=30",
            encode(q)
        );
        let (nw, nw_body) = time(nw_addr, &path, runs).await;
        let (pr, pr_body) = time(prom_addr, &path, runs).await;
        let nw_kept = time_kept_alive(&nw_client, nw_addr, &path, runs).await;
        let pr_kept = time_kept_alive(&pr_client, prom_addr, &path, runs).await;
        let verdict = compare::compare(q, &compare::answer(&nw_body), &compare::answer(&pr_body));
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "| `{q}` | {:.2} ms | {:.2} ms | {:.1}× | {:.2} ms | {:.2} ms | {:.1}× | {verdict:?} |",
            ms(nw),
            ms(pr),
            ms(pr) / ms(nw),
            ms(nw_kept),
            ms(pr_kept),
            ms(pr_kept) / ms(nw_kept)
        );
    }
    std::io::stdout().flush().ok();
}
