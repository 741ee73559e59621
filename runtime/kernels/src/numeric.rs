//! Typed access to numeric columns, shared by the kernels that read numbers (statistics,
//! histograms, quantiles, `read-f64`, tensors).
//!
//! [`visit_numeric`] dispatches an Arrow array of any numeric type once, and hands the
//! visitor the raw values slice (`&[i8]` ... `&[f64]`) with the null bitmap, so that the
//! visitor's inner loop is monomorphized per width and runs over plain slices. Types that are
//! numbers underneath (timestamps, dates, times, durations, decimals, float16) are cast first;
//! booleans are handed over as 0/1 bytes.

use crate::error::{ErrorKind, KernelError, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef};
use arrow_buffer::NullBuffer;
use arrow_schema::DataType;

/// A native value that reads as an `f64`.
pub(crate) trait ToF64: Copy + Send + Sync + 'static {
    /// The value as a float (64-bit integers above 2^53 round).
    fn to_f64(self) -> f64;
    /// Whether the type is a float (may hold NaN).
    const FLOAT: bool;
    /// Whether the type is an unsigned integer.
    const UNSIGNED: bool = false;
    /// A 64-bit key that is equal exactly when the values are equal: the integer's bits
    /// (two's complement for signed types), or for floats the bits of the `f64` with `-0.0`
    /// folded into `0.0` and every NaN into one NaN.
    fn key(self) -> u64;
}

/// The key of every NaN (see [`ToF64::key`]).
pub(crate) const NAN_KEY: u64 = 0x7ff8_0000_0000_0000;

#[inline(always)]
fn float_key(x: f64) -> u64 {
    if x.is_nan() { NAN_KEY } else { (x + 0.0).to_bits() }
}

macro_rules! to_f64_int {
    ($unsigned:expr, $($t:ty),*) => {$(
        impl ToF64 for $t {
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            const FLOAT: bool = false;
            const UNSIGNED: bool = $unsigned;
            #[inline(always)]
            fn key(self) -> u64 {
                self as i64 as u64
            }
        }
    )*};
}
to_f64_int!(false, i8, i16, i32, i64);
to_f64_int!(true, u8, u16, u32, u64);

impl ToF64 for f32 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    const FLOAT: bool = true;
    #[inline(always)]
    fn key(self) -> u64 {
        float_key(self as f64)
    }
}

impl ToF64 for f64 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    const FLOAT: bool = true;
    #[inline(always)]
    fn key(self) -> u64 {
        float_key(self)
    }
}

/// Receives the values of one numeric array.
pub(crate) trait NumVisitor {
    /// `values[i]` is meaningful where `nulls` (if any) says row `i` is valid.
    fn visit<T: ToF64>(&mut self, values: &[T], nulls: Option<&NullBuffer>);
}

/// Whether `dt` is a type [`visit_numeric`] reads.
pub(crate) fn is_numeric_type(dt: &DataType) -> bool {
    crate::schema::is_integer_type(dt)
        || matches!(
            dt,
            DataType::Boolean
                | DataType::Float16
                | DataType::Float32
                | DataType::Float64
                | DataType::Timestamp(_, _)
                | DataType::Date32
                | DataType::Date64
                | DataType::Time32(_)
                | DataType::Time64(_)
                | DataType::Duration(_)
                | DataType::Decimal32(_, _)
                | DataType::Decimal64(_, _)
                | DataType::Decimal128(_, _)
                | DataType::Decimal256(_, _)
        )
}

/// The error for a column that is not numeric.
pub(crate) fn not_numeric(column: &str, dt: &DataType) -> KernelError {
    KernelError::invalid(format!("column `{column}` has type {dt}, not a number"))
}

/// Hand the values of `array` (column `column`, for messages) to `v`. Errors with
/// `InvalidArgument` when the type is not numeric.
pub(crate) fn visit_numeric(array: &dyn Array, column: &str, v: &mut impl NumVisitor) -> Result<()> {
    let nulls = array.nulls();
    macro_rules! prim {
        ($t:ty) => {
            v.visit(array.as_primitive::<$t>().values().as_ref(), nulls)
        };
    }
    match array.data_type() {
        DataType::Int8 => prim!(Int8Type),
        DataType::Int16 => prim!(Int16Type),
        DataType::Int32 => prim!(Int32Type),
        DataType::Int64 => prim!(Int64Type),
        DataType::UInt8 => prim!(UInt8Type),
        DataType::UInt16 => prim!(UInt16Type),
        DataType::UInt32 => prim!(UInt32Type),
        DataType::UInt64 => prim!(UInt64Type),
        DataType::Float32 => prim!(Float32Type),
        DataType::Float64 => prim!(Float64Type),
        DataType::Boolean => {
            let b = array.as_boolean();
            let bytes: Vec<u8> = b.values().iter().map(u8::from).collect();
            v.visit(&bytes, nulls);
        }
        dt @ (DataType::Timestamp(_, _)
        | DataType::Date32
        | DataType::Date64
        | DataType::Time32(_)
        | DataType::Time64(_)
        | DataType::Duration(_)) => {
            // Their integer value (milliseconds since the epoch for `timestamp-ms`).
            let to =
                if matches!(dt, DataType::Date32 | DataType::Time32(_)) { DataType::Int32 } else { DataType::Int64 };
            let c = cast_for_read(array, &to, column)?;
            return visit_numeric(c.as_ref(), column, v);
        }
        DataType::Float16
        | DataType::Decimal32(_, _)
        | DataType::Decimal64(_, _)
        | DataType::Decimal128(_, _)
        | DataType::Decimal256(_, _) => {
            let c = cast_for_read(array, &DataType::Float64, column)?;
            return visit_numeric(c.as_ref(), column, v);
        }
        dt => return Err(not_numeric(column, dt)),
    }
    Ok(())
}

fn cast_for_read(array: &dyn Array, to: &DataType, column: &str) -> Result<ArrayRef> {
    arrow_cast::cast(array, to)
        .map_err(|e| KernelError::arrow(ErrorKind::Data, &format!("cannot read column `{column}` as numbers"), e))
}

/// Call `f(start, end)` for each run of valid rows in `0..len`.
#[inline]
pub(crate) fn for_each_valid_run(len: usize, nulls: Option<&NullBuffer>, mut f: impl FnMut(usize, usize)) {
    match nulls {
        Some(n) if n.null_count() > 0 => {
            for (s, e) in n.valid_slices() {
                f(s, e);
            }
        }
        _ => {
            if len > 0 {
                f(0, len)
            }
        }
    }
}

/// The values of `array` as `f64`, nulls as NaN.
pub(crate) fn to_f64_vec(array: &dyn Array, column: &str) -> Result<Vec<f64>> {
    struct V(Vec<f64>);
    impl NumVisitor for V {
        fn visit<T: ToF64>(&mut self, values: &[T], nulls: Option<&NullBuffer>) {
            self.0.extend(values.iter().map(|x| x.to_f64()));
            if let Some(n) = nulls.filter(|n| n.null_count() > 0) {
                let base = self.0.len() - values.len();
                for (i, valid) in n.iter().enumerate() {
                    if !valid {
                        self.0[base + i] = f64::NAN;
                    }
                }
            }
        }
    }
    let mut v = V(Vec::with_capacity(array.len()));
    visit_numeric(array, column, &mut v)?;
    Ok(v.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{BooleanArray, Decimal128Array, Float32Array, Int8Array, StringArray, TimestampMillisecondArray};

    #[test]
    fn reads_every_width_with_nulls_as_nan() {
        let a = Int8Array::from(vec![Some(-3), None, Some(7)]);
        let v = to_f64_vec(&a, "a").unwrap();
        assert_eq!(v[0], -3.0);
        assert!(v[1].is_nan());
        assert_eq!(v[2], 7.0);
        assert_eq!(to_f64_vec(&Float32Array::from(vec![1.5f32]), "f").unwrap(), vec![1.5]);
        assert_eq!(to_f64_vec(&BooleanArray::from(vec![true, false]), "b").unwrap(), vec![1.0, 0.0]);
        let ts = TimestampMillisecondArray::from(vec![1_700_000_000_123i64]);
        assert_eq!(to_f64_vec(&ts, "t").unwrap(), vec![1_700_000_000_123.0]);
        let d = Decimal128Array::from(vec![12345i128]).with_precision_and_scale(10, 2).unwrap();
        assert_eq!(to_f64_vec(&d, "d").unwrap(), vec![123.45]);
    }

    #[test]
    fn strings_are_not_numbers() {
        let e = to_f64_vec(&StringArray::from(vec!["x"]), "name").unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        assert_eq!(e.message, "column `name` has type Utf8, not a number");
    }

    #[test]
    fn valid_runs_cover_the_valid_rows() {
        let a = Int8Array::from(vec![Some(1), Some(2), None, Some(4), None, None, Some(7)]);
        let mut runs = Vec::new();
        for_each_valid_run(a.len(), a.nulls(), |s, e| runs.push((s, e)));
        assert_eq!(runs, vec![(0, 2), (3, 4), (6, 7)]);
        let mut runs = Vec::new();
        for_each_valid_run(3, None, |s, e| runs.push((s, e)));
        assert_eq!(runs, vec![(0, 3)]);
    }
}
