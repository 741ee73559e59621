//! A mergeable quantile sketch (KLL: Karnin, Lang and Liberty, "Optimal Quantile Approximation
//! in Streams", 2016) that backs WIT `table.quantiles` and quantile histograms, and that later
//! streaming kernels can keep per batch and merge.
//!
//! The sketch keeps a stack of compactors. Level `h` holds items of weight `2^h`; when the
//! sketch is full, the lowest full level is sorted and every other item (starting at a coin
//! flip, 0 or 1) moves up one level with double weight. Capacities shrink by 2/3 per level
//! downward from `k` at the top (never below 8), so memory is about `3k` values whatever the
//! stream length. The coin is a splitmix64 generator with a fixed seed, so a given sequence of
//! updates and merges gives the same answers run to run.
//!
//! `k` follows from the requested rank error `e` by the empirical bound that Apache
//! DataSketches publishes for its KLL sketch (`e ≈ 2.296 / k^0.9723` at 99% confidence), with
//! a 1.5x margin for this simpler compaction schedule. While nothing has been compacted (at
//! most about `k` values) answers are exact.

use crate::data::Table;
use crate::error::{KernelError, Result};
use crate::numeric::{NumVisitor, ToF64, for_each_valid_run, is_numeric_type, not_numeric, visit_numeric};
use crate::schema::{chunks, column_index};
use arrow_buffer::NullBuffer;

/// The smallest capacity of a level.
const MIN_LEVEL: usize = 8;
/// The largest `k`: about 3M values (24 MB) at most.
pub const MAX_K: usize = 1 << 20;
/// Seed of the coin.
const SEED: u64 = 0x6d6c_705f_6b6c_6c31; // "mlp_kll1"

/// A KLL quantile sketch over `f64` values. NaN updates are ignored.
#[derive(Clone, Debug)]
pub struct QuantileSketch {
    k: usize,
    /// `levels[h]` holds items of weight `2^h`; level 0 is unsorted, the others sorted.
    levels: Vec<Vec<f64>>,
    /// Values seen (NaN excluded).
    n: u64,
    min: f64,
    max: f64,
    rng: u64,
    /// Capacity of each level (recomputed when the number of levels changes).
    caps: Vec<usize>,
    /// Sum of `caps`.
    total_cap: usize,
    /// Items retained over all levels.
    size: usize,
    /// How long level 0 may grow before the sketch is full.
    level0_room: usize,
    /// Reused buffer for merging a level.
    scratch: Vec<f64>,
    /// Reused buffer of sort keys for level 0.
    keys: Vec<i64>,
}

impl QuantileSketch {
    /// A sketch whose normalized rank error is at most `relative_error` (with high
    /// probability). `relative_error` must be in (0, 1) (else `InvalidArgument`), and a bound
    /// that needs `k` above [`MAX_K`] is a `Limit` error.
    pub fn new(relative_error: f64) -> Result<QuantileSketch> {
        Ok(QuantileSketch::with_k(k_for_error(relative_error)?))
    }

    /// A sketch with top capacity `k` (clamped to `8..=MAX_K`).
    pub fn with_k(k: usize) -> QuantileSketch {
        let mut s = QuantileSketch {
            k: k.clamp(MIN_LEVEL, MAX_K),
            levels: vec![Vec::new()],
            n: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            rng: SEED,
            caps: Vec::new(),
            total_cap: 0,
            size: 0,
            level0_room: 0,
            scratch: Vec::new(),
            keys: Vec::new(),
        };
        s.refresh();
        s
    }

    /// The top capacity `k`.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Values added (NaN excluded).
    pub fn count(&self) -> u64 {
        self.n
    }

    /// Whether no value was added.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Values the sketch holds now.
    pub fn retained(&self) -> usize {
        self.size
    }

    /// Add one value; NaN is ignored.
    #[inline]
    pub fn update(&mut self, x: f64) {
        if x.is_nan() {
            return;
        }
        self.n += 1;
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        self.levels[0].push(x);
        self.size += 1;
        if self.levels[0].len() >= self.level0_room {
            self.compress();
        }
    }

    /// Fold `other` into this sketch. The result's error bound is that of the smaller `k`.
    pub fn merge(&mut self, other: &QuantileSketch) {
        if other.n == 0 {
            return;
        }
        self.k = self.k.min(other.k);
        self.n += other.n;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        while self.levels.len() < other.levels.len() {
            self.levels.push(Vec::new());
        }
        for (h, items) in other.levels.iter().enumerate() {
            self.levels[h].extend_from_slice(items);
            if h > 0 {
                self.levels[h].sort_unstable_by(f64::total_cmp);
            }
        }
        self.size += other.size;
        self.refresh();
        self.compress();
    }

    /// The value at normalized rank `q` in [0, 1]: the smallest retained value whose
    /// cumulative weight reaches `ceil(q * n)` (nearest rank, no interpolation; `q = 0` is the
    /// minimum and `q = 1` the maximum, both exact). `None` when the sketch is empty or `q` is
    /// outside [0, 1].
    pub fn quantile(&self, q: f64) -> Option<f64> {
        self.quantiles(&[q]).and_then(|v| v.into_iter().next())
    }

    /// [`QuantileSketch::quantile`] for several ranks, sorting the retained items once.
    pub fn quantiles(&self, qs: &[f64]) -> Option<Vec<f64>> {
        if self.n == 0 || qs.iter().any(|q| !(0.0..=1.0).contains(q)) {
            return None;
        }
        let mut items: Vec<(f64, u64)> = Vec::with_capacity(self.retained());
        for (h, level) in self.levels.iter().enumerate() {
            items.extend(level.iter().map(|x| (*x, 1u64 << h)));
        }
        items.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        let mut cum = Vec::with_capacity(items.len());
        let mut acc = 0u64;
        for (_, w) in &items {
            acc += w;
            cum.push(acc);
        }
        Some(
            qs.iter()
                .map(|&q| {
                    if q <= 0.0 {
                        return self.min;
                    }
                    if q >= 1.0 {
                        return self.max;
                    }
                    let target = ((q * self.n as f64).ceil() as u64).clamp(1, self.n);
                    let i = cum.partition_point(|c| *c < target).min(items.len() - 1);
                    items[i].0
                })
                .collect(),
        )
    }

    /// Recompute the level capacities (after the number of levels or `k` changed) and the
    /// room left for level 0.
    fn refresh(&mut self) {
        let levels = self.levels.len();
        self.caps.clear();
        for h in 0..levels {
            let depth = (levels - h - 1) as i32;
            self.caps.push(((self.k as f64 * (2.0f64 / 3.0).powi(depth)).ceil() as usize).max(MIN_LEVEL));
        }
        self.total_cap = self.caps.iter().sum();
        self.level0_room = self.total_cap.saturating_sub(self.size - self.levels[0].len());
    }

    /// Compact the lowest full level until the sketch fits its capacity.
    fn compress(&mut self) {
        while self.size >= self.total_cap {
            let Some(h) = (0..self.levels.len()).find(|&h| self.levels[h].len() >= self.caps[h]) else { break };
            if h + 1 == self.levels.len() {
                self.levels.push(Vec::new());
                self.refresh();
            }
            let mut items = std::mem::take(&mut self.levels[h]);
            if h == 0 {
                sort_total(&mut items, &mut self.keys);
            }
            // An odd item stays behind (the smallest, so the rest pairs up); of each pair, the
            // coin picks which one moves up with double weight.
            let odd = items.len() % 2;
            let offset = (self.coin() & 1) as usize;
            let up = items[odd + offset..].iter().step_by(2).copied();
            let mut merged = std::mem::take(&mut self.scratch);
            merged.clear();
            merge_sorted_into(&self.levels[h + 1], up, &mut merged);
            self.scratch = std::mem::replace(&mut self.levels[h + 1], merged);
            self.size -= (items.len() - odd) / 2;
            items.truncate(odd);
            self.levels[h] = items;
        }
        self.level0_room = self.total_cap.saturating_sub(self.size - self.levels[0].len());
    }

    fn coin(&mut self) -> u64 {
        crate::hash::splitmix64(&mut self.rng)
    }
}

/// Sorts `v` in [`f64::total_cmp`] order, as integers: each value's bits mapped to an `i64`
/// whose order is that total order (the mapping `total_cmp` itself uses), sorted, mapped back.
/// About twice as fast as sorting with the comparison closure; the result is the same.
fn sort_total(v: &mut [f64], keys: &mut Vec<i64>) {
    let key = |x: f64| {
        let b = x.to_bits() as i64;
        b ^ ((((b >> 63) as u64) >> 1) as i64)
    };
    keys.clear();
    keys.extend(v.iter().map(|&x| key(x)));
    keys.sort_unstable();
    for (x, &k) in v.iter_mut().zip(keys.iter()) {
        // The mapping is its own inverse.
        *x = f64::from_bits((k ^ ((((k >> 63) as u64) >> 1) as i64)) as u64);
    }
}

/// A sorted slice and a sorted iterator merged into `out`.
fn merge_sorted_into(a: &[f64], b: impl Iterator<Item = f64>, out: &mut Vec<f64>) {
    let mut i = 0;
    for y in b {
        while i < a.len() && a[i].total_cmp(&y).is_le() {
            out.push(a[i]);
            i += 1;
        }
        out.push(y);
    }
    out.extend_from_slice(&a[i..]);
}

/// The `k` that bounds the normalized rank error by `e`.
pub fn k_for_error(e: f64) -> Result<usize> {
    if !(e > 0.0 && e < 1.0) {
        return Err(KernelError::invalid(format!("relative error must be between 0 and 1 (exclusive), got {e}")));
    }
    let k = (1.5 * (2.296 / e).powf(1.0 / 0.9723)).ceil();
    if k > MAX_K as f64 {
        return Err(KernelError::limit(format!(
            "relative error {e} is too small: the sketch would exceed {MAX_K} values per level"
        )));
    }
    Ok((k as usize).max(MIN_LEVEL))
}

/// Feeds the valid values of numeric arrays to a sketch.
pub(crate) struct SketchFeed<'a>(pub &'a mut QuantileSketch);

impl NumVisitor for SketchFeed<'_> {
    fn visit<T: ToF64>(&mut self, values: &[T], nulls: Option<&NullBuffer>) {
        for_each_valid_run(values.len(), nulls, |s, e| {
            for x in &values[s..e] {
                self.0.update(x.to_f64());
            }
        });
    }
}

/// A sketch of the non-null, non-NaN values of a numeric column.
pub(crate) fn sketch_column(table: &Table, column: &str, sketch: QuantileSketch) -> Result<QuantileSketch> {
    let idx = column_index(table, column)?;
    let dt = table.schema().field(idx).data_type();
    if !is_numeric_type(dt) {
        return Err(not_numeric(column, dt));
    }
    let mut sketch = sketch;
    for a in chunks(table, idx) {
        visit_numeric(a.as_ref(), column, &mut SketchFeed(&mut sketch))?;
    }
    Ok(sketch)
}

/// Approximate quantiles of column `column` at ranks `qs`, with normalized rank error at most
/// `relative_error` (WIT `table.quantiles`). Nulls and NaN are skipped; a column with no
/// values gives NaN for every rank. Each `q` must be in [0, 1] and `relative_error` in (0, 1),
/// else `InvalidArgument`; a string column is `InvalidArgument`. Exact when the column holds
/// fewer values than the sketch's `k` (a few hundred at 1% error).
pub fn quantiles(table: &Table, column: &str, qs: &[f64], relative_error: f64) -> Result<Vec<f64>> {
    if let Some(q) = qs.iter().find(|q| !(0.0..=1.0).contains(*q)) {
        return Err(KernelError::invalid(format!("quantile {q} is outside [0, 1]")));
    }
    let sketch = match k_for_error(relative_error) {
        Ok(k) => QuantileSketch::with_k(k),
        // Too small an error for a bounded sketch, but the column fits: keep every value.
        Err(e) if e.kind == crate::ErrorKind::Limit && table.num_rows() < MAX_K => {
            QuantileSketch::with_k(table.num_rows() + 1)
        }
        Err(e) => return Err(e),
    };
    let sketch = sketch_column(table, column, sketch)?;
    Ok(sketch.quantiles(qs).unwrap_or_else(|| vec![f64::NAN; qs.len()]))
}

#[cfg(test)]
mod tests {
    /// `cargo test -p mlp-kernels --release --lib -- --ignored --nocapture timing_level0_sort`
    #[test]
    #[ignore]
    fn timing_level0_sort() {
        let mut state = 7u64;
        let data: Vec<f64> = (0..4096).map(|_| crate::hash::splitmix64(&mut state) as f64 / 1e9).collect();
        let mut keys = Vec::new();
        for round in 0..3 {
            let t = std::time::Instant::now();
            for _ in 0..500 {
                let mut v = data.clone();
                v.sort_unstable_by(f64::total_cmp);
                std::hint::black_box(&v);
            }
            let closure = t.elapsed();
            let t = std::time::Instant::now();
            for _ in 0..500 {
                let mut v = data.clone();
                super::sort_total(&mut v, &mut keys);
                std::hint::black_box(&v);
            }
            let keyed = t.elapsed();
            println!(
                "round {round}: total_cmp {closure:?}, integer keys {keyed:?}, ratio {:.2}",
                closure.as_secs_f64() / keyed.as_secs_f64()
            );
        }
    }

    #[test]
    fn integer_keyed_sort_is_total_cmp_order() {
        let mut v = vec![3.5, -0.0, 0.0, f64::NEG_INFINITY, -2.25, f64::INFINITY, 1e-300, -1e-300, 7.0, 0.0];
        let mut want = v.clone();
        want.sort_by(f64::total_cmp);
        let mut keys = Vec::new();
        super::sort_total(&mut v, &mut keys);
        assert_eq!(
            v.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            want.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
    }

    use super::*;
    use crate::ErrorKind;
    use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
    use std::sync::Arc;

    fn rng(seed: u64) -> impl FnMut() -> u64 {
        let mut s = seed;
        move || crate::hash::splitmix64(&mut s)
    }

    /// 0..n in a pseudo-random order (Fisher-Yates).
    fn shuffled(n: usize, seed: u64) -> Vec<f64> {
        let mut r = rng(seed);
        let mut v: Vec<f64> = (0..n).map(|i| i as f64).collect();
        for i in (1..n).rev() {
            v.swap(i, (r() % (i as u64 + 1)) as usize);
        }
        v
    }

    /// The worst normalized rank error of the sketch over q = 0.01 .. 0.99, for the values
    /// 0..n (value v has rank v + 1).
    fn worst_rank_error(s: &QuantileSketch, n: usize) -> f64 {
        let qs: Vec<f64> = (1..100).map(|i| i as f64 / 100.0).collect();
        let got = s.quantiles(&qs).unwrap();
        qs.iter().zip(got).map(|(q, v)| ((v + 1.0) - q * n as f64).abs() / n as f64).fold(0.0, f64::max)
    }

    #[test]
    fn exact_while_it_fits() {
        let mut s = QuantileSketch::new(0.01).unwrap();
        for x in shuffled(100, 1) {
            s.update(x + 1.0);
        }
        s.update(f64::NAN);
        assert_eq!(s.count(), 100);
        assert_eq!(s.quantiles(&[0.0, 0.01, 0.25, 0.5, 0.999, 1.0]).unwrap(), vec![1.0, 1.0, 25.0, 50.0, 100.0, 100.0]);
        assert_eq!(s.quantile(1.5), None);
        assert_eq!(QuantileSketch::new(0.1).unwrap().quantile(0.5), None);
    }

    #[test]
    fn rank_error_within_bound_on_a_million() {
        let n = 1_000_000;
        let data = shuffled(n, 42);
        for e in [0.01, 0.002] {
            let mut s = QuantileSketch::new(e).unwrap();
            for x in &data {
                s.update(*x);
            }
            let worst = worst_rank_error(&s, n);
            assert!(worst <= e, "e = {e}: worst rank error {worst}");
            assert!(s.retained() < 4 * s.k(), "retained {} for k = {}", s.retained(), s.k());
            assert_eq!((s.quantile(0.0), s.quantile(1.0)), (Some(0.0), Some((n - 1) as f64)));
        }
        // Sorted input is the classic hard case for compactors.
        let mut s = QuantileSketch::new(0.01).unwrap();
        for i in 0..n {
            s.update(i as f64);
        }
        let worst = worst_rank_error(&s, n);
        assert!(worst <= 0.01, "sorted input: worst rank error {worst}");
    }

    #[test]
    fn merged_sketches_keep_the_bound_and_are_deterministic() {
        let n = 400_000;
        let data = shuffled(n, 9);
        let build = || {
            let mut parts: Vec<QuantileSketch> = Vec::new();
            for chunk in data.chunks(n / 8) {
                let mut s = QuantileSketch::new(0.01).unwrap();
                chunk.iter().for_each(|x| s.update(*x));
                parts.push(s);
            }
            let mut all = parts.remove(0);
            for p in &parts {
                all.merge(p);
            }
            all
        };
        let a = build();
        assert_eq!(a.count(), n as u64);
        let worst = worst_rank_error(&a, n);
        assert!(worst <= 0.01, "merged: worst rank error {worst}");
        let qs = [0.1, 0.5, 0.9];
        assert_eq!(a.quantiles(&qs), build().quantiles(&qs));
    }

    fn table(a: ArrayRef) -> Table {
        Table::from_batch(RecordBatch::try_from_iter(vec![("x", a)]).unwrap())
    }

    #[test]
    fn table_quantiles_skip_nulls_and_validate() {
        let t =
            table(Arc::new(Float64Array::from(vec![Some(4.0), None, Some(1.0), Some(f64::NAN), Some(3.0), Some(2.0)])));
        assert_eq!(quantiles(&t, "x", &[0.0, 0.5, 0.75, 1.0], 0.01).unwrap(), vec![1.0, 2.0, 3.0, 4.0]);

        let e = quantiles(&t, "x", &[0.5, 1.5], 0.01).unwrap_err();
        assert_eq!((e.kind, e.message.as_str()), (ErrorKind::InvalidArgument, "quantile 1.5 is outside [0, 1]"));
        for bad in [0.0, 1.0, -0.1, f64::NAN] {
            assert_eq!(quantiles(&t, "x", &[0.5], bad).unwrap_err().kind, ErrorKind::InvalidArgument, "{bad}");
        }
        assert_eq!(QuantileSketch::new(1e-9).unwrap_err().kind, ErrorKind::Limit);
        // A tiny error is fine when the column fits: the answer is exact.
        assert_eq!(quantiles(&t, "x", &[0.5], 1e-9).unwrap(), vec![2.0]);

        let s = table(Arc::new(StringArray::from(vec!["a"])));
        assert_eq!(quantiles(&s, "x", &[0.5], 0.01).unwrap_err().kind, ErrorKind::InvalidArgument);
        assert_eq!(quantiles(&s, "y", &[0.5], 0.01).unwrap_err().kind, ErrorKind::NotFound);

        let empty = table(Arc::new(Int64Array::from(vec![None, None])));
        let got = quantiles(&empty, "x", &[0.5, 0.9], 0.01).unwrap();
        assert!(got.len() == 2 && got.iter().all(|v| v.is_nan()));
    }
}
