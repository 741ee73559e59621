//! Front-end benchmark: parse, check and lower generated pipelines of 1k, 10k and 100k steps.
//!
//! Run with `cargo bench -p mlp-lang --bench check` (add `-- 1000 10000` to pick sizes). Each
//! pipeline is a chain of steps over three components with parameters, a `when` on every tenth
//! step and a feature block on every hundredth, so every checker path is exercised. Prints the
//! median of several runs per size and the time per step, to show growth is linear.

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use mlp_lang::source::MemoryLoader;
use mlp_lang::{CheckOptions, check};
use std::time::{Duration, Instant};

fn generate(n: usize) -> String {
    let mut s = String::from(
        "param epochs: int = 10\nparam gate: bool = true\n\
         component ingest {\n  wasm = \"ingest.wasm\"\n  param input: path\n  param split: map<int> = { train = 8, eval = 2 }\n  output out: Examples\n}\n\
         component stats {\n  wasm = \"stats.wasm\"\n  input examples: Examples\n  input extra: Examples?\n  param buckets: int = 10\n  output out: Examples\n  output summary: Statistics\n}\n\
         component transform {\n  wasm = \"transform.wasm\"\n  input examples: Examples\n  param features: features\n  output out: Examples\n}\n\
         step s0 = ingest { input = \"data\" }\n",
    );
    for i in 1..n {
        let prev = i - 1;
        if i % 100 == 0 {
            s.push_str(&format!(
                "step s{i} = transform {{\n  examples = s{prev}.out\n  features = {{\n    a = log1p(fare) * {i}\n    b = if a > 2 then bucketize(hour, [6, 12, 18]) else 0\n    c = zscore(miles)\n  }}\n}}\n"
            ));
        } else if i % 10 == 0 {
            s.push_str(&format!(
                "step s{i} = stats {{ examples = s{prev}.out, extra = s0.out, buckets = epochs * 2 }}\n"
            ));
        } else {
            s.push_str(&format!(
                "step s{i} = stats {{\n  examples = s{prev}.out\n  buckets = {i}\n  limit time 5m\n}}\n"
            ));
        }
    }
    s
}

fn main() {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() { vec![1_000, 10_000, 100_000] } else { sizes };
    println!("{:>8} {:>10} {:>12} {:>12} {:>12} {:>6}", "steps", "bytes", "parse", "parse+check", "per step", "runs");
    for n in sizes {
        let src = generate(n);
        let loader = MemoryLoader::new([("bench.mlp", src.clone())]);
        let runs = if n >= 100_000 { 3 } else { 7 };
        let mut times: Vec<Duration> = Vec::new();
        let mut parse_times: Vec<Duration> = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let p = mlp_lang::syntax::parse(&src, mlp_lang::diag::FileId(0));
            parse_times.push(t.elapsed());
            assert!(p.diagnostics.is_empty());
            let t = Instant::now();
            let c = check("bench.mlp", &loader, &CheckOptions::default());
            times.push(t.elapsed());
            assert!(!c.has_errors(), "generated pipeline must check clean: {:?}", c.diagnostics.first());
            assert_eq!(c.ir.as_ref().map(|ir| ir.steps.len()), Some(n));
        }
        times.sort();
        parse_times.sort();
        let med = times[times.len() / 2];
        println!(
            "{:>8} {:>10} {:>10.1}ms {:>10.1}ms {:>10.2}µs {:>6}",
            n,
            src.len(),
            parse_times[runs / 2].as_secs_f64() * 1e3,
            med.as_secs_f64() * 1e3,
            med.as_secs_f64() * 1e6 / n as f64,
            runs
        );
    }
}
