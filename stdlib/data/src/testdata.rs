//! Test fixtures, compiled for the unit tests only: builders of small hand-made statistics
//! (a taxi-trips table), shared by the tests of `validate`, `tfdv`, `diff` and `view`.

use crate::stats::{
    Bucket, DatasetStats, FeatureKind, FeatureStats, Histogram, NumericStats, Slice, Statistics, StringStats,
    ValueCount,
};

/// A numeric feature whose equal-width histogram is `hist` (`(low, high, count)`); min and max
/// are the histogram's ends, the median their midpoint, the mean the count-weighted mean of the
/// bucket midpoints, the standard deviation 1. No quantiles, so distances use the histograms
/// (the quantile path has tests of its own in `distance`).
pub(crate) fn num(name: &str, kind: FeatureKind, count: u64, missing: u64, hist: &[(f64, f64, f64)]) -> FeatureStats {
    let min = hist.first().map_or(0.0, |b| b.0);
    let max = hist.last().map_or(0.0, |b| b.1);
    let total: f64 = hist.iter().map(|b| b.2).sum();
    let mean = if total > 0.0 { hist.iter().map(|b| (b.0 + b.1) / 2.0 * b.2).sum::<f64>() / total } else { 0.0 };
    let median = (min + max) / 2.0;
    FeatureStats {
        name: name.into(),
        kind,
        count,
        missing,
        numeric: Some(NumericStats {
            mean,
            std_dev: 1.0,
            min,
            max,
            zeros: 0,
            nans: 0,
            median,
            quantiles: vec![],
            histogram: Histogram {
                buckets: hist.iter().map(|&(low, high, count)| Bucket { low, high, count }).collect(),
            },
            quantile_histogram: Histogram {
                buckets: vec![
                    Bucket { low: min, high: median, count: count as f64 / 2.0 },
                    Bucket { low: median, high: max, count: count as f64 / 2.0 },
                ],
            },
            rank_error: 0.01,
        }),
        string: None,
    }
}

/// A string feature with exact `distinct` and these top values; average length 4.5.
pub(crate) fn text(name: &str, count: u64, missing: u64, distinct: u64, top: &[(&str, u64)]) -> FeatureStats {
    FeatureStats {
        name: name.into(),
        kind: FeatureKind::String,
        count,
        missing,
        numeric: None,
        string: Some(StringStats {
            distinct,
            distinct_exact: true,
            top: top.iter().map(|(v, c)| ValueCount { value: v.to_string(), count: *c }).collect(),
            avg_length: 4.5,
        }),
    }
}

/// A whole split.
pub(crate) fn dataset(split: &str, rows: u64, features: Vec<FeatureStats>) -> DatasetStats {
    DatasetStats { split: split.into(), slice: None, num_examples: rows, features }
}

/// A slice of a split.
pub(crate) fn slice(split: &str, column: &str, value: &str, rows: u64, features: Vec<FeatureStats>) -> DatasetStats {
    DatasetStats {
        split: split.into(),
        slice: Some(Slice { column: column.into(), value: value.into(), is_null: false }),
        num_examples: rows,
        features,
    }
}

/// 100 trips: `fare` (float, [0, 40), 4 buckets), `passengers` (int, 1..=4, 5 missing),
/// `payment_type` (string: Credit 60, Cash 40), `tips` (float, the label).
pub(crate) fn taxi(split: &str) -> DatasetStats {
    dataset(
        split,
        100,
        vec![
            num(
                "fare",
                FeatureKind::Float,
                100,
                0,
                &[(0.0, 10.0, 40.0), (10.0, 20.0, 30.0), (20.0, 30.0, 20.0), (30.0, 40.0, 10.0)],
            ),
            num("passengers", FeatureKind::Int, 95, 5, &[(1.0, 2.5, 80.0), (2.5, 4.0, 15.0)]),
            text("payment_type", 100, 0, 2, &[("Credit", 60), ("Cash", 40)]),
            num("tips", FeatureKind::Float, 100, 0, &[(0.0, 5.0, 70.0), (5.0, 10.0, 30.0)]),
        ],
    )
}

/// Statistics of these datasets.
pub(crate) fn statistics(datasets: Vec<DatasetStats>) -> Statistics {
    Statistics { format: crate::FORMAT, datasets }
}
