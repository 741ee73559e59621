//! The artifact store: immutable, content-addressed artifact folders on disk.
//!
//! It sits under the executor: every artifact a step produces is written here once, named by its
//! [digest](crate::digest), and read back by later steps, later runs (caching, resume) and by
//! users (`mlp artifacts export`). The lineage store ([`crate::lineage`]) records which
//! execution produced and consumed each one; this module knows nothing of runs.
//!
//! # Layout
//!
//! ```text
//! <root>/                            the store root (`.mlp/` beside a pipeline by default)
//!   artifacts/<hex[..2]>/<hex>/      one folder per artifact, <hex> = its BLAKE3 digest
//!     manifest.json                  type, properties, and each part's file, size and BLAKE3
//!     train.arrow                    a table part: Arrow IPC *file* format
//!     model.bin                      a blob part: the bytes as they are
//!   tmp/put-<pid>-<nanos>-<n>/       artifacts being written (leftovers after a crash)
//!   quarantine/<hex>-<nanos>/        damaged folders moved aside by `doctor --fix`
//! ```
//!
//! Tables are stored as Arrow IPC files (`.arrow`), which pyarrow, polars and duckdb open
//! directly and which are read back zero-copy. A table whose batches use different dictionaries
//! for one column cannot be an IPC *file* (the format allows one dictionary per column), so such a
//! table is stored as an IPC *stream* (`.arrows`) instead; the manifest says which.
//!
//! # Atomicity
//!
//! An artifact is written into a fresh `tmp/` folder, every file and the folder are fsynced,
//! and the folder is renamed into place, then the parent is fsynced. A crash at any point leaves
//! either no artifact folder or a complete one; what is left in `tmp/` is garbage that
//! [`crate::doctor`](mod@crate::doctor) reports and removes. Writing an artifact that is already stored does
//! nothing. Reading checks each part's size and BLAKE3 against the manifest, so a torn or
//! tampered file is an error, never data.

use crate::digest::{artifact_digest, digest_hex};
use arrow_array::RecordBatch;
use arrow_buffer::Buffer;
use arrow_ipc::reader::{FileDecoder, read_footer_length};
use arrow_ipc::writer::{FileWriter, StreamWriter};
use arrow_schema::{ArrowError, SchemaRef};
use mlp_kernels::data::{ArtifactData, Part, Table};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The file in each artifact folder that describes it.
pub const MANIFEST: &str = "manifest.json";
/// The version of the manifest format this code writes and reads.
pub const MANIFEST_FORMAT: u32 = 1;
/// The longest part name accepted, in bytes.
pub const MAX_PART_NAME: usize = 200;

/// Why an artifact store operation failed. Every message names the artifact, part or file and
/// says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// A file system operation failed.
    #[error(
        "cannot {action} {path}: {source}; check that the store folder exists, is writable and the disk is not full"
    )]
    Io {
        /// What was being done, such as `create the folder`.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The string is not a `blake3:HEX` digest.
    #[error(
        "`{digest}` is not an artifact digest; a digest is `blake3:` followed by 64 lowercase hex digits, as `mlp artifacts list` prints"
    )]
    BadDigest {
        /// What was given.
        digest: String,
    },
    /// No artifact with this digest is stored.
    #[error(
        "artifact {digest} is not in the store {root}; check the store folder, or run the step that produces it again"
    )]
    NotFound {
        /// The digest.
        digest: String,
        /// The store root.
        root: PathBuf,
    },
    /// A part name a plugin gave is not a safe file name.
    #[error(
        "part `{name}` of a {artifact_type} artifact has an invalid name: {reason}; part names use letters, digits, `_`, `-` and `.` (no `..`, at most 200 bytes): rename the part in the plugin"
    )]
    BadPartName {
        /// The name (escaped for display).
        name: String,
        /// The artifact's type.
        artifact_type: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A manifest is missing, unreadable or inconsistent.
    #[error(
        "the manifest {path} is damaged: {reason}; run `mlp doctor --fix` (it moves the folder to quarantine/ and marks the artifact deleted), then run the producing step again"
    )]
    BadManifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A part file does not match its manifest entry.
    #[error(
        "part `{part}` of artifact {digest} is damaged ({path}): {reason}; run `mlp doctor --fix` (it moves the folder to quarantine/ and marks the artifact deleted), then run the producing step again"
    )]
    CorruptPart {
        /// The artifact.
        digest: String,
        /// The part name.
        part: String,
        /// The part file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A table could not be encoded.
    #[error(
        "cannot write part `{part}` of a {artifact_type} artifact as Arrow IPC: {source}; the table is malformed: check the plugin that produced it"
    )]
    Encode {
        /// The part name.
        part: String,
        /// The artifact's type.
        artifact_type: String,
        /// The cause.
        source: ArrowError,
    },
    /// A part could not be exported in the requested format.
    #[error("cannot export part `{part}` of artifact {digest} as {format} to {path}: {reason}")]
    Export {
        /// The artifact.
        digest: String,
        /// The part name.
        part: String,
        /// The requested format.
        format: ExportFormat,
        /// The destination file.
        path: PathBuf,
        /// The cause and what to do.
        reason: String,
    },
}

type Result<T, E = ArtifactError> = std::result::Result<T, E>;

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> ArtifactError + 'a {
    move |source| ArtifactError::Io { action, path: path.to_path_buf(), source }
}

/// The kind of a part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PartKind {
    /// An Arrow table.
    Table,
    /// Raw bytes.
    Blob,
}

/// How a part's file is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    /// Arrow IPC file format (`.arrow`), the usual encoding of a table.
    ArrowFile,
    /// Arrow IPC stream format (`.arrows`), for a table whose batches replace a dictionary.
    ArrowStream,
    /// The bytes as they are (blobs).
    Raw,
}

/// One part as the manifest records it; also the parts summary of a [`StoredArtifact`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartEntry {
    /// Table or blob.
    pub kind: PartKind,
    /// The file's name inside the artifact folder.
    pub file: String,
    /// How the file is encoded.
    pub encoding: Encoding,
    /// Number of rows (tables only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// Size of the file in bytes.
    pub bytes: u64,
    /// BLAKE3 of the file, 64 hex digits.
    pub blake3: String,
}

/// The content of `manifest.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The manifest format version ([`MANIFEST_FORMAT`]).
    pub format: u32,
    /// The artifact's digest (`blake3:HEX`), equal to its folder name.
    pub digest: String,
    /// The artifact type, such as `Examples`.
    pub artifact_type: String,
    /// The artifact's properties.
    pub properties: BTreeMap<String, serde_json::Value>,
    /// The parts by name.
    pub parts: BTreeMap<String, PartEntry>,
}

impl Manifest {
    /// Total size of the part files in bytes.
    pub fn bytes(&self) -> u64 {
        self.parts.values().map(|p| p.bytes).sum()
    }
}

/// An artifact in the store, as [`ArtifactStore::put`] returns it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoredArtifact {
    /// Its digest, `blake3:HEX`.
    pub digest: String,
    /// Its folder, relative to the store root (`artifacts/ab/ab12…`): the URI the lineage store
    /// records, so a store folder can be moved.
    pub uri: String,
    /// Its folder as a full path.
    pub path: PathBuf,
    /// Its artifact type.
    pub artifact_type: String,
    /// Its properties.
    pub properties: BTreeMap<String, serde_json::Value>,
    /// Its parts: kind, file, rows and size.
    pub parts: BTreeMap<String, PartEntry>,
    /// Whether this call wrote it (`false`: it was already stored).
    pub newly_written: bool,
}

impl StoredArtifact {
    /// Total size of the part files in bytes.
    pub fn bytes(&self) -> u64 {
        self.parts.values().map(|p| p.bytes).sum()
    }
}

/// One line of [`ArtifactStore::list`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ArtifactSummary {
    /// Its digest.
    pub digest: String,
    /// Its artifact type.
    pub artifact_type: String,
    /// Total size of its part files in bytes.
    pub bytes: u64,
    /// Number of parts.
    pub parts: usize,
}

/// A folder left in `tmp/` by a write that has not finished (or never will).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TmpEntry {
    /// The folder (or file).
    pub path: PathBuf,
    /// The process that was writing it, when the name says.
    pub pid: Option<u32>,
    /// Whether that process is still running: `None` when this cannot be known (no `/proc`, or
    /// a name this code did not make).
    pub owner_alive: Option<bool>,
}

/// What is under `artifacts/`: well-formed artifact folders and everything else.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scan {
    /// Digests of the artifact folders (whether or not their content is sound).
    pub digests: Vec<String>,
    /// Paths under `artifacts/` that are not `<hex[..2]>/<hex>/` folders.
    pub strays: Vec<PathBuf>,
}

/// A format for [`ArtifactStore::export`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// Apache Parquet, snappy-compressed (`.parquet`).
    Parquet,
    /// CSV with a header row (`.csv`); flat columns only.
    Csv,
    /// Arrow IPC, the stored file as it is (`.arrow`, or `.arrows` for a stream).
    Ipc,
}

impl fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExportFormat::Parquet => "parquet",
            ExportFormat::Csv => "csv",
            ExportFormat::Ipc => "ipc",
        })
    }
}

impl FromStr for ExportFormat {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "parquet" => Ok(ExportFormat::Parquet),
            "csv" => Ok(ExportFormat::Csv),
            "ipc" | "arrow" | "feather" => Ok(ExportFormat::Ipc),
            _ => Err(format!("unknown export format `{s}`; use parquet, csv or ipc")),
        }
    }
}

/// Checks a part name: ASCII letters, digits, `_`, `-` and `.`, not empty, not `.`, no `..`,
/// at most [`MAX_PART_NAME`] bytes. Such a name is a plain file name on every platform, so it
/// can never leave the artifact folder.
pub fn check_part_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("it is empty".into());
    }
    if name.len() > MAX_PART_NAME {
        return Err(format!("it is {} bytes long", name.len()));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))) {
        return Err(format!("it contains {c:?}"));
    }
    if name == "." || name.contains("..") {
        return Err("it contains `..` or is `.`".into());
    }
    Ok(())
}

/// The content-addressed artifact store under one root folder. Cheap to clone; any number of
/// stores (in any number of processes) may use one root at once.
#[derive(Clone, Debug)]
pub struct ArtifactStore {
    root: PathBuf,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl ArtifactStore {
    /// Opens the store at `root`, creating `root`, `artifacts/` and `tmp/` when missing. A new
    /// root gets a `.gitignore` of `*`, so a store beside a pipeline stays out of version control.
    pub fn open(root: impl AsRef<Path>) -> Result<ArtifactStore> {
        let root = root.as_ref().to_path_buf();
        let fresh = !root.exists();
        for dir in [root.clone(), root.join("artifacts"), root.join("tmp")] {
            fs::create_dir_all(&dir).map_err(io_err("create the folder", &dir))?;
        }
        if fresh {
            let ignore = root.join(".gitignore");
            fs::write(&ignore, "# The mlp run store: artifacts and lineage.\n*\n").map_err(io_err("write", &ignore))?;
        }
        Ok(ArtifactStore { root })
    }

    /// The store root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The URI of an artifact folder, relative to the root: `artifacts/<hex[..2]>/<hex>`.
    pub fn uri_of(&self, digest: &str) -> Result<String> {
        let hex = self.hex(digest)?;
        Ok(format!("artifacts/{}/{hex}", &hex[..2]))
    }

    /// The folder of the artifact with `digest` (which may not exist).
    pub fn path_of(&self, digest: &str) -> Result<PathBuf> {
        let hex = self.hex(digest)?;
        Ok(self.root.join("artifacts").join(&hex[..2]).join(hex))
    }

    fn hex<'a>(&self, digest: &'a str) -> Result<&'a str> {
        digest_hex(digest).ok_or_else(|| ArtifactError::BadDigest { digest: digest.into() })
    }

    /// Whether an artifact with `digest` is stored (its folder and manifest exist; nothing is
    /// verified). A malformed digest is simply not stored.
    pub fn contains(&self, digest: &str) -> bool {
        self.path_of(digest).is_ok_and(|p| p.join(MANIFEST).is_file())
    }

    /// Stores `data` and returns where. Idempotent: storing equal content again writes nothing
    /// and returns the stored artifact. Atomic: see the module documentation.
    pub fn put(&self, data: &ArtifactData) -> Result<StoredArtifact> {
        for name in data.parts.keys() {
            check_part_name(name).map_err(|reason| ArtifactError::BadPartName {
                name: name.escape_debug().to_string(),
                artifact_type: data.artifact_type.clone(),
                reason,
            })?;
        }
        let digest = artifact_digest(data);
        let dir = self.path_of(&digest)?;
        if dir.join(MANIFEST).is_file() {
            return self.stored(&digest, false);
        }
        let tmp = TmpDir::create(&self.root.join("tmp"))?;
        let manifest = write_parts(&tmp.path, &digest, data)?;
        let manifest_path = tmp.path.join(MANIFEST);
        let json = serde_json::to_vec_pretty(&manifest).expect("a manifest always serializes");
        write_file_synced(&manifest_path, &json)?;
        sync_dir(&tmp.path)?;

        let shard = dir.parent().expect("an artifact folder has a parent");
        if !shard.is_dir() {
            fs::create_dir_all(shard).map_err(io_err("create the folder", shard))?;
            sync_dir(&self.root.join("artifacts"))?;
        }
        match fs::rename(&tmp.path, &dir) {
            Ok(()) => {
                tmp.disarm();
                sync_dir(shard)?;
                Ok(self.stored_from(manifest, true))
            }
            // Another writer stored the same content first: ours is not needed.
            Err(_) if dir.join(MANIFEST).is_file() => self.stored(&digest, false),
            Err(e) => Err(ArtifactError::Io { action: "move the new artifact folder to", path: dir, source: e }),
        }
    }

    fn stored(&self, digest: &str, newly_written: bool) -> Result<StoredArtifact> {
        let manifest = self.manifest(digest)?;
        Ok(self.stored_from(manifest, newly_written))
    }

    fn stored_from(&self, m: Manifest, newly_written: bool) -> StoredArtifact {
        let uri = self.uri_of(&m.digest).expect("a manifest's digest was checked");
        StoredArtifact {
            path: self.root.join(&uri),
            uri,
            digest: m.digest,
            artifact_type: m.artifact_type,
            properties: m.properties,
            parts: m.parts,
            newly_written,
        }
    }

    /// The manifest of the stored artifact with `digest`, checked for consistency (format,
    /// digest, part and file names).
    pub fn manifest(&self, digest: &str) -> Result<Manifest> {
        let dir = self.path_of(digest)?;
        let path = dir.join(MANIFEST);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(if dir.is_dir() {
                    ArtifactError::BadManifest { path, reason: "the file is missing".into() }
                } else {
                    ArtifactError::NotFound { digest: digest.into(), root: self.root.clone() }
                });
            }
            Err(e) => return Err(ArtifactError::Io { action: "read", path, source: e }),
        };
        let bad = |reason: String| ArtifactError::BadManifest { path: path.clone(), reason };
        let m: Manifest =
            serde_json::from_slice(&bytes).map_err(|e| bad(format!("it is not a valid manifest ({e})")))?;
        if m.format > MANIFEST_FORMAT {
            return Err(bad(format!(
                "it has format {}, and this mlp reads up to {MANIFEST_FORMAT}; upgrade mlp",
                m.format
            )));
        }
        if m.digest != digest {
            return Err(bad(format!("it describes {}, not {digest}", m.digest)));
        }
        let mut files = BTreeSet::new();
        for (name, p) in &m.parts {
            check_part_name(name).map_err(|r| bad(format!("part name `{}`: {r}", name.escape_debug())))?;
            check_part_name(&p.file).map_err(|r| bad(format!("file name `{}`: {r}", p.file.escape_debug())))?;
            if p.file.eq_ignore_ascii_case(MANIFEST) || !files.insert(p.file.to_ascii_lowercase()) {
                return Err(bad(format!("file `{}` is named twice", p.file)));
            }
            let consistent = match p.kind {
                PartKind::Table => p.encoding != Encoding::Raw && p.rows.is_some(),
                PartKind::Blob => p.encoding == Encoding::Raw,
            };
            if !consistent || digest_hex(&format!("blake3:{}", p.blake3)).is_none() {
                return Err(bad(format!("the entry of part `{name}` is inconsistent")));
            }
        }
        Ok(m)
    }

    /// Reads the artifact with `digest` back. Every part file is checked against the manifest
    /// (size and BLAKE3) before it is decoded; tables are decoded without copying their buffers.
    pub fn get(&self, digest: &str) -> Result<ArtifactData> {
        let m = self.manifest(digest)?;
        let dir = self.path_of(digest)?;
        let mut parts = BTreeMap::new();
        for (name, entry) in &m.parts {
            let path = dir.join(&entry.file);
            let bytes = read_checked(&path, digest, name, entry)?;
            let corrupt = |reason: String| ArtifactError::CorruptPart {
                digest: digest.into(),
                part: name.clone(),
                path: path.clone(),
                reason,
            };
            let part = match entry.encoding {
                Encoding::Raw => Part::Blob(Arc::from(bytes)),
                Encoding::ArrowFile => Part::Table(decode_ipc_file(bytes).map_err(corrupt)?),
                Encoding::ArrowStream => {
                    Part::Table(mlp_kernels::from_ipc(&bytes).map_err(|e| corrupt(e.to_string()))?)
                }
            };
            parts.insert(name.clone(), part);
        }
        Ok(ArtifactData { artifact_type: m.artifact_type, parts, properties: m.properties })
    }

    /// Checks the stored artifact with `digest`: its manifest is sound and every part file has
    /// the size and BLAKE3 the manifest records. Reads every byte; decodes nothing.
    pub fn verify(&self, digest: &str) -> Result<()> {
        let m = self.manifest(digest)?;
        let dir = self.path_of(digest)?;
        for (name, entry) in &m.parts {
            read_checked(&dir.join(&entry.file), digest, name, entry)?;
        }
        Ok(())
    }

    /// [`verify`](Self::verify), then decodes the artifact and recomputes its digest, which
    /// also catches a manifest edited by hand (a changed property).
    pub fn verify_content(&self, digest: &str) -> Result<()> {
        let data = self.get(digest)?;
        let actual = artifact_digest(&data);
        if actual != digest {
            let path = self.path_of(digest)?.join(MANIFEST);
            return Err(ArtifactError::BadManifest {
                path,
                reason: format!("the content's digest is {actual}, not the folder's {digest}"),
            });
        }
        Ok(())
    }

    /// Every artifact folder and stray entry under `artifacts/`, without reading manifests.
    pub fn scan(&self) -> Result<Scan> {
        let mut scan = Scan::default();
        let base = self.root.join("artifacts");
        for shard in read_dir_sorted(&base)? {
            let shard_name = shard.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
            if !shard.is_dir() || shard_name.len() != 2 {
                scan.strays.push(shard);
                continue;
            }
            for entry in read_dir_sorted(&shard)? {
                let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or("");
                let digest = format!("blake3:{name}");
                if entry.is_dir() && digest_hex(&digest).is_some() && name.starts_with(&shard_name) {
                    scan.digests.push(digest);
                } else {
                    scan.strays.push(entry);
                }
            }
        }
        Ok(scan)
    }

    /// Every stored artifact: digest, type and size, in digest order. A damaged manifest is an
    /// error naming it.
    pub fn list(&self) -> Result<Vec<ArtifactSummary>> {
        self.scan()?
            .digests
            .into_iter()
            .map(|digest| {
                let m = self.manifest(&digest)?;
                Ok(ArtifactSummary { bytes: m.bytes(), parts: m.parts.len(), artifact_type: m.artifact_type, digest })
            })
            .collect()
    }

    /// Everything in `tmp/`: writes in progress and leftovers of writes that died.
    pub fn tmp_entries(&self) -> Result<Vec<TmpEntry>> {
        Ok(read_dir_sorted(&self.root.join("tmp"))?
            .into_iter()
            .map(|path| {
                let pid = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_prefix("put-"))
                    .and_then(|n| n.split('-').next())
                    .and_then(|p| p.parse::<u32>().ok());
                TmpEntry { owner_alive: pid.and_then(process_alive), pid, path }
            })
            .collect())
    }

    /// Removes one entry of `tmp/` (as [`tmp_entries`](Self::tmp_entries) lists it). Never
    /// touches anything outside `tmp/`.
    pub fn remove_tmp(&self, entry: &TmpEntry) -> Result<()> {
        let tmp = self.root.join("tmp");
        if entry.path.parent() != Some(tmp.as_path()) {
            return Err(ArtifactError::Io {
                action: "remove (it is not in tmp/)",
                path: entry.path.clone(),
                source: io::Error::from(io::ErrorKind::InvalidInput),
            });
        }
        let r = if entry.path.is_dir() { fs::remove_dir_all(&entry.path) } else { fs::remove_file(&entry.path) };
        match r {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err("remove", &entry.path)(e)),
            _ => Ok(()),
        }
    }

    /// Moves the folder of the artifact with `digest` to `quarantine/`, out of the store's
    /// sight, and returns its new path. For damaged artifacts: nothing is deleted.
    pub fn quarantine(&self, digest: &str) -> Result<PathBuf> {
        let from = self.path_of(digest)?;
        let dir = self.root.join("quarantine");
        fs::create_dir_all(&dir).map_err(io_err("create the folder", &dir))?;
        let to = dir.join(format!("{}-{}", self.hex(digest)?, unique_suffix()));
        fs::rename(&from, &to).map_err(io_err("move to quarantine/", &from))?;
        Ok(to)
    }

    /// Writes each part of the artifact with `digest` into `dest` (created when missing): tables
    /// in `format` as `<part>.parquet`, `<part>.csv` or `<part>.arrow`, blobs as `<part>` with
    /// their bytes. Existing files of those names are replaced. Returns the files written.
    pub fn export(&self, digest: &str, dest: &Path, format: ExportFormat) -> Result<Vec<PathBuf>> {
        let m = self.manifest(digest)?;
        let data = self.get(digest)?;
        fs::create_dir_all(dest).map_err(io_err("create the folder", dest))?;
        let mut written = Vec::new();
        for (name, part) in &data.parts {
            let entry = &m.parts[name];
            let file = match (part, format) {
                (Part::Blob(_), _) => name.clone(),
                (Part::Table(_), ExportFormat::Parquet) => format!("{name}.parquet"),
                (Part::Table(_), ExportFormat::Csv) => format!("{name}.csv"),
                (Part::Table(_), ExportFormat::Ipc) if entry.encoding == Encoding::ArrowStream => {
                    format!("{name}.arrows")
                }
                (Part::Table(_), ExportFormat::Ipc) => format!("{name}.arrow"),
            };
            let path = dest.join(&file);
            let partial = dest.join(format!(".{file}.partial-{}", unique_suffix()));
            let export_err = |reason: String| ArtifactError::Export {
                digest: digest.into(),
                part: name.clone(),
                format,
                path: path.clone(),
                reason,
            };
            let result = match part {
                Part::Blob(b) => fs::write(&partial, b).map_err(|e| export_err(e.to_string())),
                Part::Table(_) if format == ExportFormat::Ipc => {
                    let stored = self.path_of(digest)?.join(&entry.file);
                    fs::copy(&stored, &partial).map(|_| ()).map_err(|e| export_err(e.to_string()))
                }
                Part::Table(t) => write_export(&partial, t, format).map_err(export_err),
            };
            let result = result.and_then(|()| fs::rename(&partial, &path).map_err(|e| export_err(e.to_string())));
            if let Err(e) = result {
                let _ = fs::remove_file(&partial);
                return Err(e);
            }
            written.push(path);
        }
        Ok(written)
    }
}

/// A table written as Parquet or CSV; the message says what to do on failure.
fn write_export(path: &Path, table: &Table, format: ExportFormat) -> std::result::Result<(), String> {
    let file = File::create(path).map_err(|e| e.to_string())?;
    match format {
        ExportFormat::Parquet => {
            use parquet::arrow::ArrowWriter;
            use parquet::basic::Compression;
            use parquet::file::properties::WriterProperties;
            let props = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
            let mut w = ArrowWriter::try_new(BufWriter::new(file), table.schema().clone(), Some(props))
                .map_err(|e| format!("{e}; this column type may have no Parquet equivalent: export as ipc"))?;
            for b in table.batches() {
                w.write(b).map_err(|e| e.to_string())?;
            }
            w.close().map_err(|e| e.to_string())?;
        }
        ExportFormat::Csv => {
            let mut w = arrow_csv::WriterBuilder::new().with_header(true).build(BufWriter::new(file));
            for b in table.batches() {
                w.write(b).map_err(|e| format!("{e}; CSV holds flat columns only: export as parquet or ipc"))?;
            }
            if table.batches().is_empty() {
                // arrow-csv writes the header with the first batch; an empty table still gets one.
                let empty = RecordBatch::new_empty(table.schema().clone());
                w.write(&empty).map_err(|e| e.to_string())?;
            }
            w.into_inner().flush().map_err(|e| e.to_string())?;
        }
        ExportFormat::Ipc => unreachable!("IPC exports copy the stored file"),
    }
    Ok(())
}

/// A folder in `tmp/`, removed on drop unless [`disarm`](TmpDir::disarm)ed (after a successful
/// rename). A crash skips the drop, which is why `doctor` looks in `tmp/`.
struct TmpDir {
    path: PathBuf,
    armed: bool,
}

impl TmpDir {
    fn create(tmp: &Path) -> Result<TmpDir> {
        fs::create_dir_all(tmp).map_err(io_err("create the folder", tmp))?;
        let path = tmp.join(format!("put-{}-{}", std::process::id(), unique_suffix()));
        fs::create_dir(&path).map_err(io_err("create the folder", &path))?;
        Ok(TmpDir { path, armed: true })
    }

    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

fn unique_suffix() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{nanos}-{}", TMP_COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Whether process `pid` runs on this machine: `None` where this cannot be told (no `/proc`).
/// A zombie (dead, not yet reaped) counts as dead.
pub(crate) fn process_alive(pid: u32) -> Option<bool> {
    if !Path::new("/proc/self").exists() {
        return None;
    }
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the first field after the command, which is in parentheses.
        Ok(stat) => Some(stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()) != Some("Z")),
        Err(_) => Some(false),
    }
}

/// Chooses a file name for each part: `<name>` for blobs, `<name>.arrow` for tables (the
/// `.arrows` name is reserved too), avoiding the manifest and each other ignoring case (for
/// case-insensitive file systems). A clash gets a numbered name; the manifest records it.
fn file_stems(data: &ArtifactData) -> BTreeMap<&str, String> {
    let mut taken: BTreeSet<String> = BTreeSet::from([MANIFEST.to_string()]);
    let names = |stem: &str, table: bool| -> Vec<String> {
        if table { vec![format!("{stem}.arrow"), format!("{stem}.arrows")] } else { vec![stem.to_string()] }
    };
    let mut stems = BTreeMap::new();
    for (name, part) in &data.parts {
        let table = matches!(part, Part::Table(_));
        let mut stem = name.clone();
        let mut n = 1;
        while names(&stem, table).iter().any(|f| taken.contains(&f.to_ascii_lowercase())) {
            stem = format!("{n}_{name}");
            n += 1;
        }
        taken.extend(names(&stem, table).into_iter().map(|f| f.to_ascii_lowercase()));
        stems.insert(name.as_str(), stem);
    }
    stems
}

/// Writes every part file into `dir` and returns the manifest describing them.
fn write_parts(dir: &Path, digest: &str, data: &ArtifactData) -> Result<Manifest> {
    let stems = file_stems(data);
    let mut parts = BTreeMap::new();
    for (name, part) in &data.parts {
        let stem = &stems[name.as_str()];
        let entry = match part {
            Part::Blob(b) => {
                let path = dir.join(stem);
                write_file_synced(&path, b)?;
                PartEntry {
                    kind: PartKind::Blob,
                    file: stem.clone(),
                    encoding: Encoding::Raw,
                    rows: None,
                    bytes: b.len() as u64,
                    blake3: blake3::hash(b).to_hex().to_string(),
                }
            }
            Part::Table(t) => {
                let file = format!("{stem}.arrow");
                let (encoding, file, bytes, hash) = match write_table(&dir.join(&file), t, false) {
                    Ok((bytes, hash)) => (Encoding::ArrowFile, file, bytes, hash),
                    Err(TableWriteError::Arrow(_)) => {
                        // One dictionary per column is all an IPC file holds; a stream holds any.
                        let _ = fs::remove_file(dir.join(&file));
                        let file = format!("{stem}.arrows");
                        let (bytes, hash) = write_table(&dir.join(&file), t, true).map_err(|e| match e {
                            TableWriteError::Arrow(source) => ArtifactError::Encode {
                                part: name.clone(),
                                artifact_type: data.artifact_type.clone(),
                                source,
                            },
                            TableWriteError::Io(e) => e,
                        })?;
                        (Encoding::ArrowStream, file, bytes, hash)
                    }
                    Err(TableWriteError::Io(e)) => return Err(e),
                };
                PartEntry {
                    kind: PartKind::Table,
                    file,
                    encoding,
                    rows: Some(t.num_rows() as u64),
                    bytes,
                    blake3: hash,
                }
            }
        };
        parts.insert(name.clone(), entry);
    }
    Ok(Manifest {
        format: MANIFEST_FORMAT,
        digest: digest.to_string(),
        artifact_type: data.artifact_type.clone(),
        properties: data.properties.clone(),
        parts,
    })
}

enum TableWriteError {
    Arrow(ArrowError),
    Io(ArtifactError),
}

/// A writer that hashes and counts what passes through it.
struct Hashing<W> {
    inner: W,
    hasher: blake3::Hasher,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes `table` to a new file at `path` as an IPC file (or stream), fsynced; returns its size
/// and BLAKE3.
fn write_table(path: &Path, table: &Table, stream: bool) -> std::result::Result<(u64, String), TableWriteError> {
    let file = File::create_new(path).map_err(|e| TableWriteError::Io(io_err("create", path)(e)))?;
    let mut out = Hashing { inner: BufWriter::with_capacity(1 << 20, file), hasher: blake3::Hasher::new(), bytes: 0 };
    let arrow = |e: ArrowError| match e {
        ArrowError::IoError(_, source) => {
            TableWriteError::Io(ArtifactError::Io { action: "write", path: path.into(), source })
        }
        e => TableWriteError::Arrow(e),
    };
    if stream {
        let mut w = StreamWriter::try_new(&mut out, table.schema()).map_err(arrow)?;
        for b in table.batches() {
            w.write(b).map_err(arrow)?;
        }
        w.finish().map_err(arrow)?;
    } else {
        let mut w = FileWriter::try_new(&mut out, table.schema()).map_err(arrow)?;
        for b in table.batches() {
            w.write(b).map_err(arrow)?;
        }
        w.finish().map_err(arrow)?;
    }
    let Hashing { inner, hasher, bytes } = out;
    let io = |e| TableWriteError::Io(io_err("write", path)(e));
    let file = inner.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    Ok((bytes, hasher.finalize().to_hex().to_string()))
}

fn write_file_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = File::create_new(path).map_err(io_err("create", path))?;
    f.write_all(bytes).map_err(io_err("write", path))?;
    f.sync_all().map_err(io_err("write", path))
}

/// Makes a folder's entries durable (new files, renames into it).
fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err("sync the folder", dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("list the folder", dir)(e)),
    };
    let mut v =
        rd.map(|e| e.map(|e| e.path())).collect::<io::Result<Vec<_>>>().map_err(io_err("list the folder", dir))?;
    v.sort();
    Ok(v)
}

/// The bytes of a part file, checked against its manifest entry.
fn read_checked(path: &Path, digest: &str, part: &str, entry: &PartEntry) -> Result<Vec<u8>> {
    let corrupt = |reason: String| ArtifactError::CorruptPart {
        digest: digest.into(),
        part: part.into(),
        path: path.to_path_buf(),
        reason,
    };
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(corrupt("the file is missing".into())),
        Err(e) => return Err(io_err("read", path)(e)),
    };
    if bytes.len() as u64 != entry.bytes {
        return Err(corrupt(format!(
            "the file has {} bytes, the manifest records {} (truncated or overwritten)",
            bytes.len(),
            entry.bytes
        )));
    }
    let hash = blake3::hash(&bytes).to_hex();
    if hash.as_str() != entry.blake3 {
        return Err(corrupt(format!("its BLAKE3 is {hash}, the manifest records {}", entry.blake3)));
    }
    Ok(bytes)
}

/// Decodes an Arrow IPC file held in memory; the arrays point into `bytes` (no copy). Never
/// panics: bounds are checked here, and a panic in the decoder becomes an error.
fn decode_ipc_file(bytes: Vec<u8>) -> std::result::Result<Table, String> {
    let buffer = Buffer::from_vec(bytes);
    let decode = || -> std::result::Result<Table, String> {
        let e = |e: ArrowError| e.to_string();
        let len = buffer.len();
        if len < 10 + 8 {
            return Err(format!("the file has {len} bytes, too few for an Arrow IPC file"));
        }
        let trailer: [u8; 10] = buffer[len - 10..].try_into().expect("ten bytes");
        let footer_len = read_footer_length(trailer).map_err(e)?;
        let footer_start =
            (len - 10).checked_sub(footer_len).ok_or_else(|| "the footer length is past the start".to_string())?;
        let footer = arrow_ipc::root_as_footer(&buffer[footer_start..len - 10])
            .map_err(|err| format!("the footer is invalid: {err}"))?;
        let schema: SchemaRef = Arc::new(
            arrow_ipc::convert::try_fb_to_schema(footer.schema().ok_or("the footer has no schema")?).map_err(e)?,
        );
        let mut decoder = FileDecoder::new(schema.clone(), footer.version());
        let block_data = |block: &arrow_ipc::Block| -> std::result::Result<Buffer, String> {
            let start = usize::try_from(block.offset()).map_err(|_| "a negative block offset")?;
            let size = usize::try_from(block.metaDataLength()).map_err(|_| "a negative metadata length")?
                + usize::try_from(block.bodyLength()).map_err(|_| "a negative body length")?;
            if start.checked_add(size).is_none_or(|end| end > footer_start) {
                return Err("a block lies outside the file".into());
            }
            Ok(buffer.slice_with_length(start, size))
        };
        for block in footer.dictionaries().iter().flatten() {
            decoder.read_dictionary(block, &block_data(block)?).map_err(e)?;
        }
        let mut batches = Vec::new();
        for block in footer.recordBatches().iter().flatten() {
            if let Some(b) = decoder.read_record_batch(block, &block_data(block)?).map_err(e)? {
                batches.push(b);
            }
        }
        Table::new(schema, batches)
    };
    std::panic::catch_unwind(decode).unwrap_or_else(|_| Err("the Arrow decoder rejected the file".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{artifact, assert_same, dead_pid, table};
    use arrow_array::types::Int32Type;
    use arrow_array::{ArrayRef, DictionaryArray, ListArray};
    use arrow_schema::{DataType, Field, Schema};
    use serde_json::json;

    fn store() -> (tempfile::TempDir, ArtifactStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = ArtifactStore::open(dir.path().join(".mlp")).unwrap();
        (dir, store)
    }

    fn tmp_is_empty(store: &ArtifactStore) -> bool {
        store.tmp_entries().unwrap().is_empty()
    }

    #[test]
    fn round_trips_tables_blobs_and_properties() {
        let (_d, store) = store();
        let schema = table(0, 0, 0).schema().clone();
        let mut a = ArtifactData { artifact_type: "Examples".into(), ..Default::default() };
        a.parts.insert("train".into(), Part::Table(table(3, 1000, 7)));
        a.parts.insert("eval".into(), Part::Table(table(1, 17, 1)));
        a.parts.insert("no_batches".into(), Part::Table(Table::new(schema.clone(), vec![]).unwrap()));
        a.parts.insert("zero_rows".into(), Part::Table(Table::from_batch(RecordBatch::new_empty(schema))));
        a.parts.insert("model.bin".into(), Part::Blob(Arc::from((0..=255u8).collect::<Vec<_>>())));
        a.parts.insert("empty".into(), Part::Blob(Arc::from(Vec::new())));
        a.properties.insert("span".into(), json!(3));
        a.properties.insert("metrics".into(), json!({"auc": 0.91, "labels": ["a", null], "n": -1}));

        let stored = store.put(&a).unwrap();
        assert!(stored.newly_written);
        assert_eq!(stored.digest, artifact_digest(&a));
        let hex = digest_hex(&stored.digest).unwrap();
        assert_eq!(stored.uri, format!("artifacts/{}/{hex}", &hex[..2]));
        assert_eq!(stored.path, store.root().join(&stored.uri));
        assert_eq!(stored.parts["train"].rows, Some(3000));
        assert_eq!(stored.parts["no_batches"].rows, Some(0));
        assert_eq!(stored.parts["model.bin"].bytes, 256);
        assert_eq!(stored.parts["model.bin"].file, "model.bin");
        assert_eq!(stored.parts["train"].file, "train.arrow");
        assert_eq!(stored.parts["train"].encoding, Encoding::ArrowFile);

        let back = store.get(&stored.digest).unwrap();
        assert_same(&a, &back);
        assert_eq!(back.parts.len(), 6);
        if let Part::Table(t) = &back.parts["train"] {
            assert_eq!(t.batches().len(), 3, "batch boundaries are kept");
        }
        // The content read back has the digest it is filed under.
        assert_eq!(artifact_digest(&back), stored.digest);
        store.verify(&stored.digest).unwrap();
        store.verify_content(&stored.digest).unwrap();
        assert!(tmp_is_empty(&store));
    }

    #[test]
    fn the_manifest_describes_each_file() {
        let (_d, store) = store();
        let stored = store.put(&artifact("Examples", 1)).unwrap();
        let text = fs::read_to_string(stored.path.join(MANIFEST)).unwrap();
        let m: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(m["format"], 1);
        assert_eq!(m["artifact_type"], "Examples");
        assert_eq!(m["properties"], json!({"seed": 1}));
        assert_eq!(m["parts"]["train"]["kind"], "table");
        assert_eq!(m["parts"]["train"]["encoding"], "arrow-file");
        assert_eq!(m["parts"]["train"]["rows"], 10);
        assert_eq!(m["parts"]["notes.txt"]["kind"], "blob");
        assert!(m["parts"]["notes.txt"].get("rows").is_none());
        for (file, entry) in [("train.arrow", &m["parts"]["train"]), ("notes.txt", &m["parts"]["notes.txt"])] {
            let bytes = fs::read(stored.path.join(file)).unwrap();
            assert_eq!(entry["bytes"], bytes.len());
            assert_eq!(entry["blake3"], blake3::hash(&bytes).to_hex().as_str());
        }
        // The table file is an Arrow IPC file: magic at both ends.
        let bytes = fs::read(stored.path.join("train.arrow")).unwrap();
        assert_eq!(&bytes[..6], b"ARROW1");
        assert_eq!(&bytes[bytes.len() - 6..], b"ARROW1");
        let mut names: Vec<String> =
            fs::read_dir(&stored.path).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(names, ["manifest.json", "notes.txt", "train.arrow"]);
    }

    #[test]
    fn storing_equal_content_again_writes_nothing() {
        let (_d, store) = store();
        let first = store.put(&artifact("Examples", 1)).unwrap();
        let before = fs::metadata(first.path.join(MANIFEST)).unwrap().modified().unwrap();
        let again = store.put(&artifact("Examples", 1)).unwrap();
        assert!(!again.newly_written);
        assert_eq!(again.digest, first.digest);
        assert_eq!(again.parts, first.parts);
        assert_eq!(fs::metadata(first.path.join(MANIFEST)).unwrap().modified().unwrap(), before);
        assert_eq!(store.list().unwrap().len(), 1);
        assert!(tmp_is_empty(&store));
    }

    #[test]
    fn concurrent_writers_of_one_content_agree() {
        let (_d, store) = store();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let store = store.clone();
                std::thread::spawn(move || store.put(&artifact("Examples", 9)).unwrap())
            })
            .collect();
        let results: Vec<StoredArtifact> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(results.iter().all(|r| r.digest == results[0].digest));
        assert!(results.iter().filter(|r| r.newly_written).count() >= 1);
        assert_eq!(store.scan().unwrap().digests, [results[0].digest.clone()]);
        assert!(tmp_is_empty(&store));
        store.verify(&results[0].digest).unwrap();
    }

    #[test]
    fn part_names_that_could_escape_are_refused() {
        let (_d, store) = store();
        let long = "x".repeat(201);
        for bad in ["", ".", "..", "../evil", "a/b", "a\\b", "a..b", "/abs", "ü", "a b", "nul\0", long.as_str()] {
            let mut a = ArtifactData { artifact_type: "Model".into(), ..Default::default() };
            a.parts.insert(bad.into(), Part::Blob(Arc::from(&b"x"[..])));
            let err = store.put(&a).unwrap_err();
            assert!(matches!(err, ArtifactError::BadPartName { .. }), "{bad:?}: {err}");
            assert!(err.to_string().contains("rename the part in the plugin"), "{err}");
        }
        assert!(store.scan().unwrap().digests.is_empty());
        assert!(tmp_is_empty(&store));
        for good in ["a", "model.safetensors", "x-1_y.z", ".hidden", &"y".repeat(200)] {
            assert_eq!(check_part_name(good), Ok(()), "{good}");
        }
    }

    #[test]
    fn clashing_file_names_get_distinct_files() {
        let (_d, store) = store();
        let mut a = ArtifactData { artifact_type: "Mixed".into(), ..Default::default() };
        a.parts.insert("Train".into(), Part::Table(table(1, 3, 0)));
        a.parts.insert("train.arrow".into(), Part::Blob(Arc::from(&b"blob one"[..])));
        a.parts.insert("train.ARROWS".into(), Part::Blob(Arc::from(&b"blob two"[..])));
        a.parts.insert("manifest.json".into(), Part::Blob(Arc::from(&b"{}"[..])));
        let stored = store.put(&a).unwrap();
        let files: BTreeSet<String> = stored.parts.values().map(|p| p.file.to_ascii_lowercase()).collect();
        assert_eq!(files.len(), 4);
        assert!(!files.contains("manifest.json"));
        assert_eq!(stored.parts["Train"].file, "Train.arrow");
        assert_eq!(stored.parts["manifest.json"].file, "1_manifest.json");
        assert_same(&a, &store.get(&stored.digest).unwrap());
    }

    #[test]
    fn a_table_that_replaces_a_dictionary_is_stored_as_a_stream() {
        let (_d, store) = store();
        let field = Field::new("city", DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)), true);
        let schema = Arc::new(Schema::new(vec![field]));
        let batch = |values: Vec<Option<&str>>| {
            let dict: DictionaryArray<Int32Type> = values.into_iter().collect();
            RecordBatch::try_new(schema.clone(), vec![Arc::new(dict) as ArrayRef]).unwrap()
        };
        let t =
            Table::new(schema.clone(), vec![batch(vec![Some("a"), None, Some("b")]), batch(vec![Some("c")])]).unwrap();
        let mut a = ArtifactData { artifact_type: "Examples".into(), ..Default::default() };
        a.parts.insert("cities".into(), Part::Table(t));
        let stored = store.put(&a).unwrap();
        assert_eq!(stored.parts["cities"].encoding, Encoding::ArrowStream);
        assert_eq!(stored.parts["cities"].file, "cities.arrows");
        let back = store.get(&stored.digest).unwrap();
        assert_same(&a, &back);
        assert_eq!(artifact_digest(&back), stored.digest);
    }

    #[test]
    fn a_damaged_manifest_is_reported_with_its_path() {
        let (_d, store) = store();
        let stored = store.put(&artifact("Examples", 1)).unwrap();
        let path = stored.path.join(MANIFEST);
        let original = fs::read_to_string(&path).unwrap();

        fs::write(&path, "{ not json").unwrap();
        let err = store.get(&stored.digest).unwrap_err();
        assert!(matches!(&err, ArtifactError::BadManifest { path: p, .. } if *p == path), "{err}");
        assert!(err.to_string().contains("mlp doctor --fix"), "{err}");

        // A manifest that points a part outside the folder.
        fs::write(&path, original.replace("\"file\": \"train.arrow\"", "\"file\": \"../../x.arrow\"")).unwrap();
        let err = store.get(&stored.digest).unwrap_err();
        assert!(err.to_string().contains("../../x.arrow"), "{err}");

        // A manifest of another artifact.
        fs::write(&path, original.replace(&stored.digest, &format!("blake3:{}", "0".repeat(64)))).unwrap();
        assert!(matches!(store.verify(&stored.digest), Err(ArtifactError::BadManifest { .. })));

        // From a newer mlp.
        fs::write(&path, original.replace("\"format\": 1", "\"format\": 2")).unwrap();
        let err = store.get(&stored.digest).unwrap_err();
        assert!(err.to_string().contains("upgrade mlp"), "{err}");

        fs::remove_file(&path).unwrap();
        assert!(!store.contains(&stored.digest));
        let err = store.get(&stored.digest).unwrap_err();
        assert!(err.to_string().contains("the file is missing"), "{err}");
    }

    #[test]
    fn a_truncated_or_altered_part_is_detected() {
        let (_d, store) = store();
        let stored = store.put(&artifact("Examples", 1)).unwrap();
        let part = stored.path.join("train.arrow");
        let bytes = fs::read(&part).unwrap();

        fs::write(&part, &bytes[..bytes.len() / 2]).unwrap();
        let err = store.verify(&stored.digest).unwrap_err();
        let ArtifactError::CorruptPart { part: name, path, reason, .. } = &err else { panic!("{err}") };
        assert_eq!((name.as_str(), path), ("train", &part));
        assert!(reason.contains(&format!("has {} bytes", bytes.len() / 2)), "{reason}");
        assert!(matches!(store.get(&stored.digest), Err(ArtifactError::CorruptPart { .. })));

        let mut flipped = bytes.clone();
        flipped[bytes.len() / 2] ^= 1;
        fs::write(&part, &flipped).unwrap();
        let err = store.verify(&stored.digest).unwrap_err();
        assert!(err.to_string().contains("BLAKE3"), "{err}");

        fs::remove_file(&part).unwrap();
        let err = store.verify(&stored.digest).unwrap_err();
        assert!(err.to_string().contains("the file is missing"), "{err}");

        fs::write(&part, &bytes).unwrap();
        store.verify(&stored.digest).unwrap();
    }

    #[test]
    fn verify_content_catches_an_edited_property() {
        let (_d, store) = store();
        let stored = store.put(&artifact("Examples", 1)).unwrap();
        let path = stored.path.join(MANIFEST);
        let text = fs::read_to_string(&path).unwrap().replace("\"seed\": 1", "\"seed\": 2");
        fs::write(&path, text).unwrap();
        store.verify(&stored.digest).unwrap();
        let err = store.verify_content(&stored.digest).unwrap_err();
        assert!(err.to_string().contains("the content's digest is"), "{err}");
    }

    #[test]
    fn unknown_and_malformed_digests_are_clear_errors() {
        let (_d, store) = store();
        let missing = format!("blake3:{}", "ab".repeat(32));
        let err = store.get(&missing).unwrap_err();
        assert!(matches!(err, ArtifactError::NotFound { .. }), "{err}");
        assert!(err.to_string().contains(&missing));
        for bad in ["blake3:../../etc", "sha256:00", "", &format!("blake3:{}", "AB".repeat(32))] {
            assert!(matches!(store.get(bad), Err(ArtifactError::BadDigest { .. })), "{bad}");
            assert!(!store.contains(bad));
        }
    }

    #[test]
    fn list_and_scan_show_what_is_stored() {
        let (_d, store) = store();
        let a = store.put(&artifact("Examples", 1)).unwrap();
        let b = store.put(&artifact("Model", 2)).unwrap();
        fs::write(store.root().join("artifacts/stray.txt"), "x").unwrap();
        let mut expected = vec![
            ArtifactSummary { digest: a.digest.clone(), artifact_type: "Examples".into(), bytes: a.bytes(), parts: 2 },
            ArtifactSummary { digest: b.digest.clone(), artifact_type: "Model".into(), bytes: b.bytes(), parts: 2 },
        ];
        expected.sort_by(|x, y| x.digest.cmp(&y.digest));
        assert_eq!(store.list().unwrap(), expected);
        assert_eq!(store.scan().unwrap().strays, [store.root().join("artifacts/stray.txt")]);
        assert!(store.contains(&a.digest));
    }

    #[test]
    fn leftovers_in_tmp_name_their_process() {
        let (_d, store) = store();
        let dead = dead_pid();
        let left = store.root().join(format!("tmp/put-{dead}-1-0"));
        fs::create_dir_all(&left).unwrap();
        fs::write(left.join("train.arrow"), "partial").unwrap();
        let mine = store.root().join(format!("tmp/put-{}-2-0", std::process::id()));
        fs::create_dir_all(&mine).unwrap();
        let entries = store.tmp_entries().unwrap();
        assert_eq!(entries.len(), 2);
        let by_path = |p: &Path| entries.iter().find(|e| e.path == p).unwrap().clone();
        assert_eq!(by_path(&left).pid, Some(dead));
        assert_eq!(by_path(&mine).pid, Some(std::process::id()));
        if Path::new("/proc/self").exists() {
            assert_eq!(by_path(&left).owner_alive, Some(false));
            assert_eq!(by_path(&mine).owner_alive, Some(true));
        }
        store.remove_tmp(&by_path(&left)).unwrap();
        assert!(!left.exists());
        let outside = TmpEntry { path: store.root().join("artifacts"), pid: None, owner_alive: None };
        assert!(store.remove_tmp(&outside).is_err());
        assert!(store.root().join("artifacts").is_dir());
    }

    #[test]
    fn exports_parquet_csv_and_ipc_that_read_back() {
        let (d, store) = store();
        let mut a = ArtifactData { artifact_type: "Examples".into(), ..Default::default() };
        a.parts.insert("train".into(), Part::Table(table(2, 3, 0)));
        a.parts.insert("readme.md".into(), Part::Blob(Arc::from(&b"# hi"[..])));
        let stored = store.put(&a).unwrap();
        let Part::Table(original) = &a.parts["train"] else { unreachable!() };
        let all = arrow_select_concat(original);

        let out = d.path().join("out");
        let files = store.export(&stored.digest, &out, ExportFormat::Parquet).unwrap();
        assert_eq!(files, [out.join("readme.md"), out.join("train.parquet")]);
        assert_eq!(fs::read(out.join("readme.md")).unwrap(), b"# hi");
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            File::open(out.join("train.parquet")).unwrap(),
        )
        .unwrap()
        .build()
        .unwrap();
        let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
        let back = arrow_select_concat(&Table::new(batches[0].schema(), batches).unwrap());
        assert_eq!(back, all);

        store.export(&stored.digest, &out, ExportFormat::Csv).unwrap();
        let csv = fs::read_to_string(out.join("train.csv")).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 7);
        assert_eq!(lines[0], "id,fare,name");
        assert_eq!(lines[1], "0,,name-0-ü");
        assert_eq!(lines[2], "1,1.5,");

        store.export(&stored.digest, &out, ExportFormat::Ipc).unwrap();
        let reader =
            arrow_ipc::reader::FileReader::try_new(File::open(out.join("train.arrow")).unwrap(), None).unwrap();
        let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
        assert_eq!(batches, original.batches());
        // Nothing half-written is left beside the exports.
        assert!(fs::read_dir(&out).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().starts_with('.')));
    }

    #[test]
    fn exporting_nested_columns_as_csv_explains_the_alternative() {
        let (d, store) = store();
        let list = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![Some(vec![Some(1), None]), None]);
        let batch = RecordBatch::try_from_iter([("xs", Arc::new(list) as ArrayRef)]).unwrap();
        let mut a = ArtifactData { artifact_type: "Examples".into(), ..Default::default() };
        a.parts.insert("nested".into(), Part::Table(Table::from_batch(batch)));
        let stored = store.put(&a).unwrap();
        let err = store.export(&stored.digest, &d.path().join("out"), ExportFormat::Csv).unwrap_err();
        assert!(matches!(err, ArtifactError::Export { ref part, .. } if part == "nested"), "{err}");
        assert!(err.to_string().contains("export as parquet or ipc"), "{err}");
        assert!(fs::read_dir(d.path().join("out")).unwrap().next().is_none(), "a failed export leaves no file");
        store.export(&stored.digest, &d.path().join("out"), ExportFormat::Parquet).unwrap();
    }

    #[test]
    fn export_formats_parse() {
        assert_eq!("Parquet".parse::<ExportFormat>(), Ok(ExportFormat::Parquet));
        assert_eq!("arrow".parse::<ExportFormat>(), Ok(ExportFormat::Ipc));
        assert_eq!("csv".parse::<ExportFormat>(), Ok(ExportFormat::Csv));
        assert!("xlsx".parse::<ExportFormat>().unwrap_err().contains("use parquet, csv or ipc"));
    }

    #[test]
    fn a_damaged_table_file_with_a_matching_manifest_is_an_error_not_a_panic() {
        let (_d, store) = store();
        let stored = store.put(&artifact("Examples", 1)).unwrap();
        let part = stored.path.join("train.arrow");
        // Rewrite the file with garbage and update the manifest to match, as an attacker would.
        for garbage in [vec![0u8; 3], b"ARROW1\0\0garbage-garbage\xff\xff\xff\x7fARROW1".to_vec()] {
            fs::write(&part, &garbage).unwrap();
            let mpath = stored.path.join(MANIFEST);
            let mut m: Manifest = serde_json::from_slice(&fs::read(&mpath).unwrap()).unwrap();
            let e = m.parts.get_mut("train").unwrap();
            e.bytes = garbage.len() as u64;
            e.blake3 = blake3::hash(&garbage).to_hex().to_string();
            fs::write(&mpath, serde_json::to_vec(&m).unwrap()).unwrap();
            let err = store.get(&stored.digest).unwrap_err();
            assert!(matches!(err, ArtifactError::CorruptPart { .. }), "{err}");
        }
    }

    fn arrow_select_concat(t: &Table) -> RecordBatch {
        arrow_select::concat::concat_batches(t.schema(), t.batches()).unwrap()
    }
}
