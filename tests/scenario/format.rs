//! The scenario directory format (DESIGN.md, "Scenario format"): the built-in
//! Binder scenario survives write → read bit for bit and holds the facts the
//! brief promises; malformed files are reported with file and line; the
//! OpenMetrics reader and writer agree on escapes, NaN/Inf and counters.

use nodewatch::k8s::{self, Event};
use nodewatch::scenario::{self, openmetrics, Family, MetricType, Scenario, Series};
use nodewatch::time::{Duration, Timestamp};
use std::collections::HashMap;
use std::fs;
use std::path::Path;

fn ts(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).expect("test timestamp")
}

/// A small valid scenario for the error cases (the Binder one is ~50 MB).
fn tiny() -> Scenario {
    let mut s = Scenario::default();
    s.meta.name = "tiny".into();
    s.meta.start = ts("2018-02-20T12:00:00Z");
    s.meta.end = ts("2018-02-20T13:00:00Z");
    s.meta.step = Duration::secs(30);
    s.meta.truth.never_cordon = "all-healthy".into();
    for i in 0..5 {
        let mut e = Event::default();
        e.metadata.name = format!("p.{i:016x}");
        e.reason = "Unhealthy".into();
        s.events.push(e);
    }
    s.metrics = vec![Family {
        name: "up".into(),
        kind: MetricType::Gauge,
        help: "Up.".into(),
        series: vec![Series {
            labels: vec![("node".into(), "n1".into())],
            samples: vec![(1000, 1.0), (61_000, 0.0)],
        }],
    }];
    s
}

fn assert_same(a: &Scenario, b: &Scenario) {
    assert_eq!(a.meta, b.meta);
    assert_eq!(a.nodes, b.nodes);
    assert_eq!(a.pods, b.pods);
    assert_eq!(a.events.len(), b.events.len());
    for (x, y) in a.events.iter().zip(&b.events) {
        assert_eq!(x, y);
    }
    assert_eq!(a.metrics.len(), b.metrics.len());
    for (x, y) in a.metrics.iter().zip(&b.metrics) {
        assert_eq!(
            (&x.name, x.kind, &x.help, x.series.len()),
            (&y.name, y.kind, &y.help, y.series.len())
        );
        for (sx, sy) in x.series.iter().zip(&y.series) {
            assert_eq!(sx.labels, sy.labels);
            let bits = |s: &Series| {
                s.samples
                    .iter()
                    .map(|&(t, v)| (t, v.to_bits()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(bits(sx), bits(sy), "{} {:?}", x.name, sx.labels);
        }
    }
}

#[test]
fn binder_round_trips_through_a_directory() {
    let started = std::time::Instant::now();
    let s = scenario::builtin("binder").expect("binder is built in");
    let generated = started.elapsed();
    let dir = tempfile::tempdir().expect("tempdir");
    scenario::write_dir(&s, dir.path()).expect("write");
    let written = started.elapsed() - generated;
    let back = scenario::read_dir(dir.path()).expect("read");
    let read = started.elapsed() - generated - written;
    assert_same(&s, &back);

    let truth = &back.meta.truth;
    assert_eq!(truth.cluster_incidents.len(), 1);
    assert_eq!(truth.cluster_incidents[0].from, ts("2018-02-20T14:30:00Z"));
    assert_eq!(truth.cluster_incidents[0].to, ts("2018-02-22T06:18:00Z"));
    let faulty: Vec<(&str, Timestamp, Timestamp)> = truth
        .faulty_nodes
        .iter()
        .map(|f| (f.node.as_str(), f.from, f.to))
        .collect();
    let node = |s: &str| format!("gke-prod-a-ssd-pool-32-134a959a-{s}");
    assert_eq!(
        faulty[0],
        (
            node("vvsw").as_str(),
            ts("2018-02-20T17:00:00Z"),
            ts("2018-02-20T17:40:00Z")
        )
    );
    assert_eq!(
        faulty[1],
        (
            node("qz3m").as_str(),
            ts("2018-02-21T15:00:00Z"),
            ts("2018-02-21T16:00:00Z")
        )
    );
    assert_eq!(
        faulty[2],
        (
            node("vvsm").as_str(),
            ts("2018-02-21T15:00:00Z"),
            ts("2018-02-21T16:00:00Z")
        )
    );
    assert_eq!(truth.never_cordon, "all-healthy");
    assert_eq!(back.meta.step, Duration::secs(30));
    assert_eq!(back.nodes.len(), 8);

    let events = fs::read_to_string(dir.path().join("events.jsonl")).expect("events");
    assert_eq!(events.lines().count(), s.events.len());
    let first: serde_json::Value =
        serde_json::from_str(events.lines().next().unwrap_or("")).expect("json");
    assert_eq!(
        (first["apiVersion"].as_str(), first["kind"].as_str()),
        (Some("v1"), Some("Event"))
    );
    let om = fs::read_to_string(dir.path().join("metrics.om")).expect("metrics");
    assert!(om.ends_with("# EOF\n"));
    let nodes = fs::read_to_string(dir.path().join("nodes.json")).expect("nodes");
    assert!(
        nodes.contains("\"kind\": \"NodeList\"") && nodes.contains("\n    \"items\""),
        "kubectl-style JSON"
    );

    let series: usize = s.metrics.iter().map(|f| f.series.len()).sum();
    let samples: usize = s
        .metrics
        .iter()
        .flat_map(|f| &f.series)
        .map(|x| x.samples.len())
        .sum();
    println!(
        "binder: generated in {generated:?}, written in {written:?}, read in {read:?}; {} nodes, {} pods, {} event deliveries, {} families, {series} series, \
         {samples} samples, metrics.om {} bytes, events.jsonl {} bytes",
        s.nodes.len(),
        s.pods.len(),
        s.events.len(),
        s.metrics.len(),
        om.len(),
        events.len()
    );
}

#[test]
fn binder_is_deterministic() {
    let a = scenario::builtin("binder").expect("binder");
    let b = scenario::builtin("binder").expect("binder");
    assert_same(&a, &b);
}

#[test]
fn errors_name_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    scenario::write_dir(&tiny(), p).expect("write");
    assert_same(&tiny(), &scenario::read_dir(p).expect("tiny reads back"));

    let events = fs::read_to_string(p.join("events.jsonl")).expect("events");
    let mut lines: Vec<&str> = events.lines().collect();
    lines[2] = "{\"metadata\": {\"name\": 3";
    fs::write(p.join("events.jsonl"), lines.join("\n")).expect("write");
    let e = scenario::read_dir(p).expect_err("bad event");
    assert!(e.to_string().contains("events.jsonl:3"), "{e}");
    assert_eq!(e.line, Some(3));
    fs::write(p.join("events.jsonl"), events).expect("restore");

    let om = fs::read_to_string(p.join("metrics.om")).expect("om");
    fs::write(p.join("metrics.om"), om.replace("} 0 61", "} zero 61")).expect("write");
    let e = scenario::read_dir(p).expect_err("bad sample");
    assert!(e.to_string().contains("metrics.om:4"), "{e}");
    fs::write(p.join("metrics.om"), om.replace("# EOF\n", "")).expect("write");
    assert!(scenario::read_dir(p)
        .expect_err("no EOF")
        .to_string()
        .contains("EOF"));
    fs::write(p.join("metrics.om"), om).expect("restore");

    fs::write(
        p.join("nodes.json"),
        "{\n  \"kind\": \"NodeList\",\n  \"items\": [,]\n}",
    )
    .expect("write");
    let e = scenario::read_dir(p).expect_err("bad nodes");
    assert!(e.to_string().contains("nodes.json:3"), "{e}");
    fs::remove_file(p.join("nodes.json")).expect("rm");
    let e = scenario::read_dir(p).expect_err("missing");
    assert!(e.file.ends_with("nodes.json") && e.line.is_none(), "{e}");

    let yaml = fs::read_to_string(p.join("scenario.yaml")).expect("yaml");
    fs::write(
        p.join("scenario.yaml"),
        yaml.replace("step: 30s", "step: soon"),
    )
    .expect("write");
    let e = scenario::read_dir(p).expect_err("bad step");
    assert!(
        e.to_string()
            .starts_with(&format!("{}:", p.join("scenario.yaml").display())),
        "{e}"
    );
    assert!(e.line.is_some(), "{e}");
    fs::write(
        p.join("scenario.yaml"),
        yaml.replace("end: 2018-02-20T13:00:00Z", "end: 2018-02-20T11:00:00Z"),
    )
    .expect("write");
    let e = scenario::read_dir(p).expect_err("end before start");
    assert!(e.to_string().contains("not before end"), "{e}");
}

#[test]
fn openmetrics_round_trip() {
    let fams = vec![
        Family {
            name: "weird_gauge".into(),
            kind: MetricType::Gauge,
            help: "Has \"quotes\", a \\ and a\nnewline.".into(),
            series: vec![
                Series {
                    labels: vec![
                        ("a".into(), "x\"y\\z\nw".into()),
                        ("b".into(), "é ✓ {},=".into()),
                    ],
                    samples: vec![
                        (-1500, f64::NAN),
                        (0, f64::INFINITY),
                        (1, f64::NEG_INFINITY),
                        (1002, -0.0),
                    ],
                },
                Series {
                    labels: vec![],
                    samples: vec![(5000, 0.1 + 0.2), (6000, 1e300), (7000, 5e-324)],
                },
            ],
        },
        Family {
            name: "requests_total".into(),
            kind: MetricType::Counter,
            help: String::new(),
            series: vec![Series {
                labels: vec![("code".into(), "200".into())],
                samples: vec![(1, 0.0), (60_001, 12.5)],
            }],
        },
    ];
    let mut text = Vec::new();
    openmetrics::write(&fams, &mut text).expect("write");
    let text = String::from_utf8(text).expect("utf8");
    assert!(text.contains("# TYPE requests counter\n"), "{text}");
    assert!(
        text.contains("requests_total{code=\"200\"} 12.5 60.001\n"),
        "{text}"
    );
    assert!(
        text.contains("weird_gauge{a=\"x\\\"y\\\\z\\nw\",b=\"é ✓ {},=\"} NaN -1.500\n"),
        "{text}"
    );
    assert!(
        text.contains(" +Inf 0\n") && text.contains(" -Inf 0.001\n"),
        "{text}"
    );
    let back = openmetrics::parse(&text, Path::new("x.om")).expect("parse");
    assert_eq!(back.len(), 2);
    for (a, b) in fams.iter().zip(&back) {
        assert_eq!((&a.name, a.kind, &a.help), (&b.name, b.kind, &b.help));
        for (sa, sb) in a.series.iter().zip(&b.series) {
            assert_eq!(sa.labels, sb.labels);
            let bits = |s: &Series| {
                s.samples
                    .iter()
                    .map(|&(t, v)| (t, v.to_bits()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(bits(sa), bits(sb));
        }
    }
    let dup = [fams[1].clone(), fams[1].clone()];
    assert!(
        openmetrics::write(&dup, Vec::new()).is_err(),
        "duplicate family"
    );
}

/// Facts of the Binder scenario a detector test relies on.
#[test]
fn binder_tells_the_story() {
    let s = scenario::builtin("binder").expect("binder");
    let node = |x: &str| format!("gke-prod-a-ssd-pool-32-134a959a-{x}");
    let pod_node: HashMap<&str, &str> = s
        .pods
        .iter()
        .map(|p| (p.metadata.uid.as_str(), p.spec.node_name.as_str()))
        .collect();
    let attributed = |e: &k8s::Event| -> String {
        e.reporting_node()
            .or_else(|| pod_node.get(e.involved_object.uid.as_str()).copied())
            .or((e.involved_object.kind == "Node").then_some(e.involved_object.name.as_str()))
            .unwrap_or("")
            .to_string()
    };
    // Every event lands on a node; some only through spec.nodeName.
    assert!(s.events.iter().all(|e| !attributed(e).is_empty()));
    assert!(s
        .events
        .iter()
        .any(|e| e.reporting_node().is_none() && e.type_ == "Warning"));
    let new_style =
        s.events.iter().filter(|e| e.event_time.is_some()).count() as f64 / s.events.len() as f64;
    assert!((0.2..0.4).contains(&new_style), "{new_style}");
    assert!(s
        .events
        .iter()
        .any(|e| e.series.as_ref().is_some_and(|x| x.count > 5)));

    // Delivery order as a watch gives it: times and resourceVersions rise,
    // and a repeated object keeps its name while its count climbs.
    // (Old-style times have whole seconds only, so compare seconds.)
    let secs = |e: &Event| ts(e.last_seen().unwrap_or("")).0 / 1000;
    let seen: Vec<i64> = s.events.iter().map(secs).collect();
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "events in delivery order"
    );
    let rvs: Vec<u64> = s
        .events
        .iter()
        .map(|e| e.metadata.resource_version.parse().unwrap_or(0))
        .collect();
    assert!(rvs.windows(2).all(|w| w[0] < w[1]));
    let mut counts: HashMap<&str, i64> = HashMap::new();
    for e in &s.events {
        let prev = counts
            .insert(e.metadata.name.as_str(), e.total_count())
            .unwrap_or(0);
        assert_eq!(e.total_count(), prev + 1, "{}", e.metadata.name);
    }

    let kills: Vec<String> = s
        .events
        .iter()
        .filter(|e| e.reason == "FailedKillPod")
        .map(&attributed)
        .collect();
    assert!(
        !kills.is_empty()
            && kills
                .iter()
                .all(|n| *n == node("qz3m") || *n == node("vvsm"))
    );
    let sandbox_pods: std::collections::HashSet<&str> = s
        .events
        .iter()
        .filter(|e| e.reason == "FailedCreatePodSandBox")
        .map(|e| e.involved_object.name.as_str())
        .collect();
    assert!(sandbox_pods.len() >= 10, "{}", sandbox_pods.len());
    assert!(s
        .events
        .iter()
        .any(|e| e.message.contains("can't start new thread")));

    // Hub CPU per minute: first 5 consecutive minutes above 0.7 cores.
    let cpu = s
        .metrics
        .iter()
        .find(|f| f.name == "container_cpu_usage_seconds_total")
        .expect("cpu");
    let hub = cpu
        .series
        .iter()
        .find(|x| x.label("container") == "hub")
        .expect("hub");
    let mut run = 0;
    let mut first = None;
    for w in hub.samples.windows(2) {
        let rate = (w[1].1 - w[0].1) / ((w[1].0 - w[0].0) as f64 / 1000.0);
        run = if rate > 0.7 { run + 1 } else { 0 };
        if run == 5 {
            first = Some(Timestamp(w[1].0));
            break;
        }
    }
    let first = first.expect("hub CPU above 0.7 for 5 minutes");
    println!("hub CPU first 5 min above 0.7 cores at {first}");
    assert!(
        first > ts("2018-02-20T16:00:00Z") && first < ts("2018-02-20T18:30:00Z"),
        "{first}"
    );

    let threads = s
        .metrics
        .iter()
        .find(|f| f.name == "container_threads")
        .expect("threads");
    let hub_threads = threads
        .series
        .iter()
        .find(|x| x.label("container") == "hub")
        .expect("hub threads");
    let max = hub_threads.samples.iter().map(|x| x.1).fold(0.0, f64::max);
    assert!((6000.0..8000.0).contains(&max), "{max}");
    assert!(
        !threads
            .series
            .iter()
            .any(|x| x.label("pod").starts_with("jupyter-")),
        "user pods have no series"
    );
}

/// The binding promise of the format: `promtool` (Prometheus 2.42 as Debian
/// ships it) backfills `metrics.om` and then holds exactly our samples.
/// Fails (never skips) when promtool is not installed.
#[test]
fn promtool_backfills_binder_metrics() {
    use std::process::Command;
    let found = Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "`promtool` is not installed: install the Debian package `prometheus` \
         (apt-get install prometheus; scripts/test.sh does it)"
    );
    let s = scenario::builtin("binder").expect("binder");
    let dir = tempfile::tempdir().expect("tempdir");
    scenario::write_dir(&s, dir.path()).expect("write");
    let tsdb = dir.path().join("tsdb");
    let out = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(dir.path().join("metrics.om"))
        .arg(&tsdb)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // promtool 2.42's dump insists on a WAL directory, which backfill leaves out.
    fs::create_dir_all(tsdb.join("wal")).expect("wal dir");
    let out = Command::new("promtool")
        .args(["tsdb", "dump"])
        .arg(&tsdb)
        .output()
        .expect("dump");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dump = String::from_utf8_lossy(&out.stdout);
    let samples: usize = s
        .metrics
        .iter()
        .flat_map(|f| &f.series)
        .map(|x| x.samples.len())
        .sum();
    assert_eq!(dump.lines().count(), samples);
    // Timestamps (whole-second scrape offsets) and values survive exactly.
    let mut hub: Vec<(i64, f64)> = dump
        .lines()
        .filter(|l| {
            l.starts_with("{__name__=\"container_cpu_usage_seconds_total\", container=\"hub\"")
        })
        .filter_map(|l| {
            let mut f = l.rsplit(' ');
            let t = f.next()?.parse().ok()?;
            Some((t, f.next()?.parse().ok()?))
        })
        .collect();
    hub.sort_by_key(|x| x.0);
    let cpu = s
        .metrics
        .iter()
        .find(|f| f.name == "container_cpu_usage_seconds_total")
        .expect("cpu");
    let ours = cpu
        .series
        .iter()
        .find(|x| x.label("container") == "hub")
        .expect("hub");
    assert_eq!(hub, ours.samples);
}
