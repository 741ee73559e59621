//! `column_stats`: per-column statistics of every table of an Examples artifact, computed by
//! the host's kernels. An example of a plugin written only with `mlp-sdk`.
//!
//! For each part (split) of the input it writes one table to the output, one row per column:
//! count, nulls, mean, standard deviation, min, max, zeros and average length from the fused
//! `column-stats` kernel, the median from the quantile sketch, and the distinct count from
//! HyperLogLog.

use mlp_sdk::*;

struct ColumnStatsPlugin;

impl Plugin for ColumnStatsPlugin {
    fn describe() -> ComponentInfo {
        info("column_stats", "0.1.0")
            .doc("Per-column statistics of every split.")
            .input("examples", "Examples")
            .output("out", "Statistics")
            .build()
    }

    fn run(ctx: &Invocation) -> Result<(), Error> {
        let examples = ctx.require_input("examples")?;
        let out = ctx.output("out")?;
        let parts = examples.parts();
        for (i, part) in parts.iter().enumerate() {
            let table = examples.table(part)?;
            let mut names = Vec::new();
            let (
                mut count,
                mut nulls,
                mut mean,
                mut std_dev,
                mut min,
                mut max,
                mut zeros,
                mut avg_len,
                mut median,
                mut distinct,
            ) = (vec![], vec![], vec![], vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
            for field in table.schema() {
                let s = table.column_stats(&field.name)?;
                let numeric = s.mean.is_some();
                names.push(Some(field.name.clone()));
                count.push(Some(s.count as i64));
                nulls.push(Some(s.nulls as i64));
                mean.push(s.mean);
                std_dev.push(s.std_dev);
                min.push(s.min);
                max.push(s.max);
                zeros.push(s.zeros.map(|z| z as i64));
                avg_len.push(s.avg_length);
                median.push(if numeric && s.count > 0 {
                    table.quantiles(&field.name, &[0.5], 0.001)?.first().copied()
                } else {
                    None
                });
                distinct.push(Some(table.distinct_count(&field.name)? as i64));
            }
            let columns = vec![
                Column { name: "column".into(), values: ColumnValues::Utf8(names) },
                Column { name: "count".into(), values: ColumnValues::Int64(count) },
                Column { name: "nulls".into(), values: ColumnValues::Int64(nulls) },
                Column { name: "mean".into(), values: ColumnValues::Float64(mean) },
                Column { name: "std_dev".into(), values: ColumnValues::Float64(std_dev) },
                Column { name: "min".into(), values: ColumnValues::Float64(min) },
                Column { name: "max".into(), values: ColumnValues::Float64(max) },
                Column { name: "zeros".into(), values: ColumnValues::Int64(zeros) },
                Column { name: "avg_length".into(), values: ColumnValues::Float64(avg_len) },
                Column { name: "median".into(), values: ColumnValues::Float64(median) },
                Column { name: "distinct".into(), values: ColumnValues::Int64(distinct) },
            ];
            out.put_table(part, &Table::from_values(&columns)?)?;
            out.set_property(&format!("{part}.rows"), &table.num_rows().to_string())?;
            ctx.progress((i + 1) as f32 / parts.len() as f32, part);
        }
        ctx.info(&format!("described {} splits", parts.len()));
        Ok(())
    }
}

export!(ColumnStatsPlugin);
