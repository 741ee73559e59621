//! The state of one step run (the wasmtime `Store` data) and the host values behind the
//! resource handles a guest holds.

use mlp_kernels::data::{ArtifactData, Blob, Table};
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// A table handle.
pub struct TableRes(pub Table);
/// A blob handle.
pub struct BlobRes(pub Blob);
/// A tensor handle.
pub struct TensorRes(pub mlp_tensor::Tensor);
/// Trainable parameters; `None` only while a backward pass borrows them.
pub struct ParamsRes(pub Option<mlp_tensor::Params>);
/// A tape of one forward pass.
pub struct TapeRes(pub mlp_tensor::Tape);
/// A trained model.
pub struct ModelRes(pub std::sync::Arc<mlp_tensor::model::Model>);
/// An optimizer.
pub enum OptimizerRes {
    /// SGD with momentum.
    Sgd(mlp_tensor::optim::Sgd),
    /// Adam or AdamW.
    Adam(mlp_tensor::optim::Adam),
}
/// An input artifact handle.
pub struct ArtifactRes(pub super::InputArtifact);
/// An output handle: the port it writes.
pub struct OutputRes(pub String);
/// The invocation handle (one per run).
pub struct InvocationRes;

/// Everything a step run owns. Dropped with its store when the run ends.
pub struct StepState {
    pub(crate) table: ResourceTable,
    pub(crate) wasi: WasiCtx,
    pub(crate) limits: StoreLimits,
    /// Set when a memory grow was refused by the limit.
    pub(crate) memory_denied: Option<usize>,
    /// Set when the run's cancel flag stopped the guest.
    pub(crate) canceled: bool,
    pub(crate) run: Option<RunData>,
}

impl WasiView for StepState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Wraps [`StoreLimits`] to remember a refused memory grow, so that the trap which follows is
/// reported as "out of memory" rather than as a generic trap.
impl ResourceLimiter for StepState {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let ok = self.limits.memory_growing(current, desired, maximum)?;
        if !ok {
            self.memory_denied = Some(desired);
        }
        Ok(ok)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

/// Something a step sent to the host while running.
#[derive(Clone, Debug, PartialEq)]
pub enum StepEvent {
    /// A log line: level (`trace` to `error`) and message.
    Log {
        /// `trace`, `debug`, `info`, `warn` or `error`.
        level: &'static str,
        /// The line.
        message: String,
    },
    /// Progress from 0 to 1.
    Progress {
        /// Fraction done.
        fraction: f32,
        /// A short note.
        note: String,
    },
    /// A metric value at a step (an epoch, an iteration).
    Metric {
        /// Its name.
        name: String,
        /// The step number.
        step: u64,
        /// The value.
        value: f64,
    },
}

/// The invocation a running step sees, and what it has produced so far.
#[derive(Debug, Default)]
pub(crate) struct RunData {
    pub(crate) step_id: String,
    pub(crate) params_json: String,
    pub(crate) inputs: std::collections::BTreeMap<String, super::InputArtifact>,
    pub(crate) declared: std::collections::BTreeMap<String, (String, bool)>,
    pub(crate) outputs: std::collections::BTreeMap<String, ArtifactData>,
    pub(crate) events: Vec<StepEvent>,
    pub(crate) dropped_events: u64,
    /// Set when the step is a trial of a hyperparameter search.
    pub(crate) trial: Option<super::study::TrialRun>,
    /// The epoch at which the search stopped this trial (`invocation.report` answered true).
    pub(crate) stopped_at_epoch: Option<u64>,
    /// Where the step's tapes compute (the CUDA device with `grant gpu`).
    pub(crate) device: super::training::StepDevice,
}

impl RunData {
    pub(crate) fn new(run: super::StepRun) -> RunData {
        // A new attempt of a trial starts its reports over.
        if let Some(t) = &run.trial {
            t.studies.begin(&t.search, t.index);
        }
        RunData {
            step_id: run.step_id,
            params_json: run.params_json,
            inputs: run.inputs,
            declared: run.outputs,
            outputs: Default::default(),
            events: Vec::new(),
            dropped_events: 0,
            device: super::training::StepDevice::new(run.grants.contains(&super::Grant::Gpu)),
            trial: run.trial,
            stopped_at_epoch: None,
        }
    }
}

/// A decoder handle: text in, tables out (CSV or JSON Lines).
pub struct DecoderRes(pub Box<dyn mlp_kernels::decode::Decoder>);

/// A compiled feature transform.
pub struct TransformRes(pub std::sync::Arc<mlp_transform::CompiledTransform>);

/// A profiler handle; `None` once finished.
pub struct ProfilerRes(pub Option<Box<mlp_kernels::profile::Profiler>>);
