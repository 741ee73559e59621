//! Shared support for the integration tests: reading data-driven case files.
//!
//! A case file is one `.mlp` file, optionally holding further virtual files: a line
//! `//- NAME.mlp` starts a new file (paths relative to the case's folder). Header comments give
//! what the harness needs: `// expect: E0301, W0002` (the codes the case must produce) and
//! `// set: NAME=VALUE` (a `--set` override, one per line). `std/...` imports are served from
//! the repository's `stdlib/` folder, so the cases also check the standard library.

use mlp_lang::source::{ColumnType, Loader, MemoryLoader};
use mlp_lang::{CheckOptions, Checked};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// A parsed case file.
#[derive(Clone, Debug)]
pub struct Case {
    /// Key of the main file.
    pub main: String,
    /// All files: (key, text); the main file first.
    pub files: Vec<(String, String)>,
    /// Codes the case must produce, sorted.
    pub expect: BTreeSet<String>,
    /// `--set` overrides.
    pub overrides: Vec<String>,
}

/// Split a case file's text into its virtual files and header directives.
pub fn parse_case(name: &str, text: &str) -> Case {
    let mut files: Vec<(String, String)> = vec![(name.to_string(), String::new())];
    for line in text.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix("//- ") {
            files.push((rest.trim().to_string(), String::new()));
            continue;
        }
        files.last_mut().expect("at least one file").1.push_str(line);
    }
    let mut expect = BTreeSet::new();
    let mut overrides = Vec::new();
    for line in files[0].1.lines() {
        if let Some(rest) = line.strip_prefix("// expect:") {
            expect.extend(rest.split(',').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()));
        } else if let Some(rest) = line.strip_prefix("// set:") {
            overrides.push(rest.trim().to_string());
        }
    }
    Case { main: name.to_string(), files, expect, overrides }
}

/// Read the case file at `path`.
pub fn read_case(path: &Path) -> Case {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    parse_case(&name, &text)
}

/// A loader over the case's files plus the repository's standard library.
pub fn loader(case: &Case) -> MemoryLoader {
    let mut l = MemoryLoader::new(case.files.iter().cloned());
    for (key, text) in mlp_runtime::EMBEDDED_STDLIB {
        l.files.entry(key.to_string()).or_insert_with(|| text.to_string());
    }
    l
}

/// A case's files that also reads schema files (virtual `.json` files of the case), as the
/// `mlp` binary's loader does.
pub struct CaseLoader(pub MemoryLoader);

impl Loader for CaseLoader {
    fn read(&self, key: &str) -> Result<String, String> {
        self.0.read(key)
    }
    fn schema_columns(&self, key: &str) -> Option<Result<Vec<(String, ColumnType)>, String>> {
        Some(self.0.read(key).and_then(|t| mlp_runtime::schema_columns(&t)))
    }
}

/// Check a case.
pub fn check_case(case: &Case) -> Checked {
    let opts = CheckOptions { overrides: case.overrides.clone(), cli_base: String::new() };
    mlp_lang::check(&case.main, &CaseLoader(loader(case)), &opts)
}

/// The codes a checked case produced.
pub fn codes(c: &Checked) -> BTreeSet<String> {
    c.diagnostics.iter().map(|d| d.code.as_str().to_string()).collect()
}

/// Every `.mlp` file under `dir`, sorted.
pub fn mlp_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "mlp") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Every example, stdlib and test case file of the repository.
pub fn corpus() -> Vec<PathBuf> {
    let root = repo_root();
    let mut v = mlp_files(&root.join("examples"));
    v.extend(mlp_files(&root.join("stdlib")));
    v.extend(mlp_files(&root.join("tests/cases")));
    v
}
