//! Benchmarks of the pure core: one evaluation tick at 5,000 nodes with the
//! default catalog, and event ingestion throughput. Targets (issue #2): a
//! tick ≤ 20 ms, ≥ 1,000,000 events/s, ≤ 4 KiB of state per (node, signal).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use nodewatch::catalog::{Catalog, SignalScope};
use nodewatch::collect::Observation;
use nodewatch::engine::{Engine, Settings};
use nodewatch::k8s::{Event, EventSource, ObjectMeta, ObjectReference};
use nodewatch::signals::{EventIngest, NodeTable};
use nodewatch::time::Timestamp;
use std::hint::black_box;
use std::sync::Arc;

const NODES: usize = 5_000;

/// Deterministic pseudo-noise in [0, 1).
fn noise(a: u64, b: u64) -> f64 {
    let mut x = a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 31;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    (x >> 11) as f64 / (1u64 << 53) as f64
}

fn observation(catalog: &Catalog, tick: u64, events: Vec<Event>) -> Observation {
    let metrics = catalog
        .signals
        .iter()
        .map(|s| {
            s.metric.as_ref().map(|_| {
                let rows = match s.scope {
                    SignalScope::Node => (0..NODES)
                        .map(|n| (vec![format!("node-{n}")], noise(tick, n as u64)))
                        .collect(),
                    SignalScope::Workload => {
                        vec![(vec!["prod".into(), "hub-1".into()], noise(tick, 0))]
                    }
                };
                Ok(rows)
            })
        })
        .collect();
    Observation {
        at: Timestamp(tick as i64 * 30_000),
        metrics,
        events,
        events_ok: true,
        ..Default::default()
    }
}

fn event(i: u64) -> Event {
    let reasons = [
        "FailedSync",
        "Unhealthy",
        "Pulled",
        "FailedKillPod",
        "Scheduled",
        "BackOff",
    ];
    Event {
        metadata: ObjectMeta {
            name: format!("pod-{i}.{i:x}"),
            namespace: "prod".into(),
            ..Default::default()
        },
        involved_object: ObjectReference {
            kind: "Pod".into(),
            namespace: "prod".into(),
            name: format!("pod-{i}"),
            uid: String::new(),
        },
        reason: reasons[(i % 6) as usize].into(),
        message: if i % 6 == 1 {
            "Readiness probe failed: timeout".into()
        } else {
            "Error syncing pod".into()
        },
        source: EventSource {
            component: "kubelet".into(),
            host: format!("node-{}", i % NODES as u64),
        },
        count: Some(1),
        ..Default::default()
    }
}

fn bench_tick(c: &mut Criterion) {
    let catalog = Arc::new(Catalog::builtin());
    let mut engine = Engine::new(catalog.clone(), Settings::default());
    // Warm every baseline past its ring so the tick measured is a steady one.
    for t in 0..130 {
        let evs = (0..200).map(|i| event(t * 1000 + i)).collect();
        engine.tick(observation(&catalog, t, evs));
    }
    eprintln!(
        "state per (node, signal) at a 30 s step: {} bytes held, {} at most ({} nodes × {} signals)",
        engine.state_bytes_held_per_node_signal(),
        engine.state_bytes_per_node_signal(),
        NODES,
        catalog.signals.len()
    );
    state_at_a_short_step(&catalog);
    let mut t = 130;
    let obs = observation(&catalog, t, (0..200).map(event).collect());
    c.bench_function("tick_5000_nodes_default_catalog", |b| {
        b.iter_batched(
            || {
                t += 1;
                let mut o = obs.clone();
                o.at = Timestamp(t as i64 * 30_000);
                o
            },
            |o| black_box(engine.tick(o)),
            BatchSize::LargeInput,
        )
    });
}

/// The same state after the same ticks at the soak's 3 s step, where event
/// windows span 10× more ticks (what one bucket per tick used to cost).
fn state_at_a_short_step(catalog: &Arc<Catalog>) {
    let settings = Settings {
        step: nodewatch::time::Duration::secs(3),
        ..Settings::default()
    };
    let mut engine = Engine::new(catalog.clone(), settings);
    for t in 0..130 {
        let evs = (0..200).map(|i| event(t * 1000 + i)).collect();
        engine.tick(observation(catalog, t, evs));
    }
    eprintln!(
        "state per (node, signal) at a 3 s step: {} bytes held, {} at most",
        engine.state_bytes_held_per_node_signal(),
        engine.state_bytes_per_node_signal(),
    );
}

fn bench_events(c: &mut Criterion) {
    let catalog = Catalog::builtin();
    let events: Vec<Event> = (0..100_000).map(event).collect();
    let mut g = c.benchmark_group("events");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.sample_size(20);
    g.bench_function("ingest_100k", |b| {
        b.iter_batched(
            || {
                (
                    EventIngest::new(&catalog),
                    NodeTable::default(),
                    Vec::with_capacity(100_000),
                )
            },
            |(mut ing, mut nodes, mut hits)| {
                for e in &events {
                    ing.ingest(e, Timestamp(0), &mut nodes, &mut hits);
                }
                black_box(hits.len())
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench_tick, bench_events);
criterion_main!(benches);
