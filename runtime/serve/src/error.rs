//! Errors of the server: a serving directory that does not read, a version that cannot be
//! served, bad options, an address that cannot be bound, a prediction that failed.

use crate::layout::LayoutError;

/// Why serving (or loading a version) failed.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The serving directory or a version's files do not read.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// A version's files read but do not make a servable model.
    #[error("version {version} cannot be served: {reason}")]
    Load {
        /// The version.
        version: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// An option is out of its range.
    #[error("{option}: {message}")]
    Option {
        /// The option, as the command line spells it (`--max-batch`).
        option: &'static str,
        /// What is wrong and what to give instead.
        message: String,
    },
    /// The address cannot be listened on.
    #[error("cannot listen on {addr}: {source} (is another server on that port? choose another with --port)")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The HTTP server failed.
    #[error("the server failed: {0}")]
    Server(String),
    /// A batch could not be scored (the version's transform or model refused it).
    #[error("the prediction failed: {0}")]
    Predict(String),
}
