//! Running the built `nodewatch` binary in the deployment tests: a free
//! loopback address, a minimal HTTP GET, and a child process that is
//! waited for until ready, stopped with SIGTERM as the kubelet does, and
//! killed if a test ends early.

use super::root;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A free address on 127.0.0.1.
pub fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").to_string()
}

/// `GET path` over HTTP/1.0 (blocking, bounded): status and body.
pub fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// [`http_get`] off the async runtime's worker threads.
pub async fn get(addr: &str, path: &str) -> Option<(u16, String)> {
    let (a, p) = (addr.to_string(), path.to_string());
    tokio::task::spawn_blocking(move || http_get(&a, &p))
        .await
        .ok()
        .flatten()
}

/// A `nodewatch` process, stopped (SIGKILL) when dropped.
pub struct Process {
    child: Option<Child>,
    /// Where its stderr goes.
    pub stderr: PathBuf,
    /// Its HTTP address.
    pub addr: String,
}

impl Process {
    /// Starts `nodewatch ARGS` in the repository root with `env` added;
    /// stdout and stderr go to files in `dir`.
    pub fn spawn(args: &[String], env: &[(String, String)], dir: &Path, addr: &str) -> Process {
        let stderr = dir.join("nodewatch.stderr");
        let child = Command::new(crate::nodewatch_bin())
            .args(args)
            .envs(env.iter().cloned())
            .env_remove("RUST_BACKTRACE")
            .current_dir(root())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join("nodewatch.stdout")).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start nodewatch");
        Process {
            child: Some(child),
            stderr,
            addr: addr.to_string(),
        }
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits until `/readyz` answers 200 (it has ticked once).
    pub async fn wait_ready(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "nodewatch exited ({status}) before it was ready:\n{}",
                    self.log()
                );
            }
            if matches!(get(&self.addr, "/readyz").await, Some((200, _))) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nodewatch not ready after {within:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// SIGTERM, as the kubelet stops a pod; waits (bounded) for the exit.
    pub async fn terminate(mut self) -> (ExitStatus, String) {
        let mut child = self.child.take().expect("running");
        let pid = child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return (status, self.log());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "nodewatch did not stop within 30 s of SIGTERM:\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
