//! Host side of the `tensors` interface (WIT `mlp:plugin@0.1.3`): tensors, trainable
//! parameters, tapes and optimizers over `mlp-tensor`, so a trainer's loop runs in the guest
//! while every kernel runs natively here.
//!
//! Tape values are plain `u32` indices (cheap to pass); a bad index, a shape that does not fit
//! or a bad option is a WIT `error` naming the operation, never a trap.
//!
//! A step with `grant gpu` gets its tapes on the CUDA device ([`StepDevice`]) when the host is
//! built with the `cuda` feature and a GPU opens; the context is opened once per process, on
//! the first such tape, and shared by every step. Otherwise its tapes run on the CPU and a
//! warning says why.

use super::bindings::mlp::plugin::{tensors, types};
use super::imports::{usize_of, werr};
use super::state::{BlobRes, ModelRes, OptimizerRes, ParamsRes, StepState, TableRes, TapeRes, TensorRes};
use mlp_tensor::init::Init;
use mlp_tensor::optim::{Adam, Sgd};
use mlp_tensor::{Device, ParamId, Params, Tape, Tensor, TensorError, Var};
use serde::Deserialize;
use std::collections::HashMap;
use tensors::{BinaryOp, UnaryOp};
use types::{DataType, Error};
use wasmtime::component::Resource;

type R<T> = wasmtime::Result<T>;
type Fallible<T> = wasmtime::Result<Result<T, Error>>;

fn terr(e: TensorError) -> Error {
    let kind = match e {
        TensorError::Shape { .. } | TensorError::Invalid { .. } | TensorError::Handle(_) => {
            types::ErrorKind::InvalidArgument
        }
        TensorError::Device(_) => types::ErrorKind::Other,
    };
    Error { kind, message: e.to_string(), detail: None }
}

/// Where one step's tapes compute: the CPU, or with `grant gpu` the process's GPU. Chosen when
/// the step creates its first tape (so a step that never trains never opens a GPU), logged
/// then, and kept for the step's other tapes.
#[derive(Debug, Default)]
pub(crate) struct StepDevice {
    gpu_granted: bool,
    chosen: Option<Device>,
}

impl StepDevice {
    /// The device of a step granted a GPU or not.
    pub(crate) fn new(gpu_granted: bool) -> StepDevice {
        StepDevice { gpu_granted, chosen: None }
    }

    /// The device for a new tape of step `step`.
    fn get(&mut self, step: &str) -> Device {
        if let Some(d) = &self.chosen {
            return d.clone();
        }
        let d = if self.gpu_granted { gpu_device(step) } else { Device::Cpu };
        self.chosen = Some(d.clone());
        d
    }
}

/// The process's GPU (device 0), opened on first use; the error message if it cannot be.
#[cfg(feature = "cuda")]
fn process_gpu() -> &'static Result<std::sync::Arc<mlp_tensor::cuda::Gpu>, String> {
    static GPU: std::sync::OnceLock<Result<std::sync::Arc<mlp_tensor::cuda::Gpu>, String>> = std::sync::OnceLock::new();
    GPU.get_or_init(|| mlp_tensor::cuda::Gpu::open(0).map(std::sync::Arc::new).map_err(|e| e.to_string()))
}

/// The device of a step granted a GPU: the GPU if one opens, else the CPU with a warning.
fn gpu_device(step: &str) -> Device {
    #[cfg(feature = "cuda")]
    {
        match process_gpu() {
            Ok(gpu) => {
                tracing::info!(step, device = %gpu.describe(), "the step trains on the GPU");
                Device::Cuda(gpu.clone())
            }
            Err(e) => {
                tracing::warn!(step, "the step has `grant gpu` but trains on the CPU: {e}");
                Device::Cpu
            }
        }
    }
    #[cfg(not(feature = "cuda"))]
    {
        tracing::warn!(
            step,
            "the step has `grant gpu` but trains on the CPU: this mlp was built without the `cuda` feature (build it with `--features cuda`)"
        );
        Device::Cpu
    }
}

fn var(v: u32) -> Var {
    // Indices are checked by the tape.
    Var::from_index(v)
}

fn out(v: Var) -> u32 {
    v.index() as u32
}

impl tensors::Host for StepState {}

impl StepState {
    fn tensor(&self, h: &Resource<TensorRes>) -> wasmtime::Result<Tensor> {
        Ok(self.table.get(h)?.0.clone())
    }

    fn push_tensor(&mut self, r: Result<Tensor, Error>) -> Fallible<Resource<TensorRes>> {
        match r {
            Ok(t) => Ok(Ok(self.table.push(TensorRes(t))?)),
            Err(e) => Ok(Err(e)),
        }
    }

    /// Records one operation on a tape.
    fn record(&mut self, h: &Resource<TapeRes>, f: impl FnOnce(&mut Tape) -> mlp_tensor::Result<Var>) -> Fallible<u32> {
        let tape = &mut self.table.get_mut(h)?.0;
        Ok(f(tape).map(out).map_err(terr))
    }
}

impl tensors::HostTensor for StepState {
    fn from_f32(&mut self, shape: Vec<u64>, values: Vec<f32>) -> Fallible<Resource<TensorRes>> {
        let shape: Vec<usize> = shape.into_iter().map(usize_of).collect();
        let r = mlp_kernels::tensor_from_f32(shape, values)
            .map_err(werr)
            .and_then(|t| Tensor::new(&t.shape, t.values.to_vec()).map_err(terr));
        self.push_tensor(r)
    }

    fn from_columns(&mut self, source: Resource<TableRes>, columns: Vec<String>) -> Fallible<Resource<TensorRes>> {
        let t = self.table.get(&source)?.0.clone();
        let r = mlp_kernels::tensor_from_columns(&t, &columns)
            .map_err(werr)
            .and_then(|t| Tensor::new(&t.shape, t.values.to_vec()).map_err(terr));
        self.push_tensor(r)
    }

    fn shape(&mut self, h: Resource<TensorRes>) -> R<Vec<u64>> {
        Ok(self.table.get(&h)?.0.shape().iter().map(|&d| d as u64).collect())
    }

    fn data_type(&mut self, _h: Resource<TensorRes>) -> R<DataType> {
        Ok(DataType::Float32)
    }

    fn to_f32(&mut self, h: Resource<TensorRes>) -> Fallible<Vec<f32>> {
        Ok(Ok(self.table.get(&h)?.0.data().to_vec()))
    }

    fn rows(&mut self, h: Resource<TensorRes>, start: u64, len: u64) -> Fallible<Resource<TensorRes>> {
        let t = self.tensor(&h)?;
        let r = t.rows(usize_of(start), usize_of(len)).map_err(terr);
        self.push_tensor(r)
    }

    fn gather_rows(&mut self, h: Resource<TensorRes>, indices: Vec<u64>) -> Fallible<Resource<TensorRes>> {
        let t = self.tensor(&h)?;
        let idx: Vec<usize> = indices.into_iter().map(usize_of).collect();
        let r = t.gather_rows(&idx).map_err(terr);
        self.push_tensor(r)
    }

    fn item(&mut self, h: Resource<TensorRes>) -> Fallible<f32> {
        Ok(self.table.get(&h)?.0.item().map_err(terr))
    }

    fn drop(&mut self, h: Resource<TensorRes>) -> R<()> {
        self.table.delete(h)?;
        Ok(())
    }
}

fn params_of<'a>(state: &'a mut StepState, h: &Resource<ParamsRes>) -> wasmtime::Result<Result<&'a mut Params, Error>> {
    Ok(state.table.get_mut(h)?.0.as_mut().ok_or_else(|| Error {
        kind: types::ErrorKind::InvalidArgument,
        message: "the parameters are in use by a backward pass".into(),
        detail: None,
    }))
}

impl tensors::HostParams for StepState {
    fn new(&mut self, seed: u64) -> R<Resource<ParamsRes>> {
        Ok(self.table.push(ParamsRes(Some(Params::new(seed))))?)
    }

    fn add(&mut self, h: Resource<ParamsRes>, name: String, shape: Vec<u64>, init: tensors::Init) -> Fallible<u32> {
        let init = match init {
            tensors::Init::Zeros => Init::Zeros,
            tensors::Init::Uniform(a) => Init::Uniform(a),
            tensors::Init::Xavier => Init::XavierUniform,
            tensors::Init::He => Init::HeUniform,
        };
        let shape: Vec<usize> = shape.into_iter().map(usize_of).collect();
        let p = match params_of(self, &h)? {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        Ok(p.add(&name, &shape, init).map(|id| id.index() as u32).map_err(terr))
    }

    fn value(&mut self, h: Resource<ParamsRes>, id: u32) -> Fallible<Resource<TensorRes>> {
        let r = match params_of(self, &h)? {
            Ok(p) => p.value(ParamId::from_index(id)).cloned().map_err(terr),
            Err(e) => Err(e),
        };
        self.push_tensor(r)
    }

    fn set(&mut self, h: Resource<ParamsRes>, id: u32, value: Resource<TensorRes>) -> Fallible<()> {
        let t = self.tensor(&value)?;
        Ok(match params_of(self, &h)? {
            Ok(p) => p.set(ParamId::from_index(id), t).map_err(terr),
            Err(e) => Err(e),
        })
    }

    fn zero_grads(&mut self, h: Resource<ParamsRes>) -> R<()> {
        if let Ok(p) = params_of(self, &h)? {
            p.zero_grads();
        }
        Ok(())
    }

    fn to_safetensors(
        &mut self,
        h: Resource<ParamsRes>,
        metadata: Vec<(String, String)>,
    ) -> Fallible<Resource<BlobRes>> {
        let meta: HashMap<String, String> = metadata.into_iter().collect();
        let bytes = match params_of(self, &h)? {
            Ok(p) => mlp_tensor::weights::to_safetensors(p, &meta).map_err(terr),
            Err(e) => Err(e),
        };
        match bytes {
            Ok(b) => Ok(Ok(self.table.push(BlobRes(b.into()))?)),
            Err(e) => Ok(Err(e)),
        }
    }

    fn from_safetensors(&mut self, file: Resource<BlobRes>) -> Fallible<Resource<ParamsRes>> {
        let bytes = self.table.get(&file)?.0.clone();
        match mlp_tensor::weights::from_safetensors(&bytes).and_then(|(t, _)| Params::from_tensors(t)) {
            Ok(p) => Ok(Ok(self.table.push(ParamsRes(Some(p)))?)),
            Err(e) => Ok(Err(terr(e))),
        }
    }

    fn find(&mut self, h: Resource<ParamsRes>, name: String) -> R<Option<u32>> {
        Ok(match params_of(self, &h)? {
            Ok(p) => p.find(&name).map(|id| id.index() as u32),
            Err(_) => None,
        })
    }

    fn drop(&mut self, h: Resource<ParamsRes>) -> R<()> {
        self.table.delete(h)?;
        Ok(())
    }
}

impl tensors::HostTape for StepState {
    fn new(&mut self) -> R<Resource<TapeRes>> {
        let device = self.run.as_mut().map_or(Device::Cpu, |r| r.device.get(&r.step_id));
        Ok(self.table.push(TapeRes(Tape::with_device(device)))?)
    }

    fn input(&mut self, h: Resource<TapeRes>, t: Resource<TensorRes>) -> R<u32> {
        let t = self.tensor(&t)?;
        Ok(out(self.table.get_mut(&h)?.0.input(t)))
    }

    fn param(&mut self, h: Resource<TapeRes>, p: Resource<ParamsRes>, id: u32) -> Fallible<u32> {
        // The parameter's value is shared, not copied.
        let id = ParamId::from_index(id);
        let value = match params_of(self, &p)? {
            Ok(params) => match params.value(id) {
                Ok(v) => v.clone(),
                Err(e) => return Ok(Err(terr(e))),
            },
            Err(e) => return Ok(Err(e)),
        };
        Ok(Ok(out(self.table.get_mut(&h)?.0.param_value(id, value))))
    }

    fn matmul(&mut self, h: Resource<TapeRes>, a: u32, b: u32) -> Fallible<u32> {
        self.record(&h, |t| t.matmul(var(a), var(b)))
    }

    fn unary(&mut self, h: Resource<TapeRes>, op: UnaryOp, a: u32) -> Fallible<u32> {
        self.record(&h, |t| {
            let a = var(a);
            match op {
                UnaryOp::Relu => t.relu(a),
                UnaryOp::Sigmoid => t.sigmoid(a),
                UnaryOp::Tanh => t.tanh(a),
                UnaryOp::Exp => t.exp(a),
                UnaryOp::Log => t.log(a),
                UnaryOp::Sum => t.sum(a),
                UnaryOp::Mean => t.mean(a),
                UnaryOp::SumSquares => t.sum_squares(a),
                UnaryOp::Softmax => t.softmax(a),
            }
        })
    }

    fn binary(&mut self, h: Resource<TapeRes>, op: BinaryOp, a: u32, b: u32) -> Fallible<u32> {
        self.record(&h, |t| {
            let (a, b) = (var(a), var(b));
            match op {
                BinaryOp::Add => t.add(a, b),
                BinaryOp::Sub => t.sub(a, b),
                BinaryOp::Mul => t.mul(a, b),
                BinaryOp::Div => t.div(a, b),
                BinaryOp::AddRow => t.add_row(a, b),
            }
        })
    }

    fn scale(&mut self, h: Resource<TapeRes>, a: u32, s: f32) -> Fallible<u32> {
        self.record(&h, |t| t.scale(var(a), s))
    }

    fn add_scalar(&mut self, h: Resource<TapeRes>, a: u32, s: f32) -> Fallible<u32> {
        self.record(&h, |t| t.add_scalar(var(a), s))
    }

    fn gather(&mut self, h: Resource<TapeRes>, table: u32, indices: Vec<u32>) -> Fallible<u32> {
        self.record(&h, |t| t.gather(var(table), indices.into_iter().map(|i| i as usize).collect()))
    }

    fn dropout(&mut self, h: Resource<TapeRes>, a: u32, rate: f32, seed: u64) -> Fallible<u32> {
        self.record(&h, |t| t.dropout(var(a), rate, seed))
    }

    fn bce_with_logits(
        &mut self,
        h: Resource<TapeRes>,
        z: u32,
        targets: Resource<TensorRes>,
        weights: Option<Resource<TensorRes>>,
    ) -> Fallible<u32> {
        let t = self.tensor(&targets)?;
        let w = match &weights {
            Some(w) => Some(self.tensor(w)?),
            None => None,
        };
        self.record(&h, |tape| tape.bce_with_logits(var(z), t, w))
    }

    fn softmax_cross_entropy(
        &mut self,
        h: Resource<TapeRes>,
        z: u32,
        labels: Vec<u32>,
        weights: Option<Resource<TensorRes>>,
    ) -> Fallible<u32> {
        let w = match &weights {
            Some(w) => Some(self.tensor(w)?),
            None => None,
        };
        self.record(&h, |tape| tape.softmax_cross_entropy(var(z), labels.into_iter().map(|l| l as usize).collect(), w))
    }

    fn mse(&mut self, h: Resource<TapeRes>, p: u32, targets: Resource<TensorRes>) -> Fallible<u32> {
        let t = self.tensor(&targets)?;
        self.record(&h, |tape| tape.mse(var(p), t))
    }

    fn huber(&mut self, h: Resource<TapeRes>, p: u32, targets: Resource<TensorRes>, delta: f32) -> Fallible<u32> {
        let t = self.tensor(&targets)?;
        self.record(&h, |tape| tape.huber(var(p), t, delta))
    }

    fn value(&mut self, h: Resource<TapeRes>, v: u32) -> Fallible<Resource<TensorRes>> {
        let r = self.table.get(&h)?.0.value(var(v)).cloned().map_err(terr);
        self.push_tensor(r)
    }

    fn item(&mut self, h: Resource<TapeRes>, v: u32) -> Fallible<f32> {
        Ok(self.table.get(&h)?.0.value(var(v)).and_then(Tensor::item).map_err(terr))
    }

    fn backward(&mut self, h: Resource<TapeRes>, loss: u32, p: Resource<ParamsRes>) -> Fallible<()> {
        // Take the parameters out for the pass, so the tape and they can be borrowed at once.
        let Some(mut params) = self.table.get_mut(&p)?.0.take() else {
            return Ok(Err(Error {
                kind: types::ErrorKind::InvalidArgument,
                message: "the parameters are in use by a backward pass".into(),
                detail: None,
            }));
        };
        let r = self.table.get(&h).map(|t| t.0.backward(var(loss), &mut params));
        self.table.get_mut(&p)?.0 = Some(params);
        Ok(r?.map_err(terr))
    }

    fn drop(&mut self, h: Resource<TapeRes>) -> R<()> {
        self.table.delete(h)?;
        Ok(())
    }
}

/// Optimizer options, every key checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OptimizerOptions {
    learning_rate: f32,
    #[serde(default)]
    momentum: f32,
    #[serde(default)]
    weight_decay: f32,
}

impl tensors::HostOptimizer for StepState {
    fn open(&mut self, kind: String, options_json: String) -> Fallible<Resource<OptimizerRes>> {
        let bad = |message: String| Error { kind: types::ErrorKind::InvalidArgument, message, detail: None };
        let o: OptimizerOptions = match serde_json::from_str(&options_json) {
            Ok(o) => o,
            Err(e) => return Ok(Err(bad(format!("bad optimizer options: {e}")))),
        };
        let opt = match kind.as_str() {
            "sgd" => Sgd::new(o.learning_rate, o.momentum, o.weight_decay).map(OptimizerRes::Sgd),
            "adam" => Adam::new(o.learning_rate, o.weight_decay).map(OptimizerRes::Adam),
            "adamw" => Adam::adamw(o.learning_rate, o.weight_decay).map(OptimizerRes::Adam),
            other => return Ok(Err(bad(format!("unknown optimizer `{other}`: use `sgd`, `adam` or `adamw`")))),
        };
        match opt {
            Ok(o) => Ok(Ok(self.table.push(o)?)),
            Err(e) => Ok(Err(terr(e))),
        }
    }

    fn step(&mut self, h: Resource<OptimizerRes>, p: Resource<ParamsRes>) -> Fallible<()> {
        let Some(mut params) = self.table.get_mut(&p)?.0.take() else {
            return Ok(Err(Error {
                kind: types::ErrorKind::InvalidArgument,
                message: "the parameters are in use by a backward pass".into(),
                detail: None,
            }));
        };
        match self.table.get_mut(&h) {
            Ok(OptimizerRes::Sgd(o)) => o.step(&mut params),
            Ok(OptimizerRes::Adam(o)) => o.step(&mut params),
            Err(e) => {
                self.table.get_mut(&p)?.0 = Some(params);
                return Err(e.into());
            }
        }
        self.table.get_mut(&p)?.0 = Some(params);
        Ok(Ok(()))
    }

    fn drop(&mut self, h: Resource<OptimizerRes>) -> R<()> {
        self.table.delete(h)?;
        Ok(())
    }
}

impl tensors::HostModel for StepState {
    fn load(&mut self, spec_json: String, weights: Resource<BlobRes>) -> Fallible<Resource<ModelRes>> {
        let bytes = self.table.get(&weights)?.0.clone();
        match mlp_tensor::model::Model::load(&spec_json, &bytes) {
            Ok(m) => Ok(Ok(self.table.push(ModelRes(std::sync::Arc::new(m)))?)),
            Err(e) => Ok(Err(terr(e))),
        }
    }

    fn label(&mut self, h: Resource<ModelRes>) -> R<String> {
        Ok(self.table.get(&h)?.0.label().to_string())
    }

    fn transform_digest(&mut self, h: Resource<ModelRes>) -> R<Option<String>> {
        Ok(self.table.get(&h)?.0.transform_digest().map(str::to_owned))
    }

    fn predict(&mut self, h: Resource<ModelRes>, features: Resource<TableRes>) -> Fallible<Resource<TableRes>> {
        let m = self.table.get(&h)?.0.clone();
        let t = self.table.get(&features)?.0.clone();
        match super::transform::map_batches(&t, |b| m.predict_batch(b)) {
            Ok(table) => Ok(Ok(self.table.push(TableRes(table))?)),
            Err(e) => Ok(Err(e)),
        }
    }

    fn drop(&mut self, h: Resource<ModelRes>) -> R<()> {
        self.table.delete(h)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::StepDevice;

    #[test]
    fn steps_without_grant_gpu_train_on_the_cpu() {
        let mut d = StepDevice::new(false);
        assert_eq!(d.get("train").describe(), "cpu");
        assert_eq!(StepDevice::default().get("train").describe(), "cpu");
    }

    #[test]
    fn grant_gpu_falls_back_to_the_cpu_without_a_usable_gpu() {
        let mut d = StepDevice::new(true);
        let first = d.get("train");
        // Without the feature (or, with it, without a driver or device) the CPU; with a GPU,
        // the GPU. Either way the step keeps its first choice.
        if cfg!(not(feature = "cuda")) {
            assert!(!first.is_gpu());
        }
        assert_eq!(d.get("train").describe(), first.describe());
    }
}
