//! Host side of the `transform` resource of `tables` (WIT `mlp:plugin@0.1.3`): feature blocks
//! fitted on a table and compiled to native code by `mlp-transform`, stored graphs loaded and
//! compiled again, and transforms applied to tables batch by batch.

use super::bindings::mlp::plugin::{tables, types};
use super::state::{StepState, TableRes, TransformRes};
use mlp_kernels::Table;
use mlp_transform::{CompiledTransform, TransformError};
use std::sync::Arc;
use wasmtime::component::Resource;

type R<T> = wasmtime::Result<T>;
type Fallible<T> = wasmtime::Result<Result<T, types::Error>>;

fn terr(e: TransformError) -> types::Error {
    types::Error { kind: types::ErrorKind::InvalidArgument, message: e.to_string(), detail: None }
}

/// Applies `f` to every batch of `table`; the result has the schema of the first output (or
/// of `f` over an empty batch when the table has none). An error of `f` is the guest's
/// (`InvalidArgument`).
pub(super) fn map_batches<E: std::fmt::Display>(
    table: &Table,
    f: impl Fn(&arrow_array::RecordBatch) -> Result<arrow_array::RecordBatch, E>,
) -> Result<Table, types::Error> {
    let bad = |e: E| types::Error { kind: types::ErrorKind::InvalidArgument, message: e.to_string(), detail: None };
    let batches = if table.batches().is_empty() {
        vec![f(&arrow_array::RecordBatch::new_empty(table.schema().clone())).map_err(bad)?]
    } else {
        table.batches().iter().map(&f).collect::<Result<Vec<_>, _>>().map_err(bad)?
    };
    let schema = batches[0].schema();
    Table::new(schema, batches).map_err(|m| types::Error { kind: types::ErrorKind::Other, message: m, detail: None })
}

impl tables::HostTransform for StepState {
    fn fit(&mut self, spec_json: String, train: Resource<TableRes>) -> Fallible<Resource<TransformRes>> {
        let t = self.table.get(&train)?.0.clone();
        let spec = match mlp_transform::parse_spec(&spec_json) {
            Ok(s) => s,
            Err(e) => return Ok(Err(terr(e))),
        };
        let fitted = mlp_transform::fit(&spec, t.schema(), t.batches()).and_then(CompiledTransform::new);
        match fitted {
            Ok(c) => Ok(Ok(self.table.push(TransformRes(Arc::new(c)))?)),
            Err(e) => Ok(Err(terr(e))),
        }
    }

    fn load(&mut self, graph_json: String) -> Fallible<Resource<TransformRes>> {
        match CompiledTransform::from_json(&graph_json) {
            Ok(c) => Ok(Ok(self.table.push(TransformRes(Arc::new(c)))?)),
            Err(e) => Ok(Err(terr(e))),
        }
    }

    fn graph_json(&mut self, h: Resource<TransformRes>) -> R<String> {
        Ok(self.table.get(&h)?.0.graph().to_json())
    }

    fn apply(&mut self, h: Resource<TransformRes>, data: Resource<TableRes>) -> Fallible<Resource<TableRes>> {
        let c = self.table.get(&h)?.0.clone();
        let t = self.table.get(&data)?.0.clone();
        match map_batches(&t, |b| c.apply(b)) {
            Ok(out) => Ok(Ok(self.table.push(TableRes(out))?)),
            Err(e) => Ok(Err(e)),
        }
    }

    fn without(&mut self, h: Resource<TransformRes>, drop: Vec<String>) -> Fallible<Resource<TransformRes>> {
        let c = self.table.get(&h)?.0.clone();
        let names: Vec<&str> = drop.iter().map(String::as_str).collect();
        match c.graph().without(&names).and_then(CompiledTransform::new) {
            Ok(t) => Ok(Ok(self.table.push(TransformRes(Arc::new(t)))?)),
            Err(e) => Ok(Err(terr(e))),
        }
    }

    fn apply_one_hot(&mut self, h: Resource<TransformRes>, data: Resource<TableRes>) -> Fallible<Resource<TableRes>> {
        let c = self.table.get(&h)?.0.clone();
        let t = self.table.get(&data)?.0.clone();
        match map_batches(&t, |b| c.apply_one_hot(b)) {
            Ok(out) => Ok(Ok(self.table.push(TableRes(out))?)),
            Err(e) => Ok(Err(e)),
        }
    }

    fn drop(&mut self, h: Resource<TransformRes>) -> R<()> {
        self.table.delete(h)?;
        Ok(())
    }
}
