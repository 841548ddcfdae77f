//! Replay: runs the full pipeline over a scenario at simulated time, with a
//! recording notifier and an in-memory cordoner behind the real governor.
//! `nodewatch replay` prints its timeline and report; `nodewatch demo` runs
//! it paced, publishing snapshots to the HTTP server.

use crate::act::{Governor, GovernorSettings, InMemoryCordoner, Notification, RecordingNotifier};
use crate::catalog::Catalog;
use crate::collect::replay::ReplaySource;
use crate::collect::Source;
use crate::engine::{Engine, Settings};
use crate::pipeline::Pipeline;
use crate::scenario::{Meta, Scenario, ScenarioError, Streamed};
use crate::serve::Published;
use crate::state::ActionRecord;
use crate::time::Timestamp;
use crate::tools::report::{timeline, Report};
use std::sync::Arc;

/// How to replay.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Engine settings (the scenario's `step` overrides `step`).
    pub engine: Settings,
    /// Governor settings.
    pub governor: GovernorSettings,
    /// Simulated seconds per real second; `None` runs as fast as possible.
    pub speed: Option<f64>,
    /// Publish a snapshot after every tick here.
    pub publish: Option<Published>,
    /// Stop after the last tick at or before this simulated time (the demo
    /// then keeps serving that moment).
    pub until: Option<Timestamp>,
}

/// What a replay produced.
#[derive(Debug)]
pub struct Outcome {
    /// Scenario metadata.
    pub meta: Meta,
    /// Every alert transition, in order.
    pub notifications: Vec<Notification>,
    /// Every cordon, uncordon and refusal, in order.
    pub actions: Vec<ActionRecord>,
    /// Ticks evaluated.
    pub ticks: u64,
}

impl Outcome {
    /// The detection report against the scenario's truth.
    pub fn report(&self) -> Report {
        Report::build(&self.meta, &self.notifications, &self.actions)
    }

    /// The timeline as printable lines.
    pub fn timeline(&self) -> Vec<(Timestamp, String)> {
        timeline(&self.notifications, &self.actions)
    }
}

/// Replays `scenario` through the full pipeline.
pub async fn run(scenario: Scenario, catalog: Arc<Catalog>, opts: Options) -> Outcome {
    let meta = scenario.meta.clone();
    let mut source = ReplaySource::new(scenario);
    drive(&mut source, meta, catalog, opts, |_| true).await
}

/// Replays a scenario opened with [`crate::scenario::open_dir`] (or any
/// [`Streamed`]), reading its streamed files as the replay reaches their
/// time; stops with the error if one changed under it.
pub async fn run_streamed(
    scenario: Streamed,
    catalog: Arc<Catalog>,
    opts: Options,
) -> Result<Outcome, ScenarioError> {
    let meta = scenario.scenario.meta.clone();
    let mut source = ReplaySource::streaming(scenario);
    let failure = source.failure();
    let failed = || failure.lock().map_or(true, |f| f.is_some());
    let outcome = drive(&mut source, meta, catalog, opts, |_| !failed()).await;
    let error = failure.lock().ok().and_then(|mut f| f.take());
    error.map_or(Ok(outcome), Err)
}

/// Runs the full pipeline over any `source` at simulated time, from
/// `meta.start` to `meta.end` every `meta.step`: the loop `replay` and
/// `backtest` share, so the same data gives the same report. `on_tick` is
/// called after every tick (progress bars, aborting on a source failure);
/// returning `false` stops early.
pub async fn drive<S: Source>(
    source: &mut S,
    meta: Meta,
    catalog: Arc<Catalog>,
    mut opts: Options,
    mut on_tick: impl FnMut(Timestamp) -> bool,
) -> Outcome {
    opts.engine.step = meta.step;
    opts.governor
        .maintenance_windows
        .extend(meta.maintenance_windows.iter().cloned());
    let engine = Engine::new(catalog, opts.engine.clone());
    let governor = Governor::new(opts.governor.clone());
    let mut pipeline = Pipeline::new(
        engine,
        governor,
        RecordingNotifier::default(),
        InMemoryCordoner::default(),
    );
    let mut at = meta.start;
    let mut ticks = 0;
    let started = std::time::Instant::now();
    let last = opts.until.map_or(meta.end, |u| u.min(meta.end));
    while at <= last {
        pipeline.step(source, at).await;
        ticks += 1;
        if let Some(p) = &opts.publish {
            p.publish(pipeline.snapshot(Some(&meta.name)));
        }
        if !on_tick(at) {
            break;
        }
        if let Some(speed) = opts.speed.filter(|s| *s > 0.0) {
            // Pace against the start so slow ticks do not accumulate drift.
            let due = at.since(meta.start).as_secs_f64() / speed;
            let ahead = due - started.elapsed().as_secs_f64();
            if ahead > 0.0 {
                tokio::time::sleep(std::time::Duration::from_secs_f64(ahead)).await;
            }
        }
        at = at.add(meta.step);
    }
    let (notifier, actions) = pipeline.into_results();
    Outcome {
        meta,
        notifications: notifier.sent,
        actions,
        ticks,
    }
}
