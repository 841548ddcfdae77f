//! No secret is ever printed. A unique secret is planted in every field
//! that can hold one (Prometheus URL credentials, bearer token file, basic
//! auth password and headers; Alertmanager, webhook and Grafana tokens,
//! the webhook HMAC key and headers; the SMTP password from a file and
//! from the environment; the token of nodewatch's own API), then `check`
//! prints its summaries and `run` works a while against dead endpoints so
//! every sink and the Prometheus client log errors. stdout, stderr (at
//! debug level), `/metrics`, the status page, the snapshot API and
//! `/api/v1/query` answers are searched for it.

use nodewatch_testkit::fake_apiserver;

use fake_apiserver::{harness, FakeApiServer, Options};
use nodewatch_testkit::free_port;
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Unique per run, so nothing else can contain it by chance.
fn secret() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("plantedSecret{}x{nanos}", std::process::id())
}

/// `GET path` with the API token; the whole answer, headers included.
fn get(port: u16, path: &str, token: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let code = out.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, out))
}

/// Writes `value` to `dir/name`; returns the path.
fn file(dir: &Path, name: &str, value: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, format!("{value}\n")).unwrap();
    p.display().to_string()
}

/// A config with a secret in every field that takes one. `basic` swaps
/// the Prometheus bearer token for basic auth (they exclude each other).
fn config(dir: &Path, s: &str, basic: bool) -> String {
    let dead = |_: ()| format!("127.0.0.1:{}", free_port());
    let prom_auth = if basic {
        format!(
            "basic_auth: {{username: nw, password_file: {}}}",
            file(dir, "prom-pw", &format!("{s}-prom-basic"))
        )
    } else {
        format!(
            "bearer_token_file: {}",
            file(dir, "prom-token", &format!("{s}-prom-token"))
        )
    };
    format!(
        "engine:\n  step: 1s\n\
         prometheus:\n  url: http://nwuser:{s}-url@{prom}/\n  {prom_auth}\n  timeout: 1s\n  \
         headers: {{X-Api-Key: {s}-prom-header}}\n  backoff: {{initial: 100ms, max: 500ms}}\n\
         serve:\n  bearer_token_file: {serve}\n\
         sinks:\n  external_url: http://nodewatch.test/\n  \
         alertmanager:\n    urls: [http://{am}/]\n    bearer_token: {{file: {am_token}}}\n    \
         headers: {{X-Api-Key: {s}-am-header}}\n    {delivery}\n  \
         webhooks:\n    - name: hook\n      url: http://{hook}/\n      bearer_token: {{file: {hook_token}}}\n      \
         hmac_secret: {{file: {hmac}}}\n      headers: {{X-Api-Key: {s}-hook-header}}\n      {delivery}\n  \
         email:\n    - smtp: {{host: 127.0.0.1, port: {smtp}, tls: none, username: nw, password: {{file: {smtp_pw}}}}}\n      \
         from: nodewatch@example.org\n      to: [ops@example.org]\n      group_wait: 0s\n      {delivery}\n    \
         - name: env\n      smtp: {{host: 127.0.0.1, port: {smtp}, tls: none, username: nw, password: {{env: NODEWATCH_TEST_SMTP_PW}}}}\n      \
         from: nodewatch@example.org\n      to: [ops@example.org]\n      group_wait: 0s\n      {delivery}\n  \
         grafana:\n    - url: http://{grafana}/\n      token: {{file: {grafana_token}}}\n      {delivery}\n",
        prom = dead(()),
        serve = file(dir, "serve-token", &format!("{s}-serve")),
        am = dead(()),
        am_token = file(dir, "am-token", &format!("{s}-am-token")),
        hook = dead(()),
        hook_token = file(dir, "hook-token", &format!("{s}-hook-token")),
        hmac = file(dir, "hmac", &format!("{s}-hmac")),
        smtp = free_port(),
        smtp_pw = file(dir, "smtp-pw", &format!("{s}-smtp")),
        grafana = dead(()),
        grafana_token = file(dir, "grafana-token", &format!("{s}-grafana")),
        delivery = "delivery: {timeout: 1s, retry: {initial: 100ms, max: 300ms}}",
    )
}

/// One node alert (with a cordon, refused in dry run) from one event.
const RULES: &str = "rules:\n  - alert: PlantedNodeNotReady\n    scope: node\n    \
    when: {signal: node_not_ready_events, value_above: 0}\n    for: 0s\n    severity: critical\n    \
    annotations: {summary: \"{{ subject }} went NotReady\"}\n    actions: [alert, cordon]\n";

/// A NodeNotReady event on `node`, now.
fn not_ready(node: &str) -> serde_json::Value {
    let now = jiff::Timestamp::now().to_string();
    json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": format!("{node}.planted"), "namespace": "default"},
        "involvedObject": {"kind": "Node", "name": node, "apiVersion": "v1"},
        "reason": "NodeNotReady", "message": format!("Node {node} status is now: NodeNotReady"),
        "type": "Normal", "count": 1, "source": {"component": "node-controller"},
        "firstTimestamp": now, "lastTimestamp": now,
    })
}

fn assert_clean(what: &str, text: &str, s: &str) {
    assert!(
        !text.contains(s),
        "{what} holds a planted secret:\n{}",
        text.lines()
            .filter(|l| l.contains(s))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_planted_secret_is_printed_logged_or_served() {
    let s = secret();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("nodewatch.yaml");
    std::fs::write(&cfg, config(dir.path(), &s, false)).unwrap();
    let cfg_basic = dir.path().join("basic.yaml");
    std::fs::write(&cfg_basic, config(dir.path(), &s, true)).unwrap();
    let rules = dir.path().join("alerts.yaml");
    std::fs::write(&rules, RULES).unwrap();
    let signals = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/signals.yaml");
    let bin = env!("CARGO_BIN_EXE_nodewatch");

    for c in [&cfg, &cfg_basic] {
        let out = Command::new(bin)
            .args(["check", "--config"])
            .arg(c)
            .env("NODEWATCH_TEST_SMTP_PW", format!("{s}-smtp-env"))
            .env("RUST_LOG", "debug")
            .output()
            .expect("run check");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "check failed:\n{text}");
        assert!(text.contains("nwuser") || text.contains("***"), "{text}");
        assert_clean("check --config", &text, &s);
    }

    let sc = harness::binder();
    let server = FakeApiServer::start(Options::default()).await;
    server.load_scenario(&sc);
    let node = sc.nodes[0].metadata.name.clone();
    let kubeconfig = server.kubeconfig(dir.path());
    let port = free_port();
    let token = format!("{s}-serve");
    let mut child = Command::new(bin)
        .args(["run", "--kubeconfig", kubeconfig.to_str().unwrap()])
        .args(["--listen", &format!("127.0.0.1:{port}"), "--config"])
        .arg(&cfg)
        .arg("--rules")
        .arg(&signals)
        .arg("--rules")
        .arg(&rules)
        .args(["--dry-run", "--no-leader-election"])
        .env("NODEWATCH_TEST_SMTP_PW", format!("{s}-smtp-env"))
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nodewatch run");
    let mut put = false;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut metrics = String::new();
    // Every sink has failed and retried at least once; Prometheus errors.
    while Instant::now() < deadline {
        if let Some((200, m)) = get(port, "/metrics", &token) {
            if !put {
                server.put("events", not_ready(&node));
                put = true;
            }
            metrics = m;
            let retried = metrics
                .lines()
                .filter(|l| l.starts_with("nodewatch_sink_retries_total{") && !l.ends_with(" 0"))
                .count();
            if retried >= 5 && metrics.contains("source=\"prometheus\"") {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut pages = vec![("/metrics".to_string(), metrics.clone())];
    for path in [
        "/",
        "/api/v1/nodewatch/snapshot",
        "/api/v1/query?query=%7B__name__%3D~%22.%2B%22%7D",
        "/api/v1/query?query=nodewatch_source_up",
        "/api/v1/series?match[]=%7B__name__%3D~%22nodewatch_sink.%2A%22%7D",
    ] {
        let (code, body) = get(port, path, &token).unwrap_or_default();
        assert_eq!(code, 200, "{path}: {body}");
        pages.push((path.to_string(), body));
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(15);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let mut log = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();

    let retried = metrics
        .lines()
        .filter(|l| l.starts_with("nodewatch_sink_retries_total{") && !l.ends_with(" 0"))
        .count();
    assert!(
        retried >= 5,
        "every sink (Alertmanager, webhook, 2 email, Grafana) failed and retried:\n{metrics}\n{log}"
    );
    assert!(
        log.contains("PlantedNodeNotReady"),
        "the alert fired:\n{log}"
    );
    assert!(
        log.contains("prometheus: all"),
        "the Prometheus failures were logged:\n{log}"
    );
    assert_clean("run's log", &log, &s);
    for (path, body) in &pages {
        assert_clean(path, body, &s);
    }
}
