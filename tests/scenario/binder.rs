//! The foundation's acceptance test: the built-in Binder scenario, written
//! out with `nodewatch scenario write` and replayed with `nodewatch replay
//! --json`, must show the behaviour the scenario brief asks for.

use serde_json::Value;
use std::process::Command;

fn nodewatch(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_nodewatch"))
        .args(args)
        .output()
        .expect("run nodewatch");
    assert!(
        out.status.success(),
        "nodewatch {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn secs(v: &Value) -> i64 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a time: {v}"));
    nodewatch::time::Timestamp::parse_rfc3339(s).unwrap().0 / 1000
}

fn t(s: &str) -> i64 {
    nodewatch::time::Timestamp::parse_rfc3339(s).unwrap().0 / 1000
}

/// First time the hub has spent 5 consecutive minutes above 0.7 cores,
/// computed from the scenario's own counter samples (per-scrape usage).
fn hub_first_5min_above(dir: &std::path::Path) -> i64 {
    let text = std::fs::read_to_string(dir.join("metrics.om")).unwrap();
    let fams = nodewatch::scenario::openmetrics::parse(&text, &dir.join("metrics.om")).unwrap();
    let fam = fams
        .iter()
        .find(|f| f.name == "container_cpu_usage_seconds_total")
        .unwrap();
    let mut best: Option<i64> = None;
    for s in fam
        .series
        .iter()
        .filter(|s| s.label("container") == "hub" && s.label("pod").starts_with("hub-"))
    {
        let mut above_since: Option<i64> = None;
        for w in s.samples.windows(2) {
            let ((t0, v0), (t1, v1)) = (w[0], w[1]);
            let usage = if v1 >= v0 {
                (v1 - v0) / ((t1 - t0) as f64 / 1000.0)
            } else {
                0.0
            };
            if usage > 0.7 {
                let since = *above_since.get_or_insert(t0 / 1000);
                if t1 / 1000 - since >= 300 {
                    let at = t1 / 1000;
                    best = Some(best.map_or(at, |b: i64| b.min(at)));
                    break;
                }
            } else {
                above_since = None;
            }
        }
    }
    best.expect("the hub spends 5 minutes above 0.7 cores somewhere")
}

#[test]
fn binder_replay_meets_the_brief() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("binder");
    let p = path.to_str().unwrap();
    nodewatch(&["scenario", "write", "binder", p]);
    let out = nodewatch(&["replay", p, "--json"]);
    let r: Value = serde_json::from_slice(&out.stdout).expect("replay --json prints JSON");
    for key in [
        "scenario",
        "faulty_nodes",
        "cluster_incidents",
        "false_alerts",
        "false_cordons",
        "alerts",
        "cordons",
        "refusals",
    ] {
        assert!(r.get(key).is_some(), "report lacks {key}");
    }
    let summary = serde_json::to_string_pretty(&r["faulty_nodes"]).unwrap();

    // The hub alert fires within 10 minutes of the hub first spending
    // 5 minutes above 70% of a core.
    let hub_at = hub_first_5min_above(&path);
    let hub_alert = r["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["name"] == "HubCPUHigh")
        .map(|a| secs(&a["fired_at"]))
        .filter(|&f| f >= hub_at - 600)
        .min()
        .expect("HubCPUHigh fired");
    assert!(
        hub_alert <= hub_at + 600,
        "hub alert at {hub_alert}, hub above 0.7 for 5m at {hub_at}"
    );

    let node = |suffix: &str| {
        r["faulty_nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["node"].as_str().unwrap().ends_with(suffix))
            .unwrap_or_else(|| panic!("no faulty node {suffix}"))
            .clone()
    };
    let vvsw = node("-vvsw");
    assert!(
        secs(&vvsw["detected_at"]) <= t("2018-02-20T17:10:00Z"),
        "{summary}"
    );
    assert!(
        secs(&vvsw["cordoned_at"]) < t("2018-02-20T17:22:00Z"),
        "{summary}"
    );
    for n in ["-qz3m", "-vvsm"] {
        let f = node(n);
        assert!(f["detected_at"].is_string(), "{n} not detected: {summary}");
        assert!(
            secs(&f["detected_at"]) <= t("2018-02-21T15:15:00Z"),
            "{summary}"
        );
    }
    assert!(
        r["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["scope"] == "cluster"),
        "the cluster-wide readiness failures raise a cluster alert"
    );
    assert!(r["cluster_incidents"][0]["detected_at"].is_string());
    assert_eq!(
        r["false_cordons"],
        0,
        "{}",
        serde_json::to_string_pretty(&r["cordons"]).unwrap()
    );
    assert_eq!(
        r["false_alerts"],
        0,
        "{}",
        serde_json::to_string_pretty(&r["alerts"]).unwrap()
    );
    // Every cordon and refusal is explained.
    for x in r["refusals"].as_array().unwrap() {
        assert!(
            x["reason"].as_str().unwrap().contains("refused because"),
            "{x}"
        );
    }
}

#[test]
fn replay_text_output_has_timeline_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("b");
    nodewatch(&["scenario", "write", "binder", p.to_str().unwrap()]);
    let out = nodewatch(&["replay", p.to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("FIRING   HubCPUHigh"), "{text}");
    assert!(text.contains("why: "), "every alert is explained");
    assert!(
        text.contains("CORDON   gke-prod-a-ssd-pool-32-134a959a-vvsw"),
        "{text}"
    );
    assert!(text.contains("Detection report for binder"), "{text}");
}

#[test]
fn check_reports_file_line_and_field_and_exits_nonzero() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.yaml");
    std::fs::write(
        &f,
        "signals:\n  - name: a\n    events: {reasons: [X]}\n    detekt: {}\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_nodewatch"))
        .args(["check", f.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.yaml:4: signals[0]: unknown field `detekt`"),
        "{err}"
    );
    let ok = nodewatch(&["check", "rules", "--promql"]);
    let text = String::from_utf8_lossy(&ok.stdout);
    assert!(
        text.contains("hub_cpu: sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{"),
        "{text}"
    );
}

#[test]
fn scenario_list_and_unknown_name() {
    let out = nodewatch(&["scenario", "list"]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("binder"));
    let out = Command::new(env!("CARGO_BIN_EXE_nodewatch"))
        .args(["scenario", "write", "nope", "/tmp/x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("available: binder"));
}

/// Runs nodewatch expecting failure; returns stderr.
fn nodewatch_fails(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_nodewatch"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run nodewatch");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "nodewatch {args:?} succeeded: {err}");
    err
}

#[test]
fn check_and_run_reject_the_same_config_and_rules_with_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.yaml");
    std::fs::write(
        &cfg,
        "governor:\n  max_fraction: 2\nkubernetes:\n  identity: ''\n  event_namespace: Bad_NS\n  \
         lease:\n    duration: 10s\n    renew_deadline: 10s\nsinks:\n  webhooks:\n    - name: a\n      \
         url: http://127.0.0.1:1/\n      headers:\n        Host: evil\n",
    )
    .unwrap();
    let c = cfg.to_str().unwrap();
    let want = [
        "bad.yaml:2: governor.max_fraction: must be within 0..1, got 2",
        "bad.yaml:4: kubernetes.identity: must be 1..128 printable characters",
        "bad.yaml:5: kubernetes.event_namespace: \"Bad_NS\" is not a namespace name",
        "bad.yaml:8: kubernetes.lease.renew_deadline: must be positive and shorter than duration",
        "bad.yaml:14: sinks.webhooks[0].headers: \"Host\": set by the HTTP client",
    ];
    let no_cluster = ["--kubeconfig", "/nonexistent", "--listen", "127.0.0.1:0"];
    let checked = nodewatch_fails(&["check", "--config", c]);
    let mut run = vec!["run", "--config", c];
    run.extend(no_cluster);
    let ran = nodewatch_fails(&run);
    for w in want {
        assert!(checked.contains(w), "check: {w}\n{checked}");
        assert!(ran.contains(w), "run: {w}\n{ran}");
    }
    // A valid file gets past validation (and fails only for want of a cluster).
    std::fs::write(&cfg, "governor:\n  max_fraction: 0.2\n").unwrap();
    nodewatch(&["check", "--config", c]);
    let ran = nodewatch_fails(&run);
    assert!(
        ran.contains("/nonexistent") && !ran.contains("bad.yaml:"),
        "{ran}"
    );

    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        "rules:\n  - alert: A\n    scope: node\n    when: {score_above: 0.5}\n    labels:\n      bad-label: x\n",
    )
    .unwrap();
    let r = rules.to_str().unwrap();
    let w = "rules.yaml:6: rules[0].labels.bad-label: \"bad-label\" is not a valid label name";
    let checked = nodewatch_fails(&["check", r]);
    let mut run = vec!["run", "--rules", r];
    run.extend(no_cluster);
    let ran = nodewatch_fails(&run);
    assert!(checked.contains(w), "{checked}");
    assert!(ran.contains(w), "{ran}");
}

#[test]
fn demo_speed_must_be_a_positive_number() {
    for speed in ["0", "NaN", "-1", "inf"] {
        let arg = format!("--speed={speed}");
        let err = nodewatch_fails(&["demo", &arg, "--listen", "127.0.0.1:0"]);
        assert!(err.contains("must be a positive number"), "{speed}: {err}");
    }
}

#[test]
fn absurd_scenarios_and_deep_yaml_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("binder");
    let p = path.to_str().unwrap();
    nodewatch(&["scenario", "write", "binder", p]);
    let meta = path.join("scenario.yaml");
    let text = std::fs::read_to_string(&meta).unwrap();
    let end = text
        .lines()
        .find(|l| l.starts_with("end:"))
        .unwrap()
        .to_string();
    let step = text
        .lines()
        .find(|l| l.starts_with("step:"))
        .unwrap()
        .to_string();
    for (from, to) in [
        (end.as_str(), "end: 9999-12-30T00:00:00Z"),
        (step.as_str(), "step: 1ms"),
    ] {
        std::fs::write(&meta, text.replace(from, to)).unwrap();
        let err = nodewatch_fails(&["replay", p, "--json"]);
        assert!(
            err.contains("ticks asked for") && err.contains("the limit is 1051200 per replay"),
            "{to}: {err}"
        );
    }
    // The same bound for a backtest, before any query is sent.
    let err = nodewatch_fails(&[
        "backtest",
        "--prometheus",
        "http://127.0.0.1:1",
        "--from",
        "2018-02-20T00:00:00Z",
        "--to",
        "9999-12-30T00:00:00Z",
    ]);
    assert!(err.contains("the limit is 1051200 per replay"), "{err}");
    std::fs::write(&meta, &text).unwrap();
    let events = path.join("events.jsonl");
    let mut ev = std::fs::read_to_string(&events).unwrap();
    let lines = ev.lines().count();
    ev.push_str(&format!("{{\"message\": \"{}\"}}\n", "x".repeat(2 << 20)));
    std::fs::write(&events, ev).unwrap();
    let err = nodewatch_fails(&["replay", p]);
    let want = format!(
        "events.jsonl:{}: line longer than the limit of 1048576 bytes",
        lines + 1
    );
    assert!(err.contains(&want), "{err}");
    std::fs::write(
        &meta,
        format!("{}{}\n", "[".repeat(100_000), "]".repeat(100_000)),
    )
    .unwrap();
    let err = nodewatch_fails(&["replay", p]);
    assert!(
        err.contains("scenario.yaml:1: nested deeper than the limit of 64"),
        "{err}"
    );
    let deep = dir.path().join("deep.yaml");
    std::fs::write(&deep, format!("engine: {}\n", "[".repeat(100_000))).unwrap();
    let err = nodewatch_fails(&["check", "--config", deep.to_str().unwrap()]);
    assert!(
        err.contains("deep.yaml:1: nested deeper than the limit of 64"),
        "{err}"
    );
    let err = nodewatch_fails(&["check", deep.to_str().unwrap()]);
    assert!(err.contains("deep.yaml:1: -: nested deeper"), "{err}");
}

/// Names after "N% from " in an explanation (pods, or `workload-*`).
fn named_contributors(explanation: &str) -> Vec<String> {
    explanation
        .split("% from ")
        .skip(1)
        .map(|rest| {
            rest.split([',', ';', ' '])
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[test]
fn binder_alerts_name_their_top_contributors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("binder");
    let p = path.to_str().unwrap();
    nodewatch(&["scenario", "write", "binder", p]);
    let r: Value = serde_json::from_slice(&nodewatch(&["replay", p, "--json"]).stdout).unwrap();
    let alerts = r["alerts"].as_array().unwrap();
    let pods: Value =
        serde_json::from_str(&std::fs::read_to_string(path.join("pods.json")).unwrap()).unwrap();
    let on_node = |node: &str| -> Vec<String> {
        pods["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["spec"]["nodeName"] == node)
            .map(|p| {
                format!(
                    "{}/{}",
                    p["metadata"]["namespace"].as_str().unwrap(),
                    p["metadata"]["name"].as_str().unwrap()
                )
            })
            .collect()
    };
    let why = |a: &Value| a["explanation"].as_str().unwrap().to_string();

    // The hub's alerts name the hub pod and the node it runs on; the alert
    // on that node names the hub pod as where its threads come from.
    let hub: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["name"] == "HubThreadsClimbing" || a["name"] == "HubCPUHigh")
        .collect();
    assert!(!hub.is_empty());
    let pod = format!("prod/{}", hub[0]["labels"]["pod"].as_str().unwrap());
    let hub_node = pods["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| format!("prod/{}", p["metadata"]["name"].as_str().unwrap()) == pod)
        .map(|p| p["spec"]["nodeName"].as_str().unwrap().to_string())
        .expect("the hub pod is in pods.json");
    for a in &hub {
        assert!(
            why(a).contains(&format!("{pod} runs on node {hub_node}")),
            "{}",
            why(a)
        );
    }
    let threads = hub
        .iter()
        .find(|a| a["name"] == "HubThreadsClimbing")
        .unwrap();
    assert!(
        why(threads).contains("% of its container_threads"),
        "{}",
        why(threads)
    );
    let hub_node_alert = alerts
        .iter()
        .find(|a| a["scope"] == "node" && a["labels"]["node"] == hub_node.as_str())
        .expect("the hub's node alerts in the scenario");
    assert!(
        why(hub_node_alert).contains(&format!("% from {pod}")),
        "{}",
        why(hub_node_alert)
    );

    // vvsw's alert names the pods (or their workloads) that fail on it, and
    // only pods that really run there.
    let vvsw = alerts
        .iter()
        .find(|a| a["scope"] == "node" && a["labels"]["node"].as_str().unwrap().ends_with("-vvsw"))
        .unwrap();
    let node = vvsw["labels"]["node"].as_str().unwrap();
    let here = on_node(node);
    let named = named_contributors(&why(vvsw));
    assert!(named.len() >= 2, "{}", why(vvsw));
    for n in &named {
        let ok = match n.strip_suffix('*') {
            Some(prefix) => here.iter().any(|p| p.starts_with(prefix)),
            None => here.contains(n),
        };
        assert!(ok, "{n} does not run on {node}: {}", why(vvsw));
    }
    assert!(
        named.iter().any(|n| n.starts_with("prod/grafana-")),
        "the crash-looping grafana pod is named: {}",
        why(vvsw)
    );

    // The cluster alerts about readiness name the workloads failing most.
    let cluster = alerts
        .iter()
        .find(|a| a["scope"] == "cluster" && why(a).contains("readiness_failed_pods"))
        .unwrap();
    assert!(
        why(cluster).contains("(most from prod/jupyter-jupyterlab-jupyterlab-demo-* "),
        "{}",
        why(cluster)
    );
}
