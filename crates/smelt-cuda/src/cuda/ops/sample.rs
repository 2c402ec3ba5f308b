//! GridSample and AffineGrid (plans in `plan::grid_sample`).

use super::geom;
use crate::cuda::stream::{args, Stream};
use crate::cuda::tensor::GpuTensor;
use crate::plan::grid_sample::{self, GridSampleAttrs};
use smelt_core::{DType, Result};

pub(super) fn grid_sample(
    s: &Stream,
    a: &GridSampleAttrs,
    x: &GpuTensor,
    grid: &GpuTensor,
) -> Result<GpuTensor> {
    let (p, out) = grid_sample::plan(a, x.shape(), grid.shape())?;
    let y = s.alloc(DType::F32, &out)?;
    let (xp, gp, yp) = (x.ptr(), grid.ptr(), y.ptr());
    let (g, b) = geom(y.len());
    s.launch("grid_sample_f32", g, b, args![&xp, &gp, &yp, &p])?;
    Ok(y)
}

/// AffineGrid: the size input (1) read on the host.
pub(super) fn affine_grid(s: &Stream, align: bool, ins: &super::Ins) -> Result<GpuTensor> {
    let theta = ins.f32(0)?;
    let size = ins
        .host_ints(1)?
        .ok_or_else(|| smelt_core::Error::invalid("AffineGrid: size missing"))?;
    let (p, out) = grid_sample::affine_grid(theta.shape(), &size, align)?;
    let y = s.alloc(DType::F32, &out)?;
    let (tp, yp) = (theta.ptr(), y.ptr());
    let (g, b) = geom(y.len());
    s.launch("affine_grid_f32", g, b, args![&tp, &yp, &p])?;
    Ok(y)
}
