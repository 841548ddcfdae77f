//! Everything a server on the Prometheus port can answer besides data,
//! against a loopback fake: HTTP 500, `{"status":"error"}`, truncated JSON
//! (short and broken off), an HTML page, a server that does not speak HTTP.
//! Each is counted under its kind, makes the metric signals unknown, logs
//! one clear line, and is survived: when the fake answers properly again
//! the same collector recovers by itself. Also: one query per metric signal
//! per tick, sent as Prometheus expects (POST form, `time`, `timeout`), and
//! a node missing from an answer is unknown for that signal, not healthy.

use nodewatch_testkit as support;

use nodewatch::act::{Governor, InMemoryCordoner, RecordingNotifier};
use nodewatch::catalog::{render, Catalog, SignalScope};
use nodewatch::collect::prometheus::{BackoffConfig, PrometheusCollector, PrometheusConfig};
use nodewatch::collect::{MetricSource, Observation};
use nodewatch::engine::Engine;
use nodewatch::k8s;
use nodewatch::pipeline::Pipeline;
use nodewatch::time::{Duration, Timestamp};
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use support::loopback::{response, Behaviour, Loopback};

/// Log lines written while a test runs.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn take(&self) -> String {
        let mut b = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&std::mem::take(&mut *b)).to_string()
    }
}

const JSON: &str = "application/json";

/// A valid answer: one node with value 1.
const VECTOR: &str = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"node":"n1","instance":"n1"},"value":[1519128000,"1"]}]}}"#;

struct Case {
    name: &'static str,
    reply: Vec<u8>,
    kind: &'static str,
    log: &'static str,
}

fn cases() -> Vec<Case> {
    let cut = &VECTOR[..VECTOR.len() / 2];
    let broken = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {JSON}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{cut}",
        VECTOR.len()
    );
    vec![
        Case { name: "HTTP 500", reply: response(500, "text/plain", "internal error"), kind: "http", log: "HTTP 500 (text/plain): \"internal error\"" },
        Case {
            name: "status error",
            reply: response(422, JSON, r#"{"status":"error","errorType":"execution","error":"many-to-many matching not allowed"}"#),
            kind: "query",
            log: "Prometheus answered status \"error\" (execution): many-to-many matching not allowed",
        },
        Case { name: "truncated JSON", reply: response(200, JSON, cut), kind: "parse", log: "invalid JSON from Prometheus" },
        Case { name: "body broken off", reply: broken.into_bytes(), kind: "parse", log: "response body broken off" },
        Case {
            name: "HTML page",
            reply: response(200, "text/html; charset=utf-8", "<html><body>Welcome to nginx!</body></html>"),
            kind: "parse",
            log: "not a Prometheus API answer: HTTP 200 with content type \"text/html; charset=utf-8\"",
        },
        Case { name: "not HTTP", reply: b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n".to_vec(), kind: "parse", log: "the server on the port does not speak HTTP" },
    ]
}

#[tokio::test]
async fn bad_answers_are_counted_logged_and_survived() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let fake = Loopback::start(Behaviour::Reply(response(200, JSON, VECTOR)));
    let mut cfg = PrometheusConfig::new(fake.url());
    cfg.timeout = Duration::secs(5);
    cfg.backoff = BackoffConfig {
        initial: Duration(10),
        max: Duration(20),
    };
    let mut c = PrometheusCollector::new(&cfg).expect("collector");
    let health = c.health();
    let catalog = Catalog::builtin();
    let metric: Vec<usize> = (0..catalog.signals.len())
        .filter(|&i| catalog.signals[i].metric.is_some())
        .collect();
    let at = Timestamp(1_519_128_000_000);

    // Healthy first: every metric signal known, one query each.
    let out = c.metrics(at, &catalog).await;
    for &i in &metric {
        assert!(
            matches!(&out[i], Some(Ok(rows)) if !rows.is_empty()),
            "{}: {:?}",
            catalog.signals[i].name,
            out[i]
        );
    }
    assert!(health.up());
    let reqs = fake.requests();
    assert_eq!(
        reqs.len(),
        metric.len(),
        "one query per metric signal per tick"
    );
    let mut sent: Vec<String> = reqs.iter().map(|r| form(&r.body, "query")).collect();
    let mut want: Vec<String> = metric
        .iter()
        .filter_map(|&i| catalog.signals[i].metric.as_ref().map(render))
        .collect();
    sent.sort();
    want.sort();
    assert_eq!(sent, want);
    for r in &reqs {
        assert!(
            r.head.starts_with("POST /api/v1/query HTTP/1.1"),
            "{}",
            r.head
        );
        assert_eq!(form(&r.body, "time"), "1519128000.000");
        assert_eq!(form(&r.body, "timeout"), "5000ms");
    }

    for case in cases() {
        fake.set(Behaviour::Reply(case.reply.clone()));
        logs.take();
        let before = health.errors(case.kind);
        // Past the backoff of the previous case (at most 20 ms).
        tokio::time::sleep(std::time::Duration::from_millis(40)).await;
        let out = c.metrics(at, &catalog).await;
        for &i in &metric {
            let err = match &out[i] {
                Some(Err(e)) => e.kind(),
                other => panic!(
                    "{}: {} should be unknown, got {other:?}",
                    case.name, catalog.signals[i].name
                ),
            };
            assert_eq!(err, case.kind, "{}", case.name);
        }
        assert_eq!(
            health.errors(case.kind) - before,
            metric.len() as u64,
            "{}: not counted",
            case.name
        );
        assert!(!health.up(), "{}: still up", case.name);
        let log = logs.take();
        let lines: Vec<&str> = log.lines().filter(|l| l.contains("WARN")).collect();
        assert_eq!(
            lines.len(),
            1,
            "{}: one log line per failing tick expected:\n{log}",
            case.name
        );
        assert!(
            lines[0].contains(case.log) && lines[0].contains(&fake.url()),
            "{}: unclear log line: {}",
            case.name,
            lines[0]
        );
        assert!(
            lines[0].contains(&format!("kind=\"{}\"", case.kind))
                || lines[0].contains(&format!("kind={}", case.kind)),
            "{}",
            lines[0]
        );
        eprintln!("{:>16}: {}", case.name, lines[0]);
    }

    // Answering properly again: the same collector recovers by itself.
    fake.set(Behaviour::Reply(response(200, JSON, VECTOR)));
    tokio::time::sleep(std::time::Duration::from_millis(40)).await;
    let out = c.metrics(at, &catalog).await;
    assert!(metric.iter().all(|&i| matches!(out[i], Some(Ok(_)))));
    assert!(health.up());
    assert!(
        logs.take().contains("prometheus answering again"),
        "no recovery log line"
    );
    let state = health.state();
    eprintln!("errors by kind: {:?}", state.errors);
}

#[tokio::test]
async fn a_node_missing_from_the_answer_is_unknown() {
    // Every query answers for n1 only; n2 is listed but absent.
    let fake = Loopback::start(Behaviour::Reply(response(200, JSON, VECTOR)));
    let mut c = PrometheusCollector::new(&PrometheusConfig::new(fake.url())).expect("collector");
    let catalog = Arc::new(Catalog::builtin());
    let engine = Engine::new(catalog.clone(), Default::default());
    let mut p: Pipeline<RecordingNotifier, InMemoryCordoner> = Pipeline::new(
        engine,
        Governor::new(Default::default()),
        Default::default(),
        Default::default(),
    );
    let node = |name: &str| k8s::Node {
        metadata: k8s::ObjectMeta {
            name: name.into(),
            ..Default::default()
        },
        ..Default::default()
    };
    let node_metrics: Vec<&str> = catalog
        .signals
        .iter()
        // Signals whose absence means 0 (node-problem-detector's) are
        // known for every node whenever the query was answered.
        .filter(|s| s.scope == SignalScope::Node)
        .filter(|s| s.metric.as_ref().is_some_and(|m| !m.absent_is_zero))
        .map(|s| s.name.as_str())
        .collect();
    for k in 0..3 {
        let at = Timestamp(1_519_128_000_000 + k * 30_000);
        let obs = Observation {
            at,
            metrics: c.metrics(at, &catalog).await,
            events_ok: true,
            nodes: (k == 0).then(|| vec![node("n1"), node("n2")]),
            ..Default::default()
        };
        p.step_with(obs).await;
    }
    let snap = p.snapshot(None);
    let view = |n: &str| {
        snap.nodes
            .iter()
            .find(|v| v.name == n)
            .expect("node in snapshot")
    };
    for sig in &node_metrics {
        assert!(
            view("n2").unknown.iter().any(|u| u == sig),
            "{sig} not unknown on n2: {:?}",
            view("n2").unknown
        );
        assert!(
            !view("n1").unknown.iter().any(|u| u == sig),
            "{sig} unknown on n1 although answered"
        );
    }
    // A node without node-problem-detector's series has no problem: 0.
    assert!(
        !view("n2").unknown.iter().any(|u| u == "npd_problem_gauge"),
        "{:?}",
        view("n2").unknown
    );
}

/// The value of `key` in an `application/x-www-form-urlencoded` body.
fn form(body: &[u8], key: &str) -> String {
    let text = String::from_utf8_lossy(body);
    let raw = text
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in {text}"));
    let bytes = raw.replace('+', " ");
    let mut out = Vec::new();
    let b = bytes.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() + 1 {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).expect("hex");
            out.push(u8::from_str_radix(hex, 16).expect("hex"));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("utf-8")
}
