//! The Helm chart (`deploy/helm/nodewatch`) with the real `helm` v4, built
//! from the Go module proxy by `scripts/helm.sh` (`$NODEWATCH_HELM`):
//!
//! - `helm lint --strict` is clean, with every option on and off;
//! - by default it renders the kustomize base's objects, and its values
//!   render each overlay's and component's, up to the differences a chart
//!   has by nature (listed at [`normalize`]);
//! - `values.schema.json` refuses misspelt and mistyped config and the
//!   names the chart owns, and accepts every config block of the README;
//! - another release name and namespace stay consistent (Lease, audit
//!   ConfigMap, RBAC, alert rules) and pass `nodewatch check`;
//! - `helm install`, `upgrade` and `uninstall` against the real API server
//!   (`tests/testkit/src/kube_real.rs`), with no warning from Pod Security
//!   `restricted`, and the ServiceAccount allowed by the real authorizer
//!   exactly what its release's config needs;
//! - checkov (PyPI, `$NODEWATCH_CHECKOV`), a third-party policy check, over
//!   every kustomization's and the chart's output fails exactly the checks
//!   README "Policy check (checkov)" gives a reason for.

use nodewatch_testkit::deploy;
use nodewatch_testkit::kube_real;

use deploy::{render, root, yaml_documents, Rendered};
use kube_real::ControlPlane;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CHART: &str = "deploy/helm/nodewatch";

/// The helm binary; fails with the fix when it is missing.
fn helm_bin() -> PathBuf {
    let path = std::env::var_os("NODEWATCH_HELM").map(PathBuf::from);
    match path {
        Some(p) if p.is_file() => p,
        _ => panic!(
            "NODEWATCH_HELM must name the helm binary built by scripts/helm.sh: \
             export NODEWATCH_HELM=\"$(scripts/helm.sh)/helm\" (scripts/test.sh does)"
        ),
    }
}

/// `helm ARGS` with its own (empty) config, cache and data homes, and
/// `kubeconfig` if given.
fn helm(args: &[&str], kubeconfig: Option<&Path>) -> Output {
    let home = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(helm_bin());
    cmd.args(args).current_dir(root());
    for var in ["HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"] {
        cmd.env(var, home.path().join(var));
    }
    match kubeconfig {
        Some(k) => cmd.env("KUBECONFIG", k),
        None => cmd.env("KUBECONFIG", home.path().join("none")),
    };
    cmd.output().expect("run helm")
}

/// [`helm`], asserting success; returns stdout.
fn helm_ok(args: &[&str], kubeconfig: Option<&Path>) -> String {
    let out = helm(args, kubeconfig);
    assert!(
        out.status.success(),
        "helm {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// Writes `values` as a values file in `dir`.
fn values_file(dir: &Path, name: &str, values: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, serde_yaml::to_string(values).expect("YAML")).expect("write values");
    path.display().to_string()
}

/// `helm template RELEASE CHART -n NAMESPACE EXTRA...` as objects.
fn template(release: &str, namespace: &str, extra: &[&str]) -> Rendered {
    let mut args = vec!["template", release, CHART, "--namespace", namespace];
    args.extend(extra);
    Rendered {
        dir: format!("helm template {extra:?}"),
        objects: yaml_documents(&helm_ok(&args, None)),
    }
}

/// Helm's bookkeeping labels, which kustomize output does not have.
const HELM_LABELS: [&str; 4] = [
    "app.kubernetes.io/instance",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/version",
    "helm.sh/chart",
];

/// Objects by `Kind/name`, with what a chart differs in by nature made
/// equal: (1) the kustomize base's Namespace is left out (Helm installs
/// into a namespace that exists or `--create-namespace` makes); (2)
/// generated names lose kustomize's hash suffix, and the chart's
/// `checksum/*` pod annotations, which roll the pods instead, go; (3) Helm's
/// bookkeeping labels go; (4) the config file is compared as parsed YAML,
/// with the audit ConfigMap's name written out as the chart writes it;
/// (5) the notifications Secret is left out (the chart mounts one the user
/// creates and never holds secret values).
fn normalize(objects: &[Value]) -> BTreeMap<String, Value> {
    let mut text = serde_json::to_string(objects).expect("JSON");
    for o in objects {
        let name = o["metadata"]["name"].as_str().unwrap_or_default();
        for base in [
            "nodewatch-config",
            "nodewatch-rules",
            "nodewatch-notifications",
        ] {
            if name
                .strip_prefix(base)
                .and_then(|r| r.strip_prefix('-'))
                .is_some_and(|h| h.len() == 10)
            {
                text = text.replace(&format!("\"{name}\""), &format!("\"{base}\""));
            }
        }
    }
    let objects: Vec<Value> = serde_json::from_str(&text).expect("JSON");
    let mut out = BTreeMap::new();
    for mut o in objects {
        let kind = o["kind"].as_str().expect("kind").to_string();
        if kind == "Namespace" || kind == "Secret" {
            continue;
        }
        let meta = o["metadata"].as_object_mut().expect("metadata");
        if let Some(labels) = meta.get_mut("labels").and_then(Value::as_object_mut) {
            for l in HELM_LABELS {
                labels.remove(l);
            }
            if labels.is_empty() {
                meta.remove("labels");
            }
        }
        if let Some(template) = o
            .pointer_mut("/spec/template/metadata")
            .and_then(Value::as_object_mut)
        {
            if let Some(ann) = template
                .get_mut("annotations")
                .and_then(Value::as_object_mut)
            {
                ann.retain(|k, _| !k.starts_with("checksum/"));
                if ann.is_empty() {
                    template.remove("annotations");
                }
            }
        }
        if let Some(cfg) = o.pointer_mut("/data/config.yaml") {
            let mut parsed: Value =
                serde_yaml::from_str(cfg.as_str().expect("text")).expect("config");
            let audit = &mut parsed["kubernetes"]["audit"];
            if audit.get("configmap").is_none() {
                audit["configmap"] = json!("nodewatch-audit");
            }
            *cfg = parsed;
        }
        let name = o["metadata"]["name"].as_str().expect("name").to_string();
        out.insert(format!("{kind}/{name}"), o);
    }
    out
}

/// Asserts two renderings hold the same objects after [`normalize`].
fn assert_same(kustomize: &Rendered, chart: &Rendered) {
    let (want, got) = (normalize(&kustomize.objects), normalize(&chart.objects));
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>(),
        "{} vs {}: the same objects",
        kustomize.dir,
        chart.dir
    );
    for (key, w) in &want {
        assert_eq!(
            w,
            &got[key],
            "{key} differs between {} and {}:\nkustomize: {}\nhelm: {}",
            kustomize.dir,
            chart.dir,
            serde_json::to_string_pretty(w).unwrap(),
            serde_json::to_string_pretty(&got[key]).unwrap()
        );
    }
}

/// A config file as chart values: the Lease's name and namespace are the
/// chart's to set (the release's), so they are left out.
fn config_values(config_file: &str) -> Value {
    let text = std::fs::read_to_string(root().join(config_file)).expect("read config");
    let mut cfg: Value = serde_yaml::from_str(&text).expect("config YAML");
    let lease = cfg["kubernetes"]["lease"].as_object_mut().expect("lease");
    lease.remove("name");
    lease.remove("namespace");
    cfg
}

#[test]
fn lint_is_clean_with_every_option() {
    let dir = tempfile::tempdir().expect("tempdir");
    let all_on = values_file(
        dir.path(),
        "all.yaml",
        &json!({
            "dryRun": true,
            "prometheusOperator": {"enabled": true},
            "notifications": {"secretName": "nodewatch-notifications"},
            "podAnnotations": {"example.org/a": "b"},
            "extraTolerations": [{"key": "dedicated", "operator": "Exists"}],
            "config": {"kubernetes": {"drain": {"enabled": true}, "audit": {"enabled": true}}},
        }),
    );
    for extra in [vec![], vec!["--values", all_on.as_str()]] {
        let mut args = vec!["lint", "--strict", CHART, "--namespace", "nodewatch"];
        args.extend(&extra);
        let out = helm_ok(&args, None);
        assert!(out.contains("0 chart(s) failed"), "{out}");
        assert!(
            !out.contains("[WARNING]") && !out.contains("[ERROR]"),
            "{out}"
        );
    }
}

#[test]
fn defaults_and_values_render_what_kustomize_renders() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert_same(
        &render("deploy/base"),
        &template("nodewatch", "nodewatch", &[]),
    );
    assert_same(
        &render("deploy/overlays/dry-run"),
        &template("nodewatch", "nodewatch", &["--set", "dryRun=true"]),
    );
    assert_same(
        &render("deploy/overlays/prometheus-operator"),
        &template(
            "nodewatch",
            "nodewatch",
            &["--set", "prometheusOperator.enabled=true"],
        ),
    );
    let notifications = values_file(
        dir.path(),
        "notifications.yaml",
        &json!({
            "notifications": {"secretName": "nodewatch-notifications"},
            "config": config_values("deploy/components/notifications/config.yaml"),
        }),
    );
    assert_same(
        &render("deploy/overlays/example-notifications"),
        &template("nodewatch", "nodewatch", &["--values", &notifications]),
    );

    // Drain on adds the drain component's RBAC, and nothing else but the
    // setting itself.
    let drained = template(
        "nodewatch",
        "nodewatch",
        &["--set", "config.kubernetes.drain.enabled=true"],
    );
    let mut with_component = render("deploy/base");
    let component =
        std::fs::read_to_string(root().join("deploy/components/drain/rbac.yaml")).unwrap();
    with_component.objects.extend(yaml_documents(&component));
    let cm = with_component
        .objects
        .iter_mut()
        .find(|o| o["kind"] == "ConfigMap" && o["data"]["config.yaml"].is_string())
        .expect("config ConfigMap");
    let text = cm["data"]["config.yaml"].as_str().unwrap().replace(
        "  drain:\n    enabled: false",
        "  drain:\n    enabled: true",
    );
    assert!(text.contains("drain:\n    enabled: true"), "{text}");
    cm["data"]["config.yaml"] = json!(text);
    assert_same(&with_component, &drained);
}

#[test]
fn the_schema_refuses_typos_wrong_types_and_names_the_chart_owns() {
    for (set, error) in [
        (
            "config.governor.max_fractio=1",
            "additional properties 'max_fractio' not allowed",
        ),
        (
            "config.engine.step=thirty",
            "'thirty' does not match pattern",
        ),
        (
            "config.kubernetes.lease.name=other",
            "additional properties 'name' not allowed",
        ),
        (
            "config.kubernetes.audit.configmap=x",
            "additional properties 'configmap' not allowed",
        ),
        (
            "config.kubernetes.drain.on_timeout=maybe",
            "/config/kubernetes/drain/on_timeout",
        ),
        ("replicas=0", "/replicas"),
        ("config.sinks.email[0].from=a@b", "missing propert"),
        ("dryrun=true", "additional properties 'dryrun' not allowed"),
    ] {
        let out = helm(&["template", "nodewatch", CHART, "--set", set], None);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{set} was accepted");
        assert!(err.contains(error), "{set}: {err}");
    }
}

#[test]
fn every_config_block_of_the_readme_passes_the_schema() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let dir = tempfile::tempdir().expect("tempdir");
    let sections = [
        "engine",
        "kubernetes",
        "governor",
        "prometheus",
        "serve",
        "sinks",
    ];
    let mut checked = 0;
    for block in readme.split("```yaml\n").skip(1) {
        let block = block.split("```").next().unwrap();
        let Ok(cfg) = serde_yaml::from_str::<Value>(block) else {
            continue;
        };
        let Some(map) = cfg.as_object() else { continue };
        if map.is_empty() || !map.keys().all(|k| sections.contains(&k.as_str())) {
            continue;
        }
        let mut cfg = cfg.clone();
        if let Some(lease) = cfg["kubernetes"]
            .get_mut("lease")
            .and_then(Value::as_object_mut)
        {
            lease.remove("name");
            lease.remove("namespace");
        }
        if let Some(audit) = cfg["kubernetes"]
            .get_mut("audit")
            .and_then(Value::as_object_mut)
        {
            audit.remove("configmap");
        }
        let values = values_file(
            dir.path(),
            &format!("block{checked}.yaml"),
            &json!({"config": cfg}),
        );
        let out = helm(&["template", "nodewatch", CHART, "--values", &values], None);
        assert!(
            out.status.success(),
            "README block refused by values.schema.json:\n{block}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        checked += 1;
    }
    assert!(
        checked >= 5,
        "the README's config blocks were found ({checked})"
    );
}

/// `nodewatch check --config` on the config a rendering mounts.
fn check_config(r: &Rendered, dir: &Path) {
    let cm = r
        .of_kind("ConfigMap")
        .into_iter()
        .find(|o| o["data"]["config.yaml"].is_string())
        .expect("config ConfigMap");
    let path = dir.join("config.yaml");
    std::fs::write(&path, cm["data"]["config.yaml"].as_str().unwrap()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_nodewatch"))
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .expect("run nodewatch check");
    assert!(
        out.status.success(),
        "{}: nodewatch check refused the rendered config:\n{}{}",
        r.dir,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn another_release_name_and_namespace_stay_consistent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = template(
        "team-a",
        "ops",
        &["--set", "prometheusOperator.enabled=true"],
    );
    check_config(&r, dir.path());
    let cm = r.get("ConfigMap", "team-a-nodewatch-config");
    let cfg: Value = serde_yaml::from_str(cm["data"]["config.yaml"].as_str().unwrap()).unwrap();
    assert_eq!(cfg["kubernetes"]["lease"]["name"], "team-a-nodewatch");
    assert_eq!(cfg["kubernetes"]["lease"]["namespace"], "ops");
    assert_eq!(
        cfg["kubernetes"]["audit"]["configmap"],
        "team-a-nodewatch-audit"
    );
    let role = r.get("Role", "team-a-nodewatch-leader-election");
    assert_eq!(role["metadata"]["namespace"], "ops");
    let granted: Vec<&Value> = role["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|rule| rule["resourceNames"].as_array())
        .flatten()
        .collect();
    assert_eq!(
        granted,
        [&json!("team-a-nodewatch"), &json!("team-a-nodewatch-audit")]
    );
    let d = r.get("Deployment", "team-a-nodewatch");
    assert_eq!(
        d["spec"]["template"]["spec"]["serviceAccountName"],
        "team-a-nodewatch"
    );
    let rule = serde_json::to_string(&r.get("PrometheusRule", "team-a-nodewatch")["spec"]).unwrap();
    assert!(
        rule.contains(r#"job=\"team-a-nodewatch\", namespace=\"ops\""#),
        "{rule}"
    );
    assert!(!rule.contains(r#"namespace=\"nodewatch\""#), "{rule}");
    for o in &r.objects {
        let ns = &o["metadata"]["namespace"];
        assert!(
            ns.is_null() || ns == "ops",
            "{} in {ns}",
            o["metadata"]["name"]
        );
    }
    // The default release's config passes too.
    check_config(&template("nodewatch", "nodewatch", &[]), dir.path());
}

/// `kubectl auth can-i VERB WHAT -n NS` as ServiceAccount `sa_ns/sa`,
/// answered by the real RBAC authorizer; WHAT is `RESOURCE[/NAME]`, then
/// maybe ` --subresource=S`.
fn can(cp: &ControlPlane, (sa_ns, sa): (&str, &str), verb: &str, what: &str, ns: &str) -> bool {
    let who = format!("--as=system:serviceaccount:{sa_ns}:{sa}");
    let mut args = vec!["auth", "can-i", who.as_str(), "-n", ns, verb];
    args.extend(what.split(' '));
    let out = cp.kubectl(&args, None);
    let answer = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        answer == "yes" || answer == "no",
        "kubectl {args:?}: {answer}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    answer == "yes"
}

#[test]
fn installs_upgrades_and_uninstalls_on_the_real_api_server() {
    let cp = ControlPlane::start();
    let kc = cp.admin_kubeconfig();
    // The namespace as README "Install with Helm" creates it: Pod Security
    // `restricted` enforced, so a pod template it would refuse warns.
    for ns in ["nodewatch", "ops"] {
        cp.kubectl_ok(&["create", "namespace", ns], None);
        cp.kubectl_ok(
            &[
                "label",
                "namespace",
                ns,
                "pod-security.kubernetes.io/enforce=restricted",
            ],
            None,
        );
    }
    for (release, ns) in [("nodewatch", "nodewatch"), ("team-a", "ops")] {
        let out = helm(
            &["install", release, CHART, "-n", ns, "--set", "dryRun=true"],
            Some(&kc),
        );
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            out.status.success(),
            "helm install {release}:\n{stdout}{stderr}"
        );
        assert!(
            !stderr.contains("Warning") && !stderr.contains("would violate"),
            "{stderr}"
        );
        assert!(
            stdout.contains("STATUS: deployed") && stdout.contains("DRY-RUN"),
            "{stdout}"
        );
    }
    // Every object of the release is stored.
    let manifest = helm_ok(&["get", "manifest", "team-a", "-n", "ops"], Some(&kc));
    let objects = yaml_documents(&manifest);
    assert!(objects.len() >= 12, "{} objects", objects.len());
    for o in &objects {
        let (kind, name) = (
            o["kind"].as_str().unwrap(),
            o["metadata"]["name"].as_str().unwrap(),
        );
        let stored = cp.get(kind, o["metadata"]["namespace"].as_str(), name);
        assert!(stored.is_some(), "{kind} {name} stored");
    }
    let d = cp
        .get("deployment", Some("ops"), "team-a-nodewatch")
        .expect("Deployment");
    let args = &d["spec"]["template"]["spec"]["containers"][0]["args"];
    assert!(
        args.as_array().unwrap().contains(&json!("--dry-run")),
        "{args}"
    );

    // The real authorizer: each release's ServiceAccount has its own Lease
    // and audit ConfigMap, not the other's, and no eviction until drain.
    let team_a = ("ops", "team-a-nodewatch");
    assert!(can(&cp, team_a, "update", "leases/team-a-nodewatch", "ops"));
    assert!(can(
        &cp,
        team_a,
        "update",
        "configmaps/team-a-nodewatch-audit",
        "ops"
    ));
    assert!(!can(&cp, team_a, "update", "leases/nodewatch", "ops"));
    assert!(!can(&cp, team_a, "update", "leases/nodewatch", "nodewatch"));
    assert!(!can(&cp, team_a, "update", "configmaps/other", "ops"));
    assert!(can(&cp, team_a, "patch", "nodes", "ops"));
    assert!(can(
        &cp,
        team_a,
        "patch",
        "nodes --subresource=status",
        "ops"
    ));
    assert!(!can(
        &cp,
        team_a,
        "create",
        "pods --subresource=eviction",
        "default"
    ));
    assert!(!can(&cp, team_a, "delete", "pods", "default"));
    helm_ok(
        &[
            "upgrade",
            "team-a",
            CHART,
            "-n",
            "ops",
            "--reuse-values",
            "--set",
            "config.kubernetes.drain.enabled=true",
        ],
        Some(&kc),
    );
    assert!(can(
        &cp,
        team_a,
        "create",
        "pods --subresource=eviction",
        "default"
    ));
    assert!(!can(
        &cp,
        ("nodewatch", "nodewatch"),
        "create",
        "pods --subresource=eviction",
        "default"
    ));

    // Uninstall removes everything it created, the Lease included.
    for (release, ns) in [("nodewatch", "nodewatch"), ("team-a", "ops")] {
        helm_ok(&["uninstall", release, "-n", ns], Some(&kc));
    }
    for o in &objects {
        let (kind, name) = (
            o["kind"].as_str().unwrap(),
            o["metadata"]["name"].as_str().unwrap(),
        );
        assert!(
            cp.get(kind, o["metadata"]["namespace"].as_str(), name)
                .is_none(),
            "{kind} {name} gone"
        );
    }
    assert!(cp
        .get("clusterrole", None, "team-a-nodewatch-drain")
        .is_none());
}

/// The check IDs README "Policy check (checkov)" explains.
fn explained_checks() -> std::collections::BTreeSet<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme
        .split("### Policy check (checkov)")
        .nth(1)
        .expect("README section \"Policy check (checkov)\"");
    let section = section.split("\n#").next().unwrap();
    section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .filter(|id| id.starts_with("CKV"))
        .map(str::to_string)
        .collect()
}

#[test]
fn checkov_fails_only_what_the_readme_explains() {
    let checkov = std::env::var_os("NODEWATCH_CHECKOV").unwrap_or_else(|| {
        panic!("NODEWATCH_CHECKOV must name checkov (scripts/test.sh installs it and exports it)")
    });
    // checkov skips hidden directories, and tempdir()'s names start with a dot.
    let dir = tempfile::Builder::new()
        .prefix("nodewatch-checkov")
        .tempdir()
        .expect("tempdir");
    let mut files = 0;
    for k in deploy::KUSTOMIZATIONS {
        let objects = render(k).objects;
        let text: String = objects
            .iter()
            .map(|o| format!("---\n{}", serde_yaml::to_string(o).unwrap()))
            .collect();
        std::fs::write(dir.path().join(format!("kustomize-{files}.yaml")), text).unwrap();
        files += 1;
    }
    for extra in [
        vec![],
        vec![
            "--set",
            "dryRun=true",
            "--set",
            "prometheusOperator.enabled=true",
            "--set",
            "notifications.secretName=n",
            "--set",
            "config.kubernetes.drain.enabled=true",
        ],
    ] {
        let mut args = vec!["template", "nodewatch", CHART, "--namespace", "nodewatch"];
        args.extend(&extra);
        std::fs::write(
            dir.path().join(format!("helm-{files}.yaml")),
            helm_ok(&args, None),
        )
        .unwrap();
        files += 1;
    }
    let out = Command::new(checkov)
        .args([
            "--framework",
            "kubernetes",
            "--skip-download",
            "--quiet",
            "--compact",
            "-o",
            "json",
            "-d",
        ])
        .arg(dir.path())
        .output()
        .expect("run checkov");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "checkov printed no JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let summary = &report["summary"];
    assert_eq!(summary["parsing_errors"], 0, "{summary}");
    assert!(
        summary["passed"].as_u64().unwrap() > 100,
        "checkov ran its checks: {summary}"
    );
    let failed: std::collections::BTreeSet<String> = report["results"]["failed_checks"]
        .as_array()
        .expect("failed_checks")
        .iter()
        .map(|f| f["check_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        failed,
        explained_checks(),
        "checkov's failed checks and README \"Policy check (checkov)\" must list the same IDs ({summary})"
    );
}
