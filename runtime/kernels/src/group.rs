//! Splitting a table by the distinct values of key columns (WIT `table.group-by`).
//!
//! Rows are stably sorted by the keys (arrow-ord's comparators, ascending, nulls last) and cut
//! where the key tuple changes, so groups come out ordered by their key values, the same way
//! on every run, and rows keep their original order within a group.

use crate::data::Table;
use crate::error::{ErrorKind, KernelError, Result};
use crate::ops::{one_batch, sorted_indices};
use crate::schema::column_index;
use arrow_array::UInt32Array;
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_ord::sort::{LexicographicalComparator, SortColumn};
use arrow_schema::SortOptions;

/// One table per distinct tuple of `keys` values, with that tuple rendered as text (as
/// [`crate::read_utf8`] renders values; a null key as `"null"`). Groups are ordered by key
/// values ascending, first key first, with the null group of each key last; within a group the
/// rows keep their order. An empty table gives no groups. No keys is `InvalidArgument`; an
/// unknown column is `NotFound`; a key column whose type arrow-ord cannot order is
/// `InvalidArgument`. NaN keys form one group, after every number.
pub fn group_by(table: &Table, keys: &[impl AsRef<str>]) -> Result<Vec<(Vec<String>, Table)>> {
    if keys.is_empty() {
        return Err(KernelError::invalid("group-by needs at least one key column"));
    }
    let idx = keys.iter().map(|k| column_index(table, k.as_ref())).collect::<Result<Vec<_>>>()?;
    let batch = one_batch(table)?;
    let n = batch.num_rows();
    let cols: Vec<SortColumn> = idx
        .iter()
        .map(|i| SortColumn {
            values: batch.column(*i).clone(),
            options: Some(SortOptions { descending: false, nulls_first: false }),
        })
        .collect();
    let order = sorted_indices(&cols, n, |i| keys[i].as_ref())?;
    let order = order.values();
    let cmp =
        LexicographicalComparator::try_new(&cols).map_err(|e| KernelError::arrow(ErrorKind::Other, "group-by", e))?;
    let formatters = cols
        .iter()
        .map(|c| {
            ArrayFormatter::try_new(c.values.as_ref(), &FormatOptions::default().with_null("null"))
                .map_err(|e| KernelError::arrow(ErrorKind::InvalidArgument, "cannot render a key column as text", e))
        })
        .collect::<Result<Vec<_>>>()?;

    let mut groups = Vec::new();
    let mut start = 0;
    while start < n {
        let first = order[start] as usize;
        let mut end = start + 1;
        while end < n && cmp.compare(first, order[end] as usize).is_eq() {
            end += 1;
        }
        let key: Vec<String> = formatters.iter().map(|f| f.value(first).to_string()).collect();
        let rows = UInt32Array::from(order[start..end].to_vec());
        let part = arrow_select::take::take_record_batch(&batch, &rows)
            .map_err(|e| KernelError::arrow(ErrorKind::Other, "group-by", e))?;
        let part = Table::new(table.schema().clone(), vec![part]).map_err(|m| KernelError::new(ErrorKind::Other, m))?;
        groups.push((key, part));
        start = end;
    }
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::read_utf8;
    use arrow_array::types::Int32Type;
    use arrow_array::{ArrayRef, DictionaryArray, Float64Array, Int64Array, RecordBatch, StringArray};
    use std::sync::Arc;

    fn col(t: &Table, c: &str) -> Vec<Option<String>> {
        read_utf8(t, c, 0, u64::MAX).unwrap()
    }

    #[test]
    fn groups_by_two_keys_in_key_order_across_batches() {
        let b1 = RecordBatch::try_from_iter_with_nullable(vec![
            ("city", Arc::new(StringArray::from(vec![Some("b"), Some("a"), None, Some("b")])) as ArrayRef, true),
            ("year", Arc::new(Int64Array::from(vec![Some(2), Some(1), Some(1), None])) as ArrayRef, true),
            ("row", Arc::new(Int64Array::from(vec![0, 1, 2, 3])) as ArrayRef, true),
        ])
        .unwrap();
        let b2 = RecordBatch::try_from_iter_with_nullable(vec![
            ("city", Arc::new(StringArray::from(vec![Some("a"), Some("b"), None])) as ArrayRef, true),
            ("year", Arc::new(Int64Array::from(vec![Some(1), Some(2), Some(1)])) as ArrayRef, true),
            ("row", Arc::new(Int64Array::from(vec![4, 5, 6])) as ArrayRef, true),
        ])
        .unwrap();
        let t = Table::new(b1.schema(), vec![b1, b2]).unwrap();
        let groups = group_by(&t, &["city", "year"]).unwrap();
        let got: Vec<(Vec<String>, Vec<Option<String>>)> =
            groups.iter().map(|(k, g)| (k.clone(), col(g, "row"))).collect();
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let rows = |v: &[i32]| v.iter().map(|x| Some(x.to_string())).collect::<Vec<_>>();
        assert_eq!(
            got,
            vec![
                (s(&["a", "1"]), rows(&[1, 4])),
                (s(&["b", "2"]), rows(&[0, 5])),
                (s(&["b", "null"]), rows(&[3])),
                (s(&["null", "1"]), rows(&[2, 6])),
            ]
        );
        assert!(groups.iter().all(|(_, g)| g.schema() == t.schema()));
    }

    #[test]
    fn floats_dictionaries_and_empty_tables() {
        let t = Table::from_batch(
            RecordBatch::try_from_iter(vec![(
                "x",
                Arc::new(Float64Array::from(vec![2.5, f64::NAN, -1.0, 2.5])) as ArrayRef,
            )])
            .unwrap(),
        );
        let keys: Vec<Vec<String>> = group_by(&t, &["x"]).unwrap().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, vec![vec!["-1.0"], vec!["2.5"], vec!["NaN"]]);

        let d: DictionaryArray<Int32Type> = vec![Some("z"), Some("y"), Some("z")].into_iter().collect();
        let t = Table::from_batch(RecordBatch::try_from_iter(vec![("d", Arc::new(d) as ArrayRef)]).unwrap());
        let groups = group_by(&t, &["d"]).unwrap();
        assert_eq!(
            groups.iter().map(|(k, g)| (k[0].clone(), g.num_rows())).collect::<Vec<_>>(),
            vec![("y".to_string(), 1), ("z".to_string(), 2)]
        );

        let empty = crate::ops::slice(&t, 0, 0);
        assert!(group_by(&empty, &["d"]).unwrap().is_empty());
    }

    #[test]
    fn bad_keys() {
        let t = Table::from_batch(
            RecordBatch::try_from_iter(vec![("x", Arc::new(Int64Array::from(vec![1])) as ArrayRef)]).unwrap(),
        );
        assert_eq!(group_by(&t, &[] as &[&str]).unwrap_err().kind, ErrorKind::InvalidArgument);
        let e = group_by(&t, &["y"]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
    }
}
