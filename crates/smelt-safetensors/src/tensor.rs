//! One tensor of a file: its header entry, its bytes, its values as a smelt `Tensor` or f32.

use crate::error::{Error, Result};
use crate::Dtype;
use smelt_core::{bf16, f16, Tensor};

/// A tensor's header entry, checked against the file by the parser: `end - start` is
/// exactly the bytes of `shape` in `dtype`, and the range lies inside the data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    pub(crate) name: String,
    pub(crate) dtype: Dtype,
    pub(crate) shape: Vec<u64>,
    /// `data_offsets`, relative to the start of the data.
    pub(crate) start: u64,
    pub(crate) end: u64,
    /// Where the data starts in the file (8 + header length).
    pub(crate) data_start: u64,
}

impl TensorInfo {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn dtype(&self) -> Dtype {
        self.dtype
    }

    /// The shape, outermost first (row-major).
    pub fn shape(&self) -> &[u64] {
        &self.shape
    }

    /// The element count (fits in u64: the byte count was checked).
    pub fn n_elements(&self) -> u64 {
        self.shape.iter().product()
    }

    /// `data_offsets` as the header gives them, relative to the data.
    pub fn data_offsets(&self) -> (u64, u64) {
        (self.start, self.end)
    }

    /// The tensor's bytes in `file`, the whole file it was parsed from (a shorter slice is
    /// an error, not a panic).
    pub fn data<'a>(&self, file: &'a [u8]) -> Result<&'a [u8]> {
        let (a, b) = (self.data_start + self.start, self.data_start + self.end);
        usize::try_from(a)
            .ok()
            .zip(usize::try_from(b).ok())
            .and_then(|(a, b)| file.get(a..b))
            .ok_or_else(|| Error::BadData {
                tensor: self.name.clone(),
                reason: format!("bytes {a}..{b} are outside the {} bytes given", file.len()),
            })
    }

    fn shape_usize(&self) -> Result<Vec<usize>> {
        self.shape
            .iter()
            .map(|&d| usize::try_from(d))
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| Error::BadData {
                tensor: self.name.clone(),
                reason: format!("shape {:?} does not fit this machine", self.shape),
            })
    }

    /// The values widened to f32 (F32, F16, BF16, F64 rounded to nearest); other dtypes are
    /// [`Error::BadData`].
    pub fn to_f32(&self, file: &[u8]) -> Result<Vec<f32>> {
        let b = self.data(file)?;
        Ok(match self.dtype {
            Dtype::F32 => le(b, f32::from_le_bytes),
            Dtype::F16 => le(b, |x: [u8; 2]| {
                f16::from_bits(u16::from_le_bytes(x)).to_f32()
            }),
            Dtype::BF16 => le(b, |x: [u8; 2]| {
                bf16::from_bits(u16::from_le_bytes(x)).to_f32()
            }),
            Dtype::F64 => le(b, |x: [u8; 8]| f64::from_le_bytes(x) as f32),
            d => {
                return Err(Error::BadData {
                    tensor: self.name.clone(),
                    reason: format!("{d} values cannot be read as f32 weights"),
                })
            }
        })
    }

    /// The tensor as a smelt `Tensor` of [`Dtype::smelt`], values copied out of the file.
    /// A BOOL byte other than 0 or 1 is [`Error::BadData`].
    pub fn to_tensor(&self, file: &[u8]) -> Result<Tensor> {
        let b = self.data(file)?;
        let shape = self.shape_usize()?;
        let t = match self.dtype {
            Dtype::F32 => Tensor::from_vec(shape, le(b, f32::from_le_bytes)),
            Dtype::F16 => Tensor::from_vec(shape, le(b, |x| f16::from_bits(u16::from_le_bytes(x)))),
            Dtype::BF16 => {
                Tensor::from_vec(shape, le(b, |x| bf16::from_bits(u16::from_le_bytes(x))))
            }
            Dtype::F64 => Tensor::from_vec(shape, le(b, f64::from_le_bytes)),
            Dtype::I64 => Tensor::from_vec(shape, le(b, i64::from_le_bytes)),
            Dtype::U64 => Tensor::from_vec(shape, le(b, u64::from_le_bytes)),
            Dtype::I32 => Tensor::from_vec(shape, le(b, i32::from_le_bytes)),
            Dtype::U32 => Tensor::from_vec(shape, le(b, u32::from_le_bytes)),
            Dtype::I16 => Tensor::from_vec(shape, le(b, i16::from_le_bytes)),
            Dtype::U16 => Tensor::from_vec(shape, le(b, u16::from_le_bytes)),
            Dtype::I8 => Tensor::from_vec(shape, le(b, i8::from_le_bytes)),
            Dtype::U8 => Tensor::from_vec(shape, b.to_vec()),
            Dtype::Bool => {
                if let Some(i) = b.iter().position(|&x| x > 1) {
                    return Err(Error::BadData {
                        tensor: self.name.clone(),
                        reason: format!("BOOL element {i} is byte {} (must be 0 or 1)", b[i]),
                    });
                }
                Tensor::from_vec(shape, b.iter().map(|&x| x == 1).collect::<Vec<bool>>())
            }
            Dtype::F8E5M2 | Dtype::F8E4M3 => {
                // float8 values are stored as their raw bytes
                Tensor::new(self.dtype.smelt(), shape, smelt_core::Data::U8(b.to_vec()))
            }
        };
        t.map_err(|e| Error::BadData {
            tensor: self.name.clone(),
            reason: e.to_string(),
        })
    }
}

/// Decodes little-endian elements of `N` bytes (`b.len()` is a multiple of `N`: the parser
/// checked the byte count).
fn le<const N: usize, T>(b: &[u8], f: impl Fn([u8; N]) -> T) -> Vec<T> {
    b.chunks_exact(N)
        .map(|c| f(c.try_into().expect("chunk of N")))
        .collect()
}
