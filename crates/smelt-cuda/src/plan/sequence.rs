//! Recurrent sequence ops of opset 27, after the CPU ops in `smelt_ops::misc`:
//! - LinearAttention: query [B, T, Hq*dk], key [B, T, Hkv*dk], value [B, T, Hkv*dv],
//!   past_state [B, Hkv, dk, dv]?, decay [B, T, Hkv or Hkv*dk]? (gated rules),
//!   beta [B, T, Hkv or 1]? (delta rules) -> Y [B, T, Hq*dv], present_state [B, Hkv, dk, dv].
//! - CausalConvWithState: input [B, C, L], weight [C, 1, K], bias [C]?, past_state
//!   [B, C, K-1]? -> output [B, C, L] (optionally SiLU), present_state [B, C, K-1].
//!
//! f32, or f16 through the f32 kernels (every float input of one dtype).

use super::i32_of;
use smelt_core::DType;
use smelt_core::{Error, Result};
use smelt_ir::{Attributes, Graph, Node};

#[derive(Clone, Debug, PartialEq)]
pub struct LinearAttentionAttrs {
    pub q_heads: usize,
    pub kv_heads: usize,
    pub scale: Option<f32>,
    pub gating: bool,
    pub delta: bool,
}

impl LinearAttentionAttrs {
    pub fn parse(a: &Attributes) -> Result<LinearAttentionAttrs> {
        let rule = a.string_or("update_rule", "gated_delta".into())?;
        if !matches!(rule.as_str(), "linear" | "gated" | "delta" | "gated_delta") {
            return Err(Error::invalid(format!("unknown update_rule '{rule}'")));
        }
        let q = a.req_int("q_num_heads")?;
        let kv = a.req_int("kv_num_heads")?;
        if !(q > 0 && kv > 0 && q % kv == 0) {
            return Err(Error::invalid(format!(
                "q_num_heads ({q}) must be a positive multiple of kv_num_heads ({kv})"
            )));
        }
        Ok(LinearAttentionAttrs {
            q_heads: q as usize,
            kv_heads: kv as usize,
            scale: a.float("scale")?.filter(|&s| s != 0.0),
            gating: rule.starts_with("gated"),
            delta: rule.ends_with("delta"),
        })
    }
}

/// LinearAttention's parameter block (`LaParams` in sequence.cu).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LaParams {
    pub b: i32,
    pub t: i32,
    pub hq: i32,
    pub hk: i32,
    pub dk: i32,
    pub dv: i32,
    pub has_past: i32,
    pub gating: i32,
    pub decay_per_head: i32,
    pub delta: i32,
    pub beta_last: i32,
    pub scale: f32,
}

/// Plans LinearAttention from the shapes of query, key, value, past_state, decay, beta;
/// returns the block and the shapes of Y and present_state.
pub fn linear_attention(
    a: &LinearAttentionAttrs,
    q: &[usize],
    k: &[usize],
    v: &[usize],
    past: Option<&[usize]>,
    decay: Option<&[usize]>,
    beta: Option<&[usize]>,
) -> Result<(LaParams, Vec<usize>, Vec<usize>)> {
    let bad = |m: String| Err(Error::invalid(format!("LinearAttention: {m}")));
    if q.len() != 3 || k.len() != 3 || v.len() != 3 {
        return bad("query, key, value must be [B, T, H*D]".into());
    }
    let (hq, hk) = (a.q_heads, a.kv_heads);
    let (b, t) = (q[0], q[1]);
    if k[..2] != [b, t] || v[..2] != [b, t] {
        return bad("query, key, value must share [B, T]".into());
    }
    if !q[2].is_multiple_of(hq) || !v[2].is_multiple_of(hk) {
        return bad("hidden sizes must divide by the head counts".into());
    }
    let (dk, dv) = (q[2] / hq, v[2] / hk);
    if k[2] != hk * dk {
        return bad(format!("key hidden size {} != {}", k[2], hk * dk));
    }
    if decay.is_some() != a.gating || beta.is_some() != a.delta {
        return bad("decay / beta inputs do not match the update_rule".into());
    }
    let mut decay_per_head = 0;
    if let Some(d) = decay {
        if d.len() != 3 || d[..2] != [b, t] || !(d[2] == hk || d[2] == hk * dk) {
            return bad(format!("decay shape {d:?}"));
        }
        decay_per_head = (d[2] == hk) as i32;
    }
    let mut beta_last = 0;
    if let Some(x) = beta {
        if x.len() != 3 || x[..2] != [b, t] || !(x[2] == hk || x[2] == 1) {
            return bad(format!("beta shape {x:?}"));
        }
        beta_last = x[2] as i32;
    }
    let state = vec![b, hk, dk, dv];
    if let Some(p) = past {
        if p != state.as_slice() {
            return bad(format!("past_state must be {state:?}, got {p:?}"));
        }
    }
    for n in [
        b * t * hq * dk.max(dv),
        b * t * hk * dk.max(dv),
        b * hk * dk * dv,
    ] {
        i32_of(n, "LinearAttention elements")?;
    }
    let p = LaParams {
        b: b as i32,
        t: t as i32,
        hq: hq as i32,
        hk: hk as i32,
        dk: dk as i32,
        dv: dv as i32,
        has_past: past.is_some() as i32,
        gating: a.gating as i32,
        decay_per_head,
        delta: a.delta as i32,
        beta_last,
        scale: a.scale.unwrap_or(1.0 / (dk as f32).sqrt()),
    };
    Ok((p, vec![b, t, hq * dv], state))
}

/// CausalConvWithState: (B, C, L, K) from the shapes of input, weight, bias, past_state.
pub fn causal_conv(
    x: &[usize],
    w: &[usize],
    bias: Option<&[usize]>,
    past: Option<&[usize]>,
) -> Result<[usize; 4]> {
    let bad = |m: String| Err(Error::invalid(format!("CausalConvWithState: {m}")));
    if x.len() != 3 {
        return bad(format!("input must be [B, C, L], got {x:?}"));
    }
    let (b, c, l) = (x[0], x[1], x[2]);
    if w.len() != 3 || w[1] != 1 || w[0] != c || w[2] == 0 {
        return bad(format!("weight must be [{c}, 1, K >= 1], got {w:?}"));
    }
    let k = w[2];
    if bias.is_some_and(|bv| bv.iter().product::<usize>() != c) {
        return bad(format!("bias must have C = {c} elements"));
    }
    if past.is_some_and(|p| p != [b, c, k - 1]) {
        return bad(format!("past_state must be [{b}, {c}, {}]", k - 1));
    }
    i32_of(b * c * (l + k), "CausalConvWithState elements")?;
    Ok([b, c, l, k])
}

/// The dtype contract of both ops: every input f32, or every input f16.
pub fn check_types(node: &Node, graph: &Graph) -> std::result::Result<(), String> {
    let mut seen: Option<DType> = None;
    for inp in node.inputs.iter().flatten() {
        let v = &graph.values[*inp];
        let Some(d) = v.info.dtype else {
            return Err(format!("dtype of input '{}' unknown", v.name));
        };
        if !matches!(d, DType::F32 | DType::F16) || seen.is_some_and(|s| s != d) {
            return Err(format!(
                "{} input '{}' is {d}; the GPU kernels take all-f32 or all-f16 inputs",
                node.op_type, v.name
            ));
        }
        seen = Some(d);
    }
    Ok(())
}
