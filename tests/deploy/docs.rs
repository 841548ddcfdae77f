//! The README's "Run it in your cluster" cannot rot: every config key the
//! manifests set and every Secret key they reference is documented there,
//! and every command of its walkthrough is either run (rendering,
//! `nodewatch check`, the workstation `nodewatch run --dry-run` against the
//! fake API server with the `curl`s that read it) or, when it needs a real
//! cluster or registry, checked against the rendered objects (names, labels,
//! annotation keys, Secret keys). A command the test does not know fails it.

use nodewatch_testkit::deploy;
use nodewatch_testkit::fake_apiserver;

use deploy::{readme_section, render, sh_commands, Process, Rendered, KUSTOMIZATIONS};
use fake_apiserver::{harness, FakeApiServer, Options};
use serde_yaml::Value;
use std::collections::BTreeSet;
use std::time::Duration;

const SECTION: &str = "Run it in your cluster";

/// Leaf key paths of a config document; a list of mappings is `key[]`,
/// and a `{file:}`/`{env:}` secret is a leaf.
fn leaf_paths(v: &Value, path: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Mapping(m) => {
            let keys: Vec<&str> = m.keys().filter_map(Value::as_str).collect();
            if !path.is_empty() && (keys == ["file"] || keys == ["env"]) {
                out.insert(path.to_string());
                return;
            }
            for (k, child) in m {
                let k = k.as_str().expect("string keys");
                let p = if path.is_empty() {
                    k.to_string()
                } else {
                    format!("{path}.{k}")
                };
                leaf_paths(child, &p, out);
            }
        }
        Value::Sequence(s) if s.iter().any(Value::is_mapping) => {
            for child in s {
                leaf_paths(child, &format!("{path}[]"), out);
            }
        }
        _ => {
            out.insert(path.to_string());
        }
    }
}

/// Secret keys the rendered objects reference: Secret data, mounted
/// Secret files named in the config, `secretKeyRef`s.
fn secret_keys(r: &Rendered) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for s in r.of_kind("Secret") {
        keys.extend(
            s["data"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, _)| k.clone()),
        );
    }
    let c = r.container();
    for e in c.env.iter().flatten() {
        if let Some(k) = e
            .value_from
            .as_ref()
            .and_then(|f| f.secret_key_ref.as_ref())
        {
            keys.insert(k.key.clone());
        }
    }
    let spec = r
        .deployment()
        .spec
        .and_then(|s| s.template.spec)
        .expect("pod spec");
    let config = r.generated("ConfigMap", "nodewatch-config")["data"]["config.yaml"]
        .as_str()
        .expect("config")
        .to_string();
    for m in c.volume_mounts.iter().flatten() {
        let secret = spec
            .volumes
            .iter()
            .flatten()
            .any(|v| v.name == m.name && v.secret.is_some());
        for (i, _) in config
            .match_indices(&format!("{}/", m.mount_path))
            .filter(|_| secret)
        {
            let rest = &config[i + m.mount_path.len() + 1..];
            keys.insert(
                rest.chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
                    .collect(),
            );
        }
    }
    keys
}

#[test]
fn every_config_key_and_secret_key_is_documented() {
    let doc = readme_section(SECTION);
    let mut undocumented = Vec::new();
    let mut secrets = BTreeSet::new();
    for dir in KUSTOMIZATIONS {
        let r = render(dir);
        let cm = r.generated("ConfigMap", "nodewatch-config");
        let config: Value =
            serde_yaml::from_str(cm["data"]["config.yaml"].as_str().expect("config.yaml"))
                .expect("YAML");
        let mut paths = BTreeSet::new();
        leaf_paths(&config, "", &mut paths);
        assert!(paths.len() > 10, "{dir}: {paths:?}");
        undocumented.extend(
            paths
                .into_iter()
                .filter(|p| !doc.contains(&format!("`{p}`")))
                .map(|p| format!("{dir}: config key {p}")),
        );
        secrets.extend(secret_keys(&r));
    }
    assert!(
        secrets.len() >= 3,
        "the notifications example references secrets: {secrets:?}"
    );
    undocumented.extend(
        secrets
            .iter()
            .filter(|k| !doc.contains(&format!("`{k}`")))
            .map(|k| format!("Secret key {k}")),
    );
    assert!(
        undocumented.is_empty(),
        "not documented in README \"{SECTION}\":\n{}",
        undocumented.join("\n")
    );
}

/// Checks a `kubectl` command that needs a cluster against the render.
fn check_kubectl(cmd: &str, w: &[&str], base: &Rendered, notif: &Rendered) {
    let cfg: Value = serde_yaml::from_str(
        base.generated("ConfigMap", "nodewatch-config")["data"]["config.yaml"]
            .as_str()
            .expect("config"),
    )
    .expect("YAML");
    let pod_labels = base
        .deployment()
        .spec
        .and_then(|s| s.template.metadata)
        .and_then(|m| m.labels)
        .expect("pod labels");
    // `kubectl -n NS VERB ...`: the namespace, and the command after it.
    let (namespace, rest) = match w {
        ["kubectl", "-n", ns, rest @ ..] => (Some(*ns), rest),
        ["kubectl", rest @ ..] => (None, rest),
        _ => unreachable!("kubectl commands only"),
    };
    let ns = |n: &str| namespace == Some(n);
    match rest {
        ["apply" | "delete" | "diff", "-k", dir] => {
            assert!(
                KUSTOMIZATIONS.contains(dir),
                "{cmd}: a shipped kustomization"
            );
            render(dir);
        }
        ["kustomize", dir] => {
            render(dir);
        }
        ["rollout", "status" | "undo", "deployment/nodewatch"] => {
            assert!(ns("nodewatch"), "{cmd}");
            base.get("Deployment", "nodewatch");
        }
        ["port-forward", "svc/nodewatch", "8080:8080"] => {
            assert!(ns("nodewatch"), "{cmd}");
            assert_eq!(
                base.get("Service", "nodewatch")["spec"]["ports"][0]["port"],
                8080,
                "{cmd}"
            );
        }
        ["port-forward", "svc/prometheus-operated", "9090:9090", "&"] => {
            assert!(ns("monitoring"), "{cmd}");
            assert_eq!(
                cfg["prometheus"]["url"].as_str(),
                Some("http://prometheus-operated.monitoring.svc:9090"),
                "{cmd}: the config's default"
            );
        }
        ["get", "lease", "nodewatch", "-o", jsonpath] => {
            assert!(
                ns("nodewatch") && jsonpath.contains(".spec.holderIdentity"),
                "{cmd}"
            );
            base.get("Lease", "nodewatch");
        }
        ["logs", "-l", selector, ..] => {
            let (k, v) = selector.split_once('=').expect("label=value");
            assert_eq!(
                pod_labels.get(k).map(String::as_str),
                Some(v),
                "{cmd}: selects the pods"
            );
        }
        ["annotate", "lease", "nodewatch", kv, ..] => {
            let key = kv
                .split_once('=')
                .map_or(kv.trim_end_matches('-'), |(k, _)| k);
            assert_eq!(key, nodewatch::live::PAUSED_ANNOTATION, "{cmd}");
            base.get("Lease", "nodewatch");
        }
        ["create", "secret", "generic", name, files @ ..] => {
            assert!(ns("nodewatch"), "{cmd}");
            let secret = notif.generated("Secret", name);
            let want: BTreeSet<&str> = secret["data"]
                .as_object()
                .expect("data")
                .keys()
                .map(String::as_str)
                .collect();
            let got: BTreeSet<&str> = files
                .iter()
                .filter_map(|f| {
                    f.strip_prefix("--from-file=")?
                        .split_once('=')
                        .map(|(k, _)| k)
                })
                .collect();
            assert_eq!(got, want, "{cmd}: the Secret's keys");
        }
        ["get", "events", "-n", event_ns, "--field-selector", sel] => {
            assert_eq!(
                cfg["kubernetes"]["event_namespace"].as_str(),
                Some(*event_ns),
                "{cmd}"
            );
            let reason = sel.strip_prefix("reason=").expect("reason=");
            let src = std::fs::read_to_string(deploy::root().join("src/live/cordon.rs"))
                .expect("cordon.rs");
            assert!(
                src.contains(&format!("\"{reason}\"")),
                "{cmd}: nodewatch writes Events with reason {reason}"
            );
        }
        ["get", "nodes", "-o", columns] => {
            let key = columns
                .rsplit(".annotations.")
                .next()
                .expect("an annotation column")
                .replace("\\.", ".");
            assert_eq!(key, nodewatch::live::CORDONED_BY, "{cmd}");
        }
        _ => {
            panic!("README command not covered by tests/deploy/docs.rs (run it or check it): {cmd}")
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_walkthrough_runs() {
    let commands = sh_commands(&readme_section(SECTION));
    assert!(commands.len() >= 15, "{commands:?}");
    let base = render("deploy/base");
    let notif = render("deploy/overlays/example-notifications");
    let image = base.container().image.expect("image");
    let mut agent_run = None;
    let mut curls = Vec::new();
    for cmd in &commands {
        let w: Vec<&str> = cmd.split_whitespace().collect();
        match w.as_slice() {
            ["cargo", "build", "--release"] => {} // cargo test has built it
            ["docker", "build", "-t", tag, "."] | ["docker", "push", tag] => {
                assert_eq!(*tag, image, "{cmd}: the image deploy/base runs");
            }
            ["target/release/nodewatch", "run", args @ ..] => agent_run = Some(args.to_vec()),
            ["target/release/nodewatch", args @ ..] => {
                deploy::nodewatch_ok(args);
            }
            ["curl", "-s", url] => curls.push(
                url.strip_prefix("http://127.0.0.1:8080")
                    .expect("the port-forwarded address")
                    .to_string(),
            ),
            ["kubectl", ..] => check_kubectl(cmd, &w, &base, &notif),
            _ => panic!(
                "README command not covered by tests/deploy/docs.rs (run it or check it): {cmd}"
            ),
        }
    }

    // The workstation run, against the fake API server instead of a cluster.
    let args = agent_run.expect("the walkthrough runs the agent from a workstation");
    assert!(
        args.contains(&"--dry-run"),
        "the workstation run is a dry run"
    );
    assert!(!curls.is_empty());
    let server = FakeApiServer::start(Options::default()).await;
    server.load_scenario(&harness::binder());
    let tmp = tempfile::tempdir().expect("tempdir");
    let kubeconfig = server.kubeconfig(tmp.path()).display().to_string();
    let addr = deploy::free_addr();
    let closed_prometheus = format!("http://{}", deploy::free_addr());
    let mut run_args = vec!["run".to_string()];
    for a in args {
        run_args.push(match a {
            "~/.kube/config" => kubeconfig.clone(),
            "127.0.0.1:8080" => addr.clone(),
            "http://127.0.0.1:9090" => closed_prometheus.clone(),
            other => other.to_string(),
        });
    }
    let mut p = Process::spawn(&run_args, &[], tmp.path(), &addr);
    p.wait_ready(Duration::from_secs(60)).await;
    for path in &curls {
        let (status, body) = deploy::get(&addr, path)
            .await
            .unwrap_or_else(|| panic!("curl {path}"));
        assert_eq!(status, 200, "curl {path}: {body}");
        assert!(!body.is_empty(), "curl {path}");
    }
    let (status, log) = p.terminate().await;
    assert!(status.success(), "{status}\n{log}");
    assert!(
        server.requests().iter().all(|q| q.verb != "patch"),
        "a dry run patches nothing"
    );
}
