//! Pool policies and maintenance windows in the governor, at simulated
//! time with plain values.

use super::*;

const T0: Timestamp = Timestamp(1_709_625_600_000); // 2024-03-05T08:00:00Z, a Tuesday

use super::tests::{facts, req};

/// `n` healthy nodes of pool `pool`, named `{pool}{i}`, zones alternating.
fn pool(pool: &str, n: usize) -> Vec<NodeFacts> {
    facts(pool, pool, n)
}

fn policy(name: &str, pools: &[&str]) -> PoolPolicy {
    PoolPolicy {
        name: name.into(),
        selector: Selector {
            pool: pools.iter().map(|p| p.to_string()).collect(),
            ..Default::default()
        },
        mode: None,
        max_cordoned: None,
        max_unavailable: None,
        max_unhealthy: None,
        min_score: None,
        hub: Vec::new(),
        thresholds: Default::default(),
    }
}

fn governor(pools: Vec<PoolPolicy>) -> Governor {
    Governor::new(GovernorSettings {
        pools,
        ..Default::default()
    })
}

/// Marks `node` cordoned by nodewatch.
fn cordon(nodes: &mut [NodeFacts], node: &str) {
    let n = nodes.iter_mut().find(|n| n.name == node).unwrap();
    (n.cordoned_by_us, n.unschedulable) = (true, true);
}

#[test]
fn a_small_pool_repairs_two_of_four_where_the_global_limits_refuse() {
    let mut ns = pool("gpu", 4);
    ns[0].healthy = false;
    ns[1].healthy = false;
    // Global settings: 2 of 4 unhealthy is above 30%.
    assert_eq!(
        Governor::default().check(&req("gpu0"), &ns, T0),
        Err(Refusal::CommonCause {
            unhealthy: 2,
            total: 4
        })
    );
    // N-1 style: two may be repaired at once, two must stay.
    let mut g = governor(vec![PoolPolicy {
        max_unhealthy: Some(Limit::Count(2)),
        max_cordoned: Some(Limit::Count(2)),
        max_unavailable: Some(Limit::AllBut(2)),
        ..policy("gpu", &["gpu"])
    }]);
    assert_eq!(g.check(&req("gpu0"), &ns, T0), Ok(()));
    g.ledger_mut().record_cordon("n0", T0, "NodeUnhealthy");
    cordon(&mut ns, "gpu0");
    // The cluster-wide rate limit still spaces them.
    assert!(matches!(
        g.check(&req("gpu1"), &ns, T0.add(Duration::mins(5))),
        Err(Refusal::RateLimit { .. })
    ));
    let later = T0.add(Duration::mins(10));
    assert_eq!(g.check(&req("gpu1"), &ns, later), Ok(()));
    g.ledger_mut().record_cordon("n0", later, "NodeUnhealthy");
    cordon(&mut ns, "gpu1");
    // A third sick node: more than the pool allows.
    ns[2].healthy = false;
    let r = g.check(&req("gpu2"), &ns, later.add(Duration::mins(10)));
    assert_eq!(
        r.unwrap_err().to_string(),
        "pool policy gpu: common cause: 3 of the pool's 4 nodes look unhealthy, more than max_unhealthy 2"
    );
}

#[test]
fn a_pools_cordons_are_counted_in_the_pool_not_against_the_rest() {
    // 8 general nodes and a 4-node GPU pool; 10% of 12 allows one cordon.
    let mut ns = pool("general", 8);
    ns.extend(pool("gpu", 4));
    ns[8].healthy = false;
    ns[9].healthy = false;
    cordon(&mut ns, "gpu0");
    assert_eq!(
        Governor::default().check(&req("gpu1"), &ns, T0),
        Err(Refusal::MaxFraction {
            cordoned: 1,
            max: 1
        })
    );
    let g = governor(vec![PoolPolicy {
        max_cordoned: Some(Limit::Fraction(0.5)),
        max_unhealthy: Some(Limit::Fraction(0.5)),
        ..policy("gpu", &["gpu"])
    }]);
    assert_eq!(g.check(&req("gpu1"), &ns, T0), Ok(()));
    // The general nodes form the global scope: GPU cordons use none of it.
    ns[0].healthy = false;
    assert_eq!(g.check(&req("general0"), &ns, T0), Ok(()));
    // The pool's own limit, named in the refusal.
    cordon(&mut ns, "gpu1");
    ns[10].healthy = false;
    ns[11].healthy = false;
    let g = governor(vec![PoolPolicy {
        max_cordoned: Some(Limit::Fraction(0.5)),
        max_unhealthy: Some(Limit::Count(4)),
        ..policy("gpu", &["gpu"])
    }]);
    assert_eq!(
        g.check(&req("gpu2"), &ns, T0).unwrap_err().to_string(),
        "pool policy gpu: max_cordoned 50%: nodewatch already cordoned 2 of the pool's 4 nodes, the limit is 2"
    );
}

#[test]
fn max_unavailable_counts_every_cordon_in_the_pool() {
    let mut ns = pool("db", 5);
    ns[0].healthy = false;
    // Someone else cordoned one node for maintenance.
    ns[1].unschedulable = true;
    let g = governor(vec![PoolPolicy {
        max_unavailable: Some(Limit::Count(1)),
        ..policy("db", &["db"])
    }]);
    assert_eq!(
        g.check(&req("db0"), &ns, T0).unwrap_err().to_string(),
        "pool policy db: max_unavailable 1: 1 of the pool's 5 nodes are unschedulable already, the limit is 1"
    );
    ns[1].unschedulable = false;
    assert_eq!(g.check(&req("db0"), &ns, T0), Ok(()));
}

#[test]
fn detect_only_and_alert_pools_are_never_cordoned_and_cordon_pools_never_drained() {
    let mut ns = pool("lab", 4);
    ns.extend(pool("batch", 4));
    ns.extend(pool("web", 4));
    for n in ns.iter_mut().filter(|n| n.name.ends_with('0')) {
        n.healthy = false;
    }
    let g = governor(vec![
        PoolPolicy {
            mode: Some(Mode::DetectOnly),
            ..policy("lab", &["lab"])
        },
        PoolPolicy {
            mode: Some(Mode::Alert),
            ..policy("batch", &["batch"])
        },
        PoolPolicy {
            mode: Some(Mode::Cordon),
            ..policy("web", &["web"])
        },
    ]);
    assert_eq!(
        g.check(&req("lab0"), &ns, T0).unwrap_err().to_string(),
        "pool policy lab: mode detect-only: its nodes are never cordoned"
    );
    assert_eq!(
        g.check(&req("batch0"), &ns, T0).unwrap_err().to_string(),
        "pool policy batch: mode alert: its nodes are never cordoned"
    );
    assert_eq!(g.check(&req("web0"), &ns, T0), Ok(()));
    assert_eq!(g.mode_of(&ns[8]), Some(Mode::Cordon));
    assert_eq!(g.mode_of(&ns[0]), Some(Mode::DetectOnly));
    // The per-node opt-out still wins inside a pool.
    ns[8].excluded = true;
    assert_eq!(g.check(&req("web0"), &ns, T0), Err(Refusal::Excluded));
}

#[test]
fn label_selectors_first_match_wins_and_min_score() {
    let mut ns = pool("p", 6);
    for n in &mut ns[..3] {
        n.labels = vec![("accelerator".into(), "a100".into())];
    }
    ns[0].healthy = false;
    ns[3].healthy = false;
    let mut strict = policy("a100", &[]);
    strict.selector.match_labels = [("accelerator".to_string(), "a100".to_string())].into();
    strict.min_score = Some(0.95);
    let g = governor(vec![strict, policy("rest-of-p", &["p"])]);
    assert_eq!(g.policy_of(&ns[0]).unwrap().name, "a100");
    assert_eq!(g.policy_of(&ns[3]).unwrap().name, "rest-of-p");
    assert_eq!(g.label_keys(), ["accelerator"]);
    assert_eq!(
        g.check(&req("p0"), &ns, T0).unwrap_err().to_string(),
        "pool policy a100: score 0.90 is below min_score 0.95"
    );
    assert_eq!(Limit::Fraction(0.3).to_string(), "30%");
    // One sick node of the three in rest-of-p: 33% is above the global
    // 30%, but in a pool a fraction allows at least one.
    assert_eq!(g.check(&req("p3"), &ns, T0), Ok(()));
}

#[test]
fn a_maintenance_window_holds_cordons_until_it_ends() {
    let mut ns = pool("gpu", 8);
    ns[0].healthy = false;
    let window = |pools: Vec<String>| WindowSettings {
        name: "patching".into(),
        schedule: "0 9 * * TUE".into(),
        duration: Duration::mins(120),
        timezone: "Europe/Berlin".into(),
        reason: "OS patching CHG-42".into(),
        pools,
    };
    let g = Governor::new(GovernorSettings {
        maintenance_windows: vec![window(vec![])],
        ..Default::default()
    });
    // 09:00-11:00 Berlin is 08:00-10:00Z in March.
    let r = g.check(&req("gpu0"), &ns, T0).unwrap_err();
    assert_eq!(
        r.to_string(),
        "held: maintenance window patching until 2024-03-05T10:00:00Z (OS patching CHG-42)"
    );
    let holds = g.holds(T0);
    assert_eq!(holds.len(), 1);
    assert!(holds[0].active && holds[0].until.is_some());
    let after = T0.add(Duration::mins(120));
    assert_eq!(g.check(&req("gpu0"), &ns, after), Ok(()));
    assert!(!g.holds(after)[0].active);
    // The same hold, in words, for the opt-in uncordon and the condition.
    assert_eq!(g.window_hold_of(&ns[0], T0), Some(r.to_string()));
    assert_eq!(g.window_hold_of(&ns[0], after), None);
    // A second window is looked at when the first is not in force.
    let g = Governor::new(GovernorSettings {
        maintenance_windows: vec![
            WindowSettings {
                name: "nightly".into(),
                schedule: "0 1 * * *".into(),
                ..window(vec![])
            },
            window(vec![]),
        ],
        ..Default::default()
    });
    let r = g.check(&req("gpu0"), &ns, T0).unwrap_err().to_string();
    assert!(r.starts_with("held: maintenance window patching"), "{r}");
    assert_eq!(
        g.holds(T0).iter().map(|h| h.active).collect::<Vec<_>>(),
        [false, true]
    );
    // A window for another pool leaves these nodes alone.
    let g = Governor::new(GovernorSettings {
        pools: vec![policy("gpu", &["gpu"]), policy("cpu", &["cpu"])],
        maintenance_windows: vec![window(vec!["cpu".into()])],
        ..Default::default()
    });
    assert_eq!(g.check(&req("gpu0"), &ns, T0), Ok(()));
    assert_eq!(g.window_hold_of(&ns[0], T0), None);
    // A window that cannot be read holds (fail closed).
    let mut bad = window(vec![]);
    bad.timezone = "Nowhere/Atlantis".into();
    let g = Governor::new(GovernorSettings {
        maintenance_windows: vec![bad],
        ..Default::default()
    });
    let r = g.check(&req("gpu0"), &ns, after).unwrap_err().to_string();
    assert!(
        r.starts_with("held: maintenance window patching cannot be read"),
        "{r}"
    );
}
