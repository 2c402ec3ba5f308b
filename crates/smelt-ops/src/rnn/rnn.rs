//! RNN (opsets 7, 14 adds `layout`, 22 bf16): h' = f(Wi x + Ri h + Wbi + Rbi), activation
//! per direction default Tanh; `clip` bounds the pre-activation. Outputs Y, Y_h.

use super::common::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct Rnn {
    at: RnnAttrs,
}

pub fn register(r: &mut Registry) {
    r.register("", "RNN", |ctx| {
        Ok(Box::new(Rnn {
            at: RnnAttrs::parse(ctx.attrs, &["Tanh"])?,
        }))
    });
}

impl Op for Rnn {
    fn op_type(&self) -> &str {
        "RNN"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        Ok(infer(&self.at, ctx, 1))
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let at = &self.at;
        let p = prepare(at, &inputs, 1)?;
        let (h, input) = (p.hidden, p.input);
        let mut g = vec![0.0; h];
        let (y, hn) = run(at, &p, &mut [], 0, |d, xt, hs, _| {
            let bias = &p.b[d * 2 * h..][..2 * h];
            for (k, v) in g.iter_mut().enumerate() {
                *v = bias[k] + bias[h + k];
            }
            matvec_add(&p.w[d * h * input..][..h * input], xt, &mut g);
            matvec_add(&p.r[d * h * h..][..h * h], hs, &mut g);
            for (o, &v) in hs.iter_mut().zip(&g) {
                *o = at.acts[d][0].apply(at.clip(v));
            }
        });
        Ok(vec![y_tensor(at, &p, y)?, state_tensor(at, &p, hn)?])
    }
}
