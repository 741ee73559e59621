//! In-memory artifact data held by the host: tables (Arrow record batches), blobs and tensors.
//!
//! Guests never own these; they hold handles (WIT resources) that point here, and the kernels in
//! this crate compute over them. Every value is immutable and cheap to clone (`Arc`), so
//! a table passed from one step to the next is never copied.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A table: record batches that share one schema. Immutable; kernels that transform return a
/// new table.
#[derive(Clone, Debug)]
pub struct Table {
    schema: SchemaRef,
    batches: Arc<[RecordBatch]>,
    rows: usize,
}

impl Table {
    /// A table of `batches`, which must all have `schema` (checked).
    pub fn new(schema: SchemaRef, batches: Vec<RecordBatch>) -> Result<Table, String> {
        for (i, b) in batches.iter().enumerate() {
            if b.schema().fields() != schema.fields() {
                return Err(format!("batch {i} has schema {:?}, expected {:?}", b.schema(), schema));
            }
        }
        let rows = batches.iter().map(|b| b.num_rows()).sum();
        Ok(Table { schema, batches: batches.into(), rows })
    }

    /// A table of one batch.
    pub fn from_batch(batch: RecordBatch) -> Table {
        let rows = batch.num_rows();
        Table { schema: batch.schema(), batches: vec![batch].into(), rows }
    }

    /// The schema.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The batches, in row order.
    pub fn batches(&self) -> &[RecordBatch] {
        &self.batches
    }

    /// Number of rows.
    pub fn num_rows(&self) -> usize {
        self.rows
    }
}

/// Immutable bytes.
pub type Blob = Arc<[u8]>;

/// A dense f32 tensor in row-major order.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// Size of each dimension.
    pub shape: Vec<usize>,
    /// `shape.iter().product()` values.
    pub values: Arc<[f32]>,
}

/// One part of an artifact: a table or bytes.
#[derive(Clone, Debug)]
pub enum Part {
    /// A table, such as one split of Examples.
    Table(Table),
    /// Bytes, such as a model file or a JSON document.
    Blob(Blob),
}

/// An artifact's content as the host holds it while a pipeline runs.
#[derive(Clone, Debug, Default)]
pub struct ArtifactData {
    /// Its artifact type, such as `Examples`.
    pub artifact_type: String,
    /// Its parts by name (`train`, `eval`, `model.safetensors`).
    pub parts: BTreeMap<String, Part>,
    /// Properties set by the producing step: JSON values by name.
    pub properties: BTreeMap<String, serde_json::Value>,
}
