//! `mlp fmt`: the one canonical layout of a `.mlp` file.
//!
//! Works on the syntax tree plus the flat comment list; comments are placed by their spans
//! (own-line comments before the next node, trailing comments after the line they end). Two
//! spaces of indentation, one member per line, at most one blank line in a row, numbers kept as
//! written. A block or record written across lines stays across lines; a short one written on
//! one line stays on one line if it fits in [`WIDTH`] columns. Text that did not parse is kept
//! verbatim, so formatting a broken file loses nothing. Formatting is idempotent.

use crate::diag::FileId;
use crate::syntax::ast::*;
use crate::syntax::parse;

/// The line width the formatter aims for.
pub const WIDTH: usize = 100;

/// Format source text.
pub fn format(text: &str) -> String {
    let parsed = parse(text, FileId(0));
    format_file(&parsed.file, text)
}

/// Format a parsed file (the tree must come from `text`).
pub fn format_file(file: &SourceFile, text: &str) -> String {
    let mut p = Printer { text: Some(text), comments: &file.comments, next: 0, out: String::new(), last_end: 0 };
    p.items(&file.items, 0);
    p.comments_before(text.len() + 1, 0, true);
    let mut out = p.out.trim_end().to_string();
    out.push('\n');
    if out.trim().is_empty() {
        return String::new();
    }
    out
}

/// An expression on one line, canonically (used in messages and to compare conditions).
pub fn expr_to_string(e: &Expr) -> String {
    let mut p = Printer { text: None, comments: &[], next: 0, out: String::new(), last_end: 0 };
    p.inline_expr(e)
}

struct Printer<'a> {
    text: Option<&'a str>,
    comments: &'a [Comment],
    next: usize,
    out: String,
    /// Source offset up to which nodes and comments have been printed.
    last_end: usize,
}

impl Printer<'_> {
    fn src(&self, sp: Span) -> Option<&str> {
        self.text.and_then(|t| t.get(sp.range()))
    }

    fn indent(&mut self, n: usize) {
        for _ in 0..n {
            self.out.push_str("  ");
        }
    }

    /// Whether the source has a blank line between `from` and `to`.
    fn blank_between(&self, from: usize, to: usize) -> bool {
        let Some(t) = self.text else { return false };
        let Some(gap) = t.get(from.min(to)..to) else { return false };
        gap.matches('\n').count() >= 2
    }

    /// Print own-line comments that start before `pos`.
    fn comments_before(&mut self, pos: usize, indent: usize, keep_blank: bool) {
        while let Some(c) = self.comments.get(self.next) {
            if c.span.start as usize >= pos {
                break;
            }
            if keep_blank
                && self.blank_between(self.last_end, c.span.start as usize)
                && !self.out.is_empty()
                && !self.out.ends_with("{\n")
            {
                self.out.push('\n');
            }
            self.indent(indent);
            self.out.push_str(c.text.trim_end());
            self.out.push('\n');
            self.last_end = c.span.end as usize;
            self.next += 1;
        }
    }

    /// Print a trailing comment that sits on the same source line after `end`, then a newline.
    fn end_line(&mut self, end: usize) {
        if let (Some(c), Some(t)) = (self.comments.get(self.next), self.text) {
            let start = c.span.start as usize;
            if start >= end && t.get(end..start).is_some_and(|g| !g.contains('\n')) {
                self.out.push(' ');
                self.out.push_str(c.text.trim_end());
                self.last_end = c.span.end as usize;
                self.next += 1;
                self.out.push('\n');
                return;
            }
        }
        self.last_end = self.last_end.max(end);
        self.out.push('\n');
    }

    /// Begin a line for a block entry starting at source offset `start`: the comments before it,
    /// a blank line if the source had one, and the indentation.
    fn start_entry(&mut self, start: usize, indent: usize) {
        self.comments_before(start, indent, true);
        if self.blank_between(self.last_end, start) && !self.out.ends_with("{\n") && !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
        self.indent(indent);
    }

    fn docs(&mut self, d: &Docs, indent: usize) {
        for l in &d.lines {
            self.indent(indent);
            if l.is_empty() {
                self.out.push_str("///\n");
            } else {
                self.out.push_str("/// ");
                self.out.push_str(l);
                self.out.push('\n');
            }
        }
    }

    fn items(&mut self, items: &[Item], indent: usize) {
        for item in items {
            let start = if item.docs.lines.is_empty() { item.span.start } else { item.docs.span.start } as usize;
            self.comments_before(start, indent, true);
            if !self.out.is_empty()
                && self.blank_between(self.last_end, start)
                && !self.out.ends_with("\n\n")
                && !self.out.ends_with("{\n")
            {
                self.out.push('\n');
            }
            self.docs(&item.docs, indent);
            self.item(item, indent);
        }
    }

    fn item(&mut self, item: &Item, indent: usize) {
        self.indent(indent);
        let end = item.span.end as usize;
        match &item.kind {
            ItemKind::Import(i) => {
                let path = self.src(i.path_span).map_or_else(|| quote(&i.path), str::to_string);
                let mut s = format!("import {path}");
                if let Some(a) = &i.alias {
                    s.push_str(&format!(" as {}", a.name));
                }
                self.out.push_str(&s);
            }
            ItemKind::Param(p) => {
                let s = format!("param {}: {}", p.name.name, ty(&p.ty));
                self.out.push_str(&s);
                if let Some(d) = &p.default {
                    self.out.push_str(" = ");
                    self.expr(d, indent);
                }
            }
            ItemKind::Artifact(a) => self.out.push_str(&format!("artifact {}", a.name)),
            ItemKind::Component(c) => {
                self.out.push_str(&format!("component {} {{\n", c.name.name));
                self.block(&c.body, indent);
            }
            ItemKind::Pipeline(p) => {
                self.out.push_str(&format!("pipeline {} {{\n", p.name.name));
                self.block(&p.body, indent);
            }
            ItemKind::Step(s) => self.step(s, indent),
            ItemKind::Port(p) => {
                let kw = if p.dir == PortDir::Input { "input" } else { "output" };
                self.out.push_str(&format!("{kw} {}: {}", p.name.name, ty(&p.ty)));
                if let Some(v) = &p.value {
                    self.out.push_str(" = ");
                    self.expr(v, indent);
                }
            }
            ItemKind::Attr(a) => {
                self.out.push_str(&format!("{} = ", a.name.name));
                self.expr(&a.value, indent);
            }
            ItemKind::StrayDoc | ItemKind::Error(_) => {
                let t = self.src(item.span).unwrap_or("").trim_end().to_string();
                self.out.push_str(&t);
                self.skip_comments_inside(item.span);
            }
        }
        self.end_line(end);
    }

    /// Comments inside verbatim text are printed with it.
    fn skip_comments_inside(&mut self, sp: Span) {
        while self.comments.get(self.next).is_some_and(|c| c.span.start >= sp.start && c.span.end <= sp.end) {
            self.next += 1;
        }
    }

    fn block(&mut self, b: &Block, indent: usize) {
        self.last_end = b.span.start as usize + 1;
        self.items(&b.members, indent + 1);
        let close = if b.unclosed { b.span.end as usize } else { (b.span.end as usize).saturating_sub(1) };
        self.comments_before(close, indent + 1, true);
        if b.unclosed {
            // Adding the brace would change what the file means; keep the error visible.
            self.last_end = b.span.end as usize;
            return;
        }
        self.indent(indent);
        self.out.push('}');
        self.last_end = b.span.end as usize;
    }

    fn source_is_multiline(&self, sp: Span) -> bool {
        // Written across lines when a newline follows the opening bracket.
        self.src(sp)
            .is_some_and(|s| s.trim_start_matches(['{', '[']).trim_start_matches([' ', '\t']).starts_with(['\n', '\r']))
    }

    fn has_comment_in(&self, sp: Span) -> bool {
        self.comments[self.next..].iter().any(|c| c.span.start >= sp.start && c.span.end <= sp.end)
    }

    fn step(&mut self, s: &StepDecl, indent: usize) {
        let head = format!("step {} = {} ", s.name.name, s.callee.display());
        self.out.push_str(&head);
        let when = s.when.as_ref().map(|w| format!(" when {}", self.inline_expr(w)));
        let args_only = s.body.entries.iter().all(|e| matches!(e, StepEntry::Arg(_)));
        let inline = if !s.body.unclosed
            && args_only
            && s.body.entries.len() <= 3
            && !self.source_is_multiline(s.body.span)
            && !self.has_comment_in(s.body.span)
        {
            let parts: Vec<String> = s
                .body
                .entries
                .iter()
                .filter_map(|e| match e {
                    StepEntry::Arg(a) => Some(format!("{} = {}", a.name.name, self.inline_expr(&a.value))),
                    _ => None,
                })
                .collect();
            let body = if parts.is_empty() { "{}".to_string() } else { format!("{{ {} }}", parts.join(", ")) };
            let width = indent * 2 + head.len() + body.len() + when.as_ref().map_or(0, String::len);
            (width <= WIDTH && !body.contains('\n')).then_some(body)
        } else {
            None
        };
        match inline {
            Some(body) => {
                self.out.push_str(&body);
                self.last_end = s.body.span.end as usize;
            }
            None => {
                self.out.push_str("{\n");
                self.last_end = s.body.span.start as usize + 1;
                for e in &s.body.entries {
                    let sp = match e {
                        StepEntry::Arg(a) => a.span,
                        StepEntry::Option(o) => o.span,
                        StepEntry::StrayDoc(sp) => *sp,
                        StepEntry::Error(n) => n.span,
                    };
                    self.start_entry(sp.start as usize, indent + 1);
                    match e {
                        StepEntry::Arg(a) => {
                            self.out.push_str(&format!("{} = ", a.name.name));
                            self.expr(&a.value, indent + 1);
                        }
                        StepEntry::Option(o) => {
                            self.out.push_str(&o.keyword.name);
                            if let Some(w) = &o.word {
                                self.out.push(' ');
                                self.out.push_str(&w.name);
                            }
                            if let Some(v) = &o.value {
                                self.out.push(' ');
                                self.expr(v, indent + 1);
                            }
                        }
                        StepEntry::StrayDoc(sp) | StepEntry::Error(ErrorNode { span: sp, .. }) => {
                            let t = self.src(*sp).unwrap_or("").trim_end().to_string();
                            self.out.push_str(&t);
                            self.skip_comments_inside(*sp);
                        }
                    }
                    self.end_line(sp.end as usize);
                }
                let close = if s.body.unclosed {
                    s.body.span.end as usize
                } else {
                    (s.body.span.end as usize).saturating_sub(1)
                };
                self.comments_before(close, indent + 1, true);
                self.last_end = s.body.span.end as usize;
                if !s.body.unclosed {
                    self.indent(indent);
                    self.out.push('}');
                }
            }
        }
        if let Some(w) = when {
            self.out.push_str(&w);
        }
    }

    /// Print an expression at the current position; records and lists may span lines.
    fn expr(&mut self, e: &Expr, indent: usize) {
        match &e.kind {
            ExprKind::Record(fields) => {
                let multi = self.source_is_multiline(e.span)
                    || self.has_comment_in(e.span)
                    || fields.iter().any(|f| matches!(f, Field::Error(_)));
                let inline = self.inline_expr(e);
                let col = self.out.rsplit('\n').next().map_or(0, str::len);
                if !multi && col + inline.len() <= WIDTH {
                    self.out.push_str(&inline);
                    self.last_end = e.span.end as usize;
                    return;
                }
                self.out.push_str("{\n");
                self.last_end = e.span.start as usize + 1;
                for f in fields {
                    let sp = match f {
                        Field::Entry { span, .. } => *span,
                        Field::Error(n) => n.span,
                    };
                    self.start_entry(sp.start as usize, indent + 1);
                    match f {
                        Field::Entry { name, value, .. } => {
                            self.out.push_str(&format!("{} = ", name.name));
                            self.expr(value, indent + 1);
                        }
                        Field::Error(n) => {
                            let t = self.src(n.span).unwrap_or("").trim_end().to_string();
                            self.out.push_str(&t);
                            self.skip_comments_inside(n.span);
                        }
                    }
                    self.end_line(sp.end as usize);
                }
                self.comments_before(e.span.end as usize - 1, indent + 1, true);
                self.indent(indent);
                self.out.push('}');
                self.last_end = e.span.end as usize;
            }
            ExprKind::List(items) => {
                let inline = self.inline_expr(e);
                let col = self.out.rsplit('\n').next().map_or(0, str::len);
                if !self.has_comment_in(e.span) && col + inline.len() <= WIDTH {
                    self.out.push_str(&inline);
                    self.last_end = e.span.end as usize;
                    return;
                }
                self.out.push_str("[\n");
                self.last_end = e.span.start as usize + 1;
                for it in items {
                    self.comments_before(it.span.start as usize, indent + 1, true);
                    self.indent(indent + 1);
                    self.expr(it, indent + 1);
                    self.out.push(',');
                    self.end_line(it.span.end as usize);
                }
                self.comments_before(e.span.end as usize - 1, indent + 1, true);
                self.indent(indent);
                self.out.push(']');
                self.last_end = e.span.end as usize;
            }
            _ => {
                let s = self.inline_expr(e);
                self.out.push_str(&s);
                self.last_end = self.last_end.max(e.span.end as usize);
            }
        }
    }

    fn inline_expr(&mut self, e: &Expr) -> String {
        match &e.kind {
            ExprKind::Int(i) => self.num_text(e).unwrap_or_else(|| i.to_string()),
            ExprKind::Float(f) => self.num_text(e).unwrap_or_else(|| format!("{f:?}")),
            ExprKind::Duration(ms) => self.num_text(e).unwrap_or_else(|| duration(*ms)),
            ExprKind::Size(b) => self.num_text(e).unwrap_or_else(|| size(*b)),
            ExprKind::Str(s) => self.num_text(e).filter(|t| t.starts_with('"')).unwrap_or_else(|| quote(s)),
            ExprKind::Bool(b) => b.to_string(),
            ExprKind::Name(n) => n.name.clone(),
            ExprKind::Field(b, f) => format!("{}.{}", self.inline_expr(b), f.name),
            ExprKind::Call(n, args) => {
                let a: Vec<String> = args
                    .iter()
                    .map(|a| match &a.name {
                        Some(k) => format!("{} = {}", k.name, self.inline_expr(&a.value)),
                        None => self.inline_expr(&a.value),
                    })
                    .collect();
                format!("{}({})", n.name, a.join(", "))
            }
            ExprKind::List(xs) => {
                let a: Vec<String> = xs.iter().map(|x| self.inline_expr(x)).collect();
                format!("[{}]", a.join(", "))
            }
            ExprKind::Record(fs) => {
                let a: Vec<String> = fs
                    .iter()
                    .map(|f| match f {
                        Field::Entry { name, value, .. } => format!("{} = {}", name.name, self.inline_expr(value)),
                        Field::Error(n) => n.text.trim().to_string(),
                    })
                    .collect();
                if a.is_empty() { "{}".to_string() } else { format!("{{ {} }}", a.join(", ")) }
            }
            ExprKind::Unary(UnOp::Neg, x) => format!("-{}", self.inline_expr(x)),
            ExprKind::Unary(UnOp::Not, x) => format!("not {}", self.inline_expr(x)),
            ExprKind::Binary(op, a, b) => format!("{} {} {}", self.inline_expr(a), op.symbol(), self.inline_expr(b)),
            ExprKind::If(c, a, b) => {
                format!("if {} then {} else {}", self.inline_expr(c), self.inline_expr(a), self.inline_expr(b))
            }
            ExprKind::Paren(x) => format!("({})", self.inline_expr(x)),
            ExprKind::Error => self.src(e.span).unwrap_or("").to_string(),
        }
    }

    fn num_text(&self, e: &Expr) -> Option<String> {
        self.src(e.span).map(str::to_string)
    }
}

fn ty(t: &TypeExpr) -> String {
    match t {
        TypeExpr::Named { path, optional, .. } => format!("{}{}", path.display(), if *optional { "?" } else { "" }),
        TypeExpr::Generic { name, arg, optional, .. } => {
            format!("{}<{}>{}", name.name, ty(arg), if *optional { "?" } else { "" })
        }
    }
}

/// A string literal with escapes.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn duration(mut ms: u64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let mut s = String::new();
    for (u, n) in DURATION_UNITS.iter().rev() {
        if ms >= *n && (ms.is_multiple_of(*n) || *u != "ms") {
            let k = ms / n;
            if k > 0 {
                s.push_str(&format!("{k}{u}"));
                ms -= k * n;
            }
        }
    }
    if ms > 0 {
        s.push_str(&format!("{ms}ms"));
    }
    s
}

fn size(b: u64) -> String {
    for (u, n) in SIZE_UNITS.iter().rev() {
        if b >= *n && b.is_multiple_of(*n) && *u != "B" {
            return format!("{}{u}", b / n);
        }
    }
    format!("{b}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_canonically_and_keeps_comments() {
        let src = "// head\nparam   a:int=1 // trailing\n\n\n\nstep s=c{x=a.out,y=2}\n";
        let out = format(src);
        assert_eq!(out, "// head\nparam a: int = 1 // trailing\n\nstep s = c { x = a.out, y = 2 }\n");
        assert_eq!(format(&out), out);
    }

    #[test]
    fn multiline_records_stay_multiline() {
        let src = "step t = tab.transform {\n  features = {\n    // scaled\n    a = log1p(x)\n    b = x / max(y, 0.01)\n  }\n}\n";
        let out = format(src);
        assert_eq!(out, src);
    }

    #[test]
    fn durations_and_sizes_print_in_units() {
        assert_eq!(duration(5_400_000), "1h30m");
        assert_eq!(duration(1500), "1s500ms");
        assert_eq!(size(2 << 30), "2GiB");
        assert_eq!(size(1_000_000), "1MB");
    }
}
