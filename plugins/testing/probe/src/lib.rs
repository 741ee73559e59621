//! `probe`: a plugin for measuring and observing the host. `noop` does nothing (the cost of a
//! step), `echo` records which input artifact it got,
//! `calls` makes `n` cheap host calls (the cost of one guest-to-host call), and `stats`
//! computes column statistics of every column of the input's `train` table (a kernel called
//! from a guest, to compare with the same kernel called directly).

use mlp_sdk::*;

struct Probe;

impl Plugin for Probe {
    fn describe() -> ComponentInfo {
        info("probe", "0.1.0")
            .doc("Measures the host.")
            .optional_input("examples", "Examples")
            .param("mode", "string")
            .param_default("n", "int", r#"{"type":"int","value":0}"#)
            .optional_output("out", "Statistics")
            .build()
    }

    fn run(ctx: &Invocation) -> Result<(), Error> {
        let p = ctx.params()?;
        match p.string("mode")?.as_str() {
            "noop" => Ok(()),
            // Which artifact came in: its digest and span, or "none".
            "echo" => {
                let out = ctx.output("out")?;
                match ctx.input("examples") {
                    Some(a) => {
                        out.set_property("input", &format!("\"{}\"", a.digest()))?;
                        out.set_property("properties", &a.properties_json())
                    }
                    None => out.set_property("input", "\"none\""),
                }
            }
            "calls" => {
                let t = Table::from_values(&[i64_column("n", [1])])?;
                let mut sum = 0;
                for _ in 0..p.int("n")? {
                    sum += t.num_rows();
                }
                ctx.output("out")?.set_property("sum", &sum.to_string())
            }
            "stats" => {
                let table = ctx.require_input("examples")?.table("train")?;
                let mut total = 0.0;
                let fields = table.schema();
                for _ in 0..p.int("n")? {
                    for field in &fields {
                        total += table.column_stats(&field.name)?.mean.unwrap_or(0.0);
                    }
                }
                ctx.output("out")?.set_property("sum_of_means", &total.to_string())
            }
            other => Err(Error::invalid(format!("unknown mode `{other}`"))),
        }
    }
}

export!(Probe);
