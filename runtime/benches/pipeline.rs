//! Benchmarks of whole runs with the store: the overhead per step of a 1,000-step pipeline of
//! trivial components (load, instantiate, run, store the output, record the lineage), its fully
//! cached re-run, and a fully cached re-run of the quickstart example.
//!
//! Run with `cargo bench -p mlp-runtime --bench pipeline`.

use mlp_runtime::host::{Host, HostConfig};
use mlp_runtime::run::{RunOptions, StepStatus, pipeline_dir};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn run_once(host: &Arc<Host>, file: &Path, store: &Path, parallelism: usize) -> (Duration, usize, usize) {
    let checked = mlp_runtime::check_file(file, &[]).unwrap();
    let ir = checked.ir.expect("the pipeline checks");
    let options = RunOptions { parallelism, store: Some(store.to_path_buf()), ..RunOptions::default() };
    let t = Instant::now();
    let report = mlp_runtime::run::run(host, &ir, &pipeline_dir(file), &options, &mut |_| {}).unwrap();
    let elapsed = t.elapsed();
    let ran = report.steps.iter().filter(|s| matches!(s.status, StepStatus::Succeeded)).count();
    let cached = report.steps.iter().filter(|s| matches!(s.status, StepStatus::Cached)).count();
    assert_eq!(ran + cached, report.steps.len(), "every step ran or was cached");
    (elapsed, ran, cached)
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let dir = std::env::temp_dir().join(format!("mlp-bench-pipeline-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let hostile = Path::new(mlp_guests::GUESTS_DIR).join("hostile.wasm");
    let mut text = format!(
        "component trivial {{\n  wasm = \"{}\"\n  param attack: string\n  param path: string = \"\"\n  param address: string = \"\"\n  output out: Examples\n}}\n",
        hostile.display()
    );
    for i in 0..n {
        text.push_str(&format!("step s{i:05} = trivial {{ attack = \"ok\", path = \"{i}\" }}\n"));
    }
    let file = dir.join("pipeline.mlp");
    std::fs::write(&file, text).unwrap();
    let host = Arc::new(Host::new(HostConfig { cache_dir: Some(dir.join("cache")), ..HostConfig::default() }).unwrap());
    // Compile the component once, outside the measurement.
    host.load(&hostile, None).unwrap();

    for parallelism in [1, 2] {
        let store = dir.join(format!("store-{parallelism}"));
        let (first, ran, _) = run_once(&host, &file, &store, parallelism);
        let (again, _, cached) = run_once(&host, &file, &store, parallelism);
        println!(
            "{n} trivial steps, -j {parallelism}: {:.1} ms in all, {:.3} ms a step ({ran} ran); cached re-run {:.1} ms, {:.3} ms a step ({cached} cached)",
            first.as_secs_f64() * 1e3,
            first.as_secs_f64() * 1e3 / n as f64,
            again.as_secs_f64() * 1e3,
            again.as_secs_f64() * 1e3 / n as f64,
        );
    }

    let quickstart = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart/pipeline.mlp");
    let store = dir.join("store-quickstart");
    let (first, _, _) = run_once(&host, &quickstart, &store, 2);
    let times: Vec<Duration> = (0..9).map(|_| run_once(&host, &quickstart, &store, 2).0).collect();
    let mut sorted = times.clone();
    sorted.sort();
    println!(
        "quickstart (100k rows): first run {:.1} ms; fully cached re-run median {:.1} ms (min {:.1}, max {:.1})",
        first.as_secs_f64() * 1e3,
        sorted[4].as_secs_f64() * 1e3,
        sorted[0].as_secs_f64() * 1e3,
        sorted[8].as_secs_f64() * 1e3
    );
    let _ = std::fs::remove_dir_all(&dir);
}
