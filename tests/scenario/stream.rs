//! A scenario directory is replayed streamed (`nodewatch replay`, `demo
//! --scenario`): the same report as reading it whole, while holding at most
//! the catalog's widest window plus the read-ahead of samples per series,
//! however long the scenario is.

use nodewatch::catalog::Catalog;
use nodewatch::collect::replay::{ReplaySource, READ_AHEAD};
use nodewatch::collect::Source;
use nodewatch::scenario::{self, Streamed};
use nodewatch::time::Duration;
use nodewatch::tools::replay::{self, Outcome};
use std::sync::Arc;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// What a replay produced, as comparable text.
fn printed(o: &Outcome) -> String {
    format!("{:?}\n{:?}\n{}", o.notifications, o.actions, o.ticks)
}

#[test]
fn a_streamed_replay_reports_as_the_whole_file_does() {
    let catalog = Arc::new(Catalog::builtin());
    // Binder: 43 h, events; spot-preemption: node changes (nodes.jsonl).
    for name in ["binder", "spot-preemption"] {
        let dir = tempfile::tempdir().unwrap();
        let sc = scenario::builtin(name).expect("built in");
        scenario::write_dir(&sc, dir.path()).expect("write");
        // Unshifted, and shifted in time as `demo` does: streamed samples
        // and events move too.
        for by in [None, Some(Duration::secs(7 * 86_400 + 60))] {
            let mut whole = scenario::read_dir(dir.path()).expect("read");
            let mut opened = scenario::open_dir(dir.path()).expect("open");
            assert!(
                opened.metrics.is_some() && opened.events.is_some(),
                "{name}: streamed"
            );
            if let Some(by) = by {
                whole.shift(by);
                opened.shift(by);
            }
            let want = rt().block_on(replay::run(whole, catalog.clone(), Default::default()));
            assert!(!want.notifications.is_empty(), "{name}: alerts to compare");
            let got = rt()
                .block_on(replay::run_streamed(
                    opened,
                    catalog.clone(),
                    Default::default(),
                ))
                .expect("no file changed");
            assert_eq!(printed(&got), printed(&want), "{name} shifted by {by:?}");
        }
    }
}

#[test]
fn a_streamed_replay_holds_a_bounded_number_of_samples() {
    // Binder is 43 h of one-minute samples; the widest window of the
    // catalog is an hour, so a replay needs a small part of it at a time.
    let dir = tempfile::tempdir().unwrap();
    let sc = scenario::builtin("binder").expect("built in");
    let series: usize = sc.metrics.iter().map(|f| f.series.len()).sum();
    let total: usize = sc
        .metrics
        .iter()
        .flat_map(|f| &f.series)
        .map(|s| s.samples.len())
        .sum();
    let interval = sc
        .metrics
        .iter()
        .flat_map(|f| &f.series)
        .flat_map(|s| s.samples.windows(2).map(|w| w[1].0 - w[0].0))
        .min()
        .expect("series with samples");
    scenario::write_dir(&sc, dir.path()).expect("write");
    let meta = sc.meta.clone();
    drop(sc);

    let catalog = Catalog::builtin();
    let widest = catalog
        .signals
        .iter()
        .filter_map(|s| s.metric.as_ref())
        .flat_map(|q| [q.rate, q.ratio_to.as_ref().and_then(|d| d.rate)])
        .flatten()
        .map(|w| w.0)
        .max()
        .unwrap_or(0)
        .max(5 * 60 * 1000);
    // Per series: the widest window, the read-ahead, one step, and the
    // samples at both ends.
    let per_series = (widest + READ_AHEAD.0 + meta.step.0) / interval + 2;
    let bound = series * per_series as usize;
    assert!(
        bound * 20 < total,
        "the scenario ({total} samples) is much larger than the bound ({bound})"
    );

    let mut source = ReplaySource::streaming(scenario::open_dir(dir.path()).expect("open"));
    assert_eq!(
        source.samples_held(),
        0,
        "nothing read before the first tick"
    );
    let (mut held, mut ticks, mut at) = (0, 0, meta.start);
    rt().block_on(async {
        while at <= meta.end {
            source.observe(at, &catalog).await;
            held = held.max(source.samples_held());
            ticks += 1;
            at = at.add(meta.step);
        }
    });
    assert!(ticks > 1000, "{ticks} ticks");
    assert!(
        held <= bound,
        "held up to {held} samples, more than the bound of {bound} ({series} series)"
    );
    assert!(held > 0, "samples were read");
    assert!(source.failure().lock().unwrap().is_none());
}

#[test]
fn a_scenario_in_memory_replays_the_same_through_streamed() {
    // `demo` without `--scenario` replays the generated Binder through the
    // same path, nothing streamed.
    let catalog = Arc::new(Catalog::builtin());
    let sc = scenario::builtin("thread-leak").expect("built in");
    let want = rt().block_on(replay::run(sc.clone(), catalog.clone(), Default::default()));
    let got = rt()
        .block_on(replay::run_streamed(
            Streamed::from(sc),
            catalog,
            Default::default(),
        ))
        .expect("nothing streamed");
    assert_eq!(printed(&got), printed(&want));
}
