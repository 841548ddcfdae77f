//! The Dockerfile is not built here (no Docker engine on the test
//! machines), so its structure is checked against what the manifests
//! assume: a multi-stage build, a small non-root runtime base, the UID the
//! Deployment runs as, the port it probes, `nodewatch run` as entrypoint,
//! and a `.dockerignore` allow-list that still holds every file the build
//! reads.

use nodewatch_testkit::deploy;

use deploy::{render, root};

/// Dockerfile instructions (continuations joined), with their stage index.
fn instructions() -> Vec<(usize, String, String)> {
    let text = std::fs::read_to_string(root().join("Dockerfile")).expect("Dockerfile");
    let mut out = Vec::new();
    let mut stage = 0;
    let mut pending = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if let Some(part) = t.strip_suffix('\\') {
            pending.push_str(part);
            pending.push(' ');
            continue;
        }
        pending.push_str(t);
        let full = std::mem::take(&mut pending);
        let (op, rest) = full.split_once(' ').unwrap_or((full.as_str(), ""));
        let op = op.to_ascii_uppercase();
        if op == "FROM" {
            stage += 1;
        }
        out.push((stage, op, rest.trim().to_string()));
    }
    out
}

#[test]
fn the_image_matches_the_manifests() {
    let ins = instructions();
    let last = ins.iter().map(|(s, _, _)| *s).max().expect("instructions");
    assert!(
        last >= 2,
        "multi-stage: the toolchain stays out of the image"
    );
    let in_last = |op: &str| -> Vec<String> {
        ins.iter()
            .filter(|(s, o, _)| *s == last && o == op)
            .map(|(_, _, r)| r.clone())
            .collect()
    };

    let base = in_last("FROM").pop().expect("FROM");
    assert!(
        base.starts_with("gcr.io/distroless/") || base.contains("-slim"),
        "a small runtime base: {base}"
    );
    let r = render("deploy/base");
    let spec = r
        .deployment()
        .spec
        .and_then(|s| s.template.spec)
        .expect("pod spec");
    let psc = spec.security_context.expect("securityContext");
    let user = in_last("USER").pop().expect("USER in the runtime stage");
    let (uid, gid) = user.split_once(':').expect("USER uid:gid");
    let uid: i64 = uid
        .parse()
        .expect("a numeric UID (the kubelet verifies runAsNonRoot on numbers)");
    assert!(uid > 0, "non-root");
    assert_eq!(
        Some(uid),
        psc.run_as_user,
        "the Deployment runs as the image's user"
    );
    assert_eq!(gid.parse::<i64>().ok(), psc.run_as_group);

    let expose = in_last("EXPOSE").pop().expect("EXPOSE");
    let port = r
        .container()
        .ports
        .unwrap_or_default()
        .into_iter()
        .find(|p| p.name.as_deref() == Some("http"))
        .expect("port");
    assert_eq!(expose, port.container_port.to_string());

    let entry: Vec<String> =
        serde_json::from_str(&in_last("ENTRYPOINT").pop().expect("ENTRYPOINT"))
            .expect("ENTRYPOINT in JSON form (signals reach nodewatch, no shell)");
    assert_eq!(entry.len(), 2, "{entry:?}");
    assert_eq!(
        entry[1], "run",
        "entrypoint `nodewatch run`: the Deployment's args are its flags"
    );
    let copy = in_last("COPY")
        .into_iter()
        .find(|c| c.starts_with("--from="))
        .expect("COPY --from the build stage");
    assert!(
        copy.ends_with(&format!(" {}", entry[0])),
        "the entrypoint is the copied binary: {copy}"
    );
    assert!(
        r.container().command.is_none(),
        "the Deployment keeps the image's entrypoint"
    );

    let build = ins
        .iter()
        .find(|(s, o, r)| *s < last && o == "RUN" && r.contains("cargo build"))
        .expect("cargo build in a build stage");
    for want in ["--release", "--locked", "--bin nodewatch"] {
        assert!(build.2.contains(want), "{want} in {}", build.2);
    }
    // The toolchain is at least the crate's rust-version.
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    let need = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .expect("rust-version")
        .trim_matches('"')
        .to_string();
    let arg = ins
        .iter()
        .find_map(|(_, o, r)| {
            (o == "ARG")
                .then(|| r.strip_prefix("RUST_VERSION="))
                .flatten()
        })
        .expect("ARG RUST_VERSION=");
    let v = |s: &str| {
        s.split('.')
            .map(|x| x.parse::<u32>().unwrap_or(0))
            .collect::<Vec<_>>()
    };
    assert!(v(arg) >= v(&need), "rust {arg} >= rust-version {need}");
}

/// Whether `.dockerignore` (this file's subset: `*` and `!path`) sends
/// `path` to the build.
fn sent(rules: &[String], path: &str) -> bool {
    let mut keep = true;
    for r in rules {
        let (neg, pat) = r
            .strip_prefix('!')
            .map_or((false, r.as_str()), |p| (true, p));
        let hit = match pat {
            "*" => true,
            p if p.ends_with('/') => path.starts_with(p),
            p => path == p || path.starts_with(&format!("{p}/")),
        };
        if hit {
            keep = neg;
        }
    }
    keep
}

#[test]
fn the_build_context_holds_what_the_build_reads() {
    let text = std::fs::read_to_string(root().join(".dockerignore")).expect(".dockerignore");
    let rules: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    for r in &rules {
        let p = r.trim_start_matches('!');
        assert!(
            p == "*" || !p.contains(['*', '?', '[']),
            "this test understands `*` and plain paths only: {r}"
        );
    }
    let mut needed = vec![
        "Cargo.toml".to_string(),
        "Cargo.lock".to_string(),
        "src/main.rs".to_string(),
        "src/lib.rs".to_string(),
    ];
    // Benches declared in Cargo.toml must exist for cargo to load it.
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    let mut in_bench = false;
    for l in manifest.lines() {
        if l.starts_with('[') {
            in_bench = l == "[[bench]]";
        } else if let (true, Some(n)) = (in_bench, l.strip_prefix("name = ")) {
            needed.push(format!("benches/{}.rs", n.trim_matches('"')));
        } else if let (true, Some(path)) = (in_bench, l.strip_prefix("path = ")) {
            // A bench in a folder names its main file (after its name).
            if let Some(last) = needed.last_mut() {
                *last = path.trim_matches('"').to_string();
            }
        }
        // Path dependencies (dev ones too): cargo reads their manifests
        // to resolve the lock file before it builds anything.
        if let (true, Some((_, rest))) = (l.contains('{'), l.split_once("path = \"")) {
            let dir = &rest[..rest.find('"').expect("closing quote")];
            needed.push(format!("{dir}/Cargo.toml"));
            needed.push(format!("{dir}/src/lib.rs"));
        }
    }
    // Files compiled into the binary: by this crate or a path dependency
    // (the core crate reads the rules).
    let mut stack = vec![root().join("src")];
    stack.extend(
        needed
            .iter()
            .filter_map(|n| n.strip_suffix("/src/lib.rs"))
            .map(|dir| root().join(dir).join("src")),
    );
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("src dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let code = std::fs::read_to_string(&p).unwrap_or_default();
            for (i, _) in code
                .match_indices("include_str!(\"")
                .chain(code.match_indices("include_bytes!(\""))
            {
                let rest = &code[i..];
                let start = rest.find('"').expect("quote") + 1;
                let rel = &rest[start..start + rest[start..].find('"').expect("closing quote")];
                let file = p
                    .parent()
                    .expect("dir")
                    .join(rel)
                    .canonicalize()
                    .unwrap_or_else(|e| panic!("{rel} from {}: {e}", p.display()));
                needed.push(
                    file.strip_prefix(root().canonicalize().expect("root"))
                        .expect("inside the repository")
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    assert!(
        needed.iter().any(|n| n.starts_with("rules/")),
        "the rules are compiled in: {needed:?}"
    );
    for n in &needed {
        assert!(root().join(n).exists(), "{n} exists");
        assert!(
            sent(&rules, n),
            ".dockerignore keeps {n} out of the build context"
        );
    }
    for big in [
        "target/debug/nodewatch",
        ".git/HEAD",
        "deploy/base/rbac.yaml",
    ] {
        assert!(!sent(&rules, big), "{big} stays out of the build context");
    }
}
