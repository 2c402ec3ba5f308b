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
    let st: Vec<isize> = broadcast_strides(x.shape(), out)
        .into_iter()
        .map(|s| s as isize)
        .collect();
    dispatch_any!(x.dtype(), T => {
        let v = strided_copy(x.as_slice::<T>()?, 0, out, &st)?;
        mk(x.dtype(), out.to_vec(), v)
    })
}

impl Op for Expand {
    fn op_type(&self) -> &str {
        "Expand"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let x = in_info(ctx, 0).cloned().unwrap_or_default();
        let shape = match (&x.shape, in_const(ctx, 1)) {
            (Some(xs), Some(t)) => {
                let target = shape_input(t, "Expand shape")?;
                let r = xs.len().max(target.len());
                let mut out = Vec::with_capacity(r);
                for i in 0..r {
                    let xd = (i + xs.len())
                        .checked_sub(r)
                        .map_or(Dim::Fixed(1), |j| xs[j].clone());
                    let td = (i + target.len()).checked_sub(r).map_or(1, |j| target[j]);
                    out.push(match (&xd, td) {
                        (_, 1) => xd,
                        (Dim::Fixed(a), t) => {
                            ensure!(*a == 1 || *a == t, "cannot expand dim {a} to {t}");
                            Dim::Fixed(t)
                        }
                        // a symbolic input dim is either 1 or equal to the target
                        (_, t) => Dim::Fixed(t),
                    });
                }
                Some(out)
            }
            _ => None,
        };
        Ok(vec![ValueInfo {
            dtype: x.dtype,
            shape,
        }])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let shape = shape_input(req(&inputs, 1)?, "Expand shape")?;
        let out = broadcast_shapes(&[x.shape(), &shape])?;
        Ok(vec![broadcast_to(x, &out)?])
    }
}
