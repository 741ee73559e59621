//! The serving folder: the numbered model versions the `push` step writes and `mlp serve`
//! reads, the atomic switch of the current version, and `mlp rollback` with its lineage record.
//!
//! ```text
//! DIR/versions/N/     N = 1, 2, ...: model.json, weights.safetensors, transform.json, version.json
//! DIR/CURRENT         the current version number and a newline
//! ```
//!
//! A version folder appears complete (it is written beside and renamed in); `CURRENT` is
//! replaced by writing `CURRENT.tmp` and renaming it over the old one, so a reader sees the old
//! version or the new one, never neither. The `push` component (a guest, std/tabular.mlp)
//! writes the same layout through its write grant.

use crate::artifacts::ArtifactStore;
use crate::lineage::{ExecutionSpec, LineageStore, RunState};
use mlp_kernels::data::{ArtifactData, Part};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The files of a complete version.
pub const VERSION_FILES: [&str; 4] = ["model.json", "weights.safetensors", "transform.json", "version.json"];

/// The `format` of `version.json`.
pub const FORMAT: &str = "mlp.pushed";

/// What can go wrong with a serving folder.
#[derive(Debug, thiserror::Error)]
pub enum ServingError {
    /// Reading or writing a file failed.
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The folder has no current version.
    #[error("nothing was pushed to `{0}` (it has no CURRENT file)")]
    NothingPushed(PathBuf),
    /// No complete version older than the current one.
    #[error("version {current} is the oldest complete version in `{dir}`; there is nothing to roll back to")]
    NoPrevious {
        /// The folder.
        dir: PathBuf,
        /// Its current version.
        current: u64,
    },
    /// A version is not complete or its `version.json` does not read.
    #[error("version {version} in `{dir}` is incomplete: {reason}")]
    Incomplete {
        /// The folder.
        dir: PathBuf,
        /// The version.
        version: u64,
        /// What is missing or wrong.
        reason: String,
    },
    /// Recording the rollback in the lineage store failed.
    #[error("the rollback to version {to} was made, but recording it in the lineage failed: {message}")]
    Lineage {
        /// The version now current.
        to: u64,
        /// The store's error.
        message: String,
    },
}

impl ServingError {
    /// What to do about it.
    pub fn help(&self) -> String {
        match self {
            ServingError::Io { .. } => "check the folder's permissions and free space".into(),
            ServingError::NothingPushed(_) => "run a pipeline with a `tab.push` step to this folder first".into(),
            ServingError::NoPrevious { .. } => "push a new model instead".into(),
            ServingError::Incomplete { .. } => {
                "delete the broken version folder; `push` writes complete versions only".into()
            }
            ServingError::Lineage { .. } => "run `mlp doctor --fix` on the store".into(),
        }
    }
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ServingError {
    let path = path.to_path_buf();
    move |source| ServingError::Io { action, path, source }
}

/// The folder of version `n`.
pub fn version_dir(dir: &Path, n: u64) -> PathBuf {
    dir.join("versions").join(n.to_string())
}

/// The version numbers under `DIR/versions`, ascending (names that are not numbers are ignored).
pub fn versions(dir: &Path) -> Result<Vec<u64>, ServingError> {
    let root = dir.join("versions");
    let entries = match std::fs::read_dir(&root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("list", &root)(e)),
    };
    let mut out: Vec<u64> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u64>().ok()))
        .filter(|n| *n > 0)
        .collect();
    out.sort_unstable();
    Ok(out)
}

/// The version `CURRENT` names, if there is one.
pub fn current(dir: &Path) -> Option<u64> {
    std::fs::read_to_string(dir.join("CURRENT")).ok()?.trim().parse().ok()
}

/// Makes version `n` current, atomically (write `CURRENT.tmp`, sync, rename).
pub fn set_current(dir: &Path, n: u64) -> Result<(), ServingError> {
    let tmp = dir.join("CURRENT.tmp");
    let mut f = std::fs::File::create(&tmp).map_err(io("write", &tmp))?;
    f.write_all(format!("{n}\n").as_bytes()).map_err(io("write", &tmp))?;
    f.sync_all().map_err(io("sync", &tmp))?;
    drop(f);
    let target = dir.join("CURRENT");
    std::fs::rename(&tmp, &target).map_err(io("replace", &target))
}

/// `version.json` of version `n`, after checking that every file of the version is there.
pub fn read_version(dir: &Path, n: u64) -> Result<Value, ServingError> {
    let vdir = version_dir(dir, n);
    let incomplete = |reason: String| ServingError::Incomplete { dir: dir.to_path_buf(), version: n, reason };
    for f in VERSION_FILES {
        if !vdir.join(f).is_file() {
            return Err(incomplete(format!("`{f}` is missing")));
        }
    }
    let text = std::fs::read_to_string(vdir.join("version.json")).map_err(io("read", &vdir.join("version.json")))?;
    let meta: Value = serde_json::from_str(&text).map_err(|e| incomplete(format!("version.json is not JSON: {e}")))?;
    if meta["format"] != FORMAT || meta["version"].as_u64() != Some(n) {
        return Err(incomplete(format!("version.json is not a `{FORMAT}` record of version {n}")));
    }
    Ok(meta)
}

/// A rollback that was made.
#[derive(Clone, Debug, PartialEq)]
pub struct Rollback {
    /// The version that was current.
    pub from: u64,
    /// The version now current.
    pub to: u64,
    /// The lineage run that records it, when a store was given.
    pub run: Option<i64>,
}

/// Makes the newest complete version older than the current one current, and, with a store,
/// records it in the lineage: a run of the pipeline that pushed the model, with one execution
/// `rollback` that takes the restored model and outputs a PushedModel for it.
pub fn rollback(dir: &Path, store: Option<&Path>) -> Result<Rollback, ServingError> {
    let from = current(dir).ok_or_else(|| ServingError::NothingPushed(dir.to_path_buf()))?;
    let to = versions(dir)?
        .into_iter()
        .rev()
        .filter(|v| *v < from)
        .find(|v| read_version(dir, *v).is_ok())
        .ok_or(ServingError::NoPrevious { dir: dir.to_path_buf(), current: from })?;
    let meta = read_version(dir, to)?;
    set_current(dir, to)?;
    let run = match store {
        Some(root) => {
            Some(record(dir, root, from, to, &meta).map_err(|message| ServingError::Lineage { to, message })?)
        }
        None => None,
    };
    Ok(Rollback { from, to, run })
}

/// The lineage record of a rollback.
fn record(dir: &Path, root: &Path, from: u64, to: u64, meta: &Value) -> Result<i64, String> {
    let artifacts = ArtifactStore::open(root).map_err(|e| e.to_string())?;
    let mut lineage = LineageStore::open(root).map_err(|e| e.to_string())?;
    let model = match meta["model_digest"].as_str() {
        Some(d) => lineage.artifact_by_digest(d).map_err(|e| e.to_string())?,
        None => None,
    };
    let pipeline = match &model {
        Some(m) => lineage.pipelines_of(m.id).map_err(|e| e.to_string())?.into_iter().next(),
        None => None,
    }
    .unwrap_or_else(|| format!("serving:{}", dir.display()));
    let doc = json!({
        "format": FORMAT,
        "dir": dir.to_string_lossy(),
        "version": to,
        "path": version_dir(dir, to).to_string_lossy(),
        "previous": from,
        "new": false,
        "rollback": true,
        "model_digest": meta["model_digest"],
        "transform_digest": meta["transform_digest"],
    });
    let mut properties = BTreeMap::new();
    properties.insert("version".to_string(), json!(to));
    properties.insert("dir".to_string(), json!(dir.to_string_lossy()));
    properties.insert("rollback_from".to_string(), json!(from));
    if let Some(d) = meta["model_digest"].as_str() {
        properties.insert("model".to_string(), json!(d));
    }
    let mut parts = BTreeMap::new();
    parts.insert("pushed.json".to_string(), Part::Blob(doc.to_string().into_bytes().into()));
    let stored = artifacts
        .put(&ArtifactData { artifact_type: "PushedModel".into(), parts, properties })
        .map_err(|e| e.to_string())?;
    let run = lineage
        .begin_run(&pipeline, &json!({ "command": "rollback", "dir": dir.to_string_lossy(), "from": from, "to": to }))
        .map_err(|e| e.to_string())?;
    let inputs: Vec<(&str, crate::ArtifactId)> = model.iter().map(|m| ("model", m.id)).collect();
    let params = json!({ "dir": dir.to_string_lossy(), "from": from, "to": to }).to_string();
    let spec = ExecutionSpec {
        step: "rollback",
        component: "mlp rollback",
        component_digest: "",
        parameters: &params,
        cache_key: None,
        attempt: 1,
        inputs: &inputs,
    };
    let exec = lineage.start_execution(run, &spec).map_err(|e| e.to_string())?;
    lineage.complete_execution(exec, &[("pushed", &stored)]).map_err(|e| e.to_string())?;
    lineage.finish_run(run, RunState::Complete).map_err(|e| e.to_string())?;
    Ok(run.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(dir: &Path, n: u64, model: &str) {
        let v = version_dir(dir, n);
        std::fs::create_dir_all(&v).unwrap();
        for f in ["model.json", "weights.safetensors", "transform.json"] {
            std::fs::write(v.join(f), b"{}").unwrap();
        }
        let meta = json!({ "format": FORMAT, "version": n, "model_digest": model, "transform_digest": "t" });
        std::fs::write(v.join("version.json"), meta.to_string()).unwrap();
    }

    #[test]
    fn rollback_goes_to_the_newest_complete_older_version() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert!(matches!(rollback(d, None), Err(ServingError::NothingPushed(_))));
        version(d, 1, "a");
        version(d, 2, "b");
        version(d, 3, "c");
        // Version 2 is half-written: no weights.
        std::fs::remove_file(version_dir(d, 2).join("weights.safetensors")).unwrap();
        set_current(d, 3).unwrap();
        assert_eq!(versions(d).unwrap(), [1, 2, 3]);
        let r = rollback(d, None).unwrap();
        assert_eq!((r.from, r.to, r.run), (3, 1, None));
        assert_eq!(current(d), Some(1));
        assert!(!d.join("CURRENT.tmp").exists());
        let err = rollback(d, None).unwrap_err();
        assert!(matches!(err, ServingError::NoPrevious { current: 1, .. }), "{err}");
        assert!(err.to_string().contains("version 1 is the oldest"), "{err}");
    }

    #[test]
    fn a_version_missing_a_file_or_with_a_foreign_record_is_incomplete() {
        let dir = tempfile::tempdir().unwrap();
        version(dir.path(), 4, "a");
        assert_eq!(read_version(dir.path(), 4).unwrap()["model_digest"], "a");
        std::fs::write(version_dir(dir.path(), 4).join("version.json"), r#"{"format": "other", "version": 4}"#)
            .unwrap();
        let err = read_version(dir.path(), 4).unwrap_err();
        assert!(err.to_string().contains("not a `mlp.pushed` record"), "{err}");
        std::fs::remove_file(version_dir(dir.path(), 4).join("transform.json")).unwrap();
        assert!(read_version(dir.path(), 4).unwrap_err().to_string().contains("`transform.json` is missing"));
    }

    #[test]
    fn a_rollback_with_a_store_is_a_run_with_a_pushed_model() {
        let dir = tempfile::tempdir().unwrap();
        let serving = dir.path().join("serving");
        let store = dir.path().join(".mlp");
        version(&serving, 1, "blake3:none");
        version(&serving, 2, "blake3:none2");
        set_current(&serving, 2).unwrap();
        let r = rollback(&serving, Some(&store)).unwrap();
        assert_eq!((r.from, r.to), (2, 1));
        let lineage = LineageStore::open(&store).unwrap();
        let run = lineage.run(crate::RunId(r.run.unwrap())).unwrap();
        assert_eq!(run.executions.len(), 1);
        let pushed: Vec<_> =
            lineage.artifacts(None).unwrap().into_iter().filter(|a| a.artifact_type == "PushedModel").collect();
        assert_eq!(pushed.len(), 1);
        assert_eq!(pushed[0].properties["version"], 1);
        assert_eq!(pushed[0].properties["rollback_from"], 2);
    }
}
