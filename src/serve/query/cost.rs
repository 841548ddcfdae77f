//! A cheap upper bound on what a query reads, taken before it runs: the
//! API answers a query this small on the async worker that received it
//! instead of handing it to the blocking pool. The hand-off (wake a pool
//! thread, then wake the worker again for the answer) costs more than a
//! one-series `rate` over an hour does, and it was most of nodewatch's
//! fixed per-request time (issue #14).
//!
//! The bound counts, per selector, the series of its metric name (the
//! postings list) times the steps, times the samples in a range
//! selector's window. Anything it cannot bound cheaply — a selector
//! without a metric name, a subquery — is "not small", so the worst a
//! wrong guess does is send a query to the pool as before.

use super::super::history::History;
use promql_parser::parser::Expr;

/// Whether evaluating `expr` over `steps` steps reads at most `limit`
/// samples. Iterative (the tree's depth is bounded by [`super::guard`]
/// anyway) and O(nodes of the tree).
pub fn at_most(h: &History, expr: &Expr, steps: usize, limit: usize) -> bool {
    let per_ms = samples_per_ms(h);
    let mut total = 0usize;
    let mut stack = vec![expr];
    while let Some(e) = stack.pop() {
        let (selector, window_ms) = match e {
            Expr::VectorSelector(vs) => (vs, 0),
            Expr::MatrixSelector(ms) => (&ms.vs, ms.range.as_millis() as u64),
            Expr::Subquery(_) | Expr::Extension(_) => return false,
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) => continue,
            Expr::Paren(p) => {
                stack.push(&p.expr);
                continue;
            }
            Expr::Unary(u) => {
                stack.push(&u.expr);
                continue;
            }
            Expr::Binary(b) => {
                stack.extend([&*b.lhs, &*b.rhs]);
                continue;
            }
            Expr::Aggregate(a) => {
                stack.push(&a.expr);
                stack.extend(a.param.as_deref());
                continue;
            }
            Expr::Call(c) => {
                stack.extend(c.args.args.iter().map(|a| &**a));
                continue;
            }
        };
        let Some(name) = &selector.name else {
            return false;
        };
        let series = h.strings.get(name).map_or(0, |id| h.postings(id).len());
        let window = 1 + (window_ms as f64 * per_ms).ceil() as usize;
        total = total.saturating_add(series.saturating_mul(steps).saturating_mul(window));
        if total > limit {
            return false;
        }
    }
    true
}

/// Recorded ticks per millisecond of history (0 before two ticks).
fn samples_per_ms(h: &History) -> f64 {
    match h.time_range() {
        Some((old, new)) if new > old => h.ticks() as f64 / (new - old) as f64,
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A history of `nodes` score series and one action counter over
    /// 121 ticks at 30 s.
    fn history(nodes: usize) -> History {
        let mut h = History::new(i64::MAX, usize::MAX);
        for t in 0..121 {
            h.begin(t * 30_000);
            for n in 0..nodes {
                h.set(&[("__name__", "score"), ("node", &format!("n{n}"))], 0.5);
            }
            h.set(&[("__name__", "actions_total")], t as f64);
            h.end();
        }
        h
    }

    fn small(h: &History, q: &str, steps: usize) -> bool {
        at_most(h, &super::super::parse(q).unwrap(), steps, 4_096)
    }

    #[test]
    fn one_series_over_an_hour_is_small_and_many_series_are_not() {
        let h = history(100);
        assert!(small(&h, "rate(actions_total[5m])", 121));
        assert!(small(&h, "actions_total * 2 + 1", 121));
        // 100 series × 121 steps.
        assert!(!small(&h, "score", 121));
        assert!(!small(&h, "sum(score)", 121));
        assert!(small(&h, "score", 1));
        // A window multiplies what a range selector reads.
        assert!(small(&h, "rate(actions_total[5m])", 121));
        assert!(!small(&h, "rate(actions_total[1d])", 121));
    }

    #[test]
    fn what_cannot_be_bounded_cheaply_is_not_small() {
        let h = history(1);
        assert!(!small(&h, r#"{__name__="actions_total"}"#, 1));
        assert!(!small(&h, "max_over_time(actions_total[5m:30s])", 1));
        // A name nobody records reads nothing.
        assert!(small(&h, "absent(nope)", 121));
    }
}
