//! The modifiers that move where a selector reads: `offset` (negative too)
//! and `@` (a time, `start()` or `end()`), and the bounded conversion of
//! durations and times to ms so no later arithmetic overflows.

use super::eval::Evaluator;
use super::QueryError;
use promql_parser::parser::ast::{AtModifier, Offset};
use promql_parser::parser::VectorSelector;

impl Evaluator<'_> {
    /// The time each step reads a selector at: the step's own time, or
    /// the `@` time (`start()`/`end()`: the query's start/end), less
    /// the `offset` (negative offsets read later).
    pub(super) fn selector_times(&self, vs: &VectorSelector) -> Result<Vec<i64>, QueryError> {
        self.read_times(vs.at.as_ref(), vs.offset.as_ref())
    }

    /// [`Self::selector_times`] for any `@` and `offset` (a subquery's too).
    pub(super) fn read_times(
        &self,
        at: Option<&AtModifier>,
        offset: Option<&Offset>,
    ) -> Result<Vec<i64>, QueryError> {
        let offset = match offset {
            Some(Offset::Pos(d)) => duration_ms(d)?,
            Some(Offset::Neg(d)) => -duration_ms(d)?,
            None => 0,
        };
        let at = match at {
            None => None,
            Some(AtModifier::Start) => Some(self.start),
            Some(AtModifier::End) => Some(self.end),
            Some(AtModifier::At(t)) => Some(system_time_ms(t)?),
        };
        Ok(self
            .steps
            .iter()
            .map(|t| at.unwrap_or(*t).saturating_sub(offset))
            .collect())
    }
}

/// An `@` time in ms, bounded like durations so arithmetic on it cannot
/// overflow.
fn system_time_ms(t: &std::time::SystemTime) -> Result<i64, QueryError> {
    let ms = match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => duration_ms(&d)?,
        Err(e) => -duration_ms(&e.duration())?,
    };
    Ok(ms)
}

/// Longest range or offset (ms, ~290,000 years): with times bounded the
/// same way, `t - offset - range` cannot overflow.
const MAX_DURATION_MS: u128 = 9_200_000_000_000_000;

/// A range or offset in ms, refusing absurd ones.
pub(super) fn duration_ms(d: &std::time::Duration) -> Result<i64, QueryError> {
    let ms = d.as_millis();
    if ms > MAX_DURATION_MS {
        return Err(QueryError::Parse(format!(
            "duration too long: {}s (nodewatch's limit is {}s)",
            d.as_secs(),
            MAX_DURATION_MS / 1000
        )));
    }
    Ok(ms as i64)
}
