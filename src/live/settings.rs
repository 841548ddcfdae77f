//! The `kubernetes:` section of the config file: who this replica is, the
//! Lease it competes for, how cordons are written and how watchers recover.

use crate::time::Duration;
use serde::Deserialize;

/// Live Kubernetes settings; every field has a safe default.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// This replica's identity in the Lease and in `nodewatch.io/cordoned-by`
    /// (default: `$POD_NAME`, else `$HOSTNAME`, else `nodewatch`).
    pub identity: Option<String>,
    /// Leader election.
    pub lease: LeaseSettings,
    /// Also add a `NoSchedule` taint `nodewatch.io/unhealthy` on cordon
    /// (and remove it on uncordon).
    pub taint: bool,
    /// Namespace of the Events nodewatch writes about nodes (nodes are
    /// cluster-scoped; `kubectl describe node` looks in `default`).
    pub event_namespace: String,
    /// Attempts per API write (cordon, uncordon) on 409, 429, 5xx or a
    /// broken connection.
    pub write_attempts: u32,
    /// First retry delay of API writes; doubles each attempt.
    pub write_backoff: Duration,
    /// Longest wait between two attempts of a failing watch (the wait
    /// starts at 200 ms and doubles, with jitter, up to this).
    pub watch_backoff_max: Duration,
    /// Opt-in drain after each cordon, through the Eviction API.
    pub drain: super::drain::DrainSettings,
    /// Opt-in NodeCondition mirroring node alerts, for remediators.
    pub condition: super::condition::ConditionSettings,
    /// Opt-in durable audit trail in a ConfigMap beside the Lease.
    pub audit: super::audit::AuditSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            identity: None,
            lease: LeaseSettings::default(),
            taint: false,
            event_namespace: "default".to_string(),
            write_attempts: 5,
            write_backoff: Duration(200),
            watch_backoff_max: Duration::secs(30),
            drain: Default::default(),
            condition: Default::default(),
            audit: Default::default(),
        }
    }
}

impl Settings {
    /// The identity to use: configured, else `$POD_NAME`, `$HOSTNAME`, or
    /// `nodewatch`.
    pub fn identity(&self) -> String {
        self.identity
            .clone()
            .filter(|s| !s.is_empty())
            .or_else(|| std::env::var("POD_NAME").ok().filter(|s| !s.is_empty()))
            .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
            .unwrap_or_else(|| "nodewatch".to_string())
    }
}

/// The coordination.k8s.io/v1 Lease replicas compete for.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LeaseSettings {
    /// Lease name.
    pub name: String,
    /// Lease namespace (the Role in `deploy/base/rbac.yaml` grants it here).
    pub namespace: String,
    /// How long a holder that stopped renewing keeps the lease.
    pub duration: Duration,
    /// A holder that could not renew for this long stops acting (shorter
    /// than `duration`, so it stops before anyone else may start).
    pub renew_deadline: Duration,
    /// How often holders renew and candidates look.
    pub retry_period: Duration,
}

impl Default for LeaseSettings {
    fn default() -> Self {
        LeaseSettings {
            name: "nodewatch".to_string(),
            namespace: "nodewatch".to_string(),
            duration: Duration::secs(15),
            renew_deadline: Duration::secs(10),
            retry_period: Duration::secs(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_parses_with_defaults() {
        let s: Settings =
            serde_yaml::from_str("lease:\n  namespace: ops\n  duration: 30s\ntaint: true\n")
                .unwrap();
        assert_eq!(s.lease.namespace, "ops");
        assert_eq!(s.lease.duration, Duration::secs(30));
        assert_eq!(s.lease.name, "nodewatch");
        assert!(s.taint);
        assert!(serde_yaml::from_str::<Settings>("tain: true\n").is_err());
        let named = Settings {
            identity: Some("replica-a".into()),
            ..Default::default()
        };
        assert_eq!(named.identity(), "replica-a");
    }
}
