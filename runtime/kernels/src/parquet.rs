//! Parquet decoding for the ingest kernels (next to [`crate::csv`] and [`crate::jsonl`]): a whole
//! Parquet file held in memory becomes record batches, with optional column projection.
//!
//! String columns come out as plain `utf8` whatever their Parquet/Arrow encoding (dictionary,
//! large or view strings), so downstream kernels see the same types as from CSV. A file that is
//! not Parquet, is truncated or corrupt, or uses a codec this build lacks (only Snappy and
//! uncompressed are compiled in) is an [`ErrorKind::Data`] error, never a panic.

use crate::data::Table;
use crate::error::{ErrorKind, KernelError, Result, one_line};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use bytes::Bytes;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::sync::Arc;

/// Decodes the Parquet file `bytes` into tables of at most `batch_rows` rows each, in file
/// order. `columns` selects and orders the columns (top-level names); `None` reads them all.
pub fn read_parquet(bytes: impl Into<Bytes>, columns: Option<&[String]>, batch_rows: usize) -> Result<Vec<Table>> {
    if batch_rows == 0 {
        return Err(KernelError::invalid("batch_rows must be at least 1"));
    }
    let bytes: Bytes = bytes.into();
    // The Parquet reader is meant to return errors on bad input; should a corrupt file still
    // reach a panic inside it, it is reported as bad data like any other corruption.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read(bytes, columns, batch_rows)))
        .unwrap_or_else(|_| Err(KernelError::data("the Parquet file is corrupt: its decoder failed on it".to_string())))
}

fn read(bytes: Bytes, columns: Option<&[String]>, batch_rows: usize) -> Result<Vec<Table>> {
    let bad = |e: parquet::errors::ParquetError| {
        KernelError::data(format!("not a readable Parquet file: {}", one_line(&e.to_string())))
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(bad)?;
    let file_schema = builder.schema().clone();
    let (builder, order) = match columns {
        None => (builder, None),
        Some(cols) => {
            let mut indices = Vec::with_capacity(cols.len());
            for c in cols {
                let i = file_schema.index_of(c).map_err(|_| KernelError::unknown_column(&file_schema, c))?;
                if indices.contains(&i) {
                    return Err(KernelError::invalid(format!("column `{c}` is selected twice")));
                }
                indices.push(i);
            }
            let mask = ProjectionMask::roots(builder.parquet_schema(), indices.iter().copied());
            // The reader yields the selected columns in file order; `order` puts them in the
            // requested one.
            let mut sorted = indices.clone();
            sorted.sort_unstable();
            let order: Vec<usize> = indices.iter().filter_map(|i| sorted.iter().position(|s| s == i)).collect();
            (builder.with_projection(mask), Some(order))
        }
    };
    let reader = builder.with_batch_size(batch_rows).build().map_err(bad)?;
    let mut out_schema: Option<SchemaRef> = None;
    let mut tables = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| KernelError::arrow(ErrorKind::Data, "the Parquet file is corrupt", e))?;
        let batch = match &order {
            Some(order) => {
                batch.project(order).map_err(|e| KernelError::arrow(ErrorKind::Other, "Parquet projection", e))?
            }
            None => batch,
        };
        let schema = out_schema.get_or_insert_with(|| plain_schema(&batch.schema())).clone();
        let batch = to_plain(batch, &schema)?;
        if batch.num_rows() > 0 {
            tables.push(Table::from_batch(batch));
        }
    }
    Ok(tables)
}

/// Whether a column of this type is read as `utf8`.
fn is_other_string(dt: &DataType) -> bool {
    match dt {
        DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, v) => matches!(v.as_ref(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View),
        _ => false,
    }
}

fn plain_schema(schema: &Schema) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            if is_other_string(f.data_type()) {
                f.as_ref().clone().with_data_type(DataType::Utf8)
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

fn to_plain(batch: RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    if !batch.schema().fields().iter().any(|f| is_other_string(f.data_type())) {
        return Ok(batch);
    }
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|c| {
            if is_other_string(c.data_type()) {
                arrow_cast::cast(c, &DataType::Utf8)
                    .map_err(|e| KernelError::arrow(ErrorKind::Data, "Parquet string column", e))
            } else {
                Ok(c.clone())
            }
        })
        .collect::<Result<_>>()?;
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| KernelError::arrow(ErrorKind::Other, "Parquet batch", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::types::Int32Type;
    use arrow_array::{Array, DictionaryArray, Float64Array, Int64Array, LargeStringArray, StringArray};
    use parquet::arrow::ArrowWriter;

    fn sample() -> RecordBatch {
        let dict: DictionaryArray<Int32Type> = vec![Some("a"), None, Some("b"), Some("a")].into_iter().collect();
        RecordBatch::try_from_iter(vec![
            ("id", Arc::new(Int64Array::from(vec![1, 2, 3, 4])) as ArrayRef),
            ("x", Arc::new(Float64Array::from(vec![Some(0.5), None, Some(2.5), Some(-1.0)])) as ArrayRef),
            ("city", Arc::new(dict) as ArrayRef),
            ("note", Arc::new(LargeStringArray::from(vec!["p", "q", "r", "s"])) as ArrayRef),
        ])
        .unwrap()
    }

    fn write(batch: &RecordBatch) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = ArrowWriter::try_new(&mut out, batch.schema(), None).unwrap();
        w.write(batch).unwrap();
        w.close().unwrap();
        out
    }

    #[test]
    fn round_trip_with_strings_as_utf8() {
        let bytes = write(&sample());
        let tables = read_parquet(bytes, None, 3).unwrap();
        assert_eq!(tables.iter().map(Table::num_rows).collect::<Vec<_>>(), vec![3, 1]);
        let b = &tables[0].batches()[0];
        let s = b.schema();
        let types: Vec<&DataType> = s.fields().iter().map(|f| f.data_type()).collect();
        assert_eq!(types, vec![&DataType::Int64, &DataType::Float64, &DataType::Utf8, &DataType::Utf8]);
        let city = b.column(2).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(city.iter().collect::<Vec<_>>(), vec![Some("a"), None, Some("b")]);
        let x = b.column(1).as_any().downcast_ref::<Float64Array>().unwrap();
        assert_eq!(x.value(0), 0.5);
        assert!(x.is_null(1));
        let note = tables[1].batches()[0].column(3).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(note.value(0), "s");
    }

    #[test]
    fn projection_in_the_requested_order() {
        let bytes = write(&sample());
        let cols = vec!["note".to_string(), "id".to_string()];
        let tables = read_parquet(bytes.clone(), Some(&cols), 100).unwrap();
        assert_eq!(tables.len(), 1);
        let s = tables[0].schema();
        assert_eq!(s.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>(), vec!["note", "id"]);
        let ids = tables[0].batches()[0].column(1).as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(ids.values(), &[1, 2, 3, 4]);

        let e = read_parquet(bytes, Some(&["idd".to_string()]), 100).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert!(e.message.contains("did you mean `id`"), "{}", e.message);
    }

    #[test]
    fn corrupt_or_foreign_bytes_are_data_errors() {
        let e = read_parquet(b"id,x\n1,2\n".to_vec(), None, 10).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Data);
        assert!(e.message.starts_with("not a readable Parquet file"), "{}", e.message);

        let good = write(&sample());
        // Every truncation, and a run of flipped bytes, is an error or a clean read; never a panic.
        for cut in (0..good.len()).step_by(7) {
            let r = read_parquet(good[..cut].to_vec(), None, 10);
            assert!(r.is_err(), "cut at {cut}");
            assert_eq!(r.unwrap_err().kind, ErrorKind::Data);
        }
        for at in (4..good.len() - 8).step_by(5) {
            let mut bad = good.clone();
            bad[at] ^= 0x5A;
            if let Err(e) = read_parquet(bad, None, 10) {
                assert_eq!(e.kind, ErrorKind::Data, "{e:?}");
            }
        }
    }
}
