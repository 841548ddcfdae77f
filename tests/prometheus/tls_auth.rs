//! The connection settings against real servers: a real Prometheus serving
//! HTTPS with basic auth (its own `--web.config.file`, certificates from
//! `tests/fixtures/tls`), reached with `ca_file` or `insecure_skip_verify`,
//! refused without the CA or with a wrong password; and, against a loopback
//! fake that records requests, the bearer token file (re-read when it
//! rotates) and extra headers such as `X-Scope-OrgID`.

use nodewatch_testkit as support;

use nodewatch::catalog::Catalog;
use nodewatch::collect::prometheus::{BasicAuth, PrometheusCollector, PrometheusConfig};
use nodewatch::collect::MetricSource;
use nodewatch::time::{Duration, Timestamp};
use std::path::PathBuf;
use support::loopback::{response, Behaviour, Loopback};
use support::prometheus::{Options, Prometheus};

const USER: &str = "nodewatch";
const PASSWORD: &str = "nodewatch-test";
/// bcrypt of PASSWORD at the lowest cost (Prometheus checks it per request).
const PASSWORD_HASH: &str = "$2b$04$by1Ecd7bVhjf/flUYiw4X.bsatHy0mBe07EKaJbBP1scXCzLtnMzK";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

/// Kinds of the metric signals' results after one tick (`ok` for data).
async fn kinds(cfg: &PrometheusConfig) -> (Vec<String>, Option<String>) {
    let mut c = PrometheusCollector::new(cfg).expect("collector");
    let catalog = Catalog::builtin();
    let out = c.metrics(Timestamp(1_519_128_000_000), &catalog).await;
    let kinds = out
        .into_iter()
        .flatten()
        .map(|r| r.map_or_else(|e| e.kind().to_string(), |_| "ok".to_string()))
        .collect();
    (kinds, c.health().state().last_error)
}

#[tokio::test]
async fn https_and_basic_auth_against_real_prometheus() {
    let storage = tempfile::tempdir().expect("temp dir");
    let web = format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\nbasic_auth_users:\n  {USER}: {PASSWORD_HASH}\n",
        fixture("server.pem").display(),
        fixture("server.key").display()
    );
    let prom = Prometheus::start_with(
        storage.path(),
        Options {
            web_config: Some(web),
            tls: true,
            ..Options::default()
        },
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let pw = dir.path().join("password");
    std::fs::write(&pw, format!("{PASSWORD}\n")).expect("password file");
    let auth = |file: Option<PathBuf>, env: Option<&str>| BasicAuth {
        username: USER.into(),
        password_file: file,
        password_env: env.map(str::to_string),
    };
    let mut good = PrometheusConfig::new(prom.url());
    good.timeout = Duration::secs(10);
    good.ca_file = Some(fixture("ca.pem"));
    good.basic_auth = Some(auth(Some(pw.clone()), None));

    let (k, err) = kinds(&good).await;
    assert!(
        k.iter().all(|k| k == "ok"),
        "CA and password given: {k:?} {err:?}"
    );

    let mut no_ca = good.clone();
    no_ca.ca_file = None;
    let (k, err) = kinds(&no_ca).await;
    assert!(k.iter().all(|k| k == "unreachable"), "{k:?}");
    let err = err.unwrap_or_default();
    assert!(
        err.to_lowercase().contains("certificate"),
        "the log should say why: {err}"
    );

    let mut insecure = no_ca.clone();
    insecure.insecure_skip_verify = true;
    let (k, err) = kinds(&insecure).await;
    assert!(
        k.iter().all(|k| k == "ok"),
        "insecure_skip_verify: {k:?} {err:?}"
    );

    let var = "NODEWATCH_TEST_WRONG_PASSWORD";
    std::env::set_var(var, "not-the-password");
    let mut wrong = good.clone();
    wrong.basic_auth = Some(auth(None, Some(var)));
    let (k, err) = kinds(&wrong).await;
    assert!(k.iter().all(|k| k == "http"), "{k:?}");
    assert!(err.unwrap_or_default().contains("HTTP 401"));
}

#[tokio::test]
async fn bearer_token_file_rotates_and_headers_are_sent() {
    let vector = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
    let fake = Loopback::start(Behaviour::Reply(response(200, "application/json", vector)));
    let dir = tempfile::tempdir().expect("temp dir");
    let token = dir.path().join("token");
    std::fs::write(&token, "first-token\n").expect("token");
    let mut cfg = PrometheusConfig::new(format!("{}/prometheus/", fake.url()));
    cfg.bearer_token_file = Some(token.clone());
    cfg.headers
        .insert("X-Scope-OrgID".into(), "tenant-1".into());
    let mut c = PrometheusCollector::new(&cfg).expect("collector");
    let catalog = Catalog::builtin();
    let at = Timestamp(1_519_128_000_000);
    c.metrics(at, &catalog).await;
    std::fs::write(&token, "second-token").expect("rotate token");
    c.metrics(at, &catalog).await;
    let reqs = fake.requests();
    let n = catalog
        .signals
        .iter()
        .filter(|s| s.metric.is_some())
        .count();
    assert_eq!(reqs.len(), 2 * n);
    for (i, r) in reqs.iter().enumerate() {
        let want = if i < n {
            "Bearer first-token"
        } else {
            "Bearer second-token"
        };
        assert_eq!(
            r.header("authorization").as_deref(),
            Some(want),
            "{}",
            r.head
        );
        assert_eq!(r.header("x-scope-orgid").as_deref(), Some("tenant-1"));
        assert!(
            r.head.starts_with("POST /prometheus/api/v1/query "),
            "path prefix kept: {}",
            r.head
        );
    }
}
