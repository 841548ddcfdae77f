//! Pool policies and maintenance windows through the whole pipeline, on
//! built-in scenarios: a detect-only pool sends nothing for its nodes and
//! never cordons them, a `mode: cordon` pool is cordoned without a drain,
//! and a maintenance window in force shows in the snapshot and as
//! `nodewatch_held` in `/metrics`, also from `nodewatch run` against the
//! fake API server. (The governor's own rules are unit tests in
//! `src/act/governor/`; the window's scenario is in `suite.rs`.)

use nodewatch_testkit::fake_apiserver;

use nodewatch::act::{
    ActError, Cordoner, Governor, GovernorSettings, Mode, PoolPolicy, RecordingNotifier, Selector,
};
use nodewatch::catalog::Catalog;
use nodewatch::collect::replay::ReplaySource;
use nodewatch::engine::Engine;
use nodewatch::model::{ActionKind, CordonRequest};
use nodewatch::pipeline::Pipeline;
use nodewatch::scenario::{self, suite, Scenario};
use nodewatch::serve::{Exporter, Format, Published};
use nodewatch::time::Timestamp;
use std::sync::Arc;

/// A label the tests put on the sick node only.
const LAB: &str = "example.com/lab";

/// `network-loss` with its sick node labelled [`LAB`], and that node.
fn labelled() -> (Scenario, String) {
    let mut sc = scenario::builtin(suite::network_loss::NAME).expect("built in");
    let sick = sc.meta.truth.faulty_nodes[0].node.clone();
    let node = sc
        .nodes
        .iter_mut()
        .find(|n| n.metadata.name == sick)
        .expect("listed");
    node.metadata.labels.insert(LAB.into(), "true".into());
    (sc, sick)
}

fn lab_policy(mode: Mode) -> GovernorSettings {
    GovernorSettings {
        pools: vec![PoolPolicy {
            name: "lab".into(),
            selector: Selector {
                match_labels: [(LAB.to_string(), "true".to_string())].into(),
                ..Default::default()
            },
            mode: Some(mode),
            max_cordoned: None,
            max_unavailable: None,
            max_unhealthy: None,
            min_score: None,
            hub: Vec::new(),
            thresholds: Default::default(),
        }],
        ..Default::default()
    }
}

/// Records each cordon with whether a drain may follow.
#[derive(Default)]
struct DrainFlags(Vec<(String, bool)>);

impl Cordoner for DrainFlags {
    async fn cordon(
        &mut self,
        node: &str,
        req: &CordonRequest,
        _: Timestamp,
    ) -> Result<(), ActError> {
        self.0.push((node.to_string(), req.drain));
        Ok(())
    }
    async fn uncordon(&mut self, _: &str, _: Timestamp) -> Result<(), ActError> {
        Ok(())
    }
}

/// Runs `sc` through a pipeline with `governor`; returns the pipeline.
fn run(sc: Scenario, governor: GovernorSettings) -> Pipeline<RecordingNotifier, DrainFlags> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let meta = sc.meta.clone();
    let settings = nodewatch::engine::Settings {
        step: meta.step,
        ..Default::default()
    };
    let mut p = Pipeline::new(
        Engine::new(Arc::new(Catalog::builtin()), settings),
        Governor::new(governor),
        RecordingNotifier::default(),
        DrainFlags::default(),
    );
    let mut source = ReplaySource::new(sc);
    let mut at = meta.start;
    while at <= meta.end {
        rt.block_on(p.step(&mut source, at));
        at = at.add(meta.step);
    }
    p
}

#[test]
fn a_detect_only_pool_is_scored_but_sends_nothing_and_is_never_cordoned() {
    let (sc, sick) = labelled();
    // Without a policy the node is alerted on and cordoned (with a drain
    // allowed): the scenario is not vacuous.
    let p = run(sc.clone(), GovernorSettings::default());
    assert!(p.notifier().sent.iter().any(|n| n.alert.subject == sick));
    assert_eq!(p.cordoner().0, [(sick.clone(), true)]);

    let p = run(sc, lab_policy(Mode::DetectOnly));
    assert!(
        p.notifier().sent.iter().all(|n| n.alert.subject != sick),
        "{:?}",
        p.notifier().sent
    );
    assert!(p.cordoner().0.is_empty());
    let refused: Vec<_> = p
        .actions()
        .iter()
        .filter(|a| a.node == sick && a.kind == ActionKind::Refused)
        .collect();
    assert!(!refused.is_empty());
    assert!(refused.iter().all(|a| a
        .reason
        .contains("pool policy lab: mode detect-only: its nodes are never cordoned")));
    // Still judged: each refusal carries the node's sick score.
    assert!(refused.iter().all(|a| a.score >= 0.5), "{refused:?}");
}

#[test]
fn an_alert_pool_is_alerted_on_and_a_cordon_pool_cordoned_without_drain() {
    let (sc, sick) = labelled();
    let p = run(sc.clone(), lab_policy(Mode::Alert));
    assert!(p.notifier().sent.iter().any(|n| n.alert.subject == sick));
    assert!(p.cordoner().0.is_empty());
    assert!(p
        .actions()
        .iter()
        .any(|a| a.reason.contains("pool policy lab: mode alert")));
    let p = run(sc, lab_policy(Mode::Cordon));
    assert_eq!(p.cordoner().0, [(sick, false)]);
}

#[test]
fn a_window_in_force_is_in_the_snapshot_and_in_metrics() {
    let sc = scenario::builtin(suite::maintenance_window::NAME).expect("built in");
    let published = Published::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let at = |s: &str| Timestamp::parse_rfc3339(s).unwrap();
    let opts = |until: &str| nodewatch::tools::replay::Options {
        publish: Some(published.clone()),
        until: Some(at(until)),
        ..Default::default()
    };
    rt.block_on(nodewatch::tools::replay::run(
        sc.clone(),
        Arc::new(Catalog::builtin()),
        opts("2024-03-05T09:00:00Z"),
    ));
    let s = published.current().expect("published");
    assert_eq!(s.stats.holds.len(), 1);
    let h = &s.stats.holds[0];
    assert!(h.active);
    assert_eq!(h.until, Some(at("2024-03-05T10:00:00Z")));
    let metrics = Exporter::new(published.clone())
        .render(Format::Prometheus)
        .unwrap();
    let line = "nodewatch_held{kind=\"maintenance_window\",name=\"weekly-maintenance\",reason=\"kubelet config rollout CHG-1042\"}";
    assert!(metrics.contains(&format!("{line} 1")), "{metrics}");
    // After the window: the series stays, at 0.
    rt.block_on(nodewatch::tools::replay::run(
        sc,
        Arc::new(Catalog::builtin()),
        opts("2024-03-05T10:30:00Z"),
    ));
    let metrics = Exporter::new(published).render(Format::Prometheus).unwrap();
    assert!(metrics.contains(&format!("{line} 0")), "{metrics}");
}

/// `GET path` on 127.0.0.1:`port`: the status code and the whole answer.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let code = out.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, out))
}

/// The live agent reads the windows from its config and decides at
/// wall-clock time: a window in force (every minute, for an hour) shows
/// on the status page and in `/metrics`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodewatch_run_shows_the_window_in_force() {
    use fake_apiserver::{harness, FakeApiServer, Options};
    use std::time::{Duration, Instant};
    let server = FakeApiServer::start(Options::default()).await;
    server.load_scenario(&harness::binder());
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = server.kubeconfig(dir.path());
    let config = dir.path().join("nodewatch.yaml");
    std::fs::write(
        &config,
        "engine:\n  step: 2s\ngovernor:\n  maintenance_windows:\n    - name: always\n      \
         schedule: '* * * * *'\n      duration: 1h\n      timezone: Europe/Berlin\n      \
         reason: test window\n",
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_nodewatch"))
        .args(["run", "--kubeconfig", kubeconfig.to_str().unwrap()])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--config", config.to_str().unwrap(), "--dry-run"])
        .env("RUST_LOG", "warn")
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start nodewatch run");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut metrics = String::new();
    while Instant::now() < deadline {
        if let Some((200, m)) = get(port, "/metrics") {
            if m.contains("nodewatch_held") {
                metrics = m;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let page = get(port, "/").map(|r| r.1).unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        metrics.contains(
            "nodewatch_held{kind=\"maintenance_window\",name=\"always\",reason=\"test window\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        page.contains("<b>Cordons held</b> by maintenance window always until "),
        "{page}"
    );
}

/// The opt-in uncordon waits for a maintenance window to end, as cordons do.
#[test]
fn a_maintenance_window_holds_the_opt_in_uncordon() {
    let sc = scenario::builtin(suite::network_loss::NAME).expect("built in");
    let sick = sc.meta.truth.faulty_nodes[0].node.clone();
    let run_with = |governor: GovernorSettings| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let meta = sc.meta.clone();
        let settings = nodewatch::engine::Settings {
            step: meta.step,
            uncordon_after: Some(nodewatch::time::Duration::mins(30)),
            ..Default::default()
        };
        let mut p = Pipeline::new(
            Engine::new(Arc::new(Catalog::builtin()), settings),
            Governor::new(governor),
            RecordingNotifier::default(),
            DrainFlags::default(),
        );
        let mut source = ReplaySource::new(sc.clone());
        let mut at = meta.start;
        while at <= meta.end {
            rt.block_on(p.step(&mut source, at));
            at = at.add(meta.step);
        }
        p.actions()
            .iter()
            .filter(|a| a.node == sick && a.kind == ActionKind::Uncordon)
            .map(|a| a.at)
            .collect::<Vec<_>>()
    };
    let free = run_with(GovernorSettings::default());
    assert_eq!(free.len(), 1, "healthy again, uncordoned: {free:?}");
    // A window from shortly before that uncordon, for an hour (UTC).
    let t = free[0].to_rfc3339();
    let (h, m): (u32, u32) = (t[11..13].parse().unwrap(), t[14..16].parse().unwrap());
    let start = h * 60 + m - 5;
    let schedule = format!("{} {} * * *", start % 60, start / 60);
    let governor: GovernorSettings = serde_yaml::from_str(&format!(
        "maintenance_windows: [{{name: patching, schedule: '{schedule}', duration: 1h}}]"
    ))
    .unwrap();
    let held = run_with(governor);
    let end = Timestamp(free[0].0 - 5 * 60_000 - free[0].0 % 60_000 + 3_600_000);
    assert_eq!(held.len(), 1, "{held:?}");
    assert!(
        held[0] >= end,
        "uncordoned {} only after the window ({end})",
        held[0]
    );
}
