//! `metrics-gone`: healthy nodes whose metrics disappear. From 09:00 to
//! 09:40 a network policy change stops Prometheus from scraping three
//! nodes' node-exporter, kubelet and cAdvisor; from 10:30 one of them loses
//! its targets again until the end. The nodes and their pods are fine
//! (events keep flowing): nothing may be cordoned or alerted, and the
//! missing data must be reported.

use super::{at, small_world, END};
use crate::scenario::Scenario;

/// Scenario name.
pub const NAME: &str = "metrics-gone";
/// One-line description.
pub const DESCRIPTION: &str =
    "Benign: Prometheus loses 3 healthy nodes' targets 09:00-09:40, one again from 10:30";
const SEED: u64 = 0x90e0_0000;
/// The nodes whose targets go missing (indices).
pub const NODES: [usize; 3] = [2, 6, 10];

/// Generates the scenario, deterministically.
pub fn generate() -> Scenario {
    let mut w = small_world(NAME, DESCRIPTION, SEED, 12);
    for n in NODES {
        let mut v = std::mem::take(&mut w.stories[n].scraped);
        w.span(&mut v, at(9, 0), at(9, 40), false);
        if n == NODES[1] {
            w.span(
                &mut v,
                at(10, 30),
                END.add(crate::time::Duration::mins(1)),
                false,
            );
        }
        w.stories[n].scraped = v;
    }
    w.finish(super::truth(vec![], vec![]))
}
