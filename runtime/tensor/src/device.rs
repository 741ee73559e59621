//! Where a tape's heavy kernels run: [`Device::Cpu`] (always there) or, with the `cuda` feature,
//! `Device::Cuda`, a GPU opened through `cuda::Gpu`. A [`crate::Tape`] holds one
//! (`Tape::with_device`, `Tape::set_device`) and calls the dispatchers here for matrix
//! products (forward and backward), relu, sigmoid and tanh (forward and backward), and the bias
//! broadcast with its column-sum gradient; every other operation runs on the CPU.
//!
//! Tensors stay in host memory whichever device is chosen: on a GPU an operation copies its
//! operands over, runs and copies its result back, so only operations above the GPU's
//! `cuda::Thresholds` are sent there and the smaller ones run here, where the copies
//! would cost more than the arithmetic. Results agree with the CPU kernels up to float
//! rounding (summation order, `exp` and `tanh` implementations).

use crate::error::Result;
use crate::kernels::{self, Activation};

/// The device a tape computes on.
#[derive(Clone, Debug, Default)]
pub enum Device {
    /// The CPU kernels of [`crate::kernels`].
    #[default]
    Cpu,
    /// A CUDA GPU, for the operations above its thresholds (feature `cuda`).
    #[cfg(feature = "cuda")]
    Cuda(std::sync::Arc<crate::cuda::Gpu>),
}

impl Device {
    /// One line naming the backend, for logs: `cpu`, or `cuda:0 (NVIDIA H100 ..., compute 9.0,
    /// 80 GiB)`.
    pub fn describe(&self) -> String {
        match self {
            Device::Cpu => "cpu".to_string(),
            #[cfg(feature = "cuda")]
            Device::Cuda(gpu) => gpu.describe(),
        }
    }

    /// Whether this is a GPU.
    pub fn is_gpu(&self) -> bool {
        !matches!(self, Device::Cpu)
    }

    /// The GPU to run an operation of `work` on, if this is one and `work` is over its
    /// threshold.
    #[cfg(feature = "cuda")]
    fn gpu(&self, work: Work) -> Option<&crate::cuda::Gpu> {
        match self {
            Device::Cpu => None,
            Device::Cuda(gpu) => gpu.offloads(work).then_some(&**gpu),
        }
    }

    /// `out = op(a) · op(b)` as [`kernels::matmul`] (same arguments and layout).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn matmul(
        &self,
        a: &[f32],
        b: &[f32],
        out: &mut [f32],
        m: usize,
        k: usize,
        n: usize,
        ta: bool,
        tb: bool,
        accumulate: bool,
    ) -> Result<()> {
        #[cfg(feature = "cuda")]
        if let Some(gpu) = self.gpu(Work::MatMul { m, k, n }) {
            return gpu.matmul(a, b, out, m, k, n, ta, tb, accumulate);
        }
        kernels::matmul(a, b, out, m, k, n, ta, tb, accumulate);
        Ok(())
    }

    /// `act(x)`, elementwise.
    pub(crate) fn activation(&self, act: Activation, x: &[f32]) -> Result<Vec<f32>> {
        let mut out = vec![0f32; x.len()];
        #[cfg(feature = "cuda")]
        if let Some(gpu) = self.gpu(Work::Elementwise(x.len())) {
            gpu.activation(act, x, &mut out)?;
            return Ok(out);
        }
        kernels::activation(act, x, &mut out);
        Ok(out)
    }

    /// The gradient through `act` (see [`kernels::activation_backward`]).
    pub(crate) fn activation_backward(&self, act: Activation, g: &[f32], saved: &[f32]) -> Result<Vec<f32>> {
        let mut out = vec![0f32; g.len()];
        #[cfg(feature = "cuda")]
        if let Some(gpu) = self.gpu(Work::Elementwise(g.len())) {
            gpu.activation_backward(act, g, saved, &mut out)?;
            return Ok(out);
        }
        kernels::activation_backward(act, g, saved, &mut out);
        Ok(out)
    }

    /// `x + b` with `b` added to every row (see [`kernels::add_row`]).
    pub(crate) fn add_row(&self, x: &[f32], b: &[f32]) -> Result<Vec<f32>> {
        let mut out = vec![0f32; x.len()];
        #[cfg(feature = "cuda")]
        if let Some(gpu) = self.gpu(Work::Elementwise(x.len())) {
            gpu.add_row(x, b, &mut out)?;
            return Ok(out);
        }
        kernels::add_row(x, b, &mut out);
        Ok(out)
    }

    /// The `n` column sums of `g` (see [`kernels::col_sum`]).
    pub(crate) fn col_sum(&self, g: &[f32], n: usize) -> Result<Vec<f32>> {
        let mut out = vec![0f32; n];
        #[cfg(feature = "cuda")]
        if let Some(gpu) = self.gpu(Work::Elementwise(g.len())) {
            gpu.col_sum(g, &mut out)?;
            return Ok(out);
        }
        kernels::col_sum(g, &mut out);
        Ok(out)
    }
}

/// The size of an operation, which decides whether it is worth sending to a GPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// A matrix product of an `m × k` and a `k × n` matrix (`m · k · n` multiply-adds).
    MatMul {
        /// Rows of the result.
        m: usize,
        /// The inner size.
        k: usize,
        /// Columns of the result.
        n: usize,
    },
    /// An elementwise kernel (or a column sum) over this many values.
    Elementwise(usize),
}
