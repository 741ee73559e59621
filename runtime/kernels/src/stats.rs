//! Summary statistics of one column (WIT `table.column-stats`), in one fused pass over the
//! Arrow buffers.
//!
//! The pass walks the values slice of each batch in cache-sized chunks of 1024 values.
//! Each chunk is summed (with min, max and zero count in the same loop) and then, while it is
//! still in L1 cache, its squared deviations from its own mean are summed: a two-pass
//! computation per chunk, which is numerically stable and vectorizes. Chunk partials are merged
//! with Chan's parallel formula, so batches of any size and number combine exactly as one
//! stream would. Null bitmaps are skipped entirely when a batch has no nulls; otherwise valid
//! values are taken run by run (few nulls) or gathered by index (many nulls).
//!
//! # NaN
//!
//! A NaN is a value, not a null: it counts in `count` (so `count + nulls` is the number of
//! rows) and is reported in `nans`, but it is left out of `mean`, `std_dev`, `min` and `max`,
//! which describe the non-NaN values (like `numpy.nanmean`). Infinities are ordinary values
//! and propagate by IEEE rules (a column holding both `+inf` and `-inf` has a NaN mean).

use crate::data::Table;
use crate::dict::key_counts;
use crate::error::{KernelError, Result};
use crate::numeric::{NumVisitor, ToF64, visit_numeric};
use crate::schema::{chunks, column_index, is_string_type};
use arrow_array::cast::AsArray;
use arrow_array::{Array, OffsetSizeTrait};
use arrow_buffer::NullBuffer;
use arrow_schema::DataType;

/// Summary statistics of a column; mirrors WIT `column-stats` (plus `nans`, which WIT 0.1
/// does not carry).
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnStats {
    /// Non-null values (NaN included).
    pub count: u64,
    /// Null values.
    pub nulls: u64,
    /// NaN values (float columns; counted in `count`, left out of the moments and extremes).
    pub nans: u64,
    /// Mean of the non-NaN values; numeric columns with at least one such value.
    pub mean: Option<f64>,
    /// Population standard deviation of the non-NaN values; as `mean`.
    pub std_dev: Option<f64>,
    /// Smallest non-NaN value; as `mean`.
    pub min: Option<f64>,
    /// Largest non-NaN value; as `mean`.
    pub max: Option<f64>,
    /// Values equal to zero (`-0.0` included); every numeric column.
    pub zeros: Option<u64>,
    /// Mean length in UTF-8 bytes of the non-null values; string columns with at least one.
    pub avg_length: Option<f64>,
}

/// Values per chunk: 8 KiB of f64, well inside L1.
pub(crate) const CHUNK: usize = 1024;

/// Partial moments of a set of non-NaN values, mergeable with Chan's formula.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Moments {
    /// Number of non-NaN values.
    pub n: u64,
    pub mean: f64,
    /// Sum of squared deviations from `mean`.
    pub m2: f64,
    pub min: f64,
    pub max: f64,
    pub zeros: u64,
    pub nans: u64,
}

impl Default for Moments {
    fn default() -> Self {
        Moments { n: 0, mean: 0.0, m2: 0.0, min: f64::INFINITY, max: f64::NEG_INFINITY, zeros: 0, nans: 0 }
    }
}

impl Moments {
    /// Fold `o` into `self` (Chan, Golub and LeVeque's pairwise update).
    pub(crate) fn merge(&mut self, o: &Moments) {
        self.zeros += o.zeros;
        self.nans += o.nans;
        if o.n == 0 {
            return;
        }
        if self.n == 0 {
            let (zeros, nans) = (self.zeros, self.nans);
            *self = *o;
            self.zeros = zeros;
            self.nans = nans;
            return;
        }
        let (na, nb) = (self.n as f64, o.n as f64);
        let n = na + nb;
        let delta = o.mean - self.mean;
        self.mean += delta * (nb / n);
        self.m2 += o.m2 + delta * delta * (na * nb / n);
        self.n += o.n;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
    }

    /// Moments of `xs` (at most a few thousand values, no nulls). NaNs are counted and skipped.
    #[inline]
    fn of_chunk<T: ToF64>(xs: &[T]) -> Moments {
        const L: usize = 8;
        let mut sum = [0.0f64; L];
        let mut mn = [f64::INFINITY; L];
        let mut mx = [f64::NEG_INFINITY; L];
        let mut zeros = [0u32; L];
        let mut it = xs.chunks_exact(L);
        for c in &mut it {
            for j in 0..L {
                let x = c[j].to_f64();
                sum[j] += x;
                mn[j] = if x < mn[j] { x } else { mn[j] };
                mx[j] = if x > mx[j] { x } else { mx[j] };
                zeros[j] += (x == 0.0) as u32;
            }
        }
        for (j, x) in it.remainder().iter().enumerate() {
            let x = x.to_f64();
            sum[j] += x;
            mn[j] = if x < mn[j] { x } else { mn[j] };
            mx[j] = if x > mx[j] { x } else { mx[j] };
            zeros[j] += (x == 0.0) as u32;
        }
        let total: f64 = sum.iter().sum();
        if T::FLOAT && total.is_nan() && xs.iter().any(|x| x.to_f64().is_nan()) {
            return Moments::of_chunk_with_nans(xs);
        }
        let n = xs.len();
        if n == 0 {
            return Moments::default();
        }
        let mean = total / n as f64;
        // Second pass over the cached chunk: squared deviations, with the compensation term
        // (the sum of deviations, zero in exact arithmetic) of the "corrected two-pass" method.
        let mut m2 = [0.0f64; L];
        let mut comp = [0.0f64; L];
        let mut it = xs.chunks_exact(L);
        for c in &mut it {
            for j in 0..L {
                let d = c[j].to_f64() - mean;
                m2[j] += d * d;
                comp[j] += d;
            }
        }
        for (j, x) in it.remainder().iter().enumerate() {
            let d = x.to_f64() - mean;
            m2[j] += d * d;
            comp[j] += d;
        }
        let comp: f64 = comp.iter().sum();
        let m2 = (m2.iter().sum::<f64>() - comp * comp / n as f64).max(0.0);
        Moments {
            n: n as u64,
            mean,
            m2,
            min: mn.iter().fold(f64::INFINITY, |a, b| a.min(*b)),
            max: mx.iter().fold(f64::NEG_INFINITY, |a, b| a.max(*b)),
            zeros: zeros.iter().map(|z| *z as u64).sum(),
            nans: 0,
        }
    }

    /// The slow path of [`Moments::of_chunk`] for a chunk that holds NaNs.
    #[cold]
    fn of_chunk_with_nans<T: ToF64>(xs: &[T]) -> Moments {
        let clean: Vec<f64> = xs.iter().map(|x| x.to_f64()).filter(|x| !x.is_nan()).collect();
        let mut m = Moments::of_chunk(&clean);
        m.nans = (xs.len() - clean.len()) as u64;
        m
    }
}

/// Accumulates the moments of a stream of valid values, chunk by chunk.
pub(crate) struct MomentsAcc {
    total: Moments,
    buf: Vec<f64>,
}

impl MomentsAcc {
    pub(crate) fn new() -> Self {
        MomentsAcc { total: Moments::default(), buf: Vec::with_capacity(CHUNK) }
    }

    /// Add `xs`, all valid.
    fn push<T: ToF64>(&mut self, mut xs: &[T]) {
        if !self.buf.is_empty() {
            let take = (CHUNK - self.buf.len()).min(xs.len());
            self.buf.extend(xs[..take].iter().map(|x| x.to_f64()));
            xs = &xs[take..];
            if self.buf.len() == CHUNK {
                self.flush();
            }
        }
        let mut it = xs.chunks_exact(CHUNK);
        for c in &mut it {
            self.total.merge(&Moments::of_chunk(c));
        }
        self.buf.extend(it.remainder().iter().map(|x| x.to_f64()));
    }

    fn flush(&mut self) {
        if !self.buf.is_empty() {
            let m = Moments::of_chunk(&self.buf);
            self.total.merge(&m);
            self.buf.clear();
        }
    }

    /// The moments of everything pushed.
    pub(crate) fn finish(mut self) -> Moments {
        self.flush();
        self.total
    }
}

impl NumVisitor for MomentsAcc {
    fn visit<T: ToF64>(&mut self, values: &[T], nulls: Option<&NullBuffer>) {
        match nulls.filter(|n| n.null_count() > 0) {
            None => self.push(values),
            // Few nulls: long runs of valid values, taken as slices.
            Some(n) if n.null_count() * 16 < values.len() => {
                for (s, e) in n.valid_slices() {
                    self.push(&values[s..e]);
                }
            }
            // Many nulls: gather the valid values by index.
            Some(n) => {
                for i in n.valid_indices() {
                    self.buf.push(values[i].to_f64());
                    if self.buf.len() == CHUNK {
                        self.flush();
                    }
                }
            }
        }
    }
}

/// Summary statistics of column `column` in one pass over every batch: numbers of any width,
/// booleans (as 0/1), temporal types (their integer value), decimals, and strings (utf8,
/// large-utf8, utf8-view, dictionaries of strings; only `count`, `nulls` and `avg_length`).
/// See the module doc for NaN. Other types (lists, structs) are `InvalidArgument`.
pub fn column_stats(table: &Table, column: &str) -> Result<ColumnStats> {
    let idx = column_index(table, column)?;
    let dt = table.schema().field(idx).data_type().clone();
    if is_string_type(&dt) {
        return string_stats(table, idx, column);
    }
    if dt == DataType::Boolean {
        return Ok(bool_stats(table, idx));
    }
    let mut acc = MomentsAcc::new();
    let mut nulls = 0u64;
    for a in chunks(table, idx) {
        nulls += a.null_count() as u64;
        visit_numeric(a.as_ref(), column, &mut acc)?;
    }
    let m = acc.finish();
    Ok(numeric_result(m, nulls))
}

fn numeric_result(m: Moments, nulls: u64) -> ColumnStats {
    let some = m.n > 0;
    ColumnStats {
        count: m.n + m.nans,
        nulls,
        nans: m.nans,
        mean: some.then_some(m.mean),
        std_dev: some.then(|| (m.m2 / m.n as f64).sqrt()),
        min: some.then_some(m.min),
        max: some.then_some(m.max),
        zeros: Some(m.zeros),
        avg_length: None,
    }
}

fn bool_stats(table: &Table, idx: usize) -> ColumnStats {
    let (mut n, mut ones, mut nulls) = (0u64, 0u64, 0u64);
    for a in chunks(table, idx) {
        let b = a.as_boolean();
        nulls += b.null_count() as u64;
        n += (b.len() - b.null_count()) as u64;
        ones += b.true_count() as u64;
    }
    let m = if n == 0 {
        Moments::default()
    } else {
        let zeros = n - ones;
        Moments {
            n,
            mean: ones as f64 / n as f64,
            m2: ones as f64 * zeros as f64 / n as f64,
            min: if zeros > 0 { 0.0 } else { 1.0 },
            max: if ones > 0 { 1.0 } else { 0.0 },
            zeros,
            nans: 0,
        }
    };
    numeric_result(m, nulls)
}

fn string_stats(table: &Table, idx: usize, column: &str) -> Result<ColumnStats> {
    let (mut count, mut nulls, mut bytes) = (0u64, 0u64, 0u64);
    for a in chunks(table, idx) {
        let (c, nu, by) = string_lengths(a.as_ref()).ok_or_else(|| {
            KernelError::invalid(format!("column `{column}` has type {}, not a string", a.data_type()))
        })?;
        count += c;
        nulls += nu;
        bytes += by;
    }
    Ok(ColumnStats {
        count,
        nulls,
        nans: 0,
        mean: None,
        std_dev: None,
        min: None,
        max: None,
        zeros: None,
        avg_length: (count > 0).then(|| bytes as f64 / count as f64),
    })
}

/// (non-null values, nulls, total bytes of the non-null values) of a string array.
fn string_lengths(a: &dyn Array) -> Option<(u64, u64, u64)> {
    fn offsets<O: OffsetSizeTrait>(a: &dyn Array) -> (u64, u64, u64) {
        let s = a.as_string::<O>();
        let off = s.value_offsets();
        let nulls = s.null_count() as u64;
        let mut bytes = 0u64;
        crate::numeric::for_each_valid_run(s.len(), s.nulls(), |b, e| {
            bytes += (off[e] - off[b]).as_usize() as u64;
        });
        (s.len() as u64 - nulls, nulls, bytes)
    }
    Some(match a.data_type() {
        DataType::Utf8 => offsets::<i32>(a),
        DataType::LargeUtf8 => offsets::<i64>(a),
        DataType::Utf8View => {
            let s = a.as_string_view();
            let views = s.views();
            let mut bytes = 0u64;
            crate::numeric::for_each_valid_run(s.len(), s.nulls(), |b, e| {
                bytes += views[b..e].iter().map(|v| (*v as u32) as u64).sum::<u64>();
            });
            let nulls = s.null_count() as u64;
            (s.len() as u64 - nulls, nulls, bytes)
        }
        DataType::Dictionary(_, _) => {
            let (counts, mut nulls, values) = key_counts(a)?;
            let strs = crate::dict::string_values(values.as_ref())?;
            let (mut count, mut bytes) = (0u64, 0u64);
            for (c, v) in counts.iter().zip(&strs) {
                match v {
                    Some(s) => {
                        count += c;
                        bytes += c * s.len() as u64;
                    }
                    None => nulls += c,
                }
            }
            (count, nulls, bytes)
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use arrow_array::types::Int32Type;
    use arrow_array::{
        ArrayRef, BooleanArray, DictionaryArray, Float32Array, Float64Array, Int8Array, Int64Array, LargeStringArray,
        ListArray, RecordBatch, StringArray, StringViewArray, UInt64Array,
    };
    use std::sync::Arc;

    fn table(cols: Vec<(&str, ArrayRef)>) -> Table {
        Table::from_batch(RecordBatch::try_from_iter(cols).unwrap())
    }

    fn batches(name: &str, parts: Vec<ArrayRef>) -> Table {
        let bs: Vec<RecordBatch> = parts
            .into_iter()
            .map(|a| RecordBatch::try_from_iter_with_nullable(vec![(name, a, true)]).unwrap())
            .collect();
        Table::new(bs[0].schema(), bs).unwrap()
    }

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-300)
    }

    #[test]
    fn small_numeric_by_hand() {
        // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, population std 2.
        let t = table(vec![("x", Arc::new(Int64Array::from(vec![2, 4, 4, 4, 5, 5, 7, 9])) as ArrayRef)]);
        let s = column_stats(&t, "x").unwrap();
        assert_eq!(
            s,
            ColumnStats {
                count: 8,
                nulls: 0,
                nans: 0,
                mean: Some(5.0),
                std_dev: Some(2.0),
                min: Some(2.0),
                max: Some(9.0),
                zeros: Some(0),
                avg_length: None,
            }
        );
    }

    #[test]
    fn nulls_zeros_and_batches() {
        let t = batches(
            "x",
            vec![
                Arc::new(Float64Array::from(vec![Some(0.0), None, Some(-0.0)])),
                Arc::new(Float64Array::from(vec![None, Some(3.0)])),
                Arc::new(Float64Array::from(Vec::<f64>::new())),
            ],
        );
        let s = column_stats(&t, "x").unwrap();
        assert_eq!((s.count, s.nulls, s.zeros), (3, 2, Some(2)));
        assert_eq!(s.mean, Some(1.0));
        assert!(close(s.std_dev.unwrap(), 2f64.sqrt(), 1e-15));
        assert_eq!((s.min, s.max), (Some(0.0), Some(3.0)));
    }

    #[test]
    fn nan_counts_as_a_value_but_not_in_moments() {
        let t = table(vec![("x", Arc::new(Float64Array::from(vec![Some(1.0), Some(f64::NAN), None, Some(3.0)])) as _)]);
        let s = column_stats(&t, "x").unwrap();
        assert_eq!((s.count, s.nulls, s.nans), (3, 1, 1));
        assert_eq!((s.mean, s.std_dev, s.min, s.max), (Some(2.0), Some(1.0), Some(1.0), Some(3.0)));

        let t = table(vec![("x", Arc::new(Float32Array::from(vec![f32::NAN, f32::NAN])) as _)]);
        let s = column_stats(&t, "x").unwrap();
        assert_eq!((s.count, s.nans, s.mean, s.min, s.zeros), (2, 2, None, None, Some(0)));
    }

    #[test]
    fn empty_and_all_null_columns() {
        let t = table(vec![("x", Arc::new(Int8Array::from(vec![None, None])) as _)]);
        let s = column_stats(&t, "x").unwrap();
        assert_eq!((s.count, s.nulls, s.mean, s.std_dev, s.zeros), (0, 2, None, None, Some(0)));
        let t = table(vec![("s", Arc::new(StringArray::from(Vec::<Option<&str>>::new())) as _)]);
        let s = column_stats(&t, "s").unwrap();
        assert_eq!((s.count, s.nulls, s.avg_length, s.mean), (0, 0, None, None));
    }

    #[test]
    fn booleans_are_zero_one() {
        let t = table(vec![("b", Arc::new(BooleanArray::from(vec![Some(true), Some(false), None, Some(true)])) as _)]);
        let s = column_stats(&t, "b").unwrap();
        assert_eq!((s.count, s.nulls, s.zeros, s.min, s.max), (3, 1, Some(1), Some(0.0), Some(1.0)));
        assert!(close(s.mean.unwrap(), 2.0 / 3.0, 1e-15));
        // Population variance of {1, 0, 1} = 2/9.
        assert!(close(s.std_dev.unwrap(), (2.0f64 / 9.0).sqrt(), 1e-15));
    }

    #[test]
    fn unsigned_beyond_i64() {
        let t = table(vec![("u", Arc::new(UInt64Array::from(vec![u64::MAX, 0])) as _)]);
        let s = column_stats(&t, "u").unwrap();
        assert_eq!((s.min, s.max, s.zeros), (Some(0.0), Some(u64::MAX as f64), Some(1)));
    }

    #[test]
    fn strings_of_every_layout() {
        let t = batches(
            "s",
            vec![
                Arc::new(StringArray::from(vec![Some("ab"), None, Some("café")])),
                Arc::new(StringArray::from(vec![Some(""), Some("xyz")])),
            ],
        );
        let s = column_stats(&t, "s").unwrap();
        // 2 + 5 ("café" is 5 bytes) + 0 + 3 over 4 values.
        assert_eq!((s.count, s.nulls, s.avg_length, s.mean, s.zeros), (4, 1, Some(2.5), None, None));

        let t = table(vec![("s", Arc::new(LargeStringArray::from(vec![Some("abcd"), None])) as _)]);
        assert_eq!(column_stats(&t, "s").unwrap().avg_length, Some(4.0));
        let t = table(vec![(
            "s",
            Arc::new(StringViewArray::from(vec![Some("a-string-longer-than-12"), Some("ab"), None])) as _,
        )]);
        let s = column_stats(&t, "s").unwrap();
        assert_eq!((s.count, s.nulls, s.avg_length), (2, 1, Some(12.5)));

        let d: DictionaryArray<Int32Type> = vec![Some("aa"), None, Some("aa"), Some("b")].into_iter().collect();
        let t = table(vec![("d", Arc::new(d) as _)]);
        let s = column_stats(&t, "d").unwrap();
        assert_eq!((s.count, s.nulls), (3, 1));
        assert!(close(s.avg_length.unwrap(), 5.0 / 3.0, 1e-15));
    }

    #[test]
    fn bad_column_and_type() {
        let t = table(vec![("fare", Arc::new(Int64Array::from(vec![1])) as _)]);
        let e = column_stats(&t, "far").unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
        let list = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![Some(vec![Some(1)])]);
        let t = table(vec![("l", Arc::new(list) as _)]);
        let e = column_stats(&t, "l").unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        assert!(e.message.contains("`l`"), "{}", e.message);
    }

    /// A deterministic pseudo-random stream (splitmix64).
    fn rng(seed: u64) -> impl FnMut() -> u64 {
        let mut s = seed;
        move || crate::hash::splitmix64(&mut s)
    }

    /// A table of `vals` in uneven batches, so chunk and batch boundaries fall everywhere.
    fn uneven(vals: &[Option<f64>]) -> Table {
        let mut parts: Vec<ArrayRef> = Vec::new();
        let mut at = 0;
        for len in [1, 4095, 300_000, 17, 695_887] {
            parts.push(Arc::new(Float64Array::from(vals[at..at + len].to_vec())));
            at += len;
        }
        assert_eq!(at, vals.len());
        batches("x", parts)
    }

    /// Mean and population variance, two passes.
    fn naive(xs: &[f64]) -> (f64, f64) {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        (mean, xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n)
    }

    #[test]
    fn million_rows_match_a_naive_two_pass() {
        let mut r = rng(7);
        let vals: Vec<Option<f64>> = (0..1_000_000)
            .map(|i| {
                let x = 1000.0 + 250.0 * (r() >> 11) as f64 / (1u64 << 53) as f64;
                if i % 97 == 0 { None } else { Some(x) }
            })
            .collect();
        let s = column_stats(&uneven(&vals), "x").unwrap();
        let xs: Vec<f64> = vals.iter().flatten().copied().collect();
        let (mean, var) = naive(&xs);
        assert_eq!(s.count, xs.len() as u64);
        assert_eq!(s.nulls, 1_000_000 - xs.len() as u64);
        assert!(close(s.mean.unwrap(), mean, 1e-9), "{} vs {mean}", s.mean.unwrap());
        assert!(close(s.std_dev.unwrap(), var.sqrt(), 1e-9), "{} vs {}", s.std_dev.unwrap(), var.sqrt());
        assert_eq!(s.min, xs.iter().copied().reduce(f64::min));
        assert_eq!(s.max, xs.iter().copied().reduce(f64::max));
    }

    #[test]
    fn stable_with_a_large_offset() {
        // 1e9 + U[0, 1): a one-pass sum of squares loses every digit here. The reference
        // subtracts the offset first (exact, by Sterbenz), then takes two passes.
        let mut r = rng(5);
        let vals: Vec<Option<f64>> =
            (0..1_000_000).map(|_| Some(1e9 + (r() >> 11) as f64 / (1u64 << 53) as f64)).collect();
        let s = column_stats(&uneven(&vals), "x").unwrap();
        let shifted: Vec<f64> = vals.iter().flatten().map(|x| x - 1e9).collect();
        let (mean, var) = naive(&shifted);
        assert!(close(s.mean.unwrap(), mean + 1e9, 1e-14), "{} vs {}", s.mean.unwrap(), mean + 1e9);
        assert!(close(s.std_dev.unwrap(), var.sqrt(), 1e-9), "{} vs {}", s.std_dev.unwrap(), var.sqrt());
    }

    #[test]
    fn million_ints_with_many_nulls() {
        let mut r = rng(11);
        let vals: Vec<Option<i32>> = (0..1_000_000)
            .map(|_| {
                let v = r();
                (!v.is_multiple_of(3)).then_some((v >> 40) as i32 - 4_000_000)
            })
            .collect();
        let t = table(vec![("x", Arc::new(arrow_array::Int32Array::from(vals.clone())) as _)]);
        let s = column_stats(&t, "x").unwrap();
        let xs: Vec<f64> = vals.iter().flatten().map(|v| *v as f64).collect();
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
        assert!(close(s.mean.unwrap(), mean, 1e-9));
        assert!(close(s.std_dev.unwrap(), var.sqrt(), 1e-9));
        assert_eq!(s.zeros, Some(xs.iter().filter(|x| **x == 0.0).count() as u64));
        assert_eq!(s.count + s.nulls, 1_000_000);
    }

    /// Timing of the fused pass: `cargo test -p mlp-kernels --release -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn timing_one_million_f64() {
        let mut r = rng(3);
        let xs: Vec<f64> = (0..1_000_000).map(|_| (r() >> 11) as f64).collect();
        let t = table(vec![("x", Arc::new(Float64Array::from(xs)) as _)]);
        let with_nulls: Vec<Option<f64>> = (0..1_000_000).map(|i| (i % 10 != 0).then_some(i as f64)).collect();
        let tn = table(vec![("x", Arc::new(Float64Array::from(with_nulls)) as _)]);
        for (name, t) in [("no nulls", &t), ("10% nulls", &tn)] {
            let mut best = f64::INFINITY;
            for _ in 0..20 {
                let start = std::time::Instant::now();
                let s = column_stats(t, "x").unwrap();
                best = best.min(start.elapsed().as_secs_f64());
                assert!(s.count > 0);
            }
            println!("column_stats, 1M f64, {name}: {:.3} ms", best * 1e3);
        }
    }
}
