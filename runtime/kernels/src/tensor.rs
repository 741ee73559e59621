//! Dense f32 tensors from host data (WIT `tensor.from-f32` and `tensor.from-columns`).

use crate::data::{Table, Tensor};
use crate::error::{KernelError, Result};
use crate::numeric::{NumVisitor, ToF64, is_numeric_type, not_numeric, visit_numeric};
use crate::schema::{chunks, column_index};
use arrow_buffer::NullBuffer;

/// A tensor of `shape` from `values` in row-major order. The product of `shape` must equal
/// the number of values (an empty shape is a scalar: one value); otherwise, or when the
/// product overflows, `InvalidArgument`.
pub fn tensor_from_f32(shape: Vec<usize>, values: Vec<f32>) -> Result<Tensor> {
    let total = shape
        .iter()
        .try_fold(1usize, |acc, d| acc.checked_mul(*d))
        .ok_or_else(|| KernelError::invalid(format!("shape {shape:?} has too many elements")))?;
    if total != values.len() {
        return Err(KernelError::invalid(format!(
            "shape {shape:?} holds {total} values, but {} were given",
            values.len()
        )));
    }
    Ok(Tensor { shape, values: values.into() })
}

/// A 2-d tensor `[rows, columns.len()]`, row-major, from numeric (or boolean, as 0/1)
/// columns. A null is a `Data` error naming the column and the row; a column that is not
/// numeric is `InvalidArgument`; an unknown one `NotFound`; no columns `InvalidArgument`.
/// NaN values are kept.
pub fn tensor_from_columns(table: &Table, columns: &[impl AsRef<str>]) -> Result<Tensor> {
    if columns.is_empty() {
        return Err(KernelError::invalid("a tensor needs at least one column"));
    }
    let rows = table.num_rows();
    let width = columns.len();
    let len = rows.checked_mul(width).ok_or_else(|| KernelError::limit("the tensor would be too large"))?;
    let mut values = vec![0f32; len];
    for (j, c) in columns.iter().enumerate() {
        let c = c.as_ref();
        let idx = column_index(table, c)?;
        let dt = table.schema().field(idx).data_type();
        if !is_numeric_type(dt) {
            return Err(not_numeric(c, dt));
        }
        let mut w = Writer { out: &mut values, width, col: j, row: 0, null_at: None };
        for a in chunks(table, idx) {
            visit_numeric(a.as_ref(), c, &mut w)?;
            if let Some(r) = w.null_at {
                return Err(
                    KernelError::data(format!("column `{c}` has a null at row {r}")).with_detail(format!("row {r}"))
                );
            }
        }
    }
    Ok(Tensor { shape: vec![rows, width], values: values.into() })
}

/// Writes one column into its stride of the output.
struct Writer<'a> {
    out: &'a mut [f32],
    width: usize,
    col: usize,
    /// Table row of the next value.
    row: usize,
    null_at: Option<usize>,
}

impl NumVisitor for Writer<'_> {
    fn visit<T: ToF64>(&mut self, values: &[T], nulls: Option<&NullBuffer>) {
        if let Some(n) = nulls.filter(|n| n.null_count() > 0) {
            self.null_at = n.iter().position(|v| !v).map(|i| self.row + i);
            return;
        }
        let base = self.row * self.width + self.col;
        for (slot, x) in self.out[base..].iter_mut().step_by(self.width).zip(values) {
            *slot = x.to_f64() as f32;
        }
        self.row += values.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int32Array, RecordBatch, StringArray};
    use std::sync::Arc;

    fn two_batches() -> Table {
        let b = |a: Vec<i32>, f: Vec<Option<f64>>, s: Vec<bool>| {
            RecordBatch::try_from_iter_with_nullable(vec![
                ("a", Arc::new(Int32Array::from(a)) as ArrayRef, true),
                ("f", Arc::new(Float64Array::from(f)) as ArrayRef, true),
                ("b", Arc::new(BooleanArray::from(s)) as ArrayRef, true),
                ("s", Arc::new(StringArray::from(vec!["x"; 2])) as ArrayRef, true),
            ])
            .unwrap()
        };
        let b1 = b(vec![1, 2], vec![Some(0.5), Some(1.5)], vec![true, false]);
        let b2 = b(vec![3, 4], vec![Some(2.5), None], vec![false, true]);
        Table::new(b1.schema(), vec![b1, b2]).unwrap()
    }

    #[test]
    fn row_major_from_columns() {
        let t = crate::ops::slice(&two_batches(), 0, 3);
        let x = tensor_from_columns(&t, &["a", "f", "b"]).unwrap();
        assert_eq!(x.shape, vec![3, 3]);
        assert_eq!(&*x.values, &[1.0, 0.5, 1.0, 2.0, 1.5, 0.0, 3.0, 2.5, 0.0]);
    }

    #[test]
    fn nulls_and_bad_columns() {
        let t = two_batches();
        let e = tensor_from_columns(&t, &["a", "f"]).unwrap_err();
        assert_eq!((e.kind, e.message.as_str()), (ErrorKind::Data, "column `f` has a null at row 3"));
        assert_eq!(tensor_from_columns(&t, &["s"]).unwrap_err().kind, ErrorKind::InvalidArgument);
        assert_eq!(tensor_from_columns(&t, &["q"]).unwrap_err().kind, ErrorKind::NotFound);
        assert_eq!(tensor_from_columns(&t, &[] as &[&str]).unwrap_err().kind, ErrorKind::InvalidArgument);
    }

    #[test]
    fn from_f32_checks_the_shape() {
        let x = tensor_from_f32(vec![2, 3], vec![0.0; 6]).unwrap();
        assert_eq!(x.shape, vec![2, 3]);
        assert_eq!(tensor_from_f32(vec![], vec![7.0]).unwrap().shape, Vec::<usize>::new());
        let e = tensor_from_f32(vec![2, 3], vec![0.0; 5]).unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (ErrorKind::InvalidArgument, "shape [2, 3] holds 6 values, but 5 were given")
        );
        assert_eq!(tensor_from_f32(vec![usize::MAX, 2], vec![]).unwrap_err().kind, ErrorKind::InvalidArgument);
    }
}
