//! Queue overflow: with a dead webhook receiver (nothing listening) and a
//! burst of alert changes far larger than the queue, the receiver comes
//! back and gets the final state of every alert; nothing is dropped
//! because the queue coalesces by fingerprint.

use nodewatch::act::sinks::Dispatcher;
use nodewatch::act::Notifier;
use nodewatch::time::SystemClock;
use receiver::Receiver;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use support::{free_port, node_alert, sinks_config, wait_for};

use nodewatch_testkit::receiver;
use nodewatch_testkit::sinks as support;

const ALERTS: usize = 12;
const CHANGES: usize = 600;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_sink_gets_the_final_state_of_every_alert_when_it_comes_back() {
    nodewatch::act::sinks::install_crypto_provider();
    let port = free_port();
    let cfg = sinks_config(&format!(
        "sinks:\n  webhooks:\n    - name: dead\n      url: http://127.0.0.1:{port}/\n      \
         delivery: {{queue_capacity: 16, max_batch: 4, timeout: 1s, retry: {{initial: 50ms, max: 200ms}}}}\n"
    ));
    let mut d = Dispatcher::start(&cfg, Arc::new(SystemClock)).expect("start");
    // A burst: every alert flips many times; the last flip decides.
    let mut want = BTreeMap::new();
    for c in 0..CHANGES {
        let node = format!("node-{}", c % ALERTS);
        let firing = (c / ALERTS + c % ALERTS).is_multiple_of(2);
        d.notify(node_alert(&node, firing, c as i64));
        want.insert(node, if firing { "firing" } else { "resolved" });
    }
    let s = &d.stats()["webhook/dead"];
    assert!(s.coalesced > 0, "a full queue coalesced: {s:?}");
    assert!(s.queue_depth <= 16, "{s:?}");
    wait_for(Duration::from_secs(10), "failed attempts", || async {
        (d.stats()["webhook/dead"].retried >= 2).then_some(())
    })
    .await;

    // The receiver comes back.
    let rx = Receiver::start_on(port, &[]).await;
    wait_for(
        Duration::from_secs(30),
        "the final state of every alert",
        || async {
            let mut last = BTreeMap::new();
            for s in rx.delivered() {
                for a in s.json()["alerts"].as_array().unwrap() {
                    let node = a["labels"]["node"].as_str().unwrap().to_string();
                    last.insert(node, a["status"].as_str().unwrap().to_string());
                }
            }
            let want: BTreeMap<String, String> = want
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect();
            (last == want).then_some(())
        },
    )
    .await;
    assert!(d.flush(Duration::from_secs(10)).await);
    let s = &d.stats()["webhook/dead"];
    assert_eq!(s.dropped, 0, "nothing dropped: {s:?}");
    assert_eq!(s.failed, 0, "{s:?}");
    assert_eq!(s.queue_depth, 0, "{s:?}");
    let requests = rx.delivered().len();
    println!(
        "{CHANGES} changes of {ALERTS} alerts through a 16-item queue: {} coalesced, {} retried, {requests} requests after recovery",
        s.coalesced, s.retried
    );
    assert!(
        requests < CHANGES / 4,
        "coalescing kept the replay short: {requests} requests"
    );
}
