//! The pick of `topk`/`bottomk` exactly as Prometheus 2.42 makes it: a
//! binary heap of `k` (Go's `container/heap`) over the group's members in
//! input order, an item replacing the heap's root only when strictly
//! better. With ties, which members survive depends on the heap's shape,
//! not only on input order, so a sort would pick differently.

use std::cmp::Ordering;

/// Indices (into `cands`) of the `k` members Prometheus keeps; `cands` is
/// `(member, value)` in input order.
pub(super) fn pick(cands: &[(usize, f64)], k: usize, largest: bool) -> Vec<usize> {
    if k == 0 {
        return Vec::new();
    }
    if cands.len() <= k {
        return cands.iter().map(|c| c.0).collect();
    }
    // Members better than the k-th best value always survive the heap; only
    // which of the members equal to it do depends on the heap's shape. So
    // when exactly enough of those tie, the pick is known in O(n).
    let order = |a: f64, b: f64| match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ if largest => b.partial_cmp(&a).unwrap_or(Ordering::Equal),
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    };
    let mut vals: Vec<f64> = cands.iter().map(|c| c.1).collect();
    let kth = *vals.select_nth_unstable_by(k - 1, |a, b| order(*a, *b)).1;
    let at_most_kth = cands
        .iter()
        .filter(|c| order(c.1, kth) != Ordering::Greater)
        .count();
    if at_most_kth == k {
        return cands
            .iter()
            .filter(|c| order(c.1, kth) != Ordering::Greater)
            .map(|c| c.0)
            .collect();
    }
    heap_pick(cands, k, largest)
}

/// The heap itself, for when members tie with the k-th best value.
fn heap_pick(cands: &[(usize, f64)], k: usize, largest: bool) -> Vec<usize> {
    // `less(a, b)`: a is the worse; the root is the worst kept. NaN is
    // always the worst (Go: `if math.IsNaN(h[i].V) { return true }`).
    let less = |a: f64, b: f64| a.is_nan() || if largest { a < b } else { a > b };
    let mut heap: Vec<(usize, f64)> = Vec::with_capacity(k);
    for &c in cands {
        if heap.len() < k {
            heap.push(c);
            let last = heap.len() - 1;
            up(&mut heap, last, &less);
        } else if k > 0 {
            let root = heap[0].1;
            let better = if largest { root < c.1 } else { root > c.1 };
            if better || (root.is_nan() && !c.1.is_nan()) {
                heap[0] = c;
                down(&mut heap, 0, &less);
            }
        }
    }
    heap.into_iter().map(|(m, _)| m).collect()
}

/// Go's `heap.up`.
fn up(h: &mut [(usize, f64)], mut j: usize, less: &impl Fn(f64, f64) -> bool) {
    while j > 0 {
        let i = (j - 1) / 2;
        if i == j || !less(h[j].1, h[i].1) {
            break;
        }
        h.swap(i, j);
        j = i;
    }
}

/// Go's `heap.down` (as used by `heap.Fix` on the root).
fn down(h: &mut [(usize, f64)], mut i: usize, less: &impl Fn(f64, f64) -> bool) {
    let n = h.len();
    loop {
        let j1 = 2 * i + 1;
        if j1 >= n {
            break;
        }
        let mut j = j1;
        if j1 + 1 < n && less(h[j1 + 1].1, h[j1].1) {
            j = j1 + 1;
        }
        if !less(h[j].1, h[i].1) {
            break;
        }
        h.swap(i, j);
        i = j;
    }
}

#[cfg(test)]
mod tests {
    use super::{heap_pick, pick};

    #[test]
    fn ties_follow_the_heap_not_the_input_order() {
        // Go: push a(1), b(1); c(2) replaces the root a: {b, c}.
        let mut kept = pick(&[(0, 1.0), (1, 1.0), (2, 2.0)], 2, true);
        kept.sort();
        assert_eq!(kept, vec![1, 2]);
        let mut kept = pick(&[(0, 1.0), (1, f64::NAN), (2, 0.5)], 2, false);
        kept.sort();
        assert_eq!(kept, vec![0, 2]);
        // Without ties at the boundary, the fast path picks the best k.
        let mut kept = pick(&[(0, 3.0), (1, 1.0), (2, 2.0), (3, f64::NAN)], 2, true);
        kept.sort();
        assert_eq!(kept, vec![0, 2]);
        let c: Vec<(usize, f64)> = (0..50).map(|i| (i, ((i * 7) % 13) as f64)).collect();
        for k in 1..12 {
            let mut a = pick(&c, k, false);
            let mut b = heap_pick(&c, k, false);
            a.sort();
            b.sort();
            assert_eq!(a, b, "k={k}");
        }
    }
}
