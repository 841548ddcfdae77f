//! Test support for the notification sinks: a real Alertmanager
//! (`prometheus-alertmanager`) and a real SMTP server (`python3-aiosmtpd`
//! writing a Maildir), each on a free 127.0.0.1 port with its own config and
//! temp directory, stopped on drop; bounded waits; hand-made alerts. The
//! HTTP receiver for webhooks and Grafana is in `receiver.rs`.

pub use crate::free_port;
use nodewatch::model::AlertState;
use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Polls `f` every 50 ms until it returns `Some`, at most `within`.
pub async fn wait_for<T, F, Fut>(within: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn require(binary: &str, args: &[&str], package: &str) {
    let ok = Command::new(binary)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "the Debian package {package} is missing ({binary} {args:?} failed); \
         scripts/test.sh installs it, or run: apt-get install {package}"
    );
}

fn log_tail(path: &Path) -> String {
    let mut s = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_string(&mut s);
    }
    let tail: Vec<char> = s.chars().rev().take(2000).collect();
    tail.into_iter().rev().collect()
}

fn wait_tcp(port: u16, child: &mut Child, log: &Path, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{what} exited ({status}) before listening:\n{}",
                log_tail(log)
            );
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on {port} within 30 s:\n{}",
            log_tail(log)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn kill(child: &mut Option<Child>) {
    if let Some(mut c) = child.take() {
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// A real Alertmanager with its own config (one webhook receiver, short
/// group timers), gossip off and temp storage.
pub struct Alertmanager {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Alertmanager {
    /// Starts it, routing everything to `webhook_url`.
    pub fn start(webhook_url: &str) -> Alertmanager {
        require(
            "prometheus-alertmanager",
            &["--version"],
            "prometheus-alertmanager",
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let config = format!(
            "route:\n  receiver: test\n  group_by: [alertname, node]\n  group_wait: 1s\n  \
             group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: test\n    \
             webhook_configs:\n      - url: {webhook_url}\n        send_resolved: true\n"
        );
        std::fs::write(dir.path().join("alertmanager.yml"), config).expect("write config");
        let mut am = Alertmanager {
            child: None,
            port: free_port(),
            dir,
        };
        am.resume();
        am
    }

    /// Base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts it again (same port, same storage) after [`Self::stop`].
    pub fn resume(&mut self) {
        let log_path = self.dir.path().join("alertmanager.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        let mut child = Command::new("prometheus-alertmanager")
            .arg(format!(
                "--config.file={}",
                self.dir.path().join("alertmanager.yml").display()
            ))
            .arg(format!(
                "--storage.path={}",
                self.dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus-alertmanager");
        wait_tcp(self.port, &mut child, &log_path, "alertmanager");
        self.child = Some(child);
    }

    /// Stops it.
    pub fn stop(&mut self) {
        kill(&mut self.child);
    }

    /// `GET /api/v2/alerts`.
    pub async fn alerts(&self) -> Vec<serde_json::Value> {
        let url = format!("{}/api/v2/alerts", self.url());
        match reqwest::get(&url).await {
            Ok(r) if r.status().is_success() => r.json().await.unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A real SMTP server (aiosmtpd) delivering into a Maildir.
pub struct Smtp {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: tempfile::TempDir,
    tls: SmtpTls,
}

/// How the test SMTP server speaks TLS (certificate and key from
/// `tests/fixtures/tls`, issued for 127.0.0.1 by `ca.pem`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SmtpTls {
    /// Plain text.
    None,
    /// STARTTLS offered and required before mail is accepted.
    Starttls,
    /// TLS from the first byte (SMTPS).
    Implicit,
}

/// A file of the shared test TLS fixtures.
pub fn tls_fixture(name: &str) -> PathBuf {
    crate::repo_root().join("tests/fixtures/tls").join(name)
}

/// Debian's interpreter, where `python3-aiosmtpd` is installed (a `python3`
/// earlier on PATH may be another one).
const PYTHON: &str = "/usr/bin/python3";

/// One received email, parsed by Python's `email` package.
#[derive(Debug, serde::Deserialize)]
pub struct Mail {
    /// Decoded subject.
    pub subject: String,
    /// `To` header.
    pub to: String,
    /// Envelope recipients (aiosmtpd's `X-RcptTo`).
    pub rcpt_to: String,
    /// Decoded plain-text body.
    pub body: String,
}

impl Smtp {
    /// Starts it (plain text).
    pub fn start() -> Smtp {
        Smtp::start_tls(SmtpTls::None)
    }

    /// Starts it speaking TLS as `tls` says.
    pub fn start_tls(tls: SmtpTls) -> Smtp {
        require(PYTHON, &["-c", "import aiosmtpd"], "python3-aiosmtpd");
        let mut s = Smtp {
            child: None,
            port: free_port(),
            dir: tempfile::tempdir().expect("temp dir"),
            tls,
        };
        s.resume();
        s
    }

    fn maildir(&self) -> PathBuf {
        self.dir.path().join("Maildir")
    }

    /// Starts it again on the same port and Maildir.
    pub fn resume(&mut self) {
        let log_path = self.dir.path().join("smtpd.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        let (cert, key) = (tls_fixture("server.pem"), tls_fixture("server.key"));
        let tls_args: Vec<&Path> = match self.tls {
            SmtpTls::None => vec![],
            SmtpTls::Starttls => vec![Path::new("--tlscert"), &cert, Path::new("--tlskey"), &key],
            SmtpTls::Implicit => vec![
                Path::new("--smtpscert"),
                &cert,
                Path::new("--smtpskey"),
                &key,
            ],
        };
        let mut child = Command::new(PYTHON)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{}", self.port))
            .args(tls_args)
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(self.maildir())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start aiosmtpd");
        wait_tcp(self.port, &mut child, &log_path, "aiosmtpd");
        self.child = Some(child);
    }

    /// Stops it.
    pub fn stop(&mut self) {
        kill(&mut self.child);
    }

    /// Every message delivered so far, parsed.
    pub fn mails(&self) -> Vec<Mail> {
        let mut files = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(rd) = std::fs::read_dir(self.maildir().join(sub)) {
                files.extend(rd.flatten().map(|e| e.path()));
            }
        }
        files.sort();
        files.iter().map(|f| parse_mail(f)).collect()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        self.stop();
    }
}

fn parse_mail(path: &Path) -> Mail {
    let script = "import email, email.policy, json, sys\n\
        m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=email.policy.default)\n\
        print(json.dumps({'subject': str(m['subject']), 'to': str(m['to']), \
        'rcpt_to': str(m['X-RcptTo']), 'body': m.get_body(('plain',)).get_content()}))\n";
    let out = Command::new(PYTHON)
        .args(["-c", script])
        .arg(path)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "cannot parse {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("mail as JSON")
}

/// A `NodeUnhealthy` transition for `node`, shaped as the engine emits it.
pub fn node_alert(node: &str, firing: bool, at_secs: i64) -> nodewatch::act::Notification {
    use nodewatch::time::Timestamp;
    let labels = [
        ("alertname", "NodeUnhealthy"),
        ("node", node),
        ("scope", "node"),
        ("severity", "critical"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let why = format!(
        "score 0.93: node_threads_ratio 0.97 on {node}: 41.0 sigma from its own baseline (median 0.05, MAD 0.01)"
    );
    let at = Timestamp(1_519_146_000_000 + at_secs * 1000);
    nodewatch::act::Notification {
        alert: nodewatch::state::AlertView {
            name: "NodeUnhealthy".into(),
            scope: "node".into(),
            subject: node.into(),
            state: if firing {
                AlertState::Firing
            } else {
                AlertState::Resolved
            },
            labels,
            annotations: [
                (
                    "summary".to_string(),
                    format!("Node {node} looks sick (score 0.93)"),
                ),
                ("description".to_string(), why.clone()),
                ("explanation".to_string(), why),
            ]
            .into(),
            active_since: at,
            fired_at: Some(at),
        },
        status: if firing {
            AlertState::Firing
        } else {
            AlertState::Resolved
        },
        ends_at: (!firing).then_some(at),
    }
}

/// Parses a `sinks:` section (the whole config file format).
pub fn sinks_config(yaml: &str) -> nodewatch::act::sinks::SinksConfig {
    nodewatch::config::Config::parse(yaml, Path::new("test.yaml"))
        .unwrap_or_else(|e| panic!("config: {e}"))
        .sinks
}
