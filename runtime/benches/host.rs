//! Benchmarks of the wasmtime host: loading a precompiled component, instantiating plus a
//! trivial run, one guest-to-host call, a time limit's overshoot, and a statistics kernel on
//! 1M rows called from a guest against the same kernel called directly from Rust.
//!
//! Run with `cargo bench -p mlp-runtime --bench host`. Figures are medians; the comparisons are
//! measured side by side in one run and reported as ratios (docs/benchmarks.md).

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use mlp_kernels::data::{ArtifactData, Part, Table};
use mlp_lang::ir::Value;
use mlp_runtime::host::{Host, HostConfig, InputArtifact, StepRun};
use mlp_runtime::run::params_json;
use std::collections::BTreeMap;
use std::path::Path;
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
                std::hint::black_box(f());
                t.elapsed()
            })
            .collect(),
    )
}

fn probe_run(mode: &str, n: i64, input: Option<InputArtifact>) -> StepRun {
    let mut params = BTreeMap::new();
    params.insert("mode".to_string(), Value::String(mode.into()));
    params.insert("n".to_string(), Value::Int(n));
    StepRun {
        step_id: format!("probe_{mode}"),
        params_json: params_json(&params, Path::new("/")),
        inputs: input.map(|a| [("examples".to_string(), a)].into()).unwrap_or_default(),
        outputs: [("out".to_string(), ("Statistics".to_string(), true))].into(),
        ..StepRun::default()
    }
}

fn table_1m() -> Table {
    let n = 1_000_000usize;
    let cols: Vec<(&str, ArrayRef)> = vec![
        ("x", Arc::new(Float64Array::from_iter_values((0..n).map(|i| i as f64 * 0.001)))),
        (
            "y",
            Arc::new(Float64Array::from_iter((0..n).map(|i| if i % 4 == 0 { None } else { Some((i % 1000) as f64) }))),
        ),
        ("k", Arc::new(Int64Array::from_iter_values((0..n).map(|i| (i % 7) as i64)))),
        ("s", Arc::new(StringArray::from_iter_values((0..n).map(|i| ["a", "bb", "ccc"][i % 3])))),
    ];
    Table::from_batch(RecordBatch::try_from_iter(cols).unwrap())
}

fn main() {
    let cache = std::env::temp_dir().join(format!("mlp-bench-host-{}", std::process::id()));
    let host = Host::new(HostConfig { cache_dir: Some(cache.clone()), ..HostConfig::default() }).unwrap();
    println!("pooling allocator: {}", host.pooling());
    let probe = mlp_guests::component("probe");

    let compile = time(5, || {
        let h = Host::new(HostConfig { cache_dir: None, ..HostConfig::default() }).unwrap();
        h.load(&probe, None).unwrap();
    });
    println!("compile + check + describe (no cache):  {:>10.1} ms", compile.as_secs_f64() * 1e3);

    host.load(&probe, None).unwrap();
    let load = time(200, || {
        host.forget_loaded();
        host.load(&probe, None).unwrap()
    });
    println!("precompiled load + check + describe:    {:>10.1} µs", load.as_secs_f64() * 1e6);

    let c = host.load(&probe, None).unwrap();
    let noop = time(2000, || host.run(&c, probe_run("noop", 0, None)).unwrap());
    println!("instantiate + trivial run:              {:>10.1} µs", noop.as_secs_f64() * 1e6);

    let calls = 1_000_000;
    let base = time(20, || host.run(&c, probe_run("calls", 0, None)).unwrap());
    let many = time(20, || host.run(&c, probe_run("calls", calls, None)).unwrap());
    let per_call = (many.saturating_sub(base)).as_secs_f64() / calls as f64;
    println!("guest-to-host call:                     {:>10.1} ns", per_call * 1e9);

    let table = table_1m();
    let columns: Vec<String> = mlp_kernels::fields(&table).into_iter().map(|f| f.0).collect();
    let mut data = ArtifactData { artifact_type: "Examples".into(), ..ArtifactData::default() };
    data.parts.insert("train".into(), Part::Table(table.clone()));
    let input = InputArtifact { data: Arc::new(data), digest: "blake3:bench".into() };
    // Interleave the two so that load on the machine hits both alike.
    let (mut guest, mut direct) = (Vec::new(), Vec::new());
    for _ in 0..30 {
        let t = Instant::now();
        let out = host.run(&c, probe_run("stats", 0, Some(input.clone()))).unwrap();
        guest.push(t.elapsed());
        std::hint::black_box(out);
        let t = Instant::now();
        let mut total = 0.0;
        for col in &columns {
            total += mlp_kernels::column_stats(&table, col).unwrap().mean.unwrap_or(0.0);
        }
        direct.push(t.elapsed());
        std::hint::black_box(total);
    }
    let (g, d) = (median(guest), median(direct));
    println!(
        "column stats, 1M rows x 4 columns:      guest {:.2} ms, direct {:.2} ms, ratio {:.3}",
        g.as_secs_f64() * 1e3,
        d.as_secs_f64() * 1e3,
        g.as_secs_f64() / d.as_secs_f64()
    );

    let hostile = host.load(&mlp_guests::component("hostile"), None).unwrap();
    let limit = Duration::from_millis(200);
    let overshoot = time(5, || {
        let mut params = BTreeMap::new();
        params.insert("attack".to_string(), Value::String("loop".into()));
        let run = StepRun {
            step_id: "loop".into(),
            params_json: params_json(&params, Path::new("/")),
            outputs: [("out".to_string(), ("Examples".to_string(), false))].into(),
            time_limit: Some(limit),
            ..StepRun::default()
        };
        host.run(&hostile, run).unwrap_err()
    });
    println!(
        "infinite loop stopped after:            {:>10.1} ms (limit 200 ms, ratio {:.2})",
        overshoot.as_secs_f64() * 1e3,
        overshoot.as_secs_f64() / limit.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&cache);
}
