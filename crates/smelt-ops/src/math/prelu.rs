//! PRelu: `x < 0 ? slope * x : x`, with `slope` broadcast to `x`'s shape (unidirectional).
//! A 1-D slope of length C on an input [N, C, ...] applies per channel (legacy exports).
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
        let mut s = take(&mut inputs, 1)?;
        // Models exported for opset < 7 carry a per-channel slope [C] for x [N, C, ...], which
        // numpy broadcasting would not align: place it on the channel axis.
        if s.rank() == 1
            && x.rank() > 2
            && s.len() == x.shape()[1]
            && s.len() != x.shape()[x.rank() - 1]
        {
            let mut shape = vec![1usize; x.rank() - 1];
            shape[0] = s.len();
            s = s.reshape(shape)?;
        }
        ensure!(
            x.dtype() == s.dtype(),
            "PRelu: x is {} but slope is {}",
            x.dtype(),
            s.dtype()
        );
        let out = broadcast_shapes(&[x.shape(), s.shape()])?;
        ensure!(
            out.as_slice() == x.shape(),
            "PRelu: slope {:?} does not broadcast to x {:?}",
            s.shape(),
            x.shape()
        );
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
