//! Clip: `min(max(x, lo), hi)` element-wise (so `lo > hi` gives `hi`, NaN stays NaN).
//! Opset < 11: `min` / `max` float attributes (float types only). Opset >= 11: optional
//! scalar inputs 1 (min) and 2 (max) of the input's dtype; any numeric dtype from opset 12.

use super::kernels::*;
use crate::prelude::*;

#[derive(Debug)]
struct Clip {
    /// Bounds from attributes (opset < 11); None means taken from inputs.
    attr_bounds: Option<(f64, f64)>,
}

/// The single element of a bound tensor, as `T`.
fn bound<T: Elem + Copy>(t: Option<&Tensor>, what: &str) -> Result<Option<T>> {
    let Some(t) = t else { return Ok(None) };
    ensure!(
        t.len() == 1,
        "Clip: {what} must be a scalar, got shape {:?}",
        t.shape()
    );
    Ok(Some(
        t.as_slice::<T>()
            .map_err(|_| Error::invalid(format!("Clip: {what} has dtype {}", t.dtype())))?[0],
    ))
}

fn clip<T: Arith>(x: Tensor, lo: Option<T>, hi: Option<T>) -> Result<Tensor> {
    match (lo, hi) {
        (None, None) => Ok(x),
        (Some(l), None) => map_inplace::<T>(x, |v| if v < l { l } else { v }),
        (None, Some(h)) => map_inplace::<T>(x, |v| if v > h { h } else { v }),
        (Some(l), Some(h)) => map_inplace::<T>(x, |v| {
            let v = if v < l { l } else { v };
            if v > h {
                h
            } else {
                v
            }
        }),
    }
}

impl Op for Clip {
    fn op_type(&self) -> &str {
        "Clip"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        infer_same(ctx)
    }
    fn eval(&self, _: &EvalCtx, mut inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = take(&mut inputs, 0)?;
        let y = if let Some((lo, hi)) = self.attr_bounds {
            dispatch_float!(x.dtype(), T => clip::<T>(x, Some(T::from_f64(lo)), Some(T::from_f64(hi))),
                other => Err(Error::dtype(other, "Clip")))?
        } else {
            let (lo, hi) = (opt(&inputs, 1), opt(&inputs, 2));
            dispatch_numeric!(x.dtype(), T => {
                let (l, h) = (bound::<T>(lo, "min")?, bound::<T>(hi, "max")?);
                clip::<T>(x, l, h)
            }, other => Err(Error::dtype(other, "Clip")))?
        };
        Ok(vec![y])
    }
    /// An element-wise map only when the bounds are attributes (opset < 11).
    fn f32_map(&self) -> Option<smelt_ir::F32Map> {
        let (lo, hi) = self.attr_bounds?;
        let (l, h) = (lo as f32, hi as f32);
        Some(Arc::new(move |s: &mut [f32]| {
            for v in s {
                // as `clip`: NaN stays NaN, lo > hi gives hi
                let x = if *v < l { l } else { *v };
                *v = if x > h { h } else { x };
            }
        }))
    }
}

pub fn register(r: &mut Registry) {
    r.register("", "Clip", |c| {
        let attr_bounds = if c.opset < 11 {
            Some((
                c.attrs.float_or("min", f32::MIN)? as f64,
                c.attrs.float_or("max", f32::MAX)? as f64,
            ))
        } else {
            None
        };
        Ok(Box::new(Clip { attr_bounds }))
    });
}
