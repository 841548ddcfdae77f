//! Support for the deployment tests (`tests/deploy/*.rs`): renders the
//! kustomizations in `deploy/` with `kubectl kustomize`, finds objects in
//! the output, and lays out what the nodewatch container would see (its
//! ConfigMap and Secret volumes) in a temporary directory, so the rendered
//! manifests can be run rather than only read.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Container;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod process;
pub use process::{free_addr, get, Process};
mod container;
pub use container::{container_command, container_env, loopback_only, POD_NAME};

/// Every kustomization a user may apply.
pub const KUSTOMIZATIONS: &[&str] = &[
    "deploy/base",
    "deploy/overlays/dry-run",
    "deploy/overlays/prometheus-operator",
    "deploy/overlays/example-notifications",
];

/// The repository root.
pub fn root() -> PathBuf {
    crate::repo_root()
}

/// `kubectl kustomize DIR` (DIR relative to the repository root), as
/// objects. Fails with a clear message when kubectl is missing.
pub fn render(dir: &str) -> Rendered {
    let out = match Command::new("kubectl")
        .arg("kustomize")
        .arg(root().join(dir))
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "kubectl is not installed (or not on PATH): the deployment tests render deploy/ with \
             `kubectl kustomize` (kubectl includes kustomize since 1.14). Install kubectl, e.g. \
             as /usr/bin/kubectl; scripts/test.sh checks for it first."
        ),
        Err(e) => panic!("cannot run kubectl: {e}"),
    };
    assert!(
        out.status.success(),
        "kubectl kustomize {dir} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("kustomize prints UTF-8");
    Rendered {
        dir: dir.to_string(),
        objects: yaml_documents(&text),
    }
}

/// Every document of a multi-document YAML text, as JSON values.
pub fn yaml_documents(text: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_yaml::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).expect("a YAML document"))
        .filter(|v| !v.is_null())
        .collect()
}

/// The output of one kustomization.
pub struct Rendered {
    /// The kustomization, relative to the repository root.
    pub dir: String,
    /// Objects in output order.
    pub objects: Vec<Value>,
}

impl Rendered {
    /// Objects of a kind.
    pub fn of_kind(&self, kind: &str) -> Vec<&Value> {
        self.objects.iter().filter(|o| o["kind"] == kind).collect()
    }

    /// The one object of `kind` called `name`.
    pub fn get(&self, kind: &str, name: &str) -> &Value {
        let found: Vec<_> = self
            .of_kind(kind)
            .into_iter()
            .filter(|o| o["metadata"]["name"] == name)
            .collect();
        assert_eq!(found.len(), 1, "{}: exactly one {kind} {name}", self.dir);
        found[0]
    }

    /// The one object of `kind` generated from `base` (kustomize appends a
    /// hash of the content to generated names).
    pub fn generated(&self, kind: &str, base: &str) -> &Value {
        let found: Vec<_> = self
            .of_kind(kind)
            .into_iter()
            .filter(|o| {
                let n = o["metadata"]["name"].as_str().unwrap_or("");
                n.strip_prefix(base)
                    .and_then(|r| r.strip_prefix('-'))
                    .is_some_and(|h| h.len() == 10)
            })
            .collect();
        assert_eq!(
            found.len(),
            1,
            "{}: exactly one generated {kind} {base}-<hash>",
            self.dir
        );
        found[0]
    }

    /// The nodewatch Deployment, typed.
    pub fn deployment(&self) -> Deployment {
        serde_json::from_value(self.get("Deployment", "nodewatch").clone()).expect("Deployment")
    }

    /// The nodewatch container.
    pub fn container(&self) -> Container {
        let d = self.deployment();
        let spec = d.spec.and_then(|s| s.template.spec).expect("pod spec");
        spec.containers
            .into_iter()
            .find(|c| c.name == "nodewatch")
            .expect("container nodewatch")
    }

    /// The container's args.
    pub fn args(&self) -> Vec<String> {
        self.container().args.unwrap_or_default()
    }

    /// Writes every ConfigMap and Secret volume the container mounts under
    /// `dir` + its mount path, with the content of the rendered objects, as
    /// the kubelet would. Returns the mount paths.
    pub fn materialize(&self, dir: &Path) -> Vec<String> {
        let d = self.deployment();
        let spec = d.spec.and_then(|s| s.template.spec).expect("pod spec");
        let mounts = self.container().volume_mounts.unwrap_or_default();
        let mut done = Vec::new();
        for m in mounts {
            let vol = spec
                .volumes
                .iter()
                .flatten()
                .find(|v| v.name == m.name)
                .expect("mounted volume exists");
            let files: Vec<(String, Vec<u8>)> = if let Some(cm) = &vol.config_map {
                let obj = self.get("ConfigMap", &cm.name);
                obj["data"]
                    .as_object()
                    .expect("ConfigMap data")
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().expect("text").as_bytes().to_vec()))
                    .collect()
            } else if let Some(sec) = &vol.secret {
                let name = sec.secret_name.as_deref().expect("secretName");
                let s: k8s_openapi::api::core::v1::Secret =
                    serde_json::from_value(self.get("Secret", name).clone()).expect("Secret");
                s.data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, v.0))
                    .collect()
            } else {
                continue;
            };
            let target = under(dir, &m.mount_path);
            std::fs::create_dir_all(&target).expect("mount dir");
            for (k, v) in files {
                std::fs::write(target.join(k), v).expect("write mounted file");
            }
            done.push(m.mount_path.clone());
        }
        // Paths to other mounts inside the mounted files (secrets named by
        // the config file) move below `dir` too, as if it were the
        // container's root.
        for m in &done {
            for f in std::fs::read_dir(under(dir, m))
                .expect("mount dir")
                .flatten()
            {
                let Ok(text) = std::fs::read_to_string(f.path()) else {
                    continue;
                };
                let mut moved = text.clone();
                for other in &done {
                    moved = moved.replace(
                        &format!("{other}/"),
                        &format!("{}/", under(dir, other).display()),
                    );
                }
                if moved != text {
                    std::fs::write(f.path(), moved).expect("rewrite mounted file");
                }
            }
        }
        done
    }
}

/// `path` (absolute inside the container) below `dir`.
pub fn under(dir: &Path, path: &str) -> PathBuf {
    dir.join(path.trim_start_matches('/'))
}

/// The container's args with every value inside a mounted path moved
/// below `dir` (after [`Rendered::materialize`]).
pub fn remap_args(args: &[String], mounts: &[String], dir: &Path) -> Vec<String> {
    args.iter()
        .map(|a| match a.split_once('=') {
            Some((flag, value)) if mounts.iter().any(|m| value.starts_with(m.as_str())) => {
                format!("{flag}={}", under(dir, value).display())
            }
            _ => a.clone(),
        })
        .collect()
}

/// The value of `--name=VALUE` in `args`.
pub fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .find_map(|a| a.strip_prefix(name)?.strip_prefix('=').map(str::to_string))
}

/// Runs the built `nodewatch` binary in the repository root.
pub fn nodewatch(args: &[&str]) -> Output {
    Command::new(crate::nodewatch_bin())
        .args(args)
        .current_dir(root())
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("run nodewatch")
}

/// Like [`nodewatch`], asserting success; returns stdout.
pub fn nodewatch_ok(args: &[&str]) -> String {
    let out = nodewatch(args);
    assert!(
        out.status.success(),
        "nodewatch {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The README's section under `## {title}`, up to the next `## `.
pub fn readme_section(title: &str) -> String {
    let text = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let start = text
        .find(&format!("\n## {title}\n"))
        .unwrap_or_else(|| panic!("README has no section \"## {title}\""));
    let rest = &text[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 4);
    rest[..end].to_string()
}

/// The shell commands in a Markdown text's ```sh blocks, with `\`
/// continuations joined and comments dropped.
pub fn sh_commands(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_block = false;
    let mut pending = String::new();
    for line in markdown.lines() {
        let t = line.trim();
        if t.starts_with("```") {
            in_block = !in_block && (t == "```sh" || t == "```bash");
            continue;
        }
        if !in_block || t.is_empty() || t.starts_with('#') {
            continue;
        }
        match t.strip_suffix('\\') {
            Some(part) => pending.push_str(part),
            None => {
                pending.push_str(t);
                out.push(
                    std::mem::take(&mut pending)
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" "),
                );
            }
        }
    }
    out
}
