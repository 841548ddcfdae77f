//! Scenarios end to end, one test binary: the Binder acceptance, the
//! suite of built-in scenarios (and kube-prometheus's rules on them in a
//! real Prometheus), the scenario format, the streamed replay, `nodewatch
//! demo`, and the NAB harness on `../shared/nab`. `cargo test --test
//! scenario binder::` runs one file.

mod binder;
mod demo;
mod demo_now;
mod format;
mod nab;
mod stream;
mod suite;
mod suite_kube_prometheus;
mod suite_large;
