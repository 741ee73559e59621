//! The wasmtime host: loads plugin components, checks them, and runs each step in a sandbox.
//!
//! It sits between the IR (what to run) and the kernels (`mlp-kernels`, the computation behind
//! the resource handles a guest holds). One [`Host`] per process owns the wasmtime engine, the
//! linker with mlp's interfaces and WASI, an epoch ticker thread, and the caches of loaded
//! components. Loading ([`Host::load`]) reads the `.wasm` file, hashes it (BLAKE3), reuses a
//! precompiled copy from the disk cache when one exists for this digest and this engine, checks
//! the component's imports against an allow-list, pre-instantiates it and asks it to describe
//! itself. Running ([`Host::run`]) makes a fresh store with the step's limits and grants,
//! instantiates, calls `run`, and turns every way a guest can fail (an error it returns, a trap,
//! a panic, a timeout, memory exhaustion, outputs that do not match the declaration) into a
//! [`StepError`]. Nothing a guest does can reach the host's memory or files beyond its grants.

mod bindings;
mod cache;
mod imports;
mod ingest;
mod state;
mod study;
mod training;
mod transform;

use crate::host::bindings::Step;
use crate::host::bindings::StepPre;
use crate::host::bindings::mlp::plugin::types as wit;
use crate::host::state::{InvocationRes, StepState};
use mlp_kernels::data::ArtifactData;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreLimitsBuilder, UpdateDeadline,
};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

pub use crate::host::state::StepEvent;
pub use crate::host::study::{StoppingRule, Studies, TrialRun, Verdict, median_rule};

/// The version of the `mlp:plugin` WIT package this host implements.
pub const ABI_VERSION: &str = "0.1.3";

/// Interfaces a component may import, as `namespace:package/interface` prefixes. Everything
/// else is refused at load. WASI is linked so that guests' standard libraries work, but a step
/// is granted nothing by default: no preopened folder, no network, no environment, no
/// arguments; only its standard output and error, which the host captures.
pub const ALLOWED_IMPORTS: &[&str] = &[
    "mlp:plugin/types",
    "mlp:plugin/tables",
    "mlp:plugin/blobs",
    "mlp:plugin/tensors",
    "mlp:plugin/context",
    "wasi:io/",
    "wasi:cli/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:filesystem/",
    "wasi:sockets/",
];

/// How the host is set up.
#[derive(Clone, Debug)]
pub struct HostConfig {
    /// Folder of precompiled components. `None`: compile in memory on every load.
    pub cache_dir: Option<PathBuf>,
    /// Time limit of a step without `limit time`.
    pub default_time_limit: Duration,
    /// Memory limit of a step without `limit memory`, in bytes.
    pub default_memory_limit: u64,
    /// How often the epoch advances; a step overruns its limit by at most about this much.
    pub epoch_tick: Duration,
    /// Whether to try the pooling instance allocator (it falls back to on-demand allocation
    /// when the machine refuses its address-space reservation).
    pub pooling: bool,
    /// Most bytes of a step's standard output or error kept.
    pub max_captured_output: usize,
}

impl Default for HostConfig {
    fn default() -> HostConfig {
        HostConfig {
            cache_dir: default_cache_dir(),
            default_time_limit: Duration::from_secs(3600),
            default_memory_limit: 2 << 30,
            epoch_tick: Duration::from_millis(5),
            pooling: true,
            max_captured_output: 1 << 20,
        }
    }
}

/// `$MLP_CACHE_DIR`, else `$XDG_CACHE_HOME/mlp/components`, else `~/.cache/mlp/components`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("MLP_CACHE_DIR") {
        return Some(PathBuf::from(d).join("components"));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("mlp").join("components"))
}

/// Why a component could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read component `{path}`: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The bytes do not match the digest the pipeline declares.
    #[error("component `{path}` has digest {actual}, but the pipeline declares {expected}")]
    Digest {
        /// The file.
        path: PathBuf,
        /// Declared.
        expected: String,
        /// Computed.
        actual: String,
    },
    /// Not a valid WebAssembly component.
    #[error("`{path}` is not a valid WebAssembly component: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What wasmtime said.
        reason: String,
    },
    /// The component imports something a step may not use.
    #[error("component `{path}` imports `{import}`, which mlp plugins may not use")]
    Import {
        /// The file.
        path: PathBuf,
        /// The refused import.
        import: String,
    },
    /// The component was built against an incompatible version of the WIT package.
    #[error("component `{path}` was built against mlp:plugin {found}; this mlp provides {ABI_VERSION}")]
    Abi {
        /// The file.
        path: PathBuf,
        /// The version it names.
        found: String,
    },
    /// The component failed while describing itself.
    #[error("component `{path}` failed to describe itself: {reason}")]
    Describe {
        /// The file.
        path: PathBuf,
        /// The trap or error.
        reason: String,
    },
}

impl LoadError {
    /// A hint on how to fix it.
    pub fn help(&self) -> String {
        match self {
            LoadError::Read { .. } => "build the plugin (`cargo build --target wasm32-wasip2 --release`) or fix the `wasm` path in its component declaration".into(),
            LoadError::Digest { .. } => "rebuild the component from the source the digest was taken of, or update `digest` in its declaration (`b3sum FILE`)".into(),
            LoadError::Invalid { .. } => "build it for the wasm32-wasip2 target, which emits a component".into(),
            LoadError::Import { .. } => format!(
                "a step may import only mlp's interfaces and WASI ({}); remove the dependency that brings this import in",
                ALLOWED_IMPORTS.join(", ")
            ),
            LoadError::Abi { .. } => format!("rebuild the plugin against mlp-sdk for mlp:plugin {ABI_VERSION}, or upgrade mlp"),
            LoadError::Describe { .. } => "`describe` must return without touching inputs; check the plugin's code".into(),
        }
    }
}

/// What a component says about itself (its `describe`).
#[derive(Clone, Debug, PartialEq)]
pub struct ComponentInfo {
    /// Its name.
    pub name: String,
    /// Its own version.
    pub version: String,
    /// The WIT package version it was built against.
    pub abi_version: String,
    /// Documentation.
    pub doc: String,
    /// Input ports: (name, artifact type, optional).
    pub inputs: Vec<(String, String, bool)>,
    /// Parameters: (name, type as written in `.mlp`, has a default).
    pub params: Vec<(String, String, bool)>,
    /// Output ports: (name, artifact type, optional).
    pub outputs: Vec<(String, String, bool)>,
}

impl From<wit::ComponentInfo> for ComponentInfo {
    fn from(i: wit::ComponentInfo) -> ComponentInfo {
        let port = |p: wit::Port| (p.name, p.artifact_type, p.optional);
        ComponentInfo {
            name: i.name,
            version: i.version,
            abi_version: i.abi_version,
            doc: i.doc,
            inputs: i.inputs.into_iter().map(port).collect(),
            params: i.params.into_iter().map(|p| (p.name, p.type_, p.default_json.is_some())).collect(),
            outputs: i.outputs.into_iter().map(port).collect(),
        }
    }
}

/// A component ready to run: compiled, checked and pre-instantiated.
pub struct LoadedComponent {
    /// The file it came from.
    pub path: PathBuf,
    /// `blake3:HEX` of its bytes.
    pub digest: String,
    /// What it says about itself.
    pub info: ComponentInfo,
    /// Whether the compiled code came from the disk cache.
    pub from_cache: bool,
    pre: StepPre<StepState>,
}

impl std::fmt::Debug for LoadedComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedComponent").field("path", &self.path).field("digest", &self.digest).finish()
    }
}

/// A capability granted to a step, with host paths resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grant {
    /// Read this file or folder.
    Read(PathBuf),
    /// Create and write files under this folder.
    Write(PathBuf),
    /// Connect to `host:port` (or any port of `host`).
    Net(String),
    /// Train on a GPU: the step's tapes use the CUDA device when this host is built with the
    /// `cuda` feature and one opens, the CPU otherwise (`training::StepDevice`).
    Gpu,
}

/// An input artifact with its content digest.
#[derive(Clone, Debug)]
pub struct InputArtifact {
    /// The content.
    pub data: Arc<ArtifactData>,
    /// `blake3:HEX` of the content.
    pub digest: String,
}

/// Everything one step run needs.
#[derive(Clone, Debug, Default)]
pub struct StepRun {
    /// The step id.
    pub step_id: String,
    /// Resolved parameters, a JSON object in the IR encoding.
    pub params_json: String,
    /// Inputs by port.
    pub inputs: BTreeMap<String, InputArtifact>,
    /// Declared outputs: port to (artifact type, optional).
    pub outputs: BTreeMap<String, (String, bool)>,
    /// Capabilities.
    pub grants: Vec<Grant>,
    /// Time limit; `None` takes the host's default.
    pub time_limit: Option<Duration>,
    /// Memory limit in bytes; `None` takes the host's default.
    pub memory_limit: Option<u64>,
    /// Set to true to stop the step (Ctrl-C): it fails with [`StepErrorKind::Canceled`] within
    /// about one epoch tick.
    pub cancel: Option<Arc<AtomicBool>>,
    /// Set when the step is a trial of a hyperparameter search: its reports go to the run's
    /// studies, and every output it writes gets the property `trial`.
    pub trial: Option<TrialRun>,
}

/// What a successful step produced.
#[derive(Debug, Default)]
pub struct StepOutput {
    /// Outputs by port.
    pub outputs: BTreeMap<String, ArtifactData>,
    /// Logs, progress and metrics, in the order the step sent them.
    pub events: Vec<StepEvent>,
    /// What the step wrote to standard output and error.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Wall time of instantiate plus run.
    pub elapsed: Duration,
}

/// How a step failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepErrorKind {
    /// The plugin returned an error (its kind as the plugin named it).
    Plugin(String),
    /// The guest trapped (a panic, an `unreachable`, an out-of-bounds access).
    Trap,
    /// The step ran past its time limit.
    Timeout,
    /// The step asked for more memory than its limit.
    Memory,
    /// The step's outputs do not match its declaration.
    Outputs,
    /// The host could not set the step up (a grant that does not exist).
    Setup,
    /// The run was canceled while the step ran.
    Canceled,
}

/// A failed step, with everything the user needs to see why.
#[derive(Clone, Debug, thiserror::Error)]
#[error("step `{step}` failed: {message}")]
pub struct StepError {
    /// The step id.
    pub step: String,
    /// What kind of failure.
    pub kind: StepErrorKind,
    /// One line.
    pub message: String,
    /// Extra detail: the plugin's detail, a panic message, the guest backtrace.
    pub detail: Option<String>,
    /// What the step wrote to standard error (a panic message lands here).
    pub stderr: String,
    /// Logs and metrics sent before it failed.
    pub events: Vec<StepEvent>,
}

/// The process-wide wasmtime host.
pub struct Host {
    engine: Engine,
    linker: Linker<StepState>,
    config: HostConfig,
    pooling: bool,
    loaded: Mutex<HashMap<String, Arc<LoadedComponent>>>,
    ticker: Option<std::thread::JoinHandle<()>>,
    stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host").field("config", &self.config).field("pooling", &self.pooling).finish()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
}

/// Errors setting the host up.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the WebAssembly host: {0}")]
pub struct HostError(String);

fn engine_config(pooling: bool) -> Config {
    let mut c = Config::new();
    c.wasm_component_model(true);
    c.epoch_interruption(true);
    if pooling {
        let mut p = PoolingAllocationConfig::default();
        // Enough slots for the steps a machine runs at once; each memory reserves address
        // space (not RAM) for 4 GiB plus guards.
        p.total_component_instances(64);
        p.total_core_instances(256);
        p.total_memories(128);
        p.total_tables(128);
        p.max_memory_size(4 << 30);
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(p));
    }
    c
}

impl Host {
    /// A host with `config`. Tries the pooling allocator first (when asked) and falls back to
    /// on-demand allocation where the machine refuses it.
    pub fn new(config: HostConfig) -> Result<Host, HostError> {
        let (engine, pooling) = if config.pooling {
            match Engine::new(&engine_config(true)) {
                Ok(e) => (e, true),
                Err(_) => (Engine::new(&engine_config(false)).map_err(|e| HostError(e.to_string()))?, false),
            }
        } else {
            (Engine::new(&engine_config(false)).map_err(|e| HostError(e.to_string()))?, false)
        };
        let mut linker = Linker::<StepState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| HostError(e.to_string()))?;
        Step::add_to_linker::<StepState, wasmtime::component::HasSelf<StepState>>(&mut linker, |s| s)
            .map_err(|e| HostError(e.to_string()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let engine = engine.clone();
            let stop = stop.clone();
            let tick = config.epoch_tick;
            std::thread::Builder::new()
                .name("mlp-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(tick);
                        engine.increment_epoch();
                    }
                })
                .map_err(|e| HostError(e.to_string()))?
        };
        Ok(Host { engine, linker, config, pooling, loaded: Mutex::default(), ticker: Some(ticker), stop })
    }

    /// Whether the pooling allocator is in use.
    pub fn pooling(&self) -> bool {
        self.pooling
    }

    /// The configuration.
    pub fn config(&self) -> &HostConfig {
        &self.config
    }

    /// Forgets the components loaded so far (their compiled code stays in the disk cache), so
    /// the next [`Host::load`] reads the file again.
    pub fn forget_loaded(&self) {
        if let Ok(mut l) = self.loaded.lock() {
            l.clear();
        }
    }

    /// Loads the component at `path`, checking it against `expected_digest` when given.
    /// Components are cached in memory by digest for the life of the host, and their compiled
    /// code on disk (see [`HostConfig::cache_dir`]).
    pub fn load(&self, path: &Path, expected_digest: Option<&str>) -> Result<Arc<LoadedComponent>, LoadError> {
        let bytes =
            std::fs::read(path).map_err(|e| LoadError::Read { path: path.to_path_buf(), reason: io_reason(&e) })?;
        self.load_bytes(path, &bytes, expected_digest)
    }

    /// Like [`Host::load`], from bytes already read; `path` names them in messages.
    pub fn load_bytes(
        &self,
        path: &Path,
        bytes: &[u8],
        expected_digest: Option<&str>,
    ) -> Result<Arc<LoadedComponent>, LoadError> {
        let digest = format!("blake3:{}", blake3::hash(bytes).to_hex());
        if let Some(expected) = expected_digest
            && expected != digest
        {
            return Err(LoadError::Digest { path: path.into(), expected: expected.into(), actual: digest });
        }
        if let Some(c) = self.loaded.lock().map_err(|_| poisoned(path))?.get(&digest) {
            return Ok(c.clone());
        }
        let (component, from_cache) = cache::compile(&self.engine, self.config.cache_dir.as_deref(), &digest, bytes)
            .map_err(|reason| LoadError::Invalid { path: path.into(), reason })?;
        check_imports(&self.engine, &component, path)?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::Invalid { path: path.into(), reason: format!("{e:#}") })?;
        let pre = StepPre::new(pre).map_err(|e| LoadError::Invalid { path: path.into(), reason: format!("{e:#}") })?;
        let info = self.describe(&pre, path)?;
        if !abi_compatible(&info.abi_version) {
            return Err(LoadError::Abi { path: path.into(), found: info.abi_version });
        }
        let loaded = Arc::new(LoadedComponent { path: path.into(), digest: digest.clone(), info, from_cache, pre });
        self.loaded.lock().map_err(|_| poisoned(path))?.insert(digest, loaded.clone());
        Ok(loaded)
    }

    fn describe(&self, pre: &StepPre<StepState>, path: &Path) -> Result<ComponentInfo, LoadError> {
        let err = |e: wasmtime::Error| LoadError::Describe { path: path.into(), reason: format!("{e:#}") };
        let mut store = self.store(sandbox().build(), 256 << 20, Duration::from_secs(10), None, None);
        let step = pre.instantiate(&mut store).map_err(err)?;
        let info = step.mlp_plugin_plugin().call_describe(&mut store).map_err(err)?;
        Ok(info.into())
    }

    fn store(
        &self,
        wasi: wasmtime_wasi::WasiCtx,
        memory: u64,
        time: Duration,
        run: Option<state::RunData>,
        cancel: Option<Arc<AtomicBool>>,
    ) -> Store<StepState> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(usize::try_from(memory).unwrap_or(usize::MAX))
            .instances(64)
            .tables(64)
            .memories(16)
            .trap_on_grow_failure(false)
            .build();
        let state = StepState { table: ResourceTable::new(), wasi, limits, memory_denied: None, canceled: false, run };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| s);
        // Every epoch tick, the callback checks the time limit and the cancel flag, so a step
        // stops within about one tick of either.
        let deadline = Instant::now() + time;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |mut ctx| {
            if cancel.as_ref().is_some_and(|c| c.load(Ordering::Relaxed)) {
                ctx.data_mut().canceled = true;
                return Ok(UpdateDeadline::Interrupt);
            }
            if Instant::now() >= deadline {
                return Ok(UpdateDeadline::Interrupt);
            }
            Ok(UpdateDeadline::Continue(1))
        });
        store
    }

    /// Runs one step of `component` in a fresh store. Every failure of the guest comes back
    /// as a [`StepError`]; the host and other steps are never affected.
    // A step error carries the step's log and standard error for the user; it is built once
    // per failed step, so its size costs nothing that matters.
    #[allow(clippy::result_large_err)]
    pub fn run(&self, component: &LoadedComponent, run: StepRun) -> Result<StepOutput, StepError> {
        let started = Instant::now();
        let step_id = run.step_id.clone();
        let fail = |kind, message: String, detail: Option<String>| StepError {
            step: step_id.clone(),
            kind,
            message,
            detail,
            stderr: String::new(),
            events: Vec::new(),
        };
        let cap = self.config.max_captured_output;
        let stdout = MemoryOutputPipe::new(cap);
        let stderr = MemoryOutputPipe::new(cap);
        let mut wasi = sandbox();
        wasi.stdout(stdout.clone()).stderr(stderr.clone());
        let mut private = PrivateDirs::default();
        let mut nets = Vec::new();
        for g in &run.grants {
            let granted = match g {
                Grant::Read(p) => grant_path(&mut wasi, &mut private, p, false),
                Grant::Write(p) => grant_path(&mut wasi, &mut private, p, true),
                Grant::Net(target) => {
                    nets.push(target.clone());
                    Ok(())
                }
                // Chosen by the first tape the step creates, not a WASI capability.
                Grant::Gpu => Ok(()),
            };
            granted.map_err(|m| fail(StepErrorKind::Setup, m, None))?;
        }
        // Without a net grant, no socket of any kind; with one, TCP to the granted addresses.
        wasi.allow_tcp(!nets.is_empty());
        if !nets.is_empty() {
            let allowed = resolve_net_grants(&nets).map_err(|m| fail(StepErrorKind::Setup, m, None))?;
            wasi.allow_ip_name_lookup(true);
            wasi.socket_addr_check(move |addr, use_| {
                let ok = match use_ {
                    // Outgoing connections go only to granted addresses.
                    SocketAddrUse::TcpConnect => {
                        allowed.iter().any(|(ip, port)| *ip == addr.ip() && port.is_none_or(|p| p == addr.port()))
                    }
                    // The implicit bind of a connect, to the wildcard address and any port.
                    SocketAddrUse::TcpBind => addr.ip().is_unspecified() && addr.port() == 0,
                    // No listening, accepting or UDP.
                    _ => false,
                };
                Box::pin(async move { ok })
            });
        }
        let memory = run.memory_limit.unwrap_or(self.config.default_memory_limit);
        let time = run.time_limit.unwrap_or(self.config.default_time_limit);
        let declared = run.outputs.clone();
        let cancel = run.cancel.clone();
        let data = state::RunData::new(run);
        let mut store = self.store(wasi.build(), memory, time, Some(data), cancel);
        let result = (|| {
            let step = component.pre.instantiate(&mut store)?;
            let inv = store.data_mut().table.push(InvocationRes)?;
            step.mlp_plugin_plugin().call_run(&mut store, inv)
        })();
        let stderr_text = String::from_utf8_lossy(&stderr.contents()).into_owned();
        let stdout_text = String::from_utf8_lossy(&stdout.contents()).into_owned();
        let memory_denied = store.data().memory_denied;
        let canceled = store.data().canceled;
        let mut data = store.into_data().run.unwrap_or_default();
        let events = std::mem::take(&mut data.events);
        let with_output = |mut e: StepError| {
            e.stderr = stderr_text.clone();
            e.events = events.clone();
            e
        };
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let kind = match e.kind {
                    wit::ErrorKind::InvalidArgument => "invalid-argument",
                    wit::ErrorKind::NotFound => "not-found",
                    wit::ErrorKind::Denied => "denied",
                    wit::ErrorKind::Limit => "limit",
                    wit::ErrorKind::Data => "data",
                    wit::ErrorKind::Other => "other",
                }
                .to_string();
                return Err(with_output(fail(StepErrorKind::Plugin(kind), e.message, e.detail)));
            }
            Err(_) if canceled => {
                return Err(with_output(fail(StepErrorKind::Canceled, "the run was canceled".into(), None)));
            }
            Err(e) => return Err(with_output(classify_trap(&step_id, e, memory_denied, memory, time, &stderr_text))),
        }
        for (port, (ty, optional)) in &declared {
            if !optional && !data.outputs.contains_key(port) {
                return Err(with_output(fail(
                    StepErrorKind::Outputs,
                    format!("the step finished without writing its output `{port}` ({ty})"),
                    Some("every output a component declares must be written: call `output(port)` and put a table, a blob or a property".into()),
                )));
            }
        }
        let trial = data.trial.as_ref().map(|t| t.property(data.stopped_at_epoch));
        let mut outputs = BTreeMap::new();
        for (port, mut art) in std::mem::take(&mut data.outputs) {
            art.artifact_type = declared.get(&port).map(|(t, _)| t.clone()).unwrap_or_default();
            if let Some(trial) = &trial {
                art.properties.insert("trial".into(), trial.clone());
            }
            outputs.insert(port, art);
        }
        Ok(StepOutput { outputs, events, stdout: stdout_text, stderr: stderr_text, elapsed: started.elapsed() })
    }
}

fn poisoned(path: &Path) -> LoadError {
    LoadError::Invalid { path: path.into(), reason: "an earlier load panicked".into() }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "file not found".into(),
        _ => e.to_string(),
    }
}

/// Whether a plugin built against WIT `version` can run here: same major (or, before 1.0, same
/// minor) and not newer than this host.
pub fn abi_compatible(version: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64, u64)> {
        let mut it = v.split('.').map(|p| p.parse::<u64>().ok());
        Some((it.next()??, it.next()??, it.next()??))
    };
    let (Some(have), Some(want)) = (parse(ABI_VERSION), parse(version)) else { return false };
    if have.0 != want.0 {
        return false;
    }
    if have.0 == 0 && have.1 != want.1 {
        return false;
    }
    want <= have
}

/// Refuses any import not under [`ALLOWED_IMPORTS`], and mlp interfaces of another version.
fn check_imports(engine: &Engine, component: &Component, path: &Path) -> Result<(), LoadError> {
    for (name, _) in component.component_type().imports(engine) {
        let (iface, version) = name.split_once('@').unwrap_or((name, ""));
        let allowed = ALLOWED_IMPORTS.iter().any(|a| if a.ends_with('/') { iface.starts_with(a) } else { iface == *a });
        if !allowed {
            return Err(LoadError::Import { path: path.into(), import: name.to_string() });
        }
        if iface.starts_with("mlp:plugin/") && !abi_compatible(version) {
            return Err(LoadError::Abi { path: path.into(), found: version.to_string() });
        }
    }
    Ok(())
}

/// The WASI context every store starts from: no arguments, no environment, no preopened
/// folder, no standard input, no sockets and no name lookups. Grants add to it.
fn sandbox() -> WasiCtxBuilder {
    let mut b = WasiCtxBuilder::new();
    b.allow_tcp(false).allow_udp(false).allow_ip_name_lookup(false);
    b
}

/// Private folders made for file grants during one run, removed when it ends.
#[derive(Default)]
struct PrivateDirs(Vec<PathBuf>);

impl Drop for PrivateDirs {
    fn drop(&mut self) {
        for d in &self.0 {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// Preopens a granted path at the same absolute path in the guest. A granted file is exposed
/// through its folder, but the folder's other entries stay invisible: the host gives the guest a
/// private folder, made for this run, holding only a link to (or a copy of) that file.
fn grant_path(wasi: &mut WasiCtxBuilder, private: &mut PrivateDirs, path: &Path, write: bool) -> Result<(), String> {
    let perms = if write { FsPerms::ReadWrite } else { FsPerms::ReadOnly };
    if write {
        std::fs::create_dir_all(path).map_err(|e| format!("cannot create granted folder `{}`: {e}", path.display()))?;
    }
    let meta = std::fs::metadata(path).map_err(|e| format!("granted path `{}`: {}", path.display(), io_reason(&e)))?;
    let guest = path.to_string_lossy().into_owned();
    if meta.is_dir() {
        wasi.preopened_dir(path, &guest, perms).map_err(|e| format!("cannot grant `{}`: {e}", path.display()))?;
        return Ok(());
    }
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(format!("cannot grant `{}`: it has no folder", path.display()));
    };
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("mlp-grant-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot grant `{}`: {e}", path.display()))?;
    private.0.push(dir.clone());
    let link = dir.join(name);
    if std::fs::hard_link(path, &link).is_err() {
        std::fs::copy(path, &link).map_err(|e| format!("cannot grant `{}`: {e}", path.display()))?;
    }
    wasi.preopened_dir(&dir, parent.to_string_lossy(), FsPerms::ReadOnly)
        .map_err(|e| format!("cannot grant `{}`: {e}", path.display()))?;
    Ok(())
}

fn resolve_net_grants(targets: &[String]) -> Result<Vec<(std::net::IpAddr, Option<u16>)>, String> {
    use std::net::ToSocketAddrs;
    let mut out = Vec::new();
    for t in targets {
        let (host, port) = match t.rsplit_once(':') {
            Some((h, p)) if p.parse::<u16>().is_ok() => (h, p.parse::<u16>().ok()),
            _ => (t.as_str(), None),
        };
        let addrs = (host, port.unwrap_or(0))
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve granted host `{host}`: {e}"))?;
        out.extend(addrs.map(|a| (a.ip(), port)));
    }
    Ok(out)
}

fn classify_trap(
    step: &str,
    e: wasmtime::Error,
    memory_denied: Option<usize>,
    memory: u64,
    time: Duration,
    stderr: &str,
) -> StepError {
    let backtrace = e.downcast_ref::<wasmtime::WasmBacktrace>().map(|b| b.to_string());
    let trap = e.downcast_ref::<wasmtime::Trap>().copied();
    let panic = panic_message(stderr);
    let (kind, message) = if trap == Some(wasmtime::Trap::Interrupt) {
        (StepErrorKind::Timeout, format!("the step ran past its time limit of {}", human_duration(time)))
    } else if let Some(want) = memory_denied {
        (
            StepErrorKind::Memory,
            format!(
                "the step needed more than its memory limit of {} (it asked for {})",
                human_size(memory),
                human_size(want as u64)
            ),
        )
    } else if let Some(p) = &panic {
        (StepErrorKind::Trap, format!("the plugin panicked: {p}"))
    } else {
        let what = trap.map(|t| t.to_string()).unwrap_or_else(|| format!("{e:#}"));
        (StepErrorKind::Trap, format!("the plugin trapped: {what}"))
    };
    StepError { step: step.into(), kind, message, detail: backtrace, stderr: String::new(), events: Vec::new() }
}

/// The message of a Rust panic printed by the guest's standard library, if there is one.
fn panic_message(stderr: &str) -> Option<String> {
    let at = stderr.find("panicked at ")?;
    let rest = &stderr[at..];
    // `panicked at src/lib.rs:10:5:\nMESSAGE\nnote: ...`
    let after = rest.split_once('\n').map(|x| x.1).unwrap_or("");
    let msg: Vec<&str> = after.lines().take_while(|l| !l.starts_with("note:")).collect();
    let loc = rest.lines().next().unwrap_or("").trim_start_matches("panicked at ").trim_end_matches(':');
    Some(format!("{} (at {loc})", msg.join("\n").trim()))
}

fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) { format!("{}s", ms / 1000) } else { format!("{ms}ms") }
}

fn human_size(b: u64) -> String {
    const UNITS: &[(&str, u64)] = &[("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (u, n) in UNITS {
        if b >= *n {
            return format!("{:.1} {u}", b as f64 / *n as f64);
        }
    }
    format!("{b} B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abi_versions_before_one_need_the_same_minor_and_no_newer_patch() {
        assert!(abi_compatible("0.1.0"));
        assert!(abi_compatible("0.1.1"));
        assert!(abi_compatible("0.1.2"));
        assert!(abi_compatible("0.1.3"));
        assert!(!abi_compatible("0.1.4"));
        assert!(!abi_compatible("0.2.0"));
        assert!(!abi_compatible("1.1.0"));
        assert!(!abi_compatible("0.1.99"));
        assert!(!abi_compatible("zero"));
    }

    #[test]
    fn panic_message_is_read_from_stderr() {
        let s = "\nthread '<unnamed>' panicked at src/lib.rs:10:5:\nboom: 42\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(panic_message(s).as_deref(), Some("boom: 42 (at src/lib.rs:10:5)"));
        assert_eq!(panic_message("plain text"), None);
    }

    #[test]
    fn sizes_and_durations_read_naturally() {
        assert_eq!(human_size(64 << 20), "64.0 MiB");
        assert_eq!(human_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(human_duration(Duration::from_secs(2)), "2s");
    }
}
