//! `train_logistic` (std/tabular.mlp): a logistic regression trained by minibatch Adam on the
//! `train` split of transformed examples. The loop runs here, in the guest; every kernel
//! (minibatch gathers, matrix products, the loss and its gradient, the optimizer) runs in the
//! host through the `tensors` interface.
//!
//! The TransformGraph says which columns are features: a categorical feature (one that knows
//! its number of categories, such as a `vocabulary` or a `bucketize`) gets one weight per
//! category, looked up by index (the same model as one-hot encoding, without building the
//! one-hot matrix); every other feature is a number with one weight. Missing values: a
//! missing number counts as 0 (a z-scored feature's mean), a missing category has its own
//! weight. The label's rows with no label are left out. With `class_weights = "balanced"`,
//! each row's loss is weighted by `rows / (2 · rows of its class)` (a label of 0.5 or more is
//! the positive class), so a rare class counts as much as a common one.
//!
//! After each epoch the trainer reports its eval loss (the train loss without an eval split)
//! to a hyperparameter search; when the search stops it, the model keeps the weights of the
//! epoch with the lowest loss, and `model.json` records `stopped_by_search`.
//!
//! The model artifact holds `weights.safetensors` (the parameters: `weights` `[d, 1]` in the
//! order of `model.json`'s numeric features, `bias` `[1]`, and `embedding.NAME`
//! `[categories + 1, 1]` per categorical feature) and `model.json` (the architecture, the
//! feature order, the label, the digest of the transform it expects, the hyperparameters and
//! the loss of every epoch).

use mlp_sdk::*;
use mlp_std_common::train::{
    Hyper, Linear, Split, balanced_classes, balanced_weights, fit, inputs_of, log_fit, rows_of, splits, with_l2,
    write_model,
};
use serde_json::{Value, json};

struct TrainLogistic;

/// The loss of rows `idx` (all when `None`), each row weighted by `weights` when given, with
/// the L2 penalty when `l2 > 0`.
fn loss(
    model: &Linear,
    tape: &Tape,
    split: &Split,
    weights: Option<&Tensor>,
    idx: Option<&[u64]>,
    l2: f32,
) -> Result<u32, Error> {
    let (z, penalized) = model.output(tape, split, idx)?;
    let y = rows_of(&split.y, split.rows, idx)?;
    let w = match weights {
        Some(w) => Some(rows_of(w, split.rows, idx)?),
        None => None,
    };
    let loss = tape.bce_with_logits(z, &y, w.as_ref())?;
    with_l2(tape, loss, &penalized, l2)
}

/// Balanced class weights of a split's rows: the positive class is a label of 0.5 or more.
fn class_weights(split: &Split) -> Result<Tensor, Error> {
    let classes: Vec<u32> = split.y.to_f32()?.iter().map(|y| u32::from(*y >= 0.5)).collect();
    Tensor::from_f32(&[split.rows as u64], &balanced_weights(&classes, 2))
}

impl Plugin for TrainLogistic {
    fn describe() -> ComponentInfo {
        info("train_logistic", env!("CARGO_PKG_VERSION"))
            .doc("A logistic regression trained by minibatch Adam on the train split.")
            .input("examples", "Examples")
            .input("graph", "TransformGraph")
            .optional_input("hparams", "HyperParameters")
            .param("label", "string")
            .param_default("epochs", "int", r#"{"type": "int", "value": 10}"#)
            .param_default("learning_rate", "float", r#"{"type": "float", "value": 0.1}"#)
            .param_default("batch_size", "int", r#"{"type": "int", "value": 256}"#)
            .param_default("l2", "float", r#"{"type": "float", "value": 0.0}"#)
            .param_default("class_weights", "string", r#"{"type": "string", "value": "none"}"#)
            .param_default("seed", "int", r#"{"type": "int", "value": 0}"#)
            .output("model", "Model")
            .build()
    }

    fn run(ctx: &Invocation) -> Result<(), Error> {
        let p = ctx.params()?;
        let label = p.string("label")?;
        let balanced = balanced_classes(&p)?;
        let h = Hyper::read(ctx, (10, 0.1))?;
        let graph_artifact = ctx.require_input("graph")?;
        let graph: Value = serde_json::from_str(&graph_artifact.json("graph.json")?)
            .map_err(|e| Error::data(format!("graph.json is not JSON: {e}")))?;
        let inputs = inputs_of(&graph, &label)?;
        let (train, eval) = splits(ctx, &label, &inputs)?;

        // Per-row loss weights of each split (the eval loss is weighted the same way).
        let (train_w, eval_w) = if balanced {
            (Some(class_weights(&train)?), eval.as_ref().map(class_weights).transpose()?)
        } else {
            (None, None)
        };

        let model = Linear::new(&inputs, h.seed as u64)?;
        let l2 = h.l2 as f32;
        let fitted =
            fit(ctx, &model.params, &model.ids(), &h, train.rows, eval.is_some(), |tape, idx, training| {
                match (training, &eval) {
                    (true, _) => loss(&model, tape, &train, train_w.as_ref(), idx, l2),
                    (false, Some(e)) => loss(&model, tape, e, eval_w.as_ref(), None, 0.0),
                    (false, None) => Err(Error::invalid("no evaluation split")),
                }
            })?;

        let last = fitted.kept();
        let mut hyperparameters = h.to_json();
        hyperparameters["class_weights"] = json!(if balanced { "balanced" } else { "none" });
        let fields = json!({
            "missing": "a missing number counts as 0; a missing category is index `categories` (its own weight)",
            "output": "probability of the label being true: sigmoid(weights · numeric + sum of embedding[category] + bias)",
            "hyperparameters": hyperparameters,
            "stopped_by_search": fitted.stopped_by_search,
            "training": {
                "rows": train.rows,
                "eval_rows": eval.as_ref().map(|e| e.rows),
                "history": fitted.history,
                "kept_epoch": fitted.kept_epoch,
            },
        });
        write_model(
            ctx,
            &model.params,
            "logistic_regression",
            &label,
            &inputs,
            &graph_artifact.digest(),
            &graph,
            fields,
            &last,
        )?;
        log_fit(ctx, "logistic regression", train.rows, &inputs, fitted.history.len(), &last);
        Ok(())
    }
}

export!(TrainLogistic);
