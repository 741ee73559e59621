//! Studies: what the trials of each hyperparameter search report while they train, and the
//! median stopping rule that stops the bad ones early.
//!
//! A run keeps one [`Studies`] for all its searches. A trainer running as a trial calls the WIT
//! `invocation.report(epoch, objective)` after each epoch (lower is better: its eval loss);
//! the host records the value under the trial's search and index and, when the search has an
//! [`StoppingRule`], applies the median stopping rule ([`median_rule`]): after `grace` epochs,
//! once at least `min_trials` other trials have reported the same epoch, a trial whose best
//! objective so far is strictly worse than the median of the other trials' best-so-far values
//! at that epoch is told to stop. A NaN objective counts as the worst value.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

/// The median stopping rule of a search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoppingRule {
    /// Epochs a trial always runs: the rule applies from this epoch on (epochs count from 1).
    pub grace: u32,
    /// Other trials that must have reported an epoch before a trial is compared there.
    pub min_trials: u32,
}

/// A trial of a hyperparameter search, as the host runs it.
#[derive(Clone, Debug)]
pub struct TrialRun {
    /// The id of the search step.
    pub search: String,
    /// 0-based index of the trial.
    pub index: u32,
    /// How many trials the search has.
    pub of: u32,
    /// The sampled point, a JSON object of trainer parameter to plain JSON value.
    pub point: serde_json::Value,
    /// The median stopping rule, when the search stops bad trials early.
    pub early_stopping: Option<StoppingRule>,
    /// The run's studies, shared by every trial of every search.
    pub studies: Arc<Studies>,
}

impl TrialRun {
    /// The `trial` property of every artifact the trial writes. It leaves out how many trials
    /// the search has: a longer search reuses the artifacts of the trials it shares with a
    /// shorter one from the cache.
    pub fn property(&self, stopped_at_epoch: Option<u64>) -> serde_json::Value {
        serde_json::json!({
            "search": self.search,
            "index": self.index,
            "point": self.point,
            "stopped_at_epoch": stopped_at_epoch,
        })
    }
}

/// What the median stopping rule says after a report.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Verdict {
    /// The trial goes on.
    Continue,
    /// The trial stops: its best objective so far is worse than the others' median.
    Stop {
        /// The trial's best objective up to this epoch.
        best: f64,
        /// The median of the other trials' best objectives up to this epoch.
        median: f64,
        /// How many other trials reported this epoch.
        others: usize,
    },
}

/// Objectives by epoch, per trial index, per search id.
type Reports = HashMap<String, BTreeMap<u32, BTreeMap<u64, f64>>>;

/// The intermediate objectives every trial of every search of one run has reported.
#[derive(Debug, Default)]
pub struct Studies {
    searches: Mutex<Reports>,
}

impl Studies {
    /// An empty record.
    pub fn new() -> Studies {
        Studies::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Reports> {
        // A panic while holding the lock cannot leave the maps half-changed: every change is
        // one insert or remove.
        self.searches.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets what trial `index` of `search` reported: an attempt of a trial starts over.
    pub fn begin(&self, search: &str, index: u32) {
        if let Some(trials) = self.lock().get_mut(search) {
            trials.remove(&index);
        }
    }

    /// Records `objective` of trial `index` of `search` after `epoch`, and applies `rule` (no
    /// rule: the trial always goes on).
    pub fn report(&self, search: &str, index: u32, epoch: u64, objective: f64, rule: Option<StoppingRule>) -> Verdict {
        let mut searches = self.lock();
        let trials = searches.entry(search.to_string()).or_default();
        trials.entry(index).or_default().insert(epoch, objective);
        let Some(rule) = rule else { return Verdict::Continue };
        let best_until = |reports: &BTreeMap<u64, f64>| {
            reports.range(..=epoch).map(|(_, v)| worst_if_nan(*v)).fold(f64::INFINITY, f64::min)
        };
        let own = best_until(&trials[&index]);
        let others: Vec<f64> = trials
            .iter()
            .filter(|(i, reports)| **i != index && reports.contains_key(&epoch))
            .map(|(_, reports)| best_until(reports))
            .collect();
        median_rule(rule, epoch, own, &others)
    }

    /// What trial `index` of `search` has reported: (epoch, objective), by epoch.
    pub fn reports(&self, search: &str, index: u32) -> Vec<(u64, f64)> {
        self.lock()
            .get(search)
            .and_then(|t| t.get(&index))
            .map(|r| r.iter().map(|(e, v)| (*e, *v)).collect())
            .unwrap_or_default()
    }
}

/// NaN counts as the worst objective.
fn worst_if_nan(v: f64) -> f64 {
    if v.is_nan() { f64::INFINITY } else { v }
}

/// The median stopping rule at `epoch`, for a trial whose best objective so far is `best`,
/// against the best-so-far objectives of the `others` that reported this epoch: stop when
/// `epoch >= grace`, at least `min_trials` others reported, and `best` is strictly greater
/// than their median. NaN counts as the worst value (a trial whose objective is NaN is worse
/// than any number; two NaNs tie).
pub fn median_rule(rule: StoppingRule, epoch: u64, best: f64, others: &[f64]) -> Verdict {
    if epoch < u64::from(rule.grace) || others.len() < rule.min_trials as usize || others.is_empty() {
        return Verdict::Continue;
    }
    let best = worst_if_nan(best);
    let mut sorted: Vec<f64> = others.iter().map(|v| worst_if_nan(*v)).collect();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    let median = if sorted.len() % 2 == 1 {
        sorted[mid]
    } else if sorted[mid - 1] == sorted[mid] {
        // Also keeps two infinite values from averaging to NaN.
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    };
    if best > median { Verdict::Stop { best, median, others: sorted.len() } } else { Verdict::Continue }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: StoppingRule = StoppingRule { grace: 2, min_trials: 2 };

    #[test]
    fn a_trial_worse_than_the_median_stops_and_a_better_one_goes_on() {
        assert_eq!(median_rule(RULE, 3, 0.9, &[0.5, 0.7, 0.6]), Verdict::Stop { best: 0.9, median: 0.6, others: 3 });
        assert_eq!(median_rule(RULE, 3, 0.55, &[0.5, 0.7, 0.6]), Verdict::Continue);
        // An even number of others: the mean of the middle two.
        assert_eq!(
            median_rule(RULE, 3, 0.7, &[0.5, 0.75, 0.625, 0.875]),
            Verdict::Stop { best: 0.7, median: 0.6875, others: 4 }
        );
    }

    #[test]
    fn a_tie_with_the_median_goes_on() {
        assert_eq!(median_rule(RULE, 3, 0.6, &[0.5, 0.6, 0.7]), Verdict::Continue);
        assert_eq!(median_rule(RULE, 3, 0.6, &[0.6, 0.6]), Verdict::Continue);
    }

    #[test]
    fn too_few_other_reports_or_an_epoch_within_the_grace_never_stop() {
        assert_eq!(median_rule(RULE, 3, 9.0, &[0.5]), Verdict::Continue, "one other, two needed");
        assert_eq!(median_rule(RULE, 1, 9.0, &[0.5, 0.6, 0.7]), Verdict::Continue, "epoch 1 is within a grace of 2");
        assert_eq!(median_rule(RULE, 2, 9.0, &[0.5, 0.75]), Verdict::Stop { best: 9.0, median: 0.625, others: 2 });
        // No other trial at all, even when none is required.
        let lax = StoppingRule { grace: 0, min_trials: 0 };
        assert_eq!(median_rule(lax, 5, 9.0, &[]), Verdict::Continue);
    }

    #[test]
    fn nan_is_the_worst_objective() {
        assert_eq!(
            median_rule(RULE, 3, f64::NAN, &[0.5, 0.6, 0.7]),
            Verdict::Stop { best: f64::INFINITY, median: 0.6, others: 3 }
        );
        // NaN among the others sorts last and cannot drag the median into NaN.
        assert_eq!(
            median_rule(RULE, 3, 0.65, &[0.5, f64::NAN, 0.6]),
            Verdict::Stop { best: 0.65, median: 0.6, others: 3 }
        );
        // Two NaN-ridden trials tie.
        assert_eq!(median_rule(RULE, 3, f64::NAN, &[f64::NAN, f64::NAN]), Verdict::Continue);
    }

    #[test]
    fn studies_compare_best_so_far_values_of_the_trials_that_reported_the_epoch() {
        let s = Studies::new();
        let rule = Some(StoppingRule { grace: 1, min_trials: 2 });
        // Trials 0 and 1 run ahead; trial 0's best at epoch 2 is its epoch 1 value.
        for (i, values) in [(0, [0.5, 0.625, 0.25]), (1, [0.75, 0.625, 0.5])] {
            for (e, v) in values.iter().enumerate() {
                assert_eq!(s.report("search", i, e as u64 + 1, *v, rule), Verdict::Continue, "trial {i}");
            }
        }
        // Another search's reports do not count.
        s.report("other", 7, 1, 0.0, None);
        // Trial 2 at epoch 1: the others' best are 0.5 and 0.75, median 0.625.
        assert_eq!(s.report("search", 2, 1, 0.5625, rule), Verdict::Continue);
        // At epoch 2 its best is still 0.5625; the others' best are 0.5 and 0.625, median
        // 0.5625: a tie goes on.
        assert_eq!(s.report("search", 2, 2, 0.625, rule), Verdict::Continue);
        // At epoch 3 the others' best are 0.25 and 0.5, median 0.375 < 0.5625.
        assert_eq!(s.report("search", 2, 3, 0.6, rule), Verdict::Stop { best: 0.5625, median: 0.375, others: 2 });
        assert_eq!(s.reports("search", 2), [(1, 0.5625), (2, 0.625), (3, 0.6)]);
        // A trial's new attempt starts over.
        s.begin("search", 2);
        assert_eq!(s.reports("search", 2), []);
        // Without a rule, a trial never stops, but its values are kept for the others.
        assert_eq!(s.report("search", 3, 3, 9.0, None), Verdict::Continue);
        assert_eq!(s.reports("search", 3), [(3, 9.0)]);
        // An epoch no other trial reported yet: too few to compare.
        assert_eq!(s.report("search", 4, 4, 9.0, rule), Verdict::Continue);
    }

    #[test]
    fn the_trial_property_is_plain_json() {
        let t = TrialRun {
            search: "search".into(),
            index: 3,
            of: 16,
            point: serde_json::json!({ "learning_rate": 0.001, "hidden": [64, 32] }),
            early_stopping: None,
            studies: Arc::new(Studies::new()),
        };
        assert_eq!(
            t.property(Some(4)),
            serde_json::json!({
                "search": "search",
                "index": 3,
                "point": { "learning_rate": 0.001, "hidden": [64, 32] },
                "stopped_at_epoch": 4,
            })
        );
        assert_eq!(t.property(None)["stopped_at_epoch"], serde_json::Value::Null);
    }
}
