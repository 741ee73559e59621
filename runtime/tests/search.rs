//! Trials of a hyperparameter search as the runtime runs them: at most `parallel` of a search
//! at once and in index order, the `trial` property on what they write, and the median
//! stopping rule telling a trainer to stop, which then keeps its best epoch.
//!
//! The IR's `trial` field is set here by hand on ordinary steps, as lowering a search step
//! does, so these tests need no search component.

use mlp_kernels::data::{ArtifactData, Part};
use mlp_lang::ir::{EarlyStopping, Ir, Trial, Value};
use mlp_runtime::host::{Host, HostConfig, InputArtifact, StepEvent, StepRun, StoppingRule, Studies, TrialRun};
use mlp_runtime::run::{Progress, RunOptions, RunReport, StepStatus};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn host() -> Arc<Host> {
    let cache = std::env::temp_dir().join(format!("mlp-search-test-{}", std::process::id()));
    Arc::new(Host::new(HostConfig { cache_dir: Some(cache), ..HostConfig::default() }).unwrap())
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mlp-search-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn lower(file: &Path) -> Ir {
    let checked = mlp_runtime::check_file(file, &[]).unwrap();
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    checked.ir.unwrap()
}

/// Makes step `id` trial `index` of `search`.
fn make_trial(ir: &mut Ir, id: &str, search: &str, index: u32, of: u32, parallel: u32, rule: Option<(u32, u32)>) {
    let step = ir.steps.iter_mut().find(|s| s.id == id).unwrap_or_else(|| panic!("no step {id}"));
    let point: BTreeMap<String, Value> = step
        .params
        .iter()
        .filter(|(k, _)| k.as_str() == "learning_rate")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    step.trial = Some(Trial {
        search: search.into(),
        index,
        of,
        point,
        parallel,
        early_stopping: rule.map(|(grace, min_trials)| EarlyStopping { grace, min_trials }),
    });
}

fn json_part(a: &ArtifactData, part: &str) -> serde_json::Value {
    match &a.parts[part] {
        Part::Blob(b) => serde_json::from_slice(b).unwrap(),
        Part::Table(_) => panic!("{part} is a table"),
    }
}

#[test]
fn a_search_runs_at_most_its_parallel_trials_at_once_in_index_order() {
    let dir = scratch("parallel");
    let guests = mlp_guests::GUESTS_DIR;
    let mut src = format!(
        "component hostile {{\n  wasm = \"{guests}/hostile.wasm\"\n  param attack: string\n  param path: string = \"\"\n  param address: string = \"\"\n  output out: Examples\n}}\n"
    );
    for id in ["t_a", "t_b", "t_c", "t_d", "t_e", "plain"] {
        src.push_str(&format!("step {id} = hostile {{ attack = \"ok\" }}\n"));
    }
    let file = dir.join("pipeline.mlp");
    std::fs::write(&file, src).unwrap();
    let mut ir = lower(&file);
    // Indices in the reverse order of the ids.
    for (index, id) in ["t_e", "t_d", "t_c", "t_b", "t_a"].iter().enumerate() {
        make_trial(&mut ir, id, "search", index as u32, 5, 2, None);
    }
    let host = host();
    let mut events = Vec::new();
    let options = RunOptions { parallelism: 8, ..RunOptions::default() };
    let report =
        mlp_runtime::run::run(&host, &ir, &mlp_runtime::run::pipeline_dir(&file), &options, &mut |p| match p {
            Progress::Started(id, _) => events.push((true, id.to_string())),
            Progress::Finished(r) => events.push((false, r.id.clone())),
            Progress::Tick { .. } => {}
        })
        .unwrap();
    assert!(report.steps.iter().all(|s| matches!(s.status, StepStatus::Succeeded)), "{report:?}");
    let starts: Vec<&str> = events.iter().filter(|e| e.0 && e.1 != "plain").map(|e| e.1.as_str()).collect();
    assert_eq!(starts, ["t_e", "t_d", "t_c", "t_b", "t_a"], "trials start in index order");
    // Running trials of the search, after each event: never more than 2, and 2 at first.
    let mut running = 0i32;
    let mut most = 0;
    for (start, id) in &events {
        if id != "plain" {
            running += if *start { 1 } else { -1 };
            most = most.max(running);
        }
    }
    assert_eq!(most, 2, "{events:?}");
    // The plain step was not held back by the search: it started with the first two trials.
    let plain = events.iter().position(|e| e.0 && e.1 == "plain").unwrap();
    assert!(plain < 3, "{events:?}");

    // Every trial's output says which trial it is; other outputs say nothing.
    for (index, id) in ["t_e", "t_d", "t_c", "t_b", "t_a"].iter().enumerate() {
        let trial = &report.artifact(id, "out").unwrap().data.properties["trial"];
        assert_eq!(
            *trial,
            serde_json::json!({ "search": "search", "index": index, "point": {}, "stopped_at_epoch": null }),
            "{id}"
        );
    }
    assert!(!report.artifact("plain", "out").unwrap().data.properties.contains_key("trial"));
}

fn run(host: &Arc<Host>, file: &Path, ir: &Ir) -> RunReport {
    let report =
        mlp_runtime::run::run(host, ir, &mlp_runtime::run::pipeline_dir(file), &RunOptions::default(), &mut |_| {})
            .unwrap();
    assert_eq!(report.failures().count(), 0, "{report:?}");
    report
}

/// A pipeline that transforms examples with a linear boundary (`y` is true when
/// `x1 + x2 / 2 > 0`), then runs `trainers`.
fn pipeline(name: &str, trainers: &str) -> (PathBuf, Ir) {
    let dir = scratch(name);
    let mut csv = String::from("id,x1,x2\n");
    let mut s = 7u64;
    let mut unit = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    };
    for i in 0..3_000 {
        csv.push_str(&format!("{i},{:.5},{:.5}\n", unit(), unit()));
    }
    std::fs::write(dir.join("d.csv"), csv).unwrap();
    let src = format!(
        r#"
import "std/tabular.mlp" as tab
step ingest = tab.csv_examples {{ input = "d.csv", split = {{ train = 8, eval = 2 }}, split_key = "id", grant read "d.csv" }}
step stats = tab.statistics {{ examples = ingest.out }}
step schema = tab.infer_schema {{ stats = stats.out }}
step features = tab.transform {{
  examples = ingest.out
  schema = schema.out
  label = "y"
  features = {{
    y = x1 + x2 / 2 > 0
    a = x1
    b = x2
  }}
}}
{trainers}
"#
    );
    let file = dir.join("pipeline.mlp");
    std::fs::write(&file, src).unwrap();
    let ir = lower(&file);
    (file, ir)
}

/// Two trials, run one after the other: the second, with a learning rate too small to learn
/// anything, is worse than the first after its first epoch and is stopped there.
#[test]
fn a_trial_worse_than_the_median_of_the_others_is_stopped() {
    let host = host();
    let trainers = r#"
step good = tab.train_logistic { examples = features.out, graph = features.graph, label = "y", epochs = 4, learning_rate = 0.1 }
step bad = tab.train_logistic { examples = features.out, graph = features.graph, label = "y", epochs = 4, learning_rate = 0.00001 }
"#;
    let (file, mut ir) = pipeline("median", trainers);
    make_trial(&mut ir, "good", "search", 0, 2, 1, Some((1, 1)));
    make_trial(&mut ir, "bad", "search", 1, 2, 1, Some((1, 1)));
    let report = run(&host, &file, &ir);
    let model = |id: &str| report.artifact(id, "model").unwrap().data.clone();
    let (good, bad) = (model("good"), model("bad"));
    assert_eq!(
        good.properties["trial"],
        serde_json::json!({
            "search": "search", "index": 0, "point": { "learning_rate": 0.1 }, "stopped_at_epoch": null,
        })
    );
    assert_eq!(
        bad.properties["trial"],
        serde_json::json!({
            "search": "search", "index": 1, "point": { "learning_rate": 0.00001 }, "stopped_at_epoch": 1,
        })
    );
    let good_spec = json_part(&good, "model.json");
    let bad_spec = json_part(&bad, "model.json");
    assert_eq!(good_spec["stopped_by_search"], serde_json::Value::Null);
    assert_eq!(good_spec["training"]["history"].as_array().unwrap().len(), 4);
    assert_eq!(bad_spec["stopped_by_search"], 1);
    assert_eq!(bad_spec["training"]["history"].as_array().unwrap().len(), 1);
    assert_eq!(bad_spec["training"]["kept_epoch"], 1);

    // Both reported their eval loss as the objective; the stop is explained in the log.
    let step = |id: &str| report.steps.iter().find(|s| s.id == id).unwrap();
    let objectives = |id: &str| -> Vec<(u64, f64)> {
        step(id)
            .events
            .iter()
            .filter_map(|e| match e {
                StepEvent::Metric { name, step, value } if name == "objective" => Some((*step, *value)),
                _ => None,
            })
            .collect()
    };
    let history = |spec: &serde_json::Value| -> Vec<(u64, f64)> {
        spec["training"]["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| (h["epoch"].as_u64().unwrap(), h["eval_loss"].as_f64().unwrap()))
            .collect()
    };
    assert_eq!(objectives("good"), history(&good_spec));
    assert_eq!(objectives("bad"), history(&bad_spec));
    let (bad_loss, good_first) = (objectives("bad")[0].1, objectives("good")[0].1);
    assert!(bad_loss > good_first, "{bad_loss} vs {good_first}");
    let why = step("bad")
        .events
        .iter()
        .find_map(|e| match e {
            StepEvent::Log { message, .. } if message.contains("median") => Some(message.clone()),
            _ => None,
        })
        .expect("a log line says why the trial stopped");
    assert_eq!(
        why,
        format!(
            "stopped by the search `search` after epoch 1: best objective {bad_loss} is worse than the median {good_first} of 1 other trial at that epoch"
        )
    );
}

/// The mean log loss on the `eval` split of a logistic regression model over numeric features.
fn eval_log_loss(model: &ArtifactData, examples: &InputArtifact) -> f64 {
    let Part::Blob(bytes) = &model.parts["weights.safetensors"] else { panic!("no weights") };
    let (tensors, _) = mlp_tensor::weights::from_safetensors(bytes).unwrap();
    let get = |n: &str| tensors.iter().find(|(k, _)| k == n).unwrap().1.data().to_vec();
    let (w, bias) = (get("weights"), get("bias")[0]);
    let spec = json_part(model, "model.json");
    let Part::Table(eval) = &examples.data.parts["eval"] else { panic!("no eval split") };
    let rows = eval.num_rows() as u64;
    let columns: Vec<Vec<f64>> = spec["inputs"]["numeric"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| mlp_kernels::read_f64(eval, c.as_str().unwrap(), 0, rows).unwrap())
        .collect();
    let labels = mlp_kernels::read_utf8(eval, "y", 0, rows).unwrap();
    let mut total = 0.0;
    for (r, label) in labels.iter().enumerate() {
        let z = f64::from(bias) + columns.iter().zip(&w).map(|(c, w)| c[r] * f64::from(*w)).sum::<f64>();
        let p = 1.0 / (1.0 + (-z).exp());
        total -= if label.as_deref() == Some("true") { p.ln() } else { (1.0 - p).ln() };
    }
    total / labels.len() as f64
}

/// A trainer run as a trial against a study whose other trials reported a perfect objective:
/// it is stopped at the end of the grace period, and keeps the weights of its best epoch.
#[test]
fn every_trainer_stops_when_the_search_says_so_and_keeps_its_best_epoch() {
    let host = host();
    let (file, ir) = pipeline("trainers", "");
    let report = run(&host, &file, &ir);
    let examples = report.artifact("features", "out").unwrap().clone();
    let graph = report.artifact("features", "graph").unwrap().clone();
    for (trainer, learning_rate) in [("train_logistic", 30.0), ("train_linear", 3.0), ("train_mlp", 0.5)] {
        let wasm = format!("std/components/{trainer}.wasm");
        let bytes = mlp_runtime::stdlib_component(&wasm).unwrap();
        let component = host.load_bytes(Path::new(&wasm), bytes, None).unwrap();
        let studies = Arc::new(Studies::new());
        for other in [0, 1] {
            for epoch in 1..=10 {
                studies.report("search", other, epoch, 0.0, None);
            }
        }
        let params: BTreeMap<String, Value> = [
            ("label".to_string(), Value::String("y".into())),
            ("epochs".to_string(), Value::Int(10)),
            ("learning_rate".to_string(), Value::Float(learning_rate)),
            ("batch_size".to_string(), Value::Int(32)),
        ]
        .into();
        let inputs: BTreeMap<String, InputArtifact> =
            [("examples".to_string(), examples.clone()), ("graph".to_string(), graph.clone())].into();
        let out = host
            .run(
                &component,
                StepRun {
                    step_id: format!("search/{trainer}"),
                    params_json: mlp_runtime::run::params_json(&params, &mlp_runtime::run::pipeline_dir(&file)),
                    inputs,
                    outputs: [("model".to_string(), ("Model".to_string(), false))].into(),
                    trial: Some(TrialRun {
                        search: "search".into(),
                        index: 2,
                        of: 3,
                        point: serde_json::json!({ "learning_rate": learning_rate }),
                        early_stopping: Some(StoppingRule { grace: 3, min_trials: 2 }),
                        studies: studies.clone(),
                    }),
                    ..StepRun::default()
                },
            )
            .unwrap_or_else(|e| panic!("{trainer}: {e}"));
        let model = &out.outputs["model"];
        assert_eq!(model.properties["trial"]["stopped_at_epoch"], 3, "{trainer}");
        assert_eq!(model.properties["trial"]["point"], serde_json::json!({ "learning_rate": learning_rate }));
        let spec = json_part(model, "model.json");
        assert_eq!(spec["stopped_by_search"], 3, "{trainer}");
        let history = spec["training"]["history"].as_array().unwrap();
        assert_eq!(history.len(), 3, "{trainer}: it stopped after epoch 3 of 10");
        // The kept epoch is the one with the lowest eval loss, and the model's properties are
        // that epoch's.
        let losses: Vec<f64> = history.iter().map(|h| h["eval_loss"].as_f64().unwrap()).collect();
        let best = losses.iter().copied().fold(f64::INFINITY, f64::min);
        let kept = spec["training"]["kept_epoch"].as_u64().unwrap() as usize;
        eprintln!("{trainer}: eval losses {losses:?}, kept epoch {kept}");
        assert_eq!(losses[kept - 1], best, "{trainer}: {losses:?}");
        assert_eq!(model.properties["eval_loss"].as_f64().unwrap(), best, "{trainer}");
        if trainer == "train_logistic" {
            // The weights are that epoch's: their log loss on `eval`, computed here, is its.
            assert!(kept < 3, "the last epoch is not the best here: {losses:?}");
            assert!((eval_log_loss(model, &examples) - best).abs() < 1e-5, "{trainer}: {losses:?}");
        }
        // What it reported is in the study, epoch by epoch.
        let reported: Vec<f64> = studies.reports("search", 2).into_iter().map(|(_, v)| v).collect();
        assert_eq!(reported, losses, "{trainer}");
    }
}
