//! Streaming JSON Lines decoding with bad-row reporting: the JSONL half of the ingest kernels
//! (next to [`crate::csv`], with the same shape: `begin_file` / `feed` / `end_file`, batches as
//! [`Table`]s in file order, [`BadRow`]s with 1-based line numbers).
//!
//! Each non-blank line must be one JSON object. Its keys become columns: in the order they are
//! first seen in the first `infer_rows` objects of the first file (or as given in `columns`).
//! With `flatten`, nested objects become `outer_inner` columns (recursively); otherwise nested
//! objects and arrays are kept as JSON text in a utf8 column. Column types are inferred from
//! the same sample (int64; float64 when ints and floats mix; boolean; utf8 for strings, nested
//! values and anything mixed) unless given in `types`, and are fixed from then on.
//!
//! A line that is not a JSON object, or a value that does not fit its column's type, makes the
//! line a bad row; blank lines are skipped. A utf8 column takes any value (non-strings as their
//! JSON text). Keys first seen after the sample are ignored and counted; [`JsonlDecoder::notes`]
//! says which. Decoding is single-threaded (serde_json into an order-preserving value, then
//! Arrow builders).

use crate::csv::{BadRow, BadRows};
use crate::data::Table;
use crate::error::{ErrorKind, KernelError, Result};
use crate::schema::DType;
use arrow_array::builder::{
    BooleanBuilder, Float32Builder, Float64Builder, Int64Builder, StringBuilder, StringDictionaryBuilder,
    TimestampMillisecondBuilder,
};
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{Field, Schema, SchemaRef};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

/// How many bad lines the inference sample may hold besides its objects.
const MAX_SAMPLE_BAD: usize = 10_000;

/// How many distinct ignored keys are named in [`JsonlDecoder::notes`] (all are counted).
const MAX_NAMED_KEYS: usize = 20;

/// Options of a [`JsonlDecoder`].
#[derive(Clone, Debug, PartialEq)]
pub struct JsonlOptions {
    /// The columns to read, in this order (flattened names when `flatten`); other keys are
    /// skipped. `None`: every key of the inference sample, in order of first appearance.
    pub columns: Option<Vec<String>>,
    /// Nested objects become `outer_inner` columns; otherwise they are kept as JSON text.
    pub flatten: bool,
    /// Types of some or all columns, by name; those columns are not inferred.
    pub types: Option<Vec<(String, DType)>>,
    /// How many objects of the first file the columns and types come from. Default 10 000.
    pub infer_rows: usize,
    /// The most rows in one output batch. Default 65 536.
    pub batch_rows: usize,
}

impl Default for JsonlOptions {
    fn default() -> JsonlOptions {
        JsonlOptions { columns: None, flatten: false, types: None, infer_rows: 10_000, batch_rows: 65_536 }
    }
}

/// A JSON value that keeps the order of object keys (serde_json's `Value` sorts them).
#[derive(Clone, Debug, PartialEq)]
enum J {
    Null,
    Bool(bool),
    I(i64),
    U(u64),
    F(f64),
    S(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl<'de> Deserialize<'de> for J {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<J, D::Error> {
        d.deserialize_any(JVisitor)
    }
}

struct JVisitor;

impl<'de> Visitor<'de> for JVisitor {
    type Value = J;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> std::result::Result<J, E> {
        Ok(J::Null)
    }
    fn visit_bool<E>(self, v: bool) -> std::result::Result<J, E> {
        Ok(J::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<J, E> {
        Ok(J::I(v))
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<J, E> {
        Ok(i64::try_from(v).map_or(J::U(v), J::I))
    }
    fn visit_f64<E>(self, v: f64) -> std::result::Result<J, E> {
        Ok(J::F(v))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<J, E> {
        Ok(J::S(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> std::result::Result<J, E> {
        Ok(J::S(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<J, A::Error> {
        let mut v = Vec::new();
        while let Some(x) = seq.next_element()? {
            v.push(x);
        }
        Ok(J::Arr(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<J, A::Error> {
        let mut v = Vec::new();
        while let Some((k, x)) = map.next_entry::<String, J>()? {
            v.push((k, x));
        }
        Ok(J::Obj(v))
    }
}

impl J {
    /// The value as compact JSON text, keys in their original order.
    fn write_json(&self, out: &mut String) {
        match self {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::I(i) => out.push_str(&i.to_string()),
            J::U(u) => out.push_str(&u.to_string()),
            J::F(f) => match serde_json::Number::from_f64(*f) {
                Some(n) => out.push_str(&n.to_string()),
                None => out.push_str("null"),
            },
            J::S(s) => push_json_string(out, s),
            J::Arr(items) => {
                out.push('[');
                for (i, x) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    x.write_json(out);
                }
                out.push(']');
            }
            J::Obj(entries) => {
                out.push('{');
                for (i, (k, x)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    push_json_string(out, k);
                    out.push(':');
                    x.write_json(out);
                }
                out.push('}');
            }
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            J::Null => "null",
            J::Bool(_) => "a boolean",
            J::I(_) | J::U(_) => "an integer",
            J::F(_) => "a number",
            J::S(_) => "a string",
            J::Arr(_) => "an array",
            J::Obj(_) => "an object",
        }
    }

    fn kind(&self) -> u8 {
        match self {
            J::Null => 0,
            J::Bool(_) => K_BOOL,
            J::I(_) => K_INT,
            J::U(_) | J::F(_) => K_FLOAT,
            J::S(_) => K_TEXT,
            J::Arr(_) | J::Obj(_) => K_NESTED,
        }
    }
}

fn push_json_string(out: &mut String, s: &str) {
    match serde_json::to_string(s) {
        Ok(t) => out.push_str(&t),
        Err(_) => out.push_str("\"\""),
    }
}

const K_BOOL: u8 = 1;
const K_INT: u8 = 2;
const K_FLOAT: u8 = 4;
const K_TEXT: u8 = 8;
const K_NESTED: u8 = 16;

fn kind_dtype(kind: u8) -> DType {
    match kind {
        K_BOOL => DType::Boolean,
        K_INT => DType::Int64,
        K_FLOAT | 6 => DType::Float64,
        _ => DType::Utf8,
    }
}

/// One parsed line: its 1-based line number and its flattened entries, or why it is bad.
type Sampled = (String, u64, std::result::Result<Vec<(String, J)>, String>);

/// A streaming JSON Lines decoder over one or more files. See the module doc.
#[derive(Debug)]
pub struct JsonlDecoder {
    columns: Option<Vec<String>>,
    flatten: bool,
    given: Vec<(String, DType)>,
    infer_rows: usize,
    batch_rows: usize,
    schema: Option<SchemaRef>,
    /// Column index by name.
    index: HashMap<String, usize>,
    types: Vec<DType>,
    inferred: Vec<bool>,
    inferred_from: String,
    /// Objects read before the schema was fixed (the inference sample).
    sample: Vec<Sampled>,
    sampled_objects: usize,
    builders: Builders,
    built: usize,
    file: Option<JsonlFile>,
    rows: u64,
    bad: BadRows,
    ignored: BTreeMap<String, u64>,
    ignored_total: u64,
    ignored_rows: u64,
}

#[derive(Debug)]
struct JsonlFile {
    name: String,
    /// The incomplete last line.
    buf: Vec<u8>,
    /// The line number of `buf[0]`.
    line: u64,
    bom_checked: bool,
}

impl JsonlDecoder {
    /// A decoder with `options` (checked: the batch size, the column names and types).
    pub fn new(options: JsonlOptions) -> Result<JsonlDecoder> {
        if options.batch_rows == 0 {
            return Err(KernelError::invalid("batch_rows must be at least 1"));
        }
        if let Some(cols) = &options.columns {
            for (i, c) in cols.iter().enumerate() {
                if c.is_empty() {
                    return Err(KernelError::invalid(format!("`columns`: column {} has an empty name", i + 1)));
                }
                if cols[..i].contains(c) {
                    return Err(KernelError::invalid(format!("`columns`: `{c}` is named twice")));
                }
            }
        }
        let given = options.types.clone().unwrap_or_default();
        for (name, dtype) in &given {
            if matches!(dtype, DType::Other) {
                return Err(KernelError::invalid(format!("column `{name}`: a JSON column cannot be of type other")));
            }
            if let Some(cols) = &options.columns
                && !cols.contains(name)
            {
                return Err(KernelError::new(
                    ErrorKind::NotFound,
                    format!("`types` names column `{name}`, which `columns` does not list"),
                )
                .with_detail(format!("columns: {}", cols.join(", "))));
            }
        }
        Ok(JsonlDecoder {
            columns: options.columns,
            flatten: options.flatten,
            given,
            infer_rows: options.infer_rows,
            batch_rows: options.batch_rows,
            schema: None,
            index: HashMap::new(),
            types: Vec::new(),
            inferred: Vec::new(),
            inferred_from: String::new(),
            sample: Vec::new(),
            sampled_objects: 0,
            builders: Builders(Vec::new()),
            built: 0,
            file: None,
            rows: 0,
            bad: BadRows::default(),
            ignored: BTreeMap::new(),
            ignored_total: 0,
            ignored_rows: 0,
        })
    }

    /// Start a new file: line numbers start over; `name` is used in bad rows.
    pub fn begin_file(&mut self, name: &str) -> Result<()> {
        if let Some(f) = &self.file {
            return Err(KernelError::invalid(format!(
                "begin_file(`{name}`) while `{}` is still open; call end_file first",
                f.name
            )));
        }
        self.file = Some(JsonlFile { name: name.to_string(), buf: Vec::new(), line: 1, bom_checked: false });
        Ok(())
    }

    /// Feed the next block of the current file (any size, split anywhere). Returns the full
    /// batches decoded so far.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<Table>> {
        let mut f = self.file.take().ok_or_else(|| KernelError::invalid("feed without begin_file"))?;
        f.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        let r = self.lines(&mut f, false, &mut out);
        self.file = Some(f);
        r.map(|()| out)
    }

    /// End of the current file: decodes the last line (which may lack a newline) and returns the
    /// remaining rows.
    pub fn end_file(&mut self) -> Result<Vec<Table>> {
        let mut f = self.file.take().ok_or_else(|| KernelError::invalid("end_file without begin_file"))?;
        let mut out = Vec::new();
        self.lines(&mut f, true, &mut out)?;
        if self.schema.is_none() {
            self.fix_schema(&f.name, &mut out)?;
        }
        self.flush(&mut out)?;
        Ok(out)
    }

    /// The schema of the batches: known once the first file's sample is read.
    pub fn schema(&self) -> Option<SchemaRef> {
        self.schema.clone()
    }

    /// Good rows emitted so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The bad rows so far, in order (the first [`crate::csv::MAX_STORED_BAD_ROWS`]).
    pub fn bad_rows(&self) -> &[BadRow] {
        &self.bad.rows
    }

    /// How many bad rows there were, stored or not.
    pub fn bad_row_count(&self) -> u64 {
        self.bad.count
    }

    /// Remarks for the user that are not errors: keys ignored because they were not in the
    /// inference sample.
    pub fn notes(&self) -> Vec<String> {
        if self.ignored_total == 0 {
            return Vec::new();
        }
        let mut names: Vec<String> = self.ignored.iter().map(|(k, n)| format!("`{k}` ({n})")).collect();
        let distinct = self.ignored.len();
        if distinct >= MAX_NAMED_KEYS {
            names.push("…".to_string());
        }
        vec![format!(
            "{} values in {} rows were ignored because their keys were not among the columns taken from the first {} \
             rows: {}; give `columns` and `types` to read them",
            self.ignored_total,
            self.ignored_rows,
            self.infer_rows,
            names.join(", ")
        )]
    }

    /// How many values of keys outside the schema were ignored.
    pub fn ignored_values(&self) -> u64 {
        self.ignored_total
    }

    fn lines(&mut self, f: &mut JsonlFile, eof: bool, out: &mut Vec<Table>) -> Result<()> {
        if !f.bom_checked {
            const BOM: &[u8] = b"\xEF\xBB\xBF";
            if f.buf.len() >= BOM.len() || eof {
                if f.buf.starts_with(BOM) {
                    f.buf.drain(..BOM.len());
                }
                f.bom_checked = true;
            } else if BOM.starts_with(&f.buf) {
                return Ok(());
            } else {
                f.bom_checked = true;
            }
        }
        let buf = std::mem::take(&mut f.buf);
        let mut start = 0;
        let mut result = Ok(());
        while start < buf.len() {
            let end = match memchr::memchr(b'\n', &buf[start..]) {
                Some(i) => start + i,
                None if eof => buf.len(),
                None => break,
            };
            let line = f.line;
            f.line += 1;
            let text = &buf[start..end];
            start = (end + 1).min(buf.len());
            if let Err(e) = self.line(&f.name, line, text, out) {
                result = Err(e);
                break;
            }
        }
        f.buf = buf;
        f.buf.drain(..start);
        result
    }

    fn line(&mut self, file: &str, line: u64, text: &[u8], out: &mut Vec<Table>) -> Result<()> {
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if text.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let parsed = self.parse_line(text);
        if self.schema.is_some() {
            return self.add_row(file, line, parsed, out);
        }
        if parsed.is_ok() {
            self.sampled_objects += 1;
        }
        self.sample.push((file.to_string(), line, parsed));
        // Bad lines do not count toward the sample, but they may not grow it without bound.
        if self.sampled_objects >= self.infer_rows
            || self.sample.len() >= self.infer_rows.saturating_add(MAX_SAMPLE_BAD)
        {
            self.fix_schema(file, out)?;
        }
        Ok(())
    }

    fn parse_line(&self, text: &[u8]) -> std::result::Result<Vec<(String, J)>, String> {
        if let Err(e) = std::str::from_utf8(text) {
            return Err(format!("invalid UTF-8 at byte {} of the line", e.valid_up_to() + 1));
        }
        let value: J = serde_json::from_slice(text).map_err(|e| {
            let msg = e.to_string();
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            format!("not valid JSON: {msg} at column {}", e.column())
        })?;
        match value {
            J::Obj(entries) => {
                let mut flat = Vec::with_capacity(entries.len());
                if self.flatten {
                    flatten_into("", entries, &mut flat);
                } else {
                    flat = entries;
                }
                Ok(flat)
            }
            other => Err(format!("the line is {}, not a JSON object", other.describe())),
        }
    }

    fn fix_schema(&mut self, file: &str, out: &mut Vec<Table>) -> Result<()> {
        let mut names: Vec<String> = Vec::new();
        let mut kinds: Vec<u8> = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        if let Some(cols) = &self.columns {
            for c in cols {
                seen.insert(c.clone(), names.len());
                names.push(c.clone());
                kinds.push(0);
            }
        }
        let fixed = self.columns.is_some();
        for (_, _, parsed) in &self.sample {
            let Ok(entries) = parsed else { continue };
            for (k, v) in entries {
                let i = match seen.get(k) {
                    Some(&i) => i,
                    None if fixed => continue,
                    None => {
                        seen.insert(k.clone(), names.len());
                        names.push(k.clone());
                        kinds.push(0);
                        names.len() - 1
                    }
                };
                kinds[i] |= v.kind();
            }
        }
        for (name, _) in &self.given {
            if !seen.contains_key(name) {
                // A typed column the sample never showed: still a column.
                seen.insert(name.clone(), names.len());
                names.push(name.clone());
                kinds.push(0);
            }
        }
        let mut fields = Vec::with_capacity(names.len());
        for (name, kind) in names.iter().zip(&kinds) {
            let (dtype, inferred) = match self.given.iter().find(|(g, _)| g == name) {
                Some((_, d)) => (*d, false),
                None => (kind_dtype(*kind), true),
            };
            let dt = dtype.to_arrow().ok_or_else(|| KernelError::invalid("a JSON column cannot be of type other"))?;
            fields.push(Field::new(name, dt, true));
            self.types.push(dtype);
            self.inferred.push(inferred);
        }
        self.index = seen;
        self.inferred_from = file.to_string();
        self.schema = Some(Arc::new(Schema::new(fields)));
        self.builders = Builders(self.types.iter().map(|&t| ColumnBuilder::new(t, self.batch_rows)).collect());
        for (file, line, parsed) in std::mem::take(&mut self.sample) {
            self.add_row(&file, line, parsed, out)?;
        }
        Ok(())
    }

    fn add_row(
        &mut self,
        file: &str,
        line: u64,
        parsed: std::result::Result<Vec<(String, J)>, String>,
        out: &mut Vec<Table>,
    ) -> Result<()> {
        let entries = match parsed {
            Ok(e) => e,
            Err(reason) => {
                self.bad.push(file, line, reason);
                return Ok(());
            }
        };
        let mut cells: Vec<Option<J>> = vec![None; self.types.len()];
        let mut ignored = 0;
        for (k, v) in entries {
            match self.index.get(&k) {
                Some(&i) => cells[i] = Some(v),
                None => {
                    if self.columns.is_none() {
                        ignored += 1;
                        self.ignored_total += 1;
                        if let Some(n) = self.ignored.get_mut(&k) {
                            *n += 1;
                        } else if self.ignored.len() < MAX_NAMED_KEYS {
                            self.ignored.insert(k, 1);
                        }
                    }
                }
            }
        }
        if ignored > 0 {
            self.ignored_rows += 1;
        }
        let mut values = Vec::with_capacity(cells.len());
        for (i, cell) in cells.into_iter().enumerate() {
            match convert(self.types[i], cell) {
                Ok(v) => values.push(v),
                Err(value) => {
                    let reason = self.bad_value(i, &value);
                    self.bad.push(file, line, reason);
                    return Ok(());
                }
            }
        }
        for (b, v) in self.builders.0.iter_mut().zip(values) {
            b.append(v);
        }
        self.built += 1;
        if self.built >= self.batch_rows {
            self.flush(out)?;
        }
        Ok(())
    }

    fn bad_value(&self, i: usize, value: &J) -> String {
        let Some(schema) = &self.schema else { return String::new() };
        let name = schema.field(i).name();
        let dtype = self.types[i];
        let mut text = String::new();
        value.write_json(&mut text);
        let text = crate::csv::truncate(&text, 40);
        let mut reason = format!("column `{name}`: {} `{text}` does not fit {}", value.describe(), dtype.name());
        if self.inferred[i] {
            let better = if matches!((dtype, value), (DType::Int64, J::F(_) | J::U(_))) { "float64" } else { "utf8" };
            reason.push_str(&format!(
                "; the type was inferred from the first {} rows of `{}`: give a schema (types = [(\"{name}\", {better})]) \
                 to read such values",
                self.infer_rows, self.inferred_from
            ));
        }
        reason
    }

    fn flush(&mut self, out: &mut Vec<Table>) -> Result<()> {
        if self.built == 0 {
            return Ok(());
        }
        let Some(schema) = self.schema.clone() else { return Ok(()) };
        let columns: Vec<ArrayRef> = self.builders.0.iter_mut().map(ColumnBuilder::finish).collect();
        let batch = RecordBatch::try_new_with_options(
            schema,
            columns,
            &arrow_array::RecordBatchOptions::new().with_row_count(Some(self.built)),
        )
        .map_err(|e| KernelError::arrow(ErrorKind::Other, "JSON batch", e))?;
        self.rows += self.built as u64;
        self.built = 0;
        out.push(Table::from_batch(batch));
        Ok(())
    }
}

fn flatten_into(prefix: &str, entries: Vec<(String, J)>, out: &mut Vec<(String, J)>) {
    for (k, v) in entries {
        let key = if prefix.is_empty() { k } else { format!("{prefix}_{k}") };
        match v {
            J::Obj(inner) => flatten_into(&key, inner, out),
            v => out.push((key, v)),
        }
    }
}

/// The column builders of the batch being built.
struct Builders(Vec<ColumnBuilder>);

impl fmt::Debug for Builders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Builders({} columns)", self.0.len())
    }
}

/// A value ready for a builder.
enum Cell {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

/// The cell a JSON value makes in a column of `dtype`; `Err(value)` when it does not fit.
fn convert(dtype: DType, value: Option<J>) -> std::result::Result<Cell, J> {
    let v = match value {
        None | Some(J::Null) => return Ok(Cell::Null),
        Some(v) => v,
    };
    match dtype {
        DType::Boolean => match v {
            J::Bool(b) => Ok(Cell::Bool(b)),
            v => Err(v),
        },
        DType::Int64 => match v {
            J::I(i) => Ok(Cell::Int(i)),
            // An integral float such as 3.0 is still an integer.
            J::F(f) if f.fract() == 0.0 && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) => {
                Ok(Cell::Int(f as i64))
            }
            v => Err(v),
        },
        DType::Float32 | DType::Float64 => match v {
            J::I(i) => Ok(Cell::Float(i as f64)),
            J::U(u) => Ok(Cell::Float(u as f64)),
            J::F(f) => Ok(Cell::Float(f)),
            v => Err(v),
        },
        DType::TimestampMs => match v {
            J::I(ms) => Ok(Cell::Int(ms)),
            J::S(s) => {
                let parsed = "+00:00"
                    .parse::<arrow_array::timezone::Tz>()
                    .ok()
                    .and_then(|tz| arrow_cast::parse::string_to_datetime(&tz, &s).ok())
                    .map(|d| d.timestamp_millis());
                parsed.map(Cell::Int).ok_or(J::S(s))
            }
            v => Err(v),
        },
        DType::Utf8 | DType::Dictionary | DType::Other => match v {
            J::S(s) => Ok(Cell::Text(s)),
            other => {
                let mut s = String::new();
                other.write_json(&mut s);
                Ok(Cell::Text(s))
            }
        },
    }
}

enum ColumnBuilder {
    Bool(BooleanBuilder),
    Int(Int64Builder),
    F32(Float32Builder),
    F64(Float64Builder),
    Text(StringBuilder),
    Dict(StringDictionaryBuilder<Int32Type>),
    Ts(TimestampMillisecondBuilder),
}

impl ColumnBuilder {
    fn new(dtype: DType, capacity: usize) -> ColumnBuilder {
        let cap = capacity.min(1 << 16);
        match dtype {
            DType::Boolean => ColumnBuilder::Bool(BooleanBuilder::with_capacity(cap)),
            DType::Int64 => ColumnBuilder::Int(Int64Builder::with_capacity(cap)),
            DType::Float32 => ColumnBuilder::F32(Float32Builder::with_capacity(cap)),
            DType::Float64 => ColumnBuilder::F64(Float64Builder::with_capacity(cap)),
            DType::Dictionary => ColumnBuilder::Dict(StringDictionaryBuilder::new()),
            DType::TimestampMs => ColumnBuilder::Ts(TimestampMillisecondBuilder::with_capacity(cap)),
            DType::Utf8 | DType::Other => ColumnBuilder::Text(StringBuilder::with_capacity(cap, cap * 8)),
        }
    }

    fn append(&mut self, cell: Cell) {
        match (self, cell) {
            (ColumnBuilder::Bool(b), Cell::Bool(v)) => b.append_value(v),
            (ColumnBuilder::Int(b), Cell::Int(v)) => b.append_value(v),
            (ColumnBuilder::Ts(b), Cell::Int(v)) => b.append_value(v),
            (ColumnBuilder::F32(b), Cell::Float(v)) => b.append_value(v as f32),
            (ColumnBuilder::F64(b), Cell::Float(v)) => b.append_value(v),
            (ColumnBuilder::Text(b), Cell::Text(v)) => b.append_value(v),
            (ColumnBuilder::Dict(b), Cell::Text(v)) => {
                if b.append(v).is_err() {
                    b.append_null();
                }
            }
            (ColumnBuilder::Bool(b), _) => b.append_null(),
            (ColumnBuilder::Int(b), _) => b.append_null(),
            (ColumnBuilder::Ts(b), _) => b.append_null(),
            (ColumnBuilder::F32(b), _) => b.append_null(),
            (ColumnBuilder::F64(b), _) => b.append_null(),
            (ColumnBuilder::Text(b), _) => b.append_null(),
            (ColumnBuilder::Dict(b), _) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Bool(b) => Arc::new(b.finish()),
            ColumnBuilder::Int(b) => Arc::new(b.finish()),
            ColumnBuilder::F32(b) => Arc::new(b.finish()),
            ColumnBuilder::F64(b) => Arc::new(b.finish()),
            ColumnBuilder::Text(b) => Arc::new(b.finish()),
            ColumnBuilder::Dict(b) => Arc::new(b.finish()),
            ColumnBuilder::Ts(b) => Arc::new(b.finish()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csv::tests::cells;
    use arrow_schema::DataType;

    fn run(opts: JsonlOptions, files: &[(&str, &[u8])], block: usize) -> Result<(Vec<Table>, JsonlDecoder)> {
        let mut d = JsonlDecoder::new(opts)?;
        let mut out = Vec::new();
        for (name, bytes) in files {
            d.begin_file(name)?;
            for piece in bytes.chunks(block.max(1)) {
                out.extend(d.feed(piece)?);
            }
            out.extend(d.end_file()?);
        }
        Ok((out, d))
    }

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|s| s.to_string()).collect()
    }

    fn schema_of(d: &JsonlDecoder) -> Vec<(String, DataType)> {
        d.schema().unwrap().fields().iter().map(|f| (f.name().clone(), f.data_type().clone())).collect()
    }

    const TYPICAL: &[u8] = b"{\"id\": 1, \"name\": \"a\", \"score\": 1, \"ok\": true, \"tags\": [1, 2], \"meta\": {\"z\": 1, \"a\": \"x\"}}\n\
\n\
{\"id\": 2, \"score\": 2.5, \"ok\": false, \"name\": null, \"meta\": {\"a\": \"y\"}}\r\n\
{\"name\": \"c\", \"id\": 3, \"extra\": 1}";

    #[test]
    fn typical_lines_in_any_blocks() {
        let (t, d) = run(JsonlOptions::default(), &[("a.jsonl", TYPICAL)], usize::MAX).unwrap();
        assert_eq!(
            schema_of(&d),
            vec![
                ("id".into(), DataType::Int64),
                ("name".into(), DataType::Utf8),
                ("score".into(), DataType::Float64),
                ("ok".into(), DataType::Boolean),
                ("tags".into(), DataType::Utf8),
                ("meta".into(), DataType::Utf8),
                ("extra".into(), DataType::Int64),
            ]
        );
        let expected = vec![
            row(&["1", "a", "1.0", "true", "[1,2]", "{\"z\":1,\"a\":\"x\"}", "∅"]),
            row(&["2", "∅", "2.5", "false", "∅", "{\"a\":\"y\"}", "∅"]),
            row(&["3", "c", "∅", "∅", "∅", "∅", "1"]),
        ];
        assert_eq!(cells(&t), expected);
        assert_eq!(d.rows(), 3);
        assert_eq!(d.bad_row_count(), 0);
        for block in [1, 2, 7, 64] {
            let (t, _) = run(JsonlOptions::default(), &[("a.jsonl", TYPICAL)], block).unwrap();
            assert_eq!(cells(&t), expected, "block {block}");
        }
        // Small batches.
        let (t, _) =
            run(JsonlOptions { batch_rows: 2, ..JsonlOptions::default() }, &[("a.jsonl", TYPICAL)], 5).unwrap();
        assert_eq!(t.iter().map(Table::num_rows).collect::<Vec<_>>(), vec![2, 1]);
    }

    #[test]
    fn bad_lines_with_their_numbers() {
        let data = b"{\"a\": 1, \"b\": \"x\"}\n[1, 2]\n{\"a\": 2, \"b\": \"y\"}\n{\"a\": \n\n{\"a\": \"three\"}\n{\"a\": 4.5}\n\"text\"\n{\"a\": 5, \"b\": 7}\n{\"a\": \xFF}\n";
        let opts = JsonlOptions { infer_rows: 2, ..JsonlOptions::default() };
        let (t, d) = run(opts, &[("b.jsonl", data)], 3).unwrap();
        assert_eq!(cells(&t), vec![row(&["1", "x"]), row(&["2", "y"]), row(&["5", "7"])]);
        let bad: Vec<(u64, &str)> = d.bad_rows().iter().map(|b| (b.line, b.reason.as_str())).collect();
        assert_eq!(
            bad,
            vec![
                (2, "the line is an array, not a JSON object"),
                (4, "not valid JSON: EOF while parsing a value at column 6"),
                (
                    6,
                    "column `a`: a string `\"three\"` does not fit int64; the type was inferred from the first 2 rows of `b.jsonl`: give a schema (types = [(\"a\", utf8)]) to read such values"
                ),
                (
                    7,
                    "column `a`: a number `4.5` does not fit int64; the type was inferred from the first 2 rows of `b.jsonl`: give a schema (types = [(\"a\", float64)]) to read such values"
                ),
                (8, "the line is a string, not a JSON object"),
                (10, "invalid UTF-8 at byte 7 of the line"),
            ]
        );
        assert!(d.bad_rows().iter().all(|b| b.file == "b.jsonl"));
    }

    #[test]
    fn flatten_nested_objects() {
        let data = b"{\"id\": 1, \"geo\": {\"lat\": 1.5, \"lon\": 2, \"src\": {\"kind\": \"gps\"}}, \"list\": [{\"a\": 1}]}\n{\"id\": 2, \"geo\": {\"lat\": 3}}\n";
        let opts = JsonlOptions { flatten: true, ..JsonlOptions::default() };
        let (t, d) = run(opts, &[("f.jsonl", data)], usize::MAX).unwrap();
        assert_eq!(
            schema_of(&d),
            vec![
                ("id".into(), DataType::Int64),
                ("geo_lat".into(), DataType::Float64),
                ("geo_lon".into(), DataType::Int64),
                ("geo_src_kind".into(), DataType::Utf8),
                ("list".into(), DataType::Utf8),
            ]
        );
        assert_eq!(cells(&t), vec![row(&["1", "1.5", "2", "gps", "[{\"a\":1}]"]), row(&["2", "3.0", "∅", "∅", "∅"])]);
    }

    #[test]
    fn unseen_keys_columns_and_types() {
        let data = b"{\"a\": 1}\n{\"a\": 2, \"late\": 1}\n{\"a\": 3, \"late\": 2, \"later\": \"x\"}\n";
        let opts = JsonlOptions { infer_rows: 1, ..JsonlOptions::default() };
        let (t, d) = run(opts, &[("u.jsonl", data)], usize::MAX).unwrap();
        assert_eq!(cells(&t), vec![row(&["1"]), row(&["2"]), row(&["3"])]);
        assert_eq!(d.ignored_values(), 3);
        assert_eq!(
            d.notes(),
            vec![
                "3 values in 2 rows were ignored because their keys were not among the columns taken from the first 1 rows: \
                 `late` (2), `later` (1); give `columns` and `types` to read them"
                    .to_string()
            ]
        );
        // Given columns (in that order) and types; a typed column the sample never showed.
        let opts = JsonlOptions {
            columns: Some(vec!["late".into(), "a".into(), "ts".into()]),
            types: Some(vec![("a".into(), DType::Utf8), ("ts".into(), DType::TimestampMs)]),
            infer_rows: 1,
            ..JsonlOptions::default()
        };
        let (t, d) =
            run(opts, &[("u.jsonl", data), ("v.jsonl", b"{\"ts\": \"2024-01-02T03:04:05Z\", \"a\": true}")], 4)
                .unwrap();
        assert_eq!(
            schema_of(&d),
            vec![
                ("late".into(), DataType::Utf8),
                ("a".into(), DataType::Utf8),
                ("ts".into(), DataType::Timestamp(arrow_schema::TimeUnit::Millisecond, None)),
            ]
        );
        assert_eq!(
            cells(&t),
            vec![
                row(&["∅", "1", "∅"]),
                row(&["1", "2", "∅"]),
                row(&["2", "3", "∅"]),
                row(&["∅", "true", "2024-01-02T03:04:05"])
            ]
        );
        assert!(d.notes().is_empty());
        // Ints and floats mix into float64; anything else mixed is text.
        let (t, d) =
            run(JsonlOptions::default(), &[("m", b"{\"x\": 1, \"y\": 1}\n{\"x\": 0.5, \"y\": \"s\"}\n")], 3).unwrap();
        assert_eq!(schema_of(&d), vec![("x".into(), DataType::Float64), ("y".into(), DataType::Utf8)]);
        assert_eq!(cells(&t), vec![row(&["1.0", "1"]), row(&["0.5", "s"])]);
        // Empty input: a schema with no columns and no rows.
        let (t, d) = run(JsonlOptions::default(), &[("e", b"\n\n")], 1).unwrap();
        assert!(t.is_empty());
        assert_eq!(d.schema().unwrap().fields().len(), 0);
    }

    #[test]
    fn never_panics_on_noise() {
        let mut state = 3u64;
        let alphabet = b"{}[]\":,1a.e-\n \\tru\xFF";
        for round in 0..300 {
            let len = (crate::hash::splitmix64(&mut state) % 120) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| alphabet[(crate::hash::splitmix64(&mut state) % alphabet.len() as u64) as usize])
                .collect();
            let opts = JsonlOptions { flatten: round % 2 == 0, infer_rows: 1 + round % 3, ..JsonlOptions::default() };
            let (t, d) = run(opts, &[("n", &bytes)], 1 + round % 7).unwrap();
            assert_eq!(t.iter().map(|t| t.num_rows() as u64).sum::<u64>(), d.rows());
        }
    }
}
