//! The kernels: plain functions over slices, forward and backward. The tape ([`crate::tape`])
//! checks shapes and calls these; they assume the sizes they are given.
//!
//! Matrix products go to `faer` (blocked, vectorized, parallel over rayon when more than one
//! thread is allowed: [`set_threads`]); everything else is a simple loop the compiler
//! vectorizes. Losses are means over rows.

use faer::linalg::matmul::matmul as faer_matmul;
use faer::{Accum, MatMut, MatRef, Par};
use std::sync::atomic::{AtomicUsize, Ordering};

static THREADS: AtomicUsize = AtomicUsize::new(1);

/// How many threads matrix products may use (1: the calling thread only, the default).
pub fn set_threads(n: usize) {
    THREADS.store(n.max(1), Ordering::Relaxed);
}

fn par() -> Par {
    match THREADS.load(Ordering::Relaxed) {
        1 => Par::Seq,
        n => Par::rayon(n),
    }
}

/// `out = op(a) · op(b)` (or `out += ...` when `accumulate`), where `op(a)` is `m × k` (stored
/// as `k × m` when `ta`) and `op(b)` is `k × n` (stored as `n × k` when `tb`); all row-major.
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    a: &[f32],
    b: &[f32],
    out: &mut [f32],
    m: usize,
    k: usize,
    n: usize,
    ta: bool,
    tb: bool,
    accumulate: bool,
) {
    let a = if ta { MatRef::from_row_major_slice(a, k, m).transpose() } else { MatRef::from_row_major_slice(a, m, k) };
    let b = if tb { MatRef::from_row_major_slice(b, n, k).transpose() } else { MatRef::from_row_major_slice(b, k, n) };
    let c = MatMut::from_row_major_slice_mut(out, m, n);
    let accum = if accumulate { Accum::Add } else { Accum::Replace };
    faer_matmul(c, accum, a, b, 1.0f32, par());
}

/// An activation whose forward and backward kernels a GPU also runs ([`crate::device`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activation {
    /// `max(x, 0)`.
    Relu,
    /// The logistic function ([`sigmoid`]).
    Sigmoid,
    /// `tanh(x)`.
    Tanh,
}

impl Activation {
    /// Every activation.
    pub const ALL: [Activation; 3] = [Activation::Relu, Activation::Sigmoid, Activation::Tanh];

    /// The activation of one value.
    #[inline]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Relu => x.max(0.0),
            Activation::Sigmoid => sigmoid(x),
            Activation::Tanh => x.tanh(),
        }
    }

    /// Whether the backward kernel reads the forward output (sigmoid, tanh) rather than the
    /// input (relu): what [`Activation::backward`] calls `saved`.
    pub fn saves_output(self) -> bool {
        !matches!(self, Activation::Relu)
    }

    /// The gradient `g` of the output carried back through the activation, from `saved`: the
    /// input for relu, the output for sigmoid and tanh.
    #[inline]
    pub fn backward(self, g: f32, saved: f32) -> f32 {
        match self {
            Activation::Relu => {
                if saved > 0.0 {
                    g
                } else {
                    0.0
                }
            }
            Activation::Sigmoid => g * saved * (1.0 - saved),
            Activation::Tanh => g * (1.0 - saved * saved),
        }
    }
}

/// `out = act(x)`, elementwise.
pub fn activation(act: Activation, x: &[f32], out: &mut [f32]) {
    for (o, x) in out.iter_mut().zip(x) {
        *o = act.apply(*x);
    }
}

/// `out = g · act'(...)`, elementwise, from the output gradient `g` and what the activation
/// saves (see [`Activation::backward`]).
pub fn activation_backward(act: Activation, g: &[f32], saved: &[f32], out: &mut [f32]) {
    for ((o, g), s) in out.iter_mut().zip(g).zip(saved) {
        *o = act.backward(*g, *s);
    }
}

/// `out = x + b` with `b` added to every row of the row-major matrix `x` of `b.len()` columns: a
/// bias.
pub fn add_row(x: &[f32], b: &[f32], out: &mut [f32]) {
    out.copy_from_slice(x);
    for row in out.chunks_mut(b.len().max(1)) {
        for (o, bi) in row.iter_mut().zip(b) {
            *o += bi;
        }
    }
}

/// `out[j] = Σ_i g[i, j]`: the column sums of the row-major matrix `g` of `out.len()` columns
/// (the gradient of a bias added to every row).
pub fn col_sum(g: &[f32], out: &mut [f32]) {
    out.fill(0.0);
    let n = out.len().max(1);
    for row in g.chunks(n) {
        out.iter_mut().zip(row).for_each(|(d, r)| *d += r);
    }
}

/// The logistic function, stable for large `|x|`.
#[inline]
pub fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Binary cross-entropy with logits, mean over rows, optionally weighted per row:
/// `mean_i w_i (max(z_i, 0) - z_i t_i + ln(1 + e^{-|z_i|}))`, and its gradient
/// `w_i (σ(z_i) - t_i) / n` written into `grad` when given.
pub fn bce_with_logits(z: &[f32], t: &[f32], w: Option<&[f32]>, grad: Option<&mut [f32]>) -> f32 {
    let n = z.len().max(1) as f32;
    let mut loss = 0f64;
    for i in 0..z.len() {
        let wi = w.map_or(1.0, |w| w[i]);
        let zi = z[i];
        loss += f64::from(wi * (zi.max(0.0) - zi * t[i] + (-zi.abs()).exp().ln_1p()));
    }
    if let Some(g) = grad {
        for i in 0..z.len() {
            let wi = w.map_or(1.0, |w| w[i]);
            g[i] = wi * (sigmoid(z[i]) - t[i]) / n;
        }
    }
    (loss / f64::from(n)) as f32
}

/// Row-wise softmax of an `m × c` matrix into `out`.
pub fn softmax_rows(x: &[f32], out: &mut [f32], c: usize) {
    for (row, o) in x.chunks(c).zip(out.chunks_mut(c)) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for (oi, xi) in o.iter_mut().zip(row) {
            *oi = (xi - max).exp();
            sum += *oi;
        }
        for oi in o.iter_mut() {
            *oi /= sum;
        }
    }
}

/// Softmax cross-entropy of `m × c` logits against class indices, mean over rows, optionally
/// weighted per row; its gradient `w_i (softmax_i - onehot_i) / m` into `grad` when given.
pub fn softmax_cross_entropy(
    z: &[f32],
    labels: &[usize],
    c: usize,
    w: Option<&[f32]>,
    grad: Option<&mut [f32]>,
) -> f32 {
    let m = labels.len().max(1) as f32;
    let mut p = vec![0f32; z.len()];
    softmax_rows(z, &mut p, c);
    let mut loss = 0f64;
    for (i, &l) in labels.iter().enumerate() {
        let wi = w.map_or(1.0, |w| w[i]);
        // log softmax directly, for accuracy when p is tiny.
        let row = &z[i * c..(i + 1) * c];
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let lse = max + row.iter().map(|x| (x - max).exp()).sum::<f32>().ln();
        loss += f64::from(wi * (lse - row[l]));
    }
    if let Some(g) = grad {
        for (i, &l) in labels.iter().enumerate() {
            let wi = w.map_or(1.0, |w| w[i]);
            for j in 0..c {
                let onehot = if j == l { 1.0 } else { 0.0 };
                g[i * c + j] = wi * (p[i * c + j] - onehot) / m;
            }
        }
    }
    (loss / f64::from(m)) as f32
}

/// Mean squared error, and its gradient `2 (p - t) / n` into `grad` when given.
pub fn mse(p: &[f32], t: &[f32], grad: Option<&mut [f32]>) -> f32 {
    let n = p.len().max(1) as f32;
    let loss: f64 = p.iter().zip(t).map(|(a, b)| f64::from((a - b) * (a - b))).sum();
    if let Some(g) = grad {
        for i in 0..p.len() {
            g[i] = 2.0 * (p[i] - t[i]) / n;
        }
    }
    (loss / f64::from(n)) as f32
}

/// Huber loss with threshold `delta`, mean over rows: `r²/2` for `|r| <= delta`, else
/// `delta (|r| - delta/2)`, with `r = p - t`; its gradient `clip(r, -delta, delta) / n` into
/// `grad` when given.
pub fn huber(p: &[f32], t: &[f32], delta: f32, grad: Option<&mut [f32]>) -> f32 {
    let n = p.len().max(1) as f32;
    let mut loss = 0f64;
    for (a, b) in p.iter().zip(t) {
        let r = a - b;
        loss += f64::from(if r.abs() <= delta { 0.5 * r * r } else { delta * (r.abs() - 0.5 * delta) });
    }
    if let Some(g) = grad {
        for i in 0..p.len() {
            g[i] = (p[i] - t[i]).clamp(-delta, delta) / n;
        }
    }
    (loss / f64::from(n)) as f32
}
