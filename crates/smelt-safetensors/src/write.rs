//! Writes safetensors bytes: the header (tensors in the order given, data packed in that
//! order, header padded with spaces to a multiple of 8) then the data. For tests, fuzz
//! seeds and tools; the result parses with [`crate::SafeTensors::parse`].

use crate::Dtype;
use std::collections::BTreeMap;

/// One tensor to write: its raw little-endian bytes, which must be the shape's byte count
/// in `dtype` for the file to parse.
pub struct Entry<'a> {
    pub name: &'a str,
    pub dtype: Dtype,
    pub shape: &'a [u64],
    pub data: &'a [u8],
}

/// The bytes of a safetensors file holding `tensors` and `metadata`.
pub fn to_bytes(tensors: &[Entry], metadata: &BTreeMap<String, String>) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    if !metadata.is_empty() {
        let m = metadata
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        header.insert(
            crate::header::METADATA_KEY.into(),
            serde_json::Value::Object(m),
        );
    }
    let mut text = String::from("{");
    let mut first = true;
    let mut push = |text: &mut String, k: &str, v: serde_json::Value| {
        if !first {
            text.push(',');
        }
        first = false;
        text.push_str(&serde_json::Value::String(k.to_string()).to_string());
        text.push(':');
        text.push_str(&v.to_string());
    };
    for (k, v) in header {
        push(&mut text, &k, v);
    }
    let mut offset = 0u64;
    for t in tensors {
        let end = offset + t.data.len() as u64;
        let v = serde_json::json!({
            "dtype": t.dtype.name(),
            "shape": t.shape,
            "data_offsets": [offset, end],
        });
        push(&mut text, t.name, v);
        offset = end;
    }
    text.push('}');
    while text.len() % 8 != 0 {
        text.push(' ');
    }
    let mut out = Vec::with_capacity(8 + text.len() + offset as usize);
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    for t in tensors {
        out.extend_from_slice(t.data);
    }
    out
}

/// The little-endian bytes of f32 values.
pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}
