//! Fitting: a feature spec ([`crate::spec`]) is lowered to the typed IR ([`crate::ir`])
//! against the columns of the training data, each analyzer is fitted on the training rows
//! given here (and on nothing else), and the result is frozen into a [`TransformGraph`].
//!
//! Features are lowered in dependency order (a feature may use features defined after it);
//! a reference to another feature inlines that feature's fitted expression, so the graph's
//! expressions read input columns only. An analyzer's argument is compiled and run over the
//! training batches like any program, then the analyzer is replaced by plain IR:
//!
//! | analyzer | fitted on (training values) | becomes |
//! | --- | --- | --- |
//! | `zscore(x)` | mean, population std dev of the finite values | `(x - mean) / std` (`x - mean` if `std` is 0) |
//! | `scale01(x)` | min, max of the finite values | `(x - min) / (max - min)` (0.5 if `max == min`) |
//! | `quantile_bucket(x, buckets = n)` | the finite values, sorted | `bucketize(x, b)`, `b[i-1]` the value at rank `⌊i·len/n⌋`, `i` in `1..n`, duplicates dropped |
//! | `vocabulary(x, top = k)` | counts of `string(x)`, nulls left out | `lookup(x, v)`: `v` the `k` most frequent (ties in string order); others get `len(v)` |

use crate::compile::Program;
use crate::error::{Result, TransformError};
use crate::eval::{hash_strings, ir_type};
use crate::graph::{Analyzer, FORMAT, Feature, Fitted, TransformGraph, VERSION};
use crate::ir::{BinaryOp, Expr, Input, Output, ProgramIr, Type, UnaryOp, type_of};
use crate::spec::{BinOp, FeatureDef, Lit, Node, UnOp};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Schema};
use std::collections::{BTreeSet, HashMap};

/// The most buckets `quantile_bucket` fits (each boundary is a comparison in the compiled code).
pub const MAX_QUANTILE_BUCKETS: u64 = 10_000;

/// The functions a feature block may call.
pub const FUNCTIONS: &[&str] = &[
    "log",
    "log1p",
    "exp",
    "sqrt",
    "pow",
    "round",
    "floor",
    "ceil",
    "abs",
    "min",
    "max",
    "clip",
    "float",
    "int",
    "string",
    "is_null",
    "fill_null",
    "bucketize",
    "hash_bucket",
    "cross",
    "col",
    "zscore",
    "scale01",
    "vocabulary",
    "quantile_bucket",
];

/// Fits `spec` on `train` (the training split: every batch has `schema`) and freezes it.
///
/// Errors name the feature and the expression at fault: an unknown column (with the closest
/// column names), a column of a type the transform cannot read, an ill-typed expression, a
/// cycle between features, a bad argument.
pub fn fit(spec: &[FeatureDef], schema: &Schema, train: &[RecordBatch]) -> Result<TransformGraph> {
    let mut seen = HashMap::new();
    for (i, f) in spec.iter().enumerate() {
        if f.name.is_empty() {
            return Err(TransformError::Invalid(format!("feature #{} has an empty name", i + 1)));
        }
        if seen.insert(f.name.as_str(), i).is_some() {
            return Err(TransformError::Feature { feature: f.name.clone(), message: "is defined twice".to_string() });
        }
    }
    let order = dependency_order(spec, &seen)?;
    let mut fitter = Fitter {
        schema,
        train,
        inputs: Vec::new(),
        lowered: HashMap::new(),
        analyzers: Vec::new(),
        feature: String::new(),
    };
    let mut types = HashMap::new();
    for i in order {
        let def = &spec[i];
        fitter.feature = def.name.clone();
        let e = fitter.lower(&def.expr)?;
        let ty = type_of(&e, &fitter.inputs, &def.name)?;
        types.insert(def.name.clone(), ty);
        fitter.lowered.insert(def.name.clone(), e);
    }
    let mut features = Vec::new();
    let mut intermediates = Vec::new();
    for def in spec {
        let ty = types[&def.name];
        if ty == Type::Utf8 {
            intermediates.push(def.name.clone());
            continue;
        }
        let expr = fitter.lowered.remove(&def.name).expect("lowered above");
        features.push(Feature {
            name: def.name.clone(),
            ty,
            categories: categories(&expr),
            expr,
            source: def.expr.display(),
        });
    }
    if features.is_empty() {
        return Err(TransformError::Invalid(
            "the feature block has no numeric or boolean feature to output (string features are only intermediates)"
                .to_string(),
        ));
    }
    // Keep only the inputs the outputs read, in first-use order, and renumber.
    let (inputs, features) = prune_inputs(fitter.inputs, features);
    Ok(TransformGraph {
        format: FORMAT.to_string(),
        version: VERSION,
        inputs,
        features,
        intermediates,
        analyzers: fitter.analyzers,
        fitted_rows: train.iter().map(|b| b.num_rows() as u64).sum(),
    })
}

/// The features in an order where each comes after the features it reads (Kahn's algorithm:
/// iterative, so a long chain of features cannot overflow the stack); source order among
/// independent features.
fn dependency_order(spec: &[FeatureDef], index: &HashMap<&str, usize>) -> Result<Vec<usize>> {
    let mut deps: Vec<BTreeSet<usize>> = Vec::with_capacity(spec.len());
    for f in spec {
        let mut names = Vec::new();
        feature_refs(&f.expr, &mut names);
        let mut d = BTreeSet::new();
        for n in names {
            match index.get(n.as_str()) {
                Some(j) => {
                    d.insert(*j);
                }
                None => {
                    return Err(TransformError::Feature {
                        feature: f.name.clone(),
                        message: format!("reads feature `{n}`, which the block does not define"),
                    });
                }
            }
        }
        deps.push(d);
    }
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); spec.len()];
    let mut pending: Vec<usize> = deps.iter().map(BTreeSet::len).collect();
    for (i, d) in deps.iter().enumerate() {
        for j in d {
            users[*j].push(i);
        }
    }
    let mut ready: BTreeSet<usize> = (0..spec.len()).filter(|i| pending[*i] == 0).collect();
    let mut order = Vec::with_capacity(spec.len());
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &u in &users[i] {
            pending[u] -= 1;
            if pending[u] == 0 {
                ready.insert(u);
            }
        }
    }
    if order.len() < spec.len() {
        let stuck: Vec<&str> = (0..spec.len()).filter(|i| pending[*i] > 0).map(|i| spec[i].name.as_str()).collect();
        return Err(TransformError::Feature {
            feature: stuck[0].to_string(),
            message: format!("features depend on each other in a cycle (among: {})", stuck.join(", ")),
        });
    }
    Ok(order)
}

fn feature_refs(n: &Node, out: &mut Vec<String>) {
    match n {
        Node::Feature(name) => out.push(name.clone()),
        Node::Lit(_) | Node::Column(_) => {}
        Node::Call { args, named, .. } => {
            for a in args.iter().chain(named.values()) {
                feature_refs(a, out);
            }
        }
        Node::Unary { arg, .. } => feature_refs(arg, out),
        Node::Binary { lhs, rhs, .. } => {
            feature_refs(lhs, out);
            feature_refs(rhs, out);
        }
        Node::If { cond, then, otherwise } => {
            feature_refs(cond, out);
            feature_refs(then, out);
            feature_refs(otherwise, out);
        }
    }
}

/// The number of values of a categorical expression.
fn categories(e: &Expr) -> Option<u64> {
    match e {
        Expr::Bucketize(_, b) => Some(b.len() as u64 + 1),
        Expr::HashBucket(_, n) | Expr::Cross(_, _, n) => Some(*n),
        Expr::Lookup(_, v) => Some(v.len() as u64 + 1),
        _ => None,
    }
}

/// Drops inputs no output reads and renumbers the columns of the expressions.
pub(crate) fn prune_inputs(inputs: Vec<Input>, mut features: Vec<Feature>) -> (Vec<Input>, Vec<Feature>) {
    fn visit(e: &mut Expr, map: &mut HashMap<usize, usize>, order: &mut Vec<usize>) {
        match e {
            Expr::Column { index, .. } => {
                let next = map.len();
                let new = *map.entry(*index).or_insert_with(|| {
                    order.push(*index);
                    next
                });
                *index = new;
            }
            Expr::Const(_) | Expr::Str(_) => {}
            Expr::Unary(_, x)
            | Expr::Cast(x, _)
            | Expr::Bucketize(x, _)
            | Expr::Hash(x)
            | Expr::HashBucket(x, _)
            | Expr::Lookup(x, _) => visit(x, map, order),
            Expr::Binary(_, a, b) | Expr::FillNull(a, b) | Expr::Cross(a, b, _) => {
                visit(a, map, order);
                visit(b, map, order);
            }
            Expr::If(a, b, c) | Expr::Clip(a, b, c) => {
                visit(a, map, order);
                visit(b, map, order);
                visit(c, map, order);
            }
        }
    }
    let mut map = HashMap::new();
    let mut order = Vec::new();
    for f in &mut features {
        visit(&mut f.expr, &mut map, &mut order);
    }
    (order.into_iter().map(|i| inputs[i].clone()).collect(), features)
}

/// The state of one fit.
struct Fitter<'a> {
    schema: &'a Schema,
    train: &'a [RecordBatch],
    /// Every column read so far (indices are stable: only appended).
    inputs: Vec<Input>,
    /// Lowered features, by name.
    lowered: HashMap<String, Expr>,
    analyzers: Vec<Analyzer>,
    /// The feature being lowered, for errors.
    feature: String,
}

impl Fitter<'_> {
    fn err(&self, message: impl Into<String>) -> TransformError {
        TransformError::Feature { feature: self.feature.clone(), message: message.into() }
    }

    fn column(&mut self, name: &str) -> Result<Expr> {
        if let Some(i) = self.inputs.iter().position(|c| c.name == name) {
            return Ok(Expr::col(i, self.inputs[i].ty));
        }
        let Ok(field) = self.schema.field_with_name(name) else {
            let names: Vec<&str> = self.schema.fields().iter().map(|f| f.name().as_str()).collect();
            let mut m = format!("no column `{name}` in the examples");
            if let Some(s) = closest(name, &names) {
                m.push_str(&format!("; did you mean `{s}`?"));
            } else {
                m.push_str(&format!(" (columns: {})", names.join(", ")));
            }
            return Err(self.err(m));
        };
        let Some(ty) = ir_type(field.data_type()) else {
            return Err(self.err(format!(
                "column `{name}` is {}, which a transform cannot read (it reads integers, floats, booleans and strings)",
                field.data_type()
            )));
        };
        self.inputs.push(Input { name: name.to_string(), ty });
        Ok(Expr::col(self.inputs.len() - 1, ty))
    }

    fn lower(&mut self, n: &Node) -> Result<Expr> {
        Ok(match n {
            Node::Lit(l) => match l {
                Lit::Int(x) => Expr::i64(*x),
                Lit::Float(x) => Expr::f64(*x),
                Lit::Bool(x) => Expr::bool(*x),
                Lit::String(x) | Lit::Path(x) => Expr::Str(x.clone()),
                Lit::List(_) => {
                    return Err(
                        self.err(format!("a list can only be the boundaries of `bucketize`, found `{}`", n.display()))
                    );
                }
                Lit::Duration(_) | Lit::Size(_) => {
                    return Err(self.err(format!("`{}` is not a value a feature can use", n.display())));
                }
            },
            Node::Column(c) => self.column(c)?,
            Node::Feature(f) => match self.lowered.get(f) {
                Some(e) => e.clone(),
                None => return Err(self.err(format!("reads feature `{f}`, which is not defined before use"))),
            },
            Node::Unary { op, arg } => {
                let x = self.lower(arg)?;
                x.unary(match op {
                    UnOp::Neg => UnaryOp::Neg,
                    UnOp::Not => UnaryOp::Not,
                })
            }
            Node::Binary { op, lhs, rhs } => {
                let (a, b) = (self.lower(lhs)?, self.lower(rhs)?);
                let op = match op {
                    BinOp::Coalesce => return Ok(a.fill_null(b)),
                    BinOp::Or => BinaryOp::Or,
                    BinOp::And => BinaryOp::And,
                    BinOp::Eq => BinaryOp::Eq,
                    BinOp::Ne => BinaryOp::Ne,
                    BinOp::Lt => BinaryOp::Lt,
                    BinOp::Le => BinaryOp::Le,
                    BinOp::Gt => BinaryOp::Gt,
                    BinOp::Ge => BinaryOp::Ge,
                    BinOp::Add => BinaryOp::Add,
                    BinOp::Sub => BinaryOp::Sub,
                    BinOp::Mul => BinaryOp::Mul,
                    BinOp::Div => BinaryOp::Div,
                    BinOp::Rem => BinaryOp::Rem,
                };
                a.binary(op, b)
            }
            Node::If { cond, then, otherwise } => {
                let (c, a, b) = (self.lower(cond)?, self.lower(then)?, self.lower(otherwise)?);
                c.then(a, b)
            }
            Node::Call { func, args, named } => self.call(n, func, args, named)?,
        })
    }

    /// The integer literal of named argument `name` (`default` when absent).
    fn named_int(
        &self,
        call: &Node,
        named: &std::collections::BTreeMap<String, Node>,
        name: &str,
    ) -> Result<Option<u64>> {
        match named.get(name) {
            None => Ok(None),
            Some(Node::Lit(Lit::Int(x))) if *x >= 1 => Ok(Some(*x as u64)),
            Some(other) => Err(self.err(format!(
                "`{name}` must be a whole number of at least 1, found `{}` in `{}`",
                other.display(),
                call.display()
            ))),
        }
    }

    fn call(
        &mut self,
        call: &Node,
        func: &str,
        args: &[Node],
        named: &std::collections::BTreeMap<String, Node>,
    ) -> Result<Expr> {
        let allowed: &[&str] = match func {
            "cross" | "quantile_bucket" => &["buckets"],
            "vocabulary" => &["top"],
            _ => &[],
        };
        if let Some(k) = named.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(self.err(if allowed.is_empty() {
                format!("`{func}` takes no named arguments, found `{k}` in `{}`", call.display())
            } else {
                format!(
                    "`{func}` has no argument named `{k}` (it takes: {}) in `{}`",
                    allowed.join(", "),
                    call.display()
                )
            }));
        }
        let feature = self.feature.clone();
        let arity = |n: usize| -> Result<()> {
            if args.len() == n {
                Ok(())
            } else {
                Err(TransformError::Feature {
                    feature: feature.clone(),
                    message: format!(
                        "`{func}` takes {n} argument{}, {} given, in `{}`",
                        if n == 1 { "" } else { "s" },
                        args.len(),
                        call.display()
                    ),
                })
            }
        };
        let unary = |s: &mut Self, op: UnaryOp| -> Result<Expr> {
            arity(1)?;
            Ok(s.lower(&args[0])?.unary(op))
        };
        let binary = |s: &mut Self, op: BinaryOp| -> Result<Expr> {
            arity(2)?;
            let a = s.lower(&args[0])?;
            Ok(a.binary(op, s.lower(&args[1])?))
        };
        match func {
            "log" => unary(self, UnaryOp::Log),
            "log1p" => unary(self, UnaryOp::Log1p),
            "exp" => unary(self, UnaryOp::Exp),
            "sqrt" => unary(self, UnaryOp::Sqrt),
            "round" => unary(self, UnaryOp::Round),
            "floor" => unary(self, UnaryOp::Floor),
            "ceil" => unary(self, UnaryOp::Ceil),
            "abs" => unary(self, UnaryOp::Abs),
            "is_null" => unary(self, UnaryOp::IsNull),
            "pow" => binary(self, BinaryOp::Pow),
            "min" => binary(self, BinaryOp::Min),
            "max" => binary(self, BinaryOp::Max),
            "fill_null" => {
                arity(2)?;
                let x = self.lower(&args[0])?;
                Ok(x.fill_null(self.lower(&args[1])?))
            }
            "clip" => {
                arity(3)?;
                let x = self.lower(&args[0])?;
                let lo = self.lower(&args[1])?;
                Ok(x.clip(lo, self.lower(&args[2])?))
            }
            "float" | "int" | "string" => {
                arity(1)?;
                let ty = match func {
                    "float" => Type::Float64,
                    "int" => Type::Int64,
                    _ => Type::Utf8,
                };
                Ok(self.lower(&args[0])?.cast(ty))
            }
            "col" => {
                arity(1)?;
                match &args[0] {
                    Node::Lit(Lit::String(c)) => self.column(c),
                    other => Err(self.err(format!("`col` takes a column name in quotes, found `{}`", other.display()))),
                }
            }
            "bucketize" => {
                arity(2)?;
                let x = self.lower(&args[0])?;
                let bounds = match &args[1] {
                    Node::Lit(Lit::List(items)) => items
                        .iter()
                        .map(|l| match l {
                            Lit::Int(i) => Ok(*i as f64),
                            Lit::Float(f) => Ok(*f),
                            _ => Err(self.err(format!("the boundaries of `{}` must be numbers", call.display()))),
                        })
                        .collect::<Result<Vec<f64>>>()?,
                    other => {
                        return Err(self.err(format!(
                            "the boundaries of `bucketize` must be a list of numbers like [6, 12, 18], found `{}`",
                            other.display()
                        )));
                    }
                };
                Ok(x.bucketize(bounds))
            }
            "hash_bucket" => {
                arity(2)?;
                let x = self.lower(&args[0])?;
                match &args[1] {
                    Node::Lit(Lit::Int(n)) if *n >= 1 => Ok(Expr::HashBucket(Box::new(x), *n as u64)),
                    other => Err(self.err(format!(
                        "the number of buckets of `hash_bucket` must be a whole number of at least 1, found `{}`",
                        other.display()
                    ))),
                }
            }
            "cross" => {
                arity(2)?;
                let Some(n) = self.named_int(call, named, "buckets")? else {
                    return Err(self.err(format!(
                        "`cross` needs the number of buckets: `cross(a, b, buckets = 1000)`, in `{}`",
                        call.display()
                    )));
                };
                let a = self.lower(&args[0])?;
                let b = self.lower(&args[1])?;
                Ok(Expr::Cross(Box::new(a), Box::new(b), n))
            }
            "zscore" | "scale01" | "quantile_bucket" | "vocabulary" => {
                arity(1)?;
                let x = self.lower(&args[0])?;
                self.analyzer(call, func, x, named)
            }
            _ => {
                let mut m = format!("unknown function `{func}`");
                if let Some(s) = closest(func, FUNCTIONS) {
                    m.push_str(&format!("; did you mean `{s}`?"));
                }
                Err(self.err(m))
            }
        }
    }

    /// The values of `e` over the training batches, one array per batch.
    fn evaluate(&self, e: &Expr) -> Result<Vec<ArrayRef>> {
        let program = Program::compile(ProgramIr {
            inputs: self.inputs.clone(),
            outputs: vec![Output { name: "value".to_string(), expr: e.clone() }],
        })
        .map_err(|err| match err {
            TransformError::Type { expr, message, .. } => {
                TransformError::Type { output: self.feature.clone(), expr, message }
            }
            other => other,
        })?;
        self.train.iter().map(|b| Ok(program.run(b)?.column(0).clone())).collect()
    }

    /// The finite training values of numeric `x`.
    fn finite_values(&self, x: &Expr, call: &Node) -> Result<Vec<f64>> {
        let ty = type_of(x, &self.inputs, &self.feature)?;
        if !ty.is_numeric() {
            return Err(self.err(format!("`{}` needs a number, but its argument is {ty}", call.display())));
        }
        let mut out = Vec::new();
        for a in self.evaluate(&x.clone().cast(Type::Float64))? {
            out.extend(a.as_primitive::<Float64Type>().iter().flatten().filter(|v| v.is_finite()));
        }
        Ok(out)
    }

    fn analyzer(
        &mut self,
        call: &Node,
        func: &str,
        x: Expr,
        named: &std::collections::BTreeMap<String, Node>,
    ) -> Result<Expr> {
        let (values, fitted, e) = match func {
            "zscore" => {
                let v = self.finite_values(&x, call)?;
                // Welford's update: stable for large means.
                let (mut mean, mut m2) = (0.0f64, 0.0f64);
                for (k, x) in v.iter().enumerate() {
                    let d = x - mean;
                    mean += d / (k + 1) as f64;
                    m2 += d * (x - mean);
                }
                let std_dev = if v.is_empty() { 0.0 } else { (m2 / v.len() as f64).sqrt() };
                let centered = x.sub(Expr::f64(mean));
                let e = if std_dev > 0.0 && std_dev.is_finite() { centered.div(Expr::f64(std_dev)) } else { centered };
                (v.len(), Fitted::Zscore { mean, std_dev }, e)
            }
            "scale01" => {
                let v = self.finite_values(&x, call)?;
                let min = v.iter().copied().fold(f64::INFINITY, f64::min);
                let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let e = if !v.is_empty() && max > min {
                    x.sub(Expr::f64(min)).div(Expr::f64(max - min))
                } else {
                    x.mul(Expr::f64(0.0)).add(Expr::f64(0.5))
                };
                let (min, max) = if v.is_empty() { (0.0, 0.0) } else { (min, max) };
                (v.len(), Fitted::Scale01 { min, max }, e)
            }
            "quantile_bucket" => {
                let buckets = self.named_int(call, named, "buckets")?.unwrap_or(10);
                if buckets > MAX_QUANTILE_BUCKETS {
                    return Err(self.err(format!(
                        "`{}` asks for {buckets} buckets; at most {MAX_QUANTILE_BUCKETS} are supported",
                        call.display()
                    )));
                }
                let mut v = self.finite_values(&x, call)?;
                v.sort_unstable_by(f64::total_cmp);
                let mut boundaries: Vec<f64> = Vec::new();
                if !v.is_empty() {
                    for i in 1..buckets {
                        let rank = (u128::from(i) * v.len() as u128 / u128::from(buckets)) as usize;
                        let b = v[rank.min(v.len() - 1)];
                        // -0.0 and 0.0 are one boundary.
                        let b = if b == 0.0 { 0.0 } else { b };
                        if boundaries.last().is_none_or(|l| *l < b) {
                            boundaries.push(b);
                        }
                    }
                }
                let e = x.bucketize(boundaries.clone());
                (v.len(), Fitted::QuantileBucket { buckets, boundaries }, e)
            }
            _ => {
                let top = self.named_int(call, named, "top")?;
                let (counts, seen) = self.count_strings(&x, call)?;
                let distinct = counts.len() as u64;
                let mut ranked: Vec<(String, u64)> = counts.into_iter().collect();
                ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                if let Some(k) = top {
                    ranked.truncate(usize::try_from(k).unwrap_or(usize::MAX));
                }
                let (values, counts): (Vec<String>, Vec<u64>) = ranked.into_iter().unzip();
                let e = Expr::Lookup(Box::new(x), values.clone());
                (seen as usize, Fitted::Vocabulary { top, values, counts, distinct }, e)
            }
        };
        self.analyzers.push(Analyzer {
            feature: self.feature.clone(),
            call: call.display(),
            values: values as u64,
            fitted,
        });
        Ok(e)
    }

    /// How often each `string(x)` occurs in the training rows (nulls left out), and how many
    /// non-null values there were.
    fn count_strings(&self, x: &Expr, call: &Node) -> Result<(HashMap<String, u64>, u64)> {
        let ty = type_of(x, &self.inputs, &self.feature)?;
        let mut out: HashMap<String, u64> = HashMap::new();
        let mut seen = 0u64;
        // A string column: count the strings themselves.
        if let Expr::Column { index, ty: Type::Utf8 } = x {
            let name = &self.inputs[*index].name;
            for b in self.train {
                let a = b
                    .column_by_name(name)
                    .ok_or_else(|| TransformError::MissingColumn { column: name.clone(), index: *index })?;
                let mut add = |s: Option<&str>| {
                    if let Some(s) = s {
                        seen += 1;
                        match out.get_mut(s) {
                            Some(c) => *c += 1,
                            None => {
                                out.insert(s.to_string(), 1);
                            }
                        }
                    }
                };
                match a.data_type() {
                    DataType::LargeUtf8 => a.as_string::<i64>().iter().for_each(&mut add),
                    DataType::Utf8View => a.as_string_view().iter().for_each(&mut add),
                    _ => a.as_string::<i32>().iter().for_each(&mut add),
                }
            }
            return Ok((out, seen));
        }
        // `string(e)` of a number or a bool: count the values, then print them.
        let inner = match x {
            Expr::Cast(e, Type::Utf8) if type_of(e, &self.inputs, &self.feature)? != Type::Utf8 => e.as_ref(),
            _ if ty != Type::Utf8 => x,
            _ => return self.count_hashed(x, call),
        };
        let inner_ty = type_of(inner, &self.inputs, &self.feature)?;
        let arrays = self.evaluate(inner)?;
        match inner_ty {
            Type::Int64 => {
                let mut c: HashMap<i64, u64> = HashMap::new();
                for a in &arrays {
                    for v in a.as_primitive::<Int64Type>().iter().flatten() {
                        *c.entry(v).or_default() += 1;
                        seen += 1;
                    }
                }
                out.extend(c.into_iter().map(|(k, n)| (k.to_string(), n)));
            }
            Type::Float64 => {
                let mut c: HashMap<u64, u64> = HashMap::new();
                for a in &arrays {
                    for v in a.as_primitive::<Float64Type>().iter().flatten() {
                        let v = if v.is_nan() { f64::NAN } else { v };
                        *c.entry(v.to_bits()).or_default() += 1;
                        seen += 1;
                    }
                }
                for (k, n) in c {
                    *out.entry(format!("{}", f64::from_bits(k))).or_default() += n;
                }
            }
            _ => {
                for a in &arrays {
                    for v in a.as_boolean().iter().flatten() {
                        *out.entry(v.to_string()).or_default() += 1;
                        seen += 1;
                    }
                }
            }
        }
        Ok((out, seen))
    }

    /// [`Self::count_strings`] for a computed string (`fill_null(company, "unknown")`): counts
    /// hashes, then names them from the strings the expression can produce (its string
    /// columns' training values and its string constants).
    fn count_hashed(&self, x: &Expr, call: &Node) -> Result<(HashMap<String, u64>, u64)> {
        let mut by_hash: HashMap<u64, u64> = HashMap::new();
        let mut seen = 0u64;
        for a in self.evaluate(&Expr::Hash(Box::new(x.clone())))? {
            for v in a.as_primitive::<Int64Type>().iter().flatten() {
                *by_hash.entry(v as u64).or_default() += 1;
                seen += 1;
            }
        }
        let mut names: HashMap<u64, String> = HashMap::new();
        let mut columns = Vec::new();
        let mut constants = Vec::new();
        strings_of(x, &mut columns, &mut constants);
        for s in constants {
            names.insert(crate::ir::hash_str(&s), s);
        }
        for index in columns {
            let name = &self.inputs[index].name;
            for b in self.train {
                let Some(a) = b.column_by_name(name) else { continue };
                let hashes = hash_strings(a);
                for (r, h) in hashes.iter().enumerate() {
                    if by_hash.contains_key(h) && !names.contains_key(h) && a.is_valid(r) {
                        let s = match a.data_type() {
                            DataType::LargeUtf8 => a.as_string::<i64>().value(r).to_string(),
                            DataType::Utf8View => a.as_string_view().value(r).to_string(),
                            _ => a.as_string::<i32>().value(r).to_string(),
                        };
                        names.insert(*h, s);
                    }
                }
            }
        }
        let mut out = HashMap::new();
        for (h, n) in by_hash {
            let Some(s) = names.remove(&h) else {
                return Err(self.err(format!(
                    "cannot name the values of `{}`: it makes strings from numbers inside a condition; apply `vocabulary` to a string column, to `string(x)`, or to `if`/`fill_null` over string columns and constants",
                    call.display()
                )));
            };
            out.insert(s, n);
        }
        Ok((out, seen))
    }
}

/// The string columns and string constants an expression can yield as its value.
fn strings_of(e: &Expr, columns: &mut Vec<usize>, constants: &mut Vec<String>) {
    match e {
        Expr::Column { index, ty: Type::Utf8 } => columns.push(*index),
        Expr::Str(s) => constants.push(s.clone()),
        Expr::If(_, a, b) | Expr::FillNull(a, b) => {
            strings_of(a, columns, constants);
            strings_of(b, columns, constants);
        }
        Expr::Cast(x, Type::Utf8) => strings_of(x, columns, constants),
        _ => {}
    }
}

/// The candidate closest to `name` by edit distance, if close enough to be a likely typo.
pub(crate) fn closest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    /// Edit distance with adjacent transpositions (optimal string alignment).
    fn distance(a: &str, b: &str) -> usize {
        let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
        let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
        for (i, row) in d.iter_mut().enumerate() {
            row[0] = i;
        }
        for (j, cell) in d[0].iter_mut().enumerate() {
            *cell = j;
        }
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                let mut v = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    v = v.min(d[i - 2][j - 2] + 1);
                }
                d[i][j] = v;
            }
        }
        d[a.len()][b.len()]
    }
    candidates
        .iter()
        .map(|c| (distance(name, c), *c))
        .filter(|(d, c)| *d <= name.len().max(c.len()).div_ceil(3))
        .min()
        .map(|(_, c)| c)
}
