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
        Ok(Box::new(Lstm {
            at,
            input_forget: ctx.attrs.int_or("input_forget", 0)? != 0,
        }))
    });
}

impl Op for Lstm {
    fn op_type(&self) -> &str {
        "LSTM"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        Ok(infer(&self.at, ctx, 2))
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let at = &self.at;
        let p = prepare(at, &inputs, 4)?;
        let (h, dirs) = (p.hidden, at.dirs());
        let mut c = state(at, opt(&inputs, 6), dirs, p.batch, h, "initial_c")?;
        let peep = match opt(&inputs, 7) {
            Some(t) => {
                ensure!(
                    t.shape() == [dirs, 3 * h],
                    "P shape {:?}, expected {:?}",
                    t.shape(),
                    [dirs, 3 * h]
                );
                t.to_f64_vec()?
            }
            None => vec![0.0; dirs * 3 * h],
        };
        let mut gates = vec![0.0; 4 * h];
        let (gh, input) = (4 * h, p.input);
        let (y, hn) = run(at, &p, &mut c, h, |d, xt, hs, cs| {
            let (w, r) = (
                &p.w[d * gh * input..][..gh * input],
                &p.r[d * gh * h..][..gh * h],
            );
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
                let f = if self.input_forget {
                    1.0 - i
                } else {
                    acts[0].apply(at.clip(gates[2 * h + j] + pp[2 * h + j] * cprev))
                };
                let cc = acts[1].apply(at.clip(gates[3 * h + j]));
                let cn = f * cprev + i * cc;
                let o = acts[0].apply(at.clip(gates[h + j] + pp[h + j] * cn));
                cs[j] = cn;
                hs[j] = o * acts[2].apply(cn);
            }
        });
        Ok(vec![
            y_tensor(at, &p, y)?,
            state_tensor(at, &p, hn)?,
            state_tensor(at, &p, c)?,
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::super::common::testing::*;
    use crate::prelude::*;

    const H: usize = 5;
    const I: usize = 3;

    fn attrs(dir: &str, layout: i64) -> Attributes {
        Attributes::new()
            .with("hidden_size", Attr::Int(H as i64))
            .with("direction", Attr::String(dir.into()))
            .with("layout", Attr::Int(layout))
    }

    /// Slice `d` of a [dirs, ...] tensor as [1, ...].
    fn dir(t: &Tensor, d: usize) -> Tensor {
        let v = t.as_slice::<f32>().unwrap();
        let per = t.len() / t.shape()[0];
        let mut s = t.shape().to_vec();
        s[0] = 1;
        Tensor::from_vec(s, v[d * per..(d + 1) * per].to_vec()).unwrap()
    }

    #[test]
    fn bidirectional_is_forward_and_reverse() {
        let (seq, batch) = (4, 2);
        let x = t(&[seq, batch, I], 1);
        let w = t(&[2, 4 * H, I], 2);
        let r = t(&[2, 4 * H, H], 3);
        let b = t(&[2, 8 * H], 4);
        let p = t(&[2, 3 * H], 5);
        let h0 = t(&[2, batch, H], 6);
        let c0 = t(&[2, batch, H], 7);
        let lens = Tensor::from_vec(vec![batch], vec![4i32, 2]).unwrap();
        let inp = |d: Option<usize>| -> Vec<Option<Tensor>> {
            let f = |t: &Tensor| d.map_or(t.clone(), |d| dir(t, d));
            vec![
                Some(x.clone()),
                Some(f(&w)),
                Some(f(&r)),
                Some(f(&b)),
                Some(lens.clone()),
                Some(f(&h0)),
                Some(f(&c0)),
                Some(f(&p)),
            ]
        };
        let bi = eval("LSTM", 14, attrs("bidirectional", 0), inp(None), 3).unwrap();
        let fw = eval("LSTM", 14, attrs("forward", 0), inp(Some(0)), 3).unwrap();
        let rv = eval("LSTM", 14, attrs("reverse", 0), inp(Some(1)), 3).unwrap();
        assert_eq!(bi[0].shape(), &[seq, 2, batch, H]);
        let y = bi[0].as_slice::<f32>().unwrap();
        let (yf, yr) = (
            fw[0].as_slice::<f32>().unwrap(),
            rv[0].as_slice::<f32>().unwrap(),
        );
        for tt in 0..seq {
            for bb in 0..batch {
                for j in 0..H {
                    assert_eq!(
                        y[((tt * 2) * batch + bb) * H + j],
                        yf[(tt * batch + bb) * H + j]
                    );
                    assert_eq!(
                        y[((tt * 2 + 1) * batch + bb) * H + j],
                        yr[(tt * batch + bb) * H + j]
                    );
                    if tt >= 2 && bb == 1 {
                        assert_eq!(
                            y[((tt * 2) * batch + bb) * H + j],
                            0.0,
                            "steps past the length are zero"
                        );
                    }
                }
            }
        }
        close(&dir(&bi[1], 0), &fw[1]);
        close(&dir(&bi[1], 1), &rv[1]);
        close(&dir(&bi[2], 1), &rv[2]);
        // the reverse direction's first output step is its final state
        for j in 0..H {
            assert_eq!(yr[j], rv[1].as_slice::<f32>().unwrap()[j]);
        }
    }

    #[test]
    fn layout_1_is_transposed_layout_0() {
        let (seq, batch) = (3, 2);
        let x0 = t(&[seq, batch, I], 11);
        let xv = x0.as_slice::<f32>().unwrap();
        let mut x1 = vec![0f32; xv.len()];
        for s in 0..seq {
            for b in 0..batch {
                for i in 0..I {
                    x1[(b * seq + s) * I + i] = xv[(s * batch + b) * I + i];
                }
            }
        }
        let x1 = Tensor::from_vec(vec![batch, seq, I], x1).unwrap();
        let w = t(&[1, 4 * H, I], 12);
        let r = t(&[1, 4 * H, H], 13);
        let a = eval(
            "LSTM",
            14,
            attrs("forward", 0),
            vec![Some(x0), Some(w.clone()), Some(r.clone())],
            3,
        )
        .unwrap();
        let b = eval(
            "LSTM",
            14,
            attrs("forward", 1),
            vec![Some(x1), Some(w), Some(r)],
            3,
        )
        .unwrap();
        assert_eq!(b[0].shape(), &[batch, seq, 1, H]);
        assert_eq!(b[1].shape(), &[batch, 1, H]);
        let (ya, yb) = (
            a[0].as_slice::<f32>().unwrap(),
            b[0].as_slice::<f32>().unwrap(),
        );
        for s in 0..seq {
            for bb in 0..batch {
                for j in 0..H {
                    assert_eq!(ya[(s * batch + bb) * H + j], yb[(bb * seq + s) * H + j]);
                }
            }
        }
    }

    #[test]
    fn infer_shapes() {
        let at = super::super::common::RnnAttrs::parse(
            &attrs("bidirectional", 1),
            &["Sigmoid", "Tanh", "Tanh"],
        )
        .unwrap();
        let x = ValueInfo::new(
            DType::F32,
            vec![Dim::Sym("N".into()), Dim::Fixed(7), Dim::Fixed(I)],
        );
        let inputs = [Some(x)];
        let ctx = InferCtx {
            inputs: &inputs,
            consts: &[],
            n_outputs: 3,
        };
        let v = super::super::common::infer(&at, &ctx, 2);
        assert_eq!(
            v[0].shape,
            Some(vec![
                Dim::Sym("N".into()),
                Dim::Fixed(7),
                Dim::Fixed(2),
                Dim::Fixed(H)
            ])
        );
        assert_eq!(
            v[2].shape,
            Some(vec![Dim::Sym("N".into()), Dim::Fixed(2), Dim::Fixed(H)])
        );
        assert_eq!(v[1].dtype, Some(DType::F32));
    }

    #[test]
    fn bad_shapes_are_errors() {
        let x = t(&[2, 1, I], 1);
        let w = t(&[1, 4 * H, I + 1], 2);
        let r = t(&[1, 4 * H, H], 3);
        assert!(eval(
            "LSTM",
            14,
            attrs("forward", 0),
            vec![Some(x.clone()), Some(w), Some(r.clone())],
            3
        )
        .is_err());
        let w = t(&[1, 4 * H, I], 2);
        let lens = Tensor::from_vec(vec![1], vec![3i32]).unwrap();
        assert!(eval(
            "LSTM",
            14,
            attrs("forward", 0),
            vec![Some(x), Some(w), Some(r), None, Some(lens)],
            3
        )
        .is_err());
        let bad = Attributes::new().with(
            "activations",
            Attr::Strings(vec!["Nope".into(), "Tanh".into(), "Tanh".into()]),
        );
        assert!(eval("LSTM", 14, bad, vec![], 3).is_err());
    }
}
