//! Running a compiled [`Program`] over an Arrow [`RecordBatch`]: find the input columns by
//! name, check their types, hand their buffers to the native function, and wrap the output
//! buffers as Arrow arrays (Float64/Int64/Boolean with null buffers).
//!
//! The single `unsafe` call of the crate's run path lives in [`call`], with the argument that
//! makes it sound.

use crate::compile::Program;
use crate::error::{Result, TransformError};
use crate::ir::{Input, Type};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, RecordBatchOptions};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Schema};
use std::sync::Arc;

/// The Arrow type of an IR type.
pub fn arrow_type(ty: Type) -> DataType {
    match ty {
        Type::Float64 => DataType::Float64,
        Type::Int64 => DataType::Int64,
        Type::Boolean => DataType::Boolean,
        Type::Utf8 => DataType::Utf8,
    }
}

/// Whether a column of Arrow type `dt` can be read as `ty`: exactly, or after a lossless
/// widening (narrower integers to `Int64`, `Float32`/`Float16` to `Float64`, `LargeUtf8` and
/// `Utf8View` as strings).
fn readable(dt: &DataType, ty: Type) -> bool {
    use DataType as D;
    match ty {
        Type::Float64 => matches!(dt, D::Float64 | D::Float32 | D::Float16),
        Type::Int64 => matches!(dt, D::Int64 | D::Int32 | D::Int16 | D::Int8 | D::UInt32 | D::UInt16 | D::UInt8),
        Type::Boolean => matches!(dt, D::Boolean),
        Type::Utf8 => matches!(dt, D::Utf8 | D::LargeUtf8 | D::Utf8View),
    }
}

/// The IR type a column of Arrow type `dt` is read as, if any (see [`readable`]).
pub fn ir_type(dt: &DataType) -> Option<Type> {
    [Type::Float64, Type::Int64, Type::Boolean, Type::Utf8].into_iter().find(|t| readable(dt, *t))
}

/// The hashes of a string column's values ([`crate::ir::hash_str`]; 0 for nulls).
pub(crate) fn hash_strings(a: &ArrayRef) -> Vec<u64> {
    let h = |s: Option<&str>| s.map_or(0, crate::ir::hash_str);
    match a.data_type() {
        DataType::LargeUtf8 => a.as_string::<i64>().iter().map(h).collect(),
        DataType::Utf8View => a.as_string_view().iter().map(h).collect(),
        _ => a.as_string::<i32>().iter().map(h).collect(),
    }
}

/// The batch's columns for `inputs`, by name, each checked to have the input's type exactly.
pub(crate) fn resolve_inputs(inputs: &[Input], batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
    inputs
        .iter()
        .enumerate()
        .map(|(index, input)| {
            let col = batch
                .column_by_name(&input.name)
                .ok_or_else(|| TransformError::MissingColumn { column: input.name.clone(), index })?;
            if !readable(col.data_type(), input.ty) {
                return Err(TransformError::ColumnType {
                    column: input.name.clone(),
                    expected: input.ty,
                    found: col.data_type().to_string(),
                });
            }
            if input.ty != Type::Utf8 && col.data_type() != &arrow_type(input.ty) {
                return arrow_cast::cast(col, &arrow_type(input.ty)).map_err(|e| TransformError::Arrow(e.to_string()));
            }
            Ok(col.clone())
        })
        .collect()
}

/// The rows one call of the compiled function covers: a multiple of 64, so that chunks start
/// on whole bytes of the input bitmaps and whole words of the output bitmaps, and small enough
/// that the per-chunk byte buffers stay in cache.
const CHUNK: usize = 4096;

/// An output's values: 8-byte words (f64 bits or i64) for numbers, a bitmap (LSB first) for
/// booleans.
pub(crate) enum Values {
    Words(Vec<u64>),
    Bits(Vec<u64>),
}

/// Packs 0/1 `bytes` into `words`, LSB first (`words` holds at least `bytes.len() / 64`
/// rounded up words).
pub(crate) fn pack(bytes: &[u8], words: &mut [u64]) {
    for (w, chunk) in words.iter_mut().zip(bytes.chunks(64)) {
        let mut x = 0u64;
        for (k, b) in chunk.iter().enumerate() {
            x |= u64::from(*b & 1) << k;
        }
        *w = x;
    }
}

/// The output batch: for each output its name, type, values and validity bitmap.
pub(crate) fn build_output(rows: usize, columns: Vec<(String, Type, Values, Vec<u64>)>) -> Result<RecordBatch> {
    let bits = |w: Vec<u64>| BooleanBuffer::new(Buffer::from_vec(w), 0, rows);
    let mut fields = Vec::with_capacity(columns.len());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    for (name, ty, values, valid) in columns {
        let nulls = NullBuffer::new(bits(valid));
        let nulls = (nulls.null_count() > 0).then_some(nulls);
        let array: ArrayRef = match (ty, values) {
            (Type::Float64, Values::Words(w)) => {
                Arc::new(Float64Array::new(ScalarBuffer::new(Buffer::from_vec(w), 0, rows), nulls))
            }
            (Type::Int64, Values::Words(w)) => {
                Arc::new(Int64Array::new(ScalarBuffer::new(Buffer::from_vec(w), 0, rows), nulls))
            }
            (Type::Boolean, Values::Bits(w)) => Arc::new(BooleanArray::new(bits(w), nulls)),
            _ => unreachable!("numbers are words, booleans bits"),
        };
        fields.push(Field::new(name, arrow_type(ty), true));
        arrays.push(array);
    }
    RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        arrays,
        &RecordBatchOptions::new().with_row_count(Some(rows)),
    )
    .map_err(|e| TransformError::Arrow(e.to_string()))
}

impl Program {
    /// Computes every output of the program over `batch`: one column per output, in order,
    /// named as the outputs. Input columns are found by name and must have the declared type
    /// exactly (`Float64`, `Int64`, `Boolean`); they may be slices and may have nulls.
    ///
    /// The compiled function runs over chunks of [`CHUNK`] rows: number outputs are written in
    /// place into their final buffers; validity and boolean values come back as one byte per
    /// row in a small scratch buffer and are packed into bitmaps after each chunk.
    pub fn run(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let rows = batch.num_rows();
        let arrays = resolve_inputs(&self.ir.inputs, batch)?;
        // Bitmaps at bit offset 0: `sliced` is zero-copy when the offset is a whole byte.
        let mut keep: Vec<Buffer> = Vec::with_capacity(2 * arrays.len());
        let all_valid = Buffer::from_vec(vec![u8::MAX; rows.div_ceil(8)]);
        let mut in_valid = Vec::with_capacity(arrays.len());
        let mut in_values = Vec::with_capacity(arrays.len());
        // Whether input k's values are 8-byte words (else a bitmap).
        let mut in_words = Vec::with_capacity(arrays.len());
        // The hashes of string inputs, alive until after the calls.
        let mut hashes: Vec<Vec<u64>> = Vec::new();
        for (a, input) in arrays.iter().zip(&self.ir.inputs) {
            let valid = match a.nulls() {
                Some(n) => n.inner().sliced(),
                None => all_valid.clone(),
            };
            in_valid.push(valid.as_ptr());
            keep.push(valid);
            match input.ty {
                // The arrays live in `arrays` until after the calls; their value slices start
                // at the array's first row.
                Type::Float64 => in_values.push(a.as_primitive::<Float64Type>().values().as_ptr().cast::<u8>()),
                Type::Int64 => in_values.push(a.as_primitive::<Int64Type>().values().as_ptr().cast::<u8>()),
                Type::Boolean => {
                    let values = a.as_boolean().values().sliced();
                    in_values.push(values.as_ptr());
                    keep.push(values);
                }
                Type::Utf8 => {
                    let h = hash_strings(a);
                    in_values.push(h.as_ptr().cast::<u8>());
                    hashes.push(h);
                }
            }
            in_words.push(input.ty != Type::Boolean);
        }
        let outputs = self.types.len();
        let words = rows.div_ceil(64);
        let mut values: Vec<Values> = self
            .types
            .iter()
            .map(|ty| match ty {
                Type::Boolean => Values::Bits(vec![0; words]),
                _ => Values::Words(vec![0; rows]),
            })
            .collect();
        let mut valid: Vec<Vec<u64>> = vec![vec![0; words]; outputs];
        let mut scratch_valid = vec![0u8; outputs * CHUNK];
        let mut scratch_bool = vec![0u8; outputs * CHUNK];
        let (mut chunk_in_values, mut chunk_in_valid) = (in_values.clone(), in_valid.clone());
        let mut chunk_out_values = vec![std::ptr::null_mut::<u8>(); outputs];
        let mut chunk_out_valid = vec![std::ptr::null_mut::<u8>(); outputs];
        for start in (0..rows).step_by(CHUNK) {
            let len = CHUNK.min(rows - start);
            for k in 0..in_values.len() {
                let off = if in_words[k] { start * 8 } else { start / 8 };
                chunk_in_values[k] = in_values[k].wrapping_add(off);
                chunk_in_valid[k] = in_valid[k].wrapping_add(start / 8);
            }
            let (sv, sb) = (scratch_valid.as_mut_ptr(), scratch_bool.as_mut_ptr());
            for (j, v) in values.iter_mut().enumerate() {
                chunk_out_values[j] = match v {
                    Values::Words(w) => w.as_mut_ptr().wrapping_add(start).cast::<u8>(),
                    Values::Bits(_) => sb.wrapping_add(j * CHUNK),
                };
                chunk_out_valid[j] = sv.wrapping_add(j * CHUNK);
            }
            call(self, &chunk_in_values, &chunk_in_valid, &chunk_out_values, &chunk_out_valid, len);
            for j in 0..outputs {
                let w = start / 64;
                pack(&scratch_valid[j * CHUNK..j * CHUNK + len], &mut valid[j][w..]);
                if let Values::Bits(bits) = &mut values[j] {
                    pack(&scratch_bool[j * CHUNK..j * CHUNK + len], &mut bits[w..]);
                }
            }
        }
        drop((keep, all_valid, arrays, hashes));
        let columns = self
            .ir
            .outputs
            .iter()
            .zip(&self.types)
            .zip(values.into_iter().zip(valid))
            .map(|((o, ty), (values, valid))| (o.name.clone(), *ty, values, valid))
            .collect();
        build_output(rows, columns)
    }
}

/// The native signature of a compiled program (see [`crate::compile`]).
type Entry = unsafe extern "C" fn(*const *const u8, *const *const u8, *const *mut u8, *const *mut u8, usize);

/// Calls the compiled function of `program` over `rows` rows.
///
/// SAFETY (the argument for the one `unsafe` block of the run path):
/// - `program.entry` is the address of a function that `Program::compile` generated with
///   exactly the signature [`Entry`] (five pointer-sized parameters, no result, the target's
///   default C calling convention), and the JIT module that holds its code is owned by
///   `program`, which this call borrows, so the code stays mapped for the whole call.
/// - The compiled code reads `in_values[k]` for `k < inputs` and `out_*[j]` for `j < outputs`
///   only: [`Program::run`] passes one pointer per input and per output, in order (checked by
///   the assertions below).
/// - For each row `i < rows` it reads 8 bytes at `in_values[k] + 8 i` (Float64/Int64 inputs,
///   and string inputs, which arrive as one 8-byte hash per row) or bit `i` of
///   `in_values[k]` / `in_valid[k]`. [`Program::run`] derives these pointers from live Arrow
///   buffers of the type the program was checked against (checked by `resolve_inputs`, which
///   casts narrower types to a fresh buffer of the checked type), or from its own `Vec<u64>`
///   of string hashes, sliced to start at the array's first row and holding the batch's row
///   count of values or bits (or from an all-ones bitmap of that many bits), advanced to the
///   chunk's first row `start` (a multiple of 64, so a whole byte of every bitmap) with
///   `start + rows` at most the row count. `run` keeps every buffer alive until after its
///   last call.
/// - A vocabulary lookup reads the words of its table at offsets `0..2 (p + 1)` only (the
///   search index stays in `0..=p`, see `compile::lookup_table`), from the boxed slice the
///   program owns in `tables`, which lives (and never moves) as long as `program`.
/// - It writes 8 bytes at `out_values[j] + 8 i` (numbers) or 1 byte at `out_values[j] + i`
///   (booleans), and 1 byte at `out_valid[j] + i`: `run` points these into its own `Vec`s,
///   the final value buffers of the batch's row count (at the chunk's row) or scratch buffers
///   of [`CHUNK`] bytes per output, with `rows <= CHUNK`; no reference to them is alive during
///   the call.
/// - It never traps and has no other effect: the only calls are to the pure `extern "C"`
///   math functions of [`crate::compile`].
#[allow(unsafe_code)]
fn call(
    program: &Program,
    in_values: &[*const u8],
    in_valid: &[*const u8],
    out_values: &[*mut u8],
    out_valid: &[*mut u8],
    rows: usize,
) {
    let (inputs, outputs) = (program.ir.inputs.len(), program.ir.outputs.len());
    assert!(in_values.len() == inputs && in_valid.len() == inputs);
    assert!(out_values.len() == outputs && out_valid.len() == outputs);
    // SAFETY: see above.
    unsafe {
        let f: Entry = std::mem::transmute::<usize, Entry>(program.entry);
        f(in_values.as_ptr(), in_valid.as_ptr(), out_values.as_ptr(), out_valid.as_ptr(), rows);
    }
}
