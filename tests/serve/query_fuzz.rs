//! A bounded fuzz run of the query path: thousands of random token
//! sequences built from PromQL's vocabulary (deep nesting, long operator
//! chains, odd numbers, huge ranges, regexes, strings, broken syntax) go
//! through the pre-parse guard, the parser and both evaluators on a small
//! history, on a thread with the 2 MiB stack tokio's threads get. None may
//! panic or overflow the stack; each must answer or fail with an error.
//! The generator is a fixed-seed xorshift, so every run checks the same
//! corpus.

use nodewatch::serve::history::History;
use nodewatch::serve::query::{self, Budget};

/// Queries per run.
const CORPUS: usize = 4_000;

const T0: i64 = 1_519_146_000_000;

/// Pieces a query is made of.
const TOKENS: &[&str] = &[
    "x",
    "y",
    "c",
    "x{node=\"a\"}",
    "{__name__=~\"x|y\"}",
    "x{node=~\"(a|b)+\"}",
    "x{node!~\"\"}",
    "[5m]",
    "[1y]",
    "[0s]",
    "[5m:1m]",
    "[30s5m]",
    " offset 5m",
    " offset -1h",
    " @ 100",
    "(",
    ")",
    "(",
    ")",
    "abs(",
    "rate(",
    "sum(",
    "sum by (node) (",
    "topk(",
    "avg_over_time(",
    "sum_over_time(",
    "clamp_min(",
    "round(",
    "scalar(",
    "vector(",
    "time()",
    "sort_desc(",
    "count(",
    "stddev(",
    "increase(",
    "delta(",
    "irate(",
    "label_replace(",
    "label_join(",
    "count_values(",
    "absent(",
    "absent_over_time(",
    "histogram_quantile(",
    "clamp(",
    ",",
    ",",
    "+",
    "-",
    "*",
    "/",
    "%",
    "^",
    "==",
    "!=",
    ">",
    "<",
    ">=",
    "<=",
    " bool ",
    " and ",
    " or ",
    " unless ",
    " on(node) ",
    " ignoring(zone) ",
    " group_left ",
    "1",
    "0",
    "-1",
    "NaN",
    "Inf",
    "-Inf",
    "1e308",
    "1e-308",
    "0x1f",
    "2.5",
    "9223372036854775807",
    "\"str\"",
    "'((('",
    "`{{{`",
    "#comment\n",
    " ",
    "{",
    "}",
    "[",
    "]",
    "=~",
    "\"",
    "é",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn history() -> History {
    let mut h = History::new(6 * 3_600_000, usize::MAX);
    for i in 0..60i64 {
        assert!(h.begin(T0 + i * 30_000));
        for node in ["a", "b", "c"] {
            h.set(&[("__name__", "x"), ("node", node)], (i * 7 % 11) as f64);
            h.set(
                &[("__name__", "y"), ("node", node), ("zone", "z")],
                f64::from(i as i32) * 1e30,
            );
            h.set(&[("__name__", "c"), ("node", node)], (i * 30 % 400) as f64);
        }
        h.end();
    }
    h
}

/// A well-formed expression of at most `depth` levels (instant vector
/// or scalar), so much of the corpus reaches the evaluator.
fn expr(rng: &mut Rng, depth: usize) -> String {
    const SELECTORS: &[&str] = &[
        "x",
        "y",
        "c",
        "x{node=\"a\"}",
        "{__name__=~\"x|y\"}",
        "y offset 5m",
        "x offset -1h",
        "c{node!=\"b\"}",
        "nope",
    ];
    const NUMBERS: &[&str] = &[
        "1", "0", "-1", "NaN", "Inf", "-Inf", "1e308", "2.5", "1e100",
    ];
    const RANGES: &[&str] = &["[5m]", "[1m]", "[30s]", "[1y]", "[1h] offset 10m"];
    const OVER: &[&str] = &[
        "rate",
        "increase",
        "delta",
        "irate",
        "changes",
        "resets",
        "avg_over_time",
        "sum_over_time",
        "min_over_time",
        "max_over_time",
        "count_over_time",
        "stddev_over_time",
        "last_over_time",
        "present_over_time",
    ];
    const AGG: &[&str] = &[
        "sum", "avg", "min", "max", "count", "group", "stddev", "stdvar",
    ];
    const OPS: &[&str] = &[
        "+", "-", "*", "/", "%", "^", "==", "!=", ">", "<=", "> bool",
    ];
    let pick = |rng: &mut Rng, xs: &[&str]| xs[rng.below(xs.len())].to_string();
    if depth == 0 {
        return if rng.below(3) == 0 {
            pick(rng, NUMBERS)
        } else {
            pick(rng, SELECTORS)
        };
    }
    let d = depth - 1;
    match rng.below(10) {
        8 => {
            // Label functions with odd strings: empty, invalid names and
            // regexes, catastrophic-looking patterns, unicode.
            const STR: &[&str] = &[
                "", "node", "le", "1x", "(", "(a+)+$", "é", ".*", "$1$1$1", "__name__",
            ];
            let s = |rng: &mut Rng| format!("{:?}", pick(rng, STR));
            let e = expr(rng, d);
            match rng.below(5) {
                0 => format!(
                    "label_replace({e}, {}, {}, {}, {})",
                    s(rng),
                    s(rng),
                    s(rng),
                    s(rng)
                ),
                1 => format!(
                    "label_join({e}, {}, {}, {}, {})",
                    s(rng),
                    s(rng),
                    s(rng),
                    s(rng)
                ),
                2 => format!("count_values({}, {e})", s(rng)),
                3 => format!("histogram_quantile({}, {e})", pick(rng, NUMBERS)),
                _ => format!(
                    "absent({e}) or clamp({e}, {}, {})",
                    pick(rng, NUMBERS),
                    pick(rng, NUMBERS)
                ),
            }
        }
        0 => format!(
            "{}({}{})",
            pick(rng, OVER),
            pick(rng, SELECTORS),
            pick(rng, RANGES)
        ),
        1 => format!("{} by (node) ({})", pick(rng, AGG), expr(rng, d)),
        2 => format!("{}({})", pick(rng, AGG), expr(rng, d)),
        3 => format!("{} {} {}", expr(rng, d), pick(rng, OPS), pick(rng, NUMBERS)),
        4 => format!("{} {} {}", pick(rng, NUMBERS), pick(rng, OPS), expr(rng, d)),
        5 => format!("-({})", expr(rng, d)),
        6 => {
            let f = pick(rng, &["abs", "ceil", "floor", "round", "sort", "sort_desc"]);
            format!("{f}({})", expr(rng, d))
        }
        7 => {
            let f = pick(rng, &["clamp_min", "clamp_max", "round", "topk", "bottomk"]);
            let n = pick(rng, NUMBERS);
            if f.ends_with('k') {
                format!("{f}({n}, {})", expr(rng, d))
            } else {
                format!("{f}({}, {n})", expr(rng, d))
            }
        }
        _ => format!("scalar({})", expr(rng, d)),
    }
}

/// One query: a well-formed expression, a few random tokens, or a deep
/// repetition of one token.
fn query(rng: &mut Rng) -> String {
    let mut q = String::new();
    match rng.below(4) {
        1 | 2 => {
            let depth = rng.below(7);
            q = expr(rng, depth);
        }
        0 => {
            let t = TOKENS[rng.below(TOKENS.len())];
            let n = 1 + rng.below(5_000);
            for _ in 0..n {
                q.push_str(t);
            }
            q.push('x');
        }
        _ => {
            for _ in 0..1 + rng.below(40) {
                q.push_str(TOKENS[rng.below(TOKENS.len())]);
            }
        }
    }
    q
}

#[test]
fn random_queries_never_panic_or_overflow() {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let h = history();
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
            let (mut answered, mut refused) = (0, 0);
            for _ in 0..CORPUS {
                let q = query(&mut rng);
                let Ok(expr) = query::parse(&q) else {
                    refused += 1;
                    continue;
                };
                let budget = Budget {
                    max_samples: 1_000_000,
                    deadline: None,
                };
                let at = T0 + 59 * 30_000;
                let a = query::instant_with(&h, &expr, at, budget);
                let r = query::range_with(&h, &expr, T0, at, 60_000, budget);
                if a.is_ok() || r.is_ok() {
                    answered += 1;
                } else {
                    refused += 1;
                }
            }
            eprintln!("answered {answered}, refused {refused}");
            // The corpus must reach the evaluator, not only the parser.
            assert!(
                answered > CORPUS / 5,
                "answered {answered}, refused {refused}"
            );
        })
        .expect("thread")
        .join()
        .expect("a query panicked or overflowed the stack");
}
