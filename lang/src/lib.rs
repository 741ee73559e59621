//! `mlp-lang`: the `.mlp` language front end.
//!
//! Text goes through [`syntax`] (pest grammar, syntax tree, a parser that never fails), then
//! [`check`] (imports, names, types, optional outputs, cycles) and is lowered to the [`ir`], the
//! runtime's only input. Problems are [`diag::Diagnostic`] values with stable [`codes`]. The
//! [`fmt`] module is the canonical formatter. This crate does no IO: files come through the
//! [`source::Loader`] trait, so the CLI, tests and the language server share one front end.

// The pest-generated parser names `::alloc` (pest is used without its `std` feature, which
// costs a stack probe on every rule call; nesting is bounded by the parser instead).
extern crate alloc;

pub mod check;
pub mod codes;
pub mod diag;
pub mod fmt;
pub mod ir;
pub mod search;
pub mod source;
pub mod syntax;

pub use check::{CheckOptions, Checked, check};
pub use codes::Code;
pub use diag::{Diagnostic, Severity, SourceMap};
