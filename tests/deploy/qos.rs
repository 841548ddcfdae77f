//! Guaranteed QoS, sized from the scale benchmark: every container of the
//! rendered pod has requests equal to limits for CPU and memory (so it is
//! the last to be evicted or OOM-killed on a node under pressure), and the
//! limits hold Kubernetes' maximum cluster by BENCHMARKS.md's numbers: the
//! query API's history bound from the rendered config, the scoring state
//! per (node, signal), and a tick that leaves the core mostly idle.

use nodewatch_testkit::deploy;

use deploy::{render, Rendered, KUSTOMIZATIONS};
use k8s_openapi::api::core::v1::{Container, PodSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use std::collections::BTreeMap;

fn pod_spec(r: &Rendered) -> PodSpec {
    r.deployment()
        .spec
        .and_then(|s| s.template.spec)
        .expect("pod spec")
}

/// A quantity in base units (bytes, cores); enough of the format for
/// what the manifests use.
fn amount(q: &Quantity) -> f64 {
    let s = q.0.as_str();
    let suffixes = [
        ("Ki", 1024f64),
        ("Mi", 1024f64.powi(2)),
        ("Gi", 1024f64.powi(3)),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
    ];
    for (suf, mult) in suffixes {
        if let Some(n) = s.strip_suffix(suf) {
            return n.parse::<f64>().unwrap_or_else(|_| panic!("quantity {s}")) * mult;
        }
    }
    s.parse().unwrap_or_else(|_| panic!("quantity {s}"))
}

/// The numbers followed by `unit` in the result cell of the
/// BENCHMARKS.md table row containing `what`, in order.
fn benchmark(what: &str, unit: &str) -> Vec<f64> {
    let text =
        std::fs::read_to_string(deploy::root().join("BENCHMARKS.md")).expect("BENCHMARKS.md");
    let line = text
        .lines()
        .find(|l| l.starts_with('|') && l.contains(what))
        .unwrap_or_else(|| panic!("BENCHMARKS.md has no table row with {what:?}: re-size deploy/ from the new numbers"));
    let result = line.split('|').nth(2).unwrap_or("");
    let words: Vec<&str> = result.split_whitespace().collect();
    let found: Vec<f64> = words
        .windows(2)
        .filter(|w| w[1].trim_end_matches([';', ',', ')']) == unit)
        .filter_map(|w| w[0].replace(',', "").parse().ok())
        .collect();
    assert!(
        !found.is_empty(),
        "BENCHMARKS.md row {line:?} has no result in {unit}"
    );
    found
}

fn limits(c: &Container) -> (BTreeMap<String, Quantity>, BTreeMap<String, Quantity>) {
    let res = c.resources.clone().unwrap_or_default();
    (
        res.requests.unwrap_or_default(),
        res.limits.unwrap_or_default(),
    )
}

#[test]
fn guaranteed_qos_sized_from_the_scale_benchmark() {
    // At Kubernetes' supported maximum (5,000 nodes, 150,000 pods), which
    // DESIGN.md asks nodewatch to hold: the agent's own resident memory
    // (engine state, watch caches, a young history), ...
    let rss = benchmark("agent RSS after ~3 more ticks", "MiB")[0];
    // ... plus the query API's history: its estimate (what
    // serve.history_max_bytes bounds) for 6 h, and the resident memory
    // that estimate really took.
    let hist = benchmark("history memory, 5,000 nodes", "MiB");
    let (hist_6h, hist_rss) = (hist[0], hist[1]);
    let rss_per_estimated = hist_rss / hist_6h;
    // A tick: scoring, and publishing into the history.
    let tick_ms = benchmark("one evaluation tick, 5,000 nodes", "ms")[0];
    let publish_ms = *benchmark("one publish into the history", "ms")
        .last()
        .expect("ms");
    let mib = 1024.0 * 1024.0;
    for dir in KUSTOMIZATIONS {
        let r = render(dir);
        let spec = pod_spec(&r);
        let all: Vec<&Container> = spec
            .containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
            .collect();
        for c in &all {
            let (req, lim) = limits(c);
            for res in ["cpu", "memory"] {
                let (q, l) = (req.get(res), lim.get(res));
                assert!(
                    q.is_some() && l.is_some(),
                    "{dir}: {} needs a {res} request and limit",
                    c.name
                );
                assert_eq!(
                    amount(q.unwrap()),
                    amount(l.unwrap()),
                    "{dir}: {} {res} request == limit (Guaranteed)",
                    c.name
                );
            }
        }
        let (_, lim) = limits(&r.container());
        let cfg = nodewatch_config(&r);
        let bound = cfg.serve.history_max_bytes as f64 / mib;
        let retention_h = cfg.serve.history_retention.0 as f64 / 3_600_000.0;
        assert!(
            hist_6h * retention_h / 6.0 <= bound,
            "{dir}: serve.history_max_bytes ({bound} MiB) cuts the {retention_h} h retention at 5,000 nodes"
        );
        // A quarter on top for query bursts (a 13 MB query_range body, a
        // 9.5 MB scrape) and allocator slack.
        let need = (rss + bound * rss_per_estimated) * 1.25;
        let mem = amount(&lim["memory"]) / mib;
        assert!(
            mem >= need,
            "{dir}: memory limit {mem} MiB below the benchmark's {rss} MiB + a full history ({bound} MiB estimated) + 25% = {need:.0} MiB"
        );
        assert!(
            mem <= 2.0 * need,
            "{dir}: memory {mem} MiB far above what the benchmark asks ({need:.0} MiB)"
        );
        // A tick must leave the CPU mostly idle at the configured step.
        let cpu = amount(&lim["cpu"]);
        let busy = (tick_ms + publish_ms) / cfg.engine.step.0 as f64 / cpu;
        assert!(
            busy < 0.1,
            "{dir}: a 5,000-node tick keeps {busy:.2} of the CPU limit busy"
        );
        assert!(cpu >= 1.0, "{dir}: one core, the envelope DESIGN.md sets");
    }
}

fn nodewatch_config(r: &Rendered) -> nodewatch::config::Config {
    let dir = tempfile::tempdir().expect("tempdir");
    let mounts = r.materialize(dir.path());
    let args = deploy::remap_args(&r.args(), &mounts, dir.path());
    let path = deploy::flag(&args, "--config").expect("--config");
    nodewatch::config::Config::load(std::path::Path::new(&path)).expect("config")
}
