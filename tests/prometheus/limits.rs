//! The Prometheus client against a hostile server (a fake on raw TCP,
//! `Hostile` in `tests/testkit/src/hostile.rs`: a real Prometheus cannot be made to
//! answer like this): a 200 answer larger than `max_response_bytes` is not
//! read past the cap and counts as `too_large`; a 503 with a 256 MiB body is
//! read a few KiB deep; a redirect loop costs a bounded number of requests
//! per query and counts as `redirect`. The collector survives all of it.

use hostile::{Hostile, Misbehave};
use nodewatch::catalog::Catalog;
use nodewatch::collect::prometheus::{BackoffConfig, PrometheusCollector, PrometheusConfig};
use nodewatch::collect::MetricSource;
use nodewatch::time::{Duration, Timestamp};

use nodewatch_testkit::hostile;

/// Far more than any cap; small enough that a client reading it whole (the
/// bug) fails the test without exhausting the machine.
const HUGE: u64 = 256 << 20;

/// Per query: the cap plus what the kernel's socket buffers on 127.0.0.1
/// absorb before the client closes the connection (a few MiB).
const LET_THROUGH: u64 = 16 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_answers_and_redirect_loops_are_bounded_and_counted() {
    let huge = |status, json| Misbehave::Huge {
        status,
        json,
        limit: HUGE,
    };
    let server = Hostile::start(&[], huge(200, true)).await;
    let mut cfg = PrometheusConfig::new(server.url.clone());
    cfg.timeout = Duration::secs(20);
    cfg.max_response_bytes = 1 << 20;
    cfg.backoff = BackoffConfig {
        initial: Duration(10),
        max: Duration(20),
    };
    let mut c = PrometheusCollector::new(&cfg).expect("collector");
    let health = c.health();
    let catalog = Catalog::builtin();
    let metric = catalog
        .signals
        .iter()
        .filter(|s| s.metric.is_some())
        .count() as u64;
    let at = Timestamp(1_519_128_000_000);

    // An answer that never ends: each query stops at the cap.
    let out = c.metrics(at, &catalog).await;
    assert!(out.iter().flatten().all(|r| r.is_err()), "{out:?}");
    assert_eq!(health.errors("too_large"), metric);
    let written = server.written();
    eprintln!("200 with an endless body: {written} bytes written for {metric} queries");
    assert!(
        written < metric * LET_THROUGH,
        "{written} bytes of answers were written; each query should stop at 1 MiB"
    );
    assert!(!health.up());

    // An error answer with a huge body: read a few KiB deep.
    server.set_default(huge(503, false));
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let before = server.written();
    c.metrics(at, &catalog).await;
    assert_eq!(health.errors("http"), metric);
    let written = server.written() - before;
    eprintln!("503 with an endless body: {written} bytes written for {metric} queries");
    assert!(
        written < metric * LET_THROUGH,
        "{written} bytes of error bodies written"
    );

    // A redirect loop: a few requests per query, then a `redirect` error.
    server.set_default(Misbehave::RedirectLoop);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let before = server.requests();
    c.metrics(at, &catalog).await;
    let sent = server.requests() - before;
    let per_query = nodewatch::outbound::MAX_REDIRECTS as u64 + 1;
    assert!(
        sent <= metric * per_query,
        "{sent} requests for {metric} queries through a redirect loop"
    );
    assert_eq!(health.errors("redirect"), metric);
    let last = health.state().last_error.unwrap_or_default();
    assert!(last.contains("redirect"), "{last}");
}
