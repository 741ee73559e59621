//! The taxi-like feature block (14 outputs) over 1M rows, single-threaded: the compiled
//! program against the same expressions composed from Arrow compute kernels (arrow-arith,
//! arrow-ord, arrow-select), plus the compile time. Prints results; asserts nothing about time.

#[path = "../tests/common/mod.rs"]
mod common;

use arrow_arith::arity::unary;
use arrow_arith::boolean::{and_kleene, is_not_null, or_kleene};
use arrow_arith::numeric::{div, sub};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, Scalar};
use arrow_ord::cmp::{gt, gt_eq, lt};
use arrow_select::zip::zip;
use mlp_transform::{Program, reference};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn f(x: f64) -> Scalar<Float64Array> {
    Scalar::new(Float64Array::from(vec![x]))
}
fn i(x: i64) -> Scalar<Int64Array> {
    Scalar::new(Int64Array::from(vec![x]))
}

fn bucket(x: f64, b: &[f64]) -> i64 {
    b.iter().filter(|b| **b <= x).count() as i64
}

/// The taxi block, kernel by kernel (closures through `unary` where Arrow has no kernel:
/// `log1p`, scalar `max`/`clip`, `bucketize`, `sqrt`).
fn arrow_block(batch: &RecordBatch) -> Vec<ArrayRef> {
    let col = |n: &str| batch.column_by_name(n).unwrap();
    let fare = col("fare").as_primitive::<Float64Type>();
    let miles = col("trip_miles").as_primitive::<Float64Type>();
    let secs = col("trip_seconds").as_primitive::<Int64Type>();
    let hour = col("trip_start_hour").as_primitive::<Int64Type>();
    let tips = col("tips").as_primitive::<Float64Type>();
    let cash = col("payment_cash").as_boolean();
    let fill0 = |a: &Float64Array| -> Float64Array {
        zip(&is_not_null(a).unwrap(), a, &f(0.0)).unwrap().as_primitive::<Float64Type>().clone()
    };
    let fare_max1: Float64Array = unary(fare, |x| x.max(1.0));
    let hours: Float64Array = unary(secs, |s| (s as f64 / 3600.0).max(1.0 / 60.0));
    let mut out: Vec<ArrayRef> = Vec::new();
    out.push(Arc::new(unary::<_, _, Float64Type>(fare, f64::ln_1p)));
    out.push(div(fare, &unary::<_, _, Float64Type>(miles, |x| x.max(0.1))).unwrap());
    let night = or_kleene(&gt_eq(hour, &i(22)).unwrap(), &lt(hour, &i(6)).unwrap()).unwrap();
    out.push(zip(&night, &i(1), &i(0)).unwrap());
    out.push(Arc::new(unary::<_, _, Float64Type>(&fill0(miles), f64::ln_1p)));
    out.push(div(miles, &hours).unwrap());
    out.push(Arc::new(unary::<_, _, Float64Type>(fare, |x| x.clamp(0.0, 200.0))));
    out.push(div(&fill0(tips), &fare_max1).unwrap());
    out.push(Arc::new(gt(&div(tips, &fare_max1).unwrap(), &f(0.2)).unwrap()));
    out.push(Arc::new(unary::<_, _, Int64Type>(hour, |h| bucket(h as f64, &[6.0, 10.0, 16.0, 20.0]))));
    out.push(Arc::new(unary::<_, _, Int64Type>(miles, |m| bucket(m, &[0.5, 1.0, 2.0, 5.0, 10.0, 20.0]))));
    out.push(div(secs, &i(60)).unwrap());
    out.push(Arc::new(unary::<_, _, Float64Type>(&unary::<_, _, Float64Type>(fare, f64::abs), f64::sqrt)));
    let z = div(&sub(fare, &f(12.5)).unwrap(), &f(9.0)).unwrap();
    out.push(Arc::new(unary::<_, _, Float64Type>(z.as_primitive::<Float64Type>(), |x| x.clamp(-5.0, 5.0))));
    out.push(Arc::new(and_kleene(cash, &gt_eq(hour, &i(22)).unwrap()).unwrap()));
    out
}

fn best<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..runs {
        let t = Instant::now();
        std::hint::black_box(f());
        best = best.min(t.elapsed());
    }
    best
}

fn main() {
    let rows = 1_000_000;
    let batch = taxi_batch_1m(rows);
    let p = common::taxi_program();
    let compile = best(20, || Program::compile(p.clone()).unwrap());
    let prog = Program::compile(p.clone()).unwrap();
    // The compiled block agrees with the reference interpreter on a slice of the data.
    let sample = batch.slice(0, 20_000);
    common::assert_same(&prog.run(&sample).unwrap(), &reference::run(&p, &sample).unwrap(), "bench sample");
    let compiled = best(10, || prog.run(&batch).unwrap());
    let arrow = best(10, || arrow_block(&batch));
    let per_row = |d: Duration| d.as_nanos() as f64 / rows as f64;
    println!("taxi block: 14 outputs over {rows} rows, single thread, best of 10");
    println!("  compile (check + Cranelift + link): {compile:?} (best of 20)");
    println!("  compiled program: {compiled:?} ({:.2} ns/row)", per_row(compiled));
    println!("  arrow kernels:    {arrow:?} ({:.2} ns/row)", per_row(arrow));
    println!("  arrow / compiled: {:.2}x", arrow.as_secs_f64() / compiled.as_secs_f64());
}

fn taxi_batch_1m(rows: usize) -> RecordBatch {
    common::taxi_batch(rows, 42)
}
