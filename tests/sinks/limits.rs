//! Sinks against hostile receivers (a fake on raw TCP, `Hostile` in
//! `tests/testkit/src/hostile.rs`: the real Alertmanager and Grafana cannot be made
//! to misbehave like this). A receiver answering 500 with a 256 MiB body
//! gets a few KiB of it read, never the whole, and the sink keeps
//! delivering once the receiver behaves; a redirect loop is one permanent
//! failure, counted, with a bounded number of requests, never retried.

use hostile::{Hostile, Misbehave};
use nodewatch::act::sinks::Dispatcher;
use nodewatch::act::{Notification, Notifier};
use nodewatch::state::SinkStats;
use nodewatch::time::SystemClock;
use std::sync::Arc;
use std::time::Duration;
use support::{node_alert, sinks_config, wait_for};

use nodewatch_testkit::hostile;
use nodewatch_testkit::sinks as support;

/// A body far larger than any error message, small enough that a client
/// reading it whole (the bug) fails the test without exhausting memory.
const HUGE: u64 = 256 << 20;

/// Bytes a well-behaved client lets through: its cap plus what the kernel's
/// socket buffers on 127.0.0.1 absorb before the connection closes.
const LET_THROUGH: u64 = 32 << 20;

/// One sink of each HTTP kind, each at its own receiver, quick retries.
fn config(webhook: &str, alertmanager: &str, grafana: &str) -> nodewatch::act::sinks::SinksConfig {
    std::env::set_var("NODEWATCH_TEST_LIMITS_TOKEN", "t0ken");
    let delivery = "delivery: {timeout: 5s, retry: {initial: 100ms, max: 300ms}}";
    sinks_config(&format!(
        "sinks:\n  alertmanager:\n    urls: [{alertmanager}]\n    {delivery}\n  webhooks:\n    \
         - name: ops\n      url: {webhook}\n      {delivery}\n  grafana:\n    - url: {grafana}\n      \
         token: {{env: NODEWATCH_TEST_LIMITS_TOKEN}}\n      {delivery}\n"
    ))
}

/// A cluster incident: every one of the three sinks takes it.
fn incident(name: &str) -> Notification {
    let mut n = node_alert(name, true, 0);
    n.alert.scope = "cluster".into();
    n.alert.labels.insert("scope".into(), "cluster".into());
    n.alert.labels.remove("node");
    n.alert
        .labels
        .insert("alertname".into(), format!("Incident{name}"));
    n.alert.name = format!("Incident{name}");
    n
}

fn stats_of<'a>(
    all: &'a std::collections::BTreeMap<String, SinkStats>,
    kind: &str,
) -> &'a SinkStats {
    all.values()
        .find(|s| s.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} sink in {all:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_error_body_is_read_a_few_kib_deep_and_the_sink_goes_on() {
    nodewatch::act::sinks::install_crypto_provider();
    let huge = Misbehave::Huge {
        status: 500,
        json: false,
        limit: HUGE,
    };
    let servers = [
        Hostile::start(&[], huge).await,
        Hostile::start(&[], huge).await,
        Hostile::start(&[], huge).await,
    ];
    let cfg = config(&servers[0].url, &servers[1].url, &servers[2].url);
    let mut d = Dispatcher::start(&cfg, Arc::new(SystemClock)).expect("start");
    d.notify(incident("a"));
    // Every sink failed (and retried) at least twice against the firehose.
    wait_for(
        Duration::from_secs(30),
        "retries at all three sinks",
        || {
            let s = d.stats();
            async move { (s.len() == 3 && s.values().all(|x| x.retried >= 2)).then_some(()) }
        },
    )
    .await;
    for (kind, server) in ["webhook", "alertmanager", "grafana"].iter().zip(&servers) {
        let written = server.written();
        eprintln!(
            "{kind}: {written} bytes of a 256 MiB error body written before the client closed"
        );
        assert!(
            written < LET_THROUGH,
            "{kind}: the receiver wrote {written} bytes of its error body; a bounded client stops after a few KiB"
        );
        let err = stats_of(&d.stats(), kind)
            .last_error
            .clone()
            .unwrap_or_default();
        assert!(err.starts_with("HTTP 500"), "{kind}: {err}");
        assert!(
            err.len() < 1024,
            "{kind}: the error kept is short: {} bytes",
            err.len()
        );
    }
    // The receivers behave again: the pending alert is delivered.
    for s in &servers {
        s.set_default(Misbehave::Ok);
    }
    wait_for(Duration::from_secs(30), "delivery after recovery", || {
        let s = d.stats();
        async move { s.values().all(|x| x.sent >= 1).then_some(()) }
    })
    .await;
    assert!(d.flush(Duration::from_secs(10)).await);
    for s in d.stats().values() {
        assert_eq!(s.failed, 0, "{s:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_loop_is_one_permanent_failure_with_few_requests() {
    nodewatch::act::sinks::install_crypto_provider();
    let servers = [
        Hostile::start(&[], Misbehave::RedirectLoop).await,
        Hostile::start(&[], Misbehave::RedirectLoop).await,
        Hostile::start(&[], Misbehave::RedirectLoop).await,
    ];
    let cfg = config(&servers[0].url, &servers[1].url, &servers[2].url);
    let mut d = Dispatcher::start(&cfg, Arc::new(SystemClock)).expect("start");
    d.notify(incident("b"));
    wait_for(Duration::from_secs(30), "a failure at every sink", || {
        let s = d.stats();
        async move { (s.len() == 3 && s.values().all(|x| x.failed >= 1)).then_some(()) }
    })
    .await;
    // Retrying would show within a few of the 100-300 ms backoffs.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let all = d.stats();
    for (kind, server) in ["webhook", "alertmanager", "grafana"].iter().zip(&servers) {
        let s = stats_of(&all, kind);
        let limit = nodewatch::outbound::MAX_REDIRECTS as u64 + 1;
        assert!(
            server.requests() <= limit,
            "{kind}: {} requests for one delivery through a redirect loop (at most {limit})",
            server.requests()
        );
        assert_eq!((s.failed, s.retried, s.sent), (1, 0, 0), "{kind}: {s:?}");
        let err = s.last_error.clone().unwrap_or_default();
        assert!(err.contains("redirect"), "{kind}: {err}");
    }
}
