//! Runs a streaming detector over every labelled file of a NAB-layout
//! corpus, scores its flags and the null and perfect baselines' flags with
//! the same scorer, and normalises per category and overall: a group's
//! score is `100 · (S − S_null) / (S_perfect − S_null)` over the sums of
//! its files' raw scores, as NAB normalises.

use super::scorer::{normalise, probation, score_file, FileOutcome, PROFILES};
use super::{discover, read_series, DataFile, Labels, NabError, Window};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

/// A detector that sees one row at a time and says whether to flag it.
pub trait Streaming {
    /// Consumes the row at `at` (ms) with `value`; true flags it.
    fn step(&mut self, at: i64, value: f64) -> bool;
}

/// A labelled corpus: its files and windows.
#[derive(Clone, Debug)]
pub struct Corpus {
    /// Labelled files, sorted by key.
    pub files: Vec<DataFile>,
    /// The labels.
    pub labels: Labels,
    /// Files found without labels (skipped).
    pub unlabelled: Vec<String>,
}

impl Corpus {
    /// Finds the files under `data` and reads `labels`.
    pub fn load(data: &Path, labels: &Path) -> Result<Corpus, NabError> {
        let labels = Labels::load(labels)?;
        let (files, unlabelled): (Vec<DataFile>, Vec<DataFile>) = discover(data)?
            .into_iter()
            .partition(|f| labels.spans(&f.key).is_some());
        if files.is_empty() {
            return Err(NabError::Empty {
                path: data.to_path_buf(),
            });
        }
        Ok(Corpus {
            files,
            labels,
            unlabelled: unlabelled.into_iter().map(|f| f.key).collect(),
        })
    }

    /// The files (and their labels) of the categories for which `keep`
    /// holds, and nothing of the others: what a leave-one-category-out fold
    /// may look at.
    pub fn categories(&self, mut keep: impl FnMut(&str) -> bool) -> Corpus {
        let category = |key: &str| key.split_once('/').map_or(key, |(c, _)| c).to_string();
        let mut labels = self.labels.clone();
        labels.retain(|k| keep(&category(k)));
        Corpus {
            files: self
                .files
                .iter()
                .filter(|f| keep(&f.category))
                .cloned()
                .collect(),
            labels,
            unlabelled: self
                .unlabelled
                .iter()
                .filter(|k| keep(&category(k)))
                .cloned()
                .collect(),
        }
    }

    /// The category names, sorted.
    pub fn category_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.files.iter().map(|f| f.category.clone()).collect();
        names.dedup();
        names
    }
}

/// One file's result: per profile, the detector's, null's and perfect's.
#[derive(Clone, Debug)]
pub struct FileResult {
    /// `<category>/<file>.csv`.
    pub key: String,
    /// Category.
    pub category: String,
    /// Rows.
    pub rows: usize,
    /// Windows.
    pub windows: usize,
    /// Indices of the rows flagged by the detector (probation included).
    pub flagged: Vec<usize>,
    /// `[profile]` (detector, null, perfect).
    pub outcomes: [(FileOutcome, FileOutcome, FileOutcome); 3],
}

/// Scores of a group of files (a category, or all of them).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroupScore {
    /// Category name or `overall`.
    pub name: String,
    /// Files.
    pub files: usize,
    /// Windows.
    pub windows: usize,
    /// Windows detected, detections outside windows, windows missed.
    pub tp: usize,
    /// Scored false positives.
    pub fp: usize,
    /// Missed windows.
    pub fn_: usize,
    /// `[profile]` raw sums: detector, null, perfect.
    pub raw: [(f64, f64, f64); 3],
}

impl GroupScore {
    /// The group named `name` made of `files`.
    pub fn of<'a>(name: &str, files: impl IntoIterator<Item = &'a FileResult>) -> GroupScore {
        let mut g = GroupScore {
            name: name.to_string(),
            ..Default::default()
        };
        for f in files {
            g.add(f);
        }
        g
    }

    fn add(&mut self, f: &FileResult) {
        self.files += 1;
        self.windows += f.windows;
        let (d, _, _) = f.outcomes[0];
        self.tp += d.tp;
        self.fp += d.fp;
        self.fn_ += d.fn_;
        for (acc, (d, n, p)) in self.raw.iter_mut().zip(&f.outcomes) {
            acc.0 += d.score;
            acc.1 += n.score;
            acc.2 += p.score;
        }
    }

    /// Normalised `[profile]` scores of (detector, null, perfect); `None`
    /// for a group without windows.
    pub fn normalised(&self) -> [Option<(f64, f64, f64)>; 3] {
        self.raw.map(|(d, n, p)| {
            Some((
                normalise(d, n, p)?,
                normalise(n, n, p)?,
                normalise(p, n, p)?,
            ))
        })
    }
}

/// Everything a run produced.
#[derive(Clone, Debug)]
pub struct Summary {
    /// Per file.
    pub files: Vec<FileResult>,
    /// Per category, sorted by name.
    pub categories: Vec<GroupScore>,
    /// All files.
    pub overall: GroupScore,
    /// Files skipped for lack of labels.
    pub unlabelled: Vec<String>,
}

/// Streams every file of `corpus` through a fresh detector from `make`
/// and scores it.
pub fn run<D: Streaming>(
    corpus: &Corpus,
    mut make: impl FnMut() -> D,
) -> Result<Summary, NabError> {
    let mut files = Vec::with_capacity(corpus.files.len());
    for f in &corpus.files {
        let mut det = make();
        let (mut times, mut flags) = (Vec::new(), Vec::new());
        for row in read_series(&f.path)? {
            let row = row?;
            times.push(row.at);
            flags.push(det.step(row.at, row.value));
        }
        let windows: Vec<Window> = corpus.labels.windows(&f.key, &times).unwrap_or_default();
        let mut perfect = vec![false; flags.len()];
        for w in &windows {
            perfect[w.first] = true;
        }
        let null = vec![false; flags.len()];
        let prob = probation(flags.len());
        let outcomes = PROFILES.map(|p| {
            (
                score_file(&flags, &windows, prob, &p),
                score_file(&null, &windows, prob, &p),
                score_file(&perfect, &windows, prob, &p),
            )
        });
        files.push(FileResult {
            key: f.key.clone(),
            category: f.category.clone(),
            rows: flags.len(),
            windows: windows.len(),
            flagged: (0..flags.len()).filter(|&i| flags[i]).collect(),
            outcomes,
        });
    }
    let mut cats: BTreeMap<String, GroupScore> = BTreeMap::new();
    let mut overall = GroupScore {
        name: "overall".to_string(),
        ..Default::default()
    };
    for f in &files {
        let g = cats
            .entry(f.category.clone())
            .or_insert_with(|| GroupScore {
                name: f.category.clone(),
                ..Default::default()
            });
        g.add(f);
        overall.add(f);
    }
    Ok(Summary {
        files,
        categories: cats.into_values().collect(),
        overall,
        unlabelled: corpus.unlabelled.clone(),
    })
}

impl Summary {
    /// The score table: per category and overall, the detector beside the
    /// null and perfect baselines under each profile.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<24} {:>5} {:>7} {:>4} {:>4} {:>4}  {:<8} {:>8} {:>13} {:>13}",
            "group",
            "files",
            "windows",
            "TP",
            "FN",
            "FP",
            "detector",
            "standard",
            "reward_low_FP",
            "reward_low_FN"
        );
        for g in self.categories.iter().chain(std::iter::once(&self.overall)) {
            let norm = g.normalised();
            let cell = |k: usize, which: usize| match norm[k] {
                Some((d, n, p)) => format!("{:.1}", [d, n, p][which]),
                None => format!("n/a ({:+.2})", [g.raw[k].0, g.raw[k].1, g.raw[k].2][which]),
            };
            for (which, label) in ["nodewatch", "null", "perfect"].iter().enumerate() {
                let head = if which == 0 {
                    format!(
                        "{:<24} {:>5} {:>7} {:>4} {:>4} {:>4}",
                        g.name, g.files, g.windows, g.tp, g.fn_, g.fp
                    )
                } else {
                    format!(
                        "{:<24} {:>5} {:>7} {:>4} {:>4} {:>4}",
                        "", "", "", "", "", ""
                    )
                };
                let _ = writeln!(
                    s,
                    "{head}  {label:<8} {:>8} {:>13} {:>13}",
                    cell(0, which),
                    cell(1, which),
                    cell(2, which)
                );
            }
        }
        if !self.unlabelled.is_empty() {
            let _ = writeln!(s, "skipped (no labels): {}", self.unlabelled.join(", "));
        }
        s
    }

    /// One line per file: windows, detections, TP/FN/FP and the raw
    /// standard score beside null and perfect.
    pub fn per_file(&self) -> String {
        let mut s = String::new();
        for f in &self.files {
            let (d, n, p) = f.outcomes[0];
            let _ = writeln!(
                s,
                "{:<60} rows {:>5} windows {} flagged {:>3} TP {} FN {} FP {:>3} raw {:+.3} (null {:+.1}, perfect {:+.1})",
                f.key, f.rows, f.windows, f.flagged.len(), d.tp, d.fn_, d.fp, d.score, n.score, p.score
            );
        }
        s
    }
}
