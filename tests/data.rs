//! The data components of the standard library end to end, through the `mlp` binary: ingest
//! (CSV, JSON Lines, Parquet; spans; hash splits; bad rows), statistics checked against an
//! independent computation, schema inference and `mlp schema diff`, validation with drift found
//! through the lineage store, and the views (`mlp show`, the HTML page).

use mlp_data::anomalies::{Anomalies, AnomalyCode};
use mlp_data::schema::Schema;
use mlp_data::stats::Statistics;
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

/// A fresh folder for one test.
fn project(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mlp-data-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `pipeline.mlp` in `dir` with `--json`; returns the exit code, the finished events by step
/// and standard error.
fn run(dir: &Path, extra: &[&str]) -> (i32, BTreeMap<String, serde_json::Value>, String) {
    let mut args = vec!["run", "pipeline.mlp", "--json"];
    args.extend_from_slice(extra);
    let out = mlp(&args, dir);
    let mut steps = BTreeMap::new();
    for line in text(&out.stdout).lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        if v["event"] == "finished" {
            steps.insert(v["step"].as_str().unwrap().to_string(), v);
        }
    }
    (out.status.code().unwrap_or(-1), steps, text(&out.stderr))
}

/// The artifact a step wrote on `port`, read back from the store.
fn output(dir: &Path, steps: &BTreeMap<String, serde_json::Value>, step: &str, port: &str) -> (String, ArtifactData) {
    let digest = steps[step]["outputs"][port]["digest"]
        .as_str()
        .unwrap_or_else(|| panic!("{step}.{port} not produced: {}", steps[step]))
        .to_string();
    let store = mlp_store::ArtifactStore::open(dir.join(".mlp")).unwrap();
    let data = store.get(&digest).unwrap();
    (digest, data)
}

fn json_part<T: serde::de::DeserializeOwned>(data: &ArtifactData, part: &str) -> T {
    match &data.parts[part] {
        Part::Blob(b) => serde_json::from_slice(b).unwrap(),
        Part::Table(_) => panic!("{part} is a table"),
    }
}

fn tables(data: &ArtifactData) -> BTreeMap<String, mlp_kernels::Table> {
    data.parts
        .iter()
        .filter_map(|(k, p)| match p {
            Part::Table(t) => Some((k.clone(), t.clone())),
            Part::Blob(_) => None,
        })
        .collect()
}

const STD: &str = "import \"std/tabular.mlp\" as tab\n";

/// A pipeline that ingests `data.csv` with the given extra ingest lines.
fn ingest_pipeline(extra: &str) -> String {
    format!("{STD}step ingest = tab.csv_examples {{\n  input = \"data.csv\"\n  grant read \"data.csv\"\n{extra}\n}}\n")
}

fn failure(steps: &BTreeMap<String, serde_json::Value>, step: &str) -> String {
    assert_eq!(steps[step]["status"], "failed", "{}", steps[step]);
    format!(
        "{}\n{}",
        steps[step]["error"].as_str().unwrap_or_default(),
        steps[step]["detail"].as_str().unwrap_or_default()
    )
}

// ---- ingest -------------------------------------------------------------------------------------

#[test]
fn a_split_by_key_puts_known_rows_in_the_same_splits_every_time() {
    let dir = project("split");
    let mut csv = String::from("id,x\n");
    for i in 0..20 {
        csv.push_str(&format!("{i},{}\n", i * 10));
    }
    std::fs::write(dir.join("data.csv"), csv).unwrap();
    std::fs::write(
        dir.join("pipeline.mlp"),
        ingest_pipeline("  split_key = \"id\"\n  split = { train = 3, eval = 1 }"),
    )
    .unwrap();
    let (code, steps, err) = run(&dir, &[]);
    assert_eq!(code, 0, "{err}");
    let (_, data) = output(&dir, &steps, "ingest", "out");
    let t = tables(&data);
    let ids = |split: &str| mlp_kernels::read_f64(&t[split], "id", 0, 100).unwrap();
    // Pinned: a change here reshuffles every user's splits.
    assert_eq!(ids("eval"), vec![3.0, 7.0, 10.0]);
    assert_eq!(ids("train"), (0..20).filter(|i| ![3, 7, 10].contains(i)).map(f64::from).collect::<Vec<_>>());
}

#[test]
fn ragged_rows_fail_the_step_with_their_line_numbers_or_are_skipped_and_counted() {
    let dir = project("ragged");
    std::fs::write(dir.join("data.csv"), "a,b\n1,2\n3\n4,5\n6,7,8\n9,10\n").unwrap();
    std::fs::write(dir.join("pipeline.mlp"), ingest_pipeline("  split = { all = 1 }")).unwrap();
    let (code, steps, _) = run(&dir, &[]);
    assert_eq!(code, 1);
    let e = failure(&steps, "ingest");
    assert!(e.contains("2 bad rows"), "{e}");
    assert!(e.contains("data.csv:3:") && e.contains("data.csv:5:"), "{e}");

    std::fs::write(dir.join("pipeline.mlp"), ingest_pipeline("  split = { all = 1 }\n  bad_rows = \"skip\"")).unwrap();
    let (code, steps, err) = run(&dir, &[]);
    assert_eq!(code, 0, "{err}");
    let (_, data) = output(&dir, &steps, "ingest", "out");
    assert_eq!(data.properties["bad_rows"], serde_json::json!(2));
    assert_eq!(mlp_kernels::read_f64(&tables(&data)["all"], "a", 0, 10).unwrap(), vec![1.0, 4.0, 9.0]);
}

#[test]
fn an_unparseable_number_is_a_bad_row_naming_the_column() {
    let dir = project("unparseable");
    std::fs::write(dir.join("data.csv"), "a,b\n1,2\n3,4\n5,x7\n").unwrap();
    std::fs::write(dir.join("pipeline.mlp"), ingest_pipeline("  split = { all = 1 }\n  infer_rows = 2")).unwrap();
    let (code, steps, _) = run(&dir, &[]);
    assert_eq!(code, 1);
    let e = failure(&steps, "ingest");
    assert!(e.contains("data.csv:4:") && e.contains("x7"), "{e}");
}

#[test]
fn an_empty_file_a_missing_file_and_invalid_utf8_give_clear_errors() {
    let dir = project("bad-files");
    std::fs::write(dir.join("pipeline.mlp"), ingest_pipeline("  split = { all = 1 }")).unwrap();
    std::fs::write(dir.join("data.csv"), "").unwrap();
    let (code, steps, _) = run(&dir, &[]);
    assert_eq!(code, 1);
    assert!(failure(&steps, "ingest").contains("empty"), "{}", failure(&steps, "ingest"));

    std::fs::remove_file(dir.join("data.csv")).unwrap();
    let (code, steps, err) = run(&dir, &[]);
    assert_ne!(code, 0);
    let all = format!("{err}{}", steps.get("ingest").map(|s| s.to_string()).unwrap_or_default());
    assert!(all.contains("data.csv"), "{all}");

    std::fs::write(dir.join("data.csv"), b"a,b\n1,caf\xe9\n2,ok\n").unwrap();
    let (code, steps, _) = run(&dir, &[]);
    assert_eq!(code, 1);
    let e = failure(&steps, "ingest");
    assert!(e.contains("data.csv:2:") && e.to_lowercase().contains("utf-8"), "{e}");
}

#[test]
fn a_wrong_delimiter_is_pointed_out() {
    let dir = project("delimiter");
    std::fs::write(dir.join("data.csv"), "a;b;c\n1;2;3\n4;5;6\n").unwrap();
    std::fs::write(
        dir.join("pipeline.mlp"),
        format!("{STD}step ingest = tab.csv_examples {{\n  input = \"data.csv\"\n  split = {{ all = 1 }}\n  label = \"c\"\n  grant read \"data.csv\"\n}}\n"),
    )
    .unwrap();
    let (code, steps, _) = run(&dir, &[]);
    assert_eq!(code, 1);
    let e = failure(&steps, "ingest");
    assert!(e.contains("delimiter = \";\""), "{e}");
}

// ---- statistics, schema, validation, views ------------------------------------------------------

/// Writes span folders of the example taxi data under `dir/data`; spans from `drift_from` on
/// are the drifted variant.
fn taxi_spans(dir: &Path, rows: u64, spans: u64, drift_from: Option<u64>) {
    for span in 1..=spans {
        let d = dir.join("data").join(format!("span-{span}"));
        std::fs::create_dir_all(&d).unwrap();
        let mut out = Vec::new();
        let spec = mlp_example_data::Spec { rows, seed: span, drift: drift_from.is_some_and(|f| span >= f) };
        mlp_example_data::write_csv(spec, &mut out).unwrap();
        std::fs::write(d.join("trips.csv"), out).unwrap();
    }
}

/// The example's data pipeline, copied next to its sub-pipeline.
fn taxi_project(name: &str) -> PathBuf {
    let dir = project(name);
    for f in ["data.mlp", "describe.mlp"] {
        std::fs::copy(repo().join("examples/taxi").join(f), dir.join(if f == "data.mlp" { "pipeline.mlp" } else { f }))
            .unwrap();
    }
    dir
}

#[test]
fn the_drifted_span_is_flagged_on_trip_miles_and_payment_type_and_nothing_else() {
    let dir = taxi_project("drift");
    taxi_spans(&dir, 20_000, 2, Some(2));
    // Span 1 first, so the lineage store holds its statistics; then the latest (2).
    let (code, first, err) = run(&dir, &["--set", "span=1"]);
    assert_eq!(code, 0, "{err}");
    let (_, anomalies) = output(&dir, &first, "checks", "anomalies");
    let a: Anomalies = json_part(&anomalies, "anomalies.json");
    assert!(a.drift.is_empty(), "no previous span yet: {:?}", a.drift);

    let (code, second, err) = run(&dir, &[]);
    assert_eq!(code, 0, "{err}");
    let (_, anomalies) = output(&dir, &second, "checks", "anomalies");
    let a: Anomalies = json_part(&anomalies, "anomalies.json");
    let flagged: Vec<&str> = a.drift.iter().filter(|d| d.exceeded).map(|d| d.feature.as_str()).collect();
    assert_eq!(flagged, vec!["payment_type", "trip_miles"], "{:#?}", a.drift);
    assert_eq!(a.drift.len(), 7, "every column given a threshold is measured: {:#?}", a.drift);
    let codes: Vec<AnomalyCode> = a.anomalies.iter().map(|x| x.code).collect();
    assert!(codes.contains(&AnomalyCode::ComparatorLInftyHigh), "{codes:?}");
    assert!(codes.contains(&AnomalyCode::ComparatorJensenShannonDivergenceHigh), "{codes:?}");
    for d in &a.drift {
        if !d.exceeded {
            assert!(d.value < d.threshold / 2.0, "{} is close to its threshold: {d:?}", d.feature);
        }
    }

    // The terminal and HTML views of what was found.
    let id = second["checks"]["outputs"]["anomalies"]["digest"].as_str().unwrap();
    let shown = mlp(&["show", id], &dir);
    assert_eq!(shown.status.code(), Some(0), "{}", text(&shown.stderr));
    let shown = text(&shown.stdout);
    assert!(shown.contains("trip_miles") && shown.contains("payment_type"), "{shown}");
    let stats_id = second["desc/stats"]["outputs"]["out"]["digest"].as_str().unwrap();
    let prev_id = first["desc/stats"]["outputs"]["out"]["digest"].as_str().unwrap();
    let html = mlp(&["show", stats_id, "--html", "stats.html", "--against", prev_id], &dir);
    assert_eq!(html.status.code(), Some(0), "{}", text(&html.stderr));
    let page = std::fs::read_to_string(dir.join("stats.html")).unwrap();
    assert!(page.contains("<svg") && page.contains("trip_miles") && page.contains("payment_type"));
}

/// Mean, population standard deviation, min, max, count and missing of a numeric CSV column.
fn numeric_column(rows: &[Vec<String>], idx: usize) -> (f64, f64, f64, f64, u64, u64) {
    let vals: Vec<f64> = rows.iter().filter(|r| !r[idx].is_empty()).map(|r| r[idx].parse().unwrap()).collect();
    let n = vals.len() as f64;
    let mean = vals.iter().sum::<f64>() / n;
    let var = vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let min = vals.iter().copied().fold(f64::INFINITY, f64::min);
    let max = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (mean, var.sqrt(), min, max, vals.len() as u64, (rows.len() - vals.len()) as u64)
}

#[test]
fn statistics_agree_with_an_independent_computation_of_the_csv() {
    let dir = project("stats");
    let mut csv = Vec::new();
    mlp_example_data::write_csv(mlp_example_data::Spec { rows: 30_000, seed: 11, drift: false }, &mut csv).unwrap();
    std::fs::write(dir.join("data.csv"), &csv).unwrap();
    std::fs::write(
        dir.join("pipeline.mlp"),
        format!(
            "{}step stats = tab.statistics {{ examples = ingest.out, top_k = 5 }}\n",
            ingest_pipeline("  split = { all = 1 }")
        ),
    )
    .unwrap();
    let (code, steps, err) = run(&dir, &[]);
    assert_eq!(code, 0, "{err}");
    let (_, data) = output(&dir, &steps, "stats", "out");
    let stats: Statistics = json_part(&data, "statistics.json");
    let all = stats.split("all").unwrap();
    assert_eq!(all.num_examples, 30_000);

    // The independent computation, over the records as the `csv` crate reads them.
    let mut reader = csv::Reader::from_reader(csv.as_slice());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let rows: Vec<Vec<String>> = reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
    assert_eq!(rows.len(), 30_000);
    for name in ["fare", "trip_miles", "trip_seconds", "pickup_community_area", "tips"] {
        let idx = header.iter().position(|h| *h == name).unwrap();
        let (mean, std, min, max, count, missing) = numeric_column(&rows, idx);
        let f = all.feature(name).unwrap();
        let n = f.numeric.as_ref().unwrap();
        assert_eq!((f.count, f.missing), (count, missing), "{name}");
        assert!((n.mean - mean).abs() <= 1e-9 * mean.abs().max(1.0), "{name}: mean {} vs {mean}", n.mean);
        assert!((n.std_dev - std).abs() <= 1e-9 * std.max(1.0), "{name}: std {} vs {std}", n.std_dev);
        assert_eq!((n.min, n.max), (min, max), "{name}");
        // The median within the sketch's rank error.
        let mut sorted: Vec<f64> =
            rows.iter().filter(|r| !r[idx].is_empty()).map(|r| r[idx].parse().unwrap()).collect();
        sorted.sort_by(f64::total_cmp);
        let rank = sorted.partition_point(|v| *v < n.median) as f64 / sorted.len() as f64;
        let rank_hi = sorted.partition_point(|v| *v <= n.median) as f64 / sorted.len() as f64;
        assert!(
            rank - n.rank_error <= 0.5 && 0.5 <= rank_hi + n.rank_error,
            "{name}: median {} at rank {rank}..{rank_hi}",
            n.median
        );
    }
    for name in ["payment_type", "company"] {
        let idx = header.iter().position(|h| *h == name).unwrap();
        let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
        for r in &rows {
            if !r[idx].is_empty() {
                *counts.entry(&r[idx]).or_default() += 1;
            }
        }
        let mut top: Vec<(&str, u64)> = counts.iter().map(|(k, v)| (*k, *v)).collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        top.truncate(5);
        let s = all.feature(name).unwrap().string.as_ref().unwrap();
        let got: Vec<(&str, u64)> = s.top.iter().map(|v| (v.value.as_str(), v.count)).collect();
        assert_eq!(got, top, "{name}");
        assert_eq!(s.distinct, counts.len() as u64, "{name}");
        assert!(s.distinct_exact);
    }
    // The TFDV export carries the same numbers.
    let tfdv: serde_json::Value = json_part(&data, "tfdv.json");
    assert_eq!(tfdv["datasets"][0]["numExamples"], "30000");
}

#[test]
fn an_inferred_schema_can_be_pinned_edited_and_diffed() {
    let dir = project("schema");
    std::fs::write(dir.join("data.csv"), "city,fare,label\nA,1.5,1\nB,2.5,0\nA,3.0,1\n").unwrap();
    std::fs::write(
        dir.join("pipeline.mlp"),
        format!(
            "{}step stats = tab.statistics {{ examples = ingest.out }}\nstep schema = tab.infer_schema {{ stats = stats.out, split = \"all\", not_at_serving = [\"label\"] }}\n",
            ingest_pipeline("  split = { all = 1 }")
        ),
    )
    .unwrap();
    let (code, steps, err) = run(&dir, &[]);
    assert_eq!(code, 0, "{err}");
    let (digest, data) = output(&dir, &steps, "schema", "out");
    let schema: Schema = json_part(&data, "schema.json");
    let city = schema.feature("city").unwrap();
    assert_eq!(city.domain, Some(mlp_data::schema::Domain::Strings { values: vec!["A".into(), "B".into()] }));
    assert_eq!(schema.feature("label").unwrap().not_in_environment, vec!["SERVING".to_string()]);

    // Edit the schema by hand: a new allowed city. The diff names exactly that change.
    let mut edited = schema.clone();
    if let Some(mlp_data::schema::Domain::Strings { values }) =
        edited.features.iter_mut().find(|f| f.name == "city").and_then(|f| f.domain.as_mut())
    {
        values.push("C".into());
    }
    std::fs::write(dir.join("schema.json"), serde_json::to_string_pretty(&edited).unwrap()).unwrap();
    let diff = mlp(&["schema", "diff", &digest, "schema.json"], &dir);
    assert_eq!(diff.status.code(), Some(1), "{}", text(&diff.stderr));
    let out = text(&diff.stdout);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains("city") && out.contains("\"C\""), "{out}");
    let same = mlp(&["schema", "diff", &digest, &digest], &dir);
    assert_eq!(same.status.code(), Some(0));

    // A hand-written schema with a mistake is refused with its line.
    std::fs::write(
        dir.join("bad.json"),
        "{\n  \"format\": 1,\n  \"features\": [\n    {\"name\": \"x\", \"type\": \"floaty\"}\n  ]\n}\n",
    )
    .unwrap();
    let bad = mlp(&["schema", "diff", &digest, "bad.json"], &dir);
    assert_ne!(bad.status.code(), Some(0));
    assert!(text(&bad.stderr).contains("line 4"), "{}", text(&bad.stderr));
}

#[test]
fn json_lines_and_parquet_inputs_read_like_csv() {
    let dir = project("formats");
    std::fs::write(
        dir.join("data.jsonl"),
        "{\"city\": \"A\", \"fare\": 1.5, \"trip\": {\"miles\": 2}}\n{\"city\": \"B\", \"fare\": 2}\nnot json\n\n{\"city\": \"A\", \"fare\": 3.5, \"trip\": {\"miles\": 4}}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("pipeline.mlp"),
        format!(
            "{STD}step ingest = tab.jsonl_examples {{\n  input = \"data.jsonl\"\n  split = {{ all = 1 }}\n  bad_rows = \"skip\"\n  grant read \"data.jsonl\"\n}}\n"
        ),
    )
    .unwrap();
    let (code, steps, err) = run(&dir, &[]);
    assert_eq!(code, 0, "{err}");
    let logs = steps["ingest"]["events"].to_string();
    assert!(logs.contains("data.jsonl:3:"), "{logs}");
    let (digest, data) = output(&dir, &steps, "ingest", "out");
    assert_eq!(data.properties["bad_rows"], serde_json::json!(1));
    let all = &tables(&data)["all"];
    assert_eq!(mlp_kernels::read_f64(all, "fare", 0, 10).unwrap(), vec![1.5, 2.0, 3.5]);
    let miles = mlp_kernels::read_f64(all, "trip_miles", 0, 10).unwrap();
    assert_eq!((miles[0], miles[2]), (2.0, 4.0));
    assert!(miles[1].is_nan(), "a missing nested value is null");

    // The same rows as Parquet, exported from the store, read back by parquet_examples.
    let export = mlp(&["artifacts", "export", &digest, "exported", "--format", "parquet"], &dir);
    assert_eq!(export.status.code(), Some(0), "{}", text(&export.stderr));
    let file = std::fs::read_dir(dir.join("exported")).unwrap().next().unwrap().unwrap().path();
    std::fs::write(
        dir.join("pipeline.mlp"),
        format!(
            "{STD}step ingest = tab.parquet_examples {{\n  input = \"{f}\"\n  split = {{ all = 1 }}\n  grant read \"{f}\"\n}}\n",
            f = file.display()
        ),
    )
    .unwrap();
    let (code, steps, err) = run(&dir, &[]);
    assert_eq!(code, 0, "{err}");
    let (_, data) = output(&dir, &steps, "ingest", "out");
    let back = &tables(&data)["all"];
    assert_eq!(mlp_kernels::read_f64(back, "fare", 0, 10).unwrap(), vec![1.5, 2.0, 3.5]);
    assert_eq!(
        mlp_kernels::read_utf8(back, "city", 0, 10).unwrap(),
        vec![Some("A".into()), Some("B".into()), Some("A".into())]
    );

    // Bytes that are not Parquet.
    std::fs::write(&file, b"PAR1 but not really").unwrap();
    let (code, steps, _) = run(&dir, &[]);
    assert_eq!(code, 1);
    let e = failure(&steps, "ingest");
    assert!(e.contains(&file.display().to_string()), "{e}");
}

#[test]
fn spans_pick_the_latest_the_previous_a_number_a_range_and_the_highest_version() {
    let dir = project("spans");
    let write = |rel: &str, rows: usize| {
        let p = dir.join("data").join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let mut s = String::from("x\n");
        for i in 0..rows {
            s.push_str(&format!("{i}\n"));
        }
        std::fs::write(p, s).unwrap();
    };
    write("span-1/a.csv", 1);
    write("span-2/version-1/a.csv", 2);
    write("span-2/version-3/a.csv", 3);
    write("span-10/a.csv", 10);
    write("span-10/b.csv", 5);
    std::fs::write(
        dir.join("pipeline.mlp"),
        format!(
            "{STD}param span: string = \"latest\"\nstep ingest = tab.csv_examples {{\n  input = \"data\"\n  span = span\n  split = {{ all = 1 }}\n  grant read \"data\"\n}}\n"
        ),
    )
    .unwrap();
    let rows_of = |span: &str| -> (i32, serde_json::Value, String) {
        let (code, steps, err) = run(&dir, &["--set", &format!("span={span}")]);
        if code != 0 {
            return (code, serde_json::Value::Null, format!("{err}{}", failure(&steps, "ingest")));
        }
        let (_, data) = output(&dir, &steps, "ingest", "out");
        let p = &data.properties;
        (code, serde_json::json!([p["rows"], p["spans"], p["versions"]]), String::new())
    };
    assert_eq!(rows_of("latest").1, serde_json::json!([15, [10], [null]]));
    assert_eq!(rows_of("previous").1, serde_json::json!([3, [2], [3]]));
    assert_eq!(rows_of("1").1, serde_json::json!([1, [1], [null]]));
    assert_eq!(rows_of("1..2").1, serde_json::json!([4, [1, 2], [null, 3]]));
    assert_eq!(rows_of("all").1, serde_json::json!([19, [1, 2, 10], [null, 3, null]]));
    let (code, _, e) = rows_of("7");
    assert_eq!(code, 1);
    assert!(e.contains("no span matching") && e.contains("span-1, span-2, span-10"), "{e}");
    let (code, _, e) = rows_of("soon");
    assert_eq!(code, 1);
    assert!(e.contains("\"3..5\""), "{e}");
}

#[test]
fn a_pinned_schema_reports_new_values_and_missing_columns_and_can_stop_the_pipeline() {
    let dir = project("pinned");
    std::fs::write(dir.join("data.csv"), "city,fare\nA,1.0\nC,2.0\nC,3.0\n").unwrap();
    std::fs::write(
        dir.join("schema.json"),
        r#"{
  "format": 1,
  "features": [
    { "name": "city", "type": "string", "presence": { "min_fraction": 1.0 },
      "domain": { "kind": "strings", "values": ["A", "B"] } },
    { "name": "fare", "type": "float", "presence": { "min_fraction": 1.0 } },
    { "name": "tips", "type": "float", "presence": { "min_fraction": 1.0 } }
  ]
}
"#,
    )
    .unwrap();
    let pipeline = |strict: bool| {
        format!(
            "{}step stats = tab.statistics {{ examples = ingest.out }}\nstep pinned = tab.import_schema {{\n  file = \"schema.json\"\n  grant read \"schema.json\"\n}}\nstep checks = tab.validate {{ stats = stats.out, schema = pinned.out, fail_on_anomalies = {strict} }}\n",
            ingest_pipeline("  split = { all = 1 }")
        )
    };
    std::fs::write(dir.join("pipeline.mlp"), pipeline(false)).unwrap();
    let (code, steps, err) = run(&dir, &[]);
    assert_eq!(code, 0, "{err}");
    let (_, data) = output(&dir, &steps, "checks", "anomalies");
    let a: Anomalies = json_part(&data, "anomalies.json");
    let found: Vec<(AnomalyCode, &str)> = a.anomalies.iter().map(|x| (x.code, x.feature.as_str())).collect();
    assert_eq!(
        found,
        [(AnomalyCode::EnumTypeUnexpectedStringValues, "city"), (AnomalyCode::SchemaMissingColumn, "tips")]
    );
    assert!(a.anomalies[0].description.contains("\"C\""), "{}", a.anomalies[0].description);
    assert_eq!(data.properties["errors"], serde_json::json!(2));

    // Set to stop on anomalies: the step fails with the list, and so does the run.
    std::fs::write(dir.join("pipeline.mlp"), pipeline(true)).unwrap();
    let (code, steps, _) = run(&dir, &[]);
    assert_eq!(code, 1);
    let e = failure(&steps, "checks");
    assert!(e.contains("2 anomalies found") && e.contains("city:") && e.contains("tips:"), "{e}");
}

/// Regression: steps that read granted files hung forever once they filled every worker of
/// the executor (at `-j 1` any such step; at `-j 2` two of them at once), because WASI's
/// filesystem calls wait for a thread of the same pool.
#[test]
fn steps_reading_granted_files_do_not_deadlock_when_they_fill_every_worker() {
    let dir = project("deadlock");
    std::fs::write(dir.join("a.csv"), "x\n1\n2\n").unwrap();
    std::fs::write(dir.join("b.csv"), "y\n3\n").unwrap();
    std::fs::write(
        dir.join("pipeline.mlp"),
        format!(
            "{STD}step a = tab.csv_examples {{\n  input = \"a.csv\"\n  split = {{ all = 1 }}\n  grant read \"a.csv\"\n}}\nstep b = tab.csv_examples {{\n  input = \"b.csv\"\n  split = {{ all = 1 }}\n  grant read \"b.csv\"\n}}\n"
        ),
    )
    .unwrap();
    for jobs in ["1", "2"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mlp"))
            .args(["run", "pipeline.mlp", "--no-cache", "-j", jobs])
            .current_dir(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                break None;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        assert_eq!(status.and_then(|s| s.code()), Some(0), "-j {jobs}: the run did not finish");
    }
}

#[test]
fn skew_between_training_and_serving_data_is_measured_per_column() {
    let dir = project("skew");
    let mut train = String::from("city,fare,label\n");
    let mut serving = String::from("city,fare\n");
    for i in 0..400 {
        train.push_str(&format!("{},{}.0,{}\n", if i % 2 == 0 { "A" } else { "B" }, i % 40, i % 2));
        // Serving: the same fares, but the cities 90% A.
        serving.push_str(&format!("{},{}.0\n", if i % 10 == 0 { "B" } else { "A" }, i % 40));
    }
    std::fs::write(dir.join("train.csv"), train).unwrap();
    std::fs::write(dir.join("serving.csv"), serving).unwrap();
    std::fs::write(
        dir.join("pipeline.mlp"),
        format!(
            "{STD}step train = tab.csv_examples {{\n  input = \"train.csv\"\n  split = {{ train = 1 }}\n  grant read \"train.csv\"\n}}\nstep serve = tab.csv_examples {{\n  input = \"serving.csv\"\n  split = {{ serving = 1 }}\n  grant read \"serving.csv\"\n}}\nstep train_stats = tab.statistics {{ examples = train.out }}\nstep serve_stats = tab.statistics {{ examples = serve.out }}\nstep schema = tab.infer_schema {{ stats = train_stats.out, not_at_serving = [\"label\"] }}\nstep skew = tab.validate {{\n  stats = train_stats.out\n  schema = schema.out\n  serving = serve_stats.out\n  skew = {{ city = 0.1, fare = 0.1 }}\n  fail_on_anomalies = false\n}}\n"
        ),
    )
    .unwrap();
    let (code, steps, err) = run(&dir, &[]);
    assert_eq!(code, 0, "{err}");
    let (_, data) = output(&dir, &steps, "skew", "anomalies");
    let a: Anomalies = json_part(&data, "anomalies.json");
    let skew: Vec<(&str, bool)> = a.skew.iter().map(|d| (d.feature.as_str(), d.exceeded)).collect();
    assert_eq!(skew, [("city", true), ("fare", false)], "{:#?}", a.skew);
    // L-infinity: A is 50% in training and 90% at serving.
    assert!((a.skew[0].value - 0.4).abs() < 1e-9, "{:?}", a.skew[0]);
    assert_eq!(a.anomalies.iter().map(|x| x.code).collect::<Vec<_>>(), [AnomalyCode::ComparatorLInftyHigh]);
}

#[test]
fn a_pattern_finds_spans_and_versions_in_file_and_folder_names() {
    let dir = project("pattern");
    let write = |rel: &str, rows: usize| {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, format!("x\n{}", (0..rows).map(|i| format!("{i}\n")).collect::<String>())).unwrap();
    };
    write("flat/trips-1.csv", 1);
    write("flat/trips-2.csv", 2);
    write("flat/trips-12.csv", 12);
    write("flat/notes.csv", 7);
    write("nested/1/v1/a.csv", 1);
    write("nested/1/v2/a.csv", 2);
    write("nested/1/v2/b.csv", 3);
    write("nested/2/v1/a.csv", 4);
    let check = |input: &str, pattern: &str, span: &str| -> (i32, serde_json::Value, String) {
        std::fs::write(
            dir.join("pipeline.mlp"),
            format!(
                "{STD}step ingest = tab.csv_examples {{\n  input = \"{input}\"\n  pattern = \"{pattern}\"\n  span = \"{span}\"\n  split = {{ all = 1 }}\n  grant read \"{input}\"\n}}\n"
            ),
        )
        .unwrap();
        let (code, steps, err) = run(&dir, &[]);
        if code != 0 {
            return (code, serde_json::Value::Null, format!("{err}{}", failure(&steps, "ingest")));
        }
        let (_, data) = output(&dir, &steps, "ingest", "out");
        let p = &data.properties;
        (code, serde_json::json!([p["rows"], p["spans"], p["versions"], p["files"]]), String::new())
    };
    assert_eq!(check("flat", "trips-{SPAN}.csv", "latest").1, serde_json::json!([12, [12], [null], 1]));
    assert_eq!(check("flat", "trips-{SPAN}.csv", "all").1, serde_json::json!([15, [1, 2, 12], [null, null, null], 3]));
    assert_eq!(check("nested", "{SPAN}/v{VERSION}/*.csv", "1").1, serde_json::json!([5, [1], [2], 2]));
    assert_eq!(check("nested", "{SPAN}/v{VERSION}/*.csv", "previous").1, serde_json::json!([5, [1], [2], 2]));
    let (code, _, e) = check("flat", "trips.csv", "latest");
    assert_eq!(code, 1);
    assert!(e.contains("has no `{SPAN}`"), "{e}");
    let (code, _, e) = check("flat", "day-{SPAN}.csv", "latest");
    assert_eq!(code, 1);
    assert!(e.contains("no file under") && e.contains("day-{SPAN}.csv"), "{e}");
}
