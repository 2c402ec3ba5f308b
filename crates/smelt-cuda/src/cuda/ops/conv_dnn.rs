//! Conv through cuDNN (1 to 3 spatial dims, any groups, symmetric pads) where the stream
//! has a cuDNN handle; `Ok(None)` hands the node to the im2col + GEMM / direct kernels.
//! Precision: tf32 (tensor ops on f32 data) for every conv, fp32 (FMA math) for 3-d ones
//! only. fp16 / bf16:
//! - a 2-d conv whose output the store plan keeps in 16 bits (its readers are convs,
//!   element-wise groups and GEMMs, see `exec/lowp.rs`) runs with 16-bit x, w and y from
//!   [`DATA_16BIT_MACS`] multiply-adds (`conv_16bit`): a chain of such convs and the groups
//!   between them never converts (ResNet-50 at batch 32: 2.69 ms, 4.12 ms as tf32 on f32
//!   data, H200). Converting around each conv instead measured no faster (4.76 ms), hence
//!   only for chains;
//! - other large convs (at least [`TENSOR_OP_MACS`] multiply-adds, and every 3-d one) run
//!   as tf32, whose operands keep fp16's 10-bit mantissa while x and y stay f32;
//! - the rest use im2col + GEMM on 16-bit operands (faster for small convs).
//!
//! A 16-bit x reaching an f32 path is widened first. `SMELT_CONV_16BIT=gemm` keeps every
//! 2-d fp16 / bf16 conv on im2col + GEMM. The bias and a fused ReLU: in cuDNN's fused call
//! where the plan says so (f32 data, large outputs, by timing; see `crate::cuda::cudnn`),
//! else a pass over y (`channel_bias_f32`, or `channel_bias_16x8` / `channel_bias_16` on
//! 16-bit y, the sum in f32 rounded once).

use super::geom;
use super::linalg::operand;
use crate::cuda::cudnn::{ConvData, ConvEpilogue, ConvKey, ConvMath};
use crate::cuda::stream::{args, Stream};
use crate::cuda::tensor::GpuTensor;
use crate::plan::conv::ConvAttrs;
use crate::plan::i32_of;
use crate::precision::Precision;
use smelt_core::{DType, Error, Result};
use smelt_ops::nn::spatial::Geometry;

pub(super) fn conv(
    s: &Stream,
    a: &ConvAttrs,
    x: &GpuTensor,
    w: &GpuTensor,
    bias: Option<&GpuTensor>,
    relu: bool,
    out16: Option<DType>,
) -> Result<Option<GpuTensor>> {
    let Some(dnn) = s.cudnn() else {
        return Ok(None);
    };
    let (xs, ws) = (x.shape(), w.shape());
    if !(3..=5).contains(&xs.len()) || ws.len() != xs.len() {
        return Ok(None);
    }
    let sp = &xs[2..];
    let g = a
        .window
        .resolve(sp, &a.window.kernel(sp.len(), Some(&ws[2..]))?)?;
    let (n, c, m) = (xs[0], xs[1], ws[0]);
    if c % a.groups != 0 || m % a.groups != 0 || ws[1] * a.groups != c {
        return Err(Error::shape(format!(
            "Conv: input channels {c}, weights {ws:?} and group {} disagree",
            a.groups
        )));
    }
    let mut out = vec![n, m];
    out.extend(&g.output);
    // fp32: only what im2col + SGEMM does not run (3 spatial dims); cuDNN's FMA-only
    // algorithms measured 2-6x slower than it on ResNet-50 (H200, cuDNN 9.14)
    let macs = (n * m * g.output.iter().product::<usize>()) as f64
        * (ws[1..].iter().product::<usize>()) as f64;
    if let Some(d) = out16.filter(|_| xs.len() == 4 && macs >= DATA_16BIT_MACS && !gemm_for_16bit())
    {
        if let Some(y) = conv_16bit(s, dnn, a, x, w, bias, relu, &g, &out, d)? {
            return Ok(Some(y));
        }
    }
    // the f32 paths below take x widened
    let x = &super::as_f32(s, x)?;
    let (data, math) = match s.precision {
        Precision::F32 if xs.len() < 5 => return Ok(None),
        Precision::F32 => (ConvData::F32, ConvMath::Fma),
        Precision::Tf32 => (ConvData::F32, ConvMath::TensorOp),
        Precision::F16 | Precision::Bf16
            if xs.len() < 5 && (gemm_for_16bit() || macs < TENSOR_OP_MACS) =>
        {
            return Ok(None)
        }
        Precision::F16 | Precision::Bf16 => (ConvData::F32, ConvMath::TensorOp),
    };
    let Some(mut key) = key_for(xs, ws, &out, &g, a.groups, data, math) else {
        return Ok(None);
    };
    key.epilogue = match (bias.is_some(), relu) {
        (false, _) => ConvEpilogue::None,
        (true, false) => ConvEpilogue::Bias,
        (true, true) => ConvEpilogue::BiasRelu,
    };
    let Ok(plan) = dnn.plan(&key) else {
        return Ok(None);
    };
    i32_of(out.iter().product(), "Conv output size")?;
    if out.contains(&0) {
        return Ok(Some(s.alloc(DType::F32, &out)?));
    }
    let work = if plan.workspace > 0 {
        Some(s.alloc(DType::U8, &[plan.workspace])?)
    } else {
        None
    };
    let wsp = work.as_ref().map_or(0u64, |t| t.ptr());
    check_bias(bias, m)?;
    let y = s.alloc(DType::F32, &out)?;
    let yp = y.ptr();
    if let (true, Some(b)) = (plan.fused, bias) {
        let bp = b.ptr();
        s.traced(
            || {
                format!(
                    "cudnn conv+{:?} {data:?} {math:?} {xs:?} * {ws:?}",
                    key.epilogue
                )
            },
            || dnn.forward_bias(&plan, x.ptr(), w.ptr(), bp, yp, wsp),
        )?;
        return Ok(Some(y));
    }
    s.traced(
        || format!("cudnn conv {data:?} {math:?} {xs:?} * {ws:?}"),
        || dnn.forward(&plan, x.ptr(), w.ptr(), yp, wsp),
    )?;
    if bias.is_some() || relu {
        let (inner, total) = (
            i32_of(out[2..].iter().product(), "pixels")?,
            i32_of(y.len(), "Conv output size")?,
        );
        let (bp, cm, r) = (bias.map_or(0u64, |b| b.ptr()), m as i32, relu as i32);
        let (g, b) = geom(y.len());
        s.launch(
            "channel_bias_f32",
            g,
            b,
            args![&yp, &bp, &cm, &inner, &total, &r],
        )?;
    }
    Ok(Some(y))
}

/// A conv bias must be f32 with one value per output channel (`m`).
fn check_bias(bias: Option<&GpuTensor>, m: usize) -> Result<()> {
    match bias.filter(|b| b.dtype() != DType::F32 || b.len() != m) {
        Some(b) => Err(Error::shape(format!(
            "Conv: bias of {} {:?} for {m} output channels",
            b.dtype(),
            b.shape()
        ))),
        None => Ok(()),
    }
}

/// The cuDNN key of a conv of `x` by `w` giving `out` over window `g`; `None` where cuDNN
/// does not take it (asymmetric pads).
fn key_for(
    x: &[usize],
    w: &[usize],
    out: &[usize],
    g: &Geometry,
    groups: usize,
    data: ConvData,
    math: ConvMath,
) -> Option<ConvKey> {
    ConvKey::new(
        x,
        w,
        out,
        &g.pads_begin,
        &g.pads_end,
        &g.strides,
        &g.dilations,
        groups,
        data,
        math,
    )
}

/// The multiply-adds from which a 2-d fp16 / bf16 conv whose output is stored in 16 bits
/// (see `exec/lowp.rs`) runs on cuDNN with 16-bit x, w and y: every conv of ResNet-50 at
/// batch 32 (0.41 to 3.7 G), none at batch 1 (up to 0.12 G).
pub(super) const DATA_16BIT_MACS: f64 = (1u64 << 28) as f64;

/// y = act(conv(x, w) + bias) in 16-bit type `d` on cuDNN (x converted when f32, w the
/// stream's cached 16-bit copy, f32 accumulation), the bias and ReLU by a pass over y in
/// f32 rounded once; `Ok(None)` where cuDNN has no plan for it.
#[allow(clippy::too_many_arguments)]
fn conv_16bit(
    s: &Stream,
    dnn: &crate::cuda::cudnn::Cudnn,
    a: &ConvAttrs,
    x: &GpuTensor,
    w: &GpuTensor,
    bias: Option<&GpuTensor>,
    relu: bool,
    g: &Geometry,
    out: &[usize],
    d: DType,
) -> Result<Option<GpuTensor>> {
    let data = if d == DType::BF16 {
        ConvData::Bf16
    } else {
        ConvData::F16
    };
    let Some(key) = key_for(
        x.shape(),
        w.shape(),
        out,
        g,
        a.groups,
        data,
        ConvMath::TensorOp,
    ) else {
        return Ok(None);
    };
    let Ok(plan) = dnn.plan(&key) else {
        return Ok(None);
    };
    let m = out[1];
    check_bias(bias, m)?;
    let y = s.alloc(d, out)?;
    if y.is_empty() {
        return Ok(Some(y));
    }
    i32_of(y.len(), "Conv output size")?;
    let (x16, w16) = (operand(s, x)?, operand(s, w)?);
    let work = if plan.workspace > 0 {
        Some(s.alloc(DType::U8, &[plan.workspace])?)
    } else {
        None
    };
    let (wsp, yp) = (work.as_ref().map_or(0u64, |t| t.ptr()), y.ptr());
    s.traced(
        || format!("cudnn conv {data:?} {:?} * {:?}", x.shape(), w.shape()),
        || dnn.forward(&plan, x16.ptr, w16.ptr, yp, wsp),
    )?;
    if bias.is_some() || relu {
        let (inner, total) = (
            i32_of(out[2..].iter().product(), "pixels")?,
            i32_of(y.len(), "Conv output size")?,
        );
        let (bp, cm, r, bf) = (
            bias.map_or(0u64, |b| b.ptr()),
            m as i32,
            relu as i32,
            (d == DType::BF16) as i32,
        );
        if y.len() % 8 == 0 && yp % 16 == 0 {
            let n8 = total / 8;
            let (gr, bl) = geom(y.len() / 8);
            s.launch(
                "channel_bias_16x8",
                gr,
                bl,
                args![&yp, &bp, &cm, &inner, &n8, &r, &bf],
            )?;
        } else {
            let (gr, bl) = geom(y.len());
            s.launch(
                "channel_bias_16",
                gr,
                bl,
                args![&yp, &bp, &cm, &inner, &total, &r, &bf],
            )?;
        }
    }
    Ok(Some(y))
}

/// The multiply-adds from which a 2-d fp16 / bf16 conv runs on cuDNN as tf32: ResNet-50's
/// convs at batch 32 (0.8 to 3.7 G each) are faster there, at batch 1 (up to 0.12 G) on
/// im2col + GEMM (H200: 0.67 ms against 0.73 ms for the model).
pub(super) const TENSOR_OP_MACS: f64 = (1u64 << 29) as f64;

/// `SMELT_CONV_16BIT=gemm`: fp16 / bf16 2-d convs on im2col + GEMM whatever their size.
fn gemm_for_16bit() -> bool {
    static GEMM: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *GEMM.get_or_init(|| smelt_core::settings::var("SMELT_CONV_16BIT").is_some_and(|v| v == "gemm"))
}
