//! The deployment, one test binary: `deploy/` rendered with `kubectl
//! kustomize`, the container, pod and QoS settings, dry-run, the image's
//! build context, the README's deployment text, and the Helm chart with
//! helm and checkov (support: `nodewatch_testkit::deploy`). `cargo test
//! --test deploy helm::` runs one file.

mod container;
mod docs;
mod dry_run;
mod helm;
mod image;
mod overlays;
mod pod;
mod qos;
mod render;
