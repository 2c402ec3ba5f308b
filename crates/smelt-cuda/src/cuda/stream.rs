//! A stream: the unit of ordering for one model instance. It owns the model's caching
//! allocator, its cuBLAS handle (bound to the stream) and a pinned staging buffer for
//! uploads and downloads. Kernels launched through it run in order.

use super::alloc::{AllocStats, Allocator, Pinned};
use super::device::{cuda_err, device, Device, Func};
use super::tensor::{device_dtype, GpuTensor};
use cudarc::driver::{result, CudaStream};
use smelt_core::{DType, Error, Result, Tensor};
use std::ffi::c_void;
use std::sync::{Arc, Mutex};

/// Staging chunk size for host transfers.
const PINNED_BYTES: usize = 8 << 20;

pub struct Stream {
    pub(crate) dev: Arc<Device>,
    pub(crate) stream: Arc<CudaStream>,
    pub(crate) blas: cudarc::cublas::CudaBlas,
    alloc: Arc<Allocator>,
    pinned: Mutex<Option<Pinned>>,
}

impl Stream {
    /// A new stream on the process's device; `Err` (with the reason) when there is none.
    pub fn new() -> Result<Stream> {
        let dev = device().map_err(|e| Error::invalid(format!("cuda: no device: {e}")))?;
        dev.bind()?;
        let stream = dev
            .ctx
            .new_stream()
            .map_err(|e| cuda_err("creating a stream", e))?;
        let blas = cudarc::cublas::CudaBlas::new(stream.clone())
            .map_err(|e| cuda_err("creating the cuBLAS handle", e))?;
        let alloc = Allocator::new(dev.clone());
        Ok(Stream {
            dev,
            stream,
            blas,
            alloc,
            pinned: Mutex::new(None),
        })
    }

    pub fn device(&self) -> &Device {
        &self.dev
    }
    pub fn stats(&self) -> AllocStats {
        self.alloc.stats()
    }
    /// Makes this stream's context current on the calling thread.
    pub fn bind(&self) -> Result<()> {
        self.dev.bind()
    }

    /// Waits for all queued work; a failed kernel shows here as an error.
    pub fn sync(&self) -> Result<()> {
        self.stream
            .synchronize()
            .map_err(|e| cuda_err("a queued kernel or copy failed", e))
    }

    /// An uninitialised device tensor.
    pub fn alloc(&self, dtype: DType, shape: &[usize]) -> Result<GpuTensor> {
        if !device_dtype(dtype) {
            return Err(Error::dtype(dtype, "cuda device tensor"));
        }
        let bytes = shape
            .iter()
            .try_fold(dtype.size_of(), |a, &d| a.checked_mul(d))
            .ok_or_else(|| Error::shape(format!("cuda: {shape:?} is too large")))?;
        let buf = self.alloc.alloc(bytes)?;
        GpuTensor::new(buf, dtype, shape.to_vec())
    }

    /// Copies a host tensor to the device (through pinned memory, then waits).
    pub fn upload(&self, t: &Tensor) -> Result<GpuTensor> {
        let g = self.alloc(t.dtype(), t.shape())?;
        let bytes = t.le_bytes()?;
        let mut guard = self.pinned.lock().unwrap();
        let pinned = self.staging(&mut guard)?;
        for (k, chunk) in bytes.chunks(pinned.len()).enumerate() {
            pinned.bytes_mut()[..chunk.len()].copy_from_slice(chunk);
            // SAFETY: g holds byte_size bytes; the chunk is copied before the buffer is reused
            // because we synchronise after each chunk.
            unsafe {
                result::memcpy_htod_async(
                    g.ptr() + (k * pinned.len()) as u64,
                    &pinned.bytes_mut()[..chunk.len()],
                    self.stream.cu_stream(),
                )
            }
            .map_err(|e| cuda_err("upload", e))?;
            self.sync()?;
        }
        Ok(g)
    }

    /// Copies a device tensor back to the host (waits for queued work first).
    pub fn download(&self, g: &GpuTensor) -> Result<Tensor> {
        let mut out = vec![0u8; g.byte_size()];
        let mut guard = self.pinned.lock().unwrap();
        let pinned = self.staging(&mut guard)?;
        let step = pinned.len();
        for (k, chunk) in out.chunks_mut(step).enumerate() {
            let n = chunk.len();
            // SAFETY: reads n bytes inside g's block into pinned memory, then waits.
            unsafe {
                result::memcpy_dtoh_async(
                    &mut pinned.bytes_mut()[..n],
                    g.ptr() + (k * step) as u64,
                    self.stream.cu_stream(),
                )
            }
            .map_err(|e| cuda_err("download", e))?;
            self.sync()?;
            chunk.copy_from_slice(&pinned.bytes_mut()[..n]);
        }
        Tensor::from_le_bytes(g.dtype(), g.shape().to_vec(), &out)
    }

    fn staging<'a>(&self, slot: &'a mut Option<Pinned>) -> Result<&'a mut Pinned> {
        if slot.is_none() {
            *slot = Some(Pinned::new(&self.dev, PINNED_BYTES)?);
        }
        Ok(slot.as_mut().unwrap())
    }

    /// Launches kernel `name` on `grid` x `block` threads. `args` point to the kernel's
    /// parameters in order (see the `args!` macro); the kernel's signature is the contract.
    pub(crate) fn launch(
        &self,
        name: &'static str,
        grid: u32,
        block: u32,
        args: &mut [*mut c_void],
    ) -> Result<()> {
        if grid == 0 {
            return Ok(());
        }
        let Func(f) = self.dev.func(name)?;
        // SAFETY: args match the kernel's parameter list (each call site's contract).
        unsafe {
            result::launch_kernel(
                f,
                (grid, 1, 1),
                (block, 1, 1),
                0,
                self.stream.cu_stream(),
                args,
            )
        }
        .map_err(|e| cuda_err(&format!("launching '{name}'"), e))
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let _ = self.bind();
        let _ = self.sync();
    }
}

/// Kernel parameter list: `args![&a, &b]` gives the pointers `launch` takes. Each value must
/// outlive the launch call and have the kernel parameter's exact layout.
macro_rules! args {
    ($($a:expr),* $(,)?) => {
        &mut [$($a as *const _ as *mut std::ffi::c_void),*]
    };
}
pub(crate) use args;
