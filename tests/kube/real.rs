//! The shipped manifests and RBAC against a real kube-apiserver (v1.37.2,
//! with etcd; `tests/testkit/src/kube_real.rs`), not the fake:
//!
//! - every kustomization in `deploy/` passes `kubectl apply --server-side
//!   --dry-run=server` (schema, strict field validation, admission
//!   including Pod Security `restricted` on the pod template, with no
//!   warning), and `deploy/base` really applied stores every object with
//!   the rendered content;
//! - least privilege: nodewatch's ServiceAccount, with a token from the
//!   TokenRequest API, is allowed by the real RBAC authorizer exactly what
//!   nodewatch needs and answered 403 for anything else.

use nodewatch_testkit::deploy;
use nodewatch_testkit::kube_real;

use deploy::{render, Rendered, KUSTOMIZATIONS};
use kube_real::{kubectl_with, ControlPlane};
use serde_json::{json, Value};
use std::path::Path;

/// Rendered objects as one `List`, for `kubectl ... -f -`.
fn list(objects: &[Value]) -> String {
    json!({"apiVersion": "v1", "kind": "List", "items": objects}).to_string()
}

/// CRDs of the kinds an overlay uses that kube-apiserver does not serve
/// (the Prometheus Operator's). Their schema accepts anything: for these
/// kinds the real server checks only apiVersion, kind and metadata.
fn foreign_kinds_crds(r: &Rendered) -> Vec<Value> {
    let mut crds = Vec::new();
    for o in &r.objects {
        let api = o["apiVersion"].as_str().unwrap_or_default();
        let Some(("monitoring.coreos.com", version)) = api.split_once('/') else {
            continue;
        };
        let kind = o["kind"].as_str().expect("kind");
        let plural = format!("{}s", kind.to_lowercase());
        crds.push(json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": format!("{plural}.monitoring.coreos.com")},
            "spec": {
                "group": "monitoring.coreos.com",
                "scope": "Namespaced",
                "names": {"kind": kind, "plural": plural, "singular": kind.to_lowercase(), "listKind": format!("{kind}List")},
                "versions": [{"name": version, "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}],
            }
        }));
    }
    crds
}

/// Asserts every field of `want` is in `got` with the same value (the
/// server adds defaults, status and metadata; it must not change or drop
/// what was applied). `path` names the place in failure messages.
fn assert_subset(want: &Value, got: &Value, path: &str) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, v) in w {
                let sub = format!("{path}.{k}");
                match g.get(k) {
                    Some(g) => assert_subset(v, g, &sub),
                    // Go's `omitempty` drops zero values on the way out.
                    None => assert!(is_zero(v), "{sub} missing on the server"),
                }
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            assert_eq!(w.len(), g.len(), "{path}: list length");
            for (i, (w, g)) in w.iter().zip(g).enumerate() {
                assert_subset(w, g, &format!("{path}[{i}]"));
            }
        }
        _ => assert_eq!(want, got, "{path}"),
    }
}

/// A value Go's `omitempty` leaves out.
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

#[test]
fn every_kustomization_is_accepted_and_base_is_stored_as_rendered() {
    let cp = ControlPlane::start();
    let base = render("deploy/base");
    // A server dry run cannot create the namespace the other objects go
    // into, so it exists first, as a user's earlier apply would leave it.
    let ns = base.get("Namespace", "nodewatch");
    cp.kubectl_ok(
        &["apply", "--server-side", "-f", "-"],
        Some(&list(std::slice::from_ref(ns))),
    );

    for dir in KUSTOMIZATIONS {
        let r = render(dir);
        let crds = foreign_kinds_crds(&r);
        if !crds.is_empty() {
            cp.kubectl_ok(&["apply", "--server-side", "-f", "-"], Some(&list(&crds)));
            cp.kubectl_ok(
                &[
                    "wait",
                    "--for=condition=Established",
                    "--timeout=60s",
                    "-f",
                    "-",
                ],
                Some(&list(&crds)),
            );
        }
        let out = cp.kubectl(
            &["apply", "--server-side", "--dry-run=server", "-f", "-"],
            Some(&list(&r.objects)),
        );
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            out.status.success(),
            "{dir}: the real API server refused the manifests:\n{stdout}{stderr}"
        );
        assert!(
            !stderr.contains("Warning"),
            "{dir}: the API server warned (deprecated API, Pod Security, …):\n{stderr}"
        );
        let accepted = stdout
            .lines()
            .filter(|l| l.ends_with("serverside-applied (server dry run)"))
            .count();
        assert_eq!(accepted, r.objects.len(), "{dir}: every object:\n{stdout}");
    }

    // Really created: every object stored with the rendered content.
    cp.kubectl_ok(
        &["apply", "--server-side", "-f", "-"],
        Some(&list(&base.objects)),
    );
    let stored: Value = serde_json::from_str(&cp.kubectl_ok(
        &["get", "-o", "json", "-f", "-"],
        Some(&list(&base.objects)),
    ))
    .expect("JSON");
    let stored = stored["items"].as_array().expect("items");
    assert_eq!(stored.len(), base.objects.len());
    for (want, got) in base.objects.iter().zip(stored) {
        let what = format!("{} {}", want["kind"], want["metadata"]["name"]);
        assert!(got["metadata"]["uid"].is_string(), "{what} stored");
        assert_subset(want, got, &what);
    }
    // No controller-manager or kubelet runs: the Deployment is stored and
    // validated, nothing rolls it out.
    let d = cp
        .get("deployment", Some("nodewatch"), "nodewatch")
        .expect("Deployment created");
    assert_eq!(d["metadata"]["generation"], 1);
}

/// `kubectl auth can-i` as `kubeconfig`: the real authorizer's answer to a
/// SelfSubjectAccessReview.
fn can_i(kubeconfig: &Path, args: &[&str]) -> bool {
    let mut all = vec!["auth", "can-i"];
    all.extend(args);
    let out = kubectl_with(kubeconfig, &all, None);
    let answer = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        answer == "yes" || answer == "no",
        "can-i {args:?}: {answer} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    answer == "yes"
}

/// Runs `kubectl ARGS` as `kubeconfig` and asserts the server answered 403.
fn assert_forbidden(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) {
    let out = kubectl_with(kubeconfig, args, stdin);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("(Forbidden)"),
        "{args:?} must be refused with 403, got: {}{err}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn the_real_authorizer_grants_the_shipped_rbac_exactly() {
    let cp = ControlPlane::start();
    let base = render("deploy/base");
    cp.kubectl_ok(
        &["apply", "--server-side", "-f", "-"],
        Some(&list(&base.objects)),
    );
    cp.kubectl_ok(
        &["create", "-f", "-"],
        Some(r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"}}"#),
    );
    let sa = cp.service_account_kubeconfig("nodewatch", "nodewatch");

    let allowed: &[&[&str]] = &[
        &["list", "events", "-A"],
        &["watch", "events", "-A"],
        &["create", "events", "-n", "default"],
        &["list", "pods", "-A"],
        &["watch", "pods", "-A"],
        &["list", "nodes"],
        &["watch", "nodes"],
        &["get", "nodes/n1"],
        &["patch", "nodes/n1"],
        // The opt-in NodeCondition and audit log.
        &["patch", "nodes/n1", "--subresource=status"],
        &["create", "configmaps", "-n", "nodewatch"],
        &["get", "configmaps/nodewatch-audit", "-n", "nodewatch"],
        &["update", "configmaps/nodewatch-audit", "-n", "nodewatch"],
        &["create", "leases.coordination.k8s.io", "-n", "nodewatch"],
        &[
            "get",
            "leases.coordination.k8s.io/nodewatch",
            "-n",
            "nodewatch",
        ],
        &[
            "update",
            "leases.coordination.k8s.io/nodewatch",
            "-n",
            "nodewatch",
        ],
    ];
    for a in allowed {
        assert!(can_i(&sa, a), "the ServiceAccount may {a:?}");
    }
    let refused: &[&[&str]] = &[
        &["delete", "nodes/n1"],
        &["update", "nodes/n1"],
        &["update", "nodes/n1", "--subresource=status"],
        &["get", "configmaps/other", "-n", "nodewatch"],
        &["get", "pods/p", "-n", "prod"],
        &["delete", "pods/p", "-n", "prod"],
        &["create", "pods/p", "--subresource=eviction", "-n", "prod"],
        &["list", "secrets", "-A"],
        &["get", "secrets/token", "-n", "nodewatch"],
        &["create", "events.events.k8s.io", "-n", "default"],
        &[
            "update",
            "leases.coordination.k8s.io/other",
            "-n",
            "nodewatch",
        ],
        &[
            "get",
            "leases.coordination.k8s.io/nodewatch",
            "-n",
            "kube-system",
        ],
        &["create", "leases.coordination.k8s.io", "-n", "kube-system"],
        &[
            "delete",
            "leases.coordination.k8s.io/nodewatch",
            "-n",
            "nodewatch",
        ],
    ];
    for a in refused {
        assert!(!can_i(&sa, a), "the ServiceAccount must not {a:?}");
    }

    // Real requests, not only reviews: what nodewatch does works ...
    for args in [
        &["get", "nodes", "-o", "name"][..],
        &["get", "pods", "-A", "-o", "name"],
        &["get", "events", "-A", "-o", "name"],
        &["get", "lease", "nodewatch", "-n", "nodewatch", "-o", "name"],
    ] {
        kube_real::ok(kubectl_with(&sa, args, None), args);
    }
    let cordon = [
        "patch",
        "node",
        "n1",
        "-p",
        r#"{"spec":{"unschedulable":true}}"#,
    ];
    kube_real::ok(kubectl_with(&sa, &cordon, None), &cordon);
    let event = r#"{"apiVersion":"v1","kind":"Event","metadata":{"name":"n1.test","namespace":"default"},
        "involvedObject":{"apiVersion":"v1","kind":"Node","name":"n1"},"reason":"Test","message":"m","type":"Normal"}"#;
    let create = ["create", "-f", "-"];
    kube_real::ok(kubectl_with(&sa, &create, Some(event)), &create);
    // ... and the rest is answered 403.
    assert_forbidden(&sa, &["delete", "node", "n1"], None);
    assert_forbidden(&sa, &["get", "secrets", "-A"], None);
    assert_forbidden(
        &sa,
        &[
            "patch",
            "pod",
            "p",
            "-n",
            "prod",
            "--subresource=eviction",
            "-p",
            "{}",
        ],
        None,
    );
    assert_forbidden(&sa, &["get", "configmap", "other", "-n", "nodewatch"], None);
    assert_forbidden(
        &sa,
        &["get", "lease", "nodewatch", "-n", "kube-system"],
        None,
    );
    // Only nodewatch's ServiceAccount is bound. (No controller-manager
    // creates `default` ServiceAccounts here: make one.)
    cp.kubectl_ok(
        &["create", "serviceaccount", "other", "-n", "default"],
        None,
    );
    let other = cp.service_account_kubeconfig("default", "other");
    assert_forbidden(&other, &["get", "nodes"], None);
}
