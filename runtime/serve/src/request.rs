//! Predict requests, TF Serving's REST shape: `{"instances": [{"col": value, ...}, ...]}` (one
//! object per example) or `{"inputs": {"col": [value, ...], ...}}` (one list per column), turned
//! into one Arrow batch of the version's input columns with their types.
//!
//! A column the request leaves out, or gives as `null`, is null (the transform's null semantics
//! apply). Columns that only the label's feature reads are accepted and ignored. Anything else
//! is refused with a message naming the example's index and the field: an unknown column, a
//! value of the wrong type (a float64 column takes numbers and `"NaN"`, `"inf"`, `"-inf"`; an
//! int64 column integers, also written `3.0`; a bool column `true`/`false`; a string column
//! strings). Bodies are taken up to [`crate::server::MAX_BODY`] bytes (32 MiB).

use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, RecordBatchOptions, StringArray};
use arrow_schema::Schema;
use mlp_transform::{Input, Type};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Why a request was refused (an HTTP 400); the message names the example and the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadRequest(pub String);

/// The values of one column while a request is read.
enum Column {
    Float(Vec<Option<f64>>),
    Int(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
    Str(Vec<Option<String>>),
}

impl Column {
    fn new(ty: Type, rows: usize) -> Column {
        match ty {
            Type::Float64 => Column::Float(vec![None; rows]),
            Type::Int64 => Column::Int(vec![None; rows]),
            Type::Boolean => Column::Bool(vec![None; rows]),
            Type::Utf8 => Column::Str(vec![None; rows]),
        }
    }

    fn array(self) -> ArrayRef {
        match self {
            Column::Float(v) => Arc::new(Float64Array::from(v)),
            Column::Int(v) => Arc::new(Int64Array::from(v)),
            Column::Bool(v) => Arc::new(BooleanArray::from(v)),
            Column::Str(v) => Arc::new(StringArray::from(v)),
        }
    }

    /// Sets row `row` from `v`; `None`: `v` is not of the column's type.
    fn set(&mut self, row: usize, v: &Value) -> Option<()> {
        if v.is_null() {
            return Some(());
        }
        match self {
            Column::Float(c) => {
                c[row] = Some(match v {
                    Value::Number(n) => n.as_f64()?,
                    Value::String(s) => match s.as_str() {
                        "NaN" => f64::NAN,
                        "inf" => f64::INFINITY,
                        "-inf" => f64::NEG_INFINITY,
                        _ => return None,
                    },
                    _ => return None,
                })
            }
            Column::Int(c) => {
                let Value::Number(n) = v else { return None };
                c[row] = Some(match n.as_i64() {
                    Some(i) => i,
                    None => {
                        let f = n.as_f64()?;
                        // -2^63 and 2^63 are exact as floats: the range of i64 is [-2^63, 2^63).
                        let min = i64::MIN as f64;
                        if f.fract() != 0.0 || !(min..-min).contains(&f) {
                            return None;
                        }
                        f as i64
                    }
                })
            }
            Column::Bool(c) => c[row] = Some(v.as_bool()?),
            Column::Str(c) => c[row] = Some(v.as_str()?.to_string()),
        }
        Some(())
    }
}

/// What a column of type `ty` takes, for messages.
fn wants(ty: Type) -> &'static str {
    match ty {
        Type::Float64 => "a number (float64; \"NaN\", \"inf\" and \"-inf\" as strings)",
        Type::Int64 => "an integer (int64)",
        Type::Boolean => "true or false (bool)",
        Type::Utf8 => "a string",
    }
}

/// A JSON value, described for messages.
fn describe(v: &Value) -> String {
    let text =
        |s: String| if s.chars().count() > 40 { format!("{}...", s.chars().take(40).collect::<String>()) } else { s };
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {}", text(format!("{s:?}"))),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// The request's examples as one batch with `schema`'s columns (the types of `inputs`, in
/// order). `ignored` are columns a request may carry that are not read (the label's).
pub fn to_batch(
    body: &[u8],
    inputs: &[Input],
    ignored: &[String],
    schema: &Arc<Schema>,
) -> Result<RecordBatch, BadRequest> {
    let bad = |m: String| BadRequest(m);
    let request: Value = serde_json::from_slice(body).map_err(|e| bad(format!("the request body is not JSON: {e}")))?;
    let Value::Object(request) = request else {
        return Err(bad(format!(
            "the request is {}; send an object: {{\"instances\": [{{\"column\": value, ...}}, ...]}} or {{\"inputs\": {{\"column\": [values], ...}}}}",
            describe(&request)
        )));
    };
    if let Some(k) = request.keys().find(|k| !matches!(k.as_str(), "instances" | "inputs" | "signature_name")) {
        return Err(bad(format!(
            "unknown key `{k}` in the request: use `instances` (one object per example) or `inputs` (one list per column)"
        )));
    }
    let columns: HashMap<&str, usize> = inputs.iter().enumerate().map(|(i, c)| (c.name.as_str(), i)).collect();
    let unknown = |field: &str| -> String {
        let mut names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
        let close = names
            .iter()
            .copied()
            .filter(|n| strsim::levenshtein(n, field) <= 2)
            .min_by_key(|n| strsim::levenshtein(n, field));
        names.sort_unstable();
        let hint = close.map(|c| format!(" (did you mean `{c}`?)")).unwrap_or_default();
        format!("unknown field `{field}`{hint}; the model reads {}", names.join(", "))
    };
    let (rows, mut cols) = match (request.get("instances"), request.get("inputs")) {
        (Some(_), Some(_)) => {
            return Err(bad("the request has both `instances` and `inputs`: send one of them".into()));
        }
        (None, None) => {
            return Err(bad(
                "the request has neither `instances` nor `inputs`: send {\"instances\": [{\"column\": value, ...}, ...]} or {\"inputs\": {\"column\": [values], ...}}".into(),
            ));
        }
        (Some(instances), None) => {
            let Value::Array(instances) = instances else {
                return Err(bad(format!(
                    "`instances` is {}; it must be a list of examples, one object each",
                    describe(instances)
                )));
            };
            let mut cols: Vec<Column> = inputs.iter().map(|i| Column::new(i.ty, instances.len())).collect();
            for (row, instance) in instances.iter().enumerate() {
                let Value::Object(fields) = instance else {
                    return Err(bad(format!(
                        "instance {row} is {}; each instance is an object of column values, like {{\"{}\": ...}}",
                        describe(instance),
                        inputs.first().map_or("column", |i| i.name.as_str())
                    )));
                };
                for (field, v) in fields {
                    match columns.get(field.as_str()) {
                        Some(&c) => cols[c].set(row, v).ok_or_else(|| {
                            bad(format!(
                                "instance {row}: field `{field}` must be {}, not {}",
                                wants(inputs[c].ty),
                                describe(v)
                            ))
                        })?,
                        None if ignored.contains(field) => {}
                        None => return Err(bad(format!("instance {row}: {}", unknown(field)))),
                    }
                }
            }
            (instances.len(), cols)
        }
        (None, Some(given)) => {
            let Value::Object(given) = given else {
                return Err(bad(format!(
                    "`inputs` is {}; it must be an object of columns, like {{\"{}\": [value, ...]}}",
                    describe(given),
                    inputs.first().map_or("column", |i| i.name.as_str())
                )));
            };
            let mut rows: Option<(usize, &str)> = None;
            for (field, values) in given {
                let Value::Array(values) = values else {
                    return Err(bad(format!(
                        "inputs: field `{field}` is {}; it must be a list, one value per example",
                        describe(values)
                    )));
                };
                match rows {
                    Some((n, first)) if n != values.len() => {
                        return Err(bad(format!(
                            "inputs: field `{field}` has {} values but `{first}` has {n}: every column needs one value per example",
                            values.len()
                        )));
                    }
                    Some(_) => {}
                    None => rows = Some((values.len(), field)),
                }
            }
            let n = rows.map_or(0, |r| r.0);
            let mut cols: Vec<Column> = inputs.iter().map(|i| Column::new(i.ty, n)).collect();
            for (field, values) in given {
                let Some(&c) = columns.get(field.as_str()) else {
                    if ignored.contains(field) {
                        continue;
                    }
                    return Err(bad(format!("inputs: {}", unknown(field))));
                };
                for (row, v) in values.as_array().into_iter().flatten().enumerate() {
                    cols[c].set(row, v).ok_or_else(|| {
                        bad(format!(
                            "inputs: field `{field}`, value {row}: must be {}, not {}",
                            wants(inputs[c].ty),
                            describe(v)
                        ))
                    })?;
                }
            }
            (n, cols)
        }
    };
    let arrays: Vec<ArrayRef> = cols.drain(..).map(Column::array).collect();
    RecordBatch::try_new_with_options(schema.clone(), arrays, &RecordBatchOptions::new().with_row_count(Some(rows)))
        .map_err(|e| bad(format!("the examples do not make a batch: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int64Type};
    use arrow_schema::Field;

    fn inputs() -> (Vec<Input>, Arc<Schema>) {
        let inputs = vec![
            Input { name: "fare".into(), ty: Type::Float64 },
            Input { name: "hour".into(), ty: Type::Int64 },
            Input { name: "cash".into(), ty: Type::Boolean },
            Input { name: "company".into(), ty: Type::Utf8 },
        ];
        let schema = Arc::new(Schema::new(
            inputs.iter().map(|i| Field::new(&i.name, mlp_transform::eval::arrow_type(i.ty), true)).collect::<Vec<_>>(),
        ));
        (inputs, schema)
    }

    fn parse(body: &str) -> Result<RecordBatch, String> {
        let (i, s) = inputs();
        to_batch(body.as_bytes(), &i, &["tips".to_string()], &s).map_err(|e| e.0)
    }

    #[test]
    fn rows_and_columns_give_the_same_batch() {
        let rows = parse(
            r#"{"instances": [{"fare": 12.5, "hour": 3, "cash": true, "company": "Flash"},
                              {"hour": 4.0, "tips": 1.0, "fare": "NaN"},
                              {"fare": 7, "company": null}]}"#,
        )
        .unwrap();
        let cols = parse(
            r#"{"inputs": {"fare": [12.5, "NaN", 7], "hour": [3, 4, null], "cash": [true, null, null],
                           "company": ["Flash", null, null], "tips": [0, 1, 2]}}"#,
        )
        .unwrap();
        assert_eq!(rows.num_rows(), 3);
        let fare: Vec<Option<f64>> = rows.column(0).as_primitive::<Float64Type>().iter().collect();
        assert_eq!(fare[0], Some(12.5));
        assert!(fare[1].unwrap().is_nan());
        assert_eq!(fare[2], Some(7.0));
        let hour: Vec<Option<i64>> = rows.column(1).as_primitive::<Int64Type>().iter().collect();
        assert_eq!(hour, vec![Some(3), Some(4), None]);
        let company: Vec<Option<&str>> = rows.column(3).as_string::<i32>().iter().collect();
        assert_eq!(company, vec![Some("Flash"), None, None]);
        for c in 1..4 {
            assert_eq!(rows.column(c), cols.column(c), "column {c}");
        }
        assert_eq!(parse(r#"{"instances": []}"#).unwrap().num_rows(), 0);
        assert_eq!(parse(r#"{"inputs": {}}"#).unwrap().num_rows(), 0);
    }

    #[test]
    fn bad_requests_name_the_example_and_the_field() {
        let cases = [
            (
                r#"{"instances": [{"fare": 1}, {"fair": 2}]}"#,
                "instance 1: unknown field `fair` (did you mean `fare`?); the model reads cash, company, fare, hour",
            ),
            (
                r#"{"instances": [{"fare": "12"}]}"#,
                "instance 0: field `fare` must be a number (float64; \"NaN\", \"inf\" and \"-inf\" as strings), not the string \"12\"",
            ),
            (
                r#"{"instances": [{"hour": 3.5}]}"#,
                "instance 0: field `hour` must be an integer (int64), not the number 3.5",
            ),
            (
                r#"{"instances": [{"cash": 1}]}"#,
                "instance 0: field `cash` must be true or false (bool), not the number 1",
            ),
            (r#"{"instances": [{"company": 7}]}"#, "instance 0: field `company` must be a string, not the number 7"),
            (
                r#"{"instances": [{"fare": 1}, 3]}"#,
                "instance 1 is the number 3; each instance is an object of column values, like {\"fare\": ...}",
            ),
            (
                r#"{"inputs": {"fare": [1, 2], "hour": [1]}}"#,
                "inputs: field `hour` has 1 values but `fare` has 2: every column needs one value per example",
            ),
            (
                r#"{"inputs": {"hour": [1, "x"]}}"#,
                "inputs: field `hour`, value 1: must be an integer (int64), not the string \"x\"",
            ),
            (r#"{"inputs": {"zone": [1]}}"#, "inputs: unknown field `zone`; the model reads cash, company, fare, hour"),
            (
                r#"{"inputs": {"fare": 1}}"#,
                "inputs: field `fare` is the number 1; it must be a list, one value per example",
            ),
            (
                r#"{"instances": {"fare": 1}}"#,
                "`instances` is an object; it must be a list of examples, one object each",
            ),
            (
                r#"{"examples": []}"#,
                "unknown key `examples` in the request: use `instances` (one object per example) or `inputs` (one list per column)",
            ),
            (r#"{"instances": [], "inputs": {}}"#, "the request has both `instances` and `inputs`: send one of them"),
        ];
        for (body, want) in cases {
            assert_eq!(parse(body).unwrap_err(), want, "{body}");
        }
        assert!(parse("{\"instances\": [").unwrap_err().starts_with("the request body is not JSON: "));
        assert!(parse("{}").unwrap_err().starts_with("the request has neither `instances` nor `inputs`"));
    }
}
