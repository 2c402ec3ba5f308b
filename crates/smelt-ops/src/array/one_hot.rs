//! OneHot: out has indices' shape with a new dim of size `depth` inserted at `axis`; the
//! entry at the index position is values[1], the rest values[0]. Indices (any numeric dtype,
//! truncated) in [-depth, depth) wrap; others give an all-off row. Any values dtype.

use super::common::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct OneHot {
    axis: i64,
}

pub fn register(r: &mut Registry) {
    r.register("", "OneHot", |ctx| {
        Ok(Box::new(OneHot {
            axis: ctx.attrs.int_or("axis", -1)?,
        }))
    });
}

impl Op for OneHot {
    fn op_type(&self) -> &str {
        "OneHot"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let it = req(&inputs, 0)?;
        let dt = req(&inputs, 1)?;
        let vals = req(&inputs, 2)?;
        ensure!(
            dt.len() == 1,
            "OneHot depth must hold one value, has shape {:?}",
            dt.shape()
        );
        ensure!(
            vals.len() == 2,
            "OneHot values must hold [off, on], has shape {:?}",
            vals.shape()
        );
        let depth = dt.to_f64_vec()?[0];
        ensure!(
            depth >= 1.0 && depth < (1u64 << 40) as f64,
            "OneHot depth {depth} must be >= 1"
        );
        let depth = depth as usize;
        let a = norm_axis(self.axis, it.rank() + 1)?;
        let idx = it.to_f64_vec()?;
        let outer: usize = it.shape()[..a].iter().product();
        let inner: usize = it.shape()[a..].iter().product();
        let mut shape = it.shape().to_vec();
        shape.insert(a, depth);
        dispatch_any!(vals.dtype(), T => {
            let v = vals.as_slice::<T>()?;
            let mut out = vec![v[0].clone(); numel(&shape)];
            for o in 0..outer {
                for i in 0..inner {
                    let x = idx[o * inner + i].trunc() as i64;
                    let x = if x < 0 { x + depth as i64 } else { x };
                    if (0..depth as i64).contains(&x) {
                        out[(o * depth + x as usize) * inner + i] = v[1].clone();
                    }
                }
            }
            Ok(vec![mk(vals.dtype(), shape, out)?])
        })
    }
}
