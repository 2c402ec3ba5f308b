//! Squeeze: removes size-1 dims (the listed `axes`, or every size-1 dim). Axes are an
//! attribute before opset 13 and an optional int64 input from 13. Any dtype.

use super::common::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct Squeeze {
    /// Axes from the attribute (opset < 13).
    attr_axes: Option<Vec<i64>>,
}

pub fn register(r: &mut Registry) {
    r.register("", "Squeeze", |ctx| {
        Ok(Box::new(Squeeze {
            attr_axes: if ctx.opset < 13 {
                ctx.attrs.ints("axes")?
            } else {
                None
            },
        }))
    });
}

/// Output dims: `dims` with the axes removed (each must be 1 when known), or every dim known
/// to be 1 when `axes` is None.
fn squeeze_dims(dims: &[Dim], axes: Option<&[i64]>) -> Result<Vec<Dim>> {
    match axes {
        Some(axes) => {
            let ax = norm_axes(axes, dims.len())?;
            for &a in &ax {
                if let Dim::Fixed(n) = dims[a] {
                    ensure!(n == 1, "cannot squeeze axis {a} of size {n}");
                }
            }
            Ok(dims
                .iter()
                .enumerate()
                .filter(|(i, _)| !ax.contains(i))
                .map(|(_, d)| d.clone())
                .collect())
        }
        None => Ok(dims
            .iter()
            .filter(|d| **d != Dim::Fixed(1))
            .cloned()
            .collect()),
    }
}

impl Squeeze {
    fn axes(&self, t: Option<&Tensor>) -> Result<Option<Vec<i64>>> {
        match (&self.attr_axes, t) {
            (Some(a), _) => Ok(Some(a.clone())),
            (None, Some(t)) => Ok(Some(t.to_i64_vec()?)),
            (None, None) => Ok(None),
        }
    }
}

impl Op for Squeeze {
    fn op_type(&self) -> &str {
        "Squeeze"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let x = in_info(ctx, 0).cloned().unwrap_or_default();
        let has_axes_input = in_info(ctx, 1).is_some() || in_const(ctx, 1).is_some();
        if self.attr_axes.is_none() && has_axes_input && in_const(ctx, 1).is_none() {
            return Ok(vec![ValueInfo {
                dtype: x.dtype,
                shape: None,
            }]);
        }
        let axes = self.axes(in_const(ctx, 1))?;
        let shape = match &x.shape {
            // without axes, an unknown dim might be 1: the result is unknown
            Some(s) if axes.is_some() || s.iter().all(|d| d.fixed().is_some()) => {
                Some(squeeze_dims(s, axes.as_deref())?)
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
        let axes = self.axes(opt(&inputs, 1))?;
        let dims: Vec<Dim> = x.shape().iter().map(|&d| Dim::Fixed(d)).collect();
        let shape: Vec<usize> = squeeze_dims(&dims, axes.as_deref())?
            .iter()
            .map(|d| d.fixed().unwrap_or(0))
            .collect();
        Ok(vec![x.reshape(shape)?])
    }
}
