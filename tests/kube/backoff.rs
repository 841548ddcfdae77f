//! `nodewatch run` against an API server that is not there or answers
//! garbage (a fake on raw TCP, `Hostile` in `tests/testkit/src/hostile.rs`: a real
//! API server cannot be made to answer like this): the watches back off
//! exponentially instead of retrying every 100 ms, and repeated errors are
//! logged a few times, not dozens of lines a second. Before the fix, 8 s of
//! this cost ~230 requests and ~480 log lines.
//!
//! The same fake also sends a 1 GiB list body and a 1 GiB watch line (no
//! real API server can be made to): the agent cuts each at its cap
//! (`src/live/bodycap.rs`), logs the error (the watchers' error path, which also counts it in
//! `nodewatch_source_errors_total{kind="watch"}`) and stays small.

use hostile::{Hostile, Misbehave};
use nodewatch_testkit::free_port;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nodewatch_testkit::hostile;

/// How long `run` is left against the broken server.
const RUN_FOR: Duration = Duration::from_secs(8);

fn kubeconfig(dir: &std::path::Path, port: u16) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:{port}\n\
         users:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n\
         current-context: c\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts `run` against the API server at `port`, leaves it `RUN_FOR`,
/// stops it and returns its log.
async fn run_against(port: u16) -> String {
    run_watched(port).await.log
}

/// What a run left behind.
struct Ran {
    /// stderr and stdout.
    log: String,
    /// Peak resident memory (VmHWM), in MiB, just before it was stopped.
    peak_mib: u64,
}

/// Peak resident memory of process `pid`, in MiB.
fn peak_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib / 1024)
}

/// Like [`run_against`], with the peak memory at the end.
async fn run_watched(port: u16) -> Ran {
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig(dir.path(), port);
    let mut child: Child = Command::new(env!("CARGO_BIN_EXE_nodewatch"))
        .args(["run", "--kubeconfig", kc.to_str().unwrap(), "--listen"])
        .arg(format!("127.0.0.1:{}", free_port()))
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nodewatch run");
    tokio::time::sleep(RUN_FOR).await;
    let peak_mib = peak_mib(child.id());
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.wait();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    Ran { log, peak_mib }
}

/// Log lines of any kind (kube's own included).
fn error_lines(log: &str) -> usize {
    log.lines().count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garbage_api_server_gets_few_requests_and_few_log_lines() {
    let server = Hostile::start(&[], Misbehave::Garbage).await;
    let log = run_against(server.port).await;
    let (requests, connections) = (server.requests(), server.connections());
    let lines = error_lines(&log);
    eprintln!("{requests} requests, {connections} connections, {lines} error lines in {RUN_FOR:?}");
    // Three watches backing off from 200 ms (at most ~8 attempts each in
    // 8 s) and the Lease loop's one request a second.
    assert!(
        requests < 60,
        "{requests} requests in {RUN_FOR:?}: the backoff does not grow\n{log}"
    );
    assert!(
        lines < 20,
        "{lines} error lines in {RUN_FOR:?}: repeated errors are not rate-limited\n{log}"
    );
    assert!(
        log.contains("watch failed"),
        "the first error is logged\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_gets_few_log_lines() {
    let log = run_against(free_port()).await;
    let lines = error_lines(&log);
    eprintln!("{lines} error lines in {RUN_FOR:?}");
    assert!(
        lines < 20,
        "{lines} error lines in {RUN_FOR:?}: repeated errors are not rate-limited\n{log}"
    );
    assert!(
        log.contains("watch failed"),
        "the first error is logged\n{log}"
    );
}

/// Memory the agent may reach against an API server sending 1 GiB bodies:
/// far below the 1 GiB it would reach if it buffered them.
const PEAK_MIB: u64 = 400;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1_gib_list_body_is_cut_at_the_cap_and_logged() {
    let huge = Misbehave::Huge {
        status: 200,
        json: true,
        limit: 1 << 30,
    };
    let server = Hostile::start(&[], huge).await;
    let ran = run_watched(server.port).await;
    let (written, peak) = (server.written() >> 20, ran.peak_mib);
    eprintln!("server wrote {written} MiB; agent peak {peak} MiB");
    assert!(
        peak < PEAK_MIB,
        "peak {peak} MiB: the list body was buffered\n{}",
        ran.log
    );
    assert!(
        ran.log.contains("response body over"),
        "the cap is logged\n{}",
        ran.log
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_watch_line_is_cut_at_the_cap_and_logged() {
    let server = Hostile::start(&[], Misbehave::KubeEndlessWatch { limit: 1 << 30 }).await;
    let ran = run_watched(server.port).await;
    let (written, peak) = (server.written() >> 20, ran.peak_mib);
    eprintln!("server wrote {written} MiB; agent peak {peak} MiB");
    assert!(
        peak < PEAK_MIB,
        "peak {peak} MiB: the watch line was buffered\n{}",
        ran.log
    );
    assert!(
        ran.log.contains("watch line over"),
        "the cap is logged\n{}",
        ran.log
    );
}
