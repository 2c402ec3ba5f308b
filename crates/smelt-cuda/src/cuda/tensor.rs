//! Device tensors: a dense row-major block of a [`DevBuf`] with a dtype and shape. Views
//! (Reshape, Flatten, Squeeze, Unsqueeze) share the block with a new shape: no copy.

use super::alloc::DevBuf;
use smelt_core::{DType, Error, Result};
use std::sync::Arc;

/// Element types that live on the device (others stay on the host): the numeric dtypes of
/// 8 to 64 bits and bool (one byte), the ones the typed kernels and Cast take.
pub fn device_dtype(d: DType) -> bool {
    crate::plan::elementwise::cast_code(d).is_some()
}

#[derive(Clone)]
pub struct GpuTensor {
    buf: Arc<DevBuf>,
    /// Byte offset into the block.
    offset: usize,
    dtype: DType,
    shape: Vec<usize>,
}

impl std::fmt::Debug for GpuTensor {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "GpuTensor({} {:?})", self.dtype, self.shape)
    }
}

impl GpuTensor {
    pub(crate) fn new(buf: DevBuf, dtype: DType, shape: Vec<usize>) -> Result<GpuTensor> {
        let t = GpuTensor {
            buf: Arc::new(buf),
            offset: 0,
            dtype,
            shape,
        };
        if t.byte_size() > t.buf.size() {
            return Err(Error::device("cuda", "block smaller than the tensor"));
        }
        Ok(t)
    }
    pub fn dtype(&self) -> DType {
        self.dtype
    }
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn byte_size(&self) -> usize {
        self.len() * self.dtype.size_of()
    }
    /// The device address of the first element.
    pub fn ptr(&self) -> u64 {
        self.buf.ptr() + self.offset as u64
    }
    /// The same elements under another shape of equal element count.
    pub fn view(&self, shape: Vec<usize>) -> Result<GpuTensor> {
        let n: usize = shape.iter().product();
        if n != self.len() {
            return Err(Error::shape(format!(
                "cannot view {:?} ({} elements) as {shape:?}",
                self.shape,
                self.len()
            )));
        }
        Ok(GpuTensor {
            buf: self.buf.clone(),
            offset: self.offset,
            dtype: self.dtype,
            shape,
        })
    }
    /// Whether two tensors share a block (a view of the other).
    pub fn same_block(&self, o: &GpuTensor) -> bool {
        Arc::ptr_eq(&self.buf, &o.buf)
    }
}
