//! Dictionary columns by key: how often each dictionary entry is used, counted over the key
//! buffer without decoding a single string. Statistics, top-k, distinct counts and the filter
//! all read categorical columns through this, which is what makes them cheap on dictionaries.

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;

/// For a dictionary array: the number of rows that use each dictionary entry
/// (`counts[i]` for `values[i]`), the number of rows whose key is null, and the dictionary
/// values. `None` if `array` is not a dictionary.
pub(crate) fn key_counts(array: &dyn Array) -> Option<(Vec<u64>, u64, ArrayRef)> {
    let DataType::Dictionary(kt, _) = array.data_type() else { return None };
    macro_rules! count {
        ($k:ty) => {{
            let d = array.as_dictionary::<$k>();
            let values = d.values().clone();
            let mut counts = vec![0u64; values.len()];
            let keys = d.keys();
            let raw = keys.values();
            match keys.nulls().filter(|n| n.null_count() > 0) {
                None => {
                    for k in raw.iter() {
                        if let Some(c) = usize::try_from(*k).ok().and_then(|k| counts.get_mut(k)) {
                            *c += 1;
                        }
                    }
                }
                Some(n) => {
                    for i in n.valid_indices() {
                        if let Some(c) = usize::try_from(raw[i]).ok().and_then(|k| counts.get_mut(k)) {
                            *c += 1;
                        }
                    }
                }
            }
            (counts, keys.null_count() as u64, values)
        }};
    }
    Some(match kt.as_ref() {
        DataType::Int8 => count!(Int8Type),
        DataType::Int16 => count!(Int16Type),
        DataType::Int32 => count!(Int32Type),
        DataType::Int64 => count!(Int64Type),
        DataType::UInt8 => count!(UInt8Type),
        DataType::UInt16 => count!(UInt16Type),
        DataType::UInt32 => count!(UInt32Type),
        DataType::UInt64 => count!(UInt64Type),
        _ => return None,
    })
}

/// The string dictionary values as `Option<&str>` (null entries as `None`); `None` if the
/// values are not strings.
pub(crate) fn string_values(values: &dyn Array) -> Option<Vec<Option<&str>>> {
    Some(match values.data_type() {
        DataType::Utf8 => values.as_string::<i32>().iter().collect(),
        DataType::LargeUtf8 => values.as_string::<i64>().iter().collect(),
        DataType::Utf8View => values.as_string_view().iter().collect(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{DictionaryArray, Int32Array};

    #[test]
    fn counts_keys_and_null_keys() {
        let d: DictionaryArray<Int8Type> = vec![Some("a"), Some("b"), None, Some("a"), Some("a")].into_iter().collect();
        let (counts, nulls, values) = key_counts(&d).unwrap();
        assert_eq!(counts, vec![3, 1]);
        assert_eq!(nulls, 1);
        assert_eq!(string_values(values.as_ref()).unwrap(), vec![Some("a"), Some("b")]);
        assert!(key_counts(&Int32Array::from(vec![1])).is_none());
    }
}
