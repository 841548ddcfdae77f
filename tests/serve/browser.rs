//! The status page in a real browser: starts `nodewatch demo` stopped at two
//! moments of the Binder incident (`--until`), opens `/` in headless Debian
//! Chromium, and checks what a person would look for — during the
//! cluster-wide readiness failures (15:20 on Feb 20) the cluster banner, at
//! 17:10 the node `…-vvsw` that lost pod networking ranked first with its
//! explanation. The first runs the default demo, shifted to the wall clock;
//! the second keeps the incident's 2018 times (`--original-time`), as the
//! README's picture shows them. Screenshots go to `target/browser/`; the
//! 17:10 one is copied to `docs/status-page.png` for the README.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const VVSW: &str = "gke-prod-a-ssd-pool-32-134a959a-vvsw";
/// Longest wait for the demo to replay to its stop time, and for Chromium.
const WAIT: Duration = Duration::from_secs(180);

/// A child process killed when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn require_chromium() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: install the Debian package `chromium` (apt-get install chromium; scripts/test.sh does it)"
    );
}

/// Starts the demo stopped at `until` (in the incident's own time), with
/// `extra` arguments; returns it, its address and the time the page shows
/// for that moment (the shifted one the demo prints, else `until`) once the
/// replay reached it.
fn demo_at(until: &str, extra: &[&str]) -> (Guard, String, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_nodewatch"))
        .args([
            "demo",
            "--speed",
            "1000000000",
            "--listen",
            "127.0.0.1:0",
            "--until",
            until,
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the demo");
    let mut guard = Guard(child);
    let stdout = guard.0.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let mut addr = None;
    let mut shown = until.to_string();
    loop {
        let left = WAIT.saturating_sub(started.elapsed());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("demo did not reach {until} in {WAIT:?}"));
        if let Some(rest) = line.strip_prefix("status page: http://") {
            addr = rest.split('/').next().map(str::to_string);
        }
        // `time: <until> replays as <shifted> (...)`
        if let Some(rest) = line.strip_prefix(&format!("time: {until} replays as ")) {
            shown = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
        }
        if line.starts_with("replay finished; still serving") {
            break;
        }
    }
    // The page writes `2018-02-20T15:20:00Z` as `2018-02-20 15:20:00 UTC`.
    let shown = format!("{} UTC", shown.trim_end_matches('Z').replacen('T', " ", 1));
    (guard, addr.expect("demo prints its address"), shown)
}

/// Runs headless Chromium with `args` on `url` (bounded), returns stdout.
fn chromium(args: &[&str], url: &str) -> String {
    require_chromium();
    let profile = tempfile::tempdir().expect("profile dir");
    let out = tempfile::NamedTempFile::new().expect("stdout file");
    let child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,1600",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(out.reopen().expect("stdout"))
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let mut guard = Guard(child);
    let started = Instant::now();
    loop {
        if let Some(status) = guard.0.try_wait().expect("wait for chromium") {
            assert!(status.success(), "chromium failed: {status}");
            break;
        }
        assert!(
            started.elapsed() < WAIT,
            "chromium did not finish in {WAIT:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::fs::read_to_string(out.path()).expect("chromium output")
}

/// Takes a screenshot of `url` into `target/browser/<name>.png`.
fn screenshot(url: &str, name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser");
    std::fs::create_dir_all(&dir).expect("target/browser");
    let png = dir.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&png);
    chromium(&[&format!("--screenshot={}", png.display())], url);
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000,
        "{} is not a page",
        png.display()
    );
    png
}

/// The `data-node` of the node rows, in page order.
fn ranked_nodes(dom: &str) -> Vec<&str> {
    dom.split("<tr class=\"node")
        .skip(1)
        .filter_map(|row| row.split("data-node=\"").nth(1)?.split('"').next())
        .collect()
}

#[test]
fn cluster_banner_during_the_cluster_incident() {
    let (_demo, addr, shown) = demo_at("2018-02-20T15:20:00Z", &[]);
    assert!(
        !shown.starts_with("2018"),
        "the default demo is shifted to the wall clock: {shown}"
    );
    let url = format!("http://{addr}/");
    let dom = chromium(&["--dump-dom"], &url);
    assert!(dom.contains(&shown), "the page shows the stop time {shown}");
    assert!(
        dom.contains("id=\"cluster-banner\""),
        "banner during the cluster incident:\n{dom}"
    );
    assert!(dom.contains("Cluster-wide anomaly") && dom.contains("will not cordon"));
    assert!(
        dom.contains("ClusterWideAnomaly"),
        "the cluster alert is named"
    );
    assert_eq!(ranked_nodes(&dom).len(), 8);
    screenshot(&url, "status-cluster-incident");
}

#[test]
fn sick_node_ranked_first_with_its_explanation() {
    let (_demo, addr, shown) = demo_at("2018-02-20T17:10:00Z", &["--original-time"]);
    let url = format!("http://{addr}/");
    let dom = chromium(&["--dump-dom"], &url);
    assert_eq!(shown, "2018-02-20 17:10:00 UTC");
    assert!(
        dom.contains(&shown),
        "the page shows the incident's own time"
    );
    let ranked = ranked_nodes(&dom);
    assert_eq!(ranked.first(), Some(&VVSW), "vvsw first: {ranked:?}");
    let row = dom
        .split(&format!("data-node=\"{VVSW}\""))
        .nth(1)
        .and_then(|r| r.split("</tr>").next())
        .unwrap_or("");
    assert!(row.contains("class=\"why\""), "{row}");
    assert!(
        row.contains("failed_sync_pods") && row.contains("from its own baseline"),
        "explained in words: {row}"
    );
    assert!(
        row.contains("alert firing") && row.contains("cordoned by nodewatch"),
        "{row}"
    );
    assert!(
        !dom.contains("id=\"cluster-banner\""),
        "no cluster banner for one sick node"
    );
    assert!(dom.contains("<svg class=\"spark\""), "sparklines drawn");
    let png = screenshot(&url, "status-sick-node");
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    std::fs::create_dir_all(&docs).expect("docs/");
    std::fs::copy(&png, docs.join("status-page.png")).expect("copy to docs/status-page.png");
}
