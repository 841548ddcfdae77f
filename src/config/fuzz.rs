//! A bounded, seeded fuzz run over the parsers of nodewatch's input files
//! (rule files, the config file, `scenario.yaml`, `metrics.om`,
//! `events.jsonl` lines) and the line locator: mutated
//! and spliced real documents plus YAML-significant garbage. Each input
//! must come back as a value or an error — never a panic — and the slowest
//! input is reported (no timing assertion: the bound is structural, the
//! size and depth checks of [`super::yaml`]). `NODEWATCH_FUZZ_ITERS` runs
//! longer than the default.

use super::{yaml, Config};
use crate::catalog::Catalog;
use crate::scenario::rng::Rng;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Inputs per run by default (each goes through every parser).
const DEFAULT_ITERS: usize = 1500;

/// Fragments that mean something to YAML or to nodewatch's checks.
const TOKENS: &[&str] = &[
    "[",
    "]",
    "{",
    "}",
    "- ",
    ": ",
    ", ",
    "'",
    "\"",
    "#",
    "\n",
    "\n  ",
    "\n    - ",
    "&a ",
    "*a",
    "!!binary ",
    "!!map ",
    "? ",
    "|\n",
    ">-\n",
    "---\n",
    "...\n",
    ".nan",
    ".inf",
    "-.inf",
    "1e999",
    "-0",
    "99999999999999999999",
    "0x1F",
    "~",
    "null",
    "{{ nope }}",
    "{{",
    "}}",
    "{{ subject }}",
    "bad-label",
    "__name__",
    "up{",
    "0s",
    "-5m",
    "9999-12-30T00:00:00Z",
    "\u{0}",
    "\u{feff}",
    "é",
    "\t",
    "<<: *a\n",
    "\\",
    "%YAML 1.2\n",
];

/// The seed corpus: real documents of each kind.
fn corpus() -> Vec<String> {
    let mut c: Vec<String> = crate::catalog::BUILTIN
        .iter()
        .map(|(_, t)| t.to_string())
        .collect();
    // Read at test time, not included: the container build context (and
    // tests/deploy/image.rs) holds only what the binary compiles in.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for f in [
        "deploy/base/config.yaml",
        "deploy/components/notifications/config.yaml",
    ] {
        c.push(std::fs::read_to_string(root.join(f)).expect("shipped config"));
    }
    c.push(
        "name: x\nstart: 2024-01-01T00:00:00Z\nend: 2024-01-01T01:00:00Z\nstep: 30s\n\
         truth:\n  faulty_nodes:\n    - {node: a, from: 2024-01-01T00:10:00Z, to: 2024-01-01T00:20:00Z}\n"
            .into(),
    );
    c.push(
        "# TYPE up gauge\nup{node=\"a\",x=\"\\\"\\n\"} 1 1700000000\nup{node=\"a\"} NaN 1700000030.5\n\
         # TYPE c counter\nc_total{a=\"b\"} 1e3 1700000000\nc_created{a=\"b\"} 1 1700000000\n# EOF\n"
            .into(),
    );
    c.push("{\"kind\": \"Event\", \"reason\": \"X\", \"count\": 2, \"involvedObject\": {\"kind\": \"Pod\"}}\n".into());
    // An alias bomb: each level doubles the one below.
    let mut bomb = String::from("a0: &a0 [x, x]\n");
    for i in 1..20 {
        bomb.push_str(&format!("a{i}: &a{i} [*a{}, *a{}]\n", i - 1, i - 1));
    }
    c.push(bomb);
    c
}

/// One mutant of a corpus document: `tokens` inserted (sometimes
/// thousands of times), spans deleted or duplicated, bytes changed, pieces
/// of other documents spliced in, lines re-indented.
pub(crate) fn mutate(rng: &mut Rng, corpus: &[String], tokens: &[&str]) -> String {
    let base = rng.pick(corpus).cloned().unwrap_or_default();
    let mut s: Vec<char> = base.chars().collect();
    for _ in 0..rng.range(1, 8) {
        let at = rng.range(0, s.len() as i64 + 1) as usize;
        match rng.range(0, 6) {
            0 => {
                let t = rng.pick(tokens).copied().unwrap_or("");
                let times = if rng.chance(0.1) {
                    rng.range(1, 3000)
                } else {
                    1
                };
                let ins: Vec<char> = t.repeat(times as usize).chars().collect();
                s.splice(at..at, ins);
            }
            1 => {
                let end = (at + rng.range(0, 200) as usize).min(s.len());
                s.drain(at..end);
            }
            2 => {
                let end = (at + rng.range(0, 300) as usize).min(s.len());
                let dup: Vec<char> = s[at..end].to_vec();
                s.splice(at..at, dup);
            }
            3 => {
                if at < s.len() {
                    s[at] = char::from(rng.range(0, 128) as u8);
                }
            }
            4 => {
                // Splice in a piece of another document.
                let other: Vec<char> = rng.pick(corpus).map_or(vec![], |o| o.chars().collect());
                let from = rng.range(0, other.len() as i64) as usize;
                let to = (from + rng.range(0, 400) as usize).min(other.len());
                s.splice(at..at, other[from..to].iter().copied());
            }
            _ => {
                // Re-indent a line: the shapes block YAML depends on.
                let ins: Vec<char> = " ".repeat(rng.range(0, 12) as usize).chars().collect();
                s.splice(at..at, ins);
            }
        }
    }
    s.into_iter().collect()
}

/// Every parser and checker on one input.
fn exercise(text: &str, rng: &mut Rng) {
    let file = PathBuf::from("fuzz.yaml");
    let _ = Catalog::from_sources(vec![(file.clone(), text.to_string())]);
    if let Ok(cfg) = Config::parse(text, Path::new("fuzz.yaml")) {
        let _ = cfg.validate();
    }
    let _ = yaml::from_str::<crate::scenario::Meta>(text);
    let _ = crate::scenario::openmetrics::parse(text, Path::new("fuzz.om"));
    for line in text.lines() {
        let _ = serde_json::from_str::<crate::k8s::Event>(line);
    }
    let paths = [
        "rules[0].labels.x",
        "signals[1].metric.by",
        "kubernetes.lease.duration",
        "sinks.webhooks[0].headers.Host",
        "a.[3].",
        "",
    ];
    let _ = yaml::line_of(text, rng.pick(&paths).copied().unwrap_or(""));
}

#[test]
fn mutated_documents_never_panic() {
    let iters = std::env::var("NODEWATCH_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_ITERS);
    let corpus = corpus();
    let mut rng = Rng::new(0x6e77_6675_7a7a);
    let (mut slowest, mut bytes) = (Duration::ZERO, 0usize);
    let started = Instant::now();
    for i in 0..iters {
        let text = mutate(&mut rng, &corpus, TOKENS);
        bytes += text.len();
        let t = Instant::now();
        let r =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| exercise(&text, &mut rng)));
        slowest = slowest.max(t.elapsed());
        assert!(r.is_ok(), "input {i} panicked: {text:?}");
    }
    eprintln!(
        "fuzz: corpus {} documents, {iters} inputs ({bytes} bytes) in {:.1?}, slowest {slowest:.1?}",
        corpus.len(),
        started.elapsed()
    );
}
