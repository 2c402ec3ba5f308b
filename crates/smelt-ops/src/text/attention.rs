//! Attention (opset 23/24, default domain): scaled dot-product attention with optional KV
//! cache, grouped-query heads, masks, causal masking, softcap and an optional Q·Kᵀ output.
//!
//! Inputs: Q, K, V, attn_mask?, past_key?, past_value?, nonpad_kv_seqlen? (opset 24).
//! - 4-D: Q (B, Hq, S, D), K (B, Hkv, L, D), V (B, Hkv, L, Dv).
//! - 3-D: Q (B, S, Hq*D), K (B, L, Hkv*D), V (B, L, Hkv*Dv) with `q_num_heads` and
//!   `kv_num_heads` attributes giving the head counts.
//! - past_key (B, Hkv, P, D) / past_value (B, Hkv, P, Dv) are prepended along the sequence
//!   axis; T = P + L is the total key length.
//! - attn_mask: bool (true = attend) or float (added), broadcastable to (B, Hq, S, T); a last
//!   dim shorter than T is padded with "masked".
//!
//! Outputs: Y (B, Hq, S, Dv) or (B, S, Hq*Dv) for 3-D inputs, present_key (B, Hkv, T, D),
//! present_value (B, Hkv, T, Dv), qk_matmul_output (B, Hq, S, T) selected by
//! `qk_matmul_output_mode` (0: scaled Q·Kᵀ after softcap, 1: same, 2: plus the mask/bias,
//! 3: after softmax). Hq must be a multiple of Hkv (query head h reads KV head h / (Hq/Hkv)).
//! Arithmetic is in f64, results are rounded to the input dtype.

use crate::prelude::*;
use crate::signal::{ensure_float, from_f64};

#[derive(Debug)]
pub struct Attention {
    is_causal: bool,
    q_num_heads: Option<usize>,
    kv_num_heads: Option<usize>,
    qk_mode: i64,
    scale: Option<f64>,
    softcap: f64,
}

pub fn register(r: &mut Registry) {
    r.register("", "Attention", |c| {
        let a = c.attrs;
        let heads = |n: &str| -> Result<Option<usize>> {
            match a.int(n)? {
                None => Ok(None),
                Some(h) if h > 0 => Ok(Some(h as usize)),
                Some(h) => bail!("Attention: {n} must be positive, got {h}"),
            }
        };
        let qk_mode = a.int_or("qk_matmul_output_mode", 0)?;
        ensure!(
            (0..=3).contains(&qk_mode),
            "Attention: qk_matmul_output_mode must be 0..3, got {qk_mode}"
        );
        Ok(Box::new(Attention {
            is_causal: a.int_or("is_causal", 0)? != 0,
            q_num_heads: heads("q_num_heads")?,
            kv_num_heads: heads("kv_num_heads")?,
            qk_mode,
            scale: a.float("scale")?.map(|s| s as f64),
            softcap: a.float_or("softcap", 0.0)? as f64,
        }))
    });
}

/// A (B, H, S, D) view of a 3-D or 4-D input as f64, row-major.
struct Heads {
    b: usize,
    h: usize,
    s: usize,
    d: usize,
    v: Vec<f64>,
}

/// Converts a 4-D (B, H, S, D) tensor, or a 3-D (B, S, H*D) one split into `heads`, to [`Heads`].
fn to_heads(t: &Tensor, heads: Option<usize>, what: &str) -> Result<Heads> {
    let sh = t.shape();
    let x = t.to_f64_vec()?;
    match sh.len() {
        4 => Ok(Heads {
            b: sh[0],
            h: sh[1],
            s: sh[2],
            d: sh[3],
            v: x,
        }),
        3 => {
            let h = heads.ok_or_else(|| {
                Error::invalid(format!(
                    "Attention: 3-D {what} needs the num_heads attribute"
                ))
            })?;
            ensure!(
                sh[2] % h == 0,
                "Attention: {what} hidden size {} is not a multiple of {h} heads",
                sh[2]
            );
            let (b, s, d) = (sh[0], sh[1], sh[2] / h);
            let mut v = vec![0.0; x.len()];
            for bi in 0..b {
                for si in 0..s {
                    for hi in 0..h {
                        let src = ((bi * s + si) * h + hi) * d;
                        let dst = ((bi * h + hi) * s + si) * d;
                        v[dst..dst + d].copy_from_slice(&x[src..src + d]);
                    }
                }
            }
            Ok(Heads { b, h, s, d, v })
        }
        r => bail!("Attention: {what} must be 3-D or 4-D, got rank {r}"),
    }
}

/// Prepends `past` (B, H, P, D) to `cur` along the sequence axis.
fn concat_past(past: Option<&Tensor>, cur: Heads, what: &str) -> Result<Heads> {
    let Some(p) = past else { return Ok(cur) };
    let ps = p.shape();
    ensure!(
        ps.len() == 4 && ps[0] == cur.b && ps[1] == cur.h && ps[3] == cur.d,
        "Attention: {what} shape {ps:?} does not match (B={}, H={}, *, D={})",
        cur.b,
        cur.h,
        cur.d
    );
    let pv = p.to_f64_vec()?;
    let (pl, s) = (ps[2], cur.s);
    let t = pl + s;
    let d = cur.d;
    let mut v = Vec::with_capacity(cur.b * cur.h * t * d);
    for bh in 0..cur.b * cur.h {
        v.extend_from_slice(&pv[bh * pl * d..(bh + 1) * pl * d]);
        v.extend_from_slice(&cur.v[bh * s * d..(bh + 1) * s * d]);
    }
    Ok(Heads {
        b: cur.b,
        h: cur.h,
        s: t,
        d,
        v,
    })
}

impl Op for Attention {
    fn op_type(&self) -> &str {
        "Attention"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let (qt, kt, vt) = (req(&inputs, 0)?, req(&inputs, 1)?, req(&inputs, 2)?);
        for (t, n) in [(qt, "Q"), (kt, "K"), (vt, "V")] {
            ensure_float(t, n)?;
        }
        ensure!(
            qt.rank() == kt.rank() && kt.rank() == vt.rank(),
            "Attention: Q, K, V ranks differ ({}, {}, {})",
            qt.rank(),
            kt.rank(),
            vt.rank()
        );
        let dtype = qt.dtype();
        let three_d = qt.rank() == 3;
        let q = to_heads(qt, self.q_num_heads, "Q")?;
        let k = to_heads(kt, self.kv_num_heads, "K")?;
        let v = to_heads(vt, self.kv_num_heads, "V")?;
        ensure!(
            k.b == q.b && v.b == q.b,
            "Attention: batch sizes differ (Q {}, K {}, V {})",
            q.b,
            k.b,
            v.b
        );
        ensure!(
            k.d == q.d,
            "Attention: Q head size {} != K head size {}",
            q.d,
            k.d
        );
        ensure!(
            k.h == v.h && k.s == v.s,
            "Attention: K (H={}, L={}) and V (H={}, L={}) disagree",
            k.h,
            k.s,
            v.h,
            v.s
        );
        ensure!(
            k.h > 0 && q.h % k.h == 0,
            "Attention: {} query heads is not a multiple of {} KV heads",
            q.h,
            k.h
        );
        let past_len = opt(&inputs, 4).map_or(0, |p| p.shape().get(2).copied().unwrap_or(0));
        let k = concat_past(opt(&inputs, 4), k, "past_key")?;
        let v = concat_past(opt(&inputs, 5), v, "past_value")?;
        ensure!(k.s == v.s, "Attention: present key length {} != present value length {} (past_key / past_value lengths differ)", k.s, v.s);
        let (b, hq, s, d, hkv, t, dv) = (q.b, q.h, q.s, q.d, k.h, k.s, v.d);
        let group = hq / hkv;
        let scale = self.scale.unwrap_or(1.0 / (d as f64).sqrt());

        // Mask aligned to rank 4 with broadcast strides over (B, Hq, S, T).
        let mask = opt(&inputs, 3);
        let (mvals, mlast, mst) = match mask {
            Some(m) => {
                ensure!(
                    (1..=4).contains(&m.rank()),
                    "Attention: attn_mask must have rank 1..4, got {:?}",
                    m.shape()
                );
                let mut ms = vec![1usize; 4 - m.rank()];
                ms.extend_from_slice(m.shape());
                let target = [b, hq, s, t];
                for i in 0..3 {
                    ensure!(
                        ms[i] == 1 || ms[i] == target[i],
                        "Attention: attn_mask shape {:?} does not broadcast to {target:?}",
                        m.shape()
                    );
                }
                ensure!(
                    ms[3] <= t,
                    "Attention: attn_mask last dim {} exceeds total sequence length {t}",
                    ms[3]
                );
                let vals: Vec<f64> = if m.dtype() == DType::Bool {
                    m.as_slice::<bool>()?
                        .iter()
                        .map(|&x| if x { 0.0 } else { f64::NEG_INFINITY })
                        .collect()
                } else {
                    ensure_float(m, "attn_mask")?;
                    m.to_f64_vec()?
                };
                let st = strides(&ms);
                let bst: Vec<usize> = (0..4)
                    .map(|i| if ms[i] == 1 && i < 3 { 0 } else { st[i] })
                    .collect();
                (vals, ms[3], bst)
            }
            None => (vec![], 0, vec![0; 4]),
        };
        let nonpad = match opt(&inputs, 6) {
            Some(n) => {
                let l = n.to_i64_vec()?;
                ensure!(
                    l.len() == b,
                    "Attention: nonpad_kv_seqlen has {} entries, batch is {b}",
                    l.len()
                );
                Some(l)
            }
            None => None,
        };

        let mut y = vec![0.0f64; b * hq * s * dv];
        let mut qk_out = vec![0.0f64; b * hq * s * t];
        let mut row = vec![0.0f64; t];
        for bi in 0..b {
            for h in 0..hq {
                let kh = h / group;
                let kbase = (bi * hkv + kh) * t;
                for i in 0..s {
                    let qrow = &q.v[((bi * hq + h) * s + i) * d..][..d];
                    let obase = ((bi * hq + h) * s + i) * t;
                    for j in 0..t {
                        let krow = &k.v[(kbase + j) * d..][..d];
                        let mut acc = 0.0;
                        for x in 0..d {
                            acc += qrow[x] * krow[x];
                        }
                        let mut sc = acc * scale;
                        if self.softcap > 0.0 {
                            sc = self.softcap * (sc / self.softcap).tanh();
                        }
                        if self.qk_mode <= 1 {
                            qk_out[obase + j] = sc;
                        }
                        let mut bias = 0.0;
                        if mask.is_some() {
                            bias += if j < mlast {
                                mvals[bi * mst[0] + h * mst[1] + i * mst[2] + j * mst[3]]
                            } else {
                                f64::NEG_INFINITY
                            };
                        }
                        if self.is_causal && j > i + past_len {
                            bias += f64::NEG_INFINITY;
                        }
                        if let Some(l) = &nonpad {
                            if (j as i64) >= l[bi] {
                                bias += f64::NEG_INFINITY;
                            }
                        }
                        row[j] = sc + bias;
                        if self.qk_mode == 2 {
                            qk_out[obase + j] = row[j];
                        }
                    }
                    // softmax over the key axis (a fully masked row gives NaN, as the reference does)
                    let mx = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let mut sum = 0.0;
                    for r in row.iter_mut() {
                        *r = (*r - mx).exp();
                        sum += *r;
                    }
                    for r in row.iter_mut() {
                        *r /= sum;
                    }
                    if self.qk_mode == 3 {
                        qk_out[obase..obase + t].copy_from_slice(&row);
                    }
                    let ybase = ((bi * hq + h) * s + i) * dv;
                    for (j, &p) in row.iter().enumerate() {
                        let vrow = &v.v[((bi * hkv + kh) * t + j) * dv..][..dv];
                        for x in 0..dv {
                            y[ybase + x] += p * vrow[x];
                        }
                    }
                }
            }
        }
        let y = if three_d {
            let mut o = vec![0.0; y.len()];
            for bi in 0..b {
                for h in 0..hq {
                    for i in 0..s {
                        let src = ((bi * hq + h) * s + i) * dv;
                        let dst = ((bi * s + i) * hq + h) * dv;
                        o[dst..dst + dv].copy_from_slice(&y[src..src + dv]);
                    }
                }
            }
            from_f64(dtype, vec![b, s, hq * dv], o)?
        } else {
            from_f64(dtype, vec![b, hq, s, dv], y)?
        };
        Ok(vec![
            y,
            from_f64(kt.dtype(), vec![b, hkv, t, d], k.v)?,
            from_f64(vt.dtype(), vec![b, hkv, t, dv], v.v)?,
            from_f64(dtype, vec![b, hq, s, t], qk_out)?,
        ])
    }
}

#[cfg(test)]
mod tests {
    use crate::GraphBuilder;
    use smelt_core::{Dim, Tensor};
    use smelt_ir::Attributes;

    fn run(ins: Vec<Option<Tensor>>) -> smelt_core::Result<Vec<Tensor>> {
        let mut g = GraphBuilder::new("g");
        g.set_opset("", 24);
        let mut feeds = vec![];
        let mut vs = vec![];
        for (i, t) in ins.into_iter().enumerate() {
            vs.push(t.map(|t| {
                let dims: Vec<Dim> = t.shape().iter().map(|&d| Dim::Fixed(d)).collect();
                let v = g.placeholder(&format!("i{i}"), t.dtype(), &dims);
                feeds.push((format!("i{i}"), t));
                v
            }));
        }
        let o = g.add_node("", "", "Attention", &vs, &["y".into()], Attributes::new())?;
        g.output(o[0].unwrap(), "y");
        Ok(smelt_cpu::run(&g.build()?, feeds)?
            .into_iter()
            .map(|(_, t)| t)
            .collect())
    }
    fn t(shape: &[usize], f: impl Fn(usize) -> f32) -> Tensor {
        let n = shape.iter().product();
        Tensor::from_vec(shape.to_vec(), (0..n).map(f).collect::<Vec<_>>()).unwrap()
    }

    /// Padding keys with nonpad_kv_seqlen equals cutting K/V to the valid length.
    #[test]
    fn nonpad_kv_seqlen_matches_truncated_kv() {
        let q = t(&[1, 2, 3, 4], |i| ((i * 7 % 5) as f32) * 0.3 - 0.5);
        let k = t(&[1, 2, 5, 4], |i| ((i * 3 % 7) as f32) * 0.2 - 0.4);
        let v = t(&[1, 2, 5, 4], |i| (i % 9) as f32 * 0.1 + 0.05);
        let lens = Tensor::from_vec(vec![1], vec![3i64]).unwrap();
        let y = run(vec![
            Some(q.clone()),
            Some(k.clone()),
            Some(v.clone()),
            None,
            None,
            None,
            Some(lens),
        ])
        .unwrap();
        let cut = |x: &Tensor| {
            let s = x.as_slice::<f32>().unwrap();
            let mut o = vec![];
            for h in 0..2 {
                o.extend_from_slice(&s[h * 20..h * 20 + 12]);
            }
            Tensor::from_vec(vec![1, 2, 3, 4], o).unwrap()
        };
        let want = run(vec![Some(q), Some(cut(&k)), Some(cut(&v))]).unwrap();
        for (a, b) in y[0]
            .as_slice::<f32>()
            .unwrap()
            .iter()
            .zip(want[0].as_slice::<f32>().unwrap())
        {
            assert!((a - b).abs() < 1e-6);
        }
    }

    #[test]
    fn bad_shapes_are_errors() {
        let q = t(&[1, 3, 2, 4], |i| i as f32 * 0.1 + 0.1);
        let k = t(&[1, 2, 2, 4], |i| i as f32 * 0.1 + 0.2);
        // 3 query heads over 2 KV heads
        assert!(run(vec![Some(q.clone()), Some(k.clone()), Some(k.clone())]).is_err());
        let q2 = t(&[1, 2, 2, 3], |i| i as f32 * 0.1 + 0.1);
        assert!(run(vec![Some(q2), Some(k.clone()), Some(k.clone())]).is_err());
        let m = Tensor::from_vec(vec![3, 2], vec![true; 6]).unwrap();
        let q3 = t(&[1, 2, 2, 4], |i| i as f32 * 0.1 + 0.1);
        assert!(run(vec![Some(q3), Some(k.clone()), Some(k), Some(m)]).is_err());
    }
}
