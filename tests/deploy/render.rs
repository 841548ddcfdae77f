//! The kustomizations in `deploy/` render, and what they render is what
//! the project tests: every object parses into its k8s-openapi type with no
//! field lost (a misspelt field would be dropped silently by `kubectl
//! apply`), the RBAC is exactly `deploy/base/rbac.yaml` (what the fake API
//! server enforces in the Kubernetes tests), and the rules ConfigMap is the
//! files of `rules/`, byte for byte.

use nodewatch_testkit::deploy;

use deploy::{render, root, Rendered, KUSTOMIZATIONS};
use k8s_openapi::api::{apps, coordination, core, networking, policy, rbac, scheduling};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Parses `v` as `T` and back: anything the type does not know is lost on
/// the way, and shows as a difference.
fn round_trip<T: DeserializeOwned + Serialize>(v: &Value) -> Result<(), String> {
    let typed: T = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
    let back = serde_json::to_value(&typed).map_err(|e| e.to_string())?;
    if &back == v {
        Ok(())
    } else {
        Err(format!(
            "fields lost or changed by the type:\nrendered: {v:#}\ntyped:    {back:#}"
        ))
    }
}

/// Checks one rendered object against its type (or, for the Prometheus
/// Operator's CRDs, which k8s-openapi does not have, their required shape).
fn check_object(v: &Value) -> Result<(), String> {
    let api = v["apiVersion"].as_str().unwrap_or("");
    let kind = v["kind"].as_str().unwrap_or("");
    match (api, kind) {
        ("v1", "Namespace") => round_trip::<core::v1::Namespace>(v),
        ("v1", "ServiceAccount") => round_trip::<core::v1::ServiceAccount>(v),
        ("v1", "ConfigMap") => round_trip::<core::v1::ConfigMap>(v),
        ("v1", "Secret") => round_trip::<core::v1::Secret>(v),
        ("v1", "Service") => round_trip::<core::v1::Service>(v),
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => round_trip::<rbac::v1::ClusterRole>(v),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
            round_trip::<rbac::v1::ClusterRoleBinding>(v)
        }
        ("rbac.authorization.k8s.io/v1", "Role") => round_trip::<rbac::v1::Role>(v),
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => round_trip::<rbac::v1::RoleBinding>(v),
        ("apps/v1", "Deployment") => round_trip::<apps::v1::Deployment>(v),
        ("policy/v1", "PodDisruptionBudget") => round_trip::<policy::v1::PodDisruptionBudget>(v),
        ("networking.k8s.io/v1", "NetworkPolicy") => round_trip::<networking::v1::NetworkPolicy>(v),
        ("scheduling.k8s.io/v1", "PriorityClass") => round_trip::<scheduling::v1::PriorityClass>(v),
        ("coordination.k8s.io/v1", "Lease") => round_trip::<coordination::v1::Lease>(v),
        ("monitoring.coreos.com/v1", "ServiceMonitor") => {
            let eps = v["spec"]["endpoints"].as_array().filter(|e| !e.is_empty());
            let ok = v["spec"]["selector"]["matchLabels"].is_object()
                && eps.is_some_and(|e| e.iter().all(|ep| ep["port"].is_string()));
            ok.then_some(()).ok_or_else(|| {
                format!(
                    "ServiceMonitor needs spec.selector.matchLabels and endpoints[].port: {v:#}"
                )
            })
        }
        ("monitoring.coreos.com/v1", "PrometheusRule") => {
            let groups = v["spec"]["groups"].as_array().filter(|g| !g.is_empty());
            let ok = groups.is_some_and(|gs| {
                gs.iter().all(|g| {
                    g["name"].is_string()
                        && g["rules"].as_array().is_some_and(|rs| {
                            rs.iter()
                                .all(|r| r["alert"].is_string() && r["expr"].is_string())
                        })
                })
            });
            ok.then_some(()).ok_or_else(|| {
                format!("PrometheusRule needs spec.groups[].rules[] with alert and expr: {v:#}")
            })
        }
        _ => Err(format!(
            "{api} {kind}: no type known to this test; add it to check_object"
        )),
    }
}

#[test]
fn every_kustomization_renders_into_known_types() {
    for dir in KUSTOMIZATIONS {
        let r = render(dir);
        assert!(
            r.objects.len() >= 14,
            "{dir}: only {} objects",
            r.objects.len()
        );
        let mut seen = BTreeMap::new();
        for o in &r.objects {
            let id = format!(
                "{} {}",
                o["kind"].as_str().unwrap_or("?"),
                o["metadata"]["name"].as_str().unwrap_or("?")
            );
            if let Err(e) = check_object(o) {
                panic!("{dir}: {id}: {e}");
            }
            assert!(seen.insert(id.clone(), ()).is_none(), "{dir}: {id} twice");
            // Everything namespaced lands in nodewatch (an object without
            // a namespace would go wherever the user's context points).
            let cluster_scoped = [
                "Namespace",
                "ClusterRole",
                "ClusterRoleBinding",
                "PriorityClass",
            ];
            if !cluster_scoped.contains(&o["kind"].as_str().unwrap_or("")) {
                assert_eq!(
                    o["metadata"]["namespace"], "nodewatch",
                    "{dir}: {id} namespace"
                );
            }
        }
        for want in [
            "Namespace nodewatch",
            "ServiceAccount nodewatch",
            "Deployment nodewatch",
            "PodDisruptionBudget nodewatch",
            "Service nodewatch",
            "NetworkPolicy nodewatch",
            "PriorityClass nodewatch",
            "Lease nodewatch",
        ] {
            assert!(seen.contains_key(want), "{dir}: no {want}");
        }
        r.generated("ConfigMap", "nodewatch-config");
        r.generated("ConfigMap", "nodewatch-rules");
    }
}

/// The RBAC documents of `rbac.yaml`, by kind and name.
fn rbac_file() -> BTreeMap<String, Value> {
    let text = std::fs::read_to_string(root().join("deploy/base/rbac.yaml")).expect("rbac.yaml");
    deploy::yaml_documents(&text)
        .into_iter()
        .map(|v| (id(&v), v))
        .collect()
}

fn id(v: &Value) -> String {
    format!(
        "{} {}",
        v["kind"].as_str().unwrap_or(""),
        v["metadata"]["name"].as_str().unwrap_or("")
    )
}

#[test]
fn rbac_is_exactly_what_the_fake_api_server_enforces() {
    let want = rbac_file();
    assert!(
        want.keys().any(|k| k.starts_with("ClusterRole ")),
        "rbac.yaml has a ClusterRole: {want:?}"
    );
    for dir in KUSTOMIZATIONS {
        let r = render(dir);
        let kinds = [
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
        ];
        let got: BTreeMap<String, Value> = r
            .objects
            .iter()
            .filter(|o| kinds.contains(&o["kind"].as_str().unwrap_or("")))
            .map(|o| (id(o), o.clone()))
            .collect();
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{dir}: the same RBAC objects, no more"
        );
        for (k, w) in &want {
            assert_eq!(&got[k], w, "{dir}: {k} as in deploy/base/rbac.yaml");
        }
        // The pod runs as that ServiceAccount, and the Lease it competes
        // for is the one the Role names.
        let spec = r
            .deployment()
            .spec
            .and_then(|s| s.template.spec)
            .expect("pod spec");
        assert_eq!(
            spec.service_account_name.as_deref(),
            Some("nodewatch"),
            "{dir}"
        );
        assert_ne!(
            spec.automount_service_account_token,
            Some(false),
            "{dir}: the token is needed"
        );
        let role: rbac::v1::Role =
            serde_json::from_value(got["Role nodewatch-leader-election"].clone()).expect("Role");
        let names: Vec<String> = role
            .rules
            .iter()
            .flatten()
            .flat_map(|x| x.resource_names.clone().unwrap_or_default())
            .collect();
        let cfg = rendered_config(&r);
        let lease = &cfg.kubernetes.lease;
        assert_eq!(
            role.metadata.namespace.as_deref(),
            Some(lease.namespace.as_str()),
            "{dir}: lease namespace"
        );
        assert_eq!(
            names,
            vec![lease.name.clone(), cfg.kubernetes.audit.configmap.clone()],
            "{dir}: the Role grants exactly the configured Lease and audit ConfigMap"
        );
        let obj = r.get("Lease", &lease.name);
        assert_eq!(
            obj["metadata"]["namespace"],
            lease.namespace.as_str(),
            "{dir}"
        );
    }
}

/// The config file the Deployment mounts, parsed as `nodewatch run` does.
fn rendered_config(r: &Rendered) -> nodewatch::config::Config {
    let dir = tempfile::tempdir().expect("tempdir");
    let mounts = r.materialize(dir.path());
    let args = deploy::remap_args(&r.args(), &mounts, dir.path());
    let path = deploy::flag(&args, "--config").expect("--config in the args");
    nodewatch::config::Config::load(std::path::Path::new(&path))
        .unwrap_or_else(|e| panic!("{}: {e}", r.dir))
}

#[test]
fn the_rules_configmap_is_the_rules_directory() {
    let mut files = BTreeMap::new();
    for e in std::fs::read_dir(root().join("rules"))
        .expect("rules/")
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".yaml") || name.ends_with(".yml") {
            files.insert(name, std::fs::read_to_string(e.path()).expect("rule file"));
        }
    }
    assert!(files.len() >= 2, "rules/ has rule files");
    for dir in KUSTOMIZATIONS {
        let r = render(dir);
        let cm = r.generated("ConfigMap", "nodewatch-rules");
        let data: BTreeMap<String, String> =
            serde_json::from_value(cm["data"].clone()).expect("data");
        assert_eq!(
            data.keys().collect::<Vec<_>>(),
            files.keys().collect::<Vec<_>>(),
            "{dir}: one key per rule file (list new files in rules/Kustomization)"
        );
        for (k, text) in &files {
            assert!(data[k] == *text, "{dir}: {k} differs from rules/{k}");
        }
        // And that ConfigMap is what --rules points at.
        let tmp = tempfile::tempdir().expect("tempdir");
        let mounts = r.materialize(tmp.path());
        let args = deploy::remap_args(&r.args(), &mounts, tmp.path());
        let rules = deploy::flag(&args, "--rules").expect("--rules in the args");
        for k in files.keys() {
            let mounted = std::fs::read_to_string(std::path::Path::new(&rules).join(k))
                .expect("mounted rule file");
            assert_eq!(mounted, files[k], "{dir}: --rules sees rules/{k}");
        }
        let cat =
            nodewatch::catalog::Catalog::load(&[rules.into()]).expect("the mounted rules load");
        assert_eq!(
            cat.signals.len(),
            nodewatch::catalog::Catalog::builtin().signals.len(),
            "{dir}"
        );
    }
}
