//! Leave-one-category-out (LOCO): the honest score of settings chosen on
//! data. For each category, the settings are chosen from a small grid
//! using only the other categories' files and labels, then the held-out
//! category is scored with them; rotating gives every file a score from
//! settings that never saw it.
//!
//! The detector keeps no state across files, so every grid point is run
//! once over the whole corpus ([`Evaluations::run`]) and each fold's
//! choice is made on a view holding only its training files
//! ([`Evaluations::without`]) — the held-out files' results are not in it.
//!
//! The combined LOCO score adds up the held-out folds' raw scores (every
//! file scored once, with its fold's settings) and normalises them with
//! the null and perfect scores of the whole corpus, exactly as the
//! in-sample score is normalised: NAB normalises per profile over the
//! corpus, not per category.

use super::harness::{FileResult, GroupScore, Summary};
use super::{run, Corpus, NabDetector, NabError, NabSettings};

/// A setting the grid varies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Knob {
    /// The `z` of the first signal; every other signal's `z` keeps its
    /// ratio to it (the daily change stays twice as demanding).
    Z,
    /// Values in each signal's baseline.
    BaselineLen,
    /// Which of the base settings' signals are used, as a bit mask (bit
    /// `i`: signal `i`): for checking the design choices, not just numbers.
    Signals,
}

impl Knob {
    /// The setting's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Knob::Z => "z",
            Knob::BaselineLen => "baseline_len",
            Knob::Signals => "signals",
        }
    }

    fn apply(self, s: &mut NabSettings, v: f64) {
        match self {
            Knob::Z => {
                let first = s.signals.first().map_or(1.0, |g| g.detect.z);
                for g in &mut s.signals {
                    g.detect.z *= v / first;
                }
            }
            Knob::BaselineLen => s.baseline_len = v as usize,
            Knob::Signals => {
                let mask = v as u64;
                let mut i = 0;
                s.signals.retain(|_| {
                    i += 1;
                    mask & (1 << (i - 1)) != 0
                });
            }
        }
    }
}

/// The settings a fold chooses among: the base settings with each knob set
/// to one of its values (every combination).
#[derive(Clone, Debug)]
pub struct Grid {
    /// Everything the grid does not vary.
    pub base: NabSettings,
    /// The knobs and their candidate values.
    pub axes: Vec<(Knob, Vec<f64>)>,
}

impl Grid {
    /// The grid `nab --loco` searches: `z` ∈ {4, 5, 6, 7, 8} (the daily
    /// change at twice that) × baseline ∈ {500, 750, 1,000, 1,500, 2,000}
    /// values — the two settings the in-sample table showed to matter
    /// most; 25 points.
    pub fn shipped(base: NabSettings) -> Grid {
        Grid {
            base,
            axes: vec![
                (Knob::Z, vec![4.0, 5.0, 6.0, 7.0, 8.0]),
                (
                    Knob::BaselineLen,
                    vec![500.0, 750.0, 1000.0, 1500.0, 2000.0],
                ),
            ],
        }
    }

    /// The shipped grid plus a [`Knob::Signals`] axis choosing among the
    /// value alone, the value with each of the other two signals, and all
    /// three: 100 points. Whether every fold still picks the full design.
    pub fn with_signals(base: NabSettings) -> Grid {
        let mut g = Grid::shipped(base);
        g.axes.insert(0, (Knob::Signals, vec![1.0, 3.0, 5.0, 7.0]));
        g
    }

    /// Every combination of the axes' values, the last axis varying
    /// fastest.
    pub fn points(&self) -> Vec<Vec<f64>> {
        let mut out = vec![Vec::new()];
        for (_, values) in &self.axes {
            out = out
                .into_iter()
                .flat_map(|p| {
                    values.iter().map(move |&v| {
                        let mut p = p.clone();
                        p.push(v);
                        p
                    })
                })
                .collect();
        }
        out
    }

    /// The settings at `point` (one value per axis).
    pub fn settings(&self, point: &[f64]) -> NabSettings {
        let mut s = self.base.clone();
        for ((knob, _), &v) in self.axes.iter().zip(point) {
            knob.apply(&mut s, v);
        }
        s
    }

    /// `z=5 baseline_len=1000`.
    pub fn describe(&self, point: &[f64]) -> String {
        let parts: Vec<String> = self
            .axes
            .iter()
            .zip(point)
            .map(|((k, _), v)| format!("{}={v}", k.name()))
            .collect();
        parts.join(" ")
    }
}

/// Every grid point's per-file results on a set of files.
#[derive(Clone, Debug)]
pub struct Evaluations {
    /// The grid points, in [`Grid::points`] order.
    pub points: Vec<Vec<f64>>,
    /// Per point, the results of the files in view.
    pub results: Vec<Vec<FileResult>>,
}

impl Evaluations {
    /// Runs every point of `grid` over `corpus`.
    pub fn run(corpus: &Corpus, grid: &Grid) -> Result<Evaluations, NabError> {
        let points = grid.points();
        let mut results = Vec::with_capacity(points.len());
        for p in &points {
            let s = grid.settings(p);
            results.push(run(corpus, || NabDetector::new(s.clone()))?.files);
        }
        Ok(Evaluations { points, results })
    }

    /// The same evaluations without the files of category `held_out`: all
    /// a fold's choice may look at.
    pub fn without(&self, held_out: &str) -> Evaluations {
        Evaluations {
            points: self.points.clone(),
            results: self
                .results
                .iter()
                .map(|files| {
                    files
                        .iter()
                        .filter(|f| f.category != held_out)
                        .cloned()
                        .collect()
                })
                .collect(),
        }
    }

    /// Categories in view, sorted.
    pub fn categories(&self) -> Vec<String> {
        let mut c: Vec<String> = self
            .results
            .first()
            .map(|fs| fs.iter().map(|f| f.category.clone()).collect())
            .unwrap_or_default();
        c.sort();
        c.dedup();
        c
    }

    /// Point `i`'s score over the files in view.
    pub fn group(&self, i: usize, name: &str) -> GroupScore {
        GroupScore::of(name, &self.results[i])
    }
}

/// What settings are chosen by: the mean of the three profiles'
/// normalised scores over the files in view (a group without windows has
/// none: −∞).
pub fn objective(g: &GroupScore) -> f64 {
    let n: Vec<f64> = g.normalised().iter().flatten().map(|s| s.0).collect();
    if n.is_empty() {
        f64::NEG_INFINITY
    } else {
        n.iter().sum::<f64>() / n.len() as f64
    }
}

/// The default choice: the point with the best [`objective`] among
/// `allowed` (the first on a tie, in grid order).
pub fn best(evals: &Evaluations, allowed: impl Fn(&[f64]) -> bool) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, p) in evals.points.iter().enumerate() {
        if !allowed(p) {
            continue;
        }
        let o = objective(&evals.group(i, "train"));
        if best.is_none_or(|(_, b)| o > b) {
            best = Some((i, o));
        }
    }
    best.map(|(i, _)| i)
}

/// One fold: the held-out category, the point chosen without it, and its
/// score on the training categories and on the held-out one.
#[derive(Clone, Debug)]
pub struct Fold {
    /// The held-out category.
    pub held_out: String,
    /// Index of the chosen point.
    pub chosen: usize,
    /// The chosen point's score on the training files.
    pub train: GroupScore,
    /// The chosen point's score on the held-out files.
    pub test: GroupScore,
}

/// A whole LOCO run.
#[derive(Clone, Debug)]
pub struct Loco {
    /// One per category, sorted by name.
    pub folds: Vec<Fold>,
    /// Every held-out file with its fold's settings, normalised over the
    /// whole corpus.
    pub combined: GroupScore,
}

/// Runs LOCO over `evals` (all categories): `choose` gets each fold's
/// training view and returns the index of a point.
pub fn loco(
    evals: &Evaluations,
    mut choose: impl FnMut(&Evaluations) -> Option<usize>,
) -> Option<Loco> {
    let mut folds = Vec::new();
    let mut held: Vec<FileResult> = Vec::new();
    for cat in evals.categories() {
        let train = evals.without(&cat);
        let chosen = choose(&train)?;
        let test: Vec<FileResult> = evals.results[chosen]
            .iter()
            .filter(|f| f.category == cat)
            .cloned()
            .collect();
        folds.push(Fold {
            train: train.group(chosen, "train"),
            test: GroupScore::of(&cat, &test),
            held_out: cat,
            chosen,
        });
        held.extend(test);
    }
    Some(Loco {
        folds,
        combined: GroupScore::of("LOCO", &held),
    })
}

/// The in-sample summary of point `i` (all files in view).
pub fn summary(evals: &Evaluations, i: usize) -> Summary {
    let files = evals.results[i].clone();
    let mut categories: Vec<GroupScore> = evals
        .categories()
        .iter()
        .map(|c| GroupScore::of(c, files.iter().filter(|f| &f.category == c)))
        .collect();
    categories.sort_by(|a, b| a.name.cmp(&b.name));
    Summary {
        overall: GroupScore::of("overall", &files),
        files,
        categories,
        unlabelled: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_points_and_settings() {
        let g = Grid::shipped(NabSettings::default());
        let points = g.points();
        assert_eq!(points.len(), 25);
        assert_eq!(points[0], [4.0, 500.0]);
        assert_eq!(points[1], [4.0, 750.0], "the last axis varies fastest");
        let s = g.settings(&[4.0, 750.0]);
        assert_eq!(s.baseline_len, 750);
        let z: Vec<f64> = s.signals.iter().map(|x| x.detect.z).collect();
        assert_eq!(
            z,
            [4.0, 4.0, 8.0],
            "the daily change stays twice as demanding"
        );
        assert_eq!(g.describe(&[4.0, 750.0]), "z=4 baseline_len=750");
        assert_eq!(g.settings(&[5.0, 1000.0]), NabSettings::default());
        let g = Grid::with_signals(NabSettings::default());
        assert_eq!(g.points().len(), 100);
        let names: Vec<String> = g
            .settings(&[5.0, 6.0, 1000.0])
            .signals
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, ["value", "daily_change"]);
        assert_eq!(g.settings(&[7.0, 5.0, 1000.0]), NabSettings::default());
    }
}
