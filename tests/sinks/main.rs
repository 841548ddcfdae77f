//! The notification sinks, one test binary, against real servers on
//! 127.0.0.1 (Alertmanager, an SMTP server, webhook and Grafana receivers;
//! `nodewatch_testkit::sinks` and `receiver`): delivery, retries, queues,
//! limits and config. `cargo test --test sinks email::` runs one file.

mod alertmanager;
mod config;
mod email;
mod grafana;
mod limits;
mod queue;
mod webhook;
