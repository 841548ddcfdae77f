//! The core's purity, checked: the modules of the core (model, signals,
//! score, decide, engine) must not reach for a later stage (`act`, `live`,
//! `serve`, the pipeline) or for kube, HTTP or async-runtime crates. A
//! workspace crate would let the compiler enforce this; until then this test
//! reads their sources, so a stray `use` fails CI instead of slipping in.

use std::path::{Path, PathBuf};

/// The core's source folders, relative to `src/`.
const CORE: [&str; 5] = ["model", "signals", "score", "decide", "engine"];

/// Paths the core may not name: later stages and I/O crates.
const FORBIDDEN: [&str; 13] = [
    "crate::act",
    "crate::live",
    "crate::serve",
    "crate::pipeline",
    "crate::outbound",
    "crate::tools",
    "kube::",
    "k8s_openapi",
    "hyper",
    "reqwest",
    "axum",
    "tokio",
    "lettre",
];

/// What the core may take from `collect`: the observation it scores (plain
/// data), not the clients that produce it.
const COLLECT_ALLOWED: [&str; 2] = ["Observation", "SourceError"];

/// The problems on one line of source (comments are skipped).
fn problems(line: &str) -> Vec<String> {
    let code = line.trim_start();
    if code.starts_with("//") {
        return Vec::new();
    }
    let mut out: Vec<String> = FORBIDDEN
        .iter()
        .filter(|f| code.contains(*f))
        .map(|f| format!("names `{f}`"))
        .collect();
    if let Some(at) = code.find("crate::collect") {
        let rest = &code[at + "crate::collect".len()..];
        let names = rest
            .trim_start_matches("::")
            .trim_start_matches('{')
            .split(['}', ';', ' ', ','])
            .filter(|n| !n.is_empty());
        for n in names {
            if !COLLECT_ALLOWED.contains(&n) {
                out.push(format!("takes `{n}` from collect"));
                break;
            }
        }
    }
    out
}

/// Every `.rs` file under `dir` (the tree is ours and shallow).
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn the_core_imports_no_later_stage_and_no_io_crate() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for m in CORE {
        rust_files(&src.join(m), &mut files);
        let flat = src.join(format!("{m}.rs"));
        if flat.exists() {
            files.push(flat);
        }
    }
    assert!(files.len() > 10, "found the core's files: {files:?}");
    let mut found = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (i, line) in text.lines().enumerate() {
            if f.ends_with("model/purity.rs") {
                break;
            }
            for p in problems(line) {
                found.push(format!("{}:{}: {p}", f.display(), i + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "the core must stay pure:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_catches_what_it_should() {
    assert!(!problems("use crate::act::{CordonRequest, NodeFacts};").is_empty());
    assert!(!problems("use crate::live::agent::Agent;").is_empty());
    assert!(!problems("    let c = reqwest::Client::new();").is_empty());
    assert!(!problems("use crate::collect::prometheus::PromClient;").is_empty());
    assert!(!problems("use crate::collect::{Observation, MetricSource};").is_empty());
    assert!(problems("use crate::collect::{Observation, SourceError};").is_empty());
    assert!(problems("use crate::collect::Observation;").is_empty());
    assert!(problems("// unlike crate::act, this is pure").is_empty());
    assert!(problems("use crate::model::{CordonRequest, Notification};").is_empty());
}
