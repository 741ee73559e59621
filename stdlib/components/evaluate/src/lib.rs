//! `evaluate` (std/tabular.mlp): a model's metrics on one split of transformed examples,
//! overall and per slice, with bootstrap confidence intervals, fairness gaps, feature
//! sensitivity, the same for a baseline model, and the blessing decision (TFX's Evaluator and
//! TFMA in one step).
//!
//! The rows of `split` whose label is not null are scored with the host's `model` kernel (the
//! forward pass batch inference and serving use), the candidate and the baseline on the same
//! rows. A classifier of two classes is binary: its second class is the positive one and its
//! probability the score; more classes are multiclass; a model without class probabilities is a
//! regressor. The metrics ([`metrics`], shared with `tune`):
//!
//! - binary: `count`, `auc`, `auc_pr` (average precision), `accuracy`, `precision`, `recall`,
//!   `f1`, `fpr`, `fnr` and `positive_rate` at the first of `thresholds` (a row is predicted
//!   positive when its score is above the threshold), `log_loss`, `brier`; the confusion counts
//!   at every threshold and a calibration table (10 equal-width bins: count, mean predicted,
//!   observed rate);
//! - multiclass: `count`, `accuracy`, `auc` (macro one-vs-rest), `log_loss`,
//!   `macro_precision`, `macro_recall`, `macro_f1`, `weighted_precision`, `weighted_recall`,
//!   `weighted_f1`, and the confusion matrix;
//! - regression: `count`, `rmse`, `mae`, `r2`.
//!
//! **Slices.** Each `slice_by` entry is a column (each value is a slice; a numeric column with
//! more than 16 distinct values is cut into `slice_buckets` quantile buckets, named by their
//! ranges: `trip_miles=[1.2, 3.4)`, the last one closed) or a cross `"a x b"` (each pair of
//! values that occurs: `payment_type=Cash x company=Flash`). Missing values are the slice
//! `column=null`. A slice of fewer than `min_slice_size` rows is listed with its count only.
//!
//! **Confidence intervals.** `bootstrap` resamples of each slice's rows (drawn with
//! replacement, seeded by `seed` and the slice's key, so the candidate and the baseline are
//! resampled alike); every metric is computed on each, and the interval is the pair of
//! percentiles `(1 − confidence) / 2` and `(1 + confidence) / 2` of the defined values.
//!
//! **Fairness** (binary): per slice, its false positive rate, false negative rate and positive
//! (predicted) rate at the first threshold, and each minus the overall rate.
//!
//! **Sensitivity.** Permutation importance: for each model input, its column of the
//! transformed features is shuffled (`permutations` times, seeded) and the main metric
//! recomputed; the importance is the mean drop of `auc` (classifiers; `log_loss`'s rise when
//! the AUC is undefined) or rise of `rmse` (regressors). Perturbation: each numeric input moved
//! by ±1% of its standard deviation (missing values left missing), each categorical input moved
//! to the next observed category (cyclically); the mean absolute change of the prediction (the
//! positive class's probability, a regressor's value, or for more classes half the summed
//! change of the class probabilities). Both are ranked, largest first.
//!
//! **Blessing.** `bless` is an `.mlp` expression over the metric names, `baseline.NAME` for the
//! baseline's, numbers and pipeline parameters (already substituted), with `and`, `or`, `not`,
//! comparisons, `+ - * /`, `abs`, `min` and `max` ([`policy`]). Every comparison is a check,
//! recorded with both sides' values. Change thresholds are written with these formulas:
//!
//! - absolute change: `auc - baseline.auc` (for example `auc - baseline.auc >= -0.01`);
//! - relative change: `(auc - baseline.auc) / abs(baseline.auc)` (for example
//!   `(log_loss - baseline.log_loss) / abs(baseline.log_loss) <= 0.05`).
//!
//! Without a baseline, a check that reads a `baseline.` metric is recorded as
//! `skipped (no baseline)` and holds, so only value thresholds decide. A check whose value is
//! undefined (the AUC of rows of one class, a division by zero) fails overall and is skipped on
//! a slice. With `bless_slices`, the policy must also hold on every slice of at least
//! `min_slice_size` rows. A name that is not a metric of the model's kind fails the step with
//! the list of names.
//!
//! **Outputs.** `evaluation` (Evaluation): `evaluation.json` (everything above, metrics keyed
//! by name), the table `slices` (one row per model, slice and metric: value, ci_low, ci_high,
//! count), the table `predictions` (row-aligned label, prediction and class probabilities of
//! the candidate) and `evaluation.html` (one self-contained page of charts, [`html`]), with
//! the overall metrics as properties. `blessing` (Blessing): `blessing.json` (the policy, every
//! check with its numbers) and the property `blessed` that `when STEP.blessing` reads, with the
//! overall metrics too.

mod analysis;
mod html;
mod policy;

use analysis::{Measured, Plan, Scores, Slice};
use mlp_sdk::*;
use mlp_std_common::metrics;
use mlp_std_common::read_f64s;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashSet};

struct Evaluate;

/// A numeric column with more distinct values than this is sliced into quantile buckets.
const MAX_DISTINCT: usize = 16;

/// Bins of the calibration table.
const CALIBRATION_BINS: usize = 10;

/// The step's parameters, checked.
struct Settings {
    label: String,
    split: String,
    slice_by: Vec<Vec<String>>,
    bless: policy::Expr,
    bless_slices: bool,
    thresholds: Vec<f64>,
    min_slice_size: usize,
    slice_buckets: usize,
    bootstrap: usize,
    confidence: f64,
    seed: u64,
    permutations: usize,
}

impl Settings {
    fn plan(&self) -> Plan {
        Plan {
            thresholds: self.thresholds.clone(),
            resamples: self.bootstrap,
            confidence: self.confidence,
            seed: self.seed,
        }
    }

    fn threshold(&self) -> f64 {
        self.thresholds[0]
    }
}

/// A `list<float>` parameter (ints accepted); `None` when it is not given.
fn floats(p: &Params, name: &str) -> Result<Option<Vec<f64>>, Error> {
    let Some(raw) = p.raw(name) else { return Ok(None) };
    let items = raw.get("value").and_then(Value::as_array).ok_or_else(|| {
        Error::invalid(format!("parameter `{name}` is not a list of numbers; write it as [0.5] or [0.3, 0.5, 0.7]"))
    })?;
    items
        .iter()
        .map(|i| {
            i.get("value").and_then(Value::as_f64).ok_or_else(|| {
                Error::invalid(format!("parameter `{name}` holds {i}, which is not a number; write numbers only"))
            })
        })
        .collect::<Result<Vec<f64>, Error>>()
        .map(Some)
}

/// An int parameter within `range`, with its default.
fn bounded(p: &Params, name: &str, default: i64, min: i64, max: i64, what: &str) -> Result<i64, Error> {
    let v = p.opt_int(name)?.unwrap_or(default);
    if v < min || v > max {
        return Err(Error::invalid(format!("`{name}` is {v}; {what}")));
    }
    Ok(v)
}

fn settings(p: &Params) -> Result<Settings, Error> {
    let label = p.string("label")?;
    let split = p.opt_string("split")?.unwrap_or_else(|| "eval".into());
    let mut slice_by = Vec::new();
    for entry in p.strings("slice_by")? {
        let columns: Vec<String> = entry.split(" x ").map(|c| c.trim().to_string()).collect();
        if columns.iter().any(String::is_empty) {
            return Err(Error::invalid(format!(
                "`slice_by` holds \"{entry}\", which names no column on one side; write a column name, or a cross as \"a x b\""
            )));
        }
        slice_by.push(columns);
    }
    let raw = p
        .raw("bless")
        .ok_or_else(|| Error::invalid("parameter `bless` has no value; give a policy such as `bless = auc >= 0.8`"))?;
    let bless = policy::parse(raw).map_err(Error::invalid)?;
    let thresholds = floats(p, "thresholds")?.unwrap_or_else(|| vec![0.5]);
    if thresholds.is_empty() {
        return Err(Error::invalid("`thresholds` is empty; give at least one decision threshold, such as [0.5]"));
    }
    if let Some(t) = thresholds.iter().find(|t| !(0.0..=1.0).contains(*t)) {
        return Err(Error::invalid(format!(
            "`thresholds` holds {t}; a threshold is a probability: use values between 0 and 1"
        )));
    }
    let confidence = p.opt_float("confidence")?.unwrap_or(0.95);
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(Error::invalid(format!(
            "`confidence` is {confidence}; use a level between 0 and 1 (excluded), such as 0.95"
        )));
    }
    Ok(Settings {
        label,
        split,
        slice_by,
        bless,
        bless_slices: p.opt_bool("bless_slices")?.unwrap_or(false),
        thresholds,
        min_slice_size: bounded(p, "min_slice_size", 30, 1, i64::MAX, "it must be at least 1")? as usize,
        slice_buckets: bounded(p, "slice_buckets", 4, 2, 1000, "use at least 2 buckets (at most 1000)")? as usize,
        bootstrap: bounded(
            p,
            "bootstrap",
            200,
            0,
            100_000,
            "use 0 (no confidence intervals) or a number of resamples such as 200 (at most 100000)",
        )? as usize,
        confidence,
        seed: p.opt_int("seed")?.unwrap_or(0) as u64,
        permutations: bounded(
            p,
            "permutations",
            3,
            0,
            1000,
            "use 0 (no permutation importance) or a few repeats such as 3 (at most 1000)",
        )? as usize,
    })
}

/// A column's values as text, read in chunks.
fn read_texts(t: &Table, column: &str) -> Result<Vec<Option<String>>, Error> {
    let rows = t.num_rows();
    let mut out = Vec::with_capacity(rows as usize);
    let mut offset = 0;
    while offset < rows {
        let len = (rows - offset).min(mlp_std_common::READ_CHUNK);
        out.extend(t.read_utf8(column, offset, len)?);
        offset += len;
    }
    Ok(out)
}

/// A model artifact, loaded.
struct Loaded {
    /// `the model` or `the baseline`, for messages.
    role: &'static str,
    model: Model,
    digest: String,
    kind: String,
    /// Its inputs: name, and whether it is categorical.
    inputs: Vec<(String, bool)>,
}

impl Loaded {
    fn input_names(&self) -> Vec<String> {
        self.inputs.iter().map(|(n, _)| n.clone()).collect()
    }
}

/// An error about `role`: its message prefixed.
fn about(role: &str, e: Error) -> Error {
    Error { message: format!("{role}: {}", e.message), ..e }
}

fn load(artifact: &Artifact, role: &'static str) -> Result<Loaded, Error> {
    let text = artifact.json("model.json").map_err(|e| about(role, e))?;
    let spec: Value =
        serde_json::from_str(&text).map_err(|e| Error::data(format!("{role}: model.json is not JSON: {e}")))?;
    let weights = artifact.blob("weights.safetensors").map_err(|e| about(role, e))?;
    let model = Model::load(&text, &weights).map_err(|e| about(role, e))?;
    let mut inputs: Vec<(String, bool)> = spec["inputs"]["numeric"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|n| (n.to_string(), false))
        .collect();
    inputs.extend(
        spec["inputs"]["categorical"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str())
            .map(|n| (n.to_string(), true)),
    );
    Ok(Loaded {
        role,
        model,
        digest: artifact.digest(),
        kind: spec["kind"].as_str().unwrap_or_default().to_string(),
        inputs,
    })
}

/// A model's predictions, copied into the guest.
struct Predicted {
    prediction: Vec<f64>,
    /// The class values of a classifier, in its order (empty for a regressor).
    classes: Vec<f64>,
    /// Per class, each row's probability.
    probs: Vec<Vec<f64>>,
}

fn predict(m: &Loaded, features: &Table) -> Result<Predicted, Error> {
    let table = m.model.predict(features).map_err(|e| about(m.role, e))?;
    let mut classes = Vec::new();
    let mut probs = Vec::new();
    for name in table.column_names() {
        if let Some(class) = name.strip_prefix("probability_") {
            let value: f64 = class.parse().map_err(|_| {
                Error::data(format!("{}: the predictions have a column `{name}` that names no class value", m.role))
            })?;
            classes.push(value);
            probs.push(read_f64s(&table, &name)?);
        }
    }
    Ok(Predicted { prediction: read_f64s(&table, "prediction")?, classes, probs })
}

/// The scores of `p` against the labels.
fn scores_of(label: &[f64], p: &Predicted, s: &Settings, role: &str) -> Result<Scores, Error> {
    if p.classes.is_empty() {
        return Ok(Scores::Regression { label: label.to_vec(), predicted: p.prediction.clone() });
    }
    // Classes are compared as the trainers compare them: as f32.
    let as_f32: Vec<f32> = p.classes.iter().map(|c| *c as f32).collect();
    let index = |y: f64, what: &str| -> Result<usize, Error> {
        as_f32.iter().position(|c| *c == y as f32).ok_or_else(|| {
            Error::data(format!(
                "{what} {y}, which is not one of {role}'s classes {:?}; evaluate a model on examples of the label it was trained on",
                p.classes
            ))
        })
    };
    let label_what = format!("the label `{}` takes the value", s.label);
    let truth: Vec<usize> = label.iter().map(|&y| index(y, &label_what)).collect::<Result<_, _>>()?;
    let predicted: Vec<usize> =
        p.prediction.iter().map(|&y| index(y, &format!("{role} predicts"))).collect::<Result<_, _>>()?;
    if p.classes.len() == 2 {
        return Ok(Scores::Binary {
            positive: truth.iter().map(|&t| t == 1).collect(),
            score: p.probs[1].clone(),
            p_true: truth.iter().enumerate().map(|(r, &t)| p.probs[t][r]).collect(),
        });
    }
    Ok(Scores::Multiclass { truth, predicted, probs: p.probs.clone() })
}

/// The table `features` with the column `column` replaced by the one-column table `replacement`.
fn replaced(features: &Table, inputs: &[String], column: &str, replacement: &Table) -> Result<Table, Error> {
    let others: Vec<String> = inputs.iter().filter(|c| *c != column).cloned().collect();
    if others.is_empty() {
        return replacement.select(&[column.to_string()]);
    }
    features.select(&others)?.append_columns(replacement)
}

/// The slices of the evaluated rows, one `slice_by` entry after the other; a key met twice is
/// kept once.
fn slices(data: &Table, s: &Settings) -> Result<Vec<Slice>, Error> {
    let schema = data.schema();
    let mut groupings: BTreeMap<String, analysis::Grouping> = BTreeMap::new();
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for entry in &s.slice_by {
        for column in entry {
            if groupings.contains_key(column) {
                continue;
            }
            let Some(field) = schema.iter().find(|f| f.name == *column) else {
                let names: Vec<&str> = schema.iter().map(|f| f.name.as_str()).collect();
                return Err(Error::invalid(format!(
                    "`slice_by` names `{column}`, which is not a column of the examples (columns: {}); slice by a feature, the label, or a raw column the transform keeps (its `passthrough` parameter)",
                    names.join(", ")
                )));
            };
            let g = match field.data_type {
                DataType::Int64 | DataType::Float32 | DataType::Float64 => {
                    analysis::group_numeric(column, &read_f64s(data, column)?, MAX_DISTINCT, s.slice_buckets)
                }
                _ => analysis::group_text(column, &read_texts(data, column)?),
            };
            groupings.insert(column.clone(), g);
        }
        let mut g = groupings[&entry[0]].clone();
        for column in &entry[1..] {
            g = analysis::cross(&g, &groupings[column]);
        }
        for slice in g.slices() {
            if seen.insert(slice.key.clone()) {
                out.push(slice);
            }
        }
    }
    Ok(out)
}

/// One model measured overall and on every slice large enough.
struct Report {
    overall: Measured,
    slices: Vec<Option<Measured>>,
}

fn report(scores: &Scores, slices: &[Slice], s: &Settings) -> Report {
    let plan = s.plan();
    let overall = analysis::measure(scores, &plan, "overall");
    let slices = slices
        .iter()
        .map(|slice| {
            (slice.rows.len() >= s.min_slice_size)
                .then(|| analysis::measure(&scores.subset(&slice.rows), &plan, &slice.key))
        })
        .collect();
    Report { overall, slices }
}

/// A report as JSON: `overall` and `slices`.
fn report_json(r: &Report, slices: &[Slice], s: &Settings) -> (Value, Vec<Value>) {
    let note = format!("fewer than {} rows (`min_slice_size`): count only", s.min_slice_size);
    let overall = analysis::measured_json("overall", &[], r.overall.count, Some(&r.overall), "");
    let list = slices
        .iter()
        .zip(&r.slices)
        .map(|(slice, m)| analysis::measured_json(&slice.key, &slice.values, slice.rows.len(), m.as_ref(), &note))
        .collect();
    (overall, list)
}

/// The calibration table as JSON (binary classifiers).
fn calibration_json(scores: &Scores) -> Value {
    match scores {
        Scores::Binary { positive, score, .. } => Value::Array(
            metrics::calibration(positive, score, CALIBRATION_BINS)
                .iter()
                .map(|b| {
                    json!({
                        "lo": b.lo,
                        "hi": b.hi,
                        "count": b.count,
                        "mean_predicted": b.mean_predicted,
                        "observed_rate": b.observed_rate,
                    })
                })
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// The model's main metric for sensitivity, and whether larger is better: `auc` (or
/// `log_loss` when the AUC is undefined) for classifiers, `rmse` for regressors.
fn main_metric(scores: &Scores, threshold: f64) -> (&'static str, bool) {
    match scores {
        Scores::Regression { .. } => ("rmse", false),
        _ if analysis::Prepared::new(scores, threshold).metric("auc").is_finite() => ("auc", true),
        _ => ("log_loss", false),
    }
}

/// Indices of `values` by decreasing value, NaN last, ties in input order.
fn by_decreasing(values: &[f64]) -> Vec<usize> {
    metrics::ranking(values, true)
}

/// Permutation importance and perturbation sensitivity of every model input.
fn sensitivity(
    ctx: &Invocation,
    m: &Loaded,
    features: &Table,
    label: &[f64],
    scores: &Scores,
    s: &Settings,
) -> Result<Value, Error> {
    let n = scores.len();
    let names = m.input_names();
    let t0 = s.threshold();
    let (metric, larger) = main_metric(scores, t0);
    let base = analysis::Prepared::new(scores, t0).metric(metric);
    let steps = (m.inputs.len() * (s.permutations + 2)).max(1);
    let mut done = 0;
    let mut tick = |what: &str| {
        done += 1;
        ctx.progress(0.6 + 0.35 * done as f32 / steps as f32, what);
    };

    let mut permutation = Vec::new();
    if s.permutations > 0 {
        for (f, _) in &m.inputs {
            let mut values = Vec::with_capacity(s.permutations);
            for r in 0..s.permutations {
                let order = analysis::Rng::new(s.seed, &format!("permute {f} {r}")).permutation(n);
                let shuffled = features.select(std::slice::from_ref(f))?.take(&order)?;
                let p = predict(m, &replaced(features, &names, f, &shuffled)?)?;
                let v = analysis::Prepared::new(&scores_of(label, &p, s, m.role)?, t0).metric(metric);
                values.push(if larger { base - v } else { v - base });
                tick(f);
            }
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            let std = if values.len() > 1 {
                (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (values.len() - 1) as f64).sqrt()
            } else {
                0.0
            };
            permutation.push((f.clone(), mean, std, values));
        }
    }
    let order = by_decreasing(&permutation.iter().map(|p| p.1).collect::<Vec<_>>());
    let permutation: Vec<Value> = order
        .iter()
        .enumerate()
        .map(|(rank, &i)| {
            let (f, mean, std, values) = &permutation[i];
            json!({
                "rank": rank + 1,
                "feature": f,
                "importance": analysis::number(*mean),
                "std": analysis::number(*std),
                "values": values.iter().map(|v| analysis::number(*v)).collect::<Vec<_>>(),
            })
        })
        .collect();

    let mut perturbation = Vec::new();
    for (f, categorical) in &m.inputs {
        let x = read_f64s(features, f)?;
        let mut change = 0.0;
        let mut entry = json!({ "feature": f, "kind": if *categorical { "categorical" } else { "numeric" } });
        let mut moved: Vec<Table> = Vec::new();
        if *categorical {
            let mut observed: Vec<f64> = x.iter().copied().filter(|v| !v.is_nan()).collect();
            observed.sort_by(f64::total_cmp);
            observed.dedup();
            if observed.len() < 2 {
                entry["note"] = json!("one observed value: nothing to move to");
            } else {
                let next = |v: f64| {
                    let i = observed.partition_point(|o| *o <= v);
                    observed[i % observed.len()] as i64
                };
                let values = x.iter().map(|&v| (!v.is_nan()).then(|| next(v))).collect();
                moved.push(Table::from_values(&[Column { name: f.clone(), values: ColumnValues::Int64(values) }])?);
            }
        } else {
            let std = features.column_stats(f)?.std_dev.unwrap_or(0.0);
            if std > 0.0 && std.is_finite() {
                let step = 0.01 * std;
                entry["step"] = json!(step);
                for sign in [1.0, -1.0] {
                    let values = x.iter().map(|&v| (!v.is_nan()).then_some(v + sign * step)).collect();
                    moved.push(Table::from_values(&[Column {
                        name: f.clone(),
                        values: ColumnValues::Float64(values),
                    }])?);
                }
            } else {
                entry["note"] = json!("constant on these rows: nothing to perturb");
            }
        }
        for t in &moved {
            let p = predict(m, &replaced(features, &names, f, t)?)?;
            change += analysis::prediction_change(scores, &scores_of(label, &p, s, m.role)?);
        }
        if !moved.is_empty() {
            change /= moved.len() as f64;
        }
        entry["mean_abs_change"] = analysis::number(change);
        perturbation.push((change, entry));
        tick(f);
        tick(f);
    }
    let order = by_decreasing(&perturbation.iter().map(|p| p.0).collect::<Vec<_>>());
    let perturbation: Vec<Value> = order
        .iter()
        .enumerate()
        .map(|(rank, &i)| {
            let mut e = perturbation[i].1.clone();
            e["rank"] = json!(rank + 1);
            e
        })
        .collect();
    Ok(json!({
        "metric": metric,
        "value": analysis::number(base),
        "permutations": s.permutations,
        "permutation": permutation,
        "perturbation": perturbation,
    }))
}

/// A check as JSON.
fn check_json(c: &policy::Check) -> Value {
    json!({
        "check": c.text,
        "op": c.op,
        "left": c.left.map(analysis::number),
        "right": c.right.map(analysis::number),
        "status": c.status_text(),
        "holds": c.holds,
    })
}

/// A measured model's metric by name: `None` when it is not one of its metrics.
fn lookup<'a>(m: &'a Measured) -> impl Fn(&str) -> Option<f64> + 'a {
    move |name| m.metrics.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// The task in words, for messages.
fn task_words(task: &str) -> &'static str {
    match task {
        "binary" => "a binary classifier",
        "multiclass" => "a multiclass classifier",
        _ => "a regressor",
    }
}

/// Checks that the policy reads only metrics of the model's kind (before any is computed).
fn check_names(s: &Settings, scores: &Scores) -> Result<(), Error> {
    let known = scores.names();
    let (own, of_baseline) = policy::names(&s.bless);
    let mut unknown: Vec<String> = own.iter().filter(|n| !known.contains(&n.as_str())).cloned().collect();
    unknown.extend(of_baseline.iter().filter(|n| !known.contains(&n.as_str())).map(|n| format!("baseline.{n}")));
    if unknown.is_empty() {
        return Ok(());
    }
    let which = unknown.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
    Err(Error::invalid(format!(
        "`bless` reads {which}, which evaluate does not compute for {}; its metrics are: {} (and `baseline.NAME` for each)",
        task_words(scores.task()),
        known.join(", ")
    )))
}

/// The policy's verdict overall and on every slice asked for, as the blessing document, with
/// the log lines of the checks.
fn bless(
    s: &Settings,
    candidate: &Report,
    baseline: Option<&Report>,
    slices: &[Slice],
) -> Result<(bool, Value, Vec<String>), Error> {
    let mut lines = Vec::new();
    let mut failed = Vec::new();
    let evaluate = |own: &Measured, base: Option<&Measured>, undefined_holds: bool| {
        let metric = lookup(own);
        let base_lookup = base.map(lookup);
        let env = policy::Env {
            metric: &metric,
            baseline: base_lookup.as_ref().map(|f| f as policy::Lookup<'_>),
            undefined_holds,
        };
        policy::evaluate(&s.bless, &env).map_err(Error::invalid)
    };
    let overall = evaluate(&candidate.overall, baseline.map(|b| &b.overall), false)?;
    for c in &overall.checks {
        lines.push(format!("check {}", c.describe()));
        if !c.holds {
            failed.push(format!("overall: {}", c.describe()));
        }
    }
    let mut blessed = overall.holds;
    let mut slice_results = Vec::new();
    if s.bless_slices {
        for (i, slice) in slices.iter().enumerate() {
            let Some(m) = &candidate.slices[i] else { continue };
            let b = baseline.and_then(|b| b.slices[i].as_ref());
            let o = evaluate(m, b, true)?;
            for c in o.checks.iter().filter(|c| !c.holds) {
                failed.push(format!("{}: {}", slice.key, c.describe()));
            }
            blessed &= o.holds;
            slice_results.push(json!({
                "slice": slice.key,
                "count": m.count,
                "holds": o.holds,
                "checks": o.checks.iter().map(check_json).collect::<Vec<_>>(),
            }));
        }
    }
    if s.bless_slices {
        let holding = slice_results.iter().filter(|r| r["holds"] == true).count();
        lines.push(format!(
            "the policy holds on {holding} of {} slices of at least {} rows",
            slice_results.len(),
            s.min_slice_size
        ));
    }
    let doc = json!({
        "format": "mlp.blessing",
        "version": 1,
        "blessed": blessed,
        "policy": policy::text(&s.bless),
        "bless_slices": s.bless_slices,
        "min_slice_size": s.min_slice_size,
        "overall": {
            "holds": overall.holds,
            "checks": overall.checks.iter().map(check_json).collect::<Vec<_>>(),
        },
        "slices": slice_results,
        "failed": failed,
    });
    Ok((blessed, doc, lines))
}

/// The `slices` table: one row per model, slice and metric.
fn slices_table(reports: &[(&str, &Report)], slices: &[Slice]) -> Result<Table, Error> {
    let (mut model, mut slice, mut metric, mut value, mut low, mut high, mut count) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let finite = |v: f64| Some(v).filter(|v| v.is_finite());
    for (role, r) in reports {
        let rows = std::iter::once(("overall", r.overall.count, Some(&r.overall)))
            .chain(slices.iter().zip(&r.slices).map(|(s, m)| (s.key.as_str(), s.rows.len(), m.as_ref())));
        for (key, n, m) in rows {
            let mut push = |name: &str, v: f64, ci: Option<(f64, f64)>| {
                model.push(Some(role.to_string()));
                slice.push(Some(key.to_string()));
                metric.push(Some(name.to_string()));
                value.push(finite(v));
                low.push(ci.and_then(|c| finite(c.0)));
                high.push(ci.and_then(|c| finite(c.1)));
                count.push(Some(n as i64));
            };
            match m {
                None => push("count", n as f64, None),
                Some(m) => {
                    for (name, v) in &m.metrics {
                        let ci = m.ci.iter().find(|c| c.0 == *name).map(|c| (c.1, c.2));
                        push(name, *v, ci);
                    }
                }
            }
        }
    }
    Table::from_values(&[
        Column { name: "model".into(), values: ColumnValues::Utf8(model) },
        Column { name: "slice".into(), values: ColumnValues::Utf8(slice) },
        Column { name: "metric".into(), values: ColumnValues::Utf8(metric) },
        Column { name: "value".into(), values: ColumnValues::Float64(value) },
        Column { name: "ci_low".into(), values: ColumnValues::Float64(low) },
        Column { name: "ci_high".into(), values: ColumnValues::Float64(high) },
        Column { name: "count".into(), values: ColumnValues::Int64(count) },
    ])
}

/// The `predictions` table: the label, the prediction and each class's probability, row by row.
fn predictions_table(label: &[f64], p: &Predicted) -> Result<Table, Error> {
    let mut columns =
        vec![f64_column("label", label.iter().copied()), f64_column("prediction", p.prediction.iter().copied())];
    for (c, probs) in p.classes.iter().zip(&p.probs) {
        columns.push(f64_column(&format!("probability_{c}"), probs.iter().copied()));
    }
    Table::from_values(&columns)
}

impl Plugin for Evaluate {
    fn describe() -> ComponentInfo {
        info("evaluate", env!("CARGO_PKG_VERSION"))
            .doc("Computes a model's metrics overall and per slice, compares them with a baseline, and decides whether to bless it.")
            .input("model", "Model")
            .input("examples", "Examples")
            .optional_input("baseline", "Model")
            .param("label", "string")
            .param_default("split", "string", r#"{"type": "string", "value": "eval"}"#)
            .param_default("slice_by", "list<string>", r#"{"type": "list", "value": []}"#)
            .param("bless", "expr")
            .param_default("bless_slices", "bool", r#"{"type": "bool", "value": false}"#)
            .param_default("thresholds", "list<float>", r#"{"type": "list", "value": [{"type": "float", "value": 0.5}]}"#)
            .param_default("min_slice_size", "int", r#"{"type": "int", "value": 30}"#)
            .param_default("slice_buckets", "int", r#"{"type": "int", "value": 4}"#)
            .param_default("bootstrap", "int", r#"{"type": "int", "value": 200}"#)
            .param_default("confidence", "float", r#"{"type": "float", "value": 0.95}"#)
            .param_default("permutations", "int", r#"{"type": "int", "value": 3}"#)
            .param_default("seed", "int", r#"{"type": "int", "value": 0}"#)
            .output("evaluation", "Evaluation")
            .output("blessing", "Blessing")
            .build()
    }

    fn run(ctx: &Invocation) -> Result<(), Error> {
        let s = settings(&ctx.params()?)?;
        let examples = ctx.require_input("examples")?;
        let parts = examples.parts();
        if !parts.contains(&s.split) {
            return Err(Error::invalid(format!(
                "`split` is \"{}\", but the examples have no such split (splits: {}); set `split` to one of them",
                s.split,
                parts.join(", ")
            )));
        }
        let table = examples.table(&s.split)?;
        let columns = table.column_names();
        if !columns.contains(&s.label) {
            return Err(Error::invalid(format!(
                "`label` is `{}`, but the `{}` split has no such column (columns: {}); name the label the model was trained on",
                s.label,
                s.split,
                columns.join(", ")
            )));
        }
        let data = table.filter(&format!("not is_null({})", s.label))?;
        let n = data.num_rows() as usize;
        let unlabeled = table.num_rows() as usize - n;
        if n == 0 {
            return Err(Error::data(format!(
                "the `{}` split has no row with a label `{}`: there is nothing to evaluate",
                s.split, s.label
            )));
        }
        let label = read_f64s(&data, &s.label).map_err(|e| {
            Error::invalid(format!(
                "the label `{}` cannot be read as numbers ({}); evaluate takes numeric or boolean labels",
                s.label, e.message
            ))
        })?;

        let candidate = load(&ctx.require_input("model")?, "the model")?;
        let baseline = match ctx.input("baseline") {
            Some(a) => Some(load(&a, "the baseline")?),
            None => None,
        };
        for m in std::iter::once(&candidate).chain(&baseline) {
            if m.model.label() != s.label {
                return Err(Error::invalid(format!(
                    "{} predicts `{}`, but `label` is `{}`; evaluate models of the same label",
                    m.role,
                    m.model.label(),
                    s.label
                )));
            }
            if let Some((f, _)) = m.inputs.iter().find(|(f, _)| !columns.contains(f)) {
                return Err(Error::invalid(format!(
                    "{} reads the feature `{f}`, which the examples lack (columns: {}); pass the transformed examples (the `out` of the transform the model was trained on)",
                    m.role,
                    columns.join(", ")
                )));
            }
        }
        ctx.progress(0.05, "predict");
        let features = data.select(&candidate.input_names())?;
        let predicted = predict(&candidate, &features)?;
        let scores = scores_of(&label, &predicted, &s, "the model")?;
        check_names(&s, &scores)?;
        let base_scores = match &baseline {
            Some(b) => {
                let p = predict(b, &data.select(&b.input_names())?)?;
                let sc = scores_of(&label, &p, &s, "the baseline")?;
                if sc.task() != scores.task() {
                    return Err(Error::invalid(format!(
                        "the baseline is {} but the model is {}; compare models of the same kind",
                        task_words(sc.task()),
                        task_words(scores.task())
                    )));
                }
                Some(sc)
            }
            None => None,
        };
        let transform_matches =
            baseline.as_ref().map(|b| b.model.transform_digest() == candidate.model.transform_digest());
        if transform_matches == Some(false) {
            ctx.warn(
                "the baseline was trained on another transform than the model; it is scored on the model's transformed features, which may not mean the same to it",
            );
        }

        ctx.progress(0.15, "slices");
        let slices = slices(&data, &s)?;
        let small = slices.iter().filter(|sl| sl.rows.len() < s.min_slice_size).count();
        ctx.progress(0.2, "metrics");
        let cand_report = report(&scores, &slices, &s);
        ctx.progress(0.4, "baseline metrics");
        let base_report = base_scores.as_ref().map(|b| report(b, &slices, &s));
        ctx.progress(0.6, "sensitivity");
        let sensitivity = sensitivity(ctx, &candidate, &features, &label, &scores, &s)?;
        let (blessed, mut blessing_doc, check_lines) = bless(&s, &cand_report, base_report.as_ref(), &slices)?;
        blessing_doc["model"] = json!(candidate.digest);
        blessing_doc["baseline"] = json!(baseline.as_ref().map(|b| &b.digest));

        // evaluation.json
        let (overall, slice_list) = report_json(&cand_report, &slices, &s);
        let fairness = match &scores {
            Scores::Binary { .. } => {
                let at = cand_report.overall.thresholds[0].1;
                let list: Vec<Value> = slices
                    .iter()
                    .zip(&cand_report.slices)
                    .filter_map(|(sl, m)| {
                        let m = m.as_ref()?;
                        Some(analysis::fairness_json(&sl.key, m.count, &m.thresholds[0].1, &at))
                    })
                    .collect();
                json!({
                    "threshold": s.threshold(),
                    "overall": {
                        "fpr": analysis::number(at.fpr()),
                        "fnr": analysis::number(at.fnr()),
                        "positive_rate": analysis::number(at.positive_rate()),
                    },
                    "slices": list,
                })
            }
            _ => Value::Null,
        };
        let baseline_json = match (&baseline, &base_report, &base_scores) {
            (Some(b), Some(r), Some(sc)) => {
                let (o, l) = report_json(r, &slices, &s);
                json!({
                    "digest": b.digest,
                    "kind": b.kind,
                    "transform_matches": transform_matches,
                    "overall": o,
                    "slices": l,
                    "calibration": calibration_json(sc),
                })
            }
            _ => Value::Null,
        };
        let mut doc = json!({
            "format": "mlp.evaluation",
            "version": 1,
            "task": scores.task(),
            "label": s.label,
            "split": s.split,
            "rows": n,
            "unlabeled_rows": unlabeled,
            "classes": predicted.classes,
            "thresholds": s.thresholds,
            "metric_names": scores.names(),
            "model": { "digest": candidate.digest, "kind": candidate.kind },
            "settings": {
                "slice_by": s.slice_by.iter().map(|e| e.join(" x ")).collect::<Vec<_>>(),
                "min_slice_size": s.min_slice_size,
                "slice_buckets": s.slice_buckets,
                "bootstrap": s.bootstrap,
                "confidence": s.confidence,
                "seed": s.seed,
                "permutations": s.permutations,
            },
            "overall": overall,
            "slices": slice_list,
            "calibration": calibration_json(&scores),
            "fairness": fairness,
            "sensitivity": sensitivity,
            "baseline": baseline_json,
            "blessing": blessing_doc,
        });
        if let Scores::Binary { .. } = &scores {
            doc["positive_class"] = json!(predicted.classes[1]);
        }
        if let Scores::Multiclass { truth, predicted: p, probs } = &scores {
            let m = metrics::confusion_matrix(truth, p, probs.len(), None);
            doc["confusion_matrix"] = json!({ "classes": predicted.classes, "counts": m });
        }

        let out = ctx.output("evaluation")?;
        mlp_std_common::put_json(&out, "evaluation.json", &doc)?;
        let mut reports = vec![("candidate", &cand_report)];
        if let Some(r) = &base_report {
            reports.push(("baseline", r));
        }
        out.put_table("slices", &slices_table(&reports, &slices)?)?;
        out.put_table("predictions", &predictions_table(&label, &predicted)?)?;
        out.put_blob("evaluation.html", &Blob::from_bytes(html::render(&doc).as_bytes()))?;
        let b = ctx.output("blessing")?;
        mlp_std_common::put_json(&b, "blessing.json", &doc["blessing"])?;
        let mut properties: Map<String, Value> = Map::new();
        for (name, v) in &cand_report.overall.metrics {
            properties.insert(name.to_string(), if *name == "count" { json!(n) } else { analysis::number(*v) });
        }
        for (name, v) in &properties {
            out.set_property(name, &v.to_string())?;
            b.set_property(name, &v.to_string())?;
        }
        out.set_property("task", &json!(scores.task()).to_string())?;
        out.set_property("blessed", &json!(blessed).to_string())?;
        b.set_property("blessed", &json!(blessed).to_string())?;
        b.set_property("model", &json!(candidate.digest).to_string())?;
        ctx.progress(1.0, "done");

        let summary: Vec<String> = cand_report
            .overall
            .metrics
            .iter()
            .filter(|(name, _)| *name != "count")
            .map(|(name, v)| format!("{name} {}", html::fmt(Some(*v))))
            .collect();
        ctx.info(&format!(
            "{n} rows of `{}` ({} left out without a label), {}: {}",
            s.split,
            unlabeled,
            task_words(scores.task()),
            summary.join(", ")
        ));
        if !slices.is_empty() {
            ctx.info(&format!(
                "{} slices, {small} of them under {} rows (counts only)",
                slices.len(),
                s.min_slice_size
            ));
        }
        for line in check_lines {
            ctx.info(&line);
        }
        if blessed {
            ctx.info(&format!("blessed: {}", policy::text(&s.bless)));
        } else {
            let failed: Vec<&str> =
                doc["blessing"]["failed"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            ctx.info(&format!("not blessed: {}", failed.join("; ")));
        }
        Ok(())
    }
}

export!(Evaluate);
