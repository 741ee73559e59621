//! The reference interpreter: the semantics of [`crate::ir`] written plainly, row by row over
//! `Option<f64>`, `Option<i64>`, `Option<bool>` and `Option<String>`. It is slow on purpose (no
//! vectorization, no code generation) and is the oracle the compiled programs are tested
//! against. Unlike the compiled code, it keeps strings as text: it formats `string(x)`,
//! compares strings by content and looks vocabularies up in a hash map, hashing only where the
//! semantics call for a hash.

use crate::error::Result;
use crate::eval::{Values, build_output, pack, resolve_inputs};
use crate::ir::{BinaryOp, Expr, ProgramIr, Scalar, Type, UnaryOp, hash_pair, hash_str};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};

/// One value: its type and whether it is null.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A float or null.
    F(Option<f64>),
    /// An integer or null.
    I(Option<i64>),
    /// A boolean or null.
    B(Option<bool>),
    /// A string or null.
    S(Option<String>),
}

impl Value {
    fn f(&self) -> Option<f64> {
        match self {
            Value::F(x) => *x,
            Value::I(x) => x.map(|x| x as f64),
            Value::B(x) => x.map(|b| if b { 1.0 } else { 0.0 }),
            Value::S(_) => unreachable!("checked: not a string"),
        }
    }
    fn b(&self) -> Option<bool> {
        match self {
            Value::B(x) => *x,
            _ => unreachable!("checked: a bool"),
        }
    }
    /// The text of the value (`string(x)`).
    fn s(&self) -> Option<String> {
        match self {
            Value::F(x) => x.map(|x| format!("{x}")),
            Value::I(x) => x.map(|x| x.to_string()),
            Value::B(x) => x.map(|x| x.to_string()),
            Value::S(x) => x.clone(),
        }
    }
    fn is_null(&self) -> bool {
        matches!(self, Value::F(None) | Value::I(None) | Value::B(None) | Value::S(None))
    }
    fn ty(&self) -> Type {
        match self {
            Value::F(_) => Type::Float64,
            Value::I(_) => Type::Int64,
            Value::B(_) => Type::Boolean,
            Value::S(_) => Type::Utf8,
        }
    }
    /// This value as type `ty` (int → float promotion only; checked programs need no other).
    fn to(self, ty: Type) -> Value {
        match ty {
            Type::Float64 => Value::F(self.f()),
            _ => self,
        }
    }
}

/// IEEE 754-2019 `minimum`: NaN if either is NaN, `-0.0 < +0.0`.
pub fn fminimum(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == b {
        f64::from_bits(a.to_bits() | b.to_bits())
    } else if a < b {
        a
    } else {
        b
    }
}

/// IEEE 754-2019 `maximum`: NaN if either is NaN, `-0.0 < +0.0`.
pub fn fmaximum(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == b {
        f64::from_bits(a.to_bits() & b.to_bits())
    } else if a > b {
        a
    } else {
        b
    }
}

/// A column read row by row.
struct Col<'a>(&'a ArrayRef);

impl Col<'_> {
    fn get(&self, ty: Type, row: usize) -> Value {
        let a = self.0;
        let valid = a.is_valid(row);
        match ty {
            Type::Float64 => Value::F(valid.then(|| a.as_primitive::<Float64Type>().value(row))),
            Type::Int64 => Value::I(valid.then(|| a.as_primitive::<Int64Type>().value(row))),
            Type::Boolean => Value::B(valid.then(|| a.as_boolean().value(row))),
            Type::Utf8 => Value::S(valid.then(|| match a.data_type() {
                arrow_schema::DataType::LargeUtf8 => a.as_string::<i64>().value(row).to_string(),
                arrow_schema::DataType::Utf8View => a.as_string_view().value(row).to_string(),
                _ => a.as_string::<i32>().value(row).to_string(),
            })),
        }
    }
}

/// Evaluates `e` at `row`.
fn eval(e: &Expr, cols: &[Col<'_>], row: usize) -> Value {
    match e {
        Expr::Const(Scalar::Float64(x)) => Value::F(Some(*x)),
        Expr::Const(Scalar::Int64(x)) => Value::I(Some(*x)),
        Expr::Const(Scalar::Boolean(x)) => Value::B(Some(*x)),
        Expr::Str(x) => Value::S(Some(x.clone())),
        Expr::Column { index, ty } => cols[*index].get(*ty, row),
        Expr::Unary(op, x) => {
            let v = eval(x, cols, row);
            match op {
                UnaryOp::IsNull => Value::B(Some(v.is_null())),
                UnaryOp::Not => Value::B(v.b().map(|b| !b)),
                UnaryOp::Neg => match v {
                    Value::I(x) => Value::I(x.map(i64::wrapping_neg)),
                    v => Value::F(v.f().map(|x| -x)),
                },
                UnaryOp::Abs => match v {
                    Value::I(x) => Value::I(x.map(i64::wrapping_abs)),
                    v => Value::F(v.f().map(f64::abs)),
                },
                UnaryOp::Log => Value::F(v.f().map(f64::ln)),
                UnaryOp::Log1p => Value::F(v.f().map(f64::ln_1p)),
                UnaryOp::Exp => Value::F(v.f().map(f64::exp)),
                UnaryOp::Sqrt => Value::F(v.f().map(f64::sqrt)),
                UnaryOp::Round => Value::F(v.f().map(f64::round)),
                UnaryOp::Floor => Value::F(v.f().map(f64::floor)),
                UnaryOp::Ceil => Value::F(v.f().map(f64::ceil)),
            }
        }
        Expr::Binary(op, a, b) => {
            let (va, vb) = (eval(a, cols, row), eval(b, cols, row));
            binary(*op, va, vb)
        }
        Expr::If(c, a, b) => {
            let (va, vb) = (eval(a, cols, row), eval(b, cols, row));
            let ty = crate::ir::unify(va.ty(), vb.ty()).expect("checked");
            if eval(c, cols, row).b() == Some(true) { va.to(ty) } else { vb.to(ty) }
        }
        Expr::FillNull(x, v) => {
            let (vx, vv) = (eval(x, cols, row), eval(v, cols, row));
            let ty = crate::ir::unify(vx.ty(), vv.ty()).expect("checked");
            if vx.is_null() { vv.to(ty) } else { vx.to(ty) }
        }
        Expr::Clip(x, lo, hi) => {
            let (vx, vl, vh) = (eval(x, cols, row), eval(lo, cols, row), eval(hi, cols, row));
            binary(BinaryOp::Min, binary(BinaryOp::Max, vx, vl), vh)
        }
        Expr::Cast(x, ty) => cast(eval(x, cols, row), *ty),
        Expr::Bucketize(x, bounds) => {
            let v = eval(x, cols, row).f();
            Value::I(v.filter(|x| !x.is_nan()).map(|x| bounds.iter().filter(|b| **b <= x).count() as i64))
        }
        Expr::Hash(x) => Value::I(eval(x, cols, row).s().map(|s| hash_str(&s) as i64)),
        Expr::HashBucket(x, n) => Value::I(eval(x, cols, row).s().map(|s| (hash_str(&s) % n) as i64)),
        Expr::Cross(a, b, n) => {
            let (sa, sb) = (eval(a, cols, row).s(), eval(b, cols, row).s());
            Value::I(sa.zip(sb).map(|(a, b)| (hash_pair(hash_str(&a), hash_str(&b)) % n) as i64))
        }
        Expr::Lookup(x, vocabulary) => {
            let s = eval(x, cols, row).s();
            Value::I(s.map(|s| vocabulary.iter().position(|v| *v == s).unwrap_or(vocabulary.len()) as i64))
        }
    }
}

fn binary(op: BinaryOp, va: Value, vb: Value) -> Value {
    use BinaryOp::*;
    match op {
        And => Value::B(match (va.b(), vb.b()) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        }),
        Or => Value::B(match (va.b(), vb.b()) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        }),
        Eq | Ne if va.ty() == Type::Utf8 => {
            let r = va.s().zip(vb.s()).map(|(a, b)| a == b);
            Value::B(if op == Eq { r } else { r.map(|r| !r) })
        }
        Eq | Ne if va.ty() == Type::Boolean => {
            let r = va.b().zip(vb.b()).map(|(a, b)| a == b);
            Value::B(if op == Eq { r } else { r.map(|r| !r) })
        }
        Lt | Le | Gt | Ge | Eq | Ne => {
            let r = if let (Value::I(a), Value::I(b)) = (&va, &vb) {
                let (a, b) = (*a, *b);
                a.zip(b).map(|(a, b)| match op {
                    Lt => a < b,
                    Le => a <= b,
                    Gt => a > b,
                    Ge => a >= b,
                    Eq => a == b,
                    _ => a != b,
                })
            } else {
                va.f().zip(vb.f()).map(|(a, b)| match op {
                    Lt => a < b,
                    Le => a <= b,
                    Gt => a > b,
                    Ge => a >= b,
                    Eq => a == b,
                    _ => a != b,
                })
            };
            Value::B(r)
        }
        Pow => Value::F(va.f().zip(vb.f()).map(|(a, b)| a.powf(b))),
        Add | Sub | Mul | Div | Rem | Min | Max => {
            if let (Value::I(a), Value::I(b)) = (&va, &vb) {
                let (a, b) = (*a, *b);
                Value::I(a.zip(b).and_then(|(a, b)| match op {
                    Add => Some(a.wrapping_add(b)),
                    Sub => Some(a.wrapping_sub(b)),
                    Mul => Some(a.wrapping_mul(b)),
                    Div => (b != 0).then(|| a.wrapping_div(b)),
                    Rem => (b != 0).then(|| a.wrapping_rem(b)),
                    Min => Some(a.min(b)),
                    _ => Some(a.max(b)),
                }))
            } else {
                Value::F(va.f().zip(vb.f()).map(|(a, b)| match op {
                    Add => a + b,
                    Sub => a - b,
                    Mul => a * b,
                    Div => a / b,
                    Rem => a % b,
                    Min => fminimum(a, b),
                    _ => fmaximum(a, b),
                }))
            }
        }
    }
}

fn cast(v: Value, ty: Type) -> Value {
    match (v, ty) {
        (v, Type::Utf8) => Value::S(v.s()),
        (Value::F(x), Type::Float64) => Value::F(x),
        (Value::I(x), Type::Int64) => Value::I(x),
        (Value::B(x), Type::Boolean) => Value::B(x),
        (v, Type::Float64) => Value::F(v.f()),
        (Value::B(x), Type::Int64) => Value::I(x.map(i64::from)),
        (Value::F(x), Type::Int64) => Value::I(
            x.filter(|x| *x >= -9_223_372_036_854_775_808.0 && *x < 9_223_372_036_854_775_808.0).map(|x| x as i64),
        ),
        (Value::I(x), Type::Boolean) => Value::B(x.map(|x| x != 0)),
        (Value::F(x), Type::Boolean) => Value::B(x.filter(|x| !x.is_nan()).map(|x| x != 0.0)),
        (Value::S(_), _) => unreachable!("checked: strings convert only to strings"),
    }
}

/// Runs `program` over `batch` row by row: the same contract as [`crate::Program::run`]
/// (input columns by name, exact types, null slots zeroed).
pub fn run(program: &ProgramIr, batch: &RecordBatch) -> Result<RecordBatch> {
    let types = program.check()?;
    let arrays = resolve_inputs(&program.inputs, batch)?;
    let cols: Vec<Col<'_>> = arrays.iter().map(Col).collect();
    let n = batch.num_rows();
    let mut columns = Vec::with_capacity(program.outputs.len());
    for (o, ty) in program.outputs.iter().zip(&types) {
        let mut values = vec![0u64; n];
        let mut valid = vec![0u8; n];
        for row in 0..n {
            let (bits, ok) = match eval(&o.expr, &cols, row).to(*ty) {
                Value::F(x) => (x.map(f64::to_bits), x.is_some()),
                Value::I(x) => (x.map(|x| x as u64), x.is_some()),
                Value::B(x) => (x.map(u64::from), x.is_some()),
                Value::S(_) => unreachable!("checked: outputs are never strings"),
            };
            values[row] = bits.unwrap_or(0);
            valid[row] = u8::from(ok);
        }
        let mut bits = vec![0u64; n.div_ceil(64)];
        pack(&valid, &mut bits);
        let values = if *ty == Type::Boolean {
            let bytes: Vec<u8> = values.iter().map(|w| u8::from(*w != 0)).collect();
            let mut b = vec![0u64; n.div_ceil(64)];
            pack(&bytes, &mut b);
            Values::Bits(b)
        } else {
            Values::Words(values)
        };
        columns.push((o.name.clone(), *ty, values, bits));
    }
    build_output(n, columns)
}
