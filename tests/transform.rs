//! The feature transform end to end, through the `mlp` binary: the example's feature block
//! (`examples/taxi/features.mlp`) fitted on the training split and applied to every split, its
//! outputs checked against an independent computation from the raw examples, a proof that
//! evaluation rows never reach the fitted constants, the graph's view, and the errors a
//! feature block gets at run time.

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use mlp_kernels::data::{ArtifactData, Part};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn mlp(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlp")).args(args).current_dir(dir).env("NO_COLOR", "1").output().expect("run mlp")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn project(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mlp-transform-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `file` in `dir` with `--json`: exit code, finished events by step, standard error.
fn run(dir: &Path, file: &str) -> (i32, BTreeMap<String, serde_json::Value>, String) {
    let out = mlp(&["run", file, "--json"], dir);
    let mut steps = BTreeMap::new();
    for line in text(&out.stdout).lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        if v["event"] == "finished" {
            steps.insert(v["step"].as_str().unwrap().to_string(), v);
        }
    }
    (out.status.code().unwrap_or(-1), steps, text(&out.stderr))
}

fn output(dir: &Path, steps: &BTreeMap<String, serde_json::Value>, step: &str, port: &str) -> (String, ArtifactData) {
    let digest = steps[step]["outputs"][port]["digest"]
        .as_str()
        .unwrap_or_else(|| panic!("{step}.{port} not produced: {}", steps[step]))
        .to_string();
    let store = mlp_store::ArtifactStore::open(dir.join(".mlp")).unwrap();
    (digest.clone(), store.get(&digest).unwrap())
}

/// A split of an Examples artifact as one batch.
fn split(data: &ArtifactData, part: &str) -> RecordBatch {
    match &data.parts[part] {
        Part::Table(t) => arrow_select::concat::concat_batches(t.schema(), t.batches()).unwrap(),
        Part::Blob(_) => panic!("{part} is not a table"),
    }
}

fn graph(data: &ArtifactData) -> serde_json::Value {
    match &data.parts["graph.json"] {
        Part::Blob(b) => serde_json::from_slice(b).unwrap(),
        Part::Table(_) => panic!("graph.json is a table"),
    }
}

fn f64s(b: &RecordBatch, c: &str) -> Vec<Option<f64>> {
    b.column_by_name(c).unwrap_or_else(|| panic!("no column {c}")).as_primitive::<Float64Type>().iter().collect()
}

/// The example's feature pipeline over `rows` trips of one span, in a fresh folder.
fn taxi(name: &str, rows: u64) -> PathBuf {
    let dir = project(name);
    for f in ["transform.mlp", "features.mlp", "describe.mlp"] {
        std::fs::copy(repo().join("examples/taxi").join(f), dir.join(f)).unwrap();
    }
    let d = dir.join("data").join("span-1");
    std::fs::create_dir_all(&d).unwrap();
    let mut out = Vec::new();
    mlp_example_data::write_csv(mlp_example_data::Spec { rows, seed: 7, drift: false }, &mut out).unwrap();
    std::fs::write(d.join("trips.csv"), out).unwrap();
    dir
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    (mean, (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt())
}

fn zscore_of(g: &serde_json::Value, feature: &str) -> (f64, f64) {
    let a = g["analyzers"].as_array().unwrap().iter().find(|a| a["feature"] == feature).unwrap();
    (a["fitted"]["mean"].as_f64().unwrap(), a["fitted"]["std_dev"].as_f64().unwrap())
}

#[test]
fn the_example_features_are_fitted_on_train_and_applied_to_every_split() {
    let dir = taxi("example", 20_000);
    let (code, steps, err) = run(&dir, "transform.mlp");
    assert_eq!(code, 0, "{err}");
    let (_, raw) = output(&dir, &steps, "ingest", "out");
    let (_, out) = output(&dir, &steps, "features/transform", "out");
    let (_, g) = output(&dir, &steps, "features/transform", "graph");
    let g = graph(&g);
    assert_eq!(g["format"], "mlp.transform_graph");
    assert_eq!(g["features"].as_array().unwrap().len(), 13);

    // The z-score of trip_miles learned the training split's mean and std dev, exactly.
    let train = split(&raw, "train");
    let miles: Vec<f64> = f64s(&train, "trip_miles").into_iter().flatten().filter(|x| x.is_finite()).collect();
    let (m, s) = mean_std(&miles);
    let (gm, gs) = zscore_of(&g, "miles_z");
    assert!((gm - m).abs() < 1e-9 * m.abs() && (gs - s).abs() < 1e-9 * s, "{gm} {gs} vs {m} {s}");

    // Every split: the features, the label and the passthrough columns, row for row.
    for part in ["train", "eval"] {
        let (rawp, outp) = (split(&raw, part), split(&out, part));
        assert_eq!(rawp.num_rows(), outp.num_rows());
        let names: Vec<String> = outp.schema().fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names.last().map(String::as_str), Some("payment_type"), "{names:?}");
        assert!(names.contains(&"trip_start_hour".to_string()) && names.contains(&"big_tipper".to_string()));
        let (fare, miles, z, log) =
            (f64s(&rawp, "fare"), f64s(&rawp, "trip_miles"), f64s(&outp, "miles_z"), f64s(&outp, "fare_log"));
        for r in 0..rawp.num_rows() {
            assert_eq!(log[r], fare[r].map(f64::ln_1p), "{part} row {r}");
            match (miles[r], z[r]) {
                (Some(x), Some(zz)) => assert!((zz - (x - m) / s).abs() < 1e-9),
                (None, None) => {}
                other => panic!("{part} row {r}: {other:?}"),
            }
        }
        let tips = f64s(&rawp, "tips");
        let label = outp.column_by_name("big_tipper").unwrap().as_boolean();
        for r in 0..rawp.num_rows() {
            if let (Some(t), Some(f)) = (tips[r], fare[r]) {
                assert_eq!(label.value(r), t > f * 0.2);
            }
        }
        let hours = outp.column_by_name("hour_bucket").unwrap().as_primitive::<Int64Type>();
        assert!(hours.iter().flatten().all(|h| (0..5).contains(&h)));
    }

    // `mlp show` prints what the transform learned.
    let digest = steps["features/transform"]["outputs"]["graph"]["digest"].as_str().unwrap();
    let shown = mlp(&["show", digest], &dir);
    let shown = text(&shown.stdout);
    assert!(shown.contains("transform: 13 features from 10 columns"), "{shown}");
    assert!(shown.contains(&format!("zscore(trip_miles) over {} values", miles.len())), "{shown}");
}

#[test]
fn evaluation_rows_do_not_leak_into_the_fitted_transform() {
    // Run once; then change every evaluation row wildly (the split is by taxi, so the rows stay
    // in their split) and run again: the fitted graph must be byte for byte the same, while the
    // evaluation features change.
    let dir = taxi("leak", 10_000);
    let (code, steps, err) = run(&dir, "transform.mlp");
    assert_eq!(code, 0, "{err}");
    let (_, raw) = output(&dir, &steps, "ingest", "out");
    let (graph1, g1) = output(&dir, &steps, "features/transform", "graph");
    let (_, out1) = output(&dir, &steps, "features/transform", "out");
    let eval = split(&raw, "eval");
    let eval_taxis: std::collections::HashSet<String> =
        eval.column_by_name("taxi_id").unwrap().as_string::<i32>().iter().flatten().map(str::to_owned).collect();
    assert!(!eval_taxis.is_empty());

    let path = dir.join("data/span-1/trips.csv");
    let mut reader = csv::Reader::from_path(&path).unwrap();
    let header = reader.headers().unwrap().clone();
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let (taxi, miles, company, lat) = (col("taxi_id"), col("trip_miles"), col("company"), col("pickup_latitude"));
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&header).unwrap();
    let mut touched = 0;
    for record in reader.records() {
        let mut f: Vec<String> = record.unwrap().iter().map(str::to_owned).collect();
        if eval_taxis.contains(&f[taxi]) {
            f[miles] = "9999.5".into();
            f[company] = "Leaked Cab".into();
            f[lat] = "89.0".into();
            touched += 1;
        }
        writer.write_record(&f).unwrap();
    }
    let changed = writer.into_inner().unwrap();
    assert_eq!(touched, eval.num_rows());
    std::fs::write(&path, changed).unwrap();

    let (code, steps, err) = run(&dir, "transform.mlp");
    assert_eq!(code, 0, "{err}");
    let (_, raw2) = output(&dir, &steps, "ingest", "out");
    assert_eq!(split(&raw2, "eval").num_rows(), eval.num_rows(), "the same rows are in eval");
    let (graph2, g2) = output(&dir, &steps, "features/transform", "graph");
    assert_eq!(
        graph1,
        graph2,
        "the fitted transform changed with the evaluation rows:\n{}\n{}",
        graph(&g1),
        graph(&g2)
    );
    // The evaluation features did change: the transform was applied to the new rows.
    let (_, out2) = output(&dir, &steps, "features/transform", "out");
    let (z1, z2) = (f64s(&split(&out1, "eval"), "miles_z"), f64s(&split(&out2, "eval"), "miles_z"));
    assert_ne!(z1, z2);
    let company = split(&out2, "eval");
    let ids = company.column_by_name("company_id").unwrap().as_primitive::<Int64Type>();
    let oov = graph(&g2)["analyzers"].as_array().unwrap().iter().find(|a| a["feature"] == "company_id").unwrap()
        ["fitted"]["values"]
        .as_array()
        .unwrap()
        .len() as i64;
    assert!(ids.iter().flatten().all(|i| i == oov), "an unseen company is out of vocabulary");
}

/// A one-step pipeline over a small CSV with the given transform lines.
fn small(name: &str, transform: &str) -> PathBuf {
    let dir = project(name);
    std::fs::write(dir.join("data.csv"), "fare,company,tips\n10.5,A,1\n3.0,B,0.5\n7.25,A,\n").unwrap();
    let src = format!(
        "import \"std/tabular.mlp\" as tab\n\
         step ingest = tab.csv_examples {{ input = \"data.csv\", split = {{ train = 1 }}, grant read \"data.csv\" }}\n\
         step stats = tab.statistics {{ examples = ingest.out }}\n\
         step schema = tab.infer_schema {{ stats = stats.out }}\n\
         step t = tab.transform {{\n  examples = ingest.out\n  schema = schema.out\n{transform}\n}}\n"
    );
    std::fs::write(dir.join("pipeline.mlp"), src).unwrap();
    dir
}

fn failure(steps: &BTreeMap<String, serde_json::Value>, step: &str) -> String {
    assert_eq!(steps[step]["status"], "failed", "{}", steps[step]);
    format!(
        "{}\n{}",
        steps[step]["error"].as_str().unwrap_or_default(),
        steps[step]["detail"].as_str().unwrap_or_default()
    )
}

#[test]
fn feature_block_errors_at_run_time_name_the_feature_and_suggest_a_fix() {
    let cases = [
        (
            "label = \"fare_log\"\n  features = { fare_log = log1p(fares) }",
            &["feature `fare_log`", "no column `fares`", "did you mean `fare`?"][..],
        ),
        (
            "label = \"x\"\n  features = { x = zscore(company) }",
            &["feature `x`", "zscore(company)", "needs a number"][..],
        ),
        ("label = \"y\"\n  features = { x = log1p(fare) }", &["the label `y`", "neither a feature"][..]),
        (
            "label = \"x\"\n  fit_split = \"training\"\n  features = { x = log1p(fare) }",
            &["no `training` split", "set `fit_split`"][..],
        ),
        (
            "label = \"x\"\n  passthrough = [\"fair\"]\n  features = { x = log1p(fare) }",
            &["passthrough column `fair`", "columns: fare, company, tips"][..],
        ),
    ];
    for (i, (block, want)) in cases.iter().enumerate() {
        let dir = small(&format!("err{i}"), block);
        let (code, steps, err) = run(&dir, "pipeline.mlp");
        assert_eq!(code, 1, "{block}: {err}");
        let f = failure(&steps, "t");
        for w in *want {
            assert!(f.contains(w), "{block}: `{w}` not in: {f}");
        }
    }
    // And the block that works: the label copied from the data, vocabulary out of the raw strings.
    let dir =
        small("ok", "label = \"tips\"\n  features = { fare_log = log1p(fare)\n company_id = vocabulary(company) }");
    let (code, steps, err) = run(&dir, "pipeline.mlp");
    assert_eq!(code, 0, "{err}");
    let (_, out) = output(&dir, &steps, "t", "out");
    let t = split(&out, "train");
    let ids: Vec<Option<i64>> = t.column_by_name("company_id").unwrap().as_primitive::<Int64Type>().iter().collect();
    assert_eq!(ids, vec![Some(0), Some(1), Some(0)]);
    assert_eq!(f64s(&t, "tips"), vec![Some(1.0), Some(0.5), None]);
}
