//! The query generator of the differential corpus: the project's seeded
//! RNG (`scenario::rng`) picks
//! from a small grammar (selectors with random matchers, ranges and
//! offsets; range and element-wise functions; aggregations with
//! `by`/`without`, `quantile`; regressions and quantiles over ranges;
//! `timestamp`; subqueries; `@` (with `start()`/`end()`); arithmetic and comparisons with scalars; vector
//! matching with `on`/`ignoring`/`group_left`/`group_right`; set
//! operators; `label_replace`, `label_join`, `count_values`, `absent`,
//! `absent_over_time`, `clamp`, `histogram_quantile` over a classic
//! histogram; string literals), nested at most [`MAX_DEPTH`] levels, and
//! the instant time or range of each query. The same seed gives the same
//! corpus.

use nodewatch::scenario::rng::Rng;

#[path = "corpus_labels.rs"]
mod labels;

/// Nodes and signals of the corpus's data.
pub const NODES: usize = 6;
pub const SIGNALS: [&str; 3] = ["cpu", "mem", "disk"];
/// The classic histogram of the corpus's data (test data only: nodewatch
/// exports no histogram).
pub const BUCKET_METRIC: &str = "request_seconds_bucket";
/// Deepest nesting of generated expressions.
const MAX_DEPTH: u32 = 3;

const RANGE_FNS: &[&str] = &[
    "rate",
    "increase",
    "delta",
    "irate",
    "changes",
    "resets",
    "avg_over_time",
    "min_over_time",
    "max_over_time",
    "sum_over_time",
    "count_over_time",
    "last_over_time",
    "present_over_time",
    "stddev_over_time",
    "stdvar_over_time",
];
const ELEMENT_FNS: &[&str] = &[
    "abs",
    "ceil",
    "floor",
    "round",
    "sgn",
    "exp",
    "ln",
    "log2",
    "log10",
    "sqrt",
    "sin",
    "cos",
    "atan",
    "tanh",
    "deg",
    "rad",
    "hour",
    "minute",
    "day_of_week",
    "month",
    "year",
];
const AGGS: &[&str] = &[
    "sum", "avg", "min", "max", "count", "group", "stddev", "stdvar",
];
const ARITH: &[&str] = &["+", "-", "*", "/", "%", "^", "atan2"];
const CMP: &[&str] = &["==", "!=", ">", "<", ">=", "<="];
const SETS: &[&str] = &["and", "or", "unless"];

/// A deterministic generator of queries, on the project's seeded RNG.
pub struct Gen(Rng);

impl Gen {
    /// A generator whose corpus depends only on `seed`.
    pub fn new(seed: u64) -> Self {
        Gen(Rng::new(seed))
    }

    fn below(&mut self, n: usize) -> usize {
        self.0.range(0, n as i64) as usize
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }

    /// One query: mostly a vector expression, now and then a string
    /// literal (a `string` result; an error as a range query).
    pub fn query(&mut self) -> String {
        if self.below(60) == 0 {
            return ["\"text\"", "\"\"", "(\"a b\")"][self.below(3)].into();
        }
        self.vector(MAX_DEPTH)
    }

    /// Query parameters: `&time=` for an instant query, or a range, around
    /// the data (`first` to `last`, s), sometimes before or after it.
    pub fn params(&mut self, first: i64, last: i64) -> String {
        let start = first - 120 + self.below((last - first + 420) as usize) as i64;
        if self.below(2) == 0 {
            return format!("&time={start}");
        }
        let end = start + self.below(600) as i64;
        let step = ["7", "15", "30", "45", "60", "14.5"][self.below(6)];
        format!("&start={start}&end={end}&step={step}")
    }

    fn matchers(&mut self, metric: &str) -> String {
        let mut m = Vec::new();
        if self.below(3) == 0 {
            let node = self.below(NODES);
            m.push(match self.below(4) {
                0 => format!("node=\"n{node}\""),
                1 => format!("node!=\"n{node}\""),
                2 => format!("node=~\"n[0-{node}]\""),
                _ => format!("node!~\"n{node}|n{}\"", (node + 1) % NODES),
            });
        }
        if metric != "nodewatch_node_score" && self.below(3) == 0 {
            let s = self.pick(&SIGNALS);
            m.push(if self.below(2) == 0 {
                format!("signal=\"{s}\"")
            } else {
                format!("signal!=\"{s}\"")
            });
        }
        if metric == "nodewatch_node_score" && self.below(4) == 0 {
            m.push(format!("zone=\"z{}\"", self.below(2)));
        }
        if m.is_empty() {
            metric.to_string()
        } else {
            format!("{metric}{{{}}}", m.join(","))
        }
    }

    fn offset(&mut self) -> &'static str {
        [
            "",
            "",
            "",
            "",
            " offset 1m",
            " offset 30s",
            " offset -1m",
            " offset -45s",
            " offset 5m",
            " @ 1700000300",
            " @ 1700000100.5 offset 1m",
            " @ start()",
            " @ end() offset -30s",
        ][self.below(13)]
    }

    fn metric(&mut self) -> &'static str {
        [
            "nodewatch_node_score",
            "nodewatch_signal_value",
            "nodewatch_signal_anomaly",
        ][self.below(3)]
    }

    fn selector(&mut self) -> String {
        let m = self.metric();
        let s = self.matchers(m);
        format!("{s}{}", self.offset())
    }

    fn scalar(&mut self) -> String {
        match self.below(6) {
            0 => "time()".into(),
            1 => format!("scalar(sum({}))", self.selector()),
            2 => ["NaN", "Inf", "-Inf", "0", "-0.5"][self.below(5)].into(),
            _ => format!("{}", self.below(40) as f64 / 4.0),
        }
    }

    fn grouping(&mut self) -> String {
        let labels = ["node", "signal", "zone", "pool", "__name__"];
        let a = self.pick(&labels);
        let b = self.pick(&labels);
        match self.below(4) {
            0 => String::new(),
            1 => format!(" by ({a})"),
            2 => format!(" without ({a})"),
            _ => format!(" by ({a}, {b})"),
        }
    }

    fn vector(&mut self, depth: u32) -> String {
        if depth == 0 {
            return self.selector();
        }
        let d = depth - 1;
        match self.below(20) {
            0 => self.selector(),
            1 if self.below(3) == 0 => {
                let f = self.pick(RANGE_FNS);
                let r = ["1m", "2m", "5m"][self.below(3)];
                // Always a step: without one, the subquery steps at the
                // server's evaluation interval (the test Prometheus uses
                // 1h; nodewatch Prometheus's default 1m).
                let step = ["15s", "20s", "30s", "1m"][self.below(4)];
                let inner = self.vector(d);
                format!("{f}(({inner})[{r}:{step}]{})", self.offset())
            }
            1 | 2 => {
                let f = self.pick(RANGE_FNS);
                let m = self.metric();
                let s = self.matchers(m);
                let r = ["30s", "1m", "2m", "5m", "45s"][self.below(5)];
                format!("{f}({s}[{r}]{})", self.offset())
            }
            3 => {
                let f = self.pick(ELEMENT_FNS);
                format!("{f}({})", self.vector(d))
            }
            14 => {
                let m = self.metric();
                let s = self.matchers(m);
                let r = ["1m", "2m", "5m"][self.below(3)];
                let o = self.offset();
                match self.below(5) {
                    0 => format!("deriv({s}[{r}]{o})"),
                    // Never with `@`: Prometheus 2.42 turns the `@` into an
                    // offset from the query's start and, predict_linear not
                    // being step-invariant there, moves the window with the
                    // step; nodewatch keeps it pinned as documented.
                    1 => {
                        let o = if o.contains('@') { "" } else { o };
                        format!("predict_linear({s}[{r}]{o}, {})", self.below(600))
                    }
                    2 => format!(
                        "holt_winters({s}[{r}]{o}, 0.{}, 0.{})",
                        1 + self.below(9),
                        1 + self.below(9)
                    ),
                    3 => format!(
                        "quantile_over_time({}, {s}[{r}]{o})",
                        ["0", "0.25", "0.5", "0.9", "1", "-1", "2"][self.below(7)]
                    ),
                    _ => format!(
                        "timestamp({})",
                        if self.below(2) == 0 {
                            self.selector()
                        } else {
                            self.vector(d)
                        }
                    ),
                }
            }
            15 => {
                let q = ["0", "0.1", "0.5", "0.99", "1", "1.5", "-0.5", "NaN"][self.below(8)];
                let g = self.grouping();
                format!("quantile{g}({q}, {})", self.vector(d))
            }
            4 | 5 => {
                let a = self.pick(AGGS);
                let g = self.grouping();
                format!("{a}{g}({})", self.vector(d))
            }
            6 => {
                let a = ["topk", "bottomk"][self.below(2)];
                format!("{a}({}, {})", 1 + self.below(3), self.vector(d))
            }
            7 => {
                let ops = if self.below(2) == 0 { ARITH } else { CMP };
                let op = self.pick(ops);
                let b = if CMP.contains(&op) && self.below(2) == 0 {
                    " bool"
                } else {
                    ""
                };
                let (v, s) = (self.vector(d), self.scalar());
                if self.below(2) == 0 {
                    format!("({v}) {op}{b} {s}")
                } else {
                    format!("{s} {op}{b} ({v})")
                }
            }
            8..=10 => self.matched(),
            11 | 12 => {
                let op = self.pick(SETS);
                let m = [
                    "",
                    "",
                    " on(node)",
                    " ignoring(signal)",
                    " on(zone)",
                    " on()",
                ][self.below(6)];
                format!("({}) {op}{m} ({})", self.vector(d), self.vector(d))
            }
            13 => {
                let f = ["clamp_min", "clamp_max", "clamp"][self.below(3)];
                if f == "clamp" {
                    // Sometimes inverted (min > max: nothing), or NaN.
                    let lo = ["0", "1", "5", "20", "NaN", "-Inf"][self.below(6)];
                    let hi = ["0", "2", "10", "30", "NaN", "Inf"][self.below(6)];
                    format!("clamp({}, {lo}, {hi})", self.vector(d))
                } else {
                    format!("{f}({}, {})", self.vector(d), self.below(30))
                }
            }
            16 | 17 => self.relabeled(d),
            18 => self.absent(d),
            19 => self.histogram(),
            _ => unreachable!("below(20)"),
        }
    }

    /// Two vectors joined by labels, mostly in shapes that match, some
    /// that Prometheus refuses (many-to-many, ambiguous one-to-one).
    fn matched(&mut self) -> String {
        let ops = if self.below(3) == 0 { CMP } else { ARITH };
        let op = self.pick(ops);
        let b = if CMP.contains(&op) && self.below(2) == 0 {
            " bool"
        } else {
            ""
        };
        let value = self.matchers("nodewatch_signal_value");
        let anomaly = self.matchers("nodewatch_signal_anomaly");
        let score = self.matchers("nodewatch_node_score");
        let o1 = self.offset();
        match self.below(9) {
            0 => format!("{value}{o1} {op}{b} {anomaly}"),
            1 => format!("{value} {op}{b} ignoring(signal) group_left {anomaly}{o1}"),
            2 => format!("{value} {op}{b} on(node) group_left(zone, pool) {score}{o1}"),
            3 => format!("{score}{o1} {op}{b} on(node) group_right(pool) {value}"),
            4 => format!("sum by (node) ({value}) {op}{b} ignoring(zone, pool) {score}"),
            5 => format!("avg by (zone) ({score}) {op}{b} on(zone) group_right {score}{o1}"),
            6 => format!("{value} {op}{b} on(node) {score}"),
            7 => format!("max by (node, signal) ({anomaly}) {op}{b} on(node, signal) {value}"),
            _ => format!("{score} {op}{b} on(node) group_left(signal) {anomaly}"),
        }
    }
}

/// Percent-encodes a query for a URL.
pub fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}
