//! Checking one pipeline body: steps, their arguments and options, references between steps,
//! `when` conditions and optional outputs, cycles, and unused names.
//!
//! Part of the checker; runs once per pipeline (the root file's steps, and each sub-pipeline).

use super::expr::{ExprCx, Mode, feature_refs};
use super::types::Ty;
use super::{Cx, Decl, article, example_of};
use crate::codes::Code;
use crate::diag::{Diagnostic, FileId, suggest};
use crate::syntax::ast::*;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

/// The names visible in a pipeline body.
#[derive(Default)]
pub(crate) struct Scope {
    pub params: HashMap<String, (Ty, Span)>,
    pub inputs: HashMap<String, (Ty, Span)>,
    pub steps: HashMap<String, usize>,
    pub step_names: Vec<String>,
    pub step_outputs: Vec<Vec<(String, Ty)>>,
    pub step_unresolved: Vec<bool>,
    pub step_conds: Vec<Vec<String>>,
    pub step_callees: Vec<Option<Decl>>,
    pub used: RefCell<HashSet<String>>,
}

impl Scope {
    pub(crate) fn mark_used(&self, name: &str) {
        self.used.borrow_mut().insert(name.to_string());
    }
    pub(crate) fn value_names(&self) -> Vec<String> {
        let mut v: Vec<String> =
            self.params.keys().chain(self.inputs.keys()).chain(self.steps.keys()).cloned().collect();
        v.sort();
        v
    }
}

/// A reference to an artifact, as typed.
struct RefTy {
    ty: Ty,
    optional: bool,
    conds: Vec<String>,
    deps: Vec<usize>,
}

/// The `and`-parts of a condition, printed canonically.
/// The functions that find an artifact in the store when a step runs, usable where an input
/// takes an artifact.
pub const RESOLVERS: &[&str] = &["latest", "latest_blessed", "previous_span"];

/// Whether `e` is a call of a resolver (`latest(Schema)`), possibly in parentheses.
fn is_resolver(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Paren(x) => is_resolver(x),
        ExprKind::Call(f, _) => RESOLVERS.contains(&f.name.as_str()),
        _ => false,
    }
}

pub(crate) fn conjuncts(e: &Expr, out: &mut Vec<String>) {
    match &e.kind {
        ExprKind::Binary(BinOp::And, a, b) => {
            conjuncts(a, out);
            conjuncts(b, out);
        }
        ExprKind::Paren(x) => conjuncts(x, out),
        _ => out.push(crate::fmt::expr_to_string(e)),
    }
}

/// The signature of a callee: inputs, params, outputs.
pub(crate) fn signature(cx: &Cx, d: &Decl) -> super::Signature {
    super::body_signature(&cx.out, d)
}

impl Cx {
    pub(crate) fn check_body(&mut self, p: usize) {
        let pl = self.out.pipelines[p].clone();
        let m = pl.module;
        let file = self.file(m);
        let mut scope = Scope::default();
        let mut names: HashMap<String, Span> = HashMap::new();
        let mut declare = |cx: &mut Cx, name: &str, span: Span| {
            if let Some(first) = names.insert(name.to_string(), span) {
                if !pl.root {
                    cx.dup(file, &Ident { name: name.to_string(), span }, first);
                }
                return false;
            }
            true
        };
        for prm in pl.params.iter() {
            if declare(self, &prm.name, prm.span) {
                scope.params.insert(prm.name.clone(), (prm.ty.clone(), prm.span));
            }
        }
        for i in pl.inputs.iter() {
            if declare(self, &i.name, i.span) {
                scope.inputs.insert(i.name.clone(), (i.ty.clone(), i.span));
            }
        }
        let mut callees = Vec::new();
        for (i, s) in pl.steps.iter().enumerate() {
            if declare(self, &s.name.name, s.name.span) {
                scope.steps.insert(s.name.name.clone(), i);
            }
            let callee = self.resolve_callee(m, &s.callee);
            if let Some(Decl::Pipeline(q)) = &callee {
                self.called.insert(*q);
            }
            let outs = match &callee {
                Some(d) => signature(self, d)
                    .2
                    .iter()
                    .map(|o| {
                        let ty =
                            if s.when.is_some() { Ty::Optional(Box::new(o.ty.unopt().clone())) } else { o.ty.clone() };
                        (o.name.clone(), ty)
                    })
                    .collect(),
                None => Vec::new(),
            };
            scope.step_names.push(s.name.name.clone());
            scope.step_outputs.push(outs);
            scope.step_unresolved.push(callee.is_none());
            let mut conds = Vec::new();
            if let Some(w) = &s.when {
                conjuncts(w, &mut conds);
            }
            scope.step_conds.push(conds);
            scope.step_callees.push(callee.clone());
            callees.push(callee);
        }

        // Parameter defaults: a default may use only parameters declared before it, so the
        // scope grows as the declarations are read.
        let mut earlier = Scope::default();
        for prm in pl.params.iter() {
            if let Some(def) = &prm.default {
                self.check_value(def, &prm.ty, &earlier, m, &format!("the default of `{}`", prm.name), Some(prm.span));
            }
            earlier.params.insert(prm.name.clone(), (prm.ty.clone(), prm.span));
        }
        for u in earlier.used.borrow().iter() {
            scope.mark_used(u);
        }

        // Steps.
        let mut deps: Vec<Vec<(usize, Span)>> = vec![Vec::new(); pl.steps.len()];
        for (i, s) in pl.steps.iter().enumerate() {
            let Some(callee) = &callees[i] else {
                // Still look at the values so names used there count as used.
                let n0 = self.out.diagnostics.len();
                for e in &s.body.entries {
                    if let StepEntry::Arg(a) = e {
                        let _ = self.type_ref(&a.value, &scope, m);
                    }
                }
                self.out.diagnostics.truncate(n0);
                continue;
            };
            let (inputs, params, _) = signature(self, callee);
            let callee_name = s.callee.display();
            let mut given: HashMap<String, Span> = HashMap::new();
            for e in &s.body.entries {
                let StepEntry::Arg(a) = e else { continue };
                if let Some(first) = given.insert(a.name.name.clone(), a.name.span) {
                    self.err(
                        Diagnostic::new(
                            Code::E0303,
                            file,
                            a.name.span,
                            format!("argument `{}` is given twice", a.name.name),
                        )
                        .label("second value")
                        .secondary(file, first, "first given here")
                        .help("remove one of them"),
                    );
                    continue;
                }
                if let Some(port) = inputs.iter().find(|x| x.name == a.name.name) {
                    let Some(r) = self.type_ref(&a.value, &scope, m) else { continue };
                    for &d in &r.deps {
                        deps[i].push((d, a.value.span));
                    }
                    if r.ty.unopt() != port.ty.unopt() && !r.ty.is_loose() && !port.ty.is_loose() {
                        self.err(
                            Diagnostic::new(
                                Code::E0305,
                                file,
                                a.value.span,
                                format!(
                                    "`{}` expects {}, found {}",
                                    a.name.name,
                                    port.ty.unopt().display(),
                                    r.ty.unopt().display()
                                ),
                            )
                            .label(format!("this is {}", article(r.ty.unopt())))
                            .secondary(
                                self.file(self.decl_module(callee)),
                                port.span,
                                format!("`{}` of `{callee_name}` is declared here", port.name),
                            )
                            .help(format!("pass an output of type {}", port.ty.unopt().display())),
                        );
                        continue;
                    }
                    if r.optional && !port.ty.is_optional() {
                        let ok = !r.conds.is_empty() && r.conds.iter().all(|c| scope.step_conds[i].contains(c));
                        if !ok {
                            let mut d = Diagnostic::new(
                                Code::E0308,
                                file,
                                a.value.span,
                                format!(
                                    "`{}` may be absent, but `{}` of `{callee_name}` is required",
                                    crate::fmt::expr_to_string(&a.value),
                                    a.name.name
                                ),
                            )
                            .label(if is_resolver(&a.value) {
                                "found in the store: an earlier run may not have made one"
                            } else {
                                "optional: its step runs only under a condition"
                            });
                            if let Some(&pd) = r.deps.first() {
                                if let Some(w) = &pl.steps[pd].when {
                                    d = d.secondary(file, w.span, "condition of the producing step");
                                    let cond = crate::fmt::expr_to_string(w);
                                    d = d.help(format!(
                                        "add `when {cond}` to step `{}`, declare the input optional (`{}?`), or give a fallback with `??`",
                                        s.name.name,
                                        port.ty.unopt().display()
                                    ));
                                    if s.when.is_none() {
                                        d = d.fix(
                                            format!("add `when {cond}`"),
                                            file,
                                            Span::point(s.body.span.end as usize),
                                            format!(" when {cond}"),
                                        );
                                    }
                                }
                            } else {
                                d = d.help("declare the input optional, or give a fallback with `??`");
                            }
                            self.err(d);
                        }
                    }
                } else if let Some(prm) = params.iter().find(|x| x.name == a.name.name) {
                    let what = format!("`{}` of `{callee_name}`", prm.name);
                    if *prm.ty.unopt() == Ty::Features {
                        let n0 = self.out.diagnostics.len();
                        let key = self.pinned_schema(&pl, s);
                        self.out.diagnostics.truncate(n0);
                        self.feature_columns = key.and_then(|k| match self.schemas.get(&k) {
                            Some(Ok(cols)) => Some((k, cols.clone())),
                            _ => None,
                        });
                    }
                    self.check_value_with(
                        &a.value,
                        &prm.ty,
                        &scope,
                        m,
                        &what,
                        Some((self.decl_module(callee), prm.span)),
                    );
                    self.feature_columns = None;
                    if *prm.ty.unopt() == Ty::Expr
                        && let Decl::Component(ci) = callee
                        && let Some(names) = self.out.components[*ci].names.clone()
                    {
                        self.free_names(&a.value, &names, &scope, file, &callee_name);
                    }
                } else {
                    let all: Vec<&str> =
                        inputs.iter().map(|x| x.name.as_str()).chain(params.iter().map(|x| x.name.as_str())).collect();
                    let mut d = Diagnostic::new(
                        Code::E0301,
                        file,
                        a.name.span,
                        format!("`{callee_name}` has no argument `{}`", a.name.name),
                    )
                    .label("unknown argument");
                    if let Some(sg) = suggest(&a.name.name, all.iter().copied()) {
                        d = d.help(format!("did you mean `{sg}`?")).fix(
                            format!("replace with `{sg}`"),
                            file,
                            a.name.span,
                            sg,
                        );
                    } else {
                        d = d.help(format!("the arguments of `{callee_name}` are: {}", all.join(", ")));
                    }
                    self.err(d);
                }
            }
            let missing: Vec<String> = inputs
                .iter()
                .filter(|x| !x.ty.is_optional() && !x.ty.is_loose())
                .map(|x| x.name.clone())
                .chain(params.iter().filter(|x| x.required()).map(|x| x.name.clone()))
                .filter(|n| !given.contains_key(n))
                .collect();
            if !missing.is_empty() && !s.body.unclosed {
                let list = missing.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
                let example: Vec<String> = missing
                    .iter()
                    .map(|n| match params.iter().find(|p| &p.name == n) {
                        Some(p) => format!("{n} = <{}>", p.ty.display()),
                        None => format!("{n} = <step>.<output>"),
                    })
                    .collect();
                self.err(
                    Diagnostic::new(
                        Code::E0302,
                        file,
                        s.name.span,
                        format!("step `{}` is missing {list}", s.name.name),
                    )
                    .label(format!("`{callee_name}` requires {list}"))
                    .secondary(file, s.callee.span, "called here")
                    .help(format!("add {}", example.join(", "))),
                );
            }
            self.check_search(s, callee, &scope, m);
            self.check_options(s, &scope, m);
            if let Some(w) = &s.when {
                let mut ecx = ExprCx::with_mode(&scope, m, Mode::When);
                let t = self.ty_expr(w, &mut ecx);
                for (d, _) in &ecx.step_refs {
                    deps[i].push((*d, w.span));
                }
                if !(t == Ty::Bool || t.is_loose()) {
                    self.err(
                        Diagnostic::new(Code::E0603, file, w.span, format!("the condition of `{}` is {}, not a bool", s.name.name, article(&t)))
                            .label("expected a bool")
                            .help("conditions combine bool parameters and Blessing or InfraBlessing outputs with `and`, `or`, `not`"),
                    );
                }
            }
        }

        // Pipeline outputs.
        let mut roots: Vec<usize> = Vec::new();
        let mut out_names: HashMap<&str, Span> = HashMap::new();
        for o in pl.outputs.iter() {
            if let Some(first) = out_names.insert(&o.name, o.span) {
                self.dup(file, &Ident { name: o.name.clone(), span: o.span }, first);
                continue;
            }
            let Some(v) = &o.value else { continue };
            let Some(r) = self.type_ref(v, &scope, m) else { continue };
            roots.extend(r.deps.iter().copied());
            if !r.ty.is_loose()
                && !o.ty.is_loose()
                && (r.ty.unopt() != o.ty.unopt() || (r.optional && !o.ty.is_optional()))
            {
                let found = if r.optional { format!("{}?", r.ty.unopt().display()) } else { r.ty.unopt().display() };
                self.err(
                    Diagnostic::new(
                        Code::E0604,
                        file,
                        v.span,
                        format!("output `{}` is declared {} but bound to {found}", o.name, o.ty.display()),
                    )
                    .label(format!("this is {found}"))
                    .secondary(file, o.span, "declared here")
                    .help("bind an output of the declared type, or change the declared type"),
                );
            }
        }

        self.step_cycles(&pl.steps, &deps, file);
        self.push_gates(&pl.steps, &scope, &callees, file);

        // Unused names.
        let used = scope.used.borrow().clone();
        for prm in pl.params.iter() {
            if !used.contains(&prm.name) && scope.params.get(&prm.name).is_some_and(|(_, s)| *s == prm.span) {
                self.err(
                    Diagnostic::new(Code::W0002, file, prm.span, format!("parameter `{}` is never used", prm.name))
                        .label("unused")
                        .help("use it in a step, or remove it"),
                );
            }
        }
        for inp in pl.inputs.iter() {
            if !used.contains(&inp.name) {
                self.err(
                    Diagnostic::new(Code::W0002, file, inp.span, format!("input `{}` is never used", inp.name))
                        .label("unused")
                        .help("pass it to a step, or remove it"),
                );
            }
        }
        if !pl.root {
            // Steps that feed no output of the sub-pipeline.
            let mut live = vec![false; pl.steps.len()];
            let mut stack = roots;
            while let Some(s) = stack.pop() {
                if !live[s] {
                    live[s] = true;
                    stack.extend(deps[s].iter().map(|(d, _)| *d));
                }
            }
            for (i, s) in pl.steps.iter().enumerate() {
                if !live[i] {
                    self.err(
                        Diagnostic::new(
                            Code::W0003,
                            file,
                            s.name.span,
                            format!("step `{}` feeds no output of pipeline `{}`", s.name.name, pl.name),
                        )
                        .label("its results are never used")
                        .help("bind one of its outputs to a pipeline `output`, or remove the step"),
                    );
                }
            }
        }
    }

    fn decl_module(&self, d: &Decl) -> usize {
        match d {
            Decl::Component(c) => self.out.components[*c].module,
            Decl::Pipeline(p) => self.out.pipelines[*p].module,
            Decl::Artifact(_) => 0,
        }
    }

    /// Checks the free names of an `expr` argument against the names its component provides
    /// (attribute `names`): `NAME`, or `PREFIX.NAME` with both listed (E0813).
    fn free_names(&mut self, e: &Expr, names: &[String], scope: &Scope, file: FileId, callee: &str) {
        let free =
            |n: &str| !scope.params.contains_key(n) && !scope.inputs.contains_key(n) && !scope.steps.contains_key(n);
        let mut found: Vec<&Ident> = Vec::new();
        fn walk<'e>(e: &'e Expr, free: &dyn Fn(&str) -> bool, out: &mut Vec<&'e Ident>) {
            match &e.kind {
                ExprKind::Name(n) if free(&n.name) => out.push(n),
                ExprKind::Field(b, f) => {
                    if let ExprKind::Name(n) = &b.kind
                        && free(&n.name)
                    {
                        out.push(n);
                        out.push(f);
                    } else {
                        walk(b, free, out);
                    }
                }
                ExprKind::Paren(x) | ExprKind::Unary(_, x) => walk(x, free, out),
                ExprKind::Binary(_, a, b) => {
                    walk(a, free, out);
                    walk(b, free, out);
                }
                ExprKind::If(a, b, c) => {
                    walk(a, free, out);
                    walk(b, free, out);
                    walk(c, free, out);
                }
                ExprKind::Call(_, args) => args.iter().for_each(|a| walk(&a.value, free, out)),
                ExprKind::List(xs) => xs.iter().for_each(|x| walk(x, free, out)),
                _ => {}
            }
        }
        walk(e, &free, &mut found);
        for n in found {
            if names.contains(&n.name) {
                continue;
            }
            let mut d = Diagnostic::new(Code::E0813, file, n.span, format!("`{callee}` provides no name `{}`", n.name))
                .label("not a pipeline parameter nor a name of the component");
            d = d.did_you_mean(&n.name, names.iter().map(String::as_str), file, n.span, || {
                format!("the names of `{callee}` are: {}", names.join(", "))
            });
            self.err(d);
        }
    }

    /// Warns about a step that pushes a model (takes a Model, writes a PushedModel) without a
    /// gate: its `when` must read a Blessing, and an InfraBlessing when the pipeline validates
    /// models for serving (W0006).
    fn push_gates(&mut self, steps: &[StepDecl], scope: &Scope, callees: &[Option<Decl>], file: FileId) {
        fn refs(e: &Expr, out: &mut Vec<(String, String)>) {
            match &e.kind {
                ExprKind::Field(b, f) => match &b.kind {
                    ExprKind::Name(n) => out.push((n.name.clone(), f.name.clone())),
                    _ => refs(b, out),
                },
                ExprKind::Paren(x) | ExprKind::Unary(_, x) => refs(x, out),
                ExprKind::Binary(_, a, b) => {
                    refs(a, out);
                    refs(b, out);
                }
                _ => {}
            }
        }
        let ty_of = |step: &str, out: &str| -> Option<String> {
            let i = *scope.steps.get(step)?;
            scope.step_outputs[i].iter().find(|(n, _)| n == out).map(|(_, t)| t.unopt().display())
        };
        let producer = |ty: &str| -> Option<String> {
            scope.step_names.iter().enumerate().find_map(|(i, n)| {
                scope.step_outputs[i].iter().find(|(_, t)| t.unopt().display() == ty).map(|(o, _)| format!("{n}.{o}"))
            })
        };
        let infra = producer("InfraBlessing");
        for (i, s) in steps.iter().enumerate() {
            if !scope.step_outputs.get(i).is_some_and(|o| o.iter().any(|(_, t)| t.unopt().display() == "PushedModel")) {
                continue;
            }
            let takes_model = callees
                .get(i)
                .and_then(Option::as_ref)
                .is_some_and(|c| signature(self, c).0.iter().any(|p| p.ty.unopt() == &Ty::Artifact("Model".into())));
            if !takes_model {
                continue;
            }
            let mut read = Vec::new();
            if let Some(w) = &s.when {
                refs(w, &mut read);
            }
            let types: Vec<String> = read.iter().filter_map(|(st, o)| ty_of(st, o)).collect();
            let (missing, gate) = if !types.iter().any(|t| t == "Blessing") {
                ("a blessing", producer("Blessing"))
            } else if infra.is_some() && !types.iter().any(|t| t == "InfraBlessing") {
                ("the infra validation", infra.clone())
            } else {
                continue;
            };
            let mut d = Diagnostic::new(
                Code::W0006,
                file,
                s.name.span,
                format!("step `{}` pushes a model without {missing} gate", s.name.name),
            )
            .label("runs whether or not the model passed");
            d = match (gate, &s.when) {
                (Some(g), None) => d.help(format!("push only what passed: add `when {g}`")).fix(
                    format!("add `when {g}`"),
                    file,
                    Span::point(s.body.span.end as usize),
                    format!(" when {g}"),
                ),
                (Some(g), Some(w)) => d
                    .help(format!("push only what passed: `when {} and {g}`", crate::fmt::expr_to_string(w)))
                    .fix(format!("add `and {g}`"), file, Span::point(w.span.end as usize), format!(" and {g}")),
                (None, _) => {
                    d.help("evaluate the model with a blessing policy (`tab.evaluate`) and push `when EVAL.blessing`")
                }
            };
            self.err(d);
        }
    }

    fn step_cycles(&mut self, steps: &[StepDecl], deps: &[Vec<(usize, Span)>], file: FileId) {
        let n = steps.len();
        let mut state = vec![0u8; n];
        let mut reported: HashSet<Vec<usize>> = HashSet::new();
        let mut stack: Vec<usize> = Vec::new();
        // Iterative DFS with an explicit edge cursor, so deep graphs cannot overflow the stack.
        for start in 0..n {
            if state[start] != 0 {
                continue;
            }
            let mut cursor: Vec<(usize, usize)> = vec![(start, 0)];
            state[start] = 1;
            stack.push(start);
            while let Some(&mut (v, ref mut ei)) = cursor.last_mut() {
                if *ei < deps[v].len() {
                    let (w, span) = deps[v][*ei];
                    *ei += 1;
                    if state[w] == 1 {
                        let pos = stack.iter().position(|&x| x == w).unwrap_or(0);
                        let cyc: Vec<usize> = stack[pos..].to_vec();
                        let mut key = cyc.clone();
                        key.sort();
                        if reported.insert(key) {
                            let mut names: Vec<&str> = cyc.iter().map(|&i| steps[i].name.name.as_str()).collect();
                            names.push(&steps[w].name.name);
                            let mut d = Diagnostic::new(
                                Code::E0601,
                                file,
                                span,
                                format!("steps depend on each other in a cycle: {}", names.join(" → ")),
                            )
                            .label(format!("`{}` reads `{}` here", steps[v].name.name, steps[w].name.name));
                            for &c in &cyc {
                                if c != v {
                                    d = d.secondary(file, steps[c].name.span, "part of the cycle");
                                }
                            }
                            self.err(
                                d.help("a pipeline is a DAG: break the cycle by removing one of these references"),
                            );
                        }
                    } else if state[w] == 0 {
                        state[w] = 1;
                        stack.push(w);
                        cursor.push((w, 0));
                    }
                } else {
                    state[v] = 2;
                    stack.pop();
                    cursor.pop();
                }
            }
        }
    }

    /// Type an artifact reference: `step.output`, an input name, or `a ?? b`.
    fn type_ref(&mut self, e: &Expr, scope: &Scope, m: usize) -> Option<RefTy> {
        let file = self.file(m);
        match &e.kind {
            ExprKind::Paren(x) => self.type_ref(x, scope, m),
            ExprKind::Name(n) => {
                if let Some((t, _)) = scope.inputs.get(&n.name) {
                    scope.mark_used(&n.name);
                    return Some(RefTy {
                        ty: t.clone(),
                        optional: t.is_optional(),
                        conds: Vec::new(),
                        deps: Vec::new(),
                    });
                }
                if let Some(&i) = scope.steps.get(&n.name) {
                    scope.mark_used(&n.name);
                    let outs = &scope.step_outputs[i];
                    let mut d = Diagnostic::new(
                        Code::E0206,
                        file,
                        n.span,
                        format!("`{}` is a step; name one of its outputs", n.name),
                    )
                    .label("a step, not an artifact");
                    if let Some((o, _)) = outs.first() {
                        let all: Vec<&str> = outs.iter().map(|(o, _)| o.as_str()).collect();
                        d = d.help(format!("the outputs of `{}` are: {}", n.name, all.join(", "))).fix(
                            format!("use `{}.{o}`", n.name),
                            file,
                            n.span,
                            format!("{}.{o}", n.name),
                        );
                    }
                    if !scope.step_unresolved[i] {
                        self.err(d);
                    }
                    return None;
                }
                if scope.params.contains_key(&n.name) {
                    scope.mark_used(&n.name);
                    self.err(
                        Diagnostic::new(
                            Code::E0306,
                            file,
                            n.span,
                            format!("`{}` is a parameter, but this argument takes an artifact", n.name),
                        )
                        .label("a value, not an artifact")
                        .help("pass an output of a step, e.g. `examples.out`"),
                    );
                    return None;
                }
                let names = scope.value_names();
                let mut d = Diagnostic::new(Code::E0202, file, n.span, format!("unknown name `{}`", n.name))
                    .label("not found in this scope");
                if let Some(s) = suggest(&n.name, names.iter().map(String::as_str)) {
                    d = d.help(format!("did you mean `{s}`?")).fix(format!("replace with `{s}`"), file, n.span, s);
                } else {
                    d = d.help("refer to an output of a step as `step.output`");
                }
                self.err(d);
                None
            }
            ExprKind::Field(base, field) => {
                if let ExprKind::Name(n) = &base.kind {
                    if let Some(&i) = scope.steps.get(&n.name) {
                        scope.mark_used(&n.name);
                        let t = self.step_output(i, field, scope, m)?;
                        if let Some(Decl::Pipeline(q)) = &scope.step_callees[i] {
                            let q = *q;
                            self.used_outputs.insert((q, field.name.clone()));
                        }
                        return Some(RefTy {
                            optional: t.is_optional(),
                            ty: t,
                            conds: scope.step_conds[i].clone(),
                            deps: vec![i],
                        });
                    }
                    if scope.params.contains_key(&n.name) || scope.inputs.contains_key(&n.name) {
                        scope.mark_used(&n.name);
                        self.err(
                            Diagnostic::new(
                                Code::E0306,
                                file,
                                e.span,
                                format!("`{}` has no outputs; only steps do", n.name),
                            )
                            .label("not a step")
                            .help("refer to an output of a step as `step.output`"),
                        );
                        return None;
                    }
                    let names: Vec<String> = scope.steps.keys().cloned().collect();
                    let mut d = Diagnostic::new(Code::E0202, file, n.span, format!("unknown step `{}`", n.name))
                        .label("no step has this name");
                    if let Some(s) = suggest(&n.name, names.iter().map(String::as_str)) {
                        d = d.help(format!("did you mean `{s}`?")).fix(format!("replace with `{s}`"), file, n.span, s);
                    }
                    self.err(d);
                    return None;
                }
                self.not_a_ref(e, scope, m);
                None
            }
            ExprKind::Binary(BinOp::Coalesce, a, b) => {
                let ra = self.type_ref(a, scope, m);
                let rb = self.type_ref(b, scope, m);
                let (ra, rb) = (ra?, rb?);
                if ra.ty.unopt() != rb.ty.unopt() && !ra.ty.is_loose() && !rb.ty.is_loose() {
                    self.err(
                        Diagnostic::new(
                            Code::E0305,
                            file,
                            b.span,
                            format!(
                                "both sides of `??` must have one type: {} and {}",
                                ra.ty.unopt().display(),
                                rb.ty.unopt().display()
                            ),
                        )
                        .label(format!("this is {}", article(rb.ty.unopt())))
                        .secondary(file, a.span, format!("this is {}", article(ra.ty.unopt()))),
                    );
                    return None;
                }
                let optional = ra.optional && rb.optional;
                let mut deps = ra.deps;
                deps.extend(rb.deps);
                Some(RefTy {
                    ty: ra.ty.unopt().clone(),
                    optional,
                    conds: if optional { ra.conds } else { Vec::new() },
                    deps,
                })
            }
            ExprKind::Call(f, args) if RESOLVERS.contains(&f.name.as_str()) => self.type_resolver(e, f, args, scope, m),
            ExprKind::Error => None,
            _ => {
                self.not_a_ref(e, scope, m);
                None
            }
        }
    }

    /// `latest(Type)`, `latest_blessed(Model)` and `previous_span(ref)`: artifacts found in the
    /// store when the step runs. They are always optional: an earlier run may not have made one.
    fn type_resolver(
        &mut self,
        e: &Expr,
        f: &crate::syntax::ast::Ident,
        args: &[crate::syntax::ast::CallArg],
        scope: &Scope,
        m: usize,
    ) -> Option<RefTy> {
        let file = self.file(m);
        let usage = match f.name.as_str() {
            "latest" => "`latest(Type)` takes one artifact type, such as `latest(Schema)`",
            "latest_blessed" => "`latest_blessed(Model)` takes the artifact type `Model`",
            _ => "`previous_span(ref)` takes one artifact reference, such as `previous_span(examples.out)`",
        };
        let bad = |this: &mut Self, span: Span, message: String| {
            this.err(Diagnostic::new(Code::E0311, file, span, message).label("here").help(usage));
            None
        };
        let [arg] = args else {
            return bad(self, e.span, format!("`{}` takes exactly one argument, given {}", f.name, args.len()));
        };
        if let Some(n) = &arg.name {
            return bad(self, n.span, format!("`{}` takes no named arguments", f.name));
        }
        if f.name == "previous_span" {
            let r = self.type_ref(&arg.value, scope, m)?;
            return Some(RefTy { ty: r.ty.unopt().clone(), optional: true, conds: Vec::new(), deps: r.deps });
        }
        let path = match &arg.value.kind {
            ExprKind::Name(n) => crate::syntax::ast::Path { ns: None, name: n.clone(), span: arg.value.span },
            ExprKind::Field(b, n) => match &b.kind {
                ExprKind::Name(ns) => {
                    crate::syntax::ast::Path { ns: Some(ns.clone()), name: n.clone(), span: arg.value.span }
                }
                _ => return bad(self, arg.value.span, "expected an artifact type name".into()),
            },
            _ => return bad(self, arg.value.span, "expected an artifact type name".into()),
        };
        let ty = self.resolve_named_type(m, &path);
        match &ty {
            Ty::Error => None,
            Ty::Artifact(a) if f.name == "latest_blessed" && a != "Model" => {
                bad(self, arg.value.span, format!("only models are blessed; `{a}` is not `Model`"))
            }
            Ty::Artifact(_) => Some(RefTy { ty, optional: true, conds: Vec::new(), deps: Vec::new() }),
            other => {
                bad(self, arg.value.span, format!("`{}` is {}, not an artifact type", path.display(), article(other)))
            }
        }
    }

    fn not_a_ref(&mut self, e: &Expr, scope: &Scope, m: usize) {
        let file = self.file(m);
        let n0 = self.out.diagnostics.len();
        let t = self.ty_expr(e, &mut ExprCx::constant(scope, m));
        self.out.diagnostics.truncate(n0);
        self.err(
            Diagnostic::new(
                Code::E0306,
                file,
                e.span,
                format!("expected an artifact reference, found {}", article(&t)),
            )
            .label("not an artifact")
            .help("input ports take an output of another step (`step.output`), a pipeline input, or `a ?? b`"),
        );
    }

    pub(crate) fn check_value(&mut self, e: &Expr, want: &Ty, scope: &Scope, m: usize, what: &str, decl: Option<Span>) {
        self.check_value_with(e, want, scope, m, what, decl.map(|s| (m, s)));
    }

    /// Check a value against a parameter type.
    fn check_value_with(
        &mut self,
        e: &Expr,
        want: &Ty,
        scope: &Scope,
        m: usize,
        what: &str,
        decl: Option<(usize, Span)>,
    ) {
        let file = self.file(m);
        match want.unopt() {
            Ty::Features | Ty::Expr | Ty::Space if matches!(&e.kind, ExprKind::Name(n) if scope.params.get(&n.name).is_some_and(|(t, _)| t.unopt() == want.unopt())) => {
                if let ExprKind::Name(n) = &e.kind {
                    scope.mark_used(&n.name);
                }
            }
            Ty::Features => {
                let ExprKind::Record(fields) = &e.kind else {
                    let t = {
                        let n0 = self.out.diagnostics.len();
                        let t = self.ty_expr(e, &mut ExprCx::constant(scope, m));
                        self.out.diagnostics.truncate(n0);
                        t
                    };
                    self.err(
                        Diagnostic::new(
                            Code::E0304,
                            file,
                            e.span,
                            format!("{what} expects a feature block, found {}", article(&t)),
                        )
                        .label("expected `{ name = expression ... }`")
                        .help("write one feature per line: `{ fare_log = log1p(fare) }`"),
                    );
                    return;
                };
                self.check_features(fields, scope, m);
            }
            Ty::Space => self.check_space(e, scope, m, what),
            Ty::Component => {
                self.check_component_ref(e, scope, m, what);
            }
            Ty::Expr => {
                let mut ecx = ExprCx::with_mode(scope, m, Mode::Free);
                let t = self.ty_expr(e, &mut ecx);
                if !(t == Ty::Bool || t.is_loose()) {
                    self.err(
                        Diagnostic::new(
                            Code::E0304,
                            file,
                            e.span,
                            format!("{what} expects a boolean expression, found {}", article(&t)),
                        )
                        .label("expected a bool")
                        .help("write a comparison, e.g. `auc >= 0.8`"),
                    );
                }
            }
            _ => {
                let mut ecx = ExprCx::constant(scope, m);
                let t = self.ty_expr(e, &mut ecx);
                if !t.fits(want) {
                    let mut d = Diagnostic::new(
                        Code::E0304,
                        file,
                        e.span,
                        format!("{what} expects {}, found {}", article(want.unopt()), article(&t)),
                    )
                    .label(format!("this is {}", article(&t)));
                    if let Some((dm, span)) = decl {
                        d = d.secondary(self.file(dm), span, format!("declared as {}", want.display()));
                    }
                    let mut help = example_of(want);
                    if let (Ty::Str, ExprKind::Name(_) | ExprKind::Field(..)) = (want.unopt(), &e.kind) {
                        help = format!("{help}; quote it to make it a string");
                    }
                    if matches!((want.unopt(), &t), (Ty::Int, Ty::Float)) {
                        help = "write a whole number, or convert with `int(...)`".into();
                    }
                    self.err(d.help(help));
                }
            }
        }
    }

    fn check_features(&mut self, fields: &[Field], scope: &Scope, m: usize) {
        let file = self.file(m);
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut entries: Vec<(&Ident, &Expr)> = Vec::new();
        for f in fields {
            let Field::Entry { name, value, .. } = f else { continue };
            if let Some(&first) = index.get(&name.name) {
                let fs = entries[first].0.span;
                self.dup(file, name, fs);
                continue;
            }
            index.insert(name.name.clone(), entries.len());
            entries.push((name, value));
        }
        // A feature that reads its own name reads the input column of that name
        // (`fare = log1p(fare)`), so its own name is not a dependency.
        let refs: Vec<Vec<(String, Span)>> = entries
            .iter()
            .map(|(name, v)| {
                let mut out = Vec::new();
                feature_refs(v, &index, &mut out);
                out.retain(|(n, _)| *n != name.name);
                out
            })
            .collect();
        // Order features so each comes after those it reads; report cycles.
        let n = entries.len();
        let mut state = vec![0u8; n];
        let mut order = Vec::new();
        let mut in_cycle = vec![false; n];
        // Iterative depth-first search with an edge cursor per feature, so a long chain of
        // features cannot overflow the stack.
        let mut stack: Vec<usize> = Vec::new();
        for start in 0..n {
            if state[start] != 0 {
                continue;
            }
            let mut cursor: Vec<(usize, usize)> = vec![(start, 0)];
            state[start] = 1;
            stack.push(start);
            while let Some(&mut (v, ref mut ei)) = cursor.last_mut() {
                let Some((name, span)) = refs[v].get(*ei) else {
                    state[v] = 2;
                    stack.pop();
                    cursor.pop();
                    order.push(v);
                    continue;
                };
                *ei += 1;
                let w = index[name];
                if state[w] == 1 {
                    let pos = stack.iter().position(|&x| x == w).unwrap_or(0);
                    let mut names: Vec<&str> = stack[pos..].iter().map(|&i| entries[i].0.name.as_str()).collect();
                    names.push(entries[w].0.name.as_str());
                    for &i in &stack[pos..] {
                        in_cycle[i] = true;
                    }
                    self.err(
                        Diagnostic::new(
                            Code::E0807,
                            file,
                            *span,
                            format!("features depend on each other in a cycle: {}", names.join(" → ")),
                        )
                        .label("closes the cycle")
                        .help("a feature may read other features only if they do not read it back"),
                    );
                } else if state[w] == 0 {
                    state[w] = 1;
                    stack.push(w);
                    cursor.push((w, 0));
                }
            }
        }
        let mut known: HashMap<String, Ty> = HashMap::new();
        for (name, _) in &entries {
            known.insert(name.name.clone(), Ty::Error);
        }
        for v in order {
            let (name, value) = entries[v];
            // Move the table of feature types into the context rather than copy it per feature
            // (copying made long blocks quadratic); its own name is the column, not a feature.
            let mut ecx = ExprCx::with_mode(scope, m, Mode::Feature);
            ecx.columns = self.feature_columns.clone();
            ecx.features = std::mem::take(&mut known);
            ecx.features.remove(&name.name);
            let t = self.ty_expr(value, &mut ecx);
            known = std::mem::take(&mut ecx.features);
            known.insert(name.name.clone(), if in_cycle[v] { Ty::Error } else { t });
        }
    }

    fn check_options(&mut self, s: &StepDecl, scope: &Scope, m: usize) {
        let file = self.file(m);
        let mut seen: HashMap<String, Span> = HashMap::new();
        for e in &s.body.entries {
            let StepEntry::Option(o) = e else { continue };
            let kw = o.keyword.name.as_str();
            let word = o.word.as_ref().map(|w| w.name.as_str());
            let value_ty = |cx: &mut Cx, v: &Expr| cx.ty_expr(v, &mut ExprCx::constant(scope, m));
            let key = match kw {
                "grant" => None,
                "limit" => word.map(|w| format!("limit {w}")),
                k => Some(k.to_string()),
            };
            if let Some(k) = key
                && let Some(first) = seen.insert(k.clone(), o.span)
            {
                self.err(
                    Diagnostic::new(Code::E0707, file, o.span, format!("`{k}` is given twice"))
                        .label("second setting")
                        .secondary(file, first, "first given here")
                        .help("keep one of them"),
                );
                continue;
            }
            match kw {
                "grant" => {
                    const KINDS: [&str; 4] = ["read", "write", "net", "gpu"];
                    let Some(w) = &o.word else {
                        self.err(
                            Diagnostic::new(Code::E0701, file, o.keyword.span, "`grant` needs a kind")
                                .label("grant what?")
                                .help("write `grant read PATH`, `grant write PATH`, `grant net \"host:port\"` or `grant gpu`"),
                        );
                        continue;
                    };
                    if !KINDS.contains(&w.name.as_str()) {
                        let mut d = Diagnostic::new(Code::E0701, file, w.span, format!("unknown grant `{}`", w.name))
                            .label("not a grant")
                            .help("the grants are read, write, net and gpu");
                        if let Some(sg) = suggest(&w.name, KINDS) {
                            d = d.fix(format!("replace with `{sg}`"), file, w.span, sg);
                        }
                        self.err(d);
                        continue;
                    }
                    match (w.name.as_str(), &o.value) {
                        ("gpu", None) => {}
                        ("gpu", Some(v)) => self.err(
                            Diagnostic::new(Code::E0702, file, v.span, "`grant gpu` takes no value")
                                .label("remove this")
                                .help("write `grant gpu` alone"),
                        ),
                        (k, None) => self.err(
                            Diagnostic::new(Code::E0702, file, o.span, format!("`grant {k}` needs a target"))
                                .label("missing target")
                                .help(if k == "net" {
                                    "write `grant net \"host:port\"`"
                                } else {
                                    "write `grant read PATH` with a path or a path parameter"
                                }),
                        ),
                        (k, Some(v)) => {
                            let t = value_ty(self, v);
                            let ok = if k == "net" { t == Ty::Str } else { matches!(t, Ty::Str | Ty::Path) };
                            if !ok && !t.is_loose() {
                                self.err(
                                    Diagnostic::new(
                                        Code::E0702,
                                        file,
                                        v.span,
                                        format!(
                                            "`grant {k}` takes {}, found {}",
                                            if k == "net" { "a \"host:port\" string" } else { "a path" },
                                            article(&t)
                                        ),
                                    )
                                    .label("invalid target")
                                    .help(if k == "net" {
                                        "write `grant net \"api.example.com:443\"`"
                                    } else {
                                        "write `grant read \"data\"` or name a path parameter"
                                    }),
                                );
                            } else if k == "net"
                                && let ExprKind::Str(h) = &v.kind
                                && (h.is_empty() || h.contains(['/', ' ']))
                            {
                                self.err(
                                    Diagnostic::new(Code::E0702, file, v.span, format!("`{h}` is not a host"))
                                        .label("expected host or host:port")
                                        .help("write the host name alone, e.g. `grant net \"api.example.com:443\"`"),
                                );
                            }
                        }
                    }
                }
                "limit" => {
                    let Some(w) = &o.word else {
                        self.err(
                            Diagnostic::new(Code::E0703, file, o.keyword.span, "`limit` needs a kind")
                                .label("limit what?")
                                .help("write `limit time 10m` or `limit memory 2GiB`"),
                        );
                        continue;
                    };
                    let want = match w.name.as_str() {
                        "time" => Ty::Duration,
                        "memory" => Ty::Size,
                        other => {
                            let mut d = Diagnostic::new(Code::E0703, file, w.span, format!("unknown limit `{other}`"))
                                .label("not a limit")
                                .help("the limits are `time` (a duration) and `memory` (a size)");
                            if let Some(sg) = suggest(other, ["time", "memory"]) {
                                d = d.fix(format!("replace with `{sg}`"), file, w.span, sg);
                            }
                            self.err(d);
                            continue;
                        }
                    };
                    let Some(v) = &o.value else {
                        self.err(
                            Diagnostic::new(Code::E0704, file, o.span, format!("`limit {}` needs a value", w.name))
                                .label("missing value")
                                .help(example_of(&want)),
                        );
                        continue;
                    };
                    let t = value_ty(self, v);
                    let zero = matches!(v.kind, ExprKind::Duration(0) | ExprKind::Size(0));
                    if (!t.fits(&want) || zero) && !t.is_loose() {
                        self.err(
                            Diagnostic::new(
                                Code::E0704,
                                file,
                                v.span,
                                if zero {
                                    format!("`limit {}` must be more than zero", w.name)
                                } else {
                                    format!("`limit {}` takes {}, found {}", w.name, article(&want), article(&t))
                                },
                            )
                            .label("invalid limit")
                            .help(example_of(&want)),
                        );
                    }
                }
                "retry" => {
                    let bad = match (&o.word, &o.value) {
                        (Some(w), None) if scope.params.get(&w.name).is_some_and(|(t, _)| *t == Ty::Int) => {
                            scope.mark_used(&w.name);
                            false
                        }
                        (None, Some(v)) => match &v.kind {
                            ExprKind::Int(n) => !(0..=10).contains(n),
                            _ => {
                                let t = value_ty(self, v);
                                t != Ty::Int && !t.is_loose()
                            }
                        },
                        _ => true,
                    };
                    if bad {
                        self.err(
                            Diagnostic::new(Code::E0705, file, o.span, "`retry` takes a whole number from 0 to 10")
                                .label("invalid retry count")
                                .help("write `retry 2` to run a failed step up to two more times"),
                        );
                    }
                }
                "cache" => {
                    let ok = o.value.is_none() && matches!(word, Some("on" | "off"));
                    if !ok {
                        self.err(
                            Diagnostic::new(Code::E0706, file, o.span, "`cache` takes `on` or `off`")
                                .label("invalid cache setting")
                                .help("write `cache off` to always run this step"),
                        );
                    }
                }
                _ => {}
            }
        }
    }
}
