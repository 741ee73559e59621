//! Plugins written with the SDK, run through the host and the pipeline runner, with their
//! numbers checked.

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use mlp_kernels::data::{ArtifactData, Part, Table};
use mlp_runtime::host::{Host, HostConfig, InputArtifact, StepRun};
use mlp_runtime::run::{PrepareError, Progress, RunOptions, RunReport, StepStatus};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn host() -> Arc<Host> {
    let cache = std::env::temp_dir().join(format!("mlp-plugins-test-{}", std::process::id()));
    Arc::new(Host::new(HostConfig { cache_dir: Some(cache), ..HostConfig::default() }).unwrap())
}

fn run_ir(host: &Arc<Host>, ir: &mlp_lang::ir::Ir, file: &Path) -> Result<RunReport, Vec<PrepareError>> {
    mlp_runtime::run::run(host, ir, &mlp_runtime::run::pipeline_dir(file), &RunOptions::default(), &mut |_| {})
}

fn column_f64(t: &Table, name: &str) -> Vec<f64> {
    mlp_kernels::read_f64(t, name, 0, t.num_rows() as u64).unwrap()
}

fn column_str(t: &Table, name: &str) -> Vec<Option<String>> {
    mlp_kernels::read_utf8(t, name, 0, t.num_rows() as u64).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

/// The acceptance test of the SDK: `column_stats`, written only with mlp-sdk, describes a
/// 1M-row table through host kernels, and every number is checked against values computed here.
#[test]
fn the_sdk_stats_plugin_describes_a_million_rows_correctly() {
    let n = 1_000_000usize;
    let cols: Vec<(&str, ArrayRef)> = vec![
        ("x", Arc::new(Float64Array::from_iter_values((0..n).map(|i| i as f64 * 0.5)))),
        ("y", Arc::new(Float64Array::from_iter((0..n).map(|i| if i % 4 == 0 { None } else { Some((i % 10) as f64) })))),
        ("k", Arc::new(Int64Array::from_iter_values((0..n).map(|i| (i % 7) as i64)))),
        ("s", Arc::new(StringArray::from_iter_values((0..n).map(|i| ["a", "bb", "ccc"][i % 3])))),
    ];
    let table = Table::from_batch(RecordBatch::try_from_iter(cols).unwrap());
    let mut data = ArtifactData { artifact_type: "Examples".into(), ..ArtifactData::default() };
    data.parts.insert("train".into(), Part::Table(table));
    let input = InputArtifact { data: Arc::new(data), digest: "blake3:test".into() };

    let host = host();
    let c = host.load(&mlp_guests::component("column_stats"), None).unwrap();
    let out = host
        .run(
            &c,
            StepRun {
                step_id: "stats".into(),
                params_json: "{}".into(),
                inputs: [("examples".to_string(), input)].into(),
                outputs: [("out".to_string(), ("Statistics".to_string(), false))].into(),
                ..StepRun::default()
            },
        )
        .unwrap();
    let stats = &out.outputs["out"];
    assert_eq!(stats.artifact_type, "Statistics");
    assert_eq!(stats.properties["train.rows"], serde_json::json!(1_000_000));
    let Part::Table(t) = &stats.parts["train"] else { panic!("no stats table") };
    assert_eq!(column_str(t, "column"), ["x", "y", "k", "s"].map(|s| Some(s.to_string())));

    // Expected values, computed directly.
    let nf = n as f64;
    let x_mean = 0.5 * (nf - 1.0) / 2.0;
    let x_var = 0.25 * (nf * nf - 1.0) / 12.0;
    let y_vals: Vec<f64> = (0..n).filter(|i| i % 4 != 0).map(|i| (i % 10) as f64).collect();
    let y_mean = y_vals.iter().sum::<f64>() / y_vals.len() as f64;
    let y_var = y_vals.iter().map(|v| (v - y_mean).powi(2)).sum::<f64>() / y_vals.len() as f64;
    let y_zeros = y_vals.iter().filter(|v| **v == 0.0).count() as f64;
    let k_vals: Vec<f64> = (0..n).map(|i| (i % 7) as f64).collect();
    let k_mean = k_vals.iter().sum::<f64>() / nf;
    let k_var = k_vals.iter().map(|v| (v - k_mean).powi(2)).sum::<f64>() / nf;

    let count = column_f64(t, "count");
    let nulls = column_f64(t, "nulls");
    let mean = column_f64(t, "mean");
    let std_dev = column_f64(t, "std_dev");
    let min = column_f64(t, "min");
    let max = column_f64(t, "max");
    let zeros = column_f64(t, "zeros");
    let avg_length = column_f64(t, "avg_length");
    let median = column_f64(t, "median");
    let distinct = column_f64(t, "distinct");

    assert_eq!(count, [nf, y_vals.len() as f64, nf, nf]);
    assert_eq!(nulls, [0.0, 250_000.0, 0.0, 0.0]);
    assert!(close(mean[0], x_mean) && close(mean[1], y_mean) && close(mean[2], k_mean), "{mean:?}");
    assert!(mean[3].is_nan(), "strings have no mean");
    assert!(close(std_dev[0], x_var.sqrt()) && close(std_dev[1], y_var.sqrt()) && close(std_dev[2], k_var.sqrt()));
    assert_eq!(&min[..3], &[0.0, 0.0, 0.0]);
    assert_eq!(&max[..3], &[0.5 * (nf - 1.0), 9.0, 6.0]);
    assert_eq!(&zeros[..3], &[1.0, y_zeros, (n / 7 + 1) as f64]);
    assert!(avg_length[..3].iter().all(|v| v.is_nan()));
    // "a", "bb", "ccc" in turn: 333,334 + 2 * 333,333 + 3 * 333,333 bytes.
    assert!(close(avg_length[3], 1_999_999.0 / nf), "{}", avg_length[3]);
    // The median from the sketch, within its 0.1% rank error.
    assert!((median[0] - x_mean).abs() <= 0.001 * nf * 0.5 + 0.5, "median of x: {}", median[0]);
    assert_eq!(median[2], 3.0);
    // HyperLogLog: small cardinalities are exact, a million within 2%.
    assert_eq!(&distinct[1..], &[10.0, 7.0, 3.0]);
    assert!((distinct[0] - nf).abs() < 0.02 * nf, "distinct x: {}", distinct[0]);
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn lower(file: &Path, set: &[String]) -> mlp_lang::ir::Ir {
    let checked = mlp_runtime::check_file(file, set).unwrap();
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    checked.ir.unwrap()
}

#[test]
fn the_quickstart_pipeline_passes_tables_between_plugins() {
    let file = repo().join("examples/quickstart/pipeline.mlp");
    let ir = lower(&file, &["rows=5000".into()]);
    let host = host();
    let report = run_ir(&host, &ir, &file).unwrap();
    let ids: Vec<&str> = report.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["data", "kept", "stats"]);
    assert!(report.steps.iter().all(|s| matches!(s.status, StepStatus::Succeeded)), "{report:?}");

    let rows = |step: &str, port: &str, part: &str| match &report.artifact(step, port).unwrap().data.parts[part] {
        Part::Table(t) => t.clone(),
        Part::Blob(_) => panic!("not a table"),
    };
    let train = rows("data", "out", "train");
    assert_eq!((train.num_rows(), rows("data", "out", "eval").num_rows()), (4000, 1000));
    // The filter kept exactly the rows where the predicate holds.
    let xs = column_f64(&train, "x");
    let cities = column_str(&train, "city");
    let expected = xs.iter().zip(&cities).filter(|(x, c)| **x > 2.5 && c.as_deref() != Some("Cicero")).count();
    let kept = rows("kept", "out", "train");
    assert_eq!(kept.num_rows(), expected);
    assert!(column_f64(&kept, "x").iter().all(|x| *x > 2.5));
    // And the statistics describe the kept rows.
    let stats = rows("stats", "out", "train");
    assert_eq!(column_f64(&stats, "count")[0], expected as f64);
    assert!(column_f64(&stats, "min")[1] > 2.5, "min of x");

    // Same inputs, same bytes: every artifact digest is reproducible.
    let again = run_ir(&host, &ir, &file).unwrap();
    for (a, b) in report.steps.iter().zip(&again.steps) {
        assert_eq!(a.outputs["out"].digest, b.outputs["out"].digest, "step {}", a.id);
    }
}

fn scratch_pipeline(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mlp-plugins-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let examples = repo().join("plugins/examples/components.mlp").canonicalize().unwrap();
    let text = text.replace("EXAMPLES", &examples.to_string_lossy()).replace("GUESTS", mlp_guests::GUESTS_DIR);
    let file = dir.join("pipeline.mlp");
    std::fs::write(&file, text).unwrap();
    file
}

#[test]
fn a_declaration_that_does_not_match_the_component_stops_the_run_before_any_step() {
    let file = scratch_pipeline(
        "mismatch",
        r#"
component generate {
  wasm = "GUESTS/generate.wasm"
  param rows: int = 10
  output out: Schema
}
component generate_ok {
  wasm = "GUESTS/generate.wasm"
  output out: Examples
}
component filter_rows {
  wasm = "GUESTS/filter_rows.wasm"
  input examples: Examples
  param where: string
  param limit: int = 5
  output out: Examples
}
step data = generate {}
step data2 = generate_ok {}
step kept = filter_rows { examples = data2.out, where = "x > 1" }
"#,
    );
    let ir = lower(&file, &[]);
    let host = host();
    let mut started = 0;
    let errors =
        mlp_runtime::run::run(&host, &ir, &mlp_runtime::run::pipeline_dir(&file), &RunOptions::default(), &mut |_| {
            started += 1
        })
        .unwrap_err();
    assert_eq!(started, 0, "no step may start");
    let msgs: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(msgs.len(), 2, "{msgs:#?}");
    assert!(msgs[0].ends_with("its output `out` is Examples, the declaration says Schema"), "{}", msgs[0]);
    assert!(msgs[0].contains("component `pipeline.mlp#generate` does not match its declaration"), "{}", msgs[0]);
    assert!(msgs[0].contains("pipeline.mlp:18: step `data`"), "{}", msgs[0]);
    let kept = msgs.iter().find(|m| m.contains("step `kept`")).unwrap();
    assert!(kept.ends_with("it takes no parameter `limit` (it takes: where)"), "{kept}");
    assert!(matches!(errors[0], PrepareError::Signature { .. }));
}

#[test]
fn a_failed_step_skips_its_dependents_and_independent_steps_still_run() {
    let file = scratch_pipeline(
        "failure",
        r#"
import "EXAMPLES" as ex
step data = ex.generate { rows = 100 }
step bad = ex.filter_rows { examples = data.out, where = "no_such_column > 1" }
step after = ex.column_stats { examples = bad.out }
step fine = ex.column_stats { examples = data.out }
"#,
    );
    let ir = lower(&file, &[]);
    let host = host();
    let report = run_ir(&host, &ir, &file).unwrap();
    let status = |id: &str| &report.steps.iter().find(|s| s.id == id).unwrap().status;
    assert!(matches!(status("data"), StepStatus::Succeeded));
    assert!(matches!(status("fine"), StepStatus::Succeeded));
    let StepStatus::Failed(e) = status("bad") else { panic!("bad did not fail: {:?}", status("bad")) };
    assert!(e.message.contains("no_such_column"), "{}", e.message);
    let StepStatus::Skipped(why) = status("after") else { panic!("after was not skipped") };
    assert_eq!(why, "its input `examples` was not produced (`bad` failed)");
    assert_eq!(report.failures().count(), 1);
}

#[test]
fn standard_components_load_from_the_binary_and_a_missing_one_is_named() {
    let file = repo().join("examples/taxi/pipeline.mlp");
    let host = host();
    // Every step of the whole example, and of its parts, loads.
    for part in ["pipeline.mlp", "data.mlp", "transform.mlp", "train.mlp", "tune.mlp"] {
        let file = repo().join("examples/taxi").join(part);
        let ir = lower(&file, &[]);
        let loaded = mlp_runtime::run::prepare(&host, &ir, &mlp_runtime::run::pipeline_dir(&file)).unwrap();
        assert_eq!(loaded.len(), ir.steps.len(), "{part}");
    }
    // A standard component this mlp does not have is named, with the ones it has.
    let mut ir = lower(&file, &[]);
    ir.steps[0].wasm = "std/components/no_such_step.wasm".into();
    let errors = mlp_runtime::run::prepare(&host, &ir, &mlp_runtime::run::pipeline_dir(&file)).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert!(matches!(&errors[0], PrepareError::Stdlib { wasm, .. } if wasm == "std/components/no_such_step.wasm"));
    assert!(errors[0].help().contains("batch_infer, csv_examples, evaluate, import_schema"), "{}", errors[0].help());
}

const HOSTILE: &str = r#"
component hostile {
  wasm = "GUESTS/hostile.wasm"
  param attack: string
  param path: string = ""
  param address: string = ""
  output out: Examples
}
"#;

#[test]
fn independent_steps_start_together_up_to_the_parallelism_limit() {
    let file = scratch_pipeline(
        "parallel",
        &format!(
            "{HOSTILE}\nstep a = hostile {{ attack = \"ok\" }}\nstep b = hostile {{ attack = \"ok\" }}\nstep c = hostile {{ attack = \"ok\" }}\n"
        ),
    );
    let ir = lower(&file, &[]);
    let host = host();
    let order = |parallelism: usize| {
        let mut events = Vec::new();
        let options = RunOptions { parallelism, ..RunOptions::default() };
        let report =
            mlp_runtime::run::run(&host, &ir, &mlp_runtime::run::pipeline_dir(&file), &options, &mut |p| match p {
                Progress::Started(id, _) => events.push(format!("start {id}")),
                Progress::Finished(r) => events.push(format!("end {}", r.id)),
                Progress::Tick { .. } => {}
            })
            .unwrap();
        assert!(report.steps.iter().all(|s| matches!(s.status, StepStatus::Succeeded)));
        events
    };
    let two = order(2);
    assert_eq!(&two[..2], ["start a", "start b"], "{two:?}");
    assert_eq!(two.iter().filter(|e| e.starts_with("start")).count(), 3);
    let one = order(1);
    assert_eq!(one, ["start a", "end a", "start b", "end b", "start c", "end c"]);
}

#[test]
fn canceling_stops_a_running_step_and_skips_the_rest() {
    let file = scratch_pipeline(
        "cancel",
        &format!(
            "{HOSTILE}\nimport \"EXAMPLES\" as ex\nstep spin = hostile {{\n  attack = \"loop\"\n  limit time 60s\n}}\nstep after = ex.column_stats {{ examples = spin.out }}\n"
        ),
    );
    let ir = lower(&file, &[]);
    let host = host();
    let options = RunOptions::default();
    let cancel = options.cancel.clone();
    let report = mlp_runtime::run::run(&host, &ir, &mlp_runtime::run::pipeline_dir(&file), &options, &mut |p| {
        if let Progress::Started("spin", _) = p {
            let cancel = cancel.clone();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(100));
                cancel.store(true, std::sync::atomic::Ordering::Relaxed);
            });
        }
    })
    .unwrap();
    assert!(report.canceled);
    let status = |id: &str| &report.steps.iter().find(|s| s.id == id).unwrap().status;
    let StepStatus::Failed(e) = status("spin") else { panic!("spin: {:?}", status("spin")) };
    assert_eq!(e.kind, mlp_runtime::host::StepErrorKind::Canceled);
    assert_eq!(e.message, "the run was canceled");
    let StepStatus::Skipped(why) = status("after") else { panic!("after: {:?}", status("after")) };
    assert_eq!(why, "the run was canceled");
}
