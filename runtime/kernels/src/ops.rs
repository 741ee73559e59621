//! Table operations that reshape rather than summarize (WIT `table` methods `slice`,
//! `select`, `append-columns`, `concat`, `to-ipc`, `from-ipc`, `take`, `sort`, `cast`, `read-f64`,
//! `read-utf8`).
//!
//! Tables are immutable: each function returns a new [`Table`] that shares the untouched
//! Arrow buffers with its input wherever it can (slices, projections).

use crate::data::Table;
use crate::error::{ErrorKind, KernelError, Result, one_line};
use crate::numeric::{is_numeric_type, to_f64_vec};
use crate::schema::{DType, column_index};
use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch, UInt32Array};
use arrow_cast::cast::{CastOptions, cast_with_options};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_ord::sort::{LexicographicalComparator, SortColumn};
use arrow_schema::{DataType, Field, Schema, SchemaRef, SortOptions};
use std::sync::Arc;

/// One key of [`sort`]; mirrors WIT `sort-key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SortKey {
    /// The column to sort by.
    pub column: String,
    /// Largest first.
    pub descending: bool,
    /// Nulls before the values (otherwise after them), in either direction.
    pub nulls_first: bool,
}

impl SortKey {
    /// Ascending, nulls last.
    pub fn asc(column: impl Into<String>) -> SortKey {
        SortKey { column: column.into(), descending: false, nulls_first: false }
    }

    /// Descending, nulls last.
    pub fn desc(column: impl Into<String>) -> SortKey {
        SortKey { column: column.into(), descending: true, nulls_first: false }
    }
}

/// Rows `[offset, offset + len)`, clamped to the table: an offset past the end gives an empty
/// table, a length past the end stops at the last row. Zero-copy.
pub fn slice(table: &Table, offset: u64, len: u64) -> Table {
    let total = table.num_rows() as u64;
    let start = offset.min(total);
    let end = start.saturating_add(len).min(total);
    let mut out = Vec::new();
    let mut at = 0u64;
    for b in table.batches() {
        let n = b.num_rows() as u64;
        let (lo, hi) = (start.max(at), end.min(at + n));
        if lo < hi {
            out.push(b.slice((lo - at) as usize, (hi - lo) as usize));
        }
        at += n;
    }
    Table::new(table.schema().clone(), out).expect("slices keep the schema")
}

/// The named columns, in this order. An unknown name is `NotFound`; a name given twice is
/// `InvalidArgument`. Zero-copy.
pub fn select(table: &Table, columns: &[impl AsRef<str>]) -> Result<Table> {
    let mut idx = Vec::with_capacity(columns.len());
    for c in columns {
        let c = c.as_ref();
        let i = column_index(table, c)?;
        if idx.contains(&i) {
            return Err(KernelError::invalid(format!("column `{c}` is selected twice")));
        }
        idx.push(i);
    }
    let schema = Arc::new(table.schema().project(&idx).map_err(|e| KernelError::arrow(ErrorKind::Other, "select", e))?);
    let batches = table
        .batches()
        .iter()
        .map(|b| b.project(&idx).map_err(|e| KernelError::arrow(ErrorKind::Other, "select", e)))
        .collect::<Result<Vec<_>>>()?;
    Table::new(schema, batches).map_err(|m| KernelError::new(ErrorKind::Other, m))
}

/// The columns of `table` followed by those of `other`, row by row: both must have the same
/// number of rows and no column name in common (else `InvalidArgument`). Batches are zipped
/// without copying where the two tables are batched alike; otherwise both are first gathered
/// into one batch each.
pub fn append_columns(table: &Table, other: &Table) -> Result<Table> {
    if table.num_rows() != other.num_rows() {
        return Err(KernelError::invalid(format!(
            "cannot append the columns of a table of {} rows to a table of {} rows",
            other.num_rows(),
            table.num_rows()
        )));
    }
    if let Some(f) = other.schema().fields().iter().find(|f| table.schema().field_with_name(f.name()).is_ok()) {
        return Err(KernelError::invalid(format!("both tables have a column `{}`", f.name())));
    }
    let fields: Vec<Arc<Field>> =
        table.schema().fields().iter().chain(other.schema().fields().iter()).cloned().collect();
    let schema: SchemaRef = Arc::new(Schema::new(fields));
    let err = |e| KernelError::arrow(ErrorKind::Other, "append-columns", e);
    let aligned = table.batches().len() == other.batches().len()
        && table.batches().iter().zip(other.batches()).all(|(a, b)| a.num_rows() == b.num_rows());
    let pairs: Vec<(RecordBatch, RecordBatch)> = if aligned {
        table.batches().iter().cloned().zip(other.batches().iter().cloned()).collect()
    } else {
        let one = |t: &Table| arrow_select::concat::concat_batches(t.schema(), t.batches()).map_err(err);
        vec![(one(table)?, one(other)?)]
    };
    let batches = pairs
        .into_iter()
        .map(|(a, b)| {
            let columns = a.columns().iter().chain(b.columns()).cloned().collect();
            RecordBatch::try_new_with_options(
                schema.clone(),
                columns,
                &arrow_array::RecordBatchOptions::new().with_row_count(Some(a.num_rows())),
            )
            .map_err(err)
        })
        .collect::<Result<Vec<_>>>()?;
    Table::new(schema, batches).map_err(|m| KernelError::new(ErrorKind::Other, m))
}

/// The rows of all `parts`, in order. The parts must have the same column names and types in
/// the same order (else `InvalidArgument` naming the first difference); nullability may differ
/// (the result's column is nullable when any part's is) and metadata is ignored. No parts is
/// `InvalidArgument`. The batches are shared, not copied.
pub fn concat(parts: &[&Table]) -> Result<Table> {
    let Some(first) = parts.first() else {
        return Err(KernelError::invalid("concat needs at least one table"));
    };
    let base = first.schema();
    let mut nullable: Vec<bool> = base.fields().iter().map(|f| f.is_nullable()).collect();
    for (p, t) in parts.iter().enumerate().skip(1) {
        let s = t.schema();
        let mismatch = |what: String| KernelError::invalid(format!("table {p} does not match table 0: {what}"));
        if s.fields().len() != base.fields().len() {
            return Err(mismatch(format!("it has {} columns, table 0 has {}", s.fields().len(), base.fields().len())));
        }
        for (i, (a, b)) in base.fields().iter().zip(s.fields().iter()).enumerate() {
            if a.name() != b.name() {
                return Err(mismatch(format!("column {i} is `{}` there and `{}` in table 0", b.name(), a.name())));
            }
            if a.data_type() != b.data_type() {
                return Err(mismatch(format!(
                    "column `{}` is {} there and {} in table 0",
                    a.name(),
                    b.data_type(),
                    a.data_type()
                )));
            }
            nullable[i] |= b.is_nullable();
        }
    }
    let fields: Vec<Field> =
        base.fields().iter().zip(&nullable).map(|(f, n)| f.as_ref().clone().with_nullable(*n)).collect();
    let schema: SchemaRef = Arc::new(Schema::new(fields));
    let mut batches = Vec::new();
    for t in parts {
        for b in t.batches() {
            let b = if b.schema().fields() == schema.fields() {
                b.clone()
            } else {
                RecordBatch::try_new(schema.clone(), b.columns().to_vec())
                    .map_err(|e| KernelError::arrow(ErrorKind::Other, "concat", e))?
            };
            batches.push(b);
        }
    }
    Table::new(schema, batches).map_err(|m| KernelError::new(ErrorKind::Other, m))
}

/// The table as an Arrow IPC stream (schema message, one message per batch, end marker).
pub fn to_ipc(table: &Table) -> Result<Vec<u8>> {
    write_ipc(table, Vec::new())
}

/// Writes `table` as an Arrow IPC stream to `out` (the bytes of [`to_ipc`], without holding
/// them) and returns `out`.
pub fn write_ipc<W: std::io::Write>(table: &Table, out: W) -> Result<W> {
    let err = |e| KernelError::arrow(ErrorKind::Data, "cannot write the table as Arrow IPC", e);
    let mut w = arrow_ipc::writer::StreamWriter::try_new(out, table.schema()).map_err(err)?;
    for b in table.batches() {
        w.write(b).map_err(err)?;
    }
    w.finish().map_err(err)?;
    w.into_inner().map_err(err)
}

/// A table from Arrow IPC stream bytes. Bytes that are not a valid stream are a `Data` error;
/// this never panics (the reader validates the data, and a panic in it is caught).
pub fn from_ipc(bytes: &[u8]) -> Result<Table> {
    let err = |e| KernelError::arrow(ErrorKind::Data, "invalid Arrow IPC stream", e);
    let read = || -> Result<Table> {
        let reader = arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None).map_err(err)?;
        let schema = reader.schema();
        let batches = reader.collect::<std::result::Result<Vec<_>, _>>().map_err(err)?;
        Table::new(schema, batches)
            .map_err(|m| KernelError::data(format!("invalid Arrow IPC stream: {}", one_line(&m))))
    };
    // A corrupt stream must not take the host down.
    std::panic::catch_unwind(read)
        .unwrap_or_else(|_| Err(KernelError::data("invalid Arrow IPC stream: the reader rejected the bytes")))
}

/// The whole table as one record batch (zero-copy when it has exactly one).
pub(crate) fn one_batch(table: &Table) -> Result<RecordBatch> {
    match table.batches() {
        [b] => Ok(b.clone()),
        bs => arrow_select::concat::concat_batches(table.schema(), bs)
            .map_err(|e| KernelError::arrow(ErrorKind::Other, "cannot combine the table's batches", e)),
    }
}

/// The rows at `rows`, in that order (repeats allowed). A row past the end is
/// `InvalidArgument` naming it.
pub fn take(table: &Table, rows: &[u64]) -> Result<Table> {
    let n = table.num_rows() as u64;
    if let Some((pos, r)) = rows.iter().enumerate().find(|(_, r)| **r >= n) {
        return Err(KernelError::invalid(format!("row {r} is out of range: the table has {n} rows"))
            .with_detail(format!("index {pos} of the row list")));
    }
    let err = |e| KernelError::arrow(ErrorKind::Other, "take", e);
    let batch = match table.batches() {
        [] => RecordBatch::new_empty(table.schema().clone()),
        [b] => {
            let idx = arrow_array::UInt64Array::from(rows.to_vec());
            arrow_select::take::take_record_batch(b, &idx).map_err(err)?
        }
        bs => {
            let starts: Vec<u64> = bs
                .iter()
                .scan(0u64, |acc, b| {
                    let s = *acc;
                    *acc += b.num_rows() as u64;
                    Some(s)
                })
                .collect();
            let idx: Vec<(usize, usize)> = rows
                .iter()
                .map(|r| {
                    let bi = starts.partition_point(|s| *s <= *r) - 1;
                    (bi, (r - starts[bi]) as usize)
                })
                .collect();
            let refs: Vec<&RecordBatch> = bs.iter().collect();
            arrow_select::interleave::interleave_record_batch(&refs, &idx).map_err(err)?
        }
    };
    Table::new(table.schema().clone(), vec![batch]).map_err(|m| KernelError::new(ErrorKind::Other, m))
}

/// The rows sorted by `keys`, first key first. Stable: rows with equal keys keep their order.
/// Uses arrow-ord's lexicographical comparator under a stable sort (arrow's own `lexsort` is
/// not stable). No keys, or a column type arrow-ord cannot order, is
/// `InvalidArgument`; an unknown column is `NotFound`.
pub fn sort(table: &Table, keys: &[SortKey]) -> Result<Table> {
    if keys.is_empty() {
        return Err(KernelError::invalid("sort needs at least one key"));
    }
    let idx = keys.iter().map(|k| column_index(table, &k.column)).collect::<Result<Vec<_>>>()?;
    let batch = one_batch(table)?;
    let cols: Vec<SortColumn> = keys
        .iter()
        .zip(&idx)
        .map(|(k, i)| SortColumn {
            values: batch.column(*i).clone(),
            options: Some(SortOptions { descending: k.descending, nulls_first: k.nulls_first }),
        })
        .collect();
    let order = sorted_indices(&cols, batch.num_rows(), |i| &keys[i].column)?;
    let batch = arrow_select::take::take_record_batch(&batch, &order)
        .map_err(|e| KernelError::arrow(ErrorKind::Other, "sort", e))?;
    Table::new(table.schema().clone(), vec![batch]).map_err(|m| KernelError::new(ErrorKind::Other, m))
}

/// Row indices `0..rows` stably sorted by `cols`; `name(i)` names column `i` for errors.
pub(crate) fn sorted_indices<'a>(
    cols: &[SortColumn],
    rows: usize,
    name: impl Fn(usize) -> &'a str,
) -> Result<UInt32Array> {
    let rows = u32::try_from(rows).map_err(|_| KernelError::limit("sorting is limited to 2^32 rows"))?;
    for (i, c) in cols.iter().enumerate() {
        // Each comparator is built here first, so the error can name its column.
        let _ = arrow_ord::ord::make_comparator(c.values.as_ref(), c.values.as_ref(), SortOptions::default()).map_err(
            |_| {
                KernelError::invalid(format!(
                    "column `{}` has type {}, which cannot be sorted",
                    name(i),
                    c.values.data_type()
                ))
            },
        )?;
    }
    let cmp = LexicographicalComparator::try_new(cols).map_err(|e| KernelError::arrow(ErrorKind::Other, "sort", e))?;
    let mut order: Vec<u32> = (0..rows).collect();
    order.sort_by(|a, b| cmp.compare(*a as usize, *b as usize));
    Ok(UInt32Array::from(order))
}

/// The table with column `column` cast to `to`. A value that does not convert (text that is not
/// a number, a number out of range) is a `Data` error naming the column; a cast Arrow does not
/// support, or `to = Other`, is `InvalidArgument`.
pub fn cast(table: &Table, column: &str, to: DType) -> Result<Table> {
    let i = column_index(table, column)?;
    let Some(target) = to.to_arrow() else {
        return Err(KernelError::invalid(format!("cannot cast column `{column}` to `other`: it names no type")));
    };
    let from = table.schema().field(i).data_type();
    if !arrow_cast::can_cast_types(from, &target) {
        return Err(KernelError::invalid(format!("cannot cast column `{column}` from {from} to {}", to.name())));
    }
    let field = table.schema().field(i).as_ref().clone().with_data_type(target.clone());
    let mut fields: Vec<Field> = table.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    fields[i] = field;
    let schema: SchemaRef = Arc::new(Schema::new_with_metadata(fields, table.schema().metadata().clone()));
    let opts = CastOptions { safe: false, ..Default::default() };
    let mut batches = Vec::with_capacity(table.batches().len());
    for b in table.batches() {
        let c = cast_with_options(b.column(i), &target, &opts).map_err(|e| {
            KernelError::arrow(ErrorKind::Data, &format!("cannot cast column `{column}` to {}", to.name()), e)
        })?;
        let mut cols = b.columns().to_vec();
        cols[i] = c;
        batches.push(
            RecordBatch::try_new(schema.clone(), cols).map_err(|e| KernelError::arrow(ErrorKind::Data, "cast", e))?,
        );
    }
    Table::new(schema, batches).map_err(|m| KernelError::new(ErrorKind::Other, m))
}

/// The values of column `column`, rows `[offset, offset + len)` (clamped as in [`slice()`]), as
/// floats: numbers, booleans (0/1) and temporal types (their integer value, such as
/// milliseconds since the epoch). Nulls are NaN. Strings and other types are `InvalidArgument`.
pub fn read_f64(table: &Table, column: &str, offset: u64, len: u64) -> Result<Vec<f64>> {
    let i = column_index(table, column)?;
    let dt = table.schema().field(i).data_type();
    if !is_numeric_type(dt) {
        return Err(KernelError::invalid(format!("column `{column}` has type {dt}, not a number; read it as text")));
    }
    let part = slice(table, offset, len);
    let mut out = Vec::with_capacity(part.num_rows());
    for b in part.batches() {
        out.extend(to_f64_vec(b.column(i).as_ref(), column)?);
    }
    Ok(out)
}

/// The values of column `column`, rows `[offset, offset + len)` (clamped as in [`slice()`]), as
/// text: strings (utf8, large-utf8, utf8-view, dictionaries of strings) as they are, other
/// types as Arrow displays them (`3`, `1.5`, `true`, `2024-01-31T12:00:00`). Nulls are `None`.
pub fn read_utf8(table: &Table, column: &str, offset: u64, len: u64) -> Result<Vec<Option<String>>> {
    let i = column_index(table, column)?;
    let part = slice(table, offset, len);
    let mut out = Vec::with_capacity(part.num_rows());
    for b in part.batches() {
        append_strings(b.column(i).as_ref(), column, &mut out)?;
    }
    Ok(out)
}

fn append_strings(a: &dyn Array, column: &str, out: &mut Vec<Option<String>>) -> Result<()> {
    match a.data_type() {
        DataType::Utf8 => out.extend(a.as_string::<i32>().iter().map(|s| s.map(str::to_string))),
        DataType::LargeUtf8 => out.extend(a.as_string::<i64>().iter().map(|s| s.map(str::to_string))),
        DataType::Utf8View => out.extend(a.as_string_view().iter().map(|s| s.map(str::to_string))),
        DataType::Dictionary(_, v) if matches!(v.as_ref(), DataType::Utf8 | DataType::LargeUtf8) => {
            let d = a.as_any_dictionary();
            let values: Vec<Option<String>> = {
                let mut vs = Vec::with_capacity(d.values().len());
                append_strings(d.values().as_ref(), column, &mut vs)?;
                vs
            };
            let keys = d.normalized_keys();
            for (row, k) in keys.iter().enumerate() {
                out.push(if d.keys().is_valid(row) { values.get(*k).cloned().flatten() } else { None });
            }
        }
        _ => {
            let f = ArrayFormatter::try_new(a, &FormatOptions::default()).map_err(|e| {
                KernelError::arrow(ErrorKind::InvalidArgument, &format!("cannot read column `{column}` as text"), e)
            })?;
            for row in 0..a.len() {
                out.push(if a.is_valid(row) { Some(f.value(row).to_string()) } else { None });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::types::Int8Type;
    use arrow_array::{
        ArrayRef, BooleanArray, DictionaryArray, Float64Array, Int32Array, Int64Array, StringArray,
        TimestampMillisecondArray,
    };

    fn batch(ids: Vec<i64>, names: Vec<Option<&str>>, x: Vec<Option<f64>>) -> RecordBatch {
        RecordBatch::try_from_iter_with_nullable(vec![
            ("id", Arc::new(Int64Array::from(ids)) as ArrayRef, false),
            ("name", Arc::new(StringArray::from(names)) as ArrayRef, true),
            ("x", Arc::new(Float64Array::from(x)) as ArrayRef, true),
        ])
        .unwrap()
    }

    /// Rows 0..5 in two batches.
    fn t5() -> Table {
        let b1 = batch(vec![0, 1, 2], vec![Some("c"), None, Some("a")], vec![Some(1.0), Some(2.0), None]);
        let b2 = batch(vec![3, 4], vec![Some("a"), Some("b")], vec![Some(1.0), Some(-1.0)]);
        Table::new(b1.schema(), vec![b1, b2]).unwrap()
    }

    fn ids(t: &Table) -> Vec<f64> {
        read_f64(t, "id", 0, u64::MAX).unwrap()
    }

    #[test]
    fn append_columns_zips_rows_and_refuses_mismatches() {
        let a = Table::from_batch(
            RecordBatch::try_from_iter(vec![("x", Arc::new(arrow_array::Int64Array::from(vec![1, 2, 3])) as _)])
                .unwrap(),
        );
        let b = Table::from_batch(
            RecordBatch::try_from_iter(vec![("y", Arc::new(arrow_array::StringArray::from(vec!["a", "b", "c"])) as _)])
                .unwrap(),
        );
        // Batched differently: gathered first.
        let b2 = Table::new(b.schema().clone(), vec![b.batches()[0].slice(0, 1), b.batches()[0].slice(1, 2)]).unwrap();
        for other in [&b, &b2] {
            let t = append_columns(&a, other).unwrap();
            assert_eq!(t.num_rows(), 3);
            let names: Vec<&str> = t.schema().fields().iter().map(|f| f.name().as_str()).collect();
            assert_eq!(names, ["x", "y"]);
            assert_eq!(read_utf8(&t, "y", 0, 3).unwrap(), vec![Some("a".into()), Some("b".into()), Some("c".into())]);
        }
        assert!(append_columns(&a, &a).unwrap_err().to_string().contains("both tables have a column `x`"));
        let short = Table::from_batch(b.batches()[0].slice(0, 2));
        assert!(append_columns(&a, &short).unwrap_err().to_string().contains("2 rows to a table of 3 rows"));
    }

    #[test]
    fn slice_clamps_and_spans_batches() {
        let t = t5();
        assert_eq!(ids(&slice(&t, 2, 2)), vec![2.0, 3.0]);
        assert_eq!(ids(&slice(&t, 4, 100)), vec![4.0]);
        assert_eq!(slice(&t, 9, 1).num_rows(), 0);
        assert_eq!(slice(&t, 1, u64::MAX).num_rows(), 4);
        assert_eq!(slice(&t, 0, 0).schema(), t.schema());
    }

    #[test]
    fn select_orders_and_checks_names() {
        let t = t5();
        let s = select(&t, &["x", "id"]).unwrap();
        let names: Vec<&str> = s.schema().fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, vec!["x", "id"]);
        assert_eq!(s.num_rows(), 5);
        let e = select(&t, &["id", "nmae"]).unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (ErrorKind::NotFound, "no column `nmae` in the table; did you mean `name`?")
        );
        assert_eq!(e.detail.as_deref(), Some("columns: id, name, x"));
        let e = select(&t, &["id", "id"]).unwrap_err();
        assert_eq!((e.kind, e.message.as_str()), (ErrorKind::InvalidArgument, "column `id` is selected twice"));
    }

    #[test]
    fn concat_checks_schemas() {
        let t = t5();
        let c = concat(&[&t, &slice(&t, 0, 2)]).unwrap();
        assert_eq!(ids(&c), vec![0.0, 1.0, 2.0, 3.0, 4.0, 0.0, 1.0]);

        // Nullability may differ; the result is nullable.
        let strict = Table::from_batch(
            RecordBatch::try_from_iter_with_nullable(vec![
                ("id", Arc::new(Int64Array::from(vec![9])) as ArrayRef, false),
                ("name", Arc::new(StringArray::from(vec!["z"])) as ArrayRef, false),
                ("x", Arc::new(Float64Array::from(vec![0.5])) as ArrayRef, false),
            ])
            .unwrap(),
        );
        let c = concat(&[&strict, &t]).unwrap();
        assert!(c.schema().field(1).is_nullable());
        assert_eq!(c.num_rows(), 6);

        let other = select(&t, &["id", "x", "name"]).unwrap();
        let e = concat(&[&t, &other]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        assert_eq!(e.message, "table 1 does not match table 0: column 1 is `x` there and `name` in table 0");
        let narrow = select(&t, &["id"]).unwrap();
        let e = concat(&[&t, &narrow]).unwrap_err();
        assert_eq!(e.message, "table 1 does not match table 0: it has 1 columns, table 0 has 3");
        let recast = cast(&t, "x", DType::Utf8).unwrap();
        let e = concat(&[&t, &recast]).unwrap_err();
        assert_eq!(e.message, "table 1 does not match table 0: column `x` is Utf8 there and Float64 in table 0");
        assert_eq!(concat(&[]).unwrap_err().kind, ErrorKind::InvalidArgument);
    }

    #[test]
    fn ipc_round_trip_and_bad_bytes() {
        let t = t5();
        let bytes = to_ipc(&t).unwrap();
        let back = from_ipc(&bytes).unwrap();
        assert_eq!(back.schema(), t.schema());
        assert_eq!(ids(&back), ids(&t));
        assert_eq!(read_utf8(&back, "name", 0, 9).unwrap(), read_utf8(&t, "name", 0, 9).unwrap());

        for bad in [&b""[..], &b"not arrow at all"[..], &bytes[..bytes.len() / 2], &bytes[7..]] {
            let e = from_ipc(bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Data, "{e:?}");
            assert!(e.message.starts_with("invalid Arrow IPC stream"), "{}", e.message);
        }
        // Flipped bytes anywhere: an error or a table, never a panic.
        for i in (0..bytes.len()).step_by(7) {
            let mut b = bytes.clone();
            b[i] ^= 0x5a;
            let _ = from_ipc(&b);
        }
    }

    #[test]
    fn take_across_batches() {
        let t = t5();
        assert_eq!(ids(&take(&t, &[4, 0, 3, 3]).unwrap()), vec![4.0, 0.0, 3.0, 3.0]);
        assert_eq!(ids(&take(&slice(&t, 0, 3), &[2, 1]).unwrap()), vec![2.0, 1.0]);
        assert_eq!(take(&t, &[]).unwrap().num_rows(), 0);
        let e = take(&t, &[1, 5]).unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (ErrorKind::InvalidArgument, "row 5 is out of range: the table has 5 rows")
        );
        assert_eq!(e.detail.as_deref(), Some("index 1 of the row list"));
    }

    #[test]
    fn sort_is_stable_multi_key_with_nulls() {
        let t = t5();
        // name asc nulls last, then x desc: a(3: 1.0), a(2: null), b, c, null.
        let s = sort(&t, &[SortKey::asc("name"), SortKey::desc("x")]).unwrap();
        assert_eq!(ids(&s), vec![3.0, 2.0, 4.0, 0.0, 1.0]);
        // Nulls first, descending.
        let s = sort(&t, &[SortKey { column: "x".into(), descending: true, nulls_first: true }]).unwrap();
        assert_eq!(ids(&s), vec![2.0, 1.0, 0.0, 3.0, 4.0]);
        // Equal keys keep their order (0 and 3 share x = 1.0).
        let s = sort(&t, &[SortKey::asc("x")]).unwrap();
        assert_eq!(ids(&s), vec![4.0, 0.0, 3.0, 1.0, 2.0]);
        let big: Vec<i64> = (0..10_000).map(|i| i % 3).collect();
        let tb = Table::from_batch(
            RecordBatch::try_from_iter(vec![
                ("k", Arc::new(Int64Array::from(big)) as ArrayRef),
                ("i", Arc::new(Int64Array::from((0..10_000).collect::<Vec<i64>>())) as ArrayRef),
            ])
            .unwrap(),
        );
        let s = sort(&tb, &[SortKey::asc("k")]).unwrap();
        let i = read_f64(&s, "i", 0, u64::MAX).unwrap();
        let k = read_f64(&s, "k", 0, u64::MAX).unwrap();
        assert!(i.windows(2).zip(k.windows(2)).all(|(i, k)| k[0] < k[1] || (k[0] == k[1] && i[0] < i[1])));

        assert_eq!(sort(&t, &[]).unwrap_err().kind, ErrorKind::InvalidArgument);
        assert_eq!(sort(&t, &[SortKey::asc("nope")]).unwrap_err().kind, ErrorKind::NotFound);
    }

    #[test]
    fn casts_and_failures() {
        let t = Table::from_batch(
            RecordBatch::try_from_iter(vec![
                ("s", Arc::new(StringArray::from(vec![Some("1"), None, Some("30")])) as ArrayRef),
                ("bad", Arc::new(StringArray::from(vec!["1", "two", "3"])) as ArrayRef),
                ("i", Arc::new(Int32Array::from(vec![1, 2, 3])) as ArrayRef),
            ])
            .unwrap(),
        );
        let c = cast(&t, "s", DType::Int64).unwrap();
        assert_eq!(c.schema().field(0).data_type(), &DataType::Int64);
        let v = read_f64(&c, "s", 0, 3).unwrap();
        assert_eq!((v[0], v[1].is_nan(), v[2]), (1.0, true, 30.0));
        let d = cast(&t, "s", DType::Dictionary).unwrap();
        assert_eq!(crate::fields(&d)[0].1, DType::Dictionary);
        assert_eq!(read_utf8(&d, "s", 0, 3).unwrap(), vec![Some("1".into()), None, Some("30".into())]);
        let ts = cast(&t, "i", DType::TimestampMs).unwrap();
        assert_eq!(crate::fields(&ts)[2].1, DType::TimestampMs);

        let e = cast(&t, "bad", DType::Float64).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Data);
        assert!(e.message.starts_with("cannot cast column `bad` to float64: "), "{}", e.message);
        assert_eq!(cast(&t, "i", DType::Other).unwrap_err().kind, ErrorKind::InvalidArgument);
        let list = arrow_array::ListArray::from_iter_primitive::<arrow_array::types::Int32Type, _, _>(vec![Some(
            vec![Some(1)],
        )]);
        let lt = Table::from_batch(RecordBatch::try_from_iter(vec![("l", Arc::new(list) as ArrayRef)]).unwrap());
        let e = cast(&lt, "l", DType::Float64).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        assert!(e.message.starts_with("cannot cast column `l` from List"), "{}", e.message);
        assert_eq!(cast(&t, "x", DType::Utf8).unwrap_err().kind, ErrorKind::NotFound);
    }

    #[test]
    fn read_values() {
        let t = t5();
        let x = read_f64(&t, "x", 1, 3).unwrap();
        assert_eq!((x[0], x[1].is_nan(), x[2]), (2.0, true, 1.0));
        let e = read_f64(&t, "name", 0, 1).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        assert_eq!(read_utf8(&t, "name", 0, 3).unwrap(), vec![Some("c".into()), None, Some("a".into())]);
        assert_eq!(read_utf8(&t, "x", 1, 2).unwrap(), vec![Some("2.0".into()), None]);

        let d: DictionaryArray<Int8Type> = vec![Some("p"), None, Some("q"), Some("p")].into_iter().collect();
        let t = Table::from_batch(
            RecordBatch::try_from_iter(vec![
                ("d", Arc::new(d) as ArrayRef),
                ("b", Arc::new(BooleanArray::from(vec![Some(true), None, Some(false), Some(true)])) as ArrayRef),
                ("ts", Arc::new(TimestampMillisecondArray::from(vec![0, 1, 2, 86_400_000])) as ArrayRef),
            ])
            .unwrap(),
        );
        assert_eq!(read_utf8(&t, "d", 1, 3).unwrap(), vec![None, Some("q".into()), Some("p".into())]);
        let b = read_f64(&t, "b", 0, 4).unwrap();
        assert_eq!((b[0], b[1].is_nan(), b[2]), (1.0, true, 0.0));
        assert_eq!(read_f64(&t, "ts", 3, 1).unwrap(), vec![86_400_000.0]);
        assert_eq!(read_utf8(&t, "ts", 3, 1).unwrap(), vec![Some("1970-01-02T00:00:00".into())]);
    }
}
