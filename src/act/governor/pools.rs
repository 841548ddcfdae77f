//! Policies per node pool (`governor.pools`): a selector and what the
//! selected nodes may receive and how many of them may be cordoned.
//!
//! Every node belongs to one *scope*: the first policy (in file order)
//! whose selector matches it, else the global scope of the nodes no policy
//! matches. The count limits — common cause (`max_unhealthy`), nodewatch's
//! cordons (`max_cordoned`) and unschedulable nodes (`max_unavailable`) —
//! are counted among the node's scope only, so a global 30% limit never
//! stops a four-node pool that allows two repairs, and a pool's cordons do
//! not use up the rest of the cluster's budget. A limit a policy leaves out
//! is the global fraction, counted within the pool (in a pool a fraction
//! always allows at least one node). Cluster-wide brakes
//! stay cluster-wide: pause, dry-run, holds and windows, fresh data, the
//! rate limit, the last healthy node of a zone or pool, cooldowns.

use super::{Governor, Refusal};
use crate::catalog::{Matcher, Thresholds};
pub use crate::model::Selector;
use crate::model::{CordonRequest, NodeFacts};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::fmt;

/// What the nodes of a pool may receive.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Scored and shown only: no alert is sent, nothing is cordoned.
    DetectOnly,
    /// Alerts (and the opt-in NodeCondition, which follows them); no cordon.
    Alert,
    /// Alerts and cordons; never drained.
    Cordon,
    /// Alerts, cordons and, with `kubernetes.drain.enabled`, drains.
    Drain,
}

impl Mode {
    /// The word used in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::DetectOnly => "detect-only",
            Mode::Alert => "alert",
            Mode::Cordon => "cordon",
            Mode::Drain => "drain",
        }
    }
}

/// A number of a pool's nodes: `2`, `"50%"` (rounded down) or `"N-1"`
/// (all but one).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Limit {
    /// That many nodes.
    Count(usize),
    /// That fraction of the pool's nodes (from a percentage).
    Fraction(f64),
    /// The pool's size minus that many.
    AllBut(usize),
}

impl Limit {
    /// The number of nodes it allows in a pool of `total`.
    pub fn of(self, total: usize) -> usize {
        match self {
            Limit::Count(n) => n,
            Limit::Fraction(f) => (f * total as f64).floor() as usize,
            Limit::AllBut(k) => total.saturating_sub(k),
        }
    }

    /// Whether `n` of `total` nodes exceed it (fractions compare exactly:
    /// 30% of 10 allows 3, not 2.99).
    pub fn exceeded_by(self, n: usize, total: usize) -> bool {
        match self {
            Limit::Fraction(f) => n as f64 > f * total as f64,
            _ => n > self.of(total),
        }
    }

    fn parse(s: &str) -> Result<Limit, String> {
        let s = s.trim();
        let bad = || format!("{s:?} is not a node count, a percentage (\"50%\") or \"N-1\"");
        if let Some(p) = s.strip_suffix('%') {
            return match p.trim().parse::<f64>() {
                Ok(p) if (0.0..=100.0).contains(&p) => Ok(Limit::Fraction(p / 100.0)),
                _ => Err(bad()),
            };
        }
        if let Some(k) = s.strip_prefix("N-").or_else(|| s.strip_prefix("n-")) {
            return k.trim().parse().map(Limit::AllBut).map_err(|_| bad());
        }
        s.parse().map(Limit::Count).map_err(|_| bad())
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Count(n) => write!(f, "{n}"),
            // Two decimals at most: 0.3 is 30%, not 30.000000000000004%.
            Limit::Fraction(x) => write!(f, "{}%", (x * 10_000.0).round() / 100.0),
            Limit::AllBut(k) => write!(f, "N-{k}"),
        }
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Count(i64),
            Number(f64),
            Text(String),
        }
        let bad = |v: String| {
            serde::de::Error::custom(format!(
                "{v} is not a node count, a percentage (\"50%\") or \"N-1\""
            ))
        };
        match Raw::deserialize(d)? {
            Raw::Count(n) => usize::try_from(n)
                .map(Limit::Count)
                .map_err(|_| bad(n.to_string())),
            Raw::Number(x) => Err(bad(x.to_string())),
            Raw::Text(s) => Limit::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

/// One `governor.pools` entry.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PoolPolicy {
    /// Names the policy in refusals (`pool policy gpu: …`).
    pub name: String,
    /// The nodes it covers.
    pub selector: Selector,
    /// What they may receive (default: as every other node).
    #[serde(default)]
    pub mode: Option<Mode>,
    /// Nodes nodewatch may have cordoned at once (default: the global
    /// `max_fraction` of the pool; a fraction allows at least one).
    #[serde(default)]
    pub max_cordoned: Option<Limit>,
    /// Nodes that may be unschedulable at once, whoever cordoned them,
    /// counting the one about to be cordoned (default: no such limit; a
    /// fraction allows at least one).
    #[serde(default)]
    pub max_unavailable: Option<Limit>,
    /// Above this many unhealthy nodes in the pool, refuse: common cause
    /// (default: the global `max_unhealthy_fraction` of the pool; a
    /// fraction allows at least one).
    #[serde(default)]
    pub max_unhealthy: Option<Limit>,
    /// Cordon only nodes scoring at least this (default: whatever the
    /// rules ask for).
    #[serde(default)]
    pub min_score: Option<f64>,
    /// Which pods on the pool's nodes are its hub: matchers (as in a
    /// signal's `metric.matchers`) in place of those of every `hub: true`
    /// signal (default: the catalog's).
    #[serde(default, with = "crate::catalog::signal::matcher_map")]
    pub hub: Vec<Matcher>,
    /// The pool's own thresholds of named rules, e.g.
    /// `{HubCPUHigh: {value_above: 1.5}, NodeUnhealthy: {score_above: 0.9}}`
    /// (default: the rule file's).
    #[serde(default)]
    pub thresholds: BTreeMap<String, Thresholds>,
}

impl PoolPolicy {
    /// Refuses what the policy never allows whatever the counts: a mode
    /// without cordons, a score below `min_score`.
    pub(super) fn allows(&self, req: &CordonRequest) -> Result<(), Refusal> {
        let refuse = |why: String| {
            Err(Refusal::Pool {
                policy: self.name.clone(),
                why,
            })
        };
        if let Some(m @ (Mode::DetectOnly | Mode::Alert)) = self.mode {
            return refuse(format!("mode {}: its nodes are never cordoned", m.as_str()));
        }
        if let Some(min) = self.min_score {
            if req.score < min {
                return refuse(format!("score {:.2} is below min_score {min}", req.score));
            }
        }
        Ok(())
    }
}

/// A fraction of a pool allows at least one node; counts are exact.
fn at_least_one(limit: Limit, total: usize) -> usize {
    match limit {
        Limit::Fraction(_) => limit.of(total).max(1),
        _ => limit.of(total),
    }
}

impl Governor {
    /// The nodes of `policy`'s scope (`None`: the nodes no policy covers).
    pub(super) fn scope<'a>(
        &self,
        policy: Option<&PoolPolicy>,
        nodes: &'a [NodeFacts],
    ) -> Vec<&'a NodeFacts> {
        if self.settings.pools.is_empty() {
            return nodes.iter().collect();
        }
        let name = policy.map(|p| p.name.as_str());
        nodes
            .iter()
            .filter(|n| self.policy_of(n).map(|p| p.name.as_str()) == name)
            .collect()
    }

    /// Refuses when too many of the scope's nodes look unhealthy.
    pub(super) fn common_cause(
        &self,
        policy: Option<&PoolPolicy>,
        scope: &[&NodeFacts],
    ) -> Result<(), Refusal> {
        let total = scope.len();
        let unhealthy = scope.iter().filter(|n| !n.healthy).count();
        let global = Limit::Fraction(self.settings.max_unhealthy_fraction);
        let Some(p) = policy else {
            if total > 0 && global.exceeded_by(unhealthy, total) {
                return Err(Refusal::CommonCause { unhealthy, total });
            }
            return Ok(());
        };
        let limit = p.max_unhealthy.unwrap_or(global);
        // In a pool a fraction allows at least one: one sick node of three
        // is not a common cause.
        let exceeded = match limit {
            Limit::Fraction(f) => unhealthy as f64 > (f * total as f64).max(1.0),
            _ => limit.exceeded_by(unhealthy, total),
        };
        if total > 0 && exceeded {
            return Err(Refusal::Pool {
                policy: p.name.clone(),
                why: format!(
                    "common cause: {unhealthy} of the pool's {total} nodes look unhealthy, more than max_unhealthy {limit}"
                ),
            });
        }
        Ok(())
    }

    /// Refuses when the scope has no room for one more cordon.
    pub(super) fn budget(
        &self,
        policy: Option<&PoolPolicy>,
        scope: &[&NodeFacts],
    ) -> Result<(), Refusal> {
        let total = scope.len();
        let cordoned = scope.iter().filter(|n| n.cordoned_by_us).count();
        let global = Limit::Fraction(self.settings.max_fraction);
        let Some(p) = policy else {
            let max = at_least_one(global, total);
            if cordoned + 1 > max {
                return Err(Refusal::MaxFraction { cordoned, max });
            }
            return Ok(());
        };
        let refuse = |why: String| {
            Err(Refusal::Pool {
                policy: p.name.clone(),
                why,
            })
        };
        let limit = p.max_cordoned.unwrap_or(global);
        let max = at_least_one(limit, total);
        if cordoned + 1 > max {
            return refuse(format!(
                "max_cordoned {limit}: nodewatch already cordoned {cordoned} of the pool's {total} nodes, the limit is {max}"
            ));
        }
        if let Some(limit) = p.max_unavailable {
            let unavailable = scope.iter().filter(|n| n.unschedulable).count();
            let max = at_least_one(limit, total);
            if unavailable + 1 > max {
                return refuse(format!(
                    "max_unavailable {limit}: {unavailable} of the pool's {total} nodes are unschedulable already, the limit is {max}"
                ));
            }
        }
        Ok(())
    }
}
