//! The computations of `evaluate` that need no host call, so the tests run them on the host
//! too: a model's scores on the evaluated rows ([`Scores`]), the metrics of a set of rows
//! ([`Prepared::metrics`], by name, optionally under per-row weights), percentile bootstrap
//! intervals ([`measure`]), slices by column values, quantile buckets and crosses
//! ([`group_numeric`], [`group_text`], [`cross`]), and the JSON the evaluation is written as.

use crate::metrics::{self, ClassScores, Confusion, Ranked};
use serde_json::{Map, Value, json};

/// The metrics of a binary classifier (those after `count` at the first threshold).
pub const BINARY: &[&str] = &[
    "count",
    "auc",
    "auc_pr",
    "accuracy",
    "precision",
    "recall",
    "f1",
    "log_loss",
    "brier",
    "fpr",
    "fnr",
    "positive_rate",
];

/// The metrics of a classifier of more than two classes.
pub const MULTICLASS: &[&str] = &[
    "count",
    "accuracy",
    "auc",
    "log_loss",
    "macro_precision",
    "macro_recall",
    "macro_f1",
    "weighted_precision",
    "weighted_recall",
    "weighted_f1",
];

/// The metrics of a regressor.
pub const REGRESSION: &[&str] = &["count", "rmse", "mae", "r2"];

/// Whether a larger value of the metric is better (`Some(true)`), a smaller one
/// (`Some(false)`), or neither (`count`, `positive_rate`).
pub fn larger_is_better(name: &str) -> Option<bool> {
    match name {
        "count" | "positive_rate" => None,
        "log_loss" | "brier" | "fpr" | "fnr" | "rmse" | "mae" => Some(false),
        _ => Some(true),
    }
}

/// Whether the metric's values lie in `[0, 1]`.
pub fn is_unit(name: &str) -> bool {
    !matches!(name, "count" | "log_loss" | "rmse" | "mae" | "r2")
}

/// A model's predictions on the evaluated rows, with the labels, in the form its metrics read.
#[derive(Clone, Debug, PartialEq)]
pub enum Scores {
    /// A classifier of two classes: the second class is the positive one.
    Binary {
        /// Whether each row's label is the positive class.
        positive: Vec<bool>,
        /// The probability of the positive class.
        score: Vec<f64>,
        /// The probability given to each row's true class.
        p_true: Vec<f64>,
    },
    /// A classifier of more (or fewer) classes.
    Multiclass {
        /// Each row's class index.
        truth: Vec<usize>,
        /// The predicted (most probable) class index.
        predicted: Vec<usize>,
        /// Per class, each row's probability of it.
        probs: Vec<Vec<f64>>,
    },
    /// A regressor.
    Regression {
        /// The label.
        label: Vec<f64>,
        /// The prediction.
        predicted: Vec<f64>,
    },
}

impl Scores {
    /// Rows.
    pub fn len(&self) -> usize {
        match self {
            Scores::Binary { positive, .. } => positive.len(),
            Scores::Multiclass { truth, .. } => truth.len(),
            Scores::Regression { label, .. } => label.len(),
        }
    }

    /// `binary`, `multiclass` or `regression`.
    pub fn task(&self) -> &'static str {
        match self {
            Scores::Binary { .. } => "binary",
            Scores::Multiclass { .. } => "multiclass",
            Scores::Regression { .. } => "regression",
        }
    }

    /// The names of its metrics, in report order.
    pub fn names(&self) -> &'static [&'static str] {
        names_of(self.task())
    }

    /// The rows `rows`, in that order.
    pub fn subset(&self, rows: &[usize]) -> Scores {
        fn pick<T: Clone>(v: &[T], rows: &[usize]) -> Vec<T> {
            rows.iter().map(|&r| v[r].clone()).collect()
        }
        match self {
            Scores::Binary { positive, score, p_true } => {
                Scores::Binary { positive: pick(positive, rows), score: pick(score, rows), p_true: pick(p_true, rows) }
            }
            Scores::Multiclass { truth, predicted, probs } => Scores::Multiclass {
                truth: pick(truth, rows),
                predicted: pick(predicted, rows),
                probs: probs.iter().map(|p| pick(p, rows)).collect(),
            },
            Scores::Regression { label, predicted } => {
                Scores::Regression { label: pick(label, rows), predicted: pick(predicted, rows) }
            }
        }
    }

    /// Per row, the number a prediction is summarized by when it is compared with another
    /// prediction of the same row: the positive class's probability, the prediction of a
    /// regressor; `None` for a multiclass model (see [`prediction_change`]).
    pub fn main_score(&self) -> Option<&[f64]> {
        match self {
            Scores::Binary { score, .. } => Some(score),
            Scores::Regression { predicted, .. } => Some(predicted),
            Scores::Multiclass { .. } => None,
        }
    }
}

/// The metric names of a task (`binary`, `multiclass`, `regression`).
pub fn names_of(task: &str) -> &'static [&'static str] {
    match task {
        "binary" => BINARY,
        "multiclass" => MULTICLASS,
        _ => REGRESSION,
    }
}

/// The mean over rows of how much a prediction moved from `a` to `b`: the absolute change of
/// the positive class's probability or of a regressor's prediction; for more classes, half the
/// summed absolute change of the class probabilities (the total variation distance, in
/// `[0, 1]`).
pub fn prediction_change(a: &Scores, b: &Scores) -> f64 {
    let n = a.len();
    if n == 0 {
        return 0.0;
    }
    let total: f64 = match (a, b) {
        (Scores::Multiclass { probs: pa, .. }, Scores::Multiclass { probs: pb, .. }) => {
            (0..n).map(|r| pa.iter().zip(pb).map(|(x, y)| (x[r] - y[r]).abs()).sum::<f64>() / 2.0).sum()
        }
        _ => match (a.main_score(), b.main_score()) {
            (Some(x), Some(y)) => x.iter().zip(y).map(|(x, y)| (x - y).abs()).sum(),
            _ => f64::NAN,
        },
    };
    total / n as f64
}

/// Scores sorted once for the metrics of many reweightings of the same rows.
pub struct Prepared<'a> {
    scores: &'a Scores,
    /// Binary: the positive class's ranking; multiclass: one per class (one-vs-rest).
    ranked: Vec<Ranked>,
    /// The probability given to each row's true class (classifiers).
    p_true: Vec<f64>,
    /// The threshold of `accuracy`, `precision`, ... for a binary classifier.
    threshold: f64,
}

impl<'a> Prepared<'a> {
    /// Prepares `scores`; `threshold` is the decision threshold of a binary classifier.
    pub fn new(scores: &'a Scores, threshold: f64) -> Prepared<'a> {
        let (ranked, p_true) = match scores {
            Scores::Binary { positive, score, p_true } => (vec![Ranked::new(positive, score)], p_true.clone()),
            Scores::Multiclass { truth, probs, .. } => {
                let ranked = (0..probs.len())
                    .map(|j| {
                        let positive: Vec<bool> = truth.iter().map(|&t| t == j).collect();
                        Ranked::new(&positive, &probs[j])
                    })
                    .collect();
                (ranked, truth.iter().enumerate().map(|(r, &t)| probs[t][r]).collect())
            }
            Scores::Regression { .. } => (Vec::new(), Vec::new()),
        };
        Prepared { scores, ranked, p_true, threshold }
    }

    /// The metrics under row weights `w` (every row once when `None`), in the order of
    /// [`Scores::names`]; an undefined metric (the AUC of rows of one class) is NaN.
    pub fn metrics(&self, w: Option<&[f64]>) -> Vec<(&'static str, f64)> {
        let count = w.map_or(self.scores.len() as f64, |w| w.iter().sum());
        let undefined = |v: Option<f64>| v.unwrap_or(f64::NAN);
        match self.scores {
            Scores::Binary { positive, score, .. } => {
                let c = Confusion::at(positive, score, self.threshold, w);
                vec![
                    ("count", count),
                    ("auc", undefined(self.ranked[0].auc(w))),
                    ("auc_pr", undefined(self.ranked[0].average_precision(w))),
                    ("accuracy", c.accuracy()),
                    ("precision", c.precision()),
                    ("recall", c.recall()),
                    ("f1", c.f1()),
                    ("log_loss", metrics::log_loss_weighted(&self.p_true, w)),
                    ("brier", metrics::brier(positive, score, w)),
                    ("fpr", c.fpr()),
                    ("fnr", c.fnr()),
                    ("positive_rate", c.positive_rate()),
                ]
            }
            Scores::Multiclass { truth, predicted, probs } => {
                let m = metrics::confusion_matrix(truth, predicted, probs.len(), w);
                let s = ClassScores::of(&m);
                let auc =
                    if probs.len() < 2 { None } else { metrics::macro_average(self.ranked.iter().map(|r| r.auc(w))) };
                vec![
                    ("count", count),
                    ("accuracy", s.accuracy),
                    ("auc", undefined(auc)),
                    ("log_loss", metrics::log_loss_weighted(&self.p_true, w)),
                    ("macro_precision", s.macro_precision),
                    ("macro_recall", s.macro_recall),
                    ("macro_f1", s.macro_f1),
                    ("weighted_precision", s.weighted_precision),
                    ("weighted_recall", s.weighted_recall),
                    ("weighted_f1", s.weighted_f1),
                ]
            }
            Scores::Regression { label, predicted } => {
                let e = metrics::regression(label, predicted, w);
                vec![("count", count), ("rmse", e.rmse), ("mae", e.mae), ("r2", e.r2)]
            }
        }
    }

    /// One metric of all rows (NaN when undefined).
    pub fn metric(&self, name: &str) -> f64 {
        self.metrics(None).into_iter().find(|(n, _)| *n == name).map_or(f64::NAN, |(_, v)| v)
    }
}

/// A small reproducible generator (SplitMix64) for bootstrap resamples and permutations.
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` and a `stream` name, so that each slice, feature and repeat
    /// draws its own numbers whatever the order they are computed in.
    pub fn new(seed: u64, stream: &str) -> Rng {
        // FNV-1a of the stream name.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in stream.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        Rng(seed ^ h)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// A random order of `0..n` (Fisher-Yates).
    pub fn permutation(&mut self, n: usize) -> Vec<u64> {
        let mut v: Vec<u64> = (0..n as u64).collect();
        for i in (1..n).rev() {
            v.swap(i, self.below(i + 1));
        }
        v
    }
}

/// The `q` quantile (in `[0, 1]`) of sorted values, interpolated linearly between the two
/// nearest ranks (numpy's default `percentile`).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let lo = pos.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
        }
    }
}

/// How a set of rows is measured.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Decision thresholds of a binary classifier; the metrics use the first.
    pub thresholds: Vec<f64>,
    /// Bootstrap resamples (0: no intervals).
    pub resamples: usize,
    /// The intervals' confidence level, in (0, 1).
    pub confidence: f64,
    /// The seed of the resamples.
    pub seed: u64,
}

/// The metrics of one set of rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    /// Rows.
    pub count: usize,
    /// Every metric, in report order (`count` first).
    pub metrics: Vec<(&'static str, f64)>,
    /// The percentile interval of every metric but `count`, when bootstrapped: (low, high).
    pub ci: Vec<(&'static str, f64, f64)>,
    /// Binary classifiers: the confusion counts at each threshold.
    pub thresholds: Vec<(f64, Confusion)>,
}

/// The metrics of `scores` with their bootstrap intervals: `plan.resamples` resamples of as many
/// rows drawn with replacement (each a count per row), every metric computed on each, and the
/// `(1 − confidence) / 2` and `(1 + confidence) / 2` percentiles of the defined values as the
/// interval. `stream` names the set of rows: the same name and seed draw the same resamples,
/// so a candidate and its baseline measured on the same slice are resampled alike.
pub fn measure(scores: &Scores, plan: &Plan, stream: &str) -> Measured {
    let threshold = plan.thresholds.first().copied().unwrap_or(0.5);
    let prepared = Prepared::new(scores, threshold);
    let metrics = prepared.metrics(None);
    let n = scores.len();
    let mut ci = Vec::new();
    if plan.resamples > 0 && n > 0 {
        let mut rng = Rng::new(plan.seed, stream);
        let mut values: Vec<Vec<f64>> = vec![Vec::with_capacity(plan.resamples); metrics.len()];
        let mut counts = vec![0.0; n];
        for _ in 0..plan.resamples {
            counts.iter_mut().for_each(|c| *c = 0.0);
            for _ in 0..n {
                counts[rng.below(n)] += 1.0;
            }
            for (k, (_, v)) in prepared.metrics(Some(&counts)).into_iter().enumerate() {
                if v.is_finite() {
                    values[k].push(v);
                }
            }
        }
        let tail = (1.0 - plan.confidence) / 2.0;
        for (k, (name, _)) in metrics.iter().enumerate() {
            if *name == "count" {
                continue;
            }
            let v = &mut values[k];
            v.sort_by(f64::total_cmp);
            ci.push((*name, percentile(v, tail), percentile(v, 1.0 - tail)));
        }
    }
    let thresholds = match scores {
        Scores::Binary { positive, score, .. } => {
            plan.thresholds.iter().map(|&t| (t, Confusion::at(positive, score, t, None))).collect()
        }
        _ => Vec::new(),
    };
    Measured { count: n, metrics, ci, thresholds }
}

/// A finite number as JSON, anything else as `null`.
pub fn number(v: f64) -> Value {
    if v.is_finite() { json!(v) } else { Value::Null }
}

/// One column's value of a slice.
#[derive(Clone, Debug, PartialEq)]
pub struct SliceValue {
    /// The column.
    pub column: String,
    /// The value as the slice key shows it: `Cash`, `7`, `[1.2, 3.4)`, `null`.
    pub value: String,
    /// For a bucket of a numeric column: its low and high edge, and whether the high edge is
    /// in it (the last bucket).
    pub range: Option<(f64, f64, bool)>,
}

/// One slice: its key (`payment_type=Cash x company=Flash`), its column values and its rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Slice {
    /// `column=value`, joined by ` x ` for a cross.
    pub key: String,
    /// The value of each column.
    pub values: Vec<SliceValue>,
    /// The indices of its rows among the evaluated rows.
    pub rows: Vec<usize>,
}

/// The rows of one `slice_by` entry, grouped: each group's values and each row's group.
#[derive(Clone, Debug, PartialEq)]
pub struct Grouping {
    /// Per group, the value of each column.
    pub groups: Vec<Vec<SliceValue>>,
    /// Per row, its group.
    pub of_row: Vec<usize>,
}

impl Grouping {
    /// The slices, in group order, skipping groups without rows.
    pub fn slices(&self) -> Vec<Slice> {
        let mut rows = vec![Vec::new(); self.groups.len()];
        for (r, &g) in self.of_row.iter().enumerate() {
            rows[g].push(r);
        }
        self.groups
            .iter()
            .zip(rows)
            .filter(|(_, rows)| !rows.is_empty())
            .map(|(values, rows)| Slice {
                key: values.iter().map(|v| format!("{}={}", v.column, v.value)).collect::<Vec<_>>().join(" x "),
                values: values.clone(),
                rows,
            })
            .collect()
    }
}

/// A number as a slice value: whole numbers without a fraction (`7`), others as Rust prints
/// them (`0.25`).
pub fn show_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v}") }
}

/// `v` with `digits` significant digits, trailing zeros dropped.
fn significant(v: f64, digits: usize) -> String {
    if v == 0.0 || !v.is_finite() {
        return show_value(v);
    }
    let magnitude = v.abs().log10().floor() as i64;
    let decimals = (digits as i64 - 1 - magnitude).clamp(0, 17) as usize;
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    if s == "-0" { "0".into() } else { s }
}

/// The edges as text, with the fewest significant digits (at least 3) that tell them apart.
fn show_edges(edges: &[f64]) -> Vec<String> {
    for digits in 3..=17 {
        let shown: Vec<String> = edges.iter().map(|&e| significant(e, digits)).collect();
        if shown.windows(2).all(|w| w[0] != w[1]) {
            return shown;
        }
    }
    edges.iter().map(|e| format!("{e}")).collect()
}

/// Groups the rows of a numeric column (NaN: missing): by value when it takes at most
/// `max_distinct` values, else into `buckets` quantile buckets `[low, high)` (the last one
/// `[low, max]`) whose edges are values of the column, so every bucket holds rows. Missing
/// values form the group `null`, last.
pub fn group_numeric(column: &str, values: &[f64], max_distinct: usize, buckets: usize) -> Grouping {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    sorted.sort_by(f64::total_cmp);
    let mut distinct = sorted.clone();
    distinct.dedup();
    let null_group = |groups: &mut Vec<Vec<SliceValue>>| {
        groups.push(vec![SliceValue { column: column.into(), value: "null".into(), range: None }]);
        groups.len() - 1
    };
    if distinct.len() <= max_distinct {
        let mut groups: Vec<Vec<SliceValue>> = distinct
            .iter()
            .map(|&v| vec![SliceValue { column: column.into(), value: show_value(v), range: None }])
            .collect();
        let null = null_group(&mut groups);
        let of_row = values
            .iter()
            .map(|v| if v.is_nan() { null } else { distinct.partition_point(|d| d.total_cmp(v).is_lt()) })
            .collect();
        return Grouping { groups, of_row };
    }
    let n = sorted.len();
    let buckets = buckets.max(1);
    let mut edges: Vec<f64> = (0..buckets).map(|i| sorted[i * n / buckets]).collect();
    edges.dedup();
    let max = sorted[n - 1];
    let mut all = edges.clone();
    all.push(max);
    let shown = show_edges(&all);
    let last = edges.len() - 1;
    let mut groups: Vec<Vec<SliceValue>> = (0..edges.len())
        .map(|i| {
            let closed = i == last;
            let value = format!("[{}, {}{}", shown[i], shown[i + 1], if closed { "]" } else { ")" });
            vec![SliceValue { column: column.into(), value, range: Some((edges[i], all[i + 1], closed)) }]
        })
        .collect();
    let null = null_group(&mut groups);
    let of_row = values
        .iter()
        .map(|v| if v.is_nan() { null } else { edges.partition_point(|e| e <= v).saturating_sub(1) })
        .collect();
    Grouping { groups, of_row }
}

/// Groups the rows of a column read as text by value, in text order; missing values form the
/// group `null`, last.
pub fn group_text(column: &str, values: &[Option<String>]) -> Grouping {
    let mut distinct: Vec<&str> = values.iter().flatten().map(String::as_str).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let mut groups: Vec<Vec<SliceValue>> = distinct
        .iter()
        .map(|v| vec![SliceValue { column: column.into(), value: (*v).to_string(), range: None }])
        .collect();
    groups.push(vec![SliceValue { column: column.into(), value: "null".into(), range: None }]);
    let null = groups.len() - 1;
    let of_row = values
        .iter()
        .map(|v| match v {
            Some(s) => distinct.binary_search(&s.as_str()).unwrap_or(null),
            None => null,
        })
        .collect();
    Grouping { groups, of_row }
}

/// The cross of two groupings of the same rows: one group per pair of groups that occurs, in
/// the order of `a`'s groups, then `b`'s.
pub fn cross(a: &Grouping, b: &Grouping) -> Grouping {
    let nb = b.groups.len();
    let mut pairs: Vec<usize> = a.of_row.iter().zip(&b.of_row).map(|(x, y)| x * nb + y).collect();
    let mut seen = pairs.clone();
    seen.sort_unstable();
    seen.dedup();
    let groups = seen
        .iter()
        .map(|p| {
            let mut values = a.groups[p / nb].clone();
            values.extend(b.groups[p % nb].iter().cloned());
            values
        })
        .collect();
    for p in &mut pairs {
        *p = seen.binary_search(p).unwrap_or(0);
    }
    Grouping { groups, of_row: pairs }
}

/// A measured set of rows as JSON: `slice`, `columns`, `count`, `metrics` (name → value),
/// `ci` (name → `[low, high]`) and, for a binary classifier, `thresholds`. Without
/// `measured` (a slice smaller than the minimum), `metrics` is null and `note` says why.
pub fn measured_json(key: &str, values: &[SliceValue], count: usize, measured: Option<&Measured>, note: &str) -> Value {
    let columns: Vec<Value> = values
        .iter()
        .map(|v| {
            let mut c = json!({ "column": v.column, "value": v.value });
            if let Some((lo, hi, closed)) = v.range {
                c["low"] = json!(lo);
                c["high"] = json!(hi);
                c["high_included"] = json!(closed);
            }
            c
        })
        .collect();
    let mut out = json!({ "slice": key, "columns": columns, "count": count });
    match measured {
        Some(m) => {
            let metrics: Map<String, Value> = m
                .metrics
                .iter()
                .map(|(n, v)| (n.to_string(), if *n == "count" { json!(m.count) } else { number(*v) }))
                .collect();
            let ci: Map<String, Value> =
                m.ci.iter().map(|(n, lo, hi)| (n.to_string(), json!([number(*lo), number(*hi)]))).collect();
            out["metrics"] = Value::Object(metrics);
            out["ci"] = Value::Object(ci);
            if !m.thresholds.is_empty() {
                out["thresholds"] = Value::Array(m.thresholds.iter().map(|(t, c)| threshold_json(*t, c)).collect());
            }
        }
        None => {
            out["metrics"] = Value::Null;
            out["note"] = json!(note);
        }
    }
    out
}

/// The metrics at one threshold with the confusion counts.
pub fn threshold_json(t: f64, c: &Confusion) -> Value {
    json!({
        "threshold": t,
        "accuracy": number(c.accuracy()),
        "precision": number(c.precision()),
        "recall": number(c.recall()),
        "f1": number(c.f1()),
        "fpr": number(c.fpr()),
        "fnr": number(c.fnr()),
        "positive_rate": number(c.positive_rate()),
        "tp": c.tp,
        "fp": c.fp,
        "tn": c.tn,
        "fn": c.fn_,
    })
}

/// The fairness view of one slice against all rows, at the first threshold: its false
/// positive, false negative and positive (predicted) rates, and each minus the overall one.
pub fn fairness_json(key: &str, count: usize, slice: &Confusion, overall: &Confusion) -> Value {
    let gap = |a: f64, b: f64| number(a - b);
    json!({
        "slice": key,
        "count": count,
        "fpr": number(slice.fpr()),
        "fnr": number(slice.fnr()),
        "positive_rate": number(slice.positive_rate()),
        "fpr_gap": gap(slice.fpr(), overall.fpr()),
        "fnr_gap": gap(slice.fnr(), overall.fnr()),
        "positive_rate_gap": gap(slice.positive_rate(), overall.positive_rate()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} != {b}");
    }

    fn binary() -> Scores {
        let positive = vec![false, false, true, true, false, true, false, true, true, false];
        let score = vec![0.1, 0.4, 0.35, 0.8, 0.65, 0.9, 0.2, 0.55, 0.3, 0.5];
        let p_true = positive.iter().zip(&score).map(|(&y, &s)| if y { s } else { 1.0 - s }).collect();
        Scores::Binary { positive, score, p_true }
    }

    #[test]
    fn binary_metrics_by_name_match_scikit_learn() {
        let s = binary();
        let m = Prepared::new(&s, 0.5).metrics(None);
        let names: Vec<&str> = m.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, BINARY);
        let get = |n: &str| m.iter().find(|(k, _)| *k == n).unwrap().1;
        close(get("count"), 10.0);
        close(get("auc"), 0.72);
        close(get("auc_pr"), 0.789_285_714_285_714_1);
        close(get("accuracy"), 0.7);
        close(get("precision"), 0.75);
        close(get("recall"), 0.6);
        close(get("log_loss"), 0.576_243_499_234_892);
        close(get("brier"), 0.204_750_000_000_000_04);
        close(get("positive_rate"), 0.4);
        // The threshold moves the threshold metrics only.
        let at = Prepared::new(&s, 0.3);
        close(at.metric("precision"), 0.571_428_571_428_571_4);
        close(at.metric("auc"), 0.72);
    }

    #[test]
    fn multiclass_and_regression_metrics_by_name() {
        let probs = [[0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.1, 0.3, 0.6], [0.3, 0.4, 0.3]];
        let s = Scores::Multiclass {
            truth: vec![0, 1, 2, 2],
            predicted: vec![0, 1, 2, 1],
            probs: (0..3).map(|j| probs.iter().map(|r| r[j]).collect()).collect(),
        };
        let p = Prepared::new(&s, 0.5);
        assert_eq!(p.metrics(None).iter().map(|(n, _)| *n).collect::<Vec<_>>(), MULTICLASS);
        close(p.metric("accuracy"), 0.75);
        close(p.metric("log_loss"), -(0.7f64.ln() + 0.5f64.ln() + 0.6f64.ln() + 0.3f64.ln()) / 4.0);
        // One vs rest: class 0 and class 1 are ranked perfectly; class 2: positives {0.6,
        // 0.3}, negatives {0.1, 0.3}: 3.5 / 4.
        close(p.metric("auc"), (1.0 + 1.0 + 0.875) / 3.0);
        let r = Scores::Regression { label: vec![3.0, -0.5, 2.0, 7.0], predicted: vec![2.5, 0.0, 2.0, 8.0] };
        let p = Prepared::new(&r, 0.5);
        assert_eq!(p.metrics(None).iter().map(|(n, _)| *n).collect::<Vec<_>>(), REGRESSION);
        close(p.metric("rmse"), 0.375f64.sqrt());
        close(p.metric("mae"), 0.5);
    }

    #[test]
    fn subsets_keep_the_rows_asked_for() {
        let s = binary().subset(&[2, 0]);
        let Scores::Binary { positive, score, p_true } = &s else { panic!() };
        assert_eq!((positive.as_slice(), score.as_slice()), ([true, false].as_slice(), [0.35, 0.1].as_slice()));
        close(p_true[1], 0.9);
        assert_eq!(s.len(), 2);
        assert_eq!(s.task(), "binary");
    }

    #[test]
    fn directions_of_the_metrics() {
        assert_eq!(larger_is_better("auc"), Some(true));
        assert_eq!(larger_is_better("r2"), Some(true));
        assert_eq!(larger_is_better("log_loss"), Some(false));
        assert_eq!(larger_is_better("fnr"), Some(false));
        assert_eq!(larger_is_better("positive_rate"), None);
        assert!(is_unit("auc_pr") && is_unit("fpr") && !is_unit("rmse") && !is_unit("r2"));
    }

    #[test]
    fn percentiles_interpolate_like_numpy() {
        // numpy.percentile([1, 2, 3, 4], [2.5, 50, 97.5]) = [1.075, 2.5, 3.925]
        let v = [1.0, 2.0, 3.0, 4.0];
        close(percentile(&v, 0.025), 1.075);
        close(percentile(&v, 0.5), 2.5);
        close(percentile(&v, 0.975), 3.925);
        assert!(percentile(&[], 0.5).is_nan());
        close(percentile(&[7.0], 0.1), 7.0);
    }

    #[test]
    fn bootstrap_intervals_are_seeded_and_contain_the_estimate() {
        let plan = Plan { thresholds: vec![0.5], resamples: 200, confidence: 0.9, seed: 7 };
        let s = binary();
        let a = measure(&s, &plan, "overall");
        assert_eq!(a, measure(&s, &plan, "overall"), "the same seed and stream draw the same resamples");
        assert_ne!(a.ci, measure(&s, &plan, "another slice").ci);
        assert_eq!(a.ci.len(), BINARY.len() - 1);
        for (name, lo, hi) in &a.ci {
            let v = a.metrics.iter().find(|(n, _)| n == name).unwrap().1;
            assert!(lo <= hi, "{name}: [{lo}, {hi}]");
            assert!(*lo <= v + 1e-12 && v <= hi + 1e-12, "{name} = {v} outside [{lo}, {hi}]");
        }
        // A narrower confidence gives a narrower interval.
        let narrow = measure(&s, &Plan { confidence: 0.5, ..plan.clone() }, "overall");
        let width = |m: &Measured| m.ci.iter().find(|c| c.0 == "auc").map(|c| c.2 - c.1).unwrap();
        assert!(width(&narrow) <= width(&a));
        // No resamples, no intervals; the thresholds' confusion counts are there either way.
        let none = measure(&s, &Plan { resamples: 0, ..plan }, "overall");
        assert!(none.ci.is_empty());
        assert_eq!(none.thresholds, vec![(0.5, Confusion { tp: 3.0, fp: 1.0, tn: 4.0, fn_: 2.0 })]);
    }

    #[test]
    fn the_rng_draws_in_range_and_permutes() {
        let mut r = Rng::new(1, "x");
        assert!((0..1000).all(|_| r.below(7) < 7));
        let mut p = Rng::new(1, "x").permutation(50);
        assert_ne!(p, (0..50).collect::<Vec<u64>>());
        p.sort_unstable();
        assert_eq!(p, (0..50).collect::<Vec<u64>>());
    }

    #[test]
    fn few_distinct_numbers_slice_by_value() {
        let g = group_numeric("hour", &[7.0, 3.0, f64::NAN, 7.0, 0.5], 16, 4);
        let keys: Vec<String> = g.slices().iter().map(|s| s.key.clone()).collect();
        assert_eq!(keys, ["hour=0.5", "hour=3", "hour=7", "hour=null"]);
        assert_eq!(g.of_row, [2, 1, 3, 2, 0]);
        assert_eq!(g.slices()[2].rows, [0, 3]);
    }

    #[test]
    fn many_distinct_numbers_slice_into_quantile_buckets() {
        let values: Vec<f64> = (0..100).map(|i| f64::from(i) / 10.0).collect();
        let g = group_numeric("miles", &values, 16, 4);
        let slices = g.slices();
        let keys: Vec<&str> = slices.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(keys, ["miles=[0, 2.5)", "miles=[2.5, 5)", "miles=[5, 7.5)", "miles=[7.5, 9.9]"]);
        assert!(slices.iter().all(|s| s.rows.len() == 25));
        assert_eq!(slices[3].values[0].range, Some((7.5, 9.9, true)));
        assert_eq!(slices[0].values[0].range, Some((0.0, 2.5, false)));
        // Every row is in the bucket its range says.
        for s in &slices {
            let (lo, hi, closed) = s.values[0].range.unwrap();
            for &r in &s.rows {
                assert!(values[r] >= lo && (values[r] < hi || closed && values[r] <= hi));
            }
        }
        // Close edges get the digits that tell them apart.
        let values: Vec<f64> = (0..40).map(|i| 1.0 + f64::from(i) * 1e-5).collect();
        let keys: Vec<String> = group_numeric("x", &values, 16, 2).slices().iter().map(|s| s.key.clone()).collect();
        assert_eq!(keys, ["x=[1, 1.0002)", "x=[1.0002, 1.0004]"]);
    }

    #[test]
    fn heavy_ties_merge_buckets() {
        // 60 zeros and 50 distinct others: the first three quartile edges are all 0.
        let mut values = vec![0.0; 60];
        values.extend((1..=50).map(f64::from));
        let slices = group_numeric("tips", &values, 16, 4).slices();
        let keys: Vec<&str> = slices.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(keys, ["tips=[0, 23)", "tips=[23, 50]"]);
        assert_eq!(slices.iter().map(|s| s.rows.len()).collect::<Vec<_>>(), [82, 28]);
        // Only missing values: one `null` slice.
        let keys: Vec<String> =
            group_numeric("tips", &[f64::NAN; 3], 16, 4).slices().iter().map(|s| s.key.clone()).collect();
        assert_eq!(keys, ["tips=null"]);
    }

    #[test]
    fn text_slices_and_crosses() {
        let pay = group_text("payment", &[Some("Cash".into()), Some("Card".into()), None, Some("Cash".into())]);
        let keys: Vec<String> = pay.slices().iter().map(|s| s.key.clone()).collect();
        assert_eq!(keys, ["payment=Card", "payment=Cash", "payment=null"]);
        let hour = group_numeric("hour", &[1.0, 1.0, 2.0, 2.0], 16, 4);
        let both = cross(&pay, &hour);
        let slices = both.slices();
        let keys: Vec<&str> = slices.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(
            keys,
            ["payment=Card x hour=1", "payment=Cash x hour=1", "payment=Cash x hour=2", "payment=null x hour=2"]
        );
        assert_eq!(slices[1].rows, [0]);
        assert_eq!(slices[2].rows, [3]);
        assert_eq!(slices[1].values.len(), 2);
    }

    #[test]
    fn prediction_changes() {
        let a = Scores::Regression { label: vec![0.0; 2], predicted: vec![1.0, 2.0] };
        let b = Scores::Regression { label: vec![0.0; 2], predicted: vec![1.5, 1.0] };
        close(prediction_change(&a, &b), 0.75);
        let m = |p: [[f64; 3]; 1]| Scores::Multiclass {
            truth: vec![0],
            predicted: vec![0],
            probs: (0..3).map(|j| vec![p[0][j]]).collect(),
        };
        close(prediction_change(&m([[0.5, 0.3, 0.2]]), &m([[0.3, 0.3, 0.4]])), 0.2);
    }

    #[test]
    fn json_of_small_and_measured_slices() {
        let v = vec![SliceValue { column: "m".into(), value: "[1, 2)".into(), range: Some((1.0, 2.0, false)) }];
        let small = measured_json("m=[1, 2)", &v, 3, None, "fewer than 30 rows");
        assert_eq!(small["metrics"], Value::Null);
        assert_eq!(small["count"], 3);
        assert_eq!(small["columns"][0]["low"], 1.0);
        let plan = Plan { thresholds: vec![0.5, 0.3], resamples: 10, confidence: 0.95, seed: 0 };
        let m = measure(&binary(), &plan, "overall");
        let j = measured_json("overall", &[], 10, Some(&m), "");
        assert_eq!(j["metrics"]["count"], 10);
        close(j["metrics"]["auc"].as_f64().unwrap(), 0.72);
        assert_eq!(j["ci"]["auc"].as_array().unwrap().len(), 2);
        assert_eq!(j["thresholds"][1]["threshold"], 0.3);
        assert_eq!(j["thresholds"][0]["tp"], 3.0);
        let f = fairness_json("s", 5, &Confusion { tp: 1.0, fp: 1.0, tn: 1.0, fn_: 1.0 }, &m.thresholds[0].1);
        close(f["fpr_gap"].as_f64().unwrap(), 0.5 - 0.2);
        close(f["positive_rate_gap"].as_f64().unwrap(), 0.5 - 0.4);
    }
}
