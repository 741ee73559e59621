//! The checker: loads a pipeline and its imports, resolves names, checks types, and lowers the
//! result to the IR.
//!
//! Sits between [`crate::syntax`] (one file at a time) and [`crate::ir`] (the runtime's input).
//! [`check`] never stops at the first problem: every file is parsed with recovery, every
//! pipeline body is checked, and anything that depends on an item that failed is quietly
//! skipped so one mistake gives one diagnostic. Lowering runs only when no error was found.

mod body;
mod expr;
pub(crate) mod search;
pub mod types;

use crate::codes::Code;
use crate::diag::{Diagnostic, FileId, SourceMap, suggest};
use crate::ir::Ir;
use crate::source::{Loader, resolve_import, stem};
use crate::syntax::ast::*;
use crate::syntax::parse;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
pub use types::Ty;

/// Options of one check.
#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    /// `--set NAME=VALUE` overrides, as written.
    pub overrides: Vec<String>,
    /// Path from the root file's folder to the folder `--set` paths are relative to.
    pub cli_base: String,
}

/// A loaded file.
#[derive(Clone, Debug)]
pub struct Module {
    /// Its key (see [`crate::source`]).
    pub key: String,
    /// Its id in the source map.
    pub file: FileId,
    /// Its syntax tree.
    pub ast: SourceFile,
    /// Namespaces it imports: alias → (module index, span of the import).
    pub imports: BTreeMap<String, (usize, Span)>,
    /// Components, pipelines and artifact types it declares.
    pub decls: HashMap<String, (Decl, Span)>,
}

/// A declaration visible through a namespace.
#[derive(Clone, Debug, PartialEq)]
pub enum Decl {
    /// Index into [`Checked::components`].
    Component(usize),
    /// Index into [`Checked::pipelines`].
    Pipeline(usize),
    /// Canonical artifact type name.
    Artifact(String),
}

/// An input or output port.
#[derive(Clone, Debug)]
pub struct Port {
    /// Name.
    pub name: String,
    /// Span of the name.
    pub span: Span,
    /// Artifact type, possibly optional.
    pub ty: Ty,
    /// Doc comment.
    pub docs: String,
    /// For pipeline outputs: the bound reference.
    pub value: Option<Expr>,
}

/// A parameter.
#[derive(Clone, Debug)]
pub struct ParamSig {
    /// Name.
    pub name: String,
    /// Span of the name.
    pub span: Span,
    /// Value type.
    pub ty: Ty,
    /// Default value.
    pub default: Option<Expr>,
    /// Doc comment.
    pub docs: String,
}

impl ParamSig {
    /// Whether a caller must give it.
    pub fn required(&self) -> bool {
        self.default.is_none() && !self.ty.is_optional() && self.ty != Ty::Error
    }
}

/// A component declaration, resolved.
#[derive(Clone, Debug)]
pub struct Component {
    /// Name.
    pub name: String,
    /// Declaring module.
    pub module: usize,
    /// Span of the name.
    pub span: Span,
    /// Doc comment.
    pub docs: String,
    /// The WebAssembly file, as a key-relative path.
    pub wasm: Option<String>,
    /// Expected digest.
    pub digest: Option<String>,
    /// Inputs.
    pub inputs: Arc<[Port]>,
    /// Parameters.
    pub params: Arc<[ParamSig]>,
    /// Outputs.
    pub outputs: Arc<[Port]>,
    /// The free names its `expr` parameters may use (attribute `names`), when it declares them.
    pub names: Option<Arc<[String]>>,
}

/// A pipeline: a sub-pipeline declaration, or the root file's top-level steps.
#[derive(Clone, Debug)]
pub struct Pipeline {
    /// Name (`main` for the root).
    pub name: String,
    /// Declaring module.
    pub module: usize,
    /// Span of the name.
    pub span: Span,
    /// Doc comment.
    pub docs: String,
    /// Inputs.
    pub inputs: Arc<[Port]>,
    /// Parameters.
    pub params: Arc<[ParamSig]>,
    /// Outputs, with their values.
    pub outputs: Arc<[Port]>,
    /// Steps.
    pub steps: Arc<[StepDecl]>,
    /// Whether this is the root file's implicit pipeline.
    pub root: bool,
}

/// The result of checking a pipeline.
#[derive(Clone, Debug, Default)]
pub struct Checked {
    /// All files read.
    pub sources: SourceMap,
    /// All modules; index 0 is the root.
    pub modules: Vec<Module>,
    /// All components.
    pub components: Vec<Component>,
    /// All pipelines; index 0 is the root's implicit pipeline (when the root parsed).
    pub pipelines: Vec<Pipeline>,
    /// Every diagnostic, errors and warnings, in a stable order.
    pub diagnostics: Vec<Diagnostic>,
    /// The lowered pipeline, when there were no errors.
    pub ir: Option<Ir>,
}

impl Checked {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.is_error())
    }
}

/// Check the pipeline whose root file has key `root`.
pub fn check(root: &str, loader: &dyn Loader, opts: &CheckOptions) -> Checked {
    let mut cx = Cx::default();
    cx.load(root, loader);
    if cx.out.modules.is_empty() {
        return cx.out;
    }
    cx.import_cycles();
    cx.collect_decls();
    cx.resolve_signatures();
    let overrides = cx.parse_overrides(opts);
    cx.overrides = opts.overrides.clone();
    cx.cli_base = opts.cli_base.clone();
    cx.load_pinned_schemas(loader);
    cx.check_pipelines();
    cx.unused_imports();
    if !cx.out.has_errors() {
        match crate::ir::lower(&cx.out, &overrides, opts) {
            Ok(ir) => cx.out.ir = Some(ir),
            Err(diags) => cx.out.diagnostics.extend(diags),
        }
    }
    sort_diagnostics(&mut cx.out.diagnostics);
    cx.out
}

fn sort_diagnostics(diags: &mut Vec<Diagnostic>) {
    diags.sort_by_key(|d| {
        let p = d.primary();
        (p.map(|l| l.file), p.map(|l| l.span.start), d.code)
    });
    diags.dedup();
}

/// Checker state.
#[derive(Default)]
pub(crate) struct Cx {
    pub(crate) out: Checked,
    used_imports: HashSet<(usize, String)>,
    /// Pipeline outputs used by some caller: (pipeline, output).
    pub(crate) used_outputs: HashSet<(usize, String)>,
    /// Pipelines called at least once.
    pub(crate) called: HashSet<usize>,
    /// Column types of the pinned schema files, by key (read before the bodies are checked).
    pub(crate) schemas: HashMap<String, Result<Arc<HashMap<String, Ty>>, String>>,
    /// The pinned schema of the feature block being checked: its key and column types.
    pub(crate) feature_columns: Option<(String, Arc<HashMap<String, Ty>>)>,
    /// `--set` overrides as written, for paths of pinned schemas.
    pub(crate) overrides: Vec<String>,
    /// Where `--set` paths are relative to.
    pub(crate) cli_base: String,
}

impl Cx {
    /// Reads the schema files that steps with a feature block pin (see [`Cx::pinned_schema`]),
    /// so that the bodies are checked against their column types.
    fn load_pinned_schemas(&mut self, loader: &dyn Loader) {
        let n0 = self.out.diagnostics.len();
        let mut keys = Vec::new();
        for p in 0..self.out.pipelines.len() {
            let pl = self.out.pipelines[p].clone();
            for s in pl.steps.iter() {
                if let Some(k) = self.pinned_schema(&pl, s) {
                    keys.push(k);
                }
            }
        }
        // Callees that do not resolve are reported when the bodies are checked.
        self.out.diagnostics.truncate(n0);
        for k in keys {
            if self.schemas.contains_key(&k) {
                continue;
            }
            if let Some(r) = loader.schema_columns(&k) {
                let r = r.map(|cols| {
                    Arc::new(
                        cols.into_iter()
                            .map(|(n, t)| {
                                let ty = match t {
                                    crate::source::ColumnType::Int => Ty::Int,
                                    crate::source::ColumnType::Float => Ty::Float,
                                    crate::source::ColumnType::Bool => Ty::Bool,
                                    crate::source::ColumnType::String => Ty::Str,
                                };
                                (n, ty)
                            })
                            .collect(),
                    )
                });
                self.schemas.insert(k, r);
            }
        }
    }

    /// The key of the schema file a step's feature block is typed against, when the schema is
    /// pinned: the step has a `features` parameter, and its Schema input comes (first, before
    /// any `??`) from a step of the same pipeline whose Schema output is made from a file given
    /// as a `path` argument: a string, or a parameter with a string default (or `--set`).
    pub(crate) fn pinned_schema(&mut self, pl: &Pipeline, s: &StepDecl) -> Option<String> {
        let schema = Ty::Artifact("Schema".into());
        let callee = self.resolve_callee(pl.module, &s.callee)?;
        let (inputs, params, _) = body::signature(self, &callee);
        if !params.iter().any(|p| *p.ty.unopt() == Ty::Features) {
            return None;
        }
        for e in &s.body.entries {
            let StepEntry::Arg(a) = e else { continue };
            if !inputs.iter().any(|i| i.name == a.name.name && *i.ty.unopt() == schema) {
                continue;
            }
            let mut v = &a.value;
            loop {
                match &v.kind {
                    ExprKind::Binary(BinOp::Coalesce, l, _) => v = l,
                    ExprKind::Paren(x) => v = x,
                    _ => break,
                }
            }
            let ExprKind::Field(base, out) = &v.kind else { continue };
            let ExprKind::Name(step) = &base.kind else { continue };
            let Some(x) = pl.steps.iter().find(|t| t.name.name == step.name) else { continue };
            let Some(xc) = self.resolve_callee(pl.module, &x.callee) else { continue };
            let (_, xparams, xouts) = body::signature(self, &xc);
            if !xouts.iter().any(|o| o.name == out.name && *o.ty.unopt() == schema) {
                continue;
            }
            for e in &x.body.entries {
                let StepEntry::Arg(xa) = e else { continue };
                if !xparams.iter().any(|p| p.name == xa.name.name && *p.ty.unopt() == Ty::Path) {
                    continue;
                }
                let dir = crate::source::dir_of(&self.out.modules[pl.module].key).to_string();
                match &xa.value.kind {
                    ExprKind::Str(path) => return Some(crate::source::join(&dir, path)),
                    ExprKind::Name(n) => {
                        let set = pl.root.then(|| {
                            self.overrides.iter().find_map(|o| {
                                let (k, v) = o.split_once('=')?;
                                (k.trim() == n.name).then(|| v.trim().trim_matches('"').to_string())
                            })
                        });
                        if let Some(Some(v)) = set {
                            return Some(crate::source::join(&self.cli_base, &v));
                        }
                        let def = pl.params.iter().find(|p| p.name == n.name)?.default.as_ref()?;
                        if let ExprKind::Str(path) = &def.kind {
                            return Some(crate::source::join(&dir, path));
                        }
                    }
                    _ => {}
                }
            }
        }
        None
    }

    pub(crate) fn err(&mut self, d: Diagnostic) {
        self.out.diagnostics.push(d);
    }

    pub(crate) fn file(&self, module: usize) -> FileId {
        self.out.modules[module].file
    }

    fn load(&mut self, root: &str, loader: &dyn Loader) {
        let text = match loader.read(root) {
            Ok(t) => t,
            Err(e) => {
                let f = self.out.sources.add(loader.display_name(root), "");
                self.err(
                    Diagnostic::new(
                        Code::E0101,
                        f,
                        Span::default(),
                        format!("cannot read `{}`: {e}", loader.display_name(root)),
                    )
                    .help("check the path of the pipeline file"),
                );
                return;
            }
        };
        let mut index: HashMap<String, usize> = HashMap::new();
        self.add_module(root, text, loader, &mut index);
        let mut next = 0;
        while next < self.out.modules.len() {
            let m = next;
            next += 1;
            let key = self.out.modules[m].key.clone();
            let file = self.out.modules[m].file;
            let imports: Vec<Item> = self.out.modules[m]
                .ast
                .items
                .iter()
                .filter(|i| matches!(i.kind, ItemKind::Import(_)))
                .cloned()
                .collect();
            for item in imports {
                let ItemKind::Import(imp) = &item.kind else { continue };
                let target = resolve_import(&key, &imp.path);
                let alias = match &imp.alias {
                    Some(a) => a.clone(),
                    None => {
                        let s = stem(&target);
                        let valid = s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                        if !valid {
                            self.err(
                                Diagnostic::new(
                                    Code::E0107,
                                    file,
                                    imp.path_span,
                                    format!("`{s}` cannot be used as a namespace name"),
                                )
                                .label("file name is not a valid name")
                                .help("name the namespace with `as`, e.g. `as lib`")
                                .fix(
                                    "add `as lib`",
                                    file,
                                    Span::point(imp.path_span.end as usize),
                                    " as lib",
                                ),
                            );
                            continue;
                        }
                        Ident { name: s.to_string(), span: imp.path_span }
                    }
                };
                if let Some((_, first)) = self.out.modules[m].imports.get(&alias.name) {
                    let first = *first;
                    self.err(
                        Diagnostic::new(
                            Code::E0103,
                            file,
                            alias.span,
                            format!("the namespace `{}` is imported twice", alias.name),
                        )
                        .label("second import")
                        .secondary(file, first, "first imported here")
                        .help("give one of the imports a different name with `as`"),
                    );
                    continue;
                }
                let idx = match index.get(&target) {
                    Some(&i) => i,
                    None => match loader.read(&target) {
                        Ok(t) => self.add_module(&target, t, loader, &mut index),
                        Err(e) => {
                            let mut d = Diagnostic::new(
                                Code::E0101,
                                file,
                                imp.path_span,
                                format!("cannot import `{}`: {e}", imp.path),
                            )
                            .label(format!("resolved to `{}`", loader.display_name(&target)));
                            d = if !imp.path.ends_with(".mlp") {
                                d.help(format!("import paths name the file itself: did you mean `{}.mlp`?", imp.path))
                            } else {
                                d.help("paths are relative to the importing file; `std/...` names the standard library")
                            };
                            self.err(d);
                            continue;
                        }
                    },
                };
                self.out.modules[m].imports.insert(alias.name.clone(), (idx, alias.span));
            }
        }
    }

    fn add_module(
        &mut self,
        key: &str,
        text: String,
        loader: &dyn Loader,
        index: &mut HashMap<String, usize>,
    ) -> usize {
        let file = self.out.sources.add(loader.display_name(key), text);
        let parsed = parse(&self.out.sources.get(file).text, file);
        self.out.diagnostics.extend(parsed.diagnostics);
        let idx = self.out.modules.len();
        self.out.modules.push(Module {
            key: key.to_string(),
            file,
            ast: parsed.file,
            imports: BTreeMap::new(),
            decls: HashMap::new(),
        });
        index.insert(key.to_string(), idx);
        idx
    }

    fn import_cycles(&mut self) {
        // Depth-first search; a back edge closes a cycle, reported at the import that closes it.
        let n = self.out.modules.len();
        let mut state = vec![0u8; n];
        let mut stack: Vec<usize> = Vec::new();
        let mut reported: HashSet<Vec<usize>> = HashSet::new();
        fn dfs(cx: &mut Cx, m: usize, state: &mut Vec<u8>, stack: &mut Vec<usize>, reported: &mut HashSet<Vec<usize>>) {
            state[m] = 1;
            stack.push(m);
            let edges: Vec<(usize, Span)> = cx.out.modules[m].imports.values().copied().collect();
            for (t, span) in edges {
                if state[t] == 1 {
                    let pos = stack.iter().position(|&x| x == t).unwrap_or(0);
                    let mut cyc: Vec<usize> = stack[pos..].to_vec();
                    let mut key = cyc.clone();
                    key.sort();
                    if reported.insert(key) {
                        cyc.push(t);
                        let names: Vec<String> =
                            cyc.iter().map(|&i| cx.out.sources.get(cx.out.modules[i].file).name.clone()).collect();
                        let file = cx.out.modules[m].file;
                        cx.err(
                            Diagnostic::new(Code::E0102, file, span, format!("import cycle: {}", names.join(" → ")))
                                .label("this import closes the cycle")
                                .help("move what both files need into a third file that both import"),
                        );
                    }
                } else if state[t] == 0 {
                    dfs(cx, t, state, stack, reported);
                }
            }
            stack.pop();
            state[m] = 2;
        }
        for m in 0..n {
            if state[m] == 0 {
                dfs(self, m, &mut state, &mut stack, &mut reported);
            }
        }
    }

    fn collect_decls(&mut self) {
        for m in 0..self.out.modules.len() {
            let file = self.file(m);
            // Names and docs are all this pass reads: skip copying bodies.
            let items: Vec<Item> = self.out.modules[m].ast.items.iter().map(header_only).collect();
            let mut values: HashMap<String, Span> = HashMap::new();
            for item in &items {
                let (name, decl) = match &item.kind {
                    ItemKind::Component(c) => {
                        let id = self.out.components.len();
                        self.out.components.push(Component {
                            name: c.name.name.clone(),
                            module: m,
                            span: c.name.span,
                            docs: item.docs.text(),
                            wasm: None,
                            digest: None,
                            inputs: Arc::from([]),
                            params: Arc::from([]),
                            outputs: Arc::from([]),
                            names: None,
                        });
                        (&c.name, Decl::Component(id))
                    }
                    ItemKind::Pipeline(p) => {
                        let id = self.out.pipelines.len() + 1;
                        self.out.pipelines.push(Pipeline {
                            name: p.name.name.clone(),
                            module: m,
                            span: p.name.span,
                            docs: item.docs.text(),
                            inputs: Arc::from([]),
                            params: Arc::from([]),
                            outputs: Arc::from([]),
                            steps: Arc::from([]),
                            root: false,
                        });
                        (&p.name, Decl::Pipeline(id))
                    }
                    ItemKind::Artifact(a) => {
                        let canon = if crate::check::types::BUILTIN_ARTIFACTS.contains(&a.name.as_str()) {
                            a.name.clone()
                        } else {
                            format!("{}#{}", self.out.modules[m].key, a.name)
                        };
                        (a, Decl::Artifact(canon))
                    }
                    ItemKind::Param(ParamDecl { name, .. }) | ItemKind::Step(StepDecl { name, .. }) => {
                        if m != 0 {
                            let what = if matches!(item.kind, ItemKind::Param(_)) { "parameter" } else { "step" };
                            self.err(
                                Diagnostic::new(Code::E0106, file, name.span, format!("an imported file cannot declare a {what}"))
                                    .label(format!("{what} in an imported file"))
                                    .help("imported files hold imports, artifact types, components and pipelines; wrap the steps in a `pipeline` and call it"),
                            );
                            continue;
                        }
                        if let Some(first) = values.get(&name.name) {
                            let first = *first;
                            self.dup(file, name, first);
                        } else {
                            values.insert(name.name.clone(), name.span);
                        }
                        continue;
                    }
                    _ => continue,
                };
                if let Some((_, first)) = self.out.modules[m].decls.get(&name.name) {
                    let first = *first;
                    self.dup(file, name, first);
                    continue;
                }
                self.out.modules[m].decls.insert(name.name.clone(), (decl, name.span));
            }
        }
        // Pipelines are numbered from 1; the root's implicit pipeline is 0.
        self.out.pipelines.insert(
            0,
            Pipeline {
                name: "main".into(),
                module: 0,
                span: Span::default(),
                docs: String::new(),
                inputs: Arc::from([]),
                params: Arc::from([]),
                outputs: Arc::from([]),
                steps: Arc::from([]),
                root: true,
            },
        );
    }

    pub(crate) fn dup(&mut self, file: FileId, name: &Ident, first: Span) {
        self.err(
            Diagnostic::new(Code::E0201, file, name.span, format!("`{}` is defined twice", name.name))
                .label("second definition")
                .secondary(file, first, "first defined here")
                .help("rename one of them"),
        );
    }

    /// Resolve an artifact or value type expression.
    pub(crate) fn resolve_type(&mut self, m: usize, t: &TypeExpr) -> Ty {
        let file = self.file(m);
        match t {
            TypeExpr::Generic { name, arg, optional, .. } => {
                let inner = self.resolve_type(m, arg);
                let ty = match name.name.as_str() {
                    "list" => Ty::List(Box::new(inner)),
                    "map" => Ty::Map(Box::new(inner)),
                    other => {
                        let mut d =
                            Diagnostic::new(Code::E0204, file, name.span, format!("unknown type `{other}<...>`"))
                                .label("not a generic type")
                                .help("the generic types are `list<T>` and `map<T>`");
                        if let Some(s) = suggest(other, ["list", "map"]) {
                            d = d.fix(format!("replace with `{s}`"), file, name.span, s);
                        }
                        self.err(d);
                        return Ty::Error;
                    }
                };
                if *optional { Ty::Optional(Box::new(ty)) } else { ty }
            }
            TypeExpr::Named { path, optional, .. } => {
                let ty = self.resolve_named_type(m, path);
                if *optional && ty != Ty::Error { Ty::Optional(Box::new(ty)) } else { ty }
            }
        }
    }

    fn resolve_named_type(&mut self, m: usize, path: &Path) -> Ty {
        let file = self.file(m);
        if path.ns.is_none() {
            let t = match path.name.name.as_str() {
                "int" => Some(Ty::Int),
                "float" => Some(Ty::Float),
                "bool" => Some(Ty::Bool),
                "string" => Some(Ty::Str),
                "path" => Some(Ty::Path),
                "duration" => Some(Ty::Duration),
                "size" => Some(Ty::Size),
                "features" => Some(Ty::Features),
                "expr" => Some(Ty::Expr),
                "space" => Some(Ty::Space),
                "component" => Some(Ty::Component),
                n if types::BUILTIN_ARTIFACTS.contains(&n) => Some(Ty::Artifact(n.to_string())),
                _ => None,
            };
            if let Some(t) = t {
                return t;
            }
        }
        let (target, name) = match self.lookup_ns(m, path) {
            Some(x) => x,
            None => return Ty::Error,
        };
        if let Some((Decl::Artifact(canon), _)) = self.out.modules[target].decls.get(&name.name) {
            return Ty::Artifact(canon.clone());
        }
        let mut known: Vec<String> = types::SCALAR_TYPES.iter().map(|s| s.to_string()).collect();
        known.extend(types::BUILTIN_ARTIFACTS.iter().map(|s| s.to_string()));
        known.extend(
            self.out.modules[target]
                .decls
                .iter()
                .filter(|(_, (d, _))| matches!(d, Decl::Artifact(_)))
                .map(|(k, _)| k.clone()),
        );
        let mut d = Diagnostic::new(Code::E0204, file, path.span, format!("unknown type `{}`", path.display()))
            .label("not a type");
        if let Some(s) = suggest(&name.name, known.iter().map(String::as_str)) {
            d = d.help(format!("did you mean `{s}`?")).fix(format!("replace with `{s}`"), file, name.span, s);
        } else {
            d = d.help("declare new artifact types with `artifact Name`; value types are int, float, bool, string, path, duration, size, list<T>, map<T>, features, expr");
        }
        self.err(d);
        Ty::Error
    }

    /// Resolve the namespace part of a path: the module to look in and the name to look up.
    /// Reports unknown namespaces; marks imports used.
    pub(crate) fn lookup_ns(&mut self, m: usize, path: &Path) -> Option<(usize, Ident)> {
        let Some(ns) = &path.ns else { return Some((m, path.name.clone())) };
        match self.out.modules[m].imports.get(&ns.name) {
            Some(&(t, _)) => {
                self.used_imports.insert((m, ns.name.clone()));
                Some((t, path.name.clone()))
            }
            None => {
                let file = self.file(m);
                let names: Vec<String> = self.out.modules[m].imports.keys().cloned().collect();
                let mut d = Diagnostic::new(Code::E0104, file, ns.span, format!("unknown namespace `{}`", ns.name))
                    .label("no import has this name");
                if let Some(s) = suggest(&ns.name, names.iter().map(String::as_str)) {
                    d = d.help(format!("did you mean `{s}`?")).fix(format!("replace with `{s}`"), file, ns.span, s);
                } else {
                    d = d.help(format!("import the file first: `import \"path/to/file.mlp\" as {}`", ns.name));
                }
                // An import that failed to load was already reported.
                let failed = self.out.modules[m].ast.items.iter().any(|i| match &i.kind {
                    ItemKind::Import(imp) => imp.alias.as_ref().is_some_and(|a| a.name == ns.name),
                    _ => false,
                });
                if !failed {
                    self.err(d);
                }
                None
            }
        }
    }

    fn resolve_signatures(&mut self) {
        // Components.
        for c in 0..self.out.components.len() {
            let m = self.out.components[c].module;
            let file = self.file(m);
            let name = self.out.components[c].name.clone();
            let Some(decl) = self.out.modules[m].ast.items.iter().find_map(|i| match &i.kind {
                ItemKind::Component(d) if d.name.span == self.out.components[c].span => Some(d.clone()),
                _ => None,
            }) else {
                continue;
            };
            let mut seen: HashMap<String, Span> = HashMap::new();
            let (mut inputs, mut params, mut outputs) = (Vec::new(), Vec::new(), Vec::new());
            let (mut wasm, mut digest) = (None, None);
            let mut names: Option<Vec<String>> = None;
            for member in &decl.body.members {
                match &member.kind {
                    ItemKind::Port(p) => {
                        if let Some(f) = seen.insert(p.name.name.clone(), p.name.span) {
                            self.dup(file, &p.name, f);
                            continue;
                        }
                        if let Some(v) = &p.value {
                            self.err(
                                Diagnostic::new(Code::E0506, file, v.span, "a component port cannot have a value")
                                    .label("remove this")
                                    .help("values of ports are given by the steps that call the component"),
                            );
                        }
                        let ty = self.port_type(m, &p.ty);
                        let port = Port {
                            name: p.name.name.clone(),
                            span: p.name.span,
                            ty,
                            docs: member.docs.text(),
                            value: None,
                        };
                        match p.dir {
                            PortDir::Input => inputs.push(port),
                            PortDir::Output => outputs.push(port),
                        }
                    }
                    ItemKind::Param(p) => {
                        if let Some(f) = seen.insert(p.name.name.clone(), p.name.span) {
                            self.dup(file, &p.name, f);
                            continue;
                        }
                        let ty = self.param_type(m, &p.ty);
                        params.push(ParamSig {
                            name: p.name.name.clone(),
                            span: p.name.span,
                            ty,
                            default: p.default.clone(),
                            docs: member.docs.text(),
                        });
                    }
                    ItemKind::Attr(a) => {
                        let text = match &a.value.kind {
                            ExprKind::Str(s) => Some(s.clone()),
                            _ => None,
                        };
                        match (a.name.name.as_str(), text) {
                            ("names", None) => {
                                let list = match &a.value.kind {
                                    ExprKind::List(xs) => xs
                                        .iter()
                                        .map(|x| match &x.kind {
                                            ExprKind::Str(s) => Some(s.clone()),
                                            _ => None,
                                        })
                                        .collect::<Option<Vec<String>>>(),
                                    _ => None,
                                };
                                match list {
                                    Some(l) => names = Some(l),
                                    None => self.err(
                                        Diagnostic::new(
                                            Code::E0304,
                                            file,
                                            a.value.span,
                                            "`names` must be a list of strings",
                                        )
                                        .label("expected `[\"auc\", \"accuracy\", ...]`")
                                        .help("list the names the component's `expr` parameters may use"),
                                    ),
                                }
                            }
                            ("wasm", Some(s)) => {
                                wasm = Some(crate::source::join(crate::source::dir_of(&self.out.modules[m].key), &s))
                            }
                            ("digest", Some(s)) => {
                                let ok = s.strip_prefix("blake3:").is_some_and(|h| {
                                    h.len() == 64 && h.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
                                });
                                if !ok {
                                    self.err(
                                        Diagnostic::new(Code::E0505, file, a.value.span, "invalid digest")
                                            .label("expected `blake3:` and 64 lowercase hex digits")
                                            .help("compute it with `b3sum FILE.wasm` and write `digest = \"blake3:<hash>\"`, or leave the digest out"),
                                    );
                                }
                                digest = Some(s);
                            }
                            ("wasm" | "digest", None) => {
                                self.err(
                                    Diagnostic::new(
                                        Code::E0304,
                                        file,
                                        a.value.span,
                                        format!("`{}` must be a string", a.name.name),
                                    )
                                    .label("expected a string literal"),
                                );
                            }
                            (other, _) => {
                                let mut d = Diagnostic::new(Code::E0502, file, a.name.span, format!("unknown component attribute `{other}`"))
                                    .label("not an attribute")
                                    .help("components have `wasm = \"file.wasm\"` and optionally `digest = \"blake3:...\"` and `names = [...]`; declare inputs, params and outputs with `input`, `param` and `output`");
                                if let Some(s) = suggest(other, ["wasm", "digest", "names"]) {
                                    d = d.fix(format!("replace with `{s}`"), file, a.name.span, s);
                                }
                                self.err(d);
                            }
                        }
                    }
                    _ => {}
                }
            }
            if wasm.is_none() && !decl.body.unclosed {
                self.err(
                    Diagnostic::new(
                        Code::E0501,
                        file,
                        decl.name.span,
                        format!("component `{name}` has no WebAssembly file"),
                    )
                    .label("missing `wasm = \"...\"`")
                    .help("add `wasm = \"components/NAME.wasm\"` (relative to this file) to the component body"),
                );
            }
            let comp = &mut self.out.components[c];
            comp.inputs = inputs.into();
            comp.params = params.into();
            comp.outputs = outputs.into();
            comp.wasm = wasm;
            comp.digest = digest;
            comp.names = names.map(Into::into);
        }
        // Pipelines (index 0 is the root).
        for p in 0..self.out.pipelines.len() {
            let m = self.out.pipelines[p].module;
            let file = self.file(m);
            let members: Vec<Item> = if self.out.pipelines[p].root {
                self.out.modules[m]
                    .ast
                    .items
                    .iter()
                    .filter(|i| matches!(i.kind, ItemKind::Param(_) | ItemKind::Step(_) | ItemKind::Port(_)))
                    .cloned()
                    .collect()
            } else {
                let span = self.out.pipelines[p].span;
                match self.out.modules[m].ast.items.iter().find_map(|i| match &i.kind {
                    ItemKind::Pipeline(d) if d.name.span == span => Some(d.body.members.clone()),
                    _ => None,
                }) {
                    Some(ms) => ms,
                    None => continue,
                }
            };
            let (mut inputs, mut params, mut outputs, mut steps) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for member in members {
                if matches!(member.kind, ItemKind::Step(_)) {
                    if let ItemKind::Step(s) = member.kind {
                        steps.push(s);
                    }
                    continue;
                }
                match &member.kind {
                    ItemKind::Port(port) => {
                        let ty = self.port_type(m, &port.ty);
                        match (port.dir, &port.value) {
                            (PortDir::Input, Some(v)) => self.err(
                                Diagnostic::new(Code::E0506, file, v.span, "a pipeline input cannot have a value")
                                    .label("remove this")
                                    .help("callers give inputs; use `param` for a value with a default"),
                            ),
                            (PortDir::Output, None) => self.err(
                                Diagnostic::new(
                                    Code::E0506,
                                    file,
                                    port.name.span,
                                    format!("pipeline output `{}` has no value", port.name.name),
                                )
                                .label("missing `= step.output`")
                                .help(format!(
                                    "bind it to a step's output: `output {}: {} = STEP.OUTPUT`",
                                    port.name.name,
                                    ty.display()
                                )),
                            ),
                            _ => {}
                        }
                        let pt = Port {
                            name: port.name.name.clone(),
                            span: port.name.span,
                            ty,
                            docs: member.docs.text(),
                            value: port.value.clone(),
                        };
                        match port.dir {
                            PortDir::Input => inputs.push(pt),
                            PortDir::Output => outputs.push(pt),
                        }
                    }
                    ItemKind::Param(pd) => {
                        let ty = self.param_type(m, &pd.ty);
                        params.push(ParamSig {
                            name: pd.name.name.clone(),
                            span: pd.name.span,
                            ty,
                            default: pd.default.clone(),
                            docs: member.docs.text(),
                        });
                    }
                    _ => {}
                }
            }
            let pl = &mut self.out.pipelines[p];
            pl.inputs = inputs.into();
            pl.params = params.into();
            pl.outputs = outputs.into();
            pl.steps = steps.into();
        }
    }

    fn port_type(&mut self, m: usize, t: &TypeExpr) -> Ty {
        let ty = self.resolve_type(m, t);
        if ty != Ty::Error && !ty.is_artifact() {
            let file = self.file(m);
            self.err(
                Diagnostic::new(Code::E0503, file, t.span(), format!("`{}` is a value type, not an artifact type", ty.display()))
                    .label("ports carry artifacts")
                    .help("declare values with `param NAME: TYPE`; ports take artifact types such as Examples, Model or a declared `artifact`"),
            );
            return Ty::Error;
        }
        ty
    }

    fn param_type(&mut self, m: usize, t: &TypeExpr) -> Ty {
        let ty = self.resolve_type(m, t);
        if ty.is_artifact() {
            let file = self.file(m);
            self.err(
                Diagnostic::new(Code::E0504, file, t.span(), format!("parameter of artifact type `{}`", ty.display()))
                    .label("parameters carry values")
                    .help("declare artifacts with `input NAME: Type`"),
            );
            return Ty::Error;
        }
        ty
    }

    fn unused_imports(&mut self) {
        for m in 0..self.out.modules.len() {
            let file = self.file(m);
            let imports: Vec<(String, Span)> =
                self.out.modules[m].imports.iter().map(|(k, (_, s))| (k.clone(), *s)).collect();
            for (alias, span) in imports {
                if !self.used_imports.contains(&(m, alias.clone())) {
                    let item_span = self.out.modules[m]
                        .ast
                        .items
                        .iter()
                        .find(|i| i.span.start <= span.start && span.end <= i.span.end)
                        .map(|i| i.span);
                    let mut d = Diagnostic::new(Code::W0001, file, span, format!("unused import `{alias}`"))
                        .label("nothing from this namespace is used")
                        .help("remove the import");
                    if let Some(is) = item_span {
                        d = d.fix("remove the import", file, is, "");
                    }
                    self.err(d);
                }
            }
        }
    }

    fn parse_overrides(&mut self, opts: &CheckOptions) -> BTreeMap<String, (Expr, FileId)> {
        let mut out = BTreeMap::new();
        if opts.overrides.is_empty() {
            return out;
        }
        let text = opts.overrides.iter().map(|o| format!("--set {o}")).collect::<Vec<_>>().join(" ");
        let file = self.out.sources.add("<command line>", text.clone());
        let mut offset = 0usize;
        // The root's parameters, as `resolve_signatures` typed them.
        let params = self.out.pipelines[0].params.clone();
        for o in &opts.overrides {
            let start = offset + "--set ".len();
            offset = start + o.len() + 1;
            let Some(eq) = o.find('=') else {
                self.err(
                    Diagnostic::new(
                        Code::E0404,
                        file,
                        Span::new(start, start + o.len()),
                        format!("`--set {o}` has no `=`"),
                    )
                    .label("expected NAME=VALUE")
                    .help("write `--set NAME=VALUE`, e.g. `--set epochs=20`"),
                );
                continue;
            };
            let (name, value) = (o[..eq].trim(), &o[eq + 1..]);
            let name_span = Span::new(start, start + eq);
            let vspan = Span::new(start + eq + 1, start + o.len());
            let Some(p) = params.iter().find(|p| p.name == name) else {
                let mut d =
                    Diagnostic::new(Code::E0402, file, name_span, format!("the pipeline has no parameter `{name}`"))
                        .label("unknown parameter");
                if let Some(s) = suggest(name, params.iter().map(|p| p.name.as_str())) {
                    d = d.help(format!("did you mean `{s}`?"));
                } else if params.is_empty() {
                    d = d.help("this pipeline declares no parameters");
                } else {
                    let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
                    d = d.help(format!("the parameters are: {}", names.join(", ")));
                }
                self.err(d);
                continue;
            };
            if out.contains_key(name) {
                self.err(
                    Diagnostic::new(Code::E0404, file, name_span, format!("`{name}` is set twice"))
                        .label("second --set")
                        .help("give each parameter once"),
                );
                continue;
            }
            let expr = if matches!(p.ty.unopt(), Ty::Str | Ty::Path) {
                let raw = value.trim();
                let unq = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')).unwrap_or(raw);
                Some(Expr { kind: ExprKind::Str(unq.to_string()), span: vspan })
            } else {
                let (e, diags) = crate::syntax::parse_expr(value, file);
                if e.is_none() || !diags.is_empty() {
                    self.err(
                        Diagnostic::new(
                            Code::E0403,
                            file,
                            vspan,
                            format!("`{value}` is not a valid {}", p.ty.display()),
                        )
                        .label(format!("expected a {} value", p.ty.display()))
                        .secondary(self.file(0), p.span, "parameter declared here")
                        .help(example_of(&p.ty)),
                    );
                    continue;
                }
                e.map(|mut e| {
                    shift(&mut e, vspan.start);
                    e
                })
            };
            let Some(expr) = expr else { continue };
            let ty = self.literal_type(&expr);
            if !ty.fits(&p.ty) || ty == Ty::Error {
                self.err(
                    Diagnostic::new(Code::E0403, file, vspan, format!("`{value}` is not a valid {}", p.ty.display()))
                        .label(format!("this is {}", article(&ty)))
                        .secondary(self.file(0), p.span, format!("`{}` is declared as {}", p.name, p.ty.display()))
                        .help(example_of(&p.ty)),
                );
                continue;
            }
            out.insert(name.to_string(), (expr, file));
        }
        out
    }

    /// The type of a literal-only expression (used for `--set`).
    fn literal_type(&mut self, e: &Expr) -> Ty {
        let scope = body::Scope::default();
        let mut ecx = expr::ExprCx::constant(&scope, 0);
        let n = self.out.diagnostics.len();
        let t = self.ty_expr(e, &mut ecx);
        if self.out.diagnostics.len() > n {
            self.out.diagnostics.truncate(n);
            return Ty::Error;
        }
        t
    }

    fn check_pipelines(&mut self) {
        self.pipeline_recursion();
        for c in 0..self.out.components.len() {
            let (m, params, name) = {
                let comp = &self.out.components[c];
                (comp.module, comp.params.clone(), comp.name.clone())
            };
            let scope = body::Scope::default();
            for p in params.iter() {
                if let Some(d) = &p.default {
                    self.check_value(
                        d,
                        &p.ty,
                        &scope,
                        m,
                        &format!("the default of `{}` in `{name}`", p.name),
                        Some(p.span),
                    );
                }
            }
        }
        for p in 0..self.out.pipelines.len() {
            self.check_body(p);
        }
        // Sub-pipeline outputs that no caller uses.
        for p in 1..self.out.pipelines.len() {
            if !self.called.contains(&p) {
                continue;
            }
            let file = self.file(self.out.pipelines[p].module);
            let outs: Vec<(String, Span)> =
                self.out.pipelines[p].outputs.iter().map(|o| (o.name.clone(), o.span)).collect();
            for (o, span) in outs {
                if !self.used_outputs.contains(&(p, o.clone())) {
                    let pname = self.out.pipelines[p].name.clone();
                    self.err(
                        Diagnostic::new(
                            Code::W0004,
                            file,
                            span,
                            format!("output `{o}` of pipeline `{pname}` is never used"),
                        )
                        .label("no step that calls this pipeline reads it")
                        .help("remove the output, or use it in a caller"),
                    );
                }
            }
        }
    }

    /// Callee of a step: `None` when it could not be resolved (already reported).
    pub(crate) fn resolve_callee(&mut self, m: usize, path: &Path) -> Option<Decl> {
        let file = self.file(m);
        let (target, name) = self.lookup_ns(m, path)?;
        match self.out.modules[target].decls.get(&name.name) {
            Some((d @ (Decl::Component(_) | Decl::Pipeline(_)), _)) => Some(d.clone()),
            Some((Decl::Artifact(_), _)) => {
                self.err(
                    Diagnostic::new(
                        Code::E0207,
                        file,
                        path.span,
                        format!("`{}` is an artifact type, not a component", path.display()),
                    )
                    .label("cannot be called")
                    .help("a step calls a component or a pipeline"),
                );
                None
            }
            None => {
                if path.ns.is_none() && m == 0 {
                    let is_value = self.out.modules[0].ast.items.iter().any(|i| match &i.kind {
                        ItemKind::Param(p) => p.name.name == name.name,
                        ItemKind::Step(s) => s.name.name == name.name,
                        _ => false,
                    });
                    if is_value {
                        self.err(
                            Diagnostic::new(
                                Code::E0207,
                                file,
                                path.span,
                                format!("`{}` is a parameter or step, not a component", name.name),
                            )
                            .label("cannot be called")
                            .help("a step calls a component or a pipeline"),
                        );
                        return None;
                    }
                }
                let candidates: Vec<String> = self.out.modules[target]
                    .decls
                    .iter()
                    .filter(|(_, (d, _))| !matches!(d, Decl::Artifact(_)))
                    .map(|(k, _)| k.clone())
                    .collect();
                let where_ = match &path.ns {
                    Some(ns) => format!(" in namespace `{}`", ns.name),
                    None => String::new(),
                };
                let code = if path.ns.is_some() { Code::E0105 } else { Code::E0203 };
                let mut d = Diagnostic::new(
                    code,
                    file,
                    name.span,
                    format!("no component or pipeline named `{}`{where_}", name.name),
                )
                .label("not found");
                if let Some(s) = suggest(&name.name, candidates.iter().map(String::as_str)) {
                    d = d.help(format!("did you mean `{s}`?")).fix(format!("replace with `{s}`"), file, name.span, s);
                } else if path.ns.is_none() && !self.out.modules[m].imports.is_empty() {
                    let found: Vec<String> = self.out.modules[m]
                        .imports
                        .iter()
                        .filter(|(_, (t, _))| self.out.modules[*t].decls.contains_key(&name.name))
                        .map(|(a, _)| format!("{a}.{}", name.name))
                        .collect();
                    d = match found.first() {
                        Some(f) => d.help(format!("it is declared in an imported file: write `{f}`")).fix(
                            format!("replace with `{f}`"),
                            file,
                            name.span,
                            f.clone(),
                        ),
                        None => {
                            d.help("declare it with `component` or `pipeline`, or import the file that declares it")
                        }
                    };
                } else {
                    d = d.help("declare it with `component` or `pipeline`, or import the file that declares it");
                }
                self.err(d);
                None
            }
        }
    }

    fn pipeline_recursion(&mut self) {
        let n = self.out.pipelines.len();
        let mut calls: Vec<Vec<(usize, Span)>> = vec![Vec::new(); n];
        for (p, call) in calls.iter_mut().enumerate() {
            let m = self.out.pipelines[p].module;
            let steps = self.out.pipelines[p].steps.clone();
            for s in steps.iter() {
                let n0 = self.out.diagnostics.len();
                if let Some(Decl::Pipeline(q)) = self.resolve_callee(m, &s.callee) {
                    call.push((q, s.callee.span));
                }
                self.out.diagnostics.truncate(n0);
            }
        }
        let mut reported = HashSet::new();
        for start in 1..n {
            // Search for a path back to `start`.
            let mut stack = vec![(start, vec![start])];
            let mut seen = HashSet::new();
            while let Some((p, path)) = stack.pop() {
                for &(q, span) in &calls[p] {
                    if q == start {
                        let mut key = path.clone();
                        key.sort();
                        if reported.insert(key) {
                            let names: Vec<String> =
                                path.iter().chain([&start]).map(|&i| self.out.pipelines[i].name.clone()).collect();
                            let file = self.file(self.out.pipelines[p].module);
                            self.err(
                                Diagnostic::new(Code::E0602, file, span, format!("pipeline `{}` calls itself: {}", self.out.pipelines[start].name, names.join(" → ")))
                                    .label("recursive call")
                                    .help("pipelines are expanded when the graph is built, so they cannot recurse; unroll the repetition into separate steps"),
                            );
                        }
                    } else if seen.insert(q) {
                        let mut np = path.clone();
                        np.push(q);
                        stack.push((q, np));
                    }
                }
            }
        }
    }
}

/// The inputs, parameters and outputs of a callee.
pub(crate) type Signature = (Arc<[Port]>, Arc<[ParamSig]>, Arc<[Port]>);

/// A copy of an item without the bodies of blocks and steps.
fn header_only(item: &Item) -> Item {
    let kind = match &item.kind {
        ItemKind::Component(c) => ItemKind::Component(ComponentDecl {
            name: c.name.clone(),
            body: Block { members: Vec::new(), span: c.body.span, unclosed: c.body.unclosed },
        }),
        ItemKind::Pipeline(p) => ItemKind::Pipeline(PipelineDecl {
            name: p.name.clone(),
            body: Block { members: Vec::new(), span: p.body.span, unclosed: p.body.unclosed },
        }),
        ItemKind::Step(s) => ItemKind::Step(StepDecl {
            name: s.name.clone(),
            callee: s.callee.clone(),
            body: StepBody { entries: Vec::new(), span: s.body.span, unclosed: s.body.unclosed },
            when: None,
        }),
        other => other.clone(),
    };
    Item { docs: item.docs.clone(), kind, span: item.span }
}

/// The inputs, parameters and outputs of a component or pipeline.
pub(crate) fn body_signature(c: &Checked, d: &Decl) -> Signature {
    match d {
        Decl::Component(i) => {
            let x = &c.components[*i];
            (x.inputs.clone(), x.params.clone(), x.outputs.clone())
        }
        Decl::Pipeline(i) => {
            let x = &c.pipelines[*i];
            (x.inputs.clone(), x.params.clone(), x.outputs.clone())
        }
        Decl::Artifact(_) => (Arc::from([]), Arc::from([]), Arc::from([])),
    }
}

fn shift(e: &mut Expr, by: u32) {
    e.span.start += by;
    e.span.end += by;
    match &mut e.kind {
        ExprKind::Field(b, i) => {
            shift(b, by);
            i.span.start += by;
            i.span.end += by;
        }
        ExprKind::Call(_, args) => args.iter_mut().for_each(|a| shift(&mut a.value, by)),
        ExprKind::List(xs) => xs.iter_mut().for_each(|x| shift(x, by)),
        ExprKind::Record(fs) => fs.iter_mut().for_each(|f| {
            if let Field::Entry { value, .. } = f {
                shift(value, by)
            }
        }),
        ExprKind::Unary(_, x) | ExprKind::Paren(x) => shift(x, by),
        ExprKind::Binary(_, a, b) => {
            shift(a, by);
            shift(b, by);
        }
        ExprKind::If(a, b, c) => {
            shift(a, by);
            shift(b, by);
            shift(c, by);
        }
        _ => {}
    }
}

pub(crate) fn article(t: &Ty) -> String {
    match t {
        Ty::Int => "an int".into(),
        Ty::Artifact(_) => format!("an artifact of type {}", t.display()),
        Ty::Optional(_) => format!("an optional {}", t.unopt().display()),
        Ty::Error => "not a valid value".into(),
        _ => format!("a {}", t.display()),
    }
}

pub(crate) fn example_of(t: &Ty) -> String {
    let ex = match t.unopt() {
        Ty::Int => "42",
        Ty::Float => "0.5",
        Ty::Bool => "true",
        Ty::Str => "\"text\"",
        Ty::Path => "\"data/train\"",
        Ty::Duration => "30s, 5m or 1h30m",
        Ty::Size => "512MiB or 2GB",
        Ty::List(_) => "[1, 2, 3]",
        Ty::Map(_) => "{ train = 8, eval = 2 }",
        Ty::Features => "{ fare_log = log1p(fare) }",
        Ty::Expr => "auc >= 0.8",
        Ty::Space => "{ learning_rate = log_range(1e-4, 1e-1), hidden = choice([64], [64, 32]) }",
        Ty::Component => "tab.train_mlp",
        _ => return "give a value of the declared type".into(),
    };
    format!("a {} looks like {ex}", t.unopt().display())
}
