//! The Schema artifact: what the data of a pipeline must look like, as the `schema.json` part
//! holds it. Inferred from statistics by `infer_schema`, or written by hand and pinned with
//! `import_schema`; the JSON layout is meant to be read and edited.

use crate::stats::FeatureKind;
use serde::{Deserialize, Serialize};

/// The `schema.json` part of a Schema artifact.
///
/// Every type here refuses unknown fields, so that a misspelt key in a hand-edited file is an
/// error rather than a constraint silently left out (see `infer::parse_schema`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    /// Layout version ([`crate::FORMAT`]).
    pub format: u32,
    /// Environments every feature is expected in unless it says otherwise, such as
    /// `["TRAINING", "SERVING"]`.
    #[serde(default)]
    pub default_environments: Vec<String>,
    /// The features, in table order.
    pub features: Vec<FeatureSchema>,
}

impl Schema {
    /// The feature named `name`.
    pub fn feature(&self, name: &str) -> Option<&FeatureSchema> {
        self.features.iter().find(|f| f.name == name)
    }
}

/// What one feature must look like.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSchema {
    /// The column name.
    pub name: String,
    /// Its kind.
    #[serde(rename = "type")]
    pub kind: FeatureKind,
    /// How often it must have a value.
    #[serde(default)]
    pub presence: Presence,
    /// Values each example has: always exactly one for a column of a table (null counts as
    /// zero); kept for TFDV users who read schemas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_count: Option<ValueCount>,
    /// The allowed values or range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<Domain>,
    /// Environments where the feature is not expected (`SERVING` for a label).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_in_environment: Vec<String>,
    /// A note for the people who edit the schema.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// Presence constraints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Presence {
    /// The smallest fraction of rows that must have a value (1.0: required).
    pub min_fraction: f64,
    /// The smallest number of rows that must have a value.
    #[serde(default)]
    pub min_count: u64,
}

impl Default for Presence {
    fn default() -> Presence {
        Presence { min_fraction: 0.0, min_count: 0 }
    }
}

/// How many values an example has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueCount {
    /// At least.
    pub min: u64,
    /// At most.
    pub max: u64,
}

/// The values a feature may take.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Domain {
    /// A categorical string feature: exactly these values.
    Strings {
        /// The allowed values, sorted.
        values: Vec<String>,
    },
    /// An int feature within `[min, max]`.
    Int {
        /// Smallest allowed value.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<i64>,
        /// Largest allowed value.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<i64>,
    },
    /// A float feature within `[min, max]`.
    Float {
        /// Smallest allowed value.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        /// Largest allowed value.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
        /// Whether NaN is allowed.
        #[serde(default = "yes", skip_serializing_if = "Clone::clone")]
        allow_nan: bool,
    },
}

impl Domain {
    /// The `kind` tag as written in the JSON: `strings`, `int` or `float`.
    pub fn name(&self) -> &'static str {
        match self {
            Domain::Strings { .. } => "strings",
            Domain::Int { .. } => "int",
            Domain::Float { .. } => "float",
        }
    }
}

fn yes() -> bool {
    true
}
