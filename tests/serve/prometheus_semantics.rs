//! Edge cases where nodewatch's query API used to answer differently from
//! Prometheus 2.42, checked against a real one: the same series are
//! published to nodewatch and backfilled into Debian's Prometheus, the same
//! requests go to both over HTTP, and the answers (status, error type and
//! words, labels, values with NaN = NaN) must match. The history stores
//! `f64`: values that an `f32` history printed with other digits, or turned
//! into ±Inf, are checked digit for digit.

use http::get;
use nodewatch::serve::Published;
use nodewatch::state::{NodeView, SignalValue, Snapshot};
use nodewatch::time::Timestamp;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;

use nodewatch_testkit as support;
use nodewatch_testkit::serve::http;

/// First tick (s) and tick interval (s).
const T0: i64 = 1_700_000_000;
const STEP: i64 = 15;

/// 2^100: exact in f32 and f64, and large enough that `1 + BIG - BIG`
/// loses the 1 without compensation.
const BIG: f64 = 1_267_650_600_228_229_401_496_703_205_376.0;

/// `(node, signal, values per tick)`.
fn series() -> Vec<(&'static str, &'static str, [f64; 4])> {
    vec![
        ("a", "t", [1.0, BIG, 1.0, -BIG]),
        ("u", "t", [f64::INFINITY, 0.0, f64::INFINITY, f64::INFINITY]),
        ("k1", "k", [1.0; 4]),
        ("k2", "k", [BIG; 4]),
        ("k3", "k", [1.0; 4]),
        ("k4", "k", [-BIG; 4]),
        ("c", "c", [5.0, 10.0, 2.0, 8.5]),
        // Exact in f32, printed with f32's digits by an f32 history.
        ("d1", "d", [123_456_792.0; 4]),
        // Their average, 118.87109375, is exact in f32 too.
        ("m1", "m", [118.75; 4]),
        ("m2", "m", [118.992_187_5; 4]),
        // Beyond f32's range (an f32 history stored ±Inf); summing two
        // overflows f64, the incremental mean does not.
        ("h1", "h", [9.988e307; 4]),
        ("h2", "h", [9.988e307; 4]),
        ("n1", "hn", [-9.988e307; 4]),
        ("n2", "hn", [-9.988e307; 4]),
    ]
}

async fn nodewatch() -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let published = Published::new();
    for i in 0..4 {
        let nodes = series()
            .into_iter()
            .map(|(node, signal, v)| NodeView {
                name: node.into(),
                zone: "z".into(),
                pool: "p".into(),
                signals: vec![SignalValue {
                    signal: signal.into(),
                    value: Some(v[i]),
                    level: 0.0,
                }],
                ..Default::default()
            })
            .collect();
        published.publish(Snapshot {
            at: Timestamp((T0 + i as i64 * STEP) * 1000),
            nodes,
            ..Default::default()
        });
    }
    http::serve(published).await
}

/// The same series as OpenMetrics, backfilled into a fresh Prometheus.
fn prometheus(dir: &std::path::Path) -> support::prometheus::Prometheus {
    let mut om = String::new();
    for metric in ["nodewatch_signal_value", "nodewatch_signal_anomaly"] {
        om.push_str(&format!("# TYPE {metric} gauge\n"));
        for (node, signal, v) in series() {
            for (i, x) in v.iter().enumerate() {
                let x = if metric.ends_with("anomaly") { 0.0 } else { *x };
                let x = match x {
                    x if x == f64::INFINITY => "+Inf".to_string(),
                    x if x == f64::NEG_INFINITY => "-Inf".to_string(),
                    x => format!("{x:e}"),
                };
                om.push_str(&format!(
                    "{metric}{{node=\"{node}\",signal=\"{signal}\"}} {x} {}\n",
                    T0 + i as i64 * STEP
                ));
            }
        }
    }
    om.push_str("# EOF\n");
    let file = dir.join("metrics.om");
    std::fs::write(&file, om).expect("write");
    let storage = dir.join("data");
    support::prometheus::backfill(&file, &storage);
    support::prometheus::Prometheus::start(&storage)
}

/// What must agree: status, error type, error words (unless `words` is
/// false) and the samples by labels.
fn digest(status: u16, body: &str, words: bool) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    if v["status"] != "success" {
        let msg = if words {
            v["error"].to_string()
        } else {
            String::new()
        };
        return format!("{status} {} {msg}", v["errorType"]);
    }
    let data = &v["data"];
    let mut rows: BTreeMap<String, Vec<(f64, String)>> = BTreeMap::new();
    let results = match data["result"].as_array() {
        Some(r) => r.clone(),
        None => vec![serde_json::json!({"metric": {}, "value": data["result"]})],
    };
    for r in results {
        let points: Vec<Value> = match r.get("values") {
            Some(vs) => vs.as_array().cloned().unwrap_or_default(),
            None => vec![r["value"].clone()],
        };
        let pts = points
            .iter()
            .map(|p| {
                let x: f64 = p[1].as_str().unwrap_or("").parse().expect("value");
                // Equal within 1e-9 relative: round to 10 significant digits.
                let text = if x.is_finite() && x != 0.0 {
                    format!("{x:.9e}")
                } else {
                    format!("{x}")
                };
                (p[0].as_f64().unwrap_or(f64::NAN), text)
            })
            .collect();
        rows.insert(r["metric"].to_string(), pts);
    }
    format!("{status} {} {rows:?}", data["resultType"])
}

#[tokio::test]
async fn edge_cases_answer_as_prometheus_2_42_does() {
    let dir = tempfile::tempdir().expect("temp dir");
    let prom = prometheus(dir.path());
    let (nw, _stop) = nodewatch().await;
    let enc = |q: &str| -> String {
        q.bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' => (b as char).to_string(),
                b => format!("%{b:02X}"),
            })
            .collect()
    };
    let at45 = format!("&time={}", T0 + 45);
    let at30 = format!("&time={}", T0 + 30);
    let range = |step: &str| format!("&start={T0}&end={}&step={step}", T0 + 45);
    let value = "nodewatch_signal_value";
    let t = "nodewatch_signal_value{signal=\"t\"}";
    let c = "nodewatch_signal_value{signal=\"c\"}";
    // (query, extra parameters, compare error words)
    let cases: Vec<(String, String, bool)> = vec![
        // Kahan-compensated sum_over_time; +Inf stays +Inf.
        (format!("sum_over_time({t}[1m])"), at45.clone(), true),
        // The compensated incremental mean, and +Inf over `Inf 0 Inf`.
        (format!("avg_over_time({t}[1m])"), at30.clone(), true),
        (format!("avg_over_time({t}[1m])"), at45.clone(), true),
        (format!("stddev_over_time({t}[1m])"), at45.clone(), true),
        (format!("stdvar_over_time({t}[1m])"), at45.clone(), true),
        (
            format!("stddev({value}{{signal=\"k\"}})"),
            at45.clone(),
            true,
        ),
        // Aggregations are not compensated in 2.42.
        (format!("sum({value}{{signal=\"k\"}})"), at45.clone(), true),
        (format!("avg({value}{{signal=\"k\"}})"), at45.clone(), true),
        // NaN bounds.
        (
            format!("clamp_min({value}{{signal=\"k\"}}, NaN)"),
            at45.clone(),
            true,
        ),
        (
            format!("clamp_max({value}{{signal=\"k\"}}, NaN)"),
            at45.clone(),
            true,
        ),
        (
            format!("clamp_max({value}{{signal=\"k\"}}, 5)"),
            at45.clone(),
            true,
        ),
        ("clamp_min(vector(NaN), 1)".into(), at45.clone(), true),
        // k that is not an int64.
        (format!("topk(NaN, {value})"), at45.clone(), true),
        (format!("topk(1e100, {value})"), at45.clone(), true),
        (format!("bottomk(-1e100, {value})"), at45.clone(), true),
        (format!("topk(0.5, {value})"), at45.clone(), true),
        (
            format!("topk(2, {value}{{signal=\"k\"}})"),
            at45.clone(),
            true,
        ),
        // Unary minus keeps label sets unique.
        (
            "-{__name__=~\"nodewatch_signal_(value|anomaly)\",node=\"a\"}".into(),
            at45.clone(),
            true,
        ),
        (format!("-{value}{{signal=\"k\"}}"), at45.clone(), true),
        // round multiplies by the inverse of to_nearest.
        ("round(vector(2.35), 0.1)".into(), at45.clone(), true),
        ("round(vector(0.45), 0.1)".into(), at45.clone(), true),
        ("round(vector(5), 0)".into(), at45.clone(), true),
        // rate, increase and delta share replay's kernel (with a reset).
        (format!("rate({c}[1m])"), at45.clone(), true),
        (format!("increase({c}[40s])"), at45.clone(), true),
        (format!("delta({c}[1m])"), at45.clone(), true),
        (format!("rate({c}[20s])"), range("15"), true),
        // Durations: units in decreasing order; y is a unit.
        ("1".into(), range("30s5m"), true),
        ("1".into(), range("1y"), true),
        ("1".into(), range("1e10"), true),
        (format!("count_over_time({value}[1y])"), at45.clone(), true),
        (
            format!("count_over_time({value}[30s5m])"),
            at45.clone(),
            false,
        ),
    ];
    let mut diffs = Vec::new();
    for (q, extra, words) in &cases {
        let endpoint = if extra.contains("step=") {
            "query_range"
        } else {
            "query"
        };
        let path = format!("/api/v1/{endpoint}?query={}{extra}", enc(q));
        let ours = get(nw, &path).await;
        let theirs = get(prom.addr(), &path).await;
        let (a, b) = (
            digest(ours.status, &ours.body, *words),
            digest(theirs.status, &theirs.body, *words),
        );
        if a != b {
            diffs.push(format!("{q} {extra}\n  nodewatch:  {a}\n  prometheus: {b}"));
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));

    // Digit for digit (the comparison above allows 1e-9 relative): the
    // value text of both answers, instant and range.
    // Prometheus writes |v| ≥ 1e21 in Go's exponent form.
    let exact: [(String, String); 6] = [
        (format!("{value}{{signal=\"d\"}}"), "123456792".to_string()),
        (
            format!("avg({value}{{signal=\"m\"}})"),
            "118.87109375".into(),
        ),
        (format!("avg({value}{{signal=\"h\"}})"), "9.988e+307".into()),
        (
            format!("avg({value}{{signal=\"hn\"}})"),
            "-9.988e+307".into(),
        ),
        (format!("max({value}{{signal=\"h\"}})"), "9.988e+307".into()),
        ("vector(123456792)".into(), "123456792".into()),
    ];
    for (q, want) in &exact {
        for extra in [at45.clone(), range("15")] {
            let endpoint = if extra.contains("step=") {
                "query_range"
            } else {
                "query"
            };
            let path = format!("/api/v1/{endpoint}?query={}{extra}", enc(q));
            for (who, addr) in [("nodewatch", nw), ("prometheus", prom.addr())] {
                let body = get(addr, &path).await.body;
                let texts = value_texts(&body);
                assert!(
                    !texts.is_empty() && texts.iter().all(|t| t == want),
                    "{who}: {q} {extra}: {texts:?}, want {want}\n{body}"
                );
            }
        }
    }

    // One deliberate difference: Prometheus 2.42 answers `time=1e300` at a
    // wrapped-around instant (0); nodewatch refuses it.
    let r = get(nw, "/api/v1/query?query=1&time=1e300").await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body
            .contains("cannot parse \\\"1e300\\\" to a valid timestamp"),
        "{}",
        r.body
    );
}

/// Every sample value of a success body, as the text it was sent as.
fn value_texts(body: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let mut out = Vec::new();
    for r in v["data"]["result"].as_array().cloned().unwrap_or_default() {
        let points = match r.get("values") {
            Some(vs) => vs.as_array().cloned().unwrap_or_default(),
            None => vec![r["value"].clone()],
        };
        out.extend(
            points
                .iter()
                .filter_map(|p| Some(p[1].as_str()?.to_string())),
        );
    }
    out
}
