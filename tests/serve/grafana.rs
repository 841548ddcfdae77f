//! The shipped Grafana provisioning (`deploy/grafana/`) against the demo
//! scenario: the Binder incident is replayed in-process up to 18:00 on
//! Feb 20 (the cluster-wide readiness window, `vvsw` losing its network and
//! its cordon are inside the 6 h history), then every panel query and every
//! annotation query of the dashboard is sent as Grafana sends it (`POST
//! /api/v1/query_range`, form body, float seconds) and must return data
//! without error. The datasource file must point Grafana's plain Prometheus
//! datasource at nodewatch.

use http::post_form;
use nodewatch::catalog::Catalog;
use nodewatch::serve::{serve, Published};
use nodewatch::time::Timestamp;
use nodewatch::{scenario, tools::replay};
use serde_json::Value;
use std::sync::Arc;
use tokio::net::TcpListener;

use nodewatch_testkit::serve::http;

const DASHBOARD: &str = include_str!("../../deploy/grafana/dashboards/nodewatch.json");
const DATASOURCE: &str =
    include_str!("../../deploy/grafana/provisioning/datasources/nodewatch.yaml");
const PROVIDER: &str = include_str!("../../deploy/grafana/provisioning/dashboards/nodewatch.yaml");

/// Grafana's built-in variables, as it would expand them for a 6 h range.
fn expand(expr: &str) -> String {
    expr.replace("$__rate_interval", "2m")
        .replace("$__interval", "1m")
        .replace("$__range", "6h")
}

/// Every `(title, expr)` the dashboard queries: panel targets and
/// annotations.
fn queries(dash: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in dash["panels"].as_array().expect("panels") {
        for t in p["targets"].as_array().expect("targets") {
            let expr = t["expr"].as_str().expect("expr");
            out.push((p["title"].as_str().unwrap_or("?").to_string(), expand(expr)));
        }
    }
    for a in dash["annotations"]["list"].as_array().expect("annotations") {
        let expr = a["expr"].as_str().expect("annotation expr");
        out.push((format!("annotation {}", a["name"]), expand(expr)));
    }
    out
}

#[test]
fn provisioning_files_describe_a_plain_prometheus_datasource() {
    let ds: serde_yaml::Value = serde_yaml::from_str(DATASOURCE).expect("datasource yaml");
    let d = &ds["datasources"][0];
    assert_eq!(
        d["type"].as_str(),
        Some("prometheus"),
        "no plugin: the built-in type"
    );
    assert_eq!(d["uid"].as_str(), Some("nodewatch"));
    assert_eq!(d["jsonData"]["httpMethod"].as_str(), Some("POST"));
    assert_eq!(d["jsonData"]["manageAlerts"].as_bool(), Some(false));
    assert!(d["url"].as_str().unwrap_or("").starts_with("http"));
    let pr: serde_yaml::Value = serde_yaml::from_str(PROVIDER).expect("provider yaml");
    assert_eq!(pr["providers"][0]["type"].as_str(), Some("file"));

    let dash: Value = serde_json::from_str(DASHBOARD).expect("dashboard json");
    assert_eq!(dash["uid"], "nodewatch");
    // Every panel and annotation uses the provisioned datasource.
    for p in dash["panels"].as_array().unwrap() {
        assert_eq!(p["datasource"]["uid"], "nodewatch", "{}", p["title"]);
        assert_eq!(p["datasource"]["type"], "prometheus");
    }
    for a in dash["annotations"]["list"].as_array().unwrap() {
        assert_eq!(a["datasource"]["uid"], "nodewatch");
    }
    let titles: Vec<&str> = dash["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["title"].as_str())
        .collect();
    for want in [
        "Node score",
        "Top contributing signals",
        "Hub CPU",
        "Hub threads",
    ] {
        assert!(
            titles.iter().any(|t| t.starts_with(want)),
            "{want} in {titles:?}"
        );
    }
    let heat = dash["panels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["type"] == "heatmap");
    assert!(heat.is_some(), "a node score heatmap");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_query_returns_data_on_the_demo_scenario() {
    let sc = scenario::builtin("binder").expect("built-in scenario");
    let published = Published::new();
    let until = Timestamp::parse_rfc3339("2018-02-20T18:00:00Z").expect("time");
    let opts = replay::Options {
        publish: Some(published.clone()),
        until: Some(until),
        ..Default::default()
    };
    replay::run(sc, Arc::new(Catalog::builtin()), opts).await;

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (_stop, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, published, async move {
        let _ = rx.await;
    }));

    let dash: Value = serde_json::from_str(DASHBOARD).expect("dashboard json");
    let (start, end) = (
        until.0 as f64 / 1000.0 - 6.0 * 3600.0,
        until.0 as f64 / 1000.0,
    );
    let queries = queries(&dash);
    assert!(queries.len() >= 10, "{queries:?}");
    for (title, expr) in queries {
        let mut form = String::from("query=");
        for b in expr.bytes() {
            match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' => form.push(b as char),
                _ => form.push_str(&format!("%{b:02X}")),
            }
        }
        // Annotations use their own step; panels Grafana's interval.
        let step = if title.starts_with("annotation") {
            30
        } else {
            60
        };
        form.push_str(&format!("&start={start}&end={end}&step={step}"));
        let r = post_form(addr, "/api/v1/query_range", &form).await;
        assert_eq!(r.status, 200, "{title}: {expr}: {}", r.body);
        let v: Value = serde_json::from_str(&r.body).expect("json");
        assert_eq!(v["status"], "success", "{title}");
        let result = v["data"]["result"].as_array().expect("result");
        assert!(!result.is_empty(), "{title}: {expr} returned no data");
        assert!(result
            .iter()
            .all(|s| s["values"].as_array().is_some_and(|x| !x.is_empty())));
    }

    // The annotations carry what Grafana shows: vvsw's alert and cordon.
    let vvsw = "gke-prod-a-ssd-pool-32-134a959a-vvsw";
    let form = format!("query=nodewatch_action&start={start}&end={end}&step=30");
    let v: Value = serde_json::from_str(&post_form(addr, "/api/v1/query_range", &form).await.body)
        .expect("json");
    let cordon = v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["metric"]["kind"] == "cordon");
    let cordon = cordon.expect("a cordon annotation");
    assert_eq!(cordon["metric"]["node"], vvsw);
    assert!(!cordon["metric"]["reason"].as_str().unwrap_or("").is_empty());
}
