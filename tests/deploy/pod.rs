//! The rendered pod is safe by default: hardened (non-root, read-only
//! root, no capabilities, RuntimeDefault seccomp, no privilege escalation),
//! probed on `/healthz`/`/readyz`, spread over nodes and zones, kept running
//! on cordoned nodes, protected by a PodDisruptionBudget and a priority
//! class, and reachable only on its HTTP port through the Service.
//! (Guaranteed QoS and its sizing: `tests/deploy/qos.rs`.)

use nodewatch_testkit::deploy;

use deploy::{render, Rendered, KUSTOMIZATIONS};
use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

fn pod_spec(r: &Rendered) -> PodSpec {
    r.deployment()
        .spec
        .and_then(|s| s.template.spec)
        .expect("pod spec")
}

#[test]
fn the_pod_is_hardened() {
    for dir in KUSTOMIZATIONS {
        let r = render(dir);
        let spec = pod_spec(&r);
        let psc = spec.security_context.clone().expect("pod securityContext");
        assert_eq!(psc.run_as_non_root, Some(true), "{dir}");
        assert!(
            psc.run_as_user.is_some_and(|u| u > 0),
            "{dir}: numeric non-root UID"
        );
        assert_eq!(
            psc.seccomp_profile.as_ref().map(|s| s.type_.as_str()),
            Some("RuntimeDefault"),
            "{dir}"
        );
        for c in &spec.containers {
            let sc = c
                .security_context
                .clone()
                .unwrap_or_else(|| panic!("{dir}: {} securityContext", c.name));
            assert_eq!(sc.run_as_non_root, Some(true), "{dir}");
            assert_eq!(sc.read_only_root_filesystem, Some(true), "{dir}");
            assert_eq!(sc.allow_privilege_escalation, Some(false), "{dir}");
            assert_ne!(sc.privileged, Some(true), "{dir}");
            let caps = sc.capabilities.clone().unwrap_or_default();
            assert_eq!(caps.drop, Some(vec!["ALL".to_string()]), "{dir}: drop ALL");
            assert!(
                caps.add.unwrap_or_default().is_empty(),
                "{dir}: no capabilities added"
            );
            assert_eq!(
                sc.seccomp_profile.map(|s| s.type_),
                Some("RuntimeDefault".into()),
                "{dir}"
            );
            for m in c.volume_mounts.iter().flatten() {
                let vol = spec
                    .volumes
                    .iter()
                    .flatten()
                    .find(|v| v.name == m.name)
                    .expect("volume");
                let writable = vol.empty_dir.is_some();
                assert!(
                    writable || m.read_only == Some(true),
                    "{dir}: {} mounted read-only",
                    m.mount_path
                );
                assert!(vol.host_path.is_none(), "{dir}: no hostPath");
            }
        }
        assert_ne!(spec.host_network, Some(true), "{dir}");
        assert_ne!(spec.host_pid, Some(true), "{dir}");
        let ns = r.get("Namespace", "nodewatch");
        assert_eq!(
            ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"], "restricted",
            "{dir}"
        );
    }
}

#[test]
fn probes_replicas_and_disruption() {
    for dir in KUSTOMIZATIONS {
        let r = render(dir);
        let d = r.deployment();
        let ds = d.spec.clone().expect("spec");
        assert_eq!(
            ds.replicas,
            Some(2),
            "{dir}: two replicas, one holds the Lease"
        );
        let c = r.container();
        let port = c
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some("http"))
            .expect("port http");
        for (probe, path) in [
            (&c.liveness_probe, "/healthz"),
            (&c.readiness_probe, "/readyz"),
        ] {
            let get = probe
                .clone()
                .and_then(|p| p.http_get)
                .unwrap_or_else(|| panic!("{dir}: {path} probe"));
            assert_eq!(get.path.as_deref(), Some(path), "{dir}");
            assert_eq!(
                get.port,
                IntOrString::String("http".into()),
                "{dir}: {path} on the named port"
            );
        }
        let listen = deploy::flag(&r.args(), "--listen").expect("--listen");
        assert!(
            listen.ends_with(&format!(":{}", port.container_port)),
            "{dir}: listens on the declared port: {listen}"
        );

        let labels = ds.selector.match_labels.clone().expect("selector");
        let pdb: k8s_openapi::api::policy::v1::PodDisruptionBudget =
            serde_json::from_value(r.get("PodDisruptionBudget", "nodewatch").clone()).unwrap();
        let ps = pdb.spec.expect("pdb spec");
        assert_eq!(
            ps.selector.and_then(|s| s.match_labels),
            Some(labels.clone()),
            "{dir}: the PDB covers the pods"
        );
        assert_eq!(
            ps.min_available,
            Some(IntOrString::Int(1)),
            "{dir}: a drain leaves one replica"
        );
        assert_eq!(
            ps.unhealthy_pod_eviction_policy.as_deref(),
            Some("AlwaysAllow"),
            "{dir}: a broken replica never blocks a drain"
        );

        let spec = pod_spec(&r);
        let pc = spec.priority_class_name.clone().expect("priorityClassName");
        let obj = r.get("PriorityClass", &pc);
        let value = obj["value"].as_i64().expect("value");
        assert!(
            value > 0 && value < 1_000_000_000,
            "{dir}: above workloads, below system classes: {value}"
        );

        let keys: Vec<(String, String)> = spec
            .topology_spread_constraints
            .iter()
            .flatten()
            .map(|t| {
                assert_eq!(
                    t.label_selector
                        .as_ref()
                        .and_then(|s| s.match_labels.clone()),
                    Some(labels.clone()),
                    "{dir}"
                );
                (t.topology_key.clone(), t.when_unsatisfiable.clone())
            })
            .collect();
        assert!(
            keys.contains(&("kubernetes.io/hostname".into(), "DoNotSchedule".into())),
            "{dir}: {keys:?}"
        );
        assert!(
            keys.iter().any(|(k, _)| k == "topology.kubernetes.io/zone"),
            "{dir}: {keys:?}"
        );

        let tol = spec.tolerations.clone().unwrap_or_default();
        let find = |key: &str| {
            tol.iter()
                .find(|t| t.key.as_deref() == Some(key))
                .cloned()
                .unwrap_or_else(|| panic!("{dir}: toleration {key}"))
        };
        let cordoned = find("node.kubernetes.io/unschedulable");
        assert_eq!(
            (cordoned.operator.as_deref(), cordoned.effect.as_deref()),
            (Some("Exists"), Some("NoSchedule")),
            "{dir}"
        );
        assert_eq!(
            find(nodewatch::live::TAINT_KEY).effect.as_deref(),
            Some("NoSchedule"),
            "{dir}: nodewatch's own taint"
        );
        for key in [
            "node.kubernetes.io/not-ready",
            "node.kubernetes.io/unreachable",
        ] {
            let t = find(key);
            assert_eq!(t.effect.as_deref(), Some("NoExecute"), "{dir}");
            assert!(
                t.toleration_seconds.is_some_and(|s| s > 0 && s <= 300),
                "{dir}: {key} bounded: {t:?}"
            );
        }
    }
}

#[test]
fn service_and_network_policy_reach_the_http_port_only() {
    for dir in KUSTOMIZATIONS {
        let r = render(dir);
        let labels = r
            .deployment()
            .spec
            .and_then(|s| s.template.metadata)
            .and_then(|m| m.labels)
            .expect("pod labels");
        let svc: k8s_openapi::api::core::v1::Service =
            serde_json::from_value(r.get("Service", "nodewatch").clone()).unwrap();
        let ss = svc.spec.expect("spec");
        let sel = ss.selector.expect("selector");
        assert!(
            sel.iter().all(|(k, v)| labels.get(k) == Some(v)),
            "{dir}: the Service selects the pods"
        );
        let ports = ss.ports.expect("ports");
        assert_eq!(ports.len(), 1, "{dir}");
        assert_eq!(
            ports[0].target_port,
            Some(IntOrString::String("http".into())),
            "{dir}"
        );
        assert_eq!(ports[0].name.as_deref(), Some("http"), "{dir}");

        let np: k8s_openapi::api::networking::v1::NetworkPolicy =
            serde_json::from_value(r.get("NetworkPolicy", "nodewatch").clone()).unwrap();
        let ns = np.spec.expect("spec");
        let sel = ns
            .pod_selector
            .and_then(|s| s.match_labels)
            .expect("podSelector");
        assert!(
            sel.iter().all(|(k, v)| labels.get(k) == Some(v)),
            "{dir}: the policy selects the pods"
        );
        assert!(
            ns.policy_types
                .unwrap_or_default()
                .contains(&"Ingress".to_string()),
            "{dir}"
        );
        let rules = ns.ingress.expect("ingress rules");
        for rule in &rules {
            let ports: Vec<_> = rule
                .ports
                .iter()
                .flatten()
                .map(|p| p.port.clone())
                .collect();
            assert_eq!(
                ports,
                vec![Some(IntOrString::String("http".into()))],
                "{dir}: only the HTTP port is open"
            );
        }
    }
}

#[test]
fn the_image_follows_the_crate_version() {
    for dir in KUSTOMIZATIONS {
        let image = render(dir).container().image.expect("image");
        let (_, tag) = image.rsplit_once(':').expect("a tagged image");
        assert_eq!(
            tag,
            env!("CARGO_PKG_VERSION"),
            "{dir}: {image}; bump images: in deploy/base/kustomization.yaml with the crate"
        );
    }
}
