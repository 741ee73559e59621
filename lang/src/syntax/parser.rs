//! The parser: pest grammar in, [`SourceFile`] plus diagnostics out. It never fails.
//!
//! pest matches the whole file with `mlp.pest`, whose catch-all `bad_*` rules swallow a line
//! (or a balanced bracket group) that fits nothing else. This module walks the pest pairs into
//! the [`ast`](super::ast), and explains each `bad_*` node by re-parsing its text with the
//! matching `strict_*` rule, which yields the position and the tokens pest expected there.

use super::ast::*;
use crate::codes::Code;
use crate::diag::{Diagnostic, FileId, floor_char_boundary};
use pest::Parser as _;
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use std::sync::LazyLock;

#[derive(pest_derive::Parser)]
#[grammar = "syntax/mlp.pest"]
struct MlpParser;

/// Reserved words of the language.
pub const KEYWORDS: &[&str] = &[
    "import",
    "as",
    "param",
    "artifact",
    "component",
    "pipeline",
    "step",
    "when",
    "if",
    "then",
    "else",
    "and",
    "or",
    "not",
    "true",
    "false",
];

/// The most brackets that may be open at once. Deeper input is rejected with E0006, which
/// keeps every recursive walk over the tree well inside the stack.
pub const MAX_NESTING: usize = 64;

/// What parsing one file gives: the tree it could build and the problems it found.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    /// The syntax tree, with `Error` nodes where text did not parse.
    pub file: SourceFile,
    /// Syntax diagnostics.
    pub diagnostics: Vec<Diagnostic>,
}

/// Parse one file. Never fails and never panics.
pub fn parse(text: &str, file: FileId) -> Parsed {
    parse_with(text, file, SPLIT_AT)
}

/// Files at least this large are parsed in two halves on two threads.
const SPLIT_AT: usize = 64 * 1024;

/// [`parse`], splitting files of `min_split` bytes or more at a top-level item boundary near the
/// middle and parsing the halves in parallel. The halves give exactly what one parse gives:
/// the split is made only where the grammar's own structure must also break (see
/// [`split_point`]); a test compares both ways on every file of the repository.
pub fn parse_with(text: &str, file: FileId, min_split: usize) -> Parsed {
    let mut diags = Vec::new();
    // Reject pathological nesting up front, parsing only the lines before it.
    let usable = match nesting_overflow(text) {
        Some(at) => {
            let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
            diags.push(
                Diagnostic::new(
                    Code::E0006,
                    file,
                    Span::new(at, at + 1),
                    format!("brackets nested more than {MAX_NESTING} deep"),
                )
                .label("too deep here")
                .help("split the value into named parameters or steps"),
            );
            line_start
        }
        None => text.len(),
    };
    let split = if usable >= min_split { split_point(&text[..usable]) } else { None };
    let (mut sf, more) = match split {
        None => parse_range(text, file, 0, usable),
        Some(mid) => std::thread::scope(|scope| {
            let second = scope.spawn(|| parse_range(text, file, mid, usable));
            let (mut sf, mut d) = parse_range(text, file, 0, mid);
            match second.join() {
                Ok((sf2, d2)) => {
                    sf.items.extend(sf2.items);
                    sf.comments.extend(sf2.comments);
                    d.extend(d2);
                    (sf, d)
                }
                // A panic in the parser is a bug; fall back to one parse rather than lose the file.
                Err(_) => parse_range(text, file, 0, usable),
            }
        }),
    };
    diags.extend(more);
    sf.comments.sort_by_key(|c| c.span.start);
    Parsed { file: sf, diagnostics: diags }
}

thread_local! {
    /// Offset of the text being parsed on this thread within its file; added to every span.
    static BASE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Parse `text[start..end]` (which begins at a top-level item boundary).
fn parse_range(text: &str, file: FileId, start: usize, end: usize) -> (SourceFile, Vec<Diagnostic>) {
    BASE.with(|b| b.set(start));
    let mut b = Builder { text, file, diags: Vec::new() };
    let sf = match MlpParser::parse(Rule::file, &text[start..end]) {
        Ok(mut pairs) => {
            let mut sf = SourceFile::default();
            if let Some(fp) = pairs.next() {
                sf.comments = collect_comments(fp.clone().into_inner());
                sf.items = b.items(fp.into_inner());
            }
            sf
        }
        Err(e) => {
            // The grammar is total, so this is a bug; report it rather than panic.
            let at = match e.location {
                pest::error::InputLocation::Pos(p) => p,
                pest::error::InputLocation::Span((s, _)) => s,
            };
            b.diags.push(Diagnostic::new(
                Code::E0000,
                file,
                Span::point(start + at),
                format!("the parser gave up: {}", e.variant.message()),
            ));
            SourceFile::default()
        }
    };
    BASE.with(|b| b.set(0));
    (sf, b.diags)
}

/// A byte offset near the middle of `text` where a top-level item starts at the beginning of a
/// line, outside every bracket, string and comment; `None` when the text gives any doubt that
/// the grammar would break there too (mismatched brackets, an unterminated string, brackets or
/// quotes inside a comment), in which case the file is parsed in one piece.
fn split_point(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut stack: Vec<u8> = Vec::new();
    let mut best: Option<usize> = None;
    let mid = text.len() / 2;
    let mut i = 0;
    let mut line_start = true;
    // Whether the previous line was a doc comment (its item starts there, not here).
    let mut prev_doc = false;
    while i < bytes.len() {
        let c = bytes[i];
        if line_start {
            let rest = &text[i..];
            let doc = rest.starts_with("///");
            if stack.is_empty() && i >= mid && best.is_none() && !prev_doc {
                let item = ["step ", "param ", "component ", "pipeline ", "artifact ", "import "]
                    .iter()
                    .any(|k| rest.starts_with(k));
                if item || doc {
                    best = Some(i);
                }
            }
            prev_doc = doc;
        }
        line_start = false;
        match c {
            b'\n' => line_start = true,
            b'"' => {
                // A string must close on its line.
                i += 1;
                loop {
                    match bytes.get(i) {
                        Some(b'\\') => i += 2,
                        Some(b'"') => break,
                        Some(b'\n') | None => return None,
                        Some(_) => i += 1,
                    }
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let end = text[i..].find('\n').map_or(text.len(), |e| i + e);
                if text[i..end].contains(['(', ')', '[', ']', '{', '}', '"']) {
                    return None;
                }
                i = end;
                continue;
            }
            b'(' | b'[' | b'{' => stack.push(c),
            b')' | b']' | b'}' => {
                let open = match c {
                    b')' => b'(',
                    b']' => b'[',
                    _ => b'{',
                };
                if stack.pop() != Some(open) {
                    return None;
                }
            }
            _ => {}
        }
        i += 1;
    }
    if !stack.is_empty() {
        return None;
    }
    best
}

/// Parse a lone expression (used for `--set` values). Returns `None` with diagnostics when the
/// text is not exactly one expression.
pub fn parse_expr(text: &str, file: FileId) -> (Option<Expr>, Vec<Diagnostic>) {
    let mut b = Builder { text, file, diags: Vec::new() };
    if let Some(at) = nesting_overflow(text) {
        let d = Diagnostic::new(Code::E0006, file, Span::point(at), "brackets nested too deep");
        return (None, vec![d]);
    }
    match MlpParser::parse(Rule::strict_expr, text) {
        Ok(mut pairs) => {
            let inner = pairs.next().and_then(|p| p.into_inner().next());
            let e = inner.map(|p| b.expr(p));
            (e, b.diags)
        }
        Err(_) => {
            let d = b.explain(0, text.len(), Rule::strict_expr, "an expression");
            (None, vec![d])
        }
    }
}

fn nesting_overflow(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    let mut in_comment = false;
    for (i, c) in text.char_indices() {
        if in_comment {
            in_comment = c != '\n';
            continue;
        }
        if in_str {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' | '\n' => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '/' if text[i..].starts_with("//") => in_comment = true,
            '(' | '[' | '{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(i);
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

fn collect_comments(pairs: Pairs<Rule>) -> Vec<Comment> {
    pairs
        .flatten()
        .filter(|p| p.as_rule() == Rule::comment)
        .map(|p| Comment { text: p.as_str().trim_end().to_string(), span: span(&p) })
        .collect()
}

fn span(p: &Pair<Rule>) -> Span {
    let s = p.as_span();
    let base = BASE.with(|b| b.get());
    Span::new(base + s.start(), base + s.end())
}

fn ident(p: Pair<Rule>) -> Ident {
    Ident { name: p.as_str().to_string(), span: span(&p) }
}

static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::coalesce, Assoc::Left))
        .op(Op::infix(Rule::or_op, Assoc::Left))
        .op(Op::infix(Rule::and_op, Assoc::Left))
        .op(Op::prefix(Rule::not_op))
        .op(Op::infix(Rule::eq, Assoc::Left)
            | Op::infix(Rule::ne, Assoc::Left)
            | Op::infix(Rule::lt, Assoc::Left)
            | Op::infix(Rule::le, Assoc::Left)
            | Op::infix(Rule::gt, Assoc::Left)
            | Op::infix(Rule::ge, Assoc::Left))
        .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::sub, Assoc::Left))
        .op(Op::infix(Rule::mul, Assoc::Left) | Op::infix(Rule::div, Assoc::Left) | Op::infix(Rule::rem, Assoc::Left))
        .op(Op::prefix(Rule::neg))
        .op(Op::postfix(Rule::field))
});

struct Builder<'t> {
    text: &'t str,
    file: FileId,
    diags: Vec<Diagnostic>,
}

impl Builder<'_> {
    fn items(&mut self, pairs: Pairs<Rule>) -> Vec<Item> {
        let mut items = Vec::new();
        for p in pairs {
            match p.as_rule() {
                Rule::comment | Rule::EOI => {}
                Rule::stray_doc => items.push(self.stray_doc(&p)),
                Rule::bad_item => {
                    let sp = span(&p);
                    let d = self.explain(sp.start as usize, sp.end as usize, Rule::strict_item, "an item");
                    self.diags.push(d);
                    items.push(error_item(&p));
                }
                _ => {
                    if let Some(item) = self.item(p) {
                        items.push(item);
                    }
                }
            }
        }
        items
    }

    fn stray_doc(&mut self, p: &Pair<Rule>) -> Item {
        let sp = span(p);
        self.diags.push(
            Diagnostic::new(Code::W0005, self.file, sp, "this doc comment documents nothing")
                .label("not followed by an item or member")
                .help("use `//` for a plain comment, or move it directly above what it documents")
                .fix(
                    "turn it into a plain comment",
                    self.file,
                    Span::new(sp.start as usize, sp.start as usize + 3),
                    "//",
                ),
        );
        Item { docs: Docs::default(), kind: ItemKind::StrayDoc, span: sp }
    }

    /// Split the leading `docs` pair off an item's children.
    fn docs_and_rest<'i>(&self, p: Pair<'i, Rule>) -> (Docs, Span, Vec<Pair<'i, Rule>>) {
        let full = span(&p);
        let mut docs = Docs::default();
        let mut rest = Vec::new();
        for c in p.into_inner() {
            if c.as_rule() == Rule::docs {
                let sp = span(&c);
                docs.span = sp;
                docs.lines = c
                    .into_inner()
                    .map(|d| {
                        let t = d.as_str().trim_end();
                        let t = t.strip_prefix("///").unwrap_or(t);
                        t.strip_prefix(' ').unwrap_or(t).to_string()
                    })
                    .collect();
            } else if c.as_rule() != Rule::comment {
                rest.push(c);
            }
        }
        let start = rest.first().map_or(full.start, |c| span(c).start);
        (docs, Span { start, end: full.end }, rest)
    }

    fn item(&mut self, p: Pair<Rule>) -> Option<Item> {
        let rule = p.as_rule();
        let (docs, sp, rest) = self.docs_and_rest(p);
        let mut it = rest.into_iter();
        let kind = match rule {
            Rule::import_item => {
                it.next(); // keyword
                let s = it.next()?;
                let path_span = span(&s);
                let path = self.string(s);
                let alias = it.find(|c| c.as_rule() == Rule::ident).map(ident);
                ItemKind::Import(Import { path, path_span, alias })
            }
            Rule::param_item | Rule::param_decl => {
                it.next();
                let name = ident(it.next()?);
                let ty = self.ty(it.next()?);
                let default = it.next().map(|e| self.expr(e));
                ItemKind::Param(ParamDecl { name, ty, default })
            }
            Rule::artifact_item => {
                it.next();
                ItemKind::Artifact(ident(it.next()?))
            }
            Rule::component_item => {
                it.next();
                let name = ident(it.next()?);
                let body = self.block(it.next()?);
                ItemKind::Component(ComponentDecl { name, body })
            }
            Rule::pipeline_item => {
                it.next();
                let name = ident(it.next()?);
                let body = self.block(it.next()?);
                ItemKind::Pipeline(PipelineDecl { name, body })
            }
            Rule::step_item => {
                it.next();
                let name = ident(it.next()?);
                let callee = self.path(it.next()?);
                let body = self.step_body(it.next()?);
                let when = it.next().and_then(|w| w.into_inner().nth(1)).map(|e| self.expr(e));
                ItemKind::Step(StepDecl { name, callee, body, when })
            }
            Rule::io_decl => {
                let kw = it.next()?;
                let dir = if kw.as_str() == "input" { PortDir::Input } else { PortDir::Output };
                let name = ident(it.next()?);
                let ty = self.ty(it.next()?);
                let value = it.next().map(|e| self.expr(e));
                ItemKind::Port(PortDecl { dir, name, ty, value })
            }
            Rule::attr => {
                let name = ident(it.next()?);
                let value = self.expr(it.next()?);
                ItemKind::Attr(Attr { name, value })
            }
            _ => return None,
        };
        let declared = match &kind {
            ItemKind::Param(ParamDecl { name, .. })
            | ItemKind::Artifact(name)
            | ItemKind::Component(ComponentDecl { name, .. })
            | ItemKind::Pipeline(PipelineDecl { name, .. })
            | ItemKind::Step(StepDecl { name, .. })
            | ItemKind::Port(PortDecl { name, .. }) => Some(name.clone()),
            _ => None,
        };
        if let Some(name) = declared {
            self.not_a_keyword(&name);
        }
        Some(Item { docs, kind, span: sp })
    }

    /// Keywords are matched as names by the grammar (cheaper than excluding them everywhere);
    /// declaring one is reported here.
    fn not_a_keyword(&mut self, name: &Ident) {
        if KEYWORDS.contains(&name.name.as_str()) {
            self.diags.push(
                Diagnostic::new(
                    Code::E0001,
                    self.file,
                    name.span,
                    format!("`{}` is a keyword and cannot be a name", name.name),
                )
                .label("keyword")
                .help(format!("choose another name, e.g. `{}_`", name.name)),
            );
        }
    }

    fn block(&mut self, p: Pair<Rule>) -> Block {
        let sp = span(&p);
        let strict = match p.as_rule() {
            Rule::comp_body => Rule::strict_comp_member,
            _ => Rule::strict_pipe_member,
        };
        let mut members = Vec::new();
        let mut unclosed = false;
        for c in p.into_inner() {
            match c.as_rule() {
                Rule::comment => {}
                Rule::stray_doc => members.push(self.stray_doc(&c)),
                Rule::bad_entry => {
                    let s = span(&c);
                    let d = self.explain(s.start as usize, s.end as usize, strict, "a member");
                    self.diags.push(d);
                    members.push(error_item(&c));
                }
                Rule::missing_brace => {
                    unclosed = true;
                    self.unclosed(sp, span(&c));
                }
                _ => {
                    if let Some(m) = self.item(c) {
                        members.push(m);
                    }
                }
            }
        }
        Block { members, span: sp, unclosed }
    }

    fn unclosed(&mut self, block: Span, at: Span) {
        self.diags.push(
            Diagnostic::new(
                Code::E0002,
                self.file,
                Span::new(block.start as usize, block.start as usize + 1),
                "this `{` is never closed",
            )
            .label("opened here")
            .secondary(self.file, at, "expected `}` before this")
            .help("add the missing `}` at the end of the block"),
        );
    }

    fn step_body(&mut self, p: Pair<Rule>) -> StepBody {
        let sp = span(&p);
        let mut entries = Vec::new();
        let mut unclosed = false;
        for c in p.into_inner() {
            match c.as_rule() {
                Rule::comment => {}
                Rule::stray_doc => {
                    let item = self.stray_doc(&c);
                    entries.push(StepEntry::StrayDoc(item.span));
                }
                Rule::arg => {
                    let asp = span(&c);
                    let mut it = c.into_inner();
                    let (Some(n), Some(v)) = (it.next(), it.next()) else { continue };
                    let name = ident(n);
                    self.not_a_keyword(&name);
                    let value = self.expr(v);
                    entries.push(StepEntry::Arg(Arg { name, value, span: asp }));
                }
                Rule::option => {
                    let osp = span(&c);
                    let mut it = c.into_inner().peekable();
                    let Some(kw) = it.next() else { continue };
                    let keyword = ident(kw);
                    let word = it.next_if(|x| x.as_rule() == Rule::ident).map(ident);
                    let value = it.next().map(|e| self.expr(e));
                    entries.push(StepEntry::Option(StepOption { keyword, word, value, span: osp }));
                }
                Rule::bad_step_entry => {
                    let s = span(&c);
                    let d = self.explain(s.start as usize, s.end as usize, Rule::strict_step_entry, "an argument");
                    self.diags.push(d);
                    entries.push(StepEntry::Error(ErrorNode { text: c.as_str().to_string(), span: s }));
                }
                Rule::missing_step_brace => {
                    unclosed = true;
                    self.unclosed(sp, span(&c));
                }
                _ => {}
            }
        }
        StepBody { entries, span: sp, unclosed }
    }

    fn path(&mut self, p: Pair<Rule>) -> Path {
        let sp = span(&p);
        let mut ids: Vec<Ident> = p.into_inner().map(ident).collect();
        let name = ids.pop().unwrap_or(Ident { name: String::new(), span: sp });
        let ns = ids.pop();
        Path { ns, name, span: sp }
    }

    fn ty(&mut self, p: Pair<Rule>) -> TypeExpr {
        let sp = span(&p);
        let Some(inner) = p.into_inner().next() else {
            return TypeExpr::Named {
                path: Path { ns: None, name: Ident { name: String::new(), span: sp }, span: sp },
                optional: false,
                span: sp,
            };
        };
        match inner.as_rule() {
            Rule::ty_generic => {
                let mut it = inner.into_inner();
                let name = it.next().map(ident).unwrap_or(Ident { name: String::new(), span: sp });
                let arg = it.next().map(|t| self.ty(t));
                let optional = it.next().is_some();
                let arg = arg.unwrap_or_else(|| TypeExpr::Named {
                    path: Path { ns: None, name: Ident { name: String::new(), span: sp }, span: sp },
                    optional: false,
                    span: sp,
                });
                TypeExpr::Generic { name, arg: Box::new(arg), optional, span: sp }
            }
            _ => {
                // ty_name ~ optional?
                let path = self.path(inner);
                let optional = self.text[sp.range()].trim_end().ends_with('?');
                TypeExpr::Named { path, optional, span: sp }
            }
        }
    }

    fn string(&mut self, p: Pair<Rule>) -> String {
        let sp = span(&p);
        let raw = p.into_inner().next().map_or("", |i| i.as_str());
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.char_indices();
        while let Some((i, c)) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            let at = sp.start as usize + 1 + i;
            match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, '0')) => out.push('\0'),
                Some((_, '\\')) => out.push('\\'),
                Some((_, '"')) => out.push('"'),
                Some((j, 'u')) => {
                    let rest = &raw[j + 1..];
                    let ok = if rest.starts_with('{') {
                        rest.find('}').and_then(|end| {
                            let hex = &rest[1..end];
                            let ch = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32)?;
                            Some((ch, end))
                        })
                    } else {
                        None
                    };
                    match ok {
                        Some((ch, end)) => {
                            out.push(ch);
                            // Skip `{hex}`.
                            for _ in 0..=end {
                                chars.next();
                            }
                        }
                        _ => self.bad_escape(at, "\\u"),
                    }
                }
                Some((_, other)) => self.bad_escape(at, &format!("\\{other}")),
                None => self.bad_escape(at, "\\"),
            }
        }
        out
    }

    fn bad_escape(&mut self, at: usize, esc: &str) {
        let end = floor_char_boundary(self.text, at + esc.len());
        self.diags.push(
            Diagnostic::new(Code::E0005, self.file, Span::new(at, end), format!("unknown escape `{esc}` in a string"))
                .label("not an escape")
                .help("the escapes are \\n \\t \\r \\0 \\\\ \\\" and \\u{HEX}; write `\\\\` for a backslash"),
        );
    }

    fn expr(&mut self, p: Pair<Rule>) -> Expr {
        let pairs = p.into_inner();
        // The pratt parser takes closures that cannot all borrow `self` mutably at once, so
        // primaries are built first into a queue, in order.
        let mut prims: std::collections::VecDeque<Expr> = std::collections::VecDeque::new();
        for q in pairs.clone() {
            if !is_operator(q.as_rule()) {
                let e = self.primary(q);
                prims.push_back(e);
            }
        }
        let prims = std::cell::RefCell::new(prims);
        let err = Expr { kind: ExprKind::Error, span: Span::default() };
        PRATT
            .map_primary(|_| prims.borrow_mut().pop_front().unwrap_or_else(|| err.clone()))
            .map_prefix(|op, rhs| {
                let sp = span(&op).cover(rhs.span);
                let u = if op.as_rule() == Rule::neg { UnOp::Neg } else { UnOp::Not };
                Expr { kind: ExprKind::Unary(u, Box::new(rhs)), span: sp }
            })
            .map_postfix(|lhs, op| {
                let sp = lhs.span.cover(span(&op));
                let name = op.into_inner().next().map(ident).unwrap_or(Ident { name: String::new(), span: sp });
                Expr { kind: ExprKind::Field(Box::new(lhs), name), span: sp }
            })
            .map_infix(|lhs, op, rhs| {
                let sp = lhs.span.cover(rhs.span);
                let b = match op.as_rule() {
                    Rule::coalesce => BinOp::Coalesce,
                    Rule::or_op => BinOp::Or,
                    Rule::and_op => BinOp::And,
                    Rule::eq => BinOp::Eq,
                    Rule::ne => BinOp::Ne,
                    Rule::lt => BinOp::Lt,
                    Rule::le => BinOp::Le,
                    Rule::gt => BinOp::Gt,
                    Rule::ge => BinOp::Ge,
                    Rule::add => BinOp::Add,
                    Rule::sub => BinOp::Sub,
                    Rule::mul => BinOp::Mul,
                    Rule::div => BinOp::Div,
                    _ => BinOp::Rem,
                };
                Expr { kind: ExprKind::Binary(b, Box::new(lhs), Box::new(rhs)), span: sp }
            })
            .parse(pairs)
    }

    fn primary(&mut self, p: Pair<Rule>) -> Expr {
        let sp = span(&p);
        let kind = match p.as_rule() {
            Rule::number => self.number(p.as_str(), sp),
            Rule::string => ExprKind::Str(self.string(p)),
            Rule::boolean => ExprKind::Bool(p.as_str().starts_with('t')),
            Rule::ident => ExprKind::Name(ident(p)),
            Rule::paren => match p.into_inner().next() {
                Some(e) => ExprKind::Paren(Box::new(self.expr(e))),
                None => ExprKind::Error,
            },
            Rule::if_expr => {
                let parts: Vec<Pair<Rule>> = p.into_inner().filter(|c| c.as_rule() == Rule::expr).collect();
                let mut es = parts.into_iter().map(|e| self.expr(e));
                match (es.next(), es.next(), es.next()) {
                    (Some(c), Some(a), Some(b)) => ExprKind::If(Box::new(c), Box::new(a), Box::new(b)),
                    _ => ExprKind::Error,
                }
            }
            Rule::call => {
                let mut it = p.into_inner().filter(|c| c.as_rule() != Rule::comment);
                let Some(name) = it.next() else { return Expr { kind: ExprKind::Error, span: sp } };
                let name = ident(name);
                let mut args = Vec::new();
                for a in it {
                    let mut parts: Vec<Pair<Rule>> = a.into_inner().collect();
                    let value = parts.pop().map(|v| self.expr(v));
                    let name = parts.pop().map(ident);
                    if let Some(value) = value {
                        args.push(CallArg { name, value });
                    }
                }
                ExprKind::Call(name, args)
            }
            Rule::list => {
                let items = p.into_inner().filter(|c| c.as_rule() == Rule::expr).map(|e| self.expr(e)).collect();
                ExprKind::List(items)
            }
            Rule::record => {
                let mut fields = Vec::new();
                for c in p.into_inner() {
                    match c.as_rule() {
                        Rule::record_entry => {
                            let fsp = span(&c);
                            let mut it = c.into_inner();
                            if let (Some(n), Some(v)) = (it.next(), it.next()) {
                                let name = ident(n);
                                self.not_a_keyword(&name);
                                let value = self.expr(v);
                                fields.push(Field::Entry { name, value, span: fsp });
                            }
                        }
                        Rule::bad_field => {
                            let s = span(&c);
                            let d =
                                self.explain(s.start as usize, s.end as usize, Rule::strict_record_entry, "a field");
                            self.diags.push(d);
                            fields.push(Field::Error(ErrorNode { text: c.as_str().to_string(), span: s }));
                        }
                        _ => {}
                    }
                }
                ExprKind::Record(fields)
            }
            _ => ExprKind::Error,
        };
        Expr { kind, span: sp }
    }

    fn number(&mut self, text: &str, sp: Span) -> ExprKind {
        let digits_end = text
            .char_indices()
            .find(|&(i, c)| {
                c.is_ascii_alphabetic()
                    && !((c == 'e' || c == 'E')
                        && text[i + 1..].starts_with(|d: char| d.is_ascii_digit() || d == '+' || d == '-'))
            })
            .map_or(text.len(), |(i, _)| i);
        let (num, unit) = text.split_at(digits_end);
        let clean: String = num.chars().filter(|&c| c != '_').collect();
        let is_float = clean.contains(['.', 'e', 'E']);
        if unit.is_empty() {
            if is_float {
                return match clean.parse::<f64>() {
                    Ok(f) if f.is_finite() => ExprKind::Float(f),
                    _ => self.bad_number(sp, format!("`{text}` is not a finite number"), None),
                };
            }
            return match clean.parse::<i64>() {
                Ok(i) => ExprKind::Int(i),
                Err(_) => self.bad_number(
                    sp,
                    format!("`{text}` does not fit in a 64-bit integer"),
                    Some("integers range from -9223372036854775808 to 9223372036854775807; use a float for larger values"),
                ),
            };
        }
        // A duration (possibly compound, like `1h30m`) or a byte size.
        let value: f64 = clean.parse().unwrap_or(f64::NAN);
        if let Some(&(_, mult)) = SIZE_UNITS.iter().find(|(u, _)| *u == unit) {
            let bytes = value * mult as f64;
            if bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64 && bytes.fract() == 0.0 {
                return ExprKind::Size(bytes as u64);
            }
            return self.bad_number(sp, format!("`{text}` is not a whole number of bytes"), None);
        }
        // Duration segments: the first number has been read; `unit` may hold more segments.
        let mut total: f64 = 0.0;
        let mut cur = value;
        let mut rest = unit;
        loop {
            let ulen = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
            let u = &rest[..ulen];
            let Some(&(_, ms)) = DURATION_UNITS.iter().find(|(name, _)| *name == u) else {
                let help =
                    "durations use ms, s, m, h, d (e.g. `1h30m`); sizes use B, KB, MB, GB, TB, KiB, MiB, GiB, TiB";
                return self.bad_number(sp, format!("unknown unit `{u}` in `{text}`"), Some(help));
            };
            total += cur * ms as f64;
            rest = &rest[ulen..];
            if rest.is_empty() {
                break;
            }
            let dlen = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            cur = rest[..dlen].parse().unwrap_or(f64::NAN);
            rest = &rest[dlen..];
            if rest.is_empty() {
                return self.bad_number(sp, format!("`{text}` ends in a number without a unit"), None);
            }
        }
        if total.is_finite() && total >= 0.0 && total < u64::MAX as f64 {
            ExprKind::Duration(total.round() as u64)
        } else {
            self.bad_number(sp, format!("`{text}` is out of range"), None)
        }
    }

    fn bad_number(&mut self, sp: Span, msg: String, help: Option<&str>) -> ExprKind {
        let mut d = Diagnostic::new(Code::E0004, self.file, sp, msg).label("invalid literal");
        if let Some(h) = help {
            d = d.help(h);
        }
        self.diags.push(d);
        ExprKind::Error
    }

    /// Explain why `text[start..end]` did not parse as `rule`.
    fn explain(&mut self, start: usize, end: usize, rule: Rule, what: &str) -> Diagnostic {
        let line_end = self.text[start..].find('\n').map_or(self.text.len(), |i| start + i);
        // An unterminated string is the most common cause of a broken line: say so directly.
        if let Some(q) = unterminated_quote(&self.text[start..line_end]) {
            let at = start + q;
            return Diagnostic::new(Code::E0003, self.file, Span::new(at, line_end), "unterminated string")
                .label("this string is never closed")
                .help("add the closing `\"` before the end of the line (strings cannot span lines; use \\n)")
                .fix("close the string", self.file, Span::point(line_end), "\"");
        }
        pest::set_error_detail(true);
        let res = MlpParser::parse(rule, &self.text[start..]);
        pest::set_error_detail(false);
        let (pos, expected) = match res {
            Ok(_) => (end.min(line_end), Vec::new()),
            Err(e) => {
                let pos = match e.location {
                    pest::error::InputLocation::Pos(p) => p,
                    pest::error::InputLocation::Span((s, _)) => s,
                };
                let mut expected = describe_expected(&e);
                if expected.is_empty()
                    && let pest::error::ErrorVariant::ParsingError { positives, .. } = &e.variant
                {
                    expected = positives.iter().filter_map(|r| describe_rule(*r)).map(String::from).collect();
                }
                expected.sort();
                expected.dedup();
                (start + pos, expected)
            }
        };
        let pos = floor_char_boundary(self.text, pos.clamp(start, end.max(start)));
        let found = describe_found(&self.text[pos..]);
        let found_len = if found.0.is_empty() { 0 } else { found.1 };
        let msg = match expected.len() {
            0 => format!("unexpected {}", found.0.if_empty("end of line")),
            _ => format!("expected {}, found {}", join_or(&expected), found.0.if_empty("end of line")),
        };
        let mut d = Diagnostic::new(Code::E0001, self.file, Span::new(pos, pos + found_len), msg).label(
            if expected.is_empty() { "unexpected".to_string() } else { format!("expected {}", join_or(&expected)) },
        );
        if pos > start {
            d = d.secondary(self.file, Span::new(start, pos), format!("while reading {what}"));
        }
        d.help(hint_for(&self.text[start..line_end], what))
    }
}

trait IfEmpty {
    fn if_empty<'a>(&'a self, other: &'a str) -> &'a str;
}
impl IfEmpty for String {
    fn if_empty<'a>(&'a self, other: &'a str) -> &'a str {
        if self.is_empty() { other } else { self }
    }
}

fn error_item(p: &Pair<Rule>) -> Item {
    Item {
        docs: Docs::default(),
        kind: ItemKind::Error(ErrorNode { text: p.as_str().to_string(), span: span(p) }),
        span: span(p),
    }
}

fn is_operator(r: Rule) -> bool {
    matches!(
        r,
        Rule::neg
            | Rule::not_op
            | Rule::field
            | Rule::coalesce
            | Rule::or_op
            | Rule::and_op
            | Rule::eq
            | Rule::ne
            | Rule::le
            | Rule::ge
            | Rule::lt
            | Rule::gt
            | Rule::add
            | Rule::sub
            | Rule::mul
            | Rule::div
            | Rule::rem
    )
}

/// The byte offset of a `"` that opens a string never closed on this line.
fn unterminated_quote(line: &str) -> Option<usize> {
    let mut open: Option<usize> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match open {
            None if c == '"' => open = Some(i),
            None if c == '/' && line[i..].starts_with("//") => return None,
            None => {}
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(_) if c == '"' => open = None,
            Some(_) => {}
        }
    }
    open
}

fn describe_expected(e: &pest::error::Error<Rule>) -> Vec<String> {
    let Some(attempts) = e.parse_attempts() else { return Vec::new() };
    let mut out = Vec::new();
    for t in attempts.expected_tokens() {
        let token = t.to_string();
        if token.contains("..") && token.chars().count() == 4 {
            // Character ranges come from names and numbers.
            out.push("a name or a value".to_string());
        } else if token != "BUILTIN_RULE" {
            let d = match token.as_str() {
                "\n" | "\r\n" | "\r" => "end of line".to_string(),
                "import" | "param" | "artifact" | "component" | "pipeline" | "step" => "an item".to_string(),
                "grant" | "limit" | "retry" | "cache" => "a step option".to_string(),
                "-" | "not" | "(" | "[" | "{" | "\"" | "if" | "true" | "false" => "an expression".to_string(),
                "+" | "*" | "/" | "%" | "==" | "!=" | "<" | "<=" | ">" | ">=" | "and" | "or" | "??" | "." => {
                    "an operator".to_string()
                }
                "//" | " " | "\t" => continue,
                "input" | "output" => "`input` or `output`".to_string(),
                t => format!("`{t}`"),
            };
            out.push(d);
        }
    }
    // Rule-level hints cover what tokens miss (names).
    for stack in &attempts.call_stacks {
        let r = stack.deepest.get_rule().copied();
        if let Some(d) = r.and_then(describe_rule) {
            out.push(d.to_string());
        }
    }
    // `_` and character ranges come from names and numbers: say so once, in words.
    let had_underscore = out.iter().any(|s| s == "`_`");
    out.retain(|s| s != "`_`");
    if out.iter().any(|s| s == "an expression") {
        out.retain(|s| s != "a name or a value");
    }
    if out.iter().any(|s| s == "a name") {
        out.retain(|s| s != "a name or a value");
    } else if had_underscore && !out.iter().any(|s| s == "a name or a value") {
        out.push("a name".to_string());
    }
    out
}

fn describe_rule(r: Rule) -> Option<&'static str> {
    Some(match r {
        Rule::ident | Rule::callee | Rule::ty_name => "a name",
        Rule::string | Rule::str_inner => "a string",
        Rule::expr
        | Rule::number
        | Rule::boolean
        | Rule::list
        | Rule::record
        | Rule::call
        | Rule::paren
        | Rule::if_expr => "an expression",
        Rule::ty | Rule::ty_generic => "a type",
        Rule::step_body | Rule::comp_body | Rule::pipe_body => "`{`",
        Rule::when_clause => "`when`",
        _ => return None,
    })
}

fn describe_found(rest: &str) -> (String, usize) {
    let Some(c) = rest.chars().next() else { return (String::new(), 0) };
    if c == '\n' || c == '\r' {
        return (String::new(), 0);
    }
    let len = if c.is_alphanumeric() || c == '_' {
        rest.find(|ch: char| !(ch.is_alphanumeric() || ch == '_')).unwrap_or(rest.len())
    } else {
        c.len_utf8()
    };
    (format!("`{}`", &rest[..len]), len)
}

fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [a] => a.clone(),
        [rest @ .., last] => format!("{} or {}", rest.join(", "), last),
    }
}

fn hint_for(line: &str, what: &str) -> String {
    let t = line.trim_start();
    let first = t.split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or("");
    match first {
        "step" => {
            "a step reads `step NAME = COMPONENT { ARG = VALUE, ... }`, optionally followed by `when CONDITION`".into()
        }
        "param" => "a parameter reads `param NAME: TYPE = DEFAULT` (the default is optional)".into(),
        "import" => "an import reads `import \"path/to/file.mlp\" as NAME`".into(),
        "component" => {
            "a component reads `component NAME { input ..., param ..., output ..., wasm = \"file.wasm\" }`".into()
        }
        "pipeline" => {
            "a pipeline reads `pipeline NAME { input ..., param ..., step ..., output NAME: TYPE = VALUE }`".into()
        }
        "artifact" => "an artifact type reads `artifact Name`".into(),
        "input" | "output" => "a port reads `input NAME: ArtifactType` or `output NAME: ArtifactType`".into(),
        "grant" => "grants read `grant read PATH`, `grant write PATH`, `grant net \"host:port\"` or `grant gpu`".into(),
        "limit" => "limits read `limit time 10m` or `limit memory 2GiB`".into(),
        _ if what == "an argument" => "an argument reads `NAME = VALUE`; one per line or separated by commas".into(),
        _ if what == "a field" => "a field reads `NAME = VALUE`; one per line or separated by commas".into(),
        _ => format!("expected {what} here; see `mlp explain E0001` for the shape of each item"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(src: &str) -> Parsed {
        parse(src, FileId(0))
    }

    #[test]
    fn parses_a_step_with_when_and_options() {
        let r = p(
            "step push = tab.push {\n  model = m.out, to = \"x\"\n  grant write \"serving\"\n  limit time 5m\n} when e.blessing\n",
        );
        assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
        let ItemKind::Step(s) = &r.file.items[0].kind else { panic!("not a step") };
        assert_eq!(s.name.name, "push");
        assert_eq!(s.callee.display(), "tab.push");
        assert_eq!(s.body.entries.len(), 4);
        assert!(s.when.is_some());
        let StepEntry::Option(o) = &s.body.entries[3] else { panic!() };
        assert_eq!(o.word.as_ref().unwrap().name, "time");
        assert_eq!(o.value.as_ref().unwrap().kind, ExprKind::Duration(300_000));
    }

    #[test]
    fn literals_have_the_right_values() {
        let r = p("param a: int = 1_000\nparam b: duration = 1h30m\nparam c: size = 2GiB\nparam d: float = 1.5e-3\n");
        assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
        let vals: Vec<ExprKind> = r
            .file
            .items
            .iter()
            .map(|i| match &i.kind {
                ItemKind::Param(p) => p.default.clone().unwrap().kind,
                _ => panic!(),
            })
            .collect();
        assert_eq!(
            vals,
            vec![ExprKind::Int(1000), ExprKind::Duration(5_400_000), ExprKind::Size(2 << 30), ExprKind::Float(0.0015)]
        );
    }

    #[test]
    fn precedence_is_conventional() {
        let (e, d) = parse_expr("1 + 2 * 3 == 7 and not false", FileId(0));
        assert!(d.is_empty());
        let ExprKind::Binary(BinOp::And, l, r) = e.unwrap().kind else { panic!() };
        assert!(matches!(l.kind, ExprKind::Binary(BinOp::Eq, _, _)));
        assert!(matches!(r.kind, ExprKind::Unary(UnOp::Not, _)));
    }

    #[test]
    fn three_independent_mistakes_give_three_diagnostics() {
        let src = "param a int = 1\nstep s = c { x = }\nparam ok: int = 2\nstep t = = c {}\n";
        let r = p(src);
        let errs: Vec<_> = r.diagnostics.iter().filter(|d| d.is_error()).collect();
        assert_eq!(errs.len(), 3, "{errs:#?}");
        assert!(r.file.items.iter().any(|i| matches!(&i.kind, ItemKind::Param(p) if p.name.name == "ok")));
    }

    #[test]
    fn unclosed_block_recovers_at_next_item() {
        let r = p("step a = c {\n  x = 1\nstep b = c { y = 2 }\n");
        assert_eq!(r.diagnostics.len(), 1, "{:#?}", r.diagnostics);
        assert_eq!(r.diagnostics[0].code, Code::E0002);
        assert_eq!(r.file.items.len(), 2);
    }

    #[test]
    fn a_keyword_cannot_be_declared_as_a_name() {
        let r = p("param when: bool = true\nstep step = c { if = 1, x = { then = 2 } }\n");
        let msgs: Vec<&str> = r.diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            msgs,
            [
                "`when` is a keyword and cannot be a name",
                "`if` is a keyword and cannot be a name",
                "`then` is a keyword and cannot be a name",
                "`step` is a keyword and cannot be a name",
            ]
        );
    }

    #[test]
    fn parsing_in_halves_gives_what_one_parse_gives() {
        let mut src = String::new();
        for i in 0..200 {
            src.push_str(&format!("/// step {i}\nstep s{i} = c {{ x = s{}.out, y = [1, 2] }} // note\n", i.max(1) - 1));
        }
        src.push_str("step bad = = c {}\n");
        let whole = parse_with(&src, FileId(0), usize::MAX);
        let halves = parse_with(&src, FileId(0), 0);
        assert!(split_point(&src).is_some());
        assert!(whole.file == halves.file, "the halves give another tree");
        assert!(whole.diagnostics == halves.diagnostics, "the halves give other diagnostics");
        assert!(split_point("step a = c {\n").is_none(), "unclosed block: no split");
        assert!(split_point("step a = c { x = \"open }\nstep b = c {}\n").is_none());
    }

    #[test]
    fn deep_nesting_is_rejected_not_overflowed() {
        let src = format!("param x: int = {}1{}\n", "(".repeat(5000), ")".repeat(5000));
        let r = p(&src);
        assert_eq!(r.diagnostics[0].code, Code::E0006);
    }
}
