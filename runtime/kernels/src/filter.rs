//! Row filters written as `.mlp` expressions (WIT `table.filter`), such as
//! `fare > 10 and payment_type == "card"` or `is_null(tips) or tips / fare < 0.3`.
//!
//! The predicate is parsed by `mlp-lang`'s expression parser, then checked against the
//! table's schema and compiled to a typed tree (`Node`) in which every implicit conversion
//! is explicit. The tree is evaluated a column at a time over each record batch with the Arrow
//! compute kernels (arrow-ord comparisons, arrow-arith arithmetic and Kleene logic,
//! arrow-select `zip` and `filter`); literals stay scalars, and dictionary columns are compared
//! without decoding them. All errors are found before any
//! row is read and are `InvalidArgument`; nothing here panics on user input.
//!
//! # Semantics
//!
//! - Bare names are columns. Integer columns of any width (and temporal columns, by their
//!   integer value) read as `int`, float and decimal columns as `float`, string and
//!   dictionary columns as `string`, boolean columns as `bool`.
//! - As in `.mlp`: `+ - * %` of two ints give an int, with a float operand a float; `/` always
//!   gives a float; `+` also joins two strings. `==` and `!=` take two values of one type (an
//!   int and a float compare as numbers); `< <= > >=` take two numbers or two strings;
//!   `and`, `or` and `not` take bools.
//! - Nulls propagate through arithmetic, comparisons and functions; `and` / `or` use
//!   three-valued logic (`null and false` is `false`); `a ?? b` is `b` where `a` is null;
//!   `if c then a else b` takes `b` where `c` is null or false. Rows where the predicate is
//!   null or false are dropped.
//! - A row-level failure gives null rather than an error: integer overflow, division or
//!   remainder by zero, and any float result that is NaN (`sqrt(-1)`, `log(-1)`). NaN values
//!   in float columns read as null too, so `x > 1` never holds for NaN, and `-0.0 == 0.0`.
//! - Functions: `is_null(x)` (any type), `abs(x)`, `min(a, b)`, `max(a, b)` (numbers; null
//!   if either is null), `log(x)` (natural), `exp(x)`, `sqrt(x)` (floats).

use crate::data::Table;
use crate::error::{ErrorKind, KernelError, Result};
use crate::schema::{is_integer_type, is_string_type};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Datum, Float64Array, Int64Array, RecordBatch, Scalar, StringArray, UInt32Array,
};
use arrow_buffer::{BooleanBuffer, NullBuffer, ScalarBuffer};
use arrow_schema::{DataType, Schema};
use mlp_lang::diag::FileId;
use mlp_lang::syntax::ast::{BinOp, Expr, ExprKind, Span, UnOp};
use std::collections::HashMap;
use std::sync::Arc;

/// The rows of `table` where `predicate` (a boolean `.mlp` expression over its columns)
/// holds; see the module doc for the language. A parse error, an unknown column or
/// function, a type mismatch (`fare > "x"`) or a predicate that is not a bool is
/// `InvalidArgument`, with the position in the predicate in the message.
pub fn filter(table: &Table, predicate: &str) -> Result<Table> {
    let pred = Predicate::compile(predicate, table.schema())?;
    let mut out = Vec::with_capacity(table.batches().len());
    for b in table.batches() {
        let mask = pred.eval(b)?;
        let kept = arrow_select::filter::filter_record_batch(b, &mask)
            .map_err(|e| KernelError::arrow(ErrorKind::Other, "filter", e))?;
        if kept.num_rows() > 0 {
            out.push(kept);
        }
    }
    Table::new(table.schema().clone(), out).map_err(|m| KernelError::new(ErrorKind::Other, m))
}

/// A predicate compiled against a schema; evaluate it on batches of that schema.
pub struct Predicate {
    root: Node,
    text: String,
}

impl Predicate {
    /// Parse `text` and check it against `schema`: it must be a bool expression.
    pub fn compile(text: &str, schema: &Schema) -> Result<Predicate> {
        let (expr, diags) = mlp_lang::syntax::parse_expr(text, FileId(0));
        if let Some(d) = diags.iter().find(|d| d.is_error()) {
            let at = d.primary().map_or(0, |l| l.span.start as usize);
            return Err(KernelError::invalid(format!(
                "cannot parse the predicate at {}: {}",
                position(text, at),
                d.message
            ))
            .with_detail(text.to_string()));
        }
        let Some(expr) = expr else {
            return Err(KernelError::invalid("cannot parse the predicate: it is empty").with_detail(text.to_string()));
        };
        let c = Compiler { text, schema };
        let (root, ty) = c.compile(&expr)?;
        if ty != Ty::Bool {
            return Err(KernelError::invalid(format!(
                "the predicate is {}, not a bool; compare it with something, e.g. `x > 0`",
                ty.article()
            ))
            .with_detail(text.to_string()));
        }
        Ok(Predicate { root, text: text.to_string() })
    }

    /// The rows of `batch` where the predicate holds (nulls are false).
    pub fn eval(&self, batch: &RecordBatch) -> Result<BooleanArray> {
        let mut ev = Eval { batch, n: batch.num_rows(), cols: HashMap::new() };
        let v = ev.eval(&self.root).map_err(|e| e.with_detail(self.text.clone()))?;
        let b = v.arr.as_boolean();
        if v.scalar {
            let keep = b.is_valid(0) && b.value(0);
            return Ok(BooleanArray::new(
                if keep { BooleanBuffer::new_set(ev.n) } else { BooleanBuffer::new_unset(ev.n) },
                None,
            ));
        }
        Ok(b.clone())
    }
}

/// `column C` (or `line L, column C`) of byte offset `at`.
fn position(text: &str, at: usize) -> String {
    match mlp_lang::diag::line_col(text, at) {
        (1, c) => format!("column {c}"),
        (l, c) => format!("line {l}, column {c}"),
    }
}

/// The types of the predicate language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    Bool,
    Int,
    Float,
    Str,
}

impl Ty {
    fn article(self) -> &'static str {
        match self {
            Ty::Bool => "a bool",
            Ty::Int => "an int",
            Ty::Float => "a float",
            Ty::Str => "a string",
        }
    }

    fn numeric(self) -> bool {
        matches!(self, Ty::Int | Ty::Float)
    }
}

/// Arithmetic operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// One-argument float functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MathFn {
    Log,
    Exp,
    Sqrt,
}

/// A typed expression; conversions are explicit (`ToFloat`).
#[derive(Clone, Debug)]
enum Node {
    /// A column by index, read as this type.
    Col(usize, Ty),
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    ToFloat(Box<Node>),
    /// Operands of one type, `Int` or `Float` (`Div` only `Float`).
    Arith(Arith, Ty, Box<Node>, Box<Node>),
    Concat(Box<Node>, Box<Node>),
    Neg(Ty, Box<Node>),
    /// Operands of one type.
    Cmp(Cmp, Box<Node>, Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    /// Operands of one type.
    Coalesce(Box<Node>, Box<Node>),
    /// Branches of one type.
    If(Box<Node>, Box<Node>, Box<Node>),
    IsNull(Box<Node>),
    Abs(Ty, Box<Node>),
    Math(MathFn, Box<Node>),
    /// `max` when true; operands of one numeric type.
    MinMax(bool, Ty, Box<Node>, Box<Node>),
}

/// The functions a predicate may call, with their number of arguments.
const FUNCTIONS: &[(&str, usize)] =
    &[("is_null", 1), ("abs", 1), ("log", 1), ("exp", 1), ("sqrt", 1), ("min", 2), ("max", 2)];

struct Compiler<'a> {
    text: &'a str,
    schema: &'a Schema,
}

impl Compiler<'_> {
    fn err(&self, span: Span, msg: impl std::fmt::Display) -> KernelError {
        KernelError::invalid(format!("{msg} (at {} of the predicate)", position(self.text, span.start as usize)))
            .with_detail(self.text.to_string())
    }

    /// The source text of `span`, for messages.
    fn src(&self, span: Span) -> &str {
        self.text.get(span.range()).unwrap_or("")
    }

    fn compile(&self, e: &Expr) -> Result<(Node, Ty)> {
        Ok(match &e.kind {
            ExprKind::Int(i) => (Node::Int(*i), Ty::Int),
            ExprKind::Float(f) => (Node::Float(*f), Ty::Float),
            ExprKind::Str(s) => (Node::Str(s.clone()), Ty::Str),
            ExprKind::Bool(b) => (Node::Bool(*b), Ty::Bool),
            ExprKind::Paren(inner) => self.compile(inner)?,
            ExprKind::Name(id) => {
                let Ok(i) = self.schema.index_of(&id.name) else {
                    let e = KernelError::unknown_column(self.schema, &id.name);
                    return Err(KernelError::invalid(format!(
                        "{} (at {} of the predicate)",
                        e.message,
                        position(self.text, id.span.start as usize)
                    ))
                    .with_detail(e.detail.unwrap_or_default()));
                };
                let dt = self.schema.field(i).data_type();
                let Some(ty) = column_type(dt) else {
                    return Err(
                        self.err(id.span, format!("column `{}` has type {dt}, which a filter cannot read", id.name))
                    );
                };
                (Node::Col(i, ty), ty)
            }
            ExprKind::Unary(UnOp::Neg, x) => {
                let (n, t) = self.compile(x)?;
                if !t.numeric() {
                    return Err(
                        self.err(e.span, format!("`-` needs a number, but `{}` is {}", self.src(x.span), t.article()))
                    );
                }
                (Node::Neg(t, Box::new(n)), t)
            }
            ExprKind::Unary(UnOp::Not, x) => {
                let (n, t) = self.compile(x)?;
                if t != Ty::Bool {
                    return Err(
                        self.err(e.span, format!("`not` needs a bool, but `{}` is {}", self.src(x.span), t.article()))
                    );
                }
                (Node::Not(Box::new(n)), Ty::Bool)
            }
            ExprKind::Binary(op, a, b) => self.binary(e, *op, a, b)?,
            ExprKind::If(c, a, b) => {
                let (cn, ct) = self.compile(c)?;
                if ct != Ty::Bool {
                    return Err(self.err(c.span, format!("the condition of `if` is {}, not a bool", ct.article())));
                }
                let (an, at) = self.compile(a)?;
                let (bn, bt) = self.compile(b)?;
                let Some((an, bn, t)) = unify(an, at, bn, bt) else {
                    return Err(
                        self.err(e.span, format!("the branches of `if` differ: {} and {}", at.article(), bt.article()))
                    );
                };
                (Node::If(Box::new(cn), Box::new(an), Box::new(bn)), t)
            }
            ExprKind::Call(name, args) => {
                let Some(&(_, arity)) = FUNCTIONS.iter().find(|(f, _)| *f == name.name) else {
                    let msg = match mlp_lang::diag::suggest(&name.name, FUNCTIONS.iter().map(|(f, _)| *f)) {
                        Some(s) => format!("unknown function `{}`; did you mean `{s}`?", name.name),
                        None => format!(
                            "unknown function `{}`; a filter can call {}",
                            name.name,
                            FUNCTIONS.iter().map(|(f, _)| format!("`{f}`")).collect::<Vec<_>>().join(", ")
                        ),
                    };
                    return Err(self.err(name.span, msg));
                };
                if let Some(a) = args.iter().find(|a| a.name.is_some()) {
                    return Err(self.err(a.value.span, format!("`{}` takes no named arguments", name.name)));
                }
                if args.len() != arity {
                    let s = if arity == 1 { "" } else { "s" };
                    return Err(self.err(
                        e.span,
                        format!("`{}` takes {arity} argument{s}, but {} were given", name.name, args.len()),
                    ));
                }
                let compiled = args.iter().map(|a| self.compile(&a.value)).collect::<Result<Vec<_>>>()?;
                self.call(e, &name.name, compiled, args.iter().map(|a| a.value.span).collect())?
            }
            ExprKind::Duration(_) | ExprKind::Size(_) => {
                return Err(self.err(
                    e.span,
                    format!("durations and sizes (`{}`) are not supported in a filter", self.src(e.span)),
                ));
            }
            ExprKind::Field(..) => {
                return Err(
                    self.err(e.span, format!("field access (`{}`) is not supported in a filter", self.src(e.span)))
                );
            }
            ExprKind::List(_) | ExprKind::Record(_) => {
                return Err(self.err(e.span, "lists and records are not supported in a filter"));
            }
            ExprKind::Error => return Err(self.err(e.span, "this part of the predicate did not parse")),
        })
    }

    fn binary(&self, e: &Expr, op: BinOp, a: &Expr, b: &Expr) -> Result<(Node, Ty)> {
        let (an, at) = self.compile(a)?;
        let (bn, bt) = self.compile(b)?;
        let mismatch = || {
            let verb = match op {
                BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => "compare",
                _ => "combine",
            };
            self.err(
                e.span,
                format!(
                    "`{}` cannot {verb} {} (`{}`) with {} (`{}`)",
                    op.symbol(),
                    at.article(),
                    self.src(a.span),
                    bt.article(),
                    self.src(b.span)
                ),
            )
        };
        let bx = Box::new;
        Ok(match op {
            BinOp::And | BinOp::Or => {
                if at != Ty::Bool || bt != Ty::Bool {
                    return Err(mismatch());
                }
                let n = if op == BinOp::And { Node::And(bx(an), bx(bn)) } else { Node::Or(bx(an), bx(bn)) };
                (n, Ty::Bool)
            }
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                let ordered = !matches!(op, BinOp::Eq | BinOp::Ne);
                let Some((an, bn, t)) = unify(an, at, bn, bt) else { return Err(mismatch()) };
                if ordered && t == Ty::Bool {
                    return Err(mismatch());
                }
                let c = match op {
                    BinOp::Eq => Cmp::Eq,
                    BinOp::Ne => Cmp::Ne,
                    BinOp::Lt => Cmp::Lt,
                    BinOp::Le => Cmp::Le,
                    BinOp::Gt => Cmp::Gt,
                    _ => Cmp::Ge,
                };
                (Node::Cmp(c, bx(an), bx(bn)), Ty::Bool)
            }
            BinOp::Coalesce => {
                let Some((an, bn, t)) = unify(an, at, bn, bt) else { return Err(mismatch()) };
                (Node::Coalesce(bx(an), bx(bn)), t)
            }
            BinOp::Add if at == Ty::Str && bt == Ty::Str => (Node::Concat(bx(an), bx(bn)), Ty::Str),
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => {
                if !at.numeric() || !bt.numeric() {
                    return Err(mismatch());
                }
                let aop = match op {
                    BinOp::Add => Arith::Add,
                    BinOp::Sub => Arith::Sub,
                    BinOp::Mul => Arith::Mul,
                    BinOp::Div => Arith::Div,
                    _ => Arith::Rem,
                };
                if aop == Arith::Div || at == Ty::Float || bt == Ty::Float {
                    (Node::Arith(aop, Ty::Float, bx(to_float(an, at)), bx(to_float(bn, bt))), Ty::Float)
                } else {
                    (Node::Arith(aop, Ty::Int, bx(an), bx(bn)), Ty::Int)
                }
            }
        })
    }

    fn call(&self, e: &Expr, name: &str, mut args: Vec<(Node, Ty)>, spans: Vec<Span>) -> Result<(Node, Ty)> {
        let need_number = |i: usize, t: Ty| {
            if t.numeric() {
                Ok(())
            } else {
                Err(self
                    .err(spans[i], format!("`{name}` needs a number, but `{}` is {}", self.src(spans[i]), t.article())))
            }
        };
        let bx = Box::new;
        Ok(match name {
            "is_null" => {
                let (n, _) = args.remove(0);
                (Node::IsNull(bx(n)), Ty::Bool)
            }
            "abs" => {
                let (n, t) = args.remove(0);
                need_number(0, t)?;
                (Node::Abs(t, bx(n)), t)
            }
            "log" | "exp" | "sqrt" => {
                let (n, t) = args.remove(0);
                need_number(0, t)?;
                let f = match name {
                    "log" => MathFn::Log,
                    "exp" => MathFn::Exp,
                    _ => MathFn::Sqrt,
                };
                (Node::Math(f, bx(to_float(n, t))), Ty::Float)
            }
            _ => {
                let (bn, bt) = args.remove(1);
                let (an, at) = args.remove(0);
                need_number(0, at)?;
                need_number(1, bt)?;
                let Some((an, bn, t)) = unify(an, at, bn, bt) else {
                    return Err(self.err(e.span, format!("`{name}` needs two numbers")));
                };
                (Node::MinMax(name == "max", t, bx(an), bx(bn)), t)
            }
        })
    }
}

/// The predicate type of a column's Arrow type.
fn column_type(dt: &DataType) -> Option<Ty> {
    Some(match dt {
        DataType::Boolean => Ty::Bool,
        dt if is_integer_type(dt) => Ty::Int,
        DataType::Timestamp(_, _)
        | DataType::Date32
        | DataType::Date64
        | DataType::Time32(_)
        | DataType::Time64(_)
        | DataType::Duration(_) => Ty::Int,
        DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal32(_, _)
        | DataType::Decimal64(_, _)
        | DataType::Decimal128(_, _)
        | DataType::Decimal256(_, _) => Ty::Float,
        dt if is_string_type(dt) => Ty::Str,
        _ => return None,
    })
}

fn to_float(n: Node, t: Ty) -> Node {
    match (t, n) {
        (Ty::Int, Node::Int(i)) => Node::Float(i as f64),
        (Ty::Int, n) => Node::ToFloat(Box::new(n)),
        (_, n) => n,
    }
}

/// Two operands brought to one type: equal types, or int and float as floats.
fn unify(a: Node, at: Ty, b: Node, bt: Ty) -> Option<(Node, Node, Ty)> {
    if at == bt {
        return Some((a, b, at));
    }
    if at.numeric() && bt.numeric() {
        return Some((to_float(a, at), to_float(b, bt), Ty::Float));
    }
    None
}

/// A value during evaluation: a column of the batch's length, or a scalar (length 1).
#[derive(Clone)]
struct V {
    arr: ArrayRef,
    scalar: bool,
}

impl V {
    fn col(arr: ArrayRef) -> V {
        V { arr, scalar: false }
    }
    fn scalar(arr: ArrayRef) -> V {
        V { arr, scalar: true }
    }
}

/// Call `f` with `v` as an Arrow `Datum` (a scalar stays a scalar).
fn with_datum<R>(v: &V, f: impl FnOnce(&dyn Datum) -> R) -> R {
    if v.scalar { f(&Scalar::new(v.arr.clone())) } else { f(&v.arr) }
}

fn arrow_err(e: arrow_schema::ArrowError) -> KernelError {
    KernelError::arrow(ErrorKind::Data, "cannot evaluate the predicate", e)
}

struct Eval<'a> {
    batch: &'a RecordBatch,
    n: usize,
    /// Columns read so far, converted to their predicate type.
    cols: HashMap<usize, ArrayRef>,
}

impl Eval<'_> {
    /// The length of a result of `a` and `b`.
    fn both_scalar(a: &V, b: &V) -> bool {
        a.scalar && b.scalar
    }

    /// `v` as a full-length array.
    fn expand(&self, v: &V) -> Result<ArrayRef> {
        if !v.scalar {
            return Ok(v.arr.clone());
        }
        let idx = UInt32Array::from(vec![0u32; self.n]);
        arrow_select::take::take(v.arr.as_ref(), &idx, None).map_err(arrow_err)
    }

    fn column(&mut self, i: usize, ty: Ty) -> Result<ArrayRef> {
        if let Some(c) = self.cols.get(&i) {
            return Ok(c.clone());
        }
        let raw = self.batch.column(i);
        let to = match ty {
            Ty::Bool => DataType::Boolean,
            Ty::Int => DataType::Int64,
            Ty::Float => DataType::Float64,
            Ty::Str => DataType::Utf8,
        };
        let mut c = if raw.data_type() == &to {
            raw.clone()
        } else {
            // Safe casts: a value out of range (a u64 above i64::MAX) becomes null.
            arrow_cast::cast(raw.as_ref(), &to).map_err(arrow_err)?
        };
        if ty == Ty::Float {
            c = Arc::new(canon(c.as_primitive::<Float64Type>()));
        }
        self.cols.insert(i, c.clone());
        Ok(c)
    }

    fn eval(&mut self, node: &Node) -> Result<V> {
        Ok(match node {
            Node::Col(i, ty) => V::col(self.column(*i, *ty)?),
            Node::Int(i) => V::scalar(Arc::new(Int64Array::from(vec![*i]))),
            Node::Float(f) => V::scalar(Arc::new(Float64Array::from(vec![*f]))),
            Node::Str(s) => V::scalar(Arc::new(StringArray::from(vec![s.as_str()]))),
            Node::Bool(b) => V::scalar(Arc::new(BooleanArray::from(vec![*b]))),
            Node::ToFloat(x) => {
                let v = self.eval(x)?;
                let f = arrow_cast::cast(v.arr.as_ref(), &DataType::Float64).map_err(arrow_err)?;
                V { arr: f, scalar: v.scalar }
            }
            Node::Arith(op, ty, a, b) => {
                let (a, b) = (self.eval(a)?, self.eval(b)?);
                let scalar = Self::both_scalar(&a, &b);
                let arr: ArrayRef = match (ty, op) {
                    (Ty::Int, _) => Arc::new(self.int_binary(
                        &a,
                        &b,
                        match op {
                            Arith::Add => i64::checked_add,
                            Arith::Sub => i64::checked_sub,
                            Arith::Mul => i64::checked_mul,
                            // `/` always compiles to floats; kept total anyway.
                            Arith::Div => i64::checked_div,
                            Arith::Rem => i64::checked_rem,
                        },
                    )),
                    (_, Arith::Add | Arith::Sub | Arith::Mul) => {
                        let kernel = match op {
                            Arith::Add => arrow_arith::numeric::add,
                            Arith::Sub => arrow_arith::numeric::sub,
                            _ => arrow_arith::numeric::mul,
                        };
                        let r = with_datum(&a, |da| with_datum(&b, |db| kernel(da, db))).map_err(arrow_err)?;
                        Arc::new(canon(r.as_primitive::<Float64Type>()))
                    }
                    (_, Arith::Div) => Arc::new(self.float_binary(&a, &b, |x, y| (y != 0.0).then(|| x / y))),
                    (_, Arith::Rem) => Arc::new(self.float_binary(&a, &b, |x, y| (y != 0.0).then(|| x % y))),
                };
                V { arr, scalar }
            }
            Node::Concat(a, b) => {
                let (a, b) = (self.eval(a)?, self.eval(b)?);
                let len = if Self::both_scalar(&a, &b) { 1 } else { self.n };
                let (sa, sb) = (a.arr.as_string::<i32>(), b.arr.as_string::<i32>());
                let out: StringArray = (0..len)
                    .map(|i| {
                        let (ia, ib) = (if a.scalar { 0 } else { i }, if b.scalar { 0 } else { i });
                        (sa.is_valid(ia) && sb.is_valid(ib)).then(|| format!("{}{}", sa.value(ia), sb.value(ib)))
                    })
                    .collect();
                V { arr: Arc::new(out), scalar: Self::both_scalar(&a, &b) }
            }
            Node::Neg(ty, x) => {
                let v = self.eval(x)?;
                let arr: ArrayRef = match ty {
                    Ty::Int => Arc::new(int_unary(v.arr.as_primitive::<Int64Type>(), i64::checked_neg)),
                    _ => arrow_arith::numeric::neg(v.arr.as_ref()).map_err(arrow_err)?,
                };
                V { arr, scalar: v.scalar }
            }
            Node::Cmp(op, a, b) => {
                let (a, b) = (self.cmp_operand(a)?, self.cmp_operand(b)?);
                let kernel = match op {
                    Cmp::Eq => arrow_ord::cmp::eq,
                    Cmp::Ne => arrow_ord::cmp::neq,
                    Cmp::Lt => arrow_ord::cmp::lt,
                    Cmp::Le => arrow_ord::cmp::lt_eq,
                    Cmp::Gt => arrow_ord::cmp::gt,
                    Cmp::Ge => arrow_ord::cmp::gt_eq,
                };
                let r = with_datum(&a, |da| with_datum(&b, |db| kernel(da, db))).map_err(arrow_err)?;
                V { arr: Arc::new(r), scalar: Self::both_scalar(&a, &b) }
            }
            Node::And(a, b) | Node::Or(a, b) => {
                let (a, b) = (self.eval(a)?, self.eval(b)?);
                let scalar = Self::both_scalar(&a, &b);
                let (x, y) = if scalar { (a.arr, b.arr) } else { (self.expand(&a)?, self.expand(&b)?) };
                let r = if matches!(node, Node::And(..)) {
                    arrow_arith::boolean::and_kleene(x.as_boolean(), y.as_boolean())
                } else {
                    arrow_arith::boolean::or_kleene(x.as_boolean(), y.as_boolean())
                }
                .map_err(arrow_err)?;
                V { arr: Arc::new(r), scalar }
            }
            Node::Not(x) => {
                let v = self.eval(x)?;
                let r = arrow_arith::boolean::not(v.arr.as_boolean()).map_err(arrow_err)?;
                V { arr: Arc::new(r), scalar: v.scalar }
            }
            Node::IsNull(x) => {
                let v = self.eval(x)?;
                let r = arrow_arith::boolean::is_null(v.arr.as_ref()).map_err(arrow_err)?;
                V { arr: Arc::new(r), scalar: v.scalar }
            }
            Node::Coalesce(a, b) => {
                let (a, b) = (self.eval(a)?, self.eval(b)?);
                if a.scalar {
                    return Ok(if a.arr.is_null(0) { b } else { a });
                }
                let mask = arrow_arith::boolean::is_not_null(a.arr.as_ref()).map_err(arrow_err)?;
                let r = with_datum(&b, |db| arrow_select::zip::zip(&mask, &a.arr, db)).map_err(arrow_err)?;
                V::col(r)
            }
            Node::If(c, a, b) => {
                let c = self.eval(c)?;
                let cb = c.arr.as_boolean();
                if c.scalar {
                    let take_a = cb.is_valid(0) && cb.value(0);
                    return self.eval(if take_a { a } else { b });
                }
                let (a, b) = (self.eval(a)?, self.eval(b)?);
                let mask = null_as_false(cb);
                let r = with_datum(&a, |da| with_datum(&b, |db| arrow_select::zip::zip(&mask, da, db)))
                    .map_err(arrow_err)?;
                V::col(r)
            }
            Node::Abs(ty, x) => {
                let v = self.eval(x)?;
                let arr: ArrayRef = match ty {
                    Ty::Int => Arc::new(int_unary(v.arr.as_primitive::<Int64Type>(), i64::checked_abs)),
                    _ => Arc::new(v.arr.as_primitive::<Float64Type>().unary::<_, Float64Type>(f64::abs)),
                };
                V { arr, scalar: v.scalar }
            }
            Node::Math(f, x) => {
                let v = self.eval(x)?;
                let a = v.arr.as_primitive::<Float64Type>();
                let r: Float64Array = match f {
                    MathFn::Log => a.unary(f64::ln),
                    MathFn::Exp => a.unary(f64::exp),
                    MathFn::Sqrt => a.unary(f64::sqrt),
                };
                V { arr: Arc::new(canon(&r)), scalar: v.scalar }
            }
            Node::MinMax(is_max, ty, a, b) => {
                let (a, b) = (self.eval(a)?, self.eval(b)?);
                let scalar = Self::both_scalar(&a, &b);
                let arr: ArrayRef = match (ty, is_max) {
                    (Ty::Int, true) => Arc::new(self.int_binary(&a, &b, |x, y| Some(x.max(y)))),
                    (Ty::Int, false) => Arc::new(self.int_binary(&a, &b, |x, y| Some(x.min(y)))),
                    (_, true) => Arc::new(self.float_binary(&a, &b, |x, y| Some(x.max(y)))),
                    (_, false) => Arc::new(self.float_binary(&a, &b, |x, y| Some(x.min(y)))),
                };
                V { arr, scalar }
            }
        })
    }

    /// An operand of a comparison: a dictionary column of utf8 values is compared as it is
    /// (arrow-ord compares the dictionary values once and maps the keys), not decoded.
    fn cmp_operand(&mut self, node: &Node) -> Result<V> {
        if let Node::Col(i, Ty::Str) = node {
            let raw = self.batch.column(*i);
            if let DataType::Dictionary(_, v) = raw.data_type()
                && v.as_ref() == &DataType::Utf8
            {
                return Ok(V::col(raw.clone()));
            }
        }
        self.eval(node)
    }

    /// `f` over two int values (broadcasting scalars); null where either is null or `f`
    /// gives `None`.
    fn int_binary(&self, a: &V, b: &V, f: impl Fn(i64, i64) -> Option<i64>) -> Int64Array {
        let len = if Self::both_scalar(a, b) { 1 } else { self.n };
        let (x, y) = (a.arr.as_primitive::<Int64Type>(), b.arr.as_primitive::<Int64Type>());
        (0..len)
            .map(|i| {
                let (ia, ib) = (if a.scalar { 0 } else { i }, if b.scalar { 0 } else { i });
                if x.is_null(ia) || y.is_null(ib) { None } else { f(x.value(ia), y.value(ib)) }
            })
            .collect()
    }

    /// As [`Eval::int_binary`] for floats; a NaN result is null too.
    fn float_binary(&self, a: &V, b: &V, f: impl Fn(f64, f64) -> Option<f64>) -> Float64Array {
        let len = if Self::both_scalar(a, b) { 1 } else { self.n };
        let (x, y) = (a.arr.as_primitive::<Float64Type>(), b.arr.as_primitive::<Float64Type>());
        (0..len)
            .map(|i| {
                let (ia, ib) = (if a.scalar { 0 } else { i }, if b.scalar { 0 } else { i });
                if x.is_null(ia) || y.is_null(ib) {
                    None
                } else {
                    f(x.value(ia), y.value(ib)).filter(|r| !r.is_nan()).map(|r| r + 0.0)
                }
            })
            .collect()
    }
}

/// `b` with nulls as false.
fn null_as_false(b: &BooleanArray) -> BooleanArray {
    if b.null_count() == 0 { b.clone() } else { arrow_select::filter::prep_null_mask_filter(b) }
}

fn int_unary(a: &Int64Array, f: impl Fn(i64) -> Option<i64>) -> Int64Array {
    a.iter().map(|x| x.and_then(&f)).collect()
}

/// Floats as the predicate language sees them: NaN is null, `-0.0` is `0.0`.
fn canon(a: &Float64Array) -> Float64Array {
    let vals = a.values();
    let values: ScalarBuffer<f64> = vals.iter().map(|v| v + 0.0).collect();
    let nulls = if vals.iter().any(|v| v.is_nan()) {
        let not_nan = NullBuffer::new(BooleanBuffer::collect_bool(vals.len(), |i| !vals[i].is_nan()));
        NullBuffer::union(a.nulls(), Some(&not_nan))
    } else {
        a.nulls().cloned()
    };
    Float64Array::new(values, nulls)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::types::{Int8Type, Int32Type};
    use arrow_array::{DictionaryArray, ListArray};

    /// Six rows in two batches:
    ///
    /// | id | fare | tips | payment | city  | flag  |
    /// |----|------|------|---------|-------|-------|
    /// | 0  | 5.0  | 1    | card    | paris | true  |
    /// | 1  | 12.5 | 3    | cash    | lyon  | false |
    /// | 2  | null | 2    | card    | null  | true  |
    /// | 3  | NaN  | null | null    | nice  | null  |
    /// | 4  | 20.0 | 0    | card    | paris | false |
    /// | 5  | -0.0 | 4    | cash    | metz  | true  |
    fn rides() -> Table {
        let batch = |id: Vec<i64>,
                     fare: Vec<Option<f64>>,
                     tips: Vec<Option<i64>>,
                     pay: Vec<Option<&str>>,
                     city: Vec<Option<&str>>,
                     flag: Vec<Option<bool>>| {
            let pay: DictionaryArray<Int8Type> = pay.into_iter().collect();
            RecordBatch::try_from_iter_with_nullable(vec![
                ("id", Arc::new(Int64Array::from(id)) as ArrayRef, true),
                ("fare", Arc::new(Float64Array::from(fare)) as ArrayRef, true),
                ("tips", Arc::new(Int64Array::from(tips)) as ArrayRef, true),
                ("payment", Arc::new(pay) as ArrayRef, true),
                ("city", Arc::new(StringArray::from(city)) as ArrayRef, true),
                ("flag", Arc::new(BooleanArray::from(flag)) as ArrayRef, true),
            ])
            .unwrap()
        };
        let b1 = batch(
            vec![0, 1, 2],
            vec![Some(5.0), Some(12.5), None],
            vec![Some(1), Some(3), Some(2)],
            vec![Some("card"), Some("cash"), Some("card")],
            vec![Some("paris"), Some("lyon"), None],
            vec![Some(true), Some(false), Some(true)],
        );
        let b2 = batch(
            vec![3, 4, 5],
            vec![Some(f64::NAN), Some(20.0), Some(-0.0)],
            vec![None, Some(0), Some(4)],
            vec![None, Some("card"), Some("cash")],
            vec![Some("nice"), Some("paris"), Some("metz")],
            vec![None, Some(false), Some(true)],
        );
        Table::new(b1.schema(), vec![b1, b2]).unwrap()
    }

    /// The ids of the rows `predicate` keeps.
    fn ids(predicate: &str) -> Vec<i64> {
        let t = filter(&rides(), predicate).unwrap_or_else(|e| panic!("{predicate}: {e:?}"));
        crate::ops::read_f64(&t, "id", 0, u64::MAX).unwrap().into_iter().map(|x| x as i64).collect()
    }

    fn err(predicate: &str) -> KernelError {
        let e = filter(&rides(), predicate).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument, "{predicate}: {e:?}");
        e
    }

    #[test]
    fn comparisons_and_three_valued_logic() {
        assert_eq!(ids("fare > 10"), vec![1, 4]);
        assert_eq!(ids("tips > 1 or fare > 10"), vec![1, 2, 4, 5]);
        assert_eq!(ids("tips > 1 and fare > 10"), vec![1]);
        assert_eq!(ids("not (tips > 1)"), vec![0, 4]);
        assert_eq!(ids("(tips ?? 0) == 0"), vec![3, 4]);
        assert_eq!(ids("if flag then fare > 5 else tips > 1"), vec![1]);
        assert_eq!(ids("flag == false"), vec![1, 4]);
        assert_eq!(ids("flag"), vec![0, 2, 5]);
    }

    #[test]
    fn strings_and_dictionaries() {
        assert_eq!(ids("payment == \"card\""), vec![0, 2, 4]);
        assert_eq!(ids("payment != city"), vec![0, 1, 4, 5]);
        assert_eq!(ids("city < \"m\""), vec![1]);
        assert_eq!(ids("city + \"x\" == \"parisx\""), vec![0, 4]);
        assert_eq!(ids("(city ?? \"?\") == \"?\""), vec![2]);
    }

    #[test]
    fn arithmetic_and_functions() {
        assert_eq!(ids("tips / 2 == 1.5"), vec![1]);
        assert_eq!(ids("tips % 3 == 1"), vec![0, 5]);
        assert_eq!(ids("-tips < -2"), vec![1, 5]);
        assert_eq!(ids("tips == 2.0"), vec![2]);
        assert_eq!(ids("fare * 2 - tips > 20"), vec![1, 4]);
        assert_eq!(ids("is_null(fare)"), vec![2, 3]);
        assert_eq!(ids("abs(fare - 10) < 3"), vec![1]);
        assert_eq!(ids("abs(tips - 3) == 1"), vec![2, 5]);
        assert_eq!(ids("sqrt(fare - 10) > 0"), vec![1, 4]);
        assert_eq!(ids("max(tips, 2) == 2"), vec![0, 2, 4]);
        assert_eq!(ids("min(fare, tips) < 1"), vec![4, 5]);
        assert_eq!(ids("log(exp(tips)) > 2.5"), vec![1, 5]);
    }

    #[test]
    fn row_failures_are_null() {
        // Division and remainder by zero, and overflow, drop the row instead of failing.
        assert_eq!(ids("is_null(tips % 0)"), vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(ids("is_null(fare / 0)"), vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(ids("tips * 9223372036854775807 > 0"), vec![0]);
        assert_eq!(ids("is_null(log(fare - 10))"), vec![0, 2, 3, 5]);
    }

    #[test]
    fn nan_is_null_and_negative_zero_is_zero() {
        assert_eq!(ids("fare > 0"), vec![0, 1, 4]);
        assert_eq!(ids("fare != 5"), vec![1, 4, 5]);
        assert_eq!(ids("not (fare > 0)"), vec![5]);
        assert_eq!(ids("fare == 0"), vec![5]);
    }

    #[test]
    fn constant_predicates() {
        assert_eq!(ids("true"), vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(ids("1 > 2"), Vec::<i64>::new());
        assert_eq!(ids("not false and 7 / 2 == 3.5"), vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(ids("1 + 1 == 2 and flag"), vec![0, 2, 5]);
        assert_eq!(ids("if 1 > 2 then true else tips == 4"), vec![5]);
        assert_eq!(ids("is_null(1 / 0) and tips == 4"), vec![5]);
        let t = filter(&rides(), "false").unwrap();
        assert_eq!((t.num_rows(), t.schema()), (0, rides().schema()));
    }

    #[test]
    fn parse_errors_carry_the_position() {
        let e = err("fare >");
        assert!(e.message.starts_with("cannot parse the predicate at column 7: "), "{}", e.message);
        assert_eq!(e.detail.as_deref(), Some("fare >"));
        let e = err("(fare > 1");
        assert!(e.message.starts_with("cannot parse the predicate at column "), "{}", e.message);
        let e = err("");
        assert!(e.message.starts_with("cannot parse the predicate"), "{}", e.message);
        let e = err("fare > \"open");
        assert!(e.message.contains("unterminated string"), "{}", e.message);
    }

    #[test]
    fn unknown_names() {
        let e = err("fair > 1");
        assert_eq!(e.message, "no column `fair` in the table; did you mean `fare`? (at column 1 of the predicate)");
        assert_eq!(e.detail.as_deref(), Some("columns: id, fare, tips, payment, city, flag"));
        let e = err("sqr(fare) > 1");
        assert_eq!(e.message, "unknown function `sqr`; did you mean `sqrt`? (at column 1 of the predicate)");
        let e = err("frobnicate(fare)");
        assert!(e.message.contains("a filter can call `is_null`, `abs`"), "{}", e.message);
    }

    #[test]
    fn type_errors() {
        let e = err("fare > \"x\"");
        assert_eq!(
            e.message,
            "`>` cannot compare a float (`fare`) with a string (`\"x\"`) (at column 1 of the predicate)"
        );
        let e = err("fare + 1");
        assert_eq!(e.message, "the predicate is a float, not a bool; compare it with something, e.g. `x > 0`");
        let e = err("tips and flag");
        assert!(e.message.starts_with("`and` cannot combine an int (`tips`) with a bool"), "{}", e.message);
        let e = err("flag < true");
        assert!(e.message.starts_with("`<` cannot compare a bool"), "{}", e.message);
        let e = err("not fare");
        assert!(e.message.starts_with("`not` needs a bool, but `fare` is a float"), "{}", e.message);
        let e = err("-city == \"x\"");
        assert!(e.message.starts_with("`-` needs a number"), "{}", e.message);
        let e = err("if flag then 1 else \"a\"");
        assert!(e.message.starts_with("the branches of `if` differ: an int and a string"), "{}", e.message);
        let e = err("if tips then true else false");
        assert!(e.message.starts_with("the condition of `if` is an int"), "{}", e.message);
        let e = err("abs(city) > 1");
        assert!(e.message.starts_with("`abs` needs a number, but `city` is a string (at column 5"), "{}", e.message);
        let e = err("min(fare) > 1");
        assert!(e.message.starts_with("`min` takes 2 arguments, but 1 were given"), "{}", e.message);
        let e = err("abs(x = fare) > 1");
        assert!(e.message.starts_with("`abs` takes no named arguments"), "{}", e.message);
        let e = err("fare + tips == city");
        assert!(e.message.starts_with("`==` cannot compare a float"), "{}", e.message);
    }

    #[test]
    fn unsupported_syntax_and_columns() {
        assert!(err("fare > 5m").message.starts_with("durations and sizes (`5m`) are not supported"));
        assert!(err("city.len > 1").message.starts_with("field access (`city.len`) is not supported"));
        assert!(err("[1, 2] == fare").message.starts_with("lists and records are not supported"));
        let list = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![Some(vec![Some(1)])]);
        let t = Table::from_batch(RecordBatch::try_from_iter(vec![("l", Arc::new(list) as ArrayRef)]).unwrap());
        let e = filter(&t, "is_null(l)").unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        assert!(e.message.starts_with("column `l` has type List"), "{}", e.message);
    }

    #[test]
    fn other_column_types_read_as_numbers() {
        use arrow_array::{Float32Array, TimestampMillisecondArray, UInt8Array};
        let t = Table::from_batch(
            RecordBatch::try_from_iter(vec![
                ("ts", Arc::new(TimestampMillisecondArray::from(vec![1_000, 2_000, 3_000])) as ArrayRef),
                ("u", Arc::new(UInt8Array::from(vec![200, 100, 255])) as ArrayRef),
                ("f", Arc::new(Float32Array::from(vec![0.5, f32::NAN, 2.0])) as ArrayRef),
            ])
            .unwrap(),
        );
        let n = |p: &str| filter(&t, p).unwrap().num_rows();
        assert_eq!(n("ts >= 2000"), 2);
        assert_eq!(n("u + 100 > 250"), 2);
        assert_eq!(n("f * u >= 100"), 2);
        assert_eq!(n("f * u > 100"), 1);
        assert_eq!(n("is_null(f)"), 1);
    }
}
