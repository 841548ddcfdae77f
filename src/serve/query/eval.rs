//! The evaluator: walks the parsed expression once for all steps of a query
//! (an instant query is a range query of one step), so selecting series and
//! resolving matchers happens once, not once per step.

use super::modifiers::duration_ms;
pub(super) use super::names::{check_unique, cmp_labels};
use super::select::Selector;
use super::{
    aggregate, binary, functions, guard, Budget, Data, Labels, Names, Output, QueryError,
    LOOKBACK_MS,
};
use crate::serve::history::History;
use promql_parser::parser::{Expr, VectorSelector};

/// One series of an instant vector, with a value (or none) per step.
#[derive(Clone, Debug)]
pub(super) struct Series {
    pub labels: Labels,
    pub points: Vec<Option<f64>>,
}

/// A range selector resolved for every step: the matching series, each
/// step's window as a range of global ticks, and each window's end (ms,
/// after `@` and `offset`).
pub(super) type Windows = (Vec<u32>, Vec<std::ops::Range<u64>>, Vec<i64>);

/// A value of the expression tree.
pub(super) enum Value {
    /// One number per step.
    Scalar(Vec<f64>),
    /// Series with a value per step.
    Vector(Vec<Series>),
}

/// Evaluation state for one query.
pub(super) struct Evaluator<'a> {
    pub h: &'a History,
    pub steps: Vec<i64>,
    /// Interned `__name__`, if any series has one.
    pub name: Option<u32>,
    samples: usize,
    budget: Budget,
    /// Current depth of [`Self::eval`] calls.
    depth: usize,
    /// The query's `end` (ms), which `@ end()` reads (a range query's last
    /// step may fall before it).
    pub(super) end: i64,
    /// The query's `start` (ms), which `@ start()` reads.
    pub(super) start: i64,
    /// Label strings this query made up.
    pub(super) names: Names,
}

impl<'a> Evaluator<'a> {
    pub(super) fn new(h: &'a History, steps: Vec<i64>, budget: Budget) -> Self {
        Evaluator {
            h,
            name: h.strings.get("__name__"),
            samples: 0,
            budget,
            depth: 0,
            end: steps.last().copied().unwrap_or(0),
            start: steps.first().copied().unwrap_or(0),
            steps,
            names: Names::default(),
        }
    }

    /// An evaluator of a subquery's inner steps: same history, budget
    /// (samples counted so far included), depth, query bounds and made-up
    /// strings (lent until [`Self::absorb`]).
    pub(super) fn nested(&mut self, steps: Vec<i64>) -> Evaluator<'a> {
        Evaluator {
            h: self.h,
            steps,
            name: self.name,
            samples: self.samples,
            budget: self.budget,
            depth: self.depth,
            end: self.end,
            start: self.start,
            names: std::mem::take(&mut self.names),
        }
    }

    /// Takes over the samples a [`Self::nested`] evaluator counted and the
    /// strings it made up.
    pub(super) fn absorb(&mut self, sub: Evaluator) {
        self.samples = self.samples.max(sub.samples);
        self.names = sub.names;
    }

    /// Sets the query's `end` (ms) for `@ end()`.
    pub(super) fn with_end(mut self, end: i64) -> Self {
        self.end = end;
        self
    }

    /// Result of an instant query (`steps` has one element).
    pub(super) fn instant(mut self, expr: &Expr) -> Result<Output, QueryError> {
        let data = self.instant_data(expr)?;
        Ok(Output {
            data,
            names: self.names,
        })
    }

    fn instant_data(&mut self, expr: &Expr) -> Result<Data, QueryError> {
        let at = self.steps[0];
        match unparen(expr) {
            Expr::MatrixSelector(ms) => return self.raw_matrix(&ms.vs, duration_ms(&ms.range)?),
            Expr::Subquery(sq) => return super::subquery::raw(self, sq),
            Expr::StringLiteral(s) if !matches!(expr, Expr::Paren(_)) => {
                return Ok(Data::String(at, s.val.clone()))
            }
            // Prometheus 2.42 wraps a parenthesized string in a
            // step-invariant node it then cannot answer.
            Expr::StringLiteral(_) => {
                return Err(QueryError::Execution(
                    "unexpected result in StepInvariantExpr evaluation: *parser.StepInvariantExpr"
                        .into(),
                ))
            }
            _ => {}
        }
        Ok(match self.eval(expr)? {
            Value::Scalar(v) => Data::Scalar(at, v[0]),
            Value::Vector(mut series) => {
                if !keeps_order(expr) {
                    series.sort_by(|a, b| cmp_labels(self, &a.labels, &b.labels));
                }
                let samples = series
                    .into_iter()
                    .filter_map(|s| Some((s.labels, s.points[0]?)))
                    .collect();
                Data::Vector(at, samples)
            }
        })
    }

    /// Result of a range query.
    pub(super) fn range(mut self, expr: &Expr) -> Result<Output, QueryError> {
        let data = self.range_data(expr)?;
        Ok(Output {
            data,
            names: self.names,
        })
    }

    fn range_data(&mut self, expr: &Expr) -> Result<Data, QueryError> {
        let kind = match unparen(expr) {
            Expr::MatrixSelector(_) | Expr::Subquery(_) => "range vector",
            Expr::StringLiteral(_) => "string",
            _ => "",
        };
        if !kind.is_empty() {
            return Err(QueryError::Parse(format!(
                "invalid expression type \"{kind}\" for range query, must be Scalar or instant Vector"
            )));
        }
        let steps = self.steps.clone();
        let series = match self.eval(expr)? {
            Value::Scalar(v) => vec![Series {
                labels: Vec::new(),
                points: v.into_iter().map(Some).collect(),
            }],
            // Series that got the same labels at different steps (`a or
            // b` after dropping names) are one series, as in Prometheus.
            Value::Vector(s) => super::matching::merge(s, steps.len())?,
        };
        let mut out: Vec<(Labels, Vec<(i64, f64)>)> = series
            .into_iter()
            .map(|s| {
                // `Option<f64>` and `(i64, f64)` have the same layout, so
                // this reuses the points' buffer instead of allocating.
                let pts = s
                    .points
                    .into_iter()
                    .zip(&steps)
                    .filter_map(|(v, t)| Some((*t, v?)))
                    .collect();
                (s.labels, pts)
            })
            .filter(|(_, p): &(Labels, Vec<(i64, f64)>)| !p.is_empty())
            .collect();
        out.sort_by(|a, b| cmp_labels(self, &a.0, &b.0));
        Ok(Data::Matrix(out))
    }

    /// Evaluates a sub-expression for all steps, refusing trees deeper than
    /// [`guard::MAX_EVAL_DEPTH`] (the parser's input was bounded already;
    /// this keeps the recursion bounded whatever built the tree).
    pub(super) fn eval(&mut self, expr: &Expr) -> Result<Value, QueryError> {
        if self.depth >= guard::MAX_EVAL_DEPTH {
            return Err(QueryError::Parse(format!(
                "query too complex: more than {} levels of expressions (nodewatch's limit)",
                guard::MAX_EVAL_DEPTH
            )));
        }
        self.depth += 1;
        let v = self.eval_node(expr);
        self.depth -= 1;
        v
    }

    fn eval_node(&mut self, expr: &Expr) -> Result<Value, QueryError> {
        match expr {
            Expr::NumberLiteral(n) => Ok(Value::Scalar(vec![n.val; self.steps.len()])),
            Expr::Paren(p) => self.eval(&p.expr),
            Expr::Unary(u) => Ok(match self.eval(&u.expr)? {
                Value::Scalar(v) => Value::Scalar(v.into_iter().map(|x| -x).collect()),
                Value::Vector(mut vs) => {
                    for s in &mut vs {
                        self.drop_name(&mut s.labels);
                        s.points.iter_mut().flatten().for_each(|x| *x = -*x);
                    }
                    check_unique(self.h, &vs)?;
                    Value::Vector(vs)
                }
            }),
            Expr::VectorSelector(vs) => self.vector(vs, false).map(Value::Vector),
            Expr::MatrixSelector(_) => Err(QueryError::Parse(
                "ranges only allowed for vector selectors: a range vector must be the argument of a function such as rate()".into(),
            )),
            Expr::Call(c) => functions::call(self, c),
            Expr::Aggregate(a) => aggregate::eval(self, a),
            Expr::Binary(b) => binary::eval(self, b),
            Expr::Subquery(_) => Err(QueryError::Parse(
                "subqueries return a range vector: they must be the argument of a function such as max_over_time()".into(),
            )),
            // The parser allows a string only as a function's argument
            // (read there) or as the whole query (answered by `instant`).
            Expr::StringLiteral(_) => Err(QueryError::Parse(
                "string literals are only allowed as a whole query or a function argument".into(),
            )),
            Expr::Extension(_) => Err(QueryError::Unsupported("extension expressions".into())),
        }
    }

    /// An instant vector selector: the latest sample within the lookback at
    /// each step, unless it is the stale marker; with `times`, the
    /// sample's timestamp (s) instead of its value (`timestamp(v)`).
    pub(super) fn vector(
        &mut self,
        vs: &VectorSelector,
        times: bool,
    ) -> Result<Vec<Series>, QueryError> {
        let (ids, ticks) = self.selector_ticks(vs)?;
        self.account(ids.len() * self.steps.len())?;
        let mut cur = self.h.cursor();
        Ok(ids
            .into_iter()
            .filter_map(|sid| {
                let labels = self.h.series(sid)?.labels.to_vec();
                cur.series(sid);
                let points: Vec<Option<f64>> = ticks
                    .iter()
                    .map(|g| {
                        let v = cur.get((*g)?)?;
                        Some(if times {
                            self.h.time_of((*g)?) as f64 / 1000.0
                        } else {
                            v
                        })
                    })
                    .collect();
                points
                    .iter()
                    .any(Option::is_some)
                    .then_some(Series { labels, points })
            })
            .collect())
    }

    /// The series an instant vector selector matches and, per step, the
    /// global tick whose sample it reads (`None`: no tick within the
    /// lookback).
    pub(super) fn selector_ticks(
        &mut self,
        vs: &VectorSelector,
    ) -> Result<(Vec<u32>, Vec<Option<u64>>), QueryError> {
        let ends = self.selector_times(vs)?;
        let ids = Selector::compile(self.h, vs)?.select(self.h);
        let ticks = ends
            .iter()
            .map(|&t| {
                let g = self.h.tick_at_or_before(t)?;
                (self.h.time_of(g) >= t - LOOKBACK_MS).then_some(g)
            })
            .collect();
        Ok((ids, ticks))
    }

    /// The series of a range selector with, per step, the global tick range
    /// of its window `[t - range, t]` (closed, as in Prometheus 2.42), and
    /// the selector's offset.
    pub(super) fn windows(
        &mut self,
        vs: &VectorSelector,
        range_ms: i64,
    ) -> Result<Windows, QueryError> {
        let ends = self.selector_times(vs)?;
        let ids = Selector::compile(self.h, vs)?.select(self.h);
        let windows: Vec<_> = ends
            .iter()
            .map(|t| self.h.ticks_between(t - range_ms, *t))
            .collect();
        // A function folds each window as it goes, holding one value per
        // step and series; a returned range vector holds its raw samples.
        let per_series: usize = if self.steps.len() == 1 {
            windows.iter().map(|w| (w.end - w.start) as usize).sum()
        } else {
            self.steps.len()
        };
        self.account(ids.len().saturating_mul(per_series))?;
        Ok((ids, windows, ends))
    }

    /// A range selector as the whole (instant) query: its raw samples.
    fn raw_matrix(&mut self, vs: &VectorSelector, range_ms: i64) -> Result<Data, QueryError> {
        let (ids, windows, _) = self.windows(vs, range_ms)?;
        let w = windows[0].clone();
        let mut cur = self.h.cursor();
        let mut out: Vec<(Labels, Vec<(i64, f64)>)> = ids
            .into_iter()
            .filter_map(|sid| {
                let labels = self.h.series(sid)?.labels.to_vec();
                cur.series(sid);
                let pts: Vec<(i64, f64)> = w
                    .clone()
                    .filter_map(|g| Some((self.h.time_of(g), cur.get(g)?)))
                    .collect();
                (!pts.is_empty()).then_some((labels, pts))
            })
            .collect();
        out.sort_by(|a, b| cmp_labels(self, &a.0, &b.0));
        Ok(Data::Matrix(out))
    }

    /// The string of a label id (the history's or made up by this query).
    pub(super) fn resolve(&self, id: u32) -> &str {
        self.names.resolve(self.h, id)
    }

    /// Removes `__name__` from a label set.
    pub(super) fn drop_name(&self, labels: &mut Labels) {
        if let Some(n) = self.name {
            labels.retain(|(k, _)| *k != n);
        }
    }

    /// Fails once the budget's deadline has passed; called between units
    /// of work (selectors, series) so a runaway query stops on its own.
    pub(super) fn check_time(&self) -> Result<(), QueryError> {
        match self.budget.deadline {
            Some(d) if std::time::Instant::now() >= d => {
                Err(QueryError::Timeout("expression evaluation"))
            }
            _ => Ok(()),
        }
    }

    /// Counts samples held, refusing queries over the budget's
    /// `max_samples` (the count only grows: intermediate results are
    /// counted as if all were held at once).
    pub(super) fn account(&mut self, n: usize) -> Result<(), QueryError> {
        self.check_time()?;
        self.samples = self.samples.saturating_add(n);
        if self.samples > self.budget.max_samples {
            return Err(QueryError::Execution(
                "query processing would load too many samples into memory in query execution"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// Removes enclosing parentheses.
pub(super) fn unparen(mut e: &Expr) -> &Expr {
    while let Expr::Paren(p) = e {
        e = &p.expr;
    }
    e
}

/// Whether an instant query's result keeps its computed order (Prometheus
/// returns `sort`, `topk`... in their order, other vectors in any order).
fn keeps_order(e: &Expr) -> bool {
    match unparen(e) {
        Expr::Call(c) => matches!(c.func.name, "sort" | "sort_desc"),
        Expr::Aggregate(a) => matches!(a.op.to_string().as_str(), "topk" | "bottomk"),
        _ => false,
    }
}
