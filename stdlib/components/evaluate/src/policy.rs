//! The blessing policy: the `bless` parameter, an `.mlp` expression the runtime passes in the
//! IR encoding (`{"type": "expr", "value": {"binary": {"op": "ge", "lhs": {"free": "auc"},
//! "rhs": {"lit": {"type": "float", "value": 0.8}}}}}`), parsed ([`parse`]) and evaluated
//! against metric values ([`evaluate`]). Pipeline parameters arrive already substituted as
//! literals; the names left are metric names (`{"free": "auc"}`) and baseline metrics
//! (`{"field": [{"free": "baseline"}, "auc"]}`).
//!
//! Every comparison is a *check*, recorded with the value of each side and its result. All of
//! them are evaluated (no short-circuit), so the record is complete whatever `and` and `or`
//! decide. A comparison that reads a `baseline.` metric when there is no baseline is skipped
//! and counts as holding; one whose side is undefined (a NaN metric, a division by zero) is
//! recorded as undefined and holds only where the caller says so (slices). Operators: `and`,
//! `or`, `not`, `==`, `!=`, `<`, `<=`, `>`, `>=`, `+`, `-`, `*`, `/`, unary `-`,
//! `if c then a else b`, and the functions `abs`, `min` and `max`.

use serde_json::Value;
use std::collections::BTreeSet;

/// A parsed policy expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A number.
    Num(f64),
    /// `true` or `false`.
    Bool(bool),
    /// A metric of the candidate model.
    Metric(String),
    /// `baseline.NAME`: a metric of the baseline model.
    Baseline(String),
    /// `not x`
    Not(Box<Expr>),
    /// `-x`
    Neg(Box<Expr>),
    /// A binary operator (`and`, `ge`, `add`, ... as the IR names them).
    Binary(Op, Box<Expr>, Box<Expr>),
    /// `abs(x)`, `min(a, b, ...)`, `max(a, b, ...)`.
    Call(String, Vec<Expr>),
    /// `if c then a else b`
    If(Box<Expr>, Box<Expr>, Box<Expr>),
}

/// A binary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `or`
    Or,
    /// `and`
    And,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

impl Op {
    fn parse(name: &str) -> Option<Op> {
        Some(match name {
            "or" => Op::Or,
            "and" => Op::And,
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "lt" => Op::Lt,
            "le" => Op::Le,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "add" => Op::Add,
            "sub" => Op::Sub,
            "mul" => Op::Mul,
            "div" => Op::Div,
            _ => return None,
        })
    }

    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Or => "or",
            Op::And => "and",
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Add => "+",
            Op::Sub => "-",
            Op::Mul => "*",
            Op::Div => "/",
        }
    }

    fn is_comparison(self) -> bool {
        matches!(self, Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge)
    }

    /// Binding strength, as in the language: `or` < `and` < comparisons < `+ -` < `* /`.
    fn precedence(self) -> u8 {
        match self {
            Op::Or => 1,
            Op::And => 2,
            Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge => 4,
            Op::Add | Op::Sub => 5,
            Op::Mul | Op::Div => 6,
        }
    }
}

/// Parses the `bless` parameter as the step receives it (`{"type": "expr", "value": ...}`), or
/// the expression inside it.
pub fn parse(v: &Value) -> Result<Expr, String> {
    if v.get("type").and_then(Value::as_str) == Some("expr")
        && let Some(inner) = v.get("value")
    {
        return parse(inner);
    }
    let Some((kind, body)) = v.as_object().filter(|m| m.len() == 1).and_then(|m| m.iter().next()) else {
        return Err(format!("`bless` is not an expression in the IR encoding: {v}"));
    };
    match kind.as_str() {
        "lit" => match (body.get("type").and_then(Value::as_str), body.get("value")) {
            (Some("int" | "float"), Some(n)) if n.is_number() => Ok(Expr::Num(n.as_f64().unwrap_or(f64::NAN))),
            (Some("bool"), Some(Value::Bool(b))) => Ok(Expr::Bool(*b)),
            (ty, _) => Err(format!(
                "`bless` holds a {} value ({body}); a policy compares metrics with numbers",
                ty.unwrap_or("non-numeric")
            )),
        },
        "free" => match body.as_str() {
            Some("baseline") => {
                Err("`bless` reads `baseline` alone; name one of its metrics, such as `baseline.auc`".into())
            }
            Some(name) => Ok(Expr::Metric(name.to_string())),
            None => Err(format!("`bless` holds a name that is not text: {body}")),
        },
        "field" => match body.as_array().map(Vec::as_slice) {
            Some([base, Value::String(field)]) if base.get("free").and_then(Value::as_str) == Some("baseline") => {
                Ok(Expr::Baseline(field.clone()))
            }
            _ => Err(format!(
                "`bless` reads a field of something other than `baseline` ({body}); only `baseline.NAME` has fields"
            )),
        },
        "unary" => {
            let arg = Box::new(parse(body.get("arg").unwrap_or(&Value::Null))?);
            match body.get("op").and_then(Value::as_str) {
                Some("not") => Ok(Expr::Not(arg)),
                Some("neg") => Ok(Expr::Neg(arg)),
                other => Err(format!("`bless` uses the unknown operator {other:?}")),
            }
        }
        "binary" => {
            let name = body.get("op").and_then(Value::as_str).unwrap_or_default();
            let op = Op::parse(name).ok_or_else(|| {
                format!(
                    "`bless` uses the operator `{name}`, which a policy does not take; use and, or, not, comparisons, + - * / and abs, min, max"
                )
            })?;
            let lhs = parse(body.get("lhs").unwrap_or(&Value::Null))?;
            let rhs = parse(body.get("rhs").unwrap_or(&Value::Null))?;
            Ok(Expr::Binary(op, Box::new(lhs), Box::new(rhs)))
        }
        "call" => {
            let func = body.get("func").and_then(Value::as_str).unwrap_or_default();
            let args = body.get("args").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
            if body.get("named").and_then(Value::as_object).is_some_and(|m| !m.is_empty()) {
                return Err(format!("`bless` calls `{func}` with named arguments; it takes none"));
            }
            let ok = match func {
                "abs" => args.len() == 1,
                "min" | "max" => !args.is_empty(),
                _ => {
                    return Err(format!(
                        "`bless` calls `{func}`, which a policy does not have; the functions are abs, min and max"
                    ));
                }
            };
            if !ok {
                return Err(format!("`bless` calls `{func}` with {} arguments", args.len()));
            }
            Ok(Expr::Call(func.to_string(), args.iter().map(parse).collect::<Result<_, _>>()?))
        }
        "if" => {
            let part = |k: &str| parse(body.get(k).unwrap_or(&Value::Null)).map(Box::new);
            Ok(Expr::If(part("cond")?, part("then")?, part("otherwise")?))
        }
        "column" | "feature" | "artifact" => Err(format!("`bless` holds a {kind}, which a policy cannot read: {body}")),
        other => Err(format!("`bless` holds an expression of the unknown kind `{other}`")),
    }
}

/// The metric names an expression reads: `(candidate, baseline)`.
pub fn names(e: &Expr) -> (BTreeSet<String>, BTreeSet<String>) {
    fn walk(e: &Expr, own: &mut BTreeSet<String>, base: &mut BTreeSet<String>) {
        match e {
            Expr::Num(_) | Expr::Bool(_) => {}
            Expr::Metric(n) => {
                own.insert(n.clone());
            }
            Expr::Baseline(n) => {
                base.insert(n.clone());
            }
            Expr::Not(x) | Expr::Neg(x) => walk(x, own, base),
            Expr::Binary(_, a, b) => {
                walk(a, own, base);
                walk(b, own, base);
            }
            Expr::Call(_, args) => args.iter().for_each(|a| walk(a, own, base)),
            Expr::If(c, a, b) => {
                walk(c, own, base);
                walk(a, own, base);
                walk(b, own, base);
            }
        }
    }
    let (mut own, mut base) = (BTreeSet::new(), BTreeSet::new());
    walk(e, &mut own, &mut base);
    (own, base)
}

/// A number as a policy shows it.
fn show_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v}") }
}

/// The expression as `.mlp` text, parenthesized where needed: `auc >= baseline.auc - 0.01`.
pub fn text(e: &Expr) -> String {
    fn prec(e: &Expr) -> u8 {
        match e {
            Expr::Binary(op, _, _) => op.precedence(),
            Expr::Not(_) => 3,
            Expr::If(_, _, _) => 0,
            _ => 9,
        }
    }
    fn wrap(e: &Expr, min: u8) -> String {
        if prec(e) < min { format!("({})", text(e)) } else { text(e) }
    }
    match e {
        Expr::Num(v) => show_number(*v),
        Expr::Bool(b) => b.to_string(),
        Expr::Metric(n) => n.clone(),
        Expr::Baseline(n) => format!("baseline.{n}"),
        Expr::Not(x) => format!("not {}", wrap(x, 3)),
        Expr::Neg(x) => format!("-{}", wrap(x, 9)),
        Expr::Binary(op, a, b) => {
            let p = op.precedence();
            // Left-associative: the right side needs parentheses at equal strength.
            format!("{} {} {}", wrap(a, p), op.symbol(), wrap(b, p + 1))
        }
        Expr::Call(f, args) => format!("{f}({})", args.iter().map(text).collect::<Vec<_>>().join(", ")),
        Expr::If(c, a, b) => format!("if {} then {} else {}", text(c), text(a), text(b)),
    }
}

/// What a check came to.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    /// The comparison holds.
    Passed,
    /// It does not.
    Failed,
    /// It reads a `baseline.` metric and there is no baseline: it counts as holding.
    SkippedNoBaseline,
    /// A side is undefined (NaN): it holds only when undefined values are allowed to.
    Undefined,
}

/// One comparison of the policy, with its numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// The comparison as text: `auc >= 0.8`.
    pub text: String,
    /// Its operator as written.
    pub op: &'static str,
    /// The left side's value (`None` when it cannot be computed: no baseline, or not a number).
    pub left: Option<f64>,
    /// The right side's value.
    pub right: Option<f64>,
    /// What it came to.
    pub status: Status,
    /// Whether it counts as holding.
    pub holds: bool,
}

impl Check {
    /// The status as words: `passed`, `failed`, `skipped (no baseline)`, `undefined`.
    pub fn status_text(&self) -> &'static str {
        match self.status {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::SkippedNoBaseline => "skipped (no baseline)",
            Status::Undefined => "undefined",
        }
    }

    /// The check with its numbers, for logs: `auc >= 0.8: 0.8312 >= 0.8, passed`.
    pub fn describe(&self) -> String {
        let side = |v: Option<f64>| v.map_or("?".to_string(), |v| format!("{v:.4}"));
        format!("{}: {} {} {}, {}", self.text, side(self.left), self.op, side(self.right), self.status_text())
    }
}

/// A model's metric by name: NaN when it is undefined, `None` when there is no such metric.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<f64>;

/// What the policy needs to be evaluated.
pub struct Env<'a> {
    /// The candidate's metrics.
    pub metric: Lookup<'a>,
    /// The baseline's, when there is a baseline.
    pub baseline: Option<Lookup<'a>>,
    /// Whether a comparison with an undefined side counts as holding.
    pub undefined_holds: bool,
}

/// The policy's verdict and every check.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Whether the policy holds.
    pub holds: bool,
    /// Every comparison, in the order written.
    pub checks: Vec<Check>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Val {
    Num(f64),
    Bool(bool),
    /// A baseline metric without a baseline, or something computed from one.
    Missing,
}

/// Evaluates `e`. Errors when a name is not a metric (`names` lists them for the message) or a
/// value has the wrong kind (a number where a condition is needed).
pub fn evaluate(e: &Expr, env: &Env<'_>) -> Result<Outcome, String> {
    let mut checks = Vec::new();
    match eval(e, env, &mut checks)? {
        Val::Bool(b) => Ok(Outcome { holds: b, checks }),
        Val::Missing => Ok(Outcome { holds: true, checks }),
        Val::Num(_) => Err(format!("`bless` is `{}`, a number; it must be a condition such as `auc >= 0.8`", text(e))),
    }
}

fn eval(e: &Expr, env: &Env<'_>, checks: &mut Vec<Check>) -> Result<Val, String> {
    let num = |v: Val, at: &Expr| -> Result<Option<f64>, String> {
        match v {
            Val::Num(x) => Ok(Some(x)),
            Val::Missing => Ok(None),
            Val::Bool(_) => Err(format!("`{}` is a condition where `bless` needs a number", text(at))),
        }
    };
    let cond = |v: Val, at: &Expr| -> Result<bool, String> {
        match v {
            Val::Bool(b) => Ok(b),
            Val::Missing => Ok(true),
            Val::Num(_) => Err(format!("`{}` is a number where `bless` needs a condition", text(at))),
        }
    };
    Ok(match e {
        Expr::Num(v) => Val::Num(*v),
        Expr::Bool(b) => Val::Bool(*b),
        Expr::Metric(n) => {
            Val::Num((env.metric)(n).ok_or_else(|| format!("`bless` reads `{n}`, which is not a metric"))?)
        }
        Expr::Baseline(n) => match env.baseline {
            Some(f) => Val::Num(f(n).ok_or_else(|| format!("`bless` reads `baseline.{n}`, which is not a metric"))?),
            None => Val::Missing,
        },
        Expr::Not(x) => Val::Bool(!cond(eval(x, env, checks)?, x)?),
        Expr::Neg(x) => match num(eval(x, env, checks)?, x)? {
            Some(v) => Val::Num(-v),
            None => Val::Missing,
        },
        Expr::Binary(op, a, b) if op.is_comparison() => {
            let (va, vb) = (eval(a, env, checks)?, eval(b, env, checks)?);
            let (left, right, holds_num) = match (va, vb) {
                (Val::Bool(x), Val::Bool(y)) if matches!(op, Op::Eq | Op::Ne) => {
                    let same = x == y;
                    let holds = if *op == Op::Eq { same } else { !same };
                    let as_num = |b: bool| Some(f64::from(u8::from(b)));
                    (as_num(x), as_num(y), Some(holds))
                }
                _ => {
                    let (l, r) = (num(va, a)?, num(vb, b)?);
                    let holds = match (l, r) {
                        (Some(x), Some(y)) if !x.is_nan() && !y.is_nan() => Some(match op {
                            Op::Eq => x == y,
                            Op::Ne => x != y,
                            Op::Lt => x < y,
                            Op::Le => x <= y,
                            Op::Gt => x > y,
                            _ => x >= y,
                        }),
                        _ => None,
                    };
                    (l, r, holds)
                }
            };
            let missing = matches!(va, Val::Missing) || matches!(vb, Val::Missing);
            let (status, holds) = match holds_num {
                _ if missing => (Status::SkippedNoBaseline, true),
                Some(true) => (Status::Passed, true),
                Some(false) => (Status::Failed, false),
                None => (Status::Undefined, env.undefined_holds),
            };
            let nan_to_none = |v: Option<f64>| v.filter(|x| !x.is_nan());
            checks.push(Check {
                text: text(e),
                op: op.symbol(),
                left: nan_to_none(left),
                right: nan_to_none(right),
                status,
                holds,
            });
            Val::Bool(holds)
        }
        Expr::Binary(op @ (Op::And | Op::Or), a, b) => {
            let (x, y) = (cond(eval(a, env, checks)?, a)?, cond(eval(b, env, checks)?, b)?);
            Val::Bool(if *op == Op::And { x && y } else { x || y })
        }
        Expr::Binary(op, a, b) => {
            let (x, y) = (num(eval(a, env, checks)?, a)?, num(eval(b, env, checks)?, b)?);
            match (x, y) {
                (Some(x), Some(y)) => Val::Num(match op {
                    Op::Add => x + y,
                    Op::Sub => x - y,
                    Op::Mul => x * y,
                    // A division by zero is undefined, not infinite.
                    _ if y == 0.0 => f64::NAN,
                    _ => x / y,
                }),
                _ => Val::Missing,
            }
        }
        Expr::Call(f, args) => {
            let mut values = Vec::with_capacity(args.len());
            for a in args {
                values.push(num(eval(a, env, checks)?, a)?);
            }
            if values.iter().any(Option::is_none) {
                return Ok(Val::Missing);
            }
            let values: Vec<f64> = values.into_iter().flatten().collect();
            Val::Num(match f.as_str() {
                "abs" => values[0].abs(),
                "min" if values.iter().any(|v| v.is_nan()) => f64::NAN,
                "max" if values.iter().any(|v| v.is_nan()) => f64::NAN,
                "min" => values.iter().copied().fold(f64::INFINITY, f64::min),
                _ => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            })
        }
        Expr::If(c, a, b) => {
            if cond(eval(c, env, checks)?, c)? {
                eval(a, env, checks)?
            } else {
                eval(b, env, checks)?
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lit(v: f64) -> Value {
        json!({"lit": {"type": "float", "value": v}})
    }
    fn free(n: &str) -> Value {
        json!({"free": n})
    }
    fn base(n: &str) -> Value {
        json!({"field": [{"free": "baseline"}, n]})
    }
    fn bin(op: &str, l: Value, r: Value) -> Value {
        json!({"binary": {"op": op, "lhs": l, "rhs": r}})
    }

    fn metric(n: &str) -> Option<f64> {
        match n {
            "auc" => Some(0.83),
            "accuracy" => Some(0.75),
            "log_loss" => Some(0.4),
            "undefined" => Some(f64::NAN),
            _ => None,
        }
    }
    fn baseline(n: &str) -> Option<f64> {
        match n {
            "auc" => Some(0.8),
            "accuracy" => Some(0.78),
            "log_loss" => Some(0.0),
            _ => None,
        }
    }

    fn run(v: &Value, with_baseline: bool) -> Outcome {
        let e = parse(v).unwrap();
        let env = Env { metric: &metric, baseline: with_baseline.then_some(&baseline as _), undefined_holds: false };
        evaluate(&e, &env).unwrap()
    }

    /// `auc >= 0.8 and auc >= baseline.auc - 0.01`, as the runtime passes it.
    fn taxi_policy() -> Value {
        json!({"type": "expr", "value": bin("and",
            bin("ge", free("auc"), lit(0.8)),
            bin("ge", free("auc"), bin("sub", base("auc"), lit(0.01))))})
    }

    #[test]
    fn parses_the_ir_encoding_and_prints_it_back() {
        let e = parse(&taxi_policy()).unwrap();
        assert_eq!(text(&e), "auc >= 0.8 and auc >= baseline.auc - 0.01");
        let (own, of_baseline) = names(&e);
        assert_eq!(own.into_iter().collect::<Vec<_>>(), ["auc"]);
        assert_eq!(of_baseline.into_iter().collect::<Vec<_>>(), ["auc"]);
        // Parentheses where the tree needs them.
        let e = parse(&bin(
            "mul",
            bin("sub", free("auc"), base("auc")),
            json!({"call": {"func": "abs", "args": [base("auc")], "named": {}}}),
        ))
        .unwrap();
        assert_eq!(text(&e), "(auc - baseline.auc) * abs(baseline.auc)");
        let e = parse(&json!({"unary": {"op": "not", "arg": bin("or", free("a"), free("b"))}})).unwrap();
        assert_eq!(text(&e), "not (a or b)");
        assert_eq!(text(&parse(&bin("sub", free("a"), bin("sub", free("b"), lit(1.0)))).unwrap()), "a - (b - 1)");
    }

    #[test]
    fn every_comparison_is_a_check_with_its_numbers() {
        let o = run(&taxi_policy(), true);
        assert!(o.holds);
        assert_eq!(o.checks.len(), 2);
        assert_eq!(o.checks[0].text, "auc >= 0.8");
        assert_eq!((o.checks[0].left, o.checks[0].op, o.checks[0].right), (Some(0.83), ">=", Some(0.8)));
        assert_eq!(o.checks[0].status, Status::Passed);
        assert_eq!(o.checks[1].text, "auc >= baseline.auc - 0.01");
        assert!((o.checks[1].right.unwrap() - 0.79).abs() < 1e-12);
        assert_eq!(o.checks[1].describe(), "auc >= baseline.auc - 0.01: 0.8300 >= 0.7900, passed");
    }

    #[test]
    fn a_failing_check_fails_the_policy_and_every_check_is_still_recorded() {
        // accuracy >= baseline.accuracy and auc > 0.9 or log_loss < 1
        let v = bin(
            "or",
            bin("and", bin("ge", free("accuracy"), base("accuracy")), bin("gt", free("auc"), lit(0.9))),
            bin("lt", free("log_loss"), lit(1.0)),
        );
        let o = run(&v, true);
        assert!(o.holds, "the `or` holds through its right side");
        let statuses: Vec<Status> = o.checks.iter().map(|c| c.status.clone()).collect();
        assert_eq!(statuses, [Status::Failed, Status::Failed, Status::Passed]);
        let o = run(&bin("and", bin("gt", free("auc"), lit(0.9)), bin("lt", free("log_loss"), lit(1.0))), true);
        assert!(!o.holds);
        assert_eq!(o.checks.len(), 2);
    }

    #[test]
    fn without_a_baseline_its_comparisons_are_skipped_and_hold() {
        let o = run(&taxi_policy(), false);
        assert!(o.holds);
        assert_eq!(o.checks[1].status, Status::SkippedNoBaseline);
        assert_eq!(o.checks[1].status_text(), "skipped (no baseline)");
        assert_eq!((o.checks[1].left, o.checks[1].right), (Some(0.83), None));
        // The value threshold still counts.
        let strict = bin("and", bin("ge", free("auc"), lit(0.9)), bin("ge", free("auc"), base("auc")));
        assert!(!run(&strict, false).holds);
    }

    #[test]
    fn relative_change_and_undefined_values() {
        // (auc - baseline.auc) / abs(baseline.auc) >= 0.03: (0.83 - 0.8) / 0.8 = 0.0375.
        let rel = bin(
            "ge",
            bin(
                "div",
                bin("sub", free("auc"), base("auc")),
                json!({"call": {"func": "abs", "args": [base("auc")], "named": {}}}),
            ),
            lit(0.03),
        );
        let o = run(&rel, true);
        assert!(o.holds);
        assert!((o.checks[0].left.unwrap() - 0.0375).abs() < 1e-12);
        // Dividing by a baseline of 0 is undefined: the check does not hold (here).
        let o = run(&bin("ge", bin("div", free("auc"), base("log_loss")), lit(1.0)), true);
        assert_eq!(o.checks[0].status, Status::Undefined);
        assert!(!o.holds);
        let o = run(&bin("ge", free("undefined"), lit(0.5)), true);
        assert_eq!((o.checks[0].left, o.checks[0].status.clone()), (None, Status::Undefined));
        // Where undefined values are allowed to hold (slices), they do.
        let e = parse(&bin("ge", free("undefined"), lit(0.5))).unwrap();
        let env = Env { metric: &metric, baseline: None, undefined_holds: true };
        assert!(evaluate(&e, &env).unwrap().holds);
        // min and max
        let e = parse(&bin(
            "ge",
            json!({"call": {"func": "min", "args": [free("auc"), free("accuracy")], "named": {}}}),
            lit(0.75),
        ))
        .unwrap();
        let env = Env { metric: &metric, baseline: None, undefined_holds: false };
        assert!(evaluate(&e, &env).unwrap().holds);
    }

    #[test]
    fn bad_policies_are_errors_that_say_what_to_do() {
        let env = Env { metric: &metric, baseline: Some(&baseline), undefined_holds: false };
        let err = |v: Value| match parse(&v) {
            Err(e) => e,
            Ok(e) => evaluate(&e, &env).unwrap_err(),
        };
        assert!(err(bin("ge", free("aucc"), lit(0.5))).contains("`aucc`, which is not a metric"));
        assert!(err(free("auc")).contains("a number; it must be a condition"));
        assert!(err(free("baseline")).contains("`baseline.auc`"));
        assert!(err(bin("coalesce", free("auc"), lit(0.5))).contains("operator `coalesce`"));
        assert!(err(json!({"call": {"func": "log", "args": [free("auc")], "named": {}}})).contains("abs, min and max"));
        assert!(err(json!({"lit": {"type": "string", "value": "x"}})).contains("string value"));
        assert!(err(bin("and", free("auc"), bin("gt", free("auc"), lit(0.1)))).contains("`auc` is a number"));
    }
}
