//! Expand: broadcasts the input to `shape` (numpy rules, both ways: a 1 in `shape` keeps the
//! input's dim). Any dtype.

use super::common::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct Expand;

pub fn register(r: &mut Registry) {
    r.register("", "Expand", |_| Ok(Box::new(Expand)));
}

/// Copies `x` broadcast to `out` (which must be a valid broadcast target of x's shape).
pub fn broadcast_to(x: &Tensor, out: &[usize]) -> Result<Tensor> {
    if x.shape() == out {
        return Ok(x.clone());
    }
    let st: Vec<isize> = broadcast_strides(x.shape(), out).into_iter().map(|s| s as isize).collect();
    dispatch_any!(x.dtype(), T => {
        let v = strided_copy(x.as_slice::<T>()?, 0, out, &st)?;
        mk(x.dtype(), out.to_vec(), v)
    })
}

impl Op for Expand {
    fn op_type(&self) -> &str {
        "Expand"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let shape = shape_input(req(&inputs, 1)?, "Expand shape")?;
        let out = broadcast_shapes(&[x.shape(), &shape])?;
        Ok(vec![broadcast_to(x, &out)?])
    }
}
