//! `mlp-transform`: feature expressions (the lines of an `.mlp` feature block, such as
//! `fare_log = log1p(fare)`) compiled once to native code with Cranelift and applied to Arrow
//! record batches, so that training, evaluation and serving run the very same machine code.
//!
//! - [`ir`]: the expression IR ([`Expr`], [`ProgramIr`]), its types and its null semantics.
//! - [`compile`]: the Cranelift code generator: one native function per program, looping
//!   over the rows of a batch.
//! - [`eval`]: [`Program::run`], the bridge between Arrow arrays and the compiled function.
//! - [`reference`]: a row-by-row interpreter with the same semantics, the oracle of the tests.
//! - [`spec`]: feature blocks as the host receives them (the language IR's JSON).
//! - [`fit`]: lowering a spec against the training data's columns and fitting its analyzers
//!   (z-score, scale to [0, 1], vocabulary, quantile buckets) on the training split only.
//! - [`graph`]: the fitted, versioned [`TransformGraph`] and its compiled form,
//!   [`CompiledTransform`], which every consumer (transform step, evaluation, inference,
//!   serving) applies.
//!
//! Pure computation: no IO, no wasmtime (it shares wasmtime's Cranelift series).

#![warn(missing_docs)]

pub mod compile;
pub mod error;
pub mod eval;
pub mod fit;
pub mod graph;
pub mod ir;
pub mod reference;
pub mod spec;

pub use compile::Program;
pub use error::{Result, TransformError};
pub use fit::fit;
pub use graph::{CompiledTransform, TransformGraph};
pub use ir::{BinaryOp, Expr, Input, Output, ProgramIr, Scalar, Type, UnaryOp};
pub use spec::{FeatureDef, parse_spec};
