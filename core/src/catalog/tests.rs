//! Catalog loading and validation: the built-in catalog is valid, and every
//! kind of mistake is reported with file, line and field.

use super::*;

fn load(text: &str) -> Result<Catalog, Vec<CatalogError>> {
    Catalog::from_sources(vec![(PathBuf::from("rules/test.yaml"), text.to_string())])
}

fn one_error(text: &str) -> CatalogError {
    let mut errs = load(text).expect_err("should be rejected");
    assert_eq!(errs.len(), 1, "{errs:?}");
    errs.remove(0)
}

#[test]
fn builtin_catalog_is_valid_and_complete() {
    let c = Catalog::builtin();
    for name in [
        "failed_sync_pods",
        "network_not_ready",
        "readiness_failed_pods",
        "readiness_failure_ratio",
        "node_threads_ratio",
        "thread_exhaustion_events",
        "pods_failing_to_stop",
        "node_ready",
        "hub_cpu",
        "hub_threads",
    ] {
        assert!(c.signal_index(name).is_some(), "missing {name}");
    }
    let hub = &c.signals[c.signal_index("hub_cpu").unwrap()];
    assert_eq!(hub.scope, SignalScope::Workload);
    let m = hub.metric.as_ref().unwrap();
    assert_eq!(m.matchers[0].op, MatchOp::Re);
    assert!(m.matchers[0].matches("hub-989cc9bd-5qdcb"));
    assert!(!m.matchers[0].matches("xhub-1"), "regexes are anchored");
    assert!(c.rules.iter().any(|r| r.scope == AlertScope::Cluster));
}

#[test]
fn unknown_field_names_file_line_and_field() {
    let e = one_error("signals:\n  - name: a\n    events: {reasons: [X]}\n    detekt: {z: 3}\n");
    assert_eq!(e.file, PathBuf::from("rules/test.yaml"));
    assert_eq!(e.line, 4, "{e}");
    assert!(e.field.starts_with("signals[0]"), "{e}");
    assert!(e.message.contains("unknown field `detekt`"), "{e}");
    assert!(e.to_string().starts_with("rules/test.yaml:4: "), "{e}");
}

#[test]
fn bad_duration_and_regex_are_located() {
    let e = one_error("signals:\n  - name: a\n    events:\n      window: 5 minutes\n");
    assert_eq!(e.line, 4, "{e}");
    assert!(e.message.contains("invalid duration"), "{e}");
    let e = one_error("signals:\n  - name: a\n    events:\n      message: \"(\"\n");
    assert_eq!(e.line, 4, "{e}");
    assert!(e.message.contains("invalid regex"), "{e}");
    let e = one_error("signals:\n  - name: a\n    metric:\n      name: m\n      by: [node]\n      matchers: {pod: \"=~(\"}\n");
    assert!(e.message.contains("invalid regex"), "{e}");
}

#[test]
fn semantic_errors_point_at_the_field() {
    let text = "signals:\n  - name: a\n    events: {reasons: [X]}\nrules:\n  - alert: A\n    scope: node\n    when:\n      signal: nope\n      value_above: 1\n";
    let e = one_error(text);
    assert_eq!(e.field, "rules[0].when.signal");
    assert_eq!(e.line, 8, "{e}");
    assert!(e.message.contains("unknown signal \"nope\""), "{e}");
}

#[test]
fn each_validation_rule() {
    let cases: &[(&str, &str)] = &[
        ("signals:\n  - name: Bad-Name\n    events: {}\n", "not a valid name"),
        ("signals:\n  - name: a\n    events: {}\n  - name: a\n    events: {}\n", "duplicate signal"),
        ("signals:\n  - name: a\n", "one of `metric` or `events`"),
        ("signals:\n  - name: a\n    metric: {name: m, by: [a, b]}\n", "exactly one label"),
        ("signals:\n  - name: a\n    events: {}\n    detect: {weight: 2}\n", "within 0..1"),
        ("signals:\n  - name: a\n    events: {}\n    detect: {z: -1}\n", "positive"),
        ("rules:\n  - alert: A\n    scope: workload\n    when: {score_above: 0.5}\n", "node rules"),
        ("rules:\n  - alert: A\n    scope: cluster\n    when: {score_above: 0.5}\n    actions: [cordon]\n", "only node rules may cordon"),
        ("rules:\n  - alert: A\n    scope: node\n    when: {score_above: 0.5, common_cause: true}\n", "exactly one of"),
        ("rules:\n  - alert: A\n    scope: node\n    when: {score_above: 1.5}\n", "within 0..1"),
        ("rules:\n  - alert: A\n    scope: node\n    severity: huge\n    when: {score_above: 0.5}\n", "info, warning or critical"),
    ];
    for (text, want) in cases {
        let errs = load(text).expect_err(text);
        assert!(
            errs.iter().any(|e| e.message.contains(want)),
            "{text}: {errs:?}"
        );
        assert!(errs.iter().all(|e| e.line > 0), "{text}: {errs:?}");
    }
}

#[test]
fn load_reads_directories_and_reports_all_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.yaml"),
        "signals:\n  - name: a\n    events: {}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.yaml"),
        "rules:\n  - alert: A\n    scope: node\n    when: {score_above: 0.5}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
    let c = Catalog::load(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!((c.signals.len(), c.rules.len()), (1, 1));
    std::fs::write(
        dir.path().join("c.yaml"),
        "signals: [ {name: b, eventz: {}} ]\n",
    )
    .unwrap();
    let errs = Catalog::load(&[dir.path().to_path_buf()]).unwrap_err();
    assert!(errs[0].file.ends_with("c.yaml"), "{errs:?}");
    let missing = Catalog::load(&[dir.path().join("nope.yaml")]).unwrap_err();
    assert!(missing[0].message.contains("No such file"), "{missing:?}");
}

#[test]
fn what_would_break_at_run_time_is_refused_with_file_line_and_field() {
    // (document, field, line, message part): each used to pass `check`
    // and fail later (Alertmanager refusing the batch, Prometheus refusing
    // the query, a template left unrendered).
    let sig = "signals:\n  - name: s\n    metric:\n";
    let rule = "rules:\n  - alert: A\n    scope: node\n";
    let cases: Vec<(String, &str, usize, &str)> = vec![
        (format!("{sig}      name: 'up{{'\n      by: [node]\n"), "signals[0].metric.name", 4, "not a Prometheus metric name"),
        (format!("{sig}      name: up\n      by: ['bad label']\n"), "signals[0].metric.by", 5, "not a valid label name"),
        (format!("{sig}      name: up\n      by: [node]\n      rate: 0s\n"), "signals[0].metric.rate", 6, "must be positive"),
        (format!("{sig}      name: up\n      by: [node]\n      ratio_to: {{name: 'a b'}}\n"), "signals[0].metric.ratio_to.name", 6, "not a Prometheus"),
        (format!("{sig}      name: up\n      by: [node]\n      matchers: {{'1a': x}}\n"), "signals[0].metric", 6, "invalid label name"),
        (format!("{sig}      name: up\n      by: [node]\n    detect: {{above: .nan}}\n"), "signals[0].detect.above", 6, "finite"),
        ("signals:\n  - name: s\n    events:\n      window: 1000d\n".into(), "signals[0].events.window", 4, "must be within"),
        (format!("{rule}    when: {{score_above: 0.5}}\n    labels:\n      bad-label: x\n"), "rules[0].labels.bad-label", 6, "not a valid label name"),
        (format!("{rule}    when: {{score_above: 0.5}}\n    labels:\n      '': x\n"), "rules[0].labels.", 6, "not a valid label name"),
        (format!("{rule}    when: {{score_above: 0.5}}\n    labels:\n      __name__: x\n"), "rules[0].labels.__name__", 6, "reserved"),
        (format!("{rule}    when: {{score_above: 0.5}}\n    labels:\n      node: x\n"), "rules[0].labels.node", 6, "set by nodewatch"),
        (format!("{rule}    when: {{score_above: 0.5}}\n    annotations:\n      summary: '{{{{ nope }}}} {{{{'\n"), "rules[0].annotations.summary", 6, "unknown placeholder"),
        (format!("{rule}    when: {{score_above: 0.5}}\n    annotations:\n      bad-name: x\n"), "rules[0].annotations.bad-name", 6, "not a valid label name"),
        ("signals:\n  - name: s\n    events: {}\nrules:\n  - alert: A\n    scope: node\n    when:\n      signal: s\n      value_above: .inf\n".into(), "rules[0].when.value_above", 9, "finite"),
    ];
    for (text, field, line, want) in &cases {
        let errs = load(text).expect_err(text);
        let e = errs
            .iter()
            .find(|e| e.message.contains(want))
            .unwrap_or_else(|| panic!("{text}: {errs:?}"));
        assert!(e.field.starts_with(field), "{text}: {e}");
        assert_eq!(e.line, *line, "{text}: {e}");
    }
    // The shipped templates and labels are fine.
    assert!(
        rule::template_problem("Node {{ subject }} at {{ value }}: {{ explanation }}").is_none()
    );
}

#[test]
fn signal_and_rule_counts_are_bounded() {
    let mut text = String::from("signals:\n");
    for i in 0..=MAX_SIGNALS {
        text.push_str(&format!("  - {{name: s{i}, events: {{}}}}\n"));
    }
    let e = one_error(&text);
    assert_eq!(e.field, format!("signals[{MAX_SIGNALS}].name"), "{e}");
    assert_eq!(e.line, MAX_SIGNALS + 2, "{e}");
    assert!(e.message.contains("at most 1000"), "{e}");
}

#[test]
fn nesting_and_size_are_bounded_before_parsing() {
    let deep = format!("signals: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let e = one_error(&deep);
    assert_eq!(e.line, 1, "{e}");
    assert!(
        e.message.contains("nested deeper than the limit of 64"),
        "{e}"
    );
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.yaml");
    std::fs::write(&big, "# x\n".repeat(crate::config::yaml::MAX_BYTES / 4 + 1)).unwrap();
    let errs = Catalog::load(&[big]).unwrap_err();
    assert!(
        errs[0].message.contains("larger than the limit"),
        "{errs:?}"
    );
}
