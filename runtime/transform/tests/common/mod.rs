//! Shared by the tests and the bench: the taxi-like feature block, data generators and a
//! comparison of output batches that treats every NaN as equal.

#![allow(dead_code)]

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use mlp_transform::{BinaryOp as B, Expr, ProgramIr, Type, UnaryOp as U};
use serde_json::{Value, json};
use std::sync::Arc;

/// A small deterministic generator (splitmix64).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

pub const SPECIAL_F64: [f64; 16] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    2.5,
    -3.75,
    22.0,
    6.0,
    1e300,
    -1e300,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    5e-324,
    9.3e18,
];

pub const SPECIAL_I64: [i64; 10] = [0, 1, -1, 2, 3, 22, 6, i64::MIN, i64::MAX, -7];

pub fn random_f64(rng: &mut Rng) -> f64 {
    if rng.chance(0.5) { SPECIAL_F64[rng.below(SPECIAL_F64.len())] } else { (rng.unit() - 0.5) * 100.0 }
}

pub fn random_i64(rng: &mut Rng) -> i64 {
    if rng.chance(0.5) { SPECIAL_I64[rng.below(SPECIAL_I64.len())] } else { rng.below(61) as i64 - 30 }
}

/// The random programs' inputs: two columns of each type.
pub fn random_inputs() -> ProgramIr {
    ProgramIr::new(vec![
        ("f0", Type::Float64),
        ("f1", Type::Float64),
        ("i0", Type::Int64),
        ("i1", Type::Int64),
        ("b0", Type::Boolean),
        ("b1", Type::Boolean),
        ("s0", Type::Utf8),
        ("s1", Type::Utf8),
    ])
}

/// Strings the random string columns and constants draw from: some that other values print
/// as (`"1"`, `"-0"`, `"NaN"`, `"true"`), so that lookups and comparisons hit.
pub const STRINGS: [&str; 10] = ["", "a", "cash", "Credit Card", "1", "-0", "NaN", "true", "22", "ü"];

/// A batch of `rows` rows for [`random_inputs`], with nulls at rate `null_rate`.
pub fn random_batch(rng: &mut Rng, rows: usize, null_rate: f64) -> RecordBatch {
    let mut cols: Vec<(&str, ArrayRef)> = Vec::new();
    for name in ["f0", "f1"] {
        let v: Float64Array = (0..rows).map(|_| (!rng.chance(null_rate)).then(|| random_f64(rng))).collect();
        cols.push((name, Arc::new(v)));
    }
    for name in ["i0", "i1"] {
        let v: Int64Array = (0..rows).map(|_| (!rng.chance(null_rate)).then(|| random_i64(rng))).collect();
        cols.push((name, Arc::new(v)));
    }
    for name in ["b0", "b1"] {
        let v: BooleanArray = (0..rows).map(|_| (!rng.chance(null_rate)).then(|| rng.chance(0.5))).collect();
        cols.push((name, Arc::new(v)));
    }
    for name in ["s0", "s1"] {
        let v: StringArray =
            (0..rows).map(|_| (!rng.chance(null_rate)).then(|| STRINGS[rng.below(STRINGS.len())])).collect();
        cols.push((name, Arc::new(v)));
    }
    RecordBatch::try_from_iter(cols).unwrap()
}

/// What an operand must be.
#[derive(Clone, Copy, PartialEq)]
pub enum Want {
    Num,
    Bool,
    Any,
}

fn ty(e: &Expr, p: &ProgramIr) -> Type {
    mlp_transform::ir::type_of(e, &p.inputs, "gen").unwrap()
}

fn fit(rng: &mut Rng, e: Expr, want: Want, p: &ProgramIr) -> Expr {
    match (want, ty(&e, p)) {
        (Want::Num | Want::Any, Type::Utf8) => match rng.below(3) {
            0 => Expr::HashBucket(Box::new(e), [1, 7, 1000][rng.below(3)]),
            1 => Expr::Hash(Box::new(e)),
            _ => Expr::Lookup(Box::new(e), random_vocabulary(rng)),
        },
        (Want::Bool, Type::Utf8) => {
            let op = if rng.chance(0.5) { B::Eq } else { B::Ne };
            e.binary(op, Expr::Str(STRINGS[rng.below(STRINGS.len())].to_string()))
        }
        (Want::Num, Type::Boolean) => e.cast(if rng.chance(0.5) { Type::Float64 } else { Type::Int64 }),
        (Want::Bool, Type::Float64 | Type::Int64) => {
            if rng.chance(0.5) {
                e.cast(Type::Boolean)
            } else {
                e.binary(B::Gt, Expr::f64(random_f64(rng)))
            }
        }
        _ => e,
    }
}

fn leaf(rng: &mut Rng, p: &ProgramIr) -> Expr {
    match rng.below(5) {
        0 => Expr::f64(random_f64(rng)),
        1 => Expr::i64(random_i64(rng)),
        2 => Expr::bool(rng.chance(0.5)),
        _ => {
            let i = rng.below(p.inputs.len());
            Expr::col(i, p.inputs[i].ty)
        }
    }
}

/// Some distinct strings of the pool, in random order.
fn random_vocabulary(rng: &mut Rng) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for _ in 0..rng.below(STRINGS.len() + 1) {
        let s = STRINGS[rng.below(STRINGS.len())].to_string();
        if !v.contains(&s) {
            v.push(s);
        }
    }
    v
}

/// A random string expression over `p`'s inputs.
pub fn random_str(rng: &mut Rng, p: &ProgramIr, depth: usize) -> Expr {
    let d = depth.saturating_sub(1);
    match if depth == 0 { rng.below(3) } else { rng.below(6) } {
        0 => p.col(if rng.chance(0.5) { "s0" } else { "s1" }),
        1 => Expr::Str(STRINGS[rng.below(STRINGS.len())].to_string()),
        2 => leaf(rng, p).cast(Type::Utf8),
        3 => random_expr(rng, p, Want::Any, d).cast(Type::Utf8),
        4 => random_expr(rng, p, Want::Bool, d).then(random_str(rng, p, d), random_str(rng, p, d)),
        _ => random_str(rng, p, d).fill_null(random_str(rng, p, d)),
    }
}

/// A random well-typed expression over `p`'s inputs.
pub fn random_expr(rng: &mut Rng, p: &ProgramIr, want: Want, depth: usize) -> Expr {
    let e = if depth == 0 || rng.chance(0.2) {
        leaf(rng, p)
    } else {
        let d = depth - 1;
        match rng.below(11) {
            9 => {
                let (a, b) = (random_str(rng, p, d), random_str(rng, p, d));
                match rng.below(5) {
                    4 => Expr::Cross(
                        Box::new(random_expr(rng, p, Want::Num, d)),
                        Box::new(random_expr(rng, p, Want::Num, d)),
                        [1, 5, 256][rng.below(3)],
                    ),
                    0 => Expr::Cross(Box::new(a), Box::new(b), [1, 5, 256][rng.below(3)]),
                    1 => Expr::Cross(Box::new(random_expr(rng, p, Want::Any, d)), Box::new(b), 64),
                    2 => a.binary(if rng.chance(0.5) { B::Eq } else { B::Ne }, b),
                    _ => Expr::Lookup(Box::new(random_expr(rng, p, Want::Any, d)), random_vocabulary(rng)),
                }
            }
            0 | 1 => {
                let op = U::ALL[rng.below(U::ALL.len())];
                let w = match op {
                    U::Not => Want::Bool,
                    U::IsNull => Want::Any,
                    _ => Want::Num,
                };
                random_expr(rng, p, w, d).unary(op)
            }
            2..=4 => {
                let op = B::ALL[rng.below(B::ALL.len())];
                let w = match op {
                    B::And | B::Or => Want::Bool,
                    B::Eq | B::Ne if rng.chance(0.3) => Want::Bool,
                    _ => Want::Num,
                };
                random_expr(rng, p, w, d).binary(op, random_expr(rng, p, w, d))
            }
            5 => {
                let c = random_expr(rng, p, Want::Bool, d);
                let a = random_expr(rng, p, Want::Any, d);
                let b = random_expr(rng, p, Want::Any, d);
                let (ta, tb) = (ty(&a, p), ty(&b, p));
                let b = if ta == tb || (ta.is_numeric() && tb.is_numeric()) { b } else { b.cast(ta) };
                if rng.chance(0.5) { c.then(a, b) } else { a.fill_null(b) }
            }
            6 => random_expr(rng, p, Want::Num, d)
                .clip(random_expr(rng, p, Want::Num, d), random_expr(rng, p, Want::Num, d)),
            7 => {
                let to = [Type::Float64, Type::Int64, Type::Boolean][rng.below(3)];
                random_expr(rng, p, Want::Any, d).cast(to)
            }
            _ => {
                let mut b: Vec<f64> = (0..rng.below(5)).map(|_| (rng.unit() - 0.5) * 60.0).collect();
                if rng.chance(0.3) {
                    b.push(f64::INFINITY);
                }
                b.sort_by(f64::total_cmp);
                b.dedup();
                random_expr(rng, p, Want::Num, d).bucketize(b)
            }
        }
    };
    fit(rng, e, want, p)
}

/// Panics unless the two batches are equal: same schema, same nulls, same values (bit for
/// bit, except that every NaN equals every NaN), null slots included.
pub fn assert_same(compiled: &RecordBatch, reference: &RecordBatch, what: &str) {
    assert_eq!(compiled.schema(), reference.schema(), "{what}");
    assert_eq!(compiled.num_rows(), reference.num_rows(), "{what}");
    for (j, (a, b)) in compiled.columns().iter().zip(reference.columns()).enumerate() {
        let name = compiled.schema().field(j).name().clone();
        assert_eq!(a.nulls(), b.nulls(), "{what}: nulls of `{name}`");
        for i in 0..a.len() {
            match a.data_type() {
                arrow_schema::DataType::Float64 => {
                    let (x, y) = (a.as_primitive::<Float64Type>().value(i), b.as_primitive::<Float64Type>().value(i));
                    assert!(
                        x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
                        "{what}: `{name}` row {i}: compiled {x:?}, reference {y:?}"
                    );
                }
                arrow_schema::DataType::Int64 => {
                    let (x, y) = (a.as_primitive::<Int64Type>().value(i), b.as_primitive::<Int64Type>().value(i));
                    assert_eq!(x, y, "{what}: `{name}` row {i}");
                }
                _ => {
                    let (x, y) = (a.as_boolean().value(i), b.as_boolean().value(i));
                    assert_eq!(x, y, "{what}: `{name}` row {i}");
                }
            }
        }
    }
}

/// The taxi-like feature block: 14 outputs over 6 inputs.
pub fn taxi_program() -> ProgramIr {
    let p = ProgramIr::new(vec![
        ("fare", Type::Float64),
        ("trip_miles", Type::Float64),
        ("trip_seconds", Type::Int64),
        ("trip_start_hour", Type::Int64),
        ("tips", Type::Float64),
        ("payment_cash", Type::Boolean),
    ]);
    let fare = p.col("fare");
    let miles = p.col("trip_miles");
    let secs = p.col("trip_seconds");
    let hour = p.col("trip_start_hour");
    let tips = p.col("tips");
    let cash = p.col("payment_cash");
    let hours = secs.clone().cast(Type::Float64).div(Expr::f64(3600.0)).binary(B::Max, Expr::f64(1.0 / 60.0));
    p.clone()
        .output("fare_log", fare.clone().unary(U::Log1p))
        .output("fare_per_mile", fare.clone().div(miles.clone().binary(B::Max, Expr::f64(0.1))))
        .output(
            "night",
            hour.clone()
                .binary(B::Ge, Expr::i64(22))
                .binary(B::Or, hour.clone().binary(B::Lt, Expr::i64(6)))
                .then(Expr::i64(1), Expr::i64(0)),
        )
        .output("miles_log", miles.clone().fill_null(Expr::f64(0.0)).unary(U::Log1p))
        .output("speed_mph", miles.clone().div(hours.clone()))
        .output("fare_clipped", fare.clone().clip(Expr::f64(0.0), Expr::f64(200.0)))
        .output("tip_rate", tips.clone().fill_null(Expr::f64(0.0)).div(fare.clone().binary(B::Max, Expr::f64(1.0))))
        .output(
            "big_tipper",
            tips.clone().div(fare.clone().binary(B::Max, Expr::f64(1.0))).binary(B::Gt, Expr::f64(0.2)),
        )
        .output("hour_bucket", hour.clone().bucketize(vec![6.0, 10.0, 16.0, 20.0]))
        .output("miles_bucket", miles.clone().bucketize(vec![0.5, 1.0, 2.0, 5.0, 10.0, 20.0]))
        .output("minutes", secs.clone().div(Expr::i64(60)))
        .output("fare_sqrt", fare.clone().unary(U::Abs).unary(U::Sqrt))
        .output("fare_z", fare.clone().sub(Expr::f64(12.5)).div(Expr::f64(9.0)).clip(Expr::f64(-5.0), Expr::f64(5.0)))
        .output("cash_night", cash.clone().binary(B::And, hour.binary(B::Ge, Expr::i64(22))))
}

/// A batch for [`taxi_program`] of `rows` rows, with about 2% nulls.
pub fn taxi_batch(rows: usize, seed: u64) -> RecordBatch {
    let mut rng = Rng(seed);
    let mut f =
        |scale: f64| -> Float64Array { (0..rows).map(|_| (!rng.chance(0.02)).then(|| rng.unit() * scale)).collect() };
    let fare = f(80.0);
    let miles = f(25.0);
    let tips = f(15.0);
    let mut rng = Rng(seed ^ 0xabcdef);
    let secs: Int64Array = (0..rows).map(|_| (!rng.chance(0.02)).then(|| rng.below(7200) as i64)).collect();
    let hour: Int64Array = (0..rows).map(|_| (!rng.chance(0.02)).then(|| rng.below(24) as i64)).collect();
    let cash: BooleanArray = (0..rows).map(|_| (!rng.chance(0.02)).then(|| rng.chance(0.3))).collect();
    RecordBatch::try_from_iter(vec![
        ("fare", Arc::new(fare) as ArrayRef),
        ("trip_miles", Arc::new(miles) as ArrayRef),
        ("trip_seconds", Arc::new(secs) as ArrayRef),
        ("trip_start_hour", Arc::new(hour) as ArrayRef),
        ("tips", Arc::new(tips) as ArrayRef),
        ("payment_cash", Arc::new(cash) as ArrayRef),
    ])
    .unwrap()
}

// ---- the example's feature block ----------------------------------------------------------------

pub fn col(n: &str) -> Value {
    json!({ "column": n })
}
pub fn feat(n: &str) -> Value {
    json!({ "feature": n })
}
pub fn int(x: i64) -> Value {
    json!({ "lit": { "type": "int", "value": x } })
}
pub fn float(x: f64) -> Value {
    json!({ "lit": { "type": "float", "value": x } })
}
pub fn call(f: &str, args: Vec<Value>) -> Value {
    json!({ "call": { "func": f, "args": args, "named": {} } })
}
pub fn call_named(f: &str, args: Vec<Value>, named: Vec<(&str, Value)>) -> Value {
    let named: serde_json::Map<String, Value> = named.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    json!({ "call": { "func": f, "args": args, "named": named } })
}
pub fn bin(op: &str, a: Value, b: Value) -> Value {
    json!({ "binary": { "op": op, "lhs": a, "rhs": b } })
}

/// The taxi example's feature block (`examples/taxi/features.mlp`), as `mlp graph --format
/// json` shows the step's `features` parameter, with `top = company_top` for `company_id`
/// (the example has 100).
pub fn taxi_spec(company_top: i64) -> Value {
    let features = vec![
        ("big_tipper", bin("gt", col("tips"), bin("mul", col("fare"), float(0.2)))),
        ("fare_log", call("log1p", vec![col("fare")])),
        ("fare_per_mile", bin("div", col("fare"), call("max", vec![col("trip_miles"), float(0.1)]))),
        ("miles_z", call("zscore", vec![col("trip_miles")])),
        ("seconds_z", call("zscore", vec![call("fill_null", vec![col("trip_seconds"), int(0)])])),
        (
            "hour_bucket",
            call(
                "bucketize",
                vec![
                    col("trip_start_hour"),
                    json!({ "lit": { "type": "list", "value": [
                        { "type": "int", "value": 6 }, { "type": "int", "value": 10 },
                        { "type": "int", "value": 16 }, { "type": "int", "value": 20 }] } }),
                ],
            ),
        ),
        (
            "night",
            json!({ "if": {
                "cond": bin("or", bin("ge", col("trip_start_hour"), int(22)), bin("lt", col("trip_start_hour"), int(6))),
                "then": int(1), "otherwise": int(0) } }),
        ),
        ("company_id", call_named("vocabulary", vec![col("company")], vec![("top", int(company_top))])),
        ("payment_id", call_named("vocabulary", vec![col("payment_type")], vec![("top", int(10))])),
        ("area_id", call("hash_bucket", vec![call("string", vec![col("pickup_community_area")]), int(64)])),
        ("pickup_cell", call_named("cross", vec![feat("pickup_lat"), feat("pickup_lon")], vec![("buckets", int(256))])),
        ("pickup_lat", call_named("quantile_bucket", vec![col("pickup_latitude")], vec![("buckets", int(10))])),
        ("pickup_lon", call_named("quantile_bucket", vec![col("pickup_longitude")], vec![("buckets", int(10))])),
    ];
    json!({ "type": "features", "value": features.into_iter().map(|(n, e)| json!({ "name": n, "expr": e })).collect::<Vec<_>>() })
}

/// The `features` parameter of the example's transform step, read from
/// `examples/taxi/transform.mlp` (and the files it imports) and lowered by the language's front
/// end, exactly as the transform component receives it.
pub fn example_spec() -> Value {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let read = |p: std::path::PathBuf| std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut files: Vec<(String, String)> = ["transform.mlp", "features.mlp", "describe.mlp"]
        .iter()
        .map(|f| (f.to_string(), read(root.join("examples/taxi").join(f))))
        .collect();
    files.push(("std/tabular.mlp".into(), read(root.join("stdlib/tabular.mlp"))));
    let loader = mlp_lang::source::MemoryLoader::new(files);
    let checked = mlp_lang::check("transform.mlp", &loader, &mlp_lang::CheckOptions::default());
    let ir = checked.ir.unwrap_or_else(|| panic!("the example does not check: {:?}", checked.diagnostics));
    let step = ir.steps.iter().find(|s| s.id == "features/transform").expect("the example's transform step");
    serde_json::to_value(&step.params["features"]).unwrap()
}
