//! Helpers for driving nodewatch agents against the fake server at
//! simulated time: start a replica, release a tick's events, wait until the
//! replica has them, tick.

use super::FakeApiServer;
use nodewatch::act::RecordingNotifier;
use nodewatch::catalog::Catalog;
use nodewatch::collect::MetricSource;
use nodewatch::live::{Agent, AgentOptions};
use nodewatch::state::ActionRecord;
use nodewatch::time::Timestamp;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// A replica as the tests use it.
pub type Replica<M> = Agent<M, RecordingNotifier>;

/// Starts a replica named `identity` and waits for its initial lists.
pub async fn start<M: MetricSource>(
    server: &FakeApiServer,
    dir: &Path,
    catalog: Arc<Catalog>,
    metrics: M,
    mut opts: AgentOptions,
    identity: &str,
) -> Replica<M> {
    opts.kube.identity = Some(identity.to_string());
    let client = server.client(dir).await;
    let agent = Agent::start(client, catalog, metrics, RecordingNotifier::default(), opts);
    agent
        .wait_synced(Duration::from_secs(60))
        .await
        .expect("initial sync");
    agent
}

/// Releases the events due at `at`, waits until `replica` has received
/// them (bounded), and ticks it.
pub async fn tick<M: MetricSource>(
    server: &FakeApiServer,
    replica: &mut Replica<M>,
    at: Timestamp,
) -> Vec<ActionRecord> {
    let rv = server.advance_to(at);
    assert!(
        replica
            .source
            .wait_for_events(rv, Duration::from_secs(30))
            .await,
        "events up to resourceVersion {rv} not delivered by watch in 30 s at {at}: {:?}",
        replica.source.stats()
    );
    replica.tick(at).await
}

/// The built-in Binder scenario with nodes in name order, as an API server
/// lists them (the core lays out per-node state in first-seen order, so
/// replay and live see the same order).
pub fn binder() -> nodewatch::scenario::Scenario {
    let mut sc = nodewatch::scenario::builtin("binder").expect("built-in scenario");
    sc.nodes
        .sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    sc
}

/// Agent options for a scenario: its step, leader election on, and a
/// short lease so hand-over tests stay short.
pub fn options(sc: &nodewatch::scenario::Scenario, lease_secs: i64) -> AgentOptions {
    let mut opts = AgentOptions {
        elect: true,
        ..Default::default()
    };
    opts.engine.step = sc.meta.step;
    opts.kube.lease.duration = nodewatch::time::Duration::secs(lease_secs);
    opts.kube.lease.renew_deadline = nodewatch::time::Duration::secs((lease_secs * 2 / 3).max(1));
    opts
}

/// Ticks several replicas at `at` after releasing its events once.
pub async fn tick_all<M: MetricSource>(
    server: &FakeApiServer,
    replicas: &mut [&mut Replica<M>],
    at: Timestamp,
) -> Vec<ActionRecord> {
    let rv = server.advance_to(at);
    let mut out = Vec::new();
    for r in replicas.iter_mut() {
        assert!(
            r.source.wait_for_events(rv, Duration::from_secs(30)).await,
            "events up to {rv} not delivered"
        );
        out.extend(r.tick(at).await);
    }
    out
}
