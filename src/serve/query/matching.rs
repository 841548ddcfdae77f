//! Operations between two instant vectors, matched by labels as in
//! Prometheus 2.42: `on`/`ignoring`, `group_left`/`group_right` (labels
//! copied from the "one" side), the set operators `and`/`or`/`unless`, and
//! Prometheus's errors when a match is not unique. Each series' matching
//! signature is computed once; only which series are present changes per
//! step.

use super::binary::apply;
use super::eval::{Evaluator, Series};
use super::{Labels, QueryError};
use crate::serve::history::FxMap;
use promql_parser::parser::{BinModifier, LabelModifier, VectorMatchCardinality};

/// The labels that decide which series match, from `on(...)`/`ignoring(...)`.
struct Signature {
    on: bool,
    /// Interned names; a name nobody interned is on no series, so skipping
    /// it changes no signature.
    names: Vec<u32>,
    metric_name: Option<u32>,
}

impl Signature {
    fn new(ev: &Evaluator, m: Option<&BinModifier>) -> Self {
        let (on, names) = match m.and_then(|m| m.matching.as_ref()) {
            Some(LabelModifier::Include(l)) => (true, &l.labels[..]),
            Some(LabelModifier::Exclude(l)) => (false, &l.labels[..]),
            None => (false, &[][..]),
        };
        Signature {
            on,
            names: names.iter().filter_map(|n| ev.names.get(ev.h, n)).collect(),
            metric_name: ev.name,
        }
    }

    /// The matching labels of `l`: the `on` labels, or all but the
    /// ignored ones and `__name__`.
    fn of(&self, l: &Labels) -> Labels {
        l.iter()
            .filter(|(k, _)| {
                if self.on {
                    self.names.contains(k)
                } else {
                    !self.names.contains(k) && Some(*k) != self.metric_name
                }
            })
            .copied()
            .collect()
    }
}

/// `and`, `or` and `unless` between two vectors.
pub(super) fn set_op(
    ev: &Evaluator,
    op: &str,
    lhs: Vec<Series>,
    rhs: Vec<Series>,
    m: Option<&BinModifier>,
) -> Result<Vec<Series>, QueryError> {
    let sig = Signature::new(ev, m);
    let lsig: Vec<Labels> = lhs.iter().map(|s| sig.of(&s.labels)).collect();
    let rsig: Vec<Labels> = rhs.iter().map(|s| sig.of(&s.labels)).collect();
    let steps = ev.steps.len();
    // Per step, the signatures present on the side that filters the other.
    let present = |side: &[Series], sigs: &[Labels], i: usize| -> FxMap<Labels, ()> {
        side.iter()
            .zip(sigs)
            .filter(|(s, _)| s.points[i].is_some())
            .map(|(_, g)| (g.clone(), ()))
            .collect()
    };
    let mut out = Vec::new();
    match op {
        "and" | "unless" => {
            let keep_matched = op == "and";
            let mut lhs = lhs;
            for i in 0..steps {
                let other = present(&rhs, &rsig, i);
                for (s, g) in lhs.iter_mut().zip(&lsig) {
                    if other.contains_key(g) != keep_matched {
                        s.points[i] = None;
                    }
                }
            }
            out.extend(lhs);
        }
        _ => {
            let mut rhs = rhs;
            for i in 0..steps {
                let other = present(&lhs, &lsig, i);
                for (s, g) in rhs.iter_mut().zip(&rsig) {
                    if other.contains_key(g) {
                        s.points[i] = None;
                    }
                }
            }
            out.extend(lhs);
            out.extend(rhs);
        }
    }
    merge(out, steps)
}

/// An arithmetic or comparison operator between two vectors.
pub(super) fn vector_op(
    ev: &Evaluator,
    op: &str,
    lhs: Vec<Series>,
    rhs: Vec<Series>,
    m: Option<&BinModifier>,
) -> Result<Vec<Series>, QueryError> {
    let comparison = matches!(op, "==" | "!=" | ">" | "<" | ">=" | "<=");
    let want_bool = m.is_some_and(|m| m.return_bool);
    let card = m
        .map(|m| &m.card)
        .unwrap_or(&VectorMatchCardinality::OneToOne);
    let (include, swapped, one_to_one) = match card {
        VectorMatchCardinality::ManyToOne(l) => (&l.labels[..], false, false),
        VectorMatchCardinality::OneToMany(l) => (&l.labels[..], true, false),
        _ => (&[][..], false, true),
    };
    let include: Vec<u32> = include
        .iter()
        .filter_map(|n| ev.names.get(ev.h, n))
        .collect();
    // The "many" side is walked; the "one" side must be unique per signature.
    let (many, one) = if swapped { (rhs, lhs) } else { (lhs, rhs) };
    let sig = Signature::new(ev, m);
    let msig: Vec<Labels> = many.iter().map(|s| sig.of(&s.labels)).collect();
    let osig: Vec<Labels> = one.iter().map(|s| sig.of(&s.labels)).collect();
    let steps = ev.steps.len();
    let mut result: FxMap<Labels, Vec<Option<f64>>> = FxMap::default();
    let mut order: Vec<Labels> = Vec::new();
    for i in 0..steps {
        if !many.iter().any(|s| s.points[i].is_some()) {
            continue;
        }
        let mut by_sig: FxMap<&Labels, usize> = FxMap::default();
        for (j, (s, g)) in one.iter().zip(&osig).enumerate() {
            if s.points[i].is_none() {
                continue;
            }
            if let Some(prev) = by_sig.insert(g, j) {
                return Err(QueryError::Execution(format!(
                    "found duplicate series for the match group {} on the {} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                    labels_text(ev, g),
                    if swapped { "left" } else { "right" },
                    labels_text(ev, &s.labels),
                    labels_text(ev, &one[prev].labels),
                )));
            }
        }
        if by_sig.is_empty() {
            continue;
        }
        let mut matched: FxMap<&Labels, Vec<Labels>> = FxMap::default();
        for (s, g) in many.iter().zip(&msig) {
            let (Some(v), Some(&j)) = (s.points[i], by_sig.get(g)) else {
                continue;
            };
            let Some(w) = one[j].points[i] else { continue };
            let (l, r) = if swapped { (w, v) } else { (v, w) };
            let (mut value, keep) = apply(op, l, r);
            if want_bool {
                value = f64::from(u8::from(keep));
            } else if !keep {
                continue;
            }
            let mut labels = s.labels.clone();
            // Prometheus 2.42 keeps the name for comparisons and atan2.
            if !(comparison || op == "atan2") || want_bool {
                ev.drop_name(&mut labels);
            }
            if one_to_one {
                labels.retain(|(k, _)| sig.names.contains(k) == sig.on);
            }
            for n in &include {
                labels.retain(|(k, _)| k != n);
                if let Some(p) = one[j].labels.iter().find(|(k, _)| k == n) {
                    labels.push(*p);
                }
            }
            if !include.is_empty() {
                labels.sort_by(|a, b| ev.resolve(a.0).cmp(ev.resolve(b.0)));
            }
            let seen = matched.entry(g).or_default();
            if one_to_one && !seen.is_empty() {
                return Err(QueryError::Execution(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
                ));
            }
            if !one_to_one && seen.contains(&labels) {
                return Err(QueryError::Execution(
                    "multiple matches for labels: grouping labels must ensure unique matches"
                        .into(),
                ));
            }
            seen.push(labels.clone());
            let points = result.entry(labels).or_insert_with_key(|k| {
                order.push(k.clone());
                vec![None; steps]
            });
            if points[i].replace(value).is_some() {
                return Err(same_labelset());
            }
        }
    }
    Ok(order
        .into_iter()
        .filter_map(|labels| {
            let points = result.remove(&labels)?;
            Some(Series { labels, points })
        })
        .collect())
}

/// A label set as Prometheus prints it in errors: `{a="b", c="d"}`.
fn labels_text(ev: &Evaluator, l: &Labels) -> String {
    let pairs: Vec<String> = l
        .iter()
        .map(|(k, v)| format!("{}={:?}", ev.resolve(*k), ev.resolve(*v)))
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

fn same_labelset() -> QueryError {
    QueryError::Execution("vector cannot contain metrics with the same labelset".into())
}

/// Joins series with equal labels into one, failing as Prometheus does if
/// two of them have a value at the same step; drops series with no value.
pub(super) fn merge(series: Vec<Series>, steps: usize) -> Result<Vec<Series>, QueryError> {
    let mut at: FxMap<Labels, usize> = FxMap::default();
    let mut out: Vec<Series> = Vec::with_capacity(series.len());
    for s in series {
        if s.points.iter().all(Option::is_none) {
            continue;
        }
        match at.get(&s.labels) {
            Some(&k) => {
                for i in 0..steps {
                    if let Some(v) = s.points[i] {
                        if out[k].points[i].replace(v).is_some() {
                            return Err(same_labelset());
                        }
                    }
                }
            }
            None => {
                at.insert(s.labels.clone(), out.len());
                out.push(s);
            }
        }
    }
    Ok(out)
}
