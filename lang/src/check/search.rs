//! Checking hyperparameter searches: `space` values (their dimensions), `component` values
//! (the trainer a search runs), and a search step against its trainer.
//!
//! Part of the checker. A component with a `component` parameter and a `space` parameter is a
//! search: lowering ([`crate::ir`]) runs the named trainer once per point of the space. Here
//! every dimension must name a parameter of the trainer and fit its type, and the trainer must
//! be runnable from what the search step is given, so a search that type-checks expands.

use super::body::Scope;
use super::expr::ExprCx;
use super::types::Ty;
use super::{Cx, Decl, article};
use crate::codes::Code;
use crate::diag::Diagnostic;
use crate::search::DIMENSION_FUNCTIONS;
use crate::syntax::ast::*;

/// A dimension as written.
pub(crate) enum DimAst<'a> {
    /// `choice(a, b)` or `[a, b]`.
    Choice(&'a [Expr]),
    /// `choice(a, b)` as call arguments.
    ChoiceArgs(&'a [CallArg]),
    /// `range`, `log_range` or `int_range` with its two bounds.
    Bounds(&'static str, &'a Expr, &'a Expr),
}

/// The search parameters of a component: its `component` parameter and its `space` parameter.
pub(crate) fn search_params(params: &[super::ParamSig]) -> Option<(&super::ParamSig, &super::ParamSig)> {
    let trainer = params.iter().find(|p| *p.ty.unopt() == Ty::Component)?;
    let space = params.iter().find(|p| *p.ty.unopt() == Ty::Space)?;
    Some((trainer, space))
}

/// A literal number, possibly negated.
fn literal(e: &Expr) -> Option<f64> {
    match &e.kind {
        ExprKind::Int(i) => Some(*i as f64),
        ExprKind::Float(f) => Some(*f),
        ExprKind::Paren(x) => literal(x),
        ExprKind::Unary(UnOp::Neg, x) => literal(x).map(|v| -v),
        _ => None,
    }
}

impl Cx {
    /// Type of a constant expression, without reporting (the caller reports its own way).
    fn quiet_ty(&mut self, e: &Expr, scope: &Scope, m: usize) -> Ty {
        let n0 = self.out.diagnostics.len();
        let t = self.ty_expr(e, &mut ExprCx::constant(scope, m));
        self.out.diagnostics.truncate(n0);
        t
    }

    /// Checks a `space` value: a record of dimensions.
    pub(crate) fn check_space(&mut self, e: &Expr, scope: &Scope, m: usize, what: &str) {
        let file = self.file(m);
        let ExprKind::Record(fields) = &e.kind else {
            let t = self.quiet_ty(e, scope, m);
            self.err(
                Diagnostic::new(Code::E0901, file, e.span, format!("{what} expects a search space, found {}", article(&t)))
                    .label("expected `{ name = dimension ... }`")
                    .help("write one dimension per trainer parameter: `{ learning_rate = log_range(1e-4, 1e-1), l2 = choice(0, 1e-4) }`"),
            );
            return;
        };
        if fields.iter().all(|f| matches!(f, Field::Error(_))) {
            self.err(
                Diagnostic::new(Code::E0901, file, e.span, "the search space is empty")
                    .label("no dimension")
                    .help("name at least one trainer parameter to search: `{ learning_rate = log_range(1e-4, 1e-1) }`"),
            );
        }
        for f in fields {
            let Field::Entry { value, .. } = f else { continue };
            self.dimension_ty(value, scope, m, true);
        }
    }

    /// Parses a dimension; with `report`, says what is wrong with it.
    fn dimension<'e>(&mut self, e: &'e Expr, m: usize, report: bool) -> Option<DimAst<'e>> {
        let file = self.file(m);
        let shape_help = "a dimension is `choice(a, b, ...)`, `[a, b, ...]`, `range(lo, hi)`, `log_range(lo, hi)` or `int_range(lo, hi)`";
        match &e.kind {
            ExprKind::Paren(x) => self.dimension(x, m, report),
            ExprKind::List(xs) => Some(DimAst::Choice(xs)),
            ExprKind::Call(f, args) => {
                if !DIMENSION_FUNCTIONS.contains(&f.name.as_str()) {
                    if report {
                        let d = Diagnostic::new(
                            Code::E0901,
                            file,
                            f.span,
                            format!("`{}` is not a search dimension", f.name),
                        )
                        .label("unknown dimension function")
                        .did_you_mean(
                            &f.name,
                            DIMENSION_FUNCTIONS.iter().copied(),
                            file,
                            f.span,
                            || shape_help.into(),
                        );
                        self.err(d);
                    }
                    return None;
                }
                if let Some(named) = args.iter().find_map(|a| a.name.as_ref()) {
                    if report {
                        self.err(
                            Diagnostic::new(
                                Code::E0901,
                                file,
                                named.span,
                                format!("`{}` takes no named arguments", f.name),
                            )
                            .label("named argument")
                            .help(shape_help),
                        );
                    }
                    return None;
                }
                if f.name == "choice" {
                    if args.is_empty() && report {
                        self.err(
                            Diagnostic::new(Code::E0901, file, e.span, "`choice()` needs at least one value")
                                .label("no values")
                                .help("list the values to try: `choice(0.0, 1e-4, 1e-3)`"),
                        );
                        return None;
                    }
                    return Some(DimAst::ChoiceArgs(args));
                }
                let name = DIMENSION_FUNCTIONS.iter().find(|n| **n == f.name).copied().unwrap_or("range");
                if args.len() != 2 {
                    if report {
                        self.err(
                            Diagnostic::new(
                                Code::E0901,
                                file,
                                e.span,
                                format!("`{name}` takes 2 arguments (lower and upper bound), found {}", args.len()),
                            )
                            .label("wrong number of bounds")
                            .help(format!("write `{name}(lo, hi)`")),
                        );
                    }
                    return None;
                }
                Some(DimAst::Bounds(name, &args[0].value, &args[1].value))
            }
            _ => {
                if report {
                    self.err(
                        Diagnostic::new(Code::E0901, file, e.span, "not a search dimension")
                            .label("expected choice, range, log_range or int_range")
                            .help(shape_help),
                    );
                }
                None
            }
        }
    }

    /// The type of the values a dimension takes (`Ty::Error` when it is invalid); with
    /// `report`, reports what is wrong with it.
    pub(crate) fn dimension_ty(&mut self, e: &Expr, scope: &Scope, m: usize, report: bool) -> Ty {
        let file = self.file(m);
        let Some(d) = self.dimension(e, m, report) else { return Ty::Error };
        let values: Vec<&Expr> = match d {
            DimAst::Choice(xs) => xs.iter().collect(),
            DimAst::ChoiceArgs(xs) => xs.iter().map(|a| &a.value).collect(),
            DimAst::Bounds(name, lo, hi) => {
                let want = if name == "int_range" { Ty::Int } else { Ty::Float };
                let mut ok = true;
                for b in [lo, hi] {
                    let t = self.ty_expr(b, &mut ExprCx::constant(scope, m));
                    if !t.fits(&want) {
                        ok = false;
                        if report && !t.is_loose() {
                            self.err(
                                Diagnostic::new(
                                    Code::E0901,
                                    file,
                                    b.span,
                                    format!("the bounds of `{name}` are {}s, found {}", want.display(), article(&t)),
                                )
                                .label(format!("this is {}", article(&t)))
                                .help(if name == "int_range" {
                                    "write whole numbers: `int_range(16, 128)`".to_string()
                                } else {
                                    format!("write numbers: `{name}(1e-4, 1e-1)`")
                                }),
                            );
                        }
                    }
                }
                if let (Some(a), Some(b)) = (literal(lo), literal(hi)) {
                    let problem = if name == "int_range" {
                        (a > b).then(|| "the lower bound is above the upper".to_string())
                    } else if a >= b {
                        Some("the lower bound must be below the upper".to_string())
                    } else if name == "log_range" && a <= 0.0 {
                        Some("a log range needs a lower bound above 0".to_string())
                    } else {
                        None
                    };
                    if let Some(p) = problem {
                        ok = false;
                        if report {
                            self.err(
                                Diagnostic::new(
                                    Code::E0901,
                                    file,
                                    e.span,
                                    format!("`{name}` is empty or invalid: {p}"),
                                )
                                .label("invalid bounds")
                                .help(if name == "log_range" {
                                    "write `log_range(lo, hi)` with 0 < lo < hi, e.g. `log_range(1e-4, 1e-1)`"
                                } else {
                                    "write the lower bound first"
                                }),
                            );
                        }
                    }
                }
                return if ok { want } else { Ty::Error };
            }
        };
        let mut ty: Option<Ty> = None;
        for v in values {
            let t = self.ty_expr(v, &mut ExprCx::constant(scope, m));
            if t == Ty::Error {
                return Ty::Error;
            }
            ty = Some(match ty {
                None => t,
                Some(prev) if t.fits(&prev) => prev,
                Some(prev) if prev.fits(&t) => t,
                Some(prev) => {
                    if report {
                        self.err(
                            Diagnostic::new(
                                Code::E0901,
                                file,
                                v.span,
                                format!("a choice mixes {} and {}", article(&prev), article(&t)),
                            )
                            .label(format!("this is {}", article(&t)))
                            .help("give every value of a choice the same type"),
                        );
                    }
                    return Ty::Error;
                }
            });
        }
        ty.unwrap_or(Ty::Error)
    }

    /// Checks a `component` value: the name of a component, as a step calls it. Returns it.
    pub(crate) fn check_component_ref(&mut self, e: &Expr, scope: &Scope, m: usize, what: &str) -> Option<usize> {
        let file = self.file(m);
        let path = match &e.kind {
            ExprKind::Name(n) if scope.params.get(&n.name).is_some_and(|(t, _)| *t.unopt() == Ty::Component) => {
                scope.mark_used(&n.name);
                return None;
            }
            ExprKind::Name(n) => Path { ns: None, name: n.clone(), span: e.span },
            ExprKind::Field(b, name) => match &b.kind {
                ExprKind::Name(ns) => Path { ns: Some(ns.clone()), name: name.clone(), span: e.span },
                _ => return self.not_a_component(e, scope, m, what),
            },
            _ => return self.not_a_component(e, scope, m, what),
        };
        match self.resolve_callee(m, &path)? {
            Decl::Component(c) => Some(c),
            _ => {
                self.err(
                    Diagnostic::new(
                        Code::E0902,
                        file,
                        e.span,
                        format!("`{}` is a pipeline, not a component", path.display()),
                    )
                    .label("a pipeline")
                    .help(format!("{what} runs one component per trial; name a component such as `tab.train_mlp`")),
                );
                None
            }
        }
    }

    fn not_a_component(&mut self, e: &Expr, scope: &Scope, m: usize, what: &str) -> Option<usize> {
        let file = self.file(m);
        let t = self.quiet_ty(e, scope, m);
        let mut d =
            Diagnostic::new(Code::E0902, file, e.span, format!("{what} expects a component, found {}", article(&t)))
                .label("not a component name");
        // A string naming a component (or a trainer by its short name: "mlp" for
        // `tab.train_mlp`) gets that component as the fix.
        let found = match &e.kind {
            ExprKind::Str(s) => {
                let md = &self.out.modules[m];
                let is_comp =
                    |mi: usize, n: &str| matches!(self.out.modules[mi].decls.get(n), Some((Decl::Component(_), _)));
                let names = [s.clone(), format!("train_{s}")];
                names.iter().find(|n| is_comp(m, n)).cloned().or_else(|| {
                    md.imports
                        .iter()
                        .find_map(|(ns, (mi, _))| names.iter().find(|n| is_comp(*mi, n)).map(|n| format!("{ns}.{n}")))
                })
            }
            _ => None,
        };
        d = match found {
            Some(c) => d.help(format!("name the component without quotes: `{c}`")).fix(
                format!("replace with `{c}`"),
                file,
                e.span,
                c.clone(),
            ),
            None => d.help("name the component as a step calls it, without quotes: `tab.train_mlp`"),
        };
        self.err(d);
        None
    }

    /// Checks a search step against its trainer: every dimension names a trainer parameter and
    /// fits its type; the trainer has one Model output and gets every input and parameter it
    /// requires from the search step or the space.
    pub(crate) fn check_search(&mut self, s: &StepDecl, callee: &Decl, scope: &Scope, m: usize) {
        let Decl::Component(ci) = callee else { return };
        let comp = self.out.components[*ci].clone();
        let Some((tp, sp)) = search_params(&comp.params) else { return };
        let file = self.file(m);
        let arg = |name: &str| {
            s.body.entries.iter().find_map(|e| match e {
                StepEntry::Arg(a) if a.name.name == name => Some(a),
                _ => None,
            })
        };
        let (Some(ta), Some(sa)) = (arg(&tp.name), arg(&sp.name)) else { return };
        // Reported by the argument check; resolve again quietly.
        let n0 = self.out.diagnostics.len();
        let trainer = self.check_component_ref(&ta.value, scope, m, "");
        self.out.diagnostics.truncate(n0);
        let Some(t) = trainer else { return };
        let tc = self.out.components[t].clone();
        let tname = crate::fmt::expr_to_string(&ta.value);
        // Dimensions against the trainer's parameters.
        let mut dims = Vec::new();
        if let ExprKind::Record(fields) = &sa.value.kind {
            for f in fields {
                let Field::Entry { name, value, .. } = f else { continue };
                dims.push(name.name.clone());
                let Some(prm) = tc.params.iter().find(|p| p.name == name.name) else {
                    let names: Vec<&str> = tc.params.iter().map(|p| p.name.as_str()).collect();
                    let d = Diagnostic::new(
                        Code::E0903,
                        file,
                        name.span,
                        format!("`{tname}` has no parameter `{}` to search", name.name),
                    )
                    .label("not a parameter of the trainer")
                    .did_you_mean(&name.name, names.iter().copied(), file, name.span, || {
                        format!("the parameters of `{tname}` are: {}", names.join(", "))
                    });
                    self.err(d);
                    continue;
                };
                let n0 = self.out.diagnostics.len();
                let t = self.dimension_ty(value, scope, m, false);
                self.out.diagnostics.truncate(n0);
                if !t.is_loose() && !t.fits(&prm.ty) {
                    self.err(
                        Diagnostic::new(
                            Code::E0904,
                            file,
                            value.span,
                            format!(
                                "`{}` of `{tname}` is {}, but this dimension gives {}",
                                prm.name,
                                article(prm.ty.unopt()),
                                article(&t)
                            ),
                        )
                        .label(format!("values of type {}", t.display()))
                        .secondary(self.file(tc.module), prm.span, format!("declared as {}", prm.ty.display()))
                        .help(match prm.ty.unopt() {
                            Ty::Int => {
                                "an int parameter takes `int_range(lo, hi)` or a choice of whole numbers".to_string()
                            }
                            Ty::Float => {
                                "a float parameter takes `range`, `log_range`, `int_range` or a choice of numbers"
                                    .into()
                            }
                            other => format!("give a choice of {} values", other.display()),
                        }),
                    );
                }
            }
        }
        // The trainer must be runnable per trial.
        let models: Vec<&str> = tc
            .outputs
            .iter()
            .filter(|o| *o.ty.unopt() == Ty::Artifact("Model".into()))
            .map(|o| o.name.as_str())
            .collect();
        let mut problems = Vec::new();
        if models.len() != 1 {
            problems.push(format!("it has {} Model outputs; a trainer has exactly one", models.len()));
        }
        for i in tc.inputs.iter().filter(|i| !i.ty.is_optional()) {
            if !comp.inputs.iter().any(|x| x.name == i.name) {
                problems.push(format!("its input `{}` has no counterpart in `{}`", i.name, s.callee.display()));
            }
        }
        for p in tc.params.iter().filter(|p| p.required()) {
            let from_search = comp.params.iter().any(|x| x.name == p.name) && arg(&p.name).is_some();
            if !from_search && !dims.contains(&p.name) {
                problems.push(format!(
                    "its parameter `{}` has no value (give it in the space: `{} = [VALUE]`)",
                    p.name, p.name
                ));
            }
        }
        if !problems.is_empty() {
            self.err(
                Diagnostic::new(
                    Code::E0905,
                    file,
                    ta.value.span,
                    format!("`{tname}` cannot be searched: {}", problems.join("; ")),
                )
                .label("this trainer")
                .secondary(self.file(tc.module), tc.span, "declared here")
                .help("a trainer takes the search step's inputs by name and writes one Model"),
            );
        }
    }
}
