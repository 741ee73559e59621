//! `batch_infer` (std/tabular.mlp): scores raw examples with a trained model. Each split is
//! read in slices of `batch_size` rows; each slice goes through the TransformGraph the model
//! was trained with (compiled once, in the host; the label's feature left out, so data without
//! the label's columns scores too) and through the model (the host's `model` kernel, the
//! forward pass serving uses as well). The predictions keep the split layout of the examples:
//! the `keep_columns`, then `prediction` and, for a classifier, `probability_VALUE` per class.
//!
//! The model names the digest of the transform it expects; another transform is refused, so a
//! model is never applied to features it was not trained on.

use mlp_sdk::*;
use serde_json::{Value, json};

struct BatchInfer;

impl Plugin for BatchInfer {
    fn describe() -> ComponentInfo {
        info("batch_infer", env!("CARGO_PKG_VERSION"))
            .doc("Scores raw examples with a model and the transform it was trained with.")
            .input("model", "Model")
            .input("graph", "TransformGraph")
            .input("examples", "Examples")
            .param_default("splits", "list<string>", r#"{"type": "list", "value": []}"#)
            .param_default("keep_columns", "list<string>", r#"{"type": "list", "value": []}"#)
            .param_default("batch_size", "int", r#"{"type": "int", "value": 1024}"#)
            .output("predictions", "Examples")
            .build()
    }

    fn run(ctx: &Invocation) -> Result<(), Error> {
        let p = ctx.params()?;
        let keep = p.strings("keep_columns")?;
        let batch = p.opt_int("batch_size")?.unwrap_or(1024);
        if batch < 1 {
            return Err(Error::invalid(format!("`batch_size` is {batch}; it must be at least 1")));
        }
        let model_artifact = ctx.require_input("model")?;
        let weights = model_artifact.blob("weights.safetensors")?;
        let model = Model::load(&model_artifact.json("model.json")?, &weights)?;
        let graph_artifact = ctx.require_input("graph")?;
        if let Some(want) = model.transform_digest()
            && want != graph_artifact.digest()
        {
            return Err(Error::invalid(format!(
                "the model was trained on the features of transform {want}, but `graph` is {}: pass the TransformGraph the model was trained with",
                graph_artifact.digest()
            )));
        }
        let graph_json = graph_artifact.json("graph.json")?;
        let graph: Value =
            serde_json::from_str(&graph_json).map_err(|e| Error::data(format!("graph.json is not JSON: {e}")))?;
        let label = model.label();
        let mut transform = Transform::load(&graph_json)?;
        let has_label = graph["features"].as_array().is_some_and(|f| f.iter().any(|f| f["name"] == label.as_str()));
        if has_label {
            transform = transform.without(std::slice::from_ref(&label))?;
        }

        let examples = ctx.require_input("examples")?;
        let parts = examples.parts();
        let wanted = p.strings("splits")?;
        for s in &wanted {
            if !parts.contains(s) {
                return Err(Error::invalid(format!("the examples have no split `{s}` (splits: {})", parts.join(", "))));
            }
        }
        let chosen: Vec<String> = if wanted.is_empty() { parts.clone() } else { wanted };
        let out = ctx.output("predictions")?;
        let mut rows = serde_json::Map::new();
        for (i, part) in chosen.iter().enumerate() {
            let raw = examples.table(part)?;
            let columns = raw.column_names();
            if let Some(c) = keep.iter().find(|c| !columns.contains(c)) {
                return Err(Error::invalid(format!(
                    "keep column `{c}` is not a column of split `{part}` (columns: {})",
                    columns.join(", ")
                )));
            }
            let n = raw.num_rows();
            let mut pieces = Vec::new();
            let mut offset = 0;
            while offset < n || (n == 0 && pieces.is_empty()) {
                let len = (n - offset).min(batch as u64);
                let slice = raw.slice(offset, len);
                let scored = model.predict(&transform.apply(&slice)?)?;
                pieces.push(if keep.is_empty() { scored } else { slice.select(&keep)?.append_columns(&scored)? });
                offset += len;
                if n == 0 {
                    break;
                }
            }
            let refs: Vec<&Table> = pieces.iter().collect();
            let table = Table::concat(&refs)?;
            rows.insert(part.clone(), json!(table.num_rows()));
            out.put_table(part, &table)?;
            ctx.progress((i + 1) as f32 / chosen.len() as f32, part);
        }
        out.set_property("rows", &Value::Object(rows).to_string())?;
        out.set_property("model", &json!(model_artifact.digest()).to_string())?;
        out.set_property("label", &json!(label).to_string())?;
        ctx.info(&format!("scored {} split(s) with model {}", chosen.len(), model_artifact.digest()));
        Ok(())
    }
}

export!(BatchInfer);
