//! Plain-text rendering of tables for the terminal (`mlp run --show`).

use mlp_kernels::data::Table;

/// The first `rows` rows of `t` as an aligned text table, numbers right-aligned. Floats are
/// shown with up to 6 significant decimals; nulls as `null`.
pub fn table_text(t: &Table, rows: usize) -> String {
    let fields = mlp_kernels::fields(t);
    let n = rows.min(t.num_rows());
    let mut cols: Vec<Vec<String>> = Vec::with_capacity(fields.len());
    let mut numeric = Vec::with_capacity(fields.len());
    for (name, dtype, _) in &fields {
        let is_num =
            matches!(dtype, mlp_kernels::DType::Int64 | mlp_kernels::DType::Float32 | mlp_kernels::DType::Float64);
        numeric.push(is_num);
        let mut cells = vec![name.clone()];
        let values = mlp_kernels::read_utf8(t, name, 0, n as u64).unwrap_or_default();
        cells.extend(values.into_iter().map(|v| match v {
            None => "null".to_string(),
            Some(s) if is_num => short_number(&s),
            Some(s) => s,
        }));
        cols.push(cells);
    }
    let widths: Vec<usize> = cols.iter().map(|c| c.iter().map(|s| s.chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for r in 0..=n {
        let line: Vec<String> = cols
            .iter()
            .zip(&widths)
            .zip(&numeric)
            .map(|((c, &w), &num)| {
                let cell = c.get(r).map(String::as_str).unwrap_or("");
                if num && r > 0 { format!("{cell:>w$}") } else { format!("{cell:<w$}") }
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
        if r == 0 {
            let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
            out.push_str(&rule.join("  "));
            out.push('\n');
        }
    }
    if t.num_rows() > n {
        out.push_str(&format!("... {} more rows\n", t.num_rows() - n));
    }
    out
}

fn short_number(s: &str) -> String {
    match s.parse::<f64>() {
        Ok(f) if s.contains('.') || s.contains('e') => {
            let t = format!("{f:.6}");
            let t = t.trim_end_matches('0').trim_end_matches('.');
            t.to_string()
        }
        _ => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Float64Array, Int64Array, RecordBatch, StringArray};
    use std::sync::Arc;

    #[test]
    fn tables_render_aligned_with_nulls_and_a_row_count() {
        let batch = RecordBatch::try_from_iter([
            ("id", Arc::new(Int64Array::from(vec![1, 22, 333])) as _),
            ("x", Arc::new(Float64Array::from(vec![Some(0.5), None, Some(1.0 / 3.0)])) as _),
            ("city", Arc::new(StringArray::from(vec!["a", "bb", "c"])) as _),
        ])
        .unwrap();
        let text = table_text(&Table::from_batch(batch), 2);
        assert_eq!(text, "id  x     city\n--  ----  ----\n 1   0.5  a\n22  null  bb\n... 1 more rows\n");
    }
}
