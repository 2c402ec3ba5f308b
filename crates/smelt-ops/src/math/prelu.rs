//! PRelu: `x < 0 ? slope * x : x`, with `slope` broadcast to `x`'s shape (unidirectional).
//! Float and integer types; the output has `x`'s shape and dtype.

use super::kernels::*;
use crate::prelude::*;

#[derive(Debug)]
struct PRelu;

impl Op for PRelu {
    fn op_type(&self) -> &str {
        "PRelu"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        infer_same(ctx)
    }
    fn eval(&self, _: &EvalCtx, mut inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = take(&mut inputs, 0)?;
        let s = take(&mut inputs, 1)?;
        ensure!(x.dtype() == s.dtype(), "PRelu: x is {} but slope is {}", x.dtype(), s.dtype());
        let out = broadcast_shapes(&[x.shape(), s.shape()])?;
        ensure!(out.as_slice() == x.shape(), "PRelu: slope {:?} does not broadcast to x {:?}", s.shape(), x.shape());
        let y = dispatch_numeric!(x.dtype(), T => {
            let z = T::zero();
            zip_same::<T>(x, s, |v, a| if v < z { v.mul(a) } else { v })
        }, other => Err(Error::dtype(other, "PRelu")))?;
        Ok(vec![y])
    }
}

pub fn register(r: &mut Registry) {
    r.register("", "PRelu", |_| Ok(Box::new(PRelu)));
}
