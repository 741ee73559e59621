//! `train_linear` (std/tabular.mlp): a linear regression trained by minibatch Adam on the
//! `train` split of transformed examples, with squared or Huber loss (robust to outliers) on
//! the standardized label. The loop runs here, in the guest; every kernel
//! (minibatch gathers, matrix products, the loss and its gradient, the optimizer) runs in the
//! host through the `tensors` interface.
//!
//! The TransformGraph says which columns are features: a categorical feature (one that knows
//! its number of categories, such as a `vocabulary` or a `bucketize`) gets one weight per
//! category, looked up by index (the same model as one-hot encoding, without building the
//! one-hot matrix); every other feature is a number with one weight. Missing values: a
//! missing number counts as 0 (a z-scored feature's mean), a missing category has its own
//! weight. The label's rows with no label are left out. The label is standardized with its
//! training mean and standard deviation (recorded as `label_scaling`), so one learning rate
//! fits labels of any scale and Huber's threshold is one standard deviation.
//!
//! After each epoch the trainer reports its eval loss (the train loss without an eval split)
//! to a hyperparameter search; when the search stops it, the model keeps the weights of the
//! epoch with the lowest loss, and `model.json` records `stopped_by_search`.
//!
//! The model artifact holds `weights.safetensors` (the parameters: `weights` `[d, 1]` in the
//! order of `model.json`'s numeric features, `bias` `[1]`, and `embedding.NAME`
//! `[categories + 1, 1]` per categorical feature) and `model.json` (the architecture, the
//! feature order, the label, the digest of the transform it expects, the hyperparameters and
//! the loss of every epoch). A prediction is `(weights · numeric + Σ embedding[category] +
//! bias) · std + mean`.

use mlp_sdk::*;
use mlp_std_common::train::{
    Hyper, Linear, Scaling, Split, fit, inputs_of, log_fit, rows_of, splits, with_l2, write_model,
};
use serde_json::{Value, json};

struct TrainLinear;

#[derive(Clone, Copy, PartialEq)]
enum Loss {
    Squared,
    Huber,
}

/// The loss of rows `idx` (all when `None`) against the standardized label `y`, with the L2
/// penalty when `l2 > 0`.
fn loss(
    model: &Linear,
    tape: &Tape,
    split: &Split,
    y: &Tensor,
    kind: Loss,
    idx: Option<&[u64]>,
    l2: f32,
) -> Result<u32, Error> {
    let (z, penalized) = model.output(tape, split, idx)?;
    let y = rows_of(y, split.rows, idx)?;
    let loss = match kind {
        Loss::Squared => tape.mse(z, &y)?,
        Loss::Huber => tape.huber(z, &y, 1.0)?,
    };
    with_l2(tape, loss, &penalized, l2)
}

impl Plugin for TrainLinear {
    fn describe() -> ComponentInfo {
        info("train_linear", env!("CARGO_PKG_VERSION"))
            .doc("A linear regression trained by minibatch Adam on the train split.")
            .input("examples", "Examples")
            .input("graph", "TransformGraph")
            .optional_input("hparams", "HyperParameters")
            .param("label", "string")
            .param_default("epochs", "int", r#"{"type": "int", "value": 10}"#)
            .param_default("learning_rate", "float", r#"{"type": "float", "value": 0.01}"#)
            .param_default("batch_size", "int", r#"{"type": "int", "value": 256}"#)
            .param_default("l2", "float", r#"{"type": "float", "value": 0.0}"#)
            .param_default("loss", "string", r#"{"type": "string", "value": "squared"}"#)
            .param_default("seed", "int", r#"{"type": "int", "value": 0}"#)
            .output("model", "Model")
            .build()
    }

    fn run(ctx: &Invocation) -> Result<(), Error> {
        let label = ctx.params()?.string("label")?;
        let h = Hyper::read(ctx, (10, 0.01))?;
        let kind = match ctx.params()?.opt_string("loss")?.as_deref().unwrap_or("squared") {
            "squared" => Loss::Squared,
            "huber" => Loss::Huber,
            other => return Err(Error::invalid(format!("`loss` is `{other}`; use \"squared\" or \"huber\""))),
        };
        let graph_artifact = ctx.require_input("graph")?;
        let graph: Value = serde_json::from_str(&graph_artifact.json("graph.json")?)
            .map_err(|e| Error::data(format!("graph.json is not JSON: {e}")))?;
        let inputs = inputs_of(&graph, &label)?;
        let (train, eval) = splits(ctx, &label, &inputs)?;
        // The label, standardized with the training mean and standard deviation.
        let scaling = Scaling::of(&train.y.to_f32()?);
        let y_scaled = scaling.apply(&train)?;
        let eval_y = match &eval {
            Some(e) => Some(scaling.apply(e)?),
            None => None,
        };

        let model = Linear::new(&inputs, h.seed as u64)?;
        let l2 = h.l2 as f32;
        let fitted =
            fit(ctx, &model.params, &model.ids(), &h, train.rows, eval.is_some(), |tape, idx, training| {
                match (training, &eval, &eval_y) {
                    (true, _, _) => loss(&model, tape, &train, &y_scaled, kind, idx, l2),
                    (false, Some(e), Some(y)) => loss(&model, tape, e, y, kind, None, 0.0),
                    _ => Err(Error::invalid("no evaluation split")),
                }
            })?;

        let last = fitted.kept();
        let fields = json!({
            "loss": if kind == Loss::Squared { "squared" } else { "huber" },
            "label_scaling": scaling.to_json(),
            "missing": "a missing number counts as 0; a missing category is index `categories` (its own weight)",
            "output": "(weights · numeric + sum of embedding[category] + bias) * label_scaling.std + label_scaling.mean",
            "hyperparameters": h.to_json(),
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
            "linear_regression",
            &label,
            &inputs,
            &graph_artifact.digest(),
            &graph,
            fields,
            &last,
        )?;
        log_fit(ctx, "linear regression", train.rows, &inputs, fitted.history.len(), &last);
        Ok(())
    }
}

export!(TrainLinear);
