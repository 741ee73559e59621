//! Export of statistics to TFDV: a `DatasetFeatureStatisticsList` (TensorFlow Metadata's
//! `statistics.proto`) in the proto3 JSON mapping, which `google.protobuf.json_format.Parse`
//! reads, so that users can open mlp's statistics with TFDV's and Facets' tools:
//!
//! ```python
//! from google.protobuf import json_format
//! from tensorflow_metadata.proto.v0 import statistics_pb2
//! stats = json_format.Parse(open("stats.json").read(), statistics_pb2.DatasetFeatureStatisticsList())
//! tfdv.visualize_statistics(stats)
//! ```
//!
//! # Mapping
//!
//! Field names are lowerCamelCase; 64-bit integers (`numExamples`, counts, ranks) are JSON
//! strings, as the mapping prints them; doubles are numbers, except NaN and infinities, which
//! are the strings `"NaN"`, `"Infinity"` and `"-Infinity"`. Each feature is identified by
//! `path: {step: [name]}`; its `type` is `INT`, `FLOAT` or `STRING` (a bool feature is `INT`,
//! its values 0 and 1, as TFDV counts them).
//!
//! - Numeric features: `numStats` with `commonStats`, `mean`, `stdDev`, `numZeros`, `min`,
//!   `median`, `max`, and two `histograms`: the equal-width one (`type: "STANDARD"`) and the
//!   quantile one (`type: "QUANTILES"`), each with `numNan` when the feature has NaN values.
//! - String features: `stringStats` with `commonStats`, `unique`, `topValues` (`value`,
//!   `frequency`), `avgLength`, and a `rankHistogram` whose bucket `i` (0-based `lowRank` =
//!   `highRank` = `i`) is the i-th top value.
//! - `commonStats`: `numNonMissing`, `numMissing`, `totNumValues` (= non-missing: one value a
//!   row), and `minNumValues` = `maxNumValues` = 1 with `avgNumValues` 1 (0, 0 and 0 for a
//!   feature without any value). The optional `numValuesHistogram` is left out.
//!
//! # Dataset names
//!
//! [`to_tfdv_json`] exports every dataset of the statistics into one list: a whole split is
//! named after the split (`train`), a slice `{split}/{slice key}`. [`to_tfdv_json_split`]
//! exports one split as TFX's StatisticsGen writes it (one list per split), with TFDV's own
//! names: `All Examples` for the whole split, and the slice key alone for a slice. The slice
//! key follows TFDV's feature-value slicer: `{column}_{value}` (`payment_type_Cash`); the slice
//! of rows where the column is null, which TFDV does not make, is `{column}_<null>` here.

use crate::stats::{DatasetStats, FeatureKind, FeatureStats, Histogram, Statistics};
use serde_json::{Map, Value, json};

/// TFDV's name of the dataset of all the examples of a split (its default slice key).
pub const ALL_EXAMPLES: &str = "All Examples";

/// All the datasets of `stats`, splits and slices, as one `DatasetFeatureStatisticsList`.
pub fn to_tfdv_json(stats: &Statistics) -> Value {
    let datasets: Vec<Value> = stats
        .datasets
        .iter()
        .map(|d| {
            let name = match slice_key(d) {
                None => d.split.clone(),
                Some(key) => format!("{}/{key}", d.split),
            };
            dataset_json(&name, d)
        })
        .collect();
    json!({ "datasets": datasets })
}

/// The datasets of one split (the whole split first, then its slices) as one
/// `DatasetFeatureStatisticsList`, named as TFDV names them; `None` when the statistics have no
/// such split.
pub fn to_tfdv_json_split(stats: &Statistics, split: &str) -> Option<Value> {
    let whole = stats.split(split)?;
    let mut datasets = vec![dataset_json(ALL_EXAMPLES, whole)];
    for d in stats.datasets.iter().filter(|d| d.split == split) {
        if let Some(key) = slice_key(d) {
            datasets.push(dataset_json(&key, d));
        }
    }
    Some(json!({ "datasets": datasets }))
}

/// TFDV's slice key of a slice: `{column}_{value}`.
fn slice_key(d: &DatasetStats) -> Option<String> {
    let s = d.slice.as_ref()?;
    Some(if s.is_null { format!("{}_<null>", s.column) } else { format!("{}_{}", s.column, s.value) })
}

fn dataset_json(name: &str, d: &DatasetStats) -> Value {
    let features: Vec<Value> = d.features.iter().map(feature_json).collect();
    json!({
        "name": name,
        "numExamples": d.num_examples.to_string(),
        "features": features,
    })
}

/// A double in the proto3 JSON mapping: a number, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
fn double(x: f64) -> Value {
    if x.is_nan() {
        Value::from("NaN")
    } else if x.is_infinite() {
        Value::from(if x > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        Value::from(x)
    }
}

/// A 64-bit integer in the proto3 JSON mapping: a string.
fn int64(n: u64) -> Value {
    Value::from(n.to_string())
}

fn common_json(f: &FeatureStats) -> Value {
    let per_row = u64::from(f.count > 0);
    json!({
        "numNonMissing": int64(f.count),
        "numMissing": int64(f.missing),
        "minNumValues": int64(per_row),
        "maxNumValues": int64(per_row),
        "avgNumValues": per_row as f64,
        "totNumValues": int64(f.count),
    })
}

fn histogram_json(h: &Histogram, kind: &str, nans: u64) -> Value {
    let buckets: Vec<Value> = h
        .buckets
        .iter()
        .map(|b| json!({ "lowValue": double(b.low), "highValue": double(b.high), "sampleCount": double(b.count) }))
        .collect();
    let mut m = Map::new();
    if nans > 0 {
        m.insert("numNan".into(), int64(nans));
    }
    m.insert("buckets".into(), Value::from(buckets));
    m.insert("type".into(), Value::from(kind));
    Value::Object(m)
}

fn feature_json(f: &FeatureStats) -> Value {
    let type_name = match f.kind {
        FeatureKind::Int | FeatureKind::Bool => "INT",
        FeatureKind::Float => "FLOAT",
        FeatureKind::String => "STRING",
    };
    let mut m = Map::new();
    m.insert("path".into(), json!({ "step": [f.name] }));
    m.insert("type".into(), Value::from(type_name));
    if let Some(n) = &f.numeric {
        m.insert(
            "numStats".into(),
            json!({
                "commonStats": common_json(f),
                "mean": double(n.mean),
                "stdDev": double(n.std_dev),
                "numZeros": int64(n.zeros),
                "min": double(n.min),
                "median": double(n.median),
                "max": double(n.max),
                "histograms": [
                    histogram_json(&n.histogram, "STANDARD", n.nans),
                    histogram_json(&n.quantile_histogram, "QUANTILES", n.nans),
                ],
            }),
        );
    } else if let Some(s) = &f.string {
        let top: Vec<Value> = s.top.iter().map(|v| json!({ "value": v.value, "frequency": v.count as f64 })).collect();
        let ranks: Vec<Value> = s
            .top
            .iter()
            .enumerate()
            .map(|(i, v)| {
                json!({
                    "lowRank": int64(i as u64),
                    "highRank": int64(i as u64),
                    "label": v.value,
                    "sampleCount": v.count as f64,
                })
            })
            .collect();
        m.insert(
            "stringStats".into(),
            json!({
                "commonStats": common_json(f),
                "unique": int64(s.distinct),
                "topValues": top,
                "avgLength": double(s.avg_length),
                "rankHistogram": { "buckets": ranks },
            }),
        );
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::{dataset, num, slice, statistics, text};

    fn example() -> Statistics {
        let mut fare = num("fare", FeatureKind::Float, 3, 1, &[(1.0, 2.0, 2.0), (2.0, 3.0, 1.0)]);
        {
            let n = fare.numeric.as_mut().unwrap();
            (n.mean, n.std_dev, n.zeros, n.median, n.nans) = (1.5, 0.5, 0, 1.25, 1);
        }
        let flag = num("flag", FeatureKind::Bool, 4, 0, &[(0.0, 1.0, 4.0)]);
        let pay = text("payment_type", 4, 0, 2, &[("Cash", 3), ("Credit", 1)]);
        statistics(vec![
            dataset("train", 4, vec![fare, flag, pay.clone()]),
            slice("train", "payment_type", "Cash", 3, vec![text("payment_type", 3, 0, 1, &[("Cash", 3)])]),
            dataset("eval", 0, vec![]),
        ])
    }

    #[test]
    fn exports_every_dataset() {
        let v = to_tfdv_json(&example());
        let names: Vec<&str> = v["datasets"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["train", "train/payment_type_Cash", "eval"]);
        let train = &v["datasets"][0];
        assert_eq!(train["numExamples"], "4");
        assert_eq!(v["datasets"][2]["features"], json!([]));

        let fare = &train["features"][0];
        assert_eq!(
            *fare,
            json!({
                "path": {"step": ["fare"]},
                "type": "FLOAT",
                "numStats": {
                    "commonStats": {
                        "numNonMissing": "3", "numMissing": "1", "minNumValues": "1", "maxNumValues": "1",
                        "avgNumValues": 1.0, "totNumValues": "3"
                    },
                    "mean": 1.5, "stdDev": 0.5, "numZeros": "0", "min": 1.0, "median": 1.25, "max": 3.0,
                    "histograms": [
                        {"numNan": "1", "buckets": [
                            {"lowValue": 1.0, "highValue": 2.0, "sampleCount": 2.0},
                            {"lowValue": 2.0, "highValue": 3.0, "sampleCount": 1.0}
                        ], "type": "STANDARD"},
                        {"numNan": "1", "buckets": [
                            {"lowValue": 1.0, "highValue": 2.0, "sampleCount": 1.5},
                            {"lowValue": 2.0, "highValue": 3.0, "sampleCount": 1.5}
                        ], "type": "QUANTILES"}
                    ]
                }
            })
        );
        assert_eq!(train["features"][1]["type"], "INT");
        assert!(train["features"][1]["numStats"]["histograms"][0].get("numNan").is_none());

        let pay = &train["features"][2];
        assert_eq!(
            *pay,
            json!({
                "path": {"step": ["payment_type"]},
                "type": "STRING",
                "stringStats": {
                    "commonStats": {
                        "numNonMissing": "4", "numMissing": "0", "minNumValues": "1", "maxNumValues": "1",
                        "avgNumValues": 1.0, "totNumValues": "4"
                    },
                    "unique": "2",
                    "topValues": [{"value": "Cash", "frequency": 3.0}, {"value": "Credit", "frequency": 1.0}],
                    "avgLength": 4.5,
                    "rankHistogram": {"buckets": [
                        {"lowRank": "0", "highRank": "0", "label": "Cash", "sampleCount": 3.0},
                        {"lowRank": "1", "highRank": "1", "label": "Credit", "sampleCount": 1.0}
                    ]}
                }
            })
        );
    }

    #[test]
    fn one_split_with_tfdv_names() {
        let mut stats = example();
        stats.datasets.push(crate::stats::DatasetStats {
            slice: Some(crate::stats::Slice { column: "company".into(), value: String::new(), is_null: true }),
            ..slice("train", "x", "y", 1, vec![])
        });
        let v = to_tfdv_json_split(&stats, "train").unwrap();
        let names: Vec<&str> = v["datasets"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["All Examples", "payment_type_Cash", "company_<null>"]);
        assert_eq!(v["datasets"][1]["numExamples"], "3");
        assert_eq!(to_tfdv_json_split(&stats, "test"), None);
    }

    #[test]
    fn non_finite_doubles_and_empty_features() {
        let mut f = num("x", FeatureKind::Float, 0, 5, &[]);
        {
            let n = f.numeric.as_mut().unwrap();
            (n.mean, n.min, n.max) = (f64::NAN, f64::INFINITY, f64::NEG_INFINITY);
        }
        let v = to_tfdv_json(&statistics(vec![dataset("train", 5, vec![f])]));
        let n = &v["datasets"][0]["features"][0]["numStats"];
        assert_eq!(n["mean"], "NaN");
        assert_eq!(n["min"], "Infinity");
        assert_eq!(n["max"], "-Infinity");
        assert_eq!(n["commonStats"]["minNumValues"], "0");
        assert_eq!(n["commonStats"]["avgNumValues"], 0.0);
        assert_eq!(n["histograms"][0]["buckets"], json!([]));
    }
}
