//! Label strings a query makes up: `label_replace`, `label_join`,
//! `count_values` and `absent` answer label names and values no stored
//! series has, while the history's interned strings are read-only during a
//! query (it holds a read lock, and growing them from queries would let
//! outside input grow memory that is never freed). A query keeps such
//! strings in its own [`Names`], with ids counted down from `u32::MAX` so
//! they never collide with the history's (counted up from 0); the answer
//! carries them to the JSON writer. Queries that make none up pay one
//! comparison per resolved id.

use crate::serve::history::{FxMap, History};

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
