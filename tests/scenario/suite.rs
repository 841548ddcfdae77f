//! The scenario suite against the brief: every faulty node detected, no
//! false cordon anywhere, no false node alert on the benign scenarios, the
//! cluster-wide overload raised at cluster scope with nothing cordoned,
//! and healthy nodes without metrics reported rather than judged. The
//! 500-node and 300-node scenarios have their own test file
//! (`suite_large.rs`).

use nodewatch::catalog::Catalog;
use nodewatch::model::ActionKind;
use nodewatch::scenario::{self, suite};
use nodewatch::tools::suite::{run_builtin, SuiteReport, SuiteRow};
use std::process::Command;
use std::sync::Arc;

/// Every built-in scenario but the 500-node one.
fn small() -> Vec<String> {
    scenario::builtin_names()
        .into_iter()
        .map(|(n, _)| n.to_string())
        .filter(|n| n != suite::large_cluster::NAME)
        // 300 nodes: in `suite_large.rs`, beside the 500-node one.
        .filter(|n| n != suite::slow_leak_diurnal::NAME)
        .collect()
}

fn run(names: &[String]) -> SuiteReport {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(run_builtin(names, Arc::new(Catalog::builtin()), false))
        .unwrap()
}

fn row<'a>(r: &'a SuiteReport, name: &str) -> &'a SuiteRow {
    r.rows
        .iter()
        .find(|x| x.scenario == name)
        .unwrap_or_else(|| panic!("no row for {name}"))
}

#[test]
fn the_small_scenarios_meet_the_brief() {
    let r = run(&small());
    let table = r.table();
    assert_eq!(r.rows.len(), small().len(), "{table}");
    for x in &r.rows {
        for f in &x.faulty {
            assert!(
                f.delay_s.is_some(),
                "{}: {} missed\n{table}",
                x.scenario,
                f.node
            );
        }
        for c in &x.incidents {
            assert!(
                c.delay_s.is_some(),
                "{}: incident missed\n{table}",
                x.scenario
            );
        }
        assert_eq!(x.false_cordons, 0, "{}\n{table}", x.scenario);
    }
    for benign in [
        suite::rolling_deploy::NAME,
        suite::metrics_gone::NAME,
        suite::cluster_overload::NAME,
        suite::kubelet_restart::NAME,
        // The hub overloads; its node is not sick.
        suite::hub_renamed::NAME,
    ] {
        let x = row(&r, benign);
        assert_eq!(x.false_alerts, 0, "{benign}\n{table}");
        assert_eq!(x.cordons, 0, "{benign}\n{table}");
    }
    // The maintenance window's planned kubelet restarts are no alert; the
    // deadlocked node is alerted on and, once the window is over, cordoned.
    let mw = row(&r, suite::maintenance_window::NAME);
    assert_eq!(mw.false_alerts, 0, "{table}");
    assert_eq!(mw.cordons, 1, "{table}");
    // The overload is one cluster-level alert, and nothing else.
    let overload = row(&r, suite::cluster_overload::NAME);
    assert!(overload.report.alerts.iter().all(|a| a.scope == "cluster"));
    assert!(!overload.report.alerts.is_empty());
    // A rollout is not worth any alert at all.
    assert!(row(&r, suite::rolling_deploy::NAME)
        .report
        .alerts
        .is_empty());
    // node-problem-detector's verdict is the explanation, and the healthy
    // nodes, which have no problem series at all, are not unknown for it.
    let npd = row(&r, suite::kernel_deadlock::NAME);
    assert!(npd.missing_data.is_empty(), "{table}");
    assert!(
        npd.report
            .alerts
            .iter()
            .all(|a| a.explanation.contains("node_problem_conditions")),
        "{:?}",
        npd.report.alerts
    );
    // The nodes whose targets vanished are reported without data, and
    // they are the only ones.
    let gone = row(&r, suite::metrics_gone::NAME);
    let sc = scenario::builtin(suite::metrics_gone::NAME).unwrap();
    let expected: Vec<String> = suite::metrics_gone::NODES
        .iter()
        .map(|&i| sc.nodes[i].metadata.name.clone())
        .collect();
    let reported: Vec<&String> = gone.missing_data.keys().collect();
    assert_eq!(reported.len(), expected.len(), "{table}");
    for n in &expected {
        let signals = gone.missing_data.get(n).expect("reported");
        assert!(
            signals.iter().any(|s| s == "node_threads_ratio"),
            "{signals:?}"
        );
    }
    // cAdvisor goes quiet on the node whose container runtime died.
    let cr = row(&r, suite::crashloop_runtime::NAME);
    let dead = &cr.faulty[0].node;
    assert_eq!(
        cr.missing_data.get(dead).map(Vec::as_slice),
        Some(&["container_threads".to_string()][..]),
        "{table}"
    );
    assert_eq!(cr.missing_data.len(), 1, "{table}");
    for x in r.rows.iter().filter(|x| {
        x.scenario != suite::metrics_gone::NAME && x.scenario != suite::crashloop_runtime::NAME
    }) {
        assert!(
            x.missing_data.is_empty(),
            "{}: {:?}",
            x.scenario,
            x.missing_data
        );
    }
}

#[test]
fn generators_are_deterministic() {
    for name in [suite::network_loss::NAME, suite::rolling_deploy::NAME] {
        let a = scenario::builtin(name).unwrap();
        let b = scenario::builtin(name).unwrap();
        assert_eq!(a.meta, b.meta);
        assert_eq!(a.metrics, b.metrics, "{name}");
        let json = |s: &scenario::Scenario| serde_json::to_string(&s.events).unwrap();
        assert_eq!(json(&a), json(&b), "{name}");
        assert!(!a.meta.truth.never_cordon.is_empty());
    }
}

fn nodewatch(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_nodewatch"))
        .args(args)
        .output()
        .expect("run nodewatch");
    assert!(
        out.status.success(),
        "nodewatch {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn scenarios_are_listed_written_and_replayed_like_the_suite_says() {
    let list = nodewatch(&["scenario", "list"]);
    for (name, _) in scenario::builtin_names() {
        assert!(list.contains(name), "{name} not listed:\n{list}");
    }
    // Written to disk and replayed from it, a scenario gives what the
    // in-memory suite run gives.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("flap");
    let p = p.to_str().unwrap();
    nodewatch(&["scenario", "write", suite::flapping_node::NAME, p]);
    let replay: serde_json::Value =
        serde_json::from_str(&nodewatch(&["replay", p, "--json"])).unwrap();
    let suite: serde_json::Value =
        serde_json::from_str(&nodewatch(&["suite", suite::flapping_node::NAME, "--json"])).unwrap();
    let row = &suite["rows"][0];
    assert_eq!(
        replay["faulty_nodes"][0]["delay_s"],
        row["faulty"][0]["delay_s"]
    );
    assert_eq!(replay["false_alerts"], row["false_alerts"]);
    let table = nodewatch(&["suite", suite::network_loss::NAME]);
    assert!(table.starts_with("| scenario |"), "{table}");
}

/// A node labelled `nodewatch.io/exclude=true` is still judged and
/// alerted on, but never cordoned: the would-be cordon is a refusal that
/// says why.
#[test]
fn an_excluded_node_is_alerted_on_but_never_cordoned() {
    let mut sc = scenario::builtin(suite::network_loss::NAME).expect("built in");
    let sick = sc.meta.truth.faulty_nodes[0].node.clone();
    let node = sc
        .nodes
        .iter_mut()
        .find(|n| n.metadata.name == sick)
        .expect("the sick node is listed");
    node.metadata
        .labels
        .insert(nodewatch::k8s::EXCLUDE.into(), "true".into());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let out = rt.block_on(nodewatch::tools::replay::run(
        sc,
        Arc::new(Catalog::builtin()),
        Default::default(),
    ));
    assert!(
        out.notifications.iter().any(|n| n.alert.subject == sick),
        "still alerted on"
    );
    assert!(
        out.actions.iter().all(|a| a.kind != ActionKind::Cordon),
        "{:?}",
        out.actions
    );
    assert!(
        out.actions
            .iter()
            .any(|a| a.node == sick && a.reason.contains("nodewatch.io/exclude")),
        "{:?}",
        out.actions
    );
}

/// `kubelet-restart` is not vacuous: the two nodes really do report
/// NotReady once each (a sample and an event), which must not be enough.
#[test]
fn kubelet_restarts_show_in_the_data() {
    let sc = scenario::builtin(suite::kubelet_restart::NAME).expect("built in");
    let not_ready_samples = sc
        .metrics
        .iter()
        .filter(|f| f.name == "kube_node_status_condition")
        .flat_map(|f| &f.series)
        .filter(|s| {
            s.labels
                .iter()
                .any(|(k, v)| k == "condition" && v == "Ready")
        })
        .filter(|s| s.labels.iter().any(|(k, v)| k == "status" && v == "true"))
        .filter(|s| s.samples.iter().any(|(_, v)| *v == 0.0))
        .count();
    assert_eq!(not_ready_samples, 2);
    let events = sc
        .events
        .iter()
        .filter(|e| e.reason == "NodeNotReady")
        .count();
    assert_eq!(events, 2);
}

/// Expected disruption is not sickness: on each disruption scenario no
/// alert and no cordon touches a disrupted node, while the real fault
/// elsewhere in it is found (and cordoned where the governor allows).
#[test]
fn expected_disruption_is_not_sickness() {
    let names: Vec<String> = [
        suite::autoscaler_scale_down::NAME,
        suite::spot_preemption::NAME,
        suite::upgrade_in_progress::NAME,
        suite::nodes_joining::NAME,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let r = run(&names);
    let table = r.table();
    for name in &names {
        let x = row(&r, name);
        let sc = scenario::builtin(name).unwrap();
        assert_eq!(x.false_alerts, 0, "{name}\n{table}");
        assert_eq!(x.false_cordons, 0, "{name}\n{table}");
        assert!(x.missing_data.is_empty(), "{name}: {:?}", x.missing_data);
        assert_eq!(x.faulty.len(), 1, "{name}");
        let sick = &sc.meta.truth.faulty_nodes[0].node;
        assert!(x.faulty[0].delay_s.is_some(), "{name}: missed\n{table}");
        // Every alert is about the sick node, none about a disrupted one.
        for a in &x.report.alerts {
            assert_eq!(a.labels.get("node"), Some(sick), "{name}: {a:?}");
        }
        // The disruption really is in the data: nodes change over time.
        if name != suite::nodes_joining::NAME {
            assert!(!sc.node_changes.is_empty(), "{name}");
        }
    }
    // Outside the upgrading pool the repair goes ahead.
    assert_eq!(
        row(&r, suite::upgrade_in_progress::NAME).cordons,
        1,
        "{table}"
    );
    assert_eq!(
        row(&r, suite::autoscaler_scale_down::NAME).cordons,
        1,
        "{table}"
    );
    // The node sick from its start is found only after its warm-up.
    let joining = row(&r, suite::nodes_joining::NAME);
    let delay = joining.faulty[0].delay_s.unwrap();
    assert!(delay >= 600.0, "found during warm-up: {delay}s\n{table}");
}

/// The disruption scenarios carry what the rule reads: the autoscaler's
/// taint and deletions, termination taints, someone else's cordon and a
/// new kubelet version, written to disk and read back.
#[test]
fn disruption_scenarios_round_trip_their_node_changes() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        suite::autoscaler_scale_down::NAME,
        suite::spot_preemption::NAME,
        suite::upgrade_in_progress::NAME,
    ] {
        let sc = scenario::builtin(name).unwrap();
        let p = dir.path().join(name);
        scenario::write_dir(&sc, &p).unwrap();
        let back = scenario::read_dir(&p).unwrap();
        assert_eq!(back.node_changes, sc.node_changes, "{name}");
        let keys: Vec<&str> = sc
            .node_changes
            .iter()
            .flat_map(|c| c.object.spec.taints.iter().map(|t| t.key.as_str()))
            .collect();
        let kinds: Vec<&str> = sc.node_changes.iter().map(|c| c.kind.as_str()).collect();
        match name {
            n if n == suite::autoscaler_scale_down::NAME => {
                assert!(keys.contains(&"ToBeDeletedByClusterAutoscaler"));
                assert_eq!(kinds.iter().filter(|k| **k == "DELETED").count(), 3);
            }
            n if n == suite::spot_preemption::NAME => {
                assert!(keys.contains(&"cloud.google.com/impending-node-termination"));
                assert!(keys.contains(&"aws-node-termination-handler/spot-itn"));
            }
            _ => {
                assert!(sc.node_changes.iter().any(|c| c.object.spec.unschedulable));
                let versions: std::collections::BTreeSet<&str> = sc
                    .node_changes
                    .iter()
                    .map(|c| c.object.status.node_info.kubelet_version.as_str())
                    .collect();
                assert!(versions.contains(suite::upgrade_in_progress::VERSIONS.1));
            }
        }
    }
    // A scenario without node changes writes no nodes.jsonl.
    let p = dir.path().join("flap");
    let sc = scenario::builtin(suite::flapping_node::NAME).unwrap();
    scenario::write_dir(&sc, &p).unwrap();
    assert!(!p.join("nodes.jsonl").exists());
}

/// Mid-way through the disruption the snapshot (status page, `/api`) says
/// why each disrupted node is held; the others are not held.
#[test]
fn the_snapshot_says_why_a_node_is_held() {
    use nodewatch::collect::replay::ReplaySource;
    use nodewatch::collect::Source;
    use nodewatch::engine::{Engine, Settings};
    let cases = [
        (
            suite::autoscaler_scale_down::NAME,
            suite::autoscaler_scale_down::REMOVED[0].0,
            "09:31",
            "ToBeDeletedByClusterAutoscaler",
        ),
        (
            suite::spot_preemption::NAME,
            suite::spot_preemption::PREEMPTED[0],
            "09:20",
            "cloud.google.com/impending-node-termination",
        ),
        (
            suite::upgrade_in_progress::NAME,
            1,
            "10:38",
            "cordoned by someone else",
        ),
        (
            suite::upgrade_in_progress::NAME,
            4,
            "10:38",
            "upgrade in progress in pool default-pool",
        ),
        (suite::nodes_joining::NAME, 12, "09:05", "warm-up"),
    ];
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for (name, n, hm, why) in cases {
        let sc = scenario::builtin(name).unwrap();
        let node = sc.nodes[n].metadata.name.clone();
        let until =
            nodewatch::time::Timestamp::parse_rfc3339(&format!("2024-03-05T{hm}:00Z")).unwrap();
        let catalog = Arc::new(Catalog::builtin());
        let mut engine = Engine::new(catalog.clone(), Settings::default());
        let (mut at, step) = (sc.meta.start, sc.meta.step);
        let mut src = ReplaySource::new(sc);
        while at <= until {
            let obs = rt.block_on(src.observe(at, &catalog));
            engine.tick(obs);
            at = at.add(step);
        }
        let snap = engine.snapshot();
        let view = snap.nodes.iter().find(|v| v.name == node).expect("listed");
        let held = view.held.as_deref().unwrap_or_default();
        assert!(held.contains(why), "{name} {node}: {held:?}");
        let others = snap.nodes.iter().filter(|v| v.held.is_none()).count();
        // At least the 4 batch-pool nodes in the upgrade, most nodes elsewhere.
        assert!(others >= 4, "{name}: the other nodes are not held");
    }
}

/// A hand-edited `nodes.jsonl` with a mistake is refused with its file and
/// line: an unknown watch event type, a change earlier than the one before.
#[test]
fn a_bad_nodes_jsonl_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let sc = scenario::builtin(suite::spot_preemption::NAME).unwrap();
    scenario::write_dir(&sc, dir.path()).unwrap();
    let path = dir.path().join("nodes.jsonl");
    let good = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = good.lines().collect();
    assert!(lines.len() >= 3, "{good}");
    let bad_type = good.replacen("\"MODIFIED\"", "\"BOOKMARKED\"", 1);
    std::fs::write(&path, &bad_type).unwrap();
    let e = scenario::read_dir(dir.path()).unwrap_err().to_string();
    assert!(e.contains("nodes.jsonl:1: type \"BOOKMARKED\""), "{e}");
    let swapped = format!("{}\n\n{}\n{}\n", lines[1], lines[0], lines[2..].join("\n"));
    std::fs::write(&path, swapped).unwrap();
    let e = scenario::read_dir(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("nodes.jsonl:3: earlier than the line before"),
        "{e}"
    );
    std::fs::write(&path, "{\"at\": 1}\n").unwrap();
    let e = scenario::read_dir(dir.path()).unwrap_err().to_string();
    assert!(e.contains("nodes.jsonl:1: invalid node watch event"), "{e}");
}

/// The disruption scenarios are not vacuous: with what tells the
/// disruption stripped (no taints, no cordons in `nodes.jsonl`, no
/// warm-up), the same data raises false node alerts on every one.
#[test]
fn without_the_rule_the_disruption_would_be_alerted() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for name in [
        suite::autoscaler_scale_down::NAME,
        suite::spot_preemption::NAME,
        suite::upgrade_in_progress::NAME,
        suite::nodes_joining::NAME,
    ] {
        let mut sc = scenario::builtin(name).unwrap();
        for c in &mut sc.node_changes {
            c.object.spec.taints.clear();
            c.object.spec.unschedulable = false;
        }
        let mut opts = nodewatch::tools::replay::Options::default();
        opts.engine.warm_up = nodewatch::time::Duration(0);
        let out = rt.block_on(nodewatch::tools::replay::run(
            sc,
            Arc::new(Catalog::builtin()),
            opts,
        ));
        let report = out.report();
        assert!(report.false_alerts > 0, "{name}: {:?}", report.alerts);
    }
}

/// `maintenance-window`: the deadlocked node is alerted on inside the
/// window, its cordon is held ("held: maintenance window …") until the
/// window ends at 10:00 UTC, then it is cordoned. Without the window the
/// same data cordons inside it, so the window is what held it.
#[test]
fn a_maintenance_window_holds_the_cordon_until_it_ends() {
    use nodewatch::time::Timestamp;
    let t = |s: &str| Timestamp::parse_rfc3339(s).unwrap();
    let (open, close) = (t("2024-03-05T08:00:00Z"), t("2024-03-05T10:00:00Z"));
    let sc = scenario::builtin(suite::maintenance_window::NAME).expect("built in");
    assert_eq!(sc.meta.maintenance_windows.len(), 1);
    let sick = sc.meta.truth.faulty_nodes[0].node.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let replay = |sc: scenario::Scenario| {
        rt.block_on(nodewatch::tools::replay::run(
            sc,
            Arc::new(Catalog::builtin()),
            Default::default(),
        ))
    };
    let mut without = sc.clone();
    without.meta.maintenance_windows.clear();
    let out = replay(sc);
    let fired = out
        .notifications
        .iter()
        .find(|n| n.alert.subject == sick)
        .and_then(|n| n.alert.fired_at)
        .expect("the sick node is alerted on");
    assert!(open <= fired && fired < close, "fired at {fired}");
    let cordons: Vec<_> = out
        .actions
        .iter()
        .filter(|a| a.kind == ActionKind::Cordon)
        .collect();
    assert_eq!(cordons.len(), 1, "{:?}", out.actions);
    assert_eq!(cordons[0].node, sick);
    assert_eq!(cordons[0].at, close, "cordoned as the window ends");
    let held: Vec<_> = out
        .actions
        .iter()
        .filter(|a| a.kind == ActionKind::Refused)
        .collect();
    assert!(!held.is_empty());
    for a in &held {
        assert!(a.at < close, "{a:?}");
        assert!(
            a.reason.contains(
                "held: maintenance window weekly-maintenance until 2024-03-05T10:00:00Z \
                 (kubelet config rollout CHG-1042)"
            ),
            "{a:?}"
        );
    }
    let report = out.report();
    assert_eq!(report.false_cordons, 0);
    assert_eq!(report.false_alerts, 0);
    // Written to disk, the window travels in scenario.yaml and replays the same.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("mw");
    let p = p.to_str().unwrap();
    nodewatch(&["scenario", "write", suite::maintenance_window::NAME, p]);
    let yaml = std::fs::read_to_string(dir.path().join("mw/scenario.yaml")).unwrap();
    assert!(yaml.contains("timezone: Europe/Berlin"), "{yaml}");
    let json: serde_json::Value =
        serde_json::from_str(&nodewatch(&["replay", p, "--json"])).unwrap();
    assert_eq!(
        json["faulty_nodes"][0]["cordoned_at"], "2024-03-05T10:00:00Z",
        "{json}"
    );
    // The same data without the window: cordoned inside it.
    let out = replay(without);
    let cordon = out
        .actions
        .iter()
        .find(|a| a.kind == ActionKind::Cordon)
        .expect("cordoned");
    assert!(cordon.at < close, "{cordon:?}");
}

/// A workload's own trouble is not its node's: the runaway hub raises its
/// own alerts and nothing on its node; a crash-looping release raises a
/// cluster alert and nothing on any node, while the node whose runtime
/// died is found before it goes NotReady; autoscaling and kubelet restarts
/// together are no alert at all.
#[test]
fn workload_trouble_is_not_blamed_on_nodes() {
    let names = [
        suite::runaway_hub::NAME,
        suite::crashloop_runtime::NAME,
        suite::autoscaler_and_kubelet::NAME,
    ]
    .map(String::from);
    let r = run(&names);
    let table = r.table();
    for n in &names {
        let x = row(&r, n);
        assert_eq!(x.false_alerts, 0, "{n}\n{table}");
        assert_eq!(x.false_cordons, 0, "{n}\n{table}");
        assert_eq!(x.cluster_alerts_outside, 0, "{n}\n{table}");
    }

    let hub = row(&r, suite::runaway_hub::NAME);
    assert_eq!(hub.cordons, 0, "{table}");
    assert!(hub.report.alerts.iter().all(|a| a.scope == "workload"));
    for name in ["HubThreadsClimbing", "HubCPUHigh"] {
        assert!(
            hub.report.alerts.iter().any(|a| a.name == name),
            "{name} fired\n{table}"
        );
    }
    assert!(hub.incidents[0].delay_s.is_some(), "{table}");

    let cr = row(&r, suite::crashloop_runtime::NAME);
    // Found within minutes of containerd dying, well before NotReady
    // (34 min later).
    let found = cr.faulty[0].delay_s.expect("runtime node found");
    assert!(found < 15.0 * 60.0, "{table}");
    assert!(cr.incidents[0].delay_s.is_some(), "{table}");
    let node = &cr.faulty[0].node;
    assert!(cr
        .report
        .alerts
        .iter()
        .filter(|a| a.scope == "node")
        .all(|a| a.labels.get("node") == Some(node)));
    assert!(cr.report.alerts.iter().any(|a| a.scope == "cluster"
        && a.explanation.contains("crash_looping_pods")
        && a.explanation.contains("logging/fluent-bit-*")));

    let quiet = row(&r, suite::autoscaler_and_kubelet::NAME);
    assert!(quiet.report.alerts.is_empty(), "{table}");
    assert_eq!(quiet.cordons, 0, "{table}");
}

/// A zone that is a minority of the cluster fails at once: one cluster
/// alert naming the zone, none of its nodes alerted or cordoned.
#[test]
fn a_failed_minority_zone_is_one_common_cause_naming_the_zone() {
    let names = [suite::zone_outage::NAME.to_string()];
    let r = run(&names);
    let table = r.table();
    let z = row(&r, suite::zone_outage::NAME);
    assert_eq!(z.false_alerts, 0, "{table}");
    assert_eq!(z.cordons, 0, "{table}");
    assert!(z.incidents[0].delay_s.is_some(), "{table}");
    assert!(
        z.report.alerts.iter().all(|a| a.scope == "cluster"),
        "{table}"
    );
    let cluster = z
        .report
        .alerts
        .iter()
        .find(|a| a.scope == "cluster")
        .expect("a cluster alert");
    assert!(
        cluster.explanation.contains("zone ") && cluster.explanation.contains("(4 of its 4 nodes)"),
        "{}",
        cluster.explanation
    );
}
