//! The safety governor: every cordon nodewatch wants passes through here.
//! Defaults (DESIGN.md): at most one cordon per 10 minutes; never more than
//! 10% of nodes cordoned by nodewatch (at least one is allowed); never the
//! last healthy schedulable node of a zone or pool; refuse when more than
//! 30% of nodes look unhealthy (that is a common cause); fresh data only;
//! a cooldown after nodewatch uncordons a node; a node a human uncordoned is
//! left alone until it has been healthy again; dry-run and pause switches.
//! A refusal is reported with its reason, never silently dropped.
//! The governor keeps no memory of its own: what nodewatch and humans did
//! (last cordon, cooldowns, overrides) is in the [`Ledger`] it decides from.
//! Per-pool policies ([`pools`]) and maintenance windows ([`windows`])
//! refine these; both decide from plain values at the time given.

pub mod cron;
mod holds;
pub mod pools;
pub mod windows;

pub use holds::HoldState;
pub use pools::{Limit, Mode, PoolPolicy, Selector};
pub use windows::{Window, WindowSettings};

use super::ledger::Ledger;
use crate::model::{CordonRequest, NodeFacts};
use crate::time::{Duration, Timestamp};
use serde::Deserialize;
use std::fmt;

/// Governor settings; every field has the DESIGN.md default.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GovernorSettings {
    /// Decide and report, never cordon.
    pub dry_run: bool,
    /// Pause switch: no actions while set (scoring goes on).
    pub paused: bool,
    /// Minimum time between two cordons.
    pub min_interval: Duration,
    /// Largest fraction of nodes cordoned by nodewatch at once.
    pub max_fraction: f64,
    /// Above this fraction of unhealthy nodes, refuse (common cause).
    pub max_unhealthy_fraction: f64,
    /// After nodewatch uncordons a node, no new cordon of it for this long.
    pub cooldown: Duration,
    /// How long a node a human uncordoned must stay healthy before
    /// nodewatch may cordon it again.
    pub healthy_period: Duration,
    /// Hold every cordon while one of these alerts fires in Alertmanager.
    pub hold_while_alerts: HoldSettings,
    /// Policies per node pool or label selector (first match wins).
    pub pools: Vec<PoolPolicy>,
    /// Times during which cordons are held.
    pub maintenance_windows: Vec<WindowSettings>,
}

/// `governor.hold_while_alerts`: alerts (an upgrade in progress, a zonal
/// outage) during which nodewatch must not act, read from Alertmanager.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HoldSettings {
    /// Alertmanager's base URL.
    pub alertmanager: String,
    /// Alert names (`alertname`); empty: no hold.
    pub alerts: Vec<String>,
    /// Timeout of one poll.
    pub timeout: Duration,
}

impl Default for HoldSettings {
    fn default() -> Self {
        HoldSettings {
            alertmanager: String::new(),
            alerts: Vec::new(),
            timeout: Duration::secs(5),
        }
    }
}

impl Default for GovernorSettings {
    fn default() -> Self {
        GovernorSettings {
            dry_run: false,
            paused: false,
            min_interval: Duration::mins(10),
            max_fraction: 0.1,
            max_unhealthy_fraction: 0.3,
            cooldown: Duration::mins(60),
            healthy_period: Duration::mins(10),
            hold_while_alerts: HoldSettings::default(),
            pools: Vec::new(),
            maintenance_windows: Vec::new(),
        }
    }
}

/// Why a cordon was refused.
#[derive(Clone, Debug, PartialEq)]
pub enum Refusal {
    /// The pause switch is on.
    Paused,
    /// Dry-run mode.
    DryRun,
    /// Some of the node's signals have no fresh data.
    StaleData,
    /// A human uncordoned this node; it has not been healthy since.
    HumanOverride,
    /// Too many nodes look unhealthy: common cause.
    CommonCause { unhealthy: usize, total: usize },
    /// The previous cordon was too recent.
    RateLimit { last: Timestamp },
    /// nodewatch already cordoned as many nodes as allowed.
    MaxFraction { cordoned: usize, max: usize },
    /// It is the last healthy schedulable node of its zone or pool.
    LastHealthy { group: String },
    /// nodewatch uncordoned it recently.
    Cooldown { since: Timestamp },
    /// The node opted out (`nodewatch.io/exclude: "true"`).
    Excluded,
    /// Held by an outside condition (e.g. an Alertmanager alert).
    Held(String),
    /// Inside a maintenance window.
    Window {
        /// The window's name.
        name: String,
        /// Its reason, as configured.
        reason: String,
        /// When it ends.
        until: Timestamp,
    },
    /// A pool policy refused (`why` names its setting).
    Pool {
        /// The policy's name.
        policy: String,
        /// What it does not allow.
        why: String,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Paused => write!(f, "paused: actions are switched off"),
            Refusal::Held(why) => write!(f, "{why}"),
            Refusal::Window {
                name,
                reason,
                until,
            } => {
                write!(f, "held: maintenance window {name} until {until}")?;
                if !reason.is_empty() {
                    write!(f, " ({reason})")?;
                }
                Ok(())
            }
            Refusal::Pool { policy, why } => write!(f, "pool policy {policy}: {why}"),
            Refusal::Excluded => write!(
                f,
                "excluded: the node opts out with nodewatch.io/exclude=true"
            ),
            Refusal::DryRun => write!(f, "dry-run: nodewatch never cordons in this mode"),
            Refusal::StaleData => write!(f, "stale data: some signals of this node are unknown"),
            Refusal::HumanOverride => write!(
                f,
                "a human uncordoned this node; waiting for it to be healthy first"
            ),
            Refusal::CommonCause { unhealthy, total } => {
                write!(
                    f,
                    "common cause: {unhealthy} of {total} nodes look unhealthy"
                )
            }
            Refusal::RateLimit { last } => write!(f, "rate limit: the last cordon was at {last}"),
            Refusal::MaxFraction { cordoned, max } => {
                write!(f, "max fraction: nodewatch already cordoned {cordoned} node(s), the limit is {max}")
            }
            Refusal::LastHealthy { group } => write!(f, "last healthy schedulable node of {group}"),
            Refusal::Cooldown { since } => {
                write!(f, "cooldown: nodewatch uncordoned it at {since}")
            }
        }
    }
}

/// The governor: its settings, and the ledger it decides from.
#[derive(Clone, Debug, Default)]
pub struct Governor {
    /// Settings (read through [`Governor::settings`]; only the pause flag
    /// changes at run time, through [`Governor::set_paused`]).
    settings: GovernorSettings,
    /// Who cordoned what and when, human overrides, cooldowns: the one
    /// record of past actions (fed by the pipeline).
    ledger: Ledger,
    /// Why every action is held now (set by the live agent each tick).
    hold: Option<String>,
    /// `settings.maintenance_windows`, compiled (an entry that cannot be
    /// read holds every cordon: fail closed).
    windows: Vec<Result<Window, String>>,
}

impl Governor {
    /// The settings in use.
    pub fn settings(&self) -> &GovernorSettings {
        &self.settings
    }

    /// Switches actions off (or on again): while paused every cordon is
    /// refused and no uncordon is made.
    pub fn set_paused(&mut self, paused: bool) {
        self.settings.paused = paused;
    }

    /// Whether nodewatch writes to nodes now: neither paused nor a dry run.
    pub fn acts(&self) -> bool {
        !self.settings.paused && !self.settings.dry_run
    }

    /// Whether any pool policy is configured.
    pub fn has_pools(&self) -> bool {
        !self.settings.pools.is_empty()
    }

    /// Holds every cordon for `reason` until called with `None`.
    pub fn set_hold(&mut self, reason: Option<String>) {
        self.hold = reason;
    }

    /// A governor with these settings.
    pub fn new(settings: GovernorSettings) -> Self {
        let windows = settings
            .maintenance_windows
            .iter()
            .map(Window::compile)
            .collect();
        Governor {
            settings,
            windows,
            ..Default::default()
        }
    }

    /// The pool policy covering `node` (first match), if any.
    pub fn policy_of(&self, node: &NodeFacts) -> Option<&PoolPolicy> {
        self.settings
            .pools
            .iter()
            .find(|p| p.selector.matches(node))
    }

    /// What `node` may receive: its policy's mode, if it sets one.
    pub fn mode_of(&self, node: &NodeFacts) -> Option<Mode> {
        self.policy_of(node).and_then(|p| p.mode)
    }

    /// Label keys the pool selectors read (the engine keeps only these of
    /// each node's labels).
    pub fn label_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .settings
            .pools
            .iter()
            .flat_map(|p| p.selector.match_labels.keys().cloned())
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// Decides whether `req` may go ahead now. `nodes` are all existing nodes.
    pub fn check(
        &self,
        req: &CordonRequest,
        nodes: &[NodeFacts],
        now: Timestamp,
    ) -> Result<(), Refusal> {
        let s = &self.settings;
        if s.paused {
            return Err(Refusal::Paused);
        }
        if s.dry_run {
            return Err(Refusal::DryRun);
        }
        if let Some(why) = &self.hold {
            return Err(Refusal::Held(why.clone()));
        }
        let me = nodes.iter().find(|n| n.name == req.node);
        let policy = me.and_then(|n| self.policy_of(n));
        if let Some(r) = self.window_hold(policy.map(|p| p.name.as_str()), now) {
            return Err(r);
        }
        if !req.fresh {
            return Err(Refusal::StaleData);
        }
        if self.ledger.is_overridden(&req.node) {
            return Err(Refusal::HumanOverride);
        }
        if me.is_some_and(|n| n.excluded) {
            return Err(Refusal::Excluded);
        }
        // Expected disruption (the node's own, or its pool's upgrade).
        if let Some(why) = me.and_then(|n| n.held.as_ref().or(n.upgrade.as_ref())) {
            return Err(Refusal::Held(why.clone()));
        }
        if let Some(p) = policy {
            p.allows(req)?;
        }
        let scope = self.scope(policy, nodes);
        // Held nodes (draining, leaving, just joined) are no evidence of a
        // common cause: they count neither as unhealthy nor in the total.
        let judged: Vec<&NodeFacts> = scope.iter().copied().filter(|n| n.held.is_none()).collect();
        self.common_cause(policy, &judged)?;
        if let Some(last) = self.ledger.last_cordon() {
            if now.since(last) < s.min_interval {
                return Err(Refusal::RateLimit { last });
            }
        }
        self.budget(policy, &scope)?;
        if let Some(me) = me {
            for (kind, key) in [("zone", &me.zone), ("pool", &me.pool)] {
                if key.is_empty() {
                    continue;
                }
                let others = nodes.iter().filter(|n| {
                    n.name != me.name
                        && n.healthy
                        && !n.unschedulable
                        && !n.leaving
                        && (if kind == "zone" { &n.zone } else { &n.pool }) == key
                });
                if others.count() == 0 {
                    return Err(Refusal::LastHealthy {
                        group: format!("{kind} {key}"),
                    });
                }
            }
        }
        if let Some(since) = self.ledger.uncordoned_at(&req.node) {
            if now.since(since) < s.cooldown {
                return Err(Refusal::Cooldown { since });
            }
        }
        Ok(())
    }

    /// The record of past actions the governor decides from.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The record of past actions, to feed (the pipeline's results).
    pub fn ledger_mut(&mut self) -> &mut Ledger {
        &mut self.ledger
    }

    /// Tracks health of an overridden node; the override ends after the
    /// node has been healthy for `healthy_period` (the setting lives here,
    /// the state in the ledger).
    pub fn observe_health(&mut self, node: &str, healthy: bool, now: Timestamp) {
        let period = self.settings.healthy_period;
        self.ledger.observe_health(node, healthy, now, period);
    }
}

#[cfg(test)]
mod policy_tests;
#[cfg(test)]
mod tests;
