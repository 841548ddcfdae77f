//! Query API and `/metrics` at the scale envelope: 5,000 nodes with the
//! default catalog's 12 signals, 6 h of history at a 30 s tick (720 ticks).
//! Measures `query_range` over the last hour at a 30 s step (evaluation plus
//! the JSON body Grafana receives), a `/metrics` scrape, and one publish.
//! Prints the history's memory and the response sizes for BENCHMARKS.md.

use criterion::{criterion_group, criterion_main, Criterion};
use nodewatch::serve::api::json;
use nodewatch::serve::{query, Exporter, Format, Published};
use std::hint::black_box;
use std::time::Instant;

use nodewatch_testkit::serve::fixture;

const NODES: usize = 5_000;
const TICKS: usize = 720;

/// Resident memory in bytes (Linux), to check the history's estimate.
fn rss() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn bench(c: &mut Criterion) {
    let published = Published::new();
    let before = rss();
    let started = Instant::now();
    for i in 0..TICKS {
        published.publish(fixture::snapshot(NODES, i, TICKS));
    }
    let fill = started.elapsed();
    {
        let h = published.store();
        println!(
            "history: {NODES} nodes, {} ticks, {} series, estimate {:.1} MiB, RSS growth {:.1} MiB (incl. the latest snapshot and sparklines); fill {:.1} s ({:.1} ms/publish)",
            h.ticks(),
            h.series_count(),
            h.bytes() as f64 / 1048576.0,
            rss().saturating_sub(before) as f64 / 1048576.0,
            fill.as_secs_f64(),
            fill.as_secs_f64() * 1000.0 / TICKS as f64
        );
        let (stream, samples) = h.stream_bytes();
        println!(
            "sealed chunks: {samples} samples, {:.1} MiB of Gorilla streams, {:.3} bytes/sample (constant chunks count 0)",
            stream as f64 / 1048576.0,
            stream as f64 / samples.max(1) as f64
        );
    }
    let end = fixture::at(TICKS - 1);
    let start = end - 3_600_000;
    let mut g = c.benchmark_group("query_range_5000_nodes_1h_30s");
    g.sample_size(10);
    for q in [
        "nodewatch_node_score",
        "max by (zone) (nodewatch_node_score)",
        "topk(10, nodewatch_node_score)",
        "topk(10, nodewatch_signal_anomaly > 0)",
        "sum by (signal) (nodewatch_signal_anomaly)",
        "rate(nodewatch_actions_total[5m])",
    ] {
        let expr = query::parse(q).expect("query");
        let h = published.store();
        let out = query::range(&h, &expr, start, end, 30_000).expect("eval");
        let body = json::success(|o| json::result(o, &h, &out));
        println!("{q}: response {:.2} MB", body.len() as f64 / 1e6);
        drop(h);
        g.bench_function(q, |b| {
            b.iter(|| {
                let h = published.store();
                let out = query::range(&h, &expr, start, end, 30_000).expect("eval");
                black_box(json::success(|o| json::result(o, &h, &out)).len())
            })
        });
    }
    g.finish();

    let exporter = Exporter::new(published.clone());
    let text = exporter.render(Format::Prometheus).expect("render");
    println!(
        "/metrics: {:.2} MB, {} lines",
        text.len() as f64 / 1e6,
        text.lines().count()
    );
    let mut g = c.benchmark_group("metrics_scrape_5000_nodes");
    g.sample_size(10);
    g.bench_function("prometheus text", |b| {
        b.iter(|| black_box(exporter.render(Format::Prometheus).expect("render").len()))
    });
    g.bench_function("openmetrics", |b| {
        b.iter(|| black_box(exporter.render(Format::OpenMetrics).expect("render").len()))
    });
    g.finish();

    let mut g = c.benchmark_group("publish_5000_nodes");
    g.sample_size(10);
    let mut i = TICKS;
    g.bench_function("one tick into the history", |b| {
        b.iter_batched(
            || {
                i += 1;
                fixture::snapshot(NODES, i, 2 * TICKS)
            },
            |s| published.publish(s),
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
