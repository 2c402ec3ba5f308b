//! RMSNormalization, Group/InstanceNormalization, LpNormalization and
//! MeanVarianceNormalization (plans in `plan::norm2`).

use crate::cuda::stream::{args, Stream};
use crate::cuda::tensor::GpuTensor;
use crate::plan::{norm2, BLOCK};
use smelt_core::{DType, Result};

pub(super) fn rms_norm(
    s: &Stream,
    x: &GpuTensor,
    scale: &GpuTensor,
    axis: i64,
    eps: f32,
) -> Result<GpuTensor> {
    let (r, sp) = norm2::rms_norm(x.shape(), axis, scale.shape())?;
    let y = s.alloc(DType::F32, x.shape())?;
    let (xp, scp, yp) = (x.ptr(), scale.ptr(), y.ptr());
    let (rows, n) = (r.rows as i32, r.n as i32);
    s.launch(
        "rmsnorm_rows_f32",
        r.rows as u32,
        BLOCK,
        args![&xp, &scp, &yp, &rows, &n, &eps, &sp],
    )?;
    Ok(y)
}

/// GroupNormalization (`groups` Some) and InstanceNormalization.
pub(super) fn group_norm(
    s: &Stream,
    x: &GpuTensor,
    scale: &GpuTensor,
    bias: &GpuTensor,
    groups: Option<usize>,
    eps: f32,
) -> Result<GpuTensor> {
    let (rows, g, cpg, sp, per_ch) = norm2::group_norm(x.shape(), groups, scale.len(), bias.len())?;
    let y = s.alloc(DType::F32, x.shape())?;
    if cpg * sp == 0 {
        return Ok(y);
    }
    let (xp, scp, bp, yp) = (x.ptr(), scale.ptr(), bias.ptr(), y.ptr());
    let (r, g, cpg, sp, pc) = (rows as i32, g as i32, cpg as i32, sp as i32, per_ch as i32);
    s.launch(
        "groupnorm_rows_f32",
        rows as u32,
        BLOCK,
        args![&xp, &scp, &bp, &yp, &r, &g, &cpg, &sp, &pc, &eps],
    )?;
    Ok(y)
}

pub(super) fn lp_norm(s: &Stream, x: &GpuTensor, axis: i64, p: i64) -> Result<GpuTensor> {
    let (outer, n, inner) = norm2::lp_norm(x.shape(), axis)?;
    let y = s.alloc(DType::F32, x.shape())?;
    let (xp, yp) = (x.ptr(), y.ptr());
    let (o, nn, i, pp) = (outer as i32, n as i32, inner as i32, p as i32);
    let (g, b) = super::geom(outer * inner);
    s.launch("lpnorm_mid_f32", g, b, args![&xp, &yp, &o, &nn, &i, &pp])?;
    Ok(y)
}

pub(super) fn mvn(s: &Stream, x: &GpuTensor, axes: &[i64]) -> Result<GpuTensor> {
    let (groups, r, kept, red) = norm2::mvn(x.shape(), axes)?;
    let y = s.alloc(DType::F32, x.shape())?;
    if r == 0 {
        return Ok(y);
    }
    let (xp, yp) = (x.ptr(), y.ptr());
    let (g, rr) = (groups as i32, r as i32);
    s.launch(
        "mvn_f32",
        groups as u32,
        BLOCK,
        args![&xp, &yp, &g, &rr, &kept, &red],
    )?;
    Ok(y)
}
