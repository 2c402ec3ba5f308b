//! Launches of each [`GpuOp`]: the plan comes from `crate::plan`, this side only allocates
//! outputs and launches kernels (or cuBLAS) on the stream.
//!
//! Contract: `run` takes the node's inputs with device tensors where the op's role is
//! `Data` and host tensors where it is `Host`; it returns the node's outputs on the device.
//! An input the kernels do not take (dtype, a shape case) gives `Error::UnsupportedOp`,
//! which the executor answers by running the node on the CPU.

mod attention;
mod axis_norm;
mod col2im;
mod conv_dnn;
mod elementwise;
pub(crate) mod fused;
pub(crate) mod fused_attention;
pub(crate) mod fused_attention_tc;
pub(crate) mod fused_softmax;
mod half;
mod image;
mod index;
mod layout;
mod linalg;
mod loss;
mod lp_pool;
mod misc;
mod nn;
mod pool;
mod quant;
mod reduce;
mod sample;
mod select;
mod sequence;
mod signal;
mod train;

use super::stream::Stream;
use super::tensor::GpuTensor;
use crate::plan::elementwise::BinaryOp;
use crate::plan::GpuOp;
pub use nn::NormOut;
use smelt_core::{DType, Error, Result, Tensor};

/// One input of a node as the launch sees it.
pub enum Input {
    Dev(GpuTensor),
    Host(Tensor),
}

pub(crate) struct Ins<'a>(pub &'a [Option<Input>]);

impl Ins<'_> {
    fn dev(&self, i: usize) -> Result<&GpuTensor> {
        match self.0.get(i) {
            Some(Some(Input::Dev(t))) => Ok(t),
            Some(Some(Input::Host(_))) => Err(Error::invalid(format!(
                "input {i} is on the host, the kernel reads it on the device"
            ))),
            _ => Err(Error::invalid(format!("input {i} missing"))),
        }
    }
    /// A device input that must be f32 (anything else: unsupported, run on the CPU).
    fn f32(&self, i: usize) -> Result<&GpuTensor> {
        let t = self.dev(i)?;
        if t.dtype() != DType::F32 {
            return Err(Error::unsupported(
                "cuda",
                format!("input {i} is {}, the kernel takes f32", t.dtype()),
            ));
        }
        Ok(t)
    }
    /// A GEMM or LayerNormalization operand: f32, or already in the stream's 16-bit
    /// operand type (a value its producer stored in 16 bits, see `exec/lowp.rs`).
    fn operand(&self, s: &Stream, i: usize) -> Result<&GpuTensor> {
        match self.dev(i)? {
            t if Some(t.dtype()) == s.precision.storage_16bit() => Ok(t),
            _ => self.f32(i),
        }
    }
    fn f32_opt(&self, i: usize) -> Result<Option<&GpuTensor>> {
        match self.0.get(i) {
            None | Some(None) => Ok(None),
            _ => self.f32(i).map(Some),
        }
    }
    fn host(&self, i: usize) -> Result<Option<&Tensor>> {
        match self.0.get(i) {
            None | Some(None) => Ok(None),
            Some(Some(Input::Host(t))) => Ok(Some(t)),
            Some(Some(Input::Dev(_))) => Err(Error::invalid(format!(
                "input {i} is on the device, the op reads it on the host"
            ))),
        }
    }
    fn host_ints(&self, i: usize) -> Result<Option<Vec<i64>>> {
        self.host(i)?.map(|t| t.to_i64_vec()).transpose()
    }
}

/// Runs `op` on `ins` writing its f32 result in the stream's 16-bit operand type, for
/// 16-bit readers (see `exec/lowp.rs`): a Transpose always, a Conv where it runs on
/// cuDNN with 16-bit data (else its output is f32); `None` where `op` does not write 16
/// bits or the input is not f32 (then `run` runs it).
pub fn run_16bit(s: &Stream, op: &GpuOp, ins: &[Option<Input>]) -> Result<Option<GpuTensor>> {
    let ins = Ins(ins);
    let (Some(d), Ok(x)) = (s.precision.storage_16bit(), ins.dev(0)) else {
        return Ok(None);
    };
    match op {
        GpuOp::Transpose { perm } if x.dtype() == DType::F32 => {
            layout::transpose_16bit(s, x, perm.as_deref(), d).map(Some)
        }
        // y in 16 bits where it runs on cuDNN with 16-bit data, else f32
        GpuOp::Conv(c) => nn::conv(
            s,
            c,
            ins.operand(s, 0)?,
            ins.f32(1)?,
            ins.f32_opt(2)?,
            Some(d),
        )
        .map(Some),
        _ => Ok(None),
    }
}

/// A LayerNormalization writing `out` (see `exec/lowp.rs`: a 16-bit copy beside its f32
/// output, or 16 bits only) at fp16 / bf16; `None` for other ops or precisions.
pub fn run_norm_16bit(
    s: &Stream,
    op: &GpuOp,
    ins: &[Option<Input>],
    n_outputs: usize,
    out: NormOut,
) -> Result<Option<Vec<GpuTensor>>> {
    let ins = Ins(ins);
    match (op, s.precision.storage_16bit()) {
        (GpuOp::LayerNorm { axis, eps }, Some(_)) => nn::layer_norm(
            s,
            ins.operand(s, 0)?,
            ins.f32(1)?,
            ins.f32_opt(2)?,
            *axis,
            *eps,
            n_outputs,
            out,
        )
        .map(Some),
        _ => Ok(None),
    }
}

/// MatMul(a, b) * alpha + bias + residual (scalar Muls, a bias Add and a residual Add
/// folded into the GEMM, see `plan::fold`); a and b f32 or in the stream's 16-bit operand
/// type; the output f32, or 16-bit `out16` where the GEMM can write it (see
/// `linalg::matmul`).
pub fn matmul_folded(
    s: &Stream,
    a: GpuTensor,
    b: GpuTensor,
    alpha: f32,
    bias: Option<GpuTensor>,
    residual: Option<GpuTensor>,
    out16: Option<DType>,
) -> Result<GpuTensor> {
    let ins = [Some(Input::Dev(a)), Some(Input::Dev(b))];
    let ins = Ins(&ins);
    linalg::matmul(
        s,
        ins.operand(s, 0)?,
        ins.operand(s, 1)?,
        alpha,
        bias.as_ref(),
        residual.as_ref(),
        out16,
    )
}

/// `x` (a 16-bit float tensor) widened to f32.
pub fn widen(s: &Stream, x: &GpuTensor) -> Result<GpuTensor> {
    elementwise::cast(s, x, DType::F32)
}

/// `x` for a kernel that takes f32: itself, or (stored in 16 bits, see `exec/lowp.rs`)
/// widened.
fn as_f32(s: &Stream, x: &GpuTensor) -> Result<GpuTensor> {
    if x.dtype() == DType::F32 {
        Ok(x.clone())
    } else {
        widen(s, x)
    }
}

/// Runs `op` on `ins`; returns its first `n_outputs` outputs (at least one).
pub fn run(
    s: &Stream,
    op: &GpuOp,
    ins: &[Option<Input>],
    n_outputs: usize,
) -> Result<Vec<GpuTensor>> {
    let ins = Ins(ins);
    // ops with several outputs
    match op {
        GpuOp::Split {
            axis,
            split,
            num_outputs,
        } => return layout::split(s, &ins, *axis, split.clone(), *num_outputs, n_outputs),
        GpuOp::Index(x) => return index::run(s, x, &ins, n_outputs),
        GpuOp::LayerNorm { axis, eps } => {
            return nn::layer_norm(
                s,
                ins.operand(s, 0)?,
                ins.f32(1)?,
                ins.f32_opt(2)?,
                *axis,
                *eps,
                n_outputs,
                NormOut::F32,
            )
        }
        GpuOp::Pool(p) => return pool::pool(s, p, ins.f32(0)?, n_outputs),
        GpuOp::Optimizer(rule) => return train::optimizer(s, rule, &ins, ins.0.len()),
        GpuOp::Attention(a) => {
            return half::via_f32(s, &ins, |i| attention::attention(s, a, i, n_outputs))
        }
        GpuOp::Loss(a) => return loss::loss(s, a, &ins, n_outputs),
        GpuOp::DynQuant => return quant::dynamic_quantize(s, ins.f32(0)?),
        GpuOp::BatchNormTrain { eps, momentum } => {
            return axis_norm::batch_norm_train(s, &ins, *eps, *momentum, n_outputs)
        }
        GpuOp::LinearAttention(a) => {
            return half::via_f32(s, &ins, |i| sequence::linear_attention(s, a, i))
        }
        GpuOp::CausalConv { silu } => {
            return half::via_f32(s, &ins, |i| sequence::causal_conv(s, i, *silu))
        }
        _ => {}
    }
    let y = match op {
        GpuOp::Unary { op, p, q } => elementwise::unary(s, ins.dev(0)?, *op, *p, *q)?,
        GpuOp::Clip {
            min,
            max,
            from_inputs,
        } => elementwise::clip(s, &ins, *min, *max, *from_inputs)?,
        GpuOp::Binary(BinaryOp::PRelu) => {
            let (x, slope) = (ins.dev(0)?, ins.dev(1)?);
            let (xs, ss) = (x.shape(), slope.shape());
            // a per-channel slope [C] of x [N, C, ...] (legacy exports) goes on the channel
            // axis, as the CPU op places it
            if ss.len() == 1 && xs.len() > 2 && ss[0] == xs[1] && ss[0] != xs[xs.len() - 1] {
                let mut shape = vec![1usize; xs.len() - 1];
                shape[0] = ss[0];
                elementwise::binary(s, x, &slope.view(shape)?, BinaryOp::PRelu)?
            } else {
                elementwise::binary(s, x, slope, BinaryOp::PRelu)?
            }
        }
        GpuOp::Binary(b) => elementwise::binary(s, ins.dev(0)?, ins.dev(1)?, *b)?,
        GpuOp::Compare(c) => elementwise::compare(s, ins.dev(0)?, ins.dev(1)?, *c)?,
        GpuOp::Where => elementwise::where_(s, &ins)?,
        GpuOp::Cast { to, saturate } => elementwise::cast_sat(s, ins.dev(0)?, *to, *saturate)?,
        GpuOp::CastLike { saturate } => {
            let like = ins
                .host(1)?
                .ok_or_else(|| Error::invalid("CastLike without a target"))?;
            elementwise::cast_sat(s, ins.dev(0)?, like.dtype(), *saturate)?
        }
        GpuOp::Variadic { op, mean } => elementwise::variadic(s, &ins, *op, *mean)?,
        GpuOp::IsClass { mode } => elementwise::is_class(s, ins.dev(0)?, *mode)?,
        GpuOp::MatMul => linalg::matmul(
            s,
            ins.operand(s, 0)?,
            ins.operand(s, 1)?,
            1.0,
            None,
            None,
            None,
        )?,
        GpuOp::Gemm(g) => linalg::gemm(
            s,
            g,
            ins.operand(s, 0)?,
            ins.operand(s, 1)?,
            ins.f32_opt(2)?,
        )?,
        GpuOp::Conv(c) => nn::conv(s, c, ins.operand(s, 0)?, ins.f32(1)?, ins.f32_opt(2)?, None)?,
        GpuOp::ConvTranspose(c) => {
            nn::conv_transpose(s, c, ins.f32(0)?, ins.f32(1)?, ins.f32_opt(2)?)?
        }
        GpuOp::MaxUnpool(w) => pool::max_unpool(s, w, &ins)?,
        GpuOp::Lrn {
            alpha,
            beta,
            bias,
            size,
        } => misc::lrn(s, ins.f32(0)?, *alpha, *beta, *bias, *size)?,
        GpuOp::ReverseSequence {
            batch_axis,
            time_axis,
        } => misc::reverse_sequence(s, &ins, *batch_axis, *time_axis)?,
        GpuOp::Det => misc::det(s, ins.f32(0)?)?,
        GpuOp::GlobalPool { max } => nn::global_pool(s, ins.f32(0)?, *max)?,
        GpuOp::BatchNorm { eps } => nn::batch_norm(s, &ins, *eps)?,
        GpuOp::Reduce(r) if ins.dev(0)?.dtype() != DType::F32 => {
            reduce::reduce_typed(s, r, ins.dev(0)?, ins.host_ints(1)?)?
        }
        GpuOp::Reduce(r) => nn::reduce(s, r, ins.f32(0)?, ins.host_ints(1)?)?,
        GpuOp::Transpose { perm } => layout::transpose(s, ins.dev(0)?, perm.as_deref())?,
        GpuOp::Concat { axis } => layout::concat(s, &ins, *axis)?,
        GpuOp::Slice { attrs } => layout::slice(s, &ins, attrs.as_ref())?,
        GpuOp::Gather { axis } => layout::gather(s, &ins, *axis)?,
        GpuOp::Expand => layout::expand(s, &ins)?,
        GpuOp::Tile => layout::tile(s, &ins)?,
        GpuOp::Trilu { upper } => layout::trilu(s, &ins, *upper)?,
        GpuOp::BitCast { to } => layout::bit_cast(s, ins.dev(0)?, *to)?,
        GpuOp::GatherElements { axis } => layout::gather_elements(s, &ins, *axis)?,
        GpuOp::Range => {
            let r = layout::range(s, &ins)?;
            let to = ins.host(0)?.map(|t| t.dtype()).unwrap_or(DType::F32);
            elementwise::cast(s, &r, to)?
        }
        GpuOp::ConstantOfShape { value } => layout::constant_of_shape(s, &ins, value)?,
        GpuOp::DepthSpace {
            block,
            to_space,
            crd,
        } => {
            let x = ins.dev(0)?;
            let (p, out) = crate::plan::layout::depth_space(x.shape(), *block, *to_space, *crd)?;
            layout::strided_copy(s, x, &p)?.view(out)?
        }
        GpuOp::Scan(a) => reduce::scan(s, a, &ins)?,
        GpuOp::Resize(a) => image::resize(s, a, &ins)?,
        GpuOp::ArgExt {
            max,
            axis,
            keepdims,
            last,
        } => nn::arg_ext(s, ins.f32(0)?, *max, *axis, *keepdims, *last)?,
        GpuOp::Pad { mode, attrs } => layout::pad(s, &ins, *mode, attrs.as_ref())?,
        GpuOp::GridSample(a) => sample::grid_sample(s, a, ins.f32(0)?, ins.f32(1)?)?,
        GpuOp::GroupNorm { groups, eps } => {
            axis_norm::group_norm(s, ins.f32(0)?, ins.f32(1)?, ins.f32(2)?, *groups, *eps)?
        }
        GpuOp::LpNorm { axis, p } => axis_norm::lp_norm(s, ins.f32(0)?, *axis, *p)?,
        GpuOp::Mvn { axes } => axis_norm::mvn(s, ins.f32(0)?, axes)?,
        GpuOp::Rotary(a) => sequence::rotary(s, a, &ins)?,
        GpuOp::LpPool { attrs, p } => lp_pool::lp_pool(s, attrs, *p, ins.f32(0)?)?,
        GpuOp::Dft(a) => signal::dft(s, a, &ins)?,
        GpuOp::Window(a) => signal::window(s, a, &ins)?,
        GpuOp::AffineGrid { align } => sample::affine_grid(s, *align, &ins)?,
        GpuOp::SoftmaxNd { axis, coerce, kind } => {
            nn::softmax_nd(s, ins.f32(0)?, *axis, *coerce, *kind)?
        }
        GpuOp::Col2Im(a) => col2im::col2im(s, a, &ins)?,
        GpuOp::Einsum { equation } => signal::einsum(s, equation, &ins)?,
        GpuOp::Quant(a) => quant::quantize(s, a, &ins)?,
        GpuOp::RoiAlign(a) => sample::roi_align(s, a, &ins)?,
        GpuOp::RmsNorm { axis, eps } => {
            axis_norm::rms_norm(s, ins.f32(0)?, ins.f32(1)?, *axis, *eps)?
        }
        GpuOp::Split { .. }
        | GpuOp::LayerNorm { .. }
        | GpuOp::Optimizer(_)
        | GpuOp::Pool(_)
        | GpuOp::Attention(_)
        | GpuOp::Loss(_)
        | GpuOp::LinearAttention(_)
        | GpuOp::CausalConv { .. }
        | GpuOp::DynQuant
        | GpuOp::BatchNormTrain { .. }
        | GpuOp::Index(_) => {
            unreachable!("handled above")
        }
        GpuOp::Constant | GpuOp::Shape { .. } | GpuOp::Size | GpuOp::View(_) => {
            return Err(Error::invalid(
                "location-free ops (Constant, Shape, Size, views) are run by the executor",
            ))
        }
    };
    Ok(vec![y])
}

/// The kernel `{prefix}_{suffix of d}` (e.g. `binary_i64`), or unsupported for a dtype
/// without kernels. Names are interned once (the launcher caches by `&'static str`).
fn kernel_for(prefix: &str, d: DType) -> Result<&'static str> {
    let sfx = crate::plan::elementwise::suffix(d)
        .ok_or_else(|| Error::unsupported("cuda", format!("{prefix} of {d}")))?;
    Ok(intern(format!("{prefix}_{sfx}")))
}

/// A `&'static str` of `name`, leaked once per distinct name (a fixed, small set).
fn intern(name: String) -> &'static str {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut set = NAMES.get_or_init(Default::default).lock().unwrap();
    if let Some(n) = set.get(name.as_str()) {
        return n;
    }
    let n: &'static str = Box::leak(name.into_boxed_str());
    set.insert(n);
    n
}

/// The element-width suffix (8, 16, 32, 64) of the data-movement kernels for `d`.
fn width(d: DType) -> Result<u32> {
    if !crate::cuda::tensor::device_dtype(d) {
        return Err(Error::unsupported("cuda", format!("copy of {d} elements")));
    }
    Ok(8 * d.size_of() as u32)
}

/// 1-d launch geometry of `n` elements.
fn geom(n: usize) -> (u32, u32) {
    (crate::plan::grid_1d(n), crate::plan::BLOCK)
}
