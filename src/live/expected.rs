//! What nodewatch expects nodes' `spec.unschedulable` to be after its own
//! writes, until the watch shows it: the one owner of these expectations.
//! The cordoner records one before each cordon or uncordon (and forgets it
//! when the write did not happen); the watchers' inbox confirms them as
//! node updates arrive and shows the expected state in the node lists it
//! hands to the core meanwhile — otherwise the core would take a list
//! delivered just before the write's watch event for a human's undo.
//!
//! Shared between the cordoner and the inbox as a cheap handle; every
//! method takes the lock once.

use crate::k8s;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long an expectation the watch never confirms holds (e.g. one lost
/// in a relist that also saw a human undo the write).
const HOLD: Duration = Duration::from_secs(120);

/// Expected `spec.unschedulable` per node, with when it was expected.
#[derive(Clone, Debug, Default)]
pub struct Expectations(Arc<Mutex<HashMap<String, (bool, Instant)>>>);

impl Expectations {
    /// The map (a poisoned lock only means a task panicked mid-update; the
    /// map is still the best there is).
    fn lock(&self) -> MutexGuard<'_, HashMap<String, (bool, Instant)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that nodewatch is setting `unschedulable` on `node` (set
    /// before the write, so the watch's confirmation, which may arrive
    /// before the write's own answer, always finds it).
    pub fn expect(&self, node: &str, unschedulable: bool) {
        self.lock()
            .insert(node.to_string(), (unschedulable, Instant::now()));
    }

    /// Forgets the expectation on `node` (the write did not happen).
    pub fn forget(&self, node: &str) {
        self.lock().remove(node);
    }

    /// What nodewatch expects `node`'s `spec.unschedulable` to be, if
    /// anything.
    pub fn of(&self, node: &str) -> Option<bool> {
        self.lock().get(node).map(|e| e.0)
    }

    /// The watch delivered `n`: an expectation it meets is confirmed and
    /// ends.
    pub(super) fn confirm(&self, n: &k8s::Node) {
        let mut map = self.lock();
        if map
            .get(&n.metadata.name)
            .is_some_and(|(want, _)| *want == n.spec.unschedulable)
        {
            map.remove(&n.metadata.name);
        }
    }

    /// Copies of `nodes` with each expected state in place of the
    /// watched one; expectations older than [`HOLD`] end first.
    pub(super) fn show<'a>(&self, nodes: impl Iterator<Item = &'a k8s::Node>) -> Vec<k8s::Node> {
        let mut map = self.lock();
        map.retain(|_, (_, since)| since.elapsed() < HOLD);
        nodes
            .map(|n| {
                let mut n = n.clone();
                if let Some((want, _)) = map.get(&n.metadata.name) {
                    n.spec.unschedulable = *want;
                }
                n
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, unschedulable: bool) -> k8s::Node {
        let mut n = k8s::Node::default();
        n.metadata.name = name.into();
        n.spec.unschedulable = unschedulable;
        n
    }

    fn shown(e: &Expectations, nodes: &[k8s::Node]) -> Vec<bool> {
        e.show(nodes.iter())
            .iter()
            .map(|n| n.spec.unschedulable)
            .collect()
    }

    #[test]
    fn an_expectation_shows_until_the_watch_confirms_it() {
        let e = Expectations::default();
        let nodes = [node("n0", false), node("n1", false)];
        e.expect("n0", true);
        assert_eq!(e.of("n0"), Some(true));
        assert_eq!(shown(&e, &nodes), [true, false]);
        e.confirm(&node("n0", false));
        assert_eq!(e.of("n0"), Some(true), "a stale update confirms nothing");
        e.confirm(&node("n0", true));
        assert_eq!(e.of("n0"), None, "confirmed");
        assert_eq!(shown(&e, &nodes), [false, false], "the watched state");
    }

    #[test]
    fn a_forgotten_expectation_and_a_shared_handle() {
        let cordoner = Expectations::default();
        let inbox = cordoner.clone();
        cordoner.expect("n0", false);
        assert_eq!(inbox.of("n0"), Some(false), "one map, two handles");
        assert_eq!(shown(&inbox, &[node("n0", true)]), [false]);
        cordoner.forget("n0");
        assert_eq!(shown(&inbox, &[node("n0", true)]), [true]);
    }
}
