//! Shared by the tests and the benchmark: a real transform fitted with `mlp-transform` on
//! taxi-like rows, a logistic regression trained on its features with `mlp-tensor`'s tape and
//! Adam, both written as a serving version; the predictions `Model::predict` gives directly; and
//! a small HTTP client.

#![allow(dead_code)]

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::DataType;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use mlp_serve::layout::{self, FORMAT, Version, VersionInfo};
use mlp_tensor::init::Init;
use mlp_tensor::model::Model;
use mlp_tensor::optim::Adam;
use mlp_tensor::{Params, Tape, Tensor};
use mlp_transform::{CompiledTransform, TransformGraph, fit, parse_spec};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;

/// The label's feature.
pub const LABEL: &str = "big_tipper";

/// A small deterministic generator (splitmix64).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const PAYMENTS: [&str; 4] = ["Credit Card", "Cash", "Mobile", "Unknown"];

/// Taxi-like raw examples: `fare`, `trip_miles` (some missing), `trip_start_hour`,
/// `payment_type` (some missing) and `tips`, which only the label reads. Card payers tip more.
pub fn raw_batch(seed: u64, rows: usize) -> RecordBatch {
    let mut r = Rng(seed);
    let (mut fare, mut miles, mut hour, mut payment, mut tips) = (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..rows {
        let m = r.unit() * 15.0;
        let f = 3.25 + 2.25 * m + r.unit() * 3.0;
        let p = PAYMENTS[r.below(4) as usize];
        let h = r.below(24) as i64;
        let generous = if p == "Credit Card" { 0.35 } else { 0.05 } + if !(6..22).contains(&h) { 0.1 } else { 0.0 };
        miles.push((r.unit() > 0.05).then_some(m));
        fare.push(Some(f));
        hour.push(Some(h));
        payment.push((r.unit() > 0.03).then_some(p));
        tips.push(Some(f * r.unit() * generous * 1.4));
    }
    RecordBatch::try_from_iter(vec![
        ("fare", Arc::new(Float64Array::from(fare)) as ArrayRef),
        ("trip_miles", Arc::new(Float64Array::from(miles)) as ArrayRef),
        ("trip_start_hour", Arc::new(Int64Array::from(hour)) as ArrayRef),
        ("payment_type", Arc::new(StringArray::from(payment)) as ArrayRef),
        ("tips", Arc::new(Float64Array::from(tips)) as ArrayRef),
    ])
    .unwrap()
}

fn col(n: &str) -> Value {
    json!({ "column": n })
}
fn float(x: f64) -> Value {
    json!({ "lit": { "type": "float", "value": x } })
}
fn int(x: i64) -> Value {
    json!({ "lit": { "type": "int", "value": x } })
}
fn call(f: &str, args: Vec<Value>) -> Value {
    json!({ "call": { "func": f, "args": args, "named": {} } })
}
fn bin(op: &str, a: Value, b: Value) -> Value {
    json!({ "binary": { "op": op, "lhs": a, "rhs": b } })
}

/// The feature block, as the language's IR encodes it: two z-scores, a flag, two categorical
/// features and the label.
pub fn spec() -> Value {
    let hours = json!({ "lit": { "type": "list", "value": [
        { "type": "int", "value": 6 }, { "type": "int", "value": 10 },
        { "type": "int", "value": 16 }, { "type": "int", "value": 20 }] } });
    let features = vec![
        (LABEL, bin("gt", col("tips"), bin("mul", col("fare"), float(0.2)))),
        ("fare_z", call("zscore", vec![col("fare")])),
        ("miles_z", call("zscore", vec![col("trip_miles")])),
        ("night", bin("or", bin("ge", col("trip_start_hour"), int(22)), bin("lt", col("trip_start_hour"), int(6)))),
        ("hour_bucket", call("bucketize", vec![col("trip_start_hour"), hours])),
        ("payment_id", call("vocabulary", vec![col("payment_type")])),
    ];
    json!(features.into_iter().map(|(n, e)| json!({ "name": n, "expr": e })).collect::<Vec<_>>())
}

/// The transform fitted on `rows` rows from `seed`.
pub fn fit_graph(seed: u64, rows: usize) -> TransformGraph {
    let train = raw_batch(seed, rows);
    fit(&parse_spec(&spec().to_string()).unwrap(), &train.schema(), std::slice::from_ref(&train)).unwrap()
}

/// A feature column as floats (a missing number as 0, booleans as 1/0).
fn floats(b: &RecordBatch, name: &str) -> Vec<f32> {
    let c = b.column_by_name(name).unwrap_or_else(|| panic!("no feature `{name}`"));
    match c.data_type() {
        DataType::Float64 => c.as_primitive::<Float64Type>().iter().map(|v| v.unwrap_or(0.0) as f32).collect(),
        DataType::Boolean => c.as_boolean().iter().map(|v| if v.unwrap_or(false) { 1.0 } else { 0.0 }).collect(),
        DataType::Int64 => c.as_primitive::<Int64Type>().iter().map(|v| v.unwrap_or(0) as f32).collect(),
        other => panic!("feature `{name}` is {other}"),
    }
}

/// The model's inputs from features, computed here rather than by the code under test:
/// numeric features as a matrix, categories as indices (missing: the category count).
pub fn model_inputs(model: &Model, features: &RecordBatch) -> (Option<Tensor>, Vec<Vec<usize>>) {
    let rows = features.num_rows();
    let numeric = (!model.numeric().is_empty()).then(|| {
        let cols: Vec<Vec<f32>> = model.numeric().iter().map(|n| floats(features, n)).collect();
        let d = cols.len();
        let mut x = vec![0f32; rows * d];
        for (j, c) in cols.iter().enumerate() {
            for (r, v) in c.iter().enumerate() {
                x[r * d + j] = *v;
            }
        }
        Tensor::new(&[rows, d], x).unwrap()
    });
    let cats = model
        .categorical()
        .iter()
        .map(|(n, count)| {
            let c = features.column_by_name(n).unwrap();
            c.as_primitive::<Int64Type>().iter().map(|v| v.map_or(*count, |v| (v as usize).min(*count))).collect()
        })
        .collect();
    (numeric, cats)
}

/// A 64-hex-digit digest of some bytes (standing in for the store's artifact digests).
pub fn digest(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// `model.json` of a logistic regression over the non-label features of `graph`.
pub fn model_json(graph: &TransformGraph, transform_digest: &str) -> String {
    let mut numeric = Vec::new();
    let mut categorical = Vec::new();
    for f in graph.features.iter().filter(|f| f.name != LABEL) {
        match f.categories {
            Some(n) => categorical.push(json!({ "name": f.name, "categories": n })),
            None => numeric.push(f.name.clone()),
        }
    }
    json!({
        "format": "mlp.model",
        "version": 1,
        "kind": "logistic_regression",
        "label": LABEL,
        "inputs": { "numeric": numeric, "categorical": categorical },
        "transform": {
            "digest": transform_digest,
            "features": graph.features.iter().map(|f| f.name.clone()).collect::<Vec<_>>(),
        },
    })
    .to_string()
}

/// Trains a logistic regression on `train` (raw rows) through `graph` for `steps` full-batch
/// Adam steps; returns `model.json` and `weights.safetensors`.
pub fn train(graph: &TransformGraph, train: &RecordBatch, steps: usize, transform_digest: &str) -> (String, Vec<u8>) {
    let spec = model_json(graph, transform_digest);
    let features = CompiledTransform::new(graph.clone()).unwrap().apply(train).unwrap();
    let v: Value = serde_json::from_str(&spec).unwrap();
    let numeric: Vec<String> =
        v["inputs"]["numeric"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect();
    let categorical: Vec<(String, usize)> = v["inputs"]["categorical"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_string(), c["categories"].as_u64().unwrap() as usize))
        .collect();
    let mut params = Params::new(7);
    let w = params.add("weights", &[numeric.len(), 1], Init::Zeros).unwrap();
    let b = params.add("bias", &[1], Init::Zeros).unwrap();
    let embeddings: Vec<_> = categorical
        .iter()
        .map(|(n, count)| params.add(&format!("embedding.{n}"), &[count + 1, 1], Init::Zeros).unwrap())
        .collect();
    // The inputs as the model reads them: a zero-weight model of the same shape reads them.
    let zero = mlp_tensor::weights::to_safetensors(&params, &Default::default()).unwrap();
    let shape = Model::load(&spec, &zero).unwrap();
    let (x, cats) = model_inputs(&shape, &features);
    let x = x.unwrap();
    let y = Tensor::new(&[features.num_rows(), 1], floats(&features, LABEL)).unwrap();
    let mut adam = Adam::new(0.1, 0.0).unwrap();
    for _ in 0..steps {
        params.zero_grads();
        let mut tape = Tape::new();
        let xv = tape.input(x.clone());
        let wv = tape.param(&params, w).unwrap();
        let mut h = tape.matmul(xv, wv).unwrap();
        for (e, idx) in embeddings.iter().zip(&cats) {
            let ev = tape.param(&params, *e).unwrap();
            let g = tape.gather(ev, idx.clone()).unwrap();
            h = tape.add(h, g).unwrap();
        }
        let bv = tape.param(&params, b).unwrap();
        let z = tape.add_row(h, bv).unwrap();
        let loss = tape.bce_with_logits(z, y.clone(), None).unwrap();
        tape.backward(loss, &mut params).unwrap();
        adam.step(&mut params);
    }
    let meta =
        [("format".to_string(), "mlp.model".to_string()), ("kind".to_string(), "logistic_regression".to_string())]
            .into_iter()
            .collect();
    (spec, mlp_tensor::weights::to_safetensors(&params, &meta).unwrap())
}

/// A complete version `n`: a transform fitted on rows from `seed` and a model trained for
/// `steps` steps.
pub fn make_version(n: u64, seed: u64, steps: usize) -> Version {
    let graph = fit_graph(seed, 2_000);
    let transform_json = graph.to_json();
    let transform_digest = digest(transform_json.as_bytes());
    let (model_json, weights) = train(&graph, &raw_batch(seed, 2_000), steps, &transform_digest);
    let model_digest = digest(&[model_json.as_bytes(), &weights].concat());
    Version {
        info: VersionInfo {
            format: FORMAT.into(),
            version: n,
            model_digest,
            transform_digest,
            pushed_at: "2026-03-01T12:00:00Z".into(),
            pipeline: "taxi".into(),
            run: Some(n as i64),
        },
        model_json,
        weights,
        transform_json,
    }
}

/// Writes `v` and makes it current.
pub fn push(dir: &Path, v: &Version) {
    layout::write_version(dir, v).unwrap();
    layout::set_current(dir, v.info.version).unwrap();
}

/// The probabilities of the label being true for `raw`, computed directly: the version's
/// transform without the label, then `Model::predict` on the features.
pub fn expected(v: &Version, raw: &RecordBatch) -> Vec<f64> {
    let model = Model::load(&v.model_json, &v.weights).unwrap();
    let graph = TransformGraph::from_json(&v.transform_json).unwrap().without(&[LABEL]).unwrap();
    let features = CompiledTransform::new(graph).unwrap().apply(raw).unwrap();
    let (x, cats) = model_inputs(&model, &features);
    let out = model.predict(raw.num_rows(), x.as_ref(), &cats).unwrap();
    assert_eq!(out.shape(), [raw.num_rows(), 2]);
    out.data().chunks(2).map(|p| f64::from(p[1])).collect()
}

/// One JSON value of a column, or `None` for a null.
fn json_value(c: &ArrayRef, row: usize) -> Option<Value> {
    if c.is_null(row) {
        return None;
    }
    Some(match c.data_type() {
        DataType::Float64 => json!(c.as_primitive::<Float64Type>().value(row)),
        DataType::Int64 => json!(c.as_primitive::<Int64Type>().value(row)),
        DataType::Utf8 => json!(c.as_string::<i32>().value(row)),
        other => panic!("{other}"),
    })
}

/// `raw` as a row-format request: one object per row, nulls left out.
pub fn instances(raw: &RecordBatch) -> Value {
    let schema = raw.schema();
    let rows: Vec<Value> = (0..raw.num_rows())
        .map(|r| {
            let mut m = serde_json::Map::new();
            for (f, c) in schema.fields().iter().zip(raw.columns()) {
                if let Some(v) = json_value(c, r) {
                    m.insert(f.name().clone(), v);
                }
            }
            Value::Object(m)
        })
        .collect();
    json!({ "instances": rows })
}

/// `raw` as a columnar request: one list per column, nulls as `null`.
pub fn columns(raw: &RecordBatch) -> Value {
    let schema = raw.schema();
    let mut m = serde_json::Map::new();
    for (f, c) in schema.fields().iter().zip(raw.columns()) {
        let values: Vec<Value> = (0..raw.num_rows()).map(|r| json_value(c, r).unwrap_or(Value::Null)).collect();
        m.insert(f.name().clone(), Value::Array(values));
    }
    json!({ "inputs": m })
}

/// A small HTTP client for the server under test.
#[derive(Clone)]
pub struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
}

impl Http {
    pub fn new(addr: std::net::SocketAddr) -> Http {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        Http { client: Client::builder(TokioExecutor::new()).build(connector), base: format!("http://{addr}") }
    }

    async fn send(&self, req: hyper::Request<Full<Bytes>>) -> Result<(u16, String), String> {
        let resp = self.client.request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }

    /// POSTs `body` to `path`: the status and the body.
    pub async fn post(&self, path: &str, body: &str) -> Result<(u16, String), String> {
        let req = hyper::Request::post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap();
        self.send(req).await
    }

    /// GETs `path`: the status and the body.
    pub async fn get(&self, path: &str) -> Result<(u16, String), String> {
        let req = hyper::Request::get(format!("{}{path}", self.base)).body(Full::new(Bytes::new())).unwrap();
        self.send(req).await
    }

    /// POSTs a predict request and parses the answer (panics on a transport error).
    pub async fn predict(&self, name: &str, body: &Value) -> (u16, Value) {
        let (status, text) = self.post(&format!("/v1/models/{name}:predict"), &body.to_string()).await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")))
    }
}

/// The value of a metric line `name` (with its labels) in a metrics text.
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')).and_then(|v| v.parse().ok()))
}
