//! Weights files: named `f32` tensors in the safetensors format (a JSON header of names,
//! dtypes, shapes and offsets, then the little-endian values), so that a trained model's
//! weights load in PyTorch, JAX or candle as well as here. String metadata (the model's kind,
//! its feature order) travels in the header's `__metadata__`.

use crate::error::{Result, invalid};
use crate::tape::Params;
use crate::tensor::Tensor;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::HashMap;

/// The parameters as a safetensors file, with `metadata` in its header.
pub fn to_safetensors(params: &Params, metadata: &HashMap<String, String>) -> Result<Vec<u8>> {
    let mut bytes: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::with_capacity(params.len());
    for id in params.ids() {
        let t = params.value(id)?;
        let raw: Vec<u8> = t.data().iter().flat_map(|x| x.to_le_bytes()).collect();
        bytes.push((params.name(id)?.to_string(), t.shape().to_vec(), raw));
    }
    let mut views = Vec::with_capacity(bytes.len());
    for (name, shape, raw) in &bytes {
        let v = TensorView::new(Dtype::F32, shape.clone(), raw)
            .map_err(|e| invalid("safetensors", format!("`{name}`: {e}")))?;
        views.push((name.clone(), v));
    }
    let meta = if metadata.is_empty() { None } else { Some(metadata.clone()) };
    let bytes = safetensors::serialize(views, meta).map_err(|e| invalid("safetensors", e.to_string()))?;
    canonical(bytes)
}

/// The same file with its header's keys in sorted order at every level. `safetensors` writes
/// the metadata from a `HashMap`, whose order changes from one map to the next, and a model's
/// bytes must not: equal weights give an equal artifact digest, so caching and the "same model
/// already pushed" check hold. The tensors' offsets are relative to the data, which is kept.
fn canonical(bytes: Vec<u8>) -> Result<Vec<u8>> {
    fn sorted(v: serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => {
                let ordered: std::collections::BTreeMap<String, serde_json::Value> =
                    m.into_iter().map(|(k, v)| (k, sorted(v))).collect();
                serde_json::Value::Object(ordered.into_iter().collect())
            }
            other => other,
        }
    }
    let bad = |why: &str| invalid("safetensors", format!("the serialized header {why}"));
    let len_bytes: [u8; 8] = bytes.get(..8).and_then(|b| b.try_into().ok()).ok_or_else(|| bad("is missing"))?;
    let n = usize::try_from(u64::from_le_bytes(len_bytes)).map_err(|_| bad("is too long"))?;
    let header = bytes.get(8..8 + n).ok_or_else(|| bad("is truncated"))?;
    let value: serde_json::Value = serde_json::from_slice(header).map_err(|e| bad(&format!("is not JSON: {e}")))?;
    let mut text = serde_json::to_vec(&sorted(value)).map_err(|e| bad(&e.to_string()))?;
    // Keep the data 8-byte aligned, padding with spaces as safetensors does.
    while text.len() % 8 != 0 {
        text.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + text.len() + bytes.len() - 8 - n);
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(&text);
    out.extend_from_slice(&bytes[8 + n..]);
    Ok(out)
}

/// The contents of a weights file: named tensors (sorted by name) and the header's metadata.
pub type Weights = (Vec<(String, Tensor)>, HashMap<String, String>);

/// The named tensors of a safetensors file (sorted by name) and its metadata. Only `f32`
/// tensors are read; another dtype is an error naming the tensor.
pub fn from_safetensors(bytes: &[u8]) -> Result<Weights> {
    let st =
        SafeTensors::deserialize(bytes).map_err(|e| invalid("safetensors", format!("not a safetensors file: {e}")))?;
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| invalid("safetensors", e.to_string()))?;
    let metadata = meta.metadata().clone().unwrap_or_default();
    let mut out = Vec::new();
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(invalid("safetensors", format!("tensor `{name}` is {:?}, not F32", view.dtype())));
        }
        let values: Vec<f32> =
            view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        out.push((name, Tensor::new(view.shape(), values)?));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok((out, metadata))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::Init;

    /// Regression: the metadata came out in `HashMap` order, so the same weights gave files of
    /// different bytes (and models of different digests) from one run to the next.
    #[test]
    fn the_same_weights_and_metadata_always_give_the_same_bytes() {
        let mut params = Params::new(7);
        params.add("weights", &[3, 2], Init::XavierUniform).unwrap();
        params.add("bias", &[2], Init::Zeros).unwrap();
        let mut first: Option<Vec<u8>> = None;
        for _ in 0..32 {
            let meta: HashMap<String, String> =
                [("kind", "mlp"), ("format", "mlp.model"), ("label", "y"), ("task", "c")]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
            let bytes = to_safetensors(&params, &meta).unwrap();
            match &first {
                None => first = Some(bytes),
                Some(f) => assert_eq!(&bytes, f),
            }
        }
        let (tensors, meta) = from_safetensors(first.as_ref().unwrap()).unwrap();
        assert_eq!(meta["kind"], "mlp");
        assert_eq!(tensors.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["bias", "weights"]);
        assert_eq!(tensors[1].1.data(), params.value(params.find("weights").unwrap()).unwrap().data());
    }
}
