//! `mlp-runtime`: the embeddable host of mlp. It loads and checks pipelines from disk, runs them
//! on the wasmtime host ([`host`]) with the executor ([`run`]), and records runs in the artifact
//! and lineage stores (`mlp-store`). The `mlp` command is a thin shell over it.
//!
//! Running a pipeline from Rust:
//!
//! ```
//! use mlp_runtime::host::{Host, HostConfig};
//! use mlp_runtime::run::{self, RunOptions, StepStatus};
//! use std::sync::Arc;
//!
//! let file = std::path::Path::new("../examples/quickstart/pipeline.mlp");
//! // Check it (with a parameter set as `--set` would), and lower it to the IR.
//! let checked = mlp_runtime::check_file(file, &["rows=1000".to_string()])?;
//! let ir = checked.ir.ok_or("the pipeline has errors")?;
//! // One host per process; it compiles each component once and caches it on disk.
//! let host = Arc::new(Host::new(HostConfig::default())?);
//! // Record the run in a store; a second run reuses every unchanged step.
//! let store = std::env::temp_dir().join(format!("mlp-doc-{}", std::process::id()));
//! let options = RunOptions { store: Some(store.clone()), ..RunOptions::default() };
//! let report = run::run(&host, &ir, &run::pipeline_dir(file), &options, &mut |_| {})
//!     .map_err(|errors| format!("{} problems before running", errors.len()))?;
//! assert!(report.steps.iter().all(|s| matches!(s.status, StepStatus::Succeeded)));
//! let stats = report.artifact("stats", "out").ok_or("no statistics")?;
//! assert_eq!(stats.data.artifact_type, "Statistics");
//! let again = run::run(&host, &ir, &run::pipeline_dir(file), &options, &mut |_| {})
//!     .map_err(|errors| format!("{} problems before running", errors.len()))?;
//! assert!(again.steps.iter().all(|s| matches!(s.status, StepStatus::Cached)));
//! # std::fs::remove_dir_all(&store)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`FsLoader`] implements `mlp_lang::source::Loader` over the real filesystem: keys are paths
//! relative to the root pipeline file's folder, and `std/...` keys are served from the standard
//! library (the folder named by `MLP_STDLIB`, or the copy compiled into the binary).

pub mod host;
pub mod run;
pub mod scaffold;
mod text;

pub use text::table_text;

use mlp_lang::source::{Loader, STD_PREFIX};
use mlp_lang::{CheckOptions, Checked};
use std::path::{Component, Path, PathBuf};

/// The standard library compiled into the binary: (key, text).
pub const EMBEDDED_STDLIB: &[(&str, &str)] = &[
    ("std/tabular.mlp", include_str!("../../stdlib/tabular.mlp")),
    ("std/llm.mlp", include_str!("../../stdlib/llm.mlp")),
];

/// Reads pipeline files from disk.
#[derive(Clone, Debug)]
pub struct FsLoader {
    /// Folder of the root pipeline file; keys are relative to it.
    pub root_dir: PathBuf,
    /// Standard library folder, if one overrides the embedded copy.
    pub stdlib: Option<PathBuf>,
    /// Folder file names are shown relative to.
    pub cwd: PathBuf,
}

impl FsLoader {
    /// A loader for a pipeline in `root_dir`, showing names relative to the current folder.
    pub fn new(root_dir: impl Into<PathBuf>) -> FsLoader {
        FsLoader {
            root_dir: root_dir.into(),
            stdlib: std::env::var_os("MLP_STDLIB").map(PathBuf::from),
            cwd: std::env::current_dir().unwrap_or_default(),
        }
    }

    fn path_of(&self, key: &str) -> PathBuf {
        if let (Some(rest), Some(std)) = (key.strip_prefix(STD_PREFIX), &self.stdlib) {
            return std.join(rest);
        }
        self.root_dir.join(key)
    }
}

impl Loader for FsLoader {
    fn read(&self, key: &str) -> Result<String, String> {
        if key.starts_with(STD_PREFIX) && self.stdlib.is_none() {
            return EMBEDDED_STDLIB.iter().find(|(k, _)| *k == key).map(|(_, t)| t.to_string()).ok_or_else(|| {
                let names: Vec<&str> = EMBEDDED_STDLIB.iter().map(|(k, _)| *k).collect();
                format!("the standard library has no such file (it has {})", names.join(", "))
            });
        }
        let path = self.path_of(key);
        match std::fs::read_to_string(&path) {
            Ok(t) => Ok(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err("file not found".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    fn schema_columns(&self, key: &str) -> Option<Result<Vec<(String, mlp_lang::source::ColumnType)>, String>> {
        Some(self.read(key).and_then(|text| schema_columns(&text)))
    }

    fn display_name(&self, key: &str) -> String {
        if key.starts_with(STD_PREFIX) {
            return key.to_string();
        }
        let p = normalize(&self.root_dir.join(key));
        let cwd = normalize(&self.cwd);
        relative(&p, &cwd).unwrap_or(p).to_string_lossy().into_owned()
    }
}

/// The columns of a schema file (the layout `tab.infer_schema` writes and `tab.import_schema`
/// reads) with their types, for checking feature blocks against a pinned schema.
pub fn schema_columns(text: &str) -> Result<Vec<(String, mlp_lang::source::ColumnType)>, String> {
    use mlp_data::stats::FeatureKind;
    use mlp_lang::source::ColumnType;
    let schema = mlp_data::infer::parse_schema(text).map_err(|e| e.to_string())?;
    Ok(schema
        .features
        .into_iter()
        .map(|f| {
            let t = match f.kind {
                FeatureKind::Int => ColumnType::Int,
                FeatureKind::Float => ColumnType::Float,
                FeatureKind::Bool => ColumnType::Bool,
                FeatureKind::String => ColumnType::String,
            };
            (f.name, t)
        })
        .collect())
}

/// Errors of loading a pipeline file before the front end can look at it.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The path has no file name.
    #[error("`{0}` does not name a pipeline file")]
    NotAFile(PathBuf),
}

/// Check the pipeline file at `path` with `--set` overrides.
pub fn check_file(path: &Path, overrides: &[String]) -> Result<Checked, LoadError> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let abs = normalize(&cwd.join(path));
    let name = abs.file_name().ok_or_else(|| LoadError::NotAFile(path.to_path_buf()))?.to_string_lossy().into_owned();
    let root_dir = abs.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut loader = FsLoader::new(&root_dir);
    loader.cwd = cwd.clone();
    let cli_base = relative(&normalize(&cwd), &root_dir)
        .map_or_else(|| cwd.to_string_lossy().into_owned(), |p| p.to_string_lossy().into_owned());
    let opts = CheckOptions {
        overrides: overrides.to_vec(),
        cli_base: if cli_base.is_empty() { String::new() } else { cli_base },
    };
    Ok(mlp_lang::check(&name, &loader, &opts))
}

/// Lexically normalize a path (no filesystem access).
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            c => out.push(c.as_os_str()),
        }
    }
    out
}

/// `target` relative to `base`, both absolute and normalized.
pub fn relative(target: &Path, base: &Path) -> Option<PathBuf> {
    let t: Vec<Component> = target.components().collect();
    let b: Vec<Component> = base.components().collect();
    if t.first() != b.first() {
        return None;
    }
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c.as_os_str());
    }
    Some(out)
}

/// The bytes of the standard component a step's `wasm` key names
/// (`std/components/statistics.wasm`), when this build carries it.
pub fn stdlib_component(wasm: &str) -> Option<&'static [u8]> {
    let name = wasm.strip_prefix("std/components/")?.strip_suffix(".wasm")?;
    mlp_guests::stdlib_component(name)
}

/// The names of the standard components this build carries.
pub fn stdlib_components() -> Vec<&'static str> {
    mlp_guests::STDLIB.iter().map(|(n, _)| *n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(relative(Path::new("/a/b/c"), Path::new("/a")), Some(PathBuf::from("b/c")));
        assert_eq!(relative(Path::new("/a"), Path::new("/a/b/c")), Some(PathBuf::from("../..")));
        assert_eq!(relative(Path::new("/a/x"), Path::new("/a/y")), Some(PathBuf::from("../x")));
    }

    #[test]
    fn embedded_stdlib_is_served_without_a_folder() {
        let l = FsLoader { root_dir: PathBuf::from("/nonexistent"), stdlib: None, cwd: PathBuf::from("/") };
        assert!(l.read("std/tabular.mlp").unwrap().contains("component"));
        assert!(l.read("std/nope.mlp").unwrap_err().contains("std/tabular.mlp"));
    }
}
