//! Column types as plugins see them: [`DType`] mirrors the WIT `data-type` enum of
//! `mlp:plugin/types`, [`fields`] backs `table.schema`, and [`column_index`] is the one place
//! a column name is resolved (with the "did you mean" error of [`KernelError::unknown_column`]).

use crate::data::Table;
use crate::error::{KernelError, Result};
use arrow_array::ArrayRef;
use arrow_schema::{DataType, TimeUnit};

/// The element type of a column or tensor; mirrors WIT `data-type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// `boolean`.
    Boolean,
    /// `int64`: every Arrow integer width, signed or unsigned, reports as this.
    Int64,
    /// `float32` (also Arrow `float16`).
    Float32,
    /// `float64`.
    Float64,
    /// `utf8`: Arrow `utf8`, `large-utf8` and `utf8-view`.
    Utf8,
    /// A categorical column: Arrow dictionary of strings.
    Dictionary,
    /// `timestamp-ms`: Arrow timestamps in milliseconds, with or without a time zone.
    TimestampMs,
    /// Anything the host holds but no kernel reads as such.
    Other,
}

impl DType {
    /// The WIT type of an Arrow type. Lossy on purpose: integer widths fold into `Int64`,
    /// the string layouts into `Utf8`, and types WIT has no name for into `Other`.
    pub fn from_arrow(dt: &DataType) -> DType {
        match dt {
            DataType::Boolean => DType::Boolean,
            dt if is_integer_type(dt) => DType::Int64,
            DataType::Float16 | DataType::Float32 => DType::Float32,
            DataType::Float64 => DType::Float64,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DType::Utf8,
            DataType::Dictionary(_, v) if matches!(v.as_ref(), DataType::Utf8 | DataType::LargeUtf8) => {
                DType::Dictionary
            }
            DataType::Timestamp(TimeUnit::Millisecond, _) => DType::TimestampMs,
            _ => DType::Other,
        }
    }

    /// The Arrow type a cast to this type produces: `Dictionary` is `dictionary<int32, utf8>`,
    /// `TimestampMs` has no time zone. `None` for `Other`, which names no type.
    pub fn to_arrow(self) -> Option<DataType> {
        Some(match self {
            DType::Boolean => DataType::Boolean,
            DType::Int64 => DataType::Int64,
            DType::Float32 => DataType::Float32,
            DType::Float64 => DataType::Float64,
            DType::Utf8 => DataType::Utf8,
            DType::Dictionary => DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            DType::TimestampMs => DataType::Timestamp(TimeUnit::Millisecond, None),
            DType::Other => return None,
        })
    }

    /// The name WIT uses (`int64`, `timestamp-ms`), for messages.
    pub fn name(self) -> &'static str {
        match self {
            DType::Boolean => "boolean",
            DType::Int64 => "int64",
            DType::Float32 => "float32",
            DType::Float64 => "float64",
            DType::Utf8 => "utf8",
            DType::Dictionary => "dictionary",
            DType::TimestampMs => "timestamp-ms",
            DType::Other => "other",
        }
    }
}

/// The table's columns as `(name, type, nullable)`, in schema order (WIT `table.schema`).
pub fn fields(table: &Table) -> Vec<(String, DType, bool)> {
    table
        .schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), DType::from_arrow(f.data_type()), f.is_nullable()))
        .collect()
}

/// The index of the column `name`, or a [`crate::ErrorKind::NotFound`] error that suggests
/// the closest name and lists the columns.
pub fn column_index(table: &Table, name: &str) -> Result<usize> {
    table.schema().index_of(name).map_err(|_| KernelError::unknown_column(table.schema(), name))
}

/// The chunks of column `idx`, one per batch, in row order.
pub(crate) fn chunks(table: &Table, idx: usize) -> impl Iterator<Item = &ArrayRef> {
    table.batches().iter().map(move |b| b.column(idx))
}

/// Whether `dt` is an integer type of any width, signed or not.
pub(crate) fn is_integer_type(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
    )
}

/// Whether `dt` is a string type this crate reads as text: utf8, large-utf8, utf8-view, or a
/// dictionary of utf8 / large-utf8 values.
pub(crate) fn is_string_type(dt: &DataType) -> bool {
    match dt {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, v) => matches!(v.as_ref(), DataType::Utf8 | DataType::LargeUtf8),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int32Array, RecordBatch, StringArray};
    use std::sync::Arc;

    #[test]
    fn dtypes_round_trip_and_fold_widths() {
        for d in [
            DType::Boolean,
            DType::Int64,
            DType::Float32,
            DType::Float64,
            DType::Utf8,
            DType::Dictionary,
            DType::TimestampMs,
        ] {
            assert_eq!(DType::from_arrow(&d.to_arrow().unwrap()), d, "{d:?}");
        }
        assert_eq!(DType::Other.to_arrow(), None);
        assert_eq!(DType::from_arrow(&DataType::UInt8), DType::Int64);
        assert_eq!(DType::from_arrow(&DataType::LargeUtf8), DType::Utf8);
        assert_eq!(DType::from_arrow(&DataType::Timestamp(TimeUnit::Second, None)), DType::Other);
        assert_eq!(DType::from_arrow(&DataType::Date32), DType::Other);
        let dict_int = DataType::Dictionary(Box::new(DataType::Int8), Box::new(DataType::Int64));
        assert_eq!(DType::from_arrow(&dict_int), DType::Other);
    }

    #[test]
    fn fields_and_lookup() {
        let b = RecordBatch::try_from_iter_with_nullable(vec![
            ("id", Arc::new(Int32Array::from(vec![1])) as ArrayRef, false),
            ("name", Arc::new(StringArray::from(vec!["a"])) as ArrayRef, true),
        ])
        .unwrap();
        let t = Table::from_batch(b);
        assert_eq!(fields(&t), vec![("id".into(), DType::Int64, false), ("name".into(), DType::Utf8, true)]);
        assert_eq!(column_index(&t, "name").unwrap(), 1);
        let e = column_index(&t, "nmae").unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::NotFound);
        assert!(e.message.contains("did you mean `name`"), "{}", e.message);
        assert_eq!(e.detail.as_deref(), Some("columns: id, name"));
    }
}
