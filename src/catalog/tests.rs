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
