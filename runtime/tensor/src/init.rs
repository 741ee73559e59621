//! Deterministic initializers: the same seed gives the same weights on every machine.
//! Random numbers come from SplitMix64; uniform floats from its top 24 bits.

use crate::tensor::Tensor;

/// A small, fast, reproducible random number generator (SplitMix64).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform float in `[0, 1)`.
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// A uniform integer in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// Shuffles `v` in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// How a parameter starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// All zeros (biases, and the weights of a convex model).
    Zeros,
    /// Uniform in `[-a, a]`.
    Uniform(f32),
    /// Glorot/Xavier uniform: `a = sqrt(6 / (fan_in + fan_out))`, for tanh and sigmoid layers.
    XavierUniform,
    /// He/Kaiming uniform: `a = sqrt(6 / fan_in)`, for ReLU layers.
    HeUniform,
}

impl Init {
    /// A tensor of `shape` (fan in = `shape[0]`, fan out = `shape[1]` for a 2-d weight).
    pub fn tensor(self, shape: &[usize], rng: &mut Rng) -> Tensor {
        let n: usize = shape.iter().product();
        let fan_in = shape.first().copied().unwrap_or(1).max(1) as f32;
        let fan_out = shape.get(1).copied().unwrap_or(1).max(1) as f32;
        let a = match self {
            Init::Zeros => return Tensor::zeros(shape),
            Init::Uniform(a) => a,
            Init::XavierUniform => (6.0 / (fan_in + fan_out)).sqrt(),
            Init::HeUniform => (6.0 / fan_in).sqrt(),
        };
        let data = (0..n).map(|_| (rng.unit() * 2.0 - 1.0) * a).collect();
        Tensor::new(shape, data).expect("the product of the shape")
    }
}
