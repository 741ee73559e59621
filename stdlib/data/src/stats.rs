//! The Statistics artifact: per-split (and per-slice) statistics of every feature, as the
//! `statistics.json` part holds them.
//!
//! The profiling kernel (`mlp_kernels::profile`) computes one [`DatasetStats`] per table (and
//! per slice); the `statistics` component gathers them into [`Statistics`]. Everything here is
//! mergeable in the kernel (counts, moments, sketches); this module only holds the results.

use serde::{Deserialize, Deserializer, Serialize};

/// The kind of values a feature holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureKind {
    /// 64-bit integers.
    Int,
    /// 64-bit floats.
    Float,
    /// Booleans (statistics count them as 0 and 1, as TFDV does).
    Bool,
    /// Text, including categorical values.
    String,
}

impl FeatureKind {
    /// Whether statistics of this kind are [`NumericStats`].
    pub fn is_numeric(self) -> bool {
        !matches!(self, FeatureKind::String)
    }

    /// The name used in messages and in `.mlp` documentation: `int`, `float`, `bool`, `string`.
    pub fn name(self) -> &'static str {
        match self {
            FeatureKind::Int => "int",
            FeatureKind::Float => "float",
            FeatureKind::Bool => "bool",
            FeatureKind::String => "string",
        }
    }
}

/// The `statistics.json` part of a Statistics artifact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Statistics {
    /// Layout version ([`crate::FORMAT`]).
    pub format: u32,
    /// One entry per split, then one per slice of each split.
    pub datasets: Vec<DatasetStats>,
}

/// A slice: the rows of a split where `column` has `value`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Slice {
    /// The column sliced by.
    pub column: String,
    /// The value, as text (empty for the slice of null rows).
    pub value: String,
    /// Whether this is the slice of rows where the column is null.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_null: bool,
}

/// Statistics of one table: a split, or a slice of one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetStats {
    /// The split (`train`, `eval`).
    pub split: String,
    /// The slice, for per-slice statistics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slice: Option<Slice>,
    /// Rows.
    pub num_examples: u64,
    /// Every column, in table order.
    pub features: Vec<FeatureStats>,
}

impl DatasetStats {
    /// The display name: `train`, or `train [payment_type = Cash]` for a slice.
    pub fn name(&self) -> String {
        match &self.slice {
            None => self.split.clone(),
            Some(s) if s.is_null => format!("{} [{} is null]", self.split, s.column),
            Some(s) => format!("{} [{} = {}]", self.split, s.column, s.value),
        }
    }

    /// The feature named `name`.
    pub fn feature(&self, name: &str) -> Option<&FeatureStats> {
        self.features.iter().find(|f| f.name == name)
    }
}

impl Statistics {
    /// The whole-split entry (not a slice) of `split`.
    pub fn split(&self, split: &str) -> Option<&DatasetStats> {
        self.datasets.iter().find(|d| d.split == split && d.slice.is_none())
    }

    /// The names of the splits, in order.
    pub fn splits(&self) -> Vec<&str> {
        self.datasets.iter().filter(|d| d.slice.is_none()).map(|d| d.split.as_str()).collect()
    }
}

/// Statistics of one feature (column).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureStats {
    /// The column name.
    pub name: String,
    /// Its kind.
    pub kind: FeatureKind,
    /// Rows where it has a value.
    pub count: u64,
    /// Rows where it is null.
    pub missing: u64,
    /// For int, float and bool features.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numeric: Option<NumericStats>,
    /// For string features.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string: Option<StringStats>,
}

impl FeatureStats {
    /// `count / (count + missing)`: the fraction of rows with a value (1 for an empty table).
    pub fn presence(&self) -> f64 {
        let total = self.count + self.missing;
        if total == 0 { 1.0 } else { self.count as f64 / total as f64 }
    }
}

/// Statistics of a numeric feature. Moments, extremes and zeros are exact; the median,
/// quantiles and both histograms come from a mergeable quantile sketch (KLL) whose rank error
/// is `rank_error` (a value reported as the q-quantile has a true rank within
/// `(q ± rank_error) · count`).
///
/// JSON has no NaN or infinity: a float that is either is written as `null` and read back as
/// NaN (here and in [`Bucket`] and [`StringStats`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NumericStats {
    /// Arithmetic mean of the non-null values (NaN excluded).
    #[serde(deserialize_with = "f64_or_nan")]
    pub mean: f64,
    /// Population standard deviation (divides by the count, as TFDV does).
    #[serde(deserialize_with = "f64_or_nan")]
    pub std_dev: f64,
    /// Smallest value.
    #[serde(deserialize_with = "f64_or_nan")]
    pub min: f64,
    /// Largest value.
    #[serde(deserialize_with = "f64_or_nan")]
    pub max: f64,
    /// Values equal to zero.
    pub zeros: u64,
    /// NaN values (floats only; counted as present but excluded from every other figure).
    #[serde(default)]
    pub nans: u64,
    /// The approximate median.
    #[serde(deserialize_with = "f64_or_nan")]
    pub median: f64,
    /// Approximate quantiles at `i / (len - 1)` for `i` in `0..len` (so the first is the
    /// minimum and the last the maximum): with 10 quantile buckets, 11 boundaries.
    #[serde(deserialize_with = "vec_f64_or_nan")]
    pub quantiles: Vec<f64>,
    /// Buckets of equal width between min and max; counts estimated from the sketch.
    pub histogram: Histogram,
    /// Buckets between consecutive quantiles, each holding about the same count.
    pub quantile_histogram: Histogram,
    /// The sketch's rank error bound, as a fraction of the count.
    #[serde(deserialize_with = "f64_or_nan")]
    pub rank_error: f64,
}

/// Statistics of a string feature.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StringStats {
    /// Distinct values.
    pub distinct: u64,
    /// Whether `distinct` is exact. Past a cap on the values tracked exactly, it is a
    /// HyperLogLog estimate (about 1% relative error) and `top` counts are upper bounds.
    pub distinct_exact: bool,
    /// The most frequent values with their counts, most frequent first; ties by value.
    pub top: Vec<ValueCount>,
    /// Mean length in bytes (of the UTF-8 text), as TFDV reports it.
    #[serde(deserialize_with = "f64_or_nan")]
    pub avg_length: f64,
}

/// A value with its count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueCount {
    /// The value.
    pub value: String,
    /// How many rows have it.
    pub count: u64,
}

/// A histogram.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct Histogram {
    /// Buckets in increasing order; each covers `[low, high)`, the last `[low, high]`.
    pub buckets: Vec<Bucket>,
}

/// One histogram bucket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// Lower bound.
    #[serde(deserialize_with = "f64_or_nan")]
    pub low: f64,
    /// Upper bound.
    #[serde(deserialize_with = "f64_or_nan")]
    pub high: f64,
    /// Rows in it (fractional when estimated from a sketch).
    #[serde(deserialize_with = "f64_or_nan")]
    pub count: f64,
}

// JSON has no NaN or infinity: serde_json writes them as `null`. Every float of the statistics
// reads `null` back as NaN, so that statistics holding one (the mean of a column of `+inf` and
// `-inf`, the extremes of an all-NaN column) still read back instead of failing the reader.
fn f64_or_nan<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

fn vec_f64_or_nan<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    Ok(Vec::<Option<f64>>::deserialize(d)?.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_floats_read_back_as_nan() {
        let b = Bucket { low: f64::NEG_INFINITY, high: f64::NAN, count: 2.0 };
        let text = serde_json::to_string(&b).unwrap();
        assert_eq!(text, r#"{"low":null,"high":null,"count":2.0}"#);
        let back: Bucket = serde_json::from_str(&text).unwrap();
        assert!(back.low.is_nan() && back.high.is_nan());
        assert_eq!(back.count, 2.0);
        let n = NumericStats {
            mean: f64::NAN,
            std_dev: f64::NAN,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            zeros: 0,
            nans: 3,
            median: f64::NAN,
            quantiles: vec![f64::NAN, 1.0],
            histogram: Histogram::default(),
            quantile_histogram: Histogram::default(),
            rank_error: 0.01,
        };
        let back: NumericStats = serde_json::from_str(&serde_json::to_string(&n).unwrap()).unwrap();
        assert!(back.mean.is_nan() && back.min.is_nan() && back.quantiles[0].is_nan());
        assert_eq!(back.quantiles[1], 1.0);
        assert_eq!(back.nans, 3);
    }
}
