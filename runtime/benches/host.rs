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

    let on_demand =
        Host::new(HostConfig { cache_dir: Some(cache.clone()), pooling: false, ..HostConfig::default() }).unwrap();
    let c2 = on_demand.load(&probe, None).unwrap();
    let noop2 = time(2000, || on_demand.run(&c2, probe_run("noop", 0, None)).unwrap());
    println!("  the same without the pooling allocator: {:>10.1} µs", noop2.as_secs_f64() * 1e6);
    drop(on_demand);

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
    // The kernel called from the guest, `REPS` passes over the columns in one step, less the
    // same step with no pass (instantiation, inputs, schema), against the same kernel called
    // directly. Interleaved, alternating which goes first, so that load on the machine and
    // cache state hit both alike.
    const REPS: i64 = 10;
    let (mut guest, mut empty, mut direct) = (Vec::new(), Vec::new(), Vec::new());
    let run_guest = |reps: i64, into: &mut Vec<Duration>| {
        let t = Instant::now();
        let out = host.run(&c, probe_run("stats", reps, Some(input.clone()))).unwrap();
        into.push(t.elapsed());
        std::hint::black_box(out);
    };
    let run_direct = |direct: &mut Vec<Duration>| {
        let t = Instant::now();
        let mut total = 0.0;
        for _ in 0..REPS {
            for col in &columns {
                total += mlp_kernels::column_stats(&table, col).unwrap().mean.unwrap_or(0.0);
            }
        }
        direct.push(t.elapsed());
        std::hint::black_box(total);
    };
    for i in 0..20 {
        if i % 2 == 0 {
            run_guest(REPS, &mut guest);
            run_direct(&mut direct);
        } else {
            run_direct(&mut direct);
            run_guest(REPS, &mut guest);
        }
        run_guest(0, &mut empty);
    }
    let per_call = |d: Duration| d.as_secs_f64() / (REPS as f64 * columns.len() as f64);
    let (g, e, d) = (median(guest), median(empty), median(direct));
    let from_guest = per_call(g.saturating_sub(e));
    let direct_call = per_call(d);
    println!(
        "column stats kernel, 1M rows:           from guest {:.3} ms, direct {:.3} ms, ratio {:.3}",
        from_guest * 1e3,
        direct_call * 1e3,
        from_guest / direct_call
    );
    let fixed = time(200, || host.run(&c, probe_run("stats", 0, Some(input.clone()))).unwrap());
    println!(
        "the same step without kernel calls:     {:>10.1} µs (instantiate, input, schema, output)",
        fixed.as_secs_f64() * 1e6
    );
    // A whole step of one pass over the 4 columns against the 4 direct calls. Right after the
    // kernels have streamed 26 MB through the caches, the step's own fixed cost runs cold.
    let (mut step, mut calls) = (Vec::new(), Vec::new());
    for i in 0..40 {
        let mut one_step = || {
            let t = Instant::now();
            std::hint::black_box(host.run(&c, probe_run("stats", 1, Some(input.clone()))).unwrap());
            step.push(t.elapsed());
        };
        let mut four_calls = || {
            let t = Instant::now();
            for col in &columns {
                std::hint::black_box(mlp_kernels::column_stats(&table, col).unwrap());
            }
            calls.push(t.elapsed());
        };
        if i % 2 == 0 {
            one_step();
            four_calls();
        } else {
            four_calls();
            one_step();
        }
    }
    let (s1, c1) = (median(step), median(calls));
    println!(
        "whole step, 4 columns x 1M rows:        step {:.2} ms, direct {:.2} ms, ratio {:.3}",
        s1.as_secs_f64() * 1e3,
        c1.as_secs_f64() * 1e3,
        s1.as_secs_f64() / c1.as_secs_f64()
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
