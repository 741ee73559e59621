//! The store commands: `mlp runs`, `mlp lineage`, `mlp artifacts`, `mlp doctor` and
//! `mlp rollback`, over the artifact and lineage stores and the serving folder of `mlp-store`.
//!
//! Every command takes `--store DIR` (default `.mlp` in the current folder, which is where
//! `mlp run` puts it for a pipeline in that folder). Output is text by default and JSON with
//! `--json`; errors name the store and say what to do.

use mlp_store::artifacts::ExportFormat;
use mlp_store::lineage::{ArtifactId, RunId};
use mlp_store::{ArtifactStore, DoctorOptions, LineageStore};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Fails with a message naming the store when it does not exist.
fn existing(store: &Path) -> Result<(), ExitCode> {
    if store.join("lineage.db").is_file() {
        return Ok(());
    }
    eprintln!(
        "error: no mlp store at `{}`\n  help: `mlp run` keeps its store in `.mlp` beside the pipeline; pass it with --store PATH/.mlp",
        store.display()
    );
    Err(ExitCode::from(2))
}

fn lineage(store: &Path) -> Result<LineageStore, ExitCode> {
    existing(store)?;
    LineageStore::open(store).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}

pub(crate) fn artifacts(store: &Path) -> Result<ArtifactStore, ExitCode> {
    existing(store)?;
    ArtifactStore::open(store).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(1)
}

fn json(v: &impl serde::Serialize) {
    outln!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

fn time(ms: i64) -> String {
    // UTC, to the second, without a date library: days since the epoch to a civil date.
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

fn duration(start: i64, end: Option<i64>) -> String {
    end.map_or_else(|| "-".into(), |e| format!("{:.2} s", (e - start) as f64 / 1000.0))
}

/// `mlp runs [ID]`.
pub(crate) fn runs(store: &Path, id: Option<i64>, as_json: bool) -> ExitCode {
    let l = match lineage(store) {
        Ok(l) => l,
        Err(c) => return c,
    };
    let Some(id) = id else {
        let runs = match l.runs(None) {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
        if as_json {
            json(&runs);
        } else {
            outln!("{:>4}  {:<9}  {:<19}  {:>9}  name", "id", "state", "started", "took");
            for r in &runs {
                outln!(
                    "{:>4}  {:<9}  {}  {:>9}  {}",
                    r.id,
                    r.state.to_string(),
                    time(r.started_at),
                    duration(r.started_at, r.finished_at),
                    r.name
                );
            }
        }
        return ExitCode::SUCCESS;
    };
    let detail = match l.run(RunId(id)) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    if as_json {
        json(&detail);
        return ExitCode::SUCCESS;
    }
    let r = &detail.run;
    outln!(
        "run {} {} ({}), started {}, took {}",
        r.id,
        r.name,
        r.state,
        time(r.started_at),
        duration(r.started_at, r.finished_at)
    );
    for e in &detail.executions {
        let extra = match (&e.cached_from, &e.error) {
            (Some(from), _) => format!("  reused execution {from}"),
            (_, Some(err)) => format!("  {err}"),
            _ => String::new(),
        };
        outln!(
            "  {:>5}  {:<9} {:<20} attempt {}  {:>9}{extra}",
            e.id,
            e.state.to_string(),
            e.step,
            e.attempt,
            duration(e.started_at, e.ended_at)
        );
        for ev in &e.events {
            let digest = l.artifact(ev.artifact).map(|a| a.digest).unwrap_or_default();
            outln!("           {:<6} {:<12} artifact {} {digest}", ev.kind.to_string(), ev.port, ev.artifact);
        }
    }
    ExitCode::SUCCESS
}

/// Finds an artifact by id or digest (a unique prefix of its hex is enough).
fn find_artifact(l: &LineageStore, what: &str) -> Result<ArtifactId, String> {
    if let Ok(n) = what.parse::<i64>() {
        return l.artifact(ArtifactId(n)).map(|a| a.id).map_err(|e| e.to_string());
    }
    let hex = what.trim_start_matches("blake3:");
    let all = l.artifacts(None).map_err(|e| e.to_string())?;
    let found: Vec<_> = all.iter().filter(|a| a.digest.trim_start_matches("blake3:").starts_with(hex)).collect();
    match found.as_slice() {
        [a] => Ok(a.id),
        [] => Err(format!("no artifact with id or digest `{what}`; `mlp artifacts ls` lists them")),
        many => Err(format!("`{what}` matches {} artifacts; give more of the digest", many.len())),
    }
}

/// The digest of the artifact named by id or digest prefix.
pub(crate) fn digest_of(store: &Path, what: &str) -> Result<String, ExitCode> {
    let l = lineage(store)?;
    find_artifact(&l, what).and_then(|id| l.artifact(id).map(|r| r.digest).map_err(|e| e.to_string())).map_err(fail)
}

/// `mlp lineage ARTIFACT`.
pub(crate) fn lineage_cmd(store: &Path, what: &str, downstream: bool, dot: bool) -> ExitCode {
    let l = match lineage(store) {
        Ok(l) => l,
        Err(c) => return c,
    };
    let id = match find_artifact(&l, what) {
        Ok(id) => id,
        Err(e) => return fail(e),
    };
    let graph = if downstream { l.downstream(id) } else { l.upstream(id) };
    match graph {
        Ok(g) => {
            out!("{}", if dot { g.to_dot() } else { g.to_text() });
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// `mlp artifacts ls|show|export`.
pub(crate) fn artifacts_cmd(store: &Path, command: ArtifactsCommand, as_json: bool) -> ExitCode {
    let a = match artifacts(store) {
        Ok(a) => a,
        Err(c) => return c,
    };
    match command {
        ArtifactsCommand::Ls => match a.list() {
            Ok(list) if as_json => {
                json(&list);
                ExitCode::SUCCESS
            }
            Ok(list) => {
                for s in list {
                    outln!(
                        "{}  {:<14} {:>3} part{}  {} bytes",
                        s.digest,
                        s.artifact_type,
                        s.parts,
                        crate::plural(s.parts),
                        s.bytes
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        ArtifactsCommand::Show { artifact, rows } => {
            let digest = match digest_of(store, &artifact) {
                Ok(d) => d,
                Err(c) => return c,
            };
            match a.get(&digest) {
                Ok(data) => {
                    outln!("{digest}: {}", data.artifact_type);
                    crate::run::print_artifact(&data, rows);
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
        ArtifactsCommand::Export { artifact, dest, format } => {
            let digest = match digest_of(store, &artifact) {
                Ok(d) => d,
                Err(c) => return c,
            };
            let format = match format.parse::<ExportFormat>() {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            match a.export(&digest, &dest, format) {
                Ok(files) => {
                    for f in files {
                        outln!("wrote {}", f.display());
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
    }
}

/// The `mlp artifacts` subcommands.
#[derive(clap::Subcommand)]
pub(crate) enum ArtifactsCommand {
    /// List the stored artifacts.
    Ls,
    /// Print an artifact: its properties and parts (tables as text).
    Show {
        /// An artifact id or digest (a unique prefix of the hex is enough).
        artifact: String,
        /// Rows of each table to print.
        #[arg(long, default_value_t = 20)]
        rows: usize,
    },
    /// Write an artifact's parts to a folder, as Parquet, CSV or Arrow IPC files.
    Export {
        /// An artifact id or digest (a unique prefix of the hex is enough).
        artifact: String,
        /// The folder to write into (created when missing).
        dest: PathBuf,
        /// `parquet`, `csv` or `ipc`.
        #[arg(long, default_value = "parquet")]
        format: String,
    },
}

/// `mlp doctor`.
pub(crate) fn doctor(store: &Path, fix: bool, deep: bool, as_json: bool) -> ExitCode {
    if let Err(c) = existing(store) {
        return c;
    }
    let report = mlp_store::doctor(store, DoctorOptions { fix, deep });
    if as_json {
        json(&report);
    } else {
        for i in &report.issues {
            let what = i.id.clone().or_else(|| i.path.as_ref().map(|p| p.display().to_string())).unwrap_or_default();
            let state = if i.fixed { " (fixed)" } else { "" };
            outln!("{:?}: {what}: {}{state}\n  fix: {}", i.severity, i.message, i.fix);
        }
        let c = &report.checked;
        outln!(
            "{}: {} artifact folders, {} artifact rows, {} runs, {} temporary entries checked",
            if report.is_clean() { "clean" } else { "problems found" },
            c.artifact_folders,
            c.artifact_rows,
            c.runs,
            c.tmp_entries
        );
    }
    if report.is_clean() { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

pub(crate) fn rollback(dir: &Path, store: Option<&Path>) -> ExitCode {
    let default = Path::new(mlp_store::DEFAULT_DIR);
    let store = match store {
        Some(s) => {
            if let Err(c) = existing(s) {
                return c;
            }
            Some(s)
        }
        None => default.join("lineage.db").is_file().then_some(default),
    };
    match mlp_store::serving::rollback(dir, store) {
        Ok(r) => {
            outln!("{}: version {} is current again (was {})", dir.display(), r.to, r.from);
            match (r.run, store) {
                (Some(run), Some(s)) => outln!("recorded as run {run} in {}", s.display()),
                _ => eprintln!("warning: not recorded in a lineage store (none at `.mlp`; pass --store PATH)"),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}\n  help: {}", e.help());
            ExitCode::from(1)
        }
    }
}
