//! `mlp plugin new`: scaffolds a plugin crate that builds into a component, with its `.mlp`
//! declaration and a pipeline that runs it.
//!
//! The crate pins the toolchain and the `wasm32-wasip2` target (so `rustup toolchain install`
//! and `cargo build --release` are all it takes), depends on `mlp-sdk` by path, and holds a
//! working plugin: it counts the rows of every split of its input and writes a JSON summary.

use std::path::{Path, PathBuf};

/// Why scaffolding failed.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The name is not a valid component name.
    #[error(
        "`{0}` is not a valid plugin name: use lowercase letters, digits and `_`, starting with a letter (such as `row_count`)"
    )]
    Name(String),
    /// The folder exists and is not empty.
    #[error("`{0}` already exists and is not empty: pick another name or pass --dir")]
    Exists(PathBuf),
    /// The SDK crate is not where it should be.
    #[error("the mlp-sdk crate is not at `{0}`: pass --sdk PATH (the `plugins/sdk` folder of an mlp checkout)")]
    Sdk(PathBuf),
    /// Writing failed.
    #[error("cannot write `{0}`: {1}")]
    Io(PathBuf, std::io::Error),
}

const LIB_RS: &str = r#"//! `{{name}}`: an mlp plugin. It counts the rows of every split of its input.

use mlp_sdk::*;

struct {{Type}};

impl Plugin for {{Type}} {
    fn describe() -> ComponentInfo {
        info("{{name}}", "0.1.0").input("examples", "Examples").output("out", "Statistics").build()
    }

    fn run(ctx: &Invocation) -> Result<(), Error> {
        let examples = ctx.require_input("examples")?;
        let out = ctx.output("out")?;
        let mut counts = Vec::new();
        for part in examples.parts() {
            let rows = examples.table(&part)?.num_rows();
            counts.push(format!("\"{part}\": {rows}"));
        }
        out.put_json("rows.json", &format!("{{{}}}", counts.join(", ")))?;
        ctx.info(&format!("counted {} splits", counts.len()));
        Ok(())
    }
}

export!({{Type}});
"#;

const CARGO_TOML: &str = r#"[package]
name = "{{crate}}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
mlp-sdk = { path = "{{sdk}}" }

[profile.release]
opt-level = 3

# A workspace of its own, so the crate builds wherever it is put.
[workspace]
"#;

const TOOLCHAIN: &str = r#"[toolchain]
channel = "1.95.0"
targets = ["wasm32-wasip2"]
"#;

const CARGO_CONFIG: &str = r#"[build]
target = "wasm32-wasip2"
"#;

const DECL: &str = r#"/// Counts the rows of every split.
component {{name}} {
  wasm = "target/wasm32-wasip2/release/{{name}}.wasm"
  /// The examples to count.
  input examples: Examples
  /// `rows.json`: rows per split.
  output out: Statistics
}
"#;

const PIPELINE: &str = r#"// Runs {{name}} on synthetic examples. Build the plugin first: `cargo build --release`.

import "{{name}}.mlp" as plugin

/// Synthetic examples from mlp's example `generate` plugin.
component generate {
  wasm = "{{generate}}"
  param rows: int = 1000
  param seed: int = 0
  param eval_percent: int = 20
  output out: Examples
}

step data = generate { rows = 1000 }
step count = plugin.{{name}} { examples = data.out }
"#;

const GITIGNORE: &str = "/target\n";

fn camel(name: &str) -> String {
    name.split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

/// Whether `name` can name a component (and a crate).
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 64
        && !mlp_lang::syntax::parser::KEYWORDS.contains(&name)
}

/// Creates the plugin crate `name` in `dir`, depending on the SDK at `sdk`. `generate` is the
/// example `generate.wasm` the sample pipeline feeds it from. Returns the files written.
pub fn new_plugin(name: &str, dir: &Path, sdk: &Path, generate: &Path) -> Result<Vec<PathBuf>, ScaffoldError> {
    if !valid_name(name) {
        return Err(ScaffoldError::Name(name.into()));
    }
    if dir.read_dir().is_ok_and(|mut d| d.next().is_some()) {
        return Err(ScaffoldError::Exists(dir.into()));
    }
    let sdk = sdk.canonicalize().map_err(|_| ScaffoldError::Sdk(sdk.into()))?;
    if !sdk.join("Cargo.toml").is_file() {
        return Err(ScaffoldError::Sdk(sdk));
    }
    let fill = |t: &str| {
        t.replace("{{name}}", name)
            .replace("{{crate}}", &name.replace('_', "-"))
            .replace("{{Type}}", &camel(name))
            .replace("{{sdk}}", &sdk.to_string_lossy())
            .replace("{{generate}}", &generate.to_string_lossy())
    };
    let files = [
        ("Cargo.toml", fill(CARGO_TOML)),
        ("rust-toolchain.toml", TOOLCHAIN.to_string()),
        (".cargo/config.toml", CARGO_CONFIG.to_string()),
        (".gitignore", GITIGNORE.to_string()),
        ("src/lib.rs", fill(LIB_RS)),
        (&format!("{name}.mlp"), fill(DECL)),
        ("pipeline.mlp", fill(PIPELINE)),
    ];
    let mut written = Vec::new();
    for (rel, text) in files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| ScaffoldError::Io(parent.into(), e))?;
        }
        std::fs::write(&path, text).map_err(|e| ScaffoldError::Io(path.clone(), e))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lowercase_identifiers_and_not_keywords() {
        assert!(valid_name("row_count"));
        assert!(valid_name("a1"));
        assert!(!valid_name("RowCount"));
        assert!(!valid_name("1abc"));
        assert!(!valid_name("row-count"));
        assert!(!valid_name(""));
        assert!(!valid_name("step"));
    }

    #[test]
    fn an_existing_folder_with_files_is_refused() {
        let dir = std::env::temp_dir().join(format!("mlp-scaffold-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("keep.txt"), "x").unwrap();
        let err = new_plugin("abc", &dir, Path::new("."), Path::new("g.wasm")).unwrap_err();
        assert!(matches!(err, ScaffoldError::Exists(_)), "{err}");
        assert_eq!(std::fs::read_to_string(dir.join("keep.txt")).unwrap(), "x");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
