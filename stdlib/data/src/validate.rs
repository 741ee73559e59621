//! Validation of statistics against a schema, with drift (against the previous span) and skew
//! (against serving data): the logic of the `validate` component, producing the Anomalies
//! artifact.
//!
//! # What is checked
//!
//! Each checked split (every whole split of the statistics, or the one `split` names; slices
//! are not checked) against the schema:
//!
//! | code | when | severity |
//! |---|---|---|
//! | `DATASET_LOW_NUM_EXAMPLES` | the split has no rows (presence is then not checked) | error |
//! | `SCHEMA_MISSING_COLUMN` | a schema feature expected in the environment is not in the data | error |
//! | `SCHEMA_NEW_COLUMN` | a column of the data is not in the schema | warning |
//! | `UNEXPECTED_DATA_TYPE` | the data's type differs from the schema's (int data for a float feature is fine; not checked when the column has no values) | error |
//! | `FEATURE_TYPE_LOW_FRACTION_PRESENT` | `count / (count + missing)` below `presence.min_fraction` | error |
//! | `FEATURE_TYPE_LOW_NUMBER_PRESENT` | `count` below `presence.min_count` | error |
//! | `ENUM_TYPE_UNEXPECTED_STRING_VALUES` | values outside a `strings` domain | error |
//! | `INT_TYPE_SMALL_INT`, `INT_TYPE_BIG_INT` | the observed min or max outside an `int` domain | error |
//! | `FLOAT_TYPE_SMALL_FLOAT`, `FLOAT_TYPE_BIG_FLOAT` | the observed min or max outside a `float` domain | error |
//! | `FLOAT_TYPE_HAS_NAN` | NaN values where the `float` domain does not allow them | error |
//! | `SCHEMA_TRAINING_SERVING_SKEW` | a feature the schema excludes from the environment has values | warning |
//! | `COMPARATOR_*_HIGH` | a drift or skew distance above its threshold | error |
//!
//! Two are warnings, because neither can break a step that reads the data through the schema:
//! a new column is ignored by everything downstream until the schema names it (and adding
//! columns is the usual way a source evolves), and a feature present where the schema does not
//! expect it (the label in serving requests) is read by nothing there. Both are still worth
//! knowing, so they are reported. Everything else is an error: it breaks an assumption a later
//! step relies on, or (drift, skew) it crosses a threshold the user set on purpose.
//!
//! With a type mismatch, the domain of the feature is not checked (its figures mean something
//! else). Where a string column has more distinct values than its `top` lists, only the listed
//! values can be named; when `distinct` is exact, the anomaly also counts how many of the
//! unlisted values must be outside the domain (at least `distinct - |top| - unseen domain
//! values`), and reports an anomaly even when none of the listed values is outside.
//!
//! # Environments
//!
//! A schema feature is expected unless its `not_in_environment` holds the environment. The
//! environment is `ValidateOptions::environment`, or else the schema's first default
//! environment (conventionally `TRAINING`), or else none (every feature is expected).
//!
//! # Drift and skew
//!
//! For each `(feature, threshold)` of `drift`, the feature's statistics in split `drift_split`
//! of `previous` and of the checked statistics are compared with its measure (an entry of
//! `measures`, else [`default_measure`] of its kind in the checked statistics); the
//! [`Distance`] goes into `Anomalies::drift`, and a distance strictly above the threshold also
//! gives a `COMPARATOR_*_HIGH` anomaly (on split `drift_split`). Skew is the same with `skew`,
//! split `skew_split` of the checked statistics against `serving` (its split named `serving`
//! if it has one, else its first split), into `Anomalies::skew`. Without `previous` (or
//! `serving`), drift (or skew) is not checked and nothing is said about it: that is the first
//! run of a pipeline.
//!
//! # Configuration warnings
//!
//! A threshold that cannot be evaluated (the feature is in neither statistics nor the schema,
//! is missing on one side, or its measure does not apply to it), a `split` or comparison split
//! that does not exist, an environment the schema does not name, or a measure given for a
//! feature without any threshold is a mistake in the step's configuration, not in the data. It
//! goes into `Anomalies::warnings` (with a "did you mean" when a name is close), never into
//! `anomalies`: it must not fail a step that stops on anomalies, nor be mistaken for one, but
//! it must not pass silently either (a misspelt drift threshold would otherwise disable the
//! check unseen).
//!
//! # Order
//!
//! Anomalies come split by split (in the statistics' order); within a split, the dataset-level
//! anomaly, then the schema's features in schema order, then new columns in data order. Drift
//! anomalies follow, then skew anomalies, each in the order of the thresholds given.

use crate::FORMAT;
use crate::anomalies::{Anomalies, Anomaly, AnomalyCode, Distance, Measure, Severity};
use crate::distance::{default_measure, measure};
use crate::schema::{Domain, FeatureSchema, Schema};
use crate::stats::{DatasetStats, FeatureKind, FeatureStats, Statistics};
use crate::util::{count, num, pct, quote, ratio, suggest};
use std::collections::BTreeSet;

/// Options of [`validate`].
#[derive(Clone, Debug, PartialEq)]
pub struct ValidateOptions<'a> {
    /// The environment of the data (`TRAINING`, `SERVING`); see the module documentation.
    pub environment: Option<String>,
    /// Statistics of the previous span: drift is checked against them.
    pub previous: Option<&'a Statistics>,
    /// Statistics of serving data: skew is checked against them.
    pub serving: Option<&'a Statistics>,
    /// Drift thresholds by feature.
    pub drift: Vec<(String, f64)>,
    /// Skew thresholds by feature.
    pub skew: Vec<(String, f64)>,
    /// Measures by feature, replacing [`default_measure`] for drift and skew.
    pub measures: Vec<(String, Measure)>,
    /// The split to check against the schema; `None` checks every split.
    pub split: Option<String>,
    /// The split compared for drift, in both statistics. Default `train`.
    pub drift_split: String,
    /// The split of the checked statistics compared with serving data. Default `train`.
    pub skew_split: String,
}

impl Default for ValidateOptions<'_> {
    fn default() -> Self {
        ValidateOptions {
            environment: None,
            previous: None,
            serving: None,
            drift: Vec::new(),
            skew: Vec::new(),
            measures: Vec::new(),
            split: None,
            drift_split: "train".into(),
            skew_split: "train".into(),
        }
    }
}

/// Checks `stats` against `schema`, and for drift and skew against the statistics in
/// `options` (see the module documentation).
pub fn validate(stats: &Statistics, schema: &Schema, options: &ValidateOptions<'_>) -> Anomalies {
    let mut out = Anomalies {
        format: FORMAT,
        splits: Vec::new(),
        anomalies: Vec::new(),
        drift: Vec::new(),
        skew: Vec::new(),
        warnings: Vec::new(),
    };
    let env = options.environment.as_deref().or(schema.default_environments.first().map(String::as_str));
    if let Some(e) = &options.environment {
        check_environment(e, schema, &mut out.warnings);
    }

    let splits: Vec<&str> = match &options.split {
        None => stats.splits(),
        Some(s) if stats.split(s).is_some() => vec![s.as_str()],
        Some(s) => {
            out.warnings
                .push(format!("split `{s}` is not in the statistics ({}); nothing was checked", list(&stats.splits())));
            Vec::new()
        }
    };
    for split in &splits {
        if let Some(ds) = stats.split(split) {
            check_split(ds, schema, env, &mut out.anomalies);
        }
    }
    out.splits = splits.iter().map(|s| s.to_string()).collect();

    if let Some(previous) = options.previous
        && !options.drift.is_empty()
    {
        let split = &options.drift_split;
        match (stats.split(split), previous.split(split)) {
            (Some(current), Some(before)) => {
                let c = Comparison {
                    what: "drift",
                    split,
                    reference: before,
                    reference_name: "the previous span",
                    current,
                    current_name: "this span",
                };
                out.drift = compare(&c, &options.drift, schema, options, &mut out.anomalies, &mut out.warnings);
            }
            (None, _) => out.warnings.push(format!(
                "drift is not checked: the statistics have no split `{split}` ({})",
                list(&stats.splits())
            )),
            (_, None) => out.warnings.push(format!(
                "drift is not checked: the previous statistics have no split `{split}` ({})",
                list(&previous.splits())
            )),
        }
    }

    if let Some(serving) = options.serving
        && !options.skew.is_empty()
    {
        let split = &options.skew_split;
        let serving_ds = serving.split("serving").or_else(|| serving.splits().first().and_then(|s| serving.split(s)));
        match (stats.split(split), serving_ds) {
            (Some(training), Some(serving_ds)) => {
                let c = Comparison {
                    what: "skew",
                    split,
                    reference: training,
                    reference_name: "training data",
                    current: serving_ds,
                    current_name: "serving data",
                };
                out.skew = compare(&c, &options.skew, schema, options, &mut out.anomalies, &mut out.warnings);
            }
            (None, _) => out.warnings.push(format!(
                "skew is not checked: the statistics have no split `{split}` ({})",
                list(&stats.splits())
            )),
            (_, None) => out.warnings.push("skew is not checked: the serving statistics have no split".into()),
        }
    }

    for (name, m) in &options.measures {
        let used = options.drift.iter().chain(&options.skew).any(|(f, _)| f == name);
        if !used {
            out.warnings.push(format!(
                "a measure ({}) is set for `{name}`, which has no drift or skew threshold; it is not used",
                m.name()
            ));
        }
    }
    out
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "it has none".into()
    } else {
        format!("it has {}", names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "))
    }
}

fn check_environment(env: &str, schema: &Schema, warnings: &mut Vec<String>) {
    let mut known: Vec<&str> = schema.default_environments.iter().map(String::as_str).collect();
    for f in &schema.features {
        for e in &f.not_in_environment {
            if !known.contains(&e.as_str()) {
                known.push(e);
            }
        }
    }
    if known.contains(&env) {
        return;
    }
    if known.is_empty() {
        warnings.push(format!(
            "environment `{env}` was given, but the schema names no environments: every feature is expected in it"
        ));
    } else {
        let hint = suggest(env, known.iter().copied()).map(|s| format!("did you mean `{s}`? ")).unwrap_or_default();
        warnings.push(format!(
            "environment `{env}` is not one the schema names ({}); {hint}every feature is expected in it",
            known.join(", ")
        ));
    }
}

fn expected_in(feature: &FeatureSchema, env: Option<&str>) -> bool {
    env.is_none_or(|e| !feature.not_in_environment.iter().any(|x| x == e))
}

fn anomaly(code: AnomalyCode, feature: &str, split: &str, severity: Severity, description: String) -> Anomaly {
    Anomaly { code, feature: feature.into(), split: split.into(), description, severity }
}

fn check_split(ds: &DatasetStats, schema: &Schema, env: Option<&str>, out: &mut Vec<Anomaly>) {
    let split = ds.split.as_str();
    if ds.num_examples == 0 {
        out.push(anomaly(
            AnomalyCode::DatasetLowNumExamples,
            "",
            split,
            Severity::Error,
            format!("split `{split}` has no rows"),
        ));
    }
    for fs in &schema.features {
        let expected = expected_in(fs, env);
        match ds.feature(&fs.name) {
            None if expected => {
                let mut d = format!("`{}` is in the schema but not in the data", fs.name);
                if let Some(e) = env
                    && !schema.default_environments.is_empty()
                {
                    d.push_str(&format!(
                        " (environment {e}); if it is not meant to be there, add {e} to its `not_in_environment`"
                    ));
                }
                out.push(anomaly(AnomalyCode::SchemaMissingColumn, &fs.name, split, Severity::Error, d));
            }
            None => {}
            Some(f) if !expected && f.count > 0 => {
                out.push(anomaly(
                    AnomalyCode::SchemaTrainingServingSkew,
                    &fs.name,
                    split,
                    Severity::Warning,
                    format!(
                        "`{}` has a value in {} rows, but the schema excludes it from environment {}",
                        fs.name,
                        count(f.count),
                        env.unwrap_or_default()
                    ),
                ));
            }
            Some(_) if !expected => {}
            Some(f) => check_feature(ds, fs, f, out),
        }
    }
    for f in &ds.features {
        if schema.feature(&f.name).is_none() {
            out.push(anomaly(
                AnomalyCode::SchemaNewColumn,
                &f.name,
                split,
                Severity::Warning,
                format!(
                    "`{}` ({}) is in the data but not in the schema; add it to the schema if it belongs there",
                    f.name,
                    f.kind.name()
                ),
            ));
        }
    }
}

/// Whether data of kind `data` may stand for a feature of kind `schema`.
fn compatible(schema: FeatureKind, data: FeatureKind) -> bool {
    schema == data || (schema == FeatureKind::Float && data == FeatureKind::Int)
}

fn check_feature(ds: &DatasetStats, fs: &FeatureSchema, f: &FeatureStats, out: &mut Vec<Anomaly>) {
    let (name, split) = (fs.name.as_str(), ds.split.as_str());
    let type_ok = f.count == 0 || compatible(fs.kind, f.kind);
    if !type_ok {
        out.push(anomaly(
            AnomalyCode::UnexpectedDataType,
            name,
            split,
            Severity::Error,
            format!("`{name}` holds {} values, but the schema says {}", f.kind.name(), fs.kind.name()),
        ));
    }
    if ds.num_examples > 0 {
        let total = f.count + f.missing;
        if f.presence() < fs.presence.min_fraction {
            out.push(anomaly(
                AnomalyCode::FeatureTypeLowFractionPresent,
                name,
                split,
                Severity::Error,
                format!(
                    "`{name}` has a value in {} of rows ({} of {}); the schema requires at least {}",
                    pct(f.presence()),
                    count(f.count),
                    count(total),
                    pct(fs.presence.min_fraction)
                ),
            ));
        }
        if f.count < fs.presence.min_count {
            out.push(anomaly(
                AnomalyCode::FeatureTypeLowNumberPresent,
                name,
                split,
                Severity::Error,
                format!(
                    "`{name}` has a value in {} rows; the schema requires at least {}",
                    count(f.count),
                    count(fs.presence.min_count)
                ),
            ));
        }
    }
    if !type_ok || f.count == 0 {
        return;
    }
    match &fs.domain {
        None => {}
        Some(Domain::Strings { values }) => {
            if let Some(a) = unexpected_strings(name, split, f, values) {
                out.push(a);
            }
        }
        Some(Domain::Int { min, max }) => {
            let range = (min.map(|m| m as f64), max.map(|m| m as f64));
            check_range(name, split, f, range, (AnomalyCode::IntTypeSmallInt, AnomalyCode::IntTypeBigInt), out);
        }
        Some(Domain::Float { min, max, allow_nan }) => {
            check_range(
                name,
                split,
                f,
                (*min, *max),
                (AnomalyCode::FloatTypeSmallFloat, AnomalyCode::FloatTypeBigFloat),
                out,
            );
            let nans = f.numeric.as_ref().map_or(0, |n| n.nans);
            if !allow_nan && nans > 0 {
                out.push(anomaly(
                    AnomalyCode::FloatTypeHasNan,
                    name,
                    split,
                    Severity::Error,
                    format!("`{name}` has {} NaN values; the domain does not allow NaN", count(nans)),
                ));
            }
        }
    }
}

fn check_range(
    name: &str,
    split: &str,
    f: &FeatureStats,
    (min, max): (Option<f64>, Option<f64>),
    (small, big): (AnomalyCode, AnomalyCode),
    out: &mut Vec<Anomaly>,
) {
    let Some(n) = &f.numeric else { return };
    // NaN extremes (a column of NaN only) compare false and raise nothing.
    if let Some(lo) = min
        && n.min < lo
    {
        let d = format!("`{name}` has values as small as {}; the domain's minimum is {}", num(n.min), num(lo));
        out.push(anomaly(small, name, split, Severity::Error, d));
    }
    if let Some(hi) = max
        && n.max > hi
    {
        let d = format!("`{name}` has values as large as {}; the domain's maximum is {}", num(n.max), num(hi));
        out.push(anomaly(big, name, split, Severity::Error, d));
    }
}

/// Most unexpected values named in one anomaly.
const MAX_LISTED: usize = 10;

fn unexpected_strings(name: &str, split: &str, f: &FeatureStats, domain: &[String]) -> Option<Anomaly> {
    let s = f.string.as_ref()?;
    let allowed: BTreeSet<&str> = domain.iter().map(String::as_str).collect();
    let unexpected: Vec<_> = s.top.iter().filter(|v| !allowed.contains(v.value.as_str())).collect();
    let listed_in_domain = s.top.len() - unexpected.len();
    let domain_unseen = allowed.len().saturating_sub(listed_in_domain) as u64;
    let unlisted = s.distinct.saturating_sub(s.top.len() as u64);
    // With an exact `distinct`, the unlisted values cannot all be among the domain values not
    // seen in `top`: the excess is certainly outside the domain.
    let hidden = if s.distinct_exact { unlisted.saturating_sub(domain_unseen) } else { 0 };
    if unexpected.is_empty() && hidden == 0 {
        return None;
    }
    let about = if s.distinct_exact { "" } else { "about " };
    let mut d;
    if unexpected.is_empty() {
        d = format!(
            "`{name}` has at least {} values outside the domain: it has {} distinct values and the domain only {}, \
             though none of its {} most frequent values is outside it",
            count(hidden),
            count(s.distinct),
            count(allowed.len() as u64),
            s.top.len()
        );
    } else {
        let rows: u64 = unexpected.iter().map(|v| v.count).sum();
        let named: Vec<String> = unexpected
            .iter()
            .take(MAX_LISTED)
            .map(|v| format!("{} ({} {})", quote(&v.value), count(v.count), if v.count == 1 { "row" } else { "rows" }))
            .collect();
        let values = if unexpected.len() == 1 { "value" } else { "values" };
        d = format!(
            "`{name}` has {} {values} outside the domain, in {} of rows: {}",
            unexpected.len(),
            pct(ratio(rows, f.count)),
            named.join(", ")
        );
        if unexpected.len() > MAX_LISTED {
            d.push_str(&format!(", and {} more", unexpected.len() - MAX_LISTED));
        }
        if hidden > 0 {
            d.push_str(&format!(
                "; at least {} more of its {} distinct values, beyond the {} most frequent listed, are outside it too",
                count(hidden),
                count(s.distinct),
                s.top.len()
            ));
        } else if unlisted > 0 {
            d.push_str(&format!(
                "; only the {} most frequent of its {about}{} distinct values were checked",
                s.top.len(),
                count(s.distinct)
            ));
        }
    }
    Some(anomaly(AnomalyCode::EnumTypeUnexpectedStringValues, name, split, Severity::Error, d))
}

/// Two datasets compared for drift or skew.
struct Comparison<'a> {
    /// `drift` or `skew`.
    what: &'static str,
    /// The split of the checked statistics, which anomalies are reported on.
    split: &'a str,
    /// The previous span, or training data.
    reference: &'a DatasetStats,
    reference_name: &'static str,
    /// This span, or serving data.
    current: &'a DatasetStats,
    current_name: &'static str,
}

fn compare(
    c: &Comparison<'_>,
    thresholds: &[(String, f64)],
    schema: &Schema,
    options: &ValidateOptions<'_>,
    anomalies: &mut Vec<Anomaly>,
    warnings: &mut Vec<String>,
) -> Vec<Distance> {
    let mut distances = Vec::new();
    for (feature, threshold) in thresholds {
        let (a, b) = (c.reference.feature(feature), c.current.feature(feature));
        let (a, b) = match (a, b) {
            (Some(a), Some(b)) => (a, b),
            (None, None) if schema.feature(feature).is_none() => {
                let names = schema
                    .features
                    .iter()
                    .map(|f| f.name.as_str())
                    .chain(c.reference.features.iter().map(|f| f.name.as_str()));
                let hint = suggest(feature, names).map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default();
                warnings.push(format!(
                    "{} threshold for `{feature}`: no such feature in the data or the schema{hint}; not checked",
                    c.what
                ));
                continue;
            }
            (a, _) => {
                let missing = if a.is_none() { c.reference_name } else { c.current_name };
                warnings.push(format!(
                    "{} threshold for `{feature}`: it is not in the statistics of {missing} (split `{}`); not checked",
                    c.what,
                    if a.is_none() { &c.reference.split } else { &c.current.split }
                ));
                continue;
            }
        };
        // The kind in the checked statistics: the current span for drift, training for skew.
        let kind = if c.what == "drift" { b.kind } else { a.kind };
        let m = options.measures.iter().find(|(f, _)| f == feature).map_or(default_measure(kind), |(_, m)| *m);
        let Some(value) = measure(m, a, b) else {
            warnings.push(format!(
                "{} threshold for `{feature}`: the {} does not apply to it ({} in {}, {} in {}); not checked",
                c.what,
                m.name(),
                a.kind.name(),
                c.reference_name,
                b.kind.name(),
                c.current_name
            ));
            continue;
        };
        let exceeded = value > *threshold;
        if exceeded {
            let (shown, limit) = shown_pair(value, *threshold);
            let what = if c.what == "drift" {
                format!("`{feature}` drifted since the previous span (split `{}`)", c.split)
            } else {
                format!(
                    "`{feature}` differs between training data (split `{}`) and serving data (split `{}`)",
                    c.split, c.current.split
                )
            };
            anomalies.push(anomaly(
                m.code(),
                feature,
                c.split,
                Severity::Error,
                format!("{what}: {} {shown} is above the threshold {limit}", m.name()),
            ));
        }
        distances.push(Distance { feature: feature.clone(), measure: m, value, threshold: *threshold, exceeded });
    }
    distances
}

/// A value and its threshold as text, with enough digits to tell them apart.
pub(crate) fn shown_pair(value: f64, threshold: f64) -> (String, String) {
    let (v, t) = (num(value), num(threshold));
    if v == t && value != threshold { (format!("{value}"), format!("{threshold}")) } else { (v, t) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::{InferOptions, infer_schema};
    use crate::schema::Presence;
    use crate::testdata::{dataset, num as numeric, statistics, taxi, text};

    fn schema() -> Schema {
        infer_schema(&taxi("train"), &InferOptions { not_at_serving: vec!["tips".into()], ..Default::default() })
    }

    fn codes(a: &Anomalies) -> Vec<(AnomalyCode, &str, &str)> {
        a.anomalies.iter().map(|x| (x.code, x.feature.as_str(), x.split.as_str())).collect()
    }

    #[test]
    fn clean_data_has_no_anomalies() {
        let stats = statistics(vec![taxi("train"), taxi("eval")]);
        let a = validate(&stats, &schema(), &ValidateOptions::default());
        assert_eq!(a.format, FORMAT);
        assert_eq!(a.splits, ["train", "eval"]);
        assert!(a.anomalies.is_empty(), "{:?}", a.anomalies);
        assert!(a.drift.is_empty() && a.skew.is_empty() && a.warnings.is_empty());
    }

    #[test]
    fn only_the_split_asked_for() {
        let mut eval = taxi("eval");
        eval.features.remove(0);
        let stats = statistics(vec![taxi("train"), eval]);
        let options = ValidateOptions { split: Some("train".into()), ..Default::default() };
        let a = validate(&stats, &schema(), &options);
        assert_eq!(a.splits, ["train"]);
        assert!(a.anomalies.is_empty());
        let options = ValidateOptions { split: Some("test".into()), ..Default::default() };
        let a = validate(&stats, &schema(), &options);
        assert!(a.splits.is_empty() && a.anomalies.is_empty());
        assert_eq!(a.warnings, ["split `test` is not in the statistics (it has `train`, `eval`); nothing was checked"]);
    }

    #[test]
    fn columns_missing_new_and_retyped() {
        let mut ds = taxi("train");
        ds.features.retain(|f| f.name != "passengers");
        ds.features.push(numeric("extra", FeatureKind::Int, 100, 0, &[(0.0, 1.0, 100.0)]));
        ds.features[0] = text("fare", 100, 0, 2, &[("a", 50), ("b", 50)]);
        let a = validate(&statistics(vec![ds]), &schema(), &ValidateOptions::default());
        assert_eq!(
            codes(&a),
            [
                (AnomalyCode::UnexpectedDataType, "fare", "train"),
                (AnomalyCode::SchemaMissingColumn, "passengers", "train"),
                (AnomalyCode::SchemaNewColumn, "extra", "train"),
            ]
        );
        assert_eq!(a.anomalies[0].description, "`fare` holds string values, but the schema says float");
        assert_eq!(
            a.anomalies[1].description,
            "`passengers` is in the schema but not in the data (environment TRAINING); if it is not meant to be \
             there, add TRAINING to its `not_in_environment`"
        );
        assert_eq!(
            a.anomalies[2].description,
            "`extra` (int) is in the data but not in the schema; add it to the schema if it belongs there"
        );
        assert_eq!(
            a.anomalies.iter().map(|x| x.severity).collect::<Vec<_>>(),
            [Severity::Error, Severity::Error, Severity::Warning]
        );
    }

    #[test]
    fn int_data_for_a_float_feature_is_fine() {
        let mut ds = taxi("train");
        ds.features[0].kind = FeatureKind::Int;
        let a = validate(&statistics(vec![ds.clone()]), &schema(), &ValidateOptions::default());
        assert!(a.anomalies.is_empty());
        // The other way round is not; nor is bool for int.
        ds.features[0].kind = FeatureKind::Float;
        ds.features[1].kind = FeatureKind::Bool;
        let a = validate(&statistics(vec![ds]), &schema(), &ValidateOptions::default());
        assert_eq!(codes(&a), [(AnomalyCode::UnexpectedDataType, "passengers", "train")]);
        assert_eq!(a.anomalies[0].description, "`passengers` holds bool values, but the schema says int");
    }

    #[test]
    fn presence() {
        let mut ds = taxi("train");
        ds.features[0].count = 97;
        ds.features[0].missing = 3;
        ds.features[1].count = 0;
        ds.features[1].missing = 100;
        ds.features[1].kind = FeatureKind::String; // no values: the type is not checked
        let a = validate(&statistics(vec![ds]), &schema(), &ValidateOptions::default());
        assert_eq!(
            codes(&a),
            [
                (AnomalyCode::FeatureTypeLowFractionPresent, "fare", "train"),
                (AnomalyCode::FeatureTypeLowNumberPresent, "passengers", "train"),
            ]
        );
        assert_eq!(
            a.anomalies[0].description,
            "`fare` has a value in 97.0% of rows (97 of 100); the schema requires at least 100%"
        );
        assert_eq!(a.anomalies[1].description, "`passengers` has a value in 0 rows; the schema requires at least 1");
    }

    #[test]
    fn empty_split() {
        let mut ds = taxi("train");
        ds.num_examples = 0;
        for f in &mut ds.features {
            (f.count, f.missing) = (0, 0);
        }
        let a = validate(&statistics(vec![ds]), &schema(), &ValidateOptions::default());
        assert_eq!(codes(&a), [(AnomalyCode::DatasetLowNumExamples, "", "train")]);
        assert_eq!(a.anomalies[0].description, "split `train` has no rows");
        assert_eq!(a.anomalies[0].severity, Severity::Error);
    }

    #[test]
    fn unexpected_strings_listed_with_counts() {
        let mut ds = taxi("train");
        ds.features[2] =
            text("payment_type", 100, 0, 4, &[("Credit", 50), ("Cash", 30), ("Prcard", 15), ("Dispute", 5)]);
        let a = validate(&statistics(vec![ds]), &schema(), &ValidateOptions::default());
        assert_eq!(codes(&a), [(AnomalyCode::EnumTypeUnexpectedStringValues, "payment_type", "train")]);
        assert_eq!(
            a.anomalies[0].description,
            "`payment_type` has 2 values outside the domain, in 20.0% of rows: \"Prcard\" (15 rows), \"Dispute\" (5 rows)"
        );
    }

    #[test]
    fn unexpected_strings_beyond_the_top() {
        // 30 distinct values, top 12 listed: Credit, Cash and 10 unexpected ones (v0..v9).
        let mut top: Vec<(String, u64)> = vec![("Credit".into(), 40), ("Cash".into(), 30)];
        top.extend((0..11).map(|i| (format!("v{i}"), 1)));
        let top: Vec<(&str, u64)> = top.iter().map(|(v, c)| (v.as_str(), *c)).collect();
        let mut ds = taxi("train");
        ds.features[2] = text("payment_type", 100, 0, 30, &top);
        let a = validate(&statistics(vec![ds.clone()]), &schema(), &ValidateOptions::default());
        assert_eq!(
            a.anomalies[0].description,
            "`payment_type` has 11 values outside the domain, in 11.0% of rows: \"v0\" (1 row), \"v1\" (1 row), \
             \"v2\" (1 row), \"v3\" (1 row), \"v4\" (1 row), \"v5\" (1 row), \"v6\" (1 row), \"v7\" (1 row), \"v8\" \
             (1 row), \"v9\" (1 row), and 1 more; at least 17 more of its 30 distinct values, beyond the 13 most \
             frequent listed, are outside it too"
        );
        // Only domain values in the top, but more distinct values than the domain has.
        ds.features[2] = text("payment_type", 100, 0, 5, &[("Credit", 60), ("Cash", 38)]);
        let a = validate(&statistics(vec![ds.clone()]), &schema(), &ValidateOptions::default());
        assert_eq!(
            a.anomalies[0].description,
            "`payment_type` has at least 3 values outside the domain: it has 5 distinct values and the domain only \
             2, though none of its 2 most frequent values is outside it"
        );
        // An estimated distinct count proves nothing.
        ds.features[2].string.as_mut().unwrap().distinct_exact = false;
        let a = validate(&statistics(vec![ds.clone()]), &schema(), &ValidateOptions::default());
        assert!(a.anomalies.is_empty());
        ds.features[2] = text("payment_type", 100, 0, 50, &[("Credit", 60), ("Zelle", 38)]);
        ds.features[2].string.as_mut().unwrap().distinct_exact = false;
        let a = validate(&statistics(vec![ds]), &schema(), &ValidateOptions::default());
        assert_eq!(
            a.anomalies[0].description,
            "`payment_type` has 1 value outside the domain, in 38.0% of rows: \"Zelle\" (38 rows); only the 2 most \
             frequent of its about 50 distinct values were checked"
        );
    }

    #[test]
    fn ranges_and_nan() {
        let mut schema = schema();
        schema.features[0].domain = Some(Domain::Float { min: Some(2.5), max: Some(35.0), allow_nan: false });
        schema.features[1].domain = Some(Domain::Int { min: Some(1), max: Some(3) });
        let mut ds = taxi("train");
        ds.features[0].numeric.as_mut().unwrap().nans = 2;
        let a = validate(&statistics(vec![ds]), &schema, &ValidateOptions::default());
        assert_eq!(
            codes(&a),
            [
                (AnomalyCode::FloatTypeSmallFloat, "fare", "train"),
                (AnomalyCode::FloatTypeBigFloat, "fare", "train"),
                (AnomalyCode::FloatTypeHasNan, "fare", "train"),
                (AnomalyCode::IntTypeBigInt, "passengers", "train"),
            ]
        );
        let d: Vec<&str> = a.anomalies.iter().map(|x| x.description.as_str()).collect();
        assert_eq!(
            d,
            [
                "`fare` has values as small as 0; the domain's minimum is 2.5",
                "`fare` has values as large as 40; the domain's maximum is 35",
                "`fare` has 2 NaN values; the domain does not allow NaN",
                "`passengers` has values as large as 4; the domain's maximum is 3",
            ]
        );
    }

    #[test]
    fn environments() {
        let schema = schema();
        let mut serving = taxi("serving");
        serving.features.retain(|f| f.name != "tips");
        let stats = statistics(vec![serving.clone()]);
        // Without an environment the schema's first default one (TRAINING) applies.
        let a = validate(&stats, &schema, &ValidateOptions::default());
        assert_eq!(codes(&a), [(AnomalyCode::SchemaMissingColumn, "tips", "serving")]);
        let at_serving = ValidateOptions { environment: Some("SERVING".into()), ..Default::default() };
        assert!(validate(&stats, &schema, &at_serving).anomalies.is_empty());
        // The label present at serving.
        let a = validate(&statistics(vec![taxi("serving")]), &schema, &at_serving);
        assert_eq!(codes(&a), [(AnomalyCode::SchemaTrainingServingSkew, "tips", "serving")]);
        assert_eq!(a.anomalies[0].severity, Severity::Warning);
        assert_eq!(
            a.anomalies[0].description,
            "`tips` has a value in 100 rows, but the schema excludes it from environment SERVING"
        );
        // An environment the schema does not name.
        let typo = ValidateOptions { environment: Some("SERVNG".into()), ..Default::default() };
        let a = validate(&stats, &schema, &typo);
        assert_eq!(
            a.warnings,
            ["environment `SERVNG` is not one the schema names (TRAINING, SERVING); did you mean `SERVING`? every \
              feature is expected in it"]
        );
        assert_eq!(codes(&a), [(AnomalyCode::SchemaMissingColumn, "tips", "serving")]);
        let mut plain = schema.clone();
        plain.default_environments.clear();
        plain.features[3].not_in_environment.clear();
        let a = validate(&stats, &plain, &at_serving);
        assert_eq!(
            a.warnings,
            ["environment `SERVING` was given, but the schema names no environments: every feature is expected in it"]
        );
        assert_eq!(a.anomalies[0].description, "`tips` is in the schema but not in the data");
    }

    fn shifted() -> DatasetStats {
        let mut ds = taxi("train");
        // fare: all mass moved one bucket up; payment_type: Cash 70%.
        ds.features[0] = numeric(
            "fare",
            FeatureKind::Float,
            100,
            0,
            &[(10.0, 20.0, 40.0), (20.0, 30.0, 30.0), (30.0, 40.0, 20.0), (40.0, 50.0, 10.0)],
        );
        ds.features[2] = text("payment_type", 100, 0, 2, &[("Cash", 70), ("Credit", 30)]);
        ds
    }

    #[test]
    fn drift() {
        let previous = statistics(vec![taxi("train")]);
        let stats = statistics(vec![shifted()]);
        let options = ValidateOptions {
            previous: Some(&previous),
            drift: vec![("payment_type".into(), 0.25), ("fare".into(), 0.5), ("passengers".into(), 0.01)],
            ..Default::default()
        };
        let a = validate(&stats, &schema(), &options);
        assert_eq!(
            a.drift,
            [
                Distance {
                    feature: "payment_type".into(),
                    measure: Measure::LInfinity,
                    value: 0.3,
                    threshold: 0.25,
                    exceeded: true
                },
                Distance {
                    feature: "fare".into(),
                    measure: Measure::JensenShannon,
                    value: a.drift[1].value,
                    threshold: 0.5,
                    exceeded: false
                },
                Distance {
                    feature: "passengers".into(),
                    measure: Measure::JensenShannon,
                    value: 0.0,
                    threshold: 0.01,
                    exceeded: false
                },
            ]
        );
        // P = [.4 .3 .2 .1 0], Q = [0 .4 .3 .2 .1].
        let (p, q) = ([0.4, 0.3, 0.2, 0.1, 0.0], [0.0, 0.4, 0.3, 0.2, 0.1]);
        let mut js = 0.0;
        for (x, y) in p.iter().zip(q) {
            let m: f64 = (x + y) / 2.0;
            if *x > 0.0 {
                js += 0.5 * x * (x / m).log2();
            }
            if y > 0.0 {
                js += 0.5 * y * (y / m).log2();
            }
        }
        assert!((a.drift[1].value - js).abs() < 1e-12);
        assert_eq!(codes(&a), [(AnomalyCode::ComparatorLInftyHigh, "payment_type", "train")]);
        assert_eq!(
            a.anomalies[0].description,
            "`payment_type` drifted since the previous span (split `train`): L-infinity distance 0.3 is above the \
             threshold 0.25"
        );
        assert!(a.warnings.is_empty());
    }

    #[test]
    fn measure_overrides() {
        let previous = statistics(vec![taxi("train")]);
        let stats = statistics(vec![shifted()]);
        let options = ValidateOptions {
            previous: Some(&previous),
            drift: vec![("fare".into(), 0.5), ("payment_type".into(), 0.1)],
            measures: vec![
                ("fare".into(), Measure::NormalizedAbsoluteDifference),
                ("payment_type".into(), Measure::JensenShannon),
                ("tips".into(), Measure::LInfinity),
            ],
            ..Default::default()
        };
        let a = validate(&stats, &schema(), &options);
        // P and Q above: |.4| + |.1| + |.1| + |.1| + |.1| = .8, halved.
        assert_eq!(a.drift.len(), 1);
        assert_eq!(a.drift[0].measure, Measure::NormalizedAbsoluteDifference);
        assert!((a.drift[0].value - 0.4).abs() < 1e-12);
        assert!(!a.drift[0].exceeded);
        assert_eq!(
            a.warnings,
            [
                "drift threshold for `payment_type`: the Jensen-Shannon divergence does not apply to it (string in \
                 the previous span, string in this span); not checked",
                "a measure (L-infinity distance) is set for `tips`, which has no drift or skew threshold; it is not \
                 used",
            ]
        );
    }

    #[test]
    fn thresholds_for_unknown_features_are_warnings() {
        let mut previous_train = taxi("train");
        previous_train.features.retain(|f| f.name != "passengers");
        let previous = statistics(vec![previous_train]);
        let stats = statistics(vec![taxi("train")]);
        let options = ValidateOptions {
            previous: Some(&previous),
            drift: vec![("fares".into(), 0.1), ("passengers".into(), 0.1), ("zzz".into(), 0.1)],
            ..Default::default()
        };
        let a = validate(&stats, &schema(), &options);
        assert!(a.anomalies.is_empty() && a.drift.is_empty());
        assert_eq!(
            a.warnings,
            [
                "drift threshold for `fares`: no such feature in the data or the schema (did you mean `fare`?); not \
                 checked",
                "drift threshold for `passengers`: it is not in the statistics of the previous span (split `train`); \
                 not checked",
                "drift threshold for `zzz`: no such feature in the data or the schema; not checked",
            ]
        );
        // Another split than the statistics have.
        let options = ValidateOptions { drift_split: "eval".into(), ..options };
        let a = validate(&stats, &schema(), &options);
        assert_eq!(a.warnings, ["drift is not checked: the statistics have no split `eval` (it has `train`)"]);
    }

    #[test]
    fn skew_against_the_serving_split() {
        let mut serving_ds = shifted();
        serving_ds.split = "serving".into();
        serving_ds.features.retain(|f| f.name != "tips");
        let serving = statistics(vec![dataset("other", 1, vec![]), serving_ds]);
        let stats = statistics(vec![taxi("train"), taxi("eval")]);
        let options = ValidateOptions {
            serving: Some(&serving),
            environment: Some("TRAINING".into()),
            skew: vec![("payment_type".into(), 0.5), ("fare".into(), 0.2)],
            ..Default::default()
        };
        let a = validate(&stats, &schema(), &options);
        assert_eq!(a.skew.len(), 2);
        assert_eq!(a.skew[0].value, 0.3);
        assert!(!a.skew[0].exceeded);
        assert!(a.skew[1].exceeded);
        assert!(a.drift.is_empty());
        assert_eq!(codes(&a), [(AnomalyCode::ComparatorJensenShannonDivergenceHigh, "fare", "train")]);
        let (shown, _) = shown_pair(a.skew[1].value, 0.2);
        assert_eq!(
            a.anomalies[0].description,
            format!(
                "`fare` differs between training data (split `train`) and serving data (split `serving`): \
                 Jensen-Shannon divergence {shown} is above the threshold 0.2"
            )
        );
        // Without a split named `serving`, the first one.
        let mut first = shifted();
        first.split = "requests".into();
        let serving = statistics(vec![first]);
        let options = ValidateOptions { serving: Some(&serving), ..options };
        let a = validate(&stats, &schema(), &options);
        assert_eq!(a.skew.len(), 2);
        assert!(a.anomalies[0].description.contains("(split `requests`)"));
    }

    #[test]
    fn no_previous_no_drift() {
        let stats = statistics(vec![taxi("train")]);
        let options = ValidateOptions { drift: vec![("fare".into(), 0.1)], ..Default::default() };
        let a = validate(&stats, &schema(), &options);
        assert!(a.drift.is_empty() && a.warnings.is_empty() && a.anomalies.is_empty());
    }

    #[test]
    fn shown_pairs_tell_values_apart() {
        assert_eq!(shown_pair(0.3, 0.25), ("0.3".to_string(), "0.25".to_string()));
        assert_eq!(shown_pair(0.100001, 0.1), ("0.100001".to_string(), "0.1".to_string()));
    }

    #[test]
    fn anomalies_serialize() {
        let previous = statistics(vec![taxi("train")]);
        let stats = statistics(vec![shifted()]);
        let options = ValidateOptions {
            previous: Some(&previous),
            drift: vec![("payment_type".into(), 0.25), ("nope".into(), 1.0)],
            ..Default::default()
        };
        let a = validate(&stats, &schema(), &options);
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(v["anomalies"][0]["code"], "COMPARATOR_L_INFTY_HIGH");
        assert_eq!(v["anomalies"][0]["severity"], "error");
        assert_eq!(v["drift"][0]["measure"], "l_infinity");
        assert_eq!(v["warnings"].as_array().unwrap().len(), 1);
        let back: Anomalies = serde_json::from_value(v).unwrap();
        assert_eq!(back, a);
        // Presence is still a default, for schema literals in tests elsewhere.
        assert_eq!(Presence::default().min_count, 0);
    }
}
