//! The ledger's bookkeeping at simulated time: what it remembers, and
//! when what it remembers ends.

use super::*;

const T0: Timestamp = Timestamp(1_700_000_000_000);

#[test]
fn cordons_and_uncordons_are_remembered() {
    let mut l = Ledger::default();
    assert_eq!(l.last_cordon(), None);
    l.record_cordon("n0", T0, "NodeUnhealthy");
    assert_eq!(l.last_cordon(), Some(T0));
    let later = T0.add(Duration::mins(3));
    l.adopt_cordon("n1", Some(later));
    assert_eq!(l.last_cordon(), Some(later));
    l.adopt_cordon("n2", Some(T0));
    assert_eq!(
        l.last_cordon(),
        Some(later),
        "an older cordon does not move it back"
    );
    assert_eq!(l.uncordoned_at("n0"), None);
    l.record_uncordon("n0", later);
    assert_eq!(l.uncordoned_at("n0"), Some(later));
    assert_eq!(l.uncordoned_at("n1"), None);
}

#[test]
fn a_human_override_ends_after_a_healthy_period_without_a_break() {
    let mut l = Ledger::default();
    let p = Duration::mins(10);
    l.observe_health("n0", true, T0, p);
    assert!(!l.is_overridden("n0"), "no override, nothing tracked");
    l.note_human_uncordon("n0");
    assert_eq!(l.overridden(), vec!["n0".to_string()]);
    l.observe_health("n0", true, T0, p);
    l.observe_health("n0", false, T0.add(Duration::mins(5)), p);
    l.observe_health("n0", true, T0.add(Duration::mins(6)), p);
    l.observe_health("n0", true, T0.add(Duration::mins(15)), p);
    assert!(l.is_overridden("n0"), "healthy 9 minutes since the break");
    l.observe_health("n0", true, T0.add(Duration::mins(16)), p);
    assert!(!l.is_overridden("n0"));
    assert!(l.overridden().is_empty());
}

#[test]
fn an_annotated_uncordon_is_seen_once_per_cordon() {
    let mut l = Ledger::default();
    assert!(l.first_sight_of_annotated_uncordon("n0", "2026-01-01T00:00:00Z"));
    assert!(!l.first_sight_of_annotated_uncordon("n0", "2026-01-01T00:00:00Z"));
    assert!(l.first_sight_of_annotated_uncordon("n0", "2026-01-02T00:00:00Z"));
    assert!(l.first_sight_of_annotated_uncordon("n1", "2026-01-01T00:00:00Z"));
}

#[test]
fn a_refusal_streak_is_reported_once_per_reason() {
    let mut l = Ledger::default();
    assert!(l.note_refusal("n0", "rate limit"));
    assert!(!l.note_refusal("n0", "rate limit"), "same streak");
    assert!(l.note_refusal("n0", "cooldown"), "new reason");
    assert!(l.note_refusal("n1", "cooldown"), "per node");
    l.end_refusal_streaks(&["n1".to_string()]);
    assert!(l.note_refusal("n0", "cooldown"), "n0's streak ended");
    assert!(!l.note_refusal("n1", "cooldown"), "n1 still asked for");
    l.record_cordon("n1", T0, "NodeUnhealthy");
    assert!(l.note_refusal("n1", "cooldown"), "a cordon ends the streak");
}

#[test]
fn the_ledger_owns_who_cordoned_when_and_why() {
    let mut l = Ledger::default();
    assert!(!l.is_cordoned_by_us("n0"));
    l.record_cordon("n0", T0, "NodeUnhealthy");
    assert!(l.is_cordoned_by_us("n0"));
    let c = l.cordon_of("n0").expect("recorded");
    assert_eq!((c.at, c.why.as_str()), (Some(T0), "NodeUnhealthy"));
    assert!(
        l.cordons().unschedulable("n0", false),
        "written, not listed yet"
    );
    // Adopting a cordon already known keeps its time and reason.
    l.adopt_cordon("n0", None);
    assert_eq!(l.cordon_of("n0").unwrap().why, "NodeUnhealthy");
    let later = T0.add(Duration::mins(30));
    l.record_uncordon("n0", later);
    assert!(!l.is_cordoned_by_us("n0"));
    assert_eq!(l.cordon_of("n0"), None);
    assert!(
        !l.cordons().unschedulable("n0", true),
        "written schedulable until a list shows the node changed"
    );
    assert_eq!(l.last_cordon(), Some(T0), "an uncordon is not a cordon");
}

#[test]
fn an_adopted_cordon_is_ours_with_what_the_annotations_tell() {
    let mut l = Ledger::default();
    l.adopt_cordon("n0", None);
    assert!(l.is_cordoned_by_us("n0"));
    assert_eq!(l.cordon_of("n0").unwrap().at, None);
    assert_eq!(l.cordon_of("n0").unwrap().why, ADOPTED);
    assert_eq!(l.last_cordon(), None, "no time, no rate limit");
    l.adopt_cordon("n1", Some(T0));
    assert_eq!(l.cordon_of("n1").unwrap().at, Some(T0));
    assert_eq!(l.last_cordon(), Some(T0));
}

#[test]
fn a_node_list_supersedes_what_was_written_and_shows_a_humans_uncordon() {
    let mut l = Ledger::default();
    l.record_cordon("n0", T0, "NodeUnhealthy");
    l.record_cordon("n1", T0, "NodeUnhealthy");
    l.record_uncordon("n2", T0);
    // The list shows n0 cordoned (nodewatch's write), n1 schedulable (a
    // human undid it), n2 unschedulable (someone else cordoned it since),
    // n3 schedulable (never nodewatch's).
    let listed = [
        ("n0".to_string(), true),
        ("n1".to_string(), false),
        ("n2".to_string(), true),
        ("n3".to_string(), false),
    ];
    assert_eq!(l.observe_listed(&listed), ["n1".to_string()]);
    assert!(l.is_cordoned_by_us("n0"), "confirmed, still ours");
    assert!(!l.is_cordoned_by_us("n1"));
    assert!(l.is_overridden("n1"), "left alone until healthy");
    assert!(!l.is_overridden("n3"));
    assert!(l.cordons().written.is_empty(), "every write superseded");
    assert!(l.cordons().unschedulable("n2", true), "as listed now");
    // Listed schedulable again later: n1 is no longer ours, nothing new.
    assert!(l.observe_listed(&listed[1..2]).is_empty());
}
