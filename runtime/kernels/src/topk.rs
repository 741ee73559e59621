//! The most frequent values of a column (WIT `table.top-k`), counted exactly.
//!
//! Values are counted in a hash map per distinct value: strings by slice (no copies),
//! numbers by their 64-bit key, booleans in two counters. Dictionary columns are counted per
//! key index over the key buffer and only then mapped to their strings, which is about ten
//! times cheaper than decoding every row. Other types are counted by their display text.

use crate::data::Table;
use crate::dict::{key_counts, string_values};
use crate::error::{KernelError, Result};
use crate::hash::FastMap;
use crate::numeric::{NumVisitor, ToF64, for_each_valid_run, visit_numeric};
use crate::schema::{chunks, column_index, is_integer_type};
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, Float32Array, Float64Array};
use arrow_buffer::NullBuffer;
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::DataType;
use std::cmp::Ordering;
use std::sync::Arc;

/// The `k` most frequent non-null values of column `column` with their counts: by count,
/// largest first, then by value ascending (numbers by number, strings by bytes). Values are
/// rendered as text the way [`crate::read_utf8`] renders them. `k = 0` gives an empty list.
pub fn top_k(table: &Table, column: &str, k: usize) -> Result<Vec<(String, u64)>> {
    let idx = column_index(table, column)?;
    let dt = table.schema().field(idx).data_type().clone();
    let mut out: Vec<(String, u64)> = match &dt {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let mut map: FastMap<&str, u64> = FastMap::default();
            for a in chunks(table, idx) {
                count_strings(a, &mut map);
            }
            top_of(map.into_iter().collect(), k, |a, b| a.cmp(b)).into_iter().map(|(s, c)| (s.to_string(), c)).collect()
        }
        DataType::Dictionary(_, v)
            if matches!(v.as_ref(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) =>
        {
            let mut map: FastMap<&str, u64> = FastMap::default();
            for a in chunks(table, idx) {
                let (counts, _, _) = key_counts(a.as_ref()).ok_or_else(|| unsupported(column, &dt))?;
                let strs =
                    string_values(a.as_any_dictionary().values().as_ref()).ok_or_else(|| unsupported(column, &dt))?;
                for (c, s) in counts.into_iter().zip(strs) {
                    if let (true, Some(s)) = (c > 0, s) {
                        *map.entry(s).or_default() += c;
                    }
                }
            }
            top_of(map.into_iter().collect(), k, |a, b| a.cmp(b)).into_iter().map(|(s, c)| (s.to_string(), c)).collect()
        }
        DataType::Boolean => {
            let (mut f, mut t) = (0u64, 0u64);
            for a in chunks(table, idx) {
                let b = a.as_boolean();
                let trues = b.true_count() as u64;
                t += trues;
                f += (b.len() - b.null_count()) as u64 - trues;
            }
            let v = vec![(false, f), (true, t)].into_iter().filter(|(_, c)| *c > 0).collect();
            top_of(v, k, |a, b| a.cmp(b)).into_iter().map(|(b, c)| (b.to_string(), c)).collect()
        }
        t if is_integer_type(t) || matches!(t, DataType::Float32 | DataType::Float64) => {
            let mut c = KeyCounter { map: FastMap::default(), kind: KeyKind::Signed };
            for a in chunks(table, idx) {
                visit_numeric(a.as_ref(), column, &mut c)?;
            }
            let kind = c.kind;
            let top = top_of(c.map.into_iter().collect(), k, |a, b| kind.cmp(*a, *b));
            render_keys(top, kind, &dt)?
        }
        _ => {
            let mut map: FastMap<String, u64> = FastMap::default();
            for a in chunks(table, idx) {
                let f = ArrayFormatter::try_new(a.as_ref(), &FormatOptions::default())
                    .map_err(|_| unsupported(column, &dt))?;
                for i in 0..a.len() {
                    if a.is_valid(i) {
                        *map.entry(f.value(i).to_string()).or_default() += 1;
                    }
                }
            }
            top_of(map.into_iter().collect(), k, |a, b| a.cmp(b))
        }
    };
    out.truncate(k);
    Ok(out)
}

fn unsupported(column: &str, dt: &DataType) -> KernelError {
    KernelError::invalid(format!("column `{column}` has type {dt}, whose values cannot be counted"))
}

fn count_strings<'a>(a: &'a ArrayRef, map: &mut FastMap<&'a str, u64>) {
    let mut add = |s: &'a str| *map.entry(s).or_default() += 1;
    match a.data_type() {
        DataType::Utf8 => a.as_string::<i32>().iter().flatten().for_each(&mut add),
        DataType::LargeUtf8 => a.as_string::<i64>().iter().flatten().for_each(&mut add),
        _ => a.as_string_view().iter().flatten().for_each(&mut add),
    }
}

/// The `k` entries with the largest counts, ties by `cmp` ascending, in that order.
fn top_of<T>(mut v: Vec<(T, u64)>, k: usize, cmp: impl Fn(&T, &T) -> Ordering) -> Vec<(T, u64)> {
    let order = |a: &(T, u64), b: &(T, u64)| b.1.cmp(&a.1).then_with(|| cmp(&a.0, &b.0));
    if k < v.len() {
        v.select_nth_unstable_by(k, order);
        v.truncate(k);
    }
    v.sort_unstable_by(order);
    v
}

/// How to read a numeric key back.
#[derive(Clone, Copy, Debug)]
enum KeyKind {
    Signed,
    Unsigned,
    Float,
}

impl KeyKind {
    fn cmp(self, a: u64, b: u64) -> Ordering {
        match self {
            KeyKind::Signed => (a as i64).cmp(&(b as i64)),
            KeyKind::Unsigned => a.cmp(&b),
            KeyKind::Float => f64::from_bits(a).total_cmp(&f64::from_bits(b)),
        }
    }
}

struct KeyCounter {
    map: FastMap<u64, u64>,
    kind: KeyKind,
}

impl NumVisitor for KeyCounter {
    fn visit<T: ToF64>(&mut self, values: &[T], nulls: Option<&NullBuffer>) {
        self.kind = if T::FLOAT {
            KeyKind::Float
        } else if T::UNSIGNED {
            KeyKind::Unsigned
        } else {
            KeyKind::Signed
        };
        for_each_valid_run(values.len(), nulls, |s, e| {
            for x in &values[s..e] {
                *self.map.entry(x.key()).or_default() += 1;
            }
        });
    }
}

/// Numeric keys as text, as Arrow displays the column's type.
fn render_keys(top: Vec<(u64, u64)>, kind: KeyKind, dt: &DataType) -> Result<Vec<(String, u64)>> {
    Ok(match kind {
        KeyKind::Signed => top.into_iter().map(|(v, c)| ((v as i64).to_string(), c)).collect(),
        KeyKind::Unsigned => top.into_iter().map(|(v, c)| (v.to_string(), c)).collect(),
        KeyKind::Float => {
            let vals = top.iter().map(|(v, _)| f64::from_bits(*v));
            let arr: ArrayRef = if *dt == DataType::Float32 {
                Arc::new(Float32Array::from(vals.map(|v| v as f32).collect::<Vec<_>>()))
            } else {
                Arc::new(Float64Array::from(vals.collect::<Vec<_>>()))
            };
            let f = ArrayFormatter::try_new(arr.as_ref(), &FormatOptions::default())
                .map_err(|e| KernelError::arrow(crate::ErrorKind::Other, "top-k", e))?;
            top.iter().enumerate().map(|(i, (_, c))| (f.value(i).to_string(), *c)).collect()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use arrow_array::types::Int8Type;
    use arrow_array::{BooleanArray, Date32Array, DictionaryArray, Int32Array, RecordBatch, StringArray, UInt64Array};

    fn table(a: ArrayRef) -> Table {
        Table::from_batch(RecordBatch::try_from_iter(vec![("x", a)]).unwrap())
    }

    fn pairs(v: &[(&str, u64)]) -> Vec<(String, u64)> {
        v.iter().map(|(s, c)| (s.to_string(), *c)).collect()
    }

    #[test]
    fn strings_by_count_then_value() {
        let t = table(Arc::new(StringArray::from(vec![
            Some("b"),
            Some("a"),
            None,
            Some("c"),
            Some("b"),
            Some("a"),
            None,
            Some("d"),
        ])));
        assert_eq!(top_k(&t, "x", 3).unwrap(), pairs(&[("a", 2), ("b", 2), ("c", 1)]));
        assert_eq!(top_k(&t, "x", 10).unwrap(), pairs(&[("a", 2), ("b", 2), ("c", 1), ("d", 1)]));
        assert_eq!(top_k(&t, "x", 0).unwrap(), vec![]);
    }

    #[test]
    fn dictionaries_count_keys_across_batches() {
        // Two batches with different dictionaries (and a repeated entry in one).
        let d1: DictionaryArray<Int8Type> = vec![Some("x"), Some("y"), Some("x"), None].into_iter().collect();
        let keys = arrow_array::Int8Array::from(vec![0, 1, 2, 2]);
        let values = Arc::new(StringArray::from(vec!["y", "z", "y"]));
        let d2 = DictionaryArray::<Int8Type>::try_new(keys, values).unwrap();
        let b1 = RecordBatch::try_from_iter_with_nullable(vec![("x", Arc::new(d1) as ArrayRef, true)]).unwrap();
        let b2 = RecordBatch::try_from_iter_with_nullable(vec![("x", Arc::new(d2) as ArrayRef, true)]).unwrap();
        let t = Table::new(b1.schema(), vec![b1, b2]).unwrap();
        assert_eq!(top_k(&t, "x", 5).unwrap(), pairs(&[("y", 4), ("x", 2), ("z", 1)]));
    }

    #[test]
    fn numbers_order_ties_by_value() {
        let t = table(Arc::new(Int32Array::from(vec![10, 9, -1, 10, 9, -1, 100])));
        assert_eq!(top_k(&t, "x", 3).unwrap(), pairs(&[("-1", 2), ("9", 2), ("10", 2)]));
        let t = table(Arc::new(Float64Array::from(vec![1.5, -0.0, 0.0, f64::NAN, 1.5])));
        assert_eq!(top_k(&t, "x", 5).unwrap(), pairs(&[("0.0", 2), ("1.5", 2), ("NaN", 1)]));
        let t = table(Arc::new(UInt64Array::from(vec![u64::MAX, 1, u64::MAX])));
        assert_eq!(top_k(&t, "x", 1).unwrap(), pairs(&[(&u64::MAX.to_string(), 2)]));
        let t = table(Arc::new(BooleanArray::from(vec![Some(true), None, Some(false), Some(true)])));
        assert_eq!(top_k(&t, "x", 2).unwrap(), pairs(&[("true", 2), ("false", 1)]));
        let t = table(Arc::new(Date32Array::from(vec![0, 0, 1])));
        assert_eq!(top_k(&t, "x", 2).unwrap(), pairs(&[("1970-01-01", 2), ("1970-01-02", 1)]));
    }

    #[test]
    fn unknown_column() {
        let t = table(Arc::new(Int32Array::from(vec![1])));
        assert_eq!(top_k(&t, "y", 1).unwrap_err().kind, ErrorKind::NotFound);
    }
}
