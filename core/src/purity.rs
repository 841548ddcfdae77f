//! The core's purity, kept by the compiler: this crate cannot name the
//! actors, the live agent or the servers (they are in the `nodewatch` crate,
//! which depends on this one, never the reverse), and it can only use the
//! crates its manifest lists. This test guards that list, so adding a kube,
//! HTTP or async-runtime crate to the core fails CI instead of slipping in.

/// The crates the core may depend on: data formats, numbers, errors, time.
const ALLOWED: [&str; 7] = [
    "jiff",
    "regex",
    "serde",
    "serde_json",
    "serde_yaml",
    "statrs",
    "thiserror",
];

/// The `[dependencies]` names of a Cargo manifest (dev-dependencies are
/// test-only and not part of what the core builds with).
fn dependencies(manifest: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == "[dependencies]";
        } else if inside && !line.is_empty() && !line.starts_with('#') {
            if let Some((name, _)) = line.split_once('=') {
                out.push(name.trim().to_string());
            }
        }
    }
    out
}

#[test]
fn the_core_depends_on_no_kube_http_or_runtime_crate() {
    let manifest = include_str!("../Cargo.toml");
    let deps = dependencies(manifest);
    assert!(deps.contains(&"serde".to_string()), "parsed: {deps:?}");
    let stray: Vec<&String> = deps
        .iter()
        .filter(|d| !ALLOWED.contains(&d.as_str()))
        .collect();
    assert!(
        stray.is_empty(),
        "the core must stay pure (no kube, HTTP, async runtime, I/O client): {stray:?}"
    );
}

#[test]
fn the_manifest_reader_sees_a_forbidden_crate() {
    let bad = "[package]\nname = \"x\"\n[dependencies]\nserde = \"1\"\nkube = { version = \"5\" }\n[dev-dependencies]\ntempfile = \"3\"\n";
    assert_eq!(dependencies(bad), ["serde", "kube"]);
}
