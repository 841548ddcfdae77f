//! The series table: records in fixed pages of [`PAGE`] slots, addressed
//! by a `u32` id (`page * PAGE + slot`), with a free list of the ids of
//! removed records.
//!
//! Why not one `Vec`: a `Vec` grows by doubling, so at 5,000 nodes (~260,000
//! series of ~100-byte records) it holds up to twice the records it needs,
//! and growing past a power of two copies the whole table while both
//! copies are alive (~75 MiB more for a moment, exactly when the cluster
//! grew). Pages are allocated one at a time and never move, so growth
//! costs one page and the table never holds more than a page of unused
//! slots beyond the free ones.

/// Slots per page: a page of ~100-byte records is ~400 KiB, small next to
/// the table at 5,000 nodes (64 pages) and large enough that the list of
/// pages stays tiny.
pub(super) const PAGE: usize = 4096;

/// Records of type `T` by `u32` id.
pub(super) struct Pages<T> {
    pages: Vec<Box<[Option<T>]>>,
    /// Ids handed out so far (live or free): the next new id.
    len: u32,
    /// Ids of removed records, handed out again before new ones.
    free: Vec<u32>,
}

impl<T> Default for Pages<T> {
    fn default() -> Self {
        Pages {
            pages: Vec::new(),
            len: 0,
            free: Vec::new(),
        }
    }
}

impl<T> Pages<T> {
    /// Ids handed out so far: every id is below this.
    pub(super) fn len(&self) -> usize {
        self.len as usize
    }

    /// Pages allocated.
    #[cfg(test)]
    pub(super) fn pages(&self) -> usize {
        self.pages.len()
    }

    /// The record `id`, if it exists.
    #[inline]
    pub(super) fn get(&self, id: u32) -> Option<&T> {
        let (p, s) = split(id);
        self.pages.get(p)?.get(s)?.as_ref()
    }

    /// Stores `v` and returns its id: a freed id if there is one, else the
    /// next one (allocating a page when the last is full).
    pub(super) fn insert(&mut self, v: T) -> u32 {
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                let id = self.len;
                if id as usize == self.pages.len() * PAGE {
                    self.pages.push((0..PAGE).map(|_| None).collect());
                }
                self.len += 1;
                id
            }
        };
        let (p, s) = split(id);
        self.pages[p][s] = Some(v);
        id
    }

    /// Takes the record `id` out; its id is handed out again later.
    pub(super) fn remove(&mut self, id: u32) -> Option<T> {
        let (p, s) = split(id);
        let v = self.pages.get_mut(p)?.get_mut(s)?.take()?;
        self.free.push(id);
        Some(v)
    }

    /// Every slot by id, `None` where no record lives, up to [`Pages::len`].
    pub(super) fn slots(&self) -> impl Iterator<Item = Option<&T>> + '_ {
        self.pages
            .iter()
            .flat_map(|p| p.iter())
            .take(self.len as usize)
            .map(Option::as_ref)
    }

    /// The live records with their ids.
    pub(super) fn iter(&self) -> impl Iterator<Item = (u32, &T)> + '_ {
        self.slots()
            .enumerate()
            .filter_map(|(id, v)| Some((id as u32, v?)))
    }

    /// The live records with their ids, mutably.
    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = (u32, &mut T)> + '_ {
        self.pages
            .iter_mut()
            .flat_map(|p| p.iter_mut())
            .take(self.len as usize)
            .enumerate()
            .filter_map(|(id, v)| Some((id as u32, v.as_mut()?)))
    }
}

/// Page and slot of an id.
#[inline]
fn split(id: u32) -> (usize, usize) {
    (id as usize / PAGE, id as usize % PAGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_across_pages_and_pages_are_allocated_once() {
        let mut t = Pages::default();
        let n = 2 * PAGE + 3;
        for i in 0..n {
            assert_eq!(t.insert(i), i as u32, "ids are handed out in order");
            assert_eq!(t.pages(), i / PAGE + 1, "a page when the last is full");
        }
        assert_eq!(t.len(), n);
        // Every record is where its id says, on either side of a page edge.
        for id in [0, PAGE - 1, PAGE, 2 * PAGE - 1, 2 * PAGE, n - 1] {
            assert_eq!(t.get(id as u32), Some(&id));
        }
        assert_eq!(t.get(n as u32), None, "beyond the last id");
        assert_eq!(t.get(u32::MAX), None);
        let ids: Vec<u32> = t.iter().map(|(id, _)| id).collect();
        assert_eq!(ids, (0..n as u32).collect::<Vec<_>>());
        assert!(t.iter().all(|(id, v)| *v == id as usize));
    }

    #[test]
    fn removed_ids_are_reused_before_new_ones() {
        let mut t = Pages::default();
        for i in 0..(PAGE + 10) {
            t.insert(i);
        }
        assert_eq!(t.remove(PAGE as u32 + 1), Some(PAGE + 1));
        assert_eq!(t.remove(5), Some(5));
        assert_eq!(t.remove(5), None, "already removed");
        assert_eq!(t.remove(u32::MAX), None, "never handed out");
        assert_eq!(t.get(5), None);
        assert_eq!(t.iter().count(), PAGE + 8);
        assert_eq!(t.slots().count(), PAGE + 10, "removed slots stay");
        // The freed ids come back (last freed first); then new ones follow.
        assert_eq!(t.insert(100), 5);
        assert_eq!(t.insert(101), PAGE as u32 + 1);
        assert_eq!(t.insert(102), PAGE as u32 + 10);
        assert_eq!(t.pages(), 2, "reuse allocates no page");
        assert_eq!(t.get(5), Some(&100));
        for (_, v) in t.iter_mut() {
            *v += 1;
        }
        assert_eq!(t.get(5), Some(&101));
        assert_eq!(t.get(PAGE as u32 + 10), Some(&103));
    }
}
