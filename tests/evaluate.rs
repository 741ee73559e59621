//! Evaluation end to end, through the `mlp` binary: the `evaluate` component's overall metrics
//! against an independent computation from the model's weights, its slices against counts of
//! the data, permutation importance on data where one feature matters much, one a little and
//! one not at all, the blessing policy (checks that hold, fail, read a baseline, are skipped
//! without one, and hold per slice), `when STEP.blessing`, the HTML report, the regression and
//! multiclass paths, and bad parameters (an unknown metric, slice column or threshold). The
//! component's plain-Rust parts (metrics, analysis, policy, report) run their unit tests here
//! too, on the host.

#[path = "e2e/mod.rs"]
mod e2e;

/// The metrics shared by `tune` and `evaluate` (plain Rust), for `analysis`.
#[allow(dead_code)]
#[path = "../stdlib/components/common/src/metrics.rs"]
mod metrics;

/// The evaluation's computations that need no host call, with their unit tests.
#[allow(dead_code)]
#[path = "../stdlib/components/evaluate/src/analysis.rs"]
mod analysis;

/// The blessing policy, with its unit tests.
#[allow(dead_code)]
#[path = "../stdlib/components/evaluate/src/policy.rs"]
mod policy;

/// The HTML report, with its unit tests.
#[allow(dead_code)]
#[path = "../stdlib/components/evaluate/src/html.rs"]
mod html;

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use e2e::{artifact, auc, blob, json_part, run, split};
use mlp_kernels::data::ArtifactData;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// A folder with `points.csv`: three uniform inputs in [-1, 1], noise, a group (`a` and `b`
/// common, `c` rarer, `d` about 1% of the rows), a number with many values and a 0/1 flag.
fn data(name: &str, rows: usize) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mlp-evaluate-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut csv = String::from("id,x1,x2,x3,noise,grp,num,flag\n");
    let mut s = 4242u64;
    let mut unit = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    };
    for i in 0..rows {
        let grp = match i % 100 {
            0..45 => "a",
            45..90 => "b",
            90..99 => "c",
            _ => "d",
        };
        let (x1, x2, x3, noise) = (unit(), unit(), unit(), unit());
        let num = (unit() + 1.0) * 50.0;
        let flag = u8::from(unit() > 0.0);
        csv.push_str(&format!("{i},{x1:.5},{x2:.5},{x3:.5},{noise:.5},{grp},{num:.2},{flag}\n"));
    }
    std::fs::write(dir.join("points.csv"), csv).unwrap();
    dir
}

/// Ingest (80/20 by id), statistics, schema, then `rest`.
fn pipeline(dir: &Path, rest: &str) {
    let src = format!(
        r#"import "std/tabular.mlp" as tab

step ingest = tab.csv_examples {{ input = "points.csv", split = {{ train = 8, eval = 2 }}, split_key = "id", grant read "points.csv" }}
step stats = tab.statistics {{ examples = ingest.out }}
step schema = tab.infer_schema {{ stats = stats.out }}
{rest}"#
    );
    std::fs::write(dir.join("pipeline.mlp"), src).unwrap();
}

/// The binary label `y` depends on x1 strongly, on x2 weakly and on x3 not at all.
const FEATURES: &str = r#"
step features = tab.transform {
  examples = ingest.out
  schema = schema.out
  label = "y"
  passthrough = ["grp", "num", "flag"]
  features = {
    y = 2.5 * x1 + 0.8 * x2 + 0.8 * noise > 0
    f1 = x1
    f2 = x2
    f3 = x3
  }
}
step train = tab.train_logistic { examples = features.out, graph = features.graph, label = "y", epochs = 10, learning_rate = 0.05 }
"#;

/// Sigmoid.
fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// A Float64 column's values.
fn f64s(b: &RecordBatch, name: &str) -> Vec<f64> {
    b.column_by_name(name).unwrap_or_else(|| panic!("{name}")).as_primitive::<Float64Type>().values().to_vec()
}

/// The positive-class probability of a logistic regression over numeric features, computed
/// from its weights, for each row of `eval`.
fn logistic_probabilities(model: &ArtifactData, eval: &RecordBatch) -> Vec<f64> {
    let spec = json_part(model, "model.json");
    let (tensors, _) = mlp_tensor::weights::from_safetensors(blob(model, "weights.safetensors")).unwrap();
    let w: HashMap<String, Vec<f32>> = tensors.into_iter().map(|(n, t)| (n, t.data().to_vec())).collect();
    let numeric: Vec<&str> =
        spec["inputs"]["numeric"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let columns: Vec<Vec<f64>> = numeric.iter().map(|f| f64s(eval, f)).collect();
    (0..eval.num_rows())
        .map(|r| {
            let z = f64::from(w["bias"][0])
                + numeric.iter().enumerate().map(|(k, _)| f64::from(w["weights"][k]) * columns[k][r]).sum::<f64>();
            sigmoid(z)
        })
        .collect()
}

fn close(a: &Value, b: f64, tol: f64, what: &str) {
    let a = a.as_f64().unwrap_or_else(|| panic!("{what}: {a} is not a number"));
    assert!((a - b).abs() <= tol, "{what}: evaluate says {a}, computed {b}");
}

/// The checks of a blessing document's overall verdict, by text.
fn checks(blessing: &Value) -> BTreeMap<String, Value> {
    blessing["overall"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["check"].as_str().unwrap().to_string(), c.clone()))
        .collect()
}

#[test]
fn evaluation_matches_an_independent_computation_and_blesses_by_its_policy() {
    let dir = data("binary", 4000);
    pipeline(
        &dir,
        &format!(
            r#"{FEATURES}
step weak_features = tab.transform {{
  examples = ingest.out
  schema = schema.out
  label = "y"
  features = {{
    y = 2.5 * x1 + 0.8 * x2 + 0.8 * noise > 0
    f3 = x3
  }}
}}
step weak = tab.train_logistic {{ examples = weak_features.out, graph = weak_features.graph, label = "y", epochs = 3 }}
step eval = tab.evaluate {{
  model = train.model
  examples = features.out
  baseline = weak.model
  label = "y"
  slice_by = ["grp", "num", "grp x flag"]
  thresholds = [0.5, 0.3]
  bootstrap = 100
  seed = 3
  bless = auc >= 0.8 and accuracy > 0.7 and auc - baseline.auc >= 0.2
}}
step strict = tab.evaluate {{
  model = train.model
  examples = features.out
  label = "y"
  bootstrap = 0
  permutations = 0
  bless = auc >= 0.999 or log_loss < 0.01
}}
step nobase = tab.evaluate {{
  model = train.model
  examples = features.out
  label = "y"
  bootstrap = 0
  permutations = 0
  bless = auc >= 0.8 and (auc - baseline.auc) / abs(baseline.auc) >= 0.05
}}
step sliced = tab.evaluate {{
  model = train.model
  examples = features.out
  label = "y"
  slice_by = ["grp"]
  bootstrap = 0
  permutations = 0
  bless = auc >= 0.75
  bless_slices = true
}}
step after_eval = tab.statistics {{ examples = features.out }} when eval.blessing
step after_strict = tab.statistics {{ examples = features.out }} when strict.blessing
"#
        ),
    );
    let (code, steps, err) = run(&dir, "pipeline.mlp", &[]);
    assert_eq!(code, 0, "{err}");
    for s in ["eval", "strict", "nobase", "sliced"] {
        assert_eq!(steps[s]["status"], "succeeded", "{s}: {}", steps[s]);
    }

    let eval_split = split(&artifact(&dir, &steps, "features", "out"), "eval");
    let n = eval_split.num_rows();
    let model = artifact(&dir, &steps, "train", "model");
    let evaluation = artifact(&dir, &steps, "eval", "evaluation");
    let doc = json_part(&evaluation, "evaluation.json");
    assert_eq!(doc["task"], "binary");
    assert_eq!(doc["rows"], n);
    assert_eq!(doc["unlabeled_rows"], 0);

    // (b) The overall metrics equal those computed here from the model's weights.
    let p = logistic_probabilities(&model, &eval_split);
    let y: Vec<bool> = eval_split.column_by_name("y").unwrap().as_boolean().iter().map(|v| v.unwrap()).collect();
    let overall = &doc["overall"]["metrics"];
    close(&overall["auc"], auc(&p, &y), 1e-6, "auc");
    let accuracy = p.iter().zip(&y).filter(|(p, y)| (**p > 0.5) == **y).count() as f64 / n as f64;
    close(&overall["accuracy"], accuracy, 1e-6, "accuracy");
    let eps = f64::EPSILON;
    let log_loss =
        p.iter().zip(&y).map(|(p, y)| -(if *y { *p } else { 1.0 - p }).clamp(eps, 1.0 - eps).ln()).sum::<f64>()
            / n as f64;
    close(&overall["log_loss"], log_loss, 1e-6, "log_loss");
    assert_eq!(overall["count"], n);
    assert!(overall["auc"].as_f64().unwrap() > 0.85, "the model learns the boundary: {}", overall["auc"]);
    // The same from the predictions part the step writes, row-aligned with the labels.
    let predictions = split(&evaluation, "predictions");
    let p1 = f64s(&predictions, "probability_1");
    let labels: Vec<bool> = f64s(&predictions, "label").iter().map(|l| *l == 1.0).collect();
    assert_eq!(labels, y);
    close(&overall["auc"], auc(&p1, &labels), 1e-12, "auc of the predictions part");
    // Intervals around the estimates; properties for `when` conditions.
    let ci = &doc["overall"]["ci"]["auc"];
    assert!(ci[0].as_f64().unwrap() <= overall["auc"].as_f64().unwrap());
    assert!(ci[1].as_f64().unwrap() >= overall["auc"].as_f64().unwrap());
    assert_eq!(evaluation.properties["auc"], overall["auc"]);
    assert_eq!(evaluation.properties["task"], "binary");
    let at = &doc["overall"]["thresholds"];
    assert_eq!(at[1]["threshold"], 0.3);
    let positive_at_03 = p.iter().filter(|p| **p > 0.3).count() as f64;
    close(&at[1]["positive_rate"], positive_at_03 / n as f64, 1e-12, "positive rate at 0.3");
    let bins = doc["calibration"].as_array().unwrap();
    assert_eq!(bins.len(), 10);
    assert_eq!(bins.iter().map(|b| b["count"].as_u64().unwrap()).sum::<u64>(), n as u64);

    // (c) Slices: counts equal those of the data; slices under 30 rows have no metrics.
    let grp: Vec<String> =
        eval_split.column_by_name("grp").unwrap().as_string::<i32>().iter().map(|v| v.unwrap().to_string()).collect();
    let flag: Vec<i64> = eval_split.column_by_name("flag").unwrap().as_primitive::<Int64Type>().values().to_vec();
    let num = f64s(&eval_split, "num");
    let slices: BTreeMap<String, &Value> =
        doc["slices"].as_array().unwrap().iter().map(|s| (s["slice"].as_str().unwrap().to_string(), s)).collect();
    for g in ["a", "b", "c", "d"] {
        let s = slices[&format!("grp={g}")];
        let count = grp.iter().filter(|v| *v == g).count();
        assert_eq!(s["count"], count, "grp={g}");
        assert_eq!(s["metrics"].is_null(), count < 30, "grp={g} has {count} rows: {s}");
        for f in [0, 1] {
            let key = format!("grp={g} x flag={f}");
            let count = (0..n).filter(|&r| grp[r] == g && flag[r] == f).count();
            let got = slices.get(&key).map_or(0, |s| s["count"].as_u64().unwrap() as usize);
            assert_eq!(got, count, "{key} in {:?}", slices.keys().collect::<Vec<_>>());
        }
    }
    assert!(slices["grp=d"]["metrics"].is_null() && slices["grp=a"]["metrics"]["auc"].is_number());
    let buckets: Vec<&&Value> = slices.iter().filter(|(k, _)| k.starts_with("num=[")).map(|(_, v)| v).collect();
    assert_eq!(buckets.len(), 4, "{:?}", slices.keys().collect::<Vec<_>>());
    let mut in_buckets = 0;
    for b in &buckets {
        let c = &b["columns"][0];
        let (lo, hi, closed) = (c["low"].as_f64().unwrap(), c["high"].as_f64().unwrap(), c["high_included"] == true);
        let count = num.iter().filter(|v| **v >= lo && (**v < hi || closed && **v <= hi)).count();
        assert_eq!(b["count"], count, "{}", b["slice"]);
        in_buckets += count;
    }
    assert_eq!(in_buckets, n);
    // The slices table: one row per model, slice and metric; a small slice has its count only.
    let table = split(&evaluation, "slices");
    let rows: Vec<(String, String, String)> = (0..table.num_rows())
        .map(|r| {
            let s = |c: &str| table.column_by_name(c).unwrap().as_string::<i32>().value(r).to_string();
            (s("model"), s("slice"), s("metric"))
        })
        .collect();
    let of_d: Vec<&(String, String, String)> = rows.iter().filter(|r| r.0 == "candidate" && r.1 == "grp=d").collect();
    assert_eq!(of_d.len(), 1);
    assert_eq!(of_d[0].2, "count");
    assert!(rows.iter().any(|r| r.0 == "baseline" && r.1 == "grp=a" && r.2 == "auc"));
    // Fairness: each gap is the slice's rate minus the overall rate.
    let fairness = doc["fairness"]["slices"].as_array().unwrap();
    let fa = fairness.iter().find(|f| f["slice"] == "grp=a").unwrap();
    let fpr = |s: &Value| s["thresholds"][0]["fpr"].as_f64().unwrap();
    close(&fa["fpr_gap"], fpr(slices["grp=a"]) - fpr(&doc["overall"]), 1e-12, "fpr gap");
    assert!(fairness.iter().all(|f| f["slice"] != "grp=d"));

    // (a) Permutation importance ranks x1 over x2 over x3, and x3 does not matter.
    let perm = doc["sensitivity"]["permutation"].as_array().unwrap();
    assert_eq!(doc["sensitivity"]["metric"], "auc");
    let order: Vec<&str> = perm.iter().map(|p| p["feature"].as_str().unwrap()).collect();
    assert_eq!(order, ["f1", "f2", "f3"], "{perm:?}");
    let importance = |i: usize| perm[i]["importance"].as_f64().unwrap();
    assert!(importance(0) > 0.2, "{perm:?}");
    assert!(importance(1) > 0.01, "{perm:?}");
    assert!(importance(2).abs() < 0.005, "x3 does not matter: {perm:?}");
    assert_eq!(perm[0]["values"].as_array().unwrap().len(), 3);
    let pert: Vec<&str> =
        doc["sensitivity"]["perturbation"].as_array().unwrap().iter().map(|p| p["feature"].as_str().unwrap()).collect();
    assert_eq!(pert, ["f1", "f2", "f3"]);

    // (d) The blessing: each check with its numbers, the baseline's metric read from its own
    // evaluation on the same rows.
    let blessing = artifact(&dir, &steps, "eval", "blessing");
    assert_eq!(blessing.properties["blessed"], true);
    assert_eq!(blessing.properties["auc"], overall["auc"]);
    let b = json_part(&blessing, "blessing.json");
    assert_eq!(b["blessed"], true);
    assert_eq!(b["policy"], "auc >= 0.8 and accuracy > 0.7 and auc - baseline.auc >= 0.2");
    assert_eq!(b, doc["blessing"]);
    let c = checks(&b);
    assert_eq!(c.len(), 3);
    assert_eq!(c["auc >= 0.8"]["left"], overall["auc"]);
    assert_eq!(c["auc >= 0.8"]["right"], 0.8);
    assert_eq!(c["accuracy > 0.7"]["left"], overall["accuracy"]);
    let base_auc = doc["baseline"]["overall"]["metrics"]["auc"].as_f64().unwrap();
    assert!(base_auc < 0.6, "the baseline sees noise only: {base_auc}");
    let diff = &c["auc - baseline.auc >= 0.2"];
    close(&diff["left"], overall["auc"].as_f64().unwrap() - base_auc, 1e-12, "auc - baseline.auc");
    assert_eq!(diff["status"], "passed");
    let weak = artifact(&dir, &steps, "weak", "model");
    let weak_eval = split(&artifact(&dir, &steps, "weak_features", "out"), "eval");
    close(
        &doc["baseline"]["overall"]["metrics"]["auc"],
        auc(&logistic_probabilities(&weak, &weak_eval), &y),
        1e-6,
        "baseline auc",
    );
    assert_eq!(doc["baseline"]["transform_matches"], false);

    // A policy that fails: not blessed, every check recorded.
    let strict = json_part(&artifact(&dir, &steps, "strict", "blessing"), "blessing.json");
    assert_eq!(strict["blessed"], false);
    assert_eq!(artifact(&dir, &steps, "strict", "blessing").properties["blessed"], false);
    let c = checks(&strict);
    assert_eq!(c["auc >= 0.999"]["status"], "failed");
    assert_eq!(c["log_loss < 0.01"]["status"], "failed");
    assert_eq!(c["log_loss < 0.01"]["left"], overall["log_loss"]);
    // Without a baseline, the relative change is skipped and holds.
    let nobase = json_part(&artifact(&dir, &steps, "nobase", "blessing"), "blessing.json");
    assert_eq!(nobase["blessed"], true);
    let c = checks(&nobase);
    assert_eq!(c["(auc - baseline.auc) / abs(baseline.auc) >= 0.05"]["status"], "skipped (no baseline)");
    assert_eq!(c["auc >= 0.8"]["status"], "passed");
    // Per slice: every slice of at least 30 rows is checked with its own AUC.
    let sliced = json_part(&artifact(&dir, &steps, "sliced", "blessing"), "blessing.json");
    let sliced_doc = json_part(&artifact(&dir, &steps, "sliced", "evaluation"), "evaluation.json");
    let checked: Vec<&str> =
        sliced["slices"].as_array().unwrap().iter().map(|s| s["slice"].as_str().unwrap()).collect();
    assert_eq!(checked, ["grp=a", "grp=b", "grp=c"]);
    for s in sliced["slices"].as_array().unwrap() {
        let of = sliced_doc["slices"].as_array().unwrap().iter().find(|x| x["slice"] == s["slice"]).unwrap();
        assert_eq!(s["checks"][0]["left"], of["metrics"]["auc"]);
        assert_eq!(s["holds"], of["metrics"]["auc"].as_f64().unwrap() >= 0.75);
    }
    // `when STEP.blessing` reads the verdict.
    assert_eq!(steps["after_eval"]["status"], "succeeded", "{}", steps["after_eval"]);
    assert_ne!(steps["after_strict"]["status"], "succeeded", "{}", steps["after_strict"]);

    // (e) The report: one page, a chart in every chart section.
    let page = String::from_utf8(blob(&evaluation, "evaluation.html").to_vec()).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && !page.contains("<script"));
    for id in ["slices", "calibration", "fairness", "sensitivity", "baseline"] {
        let start = page.find(&format!(r#"<section id="{id}" class="chart">"#)).unwrap_or_else(|| panic!("no {id}"));
        let end = start + page[start..].find("</section>").unwrap();
        assert!(page[start..end].contains("<svg"), "section {id} has no chart");
    }
    assert!(page.contains("grp=a x flag=0"));
}

#[test]
fn regressors_multiclass_models_and_unknown_metrics() {
    let dir = data("kinds", 3000);
    pipeline(
        &dir,
        &format!(
            r#"{FEATURES}
step bad = tab.evaluate {{ model = train.model, examples = features.out, label = "y", bootstrap = 0, permutations = 0, bless = rmse <= 0.5 and auc >= 0.5 }}
step bad_slice = tab.evaluate {{ model = train.model, examples = features.out, label = "y", slice_by = ["grp x colour"], bless = auc >= 0.5 }}
step bad_threshold = tab.evaluate {{ model = train.model, examples = features.out, label = "y", thresholds = [0.5, 1.5], bless = auc >= 0.5 }}
step reg_features = tab.transform {{
  examples = ingest.out
  schema = schema.out
  label = "yr"
  features = {{
    yr = 2 * x1 + x2 + 0.3 * noise
    f1 = x1
    f2 = x2
  }}
}}
step reg_train = tab.train_linear {{ examples = reg_features.out, graph = reg_features.graph, label = "yr", epochs = 10, learning_rate = 0.05 }}
step reg_eval = tab.evaluate {{ model = reg_train.model, examples = reg_features.out, label = "yr", bootstrap = 50, permutations = 2, bless = rmse < 1 and r2 > 0.5 }}
step cls_features = tab.transform {{
  examples = ingest.out
  schema = schema.out
  label = "cls"
  features = {{
    cls = if x1 > 0.3 then 2 else if x1 > -0.3 then 1 else 0
    f1 = x1
    f2 = x2
  }}
}}
step cls_train = tab.train_mlp {{ examples = cls_features.out, graph = cls_features.graph, label = "cls", hidden = [16], epochs = 10, learning_rate = 0.01 }}
step cls_eval = tab.evaluate {{ model = cls_train.model, examples = cls_features.out, label = "cls", bootstrap = 50, permutations = 2, bless = accuracy > 0.6 and macro_f1 > 0.5 }}
"#
        ),
    );
    let (code, steps, err) = run(&dir, "pipeline.mlp", &[]);
    assert_ne!(code, 0, "the step with an unknown metric fails the run");

    // A metric the model does not have (`rmse` of a classifier; a name `mlp check` does not know
    // is E0813 before anything runs) fails the step, which lists the metrics there are.
    assert_eq!(steps["bad"]["status"], "failed", "{}", steps["bad"]);
    let message = steps["bad"]["error"].to_string();
    assert!(message.contains("`rmse`"), "{message}\n{err}");
    for name in analysis::BINARY {
        assert!(message.contains(name), "{name} is not listed: {message}");
    }

    // Bad parameters name themselves and say what to do.
    let message = steps["bad_slice"]["error"].to_string();
    assert!(message.contains("`slice_by` names `colour`") && message.contains("passthrough"), "{message}");
    let message = steps["bad_threshold"]["error"].to_string();
    assert!(message.contains("`thresholds` holds 1.5") && message.contains("between 0 and 1"), "{message}");

    // Regression: RMSE, MAE and R² from the predictions part.
    assert_eq!(steps["reg_eval"]["status"], "succeeded", "{}", steps["reg_eval"]);
    let e = artifact(&dir, &steps, "reg_eval", "evaluation");
    let doc = json_part(&e, "evaluation.json");
    assert_eq!(doc["task"], "regression");
    let p = split(&e, "predictions");
    let (y, yhat) = (f64s(&p, "label"), f64s(&p, "prediction"));
    let n = y.len() as f64;
    let rmse = (y.iter().zip(&yhat).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / n).sqrt();
    let mean = y.iter().sum::<f64>() / n;
    let r2 = 1.0
        - y.iter().zip(&yhat).map(|(a, b)| (a - b).powi(2)).sum::<f64>()
            / y.iter().map(|a| (a - mean).powi(2)).sum::<f64>();
    close(&doc["overall"]["metrics"]["rmse"], rmse, 1e-9, "rmse");
    close(&doc["overall"]["metrics"]["r2"], r2, 1e-9, "r2");
    assert_eq!(doc["sensitivity"]["metric"], "rmse");
    let order: Vec<&str> =
        doc["sensitivity"]["permutation"].as_array().unwrap().iter().map(|p| p["feature"].as_str().unwrap()).collect();
    assert_eq!(order, ["f1", "f2"], "x1 weighs twice x2");
    assert_eq!(json_part(&artifact(&dir, &steps, "reg_eval", "blessing"), "blessing.json")["blessed"], true);
    assert!(doc["calibration"].is_null() && doc["fairness"].is_null());

    // Multiclass: accuracy from the predictions part; the confusion matrix counts every row.
    assert_eq!(steps["cls_eval"]["status"], "succeeded", "{}", steps["cls_eval"]);
    let e = artifact(&dir, &steps, "cls_eval", "evaluation");
    let doc = json_part(&e, "evaluation.json");
    assert_eq!(doc["task"], "multiclass");
    assert_eq!(doc["classes"], serde_json::json!([0.0, 1.0, 2.0]));
    let p = split(&e, "predictions");
    let (y, yhat) = (f64s(&p, "label"), f64s(&p, "prediction"));
    let accuracy = y.iter().zip(&yhat).filter(|(a, b)| a == b).count() as f64 / y.len() as f64;
    close(&doc["overall"]["metrics"]["accuracy"], accuracy, 1e-12, "accuracy");
    let counts: f64 = doc["confusion_matrix"]["counts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert_eq!(counts, y.len() as f64);
    assert!(doc["overall"]["metrics"]["macro_f1"].is_number() && doc["overall"]["ci"]["auc"].is_array());
    let page = String::from_utf8(blob(&e, "evaluation.html").to_vec()).unwrap();
    assert!(page.contains(r#"<section id="sensitivity" class="chart">"#));
}
