//! The query API under hostile input, through the real HTTP server on
//! 127.0.0.1: queries nested thousands of levels deep (which used to
//! overflow a worker's stack and abort the process) get `400 bad_data`;
//! queries over the sample, time and body limits get Prometheus's error
//! shapes; and the server keeps answering. Also gzip.

use fixture::fill;
use http::{get, post_form, request, request_raw, Resp};
use nodewatch::serve::query::guard::{MAX_NESTING, MAX_OPERATORS};
use nodewatch::serve::{Published, ServeConfig};
use nodewatch::time::Duration;
use serde_json::Value;
use std::net::SocketAddr;

use nodewatch_testkit::serve::fixture;
use nodewatch_testkit::serve::http;

async fn cluster() -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    start(ServeConfig::default(), 6, 40).await
}

/// A server over `nodes` nodes and `ticks` ticks, with `cfg`'s limits.
async fn start(
    cfg: ServeConfig,
    nodes: usize,
    ticks: usize,
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let published = Published::with_config(&cfg);
    fill(&published, nodes, ticks);
    http::serve(published).await
}

/// Percent-encodes a query for a URL or form.
fn enc(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

fn assert_bad_data(r: &Resp, needle: &str) {
    assert_eq!(r.status, 400, "{}", &r.body[..r.body.len().min(300)]);
    let v: Value = serde_json::from_str(&r.body).expect("json");
    assert_eq!(v["status"], "error");
    assert_eq!(v["errorType"], "bad_data");
    let msg = v["error"].as_str().unwrap_or("");
    assert!(msg.contains(needle), "{needle:?} in {msg:?}");
}

#[tokio::test]
async fn deeply_nested_queries_are_refused_and_the_server_survives() {
    let (addr, _stop) = cluster().await;
    let chain = |op: &str, n: usize| vec!["1"; n].join(op);
    let deep = [
        chain("+", 3_500),
        "abs(".repeat(3_000) + "1" + &")".repeat(3_000),
        "sum(".repeat(3_000) + "nodewatch_node_score" + &")".repeat(3_000),
        chain("^", 4_000),
        "-".repeat(5_000) + "1",
        chain(" or ", 3_000),
    ];
    for q in &deep {
        let r = get(addr, &format!("/api/v1/query?query={}", enc(q))).await;
        assert_bad_data(&r, "query too complex");
        let r = post_form(
            addr,
            "/api/v1/query_range",
            &format!("query={}&start=1519128000&end=1519129000&step=30", enc(q)),
        )
        .await;
        assert_bad_data(&r, "query too complex");
    }
    // 35,000 parentheses by POST, and a selector that only parses.
    let parens = "(".repeat(35_000) + "1" + &")".repeat(35_000);
    let r = post_form(addr, "/api/v1/query", &format!("query={}", enc(&parens))).await;
    assert_bad_data(&r, "query too complex");
    let r = get(
        addr,
        &format!("/api/v1/series?match[]={}", enc(&"abs(".repeat(4_000))),
    )
    .await;
    assert_bad_data(&r, "query too complex");
    let r = get(
        addr,
        &format!("/api/v1/labels?match[]={}", enc(&"{".repeat(4_000))),
    )
    .await;
    assert_bad_data(&r, "query too complex");
    let many = vec!["match[]=up"; 65].join("&");
    let r = post_form(addr, "/api/v1/series", &many).await;
    assert_bad_data(&r, "too many match[]");

    // The deepest queries within the limits are answered, not refused.
    let n = MAX_NESTING - 2;
    let ok = [
        "abs(".repeat(n) + "nodewatch_node_score" + &")".repeat(n),
        "(".repeat(n) + "1" + &")".repeat(n),
        chain("+", MAX_OPERATORS),
        format!(
            "{}{} + nodewatch_node_score{}",
            "sum(".repeat(n / 2),
            chain(" - ", MAX_OPERATORS / 2),
            ")".repeat(n / 2)
        ),
    ];
    for q in &ok {
        let r = post_form(addr, "/api/v1/query", &format!("query={}", enc(q))).await;
        assert_eq!(r.status, 200, "{q}: {}", r.body);
    }
    // Absurd ranges and offsets are refused, not wrapped around.
    for q in [
        "nodewatch_node_score offset 100000000000y",
        "nodewatch_node_score offset -100000000000y",
        "rate(nodewatch_node_score[100000000000y])",
        "nodewatch_node_score[100000000000y]",
    ] {
        let r = get(addr, &format!("/api/v1/query?query={}", enc(q))).await;
        assert_eq!(r.status, 400, "{q}: {}", r.body);
    }
    let r = get(addr, "/healthz").await;
    assert_eq!((r.status, r.body.as_str()), (200, "ok"));
}

#[tokio::test]
async fn regex_matchers_are_bounded() {
    let (addr, _stop) = cluster().await;
    let huge = r#"nodewatch_node_score{node=~"(\\w{100}){100}"}"#;
    let r = get(addr, &format!("/api/v1/query?query={}", enc(huge))).await;
    assert_bad_data(&r, "regex");
    let many = format!(
        "nodewatch_node_score{{{}}}",
        vec![r#"node=~"node-.*""#; 40].join(",")
    );
    let r = get(addr, &format!("/api/v1/query?query={}", enc(&many))).await;
    assert_bad_data(&r, "regex matchers");
    let r = get(
        addr,
        &format!(
            "/api/v1/query?query={}",
            enc(r#"count(nodewatch_node_score{node=~"node-000[0-2]"})"#)
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains(r#""3"]"#), "{}", r.body);
}

fn assert_error(r: &Resp, status: u16, kind: &str, needle: &str) {
    assert_eq!(r.status, status, "{}", &r.body[..r.body.len().min(300)]);
    let v: Value = serde_json::from_str(&r.body).expect("json");
    assert_eq!(v["status"], "error");
    assert_eq!(v["errorType"], kind);
    let msg = v["error"].as_str().unwrap_or("");
    assert!(msg.contains(needle), "{needle:?} in {msg:?}");
}

/// Every series over the whole fixture at the tick interval.
const EVERYTHING: &str =
    "/api/v1/query_range?query=%7B__name__%3D~%22.%2B%22%7D&start=1519128000&end=1519131570&step=30";

#[tokio::test]
async fn queries_over_the_sample_limit_fail_like_prometheus_and_the_server_serves_on() {
    let cfg = ServeConfig {
        query_max_samples: 2_000,
        ..ServeConfig::default()
    };
    let (addr, _stop) = start(cfg, 6, 120).await;
    for _ in 0..3 {
        let r = get(addr, EVERYTHING).await;
        assert_error(
            &r,
            422,
            "execution",
            "query processing would load too many samples into memory in query execution",
        );
        let r = get(
            addr,
            "/api/v1/query?query=count_over_time(%7B__name__%3D~%22.%2B%22%7D%5B1h%5D)&time=1519131570",
        )
        .await;
        assert_error(&r, 422, "execution", "too many samples");
    }
    // Within the limit: 6 nodes x 120 steps.
    let r = get(
        addr,
        "/api/v1/query_range?query=nodewatch_node_score&start=1519128000&end=1519131570&step=30",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(get(addr, "/healthz").await.body, "ok");
}

#[tokio::test]
async fn oversized_bodies_and_slow_queries_are_refused() {
    let cfg = ServeConfig {
        max_response_bytes: 4_000,
        ..ServeConfig::default()
    };
    let (addr, _stop) = start(cfg, 6, 120).await;
    let r = get(addr, EVERYTHING).await;
    assert_error(&r, 422, "execution", "response too large");
    let r = get(addr, "/api/v1/query?query=nodewatch_node_score").await;
    assert_eq!(r.status, 200, "{}", r.body);

    // 1 ms for a query that reads millions of samples (well over 100 ms
    // even in a release build).
    let cfg = ServeConfig {
        query_timeout: Duration(1),
        ..ServeConfig::default()
    };
    let (addr, _stop) = start(cfg, 30, 120).await;
    let q = "/api/v1/query_range?query=count_over_time(%7B__name__%3D~%22.%2B%22%7D%5B1h%5D)&start=1519128000&end=1519131570&step=30";
    let r = get(addr, q).await;
    assert_error(&r, 503, "timeout", "query timed out in");
    assert_eq!(get(addr, "/healthz").await.body, "ok");
}

#[tokio::test]
async fn queries_beyond_the_concurrency_limit_queue_and_all_answer() {
    let cfg = ServeConfig {
        query_max_concurrency: 1,
        ..ServeConfig::default()
    };
    let (addr, _stop) = start(cfg, 6, 120).await;
    let runs: Vec<_> = (0..8)
        .map(|_| tokio::spawn(async move { get(addr, EVERYTHING).await }))
        .collect();
    let mut bodies = Vec::new();
    for r in runs {
        let r = r.await.expect("join");
        assert_eq!(r.status, 200);
        bodies.push(r.body);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]));
}

#[tokio::test]
async fn gzip_bodies_decode_to_the_same_json() {
    let (addr, _stop) = start(ServeConfig::default(), 6, 120).await;
    for path in [
        EVERYTHING,
        "/api/v1/series?match[]=%7B__name__%3D~%22.%2B%22%7D",
        "/metrics",
    ] {
        let plain = request(addr, "GET", path, &[]).await;
        assert_eq!(plain.status, 200);
        assert_eq!(plain.header("content-encoding"), None);
        let packed = request_raw(
            addr,
            "GET",
            path,
            &[("Accept-Encoding", "gzip, deflate")],
            "",
        )
        .await;
        assert_eq!(packed.status, 200);
        let enc = packed
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-encoding"))
            .map(|(_, v)| v.as_str());
        assert_eq!(enc, Some("gzip"), "{path}");
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(&packed.body[..]),
            &mut text,
        )
        .expect("gzip");
        if path == "/metrics" {
            // Scrape-time values (uptime, latency) move between the two.
            assert_eq!(text.lines().count(), plain.body.lines().count());
        } else {
            assert_eq!(text, plain.body, "{path}");
            assert!(
                packed.body.len() * 5 < text.len(),
                "{} of {}",
                packed.body.len(),
                text.len()
            );
        }
    }
}
