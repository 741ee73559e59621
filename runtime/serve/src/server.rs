//! The HTTP server: routes, handlers, the watcher that swaps versions in, start and graceful
//! shutdown.
//!
//! The version being served is an `Arc<Loaded>` in an [`ArcSwapOption`]. A handler takes the
//! current one, reads the request's examples for it and queues them with it (see the
//! batcher); the watcher polls `CURRENT` and, when it names another version, loads
//! that version completely on a blocking thread and only then stores the new `Arc`. Requests
//! already queued or running keep the `Arc` they took, so they finish on the old version and
//! none is dropped. A version that fails to load is logged and counted and the old one keeps
//! serving; it is tried again only when `CURRENT` is written again.

use crate::batcher::{self, Arrivals, Job, Settings};
use crate::error::ServeError;
use crate::layout;
use crate::metrics::Metrics;
use crate::request;
use crate::version::{Loaded, Predictions};
use arc_swap::ArcSwapOption;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// How to serve.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// The serving directory (see [`crate::layout`]).
    pub dir: PathBuf,
    /// The address to listen on (port 0: any free port).
    pub addr: SocketAddr,
    /// The model's name in URLs; `None`: the serving directory's folder name.
    pub name: Option<String>,
    /// How often `CURRENT` is checked.
    pub poll: Duration,
    /// Most examples run through the model at once.
    pub max_batch: usize,
    /// The longest a batch waits for more requests after its first (it waits only while
    /// requests are being read).
    pub batch_wait: Duration,
}

impl Options {
    /// The defaults for serving `dir`: `127.0.0.1:8501`, the folder's name, `CURRENT` checked
    /// every 500 ms, batches of up to 64 examples waiting up to 2 ms.
    pub fn new(dir: impl Into<PathBuf>) -> Options {
        Options {
            dir: dir.into(),
            addr: SocketAddr::from(([127, 0, 0, 1], 8501)),
            name: None,
            poll: Duration::from_millis(500),
            max_batch: 64,
            batch_wait: Duration::from_millis(2),
        }
    }
}

/// The last version that failed to load.
#[derive(Clone, Debug)]
struct Failure {
    version: u64,
    message: String,
    /// `CURRENT`'s version and modification time when it failed: not tried again until they
    /// change.
    key: (u64, Option<SystemTime>),
}

/// What the handlers and the watcher share.
struct Shared {
    name: String,
    dir: PathBuf,
    current: ArcSwapOption<Loaded>,
    failed: Mutex<Option<Failure>>,
    jobs: mpsc::Sender<Job>,
    arrivals: Arc<Arrivals>,
    metrics: Arc<Metrics>,
}

impl Shared {
    fn failure(&self) -> Option<Failure> {
        self.failed.lock().map(|f| f.clone()).unwrap_or_default()
    }

    fn set_failure(&self, f: Option<Failure>) {
        if let Ok(mut g) = self.failed.lock() {
            *g = f;
        }
    }

    /// Checks `CURRENT` and swaps in the version it names if that is new (blocking: reads
    /// files, compiles, loads).
    fn refresh(&self) {
        let modified = std::fs::metadata(self.dir.join("CURRENT")).and_then(|m| m.modified()).ok();
        let want = match layout::read_current(&self.dir) {
            Ok(Some(n)) => n,
            Ok(None) => return,
            Err(e) => {
                let key = (0, modified);
                if self.failure().is_none_or(|f| f.key != key) {
                    tracing::warn!("{e}");
                    self.metrics.load_failed();
                    self.set_failure(Some(Failure { version: 0, message: e.to_string(), key }));
                }
                return;
            }
        };
        if self.current.load().as_ref().is_some_and(|c| c.version() == want) {
            // CURRENT is back on the served version (a rollback): an earlier failure is over.
            if self.failure().is_some() {
                self.set_failure(None);
            }
            return;
        }
        let key = (want, modified);
        if self.failure().is_some_and(|f| f.key == key) {
            return;
        }
        let started = std::time::Instant::now();
        match Loaded::load(&self.dir, want) {
            Ok(loaded) => {
                let old = self.current.swap(Some(Arc::new(loaded))).map(|o| o.version());
                self.metrics.loaded(want);
                self.set_failure(None);
                tracing::info!(
                    model = %self.name,
                    version = want,
                    previous = ?old,
                    "version {want} loaded in {:.1} ms and now serving",
                    started.elapsed().as_secs_f64() * 1e3
                );
            }
            Err(e) => {
                self.metrics.load_failed();
                let serving = self.current.load().as_ref().map(|c| c.version());
                match serving {
                    Some(v) => tracing::warn!(model = %self.name, "{e}; version {v} keeps serving"),
                    None => tracing::warn!(model = %self.name, "{e}; nothing is served"),
                }
                self.set_failure(Some(Failure { version: want, message: e.to_string(), key }));
            }
        }
    }

    /// Why nothing is served, for a 503.
    fn unavailable(&self) -> String {
        match self.failure() {
            Some(f) => format!(
                "model `{}` has no version loaded: {} (push a model to `{}`, or point CURRENT at a complete version)",
                self.name,
                f.message,
                self.dir.display()
            ),
            None => format!(
                "model `{}` has no version loaded: nothing is pushed to `{}` yet (it has no CURRENT); run a pipeline whose push step writes there",
                self.name,
                self.dir.display()
            ),
        }
    }
}

/// A running server.
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    serve: JoinHandle<std::io::Result<()>>,
    watcher: JoinHandle<()>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("addr", &self.addr).field("name", &self.shared.name).finish()
    }
}

/// The model name for `dir`: its folder name.
fn default_name(dir: &Path) -> Option<String> {
    let abs = std::path::absolute(dir).ok()?;
    let canon = std::fs::canonicalize(&abs).unwrap_or(abs);
    canon.file_name()?.to_str().map(str::to_owned)
}

/// Starts serving: checks the options, loads the version `CURRENT` names (if any), binds the
/// address and starts the handlers, the batcher and the watcher on the current tokio runtime.
pub async fn start(options: Options) -> Result<Server, ServeError> {
    if options.max_batch == 0 {
        return Err(ServeError::Option { option: "--max-batch", message: "must be at least 1".into() });
    }
    if options.poll.is_zero() {
        return Err(ServeError::Option { option: "--poll", message: "must be longer than 0 (such as 500ms)".into() });
    }
    if options.dir.exists() && !options.dir.is_dir() {
        return Err(ServeError::Option {
            option: "DIR",
            message: format!("`{}` is a file; give the serving directory that `push` writes", options.dir.display()),
        });
    }
    let name = match options.name.clone() {
        Some(n) => n,
        None => default_name(&options.dir).ok_or_else(|| ServeError::Option {
            option: "--name",
            message: format!(
                "`{}` has no folder name to serve the model under; give one with --name",
                options.dir.display()
            ),
        })?,
    };
    if name.is_empty() || name.contains(['/', ':', '?', '#', '%']) || name.chars().any(char::is_whitespace) {
        return Err(ServeError::Option {
            option: "--name",
            message: format!(
                "`{name}` cannot be a model name in URLs (no `/`, `:`, `?`, `#`, `%` or spaces); give another with --name"
            ),
        });
    }
    if !options.dir.exists() {
        tracing::warn!("the serving directory `{}` does not exist yet; waiting for a push", options.dir.display());
    }
    let metrics = Arc::new(Metrics::new(options.max_batch));
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (jobs, arrivals) = batcher::start(
        Settings { max_batch: options.max_batch, batch_wait: options.batch_wait, workers },
        metrics.clone(),
    );
    let shared = Arc::new(Shared {
        name,
        dir: options.dir.clone(),
        current: ArcSwapOption::empty(),
        failed: Mutex::new(None),
        jobs,
        arrivals,
        metrics,
    });
    {
        let s = shared.clone();
        tokio::task::spawn_blocking(move || s.refresh()).await.map_err(|e| ServeError::Server(e.to_string()))?;
    }
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|source| ServeError::Bind { addr: options.addr, source })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Bind { addr: options.addr, source })?;
    // Answers are small: send them at once rather than waiting to coalesce packets.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let (stop, stopped) = oneshot::channel::<()>();
    let app = router(shared.clone());
    let serve = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    let watcher = {
        let s = shared.clone();
        let poll = options.poll;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(poll);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let s = s.clone();
                let _ = tokio::task::spawn_blocking(move || s.refresh()).await;
            }
        })
    };
    Ok(Server { addr, shared, stop: Some(stop), serve, watcher })
}

impl Server {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The model's name in URLs.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The version being served.
    pub fn version(&self) -> Option<u64> {
        self.shared.current.load().as_ref().map(|c| c.version())
    }

    /// Why the last version that failed to load failed (until another one loads).
    pub fn load_error(&self) -> Option<String> {
        self.shared.failure().map(|f| f.message)
    }

    /// The metrics text `GET /metrics` answers.
    pub fn metrics(&self) -> String {
        self.shared.metrics.render()
    }

    /// Stops gracefully: no new connections, requests in flight answered, then returns.
    pub async fn shutdown(mut self) -> Result<(), ServeError> {
        self.watcher.abort();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.serve).await {
            Ok(r) => r.map_err(|e| ServeError::Server(e.to_string())),
            Err(e) => Err(ServeError::Server(e.to_string())),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.watcher.abort();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/models/{spec}", get(status).post(predict))
        .route("/v1/models/{name}/metadata", get(metadata))
        .route("/v1/models/{name}/versions/{spec}", get(version_status).post(predict_version))
        .route("/healthz", get(health))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(shared.clone(), count))
        .with_state(shared)
}

type St = State<Arc<Shared>>;

/// The largest request body taken (a larger one is a 413).
pub const MAX_BODY: usize = 32 << 20;

fn json_response(code: StatusCode, body: &Value) -> Response {
    (code, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn error(code: StatusCode, message: impl Into<String>) -> Response {
    json_response(code, &json!({ "error": message.into() }))
}

/// Counts every request, and times predict requests.
async fn count(State(s): St, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let endpoint = if let Some(rest) = path.strip_prefix("/v1/models/") {
        if req.method() == axum::http::Method::POST {
            "predict"
        } else if rest.ends_with("/metadata") {
            "metadata"
        } else {
            "status"
        }
    } else {
        match path {
            "/healthz" => "health",
            "/metrics" => "metrics",
            _ => "other",
        }
    };
    let started = std::time::Instant::now();
    let response = next.run(req).await;
    if endpoint == "predict" {
        s.metrics.latency(started.elapsed().as_secs_f64());
    }
    s.metrics.request(endpoint, response.status().as_u16());
    response
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no such endpoint: use POST /v1/models/NAME:predict, GET /v1/models/NAME, GET /v1/models/NAME/metadata, GET /healthz or GET /metrics",
    )
}

/// A refused request: the status and the message.
type Refusal = (StatusCode, String);

/// A 404 unless `name` is the served model's.
fn check_name(s: &Shared, name: &str) -> Result<(), Refusal> {
    if name == s.name {
        Ok(())
    } else {
        Err((StatusCode::NOT_FOUND, format!("no model `{name}` here: this server serves `{}`", s.name)))
    }
}

/// `NAME:predict` → `NAME`, or the error answer.
fn predict_target<'a>(s: &Shared, spec: &'a str) -> Result<&'a str, Refusal> {
    match spec.rsplit_once(':') {
        Some((name, "predict")) => Ok(name),
        Some((_, verb)) => {
            Err((StatusCode::NOT_FOUND, format!("`:{verb}` is not served: use POST /v1/models/{}:predict", s.name)))
        }
        None => {
            Err((StatusCode::METHOD_NOT_ALLOWED, format!("POST to /v1/models/{}:predict to get predictions", s.name)))
        }
    }
}

async fn predict(State(s): St, UrlPath(spec): UrlPath<String>, body: Bytes) -> Response {
    let name = match predict_target(&s, &spec) {
        Ok(n) => n,
        Err((code, message)) => return error(code, message),
    };
    if let Err((code, message)) = check_name(&s, name) {
        return error(code, message);
    }
    answer(&s, None, &body).await
}

async fn predict_version(State(s): St, UrlPath((name, spec)): UrlPath<(String, String)>, body: Bytes) -> Response {
    if let Err((code, message)) = check_name(&s, &name) {
        return error(code, message);
    }
    let version = match predict_target(&s, &spec) {
        Ok(v) => v,
        Err((code, message)) => return error(code, message),
    };
    let Ok(version) = version.parse::<u64>() else {
        return error(StatusCode::BAD_REQUEST, format!("`{version}` is not a version number"));
    };
    answer(&s, Some(version), &body).await
}

/// Reads the request for the current version, queues it, and renders the answer.
async fn answer(s: &Shared, pinned: Option<u64>, body: &[u8]) -> Response {
    // A batch being formed waits for this request until it is queued (or refused).
    let arriving = s.arrivals.enter();
    let Some(version) = s.current.load_full() else {
        return error(StatusCode::SERVICE_UNAVAILABLE, s.unavailable());
    };
    if let Some(p) = pinned.filter(|p| *p != version.version()) {
        return error(
            StatusCode::NOT_FOUND,
            format!("version {p} of `{}` is not being served (version {} is)", s.name, version.version()),
        );
    }
    let batch = match request::to_batch(body, version.inputs(), version.label_inputs(), version.schema()) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.0),
    };
    let predictions = if batch.num_rows() == 0 {
        Predictions { prediction: Vec::new(), probabilities: Vec::new() }
    } else {
        let (reply, answer) = oneshot::channel();
        if s.jobs.send(Job { version: version.clone(), batch, reply }).await.is_err() {
            return error(StatusCode::SERVICE_UNAVAILABLE, "the server is shutting down");
        }
        drop(arriving);
        match answer.await {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
            Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, "the batch holding this request failed"),
        }
    };
    let classifier = !version.classes().is_empty();
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], render(&predictions, classifier, version.version()))
        .into_response()
}

/// `{"predictions": [...], "model_version": "N"}`.
pub(crate) fn render(p: &Predictions, classifier: bool, version: u64) -> Vec<u8> {
    use std::io::Write as _;
    let mut out = Vec::with_capacity(48 + p.len() * (24 + 28 * p.probabilities.len()));
    // The model computes in f32: its outputs are written as the shortest text of their f32
    // value (`0.6794670`, not `0.6794670224189758`), which reads back to the same number.
    let number = |out: &mut Vec<u8>, x: f64| {
        // A class value that is an integer is written as one (`1`, not `1.0`).
        if classifier && x.fract() == 0.0 && x.abs() < 9.0e15 {
            let _ = write!(out, "{}", x as i64);
        } else {
            let _ = serde_json::to_writer(&mut *out, &(x as f32));
        }
    };
    out.extend_from_slice(b"{\"predictions\": [");
    for i in 0..p.len() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(b"{\"prediction\": ");
        number(&mut out, p.prediction[i]);
        if !p.probabilities.is_empty() {
            out.extend_from_slice(b", \"probabilities\": {");
            for (k, (class, values)) in p.probabilities.iter().enumerate() {
                if k > 0 {
                    out.extend_from_slice(b", ");
                }
                let _ = serde_json::to_writer(&mut out, class);
                out.extend_from_slice(b": ");
                let _ = serde_json::to_writer(&mut out, &(values[i] as f32));
            }
            out.push(b'}');
        }
        out.push(b'}');
    }
    let _ = write!(out, "], \"model_version\": \"{version}\"}}");
    out
}

/// One entry of `model_version_status`.
fn version_entry(v: &Loaded) -> Value {
    let i = v.info();
    json!({
        "version": v.version().to_string(),
        "state": "AVAILABLE",
        "status": { "error_code": "OK", "error_message": "" },
        "pushed_at": i.pushed_at,
        "model_digest": i.model_digest,
        "transform_digest": i.transform_digest,
        "pipeline": i.pipeline,
        "run": i.run,
    })
}

fn failure_entry(f: &Failure) -> Value {
    json!({
        "version": f.version.to_string(),
        "state": "END",
        "status": { "error_code": "UNKNOWN", "error_message": f.message },
    })
}

async fn status(State(s): St, UrlPath(name): UrlPath<String>) -> Response {
    if name.ends_with(":predict") {
        return error(StatusCode::METHOD_NOT_ALLOWED, format!("use POST for /v1/models/{name}"));
    }
    if let Err((code, message)) = check_name(&s, &name) {
        return error(code, message);
    }
    let mut entries = Vec::new();
    let current = s.current.load_full();
    if let Some(v) = &current {
        entries.push(version_entry(v));
    }
    if let Some(f) = s.failure().filter(|f| f.version > 0 && current.as_ref().is_none_or(|c| c.version() != f.version))
    {
        entries.push(failure_entry(&f));
    }
    json_response(StatusCode::OK, &json!({ "model_version_status": entries }))
}

async fn version_status(State(s): St, UrlPath((name, version)): UrlPath<(String, String)>) -> Response {
    if let Err((code, message)) = check_name(&s, &name) {
        return error(code, message);
    }
    let Ok(n) = version.parse::<u64>() else {
        return error(StatusCode::BAD_REQUEST, format!("`{version}` is not a version number"));
    };
    if let Some(v) = s.current.load_full().filter(|v| v.version() == n) {
        return json_response(StatusCode::OK, &json!({ "model_version_status": [version_entry(&v)] }));
    }
    if let Some(f) = s.failure().filter(|f| f.version == n) {
        return json_response(StatusCode::OK, &json!({ "model_version_status": [failure_entry(&f)] }));
    }
    error(StatusCode::NOT_FOUND, format!("version {n} of `{}` is not loaded", s.name))
}

async fn metadata(State(s): St, UrlPath(name): UrlPath<String>) -> Response {
    if let Err((code, message)) = check_name(&s, &name) {
        return error(code, message);
    }
    let Some(v) = s.current.load_full() else {
        return error(StatusCode::SERVICE_UNAVAILABLE, s.unavailable());
    };
    let inputs: Vec<Value> = v.inputs().iter().map(|i| json!({ "name": i.name, "type": i.ty.to_string() })).collect();
    let task = if v.classes().is_empty() { "regression" } else { "classification" };
    json_response(
        StatusCode::OK,
        &json!({
            "model_spec": { "name": s.name, "version": v.version().to_string() },
            "metadata": {
                "inputs": inputs,
                "ignored_inputs": v.label_inputs(),
                "label": v.label(),
                "task": task,
                "classes": v.classes(),
            },
        }),
    )
}

async fn health(State(s): St) -> Response {
    match s.current.load_full() {
        Some(v) => json_response(StatusCode::OK, &json!({ "status": "ok", "model_version": v.version().to_string() })),
        None => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({ "status": "unavailable", "error": s.unavailable() }),
        ),
    }
}

async fn metrics(State(s): St) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        s.metrics.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::render;
    use crate::version::Predictions;

    #[test]
    fn answers_render_as_tf_serving_does() {
        let p = Predictions {
            prediction: vec![1.0, 1.0],
            probabilities: vec![
                ("0".into(), vec![0.25, f64::from(0.320_533_f32)]),
                ("1".into(), vec![0.75, f64::from(0.679_467_f32)]),
            ],
        };
        let text = String::from_utf8(render(&p, true, 3)).unwrap();
        assert_eq!(
            text,
            r#"{"predictions": [{"prediction": 1, "probabilities": {"0": 0.25, "1": 0.75}}, {"prediction": 1, "probabilities": {"0": 0.320533, "1": 0.679467}}], "model_version": "3"}"#
        );
        let r = Predictions { prediction: vec![2.5, 3.0, f64::NAN], probabilities: vec![] };
        let text = String::from_utf8(render(&r, false, 12)).unwrap();
        assert_eq!(
            text,
            r#"{"predictions": [{"prediction": 2.5}, {"prediction": 3.0}, {"prediction": null}], "model_version": "12"}"#
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["predictions"][0]["prediction"], 2.5);
    }
}
