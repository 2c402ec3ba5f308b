//! BatchNormalization. X is `N x C x D1..` (rank >= 2; rank 1 is read as `N` with C = 1).
//!
//! Inference: `Y = (X - mean) / sqrt(var + epsilon) * scale + B`, per channel; the parameters
//! have C elements (or `C x D1..` elements for the opset < 9 `spatial=0` form).
//! Training (`training_mode=1` from opset 14; before, `is_test=0` or more than one declared
//! output): mean / population variance over every dim but C normalize X, and the outputs
//! are Y, running_mean = mean*momentum + batch_mean*(1-momentum), running_var (likewise), then
//! (opset < 14) saved batch mean and variance. Parameter dtypes may differ from X's (opset 15).

use super::common::*;
use crate::prelude::*;
use num_traits::Float;

#[derive(Debug)]
pub struct BatchNorm {
    eps: f32,
    momentum: f32,
    training: bool,
}

/// Whether a BatchNormalization node trains: `training_mode` from opset 14; before, more
/// than one declared output (and, before opset 7, `is_test=0`).
pub fn training(opset: i64, attrs: &crate::prelude::Attributes, n_outputs: usize) -> Result<bool> {
    Ok(if opset >= 14 {
        attrs.int_or("training_mode", 0)? != 0
    } else if opset < 7 {
        attrs.int_or("is_test", 0)? == 0 && n_outputs > 1
    } else {
        n_outputs > 1
    })
}

pub fn register(r: &mut Registry) {
    r.register("", "BatchNormalization", |ctx| {
        let training = training(ctx.opset, ctx.attrs, ctx.n_outputs)?;
        Ok(Box::new(BatchNorm {
            eps: ctx.attrs.float_or("epsilon", 1e-5)?,
            momentum: ctx.attrs.float_or("momentum", 0.9)?,
            training,
        }))
    });
}

impl BatchNorm {
    /// The epsilon added to the variance.
    pub fn epsilon(&self) -> f32 {
        self.eps
    }
    /// Whether the node normalizes by batch statistics (training) rather than the running
    /// mean and variance it is given.
    pub fn is_training(&self) -> bool {
        self.training
    }

    fn run<T: FloatIo>(&self, inputs: &[Option<Tensor>]) -> Result<Vec<Tensor>> {
        let x = req(inputs, 0)?;
        ensure!(x.rank() >= 1, "BatchNormalization: X must have rank >= 1");
        let sh = x.shape();
        let (nb, c) = (sh[0], if sh.len() > 1 { sh[1] } else { 1 });
        let sp: usize = sh.iter().skip(2).product();
        let names = ["scale", "B", "input_mean", "input_var"];
        let mut ps: Vec<Vec<T::C>> = Vec::new();
        for (i, nm) in names.iter().enumerate() {
            let p: Vec<T::C> = param(req(inputs, i + 1)?, nm)?;
            ensure!(
                p.len() == c || (p.len() == c * sp && !self.training),
                "BatchNormalization: {nm} has {} elements, expected {c}",
                p.len()
            );
            ps.push(p);
        }
        let xs = float_input::<T>(x)?;
        let eps = cst::<T::C>(self.eps as f64);
        let one = cst::<T::C>(1.0);
        let mut y = vec![cst::<T::C>(0.0); xs.len()];
        if !self.training {
            for n in 0..nb {
                for ch in 0..c {
                    let base = (n * c + ch) * sp;
                    for i in 0..sp {
                        let p = if ps[0].len() == c { ch } else { ch * sp + i };
                        let a = ps[0][p] / (ps[3][p] + eps).sqrt();
                        y[base + i] = (xs[base + i] - ps[2][p]) * a + ps[1][p];
                    }
                }
            }
            return Ok(vec![float_output::<T>(sh.to_vec(), y)?]);
        }
        // batch statistics per channel
        let cnt = cst::<T::C>((nb * sp) as f64);
        let mut bm = vec![cst::<T::C>(0.0); c];
        let mut bv = vec![cst::<T::C>(0.0); c];
        for ch in 0..c {
            let mut s = cst::<T::C>(0.0);
            for n in 0..nb {
                let base = (n * c + ch) * sp;
                s = s + sum_map(&xs[base..base + sp], |v| v);
            }
            let m = s / cnt;
            let mut q = cst::<T::C>(0.0);
            for n in 0..nb {
                let base = (n * c + ch) * sp;
                q = q + sum_map(&xs[base..base + sp], |v| (v - m) * (v - m));
            }
            bm[ch] = m;
            bv[ch] = q / cnt;
            let a = ps[0][ch] / (bv[ch] + eps).sqrt();
            for n in 0..nb {
                let base = (n * c + ch) * sp;
                for i in 0..sp {
                    y[base + i] = (xs[base + i] - m) * a + ps[1][ch];
                }
            }
        }
        let mo = cst::<T::C>(self.momentum as f64);
        let rm: Vec<T::C> = (0..c).map(|i| ps[2][i] * mo + bm[i] * (one - mo)).collect();
        let rv: Vec<T::C> = (0..c).map(|i| ps[3][i] * mo + bv[i] * (one - mo)).collect();
        let (mdt, vdt) = (req(inputs, 3)?.dtype(), req(inputs, 4)?.dtype());
        Ok(vec![
            float_output::<T>(sh.to_vec(), y)?,
            floats_as(mdt, vec![c], rm)?,
            floats_as(vdt, vec![c], rv)?,
            floats_as(mdt, vec![c], bm)?,
            floats_as(vdt, vec![c], bv)?,
        ])
    }
}

impl Op for BatchNorm {
    fn op_type(&self) -> &str {
        "BatchNormalization"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let mut out = vec![ctx.inputs.first().cloned().flatten().unwrap_or_default()];
        for i in 1..ctx.n_outputs {
            out.push(
                ctx.inputs
                    .get(if i % 2 == 1 { 3 } else { 4 })
                    .cloned()
                    .flatten()
                    .unwrap_or_default(),
            );
        }
        Ok(out)
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        crate::norm_float!(x.dtype(), "BatchNormalization input", T => self.run::<T>(&inputs))
    }
}
