//! A throw-away Prometheus holding one scenario's metrics, for comparing
//! with kube-prometheus' rules (`nodewatch suite --kube-prometheus`): the
//! scenario is written to a temp directory, its `metrics.om` backfilled
//! with `promtool tsdb create-blocks-from openmetrics`, and `prometheus`
//! (Debian's package) started on 127.0.0.1 with its own config, port and
//! storage — never the packaged service. Dropping it kills the process and
//! removes the directory. (The test suite has its own, richer harness in
//! `tests/testkit/src/prometheus.rs`; this is the same recipe for the CLI.)

use crate::scenario::{write_dir, Scenario};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Longest wait for Prometheus to answer `/-/ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// Why the local Prometheus could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("local Prometheus for {scenario}: {message}")]
pub struct LaunchError {
    /// The scenario.
    pub scenario: String,
    /// What went wrong (a missing binary names the Debian package).
    pub message: String,
}

/// A running Prometheus on a scenario's data.
pub struct LocalPrometheus {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl LocalPrometheus {
    /// Writes and backfills `scenario`, then starts Prometheus on it.
    pub fn start(scenario: &Scenario) -> Result<Self, LaunchError> {
        let dir = std::env::temp_dir().join(format!(
            "nodewatch-suite-{}-{}-{}",
            std::process::id(),
            scenario.meta.name,
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        let cleanup = |message: String| {
            let _ = std::fs::remove_dir_all(&dir);
            LaunchError {
                scenario: scenario.meta.name.clone(),
                message,
            }
        };
        let data = dir.join("data");
        write_dir(scenario, &dir.join("scenario")).map_err(|e| cleanup(e.to_string()))?;
        let out = Command::new("promtool")
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(dir.join("scenario/metrics.om"))
            .arg(&data)
            .output()
            .map_err(|e| {
                cleanup(format!(
                    "cannot run promtool ({e}): install the Debian package `prometheus`"
                ))
            })?;
        if !out.status.success() {
            return Err(cleanup(format!(
                "promtool could not backfill: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            "global:\n  evaluation_interval: 1h\nscrape_configs: []\n",
        )
        .map_err(|e| cleanup(e.to_string()))?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| cleanup(e.to_string()))?
            .port();
        let log = std::fs::File::create(dir.join("prometheus.log"))
            .map_err(|e| cleanup(e.to_string()))?;
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg("--storage.tsdb.retention.time=100y")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| {
                cleanup(format!(
                    "cannot run prometheus ({e}): install the Debian package `prometheus`"
                ))
            })?;
        let me = LocalPrometheus { child, port, dir };
        me.wait_ready().map_err(|message| LaunchError {
            scenario: scenario.meta.name.clone(),
            message,
        })?;
        Ok(me)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn wait_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if self.ready() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let log = std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default();
        Err(format!("prometheus did not become ready; log:\n{log}"))
    }

    /// Whether `/-/ready` answers 200.
    fn ready(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let req = format!(
            "GET /-/ready HTTP/1.0\r\nHost: 127.0.0.1:{}\r\n\r\n",
            self.port
        );
        let mut answer = String::new();
        s.write_all(req.as_bytes()).is_ok()
            && s.read_to_string(&mut answer).is_ok()
            && answer.starts_with("HTTP/1.0 200") | answer.starts_with("HTTP/1.1 200")
    }
}

impl Drop for LocalPrometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
