//! The windows of a range selector, read once per series: consecutive
//! steps' windows overlap (a 5 m range at a 30 s step shares 9 of its 10
//! samples with the next), so each step's window is a slice of the samples
//! read for the earlier steps, not a fresh copy. For a one-series
//! `rate(x[5m])` over an hour this was most of the evaluation's time.

use std::ops::Range;

/// One series' samples, decoded once for all of a query's windows:
/// consecutive steps' windows overlap (a 5 m range at a 30 s step shares
/// 9 of its 10 samples with the next), so each window is a slice of what
/// the earlier ones already read rather than a fresh copy.
#[derive(Default)]
pub(super) struct Decoded {
    ticks: Vec<u64>,
    samples: Vec<(i64, f64)>,
    /// First tick not read yet (everything before it is in `samples`,
    /// back to `from`).
    next: u64,
    from: u64,
}

impl Decoded {
    /// Forgets the samples (before the next series).
    pub(super) fn clear(&mut self) {
        self.ticks.clear();
        self.samples.clear();
        (self.next, self.from) = (0, 0);
    }

    /// The samples of global ticks `w`, reading the ticks not read yet
    /// with `read`. Windows come in step order (starts and ends never move
    /// back); one that does starts over, so the result never depends on it.
    pub(super) fn window(
        &mut self,
        w: Range<u64>,
        mut read: impl FnMut(u64) -> Option<(i64, f64)>,
    ) -> &[(i64, f64)] {
        if w.start < self.from || w.start > self.next || self.samples.is_empty() {
            self.clear();
            (self.next, self.from) = (w.start, w.start);
        }
        for g in self.next.max(w.start)..w.end {
            if let Some(p) = read(g) {
                self.ticks.push(g);
                self.samples.push(p);
            }
        }
        self.next = self.next.max(w.end);
        let lo = self.ticks.partition_point(|&g| g < w.start);
        let hi = self.ticks.partition_point(|&g| g < w.end);
        &self.samples[lo..hi]
    }
}

#[cfg(test)]
mod tests {
    use super::Decoded;
    use std::ops::Range;

    /// Ticks 0..100, a sample on every tick not divisible by 3, worth g.
    fn read(g: u64, reads: &mut usize) -> Option<(i64, f64)> {
        *reads += 1;
        (!g.is_multiple_of(3)).then_some((g as i64 * 1000, g as f64))
    }

    fn naive(w: Range<u64>) -> Vec<(i64, f64)> {
        w.filter_map(|g| read(g, &mut 0)).collect()
    }

    #[test]
    fn each_window_holds_exactly_its_ticks_samples() {
        let cases: [&[Range<u64>]; 4] = [
            // Overlapping steps, as a range query reads them.
            &[0..10, 1..11, 2..12, 3..13, 20..30],
            // Disjoint windows (a step longer than the range) and an empty one.
            &[0..2, 10..12, 12..12, 40..45],
            // Windows that move back (never from a range query) start over.
            &[50..60, 10..20, 15..25, 15..18],
            // The same window again (`@` pins every step to one time).
            &[5..9, 5..9, 5..9],
        ];
        for windows in cases {
            let mut d = Decoded::default();
            for w in windows {
                let got = d.window(w.clone(), |g| read(g, &mut 0)).to_vec();
                assert_eq!(got, naive(w.clone()), "window {w:?} of {windows:?}");
            }
        }
    }

    #[test]
    fn overlapping_windows_read_each_tick_once() {
        let (mut d, mut reads) = (Decoded::default(), 0);
        for s in 0..91 {
            d.window(s..s + 10, |g| read(g, &mut reads));
        }
        assert_eq!(reads, 100, "ticks 0..100, each read once");
        d.clear();
        d.window(0..10, |g| read(g, &mut reads));
        assert_eq!(reads, 110, "a cleared reader reads again");
    }
}
