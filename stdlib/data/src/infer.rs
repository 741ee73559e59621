//! Schemas from statistics and from files: [`infer_schema`] is the logic of the `infer_schema`
//! component (a first schema from the statistics of one split), [`parse_schema`] that of
//! `import_schema` (a curated, hand-edited `schema.json`, checked with messages that say where
//! and how to fix it).
//!
//! # What is inferred
//!
//! Following TFDV's `infer_schema`, for each feature of the statistics, in table order:
//!
//! - **type**: the feature's kind.
//! - **presence**: a feature that had a value in every row (`missing == 0`, at least one
//!   row) is *required*: `min_fraction = 1, min_count = 1`. Any other feature is *optional*:
//!   `min_fraction = 0, min_count = 1` (it must appear at least once), or `min_count = 0` when
//!   it had no value at all in these statistics (so that the schema accepts the data it came
//!   from).
//! - **value_count**: `{min: 1, max: 1}` (a table column holds one value per row).
//! - **domain** of a string feature, with `infer_domains`: the set of its values, when that
//!   set is known exactly and small: `distinct` is exact, at least 1, at most
//!   `max_domain_size`, and `top` lists every distinct value (`top.len() == distinct`). A
//!   domain built from a partial `top` would reject values merely absent from the top-k, so
//!   none is inferred then.
//! - **range** of an int or float feature: none by default (TFDV does not infer ranges); with
//!   `infer_ranges`, the observed `[min, max]` (int bounds rounded outwards). A float domain
//!   inferred this way allows NaN.
//! - **environments**: with `not_at_serving` non-empty (typically the label), the schema's
//!   `default_environments` are `["TRAINING", "SERVING"]` and each named feature gets
//!   `not_in_environment: ["SERVING"]`. Names in `not_at_serving` that are not features of the
//!   statistics are ignored.

use crate::FORMAT;
use crate::schema::{Domain, FeatureSchema, Presence, Schema, ValueCount};
use crate::stats::{DatasetStats, FeatureKind, FeatureStats};
use crate::util::suggest;
use serde::Deserialize;
use std::fmt;

/// The environment of training data, in `default_environments`.
pub const TRAINING: &str = "TRAINING";
/// The environment of serving data, in `default_environments` and `not_in_environment`.
pub const SERVING: &str = "SERVING";

/// Options of [`infer_schema`] (the parameters of the `infer_schema` component).
#[derive(Clone, Debug, PartialEq)]
pub struct InferOptions {
    /// Whether string features with few distinct values get a domain. Default true.
    pub infer_domains: bool,
    /// Most distinct values a string feature may have and still get a domain. Default 100.
    pub max_domain_size: usize,
    /// Whether int and float features get a range domain from their observed min and max.
    /// Default false, as in TFDV: a range from one sample rejects any new extreme.
    pub infer_ranges: bool,
    /// Features absent at serving, such as the label: they are excluded from `SERVING`.
    pub not_at_serving: Vec<String>,
}

impl Default for InferOptions {
    fn default() -> InferOptions {
        InferOptions { infer_domains: true, max_domain_size: 100, infer_ranges: false, not_at_serving: Vec::new() }
    }
}

/// A schema inferred from the statistics of one split (see the module documentation for the
/// rules).
pub fn infer_schema(stats: &DatasetStats, options: &InferOptions) -> Schema {
    let features = stats.features.iter().map(|f| infer_feature(f, options)).collect();
    let default_environments =
        if options.not_at_serving.is_empty() { Vec::new() } else { vec![TRAINING.to_string(), SERVING.to_string()] };
    Schema { format: FORMAT, default_environments, features }
}

fn infer_feature(f: &FeatureStats, options: &InferOptions) -> FeatureSchema {
    let presence = if f.count > 0 && f.missing == 0 {
        Presence { min_fraction: 1.0, min_count: 1 }
    } else {
        Presence { min_fraction: 0.0, min_count: u64::from(f.count > 0) }
    };
    let not_in_environment =
        if options.not_at_serving.contains(&f.name) { vec![SERVING.to_string()] } else { Vec::new() };
    FeatureSchema {
        name: f.name.clone(),
        kind: f.kind,
        presence,
        value_count: Some(ValueCount { min: 1, max: 1 }),
        domain: infer_domain(f, options),
        not_in_environment,
        description: String::new(),
    }
}

fn infer_domain(f: &FeatureStats, options: &InferOptions) -> Option<Domain> {
    match f.kind {
        FeatureKind::String => {
            let s = f.string.as_ref()?;
            let known = options.infer_domains
                && s.distinct_exact
                && s.distinct > 0
                && s.distinct <= options.max_domain_size as u64
                && s.top.len() as u64 == s.distinct;
            if !known {
                return None;
            }
            let mut values: Vec<String> = s.top.iter().map(|v| v.value.clone()).collect();
            values.sort();
            values.dedup();
            Some(Domain::Strings { values })
        }
        FeatureKind::Int | FeatureKind::Float if options.infer_ranges => {
            let n = f.numeric.as_ref()?;
            if !(n.min.is_finite() && n.max.is_finite()) || n.min > n.max {
                return None;
            }
            Some(if f.kind == FeatureKind::Int {
                Domain::Int { min: Some(n.min.floor() as i64), max: Some(n.max.ceil() as i64) }
            } else {
                Domain::Float { min: Some(n.min), max: Some(n.max), allow_nan: true }
            })
        }
        _ => None,
    }
}

/// Why a schema file was refused by [`parse_schema`]. Its `Display` is one message for the
/// user: where (line and column for what the JSON reader found; the feature otherwise), what,
/// and how to fix it.
#[derive(Clone, Debug, PartialEq)]
pub enum SchemaError {
    /// The text is not JSON.
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the JSON reader said.
        message: String,
    },
    /// A key that the layout does not have, or a value not among the allowed ones (a `type`
    /// or a domain `kind`).
    Unknown {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// `field` or `value`.
        what: &'static str,
        /// The key or value found.
        name: String,
        /// The keys or values allowed there.
        expected: Vec<String>,
        /// The allowed one it was probably meant to be.
        suggestion: Option<String>,
    },
    /// JSON that does not fit the layout: a missing field, a value of the wrong type.
    Invalid {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the JSON reader said.
        message: String,
    },
    /// The file was written by a newer version of mlp.
    NewerFormat {
        /// The file's `format`.
        found: u32,
        /// The newest format this version reads ([`crate::FORMAT`]).
        supported: u32,
    },
    /// Two features with the same name.
    DuplicateFeature {
        /// The name.
        name: String,
        /// 0-based position of the first in `features`.
        first: usize,
        /// 0-based position of the second.
        second: usize,
    },
    /// A `presence.min_fraction` outside `[0, 1]`.
    MinFractionOutOfRange {
        /// The feature.
        feature: String,
        /// The value found.
        value: f64,
    },
    /// An int domain whose `min` is greater than its `max`.
    IntRangeInverted {
        /// The feature.
        feature: String,
        /// The domain's min.
        min: i64,
        /// The domain's max.
        max: i64,
    },
    /// A float domain whose `min` is greater than its `max`.
    FloatRangeInverted {
        /// The feature.
        feature: String,
        /// The domain's min.
        min: f64,
        /// The domain's max.
        max: f64,
    },
    /// A domain of a kind the feature's type cannot have (`strings` on a float feature).
    DomainMismatch {
        /// The feature.
        feature: String,
        /// Its type.
        kind: FeatureKind,
        /// The domain's `kind`.
        domain: &'static str,
    },
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaError::Syntax { line, column, message } => write!(
                f,
                "line {line}, column {column}: the schema is not valid JSON ({message}); look for a missing comma, \
                 quote or bracket just before this point"
            ),
            SchemaError::Unknown { line, column, what, name, expected, suggestion } => {
                write!(f, "line {line}, column {column}: unknown {what} `{name}`")?;
                match suggestion {
                    Some(s) => write!(f, "; did you mean `{s}`?")?,
                    None if *what == "field" => write!(f, "; remove it")?,
                    None => {}
                }
                if !expected.is_empty() {
                    let list: Vec<String> = expected.iter().map(|e| format!("`{e}`")).collect();
                    let what = if *what == "field" { "the fields here are" } else { "expected one of" };
                    write!(f, " ({what} {})", list.join(", "))?;
                }
                Ok(())
            }
            SchemaError::Invalid { line, column, message } => {
                write!(f, "line {line}, column {column}: {message}")?;
                if let Some(field) = message.strip_prefix("missing field `").and_then(|r| r.strip_suffix('`')) {
                    if field == "format" {
                        write!(f, "; add `\"format\": {FORMAT}` to the top-level object")
                    } else {
                        write!(f, "; add `{field}` (compare with a schema written by `infer_schema`)")
                    }
                } else {
                    write!(f, "; compare with a schema written by `infer_schema`")
                }
            }
            SchemaError::NewerFormat { found, supported } => write!(
                f,
                "the schema has format {found}, but this version of mlp reads format {supported} at most; upgrade \
                 mlp, or write the schema with this version (`infer_schema`) and edit that"
            ),
            SchemaError::DuplicateFeature { name, first, second } => write!(
                f,
                "feature `{name}` is declared twice (entries {} and {} of `features`); remove one of them, or rename it",
                first + 1,
                second + 1
            ),
            SchemaError::MinFractionOutOfRange { feature, value } => write!(
                f,
                "feature `{feature}`: presence.min_fraction is {value}, outside [0, 1]; use 1 for a feature every row \
                 must have, 0 for an optional one, or a fraction in between"
            ),
            SchemaError::IntRangeInverted { feature, min, max } => {
                write!(f, "feature `{feature}`: the domain's min ({min}) is greater than its max ({max}); swap them")
            }
            SchemaError::FloatRangeInverted { feature, min, max } => {
                write!(f, "feature `{feature}`: the domain's min ({min}) is greater than its max ({max}); swap them")
            }
            SchemaError::DomainMismatch { feature, kind, domain } => {
                let fit = match kind {
                    FeatureKind::String => "a `strings` domain",
                    FeatureKind::Int => "an `int` domain",
                    FeatureKind::Float => "a `float` domain",
                    FeatureKind::Bool => "no domain",
                };
                write!(
                    f,
                    "feature `{feature}` has type {} but a `{domain}` domain; a {} feature takes {fit}: change the \
                     domain or the type",
                    kind.name(),
                    kind.name()
                )
            }
        }
    }
}

impl std::error::Error for SchemaError {}

/// Reads a schema file (the layout [`infer_schema`] writes, as JSON), refusing a newer
/// `format`, unknown fields, duplicate feature names, a `min_fraction` outside `[0, 1]`, a range
/// whose min is above its max, and a domain that does not fit the feature's type. The first
/// problem found is returned.
pub fn parse_schema(text: &str) -> Result<Schema, SchemaError> {
    // The format first: a newer file may well have fields this version does not know, and
    // "newer format" is then the useful message.
    #[derive(Deserialize)]
    struct Probe {
        #[serde(default)]
        format: Option<u32>,
    }
    if let Ok(Probe { format: Some(found) }) = serde_json::from_str::<Probe>(text)
        && found > FORMAT
    {
        return Err(SchemaError::NewerFormat { found, supported: FORMAT });
    }
    let schema: Schema = serde_json::from_str(text).map_err(json_error)?;
    check_schema(&schema)?;
    Ok(schema)
}

/// The checks of [`parse_schema`] beyond the JSON layout, on a schema already read.
pub fn check_schema(schema: &Schema) -> Result<(), SchemaError> {
    if schema.format > FORMAT {
        return Err(SchemaError::NewerFormat { found: schema.format, supported: FORMAT });
    }
    for (i, feature) in schema.features.iter().enumerate() {
        if let Some(first) = schema.features[..i].iter().position(|g| g.name == feature.name) {
            return Err(SchemaError::DuplicateFeature { name: feature.name.clone(), first, second: i });
        }
        let p = feature.presence.min_fraction;
        if !(0.0..=1.0).contains(&p) {
            return Err(SchemaError::MinFractionOutOfRange { feature: feature.name.clone(), value: p });
        }
        let Some(domain) = &feature.domain else { continue };
        let fits = matches!(
            (feature.kind, domain),
            (FeatureKind::String, Domain::Strings { .. })
                | (FeatureKind::Int, Domain::Int { .. })
                | (FeatureKind::Float, Domain::Float { .. })
        );
        if !fits {
            return Err(SchemaError::DomainMismatch {
                feature: feature.name.clone(),
                kind: feature.kind,
                domain: domain.name(),
            });
        }
        match *domain {
            Domain::Int { min: Some(min), max: Some(max) } if min > max => {
                return Err(SchemaError::IntRangeInverted { feature: feature.name.clone(), min, max });
            }
            Domain::Float { min: Some(min), max: Some(max), .. } if min > max => {
                return Err(SchemaError::FloatRangeInverted { feature: feature.name.clone(), min, max });
            }
            _ => {}
        }
    }
    Ok(())
}

/// A serde_json error as a [`SchemaError`], its message without serde_json's position suffix.
fn json_error(e: serde_json::Error) -> SchemaError {
    use serde_json::error::Category;
    let (line, column) = (e.line(), e.column());
    let full = e.to_string();
    let suffix = format!(" at line {line} column {column}");
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => SchemaError::Syntax { line, column, message },
        Category::Data => {
            for (prefix, what) in [("unknown field `", "field"), ("unknown variant `", "value")] {
                if let Some(rest) = message.strip_prefix(prefix)
                    && let Some((name, tail)) = rest.split_once('`')
                {
                    // `tail` is ", expected one of `a`, `b`", ", expected `a` or `b`" or
                    // ", there are no fields": the names are every other backtick-quoted piece.
                    let expected: Vec<String> = tail.split('`').skip(1).step_by(2).map(str::to_string).collect();
                    let suggestion = suggest(name, expected.iter().map(String::as_str)).map(str::to_string);
                    return SchemaError::Unknown { line, column, what, name: name.to_string(), expected, suggestion };
                }
            }
            SchemaError::Invalid { line, column, message }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{Bucket, Histogram, NumericStats, StringStats};

    fn numeric(name: &str, kind: FeatureKind, count: u64, missing: u64, min: f64, max: f64) -> FeatureStats {
        FeatureStats {
            name: name.into(),
            kind,
            count,
            missing,
            numeric: Some(NumericStats {
                mean: (min + max) / 2.0,
                std_dev: 1.0,
                min,
                max,
                zeros: 0,
                nans: 0,
                median: (min + max) / 2.0,
                quantiles: vec![min, max],
                histogram: Histogram { buckets: vec![Bucket { low: min, high: max, count: count as f64 }] },
                quantile_histogram: Histogram::default(),
                rank_error: 0.01,
            }),
            string: None,
        }
    }

    fn strings(name: &str, count: u64, missing: u64, distinct: u64, exact: bool, top: &[(&str, u64)]) -> FeatureStats {
        FeatureStats {
            name: name.into(),
            kind: FeatureKind::String,
            count,
            missing,
            numeric: None,
            string: Some(StringStats {
                distinct,
                distinct_exact: exact,
                top: top.iter().map(|(v, c)| crate::stats::ValueCount { value: v.to_string(), count: *c }).collect(),
                avg_length: 4.0,
            }),
        }
    }

    fn taxi() -> DatasetStats {
        DatasetStats {
            split: "train".into(),
            slice: None,
            num_examples: 100,
            features: vec![
                numeric("fare", FeatureKind::Float, 100, 0, 2.5, 90.25),
                numeric("passengers", FeatureKind::Int, 95, 5, 0.0, 6.0),
                strings("payment_type", 100, 0, 3, true, &[("Credit", 60), ("Cash", 30), ("Dispute", 10)]),
                strings("company", 90, 10, 500, true, &[("A", 10), ("B", 5)]),
                strings("short_but_partial", 100, 0, 3, true, &[("x", 90), ("y", 9)]),
                strings("approx", 100, 0, 3, false, &[("x", 90), ("y", 9), ("z", 1)]),
                numeric("never", FeatureKind::Float, 0, 100, f64::NAN, f64::NAN),
                numeric("tips", FeatureKind::Bool, 100, 0, 0.0, 1.0),
            ],
        }
    }

    #[test]
    fn infers_types_presence_and_domains() {
        let schema = infer_schema(&taxi(), &InferOptions::default());
        assert_eq!(schema.format, FORMAT);
        assert!(schema.default_environments.is_empty());
        let names: Vec<&str> = schema.features.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            ["fare", "passengers", "payment_type", "company", "short_but_partial", "approx", "never", "tips"]
        );
        let fare = schema.feature("fare").unwrap();
        assert_eq!(fare.kind, FeatureKind::Float);
        assert_eq!(fare.presence, Presence { min_fraction: 1.0, min_count: 1 });
        assert_eq!(fare.value_count, Some(ValueCount { min: 1, max: 1 }));
        assert_eq!(fare.domain, None);
        assert!(fare.not_in_environment.is_empty());
        let passengers = schema.feature("passengers").unwrap();
        assert_eq!(passengers.kind, FeatureKind::Int);
        assert_eq!(passengers.presence, Presence { min_fraction: 0.0, min_count: 1 });
        assert_eq!(
            schema.feature("payment_type").unwrap().domain,
            Some(Domain::Strings { values: vec!["Cash".into(), "Credit".into(), "Dispute".into()] })
        );
        assert_eq!(schema.feature("company").unwrap().domain, None); // too many values
        assert_eq!(schema.feature("short_but_partial").unwrap().domain, None); // top misses one
        assert_eq!(schema.feature("approx").unwrap().domain, None); // distinct is an estimate
        assert_eq!(schema.feature("never").unwrap().presence, Presence { min_fraction: 0.0, min_count: 0 });
        assert_eq!(schema.feature("tips").unwrap().kind, FeatureKind::Bool);
    }

    #[test]
    fn domain_size_limit_and_switch() {
        let stats = taxi();
        let small = infer_schema(&stats, &InferOptions { max_domain_size: 2, ..InferOptions::default() });
        assert_eq!(small.feature("payment_type").unwrap().domain, None);
        let exact = infer_schema(&stats, &InferOptions { max_domain_size: 3, ..InferOptions::default() });
        assert!(exact.feature("payment_type").unwrap().domain.is_some());
        let off = infer_schema(&stats, &InferOptions { infer_domains: false, ..InferOptions::default() });
        assert!(off.features.iter().all(|f| f.domain.is_none()));
    }

    #[test]
    fn ranges_on_request() {
        let mut stats = taxi();
        stats.features[1] = numeric("passengers", FeatureKind::Int, 95, 5, -0.5, 6.2);
        let schema = infer_schema(&stats, &InferOptions { infer_ranges: true, ..InferOptions::default() });
        assert_eq!(
            schema.feature("fare").unwrap().domain,
            Some(Domain::Float { min: Some(2.5), max: Some(90.25), allow_nan: true })
        );
        assert_eq!(schema.feature("passengers").unwrap().domain, Some(Domain::Int { min: Some(-1), max: Some(7) }));
        assert_eq!(schema.feature("never").unwrap().domain, None); // no values, no range
        assert_eq!(schema.feature("tips").unwrap().domain, None); // bool
    }

    #[test]
    fn label_is_not_at_serving() {
        let options = InferOptions { not_at_serving: vec!["tips".into(), "nowhere".into()], ..Default::default() };
        let schema = infer_schema(&taxi(), &options);
        assert_eq!(schema.default_environments, ["TRAINING", "SERVING"]);
        assert_eq!(schema.feature("tips").unwrap().not_in_environment, ["SERVING"]);
        assert!(schema.feature("fare").unwrap().not_in_environment.is_empty());
        assert!(schema.feature("nowhere").is_none());
    }

    #[test]
    fn inferred_schema_round_trips_through_parse() {
        let options = InferOptions { not_at_serving: vec!["tips".into()], infer_ranges: true, ..Default::default() };
        let schema = infer_schema(&taxi(), &options);
        let text = serde_json::to_string_pretty(&schema).unwrap();
        assert_eq!(parse_schema(&text).unwrap(), schema);
    }

    const GOOD: &str = r#"{
  "format": 1,
  "features": [
    {"name": "fare", "type": "float", "presence": {"min_fraction": 1.0, "min_count": 1}},
    {"name": "payment_type", "type": "string",
     "domain": {"kind": "strings", "values": ["Cash", "Credit"]}}
  ]
}"#;

    #[test]
    fn parses_a_hand_written_schema() {
        let schema = parse_schema(GOOD).unwrap();
        assert_eq!(schema.features.len(), 2);
        assert_eq!(schema.features[1].presence, Presence::default());
        assert_eq!(schema.features[1].value_count, None);
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let text = "{\n  \"format\": 1\n  \"features\": []\n}";
        let e = parse_schema(text).unwrap_err();
        assert_eq!(e, SchemaError::Syntax { line: 3, column: 3, message: "expected `,` or `}`".into() });
        assert_eq!(
            e.to_string(),
            "line 3, column 3: the schema is not valid JSON (expected `,` or `}`); look for a missing comma, quote \
             or bracket just before this point"
        );
    }

    #[test]
    fn unknown_fields_get_a_suggestion() {
        let text = GOOD.replace("\"presence\"", "\"presense\"");
        let e = parse_schema(&text).unwrap_err();
        let SchemaError::Unknown { line, column, what, name, expected, suggestion } = &e else { panic!("{e:?}") };
        assert_eq!((*line, *column, *what, name.as_str()), (4, 48, "field", "presense"));
        assert_eq!(suggestion.as_deref(), Some("presence"));
        assert_eq!(
            expected,
            &["name", "type", "presence", "value_count", "domain", "not_in_environment", "description"]
        );
        assert_eq!(
            e.to_string(),
            "line 4, column 48: unknown field `presense`; did you mean `presence`? (the fields here are `name`, \
             `type`, `presence`, `value_count`, `domain`, `not_in_environment`, `description`)"
        );
        let text = GOOD.replace("\"format\": 1,", "\"format\": 1, \"zzz\": 1,");
        let e = parse_schema(&text).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2, column 20: unknown field `zzz`; remove it (the fields here are `format`, `default_environments`, \
             `features`)"
        );
    }

    #[test]
    fn unknown_types_get_a_suggestion() {
        let text = GOOD.replace("\"type\": \"float\"", "\"type\": \"flaot\"");
        let e = parse_schema(&text).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 4, column 36: unknown value `flaot`; did you mean `float`? (expected one of `int`, `float`, \
             `bool`, `string`)"
        );
    }

    #[test]
    fn missing_fields() {
        let e = parse_schema(r#"{"features": []}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1, column 16: missing field `format`; add `\"format\": 1` to the top-level object"
        );
        let e = parse_schema(r#"{"format": 1, "features": [{"name": "x"}]}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1, column 40: missing field `type`; add `type` (compare with a schema written by `infer_schema`)"
        );
    }

    #[test]
    fn newer_format_first() {
        let text = r#"{"format": 2, "features": [], "something_new": true}"#;
        assert_eq!(parse_schema(text).unwrap_err(), SchemaError::NewerFormat { found: 2, supported: 1 });
        assert_eq!(
            parse_schema(text).unwrap_err().to_string(),
            "the schema has format 2, but this version of mlp reads format 1 at most; upgrade mlp, or write the \
             schema with this version (`infer_schema`) and edit that"
        );
    }

    #[test]
    fn semantic_errors() {
        let dup = r#"{"format": 1, "features": [
            {"name": "a", "type": "int"}, {"name": "b", "type": "int"}, {"name": "a", "type": "float"}]}"#;
        let e = parse_schema(dup).unwrap_err();
        assert_eq!(e, SchemaError::DuplicateFeature { name: "a".into(), first: 0, second: 2 });
        assert_eq!(
            e.to_string(),
            "feature `a` is declared twice (entries 1 and 3 of `features`); remove one of them, or rename it"
        );

        let frac = r#"{"format": 1, "features": [{"name": "a", "type": "int", "presence": {"min_fraction": 1.5}}]}"#;
        let e = parse_schema(frac).unwrap_err();
        assert_eq!(e, SchemaError::MinFractionOutOfRange { feature: "a".into(), value: 1.5 });
        assert_eq!(
            e.to_string(),
            "feature `a`: presence.min_fraction is 1.5, outside [0, 1]; use 1 for a feature every row must have, 0 \
             for an optional one, or a fraction in between"
        );

        let range = r#"{"format": 1, "features": [{"name": "n", "type": "int", "domain": {"kind": "int", "min": 10, "max": 5}}]}"#;
        let e = parse_schema(range).unwrap_err();
        assert_eq!(e, SchemaError::IntRangeInverted { feature: "n".into(), min: 10, max: 5 });
        assert_eq!(e.to_string(), "feature `n`: the domain's min (10) is greater than its max (5); swap them");

        let frange = r#"{"format": 1, "features": [{"name": "x", "type": "float",
            "domain": {"kind": "float", "min": 1.5, "max": 0.5}}]}"#;
        assert_eq!(
            parse_schema(frange).unwrap_err(),
            SchemaError::FloatRangeInverted { feature: "x".into(), min: 1.5, max: 0.5 }
        );

        let mismatch = r#"{"format": 1, "features": [{"name": "x", "type": "float",
            "domain": {"kind": "strings", "values": []}}]}"#;
        let e = parse_schema(mismatch).unwrap_err();
        assert_eq!(
            e.to_string(),
            "feature `x` has type float but a `strings` domain; a float feature takes a `float` domain: change the \
             domain or the type"
        );
    }

    #[test]
    fn unknown_domain_fields_are_refused() {
        let text = r#"{"format": 1, "features": [{"name": "n", "type": "int",
            "domain": {"kind": "int", "minimum": 0}}]}"#;
        let e = parse_schema(text).unwrap_err();
        let SchemaError::Unknown { what, name, suggestion, .. } = &e else { panic!("{e:?}") };
        assert_eq!((*what, name.as_str(), suggestion.as_deref()), ("field", "minimum", None));
        // `minimum` is 4 edits from `min`; a closer typo is caught:
        let text = text.replace("minimum", "mn");
        let SchemaError::Unknown { suggestion, .. } = parse_schema(&text).unwrap_err() else { panic!() };
        assert_eq!(suggestion.as_deref(), Some("min"));
    }
}
