//! Leader election on a coordination.k8s.io/v1 Lease, as client-go does it:
//! every replica scores, only the holder acts.
//!
//! - A candidate takes the Lease when it has no holder (released) or when
//!   its record has not changed for the holder's `leaseDurationSeconds`, as
//!   measured on the candidate's own monotonic clock (never by comparing
//!   wall clocks across machines). Every write carries the Lease's
//!   resourceVersion, so of two candidates one gets 409 and stays a
//!   candidate.
//! - The holder renews every `retry_period`. It counts as leader only until
//!   `renew_deadline` after the start of its last successful renewal, which
//!   is shorter than the lease duration: a holder that cannot renew stops
//!   acting before anyone else may start. Seeing another holder stops it at
//!   once.
//! - On shutdown the holder stops acting first, then releases (empty
//!   holder), so a standby takes over within one `retry_period`.
//! - The Lease annotation `nodewatch.io/paused: "true"` (with optional
//!   `nodewatch.io/paused-reason` and `nodewatch.io/paused-until`, after
//!   which the pause ends by itself) pauses all actions
//!   on every replica while scoring goes on.

use super::cordon::{PAUSED_ANNOTATION, PAUSE_REASON_ANNOTATION, PAUSE_UNTIL_ANNOTATION};
use super::errlog::ErrorLog;
use super::settings::LeaseSettings;
use super::LiveError;
use crate::time::{Clock, SystemClock, Timestamp};
use ::kube::api::{Api, PostParams};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What a replica knows about the election; cheap to clone and check.
#[derive(Clone, Debug, Default)]
pub struct LeaderHandle {
    inner: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    valid_until: Option<Instant>,
    forever: bool,
    /// Why, and until when (`nodewatch.io/paused-reason`, `-until`).
    pause: Option<crate::state::Pause>,
    holder: Option<String>,
    /// Until when another replica may have been acting, judged from the
    /// last renewal of theirs this replica saw.
    others_until: Option<Instant>,
    errors: u64,
    forbidden: u64,
    last_error: Option<String>,
}

impl LeaderHandle {
    /// A handle that always leads (a single replica without election, and
    /// unit tests).
    pub fn always() -> Self {
        let h = LeaderHandle::default();
        h.state().forever = true;
        h
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether this replica may act now.
    pub fn is_leader(&self) -> bool {
        let s = self.state();
        s.forever || s.valid_until.is_some_and(|t| Instant::now() < t)
    }

    /// Until when another replica may have acted: when this replica last
    /// saw another holder renew the Lease, plus the renew deadline (after
    /// which a holder that could not renew stops acting). `None`: no other
    /// holder seen.
    pub fn others_acting_until(&self) -> Option<Instant> {
        self.state().others_until
    }

    /// Sets what the elector would (for tests of what depends on it): this
    /// replica leads until `until`; another acted until `others_until`.
    #[cfg(test)]
    pub(crate) fn set_for_test(&self, until: Option<Instant>, others_until: Option<Instant>) {
        let mut s = self.state();
        s.valid_until = until;
        s.others_until = others_until;
    }

    /// Whether the Lease carries `nodewatch.io/paused: "true"` and its
    /// `nodewatch.io/paused-until`, if any, has not passed.
    pub fn paused(&self) -> bool {
        self.pause().is_some()
    }

    /// The Lease's pause in force now, with its reason and expiry.
    pub fn pause(&self) -> Option<crate::state::Pause> {
        let s = self.state();
        let now = SystemClock.now();
        s.pause.clone().filter(|p| p.until.is_none_or(|u| now < u))
    }

    /// The holder seen last (`None`: nobody).
    pub fn holder(&self) -> Option<String> {
        self.state().holder.clone()
    }

    /// Lease requests that failed, of which refused by RBAC, and the last
    /// error.
    pub fn errors(&self) -> (u64, u64, Option<String>) {
        let s = self.state();
        (s.errors, s.forbidden, s.last_error.clone())
    }

    /// Waits until this replica leads, or `timeout` passes.
    pub async fn wait_leader(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.is_leader() {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }
}

/// Competes for the Lease in a background task.
pub struct Elector {
    api: Api<Lease>,
    name: String,
    identity: String,
    duration: Duration,
    renew_deadline: Duration,
    retry_period: Duration,
    handle: LeaderHandle,
    /// (holder, renewTime, resourceVersion) last seen, and when it changed.
    observed: Option<(String, Instant)>,
}

fn std_duration(d: crate::time::Duration) -> Duration {
    Duration::from_millis(d.0.max(0) as u64)
}

fn now() -> MicroTime {
    MicroTime(k8s_openapi::jiff::Timestamp::now())
}

impl Elector {
    /// An elector for `settings`' Lease, competing as `identity`.
    pub fn new(client: ::kube::Client, identity: &str, settings: &LeaseSettings) -> Self {
        Elector {
            api: Api::namespaced(client, &settings.namespace),
            name: settings.name.clone(),
            identity: identity.to_string(),
            duration: std_duration(settings.duration),
            renew_deadline: std_duration(settings.renew_deadline),
            retry_period: std_duration(settings.retry_period).max(Duration::from_millis(50)),
            handle: LeaderHandle::default(),
            observed: None,
        }
    }

    /// The handle the acting side checks.
    pub fn handle(&self) -> LeaderHandle {
        self.handle.clone()
    }

    /// Runs until `stop` turns true, then releases the Lease if held.
    /// Aborting the task instead leaves the Lease to expire.
    pub fn spawn(mut self, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
        tokio::spawn(async move {
            // The loop keeps its pace (the protocol needs it); the log of
            // a failure that repeats is rate-limited.
            let mut log = ErrorLog::default();
            loop {
                match self.round().await {
                    Ok(()) => {
                        if let Some(n) = log.recovered() {
                            tracing::info!(lease = %self.name, "lease requests work again after {n} errors");
                        }
                    }
                    Err(e) => {
                        let mut s = self.handle.state();
                        s.errors += 1;
                        let due = log.failed();
                        if e.forbidden() {
                            s.forbidden += 1;
                            if let Some(d) = due {
                                tracing::error!(lease = %self.name, errors = d.run, "lease request refused by RBAC; this replica will not act: {e}");
                            }
                        } else if let Some(d) = due {
                            tracing::warn!(lease = %self.name, errors = d.run, "lease request failed ({} since the last line): {e}", d.since_last);
                        }
                        s.last_error = Some(e.to_string());
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(self.retry_period) => {}
                    _ = stop.changed() => {}
                }
                if *stop.borrow() {
                    self.release().await;
                    return;
                }
            }
        })
    }

    fn set_leader(&self, from: Option<Instant>, holder: Option<String>) {
        let mut s = self.handle.state();
        let was = s.valid_until.is_some_and(|t| Instant::now() < t);
        s.valid_until = from.map(|t| t + self.renew_deadline);
        if !was && from.is_some() {
            tracing::info!(identity = %self.identity, lease = %self.name, "became leader: this replica acts now");
        } else if was && from.is_none() {
            tracing::warn!(identity = %self.identity, lease = %self.name, "lost the lease: this replica stops acting");
        }
        s.holder = holder;
    }

    /// One look at the Lease: create, renew, take over or stand by.
    async fn round(&mut self) -> Result<(), LiveError> {
        let t0 = Instant::now();
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..Default::default()
                },
                spec: Some(self.my_spec(0, None)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => {
                    self.set_leader(Some(t0), Some(self.identity.clone()));
                    Ok(())
                }
                Err(e) => Err(e.into()),
            };
        };
        let annotations = lease.metadata.annotations.clone().unwrap_or_default();
        self.handle.state().pause = lease_pause(&annotations);
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let fingerprint = format!(
            "{holder:?}/{:?}/{:?}",
            spec.renew_time.as_ref().map(|t| t.0),
            lease.metadata.resource_version
        );
        if self
            .observed
            .as_ref()
            .is_none_or(|(f, _)| *f != fingerprint)
        {
            self.observed = Some((fingerprint, t0));
        }
        let since_change = self
            .observed
            .as_ref()
            .map_or(Duration::ZERO, |(_, t)| t.elapsed());
        let their_duration = spec
            .lease_duration_seconds
            .map_or(self.duration, |s| Duration::from_secs(s.max(1) as u64));
        let transitions = spec.lease_transitions.unwrap_or(0);
        let mine = holder.as_deref() == Some(self.identity.as_str());
        if let (false, Some(_), Some((_, seen))) = (mine, &holder, &self.observed) {
            let until = *seen + self.renew_deadline;
            let mut s = self.handle.state();
            s.others_until = s.others_until.max(Some(until));
        }
        if !mine && holder.is_some() && since_change < their_duration {
            self.set_leader(None, holder);
            return Ok(());
        }
        let (transitions, acquired) = if mine {
            (transitions, spec.acquire_time.clone())
        } else {
            (transitions + 1, None)
        };
        lease.spec = Some(self.my_spec(transitions, acquired));
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => {
                self.set_leader(Some(t0), Some(self.identity.clone()));
                Ok(())
            }
            Err(e) => {
                let e = LiveError::from(e);
                if e.code() == Some(409) {
                    // Someone else wrote first; the next round looks again.
                    if !mine {
                        self.set_leader(None, holder);
                    }
                    return Ok(());
                }
                Err(e)
            }
        }
    }

    fn my_spec(&self, transitions: i32, acquired: Option<MicroTime>) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(self.duration.as_secs().max(1) as i32),
            acquire_time: Some(acquired.unwrap_or_else(now)),
            renew_time: Some(now()),
            lease_transitions: Some(transitions),
            ..Default::default()
        }
    }

    /// Stops acting, then hands the Lease back (empty holder) if held.
    pub async fn release(&mut self) {
        let was = self.handle.is_leader();
        self.set_leader(None, None);
        if !was {
            return;
        }
        let res: Result<(), LiveError> = async {
            let Some(mut lease) = self.api.get_opt(&self.name).await? else {
                return Ok(());
            };
            let mut spec = lease.spec.clone().unwrap_or_default();
            if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
                return Ok(());
            }
            spec.holder_identity = None;
            spec.lease_duration_seconds = Some(1);
            spec.renew_time = Some(now());
            lease.spec = Some(spec);
            self.api
                .replace(&self.name, &PostParams::default(), &lease)
                .await?;
            Ok(())
        }
        .await;
        match res {
            Ok(()) => tracing::info!(identity = %self.identity, "released the lease"),
            Err(e) => tracing::warn!("releasing the lease failed (it will expire): {e}"),
        }
    }
}

/// The pause the Lease's annotations ask for: `nodewatch.io/paused: "true"`,
/// with an optional reason (who and why) and expiry. An expiry that does
/// not parse keeps the pause (the safe reading) and says so in the reason.
fn lease_pause(a: &std::collections::BTreeMap<String, String>) -> Option<crate::state::Pause> {
    if a.get(PAUSED_ANNOTATION).map(String::as_str) != Some("true") {
        return None;
    }
    let mut reason = a.get(PAUSE_REASON_ANNOTATION).cloned().unwrap_or_default();
    let until = a.get(PAUSE_UNTIL_ANNOTATION).and_then(|u| {
        let t = Timestamp::parse_rfc3339(u).ok();
        if t.is_none() {
            reason = format!(
                "{reason} (unreadable {PAUSE_UNTIL_ANNOTATION} {u:?}: paused until removed)"
            );
        }
        t
    });
    Some(crate::state::Pause {
        reason: reason.trim().chars().take(256).collect(),
        until,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn lease(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_pause_has_a_reason_and_ends_at_its_expiry() {
        assert_eq!(lease_pause(&lease(&[(PAUSED_ANNOTATION, "false")])), None);
        let p = lease_pause(&lease(&[
            (PAUSED_ANNOTATION, "true"),
            (PAUSE_REASON_ANNOTATION, "alice: kernel upgrade CHG-123"),
            (PAUSE_UNTIL_ANNOTATION, "2000-01-01T00:00:00Z"),
        ]))
        .expect("asked for");
        assert_eq!(p.reason, "alice: kernel upgrade CHG-123");
        let h = LeaderHandle::default();
        h.state().pause = Some(p.clone());
        assert!(!h.paused(), "the expiry has passed");
        h.state().pause = Some(crate::state::Pause {
            until: Some(Timestamp(i64::MAX / 2)),
            ..p
        });
        assert!(h.paused());
        // An expiry nobody can read keeps the pause, and says why.
        let p = lease_pause(&lease(&[
            (PAUSED_ANNOTATION, "true"),
            (PAUSE_UNTIL_ANNOTATION, "tomorrow"),
        ]))
        .expect("asked for");
        assert!(
            p.until.is_none() && p.reason.contains("unreadable"),
            "{p:?}"
        );
    }
}
