//! Optimizers: update every parameter from its accumulated gradient, then the caller zeroes
//! the gradients ([`Params::zero_grads`]) before the next pass.
//!
//! - [`Sgd`]: `v = μ v + (g + λ p)`, `p -= η v` (plain SGD with `μ = 0`).
//! - [`Adam`]: Kingma & Ba with bias correction; with `decoupled` (AdamW, Loshchilov & Hutter)
//!   the weight decay is `p -= η λ p` beside the update instead of `λ p` added to the gradient.

use crate::error::{Result, invalid};
use crate::tape::Params;

fn check(op: &'static str, lr: f32, decay: f32) -> Result<()> {
    if !(lr.is_finite() && lr > 0.0) {
        return Err(invalid(op, format!("the learning rate must be a positive number, not {lr}")));
    }
    if !(decay.is_finite() && decay >= 0.0) {
        return Err(invalid(op, format!("the weight decay must be zero or more, not {decay}")));
    }
    Ok(())
}

/// Stochastic gradient descent with momentum and L2 weight decay.
#[derive(Clone, Debug)]
pub struct Sgd {
    lr: f32,
    momentum: f32,
    weight_decay: f32,
    velocity: Vec<Vec<f32>>,
}

impl Sgd {
    /// An optimizer with learning rate `lr`, momentum `momentum` (in `[0, 1)`) and L2 weight
    /// decay `weight_decay`.
    pub fn new(lr: f32, momentum: f32, weight_decay: f32) -> Result<Sgd> {
        check("sgd", lr, weight_decay)?;
        if !(0.0..1.0).contains(&momentum) {
            return Err(invalid("sgd", format!("the momentum must be in [0, 1), not {momentum}")));
        }
        Ok(Sgd { lr, momentum, weight_decay, velocity: Vec::new() })
    }

    /// One update of every parameter.
    pub fn step(&mut self, params: &mut Params) {
        self.velocity.resize_with(params.len(), Vec::new);
        for i in 0..params.len() {
            let (p, g) = params.value_and_grad(i);
            let v = &mut self.velocity[i];
            v.resize(g.len(), 0.0);
            let p = p.data_mut();
            for k in 0..p.len() {
                v[k] = self.momentum * v[k] + g.data()[k] + self.weight_decay * p[k];
                p[k] -= self.lr * v[k];
            }
        }
    }
}

/// Adam, or AdamW with decoupled weight decay.
#[derive(Clone, Debug)]
pub struct Adam {
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    decoupled: bool,
    t: i32,
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
}

impl Adam {
    /// Adam with learning rate `lr` (β₁ 0.9, β₂ 0.999, ε 1e-8) and L2 weight decay added to the
    /// gradient.
    pub fn new(lr: f32, weight_decay: f32) -> Result<Adam> {
        check("adam", lr, weight_decay)?;
        Ok(Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay,
            decoupled: false,
            t: 0,
            m: Vec::new(),
            v: Vec::new(),
        })
    }

    /// AdamW: Adam with decoupled weight decay.
    pub fn adamw(lr: f32, weight_decay: f32) -> Result<Adam> {
        Ok(Adam { decoupled: true, ..Adam::new(lr, weight_decay)? })
    }

    /// One update of every parameter.
    pub fn step(&mut self, params: &mut Params) {
        self.t = self.t.saturating_add(1);
        let (b1, b2) = (self.beta1, self.beta2);
        let c1 = 1.0 - b1.powi(self.t);
        let c2 = 1.0 - b2.powi(self.t);
        self.m.resize_with(params.len(), Vec::new);
        self.v.resize_with(params.len(), Vec::new);
        for i in 0..params.len() {
            let (p, g) = params.value_and_grad(i);
            let (m, v) = (&mut self.m[i], &mut self.v[i]);
            m.resize(g.len(), 0.0);
            v.resize(g.len(), 0.0);
            let p = p.data_mut();
            for k in 0..p.len() {
                let mut gk = g.data()[k];
                if !self.decoupled {
                    gk += self.weight_decay * p[k];
                }
                m[k] = b1 * m[k] + (1.0 - b1) * gk;
                v[k] = b2 * v[k] + (1.0 - b2) * gk * gk;
                let update = (m[k] / c1) / ((v[k] / c2).sqrt() + self.eps);
                if self.decoupled {
                    p[k] -= self.lr * self.weight_decay * p[k];
                }
                p[k] -= self.lr * update;
            }
        }
    }
}
