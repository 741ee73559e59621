//! Training end to end, through the `mlp` binary: the example's logistic regression
//! (`examples/taxi/train.mlp`) trained on transformed taxi trips, its model artifact read back
//! without the pipeline (safetensors weights plus `model.json`), its predictions on the
//! evaluation split computed here independently and scored (AUC, log loss against the base
//! rate), and the errors a trainer reports.

#[path = "e2e/mod.rs"]
mod e2e;
use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use e2e::{artifact, auc, blob, run, split};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn taxi(name: &str, rows: u64) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mlp-train-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::create_dir_all(dir.join("data/span-1")).unwrap();
    for f in ["train.mlp", "features.mlp", "describe.mlp"] {
        std::fs::copy(repo.join("examples/taxi").join(f), dir.join(f)).unwrap();
    }
    let mut csv = Vec::new();
    mlp_example_data::write_csv(mlp_example_data::Spec { rows, seed: 3, drift: false }, &mut csv).unwrap();
    std::fs::write(dir.join("data/span-1/trips.csv"), csv).unwrap();
    dir
}

#[test]
fn the_example_logistic_regression_learns_and_its_model_loads_without_the_pipeline() {
    let dir = taxi("example", 30_000);
    // Also score the evaluation split with the trained model (batch inference).
    let mut src = std::fs::read_to_string(dir.join("train.mlp")).unwrap();
    src.push_str(
        "\nstep score = tab.batch_infer {\n  model = train.model\n  graph = features.graph\n  examples = ingest.out\n  splits = [\"eval\"]\n  keep_columns = [\"taxi_id\"]\n  batch_size = 1000\n}\n",
    );
    std::fs::write(dir.join("train.mlp"), src).unwrap();
    let (code, steps, err) = run(&dir, "train.mlp", &[]);
    assert_eq!(code, 0, "{err}");
    let model = artifact(&dir, &steps, "train", "model");
    let spec: serde_json::Value = serde_json::from_slice(blob(&model, "model.json")).unwrap();
    assert_eq!(spec["format"], "mlp.model");
    assert_eq!(spec["kind"], "logistic_regression");
    assert_eq!(spec["label"], "big_tipper");
    let graph_digest = steps["features/transform"]["outputs"]["graph"]["digest"].as_str().unwrap();
    assert_eq!(spec["transform"]["digest"].as_str().unwrap(), graph_digest, "the model names the transform it expects");
    assert_eq!(spec["training"]["history"].as_array().unwrap().len(), 5);

    // The weights, read with the safetensors reader alone.
    let (tensors, meta) = mlp_tensor::weights::from_safetensors(blob(&model, "weights.safetensors")).unwrap();
    assert_eq!(meta["kind"], "logistic_regression");
    let w: HashMap<String, Vec<f32>> = tensors.into_iter().map(|(n, t)| (n, t.data().to_vec())).collect();
    let numeric: Vec<String> =
        spec["inputs"]["numeric"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    let categorical: Vec<(String, usize)> = spec["inputs"]["categorical"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_string(), c["categories"].as_u64().unwrap() as usize))
        .collect();
    assert_eq!(w["weights"].len(), numeric.len());
    for (name, n) in &categorical {
        assert_eq!(w[&format!("embedding.{name}")].len(), n + 1, "{name}");
    }

    // Predictions on the evaluation split, computed here from the model's definition.
    let features = artifact(&dir, &steps, "features/transform", "out");
    let eval = split(&features, "eval");
    let label = eval.column_by_name("big_tipper").unwrap().as_boolean();
    let mut scores = Vec::new();
    let mut labels = Vec::new();
    let scored = split(&artifact(&dir, &steps, "score", "predictions"), "eval");
    assert_eq!(scored.num_rows(), eval.num_rows(), "every row is scored, with or without a label");
    let names: Vec<String> = scored.schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["taxi_id", "prediction", "probability_0", "probability_1"]);
    let p1 = scored.column_by_name("probability_1").unwrap().as_primitive::<Float64Type>().clone();
    let prediction = scored.column_by_name("prediction").unwrap().as_primitive::<Float64Type>().clone();
    for r in 0..eval.num_rows() {
        let mut z = f64::from(w["bias"][0]);
        for (k, f) in numeric.iter().enumerate() {
            let c = eval.column_by_name(f).unwrap();
            let x = match c.data_type() {
                arrow_schema::DataType::Float64 => c.as_primitive::<Float64Type>().iter().nth(r).flatten(),
                arrow_schema::DataType::Int64 => {
                    c.as_primitive::<Int64Type>().iter().nth(r).flatten().map(|v| v as f64)
                }
                arrow_schema::DataType::Boolean => c.as_boolean().iter().nth(r).flatten().map(f64::from),
                other => panic!("{f}: {other}"),
            };
            z += f64::from(w["weights"][k]) * x.unwrap_or(0.0);
        }
        for (name, n) in &categorical {
            let c = eval.column_by_name(name).unwrap().as_primitive::<Int64Type>();
            let i = if c.is_null(r) { *n } else { c.value(r) as usize };
            z += f64::from(w[&format!("embedding.{name}")][i]);
        }
        let p = 1.0 / (1.0 + (-z).exp());
        // Batch inference computes the same probability (in f32).
        assert!((p1.value(r) - p).abs() < 1e-5, "row {r}: scored {}, computed {p}", p1.value(r));
        assert_eq!(prediction.value(r), if p1.value(r) >= 0.5 { 1.0 } else { 0.0 });
        if label.is_null(r) {
            continue;
        }
        scores.push(p);
        labels.push(label.value(r));
    }
    let rate = labels.iter().filter(|l| **l).count() as f64 / labels.len() as f64;
    let base = -(rate * rate.ln() + (1.0 - rate) * (1.0 - rate).ln());
    let logloss = scores
        .iter()
        .zip(&labels)
        .map(|(p, l)| if *l { -p.max(1e-12).ln() } else { -(1.0 - p).max(1e-12).ln() })
        .sum::<f64>()
        / scores.len() as f64;
    let a = auc(&scores, &labels);
    eprintln!(
        "eval rows {}, positive rate {rate:.3}, AUC {a:.4}, log loss {logloss:.4} (base rate {base:.4})",
        labels.len()
    );
    assert!(a > 0.75, "AUC {a}");
    assert!(logloss < base - 0.05, "log loss {logloss} vs {base}");
    // The trainer's own evaluation loss is the same number.
    let reported = model.properties["eval_loss"].as_f64().unwrap();
    assert!((reported - logloss).abs() < 1e-3, "reported {reported}, computed {logloss}");
}

#[test]
fn trainer_errors_name_the_parameter() {
    let dir = taxi("errors", 2_000);
    let (code, steps, err) = run(&dir, "train.mlp", &["--set", "epochs=0"]);
    assert_eq!(code, 1, "{err}");
    let e = steps["train"]["error"].as_str().unwrap_or_default().to_string();
    assert!(e.contains("`epochs` is 0; it must be at least 1"), "{e}");
    // A label the examples do not have.
    let src = std::fs::read_to_string(dir.join("train.mlp"))
        .unwrap()
        .replace("  label = \"big_tipper\"\n  epochs = epochs", "  label = \"big_tip\"\n  epochs = epochs");
    std::fs::write(dir.join("train.mlp"), src).unwrap();
    let (code, steps, err) = run(&dir, "train.mlp", &[]);
    assert_eq!(code, 1, "{err}");
    let e = steps["train"]["error"].as_str().unwrap_or_default();
    assert!(e.contains("no label column `big_tip`"), "{e}");
}

/// Two features whose classes sit in opposite quadrants (XOR): no linear boundary separates
/// them, so a logistic regression stays near chance while an MLP learns them.
#[test]
fn an_mlp_beats_logistic_regression_on_a_nonlinear_boundary() {
    let dir = std::env::temp_dir().join(format!("mlp-train-{}-xor", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut csv = String::from("id,x1,x2\n");
    let mut s = 12345u64;
    let mut unit = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    };
    for i in 0..6_000 {
        csv.push_str(&format!("{i},{:.5},{:.5}\n", unit(), unit()));
    }
    std::fs::write(dir.join("xor.csv"), csv).unwrap();
    let src = r#"
import "std/tabular.mlp" as tab
step ingest = tab.csv_examples { input = "xor.csv", split = { train = 8, eval = 2 }, split_key = "id", grant read "xor.csv" }
step stats = tab.statistics { examples = ingest.out }
step schema = tab.infer_schema { stats = stats.out }
step features = tab.transform {
  examples = ingest.out
  schema = schema.out
  label = "same_sign"
  features = {
    same_sign = x1 * x2 > 0
    a = x1
    b = x2
    curve = x1 * x1 - x2
  }
}
step curve = tab.train_mlp { examples = features.out, graph = features.graph, label = "curve", task = "regression", hidden = [32], epochs = 40, learning_rate = 0.01, batch_size = 64 }
step linear = tab.train_logistic { examples = features.out, graph = features.graph, label = "same_sign", epochs = 30, learning_rate = 0.05 }
step mlp = tab.train_mlp {
  examples = features.out
  graph = features.graph
  label = "same_sign"
  hidden = [32, 16]
  epochs = 60
  learning_rate = 0.01
  batch_size = 64
  early_stopping = 10
  class_weights = "balanced"
}
"#;
    std::fs::write(dir.join("pipeline.mlp"), src).unwrap();
    let (code, steps, err) = run(&dir, "pipeline.mlp", &[]);
    assert_eq!(code, 0, "{err}");
    let linear = artifact(&dir, &steps, "linear", "model");
    let mlp_model = artifact(&dir, &steps, "mlp", "model");
    let linear_loss = linear.properties["eval_loss"].as_f64().unwrap();
    let mlp_loss = mlp_model.properties["eval_loss"].as_f64().unwrap();
    let accuracy = mlp_model.properties["eval_accuracy"].as_f64().unwrap();
    eprintln!("eval loss: logistic {linear_loss:.4}, MLP {mlp_loss:.4}; MLP accuracy {accuracy:.4}");
    eprintln!("regression: {}", artifact(&dir, &steps, "curve", "model").properties["eval_loss"]);
    assert!(linear_loss > 0.6, "a linear model cannot separate XOR: {linear_loss}");
    assert!(mlp_loss < 0.3 && accuracy > 0.9, "MLP loss {mlp_loss}, accuracy {accuracy}");
    let spec: serde_json::Value = serde_json::from_slice(blob(&mlp_model, "model.json")).unwrap();
    assert_eq!(spec["task"], "classification");
    assert_eq!(spec["classes"], serde_json::json!([0.0, 1.0]));
    assert_eq!(spec["hidden"], serde_json::json!([32, 16]));
    let kept = spec["training"]["kept_epoch"].as_u64().unwrap() as usize;
    let history = spec["training"]["history"].as_array().unwrap();
    // The kept epoch is the one with the lowest eval loss.
    let best = history.iter().map(|h| h["eval_loss"].as_f64().unwrap()).fold(f64::INFINITY, f64::min);
    assert_eq!(history[kept - 1]["eval_loss"].as_f64().unwrap(), best);
    // Regression of a curved target: the mean squared error on the standardized label.
    let curve = artifact(&dir, &steps, "curve", "model");
    let mse = curve.properties["eval_loss"].as_f64().unwrap();
    assert!(mse < 0.05, "regression MSE (standardized) {mse}");
    let cspec: serde_json::Value = serde_json::from_slice(blob(&curve, "model.json")).unwrap();
    assert_eq!(cspec["task"], "regression");
    assert!(cspec["label_scaling"]["std"].as_f64().unwrap() > 0.3);
    let (tensors, _) = mlp_tensor::weights::from_safetensors(blob(&mlp_model, "weights.safetensors")).unwrap();
    let names: Vec<&str> = tensors.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["layer0.bias", "layer0.weight", "layer1.bias", "layer1.weight", "output.bias", "output.weight"]);
}

/// Batch inference refuses a transform other than the model's, and unknown columns or splits.
#[test]
fn batch_inference_errors_name_what_does_not_fit() {
    let dir = std::env::temp_dir().join(format!("mlp-train-{}-infer-errors", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut csv = String::from("id,x,y\n");
    for i in 0..400 {
        csv.push_str(&format!("{i},{},{}\n", (i % 17) as f64 / 17.0, i % 3 == 0));
    }
    std::fs::write(dir.join("d.csv"), csv).unwrap();
    let src = r#"
import "std/tabular.mlp" as tab
step ingest = tab.csv_examples { input = "d.csv", split = { train = 8, eval = 2 }, grant read "d.csv" }
step stats = tab.statistics { examples = ingest.out }
step schema = tab.infer_schema { stats = stats.out }
step f1 = tab.transform { examples = ingest.out, schema = schema.out, label = "y", features = { x2 = x * 2 } }
step f2 = tab.transform { examples = ingest.out, schema = schema.out, label = "y", features = { x3 = x * 3 } }
step model = tab.train_logistic { examples = f1.out, graph = f1.graph, label = "y", epochs = 1 }
step wrong_graph = tab.batch_infer { model = model.model, graph = f2.graph, examples = ingest.out }
step wrong_column = tab.batch_infer { model = model.model, graph = f1.graph, examples = ingest.out, keep_columns = ["idd"] }
step wrong_split = tab.batch_infer { model = model.model, graph = f1.graph, examples = ingest.out, splits = ["test"] }
step ok = tab.batch_infer { model = model.model, graph = f1.graph, examples = ingest.out, keep_columns = ["id"] }
"#;
    std::fs::write(dir.join("pipeline.mlp"), src).unwrap();
    let (code, steps, _) = run(&dir, "pipeline.mlp", &[]);
    assert_eq!(code, 1);
    let error = |s: &str| steps[s]["error"].as_str().unwrap_or_default().to_string();
    assert!(
        error("wrong_graph").contains("pass the TransformGraph the model was trained with"),
        "{}",
        error("wrong_graph")
    );
    assert!(error("wrong_column").contains("keep column `idd`"), "{}", error("wrong_column"));
    assert!(error("wrong_split").contains("no split `test`"), "{}", error("wrong_split"));
    assert_eq!(steps["ok"]["status"], "succeeded", "{}", steps["ok"]);
    let scored = artifact(&dir, &steps, "ok", "predictions");
    assert_eq!(split(&scored, "train").num_rows() + split(&scored, "eval").num_rows(), 400);
}

/// A linear target: the linear regression recovers its coefficients (in the label's units,
/// through the model's own prediction path: batch inference), and with gross outliers in the
/// training labels the Huber loss stays closer to the truth than the squared loss.
#[test]
fn linear_regression_recovers_coefficients_and_huber_resists_outliers() {
    let dir = std::env::temp_dir().join(format!("mlp-train-{}-linear", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut csv = String::from("id,a,b,y\n");
    let mut s = 99u64;
    let mut unit = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    for i in 0..5_000 {
        let (a, b) = (unit() * 4.0 - 2.0, unit() * 4.0 - 2.0);
        let mut y = 3.0 * a - 2.0 * b + 10.0 + (unit() - 0.5) * 0.2;
        // One row in twenty has a wildly wrong label.
        if i % 20 == 0 {
            y += 40.0;
        }
        csv.push_str(&format!("{i},{a:.5},{b:.5},{y:.5}\n"));
    }
    std::fs::write(dir.join("lin.csv"), csv).unwrap();
    let src = r#"
import "std/tabular.mlp" as tab
step ingest = tab.csv_examples { input = "lin.csv", split = { train = 8, eval = 2 }, split_key = "id", grant read "lin.csv" }
step stats = tab.statistics { examples = ingest.out }
step schema = tab.infer_schema { stats = stats.out }
step features = tab.transform { examples = ingest.out, schema = schema.out, label = "y", features = { y = y, a = a, b = b } }
step squared = tab.train_linear { examples = features.out, graph = features.graph, label = "y", epochs = 30, learning_rate = 0.003, batch_size = 64 }
step huber = tab.train_linear { examples = features.out, graph = features.graph, label = "y", loss = "huber", epochs = 30, learning_rate = 0.003, batch_size = 64 }
step probe = tab.batch_infer { model = huber.model, graph = features.graph, examples = ingest.out, splits = ["eval"], keep_columns = ["a", "b"] }
"#;
    std::fs::write(dir.join("pipeline.mlp"), src).unwrap();
    let (code, steps, err) = run(&dir, "pipeline.mlp", &[]);
    assert_eq!(code, 0, "{err}");
    // Coefficients in the label's units: w · std.
    let coefficients = |step: &str| {
        let m = artifact(&dir, &steps, step, "model");
        let spec: serde_json::Value = serde_json::from_slice(blob(&m, "model.json")).unwrap();
        assert_eq!(spec["kind"], "linear_regression");
        let std = spec["label_scaling"]["std"].as_f64().unwrap();
        let (t, _) = mlp_tensor::weights::from_safetensors(blob(&m, "weights.safetensors")).unwrap();
        let w = &t.iter().find(|(n, _)| n == "weights").unwrap().1;
        assert_eq!(spec["inputs"]["numeric"], serde_json::json!(["a", "b"]));
        (f64::from(w.data()[0]) * std, f64::from(w.data()[1]) * std)
    };
    let (sa, sb) = coefficients("squared");
    let (ha, hb) = coefficients("huber");
    eprintln!("squared: {sa:.3}, {sb:.3}; huber: {ha:.3}, {hb:.3} (truth 3, -2)");
    let err_sq = (sa - 3.0).abs() + (sb + 2.0).abs();
    let err_hu = (ha - 3.0).abs() + (hb + 2.0).abs();
    assert!(err_hu < 0.2, "Huber coefficients {ha}, {hb}");
    assert!(err_hu < err_sq, "Huber {err_hu} should beat squared {err_sq} with outliers");
    // Batch inference predicts in the label's units: a clean row's prediction is near the truth.
    let scored = split(&artifact(&dir, &steps, "probe", "predictions"), "eval");
    let (a, b) = (
        scored.column_by_name("a").unwrap().as_primitive::<Float64Type>().clone(),
        scored.column_by_name("b").unwrap().as_primitive::<Float64Type>().clone(),
    );
    let pred = scored.column_by_name("prediction").unwrap().as_primitive::<Float64Type>().clone();
    let close = (0..scored.num_rows())
        .filter(|&r| (pred.value(r) - (3.0 * a.value(r) - 2.0 * b.value(r) + 10.0)).abs() < 2.0)
        .count();
    assert!(
        close as f64 > 0.9 * scored.num_rows() as f64,
        "{close} of {} predictions near the truth",
        scored.num_rows()
    );
}

/// A rare positive class (about one row in eight): with `class_weights = "balanced"` the
/// logistic regression weighs both classes alike, so it predicts the positive class more often
/// and finds more of the positive rows than without weights; `model.json` records the choice.
#[test]
fn balanced_class_weights_raise_the_recall_of_a_rare_class_in_logistic_regression() {
    let dir = std::env::temp_dir().join(format!("mlp-train-{}-class-weights", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut csv = String::from("id,x1,x2,y\n");
    let mut s = 2024u64;
    let mut unit = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    };
    for i in 0..8_000 {
        let (x1, x2, noise) = (unit(), unit(), unit());
        let y = i64::from(x1 + 0.5 * x2 + 0.4 * noise > 0.8);
        csv.push_str(&format!("{i},{x1:.5},{x2:.5},{y}\n"));
    }
    std::fs::write(dir.join("rare.csv"), csv).unwrap();
    let src = r#"
import "std/tabular.mlp" as tab
step ingest = tab.csv_examples { input = "rare.csv", split = { train = 8, eval = 2 }, split_key = "id", grant read "rare.csv" }
step stats = tab.statistics { examples = ingest.out }
step schema = tab.infer_schema { stats = stats.out }
step features = tab.transform { examples = ingest.out, schema = schema.out, label = "y", features = { y = y, a = x1, b = x2 } }
step plain = tab.train_logistic { examples = features.out, graph = features.graph, label = "y", epochs = 8, learning_rate = 0.05 }
step balanced = tab.train_logistic { examples = features.out, graph = features.graph, label = "y", epochs = 8, learning_rate = 0.05, class_weights = "balanced" }
step plain_scores = tab.batch_infer { model = plain.model, graph = features.graph, examples = ingest.out, splits = ["eval"], keep_columns = ["y"] }
step balanced_scores = tab.batch_infer { model = balanced.model, graph = features.graph, examples = ingest.out, splits = ["eval"], keep_columns = ["y"] }
"#;
    std::fs::write(dir.join("pipeline.mlp"), src).unwrap();
    let (code, steps, err) = run(&dir, "pipeline.mlp", &[]);
    assert_eq!(code, 0, "{err}");
    for (step, weights) in [("plain", "none"), ("balanced", "balanced")] {
        let spec: serde_json::Value =
            serde_json::from_slice(blob(&artifact(&dir, &steps, step, "model"), "model.json")).unwrap();
        assert_eq!(spec["hyperparameters"]["class_weights"], weights, "{step}");
    }
    // (share of rows predicted positive, share of positive rows predicted positive)
    let rates = |step: &str| {
        let scored = split(&artifact(&dir, &steps, step, "predictions"), "eval");
        let y = scored.column_by_name("y").unwrap().as_primitive::<Int64Type>().clone();
        let p = scored.column_by_name("probability_1").unwrap().as_primitive::<Float64Type>().clone();
        let n = scored.num_rows();
        let predicted = (0..n).filter(|&r| p.value(r) >= 0.5).count();
        let positives = (0..n).filter(|&r| y.value(r) == 1).count();
        let found = (0..n).filter(|&r| y.value(r) == 1 && p.value(r) >= 0.5).count();
        (predicted as f64 / n as f64, found as f64 / positives as f64, positives as f64 / n as f64)
    };
    let (plain_rate, plain_recall, base) = rates("plain_scores");
    let (balanced_rate, balanced_recall, _) = rates("balanced_scores");
    eprintln!(
        "positives {base:.3}; predicted positive: plain {plain_rate:.3}, balanced {balanced_rate:.3}; recall: plain {plain_recall:.3}, balanced {balanced_recall:.3}"
    );
    assert!((0.08..0.2).contains(&base), "the positive class is rare: {base}");
    assert!(balanced_rate > plain_rate + 0.05 && balanced_rate < 0.5, "{plain_rate} -> {balanced_rate}");
    assert!(balanced_recall > plain_recall + 0.1 && balanced_recall > 0.9, "{plain_recall} -> {balanced_recall}");

    // Anything but "none" or "balanced" is refused, naming the parameter.
    let src = std::fs::read_to_string(dir.join("pipeline.mlp")).unwrap().replace("\"balanced\" }", "\"inverse\" }");
    std::fs::write(dir.join("pipeline.mlp"), src).unwrap();
    let (code, steps, _) = run(&dir, "pipeline.mlp", &[]);
    assert_eq!(code, 1);
    let e = steps["balanced"]["error"].as_str().unwrap_or_default();
    assert!(e.contains("`class_weights` is `inverse`; use \"none\" or \"balanced\""), "{e}");
}
