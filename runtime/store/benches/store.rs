//! Benchmarks of the run store: recording executions (each state change its own transaction),
//! lineage queries and cache lookups in a store of 10k executions, and artifact throughput
//! (digest, put with fsync, get with verification) on a 1M-row table.
//!
//! Run with `cargo bench -p mlp-store --bench store`. Figures are medians of several runs of
//! each measurement; on a shared machine trust ratios more than absolutes.

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use mlp_kernels::data::{ArtifactData, Part, Table};
use mlp_store::artifacts::{ArtifactStore, ExportFormat, StoredArtifact};
use mlp_store::lineage::{ExecutionSpec, LineageStore};
use mlp_store::{ArtifactId, artifact_digest};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time<T>(n: usize, mut f: impl FnMut() -> T) -> Duration {
    median(
        (0..n)
            .map(|_| {
                let t = Instant::now();
                black_box(f());
                t.elapsed()
            })
            .collect(),
    )
}

/// A stored artifact as the lineage store sees it, without files (the lineage store never
/// reads them).
fn fake_stored(i: usize, artifact_type: &str) -> StoredArtifact {
    let digest = format!("blake3:{i:064x}");
    StoredArtifact {
        uri: format!("artifacts/{}/{}", &digest[7..9], &digest[7..]),
        path: Default::default(),
        digest,
        artifact_type: artifact_type.into(),
        properties: BTreeMap::from([("span".to_string(), serde_json::json!(i))]),
        parts: BTreeMap::new(),
        newly_written: true,
    }
}

fn spec<'a>(step: &'a str, inputs: &'a [(&'a str, ArtifactId)], key: &'a str) -> ExecutionSpec<'a> {
    ExecutionSpec {
        step,
        component: "components.mlp#c",
        component_digest: "blake3:c",
        parameters: r#"{"alpha": 0.5, "columns": ["a", "b"]}"#,
        cache_key: Some(key),
        attempt: 1,
        inputs,
    }
}

const STEPS: [&str; 10] =
    ["ingest", "stats", "schema", "validate", "transform", "train", "tune", "eval", "bless", "push"];

/// `runs` runs of a 10-step pipeline in which step k reads the outputs of steps k-1 and k-2;
/// each step's output has its own artifact type.
/// Returns the last artifact of the last run.
fn populate(lineage: &mut LineageStore, runs: usize) -> ArtifactId {
    let mut n = 0;
    let mut last = ArtifactId(0);
    for r in 0..runs {
        let run = lineage.begin_run("bench", &serde_json::json!({"r": r})).unwrap();
        let mut outs: Vec<ArtifactId> = Vec::new();
        for step in STEPS {
            let inputs: Vec<(&str, ArtifactId)> = outs.iter().rev().take(2).map(|a| ("in", *a)).collect();
            let key = format!("key-{n}");
            let x = lineage.start_execution(run, &spec(step, &inputs, &key)).unwrap();
            let stored = fake_stored(n, &format!("T_{step}"));
            last = lineage.complete_execution(x, &[("out", &stored)]).unwrap()[0];
            outs.push(last);
            n += 1;
        }
        lineage.finish_run(run, mlp_store::lineage::RunState::Complete).unwrap();
    }
    last
}

fn table(rows: usize) -> Table {
    let batch = RecordBatch::try_from_iter([
        ("id", Arc::new(Int64Array::from_iter_values(0..rows as i64)) as ArrayRef),
        ("fare", Arc::new(Float64Array::from_iter((0..rows).map(|i| (i % 10 != 0).then_some(i as f64 * 0.5))))),
        ("name", Arc::new(StringArray::from_iter_values((0..rows).map(|i| format!("zone-{}", i % 263))))),
    ])
    .unwrap();
    let step = rows / 8;
    let batches = (0..8).map(|i| batch.slice(i * step, step)).collect();
    Table::new(batch.schema(), batches).unwrap()
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(".mlp");
    let mut lineage = LineageStore::open(&root).unwrap();

    // Recording: start + complete with one output = two transactions per execution.
    let t = Instant::now();
    let last = populate(&mut lineage, 1000);
    let per_exec = t.elapsed() / 10_000;
    println!(
        "record an execution (start + complete, 2 transactions), mean over 10k: {:.1} us ({:.0}/s)",
        per_exec.as_secs_f64() * 1e6,
        1.0 / per_exec.as_secs_f64()
    );

    // The same, one at a time: medians, so without the WAL checkpoints (which fsync) that the
    // mean above includes.
    let run = lineage.begin_run("probe", &serde_json::json!({})).unwrap();
    let mut n = 1_000_000;
    let keys: Vec<String> = (0..500).map(|j| format!("probe-{j}")).collect();
    let mut started = Vec::new();
    let start = time(500, || {
        let x = lineage.start_execution(run, &spec("probe", &[], &keys[started.len()])).unwrap();
        started.push(x);
    });
    let mut pending = started.into_iter();
    let complete = time(500, || {
        n += 1;
        lineage.complete_execution(pending.next().unwrap(), &[("out", &fake_stored(n, "T_probe"))]).unwrap()
    });
    lineage.finish_run(run, mlp_store::lineage::RunState::Complete).unwrap();
    println!(
        "  median start_execution: {:.1} us, complete_execution (one output): {:.1} us",
        start.as_secs_f64() * 1e6,
        complete.as_secs_f64() * 1e6
    );

    // Queries on 10k executions, with the statistics of a fresh database (taken when it was
    // empty), then after reopening (PRAGMA optimize on close and open).
    for label in ["fresh db, stale statistics", "after reopen (optimize)"] {
        let up = time(200, || lineage.upstream(last).unwrap());
        let down = time(200, || lineage.downstream(ArtifactId(1)).unwrap());
        let hit = time(2000, || lineage.lookup_cache("key-5000").unwrap().unwrap());
        let latest = time(200, || lineage.latest_artifact("bench", "T_train").unwrap().unwrap());
        let run = time(200, || lineage.run(mlp_store::RunId(500)).unwrap());
        println!("10k executions, {label}:");
        println!("  upstream of a run's last artifact (10 steps):  {:>8.1} us", up.as_secs_f64() * 1e6);
        println!("  downstream of the first artifact (10 steps):  {:>8.1} us", down.as_secs_f64() * 1e6);
        println!("  lookup_cache:                                  {:>8.1} us", hit.as_secs_f64() * 1e6);
        println!("  latest_artifact (1k of its type, 10k in all):  {:>8.1} us", latest.as_secs_f64() * 1e6);
        println!("  run detail (10 executions with events):        {:>8.1} us", run.as_secs_f64() * 1e6);
        drop(lineage);
        lineage = LineageStore::open(&root).unwrap();
    }

    // A 10k-long chain: upstream walks every execution.
    let chain_root = dir.path().join("chain");
    let mut chain = LineageStore::open(&chain_root).unwrap();
    let run = chain.begin_run("chain", &serde_json::json!({})).unwrap();
    let mut prev: Option<ArtifactId> = None;
    for i in 0..10_000 {
        let inputs: Vec<(&str, ArtifactId)> = prev.iter().map(|a| ("in", *a)).collect();
        let key = format!("k{i}");
        let x = chain.start_execution(run, &spec("s", &inputs, &key)).unwrap();
        prev = Some(chain.complete_execution(x, &[("out", &fake_stored(i, "Examples"))]).unwrap()[0]);
    }
    let deep = time(5, || chain.upstream(prev.unwrap()).unwrap());
    println!("upstream through a 10k-execution chain (whole graph): {:>8.1} ms", deep.as_secs_f64() * 1e3);

    // Artifacts: 1M rows x 3 columns in 8 batches.
    let artifacts = ArtifactStore::open(&root).unwrap();
    let t = table(1_000_000);
    let mut data = ArtifactData { artifact_type: "Examples".into(), ..Default::default() };
    data.parts.insert("train".into(), Part::Table(t));
    let digest = time(5, || artifact_digest(&data));
    let mut i = 0;
    let put = time(5, || {
        // Distinct content each time, so each put writes.
        i += 1;
        data.properties.insert("i".into(), serde_json::json!(i));
        artifacts.put(&data).unwrap()
    });
    let stored = artifacts.put(&data).unwrap();
    let mb = stored.bytes() as f64 / 1e6;
    let get = time(5, || artifacts.get(&stored.digest).unwrap());
    let verify = time(5, || artifacts.verify(&stored.digest).unwrap());
    let again = time(5, || artifacts.put(&data).unwrap());
    let out = dir.path().join("export");
    let parquet = time(3, || artifacts.export(&stored.digest, &out, ExportFormat::Parquet).unwrap());
    let csv = time(3, || artifacts.export(&stored.digest, &out, ExportFormat::Csv).unwrap());
    println!("1M-row table ({mb:.1} MB as an Arrow IPC file):");
    let rate = |d: Duration| mb / d.as_secs_f64();
    println!("  digest:                  {:>7.1} ms  ({:>6.0} MB/s)", digest.as_secs_f64() * 1e3, rate(digest));
    println!("  put (digest, write, fsync, rename): {:>7.1} ms  ({:>6.0} MB/s)", put.as_secs_f64() * 1e3, rate(put));
    println!("  put of stored content:   {:>7.1} ms", again.as_secs_f64() * 1e3);
    println!("  get (read, BLAKE3, decode): {:>7.1} ms  ({:>6.0} MB/s)", get.as_secs_f64() * 1e3, rate(get));
    println!("  verify:                  {:>7.1} ms  ({:>6.0} MB/s)", verify.as_secs_f64() * 1e3, rate(verify));
    println!("  export parquet (snappy): {:>7.1} ms", parquet.as_secs_f64() * 1e3);
    println!("  export csv:              {:>7.1} ms", csv.as_secs_f64() * 1e3);
}
