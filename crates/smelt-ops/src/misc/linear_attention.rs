//! LinearAttention (opset 27): recurrent linear attention with a [B, H_kv, d_k, d_v] state.
//!
//! query [B, T, H_q*d_k], key [B, T, H_kv*d_k], value [B, T, H_kv*d_v], past_state?,
//! decay [B, T, H_kv or H_kv*d_k]? (gated rules), beta [B, T, H_kv or 1]? (delta rules).
//! Per step t: S *= exp(g_t) (gated); v_t <- beta_t (v_t - S^T k_t) (delta); S += k_t v_t^T;
//! o_t = scale * q_t S (query head h reads kv head h / (H_q / H_kv)).
//! Outputs: [B, T, H_q*d_v] in the query dtype, and the final state in past_state's dtype.
//! Accumulates in f32 like the reference.

use crate::prelude::*;
use num_traits::{Float, NumCast};

#[derive(Debug)]
pub struct LinearAttention {
    q_heads: usize,
    kv_heads: usize,
    scale: Option<f32>,
    gating: bool,
    delta: bool,
}

pub fn register(r: &mut Registry) {
    r.register("", "LinearAttention", |c| {
        let rule = c.attrs.string_or("update_rule", "gated_delta".into())?;
        ensure!(
            matches!(rule.as_str(), "linear" | "gated" | "delta" | "gated_delta"),
            "unknown update_rule '{rule}'"
        );
        let q = c.attrs.req_int("q_num_heads")?;
        let kv = c.attrs.req_int("kv_num_heads")?;
        ensure!(
            q > 0 && kv > 0 && q % kv == 0,
            "q_num_heads ({q}) must be a positive multiple of kv_num_heads ({kv})"
        );
        let scale = c.attrs.float("scale")?.filter(|&s| s != 0.0);
        Ok(Box::new(LinearAttention {
            q_heads: q as usize,
            kv_heads: kv as usize,
            scale,
            gating: rule.starts_with("gated"),
            delta: rule.ends_with("delta"),
        }))
    });
}

fn f32s(t: &Tensor) -> Result<Vec<f32>> {
    Ok(t.to_f64_vec()?.into_iter().map(|x| x as f32).collect())
}

fn to_dtype(dtype: DType, shape: Vec<usize>, v: Vec<f32>) -> Result<Tensor> {
    dispatch_float!(dtype, T => Tensor::from_vec(shape, v.into_iter().map(|x| <T as NumCast>::from(x).unwrap_or(T::nan())).collect::<Vec<T>>()),
        d => Err(Error::dtype(d, "LinearAttention")))
}

impl Op for LinearAttention {
    fn op_type(&self) -> &str {
        "LinearAttention"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let (q, k, v) = (req(&inputs, 0)?, req(&inputs, 1)?, req(&inputs, 2)?);
        for (n, t) in [("query", q), ("key", k), ("value", v)] {
            ensure!(
                t.rank() == 3,
                "{n} must be [B, T, H*D], got {:?}",
                t.shape()
            );
        }
        let (hq, hk) = (self.q_heads, self.kv_heads);
        let (b, t) = (q.shape()[0], q.shape()[1]);
        ensure!(
            k.shape()[..2] == [b, t] && v.shape()[..2] == [b, t],
            "query, key, value must share [B, T]"
        );
        ensure!(
            q.shape()[2] % hq == 0 && v.shape()[2] % hk == 0,
            "hidden sizes must divide by the head counts"
        );
        let (dk, dv) = (q.shape()[2] / hq, v.shape()[2] / hk);
        ensure!(
            k.shape()[2] == hk * dk,
            "key hidden size {} != kv_num_heads * d_k = {}",
            k.shape()[2],
            hk * dk
        );
        let group = hq / hk;
        let decay = opt(&inputs, 4);
        let beta = opt(&inputs, 5);
        ensure!(
            decay.is_some() == self.gating,
            "decay input is {} for this update_rule",
            if self.gating { "required" } else { "forbidden" }
        );
        ensure!(
            beta.is_some() == self.delta,
            "beta input is {} for this update_rule",
            if self.delta { "required" } else { "forbidden" }
        );
        let (qv, kvv, vv) = (f32s(q)?, f32s(k)?, f32s(v)?);
        let decay = match decay {
            Some(d) => {
                ensure!(
                    d.rank() == 3 && d.shape()[..2] == [b, t],
                    "decay must be [B, T, ..], got {:?}",
                    d.shape()
                );
                let last = d.shape()[2];
                ensure!(
                    last == hk || last == hk * dk,
                    "decay last dim {last} must be {hk} or {}",
                    hk * dk
                );
                Some((f32s(d)?, last == hk))
            }
            None => None,
        };
        let beta = match beta {
            Some(x) => {
                ensure!(
                    x.rank() == 3 && x.shape()[..2] == [b, t],
                    "beta must be [B, T, ..], got {:?}",
                    x.shape()
                );
                let last = x.shape()[2];
                ensure!(
                    last == hk || last == 1,
                    "beta last dim {last} must be {hk} or 1"
                );
                Some((f32s(x)?, last))
            }
            None => None,
        };
        let (mut state, state_dtype) = match opt(&inputs, 3) {
            Some(p) => {
                ensure!(
                    p.shape() == [b, hk, dk, dv],
                    "past_state must be [{b}, {hk}, {dk}, {dv}], got {:?}",
                    p.shape()
                );
                (f32s(p)?, p.dtype())
            }
            None => (vec![0f32; b * hk * dk * dv], q.dtype()),
        };
        let scale = self.scale.unwrap_or(1.0 / (dk as f32).sqrt());
        let mut out = vec![0f32; b * t * hq * dv];
        let mut vt = vec![0f32; dv];
        for bi in 0..b {
            for ti in 0..t {
                for h in 0..hk {
                    let s = &mut state[((bi * hk + h) * dk) * dv..((bi * hk + h + 1) * dk) * dv];
                    let kt = &kvv[(bi * t + ti) * hk * dk + h * dk..][..dk];
                    vt.copy_from_slice(&vv[(bi * t + ti) * hk * dv + h * dv..][..dv]);
                    if let Some((g, per_head)) = &decay {
                        for d in 0..dk {
                            let gi = if *per_head {
                                g[(bi * t + ti) * hk + h]
                            } else {
                                g[(bi * t + ti) * hk * dk + h * dk + d]
                            };
                            let e = gi.exp();
                            s[d * dv..(d + 1) * dv].iter_mut().for_each(|x| *x *= e);
                        }
                    }
                    if let Some((bt, last)) = &beta {
                        let bv = bt[(bi * t + ti) * last + if *last == 1 { 0 } else { h }];
                        for m in 0..dv {
                            let retrieved: f32 = (0..dk).map(|d| s[d * dv + m] * kt[d]).sum();
                            vt[m] = bv * (vt[m] - retrieved);
                        }
                    }
                    for d in 0..dk {
                        for m in 0..dv {
                            s[d * dv + m] += kt[d] * vt[m];
                        }
                    }
                }
                for h in 0..hq {
                    let s = &state[((bi * hk + h / group) * dk) * dv..][..dk * dv];
                    let qt = &qv[(bi * t + ti) * hq * dk + h * dk..][..dk];
                    let o = &mut out[(bi * t + ti) * hq * dv + h * dv..][..dv];
                    for m in 0..dv {
                        o[m] = scale * (0..dk).map(|d| qt[d] * s[d * dv + m]).sum::<f32>();
                    }
                }
            }
        }
        Ok(vec![
            to_dtype(q.dtype(), vec![b, t, hq * dv], out)?,
            to_dtype(state_dtype, vec![b, hk, dk, dv], state)?,
        ])
    }
}
