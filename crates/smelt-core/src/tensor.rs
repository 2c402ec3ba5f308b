//! Host tensors: a dtype, a shape and shared, immutable element storage.
//!
//! Cloning a [`Tensor`] is cheap (the storage is reference counted); ops that want to write
//! in place use [`Tensor::into_vec`], which reuses the buffer when nothing else holds it.

use crate::{bail, DType, Elem, Error, Result};
use half::{bf16, f16};
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// Shared read-only bytes: a memory-mapped file, or any buffer.
pub type SharedBytes = Arc<dyn AsRef<[u8]> + Send + Sync + std::panic::RefUnwindSafe>;

/// Read-only element bytes owned by something else, typically a memory-mapped model file:
/// weights are used in place, never copied. Little-endian, aligned for the element type.
#[derive(Clone)]
pub struct Mapped {
    owner: SharedBytes,
    offset: usize,
    len: usize,
    /// The storage dtype of the elements (`DType::storage`): f32, u8 for float8, ...
    elem: DType,
}

impl Mapped {
    /// `len` bytes at `offset` of `owner`, holding elements stored as `elem`'s storage type.
    /// Errors when the range is out of bounds, not a whole number of elements, not aligned
    /// for the element type, or the type has no fixed-size plain-bytes layout (bool, string).
    pub fn new(owner: SharedBytes, offset: usize, len: usize, elem: DType) -> Result<Mapped> {
        let elem = elem.storage();
        if matches!(elem, DType::Bool | DType::String) {
            bail!("{elem} elements cannot be used in place from mapped bytes");
        }
        if cfg!(target_endian = "big") {
            bail!("mapped little-endian weights need a little-endian host");
        }
        let total = (*owner).as_ref().len();
        let end = offset
            .checked_add(len)
            .filter(|&e| e <= total)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "mapped range {offset}+{len} is outside the {total} bytes available"
                ))
            })?;
        let size = elem.size_of();
        if !len.is_multiple_of(size) {
            bail!("mapped range of {len} bytes is not a whole number of {elem} elements");
        }
        let ptr = (*owner).as_ref()[offset..end].as_ptr() as usize;
        if !ptr.is_multiple_of(size) {
            bail!("mapped {elem} data at offset {offset} is not {size}-byte aligned");
        }
        Ok(Mapped {
            owner,
            offset,
            len,
            elem,
        })
    }
    pub fn bytes(&self) -> &[u8] {
        &(*self.owner).as_ref()[self.offset..self.offset + self.len]
    }
    /// The storage dtype of the elements.
    pub fn elem(&self) -> DType {
        self.elem
    }
    /// The elements, when `T` is their storage type.
    pub fn cast<T: Elem + bytemuck::Pod>(&self) -> Option<&[T]> {
        if T::DTYPE != self.elem {
            return None;
        }
        bytemuck::try_cast_slice(self.bytes()).ok()
    }
}

impl fmt::Debug for Mapped {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "Mapped({}, {} bytes)", self.elem, self.len)
    }
}

impl PartialEq for Mapped {
    fn eq(&self, o: &Self) -> bool {
        self.elem == o.elem && self.bytes() == o.bytes()
    }
}

/// Element storage, one variant per Rust element type.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    F32(Vec<f32>),
    F16(Vec<f16>),
    BF16(Vec<bf16>),
    F64(Vec<f64>),
    I8(Vec<i8>),
    U8(Vec<u8>),
    I16(Vec<i16>),
    U16(Vec<u16>),
    I32(Vec<i32>),
    U32(Vec<u32>),
    I64(Vec<i64>),
    U64(Vec<u64>),
    Bool(Vec<bool>),
    String(Vec<String>),
    /// Elements used in place from bytes owned elsewhere (a mapped weight file).
    Mapped(Mapped),
}

impl Data {
    pub fn len(&self) -> usize {
        match self {
            Data::F32(v) => v.len(),
            Data::F16(v) => v.len(),
            Data::BF16(v) => v.len(),
            Data::F64(v) => v.len(),
            Data::I8(v) => v.len(),
            Data::U8(v) => v.len(),
            Data::I16(v) => v.len(),
            Data::U16(v) => v.len(),
            Data::I32(v) => v.len(),
            Data::U32(v) => v.len(),
            Data::I64(v) => v.len(),
            Data::U64(v) => v.len(),
            Data::Bool(v) => v.len(),
            Data::String(v) => v.len(),
            Data::Mapped(m) => m.len / m.elem.size_of(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The storage variant used for a dtype, filled with `n` default elements.
    pub fn zeros(dtype: DType, n: usize) -> Data {
        crate::dispatch_any!(dtype, T => T::into_data(vec![T::default(); n]))
    }
    /// Whether this storage variant is the one `dtype` uses.
    pub fn holds(&self, dtype: DType) -> bool {
        crate::dispatch_any!(dtype, T => T::slice(self).is_some())
    }
    /// The same elements in an owned `Vec` variant (copies only mapped storage).
    pub fn owned(&self) -> Cow<'_, Data> {
        match self {
            Data::Mapped(m) => Cow::Owned(
                crate::dispatch_any!(m.elem, T => T::into_data(T::slice(self).map(<[T]>::to_vec).unwrap_or_default())),
            ),
            d => Cow::Borrowed(d),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Tensor {
    dtype: DType,
    shape: Vec<usize>,
    data: Arc<Data>,
}

impl PartialEq for Tensor {
    fn eq(&self, o: &Self) -> bool {
        self.dtype == o.dtype
            && self.shape == o.shape
            && (Arc::ptr_eq(&self.data, &o.data) || *self.data.owned() == *o.data.owned())
    }
}

/// Number of elements of a shape (1 for a scalar).
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major strides (in elements) of a shape.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

impl Tensor {
    /// Builds a tensor, checking that the storage matches the dtype and the shape.
    pub fn new(dtype: DType, shape: impl Into<Vec<usize>>, data: Data) -> Result<Tensor> {
        let shape = shape.into();
        let n = crate::shape::check_shape(&shape)?;
        if !data.holds(dtype) {
            bail!("storage does not hold {dtype}");
        }
        if data.len() != n {
            return Err(Error::shape(format!(
                "shape {shape:?} needs {n} elements, storage has {}",
                data.len()
            )));
        }
        Ok(Tensor {
            dtype,
            shape,
            data: Arc::new(data),
        })
    }

    pub fn from_vec<T: Elem>(shape: impl Into<Vec<usize>>, v: Vec<T>) -> Result<Tensor> {
        Tensor::new(T::DTYPE, shape, T::into_data(v))
    }

    pub fn scalar<T: Elem>(v: T) -> Tensor {
        Tensor {
            dtype: T::DTYPE,
            shape: vec![],
            data: Arc::new(T::into_data(vec![v])),
        }
    }

    pub fn zeros(dtype: DType, shape: impl Into<Vec<usize>>) -> Tensor {
        let shape = shape.into();
        let n = numel(&shape);
        Tensor {
            dtype,
            shape,
            data: Arc::new(Data::zeros(dtype, n)),
        }
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    pub fn rank(&self) -> usize {
        self.shape.len()
    }
    pub fn len(&self) -> usize {
        numel(&self.shape)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn data(&self) -> &Data {
        &self.data
    }
    /// Bytes held by the elements (strings count their heap bytes).
    pub fn byte_size(&self) -> usize {
        match &*self.data {
            Data::String(v) => v.iter().map(|s| s.len()).sum(),
            _ => self.len() * self.dtype.size_of(),
        }
    }

    /// Whether the elements are used in place from a mapped file.
    pub fn is_mapped(&self) -> bool {
        matches!(*self.data, Data::Mapped(_))
    }

    /// Little-endian bytes of every element (one byte per element for 1-byte and low-bit
    /// types, bool as 0/1). Borrowed where the storage already is that (little-endian hosts).
    pub fn le_bytes(&self) -> Result<Cow<'_, [u8]>> {
        use bytemuck::cast_slice;
        fn le<T: bytemuck::Pod>(v: &[T], f: impl Fn(&T) -> Vec<u8>) -> Cow<'_, [u8]> {
            if cfg!(target_endian = "little") {
                Cow::Borrowed(cast_slice(v))
            } else {
                Cow::Owned(v.iter().flat_map(f).collect())
            }
        }
        Ok(match &*self.data {
            Data::Mapped(m) => Cow::Borrowed(m.bytes()),
            Data::F32(v) => le(v, |x| x.to_le_bytes().to_vec()),
            Data::F64(v) => le(v, |x| x.to_le_bytes().to_vec()),
            Data::F16(v) => le(v, |x| x.to_bits().to_le_bytes().to_vec()),
            Data::BF16(v) => le(v, |x| x.to_bits().to_le_bytes().to_vec()),
            Data::I8(v) => Cow::Borrowed(cast_slice(v)),
            Data::U8(v) => Cow::Borrowed(v),
            Data::I16(v) => le(v, |x| x.to_le_bytes().to_vec()),
            Data::U16(v) => le(v, |x| x.to_le_bytes().to_vec()),
            Data::I32(v) => le(v, |x| x.to_le_bytes().to_vec()),
            Data::U32(v) => le(v, |x| x.to_le_bytes().to_vec()),
            Data::I64(v) => le(v, |x| x.to_le_bytes().to_vec()),
            Data::U64(v) => le(v, |x| x.to_le_bytes().to_vec()),
            Data::Bool(v) => Cow::Owned(v.iter().map(|&b| b as u8).collect()),
            Data::String(_) => return Err(Error::dtype(DType::String, "byte view")),
        })
    }

    /// Builds a tensor from little-endian element bytes (the layout of [`Tensor::le_bytes`]),
    /// copying them. Bytes that are not a valid element (a bool other than 0/1, an int4 out
    /// of -8..=7, a uint4 or float4 above 15) are an error, as is a length mismatch.
    pub fn from_le_bytes(dtype: DType, shape: impl Into<Vec<usize>>, b: &[u8]) -> Result<Tensor> {
        let shape = shape.into();
        let n = crate::shape::check_shape(&shape)?;
        let size = dtype.storage().size_of();
        if dtype == DType::String || n.checked_mul(size) != Some(b.len()) {
            return Err(Error::invalid(format!(
                "{} bytes do not hold {n} {dtype} elements",
                b.len()
            )));
        }
        fn chunks<const K: usize, T>(b: &[u8], f: impl Fn([u8; K]) -> T) -> Vec<T> {
            b.chunks_exact(K)
                .map(|c| f(c.try_into().expect("chunk")))
                .collect()
        }
        let bad = |what: &str| Error::invalid(format!("byte out of range for {dtype} ({what})"));
        let data = match dtype {
            DType::F32 => Data::F32(chunks(b, f32::from_le_bytes)),
            DType::F64 => Data::F64(chunks(b, f64::from_le_bytes)),
            DType::F16 => Data::F16(chunks(b, |c| f16::from_bits(u16::from_le_bytes(c)))),
            DType::BF16 => Data::BF16(chunks(b, |c| bf16::from_bits(u16::from_le_bytes(c)))),
            DType::I16 => Data::I16(chunks(b, i16::from_le_bytes)),
            DType::U16 => Data::U16(chunks(b, u16::from_le_bytes)),
            DType::I32 => Data::I32(chunks(b, i32::from_le_bytes)),
            DType::U32 => Data::U32(chunks(b, u32::from_le_bytes)),
            DType::I64 => Data::I64(chunks(b, i64::from_le_bytes)),
            DType::U64 => Data::U64(chunks(b, u64::from_le_bytes)),
            DType::I8 => Data::I8(b.iter().map(|&x| x as i8).collect()),
            DType::I4 => {
                if b.iter().any(|&x| !(-8..=7).contains(&(x as i8))) {
                    return Err(bad("-8..=7"));
                }
                Data::I8(b.iter().map(|&x| x as i8).collect())
            }
            DType::U4 | DType::F4E2M1 => {
                if b.iter().any(|&x| x > 15) {
                    return Err(bad("0..=15"));
                }
                Data::U8(b.to_vec())
            }
            DType::Bool => {
                if b.iter().any(|&x| x > 1) {
                    return Err(bad("0 or 1"));
                }
                Data::Bool(b.iter().map(|&x| x == 1).collect())
            }
            _ => Data::U8(b.to_vec()), // u8 and the float8 variants: every byte is valid
        };
        Tensor::new(dtype, shape, data)
    }

    /// The elements as a slice of `T`; an error names both types when they differ.
    pub fn as_slice<T: Elem>(&self) -> Result<&[T]> {
        T::slice(&self.data)
            .ok_or_else(|| Error::invalid(format!("tensor is {}, not {}", self.dtype, T::DTYPE)))
    }

    pub fn to_vec<T: Elem>(&self) -> Result<Vec<T>> {
        Ok(self.as_slice::<T>()?.to_vec())
    }

    /// Takes the elements out, copying only when the storage is shared.
    pub fn into_vec<T: Elem>(self) -> Result<Vec<T>> {
        let dtype = self.dtype;
        let data = Arc::try_unwrap(self.data).unwrap_or_else(|a| (*a).clone());
        T::from_data(data)
            .map_err(|_| Error::invalid(format!("tensor is {dtype}, not {}", T::DTYPE)))
    }

    /// Same elements, new shape (the element count must match). Shares storage.
    pub fn reshape(&self, shape: impl Into<Vec<usize>>) -> Result<Tensor> {
        let shape = shape.into();
        if numel(&shape) != self.len() {
            return Err(Error::shape(format!(
                "cannot reshape {:?} to {:?}",
                self.shape, shape
            )));
        }
        Ok(Tensor {
            dtype: self.dtype,
            shape,
            data: self.data.clone(),
        })
    }

    /// Same storage seen as another dtype with the same storage variant (e.g. u8 bits as f8).
    pub fn with_dtype(&self, dtype: DType) -> Result<Tensor> {
        if !self.data.holds(dtype) {
            bail!("cannot view {} storage as {dtype}", self.dtype);
        }
        Ok(Tensor {
            dtype,
            shape: self.shape.clone(),
            data: self.data.clone(),
        })
    }

    /// Elements converted to f64 (bool as 0/1). Errors for strings and low-bit floats.
    pub fn to_f64_vec(&self) -> Result<Vec<f64>> {
        use num_traits::ToPrimitive;
        if self.dtype == DType::Bool {
            return Ok(self
                .as_slice::<bool>()?
                .iter()
                .map(|&b| b as u8 as f64)
                .collect());
        }
        if self.dtype.is_low_float() {
            bail!("to_f64 of {} needs a cast", self.dtype);
        }
        crate::dispatch_numeric!(self.dtype, T => Ok(self.as_slice::<T>()?.iter().map(|x| x.to_f64().unwrap_or(f64::NAN)).collect()),
            other => Err(Error::dtype(other, "to_f64")))
    }

    /// Integer elements as i64 (for shapes, axes, indices). Floats are rejected.
    pub fn to_i64_vec(&self) -> Result<Vec<i64>> {
        match self.dtype {
            DType::I64 => self.to_vec::<i64>(),
            DType::I32 => Ok(self.as_slice::<i32>()?.iter().map(|&x| x as i64).collect()),
            DType::I16 => Ok(self.as_slice::<i16>()?.iter().map(|&x| x as i64).collect()),
            DType::I8 | DType::I4 => Ok(self.as_slice::<i8>()?.iter().map(|&x| x as i64).collect()),
            DType::U8 | DType::U4 => Ok(self.as_slice::<u8>()?.iter().map(|&x| x as i64).collect()),
            DType::U16 => Ok(self.as_slice::<u16>()?.iter().map(|&x| x as i64).collect()),
            DType::U32 => Ok(self.as_slice::<u32>()?.iter().map(|&x| x as i64).collect()),
            DType::U64 => Ok(self.as_slice::<u64>()?.iter().map(|&x| x as i64).collect()),
            DType::Bool => Ok(self.as_slice::<bool>()?.iter().map(|&x| x as i64).collect()),
            d => Err(Error::dtype(d, "integer tensor expected")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_tensor_with_absurd_dims_is_refused() {
        // no element, but [2^40, 2^40] alone overflows: shape arithmetic on it would too
        let e = Tensor::new(DType::F32, [0, 1 << 40, 1 << 40], Data::F32(vec![])).unwrap_err();
        assert!(e.to_string().contains("elements"), "{e}");
        assert!(Tensor::from_le_bytes(DType::U8, [1 << 40, 1 << 40, 0], &[]).is_err());
        assert!(Tensor::new(DType::F32, [0, 1 << 40], Data::F32(vec![])).is_ok());
    }

    #[test]
    fn le_bytes_round_trip_every_dtype() {
        for &d in DType::ALL.iter().filter(|&&d| d != DType::String) {
            // bytes valid for every dtype: 0..=1 for bool, small for the 4-bit ones
            let n = 37;
            let size = d.storage().size_of();
            let raw: Vec<u8> = (0..n * size)
                .map(|i| match d {
                    DType::Bool => (i % 2) as u8,
                    DType::I4 | DType::U4 | DType::F4E2M1 => (i % 7) as u8,
                    _ => (i * 37 % 251) as u8,
                })
                .collect();
            let t = Tensor::from_le_bytes(d, [n], &raw).unwrap();
            assert_eq!(t.le_bytes().unwrap().as_ref(), &raw[..], "{d}");
        }
    }

    #[test]
    fn invalid_bytes_are_refused() {
        assert!(Tensor::from_le_bytes(DType::Bool, [2], &[0, 2]).is_err());
        assert!(Tensor::from_le_bytes(DType::I4, [1], &[0x80]).is_err());
        assert!(Tensor::from_le_bytes(DType::U4, [1], &[16]).is_err());
        assert!(Tensor::from_le_bytes(DType::F32, [2], &[0; 7]).is_err());
        assert!(Tensor::from_le_bytes(DType::F32, [usize::MAX, 2], &[]).is_err());
    }

    #[test]
    fn mapped_storage_is_used_in_place() {
        let vals: Vec<f32> = (0..100).map(|i| i as f32 * 0.25 - 3.0).collect();
        let mut bytes = vec![0u8; 64];
        bytes.extend(vals.iter().flat_map(|v| v.to_le_bytes()));
        // a u64 buffer gives 8-byte alignment for the test
        let words: Vec<u64> = bytes
            .chunks(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        struct Words(Vec<u64>);
        impl AsRef<[u8]> for Words {
            fn as_ref(&self) -> &[u8] {
                bytemuck::cast_slice(&self.0)
            }
        }
        let owner: SharedBytes = Arc::new(Words(words));
        let m = Mapped::new(owner.clone(), 64, 400, DType::F32).unwrap();
        let t = Tensor::new(DType::F32, [10, 10], Data::Mapped(m)).unwrap();
        assert!(t.is_mapped());
        assert_eq!(t.as_slice::<f32>().unwrap(), &vals[..]);
        assert_eq!(t, Tensor::from_vec([10, 10], vals.clone()).unwrap());
        assert_eq!(t.clone().into_vec::<f32>().unwrap(), vals);
        assert!(t.as_slice::<i32>().is_err());
        // out of bounds, misaligned, ragged, non-plain types
        assert!(Mapped::new(owner.clone(), 64, 4000, DType::F32).is_err());
        assert!(Mapped::new(owner.clone(), 66, 8, DType::F32).is_err());
        assert!(Mapped::new(owner.clone(), 64, 6, DType::F32).is_err());
        assert!(Mapped::new(owner, 64, 8, DType::Bool).is_err());
    }
}
