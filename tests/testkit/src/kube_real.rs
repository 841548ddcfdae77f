//! A real Kubernetes control plane for tests: etcd and kube-apiserver built
//! from the Go module proxy by `scripts/controlplane.sh` (pinned in
//! `tests/controlplane/go.mod`), started on 127.0.0.1 with free ports and
//! their own temp dir, and killed when dropped. Nothing else runs: no
//! controller-manager, scheduler or kubelet, so a Deployment is stored and
//! validated but never gets ReplicaSets or pods.
//!
//! ```ignore
//! use nodewatch_testkit::kube_real;
//! let cp = kube_real::ControlPlane::start();
//! cp.kubectl_ok(&["apply", "--server-side", "-f", "-"], Some(&yaml));
//! let sa = cp.service_account_kubeconfig("nodewatch", "nodewatch");
//! ```
//!
//! - The binaries come from `$NODEWATCH_CONTROLPLANE` (scripts/test.sh
//!   exports it). Unset or incomplete fails the test with the command to
//!   run; nothing is skipped.
//! - `--authorization-mode=Node,RBAC`; an admin (group `system:masters`)
//!   authenticates with a static token (`--token-auth-file`) for setup;
//!   service-account tokens are signed with an EC key made by openssl, so
//!   `kubectl create token` (TokenRequest) works.
//! - kube-apiserver self-signs its serving certificate (for 127.0.0.1) into
//!   `--cert-dir`; kubeconfigs trust that file.
//! - Start-up waits (bounded) for `/readyz` to answer `ok`.

mod process;
use crate::free_port;
pub use process::{kubectl_with, ok};
use process::{run_ok, spawn, tail};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

/// The environment variable naming the directory with `kube-apiserver` and
/// `etcd`.
pub const ENV: &str = "NODEWATCH_CONTROLPLANE";
/// Longest wait for etcd, then for kube-apiserver's `/readyz`.
const READY_TIMEOUT: Duration = Duration::from_secs(180);
/// The admin's static token (a test credential for a throwaway server).
const ADMIN_TOKEN: &str = "nodewatch-test-admin";

/// Where the binaries are; fails the test with the fix when they are not.
pub fn binaries() -> PathBuf {
    let fix = "build them with `export NODEWATCH_CONTROLPLANE=\"$(scripts/controlplane.sh)\"` \
               (scripts/test.sh does it; the first build takes minutes, then it is cached)";
    let dir = std::env::var_os(ENV).map(PathBuf::from).unwrap_or_else(|| {
        panic!("{ENV} is not set: the real kube-apiserver and etcd are needed; {fix}")
    });
    for b in ["kube-apiserver", "etcd"] {
        assert!(
            dir.join(b).is_file(),
            "{ENV}={} has no `{b}`; {fix}",
            dir.display()
        );
    }
    dir
}

/// A running etcd + kube-apiserver; both killed when dropped.
pub struct ControlPlane {
    etcd: Option<Child>,
    apiserver: Option<Child>,
    dir: tempfile::TempDir,
    port: u16,
    extra: Vec<String>,
}

impl ControlPlane {
    /// Starts etcd and kube-apiserver and waits until the API server is
    /// ready.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// [`Self::start`] with more kube-apiserver flags.
    pub fn start_with(apiserver_flags: &[&str]) -> Self {
        let bin = binaries();
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        // The service-account signing key (EC: quick to make).
        run_ok(
            Command::new("openssl")
                .args([
                    "ecparam",
                    "-name",
                    "prime256v1",
                    "-genkey",
                    "-noout",
                    "-out",
                ])
                .arg(d.join("sa.key")),
        );
        std::fs::write(
            d.join("tokens.csv"),
            format!("{ADMIN_TOKEN},admin,admin-uid,\"system:masters\"\n"),
        )
        .expect("write token file");

        let mut cp = ControlPlane {
            etcd: None,
            apiserver: None,
            dir,
            port: 0,
            extra: apiserver_flags.iter().map(|f| f.to_string()).collect(),
        };
        // A free port can be taken between probing and binding (another
        // test, Prometheus): start anew on fresh ports.
        let mut failures = Vec::new();
        for attempt in 0..3 {
            match cp.launch(&bin, attempt) {
                Ok(()) => return cp,
                Err(e) => {
                    cp.stop();
                    failures.push(e);
                }
            }
        }
        panic!(
            "the control plane did not start:\n{}",
            failures.join("\n---\n")
        );
    }

    /// Starts etcd and kube-apiserver on fresh ports; `Err` with the log
    /// when either exits or is not ready in time.
    fn launch(&mut self, bin: &Path, attempt: u32) -> Result<(), String> {
        let d = self.dir.path().to_path_buf();
        let (etcd_port, peer_port) = (free_port(), free_port());
        self.port = free_port();
        let etcd_url = format!("http://127.0.0.1:{etcd_port}");
        let etcd_log = d.join(format!("etcd-{attempt}.log"));
        self.etcd = Some(spawn(
            Command::new(bin.join("etcd"))
                .arg("-data-dir")
                .arg(d.join(format!("etcd-{attempt}")))
                .args(["-listen-client", &etcd_url])
                .args(["-listen-peer", &format!("http://127.0.0.1:{peer_port}")]),
            &etcd_log,
        ));
        self.wait_for("etcd", &etcd_log, || {
            std::fs::read_to_string(&etcd_log).is_ok_and(|l| l.contains("etcd ready on"))
        })?;

        let sa_key = d.join("sa.key");
        let flag = |name: &str, p: &Path| format!("--{name}={}", p.display());
        let api_log = d.join(format!("apiserver-{attempt}.log"));
        self.apiserver = Some(spawn(
            Command::new(bin.join("kube-apiserver"))
                .arg(format!("--etcd-servers={etcd_url}"))
                .args(["--bind-address=127.0.0.1", "--advertise-address=127.0.0.1"])
                .arg(format!("--secure-port={}", self.port))
                .arg(flag("cert-dir", &d.join("certs")))
                .arg("--authorization-mode=Node,RBAC")
                .arg(flag("token-auth-file", &d.join("tokens.csv")))
                .arg("--service-account-issuer=https://kubernetes.default.svc")
                .arg(flag("service-account-key-file", &sa_key))
                .arg(flag("service-account-signing-key-file", &sa_key))
                .arg("--service-cluster-ip-range=10.96.0.0/24")
                // The `kubernetes` Service's endpoints would be 127.0.0.1,
                // which Endpoints validation refuses; nothing here needs
                // them.
                .arg("--endpoint-reconciler-type=none")
                .arg("--profiling=false")
                .args(&self.extra),
            &api_log,
        ));
        let admin = self.write_kubeconfig("admin.kubeconfig", ADMIN_TOKEN);
        self.wait_for("kube-apiserver", &api_log, || {
            kubectl_with(&admin, &["get", "--raw", "/readyz"], None)
                .status
                .success()
        })
    }

    /// Waits (bounded) until `ready`; `Err` with the end of `log` if a
    /// process exits or it takes too long.
    fn wait_for(&mut self, what: &str, log: &Path, ready: impl Fn() -> bool) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            for c in [&mut self.etcd, &mut self.apiserver].into_iter().flatten() {
                if let Some(status) = c.try_wait().expect("wait") {
                    return Err(format!(
                        "{what}: a control-plane process exited ({status}); log:\n{}",
                        tail(log)
                    ));
                }
            }
            if ready() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{what} not ready after {READY_TIMEOUT:?}; log:\n{}",
                    tail(log)
                ));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Kills both processes (if running).
    fn stop(&mut self) {
        for c in [self.apiserver.take(), self.etcd.take()]
            .into_iter()
            .flatten()
        {
            let mut c = c;
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The API server's URL, `https://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The API server's address.
    pub fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The temp directory (logs, kubeconfigs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The admin's kubeconfig.
    pub fn admin_kubeconfig(&self) -> PathBuf {
        self.dir().join("admin.kubeconfig")
    }

    /// Writes a kubeconfig `name` authenticating with `token`, trusting the
    /// API server's self-signed certificate; returns its path.
    pub fn write_kubeconfig(&self, name: &str, token: &str) -> PathBuf {
        self.write_kubeconfig_via(name, token, &self.url())
    }

    /// [`Self::write_kubeconfig`] reaching the server at `server` (a proxy
    /// in front of it, say).
    pub fn write_kubeconfig_via(&self, name: &str, token: &str, server: &str) -> PathBuf {
        let path = self.dir().join(name);
        let ca = self.dir().join("certs").join("apiserver.crt");
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: real\n  cluster:\n    server: {}\n    certificate-authority: {}\nusers:\n- name: u\n  user:\n    token: {token}\ncontexts:\n- name: real\n  context:\n    cluster: real\n    user: u\ncurrent-context: real\n",
            server,
            ca.display()
        );
        std::fs::write(&path, text).expect("write kubeconfig");
        path
    }

    /// A kubeconfig for ServiceAccount `namespace/name`, with a token from
    /// the TokenRequest API (`kubectl create token`).
    pub fn service_account_kubeconfig(&self, namespace: &str, name: &str) -> PathBuf {
        self.service_account_kubeconfig_via(namespace, name, &self.url())
    }

    /// [`Self::service_account_kubeconfig`] reaching the server at `server`.
    pub fn service_account_kubeconfig_via(
        &self,
        namespace: &str,
        name: &str,
        server: &str,
    ) -> PathBuf {
        let out = self.kubectl_ok(
            &["create", "token", name, "-n", namespace, "--duration=1h"],
            None,
        );
        let token = out.trim();
        assert!(!token.is_empty(), "TokenRequest returned a token");
        self.write_kubeconfig_via(
            // One file per server port: direct and through a proxy.
            &format!(
                "sa-{namespace}-{name}-{}.kubeconfig",
                server.rsplit(':').next().unwrap_or_default()
            ),
            token,
            server,
        )
    }

    /// `kubectl ARGS` as the admin, with `stdin` piped in.
    pub fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Output {
        kubectl_with(&self.admin_kubeconfig(), args, stdin)
    }

    /// [`Self::kubectl`], asserting success; returns stdout.
    pub fn kubectl_ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        ok(self.kubectl(args, stdin), args)
    }

    /// An object as the admin sees it, or `None` if it does not exist.
    pub fn get(
        &self,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<serde_json::Value> {
        let mut args = vec!["get", kind, name, "-o", "json"];
        if let Some(ns) = namespace {
            args.extend(["-n", ns]);
        }
        let out = self.kubectl(&args, None);
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("NotFound"), "kubectl {args:?}: {err}");
            return None;
        }
        Some(serde_json::from_slice(&out.stdout).expect("kubectl prints JSON"))
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.stop();
    }
}
