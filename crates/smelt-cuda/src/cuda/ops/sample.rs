//! GridSample and AffineGrid (plans in `plan::grid_sample`), RoiAlign (`plan::roi_align`).

use super::geom;
use crate::cuda::stream::{args, Stream};
use crate::cuda::tensor::GpuTensor;
use crate::plan::grid_sample::{self, GridSampleAttrs};
use crate::plan::roi_align::{self, RoiAlignAttrs};
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

/// RoiAlign: batch_indices (input 2) read on the host.
pub(super) fn roi_align(s: &Stream, a: &RoiAlignAttrs, ins: &super::Ins) -> Result<GpuTensor> {
    let (x, rois) = (ins.f32(0)?, ins.f32(1)?);
    let batch = ins
        .host_ints(2)?
        .ok_or_else(|| smelt_core::Error::invalid("RoiAlign: batch_indices missing"))?;
    let (p, bi, out) = roi_align::plan(a, x.shape(), rois.shape(), &batch)?;
    let bi = s.upload(&smelt_core::Tensor::from_vec(vec![bi.len()], bi)?)?;
    let y = s.alloc(DType::F32, &out)?;
    let (xp, rp, bp, yp) = (x.ptr(), rois.ptr(), bi.ptr(), y.ptr());
    let (g, b) = geom(y.len());
    s.launch("roi_align_f32", g, b, args![&xp, &rp, &bp, &yp, &p])?;
    Ok(y)
}
