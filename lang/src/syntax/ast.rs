//! The syntax tree of one `.mlp` file, as the parser builds it.
//!
//! Every node carries the byte [`Span`] it came from. The tree may be incomplete: a piece of
//! text that did not parse becomes an `Error` node (an item, a block entry or a record field),
//! so that the checker, the formatter and the language server can still work on the rest.
//! Comments are not part of the tree; the parser returns them in a flat list beside it.

use serde::Serialize;

/// A half-open byte range `start..end` into one source file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Span {
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl Span {
    /// A span from byte offsets.
    pub fn new(start: usize, end: usize) -> Span {
        Span { start: start as u32, end: end as u32 }
    }
    /// The empty span at `at`.
    pub fn point(at: usize) -> Span {
        Span::new(at, at)
    }
    /// Smallest span covering both.
    pub fn cover(self, other: Span) -> Span {
        Span { start: self.start.min(other.start), end: self.end.max(other.end) }
    }
    /// As a `Range<usize>`.
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
    /// Length in bytes.
    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }
    /// Whether the span is empty.
    pub fn is_empty(self) -> bool {
        self.start == self.end
    }
}

/// A name as written, with its span.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ident {
    /// The text of the name.
    pub name: String,
    /// Where it stands.
    pub span: Span,
}

/// A comment (`// ...`), kept for the formatter.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comment {
    /// The comment text including the leading `//`, without the newline.
    pub text: String,
    /// Where it stands.
    pub span: Span,
}

/// Doc comment lines (`/// ...`) attached to an item or member, with the markers removed.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Docs {
    /// One entry per `///` line, the marker and one following space removed.
    pub lines: Vec<String>,
    /// Span of all the doc lines; empty when there are none.
    pub span: Span,
}

impl Docs {
    /// The doc text joined with newlines.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

/// One parsed file.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SourceFile {
    /// Top-level items in source order, including error items.
    pub items: Vec<Item>,
    /// Every comment in the file, in source order.
    pub comments: Vec<Comment>,
}

/// A top-level item or a member of a pipeline body.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Item {
    /// Its doc comment.
    pub docs: Docs,
    /// What it is.
    pub kind: ItemKind,
    /// Span without the doc comment.
    pub span: Span,
}

/// The kinds of item.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ItemKind {
    /// `import "path" as ns`
    Import(Import),
    /// `param name: type = default`
    Param(ParamDecl),
    /// `artifact Name`
    Artifact(Ident),
    /// `component name { ... }`
    Component(ComponentDecl),
    /// `pipeline name { ... }`
    Pipeline(PipelineDecl),
    /// `step name = callee { ... } when cond`
    Step(StepDecl),
    /// `input name: Type` or `output name: Type = expr` (in component and pipeline bodies).
    Port(PortDecl),
    /// `name = expr` attribute in a component body (`wasm`, `digest`).
    Attr(Attr),
    /// A stray `///` comment that documents nothing.
    StrayDoc,
    /// Text that did not parse.
    Error(ErrorNode),
}

/// An import.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Import {
    /// The path literal as written (unescaped).
    pub path: String,
    /// Span of the string literal.
    pub path_span: Span,
    /// The namespace alias after `as`, if written.
    pub alias: Option<Ident>,
}

/// A parameter declaration (pipeline, sub-pipeline or component).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParamDecl {
    /// Its name.
    pub name: Ident,
    /// Its declared type.
    pub ty: TypeExpr,
    /// Its default value.
    pub default: Option<Expr>,
}

/// Input or output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum PortDir {
    /// `input`
    Input,
    /// `output`
    Output,
}

/// `input name: Type` / `output name: Type [= expr]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PortDecl {
    /// Direction.
    pub dir: PortDir,
    /// Name.
    pub name: Ident,
    /// Declared type.
    pub ty: TypeExpr,
    /// The bound value (pipeline outputs).
    pub value: Option<Expr>,
}

/// `name = expr` inside a component body.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Attr {
    /// Attribute name.
    pub name: Ident,
    /// Its value.
    pub value: Expr,
}

/// A component declaration.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ComponentDecl {
    /// Its name.
    pub name: Ident,
    /// The body members (ports, params, attributes, errors).
    pub body: Block,
}

/// A sub-pipeline declaration.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PipelineDecl {
    /// Its name.
    pub name: Ident,
    /// The body members (ports, params, steps, errors).
    pub body: Block,
}

/// A braced block of members.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Block {
    /// Members in source order.
    pub members: Vec<Item>,
    /// Span from `{` to `}`.
    pub span: Span,
    /// Where the closing brace is missing, if it is.
    pub unclosed: bool,
}

/// A step.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepDecl {
    /// The step's name.
    pub name: Ident,
    /// The component or pipeline it calls: `ns.name` or `name`.
    pub callee: Path,
    /// The step body.
    pub body: StepBody,
    /// The `when` condition.
    pub when: Option<Expr>,
}

/// A possibly namespaced name: `a` or `ns.a`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Path {
    /// Namespace, if written.
    pub ns: Option<Ident>,
    /// The name.
    pub name: Ident,
    /// Whole span.
    pub span: Span,
}

impl Path {
    /// `ns.name` or `name`.
    pub fn display(&self) -> String {
        match &self.ns {
            Some(ns) => format!("{}.{}", ns.name, self.name.name),
            None => self.name.name.clone(),
        }
    }
}

/// The `{ ... }` of a step.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepBody {
    /// Entries in source order.
    pub entries: Vec<StepEntry>,
    /// Span from `{` to `}`.
    pub span: Span,
    /// Whether the closing brace is missing.
    pub unclosed: bool,
}

/// One entry of a step body.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum StepEntry {
    /// `name = expr`
    Arg(Arg),
    /// `grant read x`, `limit time 5m`, `retry 2`, `cache off`.
    Option(StepOption),
    /// A stray doc comment.
    StrayDoc(Span),
    /// A line that did not parse.
    Error(ErrorNode),
}

/// A named argument.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Arg {
    /// Argument name.
    pub name: Ident,
    /// Its value.
    pub value: Expr,
    /// Whole span.
    pub span: Span,
}

/// A step option line: `KEYWORD [word] [value]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepOption {
    /// `grant`, `limit`, `retry` or `cache`.
    pub keyword: Ident,
    /// The word after the keyword (`read`, `time`, `off`, ...).
    pub word: Option<Ident>,
    /// The value.
    pub value: Option<Expr>,
    /// Whole span.
    pub span: Span,
}

/// Text that did not parse, kept verbatim.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ErrorNode {
    /// The text.
    pub text: String,
    /// Where.
    pub span: Span,
}

/// A type as written.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum TypeExpr {
    /// `int`, `Examples`, `ns.Embeddings`.
    Named {
        /// The name.
        path: Path,
        /// Followed by `?`.
        optional: bool,
        /// Span.
        span: Span,
    },
    /// `list<T>`, `map<T>`.
    Generic {
        /// `list` or `map`.
        name: Ident,
        /// The argument.
        arg: Box<TypeExpr>,
        /// Followed by `?`.
        optional: bool,
        /// Span.
        span: Span,
    },
}

impl TypeExpr {
    /// The span of the whole type.
    pub fn span(&self) -> Span {
        match self {
            TypeExpr::Named { span, .. } | TypeExpr::Generic { span, .. } => *span,
        }
    }
}

/// An expression.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it stands.
    pub span: Span,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BinOp {
    /// `??`
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
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
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

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnOp {
    /// `-x`
    Neg,
    /// `not x`
    Not,
}

/// Units of a duration literal, in milliseconds.
pub const DURATION_UNITS: &[(&str, u64)] =
    &[("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)];

/// Units of a byte-size literal, in bytes.
pub const SIZE_UNITS: &[(&str, u64)] = &[
    ("B", 1),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("TB", 1_000_000_000_000),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("TiB", 1 << 40),
];

/// Expression kinds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ExprKind {
    /// `42`
    Int(i64),
    /// `0.5`, `1e-3`
    Float(f64),
    /// `"text"` (unescaped).
    Str(String),
    /// `true`, `false`
    Bool(bool),
    /// `30s`, `1h30m` in milliseconds.
    Duration(u64),
    /// `512MiB` in bytes.
    Size(u64),
    /// A bare name.
    Name(Ident),
    /// `base.field`
    Field(Box<Expr>, Ident),
    /// `f(a, b, k = v)`
    Call(Ident, Vec<CallArg>),
    /// `[a, b]`
    List(Vec<Expr>),
    /// `{ k = v, ... }`
    Record(Vec<Field>),
    /// `-x`, `not x`
    Unary(UnOp, Box<Expr>),
    /// `a op b`
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `if c then a else b`
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `( e )`
    Paren(Box<Expr>),
    /// Something that did not parse (the parser already reported it).
    Error,
}

/// A call argument, optionally named.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CallArg {
    /// `name =`, if written.
    pub name: Option<Ident>,
    /// The value.
    pub value: Expr,
}

/// A record field `name = expr`, or a field that did not parse.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Field {
    /// `name = value`
    Entry {
        /// The field name.
        name: Ident,
        /// Its value.
        value: Expr,
        /// Whole span.
        span: Span,
    },
    /// A field that did not parse.
    Error(ErrorNode),
}
