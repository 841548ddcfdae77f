//! "Backtest = replay": the built-in Binder scenario backfilled into a real
//! Prometheus and backtested with `nodewatch backtest` (range queries for
//! the metric signals, the scenario's events, nodes and pods from files)
//! must give exactly the report `nodewatch replay` gives on the directory:
//! same alerts, cordons, refusals and detection. Also: chunk boundaries do
//! not show, no progress bar when stderr is piped, and a Prometheus that
//! never answers ends the backtest with a clear error instead of a report
//! on holes.

use nodewatch_testkit as support;

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};
use support::prometheus::{free_port, Prometheus};

fn nodewatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nodewatch"))
        .args(args)
        .output()
        .expect("run nodewatch")
}

fn json_of(args: &[&str]) -> Value {
    let out = nodewatch(args);
    assert!(
        out.status.success(),
        "nodewatch {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Piped: no progress bar may be drawn.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("ticks,"),
        "progress bar drawn while piped: {stderr}"
    );
    serde_json::from_slice(&out.stdout).expect("JSON report")
}

fn backtest_args(dir: &Path, url: &str, meta: &(String, String)) -> Vec<String> {
    let p = |f: &str| dir.join(f).display().to_string();
    vec![
        "backtest".into(),
        "--prometheus".into(),
        url.into(),
        "--from".into(),
        meta.0.clone(),
        "--to".into(),
        meta.1.clone(),
        "--events".into(),
        p("events.jsonl"),
        "--truth".into(),
        p("scenario.yaml"),
        "--nodes".into(),
        p("nodes.json"),
        "--pods".into(),
        p("pods.json"),
        "--json".into(),
    ]
}

#[test]
fn backtest_of_binder_equals_replay() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let out = nodewatch(&["scenario", "write", "binder", &d.display().to_string()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let prom = Prometheus::with_scenario(d);
    let s = nodewatch::scenario::read_dir(d).expect("read scenario");
    let range = (s.meta.start.to_rfc3339(), s.meta.end.to_rfc3339());

    let replay = json_of(&["replay", &d.display().to_string(), "--json"]);
    // The report must have something to compare, or equality proves nothing.
    for key in ["alerts", "cordons", "refusals"] {
        let n = replay[key].as_array().map_or(0, Vec::len);
        assert!(n > 0, "replay report has no {key}: {replay}");
    }

    let url = prom.url();
    let args = backtest_args(d, &url, &range);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let backtest = json_of(&args);
    assert_eq!(backtest, replay, "backtest and replay reports differ");

    // Chunk boundaries (here at 47 minutes, off the hour and the signal
    // windows) must not change anything.
    let mut odd = args.clone();
    odd.extend(["--chunk", "47m"]);
    assert_eq!(json_of(&odd), replay, "a 47m chunk changed the report");
}

#[test]
fn unreachable_prometheus_fails_clearly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = dir.path().join("nodewatch.yaml");
    let url = format!("http://127.0.0.1:{}", free_port());
    std::fs::write(
        &cfg,
        format!("prometheus:\n  url: {url}\n  backoff: {{initial: 10ms, max: 40ms}}\n"),
    )
    .expect("write config");
    let out = nodewatch(&[
        "backtest",
        "--config",
        &cfg.display().to_string(),
        "--from",
        "2018-02-20T12:00:00Z",
        "--to",
        "2018-02-20T13:00:00Z",
    ]);
    assert!(!out.status.success(), "a backtest without data must fail");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Prometheus failed at 2018-02-20T12:00:00Z after retries")
            && stderr.contains("cannot reach Prometheus")
            && stderr.contains(&url),
        "unclear error: {stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "no report may be printed: {:?}",
        out.stdout
    );
}
