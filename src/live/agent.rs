//! [`Agent`]: the live pipeline. Watchers and a metric source feed the
//! engine; the governor, a leader-gated notifier and the [`KubeCordoner`]
//! act. Every replica scores each tick; only the lease holder acts, and
//! nothing acts while paused (flag or Lease annotation).
//!
//! The cluster is the memory shared between replicas: before each tick
//! the agent reads nodewatch's annotations from the node list, so a replica
//! that takes over knows which nodes nodewatch cordoned (the 10% limit,
//! opt-in uncordon), when the last cordon was (the rate limit) and which
//! nodes a human uncordoned behind nodewatch's back. After each tick the
//! acting leader takes over what an earlier one left (`restart.rs`):
//! unfinished drains, leftover NodeConditions, and the maintenance
//! windows' hold on the condition.
//!
//! Ticks come from [`Ticks`]: wall-clock intervals in production, or a
//! channel a test drives while it sets a [`SimClock`](crate::time::SimClock).

use super::audit::AuditLog;
use super::condition::ConditionMirror;
use super::cordon::{KubeCordoner, AT, CORDONED_BY};
use super::errlog::ErrorLog;
pub use super::gated::Gated;
use super::hold::AlertHold;
use super::leader::{Elector, LeaderHandle};
use super::restart::{settling_time, take_over, Duties, Term};
use super::source::LiveSource;
use super::watch::Kind;
use super::{LiveError, Settings};
use crate::act::{Governor, GovernorSettings, Notifier};
use crate::catalog::Catalog;
use crate::collect::{MetricSource, Source};
use crate::engine::{self, Engine};
use crate::k8s;
use crate::model::ActionRecord;
use crate::pipeline::Pipeline;
use crate::serve::Published;
use crate::time::{Clock, Timestamp};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// Action records the agent keeps in memory (the status page shows the
/// newest; `kubernetes.audit` keeps the durable log): about 2 MiB.
const ACTIONS_KEPT: usize = 10_000;

/// How an agent is assembled.
#[derive(Clone, Debug, Default)]
pub struct AgentOptions {
    /// Scoring settings.
    pub engine: engine::Settings,
    /// Governor settings (`dry_run` included).
    pub governor: GovernorSettings,
    /// The `kubernetes:` section.
    pub kube: Settings,
    /// `--pause`: no actions while scoring goes on.
    pub pause: bool,
    /// Compete for the Lease (false: this replica always acts).
    pub elect: bool,
    /// Publish a snapshot after every tick here.
    pub publish: Option<Published>,
}

/// Where ticks come from.
pub enum Ticks {
    /// Every interval of wall-clock time.
    Every(Duration),
    /// Whenever a test sends a reply slot; the actions of the tick come back
    /// through it.
    Driven(mpsc::Receiver<oneshot::Sender<Vec<ActionRecord>>>),
}

/// The live agent.
pub struct Agent<M: MetricSource, N: Notifier> {
    /// Engine, governor and actors.
    pub pipeline: Pipeline<Gated<N>, KubeCordoner>,
    /// Watchers and metrics.
    pub source: LiveSource<M>,
    leader: LeaderHandle,
    elector: Option<(JoinHandle<()>, watch::Sender<bool>)>,
    identity: String,
    pause: bool,
    publish: Option<Published>,
    hold: Option<AlertHold>,
    /// The latest node list (the watch sends one only when it changed).
    nodes_seen: Vec<k8s::Node>,
    /// What this leader took over (`restart.rs`).
    term: Term,
    duties: Duties,
    /// Metric rows seen naming no listed node, and their log's rate limit.
    unlisted: (u64, ErrorLog),
}

impl<M: MetricSource, N: Notifier> Agent<M, N> {
    /// Starts watchers and (when `opts.elect`) the elector. Call
    /// [`wait_synced`](Self::wait_synced) before the first tick.
    pub fn start(
        client: ::kube::Client,
        catalog: Arc<Catalog>,
        metrics: M,
        notifier: N,
        opts: AgentOptions,
    ) -> Self {
        let identity = opts.kube.identity();
        let es = opts.engine.clone();
        let backoff = Duration::from_millis(opts.kube.watch_backoff_max.0.max(100) as u64);
        let source = LiveSource::start(client.clone(), metrics, backoff);
        let (leader, elector) = if opts.elect {
            let el = Elector::new(client.clone(), &identity, &opts.kube.lease);
            let handle = el.handle();
            let (tx, rx) = watch::channel(false);
            (handle, Some((el.spawn(rx), tx)))
        } else {
            (LeaderHandle::always(), None)
        };
        let duties = Duties {
            condition: opts
                .kube
                .condition
                .enabled
                .then(|| opts.kube.condition.kind.clone()),
            dry_run: opts.governor.dry_run,
            settle: settling_time(&catalog, es.warm_up, es.step),
        };
        let ev_ns = opts.kube.event_namespace.clone();
        let hold = AlertHold::new(&opts.governor.hold_while_alerts);
        let mut notifier = Gated::new(notifier, leader.clone(), opts.pause);
        if opts.kube.condition.enabled {
            let c = &opts.kube.condition;
            let mirror = ConditionMirror::start(client.clone(), c, opts.governor.dry_run);
            notifier = notifier.with_condition(mirror);
        }
        if opts.kube.audit.enabled {
            let ns = &opts.kube.lease.namespace;
            notifier = notifier.with_audit(AuditLog::start(client.clone(), ns, &opts.kube.audit));
        }
        let cordoner = KubeCordoner::new(client, &identity, &ev_ns, leader.clone(), &opts.kube)
            .expect_into(source.expectations());
        let pipeline = Pipeline::new(
            Engine::new(catalog, es),
            Governor::new(opts.governor),
            notifier,
            cordoner,
        )
        .keep_actions(ACTIONS_KEPT);
        Agent {
            pipeline,
            source,
            leader,
            elector,
            identity,
            pause: opts.pause,
            publish: opts.publish,
            hold,
            nodes_seen: Vec::new(),
            term: Term::default(),
            duties,
            unlisted: Default::default(),
        }
    }

    /// Waits until events, nodes and pods have been listed once.
    pub async fn wait_synced(&self, timeout: Duration) -> Result<(), LiveError> {
        self.source.wait_synced(timeout).await
    }

    /// The election state.
    pub fn leader(&self) -> &LeaderHandle {
        &self.leader
    }

    /// This replica's identity.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Observes the cluster at `at` and runs one tick; returns the actions
    /// taken or refused.
    pub async fn tick(&mut self, at: Timestamp) -> Vec<ActionRecord> {
        let paused = self.pause || self.leader.paused();
        let leading = self.leader.is_leader();
        // A standby scores like the leader but every action is refused.
        self.pipeline.set_paused(paused || !leading);
        self.pipeline.notifier_mut().set_paused(paused);
        self.pipeline.notifier_mut().check_leadership();
        let obs = self
            .source
            .observe(at, self.pipeline.engine().catalog())
            .await;
        if let Some(nodes) = &obs.nodes {
            self.sync_from_annotations(nodes);
            self.nodes_seen = nodes.clone();
        }
        if let Some(h) = &mut self.hold {
            // Only the holder acts, so only the holder asks.
            let why = if leading { h.check().await } else { None };
            self.pipeline.set_hold(why);
        }
        let taken = self.pipeline.step_with(obs).await;
        self.log_unlisted();
        // Drains and conditions an earlier leader left, and the windows'
        // hold on the condition.
        let acting = leading && !paused;
        take_over(
            &mut self.pipeline,
            &mut self.term,
            &self.duties,
            &self.nodes_seen,
            at,
            acting,
        );
        if let Some(p) = &self.publish {
            p.publish(self.snapshot());
        }
        // The tick's transient buffers (the observation, Prometheus
        // answers, a relist's pages) are freed by now: give them back.
        super::malloc::release_free();
        taken
    }

    /// Says (at most once a minute) that metric rows named no node the API
    /// server lists: a signal whose series never carry node names stays
    /// unknown everywhere and holds every cordon, which must not be silent.
    fn log_unlisted(&mut self) {
        let (n, example) = self.pipeline.engine().metric_rows_unlisted();
        if n <= self.unlisted.0 {
            return;
        }
        self.unlisted.0 = n;
        if self.unlisted.1.failed().is_some() {
            let example: String = example.unwrap_or("").chars().take(128).collect();
            tracing::warn!(
                rows_total = n,
                example = ?example,
                "metric rows name no node the API server lists and were dropped \
                 (their node label must hold the node's name: relabel node_exporter's instance)"
            );
        }
    }

    /// What the cluster says nodewatch did (see the module docs).
    fn sync_from_annotations(&mut self, nodes: &[k8s::Node]) {
        for n in nodes {
            let a = &n.metadata.annotations;
            if !a.contains_key(CORDONED_BY) {
                continue;
            }
            let name = &n.metadata.name;
            let at_text = a.get(AT).cloned().unwrap_or_default();
            let ours = self.pipeline.is_cordoned_by_us(name);
            if n.spec.unschedulable {
                // The ledger keeps the newest cordon time, so an older
                // annotation changes nothing.
                let at = Timestamp::parse_rfc3339(&at_text).ok();
                self.pipeline.adopt_cordon(name, at);
            } else if self
                .pipeline
                .first_sight_of_annotated_uncordon(name, &at_text)
                && !ours
            {
                // nodewatch removes its annotations when it uncordons, so an
                // annotated schedulable node was uncordoned by a human. When
                // the ledger knew it as ours, the node list tells it itself.
                tracing::warn!(node = %name, "a human uncordoned a node nodewatch had cordoned; leaving it alone until healthy");
                self.pipeline.note_human_uncordon(name);
            }
        }
    }

    /// The snapshot to publish, with the health of the Kubernetes and
    /// metric sources.
    pub fn snapshot(&self) -> crate::state::Snapshot {
        let mut s = self.pipeline.snapshot(None);
        self.source.metrics().report_health(&mut s.stats);
        let stats = self.source.stats();
        s.stats
            .source_up
            .insert("kubernetes".into(), self.source.events_ok());
        let watch_errors: u64 = stats.iter().map(|w| w.errors).sum();
        let (lease_errors, lease_forbidden, _) = self.leader.errors();
        let c = &self.pipeline.cordoner().stats;
        let forbidden =
            stats.iter().map(|w| w.forbidden).sum::<u64>() + lease_forbidden + c.forbidden;
        // `<source>/<kind>`: /metrics labels them source="kubernetes".
        for (k, v) in [
            ("kubernetes/watch", watch_errors),
            ("kubernetes/lease", lease_errors),
            ("kubernetes/write", c.failed + c.events_failed),
            ("kubernetes/forbidden", forbidden),
        ] {
            s.stats.source_errors.insert(k.into(), v);
        }
        s.stats.pause = if self.pause {
            Some(crate::state::Pause {
                reason: "started with --pause".into(),
                until: None,
            })
        } else {
            self.leader.pause()
        };
        if let Some(c) = self.pipeline.notifier().condition() {
            let errors = c.stats().errors.load(std::sync::atomic::Ordering::Relaxed);
            s.stats
                .source_errors
                .insert("kubernetes/condition".into(), errors);
        }
        if let Some(h) = &self.hold {
            s.stats
                .source_errors
                .insert("alertmanager/hold".into(), h.errors);
        }
        if let Some(a) = self.pipeline.notifier().audit() {
            let errors = a.stats().errors.load(std::sync::atomic::Ordering::Relaxed);
            s.stats
                .source_errors
                .insert("kubernetes/audit".into(), errors);
        }
        if let Some(d) = self.pipeline.cordoner().drain_stats() {
            s.stats.drains = d.by_outcome().map(|(k, v)| (k.into(), v)).collect();
        }
        s
    }

    /// Number of (re)lists per kind: events, nodes, pods.
    pub fn lists(&self) -> [u64; 3] {
        let s = self.source.stats();
        [
            s[Kind::Events as usize].lists,
            s[Kind::Nodes as usize].lists,
            s[Kind::Pods as usize].lists,
        ]
    }

    /// Ticks until `shutdown` completes, then shuts down gracefully.
    pub async fn run(
        mut self,
        clock: Arc<dyn Clock>,
        ticks: Ticks,
        shutdown: impl Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        match ticks {
            Ticks::Every(every) => {
                let mut iv = tokio::time::interval(every);
                iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = iv.tick() => { self.tick(clock.now()).await; }
                        _ = &mut shutdown => break,
                    }
                }
            }
            Ticks::Driven(mut rx) => loop {
                tokio::select! {
                    slot = rx.recv() => match slot {
                        Some(reply) => {
                            let taken = self.tick(clock.now()).await;
                            let _ = reply.send(taken);
                        }
                        None => break,
                    },
                    _ = &mut shutdown => break,
                }
            },
        }
        self.shutdown().await;
    }

    /// Stops acting, releases the Lease (fast hand-over), stops watching.
    pub async fn shutdown(mut self) {
        if let Some((task, stop)) = self.elector.take() {
            let _ = stop.send(true);
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                tracing::warn!("releasing the lease took too long; it will expire instead");
            }
        }
        self.source.stop();
    }

    /// Stops everything at once without releasing the Lease, as a crash
    /// would (tests of the hand-over).
    pub fn kill(mut self) {
        if let Some((task, _)) = self.elector.take() {
            task.abort();
        }
        self.source.stop();
    }
}

impl<M: MetricSource, N: Notifier> Drop for Agent<M, N> {
    fn drop(&mut self) {
        if let Some((task, _)) = self.elector.take() {
            task.abort();
        }
    }
}
