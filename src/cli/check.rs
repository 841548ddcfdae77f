//! `nodewatch check --config FILE`: validates an agent configuration file
//! the way `nodewatch run` loads it, without a cluster, so a ConfigMap can
//! be checked before it is applied (README, "Run it in your cluster").
//!
//! Beyond parsing (unknown fields, types: file, line and field), it runs
//! [`Config::validate`], the same check `nodewatch run` makes: value
//! ranges, names, the Lease timing, Prometheus and sink settings. Secrets are not read —
//! they exist only where the Secret is mounted — but every reference to one
//! is listed, so the operator sees which files and variables the pod needs.

use anyhow::{bail, Result};
use nodewatch::catalog::Catalog;
use nodewatch::config::Config;
use serde_yaml::Value;
use std::fmt::Write as _;
use std::path::Path;

/// Validates the file with [`Config::validate`] (the check `run` makes)
/// and returns the report to print.
pub fn config(path: &Path, catalog: &Catalog) -> Result<String> {
    let cfg = Config::load(path)?;
    if let Err(errors) = cfg.validate_with(catalog) {
        for e in &errors.0 {
            eprintln!("error: {e}");
        }
        bail!("{} error(s) in {}", errors.0.len(), path.display());
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
    let sinks = cfg.sinks.summary();
    let _ = writeln!(out, "prometheus: {prom}; sinks: {sinks}");
    for p in &g.pools {
        let mode = p.mode.map_or("as every node", |m| m.as_str());
        let mut extra = String::new();
        if !p.hub.is_empty() {
            let m: Vec<String> = p
                .hub
                .iter()
                .map(|m| format!("{}{}{:?}", m.label, m.op.as_str(), m.value))
                .collect();
            extra += &format!(", hub {{{}}}", m.join(","));
        }
        if !p.thresholds.is_empty() {
            let t: Vec<&str> = p.thresholds.keys().map(String::as_str).collect();
            extra += &format!(", own thresholds for {}", t.join(", "));
        }
        let _ = writeln!(out, "pool policy: {} ({mode}{extra})", p.name);
    }
    for w in &g.maintenance_windows {
        let _ = writeln!(
            out,
            "maintenance window: {} ({}, {}, {}): cordons held",
            w.label(),
            w.schedule,
            w.duration,
            w.timezone
        );
    }
    // The raw document names the references exactly as written.
    let doc: Value = serde_yaml::from_str(cfg.source_text())?;
    let mut refs = Vec::new();
    secret_refs(&doc, String::new(), &mut refs);
    for (field, what) in refs {
        let _ = writeln!(out, "secret: {field} <- {what} (read at start)");
    }
    Ok(out)
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
}
