//! The Prometheus-compatible query API as Grafana's built-in Prometheus
//! datasource uses it: the exact requests it sends (health check `POST
//! /api/v1/query` with `1+1`, buildinfo, label and series lookups with
//! `match[]`, `query_range` with float seconds) replayed over raw HTTP
//! against a synthetic cluster's history, checking the response shapes
//! Prometheus gives, the `bad_data` errors, and the bearer token.

use fixture::{at, fill, SICK, STEP};
use http::{get, post_form, request, Resp};
use nodewatch::serve::{router_with, serve_router, Published};
use serde_json::{json, Value};
use std::net::SocketAddr;
use tokio::net::TcpListener;

use nodewatch_testkit::serve::fixture;
use nodewatch_testkit::serve::http;

/// Ticks in the fixture: one hour.
const TICKS: usize = 120;

async fn start(
    published: Published,
    token: Option<&str>,
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = router_with(published, token.map(str::to_string));
    tokio::spawn(serve_router(listener, app, async move {
        let _ = rx.await;
    }));
    (addr, tx)
}

async fn cluster() -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let published = Published::new();
    fill(&published, 6, TICKS);
    start(published, None).await
}

fn json_of(r: &Resp) -> Value {
    assert_eq!(
        r.header("content-type"),
        Some("application/json"),
        "{}",
        r.body
    );
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body))
}

/// Seconds as Grafana formats them (float, with a fraction).
fn secs(ms: i64) -> String {
    format!("{}", ms as f64 / 1000.0 + 0.0)
}

#[tokio::test]
async fn grafana_health_check_and_buildinfo() {
    let (addr, _stop) = cluster().await;
    // Grafana's "Save & test": POST form, time as float seconds.
    let r = post_form(addr, "/api/v1/query", "query=1%2B1&time=1519131600.123").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        json_of(&r),
        json!({"status":"success","data":{"resultType":"scalar","result":[1519131600.123,"2"]}})
    );
    let b = json_of(&get(addr, "/api/v1/status/buildinfo").await);
    assert_eq!(b["status"], "success");
    assert_eq!(b["data"]["version"], "2.42.0");
    assert!(b["data"]["revision"]
        .as_str()
        .unwrap_or("")
        .starts_with("nodewatch-"));
    // An instant query without `time` answers at the newest tick.
    let r = json_of(&get(addr, "/api/v1/query?query=nodewatch_ticks_total").await);
    assert_eq!(
        r["data"]["result"][0]["value"],
        json!([at(TICKS - 1) / 1000, "120"])
    );
}

#[tokio::test]
async fn label_and_series_lookups_with_match() {
    let (addr, _stop) = cluster().await;
    let (start, end) = (secs(at(0)), secs(at(TICKS - 1)));
    let labels = json_of(&get(addr, &format!("/api/v1/labels?start={start}&end={end}")).await);
    let names: Vec<&str> = labels["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for want in [
        "__name__",
        "alertname",
        "alertstate",
        "kind",
        "node",
        "signal",
        "subject",
        "zone",
    ] {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
    assert!(names.windows(2).all(|w| w[0] < w[1]), "sorted");

    let metrics = json_of(&get(addr, "/api/v1/label/__name__/values").await);
    let metrics: Vec<&str> = metrics["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for want in [
        "nodewatch_node_score",
        "nodewatch_signal_anomaly",
        "nodewatch_alerts",
        "nodewatch_action",
    ] {
        assert!(metrics.contains(&want), "{want} in {metrics:?}");
    }

    // Grafana's variable query label_values(nodewatch_node_score, zone).
    let path =
        format!("/api/v1/label/zone/values?match[]=nodewatch_node_score&start={start}&end={end}");
    assert_eq!(
        json_of(&get(addr, &path).await)["data"],
        json!(["zone-0", "zone-1", "zone-2"])
    );
    let path = "/api/v1/label/node/values?match%5B%5D=nodewatch_node_score%7Bzone%3D%22zone-1%22%7D&limit=1";
    assert_eq!(
        json_of(&get(addr, path).await)["data"],
        json!(["node-0001"])
    );
    assert_eq!(
        json_of(&get(addr, "/api/v1/label/nope/values").await)["data"],
        json!([])
    );

    // Series: only within start..end (the alert exists in the second half).
    let m = "match[]=nodewatch_alerts%7Balertstate%3D%22firing%22%7D";
    let early = json_of(
        &get(
            addr,
            &format!("/api/v1/series?{m}&start={start}&end={}", secs(at(10))),
        )
        .await,
    );
    assert_eq!(early["data"], json!([]));
    let late = json_of(
        &post_form(
            addr,
            "/api/v1/series",
            &format!("{m}&start={start}&end={end}"),
        )
        .await,
    );
    assert_eq!(
        late["data"],
        json!([{"__name__":"nodewatch_alerts","alertname":"NodeSick","alertstate":"firing",
                "node":SICK,"scope":"node","severity":"critical","subject":SICK}])
    );
    // Two match[] are a union.
    let two = json_of(
        &get(addr, "/api/v1/series?match[]=nodewatch_ticks_total&match[]=nodewatch_actions_total%7Bkind%3D%22cordon%22%7D").await,
    );
    assert_eq!(two["data"].as_array().map(Vec::len), Some(2));

    let meta = json_of(&get(addr, "/api/v1/metadata?metric=nodewatch_node_score").await);
    assert_eq!(meta["data"]["nodewatch_node_score"][0]["type"], "gauge");
    assert!(
        json_of(&get(addr, "/api/v1/metadata").await)["data"]["nodewatch_actions_total"].is_array()
    );
    let ex = json_of(&post_form(addr, "/api/v1/query_exemplars", "query=up&start=1&end=2").await);
    assert_eq!(ex, json!({"status":"success","data":[]}));
}

#[tokio::test]
async fn query_range_as_grafana_sends_it() {
    let (addr, _stop) = cluster().await;
    // A float-seconds window aligned to nothing in particular, step "30".
    let (start, end) = (at(100) as f64 / 1000.0 + 0.5, at(103) as f64 / 1000.0 + 0.5);
    let form = format!(
        "query=nodewatch_node_score%7Bnode%3D%22{SICK}%22%7D&start={start}&end={end}&step=30"
    );
    let r = json_of(&post_form(addr, "/api/v1/query_range", &form).await);
    let expect: Vec<Value> = (0..4)
        .map(|i| json!([start + 30.0 * i as f64, "0.93"]))
        .collect();
    assert_eq!(
        r,
        json!({"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"__name__":"nodewatch_node_score","node":SICK,"pool":"user","zone":"zone-1"},"values":expect}]}})
    );
    // Aggregation, as a heatmap or time-series panel asks for it.
    let q = "query=max+by+(zone)+(nodewatch_node_score)&start=1519128000&end=1519131570&step=60";
    let r = json_of(&get(addr, &format!("/api/v1/query_range?{q}")).await);
    let result = r["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 3);
    assert_eq!(result[0]["metric"], json!({"zone":"zone-0"}));
    assert_eq!(result[0]["values"].as_array().map(Vec::len), Some(60));
    assert!(
        result[0]["values"][0][1].is_string(),
        "sample values are strings"
    );
    // rate over the action counter: one cordon in the second half.
    let q = "query=sum(increase(nodewatch_actions_total%5B30m%5D))&start=1519131000&end=1519131000&step=30";
    let r = json_of(&get(addr, &format!("/api/v1/query_range?{q}")).await);
    let v: f64 = r["data"]["result"][0]["values"][0][1]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(v > 0.9 && v < 1.2, "{v}");
    // Step as a duration string and RFC 3339 times are accepted too.
    let q = "query=vector(1)&start=2018-02-20T12:00:00Z&end=2018-02-20T12:01:00Z&step=30s";
    let r = json_of(&get(addr, &format!("/api/v1/query_range?{q}")).await);
    assert_eq!(
        r["data"]["result"][0]["values"].as_array().map(Vec::len),
        Some(3)
    );
    let _ = STEP;
}

#[tokio::test]
async fn errors_are_prometheus_shaped_and_name_the_construct() {
    let (addr, _stop) = cluster().await;
    let bad = |r: Resp, needle: &str| {
        assert_eq!(r.status, 400, "{}", r.body);
        let v: Value = serde_json::from_str(&r.body).expect("json");
        assert_eq!(v["status"], "error");
        assert_eq!(v["errorType"], "bad_data");
        let msg = v["error"].as_str().unwrap_or("");
        assert!(msg.contains(needle), "{needle:?} in {msg:?}");
    };
    bad(
        post_form(
            addr,
            "/api/v1/query",
            "query=histogram_count(nodewatch_node_score)",
        )
        .await,
        "native histograms (histogram_count)",
    );
    // Label functions answer with labels no stored series has; a string
    // literal is a `string` result (Prometheus's exact bodies).
    let t = at(3) / 1000;
    let q = "label_replace(nodewatch_node_score{node=\"node-0001\"},\"host\",\"h$1\",\"node\",\"node-(.*)\")";
    let r = post_form(addr, "/api/v1/query", &format!("query={q}&time={t}")).await;
    assert_eq!(json_of(&r)["data"]["result"][0]["metric"]["host"], "h0001");
    let r = get(
        addr,
        &format!("/api/v1/query?query=%22a%5C%22b%22&time={t}"),
    )
    .await;
    assert_eq!(
        r.body,
        format!(r#"{{"status":"success","data":{{"resultType":"string","result":[{t},"a\"b"]}}}}"#)
    );
    bad(
        post_form(addr, "/api/v1/query", "query=sum(").await,
        "invalid parameter \"query\"",
    );
    bad(
        get(addr, "/api/v1/query?query=1&time=yesterday").await,
        "invalid parameter \"time\"",
    );
    bad(
        get(addr, "/api/v1/query_range?query=1&start=1&end=2").await,
        "\"step\"",
    );
    bad(
        get(addr, "/api/v1/query_range?query=1&start=1&end=2&step=0").await,
        "step",
    );
    bad(
        get(addr, "/api/v1/query_range?query=1&start=3&end=2&step=1").await,
        "end timestamp",
    );
    bad(get(addr, "/api/v1/series").await, "no match[]");
    bad(get(addr, "/api/v1/series?match[]=sum(x)").await, "match[]");
    bad(
        get(addr, "/api/v1/label/1bad/values").await,
        "invalid label name",
    );
    bad(get(addr, "/api/v1/labels?limit=-2").await, "limit");
    assert_eq!(
        request(addr, "DELETE", "/api/v1/query", &[]).await.status,
        405
    );
    assert_eq!(
        request(addr, "PUT", "/api/v1/series", &[]).await.status,
        405
    );
}

#[tokio::test]
async fn bearer_token_protects_everything_but_the_probes() {
    let published = Published::new();
    fill(&published, 2, 4);
    let (addr, _stop) = start(published, Some("s3cret")).await;
    for path in [
        "/",
        "/metrics",
        "/api/v1/query?query=1",
        "/api/v1/nodewatch/snapshot",
    ] {
        let r = get(addr, path).await;
        assert_eq!(r.status, 401, "{path}");
        assert!(r
            .header("www-authenticate")
            .unwrap_or("")
            .starts_with("Basic"));
        let ok = request(addr, "GET", path, &[("Authorization", "Bearer s3cret")]).await;
        assert_eq!(ok.status, 200, "{path}");
    }
    let wrong = request(addr, "GET", "/metrics", &[("Authorization", "Bearer nope")]).await;
    assert_eq!(wrong.status, 401);
    // A browser's Basic prompt: any user, the token as password.
    let basic = request(
        addr,
        "GET",
        "/",
        &[("Authorization", "Basic dXNlcjpzM2NyZXQ=")],
    )
    .await;
    assert_eq!(basic.status, 200);
    assert_eq!(get(addr, "/healthz").await.status, 200);
    assert_eq!(get(addr, "/readyz").await.status, 200);
}

#[tokio::test]
async fn metrics_report_the_history_and_api_latency() {
    let (addr, _stop) = cluster().await;
    let _ = get(addr, "/api/v1/query?query=1").await;
    let m = get(addr, "/metrics").await.body;
    assert!(
        m.contains(
            "nodewatch_api_request_duration_seconds_count{endpoint=\"query\",code=\"200\"} 1"
        ),
        "{m}"
    );
    assert!(m.contains("\nnodewatch_history_ticks 120\n"), "{m}");
    let series = m
        .lines()
        .find_map(|l| l.strip_prefix("nodewatch_history_series "))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(series > 6 * 12, "{series}");
    http::promtool_check(&m);
}

#[test]
fn serve_section_of_the_config_file() {
    use nodewatch::config::Config;
    use std::path::Path;
    let c = Config::parse(
        "serve:\n  history_retention: 2h\n  history_max_bytes: 1000000\n  bearer_token_file: /etc/nodewatch/token\n",
        Path::new("c.yaml"),
    )
    .expect("valid");
    assert_eq!(c.serve.history_retention.0, 2 * 3_600_000);
    assert_eq!(c.serve.history_max_bytes, 1_000_000);
    assert_eq!(
        c.serve.bearer_token_file.as_deref(),
        Some(Path::new("/etc/nodewatch/token"))
    );
    assert_eq!(
        Config::parse("", Path::new("c.yaml"))
            .expect("empty")
            .serve
            .history_retention
            .0,
        6 * 3_600_000
    );
    let e = Config::parse("serve:\n  retention: 1h\n", Path::new("c.yaml")).unwrap_err();
    assert!(e.to_string().contains("unknown field `retention`"), "{e}");
}
