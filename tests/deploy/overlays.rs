//! What each overlay adds, and only that: `dry-run` adds `--dry-run` to the
//! container and changes nothing else; `prometheus-operator` adds a
//! ServiceMonitor that finds the Service and a PrometheusRule that
//! `promtool check rules` accepts; `example-notifications` adds sinks whose
//! every secret is a file from one mounted Secret (placeholders only, so no
//! real secret is ever committed) and otherwise keeps base's config word
//! for word. The components behind the overlays also combine, and every
//! rendered config passes `nodewatch check --config`.

use nodewatch_testkit::deploy;

use deploy::{render, root, Rendered};
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::Command;

/// The container's args, removed from the Deployment (to compare the rest).
fn without_args(r: &Rendered) -> Vec<Value> {
    let mut objs = r.objects.clone();
    for o in objs.iter_mut().filter(|o| o["kind"] == "Deployment") {
        o["spec"]["template"]["spec"]["containers"][0]["args"] = Value::Null;
    }
    objs
}

#[test]
fn dry_run_adds_the_flag_and_nothing_else() {
    let base = render("deploy/base");
    let dry = render("deploy/overlays/dry-run");
    assert_eq!(
        without_args(&dry),
        without_args(&base),
        "dry-run changes only the container args"
    );
    let mut want = base.args();
    want.push("--dry-run".into());
    assert_eq!(dry.args(), want);
    assert!(
        !base.args().iter().any(|a| a.starts_with("--dry-run")),
        "base cordons (through the governor)"
    );
}

#[test]
fn prometheus_operator_scrapes_the_service_and_checks_its_rules() {
    let r = render("deploy/overlays/prometheus-operator");
    let svc = r.get("Service", "nodewatch");
    let sm = r.get("ServiceMonitor", "nodewatch");
    let sel = sm["spec"]["selector"]["matchLabels"]
        .as_object()
        .expect("matchLabels");
    for (k, v) in sel {
        assert_eq!(
            &svc["metadata"]["labels"][k], v,
            "the ServiceMonitor selects the Service by {k}"
        );
    }
    let ns: Vec<&Value> = sm["spec"]["namespaceSelector"]["matchNames"]
        .as_array()
        .expect("matchNames")
        .iter()
        .collect();
    assert_eq!(ns, vec![&Value::from("nodewatch")]);
    let ports: BTreeSet<&str> = svc["spec"]["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for ep in sm["spec"]["endpoints"].as_array().expect("endpoints") {
        assert!(
            ports.contains(ep["port"].as_str().unwrap_or("")),
            "endpoint port {} is a Service port",
            ep["port"]
        );
        assert_eq!(ep["path"], "/metrics");
    }

    // promtool reads the groups as a Prometheus rule file.
    let rule = r.get("PrometheusRule", "nodewatch");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("nodewatch.rules.yaml");
    let groups = serde_json::json!({ "groups": rule["spec"]["groups"] });
    std::fs::write(&file, serde_yaml::to_string(&groups).expect("yaml")).expect("write rules");
    let out = match Command::new("promtool").arg("check").arg("rules").arg(&file).output() {
        Ok(o) => o,
        Err(e) => panic!("promtool is needed to check the PrometheusRule (Debian package `prometheus`, installed by scripts/test.sh): {e}"),
    };
    assert!(
        out.status.success(),
        "promtool check rules:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts: Vec<&str> = rule["spec"]["groups"][0]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter_map(|x| x["alert"].as_str())
        .collect();
    for want in [
        "NodewatchDown",
        "NodewatchNotTicking",
        "NodewatchSourceDown",
    ] {
        assert!(alerts.contains(&want), "{want} in {alerts:?}");
    }
}

/// `{file: PATH}` secrets and `*_file` settings in a config document.
fn secret_files(v: &serde_yaml::Value, out: &mut Vec<String>) {
    match v {
        serde_yaml::Value::Mapping(m) => {
            for (k, child) in m {
                let key = k.as_str().unwrap_or("");
                match (key, child.as_str()) {
                    ("file", Some(f)) => out.push(f.to_string()),
                    (k, Some(f)) if k.ends_with("_file") && k != "ca_file" => {
                        out.push(f.to_string())
                    }
                    _ => secret_files(child, out),
                }
            }
        }
        serde_yaml::Value::Sequence(s) => s.iter().for_each(|c| secret_files(c, out)),
        _ => {}
    }
}

fn config_doc(r: &Rendered) -> serde_yaml::Value {
    let cm = r.generated("ConfigMap", "nodewatch-config");
    serde_yaml::from_str(cm["data"]["config.yaml"].as_str().expect("config.yaml"))
        .expect("config YAML")
}

#[test]
fn example_notifications_take_every_secret_from_the_mounted_secret() {
    let base = render("deploy/base");
    let r = render("deploy/overlays/example-notifications");
    let mut doc = config_doc(&r);
    let sinks = doc
        .as_mapping_mut()
        .and_then(|m| m.remove("sinks"))
        .expect("a sinks: section");
    assert_eq!(
        doc,
        config_doc(&base),
        "everything but sinks: is base's config"
    );
    for kind in ["alertmanager", "webhooks", "email"] {
        assert!(sinks.get(kind).is_some(), "the example configures {kind}");
    }

    let c = r.container();
    let spec = r
        .deployment()
        .spec
        .and_then(|s| s.template.spec)
        .expect("pod spec");
    let mut files = Vec::new();
    secret_files(&sinks, &mut files);
    assert!(files.len() >= 3, "{files:?}");
    let mut used = BTreeSet::new();
    for f in &files {
        let (dir, key) = f.rsplit_once('/').expect("an absolute path");
        let mount = c
            .volume_mounts
            .iter()
            .flatten()
            .find(|m| m.mount_path == dir)
            .unwrap_or_else(|| panic!("{f}: nothing mounted at {dir}"));
        let vol = spec
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == mount.name)
            .expect("volume");
        let sv = vol
            .secret
            .as_ref()
            .unwrap_or_else(|| panic!("{dir} is a Secret volume"));
        assert!(
            sv.default_mode.is_some_and(|m| m & 0o004 == 0),
            "{dir}: not world-readable"
        );
        let secret = r.get("Secret", sv.secret_name.as_deref().expect("secretName"));
        assert!(
            secret["data"][key].is_string(),
            "{f}: key {key} in the Secret"
        );
        used.insert(key.to_string());
    }
    for s in r.of_kind("Secret") {
        let keys: BTreeSet<String> = s["data"]
            .as_object()
            .expect("data")
            .keys()
            .cloned()
            .collect();
        assert_eq!(
            keys, used,
            "every key of the Secret is used by the config, and only those"
        );
        // Placeholders only: a real secret must never be committed here.
        for (k, v) in s["data"].as_object().expect("data") {
            let raw = std::fs::read_to_string(
                root()
                    .join("deploy/components/notifications/secrets")
                    .join(k),
            )
            .expect("secret file");
            assert_eq!(raw.trim(), "replace-me", "{k} is a placeholder");
            assert!(v.is_string(), "{k}");
        }
    }
    let psc = spec.security_context.expect("pod securityContext");
    assert_eq!(
        psc.fs_group, psc.run_as_group,
        "the group that may read the secrets is nodewatch's"
    );
}

#[test]
fn the_components_combine() {
    // A user's own kustomization: base plus every component. It must live
    // below the repository (kustomize refuses absolute paths).
    let parent = root().join("target");
    std::fs::create_dir_all(&parent).expect("target/");
    let dir = tempfile::Builder::new()
        .prefix("deploy-combined-")
        .tempdir_in(&parent)
        .expect("tempdir");
    let name = dir
        .path()
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let text = "resources: [../../deploy/base]\ncomponents:\n  - ../../deploy/components/dry-run\n  - ../../deploy/components/prometheus-operator\n  - ../../deploy/components/notifications\n  - ../../deploy/components/drain\n";
    std::fs::write(dir.path().join("kustomization.yaml"), text).expect("kustomization");
    let r = render(&format!("target/{name}"));
    assert!(r.args().contains(&"--dry-run".to_string()));
    r.get("ServiceMonitor", "nodewatch");
    r.get("PrometheusRule", "nodewatch");
    r.get("ClusterRole", "nodewatch-drain");
    r.generated("Secret", "nodewatch-notifications");
    assert!(config_doc(&r).get("sinks").is_some());
}

#[test]
fn every_rendered_config_passes_nodewatch_check() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for dir in deploy::KUSTOMIZATIONS {
        let r = render(dir);
        let cm = r.generated("ConfigMap", "nodewatch-config");
        let file = tmp.path().join("config.yaml");
        std::fs::write(
            &file,
            cm["data"]["config.yaml"].as_str().expect("config.yaml"),
        )
        .expect("write");
        let out = deploy::nodewatch_ok(&["check", "--config", file.to_str().expect("utf-8")]);
        assert!(out.starts_with("OK: config"), "{dir}: {out}");
        // The secrets it lists are files of a Secret the pod mounts.
        let spec = r
            .deployment()
            .spec
            .and_then(|s| s.template.spec)
            .expect("pod spec");
        for line in out.lines().filter(|l| l.starts_with("secret: ")) {
            let path = line
                .split(" <- file ")
                .nth(1)
                .and_then(|p| p.strip_suffix(" (read at start)"));
            let path = path.unwrap_or_else(|| panic!("{dir}: a secret from a file: {line}"));
            let (mount, key) = path.rsplit_once('/').expect("absolute");
            let m = r
                .container()
                .volume_mounts
                .unwrap_or_default()
                .into_iter()
                .find(|m| m.mount_path == mount);
            let m = m.unwrap_or_else(|| panic!("{dir}: {path} is not on a mounted volume"));
            let vol = spec
                .volumes
                .iter()
                .flatten()
                .find(|v| v.name == m.name)
                .expect("volume");
            let name = vol
                .secret
                .as_ref()
                .and_then(|s| s.secret_name.clone())
                .expect("a Secret volume");
            assert!(
                r.get("Secret", &name)["data"][key].is_string(),
                "{dir}: {key} in {name}"
            );
        }
    }
    // A broken file is refused, naming file, line and field.
    let file = tmp.path().join("broken.yaml");
    for (text, want) in [
        (
            "governor:\n  dryrun: true\n",
            "broken.yaml:2: governor: unknown field `dryrun`",
        ),
        (
            "governor:\n  max_fraction: 3\n",
            "governor.max_fraction: must be within 0..1",
        ),
    ] {
        std::fs::write(&file, text).expect("write");
        let out = deploy::nodewatch(&["check", "--config", file.to_str().expect("utf-8")]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(want), "{want}: {err}");
    }
}
