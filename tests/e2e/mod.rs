//! Helpers of the end-to-end tests that drive the `mlp` binary (`train.rs`, `tune.rs`): run a
//! pipeline with `--json` and collect each step's `finished` event, read an output artifact back
//! from the run's store, and score predictions independently of mlp (AUC by ranks).
//!
//! Included with `#[path]` by each test target, so `CARGO_BIN_EXE_mlp` is the binary under test.
#![allow(dead_code)]

use arrow_array::RecordBatch;
use mlp_kernels::data::{ArtifactData, Part};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

/// Runs `mlp ARGS` in `dir`.
pub fn mlp(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlp")).args(args).current_dir(dir).env("NO_COLOR", "1").output().expect("run mlp")
}

/// `mlp run FILE --json EXTRA...` in `dir`: the exit code, each step's `finished` event by step
/// id, and standard error.
pub fn run(dir: &Path, file: &str, extra: &[&str]) -> (i32, BTreeMap<String, Value>, String) {
    let mut args = vec!["run", file, "--json"];
    args.extend_from_slice(extra);
    let out = mlp(&args, dir);
    let mut steps = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else { continue };
        if v["event"] == "finished" {
            steps.insert(v["step"].as_str().unwrap().to_string(), v);
        }
    }
    (out.status.code().unwrap_or(-1), steps, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The artifact a step wrote to `port`, read from the store in `dir/.mlp`.
pub fn artifact(dir: &Path, steps: &BTreeMap<String, Value>, step: &str, port: &str) -> ArtifactData {
    let digest = steps[step]["outputs"][port]["digest"].as_str().unwrap_or_else(|| panic!("{}", steps[step]));
    mlp_store::ArtifactStore::open(dir.join(".mlp")).unwrap().get(digest).unwrap()
}

/// A blob part.
pub fn blob<'a>(a: &'a ArtifactData, part: &str) -> &'a [u8] {
    match &a.parts[part] {
        Part::Blob(b) => b,
        Part::Table(_) => panic!("{part} is a table"),
    }
}

/// A JSON blob part, parsed.
pub fn json_part(a: &ArtifactData, part: &str) -> Value {
    serde_json::from_slice(blob(a, part)).unwrap_or_else(|e| panic!("{part}: {e}"))
}

/// A table part as one batch.
pub fn split(a: &ArtifactData, part: &str) -> RecordBatch {
    match &a.parts[part] {
        Part::Table(t) => arrow_select::concat::concat_batches(t.schema(), t.batches()).unwrap(),
        Part::Blob(_) => panic!("{part} is a blob"),
    }
}

/// The area under the ROC curve by ranks (ties get their average rank).
pub fn auc(scores: &[f64], labels: &[bool]) -> f64 {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|a, b| scores[*a].total_cmp(&scores[*b]));
    let mut ranks = vec![0f64; scores.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        for k in i..=j {
            ranks[idx[k]] = (i + j) as f64 / 2.0 + 1.0;
        }
        i = j + 1;
    }
    let pos = labels.iter().filter(|l| **l).count() as f64;
    let neg = labels.len() as f64 - pos;
    let sum: f64 = ranks.iter().zip(labels).filter(|(_, l)| **l).map(|(r, _)| r).sum();
    (sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}
