//! The dry-run overlay really disables cordoning. The rendered manifests
//! are run, not read: the container's ConfigMaps are laid out as the kubelet
//! mounts them, its args are applied the way `nodewatch run` applies them,
//! and the agent runs the built-in Binder incident against the fake API
//! server (RBAC from `deploy/base/rbac.yaml`, the shipped Lease applied
//! first). With `deploy/base` it cordons; with `deploy/overlays/dry-run`,
//! over the same ticks, it alerts alike, reports "would cordon, refused
//! because dry-run" for the same nodes, and never writes to a node.
//! (`tests/deploy/container.rs` runs the binary itself with those args.)

use nodewatch_testkit::deploy;
use nodewatch_testkit::fake_apiserver;

use deploy::{flag, remap_args, render, Rendered};
use fake_apiserver::{harness, FakeApiServer, Options};
use nodewatch::catalog::Catalog;
use nodewatch::collect::tsdb::Tsdb;
use nodewatch::config::Config;
use nodewatch::live::AgentOptions;
use nodewatch::model::ActionKind;
use nodewatch::state::ActionRecord;
use nodewatch::time::Timestamp;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// What one agent run did, as the fake server saw it.
struct Outcome {
    actions: Vec<ActionRecord>,
    notifications: Vec<nodewatch::act::Notification>,
    node_writes: usize,
    unschedulable: Vec<String>,
    forbidden: usize,
    last_tick: Timestamp,
}

/// Agent options from the rendered container: its config file (loaded as
/// `nodewatch run` loads it) and its flags, applied as `nodewatch run`
/// applies them (src/cli/run.rs). A flag this test does not know fails it,
/// so the mirror cannot fall behind the manifests.
fn options_from(r: &Rendered, dir: &Path) -> (AgentOptions, Arc<Catalog>) {
    let mounts = r.materialize(dir);
    let args = remap_args(&r.args(), &mounts, dir);
    let mut cfg = Config::load(Path::new(&flag(&args, "--config").expect("--config")))
        .expect("rendered config");
    let rules = flag(&args, "--rules").expect("--rules");
    let catalog = Arc::new(Catalog::load(&[rules.into()]).expect("rendered rules"));
    let mut pause = false;
    let mut elect = true;
    for a in &args {
        let name = a.split_once('=').map_or(a.as_str(), |(n, _)| n);
        match name {
            "--config" | "--rules" | "--listen" => {}
            "--dry-run" => cfg.governor.dry_run = true,
            "--pause" => pause = true,
            "--no-leader-election" => elect = false,
            other => panic!(
                "{}: flag {other} is not applied by this test; teach options_from",
                r.dir
            ),
        }
    }
    let opts = AgentOptions {
        engine: cfg.engine,
        governor: cfg.governor,
        kube: cfg.kubernetes,
        pause,
        elect,
        publish: None,
    };
    (opts, catalog)
}

/// Runs the rendered agent over the Binder incident, until `stop` or (with
/// `None`) one tick after its first cordon.
async fn run(r: &Rendered, stop: Option<Timestamp>) -> Outcome {
    let sc = harness::binder();
    let dir = tempfile::tempdir().expect("tempdir");
    let (opts, catalog) = options_from(r, dir.path());
    assert_eq!(
        opts.engine.step, sc.meta.step,
        "{}: the scenario is stepped as the config says",
        r.dir
    );
    let server = FakeApiServer::start(Options::default()).await;
    // `kubectl apply` creates the shipped Lease before any pod starts.
    let mut lease = r.get("Lease", &opts.kube.lease.name).clone();
    lease["metadata"]["namespace"] = opts.kube.lease.namespace.clone().into();
    server.put("leases", lease);
    server.load_scenario(&sc);
    let metrics = Tsdb::new(sc.metrics.clone());
    let mut agent = harness::start(
        &server,
        dir.path(),
        catalog,
        metrics,
        opts,
        "nodewatch-6d8f7c9b5-x2x7q",
    )
    .await;
    assert!(
        agent.leader().wait_leader(Duration::from_secs(10)).await,
        "{}: the only replica takes the shipped Lease",
        r.dir
    );
    let mut at = sc.meta.start;
    let mut cordoned_at = None;
    while at <= sc.meta.end {
        let taken = harness::tick(&server, &mut agent, at).await;
        if cordoned_at.is_none() && taken.iter().any(|a| a.kind == ActionKind::Cordon) {
            cordoned_at = Some(at);
        }
        let done = match stop {
            Some(s) => at >= s,
            None => cordoned_at.is_some_and(|c| at > c),
        };
        if done {
            break;
        }
        at = at.add(sc.meta.step);
    }
    let requests = server.requests();
    let node_writes = requests
        .iter()
        .filter(|q| {
            q.path.contains("/nodes/") && !matches!(q.verb.as_str(), "get" | "list" | "watch")
        })
        .count();
    let unschedulable = sc
        .nodes
        .iter()
        .map(|n| n.metadata.name.clone())
        .filter(|n| {
            server
                .node(n)
                .is_some_and(|v| v["spec"]["unschedulable"] == true)
        })
        .collect();
    let out = Outcome {
        actions: agent.pipeline.actions().to_vec(),
        notifications: agent.pipeline.notifier().inner.sent.clone(),
        node_writes,
        unschedulable,
        forbidden: requests.iter().filter(|q| q.status == 403).count(),
        last_tick: at,
    };
    agent.shutdown().await;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dry_run_overlay_never_cordons_where_base_does() {
    let base = run(&render("deploy/base"), None).await;
    let cordons: Vec<_> = base
        .actions
        .iter()
        .filter(|a| a.kind == ActionKind::Cordon)
        .collect();
    assert!(
        !cordons.is_empty(),
        "deploy/base cordons during the Binder incident: {:?}",
        base.actions
    );
    assert!(
        base.node_writes > 0 && !base.unschedulable.is_empty(),
        "and the cordon reached the server"
    );
    assert_eq!(base.forbidden, 0, "the shipped RBAC was enough");

    let dry = run(&render("deploy/overlays/dry-run"), Some(base.last_tick)).await;
    assert_eq!(dry.last_tick, base.last_tick, "the same ticks");
    assert!(
        dry.actions.iter().all(|a| a.kind == ActionKind::Refused),
        "dry-run only refuses: {:?}",
        dry.actions
    );
    assert_eq!(dry.node_writes, 0, "dry-run never writes to a node");
    assert!(
        dry.unschedulable.is_empty(),
        "no node cordoned: {:?}",
        dry.unschedulable
    );
    assert_eq!(dry.forbidden, 0);
    for c in &cordons {
        let refused = dry
            .actions
            .iter()
            .find(|a| a.node == c.node && a.at == c.at && a.rule == c.rule);
        let refused = refused.unwrap_or_else(|| {
            panic!(
                "dry-run reports the cordon of {} at {} it would have made",
                c.node, c.at
            )
        });
        assert!(
            refused.reason.contains("refused because dry-run"),
            "{}",
            refused.reason
        );
    }
    assert_eq!(
        dry.notifications, base.notifications,
        "alerts are the same in dry-run"
    );
}
