//! Trained models, loaded from their artifact (`model.json` plus `weights.safetensors`) and
//! applied to features: the one implementation of a model's forward pass that batch inference
//! and serving share. The trainers (`stdlib/components/train-*`) write the layouts read here.
//!
//! Inputs are the model's numeric features as a `[rows, numeric]` matrix (a missing value
//! already 0) and, per categorical feature, one category index per row (a missing one already
//! the feature's category count). Outputs, one row per input row:
//!
//! - `logistic_regression`: `[rows, 2]`, the probabilities of the label being false and true;
//! - `mlp`, classification: `[rows, classes]`, softmax probabilities in `classes` order;
//! - `mlp` regression and `linear_regression`: `[rows, 1]`, the prediction in the label's
//!   units.
//!
//! [`Model::predict_batch`] is the Arrow side of the same pass: it reads those inputs from a
//! batch of transformed features (the columns the TransformGraph writes) and gives the
//! predictions table that batch inference stores and serving answers with.

use crate::error::{Result, invalid, shape};
use crate::tape::{Params, Tape, Var};
use crate::tensor::Tensor;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{ArrayRef, Float64Array, RecordBatch, RecordBatchOptions};
use arrow_schema::{DataType, Field, Schema};
use serde_json::Value;
use std::sync::Arc;

/// What a model predicts.
#[derive(Clone, Debug, PartialEq)]
pub enum Task {
    /// Class probabilities, for these label values (in output order).
    Classification(Vec<f64>),
    /// A number: the output times `std` plus `mean`.
    Regression {
        /// The label's training mean.
        mean: f64,
        /// The label's training standard deviation.
        std: f64,
    },
}

/// A loaded model.
#[derive(Debug)]
pub struct Model {
    kind: String,
    task: Task,
    numeric: Vec<String>,
    categorical: Vec<(String, usize)>,
    hidden: usize,
    params: Params,
    label: String,
    transform: Option<String>,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

impl Model {
    /// Loads a model from its `model.json` and its weights file.
    pub fn load(spec_json: &str, weights: &[u8]) -> Result<Model> {
        let bad = |m: String| invalid("model", m);
        let spec: Value = serde_json::from_str(spec_json).map_err(|e| bad(format!("model.json is not JSON: {e}")))?;
        if spec["format"] != "mlp.model" {
            return Err(bad(format!("model.json has format {}, expected \"mlp.model\"", spec["format"])));
        }
        match spec["version"].as_u64() {
            Some(1) => {}
            v => return Err(bad(format!("model.json has version {v:?}; this mlp reads version 1"))),
        }
        let kind = spec["kind"].as_str().unwrap_or_default().to_string();
        let numeric = strings(&spec["inputs"]["numeric"]);
        let categorical: Vec<(String, usize)> = spec["inputs"]["categorical"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| Some((c["name"].as_str()?.to_string(), c["categories"].as_u64()? as usize)))
                    .collect()
            })
            .unwrap_or_default();
        let (task, hidden) = match kind.as_str() {
            "logistic_regression" => (Task::Classification(vec![0.0, 1.0]), 0),
            "linear_regression" => (
                Task::Regression {
                    mean: spec["label_scaling"]["mean"].as_f64().unwrap_or(0.0),
                    std: spec["label_scaling"]["std"].as_f64().unwrap_or(1.0),
                },
                0,
            ),
            "mlp" => {
                let hidden = spec["hidden"].as_array().map_or(0, Vec::len);
                let task = match spec["task"].as_str() {
                    Some("classification") => Task::Classification(
                        spec["classes"]
                            .as_array()
                            .map(|c| c.iter().filter_map(Value::as_f64).collect())
                            .unwrap_or_default(),
                    ),
                    Some("regression") => Task::Regression {
                        mean: spec["label_scaling"]["mean"].as_f64().unwrap_or(0.0),
                        std: spec["label_scaling"]["std"].as_f64().unwrap_or(1.0),
                    },
                    other => return Err(bad(format!("an MLP of task {other:?}"))),
                };
                (task, hidden)
            }
            other => return Err(bad(format!("a model of kind `{other}`, which this mlp cannot apply"))),
        };
        let (tensors, _) = crate::weights::from_safetensors(weights)?;
        let model = Model {
            kind,
            task,
            numeric,
            categorical,
            hidden,
            params: Params::from_tensors(tensors)?,
            label: spec["label"].as_str().unwrap_or_default().to_string(),
            transform: spec["transform"]["digest"].as_str().map(str::to_owned),
        };
        // Every weight the forward pass reads must be there.
        for name in model.weight_names() {
            if model.params.find(&name).is_none() {
                return Err(bad(format!("the weights file lacks `{name}`")));
            }
        }
        Ok(model)
    }

    fn first_layer(&self) -> &'static str {
        match (self.kind.as_str(), self.hidden) {
            ("logistic_regression" | "linear_regression", _) => "",
            (_, 0) => "output.",
            _ => "layer0.",
        }
    }

    fn weight_names(&self) -> Vec<String> {
        let f = self.first_layer();
        let mut names = vec![if f.is_empty() { "bias".to_string() } else { format!("{f}bias") }];
        if !self.numeric.is_empty() {
            names.push(if f.is_empty() { "weights".to_string() } else { format!("{f}weight") });
        }
        for (n, _) in &self.categorical {
            names.push(format!("{f}embedding.{n}"));
        }
        for k in 1..self.hidden {
            names.push(format!("layer{k}.weight"));
            names.push(format!("layer{k}.bias"));
        }
        if self.hidden > 0 {
            names.push("output.weight".into());
            names.push("output.bias".into());
        }
        names
    }

    /// The numeric input features, in the order of the matrix's columns.
    pub fn numeric(&self) -> &[String] {
        &self.numeric
    }

    /// The categorical input features and their category counts.
    pub fn categorical(&self) -> &[(String, usize)] {
        &self.categorical
    }

    /// What the model predicts.
    pub fn task(&self) -> &Task {
        &self.task
    }

    /// The label it was trained on.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The digest of the TransformGraph whose features it expects.
    pub fn transform_digest(&self) -> Option<&str> {
        self.transform.as_deref()
    }

    fn param(&self, tape: &mut Tape, name: &str) -> Result<Var> {
        let id = self.params.find(name).ok_or_else(|| invalid("model", format!("no weight `{name}`")))?;
        tape.param(&self.params, id)
    }

    /// The outputs for `rows` rows (see the module docs).
    pub fn predict(&self, rows: usize, numeric: Option<&Tensor>, categories: &[Vec<usize>]) -> Result<Tensor> {
        if categories.len() != self.categorical.len() {
            return Err(shape(
                "predict",
                format!("{} categorical inputs for a model of {}", categories.len(), self.categorical.len()),
            ));
        }
        let mut tape = Tape::new();
        let f = self.first_layer();
        let name = |base: &str| if f.is_empty() { base.to_string() } else { format!("{f}{base}") };
        let mut h: Option<Var> = None;
        if !self.numeric.is_empty() {
            let x = numeric.ok_or_else(|| shape("predict", "the model has numeric inputs, none given"))?;
            if x.shape() != [rows, self.numeric.len()] {
                return Err(shape(
                    "predict",
                    format!("numeric inputs of shape {:?}, expected [{rows}, {}]", x.shape(), self.numeric.len()),
                ));
            }
            let xv = tape.input(x.clone());
            let w = self.param(&mut tape, &name(if f.is_empty() { "weights" } else { "weight" }))?;
            h = Some(tape.matmul(xv, w)?);
        }
        for ((n, count), idx) in self.categorical.iter().zip(categories) {
            if idx.len() != rows {
                return Err(shape("predict", format!("{} categories of `{n}` for {rows} rows", idx.len())));
            }
            let clamped: Vec<usize> = idx.iter().map(|i| (*i).min(*count)).collect();
            let e = self.param(&mut tape, &format!("{f}embedding.{n}"))?;
            let g = tape.gather(e, clamped)?;
            h = Some(match h {
                Some(h) => tape.add(h, g)?,
                None => g,
            });
        }
        let b = self.param(&mut tape, &name("bias"))?;
        let mut h = tape.add_row(h.ok_or_else(|| invalid("predict", "the model has no inputs"))?, b)?;
        if self.hidden > 0 {
            h = tape.relu(h)?;
            for k in 1..self.hidden {
                let w = self.param(&mut tape, &format!("layer{k}.weight"))?;
                let b = self.param(&mut tape, &format!("layer{k}.bias"))?;
                h = tape.matmul(h, w)?;
                h = tape.add_row(h, b)?;
                h = tape.relu(h)?;
            }
            let w = self.param(&mut tape, "output.weight")?;
            let b = self.param(&mut tape, "output.bias")?;
            h = tape.matmul(h, w)?;
            h = tape.add_row(h, b)?;
        }
        let z = tape.value(h)?.clone();
        match (&self.task, self.kind.as_str()) {
            (Task::Classification(_), "logistic_regression") => {
                let mut out = Vec::with_capacity(rows * 2);
                for v in z.data() {
                    let p = crate::kernels::sigmoid(*v);
                    out.push(1.0 - p);
                    out.push(p);
                }
                Tensor::new(&[rows, 2], out)
            }
            (Task::Classification(_), _) => {
                let zv = tape.input(z);
                let p = tape.softmax(zv)?;
                Ok(tape.value(p)?.clone())
            }
            (Task::Regression { mean, std }, _) => {
                let out = z.data().iter().map(|v| (f64::from(*v) * std + mean) as f32).collect();
                Tensor::new(&[rows, 1], out)
            }
        }
    }

    /// The model's inputs from one batch of features: numeric columns as a row-major
    /// `[rows, numeric]` matrix (a missing value as 0), categorical ones as indices (a missing
    /// or negative one as the category count, a larger one clamped to it).
    pub fn inputs(&self, batch: &RecordBatch) -> Result<(Option<Tensor>, Vec<Vec<usize>>)> {
        let rows = batch.num_rows();
        let column = |name: &str, to: &DataType| -> Result<ArrayRef> {
            let c = batch.column_by_name(name).ok_or_else(|| {
                invalid(
                    "predict",
                    format!(
                        "the features have no column `{name}`, which the model reads; apply the transform it was trained with"
                    ),
                )
            })?;
            arrow_cast::cast(c, to).map_err(|e| invalid("predict", format!("column `{name}`: {e}")))
        };
        let numeric = if self.numeric.is_empty() {
            None
        } else {
            let d = self.numeric.len();
            let mut x = vec![0f32; rows * d];
            for (j, name) in self.numeric.iter().enumerate() {
                let c = column(name, &DataType::Float64)?;
                for (r, v) in c.as_primitive::<Float64Type>().iter().enumerate() {
                    x[r * d + j] = v.unwrap_or(0.0) as f32;
                }
            }
            Some(Tensor::new(&[rows, d], x)?)
        };
        let mut categories = Vec::with_capacity(self.categorical.len());
        for (name, count) in &self.categorical {
            let c = column(name, &DataType::Int64)?;
            categories.push(
                c.as_primitive::<Int64Type>()
                    .iter()
                    .map(|v| v.and_then(|v| usize::try_from(v).ok()).map_or(*count, |v| v.min(*count)))
                    .collect(),
            );
        }
        Ok((numeric, categories))
    }

    /// The predictions for one batch of features ([`Model::inputs`] then [`Model::predict`]),
    /// one row per input row: `prediction` (the most probable class's label value for a
    /// classifier, the number for a regressor) and, for a classifier, `probability_VALUE` per
    /// class in `classes` order (`VALUE` as Rust prints the class's `f64`: `probability_0`,
    /// `probability_1`).
    pub fn predict_batch(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let rows = batch.num_rows();
        let (x, cats) = self.inputs(batch)?;
        let out = self.predict(rows, x.as_ref(), &cats)?;
        let mut fields = vec![Field::new("prediction", DataType::Float64, false)];
        let mut columns: Vec<ArrayRef> = Vec::new();
        match &self.task {
            Task::Classification(classes) => {
                let k = classes.len().max(1);
                let probs = out.data();
                let pred: Vec<f64> = probs
                    .chunks(k)
                    .map(|row| {
                        let best = row
                            .iter()
                            .enumerate()
                            .fold((0, f32::NEG_INFINITY), |b, (i, v)| if *v > b.1 { (i, *v) } else { b });
                        classes.get(best.0).copied().unwrap_or(f64::NAN)
                    })
                    .collect();
                columns.push(Arc::new(Float64Array::from(pred)));
                for (j, c) in classes.iter().enumerate() {
                    fields.push(Field::new(format!("probability_{c}"), DataType::Float64, false));
                    let p: Vec<f64> = probs.chunks(k).map(|row| f64::from(row[j])).collect();
                    columns.push(Arc::new(Float64Array::from(p)));
                }
            }
            Task::Regression { .. } => {
                columns
                    .push(Arc::new(Float64Array::from(out.data().iter().map(|v| f64::from(*v)).collect::<Vec<_>>())));
            }
        }
        RecordBatch::try_new_with_options(
            Arc::new(Schema::new(fields)),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )
        .map_err(|e| invalid("predict", e.to_string()))
    }
}
