//! `mlp-kernels`: the general host kernels over Arrow data that plugins call through the
//! `mlp:plugin/tables` and `tensors` interfaces. Pure computation: no wasmtime, no IO.
//!
//! Each public function backs one WIT method; the wasmtime host in `mlp-runtime` maps resource
//! handles to [`Table`]s, calls the kernel and maps [`KernelError`] to the WIT `error` record.

#![warn(missing_docs)]

pub mod csv;
pub mod data;
pub mod decode;
mod dict;
pub mod error;
pub mod filter;
pub mod group;
pub mod hash;
pub mod histogram;
pub mod hll;
pub mod jsonl;
mod numeric;
pub mod ops;
pub mod parquet;
pub mod profile;
pub mod schema;
pub mod sketch;
pub mod split;
pub mod stats;
pub mod tensor;
pub mod topk;

pub use crate::csv::{BadRow, CsvDecoder, CsvOptions};
pub use crate::parquet::read_parquet;
pub use data::{ArtifactData, Blob, Part, Table, Tensor};
pub use error::{ErrorKind, KernelError};
pub use filter::filter;
pub use group::group_by;
pub use histogram::{Bucketing, Histogram, histogram};
pub use hll::{HyperLogLog, distinct_count};
pub use jsonl::{JsonlDecoder, JsonlOptions};
pub use ops::{
    SortKey, append_columns, cast, concat, from_ipc, read_f64, read_utf8, select, slice, sort, take, to_ipc, write_ipc,
};
pub use profile::{ProfileOptions, Profiler, profile};
pub use schema::{DType, column_index, fields};
pub use sketch::{QuantileSketch, quantiles};
pub use split::{row_bucket_hashes, split_by_hash};
pub use stats::{ColumnStats, column_stats};
pub use tensor::{tensor_from_columns, tensor_from_f32};
pub use topk::top_k;

#[cfg(test)]
mod tests {
    //! The kernels as the wasmtime host calls them: owned WIT values (`Vec<String>`,
    //! `Vec<u64>`, `usize` counts) passed by reference.
    use super::*;
    use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
    use std::sync::Arc;

    #[test]
    fn host_call_shapes() {
        let t = Table::from_batch(
            RecordBatch::try_from_iter(vec![
                ("city", Arc::new(StringArray::from(vec!["b", "a", "b"])) as ArrayRef),
                ("fare", Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0])) as ArrayRef),
            ])
            .unwrap(),
        );
        let columns: Vec<String> = vec!["fare".into(), "city".into()];
        assert_eq!(fields(&select(&t, &columns).unwrap())[0].0, "fare");
        let keys: Vec<String> = vec!["city".into()];
        let groups = group_by(&t, &keys).unwrap();
        assert_eq!(
            groups.iter().map(|(k, g)| (k.clone(), g.num_rows())).collect::<Vec<_>>(),
            vec![(vec!["a".to_string()], 1), (vec!["b".to_string()], 2)]
        );
        let refs: Vec<&Table> = vec![&t, &t];
        assert_eq!(concat(&refs).unwrap().num_rows(), 6);
        let cols: Vec<String> = vec!["fare".into()];
        assert_eq!(&*tensor_from_columns(&t, &cols).unwrap().values, &[1.0, 2.0, 3.0]);
        let rows: Vec<u64> = vec![2];
        assert_eq!(read_f64(&take(&t, &rows).unwrap(), "fare", 0, 1).unwrap(), vec![3.0]);
        let n: u32 = 1;
        assert_eq!(top_k(&t, "city", n as usize).unwrap(), vec![("b".to_string(), 2)]);
        let h = histogram(&t, "fare", 2u32 as usize, Bucketing::EqualWidth).unwrap();
        assert_eq!(h.counts, vec![1, 2]);
        let qs: Vec<f64> = vec![0.5];
        assert_eq!(quantiles(&t, "fare", &qs, 0.01).unwrap(), vec![2.0]);
    }

    /// Timings of the main kernels on 1M rows:
    /// `cargo test -p mlp-kernels --release -- --ignored --nocapture timing`.
    #[test]
    #[ignore]
    fn timing_kernels_on_a_million_rows() {
        use arrow_array::DictionaryArray;
        use arrow_array::types::Int32Type;
        let n = 1_000_000usize;
        let mut s = 1u64;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let x: Vec<f64> = (0..n).map(|_| (next() >> 11) as f64 / (1u64 << 53) as f64).collect();
        let cats: Vec<String> = (0..n).map(|_| format!("category-{}", next() % 50)).collect();
        let dict: DictionaryArray<Int32Type> = cats.iter().map(|c| c.as_str()).collect();
        let t = Table::from_batch(
            RecordBatch::try_from_iter(vec![
                ("x", Arc::new(Float64Array::from(x)) as ArrayRef),
                ("s", Arc::new(StringArray::from(cats.clone())) as ArrayRef),
                ("d", Arc::new(dict) as ArrayRef),
            ])
            .unwrap(),
        );
        let time = |name: &str, f: &mut dyn FnMut()| {
            let mut best = f64::INFINITY;
            for _ in 0..5 {
                let start = std::time::Instant::now();
                f();
                best = best.min(start.elapsed().as_secs_f64());
            }
            println!("{name:<32} {:>8.2} ms", best * 1e3);
        };
        time("column_stats f64", &mut || assert!(column_stats(&t, "x").unwrap().count > 0));
        time("histogram f64 equal-width 20", &mut || {
            histogram(&t, "x", 20, Bucketing::EqualWidth).unwrap();
        });
        time("quantiles f64 (1%)", &mut || {
            quantiles(&t, "x", &[0.5], 0.01).unwrap();
        });
        time("distinct_count f64", &mut || assert!(distinct_count(&t, "x").unwrap() > 0));
        time("top_k utf8", &mut || assert_eq!(top_k(&t, "s", 5).unwrap().len(), 5));
        time("top_k dictionary", &mut || assert_eq!(top_k(&t, "d", 5).unwrap().len(), 5));
        time("filter x > 0.5 and d == ...", &mut || {
            filter(&t, "x > 0.5 and d == \"category-7\"").unwrap();
        });
        time("sort f64", &mut || {
            sort(&t, &[SortKey::asc("x")]).unwrap();
        });
    }
}
