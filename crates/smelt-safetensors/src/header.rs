//! The header: its length, its JSON, each tensor entry checked, and the data ranges checked
//! against each other and the file.
//!
//! ```text
//! bytes 0..8        N, u64 little-endian
//! bytes 8..8+N      JSON object, UTF-8 (may end in spaces):
//!                   { "__metadata__": { "key": "value", ... },            (optional)
//!                     "name": { "dtype": "F32", "shape": [d0, d1, ...],
//!                               "data_offsets": [start, end] }, ... }
//! bytes 8+N..       the data: tensor `name` is bytes start..end of it, row-major,
//!                   little-endian; the ranges cover the data exactly, without overlap
//! ```

use crate::error::{Error, Result};
use crate::{Dtype, TensorInfo};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};

/// The largest header accepted (the limit of the reference implementation).
pub const MAX_HEADER_LEN: u64 = 100_000_000;

/// The key of the free-form string metadata.
pub const METADATA_KEY: &str = "__metadata__";

/// A parsed header: the metadata, the tensors in header order, where the data starts.
pub(crate) struct Header {
    pub metadata: BTreeMap<String, String>,
    pub tensors: Vec<TensorInfo>,
    pub data_start: u64,
}

/// Parses the header of `bytes`, a whole file, and checks every tensor's range against the
/// data that follows it. Allocates in proportion to the header's length only.
pub(crate) fn parse(bytes: &[u8]) -> Result<Header> {
    let file_len = bytes.len() as u64;
    let Some(len_bytes) = bytes.get(..8) else {
        return Err(Error::TooShort { len: file_len });
    };
    let n = u64::from_le_bytes(len_bytes.try_into().expect("8 bytes"));
    if n > MAX_HEADER_LEN {
        return Err(Error::HeaderTooLong {
            len: n,
            max: MAX_HEADER_LEN,
        });
    }
    if n > file_len - 8 {
        return Err(Error::HeaderPastEnd { len: n, file_len });
    }
    let data_start = 8 + n;
    let raw = &bytes[8..data_start as usize];
    let text = std::str::from_utf8(raw).map_err(|e| Error::HeaderNotUtf8 {
        offset: e.valid_up_to(),
    })?;
    if !text.trim_start().starts_with('{') {
        return Err(Error::HeaderNotObject);
    }
    let entries: Entries = serde_json::from_str(text).map_err(|e| Error::BadJson {
        reason: json_reason(&e),
        line: e.line(),
        column: e.column(),
    })?;
    let data_len = file_len - data_start;

    let mut metadata = BTreeMap::new();
    let mut tensors = Vec::with_capacity(entries.0.len());
    let mut seen = HashSet::with_capacity(entries.0.len());
    let mut metadata_seen = false;
    for (name, value) in entries.0 {
        if name == METADATA_KEY {
            if metadata_seen {
                return Err(Error::DuplicateTensor { tensor: name });
            }
            metadata_seen = true;
            metadata = read_metadata(value)?;
            continue;
        }
        if !seen.insert(name.clone()) {
            return Err(Error::DuplicateTensor { tensor: name });
        }
        tensors.push(entry(name, value, data_start, data_len)?);
    }
    check_cover(&tensors, data_len)?;
    Ok(Header {
        metadata,
        tensors,
        data_start,
    })
}

/// serde_json's message without its " at line L column C" tail (the error gives them apart).
fn json_reason(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn read_metadata(v: Value) -> Result<BTreeMap<String, String>> {
    let Value::Object(map) = v else {
        return Err(Error::BadMetadata {
            reason: format!("it is {}", kind(&v)),
        });
    };
    map.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            other => Err(Error::BadMetadata {
                reason: format!("key '{k}' holds {}", kind(&other)),
            }),
        })
        .collect()
}

/// The JSON kind of `v`, for messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// One tensor entry: its fields typed, its byte count from dtype and shape (overflow
/// checked) equal to its range's, the range inside the data.
fn entry(name: String, v: Value, data_start: u64, data_len: u64) -> Result<TensorInfo> {
    let bad = |reason: String| Error::BadEntry {
        tensor: name.clone(),
        reason,
    };
    let Value::Object(fields) = v else {
        return Err(bad(format!("the entry is {}, not an object", kind(&v))));
    };
    let field = |key: &str| {
        fields
            .get(key)
            .ok_or_else(|| bad(format!("no '{key}' field")))
    };
    let dtype_name = match field("dtype")? {
        Value::String(s) => s.clone(),
        other => return Err(bad(format!("'dtype' is {}, not a string", kind(other)))),
    };
    let dtype = Dtype::from_name(&dtype_name).ok_or_else(|| Error::UnknownDtype {
        tensor: name.clone(),
        dtype: dtype_name.clone(),
    })?;
    let shape = u64_array(field("shape")?)
        .ok_or_else(|| bad("'shape' is not an array of non-negative integers".to_string()))?;
    let offsets = u64_array(field("data_offsets")?)
        .filter(|o| o.len() == 2)
        .ok_or_else(|| bad("'data_offsets' is not two non-negative integers".to_string()))?;
    let (start, end) = (offsets[0], offsets[1]);
    let bytes = shape
        .iter()
        .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| Error::ShapeOverflow {
            tensor: name.clone(),
            shape: shape.clone(),
            dtype: dtype_name.clone(),
        })?;
    if end < start {
        return Err(Error::ReversedOffsets {
            tensor: name,
            start,
            end,
        });
    }
    if end > data_len {
        return Err(Error::OutOfRange {
            tensor: name,
            start,
            end,
            data_len,
        });
    }
    if end - start != bytes {
        return Err(Error::SizeMismatch {
            tensor: name,
            dtype: dtype_name,
            shape,
            expected: bytes,
            got: end - start,
        });
    }
    Ok(TensorInfo {
        name,
        dtype,
        shape,
        start,
        end,
        data_start,
    })
}

fn u64_array(v: &Value) -> Option<Vec<u64>> {
    v.as_array()?.iter().map(Value::as_u64).collect()
}

/// The ranges, sorted, must tile `0..data_len`: no overlap, no hole, nothing after the last.
fn check_cover(tensors: &[TensorInfo], data_len: u64) -> Result<()> {
    let mut order: Vec<&TensorInfo> = tensors.iter().collect();
    order.sort_by_key(|t| (t.start, t.end));
    let mut pos = 0u64;
    let mut last: Option<&TensorInfo> = None;
    for t in order {
        if t.start < pos {
            let p = last.expect("pos > 0 only after a tensor");
            return Err(Error::Overlap {
                first: p.name.clone(),
                first_range: (p.start, p.end),
                second: t.name.clone(),
                second_range: (t.start, t.end),
            });
        }
        if t.start > pos {
            return Err(Error::Hole {
                start: pos,
                end: t.start,
            });
        }
        pos = t.end;
        if t.end > t.start {
            last = Some(t);
        }
    }
    if pos < data_len {
        return Err(Error::Hole {
            start: pos,
            end: data_len,
        });
    }
    Ok(())
}

/// The top-level object's entries in header order, duplicates kept (a JSON map would keep
/// only the last of a repeated key).
struct Entries(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Entries, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of tensor entries")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut m: A,
            ) -> std::result::Result<Entries, A::Error> {
                let mut out = Vec::new();
                while let Some(kv) = m.next_entry::<String, Value>()? {
                    out.push(kv);
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V)
    }
}
