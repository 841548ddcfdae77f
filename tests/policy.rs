//! Pool policies and maintenance windows through the whole pipeline, on
//! built-in scenarios: a detect-only pool sends nothing for its nodes and
//! never cordons them, a `mode: cordon` pool is cordoned without a drain,
//! and a maintenance window in force shows in the snapshot and as
//! `nodewatch_held` in `/metrics`. (The governor's own rules are unit
//! tests in `src/act/governor/`; the window's scenario is in `suite.rs`.)

use nodewatch::act::{
    ActError, Cordoner, Governor, GovernorSettings, Mode, PoolPolicy, RecordingNotifier, Selector,
};
use nodewatch::catalog::Catalog;
use nodewatch::collect::replay::ReplaySource;
use nodewatch::engine::Engine;
use nodewatch::model::{ActionKind, CordonRequest};
use nodewatch::pipeline::Pipeline;
use nodewatch::scenario::{self, suite, Scenario};
use nodewatch::serve::{Exporter, Format, Published};
use nodewatch::time::Timestamp;
use std::sync::Arc;

/// A label the tests put on the sick node only.
const LAB: &str = "example.com/lab";

/// `network-loss` with its sick node labelled [`LAB`], and that node.
fn labelled() -> (Scenario, String) {
    let mut sc = scenario::builtin(suite::network_loss::NAME).expect("built in");
    let sick = sc.meta.truth.faulty_nodes[0].node.clone();
    let node = sc
        .nodes
        .iter_mut()
        .find(|n| n.metadata.name == sick)
        .expect("listed");
    node.metadata.labels.insert(LAB.into(), "true".into());
    (sc, sick)
}

fn lab_policy(mode: Mode) -> GovernorSettings {
    GovernorSettings {
        pools: vec![PoolPolicy {
            name: "lab".into(),
            selector: Selector {
                match_labels: [(LAB.to_string(), "true".to_string())].into(),
                ..Default::default()
            },
            mode: Some(mode),
            max_cordoned: None,
            max_unavailable: None,
            max_unhealthy: None,
            min_score: None,
        }],
        ..Default::default()
    }
}

/// Records each cordon with whether a drain may follow.
#[derive(Default)]
struct DrainFlags(Vec<(String, bool)>);

impl Cordoner for DrainFlags {
    async fn cordon(
        &mut self,
        node: &str,
        req: &CordonRequest,
        _: Timestamp,
    ) -> Result<(), ActError> {
        self.0.push((node.to_string(), req.drain));
        Ok(())
    }
    async fn uncordon(&mut self, _: &str, _: Timestamp) -> Result<(), ActError> {
        Ok(())
    }
}

/// Runs `sc` through a pipeline with `governor`; returns the pipeline.
fn run(sc: Scenario, governor: GovernorSettings) -> Pipeline<RecordingNotifier, DrainFlags> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let meta = sc.meta.clone();
    let settings = nodewatch::engine::Settings {
        step: meta.step,
        ..Default::default()
    };
    let mut p = Pipeline::new(
        Engine::new(Arc::new(Catalog::builtin()), settings),
        Governor::new(governor),
        RecordingNotifier::default(),
        DrainFlags::default(),
    );
    let mut source = ReplaySource::new(sc);
    let mut at = meta.start;
    while at <= meta.end {
        rt.block_on(p.step(&mut source, at));
        at = at.add(meta.step);
    }
    p
}

#[test]
fn a_detect_only_pool_is_scored_but_sends_nothing_and_is_never_cordoned() {
    let (sc, sick) = labelled();
    // Without a policy the node is alerted on and cordoned (with a drain
    // allowed): the scenario is not vacuous.
    let p = run(sc.clone(), GovernorSettings::default());
    assert!(p.notifier().sent.iter().any(|n| n.alert.subject == sick));
    assert_eq!(p.cordoner().0, [(sick.clone(), true)]);

    let p = run(sc, lab_policy(Mode::DetectOnly));
    assert!(
        p.notifier().sent.iter().all(|n| n.alert.subject != sick),
        "{:?}",
        p.notifier().sent
    );
    assert!(p.cordoner().0.is_empty());
    let refused: Vec<_> = p
        .actions()
        .iter()
        .filter(|a| a.node == sick && a.kind == ActionKind::Refused)
        .collect();
    assert!(!refused.is_empty());
    assert!(refused.iter().all(|a| a
        .reason
        .contains("pool policy lab: mode detect-only: its nodes are never cordoned")));
    // Still judged: each refusal carries the node's sick score.
    assert!(refused.iter().all(|a| a.score >= 0.5), "{refused:?}");
}

#[test]
fn an_alert_pool_is_alerted_on_and_a_cordon_pool_cordoned_without_drain() {
    let (sc, sick) = labelled();
    let p = run(sc.clone(), lab_policy(Mode::Alert));
    assert!(p.notifier().sent.iter().any(|n| n.alert.subject == sick));
    assert!(p.cordoner().0.is_empty());
    assert!(p
        .actions()
        .iter()
        .any(|a| a.reason.contains("pool policy lab: mode alert")));
    let p = run(sc, lab_policy(Mode::Cordon));
    assert_eq!(p.cordoner().0, [(sick, false)]);
}

#[test]
fn a_window_in_force_is_in_the_snapshot_and_in_metrics() {
    let sc = scenario::builtin(suite::maintenance_window::NAME).expect("built in");
    let published = Published::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let at = |s: &str| Timestamp::parse_rfc3339(s).unwrap();
    let opts = |until: &str| nodewatch::replay::Options {
        publish: Some(published.clone()),
        until: Some(at(until)),
        ..Default::default()
    };
    rt.block_on(nodewatch::replay::run(
        sc.clone(),
        Arc::new(Catalog::builtin()),
        opts("2024-03-05T09:00:00Z"),
    ));
    let s = published.current().expect("published");
    assert_eq!(s.stats.holds.len(), 1);
    let h = &s.stats.holds[0];
    assert!(h.active);
    assert_eq!(h.until, Some(at("2024-03-05T10:00:00Z")));
    let metrics = Exporter::new(published.clone())
        .render(Format::Prometheus)
        .unwrap();
    let line = "nodewatch_held{kind=\"maintenance_window\",name=\"weekly-maintenance\",reason=\"kubelet config rollout CHG-1042\"}";
    assert!(metrics.contains(&format!("{line} 1")), "{metrics}");
    // After the window: the series stays, at 0.
    rt.block_on(nodewatch::replay::run(
        sc,
        Arc::new(Catalog::builtin()),
        opts("2024-03-05T10:30:00Z"),
    ));
    let metrics = Exporter::new(published).render(Format::Prometheus).unwrap();
    assert!(metrics.contains(&format!("{line} 0")), "{metrics}");
}
