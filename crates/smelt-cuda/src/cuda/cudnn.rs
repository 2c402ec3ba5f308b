//! Convolution through cuDNN where libcudnn is present (it is optional: without it, or
//! with `SMELT_NO_CUDNN=1`, convolutions use the im2col + GEMM and direct kernels).
//!
//! One handle per stream. A [`ConvKey`] (shapes, window, groups, data type, math mode)
//! maps to cached descriptors and the algorithm cuDNN's heuristics rank first among those
//! whose workspace fits [`MAX_WORKSPACE`]; the caller allocates the workspace.
//! A key with a bias (and a ReLU) after it and at least 2^21 output elements is weighed for
//! cuDNN's fused call (`cudnnConvolutionBiasActivationForward`, [`ConvPlan::fused`]) by
//! timing the algorithms (`cudnnFindConvolutionForwardAlgorithm`, once per key and
//! process, so every executor makes the same choice; it can differ between processes).
//! That call takes only the implicit precomputed-GEMM algorithm, and with f32 data it
//! computes in exact fp32 whatever the math type (cuDNN 9.14, H200), so it is weighed by
//! that algorithm's FMA time against the fastest one plus the separate pass over y it
//! saves; otherwise the heuristics' algorithm and the pass are kept.
//! `SMELT_CUDNN_BIAS_ACT=1` weighs every such key, `=0` none. Measured on ResNet-50 tf32
//! (H200, compute time): batch 32 4.47 ms with none, 4.13 and 4.29 ms (two runs) with every
//! key; batch 1 0.73 ms with none, 1.48 ms with every key (the call's overhead on small
//! convs, not in the timing), hence the size threshold. The timed algorithm without the
//! fused call measured worse than the heuristics' (batch 32 4.57 ms, batch 1 1.29 ms).
//! Layout: dense NCHW / NCDHW, weights [K, C/groups, kernel...]; 1-d convolutions are
//! described as 2-d with a height of 1. Pads must be symmetric (cuDNN takes one pad per
//! dim): [`ConvKey::new`] refuses the rest.

use cudarc::cudnn::{result, sys};
use smelt_core::{Error, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Largest workspace an algorithm may ask for.
pub const MAX_WORKSPACE: usize = 256 << 20;

/// The one algorithm `cudnnConvolutionBiasActivationForward` runs with a ReLU.
const PRECOMP: sys::cudnnConvolutionFwdAlgo_t =
    sys::cudnnConvolutionFwdAlgo_t::CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;

/// A timed choice for cuDNN's fused call: algorithm and math type; `None` where the
/// heuristics' algorithm and the separate pass are kept.
type Choice = Option<(sys::cudnnConvolutionFwdAlgo_t, sys::cudnnMathType_t)>;

/// Whether cuDNN may apply `key`'s epilogue: `SMELT_CUDNN_BIAS_ACT=1` always, `=0` never,
/// else from [`BIAS_ACT_MIN_Y`] output elements (read when a plan is made).
fn bias_act(key: &ConvKey) -> bool {
    match smelt_core::settings::var("SMELT_CUDNN_BIAS_ACT").as_deref() {
        Some("1") => true,
        Some("0") => false,
        _ => key.y.iter().map(|&d| d as i64).product::<i64>() >= BIAS_ACT_MIN_Y,
    }
}

/// Output elements from which cuDNN's fused bias/ReLU call is weighed: every conv of
/// ResNet-50 at batch 32 (3.2 M to 25.7 M), none at batch 1 (at most 0.8 M), where the
/// call's overhead measured a loss.
const BIAS_ACT_MIN_Y: i64 = 1 << 21;

/// The timed choices of this process (one device, ordinal 0), by key.
fn choices() -> &'static Mutex<HashMap<ConvKey, Choice>> {
    static C: OnceLock<Mutex<HashMap<ConvKey, Choice>>> = OnceLock::new();
    C.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Bytes per second assumed for a separate element-wise pass over y (read and write),
/// to weigh the fused algorithm against the fastest one: a conservative figure for a
/// current data-centre GPU (an H200 streams about 3e12), so the fused one is favoured.
const PASS_BYTES_PER_S: f64 = 2.5e12;

/// Whether cuDNN can be used in this process (library present, versions consistent, not
/// disabled by `SMELT_NO_CUDNN`).
pub fn available() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| {
        if smelt_core::settings::is_set("SMELT_NO_CUDNN") {
            return false;
        }
        // SAFETY: only tries to open the library
        if !unsafe { sys::is_culib_present() } {
            return false;
        }
        std::panic::catch_unwind(|| result::version_check().is_ok()).unwrap_or(false)
    })
}

/// The element type of a convolution's tensors (accumulation is always f32).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConvData {
    F32,
    F16,
    Bf16,
}

/// Arithmetic cuDNN may use: exact fp32 FMA, or tensor cores (TF32 for f32 data).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConvMath {
    Fma,
    TensorOp,
}

/// What the caller applies after the convolution, which cuDNN may do in its epilogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConvEpilogue {
    None,
    /// y += bias[k] per output channel
    Bias,
    /// y = relu(y + bias[k]), NaN kept
    BiasRelu,
}

/// One convolution's geometry, as cuDNN describes it (always >= 2 spatial dims).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConvKey {
    /// x: [N, C, spatial...]
    pub x: Vec<i32>,
    /// w: [K, C / groups, kernel...]
    pub w: Vec<i32>,
    /// y: [N, K, out spatial...]
    pub y: Vec<i32>,
    pub pads: Vec<i32>,
    pub strides: Vec<i32>,
    pub dilations: Vec<i32>,
    pub groups: i32,
    pub data: ConvData,
    pub math: ConvMath,
    /// set by the caller after `new` (which leaves `None`)
    pub epilogue: ConvEpilogue,
}

impl ConvKey {
    /// The key of a convolution with per-dim begin and end pads; `None` where cuDNN cannot
    /// describe it (asymmetric pads, more than 3 spatial dims, sizes over i32).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        x: &[usize],
        w: &[usize],
        y: &[usize],
        pads_begin: &[usize],
        pads_end: &[usize],
        strides: &[usize],
        dilations: &[usize],
        groups: usize,
        data: ConvData,
        math: ConvMath,
    ) -> Option<ConvKey> {
        let sp = x.len().checked_sub(2)?;
        if !(1..=3).contains(&sp)
            || pads_begin != pads_end
            || w.len() != x.len()
            || y.len() != x.len()
        {
            return None;
        }
        let i = |v: &[usize]| -> Option<Vec<i32>> {
            v.iter().map(|&d| i32::try_from(d).ok()).collect()
        };
        let (mut x, mut w, mut y) = (i(x)?, i(w)?, i(y)?);
        let (mut pads, mut strides, mut dilations) = (i(pads_begin)?, i(strides)?, i(dilations)?);
        if sp == 1 {
            // [N, C, W] as [N, C, 1, W]
            x.insert(2, 1);
            w.insert(2, 1);
            y.insert(2, 1);
            pads.insert(0, 0);
            strides.insert(0, 1);
            dilations.insert(0, 1);
        }
        Some(ConvKey {
            x,
            w,
            y,
            pads,
            strides,
            dilations,
            groups: i32::try_from(groups).ok()?,
            data,
            math,
            epilogue: ConvEpilogue::None,
        })
    }
}

/// Cached descriptors and algorithm of one [`ConvKey`].
pub struct ConvPlan {
    x: sys::cudnnTensorDescriptor_t,
    w: sys::cudnnFilterDescriptor_t,
    y: sys::cudnnTensorDescriptor_t,
    conv: sys::cudnnConvolutionDescriptor_t,
    algo: sys::cudnnConvolutionFwdAlgo_t,
    /// workspace bytes the algorithm needs
    pub workspace: usize,
    /// cuDNN applies the key's epilogue itself: call [`Cudnn::forward_bias`]
    pub fused: bool,
    /// [1, K, 1, ..] for the bias, with the activation (identity or ReLU), when fused
    bias: Option<sys::cudnnTensorDescriptor_t>,
    act: Option<sys::cudnnActivationDescriptor_t>,
}

// SAFETY: descriptors are plain handles, only read after creation.
unsafe impl Send for ConvPlan {}
unsafe impl Sync for ConvPlan {}

impl Drop for ConvPlan {
    fn drop(&mut self) {
        // SAFETY: created in `plan`, destroyed once here
        unsafe {
            let _ = result::destroy_tensor_descriptor(self.x);
            let _ = result::destroy_filter_descriptor(self.w);
            let _ = result::destroy_tensor_descriptor(self.y);
            let _ = result::destroy_convolution_descriptor(self.conv);
            if let Some(b) = self.bias {
                let _ = result::destroy_tensor_descriptor(b);
            }
            if let Some(a) = self.act {
                let _ = sys::cudnnDestroyActivationDescriptor(a);
            }
        }
    }
}

fn cudnn_err(what: &str, e: impl std::fmt::Debug) -> Error {
    Error::invalid(format!("cudnn: {what}: {e:?}"))
}

fn dtype(d: ConvData) -> sys::cudnnDataType_t {
    match d {
        ConvData::F32 => sys::cudnnDataType_t::CUDNN_DATA_FLOAT,
        ConvData::F16 => sys::cudnnDataType_t::CUDNN_DATA_HALF,
        ConvData::Bf16 => sys::cudnnDataType_t::CUDNN_DATA_BFLOAT16,
    }
}

fn packed_strides(dims: &[i32]) -> Vec<i32> {
    let mut s = vec![1i32; dims.len()];
    for i in (0..dims.len() - 1).rev() {
        s[i] = s[i + 1] * dims[i + 1];
    }
    s
}

/// A cuDNN handle bound to one stream, with its plan cache.
pub struct Cudnn {
    handle: sys::cudnnHandle_t,
    plans: Mutex<HashMap<ConvKey, Arc<ConvPlan>>>,
}

// SAFETY: the handle is used from one stream; calls are serialised by the executor.
unsafe impl Send for Cudnn {}
unsafe impl Sync for Cudnn {}

impl Drop for Cudnn {
    fn drop(&mut self) {
        self.plans.lock().unwrap().clear();
        // SAFETY: created in `new`, destroyed once
        unsafe {
            let _ = result::destroy_handle(self.handle);
        }
    }
}

impl Cudnn {
    /// A handle on `stream` (the current context must be bound).
    pub fn new(stream: cudarc::driver::sys::CUstream) -> Result<Cudnn> {
        let handle = result::create_handle().map_err(|e| cudnn_err("creating the handle", e))?;
        // SAFETY: a fresh handle and a live stream of the same context
        unsafe { result::set_stream(handle, stream as sys::cudaStream_t) }
            .map_err(|e| cudnn_err("binding the stream", e))?;
        Ok(Cudnn {
            handle,
            plans: Mutex::new(HashMap::new()),
        })
    }

    /// The plan of `key` (made once, then cached); an error where cuDNN has no algorithm.
    pub fn plan(&self, key: &ConvKey) -> Result<Arc<ConvPlan>> {
        if let Some(p) = self.plans.lock().unwrap().get(key) {
            return Ok(p.clone());
        }
        let dt = dtype(key.data);
        let n = key.x.len() as i32;
        // SAFETY: descriptors are created here and owned by the plan (dropped on error)
        let plan = unsafe {
            let mut p = ConvPlan {
                x: result::create_tensor_descriptor().map_err(|e| cudnn_err("x descriptor", e))?,
                w: result::create_filter_descriptor().map_err(|e| cudnn_err("w descriptor", e))?,
                y: result::create_tensor_descriptor().map_err(|e| cudnn_err("y descriptor", e))?,
                conv: result::create_convolution_descriptor()
                    .map_err(|e| cudnn_err("conv descriptor", e))?,
                algo: sys::cudnnConvolutionFwdAlgo_t::CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM,
                workspace: 0,
                fused: false,
                bias: None,
                act: None,
            };
            let (xs, ys) = (packed_strides(&key.x), packed_strides(&key.y));
            result::set_tensornd_descriptor(p.x, dt, n, key.x.as_ptr(), xs.as_ptr())
                .map_err(|e| cudnn_err("x descriptor", e))?;
            result::set_tensornd_descriptor(p.y, dt, n, key.y.as_ptr(), ys.as_ptr())
                .map_err(|e| cudnn_err("y descriptor", e))?;
            result::set_filternd_descriptor(
                p.w,
                dt,
                sys::cudnnTensorFormat_t::CUDNN_TENSOR_NCHW,
                n,
                key.w.as_ptr(),
            )
            .map_err(|e| cudnn_err("w descriptor", e))?;
            result::set_convolutionnd_descriptor(
                p.conv,
                n - 2,
                key.pads.as_ptr(),
                key.strides.as_ptr(),
                key.dilations.as_ptr(),
                sys::cudnnConvolutionMode_t::CUDNN_CROSS_CORRELATION,
                sys::cudnnDataType_t::CUDNN_DATA_FLOAT,
            )
            .map_err(|e| cudnn_err("conv descriptor", e))?;
            result::set_convolution_group_count(p.conv, key.groups)
                .map_err(|e| cudnn_err("group count", e))?;
            let math = match key.math {
                ConvMath::Fma => sys::cudnnMathType_t::CUDNN_FMA_MATH,
                ConvMath::TensorOp => sys::cudnnMathType_t::CUDNN_TENSOR_OP_MATH,
            };
            result::set_convolution_math_type(p.conv, math)
                .map_err(|e| cudnn_err("math type", e))?;
            let usable = |r: &sys::cudnnConvolutionFwdAlgoPerf_t| {
                r.status == sys::cudnnStatus_t::CUDNN_STATUS_SUCCESS
                    && r.memory <= MAX_WORKSPACE
                    && (key.math == ConvMath::TensorOp
                        || r.mathType != sys::cudnnMathType_t::CUDNN_TENSOR_OP_MATH)
            };
            let timed = if key.epilogue != ConvEpilogue::None && bias_act(key) {
                // (the lock is not held while timing, nor across the insert)
                let known = choices().lock().unwrap().get(key).copied();
                match known {
                    Some(c) => c,
                    None => {
                        let c = self.time_algorithms(&p, key, &usable)?;
                        choices().lock().unwrap().insert(key.clone(), c);
                        c
                    }
                }
            } else {
                None
            };
            if let Some((algo, math)) = timed {
                (p.algo, p.fused) = (algo, true);
                result::set_convolution_math_type(p.conv, math)
                    .map_err(|e| cudnn_err("math type", e))?;
                self.epilogue_descriptors(&mut p, key)?;
            } else {
                let mut perf: [sys::cudnnConvolutionFwdAlgoPerf_t; 16] = std::mem::zeroed();
                let mut count = 0;
                result::get_convolution_forward_algorithm(
                    self.handle,
                    p.x,
                    p.w,
                    p.conv,
                    p.y,
                    perf.len() as i32,
                    &mut count,
                    perf.as_mut_ptr(),
                )
                .map_err(|e| cudnn_err("choosing an algorithm", e))?;
                let Some(r) = perf[..count.max(0) as usize].iter().find(|r| usable(r)) else {
                    return Err(Error::unsupported(
                        "cudnn",
                        format!("no convolution algorithm for {key:?}"),
                    ));
                };
                p.algo = r.algo;
            }
            p.workspace = result::get_convolution_forward_workspace_size(
                self.handle,
                p.x,
                p.w,
                p.conv,
                p.y,
                p.algo,
            )
            .map_err(|e| cudnn_err("workspace size", e))?;
            p
        };
        let plan = Arc::new(plan);
        self.plans.lock().unwrap().insert(key.clone(), plan.clone());
        Ok(plan)
    }

    /// Times the algorithms of plan `p` (descriptors set): the algorithm and math type for
    /// cuDNN's fused call when it wins, else `None`.
    unsafe fn time_algorithms(
        &self,
        p: &ConvPlan,
        key: &ConvKey,
        usable: &dyn Fn(&sys::cudnnConvolutionFwdAlgoPerf_t) -> bool,
    ) -> Result<Choice> {
        let mut perf: [sys::cudnnConvolutionFwdAlgoPerf_t; 16] = std::mem::zeroed();
        let mut count = 0;
        sys::cudnnFindConvolutionForwardAlgorithm(
            self.handle,
            p.x,
            p.w,
            p.conv,
            p.y,
            perf.len() as i32,
            &mut count,
            perf.as_mut_ptr(),
        )
        .result()
        .map_err(|e| cudnn_err("timing the algorithms", e))?;
        let found = &perf[..count.max(0) as usize];
        let fastest = |fusable: bool| {
            found
                .iter()
                .filter(|r| {
                    usable(r)
                        && (!fusable
                            || (r.algo == PRECOMP
                                && r.mathType != sys::cudnnMathType_t::CUDNN_TENSOR_OP_MATH))
                })
                .min_by(|a, b| a.time.total_cmp(&b.time))
        };
        let y_bytes = key.y.iter().map(|&d| d as f64).product::<f64>() * 4.0;
        let pass_ms = (2.0 * y_bytes / PASS_BYTES_PER_S * 1e3) as f32;
        match (fastest(false), fastest(true)) {
            (Some(b), Some(f)) if f.time <= b.time + pass_ms => Ok(Some((f.algo, f.mathType))),
            _ => Ok(None),
        }
    }

    /// The bias [1, K, 1, ..] and activation descriptors of a fused plan.
    unsafe fn epilogue_descriptors(&self, p: &mut ConvPlan, key: &ConvKey) -> Result<()> {
        let b = result::create_tensor_descriptor().map_err(|e| cudnn_err("bias descriptor", e))?;
        p.bias = Some(b);
        let mut dims = vec![1i32; key.y.len()];
        dims[1] = key.y[1];
        let st = packed_strides(&dims);
        result::set_tensornd_descriptor(
            b,
            dtype(key.data),
            dims.len() as i32,
            dims.as_ptr(),
            st.as_ptr(),
        )
        .map_err(|e| cudnn_err("bias descriptor", e))?;
        let mut a: sys::cudnnActivationDescriptor_t = std::ptr::null_mut();
        sys::cudnnCreateActivationDescriptor(&mut a)
            .result()
            .map_err(|e| cudnn_err("activation descriptor", e))?;
        p.act = Some(a);
        let mode = match key.epilogue {
            ConvEpilogue::BiasRelu => sys::cudnnActivationMode_t::CUDNN_ACTIVATION_RELU,
            _ => sys::cudnnActivationMode_t::CUDNN_ACTIVATION_IDENTITY,
        };
        sys::cudnnSetActivationDescriptor(
            a,
            mode,
            sys::cudnnNanPropagation_t::CUDNN_PROPAGATE_NAN,
            0.0,
        )
        .result()
        .map_err(|e| cudnn_err("activation descriptor", e))
    }

    /// y = act(conv(x, w) + bias) for a plan with `fused` set (the key's epilogue), on the
    /// handle's stream; as [`Cudnn::forward`], `bias` a device f32 [K].
    pub fn forward_bias(
        &self,
        plan: &ConvPlan,
        x: u64,
        w: u64,
        bias: u64,
        y: u64,
        ws: u64,
    ) -> Result<()> {
        let (Some(bd), Some(ad)) = (plan.bias, plan.act) else {
            return Err(Error::invalid(
                "cudnn: forward_bias on a plan without an epilogue",
            ));
        };
        let (alpha1, alpha2) = (1f32, 0f32);
        // SAFETY: the caller passes live device buffers of the planned shapes; z is y
        // with alpha2 = 0 (allowed to alias)
        unsafe {
            sys::cudnnConvolutionBiasActivationForward(
                self.handle,
                &alpha1 as *const f32 as *const _,
                plan.x,
                x as *const _,
                plan.w,
                w as *const _,
                plan.conv,
                plan.algo,
                ws as *mut _,
                plan.workspace,
                &alpha2 as *const f32 as *const _,
                plan.y,
                y as *const _,
                bd,
                bias as *const _,
                ad,
                plan.y,
                y as *mut _,
            )
        }
        .result()
        .map_err(|e| cudnn_err("convolution with bias and activation", e))
    }

    /// y = conv(x, w) on the handle's stream; `ws` holds at least `plan.workspace` bytes
    /// (0 when none is needed). Pointers are device addresses of dense tensors of the
    /// key's shapes and data type.
    pub fn forward(&self, plan: &ConvPlan, x: u64, w: u64, y: u64, ws: u64) -> Result<()> {
        let (alpha, beta) = (1f32, 0f32);
        // SAFETY: the caller passes live device buffers of the planned shapes
        unsafe {
            result::convolution_forward(
                self.handle,
                &alpha as *const f32 as *const _,
                plan.x,
                x as *const _,
                plan.w,
                w as *const _,
                plan.conv,
                plan.algo,
                ws as *mut _,
                plan.workspace,
                &beta as *const f32 as *const _,
                plan.y,
                y as *mut _,
            )
        }
        .map_err(|e| cudnn_err("convolution forward", e))
    }
}
