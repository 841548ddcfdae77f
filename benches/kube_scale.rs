//! Scale benchmark: `nodewatch run` (the release binary, as a separate
//! process) against the fake API server serving 5,000 nodes, 150,000 pods
//! and 20,000 events shaped like real ones. Measures the time to the first
//! evaluation (initial list of everything + one tick; `/readyz` turns 200)
//! and the agent's resident memory (VmRSS, and the peak VmHWM) after the
//! sync and after a few ticks. Target: RSS ≤ 300 MiB.
//!
//! `cargo bench --bench kube_scale` (NODES / PODS / EVENTS override the sizes).

use nodewatch_testkit::cluster::{event, node, pod};
use nodewatch_testkit::fake_apiserver;

use fake_apiserver::{FakeApiServer, Options};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn status_kb(pid: u32, key: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn ready(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if write!(
        s,
        "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .is_err()
    {
        return false;
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.starts_with("HTTP/1.1 200")
}

async fn run() {
    let (n_nodes, n_pods, n_events) = (
        env_or("NODES", 5_000),
        env_or("PODS", 150_000),
        env_or("EVENTS", 20_000),
    );
    let server = FakeApiServer::start(Options {
        history: 10_000,
        ..Default::default()
    })
    .await;
    let t = Instant::now();
    server.preload("nodes", (0..n_nodes).map(node));
    server.preload("pods", (0..n_pods).map(|i| pod(i, n_nodes)));
    server.preload("events", (0..n_events).map(|i| event(i, n_pods, n_nodes)));
    eprintln!(
        "fake server loaded {n_nodes} nodes, {n_pods} pods, {n_events} events in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = server.kubeconfig(dir.path());
    let config = dir.path().join("nodewatch.yaml");
    std::fs::write(&config, "engine:\n  step: 10s\n").expect("config");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_nodewatch"))
        .args([
            "run",
            "--kubeconfig",
            kubeconfig.to_str().unwrap_or(""),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .args([
            "--config",
            config.to_str().unwrap_or(""),
            "--identity",
            "bench",
        ])
        .env("RUST_LOG", "warn")
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nodewatch run");
    let pid = child.id();
    let stderr = child.stderr.take().expect("stderr");
    let lines = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .filter(|l| l.contains("initial sync"))
            .collect::<Vec<_>>()
    });
    let deadline = Instant::now() + Duration::from_secs(600);
    while !ready(port) {
        assert!(Instant::now() < deadline, "not ready after 10 minutes");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let to_ready = started.elapsed();
    let (rss_ready, hwm_ready) = (status_kb(pid, "VmRSS:"), status_kb(pid, "VmHWM:"));
    tokio::time::sleep(Duration::from_secs(35)).await;
    let (rss_ticks, hwm_ticks) = (status_kb(pid, "VmRSS:"), status_kb(pid, "VmHWM:"));
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();
    let sync_line = lines.join().unwrap_or_default().join(" ");
    let mib = |kb: u64| kb as f64 / 1024.0;
    println!("kube_scale: {n_nodes} nodes, {n_pods} pods, {n_events} events");
    println!("  agent log: {sync_line}");
    println!(
        "  process start → /readyz 200 (initial lists + first tick): {:.2} s",
        to_ready.as_secs_f64()
    );
    println!(
        "  RSS at ready: {:.0} MiB (peak {:.0} MiB)",
        mib(rss_ready),
        mib(hwm_ready)
    );
    println!(
        "  RSS after ~3 more ticks: {:.0} MiB (peak {:.0} MiB)",
        mib(rss_ticks),
        mib(hwm_ticks)
    );
    println!(
        "  target: peak RSS ≤ 300 MiB: {}",
        if hwm_ticks as f64 / 1024.0 <= 300.0 {
            "met"
        } else {
            "NOT MET"
        }
    );
}

fn main() {
    // `cargo bench` passes --bench; a plain run works too.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}
