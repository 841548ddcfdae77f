//! Every governor limit, one test each.

use super::*;

fn nodes(n: usize) -> Vec<NodeFacts> {
    facts("n", "p", n)
}

/// `n` healthy nodes of pool `pool`, named `{prefix}{i}`, zones alternating.
pub(super) fn facts(prefix: &str, pool: &str, n: usize) -> Vec<NodeFacts> {
    (0..n)
        .map(|i| NodeFacts {
            name: format!("{prefix}{i}"),
            zone: format!("z{}", i % 2),
            pool: pool.into(),
            healthy: true,
            ..Default::default()
        })
        .collect()
}

/// A fresh cordon request for `node` from rule `R`.
pub(super) fn req(node: &str) -> CordonRequest {
    CordonRequest {
        node: node.into(),
        rule: "R".into(),
        score: 0.9,
        explanation: String::new(),
        fresh: true,
        drain: true,
    }
}

const T0: Timestamp = Timestamp(1_000_000_000);

#[test]
fn allows_a_single_sick_node() {
    let g = Governor::default();
    let mut ns = nodes(8);
    ns[0].healthy = false;
    assert_eq!(g.check(&req("n0"), &ns, T0), Ok(()));
}

#[test]
fn pause_and_dry_run() {
    let ns = nodes(8);
    let g = Governor::new(GovernorSettings {
        paused: true,
        ..Default::default()
    });
    assert_eq!(g.check(&req("n0"), &ns, T0), Err(Refusal::Paused));
    let g = Governor::new(GovernorSettings {
        dry_run: true,
        ..Default::default()
    });
    assert_eq!(g.check(&req("n0"), &ns, T0), Err(Refusal::DryRun));
}

#[test]
fn stale_data_refused() {
    let g = Governor::default();
    let r = CordonRequest {
        fresh: false,
        ..req("n0")
    };
    assert_eq!(g.check(&r, &nodes(8), T0), Err(Refusal::StaleData));
}

#[test]
fn rate_limit_one_per_ten_minutes() {
    let mut g = Governor::new(GovernorSettings {
        max_fraction: 0.5,
        ..Default::default()
    });
    g.ledger_mut().record_cordon("n0", T0, "NodeUnhealthy");
    let ns = nodes(8);
    assert!(matches!(
        g.check(&req("n1"), &ns, T0.add(Duration::mins(9))),
        Err(Refusal::RateLimit { .. })
    ));
    assert_eq!(g.check(&req("n1"), &ns, T0.add(Duration::mins(10))), Ok(()));
}

#[test]
fn max_fraction_allows_at_least_one() {
    let g = Governor::default();
    let mut ns = nodes(8);
    assert_eq!(
        g.check(&req("n0"), &ns, T0),
        Ok(()),
        "10% of 8 rounds down to 0, but one is allowed"
    );
    ns[1].cordoned_by_us = true;
    ns[1].unschedulable = true;
    assert_eq!(
        g.check(&req("n0"), &ns, T0),
        Err(Refusal::MaxFraction {
            cordoned: 1,
            max: 1
        })
    );
    let ns = nodes(30);
    let mut ns2 = ns.clone();
    ns2[1].cordoned_by_us = true;
    assert_eq!(g.check(&req("n0"), &ns2, T0), Ok(()), "3 allowed of 30");
    for n in ns2.iter_mut().take(4).skip(1) {
        n.cordoned_by_us = true;
    }
    assert_eq!(
        g.check(&req("n0"), &ns2, T0),
        Err(Refusal::MaxFraction {
            cordoned: 3,
            max: 3
        })
    );
}

#[test]
fn common_cause_over_thirty_percent_unhealthy() {
    let g = Governor::default();
    let mut ns = nodes(10);
    for n in ns.iter_mut().take(3) {
        n.healthy = false;
    }
    assert_eq!(
        g.check(&req("n0"), &ns, T0),
        Ok(()),
        "exactly 30% is still allowed"
    );
    ns[3].healthy = false;
    assert_eq!(
        g.check(&req("n0"), &ns, T0),
        Err(Refusal::CommonCause {
            unhealthy: 4,
            total: 10
        })
    );
}

#[test]
fn never_the_last_healthy_node_of_a_zone() {
    let g = Governor::default();
    let mut ns = nodes(4); // z0: n0, n2; z1: n1, n3
    ns[0].healthy = false;
    ns[2].unschedulable = true; // the other z0 node is cordoned already
    assert_eq!(
        g.check(&req("n0"), &ns, T0),
        Err(Refusal::LastHealthy {
            group: "zone z0".into()
        })
    );
    ns[2].unschedulable = false;
    assert_eq!(g.check(&req("n0"), &ns, T0), Ok(()));
}

#[test]
fn cooldown_after_uncordon() {
    let mut g = Governor::default();
    g.ledger_mut().record_uncordon("n0", T0);
    let ns = nodes(8);
    assert!(matches!(
        g.check(&req("n0"), &ns, T0.add(Duration::mins(30))),
        Err(Refusal::Cooldown { .. })
    ));
    assert_eq!(g.check(&req("n0"), &ns, T0.add(Duration::mins(61))), Ok(()));
}

#[test]
fn human_uncordon_waits_for_health() {
    let mut g = Governor::default();
    g.ledger_mut().note_human_uncordon("n0");
    let ns = nodes(8);
    assert_eq!(g.check(&req("n0"), &ns, T0), Err(Refusal::HumanOverride));
    g.observe_health("n0", true, T0);
    g.observe_health("n0", false, T0.add(Duration::mins(5)));
    g.observe_health("n0", true, T0.add(Duration::mins(6)));
    g.observe_health("n0", true, T0.add(Duration::mins(15)));
    assert_eq!(
        g.check(&req("n0"), &ns, T0.add(Duration::mins(15))),
        Err(Refusal::HumanOverride)
    );
    g.observe_health("n0", true, T0.add(Duration::mins(16)));
    assert_eq!(g.check(&req("n0"), &ns, T0.add(Duration::mins(16))), Ok(()));
}

#[test]
fn refusals_read_well() {
    let r = Refusal::CommonCause {
        unhealthy: 5,
        total: 8,
    };
    assert_eq!(r.to_string(), "common cause: 5 of 8 nodes look unhealthy");
}

#[test]
fn an_excluded_node_is_never_cordoned() {
    let g = Governor::default();
    let mut ns = nodes(8);
    ns[0].healthy = false;
    ns[0].excluded = true;
    assert_eq!(g.check(&req("n0"), &ns, T0), Err(Refusal::Excluded));
}

#[test]
fn a_hold_refuses_with_its_reason_until_lifted() {
    let mut g = Governor::default();
    let mut ns = nodes(8);
    ns[0].healthy = false;
    g.set_hold(Some(
        "held: ClusterUpgradeInProgress firing in Alertmanager".into(),
    ));
    let r = g.check(&req("n0"), &ns, T0).unwrap_err();
    assert_eq!(
        r.to_string(),
        "held: ClusterUpgradeInProgress firing in Alertmanager"
    );
    g.set_hold(None);
    assert_eq!(g.check(&req("n0"), &ns, T0), Ok(()));
}

#[test]
fn a_held_node_is_never_cordoned_and_says_why() {
    let g = Governor::default();
    let mut ns = nodes(8);
    ns[0].healthy = false;
    ns[0].held = Some("expected disruption: termination notice (x)".into());
    ns[0].leaving = true;
    let r = g.check(&req("n0"), &ns, T0).unwrap_err();
    assert_eq!(r.to_string(), "expected disruption: termination notice (x)");
}

#[test]
fn an_upgrade_holds_its_pool_only() {
    let g = Governor::default();
    let mut ns = nodes(8);
    for n in &mut ns[..4] {
        n.pool = "upgrading".into();
        n.upgrade = Some("upgrade in progress in pool upgrading".into());
    }
    ns[0].healthy = false;
    ns[5].healthy = false;
    assert_eq!(
        g.check(&req("n0"), &ns, T0),
        Err(Refusal::Held(
            "upgrade in progress in pool upgrading".into()
        ))
    );
    assert_eq!(g.check(&req("n5"), &ns, T0), Ok(()), "another pool");
}

/// Nodes someone else is draining look unhealthy, but they are no common
/// cause: a real repair elsewhere goes ahead.
#[test]
fn held_nodes_do_not_count_towards_the_unhealthy_fraction() {
    let g = Governor::default();
    let mut ns = nodes(10);
    for n in &mut ns[..3] {
        n.healthy = false;
        n.unschedulable = true;
        n.held = Some("expected disruption: cordoned by someone else".into());
        n.leaving = true;
    }
    ns[9].healthy = false;
    assert_eq!(g.check(&req("n9"), &ns, T0), Ok(()));
    // The same four unhealthy nodes, none held: 4 of 10 > 30%.
    for n in &mut ns[..3] {
        n.held = None;
    }
    assert_eq!(
        g.check(&req("n9"), &ns, T0),
        Err(Refusal::CommonCause {
            unhealthy: 4,
            total: 10
        })
    );
}

/// A node the autoscaler is removing is no capacity: the last other node
/// of a zone is still the last one.
#[test]
fn a_leaving_node_is_not_capacity_for_the_last_healthy_check() {
    let g = Governor::default();
    let mut ns = nodes(8);
    // Zone z0: n0 (sick), the others leaving (a taint, not unschedulable).
    ns[0].healthy = false;
    for i in [2, 4, 6] {
        ns[i].held = Some("expected disruption: the cluster autoscaler".into());
        ns[i].leaving = true;
    }
    assert_eq!(
        g.check(&req("n0"), &ns, T0),
        Err(Refusal::LastHealthy {
            group: "zone z0".into()
        })
    );
    // Joining (warm-up) is capacity.
    ns[2].leaving = false;
    ns[2].held = Some("warm-up".into());
    assert_eq!(g.check(&req("n0"), &ns, T0), Ok(()));
}
