//! The serving directory: the numbered versions the `push` step writes and the server reads.
//!
//! ```text
//! DIR/versions/N/                  N = 1, 2, ... (decimal, no leading zeros)
//!     model.json                   the Model artifact's two parts
//!     weights.safetensors
//!     transform.json               the TransformGraph JSON (`graph.json` of the transform step)
//!     version.json                 {"format": "mlp.pushed", "version": N, "model_digest": ...,
//!                                   "transform_digest": ..., "pushed_at": RFC 3339,
//!                                   "pipeline": ..., "run": ...}
//! DIR/CURRENT                      the current version number and a newline
//! ```
//!
//! A version folder is complete when it appears: it is written as `DIR/.tmp-*/` and renamed
//! into `versions/N`, so a reader never sees half of one ([`write_version`]). `CURRENT` is
//! written to `DIR/CURRENT.tmp` and renamed over the old one ([`set_current`]), so a reader sees
//! the old number or the new one. Versions are never changed once written.

use serde::{Deserialize, Serialize};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The `format` field of every `version.json`.
pub const FORMAT: &str = "mlp.pushed";

/// The files of a complete version folder.
pub const FILES: [&str; 4] = ["model.json", "weights.safetensors", "transform.json", "version.json"];

/// What is wrong with a serving directory.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    /// A file could not be read or written.
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        /// What was being done (`read`, `write`, `rename`, ...).
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `CURRENT` does not hold a version number.
    #[error(
        "`{}` holds {text:?}, not a version number: write the number of a folder under `versions/` and a newline (as `push` does)",
        path.display()
    )]
    BadCurrent {
        /// The `CURRENT` file.
        path: PathBuf,
        /// What it holds (at most 40 characters).
        text: String,
    },
    /// The version's folder does not exist.
    #[error("version {version} does not exist in `{}` (there is no folder `versions/{version}`)", dir.display())]
    Missing {
        /// The serving directory.
        dir: PathBuf,
        /// The version.
        version: u64,
    },
    /// The version's folder exists but is not a complete, valid version.
    #[error("version {version} in `{}` is not complete: {reason}", dir.display())]
    Incomplete {
        /// The serving directory.
        dir: PathBuf,
        /// The version.
        version: u64,
        /// What is missing or wrong.
        reason: String,
    },
    /// A version is written under a number that is taken.
    #[error("version {version} already exists in `{}`: versions are never overwritten, write the next number", dir.display())]
    Exists {
        /// The serving directory.
        dir: PathBuf,
        /// The version.
        version: u64,
    },
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> LayoutError {
    let path = path.to_path_buf();
    move |source| LayoutError::Io { action, path, source }
}

/// `version.json`: what was pushed, from where.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// Always [`FORMAT`].
    pub format: String,
    /// The version number (the folder's name).
    pub version: u64,
    /// The digest of the Model artifact.
    pub model_digest: String,
    /// The digest of the TransformGraph artifact; the model's `model.json` names the same one.
    pub transform_digest: String,
    /// When it was pushed (RFC 3339).
    #[serde(default)]
    pub pushed_at: String,
    /// The pipeline that pushed it.
    #[serde(default)]
    pub pipeline: String,
    /// The run that pushed it.
    #[serde(default)]
    pub run: Option<i64>,
}

/// A version's contents.
#[derive(Clone, Debug, PartialEq)]
pub struct Version {
    /// `version.json`.
    pub info: VersionInfo,
    /// `model.json`.
    pub model_json: String,
    /// `weights.safetensors`.
    pub weights: Vec<u8>,
    /// `transform.json`.
    pub transform_json: String,
}

/// The folder of version `version`.
pub fn version_dir(dir: &Path, version: u64) -> PathBuf {
    dir.join("versions").join(version.to_string())
}

/// The version numbers under `DIR/versions`, ascending: every folder named by a number from 1
/// up without leading zeros (other names, such as leftovers of an interrupted push, are not
/// versions). Whether each is complete is [`check_version`]'s question.
pub fn versions(dir: &Path) -> Vec<u64> {
    let Ok(entries) = std::fs::read_dir(dir.join("versions")) else { return Vec::new() };
    let mut out: Vec<u64> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let n: u64 = name.parse().ok()?;
            (n > 0 && n.to_string() == name).then_some(n)
        })
        .collect();
    out.sort_unstable();
    out
}

/// The version `CURRENT` names; `None` when there is no `CURRENT` or it does not hold a number
/// ([`read_current`] says which).
pub fn current(dir: &Path) -> Option<u64> {
    read_current(dir).ok().flatten()
}

/// The version `CURRENT` names: `None` when there is no `CURRENT` (nothing pushed yet), an
/// error when it cannot be read or does not hold a version number.
pub fn read_current(dir: &Path) -> Result<Option<u64>, LayoutError> {
    let path = dir.join("CURRENT");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("read", &path)(e)),
    };
    let trimmed = text.trim();
    match trimmed.parse::<u64>() {
        Ok(n) if n > 0 && n.to_string() == trimmed => Ok(Some(n)),
        _ => Err(LayoutError::BadCurrent { path, text: text.chars().take(40).collect() }),
    }
}

/// Checks that version `version` is complete (every file of [`FILES`] is there) and that its
/// `version.json` is a valid record of it; returns that record.
pub fn check_version(dir: &Path, version: u64) -> Result<VersionInfo, LayoutError> {
    let vdir = version_dir(dir, version);
    if !vdir.is_dir() {
        return Err(LayoutError::Missing { dir: dir.to_path_buf(), version });
    }
    let incomplete = |reason: String| LayoutError::Incomplete { dir: dir.to_path_buf(), version, reason };
    for f in FILES {
        if !vdir.join(f).is_file() {
            return Err(incomplete(format!("`{f}` is missing")));
        }
    }
    let path = vdir.join("version.json");
    let text = std::fs::read_to_string(&path).map_err(io("read", &path))?;
    let info: VersionInfo =
        serde_json::from_str(&text).map_err(|e| incomplete(format!("`version.json` is not a version record: {e}")))?;
    if info.format != FORMAT {
        return Err(incomplete(format!("`version.json` has format {:?}, expected {FORMAT:?}", info.format)));
    }
    if info.version != version {
        return Err(incomplete(format!("`version.json` says version {}, but the folder is {version}", info.version)));
    }
    for (field, value) in [("model_digest", &info.model_digest), ("transform_digest", &info.transform_digest)] {
        if value.trim().is_empty() {
            return Err(incomplete(format!("`version.json` has an empty `{field}`")));
        }
    }
    Ok(info)
}

/// Reads version `version` whole, after [`check_version`].
pub fn read_version(dir: &Path, version: u64) -> Result<Version, LayoutError> {
    let info = check_version(dir, version)?;
    let vdir = version_dir(dir, version);
    let text = |name: &str| {
        let p = vdir.join(name);
        std::fs::read_to_string(&p).map_err(io("read", &p))
    };
    let weights_path = vdir.join("weights.safetensors");
    Ok(Version {
        info,
        model_json: text("model.json")?,
        weights: std::fs::read(&weights_path).map_err(io("read", &weights_path))?,
        transform_json: text("transform.json")?,
    })
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), LayoutError> {
    let mut f = std::fs::File::create(path).map_err(io("write", path))?;
    f.write_all(bytes).map_err(io("write", path))?;
    f.sync_all().map_err(io("sync", path))
}

/// Syncs a folder, so a rename in it survives a crash (best effort: not every platform can).
fn sync_dir(dir: &Path) {
    if let Ok(f) = std::fs::File::open(dir) {
        let _ = f.sync_all();
    }
}

/// Writes `version` as `versions/N` (N = `version.info.version`): every file into
/// `DIR/.tmp-N-PID-NANOS/`, synced, then one rename, so the folder appears complete or not at
/// all. Creates `DIR` and `DIR/versions` when needed; a number that is taken is an error.
/// Does not change `CURRENT` ([`set_current`] does). Returns the version's folder.
pub fn write_version(dir: &Path, version: &Version) -> Result<PathBuf, LayoutError> {
    let n = version.info.version;
    if n == 0 {
        return Err(LayoutError::Incomplete {
            dir: dir.to_path_buf(),
            version: n,
            reason: "versions are numbered from 1".into(),
        });
    }
    let root = dir.join("versions");
    std::fs::create_dir_all(&root).map_err(io("create", &root))?;
    let target = version_dir(dir, n);
    if target.exists() {
        return Err(LayoutError::Exists { dir: dir.to_path_buf(), version: n });
    }
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let tmp = dir.join(format!(".tmp-{n}-{}-{nanos}", std::process::id()));
    std::fs::create_dir(&tmp).map_err(io("create", &tmp))?;
    let info = serde_json::to_string_pretty(&version.info).unwrap_or_default() + "\n";
    let written = [
        ("model.json", version.model_json.as_bytes()),
        ("weights.safetensors", version.weights.as_slice()),
        ("transform.json", version.transform_json.as_bytes()),
        ("version.json", info.as_bytes()),
    ]
    .into_iter()
    .try_for_each(|(name, bytes)| write_synced(&tmp.join(name), bytes));
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    sync_dir(&tmp);
    if let Err(e) = std::fs::rename(&tmp, &target) {
        let _ = std::fs::remove_dir_all(&tmp);
        // Another writer took the number between the check and the rename.
        if target.exists() {
            return Err(LayoutError::Exists { dir: dir.to_path_buf(), version: n });
        }
        return Err(io("rename", &tmp)(e));
    }
    sync_dir(&root);
    Ok(target)
}

/// Makes `version` current: checks that it is complete ([`check_version`]), then writes
/// `DIR/CURRENT.tmp` (synced) and renames it over `DIR/CURRENT`. A running server loads it at
/// its next poll.
pub fn set_current(dir: &Path, version: u64) -> Result<(), LayoutError> {
    check_version(dir, version)?;
    let tmp = dir.join("CURRENT.tmp");
    write_synced(&tmp, format!("{version}\n").as_bytes())?;
    let target = dir.join("CURRENT");
    std::fs::rename(&tmp, &target).map_err(io("rename", &tmp))?;
    sync_dir(dir);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(n: u64) -> Version {
        Version {
            info: VersionInfo {
                format: FORMAT.into(),
                version: n,
                model_digest: "m".repeat(64),
                transform_digest: "t".repeat(64),
                pushed_at: "2026-01-02T03:04:05Z".into(),
                pipeline: "taxi".into(),
                run: Some(12),
            },
            model_json: "{}".into(),
            weights: vec![1, 2, 3],
            transform_json: "{\"format\": \"mlp.transform_graph\"}".into(),
        }
    }

    #[test]
    fn written_versions_read_back_and_list_in_order() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(versions(d.path()), Vec::<u64>::new());
        assert_eq!(current(d.path()), None);
        for n in [2, 10, 1] {
            write_version(d.path(), &version(n)).unwrap();
        }
        // Not versions: a leftover of an interrupted push, a padded name, a file.
        std::fs::create_dir(d.path().join("versions/007")).unwrap();
        std::fs::create_dir(d.path().join(".tmp-3-1-1")).unwrap();
        std::fs::write(d.path().join("versions/4"), "x").unwrap();
        assert_eq!(versions(d.path()), vec![1, 2, 10]);
        let back = read_version(d.path(), 10).unwrap();
        assert_eq!(back, version(10));
        // No temporary folder is left behind by a write.
        let tmp: Vec<String> = std::fs::read_dir(d.path())
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with(".tmp-") && n != ".tmp-3-1-1")
            .collect();
        assert_eq!(tmp, Vec::<String>::new());
        assert!(matches!(write_version(d.path(), &version(2)), Err(LayoutError::Exists { version: 2, .. })));
    }

    #[test]
    fn current_is_set_atomically_and_only_to_complete_versions() {
        let d = tempfile::tempdir().unwrap();
        write_version(d.path(), &version(1)).unwrap();
        set_current(d.path(), 1).unwrap();
        assert_eq!(std::fs::read_to_string(d.path().join("CURRENT")).unwrap(), "1\n");
        assert_eq!(current(d.path()), Some(1));
        assert!(!d.path().join("CURRENT.tmp").exists());

        let e = set_current(d.path(), 5).unwrap_err();
        assert!(matches!(e, LayoutError::Missing { version: 5, .. }), "{e}");
        assert!(e.to_string().contains("no folder `versions/5`"), "{e}");

        // A folder without its weights is not a version to switch to.
        write_version(d.path(), &version(2)).unwrap();
        std::fs::remove_file(version_dir(d.path(), 2).join("weights.safetensors")).unwrap();
        let e = set_current(d.path(), 2).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("version 2 in `{}` is not complete: `weights.safetensors` is missing", d.path().display())
        );
        assert_eq!(current(d.path()), Some(1));
    }

    #[test]
    fn bad_current_and_bad_records_are_named() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("CURRENT"), "latest\n").unwrap();
        let e = read_current(d.path()).unwrap_err();
        assert!(e.to_string().contains("holds \"latest\\n\", not a version number"), "{e}");
        assert_eq!(current(d.path()), None);
        std::fs::write(d.path().join("CURRENT"), " 3 \n").unwrap();
        assert_eq!(read_current(d.path()).unwrap(), Some(3));
        std::fs::write(d.path().join("CURRENT"), "03\n").unwrap();
        assert!(read_current(d.path()).is_err());

        let mut v = version(4);
        v.info.version = 4;
        write_version(d.path(), &v).unwrap();
        std::fs::write(version_dir(d.path(), 4).join("version.json"), r#"{"format": "mlp.pushed", "version": 5}"#)
            .unwrap();
        let e = check_version(d.path(), 4).unwrap_err();
        assert!(e.to_string().contains("`version.json` is not a version record: missing field `model_digest`"), "{e}");
        std::fs::write(
            version_dir(d.path(), 4).join("version.json"),
            r#"{"format": "mlp.pushed", "version": 5, "model_digest": "a", "transform_digest": "b"}"#,
        )
        .unwrap();
        let e = check_version(d.path(), 4).unwrap_err();
        assert!(e.to_string().ends_with("`version.json` says version 5, but the folder is 4"), "{e}");
    }
}
