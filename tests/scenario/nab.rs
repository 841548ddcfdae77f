//! The NAB harness on the NAB subset beside the checkout (`../shared/nab`):
//! the null and perfect baselines come out at exactly 0 and 100 through the
//! same streaming and scoring path the detector takes, the `nab` binary
//! prints every profile per category and overall, and runs are
//! deterministic.

use nodewatch::tools::nab::{self, harness::Streaming, Corpus, NabDetector, NabSettings};
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

/// A small synthetic NAB layout: three categories of two files each, 600
/// five-minute rows of deterministic noise with a few spikes of different
/// heights, one labelled window per file around its tallest spike.
fn synthetic_corpus(dir: &std::path::Path) -> Corpus {
    let mut labels = serde_json::Map::new();
    for (c, cat) in ["catA", "catB", "catC"].iter().enumerate() {
        std::fs::create_dir(dir.join(cat)).unwrap();
        for f in 0..2usize {
            let mut csv = String::from("timestamp,value\n");
            let seed = (c * 2 + f) as u64 + 1;
            let anomaly = 300 + 40 * c + 25 * f;
            for i in 0..600usize {
                let noise = ((i as u64 * 7919 * seed + 13) % 97) as f64 / 97.0;
                let mut v = 10.0 + 2.0 * noise;
                if i == anomaly {
                    v += 30.0 + 10.0 * c as f64;
                }
                if i % (150 + 20 * c) == 75 {
                    v += 4.0 + 2.0 * f as f64; // routine bumps, unlabelled
                }
                let t = 1_400_000_000i64 + 300 * i as i64;
                let ts = jiff::Timestamp::from_second(t).unwrap();
                csv.push_str(&format!("{},{v}\n", ts.strftime("%Y-%m-%d %H:%M:%S")));
            }
            let name = format!("{cat}/f{f}.csv");
            std::fs::write(dir.join(&name), csv).unwrap();
            let at = |i: usize| {
                jiff::Timestamp::from_second(1_400_000_000 + 300 * i as i64)
                    .unwrap()
                    .strftime("%Y-%m-%d %H:%M:%S")
                    .to_string()
            };
            labels.insert(
                name,
                serde_json::json!([[at(anomaly - 10), at(anomaly + 10)]]),
            );
        }
    }
    let path = dir.join("labels.json");
    std::fs::write(&path, serde_json::Value::Object(labels).to_string()).unwrap();
    Corpus::load(dir, &path).unwrap()
}

fn small_grid() -> nab::loco::Grid {
    use nab::loco::{Grid, Knob};
    Grid {
        base: NabSettings::default(),
        axes: vec![
            (Knob::Z, vec![2.0, 6.0, 20.0]),
            (Knob::BaselineLen, vec![60.0, 200.0]),
        ],
    }
}

#[test]
fn a_loco_fold_never_sees_its_held_out_category() {
    use nab::loco::{best, loco, Evaluations};
    let dir = tempfile::tempdir().unwrap();
    let corpus = synthetic_corpus(dir.path());
    let grid = small_grid();
    let evals = Evaluations::run(&corpus, &grid).unwrap();
    assert_eq!(evals.categories(), ["catA", "catB", "catC"]);

    // The choice sees two categories each time, and each category is
    // missing from exactly one choice: the fold that holds it out.
    let mut seen: Vec<Vec<String>> = Vec::new();
    let l = loco(&evals, |train| {
        seen.push(train.categories());
        for files in &train.results {
            assert_eq!(files.len(), 4, "two files of each of two categories");
        }
        best(train, |_| true)
    })
    .unwrap();
    assert_eq!(seen.len(), 3);
    for (fold, saw) in l.folds.iter().zip(&seen) {
        assert!(!saw.contains(&fold.held_out), "{saw:?} {}", fold.held_out);
        assert_eq!(saw.len(), 2);
        assert_eq!(fold.test.name, fold.held_out);
        assert_eq!(fold.test.files, 2);
    }

    // The choice is the one made on a corpus where the held-out category
    // does not exist at all (files and labels gone).
    for fold in &l.folds {
        let train = corpus.categories(|c| c != fold.held_out);
        assert_eq!(train.labels.len(), 4, "held-out labels are gone too");
        assert!(train.files.iter().all(|f| f.category != fold.held_out));
        let alone = Evaluations::run(&train, &grid).unwrap();
        assert_eq!(
            best(&alone, |_| true),
            Some(fold.chosen),
            "{}",
            fold.held_out
        );
        assert_eq!(alone.group(fold.chosen, "train"), fold.train);
    }

    // Combined: every file once, normalised with the whole corpus's null
    // and perfect scores (the same as in-sample).
    assert_eq!(l.combined.files, 6);
    assert_eq!(l.combined.windows, 6);
    let all = evals.group(0, "all");
    for k in 0..3 {
        assert_eq!(l.combined.raw[k].1, all.raw[k].1, "null, profile {k}");
        assert_eq!(l.combined.raw[k].2, all.raw[k].2, "perfect, profile {k}");
        let folds: f64 = l.folds.iter().map(|f| f.test.raw[k].0).sum();
        assert!((l.combined.raw[k].0 - folds).abs() < 1e-9);
    }
}

#[test]
fn the_binary_reports_loco_first() {
    // On the small synthetic corpus: the shipped grid over the real
    // subset takes minutes in a debug build.
    let dir = tempfile::tempdir().unwrap();
    synthetic_corpus(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_nab"))
        .arg("--data")
        .arg(dir.path())
        .arg("--labels")
        .arg(dir.path().join("labels.json"))
        .arg("--loco")
        .output()
        .expect("run nab --loco");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let at = |want: &str| {
        text.find(want)
            .unwrap_or_else(|| panic!("no {want:?} in\n{text}"))
    };
    assert!(at("combined LOCO") < at("In-sample"));
    assert!(at("In-sample") < at("Sensitivity"));
    assert!(
        at("Sensitivity") < at("\nbaseline_len"),
        "the second knob's table"
    );
    for cat in ["catA", "catB", "catC"] {
        assert!(
            text.matches(cat).count() >= 2,
            "{cat} held out and in-sample"
        );
    }
}

#[test]
fn loco_on_the_subset_meets_the_issue_targets() {
    // Issue 16: LOCO standard ≥ 70 and low FP ≥ 62 on the four categories.
    // The shipped grid's neighbourhood of the chosen point (9 of its 25
    // points; the full grid takes too long in a debug build).
    use nab::loco::{best, loco, Evaluations, Grid, Knob};
    let grid = Grid {
        base: NabSettings::default(),
        axes: vec![
            (Knob::Z, vec![5.0, 6.0, 7.0]),
            (Knob::BaselineLen, vec![750.0, 1000.0, 1500.0]),
        ],
    };
    let evals = Evaluations::run(&corpus(), &grid).unwrap();
    let l = loco(&evals, |train| best(train, |_| true)).unwrap();
    assert_eq!(l.folds.len(), 4);
    let n = l.combined.normalised();
    let (standard, low_fp) = (n[0].unwrap().0, n[1].unwrap().0);
    assert!(standard >= 70.0, "LOCO standard {standard:.1}");
    assert!(low_fp >= 62.0, "LOCO low FP {low_fp:.1}");
}
