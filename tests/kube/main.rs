//! The live Kubernetes path, one test binary: against a real kube-apiserver
//! v1.37.2 with etcd (`real*`, support `nodewatch_testkit::kube_real` and
//! `kube_real_scenario`; needs `NODEWATCH_CONTROLPLANE`, which
//! `scripts/test.sh` exports) and, where the real server cannot be made to
//! misbehave on purpose, against the wire-level fake
//! (`nodewatch_testkit::fake_apiserver`): cordons, leader election, faults,
//! RBAC, secrets, pool policies and hubs, `nodewatch run` as a process.
//!
//! One binary instead of one per file: a link step each was most of the
//! test build on the 2-core CI machine. Run one file's tests with
//! `cargo test --test kube real_live::`.

mod backoff;
mod cordon;
mod faults;
mod leader;
mod live;
mod policy;
mod pool_hubs;
mod rbac;
mod real;
mod real_cordon;
mod real_disruption;
mod real_faults;
mod real_leader;
mod real_live;
mod real_pools;
mod real_remedy;
mod real_restart;
mod real_resume;
mod real_run;
mod run;
mod secrets;
