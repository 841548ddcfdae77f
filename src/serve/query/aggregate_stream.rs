//! Aggregation of a bare vector selector (`sum by (signal)
//! (nodewatch_signal_anomaly)`, `max by (zone) (nodewatch_node_score)`),
//! folded one series at a time: memory is one running [`Fold`] per group
//! and step plus one series' samples, not every selected series' samples
//! at once. At 5,000 nodes the anomaly series alone are ~90,000; held
//! whole over a one-hour dashboard range that is ~11 million samples,
//! which `serve.query_max_samples` rightly refuses, while the answer is a
//! few dozen series. The budget counts what is really held.
//!
//! Members are folded in the order the general path folds them (selection
//! order), so the results are the same bits.

use super::aggregate::{Fold, Keyer};
use super::eval::{unparen, Evaluator, Series};
use super::{Labels, QueryError};
use crate::serve::history::FxMap;
use promql_parser::parser::{AggregateExpr, Expr};

/// Series between two deadline checks.
const CHECK_EVERY: usize = 1024;

/// `Some` result when `a` is a plain fold (`sum`, `avg`, `min`, `max`,
/// `count`, `group`, `stddev`, `stdvar`) of a vector selector; `None`
/// when the general path must evaluate it.
pub(super) fn selector(
    ev: &mut Evaluator,
    a: &AggregateExpr,
    op: &str,
) -> Result<Option<Vec<Series>>, QueryError> {
    let plain = matches!(
        op,
        "sum" | "avg" | "min" | "max" | "count" | "group" | "stddev" | "stdvar"
    );
    let Expr::VectorSelector(vs) = unparen(&a.expr) else {
        return Ok(None);
    };
    if !plain {
        return Ok(None);
    }
    let (ids, ticks) = ev.selector_ticks(vs)?;
    let steps = ticks.len();
    // The one series' samples read at a time.
    ev.account(steps)?;
    let keyer = Keyer::new(ev, a.modifier.as_ref());
    let mut order: Vec<Labels> = Vec::new();
    let mut folds: Vec<Vec<Fold>> = Vec::new();
    let mut group: FxMap<Labels, usize> = FxMap::default();
    let mut points: Vec<Option<f64>> = Vec::with_capacity(steps);
    let mut cur = ev.h.cursor();
    for (i, sid) in ids.into_iter().enumerate() {
        if i % CHECK_EVERY == CHECK_EVERY - 1 {
            ev.check_time()?;
        }
        let Some(s) = ev.h.series(sid) else { continue };
        cur.series(sid);
        points.clear();
        points.extend(ticks.iter().map(|g| cur.get((*g)?)));
        // A series absent at every step is no member (as in `vector`).
        if points.iter().all(Option::is_none) {
            continue;
        }
        let key = keyer.key(&s.labels.to_vec());
        let g = match group.get(&key) {
            Some(g) => *g,
            None => {
                ev.account(steps)?;
                group.insert(key.clone(), order.len());
                order.push(key);
                folds.push(vec![Fold::default(); steps]);
                order.len() - 1
            }
        };
        for (f, v) in folds[g].iter_mut().zip(&points) {
            if let Some(v) = v {
                f.push(op, *v);
            }
        }
    }
    Ok(Some(
        order
            .into_iter()
            .zip(folds)
            .map(|(labels, f)| Series {
                labels,
                points: f.iter().map(|x| x.finish(op)).collect(),
            })
            .collect(),
    ))
}
