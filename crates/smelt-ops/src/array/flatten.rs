//! Flatten: [d0..dn] -> [d0*..*d(axis-1), d(axis)*..*dn]. Axis in [-r, r]. Any dtype.

use super::common::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct Flatten {
    axis: i64,
}

pub fn register(r: &mut Registry) {
    r.register("", "Flatten", |ctx| {
        Ok(Box::new(Flatten {
            axis: ctx.attrs.int_or("axis", 1)?,
        }))
    });
}

fn split_at(axis: i64, rank: usize) -> Result<usize> {
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    ensure!(
        (0..=rank as i64).contains(&a),
        "Flatten axis {axis} out of range for rank {rank}"
    );
    Ok(a as usize)
}

impl Op for Flatten {
    fn op_type(&self) -> &str {
        "Flatten"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let x = in_info(ctx, 0).cloned().unwrap_or_default();
        let shape = x.shape.as_ref().and_then(|s| {
            let a = split_at(self.axis, s.len()).ok()?;
            let prod = |ds: &[Dim]| {
                ds.iter()
                    .map(|d| d.fixed())
                    .collect::<Option<Vec<_>>>()
                    .map(|v| Dim::Fixed(v.iter().product()))
                    .unwrap_or(Dim::Unknown)
            };
            Some(vec![prod(&s[..a]), prod(&s[a..])])
        });
        Ok(vec![ValueInfo {
            dtype: x.dtype,
            shape: shape.or(Some(vec![Dim::Unknown, Dim::Unknown])),
        }])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let a = split_at(self.axis, x.rank())?;
        let outer: usize = x.shape()[..a].iter().product();
        let inner: usize = x.shape()[a..].iter().product();
        Ok(vec![x.reshape(vec![outer, inner])?])
    }
}
