//! Histograms of one numeric column (WIT `table.histogram`): equal-width buckets between the
//! minimum and maximum, or quantile buckets that hold about the same number of rows each.
//!
//! Bucket `i` holds the values in `[boundaries[i], boundaries[i + 1])`; the last bucket is
//! closed on the right, so the maximum is counted. Nulls are counted apart; NaN values are in
//! no bucket and are counted in `nans`. Infinite values are placed in the first or last bucket
//! (equal-width boundaries span the finite values only).

use crate::data::Table;
use crate::error::{KernelError, Result};
use crate::numeric::{NumVisitor, ToF64, for_each_valid_run, is_numeric_type, not_numeric, visit_numeric};
use crate::schema::{chunks, column_index};
use crate::sketch::{QuantileSketch, k_for_error, sketch_column};
use arrow_buffer::NullBuffer;

/// How histogram buckets are placed; mirrors WIT `bucketing`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bucketing {
    /// Equal widths between the smallest and largest finite value.
    EqualWidth,
    /// Boundaries at quantiles (from a [`QuantileSketch`]), so buckets hold about the same
    /// count. Repeated values can make some buckets empty (equal boundaries).
    Quantiles,
}

/// A histogram; mirrors WIT `histogram` (plus `nans`, which WIT 0.1 does not carry).
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    /// `buckets + 1` ascending boundaries.
    pub boundaries: Vec<f64>,
    /// `counts[i]` values fall in `[boundaries[i], boundaries[i + 1])` (the last bucket
    /// includes its right boundary).
    pub counts: Vec<u64>,
    /// Null values.
    pub nulls: u64,
    /// NaN values, which no bucket holds.
    pub nans: u64,
}

/// The most buckets a histogram may have.
pub const MAX_BUCKETS: usize = 1 << 16;

/// A histogram of column `column` with `buckets` buckets.
///
/// - A column whose values are all equal (`v`) gives `buckets + 1` boundaries equal to `v` and
///   every value in the last bucket (`[v, v]`, closed on the right).
/// - A column with no values (empty, all null or all NaN) gives boundaries all `0.0` and zero
///   counts.
///
/// `buckets` of 0 is `InvalidArgument`, more than [`MAX_BUCKETS`] is `Limit`; a column that is
/// not numeric is `InvalidArgument`.
pub fn histogram(table: &Table, column: &str, buckets: usize, how: Bucketing) -> Result<Histogram> {
    if buckets == 0 {
        return Err(KernelError::invalid("a histogram needs at least one bucket"));
    }
    if buckets > MAX_BUCKETS {
        return Err(KernelError::limit(format!("at most {MAX_BUCKETS} histogram buckets, asked for {buckets}")));
    }
    let b = buckets;
    let idx = column_index(table, column)?;
    let dt = table.schema().field(idx).data_type();
    if !is_numeric_type(dt) {
        return Err(not_numeric(column, dt));
    }
    let nulls: u64 = chunks(table, idx).map(|a| a.null_count() as u64).sum();

    let boundaries = match how {
        Bucketing::EqualWidth => {
            let mut mm = MinMax { min: f64::INFINITY, max: f64::NEG_INFINITY, any: false };
            for a in chunks(table, idx) {
                visit_numeric(a.as_ref(), column, &mut mm)?;
            }
            if !mm.any {
                // No values at all (or only NaN): a neutral, empty histogram.
                let nans = count_nans(table, idx, column)?;
                return Ok(Histogram { boundaries: vec![0.0; b + 1], counts: vec![0; b], nulls, nans });
            }
            let (lo, hi) = if mm.min > mm.max {
                // Only infinite values: span them as a degenerate range at the one that exists.
                let v = if mm.max.is_finite() { mm.max } else { 0.0 };
                (v, v)
            } else {
                (mm.min, mm.max)
            };
            let width = (hi - lo) / b as f64;
            let mut bs: Vec<f64> = (0..=b).map(|i| lo + width * i as f64).collect();
            bs[b] = hi;
            bs
        }
        Bucketing::Quantiles => {
            // Rank error well under one bucket's share.
            let e = (0.1 / b as f64).min(0.01);
            let k = k_for_error(e).unwrap_or(crate::sketch::MAX_K);
            let sketch = sketch_column(table, column, QuantileSketch::with_k(k))?;
            let qs: Vec<f64> = (0..=b).map(|i| i as f64 / b as f64).collect();
            match sketch.quantiles(&qs) {
                Some(mut bs) => {
                    // Infinite extremes would leave the edge buckets without a finite bound.
                    for x in &mut bs {
                        if x.is_infinite() {
                            *x = if *x > 0.0 { f64::MAX } else { f64::MIN };
                        }
                    }
                    bs
                }
                None => {
                    let nans = count_nans(table, idx, column)?;
                    return Ok(Histogram { boundaries: vec![0.0; b + 1], counts: vec![0; b], nulls, nans });
                }
            }
        }
    };

    let mut counter = Counter::new(&boundaries);
    for a in chunks(table, idx) {
        visit_numeric(a.as_ref(), column, &mut counter)?;
    }
    let (counts, nans) = (counter.counts, counter.nans);
    Ok(Histogram { boundaries, counts, nulls, nans })
}

fn count_nans(table: &Table, idx: usize, column: &str) -> Result<u64> {
    let mut c = Counter::new(&[0.0, 0.0]);
    for a in chunks(table, idx) {
        visit_numeric(a.as_ref(), column, &mut c)?;
    }
    Ok(c.nans)
}

/// Smallest and largest finite value, and whether any non-NaN value exists.
struct MinMax {
    min: f64,
    max: f64,
    any: bool,
}

impl NumVisitor for MinMax {
    fn visit<T: ToF64>(&mut self, values: &[T], nulls: Option<&NullBuffer>) {
        for_each_valid_run(values.len(), nulls, |s, e| {
            for x in &values[s..e] {
                let x = x.to_f64();
                if x.is_finite() {
                    self.min = if x < self.min { x } else { self.min };
                    self.max = if x > self.max { x } else { self.max };
                    self.any = true;
                } else if !x.is_nan() {
                    self.any = true;
                }
            }
        });
    }
}

/// Counts values per bucket.
struct Counter<'a> {
    boundaries: &'a [f64],
    counts: Vec<u64>,
    nans: u64,
    /// Buckets per unit, for a first guess at a value's bucket (0 when the range is empty).
    scale: f64,
}

impl<'a> Counter<'a> {
    fn new(boundaries: &'a [f64]) -> Self {
        let b = boundaries.len() - 1;
        let range = boundaries[b] - boundaries[0];
        let scale = if range > 0.0 && range.is_finite() { b as f64 / range } else { 0.0 };
        Counter { boundaries, counts: vec![0; b], nans: 0, scale }
    }

    /// The bucket of `x` (not NaN): the last bucket whose lower boundary is at most `x`,
    /// clamped to the buckets; values below the first boundary go to bucket 0.
    #[inline]
    fn bucket(&self, x: f64) -> usize {
        let b = self.counts.len();
        let lo = self.boundaries[0];
        let hi = self.boundaries[b];
        if x <= lo {
            // Values equal to a repeated first boundary belong to the last bucket that starts there.
            return if x == lo { self.boundaries[..b].partition_point(|v| *v <= x).saturating_sub(1) } else { 0 };
        }
        if x >= hi {
            return b - 1;
        }
        // A first guess by arithmetic (right for equal widths), checked against the boundaries
        // themselves, which are what the result promises.
        let mut i = (((x - lo) * self.scale) as usize).min(b - 1);
        if !(self.boundaries[i] <= x && x < self.boundaries[i + 1]) {
            i = self.boundaries[..b].partition_point(|v| *v <= x).saturating_sub(1);
        }
        i
    }
}

impl NumVisitor for Counter<'_> {
    fn visit<T: ToF64>(&mut self, values: &[T], nulls: Option<&NullBuffer>) {
        let b = self.counts.len();
        let (lo, hi, scale) = (self.boundaries[0], self.boundaries[b], self.scale);
        for_each_valid_run(values.len(), nulls, |s, e| {
            for x in &values[s..e] {
                let x = x.to_f64();
                // Fast path: strictly inside the range, and the arithmetic guess holds.
                if x > lo && x < hi {
                    let i = (((x - lo) * scale) as usize).min(b - 1);
                    if self.boundaries[i] <= x && x < self.boundaries[i + 1] {
                        self.counts[i] += 1;
                        continue;
                    }
                }
                if x.is_nan() {
                    self.nans += 1;
                } else {
                    let i = self.bucket(x);
                    self.counts[i] += 1;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use arrow_array::{ArrayRef, Float64Array, Int32Array, RecordBatch, StringArray};
    use std::sync::Arc;

    fn table(a: ArrayRef) -> Table {
        Table::from_batch(RecordBatch::try_from_iter(vec![("x", a)]).unwrap())
    }

    #[test]
    fn equal_width_by_hand() {
        let t = table(Arc::new(Float64Array::from(vec![
            Some(0.0),
            Some(1.0),
            Some(2.5),
            Some(5.0),
            Some(7.5),
            Some(10.0),
            None,
            Some(f64::NAN),
        ])));
        let h = histogram(&t, "x", 4, Bucketing::EqualWidth).unwrap();
        assert_eq!(h.boundaries, vec![0.0, 2.5, 5.0, 7.5, 10.0]);
        // [0, 2.5): 0, 1; [2.5, 5): 2.5; [5, 7.5): 5; [7.5, 10]: 7.5, 10.
        assert_eq!(h.counts, vec![2, 1, 1, 2]);
        assert_eq!((h.nulls, h.nans), (1, 1));
    }

    #[test]
    fn infinities_go_to_the_edges() {
        let t = table(Arc::new(Float64Array::from(vec![f64::NEG_INFINITY, 1.0, 2.0, 3.0, f64::INFINITY])));
        let h = histogram(&t, "x", 2, Bucketing::EqualWidth).unwrap();
        assert_eq!(h.boundaries, vec![1.0, 2.0, 3.0]);
        assert_eq!(h.counts, vec![2, 3]);
    }

    #[test]
    fn constant_and_empty_columns() {
        let t = table(Arc::new(Int32Array::from(vec![7, 7, 7])));
        for how in [Bucketing::EqualWidth, Bucketing::Quantiles] {
            let h = histogram(&t, "x", 3, how).unwrap();
            assert_eq!(h.boundaries, vec![7.0; 4], "{how:?}");
            assert_eq!(h.counts, vec![0, 0, 3], "{how:?}");
        }
        let t = table(Arc::new(Float64Array::from(vec![None, Some(f64::NAN)])));
        for how in [Bucketing::EqualWidth, Bucketing::Quantiles] {
            let h = histogram(&t, "x", 2, how).unwrap();
            assert_eq!(h, Histogram { boundaries: vec![0.0; 3], counts: vec![0, 0], nulls: 1, nans: 1 }, "{how:?}");
        }
    }

    #[test]
    fn quantile_buckets_hold_equal_shares() {
        // Small enough for the sketch to be exact: nearest-rank boundaries.
        let t = table(Arc::new(Int32Array::from((1..=100).rev().collect::<Vec<i32>>())));
        let h = histogram(&t, "x", 4, Bucketing::Quantiles).unwrap();
        assert_eq!(h.boundaries, vec![1.0, 25.0, 50.0, 75.0, 100.0]);
        assert_eq!(h.counts, vec![24, 25, 25, 26]);

        // Large: each bucket within the sketch's error of an equal share.
        let n = 1_000_000i64;
        let t = table(Arc::new(arrow_array::Int64Array::from((0..n).map(|i| (i * 7_919) % n).collect::<Vec<_>>())));
        let h = histogram(&t, "x", 10, Bucketing::Quantiles).unwrap();
        assert_eq!(h.counts.iter().sum::<u64>(), n as u64);
        for c in &h.counts {
            assert!((*c as f64 - 100_000.0).abs() <= 0.02 * n as f64, "{:?}", h.counts);
        }

        // Many repeats: equal boundaries make empty buckets, nothing is lost.
        let t = table(Arc::new(Int32Array::from(vec![1, 1, 1, 1, 1, 1, 2, 3])));
        let h = histogram(&t, "x", 4, Bucketing::Quantiles).unwrap();
        assert_eq!(h.boundaries, vec![1.0, 1.0, 1.0, 1.0, 3.0]);
        assert_eq!(h.counts, vec![0, 0, 0, 8]);
    }

    #[test]
    fn large_equal_width_matches_direct_binning() {
        let vals: Vec<f64> = (0..100_000).map(|i| ((i * 7919) % 100_003) as f64 * 0.37).collect();
        let t = table(Arc::new(Float64Array::from(vals.clone())));
        let h = histogram(&t, "x", 10, Bucketing::EqualWidth).unwrap();
        let mut want = vec![0u64; 10];
        for v in &vals {
            let i = h.boundaries[..10].iter().rposition(|b| b <= v).unwrap();
            want[i] += 1;
        }
        assert_eq!(h.counts, want);
        assert_eq!(h.counts.iter().sum::<u64>(), vals.len() as u64);
    }

    #[test]
    fn bad_arguments() {
        let t = table(Arc::new(Int32Array::from(vec![1])));
        assert_eq!(histogram(&t, "x", 0, Bucketing::EqualWidth).unwrap_err().kind, ErrorKind::InvalidArgument);
        assert_eq!(histogram(&t, "x", MAX_BUCKETS + 1, Bucketing::EqualWidth).unwrap_err().kind, ErrorKind::Limit);
        assert_eq!(histogram(&t, "y", 2, Bucketing::EqualWidth).unwrap_err().kind, ErrorKind::NotFound);
        let s = table(Arc::new(StringArray::from(vec!["a"])));
        let e = histogram(&s, "x", 2, Bucketing::Quantiles).unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (ErrorKind::InvalidArgument, "column `x` has type Utf8, not a number")
        );
    }
}
