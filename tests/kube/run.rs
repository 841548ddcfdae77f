//! `nodewatch run` as a process against the fake API server: it syncs,
//! takes the Lease, serves /healthz, /readyz and /metrics, and on SIGTERM
//! finishes, releases the Lease and exits 0.

use nodewatch_testkit::fake_apiserver;

use fake_apiserver::{harness, FakeApiServer, Options};
use nodewatch_testkit::free_port;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let code = out.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, out))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_serves_leads_and_shuts_down_gracefully() {
    let sc = harness::binder();
    let server = FakeApiServer::start(Options::default()).await;
    server.load_scenario(&sc);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = server.kubeconfig(dir.path());
    let config = dir.path().join("nodewatch.yaml");
    std::fs::write(
        &config,
        "engine:\n  step: 2s\nkubernetes:\n  lease:\n    duration: 15s\n",
    )
    .unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_nodewatch"))
        .args([
            "run",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .args([
            "--config",
            config.to_str().unwrap(),
            "--identity",
            "cli-replica",
            "--dry-run",
        ])
        .env("RUST_LOG", "warn")
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nodewatch run");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut ready = false;
    while Instant::now() < deadline {
        if let Some((200, _)) = get(port, "/readyz") {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        ready,
        "/readyz answers 200 after the initial sync and first tick"
    );
    assert_eq!(get(port, "/healthz").map(|r| r.0), Some(200));
    let (_, metrics) = get(port, "/metrics").expect("metrics");
    assert!(
        metrics.contains("nodewatch_source_up{source=\"kubernetes\"} 1"),
        "{metrics}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while server
        .lease("nodewatch", "nodewatch")
        .is_none_or(|l| l["spec"]["holderIdentity"] != "cli-replica")
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        server.lease("nodewatch", "nodewatch").expect("lease")["spec"]["holderIdentity"],
        "cli-replica"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "nodewatch run did not exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(exit.success(), "exit status {exit:?}; stderr:\n{stderr}");
    assert!(stderr.contains("initial sync in"), "{stderr}");
    let lease = server.lease("nodewatch", "nodewatch").expect("lease");
    assert!(
        lease["spec"]
            .get("holderIdentity")
            .is_none_or(|h| h.is_null()),
        "released on SIGTERM: {lease}"
    );
    assert!(
        server.requests().iter().all(|r| r.status != 403),
        "nothing outside the shipped RBAC"
    );
    assert!(
        server.requests().iter().all(|r| r.verb != "patch"),
        "dry-run writes nothing"
    );
}

/// A line of `/metrics` with this name and labels, and its value.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|l| {
        let rest = l.strip_prefix(series)?;
        rest.strip_prefix(' ')?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_prometheus_shows_as_down_in_metrics() {
    let sc = harness::binder();
    let server = FakeApiServer::start(Options::default()).await;
    server.load_scenario(&sc);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = server.kubeconfig(dir.path());
    let config = dir.path().join("nodewatch.yaml");
    std::fs::write(
        &config,
        "engine:\n  step: 1s\nprometheus:\n  url: http://127.0.0.1:9\n  timeout: 1s\n  \
         backoff: {initial: 100ms, max: 500ms}\n",
    )
    .unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_nodewatch"))
        .args(["run", "--kubeconfig", kubeconfig.to_str().unwrap()])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--config", config.to_str().unwrap(), "--dry-run"])
        .arg("--no-leader-election")
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null())
        .spawn()
        .expect("start nodewatch run");
    // Two ticks with failed queries: the source is down, errors counted.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut metrics = String::new();
    while Instant::now() < deadline {
        if let Some((200, m)) = get(port, "/metrics") {
            metrics = m;
            let errors = sample(
                &metrics,
                "nodewatch_source_errors_total{source=\"prometheus\",kind=\"unreachable\"}",
            );
            if errors.is_some_and(|n| n >= 2.0) {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        sample(&metrics, "nodewatch_source_up{source=\"prometheus\"}"),
        Some(0.0),
        "NodewatchSourceDown can fire for Prometheus:\n{metrics}"
    );
    assert!(
        sample(
            &metrics,
            "nodewatch_source_errors_total{source=\"prometheus\",kind=\"unreachable\"}"
        )
        .is_some_and(|n| n >= 2.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "nodewatch_source_up{source=\"kubernetes\"}"),
        Some(1.0)
    );
    assert!(
        !metrics.contains("source=\"unknown\""),
        "every error counter names its source:\n{metrics}"
    );
    assert!(
        metrics.contains("nodewatch_source_errors_total{source=\"kubernetes\",kind=\"watch\"}"),
        "{metrics}"
    );
}
