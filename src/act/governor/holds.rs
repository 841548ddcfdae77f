//! Holds on cordons the governor knows of: the maintenance windows in
//! force at a time, and the outside hold (Alertmanager) set each tick —
//! what refuses a cordon, and what the status page and `/metrics` show.

use super::{Governor, Refusal};
use crate::model::NodeFacts;
use crate::time::Timestamp;

/// A hold in force or configured, for the status page and `/metrics`.
#[derive(Clone, Debug, PartialEq)]
pub struct HoldState {
    /// `maintenance_window` or `alertmanager`.
    pub kind: &'static str,
    /// The window's name (empty for Alertmanager).
    pub name: String,
    /// Why.
    pub reason: String,
    /// When it ends, if known.
    pub until: Option<Timestamp>,
    /// Holding now.
    pub active: bool,
}

impl Governor {
    /// The maintenance window holding cordons of nodes under `policy` at
    /// `now`, if any.
    /// The maintenance window holding `node` now, if any, in words: it
    /// holds the opt-in uncordon and the NodeCondition's `True` as it holds
    /// cordons (planned work is no time to hand nodes to a remediator, nor
    /// to put them back into service).
    pub fn window_hold_of(&self, node: &NodeFacts, now: Timestamp) -> Option<String> {
        let policy = self.policy_of(node).map(|p| p.name.as_str());
        self.window_hold(policy, now).map(|r| r.to_string())
    }

    pub(super) fn window_hold(&self, policy: Option<&str>, now: Timestamp) -> Option<Refusal> {
        for (w, s) in self.windows.iter().zip(&self.settings.maintenance_windows) {
            if !s.pools.is_empty() && !policy.is_some_and(|p| s.pools.iter().any(|x| x == p)) {
                continue;
            }
            let until = match w {
                Ok(w) => match w.active_until(now) {
                    Some(until) => until,
                    None => continue,
                },
                // Fail closed: a window that cannot be read holds.
                Err(e) => {
                    return Some(Refusal::Held(format!(
                        "held: maintenance window {} cannot be read ({e})",
                        s.label()
                    )))
                }
            };
            return Some(Refusal::Window {
                name: s.label().to_string(),
                reason: s.reason.clone(),
                until,
            });
        }
        None
    }

    /// Every configured hold and whether it holds at `now`.
    pub fn holds(&self, now: Timestamp) -> Vec<HoldState> {
        let mut out: Vec<HoldState> = self
            .windows
            .iter()
            .zip(&self.settings.maintenance_windows)
            .map(|(w, s)| {
                let until = w.as_ref().ok().and_then(|w| w.active_until(now));
                HoldState {
                    kind: "maintenance_window",
                    name: s.label().to_string(),
                    reason: s.reason.clone(),
                    until,
                    active: until.is_some() || w.is_err(),
                }
            })
            .collect();
        if let Some(why) = &self.hold {
            out.push(HoldState {
                kind: "alertmanager",
                name: String::new(),
                reason: why.strip_prefix("held: ").unwrap_or(why).to_string(),
                until: None,
                active: true,
            });
        }
        out
    }
}
