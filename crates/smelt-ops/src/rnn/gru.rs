//! GRU (opsets 7, 14 adds `layout`, 22 bf16): gates z, r, h (W / R / B rows in that order).
//! Activations per direction: f (gates, default Sigmoid), g (candidate, Tanh).
//!   z = f(Wz x + Rz h + Wbz + Rbz)      r = f(Wr x + Rr h + Wbr + Rbr)
//!   n = g(Wh x + (r*h) Rh + Rbh + Wbh)            (linear_before_reset = 0)
//!   n = g(Wh x + r*(Rh h + Rbh) + Wbh)            (linear_before_reset = 1)
//!   h' = (1 - z)*n + z*h
//! `clip` bounds the pre-activations. Outputs Y, Y_h (see common.rs for shapes).

use super::common::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct Gru {
    at: RnnAttrs,
    linear_before_reset: bool,
}

pub fn register(r: &mut Registry) {
    r.register("", "GRU", |ctx| {
        let at = RnnAttrs::parse(ctx.attrs, &["Sigmoid", "Tanh"])?;
        Ok(Box::new(Gru {
            at,
            linear_before_reset: ctx.attrs.int_or("linear_before_reset", 0)? != 0,
        }))
    });
}

impl Op for Gru {
    fn op_type(&self) -> &str {
        "GRU"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        Ok(infer(&self.at, ctx, 1))
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let at = &self.at;
        let p = prepare(at, &inputs, 3)?;
        let h = p.hidden;
        let (gh, input) = (3 * h, p.input);
        let mut xg = vec![0.0; gh];
        let mut hg = vec![0.0; gh];
        let mut rh = vec![0.0; h];
        let (y, hn) = run(at, &p, &mut [], 0, |d, xt, hs, _| {
            let (w, r) = (
                &p.w[d * gh * input..][..gh * input],
                &p.r[d * gh * h..][..gh * h],
            );
            let bias = &p.b[d * 2 * gh..][..2 * gh];
            xg.copy_from_slice(&bias[..gh]);
            matvec_add(w, xt, &mut xg);
            // z and r recurrent parts (and Rh h + Rbh when linear_before_reset)
            hg.copy_from_slice(&bias[gh..]);
            if self.linear_before_reset {
                matvec_add(r, hs, &mut hg);
            } else {
                matvec_add(&r[..2 * h * h], hs, &mut hg[..2 * h]);
            }
            let acts = &at.acts[d];
            let mut z = vec![0.0; h];
            for j in 0..h {
                z[j] = acts[0].apply(at.clip(xg[j] + hg[j]));
                let rg = acts[0].apply(at.clip(xg[h + j] + hg[h + j]));
                if self.linear_before_reset {
                    rh[j] = rg * hg[2 * h + j];
                } else {
                    rh[j] = rg * hs[j];
                }
            }
            if !self.linear_before_reset {
                // (r*h) Rh + Rbh
                let mut t = bias[gh + 2 * h..gh + 3 * h].to_vec();
                matvec_add(&r[2 * h * h..], &rh, &mut t);
                rh.copy_from_slice(&t);
            }
            for j in 0..h {
                let n = acts[1].apply(at.clip(xg[2 * h + j] + rh[j]));
                hs[j] = (1.0 - z[j]) * n + z[j] * hs[j];
            }
        });
        Ok(vec![y_tensor(at, &p, y)?, state_tensor(at, &p, hn)?])
    }
}

#[cfg(test)]
mod tests {
    use super::super::common::testing::*;
    use crate::prelude::*;

    fn sig(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    /// Straight-from-the-spec GRU, one direction, batch 1, no bias.
    fn naive(
        x: &[f32],
        w: &[f32],
        r: &[f32],
        seq: usize,
        i: usize,
        h: usize,
        lbr: bool,
    ) -> Vec<f64> {
        let mut hs = vec![0.0f64; h];
        let dot = |m: &[f32], row: usize, v: &[f64], k: usize| {
            (0..k).map(|c| m[row * k + c] as f64 * v[c]).sum::<f64>()
        };
        for t in 0..seq {
            let xt: Vec<f64> = x[t * i..(t + 1) * i].iter().map(|&v| v as f64).collect();
            let z: Vec<f64> = (0..h)
                .map(|j| sig(dot(w, j, &xt, i) + dot(r, j, &hs, h)))
                .collect();
            let rr: Vec<f64> = (0..h)
                .map(|j| sig(dot(w, h + j, &xt, i) + dot(r, h + j, &hs, h)))
                .collect();
            let rh: Vec<f64> = (0..h).map(|j| rr[j] * hs[j]).collect();
            let n: Vec<f64> = (0..h)
                .map(|j| {
                    let rec = if lbr {
                        rr[j] * dot(r, 2 * h + j, &hs, h)
                    } else {
                        dot(r, 2 * h + j, &rh, h)
                    };
                    (dot(w, 2 * h + j, &xt, i) + rec).tanh()
                })
                .collect();
            hs = (0..h).map(|j| (1.0 - z[j]) * n[j] + z[j] * hs[j]).collect();
        }
        hs
    }

    #[test]
    fn matches_naive_both_reset_modes() {
        let (seq, i, h) = (4, 3, 33);
        let x = t(&[seq, 1, i], 21);
        let w = t(&[1, 3 * h, i], 22);
        let r = t(&[1, 3 * h, h], 23);
        for lbr in [0, 1] {
            let a = Attributes::new()
                .with("hidden_size", Attr::Int(h as i64))
                .with("linear_before_reset", Attr::Int(lbr));
            let out = eval(
                "GRU",
                14,
                a,
                vec![Some(x.clone()), Some(w.clone()), Some(r.clone())],
                2,
            )
            .unwrap();
            let want = naive(
                x.as_slice().unwrap(),
                w.as_slice().unwrap(),
                r.as_slice().unwrap(),
                seq,
                i,
                h,
                lbr == 1,
            );
            let got = out[1].to_f64_vec().unwrap();
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-5, "lbr {lbr}: {g} vs {w}");
            }
        }
    }

    #[test]
    fn rnn_activation_alpha_and_clip() {
        // RNN with LeakyRelu(alpha 0.5) and clip 0.1 against a direct computation
        let (i, h) = (2, 3);
        let x = t(&[1, 1, i], 31);
        let w = t(&[1, h, i], 32);
        let r = t(&[1, h, h], 33);
        let a = Attributes::new()
            .with("hidden_size", Attr::Int(h as i64))
            .with("activations", Attr::Strings(vec!["LeakyRelu".into()]))
            .with("activation_alpha", Attr::Floats(vec![0.5]))
            .with("clip", Attr::Float(0.1));
        let out = eval(
            "RNN",
            14,
            a,
            vec![Some(x.clone()), Some(w.clone()), Some(r)],
            2,
        )
        .unwrap();
        let (xv, wv) = (x.as_slice::<f32>().unwrap(), w.as_slice::<f32>().unwrap());
        for j in 0..h {
            let pre = ((0..i)
                .map(|k| wv[j * i + k] as f64 * xv[k] as f64)
                .sum::<f64>())
            .clamp(-0.1, 0.1);
            let want = if pre >= 0.0 { pre } else { 0.5 * pre };
            assert!((out[1].to_f64_vec().unwrap()[j] - want).abs() < 1e-6);
        }
    }
}
