//! The host side of the data-ingest and profiling kernels of `mlp:plugin/tables`: the
//! `decoder` and `profiler` resources, `from-parquet` and `split-by-hash`.
//!
//! Options cross the WIT boundary as JSON objects (so the kernels can grow options without a
//! new WIT version); this module parses them strictly, naming an unknown or mistyped key, and
//! hands them to `mlp-kernels`.

use super::bindings::mlp::plugin::{tables, types};
use super::state::{DecoderRes, ProfilerRes, StepState, TableRes};
use mlp_kernels::csv::{CsvDecoder, CsvOptions};
use mlp_kernels::error::KernelError;
use mlp_kernels::jsonl::{JsonlDecoder, JsonlOptions};
use mlp_kernels::profile::{ProfileOptions, Profiler};
use mlp_kernels::{DType, Table};
use serde::Deserialize;
use std::collections::BTreeMap;
use wasmtime::component::Resource;

type R<T> = wasmtime::Result<T>;
type Fallible<T> = wasmtime::Result<Result<T, types::Error>>;

fn werr(e: KernelError) -> types::Error {
    super::imports::werr(e)
}

fn invalid(message: String) -> types::Error {
    types::Error { kind: types::ErrorKind::InvalidArgument, message, detail: None }
}

/// Parses an options object, naming the offending key on a mistake.
fn options<T: for<'de> Deserialize<'de>>(what: &str, json: &str) -> Result<T, types::Error> {
    let json = if json.trim().is_empty() { "{}" } else { json };
    serde_json::from_str(json).map_err(|e| invalid(format!("bad {what} options: {e}")))
}

fn dtype(column: &str, name: &str) -> Result<DType, types::Error> {
    Ok(match name {
        "int" | "int64" => DType::Int64,
        "float" | "float64" => DType::Float64,
        "bool" | "boolean" => DType::Boolean,
        "string" | "utf8" => DType::Utf8,
        other => {
            return Err(invalid(format!(
                "column `{column}` has type `{other}`; the types are `int`, `float`, `bool` and `string`"
            )));
        }
    })
}

fn types_of(types: Option<BTreeMap<String, String>>) -> Result<Option<Vec<(String, DType)>>, types::Error> {
    types.map(|t| t.iter().map(|(c, n)| Ok((c.clone(), dtype(c, n)?))).collect()).transpose()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CsvJson {
    delimiter: Option<String>,
    header: Option<bool>,
    columns: Option<Vec<String>>,
    null_values: Option<Vec<String>>,
    types: Option<BTreeMap<String, String>>,
    infer_rows: Option<usize>,
    batch_rows: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonlJson {
    columns: Option<Vec<String>>,
    flatten: Option<bool>,
    types: Option<BTreeMap<String, String>>,
    infer_rows: Option<usize>,
    batch_rows: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileJson {
    histogram_buckets: Option<usize>,
    quantiles: Option<usize>,
    top_k: Option<usize>,
    slice_by: Option<Vec<String>>,
    max_slices: Option<usize>,
    max_exact_distinct: Option<usize>,
}

fn csv_options(json: &str) -> Result<CsvOptions, types::Error> {
    let j: CsvJson = options("csv", json)?;
    let mut o = CsvOptions::default();
    if let Some(d) = j.delimiter {
        let &[b] = d.as_bytes() else {
            return Err(invalid(format!("the delimiter must be one ASCII character, not {d:?}")));
        };
        if !b.is_ascii() || b == b'"' || b == b'\n' || b == b'\r' {
            return Err(invalid(format!(
                "the delimiter must be one ASCII character other than a quote or a newline, not {d:?}"
            )));
        }
        o.delimiter = b;
    }
    if let Some(h) = j.header {
        o.header = h;
    }
    o.columns = j.columns;
    if let Some(n) = j.null_values {
        o.null_values = n;
    }
    (o.types, o.infer_rows, o.batch_rows) = shared(j.types, j.infer_rows, j.batch_rows, o.infer_rows, o.batch_rows)?;
    Ok(o)
}

type Shared = (Option<Vec<(String, DType)>>, usize, usize);

/// The options both text formats take: column types, rows to infer from, rows per batch (each
/// kept at its default when absent).
fn shared(
    types: Option<BTreeMap<String, String>>,
    infer_rows: Option<usize>,
    batch_rows: Option<usize>,
    default_infer: usize,
    default_batch: usize,
) -> Result<Shared, types::Error> {
    Ok((
        types_of(types)?,
        infer_rows.map_or(default_infer, |n| n.max(1)),
        batch_rows.map_or(default_batch, |n| n.clamp(1, 1 << 22)),
    ))
}

fn jsonl_options(json: &str) -> Result<JsonlOptions, types::Error> {
    let j: JsonlJson = options("jsonl", json)?;
    let mut o = JsonlOptions { columns: j.columns, ..JsonlOptions::default() };
    if let Some(f) = j.flatten {
        o.flatten = f;
    }
    (o.types, o.infer_rows, o.batch_rows) = shared(j.types, j.infer_rows, j.batch_rows, o.infer_rows, o.batch_rows)?;
    Ok(o)
}

fn profile_options(json: &str) -> Result<ProfileOptions, types::Error> {
    let j: ProfileJson = options("profiler", json)?;
    let mut o = ProfileOptions::default();
    if let Some(n) = j.histogram_buckets {
        o.histogram_buckets = n.clamp(1, 10_000);
    }
    if let Some(n) = j.quantiles {
        o.quantiles = n.clamp(1, 10_000);
    }
    if let Some(n) = j.top_k {
        o.top_k = n.min(100_000);
    }
    if let Some(s) = j.slice_by {
        o.slice_by = s;
    }
    if let Some(n) = j.max_slices {
        o.max_slices = n.max(1);
    }
    if let Some(n) = j.max_exact_distinct {
        o.max_exact_distinct = n.max(1);
    }
    Ok(o)
}

/// The tables of one decoder call as one table of all their batches (no copy): fewer, larger
/// handles for the guest, and kernels that work batch-parallel (the hash split) get the batches
/// together.
fn one_table(tables: Vec<Table>) -> Result<Vec<Table>, KernelError> {
    if tables.len() <= 1 {
        return Ok(tables);
    }
    let schema = tables[0].schema().clone();
    let batches = tables.iter().flat_map(|t| t.batches().iter().cloned()).collect();
    Table::new(schema, batches).map(|t| vec![t]).map_err(|m| KernelError::new(mlp_kernels::ErrorKind::Other, m))
}

impl StepState {
    fn push_tables(&mut self, r: Result<Vec<Table>, KernelError>) -> Fallible<Vec<Resource<TableRes>>> {
        match r {
            Ok(ts) => {
                let mut out = Vec::with_capacity(ts.len());
                for t in ts {
                    out.push(self.table.push(TableRes(t))?);
                }
                Ok(Ok(out))
            }
            Err(e) => Ok(Err(werr(e))),
        }
    }

    pub(super) fn parquet_table(
        &mut self,
        bytes: Vec<u8>,
        columns: Option<Vec<String>>,
    ) -> Fallible<Resource<TableRes>> {
        let read = mlp_kernels::parquet::read_parquet(bytes, columns.as_deref(), 65_536).and_then(|parts| {
            let refs: Vec<&Table> = parts.iter().collect();
            match refs.as_slice() {
                [one] => Ok((*one).clone()),
                _ => mlp_kernels::concat(&refs),
            }
        });
        match read {
            Ok(t) => Ok(Ok(self.table.push(TableRes(t))?)),
            Err(e) => Ok(Err(werr(e))),
        }
    }

    pub(super) fn hash_split(
        &mut self,
        h: Resource<TableRes>,
        key: Option<String>,
        seed: u64,
        weights: Vec<u64>,
    ) -> Fallible<Vec<Resource<TableRes>>> {
        let t = self.table.get(&h)?.0.clone();
        let r = mlp_kernels::split::split_by_hash(&t, key.as_deref(), seed, &weights);
        self.push_tables(r)
    }
}

impl tables::HostDecoder for StepState {
    fn open(&mut self, format: String, options_json: String) -> Fallible<Resource<DecoderRes>> {
        let decoder = match format.as_str() {
            "csv" => match csv_options(&options_json) {
                Ok(o) => CsvDecoder::new(o).map(|d| DecoderRes(Box::new(d))),
                Err(e) => return Ok(Err(e)),
            },
            "jsonl" => match jsonl_options(&options_json) {
                Ok(o) => JsonlDecoder::new(o).map(|d| DecoderRes(Box::new(d))),
                Err(e) => return Ok(Err(e)),
            },
            other => return Ok(Err(invalid(format!("unknown format `{other}`; the formats are `csv` and `jsonl`")))),
        };
        match decoder {
            Ok(d) => Ok(Ok(self.table.push(d)?)),
            Err(e) => Ok(Err(werr(e))),
        }
    }

    fn begin_file(&mut self, h: Resource<DecoderRes>, name: String) -> Fallible<()> {
        Ok(self.table.get_mut(&h)?.0.begin_file(&name).map_err(werr))
    }

    fn feed(&mut self, h: Resource<DecoderRes>, bytes: Vec<u8>) -> Fallible<Vec<Resource<TableRes>>> {
        let r = self.table.get_mut(&h)?.0.feed(&bytes).and_then(one_table);
        self.push_tables(r)
    }

    fn end_file(&mut self, h: Resource<DecoderRes>) -> Fallible<Vec<Resource<TableRes>>> {
        let r = self.table.get_mut(&h)?.0.end_file().and_then(one_table);
        self.push_tables(r)
    }

    fn report_json(&mut self, h: Resource<DecoderRes>) -> R<String> {
        let d = &self.table.get(&h)?.0;
        let (rows, bad_count, bad, schema, notes) = (d.rows(), d.bad_row_count(), d.bad_rows(), d.schema(), d.notes());
        let schema: Vec<serde_json::Value> = schema
            .map(|s| {
                s.fields()
                    .iter()
                    .map(|f| {
                        serde_json::json!({
                            "name": f.name(),
                            "type": DType::from_arrow(f.data_type()).name(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let bad: Vec<serde_json::Value> =
            bad.iter().map(|b| serde_json::json!({"file": b.file, "line": b.line, "reason": b.reason})).collect();
        Ok(serde_json::json!({
            "rows": rows,
            "bad_rows": bad_count,
            "bad": bad,
            "schema": schema,
            "notes": notes,
        })
        .to_string())
    }

    fn drop(&mut self, h: Resource<DecoderRes>) -> R<()> {
        self.table.delete(h)?;
        Ok(())
    }
}

impl tables::HostProfiler for StepState {
    fn open(&mut self, options_json: String) -> Fallible<Resource<ProfilerRes>> {
        let o = match profile_options(&options_json) {
            Ok(o) => o,
            Err(e) => return Ok(Err(e)),
        };
        match Profiler::new(o) {
            Ok(p) => Ok(Ok(self.table.push(ProfilerRes(Some(Box::new(p))))?)),
            Err(e) => Ok(Err(werr(e))),
        }
    }

    fn add(&mut self, h: Resource<ProfilerRes>, data: Resource<TableRes>) -> Fallible<()> {
        let t = self.table.get(&data)?.0.clone();
        let Some(p) = self.table.get_mut(&h)?.0.as_mut() else {
            return Ok(Err(invalid("the profiler was already finished".into())));
        };
        Ok(p.add(&t).map_err(werr))
    }

    fn finish(&mut self, h: Resource<ProfilerRes>) -> Fallible<String> {
        let Some(p) = self.table.get_mut(&h)?.0.take() else {
            return Ok(Err(invalid("the profiler was already finished".into())));
        };
        let datasets = p.finish();
        Ok(serde_json::to_string(&datasets).map_err(|e| invalid(format!("cannot encode the statistics: {e}"))))
    }

    fn drop(&mut self, h: Resource<ProfilerRes>) -> R<()> {
        self.table.delete(h)?;
        Ok(())
    }
}
