//! The `sinks:` configuration: the shipped example parses and validates,
//! mistakes are reported with file, line and field, and secrets must be
//! resolvable when the sinks start (and never show in debug output).

use nodewatch::act::sinks::{Dispatcher, SinkError, SmtpTls};
use nodewatch::config::Config;
use nodewatch::time::SystemClock;
use std::path::Path;
use std::sync::Arc;

fn parse(yaml: &str) -> Result<Config, String> {
    Config::parse(yaml, Path::new("nw.yaml")).map_err(|e| e.to_string())
}

#[test]
fn the_shipped_example_parses_and_validates() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/nodewatch-sinks.yaml");
    let cfg = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let s = &cfg.sinks;
    s.validate().unwrap_or_else(|e| panic!("{e}"));
    let am = s.alertmanager.as_ref().expect("alertmanager");
    assert_eq!(am.urls.len(), 2);
    assert_eq!(am.resend_interval.to_string(), "1m");
    assert_eq!(s.webhooks[0].name, "ops-chat");
    assert_eq!(s.webhooks[0].group_by, ["node", "alertname"]);
    assert_eq!(s.webhooks[0].max_alerts, 50);
    assert_eq!(s.email[0].smtp.tls, SmtpTls::Starttls);
    assert_eq!(s.email[0].to.len(), 2);
    assert_eq!(
        s.grafana[0].dashboard_uid.as_deref(),
        Some("nodewatch-overview")
    );
    // Debug output names secrets' sources, never values or header values.
    let dbg = format!("{s:?}");
    assert!(dbg.contains("X-Team") && !dbg.contains("infra\""), "{dbg}");
}

#[test]
fn mistakes_name_the_line_and_field() {
    let e = parse("sinks:\n  webhooks:\n    - name: a\n      url: ftp://x/\n").unwrap_err();
    // serde_yaml places custom errors at the start of the entry.
    assert!(
        e.starts_with("nw.yaml:3:")
            && e.contains("sinks.webhooks[0]: URL \"ftp://x/\" must be http or https"),
        "{e}"
    );
    let e =
        parse("sinks:\n  webhooks:\n    - name: a\n      url: http://x/\n      hmac: {env: K}\n")
            .unwrap_err();
    assert!(
        e.starts_with("nw.yaml:5:") && e.contains("unknown field `hmac`"),
        "{e}"
    );
    let e = parse("sinks:\n  email:\n    - smtp: {host: h, tls: maybe}\n      from: a@b.c\n      to: [d@e.f]\n")
        .unwrap_err();
    assert!(
        e.contains("nw.yaml:3:") && e.contains("unknown variant `maybe`"),
        "{e}"
    );
    let e = parse(
        "sinks:\n  email:\n    - smtp: {host: h}\n      from: not an address\n      to: [d@e.f]\n",
    )
    .unwrap_err();
    assert!(
        e.contains("nw.yaml:3:") && e.contains("invalid email address \"not an address\""),
        "{e}"
    );
    let e =
        parse("sinks:\n  alertmanager:\n    urls: [http://a:1/]\n    delivery: {timeout: soon}\n")
            .unwrap_err();
    assert!(
        e.contains("nw.yaml:4:") && e.contains("invalid duration"),
        "{e}"
    );
    let e = parse("sinks:\n  webhooks:\n    - name: a\n      url: http://u:pw@x/\n").unwrap_err();
    assert!(e.contains("credentials") && !e.contains("pw"), "{e}");
}

#[test]
fn validation_catches_what_parsing_cannot() {
    let check = |yaml: &str| {
        parse(yaml)
            .unwrap()
            .sinks
            .validate()
            .unwrap_err()
            .to_string()
    };
    let e = check(
        "sinks:\n  webhooks:\n    - {name: a, url: http://x/}\n    - {name: a, url: http://y/}\n",
    );
    assert_eq!(e, "sinks.webhooks[1]: name \"a\" is used twice");
    let e = check("sinks:\n  email:\n    - {smtp: {host: h}, from: a@b.c, to: []}\n");
    assert_eq!(e, "sinks.email[0]: to: give at least one recipient");
    let e =
        check("sinks:\n  email:\n    - {smtp: {host: h, username: u}, from: a@b.c, to: [d@e.f]}\n");
    assert!(e.contains("username and password go together"), "{e}");
    let e = check("sinks:\n  alertmanager:\n    urls: []\n");
    assert!(e.contains("at least one Alertmanager"), "{e}");
    let e =
        check("sinks:\n  grafana:\n    - {url: http://g/, token: {env: T}, actions: [reboot]}\n");
    assert!(e.contains("unknown action \"reboot\""), "{e}");
    let e = check(
        "sinks:\n  webhooks:\n    - {name: a, url: http://x/, delivery: {queue_capacity: 0}}\n",
    );
    assert!(e.contains("queue_capacity"), "{e}");
}

#[tokio::test]
async fn a_missing_secret_stops_the_start_with_its_field_named() {
    let cfg = parse(
        "sinks:\n  grafana:\n    - {url: http://g/, token: {env: NODEWATCH_TEST_NO_SUCH_TOKEN}}\n",
    )
    .unwrap()
    .sinks;
    let e = Dispatcher::start(&cfg, Arc::new(SystemClock)).unwrap_err();
    assert!(matches!(e, SinkError::Config { .. }));
    assert_eq!(
        e.to_string(),
        "sinks.grafana[0]: token: environment variable NODEWATCH_TEST_NO_SUCH_TOKEN is not set"
    );
    // With nothing configured, nothing starts and nothing fails.
    let d = Dispatcher::start(&Default::default(), Arc::new(SystemClock)).unwrap();
    assert!(d.sink_names().is_empty());
}

#[test]
fn the_readme_example_parses_and_validates() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let section = readme
        .split("## Notifications")
        .nth(1)
        .expect("a Notifications section");
    let yaml = section
        .split("```yaml\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("a yaml example in it");
    let cfg = parse(yaml).unwrap_or_else(|e| panic!("README example: {e}"));
    cfg.sinks
        .validate()
        .unwrap_or_else(|e| panic!("README example: {e}"));
    assert!(cfg.sinks.alertmanager.is_some());
    assert_eq!(
        (
            cfg.sinks.webhooks.len(),
            cfg.sinks.email.len(),
            cfg.sinks.grafana.len()
        ),
        (1, 1, 1)
    );
}
