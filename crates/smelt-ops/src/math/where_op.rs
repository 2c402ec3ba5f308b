//! Where: `cond ? x : y` element-wise with three-way broadcasting. `cond` is bool; `x` and
//! `y` share any dtype, which the output keeps.

use super::kernels::*;
use crate::prelude::*;

#[derive(Debug)]
struct Where;

/// Selects from `x` where `cond` holds, else from `y`, broadcasting all three.
pub fn select(cond: &Tensor, x: &Tensor, y: &Tensor) -> Result<Tensor> {
    ensure!(
        cond.dtype() == DType::Bool,
        "Where: condition must be bool, got {}",
        cond.dtype()
    );
    let dt = x.dtype();
    ensure!(
        dt == y.dtype(),
        "Where: x and y have different dtypes {dt} and {}",
        y.dtype()
    );
    let out = dispatch_any!(dt, T => {
        if cond.shape() == x.shape() && x.shape() == y.shape() {
            let (c, a, b) = (cond.as_slice::<bool>()?, x.as_slice::<T>()?, y.as_slice::<T>()?);
            let v: Vec<T> = c.iter().zip(a.iter().zip(b)).map(|(&c, (a, b))| if c { a.clone() } else { b.clone() }).collect();
            Tensor::from_vec(x.shape().to_vec(), v)
        } else {
            ternary_map::<bool, T, T, T>(cond, x, y, |c, a, b| if c { a } else { b })
        }
    })?;
    out.with_dtype(dt)
}

impl Op for Where {
    fn op_type(&self) -> &str {
        "Where"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let dt = ctx.inputs.get(1).cloned().flatten().and_then(|v| v.dtype);
        infer_broadcast(ctx, dt)
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        Ok(vec![select(
            req(&inputs, 0)?,
            req(&inputs, 1)?,
            req(&inputs, 2)?,
        )?])
    }
}

pub fn register(r: &mut Registry) {
    r.register("", "Where", |_| Ok(Box::new(Where)));
}
