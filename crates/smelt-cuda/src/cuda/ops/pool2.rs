//! LpPool (1-d and 2-d) through `plan::pool`'s window plan, and Col2Im (`plan::col2im`).

use super::geom;
use crate::cuda::stream::{args, Stream};
use crate::cuda::tensor::GpuTensor;
use crate::plan::col2im::{self, Col2ImAttrs};
use crate::plan::pool::{self, PoolAttrs};
use smelt_core::{DType, Result};

pub(super) fn lp_pool(s: &Stream, a: &PoolAttrs, p: f64, x: &GpuTensor) -> Result<GpuTensor> {
    let (pp, out) = pool::plan(a, x.shape())?;
    let y = s.alloc(DType::F32, &out)?;
    let (xp, yp) = (x.ptr(), y.ptr());
    let (g, b) = geom(y.len());
    s.launch("lppool_f32", g, b, args![&xp, &yp, &pp, &p])?;
    Ok(y)
}

/// Col2Im: image_shape and block_shape (inputs 1, 2) read on the host.
pub(super) fn col2im(s: &Stream, a: &Col2ImAttrs, ins: &super::Ins) -> Result<GpuTensor> {
    let x = ins.f32(0)?;
    let shape = |i: usize| {
        ins.host_ints(i)?
            .ok_or_else(|| smelt_core::Error::invalid(format!("Col2Im: input {i} missing")))
    };
    let (p, out) = col2im::plan(a, x.shape(), &shape(1)?, &shape(2)?)?;
    let y = s.alloc(DType::F32, &out)?;
    let (xp, yp) = (x.ptr(), y.ptr());
    let (g, b) = geom(y.len());
    s.launch("col2im_f32", g, b, args![&xp, &yp, &p])?;
    Ok(y)
}
