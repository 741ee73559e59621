//! `generate`: a synthetic Examples artifact, for trying pipelines without data files.
//!
//! Rows are drawn from a seeded generator, so the same parameters give the same table on every
//! run: an `id`, two features `x` and `z`, a categorical `city`, and a label `y` that depends on
//! them. `rows` rows are split `train`/`eval` by `eval_percent`. A `span` above 0 is recorded
//! as the artifact's `span` property (for `previous_span`).

use mlp_sdk::*;

struct Generate;

/// SplitMix64: small, fast and reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const CITIES: &[&str] = &["Chicago", "Evanston", "Oak Park", "Cicero", "Skokie"];

impl Plugin for Generate {
    fn describe() -> ComponentInfo {
        info("generate", "0.1.0")
            .doc("Synthetic examples from a seeded generator.")
            .param_default("rows", "int", r#"{"type":"int","value":1000}"#)
            .param_default("seed", "int", r#"{"type":"int","value":0}"#)
            .param_default("eval_percent", "int", r#"{"type":"int","value":20}"#)
            .param_default("span", "int", r#"{"type":"int","value":0}"#)
            .output("out", "Examples")
            .build()
    }

    fn run(ctx: &Invocation) -> Result<(), Error> {
        let p = ctx.params()?;
        let rows = p.opt_int("rows")?.unwrap_or(1000);
        let seed = p.opt_int("seed")?.unwrap_or(0);
        let eval_percent = p.opt_int("eval_percent")?.unwrap_or(20);
        if !(0..=10_000_000).contains(&rows) {
            return Err(Error::invalid(format!("`rows` must be between 0 and 10000000, not {rows}")));
        }
        if !(0..=100).contains(&eval_percent) {
            return Err(Error::invalid(format!("`eval_percent` must be between 0 and 100, not {eval_percent}")));
        }
        let mut rng = Rng(seed as u64);
        let out = ctx.output("out")?;
        let n_eval = rows * eval_percent / 100;
        for (part, n, first) in [("train", rows - n_eval, 0), ("eval", n_eval, rows - n_eval)] {
            let (mut id, mut x, mut z, mut city, mut y) = (vec![], vec![], vec![], vec![], vec![]);
            for i in 0..n {
                let xi = rng.unit() * 10.0;
                let zi = rng.unit() * 2.0 - 1.0;
                let c = CITIES[(rng.next() % CITIES.len() as u64) as usize];
                let noise = rng.unit() - 0.5;
                id.push(first + i);
                x.push(xi);
                // Every tenth `z` is missing, as real data has gaps.
                z.push(if i % 10 == 9 { None } else { Some(zi) });
                city.push(c);
                y.push(i64::from(0.3 * xi + 2.0 * zi + noise > 1.5));
            }
            let columns = vec![
                i64_column("id", id),
                f64_column("x", x),
                Column { name: "z".into(), values: ColumnValues::Float64(z) },
                utf8_column("city", city),
                i64_column("y", y),
            ];
            out.put_table(part, &Table::from_values(&columns)?)?;
        }
        out.set_property("rows", &rows.to_string())?;
        let span = p.opt_int("span")?.unwrap_or(0);
        if span > 0 {
            out.set_property("span", &span.to_string())?;
        }
        Ok(())
    }
}

export!(Generate);
