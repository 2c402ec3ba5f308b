//! Attention (opset 23/24): attributes, the dtype contract and the shape plan the kernels
//! take. The contract is the CPU op's (`smelt_ops::text::attention`):
//! - 4-D: Q (B, Hq, S, D), K (B, Hkv, L, D), V (B, Hkv, L, Dv); 3-D: Q (B, S, Hq*D),
//!   K (B, L, Hkv*D), V (B, L, Hkv*Dv) with the `q_num_heads` / `kv_num_heads` attributes.
//! - past_key (B, Hkv, P, D) / past_value (B, Hkv, P, Dv) are prepended: T = P + L.
//! - attn_mask: bool (true = attend) or f32 (added), rank 1..4, broadcast to (B, Hq, S, T);
//!   a last dim shorter than T masks the rest.
//! - nonpad_kv_seqlen (B,) i64: keys at or past it are masked.
//! - outputs Y (B, Hq, S, Dv) or (B, S, Hq*Dv), present_key (B, Hkv, T, D), present_value
//!   (B, Hkv, T, Dv), qk_matmul_output (B, Hq, S, T) per `qk_matmul_output_mode`.
//!
//! f32 (Q, K, V, past, a float mask), or f16 through the f32 kernels; the GPU accumulates in
//! f32 where the CPU uses f64.

use super::i32_of;
use smelt_core::{DType, Error, Result};
use smelt_ir::{Attributes, Graph, Node};

#[derive(Clone, Debug, PartialEq)]
pub struct AttentionAttrs {
    pub is_causal: bool,
    pub q_heads: Option<usize>,
    pub kv_heads: Option<usize>,
    pub qk_mode: i64,
    pub scale: Option<f32>,
    pub softcap: f32,
}

impl AttentionAttrs {
    pub fn parse(a: &Attributes) -> Result<AttentionAttrs> {
        let heads = |n: &str| -> Result<Option<usize>> {
            match a.int(n)? {
                None => Ok(None),
                Some(h) if h > 0 => Ok(Some(h as usize)),
                Some(h) => Err(Error::invalid(format!(
                    "Attention: {n} must be positive, got {h}"
                ))),
            }
        };
        let qk_mode = a.int_or("qk_matmul_output_mode", 0)?;
        if !(0..=3).contains(&qk_mode) {
            return Err(Error::invalid(format!(
                "Attention: qk_matmul_output_mode must be 0..3, got {qk_mode}"
            )));
        }
        Ok(AttentionAttrs {
            is_causal: a.int_or("is_causal", 0)? != 0,
            q_heads: heads("q_num_heads")?,
            kv_heads: heads("kv_num_heads")?,
            qk_mode,
            scale: a.float("scale")?,
            softcap: a.float_or("softcap", 0.0)?,
        })
    }
}

/// The dtype contract: Q, K, V, past_key, past_value f32 (or all f16); attn_mask bool or
/// Q's dtype; nonpad_kv_seqlen i64.
pub fn check_types(node: &Node, graph: &Graph) -> std::result::Result<(), String> {
    for (i, inp) in node.inputs.iter().enumerate() {
        let Some(id) = inp else { continue };
        let v = &graph.values[*id];
        let Some(d) = v.info.dtype else {
            return Err(format!("dtype of input '{}' unknown", v.name));
        };
        // the float inputs share Q's dtype, f32 or f16 (f16 runs through the f32 kernels)
        let qd = node.inputs[0].and_then(|q| graph.values[q].info.dtype);
        let float = matches!(qd, Some(DType::F32 | DType::F16)) && Some(d) == qd;
        let ok = match i {
            3 => d == DType::Bool || float,
            6 => d == DType::I64,
            _ => float,
        };
        if !ok {
            return Err(format!(
                "Attention input {i} '{}' is {d}; the GPU kernel takes f32 (mask: bool/f32, nonpad_kv_seqlen: i64)",
                v.name
            ));
        }
    }
    Ok(())
}

/// The kernels' parameter block (`#[repr(C)]`, read as `AttnParams` in attention.cu).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AttnParams {
    pub b: i32,
    pub hq: i32,
    pub hkv: i32,
    /// query length
    pub s: i32,
    /// new key/value length, past length, total T = P + L
    pub l: i32,
    pub p: i32,
    pub t: i32,
    pub d: i32,
    pub dv: i32,
    /// Q, K, V and Y in the 3-D (B, S, H*D) layout
    pub three_d: i32,
    pub causal: i32,
    pub qk_mode: i32,
    /// 0 none, 1 bool, 2 f32
    pub mask_kind: i32,
    /// the mask's last dim (<= T) and its element strides over (B, Hq, S, T), 0 = broadcast
    pub mlast: i32,
    pub mst: [i32; 4],
    pub has_nonpad: i32,
    pub scale: f32,
    pub softcap: f32,
}

/// Output shapes with the parameter block.
#[derive(Clone, Debug, PartialEq)]
pub struct AttnPlan {
    pub p: AttnParams,
    pub y: Vec<usize>,
    pub present_k: Vec<usize>,
    pub present_v: Vec<usize>,
    pub qk: Vec<usize>,
}

/// (B, H, S, D) of a 3-D or 4-D input.
fn heads(sh: &[usize], h: Option<usize>, what: &str) -> Result<[usize; 4]> {
    match sh.len() {
        4 => Ok([sh[0], sh[1], sh[2], sh[3]]),
        3 => {
            let h = h.ok_or_else(|| {
                Error::invalid(format!(
                    "Attention: 3-D {what} needs the num_heads attribute"
                ))
            })?;
            if !sh[2].is_multiple_of(h) {
                return Err(Error::invalid(format!(
                    "Attention: {what} hidden size {} is not a multiple of {h} heads",
                    sh[2]
                )));
            }
            Ok([sh[0], h, sh[1], sh[2] / h])
        }
        r => Err(Error::invalid(format!(
            "Attention: {what} must be 3-D or 4-D, got rank {r}"
        ))),
    }
}

/// Plans one Attention: shapes of Q, K, V, the mask, past_key / past_value, and the
/// length of nonpad_kv_seqlen.
#[allow(clippy::too_many_arguments)]
pub fn plan(
    a: &AttentionAttrs,
    q: &[usize],
    k: &[usize],
    v: &[usize],
    mask: Option<(&[usize], bool)>,
    past_k: Option<&[usize]>,
    past_v: Option<&[usize]>,
    nonpad: Option<usize>,
) -> Result<AttnPlan> {
    let bad = |m: String| Err(Error::invalid(format!("Attention: {m}")));
    if q.len() != k.len() || k.len() != v.len() {
        return bad(format!("Q, K, V ranks differ ({q:?}, {k:?}, {v:?})"));
    }
    let three_d = q.len() == 3;
    let [b, hq, s, d] = heads(q, a.q_heads, "Q")?;
    let [kb, hkv, l, kd] = heads(k, a.kv_heads, "K")?;
    let [vb, vh, vl, dv] = heads(v, a.kv_heads, "V")?;
    if kb != b || vb != b {
        return bad(format!("batch sizes differ (Q {b}, K {kb}, V {vb})"));
    }
    if kd != d {
        return bad(format!("Q head size {d} != K head size {kd}"));
    }
    if vh != hkv || vl != l {
        return bad("K and V disagree".into());
    }
    if hkv == 0 || hq % hkv != 0 {
        return bad(format!("{hq} query heads over {hkv} KV heads"));
    }
    let past = |p: Option<&[usize]>, dd: usize, what: &str| -> Result<usize> {
        match p {
            None => Ok(0),
            Some(ps) if ps.len() == 4 && ps[0] == b && ps[1] == hkv && ps[3] == dd => Ok(ps[2]),
            Some(ps) => Err(Error::invalid(format!(
                "Attention: {what} shape {ps:?} does not match (B={b}, H={hkv}, *, D={dd})"
            ))),
        }
    };
    let pk = past(past_k, d, "past_key")?;
    let pv = past(past_v, dv, "past_value")?;
    if pk != pv {
        return bad("past_key / past_value lengths differ".into());
    }
    let t = pk + l;
    if t == 0 || s == 0 {
        return Err(Error::unsupported(
            "Attention",
            "an empty sequence on the GPU",
        ));
    }
    let (mask_kind, mlast, mst) = match mask {
        None => (0, 0, [0i32; 4]),
        Some((ms, is_bool)) => {
            if !(1..=4).contains(&ms.len()) {
                return bad(format!("attn_mask must have rank 1..4, got {ms:?}"));
            }
            let mut m4 = vec![1usize; 4 - ms.len()];
            m4.extend_from_slice(ms);
            let target = [b, hq, s, t];
            if (0..3).any(|i| m4[i] != 1 && m4[i] != target[i]) || m4[3] > t {
                return bad(format!("attn_mask shape {ms:?} does not fit {target:?}"));
            }
            let st = super::dense_strides(&m4);
            let mut mst = [0i32; 4];
            for i in 0..4 {
                mst[i] = if m4[i] == 1 && i < 3 {
                    0
                } else {
                    i32_of(st[i] as usize, "mask stride")?
                };
            }
            (if is_bool { 1 } else { 2 }, m4[3] as i32, mst)
        }
    };
    if let Some(n) = nonpad {
        if n != b {
            return bad(format!("nonpad_kv_seqlen has {n} entries, batch is {b}"));
        }
    }
    for n in [
        b * hq * s * t,
        b * hkv * t * d.max(dv),
        b * hq * s * d.max(dv),
    ] {
        i32_of(n, "Attention element count")?;
    }
    let i = |n: usize| n as i32;
    let p = AttnParams {
        b: i(b),
        hq: i(hq),
        hkv: i(hkv),
        s: i(s),
        l: i(l),
        p: i(pk),
        t: i(t),
        d: i(d),
        dv: i(dv),
        three_d: three_d as i32,
        causal: a.is_causal as i32,
        qk_mode: a.qk_mode as i32,
        mask_kind,
        mlast,
        mst,
        has_nonpad: nonpad.is_some() as i32,
        scale: a.scale.unwrap_or(1.0 / (d as f32).sqrt()),
        softcap: a.softcap,
    };
    Ok(AttnPlan {
        p,
        y: if three_d {
            vec![b, s, hq * dv]
        } else {
            vec![b, hq, s, dv]
        },
        present_k: vec![b, hkv, t, d],
        present_v: vec![b, hkv, t, dv],
        qk: vec![b, hq, s, t],
    })
}
