//! `import_schema` (std/tabular.mlp): reads a hand-curated schema file (the JSON layout
//! `infer_schema` writes), checks it with `mlp_data::infer::parse_schema`, and makes it a Schema
//! artifact a pipeline can pin instead of inferring one.

use mlp_sdk::*;

struct Import;

impl Plugin for Import {
    fn describe() -> ComponentInfo {
        info("import_schema", env!("CARGO_PKG_VERSION"))
            .doc("Reads a curated schema file.")
            .param("file", "path")
            .output("out", "Schema")
            .build()
    }

    fn run(ctx: &Invocation) -> Result<(), Error> {
        let file = ctx.params()?.string("file")?;
        let text = std::fs::read_to_string(&file).map_err(|e| {
            Error::not_found(format!("cannot read the schema file `{file}`: {e}"))
                .with_detail(format!("check that it exists, and that the step has `grant read {file}`"))
        })?;
        let schema = mlp_data::infer::parse_schema(&text).map_err(|e| Error::data(format!("{file}: {e}")))?;
        let out = ctx.output("out")?;
        mlp_std_common::put_json(&out, "schema.json", &schema)?;
        out.set_property("features", &schema.features.len().to_string())?;
        Ok(())
    }
}

export!(Import);
