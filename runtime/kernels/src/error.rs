//! Errors of the kernels: [`KernelError`] with an [`ErrorKind`] that mirrors the WIT
//! `error-kind` of `mlp:plugin/types`, so the wasmtime host maps them one to one.
//!
//! Every kernel returns `Result<_, KernelError>`. Messages are plain one-liners for the user;
//! the optional `detail` carries the extra context (the table's columns, a row number).

use arrow_schema::{ArrowError, Schema};

/// Why a kernel failed; mirrors WIT `error-kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// An argument was invalid: wrong type, out of range, a bad expression.
    InvalidArgument,
    /// Something named does not exist, such as a column.
    NotFound,
    /// The step's grants do not allow this.
    Denied,
    /// A memory, time or size limit was reached.
    Limit,
    /// The data is not what the kernel expects: a value that does not cast, bad IPC bytes.
    Data,
    /// Anything else.
    Other,
}

/// An error with a one-line message for the user; mirrors WIT `error`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct KernelError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// One line, in plain words.
    pub message: String,
    /// Optional extra detail: the columns of a table, a row number.
    pub detail: Option<String>,
}

impl KernelError {
    /// An error of `kind` with `message` and no detail.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> KernelError {
        KernelError { kind, message: message.into(), detail: None }
    }

    /// An [`ErrorKind::InvalidArgument`] error.
    pub fn invalid(message: impl Into<String>) -> KernelError {
        KernelError::new(ErrorKind::InvalidArgument, message)
    }

    /// An [`ErrorKind::Data`] error.
    pub fn data(message: impl Into<String>) -> KernelError {
        KernelError::new(ErrorKind::Data, message)
    }

    /// An [`ErrorKind::Limit`] error.
    pub fn limit(message: impl Into<String>) -> KernelError {
        KernelError::new(ErrorKind::Limit, message)
    }

    /// This error with `detail` set.
    pub fn with_detail(mut self, detail: impl Into<String>) -> KernelError {
        self.detail = Some(detail.into());
        self
    }

    /// This error with another kind (the message and detail are kept).
    pub fn with_kind(mut self, kind: ErrorKind) -> KernelError {
        self.kind = kind;
        self
    }

    /// The error for a column name that `schema` does not have: [`ErrorKind::NotFound`], a
    /// message that names the column and suggests the closest existing name, and the list of
    /// the table's columns as detail.
    pub fn unknown_column(schema: &Schema, name: &str) -> KernelError {
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        let message = match mlp_lang::diag::suggest(name, names.iter().copied()) {
            Some(s) => format!("no column `{name}` in the table; did you mean `{s}`?"),
            None => format!("no column `{name}` in the table"),
        };
        let detail = if names.is_empty() {
            "the table has no columns".to_string()
        } else {
            format!("columns: {}", names.join(", "))
        };
        KernelError::new(ErrorKind::NotFound, message).with_detail(detail)
    }

    /// Wrap an Arrow error: `what` says what failed (a one-line prefix), the Arrow message
    /// follows it.
    pub fn arrow(kind: ErrorKind, what: &str, err: ArrowError) -> KernelError {
        KernelError::new(kind, format!("{what}: {}", one_line(&arrow_message(&err))))
    }
}

/// Arrow's message without the variant prefix (`Compute error: `, ...).
fn arrow_message(err: &ArrowError) -> String {
    match err {
        ArrowError::ComputeError(m)
        | ArrowError::InvalidArgumentError(m)
        | ArrowError::CastError(m)
        | ArrowError::ParseError(m)
        | ArrowError::SchemaError(m)
        | ArrowError::IpcError(m)
        | ArrowError::NotYetImplemented(m)
        | ArrowError::MemoryError(m)
        | ArrowError::JsonError(m)
        | ArrowError::CsvError(m)
        | ArrowError::ParquetError(m)
        | ArrowError::CDataInterface(m)
        | ArrowError::ArithmeticOverflow(m) => m.clone(),
        other => other.to_string(),
    }
}

/// `s` on one line: newlines and runs of whitespace become single spaces.
pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Shorthand for kernel results.
pub type Result<T, E = KernelError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::{DataType, Field};

    #[test]
    fn unknown_column_suggests_and_lists() {
        let schema =
            Schema::new(vec![Field::new("fare", DataType::Float64, true), Field::new("tips", DataType::Float64, true)]);
        let e = KernelError::unknown_column(&schema, "fair");
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(e.message, "no column `fair` in the table; did you mean `fare`?");
        assert_eq!(e.detail.as_deref(), Some("columns: fare, tips"));
        assert_eq!(e.to_string(), e.message);

        let e = KernelError::unknown_column(&schema, "zzzzzzzz");
        assert_eq!(e.message, "no column `zzzzzzzz` in the table");
    }

    #[test]
    fn arrow_errors_become_one_line() {
        let e = KernelError::arrow(ErrorKind::Data, "cast failed", ArrowError::CastError("bad\nvalue".into()));
        assert_eq!(e.kind, ErrorKind::Data);
        assert_eq!(e.message, "cast failed: bad value");
    }
}
