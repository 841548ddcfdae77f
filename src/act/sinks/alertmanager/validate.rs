//! What Alertmanager refuses in a posted alert, checked before sending: a
//! refused alert fails the whole `POST /api/v2/alerts` with 400 (while
//! Alertmanager stores the valid ones), so it must never travel with
//! others. Also the bounded set of alerts already refused.

use super::Fingerprint;
use std::collections::{BTreeMap, HashSet};

/// Most refused fingerprints remembered; past it the set starts over (a
/// refused alert is then found again by its next 400).
const REJECTED_MAX: usize = 10_000;

/// Why Alertmanager would refuse an alert with these labels, if it would:
/// no label at all, or a label name outside `[a-zA-Z_][a-zA-Z0-9_]*`
/// (Prometheus's classic rule, which Alertmanager applies; labels with an
/// empty value are dropped by Alertmanager, not refused).
pub(super) fn problem(labels: &BTreeMap<String, String>) -> Option<String> {
    if labels.values().all(|v| v.is_empty()) {
        return Some("no label with a value".into());
    }
    labels
        .keys()
        .find(|k| !valid_name(k))
        .map(|k| format!("invalid label name {k:?}"))
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Fingerprints of refused alerts, bounded by [`REJECTED_MAX`].
#[derive(Debug, Default)]
pub(super) struct Rejected(HashSet<Fingerprint>);

impl Rejected {
    /// Remembers `fp`; true when it is new.
    pub fn insert(&mut self, fp: Fingerprint) -> bool {
        if self.0.len() >= REJECTED_MAX && !self.0.contains(&fp) {
            self.0.clear();
        }
        self.0.insert(fp)
    }

    /// Whether `fp` was refused.
    pub fn contains(&self, fp: &Fingerprint) -> bool {
        self.0.contains(fp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names_alertmanager_refuses_are_found() {
        assert_eq!(
            problem(&labels(&[("alertname", "A"), ("node", "n1")])),
            None
        );
        assert_eq!(
            problem(&labels(&[("alertname", "A"), ("__name__", "x")])),
            None
        );
        assert!(problem(&labels(&[("alertname", "A"), ("bad-label", "x")]))
            .unwrap()
            .contains("bad-label"));
        assert!(problem(&labels(&[("alertname", "A"), ("", "x")])).is_some());
        assert!(problem(&labels(&[("alertname", "A"), ("1x", "x")])).is_some());
        assert!(problem(&labels(&[("alertname", "")])).is_some());
        assert!(problem(&labels(&[])).is_some());
    }

    #[test]
    fn the_refused_set_stays_bounded() {
        let mut r = Rejected::default();
        for i in 0..(REJECTED_MAX as u64 + 5) {
            r.insert(Fingerprint(i));
        }
        assert!(r.0.len() <= REJECTED_MAX);
        assert!(!r.insert(Fingerprint(REJECTED_MAX as u64 + 4)));
    }
}
