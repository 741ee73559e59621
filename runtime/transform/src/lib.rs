//! `mlp-transform`: feature expressions (the lines of an `.mlp` feature block, such as
//! `fare_log = log1p(fare)`) compiled once to native code with Cranelift and applied to Arrow
//! record batches, so that training, evaluation and serving run the very same machine code.
//!
//! - [`ir`]: the expression IR ([`Expr`], [`ProgramIr`]), its types and its null semantics.
//! - [`compile`]: the Cranelift code generator: one native function per program, looping
//!   over the rows of a batch.
//! - [`eval`]: [`Program::run`], the bridge between Arrow arrays and the compiled function.
//! - [`reference`]: a row-by-row interpreter with the same semantics, the oracle of the tests.
//!
//! Pure computation: no IO, no wasmtime (it shares wasmtime's Cranelift series).

#![warn(missing_docs)]

pub mod compile;
pub mod error;
pub mod eval;
pub mod ir;
pub mod reference;

pub use compile::Program;
pub use error::{Result, TransformError};
pub use ir::{BinaryOp, Expr, Input, Output, ProgramIr, Scalar, Type, UnaryOp};
