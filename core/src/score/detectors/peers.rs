//! Peers (`peers`): robust z of a node's value against the other nodes at
//! the same instant. Its level only counts where the own baseline agrees
//! (or, for signals without one, alone): see
//! [`assess`](crate::score::node::assess).

use super::{level, robust_z, Input};
use crate::catalog::DetectConfig;
use crate::score::baseline::median_in_place;
use crate::score::node::{fmt, Evidence};

/// Median and MAD of one signal across nodes at one instant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PeerStats {
    /// Median across nodes.
    pub median: f64,
    /// MAD across nodes.
    pub mad: f64,
    /// Nodes with a value.
    pub n: usize,
}

/// Fewest nodes for a peer comparison to mean anything.
pub const MIN_PEERS: usize = 3;

/// Runs for `peers` signals.
pub(super) fn applies(cfg: &DetectConfig) -> bool {
    cfg.peers
}

/// The strength against the peers (`ev.peer_z`) and its level; `None`
/// without peer statistics (too few peers, a workload signal).
pub(super) fn run(input: &Input, ev: &mut Evidence) -> Option<f64> {
    let (cfg, p) = (input.cfg, input.peers?);
    let z = robust_z(input.x, p.median, p.mad, cfg.mad_floor, cfg.direction);
    ev.peer_z = Some(z);
    Some(level(z, cfg.z))
}

/// "18.0σ from peers (median 0.01 of 8 nodes)".
pub(super) fn explain(ev: &Evidence) -> Option<String> {
    let (z, p) = (ev.peer_z?, ev.peers?);
    Some(format!(
        "{z:.1}σ from peers (median {} of {} nodes)",
        fmt(p.median),
        p.n
    ))
}

/// Peer statistics of the finite values, or `None` with fewer than
/// [`MIN_PEERS`]. `scratch` is reused between calls to avoid allocating.
pub fn peer_stats(values: impl Iterator<Item = f64>, scratch: &mut Vec<f32>) -> Option<PeerStats> {
    scratch.clear();
    scratch.extend(values.filter(|v| v.is_finite()).map(|v| v as f32));
    let n = scratch.len();
    if n < MIN_PEERS {
        return None;
    }
    let median = median_in_place(scratch);
    for x in scratch.iter_mut() {
        *x = (*x as f64 - median).abs() as f32;
    }
    let mad = median_in_place(scratch);
    Some(PeerStats { median, mad, n })
}

/// Median of the finite values with at least [`MIN_PEERS`] of them (the
/// peers' common movement, where their spread is not needed).
pub fn peer_median(values: impl Iterator<Item = f64>, scratch: &mut Vec<f32>) -> Option<f64> {
    scratch.clear();
    scratch.extend(values.filter(|v| v.is_finite()).map(|v| v as f32));
    (scratch.len() >= MIN_PEERS).then(|| median_in_place(scratch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_need_three_nodes() {
        let mut scratch = Vec::new();
        assert!(peer_stats([1.0, 2.0].into_iter(), &mut scratch).is_none());
        let p = peer_stats([1.0, 2.0, 3.0, f64::NAN, 10.0].into_iter(), &mut scratch).unwrap();
        assert_eq!(p.n, 4);
        assert_eq!(p.median, 2.5);
        assert_eq!(p.mad, 1.0); // deviations 1.5, .5, .5, 7.5 → 1.0
        assert_eq!(
            peer_median([1.0, f64::NAN, 3.0].into_iter(), &mut scratch),
            None
        );
        assert_eq!(
            peer_median([1.0, 2.0, 3.0, 10.0].into_iter(), &mut scratch),
            Some(2.5)
        );
    }

    #[test]
    fn no_verdict_without_peer_statistics() {
        let cfg = DetectConfig::default();
        let mut input = Input {
            cfg: &cfg,
            x: 9.0,
            peers: None,
            count_tail: false,
            common_drift: 0.0,
        };
        let mut ev = Evidence::default();
        assert_eq!(run(&input, &mut ev), None);
        assert_eq!((ev.peer_z, explain(&ev)), (None, None));
        let p = PeerStats {
            median: 1.0,
            mad: 0.0,
            n: 5,
        };
        input.peers = Some(p);
        ev.peers = Some(p);
        // Floor 1: (9 − 1) / 1 = 8σ, twice z = 4.
        assert_eq!(run(&input, &mut ev), Some(1.0));
        assert_eq!(
            explain(&ev).as_deref(),
            Some("8.0σ from peers (median 1 of 5 nodes)")
        );
    }
}
