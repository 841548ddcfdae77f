//! Label strings a query makes up: `label_replace`, `label_join`,
//! `count_values` and `absent` answer label names and values no stored
//! series has, while the history's interned strings are read-only during a
//! query (it holds a read lock, and growing them from queries would let
//! outside input grow memory that is never freed). A query keeps such
//! strings in its own [`Names`], with ids counted down from `u32::MAX` so
//! they never collide with the history's (counted up from 0); the answer
//! carries them to the JSON writer. Queries that make none up resolve
//! through the history alone. Also here: the order and uniqueness of
//! label sets, which read these strings.

use super::eval::{Evaluator, Series};
use super::{Labels, QueryError};
use crate::serve::history::{FxMap, History};
use std::cmp::Ordering;

/// Strings one query made up, by id (ids count down from `u32::MAX`).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Names {
    made: Vec<Box<str>>,
    ids: FxMap<Box<str>, u32>,
}

impl Names {
    /// The string of `id`: made up by this query, or the history's.
    pub fn resolve<'s>(&'s self, h: &'s History, id: u32) -> &'s str {
        match self.made.get((u32::MAX - id) as usize) {
            Some(s) => s,
            None => h.strings.resolve(id),
        }
    }

    /// The id of `s` if the history or this query has it.
    pub(super) fn get(&self, h: &History, s: &str) -> Option<u32> {
        h.strings.get(s).or_else(|| self.ids.get(s).copied())
    }

    /// The id of `s`, made up when neither the history nor this query has
    /// it. The count is bounded by the query's series times labels, which
    /// its samples budget already bounds.
    pub(super) fn intern(&mut self, h: &History, s: &str) -> u32 {
        if let Some(id) = self.get(h, s) {
            return id;
        }
        let id = u32::MAX - self.made.len() as u32;
        self.made.push(s.into());
        self.ids.insert(s.into(), id);
        id
    }

    /// Whether this query made up no string.
    pub fn is_empty(&self) -> bool {
        self.made.is_empty()
    }
}

/// Refuses two series with the same labels that both have a value at the
/// same step (after `__name__` was dropped), as Prometheus does (with its
/// words, which do not name the labels).
pub(super) fn check_unique(_h: &History, series: &[Series]) -> Result<(), QueryError> {
    let mut idx: Vec<usize> = (0..series.len()).collect();
    idx.sort_by(|a, b| series[*a].labels.cmp(&series[*b].labels));
    for w in idx.windows(2) {
        let (a, b) = (&series[w[0]], &series[w[1]]);
        if a.labels == b.labels
            && a.points
                .iter()
                .zip(&b.points)
                .any(|(x, y)| x.is_some() && y.is_some())
        {
            return Err(QueryError::Execution(
                "vector cannot contain metrics with the same labelset".into(),
            ));
        }
    }
    Ok(())
}

/// Orders label sets as Prometheus does: pairwise by name, then value.
/// Queries that made up no string (nearly all) resolve through the
/// history alone, as before there were made-up strings.
pub(super) fn cmp_labels(ev: &Evaluator, a: &Labels, b: &Labels) -> Ordering {
    if ev.names.is_empty() {
        cmp_with(|id| ev.h.strings.resolve(id), a, b)
    } else {
        cmp_with(|id| ev.resolve(id), a, b)
    }
}

#[inline]
fn cmp_with<'s>(resolve: impl Fn(u32) -> &'s str, a: &Labels, b: &Labels) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = resolve(x.0)
            .cmp(resolve(y.0))
            .then_with(|| resolve(x.1).cmp(resolve(y.1)));
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}
