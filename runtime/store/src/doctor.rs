//! `mlp doctor`: checks a store (artifacts and lineage together) and optionally repairs what can
//! be repaired safely.
//!
//! It sits on top of [`crate::artifacts`] and [`crate::lineage`] and is the one place that
//! compares them. The result is data ([`Report`], a list of [`Issue`]s, serializable) so the CLI
//! renders it as text or JSON. Checks:
//!
//! - the database: `PRAGMA integrity_check` and `foreign_key_check` (schema version on open);
//! - every LIVE artifact row has its folder, and the folder verifies (every part file re-hashed;
//!   with `deep`, the content re-digested);
//! - every artifact folder has a row (an unreferenced folder is normal after a crash between
//!   writing the artifact and recording it: reported for information);
//! - anything else under `artifacts/`;
//! - leftovers in `tmp/` of writes whose process died;
//! - runs left running by a process that died, and running executions of finished runs.
//!
//! With `fix`, leftovers in `tmp/` are removed, damaged folders are moved to `quarantine/` and
//! their rows (and those of missing folders) marked deleted, so caching recomputes them, and
//! interrupted runs and executions are marked canceled. Nothing that another live process may be
//! using is touched.

use crate::artifacts::{ArtifactError, ArtifactStore};
use crate::digest::digest_hex;
use crate::lineage::{ArtifactState, LineageStore, RunState};
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a `tmp/` entry whose owner cannot be checked (no `/proc`) must be left alone before
/// `fix` removes it.
pub const TMP_GRACE: Duration = Duration::from_secs(3600);

/// How bad an issue is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// For information: nothing is wrong (an unreferenced artifact folder).
    Info,
    /// Harmless leftovers or interrupted work that `fix` cleans up.
    Warning,
    /// Data is missing or damaged.
    Error,
}

/// What kind of problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IssueKind {
    /// The store folder does not exist.
    MissingStore,
    /// The lineage database cannot be opened or fails its integrity check.
    Database,
    /// A row points at a missing row.
    ForeignKey,
    /// A live artifact row has no folder.
    MissingArtifact,
    /// An artifact folder fails verification.
    CorruptArtifact,
    /// An artifact folder no row refers to.
    UnreferencedArtifact,
    /// Something under `artifacts/` that is not an artifact folder.
    StrayEntry,
    /// A leftover of an interrupted write in `tmp/`.
    TmpLeftover,
    /// A run left running by a process that died.
    StaleRun,
    /// A running execution of a run that has finished.
    OrphanExecution,
}

/// One problem found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Issue {
    /// What kind.
    pub kind: IssueKind,
    /// How bad.
    pub severity: Severity,
    /// The file or folder concerned, if any.
    pub path: Option<PathBuf>,
    /// The row concerned, if any: `artifact 12`, `run 3`, `execution 40`.
    pub id: Option<String>,
    /// What is wrong, in one line.
    pub message: String,
    /// What to do about it.
    pub fix: String,
    /// Whether `fix` repaired it in this run of the doctor.
    pub fixed: bool,
}

/// What was looked at.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Checked {
    /// Artifact folders on disk.
    pub artifact_folders: usize,
    /// Artifact rows in the database.
    pub artifact_rows: usize,
    /// Entries in `tmp/`.
    pub tmp_entries: usize,
    /// Runs.
    pub runs: usize,
}

/// The doctor's findings.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// The store root.
    pub root: PathBuf,
    /// Every issue, in the order found.
    pub issues: Vec<Issue>,
    /// What was looked at.
    pub checked: Checked,
}

impl Report {
    /// No errors or warnings are left (repaired ones and information do not count).
    pub fn is_clean(&self) -> bool {
        self.remaining().next().is_none()
    }

    /// Errors and warnings not repaired.
    pub fn remaining(&self) -> impl Iterator<Item = &Issue> {
        self.issues.iter().filter(|i| !i.fixed && i.severity > Severity::Info)
    }

    /// The issues of `kind`.
    pub fn of_kind(&self, kind: IssueKind) -> impl Iterator<Item = &Issue> {
        self.issues.iter().filter(move |i| i.kind == kind)
    }

    fn push(&mut self, kind: IssueKind, severity: Severity, message: String, fix: &str) -> &mut Issue {
        self.issues.push(Issue { kind, severity, path: None, id: None, message, fix: fix.into(), fixed: false });
        self.issues.last_mut().expect("just pushed")
    }
}

/// How the doctor works.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DoctorOptions {
    /// Repair what can be repaired safely (see the module documentation).
    pub fix: bool,
    /// Also decode every artifact and recompute its digest (slower; catches edited manifests).
    pub deep: bool,
}

/// Checks the store at `root` (and repairs it with `options.fix`). Never fails: a problem that
/// stops a check is itself an issue.
pub fn doctor(root: &Path, options: DoctorOptions) -> Report {
    let mut report = Report { root: root.to_path_buf(), issues: Vec::new(), checked: Checked::default() };
    if !root.is_dir() {
        report
            .push(
                IssueKind::MissingStore,
                Severity::Error,
                format!("there is no store folder at {}", root.display()),
                "check the path; a store is created by the first `mlp run` of a pipeline",
            )
            .path = Some(root.to_path_buf());
        return report;
    }
    let artifacts = match ArtifactStore::open(root) {
        Ok(a) => a,
        Err(e) => {
            report
                .push(IssueKind::MissingStore, Severity::Error, e.to_string(), "fix the store folder's permissions")
                .path = Some(root.to_path_buf());
            return report;
        }
    };
    check_tmp(&artifacts, options, &mut report);
    let mut lineage = match LineageStore::open(root) {
        Ok(l) => l,
        Err(e) => {
            report
                .push(
                    IssueKind::Database,
                    Severity::Error,
                    e.to_string(),
                    "see the message; artifacts were checked, lineage was not",
                )
                .path = Some(root.join(crate::lineage::DB_FILE));
            check_disk_only(&artifacts, &BTreeSet::new(), &mut report);
            return report;
        }
    };
    check_database(&lineage, &mut report);
    let referenced = check_rows(&artifacts, &mut lineage, options, &mut report);
    check_disk_only(&artifacts, &referenced, &mut report);
    check_runs(&mut lineage, options, &mut report);
    report
}

fn check_tmp(artifacts: &ArtifactStore, options: DoctorOptions, report: &mut Report) {
    let entries = match artifacts.tmp_entries() {
        Ok(e) => e,
        Err(e) => {
            report.push(IssueKind::TmpLeftover, Severity::Warning, e.to_string(), "check the permissions of tmp/");
            return;
        }
    };
    report.checked.tmp_entries = entries.len();
    for entry in entries {
        let old = std::fs::metadata(&entry.path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > TMP_GRACE);
        let removable = match entry.owner_alive {
            Some(alive) => !alive,
            None => old,
        };
        if entry.owner_alive == Some(true) {
            continue; // a write in progress
        }
        let owner = match entry.pid {
            Some(pid) => format!("process {pid}, which is no longer running"),
            None => "an unknown process".to_string(),
        };
        let (severity, fix) = if removable {
            (Severity::Warning, "remove it: `mlp doctor --fix`")
        } else {
            (Severity::Info, "if no mlp is running on this store, remove it by hand")
        };
        let fixed = options.fix && removable && artifacts.remove_tmp(&entry).is_ok();
        let issue =
            report.push(IssueKind::TmpLeftover, severity, format!("unfinished artifact write left by {owner}"), fix);
        issue.path = Some(entry.path);
        issue.fixed = fixed;
    }
}

fn check_database(lineage: &LineageStore, report: &mut Report) {
    let db = lineage.path().to_path_buf();
    match lineage.integrity_check() {
        Ok(problems) => {
            for p in problems {
                report.push(IssueKind::Database, Severity::Error, format!("integrity check: {p}"), "restore lineage.db from a backup, or move it aside to start a new lineage (artifacts are kept)").path = Some(db.clone());
            }
        }
        Err(e) => {
            report.push(IssueKind::Database, Severity::Error, e.to_string(), "restore lineage.db from a backup").path =
                Some(db.clone())
        }
    }
    match lineage.foreign_key_check() {
        Ok(problems) => {
            for p in problems {
                report
                    .push(
                        IssueKind::ForeignKey,
                        Severity::Error,
                        p,
                        "restore lineage.db from a backup; the rows named are inconsistent",
                    )
                    .path = Some(db.clone());
            }
        }
        Err(e) => {
            report
                .push(IssueKind::ForeignKey, Severity::Error, e.to_string(), "restore lineage.db from a backup")
                .path = Some(db.clone())
        }
    }
}

/// Checks every live artifact row against its folder; returns the digests of all rows.
fn check_rows(
    artifacts: &ArtifactStore,
    lineage: &mut LineageStore,
    options: DoctorOptions,
    report: &mut Report,
) -> BTreeSet<String> {
    let rows = match lineage.artifacts(None) {
        Ok(rows) => rows,
        Err(e) => {
            report.push(
                IssueKind::Database,
                Severity::Error,
                e.to_string(),
                "run `mlp doctor` again; restore lineage.db from a backup if it persists",
            );
            return BTreeSet::new();
        }
    };
    report.checked.artifact_rows = rows.len();
    let mut digests = BTreeSet::new();
    for row in rows {
        digests.insert(row.digest.clone());
        if row.state != ArtifactState::Live {
            continue;
        }
        let id = Some(format!("artifact {}", row.id));
        let path = artifacts.path_of(&row.digest).ok();
        let result = if options.deep { artifacts.verify_content(&row.digest) } else { artifacts.verify(&row.digest) };
        match result {
            Ok(()) => {}
            Err(ArtifactError::NotFound { .. }) => {
                let fixed = options.fix && lineage.mark_deleted(row.id).is_ok();
                let issue = report.push(
                    IssueKind::MissingArtifact,
                    Severity::Error,
                    format!(
                        "{} artifact {} is recorded as live but its folder is missing",
                        row.artifact_type, row.digest
                    ),
                    "mark it deleted with `mlp doctor --fix` so the steps that need it run again",
                );
                (issue.id, issue.path, issue.fixed) = (id, path, fixed);
            }
            Err(e) => {
                let fixed =
                    options.fix && artifacts.quarantine(&row.digest).is_ok() && lineage.mark_deleted(row.id).is_ok();
                let issue = report.push(
                    IssueKind::CorruptArtifact,
                    Severity::Error,
                    e.to_string(),
                    "`mlp doctor --fix` moves the folder to quarantine/ and marks the artifact deleted, so the steps that need it run again",
                );
                (issue.id, issue.path, issue.fixed) = (id, path, fixed);
            }
        }
    }
    digests
}

/// Folders on disk that no row refers to, and stray entries.
fn check_disk_only(artifacts: &ArtifactStore, referenced: &BTreeSet<String>, report: &mut Report) {
    let scan = match artifacts.scan() {
        Ok(s) => s,
        Err(e) => {
            report.push(IssueKind::StrayEntry, Severity::Error, e.to_string(), "check the permissions of artifacts/");
            return;
        }
    };
    report.checked.artifact_folders = scan.digests.len();
    for digest in scan.digests {
        if referenced.contains(&digest) {
            continue;
        }
        let path = artifacts.path_of(&digest).ok();
        let (severity, message, fix) = match artifacts.verify(&digest) {
            Ok(()) => (
                Severity::Info,
                format!(
                    "artifact {digest} is stored but no execution recorded it (a run stopped between writing and recording it)"
                ),
                "nothing to do; it is reused if a step produces the same content, and can be removed",
            ),
            Err(e) => (Severity::Warning, e.to_string(), "remove the folder; nothing refers to it"),
        };
        let issue = report.push(IssueKind::UnreferencedArtifact, severity, message, fix);
        (issue.path, issue.id) = (path, digest_hex(&digest).map(|_| digest.clone()));
    }
    for stray in scan.strays {
        let message = format!("{} is not an artifact folder", stray.display());
        report
            .push(IssueKind::StrayEntry, Severity::Warning, message, "move it out of the store's artifacts/ folder")
            .path = Some(stray);
    }
}

fn check_runs(lineage: &mut LineageStore, options: DoctorOptions, report: &mut Report) {
    match lineage.runs(None) {
        Ok(runs) => report.checked.runs = runs.len(),
        Err(e) => {
            report.push(IssueKind::Database, Severity::Error, e.to_string(), "restore lineage.db from a backup");
            return;
        }
    }
    match lineage.stale_runs() {
        Ok(stale) => {
            for run in stale {
                let fixed = options.fix
                    && lineage.recover_interrupted(run.id).is_ok()
                    && lineage.finish_run(run.id, RunState::Canceled).is_ok();
                let issue = report.push(
                    IssueKind::StaleRun,
                    Severity::Warning,
                    format!(
                        "run {} ({}) is recorded as running, but its process {} is gone",
                        run.id,
                        run.name,
                        run.owner_pid.unwrap_or(0)
                    ),
                    "resume it with `mlp run --resume`, or mark it canceled with `mlp doctor --fix`",
                );
                (issue.id, issue.fixed) = (Some(format!("run {}", run.id)), fixed);
            }
        }
        Err(e) => {
            report.push(IssueKind::Database, Severity::Error, e.to_string(), "restore lineage.db from a backup");
        }
    }
    match lineage.orphan_executions() {
        Ok(orphans) => {
            for x in orphans {
                let fixed = options.fix
                    && lineage.cancel_execution(x, "canceled: its run had finished while it was running").is_ok();
                let issue = report.push(
                    IssueKind::OrphanExecution,
                    Severity::Warning,
                    format!("execution {x} is recorded as running, but its run has finished"),
                    "mark it canceled with `mlp doctor --fix`",
                );
                (issue.id, issue.fixed) = (Some(format!("execution {x}")), fixed);
            }
        }
        Err(e) => {
            report.push(IssueKind::Database, Severity::Error, e.to_string(), "restore lineage.db from a backup");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lineage::{ArtifactId, ExecutionSpec, RunId};
    use crate::testutil::{Fixture, artifact, dead_pid, fixture};
    use std::fs;

    fn spec(step: &str) -> ExecutionSpec<'_> {
        ExecutionSpec {
            step,
            component: "c",
            component_digest: "d",
            parameters: "{}",
            cache_key: Some("key"),
            attempt: 1,
            inputs: &[],
        }
    }

    impl Fixture {
        /// A run with one complete execution per seed; returns the run and the artifact ids.
        fn run(&mut self, seeds: &[i64]) -> (RunId, Vec<ArtifactId>) {
            let run = self.lineage.begin_run("p", &serde_json::json!({})).unwrap();
            let mut ids = Vec::new();
            for seed in seeds {
                let x = self.lineage.start_execution(run, &spec("s")).unwrap();
                let stored = self.artifacts.put(&artifact("Examples", *seed)).unwrap();
                ids.extend(self.lineage.complete_execution(x, &[("out", &stored)]).unwrap());
            }
            (run, ids)
        }

        fn doctor(&self, fix: bool) -> Report {
            doctor(&self.root, DoctorOptions { fix, deep: false })
        }
    }

    fn kinds(r: &Report) -> Vec<(IssueKind, Severity, bool)> {
        r.issues.iter().map(|i| (i.kind, i.severity, i.fixed)).collect()
    }

    #[test]
    fn a_sound_store_is_clean() {
        let mut f = fixture();
        let (run, _) = f.run(&[1, 2, 3]);
        f.lineage.finish_run(run, RunState::Complete).unwrap();
        let r = doctor(&f.root, DoctorOptions { fix: false, deep: true });
        assert!(r.issues.is_empty(), "{:#?}", r.issues);
        assert!(r.is_clean());
        assert_eq!(r.checked, Checked { artifact_folders: 3, artifact_rows: 3, tmp_entries: 0, runs: 1 });
    }

    #[test]
    fn a_missing_store_is_reported_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("nowhere");
        let r = doctor(&root, DoctorOptions::default());
        assert_eq!(kinds(&r), [(IssueKind::MissingStore, Severity::Error, false)]);
        assert!(!root.exists());
    }

    #[test]
    fn a_damaged_artifact_is_quarantined_and_marked_deleted() {
        let mut f = fixture();
        let (run, ids) = f.run(&[1, 2]);
        f.lineage.finish_run(run, RunState::Complete).unwrap();
        let victim = f.lineage.artifact(ids[1]).unwrap();
        let part = f.root.join(&victim.uri).join("train.arrow");
        let len = fs::metadata(&part).unwrap().len();
        fs::OpenOptions::new().write(true).open(&part).unwrap().set_len(len - 7).unwrap();
        // The cache would hand out the damaged artifact until the doctor marks it.
        assert_eq!(f.lineage.lookup_cache("key").unwrap().unwrap().outputs[0].1.id, victim.id);

        let r = f.doctor(false);
        assert_eq!(kinds(&r), [(IssueKind::CorruptArtifact, Severity::Error, false)]);
        let issue = &r.issues[0];
        assert_eq!(issue.id.as_deref(), Some(format!("artifact {}", victim.id).as_str()));
        assert_eq!(issue.path.as_deref(), Some(f.root.join(&victim.uri).as_path()));
        assert!(issue.message.contains("truncated"), "{}", issue.message);
        assert!(!r.is_clean());

        let r = f.doctor(true);
        assert_eq!(kinds(&r), [(IssueKind::CorruptArtifact, Severity::Error, true)]);
        assert!(r.is_clean());
        assert!(!f.root.join(&victim.uri).exists());
        assert_eq!(fs::read_dir(f.root.join("quarantine")).unwrap().count(), 1);
        assert_eq!(f.lineage.artifact(victim.id).unwrap().state, ArtifactState::Deleted);
        assert_eq!(f.lineage.lookup_cache("key").unwrap().unwrap().outputs[0].1.id, ids[0]);
        assert!(f.doctor(false).issues.is_empty());
    }

    #[test]
    fn a_missing_folder_is_marked_deleted() {
        let mut f = fixture();
        let (_, ids) = f.run(&[1]);
        let a = f.lineage.artifact(ids[0]).unwrap();
        fs::remove_dir_all(f.root.join(&a.uri)).unwrap();
        let r = f.doctor(true);
        let expected = (IssueKind::MissingArtifact, Severity::Error, true);
        assert_eq!(kinds(&r).into_iter().filter(|k| k.0 != IssueKind::StaleRun).collect::<Vec<_>>(), [expected]);
        assert_eq!(f.lineage.artifact(ids[0]).unwrap().state, ArtifactState::Deleted);
    }

    #[test]
    fn leftovers_are_listed_and_removed_but_live_writes_are_left_alone() {
        let f = fixture();
        let dead = f.root.join(format!("tmp/put-{}-1-0", dead_pid()));
        fs::create_dir_all(&dead).unwrap();
        fs::write(dead.join("manifest.json"), "{").unwrap();
        let live = f.root.join(format!("tmp/put-{}-1-0", std::process::id()));
        fs::create_dir_all(&live).unwrap();
        let r = f.doctor(false);
        if !Path::new("/proc/self").exists() {
            return; // owners cannot be checked; the grace period applies instead
        }
        assert_eq!(kinds(&r), [(IssueKind::TmpLeftover, Severity::Warning, false)]);
        assert_eq!(r.issues[0].path.as_deref(), Some(dead.as_path()));
        assert!(dead.exists());
        let r = f.doctor(true);
        assert_eq!(kinds(&r), [(IssueKind::TmpLeftover, Severity::Warning, true)]);
        assert!(!dead.exists());
        assert!(live.exists());
        assert!(f.doctor(false).issues.is_empty());
    }

    #[test]
    fn unreferenced_folders_are_information_and_strays_are_warnings() {
        let f = fixture();
        let stored = f.artifacts.put(&artifact("Examples", 1)).unwrap();
        let r = f.doctor(false);
        assert_eq!(kinds(&r), [(IssueKind::UnreferencedArtifact, Severity::Info, false)]);
        assert_eq!(r.issues[0].id.as_deref(), Some(stored.digest.as_str()));
        assert!(r.is_clean());

        fs::write(f.root.join("artifacts").join(&stored.uri[10..12]).join("notes.txt"), "x").unwrap();
        fs::write(stored.path.join("train.arrow"), "x").unwrap();
        let r = f.doctor(true);
        let found = kinds(&r);
        assert!(found.contains(&(IssueKind::UnreferencedArtifact, Severity::Warning, false)), "{found:?}");
        assert!(found.contains(&(IssueKind::StrayEntry, Severity::Warning, false)), "{found:?}");
        assert!(!r.is_clean());
        assert_eq!(r.remaining().count(), 2);
    }

    #[test]
    fn interrupted_runs_and_orphan_executions_are_canceled() {
        let mut f = fixture();
        let (run, _) = f.run(&[1]);
        let left = f.lineage.start_execution(run, &spec("t")).unwrap();
        f.lineage
            .connection()
            .execute("UPDATE contexts SET owner_pid = ?1 WHERE id = ?2", rusqlite::params![dead_pid(), run.0])
            .unwrap();
        // A finished run with an execution still marked running (written by hand: the API
        // refuses to make one).
        let (run2, _) = f.run(&[2]);
        let orphan = f.lineage.start_execution(run2, &spec("u")).unwrap();
        f.lineage.connection().execute("UPDATE contexts SET state = 'complete' WHERE id = ?1", [run2.0]).unwrap();

        let r = f.doctor(false);
        let mut found = kinds(&r);
        found.sort_by_key(|k| format!("{k:?}"));
        if Path::new("/proc/self").exists() {
            assert_eq!(
                found,
                [
                    (IssueKind::OrphanExecution, Severity::Warning, false),
                    (IssueKind::StaleRun, Severity::Warning, false)
                ]
            );
        }
        let r = f.doctor(true);
        assert!(r.is_clean(), "{:#?}", r.issues);
        let d = f.lineage.run(run).unwrap();
        assert_eq!(d.run.state, RunState::Canceled);
        assert_eq!(d.executions.iter().find(|x| x.id == left).unwrap().state, crate::lineage::ExecutionState::Canceled);
        let d = f.lineage.run(run2).unwrap();
        assert_eq!(
            d.executions.iter().find(|x| x.id == orphan).unwrap().state,
            crate::lineage::ExecutionState::Canceled
        );
        assert!(f.doctor(false).issues.iter().all(|i| i.severity == Severity::Info));
    }

    #[test]
    fn a_database_from_a_newer_mlp_is_an_issue_and_artifacts_are_still_checked() {
        let f = fixture();
        f.artifacts.put(&artifact("Examples", 1)).unwrap();
        drop(f.lineage);
        let c = rusqlite::Connection::open(f.root.join("lineage.db")).unwrap();
        c.pragma_update(None, "user_version", 1000).unwrap();
        drop(c);
        let r = doctor(&f.root, DoctorOptions::default());
        assert_eq!(r.issues[0].kind, IssueKind::Database);
        assert!(r.issues[0].message.contains("schema version 1000"), "{}", r.issues[0].message);
        assert_eq!(r.checked.artifact_folders, 1);
    }

    #[test]
    fn the_report_serializes_for_the_cli() {
        let f = fixture();
        f.artifacts.put(&artifact("Examples", 1)).unwrap();
        let json = serde_json::to_value(f.doctor(false)).unwrap();
        assert_eq!(json["issues"][0]["kind"], "unreferenced-artifact");
        assert_eq!(json["issues"][0]["severity"], "info");
        assert_eq!(json["checked"]["artifact_folders"], 1);
    }
}
