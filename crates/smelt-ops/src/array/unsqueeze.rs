//! Unsqueeze: inserts size-1 dims at `axes` (positions in the output, negative counted from
//! the output's end). Axes are an attribute before opset 13, a required input from 13. Any dtype.

use super::common::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct Unsqueeze {
    attr_axes: Option<Vec<i64>>,
}

pub fn register(r: &mut Registry) {
    r.register("", "Unsqueeze", |ctx| {
        let attr_axes = if ctx.opset < 13 {
            Some(ctx.attrs.req_ints("axes")?)
        } else {
            None
        };
        Ok(Box::new(Unsqueeze { attr_axes }))
    });
}

fn unsqueeze_dims(dims: &[Dim], axes: &[i64]) -> Result<Vec<Dim>> {
    let r = dims.len() + axes.len();
    let ax = norm_axes(axes, r)?;
    let mut it = dims.iter();
    Ok((0..r)
        .map(|i| {
            if ax.contains(&i) {
                Dim::Fixed(1)
            } else {
                it.next().cloned().unwrap_or(Dim::Unknown)
            }
        })
        .collect())
}

impl Unsqueeze {
    fn axes(&self, t: Option<&Tensor>) -> Result<Vec<i64>> {
        match (&self.attr_axes, t) {
            (Some(a), _) => Ok(a.clone()),
            (None, Some(t)) => t.to_i64_vec(),
            (None, None) => bail!("Unsqueeze needs the axes input"),
        }
    }
}

impl Op for Unsqueeze {
    fn op_type(&self) -> &str {
        "Unsqueeze"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let x = in_info(ctx, 0).cloned().unwrap_or_default();
        if self.attr_axes.is_none() && in_const(ctx, 1).is_none() {
            return Ok(vec![ValueInfo {
                dtype: x.dtype,
                shape: None,
            }]);
        }
        let axes = self.axes(in_const(ctx, 1))?;
        let shape = match &x.shape {
            Some(s) => Some(unsqueeze_dims(s, &axes)?),
            None => None,
        };
        Ok(vec![ValueInfo {
            dtype: x.dtype,
            shape,
        }])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let axes = self.axes(opt(&inputs, 1))?;
        let dims: Vec<Dim> = x.shape().iter().map(|&d| Dim::Fixed(d)).collect();
        let shape: Vec<usize> = unsqueeze_dims(&dims, &axes)?
            .iter()
            .map(|d| d.fixed().unwrap_or(1))
            .collect();
        Ok(vec![x.reshape(shape)?])
    }
}
