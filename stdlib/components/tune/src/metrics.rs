//! The metrics a search ranks its trials by, in plain Rust over plain slices (no host call), so
//! they are checked here against hand-computed values and scikit-learn's answers for tiny
//! inputs.
//!
//! - `auc`: the area under the ROC curve, computed as the Mann-Whitney statistic with average
//!   ranks for tied scores (a tied positive-negative pair counts one half, as the trapezoidal
//!   ROC curve of scikit-learn's `roc_auc_score` does). For more than two classes: the mean of
//!   each class's one-vs-rest AUC (scikit-learn's `multi_class="ovr"`, `average="macro"`), over
//!   the classes that have both positive and negative rows.
//! - `accuracy`: the share of rows whose predicted class is the label.
//! - `log_loss`: the mean of `-ln p`, `p` the probability given to the true class, clipped to
//!   `[1e-15, 1 - 1e-15]`.
//! - `rmse`, `mae`: the root mean squared and the mean absolute error, in the label's units.
//!
//! A NaN among the scores or predictions makes the metric NaN, and [`ranking`] puts every
//! non-finite value last.

use std::cmp::Ordering;

/// Probabilities are clipped to `[CLIP, 1 - CLIP]` before their logarithm.
pub const CLIP: f64 = 1e-15;

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
    assert_eq!(positive.len(), scores.len(), "one score per row");
    let pos = positive.iter().filter(|p| **p).count();
    let neg = positive.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    if scores.iter().any(|s| s.is_nan()) {
        return Some(f64::NAN);
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Sum of the positives' ranks (1-based), each run of tied scores sharing its mean rank.
    let mut rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        let mean_rank = (start + 1 + end) as f64 / 2.0;
        rank_sum += mean_rank * order[start..end].iter().filter(|&&i| positive[i]).count() as f64;
        start = end;
    }
    let (p, n) = (pos as f64, neg as f64);
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
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
        // A certain wrong answer costs -ln(1e-15) = 34.5387763949..., not infinity.
        close(log_loss(&[0.0]), 34.538_776_394_910_684);
        close(log_loss(&[0.0, 1.0]), (34.538_776_394_910_684 - (1.0 - CLIP).ln()) / 2.0);
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
}
