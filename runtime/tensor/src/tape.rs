//! Reverse-mode differentiation: a [`Tape`] records the operations of one forward pass (each
//! result computed as it is recorded), and [`Tape::backward`] walks them in reverse, running
//! each operation's fused backward kernel and adding the gradients of trainable parameters
//! into their [`Params`].
//!
//! A training step is: a new tape; [`Tape::param`] and [`Tape::input`] for the leaves; the
//! model's operations; a loss; `backward`; an optimizer step ([`crate::optim`]). Tapes are
//! cheap: values are shared with the parameters, not copied.
//!
//! A tape computes on a [`Device`]: the CPU by default, or a GPU ([`Tape::with_device`]) for the
//! large matrix products, activations and bias additions, forward and backward
//! ([`crate::device`]). Values stay in host memory either way.

use crate::device::Device;
use crate::error::{Result, TensorError, invalid, shape};
use crate::init::{Init, Rng};
use crate::kernels::{self, Activation};
use crate::tensor::Tensor;

/// A value recorded on a tape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Var(u32);

impl Var {
    /// The index of the value on its tape.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// The value at `index` of a tape (checked when used).
    pub fn from_index(index: u32) -> Var {
        Var(index)
    }
}

/// A trainable parameter of a [`Params`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ParamId(u32);

impl ParamId {
    /// The index of the parameter.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// The parameter at `index` of a set (checked when used).
    pub fn from_index(index: u32) -> ParamId {
        ParamId(index)
    }
}

/// Trainable parameters: named tensors with their accumulated gradients, and the seeded
/// generator their initial values come from.
#[derive(Clone, Debug)]
pub struct Params {
    names: Vec<String>,
    values: Vec<Tensor>,
    grads: Vec<Tensor>,
    rng: Rng,
}

impl Params {
    /// An empty set whose initializers draw from `seed`.
    pub fn new(seed: u64) -> Params {
        Params { names: Vec::new(), values: Vec::new(), grads: Vec::new(), rng: Rng::new(seed) }
    }

    /// A set holding `tensors` (a trained model's weights, from [`crate::weights`]).
    pub fn from_tensors(tensors: Vec<(String, Tensor)>) -> Result<Params> {
        let mut p = Params::new(0);
        for (name, t) in tensors {
            let id = p.add(&name, t.shape(), Init::Zeros)?;
            p.set(id, t)?;
        }
        Ok(p)
    }

    /// Adds a parameter of `shape`, initialized by `init`. Names must be unique.
    pub fn add(&mut self, name: &str, shape: &[usize], init: Init) -> Result<ParamId> {
        if self.names.iter().any(|n| n == name) {
            return Err(invalid("param", format!("a parameter named `{name}` exists already")));
        }
        let t = init.tensor(shape, &mut self.rng);
        self.names.push(name.to_string());
        self.grads.push(Tensor::zeros(shape));
        self.values.push(t);
        Ok(ParamId((self.values.len() - 1) as u32))
    }

    fn check(&self, id: ParamId) -> Result<usize> {
        let i = id.index();
        if i < self.values.len() {
            Ok(i)
        } else {
            Err(TensorError::Handle(format!("parameter #{i} does not exist (there are {})", self.values.len())))
        }
    }

    /// The number of parameters.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The parameter named `name`.
    pub fn find(&self, name: &str) -> Option<ParamId> {
        self.names.iter().position(|n| n == name).map(|i| ParamId(i as u32))
    }

    /// Every parameter, in the order added.
    pub fn ids(&self) -> impl Iterator<Item = ParamId> + use<> {
        (0..self.values.len() as u32).map(ParamId)
    }

    /// A parameter's name.
    pub fn name(&self, id: ParamId) -> Result<&str> {
        Ok(&self.names[self.check(id)?])
    }

    /// A parameter's value.
    pub fn value(&self, id: ParamId) -> Result<&Tensor> {
        Ok(&self.values[self.check(id)?])
    }

    /// Replaces a parameter's value (same shape).
    pub fn set(&mut self, id: ParamId, t: Tensor) -> Result<()> {
        let i = self.check(id)?;
        if t.shape() != self.values[i].shape() {
            return Err(shape(
                "set",
                format!("`{}` has shape {:?}, the new value {:?}", self.names[i], self.values[i].shape(), t.shape()),
            ));
        }
        self.values[i] = t;
        Ok(())
    }

    /// A parameter's accumulated gradient.
    pub fn grad(&self, id: ParamId) -> Result<&Tensor> {
        Ok(&self.grads[self.check(id)?])
    }

    /// Sets every gradient to zero (before the next backward pass).
    pub fn zero_grads(&mut self) {
        for g in &mut self.grads {
            g.data_mut().fill(0.0);
        }
    }

    /// Mutable access to value and gradient of one parameter, for optimizers.
    pub(crate) fn value_and_grad(&mut self, i: usize) -> (&mut Tensor, &Tensor) {
        (&mut self.values[i], &self.grads[i])
    }
}

/// How a recorded value was made.
#[derive(Clone, Debug)]
enum Op {
    Input,
    Param(ParamId),
    MatMul(Var, Var),
    Add(Var, Var),
    Sub(Var, Var),
    Mul(Var, Var),
    Div(Var, Var),
    AddRow(Var, Var),
    Scale(Var, f32),
    AddScalar(Var),
    Activation(Activation, Var),
    Exp(Var),
    Log(Var),
    Sum(Var),
    Mean(Var),
    SumSquares(Var),
    Softmax(Var),
    Gather(Var, Vec<usize>),
    Dropout(Var, Vec<f32>),
    BceLogits { z: Var, t: Tensor, w: Option<Tensor> },
    SoftmaxCe { z: Var, labels: Vec<usize>, w: Option<Tensor> },
    Mse { p: Var, t: Tensor },
    Huber { p: Var, t: Tensor, delta: f32 },
}

/// The operations of one forward pass, in order, and the device they compute on.
#[derive(Debug, Default)]
pub struct Tape {
    values: Vec<Tensor>,
    ops: Vec<Op>,
    device: Device,
}

impl Tape {
    /// An empty tape on the CPU.
    pub fn new() -> Tape {
        Tape::default()
    }

    /// An empty tape computing on `device`.
    pub fn with_device(device: Device) -> Tape {
        Tape { device, ..Tape::default() }
    }

    /// The device the following operations (and `backward`) compute on.
    pub fn set_device(&mut self, device: Device) {
        self.device = device;
    }

    /// The device this tape computes on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    fn push(&mut self, value: Tensor, op: Op) -> Var {
        self.values.push(value);
        self.ops.push(op);
        Var((self.values.len() - 1) as u32)
    }

    fn get(&self, v: Var) -> Result<&Tensor> {
        self.values
            .get(v.index())
            .ok_or_else(|| TensorError::Handle(format!("value #{} is not on this tape", v.index())))
    }

    /// A recorded value.
    pub fn value(&self, v: Var) -> Result<&Tensor> {
        self.get(v)
    }

    /// The number of recorded values.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// A constant input (no gradient flows into it).
    pub fn input(&mut self, t: Tensor) -> Var {
        self.push(t, Op::Input)
    }

    /// A trainable parameter's current value; `backward` adds its gradient into `params`.
    pub fn param(&mut self, params: &Params, id: ParamId) -> Result<Var> {
        let t = params.value(id)?.clone();
        Ok(self.push(t, Op::Param(id)))
    }

    /// Parameter `id` with its current `value` (as [`Params::value`] gives it, which shares the
    /// values rather than copying them), for a caller that cannot lend the whole set.
    pub fn param_value(&mut self, id: ParamId, value: Tensor) -> Var {
        self.push(value, Op::Param(id))
    }

    /// The matrix product `a · b` of an `m × k` and a `k × n` matrix.
    pub fn matmul(&mut self, a: Var, b: Var) -> Result<Var> {
        let (ta, tb) = (self.get(a)?, self.get(b)?);
        let (m, k) = ta.matrix("matmul")?;
        let (k2, n) = tb.matrix("matmul")?;
        if k != k2 {
            return Err(shape(
                "matmul",
                format!("{:?} · {:?}: inner sizes {k} and {k2} differ", ta.shape(), tb.shape()),
            ));
        }
        let mut out = vec![0f32; m * n];
        self.device.matmul(ta.data(), tb.data(), &mut out, m, k, n, false, false, false)?;
        Ok(self.push(Tensor::new(&[m, n], out)?, Op::MatMul(a, b)))
    }

    fn same_shape(&self, op: &'static str, a: Var, b: Var) -> Result<(&Tensor, &Tensor)> {
        let (ta, tb) = (self.get(a)?, self.get(b)?);
        if ta.shape() != tb.shape() {
            return Err(shape(op, format!("shapes {:?} and {:?} differ", ta.shape(), tb.shape())));
        }
        Ok((ta, tb))
    }

    fn zip(&mut self, op: &'static str, a: Var, b: Var, f: impl Fn(f32, f32) -> f32, rec: Op) -> Result<Var> {
        let (ta, tb) = self.same_shape(op, a, b)?;
        let out: Vec<f32> = ta.data().iter().zip(tb.data()).map(|(x, y)| f(*x, *y)).collect();
        let t = Tensor::new(ta.shape(), out)?;
        Ok(self.push(t, rec))
    }

    fn map(&mut self, a: Var, f: impl Fn(f32) -> f32, rec: Op) -> Result<Var> {
        let ta = self.get(a)?;
        let out: Vec<f32> = ta.data().iter().map(|x| f(*x)).collect();
        let t = Tensor::new(ta.shape(), out)?;
        Ok(self.push(t, rec))
    }

    /// `a + b`, elementwise (same shapes).
    pub fn add(&mut self, a: Var, b: Var) -> Result<Var> {
        self.zip("add", a, b, |x, y| x + y, Op::Add(a, b))
    }

    /// `a - b`, elementwise (same shapes).
    pub fn sub(&mut self, a: Var, b: Var) -> Result<Var> {
        self.zip("sub", a, b, |x, y| x - y, Op::Sub(a, b))
    }

    /// `a * b`, elementwise (same shapes).
    pub fn mul(&mut self, a: Var, b: Var) -> Result<Var> {
        self.zip("mul", a, b, |x, y| x * y, Op::Mul(a, b))
    }

    /// `a / b`, elementwise (same shapes).
    pub fn div(&mut self, a: Var, b: Var) -> Result<Var> {
        self.zip("div", a, b, |x, y| x / y, Op::Div(a, b))
    }

    /// `x + b` with `b` (shape `[n]` or `[1, n]`) added to every row of the `m × n` matrix `x`:
    /// a bias.
    pub fn add_row(&mut self, x: Var, b: Var) -> Result<Var> {
        let (tx, tb) = (self.get(x)?, self.get(b)?);
        let (m, n) = tx.matrix("add_row")?;
        if tb.len() != n || tb.shape().len() > 2 || (tb.shape().len() == 2 && tb.shape()[0] != 1) {
            return Err(shape("add_row", format!("cannot add {:?} to every row of {:?}", tb.shape(), tx.shape())));
        }
        let out = self.device.add_row(tx.data(), tb.data())?;
        let t = Tensor::new(&[m, n], out)?;
        Ok(self.push(t.reshape(tx.shape())?, Op::AddRow(x, b)))
    }

    /// `s · a`.
    pub fn scale(&mut self, a: Var, s: f32) -> Result<Var> {
        self.map(a, |x| s * x, Op::Scale(a, s))
    }

    /// `a + s`.
    pub fn add_scalar(&mut self, a: Var, s: f32) -> Result<Var> {
        self.map(a, |x| x + s, Op::AddScalar(a))
    }

    fn activation(&mut self, act: Activation, a: Var) -> Result<Var> {
        let ta = self.get(a)?;
        let out = self.device.activation(act, ta.data())?;
        let t = Tensor::new(ta.shape(), out)?;
        Ok(self.push(t, Op::Activation(act, a)))
    }

    /// `max(a, 0)`.
    pub fn relu(&mut self, a: Var) -> Result<Var> {
        self.activation(Activation::Relu, a)
    }

    /// The logistic function.
    pub fn sigmoid(&mut self, a: Var) -> Result<Var> {
        self.activation(Activation::Sigmoid, a)
    }

    /// `tanh(a)`.
    pub fn tanh(&mut self, a: Var) -> Result<Var> {
        self.activation(Activation::Tanh, a)
    }

    /// `e^a`.
    pub fn exp(&mut self, a: Var) -> Result<Var> {
        self.map(a, f32::exp, Op::Exp(a))
    }

    /// `ln(a)`.
    pub fn log(&mut self, a: Var) -> Result<Var> {
        self.map(a, f32::ln, Op::Log(a))
    }

    /// The sum of all values (a scalar).
    pub fn sum(&mut self, a: Var) -> Result<Var> {
        let s: f64 = self.get(a)?.data().iter().map(|x| f64::from(*x)).sum();
        Ok(self.push(Tensor::scalar(s as f32), Op::Sum(a)))
    }

    /// The mean of all values (a scalar).
    pub fn mean(&mut self, a: Var) -> Result<Var> {
        let t = self.get(a)?;
        if t.is_empty() {
            return Err(shape("mean", "the mean of no values"));
        }
        let s: f64 = t.data().iter().map(|x| f64::from(*x)).sum();
        let m = (s / t.len() as f64) as f32;
        Ok(self.push(Tensor::scalar(m), Op::Mean(a)))
    }

    /// The sum of squares of all values (a scalar): an L2 penalty.
    pub fn sum_squares(&mut self, a: Var) -> Result<Var> {
        let s: f64 = self.get(a)?.data().iter().map(|x| f64::from(x * x)).sum();
        Ok(self.push(Tensor::scalar(s as f32), Op::SumSquares(a)))
    }

    /// Row-wise softmax of an `m × c` matrix.
    pub fn softmax(&mut self, a: Var) -> Result<Var> {
        let t = self.get(a)?;
        let (_, c) = t.matrix("softmax")?;
        let mut out = vec![0f32; t.len()];
        kernels::softmax_rows(t.data(), &mut out, c.max(1));
        let t = Tensor::new(t.shape(), out)?;
        Ok(self.push(t, Op::Softmax(a)))
    }

    /// Rows `indices` of the `n × d` matrix `table`, as an `m × d` matrix: an embedding lookup
    /// (a categorical feature's weights; its gradient adds into the rows looked up).
    pub fn gather(&mut self, table: Var, indices: Vec<usize>) -> Result<Var> {
        let t = self.get(table)?;
        let (n, d) = t.matrix("gather")?;
        if let Some(bad) = indices.iter().find(|i| **i >= n) {
            return Err(invalid("gather", format!("row {bad} of a table with {n} rows")));
        }
        let mut out = Vec::with_capacity(indices.len() * d);
        for &i in &indices {
            out.extend_from_slice(&t.data()[i * d..(i + 1) * d]);
        }
        let v = Tensor::new(&[indices.len(), d], out)?;
        Ok(self.push(v, Op::Gather(table, indices)))
    }

    /// Inverted dropout: each value is zeroed with probability `rate` and the others scaled by
    /// `1 / (1 - rate)`, with a mask drawn from `seed` (so a run can be repeated exactly).
    /// `rate` 0 passes the values through.
    pub fn dropout(&mut self, a: Var, rate: f32, seed: u64) -> Result<Var> {
        if !(0.0..1.0).contains(&rate) {
            return Err(invalid("dropout", format!("the rate must be in [0, 1), not {rate}")));
        }
        let t = self.get(a)?;
        let mut rng = Rng::new(seed);
        let keep = 1.0 / (1.0 - rate);
        let mask: Vec<f32> = (0..t.len()).map(|_| if rng.unit() < rate { 0.0 } else { keep }).collect();
        let out: Vec<f32> = t.data().iter().zip(&mask).map(|(x, m)| x * m).collect();
        let v = Tensor::new(t.shape(), out)?;
        Ok(self.push(v, Op::Dropout(a, mask)))
    }

    fn targets(&self, op: &'static str, z: Var, t: &Tensor, w: Option<&Tensor>, rows: usize) -> Result<()> {
        let tz = self.get(z)?;
        if t.len() != tz.len() {
            return Err(shape(op, format!("{} targets for {} predictions", t.len(), tz.len())));
        }
        if let Some(w) = w
            && w.len() != rows
        {
            return Err(shape(op, format!("{} weights for {rows} rows", w.len())));
        }
        Ok(())
    }

    /// Binary cross-entropy of logits `z` (`[m]` or `[m, 1]`) against targets in `[0, 1]`,
    /// mean over rows, optionally weighted per row (class weights): a scalar.
    pub fn bce_with_logits(&mut self, z: Var, targets: Tensor, weights: Option<Tensor>) -> Result<Var> {
        let rows = self.get(z)?.len();
        self.targets("bce_with_logits", z, &targets, weights.as_ref(), rows)?;
        let loss =
            kernels::bce_with_logits(self.get(z)?.data(), targets.data(), weights.as_ref().map(Tensor::data), None);
        Ok(self.push(Tensor::scalar(loss), Op::BceLogits { z, t: targets, w: weights }))
    }

    /// Softmax cross-entropy of `m × c` logits against class indices in `0..c`, mean over rows,
    /// optionally weighted per row: a scalar.
    pub fn softmax_cross_entropy(&mut self, z: Var, labels: Vec<usize>, weights: Option<Tensor>) -> Result<Var> {
        let tz = self.get(z)?;
        let (m, c) = tz.matrix("softmax_cross_entropy")?;
        if labels.len() != m {
            return Err(shape("softmax_cross_entropy", format!("{} labels for {m} rows", labels.len())));
        }
        if let Some(bad) = labels.iter().find(|l| **l >= c) {
            return Err(invalid("softmax_cross_entropy", format!("class {bad} with {c} classes")));
        }
        if let Some(w) = &weights
            && w.len() != m
        {
            return Err(shape("softmax_cross_entropy", format!("{} weights for {m} rows", w.len())));
        }
        let loss = kernels::softmax_cross_entropy(tz.data(), &labels, c, weights.as_ref().map(Tensor::data), None);
        Ok(self.push(Tensor::scalar(loss), Op::SoftmaxCe { z, labels, w: weights }))
    }

    /// Mean squared error of predictions `p` against targets of the same size: a scalar.
    pub fn mse(&mut self, p: Var, targets: Tensor) -> Result<Var> {
        let rows = self.get(p)?.len();
        self.targets("mse", p, &targets, None, rows)?;
        let loss = kernels::mse(self.get(p)?.data(), targets.data(), None);
        Ok(self.push(Tensor::scalar(loss), Op::Mse { p, t: targets }))
    }

    /// Huber loss of predictions `p` against targets of the same size, threshold `delta`: a
    /// scalar, squared near the target and linear beyond `delta` (robust to outliers).
    pub fn huber(&mut self, p: Var, targets: Tensor, delta: f32) -> Result<Var> {
        if !(delta.is_finite() && delta > 0.0) {
            return Err(invalid("huber", format!("the threshold must be a positive number, not {delta}")));
        }
        let rows = self.get(p)?.len();
        self.targets("huber", p, &targets, None, rows)?;
        let loss = kernels::huber(self.get(p)?.data(), targets.data(), delta, None);
        Ok(self.push(Tensor::scalar(loss), Op::Huber { p, t: targets, delta }))
    }

    /// Backpropagates from `loss` (a single value): adds `d loss / d p` into the gradient of
    /// every parameter `p` recorded on this tape.
    pub fn backward(&self, loss: Var, params: &mut Params) -> Result<()> {
        let l = self.get(loss)?;
        if l.len() != 1 {
            return Err(shape("backward", format!("the loss must be a single value, found shape {:?}", l.shape())));
        }
        let n = loss.index() + 1;
        let mut grads: Vec<Option<Vec<f32>>> = vec![None; n];
        grads[loss.index()] = Some(vec![1.0]);
        for i in (0..n).rev() {
            let Some(g) = grads[i].take() else { continue };
            let add = |grads: &mut Vec<Option<Vec<f32>>>, v: Var, d: Vec<f32>| match &mut grads[v.index()] {
                Some(acc) => acc.iter_mut().zip(&d).for_each(|(a, b)| *a += b),
                slot @ None => *slot = Some(d),
            };
            let val = |v: Var| self.values[v.index()].data();
            match &self.ops[i] {
                Op::Input => {}
                Op::Param(id) => {
                    let p = params.check(*id)?;
                    let acc = params.grads[p].data_mut();
                    if acc.len() != g.len() {
                        return Err(shape("backward", "a parameter changed shape during the pass"));
                    }
                    acc.iter_mut().zip(&g).for_each(|(a, b)| *a += b);
                }
                Op::MatMul(a, b) => {
                    let (m, k) = self.values[a.index()].matrix("matmul")?;
                    let (_, nn) = self.values[b.index()].matrix("matmul")?;
                    // dA = dC · Bᵀ (m × k), dB = Aᵀ · dC (k × n).
                    let mut da = vec![0f32; m * k];
                    self.device.matmul(&g, val(*b), &mut da, m, nn, k, false, true, false)?;
                    let mut db = vec![0f32; k * nn];
                    self.device.matmul(val(*a), &g, &mut db, k, m, nn, true, false, false)?;
                    add(&mut grads, *a, da);
                    add(&mut grads, *b, db);
                }
                Op::Add(a, b) => {
                    add(&mut grads, *a, g.clone());
                    add(&mut grads, *b, g);
                }
                Op::Sub(a, b) => {
                    add(&mut grads, *b, g.iter().map(|x| -x).collect());
                    add(&mut grads, *a, g);
                }
                Op::Mul(a, b) => {
                    let da = g.iter().zip(val(*b)).map(|(g, y)| g * y).collect();
                    let db = g.iter().zip(val(*a)).map(|(g, x)| g * x).collect();
                    add(&mut grads, *a, da);
                    add(&mut grads, *b, db);
                }
                Op::Div(a, b) => {
                    let (x, y) = (val(*a), val(*b));
                    let da = g.iter().zip(y).map(|(g, y)| g / y).collect();
                    let db = g.iter().zip(x.iter().zip(y)).map(|(g, (x, y))| -g * x / (y * y)).collect();
                    add(&mut grads, *a, da);
                    add(&mut grads, *b, db);
                }
                Op::AddRow(x, b) => {
                    let db = self.device.col_sum(&g, self.values[b.index()].len())?;
                    add(&mut grads, *b, db);
                    add(&mut grads, *x, g);
                }
                Op::Scale(a, s) => add(&mut grads, *a, g.iter().map(|x| s * x).collect()),
                Op::AddScalar(a) => add(&mut grads, *a, g),
                Op::Activation(act, a) => {
                    let saved = if act.saves_output() { self.values[i].data() } else { val(*a) };
                    let d = self.device.activation_backward(*act, &g, saved)?;
                    add(&mut grads, *a, d);
                }
                Op::Exp(a) => {
                    let y = self.values[i].data();
                    add(&mut grads, *a, g.iter().zip(y).map(|(g, y)| g * y).collect());
                }
                Op::Log(a) => add(&mut grads, *a, g.iter().zip(val(*a)).map(|(g, x)| g / x).collect()),
                Op::Sum(a) => add(&mut grads, *a, vec![g[0]; self.values[a.index()].len()]),
                Op::Mean(a) => {
                    let len = self.values[a.index()].len();
                    add(&mut grads, *a, vec![g[0] / len as f32; len]);
                }
                Op::SumSquares(a) => add(&mut grads, *a, val(*a).iter().map(|x| 2.0 * x * g[0]).collect()),
                Op::Softmax(a) => {
                    let y = self.values[i].data();
                    let (_, c) = self.values[i].matrix("softmax")?;
                    let mut d = vec![0f32; y.len()];
                    for ((dr, yr), gr) in d.chunks_mut(c).zip(y.chunks(c)).zip(g.chunks(c)) {
                        let dot: f32 = yr.iter().zip(gr).map(|(y, g)| y * g).sum();
                        for ((di, yi), gi) in dr.iter_mut().zip(yr).zip(gr) {
                            *di = yi * (gi - dot);
                        }
                    }
                    add(&mut grads, *a, d);
                }
                Op::Gather(table, indices) => {
                    let src = &self.values[table.index()];
                    let (_, d) = src.matrix("gather")?;
                    let mut dt = vec![0f32; src.len()];
                    for (row, &i) in g.chunks(d.max(1)).zip(indices) {
                        dt[i * d..(i + 1) * d].iter_mut().zip(row).for_each(|(a, b)| *a += b);
                    }
                    add(&mut grads, *table, dt);
                }
                Op::Dropout(a, mask) => add(&mut grads, *a, g.iter().zip(mask).map(|(g, m)| g * m).collect()),
                Op::BceLogits { z, t, w } => {
                    let mut d = vec![0f32; t.len()];
                    kernels::bce_with_logits(val(*z), t.data(), w.as_ref().map(Tensor::data), Some(&mut d));
                    d.iter_mut().for_each(|x| *x *= g[0]);
                    add(&mut grads, *z, d);
                }
                Op::SoftmaxCe { z, labels, w } => {
                    let (_, c) = self.values[z.index()].matrix("softmax_cross_entropy")?;
                    let mut d = vec![0f32; self.values[z.index()].len()];
                    kernels::softmax_cross_entropy(val(*z), labels, c, w.as_ref().map(Tensor::data), Some(&mut d));
                    d.iter_mut().for_each(|x| *x *= g[0]);
                    add(&mut grads, *z, d);
                }
                Op::Huber { p, t, delta } => {
                    let mut d = vec![0f32; t.len()];
                    kernels::huber(val(*p), t.data(), *delta, Some(&mut d));
                    d.iter_mut().for_each(|x| *x *= g[0]);
                    add(&mut grads, *p, d);
                }
                Op::Mse { p, t } => {
                    let mut d = vec![0f32; t.len()];
                    kernels::mse(val(*p), t.data(), Some(&mut d));
                    d.iter_mut().for_each(|x| *x *= g[0]);
                    add(&mut grads, *p, d);
                }
            }
        }
        Ok(())
    }
}
