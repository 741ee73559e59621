//! The tensor: a shape and `f32` values in row-major order. Values are shared (`Arc`), so
//! recording a tensor on a tape or handing it to a guest does not copy it.

use crate::error::{Result, shape};
use std::sync::Arc;

/// A dense tensor of `f32` values in row-major order.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    shape: Vec<usize>,
    data: Arc<Vec<f32>>,
}

impl Tensor {
    /// A tensor of `shape` holding `data` (whose length must be the product of the shape).
    pub fn new(shape: &[usize], data: Vec<f32>) -> Result<Tensor> {
        let n: usize = shape.iter().product();
        if n != data.len() {
            return Err(crate::error::shape(
                "tensor",
                format!("shape {shape:?} holds {n} values, {} given", data.len()),
            ));
        }
        Ok(Tensor { shape: shape.to_vec(), data: Arc::new(data) })
    }

    /// A tensor of zeros.
    pub fn zeros(shape: &[usize]) -> Tensor {
        Tensor { shape: shape.to_vec(), data: Arc::new(vec![0.0; shape.iter().product()]) }
    }

    /// A tensor with every value `x`.
    pub fn full(shape: &[usize], x: f32) -> Tensor {
        Tensor { shape: shape.to_vec(), data: Arc::new(vec![x; shape.iter().product()]) }
    }

    /// A scalar (a tensor of shape `[]`).
    pub fn scalar(x: f32) -> Tensor {
        Tensor { shape: Vec::new(), data: Arc::new(vec![x]) }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The values, row-major.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The values for writing (copied first if they are shared).
    pub fn data_mut(&mut self) -> &mut [f32] {
        Arc::make_mut(&mut self.data).as_mut_slice()
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the tensor holds no values.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The single value of a one-value tensor.
    pub fn item(&self) -> Result<f32> {
        match self.data.as_slice() {
            [x] => Ok(*x),
            _ => Err(shape("item", format!("the tensor has shape {:?}, not a single value", self.shape))),
        }
    }

    /// `(rows, cols)` of a 2-d tensor; a 1-d tensor of `n` is one column of `n` rows.
    pub fn matrix(&self, op: &'static str) -> Result<(usize, usize)> {
        match self.shape.as_slice() {
            [r, c] => Ok((*r, *c)),
            [n] => Ok((*n, 1)),
            s => Err(shape(op, format!("needs a matrix, found shape {s:?}"))),
        }
    }

    /// The same values with another shape of the same size.
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        let n: usize = shape.iter().product();
        if n != self.len() {
            return Err(crate::error::shape(
                "reshape",
                format!("cannot view {} values of shape {:?} as {shape:?}", self.len(), self.shape),
            ));
        }
        Ok(Tensor { shape: shape.to_vec(), data: self.data.clone() })
    }

    /// Rows `start..start + len` of a 2-d (or 1-d) tensor, copied.
    pub fn rows(&self, start: usize, len: usize) -> Result<Tensor> {
        let (r, c) = self.matrix("rows")?;
        if start + len > r {
            return Err(shape("rows", format!("rows {start}..{} of a tensor with {r} rows", start + len)));
        }
        let mut s = self.shape.clone();
        s[0] = len;
        Tensor::new(&s, self.data[start * c..(start + len) * c].to_vec())
    }

    /// The rows `idx` of a 2-d (or 1-d) tensor, in that order (a minibatch).
    pub fn gather_rows(&self, idx: &[usize]) -> Result<Tensor> {
        let (r, c) = self.matrix("gather_rows")?;
        let mut out = Vec::with_capacity(idx.len() * c);
        for &i in idx {
            if i >= r {
                return Err(shape("gather_rows", format!("row {i} of a tensor with {r} rows")));
            }
            out.extend_from_slice(&self.data[i * c..(i + 1) * c]);
        }
        let mut s = self.shape.clone();
        s[0] = idx.len();
        Tensor::new(&s, out)
    }
}
