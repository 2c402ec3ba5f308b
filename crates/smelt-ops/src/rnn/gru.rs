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
        Ok(Box::new(Gru { at, linear_before_reset: ctx.attrs.int_or("linear_before_reset", 0)? != 0 }))
    });
}

impl Op for Gru {
    fn op_type(&self) -> &str {
        "GRU"
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
            let (w, r) = (&p.w[d * gh * input..][..gh * input], &p.r[d * gh * h..][..gh * h]);
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
