//! `push` (std/tabular.mlp): delivers a model to a serving folder as a new numbered version,
//! the folder `mlp serve` reads. Only a model that passed its gates gets here: the step runs
//! under `when eval.blessing` (and `infra.blessing`), and refuses an infra validation of
//! another model or one that failed.
//!
//! The serving folder (`to`, granted for writing):
//!
//! ```text
//! to/versions/N/       N = 1, 2, ...: model.json, weights.safetensors (the Model's parts),
//!                      transform.json (the TransformGraph), version.json
//! to/CURRENT           the current version number and a newline
//! ```
//!
//! Nothing half-written is ever visible: a version is written into `to/.tmp-N-STEP/` and
//! renamed into `versions/N` (a rename onto an existing version fails, so two pushes at once
//! take different numbers), then `CURRENT` is written to `CURRENT.tmp` and renamed over the
//! old one, which is atomic. A server polling `CURRENT` switches from one complete version to
//! the next. The same model already current is not pushed twice. With `keep`, the oldest
//! versions beyond it are deleted, never the current one.

use mlp_sdk::*;
use serde_json::{Value, json};
use std::fs;
use std::path::{Path, PathBuf};

struct Push;

/// The `format` of `version.json`.
const FORMAT: &str = "mlp.pushed";

/// The numbered versions under `versions/`, ascending.
fn versions(dir: &Path) -> Result<Vec<u64>, Error> {
    let root = dir.join("versions");
    let entries = match fs::read_dir(&root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(&root, "list", e)),
    };
    let mut out: Vec<u64> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u64>().ok()))
        .filter(|n| *n > 0)
        .collect();
    out.sort_unstable();
    Ok(out)
}

/// The version `CURRENT` names, if any.
fn current(dir: &Path) -> Option<u64> {
    fs::read_to_string(dir.join("CURRENT")).ok()?.trim().parse().ok()
}

fn io(path: &Path, what: &str, e: std::io::Error) -> Error {
    Error::new(ErrorKind::Other, format!("cannot {what} `{}`: {e}", path.display()))
}

/// `version.json` of version `n`, if it reads.
fn version_meta(dir: &Path, n: u64) -> Option<Value> {
    let text = fs::read_to_string(dir.join("versions").join(n.to_string()).join("version.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Writes `CURRENT` atomically.
fn set_current(dir: &Path, n: u64) -> Result<(), Error> {
    let tmp = dir.join("CURRENT.tmp");
    fs::write(&tmp, format!("{n}\n")).map_err(|e| io(&tmp, "write", e))?;
    fs::rename(&tmp, dir.join("CURRENT")).map_err(|e| io(&dir.join("CURRENT"), "replace", e))
}

impl Plugin for Push {
    fn describe() -> ComponentInfo {
        info("push", env!("CARGO_PKG_VERSION"))
            .doc("Pushes a model and its transform to a serving folder as a new numbered version.")
            .input("model", "Model")
            .input("graph", "TransformGraph")
            .optional_input("infra", "InfraBlessing")
            .param("to", "path")
            .param_default("keep", "int", r#"{"type": "int", "value": 0}"#)
            .output("pushed", "PushedModel")
            .build()
    }

    fn run(ctx: &Invocation) -> Result<(), Error> {
        let p = ctx.params()?;
        let dir = PathBuf::from(p.string("to")?);
        let keep = p.opt_int("keep")?.unwrap_or(0);
        if keep < 0 {
            return Err(Error::invalid(format!("`keep` is {keep}; it must be 0 (keep every version) or more")));
        }
        let model = ctx.require_input("model")?;
        let graph = ctx.require_input("graph")?;
        let spec: Value = serde_json::from_str(&model.json("model.json")?)
            .map_err(|e| Error::data(format!("the model's model.json is not JSON: {e}")))?;
        if let Some(want) = spec["transform"]["digest"].as_str()
            && want != graph.digest()
        {
            return Err(Error::invalid(format!(
                "the model was trained on the features of transform {want}, but `graph` is {}: push the TransformGraph the model was trained with",
                graph.digest()
            )));
        }
        if let Some(infra) = ctx.input("infra") {
            let props: Value = serde_json::from_str(&infra.properties_json()).unwrap_or(Value::Null);
            if props["blessed"].as_bool() != Some(true) {
                return Err(Error::invalid(
                    "`infra` is an infra validation that failed: the model did not load or answer in time; see that step's report",
                ));
            }
            if let Some(checked) = props["model"].as_str()
                && checked != model.digest()
            {
                return Err(Error::invalid(format!(
                    "`infra` validated model {checked}, not the model being pushed ({}): bind the same model to both",
                    model.digest()
                )));
            }
        }
        fs::create_dir_all(&dir).map_err(|e| io(&dir, "create", e))?;
        let existing = versions(&dir)?;
        let live = current(&dir);
        let out = ctx.output("pushed")?;
        // The same model already current: nothing to push.
        if let Some(n) = live
            && version_meta(&dir, n).is_some_and(|m| m["model_digest"] == model.digest())
        {
            ctx.info(&format!("version {n} in {} already serves this model; nothing pushed", dir.display()));
            return finish(&out, &dir, n, live, false, &model, &graph);
        }
        // Write the version beside its final place, then rename it in.
        let step = ctx.step_id().replace(['/', '.'], "-");
        let mut n = existing.last().copied().unwrap_or(0).max(live.unwrap_or(0)) + 1;
        let tmp = dir.join(format!(".tmp-{n}-{step}"));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp).map_err(|e| io(&tmp, "create", e))?;
        let write = |name: &str, bytes: &[u8]| -> Result<(), Error> {
            let path = tmp.join(name);
            fs::write(&path, bytes).map_err(|e| io(&path, "write", e))
        };
        write("model.json", model.json("model.json")?.as_bytes())?;
        let weights = model.blob("weights.safetensors")?;
        write("weights.safetensors", &weights.read(0, weights.len())?)?;
        write("transform.json", graph.json("graph.json")?.as_bytes())?;
        let meta = |n: u64| {
            json!({
                "format": FORMAT,
                "version": n,
                "model_digest": model.digest(),
                "transform_digest": graph.digest(),
                "kind": spec["kind"],
                "label": spec["label"],
                "step": ctx.step_id(),
            })
        };
        let versions_dir = dir.join("versions");
        fs::create_dir_all(&versions_dir).map_err(|e| io(&versions_dir, "create", e))?;
        loop {
            write("version.json", serde_json::to_string_pretty(&meta(n)).unwrap_or_default().as_bytes())?;
            let target = versions_dir.join(n.to_string());
            if !target.exists() && fs::rename(&tmp, &target).is_ok() {
                break;
            }
            // Another push took this number.
            n += 1;
            if n > existing.last().copied().unwrap_or(0) + 1000 {
                let _ = fs::remove_dir_all(&tmp);
                return Err(Error::new(
                    ErrorKind::Other,
                    format!("cannot create a new version under `{}`", versions_dir.display()),
                ));
            }
        }
        set_current(&dir, n)?;
        ctx.info(&format!(
            "pushed version {n} to {} (previous: {})",
            dir.display(),
            live.map_or("none".into(), |v| v.to_string())
        ));
        // Old versions beyond `keep`, never the current one.
        if keep > 0 {
            let all = versions(&dir)?;
            let excess = all.len().saturating_sub(keep as usize);
            for old in all.into_iter().filter(|v| *v != n).take(excess) {
                let path = versions_dir.join(old.to_string());
                match fs::remove_dir_all(&path) {
                    Ok(()) => ctx.info(&format!("deleted version {old} (`keep = {keep}`)")),
                    Err(e) => ctx.warn(&format!("cannot delete old version `{}`: {e}", path.display())),
                }
            }
        }
        finish(&out, &dir, n, live, true, &model, &graph)
    }
}

/// The PushedModel: where, which version, which model, and whether this push made it.
fn finish(
    out: &Output,
    dir: &Path,
    n: u64,
    previous: Option<u64>,
    new: bool,
    model: &Artifact,
    graph: &Artifact,
) -> Result<(), Error> {
    let doc = json!({
        "format": FORMAT,
        "dir": dir.to_string_lossy(),
        "version": n,
        "path": dir.join("versions").join(n.to_string()).to_string_lossy(),
        "previous": previous,
        "new": new,
        "model_digest": model.digest(),
        "transform_digest": graph.digest(),
    });
    out.put_json("pushed.json", &doc.to_string())?;
    out.set_property("version", &n.to_string())?;
    out.set_property("dir", &Value::String(dir.to_string_lossy().into_owned()).to_string())?;
    out.set_property("model", &Value::String(model.digest()).to_string())?;
    out.set_property("new", &new.to_string())?;
    Ok(())
}

export!(Push);
