//! LRN (local response normalization across channels). X is `N x C x D1..`.
//! `square_sum[n,c,..] = sum of X[n,c',..]^2 for c' in [c - floor((size-1)/2),
//! c + ceil((size-1)/2)]` (clipped to the channels), `Y = X / (bias + alpha / size *
//! square_sum)^beta`. Floats; f16/bf16 compute in f32.

use super::common::*;
use crate::prelude::*;
use num_traits::Float;

#[derive(Debug)]
pub struct Lrn {
    alpha: f32,
    beta: f32,
    bias: f32,
    size: usize,
}

pub fn register(r: &mut Registry) {
    r.register("", "LRN", |ctx| {
        let size = ctx.attrs.req_int("size")?;
        ensure!(size > 0, "LRN: size must be positive, got {size}");
        Ok(Box::new(Lrn {
            alpha: ctx.attrs.float_or("alpha", 1e-4)?,
            beta: ctx.attrs.float_or("beta", 0.75)?,
            bias: ctx.attrs.float_or("bias", 1.0)?,
            size: size as usize,
        }))
    });
}

impl Lrn {
    fn run<T: FloatIo>(&self, x: &Tensor) -> Result<Tensor> {
        ensure!(
            x.rank() >= 2,
            "LRN: X must be N x C x ..., got shape {:?}",
            x.shape()
        );
        let sh = x.shape();
        let (nb, c) = (sh[0], sh[1]);
        let sp: usize = sh[2..].iter().product();
        let xs = float_input::<T>(x)?;
        let (lo, hi) = ((self.size - 1) / 2, self.size / 2);
        let k = cst::<T::C>(self.alpha as f64 / self.size as f64);
        let (bias, beta) = (cst::<T::C>(self.bias as f64), cst::<T::C>(self.beta as f64));
        let mut y = vec![cst::<T::C>(0.0); xs.len()];
        let mut acc = vec![cst::<T::C>(0.0); sp];
        for n in 0..nb {
            for ch in 0..c {
                acc.iter_mut().for_each(|a| *a = cst(0.0));
                let (c0, c1) = (ch.saturating_sub(lo), (ch + hi).min(c - 1));
                for cc in c0..=c1 {
                    let src = &xs[(n * c + cc) * sp..(n * c + cc + 1) * sp];
                    for (a, &v) in acc.iter_mut().zip(src) {
                        *a = *a + v * v;
                    }
                }
                let base = (n * c + ch) * sp;
                for i in 0..sp {
                    y[base + i] = xs[base + i] / (bias + k * acc[i]).powf(beta);
                }
            }
        }
        float_output::<T>(sh.to_vec(), y)
    }
}

impl Op for Lrn {
    fn op_type(&self) -> &str {
        "LRN"
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
            crate::norm_float!(x.dtype(), "LRN input", T => self.run::<T>(x)?),
        ])
    }
}
