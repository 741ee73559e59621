//! The TransformGraph: a fitted transform, self-contained and versioned. It holds the typed
//! program (inputs read, one expression per output feature) with every analyzer already
//! replaced by its fitted constants, plus a record of what each analyzer learned and from how
//! many training rows. Stored as JSON; [`CompiledTransform::from_json`] checks the format
//! version and compiles it again, so the transform step, evaluation, batch inference and
//! serving all run the same machine code for the same graph.
//!
//! Produced by [`crate::fit::fit`]; applied by [`CompiledTransform::apply`].

use crate::compile::Program;
use crate::error::{Result, TransformError};
use crate::ir::{Expr, Input, Output, ProgramIr, Type};
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, ArrayRef, Float64Array, RecordBatch, RecordBatchOptions};
use arrow_schema::{DataType, Field, Schema};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The `format` field of every graph.
pub const FORMAT: &str = "mlp.transform_graph";

/// The graph format version this build writes and reads. A change that older readers would
/// misread bumps it.
pub const VERSION: u32 = 1;

/// One output feature of a graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Feature {
    /// The output column's name.
    pub name: String,
    /// Its type (`float64`, `int64` or `boolean`).
    #[serde(rename = "type")]
    pub ty: Type,
    /// The fitted expression.
    pub expr: Expr,
    /// For a categorical feature (`bucketize`, `quantile_bucket`, `vocabulary`,
    /// `hash_bucket`, `cross`), the number of values it takes: `0..categories`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<u64>,
    /// The feature's expression as written in the feature block.
    pub source: String,
}

/// What an analyzer learned from the training split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fitted {
    /// `zscore(x)`: `(x - mean) / std_dev` (or `x - mean` when `std_dev` is 0).
    Zscore {
        /// Mean of the finite training values.
        #[serde(with = "crate::ir::json_f64")]
        mean: f64,
        /// Population standard deviation of the finite training values.
        #[serde(with = "crate::ir::json_f64")]
        std_dev: f64,
    },
    /// `scale01(x)`: `(x - min) / (max - min)`, or 0.5 when `max == min` (or no values).
    Scale01 {
        /// Smallest finite training value.
        #[serde(with = "crate::ir::json_f64")]
        min: f64,
        /// Largest finite training value.
        #[serde(with = "crate::ir::json_f64")]
        max: f64,
    },
    /// `quantile_bucket(x, buckets = n)`: `bucketize(x, boundaries)`.
    QuantileBucket {
        /// Buckets asked for.
        buckets: u64,
        /// The distinct boundaries (at most `buckets - 1`).
        #[serde(with = "crate::ir::json_f64s")]
        boundaries: Vec<f64>,
    },
    /// `vocabulary(x, top = k)`: the position in `values`, or `values.len()` for others.
    Vocabulary {
        /// The cap asked for (`None`: every value seen).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        top: Option<u64>,
        /// The kept values, most frequent first (ties in string order).
        values: Vec<String>,
        /// How often each kept value occurs in the training split.
        counts: Vec<u64>,
        /// Distinct values seen in training.
        distinct: u64,
    },
}

/// One fitted analyzer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Analyzer {
    /// The feature whose expression holds it.
    pub feature: String,
    /// The analyzer call as written (`zscore(trip_miles)`).
    pub call: String,
    /// Training values it was fitted on (non-null; finite for numeric analyzers).
    pub values: u64,
    /// What it learned.
    pub fitted: Fitted,
}

/// A fitted, self-contained transform.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransformGraph {
    /// Always [`FORMAT`].
    pub format: String,
    /// The format version ([`VERSION`]).
    pub version: u32,
    /// The columns the transform reads, with the types it reads them as.
    pub inputs: Vec<Input>,
    /// The output features, in the order of the output columns.
    pub features: Vec<Feature>,
    /// String-valued features of the block: used by other features, not outputs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub intermediates: Vec<String>,
    /// Every analyzer, in fitting order.
    #[serde(default)]
    pub analyzers: Vec<Analyzer>,
    /// Rows of the training data it was fitted on.
    pub fitted_rows: u64,
}

impl TransformGraph {
    /// The graph as pretty JSON (stable: the same graph always gives the same bytes).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// Parses a graph, checking its format and version.
    pub fn from_json(json: &str) -> Result<TransformGraph> {
        let v: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| TransformError::Invalid(format!("the transform graph is not JSON: {e}")))?;
        match v.get("format").and_then(|f| f.as_str()) {
            Some(FORMAT) => {}
            Some(other) => {
                return Err(TransformError::Invalid(format!(
                    "not a transform graph: its format is `{other}`, expected `{FORMAT}`"
                )));
            }
            None => {
                return Err(TransformError::Invalid(format!(
                    "not a transform graph: no `format` field (expected `{FORMAT}`)"
                )));
            }
        }
        match v.get("version").and_then(|f| f.as_u64()) {
            Some(x) if x == u64::from(VERSION) => {}
            Some(x) if x > u64::from(VERSION) => {
                return Err(TransformError::Invalid(format!(
                    "the transform graph has format version {x}, newer than this mlp reads ({VERSION}): upgrade mlp, or fit the transform again with this version"
                )));
            }
            Some(x) => {
                return Err(TransformError::Invalid(format!(
                    "the transform graph has format version {x}, which this mlp no longer reads ({VERSION}): fit the transform again"
                )));
            }
            None => return Err(TransformError::Invalid("the transform graph has no `version`".to_string())),
        }
        serde_json::from_value(v).map_err(|e| TransformError::Invalid(format!("the transform graph is malformed: {e}")))
    }

    /// A readable summary: every feature with its type, its categories and its expression as
    /// written, then what each analyzer learned.
    pub fn to_text(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "transform: {} features from {} columns, fitted on {} rows",
            self.features.len(),
            self.inputs.len(),
            self.fitted_rows
        );
        let width = self.features.iter().map(|f| f.name.len()).max().unwrap_or(0);
        for f in &self.features {
            let kind = match f.categories {
                Some(n) => format!("{n} categories"),
                None => f.ty.to_string(),
            };
            let _ = writeln!(s, "  {:width$}  {:14}  = {}", f.name, kind, f.source);
        }
        if !self.intermediates.is_empty() {
            let _ = writeln!(s, "  (string intermediates: {})", self.intermediates.join(", "));
        }
        if !self.analyzers.is_empty() {
            let _ = writeln!(s, "fitted:");
        }
        let fmt = |x: f64| format!("{x:.6}").trim_end_matches('0').trim_end_matches('.').to_string();
        for a in &self.analyzers {
            let what = match &a.fitted {
                Fitted::Zscore { mean, std_dev } => format!("mean {}, std dev {}", fmt(*mean), fmt(*std_dev)),
                Fitted::Scale01 { min, max } => format!("min {}, max {}", fmt(*min), fmt(*max)),
                Fitted::QuantileBucket { boundaries, .. } => {
                    let b: Vec<String> = boundaries.iter().map(|x| fmt(*x)).collect();
                    format!("boundaries [{}]", b.join(", "))
                }
                Fitted::Vocabulary { values, distinct, .. } => {
                    let head: Vec<String> = values.iter().take(5).map(|v| format!("{v:?}")).collect();
                    format!(
                        "{} of {distinct} values kept: {}{}",
                        values.len(),
                        head.join(", "),
                        if values.len() > 5 { ", ..." } else { "" }
                    )
                }
            };
            let _ = writeln!(s, "  {:width$}  {} over {} values: {what}", a.feature, a.call, a.values);
        }
        s
    }

    /// This graph without the features `drop` (a label, for serving, where the columns it reads
    /// do not exist), and without the inputs only they read. Unknown names are an error.
    pub fn without(&self, drop: &[&str]) -> Result<TransformGraph> {
        for d in drop {
            if !self.features.iter().any(|f| f.name == *d) {
                return Err(TransformError::Invalid(format!("the transform has no feature `{d}` to leave out")));
            }
        }
        let features: Vec<Feature> =
            self.features.iter().filter(|f| !drop.contains(&f.name.as_str())).cloned().collect();
        let (inputs, features) = crate::fit::prune_inputs(self.inputs.clone(), features);
        let analyzers = self.analyzers.iter().filter(|a| !drop.contains(&a.feature.as_str())).cloned().collect();
        Ok(TransformGraph { inputs, features, analyzers, ..self.clone() })
    }

    /// The program computing every output feature.
    pub fn program(&self) -> ProgramIr {
        ProgramIr {
            inputs: self.inputs.clone(),
            outputs: self.features.iter().map(|f| Output { name: f.name.clone(), expr: f.expr.clone() }).collect(),
        }
    }
}

/// A graph compiled to native code, ready to apply.
#[derive(Debug)]
pub struct CompiledTransform {
    graph: TransformGraph,
    program: Program,
}

impl CompiledTransform {
    /// Compiles `graph` (type checking it again: a hand-edited graph is checked like a fitted one).
    pub fn new(graph: TransformGraph) -> Result<CompiledTransform> {
        let program = Program::compile(graph.program())?;
        for (f, ty) in graph.features.iter().zip(program.output_types()) {
            if f.ty != *ty {
                return Err(TransformError::Invalid(format!(
                    "feature `{}` is declared {} but its expression is {ty}",
                    f.name, f.ty
                )));
            }
        }
        Ok(CompiledTransform { graph, program })
    }

    /// Parses and compiles a stored graph.
    pub fn from_json(json: &str) -> Result<CompiledTransform> {
        CompiledTransform::new(TransformGraph::from_json(json)?)
    }

    /// The graph.
    pub fn graph(&self) -> &TransformGraph {
        &self.graph
    }

    /// The compiled program.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// The features of `batch`: one column per output feature, in order.
    pub fn apply(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        self.program.run(batch)
    }

    /// The features of `batch` with every categorical feature one-hot encoded: a categorical
    /// feature `f` with `n` categories becomes `n` Float64 columns `f=0` .. `f={n-1}` (all
    /// zeros where `f` is null); other features become one Float64 column each (booleans 1/0,
    /// nulls kept). The columns a linear model or a neural network takes.
    pub fn apply_one_hot(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let out = self.apply(batch)?;
        one_hot(&self.graph, &out)
    }
}

/// One-hot encodes the features `features` computed by `graph` (see
/// [`CompiledTransform::apply_one_hot`]).
pub fn one_hot(graph: &TransformGraph, features: &RecordBatch) -> Result<RecordBatch> {
    let rows = features.num_rows();
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for (f, col) in graph.features.iter().zip(features.columns()) {
        match f.categories {
            Some(n) if f.ty == Type::Int64 => {
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                if n > 1 << 20 || n.saturating_mul(rows) > 1 << 28 {
                    return Err(TransformError::Invalid(format!(
                        "feature `{}` has {n} categories, too many to one-hot encode {rows} rows as dense columns (at most {} cells per feature); use fewer buckets or a smaller vocabulary",
                        f.name,
                        1u64 << 28
                    )));
                }
                let ints = col.as_primitive::<Int64Type>();
                let mut columns = vec![vec![0f64; rows]; n];
                for (r, v) in ints.iter().enumerate() {
                    if let Some(k) = v.and_then(|k| usize::try_from(k).ok()).filter(|k| *k < n) {
                        columns[k][r] = 1.0;
                    }
                }
                for (k, c) in columns.into_iter().enumerate() {
                    fields.push(Field::new(format!("{}={k}", f.name), DataType::Float64, false));
                    arrays.push(Arc::new(Float64Array::from(c)));
                }
            }
            _ => {
                let c = arrow_cast::cast(col, &DataType::Float64).map_err(|e| TransformError::Arrow(e.to_string()))?;
                fields.push(Field::new(&f.name, DataType::Float64, c.null_count() > 0));
                arrays.push(c);
            }
        }
    }
    RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        arrays,
        &RecordBatchOptions::new().with_row_count(Some(rows)),
    )
    .map_err(|e| TransformError::Arrow(e.to_string()))
}
