//! `taxi-data`: writes taxi-trips-like CSV for mlp's examples and benchmarks.
//!
//!   cargo run -p mlp-example-data --release -- --rows 100000 --spans 2 --out examples/taxi/data
//!
//! writes `OUT/span-1/trips.csv`, `OUT/span-2/trips.csv`, ... (span N with seed `seed + N`);
//! `--drift-from N` makes spans from N on the drifted variant.

use clap::Parser;
use mlp_example_data::{Spec, write_csv};
use std::io::BufWriter;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(about = "Writes taxi-trips-like CSV, one folder per span")]
struct Args {
    /// Rows per span.
    #[arg(long, default_value_t = 100_000)]
    rows: u64,
    /// Number of spans.
    #[arg(long, default_value_t = 1)]
    spans: u64,
    /// The first span that is drifted (none by default).
    #[arg(long)]
    drift_from: Option<u64>,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    for span in 1..=args.spans {
        let dir = args.out.join(format!("span-{span}"));
        let file = dir.join("trips.csv");
        let drift = args.drift_from.is_some_and(|d| span >= d);
        let spec = Spec { rows: args.rows, seed: args.seed + span, drift };
        let written = std::fs::create_dir_all(&dir).and_then(|()| std::fs::File::create(&file)).and_then(|f| {
            let mut w = BufWriter::new(f);
            write_csv(spec, &mut w)?;
            std::io::Write::flush(&mut w)
        });
        if let Err(e) = written {
            eprintln!("error: cannot write {}: {e}", file.display());
            return ExitCode::from(2);
        }
        println!("wrote {} ({} rows{})", file.display(), args.rows, if drift { ", drifted" } else { "" });
    }
    ExitCode::SUCCESS
}
