//! The expression IR of feature transforms: typed expressions over the columns of a batch
//! ([`Expr`]), programs of several named outputs ([`ProgramIr`]), and the type checker.
//!
//! The front end (`mlp-lang`'s feature blocks) lowers to this IR; [`crate::compile`] turns a
//! checked program into native code and [`crate::reference`] interprets it row by row. Both
//! follow the semantics documented here, which the tests hold them to.
//!
//! # Types
//!
//! Four value types: [`Type::Float64`], [`Type::Int64`], [`Type::Boolean`] and [`Type::Utf8`].
//! Strings can be read, compared for equality, converted from numbers (`string(x)`), hashed
//! (`hash`, `hash_bucket`, `cross`) and looked up in a vocabulary, all of which need only their
//! identity: the compiled code carries a string as its 64-bit hash ([`hash_str`]), and outputs
//! are never strings. Arithmetic on two
//! integers stays integer (wrapping two's complement; `/` truncates toward zero); with a float
//! on either side the integer is converted (`as f64`, round to nearest) and the result is a
//! float. `pow`, `log`, `log1p`, `exp`, `sqrt` always give floats. `bucketize` gives an integer.
//!
//! # Null semantics
//!
//! - Arithmetic, comparisons, math functions, `min`/`max`, `clip`, `cast` and `bucketize`
//!   propagate null: any null operand gives null.
//! - `and`/`or` use three-valued (Kleene) logic: `false and null = false`,
//!   `true or null = true`, otherwise null if an operand is null.
//! - `if c then a else b` takes the else branch when `c` is null.
//! - `is_null(x)` is never null; `fill_null(x, v)` is `x` where `x` is valid, else `v`.
//! - Float division by zero, `log` of zero or of a negative number, `sqrt(-1)`, `pow(-8, 0.5)`
//!   give the IEEE results (`inf`, `NaN`), not null. Float math is that of Rust's `f64` methods
//!   (`ln`, `ln_1p`, `exp`, `powf`, `sqrt`, `abs`).
//! - Integer division by zero gives null; `i64::MIN / -1` wraps to `i64::MIN`.
//! - Float `min`/`max` are IEEE 754-2019 `minimum`/`maximum`: NaN if either operand is NaN,
//!   and `-0.0 < +0.0`. Integer `min`/`max` are the usual ones. `clip(x, lo, hi)` is
//!   `min(max(x, lo), hi)` (so `hi` wins when `lo > hi`).
//! - Float comparisons are IEEE: every comparison with NaN is false, except `!=` which is true.
//! - `cast` float → int truncates toward zero; NaN and values outside the `i64` range give null.
//!   int/float → bool is `x != 0` (NaN gives null); bool → int/float is 1 or 0.
//! - `bucketize(x, b)` (boundaries strictly increasing, no NaN) is the number of boundaries
//!   `<= x`, in `0..=b.len()`; a NaN `x` gives null.
//! - `x % y` is the remainder with the sign of `x` (Rust's `%`): integer `x % 0` is null,
//!   `i64::MIN % -1` is 0; float `%` is IEEE `fmod` (`x % 0.0` is NaN). `round` rounds half
//!   away from zero; `round`, `floor` and `ceil` give floats.
//! - `string(x)` is the text of `x`: integers in decimal, floats as Rust's `{}` prints them
//!   (`1.5`, `1`, `-0`, `NaN`, `inf`), booleans `true`/`false`; null stays null.
//! - `hash(x)` is XXH3-64 (seed 0) of the UTF-8 bytes of `string(x)` (of `x` itself for a
//!   string), as an `int` (the 64 bits, two's complement); `hash_bucket(x, n)` is that hash as
//!   an unsigned number modulo `n`; `cross(a, b, n)` is XXH3-64 (seed 0) of the 16 bytes
//!   `hash(a)` then `hash(b)` (little-endian), modulo `n`. Null operands give null. These are
//!   stable across versions and machines: a fitted transform gives the same buckets anywhere.
//! - `lookup(x, vocabulary)` is the position of `string(x)` in the vocabulary, or the
//!   vocabulary's length when it is not there (the out-of-vocabulary bucket); null gives null.
//! - Values of null slots in outputs are zero (false), so outputs are byte-for-byte
//!   deterministic.

use crate::error::{Result, TransformError};
use serde::{Deserialize, Serialize};
use std::fmt::{self, Write as _};

/// The type of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Type {
    /// 64-bit IEEE float (Arrow `Float64`).
    Float64,
    /// 64-bit signed integer (Arrow `Int64`).
    Int64,
    /// Boolean (Arrow `Boolean`).
    Boolean,
    /// A UTF-8 string (Arrow `Utf8` or `LargeUtf8`); an input or an intermediate value, never
    /// an output.
    Utf8,
}

/// The 64-bit hash of a string: XXH3-64 with seed 0 of its UTF-8 bytes. The compiled code
/// represents a string by this value.
pub fn hash_str(s: &str) -> u64 {
    twox_hash::XxHash3_64::oneshot(s.as_bytes())
}

/// The hash of a pair of hashes, for `cross`: XXH3-64 with seed 0 of their 16 little-endian
/// bytes.
pub fn hash_pair(a: u64, b: u64) -> u64 {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&a.to_le_bytes());
    bytes[8..].copy_from_slice(&b.to_le_bytes());
    twox_hash::XxHash3_64::oneshot(&bytes)
}

/// A fixed buffer that numbers are printed into without allocating.
struct Text {
    buf: [u8; 40],
    len: usize,
}

impl fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// `hash(string(x))` for an integer, without allocating (decimal digits by `itoa`, the same
/// text as `{}` prints).
pub fn hash_i64(x: i64) -> u64 {
    let mut buf = itoa::Buffer::new();
    twox_hash::XxHash3_64::oneshot(buf.format(x).as_bytes())
}

/// `hash(string(x))` for a float: the hash of Rust's `{}` text of `x`.
pub fn hash_f64(x: f64) -> u64 {
    let mut t = Text { buf: [0; 40], len: 0 };
    if write!(t, "{x}").is_ok() {
        twox_hash::XxHash3_64::oneshot(&t.buf[..t.len])
    } else {
        // Very large or very small magnitudes print longer than the buffer.
        hash_str(&x.to_string())
    }
}

impl Type {
    /// Whether the type is a number.
    pub fn is_numeric(self) -> bool {
        matches!(self, Type::Float64 | Type::Int64)
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Type::Float64 => "float64",
            Type::Int64 => "int64",
            Type::Boolean => "bool",
            Type::Utf8 => "string",
        })
    }
}

/// A constant.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scalar {
    /// A float (written as a JSON number, or `"NaN"`, `"inf"`, `"-inf"`).
    Float64(#[serde(with = "crate::ir::json_f64")] f64),
    /// An integer.
    Int64(i64),
    /// A boolean.
    Boolean(bool),
}

impl Scalar {
    /// The constant's type.
    pub fn ty(self) -> Type {
        match self {
            Scalar::Float64(_) => Type::Float64,
            Scalar::Int64(_) => Type::Int64,
            Scalar::Boolean(_) => Type::Boolean,
        }
    }
}

/// A function of one operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnaryOp {
    /// `-x` (wrapping for integers).
    Neg,
    /// `not x` (booleans).
    Not,
    /// `abs(x)` (wrapping for integers: `abs(i64::MIN) = i64::MIN`).
    Abs,
    /// `log(x)`, the natural logarithm (float).
    Log,
    /// `log1p(x)` = `ln(1 + x)`, accurate near zero (float).
    Log1p,
    /// `exp(x)` (float).
    Exp,
    /// `sqrt(x)` (float).
    Sqrt,
    /// `round(x)`, half away from zero (float).
    Round,
    /// `floor(x)` (float).
    Floor,
    /// `ceil(x)` (float).
    Ceil,
    /// `is_null(x)`: never null.
    IsNull,
}

impl UnaryOp {
    /// Every unary operator.
    pub const ALL: [UnaryOp; 11] = [
        UnaryOp::Neg,
        UnaryOp::Not,
        UnaryOp::Abs,
        UnaryOp::Log,
        UnaryOp::Log1p,
        UnaryOp::Exp,
        UnaryOp::Sqrt,
        UnaryOp::Round,
        UnaryOp::Floor,
        UnaryOp::Ceil,
        UnaryOp::IsNull,
    ];

    /// The operator's name as written in expressions.
    pub fn name(self) -> &'static str {
        match self {
            UnaryOp::Neg => "-",
            UnaryOp::Not => "not",
            UnaryOp::Abs => "abs",
            UnaryOp::Log => "log",
            UnaryOp::Log1p => "log1p",
            UnaryOp::Exp => "exp",
            UnaryOp::Sqrt => "sqrt",
            UnaryOp::Round => "round",
            UnaryOp::Floor => "floor",
            UnaryOp::Ceil => "ceil",
            UnaryOp::IsNull => "is_null",
        }
    }
}

/// A function of two operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BinaryOp {
    /// `a + b`.
    Add,
    /// `a - b`.
    Sub,
    /// `a * b`.
    Mul,
    /// `a / b`.
    Div,
    /// `a % b`.
    Rem,
    /// `pow(a, b)` (float).
    Pow,
    /// `min(a, b)`.
    Min,
    /// `max(a, b)`.
    Max,
    /// `a < b`.
    Lt,
    /// `a <= b`.
    Le,
    /// `a > b`.
    Gt,
    /// `a >= b`.
    Ge,
    /// `a == b`.
    Eq,
    /// `a != b`.
    Ne,
    /// `a and b` (three-valued).
    And,
    /// `a or b` (three-valued).
    Or,
}

impl BinaryOp {
    /// Every binary operator.
    pub const ALL: [BinaryOp; 16] = [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Rem,
        BinaryOp::Pow,
        BinaryOp::Min,
        BinaryOp::Max,
        BinaryOp::Lt,
        BinaryOp::Le,
        BinaryOp::Gt,
        BinaryOp::Ge,
        BinaryOp::Eq,
        BinaryOp::Ne,
        BinaryOp::And,
        BinaryOp::Or,
    ];

    /// The operator's name as written in expressions.
    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
            BinaryOp::Pow => "pow",
            BinaryOp::Min => "min",
            BinaryOp::Max => "max",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::And => "and",
            BinaryOp::Or => "or",
        }
    }

    /// Whether the operator is written as a function call (`pow(a, b)`) rather than infix.
    fn is_call(self) -> bool {
        matches!(self, BinaryOp::Pow | BinaryOp::Min | BinaryOp::Max)
    }

    /// Whether the operator compares numbers (or booleans for `==`/`!=`).
    pub fn is_comparison(self) -> bool {
        matches!(self, BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge | BinaryOp::Eq | BinaryOp::Ne)
    }
}

/// A typed expression over the input columns of a program.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expr {
    /// A constant (never null).
    Const(Scalar),
    /// A string constant (never null).
    Str(String),
    /// Input column `index` of the program, of type `ty` (must match the input's declaration).
    Column {
        /// Index into [`ProgramIr::inputs`].
        index: usize,
        /// The declared type.
        ty: Type,
    },
    /// A function of one operand.
    Unary(UnaryOp, Box<Expr>),
    /// A function of two operands.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `if c then a else b`; a null `c` takes `b`.
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `fill_null(x, v)`.
    FillNull(Box<Expr>, Box<Expr>),
    /// `clip(x, lo, hi)` = `min(max(x, lo), hi)`.
    Clip(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `cast(x as ty)`.
    Cast(Box<Expr>, Type),
    /// `bucketize(x, boundaries)`: the number of boundaries `<= x` (an integer).
    Bucketize(Box<Expr>, #[serde(with = "crate::ir::json_f64s")] Vec<f64>),
    /// `hash(x)`: the 64-bit hash of `string(x)`, as an integer.
    Hash(Box<Expr>),
    /// `hash_bucket(x, n)`: `hash(x)` modulo `n` (unsigned), in `0..n`.
    HashBucket(Box<Expr>, u64),
    /// `cross(a, b, n)`: the hash of the pair `hash(a)`, `hash(b)` modulo `n`, in `0..n`.
    Cross(Box<Expr>, Box<Expr>, u64),
    /// `lookup(x, vocabulary)`: the position of `string(x)` in the vocabulary, or its length.
    Lookup(Box<Expr>, Vec<String>),
}

/// JSON for an `f64` that may not be finite: a number, or `"NaN"`, `"inf"`, `"-inf"`.
pub(crate) mod json_f64 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
        if x.is_finite() {
            s.serialize_f64(*x)
        } else if x.is_nan() {
            s.serialize_str("NaN")
        } else if *x > 0.0 {
            s.serialize_str("inf")
        } else {
            s.serialize_str("-inf")
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        N(f64),
        S(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        match Repr::deserialize(d)? {
            Repr::N(x) => Ok(x),
            Repr::S(s) => match s.as_str() {
                "NaN" => Ok(f64::NAN),
                "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                _ => Err(D::Error::custom(format!(
                    "`{s}` is not a number (expected a number, \"NaN\", \"inf\" or \"-inf\")"
                ))),
            },
        }
    }
}

/// [`json_f64`] for a list.
pub(crate) mod json_f64s {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct F(#[serde(with = "super::json_f64")] f64);

    pub fn serialize<S: Serializer>(xs: &[f64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(xs.iter().map(|x| F(*x)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Ok(Vec::<F>::deserialize(d)?.into_iter().map(|f| f.0).collect())
    }
}

#[allow(clippy::should_implement_trait)]
impl Expr {
    /// A float constant.
    pub fn f64(x: f64) -> Expr {
        Expr::Const(Scalar::Float64(x))
    }
    /// An integer constant.
    pub fn i64(x: i64) -> Expr {
        Expr::Const(Scalar::Int64(x))
    }
    /// A boolean constant.
    pub fn bool(x: bool) -> Expr {
        Expr::Const(Scalar::Boolean(x))
    }
    /// Input column `index` of type `ty`.
    pub fn col(index: usize, ty: Type) -> Expr {
        Expr::Column { index, ty }
    }
    /// `op(self)`.
    pub fn unary(self, op: UnaryOp) -> Expr {
        Expr::Unary(op, Box::new(self))
    }
    /// `self op rhs`.
    pub fn binary(self, op: BinaryOp, rhs: Expr) -> Expr {
        Expr::Binary(op, Box::new(self), Box::new(rhs))
    }
    /// `if self then a else b`.
    pub fn then(self, a: Expr, b: Expr) -> Expr {
        Expr::If(Box::new(self), Box::new(a), Box::new(b))
    }
    /// `fill_null(self, v)`.
    pub fn fill_null(self, v: Expr) -> Expr {
        Expr::FillNull(Box::new(self), Box::new(v))
    }
    /// `clip(self, lo, hi)`.
    pub fn clip(self, lo: Expr, hi: Expr) -> Expr {
        Expr::Clip(Box::new(self), Box::new(lo), Box::new(hi))
    }
    /// `cast(self as ty)`.
    pub fn cast(self, ty: Type) -> Expr {
        Expr::Cast(Box::new(self), ty)
    }
    /// `bucketize(self, boundaries)`.
    pub fn bucketize(self, boundaries: Vec<f64>) -> Expr {
        Expr::Bucketize(Box::new(self), boundaries)
    }
    /// `self + rhs`.
    pub fn add(self, rhs: Expr) -> Expr {
        self.binary(BinaryOp::Add, rhs)
    }
    /// `self - rhs`.
    pub fn sub(self, rhs: Expr) -> Expr {
        self.binary(BinaryOp::Sub, rhs)
    }
    /// `self * rhs`.
    pub fn mul(self, rhs: Expr) -> Expr {
        self.binary(BinaryOp::Mul, rhs)
    }
    /// `self / rhs`.
    pub fn div(self, rhs: Expr) -> Expr {
        self.binary(BinaryOp::Div, rhs)
    }

    /// The expression printed with the inputs' names (`#i` for an index out of range).
    pub fn display(&self, inputs: &[Input]) -> String {
        let mut s = String::new();
        self.write(inputs, &mut s);
        s
    }

    fn write(&self, inputs: &[Input], s: &mut String) {
        match self {
            Expr::Const(Scalar::Float64(x)) => {
                let _ = write!(s, "{x:?}");
            }
            Expr::Const(Scalar::Int64(x)) => {
                let _ = write!(s, "{x}");
            }
            Expr::Const(Scalar::Boolean(x)) => {
                let _ = write!(s, "{x}");
            }
            Expr::Str(x) => {
                let _ = write!(s, "{x:?}");
            }
            Expr::Column { index, .. } => match inputs.get(*index) {
                Some(i) => s.push_str(&i.name),
                None => {
                    let _ = write!(s, "#{index}");
                }
            },
            Expr::Unary(UnaryOp::Neg, x) => {
                s.push_str("-(");
                x.write(inputs, s);
                s.push(')');
            }
            Expr::Unary(UnaryOp::Not, x) => {
                s.push_str("not (");
                x.write(inputs, s);
                s.push(')');
            }
            Expr::Unary(op, x) => {
                s.push_str(op.name());
                s.push('(');
                x.write(inputs, s);
                s.push(')');
            }
            Expr::Binary(op, a, b) if op.is_call() => {
                s.push_str(op.name());
                s.push('(');
                a.write(inputs, s);
                s.push_str(", ");
                b.write(inputs, s);
                s.push(')');
            }
            Expr::Binary(op, a, b) => {
                s.push('(');
                a.write(inputs, s);
                let _ = write!(s, " {} ", op.name());
                b.write(inputs, s);
                s.push(')');
            }
            Expr::If(c, a, b) => {
                s.push_str("(if ");
                c.write(inputs, s);
                s.push_str(" then ");
                a.write(inputs, s);
                s.push_str(" else ");
                b.write(inputs, s);
                s.push(')');
            }
            Expr::FillNull(x, v) => {
                s.push_str("fill_null(");
                x.write(inputs, s);
                s.push_str(", ");
                v.write(inputs, s);
                s.push(')');
            }
            Expr::Clip(x, lo, hi) => {
                s.push_str("clip(");
                x.write(inputs, s);
                s.push_str(", ");
                lo.write(inputs, s);
                s.push_str(", ");
                hi.write(inputs, s);
                s.push(')');
            }
            Expr::Cast(x, ty) => {
                s.push_str("cast(");
                x.write(inputs, s);
                let _ = write!(s, " as {ty})");
            }
            Expr::Bucketize(x, b) => {
                s.push_str("bucketize(");
                x.write(inputs, s);
                let _ = write!(s, ", {b:?})");
            }
            Expr::Hash(x) => {
                s.push_str("hash(");
                x.write(inputs, s);
                s.push(')');
            }
            Expr::HashBucket(x, n) => {
                s.push_str("hash_bucket(");
                x.write(inputs, s);
                let _ = write!(s, ", {n})");
            }
            Expr::Cross(a, b, n) => {
                s.push_str("cross(");
                a.write(inputs, s);
                s.push_str(", ");
                b.write(inputs, s);
                let _ = write!(s, ", buckets = {n})");
            }
            Expr::Lookup(x, v) => {
                s.push_str("lookup(");
                x.write(inputs, s);
                let _ = write!(s, ", [{} entries])", v.len());
            }
        }
    }
}

/// An input column of a program: found in a batch by name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// The column's name in the batch.
    pub name: String,
    /// The column's type (the batch's Arrow type must be exactly this).
    pub ty: Type,
}

/// A named output of a program.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Output {
    /// The output column's name.
    pub name: String,
    /// Its expression.
    pub expr: Expr,
}

/// A program: the inputs it reads and the outputs it computes, in order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProgramIr {
    /// The input columns; [`Expr::Column`] indexes into this.
    pub inputs: Vec<Input>,
    /// The outputs, in the order of the output batch's columns.
    pub outputs: Vec<Output>,
}

impl ProgramIr {
    /// A program with no outputs yet.
    pub fn new(inputs: Vec<(&str, Type)>) -> ProgramIr {
        ProgramIr {
            inputs: inputs.into_iter().map(|(n, ty)| Input { name: n.to_string(), ty }).collect(),
            outputs: Vec::new(),
        }
    }

    /// The column expression of input `name` (panics if there is none: for building programs
    /// in code and tests).
    pub fn col(&self, name: &str) -> Expr {
        let (index, input) =
            self.inputs.iter().enumerate().find(|(_, i)| i.name == name).unwrap_or_else(|| panic!("no input `{name}`"));
        Expr::col(index, input.ty)
    }

    /// This program with one more output.
    pub fn output(mut self, name: &str, expr: Expr) -> ProgramIr {
        self.outputs.push(Output { name: name.to_string(), expr });
        self
    }

    /// Type checks every output; returns the output types, in order.
    pub fn check(&self) -> Result<Vec<Type>> {
        let mut seen = std::collections::HashSet::new();
        for i in &self.inputs {
            if !seen.insert(i.name.as_str()) {
                return Err(TransformError::Invalid(format!("input `{}` is declared twice", i.name)));
            }
        }
        let mut seen = std::collections::HashSet::new();
        let mut types = Vec::with_capacity(self.outputs.len());
        for o in &self.outputs {
            if !seen.insert(o.name.as_str()) {
                return Err(TransformError::Invalid(format!("output `{}` is defined twice", o.name)));
            }
            let ty = type_of(&o.expr, &self.inputs, &o.name)?;
            if ty == Type::Utf8 {
                return Err(TransformError::Type {
                    output: o.name.clone(),
                    expr: o.expr.display(&self.inputs),
                    message: "an output cannot be a string; make it a number with `hash_bucket` or `vocabulary`"
                        .to_string(),
                });
            }
            types.push(ty);
        }
        Ok(types)
    }
}

/// The common type of two branches: equal types, or float when one is a float and the other
/// an integer.
pub(crate) fn unify(a: Type, b: Type) -> Option<Type> {
    match (a, b) {
        _ if a == b => Some(a),
        (Type::Float64, Type::Int64) | (Type::Int64, Type::Float64) => Some(Type::Float64),
        _ => None,
    }
}

/// The type of `e` (whose inputs are `inputs`), or the error naming `output` and the
/// sub-expression at fault.
pub fn type_of(e: &Expr, inputs: &[Input], output: &str) -> Result<Type> {
    let err = |message: String| TransformError::Type { output: output.to_string(), expr: e.display(inputs), message };
    let numeric = |t: Type, what: &str| {
        if t.is_numeric() { Ok(()) } else { Err(err(format!("{what} must be a number, not {t}"))) }
    };
    Ok(match e {
        Expr::Const(s) => s.ty(),
        Expr::Str(_) => Type::Utf8,
        Expr::Column { index, ty } => match inputs.get(*index) {
            None => {
                return Err(TransformError::BadColumn {
                    output: output.to_string(),
                    index: *index,
                    message: format!("is not an input (the program has {})", inputs.len()),
                });
            }
            Some(i) if i.ty != *ty => {
                return Err(TransformError::BadColumn {
                    output: output.to_string(),
                    index: *index,
                    message: format!("`{}` is read as {ty} but declared {}", i.name, i.ty),
                });
            }
            Some(_) => *ty,
        },
        Expr::Unary(op, x) => {
            let t = type_of(x, inputs, output)?;
            match op {
                UnaryOp::Neg | UnaryOp::Abs => {
                    numeric(t, "the operand")?;
                    t
                }
                UnaryOp::Not => {
                    if t != Type::Boolean {
                        return Err(err(format!("`not` needs a bool, not {t}")));
                    }
                    Type::Boolean
                }
                UnaryOp::Log
                | UnaryOp::Log1p
                | UnaryOp::Exp
                | UnaryOp::Sqrt
                | UnaryOp::Round
                | UnaryOp::Floor
                | UnaryOp::Ceil => {
                    numeric(t, "the operand")?;
                    Type::Float64
                }
                UnaryOp::IsNull => Type::Boolean,
            }
        }
        Expr::Binary(op, a, b) => {
            let (ta, tb) = (type_of(a, inputs, output)?, type_of(b, inputs, output)?);
            match op {
                BinaryOp::And | BinaryOp::Or => {
                    if ta != Type::Boolean || tb != Type::Boolean {
                        return Err(err(format!("`{}` needs bools, not {ta} and {tb}", op.name())));
                    }
                    Type::Boolean
                }
                BinaryOp::Eq | BinaryOp::Ne if ta == Type::Boolean && tb == Type::Boolean => Type::Boolean,
                BinaryOp::Eq | BinaryOp::Ne if ta == Type::Utf8 && tb == Type::Utf8 => Type::Boolean,
                _ => {
                    numeric(ta, "the left operand")?;
                    numeric(tb, "the right operand")?;
                    if op.is_comparison() {
                        Type::Boolean
                    } else if *op == BinaryOp::Pow {
                        Type::Float64
                    } else {
                        unify(ta, tb).unwrap_or(Type::Float64)
                    }
                }
            }
        }
        Expr::If(c, a, b) => {
            let tc = type_of(c, inputs, output)?;
            if tc != Type::Boolean {
                return Err(err(format!("the condition must be a bool, not {tc}")));
            }
            let (ta, tb) = (type_of(a, inputs, output)?, type_of(b, inputs, output)?);
            unify(ta, tb).ok_or_else(|| err(format!("the branches have different types, {ta} and {tb}")))?
        }
        Expr::FillNull(x, v) => {
            let (tx, tv) = (type_of(x, inputs, output)?, type_of(v, inputs, output)?);
            unify(tx, tv).ok_or_else(|| err(format!("cannot fill {tx} with {tv}")))?
        }
        Expr::Clip(x, lo, hi) => {
            let tx = type_of(x, inputs, output)?;
            let tl = type_of(lo, inputs, output)?;
            let th = type_of(hi, inputs, output)?;
            numeric(tx, "the value")?;
            numeric(tl, "the lower bound")?;
            numeric(th, "the upper bound")?;
            unify(unify(tx, tl).unwrap_or(Type::Float64), th).unwrap_or(Type::Float64)
        }
        Expr::Cast(x, ty) => {
            let t = type_of(x, inputs, output)?;
            if t == Type::Utf8 && *ty != Type::Utf8 {
                return Err(err(format!(
                    "a string cannot be converted to {ty} in a transform; declare the column's type at ingest (a schema) instead"
                )));
            }
            *ty
        }
        Expr::Bucketize(x, b) => {
            numeric(type_of(x, inputs, output)?, "the value")?;
            if b.iter().any(|x| x.is_nan()) || b.windows(2).any(|w| w[0] >= w[1]) {
                return Err(err("the boundaries must be strictly increasing numbers".to_string()));
            }
            Type::Int64
        }
        Expr::Hash(x) | Expr::Lookup(x, _) => {
            type_of(x, inputs, output)?;
            Type::Int64
        }
        Expr::HashBucket(x, n) => {
            type_of(x, inputs, output)?;
            if *n == 0 {
                return Err(err("the number of buckets must be at least 1".to_string()));
            }
            Type::Int64
        }
        Expr::Cross(a, b, n) => {
            type_of(a, inputs, output)?;
            type_of(b, inputs, output)?;
            if *n == 0 {
                return Err(err("the number of buckets must be at least 1".to_string()));
            }
            Type::Int64
        }
    })
}
