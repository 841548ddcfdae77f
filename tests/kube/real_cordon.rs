//! Cordon and uncordon against a real kube-apiserver (v1.37.2 with etcd;
//! `tests/testkit/src/kube_real.rs`), as nodewatch's own ServiceAccount with a
//! TokenRequest token and only the shipped RBAC, through kube-rs and rustls
//! exactly as `nodewatch run` connects: the strategic-merge patches, the
//! resourceVersion precondition, the annotations, the optional taint and
//! the Events are accepted by the real server and do what they say, a
//! node's other taints survive both, and a human's cordon is left alone.
//! (Drain, NodeCondition and audit log: `kube_real_remedy.rs`.)

use nodewatch_testkit::kube_real;
use nodewatch_testkit::kube_real_scenario;

use kube_real::ControlPlane;
use kube_real_scenario::{self as play, event_reasons, request};
use nodewatch::act::Cordoner;
use nodewatch::live::{KubeCordoner, LeaderHandle, Settings, CORDONED_BY, TAINT_KEY};
use nodewatch::time::Timestamp;
use serde_json::{json, Value};

/// A taint someone else put on the node (a GPU pool's, say).
const OTHER_TAINT: &str = "example.com/dedicated";

fn taint_keys(node: &Value) -> Vec<String> {
    let mut keys: Vec<String> = node["spec"]["taints"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| t["key"].as_str().expect("taint key").to_string())
        .collect();
    keys.sort();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cordon_and_uncordon_land_on_the_real_server() {
    let cp = ControlPlane::start();
    play::apply_base(&cp);
    for n in ["n1", "n2"] {
        let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": n},
            "spec": {"taints": [{"key": OTHER_TAINT, "value": "gpu", "effect": "NoSchedule"}]}});
        cp.kubectl_ok(&["create", "-f", "-"], Some(&node.to_string()));
    }
    // The real server's admission adds node.kubernetes.io/not-ready to a
    // new node; whatever is there must survive nodewatch's writes.
    let before = taint_keys(&cp.get("node", None, "n1").expect("n1"));
    assert!(before.contains(&OTHER_TAINT.to_string()), "{before:?}");

    let client = play::client(cp.service_account_kubeconfig("nodewatch", "nodewatch")).await;
    let settings = Settings {
        taint: true,
        ..Default::default()
    };
    let mut c = KubeCordoner::new(
        client.clone(),
        "replica-a",
        "default",
        LeaderHandle::always(),
        &settings,
    );
    let at = Timestamp::parse_rfc3339("2026-12-04T10:00:00Z").unwrap();

    c.cordon("n1", &request("n1"), at).await.expect("cordon");
    let n1 = cp.get("node", None, "n1").expect("n1");
    assert_eq!(n1["spec"]["unschedulable"], true);
    assert_eq!(n1["metadata"]["annotations"][CORDONED_BY], "replica-a");
    assert_eq!(
        n1["metadata"]["annotations"]["nodewatch.io/rule"],
        "NodeUnhealthy"
    );
    let mut want = before.clone();
    want.push(TAINT_KEY.to_string());
    want.sort();
    assert_eq!(
        taint_keys(&n1),
        want,
        "nodewatch's taint added, the others kept"
    );
    assert_eq!(event_reasons(&cp, "n1"), ["NodewatchCordon"]);
    assert_eq!(c.stats.events_failed, 0);

    c.uncordon("n1", at).await.expect("uncordon");
    let n1 = cp.get("node", None, "n1").expect("n1");
    assert!(n1["spec"].get("unschedulable").is_none(), "{n1}");
    let left: Vec<_> = n1["metadata"]["annotations"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.starts_with("nodewatch.io/"))
        .collect();
    assert!(left.is_empty(), "nodewatch's annotations removed: {left:?}");
    assert_eq!(taint_keys(&n1), before, "only nodewatch's taint removed");
    let mut reasons = event_reasons(&cp, "n1");
    reasons.sort();
    assert_eq!(reasons, ["NodewatchCordon", "NodewatchUncordon"]);

    // A human's cordon is left alone, and never undone.
    cp.kubectl_ok(&["cordon", "n2"], None);
    let err = c
        .cordon("n2", &request("n2"), at)
        .await
        .expect_err("a human's cordon");
    assert!(err.to_string().contains("left alone"), "{err}");
    assert!(c.uncordon("n2", at).await.is_err());
    let n2 = cp.get("node", None, "n2").expect("n2");
    assert_eq!(n2["spec"]["unschedulable"], true);
    assert!(n2["metadata"]["annotations"]
        .as_object()
        .is_none_or(|a| !a.contains_key(CORDONED_BY)));
    assert!(event_reasons(&cp, "n2").is_empty());
    assert_eq!(c.stats.forbidden, 0, "the shipped RBAC was enough");
    assert_eq!(c.stats.writes, 2);
}
