//! The rendered nodewatch container as a local process: its command line
//! (the container's args with mounted paths moved below a temp dir, a
//! loopback `--listen`, a kubeconfig in place of the in-cluster config)
//! and its environment as the kubelet fills it in, for the tests that run
//! the rendered manifests against the fake or the real API server.

use super::{flag, remap_args, Rendered};
use std::path::Path;

/// The pod name the container runs under.
pub const POD_NAME: &str = "nodewatch-6d8f7c9b5-x2x7q";

/// The container's environment as the kubelet fills it in.
pub fn container_env(r: &Rendered) -> Vec<(String, String)> {
    r.container()
        .env
        .unwrap_or_default()
        .into_iter()
        .map(|e| {
            let field = e
                .value_from
                .as_ref()
                .and_then(|f| f.field_ref.as_ref())
                .map(|f| f.field_path.as_str());
            let value = match (e.value.clone(), field) {
                (Some(v), _) => v,
                (None, Some("metadata.name")) => POD_NAME.to_string(),
                (None, Some("metadata.namespace")) => "nodewatch".to_string(),
                _ => panic!(
                    "{}: env {} has a source this test cannot fill in",
                    r.dir, e.name
                ),
            };
            (e.name, value)
        })
        .collect()
}

/// `nodewatch run` with the container's args as the kubelet would start
/// it, its volumes laid out below `dir`, listening on `addr`, talking to
/// the API server of `kubeconfig`, and every outside address of its config
/// pointed at loopback.
pub fn container_command(r: &Rendered, dir: &Path, addr: &str, kubeconfig: &Path) -> Vec<String> {
    let mounts = r.materialize(dir);
    let mut args: Vec<String> = remap_args(&r.args(), &mounts, dir)
        .into_iter()
        .map(|a| {
            if a.starts_with("--listen=") {
                format!("--listen={addr}")
            } else {
                a
            }
        })
        .collect();
    loopback_only(Path::new(&flag(&args, "--config").expect("--config")));
    args.insert(0, "run".into());
    args.push(format!("--kubeconfig={}", kubeconfig.display()));
    args
}

/// Points every outside address of the mounted config file (Prometheus,
/// sinks) at a closed port on 127.0.0.1, so the test stays on loopback.
/// Nothing else of the rendered file changes.
pub fn loopback_only(config: &Path) {
    let closed = format!("http://{}", super::free_addr());
    let text = std::fs::read_to_string(config).expect("mounted config");
    let mut doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("config YAML");
    let url = serde_yaml::Value::from(closed.as_str());
    if let Some(p) = doc.get_mut("prometheus") {
        p["url"] = url.clone();
    }
    if let Some(s) = doc.get_mut("sinks") {
        s["external_url"] = url.clone();
        if let Some(am) = s.get_mut("alertmanager") {
            am["urls"] = serde_yaml::Value::Sequence(vec![url.clone()]);
        }
        for list in ["webhooks", "grafana"] {
            for x in s
                .get_mut(list)
                .and_then(|v| v.as_sequence_mut())
                .into_iter()
                .flatten()
            {
                x["url"] = url.clone();
            }
        }
        for e in s
            .get_mut("email")
            .and_then(|v| v.as_sequence_mut())
            .into_iter()
            .flatten()
        {
            e["smtp"]["host"] = "127.0.0.1".into();
        }
    }
    std::fs::write(config, serde_yaml::to_string(&doc).expect("YAML")).expect("rewrite config");
}
