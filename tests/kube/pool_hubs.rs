//! Per-pool hub selectors and thresholds through the whole pipeline, on
//! the built-in `hub-renamed` scenario (a Zero to JupyterHub hub on the
//! `default-pool`, an overloading `jupyterhub-…` hub on the
//! `research-pool`), with the pool policies read from a config file as
//! `nodewatch run` reads them. The rules' unit tests are in
//! `src/config/policy.rs` (validation) and `src/catalog/hubs.rs` (copies).

use nodewatch::catalog::Catalog;
use nodewatch::config::Config;
use nodewatch::model::AlertState;
use nodewatch::scenario::{self, suite::hub_renamed};
use nodewatch::tools::replay::{self, Options, Outcome};
use std::path::Path;
use std::sync::Arc;

/// Replays `hub-renamed` with the governor of config `text`.
fn replay_with(text: &str) -> Outcome {
    replay_scenario(hub_renamed::NAME, text)
}

/// Replays built-in scenario `name` with the governor of config `text`.
fn replay_scenario(name: &str, text: &str) -> Outcome {
    let cfg = Config::parse(text, Path::new("pools.yaml")).expect("parses");
    let catalog = Catalog::builtin();
    cfg.validate_with(&catalog).expect("valid");
    let sc = scenario::builtin(name).expect("built in");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(replay::run(
        sc,
        Arc::new(catalog),
        Options {
            governor: cfg.governor,
            ..Default::default()
        },
    ))
}

/// The pods a firing `alert` was sent for.
fn fired(o: &Outcome, alert: &str) -> Vec<String> {
    let mut pods: Vec<String> = o
        .notifications
        .iter()
        .filter(|n| n.alert.name == alert && n.status == AlertState::Firing)
        .filter_map(|n| n.alert.labels.get("pod").cloned())
        .collect();
    pods.sort();
    pods.dedup();
    pods
}

fn node_alerts(o: &Outcome) -> usize {
    o.notifications
        .iter()
        .filter(|n| n.alert.scope == "node")
        .count()
}

#[test]
fn the_default_selector_finds_the_renamed_hub_and_blames_no_node() {
    let o = replay_with("");
    assert_eq!(fired(&o, "HubCPUHigh"), [hub_renamed::RESEARCH_HUB]);
    let r = o.report();
    assert!(r.cluster_incidents[0].detected_at.is_some(), "{r:?}");
    assert_eq!((r.false_alerts, node_alerts(&o)), (0, 0), "{r:?}");
    assert!(r.cordons.is_empty(), "{r:?}");
    // The alert says where the hub runs.
    let a = o
        .notifications
        .iter()
        .find(|n| n.alert.name == "HubCPUHigh")
        .unwrap();
    assert!(
        a.alert.annotations["explanation"].contains("runs on node gke-hubrenamed-research-pool-"),
        "{:?}",
        a.alert.annotations
    );
}

/// Two pools, each with its own hub selector; teaching's hub is held to
/// a lower CPU threshold than the rule file's 0.7.
const TWO_POOLS: &str = "
governor:
  pools:
    - name: teaching
      selector: {pool: [default-pool]}
      hub: {pod: '=~hub-.*', container: hub}
      thresholds:
        HubCPUHigh: {value_above: 0.1}
    - name: research
      selector: {pool: [research-pool]}
      hub: {pod: '=~jupyterhub-.*', container: jupyterhub}
";

#[test]
fn two_pools_with_their_own_hub_selectors_each_get_their_hubs_alert() {
    let o = replay_with(TWO_POOLS);
    let mut both = vec![hub_renamed::RESEARCH_HUB, hub_renamed::TEACHING_HUB];
    both.sort();
    assert_eq!(fired(&o, "HubCPUHigh"), both);
    assert_eq!(node_alerts(&o), 0);

    // The teaching pool's selector decides for the pods on its nodes: one
    // that matches nothing there leaves its hub unwatched, even though the
    // file's default selector would match it (one owner per pod).
    let o = replay_with(&TWO_POOLS.replace("'=~hub-.*'", "'=~nothing-.*'"));
    assert_eq!(fired(&o, "HubCPUHigh"), [hub_renamed::RESEARCH_HUB]);

    // A pool's threshold applies to its hub only: research's at 5 cores
    // silences the overload; teaching keeps its 0.1.
    let o = replay_with(&format!(
        "{TWO_POOLS}      thresholds:\n        HubCPUHigh: {{value_above: 5}}\n"
    ));
    assert_eq!(fired(&o, "HubCPUHigh"), [hub_renamed::TEACHING_HUB]);

    // The hub's own trouble is never counted against its node, so a node
    // threshold is shown on `network-loss` (one node of `default-pool`
    // loses pod networking): the pool's NodeUnhealthy at 0.3 alerts on it
    // earlier than the rule file's 0.8, and a pool matching no node changes
    // nothing.
    let first_node_alert = |o: &Outcome| {
        o.notifications
            .iter()
            .filter(|n| n.alert.scope == "node" && n.status == AlertState::Firing)
            .filter_map(|n| n.alert.fired_at)
            .min()
            .expect("a node alert")
    };
    let pool = |p: &str| {
        format!(
            "governor:\n  pools:\n    - name: p\n      selector: {{pool: [{p}]}}\n      thresholds:\n        NodeUnhealthy: {{score_above: 0.3}}\n"
        )
    };
    let shipped = first_node_alert(&replay_scenario("network-loss", ""));
    let lower = first_node_alert(&replay_scenario("network-loss", &pool("default-pool")));
    let elsewhere = first_node_alert(&replay_scenario("network-loss", &pool("no-such-pool")));
    assert!(lower < shipped, "{lower:?} {shipped:?}");
    assert_eq!(elsewhere, shipped);
}
