//! f16 through the f32 kernels: the node's f16 device inputs are widened to f32, the f32
//! launch runs, and its f32 outputs are rounded back to f16 (for ops whose float inputs
//! and outputs all share one dtype: Attention, LinearAttention, CausalConvWithState). The
//! CPU ops compute in f64 or f32 and round once, so an output can differ from the CPU's in
//! its last f16 bit.

use super::{geom, Input, Ins};
use crate::cuda::stream::{args, Stream};
use crate::cuda::tensor::GpuTensor;
use crate::plan::i32_of;
use smelt_core::{DType, Result};

fn convert(s: &Stream, t: &GpuTensor, to: DType, kernel: &'static str) -> Result<GpuTensor> {
    let y = s.alloc(to, t.shape())?;
    let (xp, yp, n) = (t.ptr(), y.ptr(), i32_of(t.len(), "element count")?);
    let (g, b) = geom(t.len());
    s.launch(kernel, g, b, args![&xp, &yp, &n])?;
    Ok(y)
}

/// Runs `f` on `ins`, through f32 when a device input is f16 (then f32 outputs become f16).
pub(super) fn via_f32(
    s: &Stream,
    ins: &Ins,
    f: impl FnOnce(&Ins) -> Result<Vec<GpuTensor>>,
) -> Result<Vec<GpuTensor>> {
    let is_f16 = |i: &Option<Input>| matches!(i, Some(Input::Dev(t)) if t.dtype() == DType::F16);
    if !ins.0.iter().any(is_f16) {
        return f(ins);
    }
    let mut wide = Vec::with_capacity(ins.0.len());
    for i in ins.0 {
        wide.push(match i {
            Some(Input::Dev(t)) if t.dtype() == DType::F16 => {
                Some(Input::Dev(convert(s, t, DType::F32, "nn_f16_to_f32")?))
            }
            Some(Input::Dev(t)) => Some(Input::Dev(t.clone())),
            Some(Input::Host(t)) => Some(Input::Host(t.clone())),
            None => None,
        });
    }
    f(&Ins(&wide))?
        .into_iter()
        .map(|o| {
            if o.dtype() == DType::F32 {
                convert(s, &o, DType::F16, "nn_f32_to_f16")
            } else {
                Ok(o)
            }
        })
        .collect()
}
