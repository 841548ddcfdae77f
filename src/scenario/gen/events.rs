//! Records Kubernetes Events and folds repeats exactly as the API delivers
//! them, so detectors are tested against the real wire shape:
//!
//! - a repeat of the same (source, object, type, reason, message) within the
//!   1 h event TTL updates the same object: same name, `count` + 1 and a later
//!   `lastTimestamp` (old style) or `series {count, lastObservedTime}` (new
//!   style); after the TTL a new object is created;
//! - every delivery is one line of `events.jsonl`, in delivery order, with a
//!   rising `resourceVersion`;
//! - about [`NEW_STYLE_SHARE`] of kubelet objects are new-style (`eventTime`,
//!   `reportingComponent`/`reportingInstance`, no `source.host`) and about
//!   [`HOSTLESS_SHARE`] of kubelet pod events name no node at all, so
//!   attribution must fall back to the pod's `spec.nodeName`.

use super::{micro_time, rfc3339_secs, NodeInfo, PodInfo};
use crate::k8s::{self, EventSeries, EventSource, ObjectMeta, ObjectReference};
use crate::scenario::rng::{hash_key, Rng};
use crate::time::Timestamp;
use std::collections::{HashMap, HashSet};

/// Share of kubelet event objects written new-style.
pub const NEW_STYLE_SHARE: f64 = 0.3;
/// Share of kubelet pod event objects written with no reporting node.
pub const HOSTLESS_SHARE: f64 = 0.1;
/// How long the API server keeps an event after its last update.
const EVENT_TTL_MS: i64 = 3_600_000;

/// `Normal` or `Warning`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// Routine.
    Normal,
    /// Something went wrong.
    Warning,
}

/// The object an event is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Involved {
    /// `Pod` or `Node`.
    pub kind: &'static str,
    /// Namespace (empty for nodes).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Uid.
    pub uid: String,
}

impl Involved {
    /// The pod `p`.
    pub fn pod(p: &PodInfo) -> Self {
        Involved {
            kind: "Pod",
            namespace: p.namespace.clone(),
            name: p.name.clone(),
            uid: p.uid.clone(),
        }
    }

    /// The node `n`.
    pub fn node(n: &NodeInfo) -> Self {
        Involved {
            kind: "Node",
            namespace: String::new(),
            name: n.name.clone(),
            uid: n.uid.clone(),
        }
    }
}

#[derive(Clone, Debug)]
struct Occurrence {
    at: Timestamp,
    involved: Involved,
    type_: EventType,
    reason: String,
    message: String,
    component: &'static str,
    host: String,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Style {
    Legacy,
    Series,
    Hostless,
}

struct Live {
    event: k8s::Event,
    style: Style,
    count: i64,
    last: Timestamp,
}

/// Collects occurrences in any order; [`EventRecorder::finish`] sorts them by
/// time (stably) and folds them into deliveries.
#[derive(Debug)]
pub struct EventRecorder {
    seed: u64,
    occurrences: Vec<Occurrence>,
}

impl EventRecorder {
    /// An empty recorder; styles, names and uids derive from `seed`.
    pub fn new(seed: u64) -> Self {
        EventRecorder {
            seed,
            occurrences: Vec::new(),
        }
    }

    /// Occurrences recorded so far.
    pub fn len(&self) -> usize {
        self.occurrences.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.occurrences.is_empty()
    }

    /// One occurrence reported by `component` on `host` (empty: no host).
    #[allow(clippy::too_many_arguments)] // The fields of an event; named at each call.
    pub fn record(
        &mut self,
        at: Timestamp,
        involved: Involved,
        component: &'static str,
        host: &str,
        type_: EventType,
        reason: &str,
        message: &str,
    ) {
        self.occurrences.push(Occurrence {
            at,
            involved,
            type_,
            reason: reason.to_string(),
            message: message.to_string(),
            component,
            host: host.to_string(),
        });
    }

    /// A kubelet event about pod `p`, reported from the pod's node.
    pub fn kubelet(
        &mut self,
        at: Timestamp,
        p: &PodInfo,
        type_: EventType,
        reason: &str,
        message: &str,
    ) {
        self.record(
            at,
            Involved::pod(p),
            "kubelet",
            &p.node,
            type_,
            reason,
            message,
        );
    }

    /// The same kubelet event about `p` repeated from `from` until before
    /// `to`, every `min_ms..max_ms` (drawn from `rng`), as a kubelet repeats
    /// a failing probe or sync.
    #[allow(clippy::too_many_arguments)] // As for `record`, plus the cadence.
    pub fn kubelet_repeat(
        &mut self,
        rng: &mut Rng,
        p: &PodInfo,
        from: Timestamp,
        to: Timestamp,
        (min_ms, max_ms): (i64, i64),
        type_: EventType,
        reason: &str,
        message: &str,
    ) {
        let mut t = Timestamp(from.0 + rng.range(0, max_ms.max(1)));
        while t < to {
            self.kubelet(t, p, type_, reason, message);
            t = Timestamp(t.0 + rng.range(min_ms.max(1), max_ms.max(min_ms + 1)));
        }
    }

    /// Folds everything recorded into deliveries, in delivery order.
    pub fn finish(mut self) -> Vec<k8s::Event> {
        self.occurrences.sort_by_key(|o| o.at);
        let mut live: HashMap<String, Live> = HashMap::new();
        let mut names: HashSet<String> = HashSet::new();
        let mut rv_rng = Rng::from_key(self.seed, "resourceVersion");
        let mut rv: u64 = 41_000_000;
        let mut out = Vec::with_capacity(self.occurrences.len());
        for o in self.occurrences {
            let key = format!(
                "{}\u{1}{}\u{1}{}\u{1}{}\u{1}{}\u{1}{:?}\u{1}{}\u{1}{}",
                o.component,
                o.host,
                o.involved.kind,
                o.involved.namespace,
                o.involved.uid,
                o.type_,
                o.reason,
                o.message
            );
            rv += 1 + rv_rng.range(0, 4) as u64;
            let entry = live
                .get_mut(&key)
                .filter(|l| o.at.0 - l.last.0 < EVENT_TTL_MS);
            let ev = match entry {
                Some(l) => {
                    l.count += 1;
                    l.last = o.at;
                    match l.style {
                        Style::Series => {
                            l.event.series = Some(EventSeries {
                                count: l.count,
                                last_observed_time: Some(micro_time(o.at)),
                            });
                        }
                        Style::Legacy | Style::Hostless => {
                            l.event.count = Some(l.count);
                            l.event.last_timestamp = Some(rfc3339_secs(o.at));
                        }
                    }
                    l.event.metadata.resource_version = rv.to_string();
                    l.event.clone()
                }
                None => {
                    let l = new_object(self.seed, &key, &o, rv, &mut names);
                    let ev = l.event.clone();
                    live.insert(key, l);
                    ev
                }
            };
            out.push(ev);
        }
        out
    }
}

/// A fresh event object for occurrence `o`.
fn new_object(seed: u64, key: &str, o: &Occurrence, rv: u64, names: &mut HashSet<String>) -> Live {
    let mut r = Rng::new(hash_key(seed, &format!("{key}@{}", o.at.0)));
    let roll = r.f64();
    let kubelet = o.component == "kubelet" && !o.host.is_empty();
    let style = if kubelet && roll < NEW_STYLE_SHARE {
        Style::Series
    } else if kubelet && o.involved.kind == "Pod" && roll < NEW_STYLE_SHARE + HOSTLESS_SHARE {
        Style::Hostless
    } else {
        Style::Legacy
    };
    // Kubernetes names events `<object>.<UnixNano of the first occurrence, hex>`.
    let mut nanos = (o.at.0 as u64)
        .wrapping_mul(1_000_000)
        .wrapping_add(r.range(0, 1_000_000) as u64);
    let mut name = format!("{}.{nanos:016x}", o.involved.name);
    while !names.insert(name.clone()) {
        nanos += 1;
        name = format!("{}.{nanos:016x}", o.involved.name);
    }
    let namespace = if o.involved.namespace.is_empty() {
        "default".to_string()
    } else {
        o.involved.namespace.clone()
    };
    let mut event = k8s::Event {
        metadata: ObjectMeta {
            name,
            namespace,
            uid: r.uuid(),
            resource_version: rv.to_string(),
            creation_timestamp: Some(rfc3339_secs(o.at)),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            kind: o.involved.kind.to_string(),
            namespace: o.involved.namespace.clone(),
            name: o.involved.name.clone(),
            uid: o.involved.uid.clone(),
        },
        reason: o.reason.clone(),
        message: o.message.clone(),
        type_: format!("{:?}", o.type_),
        ..k8s::Event::default()
    };
    match style {
        Style::Series => {
            event.reporting_component = o.component.to_string();
            event.reporting_instance = o.host.clone();
            event.event_time = Some(micro_time(o.at));
        }
        Style::Legacy | Style::Hostless => {
            let host = if style == Style::Hostless {
                String::new()
            } else {
                o.host.clone()
            };
            event.source = EventSource {
                component: o.component.to_string(),
                host,
            };
            event.count = Some(1);
            event.first_timestamp = Some(rfc3339_secs(o.at));
            event.last_timestamp = Some(rfc3339_secs(o.at));
        }
    }
    Live {
        event,
        style,
        count: 1,
        last: o.at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::gen::Cluster;

    #[test]
    fn repeats_fold_until_the_ttl() {
        let mut c = Cluster::new(3);
        c.add_node("n1", "z", "p", Timestamp(0), 1);
        let i = c.add_pod("ns", "web", "web", "n1", Timestamp(0));
        let p = c.pods[i].clone();
        let mut ev = EventRecorder::new(3);
        // Recorded out of order on purpose: finish() sorts by time.
        for s in [30, 0, 10, 20] {
            ev.kubelet(
                Timestamp(s * 60_000),
                &p,
                EventType::Warning,
                "Unhealthy",
                "probe failed",
            );
        }
        ev.kubelet(
            Timestamp(95 * 60_000),
            &p,
            EventType::Warning,
            "Unhealthy",
            "probe failed",
        );
        ev.record(
            Timestamp(1),
            Involved::pod(&p),
            "default-scheduler",
            "",
            EventType::Normal,
            "Scheduled",
            "ok",
        );
        let out = ev.finish();
        assert_eq!(out.len(), 6);
        assert_eq!(out[0].reason, "Unhealthy");
        assert_eq!(out[1].reason, "Scheduled");
        assert_eq!(out[1].reporting_node(), None);
        let folded: Vec<&k8s::Event> = out.iter().filter(|e| e.reason == "Unhealthy").collect();
        let counts: Vec<i64> = folded.iter().map(|e| e.total_count()).collect();
        assert_eq!(
            counts,
            vec![1, 2, 3, 4, 1],
            "a new object after the 1 h TTL"
        );
        assert!(folded[..4]
            .iter()
            .all(|e| e.metadata.name == folded[0].metadata.name));
        assert_ne!(folded[4].metadata.name, folded[0].metadata.name);
        assert!(
            folded[0].metadata.name.starts_with("web.") && folded[0].metadata.name.len() == 4 + 16
        );
        let rvs: Vec<u64> = out
            .iter()
            .filter_map(|e| e.metadata.resource_version.parse().ok())
            .collect();
        assert!(rvs.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(
            folded[3].last_seen().map(|s| &s[..16]),
            Some("1970-01-01T00:30")
        );
    }
}
