//! GlobalMaxPool: max over all spatial dims. `X: [N, C, D1..Dn] -> Y: [N, C, 1..1]`.
//! Float dtypes (any numeric dtype is accepted). A NaN in a plane gives NaN.

use super::pool::{global_reduce, global_shape};
use crate::prelude::*;

#[derive(Debug)]
pub struct GlobalMaxPool;

pub fn register(r: &mut Registry) {
    r.register("", "GlobalMaxPool", |_| Ok(Box::new(GlobalMaxPool)));
}

// `v != v` is the NaN test for a generic PartialOrd element.
#[allow(clippy::eq_op)]
fn plane_max<T: Copy + PartialOrd>(p: &[T]) -> T {
    let mut m = p[0];
    for &v in &p[1..] {
        if v > m || (v != v && m == m) {
            m = v;
        }
    }
    m
}

impl Op for GlobalMaxPool {
    fn op_type(&self) -> &str {
        "GlobalMaxPool"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let x = ctx.inputs.first().cloned().flatten().unwrap_or_default();
        let shape = x
            .concrete_shape()
            .and_then(|s| global_shape(&s, "GlobalMaxPool").ok())
            .map(|(s, _, _)| s.into_iter().map(Dim::Fixed).collect());
        Ok(vec![ValueInfo {
            dtype: x.dtype,
            shape,
        }])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        Ok(vec![
            dispatch_numeric!(x.dtype(), T => global_reduce::<T>(x, "GlobalMaxPool", plane_max::<T>)?, other => return Err(Error::dtype(other, "GlobalMaxPool"))),
        ])
    }
}
