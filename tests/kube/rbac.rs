//! Least privilege: the shipped `deploy/base/rbac.yaml` grants what
//! nodewatch needs and nothing else, the fake API server enforces it (the
//! live, leader and fault tests all run under it), and a request outside
//! it is refused with 403, reported, and not fatal: the agent keeps
//! scoring.

use nodewatch_testkit::fake_apiserver;

use fake_apiserver::rbac::{Attributes, Rbac, User};
use fake_apiserver::{harness, FakeApiServer, Options};
use nodewatch::catalog::Catalog;
use nodewatch::live::NoMetrics;
use std::sync::Arc;
use std::time::Duration;

fn attrs(verb: &str, group: &str, resource: &str, namespace: &str, name: &str) -> Attributes {
    Attributes {
        verb: verb.into(),
        group: group.into(),
        resource: resource.into(),
        namespace: namespace.into(),
        name: name.into(),
    }
}

#[test]
fn shipped_rbac_grants_exactly_what_nodewatch_needs() {
    let rbac = Rbac::parse(&std::fs::read_to_string(fake_apiserver::rbac_path()).unwrap()).unwrap();
    let sa = User::service_account("nodewatch", "nodewatch");
    let allowed = [
        attrs("list", "", "events", "", ""),
        attrs("watch", "", "events", "", ""),
        attrs("create", "", "events", "default", ""),
        attrs("list", "", "pods", "", ""),
        attrs("watch", "", "pods", "", ""),
        attrs("list", "", "nodes", "", ""),
        attrs("watch", "", "nodes", "", ""),
        attrs("get", "", "nodes", "", "n1"),
        attrs("patch", "", "nodes", "", "n1"),
        // The opt-in NodeCondition (`kubernetes.condition`).
        attrs("get", "", "nodes/status", "", "n1"),
        attrs("patch", "", "nodes/status", "", "n1"),
        attrs("create", "coordination.k8s.io", "leases", "nodewatch", ""),
        // The opt-in audit log (`kubernetes.audit`).
        attrs("create", "", "configmaps", "nodewatch", ""),
        attrs("get", "", "configmaps", "nodewatch", "nodewatch-audit"),
        attrs("update", "", "configmaps", "nodewatch", "nodewatch-audit"),
        attrs(
            "get",
            "coordination.k8s.io",
            "leases",
            "nodewatch",
            "nodewatch",
        ),
        attrs(
            "update",
            "coordination.k8s.io",
            "leases",
            "nodewatch",
            "nodewatch",
        ),
    ];
    for a in &allowed {
        assert!(rbac.allows(&sa, a), "should allow {a:?}");
    }
    let refused = [
        attrs("delete", "", "nodes", "", "n1"),
        attrs("update", "", "nodes", "", "n1"),
        attrs("update", "", "nodes/status", "", "n1"),
        attrs("get", "", "pods", "prod", "p"),
        attrs("delete", "", "pods", "prod", "p"),
        // Draining needs deploy/components/drain on top.
        attrs("create", "", "pods/eviction", "prod", "p"),
        attrs("list", "", "secrets", "", ""),
        attrs("get", "", "configmaps", "nodewatch", "other"),
        attrs("update", "", "configmaps", "kube-system", "nodewatch-audit"),
        attrs("get", "", "secrets", "nodewatch", "token"),
        attrs("create", "events.k8s.io", "events", "default", ""),
        attrs(
            "update",
            "coordination.k8s.io",
            "leases",
            "nodewatch",
            "other",
        ),
        attrs(
            "get",
            "coordination.k8s.io",
            "leases",
            "kube-system",
            "nodewatch",
        ),
        attrs("create", "coordination.k8s.io", "leases", "kube-system", ""),
        attrs(
            "delete",
            "coordination.k8s.io",
            "leases",
            "nodewatch",
            "nodewatch",
        ),
    ];
    for a in &refused {
        assert!(!rbac.allows(&sa, a), "should refuse {a:?}");
    }
    let other = User::service_account("default", "default");
    assert!(
        !rbac.allows(&other, &allowed[0]),
        "only nodewatch's ServiceAccount is bound"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_outside_rbac_is_refused_and_reported_not_fatal() {
    let sc = harness::binder();
    let server = FakeApiServer::start(Options::default()).await;
    server.load_scenario(&sc);
    let dir = tempfile::tempdir().unwrap();

    // Over the wire: something nodewatch never needs.
    let client = server.client(dir.path()).await;
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> = kube::Api::all(client);
    match secrets.list(&Default::default()).await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 403, "{s:?}"),
        other => panic!("listing secrets must be forbidden, got {other:?}"),
    }

    // A misconfigured lease namespace: the Role does not cover it.
    let mut opts = harness::options(&sc, 15);
    opts.kube.lease.namespace = "kube-system".into();
    let mut a = harness::start(
        &server,
        dir.path(),
        Arc::new(Catalog::builtin()),
        NoMetrics,
        opts,
        "replica-a",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut at = sc.meta.start;
    for _ in 0..20 {
        harness::tick(&server, &mut a, at).await;
        at = at.add(sc.meta.step);
    }
    let (errors, forbidden, last) = a.leader().errors();
    assert!(
        errors >= 1 && forbidden >= 1,
        "lease refusals counted: {errors} {forbidden}"
    );
    assert!(
        last.unwrap_or_default().contains("403"),
        "the error names the refusal"
    );
    assert!(
        !a.leader().is_leader(),
        "a replica that cannot hold the lease never acts"
    );
    let snap = a.snapshot();
    assert!(
        snap.stats.source_errors["kubernetes/forbidden"] >= 1,
        "reported in /metrics"
    );
    assert_eq!(snap.stats.ticks, 20, "scoring went on");
    assert!(!snap.nodes.is_empty(), "nodes scored");
    let refused: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.status == 403)
        .collect();
    assert!(
        refused
            .iter()
            .any(|r| r.path.contains("/namespaces/kube-system/leases")),
        "{refused:?}"
    );
    a.shutdown().await;
}
