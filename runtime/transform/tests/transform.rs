//! The compiled programs against the reference interpreter: every operator on edge values
//! (nulls, NaN, ±inf, -0.0, i64 extremes), random expression trees over random columns,
//! empty and one-row batches, sliced inputs; errors; compile time of the taxi block.

mod common;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use common::*;
use mlp_transform::{BinaryOp as B, Expr, Program, ProgramIr, TransformError, Type, UnaryOp as U, reference};
use proptest::prelude::*;
use std::sync::Arc;

fn check(p: &ProgramIr, batch: &RecordBatch, what: &str) -> RecordBatch {
    let prog = Program::compile(p.clone()).unwrap_or_else(|e| panic!("{what}: {e}"));
    let got = prog.run(batch).unwrap();
    let want = reference::run(p, batch).unwrap();
    assert_same(&got, &want, what);
    got
}

/// Every value of the special pools, with nulls, in all pairings of the two columns of a type.
fn edge_batch() -> RecordBatch {
    let fs: Vec<Option<f64>> = SPECIAL_F64.iter().copied().map(Some).chain([None]).collect();
    let is: Vec<Option<i64>> = SPECIAL_I64.iter().copied().map(Some).chain([None]).collect();
    let bs = [Some(true), Some(false), None];
    let (mut f0, mut f1, mut i0, mut i1, mut b0, mut b1) = (vec![], vec![], vec![], vec![], vec![], vec![]);
    let n = fs.len() * fs.len();
    for k in 0..n {
        f0.push(fs[k / fs.len()]);
        f1.push(fs[k % fs.len()]);
        i0.push(is[(k / is.len()) % is.len()]);
        i1.push(is[k % is.len()]);
        b0.push(bs[(k / 3) % 3]);
        b1.push(bs[k % 3]);
    }
    let strings: Vec<Option<&str>> = STRINGS.iter().copied().map(Some).chain([None]).collect();
    let s0: Vec<Option<&str>> = (0..n).map(|k| strings[(k / strings.len()) % strings.len()]).collect();
    let s1: Vec<Option<&str>> = (0..n).map(|k| strings[k % strings.len()]).collect();
    RecordBatch::try_from_iter(vec![
        ("f0", Arc::new(Float64Array::from(f0)) as ArrayRef),
        ("f1", Arc::new(Float64Array::from(f1)) as ArrayRef),
        ("i0", Arc::new(Int64Array::from(i0)) as ArrayRef),
        ("i1", Arc::new(Int64Array::from(i1)) as ArrayRef),
        ("b0", Arc::new(BooleanArray::from(b0)) as ArrayRef),
        ("b1", Arc::new(BooleanArray::from(b1)) as ArrayRef),
        ("s0", Arc::new(StringArray::from(s0)) as ArrayRef),
        ("s1", Arc::new(StringArray::from(s1)) as ArrayRef),
    ])
    .unwrap()
}

#[test]
fn every_operator_on_edge_values() {
    let p = random_inputs();
    let (f0, f1, i0, i1, b0, b1) = (p.col("f0"), p.col("f1"), p.col("i0"), p.col("i1"), p.col("b0"), p.col("b1"));
    let mut prog = p.clone();
    let mut k = 0;
    let mut out = |prog: &mut ProgramIr, e: Expr| {
        *prog = std::mem::take(prog).output(&format!("o{k}"), e);
        k += 1;
    };
    for op in U::ALL {
        match op {
            U::Not => out(&mut prog, b0.clone().unary(op)),
            U::IsNull => {
                for x in [&f0, &i0, &b0] {
                    out(&mut prog, x.clone().unary(op));
                }
            }
            _ => {
                out(&mut prog, f0.clone().unary(op));
                out(&mut prog, i0.clone().unary(op));
            }
        }
    }
    for op in B::ALL {
        match op {
            B::And | B::Or => out(&mut prog, b0.clone().binary(op, b1.clone())),
            _ => {
                out(&mut prog, f0.clone().binary(op, f1.clone()));
                out(&mut prog, i0.clone().binary(op, i1.clone()));
                out(&mut prog, i0.clone().binary(op, f1.clone()));
                out(&mut prog, f0.clone().binary(op, Expr::i64(0)));
                if matches!(op, B::Eq | B::Ne) {
                    out(&mut prog, b0.clone().binary(op, b1.clone()));
                }
            }
        }
    }
    out(&mut prog, b0.clone().then(f0.clone(), f1.clone()));
    out(&mut prog, b0.clone().then(i0.clone(), f1.clone()));
    out(&mut prog, b0.clone().then(b1.clone(), Expr::bool(true)));
    out(&mut prog, f0.clone().fill_null(f1.clone()));
    out(&mut prog, i0.clone().fill_null(Expr::i64(-1)));
    out(&mut prog, b0.clone().fill_null(b1.clone()));
    out(&mut prog, f0.clone().clip(f1.clone(), Expr::f64(10.0)));
    out(&mut prog, i0.clone().clip(Expr::i64(-5), i1.clone()));
    out(&mut prog, f0.clone().clip(Expr::f64(3.0), Expr::f64(-3.0)));
    for to in [Type::Float64, Type::Int64, Type::Boolean] {
        for x in [&f0, &i0, &b0] {
            out(&mut prog, x.clone().cast(to));
        }
    }
    // Strings: hashes, buckets, crosses and lookups of strings and of every type's text.
    let (s0, s1) = (p.col("s0"), p.col("s1"));
    let vocabulary: Vec<String> = ["cash", "1", "-0", "NaN", "true", "inf", ""].map(String::from).to_vec();
    for x in [&s0, &f0, &i0, &b0] {
        out(&mut prog, Expr::Hash(Box::new(x.clone())));
        out(&mut prog, Expr::HashBucket(Box::new(x.clone()), 10));
        out(&mut prog, Expr::Lookup(Box::new(x.clone()), vocabulary.clone()));
        out(&mut prog, Expr::Lookup(Box::new(x.clone()), vec![]));
        out(&mut prog, Expr::Cross(Box::new(x.clone()), Box::new(s1.clone()), 97));
        out(&mut prog, x.clone().cast(Type::Utf8).binary(B::Eq, s1.clone()));
    }
    out(&mut prog, s0.clone().binary(B::Ne, Expr::Str("cash".into())));
    out(&mut prog, Expr::HashBucket(Box::new(s0.clone().fill_null(Expr::Str("none".into()))), 5));
    out(&mut prog, Expr::Hash(Box::new(b0.clone().then(s0.clone(), i1.clone().cast(Type::Utf8)))));
    out(&mut prog, s0.clone().unary(U::IsNull));
    // Small integer ranges (buckets, vocabulary indices, hash buckets) hash through tables.
    let fb = f0.clone().bucketize(vec![-1.0, 0.0, 2.5]);
    let ib = i0.clone().bucketize(vec![0.0, 6.0, 22.0]);
    let lk = Expr::Lookup(Box::new(s0.clone()), vocabulary.clone());
    let hb = Expr::HashBucket(Box::new(i1.clone()), 9);
    for (a, c) in [(&fb, &ib), (&lk, &hb), (&fb, &i1), (&hb, &hb)] {
        out(&mut prog, Expr::Cross(Box::new(a.clone()), Box::new(c.clone()), 1000));
    }
    for x in [&fb, &lk, &hb] {
        out(&mut prog, Expr::HashBucket(Box::new(x.clone()), 7));
        out(&mut prog, Expr::Hash(Box::new(x.clone())));
        out(&mut prog, Expr::Lookup(Box::new(x.clone()), vec!["0".into(), "2".into(), "3".into()]));
    }
    out(&mut prog, f0.clone().bucketize(vec![]));
    out(&mut prog, f0.clone().bucketize(vec![-1.0, 0.0, 2.5, 1e300, f64::INFINITY]));
    out(&mut prog, i0.clone().bucketize(vec![f64::NEG_INFINITY, -1.0, 0.0, 22.0]));
    let batch = edge_batch();
    check(&prog, &batch, "edge values");
    // Sliced at an offset that is not a whole byte, and at every small length.
    for (off, len) in [(3, 100), (9, 1), (0, 0), (17, 7), (1, batch.num_rows() - 1)] {
        check(&prog, &batch.slice(off, len), &format!("slice {off}+{len}"));
    }
}

#[test]
fn documented_semantics() {
    let p = ProgramIr::new(vec![("x", Type::Float64), ("n", Type::Int64), ("b", Type::Boolean)]);
    let (x, n, b) = (p.col("x"), p.col("n"), p.col("b"));
    let prog = p
        .clone()
        .output("div0", n.clone().div(Expr::i64(0)))
        .output("min_div", n.clone().div(Expr::i64(-1)))
        .output("fdiv0", x.clone().div(Expr::f64(0.0)))
        .output("log_neg", x.clone().binary(B::Sub, Expr::f64(10.0)).unary(U::Log))
        .output("and", b.clone().binary(B::And, Expr::bool(false)))
        .output("or", b.clone().binary(B::Or, Expr::bool(true)))
        .output("if_null", b.clone().then(Expr::i64(1), Expr::i64(2)))
        .output("min", x.clone().binary(B::Min, Expr::f64(f64::NAN)))
        .output("bucket", x.clone().bucketize(vec![0.0, 1.0, 2.0]))
        .output("to_int", x.clone().mul(Expr::f64(1e30)).cast(Type::Int64));
    let batch = RecordBatch::try_from_iter(vec![
        ("x", Arc::new(Float64Array::from(vec![Some(1.0), None])) as ArrayRef),
        ("n", Arc::new(Int64Array::from(vec![Some(i64::MIN), Some(4)])) as ArrayRef),
        ("b", Arc::new(BooleanArray::from(vec![None, Some(true)])) as ArrayRef),
    ])
    .unwrap();
    let out = check(&prog, &batch, "semantics");
    let i = |c: &str| out.column_by_name(c).unwrap().as_primitive::<Int64Type>().clone();
    let f = |c: &str| out.column_by_name(c).unwrap().as_primitive::<Float64Type>().clone();
    let bo = |c: &str| out.column_by_name(c).unwrap().as_boolean().clone();
    assert_eq!(i("div0").null_count(), 2);
    assert_eq!(i("min_div").value(0), i64::MIN);
    assert_eq!(i("min_div").value(1), -4);
    assert_eq!(f("fdiv0").value(0), f64::INFINITY);
    assert!(f("fdiv0").is_null(1));
    assert!(f("log_neg").value(0).is_nan());
    assert_eq!((bo("and").is_valid(0), bo("and").value(0)), (true, false));
    assert_eq!((bo("or").is_valid(0), bo("or").value(0)), (true, true));
    assert_eq!(i("if_null").values().to_vec(), vec![2, 1]);
    assert!(f("min").value(0).is_nan());
    assert_eq!(i("bucket").value(0), 2);
    assert!(i("to_int").is_null(0));
    // Null slots are zeroed.
    assert_eq!(f("fdiv0").values()[1].to_bits(), 0);
}

#[test]
fn empty_and_one_row_batches() {
    let p = taxi_program();
    let prog = Program::compile(p.clone()).unwrap();
    for rows in [0, 1, 2, 7, 8, 9, 64, 65] {
        let batch = taxi_batch(rows, rows as u64);
        let got = prog.run(&batch).unwrap();
        assert_eq!(got.num_rows(), rows);
        assert_eq!(got.num_columns(), 14);
        assert_same(&got, &reference::run(&p, &batch).unwrap(), &format!("{rows} rows"));
    }
    // Several chunks (4096 rows each), sliced at an offset that is not a whole byte.
    for (off, len) in [(0, 4096), (0, 4097), (5, 8990), (3, 12_000)] {
        let batch = taxi_batch(off + len, 9).slice(off, len);
        assert_same(&prog.run(&batch).unwrap(), &reference::run(&p, &batch).unwrap(), &format!("{off}+{len}"));
    }
    // No outputs at all.
    let empty = Program::compile(ProgramIr::new(vec![("fare", Type::Float64)])).unwrap();
    assert_eq!(empty.run(&taxi_batch(5, 1)).unwrap().num_rows(), 5);
}

#[test]
fn taxi_block_compiles_fast() {
    let p = taxi_program();
    let mut best = std::time::Duration::MAX;
    for _ in 0..5 {
        best = best.min(Program::compile(p.clone()).unwrap().compile_time());
    }
    println!("taxi block (14 outputs): compiled in {best:?} (best of 5)");
    check(&p, &taxi_batch(10_000, 7), "taxi 10k");
}

#[test]
fn errors_name_the_column_and_expression() {
    let p = taxi_program();
    let prog = Program::compile(p.clone()).unwrap();
    let batch = taxi_batch(3, 1);
    let no_fare = batch.project(&[1, 2, 3, 4, 5]).unwrap();
    let e = prog.run(&no_fare).unwrap_err();
    assert!(matches!(&e, TransformError::MissingColumn { column, .. } if column == "fare"), "{e}");
    let wrong = RecordBatch::try_from_iter(batch.schema().fields().iter().zip(batch.columns()).map(|(f, c)| {
        let c: ArrayRef =
            if f.name() == "trip_seconds" { Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0])) } else { c.clone() };
        (f.name().clone(), c)
    }))
    .unwrap();
    let e = prog.run(&wrong).unwrap_err();
    assert_eq!(e.to_string(), "column `trip_seconds` is Float64, but the program reads it as int64");
    let bad = p.clone().output("bad", p.col("fare").binary(B::And, Expr::bool(true)));
    let e = Program::compile(bad).unwrap_err();
    assert_eq!(e.to_string(), "output `bad`: `and` needs bools, not float64 and bool in `(fare and true)`");
    let bad = p.clone().output("bad", Expr::col(0, Type::Int64));
    assert!(matches!(Program::compile(bad).unwrap_err(), TransformError::BadColumn { index: 0, .. }));
    let bad = p.clone().output("bad", p.col("fare").bucketize(vec![2.0, 1.0]));
    assert!(matches!(Program::compile(bad).unwrap_err(), TransformError::Type { .. }));
    let bad = p.clone().output("fare_log", Expr::f64(1.0));
    assert!(matches!(Program::compile(bad).unwrap_err(), TransformError::Invalid(_)));
}

#[test]
fn shared_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Program>();
    let p = taxi_program();
    let prog = Arc::new(Program::compile(p.clone()).unwrap());
    let batch = taxi_batch(5_000, 3);
    let want = reference::run(&p, &batch).unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| assert_same(&prog.run(&batch).unwrap(), &want, "thread"));
        }
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_programs_match_the_reference(seed in any::<u64>(), rows in 0usize..70, offset in 0usize..9, nulls in 0u8..3) {
        let mut rng = Rng(seed);
        let mut p = random_inputs();
        for k in 0..4 {
            let e = random_expr(&mut rng, &p, Want::Any, 4);
            p = p.output(&format!("o{k}"), e);
        }
        let batch = random_batch(&mut rng, rows + offset, [0.0, 0.2, 0.9][nulls as usize]).slice(offset, rows);
        let shown: Vec<String> = p.outputs.iter().map(|o| o.expr.display(&p.inputs)).collect();
        check(&p, &batch, &format!("seed {seed}: {shown:?}"));
    }
}
