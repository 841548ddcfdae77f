//! Per-pool hub selectors: a pool policy may say which pods are *its* hub
//! (`governor.pools[].hub`). Every signal marked `hub: true` in the
//! catalog gets one copy per such pool, appended after the file's signals
//! (so existing signal indices, and the per-signal seeds they feed, stay
//! as they are), with the pool's matchers in place of its own. Sources
//! query the copies like any signal; the engine judges each hub pod by the
//! scope of the node it runs on (see `engine::pools`).

use super::{Catalog, Matcher, Variant};

impl Catalog {
    /// This catalog plus, for each `(pool index, matchers)`, a copy of
    /// every hub signal selecting with those matchers.
    pub fn with_hubs(&self, hubs: &[(usize, Vec<Matcher>)]) -> Catalog {
        let mut out = self.clone();
        let base = self.signals.len();
        for (pool, matchers) in hubs {
            for (s, sig) in self.signals[..base].iter().enumerate() {
                let Some(m) = sig.metric.as_ref().filter(|_| sig.hub) else {
                    continue;
                };
                let mut copy = sig.clone();
                let mut metric = m.clone();
                metric.matchers = matchers.clone();
                copy.metric = Some(metric);
                copy.variant = Some(Variant { of: s, pool: *pool });
                out.signals.push(copy);
            }
        }
        out
    }

    /// The signal `s` copies (itself when it is no copy).
    pub fn origin(&self, s: usize) -> usize {
        self.signals[s].variant.as_ref().map_or(s, |v| v.of)
    }

    /// Signal `s` and every pool's copy of it.
    pub fn with_copies(&self, s: usize) -> Vec<usize> {
        std::iter::once(s)
            .chain(
                (0..self.signals.len())
                    .filter(|&c| self.signals[c].variant.as_ref().is_some_and(|v| v.of == s)),
            )
            .collect()
    }

    /// Whether any signal is a hub signal (a pool's `hub` needs one).
    pub fn has_hub_signals(&self) -> bool {
        self.signals.iter().any(|s| s.hub)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_replace_the_hub_matchers_and_keep_the_rest() {
        let c = Catalog::builtin();
        let n = c.signals.len();
        let m = vec![
            Matcher::parse("pod", "=~jupyterhub-.*").unwrap(),
            Matcher::parse("container", "jupyterhub").unwrap(),
        ];
        let d = c.with_hubs(&[(1, m.clone())]);
        let hubs: Vec<usize> = (0..n).filter(|&s| c.signals[s].hub).collect();
        assert_eq!(hubs.len(), 2, "hub_cpu and hub_threads are hub signals");
        assert_eq!(d.signals.len(), n + hubs.len());
        for (k, &s) in hubs.iter().enumerate() {
            let copy = &d.signals[n + k];
            assert_eq!(copy.name, c.signals[s].name);
            assert_eq!(copy.variant, Some(Variant { of: s, pool: 1 }));
            let (cm, om) = (
                copy.metric.as_ref().unwrap(),
                c.signals[s].metric.as_ref().unwrap(),
            );
            assert_eq!(cm.matchers, m);
            assert_eq!((&cm.name, cm.rate, &cm.by), (&om.name, om.rate, &om.by));
            assert_eq!(d.origin(n + k), s);
            assert_eq!(d.with_copies(s), vec![s, n + k]);
        }
        // The name still finds the file's signal first.
        assert_eq!(d.signal_index("hub_cpu"), c.signal_index("hub_cpu"));
    }
}
