//! Hyperparameter search end to end, through the `mlp` binary: a search is lowered to one
//! trainer step per trial, every trial's score is recomputed here from its model, the best
//! point reaches the final trainer, the median rule stops exactly the trials it should, and a
//! longer search reuses the trials it shares with a shorter one from the cache.

#[path = "e2e/mod.rs"]
mod e2e;
use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, RecordBatch};
use e2e::{artifact, auc, json_part, run, split};
use mlp_kernels::data::{ArtifactData, Part};
use serde_json::json;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The metrics the search component ranks by (plain Rust, in the common crate), with their unit
/// tests, run on the host too.
#[allow(dead_code)]
#[path = "../stdlib/components/common/src/metrics.rs"]
mod metrics;

/// A folder with `points.csv`: two uniform inputs in [-1, 1] and a noisy label.
fn data(name: &str, rows: usize) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mlp-tune-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut csv = String::from("id,x1,x2,noise\n");
    let mut s = 777u64;
    let mut unit = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    };
    for i in 0..rows {
        csv.push_str(&format!("{i},{:.5},{:.5},{:.5}\n", unit(), unit(), unit()));
    }
    std::fs::write(dir.join("points.csv"), csv).unwrap();
    dir
}

/// Ingest, a transform with a linear label (`lin`) and an XOR label (`xor`), then `rest`.
fn pipeline(dir: &Path, rest: &str) {
    let src = format!(
        r#"import "std/tabular.mlp" as tab

{header}
step ingest = tab.csv_examples {{ input = "points.csv", split = {{ train = 8, eval = 2 }}, split_key = "id", grant read "points.csv" }}
step stats = tab.statistics {{ examples = ingest.out }}
step schema = tab.infer_schema {{ stats = stats.out }}
step features = tab.transform {{
  examples = ingest.out
  schema = schema.out
  label = "lin"
  features = {{
    lin = x1 + 0.5 * x2 + 0.6 * noise > 0
    xor = x1 * x2 > 0
    a = x1
    b = x2
  }}
}}
{rest}"#,
        header = if rest.contains("trials = trials") { "param trials: int = 3\n" } else { "" }
    );
    std::fs::write(dir.join("pipeline.mlp"), src).unwrap();
}

/// Eval-split AUC of a logistic regression model over numeric features, computed from its
/// weights.
fn logistic_auc(model: &ArtifactData, eval: &RecordBatch, label: &str) -> f64 {
    let spec = json_part(model, "model.json");
    let Part::Blob(w) = &model.parts["weights.safetensors"] else { panic!() };
    let (tensors, _) = mlp_tensor::weights::from_safetensors(w).unwrap();
    let w: HashMap<String, Vec<f32>> = tensors.into_iter().map(|(n, t)| (n, t.data().to_vec())).collect();
    let numeric: Vec<&str> =
        spec["inputs"]["numeric"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let y = eval.column_by_name(label).unwrap().as_boolean();
    let (mut scores, mut labels) = (Vec::new(), Vec::new());
    for r in 0..eval.num_rows() {
        if y.is_null(r) {
            continue;
        }
        let mut z = f64::from(w["bias"][0]);
        for (k, f) in numeric.iter().enumerate() {
            let c = eval.column_by_name(f).unwrap();
            let x = match c.data_type() {
                arrow_schema::DataType::Float64 => c.as_primitive::<Float64Type>().iter().nth(r).flatten(),
                arrow_schema::DataType::Boolean => c.as_boolean().iter().nth(r).flatten().map(f64::from),
                other => panic!("{f}: {other}"),
            };
            z += f64::from(w["weights"][k]) * x.unwrap_or(0.0);
        }
        scores.push(z);
        labels.push(y.value(r));
    }
    auc(&scores, &labels)
}

#[test]
fn a_grid_search_ranks_trials_by_their_own_eval_auc_and_the_final_trainer_takes_the_best() {
    let dir = data("grid", 3000);
    pipeline(
        &dir,
        r#"
step search = tab.tune {
  examples = features.out
  graph = features.graph
  trainer = tab.train_logistic
  label = "lin"
  space = { learning_rate = [0.00001, 0.05], epochs = int_range(1, 2) }
  search = "grid"
  early_stopping = false
  metric = "auc"
}
step final = tab.train_logistic { examples = features.out, graph = features.graph, hparams = search.best, label = "lin" }
"#,
    );
    let (code, steps, err) = run(&dir, "pipeline.mlp", &[]);
    assert_eq!(code, 0, "{err}");
    // Four trials, each a step of its own with its point; the grid runs through the dimensions
    // in name order, the last one changing fastest.
    let points = [(0.00001, 1), (0.05, 1), (0.00001, 2), (0.05, 2)];
    let eval = split(&artifact(&dir, &steps, "features", "out"), "eval");
    let mut values = Vec::new();
    for (i, (lr, epochs)) in points.iter().enumerate() {
        let id = format!("search/trial-{i:02}");
        assert_eq!(steps[&id]["status"], "succeeded", "{id}: {}", steps[&id]);
        let model = artifact(&dir, &steps, &id, "model");
        let trial = &model.properties["trial"];
        assert_eq!(trial["index"], i);
        assert_eq!(trial["point"], json!({ "learning_rate": lr, "epochs": epochs }));
        let spec = json_part(&model, "model.json");
        assert_eq!(spec["hyperparameters"]["learning_rate"], json!(lr));
        assert_eq!(spec["hyperparameters"]["epochs"], json!(epochs));
        values.push(logistic_auc(&model, &eval, "lin"));
    }
    let best = artifact(&dir, &steps, "search", "best");
    let search = json_part(&best, "search.json");
    let trials = search["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 4);
    for (i, t) in trials.iter().enumerate() {
        let v = t["value"].as_f64().unwrap();
        assert!((v - values[i]).abs() < 1e-4, "trial {i}: the search says {v}, computed {}", values[i]);
    }
    let want = (0..4).fold(0, |b, i| if values[i] > values[b] { i } else { b });
    assert_eq!(search["best_trial"], want);
    assert_eq!(search["metric"], "auc");
    assert_eq!(search["maximize"], true);
    let (lr, epochs) = points[want];
    assert_eq!(json_part(&best, "hyperparameters.json"), json!({ "learning_rate": lr, "epochs": epochs }));
    // The trials table, one row per trial.
    let t = split(&best, "trials");
    assert_eq!(t.num_rows(), 4);
    let col = t.column_by_name("value").unwrap().as_primitive::<Float64Type>();
    assert!((col.value(want) - values[want]).abs() < 1e-4);
    // The final trainer trains with the best point: the same model as the best trial's.
    let fin = json_part(&artifact(&dir, &steps, "final", "model"), "model.json");
    assert_eq!(fin["hyperparameters"]["learning_rate"], json!(lr));
    assert_eq!(fin["hyperparameters"]["epochs"], json!(epochs));
    assert!(values[want] > 0.85, "the best trial learns the linear boundary: AUC {}", values[want]);
}

/// The median rule, recomputed from the trials' histories: a search run one trial at a time
/// stops trial `i` at epoch `e` exactly when its best eval loss up to `e` is above the median of
/// the best losses up to `e` of the earlier trials that reached `e` (at least three of them).
#[test]
fn the_median_rule_stops_exactly_the_trials_it_should() {
    let dir = data("median", 3000);
    pipeline(
        &dir,
        r#"
step search = tab.tune {
  examples = features.out
  graph = features.graph
  trainer = tab.train_mlp
  label = "xor"
  space = {
    learning_rate = choice(0.03, 0.01, 0.003, 0.0001, 0.00001, 0.02)
    hidden = [[16]]
    epochs = [6]
    early_stopping = [0]
    batch_size = [64]
  }
  search = "grid"
  parallel = 1
  grace = 1
  metric = "log_loss"
}
"#,
    );
    let (code, steps, err) = run(&dir, "pipeline.mlp", &["--jobs", "1"]);
    assert_eq!(code, 0, "{err}");
    let search = json_part(&artifact(&dir, &steps, "search", "best"), "search.json");
    let trials = search["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 6);
    // Best-so-far eval loss per epoch (1-based) of each trial.
    let mut curves: Vec<Vec<f64>> = Vec::new();
    let mut stopped = Vec::new();
    for (i, t) in trials.iter().enumerate() {
        let model = artifact(&dir, &steps, &format!("search/trial-{i:02}"), "model");
        let spec = json_part(&model, "model.json");
        let mut best = f64::INFINITY;
        let curve: Vec<f64> = spec["training"]["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                best = best.min(h["eval_loss"].as_f64().unwrap());
                best
            })
            .collect();
        let at = model.properties["trial"]["stopped_at_epoch"].as_u64().map(|e| e as usize);
        assert_eq!(t["stopped_at_epoch"].as_u64().map(|e| e as usize), at);
        if let Some(e) = at {
            assert_eq!(curve.len(), e, "trial {i} trains no epoch after it is stopped");
            assert_eq!(spec["stopped_by_search"], json!(e));
        } else {
            assert_eq!(curve.len(), 6, "trial {i} runs every epoch");
        }
        stopped.push(at);
        curves.push(curve);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
    };
    for i in 0..curves.len() {
        let mut expect = None;
        for e in 1..=curves[i].len() {
            let others: Vec<f64> = (0..i).filter(|&j| curves[j].len() >= e).map(|j| curves[j][e - 1]).collect();
            if e >= 1 && others.len() >= 3 && curves[i][e - 1] > median(others) {
                expect = Some(e);
                break;
            }
        }
        assert_eq!(stopped[i], expect, "trial {i}: curves {curves:?}");
    }
    // The two tiny step sizes are the bad trials, and they are stopped.
    assert!(stopped[3].is_some() && stopped[4].is_some(), "{stopped:?}");
    assert!(stopped[..3].iter().all(Option::is_none), "the first three trials are never compared: {stopped:?}");
}

#[test]
fn a_longer_random_search_reuses_the_trials_it_shares_with_a_shorter_one() {
    let dir = data("extend", 1500);
    pipeline(
        &dir,
        r#"
step search = tab.tune {
  examples = features.out
  graph = features.graph
  trainer = tab.train_logistic
  label = "lin"
  space = { learning_rate = log_range(0.001, 0.1), l2 = choice(0.0, 0.0001, 0.001), epochs = [2] }
  trials = trials
  early_stopping = false
  seed = 5
}
"#,
    );
    let (code, first, err) = run(&dir, "pipeline.mlp", &[]);
    assert_eq!(code, 0, "{err}");
    let (code, second, err) = run(&dir, "pipeline.mlp", &["--set", "trials=5"]);
    assert_eq!(code, 0, "{err}");
    for i in 0..3 {
        let id = format!("search/trial-{i:02}");
        assert_eq!(second[&id]["status"], "cached", "{id}: {}", second[&id]);
        assert_eq!(second[&id]["outputs"]["model"]["digest"], first[&id]["outputs"]["model"]["digest"]);
    }
    for i in 3..5 {
        assert_eq!(second[&format!("search/trial-{i:02}")]["status"], "succeeded");
    }
    assert_eq!(second["search"]["status"], "succeeded", "five trials are a new search");
    let search = json_part(&artifact(&dir, &second, "search", "best"), "search.json");
    let lrs: Vec<f64> =
        search["trials"].as_array().unwrap().iter().map(|t| t["point"]["learning_rate"].as_f64().unwrap()).collect();
    assert_eq!(lrs.len(), 5);
    assert!(lrs.iter().all(|lr| (0.001..=0.1).contains(lr)), "{lrs:?}");
}

#[test]
fn a_metric_that_does_not_fit_the_trainer_fails_the_search_with_what_to_use() {
    let dir = data("metric", 600);
    pipeline(
        &dir,
        r#"
step search = tab.tune {
  examples = features.out
  graph = features.graph
  trainer = tab.train_logistic
  label = "lin"
  space = { learning_rate = [0.01, 0.1], epochs = [1] }
  search = "grid"
  metric = "rmse"
}
"#,
    );
    let (code, steps, err) = run(&dir, "pipeline.mlp", &[]);
    assert_ne!(code, 0);
    assert_eq!(steps["search/trial-00"]["status"], "succeeded");
    assert_eq!(steps["search"]["status"], "failed", "{}", steps["search"]);
    let message = steps["search"]["error"].to_string();
    assert!(message.contains("rmse") && message.contains("auc"), "{message}\n{err}");
}
