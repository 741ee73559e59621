//! The text decoders take whatever a user's files hold: random bytes, cut anywhere into blocks,
//! in CSV and JSON Lines, with and without a header, never panic. They decode, report bad rows,
//! or return an error; and rows plus bad rows never exceed the lines fed.

use mlp_kernels::decode::Decoder;
use mlp_kernels::{CsvDecoder, CsvOptions, JsonlDecoder, JsonlOptions};
use proptest::prelude::*;

/// Bytes that look a little like delimited text: mostly digits, letters, separators, quotes
/// and newlines, with any byte mixed in.
fn texty() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        8 => prop::sample::select(b"0123456789abc,;\"\n\r .-{}[]:".to_vec()),
        1 => any::<u8>(),
    ];
    prop::collection::vec(byte, 0..600)
}

fn feed_all(d: &mut dyn Decoder, bytes: &[u8], cuts: &[usize]) -> u64 {
    if d.begin_file("f").is_err() {
        return 0;
    }
    let mut rows = 0u64;
    let mut start = 0;
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort();
    points.push(bytes.len());
    for end in points {
        if end < start {
            continue;
        }
        match d.feed(&bytes[start..end]) {
            Ok(tables) => rows += tables.iter().map(|t| t.num_rows() as u64).sum::<u64>(),
            Err(_) => return rows,
        }
        start = end;
    }
    if let Ok(tables) = d.end_file() {
        rows += tables.iter().map(|t| t.num_rows() as u64).sum::<u64>();
    }
    rows
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    #[test]
    fn csv_decoding_never_panics(bytes in texty(), cuts in prop::collection::vec(any::<usize>(), 0..6), header in any::<bool>(), threads in 1usize..3) {
        let options = CsvOptions {
            header,
            columns: if header { None } else { Some(vec!["a".into(), "b".into()]) },
            threads,
            infer_rows: 3,
            ..CsvOptions::default()
        };
        let mut d = CsvDecoder::new(options).unwrap();
        let rows = feed_all(&mut d, &bytes, &cuts);
        // A lone carriage return ends a record too.
        let lines = bytes.iter().filter(|b| **b == b'\n' || **b == b'\r').count() as u64 + 1;
        prop_assert!(rows + Decoder::bad_row_count(&d) <= lines, "{rows} rows and {} bad from {lines} lines", Decoder::bad_row_count(&d));
    }

    #[test]
    fn json_lines_decoding_never_panics(bytes in texty(), cuts in prop::collection::vec(any::<usize>(), 0..6)) {
        let mut d = JsonlDecoder::new(JsonlOptions { infer_rows: 3, ..JsonlOptions::default() }).unwrap();
        let rows = feed_all(&mut d, &bytes, &cuts);
        let lines = bytes.iter().filter(|b| **b == b'\n').count() as u64 + 1;
        prop_assert!(rows + Decoder::bad_row_count(&d) <= lines);
    }
}
