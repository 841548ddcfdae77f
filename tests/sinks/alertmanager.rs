//! Alertmanager sink against a real Alertmanager (Debian
//! `prometheus-alertmanager`, own config, gossip off, temp storage) on
//! 127.0.0.1: a node alert from the built-in Binder scenario shows in
//! `GET /api/v2/alerts` with its labels and explanation, reaches
//! Alertmanager's webhook receiver, and resolves; then Alertmanager is
//! stopped for 30 s and restarted, and an alert raised meanwhile still
//! arrives.

use nodewatch::act::sinks::{Dispatcher, Fingerprint};
use nodewatch::act::{HoldSettings, Notification, Notifier};
use nodewatch::catalog::Catalog;
use nodewatch::live::hold::AlertHold;
use nodewatch::model::AlertState;
use nodewatch::time::SystemClock;
use receiver::Receiver;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{sinks_config, wait_for, Alertmanager};

use nodewatch_testkit::receiver;
use nodewatch_testkit::sinks as support;

/// The Binder replay's node alerts, in order.
async fn binder_node_alerts() -> Vec<Notification> {
    let scenario = nodewatch::scenario::builtin("binder").expect("built-in scenario");
    let outcome =
        nodewatch::tools::replay::run(scenario, Arc::new(Catalog::builtin()), Default::default())
            .await;
    outcome
        .notifications
        .into_iter()
        .filter(|n| n.alert.scope == "node")
        .collect()
}

fn find(alerts: &[Value], fp: &str) -> Option<Value> {
    alerts.iter().find(|a| a["fingerprint"] == fp).cloned()
}

/// Webhook notifications from Alertmanager carrying `fp` with `status`.
fn hooked(rx: &Receiver, fp: &str, status: &str) -> bool {
    rx.delivered().iter().any(|s| {
        s.json()["alerts"].as_array().is_some_and(|a| {
            a.iter()
                .any(|a| a["fingerprint"] == fp && a["status"] == status)
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binder_node_alert_arrives_resolves_and_survives_a_restart() {
    nodewatch::act::sinks::install_crypto_provider();
    let alerts = binder_node_alerts().await;
    let first = alerts
        .iter()
        .find(|n| n.status == AlertState::Firing)
        .expect("a firing node alert")
        .clone();
    let node = first.alert.subject.clone();
    let resolved = alerts
        .iter()
        .find(|n| n.status == AlertState::Resolved && n.alert.subject == node)
        .expect("its resolution")
        .clone();
    let later = alerts
        .iter()
        .find(|n| n.status == AlertState::Firing && n.alert.subject != node)
        .expect("another node's alert")
        .clone();

    let rx = Receiver::start(&[]).await;
    let mut am = Alertmanager::start(&rx.url);
    let cfg = sinks_config(&format!(
        "sinks:\n  external_url: http://nodewatch.test:8080\n  alertmanager:\n    urls: [{}]\n    \
         resend_interval: 2s\n    delivery: {{timeout: 2s, retry: {{initial: 200ms, max: 1s}}}}\n",
        am.url()
    ));
    let mut d = Dispatcher::start(&cfg, Arc::new(SystemClock)).expect("start");
    let sink = format!("alertmanager/127.0.0.1:{}", am.port);

    // Firing: in the API with labels and explanation, and at the receiver.
    d.notify(first.clone());
    let fp = Fingerprint::of(&first.alert.labels).to_string();
    let got = wait_for(
        Duration::from_secs(30),
        "the alert in /api/v2/alerts",
        || async { find(&am.alerts().await, &fp) },
    )
    .await;
    assert_eq!(
        got["labels"],
        serde_json::to_value(&first.alert.labels).unwrap()
    );
    assert_eq!(got["labels"]["node"], node.as_str());
    assert_eq!(got["labels"]["alertname"], "NodeUnhealthy");
    let why = &first.alert.annotations["explanation"];
    assert!(!why.is_empty());
    assert_eq!(got["annotations"]["explanation"], why.as_str());
    assert_eq!(got["status"]["state"], "active");
    assert_eq!(got["generatorURL"], "http://nodewatch.test:8080");
    wait_for(
        Duration::from_secs(30),
        "the firing webhook from Alertmanager",
        || async { hooked(&rx, &fp, "firing").then_some(()) },
    )
    .await;

    // Resolved: gone from the active alerts, and the receiver hears it.
    d.notify(resolved);
    wait_for(Duration::from_secs(30), "the resolution", || async {
        (find(&am.alerts().await, &fp).is_none() && hooked(&rx, &fp, "resolved")).then_some(())
    })
    .await;

    // Alertmanager down for 30 s; an alert raised meanwhile still arrives.
    am.stop();
    let stopped = Instant::now();
    d.notify(later.clone());
    let fp2 = Fingerprint::of(&later.alert.labels).to_string();
    tokio::time::sleep(Duration::from_secs(30)).await;
    let down = d.stats()[&sink].clone();
    assert!(
        down.retried >= 3 && down.last_error.is_some(),
        "retrying while down: {down:?}"
    );
    am.resume();
    println!(
        "Alertmanager was down for {:.1}s",
        stopped.elapsed().as_secs_f64()
    );
    wait_for(
        Duration::from_secs(30),
        "the alert after the restart",
        || async { find(&am.alerts().await, &fp2) },
    )
    .await;
    wait_for(
        Duration::from_secs(30),
        "its webhook after the restart",
        || async { hooked(&rx, &fp2, "firing").then_some(()) },
    )
    .await;
    let s = &d.stats()[&sink];
    assert_eq!((s.failed, s.dropped), (0, 0), "{s:?}");
    assert!(s.sent >= 3, "{s:?}");
    println!("alertmanager sink: {s:?}");
}

/// `node_alert` with `name` as node and an extra label.
fn with_label(node: &str, key: &str, value: &str) -> Notification {
    let mut n = support::node_alert(node, true, 0);
    n.alert.labels.insert(key.to_string(), value.to_string());
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_alertmanager_rejects_never_fail_the_rest_of_their_batch() {
    nodewatch::act::sinks::install_crypto_provider();
    let rx = Receiver::start(&[]).await;
    let am = Alertmanager::start(&rx.url);
    let cfg = sinks_config(&format!(
        "sinks:\n  alertmanager:\n    urls: [{}]\n    \
         delivery: {{timeout: 2s, retry: {{initial: 200ms, max: 1s}}}}\n",
        am.url()
    ));
    let mut d = Dispatcher::start(&cfg, Arc::new(SystemClock)).expect("start");
    let valid: Vec<Notification> = ["ok-1", "ok-2", "ok-3"]
        .iter()
        .map(|n| support::node_alert(n, true, 0))
        .collect();
    // Refused by Alertmanager's label rules (found before sending) ...
    let bad_name = with_label("bad-1", "bad-label", "x");
    let empty_name = with_label("bad-2", "", "x");
    // ... accepted by some Alertmanager versions, refused by others ...
    let reserved = with_label("maybe-3", "__name__", "x");
    // ... and refused only by Alertmanager itself (ends before it starts),
    // which makes the whole POST answer 400.
    let mut inverted = support::node_alert("bad-4", false, 0);
    inverted.ends_at = inverted
        .ends_at
        .map(|t| t.add(nodewatch::time::Duration::mins(-60)));
    let all: Vec<Notification> = valid
        .iter()
        .cloned()
        .chain([bad_name, empty_name, reserved.clone(), inverted])
        .collect();
    // One batch: everything is queued before the sink takes any of it.
    for n in &all {
        d.notify(n.clone());
    }
    let name = format!("alertmanager/127.0.0.1:{}", am.port);
    let total = all.len() as u64;
    let stats = wait_for(Duration::from_secs(30), "every alert accounted for", || {
        let s = d.stats()[&name].clone();
        async move { (s.sent + s.failed == total).then_some(s) }
    })
    .await;
    let stored = am.alerts().await;
    for n in &valid {
        let fp = Fingerprint::of(&n.alert.labels).to_string();
        assert!(find(&stored, &fp).is_some(), "{fp} in Alertmanager");
    }
    let reserved_fp = Fingerprint::of(&reserved.alert.labels).to_string();
    let reserved_ok = u64::from(find(&stored, &reserved_fp).is_some());
    assert_eq!(
        stats.sent,
        valid.len() as u64 + reserved_ok,
        "the valid alerts count as sent: {stats:?}"
    );
    assert_eq!(stats.failed, 3 + (1 - reserved_ok), "{stats:?}");
    assert_eq!(stats.retried, 0, "a rejection is not retried: {stats:?}");

    // The rejected alerts are not sent again: a later alert goes through
    // without another 400.
    let later = support::node_alert("ok-4", true, 0);
    d.notify(later.clone());
    let fp = Fingerprint::of(&later.alert.labels).to_string();
    wait_for(Duration::from_secs(30), "the later alert", || async {
        find(&am.alerts().await, &fp)
    })
    .await;
    wait_for(Duration::from_secs(10), "it counted as sent", || {
        let s = d.stats()[&name].clone();
        async move { (s.sent == stats.sent + 1).then_some(()) }
    })
    .await;
    assert_eq!(d.stats()[&name].failed, stats.failed);
}

/// `governor.hold_while_alerts` against the real Alertmanager: no hold
/// while the named alert is absent (another alert does not count), a hold
/// naming it once it is active, released when it is silenced, and a hold
/// (fail closed) while Alertmanager cannot be read.
#[tokio::test]
async fn named_alertmanager_alerts_hold_actions() {
    let rx = Receiver::start(&[]).await;
    let mut am = Alertmanager::start(&rx.url);
    let settings = HoldSettings {
        alertmanager: am.url(),
        alerts: vec!["ClusterUpgradeInProgress".into()],
        ..Default::default()
    };
    let mut hold = AlertHold::new(&settings).expect("alerts named");
    let post = |name: &str| {
        let body = serde_json::json!([{"labels": {"alertname": name, "cluster": "prod"}}]);
        let url = format!("{}/api/v2/alerts", am.url());
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.status());
        }
    };
    post("SomethingElse").await;
    wait_for(Duration::from_secs(10), "the other alert", || async {
        (!am.alerts().await.is_empty()).then_some(())
    })
    .await;
    assert_eq!(hold.check().await, None, "only named alerts hold");
    post("ClusterUpgradeInProgress").await;
    let mut why = None;
    for _ in 0..200 {
        why = hold.check().await;
        if why.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        why.as_deref(),
        Some("held: ClusterUpgradeInProgress firing in Alertmanager")
    );
    // Silenced: no longer holds.
    let now = chrono_now();
    let silence = serde_json::json!({"matchers": [{"name": "alertname", "value": "ClusterUpgradeInProgress", "isRegex": false}],
        "startsAt": now.0, "endsAt": now.1, "createdBy": "test", "comment": "done"});
    let r = reqwest::Client::new()
        .post(format!("{}/api/v2/silences", am.url()))
        .json(&silence)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    for _ in 0..200 {
        if hold.check().await.is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(hold.check().await, None, "released once silenced");
    am.stop();
    let why = hold.check().await.expect("fail closed");
    assert!(why.starts_with("held: Alertmanager unreadable"), "{why}");
    assert!(hold.errors >= 1);
}

/// Now and an hour later, RFC 3339.
fn chrono_now() -> (String, String) {
    use nodewatch::time::{Clock, Duration as D};
    let now = SystemClock.now();
    (now.to_rfc3339(), now.add(D::mins(60)).to_rfc3339())
}
