//! Concat: joins inputs of equal rank along `axis` (all other dims must agree). Any dtype.

use super::common::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct Concat {
    axis: i64,
}

pub fn register(r: &mut Registry) {
    r.register("", "Concat", |ctx| {
        Ok(Box::new(Concat {
            axis: ctx.attrs.req_int("axis")?,
        }))
    });
}

impl Op for Concat {
    fn op_type(&self) -> &str {
        "Concat"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let infos: Vec<ValueInfo> = ctx
            .inputs
            .iter()
            .map(|i| i.clone().unwrap_or_default())
            .collect();
        let dtype = infos.iter().find_map(|i| i.dtype);
        let Some(first) = infos.iter().find_map(|i| i.shape.clone()) else {
            return Ok(vec![ValueInfo { dtype, shape: None }]);
        };
        let a = norm_axis(self.axis, first.len())?;
        let mut shape = first.clone();
        let mut sum = Some(0usize);
        for i in &infos {
            let Some(s) = &i.shape else {
                sum = None;
                continue;
            };
            ensure!(
                s.len() == first.len(),
                "Concat inputs have ranks {} and {}",
                first.len(),
                s.len()
            );
            for (d, dim) in s.iter().enumerate() {
                if d != a && shape[d].fixed().is_none() && dim.fixed().is_some() {
                    shape[d] = dim.clone();
                }
            }
            sum = match (sum, s[a].fixed()) {
                (Some(x), Some(y)) => Some(x + y),
                _ => None,
            };
        }
        shape[a] = sum.map(Dim::Fixed).unwrap_or(Dim::Unknown);
        Ok(vec![ValueInfo {
            dtype,
            shape: Some(shape),
        }])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let xs: Vec<&Tensor> = inputs.iter().flatten().collect();
        ensure!(!xs.is_empty(), "Concat needs at least one input");
        let x0 = xs[0];
        let r = x0.rank();
        let a = norm_axis(self.axis, r)?;
        let mut shape = x0.shape().to_vec();
        shape[a] = 0;
        for (k, x) in xs.iter().enumerate() {
            ensure!(
                x.dtype() == x0.dtype(),
                "Concat input #{k} is {}, input #0 is {}",
                x.dtype(),
                x0.dtype()
            );
            ensure!(
                x.rank() == r,
                "Concat input #{k} has rank {}, input #0 has rank {r}",
                x.rank()
            );
            for d in 0..r {
                ensure!(
                    d == a || x.shape()[d] == x0.shape()[d],
                    "Concat input #{k} has shape {:?}, incompatible with {:?} on axis {a}",
                    x.shape(),
                    x0.shape()
                );
            }
            shape[a] += x.shape()[a];
        }
        if xs.len() == 1 {
            return Ok(vec![x0.clone()]);
        }
        let outer: usize = shape[..a].iter().product();
        let inner: usize = shape[a + 1..].iter().product();
        dispatch_any!(x0.dtype(), T => {
            let srcs: Vec<&[T]> = xs.iter().map(|x| x.as_slice::<T>()).collect::<Result<_>>()?;
            let mut out: Vec<T> = Vec::with_capacity(numel(&shape));
            for o in 0..outer {
                for (x, s) in xs.iter().zip(&srcs) {
                    let chunk = x.shape()[a] * inner;
                    out.extend_from_slice(&s[o * chunk..(o + 1) * chunk]);
                }
            }
            Ok(vec![mk(x0.dtype(), shape, out)?])
        })
    }
}
