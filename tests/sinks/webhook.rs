//! Webhook sink against real HTTP receivers on 127.0.0.1: a receiver that
//! answers 500 then 200 gets the alert exactly once, signed, with the
//! bearer token and custom headers; a receiver slower than the timeout is
//! retried while the scoring loop's `notify` calls never wait for it.

use hmac::{Hmac, Mac};
use nodewatch::act::sinks::Dispatcher;
use nodewatch::act::Notifier;
use nodewatch::time::SystemClock;
use receiver::{Receiver, Reply};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{node_alert, sinks_config, wait_for};

use nodewatch_testkit::receiver;
use nodewatch_testkit::sinks as support;

fn verify(key: &[u8], body: &[u8], header: &str) -> bool {
    let Some(hex) = header.strip_prefix("sha256=") else {
        return false;
    };
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(body);
    mac.verify_slice(&bytes).is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_then_200_is_delivered_once_signed_and_authenticated() {
    nodewatch::act::sinks::install_crypto_provider();
    let rx = Receiver::start(&[Reply::Status(500)]).await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("hmac");
    std::fs::write(&key_file, "hook-key\n").unwrap();
    std::env::set_var("NODEWATCH_TEST_WEBHOOK_TOKEN", "tok-123");
    let cfg = sinks_config(&format!(
        "sinks:\n  external_url: http://nodewatch.test:8080/\n  webhooks:\n    - name: ops\n      \
         url: {}\n      hmac_secret: {{file: {}}}\n      bearer_token: {{env: NODEWATCH_TEST_WEBHOOK_TOKEN}}\n      \
         headers: {{X-Team: infra}}\n      delivery: {{timeout: 2s, retry: {{initial: 100ms, max: 500ms}}}}\n",
        rx.url,
        key_file.display()
    ));
    let mut d = Dispatcher::start(&cfg, Arc::new(SystemClock)).expect("start");
    assert!(!format!("{d:?}").contains("tok-123"));
    let n = node_alert("node-a", true, 0);
    d.notify(n.clone());
    wait_for(Duration::from_secs(10), "a 200", || async {
        (!rx.delivered().is_empty()).then_some(())
    })
    .await;
    assert!(d.flush(Duration::from_secs(5)).await);

    let seen = rx.seen();
    assert_eq!(seen.len(), 2, "one 500, one 200");
    assert_eq!(seen[0].status, Some(500));
    let got = &rx.delivered()[0];
    assert_eq!(rx.delivered().len(), 1, "delivered exactly once");
    let s = &d.stats()["webhook/ops"];
    assert_eq!(
        (s.sent, s.retried, s.failed, s.dropped),
        (1, 1, 0, 0),
        "{s:?}"
    );
    assert!(s.latency_count == 1 && s.latency_last_seconds > 0.0);

    // The payload is Alertmanager's webhook message, version 4.
    let v = got.json();
    assert_eq!(v["version"], "4");
    assert_eq!(v["receiver"], "ops");
    assert_eq!(v["status"], "firing");
    assert_eq!(v["externalURL"], "http://nodewatch.test:8080");
    assert_eq!(v["groupLabels"]["node"], "node-a");
    assert_eq!(v["groupLabels"]["alertname"], "NodeUnhealthy");
    assert_eq!(v["truncatedAlerts"], 0);
    assert!(v["groupKey"].as_str().unwrap().contains("node=\"node-a\""));
    let a = &v["alerts"][0];
    assert_eq!(a["labels"], serde_json::to_value(&n.alert.labels).unwrap());
    assert_eq!(
        a["annotations"]["explanation"],
        n.alert.annotations["explanation"].as_str()
    );
    assert_eq!(a["startsAt"], "2018-02-20T17:00:00Z");
    assert_eq!(a["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(a["fingerprint"].as_str().unwrap().len(), 16);
    for k in ["commonLabels", "commonAnnotations"] {
        assert!(v[k].is_object(), "{k}");
    }

    // Signature, token and headers.
    let sig = got.headers["x-nodewatch-signature"].to_str().unwrap();
    assert!(verify(b"hook-key", &got.body, sig), "signature verifies");
    let mut tampered = got.body.to_vec();
    tampered[0] = b' ';
    assert!(
        !verify(b"hook-key", &tampered, sig),
        "a changed body does not verify"
    );
    assert_eq!(got.headers["authorization"], "Bearer tok-123");
    assert_eq!(got.headers["x-team"], "infra");
    assert_eq!(got.headers["content-type"], "application/json");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_slower_than_the_timeout_is_retried_and_ticks_never_wait() {
    nodewatch::act::sinks::install_crypto_provider();
    // The first request is held until the test lets it go: the receiver is
    // "sleeping" for as long as we want, by construction, not by clock.
    let rx = Receiver::start(&[Reply::Hold]).await;
    let cfg = sinks_config(&format!(
        "sinks:\n  webhooks:\n    - name: slow\n      url: {}\n      \
         delivery: {{timeout: 300ms, retry: {{initial: 100ms, max: 200ms}}}}\n",
        rx.url
    ));
    let mut d = Dispatcher::start(&cfg, Arc::new(SystemClock)).expect("start");
    d.notify(node_alert("node-0", true, 0));
    wait_for(Duration::from_secs(10), "the held request", || async {
        (rx.holding() == 1).then_some(())
    })
    .await;

    // Stand-in for the scoring loop: 500 ticks, each handing over alert
    // changes. Run off the runtime so a blocking notify would show as a
    // timeout here rather than a hang.
    const TICKS: usize = 500;
    let ticks = tokio::task::spawn_blocking(move || {
        let mut longest = Duration::ZERO;
        for t in 0..TICKS {
            let started = Instant::now();
            d.notify(node_alert(
                &format!("node-{}", 1 + t % 20),
                t % 3 != 0,
                t as i64,
            ));
            longest = longest.max(started.elapsed());
        }
        (d, longest)
    });
    let (d, longest) = tokio::time::timeout(Duration::from_secs(20), ticks)
        .await
        .expect("ticks are never blocked by the slow sink")
        .expect("tick loop");
    // Every tick returned while the receiver was still holding the first
    // request: the scoring loop did not wait for it.
    assert_eq!(
        rx.holding(),
        1,
        "the receiver was still sleeping when all ticks were done"
    );
    println!("{TICKS} notify calls while the receiver slept; longest call {longest:?}");

    // The timed-out attempt was retried and the final state of each alert
    // arrives.
    wait_for(
        Duration::from_secs(20),
        "every alert's final state",
        || async {
            let mut last = std::collections::BTreeMap::new();
            for s in rx.delivered() {
                for a in s.json()["alerts"].as_array().unwrap() {
                    last.insert(
                        a["labels"]["node"].as_str().unwrap().to_string(),
                        a["status"].as_str().unwrap().to_string(),
                    );
                }
            }
            let mut want: std::collections::BTreeMap<String, String> = (TICKS - 20..TICKS)
                .map(|t| {
                    (
                        format!("node-{}", 1 + t % 20),
                        if t % 3 != 0 { "firing" } else { "resolved" }.to_string(),
                    )
                })
                .collect();
            want.insert("node-0".into(), "firing".into());
            (last == want).then_some(())
        },
    )
    .await;
    // The held request timed out and was sent again, and that went through.
    let node0: Vec<_> = rx
        .seen()
        .into_iter()
        .filter(|s| s.json()["groupLabels"]["node"] == "node-0")
        .collect();
    assert!(
        node0.len() >= 2,
        "node-0 was retried: {} requests",
        node0.len()
    );
    assert_eq!(node0[0].status, None, "the first is still held");
    assert!(node0[1..].iter().any(|s| s.status == Some(200)));
    let s = &d.stats()["webhook/slow"];
    assert!(s.retried >= 1, "{s:?}");
    assert_eq!(s.dropped, 0, "{s:?}");
    rx.release();
}
