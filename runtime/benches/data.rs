//! Benchmarks of the data components on the example taxi data (22 columns): CSV in and
//! statistics out, as TFDV's `generate_statistics_from_csv` does, through the host kernels
//! (streaming: 8 MiB blocks decoded and profiled as they come), and the same work as a pipeline
//! (`csv_examples` then `statistics`, sandboxed, with the store and lineage).
//!
//!   cargo bench -p mlp-runtime --bench data                    # 1M rows: timings
//!   cargo bench -p mlp-runtime --bench data -- 5000000 memory  # peak memory of the streaming path
//!   cargo bench -p mlp-runtime --bench data -- 1000000 pipeline-memory
//!
//! Peak memory is the process's high-water mark (`VmHWM`), so each memory mode runs one thing in
//! a fresh process.

use mlp_kernels::Table;
use mlp_kernels::csv::{CsvDecoder, CsvOptions};
use mlp_kernels::profile::{ProfileOptions, Profiler};
use mlp_runtime::host::{Host, HostConfig};
use mlp_runtime::run::{RunOptions, StepStatus, pipeline_dir};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const BLOCK: usize = 8 << 20;

/// Reads `file` in blocks and hands every decoded table to `each`.
fn decode(file: &Path, mut each: impl FnMut(Table)) -> u64 {
    let mut d = CsvDecoder::new(CsvOptions::default()).unwrap();
    d.begin_file(&file.display().to_string()).unwrap();
    let mut f = std::fs::File::open(file).unwrap();
    let mut buf = vec![0u8; BLOCK];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        // As the host hands them to a guest: one table of the block's batches.
        let tables = d.feed(&buf[..n]).unwrap();
        if !tables.is_empty() {
            let batches = tables.iter().flat_map(|t| t.batches().iter().cloned()).collect();
            each(Table::new(tables[0].schema().clone(), batches).unwrap());
        }
    }
    for t in d.end_file().unwrap() {
        each(t);
    }
    assert_eq!(d.bad_row_count(), 0);
    d.rows()
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn best(runs: usize, mut f: impl FnMut() -> Duration) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..runs).map(|_| f()).collect();
    times.sort();
    (times[0], times[times.len() / 2])
}

fn streaming_stats(file: &Path) -> (u64, usize) {
    let mut p = Profiler::new(ProfileOptions::default()).unwrap();
    let rows = decode(file, |t| p.add(&t).unwrap());
    let stats = p.finish();
    (rows, stats[0].features.len())
}

fn pipeline(dir: &Path, file: &Path) -> (Duration, Vec<(String, Duration)>) {
    let text = format!(
        "import \"std/tabular.mlp\" as tab\nstep ingest = tab.csv_examples {{\n  input = \"{f}\"\n  split = {{ train = 8, eval = 2 }}\n  grant read \"{f}\"\n}}\nstep stats = tab.statistics {{ examples = ingest.out }}\n",
        f = file.display()
    );
    let pfile = dir.join("pipeline.mlp");
    std::fs::write(&pfile, text).unwrap();
    let host = Arc::new(Host::new(HostConfig::default()).unwrap());
    let ir = mlp_runtime::check_file(&pfile, &[]).unwrap().ir.expect("the pipeline checks");
    let store = dir.join(format!("store-{}", Instant::now().elapsed().as_nanos()));
    let _ = std::fs::remove_dir_all(&store);
    let options = RunOptions { store: Some(store.clone()), use_cache: false, ..RunOptions::default() };
    let t = Instant::now();
    let report = mlp_runtime::run::run(&host, &ir, &pipeline_dir(&pfile), &options, &mut |_| {}).unwrap();
    let total = t.elapsed();
    let steps = report
        .steps
        .iter()
        .map(|s| {
            assert!(matches!(s.status, StepStatus::Succeeded), "{}: {:?}", s.id, s.status);
            (s.id.clone(), s.elapsed)
        })
        .collect();
    let _ = std::fs::remove_dir_all(&store);
    (total, steps)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let rows: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let mode = args.get(1).map(String::as_str).unwrap_or("time");
    let dir = std::env::temp_dir().join("mlp-bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("trips-{rows}.csv"));
    if !file.is_file() {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        mlp_example_data::write_csv(mlp_example_data::Spec { rows, seed: 1, drift: false }, &mut w).unwrap();
        std::io::Write::flush(&mut w).unwrap();
    }
    let mb = std::fs::metadata(&file).unwrap().len() as f64 / 1e6;
    let baseline = peak_rss_mb();
    match mode {
        "memory" => {
            let t = Instant::now();
            let (n, cols) = streaming_stats(&file);
            println!(
                "{n} rows x {cols} columns ({mb:.0} MB CSV): CSV in, statistics out in {:.0} ms; peak memory {:.0} MB (process before: {baseline:.0} MB)",
                t.elapsed().as_secs_f64() * 1e3,
                peak_rss_mb()
            );
        }
        "pipeline-memory" => {
            let (total, _) = pipeline(&dir, &file);
            println!(
                "{rows} rows ({mb:.0} MB CSV): pipeline csv_examples + statistics {:.0} ms; peak memory {:.0} MB",
                total.as_secs_f64() * 1e3,
                peak_rss_mb()
            );
        }
        _ => {
            // Decoded once, kept, to time statistics alone.
            let mut tables = Vec::new();
            decode(&file, |t| tables.push(t));
            let (d_best, d_med) = best(5, || {
                let t = Instant::now();
                decode(&file, |_| {});
                t.elapsed()
            });
            let (s_best, s_med) = best(5, || {
                let t = Instant::now();
                let mut p = Profiler::new(ProfileOptions::default()).unwrap();
                for table in &tables {
                    p.add(table).unwrap();
                }
                std::hint::black_box(p.finish());
                t.elapsed()
            });
            let (h_best, h_med) = best(5, || {
                let t = Instant::now();
                for table in &tables {
                    std::hint::black_box(mlp_kernels::split_by_hash(table, None, 0, &[8, 2]).unwrap());
                }
                t.elapsed()
            });
            drop(tables);
            let (b_best, b_med) = best(5, || {
                let t = Instant::now();
                std::hint::black_box(streaming_stats(&file));
                t.elapsed()
            });
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            println!("{rows} rows x 22 columns, {mb:.0} MB CSV (best / median of 5):");
            println!("  CSV decode                      {:>7.0} / {:>7.0} ms", ms(d_best), ms(d_med));
            println!("  statistics of decoded tables    {:>7.0} / {:>7.0} ms", ms(s_best), ms(s_med));
            println!("  hash split 8:2 of decoded tables{:>7.0} / {:>7.0} ms", ms(h_best), ms(h_med));
            println!("  CSV in, statistics out          {:>7.0} / {:>7.0} ms", ms(b_best), ms(b_med));
            let mut runs: Vec<(Duration, Vec<(String, Duration)>)> = (0..3).map(|_| pipeline(&dir, &file)).collect();
            runs.sort_by_key(|r| r.0);
            let (total, steps) = &runs[0];
            let per_step: Vec<String> = steps.iter().map(|(id, d)| format!("{id} {:.0} ms", ms(*d))).collect();
            println!("  pipeline (best of 3)            {:>7.0} ms  ({})", ms(*total), per_step.join(", "));
        }
    }
}
