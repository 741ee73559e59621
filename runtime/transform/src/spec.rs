//! Feature specs: the feature block of a transform step as it reaches the host, before any
//! fitting. The format is the JSON the language's IR gives a `features` parameter (one
//! `{"name": ..., "expr": ...}` per line of the block, expressions as `mlp-lang`'s `IrExpr`),
//! so the stdlib `transform` component passes its parameter through unchanged and a plugin
//! author can write the same JSON by hand (see `docs/plugins.md`).
//!
//! [`crate::fit`] lowers a spec to the typed IR of [`crate::ir`], fitting analyzers on the
//! way. This module only parses and prints.

use crate::error::{Result, TransformError};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One line of a feature block: `name = expr`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct FeatureDef {
    /// The feature's name (an output column, unless it is a string).
    pub name: String,
    /// Its expression.
    pub expr: Node,
}

/// A literal, tagged with its type as the IR writes it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Lit {
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A string.
    String(String),
    /// A path (a string to a feature block).
    Path(String),
    /// A duration in milliseconds (not usable in features).
    Duration(u64),
    /// A size in bytes (not usable in features).
    Size(u64),
    /// A list (bucket boundaries).
    List(Vec<Lit>),
}

/// Unary operators of the language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnOp {
    /// `-x`
    Neg,
    /// `not x`
    Not,
}

/// Binary operators of the language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BinOp {
    /// `a ?? b`: `a`, or `b` where `a` is null.
    Coalesce,
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
    /// `%`
    Rem,
}

impl BinOp {
    fn symbol(self) -> &'static str {
        match self {
            BinOp::Coalesce => "??",
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
        }
    }
}

/// An expression of a feature block.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Node {
    /// A constant.
    Lit(Lit),
    /// An input column.
    Column(String),
    /// Another feature of the block.
    Feature(String),
    /// A function call.
    Call {
        /// The function's name.
        func: String,
        /// Positional arguments.
        #[serde(default)]
        args: Vec<Node>,
        /// Named arguments.
        #[serde(default)]
        named: BTreeMap<String, Node>,
    },
    /// A unary operator.
    Unary {
        /// The operator.
        op: UnOp,
        /// The operand.
        arg: Box<Node>,
    },
    /// A binary operator.
    Binary {
        /// The operator.
        op: BinOp,
        /// Left operand.
        lhs: Box<Node>,
        /// Right operand.
        rhs: Box<Node>,
    },
    /// `if cond then then else otherwise`.
    If {
        /// The condition.
        cond: Box<Node>,
        /// When true.
        then: Box<Node>,
        /// When false or null.
        otherwise: Box<Node>,
    },
}

impl Node {
    /// The expression as it would be written in a `.mlp` file.
    pub fn display(&self) -> String {
        let mut s = String::new();
        self.write(&mut s);
        s
    }

    fn write(&self, s: &mut String) {
        match self {
            Node::Lit(l) => write_lit(l, s),
            Node::Column(n) | Node::Feature(n) => s.push_str(n),
            Node::Call { func, args, named } => {
                s.push_str(func);
                s.push('(');
                let mut first = true;
                for a in args {
                    if !first {
                        s.push_str(", ");
                    }
                    first = false;
                    a.write(s);
                }
                for (k, v) in named {
                    if !first {
                        s.push_str(", ");
                    }
                    first = false;
                    s.push_str(k);
                    s.push_str(" = ");
                    v.write(s);
                }
                s.push(')');
            }
            Node::Unary { op: UnOp::Neg, arg } => {
                s.push('-');
                arg.write_operand(s);
            }
            Node::Unary { op: UnOp::Not, arg } => {
                s.push_str("not ");
                arg.write_operand(s);
            }
            Node::Binary { op, lhs, rhs } => {
                lhs.write_operand(s);
                let _ = write!(s, " {} ", op.symbol());
                rhs.write_operand(s);
            }
            Node::If { cond, then, otherwise } => {
                s.push_str("if ");
                cond.write(s);
                s.push_str(" then ");
                then.write(s);
                s.push_str(" else ");
                otherwise.write(s);
            }
        }
    }

    /// An operand of an operator: parenthesized unless it is atomic.
    fn write_operand(&self, s: &mut String) {
        if matches!(self, Node::Binary { .. } | Node::If { .. } | Node::Unary { .. }) {
            s.push('(');
            self.write(s);
            s.push(')');
        } else {
            self.write(s);
        }
    }
}

fn write_lit(l: &Lit, s: &mut String) {
    match l {
        Lit::Int(x) => {
            let _ = write!(s, "{x}");
        }
        Lit::Float(x) => {
            let _ = write!(s, "{x:?}");
        }
        Lit::Bool(x) => {
            let _ = write!(s, "{x}");
        }
        Lit::String(x) | Lit::Path(x) => {
            let _ = write!(s, "{x:?}");
        }
        Lit::Duration(ms) => {
            let _ = write!(s, "{ms}ms");
        }
        Lit::Size(b) => {
            let _ = write!(s, "{b}B");
        }
        Lit::List(items) => {
            s.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                write_lit(x, s);
            }
            s.push(']');
        }
    }
}

/// Parses a feature spec: a JSON list of `{"name", "expr"}`, or the `features` parameter as a
/// step receives it (`{"type": "features", "value": [...]}`).
pub fn parse_spec(json: &str) -> Result<Vec<FeatureDef>> {
    let bad = |e: String| TransformError::Invalid(format!("the feature spec is not valid: {e}"));
    // Parse to a value first, so that errors inside a feature name it.
    let v: serde_json::Value = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
    let items = match &v {
        serde_json::Value::Array(items) => items.clone(),
        serde_json::Value::Object(m) => match (m.get("type"), m.get("value")) {
            (Some(serde_json::Value::String(t)), Some(serde_json::Value::Array(items))) if t == "features" => {
                items.clone()
            }
            _ => {
                return Err(bad(
                    "expected a list of features, or {\"type\": \"features\", \"value\": [...]}".to_string()
                ));
            }
        },
        _ => return Err(bad("expected a list of features".to_string())),
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let name = item.get("name").and_then(|n| n.as_str()).map(str::to_owned);
        let def: FeatureDef = serde_json::from_value(item).map_err(|e| {
            bad(match &name {
                Some(n) => format!("feature `{n}`: {e}"),
                None => format!("feature #{}: {e}", i + 1),
            })
        })?;
        out.push(def);
    }
    Ok(out)
}
