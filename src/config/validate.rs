//! [`Config::validate`]: every value the types alone do not constrain —
//! ranges, names, the Lease timing, Prometheus and sink settings — checked
//! in one place, so `nodewatch check --config` rejects exactly what
//! `nodewatch run` would. Each error names file, line and field.

use super::names::{is_dns1123_label, is_dns1123_subdomain, is_k8s_label_key};
use super::{yaml, Config, ConfigError, ConfigErrors};
use crate::time::Duration;

/// Largest `engine.baseline_len`: a day of 30 s ticks. Memory grows with
/// nodes × signals × this.
pub const MAX_BASELINE_LEN: usize = 2880;

impl Config {
    /// Checks every value; all problems are reported, each with the file
    /// and line of its field (the line of the nearest enclosing key when the
    /// field is not written out, e.g. a default that conflicts).
    /// Against the built-in rules; see [`validate_with`](Self::validate_with).
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        self.validate_with(&crate::catalog::Catalog::builtin())
    }

    /// Checks every value, and what refers to the rules in use (a pool's
    /// `thresholds` name rules of `catalog`; its `hub` needs a hub signal).
    pub fn validate_with(&self, catalog: &crate::catalog::Catalog) -> Result<(), ConfigErrors> {
        let mut out = Problems(Vec::new());
        problems(self, &mut out);
        for (field, message) in super::policy::catalog_problems(&self.governor.pools, catalog) {
            out.push(field, message);
        }
        let out = out.0;
        if out.is_empty() {
            return Ok(());
        }
        let errors = out
            .into_iter()
            .map(|(field, message)| {
                // `"Host": …` names the entry of a map (headers): point at it.
                let entry = message
                    .strip_prefix('"')
                    .and_then(|m| m.split_once("\": "))
                    .map(|(k, _)| format!("{field}.{k}"));
                ConfigError {
                    file: self.source.file.clone(),
                    line: yaml::line_of(&self.source.text, entry.as_deref().unwrap_or(&field)),
                    message: format!("{field}: {message}"),
                }
            })
            .collect();
        Err(ConfigErrors(errors))
    }
}

/// `(field, message)` pairs.
struct Problems(Vec<(String, String)>);

impl Problems {
    fn push(&mut self, field: String, message: String) {
        self.0.push((field, message));
    }

    fn range01(&mut self, field: &str, v: f64) {
        if !(0.0..=1.0).contains(&v) {
            self.0
                .push((field.into(), format!("must be within 0..1, got {v}")));
        }
    }

    fn positive(&mut self, field: &str, d: Duration) {
        if d.0 <= 0 {
            self.0
                .push((field.into(), format!("must be positive, got {d}")));
        }
    }
}

fn problems(cfg: &Config, p: &mut Problems) {
    let e = &cfg.engine;
    p.range01("engine.unhealthy_score", e.unhealthy_score);
    p.range01(
        "engine.common_cause.min_fraction",
        e.common_cause.min_fraction,
    );
    let g = &cfg.governor;
    p.range01("governor.max_fraction", g.max_fraction);
    p.range01("governor.max_unhealthy_fraction", g.max_unhealthy_fraction);

    if e.step < Duration::secs(1) || e.step > Duration::mins(60) {
        p.push(
            "engine.step".into(),
            format!("must be within 1s..1h, got {}", e.step),
        );
    }
    if !(2..=MAX_BASELINE_LEN).contains(&e.baseline_len) {
        p.push(
            "engine.baseline_len".into(),
            format!(
                "must be within 2..{MAX_BASELINE_LEN}, got {}",
                e.baseline_len
            ),
        );
    }
    if e.common_cause.min_nodes == 0 {
        p.push(
            "engine.common_cause.min_nodes".into(),
            "must be at least 1".into(),
        );
    }
    if !is_k8s_label_key(&e.pool_label) {
        p.push(
            "engine.pool_label".into(),
            format!("{:?} is not a Kubernetes label key", e.pool_label),
        );
    }
    if let Some(d) = e.uncordon_after {
        p.positive("engine.uncordon_after", d);
    }
    for (field, d) in [
        ("governor.min_interval", g.min_interval),
        ("governor.cooldown", g.cooldown),
        ("governor.healthy_period", g.healthy_period),
    ] {
        if d.0 < 0 {
            p.push(field.into(), format!("must not be negative, got {d}"));
        }
    }

    let h = &cfg.governor.hold_while_alerts;
    let url = h.alertmanager.starts_with("http://") || h.alertmanager.starts_with("https://");
    if !h.alerts.is_empty() && !url {
        p.push(
            "governor.hold_while_alerts.alertmanager".into(),
            "must be Alertmanager's http(s) URL when alerts are named".into(),
        );
    }
    if h.alerts.iter().any(|a| a.trim().is_empty()) {
        p.push(
            "governor.hold_while_alerts.alerts".into(),
            "an alert name is empty".into(),
        );
    }
    p.positive("governor.hold_while_alerts.timeout", h.timeout);
    let g = &cfg.governor;
    for (field, message) in super::policy::problems(
        &g.pools,
        &g.maintenance_windows,
        cfg.kubernetes.drain.enabled,
    ) {
        p.push(field, message);
    }
    let k = &cfg.kubernetes;
    p.positive("kubernetes.write_backoff", k.write_backoff);
    p.positive("kubernetes.watch_backoff_max", k.watch_backoff_max);
    p.positive("kubernetes.drain.timeout", k.drain.timeout);
    p.positive("kubernetes.drain.retry_backoff", k.drain.retry_backoff);
    if let Some(g) = k.drain.grace_period {
        // Whole seconds, as the API takes them; a day is already absurd.
        if !(0..=86_400_000).contains(&g.0) {
            p.push(
                "kubernetes.drain.grace_period".into(),
                format!("must be 0s..24h, got {g}"),
            );
        }
    }
    p.positive("serve.history_retention", cfg.serve.history_retention);
    if let Some(id) = &k.identity {
        // The identity is the Lease holder, an annotation value and the
        // Events' reportingInstance (at most 128 characters there).
        if id.trim().is_empty() || id.len() > 128 || id.chars().any(char::is_control) {
            p.push(
                "kubernetes.identity".into(),
                format!(
                    "must be 1..128 printable characters, got {id:?} (leave it out for $POD_NAME)"
                ),
            );
        }
    }
    if !(1..=20).contains(&k.write_attempts) {
        p.push(
            "kubernetes.write_attempts".into(),
            format!("must be within 1..20, got {}", k.write_attempts),
        );
    }
    if !is_dns1123_label(&k.event_namespace) {
        p.push(
            "kubernetes.event_namespace".into(),
            format!(
                "{:?} is not a namespace name (DNS-1123 label)",
                k.event_namespace
            ),
        );
    }
    let l = &k.lease;
    if !is_dns1123_subdomain(&l.name) {
        p.push(
            "kubernetes.lease.name".into(),
            format!("{:?} is not a Lease name (DNS-1123 subdomain)", l.name),
        );
    }
    if !is_dns1123_label(&l.namespace) {
        p.push(
            "kubernetes.lease.namespace".into(),
            format!("{:?} is not a namespace name (DNS-1123 label)", l.namespace),
        );
    }
    // A holder must give up acting before anyone else may take over.
    if l.renew_deadline.0 <= 0 || l.renew_deadline >= l.duration {
        p.push(
            "kubernetes.lease.renew_deadline".into(),
            format!(
                "must be positive and shorter than duration ({}), got {}",
                l.duration, l.renew_deadline
            ),
        );
    }
    if l.retry_period.0 <= 0 || l.retry_period >= l.renew_deadline {
        p.push(
            "kubernetes.lease.retry_period".into(),
            format!(
                "must be positive and shorter than renew_deadline ({}), got {}",
                l.renew_deadline, l.retry_period
            ),
        );
    }

    let sv = &cfg.serve;
    for (field, n) in [
        ("serve.history_max_bytes", sv.history_max_bytes),
        ("serve.max_response_bytes", sv.max_response_bytes),
        ("serve.query_max_samples", sv.query_max_samples as u64),
        // 0 would queue every query forever.
        (
            "serve.query_max_concurrency",
            sv.query_max_concurrency as u64,
        ),
        ("serve.max_connections", sv.max_connections as u64),
    ] {
        if n == 0 {
            p.push(field.into(), "must be positive".into());
        }
    }
    p.positive("serve.query_timeout", sv.query_timeout);
    p.positive("serve.header_read_timeout", sv.header_read_timeout);
    p.positive("serve.request_timeout", sv.request_timeout);
    if let Some(prom) = &cfg.prometheus {
        if let Err(e) = prom.validate() {
            p.push(format!("prometheus.{}", e.field), e.message);
        }
    }
    for (field, message) in cfg.sinks.problems() {
        // Sink messages start with the sub-field (`headers: …`); locate it.
        let (field, message) = match message.split_once(": ") {
            Some((sub, rest)) if sub.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') => {
                (format!("{field}.{sub}"), rest.to_string())
            }
            _ => (field, message),
        };
        p.push(field, message);
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::path::Path;

    /// The validation errors of `text`, as printed.
    pub(crate) fn errors(text: &str) -> Vec<String> {
        let cfg = Config::parse(text, Path::new("c.yaml")).expect("parses");
        match cfg.validate() {
            Ok(()) => Vec::new(),
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn defaults_and_the_shipped_configs_are_valid() {
        assert_eq!(errors(""), Vec::<String>::new());
        for f in [
            "deploy/base/config.yaml",
            "deploy/components/notifications/config.yaml",
        ] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(f);
            let cfg = Config::load(&path).unwrap();
            assert!(cfg.validate().is_ok(), "{f}: {:?}", cfg.validate());
        }
    }

    #[test]
    fn each_value_is_checked_with_file_line_and_field() {
        let cases: &[(&str, &str)] = &[
            ("governor:\n  max_fraction: 2\n", "c.yaml:2: governor.max_fraction: must be within 0..1"),
            ("governor:\n  max_fraction: .nan\n", "c.yaml:2: governor.max_fraction: must be within 0..1, got NaN"),
            ("engine:\n  unhealthy_score: 1.5\n", "c.yaml:2: engine.unhealthy_score"),
            ("engine:\n  step: 0s\n", "c.yaml:2: engine.step: must be within 1s..1h"),
            ("engine:\n  baseline_len: 100000000\n", "c.yaml:2: engine.baseline_len"),
            ("engine:\n  pool_label: 'bad label'\n", "c.yaml:2: engine.pool_label"),
            ("kubernetes:\n  identity: ''\n", "c.yaml:2: kubernetes.identity: must be 1..128"),
            ("kubernetes:\n  event_namespace: Not_A_Namespace\n", "c.yaml:2: kubernetes.event_namespace"),
            ("kubernetes:\n  lease:\n    name: x\n    duration: 10s\n    renew_deadline: 10s\n", "c.yaml:5: kubernetes.lease.renew_deadline"),
            ("kubernetes:\n  write_attempts: 0\n", "c.yaml:2: kubernetes.write_attempts"),
            ("kubernetes:\n  drain:\n    timeout: 0s\n", "c.yaml:3: kubernetes.drain.timeout"),
            ("governor:\n  hold_while_alerts:\n    alerts: [Upgrade]\n", "c.yaml:2: governor.hold_while_alerts.alertmanager"),
            ("governor:\n  maintenance_windows:\n    - {schedule: '0 2 * *', duration: 4h}\n", "c.yaml:3: governor.maintenance_windows[0].schedule: \"0 2 * *\" has 4 fields"),
            ("governor:\n  maintenance_windows:\n    - name: w\n      schedule: '0 25 * * SAT'\n      duration: 4h\n", "c.yaml:4: governor.maintenance_windows[0].schedule: hour field"),
            ("governor:\n  maintenance_windows:\n    - schedule: '0 2 * * SAT'\n      duration: 4h\n      timezone: Europe/Berlln\n", "c.yaml:5: governor.maintenance_windows[0].timezone: unknown time zone \"Europe/Berlln\""),
            ("governor:\n  maintenance_windows:\n    - schedule: '0 2 * * SAT'\n      duration: 0s\n", "c.yaml:4: governor.maintenance_windows[0].duration: must be positive"),
            ("governor:\n  maintenance_windows:\n    - schedule: '0 2 * * SAT'\n      duration: 1h\n      pools: [gpu]\n", "c.yaml:5: governor.maintenance_windows[0].pools: \"gpu\" is not the name"),
            ("governor:\n  pools:\n    - name: gpu\n      selector: {}\n", "c.yaml:4: governor.pools[0].selector: selects every node"),
            ("governor:\n  pools:\n    - name: gpu\n      selector: {pool: [gpu]}\n      mode: drain\n", "c.yaml:5: governor.pools[0].mode: drain needs kubernetes.drain.enabled"),
            ("governor:\n  pools:\n    - name: gpu\n      selector: {pool: [gpu]}\n      min_score: 2\n", "c.yaml:5: governor.pools[0].min_score: must be within 0..1"),
            ("serve:\n  history_max_bytes: 0\n", "c.yaml:2: serve.history_max_bytes"),
            ("serve:\n  query_max_concurrency: 0\n", "c.yaml:2: serve.query_max_concurrency"),
            ("serve:\n  request_timeout: 0s\n", "c.yaml:2: serve.request_timeout"),
            ("prometheus:\n  url: http://p\n  headers:\n    Host: evil\n", "c.yaml:4: prometheus.headers: \"Host\": set by the HTTP client"),
            ("sinks:\n  webhooks:\n    - name: a\n      url: http://a\n      headers: {Connection: close}\n", "c.yaml:5: sinks.webhooks[0].headers: \"Connection\""),
            ("sinks:\n  webhooks:\n    - name: a\n      url: http://a\n    - name: a\n      url: http://b\n", "c.yaml:5: sinks.webhooks[1]: name \"a\" is used twice"),
        ];
        for (text, want) in cases {
            let errs = errors(text);
            assert!(errs.iter().any(|e| e.starts_with(want)), "{text}: {errs:?}");
        }
    }

    #[test]
    fn command_line_values_are_checked_too() {
        // `run --identity ''` without a file: no file or line to name.
        let mut cfg = Config::default();
        cfg.kubernetes.identity = Some(String::new());
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.starts_with("kubernetes.identity: must be 1..128"), "{e}");
    }

    #[test]
    fn every_problem_is_reported_not_just_the_first() {
        let errs = errors(
            "kubernetes:\n  lease: {duration: 10s, renew_deadline: 10s}\ngovernor: {max_fraction: 2}\n",
        );
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(
            errs[0].starts_with("c.yaml:3: governor.max_fraction"),
            "{errs:?}"
        );
        assert!(
            errs[1].starts_with("c.yaml:2: kubernetes.lease.renew_deadline"),
            "{errs:?}"
        );
        // Two broken sinks: both reported.
        let errs = errors(
            "sinks:\n  webhooks:\n    - {name: a, url: http://a, headers: {Host: x}}\n  \
             grafana:\n    - {name: g, url: http://g, token: {env: T}, panel_id: 3}\n",
        );
        assert!(errs.len() >= 2, "{errs:?}");
        assert!(
            errs[0].starts_with("c.yaml:3: sinks.webhooks[0].headers"),
            "{errs:?}"
        );
        assert!(
            errs[1].starts_with("c.yaml:5: sinks.grafana[0]"),
            "{errs:?}"
        );
    }
}
