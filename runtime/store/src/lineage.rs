//! The lineage store: what ran, on what, producing what, in an embedded SQLite database at
//! `<root>/lineage.db`, after the ML Metadata (MLMD) model.
//!
//! It sits beside the artifact store ([`crate::artifacts`]): the executor records each run and
//! step execution here, with input and output events that point at artifact rows, which in
//! turn point at artifact folders by digest. Caching ([`LineageStore::lookup_cache`]), resume
//! ([`LineageStore::resume_run`]), resolvers (latest blessed model, previous span) and the
//! lineage views ([`LineageStore::upstream`], [`LineageStore::downstream`]) are queries over it.
//!
//! # Model
//!
//! - *artifact types* by name; *artifacts*, one row per content digest (the store is
//!   content-addressed, so equal content is one artifact however often it is produced), LIVE
//!   while its folder exists, DELETED once it is gone;
//! - *contexts*: one per pipeline (by name) and one per run (`<pipeline>#<n>`, child of its
//!   pipeline) with a state and the process that runs it;
//! - *executions*: one per attempt of a step in a run: component and its digest, parameters,
//!   cache key, state (running, complete, failed, cached, canceled), times, error;
//! - *events*: an execution's inputs and outputs by port; *attributions* (context–artifact) and
//!   *associations* (context–execution) tie both to their run and pipeline.
//!
//! # Concurrency and durability
//!
//! WAL journal, `synchronous=NORMAL`, foreign keys on, a 30 s busy timeout, and every state
//! change is one `BEGIN IMMEDIATE` transaction, so any number of processes may share a store.
//! A crash loses no committed transaction (a power loss may lose the last few, never consistency);
//! artifacts are written and fsynced before the rows that name them, so a row never points at
//! a missing folder. The schema is versioned (`PRAGMA user_version`) and migrated in a
//! transaction on open; `PRAGMA optimize` runs on open and close, because without statistics
//! SQLite plans the recursive lineage queries badly (the recursive queries also fix their join
//! order with `CROSS JOIN`, and a test checks their plans use indexes).

use crate::artifacts::{StoredArtifact, process_alive};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, ToSql, Transaction, TransactionBehavior, params};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The database file under the store root.
pub const DB_FILE: &str = "lineage.db";
/// `PRAGMA application_id` of a lineage database ("mlp!").
pub const APPLICATION_ID: i64 = 0x6d6c_7021;
/// How long a write waits for another process's transaction before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether SQLite said the database is busy or locked.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}

/// Runs `f` again while SQLite answers "busy", for up to [`BUSY_TIMEOUT`]: for the statements
/// that SQLite does not retry itself.
fn retry_busy<T>(mut f: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match f() {
            Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

/// How long closing waits for the lock to optimize before skipping it.
pub const CLOSE_BUSY_TIMEOUT: Duration = Duration::from_millis(250);

/// The schema migrations, in order; `PRAGMA user_version` is how many have been applied.
/// Append only: never edit a released migration.
const MIGRATIONS: &[&str] = &[
    // 1: the MLMD model.
    r#"
    CREATE TABLE artifact_types (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE
    ) STRICT;

    CREATE TABLE contexts (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('pipeline', 'run')),
        name TEXT NOT NULL,
        parent_id INTEGER REFERENCES contexts(id),
        state TEXT CHECK (state IN ('running', 'complete', 'failed', 'canceled')),
        properties TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(properties)),
        owner_host TEXT,
        owner_pid INTEGER,
        created_at INTEGER NOT NULL,
        finished_at INTEGER,
        UNIQUE (kind, name),
        CHECK ((kind = 'run') = (state IS NOT NULL AND parent_id IS NOT NULL))
    ) STRICT;
    CREATE INDEX contexts_parent ON contexts(parent_id, id);
    CREATE INDEX contexts_running ON contexts(id) WHERE state = 'running';

    CREATE TABLE artifacts (
        id INTEGER PRIMARY KEY,
        type_id INTEGER NOT NULL REFERENCES artifact_types(id),
        uri TEXT NOT NULL,
        digest TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL CHECK (state IN ('live', 'deleted')),
        properties TEXT NOT NULL CHECK (json_valid(properties)),
        bytes INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX artifacts_type ON artifacts(type_id, id);

    CREATE TABLE executions (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES contexts(id),
        step TEXT NOT NULL,
        component TEXT NOT NULL,
        component_digest TEXT NOT NULL,
        parameters TEXT NOT NULL CHECK (json_valid(parameters)),
        cache_key TEXT,
        state TEXT NOT NULL CHECK (state IN ('running', 'complete', 'failed', 'cached', 'canceled')),
        attempt INTEGER NOT NULL CHECK (attempt >= 1),
        cached_from INTEGER REFERENCES executions(id),
        error TEXT,
        started_at INTEGER NOT NULL,
        ended_at INTEGER
    ) STRICT;
    CREATE INDEX executions_run ON executions(run_id, id);
    CREATE INDEX executions_cache ON executions(cache_key, id) WHERE state = 'complete';
    CREATE INDEX executions_running ON executions(run_id) WHERE state = 'running';
    CREATE INDEX executions_cached_from ON executions(cached_from) WHERE cached_from IS NOT NULL;

    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        execution_id INTEGER NOT NULL REFERENCES executions(id),
        artifact_id INTEGER NOT NULL REFERENCES artifacts(id),
        kind TEXT NOT NULL CHECK (kind IN ('input', 'output')),
        port TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        UNIQUE (execution_id, kind, port, artifact_id)
    ) STRICT;
    CREATE INDEX events_artifact ON events(artifact_id, kind, execution_id);

    CREATE TABLE attributions (
        context_id INTEGER NOT NULL REFERENCES contexts(id),
        artifact_id INTEGER NOT NULL REFERENCES artifacts(id),
        PRIMARY KEY (context_id, artifact_id)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX attributions_artifact ON attributions(artifact_id);

    CREATE TABLE associations (
        context_id INTEGER NOT NULL REFERENCES contexts(id),
        execution_id INTEGER NOT NULL REFERENCES executions(id),
        PRIMARY KEY (context_id, execution_id)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX associations_execution ON associations(execution_id);
    "#,
];

/// The schema version this code writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Why a lineage store operation failed. Every message names the database, row or run and says
/// what to do.
#[derive(Debug, thiserror::Error)]
pub enum LineageError {
    /// The store folder could not be created.
    #[error("cannot create the store folder {path}: {source}; check the path and its permissions")]
    CreateRoot {
        /// The folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The database could not be opened or configured.
    #[error(
        "cannot open the lineage database {path}: {source}; check that the folder is writable and the file is an mlp lineage database"
    )]
    Open {
        /// The database file.
        path: PathBuf,
        /// The cause.
        source: rusqlite::Error,
    },
    /// The file is some other program's SQLite database.
    #[error(
        "{path} is not an mlp lineage database (its application id is {found:#x}); point mlp at its own store folder (by default `.mlp/` beside the pipeline)"
    )]
    Foreign {
        /// The database file.
        path: PathBuf,
        /// Its `PRAGMA application_id`.
        found: i64,
    },
    /// The database was written by a newer mlp.
    #[error(
        "the lineage database {path} has schema version {found}, and this mlp knows versions up to {known}; upgrade mlp, or use another store folder"
    )]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// Its `PRAGMA user_version`.
        found: i64,
        /// [`SCHEMA_VERSION`].
        known: i64,
    },
    /// A migration failed; the database is unchanged.
    #[error(
        "cannot upgrade the lineage database {path} to schema version {version}: {source}; the database was left unchanged: run `mlp doctor` on the store"
    )]
    Migration {
        /// The database file.
        path: PathBuf,
        /// The version being applied.
        version: i64,
        /// The cause.
        source: rusqlite::Error,
    },
    /// A query failed.
    #[error("lineage database {path}: cannot {action}: {source}; {}", sql_hint(.source))]
    Sql {
        /// The database file.
        path: PathBuf,
        /// What was being done, naming the rows.
        action: String,
        /// The cause.
        source: rusqlite::Error,
    },
    /// A row that was named does not exist.
    #[error(
        "there is no {what} {id} in the lineage database {path}; list runs with `mlp runs` and lineage with `mlp lineage`"
    )]
    NotFound {
        /// `run`, `execution`, `artifact`.
        what: &'static str,
        /// Its id.
        id: String,
        /// The database file.
        path: PathBuf,
    },
    /// The row is in a state that does not allow the change.
    #[error("{what} {id} is {state}, so it cannot {action}; {hint}")]
    BadState {
        /// `run`, `execution`, `artifact`.
        what: &'static str,
        /// Its id.
        id: i64,
        /// Its state.
        state: String,
        /// The change asked for.
        action: &'static str,
        /// What to do instead.
        hint: &'static str,
    },
    /// A JSON argument is not a JSON object.
    #[error("the {field} are not a JSON object ({reason}); pass a JSON object such as `{{}}`")]
    BadJson {
        /// Which argument, such as `parameters of step train`.
        field: String,
        /// Why.
        reason: String,
    },
    /// Another live process is running this run.
    #[error("run {run} is being run by process {pid} on {host}; wait for it to finish or stop it, then resume the run")]
    RunBusy {
        /// The run.
        run: RunId,
        /// The process.
        pid: i64,
        /// Its host.
        host: String,
    },
}

fn sql_hint(e: &rusqlite::Error) -> &'static str {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            "another mlp process held the database longer than the busy timeout: wait for it, or stop it"
        }
        Some(rusqlite::ErrorCode::DiskFull) => "the disk is full: free space and run again",
        Some(rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::CannotOpen) => {
            "the database is read-only or cannot be opened: check the store folder's permissions"
        }
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase) => {
            "the database is damaged: run `mlp doctor` on the store"
        }
        _ => "run `mlp doctor` on the store; if the problem stays, report it",
    }
}

type Result<T, E = LineageError> = std::result::Result<T, E>;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// The id of a run (a run context).
    RunId
);
id_type!(
    /// The id of an execution (one attempt of one step in one run).
    ExecutionId
);
id_type!(
    /// The id of an artifact row.
    ArtifactId
);

macro_rules! state_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name {
            $($(#[$vdoc])* $variant),*
        }

        impl $name {
            /// The name stored in the database.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),*
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                match value.as_str()? {
                    $($text => Ok($name::$variant),)*
                    other => Err(FromSqlError::Other(format!("unknown {} `{other}`", stringify!($name)).into())),
                }
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }
    };
}

state_enum!(
    /// The state of a run.
    RunState {
        /// A process is running it (or died while running it: see [`LineageStore::stale_runs`]).
        Running = "running",
        /// Every step succeeded or was skipped.
        Complete = "complete",
        /// A step failed.
        Failed = "failed",
        /// It was stopped.
        Canceled = "canceled",
    }
);

state_enum!(
    /// The state of an execution.
    ExecutionState {
        /// The step is running.
        Running = "running",
        /// The step succeeded; its outputs are recorded.
        Complete = "complete",
        /// The step failed; the error is recorded.
        Failed = "failed",
        /// The step did not run: the outputs of an earlier execution with the same cache key
        /// were reused.
        Cached = "cached",
        /// The step was stopped, or the process running it died.
        Canceled = "canceled",
    }
);

state_enum!(
    /// The state of an artifact row.
    ArtifactState {
        /// Its folder is in the artifact store.
        Live = "live",
        /// Its folder is gone (garbage-collected, or found damaged by `doctor`).
        Deleted = "deleted",
    }
);

state_enum!(
    /// The direction of an event.
    EventKind {
        /// The artifact was an input of the execution.
        Input = "input",
        /// The execution produced the artifact.
        Output = "output",
    }
);

/// An artifact row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ArtifactRecord {
    /// Its id.
    pub id: ArtifactId,
    /// Its type.
    pub artifact_type: String,
    /// Its folder relative to the store root.
    pub uri: String,
    /// Its digest.
    pub digest: String,
    /// Live or deleted.
    pub state: ArtifactState,
    /// Its properties.
    pub properties: serde_json::Value,
    /// Total size of its part files.
    pub bytes: u64,
    /// When it was first recorded, in milliseconds since the Unix epoch.
    pub created_at: i64,
}

/// An input or output of an execution.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EventRecord {
    /// Input or output.
    pub kind: EventKind,
    /// The port name.
    pub port: String,
    /// The artifact.
    pub artifact: ArtifactId,
}

/// An execution row with its events.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExecutionRecord {
    /// Its id.
    pub id: ExecutionId,
    /// Its run.
    pub run: RunId,
    /// The step id in the pipeline.
    pub step: String,
    /// The component (`file#name`).
    pub component: String,
    /// The component's digest.
    pub component_digest: String,
    /// The parameters as the step received them.
    pub parameters: serde_json::Value,
    /// The cache key, when the step is cacheable.
    pub cache_key: Option<String>,
    /// Its state.
    pub state: ExecutionState,
    /// Which attempt of the step in this run (1 for the first).
    pub attempt: u32,
    /// For a cached execution, the execution whose outputs it reused.
    pub cached_from: Option<ExecutionId>,
    /// For a failed or canceled execution, why.
    pub error: Option<String>,
    /// Start, in milliseconds since the Unix epoch.
    pub started_at: i64,
    /// End, in milliseconds since the Unix epoch.
    pub ended_at: Option<i64>,
    /// Its inputs and outputs, inputs first, each by port name.
    pub events: Vec<EventRecord>,
}

impl ExecutionRecord {
    /// The artifacts of its events of `kind`, with their ports.
    pub fn artifacts(&self, kind: EventKind) -> impl Iterator<Item = (&str, ArtifactId)> {
        self.events.iter().filter(move |e| e.kind == kind).map(|e| (e.port.as_str(), e.artifact))
    }
}

/// A run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunRecord {
    /// Its id.
    pub id: RunId,
    /// Its name, `<pipeline>#<n>`.
    pub name: String,
    /// The pipeline's name.
    pub pipeline: String,
    /// Its state.
    pub state: RunState,
    /// The properties given at [`LineageStore::begin_run`].
    pub properties: serde_json::Value,
    /// The host of the process that runs (or ran) it.
    pub owner_host: Option<String>,
    /// That process's id.
    pub owner_pid: Option<i64>,
    /// Start, in milliseconds since the Unix epoch.
    pub started_at: i64,
    /// End, in milliseconds since the Unix epoch.
    pub finished_at: Option<i64>,
}

/// A run with its executions, in the order they started.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunDetail {
    /// The run.
    pub run: RunRecord,
    /// Its executions.
    pub executions: Vec<ExecutionRecord>,
}

/// What a step needs to start (or to be recorded as cached).
#[derive(Clone, Debug)]
pub struct ExecutionSpec<'a> {
    /// The step id in the pipeline.
    pub step: &'a str,
    /// The component (`file#name`).
    pub component: &'a str,
    /// The component's digest.
    pub component_digest: &'a str,
    /// The parameters as a JSON object.
    pub parameters: &'a str,
    /// The cache key, when the step is cacheable.
    pub cache_key: Option<&'a str>,
    /// Which attempt (1 for the first).
    pub attempt: u32,
    /// The input artifacts by port.
    pub inputs: &'a [(&'a str, ArtifactId)],
}

/// The outputs of an earlier execution that a step can reuse.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CacheHit {
    /// The execution that produced them.
    pub execution: ExecutionId,
    /// Its run.
    pub run: RunId,
    /// Its outputs by port.
    pub outputs: Vec<(String, ArtifactRecord)>,
}

/// A model blessed by an evaluation, from [`LineageStore::latest_blessed_model`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BlessedModel {
    /// The model.
    pub model: ArtifactRecord,
    /// The Blessing whose `blessed` property is true.
    pub blessing: ArtifactRecord,
    /// The execution that consumed the model and produced the blessing.
    pub execution: ExecutionId,
}

/// Which way a lineage graph goes from its root.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// What the root was made from.
    Upstream,
    /// What was made from the root.
    Downstream,
}

/// One edge of a lineage graph: an event.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Edge {
    /// The execution.
    pub execution: ExecutionId,
    /// The artifact.
    pub artifact: ArtifactId,
    /// Input (artifact → execution) or output (execution → artifact).
    pub kind: EventKind,
    /// The port name.
    pub port: String,
}

impl PartialOrd for EventKind {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for EventKind {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

/// The lineage of one artifact: every artifact and complete execution reachable from it in one
/// direction, and the events between them. A DAG (an artifact may feed several steps); cached
/// executions are left out, since they computed nothing.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LineageGraph {
    /// The artifact it starts from.
    pub root: ArtifactId,
    /// Which way it goes.
    pub direction: Direction,
    /// Its artifacts.
    pub artifacts: BTreeMap<ArtifactId, ArtifactRecord>,
    /// Its executions.
    pub executions: BTreeMap<ExecutionId, ExecutionRecord>,
    /// Its events, sorted.
    pub edges: Vec<Edge>,
}

impl LineageGraph {
    /// Graphviz DOT: artifacts as ellipses (type and short digest), executions as boxes (step
    /// and component), edges in the direction data flowed, labelled with the port.
    pub fn to_dot(&self) -> String {
        let mut s = String::from("digraph lineage {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n");
        for a in self.artifacts.values() {
            let label = format!("{}\n{}", a.artifact_type, short_digest(&a.digest));
            let style = if a.id == self.root { ", style=bold" } else { "" };
            s += &format!("  a{} [shape=ellipse, label=\"{}\"{style}];\n", a.id, dot_escape(&label));
        }
        for x in self.executions.values() {
            let label = format!("{}\n{}", x.step, x.component);
            s += &format!("  x{} [shape=box, label=\"{}\"];\n", x.id, dot_escape(&label));
        }
        for e in &self.edges {
            let (from, to) = match e.kind {
                EventKind::Input => (format!("a{}", e.artifact), format!("x{}", e.execution)),
                EventKind::Output => (format!("x{}", e.execution), format!("a{}", e.artifact)),
            };
            s += &format!("  {from} -> {to} [label=\"{}\"];\n", dot_escape(&e.port));
        }
        s + "}\n"
    }

    /// The graph as an indented tree from the root, for a terminal. A node reached a second
    /// time (a diamond) is printed once more with `(see above)` and not expanded again.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mut seen = BTreeSet::new();
        self.text_artifact(self.root, "", "", &mut seen, &mut out);
        out
    }

    fn text_artifact(
        &self,
        id: ArtifactId,
        first: &str,
        rest: &str,
        seen: &mut BTreeSet<(bool, i64)>,
        out: &mut String,
    ) {
        let Some(a) = self.artifacts.get(&id) else { return };
        let again = !seen.insert((false, id.0));
        let deleted = if a.state == ArtifactState::Deleted { " [deleted]" } else { "" };
        let more = if again { " (see above)" } else { "" };
        *out += &format!("{first}{} {} (artifact {}){deleted}{more}\n", a.artifact_type, short_digest(&a.digest), a.id);
        if again {
            return;
        }
        // Upstream: the executions that produced it; downstream: those that consumed it.
        let kind = match self.direction {
            Direction::Upstream => EventKind::Output,
            Direction::Downstream => EventKind::Input,
        };
        let next: Vec<&Edge> = self.edges.iter().filter(|e| e.artifact == id && e.kind == kind).collect();
        for (i, e) in next.iter().enumerate() {
            let last = i + 1 == next.len();
            let (f, r) = if last { ("└─ ", "   ") } else { ("├─ ", "│  ") };
            self.text_execution(e.execution, &format!("{rest}{f}"), &format!("{rest}{r}"), seen, out);
        }
    }

    fn text_execution(
        &self,
        id: ExecutionId,
        first: &str,
        rest: &str,
        seen: &mut BTreeSet<(bool, i64)>,
        out: &mut String,
    ) {
        let Some(x) = self.executions.get(&id) else { return };
        let again = !seen.insert((true, id.0));
        let more = if again { " (see above)" } else { "" };
        *out += &format!("{first}step `{}` ({}, execution {}, run {}){more}\n", x.step, x.component, x.id, x.run);
        if again {
            return;
        }
        let kind = match self.direction {
            Direction::Upstream => EventKind::Input,
            Direction::Downstream => EventKind::Output,
        };
        let next: Vec<&Edge> = self.edges.iter().filter(|e| e.execution == id && e.kind == kind).collect();
        for (i, e) in next.iter().enumerate() {
            let last = i + 1 == next.len();
            let (f, r) = if last { ("└─ ", "   ") } else { ("├─ ", "│  ") };
            self.text_artifact(e.artifact, &format!("{rest}{f}{}: ", e.port), &format!("{rest}{r}"), seen, out);
        }
    }
}

fn short_digest(d: &str) -> &str {
    &d[..d.len().min("blake3:".len() + 12)]
}

fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// This machine's name, as far as it can be read without a system call wrapper.
fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default()
}

fn check_object(json: &str, field: impl FnOnce() -> String) -> Result<()> {
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        Ok(other) => Err(LineageError::BadJson { field: field(), reason: format!("it is {other}") }),
        Err(e) => Err(LineageError::BadJson { field: field(), reason: e.to_string() }),
    }
}

fn json_column(row: &Row<'_>, idx: usize) -> rusqlite::Result<serde_json::Value> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e)))
}

const ARTIFACT_COLUMNS: &str = "a.id, t.name, a.uri, a.digest, a.state, a.properties, a.bytes, a.created_at FROM artifacts a JOIN artifact_types t ON t.id = a.type_id";

fn artifact_row(row: &Row<'_>) -> rusqlite::Result<ArtifactRecord> {
    Ok(ArtifactRecord {
        id: ArtifactId(row.get(0)?),
        artifact_type: row.get(1)?,
        uri: row.get(2)?,
        digest: row.get(3)?,
        state: row.get(4)?,
        properties: json_column(row, 5)?,
        bytes: row.get::<_, i64>(6)? as u64,
        created_at: row.get(7)?,
    })
}

const EXECUTION_COLUMNS: &str = "x.id, x.run_id, x.step, x.component, x.component_digest, x.parameters, x.cache_key, \
     x.state, x.attempt, x.cached_from, x.error, x.started_at, x.ended_at FROM executions x";

fn execution_row(row: &Row<'_>) -> rusqlite::Result<ExecutionRecord> {
    Ok(ExecutionRecord {
        id: ExecutionId(row.get(0)?),
        run: RunId(row.get(1)?),
        step: row.get(2)?,
        component: row.get(3)?,
        component_digest: row.get(4)?,
        parameters: json_column(row, 5)?,
        cache_key: row.get(6)?,
        state: row.get(7)?,
        attempt: row.get::<_, i64>(8)? as u32,
        cached_from: row.get::<_, Option<i64>>(9)?.map(ExecutionId),
        error: row.get(10)?,
        started_at: row.get(11)?,
        ended_at: row.get(12)?,
        events: Vec::new(),
    })
}

const RUN_COLUMNS: &str = "r.id, r.name, p.name, r.state, r.properties, r.owner_host, r.owner_pid, r.created_at, \
     r.finished_at FROM contexts r JOIN contexts p ON p.id = r.parent_id";

fn run_row(row: &Row<'_>) -> rusqlite::Result<RunRecord> {
    Ok(RunRecord {
        id: RunId(row.get(0)?),
        name: row.get(1)?,
        pipeline: row.get(2)?,
        state: row.get(3)?,
        properties: json_column(row, 4)?,
        owner_host: row.get(5)?,
        owner_pid: row.get(6)?,
        started_at: row.get(7)?,
        finished_at: row.get(8)?,
    })
}

/// Every artifact upstream of `?1` (itself included), through complete executions.
const UPSTREAM_ARTIFACTS: &str = "
    WITH RECURSIVE up(artifact_id) AS (
        VALUES (?1)
        UNION
        SELECT ei.artifact_id
        FROM up
        CROSS JOIN events eo ON eo.artifact_id = up.artifact_id AND eo.kind = 'output'
        CROSS JOIN executions x ON x.id = eo.execution_id AND x.state = 'complete'
        CROSS JOIN events ei ON ei.execution_id = x.id AND ei.kind = 'input'
    )
    SELECT artifact_id FROM up";

/// Every artifact downstream of `?1` (itself included), through complete executions.
const DOWNSTREAM_ARTIFACTS: &str = "
    WITH RECURSIVE down(artifact_id) AS (
        VALUES (?1)
        UNION
        SELECT eo.artifact_id
        FROM down
        CROSS JOIN events ei ON ei.artifact_id = down.artifact_id AND ei.kind = 'input'
        CROSS JOIN executions x ON x.id = ei.execution_id AND x.state = 'complete'
        CROSS JOIN events eo ON eo.execution_id = x.id AND eo.kind = 'output'
    )
    SELECT artifact_id FROM down";

/// The complete executions with an event of kind `?2` on an artifact of the JSON array `?1`.
const EXECUTIONS_TOUCHING: &str = "
    SELECT DISTINCT e.execution_id
    FROM json_each(?1) j
    CROSS JOIN events e ON e.artifact_id = j.value AND e.kind = ?2
    CROSS JOIN executions x ON x.id = e.execution_id AND x.state = 'complete'";

// The resolvers go from the artifact type to the pipeline, not the other way: a store usually
// holds one pipeline, so its type is what narrows the search. `CROSS JOIN` fixes that order.

/// The newest live artifact of type `?2` output by a complete or cached execution of pipeline `?1`.
const LATEST_ARTIFACT: &str = "
    SELECT a.id
    FROM contexts p
    CROSS JOIN artifact_types t
    CROSS JOIN artifacts a ON a.type_id = t.id
    CROSS JOIN attributions at ON at.context_id = p.id AND at.artifact_id = a.id
    CROSS JOIN events e ON e.artifact_id = a.id AND e.kind = 'output'
    CROSS JOIN associations s ON s.execution_id = e.execution_id AND s.context_id = p.id
    WHERE p.kind = 'pipeline' AND p.name = ?1 AND t.name = ?2 AND a.state = 'live'
    ORDER BY e.id DESC LIMIT 1";

/// The newest blessing (`blessed` true) in pipeline `?1` with the live model its execution read.
const LATEST_BLESSED_MODEL: &str = "
    SELECT m.id, b.id, e.execution_id
    FROM contexts p
    CROSS JOIN artifact_types bt
    CROSS JOIN artifacts b ON b.type_id = bt.id
    CROSS JOIN attributions at ON at.context_id = p.id AND at.artifact_id = b.id
    CROSS JOIN events e ON e.artifact_id = b.id AND e.kind = 'output'
    CROSS JOIN associations s ON s.execution_id = e.execution_id AND s.context_id = p.id
    CROSS JOIN events i ON i.execution_id = e.execution_id AND i.kind = 'input'
    CROSS JOIN artifacts m ON m.id = i.artifact_id
    CROSS JOIN artifact_types mt ON mt.id = m.type_id
    WHERE p.kind = 'pipeline' AND p.name = ?1 AND bt.name = 'Blessing'
      AND json_type(b.properties, '$.blessed') = 'true' AND mt.name = 'Model' AND m.state = 'live'
    ORDER BY e.id DESC LIMIT 1";

/// The live artifact of type `?2` in pipeline `?1` with the greatest `span` below `?3` (the
/// newest of those with that span).
const PREVIOUS_SPAN: &str = "
    SELECT a.id
    FROM contexts p
    CROSS JOIN artifact_types t
    CROSS JOIN artifacts a ON a.type_id = t.id
    CROSS JOIN attributions at ON at.context_id = p.id AND at.artifact_id = a.id
    WHERE p.kind = 'pipeline' AND p.name = ?1 AND t.name = ?2 AND a.state = 'live'
      AND json_type(a.properties, '$.span') = 'integer' AND json_extract(a.properties, '$.span') < ?3
    ORDER BY json_extract(a.properties, '$.span') DESC, a.id DESC LIMIT 1";

/// The latest complete execution with cache key `?1` whose outputs are all live.
const LOOKUP_CACHE: &str = "
    SELECT x.id, x.run_id FROM executions x
    WHERE x.cache_key = ?1 AND x.state = 'complete'
      AND NOT EXISTS (
        SELECT 1 FROM events e JOIN artifacts a ON a.id = e.artifact_id
        WHERE e.execution_id = x.id AND e.kind = 'output' AND a.state != 'live')
    ORDER BY x.id DESC LIMIT 1";

/// The lineage store: one SQLite connection to `<root>/lineage.db`. Open one per thread or
/// process; they coordinate through SQLite's locks.
pub struct LineageStore {
    conn: Connection,
    path: PathBuf,
    host: String,
    closed: bool,
}

impl fmt::Debug for LineageStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LineageStore").field("path", &self.path).finish_non_exhaustive()
    }
}

impl LineageStore {
    /// Opens (creating when missing) the lineage database under the store `root`, which is
    /// created too. Applies pending migrations in one transaction; a database written by a newer
    /// mlp is an error, never touched.
    pub fn open(root: impl AsRef<Path>) -> Result<LineageStore> {
        let root = root.as_ref();
        std::fs::create_dir_all(root).map_err(|source| LineageError::CreateRoot { path: root.into(), source })?;
        let path = root.join(DB_FILE);
        let open_err = |source| LineageError::Open { path: path.clone(), source };
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        // Every statement of this module stays prepared (the default keeps 16).
        conn.set_prepared_statement_cache_capacity(64);
        let app: i64 = conn.query_row("PRAGMA application_id", [], |r| r.get(0)).map_err(open_err)?;
        if app != 0 && app != APPLICATION_ID {
            return Err(LineageError::Foreign { path, found: app });
        }
        // Switching a new database to WAL takes an exclusive lock, and SQLite answers "busy" at
        // once (without the busy handler) while another process opens the same new store.
        let mode: String =
            retry_busy(|| conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))).map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(open_err(rusqlite::Error::InvalidParameterName(format!(
                "the journal mode stayed `{mode}` instead of WAL (is the folder on a network file system?)"
            ))));
        }
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;").map_err(open_err)?;
        let mut store = LineageStore { conn, path, host: host_name(), closed: false };
        store.migrate()?;
        // Fresh statistics for the planner (bounded work; see the module documentation).
        // Best effort, like on close: a concurrent writer can make the statistics update fail
        // with "busy" at once (a read transaction cannot be upgraded), and the next open retries.
        match store.conn.execute_batch("PRAGMA analysis_limit = 1000; PRAGMA optimize = 0x10002;") {
            Err(e) if is_busy(&e) => {}
            other => other.map_err(|source| LineageError::Open { path: store.path.clone(), source })?,
        }
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the database (after [`open`](Self::open): [`SCHEMA_VERSION`]).
    pub fn schema_version(&self) -> Result<i64> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(self.sql(|| "read the schema version".into()))
    }

    fn migrate(&mut self) -> Result<()> {
        let path = self.path.clone();
        let read = |c: &Connection| c.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0));
        let version = read(&self.conn).map_err(|source| LineageError::Open { path: path.clone(), source })?;
        if version == SCHEMA_VERSION {
            return Ok(());
        }
        if version > SCHEMA_VERSION {
            return Err(LineageError::NewerSchema { path, found: version, known: SCHEMA_VERSION });
        }
        let mig = |version, source| LineageError::Migration { path: path.clone(), version, source };
        let tx =
            self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| mig(version + 1, e))?;
        // Another process may have migrated while this one waited for the lock.
        let version = read(&tx).map_err(|e| mig(version + 1, e))?;
        if version > SCHEMA_VERSION {
            return Err(LineageError::NewerSchema { path, found: version, known: SCHEMA_VERSION });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql).map_err(|e| mig(i as i64 + 1, e))?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION).map_err(|e| mig(SCHEMA_VERSION, e))?;
        tx.pragma_update(None, "application_id", APPLICATION_ID).map_err(|e| mig(SCHEMA_VERSION, e))?;
        tx.commit().map_err(|e| mig(SCHEMA_VERSION, e))
    }

    /// Runs `PRAGMA optimize` and closes the connection. Dropping the store does the same,
    /// ignoring errors. Optimizing is best effort: it waits at most [`CLOSE_BUSY_TIMEOUT`] for
    /// another process's transaction.
    pub fn close(mut self) -> Result<()> {
        self.closed = true;
        self.optimize_on_close().map_err(self.sql(|| "optimize the database on close".into()))
    }

    fn optimize_on_close(&self) -> rusqlite::Result<()> {
        self.conn.busy_timeout(CLOSE_BUSY_TIMEOUT)?;
        match self.conn.execute_batch("PRAGMA optimize;") {
            Err(e) if matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy)) => Ok(()),
            other => other,
        }
    }

    fn sql(&self, action: impl FnOnce() -> String) -> impl FnOnce(rusqlite::Error) -> LineageError {
        let path = self.path.clone();
        move |source| LineageError::Sql { path, action: action(), source }
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction, committed when it returns `Ok`.
    fn write<T>(
        &mut self,
        action: impl Fn() -> String,
        f: impl FnOnce(&Transaction<'_>, &Writer<'_>) -> Result<T>,
    ) -> Result<T> {
        let path = self.path.clone();
        let err = |source| LineageError::Sql { path: path.clone(), action: action(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        let w = Writer { path: &path, now: now_ms(), host: &self.host };
        let value = f(&tx, &w)?;
        tx.commit().map_err(err)?;
        Ok(value)
    }

    /// Starts a run of `pipeline` (its context is created on first use), owned by this process.
    /// `properties` (a JSON object: parameters, the pipeline file, its IR digest) are kept with
    /// the run. The run is named `<pipeline>#<n>`, n counting the pipeline's runs from 1.
    pub fn begin_run(&mut self, pipeline: &str, properties: &serde_json::Value) -> Result<RunId> {
        if !properties.is_object() {
            return Err(LineageError::BadJson {
                field: format!("properties of a run of `{pipeline}`"),
                reason: format!("it is {properties}"),
            });
        }
        let props = properties.to_string();
        let pid = i64::from(std::process::id());
        self.write(
            || format!("start a run of pipeline `{pipeline}`"),
            |tx, w| {
                let p = w.pipeline(tx, pipeline)?;
                let n: i64 = tx
                    .query_row("SELECT count(*) FROM contexts WHERE parent_id = ?1", [p], |r| r.get(0))
                    .map_err(w.sql(|| format!("count the runs of `{pipeline}`")))?;
                let id = tx
                    .query_row(
                        "INSERT INTO contexts (kind, name, parent_id, state, properties, owner_host, owner_pid, created_at)
                         VALUES ('run', ?1, ?2, 'running', ?3, ?4, ?5, ?6) RETURNING id",
                        params![format!("{pipeline}#{}", n + 1), p, props, w.host, pid, w.now],
                        |r| r.get(0),
                    )
                    .map_err(w.sql(|| format!("insert a run of `{pipeline}`")))?;
                Ok(RunId(id))
            },
        )
    }

    /// Ends a running run with `state` (complete, failed or canceled). Canceling also cancels
    /// its running executions; completing or failing a run that still has running executions is
    /// an error.
    pub fn finish_run(&mut self, run: RunId, state: RunState) -> Result<()> {
        if state == RunState::Running {
            return Err(LineageError::BadState {
                what: "run",
                id: run.0,
                state: "running".into(),
                action: "be finished as running",
                hint: "finish it as complete, failed or canceled",
            });
        }
        self.write(
            || format!("finish run {run} as {state}"),
            |tx, w| {
                let current = w.run_state(tx, run)?;
                if current != RunState::Running {
                    return Err(LineageError::BadState {
                        what: "run",
                        id: run.0,
                        state: current.to_string(),
                        action: "be finished again",
                        hint: "it is already finished; resume it first to run it again",
                    });
                }
                if state == RunState::Canceled {
                    w.cancel_running(tx, run, "canceled: the run was canceled")?;
                } else {
                    let running: i64 = tx
                        .query_row(
                            "SELECT count(*) FROM executions WHERE run_id = ?1 AND state = 'running'",
                            [run.0],
                            |r| r.get(0),
                        )
                        .map_err(w.sql(|| format!("count the running executions of run {run}")))?;
                    if running > 0 {
                        return Err(LineageError::BadState {
                            what: "run",
                            id: run.0,
                            state: format!("running with {running} running executions"),
                            action: "be finished",
                            hint: "complete or fail its executions first, or finish the run as canceled",
                        });
                    }
                }
                tx.execute(
                    "UPDATE contexts SET state = ?2, finished_at = ?3 WHERE id = ?1",
                    params![run.0, state, w.now],
                )
                .map_err(w.sql(|| format!("update run {run}")))?;
                Ok(())
            },
        )
    }

    /// Records that a step of `run` started, with its inputs; returns the execution.
    pub fn start_execution(&mut self, run: RunId, spec: &ExecutionSpec<'_>) -> Result<ExecutionId> {
        check_object(spec.parameters, || format!("parameters of step `{}`", spec.step))?;
        self.write(
            || format!("record the start of step `{}` in run {run}", spec.step),
            |tx, w| w.insert_execution(tx, run, spec, ExecutionState::Running, None),
        )
    }

    /// Records that a running execution succeeded with `outputs` (port, stored artifact), which
    /// must already be in the artifact store. Returns the artifact ids, in the order given.
    pub fn complete_execution(
        &mut self,
        execution: ExecutionId,
        outputs: &[(&str, &StoredArtifact)],
    ) -> Result<Vec<ArtifactId>> {
        self.write(
            || format!("record the outputs of execution {execution}"),
            |tx, w| {
                let (state, run) = w.execution_state(tx, execution)?;
                if state != ExecutionState::Running {
                    return Err(LineageError::BadState {
                        what: "execution",
                        id: execution.0,
                        state: state.to_string(),
                        action: "complete",
                        hint: "only a running execution completes; start a new execution for another attempt",
                    });
                }
                let pipeline = w.pipeline_of(tx, run)?;
                let mut ids = Vec::with_capacity(outputs.len());
                for (port, stored) in outputs {
                    let id = w.upsert_artifact(tx, stored)?;
                    w.event(tx, execution, id, EventKind::Output, port)?;
                    w.attribute(tx, &[run.0, pipeline], id)?;
                    ids.push(id);
                }
                tx.execute(
                    "UPDATE executions SET state = 'complete', ended_at = ?2 WHERE id = ?1",
                    params![execution.0, w.now],
                )
                .map_err(w.sql(|| format!("mark execution {execution} complete")))?;
                Ok(ids)
            },
        )
    }

    /// Records that a running execution failed with `message`.
    pub fn fail_execution(&mut self, execution: ExecutionId, message: &str) -> Result<()> {
        self.end_execution(execution, ExecutionState::Failed, message)
    }

    /// Records that a running execution was stopped, with `message` saying why.
    pub fn cancel_execution(&mut self, execution: ExecutionId, message: &str) -> Result<()> {
        self.end_execution(execution, ExecutionState::Canceled, message)
    }

    fn end_execution(&mut self, execution: ExecutionId, to: ExecutionState, message: &str) -> Result<()> {
        self.write(
            || format!("mark execution {execution} {to}"),
            |tx, w| {
                let (state, _) = w.execution_state(tx, execution)?;
                if state != ExecutionState::Running {
                    return Err(LineageError::BadState {
                        what: "execution",
                        id: execution.0,
                        state: state.to_string(),
                        action: "end again",
                        hint: "it has already ended; start a new execution for another attempt",
                    });
                }
                tx.execute(
                    "UPDATE executions SET state = ?2, error = ?3, ended_at = ?4 WHERE id = ?1",
                    params![execution.0, to, message, w.now],
                )
                .map_err(w.sql(|| format!("update execution {execution}")))?;
                Ok(())
            },
        )
    }

    /// Records a step of `run` that reused the outputs of an earlier execution (a cache hit from
    /// [`lookup_cache`](Self::lookup_cache)) instead of running: an execution in state cached,
    /// with its inputs and the reused outputs as events.
    pub fn record_cached(&mut self, run: RunId, spec: &ExecutionSpec<'_>, hit: &CacheHit) -> Result<ExecutionId> {
        check_object(spec.parameters, || format!("parameters of step `{}`", spec.step))?;
        self.write(
            || format!("record step `{}` of run {run} as cached", spec.step),
            |tx, w| {
                let (state, _) = w.execution_state(tx, hit.execution)?;
                if state != ExecutionState::Complete {
                    return Err(LineageError::BadState {
                        what: "execution",
                        id: hit.execution.0,
                        state: state.to_string(),
                        action: "be reused as a cache hit",
                        hint: "look the cache up again with `lookup_cache`",
                    });
                }
                let id = w.insert_execution(tx, run, spec, ExecutionState::Cached, Some(hit.execution))?;
                let pipeline = w.pipeline_of(tx, run)?;
                for (port, artifact) in &hit.outputs {
                    w.check_live(tx, artifact.id)?;
                    w.event(tx, id, artifact.id, EventKind::Output, port)?;
                    w.attribute(tx, &[run.0, pipeline], artifact.id)?;
                }
                Ok(id)
            },
        )
    }

    /// Records an artifact that entered the store without an execution (an imported file) and
    /// returns its row; an artifact with this digest is made live again and reused.
    pub fn register_artifact(&mut self, stored: &StoredArtifact) -> Result<ArtifactId> {
        self.write(|| format!("record artifact {}", stored.digest), |tx, w| w.upsert_artifact(tx, stored))
    }

    /// Marks an artifact deleted (its folder is gone or damaged). Cache lookups skip executions
    /// with deleted outputs, so the step runs again.
    pub fn mark_deleted(&mut self, artifact: ArtifactId) -> Result<()> {
        self.write(
            || format!("mark artifact {artifact} deleted"),
            |tx, w| {
                let n = tx
                    .execute(
                        "UPDATE artifacts SET state = 'deleted', updated_at = ?2 WHERE id = ?1",
                        params![artifact.0, w.now],
                    )
                    .map_err(w.sql(|| format!("update artifact {artifact}")))?;
                if n == 0 {
                    return Err(w.not_found("artifact", artifact.0));
                }
                Ok(())
            },
        )
    }

    /// Marks the executions of `run` left running by a process that died as canceled, and
    /// returns them. The run itself is left as it is (see [`resume_run`](Self::resume_run)).
    pub fn recover_interrupted(&mut self, run: RunId) -> Result<Vec<ExecutionId>> {
        self.write(
            || format!("cancel the interrupted executions of run {run}"),
            |tx, w| {
                w.run_state(tx, run)?;
                w.cancel_running(tx, run, "canceled: the process running it stopped before it ended")
            },
        )
    }

    /// Takes over `run` to continue it in this process: cancels the executions a dead process
    /// left running and marks the run running again, owned by this process. Refused while the
    /// process that owns it is alive. Returns the executions that were canceled.
    pub fn resume_run(&mut self, run: RunId) -> Result<Vec<ExecutionId>> {
        let me = i64::from(std::process::id());
        self.write(
            || format!("resume run {run}"),
            |tx, w| {
                let r = w.run_record(tx, run)?;
                if r.state == RunState::Running
                    && r.owner_pid != Some(me)
                    && owner_alive(w.host, r.owner_host.as_deref(), r.owner_pid) != Some(false)
                {
                    return Err(LineageError::RunBusy {
                        run,
                        pid: r.owner_pid.unwrap_or(0),
                        host: r.owner_host.unwrap_or_default(),
                    });
                }
                let canceled = w.cancel_running(tx, run, "canceled: the process running it stopped before it ended")?;
                tx.execute(
                    "UPDATE contexts SET state = 'running', finished_at = NULL, owner_host = ?2, owner_pid = ?3 WHERE id = ?1",
                    params![run.0, w.host, me],
                )
                .map_err(w.sql(|| format!("update run {run}")))?;
                Ok(canceled)
            },
        )
    }

    /// The outputs of the latest complete execution with `cache_key` whose output artifacts are
    /// all live, or `None`.
    pub fn lookup_cache(&self, cache_key: &str) -> Result<Option<CacheHit>> {
        let hit = self
            .conn
            .prepare_cached(LOOKUP_CACHE)
            .and_then(|mut s| s.query_row([cache_key], |r| Ok((r.get(0)?, r.get(1)?))).optional())
            .map_err(self.sql(|| format!("look up cache key {cache_key}")))?;
        let Some((execution, run)) = hit else { return Ok(None) };
        let execution = ExecutionId(execution);
        let mut outputs = Vec::new();
        let events = self.events_of(&[execution])?;
        for e in events.into_iter().filter(|(_, e)| e.kind == EventKind::Output) {
            outputs.push((e.1.port, self.artifact(e.1.artifact)?));
        }
        Ok(Some(CacheHit { execution, run: RunId(run), outputs }))
    }

    /// The artifact row `id`.
    pub fn artifact(&self, id: ArtifactId) -> Result<ArtifactRecord> {
        self.conn
            .prepare_cached(&format!("SELECT {ARTIFACT_COLUMNS} WHERE a.id = ?1"))
            .and_then(|mut s| s.query_row([id.0], artifact_row).optional())
            .map_err(self.sql(|| format!("read artifact {id}")))?
            .ok_or_else(|| self.not_found("artifact", id.0))
    }

    /// The artifact row with `digest`, if recorded.
    pub fn artifact_by_digest(&self, digest: &str) -> Result<Option<ArtifactRecord>> {
        self.conn
            .prepare_cached(&format!("SELECT {ARTIFACT_COLUMNS} WHERE a.digest = ?1"))
            .and_then(|mut s| s.query_row([digest], artifact_row).optional())
            .map_err(self.sql(|| format!("read artifact {digest}")))
    }

    /// Every artifact row, optionally only those in `state`, by id.
    pub fn artifacts(&self, state: Option<ArtifactState>) -> Result<Vec<ArtifactRecord>> {
        let mut s = self
            .conn
            .prepare(&format!("SELECT {ARTIFACT_COLUMNS} WHERE ?1 IS NULL OR a.state = ?1 ORDER BY a.id"))
            .map_err(self.sql(|| "list artifacts".into()))?;
        s.query_map([state], artifact_row).and_then(|rows| rows.collect()).map_err(self.sql(|| "list artifacts".into()))
    }

    /// Every run, optionally of one pipeline, newest first.
    pub fn runs(&self, pipeline: Option<&str>) -> Result<Vec<RunRecord>> {
        let mut s = self
            .conn
            .prepare(&format!(
                "SELECT {RUN_COLUMNS} WHERE r.kind = 'run' AND (?1 IS NULL OR p.name = ?1) ORDER BY r.id DESC"
            ))
            .map_err(self.sql(|| "list runs".into()))?;
        s.query_map([pipeline], run_row).and_then(|rows| rows.collect()).map_err(self.sql(|| "list runs".into()))
    }

    /// A run with its executions (and their events), in the order they started.
    pub fn run(&self, id: RunId) -> Result<RunDetail> {
        let run = self
            .conn
            .query_row(&format!("SELECT {RUN_COLUMNS} WHERE r.id = ?1 AND r.kind = 'run'"), [id.0], run_row)
            .optional()
            .map_err(self.sql(|| format!("read run {id}")))?
            .ok_or_else(|| self.not_found("run", id.0))?;
        let ids: Vec<ExecutionId> = self
            .conn
            .prepare_cached("SELECT id FROM executions WHERE run_id = ?1 ORDER BY id")
            .and_then(|mut s| s.query_map([id.0], |r| Ok(ExecutionId(r.get(0)?)))?.collect())
            .map_err(self.sql(|| format!("list the executions of run {id}")))?;
        Ok(RunDetail { run, executions: self.executions(&ids)? })
    }

    /// Runs left `running` by a process on this machine that is no longer alive.
    pub fn stale_runs(&self) -> Result<Vec<RunRecord>> {
        let mut s = self
            .conn
            .prepare(&format!("SELECT {RUN_COLUMNS} WHERE r.kind = 'run' AND r.state = 'running' ORDER BY r.id"))
            .map_err(self.sql(|| "list running runs".into()))?;
        let runs: Vec<RunRecord> =
            s.query_map([], run_row).and_then(|r| r.collect()).map_err(self.sql(|| "list running runs".into()))?;
        Ok(runs
            .into_iter()
            .filter(|r| owner_alive(&self.host, r.owner_host.as_deref(), r.owner_pid) == Some(false))
            .collect())
    }

    /// Executions still `running` in a run that is not (finished runs only; for runs whose
    /// process died see [`stale_runs`](Self::stale_runs)).
    pub fn orphan_executions(&self) -> Result<Vec<ExecutionId>> {
        self.conn
            .prepare(
                "SELECT x.id FROM contexts r CROSS JOIN executions x ON x.run_id = r.id AND x.state = 'running'
                 WHERE r.kind = 'run' AND r.state != 'running' ORDER BY x.id",
            )
            .and_then(|mut s| s.query_map([], |r| Ok(ExecutionId(r.get(0)?)))?.collect())
            .map_err(self.sql(|| "list running executions of finished runs".into()))
    }

    /// What generated `artifact`: every artifact and complete execution upstream of it.
    pub fn upstream(&self, artifact: ArtifactId) -> Result<LineageGraph> {
        self.graph(artifact, Direction::Upstream)
    }

    /// What was generated from `artifact`: every artifact and complete execution downstream.
    pub fn downstream(&self, artifact: ArtifactId) -> Result<LineageGraph> {
        self.graph(artifact, Direction::Downstream)
    }

    fn graph(&self, root: ArtifactId, direction: Direction) -> Result<LineageGraph> {
        let root_record = self.artifact(root)?;
        let (reach, via) = match direction {
            Direction::Upstream => (UPSTREAM_ARTIFACTS, EventKind::Output),
            Direction::Downstream => (DOWNSTREAM_ARTIFACTS, EventKind::Input),
        };
        let what = || format!("follow the lineage of artifact {root}");
        let ids: Vec<i64> = self
            .conn
            .prepare_cached(reach)
            .and_then(|mut s| s.query_map([root.0], |r| r.get(0))?.collect())
            .map_err(self.sql(what))?;
        let json_ids = serde_json::to_string(&ids).expect("ids serialize");
        let executions: Vec<ExecutionId> = self
            .conn
            .prepare_cached(EXECUTIONS_TOUCHING)
            .and_then(|mut s| s.query_map(params![json_ids, via], |r| Ok(ExecutionId(r.get(0)?)))?.collect())
            .map_err(self.sql(what))?;
        let in_set: BTreeSet<i64> = ids.iter().copied().collect();
        let executions = self.executions(&executions)?;
        let mut edges = Vec::new();
        for x in &executions {
            for e in &x.events {
                // Keep the events along the walk: all of an execution's events on the far side,
                // and on the near side only those on artifacts of the graph.
                if e.kind != via || in_set.contains(&e.artifact.0) {
                    edges.push(Edge { execution: x.id, artifact: e.artifact, kind: e.kind, port: e.port.clone() });
                }
            }
        }
        edges.sort();
        let mut artifacts = BTreeMap::from([(root, root_record)]);
        let wanted: BTreeSet<ArtifactId> = edges.iter().map(|e| e.artifact).collect();
        for a in self.artifacts_by_id(&wanted.into_iter().collect::<Vec<_>>())? {
            artifacts.insert(a.id, a);
        }
        Ok(LineageGraph {
            root,
            direction,
            artifacts,
            executions: executions.into_iter().map(|x| (x.id, x)).collect(),
            edges,
        })
    }

    fn artifacts_by_id(&self, ids: &[ArtifactId]) -> Result<Vec<ArtifactRecord>> {
        let json = serde_json::to_string(&ids.iter().map(|i| i.0).collect::<Vec<_>>()).expect("ids serialize");
        self.conn
            .prepare_cached(&format!("SELECT {ARTIFACT_COLUMNS} JOIN json_each(?1) j ON j.value = a.id ORDER BY a.id"))
            .and_then(|mut s| s.query_map([json], artifact_row)?.collect())
            .map_err(self.sql(|| format!("read {} artifacts", ids.len())))
    }

    /// The executions `ids` with their events, in id order.
    fn executions(&self, ids: &[ExecutionId]) -> Result<Vec<ExecutionRecord>> {
        let json = serde_json::to_string(&ids.iter().map(|i| i.0).collect::<Vec<_>>()).expect("ids serialize");
        let mut list: Vec<ExecutionRecord> = self
            .conn
            .prepare_cached(&format!("SELECT {EXECUTION_COLUMNS} JOIN json_each(?1) j ON j.value = x.id ORDER BY x.id"))
            .and_then(|mut s| s.query_map([json], execution_row)?.collect())
            .map_err(self.sql(|| format!("read {} executions", ids.len())))?;
        let mut by_id: BTreeMap<ExecutionId, usize> = BTreeMap::new();
        for (i, x) in list.iter().enumerate() {
            by_id.insert(x.id, i);
        }
        for (x, e) in self.events_of(ids)? {
            if let Some(&i) = by_id.get(&x) {
                list[i].events.push(e);
            }
        }
        Ok(list)
    }

    /// The events of executions `ids`: inputs before outputs, then by port.
    fn events_of(&self, ids: &[ExecutionId]) -> Result<Vec<(ExecutionId, EventRecord)>> {
        let json = serde_json::to_string(&ids.iter().map(|i| i.0).collect::<Vec<_>>()).expect("ids serialize");
        self.conn
            .prepare_cached(
                "SELECT e.execution_id, e.kind, e.port, e.artifact_id FROM json_each(?1) j
                 CROSS JOIN events e ON e.execution_id = j.value ORDER BY e.execution_id, e.kind, e.port, e.id",
            )
            .and_then(|mut s| {
                s.query_map([json], |r| {
                    Ok((
                        ExecutionId(r.get(0)?),
                        EventRecord { kind: r.get(1)?, port: r.get(2)?, artifact: ArtifactId(r.get(3)?) },
                    ))
                })?
                .collect()
            })
            .map_err(self.sql(|| format!("read the events of {} executions", ids.len())))
    }

    /// The newest live artifact of `artifact_type` produced (or reused) in `pipeline`.
    pub fn latest_artifact(&self, pipeline: &str, artifact_type: &str) -> Result<Option<ArtifactRecord>> {
        let id: Option<i64> = self
            .conn
            .prepare_cached(LATEST_ARTIFACT)
            .and_then(|mut s| s.query_row([pipeline, artifact_type], |r| r.get(0)).optional())
            .map_err(self.sql(|| format!("find the latest {artifact_type} of `{pipeline}`")))?;
        id.map(|id| self.artifact(ArtifactId(id))).transpose()
    }

    /// The pipelines an artifact is attributed to (made or reused in one of their runs), by name.
    pub fn pipelines_of(&self, artifact: ArtifactId) -> Result<Vec<String>> {
        self.conn
            .prepare_cached(
                "SELECT p.name FROM attributions at JOIN contexts p ON p.id = at.context_id
                 WHERE at.artifact_id = ?1 AND p.kind = 'pipeline' ORDER BY p.name",
            )
            .and_then(|mut s| s.query_map([artifact.0], |r| r.get(0))?.collect())
            .map_err(self.sql(|| format!("read the pipelines of artifact {}", artifact.0)))
    }

    /// The model of the newest Blessing in `pipeline` whose property `blessed` is true: the live
    /// Model artifact that the blessing's execution took as input.
    pub fn latest_blessed_model(&self, pipeline: &str) -> Result<Option<BlessedModel>> {
        let found: Option<(i64, i64, i64)> = self
            .conn
            .prepare_cached(LATEST_BLESSED_MODEL)
            .and_then(|mut s| s.query_row([pipeline], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional())
            .map_err(self.sql(|| format!("find the latest blessed model of `{pipeline}`")))?;
        found
            .map(|(m, b, x)| {
                Ok(BlessedModel {
                    model: self.artifact(ArtifactId(m))?,
                    blessing: self.artifact(ArtifactId(b))?,
                    execution: ExecutionId(x),
                })
            })
            .transpose()
    }

    /// The live artifact of `artifact_type` in `pipeline` from the span before `span`: the
    /// greatest integer property `span` below `span`, the newest artifact of that span.
    pub fn previous_span(&self, pipeline: &str, artifact_type: &str, span: i64) -> Result<Option<ArtifactRecord>> {
        let id: Option<i64> = self
            .conn
            .prepare_cached(PREVIOUS_SPAN)
            .and_then(|mut s| s.query_row(params![pipeline, artifact_type, span], |r| r.get(0)).optional())
            .map_err(self.sql(|| format!("find the {artifact_type} before span {span} of `{pipeline}`")))?;
        id.map(|id| self.artifact(ArtifactId(id))).transpose()
    }

    /// `PRAGMA integrity_check`: the problems it lists (empty when the database is sound).
    pub fn integrity_check(&self) -> Result<Vec<String>> {
        let rows: Vec<String> = self
            .conn
            .prepare("PRAGMA integrity_check")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(self.sql(|| "check the database's integrity".into()))?;
        Ok(rows.into_iter().filter(|r| r != "ok").collect())
    }

    /// `PRAGMA foreign_key_check`: each row that points at a missing row, as text.
    pub fn foreign_key_check(&self) -> Result<Vec<String>> {
        self.conn
            .prepare("PRAGMA foreign_key_check")
            .and_then(|mut s| {
                s.query_map([], |r| {
                    let table: String = r.get(0)?;
                    let rowid: Option<i64> = r.get(1)?;
                    let parent: String = r.get(2)?;
                    Ok(format!("row {} of `{table}` points at a missing row of `{parent}`", rowid.unwrap_or(-1)))
                })?
                .collect()
            })
            .map_err(self.sql(|| "check the database's foreign keys".into()))
    }

    fn not_found(&self, what: &'static str, id: i64) -> LineageError {
        LineageError::NotFound { what, id: id.to_string(), path: self.path.clone() }
    }

    #[cfg(test)]
    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }
}

impl Drop for LineageStore {
    fn drop(&mut self) {
        if !self.closed {
            let _ = self.optimize_on_close();
        }
    }
}

/// Whether a run's owner process is alive: `None` when it cannot be told (another host, no pid,
/// no `/proc`).
fn owner_alive(this_host: &str, host: Option<&str>, pid: Option<i64>) -> Option<bool> {
    let pid = u32::try_from(pid?).ok()?;
    if host? != this_host {
        return None;
    }
    process_alive(pid)
}

/// What a write transaction needs besides the transaction itself.
struct Writer<'a> {
    path: &'a Path,
    now: i64,
    host: &'a str,
}

impl Writer<'_> {
    fn sql(&self, action: impl FnOnce() -> String) -> impl FnOnce(rusqlite::Error) -> LineageError {
        let path = self.path.to_path_buf();
        move |source| LineageError::Sql { path, action: action(), source }
    }

    fn not_found(&self, what: &'static str, id: i64) -> LineageError {
        LineageError::NotFound { what, id: id.to_string(), path: self.path.to_path_buf() }
    }

    /// The pipeline context named `name`, created when missing.
    fn pipeline(&self, tx: &Transaction<'_>, name: &str) -> Result<i64> {
        if name.is_empty() {
            return Err(LineageError::BadJson { field: "pipeline name".into(), reason: "it is empty".into() });
        }
        let known: Option<i64> = tx
            .prepare_cached("SELECT id FROM contexts WHERE kind = 'pipeline' AND name = ?1")
            .and_then(|mut s| s.query_row([name], |r| r.get(0)).optional())
            .map_err(self.sql(|| format!("read pipeline `{name}`")))?;
        if let Some(id) = known {
            return Ok(id);
        }
        tx.prepare_cached("INSERT INTO contexts (kind, name, created_at) VALUES ('pipeline', ?1, ?2) RETURNING id")
            .and_then(|mut s| s.query_row(params![name, self.now], |r| r.get(0)))
            .map_err(self.sql(|| format!("record pipeline `{name}`")))
    }

    fn run_state(&self, tx: &Transaction<'_>, run: RunId) -> Result<RunState> {
        tx.prepare_cached("SELECT state FROM contexts WHERE id = ?1 AND kind = 'run'")
            .and_then(|mut s| s.query_row([run.0], |r| r.get(0)).optional())
            .map_err(self.sql(|| format!("read run {run}")))?
            .ok_or_else(|| self.not_found("run", run.0))
    }

    fn run_record(&self, tx: &Transaction<'_>, run: RunId) -> Result<RunRecord> {
        tx.query_row(&format!("SELECT {RUN_COLUMNS} WHERE r.id = ?1 AND r.kind = 'run'"), [run.0], run_row)
            .optional()
            .map_err(self.sql(|| format!("read run {run}")))?
            .ok_or_else(|| self.not_found("run", run.0))
    }

    fn pipeline_of(&self, tx: &Transaction<'_>, run: RunId) -> Result<i64> {
        tx.prepare_cached("SELECT parent_id FROM contexts WHERE id = ?1 AND kind = 'run'")
            .and_then(|mut s| s.query_row([run.0], |r| r.get(0)).optional())
            .map_err(self.sql(|| format!("read run {run}")))?
            .ok_or_else(|| self.not_found("run", run.0))
    }

    fn execution_state(&self, tx: &Transaction<'_>, x: ExecutionId) -> Result<(ExecutionState, RunId)> {
        tx.prepare_cached("SELECT state, run_id FROM executions WHERE id = ?1")
            .and_then(|mut s| s.query_row([x.0], |r| Ok((r.get(0)?, RunId(r.get(1)?)))).optional())
            .map_err(self.sql(|| format!("read execution {x}")))?
            .ok_or_else(|| self.not_found("execution", x.0))
    }

    fn check_live(&self, tx: &Transaction<'_>, a: ArtifactId) -> Result<()> {
        let state: ArtifactState = tx
            .prepare_cached("SELECT state FROM artifacts WHERE id = ?1")
            .and_then(|mut s| s.query_row([a.0], |r| r.get(0)).optional())
            .map_err(self.sql(|| format!("read artifact {a}")))?
            .ok_or_else(|| self.not_found("artifact", a.0))?;
        if state != ArtifactState::Live {
            return Err(LineageError::BadState {
                what: "artifact",
                id: a.0,
                state: state.to_string(),
                action: "be used",
                hint: "its files are gone: run the step that produces it again",
            });
        }
        Ok(())
    }

    fn insert_execution(
        &self,
        tx: &Transaction<'_>,
        run: RunId,
        spec: &ExecutionSpec<'_>,
        state: ExecutionState,
        cached_from: Option<ExecutionId>,
    ) -> Result<ExecutionId> {
        let run_state = self.run_state(tx, run)?;
        if run_state != RunState::Running {
            return Err(LineageError::BadState {
                what: "run",
                id: run.0,
                state: run_state.to_string(),
                action: "take new executions",
                hint: "start a new run, or resume this one",
            });
        }
        for (_, a) in spec.inputs {
            self.check_live(tx, *a)?;
        }
        let ended = (state != ExecutionState::Running).then_some(self.now);
        let id: i64 = tx
            .prepare_cached(
                "INSERT INTO executions (run_id, step, component, component_digest, parameters, cache_key, state,
                   attempt, cached_from, started_at, ended_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) RETURNING id",
            )
            .and_then(|mut s| {
                s.query_row(
                    params![
                        run.0,
                        spec.step,
                        spec.component,
                        spec.component_digest,
                        spec.parameters,
                        spec.cache_key,
                        state,
                        spec.attempt.max(1),
                        cached_from.map(|x| x.0),
                        self.now,
                        ended
                    ],
                    |r| r.get(0),
                )
            })
            .map_err(self.sql(|| format!("insert an execution of step `{}` in run {run}", spec.step)))?;
        let id = ExecutionId(id);
        let pipeline = self.pipeline_of(tx, run)?;
        tx.prepare_cached("INSERT OR IGNORE INTO associations (context_id, execution_id) VALUES (?1, ?3), (?2, ?3)")
            .and_then(|mut s| s.execute(params![run.0, pipeline, id.0]))
            .map_err(self.sql(|| format!("associate execution {id} with run {run}")))?;
        for (port, a) in spec.inputs {
            self.event(tx, id, *a, EventKind::Input, port)?;
        }
        Ok(id)
    }

    fn event(&self, tx: &Transaction<'_>, x: ExecutionId, a: ArtifactId, kind: EventKind, port: &str) -> Result<()> {
        tx.prepare_cached(
            "INSERT OR IGNORE INTO events (execution_id, artifact_id, kind, port, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .and_then(|mut s| s.execute(params![x.0, a.0, kind, port, self.now]))
        .map_err(self.sql(|| format!("record {kind} `{port}` (artifact {a}) of execution {x}")))?;
        Ok(())
    }

    fn attribute(&self, tx: &Transaction<'_>, contexts: &[i64], a: ArtifactId) -> Result<()> {
        for c in contexts {
            tx.prepare_cached("INSERT OR IGNORE INTO attributions (context_id, artifact_id) VALUES (?1, ?2)")
                .and_then(|mut s| s.execute(params![c, a.0]))
                .map_err(self.sql(|| format!("attribute artifact {a} to context {c}")))?;
        }
        Ok(())
    }

    /// The row of `stored`'s digest (made live again if it was deleted), or a new one. Reads
    /// before writing, so recording known content writes no page.
    fn upsert_artifact(&self, tx: &Transaction<'_>, stored: &StoredArtifact) -> Result<ArtifactId> {
        let what = || format!("record artifact {}", stored.digest);
        let existing: Option<(i64, ArtifactState)> = tx
            .prepare_cached("SELECT id, state FROM artifacts WHERE digest = ?1")
            .and_then(|mut s| s.query_row([&stored.digest], |r| Ok((r.get(0)?, r.get(1)?))).optional())
            .map_err(self.sql(what))?;
        match existing {
            Some((id, ArtifactState::Live)) => return Ok(ArtifactId(id)),
            Some((id, ArtifactState::Deleted)) => {
                tx.prepare_cached("UPDATE artifacts SET state = 'live', uri = ?2, updated_at = ?3 WHERE id = ?1")
                    .and_then(|mut s| s.execute(params![id, stored.uri, self.now]))
                    .map_err(self.sql(what))?;
                return Ok(ArtifactId(id));
            }
            None => {}
        }
        let known: Option<i64> = tx
            .prepare_cached("SELECT id FROM artifact_types WHERE name = ?1")
            .and_then(|mut s| s.query_row([&stored.artifact_type], |r| r.get(0)).optional())
            .map_err(self.sql(what))?;
        let type_id: i64 = match known {
            Some(id) => id,
            None => tx
                .prepare_cached("INSERT INTO artifact_types (name) VALUES (?1) RETURNING id")
                .and_then(|mut s| s.query_row([&stored.artifact_type], |r| r.get(0)))
                .map_err(self.sql(what))?,
        };
        let props = serde_json::to_string(&stored.properties).expect("properties serialize");
        let id = tx
            .prepare_cached(
                "INSERT INTO artifacts (type_id, uri, digest, state, properties, bytes, created_at, updated_at)
                 VALUES (?1, ?2, ?3, 'live', ?4, ?5, ?6, ?6) RETURNING id",
            )
            .and_then(|mut s| {
                s.query_row(params![type_id, stored.uri, stored.digest, props, stored.bytes() as i64, self.now], |r| {
                    r.get(0)
                })
            })
            .map_err(self.sql(what))?;
        Ok(ArtifactId(id))
    }

    fn cancel_running(&self, tx: &Transaction<'_>, run: RunId, message: &str) -> Result<Vec<ExecutionId>> {
        tx.prepare_cached(
            "UPDATE executions SET state = 'canceled', error = ?2, ended_at = ?3
             WHERE run_id = ?1 AND state = 'running' RETURNING id",
        )
        .and_then(|mut s| s.query_map(params![run.0, message, self.now], |r| Ok(ExecutionId(r.get(0)?)))?.collect())
        .map_err(self.sql(|| format!("cancel the running executions of run {run}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::ArtifactStore;
    use crate::testutil::{Fixture, artifact, dead_pid, fixture};
    use mlp_kernels::data::ArtifactData;
    use serde_json::json;

    fn spec<'a>(step: &'a str, inputs: &'a [(&'a str, ArtifactId)], cache_key: Option<&'a str>) -> ExecutionSpec<'a> {
        ExecutionSpec {
            step,
            component: "components.mlp#c",
            component_digest: "blake3:component",
            parameters: r#"{"n": 1}"#,
            cache_key,
            attempt: 1,
            inputs,
        }
    }

    impl Fixture {
        /// Runs a step that reads `inputs` and writes `outputs`; returns the execution and output ids.
        fn step(
            &mut self,
            run: RunId,
            step: &str,
            inputs: &[(&str, ArtifactId)],
            outputs: &[(&str, ArtifactData)],
            cache_key: Option<&str>,
        ) -> (ExecutionId, Vec<ArtifactId>) {
            let x = self.lineage.start_execution(run, &spec(step, inputs, cache_key)).unwrap();
            let stored: Vec<(&str, StoredArtifact)> =
                outputs.iter().map(|(p, a)| (*p, self.artifacts.put(a).unwrap())).collect();
            let refs: Vec<(&str, &StoredArtifact)> = stored.iter().map(|(p, s)| (*p, s)).collect();
            let ids = self.lineage.complete_execution(x, &refs).unwrap();
            (x, ids)
        }
    }

    fn blessing(blessed: bool, seed: i64) -> ArtifactData {
        let mut a = ArtifactData { artifact_type: "Blessing".into(), ..Default::default() };
        a.properties.insert("blessed".into(), json!(blessed));
        a.properties.insert("seed".into(), json!(seed));
        a
    }

    /// ingest → examples; stats(examples); train(examples) → model; eval(examples, model) →
    /// blessing; push(model, blessing) → pushed. Returns [examples, stats, model, blessing, pushed].
    fn tfx_like(f: &mut Fixture, run: RunId, seed: i64) -> Vec<ArtifactId> {
        let (_, e) = f.step(run, "ingest", &[], &[("examples", artifact("Examples", seed))], None);
        let (_, s) = f.step(run, "stats", &[("examples", e[0])], &[("statistics", artifact("Statistics", seed))], None);
        let (_, m) = f.step(run, "train", &[("examples", e[0])], &[("model", artifact("Model", seed))], None);
        let (_, b) =
            f.step(run, "eval", &[("examples", e[0]), ("model", m[0])], &[("blessing", blessing(true, seed))], None);
        let (_, p) =
            f.step(run, "push", &[("model", m[0]), ("blessing", b[0])], &[("pushed", artifact("Pushed", seed))], None);
        vec![e[0], s[0], m[0], b[0], p[0]]
    }

    #[test]
    fn a_run_records_its_executions_and_events() {
        let mut f = fixture();
        let run = f.lineage.begin_run("taxi", &json!({"rows": 10})).unwrap();
        let ids = tfx_like(&mut f, run, 1);
        f.lineage.finish_run(run, RunState::Complete).unwrap();

        let detail = f.lineage.run(run).unwrap();
        assert_eq!(detail.run.name, "taxi#1");
        assert_eq!(detail.run.pipeline, "taxi");
        assert_eq!(detail.run.state, RunState::Complete);
        assert_eq!(detail.run.properties, json!({"rows": 10}));
        assert_eq!(detail.run.owner_pid, Some(i64::from(std::process::id())));
        assert!(detail.run.finished_at.is_some());
        let steps: Vec<&str> = detail.executions.iter().map(|x| x.step.as_str()).collect();
        assert_eq!(steps, ["ingest", "stats", "train", "eval", "push"]);
        assert!(detail.executions.iter().all(|x| x.state == ExecutionState::Complete && x.ended_at.is_some()));
        let eval = &detail.executions[3];
        assert_eq!(eval.parameters, json!({"n": 1}));
        assert_eq!(
            eval.events,
            [
                EventRecord { kind: EventKind::Input, port: "examples".into(), artifact: ids[0] },
                EventRecord { kind: EventKind::Input, port: "model".into(), artifact: ids[2] },
                EventRecord { kind: EventKind::Output, port: "blessing".into(), artifact: ids[3] },
            ]
        );
        let model = f.lineage.artifact(ids[2]).unwrap();
        assert_eq!(model.artifact_type, "Model");
        assert_eq!(model.state, ArtifactState::Live);
        assert_eq!(model.properties, json!({"seed": 1}));
        assert_eq!(f.artifacts.root().join(&model.uri), f.artifacts.path_of(&model.digest).unwrap());
        assert_eq!(f.lineage.artifact_by_digest(&model.digest).unwrap(), Some(model));

        let second = f.lineage.begin_run("taxi", &json!({})).unwrap();
        let other = f.lineage.begin_run("other", &json!({})).unwrap();
        let names: Vec<String> = f.lineage.runs(None).unwrap().into_iter().map(|r| r.name).collect();
        assert_eq!(names, ["other#1", "taxi#2", "taxi#1"]);
        let taxi: Vec<RunId> = f.lineage.runs(Some("taxi")).unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(taxi, [second, run]);
        assert_ne!(other, second);
    }

    #[test]
    fn equal_content_is_one_artifact_row() {
        let mut f = fixture();
        let run = f.lineage.begin_run("p", &json!({})).unwrap();
        let (_, a) = f.step(run, "one", &[], &[("out", artifact("Examples", 5))], None);
        let (_, b) = f.step(run, "two", &[], &[("out", artifact("Examples", 5))], None);
        assert_eq!(a, b);
        assert_eq!(f.lineage.artifacts(None).unwrap().len(), 1);
    }

    #[test]
    fn state_changes_are_checked() {
        let mut f = fixture();
        let run = f.lineage.begin_run("p", &json!({})).unwrap();
        let (x, _) = f.step(run, "a", &[], &[], None);
        let err = f.lineage.complete_execution(x, &[]).unwrap_err();
        assert!(matches!(err, LineageError::BadState { what: "execution", .. }), "{err}");
        assert!(err.to_string().contains("is complete"), "{err}");
        assert!(f.lineage.fail_execution(x, "late").is_err());

        let running = f.lineage.start_execution(run, &spec("b", &[], None)).unwrap();
        let err = f.lineage.finish_run(run, RunState::Complete).unwrap_err();
        assert!(err.to_string().contains("1 running executions"), "{err}");
        f.lineage.fail_execution(running, "boom: out of memory").unwrap();
        let failed = &f.lineage.run(run).unwrap().executions[1];
        assert_eq!((failed.state, failed.error.as_deref()), (ExecutionState::Failed, Some("boom: out of memory")));
        f.lineage.finish_run(run, RunState::Failed).unwrap();

        let err = f.lineage.start_execution(run, &spec("c", &[], None)).unwrap_err();
        assert!(err.to_string().contains(&format!("run {run} is failed")), "{err}");
        assert!(f.lineage.finish_run(run, RunState::Complete).is_err());
        assert!(f.lineage.finish_run(run, RunState::Running).is_err());

        let err = f.lineage.start_execution(RunId(99), &spec("c", &[], None)).unwrap_err();
        assert!(matches!(err, LineageError::NotFound { what: "run", .. }), "{err}");
        let run2 = f.lineage.begin_run("p", &json!({})).unwrap();
        let err = f.lineage.start_execution(run2, &spec("c", &[("in", ArtifactId(42))], None)).unwrap_err();
        assert!(err.to_string().contains("no artifact 42"), "{err}");

        let mut bad = spec("d", &[], None);
        bad.parameters = "[1, 2]";
        let err = f.lineage.start_execution(run2, &bad).unwrap_err();
        assert!(err.to_string().contains("parameters of step `d` are not a JSON object"), "{err}");
        assert!(f.lineage.begin_run("p", &json!([1])).is_err());
        assert!(f.lineage.begin_run("", &json!({})).is_err());
    }

    #[test]
    fn canceling_a_run_cancels_its_running_executions() {
        let mut f = fixture();
        let run = f.lineage.begin_run("p", &json!({})).unwrap();
        let x = f.lineage.start_execution(run, &spec("slow", &[], None)).unwrap();
        f.lineage.finish_run(run, RunState::Canceled).unwrap();
        let d = f.lineage.run(run).unwrap();
        assert_eq!(d.run.state, RunState::Canceled);
        assert_eq!(d.executions[0].id, x);
        assert_eq!(d.executions[0].state, ExecutionState::Canceled);
    }

    #[test]
    fn the_cache_returns_the_latest_complete_execution_with_live_outputs() {
        let mut f = fixture();
        let run = f.lineage.begin_run("p", &json!({})).unwrap();
        assert_eq!(f.lineage.lookup_cache("k").unwrap(), None);
        let (old, old_out) = f.step(run, "train", &[], &[("model", artifact("Model", 1))], Some("k"));
        let (new, new_out) = f.step(run, "train", &[], &[("model", artifact("Model", 2))], Some("k"));
        let failed = f.lineage.start_execution(run, &spec("train", &[], Some("k"))).unwrap();
        f.lineage.fail_execution(failed, "x").unwrap();
        let _running = f.lineage.start_execution(run, &spec("train", &[], Some("k"))).unwrap();

        let hit = f.lineage.lookup_cache("k").unwrap().unwrap();
        assert_eq!((hit.execution, hit.run), (new, run));
        assert_eq!(hit.outputs.len(), 1);
        assert_eq!((hit.outputs[0].0.as_str(), hit.outputs[0].1.id), ("model", new_out[0]));

        // A deleted output disqualifies an execution.
        f.lineage.mark_deleted(new_out[0]).unwrap();
        let hit = f.lineage.lookup_cache("k").unwrap().unwrap();
        assert_eq!(hit.execution, old);
        assert_eq!(hit.outputs[0].1.id, old_out[0]);
        assert_eq!(f.lineage.lookup_cache("other").unwrap(), None);

        // Reusing it records a cached execution in the new run.
        let run2 = f.lineage.begin_run("p", &json!({})).unwrap();
        let cached = f.lineage.record_cached(run2, &spec("train", &[], Some("k")), &hit).unwrap();
        let d = f.lineage.run(run2).unwrap();
        let x = &d.executions[0];
        assert_eq!((x.id, x.state, x.cached_from), (cached, ExecutionState::Cached, Some(old)));
        assert_eq!(x.artifacts(EventKind::Output).collect::<Vec<_>>(), [("model", old_out[0])]);
        assert!(x.ended_at.is_some());
        // The cache still points at the execution that computed the outputs.
        assert_eq!(f.lineage.lookup_cache("k").unwrap().unwrap().execution, old);
        // A stale hit cannot be recorded.
        f.lineage.mark_deleted(old_out[0]).unwrap();
        assert!(f.lineage.record_cached(run2, &spec("train", &[], Some("k")), &hit).is_err());
        assert_eq!(f.lineage.lookup_cache("k").unwrap(), None);

        // Producing the same content again makes the row live again.
        let (_, again) = f.step(run2, "train", &[], &[("model", artifact("Model", 1))], Some("k"));
        assert_eq!(again, old_out);
        assert_eq!(f.lineage.artifact(old_out[0]).unwrap().state, ArtifactState::Live);
    }

    #[test]
    fn upstream_and_downstream_follow_the_events() {
        let mut f = fixture();
        let run = f.lineage.begin_run("taxi", &json!({})).unwrap();
        let [e, s, m, b, p] = tfx_like(&mut f, run, 1)[..] else { unreachable!() };
        // A failed attempt that read the model does not appear downstream.
        let failed = f.lineage.start_execution(run, &spec("export", &[("model", m)], None)).unwrap();
        f.lineage.fail_execution(failed, "x").unwrap();

        let up = f.lineage.upstream(p).unwrap();
        assert_eq!(up.artifacts.keys().copied().collect::<Vec<_>>(), [e, m, b, p]);
        let steps: BTreeSet<&str> = up.executions.values().map(|x| x.step.as_str()).collect();
        assert_eq!(steps, BTreeSet::from(["ingest", "train", "eval", "push"]));
        assert_eq!(up.edges.len(), 9);

        let down = f.lineage.downstream(e).unwrap();
        assert_eq!(down.artifacts.keys().copied().collect::<Vec<_>>(), [e, s, m, b, p]);
        let steps: BTreeSet<&str> = down.executions.values().map(|x| x.step.as_str()).collect();
        assert_eq!(steps, BTreeSet::from(["stats", "train", "eval", "push"]));
        assert_eq!(down.edges.len(), 10);

        let leaf = f.lineage.downstream(p).unwrap();
        assert_eq!((leaf.artifacts.len(), leaf.executions.len(), leaf.edges.len()), (1, 0, 0));
        assert!(matches!(f.lineage.upstream(ArtifactId(999)), Err(LineageError::NotFound { .. })));

        let text = up.to_text();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("Pushed blake3:") && lines[0].ends_with(&format!("(artifact {p})")), "{text}");
        assert_eq!(lines[1], format!("└─ step `push` (components.mlp#c, execution 5, run {run})"), "{text}");
        assert!(lines[2].starts_with("   ├─ model: Model blake3:"), "{text}");
        assert_eq!(text.matches("(see above)").count(), 2, "{text}");
        assert_eq!(text.matches("step `ingest`").count(), 1, "{text}");

        let json = serde_json::to_value(&up).unwrap();
        assert_eq!(json["direction"], "upstream");
        assert_eq!(json["artifacts"][p.to_string()]["artifact_type"], "Pushed");

        let dot = down.to_dot();
        assert!(dot.starts_with("digraph lineage {"));
        assert!(dot.contains(&format!("a{e} [shape=ellipse, label=\"Examples\\nblake3:")));
        assert!(dot.contains(&format!("a{e} -> x2 [label=\"examples\"];")), "{dot}");
        assert!(dot.contains(&format!("x5 -> a{p} [label=\"pushed\"];")), "{dot}");
        assert_eq!(dot.matches(" -> ").count(), 10);
    }

    #[test]
    fn resolvers_find_the_latest_artifact_blessed_model_and_previous_span() {
        let mut f = fixture();
        let run = f.lineage.begin_run("taxi", &json!({})).unwrap();
        let first = tfx_like(&mut f, run, 1);
        let run2 = f.lineage.begin_run("taxi", &json!({})).unwrap();
        let (_, m2) = f.step(run2, "train", &[("examples", first[0])], &[("model", artifact("Model", 2))], None);
        // The newer model is not blessed.
        f.step(run2, "eval", &[("examples", first[0]), ("model", m2[0])], &[("blessing", blessing(false, 2))], None);
        // Another pipeline's blessed model does not count.
        let other = f.lineage.begin_run("other", &json!({})).unwrap();
        let (_, m3) = f.step(other, "train", &[], &[("model", artifact("Model", 3))], None);
        f.step(other, "eval", &[("model", m3[0])], &[("blessing", blessing(true, 3))], None);

        assert_eq!(f.lineage.latest_artifact("taxi", "Model").unwrap().unwrap().id, m2[0]);
        assert_eq!(f.lineage.latest_artifact("other", "Model").unwrap().unwrap().id, m3[0]);
        assert_eq!(f.lineage.latest_artifact("taxi", "Nothing").unwrap(), None);
        assert_eq!(f.lineage.latest_artifact("nope", "Model").unwrap(), None);

        let blessed = f.lineage.latest_blessed_model("taxi").unwrap().unwrap();
        assert_eq!((blessed.model.id, blessed.blessing.id), (first[2], first[3]));
        assert_eq!(blessed.blessing.properties["blessed"], json!(true));
        f.lineage.mark_deleted(first[2]).unwrap();
        assert_eq!(f.lineage.latest_blessed_model("taxi").unwrap(), None);

        let run3 = f.lineage.begin_run("taxi", &json!({})).unwrap();
        let mut spans = Vec::new();
        for (span, seed) in [(1, 10), (2, 11), (2, 12), (4, 13)] {
            let mut a = artifact("Examples", seed);
            a.properties.insert("span".into(), json!(span));
            spans.push(f.step(run3, "ingest", &[], &[("examples", a)], None).1[0]);
        }
        let mut text_span = artifact("Examples", 14);
        text_span.properties.insert("span".into(), json!("3"));
        f.step(run3, "ingest", &[], &[("examples", text_span)], None);
        assert_eq!(f.lineage.previous_span("taxi", "Examples", 4).unwrap().unwrap().id, spans[2]);
        assert_eq!(f.lineage.previous_span("taxi", "Examples", 2).unwrap().unwrap().id, spans[0]);
        assert_eq!(f.lineage.previous_span("taxi", "Examples", 1).unwrap(), None);
        assert_eq!(f.lineage.previous_span("taxi", "Examples", 100).unwrap().unwrap().id, spans[3]);
    }

    #[test]
    fn interrupted_executions_are_recovered_and_runs_resumed() {
        let mut f = fixture();
        let run = f.lineage.begin_run("p", &json!({})).unwrap();
        let (done, _) = f.step(run, "a", &[], &[], None);
        let left = f.lineage.start_execution(run, &spec("b", &[], None)).unwrap();
        // As if the process that ran it had died.
        let dead = dead_pid();
        f.lineage
            .connection()
            .execute("UPDATE contexts SET owner_pid = ?1 WHERE id = ?2", params![dead, run.0])
            .unwrap();
        if Path::new("/proc/self").exists() {
            let stale: Vec<RunId> = f.lineage.stale_runs().unwrap().iter().map(|r| r.id).collect();
            assert_eq!(stale, [run]);
        }
        assert_eq!(f.lineage.recover_interrupted(run).unwrap(), [left]);
        let d = f.lineage.run(run).unwrap();
        assert_eq!(d.executions[0].id, done);
        assert_eq!(d.executions[0].state, ExecutionState::Complete);
        assert_eq!(d.executions[1].state, ExecutionState::Canceled);
        assert!(d.executions[1].error.as_deref().unwrap().contains("process running it stopped"));
        assert_eq!(d.run.state, RunState::Running);
        assert!(f.lineage.recover_interrupted(run).unwrap().is_empty());

        // Resuming takes the run over.
        let again = f.lineage.start_execution(run, &spec("c", &[], None)).unwrap();
        f.lineage
            .connection()
            .execute("UPDATE contexts SET owner_pid = ?1 WHERE id = ?2", params![dead, run.0])
            .unwrap();
        if Path::new("/proc/self").exists() {
            assert_eq!(f.lineage.resume_run(run).unwrap(), [again]);
            let r = f.lineage.run(run).unwrap().run;
            assert_eq!((r.state, r.owner_pid), (RunState::Running, Some(i64::from(std::process::id()))));
            assert!(f.lineage.stale_runs().unwrap().is_empty());
            // A run whose process is alive (pid 1 here) cannot be taken over.
            f.lineage.connection().execute("UPDATE contexts SET owner_pid = 1 WHERE id = ?1", [run.0]).unwrap();
            let err = f.lineage.resume_run(run).unwrap_err();
            assert!(matches!(err, LineageError::RunBusy { pid: 1, .. }), "{err}");
        }
        // A finished run can be resumed.
        f.lineage
            .connection()
            .execute("UPDATE contexts SET owner_pid = ?1 WHERE id = ?2", params![dead, run.0])
            .unwrap();
        f.lineage.finish_run(run, RunState::Failed).unwrap();
        f.lineage.resume_run(run).unwrap();
        assert_eq!(f.lineage.run(run).unwrap().run.state, RunState::Running);
        assert_eq!(f.lineage.run(run).unwrap().run.finished_at, None);
    }

    #[test]
    fn a_database_from_a_newer_mlp_is_refused_untouched() {
        let f = fixture();
        let root = f.root.clone();
        drop(f.lineage);
        let c = Connection::open(root.join(DB_FILE)).unwrap();
        c.pragma_update(None, "user_version", 99).unwrap();
        drop(c);
        let err = LineageStore::open(&root).unwrap_err();
        assert!(matches!(err, LineageError::NewerSchema { found: 99, known: SCHEMA_VERSION, .. }), "{err}");
        assert!(err.to_string().contains("upgrade mlp"), "{err}");
        let c = Connection::open(root.join(DB_FILE)).unwrap();
        assert_eq!(c.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).unwrap(), 99);
    }

    #[test]
    fn another_programs_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
        c.execute_batch("PRAGMA application_id = 42; CREATE TABLE t (x);").unwrap();
        drop(c);
        let err = LineageStore::open(dir.path()).unwrap_err();
        assert!(matches!(err, LineageError::Foreign { found: 42, .. }), "{err}");
    }

    #[test]
    fn a_file_that_is_not_a_database_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(DB_FILE), "this is not sqlite, it is just text ".repeat(100)).unwrap();
        let err = LineageStore::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains(&dir.path().join(DB_FILE).display().to_string()), "{err}");
    }

    #[test]
    fn migrations_apply_once_and_keep_data() {
        let mut f = fixture();
        assert_eq!(f.lineage.schema_version().unwrap(), SCHEMA_VERSION);
        let mode: String = f.lineage.connection().query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = f.lineage.connection().query_row("PRAGMA foreign_keys", [], |r| r.get(0)).unwrap();
        assert_eq!(fk, 1);
        let run = f.lineage.begin_run("p", &json!({})).unwrap();
        f.lineage.close().unwrap();
        let again = LineageStore::open(&f.root).unwrap();
        assert_eq!(again.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(again.run(run).unwrap().run.name, "p#1");
        // Statistics exist after open/close, so the planner knows the tables' sizes.
        let stats: i64 = again.connection().query_row("SELECT count(*) FROM sqlite_stat1", [], |r| r.get(0)).unwrap();
        assert!(stats > 0);
    }

    #[test]
    fn processes_opening_a_new_store_at_once_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join(".mlp");
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let root = root.clone();
                std::thread::spawn(move || LineageStore::open(&root).map(|l| l.schema_version().unwrap()))
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap().unwrap(), SCHEMA_VERSION);
        }
    }

    #[test]
    fn two_connections_write_at_once() {
        let f = fixture();
        let per_thread = 60;
        let handles: Vec<_> = (0..2)
            .map(|t| {
                let root = f.root.clone();
                std::thread::spawn(move || {
                    let artifacts = ArtifactStore::open(&root).unwrap();
                    let mut lineage = LineageStore::open(&root).unwrap();
                    let run = lineage.begin_run("shared", &json!({"thread": t})).unwrap();
                    let mut previous: Option<ArtifactId> = None;
                    for i in 0..per_thread {
                        let inputs: Vec<(&str, ArtifactId)> = previous.iter().map(|a| ("in", *a)).collect();
                        let key = format!("k{}", i % 7);
                        let x = lineage.start_execution(run, &spec("s", &inputs, Some(&key))).unwrap();
                        // Half the content is the same in both threads.
                        let seed = if i % 2 == 0 { i } else { 1000 * (t + 1) + i };
                        let stored = artifacts.put(&artifact("Examples", seed)).unwrap();
                        previous = Some(lineage.complete_execution(x, &[("out", &stored)]).unwrap()[0]);
                        lineage.lookup_cache(&key).unwrap().unwrap();
                    }
                    lineage.finish_run(run, RunState::Complete).unwrap();
                    run
                })
            })
            .collect();
        let runs: Vec<RunId> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let lineage = LineageStore::open(&f.root).unwrap();
        for run in &runs {
            let d = lineage.run(*run).unwrap();
            assert_eq!(d.executions.len(), per_thread as usize);
            assert!(d.executions.iter().all(|x| x.state == ExecutionState::Complete));
        }
        let names: BTreeSet<String> = lineage.runs(None).unwrap().into_iter().map(|r| r.name).collect();
        assert_eq!(names, BTreeSet::from(["shared#1".to_string(), "shared#2".to_string()]));
        // 30 shared contents, 30 distinct to each thread.
        assert_eq!(lineage.artifacts(None).unwrap().len(), 90);
        assert_eq!(f.artifacts.list().unwrap().len(), 90);
        assert!(lineage.foreign_key_check().unwrap().is_empty());
        assert!(lineage.integrity_check().unwrap().is_empty());
    }

    /// Every lineage query's plan, as `EXPLAIN QUERY PLAN` details.
    fn plans(c: &Connection) -> Vec<(&'static str, Vec<String>)> {
        type Query = (&'static str, &'static str, Vec<Box<dyn ToSql>>);
        let queries: [Query; 8] = [
            ("upstream", UPSTREAM_ARTIFACTS, vec![Box::new(5)]),
            ("downstream", DOWNSTREAM_ARTIFACTS, vec![Box::new(5)]),
            ("executions touching", EXECUTIONS_TOUCHING, vec![Box::new("[1,2,3]"), Box::new("output")]),
            ("latest artifact", LATEST_ARTIFACT, vec![Box::new("taxi"), Box::new("Model")]),
            ("latest blessed model", LATEST_BLESSED_MODEL, vec![Box::new("taxi")]),
            ("previous span", PREVIOUS_SPAN, vec![Box::new("taxi"), Box::new("Examples"), Box::new(3)]),
            ("lookup cache", LOOKUP_CACHE, vec![Box::new("k1")]),
            (
                "events of",
                "SELECT e.execution_id, e.kind, e.port, e.artifact_id FROM json_each(?1) j
                 CROSS JOIN events e ON e.execution_id = j.value ORDER BY e.execution_id, e.kind, e.port, e.id",
                vec![Box::new("[1,2]")],
            ),
        ];
        queries
            .into_iter()
            .map(|(name, sql, args)| {
                let mut s = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
                let params: Vec<&dyn ToSql> = args.iter().map(|b| b.as_ref()).collect();
                let details =
                    s.query_map(&params[..], |r| r.get::<_, String>(3)).unwrap().map(|r| r.unwrap()).collect();
                (name, details)
            })
            .collect()
    }

    /// Fails when a plan reads a whole table (or a whole index): every table access of the lineage
    /// queries must be a `SEARCH`. Scans of the recursive CTE, of `json_each` and of a constant
    /// row are fine.
    fn assert_plans_use_indexes(c: &Connection, when: &str) {
        for (name, details) in plans(c) {
            for d in &details {
                let allowed = ["SCAN up", "SCAN down", "SCAN CONSTANT ROW"];
                let full_scan = d.starts_with("SCAN ")
                    && !d.contains("VIRTUAL TABLE")
                    && !allowed.iter().any(|a| d == a || d.starts_with(&format!("{a} ")));
                assert!(!full_scan, "{when}: the {name} query reads a whole table: {d}\nplan: {details:#?}");
            }
        }
    }

    #[test]
    fn lineage_queries_use_indexes() {
        let mut f = fixture();
        assert_plans_use_indexes(f.lineage.connection(), "empty database");
        for i in 0..40 {
            let run = f.lineage.begin_run("taxi", &json!({})).unwrap();
            tfx_like(&mut f, run, i);
            f.lineage.finish_run(run, RunState::Complete).unwrap();
        }
        assert_plans_use_indexes(f.lineage.connection(), "no fresh statistics");
        f.lineage.connection().execute_batch("ANALYZE").unwrap();
        assert_plans_use_indexes(f.lineage.connection(), "after ANALYZE");
        // And the queries still answer.
        let last = f.lineage.latest_artifact("taxi", "Pushed").unwrap().unwrap();
        assert_eq!(f.lineage.upstream(last.id).unwrap().artifacts.len(), 4);
    }
}
