//! The ingest step shared by `csv_examples`, `jsonl_examples` and `parquet_examples`: pick the
//! files of a span, decode them with the host's `decoder` (or `from-parquet`) block by block,
//! drop rows whose label is null, split every row by a seeded hash, apply the bad-row policy,
//! and write an Examples artifact with one table per split.
//!
//! Properties written: `span` (the last span read, which `previous_span(...)` follows),
//! `spans`, `versions`, `files`, `format`, `rows` (all splits), `rows.SPLIT` for each split,
//! `bad_rows` (rows dropped), `columns`.

use crate::spans::{self, SpanSel};
use mlp_data::schema::Schema;
use mlp_sdk::{Decoder, Error, Invocation, Table};
use serde_json::json;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Comma- (or otherwise) separated values.
    Csv,
    /// One JSON object a line.
    Jsonl,
    /// Apache Parquet.
    Parquet,
}

impl Format {
    fn extensions(self) -> &'static [&'static str] {
        match self {
            Format::Csv => &["csv", "tsv", "txt"],
            Format::Jsonl => &["jsonl", "ndjson", "json"],
            Format::Parquet => &["parquet", "pq"],
        }
    }

    fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::Parquet => "parquet",
        }
    }
}

/// Bytes handed to the host's decoder at a time.
const BLOCK: usize = 8 << 20;
/// Bad rows listed in an error or a warning.
const SHOWN_BAD_ROWS: usize = 10;

/// What to do with bad rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Policy {
    Fail { max: u64 },
    Skip,
}

/// The split names and weights, checked.
fn split_weights(p: &mlp_sdk::Params) -> Result<(Vec<String>, Vec<u64>), Error> {
    let split = p.int_map("split")?;
    if split.is_empty() {
        return Err(Error::invalid("`split` names no split; write for example `split = { train = 8, eval = 2 }`"));
    }
    let mut names = Vec::new();
    let mut weights = Vec::new();
    for (name, w) in split {
        if w < 0 {
            return Err(Error::invalid(format!("split `{name}` has weight {w}; weights are 0 or more")));
        }
        names.push(name);
        weights.push(w as u64);
    }
    if weights.iter().all(|&w| w == 0) {
        return Err(Error::invalid("every split has weight 0; give at least one a positive weight"));
    }
    Ok((names, weights))
}

fn policy(p: &mlp_sdk::Params) -> Result<Policy, Error> {
    let max = p.opt_int("max_bad_rows")?.unwrap_or(0);
    if max < 0 {
        return Err(Error::invalid(format!("`max_bad_rows` is {max}; it must be 0 or more")));
    }
    match p.opt_string("bad_rows")?.as_deref().unwrap_or("fail") {
        "fail" => Ok(Policy::Fail { max: max as u64 }),
        "skip" => Ok(Policy::Skip),
        other => Err(Error::invalid(format!("`bad_rows` is {other:?}; write \"fail\" or \"skip\""))),
    }
}

/// Column types from a pinned schema, as the decoder's `types` option.
fn schema_types(ctx: &Invocation) -> Result<Option<serde_json::Value>, Error> {
    let Some(artifact) = ctx.input("schema") else { return Ok(None) };
    let schema: Schema = crate::json_part(&artifact, "schema.json")?;
    crate::check_format("schema", schema.format)?;
    let mut types = serde_json::Map::new();
    for f in &schema.features {
        types.insert(f.name.clone(), json!(f.kind.name()));
    }
    Ok(Some(serde_json::Value::Object(types)))
}

/// The decoder options of a CSV step.
fn csv_options(p: &mlp_sdk::Params, types: Option<serde_json::Value>) -> Result<serde_json::Value, Error> {
    let mut o = serde_json::Map::new();
    if let Some(d) = p.opt_string("delimiter")? {
        let d = if d == "\\t" { "\t".to_string() } else { d };
        o.insert("delimiter".into(), json!(d));
    }
    if let Some(h) = p.opt_bool("header")? {
        o.insert("header".into(), json!(h));
    }
    if p.has("columns") {
        o.insert("columns".into(), json!(p.strings("columns")?));
    }
    if p.has("null_values") {
        o.insert("null_values".into(), json!(p.strings("null_values")?));
    }
    if let Some(n) = p.opt_int("infer_rows")? {
        o.insert("infer_rows".into(), json!(n.max(1)));
    }
    if let Some(t) = types {
        o.insert("types".into(), t);
    }
    Ok(serde_json::Value::Object(o))
}

fn jsonl_options(p: &mlp_sdk::Params, types: Option<serde_json::Value>) -> Result<serde_json::Value, Error> {
    let mut o = serde_json::Map::new();
    if p.has("columns") {
        o.insert("columns".into(), json!(p.strings("columns")?));
    }
    if let Some(f) = p.opt_bool("flatten")? {
        o.insert("flatten".into(), json!(f));
    }
    if let Some(n) = p.opt_int("infer_rows")? {
        o.insert("infer_rows".into(), json!(n.max(1)));
    }
    if let Some(t) = types {
        o.insert("types".into(), t);
    }
    Ok(serde_json::Value::Object(o))
}

/// A bad row as the decoder reports it.
#[derive(serde::Deserialize)]
struct BadRow {
    file: String,
    line: u64,
    reason: String,
}

#[derive(serde::Deserialize)]
struct Report {
    rows: u64,
    bad_rows: u64,
    bad: Vec<BadRow>,
    #[serde(default)]
    notes: Vec<String>,
}

/// Everything decoded, split.
struct Collected {
    names: Vec<String>,
    parts: Vec<Vec<Table>>,
    /// Rows dropped because the label was null.
    null_labels: u64,
    rows: u64,
}

impl Collected {
    fn add(
        &mut self,
        t: Table,
        key: Option<&str>,
        label: Option<&str>,
        seed: u64,
        weights: &[u64],
    ) -> Result<(), Error> {
        let mut t = t;
        if let Some(label) = label {
            let columns = t.column_names();
            if !columns.iter().any(|c| c == label) {
                return Err(Error::not_found(format!("the label column `{label}` is not in the data"))
                    .with_detail(format!("the columns are: {}", columns.join(", "))));
            }
            let before = t.num_rows();
            t = t.filter(&format!("not is_null({label})"))?;
            self.null_labels += before - t.num_rows();
        }
        self.rows += t.num_rows();
        for (i, part) in t.split_by_hash(key, seed, weights)?.into_iter().enumerate() {
            if part.num_rows() > 0 || self.parts[i].is_empty() {
                self.parts[i].push(part);
            }
        }
        Ok(())
    }
}

fn read_file_blocks(path: &Path, mut each: impl FnMut(&[u8]) -> Result<(), Error>) -> Result<u64, Error> {
    let mut f =
        std::fs::File::open(path).map_err(|e| Error::not_found(format!("cannot open `{}`: {e}", path.display())))?;
    let mut buf = vec![0u8; BLOCK];
    let mut total = 0u64;
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            match f.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::data(format!("cannot read `{}`: {e}", path.display()))),
            }
        }
        if filled == 0 {
            return Ok(total);
        }
        total += filled as u64;
        each(&buf[..filled])?;
        if filled < buf.len() {
            return Ok(total);
        }
    }
}

fn bad_rows_text(bad: &[BadRow], total: u64) -> String {
    let mut s: Vec<String> =
        bad.iter().take(SHOWN_BAD_ROWS).map(|b| format!("{}:{}: {}", b.file, b.line, b.reason)).collect();
    if total > s.len() as u64 {
        s.push(format!("... and {} more", total - s.len() as u64));
    }
    s.join("\n")
}

/// Runs an ingest step of `format`.
pub fn run(ctx: &Invocation, format: Format) -> Result<(), Error> {
    let p = ctx.params()?;
    let input = PathBuf::from(p.string("input")?);
    let sel = SpanSel::parse(p.opt_string("span")?.as_deref().unwrap_or("latest"))?;
    let (names, weights) = split_weights(&p)?;
    let key = p.opt_string("split_key")?;
    let label = p.opt_string("label")?;
    let policy = policy(&p)?;
    let seed = p.opt_int("seed")?.unwrap_or(0) as u64;
    let types = schema_types(ctx)?;
    let pattern = p.opt_string("pattern")?;
    let selection = spans::select(&input, pattern.as_deref(), &sel, format.extensions())?;

    let mut collected =
        Collected { names: names.clone(), parts: names.iter().map(|_| Vec::new()).collect(), null_labels: 0, rows: 0 };
    let total_bytes: u64 =
        selection.files.iter().map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0)).sum::<u64>().max(1);
    let mut done_bytes = 0u64;
    let mut report = Report { rows: 0, bad_rows: 0, bad: Vec::new(), notes: Vec::new() };

    match format {
        Format::Csv | Format::Jsonl => {
            let options = if format == Format::Csv { csv_options(&p, types)? } else { jsonl_options(&p, types)? };
            let decoder = Decoder::open(format.name(), &options.to_string())?;
            // A table that does not fit (no label column) is often a file read wrongly: the
            // decoder's remarks (such as a likely other delimiter) go with the error.
            let with_notes = |e: Error| -> Error {
                let report: Option<Report> = serde_json::from_str(&decoder.report_json()).ok();
                match report.map(|r| r.notes).filter(|n| !n.is_empty()) {
                    Some(notes) => {
                        let detail = e.detail.clone().unwrap_or_default();
                        Error { detail: Some(format!("{}\n{detail}", notes.join("\n"))), ..e }
                    }
                    None => e,
                }
            };
            for file in &selection.files {
                let name = file.display().to_string();
                decoder.begin_file(&name)?;
                read_file_blocks(file, |block| {
                    for t in decoder.feed(block)? {
                        collected.add(t, key.as_deref(), label.as_deref(), seed, &weights).map_err(with_notes)?;
                    }
                    done_bytes += block.len() as u64;
                    ctx.progress(done_bytes as f32 / total_bytes as f32, &name);
                    Ok(())
                })?;
                for t in decoder.end_file()? {
                    collected.add(t, key.as_deref(), label.as_deref(), seed, &weights).map_err(with_notes)?;
                }
            }
            report = serde_json::from_str(&decoder.report_json()).map_err(|e| {
                Error::new(mlp_sdk::ErrorKind::Other, format!("the decoder's report is not valid: {e}"))
            })?;
        }
        Format::Parquet => {
            let columns = if p.has("columns") { Some(p.strings("columns")?) } else { None };
            for file in &selection.files {
                let bytes = std::fs::read(file)
                    .map_err(|e| Error::not_found(format!("cannot read `{}`: {e}", file.display())))?;
                done_bytes += bytes.len() as u64;
                let t = Table::from_parquet(&bytes, columns.as_deref())
                    .map_err(|e| Error { detail: Some(format!("in `{}`", file.display())), ..e })?;
                report.rows += t.num_rows();
                collected.add(t, key.as_deref(), label.as_deref(), seed, &weights)?;
                ctx.progress(done_bytes as f32 / total_bytes as f32, &file.display().to_string());
            }
        }
    }
    for note in &report.notes {
        ctx.warn(note);
    }

    let bad_total = report.bad_rows + collected.null_labels;
    let mut bad_text = bad_rows_text(&report.bad, report.bad_rows);
    if collected.null_labels > 0 {
        if !bad_text.is_empty() {
            bad_text.push('\n');
        }
        bad_text.push_str(&format!(
            "{} rows have no value for the label `{}`",
            collected.null_labels,
            label.as_deref().unwrap_or_default()
        ));
    }
    match policy {
        Policy::Fail { max } if bad_total > max => {
            return Err(Error::data(format!(
                "{bad_total} bad rows in the input, more than `max_bad_rows` = {max}; fix the data, raise `max_bad_rows`, or set `bad_rows = \"skip\"`"
            ))
            .with_detail(bad_text));
        }
        _ if bad_total > 0 => ctx.warn(&format!("dropped {bad_total} bad rows:\n{bad_text}")),
        _ => {}
    }
    if collected.rows == 0 {
        let files: Vec<String> = selection.files.iter().map(|f| f.display().to_string()).collect();
        return Err(Error::data("the input has no rows").with_detail(format!("read: {}", files.join(", "))));
    }

    let out = ctx.output("out")?;
    let mut columns = Vec::new();
    for (name, tables) in collected.names.iter().zip(&collected.parts) {
        let refs: Vec<&Table> = tables.iter().collect();
        let table = if refs.len() == 1 { refs[0].slice(0, refs[0].num_rows()) } else { Table::concat(&refs)? };
        if columns.is_empty() {
            columns = table.column_names();
        }
        out.set_property(&format!("rows.{name}"), &table.num_rows().to_string())?;
        out.put_table(name, &table)?;
    }
    let set = |k: &str, v: serde_json::Value| out.set_property(k, &v.to_string());
    set("rows", json!(collected.rows))?;
    set("bad_rows", json!(bad_total))?;
    set("format", json!(format.name()))?;
    set("files", json!(selection.files.len()))?;
    set("columns", json!(columns))?;
    if let Some(&last) = selection.spans.last() {
        set("span", json!(last))?;
        set("spans", json!(selection.spans))?;
        set("versions", json!(selection.versions))?;
    }
    ctx.info(&format!(
        "read {} rows from {} file(s){}: {}",
        collected.rows,
        selection.files.len(),
        match selection.spans.as_slice() {
            [] => String::new(),
            [s] => format!(" of span {s}"),
            s => format!(" of spans {}", s.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")),
        },
        collected
            .names
            .iter()
            .zip(&collected.parts)
            .map(|(n, t)| format!("{n} {}", t.iter().map(Table::num_rows).sum::<u64>()))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(())
}

/// The signature of the ingest component `name` for `format`, as `std/tabular.mlp` declares it.
pub fn signature(name: &str, format: Format) -> mlp_sdk::ComponentInfo {
    let mut b = mlp_sdk::info(name, env!("CARGO_PKG_VERSION"))
        .doc("Reads files into an Examples artifact, typed and split by a seeded hash.")
        .param("input", "path")
        .param_default(
            "split",
            "map<int>",
            r#"{"type": "map", "value": {"train": {"type": "int", "value": 8}, "eval": {"type": "int", "value": 2}}}"#,
        )
        .param("split_key", "string?")
        .param("label", "string?")
        .param("columns", "list<string>?")
        .param_default("bad_rows", "string", r#"{"type": "string", "value": "fail"}"#)
        .param_default("max_bad_rows", "int", r#"{"type": "int", "value": 0}"#)
        .param_default("span", "string", r#"{"type": "string", "value": "latest"}"#)
        .param("pattern", "string?")
        .param_default("seed", "int", r#"{"type": "int", "value": 0}"#);
    match format {
        Format::Csv => {
            b = b
                .optional_input("schema", "Schema")
                .param_default("delimiter", "string", r#"{"type": "string", "value": ","}"#)
                .param_default("header", "bool", r#"{"type": "bool", "value": true}"#)
                .param("null_values", "list<string>")
                .param_default("infer_rows", "int", r#"{"type": "int", "value": 10000}"#);
        }
        Format::Jsonl => {
            b = b
                .optional_input("schema", "Schema")
                .param_default("flatten", "bool", r#"{"type": "bool", "value": true}"#)
                .param_default("infer_rows", "int", r#"{"type": "int", "value": 10000}"#);
        }
        Format::Parquet => {}
    }
    b.output("out", "Examples").build()
}
