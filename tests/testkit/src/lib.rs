//! What nodewatch's integration tests and benches share, as one dev-only
//! crate instead of files each test binary pulled in with `#[path]`: an
//! item here is compiled once and is never "unused" in a binary that does
//! not call it, so no module needs `#![allow(dead_code)]`.
//!
//! The six test binaries (`tests/{kube,prometheus,serve,sinks,deploy,
//! scenario}/main.rs`) and the benches use it as `nodewatch_testkit`:
//!
//! - real servers started on 127.0.0.1 for a test: [`prometheus`] (and
//!   [`serve_prom`], Prometheus scraping nodewatch), [`kube_real`] (etcd
//!   and kube-apiserver) with [`kube_real_scenario`] (a scenario played
//!   through it), [`sinks`] (Alertmanager, an SMTP server);
//! - fakes where a real server cannot be made to misbehave on purpose:
//!   [`fake_apiserver`], [`loopback`], [`hostile`], [`tcp_proxy`],
//!   [`receiver`];
//! - [`deploy`] (rendering `deploy/`, running the binary as the manifests
//!   say), [`serve`] (the query API's fixture, client and comparison with
//!   Prometheus), [`sim`] (a pipeline at simulated time fed by a live
//!   metric source).

use std::path::{Path, PathBuf};

pub mod cluster;
pub mod deploy;
pub mod fake_apiserver;
pub mod hostile;
pub mod kube_real;
pub mod kube_real_scenario;
pub mod loopback;
pub mod prometheus;
pub mod receiver;
pub mod serve;
pub mod serve_prom;
pub mod sim;
pub mod sinks;
pub mod tcp_proxy;

/// A port on 127.0.0.1 that was free a moment ago: the OS picks it for a
/// listener that is closed at once. Tests bind it soon after; the OS does
/// not hand the same ephemeral port out again immediately.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// The repository root (this crate lives in `tests/testkit`).
pub fn repo_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .nth(2)
        .expect("tests/testkit has a grandparent")
        .to_path_buf()
}

/// The `nodewatch` binary cargo built for the running test or bench.
///
/// `CARGO_BIN_EXE_nodewatch` exists only while an integration test or
/// bench of the `nodewatch` package itself compiles, not in this crate; the
/// binary sits beside the `deps/` folder that holds the test executable
/// (cargo builds it before any integration test or bench).
pub fn nodewatch_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let mut dir = exe.parent().expect("a folder").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let bin = dir.join(format!("nodewatch{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "no nodewatch binary at {} (run the tests through cargo)",
        bin.display()
    );
    bin
}
