//! Runs a lowered pipeline (the IR) on the wasmtime host, step by step in dependency order,
//! passing artifacts between steps in memory.
//!
//! Before anything runs, every step's component is loaded and its self-description is checked
//! against the step's declaration in the `.mlp` file (ports, artifact types, parameters), so a
//! mismatch is reported at once with the file and line of the step. Then the executor (tokio)
//! starts every step whose dependencies are done, up to a parallelism limit, each on the
//! blocking pool: a step whose `when` is false is skipped, a failed step is retried as its
//! `retry` option allows, and when a step fails its dependents are skipped while independent
//! branches go on; every failure is reported at the end. Canceling (Ctrl-C) stops running steps
//! within an epoch tick and skips the rest.
//!
//! With a store (`RunOptions::store`), every run, execution and artifact is recorded in the
//! lineage store, outputs are written to the artifact store before their execution is marked
//! complete, and a step whose cache key (component digest, parameters, grants, input digests,
//! WIT version) matches a completed execution reuses its outputs. A step that re-runs and
//! produces the same bytes leaves its dependents' keys unchanged, so they stay cached. After a
//! crash, running again reuses every completed step; runs a dead process left running are
//! settled as canceled when the store is opened.

use crate::host::{
    ComponentInfo, Grant, Host, InputArtifact, LoadError, LoadedComponent, StepError, StepErrorKind, StepEvent,
    StepOutput, StepRun, StoppingRule, Studies, TrialRun,
};
use mlp_lang::ir::{Ir, IrExpr, Resolve, Source, Step, Trial, Value};
use mlp_lang::syntax::ast::{BinOp, UnOp};
pub use mlp_store::artifact_digest;
use mlp_store::artifacts::{ArtifactStore, StoredArtifact};
use mlp_store::lineage::{ArtifactId, ExecutionId, ExecutionSpec, LineageError, LineageStore, RunId, RunState};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A problem found before any step ran.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// A component could not be loaded.
    #[error("{source_loc}: step `{step}`: {error}")]
    Load {
        /// The step.
        step: String,
        /// `file:line` of the step.
        source_loc: String,
        /// Why.
        error: LoadError,
    },
    /// A component's self-description does not match its declaration.
    #[error("{source_loc}: step `{step}`: component `{component}` does not match its declaration: {mismatch}")]
    Signature {
        /// The step.
        step: String,
        /// `file:line` of the step.
        source_loc: String,
        /// The component (`file#name`).
        component: String,
        /// What differs.
        mismatch: String,
    },
    /// The store could not be opened or written.
    #[error("store `{}`: {message}", root.display())]
    Store {
        /// The store root.
        root: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The async runtime could not start.
    #[error("cannot start the executor: {0}")]
    Runtime(String),
    /// The step uses a standard-library component that is not built into this mlp.
    #[error(
        "{source_loc}: step `{step}`: the standard-library component `{wasm}` is not available in this build of mlp"
    )]
    Stdlib {
        /// The step.
        step: String,
        /// `file:line` of the step.
        source_loc: String,
        /// The wasm key.
        wasm: String,
    },
}

impl PrepareError {
    /// A hint on how to fix it.
    pub fn help(&self) -> String {
        match self {
            PrepareError::Load { error, .. } => error.help(),
            PrepareError::Signature { .. } => "make the component's `describe` and its `component` block in the .mlp file agree (names, artifact types, parameters), then rebuild".into(),
            PrepareError::Store { .. } => "run `mlp doctor` on the store, or pass another folder with --store".into(),
            PrepareError::Runtime(_) => "the machine refused a thread; free some resources and run again".into(),
            PrepareError::Stdlib { .. } => format!(
                "`mlp check` and `mlp graph` work on it, but this build of mlp does not carry that component yet; the standard components it carries are: {}",
                crate::stdlib_components().join(", ")
            ),
        }
    }
}

/// What happened to one step.
#[derive(Debug)]
pub enum StepStatus {
    /// It ran and produced its outputs.
    Succeeded,
    /// It did not run: an earlier execution with the same cache key produced its outputs.
    Cached,
    /// It failed (after its retries).
    Failed(StepError),
    /// It did not run: its condition was false, or an input it needs was not produced.
    Skipped(String),
}

/// The report of one step.
#[derive(Debug)]
pub struct StepReport {
    /// The step id.
    pub id: String,
    /// What happened.
    pub status: StepStatus,
    /// Attempts made (1 without retries).
    pub attempts: u32,
    /// Wall time of the last attempt.
    pub elapsed: Duration,
    /// Outputs produced: port to artifact.
    pub outputs: BTreeMap<String, InputArtifact>,
    /// Logs, progress and metrics.
    pub events: Vec<StepEvent>,
    /// What the step wrote to standard error.
    pub stderr: String,
    /// Its execution in the lineage store, when the run has a store.
    pub execution: Option<ExecutionId>,
}

/// The report of a pipeline run.
#[derive(Debug, Default)]
pub struct RunReport {
    /// Steps in the IR's order.
    pub steps: Vec<StepReport>,
    /// Whether the run was canceled.
    pub canceled: bool,
    /// The run in the lineage store, when the run has a store.
    pub run: Option<RunId>,
}

impl RunReport {
    /// Steps that failed.
    pub fn failures(&self) -> impl Iterator<Item = (&str, &StepError)> {
        self.steps.iter().filter_map(|s| match &s.status {
            StepStatus::Failed(e) => Some((s.id.as_str(), e)),
            _ => None,
        })
    }

    /// The artifact a step produced on a port.
    pub fn artifact(&self, step: &str, port: &str) -> Option<&InputArtifact> {
        self.steps.iter().find(|s| s.id == step)?.outputs.get(port)
    }
}

/// What the runner tells its caller as it goes.
#[derive(Debug)]
pub enum Progress<'a> {
    /// A step starts (attempt number from 1).
    Started(&'a str, u32),
    /// A step finished.
    Finished(&'a StepReport),
    /// About every 50 ms while steps run: the steps running and for how long, and how many of
    /// all the steps are settled. For live views.
    Tick {
        /// Running steps and their time so far, in the IR's order.
        running: Vec<(&'a str, Duration)>,
        /// Steps settled (ran, cached, skipped or failed).
        done: usize,
        /// All steps.
        total: usize,
    },
}

/// Loads every component of `ir` and checks it against its declaration. `root_dir` is the
/// folder of the root pipeline file, which relative paths in the IR are relative to.
pub fn prepare(host: &Host, ir: &Ir, root_dir: &Path) -> Result<Vec<Arc<LoadedComponent>>, Vec<PrepareError>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for step in &ir.steps {
        let loc = format!("{}:{}", step.source.0, step.source.1);
        let loaded = if step.wasm.starts_with(mlp_lang::source::STD_PREFIX) {
            match crate::stdlib_component(&step.wasm) {
                Some(bytes) => host.load_bytes(Path::new(&step.wasm), bytes, step.digest.as_deref()),
                None => {
                    errors.push(PrepareError::Stdlib {
                        step: step.id.clone(),
                        source_loc: loc,
                        wasm: step.wasm.clone(),
                    });
                    continue;
                }
            }
        } else {
            host.load(&root_dir.join(&step.wasm), step.digest.as_deref())
        };
        match loaded {
            Ok(c) => match signature_mismatch(step, &c.info) {
                None => out.push(c),
                Some(mismatch) => errors.push(PrepareError::Signature {
                    step: step.id.clone(),
                    source_loc: loc,
                    component: step.component.clone(),
                    mismatch,
                }),
            },
            Err(error) => errors.push(PrepareError::Load { step: step.id.clone(), source_loc: loc, error }),
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// The first difference between a component's description and the step's declaration.
/// An input `PORT.N` (`N` a decimal index) is one of the bindings of a declared input `PORT`
/// (a search step's `trials.0`, `trials.1`, ...); a required `PORT` needs at least one.
fn signature_mismatch(step: &Step, info: &ComponentInfo) -> Option<String> {
    let ports = |v: &[(String, String, bool)]| -> BTreeMap<String, String> {
        v.iter().map(|(n, t, _)| (n.clone(), t.clone())).collect()
    };
    let have_in = ports(&info.inputs);
    for (port, input) in &step.inputs {
        let declared = have_in.get(port).or_else(|| repeated_port(port).and_then(|base| have_in.get(base)));
        match declared {
            None => return Some(format!("it has no input `{port}` (it has: {})", list(have_in.keys()))),
            Some(t) if *t != input.ty => {
                return Some(format!("its input `{port}` takes {t}, the declaration says {}", input.ty));
            }
            _ => {}
        }
    }
    for (n, _, optional) in &info.inputs {
        let given = step.inputs.keys().any(|p| p == n || repeated_port(p) == Some(n.as_str()));
        if !optional && !given {
            return Some(format!("it needs input `{n}`, which the declaration does not have"));
        }
    }
    let have_out = ports(&info.outputs);
    for (port, ty) in &step.outputs {
        match have_out.get(port) {
            None => return Some(format!("it has no output `{port}` (it has: {})", list(have_out.keys()))),
            Some(t) if t != ty => return Some(format!("its output `{port}` is {t}, the declaration says {ty}")),
            _ => {}
        }
    }
    for port in have_out.keys() {
        if !step.outputs.contains_key(port) {
            return Some(format!("it writes output `{port}`, which the declaration does not have"));
        }
    }
    for name in step.params.keys() {
        if !info.params.iter().any(|(n, _, _)| n == name) {
            let names: Vec<&String> = info.params.iter().map(|p| &p.0).collect();
            return Some(format!("it takes no parameter `{name}` (it takes: {})", list(names.into_iter())));
        }
    }
    None
}

/// `PORT` of a repeated input port `PORT.N` (`N` a decimal index): the search step's
/// `trials.0`, `trials.1`, ... all bind the component's one input `trials`.
fn repeated_port(port: &str) -> Option<&str> {
    let (base, n) = port.rsplit_once('.')?;
    (!base.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())).then_some(base)
}

fn list<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let v: Vec<&str> = names.map(String::as_str).collect();
    if v.is_empty() { "none".into() } else { v.join(", ") }
}

/// How a run is executed.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Most steps running at once (at least 1). Default: the number of cores.
    pub parallelism: usize,
    /// Set to true to cancel the run: running steps stop within an epoch tick, pending steps
    /// are skipped, and the report says the run was canceled.
    pub cancel: Arc<AtomicBool>,
    /// Whether Ctrl-C (SIGINT) cancels the run. For the command line; an embedder that owns
    /// its signals leaves it off and sets `cancel` itself.
    pub ctrl_c: bool,
    /// The store (artifact folders and lineage database) to record the run in and reuse
    /// results from. `None`: artifacts live in memory only and nothing is reused.
    pub store: Option<PathBuf>,
    /// Whether a step may reuse the outputs of an earlier execution with the same cache key
    /// (`--no-cache` turns it off; a step's `cache off` turns it off for that step).
    pub use_cache: bool,
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions {
            parallelism: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cancel: Arc::new(AtomicBool::new(false)),
            ctrl_c: false,
            store: None,
            use_cache: true,
        }
    }
}

/// A step's place in the schedule.
enum Slot {
    Waiting,
    Running,
    Done,
}

/// What a blocking task hands back to the scheduler.
enum Outcome {
    /// One attempt ran: its result, and its outputs as stored (when there is a store).
    Ran(usize, Result<(StepOutput, Vec<(String, StoredArtifact)>), StepError>),
    /// A cached step's outputs were read back from the artifact store (or could not be).
    Loaded(usize, Result<Vec<(String, Produced)>, String>),
}

/// The cache key of a step: the component's bytes (digest), the resolved parameters, the
/// grants and the content of what they let the step read, the content digests of the inputs by
/// port, the host's WIT version, and for a trial of a search its search, index and stopping
/// rule.
pub fn cache_key(component_digest: &str, request: &StepRun) -> String {
    let mut h = blake3::Hasher::new();
    h.update(b"mlp-cache-v1\0");
    h.update(crate::host::ABI_VERSION.as_bytes());
    h.update(b"\0");
    h.update(component_digest.as_bytes());
    h.update(b"\0");
    h.update(request.params_json.as_bytes());
    h.update(b"\0");
    let mut grants: Vec<String> = request.grants.iter().map(|g| format!("{g:?}")).collect();
    grants.sort();
    for g in grants {
        h.update(g.as_bytes());
        h.update(b"\0");
    }
    // What a step may read is an input too: a changed byte in a granted file changes the key.
    for g in &request.grants {
        if let Grant::Read(path) = g {
            fingerprint(path, &mut h);
        }
    }
    for (port, a) in &request.inputs {
        h.update(port.as_bytes());
        h.update(b"=");
        h.update(a.digest.as_bytes());
        h.update(b"\0");
    }
    // A trial's outputs carry its place in the search (the `trial` property), so two trials
    // with the same parameters are different steps; and a stopping rule can cut its training
    // short. Its point is among the parameters already. The number of trials is left out, so
    // that a longer search reuses the trials it shares with a shorter one (their `trial`
    // property keeps the `of` they were made with).
    if let Some(t) = &request.trial {
        h.update(b"trial\0");
        h.update(t.search.as_bytes());
        h.update(format!("\0{}\0{:?}\0", t.index, t.early_stopping).as_bytes());
    }
    format!("blake3:{}", h.finalize().to_hex())
}

/// Hashes the content of a granted file, or of every file under a granted folder (names in
/// order, with their contents), into `h`. Unreadable entries hash their error, so a key never
/// silently ignores part of what a step reads.
fn fingerprint(path: &Path, h: &mut blake3::Hasher) {
    h.update(path.to_string_lossy().as_bytes());
    h.update(b"\0");
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => {
            let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
                Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
                Err(e) => {
                    h.update(e.to_string().as_bytes());
                    return;
                }
            };
            entries.sort();
            for e in entries {
                fingerprint(&e, h);
            }
        }
        Ok(_) => match std::fs::File::open(path) {
            Ok(f) => {
                if let Err(e) = h.update_reader(f) {
                    h.update(e.to_string().as_bytes());
                }
            }
            Err(e) => {
                h.update(e.to_string().as_bytes());
            }
        },
        Err(e) => {
            h.update(e.to_string().as_bytes());
        }
    }
    h.update(b"\0");
}

/// Runs `ir`: [`prepare`], then the steps as their inputs become ready, up to
/// `options.parallelism` at once, each attempt on tokio's blocking pool. With a store, every
/// execution and artifact is recorded, and a step whose cache key matches a completed execution
/// reuses its outputs instead of running. A failed step (after its retries) skips its
/// dependents; independent branches go on, and every failure is in the report. `progress`
/// hears of each step, always from the calling thread.
pub fn run(
    host: &Arc<Host>,
    ir: &Ir,
    root_dir: &Path,
    options: &RunOptions,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<RunReport, Vec<PrepareError>> {
    let components = prepare(host, ir, root_dir)?;
    let store = match &options.store {
        Some(root) => Some(open_store(root).map_err(|e| vec![e])?),
        None => None,
    };
    // The scheduler itself keeps at most `parallelism` steps running. The blocking pool needs
    // room beyond them: WASI's synchronous filesystem calls from inside a step (reading a
    // granted file) hand their work to this same pool and wait for it, so a pool no larger than
    // the steps running would deadlock as soon as every step reads a file.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(options.parallelism.max(1) + BLOCKING_HEADROOM)
        .enable_all()
        .build()
        .map_err(|e| vec![PrepareError::Runtime(e.to_string())])?;
    let span = tracing::info_span!("run", pipeline = %ir.pipeline, steps = ir.steps.len());
    let _entered = span.enter();
    runtime.block_on(schedule(host, ir, root_dir, &components, options, store, progress)).map_err(|e| vec![e])
}

/// Blocking threads beyond the running steps, for the filesystem work WASI hands off (idle ones
/// exit after tokio's keep-alive).
const BLOCKING_HEADROOM: usize = 16;

/// Opens the store, and settles runs that a process which died left running: their running
/// executions and the runs themselves become canceled.
fn open_store(root: &Path) -> Result<(Arc<ArtifactStore>, LineageStore), PrepareError> {
    let err = |e: String| PrepareError::Store { root: root.to_path_buf(), message: e };
    let artifacts = ArtifactStore::open(root).map_err(|e| err(e.to_string()))?;
    let mut lineage = LineageStore::open(root).map_err(|e| err(e.to_string()))?;
    for stale in lineage.stale_runs().map_err(|e| err(e.to_string()))? {
        lineage.recover_interrupted(stale.id).map_err(|e| err(e.to_string()))?;
        lineage.finish_run(stale.id, RunState::Canceled).map_err(|e| err(e.to_string()))?;
    }
    Ok((Arc::new(artifacts), lineage))
}

/// What the scheduler knows of a produced artifact.
#[derive(Clone)]
struct Produced {
    artifact: InputArtifact,
    id: Option<ArtifactId>,
}

// Step errors carry the step's log and standard error for the user (see `Host::run`).
#[allow(clippy::result_large_err)]
async fn schedule(
    host: &Arc<Host>,
    ir: &Ir,
    root_dir: &Path,
    components: &[Arc<LoadedComponent>],
    options: &RunOptions,
    mut store: Option<(Arc<ArtifactStore>, LineageStore)>,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<RunReport, PrepareError> {
    let store_err = |e: LineageError| PrepareError::Store {
        root: options.store.clone().unwrap_or_default(),
        message: e.to_string(),
    };
    // The pipeline's name in the store: its file name, the same from any working folder.
    let pipeline_name =
        Path::new(&ir.pipeline).file_name().map_or_else(|| ir.pipeline.clone(), |n| n.to_string_lossy().into_owned());
    // `latest(T)` and `latest_blessed(Model)` are resolved once, before this run records
    // anything, so they always mean "from an earlier run".
    let mut resolved: BTreeMap<Resolve, Option<Produced>> = BTreeMap::new();
    if let Some((artifacts, lineage)) = &store {
        for src in ir.steps.iter().flat_map(|s| s.inputs.values()).flat_map(|i| &i.sources) {
            let Some(r) = &src.resolve else { continue };
            if resolved.contains_key(r) {
                continue;
            }
            let record = match r {
                Resolve::Latest { ty } => lineage.latest_artifact(&pipeline_name, ty).map_err(store_err)?,
                Resolve::LatestBlessed { .. } => {
                    lineage.latest_blessed_model(&pipeline_name).map_err(store_err)?.map(|b| b.model)
                }
                Resolve::PreviousSpan => continue,
            };
            resolved.insert(r.clone(), record.and_then(|rec| load(artifacts, rec.digest, rec.id)));
        }
    }
    let run_id = match &mut store {
        Some((_, lineage)) => {
            let props = serde_json::json!({
                "pipeline": ir.pipeline,
                "params": serde_json::from_str::<serde_json::Value>(&params_json(&ir.params, root_dir)).unwrap_or_default(),
            });
            Some(lineage.begin_run(&pipeline_name, &props).map_err(store_err)?)
        }
        None => None,
    };
    let index: HashMap<&str, usize> = ir.steps.iter().enumerate().map(|(i, s)| (s.id.as_str(), i)).collect();
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); ir.steps.len()];
    for e in &ir.edges {
        if let (Some(&from), Some(&to)) = (index.get(e.from.as_str()), index.get(e.to.as_str())) {
            deps[to].push(from);
        }
    }
    let n = ir.steps.len();
    let mut slots: Vec<Slot> = (0..n).map(|_| Slot::Waiting).collect();
    let mut reports: Vec<Option<StepReport>> = (0..n).map(|_| None).collect();
    let mut requests: Vec<Option<StepRun>> = (0..n).map(|_| None).collect();
    let mut attempts = vec![0u32; n];
    let mut executions: Vec<Option<ExecutionId>> = vec![None; n];
    let mut keys: Vec<Option<String>> = vec![None; n];
    let mut produced: HashMap<(String, String), Produced> = HashMap::new();
    let mut how: HashMap<String, &'static str> = HashMap::new();
    let mut running = tokio::task::JoinSet::new();
    let parallelism = options.parallelism.max(1);
    let mut canceled = false;
    let mut retry: Vec<usize> = Vec::new();
    // Steps whose cached outputs could not be read back; they run instead.
    let mut skip_cache = vec![false; n];
    let mut input_ids: Vec<Vec<(String, ArtifactId)>> = vec![Vec::new(); n];
    let mut started_at: Vec<Option<std::time::Instant>> = vec![None; n];
    // What the trials of every search report while they train (the median stopping rule).
    let studies = Arc::new(Studies::new());
    // Trials running per search, each search under its own `parallel`; `holds[i]`: step `i`
    // counts against its search.
    let mut searches = SearchSlots::default();
    let mut holds = vec![false; n];
    let order = start_order(&ir.steps);
    loop {
        if !canceled && options.cancel.load(Ordering::Relaxed) {
            canceled = true;
        }
        // Start (or settle) every step whose dependencies are done, in the IR's order (the
        // trials of a search in index order).
        let candidates: Vec<usize> = retry.drain(..).chain(order.iter().copied()).collect();
        for i in candidates {
            let waiting = matches!(slots[i], Slot::Waiting) && deps[i].iter().all(|&d| matches!(slots[d], Slot::Done));
            if !waiting || running.len() >= parallelism && requests[i].is_some() {
                continue;
            }
            let step = &ir.steps[i];
            if canceled {
                let r = skipped(step, "the run was canceled".into());
                progress(Progress::Finished(&r));
                how.insert(step.id.clone(), "was canceled");
                reports[i] = Some(r);
                slots[i] = Slot::Done;
                continue;
            }
            if requests[i].is_none() {
                let mut find = |src: &Source| -> Option<Produced> {
                    match &src.resolve {
                        None => produced.get(&(src.step.clone(), src.output.clone())).cloned(),
                        Some(Resolve::PreviousSpan) => {
                            let current = produced.get(&(src.step.clone(), src.output.clone()))?;
                            let span = current.artifact.data.properties.get("span")?.as_i64()?;
                            let (artifacts, lineage) = store.as_ref()?;
                            let ty = &current.artifact.data.artifact_type;
                            let rec = lineage.previous_span(&pipeline_name, ty, span).ok()??;
                            load(artifacts, rec.digest, rec.id)
                        }
                        Some(other) => resolved.get(other).cloned().flatten(),
                    }
                };
                match ready(step, &components[i], &produced, &mut find, &how, root_dir, &options.cancel) {
                    Err(reason) => {
                        let r = skipped(step, reason);
                        progress(Progress::Finished(&r));
                        how.insert(step.id.clone(), "was skipped");
                        reports[i] = Some(r);
                        slots[i] = Slot::Done;
                        continue;
                    }
                    Ok((mut request, ids)) => {
                        request.trial = step.trial.as_ref().map(|t| trial_run(t, &studies));
                        keys[i] = Some(cache_key(&components[i].digest, &request));
                        requests[i] = Some(request);
                        input_ids[i] = ids;
                    }
                }
            }
            if running.len() >= parallelism || !searches.may_start(step) {
                continue;
            }
            let (Some(request), Some(key)) = (requests[i].clone(), keys[i].clone()) else { continue };
            // From here the step starts, or is read back from the cache.
            holds[i] = searches.take(step);
            let inputs: Vec<(&str, ArtifactId)> = input_ids[i].iter().map(|(p, id)| (p.as_str(), *id)).collect();
            let spec = ExecutionSpec {
                step: &step.id,
                component: &step.component,
                component_digest: &components[i].digest,
                parameters: &request.params_json,
                cache_key: step.cache.then_some(key.as_str()),
                attempt: attempts[i] + 1,
                inputs: &inputs,
            };
            // A cache hit: record it and read the outputs back on the blocking pool.
            if let (Some((artifacts, lineage)), Some(run)) = (&mut store, run_id)
                && options.use_cache
                && step.cache
                && attempts[i] == 0
                && !skip_cache[i]
                && let Some(hit) = lineage.lookup_cache(&key).map_err(store_err)?
                && hit.outputs.iter().all(|(_, a)| artifacts.contains(&a.digest))
            {
                let exec = lineage.record_cached(run, &spec, &hit).map_err(store_err)?;
                executions[i] = Some(exec);
                let artifacts = artifacts.clone();
                let wanted: Vec<(String, String, ArtifactId)> =
                    hit.outputs.iter().map(|(p, a)| (p.clone(), a.digest.clone(), a.id)).collect();
                running.spawn_blocking(move || {
                    let loaded = wanted
                        .into_iter()
                        .map(|(port, digest, id)| {
                            let data = artifacts.get(&digest).map_err(|e| e.to_string())?;
                            Ok((
                                port,
                                Produced { artifact: InputArtifact { data: Arc::new(data), digest }, id: Some(id) },
                            ))
                        })
                        .collect::<Result<Vec<_>, String>>();
                    Outcome::Loaded(i, loaded)
                });
                slots[i] = Slot::Running;
                continue;
            }
            if let (Some((_, lineage)), Some(run)) = (&mut store, run_id) {
                executions[i] = Some(lineage.start_execution(run, &spec).map_err(store_err)?);
            }
            attempts[i] += 1;
            progress(Progress::Started(&step.id, attempts[i]));
            started_at[i] = Some(std::time::Instant::now());
            tracing::info!(step = %step.id, attempt = attempts[i], "step started");
            let (host, component, step_id) = (host.clone(), components[i].clone(), step.id.clone());
            let artifacts = store.as_ref().map(|(a, _)| a.clone());
            running.spawn_blocking(move || {
                let result = host.run(&component, request).and_then(|out| {
                    let mut stored = Vec::new();
                    if let Some(artifacts) = &artifacts {
                        for (port, data) in &out.outputs {
                            match artifacts.put(data) {
                                Ok(s) => stored.push((port.clone(), s)),
                                Err(e) => {
                                    return Err(StepError {
                                        step: step_id.clone(),
                                        kind: StepErrorKind::Setup,
                                        message: format!("cannot store output `{port}`: {e}"),
                                        detail: None,
                                        stderr: out.stderr.clone(),
                                        events: out.events.clone(),
                                    });
                                }
                            }
                        }
                    }
                    Ok((out, stored))
                });
                Outcome::Ran(i, result)
            });
            slots[i] = Slot::Running;
        }
        if running.is_empty() {
            break;
        }
        // Wake on a finished task, on Ctrl-C, or every 50 ms to notice a cancel request.
        let joined = tokio::select! {
            j = running.join_next() => j,
            _ = tokio::signal::ctrl_c(), if options.ctrl_c && !canceled => {
                options.cancel.store(true, Ordering::Relaxed);
                continue;
            }
            _ = tokio::time::sleep(Duration::from_millis(50)) => {
                let running: Vec<(&str, Duration)> = (0..n)
                    .filter(|&i| matches!(slots[i], Slot::Running))
                    .map(|i| (ir.steps[i].id.as_str(), started_at[i].map_or(Duration::ZERO, |t| t.elapsed())))
                    .collect();
                let done = slots.iter().filter(|s| matches!(s, Slot::Done)).count();
                progress(Progress::Tick { running, done, total: n });
                continue;
            }
        };
        let Some(joined) = joined else { continue };
        let outcome = match joined {
            Ok(o) => o,
            Err(e) => return Err(PrepareError::Runtime(format!("a step's task failed: {e}"))),
        };
        let (Outcome::Ran(done, _) | Outcome::Loaded(done, _)) = &outcome;
        if std::mem::take(&mut holds[*done]) {
            searches.release(&ir.steps[*done]);
        }
        let lineage = store.as_mut().map(|(_, l)| l);
        let r = match outcome {
            Outcome::Loaded(i, Ok(parts)) => {
                let step = &ir.steps[i];
                let mut outputs = BTreeMap::new();
                for (port, p) in parts {
                    outputs.insert(port.clone(), p.artifact.clone());
                    produced.insert((step.id.clone(), port), p);
                }
                (i, finished(step, StepStatus::Cached, attempts[i], Duration::ZERO, outputs, Vec::new(), String::new()))
            }
            Outcome::Loaded(i, Err(message)) => {
                // The cached outputs could not be read back: run the step instead.
                if let (Some(lineage), Some(exec)) = (lineage, executions[i]) {
                    lineage
                        .fail_execution(exec, &format!("cached outputs unreadable: {message}"))
                        .map_err(store_err)?;
                }
                skip_cache[i] = true;
                slots[i] = Slot::Waiting;
                retry.push(i);
                continue;
            }
            Outcome::Ran(i, Ok((out, stored))) => {
                let step = &ir.steps[i];
                let ids = match (lineage, executions[i]) {
                    (Some(lineage), Some(exec)) => {
                        let outs: Vec<(&str, &StoredArtifact)> = stored.iter().map(|(p, s)| (p.as_str(), s)).collect();
                        lineage.complete_execution(exec, &outs).map_err(store_err)?
                    }
                    _ => Vec::new(),
                };
                let ids: HashMap<&str, ArtifactId> = stored.iter().map(|(p, _)| p.as_str()).zip(ids).collect();
                let digests: HashMap<&str, &str> =
                    stored.iter().map(|(p, s)| (p.as_str(), s.digest.as_str())).collect();
                let mut outputs = BTreeMap::new();
                for (port, data) in out.outputs {
                    let digest = digests.get(port.as_str()).map_or_else(|| artifact_digest(&data), |d| d.to_string());
                    let a = InputArtifact { data: Arc::new(data), digest };
                    let id = ids.get(port.as_str()).copied();
                    produced.insert((step.id.clone(), port.clone()), Produced { artifact: a.clone(), id });
                    outputs.insert(port, a);
                }
                (i, finished(step, StepStatus::Succeeded, attempts[i], out.elapsed, outputs, out.events, out.stderr))
            }
            Outcome::Ran(i, Err(e)) => {
                let step = &ir.steps[i];
                let cancel = e.kind == StepErrorKind::Canceled;
                if let (Some(lineage), Some(exec)) = (lineage, executions[i]) {
                    if cancel {
                        lineage.cancel_execution(exec, &e.message).map_err(store_err)?;
                    } else {
                        lineage.fail_execution(exec, &e.message).map_err(store_err)?;
                    }
                }
                let may_retry = attempts[i] <= step.retries && !cancel && e.kind != StepErrorKind::Setup;
                if may_retry && !canceled {
                    slots[i] = Slot::Waiting;
                    retry.push(i);
                    continue;
                }
                how.insert(step.id.clone(), if cancel { "was canceled" } else { "failed" });
                let (events, stderr) = (e.events.clone(), e.stderr.clone());
                (i, finished(step, StepStatus::Failed(e), attempts[i], Duration::ZERO, BTreeMap::new(), events, stderr))
            }
        };
        let (i, mut r) = r;
        r.execution = executions[i];
        match &r.status {
            StepStatus::Failed(e) => {
                tracing::warn!(step = %r.id, attempts = r.attempts, error = %e.message, "step failed")
            }
            StepStatus::Cached => tracing::info!(step = %r.id, "step cached"),
            _ => tracing::info!(step = %r.id, elapsed_ms = r.elapsed.as_millis() as u64, "step finished"),
        }
        progress(Progress::Finished(&r));
        reports[i] = Some(r);
        slots[i] = Slot::Done;
    }
    let report = RunReport { steps: reports.into_iter().flatten().collect(), canceled, run: run_id };
    if let (Some((_, lineage)), Some(run)) = (&mut store, run_id) {
        let state = if canceled {
            RunState::Canceled
        } else if report.failures().next().is_some() {
            RunState::Failed
        } else {
            RunState::Complete
        };
        lineage.finish_run(run, state).map_err(store_err)?;
    }
    Ok(report)
}

/// A stored artifact read back for a step's input; `None` when it cannot be read (a damaged
/// store: `mlp doctor` reports it), so the input counts as absent.
fn load(artifacts: &ArtifactStore, digest: String, id: ArtifactId) -> Option<Produced> {
    let data = artifacts.get(&digest).ok()?;
    Some(Produced { artifact: InputArtifact { data: Arc::new(data), digest }, id: Some(id) })
}

fn finished(
    step: &Step,
    status: StepStatus,
    attempts: u32,
    elapsed: Duration,
    outputs: BTreeMap<String, InputArtifact>,
    events: Vec<StepEvent>,
    stderr: String,
) -> StepReport {
    StepReport { id: step.id.clone(), status, attempts, elapsed, outputs, events, stderr, execution: None }
}

fn skipped(step: &Step, reason: String) -> StepReport {
    finished(step, StepStatus::Skipped(reason), 0, Duration::ZERO, BTreeMap::new(), Vec::new(), String::new())
}

/// How many trials of each search are running (or being read back from the cache), so that at
/// most `parallel` of a search's trials run at once, on top of the run's parallelism.
#[derive(Debug, Default)]
struct SearchSlots(HashMap<String, u32>);

impl SearchSlots {
    /// Whether `step` may start now: not a trial, or its search has a free slot.
    fn may_start(&self, step: &Step) -> bool {
        match &step.trial {
            None => true,
            Some(t) => self.0.get(&t.search).copied().unwrap_or(0) < t.parallel.max(1),
        }
    }

    /// Counts `step` as running when it is a trial; whether it was.
    fn take(&mut self, step: &Step) -> bool {
        let Some(t) = &step.trial else { return false };
        *self.0.entry(t.search.clone()).or_default() += 1;
        true
    }

    /// Frees the slot a trial took.
    fn release(&mut self, step: &Step) {
        if let Some(n) = step.trial.as_ref().and_then(|t| self.0.get_mut(&t.search)) {
            *n = n.saturating_sub(1);
        }
    }
}

/// The order the scheduler considers steps in: the IR's, except that the trials of each search
/// take the places the IR gives that search's trials in index order, so they start in index
/// order whatever their ids sort like.
fn start_order(steps: &[Step]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..steps.len()).collect();
    let mut by_search: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, s) in steps.iter().enumerate() {
        if let Some(t) = &s.trial {
            by_search.entry(t.search.as_str()).or_default().push(i);
        }
    }
    for places in by_search.values() {
        let mut by_index = places.clone();
        by_index.sort_by_key(|&i| steps[i].trial.as_ref().map_or(0, |t| t.index));
        for (&place, &i) in places.iter().zip(&by_index) {
            order[place] = i;
        }
    }
    order
}

/// The host's view of a trial: its place in the search, its point as plain JSON, its stopping
/// rule, and the run's studies it reports to.
fn trial_run(t: &Trial, studies: &Arc<Studies>) -> TrialRun {
    TrialRun {
        search: t.search.clone(),
        index: t.index,
        of: t.of,
        point: serde_json::Value::Object(t.point.iter().map(|(k, v)| (k.clone(), plain_json(v))).collect()),
        early_stopping: t.early_stopping.as_ref().map(|r| StoppingRule { grace: r.grace, min_trials: r.min_trials }),
        studies: studies.clone(),
    }
}

/// A parameter value as plain JSON (numbers, strings, bools, lists, objects), not the IR's
/// tagged encoding: durations in milliseconds, sizes in bytes, paths as strings. Feature
/// blocks and expressions, which have no plain form, keep the IR encoding.
fn plain_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Int(i) => J::from(*i),
        Value::Float(f) => J::from(*f),
        Value::Bool(b) => J::Bool(*b),
        Value::String(s) | Value::Path(s) => J::String(s.clone()),
        Value::Duration(n) | Value::Size(n) => J::from(*n),
        Value::List(items) => J::Array(items.iter().map(plain_json).collect()),
        Value::Map(m) => J::Object(m.iter().map(|(k, v)| (k.clone(), plain_json(v))).collect()),
        other @ (Value::Features(_) | Value::Expr(_)) => serde_json::to_value(other).unwrap_or(J::Null),
    }
}

/// The request to run `step` now that its dependencies are done, or why it does not run.
fn ready(
    step: &Step,
    component: &LoadedComponent,
    produced: &HashMap<(String, String), Produced>,
    find: &mut dyn FnMut(&Source) -> Option<Produced>,
    how: &HashMap<String, &'static str>,
    root_dir: &Path,
    cancel: &Arc<AtomicBool>,
) -> Result<(StepRun, Vec<(String, ArtifactId)>), String> {
    if let Some(cond) = &step.when {
        match eval_when(cond, produced) {
            Ok(true) => {}
            Ok(false) => return Err("its condition is false".into()),
            Err(e) => return Err(format!("its condition cannot be evaluated: {e}")),
        }
    }
    let mut inputs = BTreeMap::new();
    let mut ids = Vec::new();
    for (port, input) in &step.inputs {
        match input.sources.iter().find_map(&mut *find) {
            Some(p) => {
                inputs.insert(port.clone(), p.artifact);
                if let Some(id) = p.id {
                    ids.push((port.clone(), id));
                }
            }
            None if input.optional => {}
            None => {
                let why = input
                    .sources
                    .iter()
                    .map(|s| match (&s.resolve, how.get(&s.step)) {
                        (Some(Resolve::Latest { ty }), _) => format!("no earlier run made a {ty}"),
                        (Some(Resolve::LatestBlessed { .. }), _) => "no earlier run blessed a model".to_string(),
                        (Some(Resolve::PreviousSpan), _) => format!("no span before that of `{}.{}`", s.step, s.output),
                        (None, Some(how)) => format!("`{}` {how}", s.step),
                        (None, None) => format!("`{}` did not write `{}`", s.step, s.output),
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(format!("its input `{port}` was not produced ({why})"));
            }
        }
    }
    let request = StepRun {
        step_id: step.id.clone(),
        params_json: params_json(&step.params, root_dir),
        inputs,
        outputs: step
            .outputs
            .iter()
            .map(|(port, ty)| {
                let optional = component.info.outputs.iter().any(|(n, _, o)| n == port && *o);
                (port.clone(), (ty.clone(), optional))
            })
            .collect(),
        grants: step
            .grants
            .iter()
            .map(|g| match g {
                mlp_lang::ir::Grant::Read(p) => Grant::Read(crate::normalize(&root_dir.join(p))),
                mlp_lang::ir::Grant::Write(p) => Grant::Write(crate::normalize(&root_dir.join(p))),
                mlp_lang::ir::Grant::Net(t) => Grant::Net(t.clone()),
                mlp_lang::ir::Grant::Gpu => Grant::Gpu,
            })
            .collect(),
        time_limit: step.time_limit_ms.map(Duration::from_millis),
        memory_limit: step.memory_limit_bytes,
        cancel: Some(cancel.clone()),
        // Set by the scheduler, which holds the run's studies.
        trial: None,
    };
    Ok((request, ids))
}

/// The step's parameters as the JSON object a plugin reads: the IR encoding, with relative
/// paths made absolute (the guest sees granted paths at their host locations).
pub fn params_json(params: &BTreeMap<String, Value>, root_dir: &Path) -> String {
    fn fix(v: &Value, root: &Path) -> Value {
        match v {
            Value::Path(p) if !p.starts_with(mlp_lang::source::STD_PREFIX) => {
                Value::Path(crate::normalize(&root.join(p)).to_string_lossy().into_owned())
            }
            Value::List(items) => Value::List(items.iter().map(|i| fix(i, root)).collect()),
            Value::Map(m) => Value::Map(m.iter().map(|(k, i)| (k.clone(), fix(i, root))).collect()),
            other => other.clone(),
        }
    }
    let fixed: BTreeMap<&String, Value> = params.iter().map(|(k, v)| (k, fix(v, root_dir))).collect();
    serde_json::to_string(&fixed).unwrap_or_else(|_| "{}".into())
}

/// Evaluates a `when` condition over the artifacts produced so far. Supports literals, `and`,
/// `or`, `not`, comparisons, artifact presence (a Blessing or InfraBlessing counts when its `blessed`
/// property is true) and artifact properties (`eval.metrics.auc`).
fn eval_when(e: &IrExpr, produced: &HashMap<(String, String), Produced>) -> Result<bool, String> {
    match eval(e, produced)? {
        serde_json::Value::Bool(b) => Ok(b),
        serde_json::Value::Null => Ok(false),
        other => Err(format!("the condition is {other}, not a bool")),
    }
}

fn eval(e: &IrExpr, produced: &HashMap<(String, String), Produced>) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    Ok(match e {
        IrExpr::Lit(v) => match v {
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => J::from(*f),
            Value::String(s) | Value::Path(s) => J::String(s.clone()),
            other => return Err(format!("a {other:?} value cannot be used in a condition")),
        },
        IrExpr::Artifact(sources) => {
            let found = sources.iter().find_map(|s| produced.get(&(s.step.clone(), s.output.clone())));
            J::Bool(match found.map(|p| &p.artifact) {
                None => false,
                Some(a) if a.data.artifact_type == "Blessing" || a.data.artifact_type == "InfraBlessing" => {
                    a.data.properties.get("blessed").and_then(J::as_bool).unwrap_or(false)
                }
                Some(_) => true,
            })
        }
        IrExpr::Field(base, name) => {
            let IrExpr::Artifact(sources) = base.as_ref() else {
                return Err(format!("`.{name}` is only supported on an artifact in conditions"));
            };
            let found = sources.iter().find_map(|s| produced.get(&(s.step.clone(), s.output.clone())));
            found.and_then(|p| p.artifact.data.properties.get(name).cloned()).unwrap_or(J::Null)
        }
        IrExpr::Unary { op: UnOp::Not, arg } => match eval(arg, produced)? {
            J::Bool(b) => J::Bool(!b),
            J::Null => J::Null,
            v => return Err(format!("`not` of {v}")),
        },
        IrExpr::Unary { op: UnOp::Neg, arg } => match eval(arg, produced)?.as_f64() {
            Some(f) => J::from(-f),
            None => J::Null,
        },
        IrExpr::Binary { op, lhs, rhs } => {
            let (a, b) = (eval(lhs, produced)?, eval(rhs, produced)?);
            match op {
                BinOp::And => J::Bool(a.as_bool() == Some(true) && b.as_bool() == Some(true)),
                BinOp::Or => J::Bool(a.as_bool() == Some(true) || b.as_bool() == Some(true)),
                BinOp::Coalesce => {
                    if a.is_null() {
                        b
                    } else {
                        a
                    }
                }
                BinOp::Eq => J::Bool(a == b),
                BinOp::Ne => J::Bool(a != b),
                BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => match (a.as_f64(), b.as_f64()) {
                    (Some(x), Some(y)) => J::Bool(match op {
                        BinOp::Lt => x < y,
                        BinOp::Le => x <= y,
                        BinOp::Gt => x > y,
                        _ => x >= y,
                    }),
                    _ => J::Null,
                },
                BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => match (a.as_f64(), b.as_f64()) {
                    (Some(x), Some(y)) => J::from(match op {
                        BinOp::Add => x + y,
                        BinOp::Sub => x - y,
                        BinOp::Mul => x * y,
                        BinOp::Div => x / y,
                        _ => x % y,
                    }),
                    _ => J::Null,
                },
            }
        }
        IrExpr::If { cond, then, otherwise } => {
            if eval(cond, produced)?.as_bool() == Some(true) {
                eval(then, produced)?
            } else {
                eval(otherwise, produced)?
            }
        }
        other => return Err(format!("{other:?} is not supported in a step condition by this runner")),
    })
}

/// The folder of a pipeline file, absolute and normalized: relative paths in its IR are
/// relative to it.
pub fn pipeline_dir(file: &Path) -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_default();
    let abs = crate::normalize(&cwd.join(file));
    abs.parent().map(Path::to_path_buf).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlp_lang::ir::{EarlyStopping, Input};

    fn step(id: &str, inputs: &[(&str, &str)], trial: Option<(&str, u32, u32)>) -> Step {
        Step {
            id: id.into(),
            component: "t.mlp#c".into(),
            wasm: "c.wasm".into(),
            digest: None,
            params: BTreeMap::new(),
            inputs: inputs
                .iter()
                .map(|(port, ty)| {
                    let source = Source { step: "up".into(), output: "out".into(), resolve: None };
                    (port.to_string(), Input { ty: ty.to_string(), sources: vec![source], optional: false })
                })
                .collect(),
            outputs: [("model".to_string(), "Model".to_string())].into(),
            when: None,
            grants: Vec::new(),
            time_limit_ms: None,
            memory_limit_bytes: None,
            retries: 0,
            cache: true,
            source: ("t.mlp".into(), 1),
            trial: trial.map(|(search, index, parallel)| Trial {
                search: search.into(),
                index,
                of: 4,
                point: BTreeMap::new(),
                parallel,
                early_stopping: None,
            }),
        }
    }

    fn info(inputs: &[(&str, &str, bool)]) -> ComponentInfo {
        ComponentInfo {
            name: "c".into(),
            version: "0.1.0".into(),
            abi_version: crate::host::ABI_VERSION.into(),
            doc: String::new(),
            inputs: inputs.iter().map(|(n, t, o)| (n.to_string(), t.to_string(), *o)).collect(),
            params: Vec::new(),
            outputs: vec![("model".into(), "Model".into(), false)],
        }
    }

    #[test]
    fn indexed_inputs_bind_a_repeated_port() {
        let tune = info(&[("examples", "Examples", false), ("trials", "Model", true)]);
        let s = step("search", &[("examples", "Examples"), ("trials.0", "Model"), ("trials.1", "Model")], None);
        assert_eq!(signature_mismatch(&s, &tune), None);
        // The same type rule as a plain port.
        let s = step("search", &[("examples", "Examples"), ("trials.0", "Model"), ("trials.1", "Schema")], None);
        assert_eq!(
            signature_mismatch(&s, &tune).as_deref(),
            Some("its input `trials.1` takes Model, the declaration says Schema")
        );
        // Only a decimal index repeats a port.
        for port in ["trials.x", "trials.", "trials.1a", ".1", "trial.0"] {
            let s = step("search", &[("examples", "Examples"), (port, "Model")], None);
            assert_eq!(
                signature_mismatch(&s, &tune),
                Some(format!("it has no input `{port}` (it has: examples, trials)")),
                "{port}"
            );
        }
        // A required repeated port needs at least one binding.
        let required = info(&[("trials", "Model", false)]);
        assert_eq!(signature_mismatch(&step("s", &[("trials.3", "Model")], None), &required), None);
        assert_eq!(
            signature_mismatch(&step("s", &[], None), &required).as_deref(),
            Some("it needs input `trials`, which the declaration does not have")
        );
        // A port whose own name ends in an index is still matched by name first.
        let dotted = info(&[("v.2", "Model", false)]);
        assert_eq!(signature_mismatch(&step("s", &[("v.2", "Model")], None), &dotted), None);
        assert_eq!(repeated_port("trials.12"), Some("trials"));
        assert_eq!(repeated_port("a.b.3"), Some("a.b"));
        assert_eq!(repeated_port("trials"), None);
    }

    #[test]
    fn each_search_runs_at_most_its_parallel_trials() {
        let a: Vec<Step> = (0..3).map(|i| step(&format!("a/trial-0{i}"), &[], Some(("a", i, 2)))).collect();
        let b = step("b/trial-00", &[], Some(("b", 0, 1)));
        let b1 = step("b/trial-01", &[], Some(("b", 1, 1)));
        let plain = step("plain", &[], None);
        let mut slots = SearchSlots::default();
        assert!(slots.may_start(&a[0]));
        assert!(slots.take(&a[0]));
        assert!(slots.may_start(&a[1]));
        assert!(slots.take(&a[1]));
        assert!(!slots.may_start(&a[2]), "two of search `a` run");
        // Other searches and plain steps are not affected.
        assert!(slots.may_start(&b));
        assert!(slots.take(&b));
        assert!(!slots.may_start(&b1));
        assert!(slots.may_start(&plain));
        assert!(!slots.take(&plain), "a plain step takes no slot");
        slots.release(&a[0]);
        assert!(slots.may_start(&a[2]));
        slots.release(&b);
        assert!(slots.may_start(&b1));
        // `parallel = 0` still lets one trial run.
        let zero = step("z/trial-00", &[], Some(("z", 0, 0)));
        assert!(slots.may_start(&zero));
        slots.take(&zero);
        assert!(!slots.may_start(&step("z/trial-01", &[], Some(("z", 1, 0)))));
    }

    #[test]
    fn trials_are_considered_in_index_order() {
        // Ids that sort out of index order (as `trial-100` sorts before `trial-99`).
        let steps = vec![
            step("prep", &[], None),
            step("s/t-b", &[], Some(("s", 2, 1))),
            step("other/t", &[], Some(("other", 0, 1))),
            step("s/t-c", &[], Some(("s", 0, 1))),
            step("s/t-a", &[], Some(("s", 1, 1))),
            step("s", &[], None),
        ];
        let order: Vec<&str> = start_order(&steps).into_iter().map(|i| steps[i].id.as_str()).collect();
        assert_eq!(order, ["prep", "s/t-c", "other/t", "s/t-a", "s/t-b", "s"]);
    }

    #[test]
    fn a_trial_reaches_the_host_with_its_point_as_plain_json() {
        let t = Trial {
            search: "search".into(),
            index: 1,
            of: 8,
            point: [
                ("learning_rate".to_string(), Value::Float(0.001)),
                ("hidden".to_string(), Value::List(vec![Value::Int(64), Value::Int(32)])),
                ("loss".to_string(), Value::String("huber".into())),
                ("balanced".to_string(), Value::Bool(true)),
                ("budget".to_string(), Value::Duration(1500)),
            ]
            .into(),
            parallel: 2,
            early_stopping: Some(EarlyStopping { grace: 3, min_trials: 4 }),
        };
        let run = trial_run(&t, &Arc::new(Studies::new()));
        assert_eq!(
            run.point,
            serde_json::json!({
                "balanced": true,
                "budget": 1500,
                "hidden": [64, 32],
                "learning_rate": 0.001,
                "loss": "huber",
            })
        );
        assert_eq!(run.early_stopping, Some(StoppingRule { grace: 3, min_trials: 4 }));
        assert_eq!((run.search.as_str(), run.index, run.of), ("search", 1, 8));
        // Trials differ in their cache keys even with the same parameters.
        let request = |index| StepRun { trial: Some(TrialRun { index, ..run.clone() }), ..StepRun::default() };
        assert_ne!(cache_key("blake3:c", &request(1)), cache_key("blake3:c", &request(2)));
        assert_ne!(cache_key("blake3:c", &request(1)), cache_key("blake3:c", &StepRun::default()));
        assert_eq!(cache_key("blake3:c", &request(1)), cache_key("blake3:c", &request(1)));
        // A longer search reuses the trials it shares with a shorter one; another stopping
        // rule does not.
        let longer = StepRun { trial: Some(TrialRun { index: 1, of: 16, ..run.clone() }), ..StepRun::default() };
        assert_eq!(cache_key("blake3:c", &request(1)), cache_key("blake3:c", &longer));
        let no_rule =
            StepRun { trial: Some(TrialRun { index: 1, early_stopping: None, ..run.clone() }), ..StepRun::default() };
        assert_ne!(cache_key("blake3:c", &request(1)), cache_key("blake3:c", &no_rule));
    }
}
