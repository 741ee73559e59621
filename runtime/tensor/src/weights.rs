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
    safetensors::serialize(views, meta).map_err(|e| invalid("safetensors", e.to_string()))
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
