//! `infer_schema` (std/tabular.mlp): a schema inferred from the statistics of one split, with
//! `mlp_data::infer`: types, presence, string domains, optional ranges, environments.

use mlp_data::infer::{InferOptions, infer_schema};
use mlp_data::stats::Statistics;
use mlp_sdk::*;

struct Infer;

impl Plugin for Infer {
    fn describe() -> ComponentInfo {
        info("infer_schema", env!("CARGO_PKG_VERSION"))
            .doc("Infers a schema from statistics.")
            .input("stats", "Statistics")
            .param_default("infer_domains", "bool", r#"{"type": "bool", "value": true}"#)
            .param_default("max_domain_size", "int", r#"{"type": "int", "value": 100}"#)
            .param_default("infer_ranges", "bool", r#"{"type": "bool", "value": false}"#)
            .param("not_at_serving", "list<string>")
            .param_default("split", "string", r#"{"type": "string", "value": "train"}"#)
            .output("out", "Schema")
            .build()
    }

    fn run(ctx: &Invocation) -> Result<(), Error> {
        let p = ctx.params()?;
        let stats_artifact = ctx.require_input("stats")?;
        let stats: Statistics = mlp_std_common::json_part(&stats_artifact, "statistics.json")?;
        mlp_std_common::check_format("statistics", stats.format)?;
        let split = p.opt_string("split")?.unwrap_or_else(|| "train".into());
        let Some(dataset) = stats.split(&split) else {
            return Err(Error::not_found(format!("the statistics have no split `{split}`"))
                .with_detail(format!("they have: {}", stats.splits().join(", "))));
        };
        let max_domain_size = p.opt_int("max_domain_size")?.unwrap_or(100);
        if max_domain_size < 0 {
            return Err(Error::invalid(format!("`max_domain_size` is {max_domain_size}; it must be 0 or more")));
        }
        let not_at_serving = p.strings("not_at_serving")?;
        for name in &not_at_serving {
            if dataset.feature(name).is_none() {
                return Err(Error::not_found(format!("`not_at_serving` names `{name}`, which is not a column")));
            }
        }
        let options = InferOptions {
            infer_domains: p.opt_bool("infer_domains")?.unwrap_or(true),
            max_domain_size: max_domain_size as usize,
            infer_ranges: p.opt_bool("infer_ranges")?.unwrap_or(false),
            not_at_serving,
        };
        let schema = infer_schema(dataset, &options);
        let out = ctx.output("out")?;
        mlp_std_common::put_json(&out, "schema.json", &schema)?;
        out.set_property("features", &schema.features.len().to_string())?;
        ctx.info(&format!("inferred a schema of {} features from split `{split}`", schema.features.len()));
        Ok(())
    }
}

export!(Infer);
