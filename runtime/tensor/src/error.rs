//! Errors of the tensor kernels: a shape that does not fit an operation, a bad argument, a
//! handle from another tape or parameter set, a GPU that could not be opened or failed.

/// Why an operation was refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TensorError {
    /// The operands' shapes do not fit the operation.
    #[error("{op}: {message}")]
    Shape {
        /// The operation.
        op: &'static str,
        /// What does not fit, with the shapes.
        message: String,
    },
    /// An argument is out of its domain (a class index past the number of classes, a negative
    /// learning rate, ...).
    #[error("{op}: {message}")]
    Invalid {
        /// The operation.
        op: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A handle that does not belong to this tape or parameter set.
    #[error("{0}")]
    Handle(String),
    /// A GPU could not be opened (no driver, no library, no device) or failed during an
    /// operation (`crate::cuda`, feature `cuda`). The message names what is missing or what
    /// the CUDA call reported.
    #[error("{0}")]
    Device(String),
}

/// Results of this crate.
pub type Result<T> = std::result::Result<T, TensorError>;

pub(crate) fn shape(op: &'static str, message: impl Into<String>) -> TensorError {
    TensorError::Shape { op, message: message.into() }
}

pub(crate) fn invalid(op: &'static str, message: impl Into<String>) -> TensorError {
    TensorError::Invalid { op, message: message.into() }
}
