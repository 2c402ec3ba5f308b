//! GlobalAveragePool: mean over all spatial dims. Float dtypes.
//! `X: [N, C, D1..Dn] -> Y: [N, C, 1..1]`.

use super::pool::{global_reduce, global_shape, PoolFloat};
use crate::prelude::*;

#[derive(Debug)]
pub struct GlobalAveragePool;

pub fn register(r: &mut Registry) {
    r.register("", "GlobalAveragePool", |_| Ok(Box::new(GlobalAveragePool)));
}

impl Op for GlobalAveragePool {
    fn op_type(&self) -> &str {
        "GlobalAveragePool"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let x = ctx.inputs.first().cloned().flatten().unwrap_or_default();
        let shape = x
            .concrete_shape()
            .and_then(|s| global_shape(&s, "GlobalAveragePool").ok())
            .map(|(s, _, _)| s.into_iter().map(Dim::Fixed).collect());
        Ok(vec![ValueInfo {
            dtype: x.dtype,
            shape,
        }])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        Ok(vec![
            dispatch_float!(x.dtype(), T => global_reduce::<T>(x, "GlobalAveragePool", |p| {
            let n = p.len() as f64;
            T::from_f64(p.iter().map(|v| v.to_f64()).sum::<f64>() / n)
        })?, other => return Err(Error::dtype(other, "GlobalAveragePool"))),
        ])
    }
}
