//! [`Gated`]: the notifier a replica hands alert transitions to. It passes
//! them on only while the replica holds the lease and actions are not
//! paused — a standby scores every tick like the leader, so its alerts
//! change in step, but must not page anyone twice.
//!
//! Failover: the old leader is gone for up to a lease duration before a
//! standby takes over, and transitions in that gap were sent by nobody. So
//! a standby remembers the latest transition it held back per alert, and
//! on taking over sends those held after the old leader stopped acting
//! (its last renewal this replica saw, plus the renew deadline): a page
//! that began, or an alert that resolved, while nobody led still reaches
//! people, and nothing the old leader sent is sent twice.

use super::audit::AuditLog;
use super::condition::ConditionMirror;
use super::leader::LeaderHandle;
use crate::act::{Notification, Notifier};
use crate::state::ActionRecord;
use std::collections::BTreeMap;
use std::time::Instant;

/// A notifier that passes notifications on only while this replica holds
/// the lease and actions are not paused.
pub struct Gated<N: Notifier> {
    /// Where notifications go.
    pub inner: N,
    leader: LeaderHandle,
    /// Actions paused (flag): nothing is sent, nothing is kept for later.
    pub paused: bool,
    /// Notifications held back (standby or paused).
    pub held: u64,
    /// Held-back transitions sent after a takeover.
    pub sent_on_takeover: u64,
    leading: bool,
    /// Per alert (name and subject): the latest transition held back.
    recent: BTreeMap<(String, String), (Instant, Notification)>,
    /// Mirrors node alerts that pass into a NodeCondition, when enabled.
    condition: Option<ConditionMirror>,
    /// Appends what passes the gate to the durable audit log, when enabled.
    audit: Option<AuditLog>,
}

impl<N: Notifier> Gated<N> {
    /// Switches the pause flag: while set, nothing is sent or kept.
    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
    }

    /// Gates `inner` on `leader`.
    pub fn new(inner: N, leader: LeaderHandle, paused: bool) -> Self {
        Gated {
            inner,
            leading: leader.is_leader(),
            leader,
            paused,
            held: 0,
            sent_on_takeover: 0,
            recent: BTreeMap::new(),
            condition: None,
            audit: None,
        }
    }

    /// Also mirrors what passes the gate into a NodeCondition.
    pub fn with_condition(mut self, c: ConditionMirror) -> Self {
        self.condition = Some(c);
        self
    }

    /// Also appends what passes the gate to the audit log.
    pub fn with_audit(mut self, a: AuditLog) -> Self {
        self.audit = Some(a);
        self
    }

    /// The audit log, when enabled.
    pub fn audit(&self) -> Option<&AuditLog> {
        self.audit.as_ref()
    }

    /// The condition writer, when enabled.
    pub fn condition(&self) -> Option<&ConditionMirror> {
        self.condition.as_ref()
    }

    fn pass(&mut self, n: Notification) {
        if let Some(c) = &self.condition {
            c.observe(&n);
        }
        if let Some(a) = &self.audit {
            a.alert(&n);
        }
        self.inner.notify(n);
    }

    /// Notes whether this replica leads now; on taking over, sends the
    /// transitions held back since another replica last acted. Called every tick
    /// (and on every notification), so a takeover without a new
    /// transition still sends them.
    pub fn check_leadership(&mut self) {
        let leading = self.leader.is_leader() && !self.paused;
        // Held while another replica still acted: theirs to send.
        if let Some(until) = self.leader.others_acting_until() {
            self.recent.retain(|_, (at, _)| *at > until);
        }
        if leading && !self.leading {
            let mut due: Vec<(Instant, Notification)> =
                std::mem::take(&mut self.recent).into_values().collect();
            due.sort_by_key(|(at, _)| *at);
            if !due.is_empty() {
                tracing::info!(
                    count = due.len(),
                    "took over: sending alert transitions nobody sent while no replica led"
                );
            }
            for (_, n) in due {
                self.sent_on_takeover += 1;
                self.pass(n);
            }
        }
        self.leading = leading;
    }
}

impl<N: Notifier> Notifier for Gated<N> {
    fn notify(&mut self, n: Notification) {
        self.check_leadership();
        if !self.leading {
            self.held += 1;
            tracing::debug!(
                "not sent (standby or paused): {} {}",
                n.status,
                n.alert.name
            );
            if !self.paused {
                let key = (n.alert.name.clone(), n.alert.subject.clone());
                self.recent.insert(key, (Instant::now(), n));
            }
            return;
        }
        self.pass(n);
    }

    fn record_action(&mut self, action: &ActionRecord) {
        if !self.paused && self.leader.is_leader() {
            if let Some(a) = &self.audit {
                a.action(action);
            }
            self.inner.record_action(action);
        }
    }

    fn sink_stats(&self) -> BTreeMap<String, crate::state::SinkStats> {
        self.inner.sink_stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AlertState, AlertView};

    #[derive(Default)]
    struct Sent(Vec<(String, AlertState)>);

    impl Notifier for Sent {
        fn notify(&mut self, n: Notification) {
            self.0.push((n.alert.subject, n.status));
        }
    }

    fn note(subject: &str, status: AlertState) -> Notification {
        Notification {
            alert: AlertView {
                name: "NodeUnhealthy".into(),
                subject: subject.into(),
                ..Default::default()
            },
            status,
            ends_at: None,
        }
    }

    #[test]
    fn a_standby_sends_what_nobody_sent_when_it_takes_over() {
        let leader = LeaderHandle::default();
        let mut g = Gated::new(Sent::default(), leader.clone(), false);
        // Standby while another replica leads: held, and theirs to send.
        g.notify(note("n0", AlertState::Firing));
        let acted_until = Instant::now();
        leader.set_for_test(None, Some(acted_until));
        g.check_leadership();
        // Then nobody leads: held, only the latest per alert kept.
        g.notify(note("n1", AlertState::Firing));
        g.notify(note("n2", AlertState::Firing));
        g.notify(note("n2", AlertState::Resolved));
        assert!(g.inner.0.is_empty());
        assert_eq!(g.held, 4);
        // Takes over: the gap's transitions go out, in order; n0 does not.
        let later = Instant::now() + std::time::Duration::from_secs(60);
        leader.set_for_test(Some(later), Some(acted_until));
        g.check_leadership();
        assert_eq!(
            g.inner.0,
            [
                ("n1".to_string(), AlertState::Firing),
                ("n2".to_string(), AlertState::Resolved)
            ]
        );
        assert_eq!(g.sent_on_takeover, 2);
        // Leading: straight through, nothing re-sent.
        g.notify(note("n3", AlertState::Firing));
        g.check_leadership();
        assert_eq!(g.inner.0.len(), 3);
    }

    #[test]
    fn paused_transitions_are_not_sent_later() {
        let mut g = Gated::new(Sent::default(), LeaderHandle::always(), true);
        g.notify(note("n1", AlertState::Firing));
        g.paused = false;
        g.check_leadership();
        assert!(g.inner.0.is_empty(), "paused on purpose: nothing owed");
    }
}
