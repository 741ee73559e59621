//! Delivery end to end, through the `mlp` binary: `tab.push` writes numbered versions of a
//! model and its transform to a serving folder and switches `CURRENT`; the same model is not
//! pushed twice; `mlp rollback` makes the previous version current and records it in the
//! lineage; a push of another model's transform is refused.

#[path = "e2e/mod.rs"]
mod e2e;
use e2e::{artifact, json_part, mlp, run};
use std::path::{Path, PathBuf};

fn project(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mlp-deliver-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut csv = String::from("id,x1,x2\n");
    let mut s = 99u64;
    let mut unit = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    };
    for i in 0..800 {
        csv.push_str(&format!("{i},{:.5},{:.5}\n", unit(), unit()));
    }
    std::fs::write(dir.join("points.csv"), csv).unwrap();
    std::fs::write(
        dir.join("pipeline.mlp"),
        r#"import "std/tabular.mlp" as tab

param learning_rate: float = 0.1

step ingest = tab.csv_examples { input = "points.csv", split = { train = 8, eval = 2 }, split_key = "id", grant read "points.csv" }
step stats = tab.statistics { examples = ingest.out }
step schema = tab.infer_schema { stats = stats.out }
step features = tab.transform {
  examples = ingest.out
  schema = schema.out
  label = "y"
  features = { y = x1 + x2 > 0, a = x1, b = x2 }
}
step train = tab.train_logistic { examples = features.out, graph = features.graph, label = "y", epochs = 2, learning_rate = learning_rate }
step push = tab.push { model = train.model, graph = features.graph, to = "serving", keep = 5, grant write "serving" }
"#,
    )
    .unwrap();
    dir
}

fn current(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("serving/CURRENT")).unwrap().trim().to_string()
}

#[test]
fn pushes_make_numbered_versions_and_rollback_restores_the_previous_one() {
    let dir = project("versions");
    let (code, first, err) = run(&dir, "pipeline.mlp", &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(current(&dir), "1");
    let v1 = dir.join("serving/versions/1");
    let model = artifact(&dir, &first, "train", "model");
    // The version holds the model's parts and the transform, byte for byte.
    assert_eq!(std::fs::read(v1.join("model.json")).unwrap(), e2e::blob(&model, "model.json"));
    assert_eq!(std::fs::read(v1.join("weights.safetensors")).unwrap(), e2e::blob(&model, "weights.safetensors"));
    let graph = artifact(&dir, &first, "features", "graph");
    assert_eq!(std::fs::read(v1.join("transform.json")).unwrap(), e2e::blob(&graph, "graph.json"));
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(v1.join("version.json")).unwrap()).unwrap();
    assert_eq!(meta["version"], 1);
    assert_eq!(meta["model_digest"], first["train"]["outputs"]["model"]["digest"]);
    assert_eq!(meta["transform_digest"], first["features"]["outputs"]["graph"]["digest"]);
    let pushed = json_part(&artifact(&dir, &first, "push", "pushed"), "pushed.json");
    assert_eq!((pushed["version"].as_u64(), pushed["new"].as_bool()), (Some(1), Some(true)));

    // Another model: version 2.
    let (code, second, err) = run(&dir, "pipeline.mlp", &["--set", "learning_rate=0.02"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(current(&dir), "2");
    assert_ne!(second["train"]["outputs"]["model"]["digest"], first["train"]["outputs"]["model"]["digest"]);
    // The same model again, not from the cache: nothing new.
    let (code, third, err) = run(&dir, "pipeline.mlp", &["--set", "learning_rate=0.02", "--no-cache"]);
    assert_eq!(code, 0, "{err}");
    let pushed = json_part(&artifact(&dir, &third, "push", "pushed"), "pushed.json");
    assert_eq!(
        (pushed["version"].as_u64(), pushed["new"].as_bool()),
        (Some(2), Some(false)),
        "run 2: {}\nrun 3: {}",
        second["train"]["outputs"]["model"]["digest"],
        third["train"]["outputs"]["model"]["digest"]
    );
    assert!(!dir.join("serving/versions/3").exists());

    // Rollback: version 1 is current again, recorded as a run of the pipeline.
    let out = mlp(&["rollback", "serving"], &dir);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("version 1 is current again (was 2)"), "{text}");
    assert_eq!(current(&dir), "1");
    let runs = mlp(&["runs", "--json"], &dir);
    let runs: serde_json::Value = serde_json::from_slice(&runs.stdout).unwrap();
    let last = runs.as_array().unwrap().iter().max_by_key(|r| r["id"].as_i64()).unwrap().clone();
    assert_eq!(last["properties"]["command"], "rollback", "{last}");
    assert_eq!(last["pipeline"], "pipeline.mlp");
    // The rollback's PushedModel leads back to the restored model.
    let lineage =
        mlp(&["lineage", first["train"]["outputs"]["model"]["digest"].as_str().unwrap(), "--downstream"], &dir);
    let tree = String::from_utf8_lossy(&lineage.stdout);
    assert!(tree.contains("rollback"), "{tree}");

    // Nothing older than version 1.
    let out = mlp(&["rollback", "serving"], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("version 1 is the oldest"));
}

#[test]
fn a_push_of_another_transform_is_refused() {
    let dir = project("mismatch");
    let src = std::fs::read_to_string(dir.join("pipeline.mlp")).unwrap();
    let src = src.replace("graph = features.graph, to", "graph = other.graph, to")
        + "step other = tab.transform { examples = ingest.out, schema = schema.out, label = \"y\", features = { y = x1 > 0, a = x2 } }\n";
    std::fs::write(dir.join("pipeline.mlp"), src).unwrap();
    let (code, steps, _) = run(&dir, "pipeline.mlp", &[]);
    assert_ne!(code, 0);
    let message = steps["push"]["error"].to_string();
    assert!(message.contains("push the TransformGraph the model was trained with"), "{message}");
    assert!(!dir.join("serving/CURRENT").exists(), "nothing was pushed");
}

#[test]
fn infra_validation_gates_the_push_with_its_checks_recorded() {
    let dir = project("infra");
    let src = std::fs::read_to_string(dir.join("pipeline.mlp")).unwrap();
    let src = src.replace(
        "step push = tab.push { model = train.model, graph = features.graph, to = \"serving\", keep = 5, grant write \"serving\" }",
        "param max_memory: size = 1GiB\n\
         step infra = tab.infra_validate { model = train.model, graph = features.graph, examples = ingest.out, requests = 40, max_latency = 2s, max_memory = max_memory }\n\
         step push = tab.push { model = train.model, graph = features.graph, infra = infra.blessing, to = \"serving\", grant write \"serving\" } when infra.blessing",
    );
    std::fs::write(dir.join("pipeline.mlp"), src).unwrap();
    let (code, steps, err) = run(&dir, "pipeline.mlp", &[]);
    assert_eq!(code, 0, "{err}");
    let infra = artifact(&dir, &steps, "infra", "blessing");
    let doc = json_part(&infra, "infra.json");
    assert_eq!(doc["blessed"], true, "{doc}");
    assert_eq!(doc["model"], steps["train"]["outputs"]["model"]["digest"]);
    assert_eq!(doc["latency"]["requests"], 40);
    let p50 = doc["latency"]["p50_ms"].as_f64().unwrap();
    let p99 = doc["latency"]["p99_ms"].as_f64().unwrap();
    assert!(p50 > 0.0 && p50 <= p99 && p99 < 2000.0, "p50 {p50}, p99 {p99}");
    let names: Vec<&str> = doc["checks"].as_array().unwrap().iter().map(|c| c["check"].as_str().unwrap()).collect();
    assert_eq!(names, ["transform", "loads", "memory", "answers", "latency"]);
    assert_eq!(current(&dir), "1");

    // A model larger than the serving memory: not blessed, not pushed.
    let dir2 = project("infra-small");
    std::fs::copy(dir.join("pipeline.mlp"), dir2.join("pipeline.mlp")).unwrap();
    let (code, steps, err) = run(&dir2, "pipeline.mlp", &["--set", "max_memory=64B"]);
    assert_eq!(code, 0, "{err}");
    let doc = json_part(&artifact(&dir2, &steps, "infra", "blessing"), "infra.json");
    assert_eq!(doc["blessed"], false);
    let memory = doc["checks"].as_array().unwrap().iter().find(|c| c["check"] == "memory").unwrap();
    assert_eq!(memory["passed"], false);
    assert_eq!(memory["detail"]["max_bytes"], 64);
    assert_eq!(steps["push"]["status"], "skipped", "{}", steps["push"]);
    assert!(!dir2.join("serving/CURRENT").exists());
}

/// On a clean store: the first run pushes version 1; a degraded model is not blessed against
/// it and version 1 stays current; a better one becomes version 2; rollback restores version 1;
/// the served model's lineage leads back to its data, transform and trainer with parameters.
#[test]
fn only_blessed_models_are_pushed_and_the_served_model_has_its_lineage() {
    let dir = project("gated");
    let src = std::fs::read_to_string(dir.join("pipeline.mlp")).unwrap();
    let src = src
        .replace("param learning_rate: float = 0.1", "param learning_rate: float = 0.1\nparam epochs: int = 3")
        .replace("epochs = 2, learning_rate = learning_rate", "epochs = epochs, learning_rate = learning_rate")
        .replace(
            "step push = tab.push { model = train.model, graph = features.graph, to = \"serving\", keep = 5, grant write \"serving\" }",
            "step eval = tab.evaluate {\n  model = train.model\n  examples = features.out\n  label = \"y\"\n  baseline = latest_blessed(Model)\n  bootstrap = 0\n  permutations = 0\n  bless = auc >= 0.6 and log_loss <= baseline.log_loss + 0.01\n}\n\
             step push = tab.push { model = train.model, graph = features.graph, to = \"serving\", grant write \"serving\" } when eval.blessing",
        );
    std::fs::write(dir.join("pipeline.mlp"), src).unwrap();
    let (code, first, err) = run(&dir, "pipeline.mlp", &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(current(&dir), "1");
    let blessing = json_part(&artifact(&dir, &first, "eval", "blessing"), "blessing.json");
    assert_eq!(blessing["blessed"], true, "{blessing}");

    // Barely trained: its log loss is far above the blessed model's.
    let (code, degraded, err) = run(&dir, "pipeline.mlp", &["--set", "learning_rate=0.00001", "--set", "epochs=1"]);
    assert_eq!(code, 0, "{err}");
    let blessing = json_part(&artifact(&dir, &degraded, "eval", "blessing"), "blessing.json");
    assert_eq!(blessing["blessed"], false, "{blessing}");
    assert_eq!(degraded["push"]["status"], "skipped", "{}", degraded["push"]);
    assert_eq!(current(&dir), "1");

    // Trained longer: at least as good, blessed, version 2.
    let (code, better, err) = run(&dir, "pipeline.mlp", &["--set", "epochs=8"]);
    assert_eq!(code, 0, "{err}");
    let blessing = json_part(&artifact(&dir, &better, "eval", "blessing"), "blessing.json");
    assert_eq!(blessing["blessed"], true, "{blessing}");
    assert_eq!(current(&dir), "2");

    let out = mlp(&["rollback", "serving"], &dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(current(&dir), "1");

    // The served model's lineage: its trainer (with its parameters), the transform, the data.
    let served: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("serving/versions/1/version.json")).unwrap()).unwrap();
    assert_eq!(served["model_digest"], first["train"]["outputs"]["model"]["digest"]);
    let out = mlp(&["lineage", served["model_digest"].as_str().unwrap()], &dir);
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{tree}");
    for needle in ["train_logistic", "transform", "csv_examples"] {
        assert!(tree.contains(needle), "`{needle}` is not in the lineage:\n{tree}");
    }
    // The trainer's execution there: its component digest and parameters.
    let line = tree.lines().find(|l| l.contains("step `train`")).unwrap();
    let run_id = line.rsplit("run ").next().unwrap().trim_end_matches(')').to_string();
    let show = mlp(&["runs", "show", &run_id, "--json"], &dir);
    let detail: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    let train = detail["executions"].as_array().unwrap().iter().find(|e| e["step"] == "train").unwrap();
    assert!(train["component_digest"].as_str().unwrap().starts_with("blake3:"), "{train}");
    let params = &train["parameters"];
    assert_eq!(params["learning_rate"]["value"], 0.1, "{params}");
    assert_eq!(params["epochs"]["value"], 3, "{params}");
    assert_eq!(params["label"]["value"], "y", "{params}");
    let ingest = detail["executions"].as_array().unwrap().iter().find(|e| e["step"] == "ingest").unwrap();
    assert!(
        ingest["parameters"]["input"]["value"].as_str().unwrap().ends_with("points.csv"),
        "{}",
        ingest["parameters"]
    );
}
