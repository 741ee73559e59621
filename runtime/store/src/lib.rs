//! `mlp-store`: where runs leave their results. The storage layer under the executor.
//!
//! A store is one folder (by default `.mlp/` beside the pipeline file; see [`default_root`])
//! holding two stores that are used together:
//!
//! - [`artifacts`]: immutable, content-addressed artifact folders (`artifacts/<hex[..2]>/<hex>/`),
//!   tables as Arrow IPC files, blobs as raw files, each described by a `manifest.json`, written
//!   atomically (temporary folder, fsync, rename);
//! - [`lineage`]: the ML Metadata record in SQLite (`lineage.db`): runs, executions, their input
//!   and output events, caching lookups, resolvers and lineage queries.
//!
//! [`digest`] defines the artifact digest both are keyed by, and [`doctor`](mod@doctor) checks the two
//! against each other and repairs what it safely can.
//!
//! Neither store knows about wasmtime, the IR or async runtimes: the executor drives them. The
//! order that keeps them consistent through crashes: `ArtifactStore::put` (durable on return),
//! then `LineageStore::complete_execution`. A crash in between leaves an unreferenced artifact
//! folder, which is harmless and reported by the doctor for information.

#![warn(missing_docs)]

pub mod artifacts;
pub mod digest;
pub mod doctor;
pub mod lineage;
pub mod serving;

pub use artifacts::{ArtifactError, ArtifactStore, ExportFormat, StoredArtifact};
pub use digest::artifact_digest;
pub use doctor::{DoctorOptions, Report, doctor};
pub use lineage::{ArtifactId, ExecutionId, LineageError, LineageStore, RunId};

use std::path::{Path, PathBuf};

/// The name of the store folder beside a pipeline.
pub const DEFAULT_DIR: &str = ".mlp";

/// The default store root for the pipeline file `pipeline`: `.mlp/` in its folder.
pub fn default_root(pipeline: &Path) -> PathBuf {
    pipeline.parent().unwrap_or(Path::new(".")).join(DEFAULT_DIR)
}

/// Why opening a [`Store`] failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The artifact store could not be opened.
    #[error(transparent)]
    Artifacts(#[from] ArtifactError),
    /// The lineage store could not be opened.
    #[error(transparent)]
    Lineage(#[from] LineageError),
}

/// Both stores of one root, opened together.
#[derive(Debug)]
pub struct Store {
    /// The artifact folders.
    pub artifacts: ArtifactStore,
    /// The lineage database.
    pub lineage: LineageStore,
}

impl Store {
    /// Opens (creating when missing) the store at `root`.
    pub fn open(root: impl AsRef<Path>) -> Result<Store, StoreError> {
        let artifacts = ArtifactStore::open(root.as_ref())?;
        let lineage = LineageStore::open(root.as_ref())?;
        Ok(Store { artifacts, lineage })
    }

    /// The store root.
    pub fn root(&self) -> &Path {
        self.artifacts.root()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_root_is_beside_the_pipeline() {
        assert_eq!(default_root(Path::new("/p/taxi/pipeline.mlp")), PathBuf::from("/p/taxi/.mlp"));
        assert_eq!(default_root(Path::new("pipeline.mlp")), PathBuf::from(".mlp"));
    }

    #[test]
    fn opening_a_missing_store_creates_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("deep/er/.mlp");
        let store = Store::open(&root).unwrap();
        assert!(root.join("artifacts").is_dir());
        assert!(root.join("tmp").is_dir());
        assert!(root.join("lineage.db").is_file());
        assert_eq!(std::fs::read_to_string(root.join(".gitignore")).unwrap().lines().last(), Some("*"));
        assert_eq!(store.root(), root);
        assert_eq!(store.lineage.schema_version().unwrap(), lineage::SCHEMA_VERSION);
    }
}

#[cfg(test)]
pub(crate) mod testutil;
