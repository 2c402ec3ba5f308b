//! Host tensors: a dtype, a shape and shared, immutable element storage.
//!
//! Cloning a [`Tensor`] is cheap (the storage is reference counted); ops that want to write
//! in place use [`Tensor::into_vec`], which reuses the buffer when nothing else holds it.

use crate::{bail, DType, Elem, Error, Result};
use half::{bf16, f16};
use std::sync::Arc;

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
            && (Arc::ptr_eq(&self.data, &o.data) || self.data == o.data)
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
        let n = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| Error::shape(format!("shape {shape:?} overflows")))?;
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
