//! What the trainer components share: reading the model's inputs from a TransformGraph,
//! turning a split of transformed examples into host tensors (missing numbers as 0, a missing
//! category as its own index, rows without a label left out), a reproducible batch order, the
//! hyperparameters with their checks, balanced class weights, and the training loop of the
//! linear models, which reports each epoch's objective to a hyperparameter search and stops
//! when the search says so.

use mlp_sdk::{
    BinaryOp, Error, Init, Invocation, ModelParams, Optimizer, Output, Params, Table, Tape, Tensor, Transform, UnaryOp,
};
use serde_json::{Value, json};

/// A small reproducible generator (SplitMix64) for batch orders and dropout seeds.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Shuffles `v` in place (Fisher-Yates).
    pub fn shuffle(&mut self, v: &mut [u64]) {
        for i in (1..v.len()).rev() {
            let j = ((u128::from(self.next_u64()) * (i as u128 + 1)) >> 64) as usize;
            v.swap(i, j);
        }
    }
}

fn col(name: &str) -> Value {
    json!({ "column": name })
}

fn call(f: &str, args: Vec<Value>) -> Value {
    json!({ "call": { "func": f, "args": args, "named": {} } })
}

/// The model's inputs, from the transform graph: numeric features, and categorical ones with
/// their number of categories; and the label feature's description.
pub struct Inputs {
    /// Numeric features, in weight order.
    pub numeric: Vec<String>,
    /// Categorical features and their number of categories.
    pub categorical: Vec<(String, u64)>,
    /// The label's type in the graph (`float64`, `int64`, `boolean`), when it is a feature.
    pub label_type: Option<String>,
    /// The label's number of categories, when the transform knows it.
    pub label_categories: Option<u64>,
}

/// The inputs of a model of `label` over the features of `graph` (a graph.json).
pub fn inputs_of(graph: &Value, label: &str) -> Result<Inputs, Error> {
    let features = graph["features"]
        .as_array()
        .ok_or_else(|| Error::data("the transform graph lists no features (is it a TransformGraph's graph.json?)"))?;
    let mut inputs = Inputs { numeric: Vec::new(), categorical: Vec::new(), label_type: None, label_categories: None };
    for f in features {
        let name = f["name"].as_str().unwrap_or_default().to_string();
        if name == label {
            inputs.label_type = f["type"].as_str().map(str::to_owned);
            inputs.label_categories = f["categories"].as_u64();
            continue;
        }
        match f["categories"].as_u64() {
            Some(n) => inputs.categorical.push((name, n)),
            None => inputs.numeric.push(name),
        }
    }
    if inputs.numeric.is_empty() && inputs.categorical.is_empty() {
        return Err(Error::invalid(format!("the transform has no feature besides the label `{label}` to train on")));
    }
    Ok(inputs)
}

/// A split, ready for training: numeric features as a host tensor, category indices in the
/// guest (looked up per minibatch), and the label as a float column tensor.
pub struct Split {
    /// Rows (with a label).
    pub rows: usize,
    /// Numeric features, `[rows, numeric]`; `None` when there are none.
    pub x: Option<Tensor>,
    /// The label as floats, `[rows, 1]`.
    pub y: Tensor,
    /// Category indices per categorical feature (a missing one is the feature's category
    /// count).
    pub categories: Vec<Vec<u32>>,
}

/// One split as tensors: rows without a label are left out; missing numbers become 0 and a
/// missing category the extra index.
pub fn prepare(table: &Table, label: &str, inputs: &Inputs) -> Result<Split, Error> {
    if !table.column_names().iter().any(|c| c == label) {
        return Err(Error::invalid(format!(
            "the examples have no label column `{label}` (columns: {})",
            table.column_names().join(", ")
        )));
    }
    let table = table.filter(&format!("not is_null({label})"))?;
    let float = |x: f64| json!({ "lit": { "type": "float", "value": x } });
    let int = |x: i64| json!({ "lit": { "type": "int", "value": x } });
    let mut spec = Vec::new();
    for (i, f) in inputs.numeric.iter().enumerate() {
        spec.push(json!({ "name": format!("n{i}"), "expr": call("fill_null", vec![call("float", vec![col(f)]), float(0.0)]) }));
    }
    for (j, (f, n)) in inputs.categorical.iter().enumerate() {
        spec.push(json!({ "name": format!("c{j}"), "expr": call("fill_null", vec![col(f), int(*n as i64)]) }));
    }
    spec.push(json!({ "name": "y", "expr": call("float", vec![col(label)]) }));
    let prep = Transform::fit(&Value::Array(spec).to_string(), &table)?;
    let t = prep.apply(&table)?;
    let rows = t.num_rows() as usize;
    let x = if inputs.numeric.is_empty() {
        None
    } else {
        let names: Vec<String> = (0..inputs.numeric.len()).map(|i| format!("n{i}")).collect();
        Some(Tensor::from_columns(&t, &names)?)
    };
    let y = Tensor::from_columns(&t, &["y".to_string()])?;
    let mut categories = Vec::new();
    for j in 0..inputs.categorical.len() {
        let v = Tensor::from_columns(&t, &[format!("c{j}")])?.to_f32()?;
        categories.push(v.into_iter().map(|x| x as u32).collect());
    }
    Ok(Split { rows, x, y, categories })
}

/// The `train` split, and the `eval` split when there is one with labelled rows.
pub fn splits(ctx: &Invocation, label: &str, inputs: &Inputs) -> Result<(Split, Option<Split>), Error> {
    let examples = ctx.input("examples").ok_or_else(|| Error::not_found("no input is bound to `examples`"))?;
    let parts = examples.parts();
    if !parts.iter().any(|p| p == "train") {
        return Err(Error::invalid(format!("the examples have no `train` split (splits: {})", parts.join(", "))));
    }
    let train = prepare(&examples.table("train")?, label, inputs)?;
    if train.rows == 0 {
        return Err(Error::data("the `train` split has no rows with a label"));
    }
    let eval = if parts.iter().any(|p| p == "eval") {
        Some(prepare(&examples.table("eval")?, label, inputs)?).filter(|s| s.rows > 0)
    } else {
        None
    };
    Ok((train, eval))
}

/// Hyperparameters common to the trainers, from the step's parameters and, when bound, the
/// `hyperparameters.json` of a HyperParameters artifact (whose values win).
#[derive(Clone, Debug)]
pub struct Hyper {
    /// Passes over the training split.
    pub epochs: i64,
    /// Adam's step size.
    pub learning_rate: f64,
    /// Rows per step.
    pub batch_size: i64,
    /// L2 penalty on the weights: `l2 / 2 · ||w||²` added to the mean loss.
    pub l2: f64,
    /// Seed of initialization, batch order and dropout.
    pub seed: i64,
    /// Every tuned value, for other trainers' own hyperparameters.
    pub tuned: serde_json::Map<String, Value>,
}

impl Hyper {
    /// Reads and checks the hyperparameters.
    pub fn read(ctx: &Invocation, defaults: (i64, f64)) -> Result<Hyper, Error> {
        let p = ctx.params()?;
        let mut h = Hyper {
            epochs: p.opt_int("epochs")?.unwrap_or(defaults.0),
            learning_rate: p.opt_float("learning_rate")?.unwrap_or(defaults.1),
            batch_size: p.opt_int("batch_size")?.unwrap_or(256),
            l2: p.opt_float("l2")?.unwrap_or(0.0),
            seed: p.opt_int("seed")?.unwrap_or(0),
            tuned: serde_json::Map::new(),
        };
        if let Some(hp) = ctx.input("hparams") {
            let best: Value = serde_json::from_str(&hp.json("hyperparameters.json")?)
                .map_err(|e| Error::data(format!("hyperparameters.json is not JSON: {e}")))?;
            if let Some(v) = best.get("epochs").and_then(Value::as_i64) {
                h.epochs = v;
            }
            if let Some(v) = best.get("learning_rate").and_then(Value::as_f64) {
                h.learning_rate = v;
            }
            if let Some(v) = best.get("batch_size").and_then(Value::as_i64) {
                h.batch_size = v;
            }
            if let Some(v) = best.get("l2").and_then(Value::as_f64) {
                h.l2 = v;
            }
            if let Value::Object(m) = best {
                h.tuned = m;
            }
        }
        if h.epochs < 1 {
            return Err(Error::invalid(format!("`epochs` is {}; it must be at least 1", h.epochs)));
        }
        if h.batch_size < 1 {
            return Err(Error::invalid(format!("`batch_size` is {}; it must be at least 1", h.batch_size)));
        }
        if !(h.learning_rate > 0.0 && h.learning_rate.is_finite()) {
            return Err(Error::invalid(format!(
                "`learning_rate` is {}; it must be a positive number",
                h.learning_rate
            )));
        }
        if !(h.l2 >= 0.0 && h.l2.is_finite()) {
            return Err(Error::invalid(format!("`l2` is {}; it must be zero or more", h.l2)));
        }
        Ok(h)
    }

    /// The hyperparameters as JSON, for the model spec.
    pub fn to_json(&self) -> Value {
        json!({
            "epochs": self.epochs,
            "learning_rate": self.learning_rate,
            "batch_size": self.batch_size,
            "l2": self.l2,
            "seed": self.seed,
            "optimizer": "adam",
        })
    }
}

/// A linear model over the inputs: one weight per numeric feature (`weights`, `[d, 1]`), one
/// per category of each categorical feature (`embedding.NAME`, `[categories + 1, 1]`), and a
/// `bias`; all start at zero. Logistic and linear regression share it; only their losses and
/// outputs differ.
pub struct Linear {
    /// The parameters.
    pub params: ModelParams,
    weights: Option<u32>,
    bias: u32,
    embeddings: Vec<u32>,
}

impl Linear {
    /// The model's parameters for `inputs`, seeded with `seed`.
    pub fn new(inputs: &Inputs, seed: u64) -> Result<Linear, Error> {
        let params = ModelParams::new(seed);
        let weights = if inputs.numeric.is_empty() {
            None
        } else {
            Some(params.add("weights", &[inputs.numeric.len() as u64, 1], Init::Zeros)?)
        };
        let bias = params.add("bias", &[1], Init::Zeros)?;
        let mut embeddings = Vec::new();
        for (name, n) in &inputs.categorical {
            embeddings.push(params.add(&format!("embedding.{name}"), &[n + 1, 1], Init::Zeros)?);
        }
        Ok(Linear { params, weights, bias, embeddings })
    }

    /// Every parameter's id (weights, bias, embeddings).
    pub fn ids(&self) -> Vec<u32> {
        self.weights.iter().copied().chain([self.bias]).chain(self.embeddings.iter().copied()).collect()
    }

    /// The linear output of rows `idx` of `split` (all rows when `None`) on `tape`, and the
    /// values the L2 penalty covers.
    pub fn output(&self, tape: &Tape, split: &Split, idx: Option<&[u64]>) -> Result<(u32, Vec<u32>), Error> {
        input_layer(tape, &self.params, self.weights, &self.embeddings, self.bias, split, idx)
    }
}

/// A dense layer over a split's inputs: `x · weight + Σ embedding_f[category_f] + bias` for
/// rows `idx` (all when `None`), and the values the L2 penalty covers (the weight and the
/// embeddings). The first layer of every trainer's model.
pub fn input_layer(
    tape: &Tape,
    params: &ModelParams,
    weight: Option<u32>,
    embeddings: &[u32],
    bias: u32,
    split: &Split,
    idx: Option<&[u64]>,
) -> Result<(u32, Vec<u32>), Error> {
    let mut z: Option<u32> = None;
    let mut penalized = Vec::new();
    if let (Some(x), Some(w)) = (&split.x, weight) {
        let xv = tape.input(&rows_of(x, split.rows, idx)?);
        let wv = tape.param(params, w)?;
        penalized.push(wv);
        z = Some(tape.matmul(xv, wv)?);
    }
    for (j, &e) in embeddings.iter().enumerate() {
        let ev = tape.param(params, e)?;
        penalized.push(ev);
        let cats = &split.categories[j];
        let rows: Vec<u32> = match idx {
            Some(i) => i.iter().map(|&r| cats[r as usize]).collect(),
            None => cats.clone(),
        };
        let g = tape.gather(ev, &rows)?;
        z = Some(match z {
            Some(z) => tape.binary(BinaryOp::Add, z, g)?,
            None => g,
        });
    }
    let bv = tape.param(params, bias)?;
    let z = z.ok_or_else(|| Error::invalid("the model has no inputs"))?;
    Ok((tape.binary(BinaryOp::AddRow, z, bv)?, penalized))
}

/// A label's standardization: its training mean and standard deviation (1 for a constant).
#[derive(Clone, Copy, Debug)]
pub struct Scaling {
    /// The training mean.
    pub mean: f64,
    /// The training standard deviation.
    pub std: f64,
}

impl Scaling {
    /// The scaling of `values`.
    pub fn of(values: &[f32]) -> Scaling {
        let n = values.len().max(1) as f64;
        let mean = values.iter().map(|v| f64::from(*v)).sum::<f64>() / n;
        let var = values.iter().map(|v| (f64::from(*v) - mean).powi(2)).sum::<f64>() / n;
        Scaling { mean, std: if var > 0.0 { var.sqrt() } else { 1.0 } }
    }

    /// A split's label, standardized, as a `[rows, 1]` tensor.
    pub fn apply(&self, split: &Split) -> Result<Tensor, Error> {
        let v: Vec<f32> = split.y.to_f32()?.iter().map(|y| ((f64::from(*y) - self.mean) / self.std) as f32).collect();
        Tensor::from_f32(&[split.rows as u64, 1], &v)
    }

    /// As `model.json` records it.
    pub fn to_json(&self) -> Value {
        json!({ "mean": self.mean, "std": self.std })
    }
}

/// Logs what a linear trainer did: `WHAT on ROWS rows, N numeric and M categorical features,
/// E epochs: train loss X, eval loss Y` (the losses of `last`, the epoch kept).
pub fn log_fit(ctx: &Invocation, what: &str, rows: usize, inputs: &Inputs, epochs: usize, last: &Value) {
    ctx.info(&format!(
        "{what} on {rows} rows, {} numeric and {} categorical features, {epochs} epochs: train loss {:.4}{}",
        inputs.numeric.len(),
        inputs.categorical.len(),
        last["train_loss"].as_f64().unwrap_or(f64::NAN),
        last["eval_loss"].as_f64().map(|e| format!(", eval loss {e:.4}")).unwrap_or_default()
    ));
}

/// Writes a model artifact on the `model` output: `weights.safetensors` (with the kind in its
/// metadata) and `model.json` (the format, version, kind, label, inputs and the transform's
/// digest and features, then `fields`), and the properties `kind`, `label`, `transform` and
/// the `train_loss`, `eval_loss` and `eval_accuracy` of `kept` (the epoch whose weights these
/// are) when known. Returns the output, for more properties.
#[allow(clippy::too_many_arguments)]
pub fn write_model(
    ctx: &Invocation,
    params: &ModelParams,
    kind: &str,
    label: &str,
    inputs: &Inputs,
    graph_digest: &str,
    graph: &Value,
    fields: Value,
    kept: &Value,
) -> Result<Output, Error> {
    let out = ctx.output("model")?;
    let meta = vec![("format".to_string(), "mlp.model".to_string()), ("kind".to_string(), kind.to_string())];
    out.put_blob("weights.safetensors", &params.to_safetensors(&meta)?)?;
    let mut spec = json!({
        "format": "mlp.model",
        "version": 1,
        "kind": kind,
        "label": label,
        "inputs": {
            "numeric": inputs.numeric,
            "categorical": inputs.categorical.iter().map(|(n, c)| json!({ "name": n, "categories": c })).collect::<Vec<_>>(),
        },
        "transform": {
            "digest": graph_digest,
            "features": graph["features"].as_array().map(|f| f.iter().map(|f| f["name"].clone()).collect::<Vec<_>>()),
        },
    });
    if let (Value::Object(spec), Value::Object(fields)) = (&mut spec, fields) {
        spec.extend(fields);
    }
    out.put_json("model.json", &spec.to_string())?;
    out.set_property("kind", &json!(kind).to_string())?;
    out.set_property("label", &json!(label).to_string())?;
    out.set_property("transform", &json!(graph_digest).to_string())?;
    for key in ["train_loss", "eval_loss", "eval_accuracy"] {
        if let Some(v) = kept.get(key).filter(|v| !v.is_null()) {
            out.set_property(key, &v.to_string())?;
        }
    }
    Ok(out)
}

/// Rows `idx` of `t` (all `rows` when `None`).
pub fn rows_of(t: &Tensor, rows: usize, idx: Option<&[u64]>) -> Result<Tensor, Error> {
    match idx {
        Some(i) => t.gather_rows(i),
        None => t.rows(0, rows as u64),
    }
}

/// `loss + l2 / 2 · Σ ||p||²` over `penalized`, when `l2 > 0`.
pub fn with_l2(tape: &Tape, loss: u32, penalized: &[u32], l2: f32) -> Result<u32, Error> {
    let mut loss = loss;
    if l2 > 0.0 {
        for &p in penalized {
            let s = tape.unary(UnaryOp::SumSquares, p)?;
            let s = tape.scale(s, l2 / 2.0)?;
            loss = tape.binary(BinaryOp::Add, loss, s)?;
        }
    }
    Ok(loss)
}

/// The `class_weights` parameter: `"none"` (the default) or `"balanced"`; whether balanced.
pub fn balanced_classes(p: &Params) -> Result<bool, Error> {
    match p.opt_string("class_weights")?.as_deref().unwrap_or("none") {
        "none" => Ok(false),
        "balanced" => Ok(true),
        other => Err(Error::invalid(format!("`class_weights` is `{other}`; use \"none\" or \"balanced\""))),
    }
}

/// Balanced class weights, one per row of class indices `rows` (each below `classes`):
/// `rows / (classes · rows of the class)`, so that every class weighs the same in the loss.
pub fn balanced_weights(rows: &[u32], classes: usize) -> Vec<f32> {
    let mut counts = vec![0f64; classes];
    for &c in rows {
        counts[c as usize] += 1.0;
    }
    let total = rows.len() as f64;
    rows.iter().map(|&c| (total / (classes as f64 * counts[c as usize].max(1.0))) as f32).collect()
}

/// Asks the hyperparameter search whether to stop after `epoch` (from 1) with `objective`
/// (the eval loss, or the train loss without an eval split), and says so in the log.
pub fn search_stops(ctx: &Invocation, epoch: u64, objective: f64) -> bool {
    let stop = ctx.report(epoch, objective);
    if stop {
        ctx.info(&format!("the hyperparameter search stopped training after epoch {epoch} (objective {objective})"));
    }
    stop
}

/// What a training loop kept.
#[derive(Clone, Debug)]
pub struct Fitted {
    /// One record per epoch run.
    pub history: Vec<Value>,
    /// The epoch (from 1) whose weights the parameters hold.
    pub kept_epoch: usize,
    /// The epoch after which a hyperparameter search stopped training, when it did.
    pub stopped_by_search: Option<u64>,
}

impl Fitted {
    /// The history record of the kept epoch.
    pub fn kept(&self) -> Value {
        self.history.get(self.kept_epoch.saturating_sub(1)).cloned().unwrap_or_default()
    }
}

/// Minibatch Adam over `rows` training rows for `h.epochs` epochs, in a seeded order: each
/// step zeroes the gradients, records `loss(tape, Some(batch))`, backpropagates and updates;
/// after each epoch `loss(tape, None)` on the evaluation split (when `has_eval`) gives the
/// evaluation loss. Reports `train_loss` / `eval_loss` metrics and progress, and the epoch's
/// objective (the eval loss, else the train loss) to a hyperparameter search: when the search
/// stops the training, the parameters `ids` are set back to the epoch with the lowest
/// objective. Otherwise they keep the last epoch's values. `loss` gets `true` for training
/// batches (with the L2 penalty) and `false` for the evaluation pass.
pub fn fit(
    ctx: &Invocation,
    params: &ModelParams,
    ids: &[u32],
    h: &Hyper,
    rows: usize,
    has_eval: bool,
    loss: impl Fn(&Tape, Option<&[u64]>, bool) -> Result<u32, Error>,
) -> Result<Fitted, Error> {
    let opt = Optimizer::open("adam", &json!({ "learning_rate": h.learning_rate }).to_string())?;
    let mut rng = Rng(h.seed as u64);
    let mut order: Vec<u64> = (0..rows as u64).collect();
    let mut history = Vec::new();
    // The lowest objective so far: its value, its epoch, and the parameters' values then.
    let mut best: Option<(f64, usize, Vec<Tensor>)> = None;
    for epoch in 0..h.epochs {
        rng.shuffle(&mut order);
        let mut total = 0f64;
        for batch in order.chunks(h.batch_size as usize) {
            params.zero_grads();
            let tape = Tape::new();
            let l = loss(&tape, Some(batch), true)?;
            total += f64::from(tape.item(l)?) * batch.len() as f64;
            tape.backward(l, params)?;
            opt.step(params)?;
        }
        let train_loss = total / rows as f64;
        ctx.metric("train_loss", epoch as u64, train_loss);
        let eval_loss = if has_eval {
            let tape = Tape::new();
            let l = loss(&tape, None, false)?;
            let v = f64::from(tape.item(l)?);
            ctx.metric("eval_loss", epoch as u64, v);
            Some(v)
        } else {
            None
        };
        history.push(json!({ "epoch": epoch + 1, "train_loss": train_loss, "eval_loss": eval_loss }));
        ctx.progress((epoch + 1) as f32 / h.epochs as f32, &format!("epoch {}", epoch + 1));
        let objective = eval_loss.unwrap_or(train_loss);
        let done = history.len();
        // A NaN objective is the worst: any number replaces it.
        if best.as_ref().is_none_or(|b| objective < b.0 || b.0.is_nan()) {
            best = Some((objective, done, ids.iter().map(|&id| params.value(id)).collect::<Result<_, _>>()?));
        }
        if search_stops(ctx, done as u64, objective) {
            let kept_epoch = match &best {
                Some((_, epoch, values)) => {
                    for (id, v) in ids.iter().zip(values) {
                        params.set(*id, v)?;
                    }
                    *epoch
                }
                None => done,
            };
            return Ok(Fitted { history, kept_epoch, stopped_by_search: Some(done as u64) });
        }
    }
    let kept_epoch = history.len();
    Ok(Fitted { history, kept_epoch, stopped_by_search: None })
}
