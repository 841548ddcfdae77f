//! The NAB harness on the NAB subset beside the checkout (`../shared/nab`):
//! the null and perfect baselines come out at exactly 0 and 100 through the
//! same streaming and scoring path the detector takes, the `nab` binary
//! prints every profile per category and overall, and runs are
//! deterministic.

use nodewatch::nab::{self, harness::Streaming, Corpus, NabDetector, NabSettings};
use std::path::PathBuf;
use std::process::Command;

fn shared_nab() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/nab");
    assert!(
        p.join("data").is_dir(),
        "the NAB subset is expected at {}",
        p.display()
    );
    p
}

fn corpus() -> Corpus {
    let root = shared_nab();
    Corpus::load(
        &root.join("data"),
        &root.join("labels/combined_windows.json"),
    )
    .expect("load the NAB subset")
}

/// Never fires.
struct Null;

impl Streaming for Null {
    fn step(&mut self, _: i64, _: f64) -> bool {
        false
    }
}

/// Fires on the first row at or after each window's start: NAB's perfect
/// detector, fed row by row like any other.
struct Oracle {
    starts: Vec<i64>,
}

impl Streaming for Oracle {
    fn step(&mut self, at: i64, _: f64) -> bool {
        let before = self.starts.len();
        self.starts.retain(|&s| s > at);
        self.starts.len() < before
    }
}

fn assert_all(summary: &nab::Summary, expected: f64) {
    let groups = summary.categories.iter().chain([&summary.overall]);
    let mut checked = 0;
    for g in groups {
        for (k, norm) in g.normalised().iter().enumerate() {
            if let Some((d, null, perfect)) = norm {
                assert_eq!(*d, expected, "{} profile {k}", g.name);
                assert_eq!((*null, *perfect), (0.0, 100.0), "{} profile {k}", g.name);
                checked += 1;
            }
        }
    }
    assert!(checked >= 3, "at least the overall scores were checked");
}

#[test]
fn null_and_perfect_detectors_score_exactly_0_and_100() {
    let c = corpus();
    let null = nab::run(&c, || Null).unwrap();
    assert_all(&null, 0.0);
    assert_eq!(null.overall.tp, 0);
    assert_eq!(null.overall.fn_, null.overall.windows);

    // The oracle needs each file's windows; files are run in order.
    let mut files = c.files.iter();
    let perfect = nab::run(&c, || {
        let f = files.next().expect("one detector per file");
        let mut starts: Vec<i64> = c
            .labels
            .spans(&f.key)
            .unwrap_or_default()
            .iter()
            .map(|s| s.0)
            .collect();
        starts.sort_unstable();
        Oracle { starts }
    })
    .unwrap();
    assert_all(&perfect, 100.0);
    assert_eq!(perfect.overall.tp, perfect.overall.windows);
    assert_eq!(perfect.overall.fp, 0);
}

#[test]
fn nodewatch_scores_are_deterministic_and_above_null() {
    let c = corpus();
    let a = nab::run(&c, || NabDetector::new(NabSettings::default())).unwrap();
    let b = nab::run(&c, || NabDetector::new(NabSettings::default())).unwrap();
    assert_eq!(a.overall, b.overall);
    assert_eq!(a.overall.files, c.files.len());
    for (d, null, _) in a.overall.normalised().iter().flatten() {
        assert!(d > null, "better than never firing: {d}");
    }
}

#[test]
fn the_shipped_settings_pass_the_published_leaders_here() {
    // NAB's published per-file results normalised over this subset
    // (../shared/nab/README.md): Numenta HTM 75.1 / 68.4 / 78.8 and
    // ARTime 74.3 / 65.3 / 79.6 (standard / low FP / low FN).
    let s = nab::run(&corpus(), || NabDetector::new(NabSettings::default())).unwrap();
    let leaders = [("HTM", [75.1, 68.4, 78.8]), ("ARTime", [74.3, 65.3, 79.6])];
    for (k, score) in s.overall.normalised().iter().enumerate() {
        let (d, _, _) = score.expect("the subset has windows");
        for (name, theirs) in leaders {
            assert!(d > theirs[k], "profile {k}: {d:.1} vs {name} {}", theirs[k]);
        }
    }
}

#[test]
fn the_binary_prints_every_profile_per_category() {
    let root = shared_nab();
    let flags = std::env::temp_dir().join(format!("nab-flags-{}.csv", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_nab"))
        .arg("--data")
        .arg(root.join("data"))
        .arg("--labels")
        .arg(root.join("labels/combined_windows.json"))
        .arg("--flags")
        .arg(&flags)
        .output()
        .expect("run nab");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "standard",
        "reward_low_FP",
        "reward_low_FN",
        "realAWSCloudwatch",
        "realTraffic",
        "overall",
        "null",
        "perfect",
    ] {
        assert!(text.contains(want), "no {want:?} in\n{text}");
    }
    // The flagged rows: a header, then `file,row` lines naming real files.
    let csv = std::fs::read_to_string(&flags).expect("flags written");
    std::fs::remove_file(&flags).ok();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("file,row"));
    let rows: Vec<(&str, usize)> = lines
        .map(|l| {
            let (f, r) = l.rsplit_once(',').expect("file,row");
            (f, r.parse().expect("row number"))
        })
        .collect();
    assert!(!rows.is_empty());
    assert!(rows
        .iter()
        .all(|(f, _)| root.join("data").join(f).is_file()));
}

#[test]
fn any_subset_of_categories_works() {
    // One category copied into a fresh NAB layout; labels of the whole
    // corpus (other files' labels are ignored).
    let root = shared_nab();
    let dir = tempfile::tempdir().unwrap();
    let cat = dir.path().join("realTraffic");
    std::fs::create_dir(&cat).unwrap();
    for f in std::fs::read_dir(root.join("data/realTraffic")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, cat.join(f.file_name().unwrap())).unwrap();
    }
    let c = Corpus::load(dir.path(), &root.join("labels/combined_windows.json")).unwrap();
    let s = nab::run(&c, || NabDetector::new(NabSettings::default())).unwrap();
    assert_eq!(s.categories.len(), 1);
    assert_eq!(s.categories[0].name, "realTraffic");
    assert_eq!(s.overall.raw, s.categories[0].raw);
    assert!(Corpus::load(
        &dir.path().join("missing"),
        &root.join("labels/combined_windows.json")
    )
    .is_err());
}
