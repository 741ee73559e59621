//! `validate` (std/tabular.mlp): checks statistics against a schema, against the previous
//! span's statistics (drift) and against serving statistics (skew), with `mlp_data::validate`,
//! and writes the Anomalies artifact (`anomalies.json`). With `fail_on_anomalies`, an anomaly of
//! severity error fails the step, listing what was found.

use mlp_data::anomalies::{Measure, Severity};
use mlp_data::schema::Schema;
use mlp_data::stats::Statistics;
use mlp_data::validate::{ValidateOptions, validate};
use mlp_sdk::*;
use serde_json::json;

struct Validate;

fn measure(feature: &str, name: &str) -> Result<Measure, Error> {
    match name {
        "linf" | "l_infinity" => Ok(Measure::LInfinity),
        "js" | "jensen_shannon" => Ok(Measure::JensenShannon),
        "nad" | "normalized_abs_difference" => Ok(Measure::NormalizedAbsoluteDifference),
        other => Err(Error::invalid(format!(
            "`measures` gives `{feature}` the measure {other:?}; the measures are \"linf\", \"js\" and \"nad\""
        ))),
    }
}

fn stats_of(ctx: &Invocation, port: &str) -> Result<Option<Statistics>, Error> {
    let Some(a) = ctx.input(port) else { return Ok(None) };
    let s: Statistics = mlp_std_common::json_part(&a, "statistics.json")?;
    mlp_std_common::check_format("statistics", s.format)?;
    Ok(Some(s))
}

impl Plugin for Validate {
    fn describe() -> ComponentInfo {
        info("validate", env!("CARGO_PKG_VERSION"))
            .doc("Checks statistics against a schema, a previous span and serving data.")
            .input("stats", "Statistics")
            .input("schema", "Schema")
            .optional_input("previous", "Statistics")
            .optional_input("serving", "Statistics")
            .param("drift", "map<float>")
            .param("skew", "map<float>")
            .param("measures", "map<string>")
            .param("environment", "string?")
            .param_default("fail_on_anomalies", "bool", r#"{"type": "bool", "value": true}"#)
            .output("anomalies", "Anomalies")
            .build()
    }

    fn run(ctx: &Invocation) -> Result<(), Error> {
        let p = ctx.params()?;
        let stats = stats_of(ctx, "stats")?.ok_or_else(|| Error::not_found("no input is bound to `stats`"))?;
        let schema_artifact = ctx.require_input("schema")?;
        let schema: Schema = mlp_std_common::json_part(&schema_artifact, "schema.json")?;
        mlp_std_common::check_format("schema", schema.format)?;
        let previous = stats_of(ctx, "previous")?;
        let serving = stats_of(ctx, "serving")?;
        let thresholds = |name: &str| -> Result<Vec<(String, f64)>, Error> {
            let t = p.float_map(name)?;
            for (f, v) in &t {
                if !(v.is_finite() && *v >= 0.0) {
                    return Err(Error::invalid(format!(
                        "`{name}` gives `{f}` the threshold {v}; thresholds are 0 or more"
                    )));
                }
            }
            Ok(t)
        };
        let drift = thresholds("drift")?;
        let skew = thresholds("skew")?;
        if !drift.is_empty() && previous.is_none() {
            ctx.warn("`drift` thresholds are set but no `previous` statistics were given: drift is not checked");
        }
        if !skew.is_empty() && serving.is_none() {
            ctx.warn("`skew` thresholds are set but no `serving` statistics were given: skew is not checked");
        }
        let measures = p
            .string_map("measures")?
            .into_iter()
            .map(|(f, m)| Ok((f.clone(), measure(&f, &m)?)))
            .collect::<Result<Vec<_>, Error>>()?;
        let options = ValidateOptions {
            environment: p.opt_string("environment")?,
            previous: previous.as_ref(),
            serving: serving.as_ref(),
            drift,
            skew,
            measures,
            ..ValidateOptions::default()
        };
        let anomalies = validate(&stats, &schema, &options);
        let out = ctx.output("anomalies")?;
        mlp_std_common::put_json(&out, "anomalies.json", &anomalies)?;
        let errors: Vec<_> = anomalies.anomalies.iter().filter(|a| a.severity == Severity::Error).collect();
        out.set_property("anomalies", &json!(anomalies.anomalies.len()).to_string())?;
        out.set_property("errors", &json!(errors.len()).to_string())?;
        out.set_property(
            "drifted",
            &json!(anomalies.drift.iter().filter(|d| d.exceeded).map(|d| &d.feature).collect::<Vec<_>>()).to_string(),
        )?;
        for w in &anomalies.warnings {
            ctx.warn(w);
        }
        for a in &anomalies.anomalies {
            let line = format!("{} {} [{}]: {}", a.code.as_str(), a.feature, a.split, a.description);
            if a.severity == Severity::Error { ctx.warn(&line) } else { ctx.info(&line) }
        }
        if p.opt_bool("fail_on_anomalies")?.unwrap_or(true) && !errors.is_empty() {
            let list: Vec<String> = errors
                .iter()
                .take(20)
                .map(|a| format!("{}: {}", if a.feature.is_empty() { "(dataset)" } else { &a.feature }, a.description))
                .collect();
            return Err(Error::data(format!(
                "{} anomalies found; fix the data or the schema, or set `fail_on_anomalies = false` to only report them",
                errors.len()
            ))
            .with_detail(list.join("\n")));
        }
        ctx.info(&format!("{} anomalies", anomalies.anomalies.len()));
        Ok(())
    }
}

export!(Validate);
