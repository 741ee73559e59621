//! `tune` (std/tabular.mlp): the last step of a hyperparameter search. A search step is
//! lowered into one trainer step per trial, each training a model with one sampled point of
//! the space, and this step, which scores every trial's model on the `eval` split, picks the
//! best, and writes its point as the HyperParameters the trainers read.
//!
//! It samples nothing: each trial's model arrives on `trials.0`, `trials.1`, ... (the runtime
//! binds them to the one optional `trials` port) with a `trial` property saying which point it
//! was trained with (`{"search", "index", "point", "stopped_at_epoch"}`). The examples
//! are already transformed, so the `eval` split's rows (those with a label) go straight to the
//! host's `model` kernel, the forward pass batch inference uses; [`metrics`] (shared with
//! `evaluate`) scores the predictions. Larger is better for `auc` and `accuracy`, smaller for
//! `log_loss`, `rmse` and `mae`; a trial whose value is not finite ranks last, and ties go to
//! the lower index.
//!
//! The `best` output holds `hyperparameters.json` (the best point, keyed by trainer parameter
//! name), `search.json` (the settings and every trial's value, epochs and losses) and the
//! `trials` table (one row per trial, one column per dimension of the space), with the
//! properties `metric`, `best_value` and `best_trial`.

use mlp_sdk::*;
use mlp_std_common::metrics::{self, Metric};
use mlp_std_common::read_f64s;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

struct Tune;

/// The columns of the `trials` table before the space's dimensions; a dimension with one of
/// these names gets the column `point.NAME`.
const FIXED_COLUMNS: [&str; 4] = ["index", "value", "stopped_at_epoch", "epochs"];

/// Trainer parameters that take whole numbers (or lists of them): written as integers in
/// `hyperparameters.json`, since the trainers read them as such.
const INTEGER_PARAMS: [&str; 5] = ["epochs", "batch_size", "seed", "early_stopping", "hidden"];

/// Trials shown in the log's table (best first); `search.json` and the `trials` part have all.
const LOGGED_TRIALS: usize = 20;

/// What the search records about one trial.
#[derive(Clone, Debug, PartialEq)]
struct Trial {
    /// Its index: `trials.INDEX`.
    index: usize,
    /// The point of the space it was trained with, as plain JSON.
    point: Map<String, Value>,
    /// The metric on `eval`.
    value: f64,
    /// Epochs its trainer ran.
    epochs_run: usize,
    /// The epoch at which the search stopped it early, if it did.
    stopped_at_epoch: Option<i64>,
    /// The training loss of the epoch whose weights the model kept.
    train_loss: Option<f64>,
    /// The evaluation loss of that epoch.
    eval_loss: Option<f64>,
}

/// The `eval` split's rows with a label, and the label as numbers.
struct Eval {
    features: Table,
    label: Vec<f64>,
}

/// A value in the IR encoding (`{"type": "list", "value": [{"type": "int", "value": 64}]}`) as
/// plain JSON (`[64]`). Values already plain pass through.
fn plain(v: &Value) -> Value {
    match v {
        Value::Object(m) if m.len() == 2 && m.contains_key("value") && m.get("type").is_some_and(Value::is_string) => {
            plain(&m["value"])
        }
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), plain(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(plain).collect()),
        other => other.clone(),
    }
}

/// `v` with every whole float (`64.0`) written as an integer, in lists too.
fn whole_numbers(v: &Value) -> Value {
    match v {
        Value::Number(n) if n.as_i64().is_none() && n.as_u64().is_none() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => json!(f as i64),
            _ => v.clone(),
        },
        Value::Array(a) => Value::Array(a.iter().map(whole_numbers).collect()),
        other => other.clone(),
    }
}

/// The best point as `hyperparameters.json`: trainer parameter names to values, integer
/// parameters as integers.
fn hyperparameters(point: &Map<String, Value>) -> Map<String, Value> {
    point
        .iter()
        .map(|(k, v)| (k.clone(), if INTEGER_PARAMS.contains(&k.as_str()) { whole_numbers(v) } else { v.clone() }))
        .collect()
}

/// An error about the trial `trials.INDEX`: its message prefixed with the trial.
fn in_trial(index: usize, e: Error) -> Error {
    Error { message: format!("trial {index} (`trials.{index}`): {}", e.message), ..e }
}

/// The point and the early-stopping epoch from a trial model's properties.
fn trial_property(properties: &Value) -> Result<(Map<String, Value>, Option<i64>), Error> {
    let trial = match &properties["trial"] {
        Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
        v => v.clone(),
    };
    let Some(point) = trial.get("point").and_then(Value::as_object) else {
        return Err(Error::data(
            "the model has no `trial` property with a `point`: it was not trained by a trial of a search; \
             bind `trials` only through a search step",
        ));
    };
    let point = point.iter().map(|(k, v)| (k.clone(), plain(v))).collect();
    Ok((point, trial.get("stopped_at_epoch").and_then(Value::as_i64)))
}

/// Epochs run, and the training and evaluation losses of the epoch kept, from a model.json.
fn history_of(spec: &Value) -> (usize, Option<f64>, Option<f64>) {
    let history = spec["training"]["history"].as_array().map(Vec::as_slice).unwrap_or_default();
    let kept = match spec["training"]["kept_epoch"].as_u64() {
        Some(e) if e >= 1 => history.get(e as usize - 1),
        _ => history.last(),
    };
    let loss = |key: &str| kept.and_then(|k| k.get(key)).and_then(Value::as_f64);
    (history.len(), loss("train_loss"), loss("eval_loss"))
}

/// A finite number as JSON, anything else as `null`.
fn number(v: f64) -> Value {
    if v.is_finite() { json!(v) } else { Value::Null }
}

/// One column per dimension of the trials' points, in name order: numbers as float64,
/// strings as utf8, booleans as boolean, anything else (lists, mixed kinds) as its JSON text.
fn point_columns(trials: &[Trial]) -> Vec<Column> {
    let dims: BTreeSet<&String> = trials.iter().flat_map(|t| t.point.keys()).collect();
    dims.into_iter()
        .map(|dim| {
            let values: Vec<Option<&Value>> =
                trials.iter().map(|t| t.point.get(dim).filter(|v| !v.is_null())).collect();
            let all = |f: fn(&Value) -> bool| values.iter().flatten().all(|v| f(v));
            let values = if all(Value::is_number) {
                ColumnValues::Float64(values.iter().map(|v| v.and_then(Value::as_f64)).collect())
            } else if all(Value::is_string) {
                ColumnValues::Utf8(values.iter().map(|v| v.and_then(Value::as_str).map(str::to_owned)).collect())
            } else if all(Value::is_boolean) {
                ColumnValues::Boolean(values.iter().map(|v| v.and_then(Value::as_bool)).collect())
            } else {
                ColumnValues::Utf8(
                    values
                        .iter()
                        .map(|v| v.map(|v| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())))
                        .collect(),
                )
            };
            let name = if FIXED_COLUMNS.contains(&dim.as_str()) { format!("point.{dim}") } else { dim.clone() };
            Column { name, values }
        })
        .collect()
}

/// The `trials` table's columns: index, value, stopped_at_epoch, epochs, then the points.
fn trial_columns(trials: &[Trial]) -> Vec<Column> {
    let mut columns = vec![
        i64_column("index", trials.iter().map(|t| t.index as i64)),
        Column {
            name: "value".into(),
            values: ColumnValues::Float64(trials.iter().map(|t| Some(t.value).filter(|v| v.is_finite())).collect()),
        },
        Column {
            name: "stopped_at_epoch".into(),
            values: ColumnValues::Int64(trials.iter().map(|t| t.stopped_at_epoch).collect()),
        },
        i64_column("epochs", trials.iter().map(|t| t.epochs_run as i64)),
    ];
    columns.extend(point_columns(trials));
    columns
}

/// A metric value for people.
fn shown(v: f64) -> String {
    if !v.is_finite() {
        format!("{v}")
    } else if v.abs() >= 1e4 {
        format!("{v:.1}")
    } else {
        format!("{v:.4}")
    }
}

/// The log's table of the trials: a header, then up to [`LOGGED_TRIALS`] rows in `order` (best
/// first), then what was left out and what `*` means.
fn table_lines(metric: &str, trials: &[Trial], order: &[usize]) -> Vec<String> {
    let width = metric.len().max(10);
    let mut lines = vec![format!("{:>5}  {:>width$}  {:>6}  point", "trial", metric, "epochs")];
    for &i in order.iter().take(LOGGED_TRIALS) {
        let t = &trials[i];
        let epochs = format!("{}{}", t.epochs_run, if t.stopped_at_epoch.is_some() { "*" } else { "" });
        let point: Vec<String> = t.point.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let line = format!("{:>5}  {:>width$}  {epochs:>6}  {}", t.index, shown(t.value), point.join(" "));
        lines.push(line.trim_end().to_string());
    }
    if order.len() > LOGGED_TRIALS {
        lines.push(format!(
            "... and {} more (the `trials` part of `best` has every trial)",
            order.len() - LOGGED_TRIALS
        ));
    }
    if trials.iter().any(|t| t.stopped_at_epoch.is_some()) {
        lines.push("* stopped early by the search".into());
    }
    lines
}

/// The `eval` split's labelled rows and their label.
fn eval_split(ctx: &Invocation, label: &str) -> Result<Eval, Error> {
    let examples = ctx.require_input("examples")?;
    let parts = examples.parts();
    if !parts.iter().any(|p| p == "eval") {
        return Err(Error::invalid(format!(
            "the examples have no `eval` split (splits: {}); tune scores every trial on `eval`: pass examples split into `train` and `eval`",
            parts.join(", ")
        )));
    }
    let table = examples.table("eval")?;
    let columns = table.column_names();
    if !columns.iter().any(|c| c == label) {
        return Err(Error::invalid(format!(
            "`label` is `{label}`, but the `eval` split has no such column (columns: {}); name the label the trials were trained on",
            columns.join(", ")
        )));
    }
    let features = table.filter(&format!("not is_null({label})"))?;
    if features.num_rows() == 0 {
        return Err(Error::data(format!(
            "the `eval` split has no row with a label `{label}`: there is nothing to score the trials on"
        )));
    }
    let spec =
        json!([{ "name": "y", "expr": { "call": { "func": "float", "args": [{ "column": label }], "named": {} } } }]);
    let y = Transform::fit(&spec.to_string(), &features)?.apply(&features)?;
    Ok(Eval { label: read_f64s(&y, "y")?, features })
}

/// The metric of one trial's predictions on `eval`.
fn score(metric: Metric, eval: &Eval, predictions: &Table, label: &str) -> Result<f64, Error> {
    let mut classes = Vec::new();
    let mut probability_columns = Vec::new();
    for name in predictions.column_names() {
        if let Some(class) = name.strip_prefix("probability_") {
            let value: f64 = class.parse().map_err(|_| {
                Error::data(format!("the predictions have a column `{name}` that names no class value"))
            })?;
            classes.push(value);
            probability_columns.push(name);
        }
    }
    let classifier = !classes.is_empty();
    if metric.for_classifiers() != classifier {
        let (kind, other) = if classifier { ("classifiers", true) } else { ("regressors", false) };
        return Err(Error::invalid(format!(
            "`metric` is \"{}\" but the trials are {kind}; use {}",
            metric.name(),
            Metric::names_for(other)
        )));
    }
    if !classifier {
        let predicted = read_f64s(predictions, "prediction")?;
        return Ok(match metric {
            Metric::Rmse => metrics::rmse(&eval.label, &predicted),
            _ => metrics::mae(&eval.label, &predicted),
        });
    }
    // Classes are compared as the trainers compare them: as f32.
    let as_f32: Vec<f32> = classes.iter().map(|c| *c as f32).collect();
    let mut truth = Vec::with_capacity(eval.label.len());
    for y in &eval.label {
        match as_f32.iter().position(|c| *c == *y as f32) {
            Some(j) => truth.push(j),
            None => {
                return Err(Error::data(format!(
                    "the label `{label}` takes the value {y} in `eval`, which is not one of the model's classes {classes:?}"
                )));
            }
        }
    }
    match metric {
        Metric::Accuracy => {
            let predicted: Vec<f32> = read_f64s(predictions, "prediction")?.iter().map(|p| *p as f32).collect();
            let truth: Vec<f32> = truth.iter().map(|&j| as_f32[j]).collect();
            Ok(metrics::accuracy(&truth, &predicted))
        }
        Metric::LogLoss => {
            let mut p_true = vec![f64::NAN; truth.len()];
            for (j, column) in probability_columns.iter().enumerate() {
                let p = read_f64s(predictions, column)?;
                for (r, &t) in truth.iter().enumerate() {
                    if t == j {
                        p_true[r] = p[r];
                    }
                }
            }
            Ok(metrics::log_loss(&p_true))
        }
        _ => metrics::class_auc(&truth, classes.len(), |j| read_f64s(predictions, &probability_columns[j]))?
            .ok_or_else(|| {
                Error::data(format!(
                    "AUC is undefined: in `eval`, the label `{label}` takes a single one of the model's classes {classes:?}; \
                     use accuracy or log_loss, or an eval split with more than one class"
                ))
            }),
    }
}

/// Scores the trial model bound to `trials.INDEX`.
fn run_trial(
    index: usize,
    artifact: &Artifact,
    metric: Metric,
    eval: &Eval,
    label: &str,
    graph_digest: &str,
) -> Result<Trial, Error> {
    let properties: Value = serde_json::from_str(&artifact.properties_json()).unwrap_or(Value::Null);
    let (point, stopped_at_epoch) = trial_property(&properties)?;
    let spec_text = artifact.json("model.json")?;
    let spec: Value =
        serde_json::from_str(&spec_text).map_err(|e| Error::data(format!("model.json is not JSON: {e}")))?;
    let model = Model::load(&spec_text, &artifact.blob("weights.safetensors")?)?;
    if model.label() != label {
        return Err(Error::invalid(format!(
            "the model predicts `{}`, but `label` is `{label}`; give the search the label its trials train on",
            model.label()
        )));
    }
    if let Some(want) = model.transform_digest()
        && want != graph_digest
    {
        return Err(Error::invalid(format!(
            "the model was trained on the features of transform {want}, but `graph` is {graph_digest}; \
             pass the TransformGraph that made `examples`"
        )));
    }
    let predictions = model.predict(&eval.features)?;
    let value = score(metric, eval, &predictions, label)?;
    let (epochs_run, train_loss, eval_loss) = history_of(&spec);
    Ok(Trial { index, point, value, epochs_run, stopped_at_epoch, train_loss, eval_loss })
}

impl Plugin for Tune {
    fn describe() -> ComponentInfo {
        info("tune", env!("CARGO_PKG_VERSION"))
            .doc("Scores the models of a hyperparameter search's trials on the eval split and keeps the best point.")
            .input("examples", "Examples")
            .input("graph", "TransformGraph")
            .optional_input("trials", "Model")
            .param("trainer", "component")
            .param("label", "string")
            .param("space", "space")
            .param_default("search", "string", r#"{"type": "string", "value": "random"}"#)
            .param_default("trials", "int", r#"{"type": "int", "value": 20}"#)
            .param_default("parallel", "int", r#"{"type": "int", "value": 2}"#)
            .param_default("metric", "string", r#"{"type": "string", "value": "auc"}"#)
            .param_default("early_stopping", "bool", r#"{"type": "bool", "value": true}"#)
            .param_default("grace", "int", r#"{"type": "int", "value": 2}"#)
            .param_default("seed", "int", r#"{"type": "int", "value": 0}"#)
            .output("best", "HyperParameters")
            .build()
    }

    fn run(ctx: &Invocation) -> Result<(), Error> {
        let p = ctx.params()?;
        let name = p.opt_string("metric")?.unwrap_or_else(|| "auc".into());
        let metric = Metric::parse(&name).ok_or_else(|| {
            Error::invalid(format!(
                "`metric` is \"{name}\", which tune does not know; use {} for classifiers, {} for regressors",
                Metric::names_for(true),
                Metric::names_for(false)
            ))
        })?;
        let label = p.string("label")?;
        let setting = |key: &str| p.raw(key).map(plain).unwrap_or(Value::Null);

        let mut bound = Vec::new();
        while let Some(a) = ctx.input(&format!("trials.{}", bound.len())) {
            bound.push(a);
        }
        if bound.is_empty() {
            return Err(Error::invalid(
                "no trial model is bound to `trials` (`trials.0`, `trials.1`, ...): tune scores the models of a \
                 search's trial steps; run it as a search step with `trials` of at least 1",
            ));
        }
        let eval = eval_split(ctx, &label)?;
        let graph_digest = ctx.require_input("graph")?.digest();

        let n = bound.len();
        let mut trials = Vec::with_capacity(n);
        for (index, artifact) in bound.iter().enumerate() {
            let trial =
                run_trial(index, artifact, metric, &eval, &label, &graph_digest).map_err(|e| in_trial(index, e))?;
            if trial.value.is_finite() {
                ctx.metric(metric.name(), index as u64, trial.value);
            } else {
                ctx.warn(&format!(
                    "trial {index}: {} is {} (its predictions are not finite); it ranks last",
                    metric.name(),
                    trial.value
                ));
            }
            trials.push(trial);
            ctx.progress((index + 1) as f32 / n as f32, &format!("trial {index}"));
        }

        let values: Vec<f64> = trials.iter().map(|t| t.value).collect();
        let order = metrics::ranking(&values, metric.maximize());
        let best = &trials[order[0]];

        let out = ctx.output("best")?;
        out.put_json("hyperparameters.json", &Value::Object(hyperparameters(&best.point)).to_string())?;
        let records: Vec<Value> = trials
            .iter()
            .map(|t| {
                json!({
                    "index": t.index,
                    "point": t.point,
                    "value": number(t.value),
                    "epochs_run": t.epochs_run,
                    "stopped_at_epoch": t.stopped_at_epoch,
                    "train_loss": t.train_loss,
                    "eval_loss": t.eval_loss,
                })
            })
            .collect();
        let search = json!({
            "trainer": setting("trainer"),
            "label": label,
            "metric": metric.name(),
            "maximize": metric.maximize(),
            "search": setting("search"),
            "space": setting("space"),
            "settings": {
                "trials": setting("trials"),
                "parallel": setting("parallel"),
                "early_stopping": setting("early_stopping"),
                "grace": setting("grace"),
                "seed": setting("seed"),
            },
            "best_trial": best.index,
            "best_value": number(best.value),
            "trials": records,
        });
        out.put_json("search.json", &search.to_string())?;
        out.put_table("trials", &Table::from_values(&trial_columns(&trials))?)?;
        out.set_property("metric", &json!(metric.name()).to_string())?;
        out.set_property("best_value", &number(best.value).to_string())?;
        out.set_property("best_trial", &best.index.to_string())?;

        for line in table_lines(metric.name(), &trials, &order) {
            ctx.info(&line);
        }
        let point: Vec<String> = best.point.iter().map(|(k, v)| format!("{k}={v}")).collect();
        ctx.info(&format!(
            "best of {n} trials: trial {} with {} {} ({})",
            best.index,
            metric.name(),
            shown(best.value),
            point.join(", ")
        ));
        Ok(())
    }
}

export!(Tune);

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(index: usize, value: f64, point: Value, stopped: Option<i64>) -> Trial {
        Trial {
            index,
            point: point.as_object().cloned().unwrap_or_default(),
            value,
            epochs_run: 5,
            stopped_at_epoch: stopped,
            train_loss: None,
            eval_loss: None,
        }
    }

    #[test]
    fn ir_values_become_plain_json() {
        let ir = json!({"type": "map", "value": {
            "hidden": {"type": "map", "value": {
                "kind": {"type": "string", "value": "choice"},
                "values": {"type": "list", "value": [
                    {"type": "list", "value": [{"type": "int", "value": 64}]},
                    {"type": "list", "value": [{"type": "int", "value": 64}, {"type": "int", "value": 32}]},
                ]},
            }},
            "learning_rate": {"type": "map", "value": {
                "kind": {"type": "string", "value": "log_range"},
                "low": {"type": "float", "value": 0.0001},
                "high": {"type": "float", "value": 0.1},
            }},
        }});
        assert_eq!(
            plain(&ir),
            json!({
                "hidden": {"kind": "choice", "values": [[64], [64, 32]]},
                "learning_rate": {"kind": "log_range", "low": 0.0001, "high": 0.1},
            })
        );
        assert_eq!(plain(&json!([64, 32])), json!([64, 32]));
        assert_eq!(plain(&json!("random")), json!("random"));
    }

    #[test]
    fn hyperparameters_write_integer_parameters_as_integers() {
        let point =
            json!({"epochs": 12.0, "hidden": [64.0, 32], "learning_rate": 2.0, "dropout": 0.25, "batch_size": 100.5});
        let h = Value::Object(hyperparameters(point.as_object().unwrap()));
        assert_eq!(
            h,
            json!({"epochs": 12, "hidden": [64, 32], "learning_rate": 2.0, "dropout": 0.25, "batch_size": 100.5})
        );
        assert!(h["epochs"].is_i64() && h["hidden"][0].is_i64() && h["learning_rate"].is_f64());
    }

    #[test]
    fn the_trial_property_gives_the_point_and_the_stopping_epoch() {
        let props = json!({"kind": "mlp", "trial": {"search": "search", "index": 1,
            "point": {"learning_rate": {"type": "float", "value": 0.01}, "hidden": [32]}, "stopped_at_epoch": 3}});
        let (point, stopped) = trial_property(&props).unwrap();
        assert_eq!(Value::Object(point), json!({"learning_rate": 0.01, "hidden": [32]}));
        assert_eq!(stopped, Some(3));
        let props = json!({"trial": {"point": {"l2": 0.1}, "stopped_at_epoch": null}});
        assert_eq!(trial_property(&props).unwrap().1, None);
        let e = in_trial(2, trial_property(&json!({"kind": "mlp"})).unwrap_err());
        assert!(e.message.starts_with("trial 2 (`trials.2`): the model has no `trial` property"), "{}", e.message);
        assert!(matches!(e.kind, ErrorKind::Data));
    }

    #[test]
    fn the_history_gives_epochs_and_the_kept_epochs_losses() {
        let spec = json!({"training": {"kept_epoch": 2, "history": [
            {"epoch": 1, "train_loss": 0.9, "eval_loss": 0.8},
            {"epoch": 2, "train_loss": 0.5, "eval_loss": 0.4},
            {"epoch": 3, "train_loss": 0.3, "eval_loss": 0.6},
        ]}});
        assert_eq!(history_of(&spec), (3, Some(0.5), Some(0.4)));
        let spec = json!({"training": {"history": [{"epoch": 1, "train_loss": 0.7, "eval_loss": null}]}});
        assert_eq!(history_of(&spec), (1, Some(0.7), None));
        assert_eq!(history_of(&json!({})), (0, None, None));
    }

    #[test]
    fn point_columns_take_the_kind_of_their_values() {
        let trials = vec![
            trial(0, 0.8, json!({"learning_rate": 0.1, "hidden": [64], "activation": "relu", "epochs": 5}), None),
            trial(1, f64::NAN, json!({"learning_rate": 0.01, "hidden": [64, 32], "activation": "tanh"}), Some(2)),
        ];
        let columns = trial_columns(&trials);
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["index", "value", "stopped_at_epoch", "epochs", "activation", "point.epochs", "hidden", "learning_rate"]
        );
        let by_name = |n: &str| &columns.iter().find(|c| c.name == n).unwrap().values;
        assert!(matches!(by_name("value"), ColumnValues::Float64(v) if *v == vec![Some(0.8), None]));
        assert!(matches!(by_name("stopped_at_epoch"), ColumnValues::Int64(v) if *v == vec![None, Some(2)]));
        assert!(
            matches!(by_name("activation"), ColumnValues::Utf8(v) if *v == vec![Some("relu".into()), Some("tanh".into())])
        );
        assert!(matches!(by_name("point.epochs"), ColumnValues::Float64(v) if *v == vec![Some(5.0), None]));
        assert!(
            matches!(by_name("hidden"), ColumnValues::Utf8(v) if *v == vec![Some("[64]".into()), Some("[64,32]".into())])
        );
        assert!(matches!(by_name("learning_rate"), ColumnValues::Float64(v) if *v == vec![Some(0.1), Some(0.01)]));
    }

    #[test]
    fn the_log_table_lists_the_best_first() {
        let trials = vec![trial(0, 0.7, json!({"l2": 0.1}), None), trial(1, 0.9, json!({"l2": 0.0}), Some(2))];
        let order = metrics::ranking(&[0.7, 0.9], true);
        let lines = table_lines("auc", &trials, &order);
        assert_eq!(
            lines,
            [
                "trial         auc  epochs  point",
                "    1      0.9000      5*  l2=0.0",
                "    0      0.7000       5  l2=0.1",
                "* stopped early by the search",
            ]
        );
        let many: Vec<Trial> = (0..25).map(|i| trial(i, i as f64, json!({}), None)).collect();
        let order = metrics::ranking(&many.iter().map(|t| t.value).collect::<Vec<_>>(), false);
        let lines = table_lines("rmse", &many, &order);
        assert_eq!(lines.len(), 1 + LOGGED_TRIALS + 1);
        assert_eq!(lines[1], "    0      0.0000       5");
        assert_eq!(lines.last().unwrap(), "... and 5 more (the `trials` part of `best` has every trial)");
    }

    #[test]
    fn values_for_people_and_json() {
        assert_eq!(shown(0.81234), "0.8123");
        assert_eq!(shown(123456.78), "123456.8");
        assert_eq!(shown(f64::NAN), "NaN");
        assert_eq!(number(0.5), json!(0.5));
        assert_eq!(number(f64::INFINITY), Value::Null);
    }
}
