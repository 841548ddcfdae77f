//! A real Prometheus for tests: Debian's `prometheus` (2.42) and `promtool`
//! started on 127.0.0.1 with their own config, port and temp storage, never
//! the packaged service or its config.
//!
//! ```ignore
//! use nodewatch_testkit::prometheus::Prometheus;
//!
//! let dir = tempfile::tempdir()?;                   // a scenario directory
//! nodewatch::scenario::write_dir(&scenario, dir.path())?;
//! let mut prom = Prometheus::with_scenario(dir.path()); // backfill + start
//! let url = prom.url();                             // http://127.0.0.1:<port>
//! prom.kill();                                      // SIGKILL, as a crash
//! prom.restart();                                   // same port and data
//! // dropped: killed and its temp dir removed
//! ```
//!
//! - [`Prometheus::with_scenario`] backfills `metrics.om` with `promtool
//!   tsdb create-blocks-from openmetrics` and starts on it;
//!   [`Prometheus::start`] starts on any storage directory, and
//!   [`Options`] adds a web config file (TLS, basic auth) or flags.
//! - Retention is 100 years, so backfilled 2018 data is never deleted.
//! - Start-up waits (bounded) for "Server is ready to receive web
//!   requests." in its log and, on plain HTTP, for `/-/ready` to answer 200.
//! - A missing binary fails the test with a message naming the Debian
//!   package (`scripts/test.sh` installs it); nothing is skipped.

pub use crate::free_port;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Longest wait for Prometheus to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// The line Prometheus logs once it serves queries.
const READY_LINE: &str = "Server is ready to receive web requests.";

/// Fails the test unless `prometheus` and `promtool` can run.
pub fn require_tools() {
    for tool in ["prometheus", "promtool"] {
        let ok = Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            ok,
            "`{tool}` is not installed: install the Debian package `prometheus` \
             (apt-get install prometheus; scripts/test.sh does it)"
        );
    }
}

/// Backfills an OpenMetrics file into a TSDB directory with promtool.
pub fn backfill(openmetrics: &Path, storage: &Path) {
    require_tools();
    let out = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(openmetrics)
        .arg(storage)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool could not backfill {}: {}",
        openmetrics.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Extra start-up settings.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Contents of a `--web.config.file` (TLS, basic auth).
    pub web_config: Option<String>,
    /// Serves HTTPS (the web config has `tls_server_config`).
    pub tls: bool,
    /// More command-line flags.
    pub args: Vec<String>,
    /// The whole `prometheus.yml` (default: nothing scraped, the data is
    /// backfilled).
    pub config: Option<String>,
}

/// A running Prometheus; killed when dropped.
pub struct Prometheus {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    storage: PathBuf,
    opts: Options,
}

impl Prometheus {
    /// Backfills `scenario_dir/metrics.om` into fresh temp storage and
    /// starts on it.
    pub fn with_scenario(scenario_dir: &Path) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let storage = dir.path().join("data");
        backfill(&scenario_dir.join("metrics.om"), &storage);
        Self::launch(dir, storage, Options::default())
    }

    /// Starts on `storage` (created if missing; the caller keeps it).
    pub fn start(storage: &Path) -> Self {
        Self::start_with(storage, Options::default())
    }

    /// Starts on `storage` with extra settings.
    pub fn start_with(storage: &Path, opts: Options) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::launch(dir, storage.to_path_buf(), opts)
    }

    fn launch(dir: tempfile::TempDir, storage: PathBuf, opts: Options) -> Self {
        require_tools();
        let config = opts.config.as_deref().unwrap_or(
            "global:\n  scrape_interval: 1h\n  evaluation_interval: 1h\nscrape_configs: []\n",
        );
        std::fs::write(dir.path().join("prometheus.yml"), config).expect("write config");
        if let Some(web) = &opts.web_config {
            std::fs::write(dir.path().join("web.yml"), web).expect("write web config");
        }
        let mut p = Prometheus {
            child: None,
            port: 0,
            dir,
            storage,
            opts,
        };
        // A free port can be taken between probing and binding: try anew.
        for _ in 0..3 {
            p.port = free_port();
            if p.spawn() {
                return p;
            }
        }
        panic!("prometheus did not start; log:\n{}", p.log());
    }

    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        let scheme = if self.opts.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Listening address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Storage directory.
    pub fn storage(&self) -> &Path {
        &self.storage
    }

    /// Whether the process is alive.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Kills the process with SIGKILL (a crash, no clean shutdown) and waits.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts again on the same port and storage (after [`Prometheus::kill`]).
    pub fn restart(&mut self) {
        self.kill();
        assert!(
            self.spawn(),
            "prometheus did not restart on port {}; log:\n{}",
            self.port,
            self.log()
        );
    }

    /// Everything Prometheus logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// Starts and waits until ready; false if the process exited.
    fn spawn(&mut self) -> bool {
        let log_path = self.dir.path().join("prometheus.log");
        // Truncated so the ready line of an earlier run does not count.
        let log = std::fs::File::create(&log_path).expect("log file");
        let mut cmd = Command::new("prometheus");
        cmd.arg(format!(
            "--config.file={}",
            self.dir.path().join("prometheus.yml").display()
        ))
        .arg(format!("--storage.tsdb.path={}", self.storage.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
        .arg("--storage.tsdb.retention.time=100y")
        .args(&self.opts.args)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log file"))
        .stderr(log);
        if self.opts.web_config.is_some() {
            cmd.arg(format!(
                "--web.config.file={}",
                self.dir.path().join("web.yml").display()
            ));
        }
        self.child = Some(cmd.spawn().expect("spawn prometheus"));
        let started = Instant::now();
        while started.elapsed() < READY_TIMEOUT {
            if !self.is_running() {
                self.child = None;
                return false;
            }
            if self.log().contains(READY_LINE) && (self.opts.tls || http_ready(self.addr())) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "prometheus not ready within {READY_TIMEOUT:?}; log:\n{}",
            self.log()
        );
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `GET /-/ready` answers 200.
fn http_ready(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!("GET /-/ready HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.starts_with("HTTP/1.0 200") || buf.starts_with("HTTP/1.1 200")
}
