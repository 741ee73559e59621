//! Feature statistics of a whole table, TFDV style: one streaming pass over record batches,
//! bounded memory, mergeable partial results, optionally per slice.
//!
//! A [`Profiler`] keeps one accumulator per column (and per column of each slice) and folds
//! every batch given to [`Profiler::add`] into them; two profilers of the same schema
//! [`merge`](Profiler::merge); [`Profiler::finish`] turns the accumulators into the
//! `mlp-data` result types ([`DatasetStats`] and what it holds).
//!
//! # Kinds
//!
//! | Arrow type                                                  | kind     |
//! |-------------------------------------------------------------|----------|
//! | integers of any width; dates, times, timestamps, durations | `Int` (temporal types by their integer value) |
//! | float16/32/64, decimals                                     | `Float`  |
//! | boolean                                                     | `Bool` (numeric statistics with true = 1) |
//! | utf8, large-utf8, utf8-view, dictionaries of utf8 / large-utf8 | `String` |
//!
//! Any other type (lists, structs, binary, dictionaries of numbers) is an `InvalidArgument`
//! error that names the column and its type: select the columns to profile first.
//!
//! # Figures
//!
//! - `count` is the non-null rows (NaN included), `missing` the null rows.
//! - Numeric: mean, population standard deviation, min, max and zeros are exact over the
//!   non-NaN values (per chunk two-pass moments merged with Chan's formula, the fused pass of
//!   [`crate::stats`]); NaN is counted in `nans` (and in `count`) and left out of everything
//!   else. The median, the quantiles and both histograms come from a KLL
//!   [`QuantileSketch`] with the requested rank error; while a sketch has never compacted
//!   (a few thousand values) they are exact and `rank_error` is reported as 0. Booleans are
//!   counted, not sketched, so their quantiles and histograms are always exact.
//!   - The equal-width histogram has `histogram_buckets` buckets between the exact min and
//!     max; each count is estimated from the sketch's distribution (as TFDV derives its
//!     standard histogram from its quantiles sketch: here a step function through the
//!     sketch's quantiles at a grid of `max(retained items, 4 / rank_error)` ranks, at most
//!     65,536), so counts may be fractional; they sum to `count - nans`. With infinite extremes the buckets span the finite values and the
//!     infinities fall in the first or last bucket.
//!   - The quantile histogram has `quantiles` buckets between consecutive quantiles, each
//!     with `(count - nans) / quantiles`.
//!   - All values equal (`v`): both histograms are the one bucket `[v, v]` with every value.
//!   - No value but NaN (or none at all): `numeric` is `None`.
//! - String: values are counted exactly in a hash map while a column has at most
//!   `max_exact_distinct` distinct values: `distinct` and `top` are exact (most frequent
//!   first, ties by value ascending by bytes). Past that the column switches to bounded
//!   memory: a HyperLogLog (seeded with every value seen so far) estimates `distinct`, and a
//!   Space-Saving summary of `max(1000, 50 * top_k)` entries keeps the heavy hitters; `top`
//!   counts are then upper bounds (over by at most the summary's eviction floor) and
//!   `distinct_exact` is false. `avg_length` is the exact mean UTF-8 byte length. A string
//!   column always has `string` statistics (zero distinct values when it has no value).
//!
//! # Slices
//!
//! With `slice_by`, the rows of each value of each slice column (one level, not crossed)
//! get statistics of their own, in a [`DatasetStats`] whose `slice` names the column and the
//! value as text (integers plainly, booleans `true`/`false`); rows where the slice column is
//! null form the slice `is_null: true`. Slice columns must be strings, integers or booleans.
//! More than `max_slices` distinct values in one slice column (the null slice not counted) is
//! an `InvalidArgument` error. [`Profiler::finish`] orders slices by slice column (in
//! `slice_by` order), then by value (integers by number, the rest by text), the null slice
//! last.
//!
//! # Parallelism
//!
//! Columns are spread over `threads` scoped workers: each worker takes the next column (the
//! costliest first) and folds every batch of the table into its accumulator, so results do
//! not depend on the number of threads. Slices are processed batch by batch: the rows of each
//! slice value are gathered (`take`) and their columns spread the same way.

use crate::data::Table;
use crate::dict::{key_counts, string_values};
use crate::error::{ErrorKind, KernelError, Result};
use crate::hash::{FastBuildHasher, FastMap};
use crate::hll::HyperLogLog;
use crate::numeric::{NumVisitor, ToF64, is_numeric_type, visit_numeric};
use crate::schema::{is_integer_type, is_string_type};
use crate::sketch::{QuantileSketch, SketchFeed, k_for_error};
use crate::stats::{Moments, MomentsAcc};
use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, UInt64Type};
use arrow_array::{Array, ArrayRef, OffsetSizeTrait, RecordBatch, UInt32Array};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, SchemaRef};
use mlp_data::stats::{
    Bucket, DatasetStats, FeatureKind, FeatureStats, Histogram, NumericStats, Slice, StringStats, ValueCount,
};
use std::collections::HashSet;
use std::sync::Mutex;

/// What [`Profiler`] computes and how.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileOptions {
    /// Buckets of the equal-width histogram (default 10).
    pub histogram_buckets: usize,
    /// Quantile buckets (default 10): `quantiles + 1` quantile boundaries, and a quantile
    /// histogram of `quantiles` buckets.
    pub quantiles: usize,
    /// Most frequent values reported per string column (default 20).
    pub top_k: usize,
    /// Columns whose values slice the table (one level each, not crossed).
    pub slice_by: Vec<String>,
    /// The most distinct values one slice column may have (default 1000).
    pub max_slices: usize,
    /// Normalized rank error of the quantile sketches (default 0.001).
    pub rank_error: f64,
    /// Distinct values per string column counted exactly (default 100,000); past it the
    /// column is summarized in bounded memory.
    pub max_exact_distinct: usize,
    /// Worker threads (default: the available parallelism; 0 means the same).
    pub threads: usize,
}

impl Default for ProfileOptions {
    fn default() -> Self {
        ProfileOptions {
            histogram_buckets: 10,
            quantiles: 10,
            top_k: 20,
            slice_by: Vec::new(),
            max_slices: 1000,
            rank_error: 0.001,
            max_exact_distinct: 100_000,
            threads: default_threads(),
        }
    }
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

impl ProfileOptions {
    /// Whether the two sets of options give accumulators that merge (every option but
    /// `threads`).
    fn compatible(&self, o: &ProfileOptions) -> bool {
        ProfileOptions { threads: 0, ..self.clone() } == ProfileOptions { threads: 0, ..o.clone() }
    }

    /// Entries of the Space-Saving summary of a capped string column.
    fn summary_capacity(&self) -> usize {
        self.top_k.saturating_mul(50).max(1000)
    }
}

/// Streaming, mergeable feature statistics of tables of one schema. See the module doc.
#[derive(Debug)]
pub struct Profiler {
    options: ProfileOptions,
    /// Top capacity of the quantile sketches.
    k: usize,
    /// Fixed by the first table added (or merged).
    schema: Option<SchemaRef>,
    whole: DatasetAcc,
    /// One per `slice_by` column, in that order (filled once the schema is known).
    slices: Vec<SliceColumn>,
}

/// The convenience form: the statistics of `table` (see [`Profiler::finish`]).
pub fn profile(table: &Table, options: &ProfileOptions) -> Result<Vec<DatasetStats>> {
    let mut p = Profiler::new(options.clone())?;
    p.add(table)?;
    Ok(p.finish())
}

impl Profiler {
    /// A profiler with `options`: `InvalidArgument` for zero buckets or quantiles or slices,
    /// a rank error outside (0, 1) or a slice column named twice; `Limit` for a rank error too
    /// small for a bounded sketch or more than [`crate::histogram::MAX_BUCKETS`] buckets.
    pub fn new(options: ProfileOptions) -> Result<Profiler> {
        let mut options = options;
        if options.threads == 0 {
            options.threads = default_threads();
        }
        for (what, n) in [("histogram buckets", options.histogram_buckets), ("quantiles", options.quantiles)] {
            if n == 0 {
                return Err(KernelError::invalid(format!("{what} must be at least 1")));
            }
            if n > crate::histogram::MAX_BUCKETS {
                return Err(KernelError::limit(format!(
                    "at most {} {what}, asked for {n}",
                    crate::histogram::MAX_BUCKETS
                )));
            }
        }
        if options.max_slices == 0 {
            return Err(KernelError::invalid("max_slices must be at least 1"));
        }
        for (i, c) in options.slice_by.iter().enumerate() {
            if options.slice_by[..i].contains(c) {
                return Err(KernelError::invalid(format!("slice column `{c}` is named twice")));
            }
        }
        let k = k_for_error(options.rank_error)?;
        Ok(Profiler { options, k, schema: None, whole: DatasetAcc::default(), slices: Vec::new() })
    }

    /// The options in use.
    pub fn options(&self) -> &ProfileOptions {
        &self.options
    }

    /// Fold every row of `table` into the statistics. Any number of tables may be added; each
    /// must have the schema of the first (same column names and types, else
    /// `InvalidArgument`). The first table's schema is checked as well: every column of a
    /// supported type, every slice column present (`NotFound`) and of a string, integer or
    /// boolean type. A slice column past `max_slices` values is `InvalidArgument`, and nothing
    /// of the table is added then. A `Data` error while reading a column (a decimal that does
    /// not convert) leaves the profiler partly updated: discard it.
    pub fn add(&mut self, table: &Table) -> Result<()> {
        self.check_schema(table.schema())?;
        let schema = self.schema.clone().expect("set by check_schema");

        // Slice values of every batch first, so that a slice limit fails before any change.
        let mut groups: Vec<Vec<Groups>> = Vec::with_capacity(table.batches().len());
        for b in table.batches() {
            let mut per = Vec::with_capacity(self.slices.len());
            for s in &self.slices {
                per.push(groups_of(b.column(s.column).as_ref()));
            }
            groups.push(per);
        }
        for (j, s) in self.slices.iter().enumerate() {
            let mut new: HashSet<&str, FastBuildHasher> = HashSet::default();
            for g in &groups {
                new.extend(g[j].values.iter().map(|(v, _)| v.as_str()).filter(|v| !s.index.contains_key(*v)));
            }
            let n = s.index.len() + new.len();
            if n > self.options.max_slices {
                return Err(too_many_slices(&s.name, self.options.max_slices, n));
            }
        }

        // The whole table, column by column.
        let threads = self.options.threads;
        self.whole.rows += table.num_rows() as u64;
        let mut items: Vec<(&mut ColAcc, usize)> =
            self.whole.cols.iter_mut().enumerate().map(|(i, c)| (c, i)).collect();
        items.sort_by_key(|(c, _)| std::cmp::Reverse(c.cost()));
        run_all(threads, items, |(acc, i)| {
            let name = schema.field(i).name();
            table.batches().iter().try_for_each(|b| acc.add(b.column(i).as_ref(), name))
        })?;

        // The slices, batch by batch.
        if self.slices.is_empty() {
            return Ok(());
        }
        let (options, k) = (&self.options, self.k);
        for (b, per) in table.batches().iter().zip(groups) {
            // Each slice's rows (`None`: every row), gathered column by column by the workers.
            let mut parts: Vec<(&mut DatasetAcc, Option<UInt32Array>)> = Vec::new();
            for (s, g) in self.slices.iter_mut().zip(per) {
                let mut pending: Vec<Option<Vec<u32>>> = Vec::new();
                for (v, rows) in g.values {
                    let at = match s.index.get(v.as_str()) {
                        Some(at) => *at,
                        None => {
                            s.index.insert(v.clone(), s.accs.len());
                            s.accs.push((v, DatasetAcc::new(&schema, options, k)?));
                            s.accs.len() - 1
                        }
                    };
                    if pending.len() <= at {
                        pending.resize(at + 1, None);
                    }
                    pending[at] = Some(rows);
                }
                for ((_, acc), rows) in s.accs.iter_mut().zip(pending) {
                    if let Some(rows) = rows {
                        parts.push((acc, indices(b, rows)));
                    }
                }
                if !g.nulls.is_empty() {
                    if s.null.is_none() {
                        s.null = Some(DatasetAcc::new(&schema, options, k)?);
                    }
                    parts.push((s.null.as_mut().expect("just set"), indices(b, g.nulls)));
                }
            }
            let mut items: Vec<(&mut ColAcc, &ArrayRef, Option<&UInt32Array>, &str)> = Vec::new();
            for (acc, rows) in &mut parts {
                acc.rows += rows.as_ref().map_or(b.num_rows(), |r| r.len()) as u64;
                for (i, c) in acc.cols.iter_mut().enumerate() {
                    items.push((c, b.column(i), rows.as_ref(), schema.field(i).name()));
                }
            }
            items.sort_by_key(|(c, _, rows, _)| std::cmp::Reverse(c.cost() * rows.map_or(b.num_rows(), |r| r.len())));
            run_all(threads, items, |(acc, a, rows, name)| match rows {
                None => acc.add(a.as_ref(), name),
                Some(rows) => {
                    let a = arrow_select::take::take(a.as_ref(), rows, None).map_err(|e| {
                        KernelError::arrow(ErrorKind::Other, &format!("gathering the rows of a slice of `{name}`"), e)
                    })?;
                    acc.add(a.as_ref(), name)
                }
            })?;
        }
        Ok(())
    }

    /// Fold the statistics of `other` into these: afterwards they are those of every table
    /// added to either (exactly for the exact figures; the sketches merge within their
    /// bounds). The options (but `threads`) and schemas must agree, else `InvalidArgument`;
    /// a merged slice column past `max_slices` values is `InvalidArgument` too (and nothing
    /// is merged then).
    pub fn merge(&mut self, other: Profiler) -> Result<()> {
        if !self.options.compatible(&other.options) {
            return Err(KernelError::invalid(format!(
                "cannot merge statistics computed with different options: {:?} and {:?}",
                ProfileOptions { threads: 0, ..self.options.clone() },
                ProfileOptions { threads: 0, ..other.options.clone() }
            )));
        }
        let Some(schema) = other.schema.clone() else {
            // Nothing was added to `other`.
            return Ok(());
        };
        self.check_schema(&schema)?;
        for (s, o) in self.slices.iter().zip(&other.slices) {
            let n = s.index.len() + o.index.keys().filter(|v| !s.index.contains_key(*v)).count();
            if n > self.options.max_slices {
                return Err(too_many_slices(&s.name, self.options.max_slices, n));
            }
        }
        let Profiler { whole, slices, .. } = other;
        self.whole.merge(whole);
        for (s, o) in self.slices.iter_mut().zip(slices) {
            for (v, acc) in o.accs {
                match s.index.get(v.as_str()) {
                    Some(at) => s.accs[*at].1.merge(acc),
                    None => {
                        s.index.insert(v.clone(), s.accs.len());
                        s.accs.push((v, acc));
                    }
                }
            }
            match (&mut s.null, o.null) {
                (Some(a), Some(b)) => a.merge(b),
                (None, Some(b)) => s.null = Some(b),
                _ => {}
            }
        }
        Ok(())
    }

    /// The statistics: first the whole (slice `None`), then the slices, by slice column in
    /// `slice_by` order, then by value (integers by number, other values by their text), the
    /// null slice last. `split` is left empty for the caller to set. Before any table was
    /// added, one empty [`DatasetStats`] without features.
    pub fn finish(self) -> Vec<DatasetStats> {
        let Profiler { options, schema, whole, slices, .. } = self;
        let Some(schema) = schema else {
            return vec![DatasetStats { split: String::new(), slice: None, num_examples: 0, features: Vec::new() }];
        };
        let mut sets: Vec<(Option<Slice>, DatasetAcc)> = vec![(None, whole)];
        for s in slices {
            let mut accs = s.accs;
            if s.numeric_order {
                accs.sort_by_key(|(v, _)| v.parse::<i128>().unwrap_or_default());
            } else {
                accs.sort_by(|a, b| a.0.cmp(&b.0));
            }
            for (value, acc) in accs {
                sets.push((Some(Slice { column: s.name.clone(), value, is_null: false }), acc));
            }
            if let Some(acc) = s.null {
                sets.push((Some(Slice { column: s.name.clone(), value: String::new(), is_null: true }), acc));
            }
        }
        let mut out: Vec<DatasetStats> = Vec::with_capacity(sets.len());
        let mut accs: Vec<Vec<ColAcc>> = Vec::with_capacity(sets.len());
        for (slice, acc) in sets {
            out.push(DatasetStats { split: String::new(), slice, num_examples: acc.rows, features: Vec::new() });
            accs.push(acc.cols);
        }
        let mut slots: Vec<Vec<Option<FeatureStats>>> = accs.iter().map(|c| vec![None; c.len()]).collect();
        let mut items: Vec<(ColAcc, &mut Option<FeatureStats>, &str)> = Vec::new();
        for (cols, slots) in accs.into_iter().zip(slots.iter_mut()) {
            for ((c, slot), f) in cols.into_iter().zip(slots.iter_mut()).zip(schema.fields()) {
                items.push((c, slot, f.name()));
            }
        }
        let options = &options;
        run_all(options.threads, items, |(c, slot, name)| {
            *slot = Some(c.finish(name, options));
            Ok(())
        })
        .expect("finishing does not fail");
        for (d, slots) in out.iter_mut().zip(slots) {
            d.features = slots.into_iter().map(|f| f.expect("every slot is filled")).collect();
        }
        out
    }

    /// Fix the schema on first use (checking its types and slice columns), else compare.
    fn check_schema(&mut self, schema: &SchemaRef) -> Result<()> {
        if let Some(have) = &self.schema {
            return same_schema(have, schema);
        }
        let mut slices = Vec::with_capacity(self.options.slice_by.len());
        for name in &self.options.slice_by {
            let column = schema.index_of(name).map_err(|_| KernelError::unknown_column(schema, name))?;
            let dt = schema.field(column).data_type();
            let numeric_order = is_integer_type(dt);
            if !(numeric_order || *dt == DataType::Boolean || is_string_type(dt)) {
                return Err(KernelError::invalid(format!(
                    "cannot slice by column `{name}` of type {dt}: slice by a string, int or bool column"
                )));
            }
            slices.push(SliceColumn {
                name: name.clone(),
                column,
                numeric_order,
                index: FastMap::default(),
                accs: Vec::new(),
                null: None,
            });
        }
        self.whole = DatasetAcc::new(schema, &self.options, self.k)?;
        self.slices = slices;
        self.schema = Some(schema.clone());
        Ok(())
    }
}

fn same_schema(have: &SchemaRef, got: &SchemaRef) -> Result<()> {
    let (a, b) = (have.fields(), got.fields());
    let describe = |f: &arrow_schema::Field| format!("`{}` ({})", f.name(), f.data_type());
    if a.len() != b.len() {
        return Err(KernelError::invalid(format!(
            "the table has {} columns, the tables profiled before have {}",
            b.len(),
            a.len()
        ))
        .with_detail(format!(
            "expected columns: {}",
            a.iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", ")
        )));
    }
    for (i, (x, y)) in a.iter().zip(b.iter()).enumerate() {
        if x.name() != y.name() || x.data_type() != y.data_type() {
            return Err(KernelError::invalid(format!(
                "column {} of the table is {}, but the tables profiled before have {}",
                i + 1,
                describe(y),
                describe(x)
            )));
        }
    }
    Ok(())
}

fn too_many_slices(column: &str, max: usize, n: usize) -> KernelError {
    KernelError::invalid(format!(
        "slice column `{column}` has more than {max} distinct values ({n} so far); \
         slice by a column with fewer values or raise max_slices"
    ))
}

/// Run `f` on every item, spread over up to `threads` scoped workers that take the items in
/// order. The first error is returned (the other items still run).
fn run_all<T: Send>(threads: usize, items: Vec<T>, f: impl Fn(T) -> Result<()> + Sync) -> Result<()> {
    let workers = threads.min(items.len());
    if workers <= 1 {
        return items.into_iter().try_for_each(f);
    }
    let queue = Mutex::new(items.into_iter());
    let error: Mutex<Option<KernelError>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                    let Some(item) = next else { break };
                    if let Err(e) = f(item) {
                        error.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(e);
                    }
                }
            });
        }
    });
    match error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The indices of `rows` of `batch`; `None` when that is every row.
fn indices(batch: &RecordBatch, rows: Vec<u32>) -> Option<UInt32Array> {
    (rows.len() != batch.num_rows()).then(|| UInt32Array::from(rows))
}

// ---------------------------------------------------------------------------------------
// Slices

/// The accumulators of one slice column.
#[derive(Debug)]
struct SliceColumn {
    name: String,
    /// Its index in the schema.
    column: usize,
    /// Integers: slices ordered by number.
    numeric_order: bool,
    /// Value text -> index in `accs`.
    index: FastMap<String, usize>,
    accs: Vec<(String, DatasetAcc)>,
    /// The rows where the column is null.
    null: Option<DatasetAcc>,
}

/// The rows of one batch by slice value.
#[derive(Default)]
struct Groups {
    /// Distinct values (as text) with their rows, in order of first appearance.
    values: Vec<(String, Vec<u32>)>,
    nulls: Vec<u32>,
}

/// Group the rows of `a` (a string, integer or boolean array, checked before) by value.
fn groups_of(a: &dyn Array) -> Groups {
    let mut g = Groups::default();
    let valid = |i: usize| a.nulls().is_none_or(|n| n.is_valid(i));
    match a.data_type() {
        DataType::Boolean => {
            let b = a.as_boolean();
            let (mut f, mut t) = (Vec::new(), Vec::new());
            for (i, v) in b.iter().enumerate() {
                match v {
                    Some(true) => t.push(i as u32),
                    Some(false) => f.push(i as u32),
                    None => g.nulls.push(i as u32),
                }
            }
            for (name, rows) in [("false", f), ("true", t)] {
                if !rows.is_empty() {
                    g.values.push((name.to_string(), rows));
                }
            }
        }
        dt if is_integer_type(dt) => {
            let mut at: FastMap<u64, usize> = FastMap::default();
            let unsigned = matches!(dt, DataType::UInt64);
            let to = if unsigned { DataType::UInt64 } else { DataType::Int64 };
            let c = arrow_cast::cast(a, &to).expect("integers widen to 64 bits");
            let keys: Vec<u64> = if unsigned {
                c.as_primitive::<UInt64Type>().values().to_vec()
            } else {
                c.as_primitive::<Int64Type>().values().iter().map(|v| *v as u64).collect()
            };
            for (i, key) in keys.into_iter().enumerate() {
                if !valid(i) {
                    g.nulls.push(i as u32);
                    continue;
                }
                let j = *at.entry(key).or_insert_with(|| {
                    let text = if unsigned { key.to_string() } else { (key as i64).to_string() };
                    g.values.push((text, Vec::new()));
                    g.values.len() - 1
                });
                g.values[j].1.push(i as u32);
            }
        }
        DataType::Dictionary(_, _) => {
            let d = a.as_any_dictionary();
            let strs = string_values(d.values().as_ref()).unwrap_or_default();
            if strs.is_empty() {
                g.nulls = (0..a.len() as u32).collect();
                return g;
            }
            // Entry -> group, through the text (entries may repeat).
            let mut by_text: FastMap<&str, usize> = FastMap::default();
            let mut entry: Vec<Option<usize>> = vec![None; strs.len()];
            for (i, k) in d.normalized_keys().into_iter().enumerate() {
                let text = if valid(i) { strs[k] } else { None };
                let Some(text) = text else {
                    g.nulls.push(i as u32);
                    continue;
                };
                let j = *entry[k].get_or_insert_with(|| {
                    *by_text.entry(text).or_insert_with(|| {
                        g.values.push((text.to_string(), Vec::new()));
                        g.values.len() - 1
                    })
                });
                g.values[j].1.push(i as u32);
            }
        }
        DataType::Utf8 => group_strs(a.as_string::<i32>().iter(), &mut g),
        DataType::LargeUtf8 => group_strs(a.as_string::<i64>().iter(), &mut g),
        _ => group_strs(a.as_string_view().iter(), &mut g),
    }
    g
}

fn group_strs<'a>(values: impl Iterator<Item = Option<&'a str>>, g: &mut Groups) {
    let mut at: FastMap<&str, usize> = FastMap::default();
    for (i, v) in values.enumerate() {
        match v {
            None => g.nulls.push(i as u32),
            Some(s) => {
                let j = *at.entry(s).or_insert_with(|| {
                    g.values.push((s.to_string(), Vec::new()));
                    g.values.len() - 1
                });
                g.values[j].1.push(i as u32);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Accumulators

/// The accumulators of one table (or slice).
#[derive(Debug, Default)]
struct DatasetAcc {
    rows: u64,
    cols: Vec<ColAcc>,
}

impl DatasetAcc {
    fn new(schema: &SchemaRef, options: &ProfileOptions, k: usize) -> Result<DatasetAcc> {
        let cols =
            schema.fields().iter().map(|f| ColAcc::new(f.name(), f.data_type(), options, k)).collect::<Result<_>>()?;
        Ok(DatasetAcc { rows: 0, cols })
    }

    fn merge(&mut self, o: DatasetAcc) {
        self.rows += o.rows;
        for (a, b) in self.cols.iter_mut().zip(o.cols) {
            a.merge(b);
        }
    }
}

/// The accumulator of one column.
#[derive(Debug)]
enum ColAcc {
    Num(NumAcc),
    Bool(BoolAcc),
    Str(StrAcc),
}

impl ColAcc {
    fn new(name: &str, dt: &DataType, options: &ProfileOptions, k: usize) -> Result<ColAcc> {
        Ok(match dt {
            DataType::Boolean => ColAcc::Bool(BoolAcc::default()),
            dt if is_string_type(dt) => ColAcc::Str(StrAcc::new(options)),
            dt if is_numeric_type(dt) => {
                let kind = match dt {
                    DataType::Float16
                    | DataType::Float32
                    | DataType::Float64
                    | DataType::Decimal32(_, _)
                    | DataType::Decimal64(_, _)
                    | DataType::Decimal128(_, _)
                    | DataType::Decimal256(_, _) => FeatureKind::Float,
                    _ => FeatureKind::Int,
                };
                ColAcc::Num(NumAcc { kind, nulls: 0, moments: Moments::default(), sketch: QuantileSketch::with_k(k) })
            }
            dt => {
                return Err(KernelError::invalid(format!(
                    "cannot profile column `{name}` of type {dt}: only numbers, booleans and strings \
                     have statistics; select the other columns"
                )));
            }
        })
    }

    /// A rough cost per row, to start the costliest columns first.
    fn cost(&self) -> usize {
        match self {
            ColAcc::Str(_) => 3,
            ColAcc::Num(_) => 2,
            ColAcc::Bool(_) => 1,
        }
    }

    fn add(&mut self, a: &dyn Array, name: &str) -> Result<()> {
        match self {
            ColAcc::Num(n) => n.add(a, name),
            ColAcc::Bool(b) => {
                b.add(a);
                Ok(())
            }
            ColAcc::Str(s) => s.add(a, name),
        }
    }

    fn merge(&mut self, o: ColAcc) {
        match (self, o) {
            (ColAcc::Num(a), ColAcc::Num(b)) => a.merge(b),
            (ColAcc::Bool(a), ColAcc::Bool(b)) => a.merge(b),
            (ColAcc::Str(a), ColAcc::Str(b)) => a.merge(b),
            _ => unreachable!("accumulators of one schema"),
        }
    }

    fn finish(self, name: &str, options: &ProfileOptions) -> FeatureStats {
        let name = name.to_string();
        match self {
            ColAcc::Num(n) => {
                let count = n.moments.n + n.moments.nans;
                let exact = n.sketch.retained() as u64 == n.sketch.count();
                let rank_error = if exact { 0.0 } else { options.rank_error };
                let numeric = numeric_stats(&n.moments, Dist::Sketch(&n.sketch), rank_error, options);
                FeatureStats { name, kind: n.kind, count, missing: n.nulls, numeric, string: None }
            }
            ColAcc::Bool(b) => {
                let n = b.zeros + b.ones;
                let moments = if n == 0 {
                    Moments::default()
                } else {
                    Moments {
                        n,
                        mean: b.ones as f64 / n as f64,
                        m2: b.ones as f64 * b.zeros as f64 / n as f64,
                        min: if b.zeros > 0 { 0.0 } else { 1.0 },
                        max: if b.ones > 0 { 1.0 } else { 0.0 },
                        zeros: b.zeros,
                        nans: 0,
                    }
                };
                let dist = Dist::Bool { zeros: b.zeros, ones: b.ones };
                let numeric = numeric_stats(&moments, dist, 0.0, options);
                FeatureStats { name, kind: FeatureKind::Bool, count: n, missing: b.nulls, numeric, string: None }
            }
            ColAcc::Str(s) => {
                let (count, missing) = (s.count, s.nulls);
                let avg_length = if count == 0 { 0.0 } else { s.bytes as f64 / count as f64 };
                let (distinct, distinct_exact, top) = match s.mode {
                    StrMode::Exact(map) => (map.len() as u64, true, top_of(&map, options.top_k)),
                    StrMode::Capped(c) => (c.hll.estimate(), false, top_of(&c.summary.counts, options.top_k)),
                };
                let string = StringStats { distinct, distinct_exact, top, avg_length };
                FeatureStats { name, kind: FeatureKind::String, count, missing, numeric: None, string: Some(string) }
            }
        }
    }
}

/// A numeric column (not boolean).
#[derive(Debug)]
struct NumAcc {
    kind: FeatureKind,
    nulls: u64,
    moments: Moments,
    sketch: QuantileSketch,
}

impl NumAcc {
    fn add(&mut self, a: &dyn Array, name: &str) -> Result<()> {
        self.nulls += a.null_count() as u64;
        let mut moments = MomentsAcc::new();
        visit_numeric(a, name, &mut Fused { moments: &mut moments, sketch: &mut self.sketch })?;
        self.moments.merge(&moments.finish());
        Ok(())
    }

    fn merge(&mut self, o: NumAcc) {
        self.nulls += o.nulls;
        self.moments.merge(&o.moments);
        self.sketch.merge(&o.sketch);
    }
}

/// Moments and sketch in one visit of the values.
struct Fused<'a> {
    moments: &'a mut MomentsAcc,
    sketch: &'a mut QuantileSketch,
}

impl NumVisitor for Fused<'_> {
    fn visit<T: ToF64>(&mut self, values: &[T], nulls: Option<&NullBuffer>) {
        self.moments.visit(values, nulls);
        SketchFeed(self.sketch).visit(values, nulls);
    }
}

/// A boolean column: counted, which gives every figure exactly.
#[derive(Debug, Default)]
struct BoolAcc {
    nulls: u64,
    zeros: u64,
    ones: u64,
}

impl BoolAcc {
    fn add(&mut self, a: &dyn Array) {
        let b = a.as_boolean();
        let ones = b.true_count() as u64;
        self.nulls += b.null_count() as u64;
        self.ones += ones;
        self.zeros += (b.len() - b.null_count()) as u64 - ones;
    }

    fn merge(&mut self, o: BoolAcc) {
        self.nulls += o.nulls;
        self.zeros += o.zeros;
        self.ones += o.ones;
    }
}

/// A string column.
#[derive(Debug)]
struct StrAcc {
    nulls: u64,
    count: u64,
    /// UTF-8 bytes of the non-null values.
    bytes: u64,
    mode: StrMode,
    max_exact: usize,
    capacity: usize,
}

#[derive(Debug)]
enum StrMode {
    /// Every distinct value with its count.
    Exact(FastMap<Box<str>, u64>),
    /// Past `max_exact` distinct values.
    Capped(Box<Capped>),
}

#[derive(Debug)]
struct Capped {
    /// Every value seen, for `distinct`.
    hll: HyperLogLog,
    /// The heavy hitters.
    summary: SpaceSaving,
}

impl StrAcc {
    fn new(options: &ProfileOptions) -> StrAcc {
        StrAcc {
            nulls: 0,
            count: 0,
            bytes: 0,
            mode: StrMode::Exact(FastMap::default()),
            max_exact: options.max_exact_distinct,
            capacity: options.summary_capacity(),
        }
    }

    fn add(&mut self, a: &dyn Array, name: &str) -> Result<()> {
        fn utf8<O: OffsetSizeTrait>(acc: &mut StrAcc, a: &dyn Array) {
            let s = a.as_string::<O>();
            acc.nulls += s.null_count() as u64;
            acc.count += (s.len() - s.null_count()) as u64;
            match s.nulls().filter(|n| n.null_count() > 0) {
                None => acc.feed((0..s.len()).map(|i| (s.value(i), 1))),
                Some(n) => acc.feed(n.valid_indices().map(|i| (s.value(i), 1))),
            }
        }
        match a.data_type() {
            DataType::Utf8 => utf8::<i32>(self, a),
            DataType::LargeUtf8 => utf8::<i64>(self, a),
            DataType::Utf8View => {
                let s = a.as_string_view();
                self.nulls += s.null_count() as u64;
                self.count += (s.len() - s.null_count()) as u64;
                match s.nulls().filter(|n| n.null_count() > 0) {
                    None => self.feed((0..s.len()).map(|i| (s.value(i), 1))),
                    Some(n) => self.feed(n.valid_indices().map(|i| (s.value(i), 1))),
                }
            }
            dt => {
                // A dictionary: counted per entry, then by the entry's text.
                let not_strings = || KernelError::invalid(format!("column `{name}` has type {dt}, not strings"));
                let (counts, key_nulls, values) = key_counts(a).ok_or_else(not_strings)?;
                let strs = string_values(values.as_ref()).ok_or_else(not_strings)?;
                self.nulls += key_nulls;
                for (c, s) in counts.iter().zip(&strs) {
                    match s {
                        Some(_) => self.count += c,
                        None => self.nulls += c,
                    }
                }
                self.feed(counts.iter().zip(&strs).filter_map(|(c, s)| match s {
                    Some(s) if *c > 0 => Some((*s, *c)),
                    _ => None,
                }));
            }
        }
        Ok(())
    }

    /// Count `(value, times)` pairs.
    fn feed<'a>(&mut self, mut values: impl Iterator<Item = (&'a str, u64)>) {
        if let StrMode::Exact(map) = &mut self.mode {
            loop {
                let Some((s, c)) = values.next() else { return };
                self.bytes += s.len() as u64 * c;
                if let Some(n) = map.get_mut(s) {
                    *n += c;
                } else if map.len() < self.max_exact {
                    map.insert(s.into(), c);
                } else {
                    self.make_capped();
                    let StrMode::Capped(capped) = &mut self.mode else { unreachable!("just capped") };
                    capped.add(s, c);
                    break;
                }
            }
        }
        let StrMode::Capped(capped) = &mut self.mode else { unreachable!("exact returns above") };
        for (s, c) in values {
            self.bytes += s.len() as u64 * c;
            capped.add(s, c);
        }
    }

    /// Switch to bounded memory (no-op when already there).
    fn make_capped(&mut self) {
        if let StrMode::Exact(map) = &mut self.mode {
            let map = std::mem::take(map);
            let mut hll = HyperLogLog::new();
            for k in map.keys() {
                hll.insert(k.as_bytes());
            }
            let mut summary = SpaceSaving { capacity: self.capacity, counts: map, floor: 0 };
            summary.shrink();
            self.mode = StrMode::Capped(Box::new(Capped { hll, summary }));
        }
    }

    fn merge(&mut self, o: StrAcc) {
        self.nulls += o.nulls;
        self.count += o.count;
        self.bytes += o.bytes;
        match (&mut self.mode, o.mode) {
            (StrMode::Exact(a), StrMode::Exact(b)) => {
                for (k, v) in b {
                    *a.entry(k).or_default() += v;
                }
                if a.len() > self.max_exact {
                    self.make_capped();
                }
            }
            (_, other) => {
                self.make_capped();
                let StrMode::Capped(capped) = &mut self.mode else { unreachable!("just capped") };
                match other {
                    StrMode::Exact(b) => {
                        for (k, v) in b {
                            capped.add(&k, v);
                        }
                    }
                    StrMode::Capped(b) => {
                        capped.hll.merge(&b.hll);
                        capped.summary.merge(b.summary);
                    }
                }
            }
        }
    }
}

impl Capped {
    #[inline]
    fn add(&mut self, s: &str, c: u64) {
        self.hll.insert(s.as_bytes());
        self.summary.add(s, c);
    }
}

/// A Space-Saving summary (Metwally, Agrawal and El Abbadi, 2005) with lazy eviction: at most
/// `capacity` values with counts that are upper bounds of their true counts. When full, the
/// half with the smallest counts is dropped at once (amortized O(1) per value), and `floor`
/// becomes the largest count dropped so far: a value that enters starts from it, since it may
/// have been dropped with that many.
#[derive(Debug)]
struct SpaceSaving {
    capacity: usize,
    counts: FastMap<Box<str>, u64>,
    /// An upper bound of the true count of any value not tracked.
    floor: u64,
}

impl SpaceSaving {
    #[inline]
    fn add(&mut self, s: &str, c: u64) {
        if let Some(n) = self.counts.get_mut(s) {
            *n += c;
            return;
        }
        if self.counts.len() >= self.capacity {
            self.evict(self.capacity / 2);
        }
        self.counts.insert(s.into(), self.floor + c);
    }

    /// Keep the `keep` largest counts (fewer when counts tie at the cut).
    fn evict(&mut self, keep: usize) {
        if self.counts.len() <= keep {
            return;
        }
        let mut cs: Vec<u64> = self.counts.values().copied().collect();
        let (_, cut, _) = cs.select_nth_unstable_by(keep, |a, b| b.cmp(a));
        let cut = *cut;
        self.counts.retain(|_, n| *n > cut);
        self.floor = self.floor.max(cut);
    }

    /// Back within capacity.
    fn shrink(&mut self) {
        if self.counts.len() > self.capacity {
            self.evict(self.capacity / 2);
        }
    }

    /// Fold `o` in: a value missing from one side may have been dropped there with up to
    /// that side's floor.
    fn merge(&mut self, o: SpaceSaving) {
        let (fa, fb) = (self.floor, o.floor);
        for n in self.counts.values_mut() {
            *n += fb;
        }
        for (k, v) in o.counts {
            match self.counts.get_mut(&k) {
                Some(n) => *n += v - fb,
                None => {
                    self.counts.insert(k, v + fa);
                }
            }
        }
        self.floor = fa + fb;
        self.shrink();
    }
}

/// The `k` largest counts, ties by value ascending, in that order.
fn top_of(map: &FastMap<Box<str>, u64>, k: usize) -> Vec<ValueCount> {
    let mut v: Vec<(&str, u64)> = map.iter().map(|(s, c)| (&**s, *c)).collect();
    let order = |a: &(&str, u64), b: &(&str, u64)| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0));
    if k < v.len() {
        v.select_nth_unstable_by(k, order);
        v.truncate(k);
    }
    v.sort_unstable_by(order);
    v.into_iter().map(|(s, c)| ValueCount { value: s.to_string(), count: c }).collect()
}

// ---------------------------------------------------------------------------------------
// Numeric results

/// The distribution of the non-NaN values of a numeric column.
enum Dist<'a> {
    Sketch(&'a QuantileSketch),
    Bool { zeros: u64, ones: u64 },
}

/// A step approximation of a distribution: ascending points with the cumulative weight up to
/// and including each, out of `total`.
struct Steps {
    points: Vec<(f64, u64)>,
    total: u64,
}

impl Steps {
    /// The weight of the values below `x`.
    fn below(&self, x: f64) -> u64 {
        let i = self.points.partition_point(|(v, _)| *v < x);
        if i == 0 { 0 } else { self.points[i - 1].1 }
    }
}

impl Dist<'_> {
    /// The values at ranks `qs` (nearest rank, as [`QuantileSketch::quantiles`]), and the
    /// steps of the distribution.
    fn quantiles_and_steps(&self, qs: &[f64], rank_error: f64) -> (Vec<f64>, Steps) {
        match *self {
            Dist::Bool { zeros, ones } => {
                let n = zeros + ones;
                let at = |q: f64| {
                    if q <= 0.0 {
                        return if zeros > 0 { 0.0 } else { 1.0 };
                    }
                    if q >= 1.0 {
                        return if ones > 0 { 1.0 } else { 0.0 };
                    }
                    let target = ((q * n as f64).ceil() as u64).clamp(1, n);
                    if target <= zeros { 0.0 } else { 1.0 }
                };
                let points = vec![(0.0, zeros), (1.0, n)];
                (qs.iter().map(|q| at(*q)).collect(), Steps { points, total: n })
            }
            Dist::Sketch(s) => {
                let n = s.count();
                // Exact sketches give every value (points at ranks 1..n); otherwise a grid
                // finer than both the sketch's items and its error.
                let g = if s.retained() as u64 == n {
                    n
                } else {
                    (s.retained() as u64).max((4.0 / rank_error).ceil() as u64).clamp(1, 1 << 16).min(n)
                };
                let mut all: Vec<f64> = qs.to_vec();
                all.extend((0..g).map(|j| (j as f64 + 0.5) / g as f64));
                let got = s.quantiles(&all).expect("a sketch with values");
                let points = got[qs.len()..].iter().enumerate().map(|(j, v)| (*v, j as u64 + 1)).collect();
                (got[..qs.len()].to_vec(), Steps { points, total: g })
            }
        }
    }
}

/// Numeric statistics from exact moments and a distribution; `None` without a value.
fn numeric_stats(m: &Moments, dist: Dist<'_>, rank_error: f64, options: &ProfileOptions) -> Option<NumericStats> {
    if m.n == 0 {
        return None;
    }
    let n = m.n as f64;
    let nq = options.quantiles;
    let mut qs: Vec<f64> = (0..=nq).map(|i| i as f64 / nq as f64).collect();
    qs.push(0.5);
    let (mut quantiles, steps) = dist.quantiles_and_steps(&qs, options.rank_error);
    let median = quantiles.pop().expect("the median");
    let (min, max) = (m.min, m.max);
    // The extremes are exact; the sketch's agree, but say so.
    quantiles[0] = min;
    quantiles[nq] = max;

    let one = |count: f64| Histogram { buckets: vec![Bucket { low: min, high: max, count }] };
    let (histogram, quantile_histogram) = if min == max {
        (one(n), one(n))
    } else {
        let histogram = equal_width(min, max, &steps, n, options.histogram_buckets).unwrap_or_else(|| one(n));
        let per = n / nq as f64;
        let quantile_histogram =
            Histogram { buckets: quantiles.windows(2).map(|w| Bucket { low: w[0], high: w[1], count: per }).collect() };
        (histogram, quantile_histogram)
    };
    Some(NumericStats {
        mean: m.mean,
        std_dev: (m.m2 / n).sqrt(),
        min,
        max,
        zeros: m.zeros,
        nans: m.nans,
        median,
        quantiles,
        histogram,
        quantile_histogram,
        rank_error,
    })
}

/// `buckets` equal-width buckets over the finite values, with counts from `steps` (values
/// below the first boundary in the first bucket, above the last in the last). `None` when
/// the finite values span no range.
fn equal_width(min: f64, max: f64, steps: &Steps, n: f64, buckets: usize) -> Option<Histogram> {
    let finite = || steps.points.iter().map(|p| p.0).filter(|v| v.is_finite());
    let lo = if min.is_finite() { min } else { finite().next()? };
    let hi = if max.is_finite() { max } else { finite().next_back()? };
    if lo >= hi {
        return None;
    }
    let b = buckets as f64;
    // Width by parts, so that a range wider than f64::MAX does not overflow.
    let width = hi / b - lo / b;
    let edge = |i: usize| if i == buckets { hi } else { lo + width * i as f64 };
    let cum = |i: usize| match i {
        0 => 0,
        i if i == buckets => steps.total,
        i => steps.below(edge(i)),
    };
    // Exact steps have a total of `n`: then the counts are exact integers.
    let scale = n / steps.total as f64;
    Some(Histogram {
        buckets: (0..buckets)
            .map(|i| Bucket { low: edge(i), high: edge(i + 1), count: (cum(i + 1) - cum(i)) as f64 * scale })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::types::Int32Type;
    use arrow_array::{
        BooleanArray, DictionaryArray, Float32Array, Float64Array, Int32Array, Int64Array, ListArray, StringArray,
        UInt8Array,
    };
    use std::sync::Arc;

    fn xorshift(seed: u64) -> impl FnMut() -> u64 {
        let mut s = seed.max(1);
        move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        }
    }

    /// Generated columns, as plain vectors for the naive computations.
    struct Data {
        i: Vec<Option<i64>>,
        f: Vec<Option<f64>>,
        s: Vec<Option<String>>,
        d: Vec<Option<String>>,
        b: Vec<Option<bool>>,
        u: Vec<u8>,
    }

    fn data(n: usize, seed: u64) -> Data {
        let mut r = xorshift(seed);
        let missing = |r: &mut dyn FnMut() -> u64| r() % 100 < 5;
        let mut d = Data { i: vec![], f: vec![], s: vec![], d: vec![], b: vec![], u: vec![] };
        for _ in 0..n {
            let x = r();
            d.i.push((!missing(&mut r)).then(|| (x % 101) as i64 - 50));
            let f = match r() % 200 {
                0 => f64::NAN,
                1..=4 => 0.0,
                _ => ((r() >> 11) as f64 / (1u64 << 53) as f64 - 0.3) * 1e3,
            };
            d.f.push((!missing(&mut r)).then_some(f));
            // Skewed categories of different lengths.
            let c = (r() % 37) * (r() % 37) / 37;
            d.s.push((!missing(&mut r)).then(|| format!("v{}", "x".repeat((c % 5) as usize)) + &c.to_string()));
            d.d.push((!missing(&mut r)).then(|| ["alpha", "beta", "gamma", "delta"][(r() % 4) as usize].to_string()));
            d.b.push((!missing(&mut r)).then(|| r().is_multiple_of(3)));
            d.u.push((r() % 7) as u8);
        }
        d
    }

    fn batch(d: &Data) -> RecordBatch {
        let dict: DictionaryArray<Int32Type> = d.d.iter().map(|v| v.as_deref()).collect();
        RecordBatch::try_from_iter(vec![
            ("i", Arc::new(Int64Array::from(d.i.clone())) as ArrayRef),
            ("f", Arc::new(Float64Array::from(d.f.clone())) as ArrayRef),
            ("s", Arc::new(StringArray::from(d.s.clone())) as ArrayRef),
            ("d", Arc::new(dict) as ArrayRef),
            ("b", Arc::new(BooleanArray::from(d.b.clone())) as ArrayRef),
            ("u", Arc::new(UInt8Array::from(d.u.clone())) as ArrayRef),
        ])
        .unwrap()
    }

    /// The rows of `b` in batches of `size` (zero-copy slices, so arrays with offsets).
    fn table(b: &RecordBatch, size: usize) -> Table {
        let parts: Vec<RecordBatch> =
            (0..b.num_rows()).step_by(size).map(|s| b.slice(s, size.min(b.num_rows() - s))).collect();
        Table::new(b.schema(), parts).unwrap()
    }

    fn opts() -> ProfileOptions {
        ProfileOptions { threads: 2, ..ProfileOptions::default() }
    }

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-300)
    }

    /// Checks every exact numeric figure against the values, and the approximate ones
    /// against their bounds.
    fn check_numeric(f: &FeatureStats, vals: &[Option<f64>], kind: FeatureKind) {
        assert_eq!(f.kind, kind, "{}", f.name);
        let present: Vec<f64> = vals.iter().flatten().copied().collect();
        let mut xs: Vec<f64> = present.iter().copied().filter(|x| !x.is_nan()).collect();
        assert_eq!(f.count, present.len() as u64, "{}", f.name);
        assert_eq!(f.missing, (vals.len() - present.len()) as u64, "{}", f.name);
        let Some(s) = &f.numeric else {
            assert!(xs.is_empty(), "{}", f.name);
            return;
        };
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let std = (xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n).sqrt();
        assert!(close(s.mean, mean, 1e-9), "{}: mean {} vs {mean}", f.name, s.mean);
        assert!(close(s.std_dev, std, 1e-9), "{}: std {} vs {std}", f.name, s.std_dev);
        xs.sort_by(f64::total_cmp);
        assert_eq!((s.min, s.max), (xs[0], xs[xs.len() - 1]), "{}", f.name);
        assert_eq!(s.zeros, xs.iter().filter(|x| **x == 0.0).count() as u64, "{}", f.name);
        assert_eq!(s.nans, (present.len() - xs.len()) as u64, "{}", f.name);
        // Quantiles: the true rank of each reported value is within the bound.
        let nq = s.quantiles.len() - 1;
        let mut ranked: Vec<(f64, f64)> = (0..=nq).map(|i| (i as f64 / nq as f64, s.quantiles[i])).collect();
        ranked.push((0.5, s.median));
        for (q, v) in ranked {
            let below = xs.partition_point(|x| *x < v) as f64;
            let upto = xs.partition_point(|x| *x <= v) as f64;
            let slack = s.rank_error * n + 1.0;
            assert!(below <= q * n + slack && upto >= q * n - slack, "{}: q {q} -> {v}: ranks {below}..{upto}", f.name);
        }
        assert_eq!((s.quantiles[0], s.quantiles[nq]), (s.min, s.max));
        // Histograms: edges from min to max, counts summing to the values.
        for h in [&s.histogram, &s.quantile_histogram] {
            let total: f64 = h.buckets.iter().map(|b| b.count).sum();
            assert!(close(total, n, 1e-9), "{}: {total} vs {n}", f.name);
            assert_eq!(h.buckets[0].low, s.min);
            assert_eq!(h.buckets[h.buckets.len() - 1].high, s.max);
            assert!(h.buckets.windows(2).all(|w| w[0].high == w[1].low));
        }
        if s.min < s.max {
            assert_eq!(s.histogram.buckets.len(), 10);
            assert_eq!(s.quantile_histogram.buckets.len(), nq);
        }
    }

    fn check_strings(f: &FeatureStats, vals: &[Option<String>], top_k: usize) {
        assert_eq!(f.kind, FeatureKind::String);
        let present: Vec<&str> = vals.iter().flatten().map(|s| s.as_str()).collect();
        assert_eq!(f.count, present.len() as u64, "{}", f.name);
        assert_eq!(f.missing, (vals.len() - present.len()) as u64, "{}", f.name);
        let mut counts: std::collections::BTreeMap<&str, u64> = Default::default();
        for s in &present {
            *counts.entry(s).or_default() += 1;
        }
        let mut top: Vec<(&str, u64)> = counts.iter().map(|(s, c)| (*s, *c)).collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        top.truncate(top_k);
        let s = f.string.as_ref().unwrap();
        assert_eq!((s.distinct, s.distinct_exact), (counts.len() as u64, true), "{}", f.name);
        let got: Vec<(&str, u64)> = s.top.iter().map(|v| (v.value.as_str(), v.count)).collect();
        assert_eq!(got, top, "{}", f.name);
        let bytes: usize = present.iter().map(|s| s.len()).sum();
        let avg = if present.is_empty() { 0.0 } else { bytes as f64 / present.len() as f64 };
        assert_eq!(s.avg_length, avg, "{}", f.name);
    }

    fn check_all(ds: &DatasetStats, d: &Data, top_k: usize) {
        assert_eq!(ds.num_examples, d.u.len() as u64);
        let names: Vec<&str> = ds.features.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["i", "f", "s", "d", "b", "u"]);
        let as_f = |v: &[Option<i64>]| v.iter().map(|x| x.map(|x| x as f64)).collect::<Vec<_>>();
        check_numeric(&ds.features[0], &as_f(&d.i), FeatureKind::Int);
        check_numeric(&ds.features[1], &d.f, FeatureKind::Float);
        check_strings(&ds.features[2], &d.s, top_k);
        check_strings(&ds.features[3], &d.d, top_k);
        let b: Vec<Option<f64>> = d.b.iter().map(|x| x.map(|x| x as u8 as f64)).collect();
        check_numeric(&ds.features[4], &b, FeatureKind::Bool);
        let u: Vec<Option<f64>> = d.u.iter().map(|x| Some(*x as f64)).collect();
        check_numeric(&ds.features[5], &u, FeatureKind::Int);
    }

    #[test]
    fn exact_figures_match_a_naive_computation() {
        for (n, size) in [(300, 300), (50_000, 4_093), (200_000, 65_536)] {
            let d = data(n, 7 + n as u64);
            let out = profile(&table(&batch(&d), size), &opts()).unwrap();
            assert_eq!(out.len(), 1);
            assert_eq!((out[0].split.as_str(), &out[0].slice), ("", &None));
            check_all(&out[0], &d, 20);
            // A few hundred values fit the sketch: everything is exact.
            let f = out[0].feature("f").unwrap().numeric.as_ref().unwrap();
            assert_eq!(f.rank_error, if n == 300 { 0.0 } else { 0.001 });
            // Booleans are counted, not sketched.
            assert_eq!(out[0].feature("b").unwrap().numeric.as_ref().unwrap().rank_error, 0.0);
        }
    }

    #[test]
    fn quantiles_within_the_rank_error() {
        // 0..n shuffled: the value at rank r is r - 1.
        let n = 300_000usize;
        let mut r = xorshift(3);
        let mut v: Vec<f64> = (0..n).map(|i| i as f64).collect();
        for i in (1..n).rev() {
            v.swap(i, (r() % (i as u64 + 1)) as usize);
        }
        let t = Table::from_batch(
            RecordBatch::try_from_iter(vec![("x", Arc::new(Float64Array::from(v.clone())) as ArrayRef)]).unwrap(),
        );
        for e in [0.01, 0.001] {
            let o = ProfileOptions { rank_error: e, quantiles: 20, ..opts() };
            let out = profile(&t, &o).unwrap();
            let s = out[0].features[0].numeric.as_ref().unwrap();
            assert_eq!(s.rank_error, e);
            assert_eq!(s.quantiles.len(), 21);
            for (i, q) in s.quantiles.iter().enumerate() {
                let want = i as f64 / 20.0 * n as f64;
                assert!((q + 1.0 - want).abs() <= e * n as f64 + 1.0, "e {e}: q{i} = {q}, want about {want}");
            }
            assert!((s.median + 1.0 - n as f64 / 2.0).abs() <= e * n as f64);
            // Equal-width buckets of a uniform column: about n / 10 each.
            for b in &s.histogram.buckets {
                assert!((b.count - n as f64 / 10.0).abs() <= 2.0 * e * n as f64 + 1.0, "e {e}: {b:?}");
            }
            check_numeric(&out[0].features[0], &v.iter().map(|x| Some(*x)).collect::<Vec<_>>(), FeatureKind::Float);
        }
    }

    #[test]
    fn exact_histograms_and_degenerate_columns() {
        // Exact while the sketch holds every value: counts are integers.
        let t = Table::from_batch(
            RecordBatch::try_from_iter(vec![
                (
                    "x",
                    Arc::new(Int32Array::from(vec![Some(0), Some(1), Some(2), None, Some(5), Some(10), Some(10)]))
                        as ArrayRef,
                ),
                (
                    "c",
                    Arc::new(Float64Array::from(vec![
                        Some(2.5),
                        Some(2.5),
                        None,
                        Some(f64::NAN),
                        Some(2.5),
                        None,
                        None,
                    ])) as ArrayRef,
                ),
                (
                    "e",
                    Arc::new(Float64Array::from(vec![None, Some(f64::NAN), None, None, None, None, None])) as ArrayRef,
                ),
                ("z", Arc::new(StringArray::from(vec![None::<&str>; 7])) as ArrayRef),
            ])
            .unwrap(),
        );
        let o = ProfileOptions { histogram_buckets: 4, quantiles: 2, ..opts() };
        let out = profile(&t, &o).unwrap();
        let x = out[0].features[0].numeric.as_ref().unwrap();
        let edges: Vec<(f64, f64, f64)> = x.histogram.buckets.iter().map(|b| (b.low, b.high, b.count)).collect();
        assert_eq!(edges, vec![(0.0, 2.5, 3.0), (2.5, 5.0, 0.0), (5.0, 7.5, 1.0), (7.5, 10.0, 2.0)]);
        assert_eq!((x.quantiles.clone(), x.median, x.rank_error), (vec![0.0, 2.0, 10.0], 2.0, 0.0));
        let q: Vec<(f64, f64, f64)> = x.quantile_histogram.buckets.iter().map(|b| (b.low, b.high, b.count)).collect();
        assert_eq!(q, vec![(0.0, 2.0, 3.0), (2.0, 10.0, 3.0)]);

        // All equal (with a NaN): one bucket [v, v] holding every non-NaN value.
        let c = &out[0].features[1];
        assert_eq!((c.count, c.missing), (4, 3));
        let cs = c.numeric.as_ref().unwrap();
        let one = Histogram { buckets: vec![Bucket { low: 2.5, high: 2.5, count: 3.0 }] };
        assert_eq!((&cs.histogram, &cs.quantile_histogram), (&one, &one));
        assert_eq!((cs.mean, cs.std_dev, cs.nans, cs.median), (2.5, 0.0, 1, 2.5));

        // Only NaN and nulls: no numeric statistics; an all-null string column: zero values.
        let e = &out[0].features[2];
        assert_eq!((e.count, e.missing, &e.numeric), (1, 6, &None));
        let z = &out[0].features[3];
        assert_eq!((z.count, z.missing), (0, 7));
        let zs = z.string.as_ref().unwrap();
        assert_eq!((zs.distinct, zs.distinct_exact, zs.top.len(), zs.avg_length), (0, true, 0, 0.0));
    }

    #[test]
    fn infinite_extremes_keep_finite_buckets() {
        let t = Table::from_batch(
            RecordBatch::try_from_iter(vec![(
                "x",
                Arc::new(Float32Array::from(vec![f32::NEG_INFINITY, 0.0, 1.0, 2.0, 4.0, f32::INFINITY])) as ArrayRef,
            )])
            .unwrap(),
        );
        let out = profile(&t, &ProfileOptions { histogram_buckets: 2, ..opts() }).unwrap();
        let s = out[0].features[0].numeric.as_ref().unwrap();
        assert_eq!(out[0].features[0].kind, FeatureKind::Float);
        assert_eq!((s.min, s.max), (f64::NEG_INFINITY, f64::INFINITY));
        let h: Vec<(f64, f64, f64)> = s.histogram.buckets.iter().map(|b| (b.low, b.high, b.count)).collect();
        assert_eq!(h, vec![(0.0, 2.0, 3.0), (2.0, 4.0, 3.0)]);
    }

    #[test]
    fn bool_columns_are_numbers_with_true_as_one() {
        let t = Table::from_batch(
            RecordBatch::try_from_iter(vec![(
                "b",
                Arc::new(BooleanArray::from(vec![Some(true), None, Some(false), Some(true), Some(true)])) as ArrayRef,
            )])
            .unwrap(),
        );
        let out = profile(&t, &ProfileOptions { histogram_buckets: 2, quantiles: 4, ..opts() }).unwrap();
        let f = &out[0].features[0];
        assert_eq!((f.kind, f.count, f.missing), (FeatureKind::Bool, 4, 1));
        let s = f.numeric.as_ref().unwrap();
        assert_eq!(
            (s.mean, s.std_dev, s.min, s.max, s.zeros, s.median),
            (0.75, 0.75f64.sqrt() * 0.5, 0.0, 1.0, 1, 1.0)
        );
        assert_eq!(s.quantiles, vec![0.0, 0.0, 1.0, 1.0, 1.0]);
        let h: Vec<(f64, f64, f64)> = s.histogram.buckets.iter().map(|b| (b.low, b.high, b.count)).collect();
        assert_eq!(h, vec![(0.0, 0.5, 1.0), (0.5, 1.0, 3.0)]);
    }

    /// The exact figures of two sets of statistics agree (moments to rounding).
    fn assert_exact_eq(a: &DatasetStats, b: &DatasetStats) {
        assert_eq!((&a.slice, a.num_examples), (&b.slice, b.num_examples));
        for (x, y) in a.features.iter().zip(&b.features) {
            assert_eq!((&x.name, x.kind, x.count, x.missing), (&y.name, y.kind, y.count, y.missing));
            assert_eq!(x.string, y.string, "{}", x.name);
            match (&x.numeric, &y.numeric) {
                (Some(p), Some(q)) => {
                    assert!(close(p.mean, q.mean, 1e-12) && close(p.std_dev, q.std_dev, 1e-12), "{}", x.name);
                    assert_eq!((p.min, p.max, p.zeros, p.nans), (q.min, q.max, q.zeros, q.nans), "{}", x.name);
                }
                (p, q) => assert_eq!(p, q),
            }
        }
    }

    #[test]
    fn threads_do_not_change_the_results() {
        fn send<T: Send>() {}
        send::<Profiler>();
        let t = table(&batch(&data(40_000, 4)), 3_000);
        let o = ProfileOptions { slice_by: vec!["d".into()], ..opts() };
        let one = profile(&t, &ProfileOptions { threads: 1, ..o.clone() }).unwrap();
        assert_eq!(one, profile(&t, &ProfileOptions { threads: 3, ..o }).unwrap());
    }

    #[test]
    fn merge_and_batching_give_the_single_pass_figures() {
        let d = data(60_000, 11);
        let b = batch(&d);
        let o = ProfileOptions { slice_by: vec!["d".into(), "b".into()], ..opts() };
        let single = profile(&Table::from_batch(b.clone()), &o).unwrap();
        check_all(&single[0], &d, 20);

        // Many small batches.
        let small = profile(&table(&b, 97), &o).unwrap();
        assert_eq!(single.len(), small.len());
        for (x, y) in single.iter().zip(&small) {
            assert_exact_eq(x, y);
        }

        // Three profilers merged (one of them never given a table).
        let mut p = Profiler::new(o.clone()).unwrap();
        p.add(&Table::from_batch(b.slice(0, 25_000))).unwrap();
        let mut q = Profiler::new(ProfileOptions { threads: 1, ..o.clone() }).unwrap();
        q.add(&Table::from_batch(b.slice(25_000, 35_000))).unwrap();
        p.merge(q).unwrap();
        p.merge(Profiler::new(o.clone()).unwrap()).unwrap();
        let merged = p.finish();
        assert_eq!(single.len(), merged.len());
        for (x, y) in single.iter().zip(&merged) {
            assert_exact_eq(x, y);
        }

        // Merging into a fresh profiler, and options that do not agree.
        let mut fresh = Profiler::new(o.clone()).unwrap();
        let mut q = Profiler::new(o.clone()).unwrap();
        q.add(&Table::from_batch(b.clone())).unwrap();
        fresh.merge(q).unwrap();
        assert_exact_eq(&fresh.finish()[0], &single[0]);
        let mut p = Profiler::new(o.clone()).unwrap();
        let e = p.merge(Profiler::new(ProfileOptions { top_k: 3, ..o }).unwrap()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
    }

    #[test]
    fn capped_strings_stay_bounded_and_find_the_heavy_hitter() {
        let n = 200_000usize;
        let mut r = xorshift(5);
        let mut hot = 0u64;
        let vals: Vec<String> = (0..n)
            .map(|i| {
                if r() % 10 < 3 {
                    hot += 1;
                    "hot".to_string()
                } else {
                    format!("id-{i}")
                }
            })
            .collect();
        let distinct = n as u64 - hot + 1;
        let b = RecordBatch::try_from_iter(vec![("s", Arc::new(StringArray::from(vals)) as ArrayRef)]).unwrap();
        let o = ProfileOptions { max_exact_distinct: 5_000, top_k: 3, ..opts() };
        let mut p = Profiler::new(o.clone()).unwrap();
        p.add(&table(&b, 10_000)).unwrap();
        let ColAcc::Str(s) = &p.whole.cols[0] else { panic!() };
        let StrMode::Capped(c) = &s.mode else { panic!("not capped") };
        assert_eq!(c.summary.capacity, 1000);
        assert!(c.summary.counts.len() <= c.summary.capacity);
        let floor = c.summary.floor;
        let out = p.finish();
        let st = out[0].features[0].string.as_ref().unwrap();
        assert!(!st.distinct_exact);
        assert!(st.distinct.abs_diff(distinct) as f64 <= 0.03 * distinct as f64, "{} vs {distinct}", st.distinct);
        assert_eq!(st.top[0].value, "hot");
        assert!(st.top[0].count >= hot && st.top[0].count <= hot + floor, "{} vs {hot} (+{floor})", st.top[0].count);
        assert_eq!(st.avg_length, {
            let t = b.column(0).as_string::<i32>();
            t.iter().flatten().map(|s| s.len()).sum::<usize>() as f64 / n as f64
        });

        // Merged from halves, one capped and one exact, then both capped.
        let mut p = Profiler::new(o.clone()).unwrap();
        p.add(&Table::from_batch(b.slice(0, 150_000))).unwrap();
        let mut q = Profiler::new(o.clone()).unwrap();
        q.add(&Table::from_batch(b.slice(150_000, 3_000))).unwrap();
        p.merge(q).unwrap();
        let mut q = Profiler::new(o).unwrap();
        q.add(&Table::from_batch(b.slice(153_000, n - 153_000))).unwrap();
        p.merge(q).unwrap();
        let ColAcc::Str(s) = &p.whole.cols[0] else { panic!() };
        let StrMode::Capped(c) = &s.mode else { panic!("not capped") };
        assert!(c.summary.counts.len() <= c.summary.capacity);
        let st = p.finish()[0].features[0].string.clone().unwrap();
        assert_eq!(st.top[0].value, "hot");
        assert!(st.top[0].count >= hot);
        assert!(st.distinct.abs_diff(distinct) as f64 <= 0.03 * distinct as f64, "{} vs {distinct}", st.distinct);
    }

    #[test]
    fn slices_match_a_grouped_computation() {
        let d = data(30_000, 21);
        let o = ProfileOptions { slice_by: vec!["s".into(), "i".into(), "b".into(), "d".into()], ..opts() };
        let out = profile(&table(&batch(&d), 7_000), &o).unwrap();
        check_all(&out[0], &d, 20);
        let mut at = 1;
        for col in ["s", "i", "b", "d"] {
            // The slice values as text, with the rows of each.
            let key = |r: usize| -> Option<String> {
                match col {
                    "s" => d.s[r].clone(),
                    "i" => d.i[r].map(|v| v.to_string()),
                    "b" => d.b[r].map(|v| v.to_string()),
                    _ => d.d[r].clone(),
                }
            };
            let mut groups: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
            let mut nulls = Vec::new();
            for r in 0..d.u.len() {
                match key(r) {
                    Some(k) => groups.entry(k).or_default().push(r),
                    None => nulls.push(r),
                }
            }
            let mut want: Vec<(String, Vec<usize>)> = groups.into_iter().collect();
            if col == "i" {
                want.sort_by_key(|(k, _)| k.parse::<i64>().unwrap());
            }
            for (value, rows) in want.into_iter().map(|(k, r)| (Some(k), r)).chain([(None, nulls)]) {
                let ds = &out[at];
                at += 1;
                let slice =
                    Slice { column: col.into(), value: value.clone().unwrap_or_default(), is_null: value.is_none() };
                assert_eq!(ds.slice.as_ref(), Some(&slice));
                assert_eq!(ds.num_examples, rows.len() as u64, "{slice:?}");
                let sub = Data {
                    i: rows.iter().map(|r| d.i[*r]).collect(),
                    f: rows.iter().map(|r| d.f[*r]).collect(),
                    s: rows.iter().map(|r| d.s[*r].clone()).collect(),
                    d: rows.iter().map(|r| d.d[*r].clone()).collect(),
                    b: rows.iter().map(|r| d.b[*r]).collect(),
                    u: rows.iter().map(|r| d.u[*r]).collect(),
                };
                check_all(ds, &sub, 20);
            }
        }
        assert_eq!(at, out.len());
        assert!(out.iter().any(|d| d.slice.as_ref().is_some_and(|s| s.column == "i" && s.value == "-50")));
    }

    #[test]
    fn slice_errors() {
        let b = batch(&data(1_000, 2));
        let t = Table::from_batch(b);
        let e = profile(&t, &ProfileOptions { slice_by: vec!["f".into()], ..opts() }).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        assert!(e.message.contains("slice by a string, int or bool column"), "{}", e.message);
        let e = profile(&t, &ProfileOptions { slice_by: vec!["nope".into()], ..opts() }).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
        let e = profile(&t, &ProfileOptions { slice_by: vec!["s".into(), "s".into()], ..opts() }).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        // `d` has 4 values, `s` many more.
        let o = ProfileOptions { slice_by: vec!["d".into(), "s".into()], max_slices: 4, ..opts() };
        let e = profile(&t, &o).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        assert!(e.message.starts_with("slice column `s` has more than 4 distinct values ("), "{}", e.message);
        let mut p = Profiler::new(ProfileOptions { slice_by: vec!["d".into()], max_slices: 4, ..opts() }).unwrap();
        p.add(&t).unwrap();
        assert_eq!(p.finish().len(), 1 + 4 + 1);
    }

    #[test]
    fn schema_mismatch_and_unsupported_types_are_errors() {
        let a = Table::from_batch(
            RecordBatch::try_from_iter(vec![("x", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef)]).unwrap(),
        );
        let b = Table::from_batch(
            RecordBatch::try_from_iter(vec![("x", Arc::new(Float64Array::from(vec![1.0])) as ArrayRef)]).unwrap(),
        );
        let c = Table::from_batch(
            RecordBatch::try_from_iter(vec![("y", Arc::new(Int64Array::from(vec![1])) as ArrayRef)]).unwrap(),
        );
        let mut p = Profiler::new(opts()).unwrap();
        p.add(&a).unwrap();
        let e = p.add(&b).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        assert_eq!(
            e.message,
            "column 1 of the table is `x` (Float64), but the tables profiled before have `x` (Int64)"
        );
        assert_eq!(p.add(&c).unwrap_err().kind, ErrorKind::InvalidArgument);
        let mut q = Profiler::new(opts()).unwrap();
        q.add(&b).unwrap();
        assert_eq!(p.merge(q).unwrap_err().kind, ErrorKind::InvalidArgument);
        p.add(&a).unwrap();
        assert_eq!(p.finish()[0].num_examples, 4);

        let list = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![Some(vec![Some(1)])]);
        let t = Table::from_batch(RecordBatch::try_from_iter(vec![("l", Arc::new(list) as ArrayRef)]).unwrap());
        let e = profile(&t, &opts()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        assert!(e.message.starts_with("cannot profile column `l` of type List"), "{}", e.message);

        for bad in [
            ProfileOptions { histogram_buckets: 0, ..opts() },
            ProfileOptions { quantiles: 0, ..opts() },
            ProfileOptions { max_slices: 0, ..opts() },
            ProfileOptions { rank_error: 0.0, ..opts() },
        ] {
            assert_eq!(Profiler::new(bad).unwrap_err().kind, ErrorKind::InvalidArgument);
        }
        assert_eq!(Profiler::new(ProfileOptions { rank_error: 1e-9, ..opts() }).unwrap_err().kind, ErrorKind::Limit);
        let empty = Profiler::new(opts()).unwrap().finish();
        assert_eq!((empty.len(), empty[0].num_examples, empty[0].features.len()), (1, 0, 0));
    }

    /// `cargo test -p mlp-kernels --release -- --ignored --nocapture timing_profile`
    #[test]
    #[ignore]
    fn timing_profile_1m_by_22() {
        let n = 1_000_000usize;
        let mut r = xorshift(99);
        let mut cols: Vec<(String, ArrayRef)> = Vec::new();
        for c in 0..13 {
            let mut r2 = xorshift(c + 1);
            let valid: Vec<bool> = (0..n).map(|_| r2() % 100 >= 5).collect();
            let a: ArrayRef = if c % 2 == 0 {
                let v: Vec<Option<f64>> = (0..n)
                    .map(|i| valid[i].then(|| (r() >> 11) as f64 / (1u64 << 53) as f64 * 100.0 * (c + 1) as f64))
                    .collect();
                Arc::new(Float64Array::from(v))
            } else {
                let v: Vec<Option<i64>> = (0..n).map(|i| valid[i].then(|| (r() % (10 << c)) as i64)).collect();
                Arc::new(Int64Array::from(v))
            };
            cols.push((format!("n{c}"), a));
        }
        for c in 0..9u64 {
            let cats: Vec<String> = (0..(5 + 20 * c)).map(|i| format!("cat_{c}_{i}")).collect();
            let v: Vec<Option<&str>> =
                (0..n).map(|_| (r() % 100 >= 5).then(|| cats[(r() % cats.len() as u64) as usize].as_str())).collect();
            cols.push((format!("s{c}"), Arc::new(StringArray::from(v))));
        }
        let b = RecordBatch::try_from_iter(cols).unwrap();
        let t = table(&b, 65_536);
        for threads in [1, 2] {
            let o = ProfileOptions { threads, ..ProfileOptions::default() };
            let mut best = f64::INFINITY;
            for _ in 0..3 {
                let start = std::time::Instant::now();
                let out = profile(&t, &o).unwrap();
                best = best.min(start.elapsed().as_secs_f64());
                assert_eq!(out[0].features.len(), 22);
            }
            println!("profile 1M x 22 (13 numeric, 9 string), {threads} thread(s): {:.1} ms", best * 1e3);
        }
        // The same, also sliced by a string column of 5 values (6 sets of statistics).
        let o = ProfileOptions { threads: 2, slice_by: vec!["s0".into()], ..ProfileOptions::default() };
        let start = std::time::Instant::now();
        let out = profile(&t, &o).unwrap();
        assert_eq!(out.len(), 7);
        println!("  sliced by a column of 5 values, 2 threads: {:.1} ms", start.elapsed().as_secs_f64() * 1e3);
    }
}
