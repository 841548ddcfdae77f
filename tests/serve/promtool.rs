//! Real Prometheus clients against nodewatch: `promtool query
//! instant|range|series|labels` (Prometheus's own API client) reads the
//! query API, a real Prometheus scrapes `/metrics` and the series are
//! queryable there, and `promtool check metrics` accepts the exposition.
//! Debian's `prometheus` package provides both binaries.

use fixture::{at, fill, SICK};
use nodewatch::serve::{serve, Published};
use serde_json::{json, Value};
use std::net::SocketAddr;
use support::serve_prom::{promtool_error, promtool_json, Scraper};
use tokio::net::TcpListener;

use nodewatch_testkit as support;
use nodewatch_testkit::serve::fixture;
use nodewatch_testkit::serve::http;

const TICKS: usize = 120;

async fn start() -> (SocketAddr, Published, tokio::sync::oneshot::Sender<()>) {
    let published = Published::new();
    fill(&published, 6, TICKS);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, published.clone(), async move {
        let _ = rx.await;
    }));
    (addr, published, tx)
}

/// Runs a blocking client call off the runtime's workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("client thread")
}

fn secs(i: usize) -> String {
    (at(i) / 1000).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promtool_queries_the_api() {
    let (addr, _p, _stop) = start().await;
    let url = format!("http://{addr}");

    let u = url.clone();
    let v = blocking(move || {
        promtool_json(&[
            "instant",
            "--time",
            &secs(100),
            &u,
            "topk(1, nodewatch_node_score)",
        ])
    })
    .await;
    assert_eq!(v[0]["metric"]["node"], SICK, "{v}");
    assert_eq!(v[0]["value"], json!([at(100) / 1000, "0.93"]));

    let u = url.clone();
    let v = blocking(move || {
        promtool_json(&[
            "range",
            "--start",
            &secs(60),
            "--end",
            &secs(69),
            "--step",
            "30s",
            &u,
            "sum by (alertstate) (nodewatch_alerts)",
        ])
    })
    .await;
    let states: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["metric"]["alertstate"].as_str())
        .collect();
    assert_eq!(states, ["firing", "pending"], "{v}");
    assert_eq!(
        v[0]["values"].as_array().map(Vec::len),
        Some(6),
        "firing from tick 64"
    );

    let u = url.clone();
    let v = blocking(move || {
        promtool_json(&[
            "series",
            "--match",
            "nodewatch_node_cordoned{by=\"nodewatch\"}",
            "--start",
            &secs(0),
            "--end",
            &secs(119),
            &u,
        ])
    })
    .await;
    assert_eq!(
        v,
        json!([{"__name__":"nodewatch_node_cordoned","by":"nodewatch","node":SICK}])
    );

    let u = url.clone();
    let v = blocking(move || {
        promtool_json(&[
            "labels",
            "--match",
            "nodewatch_signal_value",
            "--start",
            &secs(0),
            "--end",
            &secs(119),
            &u,
            "signal",
        ])
    })
    .await;
    let signals: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(signals.len(), 12, "{v}");
    assert!(signals.contains(&"node_threads_ratio"));

    // An unsupported construct is an error promtool reports, not a result.
    let u = url.clone();
    let err =
        blocking(move || promtool_error(&["instant", &u, "histogram_count(nodewatch_node_score)"]))
            .await;
    assert!(
        err.contains("bad_data") && err.contains("native histograms"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_metrics_and_the_series_are_queryable() {
    let (addr, _p, _stop) = start().await;
    let body = http::get(addr, "/metrics").await.body;
    blocking(move || http::promtool_check(&body)).await;

    let scraper = blocking(move || Scraper::start(addr)).await;
    let s = std::sync::Arc::new(scraper);
    let s2 = s.clone();
    let v = blocking(move || s2.wait_for("nodewatch_node_score{job=\"nodewatch\"}")).await;
    assert_eq!(v.as_array().map(Vec::len), Some(6), "{v}");
    let s2 = s.clone();
    let v = blocking(move || s2.wait_for("nodewatch_alerts{alertstate=\"firing\"}")).await;
    assert_eq!(v[0]["metric"]["node"], SICK);
    assert_eq!(v[0]["metric"]["severity"], "critical");
    let s2 = s.clone();
    let v = blocking(move || s2.wait_for("up{job=\"nodewatch\"} == 1")).await;
    assert_eq!(v.as_array().map(Vec::len), Some(1));
    let s2 = s.clone();
    let v = blocking(move || s2.wait_for("nodewatch_actions_total{kind=\"cordon\"}")).await;
    assert_eq!(v[0]["value"][1], "1");
    // The scrape raised no errors in Prometheus's log (duplicate series,
    // bad exposition).
    let log = s.log();
    assert!(
        !log.contains("level=warn") || !log.contains("scrape"),
        "{log}"
    );
}
