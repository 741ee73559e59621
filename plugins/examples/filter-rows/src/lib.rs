//! `filter_rows`: keeps the rows of every split where a predicate holds.
//!
//! The predicate is an expression in `.mlp` syntax over the columns (`x > 2 and city != "Cicero"`),
//! evaluated by the host's vectorized filter kernel.

use mlp_sdk::*;

struct FilterRows;

impl Plugin for FilterRows {
    fn describe() -> ComponentInfo {
        info("filter_rows", "0.1.0")
            .doc("Keeps the rows where `where` holds.")
            .input("examples", "Examples")
            .param("where", "string")
            .output("out", "Examples")
            .build()
    }

    fn run(ctx: &Invocation) -> Result<(), Error> {
        let predicate = ctx.params()?.string("where")?;
        let examples = ctx.require_input("examples")?;
        let out = ctx.output("out")?;
        for part in examples.parts() {
            let table = examples.table(&part)?;
            let kept = table.filter(&predicate)?;
            ctx.info(&format!("{part}: kept {} of {} rows", kept.num_rows(), table.num_rows()));
            out.put_table(&part, &kept)?;
        }
        Ok(())
    }
}

export!(FilterRows);
