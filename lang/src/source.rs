//! How the compiler reads files: the [`Loader`] trait and logical file keys.
//!
//! `mlp-lang` does no IO of its own. Files are named by *keys*: paths relative to the folder of
//! the root pipeline file (`pipeline.mlp`, `describe.mlp`, `../shared/x.mlp`), or `std/...` for
//! the standard library. Resolving an import is pure string work ([`resolve_import`]); a
//! [`Loader`] maps keys to text. The runtime provides one over the real filesystem; tests and
//! the language server use [`MemoryLoader`].

use std::collections::BTreeMap;

/// Reads source files by key.
pub trait Loader {
    /// The text of the file with this key, or a reason it cannot be read.
    fn read(&self, key: &str) -> Result<String, String>;
    /// The columns of the schema file with this key (the file a step such as
    /// `tab.import_schema` pins), so that feature blocks are typed against it at check time;
    /// `None` when this loader does not read schemas (the language does not know their
    /// format: the host does), `Some(Err)` when the file cannot be read or parsed.
    fn schema_columns(&self, key: &str) -> Option<Result<Vec<(String, ColumnType)>, String>> {
        let _ = key;
        None
    }
    /// The name shown to users for this key (by default the key itself).
    fn display_name(&self, key: &str) -> String {
        key.to_string()
    }
}

/// The type of a column of a pinned schema, as feature blocks see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    /// 64-bit integers.
    Int,
    /// 64-bit floats.
    Float,
    /// Booleans.
    Bool,
    /// Strings.
    String,
}

/// Files held in memory, by key. `std/` keys may be served from a second map.
#[derive(Clone, Debug, Default)]
pub struct MemoryLoader {
    /// Files by key.
    pub files: BTreeMap<String, String>,
}

impl MemoryLoader {
    /// A loader with these files.
    pub fn new<K: Into<String>, V: Into<String>>(files: impl IntoIterator<Item = (K, V)>) -> Self {
        MemoryLoader { files: files.into_iter().map(|(k, v)| (k.into(), v.into())).collect() }
    }
}

impl Loader for MemoryLoader {
    fn read(&self, key: &str) -> Result<String, String> {
        self.files.get(key).cloned().ok_or_else(|| "no such file".to_string())
    }
}

/// The standard library's key prefix.
pub const STD_PREFIX: &str = "std/";

/// The key of `import "<path>"` written in the file with key `from`.
pub fn resolve_import(from: &str, path: &str) -> String {
    if path.starts_with(STD_PREFIX) {
        return normalize(path);
    }
    join(dir_of(from), path)
}

/// The folder part of a key (`a/b.mlp` → `a`, `b.mlp` → ``).
pub fn dir_of(key: &str) -> &str {
    key.rfind('/').map_or("", |i| &key[..i])
}

/// Join a relative path onto a folder key and normalize; absolute paths are kept.
pub fn join(dir: &str, path: &str) -> String {
    if path.starts_with('/') || dir.is_empty() {
        return normalize(path);
    }
    normalize(&format!("{dir}/{path}"))
}

/// Remove `.` segments and fold `x/..`; leading `..` segments are kept.
pub fn normalize(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".to_string()
    } else {
        joined
    }
}

/// The file stem of a key (`a/b.mlp` → `b`).
pub fn stem(key: &str) -> &str {
    let base = key.rsplit('/').next().unwrap_or(key);
    base.strip_suffix(".mlp").unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_resolve_relative_to_the_importing_file() {
        assert_eq!(resolve_import("pipeline.mlp", "describe.mlp"), "describe.mlp");
        assert_eq!(resolve_import("sub/a.mlp", "../b.mlp"), "b.mlp");
        assert_eq!(resolve_import("sub/a.mlp", "./c/d.mlp"), "sub/c/d.mlp");
        assert_eq!(resolve_import("a.mlp", "../x.mlp"), "../x.mlp");
        assert_eq!(resolve_import("sub/a.mlp", "std/tabular.mlp"), "std/tabular.mlp");
        assert_eq!(resolve_import("a.mlp", "/abs/x.mlp"), "/abs/x.mlp");
    }

    #[test]
    fn stems() {
        assert_eq!(stem("a/b.mlp"), "b");
        assert_eq!(stem("std/tabular.mlp"), "tabular");
    }
}
