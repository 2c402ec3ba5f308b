//! LinearAttention, CausalConvWithState (plans in `plan::sequence`) and RotaryEmbedding
//! (`plan::rotary`).

use super::{geom, Ins};
use crate::cuda::stream::{args, Stream};
use crate::cuda::tensor::GpuTensor;
use crate::plan::rotary::{self, RotaryAttrs};
use crate::plan::sequence::{self, LinearAttentionAttrs};
use smelt_core::{DType, Result, Tensor};

/// Returns Y and present_state.
pub(super) fn linear_attention(
    s: &Stream,
    a: &LinearAttentionAttrs,
    ins: &Ins,
) -> Result<Vec<GpuTensor>> {
    let (q, k, v) = (ins.f32(0)?, ins.f32(1)?, ins.f32(2)?);
    let (past, decay, beta) = (ins.f32_opt(3)?, ins.f32_opt(4)?, ins.f32_opt(5)?);
    let (p, ys, ss) = sequence::linear_attention(
        a,
        q.shape(),
        k.shape(),
        v.shape(),
        past.map(|t| t.shape()),
        decay.map(|t| t.shape()),
        beta.map(|t| t.shape()),
    )?;
    let y = s.alloc(DType::F32, &ys)?;
    let st = s.alloc(DType::F32, &ss)?;
    let ptr = |t: Option<&GpuTensor>| t.map_or(0u64, |t| t.ptr());
    let (qp, kp, vp, pp, dp, bp, yp, sp) = (
        q.ptr(),
        k.ptr(),
        v.ptr(),
        ptr(past),
        ptr(decay),
        ptr(beta),
        y.ptr(),
        st.ptr(),
    );
    let (g, b) = geom(p.b as usize * p.hk as usize * p.dv as usize);
    s.launch(
        "linear_attn_f32",
        g,
        b,
        args![&qp, &kp, &vp, &pp, &dp, &bp, &yp, &sp, &p],
    )?;
    Ok(vec![y, st])
}

/// Returns the output and present_state.
pub(super) fn causal_conv(s: &Stream, ins: &Ins, silu: bool) -> Result<Vec<GpuTensor>> {
    let (x, w) = (ins.f32(0)?, ins.f32(1)?);
    let (bias, past) = (ins.f32_opt(2)?, ins.f32_opt(3)?);
    let [b, c, l, k] = sequence::causal_conv(
        x.shape(),
        w.shape(),
        bias.map(|t| t.shape()),
        past.map(|t| t.shape()),
    )?;
    let y = s.alloc(DType::F32, &[b, c, l])?;
    let st = s.alloc(DType::F32, &[b, c, k - 1])?;
    let ptr = |t: Option<&GpuTensor>| t.map_or(0u64, |t| t.ptr());
    let (xp, wp, bp, pp, yp, sp) = (x.ptr(), w.ptr(), ptr(bias), ptr(past), y.ptr(), st.ptr());
    let (bb, cc, ll, kk, si) = (b as i32, c as i32, l as i32, k as i32, silu as i32);
    let (g, bl) = geom(b * c * (l + k - 1));
    s.launch(
        "causal_conv_f32",
        g,
        bl,
        args![&xp, &wp, &bp, &pp, &yp, &sp, &bb, &cc, &ll, &kk, &si],
    )?;
    Ok(vec![y, st])
}

/// RotaryEmbedding: position_ids (input 3) read on the host.
pub(super) fn rotary(s: &Stream, a: &RotaryAttrs, ins: &Ins) -> Result<GpuTensor> {
    let (x, cos, sin) = (ins.f32(0)?, ins.f32(1)?, ins.f32(2)?);
    let pos = ins.host_ints(3)?;
    let (p, rows) = rotary::plan(a, x.shape(), cos.shape(), sin.shape(), pos.as_deref())?;
    let rows = match rows {
        Some(r) => Some(s.upload(&Tensor::from_vec(vec![r.len()], r)?)?),
        None => None,
    };
    let y = s.alloc(DType::F32, x.shape())?;
    let (xp, cp, sp, rp, yp) = (
        x.ptr(),
        cos.ptr(),
        sin.ptr(),
        rows.as_ref().map_or(0u64, |t| t.ptr()),
        y.ptr(),
    );
    let (g, b) = geom(y.len());
    s.launch("rotary_f32", g, b, args![&xp, &cp, &sp, &rp, &yp, &p])?;
    Ok(y)
}
