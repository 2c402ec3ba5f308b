//! GlobalLpPool: `(sum |x|^p)^(1/p)` over all spatial dims (`p` defaults to 2). Float dtypes.
//! `X: [N, C, D1..Dn] -> Y: [N, C, 1..1]`.

use super::pool::{global_reduce, global_shape, PoolFloat};
use crate::prelude::*;

#[derive(Debug)]
pub struct GlobalLpPool {
    p: f64,
}

pub fn register(r: &mut Registry) {
    r.register("", "GlobalLpPool", |ctx| {
        Ok(Box::new(GlobalLpPool { p: lp_attr(ctx)? }))
    });
}

impl Op for GlobalLpPool {
    fn op_type(&self) -> &str {
        "GlobalLpPool"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let x = ctx.inputs.first().cloned().flatten().unwrap_or_default();
        let shape = x
            .concrete_shape()
            .and_then(|s| global_shape(&s, "GlobalLpPool").ok())
            .map(|(s, _, _)| s.into_iter().map(Dim::Fixed).collect());
        Ok(vec![ValueInfo {
            dtype: x.dtype,
            shape,
        }])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let p = self.p;
        Ok(vec![
            dispatch_float!(x.dtype(), T => global_reduce::<T>(x, "GlobalLpPool", |xs| {
            T::from_f64(xs.iter().map(|v| v.to_f64().abs().powf(p)).sum::<f64>().powf(1.0 / p))
        })?, other => return Err(Error::dtype(other, "GlobalLpPool"))),
        ])
    }
}

/// The `p` attribute: a float at opset 1, an int (default 2) later.
fn lp_attr(ctx: &OpCtx) -> Result<f64> {
    let p = match ctx.attrs.get("p") {
        Some(Attr::Float(f)) => *f as f64,
        _ => ctx.attrs.int_or("p", 2)? as f64,
    };
    ensure!(p > 0.0, "GlobalLpPool: p must be positive, got {p}");
    Ok(p)
}
