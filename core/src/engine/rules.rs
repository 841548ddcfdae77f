//! Rule evaluation inside a tick: each rule's condition per subject, the
//! alert state machine, alert labels and annotations, and the cordon and
//! uncordon requests that follow from firing node alerts.

use super::{Engine, TickOutput};
use crate::catalog::{AlertScope, Condition, Rule};
use crate::decide::{AlertBook, Transition, TransitionKind};
use crate::model::{AlertState, AlertView, CordonRequest, Notification};
use crate::score::node::fmt;
use crate::score::Evidence;
use crate::time::Timestamp;
use std::collections::BTreeMap;

/// The value a condition compares and whether it holds.
fn check(c: &Condition, score: f64, ev: Option<&Evidence>) -> (Option<bool>, f64) {
    if let Some(t) = c.score_above {
        return (Some(score > t), score);
    }
    let Some(ev) = ev else {
        return (None, f64::NAN);
    };
    if !ev.value.is_finite() {
        return (None, ev.value);
    }
    let holds = c.value_above.is_some_and(|t| ev.value > t)
        || c.value_below.is_some_and(|t| ev.value < t)
        || c.anomaly_above.is_some_and(|t| ev.level > t);
    (Some(holds), ev.value)
}

impl Engine {
    pub(super) fn evaluate_rules(&mut self, out: &mut TickOutput) {
        let catalog = self.catalog.clone();
        // Taken out for the loop so explanations can borrow the engine.
        let mut alerts = std::mem::take(&mut self.alerts);
        for (r, rule) in catalog.rules.iter().enumerate() {
            let sig = rule
                .when
                .signal
                .as_ref()
                .and_then(|n| catalog.signal_index(n));
            let mut seen = Vec::new();
            match rule.scope {
                AlertScope::Node => {
                    for i in self.existing().collect::<Vec<_>>() {
                        let iu = i as usize;
                        let ev = sig.and_then(|s| self.evidence[s].get(iu).copied().flatten());
                        let when = self.when(r, self.scope_of(i));
                        let (holds, value) = check(when, self.scores[iu], ev.as_ref());
                        // A node without any known signal is unknown, not healthy.
                        let holds = if self.known[iu] > 0 { holds } else { None };
                        let name = &self.nodes.entry(i).name;
                        // Expected disruption starts no alert; one already
                        // firing (a sick node a human then cordoned) holds.
                        let holds = match self.held(i) {
                            None => holds,
                            Some(_) if alerts.is_firing(r, name) => None,
                            Some(_) => Some(false),
                        };
                        let explain = || self.node_explanation(i);
                        let t = alerts.evaluate(r, rule, name, (holds, value), explain, self.at);
                        self.emit(t, &alerts, out);
                    }
                    // Alerts of nodes that no longer exist resolve.
                    let at = self.at;
                    seen.extend(
                        alerts.subjects_of(r).into_iter().filter(|n| {
                            self.nodes.get(n).is_some_and(|i| self.nodes.exists(i, at))
                        }),
                    );
                }
                AlertScope::Workload => {
                    let Some(sig) = sig else { continue };
                    // The file's signal and each pool's copy (its own hub
                    // selector); each pod is judged by one of them.
                    let mut subjects: Vec<(usize, String, Evidence)> = Vec::new();
                    for s in catalog.with_copies(sig) {
                        subjects.extend(
                            self.workloads[s]
                                .iter()
                                .filter_map(|(k, w)| w.evidence.map(|e| (s, k.clone(), e))),
                        );
                    }
                    for (s, subject, ev) in subjects {
                        let (owned, scope) = self.owner(s, &subject);
                        if !owned {
                            continue;
                        }
                        let (holds, value) = check(self.when(r, scope), 0.0, Some(&ev));
                        let detect = &catalog.signals[s].detect;
                        let explain = || {
                            format!(
                                "{} {}{}",
                                catalog.signals[s].name,
                                ev.describe(detect),
                                self.workload_context(s, &subject)
                            )
                        };
                        let t =
                            alerts.evaluate(r, rule, &subject, (holds, value), explain, self.at);
                        seen.push(subject);
                        self.emit(t, &alerts, out);
                    }
                }
                AlertScope::Cluster => {
                    let active: Vec<usize> = (0..catalog.signals.len())
                        .filter(|&s| self.common[s].is_some() && sig.is_none_or(|x| x == s))
                        .collect();
                    let value = active.len() as f64;
                    let explain = || self.cluster_explanation(&active);
                    let t = alerts.evaluate(
                        r,
                        rule,
                        "cluster",
                        (Some(!active.is_empty()), value),
                        explain,
                        self.at,
                    );
                    seen.push("cluster".to_string());
                    self.emit(t, &alerts, out);
                }
            }
            // Subjects that vanished (deleted nodes, restarted pods): their
            // condition no longer holds.
            for subject in alerts.subjects_of(r) {
                if !seen.contains(&subject) {
                    let t = alerts.evaluate(
                        r,
                        rule,
                        &subject,
                        (Some(false), f64::NAN),
                        String::new,
                        self.at,
                    );
                    self.emit(t, &alerts, out);
                }
            }
        }
        self.alerts = alerts;
        self.requests(out);
    }

    fn emit(&self, t: Option<Transition>, alerts: &AlertBook, out: &mut TickOutput) {
        let Some(t) = t else { return };
        let rule = &self.catalog.rules[t.key.0];
        let entry = alerts.get(t.key.0, &t.key.1).cloned();
        let (active_since, fired_at, value, explanation) = match &entry {
            Some(e) => (e.active_since, e.fired_at, e.value, e.explanation.clone()),
            None => (t.at, Some(t.at), f64::NAN, String::new()),
        };
        let mut view = self.alert_view(rule, &t.key.1, value, &explanation, active_since, fired_at);
        let status = match t.kind {
            TransitionKind::Firing => AlertState::Firing,
            TransitionKind::Resolved => AlertState::Resolved,
        };
        view.state = status;
        let ends_at = (t.kind == TransitionKind::Resolved).then_some(t.at);
        out.notifications.push(Notification {
            alert: view,
            status,
            ends_at,
        });
    }

    /// Builds the outward view of an alert: labels and templated annotations.
    pub(super) fn alert_view(
        &self,
        rule: &Rule,
        subject: &str,
        value: f64,
        explanation: &str,
        active_since: Timestamp,
        fired_at: Option<Timestamp>,
    ) -> AlertView {
        let mut labels = BTreeMap::new();
        labels.insert("alertname".to_string(), rule.alert.clone());
        labels.insert("scope".to_string(), rule.scope.as_str().to_string());
        labels.insert("severity".to_string(), rule.severity.clone());
        match rule.scope {
            AlertScope::Node => {
                labels.insert("node".to_string(), subject.to_string());
            }
            AlertScope::Workload => {
                if let Some(s) = rule
                    .when
                    .signal
                    .as_ref()
                    .and_then(|n| self.catalog.signal_index(n))
                {
                    labels.insert("signal".to_string(), self.catalog.signals[s].name.clone());
                    let w = self
                        .catalog
                        .with_copies(s)
                        .into_iter()
                        .find_map(|c| self.workloads[c].get(subject));
                    if let Some(w) = w {
                        for (k, v) in &w.labels {
                            labels.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
            AlertScope::Cluster => {}
        }
        for (k, v) in &rule.labels {
            labels.insert(k.clone(), v.clone());
        }
        let fill = |t: &str| {
            t.replace("{{ subject }}", subject)
                .replace("{{ value }}", &fmt(value))
                .replace("{{ explanation }}", explanation)
        };
        let mut annotations: BTreeMap<String, String> = rule
            .annotations
            .iter()
            .map(|(k, v)| (k.clone(), fill(v)))
            .collect();
        annotations
            .entry("explanation".to_string())
            .or_insert_with(|| explanation.to_string());
        AlertView {
            name: rule.alert.clone(),
            scope: rule.scope.as_str().to_string(),
            subject: subject.to_string(),
            state: if fired_at.is_some() {
                AlertState::Firing
            } else {
                AlertState::Pending
            },
            labels,
            annotations,
            active_since,
            fired_at,
        }
    }

    /// Cordon requests for firing node alerts whose rule cordons, and
    /// (opt-in) uncordon requests for nodes healthy long enough.
    fn requests(&mut self, out: &mut TickOutput) {
        let catalog = self.catalog.clone();
        let node_rules: Vec<usize> = (0..catalog.rules.len())
            .filter(|&r| catalog.rules[r].scope == AlertScope::Node)
            .collect();
        for i in self.existing().collect::<Vec<_>>() {
            let iu = i as usize;
            let mut firing_node_alert = false;
            for &r in &node_rules {
                let name = &self.nodes.entry(i).name;
                if !self.alerts.is_firing(r, name) {
                    continue;
                }
                firing_node_alert = true;
                let rule = &catalog.rules[r];
                let held = self.held(i).is_some();
                if rule.cordons() && !self.unschedulable(i) && !held {
                    let fresh = self.known[iu] > 0 && self.known[iu] == self.node_signals;
                    out.cordon_requests.push(CordonRequest {
                        node: name.clone(),
                        rule: rule.alert.clone(),
                        score: self.scores[iu],
                        explanation: self.node_explanation(i),
                        fresh,
                        drain: true,
                    });
                }
            }
            let healthy = !firing_node_alert && self.scores[iu] < self.settings.unhealthy_score;
            let ours = self.is_ours(i);
            let since = &mut self.healthy_since[iu];
            *since = if healthy {
                Some(since.unwrap_or(self.at))
            } else {
                None
            };
            if let (Some(after), Some(since), true) = (self.settings.uncordon_after, *since, ours) {
                if self.at.since(since) >= after {
                    out.uncordon_requests.push(self.nodes.entry(i).name.clone());
                }
            }
        }
    }
}
