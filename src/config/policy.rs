//! The governor's pool policies and maintenance windows, checked for
//! [`Config::validate`](super::Config::validate): names, selectors (one
//! that selects every node, or that an earlier policy already takes
//! whole: first match wins), modes the rest of the config cannot honour,
//! cron schedules, time zones and durations.

use super::names::is_k8s_label_key;
use crate::act::{Mode, PoolPolicy, WindowSettings};
use crate::catalog::Catalog;

/// Every problem as `(field, message)`; `drain` is whether
/// `kubernetes.drain.enabled`.
pub(super) fn problems(
    pools: &[PoolPolicy],
    windows: &[WindowSettings],
    drain: bool,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, p) in pools.iter().enumerate() {
        let at = |sub: &str| format!("governor.pools[{i}].{sub}");
        if p.name.trim().is_empty() {
            out.push((at("name"), "must not be empty".into()));
        } else if pools[..i].iter().any(|q| q.name == p.name) {
            out.push((at("name"), format!("{:?} is used twice", p.name)));
        }
        let s = &p.selector;
        if s.pool.is_empty() && s.match_labels.is_empty() {
            out.push((
                at("selector"),
                "selects every node: name pool values or match_labels (the global settings are for the rest)".into(),
            ));
        } else if let Some(j) = (0..i).find(|&j| pools[j].selector.covers(s)) {
            out.push((
                at("selector"),
                format!(
                    "never matches: governor.pools[{j}] ({}) selects all of its nodes first (first match wins)",
                    pools[j].name
                ),
            ));
        }
        for k in s.match_labels.keys().filter(|k| !is_k8s_label_key(k)) {
            out.push((
                at("selector.match_labels"),
                format!("{k:?} is not a Kubernetes label key"),
            ));
        }
        if p.mode == Some(Mode::Drain) && !drain {
            out.push((
                at("mode"),
                "drain needs kubernetes.drain.enabled: true".into(),
            ));
        }
        if let Some(m) = p.min_score.filter(|m| !(0.0..=1.0).contains(m)) {
            out.push((at("min_score"), format!("must be within 0..1, got {m}")));
        }
        for (rule, t) in &p.thresholds {
            let at = at(&format!("thresholds.{rule}"));
            let given = t.given();
            if given.is_empty() {
                out.push((
                    at.clone(),
                    "names no threshold: give score_above, value_above, value_below or anomaly_above".into(),
                ));
            }
            for (f, v) in given {
                if !v.is_finite() {
                    out.push((
                        format!("{at}.{f}"),
                        format!("must be a finite number, got {v}"),
                    ));
                } else if matches!(f, "score_above" | "anomaly_above") && !(0.0..=1.0).contains(&v)
                {
                    out.push((format!("{at}.{f}"), format!("must be within 0..1, got {v}")));
                }
            }
        }
    }
    let mut names: Vec<&str> = Vec::new();
    for (i, w) in windows.iter().enumerate() {
        let at = |sub: &str| format!("governor.maintenance_windows[{i}].{sub}");
        for (field, message) in w.problems() {
            out.push((at(field), message));
        }
        if names.contains(&w.label()) {
            out.push((at("name"), format!("{:?} is used twice", w.label())));
        }
        names.push(w.label());
        for p in w
            .pools
            .iter()
            .filter(|p| !pools.iter().any(|q| &q.name == *p))
        {
            out.push((
                at("pools"),
                format!("{p:?} is not the name of a governor.pools entry"),
            ));
        }
    }
    out
}

/// What refers to the rules in use: `thresholds` must name a rule of the
/// catalog and only thresholds its condition has (a pool cannot turn a
/// score rule into a value rule); `hub` needs a `hub: true` signal.
pub(super) fn catalog_problems(pools: &[PoolPolicy], catalog: &Catalog) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, p) in pools.iter().enumerate() {
        if !p.hub.is_empty() && !catalog.has_hub_signals() {
            out.push((
                format!("governor.pools[{i}].hub"),
                "no signal of the rules in use is marked `hub: true`, so there is nothing to select the hub for".into(),
            ));
        }
        for (rule, t) in &p.thresholds {
            let at = format!("governor.pools[{i}].thresholds.{rule}");
            let found: Vec<_> = catalog.rules.iter().filter(|r| &r.alert == rule).collect();
            if found.is_empty() {
                let names: Vec<&str> = catalog.rules.iter().map(|r| r.alert.as_str()).collect();
                out.push((
                    at,
                    format!("no rule is called {rule:?} (rules: {})", names.join(", ")),
                ));
                continue;
            }
            for (f, _) in t.given() {
                if !found.iter().all(|r| r.when.threshold_fields().contains(&f)) {
                    let has = found[0].when.threshold_fields().join(", ");
                    out.push((
                        format!("{at}.{f}"),
                        format!("rule {rule} has no {f} to replace (its condition uses: {has})"),
                    ));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::validate::tests::errors;
    use super::super::Config;
    use std::path::Path;

    #[test]
    fn pool_selectors_first_match_wins_and_a_shadowed_one_is_an_error() {
        // gpu-a100 overlaps gpu partly (first match wins): fine. `a100`
        // after `gpu` can never match anything: an error at its line.
        let text = "kubernetes:\n  drain: {enabled: true}\ngovernor:\n  pools:\n    \
                    - name: gpu\n      selector: {pool: [gpu-a, gpu-b]}\n      mode: drain\n    \
                    - name: big\n      selector:\n        match_labels: {size: big}\n    \
                    - name: a100\n      selector:\n        pool: [gpu-a]\n        match_labels: {size: big}\n    \
                    - name: gpu\n      selector: {pool: [cpu], match_labels: {'bad key': x}}\n      \
                    max_unavailable: N-1\n      max_unhealthy: 50%\n";
        let errs = errors(text);
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(
            errs[0].starts_with(
                "c.yaml:12: governor.pools[2].selector: never matches: governor.pools[0] (gpu)"
            ),
            "{errs:?}"
        );
        assert!(
            errs[1].starts_with("c.yaml:15: governor.pools[3].name: \"gpu\" is used twice"),
            "{errs:?}"
        );
        assert!(
            errs[2].starts_with("c.yaml:16: governor.pools[3].selector.match_labels: \"bad key\""),
            "{errs:?}"
        );
        let cfg = Config::parse(text, Path::new("c.yaml")).unwrap();
        let p = &cfg.governor.pools[3];
        assert_eq!(p.max_unavailable, Some(crate::act::Limit::AllBut(1)));
        assert_eq!(p.max_unhealthy, Some(crate::act::Limit::Fraction(0.5)));
        // A limit that is no count is a parse error with its line.
        let e = Config::parse(
            "governor:\n  pools:\n    - name: x\n      selector: {pool: [x]}\n      max_cordoned: lots\n",
            Path::new("c.yaml"),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("\"lots\" is not a node count"),
            "{e}"
        );
        assert!(e.line >= 3, "{e}");
        for bad in ["-1", "0.5", "150%"] {
            let text = format!(
                "governor:\n  pools:\n    - name: x\n      selector: {{pool: [x]}}\n      max_unhealthy: {bad}\n"
            );
            let e = Config::parse(&text, Path::new("c.yaml")).unwrap_err();
            assert!(e.to_string().contains("is not a node count"), "{bad}: {e}");
        }
    }

    #[test]
    fn pool_hubs_and_thresholds_are_checked_against_the_rules() {
        let ok =
            "governor:\n  pools:\n    - name: research\n      selector: {pool: [research]}\n      \
                  hub: {pod: '=~jupyterhub-.*', container: jupyterhub}\n      thresholds:\n        \
                  HubCPUHigh: {value_above: 1.5}\n        NodeUnhealthy: {score_above: 0.9}\n";
        assert_eq!(errors(ok), Vec::<String>::new());
        let cfg = Config::parse(ok, Path::new("c.yaml")).unwrap();
        let p = &cfg.governor.pools[0];
        assert_eq!(p.hub.len(), 2);
        assert_eq!(p.thresholds["HubCPUHigh"].value_above, Some(1.5));
        let bad = "governor:\n  pools:\n    - name: research\n      selector: {pool: [research]}\n      \
                   thresholds:\n        HubCPUHi: {value_above: 1.5}\n        \
                   NodeUnhealthy: {value_above: 3, score_above: 1.5}\n        HubThreadsClimbing: {}\n";
        let errs = errors(bad);
        assert_eq!(errs.len(), 4, "{errs:?}");
        let has = |line: usize, text: &str| {
            assert!(
                errs.iter()
                    .any(|e| e.starts_with(&format!("c.yaml:{line}: ")) && e.contains(text)),
                "{text} at {line}: {errs:?}"
            )
        };
        has(8, "thresholds.HubThreadsClimbing: names no threshold");
        has(
            7,
            "thresholds.NodeUnhealthy.score_above: must be within 0..1, got 1.5",
        );
        has(
            6,
            "thresholds.HubCPUHi: no rule is called \"HubCPUHi\" (rules: NodeUnhealthy, HubCPUHigh",
        );
        has(7, "thresholds.NodeUnhealthy.value_above: rule NodeUnhealthy has no value_above to replace (its condition uses: score_above)");
        // A bad matcher in `hub` is a parse error at its line.
        let e = Config::parse(
            "governor:\n  pools:\n    - name: x\n      selector: {pool: [x]}\n      hub: {pod: '=~(('}\n",
            Path::new("c.yaml"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("invalid regex"), "{e}");
        // Custom rules without a hub signal: a `hub` has nothing to select.
        let mut no_hub = crate::catalog::Catalog::builtin();
        no_hub.signals.iter_mut().for_each(|s| s.hub = false);
        let cfg = Config::parse(ok, Path::new("c.yaml")).unwrap();
        let errs = cfg.validate_with(&no_hub).unwrap_err().to_string();
        assert!(
            errs.contains("c.yaml:5: governor.pools[0].hub: no signal"),
            "{errs}"
        );
    }
}
