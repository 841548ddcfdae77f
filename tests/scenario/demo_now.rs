//! `nodewatch demo` happens now: the 2018 Binder incident is replayed
//! shifted so that its last tick is the wall clock when the replay reaches
//! it. Checked through the binary with Prometheus's own client (`promtool
//! query instant` asks at the wall clock, `promtool query labels` in a
//! window around it; Debian's `prometheus` package), and in the library:
//! a shifted replay alerts, cordons and reports exactly as the original,
//! each at its own time plus the shift.

use nodewatch::act::Notification;
use nodewatch::catalog::Catalog;
use nodewatch::scenario;
use nodewatch::time::{Duration, Timestamp};
use nodewatch::tools::replay::{self, Options};
use nodewatch::tools::report::Report;
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc};
use support::serve_prom::promtool_json;

use nodewatch_testkit as support;

/// Longest wait for the demo to replay to its end.
const WAIT: std::time::Duration = std::time::Duration::from_secs(180);

/// A demo killed when dropped.
struct Demo {
    child: Child,
    addr: String,
    /// The `time:` line: (scenario time, the wall-clock time it replays as).
    landed: Option<(Timestamp, Timestamp)>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `nodewatch demo` unpaced in effect (`--speed 1e9`) with `extra`
/// arguments and returns once the replay has finished (still serving).
fn demo(extra: &[&str]) -> Demo {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nodewatch"))
        .args(["demo", "--speed", "1000000000", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the demo");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut d = Demo {
        child,
        addr: String::new(),
        landed: None,
    };
    let started = std::time::Instant::now();
    loop {
        let left = WAIT.saturating_sub(started.elapsed());
        let line = rx.recv_timeout(left).expect("the demo finishes its replay");
        if let Some(rest) = line.strip_prefix("status page: http://") {
            d.addr = rest.split('/').next().unwrap_or_default().to_string();
        }
        if let Some(rest) = line.strip_prefix("time: ") {
            let words: Vec<&str> = rest.split_whitespace().collect();
            if words.get(1..3) == Some(&["replays", "as"][..]) {
                let t = |s: &str| Timestamp::parse_rfc3339(s).expect("a time");
                d.landed = Some((t(words[0]), t(words[3])));
            }
        }
        if line.starts_with("replay finished; still serving") {
            break;
        }
    }
    assert!(!d.addr.is_empty(), "the demo prints its address");
    d
}

fn get_json(addr: &str, path: &str) -> Value {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    let body = buf.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{path}: {e}: {buf}"))
}

fn now() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    Timestamp(d.as_millis() as i64)
}

/// The `node` label of every series in a promtool vector answer.
fn nodes_in(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .expect("a vector")
        .iter()
        .filter_map(|s| s["metric"]["node"].as_str().map(str::to_string))
        .collect()
}

fn binder_nodes() -> BTreeSet<String> {
    let sc = scenario::builtin("binder").expect("binder");
    sc.nodes.iter().map(|n| n.metadata.name.clone()).collect()
}

#[test]
fn promtool_at_the_wall_clock_finds_every_node_of_the_demo() {
    let before = now();
    let d = demo(&[]);
    let url = format!("http://{}", d.addr);
    let (end, landed) = d.landed.expect("the demo prints its time shift");
    assert_eq!(
        end,
        Timestamp::parse_rfc3339("2018-02-22T07:00:00Z").unwrap()
    );
    let step = Duration::secs(30);
    assert_eq!(landed.since(end).0 % step.0, 0, "shifted by whole steps");
    assert!(
        landed.0 > before.0 - step.0 && landed <= now(),
        "the last tick {landed} is the wall clock when the replay reached it, never ahead"
    );
    let snapshot = get_json(&d.addr, "/api/v1/nodewatch/snapshot");
    assert_eq!(
        snapshot["at"],
        landed.to_rfc3339(),
        "the status page's time"
    );

    // No `--time`: promtool sends the wall clock.
    let scores = promtool_json(&["instant", &url, "nodewatch_node_score"]);
    assert_eq!(nodes_in(&scores), binder_nodes(), "{scores}");
    let names = promtool_json(&["labels", &url, "__name__"]);
    let names: Vec<&str> = names
        .as_array()
        .expect("label values")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for name in [
        "nodewatch_node_score",
        "nodewatch_alerts",
        "nodewatch_signal_anomaly",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    // The history is on the wall clock too: the last 6 hours, as Grafana
    // asks by default, hold 6 hours of ticks ending at the last one.
    let range = get_json(
        &d.addr,
        &format!(
            "/api/v1/query_range?query=count(nodewatch_node_score)&start={}&end={}&step=60",
            now().0 / 1000 - 6 * 3600,
            now().0 / 1000
        ),
    );
    let points = range["data"]["result"][0]["values"]
        .as_array()
        .map_or(0, Vec::len);
    assert!(
        points >= 6 * 60 - 2,
        "{points} points in the last 6 h: {range}"
    );
}

#[test]
fn original_time_keeps_2018_and_until_is_read_in_the_scenario_s_time() {
    let d = demo(&["--original-time", "--until", "2018-02-22T07:00:00Z"]);
    let url = format!("http://{}", d.addr);
    assert_eq!(d.landed, None, "no shift announced");
    let scores = promtool_json(&["instant", &url, "nodewatch_node_score"]);
    assert_eq!(scores, Value::Array(vec![]), "nothing at the wall clock");
    let scores = promtool_json(&[
        "instant",
        "--time",
        "2018-02-22T07:00:00Z",
        &url,
        "nodewatch_node_score",
    ]);
    assert_eq!(nodes_in(&scores), binder_nodes());

    // Shifted, `--until` names the moment of the incident (17:10 on Feb 20,
    // vvsw cordoned): that tick lands on the wall clock.
    let d = demo(&["--until", "2018-02-20T17:10:00Z"]);
    let url = format!("http://{}", d.addr);
    let (until, landed) = d.landed.expect("the demo prints its time shift");
    assert_eq!(
        until,
        Timestamp::parse_rfc3339("2018-02-20T17:10:00Z").unwrap()
    );
    assert!(landed <= now() && now().0 - landed.0 < 10 * 60_000);
    let firing = promtool_json(&[
        "instant",
        &url,
        "nodewatch_alerts{alertstate=\"firing\",node=\"gke-prod-a-ssd-pool-32-134a959a-vvsw\"}",
    ]);
    assert!(
        firing.as_array().is_some_and(|a| !a.is_empty()),
        "vvsw's alert fires at the wall clock: {firing}"
    );
}

/// Moves every timestamp of an alert notification by `by`.
fn moved(n: &Notification, by: Duration) -> Notification {
    let mut n = n.clone();
    n.alert.active_since = n.alert.active_since.add(by);
    n.alert.fired_at = n.alert.fired_at.map(|t| t.add(by));
    n.ends_at = n.ends_at.map(|t| t.add(by));
    n
}

#[tokio::test]
async fn a_shifted_replay_alerts_and_cordons_exactly_as_the_original_shifted() {
    let catalog = Arc::new(Catalog::builtin());
    let original = scenario::builtin("binder").expect("binder");
    let mut shifted = original.clone();
    // Not whole days nor whole hours: nothing may hang on the time of day.
    let by = Duration(3209 * 86_400_000 + 4 * 3_600_000 + 23 * 60_000 + 30_000);
    shifted.shift(by);
    let meta = original.meta.clone();
    let a = replay::run(original, catalog.clone(), Options::default()).await;
    let b = replay::run(shifted, catalog, Options::default()).await;
    assert_eq!(a.ticks, b.ticks);
    assert!(a.notifications.len() > 10 && !a.actions.is_empty());
    let expected: Vec<_> = a.notifications.iter().map(|n| moved(n, by)).collect();
    assert_eq!(b.notifications, expected, "the same alerts, shifted");
    let expected: Vec<_> = a
        .actions
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.at = r.at.add(by);
            r
        })
        .collect();
    assert_eq!(
        b.actions, expected,
        "the same cordons and refusals, shifted"
    );
    let timeline: Vec<_> = a
        .timeline()
        .into_iter()
        .map(|(t, l)| (t.add(by), l))
        .collect();
    assert_eq!(b.timeline(), timeline);
    // The report of the shifted run, moved back, is the original's.
    let back = Duration(-by.0);
    let notifications: Vec<_> = b.notifications.iter().map(|n| moved(n, back)).collect();
    let mut actions = b.actions.clone();
    for r in &mut actions {
        r.at = r.at.add(back);
    }
    assert_eq!(Report::build(&meta, &notifications, &actions), a.report());
}
