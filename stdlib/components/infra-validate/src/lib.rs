//! `infra_validate` (std/tabular.mlp): checks that a model can serve before it is pushed. It
//! loads the model and its transform through the same host kernels `mlp serve` runs (the
//! compiled TransformGraph without the label, then the model's forward pass), sends canary
//! requests of one row each, built from raw examples, and measures each request's latency.
//!
//! It passes when the model loads, names the transform it is given, fits in `max_memory`
//! (its weights plus the transform), every request answers with finite predictions, and the
//! 99th-percentile latency is at most `max_latency`. The InfraBlessing records every check with
//! its numbers, and the properties `blessed` (read by `when STEP.blessing` and by `push`) and
//! `model` (the digest checked, so `push` can refuse a validation of another model).

use mlp_sdk::*;
use serde_json::{Value, json};
use std::time::Instant;

struct InfraValidate;

/// The value of `p` (0..=1) of sorted `v` by the nearest-rank method.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

impl Plugin for InfraValidate {
    fn describe() -> ComponentInfo {
        info("infra_validate", env!("CARGO_PKG_VERSION"))
            .doc("Loads a model with its transform as serving does and checks canary requests.")
            .input("model", "Model")
            .input("graph", "TransformGraph")
            .input("examples", "Examples")
            .param_default("split", "string", r#"{"type": "string", "value": "eval"}"#)
            .param_default("requests", "int", r#"{"type": "int", "value": 100}"#)
            .param_default("max_latency", "duration", r#"{"type": "duration", "value": 50}"#)
            .param_default("max_memory", "size", r#"{"type": "size", "value": 1073741824}"#)
            .output("blessing", "InfraBlessing")
            .build()
    }

    fn run(ctx: &Invocation) -> Result<(), Error> {
        let p = ctx.params()?;
        let split = p.opt_string("split")?.unwrap_or_else(|| "eval".into());
        let requests = p.opt_int("requests")?.unwrap_or(100);
        if requests < 1 {
            return Err(Error::invalid(format!("`requests` is {requests}; send at least 1")));
        }
        let raw = |name: &str| -> Result<Option<u64>, Error> {
            Ok(p.raw(name).and_then(|v| v.get("value").or(Some(v))).and_then(Value::as_u64))
        };
        let max_latency_ms = raw("max_latency")?.unwrap_or(50) as f64;
        let max_memory = raw("max_memory")?.unwrap_or(1 << 30);

        let model_artifact = ctx.require_input("model")?;
        let graph_artifact = ctx.require_input("graph")?;
        let examples = ctx.require_input("examples")?;
        if !examples.parts().contains(&split) {
            return Err(Error::invalid(format!(
                "the examples have no split `{split}` (splits: {})",
                examples.parts().join(", ")
            )));
        }
        let mut checks = Vec::new();
        let mut check = |name: &str, passed: bool, detail: Value| {
            checks.push(json!({ "check": name, "passed": passed, "detail": detail }));
            passed
        };

        // Load as serving does, timing it.
        let started = Instant::now();
        let weights = model_artifact.blob("weights.safetensors")?;
        let weights_bytes = weights.len();
        let loaded = Model::load(&model_artifact.json("model.json")?, &weights);
        let model = match loaded {
            Ok(m) => m,
            Err(e) => {
                check("loads", false, json!({ "error": e.message }));
                return finish(ctx, &model_artifact, false, checks, json!({}));
            }
        };
        let graph_json = graph_artifact.json("graph.json")?;
        let digest_ok = model.transform_digest().is_none_or(|want| want == graph_artifact.digest());
        check(
            "transform",
            digest_ok,
            json!({ "model_expects": model.transform_digest(), "given": graph_artifact.digest() }),
        );
        let label = model.label();
        let graph: Value = serde_json::from_str(&graph_json).unwrap_or(Value::Null);
        let mut transform = Transform::load(&graph_json)?;
        if graph["features"].as_array().is_some_and(|f| f.iter().any(|f| f["name"] == label.as_str())) {
            transform = transform.without(std::slice::from_ref(&label))?;
        }
        let load_ms = started.elapsed().as_secs_f64() * 1e3;
        check("loads", true, json!({ "load_ms": load_ms }));
        let footprint = weights_bytes + graph_json.len() as u64;
        check("memory", footprint <= max_memory, json!({ "bytes": footprint, "max_bytes": max_memory }));

        // Canary requests: one row each.
        let table = examples.table(&split)?;
        let n = table.num_rows().min(requests as u64);
        if n == 0 {
            return Err(Error::data(format!("split `{split}` has no rows to build requests from")));
        }
        let mut latencies = Vec::with_capacity(n as usize);
        let mut failures = Vec::new();
        for r in 0..n {
            let row = table.slice(r, 1);
            let t = Instant::now();
            let answer = transform.apply(&row).and_then(|f| model.predict(&f));
            let ms = t.elapsed().as_secs_f64() * 1e3;
            match answer.and_then(|a| Tensor::from_columns(&a, &["prediction".to_string()])?.to_f32()) {
                Ok(v) if v.iter().all(|x| x.is_finite()) => latencies.push(ms),
                Ok(v) => failures.push(json!({ "row": r, "error": format!("non-finite prediction {v:?}") })),
                Err(e) => failures.push(json!({ "row": r, "error": e.message })),
            }
        }
        check(
            "answers",
            failures.is_empty(),
            json!({ "requests": n, "failed": failures.len(), "first_failures": failures.iter().take(5).collect::<Vec<_>>() }),
        );
        latencies.sort_by(f64::total_cmp);
        let (p50, p99) = (percentile(&latencies, 0.5), percentile(&latencies, 0.99));
        check("latency", p99 <= max_latency_ms, json!({ "p50_ms": p50, "p99_ms": p99, "max_ms": max_latency_ms }));
        let blessed = checks.iter().all(|c| c["passed"] == true);
        ctx.info(&format!(
            "{n} requests: p50 {p50:.3} ms, p99 {p99:.3} ms (limit {max_latency_ms} ms), {} failed; load {load_ms:.1} ms; {}",
            failures.len(),
            if blessed { "passed" } else { "FAILED" }
        ));
        let stats =
            json!({ "requests": n, "p50_ms": p50, "p99_ms": p99, "load_ms": load_ms, "max_ms": latencies.last() });
        finish(ctx, &model_artifact, blessed, checks, stats)
    }
}

/// Writes the InfraBlessing.
fn finish(ctx: &Invocation, model: &Artifact, blessed: bool, checks: Vec<Value>, stats: Value) -> Result<(), Error> {
    let out = ctx.output("blessing")?;
    let doc = json!({ "blessed": blessed, "model": model.digest(), "checks": checks, "latency": stats });
    out.put_json("infra.json", &serde_json::to_string_pretty(&doc).unwrap_or_default())?;
    out.set_property("blessed", &blessed.to_string())?;
    out.set_property("model", &json!(model.digest()).to_string())?;
    if let Some(p99) = stats["p99_ms"].as_f64() {
        out.set_property("p99_ms", &json!(p99).to_string())?;
    }
    if !blessed {
        ctx.warn("the model did not pass infra validation; see the checks in infra.json");
    }
    Ok(())
}

export!(InfraValidate);
