//! Expression typing: constants, feature blocks, free `expr` values and `when` conditions.
//!
//! Part of the checker. One walk types every kind of expression; the [`Mode`] decides what a
//! bare name means (a parameter, a feature, a column, a metric, or a step output).

use super::body::Scope;
use super::types::{FUNCTIONS, FnKind, Ty, function};
use super::{Cx, article};
use crate::codes::Code;
use crate::diag::{Diagnostic, suggest};
use crate::syntax::ast::*;
use std::collections::HashMap;

/// What names mean in an expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A parameter value: names are parameters.
    Const,
    /// A feature block: names are features, parameters, then columns.
    Feature,
    /// An `expr` value: names are parameters, else free (metrics).
    Free,
    /// A `when` condition: parameters and step outputs.
    When,
}

/// Context of one expression walk.
pub(crate) struct ExprCx<'a> {
    pub mode: Mode,
    pub scope: &'a Scope,
    pub module: usize,
    pub in_analyzer: bool,
    /// Types of the features of the block being checked (feature mode).
    pub features: HashMap<String, Ty>,
    /// Step outputs referenced (when mode): (step index, output).
    pub step_refs: Vec<(usize, String)>,
    /// In a feature block typed against a pinned schema: its key and column types.
    pub columns: Option<(String, std::sync::Arc<HashMap<String, Ty>>)>,
}

impl<'a> ExprCx<'a> {
    pub(crate) fn constant(scope: &'a Scope, module: usize) -> Self {
        ExprCx {
            mode: Mode::Const,
            scope,
            module,
            in_analyzer: false,
            features: HashMap::new(),
            step_refs: Vec::new(),
            columns: None,
        }
    }
    pub(crate) fn with_mode(scope: &'a Scope, module: usize, mode: Mode) -> Self {
        ExprCx { mode, ..ExprCx::constant(scope, module) }
    }
}

/// Join two types for branches and elements; `None` when they do not fit together.
pub(crate) fn join(a: &Ty, b: &Ty) -> Option<Ty> {
    match (a, b) {
        _ if a == b => Some(a.clone()),
        (Ty::Error, t) | (t, Ty::Error) => Some(t.clone()),
        (Ty::Dyn, _) | (_, Ty::Dyn) => Some(Ty::Dyn),
        (Ty::Int, Ty::Float) | (Ty::Float, Ty::Int) => Some(Ty::Float),
        (Ty::Str, Ty::Path) | (Ty::Path, Ty::Str) => Some(Ty::Path),
        (Ty::List(x), Ty::List(y)) => join(x, y).map(|t| Ty::List(Box::new(t))),
        (Ty::Map(x), Ty::Map(y)) => join(x, y).map(|t| Ty::Map(Box::new(t))),
        _ => None,
    }
}

impl Cx {
    pub(crate) fn ty_expr(&mut self, e: &Expr, cx: &mut ExprCx) -> Ty {
        let file = self.file(cx.module);
        match &e.kind {
            ExprKind::Int(_) => Ty::Int,
            ExprKind::Float(_) => Ty::Float,
            ExprKind::Str(_) => Ty::Str,
            ExprKind::Bool(_) => Ty::Bool,
            ExprKind::Duration(_) => Ty::Duration,
            ExprKind::Size(_) => Ty::Size,
            ExprKind::Error => Ty::Error,
            ExprKind::Paren(x) => self.ty_expr(x, cx),
            ExprKind::Name(n) => self.ty_name(n, cx),
            ExprKind::Field(base, field) => self.ty_field(e, base, field, cx),
            ExprKind::List(items) => {
                let mut acc: Option<Ty> = None;
                for it in items {
                    let t = self.ty_expr(it, cx);
                    acc = Some(self.join_element(acc, t, it.span, cx.module, "list elements"));
                }
                Ty::List(Box::new(acc.unwrap_or(Ty::Dyn)))
            }
            ExprKind::Record(fields) => {
                let mut acc: Option<Ty> = None;
                let mut seen: HashMap<&str, Span> = HashMap::new();
                for f in fields {
                    let Field::Entry { name, value, .. } = f else { continue };
                    if let Some(first) = seen.insert(&name.name, name.span) {
                        self.dup(file, name, first);
                    }
                    let t = self.ty_expr(value, cx);
                    acc = Some(self.join_element(acc, t, value.span, cx.module, "map values"));
                }
                Ty::Map(Box::new(acc.unwrap_or(Ty::Dyn)))
            }
            ExprKind::Unary(op, x) => {
                let t = self.ty_expr(x, cx);
                match op {
                    UnOp::Neg if t.is_numeric() || matches!(t, Ty::Duration | Ty::Size) => t,
                    UnOp::Not if matches!(t, Ty::Bool) || t.is_loose() => Ty::Bool,
                    _ => {
                        let (sym, want) = if *op == UnOp::Neg { ("-", "a number") } else { ("not", "a bool") };
                        self.err(
                            Diagnostic::new(
                                Code::E0801,
                                file,
                                e.span,
                                format!("`{sym}` cannot be applied to {}", article(&t)),
                            )
                            .label(format!("expected {want}"))
                            .secondary(file, x.span, format!("this is {}", article(&t))),
                        );
                        Ty::Error
                    }
                }
            }
            ExprKind::Binary(op, a, b) => self.ty_binary(e, *op, a, b, cx),
            ExprKind::If(c, a, b) => {
                let ct = self.ty_expr(c, cx);
                if !(ct == Ty::Bool || ct.is_loose()) {
                    self.err(
                        Diagnostic::new(
                            Code::E0806,
                            file,
                            c.span,
                            format!("the condition of `if` is {}, not a bool", article(&ct)),
                        )
                        .label("expected a bool")
                        .help("compare it, e.g. `if x > 0 then ... else ...`"),
                    );
                }
                let at = self.ty_expr(a, cx);
                let bt = self.ty_expr(b, cx);
                match join(&at, &bt) {
                    Some(t) => t,
                    None => {
                        self.err(
                            Diagnostic::new(Code::E0805, file, b.span, format!("`if` branches differ: {} and {}", at.display(), bt.display()))
                                .label(format!("this is {}", article(&bt)))
                                .secondary(file, a.span, format!("this is {}", article(&at)))
                                .help("both branches must have the same type; convert one with `float(...)`, `int(...)` or `string(...)`"),
                        );
                        Ty::Error
                    }
                }
            }
            ExprKind::Call(name, args) => self.ty_call(e, name, args, cx),
        }
    }

    /// Add one more element type to those of a list or map; report a mismatch once.
    fn join_element(&mut self, acc: Option<Ty>, t: Ty, span: Span, module: usize, what: &str) -> Ty {
        let Some(a) = acc else { return t };
        if let Some(j) = join(&a, &t) {
            return j;
        }
        let file = self.file(module);
        self.err(
            Diagnostic::new(
                Code::E0309,
                file,
                span,
                format!("{what} of different types: {} and {}", a.display(), t.display()),
            )
            .label(format!("this is {}", article(&t)))
            .help(format!("all {what} have one type")),
        );
        Ty::Error
    }

    fn ty_name(&mut self, n: &Ident, cx: &mut ExprCx) -> Ty {
        let file = self.file(cx.module);
        if cx.mode == Mode::Feature
            && let Some(t) = cx.features.get(&n.name)
        {
            return t.clone();
        }
        if let Some((t, _)) = cx.scope.params.get(&n.name) {
            cx.scope.mark_used(&n.name);
            return t.clone();
        }
        match cx.mode {
            Mode::Feature => return self.column_type(&n.name, n.span, cx),
            Mode::Free => return Ty::Dyn,
            _ => {}
        }
        if let Some(&i) = cx.scope.steps.get(&n.name) {
            cx.scope.mark_used(&n.name);
            let outs = &cx.scope.step_outputs[i];
            let first = outs.first().map(|(o, _)| o.clone()).unwrap_or_else(|| "out".into());
            self.err(
                Diagnostic::new(Code::E0307, file, n.span, format!("step `{}` used as a value", n.name))
                    .label("a step is not a value")
                    .help(if cx.mode == Mode::When {
                        format!("conditions read a Blessing or InfraBlessing output, e.g. `{}.{first}`", n.name)
                    } else {
                        "parameters take constant values; artifacts go to `input` ports".to_string()
                    }),
            );
            return Ty::Error;
        }
        if let Some((t, _)) = cx.scope.inputs.get(&n.name) {
            cx.scope.mark_used(&n.name);
            if cx.mode == Mode::When {
                return cond_type(t);
            }
            self.err(
                Diagnostic::new(Code::E0307, file, n.span, format!("input `{}` is an artifact, not a value", n.name))
                    .label(format!("this is {}", article(t)))
                    .help("pass artifacts to `input` ports of a step"),
            );
            return Ty::Error;
        }
        let names = cx.scope.value_names();
        let mut d;
        if let Some(s) = suggest(&n.name, names.iter().map(String::as_str)) {
            d = Diagnostic::new(Code::E0202, file, n.span, format!("unknown name `{}`", n.name))
                .label("not found in this scope")
                .help(format!("did you mean `{s}`?"))
                .fix(format!("replace with `{s}`"), file, n.span, s);
        } else if cx.mode == Mode::Const {
            d = Diagnostic::new(Code::E0811, file, n.span, format!("`{}` is not a parameter", n.name))
                .label("unknown name in a constant value")
                .help("parameter values are constants: literals and parameters; column names can only be used in `features` blocks and `expr` values");
        } else {
            d = Diagnostic::new(Code::E0202, file, n.span, format!("unknown name `{}`", n.name))
                .label("not found in this scope");
        }
        if cx.mode == Mode::When {
            d = d.note("a condition may use bool parameters and Blessing or InfraBlessing outputs of steps");
        }
        self.err(d);
        Ty::Error
    }

    /// The type of column `name` in a feature block: from the pinned schema when there is one
    /// (E0812 when it lacks the column), else unknown until the data is seen.
    fn column_type(&mut self, name: &str, span: Span, cx: &ExprCx) -> Ty {
        let Some((key, cols)) = &cx.columns else { return Ty::Dyn };
        if let Some(t) = cols.get(name) {
            return t.clone();
        }
        let file = self.file(cx.module);
        let mut d =
            Diagnostic::new(Code::E0812, file, span, format!("no column `{name}` in the pinned schema `{key}`"))
                .label("not a column of the schema");
        let mut names: Vec<&str> = cols.keys().map(String::as_str).collect();
        names.sort_unstable();
        if let Some(s) = suggest(name, names.iter().copied()) {
            d = d.help(format!("did you mean `{s}`?")).fix(format!("replace with `{s}`"), file, span, s);
        } else {
            let shown = names.iter().take(12).copied().collect::<Vec<_>>().join(", ");
            d = d.help(format!(
                "the schema's columns are: {shown}{}; add the column to the schema if the data has it",
                if names.len() > 12 { ", ..." } else { "" }
            ));
        }
        self.err(d);
        Ty::Error
    }

    fn ty_field(&mut self, whole: &Expr, base: &Expr, field: &Ident, cx: &mut ExprCx) -> Ty {
        let file = self.file(cx.module);
        if let ExprKind::Name(n) = &base.kind {
            let is_feature = cx.mode == Mode::Feature && cx.features.contains_key(&n.name);
            if !is_feature
                && !cx.scope.params.contains_key(&n.name)
                && let Some(&i) = cx.scope.steps.get(&n.name)
            {
                cx.scope.mark_used(&n.name);
                let Some(t) = self.step_output(i, field, cx.scope, cx.module) else { return Ty::Error };
                if let Some(super::Decl::Pipeline(q)) = &cx.scope.step_callees[i] {
                    self.used_outputs.insert((*q, field.name.clone()));
                }
                if cx.mode == Mode::When {
                    cx.step_refs.push((i, field.name.clone()));
                    let ct = cond_type(&t);
                    if ct != Ty::Bool {
                        self.err(
                                Diagnostic::new(Code::E0603, file, whole.span, format!("`{}.{}` is {}, which is not a condition", n.name, field.name, article(&t)))
                                    .label("not a Blessing or InfraBlessing")
                                    .help("a condition reads Blessing or InfraBlessing outputs (true when blessed) and bool parameters"),
                            );
                        return Ty::Error;
                    }
                    return ct;
                }
                self.err(
                    Diagnostic::new(
                        Code::E0307,
                        file,
                        whole.span,
                        format!("`{}.{}` is an artifact, not a value", n.name, field.name),
                    )
                    .label(format!("this is {}", article(&t)))
                    .help("artifacts go to `input` ports; this argument takes a value"),
                );
                return Ty::Error;
            }
        }
        let bt = self.ty_expr(base, cx);
        match bt {
            Ty::Dyn | Ty::Error => bt,
            Ty::Map(inner) => *inner,
            other => {
                self.err(
                    Diagnostic::new(
                        Code::E0801,
                        file,
                        field.span,
                        format!("{} has no field `{}`", article(&other), field.name),
                    )
                    .label("no such field")
                    .help("fields can be read from maps, step outputs and metrics"),
                );
                Ty::Error
            }
        }
    }

    /// The type of output `field` of step `i`, reporting unknown outputs.
    pub(crate) fn step_output(&mut self, i: usize, field: &Ident, scope: &Scope, module: usize) -> Option<Ty> {
        let file = self.file(module);
        let outs = &scope.step_outputs[i];
        if let Some((_, t)) = outs.iter().find(|(o, _)| *o == field.name) {
            return Some(t.clone());
        }
        if scope.step_unresolved[i] {
            return None;
        }
        let step = &scope.step_names[i];
        let mut d =
            Diagnostic::new(Code::E0205, file, field.span, format!("step `{step}` has no output `{}`", field.name))
                .label("unknown output");
        if let Some(s) = suggest(&field.name, outs.iter().map(|(o, _)| o.as_str())) {
            d = d.help(format!("did you mean `{s}`?")).fix(format!("replace with `{s}`"), file, field.span, s);
        } else {
            let names: Vec<&str> = outs.iter().map(|(o, _)| o.as_str()).collect();
            d = d.help(if names.is_empty() {
                format!("`{step}` has no outputs")
            } else {
                format!("the outputs of `{step}` are: {}", names.join(", "))
            });
        }
        self.err(d);
        None
    }

    fn ty_binary(&mut self, e: &Expr, op: BinOp, a: &Expr, b: &Expr, cx: &mut ExprCx) -> Ty {
        let file = self.file(cx.module);
        let at = self.ty_expr(a, cx);
        let bt = self.ty_expr(b, cx);
        if at == Ty::Error || bt == Ty::Error {
            return match op {
                BinOp::Or | BinOp::And | BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                    Ty::Bool
                }
                _ => Ty::Error,
            };
        }
        let num = |t: &Ty| t.is_numeric();
        let dy = at == Ty::Dyn || bt == Ty::Dyn;
        let out = match op {
            BinOp::Coalesce => join(at.unopt(), bt.unopt()),
            BinOp::Or | BinOp::And => {
                (matches!(at, Ty::Bool | Ty::Dyn) && matches!(bt, Ty::Bool | Ty::Dyn)).then_some(Ty::Bool)
            }
            BinOp::Eq | BinOp::Ne => join(&at, &bt).map(|_| Ty::Bool),
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                let ok = (num(&at) && num(&bt))
                    || (dy
                        && !matches!(at, Ty::Bool | Ty::List(_) | Ty::Map(_))
                        && !matches!(bt, Ty::Bool | Ty::List(_) | Ty::Map(_)))
                    || at == bt && matches!(at, Ty::Str | Ty::Duration | Ty::Size);
                ok.then_some(Ty::Bool)
            }
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => {
                if dy && (num(&at) || at == Ty::Str) && (num(&bt) || bt == Ty::Str) {
                    Some(Ty::Dyn)
                } else if num(&at) && num(&bt) {
                    match op {
                        BinOp::Div => Some(Ty::Float),
                        _ if at == Ty::Int && bt == Ty::Int => Some(Ty::Int),
                        _ => Some(Ty::Float),
                    }
                } else {
                    match (op, &at, &bt) {
                        (BinOp::Add, Ty::Str, Ty::Str) => Some(Ty::Str),
                        (BinOp::Add | BinOp::Sub, Ty::Duration, Ty::Duration) => Some(Ty::Duration),
                        (BinOp::Add | BinOp::Sub, Ty::Size, Ty::Size) => Some(Ty::Size),
                        (BinOp::Mul, Ty::Duration, Ty::Int) | (BinOp::Mul, Ty::Int, Ty::Duration) => Some(Ty::Duration),
                        (BinOp::Mul, Ty::Size, Ty::Int) | (BinOp::Mul, Ty::Int, Ty::Size) => Some(Ty::Size),
                        (BinOp::Div, Ty::Duration, Ty::Int) => Some(Ty::Duration),
                        (BinOp::Div, Ty::Size, Ty::Int) => Some(Ty::Size),
                        _ => None,
                    }
                }
            }
        };
        match out {
            Some(t) => t,
            None => {
                let mut d = Diagnostic::new(
                    Code::E0801,
                    file,
                    e.span,
                    format!("`{}` cannot be applied to {} and {}", op.symbol(), article(&at), article(&bt)),
                )
                .label("mismatched operands")
                .secondary(file, a.span, format!("this is {}", article(&at)))
                .secondary(file, b.span, format!("this is {}", article(&bt)));
                d = match op {
                    BinOp::And | BinOp::Or => {
                        d.help("`and` and `or` combine bools; compare numbers first, e.g. `x > 0 and y > 0`")
                    }
                    BinOp::Add if at == Ty::Str || bt == Ty::Str => {
                        d.help("`+` joins two strings; convert the other side with `string(...)`")
                    }
                    _ => d.help("convert one side with `float(...)`, `int(...)` or `string(...)`"),
                };
                self.err(d);
                Ty::Error
            }
        }
    }

    fn ty_call(&mut self, e: &Expr, name: &Ident, args: &[CallArg], cx: &mut ExprCx) -> Ty {
        let file = self.file(cx.module);
        let Some(sig) = function(&name.name) else {
            let mut d = Diagnostic::new(Code::E0802, file, name.span, format!("unknown function `{}`", name.name))
                .label("not a function");
            if let Some(s) = suggest(&name.name, FUNCTIONS.iter().map(|f| f.name)) {
                d = d.help(format!("did you mean `{s}`?")).fix(format!("replace with `{s}`"), file, name.span, s);
            } else {
                d = d.help("see the function table in docs/language.md");
            }
            self.err(d);
            for a in args {
                self.ty_expr(&a.value, cx);
            }
            return Ty::Error;
        };
        if sig.kind == FnKind::Analyzer {
            if cx.mode != Mode::Feature {
                self.err(
                    Diagnostic::new(Code::E0808, file, name.span, format!("analyzer `{}` used outside a feature block", sig.name))
                        .label("nothing to fit it on here")
                        .help("analyzers are fitted on the training split; use them in a `features` block of a transform step"),
                );
                return Ty::Error;
            }
            if cx.in_analyzer {
                self.err(
                    Diagnostic::new(
                        Code::E0808,
                        file,
                        name.span,
                        format!("analyzer `{}` inside another analyzer", sig.name),
                    )
                    .label("nested analyzer")
                    .help("define the inner analyzer as its own feature and refer to it by name"),
                );
                return Ty::Error;
            }
        }
        if sig.name == "col" && cx.mode != Mode::Feature {
            self.err(
                Diagnostic::new(Code::E0811, file, e.span, "`col(...)` used outside a feature block")
                    .label("no table here")
                    .help("columns can only be read in `features` blocks"),
            );
            return Ty::Error;
        }
        let positional: Vec<&CallArg> = args.iter().filter(|a| a.name.is_none()).collect();
        if positional.len() < sig.min || positional.len() > sig.max {
            let want = if sig.min == sig.max { format!("{}", sig.min) } else { format!("{} to {}", sig.min, sig.max) };
            self.err(
                Diagnostic::new(
                    Code::E0803,
                    file,
                    e.span,
                    format!(
                        "`{}` takes {want} argument{}, {} given",
                        sig.name,
                        if sig.max == 1 { "" } else { "s" },
                        positional.len()
                    ),
                )
                .label("wrong number of arguments")
                .help(format!("`{}`: {}", sig.name, sig.doc)),
            );
            return Ty::Error;
        }
        let was = cx.in_analyzer;
        cx.in_analyzer = was || sig.kind == FnKind::Analyzer;
        let tys: Vec<Ty> = positional.iter().map(|a| self.ty_expr(&a.value, cx)).collect();
        cx.in_analyzer = was;
        for a in args.iter().filter(|a| a.name.is_some()) {
            let n = a.name.clone().unwrap_or_else(|| name.clone());
            if !sig.named.contains(&n.name.as_str()) {
                let mut d = Diagnostic::new(
                    Code::E0810,
                    file,
                    n.span,
                    format!("`{}` has no argument named `{}`", sig.name, n.name),
                )
                .label("unknown named argument");
                if let Some(s) = suggest(&n.name, sig.named.iter().copied()) {
                    d = d.help(format!("did you mean `{s}`?")).fix(format!("replace with `{s}`"), file, n.span, s);
                } else if sig.named.is_empty() {
                    d = d.help(format!("`{}` takes no named arguments", sig.name));
                } else {
                    d = d.help(format!("`{}` takes: {}", sig.name, sig.named.join(", ")));
                }
                self.err(d);
                continue;
            }
            let t = self.ty_expr(&a.value, &mut ExprCx::constant(cx.scope, cx.module));
            if !(t == Ty::Int || t.is_loose()) {
                self.err(
                    Diagnostic::new(
                        Code::E0804,
                        file,
                        a.value.span,
                        format!("`{}` must be an int, found {}", n.name, article(&t)),
                    )
                    .label("expected an int"),
                );
            }
        }
        let bad = |cx_self: &mut Cx, i: usize, want: &str| {
            let t = &tys[i];
            cx_self.err(
                Diagnostic::new(
                    Code::E0804,
                    file,
                    positional[i].value.span,
                    format!("argument {} of `{}` must be {want}, found {}", i + 1, sig.name, article(t)),
                )
                .label(format!("expected {want}"))
                .help(format!("`{}`: {}", sig.name, sig.doc)),
            );
            Ty::Error
        };
        let all_num = |ts: &[Ty]| ts.iter().all(|t| t.is_numeric());
        match sig.kind {
            FnKind::Math => {
                if let Some(i) = tys.iter().position(|t| !t.is_numeric()) {
                    return bad(self, i, "a number");
                }
                if tys.contains(&Ty::Dyn) { Ty::Dyn } else { Ty::Float }
            }
            FnKind::Preserve => {
                if let Some(i) = tys.iter().position(|t| !t.is_numeric()) {
                    return bad(self, i, "a number");
                }
                if tys.iter().all(|t| *t == Ty::Int) {
                    Ty::Int
                } else if tys.contains(&Ty::Dyn) {
                    Ty::Dyn
                } else {
                    Ty::Float
                }
            }
            FnKind::Analyzer => match sig.name {
                "vocabulary" => Ty::Int,
                "quantile_bucket" => {
                    if !all_num(&tys) {
                        return bad(self, 0, "a number");
                    }
                    Ty::Int
                }
                _ => {
                    if !all_num(&tys) {
                        return bad(self, 0, "a number");
                    }
                    Ty::Float
                }
            },
            FnKind::Special => match sig.name {
                "float" | "int" => {
                    if !(tys[0].is_numeric() || matches!(tys[0], Ty::Str | Ty::Bool)) {
                        return bad(self, 0, "a number, string or bool");
                    }
                    if sig.name == "float" { Ty::Float } else { Ty::Int }
                }
                "string" => Ty::Str,
                "is_null" => Ty::Bool,
                "fill_null" => match join(&tys[0], &tys[1]) {
                    Some(t) => t,
                    None => bad(self, 1, &format!("the type of the first argument ({})", tys[0].display())),
                },
                "bucketize" => {
                    if !tys[0].is_numeric() {
                        return bad(self, 0, "a number");
                    }
                    match &tys[1] {
                        Ty::List(inner) if inner.is_numeric() => Ty::Int,
                        Ty::Error => Ty::Int,
                        _ => bad(self, 1, "a list of numbers, like [6, 12, 18]"),
                    }
                }
                "hash_bucket" => {
                    if !(tys[1] == Ty::Int || tys[1].is_loose()) {
                        return bad(self, 1, "an int");
                    }
                    Ty::Int
                }
                "cross" => Ty::Int,
                "col" => match &positional[0].value.kind {
                    ExprKind::Str(c) => self.column_type(c, positional[0].value.span, cx),
                    _ => bad(self, 0, "a string literal naming a column"),
                },
                _ => Ty::Dyn,
            },
        }
    }
}

/// The type an artifact has in a condition: Blessings are bools.
fn cond_type(t: &Ty) -> Ty {
    match t.unopt() {
        Ty::Artifact(a) if a == "Blessing" || a == "InfraBlessing" => Ty::Bool,
        other => other.clone(),
    }
}

/// Names read by an expression that are features of the block (for dependency order).
pub(crate) fn feature_refs(e: &Expr, features: &HashMap<String, usize>, out: &mut Vec<(String, Span)>) {
    match &e.kind {
        ExprKind::Name(n) if features.contains_key(&n.name) => out.push((n.name.clone(), n.span)),
        ExprKind::Field(b, _) | ExprKind::Paren(b) | ExprKind::Unary(_, b) => feature_refs(b, features, out),
        ExprKind::Binary(_, a, b) => {
            feature_refs(a, features, out);
            feature_refs(b, features, out);
        }
        ExprKind::If(a, b, c) => {
            feature_refs(a, features, out);
            feature_refs(b, features, out);
            feature_refs(c, features, out);
        }
        ExprKind::Call(_, args) => args.iter().for_each(|a| feature_refs(&a.value, features, out)),
        ExprKind::List(xs) => xs.iter().for_each(|x| feature_refs(x, features, out)),
        _ => {}
    }
}
