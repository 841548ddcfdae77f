//! A real Prometheus scraping nodewatch's `/metrics`: the shared harness
//! ([`crate::prometheus`]) starts Prometheus with an empty scrape config,
//! so this one writes its own config with one job for the given target and
//! starts Debian's `prometheus` on 127.0.0.1 with temp storage, killed on
//! drop. Also `promtool` as a Prometheus API client.

use super::prometheus::{free_port, require_tools};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Longest wait for start-up and for the first scrape.
const WAIT: Duration = Duration::from_secs(60);

/// A Prometheus scraping one target every second; killed when dropped.
pub struct Scraper {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Scraper {
    /// Starts Prometheus scraping `http://<target>/metrics` as job
    /// `nodewatch`, and waits until it serves queries.
    pub fn start(target: SocketAddr) -> Self {
        require_tools();
        let dir = tempfile::tempdir().expect("temp dir");
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n  - job_name: nodewatch\n    static_configs:\n      - targets: ['{target}']\n"
        );
        std::fs::write(dir.path().join("prometheus.yml"), config).expect("config");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("log")).expect("log");
        let child = Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn prometheus");
        let s = Scraper { child, port, dir };
        let started = Instant::now();
        while !s.log().contains("Server is ready to receive web requests.") {
            assert!(
                started.elapsed() < WAIT,
                "prometheus not ready; log:\n{}",
                s.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        s
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Everything Prometheus logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    /// Polls (bounded) until the instant query `expr` returns a non-empty
    /// result; returns it as JSON.
    pub fn wait_for(&self, expr: &str) -> serde_json::Value {
        let started = Instant::now();
        loop {
            let v = promtool_json(&["instant", &self.url(), expr]);
            if v.as_array().is_some_and(|a| !a.is_empty()) {
                return v;
            }
            assert!(
                started.elapsed() < WAIT,
                "no result for {expr}; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Scraper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `promtool query -o json <args>` and parses its output; panics with
/// promtool's stderr when it fails.
pub fn promtool_json(args: &[&str]) -> serde_json::Value {
    require_tools();
    let out = Command::new("promtool")
        .args(["query", "-o", "json"])
        .args(args)
        .output()
        .expect("run promtool");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "promtool query {args:?} failed: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("promtool output {stdout:?}: {e}"))
}

/// Runs `promtool query <args>` expecting failure; returns its stderr.
pub fn promtool_error(args: &[&str]) -> String {
    let out = Command::new("promtool")
        .arg("query")
        .args(args)
        .output()
        .expect("run promtool");
    assert!(!out.status.success(), "promtool query {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout)
}
