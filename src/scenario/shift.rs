//! Moving a whole scenario in time: `nodewatch demo` replays the 2018
//! Binder incident (or any `--scenario`) shifted so that it happens now,
//! where Grafana's "last 6 hours" and `promtool query instant` (which asks
//! at the wall clock) look.
//!
//! Every timestamp moves by the same whole number of steps: the window and
//! truth in `scenario.yaml`, node, pod and event creation times, event
//! occurrence times and every metric sample. Nothing in the pipeline reads
//! the time of day or the day of the week (the NAB harness's daily change
//! is not part of it), and every computation takes differences of integer
//! milliseconds, so a shifted replay alerts, cordons and scores exactly as
//! the original, each at its own time plus the shift.

use super::{Meta, Scenario};
use crate::k8s;
use crate::time::{Duration, Timestamp};

/// The shift, a whole number of `meta.step`s, that puts the scenario's tick
/// `last` at or just before `lands_at` (less than one step before it), so
/// no tick is ever in the future of `lands_at`. Zero for a step that is not
/// positive (the reader refuses those).
pub fn shift_landing(meta: &Meta, last: Timestamp, lands_at: Timestamp) -> Duration {
    let step = meta.step.0;
    if step <= 0 {
        return Duration(0);
    }
    Duration(
        lands_at
            .0
            .saturating_sub(last.0)
            .div_euclid(step)
            .saturating_mul(step),
    )
}

impl Scenario {
    /// Moves every timestamp of the scenario by `by` (negative moves it
    /// back). A timestamp that does not parse is left as it is: the replay
    /// treats it as it would have unshifted (an event without a usable time
    /// is delivered at once; a node without one exists from the start).
    pub fn shift(&mut self, by: Duration) {
        if by.0 == 0 {
            return;
        }
        let meta = &mut self.meta;
        for t in [&mut meta.start, &mut meta.end] {
            *t = add(*t, by);
        }
        for f in &mut meta.truth.faulty_nodes {
            (f.from, f.to) = (add(f.from, by), add(f.to, by));
        }
        for i in &mut meta.truth.cluster_incidents {
            (i.from, i.to) = (add(i.from, by), add(i.to, by));
        }
        for n in &mut self.nodes {
            shift_text(&mut n.metadata.creation_timestamp, by);
            for t in &mut n.spec.taints {
                shift_text(&mut t.time_added, by);
            }
        }
        for p in &mut self.pods {
            shift_text(&mut p.metadata.creation_timestamp, by);
        }
        for c in &mut self.node_changes {
            c.at = add(c.at, by);
            shift_text(&mut c.object.metadata.creation_timestamp, by);
            for t in &mut c.object.spec.taints {
                shift_text(&mut t.time_added, by);
            }
        }
        for e in &mut self.events {
            shift_event(e, by);
        }
        for family in &mut self.metrics {
            for series in &mut family.series {
                for (t, _) in &mut series.samples {
                    *t = t.saturating_add(by.0);
                }
            }
        }
    }
}

/// Moves every time of one event by `by` (a streamed replay shifts each
/// event as it reads it).
pub(super) fn shift_event(e: &mut k8s::Event, by: Duration) {
    if by.0 == 0 {
        return;
    }
    shift_text(&mut e.metadata.creation_timestamp, by);
    shift_text(&mut e.first_timestamp, by);
    shift_text(&mut e.last_timestamp, by);
    shift_text(&mut e.event_time, by);
    if let Some(s) = &mut e.series {
        shift_text(&mut s.last_observed_time, by);
    }
}

fn add(t: Timestamp, by: Duration) -> Timestamp {
    Timestamp(t.0.saturating_add(by.0))
}

/// Shifts an RFC 3339 text in place, keeping its sub-millisecond digits
/// (MicroTime); leaves text that does not parse, or would leave the
/// representable range, unchanged.
fn shift_text(text: &mut Option<String>, by: Duration) {
    let Some(s) = text else { return };
    let Ok(t) = s.trim().parse::<jiff::Timestamp>() else {
        return;
    };
    if let Ok(moved) = t.checked_add(jiff::SignedDuration::from_millis(by.0)) {
        *s = moved.to_string();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s;
    use crate::scenario::{Family, FaultyNode, Incident, Series, Truth};

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    fn sample() -> Scenario {
        let mut node = k8s::Node::default();
        node.metadata.creation_timestamp = Some("2018-02-20T11:00:00Z".into());
        let mut pod = k8s::Pod::default();
        pod.metadata.creation_timestamp = Some("not a time".into());
        let event = k8s::Event {
            first_timestamp: Some("2018-02-20T12:00:00Z".into()),
            last_timestamp: Some("2018-02-20T12:01:00Z".into()),
            event_time: Some("2018-02-20T12:00:00.123456Z".into()),
            series: Some(k8s::EventSeries {
                count: 2,
                last_observed_time: Some("2018-02-20T12:02:00.000001Z".into()),
            }),
            ..Default::default()
        };
        Scenario {
            meta: Meta {
                name: "s".into(),
                description: String::new(),
                start: ts("2018-02-20T12:00:00Z"),
                end: ts("2018-02-20T13:00:00Z"),
                step: Duration::secs(30),
                maintenance_windows: Vec::new(),
                truth: Truth {
                    faulty_nodes: vec![FaultyNode {
                        node: "n".into(),
                        from: ts("2018-02-20T12:10:00Z"),
                        to: ts("2018-02-20T12:20:00Z"),
                        kind: String::new(),
                    }],
                    cluster_incidents: vec![Incident {
                        from: ts("2018-02-20T12:30:00Z"),
                        to: ts("2018-02-20T12:40:00Z"),
                        kind: String::new(),
                    }],
                    never_cordon: "all-healthy".into(),
                },
            },
            node_changes: vec![crate::scenario::NodeChange {
                at: ts("2018-02-20T12:05:00Z"),
                kind: "MODIFIED".into(),
                object: {
                    let mut n = node.clone();
                    n.spec.taints.push(k8s::Taint {
                        key: "cloud.google.com/impending-node-termination".into(),
                        effect: "NoExecute".into(),
                        time_added: Some("2018-02-20T12:05:00Z".into()),
                        ..Default::default()
                    });
                    n
                },
            }],
            nodes: vec![node],
            pods: vec![pod],
            events: vec![event],
            metrics: vec![Family {
                series: vec![Series {
                    labels: vec![],
                    samples: vec![(ts("2018-02-20T12:00:00Z").0, 1.0)],
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn every_timestamp_moves_and_moving_back_restores_the_scenario() {
        let original = sample();
        let mut s = original.clone();
        let day = Duration(86_400_000);
        s.shift(day);
        assert_eq!(s.meta.start, ts("2018-02-21T12:00:00Z"));
        assert_eq!(s.meta.end, ts("2018-02-21T13:00:00Z"));
        assert_eq!(s.meta.truth.faulty_nodes[0].to, ts("2018-02-21T12:20:00Z"));
        assert_eq!(
            s.meta.truth.cluster_incidents[0].from,
            ts("2018-02-21T12:30:00Z")
        );
        let created = s.nodes[0].metadata.creation_timestamp.as_deref();
        assert_eq!(created, Some("2018-02-21T11:00:00Z"));
        assert_eq!(
            s.pods[0].metadata.creation_timestamp.as_deref(),
            Some("not a time"),
            "unparseable text is left alone"
        );
        let c = &s.node_changes[0];
        assert_eq!(c.at, ts("2018-02-21T12:05:00Z"));
        let added = c.object.spec.taints[0].time_added.as_deref();
        assert_eq!(added, Some("2018-02-21T12:05:00Z"));
        let e = &s.events[0];
        assert_eq!(e.event_time.as_deref(), Some("2018-02-21T12:00:00.123456Z"));
        assert_eq!(e.last_seen(), Some("2018-02-21T12:02:00.000001Z"));
        assert_eq!(e.first_timestamp.as_deref(), Some("2018-02-21T12:00:00Z"));
        assert_eq!(
            s.metrics[0].series[0].samples[0].0,
            ts("2018-02-21T12:00:00Z").0
        );
        s.shift(Duration(-day.0));
        assert_eq!(s.meta, original.meta);
        assert_eq!(s.nodes, original.nodes);
        assert_eq!(s.pods, original.pods);
        assert_eq!(s.events, original.events);
        assert_eq!(s.metrics, original.metrics);
        assert_eq!(s.node_changes, original.node_changes);
    }

    #[test]
    fn the_landing_shift_is_whole_steps_and_never_in_the_future() {
        let s = sample();
        let last = s.meta.end;
        let now = ts("2026-12-04T16:20:17.250Z");
        let by = shift_landing(&s.meta, last, now);
        assert_eq!(by.0 % s.meta.step.0, 0, "whole steps");
        let landed = last.add(by);
        assert!(
            landed <= now && now.0 - landed.0 < s.meta.step.0,
            "{landed}"
        );
        assert_eq!(landed, ts("2026-12-04T16:20:00Z"), "the step's phase kept");
        assert_eq!(shift_landing(&s.meta, last, last), Duration(0));
        let mut bad = s.meta.clone();
        bad.step = Duration(0);
        assert_eq!(shift_landing(&bad, last, now), Duration(0));
    }
}
