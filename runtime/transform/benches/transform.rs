//! The taxi example's feature block (read from `examples/taxi/features.mlp`, 13 features) over 1M
//! taxi-like rows, single-threaded: the fitted, compiled transform against the same
//! expressions composed from Arrow compute kernels and against the same expressions in polars
//! (`benches/polars_block.py`, run with `POLARS_MAX_THREADS=1`), plus the fit and compile
//! times. Prints results; asserts only that the Arrow block computes exactly what the compiled
//! one does (so both do the same work).
//!
//! `cargo bench -p mlp-transform --bench transform -- [ROWS]` (default 1,000,000 rows). With
//! `MLP_BENCH_ONLY=compiled` (or `arrow`) in the environment it runs only that side, for a
//! profiler.

#[path = "../tests/common/mod.rs"]
mod common;

use arrow_arith::arity::{binary, unary};
use arrow_arith::boolean::{is_not_null, or_kleene};
use arrow_arith::numeric::{div, mul, sub};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, Scalar, StringArray};
use arrow_ord::cmp::{gt, gt_eq, lt};
use arrow_schema::DataType;
use arrow_select::zip::zip;
use common::Rng;
use mlp_transform::graph::{Fitted, TransformGraph};
use mlp_transform::ir::{hash_i64, hash_pair};
use mlp_transform::{CompiledTransform, fit, parse_spec};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

// ---- the feature block ---------------------------------------------------------------------

/// The output features, in order.
const FEATURES: [&str; 13] = [
    "big_tipper",
    "fare_log",
    "fare_per_mile",
    "miles_z",
    "seconds_z",
    "hour_bucket",
    "night",
    "company_id",
    "payment_id",
    "area_id",
    "pickup_cell",
    "pickup_lat",
    "pickup_lon",
];

// ---- the data ------------------------------------------------------------------------------

/// Distinct taxi companies in the data: more than the vocabulary's 100, so some rows fall in
/// the out-of-vocabulary bucket (as in the Chicago data, which has a long tail of companies).
const COMPANIES: usize = 150;
const PAYMENTS: [&str; 7] = ["Credit Card", "Cash", "Mobile", "Prcard", "Unknown", "No Charge", "Dispute"];

fn company_name(k: usize) -> String {
    const NAMES: [&str; 8] = [
        "Flash Cab",
        "Taxi Affiliation Services",
        "Sun Taxi",
        "City Service",
        "Medallion Leasin",
        "Blue Ribbon Taxi Association Inc.",
        "Checker Taxi",
        "Yellow Cab",
    ];
    match NAMES.get(k) {
        Some(n) => n.to_string(),
        None => format!("{} - {} {}", 1_000 + 37 * k, 50_000 + 1_013 * k, NAMES[k % NAMES.len()]),
    }
}

/// Taxi-like rows: the columns the block reads, with missing values where the Chicago data
/// has them, skewed categories (the first companies and payment types are the most frequent).
fn taxi_rows(rows: usize, seed: u64) -> RecordBatch {
    let companies: Vec<String> = (0..COMPANIES).map(company_name).collect();
    let mut r = Rng(seed);
    let mut fare = Vec::with_capacity(rows);
    let mut tips = Vec::with_capacity(rows);
    let mut miles = Vec::with_capacity(rows);
    let mut secs = Vec::with_capacity(rows);
    let mut hour = Vec::with_capacity(rows);
    let mut company = Vec::with_capacity(rows);
    let mut payment = Vec::with_capacity(rows);
    let mut area = Vec::with_capacity(rows);
    let mut lat = Vec::with_capacity(rows);
    let mut lon = Vec::with_capacity(rows);
    for _ in 0..rows {
        let m = r.unit() * r.unit() * 30.0;
        miles.push((!r.chance(0.05)).then_some(m));
        fare.push(Some(3.25 + 2.25 * m + r.unit() * 4.0));
        tips.push((!r.chance(0.1)).then(|| r.unit() * r.unit() * 10.0));
        secs.push((!r.chance(0.1)).then(|| (m * 180.0) as i64 + r.below(600) as i64));
        hour.push(Some(r.below(24) as i64));
        let c = r.below(COMPANIES).min(r.below(COMPANIES)).min(r.below(COMPANIES));
        company.push((!r.chance(0.03)).then_some(companies[c].as_str()));
        let p = r.below(PAYMENTS.len()).min(r.below(PAYMENTS.len()));
        payment.push((!r.chance(0.01)).then_some(PAYMENTS[p]));
        area.push((!r.chance(0.02)).then(|| 1 + r.below(77) as i64));
        let missing = r.chance(0.02);
        lat.push((!missing).then(|| 41.65 + r.unit() * 0.4));
        lon.push((!missing).then(|| -87.9 + r.unit() * 0.4));
    }
    RecordBatch::try_from_iter(vec![
        ("fare", Arc::new(Float64Array::from(fare)) as ArrayRef),
        ("tips", Arc::new(Float64Array::from(tips)) as ArrayRef),
        ("trip_miles", Arc::new(Float64Array::from(miles)) as ArrayRef),
        ("trip_seconds", Arc::new(Int64Array::from(secs)) as ArrayRef),
        ("trip_start_hour", Arc::new(Int64Array::from(hour)) as ArrayRef),
        ("company", Arc::new(StringArray::from(company)) as ArrayRef),
        ("payment_type", Arc::new(StringArray::from(payment)) as ArrayRef),
        ("pickup_community_area", Arc::new(Int64Array::from(area)) as ArrayRef),
        ("pickup_latitude", Arc::new(Float64Array::from(lat)) as ArrayRef),
        ("pickup_longitude", Arc::new(Float64Array::from(lon)) as ArrayRef),
    ])
    .unwrap()
}

// ---- the fitted constants ------------------------------------------------------------------

/// What the analyzers learned, for the Arrow and polars versions of the block.
struct Constants {
    miles: (f64, f64),
    seconds: (f64, f64),
    company: Vec<String>,
    payment: Vec<String>,
    lat: Vec<f64>,
    lon: Vec<f64>,
}

impl Constants {
    fn of(g: &TransformGraph) -> Constants {
        let fitted = |f: &str| &g.analyzers.iter().find(|a| a.feature == f).unwrap().fitted;
        let z = |f: &str| match fitted(f) {
            Fitted::Zscore { mean, std_dev } => {
                assert!(*std_dev > 0.0, "{f}: the block divides by the std dev");
                (*mean, *std_dev)
            }
            other => panic!("{f}: {other:?}"),
        };
        let vocab = |f: &str| match fitted(f) {
            Fitted::Vocabulary { values, .. } => values.clone(),
            other => panic!("{f}: {other:?}"),
        };
        let bounds = |f: &str| match fitted(f) {
            Fitted::QuantileBucket { boundaries, .. } => boundaries.clone(),
            other => panic!("{f}: {other:?}"),
        };
        Constants {
            miles: z("miles_z"),
            seconds: z("seconds_z"),
            company: vocab("company_id"),
            payment: vocab("payment_id"),
            lat: bounds("pickup_lat"),
            lon: bounds("pickup_lon"),
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "miles_mean": self.miles.0, "miles_std": self.miles.1,
            "seconds_mean": self.seconds.0, "seconds_std": self.seconds.1,
            "company": self.company, "payment": self.payment,
            "lat": self.lat, "lon": self.lon,
        })
    }
}

// ---- the block in Arrow compute kernels ----------------------------------------------------

fn f(x: f64) -> Scalar<Float64Array> {
    Scalar::new(Float64Array::from(vec![x]))
}
fn i(x: i64) -> Scalar<Int64Array> {
    Scalar::new(Int64Array::from(vec![x]))
}

/// `bucketize(x, b)`: the number of boundaries `<= x` (binary search).
fn bucket(x: f64, b: &[f64]) -> i64 {
    b.partition_point(|v| *v <= x) as i64
}

/// The vocabularies as hash maps (built once, like the compiled program's lookup tables).
struct Vocabularies<'a> {
    company: HashMap<&'a str, i64>,
    payment: HashMap<&'a str, i64>,
}

impl<'a> Vocabularies<'a> {
    fn of(c: &'a Constants) -> Vocabularies<'a> {
        let map = |v: &'a [String]| v.iter().enumerate().map(|(k, s)| (s.as_str(), k as i64)).collect();
        Vocabularies { company: map(&c.company), payment: map(&c.payment) }
    }
}

/// `lookup(s, vocabulary)`: the position, or the vocabulary's size; null stays null.
fn lookup(a: &StringArray, v: &HashMap<&str, i64>) -> Int64Array {
    let oov = v.len() as i64;
    a.iter().map(|s| s.map(|s| v.get(s).copied().unwrap_or(oov))).collect()
}

/// The block, kernel by kernel (arrow-arith, arrow-ord, arrow-select), with closures through
/// `unary`/`binary` where Arrow has no kernel (`log1p`, `max` with a scalar, `bucketize`,
/// the hashes) and a hash map for the vocabularies. Outputs in the block's order.
///
/// It equals the compiled block on this data (checked in `main`); it differs only for NaN
/// inputs, which this data has none of (`bucketize(NaN)` is null in the block).
fn arrow_block(batch: &RecordBatch, c: &Constants, v: &Vocabularies) -> Vec<ArrayRef> {
    let col = |n: &str| batch.column_by_name(n).unwrap();
    let fare = col("fare").as_primitive::<Float64Type>();
    let tips = col("tips").as_primitive::<Float64Type>();
    let miles = col("trip_miles").as_primitive::<Float64Type>();
    let secs = col("trip_seconds").as_primitive::<Int64Type>();
    let hour = col("trip_start_hour").as_primitive::<Int64Type>();
    let company = col("company").as_string::<i32>();
    let payment = col("payment_type").as_string::<i32>();
    let area = col("pickup_community_area").as_primitive::<Int64Type>();
    let lat = col("pickup_latitude").as_primitive::<Float64Type>();
    let lon = col("pickup_longitude").as_primitive::<Float64Type>();

    let big_tipper = gt(tips, &mul(fare, &f(0.2)).unwrap()).unwrap();
    let fare_log = unary::<_, _, Float64Type>(fare, f64::ln_1p);
    // `max` is IEEE maximum: NaN if either side is NaN.
    let miles_max = unary::<_, _, Float64Type>(miles, |x| if x.is_nan() { x } else { x.max(0.1) });
    let fare_per_mile = div(fare, &miles_max).unwrap();
    let miles_z = div(&sub(miles, &f(c.miles.0)).unwrap(), &f(c.miles.1)).unwrap();
    let secs_filled = zip(&is_not_null(secs).unwrap(), secs, &i(0)).unwrap();
    let secs_f = unary::<_, _, Float64Type>(secs_filled.as_primitive::<Int64Type>(), |x| x as f64);
    let seconds_z = div(&sub(&secs_f, &f(c.seconds.0)).unwrap(), &f(c.seconds.1)).unwrap();
    let hour_bucket = unary::<_, _, Int64Type>(hour, |h| bucket(h as f64, &[6.0, 10.0, 16.0, 20.0]));
    let is_night = or_kleene(&gt_eq(hour, &i(22)).unwrap(), &lt(hour, &i(6)).unwrap()).unwrap();
    let night = zip(&is_night, &i(1), &i(0)).unwrap();
    let company_id = lookup(company, &v.company);
    let payment_id = lookup(payment, &v.payment);
    let area_id = unary::<_, _, Int64Type>(area, |a| (hash_i64(a) % 64) as i64);
    let pickup_lat = unary::<_, _, Int64Type>(lat, |x| bucket(x, &c.lat));
    let pickup_lon = unary::<_, _, Int64Type>(lon, |x| bucket(x, &c.lon));
    let pickup_cell: Int64Array =
        binary(&pickup_lat, &pickup_lon, |a, b| (hash_pair(hash_i64(a), hash_i64(b)) % 256) as i64).unwrap();
    vec![
        Arc::new(big_tipper),
        Arc::new(fare_log),
        fare_per_mile,
        miles_z,
        seconds_z,
        Arc::new(hour_bucket),
        night,
        Arc::new(company_id),
        Arc::new(payment_id),
        Arc::new(area_id),
        Arc::new(pickup_cell),
        Arc::new(pickup_lat),
        Arc::new(pickup_lon),
    ]
}

/// Panics at the first row where a feature of the Arrow block differs from the compiled one,
/// naming the feature, the row and both values (floats compared bit for bit, any NaN equal).
fn assert_equal_outputs(compiled: &RecordBatch, arrow: &[ArrayRef]) {
    assert_eq!(compiled.num_columns(), arrow.len());
    for (k, name) in FEATURES.iter().enumerate() {
        let (a, b) = (compiled.column(k), &arrow[k]);
        assert_eq!(compiled.schema().field(k).name(), name);
        assert_eq!(a.data_type(), b.data_type(), "{name}: types");
        let show = |x: &ArrayRef, r: usize| -> String {
            if x.is_null(r) {
                return "null".to_string();
            }
            match x.data_type() {
                DataType::Float64 => format!("{:?}", x.as_primitive::<Float64Type>().value(r)),
                DataType::Int64 => format!("{}", x.as_primitive::<Int64Type>().value(r)),
                _ => format!("{}", x.as_boolean().value(r)),
            }
        };
        let same = |r: usize| -> bool {
            match (a.is_valid(r), b.is_valid(r)) {
                (false, false) => true,
                (true, true) => match a.data_type() {
                    DataType::Float64 => {
                        let (x, y) =
                            (a.as_primitive::<Float64Type>().value(r), b.as_primitive::<Float64Type>().value(r));
                        x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
                    }
                    DataType::Int64 => a.as_primitive::<Int64Type>().value(r) == b.as_primitive::<Int64Type>().value(r),
                    _ => a.as_boolean().value(r) == b.as_boolean().value(r),
                },
                _ => false,
            }
        };
        let bad: Vec<usize> = (0..a.len()).filter(|r| !same(*r)).collect();
        if let Some(&r) = bad.first() {
            panic!(
                "feature `{name}` differs on {} rows; first at row {r}: compiled {}, arrow {}",
                bad.len(),
                show(a, r),
                show(b, r)
            );
        }
    }
}

// ---- polars --------------------------------------------------------------------------------

/// What `polars_block.py` reports.
struct PolarsResult {
    version: String,
    threads: u64,
    best: Duration,
    median: Duration,
    runs: u64,
    checked: Vec<String>,
    mismatches: Value,
    /// Float features equal within rounding but not bit for bit: rows and largest relative
    /// difference, by feature.
    rounding: Value,
}

fn write_ipc(path: &Path, batch: &RecordBatch) {
    let file = std::fs::File::create(path).unwrap();
    let mut w = arrow_ipc::writer::FileWriter::try_new_buffered(file, &batch.schema()).unwrap();
    w.write(batch).unwrap();
    w.finish().unwrap();
}

/// Runs the block in polars on `batch` (single-threaded), checking its outputs against
/// `expected` (the compiled outputs); `Err` says why polars was skipped.
fn polars_block(batch: &RecordBatch, c: &Constants, expected: &RecordBatch) -> Result<PolarsResult, String> {
    let dir = std::env::temp_dir().join(format!("mlp-transform-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let (input, constants, outputs) = (dir.join("input.arrow"), dir.join("constants.json"), dir.join("expected.arrow"));
    write_ipc(&input, batch);
    write_ipc(&outputs, expected);
    std::fs::write(&constants, c.to_json().to_string()).unwrap();
    let script: PathBuf = [env!("CARGO_MANIFEST_DIR"), "benches", "polars_block.py"].iter().collect();
    let run = Command::new("python3")
        .arg(&script)
        .arg(&input)
        .arg(&constants)
        .arg(&outputs)
        .env("POLARS_MAX_THREADS", "1")
        .output();
    let _ = std::fs::remove_dir_all(&dir);
    let run = run.map_err(|e| format!("cannot run python3: {e}"))?;
    let stdout = String::from_utf8_lossy(&run.stdout);
    let line = stdout.lines().rev().find(|l| l.starts_with('{')).ok_or_else(|| {
        format!("{} printed no result: {}", script.display(), String::from_utf8_lossy(&run.stderr).trim())
    })?;
    let v: Value = serde_json::from_str(line).map_err(|e| format!("bad result line `{line}`: {e}"))?;
    if let Some(why) = v.get("skipped").and_then(Value::as_str) {
        return Err(why.to_string());
    }
    let ms = |k: &str| Duration::from_secs_f64(v[k].as_f64().unwrap_or(f64::NAN) / 1e3);
    Ok(PolarsResult {
        version: v["polars"].as_str().unwrap_or("?").to_string(),
        threads: v["threads"].as_u64().unwrap_or(0),
        best: ms("best_ms"),
        median: ms("median_ms"),
        runs: v["runs"].as_u64().unwrap_or(0),
        checked: v["checked"]
            .as_array()
            .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
            .unwrap_or_default(),
        mismatches: v["mismatches"].clone(),
        rounding: v["rounding"].clone(),
    })
}

// ---- timing --------------------------------------------------------------------------------

fn time<T>(f: impl FnOnce() -> T) -> Duration {
    let t = Instant::now();
    std::hint::black_box(f());
    t.elapsed()
}

fn best<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    (0..runs).map(|_| time(&mut f)).min().unwrap()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 { xs[n / 2] } else { (xs[n / 2 - 1] + xs[n / 2]) / 2.0 }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// The row count: the first argument that is a number (`cargo bench` adds `--bench`).
fn rows_arg() -> usize {
    std::env::args().skip(1).find_map(|a| a.replace(['_', ','], "").parse().ok()).unwrap_or(1_000_000)
}

const RUNS: usize = 10;

fn main() {
    let rows = rows_arg();
    let batch = taxi_rows(rows, 42);
    let spec = parse_spec(&common::example_spec().to_string()).unwrap();
    println!("taxi feature block (examples/taxi/features.mlp, 13 features) over {rows} rows, single thread");

    // Fit on the rows themselves (the training split).
    let fit_first = Instant::now();
    let graph = fit(&spec, &batch.schema(), std::slice::from_ref(&batch)).unwrap();
    let fit_first = fit_first.elapsed();
    let fit_best = best(2, || fit(&spec, &batch.schema(), std::slice::from_ref(&batch)).unwrap()).min(fit_first);
    println!(
        "  fit ({} analyzers over {rows} rows): first {}, best {} of 3",
        graph.analyzers.len(),
        ms(fit_first),
        ms(fit_best)
    );
    let c = Constants::of(&graph);
    println!(
        "    vocabularies: company {} of {COMPANIES} companies, payment {}; quantile boundaries: {} + {}",
        c.company.len(),
        c.payment.len(),
        c.lat.len(),
        c.lon.len()
    );

    let compile_first = time(|| CompiledTransform::new(graph.clone()).unwrap());
    let compile_best = best(20, || CompiledTransform::new(graph.clone()).unwrap());
    let t = CompiledTransform::new(graph.clone()).unwrap();
    println!(
        "  compile (check + Cranelift + link): first {:.2} ms, best {:.2} ms of 20 (target: under 20 ms: {})",
        compile_first.as_secs_f64() * 1e3,
        compile_best.as_secs_f64() * 1e3,
        if compile_first.max(compile_best) < Duration::from_millis(20) { "met" } else { "NOT met" }
    );

    // Same work: the Arrow block computes exactly the compiled outputs.
    let v = Vocabularies::of(&c);
    let compiled_out = t.apply(&batch).unwrap();
    assert_equal_outputs(&compiled_out, &arrow_block(&batch, &c, &v));
    println!("  outputs: arrow == compiled on all 13 features and {rows} rows (checked once, untimed)");

    // For a profiler: `MLP_BENCH_ONLY=compiled` (or `arrow`) runs only that side, 50 times.
    if let Ok(only) = std::env::var("MLP_BENCH_ONLY") {
        let d = match only.as_str() {
            "compiled" => best(50, || t.apply(&batch).unwrap()),
            "arrow" => best(50, || arrow_block(&batch, &c, &v)),
            other => panic!("MLP_BENCH_ONLY is `compiled` or `arrow`, not `{other}`"),
        };
        println!("  {only} only: best {} of 50", ms(d));
        return;
    }

    // Back to back: all compiled runs, then all Arrow runs (after one warm-up run each).
    let per_row = |d: Duration| d.as_nanos() as f64 / rows as f64;
    let compiled = {
        time(|| t.apply(&batch).unwrap());
        best(RUNS, || t.apply(&batch).unwrap())
    };
    let arrow = {
        time(|| arrow_block(&batch, &c, &v));
        best(RUNS, || arrow_block(&batch, &c, &v))
    };
    println!("  back to back, best of {RUNS}:");
    println!("    compiled transform: {} ({:.1} ns/row)", ms(compiled), per_row(compiled));
    println!("    arrow kernels:      {} ({:.1} ns/row)", ms(arrow), per_row(arrow));
    println!("    arrow / compiled:   {:.2}", arrow.as_secs_f64() / compiled.as_secs_f64());

    // Interleaved: alternate the two (and which goes first), so noise hits both.
    let (mut tc, mut ta, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..RUNS {
        let (c_t, a_t) = if round % 2 == 0 {
            let c_t = time(|| t.apply(&batch).unwrap());
            (c_t, time(|| arrow_block(&batch, &c, &v)))
        } else {
            let a_t = time(|| arrow_block(&batch, &c, &v));
            (time(|| t.apply(&batch).unwrap()), a_t)
        };
        tc.push(c_t.as_secs_f64());
        ta.push(a_t.as_secs_f64());
        ratios.push(a_t.as_secs_f64() / c_t.as_secs_f64());
    }
    let min = |xs: &[f64]| xs.iter().copied().fold(f64::INFINITY, f64::min);
    println!("  interleaved, {RUNS} rounds (best / median):");
    println!("    compiled transform: {:.1} / {:.1} ms", min(&tc) * 1e3, median(tc.clone()) * 1e3);
    println!("    arrow kernels:      {:.1} / {:.1} ms", min(&ta) * 1e3, median(ta.clone()) * 1e3);
    println!(
        "    arrow / compiled:   {:.2} best vs best, {:.2} median of the rounds' ratios (target: at least 1)",
        min(&ta) / min(&tc),
        median(ratios)
    );
    let compiled = compiled.min(Duration::from_secs_f64(min(&tc)));

    match polars_block(&batch, &c, &compiled_out) {
        Ok(p) => {
            println!(
                "  polars {} (POLARS_MAX_THREADS=1, {} thread; lazy select, best / median of {}): {} / {}",
                p.version,
                p.threads,
                p.runs,
                ms(p.best),
                ms(p.median)
            );
            println!(
                "    polars / compiled:  {:.2} (best vs best; target: at least 1)",
                p.best.as_secs_f64() / compiled.as_secs_f64()
            );
            let bad = p.mismatches.as_object().is_some_and(|m| !m.is_empty());
            println!(
                "    outputs: {} of 13 features compared with the compiled ones: {}",
                p.checked.len(),
                if bad {
                    format!("MISMATCHES {}", p.mismatches)
                } else {
                    "all equal (floats within 1e-12)".to_string()
                }
            );
            for (name, r) in p.rounding.as_object().into_iter().flatten() {
                println!(
                    "    {name}: {} rows differ in the last bits (largest relative difference {:.1e})",
                    r["rows"],
                    r["max_rel"].as_f64().unwrap_or(f64::NAN)
                );
            }
            println!("    (area_id, pickup_cell: polars' own hash, not XXH3-64 of the text: same work, other values)");
        }
        Err(why) => {
            println!("  polars: skipped ({why}); install it with `pip install polars` to compare");
        }
    }
}
