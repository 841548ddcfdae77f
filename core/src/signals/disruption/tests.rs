//! The expected-disruption rule at simulated time, on Node objects as the
//! API server sends them (the same JSON the scenario reader and the live
//! watcher parse).

use super::*;
use crate::model::{Cordoned, Cordons};
use crate::signals::NodeTable;

fn t(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

fn node(json: &str) -> k8s::Node {
    serde_json::from_str(json).unwrap()
}

const T0: &str = "2024-03-05T09:00:00Z";
const WARM: Duration = Duration::mins(10);

fn table(nodes: &[k8s::Node], at: &str) -> NodeTable {
    let mut tab = NodeTable::default();
    tab.apply_list(nodes, "pool", &[], t(at));
    tab
}

#[test]
fn the_autoscalers_taint_holds_a_node() {
    let n = node(
        r#"{"metadata":{"name":"a","creationTimestamp":"2024-03-01T00:00:00Z"},
        "spec":{"taints":[{"key":"ToBeDeletedByClusterAutoscaler","value":"1709629200","effect":"NoSchedule"}]}}"#,
    );
    let tab = table(&[n], T0);
    let d = tab.held(0, &Cordons::default(), t(T0), WARM).expect("held");
    assert_eq!(d, Disruption::ScaleDown);
    assert!(d.leaving());
    assert!(d.to_string().contains(AUTOSCALER_TAINT), "{d}");
}

#[test]
fn termination_notices_hold_a_node_and_other_taints_do_not() {
    for key in TERMINATION_TAINTS {
        let n = node(&format!(
            r#"{{"metadata":{{"name":"a"}},"spec":{{"taints":[{{"key":"{key}","effect":"NoSchedule"}}]}}}}"#
        ));
        let tab = table(&[n], T0);
        assert_eq!(
            tab.held(0, &Cordons::default(), t(T0), WARM),
            Some(Disruption::Termination(key.to_string()))
        );
    }
    // A dedicated pool's taint and the autoscaler's soft "candidate" taint
    // are not disruption.
    let n = node(
        r#"{"metadata":{"name":"a"},"spec":{"taints":[{"key":"example.com/gpu","effect":"NoSchedule"},
        {"key":"DeletionCandidateOfClusterAutoscaler","value":"1709629200","effect":"PreferNoSchedule"}]}}"#,
    );
    assert_eq!(
        table(&[n], T0).held(0, &Cordons::default(), t(T0), WARM),
        None
    );
}

#[test]
fn someone_elses_cordon_holds_a_node_and_nodewatchs_own_does_not() {
    let n = node(r#"{"metadata":{"name":"a"},"spec":{"unschedulable":true}}"#);
    let mut tab = table(std::slice::from_ref(&n), T0);
    assert_eq!(
        tab.held(0, &Cordons::default(), t(T0), WARM),
        Some(Disruption::CordonedByOther)
    );
    let mut ours = Cordons::default();
    ours.ours.insert("a".into(), Cordoned::default());
    assert_eq!(
        tab.held(0, &ours, t(T0), WARM),
        None,
        "nodewatch's own cordon"
    );
    // nodewatch uncordoned it and the list has not shown that yet.
    let mut written = Cordons::default();
    written.written.insert("a".into(), false);
    assert_eq!(
        tab.held(0, &written, t(T0), WARM),
        None,
        "uncordoned by nodewatch"
    );
    // Uncordoned again: nothing holds it.
    let plain = node(r#"{"metadata":{"name":"a"}}"#);
    tab.apply_list(&[plain], "pool", &[], t(T0));
    assert_eq!(tab.held(0, &Cordons::default(), t(T0), WARM), None);
}

#[test]
fn a_new_node_warms_up_for_the_warm_up_and_then_is_judged() {
    let n = node(r#"{"metadata":{"name":"a","creationTimestamp":"2024-03-05T09:00:00Z"}}"#);
    let tab = table(&[n], T0);
    let until = t("2024-03-05T09:10:00Z");
    assert_eq!(
        tab.held(0, &Cordons::default(), t("2024-03-05T09:00:00Z"), WARM),
        Some(Disruption::WarmUp { until })
    );
    let d = tab
        .held(0, &Cordons::default(), t("2024-03-05T09:09:30Z"), WARM)
        .unwrap();
    assert!(!d.leaving());
    assert!(d.to_string().contains("warm-up"), "{d}");
    assert_eq!(
        tab.held(0, &Cordons::default(), until, WARM),
        None,
        "judged from the end on"
    );
    assert_eq!(
        tab.held(0, &Cordons::default(), t("2024-03-05T08:59:00Z"), WARM),
        None
    );
    // A node that has been up for days is never in warm-up.
    let old = node(r#"{"metadata":{"name":"b","creationTimestamp":"2024-03-01T00:00:00Z"}}"#);
    assert_eq!(
        table(&[old], T0).held(0, &Cordons::default(), t(T0), WARM),
        None
    );
}

#[test]
fn a_new_kubelet_version_starts_a_second_warm_up() {
    let v = |ver: &str| {
        node(&format!(
            r#"{{"metadata":{{"name":"a","creationTimestamp":"2024-03-01T00:00:00Z"}},
            "status":{{"nodeInfo":{{"kubeletVersion":"{ver}"}}}}}}"#
        ))
    };
    let mut tab = table(&[v("v1.28.7")], T0);
    assert_eq!(tab.held(0, &Cordons::default(), t(T0), WARM), None);
    tab.apply_list(&[v("v1.28.7")], "pool", &[], t("2024-03-05T09:05:00Z"));
    assert_eq!(
        tab.held(0, &Cordons::default(), t("2024-03-05T09:05:00Z"), WARM),
        None,
        "same version"
    );
    tab.apply_list(&[v("v1.29.2")], "pool", &[], t("2024-03-05T09:20:00Z"));
    assert!(matches!(
        tab.held(0, &Cordons::default(), t("2024-03-05T09:25:00Z"), WARM),
        Some(Disruption::WarmUp { .. })
    ));
    assert_eq!(
        tab.held(0, &Cordons::default(), t("2024-03-05T09:30:00Z"), WARM),
        None
    );
}

#[test]
fn an_upgrade_is_mixed_versions_and_someone_elses_cordon_in_one_pool() {
    let up = upgrading_pools(
        [
            ("blue", "v1.28.7", false),
            ("blue", "v1.29.2", false),
            ("blue", "v1.28.7", true),
            ("green", "v1.28.7", true),
            ("green", "v1.28.7", false),
            ("red", "v1.28.7", false),
            ("red", "v1.29.2", false),
        ]
        .into_iter(),
    );
    assert_eq!(up.keys().collect::<Vec<_>>(), ["blue"], "{up:?}");
    let why = &up["blue"];
    assert!(why.contains("v1.28.7 and v1.29.2"), "{why}");
    assert!(why.contains("1 node(s) cordoned"), "{why}");
}
