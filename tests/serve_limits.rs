//! The query API under hostile input, through the real HTTP server on
//! 127.0.0.1: queries nested thousands of levels deep (which used to
//! overflow a worker's stack and abort the process) get `400 bad_data`,
//! and the server keeps answering.

use fixture::fill;
use http::{get, post_form, Resp};
use nodewatch::serve::query::guard::{MAX_NESTING, MAX_OPERATORS};
use nodewatch::serve::{router_with, serve_router, Published};
use serde_json::Value;
use std::net::SocketAddr;
use tokio::net::TcpListener;

#[path = "serve/fixture.rs"]
mod fixture;
#[path = "serve/http.rs"]
mod http;

async fn cluster() -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let published = Published::new();
    fill(&published, 6, 40);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve_router(
        listener,
        router_with(published, None),
        async move {
            let _ = rx.await;
        },
    ));
    (addr, tx)
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
