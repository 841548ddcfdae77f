//! The 500-node scenario, in full (about 20 s of CPU in a debug build,
//! which is why it has a test binary of its own that runs beside the
//! others): the three sick nodes are found among 540 nodes with diurnal
//! load and autoscaling, and nothing else is alerted on or cordoned.

use nodewatch::catalog::Catalog;
use nodewatch::scenario::suite::large_cluster;
use nodewatch::suite::run_builtin;
use std::sync::Arc;

#[test]
fn three_sick_nodes_among_540() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let names = [large_cluster::NAME.to_string()];
    let r = rt
        .block_on(run_builtin(&names, Arc::new(Catalog::builtin()), false))
        .unwrap();
    let table = r.table();
    let row = &r.rows[0];
    assert_eq!(row.nodes, large_cluster::NODES + large_cluster::AUTOSCALED);
    assert_eq!(row.faulty.len(), large_cluster::SICK.len());
    for f in &row.faulty {
        assert!(
            f.delay_s.is_some(),
            "{} ({}) missed\n{table}",
            f.node,
            f.kind
        );
    }
    assert_eq!(row.false_alerts, 0, "{table}");
    assert_eq!(row.false_cordons, 0, "{table}");
    assert_eq!(row.cluster_alerts_outside, 0, "{table}");
    // Autoscaled nodes are young, not missing.
    assert!(row.missing_data.is_empty(), "{:?}", row.missing_data);
}
