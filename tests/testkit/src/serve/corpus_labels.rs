//! The corpus generator's label functions, `absent` and classic
//! histograms: `label_replace`, `label_join`, `count_values`, `absent`,
//! `absent_over_time` and `histogram_quantile`.

use super::{Gen, BUCKET_METRIC, NODES};

impl Gen {
    /// `label_replace`, `label_join` and `count_values`, mostly valid,
    /// some with an invalid regex or label name, some that make two
    /// series equal (Prometheus's "same labelset" error).
    pub(super) fn relabeled(&mut self, d: u32) -> String {
        let v = self.vector(d);
        let labels = ["node", "signal", "zone", "pool", "host", "nope", ""];
        match self.below(3) {
            0 => {
                let dst = ["host", "host", "node", "zone", "__name__", "1x"][self.below(6)];
                let repl = ["$1", "x-$1", "", "${1}z", "$1$2", "$name", "lit"][self.below(7)];
                let src = self.pick(&labels);
                let re = [
                    "n(.*)",
                    "(.*)",
                    "",
                    "(c)(p)u|(.*)",
                    "z[01]",
                    "(?P<name>[a-z])[0-9]*",
                    ".+",
                    "(",
                ][self.below(8)];
                format!("label_replace({v}, \"{dst}\", \"{repl}\", \"{src}\", \"{re}\")")
            }
            1 => {
                let dst = ["id", "id", "node", "zone", "b-d"][self.below(5)];
                let sep = [",", "", "-"][self.below(3)];
                let n = 1 + self.below(3);
                let srcs: Vec<String> = (0..n)
                    .map(|_| format!("\"{}\"", self.pick(&labels[..6])))
                    .collect();
                format!("label_join({v}, \"{dst}\", \"{sep}\", {})", srcs.join(", "))
            }
            _ => {
                let label = ["v", "v", "node", "value", "a-b"][self.below(5)];
                let g = self.grouping();
                format!("count_values{g}(\"{label}\", {v})")
            }
        }
    }

    /// `absent` and `absent_over_time`, over selectors that match and
    /// ones that do not (with the labels Prometheus derives from them).
    pub(super) fn absent(&mut self, d: u32) -> String {
        let sel = match self.below(4) {
            0 => {
                let m = self.metric();
                self.matchers(m)
            }
            1 => format!(
                "nope{{node=\"n{}\", signal=~\"c.*\", zone=\"z1\"}}",
                self.below(NODES)
            ),
            2 => format!(
                "nodewatch_node_score{{node=\"n{}\", zone=\"z9\", node=\"n1\"}}",
                self.below(NODES)
            ),
            _ => "nodewatch_signal_value{node=\"n7\", signal!=\"cpu\", pool=\"\"}".into(),
        };
        let r = ["30s", "1m", "5m"][self.below(3)];
        let o = self.offset();
        match self.below(4) {
            0 => format!("absent({sel}{o})"),
            1 => format!("absent({})", self.vector(d)),
            2 => format!("absent_over_time({sel}[{r}]{o})"),
            _ => format!("absent_over_time(({})[{r}:30s])", self.vector(d)),
        }
    }

    /// `histogram_quantile` over the data's classic histogram
    /// ([`BUCKET_METRIC`](super::BUCKET_METRIC)): raw buckets, their rates, and sums by `le`.
    pub(super) fn histogram(&mut self) -> String {
        let q = ["0", "0.25", "0.5", "0.9", "0.99", "1", "-0.5", "1.5", "NaN"][self.below(9)];
        let sel = if self.below(3) == 0 {
            format!("{BUCKET_METRIC}{{node=\"n{}\"}}", self.below(NODES))
        } else {
            BUCKET_METRIC.to_string()
        };
        let r = ["1m", "2m", "5m"][self.below(3)];
        let o = self.offset();
        let inner = match self.below(5) {
            0 => format!("{sel}{o}"),
            1 => format!("rate({sel}[{r}]{o})"),
            2 => format!("sum by (le) (rate({sel}[{r}]{o}))"),
            3 => format!("sum by (le, node) (increase({sel}[{r}]{o}))"),
            _ => format!("max_over_time({sel}[{r}]{o})"),
        };
        format!("histogram_quantile({q}, {inner})")
    }
}
