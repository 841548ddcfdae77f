//! Bounded per-(subject, signal) state: a ring of recent values, a cached
//! robust baseline (median and MAD) refreshed every few ticks, a CUSUM
//! accumulator for slow drifts, and running mean/variance for count tails.
//!
//! Memory is bounded by the ring capacity (4 bytes a value): with the
//! default 120 values about 0.5 KiB per (node, signal). A series whose
//! values were all the same so far (a quiet signal: 0 failed probes, 0 OOM
//! kills) holds them as one value and a count, and allocates its ring only
//! when a different value comes.

/// Default ring capacity (values); at a 30 s step, one hour of baseline.
pub const DEFAULT_CAPACITY: usize = 120;
/// Values needed before the own baseline is trusted.
pub const MIN_BASELINE: usize = 10;
/// Ticks between baseline refreshes once warm: medians are the costly part
/// of a tick, and a baseline that moves every 16 ticks (8 min at 30 s) is fresh enough.
const REFRESH_EVERY: u16 = 16;
/// Mean of |z| for Gaussian noise (√(2/π)): the calm series that
/// self-calibration compares against.
const NOISE_MEAN: f64 = 0.797_884_6;
/// The detectors' cap on a strength (`detectors::Z_CAP`).
const Z_CAP_SCORE: f64 = 99.0;

/// The streaming state of one (subject, signal).
#[derive(Clone, Debug)]
pub struct SeriesState {
    /// The values, oldest at `head` once full; empty (no capacity) while
    /// they are `run` copies of `same`.
    ring: Vec<f32>,
    /// How many values the ring holds implicitly, all equal to `same`
    /// (bit for bit); 0 once the ring is allocated.
    run: u32,
    same: f32,
    head: usize,
    cap: usize,
    /// Cached median of the ring.
    pub median: f64,
    /// Cached median absolute deviation of the ring.
    pub mad: f64,
    /// Cached mean of the ring.
    pub mean: f64,
    /// Cached variance of the ring.
    pub var: f64,
    /// Smallest value in the ring (kept current on every record).
    pub lo: f64,
    /// Largest value in the ring (kept current on every record).
    pub hi: f64,
    until_refresh: u16,
    /// CUSUM of standardized upward deviations.
    pub cusum_up: f64,
    /// CUSUM of standardized downward deviations.
    pub cusum_down: f64,
    /// Consecutive anomalous values kept out of the baseline.
    frozen: u32,
    /// Novelty detection: the baseline from before the current excursion
    /// began, and how long it has lasted.
    excursion: Option<(Reference, u32)>,
    /// Self-calibration: exponentially weighted mean of the subject's own
    /// recent raw strengths (robust |z| of every unflagged value), and how
    /// many fed it — see [`SeriesState::calibrated`].
    score_mean: f32,
    scores: u32,
}

/// A baseline's summary at one moment: what an excursion is judged against.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Reference {
    /// Median.
    pub median: f64,
    /// Median absolute deviation.
    pub mad: f64,
    /// Smallest value.
    pub lo: f64,
    /// Largest value.
    pub hi: f64,
}

impl SeriesState {
    /// A new state whose ring holds `cap` values; `stagger` spreads baseline
    /// refreshes of different series over different ticks.
    pub fn new(cap: usize, stagger: usize) -> Self {
        SeriesState {
            ring: Vec::new(),
            run: 0,
            same: 0.0,
            head: 0,
            cap: cap.max(1),
            median: 0.0,
            mad: 0.0,
            mean: 0.0,
            var: 0.0,
            lo: 0.0,
            hi: 0.0,
            until_refresh: (stagger % REFRESH_EVERY as usize) as u16,
            cusum_up: 0.0,
            cusum_down: 0.0,
            frozen: 0,
            excursion: None,
            score_mean: 0.0,
            scores: 0,
        }
    }

    /// Records one raw strength `z` (robust z of a value the detectors did
    /// not flag) into the subject's own score distribution. The weight is
    /// 1/n while fewer than a ring length fed it, then 1/ring: a window as
    /// long as the baseline, so there is no setting of its own.
    pub fn record_score(&mut self, z: f64) {
        if !z.is_finite() {
            return;
        }
        self.scores = self.scores.saturating_add(1);
        let w = 1.0 / (self.scores as f32).min(self.cap as f32);
        let z = z as f32;
        self.score_mean += w * (z - self.score_mean);
    }

    /// The anomaly likelihood idea (Numenta's, re-derived, not copied):
    /// judge a strength against the subject's *own* recent strengths. Since
    /// the robust z divides by the MAD, half of any series' |z| lie below
    /// 0.67 whatever its shape; their *mean* is what heavy tails raise
    /// (0.80 for Gaussian noise, several for a bursty count series that
    /// routinely reaches 5–20σ). `z` is scaled by `0.80 / mean` when the
    /// mean is above 0.80: a jumpy subject needs a proportionally larger
    /// excursion, a calm one keeps its `z`. Never above `z`; before
    /// [`MIN_BASELINE`] strengths were seen, `z` itself.
    pub fn calibrated(&self, z: f64) -> f64 {
        // A strength at the cap is beyond measure: no history makes it
        // ordinary (and a capped mean says nothing about how far it went).
        if (self.scores as usize) < MIN_BASELINE || z >= Z_CAP_SCORE {
            return z;
        }
        let m = self.score_mean as f64;
        z * (NOISE_MEAN / m.max(NOISE_MEAN))
    }

    /// [`SeriesState::calibrated`] once the subject's strengths have
    /// filled a ring length (the calibration's own window), `z` before.
    /// For the freezing robust-z baseline of node signals: calibrated from
    /// its 10th value, a node sick from its first minutes (the suite's
    /// `nodes-joining`, rblz) fed its fault's strengths into a mean of a
    /// handful of values, shrank every later strength by it and was
    /// never found (with 1 false alert and 1 false cordon elsewhere in the
    /// scenario). A young subject keeps its plain `z`.
    pub fn calibrated_settled(&self, z: f64) -> f64 {
        if (self.scores as usize) < self.cap {
            return z;
        }
        self.calibrated(z)
    }

    /// What a value is judged against for novelty: the baseline from
    /// before the current excursion, or the current one.
    pub fn reference(&self) -> Reference {
        match self.excursion {
            Some((r, _)) => r,
            None => Reference {
                median: self.median,
                mad: self.mad,
                lo: self.lo,
                hi: self.hi,
            },
        }
    }

    /// Records `x` for novelty detection: every value enters the baseline
    /// (so the range learns routine spikes), while an excursion (`novel`
    /// values in a row) keeps being judged against the baseline from before
    /// it — but only for [`MIN_BASELINE`] values. An excursion that lasts
    /// that long is a level shift: it has paged once, at its start, and is
    /// then the new baseline (its values are in the ring and the range), so
    /// it stops counting instead of holding the alert for a ring length,
    /// and what happens *on* the new level (a spike, a dip back) is news
    /// again. No setting of its own: a warm baseline's minimum.
    pub fn record_novelty(&mut self, x: f64, novel: bool) {
        if !x.is_finite() {
            return;
        }
        self.excursion = match (novel && self.warm(), self.excursion) {
            (false, _) => None,
            (true, Some((r, n))) if (n as usize + 1) < MIN_BASELINE => Some((r, n + 1)),
            (true, Some(_)) => None,
            (true, None) => Some((self.reference(), 1)),
        };
        self.record(x, false);
    }

    /// Values in the baseline.
    pub fn len(&self) -> usize {
        self.ring.len() + self.run as usize
    }

    /// True when no value was recorded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True once the baseline holds enough values to judge against.
    pub fn warm(&self) -> bool {
        self.len() >= MIN_BASELINE
    }

    /// Records `x` into the baseline unless it is `anomalous`: anomalies are
    /// kept out so a fault does not become "normal" within minutes, but only
    /// for one ring length, after which a lasting shift is accepted.
    pub fn record(&mut self, x: f64, anomalous: bool) {
        if !x.is_finite() {
            return;
        }
        if anomalous && self.warm() {
            self.frozen += 1;
            if (self.frozen as usize) < self.cap {
                return;
            }
        } else {
            self.frozen = 0;
        }
        if self.is_empty() {
            (self.lo, self.hi) = (x, x);
        } else {
            // Exact until the next refresh drops values that left the ring.
            (self.lo, self.hi) = (self.lo.min(x), self.hi.max(x));
        }
        let v = x as f32;
        if self.ring.is_empty() && (self.run == 0 || v.to_bits() == self.same.to_bits()) {
            // Still one value repeated: count it (the ring's head moves as
            // it would over identical values).
            self.same = v;
            if (self.run as usize) < self.cap {
                self.run += 1;
            } else {
                self.head = (self.head + 1) % self.cap;
            }
        } else {
            if self.ring.is_empty() {
                // A different value: the run becomes a real ring.
                self.ring = Vec::with_capacity(self.cap);
                self.ring.resize(self.run as usize, self.same);
                self.run = 0;
            }
            if self.ring.len() < self.cap {
                self.ring.push(v);
            } else {
                self.ring[self.head] = v;
                self.head = (self.head + 1) % self.cap;
            }
        }
        // Refresh every tick while warming up (the ring is small then), then
        // every REFRESH_EVERY ticks.
        if self.len() <= 2 * MIN_BASELINE {
            self.refresh();
        } else if self.until_refresh == 0 {
            self.refresh();
            self.until_refresh = REFRESH_EVERY - 1;
        } else {
            self.until_refresh -= 1;
        }
    }

    /// Recomputes median, MAD, mean and variance from the ring.
    pub fn refresh(&mut self) {
        let n = self.len();
        if n == 0 {
            return;
        }
        let mut buf = [0f32; 512];
        let mut heap;
        let v: &mut [f32] = if n <= buf.len() {
            for (d, x) in buf[..n].iter_mut().zip(self.values()) {
                *d = x;
            }
            &mut buf[..n]
        } else {
            heap = self.values().collect::<Vec<f32>>();
            &mut heap
        };
        self.median = median_in_place(v);
        (self.lo, self.hi) = v
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
                (lo.min(x as f64), hi.max(x as f64))
            });
        let sum: f64 = self.values().map(|x| x as f64).sum();
        self.mean = sum / n as f64;
        self.var = self
            .values()
            .map(|x| (x as f64 - self.mean).powi(2))
            .sum::<f64>()
            / n as f64;
        for x in v.iter_mut() {
            *x = (*x as f64 - self.median).abs() as f32;
        }
        self.mad = median_in_place(v);
    }

    /// The ring's values in storage order (a run of one value, or the
    /// allocated ring), as the statistics read them.
    fn values(&self) -> impl Iterator<Item = f32> + '_ {
        self.ring
            .iter()
            .copied()
            .chain(std::iter::repeat_n(self.same, self.run as usize))
    }

    /// Heap bytes held plus inline size (a quiet series holds no ring).
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.ring.capacity() * std::mem::size_of::<f32>()
    }

    /// The most [`SeriesState::bytes`] can be: a whole ring, for the
    /// memory budget.
    pub fn max_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.cap * std::mem::size_of::<f32>()
    }
}

/// Median of a slice (reorders it). Empty → 0.
pub fn median_in_place(v: &mut [f32]) -> f64 {
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    let cmp = |a: &f32, b: &f32| a.total_cmp(b);
    let (_, &mut hi, _) = v.select_nth_unstable_by(n / 2, cmp);
    if n % 2 == 1 {
        hi as f64
    } else {
        let lo = v[..n / 2].iter().copied().fold(f32::NEG_INFINITY, f32::max);
        (lo as f64 + hi as f64) / 2.0
    }
}

/// A small state warmed on 20 copies of `v` (ring 32), for detector tests.
#[cfg(test)]
pub(crate) fn warm_state(v: f64) -> SeriesState {
    let mut s = SeriesState::new(32, 0);
    for _ in 0..20 {
        s.record(v, false);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_mad_of_known_data() {
        let mut s = SeriesState::new(16, 0);
        for x in [1.0, 2.0, 3.0, 4.0, 100.0] {
            s.record(x, false);
        }
        assert_eq!(s.median, 3.0);
        // deviations 2,1,0,1,97 → median 1
        assert_eq!(s.mad, 1.0);
        assert!((s.mean - 22.0).abs() < 1e-9);
    }

    #[test]
    fn ring_is_bounded_and_forgets_oldest() {
        let mut s = SeriesState::new(4, 0);
        for x in 0..10 {
            s.record(x as f64, false);
        }
        s.refresh();
        assert_eq!(s.len(), 4);
        assert_eq!(s.median, 7.5); // 6,7,8,9
        assert!(s.bytes() < 4096);
    }

    #[test]
    fn anomalies_are_kept_out_for_one_ring_length() {
        let mut s = SeriesState::new(20, 0);
        for _ in 0..20 {
            s.record(1.0, false);
        }
        for _ in 0..19 {
            s.record(50.0, true);
        }
        s.refresh();
        assert_eq!(
            s.median, 1.0,
            "a fault must not become the baseline at once"
        );
        for _ in 0..20 {
            s.record(50.0, true);
        }
        s.refresh();
        assert_eq!(
            s.median, 50.0,
            "a lasting shift is accepted after a ring length"
        );
    }

    #[test]
    fn range_and_excursion_reference() {
        let mut s = SeriesState::new(12, 0);
        for x in [5.0, 1.0, 9.0, 3.0, 4.0, 6.0, 2.0, 8.0, 7.0, 5.0, 4.0, 6.0] {
            s.record_novelty(x, false);
        }
        assert_eq!((s.lo, s.hi), (1.0, 9.0));
        // An excursion is judged against the baseline from before it, even
        // though its values enter the ring (and move the range).
        s.record_novelty(50.0, true);
        s.record_novelty(55.0, true);
        assert_eq!(s.hi, 55.0);
        assert_eq!(s.reference().hi, 9.0);
        s.record_novelty(5.0, false);
        assert_eq!(
            s.reference().hi,
            55.0,
            "over: the ring is the reference again"
        );
        // Values that leave the ring leave the range at the next refresh.
        for _ in 0..12 {
            s.record_novelty(5.0, false);
        }
        s.refresh();
        assert_eq!((s.lo, s.hi), (5.0, 5.0));
    }

    #[test]
    fn calibration_shrinks_z_only_for_a_jumpy_subject() {
        // A calm subject: strengths like Gaussian noise keep their z.
        let mut calm = SeriesState::new(100, 0);
        assert_eq!(calm.calibrated(6.0), 6.0, "nothing learnt yet");
        for i in 0..200 {
            calm.record_score([0.2, 0.7, 1.4][i % 3]);
        }
        assert_eq!(calm.calibrated(6.0), 6.0);
        // A jumpy one whose strengths average 4 (routine 5–20σ bursts):
        // the same 6σ counts as 6 · 0.80 / 4 ≈ 1.2.
        let mut jumpy = SeriesState::new(100, 0);
        for i in 0..200 {
            jumpy.record_score([0.5, 0.5, 0.5, 14.5][i % 4]);
        }
        let c = jumpy.calibrated(6.0);
        assert!((c - 6.0 * NOISE_MEAN / 4.0).abs() < 0.05, "{c}");
        assert!(
            jumpy.calibrated(30.0) > 5.0,
            "a large excursion still counts"
        );
        jumpy.record_score(f64::NAN);
        assert!((jumpy.calibrated(6.0) - c).abs() < 1e-9, "NaN ignored");
    }

    #[test]
    fn settled_calibration_waits_for_a_ring_of_strengths() {
        // Jumpy from the start (mean strength 4): the plain calibration
        // shrinks from the 10th strength, the settled one only once a ring
        // (here 50) of strengths fed it.
        let mut s = SeriesState::new(50, 0);
        for i in 0..49 {
            s.record_score([0.5, 0.5, 0.5, 14.5][i % 4]);
        }
        assert!(s.calibrated(6.0) < 3.0);
        assert_eq!(s.calibrated_settled(6.0), 6.0, "young: plain z");
        s.record_score(0.5);
        assert_eq!(s.calibrated_settled(6.0), s.calibrated(6.0));
        assert!(s.calibrated_settled(6.0) < 3.0);
    }

    #[test]
    fn non_finite_values_are_ignored() {
        let mut s = SeriesState::new(8, 0);
        s.record(f64::NAN, false);
        s.record(f64::INFINITY, false);
        assert!(s.is_empty());
    }

    /// Statistics of a plain ring model (push until full, then overwrite
    /// the oldest), in storage order: what a run of one value must match.
    fn model_stats(ring: &[f32]) -> [u64; 4] {
        let mut v = ring.to_vec();
        let median = median_in_place(&mut v);
        let n = ring.len() as f64;
        let mean = ring.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = ring.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
        let mut d: Vec<f32> = ring
            .iter()
            .map(|&x| (x as f64 - median).abs() as f32)
            .collect();
        let mad = median_in_place(&mut d);
        [median, mad, mean, var].map(f64::to_bits)
    }

    #[test]
    fn a_quiet_series_holds_no_ring_until_a_different_value_comes() {
        let cap = 16;
        for switch_at in [3usize, 16, 40] {
            let mut s = SeriesState::new(cap, 0);
            let (mut ring, mut head) = (Vec::new(), 0);
            for t in 0..60usize {
                // 0.1 repeats (inexact in binary, so sums depend on order
                // and count), then other values from `switch_at` on.
                let x = if t < switch_at {
                    0.1
                } else {
                    (t % 7) as f64 * 0.3
                };
                s.record(x, false);
                if ring.len() < cap {
                    ring.push(x as f32);
                } else {
                    ring[head] = x as f32;
                    head = (head + 1) % cap;
                }
                s.refresh();
                let got = [s.median, s.mad, s.mean, s.var].map(f64::to_bits);
                assert_eq!(got, model_stats(&ring), "switch {switch_at}, tick {t}");
                assert_eq!(s.len(), ring.len());
                let allocated = s.bytes() > std::mem::size_of::<SeriesState>();
                assert_eq!(allocated, t >= switch_at, "switch {switch_at}, tick {t}");
            }
        }
    }
}
