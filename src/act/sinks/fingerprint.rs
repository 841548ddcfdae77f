//! Alert fingerprints, computed exactly as Alertmanager (and Prometheus'
//! `model.LabelSet.Fingerprint`) does: FNV-1a 64 over the label names and
//! values sorted by name, each followed by the 0xff separator. Using the same
//! function means the fingerprint nodewatch puts in webhook payloads is the
//! one Alertmanager shows for the same alert.

use std::collections::BTreeMap;
use std::fmt;

const OFFSET64: u64 = 14_695_981_039_346_656_037;
const PRIME64: u64 = 1_099_511_628_211;
const SEPARATOR: u8 = 0xff;

/// A stable identity of an alert: the hash of its sorted label set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub u64);

impl Fingerprint {
    /// The fingerprint of a label set. A `BTreeMap` iterates sorted by name,
    /// which is the order Alertmanager hashes in.
    pub fn of(labels: &BTreeMap<String, String>) -> Fingerprint {
        let mut h = OFFSET64;
        let mut add = |bytes: &[u8]| {
            for &b in bytes {
                h ^= u64::from(b);
                h = h.wrapping_mul(PRIME64);
            }
        };
        for (name, value) in labels {
            add(name.as_bytes());
            add(&[SEPARATOR]);
            add(value.as_bytes());
            add(&[SEPARATOR]);
        }
        Fingerprint(h)
    }
}

impl fmt::Display for Fingerprint {
    /// Sixteen lower-case hex digits, as Alertmanager prints them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
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
    fn empty_set_is_the_fnv_offset() {
        assert_eq!(Fingerprint::of(&BTreeMap::new()).0, OFFSET64);
    }

    #[test]
    fn order_of_insertion_does_not_matter_and_values_do() {
        let a = labels(&[("alertname", "NodeUnhealthy"), ("node", "n1")]);
        let b = labels(&[("node", "n1"), ("alertname", "NodeUnhealthy")]);
        assert_eq!(Fingerprint::of(&a), Fingerprint::of(&b));
        let c = labels(&[("alertname", "NodeUnhealthy"), ("node", "n2")]);
        assert_ne!(Fingerprint::of(&a), Fingerprint::of(&c));
        // The separator keeps `a=bc` and `ab=c` apart.
        assert_ne!(
            Fingerprint::of(&labels(&[("a", "bc")])),
            Fingerprint::of(&labels(&[("ab", "c")]))
        );
        assert_eq!(Fingerprint(0xab).to_string(), "00000000000000ab");
    }

    #[test]
    fn matches_a_hand_computed_fnv1a() {
        // FNV-1a of "a\xffb\xff", computed step by step.
        let mut h = OFFSET64;
        for b in [b'a', 0xff, b'b', 0xff] {
            h ^= u64::from(b);
            h = h.wrapping_mul(PRIME64);
        }
        assert_eq!(Fingerprint::of(&labels(&[("a", "b")])).0, h);
    }
}
