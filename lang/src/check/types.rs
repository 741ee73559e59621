//! Types of the language: value types, artifact types, and the built-in feature functions.
//!
//! Part of the checker. `Ty::Dyn` is the type of things only known when the pipeline runs
//! (table columns, metric names); it is compatible with everything. `Ty::Error` marks an
//! expression that already produced a diagnostic, so one mistake is reported once.

use serde::Serialize;

/// The built-in artifact types.
pub const BUILTIN_ARTIFACTS: &[&str] = &[
    "Examples",
    "Statistics",
    "Schema",
    "Anomalies",
    "TransformGraph",
    "Model",
    "HyperParameters",
    "Evaluation",
    "Blessing",
    "InfraBlessing",
    "PushedModel",
    "Prompt",
    "Adapter",
    "Dataset",
];

/// The names of the scalar value types.
pub const SCALAR_TYPES: &[&str] =
    &["int", "float", "bool", "string", "path", "duration", "size", "features", "expr", "space", "component"];

/// A type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Ty {
    /// 64-bit integer.
    Int,
    /// 64-bit float.
    Float,
    /// Boolean.
    Bool,
    /// Text.
    Str,
    /// A file or folder path.
    Path,
    /// A span of time.
    Duration,
    /// A number of bytes.
    Size,
    /// `list<T>`
    List(Box<Ty>),
    /// `map<T>`
    Map(Box<Ty>),
    /// A feature-expression block.
    Features,
    /// A boolean expression evaluated when the step runs.
    Expr,
    /// A hyperparameter search space: `{ name = choice(...) | range(lo, hi) | ... }`.
    Space,
    /// A component, named as in a step: `tab.train_mlp`.
    Component,
    /// An artifact type, by canonical name (`Examples`, or `file.mlp#Name` for declared ones).
    Artifact(String),
    /// `T?`
    Optional(Box<Ty>),
    /// Known only at run time (columns, metrics).
    Dyn,
    /// Already reported.
    Error,
}

impl Ty {
    /// Strip one `?`.
    pub fn unopt(&self) -> &Ty {
        match self {
            Ty::Optional(t) => t,
            t => t,
        }
    }
    /// Whether this is `T?`.
    pub fn is_optional(&self) -> bool {
        matches!(self, Ty::Optional(_))
    }
    /// Whether this is an artifact type (possibly optional).
    pub fn is_artifact(&self) -> bool {
        matches!(self.unopt(), Ty::Artifact(_))
    }
    /// Whether values of this type are numbers (or may be).
    pub fn is_numeric(&self) -> bool {
        matches!(self, Ty::Int | Ty::Float | Ty::Dyn | Ty::Error)
    }
    /// Whether this type is unknown or already reported.
    pub fn is_loose(&self) -> bool {
        matches!(self, Ty::Dyn | Ty::Error)
    }

    /// Whether a value of type `self` may be given where `want` is expected.
    pub fn fits(&self, want: &Ty) -> bool {
        match (self, want) {
            (a, b) if a == b => true,
            (Ty::Dyn | Ty::Error, _) | (_, Ty::Dyn | Ty::Error) => true,
            (a, Ty::Optional(b)) => a.fits(b),
            (Ty::Int, Ty::Float) => true,
            (Ty::Str, Ty::Path) => true,
            (Ty::List(a), Ty::List(b)) | (Ty::Map(a), Ty::Map(b)) => a.fits(b),
            _ => false,
        }
    }

    /// How users write this type.
    pub fn display(&self) -> String {
        match self {
            Ty::Int => "int".into(),
            Ty::Float => "float".into(),
            Ty::Bool => "bool".into(),
            Ty::Str => "string".into(),
            Ty::Path => "path".into(),
            Ty::Duration => "duration".into(),
            Ty::Size => "size".into(),
            Ty::List(t) => format!("list<{}>", t.display()),
            Ty::Map(t) => format!("map<{}>", t.display()),
            Ty::Features => "features".into(),
            Ty::Expr => "expr".into(),
            Ty::Space => "space".into(),
            Ty::Component => "component".into(),
            Ty::Artifact(a) => a.rsplit('#').next().unwrap_or(a).to_string(),
            Ty::Optional(t) => format!("{}?", t.display()),
            Ty::Dyn => "a column".into(),
            Ty::Error => "{unknown}".into(),
        }
    }
}

/// How a built-in function is typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FnKind {
    /// Numbers in, float out.
    Math,
    /// Like `abs`, `min`, `max`, `clip`: int in gives int out.
    Preserve,
    /// Full-pass analyzer fitted on the training split.
    Analyzer,
    /// Anything else, typed by name.
    Special,
}

/// A built-in function's signature.
#[derive(Clone, Copy, Debug)]
pub struct FnSig {
    /// Its name.
    pub name: &'static str,
    /// Fewest positional arguments.
    pub min: usize,
    /// Most positional arguments.
    pub max: usize,
    /// Named arguments it takes (name, whether it must be an int constant).
    pub named: &'static [&'static str],
    /// How it is typed.
    pub kind: FnKind,
    /// One line for docs and hovers.
    pub doc: &'static str,
}

/// Every built-in function usable in expressions.
pub const FUNCTIONS: &[FnSig] = &[
    FnSig { name: "log", min: 1, max: 1, named: &[], kind: FnKind::Math, doc: "natural logarithm" },
    FnSig { name: "log1p", min: 1, max: 1, named: &[], kind: FnKind::Math, doc: "ln(1 + x)" },
    FnSig { name: "exp", min: 1, max: 1, named: &[], kind: FnKind::Math, doc: "e to the power x" },
    FnSig { name: "sqrt", min: 1, max: 1, named: &[], kind: FnKind::Math, doc: "square root" },
    FnSig { name: "pow", min: 2, max: 2, named: &[], kind: FnKind::Math, doc: "x to the power y" },
    FnSig { name: "round", min: 1, max: 1, named: &[], kind: FnKind::Math, doc: "round half away from zero" },
    FnSig { name: "floor", min: 1, max: 1, named: &[], kind: FnKind::Math, doc: "round down" },
    FnSig { name: "ceil", min: 1, max: 1, named: &[], kind: FnKind::Math, doc: "round up" },
    FnSig { name: "abs", min: 1, max: 1, named: &[], kind: FnKind::Preserve, doc: "absolute value" },
    FnSig { name: "min", min: 2, max: 2, named: &[], kind: FnKind::Preserve, doc: "smaller of two numbers" },
    FnSig { name: "max", min: 2, max: 2, named: &[], kind: FnKind::Preserve, doc: "larger of two numbers" },
    FnSig { name: "clip", min: 3, max: 3, named: &[], kind: FnKind::Preserve, doc: "x limited to [lo, hi]" },
    FnSig { name: "float", min: 1, max: 1, named: &[], kind: FnKind::Special, doc: "convert to float" },
    FnSig { name: "int", min: 1, max: 1, named: &[], kind: FnKind::Special, doc: "convert to int (truncates)" },
    FnSig { name: "string", min: 1, max: 1, named: &[], kind: FnKind::Special, doc: "convert to string" },
    FnSig { name: "is_null", min: 1, max: 1, named: &[], kind: FnKind::Special, doc: "whether the value is missing" },
    FnSig { name: "fill_null", min: 2, max: 2, named: &[], kind: FnKind::Special, doc: "x, or v where x is missing" },
    FnSig {
        name: "bucketize",
        min: 2,
        max: 2,
        named: &[],
        kind: FnKind::Special,
        doc: "index of the bucket between sorted boundaries",
    },
    FnSig {
        name: "hash_bucket",
        min: 2,
        max: 2,
        named: &[],
        kind: FnKind::Special,
        doc: "stable hash of a value into n buckets",
    },
    FnSig {
        name: "cross",
        min: 2,
        max: 2,
        named: &["buckets"],
        kind: FnKind::Special,
        doc: "hashed feature cross of two values",
    },
    FnSig { name: "col", min: 1, max: 1, named: &[], kind: FnKind::Special, doc: "the input column with this name" },
    FnSig {
        name: "zscore",
        min: 1,
        max: 1,
        named: &[],
        kind: FnKind::Analyzer,
        doc: "(x - mean) / stddev, fitted on the training split",
    },
    FnSig {
        name: "scale01",
        min: 1,
        max: 1,
        named: &[],
        kind: FnKind::Analyzer,
        doc: "x scaled to [0, 1] by the training min and max",
    },
    FnSig {
        name: "vocabulary",
        min: 1,
        max: 1,
        named: &["top"],
        kind: FnKind::Analyzer,
        doc: "index in the top-k training values; k for others",
    },
    FnSig {
        name: "quantile_bucket",
        min: 1,
        max: 1,
        named: &["buckets"],
        kind: FnKind::Analyzer,
        doc: "bucket by training quantiles",
    },
];

/// Look a function up by name.
pub fn function(name: &str) -> Option<&'static FnSig> {
    FUNCTIONS.iter().find(|f| f.name == name)
}
