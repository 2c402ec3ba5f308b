//! Conv through cuDNN (1 to 3 spatial dims, any groups, symmetric pads) where the stream
//! has a cuDNN handle; `Ok(None)` hands the node to the im2col + GEMM / direct kernels.
//! Precision: tf32 (tensor ops on f32 data) for every conv, fp32 (FMA math) for 3-d ones
//! only; fp16 / bf16 convs use the GEMM path, whose outputs stay f32.

use super::geom;
use crate::cuda::cudnn::{ConvData, ConvKey, ConvMath};
use crate::cuda::stream::{args, Stream};
use crate::cuda::tensor::GpuTensor;
use crate::plan::conv::ConvAttrs;
use crate::plan::i32_of;
use crate::precision::Precision;
use smelt_core::{DType, Error, Result};

pub(super) fn conv(
    s: &Stream,
    a: &ConvAttrs,
    x: &GpuTensor,
    w: &GpuTensor,
    bias: Option<&GpuTensor>,
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
    // fp16 / bf16 stay on im2col + GEMM: cuDNN would round every conv output to 16 bits
    // (its x and y share a type), the GEMM path keeps outputs f32 (4x smaller errors on the
    // golden OCR detector)
    // fp32: only what im2col + SGEMM does not run (3 spatial dims); cuDNN's FMA-only
    // algorithms measured 2-6x slower than it on ResNet-50 (H200, cuDNN 9.14)
    let (data, math) = match s.precision {
        Precision::F32 if xs.len() < 5 => return Ok(None),
        Precision::F32 => (ConvData::F32, ConvMath::Fma),
        Precision::Tf32 => (ConvData::F32, ConvMath::TensorOp),
        Precision::F16 | Precision::Bf16 => return Ok(None),
    };
    let Some(key) = ConvKey::new(
        xs,
        ws,
        &out,
        &g.pads_begin,
        &g.pads_end,
        &g.strides,
        &g.dilations,
        a.groups,
        data,
        math,
    ) else {
        return Ok(None);
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
    let y = s.alloc(DType::F32, &out)?;
    dnn.forward(&plan, x.ptr(), w.ptr(), y.ptr(), wsp)?;
    if let Some(bias) = bias {
        if bias.dtype() != DType::F32 || bias.len() != m {
            return Err(Error::shape(format!(
                "Conv: bias of {} {:?} for {m} output channels",
                bias.dtype(),
                bias.shape()
            )));
        }
        let inner = i32_of(out[2..].iter().product(), "pixels")?;
        let (yp, bp, cm, total, relu) = (y.ptr(), bias.ptr(), m as i32, y.len() as i32, 0i32);
        let (g, b) = geom(y.len());
        s.launch(
            "channel_bias_f32",
            g,
            b,
            args![&yp, &bp, &cm, &inner, &total, &relu],
        )?;
    }
    Ok(Some(y))
}
