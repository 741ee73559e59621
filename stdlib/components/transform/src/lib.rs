//! `transform` (std/tabular.mlp): computes the features of a feature block for every split of
//! an Examples artifact, with the host's `transform` kernel: the block is fitted on the
//! training split only (analyzers such as `zscore` and `vocabulary` learn from its rows, and
//! from nothing else), compiled once to native code, and applied to every split. Writes the
//! transformed examples (features, the label, passthrough columns) and the fitted
//! TransformGraph (`graph.json`), which evaluation, batch inference and serving load and apply
//! unchanged.
//!
//! Before fitting, the columns the block reads are checked against the schema: each must be
//! in it, with the same type as in the data; a feature that reads a column the schema keeps
//! out of serving is reported, since it cannot be computed there.

use mlp_data::schema::Schema;
use mlp_data::stats::FeatureKind;
use mlp_sdk::*;
use serde_json::{Value, json};

struct TransformStep;

/// The input columns a graph's feature expression reads (indices into the graph's `inputs`).
fn columns_read(expr: &Value, out: &mut Vec<usize>) {
    match expr {
        Value::Object(m) => {
            if let Some(Value::Object(c)) = m.get("column")
                && let Some(i) = c.get("index").and_then(Value::as_u64)
            {
                out.push(i as usize);
            }
            for v in m.values() {
                columns_read(v, out);
            }
        }
        Value::Array(items) => {
            for v in items {
                columns_read(v, out);
            }
        }
        _ => {}
    }
}

/// The schema kind that matches a graph input type.
fn kind_of(ty: &str) -> Option<FeatureKind> {
    match ty {
        "int64" => Some(FeatureKind::Int),
        "float64" => Some(FeatureKind::Float),
        "boolean" => Some(FeatureKind::Bool),
        "utf8" => Some(FeatureKind::String),
        _ => None,
    }
}

impl Plugin for TransformStep {
    fn describe() -> ComponentInfo {
        info("transform", env!("CARGO_PKG_VERSION"))
            .doc("Features of every split from a feature block fitted on the training split.")
            .input("examples", "Examples")
            .input("schema", "Schema")
            .param("features", "features")
            .param("label", "string")
            .param_default("passthrough", "list<string>", r#"{"type": "list", "value": []}"#)
            .param_default("fit_split", "string", r#"{"type": "string", "value": "train"}"#)
            .output("out", "Examples")
            .output("graph", "TransformGraph")
            .build()
    }

    fn run(ctx: &Invocation) -> Result<(), Error> {
        let p = ctx.params()?;
        let spec = p.raw("features").ok_or_else(|| Error::invalid("parameter `features` has no value"))?;
        let label = p.string("label")?;
        let passthrough = p.strings("passthrough")?;
        let fit_split = p.opt_string("fit_split")?.unwrap_or_else(|| "train".to_string());
        let examples = ctx.require_input("examples")?;
        let schema: Schema = mlp_std_common::json_part(&ctx.require_input("schema")?, "schema.json")?;
        let parts = examples.parts();
        if !parts.contains(&fit_split) {
            return Err(Error::invalid(format!(
                "the examples have no `{fit_split}` split to fit the transform on (splits: {}); set `fit_split`",
                parts.join(", ")
            )));
        }

        // Fit on the training split only.
        let train = examples.table(&fit_split)?;
        let transform = Transform::fit(&spec.to_string(), &train)?;
        let graph_json = transform.graph_json();
        let graph: Value = serde_json::from_str(&graph_json)
            .map_err(|e| Error::new(ErrorKind::Other, format!("the host's transform graph is not JSON: {e}")))?;
        let features: Vec<String> = graph["features"]
            .as_array()
            .map(|fs| fs.iter().filter_map(|f| f["name"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let inputs: Vec<(String, String)> = graph["inputs"]
            .as_array()
            .map(|is| {
                is.iter()
                    .map(|i| (i["name"].as_str().unwrap_or("").to_string(), i["ty"].as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default();

        // The columns read, against the schema.
        for (name, ty) in &inputs {
            let Some(f) = schema.feature(name) else {
                return Err(Error::invalid(format!(
                    "the feature block reads column `{name}`, which the schema does not list; add it to the schema or stop reading it"
                )));
            };
            if let Some(k) = kind_of(ty)
                && k != f.kind
                && !(k == FeatureKind::Float && f.kind == FeatureKind::Int)
            {
                return Err(Error::data(format!(
                    "column `{name}` is {:?} in the schema but {ty} in the examples; fix the schema or the ingest types",
                    f.kind
                )));
            }
        }
        if let Some(fs) = graph["features"].as_array() {
            for f in fs {
                let name = f["name"].as_str().unwrap_or("");
                if name == label {
                    continue;
                }
                let mut read = Vec::new();
                columns_read(&f["expr"], &mut read);
                for i in read {
                    let Some((col, _)) = inputs.get(i) else { continue };
                    if schema.feature(col).is_some_and(|s| s.not_in_environment.iter().any(|e| e == "SERVING")) {
                        ctx.warn(&format!(
                            "feature `{name}` reads `{col}`, which the schema says is not available at serving: the model cannot be served with it"
                        ));
                    }
                }
            }
        }

        // The label: a feature, or a raw column copied unchanged.
        let train_columns: Vec<String> = train.schema().iter().map(|f| f.name.clone()).collect();
        let mut extra: Vec<String> = Vec::new();
        if !features.contains(&label) {
            if !train_columns.contains(&label) {
                return Err(Error::invalid(format!(
                    "the label `{label}` is neither a feature of the block ({}) nor a column of the examples",
                    features.join(", ")
                )));
            }
            extra.push(label.clone());
        }
        for c in &passthrough {
            if features.contains(c) {
                return Err(Error::invalid(format!(
                    "passthrough column `{c}` has the name of a feature; rename the feature or drop it from `passthrough`"
                )));
            }
            if !train_columns.contains(c) {
                return Err(Error::invalid(format!(
                    "passthrough column `{c}` is not a column of the examples (columns: {})",
                    train_columns.join(", ")
                )));
            }
            if !extra.contains(c) {
                extra.push(c.clone());
            }
        }

        // Apply to every split.
        let out = ctx.output("out")?;
        let mut rows = serde_json::Map::new();
        for (i, part) in parts.iter().enumerate() {
            let table = examples.table(part)?;
            let mut t = transform.apply(&table)?;
            if !extra.is_empty() {
                t = t.append_columns(&table.select(&extra)?)?;
            }
            rows.insert(part.clone(), json!(t.num_rows()));
            out.put_table(part, &t)?;
            ctx.progress((i + 1) as f32 / parts.len() as f32, part);
        }
        let props: Value = serde_json::from_str(&examples.properties_json()).unwrap_or_default();
        for key in ["span", "spans", "versions"] {
            if let Some(v) = props.get(key) {
                out.set_property(key, &v.to_string())?;
            }
        }
        out.set_property("label", &json!(label).to_string())?;
        out.set_property("features", &json!(features).to_string())?;
        out.set_property("passthrough", &json!(passthrough).to_string())?;
        out.set_property("rows", &Value::Object(rows).to_string())?;

        let g = ctx.output("graph")?;
        g.put_json("graph.json", &graph_json)?;
        g.set_property("label", &json!(label).to_string())?;
        g.set_property("features", &json!(features).to_string())?;
        g.set_property("fitted_on", &json!(fit_split).to_string())?;
        g.set_property("fitted_rows", &graph["fitted_rows"].to_string())?;
        ctx.info(&format!(
            "{} features fitted on {} `{fit_split}` rows ({} analyzers), applied to {} splits",
            features.len(),
            graph["fitted_rows"],
            graph["analyzers"].as_array().map_or(0, Vec::len),
            parts.len()
        ));
        Ok(())
    }
}

export!(TransformStep);
