//! Top contributors of one (node, event signal): which workloads and pods
//! the counted events were about, so an alert can say "95% from
//! prod/jupyter-demo-*" or "from prod/grafana-42xf…" instead of only "64
//! pods". Events are credited to the pod's workload (its name without the
//! generated suffixes), so a hundred failing replicas fill one slot, not a
//! hundred. Memory is a small fixed number of slots per window
//! (Space-Saving: a workload that makes up more than 1/[`TOP_K`] of the
//! increments is always kept), never a per-pod map on outside input.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

/// Slots kept per (node, signal).
pub const TOP_K: usize = 4;
/// Longest object name kept (longer names are cut on a char boundary).
pub const MAX_NAME: usize = 120;

#[derive(Clone, Debug)]
struct Slot {
    /// Hash of namespace and workload.
    key: u64,
    /// `namespace/pod` of the first pod credited.
    pod: Box<str>,
    /// Hash of that pod (to notice a second one).
    object: u64,
    /// Whether more than one pod of the workload was credited.
    several: bool,
    /// Increments credited to the slot, including `err`.
    count: u32,
    /// Increments inherited from the slot's previous holder (an upper bound
    /// of how much of `count` is not really this workload's).
    err: u32,
    /// Last tick with a hit.
    tick: u64,
}

impl Slot {
    /// The pod's name when it was the only one, else `namespace/workload-*`.
    fn name(&self) -> String {
        if !self.several {
            return self.pod.to_string();
        }
        let (ns, pod) = self.pod.split_once('/').unwrap_or(("", &self.pod));
        let wl = workload_of(pod);
        let star = if wl.len() < pod.len() { "-*" } else { "" };
        match ns {
            "" => format!("{wl}{star}"),
            ns => format!("{ns}/{wl}{star}"),
        }
    }
}

/// A bounded top-k of contributing workloads by increments.
#[derive(Clone, Debug, Default)]
pub struct TopK {
    slots: Vec<Slot>,
}

impl TopK {
    /// Credits `increments` at `tick` to pod `name` in `namespace` (hashed
    /// as `object`); names are only copied when its workload takes a slot.
    pub fn add(
        &mut self,
        tick: u64,
        (namespace, name): (&str, &str),
        object: u64,
        increments: u32,
    ) {
        let mut h = DefaultHasher::new();
        namespace.hash(&mut h);
        workload_of(name).hash(&mut h);
        let key = h.finish();
        if let Some(s) = self.slots.iter_mut().find(|s| s.key == key) {
            s.count = s.count.saturating_add(increments);
            s.several |= s.object != object;
            s.tick = tick;
            return;
        }
        let slot = |count: u32, err: u32| Slot {
            key,
            pod: cut(match namespace {
                "" => name.to_string(),
                ns => format!("{ns}/{name}"),
            })
            .into_boxed_str(),
            object,
            several: false,
            count,
            err,
            tick,
        };
        if self.slots.len() < TOP_K {
            self.slots.push(slot(increments, 0));
            return;
        }
        // Space-Saving: the new workload takes the weakest slot and
        // inherits its count as possible error.
        if let Some(min) = self.slots.iter_mut().min_by_key(|s| s.count) {
            let floor = min.count;
            *min = slot(floor.saturating_add(increments), floor);
        }
    }

    /// Drops workloads with no hit since tick `oldest` (left the window).
    pub fn expire(&mut self, oldest: u64) {
        self.slots.retain(|s| s.tick >= oldest);
    }

    /// The kept workloads (or single pods) with their guaranteed
    /// increments (count minus inherited error), largest first; those with
    /// none are left out.
    pub fn top(&self) -> Vec<(String, u32)> {
        let mut v: Vec<(String, u32)> = self
            .slots
            .iter()
            .filter(|s| s.count > s.err)
            .map(|s| (s.name(), s.count - s.err))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }

    /// Whether no workload is kept.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Bytes held on the heap now (slots and names).
    pub fn bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot>()
            + self.slots.iter().map(|s| s.pod.len()).sum::<usize>()
    }

    /// Bytes held at most (for the memory budget).
    pub const fn max_bytes() -> usize {
        TOP_K * (std::mem::size_of::<Slot>() + MAX_NAME)
    }
}

fn cut(mut s: String) -> String {
    if s.len() > MAX_NAME {
        let mut end = MAX_NAME;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// The workload a pod belongs to, by stripping the generated parts of its
/// name (`hub-989cc9bd-5qdcb` → `hub`, `jupyter-demo-8uk5b37j` →
/// `jupyter-demo`): a last segment of 5–10 lowercase letters and digits
/// containing a digit, at most twice; failing that, one such segment
/// without digits when what is left still has a dash (`jupyter-demo-omtkjeko`
/// → `jupyter-demo`, but `kube-proxy` stays). A heuristic (events carry no
/// owner references), used only for words.
pub fn workload_of(pod: &str) -> &str {
    // The name without a generated-looking last segment, and whether that
    // segment had a digit.
    fn split(name: &str) -> Option<(&str, bool)> {
        let (head, tail) = name.rsplit_once('-')?;
        let generated = (5..=10).contains(&tail.len())
            && tail
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && !head.is_empty();
        generated.then(|| (head, tail.bytes().any(|b| b.is_ascii_digit())))
    }
    let mut name = pod;
    for _ in 0..2 {
        match split(name) {
            Some((head, true)) => name = head,
            _ => break,
        }
    }
    if name.len() == pod.len() {
        if let Some((head, false)) = split(name) {
            if head.contains('-') {
                return head;
            }
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_heavy_hitters_within_k_slots() {
        let mut t = TopK::default();
        for tick in 0..100u64 {
            // One pod makes up half of all increments; the rest are pods
            // of many distinct (unreplicated) workloads, one each.
            t.add(tick, ("prod", "hub-989cc9bd-5qdcb"), 1, 2);
            t.add(tick, ("prod", &format!("user{tick}")), 1000 + tick, 1);
            t.add(tick, ("prod", &format!("other{tick}")), 5000 + tick, 1);
        }
        let top = t.top();
        assert!(t.slots.len() <= TOP_K);
        assert_eq!(top[0], ("prod/hub-989cc9bd-5qdcb".to_string(), 200));
        // Guaranteed counts never exceed what was really added.
        assert!(top[1..].iter().all(|(_, c)| *c <= 1), "{top:?}");
    }

    #[test]
    fn replicas_of_one_workload_share_a_slot() {
        let mut t = TopK::default();
        for k in 0..50u64 {
            t.add(1, ("prod", &format!("jupyter-demo-{k:02}a4bcd")), k, 1);
        }
        t.add(1, ("prod", "grafana-42xfdkscbr-7wcg8"), 99, 3);
        assert_eq!(
            t.top(),
            vec![
                ("prod/jupyter-demo-*".to_string(), 50),
                ("prod/grafana-42xfdkscbr-7wcg8".to_string(), 3)
            ]
        );
    }

    #[test]
    fn expires_what_left_the_window_and_cuts_long_names() {
        let mut t = TopK::default();
        t.add(1, ("", &"a".repeat(500)), 1, 3);
        t.add(5, ("prod", "b"), 2, 1);
        assert_eq!(t.top()[0].0.len(), MAX_NAME);
        t.expire(3);
        assert_eq!(t.top(), vec![("prod/b".to_string(), 1)]);
    }

    #[test]
    fn workload_names_drop_generated_suffixes_only() {
        assert_eq!(workload_of("hub-989cc9bd-5qdcb"), "hub");
        assert_eq!(
            workload_of("jupyter-jupyterlab-demo-8uk5b37j"),
            "jupyter-jupyterlab-demo"
        );
        assert_eq!(workload_of("jupyter-demo-omtkjeko"), "jupyter-demo");
        assert_eq!(workload_of("kube-proxy"), "kube-proxy");
        assert_eq!(workload_of("nginx-ingress"), "nginx-ingress");
        assert_eq!(workload_of("x-12345"), "x");
        assert_eq!(workload_of("12345"), "12345");
    }
}
