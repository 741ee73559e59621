//! The IR: a checked pipeline lowered to a DAG of component invocations with typed edges and
//! fully resolved parameters. It is the single input of the runtime and of exporters.
//!
//! Lowering expands sub-pipelines inline (step ids become `caller/inner`), evaluates every
//! constant expression (parameters, `--set` overrides, defaults), resolves paths relative to
//! the root file's folder, and orders steps topologically with ties broken by id, so the same
//! source always gives the same bytes ([`Ir::to_json`]).

use crate::check::types::Ty;
use crate::check::{CheckOptions, Checked, Decl, Module};
use crate::codes::Code;
use crate::diag::{Diagnostic, FileId};
use crate::search::{Dim, Search};
use crate::source::{dir_of, join};
use crate::syntax::ast::{BinOp, Expr, ExprKind, Field, Span, StepDecl, StepEntry, UnOp};
use petgraph::graph::DiGraph;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Version of the IR format; bumped on any incompatible change.
pub const IR_VERSION: u32 = 1;

/// A resolved value.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Value {
    /// Integer.
    Int(i64),
    /// Float.
    Float(f64),
    /// Bool.
    Bool(bool),
    /// String.
    String(String),
    /// Path, relative to the root pipeline file's folder (or absolute, or `std/...`).
    Path(String),
    /// Milliseconds.
    Duration(u64),
    /// Bytes.
    Size(u64),
    /// List.
    List(Vec<Value>),
    /// Map with sorted keys.
    Map(BTreeMap<String, Value>),
    /// A feature block, in source order.
    Features(Vec<Feature>),
    /// An expression evaluated when the step runs.
    Expr(Box<IrExpr>),
}

/// One named feature.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Feature {
    /// Output column name.
    pub name: String,
    /// Its expression.
    pub expr: IrExpr,
}

/// Where an input comes from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Source {
    /// Producing step id (empty for `latest` and `latest_blessed`).
    pub step: String,
    /// Its output (empty for `latest` and `latest_blessed`).
    pub output: String,
    /// When set, the artifact is found in the store when the run starts (`latest`,
    /// `latest_blessed`) or when `step.output` is ready (`previous_span`), not produced here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolve: Option<Resolve>,
}

/// An artifact found in the store instead of produced by a step of this run.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Resolve {
    /// `latest(T)`: the newest artifact of type `ty` recorded for this pipeline by an earlier run.
    Latest {
        /// The artifact type.
        ty: String,
    },
    /// `latest_blessed(Model)`: the model of the newest positive Blessing of an earlier run.
    LatestBlessed {
        /// The artifact type (`Model`).
        ty: String,
    },
    /// `previous_span(step.output)`: the artifact of the same type whose `span` property is the
    /// greatest below that of `step.output`.
    PreviousSpan,
}

/// An expression in the IR (parameters already substituted).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IrExpr {
    /// A constant.
    Lit(Value),
    /// An input column.
    Column(String),
    /// Another feature of the same block.
    Feature(String),
    /// A name resolved when the step runs (a metric).
    Free(String),
    /// An artifact (the first present of these sources); true when it is a positive blessing.
    Artifact(Vec<Source>),
    /// `base.field`
    Field(Box<IrExpr>, String),
    /// A function call.
    Call {
        /// Function name.
        func: String,
        /// Positional arguments.
        args: Vec<IrExpr>,
        /// Named arguments.
        named: BTreeMap<String, IrExpr>,
    },
    /// Unary operator.
    Unary {
        /// Operator.
        op: UnOp,
        /// Operand.
        arg: Box<IrExpr>,
    },
    /// Binary operator.
    Binary {
        /// Operator.
        op: BinOp,
        /// Left.
        lhs: Box<IrExpr>,
        /// Right.
        rhs: Box<IrExpr>,
    },
    /// `if c then a else b`
    If {
        /// Condition.
        cond: Box<IrExpr>,
        /// When true.
        then: Box<IrExpr>,
        /// When false.
        otherwise: Box<IrExpr>,
    },
}

/// An input of a step.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Input {
    /// Artifact type.
    pub ty: String,
    /// Whether the step runs without it.
    pub optional: bool,
    /// Candidates, first present wins (one unless written with `??`).
    pub sources: Vec<Source>,
}

/// A capability granted to a step.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", content = "target", rename_all = "snake_case")]
pub enum Grant {
    /// Read a folder or file.
    Read(String),
    /// Write a folder or file.
    Write(String),
    /// Connect to a host.
    Net(String),
    /// Use the GPU.
    Gpu,
}

/// One component invocation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    /// Unique id (`name`, or `caller/name` inside sub-pipelines).
    pub id: String,
    /// The component, as `file#name`.
    pub component: String,
    /// The WebAssembly file (`std/...` or relative to the root file's folder).
    pub wasm: String,
    /// Expected digest of the WebAssembly file.
    pub digest: Option<String>,
    /// Every parameter, defaults included.
    pub params: BTreeMap<String, Value>,
    /// Inputs by port name (absent optional inputs are left out).
    pub inputs: BTreeMap<String, Input>,
    /// Outputs and their artifact types.
    pub outputs: BTreeMap<String, String>,
    /// Run only when this holds.
    pub when: Option<IrExpr>,
    /// Capabilities.
    pub grants: Vec<Grant>,
    /// Time limit in milliseconds.
    pub time_limit_ms: Option<u64>,
    /// Memory limit in bytes.
    pub memory_limit_bytes: Option<u64>,
    /// Retries after a failure.
    pub retries: u32,
    /// Whether results may come from the cache.
    pub cache: bool,
    /// Where the step is written: file and 1-based line.
    pub source: (String, usize),
    /// Set on the steps a hyperparameter search adds: one per trial.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trial: Option<Trial>,
}

/// One trial of a hyperparameter search: a trainer step with a sampled point of the space.
///
/// A step calling a search component (one with a `component` parameter naming the trainer and
/// a `space` parameter) is lowered to one trainer step per trial, ids `SEARCH/trial-NN`, plus
/// the search step itself, whose inputs `trials.0`, `trials.1`, ... are the trials' models.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Trial {
    /// The id of the search step.
    pub search: String,
    /// 0-based index of this trial.
    pub index: u32,
    /// How many trials the search has.
    pub of: u32,
    /// The sampled point: trainer parameter to value (also in the step's `params`).
    pub point: BTreeMap<String, Value>,
    /// Trials of this search that may run at the same time.
    pub parallel: u32,
    /// The median stopping rule, when the search stops bad trials early.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub early_stopping: Option<EarlyStopping>,
}

/// The median stopping rule: after `grace` epochs, a trial whose best intermediate objective
/// (lower is better) is worse than the median of what the other trials reported at the same
/// epoch is stopped, once at least `min_trials` others have reported that epoch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EarlyStopping {
    /// Epochs a trial always runs.
    pub grace: u32,
    /// Other trials' reports at an epoch needed before a trial is compared there.
    pub min_trials: u32,
}

/// A typed edge.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Edge {
    /// Producing step.
    pub from: String,
    /// Its output.
    pub output: String,
    /// Consuming step.
    pub to: String,
    /// The input (or `when` for a condition).
    pub input: String,
    /// Artifact type.
    pub ty: String,
}

/// A lowered pipeline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ir {
    /// [`IR_VERSION`].
    pub version: u32,
    /// The root file's name.
    pub pipeline: String,
    /// Resolved pipeline parameters.
    pub params: BTreeMap<String, Value>,
    /// Steps in topological order, ties broken by id.
    pub steps: Vec<Step>,
    /// Edges, sorted.
    pub edges: Vec<Edge>,
}

impl Ir {
    /// Stable JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The DAG as a petgraph graph; node weights index [`Ir::steps`].
    pub fn graph(&self) -> DiGraph<usize, usize> {
        let mut g = DiGraph::new();
        let idx: HashMap<&str, _> =
            self.steps.iter().enumerate().map(|(i, s)| (s.id.as_str(), g.add_node(i))).collect();
        for (i, e) in self.edges.iter().enumerate() {
            if let (Some(&a), Some(&b)) = (idx.get(e.from.as_str()), idx.get(e.to.as_str())) {
                g.add_edge(a, b, i);
            }
        }
        g
    }

    /// Graphviz DOT.
    pub fn to_dot(&self) -> String {
        let mut s = String::from("digraph pipeline {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n");
        for st in &self.steps {
            let comp = st.component.rsplit('#').next().unwrap_or(&st.component);
            let style = if st.when.is_some() { ", style=\"rounded,dashed\"" } else { "" };
            s.push_str(&format!("  \"{}\" [label=\"{}\\n{}\"{style}];\n", st.id, st.id, comp));
        }
        for e in &self.edges {
            let style = if e.input == "when" { ", style=dashed" } else { "" };
            s.push_str(&format!("  \"{}\" -> \"{}\" [label=\"{}\"{style}];\n", e.from, e.to, e.ty));
        }
        s.push_str("}\n");
        s
    }

    /// Mermaid flowchart.
    pub fn to_mermaid(&self) -> String {
        let id = |s: &str| s.replace(['/', '-', '.'], "_");
        let mut s = String::from("flowchart LR\n");
        for st in &self.steps {
            let comp = st.component.rsplit('#').next().unwrap_or(&st.component);
            s.push_str(&format!("  {}[\"{}<br/>{}\"]\n", id(&st.id), st.id, comp));
        }
        for e in &self.edges {
            let arrow = if e.input == "when" { "-.->" } else { "-->" };
            s.push_str(&format!("  {} {arrow}|{}| {}\n", id(&e.from), e.ty, id(&e.to)));
        }
        s
    }
}

type Env = HashMap<String, Value>;

struct Lower<'a> {
    c: &'a Checked,
    /// Line start offsets per file, built on first use.
    lines: HashMap<FileId, Vec<usize>>,
    steps: Vec<Step>,
    edges: Vec<Edge>,
    diags: Vec<Diagnostic>,
    cli_base: String,
}

/// Lower a checked program to the IR. `overrides` are the parsed `--set` values.
pub(crate) fn lower(
    c: &Checked,
    overrides: &BTreeMap<String, (Expr, FileId)>,
    opts: &CheckOptions,
) -> Result<Ir, Vec<Diagnostic>> {
    let mut l = Lower {
        c,
        lines: HashMap::new(),
        steps: Vec::new(),
        edges: Vec::new(),
        diags: Vec::new(),
        cli_base: opts.cli_base.clone(),
    };
    let root = &c.pipelines[0];
    let m0 = &c.modules[0];
    let mut env: Env = HashMap::new();
    let mut params = BTreeMap::new();
    for p in root.params.iter() {
        let v = if let Some((e, file)) = overrides.get(&p.name) {
            let dir = l.cli_base.clone();
            l.eval(e, &HashMap::new(), *file, &dir).map(|v| coerce(v, &p.ty, &dir))
        } else if let Some(d) = &p.default {
            l.value(d, &p.ty, &env, m0.file, dir_of(&m0.key))
        } else if p.ty.is_optional() {
            continue;
        } else {
            l.diags.push(
                Diagnostic::new(Code::E0401, m0.file, p.span, format!("parameter `{}` has no value", p.name))
                    .label("no default and not set")
                    .help(format!(
                        "give it a default (`param {}: {} = ...`) or set it: `--set {}=...`",
                        p.name,
                        p.ty.display(),
                        p.name
                    )),
            );
            continue;
        };
        if let Some(v) = v {
            env.insert(p.name.clone(), v.clone());
            params.insert(p.name.clone(), v);
        }
    }
    l.instance(0, "", &env, &HashMap::new(), None, &Opts::default());
    if !l.diags.is_empty() {
        return Err(l.diags);
    }
    let Lower { steps, mut edges, .. } = l;
    edges.sort();
    edges.dedup();
    let steps = topo_sort(steps, &edges);
    Ok(Ir { version: IR_VERSION, pipeline: c.sources.get(m0.file).name.clone(), params, steps, edges })
}

fn topo_sort(steps: Vec<Step>, edges: &[Edge]) -> Vec<Step> {
    // Kahn's algorithm over indices; among ready steps the smallest id goes first.
    let n = steps.len();
    let index: HashMap<&str, usize> = steps.iter().enumerate().map(|(i, s)| (s.id.as_str(), i)).collect();
    let mut indeg = vec![0usize; n];
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    for e in edges {
        if let (Some(&a), Some(&b)) = (index.get(e.from.as_str()), index.get(e.to.as_str())) {
            // Edges are sorted, so parallel edges between two steps are adjacent.
            if out[a].last() != Some(&b) {
                out[a].push(b);
                indeg[b] += 1;
            }
        }
    }
    let mut ready: BTreeSet<(&str, usize)> =
        (0..n).filter(|&i| indeg[i] == 0).map(|i| (steps[i].id.as_str(), i)).collect();
    let mut order: Vec<usize> = Vec::with_capacity(n);
    while let Some((_, i)) = ready.pop_first() {
        order.push(i);
        for &t in &out[i] {
            indeg[t] -= 1;
            if indeg[t] == 0 {
                ready.insert((steps[t].id.as_str(), t));
            }
        }
    }
    // Anything left would be a cycle, which the checker rules out; keep it rather than drop it.
    if order.len() < n {
        let mut placed = vec![false; n];
        order.iter().for_each(|&i| placed[i] = true);
        let mut rest: Vec<usize> = (0..n).filter(|&i| !placed[i]).collect();
        rest.sort_by(|&a, &b| steps[a].id.cmp(&steps[b].id));
        order.extend(rest);
    }
    let mut slots: Vec<Option<Step>> = steps.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

/// Step names an expression refers to.
fn step_refs(e: &Expr, steps: &HashMap<&str, usize>, out: &mut Vec<usize>) {
    match &e.kind {
        ExprKind::Name(n) => {
            if let Some(&i) = steps.get(n.name.as_str()) {
                out.push(i)
            }
        }
        ExprKind::Field(b, _) | ExprKind::Paren(b) | ExprKind::Unary(_, b) => step_refs(b, steps, out),
        ExprKind::Binary(_, a, b) => {
            step_refs(a, steps, out);
            step_refs(b, steps, out);
        }
        ExprKind::If(a, b, c) => {
            step_refs(a, steps, out);
            step_refs(b, steps, out);
            step_refs(c, steps, out);
        }
        _ => {}
    }
}

fn coerce(v: Value, want: &Ty, dir: &str) -> Value {
    match (v, want.unopt()) {
        (Value::Int(i), Ty::Float) => Value::Float(i as f64),
        (Value::String(s), Ty::Path) => Value::Path(if s.starts_with('/') { s } else { join(dir, &s) }),
        (Value::List(xs), Ty::List(t)) => Value::List(xs.into_iter().map(|x| coerce(x, t, dir)).collect()),
        (Value::Map(xs), Ty::Map(t)) => Value::Map(xs.into_iter().map(|(k, x)| (k, coerce(x, t, dir))).collect()),
        (v, _) => v,
    }
}

type Outputs = HashMap<String, Vec<Source>>;

/// Where the outputs of an expanded step come from.
enum StepOuts {
    /// A component step: its output `o` is `(id, o)`.
    Component(String),
    /// A sub-pipeline step: its outputs as bound inside.
    Pipeline(Outputs),
}

impl StepOuts {
    fn get(&self, output: &str) -> Vec<Source> {
        match self {
            StepOuts::Component(id) => vec![Source { step: id.clone(), output: output.to_string(), resolve: None }],
            StepOuts::Pipeline(o) => o.get(output).cloned().unwrap_or_default(),
        }
    }
}

/// A step's options as evaluated; `None` where the step does not set one.
#[derive(Clone, Debug, Default)]
struct Opts {
    grants: Vec<Grant>,
    time: Option<u64>,
    memory: Option<u64>,
    retries: Option<u32>,
    cache: Option<bool>,
}

impl Opts {
    /// These options inside a caller with `outer`: own settings win; grants add up.
    fn under(mut self, outer: &Opts) -> Opts {
        self.grants.extend(outer.grants.iter().cloned());
        self.grants.sort();
        self.grants.dedup();
        Opts {
            grants: self.grants,
            time: self.time.or(outer.time),
            memory: self.memory.or(outer.memory),
            retries: self.retries.or(outer.retries),
            cache: self.cache.or(outer.cache),
        }
    }
}

impl Lower<'_> {
    /// Evaluate the option lines of a step.
    fn options(&mut self, s: &StepDecl, env: &Env, file: FileId, dir: &str) -> Opts {
        let mut o = Opts::default();
        for e in &s.body.entries {
            let StepEntry::Option(opt) = e else { continue };
            let word = opt.word.as_ref().map(|w| w.name.as_str());
            let val = match (&opt.value, word) {
                (Some(v), _) => self.eval(v, env, file, dir),
                // `retry n` with an int parameter `n`.
                (None, Some(w)) if opt.keyword.name == "retry" => env.get(w).cloned(),
                _ => None,
            };
            let target = |v: Value| match v {
                Value::Path(p) => Some(p),
                Value::String(p) => Some(path_of(&p, dir)),
                _ => None,
            };
            match (opt.keyword.name.as_str(), word, val) {
                ("grant", Some("read"), Some(v)) => o.grants.extend(target(v).map(Grant::Read)),
                ("grant", Some("write"), Some(v)) => o.grants.extend(target(v).map(Grant::Write)),
                ("grant", Some("net"), Some(Value::String(h))) => o.grants.push(Grant::Net(h)),
                ("grant", Some("gpu"), _) => o.grants.push(Grant::Gpu),
                ("limit", Some("time"), Some(Value::Duration(d))) => o.time = Some(d),
                ("limit", Some("memory"), Some(Value::Size(b))) => o.memory = Some(b),
                ("retry", _, Some(Value::Int(n))) => {
                    if (0..=10).contains(&n) {
                        o.retries = Some(n as u32);
                    } else {
                        self.diags.push(
                            Diagnostic::new(
                                Code::E0705,
                                file,
                                opt.span,
                                format!("`retry` is {n}; it must be from 0 to 10"),
                            )
                            .label("invalid retry count")
                            .help("retry a failed step at most 10 times"),
                        );
                    }
                }
                ("cache", Some(w), _) => o.cache = Some(w == "on"),
                _ => {}
            }
        }
        o.grants.sort();
        o.grants.dedup();
        o
    }

    /// 1-based line of a byte offset.
    fn line_of(&mut self, file: FileId, offset: usize) -> usize {
        let c = self.c;
        let starts = self.lines.entry(file).or_insert_with(|| {
            let text = &c.sources.get(file).text;
            std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect()
        });
        starts.partition_point(|&s| s <= offset)
    }

    fn module(&self, p: usize) -> &Module {
        &self.c.modules[self.c.pipelines[p].module]
    }

    fn callee(&self, m: usize, s: &StepDecl) -> Option<Decl> {
        let module = &self.c.modules[m];
        let target = match &s.callee.ns {
            Some(ns) => module.imports.get(&ns.name)?.0,
            None => m,
        };
        self.c.modules[target].decls.get(&s.callee.name.name).map(|(d, _)| d.clone())
    }

    /// Expand pipeline `p` with parameter values `env` and inputs `inputs`; returns its outputs.
    fn instance(
        &mut self,
        p: usize,
        prefix: &str,
        env: &Env,
        inputs: &HashMap<String, Vec<Source>>,
        when: Option<IrExpr>,
        inherited: &Opts,
    ) -> Outputs {
        let pl = self.c.pipelines[p].clone();
        let m = pl.module;
        let file = self.module(p).file;
        let dir = dir_of(&self.module(p).key).to_string();
        let index: HashMap<&str, usize> = pl.steps.iter().enumerate().map(|(i, s)| (s.name.name.as_str(), i)).collect();
        // Order steps so producers come before consumers.
        let mut deps: Vec<Vec<usize>> = Vec::new();
        for s in pl.steps.iter() {
            let mut d = Vec::new();
            for e in &s.body.entries {
                if let StepEntry::Arg(a) = e {
                    step_refs(&a.value, &index, &mut d);
                }
            }
            if let Some(w) = &s.when {
                step_refs(w, &index, &mut d);
            }
            deps.push(d);
        }
        let mut order = Vec::new();
        let mut state = vec![0u8; pl.steps.len()];
        for start in 0..pl.steps.len() {
            let mut stack = vec![(start, false)];
            while let Some((v, done)) = stack.pop() {
                if done {
                    if state[v] != 2 {
                        state[v] = 2;
                        order.push(v);
                    }
                    continue;
                }
                if state[v] != 0 {
                    continue;
                }
                state[v] = 1;
                stack.push((v, true));
                for &w in &deps[v] {
                    if state[w] == 0 {
                        stack.push((w, false));
                    }
                }
            }
        }
        let mut outs: HashMap<String, StepOuts> = HashMap::new();
        for i in order {
            let s = &pl.steps[i];
            let id = format!("{prefix}{}", s.name.name);
            let Some(callee) = self.callee(m, s) else { continue };
            let cond = match (&when, &s.when) {
                (None, None) => None,
                (Some(w), None) => Some(w.clone()),
                (w, Some(e)) => {
                    let own = self.ir_expr(e, env, inputs, &outs, file, &dir, Ctx::When, &HashMap::new());
                    Some(match w {
                        Some(w) => IrExpr::Binary { op: BinOp::And, lhs: Box::new(w.clone()), rhs: Box::new(own) },
                        None => own,
                    })
                }
            };
            let (in_ports, param_sigs, out_ports) = crate::check::body_signature(self.c, &callee);
            // Steps have a handful of arguments: a list beats a hash map.
            let args: Vec<(&str, &Expr)> = s
                .body
                .entries
                .iter()
                .filter_map(|e| match e {
                    StepEntry::Arg(a) => Some((a.name.name.as_str(), &a.value)),
                    _ => None,
                })
                .collect();
            let arg = |name: &str| args.iter().find(|(n, _)| *n == name).map(|(_, e)| *e);
            // Inputs.
            let mut step_inputs: BTreeMap<String, Vec<Source>> = BTreeMap::new();
            for port in in_ports.iter() {
                let Some(e) = arg(&port.name) else { continue };
                let srcs = self.sources(e, &port.ty.unopt().display(), inputs, &outs);
                if !srcs.is_empty() {
                    step_inputs.insert(port.name.clone(), srcs);
                }
            }
            // Parameters: given, else default.
            let mut values: BTreeMap<String, Value> = BTreeMap::new();
            let callee_module = match &callee {
                Decl::Component(c) => self.c.components[*c].module,
                Decl::Pipeline(q) => self.c.pipelines[*q].module,
                Decl::Artifact(_) => m,
            };
            let cfile = self.c.modules[callee_module].file;
            let cdir = dir_of(&self.c.modules[callee_module].key).to_string();
            let mut callee_env: Env = HashMap::new();
            for prm in param_sigs.iter() {
                let v = match arg(&prm.name) {
                    Some(e) => self.value(e, &prm.ty, env, file, &dir),
                    None => match &prm.default {
                        Some(d) => self.value(d, &prm.ty, &callee_env, cfile, &cdir),
                        None => None,
                    },
                };
                if let Some(v) = v {
                    // Pipeline parameters are the environment of the pipeline's body.
                    if matches!(callee, Decl::Pipeline(_)) {
                        callee_env.insert(prm.name.clone(), v.clone());
                    }
                    values.insert(prm.name.clone(), v);
                }
            }
            match callee {
                Decl::Pipeline(q) => {
                    let sub_inputs: HashMap<String, Vec<Source>> = step_inputs.into_iter().collect();
                    // Options on a pipeline call apply to every step inside that does not set its own.
                    let opts = self.options(s, env, file, &dir).under(inherited);
                    let o = self.instance(q, &format!("{id}/"), &callee_env, &sub_inputs, cond, &opts);
                    outs.insert(s.name.name.clone(), StepOuts::Pipeline(o));
                }
                Decl::Component(ci) => {
                    let comp = &self.c.components[ci];
                    let own = self.options(s, env, file, &dir);
                    let opts = own.under(inherited);
                    let mut ins = BTreeMap::new();
                    for port in in_ports.iter() {
                        if let Some(srcs) = step_inputs.remove(&port.name) {
                            for src in srcs.iter().filter(|s| !s.step.is_empty()) {
                                self.edges.push(Edge {
                                    from: src.step.clone(),
                                    output: src.output.clone(),
                                    to: id.clone(),
                                    input: port.name.clone(),
                                    ty: port.ty.unopt().display(),
                                });
                            }
                            ins.insert(
                                port.name.clone(),
                                Input { ty: port.ty.unopt().display(), optional: port.ty.is_optional(), sources: srcs },
                            );
                        }
                    }
                    self.when_edges(&cond, &id);
                    let mut outputs = BTreeMap::new();
                    for port in out_ports.iter() {
                        outputs.insert(port.name.clone(), port.ty.unopt().display());
                    }
                    let line = self.line_of(file, s.name.span.start as usize);
                    if crate::check::search::search_params(&comp.params).is_some() {
                        let at = (file, s.name.span, line);
                        self.expand_search(ci, &id, &values, &mut ins, &cond, &opts, at);
                    }
                    self.steps.push(Step {
                        id: id.clone(),
                        component: format!("{}#{}", self.c.modules[comp.module].key, comp.name),
                        wasm: comp.wasm.clone().unwrap_or_default(),
                        digest: comp.digest.clone(),
                        params: values,
                        inputs: ins,
                        outputs,
                        when: cond,
                        grants: opts.grants,
                        time_limit_ms: opts.time,
                        memory_limit_bytes: opts.memory,
                        retries: opts.retries.unwrap_or(0),
                        cache: opts.cache.unwrap_or(true),
                        source: (self.c.sources.get(file).name.clone(), line),
                        trial: None,
                    });
                    outs.insert(s.name.name.clone(), StepOuts::Component(id));
                }
                Decl::Artifact(_) => {}
            }
        }
        // This pipeline's outputs.
        let mut result = Outputs::new();
        for o in pl.outputs.iter() {
            if let Some(v) = &o.value {
                result.insert(o.name.clone(), self.sources(v, &o.ty.unopt().display(), inputs, &outs));
            }
        }
        result
    }

    /// The `when` edges of a step with condition `cond`: from each artifact it reads.
    fn when_edges(&mut self, cond: &Option<IrExpr>, id: &str) {
        let Some(c) = cond else { return };
        let mut arts = Vec::new();
        collect_artifacts(c, &mut arts);
        for src in arts {
            let ty = self
                .steps
                .iter()
                .find(|s| s.id == src.step)
                .and_then(|s| s.outputs.get(&src.output).cloned())
                .unwrap_or_else(|| "Blessing".into());
            self.edges.push(Edge { from: src.step, output: src.output, to: id.to_string(), input: "when".into(), ty });
        }
    }

    /// Expands a search step `id` (component `ci`, parameters `values`): one trainer step per
    /// point of the space, `ID/trial-NN`, each writing the Model that the search step reads as
    /// input `trials.N`. Errors (a search that cannot be enumerated) are E0906 on the step.
    #[allow(clippy::too_many_arguments)]
    fn expand_search(
        &mut self,
        ci: usize,
        id: &str,
        values: &BTreeMap<String, Value>,
        ins: &mut BTreeMap<String, Input>,
        cond: &Option<IrExpr>,
        opts: &Opts,
        (file, span, line): (FileId, Span, usize),
    ) {
        let comp = self.c.components[ci].clone();
        let Some((tp, sp)) = crate::check::search::search_params(&comp.params) else { return };
        let fail = |l: &mut Self, msg: String, help: &str| {
            l.diags.push(Diagnostic::new(Code::E0906, file, span, msg).label("this search").help(help));
        };
        let key = |c: &crate::check::Component| format!("{}#{}", self.c.modules[c.module].key, c.name);
        let (Some(Value::String(tkey)), Some(Value::Map(space))) = (values.get(&tp.name), values.get(&sp.name)) else {
            return;
        };
        let Some(tc) = self.c.components.iter().find(|c| key(c) == *tkey).cloned() else {
            return fail(
                self,
                format!("the trainer `{tkey}` is not a component"),
                "name a component such as `tab.train_mlp`",
            );
        };
        let mut dims = Vec::new();
        for (name, v) in space {
            match Dim::from_value(v) {
                Ok(d) => dims.push((name.clone(), d)),
                Err(e) => {
                    return fail(
                        self,
                        format!("dimension `{name}`: {e}"),
                        "write choice, range, log_range or int_range",
                    );
                }
            }
        }
        let int = |k: &str, d: i64| match values.get(k) {
            Some(Value::Int(n)) => *n,
            _ => d,
        };
        let search = match values.get("search") {
            None => Search::Random,
            Some(Value::String(s)) => match Search::parse(s) {
                Some(x) => x,
                None => {
                    return fail(
                        self,
                        format!("`search` is \"{s}\"; it must be \"random\" or \"grid\""),
                        "write `search = \"random\"` or `search = \"grid\"`",
                    );
                }
            },
            Some(_) => Search::Random,
        };
        let parallel = int("parallel", 1);
        if !(1..=1024).contains(&parallel) {
            return fail(
                self,
                format!("`parallel` is {parallel}; it must be from 1 to 1024"),
                "run at least one trial at a time",
            );
        }
        let grace = int("grace", 1);
        if grace < 0 {
            return fail(
                self,
                format!("`grace` is {grace}; it must be 0 or more"),
                "give the number of epochs every trial runs",
            );
        }
        let early = matches!(values.get("early_stopping"), Some(Value::Bool(true)));
        let points = match crate::search::points(&dims, search, int("trials", 20), int("seed", 0)) {
            Ok(p) => p,
            Err(e) => return fail(self, e, "change the space, `search` or `trials`"),
        };
        let Some(model) = tc.outputs.iter().find(|o| *o.ty.unopt() == Ty::Artifact("Model".into())) else { return };
        let model = model.name.clone();
        let tfile = self.c.modules[tc.module].file;
        let tdir = dir_of(&self.c.modules[tc.module].key).to_string();
        let width = (points.len().max(1) - 1).to_string().len().max(2);
        let source = (self.c.sources.get(file).name.clone(), line);
        // Values in the trainer's types (an int choice for a float parameter is a float).
        let points: Vec<BTreeMap<String, Value>> = points
            .into_iter()
            .map(|p| {
                p.into_iter()
                    .map(|(k, v)| {
                        let v = match tc.params.iter().find(|x| x.name == k) {
                            Some(prm) => coerce(v, &prm.ty, &tdir),
                            None => v,
                        };
                        (k, v)
                    })
                    .collect()
            })
            .collect();
        for (i, point) in points.iter().enumerate() {
            let tid = format!("{id}/trial-{i:0width$}");
            let mut params = BTreeMap::new();
            for prm in tc.params.iter() {
                let shared = comp.params.iter().any(|x| x.name == prm.name && x.ty.unopt() == prm.ty.unopt());
                let v = match (point.get(&prm.name), values.get(&prm.name)) {
                    (Some(v), _) => Some(v.clone()),
                    (None, Some(v)) if shared => Some(v.clone()),
                    _ => match &prm.default {
                        Some(d) => self.value(d, &prm.ty, &HashMap::new(), tfile, &tdir),
                        None => None,
                    },
                };
                if let Some(v) = v {
                    params.insert(prm.name.clone(), v);
                }
            }
            let mut tins = BTreeMap::new();
            for port in tc.inputs.iter() {
                let Some(inp) = ins.get(&port.name) else { continue };
                for src in inp.sources.iter().filter(|s| !s.step.is_empty()) {
                    self.edges.push(Edge {
                        from: src.step.clone(),
                        output: src.output.clone(),
                        to: tid.clone(),
                        input: port.name.clone(),
                        ty: port.ty.unopt().display(),
                    });
                }
                let ty = port.ty.unopt().display();
                tins.insert(
                    port.name.clone(),
                    Input { ty, optional: port.ty.is_optional(), sources: inp.sources.clone() },
                );
            }
            self.when_edges(cond, &tid);
            let outputs = tc.outputs.iter().map(|o| (o.name.clone(), o.ty.unopt().display())).collect();
            self.steps.push(Step {
                id: tid.clone(),
                component: tkey.clone(),
                wasm: tc.wasm.clone().unwrap_or_default(),
                digest: tc.digest.clone(),
                params,
                inputs: tins,
                outputs,
                when: cond.clone(),
                grants: opts.grants.clone(),
                time_limit_ms: opts.time,
                memory_limit_bytes: opts.memory,
                retries: opts.retries.unwrap_or(0),
                cache: opts.cache.unwrap_or(true),
                source: source.clone(),
                trial: Some(Trial {
                    search: id.to_string(),
                    index: i as u32,
                    of: points.len() as u32,
                    point: point.clone(),
                    parallel: parallel as u32,
                    early_stopping: early.then_some(EarlyStopping { grace: grace as u32, min_trials: 3 }),
                }),
            });
            let port = format!("trials.{i}");
            self.edges.push(Edge {
                from: tid.clone(),
                output: model.clone(),
                to: id.to_string(),
                input: port.clone(),
                ty: "Model".into(),
            });
            let sources = vec![Source { step: tid, output: model.clone(), resolve: None }];
            ins.insert(port, Input { ty: "Model".into(), optional: false, sources });
        }
    }

    /// The candidates for an artifact argument of type `ty`, first present wins.
    fn sources(
        &self,
        e: &Expr,
        ty: &str,
        inputs: &HashMap<String, Vec<Source>>,
        outs: &HashMap<String, StepOuts>,
    ) -> Vec<Source> {
        match &e.kind {
            ExprKind::Paren(x) => self.sources(x, ty, inputs, outs),
            ExprKind::Name(n) => inputs.get(&n.name).cloned().unwrap_or_default(),
            ExprKind::Field(b, f) => match &b.kind {
                ExprKind::Name(n) => outs.get(&n.name).map(|o| o.get(&f.name)).unwrap_or_default(),
                _ => Vec::new(),
            },
            ExprKind::Binary(BinOp::Coalesce, a, b) => {
                let mut v = self.sources(a, ty, inputs, outs);
                v.extend(self.sources(b, ty, inputs, outs));
                v
            }
            ExprKind::Call(f, args) => {
                let resolve = match f.name.as_str() {
                    "latest" => Resolve::Latest { ty: ty.to_string() },
                    "latest_blessed" => Resolve::LatestBlessed { ty: ty.to_string() },
                    "previous_span" => {
                        let Some(arg) = args.first() else { return Vec::new() };
                        return self
                            .sources(&arg.value, ty, inputs, outs)
                            .into_iter()
                            .map(|s| Source { resolve: Some(Resolve::PreviousSpan), ..s })
                            .collect();
                    }
                    _ => return Vec::new(),
                };
                vec![Source { step: String::new(), output: String::new(), resolve: Some(resolve) }]
            }
            _ => Vec::new(),
        }
    }

    /// A parameter value of type `ty`.
    fn value(&mut self, e: &Expr, ty: &Ty, env: &Env, file: FileId, dir: &str) -> Option<Value> {
        if let (Ty::Features | Ty::Expr | Ty::Space | Ty::Component, ExprKind::Name(n)) = (ty.unopt(), &e.kind)
            && let Some(v) = env.get(&n.name)
        {
            return Some(v.clone());
        }
        match ty.unopt() {
            Ty::Component => {
                let c = self.component_ref(e, file)?;
                let comp = &self.c.components[c];
                Some(Value::String(format!("{}#{}", self.c.modules[comp.module].key, comp.name)))
            }
            Ty::Space => {
                let ExprKind::Record(fields) = &e.kind else { return None };
                let mut dims = BTreeMap::new();
                for f in fields {
                    let Field::Entry { name, value, .. } = f else { continue };
                    let dim = self.dimension(value, env, file, dir)?;
                    dims.insert(name.name.clone(), dim.to_value());
                }
                Some(Value::Map(dims))
            }
            Ty::Features => {
                let ExprKind::Record(fields) = &e.kind else { return None };
                let mut names: HashMap<String, ()> = fields
                    .iter()
                    .filter_map(|f| match f {
                        Field::Entry { name, .. } => Some((name.name.clone(), ())),
                        Field::Error(_) => None,
                    })
                    .collect();
                let mut out = Vec::new();
                for f in fields {
                    if let Field::Entry { name, value, .. } = f {
                        // Its own name, inside a feature, is the input column it replaces.
                        let own = names.remove(&name.name);
                        let expr =
                            self.ir_expr(value, env, &HashMap::new(), &HashMap::new(), file, dir, Ctx::Feature, &names);
                        if own.is_some() {
                            names.insert(name.name.clone(), ());
                        }
                        out.push(Feature { name: name.name.clone(), expr });
                    }
                }
                Some(Value::Features(out))
            }
            Ty::Expr => Some(Value::Expr(Box::new(self.ir_expr(
                e,
                env,
                &HashMap::new(),
                &HashMap::new(),
                file,
                dir,
                Ctx::Free,
                &HashMap::new(),
            )))),
            _ => self.eval(e, env, file, dir).map(|v| coerce(v, ty, dir)),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn ir_expr(
        &mut self,
        e: &Expr,
        env: &Env,
        inputs: &HashMap<String, Vec<Source>>,
        outs: &HashMap<String, StepOuts>,
        file: FileId,
        dir: &str,
        ctx: Ctx,
        features: &HashMap<String, ()>,
    ) -> IrExpr {
        let go = |s: &mut Self, x: &Expr| s.ir_expr(x, env, inputs, outs, file, dir, ctx, features);
        match &e.kind {
            ExprKind::Name(n) => {
                if ctx == Ctx::Feature && features.contains_key(&n.name) {
                    return IrExpr::Feature(n.name.clone());
                }
                if let Some(v) = env.get(&n.name) {
                    return IrExpr::Lit(v.clone());
                }
                match ctx {
                    Ctx::Feature => IrExpr::Column(n.name.clone()),
                    Ctx::Free => IrExpr::Free(n.name.clone()),
                    Ctx::When => IrExpr::Artifact(inputs.get(&n.name).cloned().unwrap_or_default()),
                }
            }
            ExprKind::Field(b, f) => {
                if ctx == Ctx::When
                    && let ExprKind::Name(n) = &b.kind
                    && let Some(o) = outs.get(&n.name)
                {
                    return IrExpr::Artifact(o.get(&f.name));
                }
                if let Some(v) = self.try_const(e, env, file, dir) {
                    return IrExpr::Lit(v);
                }
                IrExpr::Field(Box::new(go(self, b)), f.name.clone())
            }
            ExprKind::Paren(x) => go(self, x),
            ExprKind::Call(name, args) => {
                if name.name == "col"
                    && let Some(ExprKind::Str(s)) = args.first().map(|a| &a.value.kind)
                {
                    return IrExpr::Column(s.clone());
                }
                let mut pos = Vec::new();
                let mut named = BTreeMap::new();
                for a in args {
                    let v = go(self, &a.value);
                    match &a.name {
                        Some(n) => {
                            named.insert(n.name.clone(), v);
                        }
                        None => pos.push(v),
                    }
                }
                IrExpr::Call { func: name.name.clone(), args: pos, named }
            }
            ExprKind::Unary(op, x) => IrExpr::Unary { op: *op, arg: Box::new(go(self, x)) },
            ExprKind::Binary(op, a, b) => {
                IrExpr::Binary { op: *op, lhs: Box::new(go(self, a)), rhs: Box::new(go(self, b)) }
            }
            ExprKind::If(c, a, b) => IrExpr::If {
                cond: Box::new(go(self, c)),
                then: Box::new(go(self, a)),
                otherwise: Box::new(go(self, b)),
            },
            _ => match self.eval(e, env, file, dir) {
                Some(v) => IrExpr::Lit(v),
                None => IrExpr::Lit(Value::Bool(false)),
            },
        }
    }

    fn try_const(&mut self, e: &Expr, env: &Env, file: FileId, dir: &str) -> Option<Value> {
        let n = self.diags.len();
        let v = self.eval(e, env, file, dir);
        self.diags.truncate(n);
        v
    }

    /// The component a `component` value names (`tab.train_mlp`), or `None`.
    fn component_ref(&self, e: &Expr, file: FileId) -> Option<usize> {
        let m = self.c.modules.iter().position(|md| md.file == file)?;
        let (target, name) = match &e.kind {
            ExprKind::Name(n) => (m, &n.name),
            ExprKind::Field(b, n) => match &b.kind {
                ExprKind::Name(ns) => (self.c.modules[m].imports.get(&ns.name)?.0, &n.name),
                _ => return None,
            },
            ExprKind::Paren(x) => return self.component_ref(x, file),
            _ => return None,
        };
        match self.c.modules[target].decls.get(name) {
            Some((Decl::Component(c), _)) => Some(*c),
            _ => None,
        }
    }

    /// A search dimension, evaluated (the checker has typed it).
    fn dimension(&mut self, e: &Expr, env: &Env, file: FileId, dir: &str) -> Option<Dim> {
        let num = |v: Value| match v {
            Value::Int(i) => Some(i as f64),
            Value::Float(f) => Some(f),
            _ => None,
        };
        let dim = match &e.kind {
            ExprKind::Paren(x) => return self.dimension(x, env, file, dir),
            ExprKind::List(xs) => Dim::Choice(xs.iter().map(|x| self.eval(x, env, file, dir)).collect::<Option<_>>()?),
            ExprKind::Call(f, args) => {
                let vals: Vec<Value> =
                    args.iter().map(|a| self.eval(&a.value, env, file, dir)).collect::<Option<_>>()?;
                match (f.name.as_str(), vals.as_slice()) {
                    ("choice", _) => Dim::Choice(vals),
                    ("range", [a, b]) => Dim::Range { low: num(a.clone())?, high: num(b.clone())? },
                    ("log_range", [a, b]) => Dim::LogRange { low: num(a.clone())?, high: num(b.clone())? },
                    ("int_range", [Value::Int(a), Value::Int(b)]) => Dim::IntRange { low: *a, high: *b },
                    _ => return None,
                }
            }
            _ => return None,
        };
        if let Some(p) = dim.problem() {
            return self.fail(Code::E0901, file, e.span, p, "fix the bounds of the dimension").map(|_| dim);
        }
        Some(dim)
    }

    fn fail(&mut self, code: Code, file: FileId, span: Span, msg: String, help: &str) -> Option<Value> {
        self.diags.push(Diagnostic::new(code, file, span, msg).label("here").help(help));
        None
    }

    /// Evaluate a constant expression. `dir` is threaded through for nested values.
    #[allow(clippy::only_used_in_recursion)]
    fn eval(&mut self, e: &Expr, env: &Env, file: FileId, dir: &str) -> Option<Value> {
        use Value as V;
        Some(match &e.kind {
            ExprKind::Int(i) => V::Int(*i),
            ExprKind::Float(f) => V::Float(*f),
            ExprKind::Str(s) => V::String(s.clone()),
            ExprKind::Bool(b) => V::Bool(*b),
            ExprKind::Duration(d) => V::Duration(*d),
            ExprKind::Size(s) => V::Size(*s),
            ExprKind::Name(n) => env.get(&n.name)?.clone(),
            ExprKind::Paren(x) => self.eval(x, env, file, dir)?,
            ExprKind::Field(b, f) => match self.eval(b, env, file, dir)? {
                V::Map(m) => match m.get(&f.name) {
                    Some(v) => v.clone(),
                    None => {
                        return self.fail(
                            Code::E0202,
                            file,
                            f.span,
                            format!("the map has no key `{}`", f.name),
                            "use a key the map has",
                        );
                    }
                },
                _ => return None,
            },
            ExprKind::List(xs) => V::List(xs.iter().map(|x| self.eval(x, env, file, dir)).collect::<Option<_>>()?),
            ExprKind::Record(fs) => V::Map(
                fs.iter()
                    .filter_map(|f| match f {
                        Field::Entry { name, value, .. } => Some((name, value)),
                        Field::Error(_) => None,
                    })
                    .map(|(n, v)| self.eval(v, env, file, dir).map(|v| (n.name.clone(), v)))
                    .collect::<Option<_>>()?,
            ),
            ExprKind::Unary(UnOp::Not, x) => match self.eval(x, env, file, dir)? {
                V::Bool(b) => V::Bool(!b),
                _ => return None,
            },
            ExprKind::Unary(UnOp::Neg, x) => match self.eval(x, env, file, dir)? {
                V::Int(i) => match i.checked_neg() {
                    Some(n) => V::Int(n),
                    None => {
                        return self.fail(
                            Code::E0310,
                            file,
                            e.span,
                            "integer overflow".into(),
                            "the result does not fit in 64 bits",
                        );
                    }
                },
                V::Float(f) => V::Float(-f),
                V::Duration(_) | V::Size(_) => {
                    return self.fail(
                        Code::E0310,
                        file,
                        e.span,
                        "durations and sizes cannot be negative".into(),
                        "use a positive value",
                    );
                }
                _ => return None,
            },
            ExprKind::If(c, a, b) => match self.eval(c, env, file, dir)? {
                V::Bool(true) => self.eval(a, env, file, dir)?,
                V::Bool(false) => self.eval(b, env, file, dir)?,
                _ => return None,
            },
            ExprKind::Binary(op, a, b) => {
                let (x, y) = (self.eval(a, env, file, dir)?, self.eval(b, env, file, dir)?);
                return self.binary(*op, x, y, e.span, file);
            }
            ExprKind::Call(name, args) => {
                let vals: Vec<Value> = args
                    .iter()
                    .filter(|a| a.name.is_none())
                    .map(|a| self.eval(&a.value, env, file, dir))
                    .collect::<Option<_>>()?;
                let num = |v: &Value| match v {
                    V::Int(i) => Some(*i as f64),
                    V::Float(f) => Some(*f),
                    _ => None,
                };
                let all_int = vals.iter().all(|v| matches!(v, V::Int(_)));
                let f: Vec<f64> = vals.iter().filter_map(num).collect();
                let r = match (name.name.as_str(), f.as_slice()) {
                    ("log", [x]) => V::Float(x.ln()),
                    ("log1p", [x]) => V::Float(x.ln_1p()),
                    ("exp", [x]) => V::Float(x.exp()),
                    ("sqrt", [x]) => V::Float(x.sqrt()),
                    ("pow", [x, y]) => V::Float(x.powf(*y)),
                    ("round", [x]) => V::Float(x.round()),
                    ("floor", [x]) => V::Float(x.floor()),
                    ("ceil", [x]) => V::Float(x.ceil()),
                    ("abs", [x]) => {
                        if all_int {
                            V::Int((*x as i64).abs())
                        } else {
                            V::Float(x.abs())
                        }
                    }
                    ("min", [x, y]) => {
                        if all_int {
                            V::Int(x.min(*y) as i64)
                        } else {
                            V::Float(x.min(*y))
                        }
                    }
                    ("max", [x, y]) => {
                        if all_int {
                            V::Int(x.max(*y) as i64)
                        } else {
                            V::Float(x.max(*y))
                        }
                    }
                    ("clip", [x, lo, hi]) => {
                        if all_int {
                            V::Int(x.max(*lo).min(*hi) as i64)
                        } else {
                            V::Float(x.max(*lo).min(*hi))
                        }
                    }
                    ("float", [x]) => V::Float(*x),
                    ("int", [x]) => V::Int(*x as i64),
                    ("float", []) => match vals.first() {
                        Some(V::Bool(b)) => V::Float(if *b { 1.0 } else { 0.0 }),
                        Some(V::String(s)) => match s.trim().parse() {
                            Ok(f) => V::Float(f),
                            Err(_) => {
                                return self.fail(
                                    Code::E0804,
                                    file,
                                    e.span,
                                    format!("`{s}` is not a number"),
                                    "convert only strings that hold numbers",
                                );
                            }
                        },
                        _ => return None,
                    },
                    ("int", []) => match vals.first() {
                        Some(V::Bool(b)) => V::Int(i64::from(*b)),
                        Some(V::String(s)) => match s.trim().parse() {
                            Ok(i) => V::Int(i),
                            Err(_) => {
                                return self.fail(
                                    Code::E0804,
                                    file,
                                    e.span,
                                    format!("`{s}` is not an integer"),
                                    "convert only strings that hold integers",
                                );
                            }
                        },
                        _ => return None,
                    },
                    ("string", _) => V::String(match vals.first()? {
                        V::String(s) | V::Path(s) => s.clone(),
                        V::Int(i) => i.to_string(),
                        V::Float(f) => f.to_string(),
                        V::Bool(b) => b.to_string(),
                        other => serde_json::to_string(other).unwrap_or_default(),
                    }),
                    ("bucketize", [x]) => match vals.get(1) {
                        Some(V::List(bs)) => V::Int(bs.iter().filter_map(num).filter(|b| *x >= *b).count() as i64),
                        _ => return None,
                    },
                    ("fill_null", _) | ("is_null", _) => match name.name.as_str() {
                        "is_null" => V::Bool(false),
                        _ => vals.first()?.clone(),
                    },
                    (other, _) => {
                        return self.fail(
                            Code::E0811,
                            file,
                            e.span,
                            format!("`{other}` works on columns and cannot be computed from constants"),
                            "use it in a `features` block",
                        );
                    }
                };
                if let V::Float(f) = r
                    && !f.is_finite()
                {
                    return self.fail(
                        Code::E0310,
                        file,
                        e.span,
                        format!("`{}` gives {f} here", name.name),
                        "the result must be a finite number",
                    );
                }
                r
            }
            ExprKind::Error => return None,
        })
    }

    fn binary(&mut self, op: BinOp, x: Value, y: Value, span: Span, file: FileId) -> Option<Value> {
        use Value as V;
        let ovf = |s: &mut Self| {
            s.fail(
                Code::E0310,
                file,
                span,
                "integer overflow in a constant".into(),
                "the result does not fit in 64 bits",
            )
        };
        let cmp = |o: std::cmp::Ordering| match op {
            BinOp::Lt => o.is_lt(),
            BinOp::Le => o.is_le(),
            BinOp::Gt => o.is_gt(),
            BinOp::Ge => o.is_ge(),
            BinOp::Eq => o.is_eq(),
            _ => o.is_ne(),
        };
        let fl = |v: &Value| match v {
            V::Int(i) => Some(*i as f64),
            V::Float(f) => Some(*f),
            _ => None,
        };
        Some(match (op, &x, &y) {
            (BinOp::And, V::Bool(a), V::Bool(b)) => V::Bool(*a && *b),
            (BinOp::Or, V::Bool(a), V::Bool(b)) => V::Bool(*a || *b),
            (BinOp::Coalesce, a, _) => a.clone(),
            (BinOp::Eq, a, b) if fl(a).is_none() || fl(b).is_none() => V::Bool(a == b),
            (BinOp::Ne, a, b) if fl(a).is_none() || fl(b).is_none() => V::Bool(a != b),
            (BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge, a, b) => {
                let o = match (a, b) {
                    (V::String(p), V::String(q)) => p.cmp(q),
                    (V::Duration(p), V::Duration(q)) | (V::Size(p), V::Size(q)) => p.cmp(q),
                    _ => fl(a)?.partial_cmp(&fl(b)?)?,
                };
                V::Bool(cmp(o))
            }
            (BinOp::Add, V::String(a), V::String(b)) => V::String(format!("{a}{b}")),
            (BinOp::Div | BinOp::Rem, _, V::Int(0)) => {
                return self.fail(Code::E0809, file, span, "division by zero".into(), "the divisor is zero here");
            }
            (BinOp::Div | BinOp::Rem, _, V::Float(f)) if *f == 0.0 => {
                return self.fail(Code::E0809, file, span, "division by zero".into(), "the divisor is zero here");
            }
            (_, V::Int(a), V::Int(b)) => match op {
                BinOp::Add => match a.checked_add(*b) {
                    Some(v) => V::Int(v),
                    None => return ovf(self),
                },
                BinOp::Sub => match a.checked_sub(*b) {
                    Some(v) => V::Int(v),
                    None => return ovf(self),
                },
                BinOp::Mul => match a.checked_mul(*b) {
                    Some(v) => V::Int(v),
                    None => return ovf(self),
                },
                BinOp::Div => V::Float(*a as f64 / *b as f64),
                BinOp::Rem => V::Int(a.checked_rem(*b)?),
                _ => return None,
            },
            (_, V::Duration(a), V::Duration(b)) | (_, V::Size(a), V::Size(b)) => {
                let r = match op {
                    BinOp::Add => a.checked_add(*b),
                    BinOp::Sub => a.checked_sub(*b),
                    _ => None,
                };
                let Some(r) = r else {
                    return self.fail(
                        Code::E0310,
                        file,
                        span,
                        "the result is negative or too large".into(),
                        "durations and sizes are whole, non-negative amounts",
                    );
                };
                if matches!(x, V::Duration(_)) { V::Duration(r) } else { V::Size(r) }
            }
            (_, V::Duration(a) | V::Size(a), V::Int(n)) | (_, V::Int(n), V::Duration(a) | V::Size(a)) => {
                let r = match op {
                    BinOp::Mul => u64::try_from(*n).ok().and_then(|n| a.checked_mul(n)),
                    BinOp::Div => u64::try_from(*n).ok().filter(|n| *n > 0).map(|n| a / n),
                    _ => None,
                };
                let Some(r) = r else {
                    return self.fail(
                        Code::E0310,
                        file,
                        span,
                        "the result is negative or out of range".into(),
                        "multiply or divide by a positive integer",
                    );
                };
                if matches!(x, V::Duration(_)) || matches!(y, V::Duration(_)) { V::Duration(r) } else { V::Size(r) }
            }
            (_, a, b) => {
                let (p, q) = (fl(a)?, fl(b)?);
                let r = match op {
                    BinOp::Add => p + q,
                    BinOp::Sub => p - q,
                    BinOp::Mul => p * q,
                    BinOp::Div => p / q,
                    BinOp::Rem => p % q,
                    _ => return None,
                };
                if !r.is_finite() {
                    return self.fail(
                        Code::E0310,
                        file,
                        span,
                        "the result is not a finite number".into(),
                        "keep constants within the range of a 64-bit float",
                    );
                }
                V::Float(r)
            }
        })
    }
}

fn path_of(p: &str, dir: &str) -> String {
    if p.starts_with('/') { p.to_string() } else { join(dir, p) }
}

fn collect_artifacts(e: &IrExpr, out: &mut Vec<Source>) {
    match e {
        IrExpr::Artifact(s) => out.extend(s.iter().cloned()),
        IrExpr::Field(b, _) | IrExpr::Unary { arg: b, .. } => collect_artifacts(b, out),
        IrExpr::Binary { lhs, rhs, .. } => {
            collect_artifacts(lhs, out);
            collect_artifacts(rhs, out);
        }
        IrExpr::If { cond, then, otherwise } => {
            collect_artifacts(cond, out);
            collect_artifacts(then, out);
            collect_artifacts(otherwise, out);
        }
        IrExpr::Call { args, named, .. } => {
            args.iter().for_each(|a| collect_artifacts(a, out));
            named.values().for_each(|a| collect_artifacts(a, out));
        }
        _ => {}
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Feature,
    Free,
    When,
}
