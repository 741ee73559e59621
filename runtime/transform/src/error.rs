//! Errors of the transform crate: [`TransformError`], one variant per way a program can be
//! rejected (at type check, at compile time) or fail to run over a batch (a missing input
//! column, a column of the wrong Arrow type).

use crate::ir::Type;

/// Why a program was rejected or could not run.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TransformError {
    /// An expression does not type check; `output` names the output it belongs to and `expr`
    /// shows the offending sub-expression.
    #[error("output `{output}`: {message} in `{expr}`")]
    Type {
        /// The output whose expression is ill-typed.
        output: String,
        /// The offending sub-expression, printed.
        expr: String,
        /// What is wrong.
        message: String,
    },
    /// An expression refers to an input index the program does not declare, or declares it
    /// with another type.
    #[error("output `{output}`: column #{index} {message}")]
    BadColumn {
        /// The output whose expression refers to the column.
        output: String,
        /// The input index.
        index: usize,
        /// What is wrong.
        message: String,
    },
    /// A feature of a feature block cannot be lowered or fitted: an unknown column or
    /// function, a bad argument, a cycle.
    #[error("feature `{feature}`: {message}")]
    Feature {
        /// The feature.
        feature: String,
        /// What is wrong, with the expression at fault.
        message: String,
    },
    /// The program is malformed: duplicate output names, bad bucket boundaries.
    #[error("invalid program: {0}")]
    Invalid(String),
    /// The batch has no column of an input's name.
    #[error("no column `{column}` in the batch (needed by the program's input #{index})")]
    MissingColumn {
        /// The input's name.
        column: String,
        /// The input index.
        index: usize,
    },
    /// The batch's column has another Arrow type than the input declares.
    #[error("column `{column}` is {found}, but the program reads it as {expected}")]
    ColumnType {
        /// The column's name.
        column: String,
        /// The type the program declares.
        expected: Type,
        /// The Arrow type found in the batch.
        found: String,
    },
    /// Cranelift failed to compile or link the program (a bug of this crate if it happens).
    #[error("code generation failed: {0}")]
    Codegen(String),
    /// Arrow refused to build the output batch.
    #[error("arrow: {0}")]
    Arrow(String),
}

/// A result with [`TransformError`].
pub type Result<T, E = TransformError> = std::result::Result<T, E>;
