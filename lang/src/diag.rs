//! Diagnostics as data: a stable code, a severity, a message, labels, help and an optional fix.
//!
//! Every phase of `mlp-lang` (parser, checker, lowering, `--set` overrides) reports problems as
//! [`Diagnostic`] values. They are rendered from this one model for the terminal (miette), as
//! JSON (`mlp check --format json`) and, later, as LSP diagnostics. The codes and their pages
//! under `docs/errors/` are listed in [`crate::codes`].

use crate::codes::Code;
use crate::syntax::ast::Span;
use serde::Serialize;
use std::sync::Arc;

/// Index of a file in a [`SourceMap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct FileId(pub u32);

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Stops `mlp check` and `mlp run`.
    Error,
    /// Reported, does not stop anything.
    Warning,
}

/// A labelled span.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Label {
    /// The file the span is in.
    pub file: FileId,
    /// The span.
    pub span: Span,
    /// What the label says (may be empty).
    pub message: String,
    /// The primary label says where the problem is; secondary ones give context.
    pub primary: bool,
}

/// One text replacement.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Edit {
    /// File to edit.
    pub file: FileId,
    /// Span to replace.
    pub span: Span,
    /// New text.
    pub replacement: String,
}

/// A machine-applicable fix.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Fix {
    /// What the fix does, e.g. "replace with `examples.out`".
    pub message: String,
    /// The edits, applied together.
    pub edits: Vec<Edit>,
}

/// A problem found in a pipeline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diagnostic {
    /// Stable code, e.g. `E0301`.
    pub code: Code,
    /// Error or warning.
    pub severity: Severity,
    /// One-line message.
    pub message: String,
    /// Labels; the first primary label locates the diagnostic.
    pub labels: Vec<Label>,
    /// How to fix it, in words.
    pub help: Option<String>,
    /// Further notes.
    pub notes: Vec<String>,
    /// A machine-applicable fix.
    pub fix: Option<Fix>,
}

impl Diagnostic {
    /// A diagnostic with the code's default severity and a primary label.
    pub fn new(code: Code, file: FileId, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: code.severity(),
            message: message.into(),
            labels: vec![Label { file, span, message: String::new(), primary: true }],
            help: None,
            notes: Vec::new(),
            fix: None,
        }
    }

    /// Set the primary label's text.
    pub fn label(mut self, text: impl Into<String>) -> Self {
        if let Some(l) = self.labels.iter_mut().find(|l| l.primary) {
            l.message = text.into();
        }
        self
    }

    /// Add a secondary label.
    pub fn secondary(mut self, file: FileId, span: Span, text: impl Into<String>) -> Self {
        self.labels.push(Label { file, span, message: text.into(), primary: false });
        self
    }

    /// Set the help text.
    pub fn help(mut self, text: impl Into<String>) -> Self {
        self.help = Some(text.into());
        self
    }

    /// Add a note.
    pub fn note(mut self, text: impl Into<String>) -> Self {
        self.notes.push(text.into());
        self
    }

    /// Attach a fix that replaces `span` in `file` with `replacement`.
    pub fn fix(mut self, message: impl Into<String>, file: FileId, span: Span, replacement: impl Into<String>) -> Self {
        self.fix =
            Some(Fix { message: message.into(), edits: vec![Edit { file, span, replacement: replacement.into() }] });
        self
    }

    /// For a misspelled `name` at `span`: when one of `options` is close, the help "did you mean
    /// `X`?" and the fix replacing it; otherwise the help `otherwise()`.
    pub fn did_you_mean<'a>(
        self,
        name: &str,
        options: impl IntoIterator<Item = &'a str>,
        file: FileId,
        span: Span,
        otherwise: impl FnOnce() -> String,
    ) -> Self {
        match suggest(name, options) {
            Some(s) => self.help(format!("did you mean `{s}`?")).fix(format!("replace with `{s}`"), file, span, s),
            None => self.help(otherwise()),
        }
    }

    /// The primary label.
    pub fn primary(&self) -> Option<&Label> {
        self.labels.iter().find(|l| l.primary)
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// One source file known to the compiler.
#[derive(Clone, Debug)]
pub struct SourceInfo {
    /// The name shown to users (a path relative to where `mlp` runs, or `std/...`).
    pub name: String,
    /// The text.
    pub text: Arc<str>,
}

/// All files of one compilation.
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceInfo>,
}

impl SourceMap {
    /// Add a file, returning its id.
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<Arc<str>>) -> FileId {
        self.files.push(SourceInfo { name: name.into(), text: text.into() });
        FileId(self.files.len() as u32 - 1)
    }
    /// A file by id.
    pub fn get(&self, id: FileId) -> &SourceInfo {
        &self.files[id.0 as usize]
    }
    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }
    /// Whether there are no files.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, id: FileId, offset: u32) -> (usize, usize) {
        line_col(&self.get(id).text, offset as usize)
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The largest char boundary `<= i`.
pub fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

// ---- rendering -------------------------------------------------------------------------------

/// A diagnostic bound to its sources, for miette.
struct Rendered {
    /// `None` for notes that point into another file.
    code: Option<Code>,
    severity: Option<Severity>,
    message: String,
    help: Option<String>,
    source: miette::NamedSource<Arc<str>>,
    labels: Vec<miette::LabeledSpan>,
    related: Vec<Rendered>,
}

impl std::fmt::Debug for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}
impl std::fmt::Display for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}
impl std::error::Error for Rendered {}

impl miette::Diagnostic for Rendered {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.code.map(|c| Box::new(c.as_str()) as Box<dyn std::fmt::Display>)
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Some(Severity::Error) => miette::Severity::Error,
            Some(Severity::Warning) => miette::Severity::Warning,
            None => miette::Severity::Advice,
        })
    }
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        Some(Box::new(self.labels.iter().cloned()))
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            None
        } else {
            Some(Box::new(self.related.iter().map(|r| r as &dyn miette::Diagnostic)))
        }
    }
}

fn bind(diag: &Diagnostic, sources: &SourceMap) -> Rendered {
    let primary_file = diag.primary().map(|l| l.file).unwrap_or(FileId(0));
    let to_span = |l: &Label| {
        let text = &sources.get(l.file).text;
        let start = floor_char_boundary(text, l.span.start as usize);
        let end = floor_char_boundary(text, (l.span.end as usize).max(start));
        let msg = if l.message.is_empty() { None } else { Some(l.message.clone()) };
        if l.primary {
            miette::LabeledSpan::new_primary_with_span(msg, (start, end - start))
        } else {
            miette::LabeledSpan::new_with_span(msg, (start, end - start))
        }
    };
    let mut labels = Vec::new();
    let mut related = Vec::new();
    for l in &diag.labels {
        if l.file == primary_file {
            labels.push(to_span(l));
        } else {
            let info = sources.get(l.file);
            related.push(Rendered {
                code: None,
                severity: None,
                message: if l.message.is_empty() { "see here".into() } else { l.message.clone() },
                help: None,
                source: miette::NamedSource::new(info.name.clone(), info.text.clone()),
                labels: vec![to_span(l)],
                related: Vec::new(),
            });
        }
    }
    let mut help = diag.help.clone();
    for n in &diag.notes {
        help = Some(match help {
            Some(h) => format!("{h}\nnote: {n}"),
            None => format!("note: {n}"),
        });
    }
    if let Some(fix) = &diag.fix {
        let line = format!("fix: {}", fix.message);
        help = Some(match help {
            Some(h) => format!("{h}\n{line}"),
            None => line,
        });
    }
    let info = sources.get(primary_file);
    Rendered {
        code: Some(diag.code),
        severity: Some(diag.severity),
        message: diag.message.clone(),
        help,
        source: miette::NamedSource::new(info.name.clone(), info.text.clone()),
        labels,
        related,
    }
}

/// Render diagnostics for a terminal, with or without colour.
pub fn render_terminal(diags: &[Diagnostic], sources: &SourceMap, color: bool) -> String {
    let theme = if color { miette::GraphicalTheme::unicode() } else { miette::GraphicalTheme::unicode_nocolor() };
    let handler = miette::GraphicalReportHandler::new_themed(theme).with_width(100);
    let mut out = String::new();
    for d in diags {
        let r = bind(d, sources);
        // Writing into a String cannot fail.
        let _ = handler.render_report(&mut out, &r);
        out.push('\n');
    }
    out
}

/// A diagnostic in its JSON form (positions resolved to lines and columns).
#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'a str,
    severity: Severity,
    message: &'a str,
    file: Option<&'a str>,
    line: Option<usize>,
    column: Option<usize>,
    labels: Vec<JsonLabel<'a>>,
    help: Option<&'a str>,
    notes: &'a [String],
    fix: Option<JsonFix<'a>>,
}

#[derive(Serialize)]
struct JsonLabel<'a> {
    file: &'a str,
    start: u32,
    end: u32,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    message: &'a str,
    primary: bool,
}

#[derive(Serialize)]
struct JsonFix<'a> {
    message: &'a str,
    edits: Vec<JsonEdit<'a>>,
}

#[derive(Serialize)]
struct JsonEdit<'a> {
    file: &'a str,
    start: u32,
    end: u32,
    replacement: &'a str,
}

/// Render diagnostics as a JSON array (one object per diagnostic).
pub fn render_json(diags: &[Diagnostic], sources: &SourceMap) -> String {
    let items: Vec<JsonDiagnostic> = diags
        .iter()
        .map(|d| {
            let labels: Vec<JsonLabel> = d
                .labels
                .iter()
                .map(|l| {
                    let (line, column) = sources.line_col(l.file, l.span.start);
                    let (end_line, end_column) = sources.line_col(l.file, l.span.end);
                    JsonLabel {
                        file: &sources.get(l.file).name,
                        start: l.span.start,
                        end: l.span.end,
                        line,
                        column,
                        end_line,
                        end_column,
                        message: &l.message,
                        primary: l.primary,
                    }
                })
                .collect();
            let primary = labels.iter().find(|l| l.primary);
            JsonDiagnostic {
                code: d.code.as_str(),
                severity: d.severity,
                message: &d.message,
                file: primary.map(|l| l.file),
                line: primary.map(|l| l.line),
                column: primary.map(|l| l.column),
                help: d.help.as_deref(),
                notes: &d.notes,
                fix: d.fix.as_ref().map(|f| JsonFix {
                    message: &f.message,
                    edits: f
                        .edits
                        .iter()
                        .map(|e| JsonEdit {
                            file: &sources.get(e.file).name,
                            start: e.span.start,
                            end: e.span.end,
                            replacement: &e.replacement,
                        })
                        .collect(),
                }),
                labels,
            }
        })
        .collect();
    serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".into())
}

/// Closest candidates to `name` among `options`, for "did you mean" help.
pub fn suggest<'a>(name: &str, options: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(f64, &str)> = None;
    for o in options {
        let score = strsim::jaro_winkler(name, o);
        let close = score > 0.8 || (name.len() > 2 && strsim::levenshtein(name, o) <= 2);
        if close && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, o));
        }
    }
    best.map(|(_, o)| o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_chars_not_bytes() {
        assert_eq!(line_col("ab\ncé d", 7), (2, 4));
        assert_eq!(line_col("abc", 0), (1, 1));
        assert_eq!(line_col("abc", 99), (1, 4));
    }

    #[test]
    fn suggest_finds_close_names() {
        assert_eq!(suggest("exampels", ["examples", "stats"]), Some("examples"));
        assert_eq!(suggest("zzz", ["examples", "stats"]), None);
    }
}
