//! LSTM (opsets 7, 14 adds `layout`, 22 bf16): gates i, o, f, c (W / R / B rows in that
//! order), optional peepholes P [dirs, 3*H] (i, o, f), `input_forget` couples f = 1 - i.
//! Activations per direction: f (gates, default Sigmoid), g (cell input, Tanh), h (output, Tanh).
//!   i = f(Wi x + Ri h + Pi*c + Wbi + Rbi)      f = f(Wf x + Rf h + Pf*c + Wbf + Rbf)
//!   c' = f*c + i*g(Wc x + Rc h + Wbc + Rbc)    o = f(Wo x + Ro h + Po*c' + Wbo + Rbo)
//!   h' = o*h(c')
//! `clip` bounds the pre-activations. Outputs Y, Y_h, Y_c (see common.rs for shapes).

use super::common::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct Lstm {
    at: RnnAttrs,
    input_forget: bool,
}

pub fn register(r: &mut Registry) {
    r.register("", "LSTM", |ctx| {
        let at = RnnAttrs::parse(ctx.attrs, &["Sigmoid", "Tanh", "Tanh"])?;
        Ok(Box::new(Lstm { at, input_forget: ctx.attrs.int_or("input_forget", 0)? != 0 }))
    });
}

impl Op for Lstm {
    fn op_type(&self) -> &str {
        "LSTM"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let at = &self.at;
        let p = prepare(at, &inputs, 4)?;
        let (h, dirs) = (p.hidden, at.dirs());
        let mut c = state(at, opt(&inputs, 6), dirs, p.batch, h, "initial_c")?;
        let peep = match opt(&inputs, 7) {
            Some(t) => {
                ensure!(t.shape() == [dirs, 3 * h], "P shape {:?}, expected {:?}", t.shape(), [dirs, 3 * h]);
                t.to_f64_vec()?
            }
            None => vec![0.0; dirs * 3 * h],
        };
        let mut gates = vec![0.0; 4 * h];
        let (gh, input) = (4 * h, p.input);
        let (y, hn) = run(at, &p, &mut c, h, |d, xt, hs, cs| {
            let (w, r) = (&p.w[d * gh * input..][..gh * input], &p.r[d * gh * h..][..gh * h]);
            let bias = &p.b[d * 2 * gh..][..2 * gh];
            for (k, g) in gates.iter_mut().enumerate() {
                *g = bias[k] + bias[gh + k];
            }
            matvec_add(w, xt, &mut gates);
            matvec_add(r, hs, &mut gates);
            let pp = &peep[d * 3 * h..][..3 * h];
            let acts = &at.acts[d];
            for j in 0..h {
                let cprev = cs[j];
                let i = acts[0].apply(at.clip(gates[j] + pp[j] * cprev));
                let f = if self.input_forget { 1.0 - i } else { acts[0].apply(at.clip(gates[2 * h + j] + pp[2 * h + j] * cprev)) };
                let cc = acts[1].apply(at.clip(gates[3 * h + j]));
                let cn = f * cprev + i * cc;
                let o = acts[0].apply(at.clip(gates[h + j] + pp[h + j] * cn));
                cs[j] = cn;
                hs[j] = o * acts[2].apply(cn);
            }
        });
        Ok(vec![y_tensor(at, &p, y)?, state_tensor(at, &p, hn)?, state_tensor(at, &p, c)?])
    }
}
