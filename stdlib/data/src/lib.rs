//! `mlp-data`: the data artifacts of the standard library (Statistics, Schema, Anomalies) as
//! Rust types with their JSON layout, and the logic over them that does not need the data
//! itself: schema inference from statistics, validation against a schema, drift and skew
//! distances, the TFDV-compatible export, and the terminal and HTML views.
//!
//! It sits between the host and the guests: the profiling kernel in `mlp-kernels` fills
//! [`stats::FeatureStats`]; the standard components (`stdlib/components`, built for
//! `wasm32-wasip2`) assemble and check the artifacts; the CLI renders them (`mlp show`,
//! `mlp schema diff`). No Arrow, no IO: serde only, so it builds for both targets.

#![warn(missing_docs)]

pub mod anomalies;
pub mod diff;
pub mod distance;
pub mod infer;
pub mod schema;
pub mod stats;
pub mod tfdv;
pub mod validate;
pub mod view;

#[cfg(test)]
mod testdata;
mod util;

/// The `format` written into every document here. A reader refuses a newer one.
pub const FORMAT: u32 = 1;
