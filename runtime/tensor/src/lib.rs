//! `mlp-tensor`: the native arithmetic under mlp's trainer components. Dense row-major `f32`
//! tensors ([`Tensor`]), a tape that records the operations of one forward pass and runs their
//! hand-written backward kernels ([`Tape`]), trainable parameters with their gradients
//! ([`Params`]), optimizers ([`optim`]) and seeded initializers ([`init`]).
//!
//! - [`tensor`]: the tensor type and its shape checks.
//! - [`kernels`]: forward and backward kernels over slices; matrix products go to `faer`.
//! - [`tape`]: reverse-mode differentiation over the recorded operations.
//! - [`device`]: where a tape's heavy kernels run, the CPU or (feature `cuda`) a GPU.
//! - `cuda` (feature `cuda`): the CUDA backend, cuBLAS matrix products and NVRTC-compiled
//!   elementwise kernels, with the CUDA libraries loaded at run time.
//! - [`optim`]: SGD with momentum, Adam and AdamW.
//! - [`init`]: deterministic initializers from a seed.
//! - [`model`]: trained models loaded from their artifact and applied (batch inference,
//!   serving).
//! - [`weights`]: parameters to and from safetensors files (the model artifact's weights).
//!
//! Gradients are not derived symbolically: each operation has a fused backward kernel, checked
//! against finite differences in the tests. The crate knows nothing of WIT or wasmtime; the host
//! exposes it to guests (`runtime/src/host`).

#![warn(missing_docs)]

#[cfg(feature = "cuda")]
pub mod cuda;
pub mod device;
pub mod error;
pub mod init;
pub mod kernels;
pub mod model;
pub mod optim;
pub mod tape;
pub mod tensor;
pub mod weights;

pub use device::Device;
pub use error::{Result, TensorError};
pub use tape::{ParamId, Params, Tape, Var};
pub use tensor::Tensor;
