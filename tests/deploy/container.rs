//! Every rendered nodewatch container runs: the built binary is started
//! with the container's args (each flag also listed by `nodewatch run
//! --help`) and env, its ConfigMaps and Secrets laid out as the kubelet
//! mounts them, against the fake API server (the ServiceAccount's token
//! and RBAC from `deploy/base/rbac.yaml` in place of the in-cluster
//! config). It becomes ready, takes the shipped Lease under its pod name,
//! serves `/metrics` with every nodewatch metric the PrometheusRule uses,
//! logs in dry-run exactly when the overlay says so, and on SIGTERM (what
//! the kubelet sends) releases the Lease and exits 0. Outside addresses in
//! the config (Prometheus, sinks) are pointed at a closed loopback port.

use nodewatch_testkit::deploy;
use nodewatch_testkit::fake_apiserver;

use deploy::{
    container_command, container_env, flag, render, Process, Rendered, KUSTOMIZATIONS, POD_NAME,
};
use fake_apiserver::{harness, FakeApiServer, Options};
use std::time::{Duration, Instant};

/// The `nodewatch_*` metric names in the rendered PrometheusRule's exprs.
fn rule_metrics(r: &Rendered) -> Vec<String> {
    let mut names = Vec::new();
    for rule in r.of_kind("PrometheusRule") {
        for g in rule["spec"]["groups"].as_array().into_iter().flatten() {
            for x in g["rules"].as_array().into_iter().flatten() {
                let expr = x["expr"].as_str().unwrap_or("");
                for (i, _) in expr.match_indices("nodewatch_") {
                    let name: String = expr[i..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if !names.contains(&name) {
                        names.push(name);
                    }
                }
            }
        }
    }
    names
}

/// The metric family a sample name belongs to in the text format.
fn family_present(metrics: &str, name: &str) -> bool {
    let candidates = [name, name.strip_suffix("_total").unwrap_or(name)];
    metrics.lines().any(|l| {
        let l = l
            .trim_start_matches("# TYPE ")
            .trim_start_matches("# HELP ");
        candidates
            .iter()
            .any(|c| l.starts_with(&format!("{c} ")) || l.starts_with(&format!("{c}{{")))
            || l.starts_with(&format!("{name} "))
            || l.starts_with(&format!("{name}{{"))
    })
}

fn holder(server: &FakeApiServer) -> Option<String> {
    let lease = server.lease("nodewatch", "nodewatch")?;
    lease["spec"]["holderIdentity"]
        .as_str()
        .map(str::to_string)
        .filter(|s| !s.is_empty())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rendered_container_runs_against_the_fake_api_server() {
    let help = deploy::nodewatch_ok(&["run", "--help"]);
    let help_flags: Vec<&str> = help
        .split_whitespace()
        .filter(|w| w.starts_with("--"))
        .map(|w| w.trim_end_matches(','))
        .collect();
    let dockerfile =
        std::fs::read_to_string(deploy::root().join("Dockerfile")).expect("Dockerfile");
    assert!(
        dockerfile
            .lines()
            .any(|l| l.starts_with("ENTRYPOINT [") && l.trim_end().ends_with("\"run\"]")),
        "the image's entrypoint is `nodewatch run`, so the container's args are its flags"
    );
    // Metric names the PrometheusRule uses, and what the containers export
    // (sink metrics exist only where sinks are configured).
    let mut rule_names = Vec::new();
    let mut exported = String::new();
    for dir in KUSTOMIZATIONS {
        let r = render(dir);
        let args = r.args();
        for a in &args {
            let name = a.split_once('=').map_or(a.as_str(), |(n, _)| n);
            assert!(
                name.starts_with("--"),
                "{dir}: {a:?}: flags only, written --flag=value"
            );
            assert!(
                help_flags.contains(&name),
                "{dir}: {name} is not a flag of `nodewatch run --help`:\n{help}"
            );
        }

        let server = FakeApiServer::start(Options::default()).await;
        server.load_scenario(&harness::binder());
        server.put("leases", r.get("Lease", "nodewatch").clone());
        let tmp = tempfile::tempdir().expect("tempdir");
        let addr = deploy::free_addr();
        let run_args = container_command(&r, tmp.path(), &addr, &server.kubeconfig(tmp.path()));
        let mut p = Process::spawn(&run_args, &container_env(&r), tmp.path(), &addr);
        p.wait_ready(Duration::from_secs(60)).await;

        let deadline = Instant::now() + Duration::from_secs(15);
        while holder(&server).as_deref() != Some(POD_NAME) {
            assert!(
                Instant::now() < deadline,
                "{dir}: the pod never took the Lease: {:?}\n{}",
                server.lease("nodewatch", "nodewatch"),
                p.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (status, metrics) = deploy::get(&addr, "/metrics").await.expect("/metrics");
        assert_eq!(status, 200, "{dir}: /metrics");
        rule_names.extend(rule_metrics(&r));
        exported.push_str(&metrics);
        let (status, page) = deploy::get(&addr, "/").await.expect("status page");
        assert_eq!(status, 200, "{dir}: status page");
        assert!(page.contains("nodewatch"), "{dir}: status page");

        let (status, log) = p.terminate().await;
        assert!(
            status.success(),
            "{dir}: exit after SIGTERM: {status}\n{log}"
        );
        let dry = flag(&args, "--dry-run").is_some() || args.iter().any(|a| a == "--dry-run");
        assert!(
            log.contains(&format!("dry_run={dry}")),
            "{dir}: logged dry_run={dry} (RUST_LOG from the manifest):\n{log}"
        );
        assert_eq!(
            holder(&server),
            None,
            "{dir}: the Lease is released on SIGTERM"
        );
        let forbidden: Vec<_> = server
            .requests()
            .into_iter()
            .filter(|q| q.status == 403)
            .collect();
        assert!(
            forbidden.is_empty(),
            "{dir}: everything within the shipped RBAC: {forbidden:?}"
        );
    }
    assert!(!rule_names.is_empty(), "a PrometheusRule was rendered");
    for name in rule_names {
        assert!(
            family_present(&exported, &name),
            "the PrometheusRule uses {name}, which no rendered container exports:\n{exported}"
        );
    }
}
