//! `train_mlp` (std/tabular.mlp): a multilayer perceptron for classification (softmax over the
//! label's values) or regression (squared loss on the standardized label), trained by
//! minibatch Adam on the `train` split with early stopping on the `eval` split. The loop runs
//! here, in the guest; every kernel runs in the host (`tensors` interface).
//!
//! Architecture: the first hidden layer is `relu(x · W1 + Σ E_f[category_f] + b1)`, where each
//! categorical feature `f` has an embedding table `E_f` of `[categories + 1, width]` (the same
//! as one-hot encoding followed by a dense layer, without the one-hot matrix; the extra row is
//! the missing category); then `relu(h · Wk + bk)` per further hidden layer, each followed by
//! dropout while training; then a linear output layer (one unit per class, or one for
//! regression). Weights start He-uniform, biases at zero; the model keeps the weights of its
//! best epoch on `eval`.
//!
//! After each epoch the trainer reports its eval loss (the train loss without an eval split)
//! to a hyperparameter search; when the search stops it, training ends there like early
//! stopping does (the best epoch on `eval` is kept), and `model.json` records
//! `stopped_by_search`.
//!
//! The model artifact: `weights.safetensors` (`layer0.weight`, `layer0.bias`,
//! `layer0.embedding.NAME`, `layer1.weight`, ..., `output.weight`, `output.bias`) and
//! `model.json` (task, classes, layer widths, feature order, label scaling, the transform's
//! digest, hyperparameters, per-epoch losses and the epoch kept).

use mlp_sdk::*;
use mlp_std_common::train::{
    Hyper, Rng, Scaling, Split, balanced_classes, balanced_weights, input_layer, inputs_of, rows_of, search_stops,
    splits, write_model,
};
use serde_json::{Value, json};

struct TrainMlp;

#[derive(Clone, Copy, PartialEq)]
enum Task {
    Classification,
    Regression,
}

/// A dense layer: weight, bias, and (first layer only) embeddings per categorical feature.
struct Layer {
    weight: Option<u32>,
    bias: u32,
    embeddings: Vec<u32>,
}

struct Model {
    params: ModelParams,
    layers: Vec<Layer>,
    output: Layer,
}

/// What the loss is computed against, per split.
struct Targets {
    /// Class index per row (classification).
    classes: Vec<u32>,
    /// Standardized label, `[rows, 1]` (regression).
    scaled: Option<Tensor>,
    /// Loss weight per row, `[rows]` (balanced class weights).
    weights: Option<Tensor>,
}

impl Model {
    /// The outputs (logits or the scaled prediction) of rows `idx` (all when `None`).
    fn forward(
        &self,
        tape: &Tape,
        split: &Split,
        idx: Option<&[u64]>,
        dropout: Option<(f32, &mut Rng)>,
    ) -> Result<(u32, Vec<u32>), Error> {
        // The first layer (or the output layer when there is no hidden layer) reads the inputs.
        let first = self.layers.first().unwrap_or(&self.output);
        let (mut h, mut penalized) =
            input_layer(tape, &self.params, first.weight, &first.embeddings, first.bias, split, idx)?;
        if self.layers.is_empty() {
            return Ok((h, penalized));
        }
        let mut dropout = dropout;
        let act = |tape: &Tape, h: u32, dropout: &mut Option<(f32, &mut Rng)>| -> Result<u32, Error> {
            let h = tape.unary(UnaryOp::Relu, h)?;
            Ok(match dropout {
                Some((rate, rng)) if *rate > 0.0 => tape.dropout(h, *rate, rng.next_u64())?,
                _ => h,
            })
        };
        h = act(tape, h, &mut dropout)?;
        for layer in self.layers.iter().skip(1).chain(std::iter::once(&self.output)) {
            let w = tape.param(&self.params, layer.weight.expect("hidden and output layers have weights"))?;
            penalized.push(w);
            let b = tape.param(&self.params, layer.bias)?;
            h = tape.matmul(h, w)?;
            h = tape.binary(BinaryOp::AddRow, h, b)?;
            if !std::ptr::eq(layer, &self.output) {
                h = act(tape, h, &mut dropout)?;
            }
        }
        Ok((h, penalized))
    }

    #[allow(clippy::too_many_arguments)]
    fn loss(
        &self,
        tape: &Tape,
        split: &Split,
        targets: &Targets,
        task: Task,
        idx: Option<&[u64]>,
        l2: f32,
        dropout: Option<(f32, &mut Rng)>,
    ) -> Result<(u32, u32), Error> {
        let (z, penalized) = self.forward(tape, split, idx, dropout)?;
        let mut loss = match task {
            Task::Classification => {
                let labels: Vec<u32> = match idx {
                    Some(i) => i.iter().map(|&r| targets.classes[r as usize]).collect(),
                    None => targets.classes.clone(),
                };
                let w = match &targets.weights {
                    Some(w) => Some(rows_of(w, split.rows, idx)?),
                    None => None,
                };
                tape.softmax_cross_entropy(z, &labels, w.as_ref())?
            }
            Task::Regression => {
                let y = rows_of(targets.scaled.as_ref().expect("regression targets"), split.rows, idx)?;
                tape.mse(z, &y)?
            }
        };
        let data_loss = loss;
        if l2 > 0.0 {
            for p in penalized {
                let s = tape.unary(UnaryOp::SumSquares, p)?;
                let s = tape.scale(s, l2 / 2.0)?;
                loss = tape.binary(BinaryOp::Add, loss, s)?;
            }
        }
        Ok((loss, data_loss))
    }

    /// Copies of every parameter's value (the best epoch so far).
    fn snapshot(&self, ids: &[u32]) -> Result<Vec<Tensor>, Error> {
        ids.iter().map(|&id| self.params.value(id)).collect()
    }
}

impl Plugin for TrainMlp {
    fn describe() -> ComponentInfo {
        info("train_mlp", env!("CARGO_PKG_VERSION"))
            .doc("A multilayer perceptron for classification or regression, with early stopping.")
            .input("examples", "Examples")
            .input("graph", "TransformGraph")
            .optional_input("hparams", "HyperParameters")
            .param("label", "string")
            .param_default("task", "string", r#"{"type": "string", "value": "classification"}"#)
            .param_default(
                "hidden",
                "list<int>",
                r#"{"type": "list", "value": [{"type": "int", "value": 64}, {"type": "int", "value": 32}]}"#,
            )
            .param_default("epochs", "int", r#"{"type": "int", "value": 20}"#)
            .param_default("learning_rate", "float", r#"{"type": "float", "value": 0.001}"#)
            .param_default("batch_size", "int", r#"{"type": "int", "value": 256}"#)
            .param_default("l2", "float", r#"{"type": "float", "value": 0.0}"#)
            .param_default("dropout", "float", r#"{"type": "float", "value": 0.0}"#)
            .param_default("early_stopping", "int", r#"{"type": "int", "value": 3}"#)
            .param_default("class_weights", "string", r#"{"type": "string", "value": "none"}"#)
            .param_default("seed", "int", r#"{"type": "int", "value": 0}"#)
            .output("model", "Model")
            .build()
    }

    fn run(ctx: &Invocation) -> Result<(), Error> {
        let p = ctx.params()?;
        let label = p.string("label")?;
        let task = match p.opt_string("task")?.as_deref().unwrap_or("classification") {
            "classification" => Task::Classification,
            "regression" => Task::Regression,
            other => {
                return Err(Error::invalid(format!("`task` is `{other}`; use \"classification\" or \"regression\"")));
            }
        };
        let h = Hyper::read(ctx, (20, 0.001))?;
        let hidden: Vec<i64> = match h.tuned.get("hidden").and_then(Value::as_array) {
            Some(v) => v.iter().filter_map(Value::as_i64).collect(),
            None => match p.raw("hidden").and_then(|v| v.get("value")).and_then(Value::as_array) {
                Some(items) => items.iter().filter_map(|i| i.get("value").and_then(Value::as_i64)).collect(),
                None => vec![64, 32],
            },
        };
        if let Some(w) = hidden.iter().find(|w| **w < 1 || **w > 65_536) {
            return Err(Error::invalid(format!("a hidden layer of width {w}: widths must be in 1..=65536")));
        }
        let dropout = h.tuned.get("dropout").and_then(Value::as_f64).unwrap_or(p.opt_float("dropout")?.unwrap_or(0.0));
        if !(0.0..1.0).contains(&dropout) {
            return Err(Error::invalid(format!("`dropout` is {dropout}; it must be in [0, 1)")));
        }
        let patience = p.opt_int("early_stopping")?.unwrap_or(3);
        if patience < 0 {
            return Err(Error::invalid(format!(
                "`early_stopping` is {patience}; use 0 to disable it, or a number of epochs"
            )));
        }
        let balanced = balanced_classes(&p)?;

        let graph_artifact = ctx.require_input("graph")?;
        let graph: Value = serde_json::from_str(&graph_artifact.json("graph.json")?)
            .map_err(|e| Error::data(format!("graph.json is not JSON: {e}")))?;
        let inputs = inputs_of(&graph, &label)?;
        let (train, eval) = splits(ctx, &label, &inputs)?;

        // Targets: classes (their values, in order) or the label's scaling.
        let y_train = train.y.to_f32()?;
        let mut classes: Vec<f32> = Vec::new();
        let mut scaling = Scaling { mean: 0.0, std: 1.0 };
        let targets_of = |split: &Split, y: &[f32], classes: &[f32], scaling: Scaling| -> Result<Targets, Error> {
            Ok(match task {
                Task::Classification => {
                    let mut idx = Vec::with_capacity(y.len());
                    for v in y {
                        match classes.iter().position(|c| c == v) {
                            Some(i) => idx.push(i as u32),
                            None => {
                                return Err(Error::data(format!(
                                    "the label takes the value {v} outside the training split's classes {classes:?}"
                                )));
                            }
                        }
                    }
                    let weights = if balanced {
                        Some(Tensor::from_f32(&[split.rows as u64], &balanced_weights(&idx, classes.len()))?)
                    } else {
                        None
                    };
                    Targets { classes: idx, scaled: None, weights }
                }
                Task::Regression => Targets { classes: Vec::new(), scaled: Some(scaling.apply(split)?), weights: None },
            })
        };
        match task {
            Task::Classification => {
                let mut seen: Vec<f32> = y_train.clone();
                seen.sort_by(f32::total_cmp);
                seen.dedup();
                if seen.len() < 2 {
                    return Err(Error::data(format!(
                        "the label `{label}` takes a single value in `train`: nothing to classify"
                    )));
                }
                if seen.len() > 1_000 {
                    return Err(Error::invalid(format!(
                        "the label `{label}` takes {} values; classification supports up to 1000 (is this a regression? set task = \"regression\")",
                        seen.len()
                    )));
                }
                classes = seen;
            }
            Task::Regression => scaling = Scaling::of(&y_train),
        }
        let train_targets = targets_of(&train, &y_train, &classes, scaling)?;
        let eval_targets = match &eval {
            Some(e) => Some(targets_of(e, &e.y.to_f32()?, &classes, scaling)?),
            None => None,
        };

        // Parameters.
        let params = ModelParams::new(h.seed as u64);
        let width_out = if task == Task::Classification { classes.len() as u64 } else { 1 };
        let widths: Vec<u64> = hidden.iter().map(|w| *w as u64).collect();
        let mut ids = Vec::new();
        let mut add = |name: String, shape: &[u64], init: Init| -> Result<u32, Error> {
            let id = params.add(&name, shape, init)?;
            ids.push(id);
            Ok(id)
        };
        let first_width = widths.first().copied().unwrap_or(width_out);
        let first_name = if widths.is_empty() { "output".to_string() } else { "layer0".to_string() };
        let first = Layer {
            weight: if inputs.numeric.is_empty() {
                None
            } else {
                Some(add(format!("{first_name}.weight"), &[inputs.numeric.len() as u64, first_width], Init::He)?)
            },
            bias: add(format!("{first_name}.bias"), &[first_width], Init::Zeros)?,
            embeddings: inputs
                .categorical
                .iter()
                .map(|(n, c)| add(format!("{first_name}.embedding.{n}"), &[c + 1, first_width], Init::Xavier))
                .collect::<Result<_, _>>()?,
        };
        let (layers, output) = if widths.is_empty() {
            (Vec::new(), first)
        } else {
            let mut layers = vec![first];
            for k in 1..widths.len() {
                layers.push(Layer {
                    weight: Some(add(format!("layer{k}.weight"), &[widths[k - 1], widths[k]], Init::He)?),
                    bias: add(format!("layer{k}.bias"), &[widths[k]], Init::Zeros)?,
                    embeddings: Vec::new(),
                });
            }
            let last = *widths.last().expect("non-empty");
            let output = Layer {
                weight: Some(add("output.weight".into(), &[last, width_out], Init::Xavier)?),
                bias: add("output.bias".into(), &[width_out], Init::Zeros)?,
                embeddings: Vec::new(),
            };
            (layers, output)
        };
        let model = Model { params, layers, output };
        let opt = Optimizer::open("adam", &json!({ "learning_rate": h.learning_rate }).to_string())?;
        let l2 = h.l2 as f32;

        // Training, with early stopping on `eval`.
        let mut rng = Rng(h.seed as u64);
        let mut order: Vec<u64> = (0..train.rows as u64).collect();
        let mut history = Vec::new();
        let mut best: Option<(f64, i64, Vec<Tensor>)> = None;
        let mut since_best = 0;
        let mut stopped_by_search = None;
        for epoch in 0..h.epochs {
            rng.shuffle(&mut order);
            let mut total = 0f64;
            for batch in order.chunks(h.batch_size as usize) {
                model.params.zero_grads();
                let tape = Tape::new();
                let (loss, data) = model.loss(
                    &tape,
                    &train,
                    &train_targets,
                    task,
                    Some(batch),
                    l2,
                    Some((dropout as f32, &mut rng)),
                )?;
                total += f64::from(tape.item(data)?) * batch.len() as f64;
                tape.backward(loss, &model.params)?;
                opt.step(&model.params)?;
            }
            let train_loss = total / train.rows as f64;
            ctx.metric("train_loss", epoch as u64, train_loss);
            let mut record = json!({ "epoch": epoch + 1, "train_loss": train_loss });
            let mut objective = train_loss;
            if let (Some(e), Some(t)) = (&eval, &eval_targets) {
                let tape = Tape::new();
                let (_, data) = model.loss(&tape, e, t, task, None, 0.0, None)?;
                let eval_loss = f64::from(tape.item(data)?);
                ctx.metric("eval_loss", epoch as u64, eval_loss);
                record["eval_loss"] = json!(eval_loss);
                objective = eval_loss;
                if task == Task::Classification {
                    let (z, _) = model.forward(&tape, e, None, None)?;
                    let logits = tape.value(z)?.to_f32()?;
                    let k = classes.len();
                    let correct = logits
                        .chunks(k)
                        .zip(&t.classes)
                        .filter(|(row, c)| {
                            let argmax = row
                                .iter()
                                .enumerate()
                                .fold((0, f32::NEG_INFINITY), |b, (i, v)| if *v > b.1 { (i, *v) } else { b })
                                .0;
                            argmax == **c as usize
                        })
                        .count();
                    let accuracy = correct as f64 / e.rows as f64;
                    ctx.metric("eval_accuracy", epoch as u64, accuracy);
                    record["eval_accuracy"] = json!(accuracy);
                }
                if best.as_ref().is_none_or(|b| eval_loss < b.0) {
                    best = Some((eval_loss, epoch + 1, model.snapshot(&ids)?));
                    since_best = 0;
                } else {
                    since_best += 1;
                }
            }
            history.push(record);
            ctx.progress((epoch + 1) as f32 / h.epochs as f32, &format!("epoch {}", epoch + 1));
            if search_stops(ctx, epoch as u64 + 1, objective) {
                stopped_by_search = Some(epoch + 1);
                break;
            }
            if patience > 0 && since_best >= patience {
                ctx.info(&format!(
                    "early stopping after epoch {}: no lower eval loss for {patience} epochs",
                    epoch + 1
                ));
                break;
            }
        }
        let kept_epoch = match &best {
            Some((_, epoch, values)) => {
                for (id, v) in ids.iter().zip(values) {
                    model.params.set(*id, v)?;
                }
                *epoch
            }
            None => history.len() as i64,
        };

        let kept = history.get(kept_epoch as usize - 1).cloned().unwrap_or_default();
        let fields = json!({
            "task": if task == Task::Classification { "classification" } else { "regression" },
            "classes": if task == Task::Classification { json!(classes) } else { Value::Null },
            "label_scaling": if task == Task::Regression { scaling.to_json() } else { Value::Null },
            "hidden": widths,
            "activation": "relu",
            "dropout": dropout,
            "missing": "a missing number counts as 0; a missing category is index `categories` (its own embedding row)",
            "output": if task == Task::Classification {
                "softmax over `classes` of the output layer"
            } else {
                "the output times label_scaling.std plus label_scaling.mean"
            },
            "hyperparameters": h.to_json(),
            "class_weights": if balanced { "balanced" } else { "none" },
            "early_stopping": patience,
            "stopped_by_search": stopped_by_search,
            "training": { "rows": train.rows, "eval_rows": eval.as_ref().map(|e| e.rows), "history": history, "kept_epoch": kept_epoch },
        });
        write_model(ctx, &model.params, "mlp", &label, &inputs, &graph_artifact.digest(), &graph, fields, &kept)?
            .set_property("kept_epoch", &kept_epoch.to_string())?;
        ctx.info(&format!(
            "MLP {widths:?} on {} rows: kept epoch {kept_epoch} of {}, {}",
            train.rows,
            history.len(),
            kept.get("eval_loss")
                .map(|v| format!("eval loss {v}"))
                .unwrap_or_else(|| format!("train loss {}", kept["train_loss"]))
        ));
        Ok(())
    }
}

export!(TrainMlp);
