//! [`Decoder`]: what the streaming text decoders (`csv`, `jsonl`) have in common, so the host
//! serves the WIT `decoder` resource with one implementation whatever the format.

use crate::csv::BadRow;
use crate::data::Table;
use crate::error::KernelError;
use arrow_schema::SchemaRef;

/// Text in, tables out, file by file and block by block, with bad rows reported.
pub trait Decoder: Send {
    /// Starts a file; `name` appears in bad-row reports.
    fn begin_file(&mut self, name: &str) -> Result<(), KernelError>;
    /// The next block of the current file (any size); the complete records decoded so far.
    fn feed(&mut self, bytes: &[u8]) -> Result<Vec<Table>, KernelError>;
    /// The end of the current file: its last records.
    fn end_file(&mut self) -> Result<Vec<Table>, KernelError>;
    /// The schema of the tables, once known.
    fn schema(&self) -> Option<SchemaRef>;
    /// Good rows decoded.
    fn rows(&self) -> u64;
    /// The first bad rows, in order.
    fn bad_rows(&self) -> &[BadRow];
    /// Every bad row, counted.
    fn bad_row_count(&self) -> u64;
    /// Remarks for the user that are not errors.
    fn notes(&self) -> Vec<String>;
}

macro_rules! decoder {
    ($t:ty, $notes:expr) => {
        impl Decoder for $t {
            fn begin_file(&mut self, name: &str) -> Result<(), KernelError> {
                <$t>::begin_file(self, name)
            }
            fn feed(&mut self, bytes: &[u8]) -> Result<Vec<Table>, KernelError> {
                <$t>::feed(self, bytes)
            }
            fn end_file(&mut self) -> Result<Vec<Table>, KernelError> {
                <$t>::end_file(self)
            }
            fn schema(&self) -> Option<SchemaRef> {
                <$t>::schema(self)
            }
            fn rows(&self) -> u64 {
                <$t>::rows(self)
            }
            fn bad_rows(&self) -> &[BadRow] {
                <$t>::bad_rows(self)
            }
            fn bad_row_count(&self) -> u64 {
                <$t>::bad_row_count(self)
            }
            fn notes(&self) -> Vec<String> {
                $notes(self)
            }
        }
    };
}

decoder!(crate::csv::CsvDecoder, |d: &crate::csv::CsvDecoder| d.notes().to_vec());
decoder!(crate::jsonl::JsonlDecoder, |d: &crate::jsonl::JsonlDecoder| d.notes());
