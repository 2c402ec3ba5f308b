//! MeanVarianceNormalization: `(X - E[X]) / (sqrt(E[X^2] - E[X]^2) + 1e-9)`, expectations
//! over `axes` (default [0, 2, 3]). Floats; f16/bf16 compute in f32.

use super::common::*;
use crate::prelude::*;
use crate::reduce::kernel::Plan;

#[derive(Debug)]
pub struct Mvn {
    axes: Vec<i64>,
}

pub fn register(r: &mut Registry) {
    r.register("", "MeanVarianceNormalization", |ctx| {
        Ok(Box::new(Mvn {
            axes: ctx.attrs.ints_or("axes", vec![0, 2, 3])?,
        }))
    });
}

impl Mvn {
    fn run<T: FloatIo>(&self, x: &Tensor) -> Result<Tensor> {
        let axes = norm_axes(&self.axes, x.rank())?;
        let plan = Plan::new(x.shape(), &axes);
        let xs = float_input::<T>(x)?;
        let z = cst::<T::C>(0.0);
        // statistics in f64: E[x^2] - E[x]^2 cancels badly in f32 when the variance is small
        let xd = x.to_f64_vec()?;
        let n = plan.r as f64;
        let md: Vec<f64> = plan
            .fold(&xd, 0.0, |a, v, _| a + v, |a, b| a + b)
            .into_iter()
            .map(|s| s / n)
            .collect();
        let qd: Vec<f64> = plan
            .fold(&xd, 0.0, |a, v, _| a + v * v, |a, b| a + b)
            .into_iter()
            .map(|s| s / n)
            .collect();
        let m: Vec<T::C> = md.iter().map(|&v| cst::<T::C>(v)).collect();
        let inv: Vec<T::C> = md
            .iter()
            .zip(&qd)
            .map(|(&m, &q)| cst::<T::C>(1.0 / ((q - m * m).max(0.0).sqrt() + 1e-9)))
            .collect();
        // each element's statistics slot: strides of the keepdims shape broadcast to X
        let kshape = plan.out_shape(true);
        let st = broadcast_strides(&kshape, x.shape());
        let mut y = vec![z; xs.len()];
        for_each_broadcast(x.shape(), &[st], |i, o| {
            y[i] = (xs[i] - m[o[0]]) * inv[o[0]]
        });
        float_output::<T>(x.shape().to_vec(), y)
    }
}

impl Op for Mvn {
    fn op_type(&self) -> &str {
        "MeanVarianceNormalization"
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
            crate::norm_float!(x.dtype(), "MeanVarianceNormalization input", T => self.run::<T>(x)?),
        ])
    }
}
