//! Tile: repeats the input `repeats[i]` times along each dim i (repeats: int64, one per dim).
//! Evaluated as a broadcast strided copy over the interleaved shape [r0, d0, r1, d1, ...].

use super::common::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct Tile;

pub fn register(r: &mut Registry) {
    r.register("", "Tile", |_| Ok(Box::new(Tile)));
}

impl Op for Tile {
    fn op_type(&self) -> &str {
        "Tile"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let x = in_info(ctx, 0).cloned().unwrap_or_default();
        let shape = match (&x.shape, in_const(ctx, 1)) {
            (Some(xs), Some(t)) => {
                let reps = shape_input(t, "Tile repeats")?;
                ensure!(
                    reps.len() == xs.len(),
                    "Tile repeats {reps:?} must have one entry per input dim ({})",
                    xs.len()
                );
                Some(
                    xs.iter()
                        .zip(&reps)
                        .map(|(d, &r)| match d {
                            _ if r == 1 => d.clone(),
                            Dim::Fixed(n) => Dim::Fixed(n * r),
                            _ => Dim::Unknown,
                        })
                        .collect(),
                )
            }
            (Some(xs), None) => Some(vec![Dim::Unknown; xs.len()]),
            _ => None,
        };
        Ok(vec![ValueInfo {
            dtype: x.dtype,
            shape,
        }])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let reps = shape_input(req(&inputs, 1)?, "Tile repeats")?;
        ensure!(
            reps.len() == x.rank(),
            "Tile repeats {reps:?} must have one entry per input dim ({})",
            x.rank()
        );
        let st = istrides(x.shape());
        let mut vshape = Vec::with_capacity(2 * reps.len());
        let mut vst = Vec::with_capacity(2 * reps.len());
        for (i, &r) in reps.iter().enumerate() {
            vshape.extend([r, x.shape()[i]]);
            vst.extend([0, st[i]]);
        }
        let out: Vec<usize> = reps.iter().zip(x.shape()).map(|(r, d)| r * d).collect();
        dispatch_any!(x.dtype(), T => {
            let v = strided_copy(x.as_slice::<T>()?, 0, &vshape, &vst)?;
            Ok(vec![mk(x.dtype(), out, v)?])
        })
    }
}
