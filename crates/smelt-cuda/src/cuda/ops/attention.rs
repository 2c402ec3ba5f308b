//! Attention launches: present K/V (past prepended, 3-D inputs split into heads), the
//! masked scaled scores, a row softmax over the keys, then P·V (plan in `plan::attention`).

use super::{geom, Ins};
use crate::cuda::stream::{args, Stream};
use crate::cuda::tensor::GpuTensor;
use crate::plan::attention::{self, AttentionAttrs};
use crate::plan::BLOCK;
use smelt_core::{DType, Error, Result};

/// Runs Attention; returns Y, present_key, present_value and qk_matmul_output, cut to
/// `n_outputs`.
pub(super) fn attention(
    s: &Stream,
    a: &AttentionAttrs,
    ins: &Ins,
    n_outputs: usize,
) -> Result<Vec<GpuTensor>> {
    let (q, k, v) = (ins.f32(0)?, ins.f32(1)?, ins.f32(2)?);
    let mask = match ins.0.get(3) {
        None | Some(None) => None,
        _ => {
            let m = ins.dev(3)?;
            if !matches!(m.dtype(), DType::F32 | DType::Bool) {
                return Err(Error::unsupported(
                    "Attention",
                    format!("a {} attn_mask on the GPU", m.dtype()),
                ));
            }
            Some(m)
        }
    };
    let (pk, pv) = (ins.f32_opt(4)?, ins.f32_opt(5)?);
    let nonpad = match ins.0.get(6) {
        None | Some(None) => None,
        _ => {
            let t = ins.dev(6)?;
            if t.dtype() != DType::I64 {
                return Err(Error::unsupported(
                    "Attention",
                    format!("a {} nonpad_kv_seqlen on the GPU", t.dtype()),
                ));
            }
            Some(t)
        }
    };
    let pl = attention::plan(
        a,
        q.shape(),
        k.shape(),
        v.shape(),
        mask.map(|m| (m.shape(), m.dtype() == DType::Bool)),
        pk.map(|t| t.shape()),
        pv.map(|t| t.shape()),
        nonpad.map(|t| t.len()),
    )?;
    let p = pl.p;
    let present = |past: Option<&GpuTensor>, cur: &GpuTensor, shape: &[usize], dd: i32| {
        let out = s.alloc(DType::F32, shape)?;
        let (pp, cp, op) = (past.map_or(0u64, |t| t.ptr()), cur.ptr(), out.ptr());
        let (g, b) = geom(out.len());
        s.launch("attn_present_f32", g, b, args![&pp, &cp, &op, &p, &dd])?;
        Ok::<GpuTensor, Error>(out)
    };
    let kk = present(pk, k, &pl.present_k, p.d)?;
    let vv = present(pv, v, &pl.present_v, p.dv)?;
    let scores = s.alloc(DType::F32, &pl.qk)?;
    let qk = if n_outputs > 3 {
        Some(s.alloc(DType::F32, &pl.qk)?)
    } else {
        None
    };
    let (qp, kp, mp, np, sp, qkp) = (
        q.ptr(),
        kk.ptr(),
        mask.map_or(0u64, |m| m.ptr()),
        nonpad.map_or(0u64, |t| t.ptr()),
        scores.ptr(),
        qk.as_ref().map_or(0u64, |t| t.ptr()),
    );
    let (g, b) = geom(scores.len());
    s.launch(
        "attn_scores_f32",
        g,
        b,
        args![&qp, &kp, &mp, &np, &sp, &qkp, &p],
    )?;
    let rows = (p.b * p.hq * p.s) as u32;
    let soft_qk = if p.qk_mode == 3 { qkp } else { 0u64 };
    let (nrows, n) = (rows as i32, p.t);
    s.launch(
        "attn_softmax_f32",
        rows,
        BLOCK,
        args![&sp, &soft_qk, &nrows, &n],
    )?;
    let y = s.alloc(DType::F32, &pl.y)?;
    let (vp, yp) = (vv.ptr(), y.ptr());
    let (g, b) = geom(y.len());
    s.launch("attn_pv_f32", g, b, args![&sp, &vp, &yp, &p])?;
    let mut out = vec![y, kk, vv];
    if let Some(qk) = qk {
        out.push(qk);
    }
    out.truncate(n_outputs.max(1));
    Ok(out)
}
