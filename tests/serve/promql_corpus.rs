//! The differential corpus: a deterministic (seeded) generator writes
//! 2,400 PromQL queries over vector matching, set operators, aggregations,
//! range and element-wise functions, label functions, `absent`, classic
//! histograms, string literals, offsets (negative too) and comparisons; each goes, as an instant or a range query, to nodewatch's
//! query API and to a real Prometheus 2.42 (Debian's, backfilled with the
//! same series by promtool), and the answers must agree: same success or
//! error type, same label sets, same timestamps, values equal within 1e-9
//! relative (NaN = NaN), or within 1e-15 absolute. The relative tolerance
//! covers Go's and Rust's `exp`/`ln`/`pow`/trigonometry differing in the
//! last bits; the absolute one covers residues of cancellation (a variance
//! of equal values is ~1e-17 on both sides, in different bits). The
//! smallest non-zero values in the data are ~1e-6, their rates ~5e-8, so
//! 1e-15 hides no real difference there. Values are compared as numbers,
//! so digits must be the same to 1e-9 (nodewatch's history stores `f64`,
//! as Prometheus does). Every query that differs is printed; the pass rate
//! must be at least 99.5%.

use http::get;
use nodewatch::serve::Published;
use nodewatch::state::{NodeView, SignalValue, Snapshot};
use nodewatch::time::Timestamp;
use std::collections::BTreeMap;
use std::net::SocketAddr;

use compare::{answer, compare, Answer, Verdict};
use nodewatch_testkit as support;
use nodewatch_testkit::serve::compare;
use nodewatch_testkit::serve::corpus;
use nodewatch_testkit::serve::http;

/// First tick (s), tick interval (s) and number of ticks.
const T0: i64 = 1_700_000_000;
const STEP: i64 = 15;
const TICKS: i64 = 40;
/// Queries in the corpus.
const QUERIES: usize = 2_400;
/// Constructs that must each be answered with a non-empty result (and
/// agree) in at least [`MIN_COVERED`] queries, so the corpus really
/// exercises them; string results must come at least 3 times.
const COVERED: [&str; 8] = [
    "label_replace(",
    "label_join(",
    "count_values",
    "absent(",
    "absent_over_time(",
    "histogram_quantile(",
    "clamp(",
    "request_seconds_bucket",
];
const MIN_COVERED: usize = 10;

/// One series: `(metric, labels, value per tick)`.
type Samples = (&'static str, Vec<(&'static str, String)>, Vec<f64>);

/// Every series of the corpus's data.
fn samples() -> Vec<Samples> {
    let mut out = Vec::new();
    for n in 0..corpus::NODES {
        let node = format!("n{n}");
        let zone = format!("z{}", n % 2);
        let pool = format!("p{}", n % 3);
        let score = (0..TICKS)
            .map(|t| ((n as i64 * 7 + t * 3) % 17) as f64 * 0.25)
            .collect();
        out.push((
            "nodewatch_node_score",
            vec![("node", node.clone()), ("pool", pool), ("zone", zone)],
            score,
        ));
        for (j, signal) in corpus::SIGNALS.iter().enumerate() {
            let labels = vec![("node", node.clone()), ("signal", signal.to_string())];
            // Counter-like with resets, plus huge, tiny, NaN and ±Inf values.
            let value: Vec<f64> = (0..TICKS)
                .map(|t| match (n, j, t) {
                    (5, 0, 10) => f64::NAN,
                    (5, 0, 20) => f64::INFINITY,
                    (4, 2, 30) => f64::NEG_INFINITY,
                    (3, 1, _) => (t as f64 + 1.0) * 1_048_576.0 * 1_048_576.0,
                    (2, 2, _) => (t % 7) as f64 / 1_048_576.0,
                    // Each node counts at its own pace, so rates rarely tie.
                    _ => {
                        ((t * (j as i64 + 1 + n as i64) + n as i64) % 50) as f64
                            + 0.5 * (n % 2) as f64
                    }
                })
                .collect();
            let level = (0..TICKS)
                .map(|t| ((n as i64 + j as i64 + t) % 5) as f64 * 0.5)
                .collect();
            out.push(("nodewatch_signal_value", labels.clone(), value));
            out.push(("nodewatch_signal_anomaly", labels, level));
        }
    }
    out
}

/// The classic histogram [`corpus::BUCKET_METRIC`]`{node, le}` on four
/// nodes, cumulative counters: n0 resets at tick 25, n1 also has a
/// `le="1.0"` bucket (merged with `le="1"`), n2's `le="1"` bucket dips
/// below `le="0.5"` for five ticks (forced monotonic), n3 has no `+Inf`
/// bucket (NaN quantiles). Test data only: nodewatch exports no histogram,
/// so these reach its history through `publish_with_series`.
fn buckets() -> Vec<Samples> {
    const LE: [&str; 5] = ["0.1", "0.5", "1", "2.5", "+Inf"];
    let mut out = Vec::new();
    for n in 0..4usize {
        let mut counters = [0.0f64; 5];
        let mut series: Vec<Vec<f64>> = vec![Vec::new(); 5];
        for t in 0..TICKS as usize {
            if n == 0 && t == 25 {
                counters = [0.0; 5];
            }
            let mut cum = 0.0;
            for (j, c) in counters.iter_mut().enumerate() {
                *c += ((n * 3 + j * 5 + t) % 4) as f64;
                cum += *c;
                let dip = n == 2 && j == 2 && (20..25).contains(&t);
                series[j].push(if dip { cum - 3.0 } else { cum });
            }
        }
        let node = format!("n{n}");
        if n == 1 {
            let extra = series[1].clone();
            out.push((
                corpus::BUCKET_METRIC,
                vec![("le", "1.0".to_string()), ("node", node.clone())],
                extra,
            ));
        }
        for (j, values) in series.into_iter().enumerate() {
            if n == 3 && j == 4 {
                continue;
            }
            let labels = vec![("le", LE[j].to_string()), ("node", node.clone())];
            out.push((corpus::BUCKET_METRIC, labels, values));
        }
    }
    out
}

async fn nodewatch() -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let published = Published::new();
    let all = samples();
    let hist = buckets();
    for t in 0..TICKS as usize {
        let nodes = (0..corpus::NODES)
            .map(|n| {
                let find = |metric: &str, sig: &str| {
                    all.iter()
                        .find(|(m, l, _)| {
                            *m == metric && l[0].1 == format!("n{n}") && l[1].1 == sig
                        })
                        .map(|(_, _, v)| v[t])
                };
                NodeView {
                    name: format!("n{n}"),
                    zone: format!("z{}", n % 2),
                    pool: format!("p{}", n % 3),
                    score: ((n as i64 * 7 + t as i64 * 3) % 17) as f64 * 0.25,
                    signals: corpus::SIGNALS
                        .iter()
                        .map(|s| SignalValue {
                            signal: s.to_string(),
                            value: find("nodewatch_signal_value", s),
                            level: find("nodewatch_signal_anomaly", s).unwrap_or(0.0),
                        })
                        .collect(),
                    ..Default::default()
                }
            })
            .collect();
        let extra: Vec<(Vec<(String, String)>, f64)> = hist
            .iter()
            .map(|(metric, labels, values)| {
                let mut l = vec![("__name__".to_string(), metric.to_string())];
                l.extend(labels.iter().map(|(k, v)| (k.to_string(), v.clone())));
                (l, values[t])
            })
            .collect();
        let snapshot = Snapshot {
            at: Timestamp((T0 + t as i64 * STEP) * 1000),
            nodes,
            ..Default::default()
        };
        published.publish_with_series(snapshot, &extra);
    }
    http::serve(published).await
}

/// The same series as OpenMetrics, backfilled into a fresh Prometheus.
fn prometheus(dir: &std::path::Path) -> support::prometheus::Prometheus {
    let mut by_metric: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (metric, labels, values) in samples().into_iter().chain(buckets()) {
        let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        for (t, x) in values.iter().enumerate() {
            let x = match *x {
                x if x == f64::INFINITY => "+Inf".to_string(),
                x if x == f64::NEG_INFINITY => "-Inf".to_string(),
                x if x.is_nan() => "NaN".to_string(),
                x => format!("{x:e}"),
            };
            by_metric.entry(metric).or_default().push(format!(
                "{metric}{{{}}} {x} {}",
                l.join(","),
                T0 + t as i64 * STEP
            ));
        }
    }
    let mut om = String::new();
    for (metric, lines) in by_metric {
        om.push_str(&format!("# TYPE {metric} gauge\n"));
        for line in lines {
            om.push_str(&line);
            om.push('\n');
        }
    }
    om.push_str("# EOF\n");
    let file = dir.join("metrics.om");
    std::fs::write(&file, om).expect("write");
    let storage = dir.join("data");
    support::prometheus::backfill(&file, &storage);
    support::prometheus::Prometheus::start(&storage)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_corpus_agrees_with_prometheus_2_42() {
    let dir = tempfile::tempdir().expect("temp dir");
    let prom = prometheus(dir.path());
    let (nw, _stop) = nodewatch().await;
    let mut gen = corpus::Gen::new(0x5eed_1405);
    let mut diffs = Vec::new();
    let mut errors_both = 0;
    let mut ties = 0;
    let mut label_digits = 0;
    let mut covered = [0usize; COVERED.len()];
    let mut strings = 0;
    for _ in 0..QUERIES {
        let q = gen.query();
        let params = gen.params(T0, T0 + (TICKS - 1) * STEP);
        let endpoint = if params.contains("step=") {
            "query_range"
        } else {
            "query"
        };
        let path = format!("/api/v1/{endpoint}?query={}{params}", corpus::encode(&q));
        let ours = answer(&get(nw, &path).await.body);
        let theirs = answer(&get(prom.addr(), &path).await.body);
        if matches!((&ours, &theirs), (Answer::Error(_), Answer::Error(_))) {
            errors_both += 1;
        }
        let verdict = compare(&q, &ours, &theirs);
        ties += usize::from(verdict == Verdict::Ties);
        label_digits += usize::from(verdict == Verdict::LabelDigits);
        match &ours {
            Answer::Data(t, rows) if verdict != Verdict::Differ && !rows.is_empty() => {
                strings += usize::from(t == "string");
                for (n, c) in covered.iter_mut().zip(COVERED) {
                    *n += usize::from(q.contains(c));
                }
            }
            _ => {}
        }
        if verdict == Verdict::Differ {
            diffs.push(format!(
                "{q} {params}\n  nodewatch:  {ours:?}\n  prometheus: {theirs:?}"
            ));
        }
    }
    let passed = QUERIES - diffs.len();
    let rate = passed as f64 / QUERIES as f64 * 100.0;
    println!(
        "corpus: {passed}/{QUERIES} agree ({rate:.2}%; {ties} only up to topk/bottomk ties, {label_digits} only up to the last bit of count_values labels), {errors_both} errors on both sides"
    );
    for d in &diffs {
        println!("{d}");
    }
    let coverage: Vec<String> = COVERED
        .iter()
        .zip(covered)
        .map(|(c, n)| format!("{c} {n}"))
        .collect();
    println!(
        "non-empty and agreeing: {}, string results {strings}",
        coverage.join(", ")
    );
    assert!(
        covered.iter().all(|n| *n >= MIN_COVERED) && strings >= 3,
        "a construct is barely covered: {coverage:?}, {strings} strings"
    );
    // Most queries must answer data, or the corpus proves little.
    assert!(
        errors_both < QUERIES / 5,
        "{errors_both} errors on both sides"
    );
    assert!(rate >= 99.5, "{rate:.2}% agree:\n{}", diffs.join("\n"));
}
