//! Deterministic hash splits (train/eval/test) for the ingest kernels: each row goes to a split
//! by a seeded hash of its key column's value, or of the whole row. The same row lands in the
//! same split on every machine, in every run and however the table is cut into batches.
//!
//! # The canonical encoding (a stability promise)
//!
//! Changing anything below reshuffles every user's splits, so it is pinned by tests. A value is
//! encoded as one tag byte and a payload:
//!
//! | value                                           | bytes                                            |
//! |-------------------------------------------------|--------------------------------------------------|
//! | null (any type)                                 | `00`                                             |
//! | boolean                                         | `01`, then `00` (false) or `01` (true)           |
//! | integer of any width that fits int64            | `02`, then the value as 8 bytes little-endian    |
//! | unsigned integer above `i64::MAX`               | `03`, then the value as 8 bytes little-endian    |
//! | float16/32/64 (widened to float64)              | `04`, then the IEEE bits as 8 bytes little-endian; `-0.0` is written as `0.0` and every NaN as `0x7FF8000000000000` |
//! | string (utf8, large-utf8, utf8-view, dictionary)| `05`, then the UTF-8 bytes                       |
//! | timestamp in milliseconds                       | `06`, then the value as 8 bytes little-endian    |
//!
//! The hash of a key value is `xxh64(encoding, seed)` ([`crate::hash::xxh64`], XXH64). The
//! hash of a whole row chains over the columns in schema order: `h = seed`, then for each
//! column `h = xxh64(encoding of its value, h)`. A row goes to split `i` when
//! `h % total_weight` falls in the `i`-th range of cumulative weights (`[0, w0)`, `[w0, w0+w1)`,
//! ...).

use crate::data::Table;
use crate::error::{ErrorKind, KernelError, Result};
use crate::hash::xxh64;
use crate::schema::column_index;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampMillisecondType, UInt64Type};
use arrow_array::{Array, ArrayRef, RecordBatch, UInt32Array};
use arrow_schema::{DataType, TimeUnit};

const TAG_NULL: u8 = 0x00;
const TAG_BOOL: u8 = 0x01;
const TAG_INT: u8 = 0x02;
const TAG_UINT: u8 = 0x03;
const TAG_FLOAT: u8 = 0x04;
const TAG_STRING: u8 = 0x05;
const TAG_TIMESTAMP_MS: u8 = 0x06;

/// The one NaN every NaN is hashed as.
const CANONICAL_NAN: u64 = 0x7FF8_0000_0000_0000;

/// Assigns each row to a split by a seeded hash: of the key column's value, or of the whole row
/// when `key` is `None`. Returns one table per weight, rows in their original order; a split
/// may be empty. See the module doc for the hash.
pub fn split_by_hash(table: &Table, key: Option<&str>, seed: u64, weights: &[u64]) -> Result<Vec<Table>> {
    if weights.is_empty() {
        return Err(KernelError::invalid("a split needs at least one weight"));
    }
    let total = weights
        .iter()
        .try_fold(0u64, |a, &w| a.checked_add(w))
        .ok_or_else(|| KernelError::invalid("the split weights add up to more than 2^64"))?;
    if total == 0 {
        return Err(KernelError::invalid("the split weights add up to zero; give at least one positive weight"));
    }
    let mut bounds = Vec::with_capacity(weights.len());
    let mut acc = 0u64;
    for &w in weights {
        acc += w;
        bounds.push(acc);
    }
    let key_index = key.map(|k| column_index(table, k)).transpose()?;
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let batches = table.batches();
    // Each batch splits on its own; with several batches they are shared out among the
    // threads (in contiguous runs, so the order is kept), and one large batch hashes its row
    // ranges in parallel instead.
    let per_batch =
        |batch: &RecordBatch, threads: usize| split_batch(table, batch, key_index, seed, total, &bounds, threads);
    let results: Vec<Result<Vec<Option<RecordBatch>>>> = if threads > 1 && batches.len() > 1 {
        let run = batches.len().div_ceil(threads);
        std::thread::scope(|s| {
            let handles: Vec<_> = batches
                .chunks(run)
                .map(|group| s.spawn(move || group.iter().map(|b| per_batch(b, 1)).collect::<Vec<_>>()))
                .collect();
            handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|_| vec![Err(panicked())])).collect()
        })
    } else {
        batches.iter().map(|b| per_batch(b, threads)).collect()
    };
    let mut parts: Vec<Vec<RecordBatch>> = vec![Vec::new(); weights.len()];
    for r in results {
        for (i, b) in r?.into_iter().enumerate() {
            if let Some(b) = b {
                parts[i].push(b);
            }
        }
    }
    parts
        .into_iter()
        .map(|batches| Table::new(table.schema().clone(), batches).map_err(|m| KernelError::new(ErrorKind::Other, m)))
        .collect()
}

/// The split hash of every row, in row order (what [`split_by_hash`] reduces modulo the total
/// weight). For tests and for checking a split by hand.
pub fn row_bucket_hashes(table: &Table, key: Option<&str>, seed: u64) -> Result<Vec<u64>> {
    let key_index = key.map(|k| column_index(table, k)).transpose()?;
    let mut out = Vec::with_capacity(table.num_rows());
    for batch in table.batches() {
        out.extend(batch_hashes(table, batch, key_index, seed)?);
    }
    Ok(out)
}

/// One batch's rows, gathered per split (`None` for a split that gets none of them).
fn split_batch(
    table: &Table,
    batch: &RecordBatch,
    key: Option<usize>,
    seed: u64,
    total: u64,
    bounds: &[u64],
    threads: usize,
) -> Result<Vec<Option<RecordBatch>>> {
    let hashes = parallel_batch_hashes(table, batch, key, seed, threads)?;
    let mut indices: Vec<Vec<u32>> = vec![Vec::new(); bounds.len()];
    for (row, h) in hashes.into_iter().enumerate() {
        let r = h % total;
        // The first cumulative bound above r; zero weights own no range.
        let split = bounds.partition_point(|&b| b <= r);
        indices[split].push(row as u32);
    }
    indices
        .into_iter()
        .map(|idx| {
            if idx.is_empty() {
                return Ok(None);
            }
            if idx.len() == batch.num_rows() {
                return Ok(Some(batch.clone()));
            }
            arrow_select::take::take_record_batch(batch, &UInt32Array::from(idx))
                .map(Some)
                .map_err(|e| KernelError::arrow(ErrorKind::Other, "split", e))
        })
        .collect()
}

/// Rows from which one batch is hashed on several threads.
const PARALLEL_ROWS: usize = 16_384;

fn panicked() -> KernelError {
    KernelError::new(ErrorKind::Other, "a split worker panicked")
}

/// [`batch_hashes`] over `threads` row ranges at once (the hash of a row depends on that row
/// only, so the result is the same).
fn parallel_batch_hashes(
    table: &Table,
    batch: &RecordBatch,
    key: Option<usize>,
    seed: u64,
    threads: usize,
) -> Result<Vec<u64>> {
    let n = batch.num_rows();
    let threads = threads.min(n / PARALLEL_ROWS).max(1);
    if threads == 1 {
        return batch_hashes(table, batch, key, seed);
    }
    let chunk = n.div_ceil(threads);
    let parts: Vec<Result<Vec<u64>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let start = (t * chunk).min(n);
                let rows = batch.slice(start, chunk.min(n - start));
                s.spawn(move || batch_hashes(table, &rows, key, seed))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(panicked()))).collect()
    });
    let mut out = Vec::with_capacity(n);
    for p in parts {
        out.extend(p?);
    }
    Ok(out)
}

fn batch_hashes(table: &Table, batch: &RecordBatch, key: Option<usize>, seed: u64) -> Result<Vec<u64>> {
    let mut hashes = vec![seed; batch.num_rows()];
    match key {
        Some(i) => fold_column(table, i, batch.column(i), &mut hashes)?,
        None => {
            for (i, col) in batch.columns().iter().enumerate() {
                fold_column(table, i, col, &mut hashes)?;
            }
        }
    }
    Ok(hashes)
}

#[inline]
fn fold_fixed(h: &mut u64, tag: u8, payload: u64) {
    let mut b = [0u8; 9];
    b[0] = tag;
    b[1..].copy_from_slice(&payload.to_le_bytes());
    *h = xxh64(&b, *h);
}

/// `h = xxh64(encoding of the row's value, h)` for every row of `col`.
fn fold_column(table: &Table, index: usize, col: &ArrayRef, hashes: &mut [u64]) -> Result<()> {
    let null = |h: &mut u64| *h = xxh64(&[TAG_NULL], *h);
    let cast = |to: &DataType| {
        arrow_cast::cast(col, to).map_err(|e| KernelError::arrow(ErrorKind::Other, "split: hashing a column", e))
    };
    match col.data_type() {
        DataType::Null => hashes.iter_mut().for_each(null),
        DataType::Boolean => {
            let a = col.as_boolean();
            for (r, h) in hashes.iter_mut().enumerate() {
                if a.is_null(r) {
                    null(h);
                } else {
                    *h = xxh64(&[TAG_BOOL, a.value(r) as u8], *h);
                }
            }
        }
        DataType::UInt64 => {
            let a = col.as_primitive::<UInt64Type>();
            for (r, h) in hashes.iter_mut().enumerate() {
                if a.is_null(r) {
                    null(h);
                } else {
                    let v = a.value(r);
                    if v > i64::MAX as u64 { fold_fixed(h, TAG_UINT, v) } else { fold_fixed(h, TAG_INT, v) }
                }
            }
        }
        dt if crate::schema::is_integer_type(dt) => {
            let c = cast(&DataType::Int64)?;
            let a = c.as_primitive::<Int64Type>();
            for (r, h) in hashes.iter_mut().enumerate() {
                if a.is_null(r) { null(h) } else { fold_fixed(h, TAG_INT, a.value(r) as u64) }
            }
        }
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            let c = if col.data_type() == &DataType::Float64 { col.clone() } else { cast(&DataType::Float64)? };
            let a = c.as_primitive::<Float64Type>();
            for (r, h) in hashes.iter_mut().enumerate() {
                if a.is_null(r) {
                    null(h);
                } else {
                    let v = a.value(r);
                    let bits = if v.is_nan() {
                        CANONICAL_NAN
                    } else if v == 0.0 {
                        0
                    } else {
                        v.to_bits()
                    };
                    fold_fixed(h, TAG_FLOAT, bits);
                }
            }
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            let a = col.as_primitive::<TimestampMillisecondType>();
            for (r, h) in hashes.iter_mut().enumerate() {
                if a.is_null(r) { null(h) } else { fold_fixed(h, TAG_TIMESTAMP_MS, a.value(r) as u64) }
            }
        }
        dt if crate::schema::is_string_type(dt) => {
            let c = if dt == &DataType::Utf8 { col.clone() } else { cast(&DataType::Utf8)? };
            let a = c.as_string::<i32>();
            let mut buf = Vec::new();
            for (r, h) in hashes.iter_mut().enumerate() {
                if a.is_null(r) {
                    null(h);
                } else {
                    buf.clear();
                    buf.push(TAG_STRING);
                    buf.extend_from_slice(a.value(r).as_bytes());
                    *h = xxh64(&buf, *h);
                }
            }
        }
        other => {
            let name = table.schema().field(index).name().clone();
            return Err(KernelError::invalid(format!(
                "cannot hash column `{name}` of type {other} for a split; split by a key column of type boolean, \
                 integer, float, string or timestamp-ms"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{BooleanArray, Float64Array, Int32Array, Int64Array, StringArray};
    use std::sync::Arc;

    fn small() -> Table {
        Table::from_batch(
            RecordBatch::try_from_iter(vec![
                ("id", Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10])) as ArrayRef),
                (
                    "city",
                    Arc::new(StringArray::from(vec![
                        Some("berlin"),
                        Some("paris"),
                        None,
                        Some("rome"),
                        Some("oslo"),
                        Some("lima"),
                        Some("paris"),
                        Some(""),
                        Some("kyiv"),
                        Some("bern"),
                    ])) as ArrayRef,
                ),
                (
                    "x",
                    Arc::new(Float64Array::from(vec![
                        Some(0.5),
                        Some(-0.0),
                        Some(f64::NAN),
                        None,
                        Some(1e300),
                        Some(2.0),
                        Some(3.25),
                        Some(0.0),
                        Some(-7.5),
                        Some(f64::INFINITY),
                    ])) as ArrayRef,
                ),
                (
                    "ok",
                    Arc::new(BooleanArray::from(vec![
                        Some(true),
                        Some(false),
                        None,
                        Some(true),
                        Some(true),
                        Some(false),
                        Some(false),
                        Some(true),
                        None,
                        Some(true),
                    ])) as ArrayRef,
                ),
            ])
            .unwrap(),
        )
    }

    fn assignment(parts: &[Table], key: &str) -> Vec<(i64, usize)> {
        let mut out = Vec::new();
        for (i, t) in parts.iter().enumerate() {
            for b in t.batches() {
                let idx = b.schema().index_of(key).unwrap();
                for v in b.column(idx).as_primitive::<Int64Type>().values() {
                    out.push((*v, i));
                }
            }
        }
        out.sort();
        out
    }

    /// Pins the hash: if this fails, users' splits would change. Do not update the expected
    /// values unless the change is intended and announced.
    #[test]
    fn pinned_split_of_known_rows() {
        let t = small();
        let by_row = split_by_hash(&t, None, 42, &[6, 3, 1]).unwrap();
        let by_row: Vec<usize> = assignment(&by_row, "id").into_iter().map(|(_, s)| s).collect();
        assert_eq!(by_row, vec![0, 0, 0, 0, 2, 1, 0, 1, 0, 2]);
        let by_city = split_by_hash(&t, Some("city"), 7, &[1, 1]).unwrap();
        let by_city: Vec<usize> = assignment(&by_city, "id").into_iter().map(|(_, s)| s).collect();
        assert_eq!(by_city, vec![0, 0, 1, 0, 1, 0, 0, 1, 1, 1]);
        let hashes = row_bucket_hashes(&t, Some("id"), 0).unwrap();
        assert_eq!(&hashes[..2], &[0x7BC7_59F3_A16F_D092, 0x7344_3B6B_7371_0ACA]);
        let hashes = row_bucket_hashes(&t, None, 0).unwrap();
        assert_eq!((hashes[0], hashes[2]), (0x8B4A_B9C3_391A_F1FE, 0x1FD3_B212_53C8_FE23));
    }

    #[test]
    fn encoding_details() {
        // Same city, same key hash (rows 2 and 7 are both "paris").
        let h = row_bucket_hashes(&small(), Some("city"), 3).unwrap();
        assert_eq!(h[1], h[6]);
        assert_ne!(h[2], h[7], "null and the empty string differ");
        // -0.0 hashes as 0.0; all NaNs as one.
        let f = |v: Vec<f64>| {
            let t = Table::from_batch(
                RecordBatch::try_from_iter(vec![("x", Arc::new(Float64Array::from(v)) as ArrayRef)]).unwrap(),
            );
            row_bucket_hashes(&t, None, 9).unwrap()
        };
        let nan2 = f64::from_bits(0x7FF0_0000_0000_0001);
        let h = f(vec![0.0, -0.0, f64::NAN, nan2, -f64::NAN]);
        assert_eq!(h[0], h[1]);
        assert_eq!(h[2], h[3]);
        assert_eq!(h[2], h[4]);
        // An int32 column hashes like the same values as int64.
        let i32t = Table::from_batch(
            RecordBatch::try_from_iter(vec![("v", Arc::new(Int32Array::from(vec![5, -1])) as ArrayRef)]).unwrap(),
        );
        let i64t = Table::from_batch(
            RecordBatch::try_from_iter(vec![("v", Arc::new(Int64Array::from(vec![5, -1])) as ArrayRef)]).unwrap(),
        );
        assert_eq!(row_bucket_hashes(&i32t, None, 1).unwrap(), row_bucket_hashes(&i64t, None, 1).unwrap());
        // The documented encoding, by hand.
        let mut b = vec![TAG_INT];
        b.extend_from_slice(&5i64.to_le_bytes());
        assert_eq!(row_bucket_hashes(&i64t, None, 1).unwrap()[0], xxh64(&b, 1));
        let h = row_bucket_hashes(&small(), Some("city"), 3).unwrap();
        assert_eq!(h[0], xxh64(b"\x05berlin", 3));
        assert_eq!(h[2], xxh64(&[TAG_NULL], 3));
    }

    #[test]
    fn independent_of_batch_boundaries() {
        let n = 10_000usize;
        let ids: Vec<i64> = (0..n as i64).collect();
        let names: Vec<String> = (0..n).map(|i| format!("n{}", i % 97)).collect();
        let whole = RecordBatch::try_from_iter(vec![
            ("id", Arc::new(Int64Array::from(ids)) as ArrayRef),
            ("name", Arc::new(StringArray::from(names)) as ArrayRef),
        ])
        .unwrap();
        let one = Table::from_batch(whole.clone());
        let cuts = [0, 1, 17, 4000, 4001, 9999, n];
        let pieces: Vec<RecordBatch> = cuts.windows(2).map(|w| whole.slice(w[0], w[1] - w[0])).collect();
        let many = Table::new(whole.schema(), pieces).unwrap();
        for key in [None, Some("name"), Some("id")] {
            let a = split_by_hash(&one, key, 11, &[7, 2, 1]).unwrap();
            let b = split_by_hash(&many, key, 11, &[7, 2, 1]).unwrap();
            assert_eq!(assignment(&a, "id"), assignment(&b, "id"), "{key:?}");
            assert_eq!(row_bucket_hashes(&one, key, 11).unwrap(), row_bucket_hashes(&many, key, 11).unwrap());
        }
        // Rows keep their order within a split.
        let a = split_by_hash(&many, None, 11, &[1, 1]).unwrap();
        for t in &a {
            let ids: Vec<i64> =
                t.batches().iter().flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec()).collect();
            assert!(ids.windows(2).all(|w| w[0] < w[1]));
        }
        // A different seed gives a different split.
        let c = split_by_hash(&one, None, 12, &[7, 2, 1]).unwrap();
        assert_ne!(assignment(&c, "id"), assignment(&split_by_hash(&one, None, 11, &[7, 2, 1]).unwrap(), "id"));
    }

    #[test]
    fn a_million_rows_split_eight_to_two() {
        let n = 1_000_000i64;
        let t = Table::from_batch(
            RecordBatch::try_from_iter(vec![(
                "id",
                Arc::new(Int64Array::from((0..n).collect::<Vec<_>>())) as ArrayRef,
            )])
            .unwrap(),
        );
        for key in [None, Some("id")] {
            let parts = split_by_hash(&t, key, 2024, &[8, 2]).unwrap();
            let train = parts[0].num_rows() as f64 / n as f64;
            assert_eq!(parts[0].num_rows() + parts[1].num_rows(), n as usize);
            assert!((train - 0.8).abs() < 0.005, "train fraction {train}");
        }
    }

    #[test]
    fn errors_and_zero_weights() {
        let t = small();
        let e = split_by_hash(&t, Some("cty"), 0, &[1, 1]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(e.detail.as_deref(), Some("columns: id, city, x, ok"));
        assert_eq!(split_by_hash(&t, None, 0, &[]).unwrap_err().kind, ErrorKind::InvalidArgument);
        let e = split_by_hash(&t, None, 0, &[0, 0]).unwrap_err();
        assert!(e.message.contains("zero"), "{}", e.message);
        assert_eq!(split_by_hash(&t, None, 0, &[u64::MAX, 1]).unwrap_err().kind, ErrorKind::InvalidArgument);
        // A zero weight gets no rows; one weight gets them all.
        let parts = split_by_hash(&t, None, 0, &[0, 5, 0]).unwrap();
        assert_eq!(parts.iter().map(Table::num_rows).collect::<Vec<_>>(), vec![0, 10, 0]);
        assert_eq!(parts[0].schema(), t.schema());
    }
}
