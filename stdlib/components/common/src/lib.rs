//! `mlp-std-common`: what the standard components share. [`spans`] finds the files of the span
//! (and version) a step reads; [`ingest`] is the whole ingest step (files in, typed and split
//! Examples out) for every format; [`json_part`] and friends read and write the JSON documents of
//! Statistics, Schema and Anomalies artifacts; [`train`] is what the trainers share, and
//! [`metrics`] the model metrics `tune` and `evaluate` compute.
//!
//! It runs inside the guest (wasm32-wasip2): files are read through WASI, which sees only what
//! the step was granted; the heavy work (decoding, splitting, statistics) is host kernels.

pub mod ingest;
pub mod metrics;
pub mod spans;
pub mod train;

use mlp_sdk::{Artifact, Error, Output, Table};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Reads the JSON part `part` of `artifact` as `T`, naming the part on failure.
pub fn json_part<T: DeserializeOwned>(artifact: &Artifact, part: &str) -> Result<T, Error> {
    let text = artifact.json(part)?;
    serde_json::from_str(&text).map_err(|e| {
        Error::data(format!("the `{part}` part of the {} artifact is not valid: {e}", artifact.artifact_type()))
            .with_detail(format!("artifact {}", artifact.digest()))
    })
}

/// Writes `value` as the JSON part `part` of `out` (pretty-printed: these documents are read by
/// people).
pub fn put_json<T: Serialize>(out: &Output, part: &str, value: &T) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::new(mlp_sdk::ErrorKind::Other, format!("cannot encode `{part}`: {e}")))?;
    out.put_json(part, &text)
}

/// Checks the `format` of a document against what this build reads.
pub fn check_format(what: &str, format: u32) -> Result<(), Error> {
    if format > mlp_data::FORMAT {
        return Err(Error::data(format!(
            "the {what} has format {format}, and this mlp reads up to {}; upgrade mlp",
            mlp_data::FORMAT
        )));
    }
    Ok(())
}

/// Rows copied into the guest per host call by [`read_f64s`].
pub const READ_CHUNK: u64 = 1 << 16;

/// A column's values as floats (nulls as NaN), read in chunks of [`READ_CHUNK`] rows.
pub fn read_f64s(t: &Table, column: &str) -> Result<Vec<f64>, Error> {
    let rows = t.num_rows();
    let mut out = Vec::with_capacity(rows as usize);
    let mut offset = 0;
    while offset < rows {
        let len = (rows - offset).min(READ_CHUNK);
        out.extend(t.read_f64(column, offset, len)?);
        offset += len;
    }
    Ok(out)
}
