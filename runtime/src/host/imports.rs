//! The host side of mlp's WIT interfaces: each method a guest calls on a table, blob, tensor,
//! artifact, output or invocation handle, implemented over `mlp-kernels`.
//!
//! Errors a guest can cause (an unknown column, a bad argument) come back to it as the WIT
//! `error` record; only a dead handle, which a correct guest cannot produce, traps.

use super::bindings::mlp::plugin::{blobs, context, tables, types};
use super::state::{ArtifactRes, BlobRes, InvocationRes, OutputRes, StepEvent, StepState, TableRes};
use super::study::Verdict;
use mlp_kernels::data::{ArtifactData, Part, Table};
use mlp_kernels::error::{ErrorKind, KernelError};
use mlp_kernels::{self as k, DType};
use types::{DataType, Error};
use wasmtime::component::Resource;

type R<T> = wasmtime::Result<T>;

/// Most log lines, progress notes and metrics kept from one step; later ones are counted and
/// dropped, so a chatty or hostile plugin cannot exhaust the host's memory.
const MAX_EVENTS: usize = 100_000;
/// Longest log message or note kept, in bytes.
const MAX_MESSAGE: usize = 64 << 10;
type Fallible<T> = wasmtime::Result<Result<T, Error>>;

pub(super) fn werr(e: KernelError) -> Error {
    let kind = match e.kind {
        ErrorKind::InvalidArgument => types::ErrorKind::InvalidArgument,
        ErrorKind::NotFound => types::ErrorKind::NotFound,
        ErrorKind::Denied => types::ErrorKind::Denied,
        ErrorKind::Limit => types::ErrorKind::Limit,
        ErrorKind::Data => types::ErrorKind::Data,
        ErrorKind::Other => types::ErrorKind::Other,
    };
    Error { kind, message: e.message, detail: e.detail }
}

fn err(kind: types::ErrorKind, message: impl Into<String>) -> Error {
    Error { kind, message: message.into(), detail: None }
}

fn to_wit_type(t: DType) -> DataType {
    match t {
        DType::Boolean => DataType::Boolean,
        DType::Int64 => DataType::Int64,
        DType::Float32 => DataType::Float32,
        DType::Float64 => DataType::Float64,
        DType::Utf8 => DataType::Utf8,
        DType::Dictionary => DataType::Dictionary,
        DType::TimestampMs => DataType::TimestampMs,
        DType::Other => DataType::Other,
    }
}

fn from_wit_type(t: DataType) -> DType {
    match t {
        DataType::Boolean => DType::Boolean,
        DataType::Int64 => DType::Int64,
        DataType::Float32 => DType::Float32,
        DataType::Float64 => DType::Float64,
        DataType::Utf8 => DType::Utf8,
        DataType::Dictionary => DType::Dictionary,
        DataType::TimestampMs => DType::TimestampMs,
        DataType::Other => DType::Other,
    }
}

pub(super) fn usize_of(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

impl StepState {
    fn tbl(&self, h: &Resource<TableRes>) -> R<Table> {
        Ok(self.table.get(h)?.0.clone())
    }

    fn new_table(&mut self, t: Table) -> R<Resource<TableRes>> {
        Ok(self.table.push(TableRes(t))?)
    }

    /// Wraps a kernel result that yields a table into a new handle.
    fn table_result(&mut self, r: Result<Table, KernelError>) -> Fallible<Resource<TableRes>> {
        match r {
            Ok(t) => Ok(Ok(self.new_table(t)?)),
            Err(e) => Ok(Err(werr(e))),
        }
    }

    fn event(&mut self, e: StepEvent) -> R<()> {
        let run = self.run_data()?;
        if run.events.len() < MAX_EVENTS {
            run.events.push(e);
        } else {
            run.dropped_events += 1;
        }
        Ok(())
    }

    fn run_data(&mut self) -> R<&mut super::state::RunData> {
        self.run.as_mut().ok_or_else(|| wasmtime::Error::msg("no invocation is running (called from `describe`)"))
    }
}

impl types::Host for StepState {}

impl tables::Host for StepState {}

impl tables::HostTable for StepState {
    fn from_ipc(&mut self, bytes: Vec<u8>) -> Fallible<Resource<TableRes>> {
        let r = k::from_ipc(&bytes);
        self.table_result(r)
    }

    fn from_values(&mut self, columns: Vec<tables::Column>) -> Fallible<Resource<TableRes>> {
        let r = table_from_values(columns);
        match r {
            Ok(t) => Ok(Ok(self.new_table(t)?)),
            Err(e) => Ok(Err(e)),
        }
    }

    fn concat(&mut self, parts: Vec<Resource<TableRes>>) -> Fallible<Resource<TableRes>> {
        let tables = parts.iter().map(|p| self.tbl(p)).collect::<R<Vec<_>>>()?;
        let refs: Vec<&Table> = tables.iter().collect();
        let r = k::concat(&refs);
        self.table_result(r)
    }

    fn schema(&mut self, h: Resource<TableRes>) -> R<Vec<tables::Field>> {
        let t = self.tbl(&h)?;
        Ok(k::fields(&t)
            .into_iter()
            .map(|(name, dt, nullable)| tables::Field { name, data_type: to_wit_type(dt), nullable })
            .collect())
    }

    fn num_rows(&mut self, h: Resource<TableRes>) -> R<u64> {
        Ok(self.table.get(&h)?.0.num_rows() as u64)
    }

    fn slice(&mut self, h: Resource<TableRes>, offset: u64, len: u64) -> R<Resource<TableRes>> {
        let t = self.tbl(&h)?;
        let s = k::slice(&t, offset, len);
        self.new_table(s)
    }

    fn select(&mut self, h: Resource<TableRes>, columns: Vec<String>) -> Fallible<Resource<TableRes>> {
        let t = self.tbl(&h)?;
        let r = k::select(&t, &columns);
        self.table_result(r)
    }

    fn append_columns(&mut self, h: Resource<TableRes>, other: Resource<TableRes>) -> Fallible<Resource<TableRes>> {
        let (a, b) = (self.tbl(&h)?, self.tbl(&other)?);
        let r = k::append_columns(&a, &b);
        self.table_result(r)
    }

    fn to_ipc(&mut self, h: Resource<TableRes>) -> Fallible<Vec<u8>> {
        let t = self.tbl(&h)?;
        Ok(k::to_ipc(&t).map_err(werr))
    }

    fn read_f64(&mut self, h: Resource<TableRes>, column: String, offset: u64, len: u64) -> Fallible<Vec<f64>> {
        let t = self.table.get(&h)?;
        Ok(k::read_f64(&t.0, &column, offset, len).map_err(werr))
    }

    fn read_utf8(
        &mut self,
        h: Resource<TableRes>,
        column: String,
        offset: u64,
        len: u64,
    ) -> Fallible<Vec<Option<String>>> {
        let t = self.table.get(&h)?;
        Ok(k::read_utf8(&t.0, &column, offset, len).map_err(werr))
    }

    fn column_stats(&mut self, h: Resource<TableRes>, column: String) -> Fallible<tables::ColumnStats> {
        let t = self.table.get(&h)?;
        Ok(k::column_stats(&t.0, &column)
            .map(|s| tables::ColumnStats {
                count: s.count,
                nulls: s.nulls,
                mean: s.mean,
                std_dev: s.std_dev,
                min: s.min,
                max: s.max,
                zeros: s.zeros,
                avg_length: s.avg_length,
            })
            .map_err(werr))
    }

    fn histogram(
        &mut self,
        h: Resource<TableRes>,
        column: String,
        buckets: u32,
        how: tables::Bucketing,
    ) -> Fallible<tables::Histogram> {
        let t = self.table.get(&h)?;
        let how = match how {
            tables::Bucketing::EqualWidth => k::Bucketing::EqualWidth,
            tables::Bucketing::Quantiles => k::Bucketing::Quantiles,
        };
        Ok(k::histogram(&t.0, &column, buckets as usize, how)
            .map(|h| tables::Histogram { boundaries: h.boundaries, counts: h.counts, nulls: h.nulls })
            .map_err(werr))
    }

    fn quantiles(
        &mut self,
        h: Resource<TableRes>,
        column: String,
        qs: Vec<f64>,
        relative_error: f64,
    ) -> Fallible<Vec<f64>> {
        let t = self.table.get(&h)?;
        Ok(k::quantiles(&t.0, &column, &qs, relative_error).map_err(werr))
    }

    fn top_k(&mut self, h: Resource<TableRes>, column: String, n: u32) -> Fallible<Vec<tables::ValueCount>> {
        let t = self.table.get(&h)?;
        Ok(k::top_k(&t.0, &column, n as usize)
            .map(|v| v.into_iter().map(|(value, count)| tables::ValueCount { value, count }).collect())
            .map_err(werr))
    }

    fn distinct_count(&mut self, h: Resource<TableRes>, column: String) -> Fallible<u64> {
        let t = self.table.get(&h)?;
        Ok(k::distinct_count(&t.0, &column).map_err(werr))
    }

    fn filter(&mut self, h: Resource<TableRes>, predicate: String) -> Fallible<Resource<TableRes>> {
        let t = self.tbl(&h)?;
        let r = k::filter(&t, &predicate);
        self.table_result(r)
    }

    fn take(&mut self, h: Resource<TableRes>, rows: Vec<u64>) -> Fallible<Resource<TableRes>> {
        let t = self.tbl(&h)?;
        let r = k::take(&t, &rows);
        self.table_result(r)
    }

    fn sort(&mut self, h: Resource<TableRes>, keys: Vec<tables::SortKey>) -> Fallible<Resource<TableRes>> {
        let t = self.tbl(&h)?;
        let keys: Vec<k::SortKey> = keys
            .into_iter()
            .map(|s| k::SortKey { column: s.column, descending: s.descending, nulls_first: s.nulls_first })
            .collect();
        let r = k::sort(&t, &keys);
        self.table_result(r)
    }

    fn group_by(
        &mut self,
        h: Resource<TableRes>,
        keys: Vec<String>,
    ) -> Fallible<Vec<(Vec<String>, Resource<TableRes>)>> {
        let t = self.tbl(&h)?;
        match k::group_by(&t, &keys) {
            Ok(groups) => {
                let mut out = Vec::with_capacity(groups.len());
                for (key, table) in groups {
                    out.push((key, self.new_table(table)?));
                }
                Ok(Ok(out))
            }
            Err(e) => Ok(Err(werr(e))),
        }
    }

    fn cast(&mut self, h: Resource<TableRes>, column: String, to: DataType) -> Fallible<Resource<TableRes>> {
        let t = self.tbl(&h)?;
        let r = k::cast(&t, &column, from_wit_type(to));
        self.table_result(r)
    }

    fn from_parquet(&mut self, bytes: Vec<u8>, columns: Option<Vec<String>>) -> Fallible<Resource<TableRes>> {
        self.parquet_table(bytes, columns)
    }

    fn split_by_hash(
        &mut self,
        h: Resource<TableRes>,
        key: Option<String>,
        seed: u64,
        weights: Vec<u64>,
    ) -> Fallible<Vec<Resource<TableRes>>> {
        self.hash_split(h, key, seed, weights)
    }

    fn drop(&mut self, h: Resource<TableRes>) -> R<()> {
        self.table.delete(h)?;
        Ok(())
    }
}

impl blobs::Host for StepState {}

impl blobs::HostBlob for StepState {
    fn from_bytes(&mut self, bytes: Vec<u8>) -> R<Resource<BlobRes>> {
        Ok(self.table.push(BlobRes(bytes.into()))?)
    }

    fn len(&mut self, h: Resource<BlobRes>) -> R<u64> {
        Ok(self.table.get(&h)?.0.len() as u64)
    }

    fn read(&mut self, h: Resource<BlobRes>, offset: u64, len: u64) -> Fallible<Vec<u8>> {
        let b = &self.table.get(&h)?.0;
        let start = usize_of(offset);
        if start > b.len() {
            return Ok(Err(err(
                types::ErrorKind::InvalidArgument,
                format!("offset {offset} is past the end of the blob ({} bytes)", b.len()),
            )));
        }
        let end = start.saturating_add(usize_of(len)).min(b.len());
        Ok(Ok(b[start..end].to_vec()))
    }

    fn drop(&mut self, h: Resource<BlobRes>) -> R<()> {
        self.table.delete(h)?;
        Ok(())
    }
}

impl context::Host for StepState {}

fn part_names(a: &ArtifactData) -> Vec<String> {
    a.parts.keys().cloned().collect()
}

fn missing_part(a: &ArtifactData, part: &str, want: &str) -> Error {
    let names = part_names(a);
    Error {
        kind: types::ErrorKind::NotFound,
        message: format!("the {} artifact has no {want} part `{part}`", a.artifact_type),
        detail: Some(if names.is_empty() {
            "it has no parts".into()
        } else {
            format!("its parts: {}", names.join(", "))
        }),
    }
}

impl context::HostArtifact for StepState {
    fn artifact_type(&mut self, h: Resource<ArtifactRes>) -> R<String> {
        Ok(self.table.get(&h)?.0.data.artifact_type.clone())
    }

    fn digest(&mut self, h: Resource<ArtifactRes>) -> R<String> {
        Ok(self.table.get(&h)?.0.digest.clone())
    }

    fn parts(&mut self, h: Resource<ArtifactRes>) -> R<Vec<String>> {
        Ok(part_names(&self.table.get(&h)?.0.data))
    }

    fn table(&mut self, h: Resource<ArtifactRes>, part: String) -> Fallible<Resource<TableRes>> {
        let a = self.table.get(&h)?.0.data.clone();
        match a.parts.get(&part) {
            Some(Part::Table(t)) => Ok(Ok(self.new_table(t.clone())?)),
            _ => Ok(Err(missing_part(&a, &part, "table"))),
        }
    }

    fn blob(&mut self, h: Resource<ArtifactRes>, part: String) -> Fallible<Resource<BlobRes>> {
        let a = self.table.get(&h)?.0.data.clone();
        match a.parts.get(&part) {
            Some(Part::Blob(b)) => Ok(Ok(self.table.push(BlobRes(b.clone()))?)),
            _ => Ok(Err(missing_part(&a, &part, "blob"))),
        }
    }

    fn json(&mut self, h: Resource<ArtifactRes>, part: String) -> Fallible<String> {
        let a = self.table.get(&h)?.0.data.clone();
        let Some(Part::Blob(b)) = a.parts.get(&part) else { return Ok(Err(missing_part(&a, &part, "JSON"))) };
        match std::str::from_utf8(b) {
            Ok(text) if serde_json::from_str::<serde_json::Value>(text).is_ok() => Ok(Ok(text.to_string())),
            _ => Ok(Err(err(types::ErrorKind::Data, format!("part `{part}` is not a JSON document")))),
        }
    }

    fn properties_json(&mut self, h: Resource<ArtifactRes>) -> R<String> {
        let a = &self.table.get(&h)?.0.data;
        Ok(serde_json::to_string(&a.properties).unwrap_or_else(|_| "{}".into()))
    }

    fn drop(&mut self, h: Resource<ArtifactRes>) -> R<()> {
        self.table.delete(h)?;
        Ok(())
    }
}

impl StepState {
    fn output_mut(&mut self, h: &Resource<OutputRes>) -> R<&mut ArtifactData> {
        let port = self.table.get(h)?.0.clone();
        Ok(self.run_data()?.outputs.entry(port).or_default())
    }
}

fn valid_part_name(part: &str) -> Result<(), Error> {
    let ok = !part.is_empty()
        && part.len() <= 255
        && part != "."
        && part != ".."
        && part.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(err(
            types::ErrorKind::InvalidArgument,
            format!("`{part}` is not a valid part name: use letters, digits, `_`, `-` and `.` (at most 255)"),
        ))
    }
}

impl context::HostOutput for StepState {
    fn put_table(&mut self, h: Resource<OutputRes>, part: String, data: Resource<TableRes>) -> Fallible<()> {
        if let Err(e) = valid_part_name(&part) {
            return Ok(Err(e));
        }
        let t = self.tbl(&data)?;
        self.output_mut(&h)?.parts.insert(part, Part::Table(t));
        Ok(Ok(()))
    }

    fn put_blob(&mut self, h: Resource<OutputRes>, part: String, data: Resource<BlobRes>) -> Fallible<()> {
        if let Err(e) = valid_part_name(&part) {
            return Ok(Err(e));
        }
        let b = self.table.get(&data)?.0.clone();
        self.output_mut(&h)?.parts.insert(part, Part::Blob(b));
        Ok(Ok(()))
    }

    fn put_json(&mut self, h: Resource<OutputRes>, part: String, json: String) -> Fallible<()> {
        if let Err(e) = valid_part_name(&part) {
            return Ok(Err(e));
        }
        if let Err(e) = serde_json::from_str::<serde_json::Value>(&json) {
            return Ok(Err(err(types::ErrorKind::InvalidArgument, format!("part `{part}` is not JSON: {e}"))));
        }
        self.output_mut(&h)?.parts.insert(part, Part::Blob(json.into_bytes().into()));
        Ok(Ok(()))
    }

    fn set_property(&mut self, h: Resource<OutputRes>, name: String, value_json: String) -> Fallible<()> {
        let value: serde_json::Value = match serde_json::from_str(&value_json) {
            Ok(v) => v,
            Err(e) => {
                return Ok(Err(err(
                    types::ErrorKind::InvalidArgument,
                    format!("the value of property `{name}` is not JSON: {e}"),
                )));
            }
        };
        self.output_mut(&h)?.properties.insert(name, value);
        Ok(Ok(()))
    }

    fn drop(&mut self, h: Resource<OutputRes>) -> R<()> {
        self.table.delete(h)?;
        Ok(())
    }
}

impl context::HostInvocation for StepState {
    fn step_id(&mut self, _h: Resource<InvocationRes>) -> R<String> {
        Ok(self.run_data()?.step_id.clone())
    }

    fn params_json(&mut self, _h: Resource<InvocationRes>) -> R<String> {
        Ok(self.run_data()?.params_json.clone())
    }

    fn input(&mut self, _h: Resource<InvocationRes>, port: String) -> R<Option<Resource<ArtifactRes>>> {
        let Some(a) = self.run_data()?.inputs.get(&port).cloned() else { return Ok(None) };
        Ok(Some(self.table.push(ArtifactRes(a))?))
    }

    fn output(&mut self, _h: Resource<InvocationRes>, port: String) -> Fallible<Resource<OutputRes>> {
        let run = self.run_data()?;
        if !run.declared.contains_key(&port) {
            let names: Vec<&str> = run.declared.keys().map(String::as_str).collect();
            return Ok(Err(Error {
                kind: types::ErrorKind::NotFound,
                message: format!("the step declares no output `{port}`"),
                detail: Some(if names.is_empty() {
                    "it declares no outputs".into()
                } else {
                    format!("its outputs: {}", names.join(", "))
                }),
            }));
        }
        Ok(Ok(self.table.push(OutputRes(port))?))
    }

    fn log(&mut self, _h: Resource<InvocationRes>, level: context::Level, message: String) -> R<()> {
        let level = match level {
            context::Level::Trace => "trace",
            context::Level::Debug => "debug",
            context::Level::Info => "info",
            context::Level::Warn => "warn",
            context::Level::Error => "error",
        };
        self.event(StepEvent::Log { level, message: truncate(message) })
    }

    fn progress(&mut self, _h: Resource<InvocationRes>, fraction: f32, note: String) -> R<()> {
        self.event(StepEvent::Progress { fraction: fraction.clamp(0.0, 1.0), note: truncate(note) })
    }

    fn metric(&mut self, _h: Resource<InvocationRes>, name: String, step: u64, value: f64) -> R<()> {
        self.event(StepEvent::Metric { name: truncate(name), step, value })
    }

    fn report(&mut self, _h: Resource<InvocationRes>, epoch: u64, objective: f64) -> R<bool> {
        self.event(StepEvent::Metric { name: "objective".into(), step: epoch, value: objective })?;
        let run = self.run_data()?;
        if run.stopped_at_epoch.is_some() {
            return Ok(true);
        }
        let Some(t) = &run.trial else { return Ok(false) };
        let Verdict::Stop { best, median, others } =
            t.studies.report(&t.search, t.index, epoch, objective, t.early_stopping)
        else {
            return Ok(false);
        };
        let message = format!(
            "stopped by the search `{}` after epoch {epoch}: best objective {best} is worse than the median {median} of {others} other {} at that epoch",
            t.search,
            if others == 1 { "trial" } else { "trials" }
        );
        tracing::info!(step = %run.step_id, epoch, best, median, others, "trial stopped early by the median rule");
        run.stopped_at_epoch = Some(epoch);
        self.event(StepEvent::Log { level: "info", message })?;
        Ok(true)
    }

    fn drop(&mut self, h: Resource<InvocationRes>) -> R<()> {
        self.table.delete(h)?;
        Ok(())
    }
}

fn truncate(mut s: String) -> String {
    if s.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str(" [truncated]");
    }
    s
}

/// Builds a table from a guest's columns of values.
fn table_from_values(columns: Vec<tables::Column>) -> Result<Table, Error> {
    use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
    use arrow_schema::{Field, Schema};
    use std::sync::Arc;
    let mut fields = Vec::with_capacity(columns.len());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    let mut rows = None;
    for c in columns {
        if fields.iter().any(|f: &Field| f.name() == &c.name) {
            return Err(err(types::ErrorKind::InvalidArgument, format!("column `{}` is given twice", c.name)));
        }
        let array: ArrayRef = match c.values {
            tables::ColumnValues::Boolean(v) => Arc::new(BooleanArray::from(v)),
            tables::ColumnValues::Int64(v) => Arc::new(Int64Array::from(v)),
            tables::ColumnValues::Float64(v) => Arc::new(Float64Array::from(v)),
            tables::ColumnValues::Utf8(v) => Arc::new(StringArray::from(v)),
        };
        let n = array.len();
        if let Some((first, len)) = &rows
            && *len != n
        {
            return Err(Error {
                kind: types::ErrorKind::InvalidArgument,
                message: format!("column `{}` has {n} values, but `{first}` has {len}", c.name),
                detail: Some("every column of a table has the same number of rows".into()),
            });
        }
        rows.get_or_insert((c.name.clone(), n));
        fields.push(Field::new(c.name, array.data_type().clone(), true));
        arrays.push(array);
    }
    let schema = Arc::new(Schema::new(fields));
    let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(rows.map_or(0, |r| r.1)));
    RecordBatch::try_new_with_options(schema, arrays, &options)
        .map(Table::from_batch)
        .map_err(|e| err(types::ErrorKind::InvalidArgument, e.to_string()))
}
