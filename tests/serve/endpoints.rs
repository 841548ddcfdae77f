//! End-to-end tests of the HTTP server: starts `serve` on 127.0.0.1:0 with a
//! hand-built snapshot and checks every endpoint over a raw HTTP/1.1
//! connection (no HTTP client crate), plus the bounded score history.

use http::{get, promtool_check, request};
use nodewatch::model::{ActionKind, AlertState};
use nodewatch::serve::{serve, Published, HISTORY_LEN};
use nodewatch::state::{
    ActionRecord, AlertView, CommonCause, Contribution, Contributor, NodeView, SignalValue,
    SinkStats, Snapshot, Stats, WorkloadView,
};
use nodewatch::time::Timestamp;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

// A crate root resolves `mod` next to itself, hence the explicit path.
use nodewatch_testkit::serve::http;

fn node(name: &str, score: f64, explanation: &str) -> NodeView {
    NodeView {
        name: name.into(),
        zone: "z1".into(),
        pool: "user".into(),
        score,
        explanation: explanation.into(),
        ..Default::default()
    }
}

/// Two nodes (the sick one listed last, to check ranking), a common cause,
/// a firing node alert, a refused cordon and a hot hub.
fn sample() -> Snapshot {
    let mut sick = node(
        "node-b",
        0.91,
        "threads 7012 vs baseline 310 <script>alert(1)</script>",
    );
    sick.contributions = vec![Contribution {
        signal: "node_threads".into(),
        value: 7012.0,
        level: 0.97,
        weight: 0.5,
        detail: "robust z 41 against median 310".into(),
        top: vec![Contributor {
            name: "prod/leaky-5f7c9d-x2x9z".into(),
            amount: 6450.0,
            share: Some(0.92),
        }],
    }];
    sick.signals = vec![SignalValue {
        signal: "node_threads".into(),
        value: Some(7012.0),
        level: 0.97,
    }];
    let mut healthy = node("node-a", 0.05, "all signals within baseline");
    healthy.unknown = vec!["probe_failures".into()];
    healthy.signals = vec![
        SignalValue {
            signal: "node_threads".into(),
            value: Some(300.0),
            level: 0.0,
        },
        SignalValue {
            signal: "probe_failures".into(),
            value: None,
            level: 0.0,
        },
    ];
    let labels: BTreeMap<String, String> = [
        ("alertname", "NodeThreadExhaustion"),
        ("severity", "critical"),
        ("node", "node-b"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let annotations = BTreeMap::from([(
        "summary".to_string(),
        "node-b is out of threads".to_string(),
    )]);
    Snapshot {
        at: Timestamp(1_519_146_000_000),
        scenario: Some("binder-2018-02-20".into()),
        nodes: vec![healthy, sick],
        workloads: vec![WorkloadView {
            signal: "pod_cpu".into(),
            subject: "prod/hub-7d9f".into(),
            value: Some(1.25),
            level: 0.9,
            detail: "125% CPU".into(),
            ..Default::default()
        }],
        common_cause: vec![CommonCause {
            signal: "network_not_ready".into(),
            nodes: vec!["node-a".into(), "node-b".into()],
            of: 2,
        }],
        alerts: vec![AlertView {
            name: "NodeThreadExhaustion".into(),
            scope: "node".into(),
            subject: "node-b".into(),
            state: AlertState::Firing,
            labels,
            annotations,
            active_since: Timestamp(1_519_145_000_000),
            fired_at: Some(Timestamp(1_519_145_300_000)),
        }],
        actions: vec![ActionRecord {
            at: Timestamp(1_519_145_400_000),
            node: "node-b".into(),
            kind: ActionKind::Refused,
            rule: "NodeThreadExhaustion".into(),
            reason: "more than 30% of nodes look unhealthy".into(),
            score: 0.91,
        }],
        stats: Stats {
            ticks: 7,
            tick_seconds: 0.012,
            source_up: BTreeMap::from([("prometheus".to_string(), true)]),
            source_errors: BTreeMap::from([("prometheus/timeout".to_string(), 2)]),
            sinks: BTreeMap::from([(
                "webhook/ops".to_string(),
                SinkStats {
                    kind: "webhook".into(),
                    sent: 3,
                    dropped: 1,
                    queue_depth: 2,
                    queue_capacity: 100,
                    ..Default::default()
                },
            )]),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Starts the server; dropping/sending on the returned sender stops it.
async fn start(
    published: Published,
) -> (
    SocketAddr,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, published, async move {
        let _ = rx.await;
    }));
    (addr, tx, task)
}

#[tokio::test]
async fn endpoints_before_and_after_first_publish() {
    let published = Published::new();
    let (addr, stop, task) = start(published.clone()).await;

    assert_eq!(get(addr, "/healthz").await.body, "ok");
    assert_eq!(get(addr, "/readyz").await.status, 503);
    assert_eq!(get(addr, "/api/v1/nodewatch/snapshot").await.status, 503);
    let page = get(addr, "/").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Waiting for the first evaluation"));
    let m = get(addr, "/metrics").await;
    assert!(
        m.body.contains("nodewatch_build_info{version=\""),
        "{}",
        m.body
    );
    assert!(m.body.contains("nodewatch_ticks_total 0"));
    assert!(m
        .body
        .contains("nodewatch_actions_total{kind=\"cordon\"} 0"));
    assert!(!m.body.contains("nodewatch_node_score"));

    published.publish(sample());
    let ready = get(addr, "/readyz").await;
    assert_eq!((ready.status, ready.body.as_str()), (200, "ready"));

    let json = get(addr, "/api/v1/nodewatch/snapshot").await;
    assert_eq!(json.status, 200);
    assert!(json
        .header("content-type")
        .unwrap_or("")
        .starts_with("application/json"));
    let v: serde_json::Value = serde_json::from_str(&json.body).expect("json");
    assert_eq!(v["nodes"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["scenario"], "binder-2018-02-20");

    assert_eq!(request(addr, "POST", "/", &[]).await.status, 405);
    assert_eq!(request(addr, "DELETE", "/metrics", &[]).await.status, 405);
    assert_eq!(get(addr, "/nope").await.status, 404);
    assert_eq!(request(addr, "HEAD", "/healthz", &[]).await.status, 200);

    stop.send(()).expect("server running");
    task.await.expect("join").expect("serve");
}

#[tokio::test]
async fn metrics_in_both_formats() {
    let published = Published::new();
    published.publish(sample());
    let (addr, _stop, _task) = start(published).await;

    let m = get(addr, "/metrics").await;
    assert_eq!(m.status, 200);
    assert_eq!(
        m.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    for line in [
        "nodewatch_node_score{node=\"node-b\",zone=\"z1\",pool=\"user\"} 0.91",
        "nodewatch_signal_value{node=\"node-b\",signal=\"node_threads\"} 7012.0",
        "nodewatch_signal_unknown{node=\"node-a\",signal=\"probe_failures\"} 1",
        "nodewatch_common_cause{signal=\"network_not_ready\"} 2",
        "nodewatch_alerts{alertname=\"NodeThreadExhaustion\",alertstate=\"firing\",node=\"node-b\",scope=\"node\",severity=\"critical\",subject=\"node-b\"} 1",
        "nodewatch_actions_total{kind=\"refused\"} 1",
        "nodewatch_workload_value{signal=\"pod_cpu\",subject=\"prod/hub-7d9f\"} 1.25",
        "nodewatch_source_errors_total{source=\"prometheus\",kind=\"timeout\"} 2",
        "nodewatch_source_up{source=\"prometheus\"} 1",
        "nodewatch_ticks_total 7",
        "nodewatch_tick_duration_seconds 0.012",
        "nodewatch_node_cordoned{node=\"node-a\",by=\"\"} 0",
        "nodewatch_sink_queue_depth{sink=\"webhook/ops\",kind=\"webhook\"} 2",
        "nodewatch_sink_queue_capacity{sink=\"webhook/ops\",kind=\"webhook\"} 100",
        "nodewatch_sink_items_total{sink=\"webhook/ops\",outcome=\"dropped\"} 1",
        "nodewatch_sink_retries_total{sink=\"webhook/ops\"} 0",
    ] {
        assert!(m.body.lines().any(|l| l == line), "missing {line}\n{}", m.body);
    }
    assert!(!m
        .body
        .contains("signal_value{node=\"node-a\",signal=\"probe_failures\"}"));
    // Every family has HELP and TYPE.
    let helps = m.body.lines().filter(|l| l.starts_with("# HELP ")).count();
    let types = m.body.lines().filter(|l| l.starts_with("# TYPE ")).count();
    assert_eq!(helps, types);
    assert!(helps >= 18, "{helps} families");
    assert!(!m.body.contains("# EOF"));
    promtool_check(&m.body);

    let om = request(
        addr,
        "GET",
        "/metrics",
        &[(
            "Accept",
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
        )],
    )
    .await;
    assert_eq!(
        om.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(om.body.ends_with("# EOF\n"), "{}", om.body);
    assert!(om
        .body
        .contains("# TYPE nodewatch_ticks counter\nnodewatch_ticks_total 7\n"));
    assert!(om
        .body
        .contains("# UNIT nodewatch_tick_duration_seconds seconds"));
}

#[tokio::test]
async fn status_page_ranks_escapes_and_shows_banner_only_for_cluster_incidents() {
    let published = Published::new();
    // Two publishes, so the sparkline has a line to draw.
    published.publish(sample());
    published.publish(sample());
    let (addr, _stop, _task) = start(published.clone()).await;

    let page = get(addr, "/").await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let b = &page.body;
    assert!(b.contains("<meta http-equiv=\"refresh\" content=\"5\">"));
    assert!(b.contains("binder-2018-02-20"));
    assert!(b.contains("id=\"cluster-banner\""));
    assert!(b.contains("network_not_ready</b> on 2 of 2 nodes"));
    assert!(b.contains("will not cordon"));
    let pos_b = b.find("data-node=\"node-b\"").expect("node-b row");
    let pos_a = b.find("data-node=\"node-a\"").expect("node-a row");
    assert!(pos_b < pos_a, "highest score first");
    assert!(b.contains("class=\"node sick\" data-node=\"node-b\" data-score=\"0.91\""));
    assert!(b.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!b.contains("<script>"));
    assert!(b.contains("unknown: probe_failures"));
    assert!(b.contains("cordon refused"));
    assert!(b.contains("more than 30% of nodes look unhealthy"));
    assert!(b.contains("node-b is out of threads"));
    assert!(b.contains("prod/hub-7d9f"));
    // The node's top contributor is named next to its signal.
    assert!(
        b.contains("<span class=\"from\">from <b>prod/leaky-5f7c9d-x2x9z</b> 92%</span>"),
        "{b}"
    );
    assert!(b.contains("<polyline"));

    let mut calm = sample();
    calm.common_cause.clear();
    published.publish(calm.clone());
    assert!(!get(addr, "/").await.body.contains("id=\"cluster-banner\""));

    let mut cluster = calm;
    cluster.alerts.push(AlertView {
        name: "ClusterNetworkNotReady".into(),
        scope: "cluster".into(),
        subject: "cluster".into(),
        state: AlertState::Firing,
        ..Default::default()
    });
    published.publish(cluster);
    let b = get(addr, "/").await.body;
    assert!(b.contains("id=\"cluster-banner\"") && b.contains("ClusterNetworkNotReady"));
}

#[tokio::test]
async fn history_stays_bounded_with_churning_nodes() {
    let published = Published::new();
    for i in 0..(3 * HISTORY_LEN) {
        let mut s = sample();
        s.nodes.push(node(&format!("ephemeral-{i}"), 0.3, ""));
        published.publish(s);
    }
    assert_eq!(
        published.history("node-b").map(|h| h.len()),
        Some(HISTORY_LEN)
    );
    assert!(
        published.history_nodes() <= HISTORY_LEN + 2,
        "{}",
        published.history_nodes()
    );
    assert!(published.history("ephemeral-0").is_none());
    // The refusal repeats in every snapshot but is one action.
    assert_eq!(published.action_totals().get("refused"), Some(&1));
}
