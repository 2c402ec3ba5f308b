//! A stream: the unit of ordering for one model instance. It owns the model's caching
//! allocator, its cuBLAS handle (bound to the stream) and a pinned staging buffer for
//! uploads and downloads. Kernels launched through it run in order.
//!
//! It also holds what the executor's options set for its launches: the GEMM precision, the
//! addresses of constant blocks (weights) and their cached 16-bit copies, events for device
//! timing, and stream capture into CUDA graphs.

use super::alloc::{AllocStats, Allocator, Pinned};
use super::device::{cuda_err, device, Device, Func};
use super::tensor::{device_dtype, GpuTensor};
use crate::precision::Precision;
use cudarc::driver::{result, sys, CudaStream};
use smelt_core::{DType, Error, Result, Tensor};
use std::collections::{HashMap, HashSet};
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Staging buffer size for host transfers: it starts at the smaller and grows (in steps of
/// the smaller) to hold a whole transfer, up to the larger; bigger transfers go in chunks.
const PINNED_BYTES: usize = 8 << 20;
const PINNED_MAX: usize = 64 << 20;
/// cuBLAS workspace, set explicitly so that cuBLAS allocates nothing itself and picks the
/// same kernels in plain runs and under stream capture (CUDA graphs).
const CUBLAS_WORKSPACE: usize = 32 << 20;

pub struct Stream {
    pub(crate) dev: Arc<Device>,
    pub(crate) stream: Arc<CudaStream>,
    pub(crate) blas: cudarc::cublas::CudaBlas,
    alloc: Arc<Allocator>,
    pinned: Mutex<Option<Pinned>>,
    /// The cuBLAS workspace block (kept for the stream's life, outside the allocator).
    _workspace: Workspace,
    /// The operand precision of GEMM-type ops launched on this stream.
    pub(crate) precision: Precision,
    /// Host waits so far (each upload or download chunk, each `sync`): a run that waits
    /// mid-way cannot be captured into a CUDA graph.
    syncs: AtomicU64,
    /// Start addresses of constant blocks (weights kept for the executor's life).
    constants: Mutex<HashSet<u64>>,
    /// 16-bit copies of constant tensors, by (address, elements).
    lowp: Mutex<HashMap<(u64, usize), GpuTensor>>,
    /// The cuDNN handle on this stream, made on first use (None: no usable libcudnn).
    cudnn: std::sync::OnceLock<Option<super::cudnn::Cudnn>>,
    /// The device error word (see [`Stream::error_word`]).
    errors: ErrorWord,
    /// The last activation converted to 16 bits as a GEMM operand and its copy (see
    /// `ops::linalg::operand`): three projections of one input convert it once. Holding the
    /// source keeps its block from reuse, so its address identifies it; cleared after
    /// every run.
    last_act: Mutex<Option<(GpuTensor, GpuTensor)>>,
    /// Per-launch events when kernels are traced (see `crate::profile`).
    trace: Mutex<Option<crate::profile::KernelTrace>>,
    /// The cuBLASLt handle, made on first use (None inside: it could not be made, or
    /// `SMELT_NO_CUBLASLT` is set).
    lt: Mutex<Option<Option<super::lt::Lt>>>,
}

/// One device i32, zero while no kernel has found bad input. Kernels that check their
/// inputs on the device (Gather's indices, so that the indices never travel to the host and
/// the run stays capturable) store their launch's code there with `atomicCAS(err, 0, code)`:
/// the first failure wins. The executor reads it after every run that may have written it.
struct ErrorWord {
    ptr: sys::CUdeviceptr,
    /// The code the next launches store: the running node's index + 1.
    code: AtomicI32,
    /// Whether any launch was handed the word (only then is it read back).
    used: AtomicBool,
}

impl Drop for ErrorWord {
    fn drop(&mut self) {
        // SAFETY: allocated by malloc_sync; the stream synchronised in its Drop.
        unsafe {
            let _ = result::free_sync(self.ptr);
        }
    }
}

impl Stream {
    /// A new stream on the process's device; `Err` (with the reason) when there is none.
    pub fn new() -> Result<Stream> {
        let dev = device().map_err(|e| Error::device("cuda", format!("no device: {e}")))?;
        dev.bind()?;
        let stream = dev
            .ctx
            .new_stream()
            .map_err(|e| cuda_err("creating a stream", e))?;
        let blas = cudarc::cublas::CudaBlas::new(stream.clone())
            .map_err(|e| cuda_err("creating the cuBLAS handle", e))?;
        let alloc = Allocator::new(dev.clone());
        // SAFETY: plain allocation on the bound context.
        let workspace = Workspace(
            unsafe { result::malloc_sync(CUBLAS_WORKSPACE) }
                .map_err(|e| cuda_err("allocating the cuBLAS workspace", e))?,
        );
        // SAFETY: a live handle and a device block of that size that outlives the handle's
        // use (the stream owns both; cuBLAS work is queued on this stream).
        unsafe {
            cudarc::cublas::sys::cublasSetWorkspace_v2(
                *blas.handle(),
                workspace.0 as *mut c_void,
                CUBLAS_WORKSPACE,
            )
        }
        .result()
        .map_err(|e| cuda_err("setting the cuBLAS workspace", e))?;
        // SAFETY: a 4-byte block on the bound context, zeroed before any use.
        let err_ptr = unsafe { result::malloc_sync(4) }
            .map_err(|e| cuda_err("allocating the error word", e))?;
        let errors = ErrorWord {
            ptr: err_ptr,
            code: AtomicI32::new(0),
            used: AtomicBool::new(false),
        };
        // SAFETY: the 4 bytes just allocated.
        unsafe { result::memset_d8_sync(err_ptr, 0, 4) }
            .map_err(|e| cuda_err("zeroing the error word", e))?;
        Ok(Stream {
            dev,
            stream,
            blas,
            alloc,
            pinned: Mutex::new(None),
            _workspace: workspace,
            precision: Precision::F32,
            syncs: AtomicU64::new(0),
            constants: Mutex::new(HashSet::new()),
            lowp: Mutex::new(HashMap::new()),
            cudnn: std::sync::OnceLock::new(),
            errors,
            last_act: Mutex::new(None),
            trace: Mutex::new(None),
            // SMELT_NO_CUBLASLT=1: folded bias Adds run as a kernel after the GEMM
            lt: Mutex::new(crate::exec::env_flag("SMELT_NO_CUBLASLT").then_some(None)),
        })
    }

    /// Sets the code that launches from now on store in the error word (the executor: the
    /// running node's index + 1).
    pub(crate) fn set_error_code(&self, code: i32) {
        self.errors.code.store(code, Ordering::Relaxed);
    }
    /// The error word's address and the code a failing launch stores there.
    pub(crate) fn error_word(&self) -> (u64, i32) {
        self.errors.used.store(true, Ordering::Relaxed);
        (self.errors.ptr, self.errors.code.load(Ordering::Relaxed))
    }
    /// After the stream is synchronised: the code a kernel stored since the last call (and
    /// the word zeroed again), or None. Reads the device only once a launch used the word.
    pub(crate) fn take_error(&self) -> Result<Option<i32>> {
        if !self.errors.used.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let mut v = [0i32];
        // SAFETY: 4 bytes of the live error word; the stream has no queued work.
        unsafe { result::memcpy_dtoh_sync(&mut v, self.errors.ptr) }
            .map_err(|e| cuda_err("reading the error word", e))?;
        if v[0] == 0 {
            return Ok(None);
        }
        // SAFETY: as above.
        unsafe { result::memset_d8_sync(self.errors.ptr, 0, 4) }
            .map_err(|e| cuda_err("zeroing the error word", e))?;
        Ok(Some(v[0]))
    }

    /// How many times the host has waited for this stream.
    pub(crate) fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    /// Marks `t`'s block as a constant that lives as long as the stream's owner keeps it
    /// (a weight): its 16-bit copies may be cached by address.
    pub(crate) fn mark_constant(&self, t: &GpuTensor) {
        self.constants.lock().unwrap().insert(t.ptr());
    }
    pub(crate) fn is_constant(&self, t: &GpuTensor) -> bool {
        self.constants.lock().unwrap().contains(&t.ptr())
    }
    /// The cached 16-bit copy of constant `t`, or `make()`'s result, cached.
    pub(crate) fn lowp_cached(
        &self,
        t: &GpuTensor,
        make: impl FnOnce() -> Result<GpuTensor>,
    ) -> Result<GpuTensor> {
        let key = (t.ptr(), t.len());
        if let Some(c) = self.lowp.lock().unwrap().get(&key) {
            return Ok(c.clone());
        }
        let c = make()?;
        self.lowp.lock().unwrap().insert(key, c.clone());
        Ok(c)
    }
    /// The 16-bit copy of activation `t` made by the last `make()` for the same tensor, or
    /// `make()`'s result, kept as the last one.
    pub(crate) fn lowp_last(
        &self,
        t: &GpuTensor,
        make: impl FnOnce() -> Result<GpuTensor>,
    ) -> Result<GpuTensor> {
        if let Some((src, c)) = self.last_act.lock().unwrap().as_ref() {
            if src.ptr() == t.ptr() && src.len() == t.len() && src.dtype() == t.dtype() {
                return Ok(c.clone());
            }
        }
        let c = make()?;
        *self.last_act.lock().unwrap() = Some((t.clone(), c.clone()));
        Ok(c)
    }
    /// Makes `copy` (16-bit values of `src`, written by src's producer) the last converted
    /// activation, so the GEMMs reading `src` next take it.
    pub(crate) fn set_last_act(&self, src: &GpuTensor, copy: GpuTensor) {
        *self.last_act.lock().unwrap() = Some((src.clone(), copy));
    }
    /// Drops the last converted activation (the end of a run).
    pub(crate) fn clear_last_act(&self) {
        *self.last_act.lock().unwrap() = None;
    }

    /// Forgets the cached 16-bit copies (they are made again on next use).
    pub(crate) fn clear_lowp(&self) {
        self.lowp.lock().unwrap().clear();
    }
    /// Bytes held by the cached 16-bit copies of weights.
    pub(crate) fn lowp_bytes(&self) -> u64 {
        let m = self.lowp.lock().unwrap();
        m.values().map(|t| t.byte_size() as u64).sum()
    }

    /// A timing event.
    pub(crate) fn event(&self) -> Result<Event> {
        result::event::create(sys::CUevent_flags::CU_EVENT_DEFAULT)
            .map(Event)
            .map_err(|e| cuda_err("creating an event", e))
    }
    /// Records `e` on the stream (it completes when the work queued before it has).
    pub(crate) fn record(&self, e: &Event) -> Result<()> {
        // SAFETY: a live event and stream of this context.
        unsafe { result::event::record(e.0, self.stream.cu_stream()) }
            .map_err(|e| cuda_err("recording an event", e))
    }

    /// Starts capturing this stream's launches into a graph (relaxed mode, so allocating
    /// device memory during the capture is allowed); blocks handed out from now on are
    /// recorded for reservation. Any host wait before `end_capture` fails the capture.
    pub(crate) fn begin_capture(&self) -> Result<()> {
        self.alloc.begin_reserve();
        // SAFETY: a live stream.
        unsafe {
            result::stream::begin_capture(
                self.stream.cu_stream(),
                sys::CUstreamCaptureMode::CU_STREAM_CAPTURE_MODE_RELAXED,
            )
        }
        .map_err(|e| {
            self.alloc.end_reserve(false);
            cuda_err("beginning a stream capture", e)
        })
    }

    /// Ends the capture. `keep`: instantiate the graph and reserve every block handed out
    /// since `begin_capture` for it; otherwise (or when capture failed) discard it. The
    /// captured launches have not run: launch the graph to run them.
    pub(crate) fn end_capture(&self, keep: bool) -> Result<Option<Graph>> {
        // SAFETY: a live stream in capture mode.
        let g = unsafe { result::stream::end_capture(self.stream.cu_stream()) };
        let g = match g {
            Ok(g) if !g.is_null() => g,
            Ok(_) => {
                self.alloc.end_reserve(false);
                return Ok(None);
            }
            Err(e) => {
                self.alloc.end_reserve(false);
                return if keep {
                    Err(cuda_err("ending a stream capture", e))
                } else {
                    Ok(None)
                };
            }
        };
        if !keep {
            // SAFETY: g came from end_capture and is not used again.
            unsafe {
                let _ = result::graph::destroy(g);
            }
            self.alloc.end_reserve(false);
            return Ok(None);
        }
        // SAFETY: g is a valid graph.
        let exec = unsafe { result::graph::instantiate(g, sys::CUgraphInstantiate_flags(0)) };
        match exec {
            Ok(exec) => {
                self.alloc.end_reserve(true);
                Ok(Some(Graph { graph: g, exec }))
            }
            Err(e) => {
                // SAFETY: as above.
                unsafe {
                    let _ = result::graph::destroy(g);
                }
                self.alloc.end_reserve(false);
                Err(cuda_err("instantiating a CUDA graph", e))
            }
        }
    }

    /// Queues a replay of `g` on this stream.
    pub(crate) fn launch_graph(&self, g: &Graph) -> Result<()> {
        // SAFETY: a live graph exec of this context.
        unsafe { result::graph::launch(g.exec, self.stream.cu_stream()) }
            .map_err(|e| cuda_err("launching a CUDA graph", e))
    }

    /// A graph's blocks go back to the free lists (after the graph and its tensors are
    /// dropped).
    pub(crate) fn release_reserved(&self) {
        self.alloc.release_reserved();
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

    /// This stream's cuDNN handle, or None where cuDNN cannot be used (see
    /// [`super::cudnn::available`]).
    pub(crate) fn cudnn(&self) -> Option<&super::cudnn::Cudnn> {
        self.cudnn
            .get_or_init(|| {
                if !super::cudnn::available() {
                    return None;
                }
                super::cudnn::Cudnn::new(self.stream.cu_stream()).ok()
            })
            .as_ref()
    }

    /// Waits for all queued work; a failed kernel shows here as an error.
    pub fn sync(&self) -> Result<()> {
        self.syncs.fetch_add(1, Ordering::Relaxed);
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
        self.upload_into(t, &g)?;
        Ok(g)
    }

    /// Copies a host tensor into an existing device tensor of the same dtype and shape.
    pub(crate) fn upload_into(&self, t: &Tensor, g: &GpuTensor) -> Result<()> {
        if t.dtype() != g.dtype() || t.shape() != g.shape() {
            return Err(Error::device(
                "cuda",
                format!(
                    "uploading {} {:?} into {} {:?}",
                    t.dtype(),
                    t.shape(),
                    g.dtype(),
                    g.shape()
                ),
            ));
        }
        let bytes = t.le_bytes()?;
        let mut guard = self.pinned.lock().unwrap();
        let pinned = self.staging(&mut guard, bytes.len())?;
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
        Ok(())
    }

    /// Copies a device tensor back to the host (waits for queued work first).
    pub fn download(&self, g: &GpuTensor) -> Result<Tensor> {
        let mut guard = self.pinned.lock().unwrap();
        let pinned = self.staging(&mut guard, g.byte_size())?;
        let step = pinned.len();
        if g.byte_size() == 0 {
            return Tensor::from_le_bytes(g.dtype(), g.shape().to_vec(), &[]);
        }
        if g.byte_size() <= step {
            // one copy into pinned memory, read from there into the tensor
            let n = g.byte_size();
            // SAFETY: reads n bytes of g's block into pinned memory, then waits.
            unsafe {
                result::memcpy_dtoh_async(
                    &mut pinned.bytes_mut()[..n],
                    g.ptr(),
                    self.stream.cu_stream(),
                )
            }
            .map_err(|e| cuda_err("download", e))?;
            self.sync()?;
            return Tensor::from_le_bytes(g.dtype(), g.shape().to_vec(), &pinned.bytes_mut()[..n]);
        }
        let mut out = vec![0u8; g.byte_size()];
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

    /// The staging buffer, grown to hold `want` bytes (up to `PINNED_MAX`).
    fn staging<'a>(&self, slot: &'a mut Option<Pinned>, want: usize) -> Result<&'a mut Pinned> {
        let size = want
            .next_multiple_of(PINNED_BYTES)
            .clamp(PINNED_BYTES, PINNED_MAX);
        if slot.as_ref().is_none_or(|p| p.len() < size) {
            *slot = None; // the old buffer is freed first
            *slot = Some(Pinned::new(&self.dev, size)?);
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
        let f = self.dev.func(name)?;
        self.launch_func(f, name, grid, block, args)
    }

    /// [`Stream::launch`] on a 2-d grid of `grid.0` x `grid.1` blocks.
    pub(crate) fn launch_2d(
        &self,
        name: &'static str,
        grid: (u32, u32),
        block: u32,
        args: &mut [*mut c_void],
    ) -> Result<()> {
        if grid.0 == 0 || grid.1 == 0 {
            return Ok(());
        }
        let f = self.dev.func(name)?;
        self.launch_grid(f, name, (grid.0, grid.1, 1), block, args)
    }

    /// [`Stream::launch`] of a kernel handle (a generated kernel); `name` is for errors.
    pub(crate) fn launch_func(
        &self,
        f: Func,
        name: &str,
        grid: u32,
        block: u32,
        args: &mut [*mut c_void],
    ) -> Result<()> {
        if grid == 0 {
            return Ok(());
        }
        self.launch_grid(f, name, (grid, 1, 1), block, args)
    }

    fn launch_grid(
        &self,
        f: Func,
        name: &str,
        grid: (u32, u32, u32),
        block: u32,
        args: &mut [*mut c_void],
    ) -> Result<()> {
        let Func(f) = f;
        self.traced(
            || name.to_string(),
            || {
                // SAFETY: args match the kernel's parameter list (each call site's contract).
                unsafe {
                    result::launch_kernel(f, grid, (block, 1, 1), 0, self.stream.cu_stream(), args)
                }
                .map_err(|e| cuda_err(&format!("launching '{name}'"), e))
            },
        )
    }

    /// The cuBLAS workspace block and its size (cuBLASLt shares it: both run in stream
    /// order).
    pub(crate) fn workspace(&self) -> (u64, usize) {
        (self._workspace.0, CUBLAS_WORKSPACE)
    }

    /// Copies `x`'s bytes into `y` (at least as large) in stream order.
    pub(crate) fn copy_device(&self, x: &GpuTensor, y: &GpuTensor) -> Result<()> {
        if y.byte_size() < x.byte_size() {
            return Err(Error::invalid(format!(
                "device copy of {} bytes into {}",
                x.byte_size(),
                y.byte_size()
            )));
        }
        if x.byte_size() == 0 {
            return Ok(());
        }
        // SAFETY: both blocks hold at least x's bytes; the copy is ordered on the stream.
        unsafe {
            result::memcpy_dtod_async(y.ptr(), x.ptr(), x.byte_size(), self.stream.cu_stream())
        }
        .map_err(|e| cuda_err("device copy", e))
    }

    /// `d = alpha * op(a) op(b) + c + bias` by cuBLASLt's bias epilogue (see `super::lt`),
    /// `c` (f32, d's shape) only when given.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn gemm_bias(
        &self,
        key: super::lt::LtKey,
        a: u64,
        b: u64,
        d: u64,
        bias: u64,
        c: Option<u64>,
        alpha: f32,
    ) -> Result<()> {
        let mut lt = self.lt.lock().unwrap();
        let lt = lt.get_or_insert_with(|| super::lt::Lt::new().ok());
        let Some(lt) = lt.as_mut() else {
            return Err(Error::unsupported("cublasLt", "no handle"));
        };
        self.traced(
            || {
                format!(
                    "gemm+bias{} {} m{} n{} k{}{}{}",
                    if c.is_some() { "+c" } else { "" },
                    key.precision.name(),
                    key.m,
                    key.n,
                    key.k,
                    if key.trans_a { " At" } else { "" },
                    if key.trans_b { " Bt" } else { "" }
                )
            },
            || lt.gemm_bias(self, key, a, b, d, bias, c, alpha),
        )
    }

    /// Turns per-launch tracing on or off (see `crate::profile::KernelTrace`).
    pub(crate) fn set_tracing(&self, on: bool) {
        *self.trace.lock().unwrap() = on.then(Default::default);
    }
    /// `f` on the launch trace, when tracing is on.
    pub(crate) fn with_trace<T>(
        &self,
        f: impl FnOnce(&mut crate::profile::KernelTrace) -> T,
    ) -> Option<T> {
        self.trace.lock().unwrap().as_mut().map(f)
    }
    /// Runs `launch` (work queued on this stream), bracketed by events named `name()` when
    /// tracing is on.
    pub(crate) fn traced<T>(
        &self,
        name: impl FnOnce() -> String,
        launch: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        let k = match self.with_trace(|t| t.start(self, name())) {
            None => return launch(),
            Some(k) => k?,
        };
        let r = launch();
        self.with_trace(|t| t.end(self, k)).transpose()?;
        r
    }
}

/// The cuBLAS workspace: freed after the handle (declared after `blas` in `Stream`).
struct Workspace(sys::CUdeviceptr);

impl Drop for Workspace {
    fn drop(&mut self) {
        // SAFETY: allocated by malloc_sync; the stream synchronised in its Drop.
        unsafe {
            let _ = result::free_sync(self.0);
        }
    }
}

/// A CUDA event (timing enabled).
pub(crate) struct Event(sys::CUevent);
// SAFETY: event handles may be used from any thread of the context.
unsafe impl Send for Event {}

impl Event {
    /// Milliseconds from `self` to `end`, both recorded and complete.
    pub(crate) fn ms_to(&self, end: &Event) -> Result<f32> {
        // SAFETY: two live events.
        unsafe { result::event::elapsed(self.0, end.0) }
            .map_err(|e| cuda_err("reading event times", e))
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        // SAFETY: created by event::create, destroyed once.
        unsafe {
            let _ = result::event::destroy(self.0);
        }
    }
}

/// An instantiated CUDA graph (see `Stream::begin_capture`).
pub(crate) struct Graph {
    graph: sys::CUgraph,
    exec: sys::CUgraphExec,
}
// SAFETY: graph handles may be used from any thread of the context; launches are serialised
// by the owning executor's mutex.
unsafe impl Send for Graph {}

impl Drop for Graph {
    fn drop(&mut self) {
        // SAFETY: created by end_capture / instantiate, destroyed once.
        unsafe {
            let _ = result::graph::exec_destroy(self.exec);
            let _ = result::graph::destroy(self.graph);
        }
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
