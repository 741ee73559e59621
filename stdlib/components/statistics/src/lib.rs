//! `statistics` (std/tabular.mlp): TFDV-style statistics of every split of an Examples
//! artifact, and of each slice, from the host's streaming `profiler` kernel. Writes
//! `statistics.json` (the `mlp_data::stats::Statistics` layout) and `tfdv.json` (the same as a
//! TFDV `DatasetFeatureStatisticsList`, for Facets and TFDV tooling).

use mlp_data::stats::{DatasetStats, Statistics};
use mlp_sdk::*;
use serde_json::json;

struct Stats;

impl Plugin for Stats {
    fn describe() -> ComponentInfo {
        info("statistics", env!("CARGO_PKG_VERSION"))
            .doc("Per-column statistics of every split, and of each slice.")
            .input("examples", "Examples")
            .param_default("histogram_buckets", "int", r#"{"type": "int", "value": 10}"#)
            .param_default("top_k", "int", r#"{"type": "int", "value": 20}"#)
            .param_default("quantiles", "int", r#"{"type": "int", "value": 10}"#)
            .param("slice_by", "list<string>")
            .param_default("sample_rows", "int", r#"{"type": "int", "value": 0}"#)
            .output("out", "Statistics")
            .build()
    }

    fn run(ctx: &Invocation) -> Result<(), Error> {
        let p = ctx.params()?;
        let positive = |name: &str, default: i64| -> Result<i64, Error> {
            let v = p.opt_int(name)?.unwrap_or(default);
            if v < 1 {
                return Err(Error::invalid(format!("`{name}` is {v}; it must be at least 1")));
            }
            Ok(v)
        };
        let options = json!({
            "histogram_buckets": positive("histogram_buckets", 10)?,
            "top_k": positive("top_k", 20)?,
            "quantiles": positive("quantiles", 10)?,
            "slice_by": p.strings("slice_by")?,
        })
        .to_string();
        let sample = p.opt_int("sample_rows")?.unwrap_or(0);
        if sample < 0 {
            return Err(Error::invalid(format!("`sample_rows` is {sample}; it must be 0 (every row) or more")));
        }
        let examples = ctx.require_input("examples")?;
        let parts = examples.parts();
        let mut datasets = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            let mut table = examples.table(part)?;
            let rows = table.num_rows();
            if sample > 0 && rows > sample as u64 {
                // A seeded hash sample: the same rows on every run.
                table = table.split_by_hash(None, 0, &[sample as u64, rows - sample as u64])?.swap_remove(0);
            }
            let profiler = Profiler::open(&options)?;
            profiler.add(&table)?;
            let found: Vec<DatasetStats> = serde_json::from_str(&profiler.finish()?)
                .map_err(|e| Error::new(ErrorKind::Other, format!("the profiler's statistics are not valid: {e}")))?;
            for mut d in found {
                d.split = part.clone();
                datasets.push(d);
            }
            ctx.progress((i + 1) as f32 / parts.len() as f32, part);
        }
        let stats = Statistics { format: mlp_data::FORMAT, datasets };
        let out = ctx.output("out")?;
        mlp_std_common::put_json(&out, "statistics.json", &stats)?;
        mlp_std_common::put_json(&out, "tfdv.json", &mlp_data::tfdv::to_tfdv_json(&stats))?;
        // Carry the span, so `previous_span(stats.out)` finds the statistics of the span before.
        let props: serde_json::Value = serde_json::from_str(&examples.properties_json()).unwrap_or_default();
        if let Some(span) = props.get("span") {
            out.set_property("span", &span.to_string())?;
        }
        out.set_property("splits", &json!(stats.splits()).to_string())?;
        ctx.info(&format!(
            "statistics of {} columns in {} splits{}",
            stats.datasets.first().map_or(0, |d| d.features.len()),
            stats.splits().len(),
            match stats.datasets.iter().filter(|d| d.slice.is_some()).count() {
                0 => String::new(),
                n => format!(" and {n} slices"),
            }
        ));
        Ok(())
    }
}

export!(Stats);
