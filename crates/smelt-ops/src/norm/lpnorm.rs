//! LpNormalization: `x / ||x||_p` along `axis` (default -1), `p` 1 or 2 (default 2).
//! A zero norm gives 0 (not NaN). Floats; f16/bf16 compute in f32.

use super::common::*;
use crate::prelude::*;
use num_traits::Float;

#[derive(Debug)]
pub struct LpNorm {
    axis: i64,
    p: i64,
}

pub fn register(r: &mut Registry) {
    r.register("", "LpNormalization", |ctx| {
        let p = ctx.attrs.int_or("p", 2)?;
        ensure!(
            p == 1 || p == 2,
            "LpNormalization: p must be 1 or 2, got {p}"
        );
        Ok(Box::new(LpNorm {
            axis: ctx.attrs.int_or("axis", -1)?,
            p,
        }))
    });
}

/// Normalizes `outer x n x inner` along the middle dim, in place.
fn lp<F: Float>(x: &mut [F], (outer, n, inner): (usize, usize, usize), p: i64) {
    let mut acc = vec![F::zero(); inner];
    for o in 0..outer {
        let blk = &mut x[o * n * inner..(o + 1) * n * inner];
        acc.iter_mut().for_each(|a| *a = F::zero());
        for k in 0..n {
            for (a, &v) in acc.iter_mut().zip(&blk[k * inner..(k + 1) * inner]) {
                *a = *a + if p == 1 { v.abs() } else { v * v };
            }
        }
        for a in acc.iter_mut() {
            let nrm = if p == 1 { *a } else { a.sqrt() };
            *a = if nrm == F::zero() {
                F::zero()
            } else {
                F::one() / nrm
            };
        }
        for k in 0..n {
            for (v, &a) in blk[k * inner..(k + 1) * inner].iter_mut().zip(&acc) {
                *v = *v * a;
            }
        }
    }
}

impl LpNorm {
    fn run<T: FloatIo>(&self, x: &Tensor) -> Result<Tensor> {
        ensure!(x.rank() > 0, "LpNormalization: input must have rank >= 1");
        let a = norm_axis(self.axis, x.rank())?;
        let mut v = float_input::<T>(x)?.into_owned();
        lp(&mut v, split3(x.shape(), a), self.p);
        float_output::<T>(x.shape().to_vec(), v)
    }
}

impl Op for LpNorm {
    fn op_type(&self) -> &str {
        "LpNormalization"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        Ok(vec![ctx
            .inputs
            .first()
            .cloned()
            .flatten()
            .unwrap_or_default()])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        Ok(vec![
            crate::norm_float!(x.dtype(), "LpNormalization input", T => self.run::<T>(x)?),
        ])
    }
}
