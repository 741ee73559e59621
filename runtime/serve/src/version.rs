//! A version made ready to serve: its transform compiled (without the label's feature, as batch
//! inference applies it), its model loaded, the two checked against each other and against
//! `version.json`, and one prediction run before it is ever handed a request.
//!
//! [`Loaded::predict`] is batch inference's path: [`CompiledTransform::apply`], then
//! [`Model::predict_batch`].

use crate::error::ServeError;
use crate::layout::{self, VersionInfo};
use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{ArrayRef, RecordBatch, new_null_array};
use arrow_schema::{Field, Schema};
use mlp_tensor::model::{Model, Task};
use mlp_transform::eval::arrow_type;
use mlp_transform::{CompiledTransform, Input};
use std::path::Path;
use std::sync::Arc;

/// A version, loaded and checked.
#[derive(Debug)]
pub struct Loaded {
    info: VersionInfo,
    transform: CompiledTransform,
    model: Model,
    schema: Arc<Schema>,
    label_inputs: Vec<String>,
    classes: Vec<String>,
}

/// The predictions of one batch: one value per row and, for a classifier, one probability per
/// class and row.
#[derive(Clone, Debug, PartialEq)]
pub struct Predictions {
    /// `prediction` per row: the most probable class's value, or the regressor's number.
    pub prediction: Vec<f64>,
    /// For a classifier, `(class, probability per row)` in the model's class order; empty for a
    /// regressor.
    pub probabilities: Vec<(String, Vec<f64>)>,
}

impl Predictions {
    /// Rows in the predictions.
    pub fn len(&self) -> usize {
        self.prediction.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.prediction.is_empty()
    }
}

impl Loaded {
    /// Loads and checks version `version` of the serving directory `dir`: `version.json`, the
    /// transform compiled, the model loaded, the model's transform digest equal to
    /// `version.json`'s `transform_digest`, and one prediction over a row of nulls.
    pub fn load(dir: &Path, version: u64) -> Result<Loaded, ServeError> {
        let v = layout::read_version(dir, version)?;
        let bad = |reason: String| ServeError::Load { version, reason };
        let full = CompiledTransform::from_json(&v.transform_json)
            .map_err(|e| bad(format!("`transform.json` does not compile: {e}")))?;
        let model = Model::load(&v.model_json, &v.weights).map_err(|e| bad(format!("the model does not load: {e}")))?;
        match model.transform_digest() {
            Some(d) if d == v.info.transform_digest => {}
            Some(d) => {
                return Err(bad(format!(
                    "the model was trained on the features of transform {d}, but `version.json` pairs it with transform {}: push the model together with the transform it was trained with",
                    v.info.transform_digest
                )));
            }
            None => {
                return Err(bad(
                    "`model.json` names no transform digest (`transform.digest`), so it cannot be checked against `transform.json`: push a model written by mlp's trainers".into(),
                ));
            }
        }
        let label = model.label().to_string();
        let full_inputs: Vec<String> = full.graph().inputs.iter().map(|i| i.name.clone()).collect();
        let transform = if full.graph().features.iter().any(|f| f.name == label) {
            let g = full.graph().without(&[label.as_str()]).map_err(|e| bad(e.to_string()))?;
            CompiledTransform::new(g)
                .map_err(|e| bad(format!("the transform without the label does not compile: {e}")))?
        } else {
            full
        };
        let fields: Vec<Field> =
            transform.graph().inputs.iter().map(|i| Field::new(&i.name, arrow_type(i.ty), true)).collect();
        let schema = Arc::new(Schema::new(fields));
        let label_inputs =
            full_inputs.into_iter().filter(|n| !transform.graph().inputs.iter().any(|i| &i.name == n)).collect();
        let classes = match model.task() {
            Task::Classification(c) => c.iter().map(|c| format!("{c}")).collect(),
            Task::Regression { .. } => Vec::new(),
        };
        let loaded = Loaded { info: v.info, transform, model, schema, label_inputs, classes };
        // One prediction before any request: a row of nulls goes through the whole path (every
        // input column, every feature, every weight the model reads).
        let nulls: Vec<ArrayRef> = loaded.schema.fields().iter().map(|f| new_null_array(f.data_type(), 1)).collect();
        let probe = RecordBatch::try_new_with_options(
            loaded.schema.clone(),
            nulls,
            &arrow_array::RecordBatchOptions::new().with_row_count(Some(1)),
        )
        .map_err(|e| bad(e.to_string()))?;
        let out = loaded.predict(&probe).map_err(|e| bad(format!("a trial prediction failed: {e}")))?;
        if out.len() != 1 {
            return Err(bad(format!("a trial prediction of one row gave {} rows", out.len())));
        }
        Ok(loaded)
    }

    /// The version number.
    pub fn version(&self) -> u64 {
        self.info.version
    }

    /// `version.json`.
    pub fn info(&self) -> &VersionInfo {
        &self.info
    }

    /// The columns a request gives: the transform's inputs, the label's own inputs left out.
    pub fn inputs(&self) -> &[Input] {
        &self.transform.graph().inputs
    }

    /// The schema of the batches [`Loaded::predict`] takes: [`Loaded::inputs`] as nullable
    /// Arrow columns.
    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// Columns only the label's feature reads: a request may carry them; they are ignored.
    pub fn label_inputs(&self) -> &[String] {
        &self.label_inputs
    }

    /// The model's label.
    pub fn label(&self) -> &str {
        self.model.label()
    }

    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The transform applied before the model (without the label's feature).
    pub fn transform(&self) -> &CompiledTransform {
        &self.transform
    }

    /// The class values of a classifier as text (`"0"`, `"1"`), in output order; empty for a
    /// regressor.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// The predictions for a batch of raw examples: the transform, then the model.
    pub fn predict(&self, batch: &RecordBatch) -> Result<Predictions, ServeError> {
        let features = self.transform.apply(batch).map_err(|e| ServeError::Predict(e.to_string()))?;
        let table = self.model.predict_batch(&features).map_err(|e| ServeError::Predict(e.to_string()))?;
        let column = |name: &str| -> Result<Vec<f64>, ServeError> {
            let c = table
                .column_by_name(name)
                .ok_or_else(|| ServeError::Predict(format!("the model's output has no column `{name}`")))?;
            Ok(c.as_primitive::<Float64Type>().values().to_vec())
        };
        let prediction = column("prediction")?;
        let probabilities = self
            .classes
            .iter()
            .map(|c| Ok((c.clone(), column(&format!("probability_{c}"))?)))
            .collect::<Result<Vec<_>, ServeError>>()?;
        Ok(Predictions { prediction, probabilities })
    }
}
