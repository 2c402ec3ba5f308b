//! RMSNormalization, Group/InstanceNormalization, LpNormalization and
//! MeanVarianceNormalization (plans in `plan::axis_norm`), BatchNormalization in training mode.

use crate::cuda::stream::{args, Stream};
use crate::cuda::tensor::GpuTensor;
use crate::plan::{axis_norm, BLOCK};
use smelt_core::{DType, Result};

pub(super) fn rms_norm(
    s: &Stream,
    x: &GpuTensor,
    scale: &GpuTensor,
    axis: i64,
    eps: f32,
) -> Result<GpuTensor> {
    let (r, sp) = axis_norm::rms_norm(x.shape(), axis, scale.shape())?;
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
    let (rows, g, cpg, sp, per_ch) =
        axis_norm::group_norm(x.shape(), groups, scale.len(), bias.len())?;
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
    let (outer, n, inner) = axis_norm::lp_norm(x.shape(), axis)?;
    let y = s.alloc(DType::F32, x.shape())?;
    let (xp, yp) = (x.ptr(), y.ptr());
    let (o, nn, i, pp) = (outer as i32, n as i32, inner as i32, p as i32);
    let (g, b) = super::geom(outer * inner);
    s.launch("lpnorm_mid_f32", g, b, args![&xp, &yp, &o, &nn, &i, &pp])?;
    Ok(y)
}

pub(super) fn mvn(s: &Stream, x: &GpuTensor, axes: &[i64]) -> Result<GpuTensor> {
    let (groups, r, kept, red) = axis_norm::mvn(x.shape(), axes)?;
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

/// BatchNormalization in training mode: Y, running mean / variance, then the batch mean /
/// variance, cut to `n_outputs`. x is [N, C, ...] (rank >= 2); the parameters hold C values.
pub(super) fn batch_norm_train(
    s: &Stream,
    ins: &super::Ins,
    eps: f32,
    momentum: f32,
    n_outputs: usize,
) -> Result<Vec<GpuTensor>> {
    let x = ins.f32(0)?;
    let ps = [ins.f32(1)?, ins.f32(2)?, ins.f32(3)?, ins.f32(4)?];
    let sh = x.shape();
    if sh.len() < 2 || ps.iter().any(|p| p.len() != sh[1]) {
        return Err(smelt_core::Error::unsupported(
            "BatchNormalization",
            format!("training mode on X {sh:?} with these parameters on the GPU"),
        ));
    }
    let (nb, c) = (sh[0], sh[1]);
    let sp: usize = sh[2..].iter().product();
    crate::plan::i32_of(x.len(), "element count")?;
    let y = s.alloc(DType::F32, sh)?;
    let stats: Vec<GpuTensor> = (1..n_outputs.clamp(1, 5))
        .map(|_| s.alloc(DType::F32, &[c]))
        .collect::<Result<_>>()?;
    let st = |i: usize| stats.get(i).map_or(0u64, |t| t.ptr());
    let (xp, yp) = (x.ptr(), y.ptr());
    let (sc, b, m, v) = (ps[0].ptr(), ps[1].ptr(), ps[2].ptr(), ps[3].ptr());
    let (rm, rv, bm, bv) = (st(0), st(1), st(2), st(3));
    let (nb, ci, spi) = (nb as i32, c as i32, sp as i32);
    if c > 0 {
        s.launch(
            "batchnorm_train_f32",
            c as u32,
            BLOCK,
            args![&xp, &sc, &b, &m, &v, &yp, &rm, &rv, &bm, &bv, &nb, &ci, &spi, &eps, &momentum],
        )?;
    }
    let mut out = vec![y];
    out.extend(stats);
    Ok(out)
}
