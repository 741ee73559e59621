//! Streaming, parallel CSV decoding with bad-row reporting: the CSV half of the ingest kernels
//! (next to [`crate::jsonl`] and [`crate::parquet`]). The host reads a file in blocks and feeds
//! them to a [`CsvDecoder`], which returns record batches as [`Table`]s in file order; rows that
//! do not fit the schema are set aside as [`BadRow`]s with their physical line number instead of
//! failing the whole file.
//!
//! How a block is decoded:
//!
//! 1. The bytes are appended to the incomplete tail kept from the previous block. A quote-aware
//!    scan (the quoting rules of `csv-core`: a quote opens a quoted field only at the start of a
//!    field, `""` inside one is a literal quote, and a newline inside one is not a record
//!    boundary) finds the end of the last complete record and candidate split points; its state
//!    carries over from block to block, so no byte is scanned twice.
//! 2. The complete records are cut at record boundaries into up to `threads` chunks that
//!    `arrow-csv` parses in parallel (`std::thread::scope`); batches come out in file order.
//! 3. When `arrow-csv` rejects a chunk (a ragged row, a value that does not parse as its
//!    column's type, invalid UTF-8), that chunk alone is re-read record by record with the `csv`
//!    crate, each record is checked with the rules `arrow-csv` applies, the bad ones become
//!    [`BadRow`]s, and the good ones are parsed by `arrow-csv` again. Clean chunks are never
//!    checked row by row.
//!
//! Types are inferred from the first `infer_rows` records of the first file (int64, float64,
//! boolean, else utf8; dates and timestamps stay utf8) unless given. The schema is fixed from
//! then on; every column is nullable. Records are split on `\n` (LF and CRLF files); a file with
//! old Mac `\r`-only line endings still decodes, but as one piece at the end of the file.
//!
//! Memory is bounded by the fed block, the incomplete tail and the batches being returned; the
//! file as a whole is never held (before the schema is fixed, the first `infer_rows` records are
//! kept as well).

use crate::data::Table;
use crate::error::{ErrorKind, KernelError, Result, one_line};
use crate::schema::DType;
use arrow_array::RecordBatch;
use arrow_array::types::{Float32Type, Float64Type, Int64Type};
use arrow_cast::parse::Parser;
use arrow_csv::reader::{Decoder, Format, ReaderBuilder};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use std::sync::Arc;

/// How many bad rows a decoder keeps (all are counted).
pub const MAX_STORED_BAD_ROWS: usize = 1000;

/// The least number of bytes a parse thread gets; smaller pieces are not worth a thread.
const MIN_CHUNK: usize = 512 * 1024;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Options of a [`CsvDecoder`].
#[derive(Clone, Debug, PartialEq)]
pub struct CsvOptions {
    /// The field delimiter: one ASCII byte other than `"`, `\r` and `\n`. Default `,`.
    pub delimiter: u8,
    /// Whether the first line of each file names the columns. Default `true`.
    pub header: bool,
    /// Column names in file order: required when `header` is false, otherwise they replace the
    /// header's names (and must be as many).
    pub columns: Option<Vec<String>>,
    /// Cell texts read as null (exact matches, after unquoting). Default `[""]`: only empty
    /// cells are null, checked for free. Anything else costs parse speed: every cell is then
    /// matched against a regular expression (an anchored alternation of the texts), about 5 to
    /// 10 percent slower on a mixed 22-column file, more with many values. An empty list makes
    /// nothing null.
    pub null_values: Vec<String>,
    /// Types of some or all columns, by name; those columns are not inferred.
    pub types: Option<Vec<(String, DType)>>,
    /// How many records of the first file the types are inferred from. Default 10 000.
    pub infer_rows: usize,
    /// Parse threads; 0 means [`std::thread::available_parallelism`] (the default).
    pub threads: usize,
    /// The most rows in one output batch. Default 65 536.
    pub batch_rows: usize,
}

impl Default for CsvOptions {
    fn default() -> CsvOptions {
        CsvOptions {
            delimiter: b',',
            header: true,
            columns: None,
            null_values: vec![String::new()],
            types: None,
            infer_rows: 10_000,
            threads: 0,
            batch_rows: 65_536,
        }
    }
}

/// The delimiter a user wrote as text: exactly one ASCII character, or `\t` / `tab` for a tab.
pub fn parse_delimiter(text: &str) -> Result<u8> {
    let byte = match text {
        "\\t" | "tab" => b'\t',
        _ if text.len() == 1 && text.is_ascii() => text.as_bytes()[0],
        _ => {
            return Err(KernelError::invalid(format!(
                "the CSV delimiter must be one ASCII character, not `{}`",
                text.escape_debug()
            )));
        }
    };
    check_delimiter(byte)?;
    Ok(byte)
}

fn check_delimiter(byte: u8) -> Result<()> {
    if !byte.is_ascii() || matches!(byte, b'"' | b'\n' | b'\r') {
        return Err(KernelError::invalid(format!(
            "the CSV delimiter must be one ASCII character other than a quote or a line break, not {}",
            describe_byte(byte)
        )));
    }
    Ok(())
}

fn describe_byte(byte: u8) -> String {
    if byte.is_ascii_graphic() { format!("`{}`", byte as char) } else { format!("byte 0x{byte:02X}") }
}

/// A row that was left out: the file, the 1-based physical line where the row starts and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadRow {
    /// The file name given to `begin_file`.
    pub file: String,
    /// The 1-based physical line number (counting `\n`) of the row's first line.
    pub line: u64,
    /// Why the row was left out, in plain words.
    pub reason: String,
}

/// Bad rows of a decoder: the first [`MAX_STORED_BAD_ROWS`] kept, all counted.
#[derive(Debug, Default)]
pub(crate) struct BadRows {
    pub(crate) rows: Vec<BadRow>,
    pub(crate) count: u64,
}

impl BadRows {
    pub(crate) fn push(&mut self, file: &str, line: u64, reason: String) {
        self.count += 1;
        if self.rows.len() < MAX_STORED_BAD_ROWS {
            self.rows.push(BadRow { file: file.to_string(), line, reason });
        }
    }
}

/// How cells are recognized as null, the same way in the fast and the checking path.
#[derive(Clone, Debug)]
enum Nulls {
    /// Only the empty cell (arrow-csv's default).
    Empty,
    /// These exact texts (arrow-csv gets them as an anchored regular expression).
    Set(Vec<String>),
}

impl Nulls {
    fn is_null(&self, s: &str) -> bool {
        match self {
            Nulls::Empty => s.is_empty(),
            Nulls::Set(set) => set.iter().any(|n| n == s),
        }
    }
}

/// A streaming CSV decoder over one or more files with the same columns. See the module doc.
///
/// Call [`begin_file`](Self::begin_file), then [`feed`](Self::feed) with the file's bytes in
/// blocks of any size, then [`end_file`](Self::end_file); repeat for the next file. Each call
/// returns the batches decoded so far. After an error the current file is abandoned.
#[derive(Debug)]
pub struct CsvDecoder {
    delimiter: u8,
    header: bool,
    columns: Option<Vec<String>>,
    given: Vec<(String, DType)>,
    infer_rows: usize,
    threads: usize,
    batch_rows: usize,
    nulls: Nulls,
    format: Format,
    /// Smallest piece of work per thread (a field so tests can make it small).
    min_chunk: usize,
    /// The column names of the output, once known.
    names: Option<Vec<String>>,
    /// The first file's name and header, which later files must repeat.
    first_header: Option<(String, Vec<String>)>,
    schema: Option<SchemaRef>,
    types: Vec<DType>,
    /// Whether each column's type was inferred (for the messages of bad values).
    inferred: Vec<bool>,
    /// The file the types were inferred from.
    inferred_from: String,
    file: Option<FileState>,
    /// One arrow-csv decoder per parse slot, kept across blocks so its buffers are reused.
    decoders: Vec<Option<Decoder>>,
    rows: u64,
    bad: BadRows,
    notes: Vec<String>,
}

#[derive(Debug)]
struct FileState {
    name: String,
    /// Unconsumed bytes; always starts at a record boundary.
    buf: Vec<u8>,
    scan: Scanner,
    /// The 1-based line number of `buf[0]`.
    line: u64,
    bom_checked: bool,
    header_done: bool,
    /// Whether the file had any byte at all.
    any_bytes: bool,
    /// Bytes of complete records at the last inference attempt that found too few records.
    infer_tried: usize,
    /// A hint that the delimiter may be wrong, for errors in this file.
    hint: Option<String>,
}

impl CsvDecoder {
    /// A decoder with `options` (checked: the delimiter, the batch size, the column names and
    /// types).
    pub fn new(options: CsvOptions) -> Result<CsvDecoder> {
        check_delimiter(options.delimiter)?;
        if options.batch_rows == 0 {
            return Err(KernelError::invalid("batch_rows must be at least 1"));
        }
        if !options.header && options.columns.is_none() {
            return Err(KernelError::invalid(
                "a CSV file without a header needs `columns`: the names of its columns in file order",
            ));
        }
        if let Some(cols) = &options.columns {
            check_names(cols).map_err(|m| KernelError::invalid(format!("`columns`: {m}")))?;
        }
        let given = options.types.clone().unwrap_or_default();
        for (name, dtype) in &given {
            if arrow_type(*dtype).is_none() {
                return Err(KernelError::invalid(format!(
                    "column `{name}`: CSV columns can be boolean, int64, float32, float64, utf8, dictionary or \
                     timestamp-ms, not {}",
                    dtype.name()
                )));
            }
        }
        let threads = match options.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let nulls = if options.null_values.len() == 1 && options.null_values[0].is_empty() {
            Nulls::Empty
        } else {
            Nulls::Set(options.null_values.clone())
        };
        let mut format = Format::default().with_header(false).with_delimiter(options.delimiter);
        if let Nulls::Set(set) = &nulls {
            let pattern = if set.is_empty() {
                // A class that matches nothing: no cell is null.
                "[^\\s\\S]".to_string()
            } else {
                let alts: Vec<String> = set.iter().map(|v| regex::escape(v)).collect();
                format!("^(?:{})$", alts.join("|"))
            };
            let re = regex::Regex::new(&pattern)
                .map_err(|e| KernelError::invalid(format!("bad null_values: {}", one_line(&e.to_string()))))?;
            format = format.with_null_regex(re);
        }
        let names = if options.header { None } else { options.columns.clone() };
        Ok(CsvDecoder {
            delimiter: options.delimiter,
            header: options.header,
            columns: options.columns,
            given,
            infer_rows: options.infer_rows,
            threads,
            batch_rows: options.batch_rows,
            nulls,
            format,
            min_chunk: MIN_CHUNK,
            names,
            first_header: None,
            schema: None,
            types: Vec::new(),
            inferred: Vec::new(),
            inferred_from: String::new(),
            file: None,
            decoders: Vec::new(),
            rows: 0,
            bad: BadRows::default(),
            notes: Vec::new(),
        })
    }

    /// Start a new file: header handling and line numbers start over; `name` is used in bad
    /// rows and messages.
    pub fn begin_file(&mut self, name: &str) -> Result<()> {
        if let Some(f) = &self.file {
            return Err(KernelError::invalid(format!(
                "begin_file(`{name}`) while `{}` is still open; call end_file first",
                f.name
            )));
        }
        self.file = Some(FileState {
            name: name.to_string(),
            buf: Vec::new(),
            scan: Scanner::new(self.mark_step()),
            line: 1,
            bom_checked: false,
            header_done: !self.header,
            any_bytes: false,
            infer_tried: 0,
            hint: None,
        });
        Ok(())
    }

    /// Feed the next block of the current file: any size, split anywhere (inside a record, a
    /// quoted field or a UTF-8 sequence). Returns the batches of the records completed so far.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<Table>> {
        let mut st = self.file.take().ok_or_else(|| KernelError::invalid("feed without begin_file"))?;
        st.buf.extend_from_slice(bytes);
        st.any_bytes |= !bytes.is_empty();
        let out = self.advance(&mut st, false)?;
        self.file = Some(st);
        Ok(out)
    }

    /// End of the current file: decodes the trailing record (the file may lack a final
    /// newline) and checks that a file with a header was not empty.
    pub fn end_file(&mut self) -> Result<Vec<Table>> {
        let mut st = self.file.take().ok_or_else(|| KernelError::invalid("end_file without begin_file"))?;
        self.advance(&mut st, true)
    }

    /// The schema of the batches: known once the first file's types are inferred.
    pub fn schema(&self) -> Option<SchemaRef> {
        self.schema.clone()
    }

    /// Good rows emitted so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The bad rows so far, in order (the first [`MAX_STORED_BAD_ROWS`]).
    pub fn bad_rows(&self) -> &[BadRow] {
        &self.bad.rows
    }

    /// How many bad rows there were, stored or not.
    pub fn bad_row_count(&self) -> u64 {
        self.bad.count
    }

    /// Remarks for the user that are not errors, such as a likely wrong delimiter.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    fn mark_step(&self) -> usize {
        (self.min_chunk / 4).max(1)
    }

    fn advance(&mut self, st: &mut FileState, eof: bool) -> Result<Vec<Table>> {
        // A UTF-8 byte order mark at the start of the file is not data.
        if !st.bom_checked {
            if st.buf.len() >= BOM.len() || eof {
                if st.buf.starts_with(BOM) {
                    st.buf.drain(..BOM.len());
                }
                st.bom_checked = true;
            } else if BOM.starts_with(&st.buf) {
                return Ok(Vec::new());
            } else {
                st.bom_checked = true;
            }
        }
        if !st.header_done && !self.read_header(st, eof)? {
            return Ok(Vec::new());
        }
        if self.schema.is_none() && !self.infer(st, eof)? {
            return Ok(Vec::new());
        }
        st.scan.scan(&st.buf, self.delimiter);
        let complete = if eof { st.buf.len() } else { st.scan.last_end };
        if complete == 0 || (!eof && complete < self.min_chunk.saturating_mul(self.threads)) {
            return Ok(Vec::new());
        }
        let out = self.decode(&mut *st, complete, eof)?;
        st.buf.drain(..complete);
        st.scan.consume(complete);
        Ok(out)
    }

    /// Reads the header once it is complete; false while it is not.
    fn read_header(&mut self, st: &mut FileState, eof: bool) -> Result<bool> {
        // Blank lines before the header are skipped (as csv-core does).
        let blank = st.buf.iter().take_while(|b| matches!(b, b'\n' | b'\r')).count();
        if blank > 0 {
            st.line += count_newlines(&st.buf[..blank]);
            st.buf.drain(..blank);
        }
        if st.buf.is_empty() {
            if eof {
                let what = if st.any_bytes { "has no header line" } else { "is empty" };
                return Err(KernelError::data(format!("file `{}` {what}", st.name)));
            }
            return Ok(false);
        }
        let mut scan = Scanner::new(usize::MAX);
        scan.scan(&st.buf, self.delimiter);
        let end = match scan.marks.first() {
            Some(&e) => e,
            None if eof => st.buf.len(),
            None => return Ok(false),
        };
        let header = self.parse_header(&st.name, st.line, &st.buf[..end])?;
        if header.len() == 1 {
            let name = &header[0];
            if let Some(c) = [',', ';', '\t', '|'].into_iter().find(|&c| c as u8 != self.delimiter && name.contains(c))
            {
                let shown = if c == '\t' { "\\t".to_string() } else { c.to_string() };
                let hint = format!(
                    "file `{}`: the header has one column, `{}`; if the file is separated by `{shown}`, set \
                     delimiter = \"{shown}\"",
                    st.name,
                    truncate(name, 60)
                );
                self.notes.push(hint.clone());
                st.hint = Some(hint);
            }
        }
        match &self.first_header {
            None => {
                let names = match &self.columns {
                    Some(cols) => {
                        if cols.len() != header.len() {
                            return Err(KernelError::data(format!(
                                "file `{}` has {} columns but `columns` names {}",
                                st.name,
                                header.len(),
                                cols.len()
                            ))
                            .with_detail(format!("header: {}", header.join(", "))));
                        }
                        cols.clone()
                    }
                    None => header.clone(),
                };
                self.names = Some(names);
                self.first_header = Some((st.name.clone(), header));
            }
            Some((first, expected)) => {
                if let Some(message) = header_difference(first, expected, &st.name, &header) {
                    let mut e = KernelError::data(message);
                    e.detail = st.hint.clone();
                    return Err(e);
                }
            }
        }
        st.line += count_newlines(&st.buf[..end]);
        st.buf.drain(..end);
        st.header_done = true;
        Ok(true)
    }

    fn parse_header(&self, file: &str, line: u64, bytes: &[u8]) -> Result<Vec<String>> {
        let mut rdr = csv_reader(self.delimiter, bytes);
        let mut rec = csv::ByteRecord::new();
        if !matches!(rdr.read_byte_record(&mut rec), Ok(true)) {
            return Err(KernelError::data(format!("file `{file}` has no header line")));
        }
        let mut names = Vec::with_capacity(rec.len());
        for (i, f) in rec.iter().enumerate() {
            let s = std::str::from_utf8(f).map_err(|_| {
                KernelError::data(format!(
                    "file `{file}` line {line}: column {} of the header is not valid UTF-8",
                    i + 1
                ))
            })?;
            names.push(s.to_string());
        }
        check_names(&names).map_err(|m| {
            let mut e = KernelError::data(format!("file `{file}` line {line}: {m}"));
            if self.columns.is_none() {
                e = e.with_detail("give `columns` to name the columns instead");
            }
            e
        })?;
        Ok(names)
    }

    /// Infers the types once enough records (or the whole first file) are here; false while
    /// waiting for more.
    fn infer(&mut self, st: &mut FileState, eof: bool) -> Result<bool> {
        let names = self.names.clone().unwrap_or_default();
        for (name, _) in &self.given {
            if !names.contains(name) {
                return Err(KernelError::invalid(format!(
                    "`types` names column `{name}`, which `{}` does not have",
                    st.name
                ))
                .with_kind(ErrorKind::NotFound)
                .with_detail(format!("columns: {}", names.join(", "))));
            }
        }
        let needs_inference = names.iter().any(|n| !self.given.iter().any(|(g, _)| g == n));
        let mut kinds = vec![0u8; names.len()];
        if needs_inference && self.infer_rows > 0 {
            st.scan.scan(&st.buf, self.delimiter);
            let complete = if eof { st.buf.len() } else { st.scan.last_end };
            if !eof && (complete == 0 || complete < st.infer_tried.saturating_mul(2)) {
                return Ok(false);
            }
            let records = infer_kinds(&st.buf[..complete], self.delimiter, &self.nulls, self.infer_rows, &mut kinds);
            if !eof && records < self.infer_rows {
                st.infer_tried = complete;
                return Ok(false);
            }
        }
        let mut fields = Vec::with_capacity(names.len());
        for (name, kind) in names.iter().zip(&kinds) {
            let (dtype, inferred) = match self.given.iter().find(|(g, _)| g == name) {
                Some((_, d)) => (*d, false),
                None => (kind_dtype(*kind), true),
            };
            let dt = arrow_type(dtype).unwrap_or(DataType::Utf8);
            fields.push(Field::new(name, dt, true));
            self.types.push(dtype);
            self.inferred.push(inferred);
        }
        self.inferred_from = st.name.clone();
        self.schema = Some(Arc::new(Schema::new(fields)));
        Ok(true)
    }

    /// Decodes `st.buf[..complete]` (whole records) in parallel chunks.
    fn decode(&mut self, st: &mut FileState, complete: usize, eof: bool) -> Result<Vec<Table>> {
        let Some(schema) = self.schema.clone() else { return Ok(Vec::new()) };
        let data = &st.buf[..complete];
        let bounds = split_points(&st.scan.marks, complete, self.threads, self.min_chunk);
        let mut slots = std::mem::take(&mut self.decoders);
        if slots.len() + 1 < bounds.len() {
            slots.resize_with(bounds.len() - 1, || None);
        }
        let ctx = ChunkCtx {
            schema: schema.clone(),
            format: &self.format,
            batch_rows: self.batch_rows,
            delimiter: self.delimiter,
            nulls: &self.nulls,
            names: self.names.as_deref().unwrap_or(&[]),
            types: &self.types,
            inferred: &self.inferred,
            infer_rows: self.infer_rows,
            inferred_from: &self.inferred_from,
            hint: st.hint.as_deref(),
        };
        let outs = run_chunks(&ctx, data, &bounds, &mut slots, eof);
        self.decoders = slots;
        let outs = outs?;
        let mut tables = Vec::new();
        let mut line = st.line;
        for out in outs {
            for (rel, reason) in out.bad {
                self.bad.push(&st.name, line + rel, reason);
            }
            self.bad.count += out.bad_unstored;
            for b in out.batches {
                if b.num_rows() == 0 {
                    continue;
                }
                self.rows += b.num_rows() as u64;
                let b = if b.schema().fields() == schema.fields() {
                    b
                } else {
                    RecordBatch::try_new(schema.clone(), b.columns().to_vec())
                        .map_err(|e| KernelError::arrow(ErrorKind::Other, "CSV batch", e))?
                };
                tables.push(Table::from_batch(b));
            }
            line += out.newlines;
        }
        st.line = line;
        Ok(tables)
    }
}

/// Whether `names` are usable column names: none empty, none repeated.
fn check_names(names: &[String]) -> std::result::Result<(), String> {
    for (i, n) in names.iter().enumerate() {
        if n.trim().is_empty() {
            return Err(format!("column {} has an empty name", i + 1));
        }
        if let Some(j) = names[..i].iter().position(|m| m == n) {
            return Err(format!("column {} is named `{n}` like column {}; column names must be unique", i + 1, j + 1));
        }
    }
    Ok(())
}

fn header_difference(first: &str, expected: &[String], file: &str, header: &[String]) -> Option<String> {
    if let Some(i) = expected.iter().zip(header).position(|(a, b)| a != b) {
        return Some(format!(
            "file `{file}` does not have the header of `{first}`: column {} is `{}` in `{file}` but `{}` in `{first}`",
            i + 1,
            truncate(&header[i], 60),
            truncate(&expected[i], 60)
        ));
    }
    if expected.len() != header.len() {
        let i = expected.len().min(header.len());
        let extra = if header.len() > expected.len() {
            format!("`{file}` has an extra column {} `{}`", i + 1, truncate(&header[i], 60))
        } else {
            format!("`{file}` lacks column {} `{}`", i + 1, truncate(&expected[i], 60))
        };
        return Some(format!(
            "file `{file}` does not have the header of `{first}`: {} columns instead of {}; {extra}",
            header.len(),
            expected.len()
        ));
    }
    None
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

/// The arrow type a CSV column of `dtype` is read as; `None` for types CSV cannot hold.
fn arrow_type(dtype: DType) -> Option<DataType> {
    match dtype {
        DType::Other => None,
        d => d.to_arrow(),
    }
}

pub(crate) fn count_newlines(bytes: &[u8]) -> u64 {
    // A plain loop over fixed-size blocks vectorizes well.
    let mut n = 0u64;
    let mut chunks = bytes.chunks_exact(256);
    for c in &mut chunks {
        n += c.iter().map(|&b| (b == b'\n') as u8).fold(0u8, |a, x| a.wrapping_add(x)) as u64;
    }
    n + chunks.remainder().iter().filter(|&&b| b == b'\n').count() as u64
}

fn csv_reader(delimiter: u8, bytes: &[u8]) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(bytes)
}

// ---------------------------------------------------------------------------------------------
// Record boundaries

/// The quote-aware boundary scan: where complete records end, and split points about every
/// `mark_step` bytes. State carries across blocks; positions are offsets into the decoder's
/// buffer (which always starts at a record boundary).
#[derive(Debug)]
struct Scanner {
    /// The next byte to look at.
    pos: usize,
    /// Whether `pos` is inside a quoted field.
    in_quote: bool,
    /// The end (after `\n`) of the last complete record seen; 0 if none.
    last_end: usize,
    /// Record ends, increasing, at least `mark_step` apart.
    marks: Vec<usize>,
    /// Where the next mark is looked for.
    next_mark: usize,
    mark_step: usize,
}

impl Scanner {
    fn new(mark_step: usize) -> Scanner {
        Scanner { pos: 0, in_quote: false, last_end: 0, marks: Vec::new(), next_mark: 0, mark_step }
    }

    fn scan(&mut self, buf: &[u8], delimiter: u8) {
        let len = buf.len();
        while self.pos < len {
            if self.in_quote {
                match memchr::memchr(b'"', &buf[self.pos..]) {
                    None => self.pos = len,
                    Some(i) => {
                        let q = self.pos + i;
                        if q + 1 == len {
                            // A closing quote or the first of `""`: the next block tells.
                            self.pos = q;
                            return;
                        }
                        if buf[q + 1] == b'"' {
                            self.pos = q + 2;
                        } else {
                            self.in_quote = false;
                            self.pos = q + 1;
                        }
                    }
                }
            } else {
                let q = memchr::memchr(b'"', &buf[self.pos..]).map_or(len, |i| self.pos + i);
                self.unquoted(buf, self.pos, q);
                if q == len {
                    self.pos = len;
                    return;
                }
                // A quote opens a quoted field only at the start of a field.
                if q == 0 || matches!(buf[q - 1], b'\n' | b'\r') || buf[q - 1] == delimiter {
                    self.in_quote = true;
                }
                self.pos = q + 1;
            }
        }
    }

    /// `buf[from..to]` is outside quotes: every `\n` in it ends a record.
    fn unquoted(&mut self, buf: &[u8], from: usize, to: usize) {
        let Some(i) = memchr::memrchr(b'\n', &buf[from..to]) else { return };
        self.last_end = from + i + 1;
        while self.next_mark < to {
            let start = self.next_mark.max(from);
            match memchr::memchr(b'\n', &buf[start..to]) {
                Some(i) => {
                    let end = start + i + 1;
                    self.marks.push(end);
                    self.next_mark = end.saturating_add(self.mark_step);
                }
                None => break,
            }
        }
    }

    /// The first `n` bytes of the buffer were consumed.
    fn consume(&mut self, n: usize) {
        self.pos = self.pos.saturating_sub(n);
        self.last_end = self.last_end.saturating_sub(n);
        self.next_mark = self.next_mark.saturating_sub(n);
        self.marks.retain(|&m| m > n);
        for m in &mut self.marks {
            *m -= n;
        }
    }
}

/// Chunk bounds `[0, .., complete]`: up to `threads` pieces of at least `min_chunk` bytes each,
/// cut at marks (record ends).
fn split_points(marks: &[usize], complete: usize, threads: usize, min_chunk: usize) -> Vec<usize> {
    let n = (complete / min_chunk.max(1)).clamp(1, threads.max(1));
    let mut bounds = vec![0];
    for k in 1..n {
        let target = complete / n * k;
        if let Some(&m) = marks.iter().find(|&&m| m >= target)
            && m < complete
            && m > *bounds.last().unwrap_or(&0)
        {
            bounds.push(m);
        }
    }
    bounds.push(complete);
    bounds
}

// ---------------------------------------------------------------------------------------------
// Type inference

const K_BOOL: u8 = 1;
const K_INT: u8 = 2;
const K_FLOAT: u8 = 4;
const K_TEXT: u8 = 8;

/// Folds the kinds of the first `max` records of `data` into `kinds`; returns how many records
/// were read. Ragged rows and rows with invalid UTF-8 are skipped (they become bad rows later).
fn infer_kinds(data: &[u8], delimiter: u8, nulls: &Nulls, max: usize, kinds: &mut [u8]) -> usize {
    let mut rdr = csv_reader(delimiter, data);
    let mut rec = csv::ByteRecord::new();
    let mut n = 0;
    while n < max && matches!(rdr.read_byte_record(&mut rec), Ok(true)) {
        n += 1;
        if rec.len() != kinds.len() {
            continue;
        }
        let Ok(fields) = rec.iter().map(std::str::from_utf8).collect::<std::result::Result<Vec<_>, _>>() else {
            continue;
        };
        for (k, s) in kinds.iter_mut().zip(fields) {
            if !nulls.is_null(s) {
                *k |= classify(s);
            }
        }
    }
    n
}

/// The kind of one non-null cell (the rules of arrow-csv's inference, without dates).
fn classify(s: &str) -> u8 {
    if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") {
        return K_BOOL;
    }
    let b = s.as_bytes();
    let digits = b.strip_prefix(b"+").or_else(|| b.strip_prefix(b"-")).unwrap_or(b);
    if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
        // Integers beyond int64 stay text (identifiers, not numbers).
        return if s.parse::<i64>().is_ok() { K_INT } else { K_TEXT };
    }
    if is_float(digits) || matches!(s, "NaN" | "nan" | "inf" | "-inf") {
        return K_FLOAT;
    }
    K_TEXT
}

/// `(\d*\.\d+|\d+\.\d*)([eE][-+]?\d+)?|\d+[eE][-+]?\d+` (the sign already stripped).
fn is_float(b: &[u8]) -> bool {
    let int = b.iter().take_while(|c| c.is_ascii_digit()).count();
    let mut i = int;
    let mut frac = 0;
    let dot = b.get(i) == Some(&b'.');
    if dot {
        i += 1;
        frac = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        i += frac;
    }
    if int + frac == 0 {
        return false;
    }
    if i == b.len() {
        return dot;
    }
    if !matches!(b[i], b'e' | b'E') {
        return false;
    }
    i += 1;
    if matches!(b.get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    let exp = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    exp > 0 && i + exp == b.len()
}

fn kind_dtype(kind: u8) -> DType {
    match kind {
        K_BOOL => DType::Boolean,
        K_INT => DType::Int64,
        K_FLOAT | 6 => DType::Float64,
        _ => DType::Utf8,
    }
}

// ---------------------------------------------------------------------------------------------
// Chunk parsing

struct ChunkCtx<'a> {
    schema: SchemaRef,
    format: &'a Format,
    batch_rows: usize,
    delimiter: u8,
    nulls: &'a Nulls,
    names: &'a [String],
    types: &'a [DType],
    inferred: &'a [bool],
    infer_rows: usize,
    inferred_from: &'a str,
    hint: Option<&'a str>,
}

#[derive(Default)]
struct ChunkOut {
    batches: Vec<RecordBatch>,
    /// Bad rows: line offset from the chunk's first line, and the reason.
    bad: Vec<(u64, String)>,
    /// Bad rows beyond those listed (never stored).
    bad_unstored: u64,
    /// `\n` bytes in the chunk.
    newlines: u64,
}

/// Parses the chunks `data[bounds[i]..bounds[i + 1]]`, the first on this thread and the others
/// on scoped threads; `slots[i]` keeps chunk slot `i`'s arrow-csv decoder (and its buffers)
/// from one block to the next. `at_eof`: the last chunk ends the file (it may lack a newline).
fn run_chunks(
    ctx: &ChunkCtx<'_>,
    data: &[u8],
    bounds: &[usize],
    slots: &mut [Option<Decoder>],
    at_eof: bool,
) -> Result<Vec<ChunkOut>> {
    let pieces: Vec<&[u8]> = bounds.windows(2).map(|w| &data[w[0]..w[1]]).collect();
    let last = pieces.len().saturating_sub(1);
    let Some(((first_piece, rest), (first_slot, rest_slots))) = pieces.split_first().zip(slots.split_first_mut())
    else {
        return Ok(Vec::new());
    };
    if rest.is_empty() {
        return Ok(vec![parse_chunk(ctx, first_piece, first_slot, at_eof)]);
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = rest
            .iter()
            .zip(rest_slots.iter_mut())
            .enumerate()
            .map(|(i, (&p, slot))| {
                let finish = at_eof && i + 1 == last;
                let spawned = std::thread::Builder::new()
                    .name("mlp-csv".into())
                    .spawn_scoped(s, move || parse_chunk(ctx, p, slot, finish));
                (spawned, p, finish)
            })
            .collect();
        let mut outs = vec![parse_chunk(ctx, first_piece, first_slot, false)];
        for (h, p, finish) in handles {
            match h {
                Ok(h) => {
                    outs.push(h.join().map_err(|_| KernelError::new(ErrorKind::Other, "a CSV parse thread panicked"))?)
                }
                // No thread to be had: parse it here.
                Err(_) => outs.push(parse_chunk(ctx, p, &mut None, finish)),
            }
        }
        Ok(outs)
    })
}

/// Parses one chunk of whole records: arrow-csv at full speed, or record by record when
/// arrow-csv rejects it. `slot` holds the decoder to reuse; `finish`: the chunk ends the file.
fn parse_chunk(ctx: &ChunkCtx<'_>, chunk: &[u8], slot: &mut Option<Decoder>, finish: bool) -> ChunkOut {
    let newlines = count_newlines(chunk);
    let decoder = slot.get_or_insert_with(|| new_decoder(ctx));
    match decode_arrow(decoder, chunk, finish) {
        Ok(batches) => {
            if finish {
                *slot = None;
            }
            ChunkOut { batches, newlines, ..ChunkOut::default() }
        }
        Err(_) => {
            // The decoder may be mid-record: start the next block with a fresh one.
            *slot = None;
            let mut out = checked_chunk(ctx, chunk);
            out.newlines = newlines;
            out
        }
    }
}

fn new_decoder(ctx: &ChunkCtx<'_>) -> Decoder {
    ReaderBuilder::new(ctx.schema.clone())
        .with_format(ctx.format.clone())
        .with_batch_size(ctx.batch_rows)
        .build_decoder()
}

/// Decodes whole records with `decoder`. Unless `finish`, `bytes` must end at a record boundary
/// and the decoder is left ready for the next records; with `finish` the input ends there (the
/// last record may lack its newline).
fn decode_arrow(
    decoder: &mut Decoder,
    bytes: &[u8],
    finish: bool,
) -> std::result::Result<Vec<RecordBatch>, ArrowError> {
    let mut batches = Vec::new();
    let mut off = 0;
    while off < bytes.len() {
        let n = decoder.decode(&bytes[off..])?;
        off += n;
        if decoder.capacity() == 0 {
            batches.extend(decoder.flush()?);
        } else if n == 0 {
            return Err(ArrowError::CsvError("the CSV decoder stopped before the end of its input".into()));
        }
    }
    if finish {
        // An empty input tells the decoder the data ended (completing a last record without a
        // newline).
        loop {
            decoder.decode(&[])?;
            match decoder.flush()? {
                Some(b) => batches.push(b),
                None => break,
            }
        }
    } else {
        batches.extend(decoder.flush()?);
    }
    Ok(batches)
}

/// The slow path: every record checked; bad ones reported, good ones decoded.
fn checked_chunk(ctx: &ChunkCtx<'_>, chunk: &[u8]) -> ChunkOut {
    let mut out = ChunkOut::default();
    let mut rdr = csv_reader(ctx.delimiter, chunk);
    let mut rec = csv::ByteRecord::new();
    // Good records: byte range and line offset.
    let mut good: Vec<(usize, usize, u64)> = Vec::new();
    let (mut start, mut nl_pos, mut nl) = (0usize, 0usize, 0u64);
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = nl + count_newlines(&chunk[nl_pos..start.min(chunk.len())]);
                push_bad(&mut out, line, format!("unreadable record: {}", one_line(&e.to_string())));
                break;
            }
        }
        let end = (rdr.position().byte() as usize).min(chunk.len());
        // The record starts after the line ends the previous read left behind.
        let first = start + chunk[start..end].iter().take_while(|b| matches!(b, b'\n' | b'\r')).count();
        nl += count_newlines(&chunk[nl_pos..first]);
        nl_pos = first;
        match check_record(ctx, &rec) {
            Ok(()) => good.push((start, end, nl)),
            Err(reason) => push_bad(&mut out, nl, reason),
        }
        start = end;
    }
    let mut bytes = Vec::with_capacity(chunk.len());
    for &(a, b, _) in &good {
        push_record(&mut bytes, &chunk[a..b]);
    }
    match decode_arrow(&mut new_decoder(ctx), &bytes, true) {
        Ok(batches) => out.batches = batches,
        Err(_) => {
            // The checks let through something arrow-csv refuses: decode record by record.
            let mut one = Vec::new();
            let mut parts = Vec::new();
            for &(a, b, line) in &good {
                one.clear();
                push_record(&mut one, &chunk[a..b]);
                match decode_arrow(&mut new_decoder(ctx), &one, true) {
                    Ok(bs) => parts.extend(bs),
                    Err(e) => push_bad(&mut out, line, one_line(&e.to_string())),
                }
            }
            out.batches = rebatch(ctx, parts);
        }
    }
    out.bad.sort_by_key(|(line, _)| *line);
    out
}

fn push_bad(out: &mut ChunkOut, line: u64, reason: String) {
    if out.bad.len() < MAX_STORED_BAD_ROWS {
        out.bad.push((line, reason));
    } else {
        out.bad_unstored += 1;
    }
}

/// Appends a record's bytes, ending it with a newline if it has none (the last of a file).
fn push_record(dst: &mut Vec<u8>, rec: &[u8]) {
    dst.extend_from_slice(rec);
    if !matches!(rec.last(), Some(b'\n' | b'\r')) {
        dst.push(b'\n');
    }
}

/// Batches of one row each, joined into batches of up to `batch_rows`.
fn rebatch(ctx: &ChunkCtx<'_>, parts: Vec<RecordBatch>) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    for group in parts.chunks(ctx.batch_rows.max(1)) {
        match arrow_select::concat::concat_batches(&ctx.schema, group) {
            Ok(b) => out.push(b),
            Err(_) => out.extend(group.iter().cloned()),
        }
    }
    out
}

/// Whether a record fits the schema, by the rules arrow-csv parses with; the reason if not.
fn check_record(ctx: &ChunkCtx<'_>, rec: &csv::ByteRecord) -> std::result::Result<(), String> {
    let ncols = ctx.names.len();
    if rec.len() != ncols {
        let mut reason = format!("expected {ncols} fields, found {}", rec.len());
        if rec.len() == 1
            && let Some(c) = [b',', b';', b'\t', b'|']
                .into_iter()
                .find(|&c| c != ctx.delimiter && memchr::memchr(c, &rec[0]).is_some())
        {
            let shown = if c == b'\t' { "\\t".to_string() } else { (c as char).to_string() };
            reason.push_str(&format!("; is the delimiter `{shown}`? (set delimiter = \"{shown}\")"));
        } else if let Some(hint) = ctx.hint {
            reason.push_str(&format!(" ({hint})"));
        }
        return Err(reason);
    }
    for (i, field) in rec.iter().enumerate() {
        let name = &ctx.names[i];
        let s = std::str::from_utf8(field)
            .map_err(|e| format!("invalid UTF-8 in column `{name}` (byte {} of the field)", e.valid_up_to() + 1))?;
        if ctx.nulls.is_null(s) {
            continue;
        }
        let dtype = ctx.types[i];
        let ok = match dtype {
            DType::Int64 => Int64Type::parse(s).is_some(),
            DType::Float64 => Float64Type::parse(s).is_some(),
            DType::Float32 => Float32Type::parse(s).is_some(),
            DType::Boolean => s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false"),
            DType::TimestampMs => "+00:00"
                .parse::<arrow_array::timezone::Tz>()
                .is_ok_and(|tz| arrow_cast::parse::string_to_datetime(&tz, s).is_ok()),
            _ => true,
        };
        if !ok {
            return Err(bad_value(ctx, i, s));
        }
    }
    Ok(())
}

fn bad_value(ctx: &ChunkCtx<'_>, i: usize, value: &str) -> String {
    let dtype = ctx.types[i];
    let mut reason = format!("column `{}`: `{}` is not a valid {}", ctx.names[i], truncate(value, 40), dtype.name());
    if ctx.inferred[i] {
        let better =
            if matches!(dtype, DType::Int64) && Float64Type::parse(value).is_some() { "float" } else { "string" };
        reason.push_str(&format!(
            "; the type was inferred from the first {} rows of `{}`: read more rows to infer it (`infer_rows`) or \
             give `{}` the type {better} (a schema)",
            ctx.infer_rows, ctx.inferred_from, ctx.names[i]
        ));
    }
    reason
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use arrow_array::Array;

    /// Every row of `tables` as text cells (`∅` for null), in order.
    pub(crate) fn cells(tables: &[Table]) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        for t in tables {
            for b in t.batches() {
                for r in 0..b.num_rows() {
                    out.push(
                        b.columns()
                            .iter()
                            .map(|c| {
                                if c.is_null(r) {
                                    "∅".to_string()
                                } else {
                                    arrow_cast::display::array_value_to_string(c, r).unwrap()
                                }
                            })
                            .collect(),
                    );
                }
            }
        }
        out
    }

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|s| s.to_string()).collect()
    }

    fn types_of(d: &CsvDecoder) -> Vec<(String, DataType)> {
        d.schema().unwrap().fields().iter().map(|f| (f.name().clone(), f.data_type().clone())).collect()
    }

    /// Decodes `files` fed in blocks of `block` bytes; `min_chunk` small makes every feed decode.
    fn run(
        mut opts: CsvOptions,
        files: &[(&str, &[u8])],
        block: usize,
        min_chunk: usize,
    ) -> Result<(Vec<Table>, CsvDecoder)> {
        if opts.threads == 0 {
            opts.threads = 1;
        }
        let mut d = CsvDecoder::new(opts)?;
        d.min_chunk = min_chunk;
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

    fn one(opts: CsvOptions, bytes: &[u8]) -> (Vec<Table>, CsvDecoder) {
        run(opts, &[("f.csv", bytes)], usize::MAX, MIN_CHUNK).unwrap()
    }

    fn lines_and_reasons(d: &CsvDecoder) -> Vec<(u64, String)> {
        d.bad_rows().iter().map(|b| (b.line, b.reason.clone())).collect()
    }

    #[test]
    fn quoting_with_delimiters_quotes_and_newlines() {
        let data = b"name,quote,n\n\"Smith, J\",\"he said \"\"hi\"\"\",1\n\"multi\nline\",\"\",2\nplain,5'2\",3\n";
        let (t, d) = one(CsvOptions::default(), data);
        assert_eq!(
            cells(&t),
            vec![
                row(&["Smith, J", "he said \"hi\"", "1"]),
                row(&["multi\nline", "∅", "2"]),
                row(&["plain", "5'2\"", "3"]),
            ]
        );
        assert_eq!(d.rows(), 3);
        assert_eq!(d.bad_row_count(), 0);
        assert_eq!(types_of(&d)[2], ("n".to_string(), DataType::Int64));
    }

    #[test]
    fn every_feed_boundary_gives_the_same_output() {
        let data: &[u8] = b"\xEF\xBB\xBFid,text,x\r\n1,\"a,b\",0.5\r\n2,\"multi\r\nline \"\"q\"\"\",\r\n3,plain,7\r\n4,ragged\r\n\r\n5,\"\",2\r\n6,\"\xC3\xA9\",3\r\n7,x\xFF,1\r\n8,y,1,2";
        // Types from the first two rows: the schema is fixed early, so later feeds decode at once.
        let opts = CsvOptions { infer_rows: 2, ..CsvOptions::default() };
        let reference = run(opts.clone(), &[("f", data)], usize::MAX, MIN_CHUNK).unwrap();
        let expected = cells(&reference.0);
        assert_eq!(
            expected,
            vec![
                row(&["1", "a,b", "0.5"]),
                row(&["2", "multi\r\nline \"q\"", "∅"]),
                row(&["3", "plain", "7.0"]),
                row(&["5", "∅", "2.0"]),
                row(&["6", "é", "3.0"]),
            ]
        );
        let bad = lines_and_reasons(&reference.1);
        assert_eq!(bad.iter().map(|b| b.0).collect::<Vec<_>>(), vec![6, 10, 11]);
        for min_chunk in [1, MIN_CHUNK] {
            for i in 0..=data.len() {
                let mut d = CsvDecoder::new(CsvOptions { threads: 2, ..opts.clone() }).unwrap();
                d.min_chunk = min_chunk;
                d.begin_file("f").unwrap();
                let mut out = d.feed(&data[..i]).unwrap();
                let early = out.len();
                out.extend(d.feed(&data[i..]).unwrap());
                if min_chunk == 1 && i == data.len() {
                    assert!(early > 0, "complete records are returned by feed");
                }
                out.extend(d.end_file().unwrap());
                assert_eq!(cells(&out), expected, "split at {i}, min_chunk {min_chunk}");
                assert_eq!(lines_and_reasons(&d), bad, "split at {i}");
                assert_eq!(d.schema(), reference.1.schema());
            }
            // Byte by byte.
            let (out, d) = run(opts.clone(), &[("f", data)], 1, min_chunk).unwrap();
            assert_eq!(cells(&out), expected);
            assert_eq!(lines_and_reasons(&d), bad);
        }
    }

    fn generated(rows: usize, bad_every: usize) -> (Vec<u8>, usize) {
        let mut s = String::from("id,name,score,flag,note\n");
        let mut bad = 0;
        for i in 0..rows {
            if bad_every > 0 && i >= 20_000 && i % bad_every == bad_every / 2 {
                bad += 1;
                match i % 3 {
                    0 => s.push_str(&format!("{i},short\n")),
                    1 => s.push_str(&format!("x{i},n,1.0,true,\n")),
                    _ => s.push_str(&format!("{i},n,notanumber,false,\n")),
                }
                continue;
            }
            let note = match i % 7 {
                0 => "\"with, comma\"".to_string(),
                1 => format!("\"two\nlines {i}\""),
                2 => String::new(),
                _ => format!("n{}", i % 13),
            };
            let score = if i % 11 == 0 { String::new() } else { format!("{}.{}", i % 1000, i % 7) };
            s.push_str(&format!("{i},name{},{score},{},{note}\n", i % 17, i % 2 == 0));
        }
        (s.into_bytes(), bad)
    }

    #[test]
    fn parallel_equals_single_thread() {
        let (data, nbad) = generated(200_000, 997);
        let single =
            run(CsvOptions { threads: 1, ..CsvOptions::default() }, &[("g.csv", &data)], 1 << 20, MIN_CHUNK).unwrap();
        assert_eq!(single.1.bad_row_count(), nbad as u64);
        assert_eq!(single.1.rows() + nbad as u64, 200_000);
        for (threads, block, min_chunk) in [(2, 1 << 20, 64 * 1024), (4, 300_001, 4096), (3, usize::MAX, MIN_CHUNK)] {
            let par = run(
                CsvOptions { threads, batch_rows: 10_000, ..CsvOptions::default() },
                &[("g.csv", &data)],
                block,
                min_chunk,
            )
            .unwrap();
            assert_eq!(cells(&par.0), cells(&single.0), "threads {threads}");
            assert_eq!(par.1.bad_rows(), single.1.bad_rows());
            assert!(par.0.iter().all(|t| t.num_rows() <= 10_000));
        }
        // The bad rows' lines are physical lines: check them against the text.
        let text = String::from_utf8(data).unwrap();
        let lines: Vec<&str> = text.split('\n').collect();
        for b in single.1.bad_rows() {
            let l = lines[b.line as usize - 1];
            assert!(l.contains(",n,") || l.ends_with(",short"), "line {} is `{l}`: {}", b.line, b.reason);
        }
    }

    #[test]
    fn type_inference() {
        let data = b"i,f,mixed,b,s,empty,date,big,neg\n1,1.5,1,true,x,,2024-01-01,99999999999999999999,-3\n2,2,2.5,FALSE,y,,2024-01-02,1,+4\n";
        let (t, d) = one(CsvOptions::default(), data);
        assert_eq!(
            types_of(&d).into_iter().map(|(_, t)| t).collect::<Vec<_>>(),
            vec![
                DataType::Int64,
                DataType::Float64,
                DataType::Float64,
                DataType::Boolean,
                DataType::Utf8,
                DataType::Utf8,
                DataType::Utf8,
                DataType::Utf8,
                DataType::Int64
            ]
        );
        assert_eq!(cells(&t)[1], row(&["2", "2.0", "2.5", "false", "y", "∅", "2024-01-02", "1", "4"]));
        assert!(d.schema().unwrap().fields().iter().all(|f| f.is_nullable()));
        for (s, k) in [
            ("1e5", K_FLOAT),
            (".5", K_FLOAT),
            ("5.", K_FLOAT),
            ("-1.5E-3", K_FLOAT),
            ("e5", K_TEXT),
            ("1.2.3", K_TEXT),
            ("NaN", K_FLOAT),
            ("+", K_TEXT),
            ("-", K_TEXT),
            ("1_000", K_TEXT),
            ("True", K_BOOL),
            (" 1", K_TEXT),
        ] {
            assert_eq!(classify(s), k, "{s}");
        }
    }

    #[test]
    fn given_types_and_columns() {
        let data = b"a,b,c\n007,1,x\n008,2,y\n";
        let opts = CsvOptions {
            types: Some(vec![("a".into(), DType::Utf8), ("b".into(), DType::Float64)]),
            ..CsvOptions::default()
        };
        let (t, d) = one(opts, data);
        assert_eq!(types_of(&d)[0].1, DataType::Utf8);
        assert_eq!(types_of(&d)[1].1, DataType::Float64);
        assert_eq!(cells(&t)[0], row(&["007", "1.0", "x"]));

        // Renamed columns; a schema naming an unknown column.
        let opts = CsvOptions { columns: Some(vec!["x".into(), "y".into(), "z".into()]), ..CsvOptions::default() };
        let (_, d) = one(opts, data);
        assert_eq!(types_of(&d).into_iter().map(|(n, _)| n).collect::<Vec<_>>(), vec!["x", "y", "z"]);
        let opts = CsvOptions { types: Some(vec![("q".into(), DType::Int64)]), ..CsvOptions::default() };
        let e = run(opts, &[("f.csv", data)], usize::MAX, MIN_CHUNK).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(e.detail.as_deref(), Some("columns: a, b, c"));

        // No header: columns are required and name the fields.
        assert_eq!(
            CsvDecoder::new(CsvOptions { header: false, ..CsvOptions::default() }).unwrap_err().kind,
            ErrorKind::InvalidArgument
        );
        let opts = CsvOptions { header: false, columns: Some(vec!["p".into(), "q".into()]), ..CsvOptions::default() };
        let (t, d) = one(opts, b"1,a\n2,b\n");
        assert_eq!(cells(&t), vec![row(&["1", "a"]), row(&["2", "b"])]);
        assert_eq!(types_of(&d)[0], ("p".to_string(), DataType::Int64));
    }

    #[test]
    fn null_values() {
        let data = b"n,s\n1,NA\nNA,\n3,x\n";
        let opts = CsvOptions { null_values: vec!["NA".into(), String::new()], ..CsvOptions::default() };
        let (t, d) = one(opts, data);
        assert_eq!(types_of(&d)[0].1, DataType::Int64);
        assert_eq!(cells(&t), vec![row(&["1", "∅"]), row(&["∅", "∅"]), row(&["3", "x"])]);
        // Only "NA": the empty cell is an empty string, and not an int.
        let opts = CsvOptions {
            null_values: vec!["NA".into()],
            types: Some(vec![("n".into(), DType::Int64)]),
            ..CsvOptions::default()
        };
        let (t, d) = one(opts, b"n,s\n1,NA\nNA,\n3,x\n,y\n");
        assert_eq!(cells(&t), vec![row(&["1", "∅"]), row(&["∅", ""]), row(&["3", "x"])]);
        assert_eq!(d.bad_rows()[0].line, 5);
        // Nothing is null.
        let opts = CsvOptions { null_values: vec![], ..CsvOptions::default() };
        let (t, _) = one(opts, b"s,t\n,a\n");
        assert_eq!(cells(&t), vec![row(&["", "a"])]);
    }

    #[test]
    fn header_only_and_empty_files() {
        let (t, d) = one(CsvOptions::default(), b"a,b\n");
        assert!(t.is_empty());
        assert_eq!(d.rows(), 0);
        assert_eq!(types_of(&d), vec![("a".into(), DataType::Utf8), ("b".into(), DataType::Utf8)]);
        let (_, d) = one(CsvOptions::default(), b"a,b");
        assert_eq!(types_of(&d).len(), 2);

        for data in [&b""[..], b"\xEF\xBB\xBF", b"\n\r\n"] {
            let e = run(CsvOptions::default(), &[("empty.csv", data)], usize::MAX, MIN_CHUNK).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Data);
            assert!(e.message.starts_with("file `empty.csv`"), "{}", e.message);
        }
        let e = run(CsvOptions::default(), &[("empty.csv", b"")], 1, MIN_CHUNK).unwrap_err();
        assert_eq!(e.message, "file `empty.csv` is empty");
        // Without a header an empty file is zero rows.
        let opts = CsvOptions { header: false, columns: Some(vec!["a".into()]), ..CsvOptions::default() };
        let (t, _) = one(opts, b"");
        assert!(t.is_empty());
    }

    #[test]
    fn bad_header_names() {
        for (data, msg) in [
            (
                &b"a,b,a\n1,2,3\n"[..],
                "file `h.csv` line 1: column 3 is named `a` like column 1; column names must be unique",
            ),
            (b"a,,c\n", "file `h.csv` line 1: column 2 has an empty name"),
            (b"\n\na,b,\n", "file `h.csv` line 3: column 3 has an empty name"),
        ] {
            let e = run(CsvOptions::default(), &[("h.csv", data)], usize::MAX, MIN_CHUNK).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Data);
            assert_eq!(e.message, msg);
        }
        let e = CsvDecoder::new(CsvOptions { columns: Some(vec!["a".into(), "a".into()]), ..CsvOptions::default() })
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
    }

    #[test]
    fn ragged_rows_report_physical_lines() {
        let data = b"a,b,c\n1,2,3\n\"x\ny\nz\",2,3\n4,5\n6,7,8,9\n\n10,11,12\n\"p\",\"q\nr\"\n13,14,15";
        let (t, d) = one(CsvOptions::default(), data);
        assert_eq!(
            cells(&t),
            vec![
                row(&["1", "2", "3"]),
                row(&["x\ny\nz", "2", "3"]),
                row(&["10", "11", "12"]),
                row(&["13", "14", "15"])
            ]
        );
        assert_eq!(
            lines_and_reasons(&d),
            vec![
                (6, "expected 3 fields, found 2".to_string()),
                (7, "expected 3 fields, found 4".to_string()),
                (10, "expected 3 fields, found 2".to_string()),
            ]
        );
        assert_eq!(d.bad_rows()[0].file, "f.csv");
        assert_eq!(types_of(&d)[0].1, DataType::Utf8, "x\\ny\\nz makes column a text");
    }

    #[test]
    fn unparseable_values_explain_inference() {
        let mut data = String::from("id,x,ok\n");
        for i in 0..5 {
            data.push_str(&format!("{i},{i},true\n"));
        }
        data.push_str("5,3.5,true\n6,abc,true\n7,8,maybe\n8,9,false\n");
        let opts = CsvOptions { infer_rows: 5, ..CsvOptions::default() };
        let (t, d) = one(opts, data.as_bytes());
        assert_eq!(d.rows(), 6);
        assert_eq!(cells(&t).last().unwrap(), &row(&["8", "9", "false"]));
        let bad = lines_and_reasons(&d);
        assert_eq!(bad.iter().map(|b| b.0).collect::<Vec<_>>(), vec![7, 8, 9]);
        assert_eq!(
            bad[0].1,
            "column `x`: `3.5` is not a valid int64; the type was inferred from the first 5 rows of `f.csv`: read more \
             rows to infer it (`infer_rows`) or give `x` the type float (a schema)"
        );
        assert!(bad[1].1.starts_with("column `x`: `abc` is not a valid int64;"), "{}", bad[1].1);
        assert!(bad[1].1.contains("give `x` the type string"), "{}", bad[1].1);
        assert!(bad[2].1.starts_with("column `ok`: `maybe` is not a valid boolean;"), "{}", bad[2].1);

        // A given type: no inference note.
        let opts = CsvOptions { types: Some(vec![("x".into(), DType::Int64)]), ..CsvOptions::default() };
        let (_, d) = one(opts, b"x\n1\n2.5\n");
        assert_eq!(lines_and_reasons(&d), vec![(3, "column `x`: `2.5` is not a valid int64".to_string())]);
    }

    #[test]
    fn invalid_utf8_is_a_bad_row() {
        let (t, d) = one(CsvOptions::default(), b"a,b\n1,ok\n2,bad\xFF\xFE\n3,\xC3\xA9\n");
        assert_eq!(cells(&t), vec![row(&["1", "ok"]), row(&["3", "é"])]);
        assert_eq!(lines_and_reasons(&d), vec![(3, "invalid UTF-8 in column `b` (byte 4 of the field)".to_string())]);
        // In the header: an error.
        let e = run(CsvOptions::default(), &[("u.csv", b"a,\xFF\n1,2\n")], usize::MAX, MIN_CHUNK).unwrap_err();
        assert_eq!(e.message, "file `u.csv` line 1: column 2 of the header is not valid UTF-8");
    }

    #[test]
    fn likely_wrong_delimiter() {
        let (t, d) = one(CsvOptions::default(), b"a;b;c\n1;2;3\n");
        assert_eq!(cells(&t), vec![row(&["1;2;3"])]);
        assert_eq!(
            d.notes(),
            &["file `f.csv`: the header has one column, `a;b;c`; if the file is separated by `;`, set delimiter = \";\""
                .to_string()]
        );
        let (_, d) = one(CsvOptions::default(), b"a\tb\n1\t2\n");
        assert!(d.notes()[0].ends_with("set delimiter = \"\\t\""), "{:?}", d.notes());
        let (_, d) = one(CsvOptions::default(), b"a\n1\n");
        assert!(d.notes().is_empty());
        // Without a header, the bad rows say it.
        let opts = CsvOptions { header: false, columns: Some(vec!["a".into(), "b".into()]), ..CsvOptions::default() };
        let (_, d) = one(opts, b"1|2\n");
        assert_eq!(d.bad_rows()[0].reason, "expected 2 fields, found 1; is the delimiter `|`? (set delimiter = \"|\")");
        // A semicolon file read with the right delimiter.
        let (t, d) = one(CsvOptions { delimiter: b';', ..CsvOptions::default() }, b"a;b\n1,5;x\n");
        assert_eq!(cells(&t), vec![row(&["1,5", "x"])]);
        assert!(d.notes().is_empty());
    }

    #[test]
    fn bad_options() {
        for delim in [b'"', b'\n', 0xE9] {
            let e = CsvDecoder::new(CsvOptions { delimiter: delim, ..CsvOptions::default() }).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidArgument);
        }
        assert_eq!(parse_delimiter(";").unwrap(), b';');
        assert_eq!(parse_delimiter("\\t").unwrap(), b'\t');
        assert_eq!(parse_delimiter("\t").unwrap(), b'\t');
        let e = parse_delimiter(";;").unwrap_err();
        assert_eq!(e.message, "the CSV delimiter must be one ASCII character, not `;;`");
        assert!(parse_delimiter("é").is_err());
        assert!(CsvDecoder::new(CsvOptions { batch_rows: 0, ..CsvOptions::default() }).is_err());
        let mut d = CsvDecoder::new(CsvOptions::default()).unwrap();
        assert!(d.feed(b"a").is_err());
        d.begin_file("a").unwrap();
        assert!(d.begin_file("b").is_err());
    }

    #[test]
    fn missing_final_newline_and_crlf() {
        let (t, _) = one(CsvOptions::default(), b"a,b\n1,2\n3,4");
        assert_eq!(cells(&t), vec![row(&["1", "2"]), row(&["3", "4"])]);
        let (t, d) = one(CsvOptions::default(), b"a,b\r\n1,x\r\n3,\"y\r\nz\"\r\n5,6,7\r\n");
        assert_eq!(cells(&t), vec![row(&["1", "x"]), row(&["3", "y\r\nz"])]);
        assert_eq!(types_of(&d), vec![("a".into(), DataType::Int64), ("b".into(), DataType::Utf8)]);
        assert_eq!(lines_and_reasons(&d), vec![(5, "expected 2 fields, found 3".to_string())]);
        // A quoted final field without a newline.
        let (t, _) = one(CsvOptions::default(), b"a,b\n1,\"x\"\"\"");
        assert_eq!(cells(&t), vec![row(&["1", "x\""])]);
    }

    #[test]
    fn several_files() {
        let files: [(&str, &[u8]); 3] =
            [("a.csv", b"x,y\n1,p\n2,q\n"), ("b.csv", b"x,y\n3,r\n"), ("c.csv", b"x,y\n4\n5,s")];
        let (t, d) = run(CsvOptions::default(), &files, 3, 1).unwrap();
        assert_eq!(cells(&t), vec![row(&["1", "p"]), row(&["2", "q"]), row(&["3", "r"]), row(&["5", "s"])]);
        assert_eq!(
            d.bad_rows(),
            &[BadRow { file: "c.csv".into(), line: 2, reason: "expected 2 fields, found 1".into() }]
        );

        // The schema is the first file's: a later float in an int column is a bad row.
        let files: [(&str, &[u8]); 2] = [("a.csv", b"x\n1\n"), ("b.csv", b"x\n2\n2.5\n")];
        let (_, d) = run(CsvOptions::default(), &files, usize::MAX, MIN_CHUNK).unwrap();
        assert_eq!(d.bad_rows()[0].file, "b.csv");
        assert_eq!(d.bad_rows()[0].line, 3);

        for (second, msg) in [
            (
                &b"x,z\n"[..],
                "file `b.csv` does not have the header of `a.csv`: column 2 is `z` in `b.csv` but `y` in `a.csv`",
            ),
            (
                b"x\n",
                "file `b.csv` does not have the header of `a.csv`: 1 columns instead of 2; `b.csv` lacks column 2 `y`",
            ),
            (
                b"x,y,w\n",
                "file `b.csv` does not have the header of `a.csv`: 3 columns instead of 2; `b.csv` has an extra column 3 `w`",
            ),
        ] {
            let files: [(&str, &[u8]); 2] = [("a.csv", b"x,y\n1,2\n"), ("b.csv", second)];
            let e = run(CsvOptions::default(), &files, usize::MAX, MIN_CHUNK).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Data);
            assert_eq!(e.message, msg);
        }
    }

    #[test]
    fn scanner_follows_csv_quoting() {
        let data = b"a,\"q\nq\"\nb,c\"d\ne,\"\"\"\n\"\n";
        let mut s = Scanner::new(1);
        s.scan(data, b',');
        assert_eq!(s.marks, vec![8, 14, 22]);
        assert_eq!(s.last_end, 22);
        // Resumed across every split, the state is the same.
        for i in 0..=data.len() {
            let mut s = Scanner::new(1);
            s.scan(&data[..i], b',');
            s.scan(data, b',');
            assert_eq!(s.marks, vec![8, 14, 22], "split {i}");
        }
        assert_eq!(split_points(&[8, 14, 22], 22, 4, 5), vec![0, 8, 14, 22]);
        assert_eq!(split_points(&[8, 14, 22], 22, 1, 5), vec![0, 22]);
    }

    #[test]
    fn never_panics_on_noise() {
        let mut state = 7u64;
        let alphabet = b"ab,\"\n\r;1.5\xFF\xC3";
        for round in 0..300 {
            let len = (crate::hash::splitmix64(&mut state) % 200) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| alphabet[(crate::hash::splitmix64(&mut state) % alphabet.len() as u64) as usize])
                .collect();
            for header in [true, false] {
                let opts = CsvOptions {
                    header,
                    columns: (!header).then(|| vec!["p".into(), "q".into()]),
                    threads: 2,
                    ..CsvOptions::default()
                };
                let block = 1 + round % 13;
                if let Ok((t, d)) = run(opts, &[("n", &bytes)], block, 1) {
                    assert_eq!(t.iter().map(|t| t.num_rows() as u64).sum::<u64>(), d.rows());
                }
            }
        }
    }

    /// `cargo test -p mlp-kernels --release -- --ignored --nocapture timing_csv`.
    #[test]
    #[ignore]
    fn timing_csv_decode_a_million_rows() {
        let n = 1_000_000usize;
        let mut s = 1u64;
        let mut next = move || crate::hash::splitmix64(&mut s);
        let mut text = String::with_capacity(160 * n);
        let names: Vec<String> = (0..22)
            .map(|i| match i % 3 {
                0 => format!("int{i}"),
                1 => format!("float{i}"),
                _ => format!("str{i}"),
            })
            .collect();
        text.push_str(&names.join(","));
        text.push('\n');
        let words = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta"];
        for _ in 0..n {
            for i in 0..22 {
                if i > 0 {
                    text.push(',');
                }
                let r = next();
                match i % 3 {
                    0 => text.push_str(&((r % 100_000) as i64 - 500).to_string()),
                    1 => {
                        if r % 20 != 0 {
                            text.push_str(&format!("{:.3}", (r >> 11) as f64 / (1u64 << 53) as f64 * 1000.0));
                        }
                    }
                    _ => text.push_str(words[(r % 7) as usize]),
                }
            }
            text.push('\n');
        }
        let data = text.into_bytes();
        println!("CSV: {} rows x 22 columns, {:.1} MB", n, data.len() as f64 / 1e6);
        // The baseline: arrow-csv alone over the whole buffer on one thread, schema given.
        let mut probe = CsvDecoder::new(CsvOptions { threads: 1, ..CsvOptions::default() }).unwrap();
        probe.begin_file("probe").unwrap();
        probe.feed(&data[..8 << 20]).unwrap();
        let schema = probe.schema().unwrap();
        let body = &data[memchr::memchr(b'\n', &data).unwrap() + 1..];
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            let start = std::time::Instant::now();
            let rows: usize = ReaderBuilder::new(schema.clone())
                .with_batch_size(65_536)
                .build(body)
                .unwrap()
                .map(|b| b.unwrap().num_rows())
                .sum();
            best = best.min(start.elapsed().as_secs_f64());
            assert_eq!(rows, n);
        }
        println!("arrow-csv Reader alone, 1 thread          {:>8.1} ms", best * 1e3);
        let start = std::time::Instant::now();
        let mut scan = Scanner::new(MIN_CHUNK / 4);
        scan.scan(&data, b',');
        let lines = count_newlines(&data);
        println!(
            "boundary scan + newline count            {:>8.1} ms ({} marks, {lines} lines)",
            start.elapsed().as_secs_f64() * 1e3,
            scan.marks.len()
        );
        for (threads, nulls) in [(1, false), (2, false), (2, true)] {
            let null_values = if nulls { vec![String::new(), "NA".to_string()] } else { vec![String::new()] };
            let mut best = f64::INFINITY;
            for _ in 0..3 {
                let start = std::time::Instant::now();
                let opts = CsvOptions { threads, null_values: null_values.clone(), ..CsvOptions::default() };
                let mut d = CsvDecoder::new(opts).unwrap();
                d.begin_file("t.csv").unwrap();
                let mut rows = 0;
                for block in data.chunks(8 << 20) {
                    rows += d.feed(block).unwrap().iter().map(Table::num_rows).sum::<usize>();
                }
                rows += d.end_file().unwrap().iter().map(Table::num_rows).sum::<usize>();
                best = best.min(start.elapsed().as_secs_f64());
                assert_eq!(rows, n);
                assert_eq!(d.bad_row_count(), 0);
            }
            let what = if nulls { ", null_values [\"\", NA]" } else { "" };
            println!("csv decode, {threads} thread(s), 8 MiB blocks{what:<24} {:>8.1} ms", best * 1e3);
        }
    }
}
