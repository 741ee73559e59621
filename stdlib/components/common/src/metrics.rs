//! The model metrics of the standard components, in plain Rust over plain slices (no host
//! call): `tune` ranks its trials by them and `evaluate` reports them overall, per slice and
//! under bootstrap resampling. Each is checked here against hand-computed values and
//! scikit-learn's answers for tiny inputs.
//!
//! - `auc`: the area under the ROC curve, computed as the Mann-Whitney statistic with tied
//!   scores sharing their rank (a tied positive-negative pair counts one half, as the
//!   trapezoidal ROC curve of scikit-learn's `roc_auc_score` does). For more than two classes:
//!   the mean of each class's one-vs-rest AUC (scikit-learn's `multi_class="ovr"`,
//!   `average="macro"`), over the classes that have both positive and negative rows.
//! - `auc_pr`: average precision, `Σ (Rₖ − Rₖ₋₁) Pₖ` over the distinct scores from the highest
//!   down (scikit-learn's `average_precision_score`: no interpolation).
//! - At a decision threshold `t` a row is predicted positive when its score is above `t`
//!   (`score > t`): the [`Confusion`] counts give `accuracy`, `precision` (`tp / (tp + fp)`, 0
//!   when nothing is predicted positive), `recall` (`tp / (tp + fn)`, 0 without positives),
//!   `f1` (`2tp / (2tp + fp + fn)`), `fpr`, `fnr` and `positive_rate`.
//! - `brier`: the mean of `(p − y)²`; the calibration table puts the scores into equal-width
//!   bins of `[0, 1]` as scikit-learn's `calibration_curve(strategy="uniform")` does (bin `i`
//!   holds `(eᵢ, eᵢ₊₁]`, the first also 0).
//! - `log_loss`: the mean of `−ln p`, `p` the probability given to the true class, clipped to
//!   `[ε, 1 − ε]` with `ε` the `f64` machine epsilon (scikit-learn's default).
//! - Multiclass: accuracy, and precision, recall and F1 per class averaged over the classes
//!   that occur in the labels or the predictions, unweighted (`macro`) or weighted by each
//!   class's rows (`weighted`), from a [`confusion_matrix`].
//! - `rmse`, `mae`: the root mean squared and the mean absolute error, in the label's units;
//!   `r2`: `1 − SSres / SStot` (1 for a perfect fit of a constant label, else 0 when `SStot`
//!   is 0, as scikit-learn's `r2_score`).
//!
//! Functions with a `w` argument take optional per-row weights: `evaluate`'s bootstrap draws
//! each resample as a count per row, so a weight of 2 is the same as the row appearing twice.
//! A NaN among the scores or predictions makes the metric NaN, and [`ranking`] puts every
//! non-finite value last.

use std::cmp::Ordering;

/// Probabilities are clipped to `[CLIP, 1 - CLIP]` before their logarithm.
pub const CLIP: f64 = f64::EPSILON;

/// A metric a search can optimize.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Area under the ROC curve (macro one-vs-rest for more than two classes).
    Auc,
    /// Share of rows classified correctly.
    Accuracy,
    /// Cross-entropy of the predicted probabilities.
    LogLoss,
    /// Root mean squared error.
    Rmse,
    /// Mean absolute error.
    Mae,
}

impl Metric {
    /// Every metric, classification metrics first.
    pub const ALL: [Metric; 5] = [Metric::Auc, Metric::Accuracy, Metric::LogLoss, Metric::Rmse, Metric::Mae];

    /// The metric called `name`, as a step's `metric` parameter writes it.
    pub fn parse(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Auc => "auc",
            Metric::Accuracy => "accuracy",
            Metric::LogLoss => "log_loss",
            Metric::Rmse => "rmse",
            Metric::Mae => "mae",
        }
    }

    /// Whether a larger value is better.
    pub fn maximize(self) -> bool {
        matches!(self, Metric::Auc | Metric::Accuracy)
    }

    /// Whether it scores classifiers (otherwise regressors).
    pub fn for_classifiers(self) -> bool {
        matches!(self, Metric::Auc | Metric::Accuracy | Metric::LogLoss)
    }

    /// The names of the metrics for classifiers (`true`) or regressors, as a list for messages:
    /// `auc, accuracy or log_loss`.
    pub fn names_for(classifiers: bool) -> String {
        let names: Vec<&str> =
            Metric::ALL.into_iter().filter(|m| m.for_classifiers() == classifiers).map(Metric::name).collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            Some((last, _)) => (*last).to_string(),
            None => String::new(),
        }
    }
}

/// The ROC AUC of `scores` against `positive` (one flag per row). `None` when the rows are not
/// of both kinds (the AUC is undefined); NaN when a score is NaN.
pub fn roc_auc(positive: &[bool], scores: &[f64]) -> Option<f64> {
    Ranked::new(positive, scores).auc(None)
}

/// The weight of row `i`: 1 without weights.
fn weight(w: Option<&[f64]>, i: usize) -> f64 {
    w.map_or(1.0, |w| w[i])
}

/// Binary scores sorted once (highest first, tied scores grouped), so that the AUC and the
/// average precision of many reweightings of the same rows (bootstrap resamples) cost one pass
/// each.
pub struct Ranked {
    positive: Vec<bool>,
    /// Row indices by descending score.
    order: Vec<usize>,
    /// The end (exclusive, in `order`) of each run of tied scores.
    runs: Vec<usize>,
    /// Whether a score is NaN.
    nan: bool,
}

impl Ranked {
    /// Ranks `scores`; `positive` flags each row's label.
    pub fn new(positive: &[bool], scores: &[f64]) -> Ranked {
        assert_eq!(positive.len(), scores.len(), "one score per row");
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        let mut runs = Vec::new();
        for i in 1..=order.len() {
            if i == order.len() || scores[order[i]] != scores[order[i - 1]] {
                runs.push(i);
            }
        }
        Ranked { positive: positive.to_vec(), order, runs, nan: scores.iter().any(|s| s.is_nan()) }
    }

    /// Per run of tied scores, the weight of its positive and of its negative rows, highest
    /// scores first; and the totals.
    fn run_weights(&self, w: Option<&[f64]>) -> (Vec<(f64, f64)>, f64, f64) {
        let mut out = Vec::with_capacity(self.runs.len());
        let (mut pos, mut neg) = (0.0, 0.0);
        let mut start = 0;
        for &end in &self.runs {
            let (mut p, mut n) = (0.0, 0.0);
            for &i in &self.order[start..end] {
                if self.positive[i] {
                    p += weight(w, i);
                } else {
                    n += weight(w, i);
                }
            }
            out.push((p, n));
            pos += p;
            neg += n;
            start = end;
        }
        (out, pos, neg)
    }

    /// The ROC AUC under the row weights `w` (all 1 when `None`). `None` when the positive or
    /// the negative rows weigh nothing; NaN when a score is NaN.
    pub fn auc(&self, w: Option<&[f64]>) -> Option<f64> {
        let (runs, pos, neg) = self.run_weights(w);
        if pos <= 0.0 || neg <= 0.0 {
            return None;
        }
        if self.nan {
            return Some(f64::NAN);
        }
        // Every negative is outranked by the positives above its run, and ties with those in it.
        let (mut above, mut area) = (0.0, 0.0);
        for (p, n) in runs {
            area += n * (above + 0.5 * p);
            above += p;
        }
        Some(area / (pos * neg))
    }

    /// The average precision under the row weights `w`. `None` when the positive rows weigh
    /// nothing; NaN when a score is NaN.
    pub fn average_precision(&self, w: Option<&[f64]>) -> Option<f64> {
        let (runs, pos, _) = self.run_weights(w);
        if pos <= 0.0 {
            return None;
        }
        if self.nan {
            return Some(f64::NAN);
        }
        let (mut tp, mut fp, mut recall, mut ap) = (0.0, 0.0, 0.0, 0.0);
        for (p, n) in runs {
            tp += p;
            fp += n;
            if p + n <= 0.0 {
                continue;
            }
            let r = tp / pos;
            ap += (r - recall) * (tp / (tp + fp));
            recall = r;
        }
        Some(ap)
    }
}

/// The average precision of `scores` against `positive` (`None` without positive rows).
pub fn average_precision(positive: &[bool], scores: &[f64]) -> Option<f64> {
    Ranked::new(positive, scores).average_precision(None)
}

/// The (weighted) counts of a binary confusion matrix at one threshold.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Confusion {
    /// Positive rows predicted positive.
    pub tp: f64,
    /// Negative rows predicted positive.
    pub fp: f64,
    /// Negative rows predicted negative.
    pub tn: f64,
    /// Positive rows predicted negative.
    pub fn_: f64,
}

/// `a / b`, or `zero` when `b` is 0.
fn ratio(a: f64, b: f64, zero: f64) -> f64 {
    if b > 0.0 { a / b } else { zero }
}

impl Confusion {
    /// The counts when a row is predicted positive if its score is above `threshold`.
    pub fn at(positive: &[bool], scores: &[f64], threshold: f64, w: Option<&[f64]>) -> Confusion {
        assert_eq!(positive.len(), scores.len(), "one score per row");
        let mut c = Confusion::default();
        for (i, (&y, &s)) in positive.iter().zip(scores).enumerate() {
            let x = weight(w, i);
            match (y, s > threshold) {
                (true, true) => c.tp += x,
                (false, true) => c.fp += x,
                (false, false) => c.tn += x,
                (true, false) => c.fn_ += x,
            }
        }
        c
    }

    /// All rows.
    pub fn total(&self) -> f64 {
        self.tp + self.fp + self.tn + self.fn_
    }

    /// The share of rows predicted rightly (NaN without rows).
    pub fn accuracy(&self) -> f64 {
        ratio(self.tp + self.tn, self.total(), f64::NAN)
    }

    /// `tp / (tp + fp)`; 0 when nothing is predicted positive (scikit-learn's `zero_division`).
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp, 0.0)
    }

    /// `tp / (tp + fn)`; 0 without positive rows.
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_, 0.0)
    }

    /// `2tp / (2tp + fp + fn)`, the harmonic mean of precision and recall; 0 when both are.
    pub fn f1(&self) -> f64 {
        ratio(2.0 * self.tp, 2.0 * self.tp + self.fp + self.fn_, 0.0)
    }

    /// The false positive rate `fp / (fp + tn)`; NaN without negative rows.
    pub fn fpr(&self) -> f64 {
        ratio(self.fp, self.fp + self.tn, f64::NAN)
    }

    /// The false negative rate `fn / (fn + tp)`; NaN without positive rows.
    pub fn fnr(&self) -> f64 {
        ratio(self.fn_, self.fn_ + self.tp, f64::NAN)
    }

    /// The share of rows predicted positive; NaN without rows.
    pub fn positive_rate(&self) -> f64 {
        ratio(self.tp + self.fp, self.total(), f64::NAN)
    }
}

/// The Brier score: the (weighted) mean of `(score − y)²`, `y` 1 for a positive row.
pub fn brier(positive: &[bool], scores: &[f64], w: Option<&[f64]>) -> f64 {
    assert_eq!(positive.len(), scores.len(), "one score per row");
    let (mut sum, mut total) = (0.0, 0.0);
    for (i, (&y, &s)) in positive.iter().zip(scores).enumerate() {
        let x = weight(w, i);
        sum += x * (s - f64::from(u8::from(y))).powi(2);
        total += x;
    }
    ratio(sum, total, f64::NAN)
}

/// One bin of a calibration table.
#[derive(Clone, Debug, PartialEq)]
pub struct CalibrationBin {
    /// Its lower edge (excluded, except 0).
    pub lo: f64,
    /// Its upper edge (included).
    pub hi: f64,
    /// Rows whose score falls in it.
    pub count: usize,
    /// Their mean score (`None` when the bin is empty).
    pub mean_predicted: Option<f64>,
    /// The share of them that are positive.
    pub observed_rate: Option<f64>,
}

/// The calibration table of `scores` in `bins` equal-width bins of `[0, 1]`; NaN scores are
/// left out, scores outside `[0, 1]` go to the first or last bin.
pub fn calibration(positive: &[bool], scores: &[f64], bins: usize) -> Vec<CalibrationBin> {
    assert_eq!(positive.len(), scores.len(), "one score per row");
    let bins = bins.max(1);
    // The edges as numpy's `linspace(0, 1, bins + 1)` computes them: i · (1 / bins).
    let step = 1.0 / bins as f64;
    let edges: Vec<f64> = (0..=bins).map(|i| if i == bins { 1.0 } else { i as f64 * step }).collect();
    let (mut count, mut sum, mut hits) = (vec![0usize; bins], vec![0.0; bins], vec![0usize; bins]);
    for (&y, &s) in positive.iter().zip(scores) {
        if s.is_nan() {
            continue;
        }
        // The number of inner edges below the score (numpy's `searchsorted`, side left).
        let b = edges[1..bins].iter().filter(|e| **e < s).count();
        count[b] += 1;
        sum[b] += s;
        hits[b] += usize::from(y);
    }
    (0..bins)
        .map(|b| CalibrationBin {
            lo: edges[b],
            hi: edges[b + 1],
            count: count[b],
            mean_predicted: (count[b] > 0).then(|| sum[b] / count[b] as f64),
            observed_rate: (count[b] > 0).then(|| hits[b] as f64 / count[b] as f64),
        })
        .collect()
}

/// The (weighted) confusion matrix of `classes` classes: `m[t][p]` rows of class `t` predicted
/// as `p`.
pub fn confusion_matrix(truth: &[usize], predicted: &[usize], classes: usize, w: Option<&[f64]>) -> Vec<Vec<f64>> {
    assert_eq!(truth.len(), predicted.len(), "one prediction per row");
    let mut m = vec![vec![0.0; classes]; classes];
    for (i, (&t, &p)) in truth.iter().zip(predicted).enumerate() {
        m[t][p] += weight(w, i);
    }
    m
}

/// Multiclass scores from a confusion matrix.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClassScores {
    /// The share of rows predicted rightly.
    pub accuracy: f64,
    /// Mean precision over the classes present.
    pub macro_precision: f64,
    /// Mean recall over the classes present.
    pub macro_recall: f64,
    /// Mean F1 over the classes present.
    pub macro_f1: f64,
    /// Precision averaged with each class weighted by its rows.
    pub weighted_precision: f64,
    /// Recall averaged with each class weighted by its rows.
    pub weighted_recall: f64,
    /// F1 averaged with each class weighted by its rows.
    pub weighted_f1: f64,
}

impl ClassScores {
    /// The scores of confusion matrix `m` (rows: true class, columns: predicted class). A class
    /// counts when it is a label or a prediction of some row; NaN everywhere without rows.
    pub fn of(m: &[Vec<f64>]) -> ClassScores {
        let col = |j: usize| m.iter().map(|r| r[j]).sum::<f64>();
        let total: f64 = m.iter().flatten().sum();
        let (mut mp, mut mr, mut mf, mut wp, mut wr, mut wf, mut present) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0usize);
        for (j, row) in m.iter().enumerate() {
            let (support, predicted, tp) = (row.iter().sum::<f64>(), col(j), row[j]);
            if support <= 0.0 && predicted <= 0.0 {
                continue;
            }
            present += 1;
            let p = ratio(tp, predicted, 0.0);
            let r = ratio(tp, support, 0.0);
            let f = ratio(2.0 * tp, support + predicted, 0.0);
            (mp, mr, mf) = (mp + p, mr + r, mf + f);
            (wp, wr, wf) = (wp + support * p, wr + support * r, wf + support * f);
        }
        if total <= 0.0 {
            let nan = f64::NAN;
            return ClassScores {
                accuracy: nan,
                macro_precision: nan,
                macro_recall: nan,
                macro_f1: nan,
                weighted_precision: nan,
                weighted_recall: nan,
                weighted_f1: nan,
            };
        }
        let n = present as f64;
        ClassScores {
            accuracy: m.iter().enumerate().map(|(j, row)| row[j]).sum::<f64>() / total,
            macro_precision: mp / n,
            macro_recall: mr / n,
            macro_f1: mf / n,
            weighted_precision: wp / total,
            weighted_recall: wr / total,
            weighted_f1: wf / total,
        }
    }
}

/// The weighted log loss of the probabilities given to each row's true class.
pub fn log_loss_weighted(p_true: &[f64], w: Option<&[f64]>) -> f64 {
    let (mut sum, mut total) = (0.0, 0.0);
    for (i, p) in p_true.iter().enumerate() {
        let x = weight(w, i);
        sum += x * -p.clamp(CLIP, 1.0 - CLIP).ln();
        total += x;
    }
    ratio(sum, total, f64::NAN)
}

/// The errors of a regressor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Errors {
    /// Root mean squared error.
    pub rmse: f64,
    /// Mean absolute error.
    pub mae: f64,
    /// Coefficient of determination.
    pub r2: f64,
}

/// The (weighted) errors of `predicted` against `truth`; NaN without rows.
pub fn regression(truth: &[f64], predicted: &[f64], w: Option<&[f64]>) -> Errors {
    assert_eq!(truth.len(), predicted.len(), "one prediction per row");
    let (mut total, mut sum_y) = (0.0, 0.0);
    for (i, y) in truth.iter().enumerate() {
        total += weight(w, i);
        sum_y += weight(w, i) * y;
    }
    if total <= 0.0 {
        return Errors { rmse: f64::NAN, mae: f64::NAN, r2: f64::NAN };
    }
    let mean = sum_y / total;
    let (mut sq, mut abs, mut var) = (0.0, 0.0, 0.0);
    for (i, (y, p)) in truth.iter().zip(predicted).enumerate() {
        let x = weight(w, i);
        sq += x * (y - p).powi(2);
        abs += x * (y - p).abs();
        var += x * (y - mean).powi(2);
    }
    let r2 = if var > 0.0 {
        1.0 - sq / var
    } else if sq.is_nan() {
        f64::NAN
    } else if sq == 0.0 {
        1.0
    } else {
        0.0
    };
    Errors { rmse: (sq / total).sqrt(), mae: abs / total, r2 }
}

/// The mean of the defined values (`None` when none is).
pub fn macro_average(values: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    let (sum, count) = values.into_iter().flatten().fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
    (count > 0).then(|| sum / count as f64)
}

/// The AUC of class probabilities: `truth` holds each row's class index among `classes`
/// classes, and `column(j)` gives the probability of class `j` per row (asked for one class at
/// a time, so only one column is held at once). Two classes: the AUC of class 1's probability;
/// more: the macro one-vs-rest AUC over the classes with both positive and negative rows.
/// `Ok(None)` when no class has both.
pub fn class_auc<E>(
    truth: &[usize],
    classes: usize,
    mut column: impl FnMut(usize) -> Result<Vec<f64>, E>,
) -> Result<Option<f64>, E> {
    let mut of_class = |j: usize| -> Result<Option<f64>, E> {
        let positive: Vec<bool> = truth.iter().map(|&t| t == j).collect();
        if !positive.contains(&true) || positive.iter().all(|p| *p) {
            return Ok(None);
        }
        Ok(roc_auc(&positive, &column(j)?))
    };
    match classes {
        0 | 1 => Ok(None),
        2 => of_class(1),
        k => {
            let mut values = Vec::with_capacity(k);
            for j in 0..k {
                values.push(of_class(j)?);
            }
            Ok(macro_average(values))
        }
    }
}

/// The share of rows where `predicted` equals `truth` (0 for no rows).
pub fn accuracy<T: PartialEq>(truth: &[T], predicted: &[T]) -> f64 {
    assert_eq!(truth.len(), predicted.len(), "one prediction per row");
    if truth.is_empty() {
        return 0.0;
    }
    truth.iter().zip(predicted).filter(|(t, p)| t == p).count() as f64 / truth.len() as f64
}

/// The log loss of the probabilities given to each row's true class.
pub fn log_loss(p_true: &[f64]) -> f64 {
    if p_true.is_empty() {
        return f64::NAN;
    }
    p_true.iter().map(|p| -p.clamp(CLIP, 1.0 - CLIP).ln()).sum::<f64>() / p_true.len() as f64
}

/// The root mean squared error of `predicted` against `truth`.
pub fn rmse(truth: &[f64], predicted: &[f64]) -> f64 {
    assert_eq!(truth.len(), predicted.len(), "one prediction per row");
    if truth.is_empty() {
        return f64::NAN;
    }
    (truth.iter().zip(predicted).map(|(t, p)| (t - p).powi(2)).sum::<f64>() / truth.len() as f64).sqrt()
}

/// The mean absolute error of `predicted` against `truth`.
pub fn mae(truth: &[f64], predicted: &[f64]) -> f64 {
    assert_eq!(truth.len(), predicted.len(), "one prediction per row");
    if truth.is_empty() {
        return f64::NAN;
    }
    truth.iter().zip(predicted).map(|(t, p)| (t - p).abs()).sum::<f64>() / truth.len() as f64
}

/// The indices of `values`, best first: larger first when `maximize`, smaller first otherwise;
/// every non-finite value after every finite one; ties in index order.
pub fn ranking(values: &[f64], maximize: bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (values[a], values[b]);
        match (x.is_finite(), y.is_finite()) {
            (true, true) => {
                let c = x.partial_cmp(&y).unwrap_or(Ordering::Equal);
                if maximize { c.reverse() } else { c }
            }
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => Ordering::Equal,
        }
    });
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} != {b}");
    }

    #[test]
    fn names_round_trip_and_directions() {
        for m in Metric::ALL {
            assert_eq!(Metric::parse(m.name()), Some(m));
        }
        assert_eq!(Metric::parse("AUC"), None);
        assert_eq!(Metric::parse("f1"), None);
        assert!(Metric::Auc.maximize() && Metric::Accuracy.maximize());
        assert!(!Metric::LogLoss.maximize() && !Metric::Rmse.maximize() && !Metric::Mae.maximize());
        assert!(Metric::LogLoss.for_classifiers() && !Metric::Mae.for_classifiers());
        assert_eq!(Metric::names_for(true), "auc, accuracy or log_loss");
        assert_eq!(Metric::names_for(false), "rmse or mae");
    }

    #[test]
    fn auc_matches_scikit_learn() {
        // roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) = 0.75: of the four
        // positive-negative pairs only (0.35, 0.4) is ordered wrongly.
        close(roc_auc(&[false, false, true, true], &[0.1, 0.4, 0.35, 0.8]).unwrap(), 0.75);
        // Perfect, reversed and constant scores.
        close(roc_auc(&[false, true, false, true], &[0.1, 0.9, 0.2, 0.8]).unwrap(), 1.0);
        close(roc_auc(&[true, false], &[0.1, 0.9]).unwrap(), 0.0);
        close(roc_auc(&[true, false, true, false], &[0.5; 4]).unwrap(), 0.5);
    }

    #[test]
    fn auc_counts_a_tied_pair_as_one_half() {
        // Positives {0.5, 0.9}, negatives {0.5, 0.2}: pairs (0.5, 0.5) tie = 1/2, the other
        // three are ordered rightly: 3.5 / 4. Average ranks: 0.2 → 1, 0.5 and 0.5 → 2.5,
        // 0.9 → 4; positives' rank sum 6.5, minus 2·3/2, over 2·2.
        close(roc_auc(&[false, true, false, true], &[0.5, 0.5, 0.2, 0.9]).unwrap(), 0.875);
        // Three tied across both kinds: positives {0.3, 0.3, 0.7}, negatives {0.3, 0.1}.
        // Pairs: 0.3 vs 0.3 twice = 1, 0.3 vs 0.1 twice = 2, 0.7 vs both = 2: 5 / 6.
        close(roc_auc(&[true, true, false, true, false], &[0.3, 0.3, 0.3, 0.7, 0.1]).unwrap(), 5.0 / 6.0);
    }

    #[test]
    fn auc_is_undefined_for_one_kind_and_nan_for_nan_scores() {
        assert_eq!(roc_auc(&[true, true], &[0.1, 0.2]), None);
        assert_eq!(roc_auc(&[], &[]), None);
        assert!(roc_auc(&[true, false], &[f64::NAN, 0.2]).unwrap().is_nan());
    }

    #[test]
    fn binary_class_auc_uses_the_second_class() {
        let truth = [0, 0, 1, 1];
        let p1 = vec![0.1, 0.4, 0.35, 0.8];
        let p0: Vec<f64> = p1.iter().map(|p| 1.0 - p).collect();
        let columns = [p0, p1];
        close(class_auc(&truth, 2, |j| Ok::<_, ()>(columns[j].clone())).unwrap().unwrap(), 0.75);
        assert_eq!(class_auc(&truth, 1, |_| Ok::<_, ()>(vec![1.0; 4])), Ok(None));
        // A failing read is passed on.
        assert_eq!(class_auc(&truth, 2, |_| Err("no column")), Err("no column"));
    }

    #[test]
    fn multiclass_auc_is_the_macro_one_vs_rest_mean() {
        // roc_auc_score(y, p, multi_class="ovr", average="macro") with
        // y = [0, 1, 2, 2, 1, 0] and the rows of p below.
        let truth = [0, 1, 2, 2, 1, 0];
        let rows =
            [[0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.1, 0.3, 0.6], [0.3, 0.4, 0.3], [0.4, 0.4, 0.2], [0.5, 0.3, 0.2]];
        let columns: Vec<Vec<f64>> = (0..3).map(|j| rows.iter().map(|r| r[j]).collect()).collect();
        // Class 0: positives {0.7, 0.5} above every negative {0.2, 0.1, 0.3, 0.4}: 1.
        // Class 1: positives {0.5, 0.4}, negatives {0.2, 0.3, 0.4, 0.3}: 0.5 wins 4, 0.4 wins
        // 3 and ties 1: 7.5 / 8. Class 2: positives {0.6, 0.3}, negatives {0.1, 0.3, 0.2, 0.2}:
        // 7.5 / 8 likewise. Mean: (1 + 0.9375 + 0.9375) / 3.
        let auc = |truth: &[usize], columns: &[Vec<f64>]| {
            let mut asked = Vec::new();
            let v = class_auc(truth, columns.len(), |j| {
                asked.push(j);
                Ok::<_, ()>(columns[j].clone())
            })
            .unwrap();
            (v, asked)
        };
        let (v, asked) = auc(&truth, &columns);
        close(v.unwrap(), 2.875 / 3.0);
        assert_eq!(asked, vec![0, 1, 2]);
        // A class without rows is left out of the mean (and its column is not read).
        let truth = [0, 1, 0, 1];
        let columns = vec![vec![0.8, 0.1, 0.6, 0.3], vec![0.1, 0.8, 0.3, 0.6], vec![0.1, 0.1, 0.1, 0.1]];
        let (v, asked) = auc(&truth, &columns);
        close(v.unwrap(), 1.0);
        assert_eq!(asked, vec![0, 1]);
        assert_eq!(auc(&[2, 2], &[vec![0.1, 0.2], vec![0.1, 0.2], vec![0.8, 0.6]]).0, None);
    }

    #[test]
    fn macro_average_skips_undefined_values() {
        assert_eq!(macro_average([Some(1.0), None, Some(0.5)]), Some(0.75));
        assert_eq!(macro_average([None, None]), None);
    }

    #[test]
    fn accuracy_matches_scikit_learn() {
        // accuracy_score([0, 2, 1, 3], [0, 1, 2, 3]) = 0.5
        close(accuracy(&[0, 2, 1, 3], &[0, 1, 2, 3]), 0.5);
        close(accuracy(&[1.0, 0.0, 1.0], &[1.0, 0.0, 1.0]), 1.0);
        close(accuracy::<u8>(&[], &[]), 0.0);
    }

    #[test]
    fn log_loss_matches_scikit_learn() {
        // log_loss(["spam", "ham", "ham", "spam"], [[.1, .9], [.9, .1], [.8, .2], [.35, .65]])
        // = 0.21616...: the true classes get 0.9, 0.9, 0.8 and 0.65.
        let expected = -(0.9f64.ln() + 0.9f64.ln() + 0.8f64.ln() + 0.65f64.ln()) / 4.0;
        close(log_loss(&[0.9, 0.9, 0.8, 0.65]), expected);
        assert!((expected - 0.216_162).abs() < 1e-6);
    }

    #[test]
    fn log_loss_clips_probabilities() {
        // A certain wrong answer costs -ln(ε) = 36.0436533891..., not infinity: scikit-learn's
        // log_loss([1], [[1.0, 0.0]], labels=[0, 1]).
        close(log_loss(&[0.0]), 36.043_653_389_117_15);
        close(log_loss(&[0.0, 1.0]), (36.043_653_389_117_15 - (1.0 - CLIP).ln()) / 2.0);
        assert!(log_loss(&[1.0]) < 1e-14 && log_loss(&[1.0]) > 0.0);
        assert!(log_loss(&[f64::NAN]).is_nan());
    }

    #[test]
    fn regression_errors_match_scikit_learn() {
        // mean_squared_error([3, -0.5, 2, 7], [2.5, 0.0, 2, 8]) = 0.375;
        // mean_absolute_error of the same = 0.5.
        let (y, p) = ([3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0]);
        close(rmse(&y, &p), 0.375f64.sqrt());
        close(mae(&y, &p), 0.5);
        close(rmse(&[1.0], &[1.0]), 0.0);
        assert!(rmse(&[1.0], &[f64::NAN]).is_nan());
        assert!(mae(&[], &[]).is_nan());
    }

    #[test]
    fn ranking_orders_by_direction_with_non_finite_last_and_ties_by_index() {
        let values = [0.7, f64::NAN, 0.9, 0.7, f64::INFINITY, 0.1];
        assert_eq!(ranking(&values, true), vec![2, 0, 3, 5, 1, 4]);
        assert_eq!(ranking(&values, false), vec![5, 0, 3, 2, 1, 4]);
        assert_eq!(ranking(&[], true), Vec::<usize>::new());
        assert_eq!(ranking(&[f64::NAN, f64::NAN], false), vec![0, 1]);
    }

    /// The binary example the scikit-learn constants below were computed on.
    const Y: [bool; 10] = [false, false, true, true, false, true, false, true, true, false];
    const S: [f64; 10] = [0.1, 0.4, 0.35, 0.8, 0.65, 0.9, 0.2, 0.55, 0.3, 0.5];
    /// Row weights for the weighted variants (`sample_weight` in scikit-learn).
    const W: [f64; 10] = [1.0, 2.0, 0.0, 3.0, 1.0, 1.0, 2.0, 1.0, 2.0, 1.0];

    #[test]
    fn ranked_auc_and_average_precision_match_scikit_learn() {
        let r = Ranked::new(&Y, &S);
        // roc_auc_score(y, s) = 0.72; average_precision_score(y, s) = 0.78928571...
        close(r.auc(None).unwrap(), 0.72);
        close(r.average_precision(None).unwrap(), 0.789_285_714_285_714_1);
        close(average_precision(&Y, &S).unwrap(), 0.789_285_714_285_714_1);
        // With sample_weight=W: 0.81632653... and 0.87229437...
        close(r.auc(Some(&W)).unwrap(), 0.816_326_530_612_244_9);
        close(r.average_precision(Some(&W)).unwrap(), 0.872_294_372_294_372_3);
        // Ties: y = [1, 0, 1, 0, 1, 1, 0], s = [.5, .5, .9, .2, .2, .7, .7].
        let y = [true, false, true, false, true, true, false];
        let s = [0.5, 0.5, 0.9, 0.2, 0.2, 0.7, 0.7];
        close(roc_auc(&y, &s).unwrap(), 0.625);
        close(average_precision(&y, &s).unwrap(), 0.709_523_809_523_809_4);
    }

    #[test]
    fn average_precision_by_hand() {
        // Scores from the top: 0.9 (+), 0.8 (-), 0.3 (+). Recall steps to 1/2 at precision 1,
        // then to 1 at precision 2/3: AP = 1/2 · 1 + 1/2 · 2/3 = 5/6.
        close(average_precision(&[true, false, true], &[0.9, 0.8, 0.3]).unwrap(), 5.0 / 6.0);
        // Every positive first: 1, whatever the negatives.
        close(average_precision(&[false, true, true], &[0.1, 0.7, 0.9]).unwrap(), 1.0);
        assert_eq!(average_precision(&[false, false], &[0.1, 0.7]), None);
        assert!(average_precision(&[true, false], &[f64::NAN, 0.2]).unwrap().is_nan());
    }

    #[test]
    fn a_weight_of_two_is_a_row_twice() {
        let twice: Vec<usize> = (0..Y.len()).flat_map(|i| std::iter::repeat_n(i, W[i] as usize)).collect();
        let y: Vec<bool> = twice.iter().map(|&i| Y[i]).collect();
        let s: Vec<f64> = twice.iter().map(|&i| S[i]).collect();
        let (plain, weighted) = (Ranked::new(&y, &s), Ranked::new(&Y, &S));
        close(plain.auc(None).unwrap(), weighted.auc(Some(&W)).unwrap());
        close(plain.average_precision(None).unwrap(), weighted.average_precision(Some(&W)).unwrap());
        assert_eq!(Confusion::at(&y, &s, 0.5, None), Confusion::at(&Y, &S, 0.5, Some(&W)));
        close(brier(&y, &s, None), brier(&Y, &S, Some(&W)));
        // All the weight on one kind: undefined.
        let only_negatives = [1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0];
        assert_eq!(weighted.auc(Some(&only_negatives)), None);
        assert_eq!(weighted.average_precision(Some(&only_negatives)), None);
    }

    #[test]
    fn threshold_metrics_match_scikit_learn() {
        // y_pred = s > 0.5: confusion_matrix [[4, 1], [2, 3]]; accuracy 0.7, precision 0.75,
        // recall 0.6, f1 0.666...
        let c = Confusion::at(&Y, &S, 0.5, None);
        assert_eq!(c, Confusion { tp: 3.0, fp: 1.0, tn: 4.0, fn_: 2.0 });
        close(c.accuracy(), 0.7);
        close(c.precision(), 0.75);
        close(c.recall(), 0.6);
        close(c.f1(), 2.0 / 3.0);
        close(c.fpr(), 0.2);
        close(c.fnr(), 0.4);
        close(c.positive_rate(), 0.4);
        // 0.5 itself is not above the threshold 0.5; at 0.3: 0.6, 4/7, 0.8, 2/3.
        let c = Confusion::at(&Y, &S, 0.3, None);
        close(c.accuracy(), 0.6);
        close(c.precision(), 0.571_428_571_428_571_4);
        close(c.recall(), 0.8);
        close(c.f1(), 2.0 / 3.0);
        // Weighted: 0.78571428..., 0.8333..., 0.71428571..., 0.76923076...
        let c = Confusion::at(&Y, &S, 0.5, Some(&W));
        close(c.accuracy(), 0.785_714_285_714_285_7);
        close(c.precision(), 0.833_333_333_333_333_4);
        close(c.recall(), 0.714_285_714_285_714_3);
        close(c.f1(), 0.769_230_769_230_769_3);
        // Nothing predicted positive: precision and F1 are 0 (scikit-learn's zero_division).
        let none = Confusion::at(&Y, &S, 1.0, None);
        assert_eq!((none.precision(), none.recall(), none.f1()), (0.0, 0.0, 0.0));
        assert!(Confusion::at(&[true], &[0.3], 0.5, None).fpr().is_nan());
        assert!(Confusion::default().accuracy().is_nan());
    }

    #[test]
    fn brier_and_binary_log_loss_match_scikit_learn() {
        // brier_score_loss(y, s) = 0.20475; with sample_weight=W 0.17107142...
        close(brier(&Y, &S, None), 0.204_750_000_000_000_04);
        close(brier(&Y, &S, Some(&W)), 0.171_071_428_571_428_57);
        // log_loss(y, [[1 - s, s]]) = 0.57624349...; weighted 0.50691728...
        let p_true: Vec<f64> = Y.iter().zip(S).map(|(&y, s)| if y { s } else { 1.0 - s }).collect();
        close(log_loss(&p_true), 0.576_243_499_234_892);
        close(log_loss_weighted(&p_true, None), 0.576_243_499_234_892);
        close(log_loss_weighted(&p_true, Some(&W)), 0.506_917_282_134_628_4);
        assert!(brier(&[], &[], None).is_nan());
    }

    #[test]
    fn calibration_bins_match_scikit_learn() {
        // calibration_curve(y, s, n_bins=10, strategy="uniform"): prob_true
        // [0, 0, 1, 0.5, 0, 1, 0, 1, 1], prob_pred [0.1, 0.2, 0.3, 0.375, 0.5, 0.55, 0.65, 0.8,
        // 0.9] for the non-empty bins. 0.2, 0.3, 0.5, 0.8 and 0.9 sit on edges and fall in the bin
        // below.
        let bins = calibration(&Y, &S, 10);
        assert_eq!(bins.len(), 10);
        let full: Vec<&CalibrationBin> = bins.iter().filter(|b| b.count > 0).collect();
        let observed: Vec<f64> = full.iter().map(|b| b.observed_rate.unwrap()).collect();
        let predicted: Vec<f64> = full.iter().map(|b| b.mean_predicted.unwrap()).collect();
        assert_eq!(observed, [0.0, 0.0, 1.0, 0.5, 0.0, 1.0, 0.0, 1.0, 1.0]);
        for (p, want) in predicted.iter().zip([0.1, 0.2, 0.3, 0.375, 0.5, 0.55, 0.65, 0.8, 0.9]) {
            close(*p, want);
        }
        let counts: Vec<usize> = bins.iter().map(|b| b.count).collect();
        assert_eq!(counts, [1, 1, 1, 2, 1, 1, 1, 1, 1, 0]);
        assert_eq!((bins[3].lo, bins[3].hi), (0.30000000000000004, 0.4));
        assert_eq!((bins[9].lo, bins[9].hi), (0.9, 1.0));
        assert_eq!((bins[9].mean_predicted, bins[9].observed_rate), (None, None));
        // NaN scores are left out; 0 and 1 land in the first and last bins.
        let bins = calibration(&[true, false, true], &[f64::NAN, 0.0, 1.0], 10);
        assert_eq!((bins[0].count, bins[9].count), (1, 1));
    }

    #[test]
    fn multiclass_scores_match_scikit_learn() {
        // y = [0, 1, 2, 2, 1, 0, 2, 1], predicted (argmax of the probabilities, ties to the
        // first class) [0, 1, 2, 1, 0, 0, 2, 0].
        let truth = [0, 1, 2, 2, 1, 0, 2, 1];
        let predicted = [0, 1, 2, 1, 0, 0, 2, 0];
        let m = confusion_matrix(&truth, &predicted, 3, None);
        assert_eq!(m, [[2.0, 0.0, 0.0], [2.0, 1.0, 0.0], [0.0, 1.0, 2.0]]);
        let s = ClassScores::of(&m);
        close(s.accuracy, 0.625);
        // precision/recall/f1_score(average="macro"): 0.666..., 0.666..., 0.6222...;
        // average="weighted": 0.6875, 0.625, 0.61666...
        close(s.macro_precision, 2.0 / 3.0);
        close(s.macro_recall, 2.0 / 3.0);
        close(s.macro_f1, 0.622_222_222_222_222_2);
        close(s.weighted_precision, 0.6875);
        close(s.weighted_recall, 0.625);
        close(s.weighted_f1, 0.616_666_666_666_666_7);
        // log_loss(y, P) = 0.76110711...: the true classes get these probabilities.
        close(log_loss(&[0.7, 0.5, 0.6, 0.3, 0.4, 0.5, 0.6, 0.3]), 0.761_107_111_639_578_9);
        // A class neither true nor predicted is left out of the macro mean.
        let m = confusion_matrix(&[0, 1, 1], &[0, 1, 0], 3, None);
        let s = ClassScores::of(&m);
        close(s.macro_recall, 0.75);
        close(s.macro_precision, 0.75);
        assert!(ClassScores::of(&confusion_matrix(&[], &[], 2, None)).accuracy.is_nan());
    }

    #[test]
    fn regression_scores_match_scikit_learn() {
        // y = [3, -0.5, 2, 7, 4.2], p = [2.5, 0, 2, 8, 3.9]: sqrt(mean_squared_error)
        // 0.56391488..., mean_absolute_error 0.46, r2_score 0.94802562...
        let (y, p) = ([3.0, -0.5, 2.0, 7.0, 4.2], [2.5, 0.0, 2.0, 8.0, 3.9]);
        let e = regression(&y, &p, None);
        close(e.rmse, 0.563_914_887_194_867_4);
        close(e.mae, 0.460_000_000_000_000_1);
        close(e.r2, 0.948_025_627_615_062_7);
        // sample_weight = [1, 2, 1, 0.5, 3]: 0.45018514..., 0.38666..., 0.95897657...
        let e = regression(&y, &p, Some(&[1.0, 2.0, 1.0, 0.5, 3.0]));
        close(e.rmse, 0.450_185_147_096_910_27);
        close(e.mae, 0.386_666_666_666_666_77);
        close(e.r2, 0.958_976_573_464_320_4);
        // A constant label: r2 is 1 for a perfect fit, else 0 (scikit-learn's force_finite).
        assert_eq!(regression(&[1.0; 3], &[1.0; 3], None).r2, 1.0);
        assert_eq!(regression(&[1.0; 3], &[1.0, 2.0, 1.0], None).r2, 0.0);
        assert!(regression(&[], &[], None).rmse.is_nan());
    }
}
