//! TensorProto to [`Tensor`]: typed fields, raw little-endian bytes, packed 4-bit types and
//! external data files.

use crate::proto::TensorProto;
use half::{bf16, f16};
use smelt_core::{DType, Data, Error, Result, Tensor};
use std::path::Path;

/// ONNX `TensorProto.DataType` code to [`DType`].
pub fn dtype_from_onnx(code: i32) -> Result<DType> {
    if let Some(d) = DType::from_onnx(code as i64) {
        return Ok(d);
    }
    Err(match code {
        24 => Error::Unsupported("float8e8m0 tensor".into()),
        25 | 26 => Error::Unsupported("2-bit integer tensor".into()),
        14 | 15 => Error::Unsupported(format!("complex tensor (ONNX data type {code})")),
        c => Error::format(format!("unknown ONNX data type {c}")),
    })
}

fn le_chunks<const N: usize, T>(raw: &[u8], f: impl Fn([u8; N]) -> T) -> Vec<T> {
    raw.chunks_exact(N)
        .map(|c| f(c.try_into().unwrap()))
        .collect()
}

/// Unpacks two 4-bit values per byte, low nibble first, keeping at most `n`. The output
/// is sized by the bytes present, never by `n` alone (which comes from the file's dims).
fn unpack4(bytes: &[u8], n: usize, signed: bool) -> Data {
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(2).min(n));
    for &b in bytes {
        out.push(b & 0x0f);
        out.push(b >> 4);
    }
    out.truncate(n);
    if signed {
        Data::I8(out.into_iter().map(|v| ((v << 4) as i8) >> 4).collect())
    } else {
        Data::U8(out)
    }
}

/// Decodes a TensorProto. `base_dir` resolves external data; `None` forbids it.
pub fn tensor_from_proto(t: &TensorProto, base_dir: Option<&Path>) -> Result<Tensor> {
    let dtype = dtype_from_onnx(t.data_type).map_err(|e| ctx(t, e))?;
    let mut shape = Vec::with_capacity(t.dims.len());
    for &d in &t.dims {
        if d < 0 {
            return Err(ctx(t, Error::format(format!("negative dim {d}"))));
        }
        shape.push(d as usize);
    }
    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| ctx(t, Error::format("shape overflows")))?;
    let external;
    let raw: &[u8] = if t.data_location == 1 {
        external = read_external(t, base_dir)?;
        &external
    } else {
        &t.raw_data
    };
    let use_raw = t.data_location == 1 || !t.raw_data.is_empty();
    let expect_bytes = match dtype {
        DType::I4 | DType::U4 | DType::F4E2M1 => n.div_ceil(2),
        DType::Bool => n,
        DType::String => 0,
        d => n
            .checked_mul(d.size_of())
            .ok_or_else(|| ctx(t, Error::format("size overflows")))?,
    };
    if use_raw && dtype != DType::String && raw.len() != expect_bytes {
        return Err(ctx(
            t,
            Error::format(format!(
                "raw data has {} bytes, shape {:?} of {dtype} needs {expect_bytes}",
                raw.len(),
                shape
            )),
        ));
    }
    let data = if use_raw && dtype != DType::String {
        match dtype {
            DType::F32 => Data::F32(le_chunks(raw, f32::from_le_bytes)),
            DType::F64 => Data::F64(le_chunks(raw, f64::from_le_bytes)),
            DType::F16 => Data::F16(le_chunks(raw, |b| f16::from_bits(u16::from_le_bytes(b)))),
            DType::BF16 => Data::BF16(le_chunks(raw, |b| bf16::from_bits(u16::from_le_bytes(b)))),
            DType::I8 => Data::I8(raw.iter().map(|&b| b as i8).collect()),
            DType::U8 | DType::F8E4M3FN | DType::F8E4M3FNUZ | DType::F8E5M2 | DType::F8E5M2FNUZ => {
                Data::U8(raw.to_vec())
            }
            DType::I16 => Data::I16(le_chunks(raw, i16::from_le_bytes)),
            DType::U16 => Data::U16(le_chunks(raw, u16::from_le_bytes)),
            DType::I32 => Data::I32(le_chunks(raw, i32::from_le_bytes)),
            DType::U32 => Data::U32(le_chunks(raw, u32::from_le_bytes)),
            DType::I64 => Data::I64(le_chunks(raw, i64::from_le_bytes)),
            DType::U64 => Data::U64(le_chunks(raw, u64::from_le_bytes)),
            DType::Bool => Data::Bool(raw.iter().map(|&b| b != 0).collect()),
            DType::I4 => unpack4(raw, n, true),
            DType::U4 | DType::F4E2M1 => unpack4(raw, n, false),
            DType::String => unreachable!(),
        }
    } else {
        let i32s = || t.int32_data.iter().copied();
        let data = match dtype {
            DType::F32 => Data::F32(t.float_data.clone()),
            DType::F64 => Data::F64(t.double_data.clone()),
            DType::I64 => Data::I64(t.int64_data.clone()),
            DType::U64 => Data::U64(t.uint64_data.clone()),
            DType::U32 => Data::U32(t.uint64_data.iter().map(|&x| x as u32).collect()),
            DType::I32 => Data::I32(t.int32_data.clone()),
            DType::I16 => Data::I16(i32s().map(|x| x as i16).collect()),
            DType::U16 => Data::U16(i32s().map(|x| x as u16).collect()),
            DType::I8 => Data::I8(i32s().map(|x| x as i8).collect()),
            DType::U8 | DType::F8E4M3FN | DType::F8E4M3FNUZ | DType::F8E5M2 | DType::F8E5M2FNUZ => {
                Data::U8(i32s().map(|x| x as u8).collect())
            }
            DType::Bool => Data::Bool(i32s().map(|x| x != 0).collect()),
            DType::F16 => Data::F16(i32s().map(|x| f16::from_bits(x as u16)).collect()),
            DType::BF16 => Data::BF16(i32s().map(|x| bf16::from_bits(x as u16)).collect()),
            // int32_data holds one byte of two packed nibbles per entry
            DType::I4 => unpack4(&i32s().map(|x| x as u8).collect::<Vec<_>>(), n, true),
            DType::U4 | DType::F4E2M1 => {
                unpack4(&i32s().map(|x| x as u8).collect::<Vec<_>>(), n, false)
            }
            DType::String => Data::String(
                t.string_data
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect(),
            ),
        };
        if data.len() != n {
            return Err(ctx(
                t,
                Error::format(format!(
                    "has {} elements, shape {:?} needs {n}",
                    data.len(),
                    shape
                )),
            ));
        }
        data
    };
    Tensor::new(dtype, shape, data).map_err(|e| ctx(t, e))
}

fn ctx(t: &TensorProto, e: Error) -> Error {
    Error::format(format!("tensor '{}': {e}", t.name))
}

fn read_external(t: &TensorProto, base_dir: Option<&Path>) -> Result<Vec<u8>> {
    let base = base_dir.ok_or_else(|| {
        ctx(
            t,
            Error::format("uses external data but the model was not loaded from a path"),
        )
    })?;
    let mut location = None;
    let mut offset = 0u64;
    let mut length = None;
    for kv in &t.external_data {
        match kv.key.as_str() {
            "location" => location = Some(kv.value.clone()),
            "offset" => {
                offset = kv.value.parse().map_err(|_| {
                    ctx(
                        t,
                        Error::format(format!("bad external offset '{}'", kv.value)),
                    )
                })?
            }
            "length" => {
                length = Some(kv.value.parse::<u64>().map_err(|_| {
                    ctx(
                        t,
                        Error::format(format!("bad external length '{}'", kv.value)),
                    )
                })?)
            }
            _ => {}
        }
    }
    let loc = location.ok_or_else(|| ctx(t, Error::format("external data without a location")))?;
    let rel = Path::new(&loc);
    if rel.is_absolute()
        || rel
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(ctx(
            t,
            Error::format(format!(
                "external data location '{loc}' must be a relative path inside the model's folder"
            )),
        ));
    }
    let path = base.join(rel);
    let bytes = std::fs::read(&path).map_err(|e| {
        ctx(
            t,
            Error::format(format!("external data file '{}': {e}", path.display())),
        )
    })?;
    let start = offset as usize;
    let end = match length {
        Some(l) => start.checked_add(l as usize),
        None => Some(bytes.len()),
    };
    match end {
        Some(end) if start <= end && end <= bytes.len() => Ok(bytes[start..end].to_vec()),
        _ => Err(ctx(
            t,
            Error::format(format!(
                "external data range {offset}+{length:?} outside '{}' ({} bytes)",
                path.display(),
                bytes.len()
            )),
        )),
    }
}
