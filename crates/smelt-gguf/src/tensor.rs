//! The tensor infos and where each tensor's data lies.
//!
//! ```text
//! tensor count x {
//!     name     string                (unique)
//!     n_dims   u32                   (at most 4)
//!     dims     u64 x n_dims          (ggml order: dims[0] is the innermost, contiguous one)
//!     type     u32                   (a ggml type number, see quant::GgmlType)
//!     offset   u64                   (from the start of the data section; a multiple of
//!                                     the alignment)
//! }
//! ```
//!
//! A tensor's data is `type.bytes_for(n_elements)` bytes at `data_start + offset`, where the
//! data section starts at the end of the tensor infos rounded up to the alignment. The
//! checks, each an error naming the tensor: the type is known, every dimension is at most
//! `i64::MAX` and so is their product, the innermost dimension is a whole number of blocks,
//! the offset is aligned, the data lies inside the file, no two tensors' data overlap and no
//! name repeats.

use crate::error::{Error, Result};
use crate::quant::{self, GgmlType};
use crate::reader::Reader;
use std::collections::HashMap;
use std::ops::Range;

/// Most dimensions a tensor may have (ggml's `GGML_MAX_DIMS`).
pub const MAX_DIMS: u32 = 4;

/// One tensor's description and the place of its data in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    name: String,
    dims: Vec<u64>,
    ty: GgmlType,
    offset: u64,
    start: u64,
    size: u64,
    n_elements: u64,
}

impl TensorInfo {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The dimensions in ggml order: `dims()[0]` is the innermost (contiguous) one, the row
    /// length. Empty for a scalar.
    pub fn dims(&self) -> &[u64] {
        &self.dims
    }

    /// The dimensions outermost first (row-major, as numpy and ONNX write shapes): `dims()`
    /// reversed. A `[n_out, n_in]` weight has `dims() == [n_in, n_out]`.
    pub fn shape(&self) -> Vec<u64> {
        self.dims.iter().rev().copied().collect()
    }

    pub fn ty(&self) -> GgmlType {
        self.ty
    }

    pub fn n_elements(&self) -> u64 {
        self.n_elements
    }

    /// The offset as stored: from the start of the data section.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The data's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The data's byte range in the file (checked to lie inside the file parsed).
    pub fn range(&self) -> Range<usize> {
        self.start as usize..(self.start + self.size) as usize
    }

    /// The data, from the bytes of the file this info was parsed from. Errors (never
    /// panics) if `file` is shorter than the range.
    pub fn data<'a>(&self, file: &'a [u8]) -> Result<&'a [u8]> {
        file.get(self.range()).ok_or_else(|| Error::OutOfRange {
            tensor: self.name.clone(),
            offset: self.offset,
            size: self.size,
            data_start: self.start - self.offset,
            file_len: file.len() as u64,
        })
    }

    /// The tensor dequantized to f32, in ggml order (row after row).
    pub fn dequantize(&self, file: &[u8]) -> Result<Vec<f32>> {
        quant::dequantize_to_vec(self.ty, self.data(file)?, self.n_elements)
    }
}

/// Reads the tensor infos; their data is placed by [`place`] once the alignment is known.
pub(crate) fn read(r: &mut Reader, count: u64, count_at: u64) -> Result<Vec<TensorInfo>> {
    // smallest info: an empty name (8), n_dims (4), type (4), offset (8)
    let count = r.check_count(count, 8 + 4 + 4 + 8, count_at, &|| {
        "the tensor count".into()
    })?;
    let mut infos = Vec::with_capacity(count);
    let mut seen: HashMap<String, u64> = HashMap::with_capacity(count);
    for i in 0..count {
        let at = r.pos();
        let name = r.string(&|| format!("the name of tensor {i}"))?;
        let what = |field: &str| format!("the {field} of tensor '{name}'");
        let n_dims = r.u32(&|| what("dimension count"))?;
        if n_dims > MAX_DIMS {
            return Err(Error::TooManyDims {
                tensor: name.into(),
                offset: at,
                n_dims,
                max: MAX_DIMS,
            });
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            dims.push(r.u64(&|| what("dimensions"))?);
        }
        let raw = r.u32(&|| what("type"))?;
        let ty = GgmlType::from_id(raw).ok_or_else(|| Error::UnknownTensorType {
            tensor: name.into(),
            offset: at,
            ty: raw,
        })?;
        let offset = r.u64(&|| what("data offset"))?;
        let (n_elements, size) = sizes(&dims, ty).map_err(|reason| Error::BadShape {
            tensor: name.into(),
            offset: at,
            dims: dims.clone(),
            ty,
            reason,
        })?;
        if seen.insert(name.to_string(), at).is_some() {
            return Err(Error::DuplicateTensor {
                tensor: name.into(),
                offset: at,
            });
        }
        infos.push(TensorInfo {
            name: name.into(),
            dims,
            ty,
            offset,
            start: 0,
            size,
            n_elements,
        });
    }
    Ok(infos)
}

/// Element count and byte size of a tensor, or why the dimensions are refused.
fn sizes(dims: &[u64], ty: GgmlType) -> std::result::Result<(u64, u64), String> {
    let max = i64::MAX as u64;
    if let Some(d) = dims.iter().find(|&&d| d > max) {
        return Err(format!("dimension {d} is negative as ggml's int64"));
    }
    let n = dims
        .iter()
        .try_fold(1u64, |n, &d| n.checked_mul(d).filter(|&n| n <= max))
        .ok_or_else(|| "the element count overflows int64".to_string())?;
    let row = dims.first().copied().unwrap_or(1);
    if !row.is_multiple_of(ty.block_size()) {
        return Err(format!(
            "the row length {row} is not a whole number of {}-element blocks",
            ty.block_size()
        ));
    }
    let size = ty
        .bytes_for(n)
        .ok_or_else(|| "the byte size overflows".to_string())?;
    Ok((n, size))
}

/// Places every tensor's data at `data_start + offset` and checks alignment, bounds and
/// overlaps against a file of `file_len` bytes.
pub(crate) fn place(
    infos: &mut [TensorInfo],
    data_start: u64,
    alignment: u64,
    file_len: u64,
) -> Result<()> {
    for t in infos.iter_mut() {
        if !t.offset.is_multiple_of(alignment) {
            return Err(Error::Misaligned {
                tensor: t.name.clone(),
                offset: t.offset,
                alignment,
            });
        }
        let end = data_start
            .checked_add(t.offset)
            .and_then(|s| s.checked_add(t.size));
        if end.is_none_or(|e| e > file_len) {
            return Err(Error::OutOfRange {
                tensor: t.name.clone(),
                offset: t.offset,
                size: t.size,
                data_start,
                file_len,
            });
        }
        t.start = data_start + t.offset;
    }
    let mut by_start: Vec<&TensorInfo> = infos.iter().filter(|t| t.size > 0).collect();
    by_start.sort_by_key(|t| t.start);
    for w in by_start.windows(2) {
        let (a, b) = (w[0], w[1]);
        if b.start < a.start + a.size {
            return Err(Error::Overlap {
                first: a.name.clone(),
                first_range: (a.offset, a.offset + a.size),
                second: b.name.clone(),
                second_range: (b.offset, b.offset + b.size),
            });
        }
    }
    Ok(())
}
