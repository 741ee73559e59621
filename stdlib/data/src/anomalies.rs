//! The Anomalies artifact: what validating statistics against a schema, a previous span
//! (drift) and serving data (skew) found, as the `anomalies.json` part holds it.

use serde::{Deserialize, Serialize};

/// The `anomalies.json` part of an Anomalies artifact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Anomalies {
    /// Layout version ([`crate::FORMAT`]).
    pub format: u32,
    /// The splits checked.
    pub splits: Vec<String>,
    /// Everything wrong, in feature order.
    pub anomalies: Vec<Anomaly>,
    /// Distances between this span and the previous one, for the features given a threshold.
    #[serde(default)]
    pub drift: Vec<Distance>,
    /// Distances between training and serving data, for the features given a threshold.
    #[serde(default)]
    pub skew: Vec<Distance>,
    /// Problems of the validation's configuration rather than of the data: a drift or skew
    /// threshold for a feature that is nowhere, a split or environment that does not exist.
    /// They are not anomalies (they never fail the step) but are shown with them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// One anomaly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    /// What is wrong, as a stable code (TFDV's names where TFDV has one).
    pub code: AnomalyCode,
    /// The feature (empty for dataset-level anomalies).
    pub feature: String,
    /// The split it was found in.
    pub split: String,
    /// One sentence for the user, with the numbers.
    pub description: String,
    /// How serious it is.
    pub severity: Severity,
}

/// How serious an anomaly is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Fails the step when it is set to stop on anomalies.
    Error,
    /// Reported only.
    Warning,
}

/// The kinds of anomaly, named as TFDV names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AnomalyCode {
    /// A feature of the schema is not in the data.
    SchemaMissingColumn,
    /// A feature in the data is not in the schema.
    SchemaNewColumn,
    /// The feature's type differs from the schema's.
    UnexpectedDataType,
    /// Fewer rows have the feature than the schema's `min_fraction`.
    FeatureTypeLowFractionPresent,
    /// Fewer rows have the feature than the schema's `min_count`.
    FeatureTypeLowNumberPresent,
    /// String values outside the schema's domain.
    EnumTypeUnexpectedStringValues,
    /// Int values below the domain's minimum.
    IntTypeSmallInt,
    /// Int values above the domain's maximum.
    IntTypeBigInt,
    /// Float values below the domain's minimum.
    FloatTypeSmallFloat,
    /// Float values above the domain's maximum.
    FloatTypeBigFloat,
    /// NaN in a float feature whose domain does not allow it.
    FloatTypeHasNan,
    /// A feature the schema excludes from this environment is present (a label at serving).
    SchemaTrainingServingSkew,
    /// No rows at all.
    DatasetLowNumExamples,
    /// L-infinity distance above its threshold (drift or skew).
    ComparatorLInftyHigh,
    /// Jensen-Shannon divergence above its threshold (drift or skew).
    ComparatorJensenShannonDivergenceHigh,
    /// Normalized absolute difference above its threshold (drift or skew).
    ComparatorNormalizedAbsoluteDifferenceHigh,
}

impl AnomalyCode {
    /// The code as written in the JSON: `SCHEMA_MISSING_COLUMN`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyCode::SchemaMissingColumn => "SCHEMA_MISSING_COLUMN",
            AnomalyCode::SchemaNewColumn => "SCHEMA_NEW_COLUMN",
            AnomalyCode::UnexpectedDataType => "UNEXPECTED_DATA_TYPE",
            AnomalyCode::FeatureTypeLowFractionPresent => "FEATURE_TYPE_LOW_FRACTION_PRESENT",
            AnomalyCode::FeatureTypeLowNumberPresent => "FEATURE_TYPE_LOW_NUMBER_PRESENT",
            AnomalyCode::EnumTypeUnexpectedStringValues => "ENUM_TYPE_UNEXPECTED_STRING_VALUES",
            AnomalyCode::IntTypeSmallInt => "INT_TYPE_SMALL_INT",
            AnomalyCode::IntTypeBigInt => "INT_TYPE_BIG_INT",
            AnomalyCode::FloatTypeSmallFloat => "FLOAT_TYPE_SMALL_FLOAT",
            AnomalyCode::FloatTypeBigFloat => "FLOAT_TYPE_BIG_FLOAT",
            AnomalyCode::FloatTypeHasNan => "FLOAT_TYPE_HAS_NAN",
            AnomalyCode::SchemaTrainingServingSkew => "SCHEMA_TRAINING_SERVING_SKEW",
            AnomalyCode::DatasetLowNumExamples => "DATASET_LOW_NUM_EXAMPLES",
            AnomalyCode::ComparatorLInftyHigh => "COMPARATOR_L_INFTY_HIGH",
            AnomalyCode::ComparatorJensenShannonDivergenceHigh => "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH",
            AnomalyCode::ComparatorNormalizedAbsoluteDifferenceHigh => "COMPARATOR_NORMALIZED_ABSOLUTE_DIFFERENCE_HIGH",
        }
    }
}

impl Severity {
    /// `error` or `warning`, as written in the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A distance between two distributions of one feature.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Distance {
    /// The feature.
    pub feature: String,
    /// How it was measured.
    pub measure: Measure,
    /// The distance.
    pub value: f64,
    /// The threshold it was compared with.
    pub threshold: f64,
    /// Whether `value > threshold`.
    pub exceeded: bool,
}

/// A distance measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// The largest difference between the frequencies of any one value (categorical).
    LInfinity,
    /// Jensen-Shannon divergence (base 2, in `[0, 1]`) between histograms (numeric).
    JensenShannon,
    /// Half the sum of absolute differences between frequencies (in `[0, 1]`).
    NormalizedAbsoluteDifference,
}

impl Measure {
    /// The name used in messages: `L-infinity distance`, `Jensen-Shannon divergence`,
    /// `normalized absolute difference`.
    pub fn name(self) -> &'static str {
        match self {
            Measure::LInfinity => "L-infinity distance",
            Measure::JensenShannon => "Jensen-Shannon divergence",
            Measure::NormalizedAbsoluteDifference => "normalized absolute difference",
        }
    }

    /// The anomaly reported when this measure exceeds its threshold.
    pub fn code(self) -> AnomalyCode {
        match self {
            Measure::LInfinity => AnomalyCode::ComparatorLInftyHigh,
            Measure::JensenShannon => AnomalyCode::ComparatorJensenShannonDivergenceHigh,
            Measure::NormalizedAbsoluteDifference => AnomalyCode::ComparatorNormalizedAbsoluteDifferenceHigh,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_print_as_they_serialize() {
        let all = [
            AnomalyCode::SchemaMissingColumn,
            AnomalyCode::SchemaNewColumn,
            AnomalyCode::UnexpectedDataType,
            AnomalyCode::FeatureTypeLowFractionPresent,
            AnomalyCode::FeatureTypeLowNumberPresent,
            AnomalyCode::EnumTypeUnexpectedStringValues,
            AnomalyCode::IntTypeSmallInt,
            AnomalyCode::IntTypeBigInt,
            AnomalyCode::FloatTypeSmallFloat,
            AnomalyCode::FloatTypeBigFloat,
            AnomalyCode::FloatTypeHasNan,
            AnomalyCode::SchemaTrainingServingSkew,
            AnomalyCode::DatasetLowNumExamples,
            AnomalyCode::ComparatorLInftyHigh,
            AnomalyCode::ComparatorJensenShannonDivergenceHigh,
            AnomalyCode::ComparatorNormalizedAbsoluteDifferenceHigh,
        ];
        for c in all {
            assert_eq!(serde_json::to_value(c).unwrap(), serde_json::Value::String(c.as_str().into()));
        }
        for s in [Severity::Error, Severity::Warning] {
            assert_eq!(serde_json::to_value(s).unwrap(), serde_json::Value::String(s.as_str().into()));
        }
    }
}
