//! `nodewatch check --config FILE`: validates an agent configuration file
//! the way `nodewatch run` loads it, without a cluster, so a ConfigMap can
//! be checked before it is applied (README, "Run it in your cluster").
//!
//! Beyond parsing (unknown fields, types: file, line and field), it checks
//! what a start would otherwise find only in the cluster: value ranges,
//! the Lease timing, Prometheus and sink settings. Secrets are not read —
//! they exist only where the Secret is mounted — but every reference to one
//! is listed, so the operator sees which files and variables the pod needs.

use anyhow::{bail, Result};
use nodewatch::config::Config;
use serde_yaml::Value;
use std::fmt::Write as _;
use std::path::Path;

/// Validates the file and returns the report to print.
pub fn config(path: &Path) -> Result<String> {
    let cfg = Config::load(path)?;
    let mut problems = Vec::new();
    semantic_problems(&cfg, &mut problems);
    if let Some(p) = &cfg.prometheus {
        if let Err(e) = p.validate() {
            problems.push(e.to_string());
        }
    }
    if let Err(e) = cfg.sinks.validate() {
        problems.push(e.to_string());
    }
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("error: {}: {p}", path.display());
        }
        bail!("{} error(s) in {}", problems.len(), path.display());
    }

    let mut out = String::new();
    let g = &cfg.governor;
    let _ = writeln!(
        out,
        "OK: config {}: step {}, dry_run {}, paused {}, lease {}/{}",
        path.display(),
        cfg.engine.step,
        g.dry_run,
        g.paused,
        cfg.kubernetes.lease.namespace,
        cfg.kubernetes.lease.name
    );
    // Redacted: the URL may carry credentials.
    let prom = cfg.prometheus.as_ref().map_or_else(
        || "none (metric signals unknown, no cordons)".to_string(),
        |p| nodewatch::outbound::redact_url(&p.url),
    );
    let s = &cfg.sinks;
    let _ = writeln!(
        out,
        "prometheus: {prom}; sinks: {} alertmanager URL(s), {} webhook(s), {} email, {} grafana",
        s.alertmanager.as_ref().map_or(0, |a| a.urls.len()),
        s.webhooks.len(),
        s.email.len(),
        s.grafana.len()
    );
    // The raw document names the references exactly as written.
    let text = std::fs::read_to_string(path)?;
    let doc: Value = serde_yaml::from_str(&text)?;
    let mut refs = Vec::new();
    secret_refs(&doc, String::new(), &mut refs);
    for (field, what) in refs {
        let _ = writeln!(out, "secret: {field} <- {what} (read at start)");
    }
    Ok(out)
}

/// Ranges and combinations the types alone do not enforce.
fn semantic_problems(cfg: &Config, out: &mut Vec<String>) {
    if cfg.engine.step.0 <= 0 {
        out.push(format!(
            "engine.step: must be positive, got {}",
            cfg.engine.step
        ));
    }
    let g = &cfg.governor;
    for (field, v) in [
        ("governor.max_fraction", g.max_fraction),
        ("governor.max_unhealthy_fraction", g.max_unhealthy_fraction),
        ("governor.unhealthy_score", g.unhealthy_score),
    ] {
        if !(0.0..=1.0).contains(&v) {
            out.push(format!("{field}: must be within 0..1, got {v}"));
        }
    }
    let l = &cfg.kubernetes.lease;
    if l.name.is_empty() || l.namespace.is_empty() {
        out.push("kubernetes.lease: name and namespace must not be empty".into());
    }
    // A holder must give up acting before anyone else may take over.
    if l.renew_deadline.0 <= 0 || l.renew_deadline >= l.duration {
        out.push(format!(
            "kubernetes.lease.renew_deadline: must be positive and shorter than duration ({}), got {}",
            l.duration, l.renew_deadline
        ));
    }
    if l.retry_period.0 <= 0 || l.retry_period >= l.renew_deadline {
        out.push(format!(
            "kubernetes.lease.retry_period: must be positive and shorter than renew_deadline ({}), got {}",
            l.renew_deadline, l.retry_period
        ));
    }
}

/// Collects `{file: PATH}` / `{env: VAR}` secrets and `*_file` settings
/// (token and password files) with their field paths.
fn secret_refs(v: &Value, path: String, out: &mut Vec<(String, String)>) {
    match v {
        Value::Mapping(m) => {
            let keys: Vec<&str> = m.keys().filter_map(Value::as_str).collect();
            if keys == ["file"] || keys == ["env"] {
                let val = m.values().next().and_then(Value::as_str).unwrap_or("");
                out.push((path, format!("{} {val}", keys[0])));
                return;
            }
            for (k, child) in m {
                let Some(k) = k.as_str() else { continue };
                let p = if path.is_empty() {
                    k.to_string()
                } else {
                    format!("{path}.{k}")
                };
                let is_secret_file = k.ends_with("_file") && k != "ca_file";
                match (is_secret_file, child.as_str()) {
                    (true, Some(f)) => out.push((p, format!("file {f}"))),
                    _ => secret_refs(child, p, out),
                }
            }
        }
        Value::Sequence(items) => {
            for (i, child) in items.iter().enumerate() {
                secret_refs(child, format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_references_are_listed_with_their_fields() {
        let doc: Value = serde_yaml::from_str(
            "sinks:\n  webhooks:\n    - name: a\n      hmac_secret: {file: /s/hmac}\n  email:\n    - smtp: {password: {env: PW}}\n\
             prometheus:\n  bearer_token_file: /s/prom\n  ca_file: /ca.pem\n",
        )
        .unwrap();
        let mut refs = Vec::new();
        secret_refs(&doc, String::new(), &mut refs);
        assert_eq!(
            refs,
            vec![
                (
                    "sinks.webhooks[0].hmac_secret".to_string(),
                    "file /s/hmac".to_string()
                ),
                (
                    "sinks.email[0].smtp.password".to_string(),
                    "env PW".to_string()
                ),
                (
                    "prometheus.bearer_token_file".to_string(),
                    "file /s/prom".to_string()
                ),
            ]
        );
    }

    #[test]
    fn impossible_lease_timing_is_an_error() {
        let cfg = Config::parse(
            "kubernetes:\n  lease: {duration: 10s, renew_deadline: 10s}\ngovernor: {max_fraction: 2}\n",
            Path::new("c.yaml"),
        )
        .unwrap();
        let mut problems = Vec::new();
        semantic_problems(&cfg, &mut problems);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].starts_with("governor.max_fraction"),
            "{problems:?}"
        );
        assert!(
            problems[1].starts_with("kubernetes.lease.renew_deadline"),
            "{problems:?}"
        );
    }
}
