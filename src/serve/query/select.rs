//! Series selection: label matchers compiled against the interned strings
//! of the [`History`], so matching a series compares integers for `=`/`!=`
//! and runs the (anchored) regex only for `=~`/`!~`.

use super::QueryError;
use crate::serve::history::History;
use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::{Expr, VectorSelector};

/// One matcher resolved against the store.
enum Compiled<'a> {
    /// Label `name` (id, or `None` if never seen: always empty) equals
    /// value `id` (`None`: a value never seen, so only "" could match).
    Eq(Option<u32>, Option<u32>, &'a str),
    /// Negated `Eq`.
    Ne(Option<u32>, Option<u32>, &'a str),
    /// `=~` or `!~` (the parser's matcher applies the anchored regex and
    /// the negation).
    Re(Option<u32>, &'a Matcher),
}

/// The matchers of a selector, the metric name included.
pub(super) struct Selector<'a> {
    matchers: Vec<Compiled<'a>>,
    name: Option<Option<u32>>,
}

impl<'a> Selector<'a> {
    /// Resolves `vs` against `h`; `or` between matcher groups is refused.
    pub(super) fn compile(h: &History, vs: &'a VectorSelector) -> Result<Self, QueryError> {
        if !vs.matchers.or_matchers.is_empty() {
            return Err(QueryError::Unsupported(
                "`or` between label matchers in a selector".into(),
            ));
        }
        let mut sel = Selector {
            matchers: Vec::new(),
            name: vs.name.as_ref().map(|n| h.strings.get(n)),
        };
        for m in &vs.matchers.matchers {
            let name = h.strings.get(&m.name);
            let c = match &m.op {
                MatchOp::Equal => Compiled::Eq(name, h.strings.get(&m.value), &m.value),
                MatchOp::NotEqual => Compiled::Ne(name, h.strings.get(&m.value), &m.value),
                MatchOp::Re(_) | MatchOp::NotRe(_) => Compiled::Re(name, m),
            };
            if m.name == "__name__" {
                if let (MatchOp::Equal, None) = (&m.op, &sel.name) {
                    sel.name = Some(h.strings.get(&m.value));
                }
            }
            sel.matchers.push(c);
        }
        Ok(sel)
    }

    /// Ids of the matching series.
    pub(super) fn select(&self, h: &History) -> Vec<u32> {
        let name_label = h.strings.get("__name__");
        let candidates: Vec<u32> = match self.name {
            Some(Some(id)) => h.postings(id).to_vec(),
            Some(None) => return Vec::new(),
            None => h.all_ids().collect(),
        };
        candidates
            .into_iter()
            .filter(|sid| {
                let Some(s) = h.series(*sid) else {
                    return false;
                };
                let value = |n: Option<u32>| {
                    n.and_then(|n| s.labels.iter().find(|(k, _)| *k == n))
                        .map(|(_, v)| *v)
                };
                if let Some(Some(want)) = self.name {
                    if value(name_label) != Some(want) {
                        return false;
                    }
                }
                self.matchers.iter().all(|m| match m {
                    Compiled::Eq(n, v, raw) => match value(*n) {
                        Some(have) => Some(have) == *v,
                        None => raw.is_empty(),
                    },
                    Compiled::Ne(n, v, raw) => match value(*n) {
                        Some(have) => Some(have) != *v,
                        None => !raw.is_empty(),
                    },
                    Compiled::Re(n, matcher) => {
                        matcher.is_match(value(*n).map_or("", |v| h.strings.resolve(v)))
                    }
                })
            })
            .collect()
    }
}

/// See [`super::series_matching`].
pub(super) fn series_matching(
    h: &History,
    selectors: &[Expr],
    start: i64,
    end: i64,
) -> Result<Vec<u32>, QueryError> {
    let span = h.ticks_between(start, end);
    if span.is_empty() {
        return Ok(Vec::new());
    }
    let (lo, hi) = (span.start, span.end - 1);
    let mut out: Vec<u32> = Vec::new();
    if selectors.is_empty() {
        out = h.all_ids().filter(|s| h.overlaps(*s, lo, hi)).collect();
    }
    for e in selectors {
        let Expr::VectorSelector(vs) = e else {
            return Err(QueryError::Parse(format!(
                "invalid parameter \"match[]\": expected a series selector, got {e}"
            )));
        };
        let sel = Selector::compile(h, vs)?;
        out.extend(sel.select(h).into_iter().filter(|s| h.overlaps(*s, lo, hi)));
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}
