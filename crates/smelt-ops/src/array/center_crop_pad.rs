//! CenterCropPad: crops or zero-pads the chosen `axes` (default all) to `shape`, centred:
//! a crop drops (in - out) / 2 leading elements, a pad adds (out - in) / 2 leading zeros
//! (the odd one goes at the end). Any dtype.

use super::pad::{gather_maps, pad_map, Mode};
use crate::prelude::*;

#[derive(Debug)]
pub struct CenterCropPad {
    axes: Option<Vec<i64>>,
}

pub fn register(r: &mut Registry) {
    r.register("", "CenterCropPad", |ctx| {
        Ok(Box::new(CenterCropPad {
            axes: ctx.attrs.ints("axes")?,
        }))
    });
}

impl Op for CenterCropPad {
    fn op_type(&self) -> &str {
        "CenterCropPad"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let shape = super::common::shape_input(req(&inputs, 1)?, "CenterCropPad shape")?;
        let axes = match &self.axes {
            Some(a) => norm_axes(a, x.rank())?,
            None => (0..x.rank()).collect(),
        };
        ensure!(
            shape.len() == axes.len(),
            "shape {shape:?} has {} entries for {} axes",
            shape.len(),
            axes.len()
        );
        let mut maps = Vec::with_capacity(x.rank());
        let mut oshape = x.shape().to_vec();
        for (d, &n) in x.shape().iter().enumerate() {
            let o = axes.iter().position(|&a| a == d).map_or(n, |j| shape[j]);
            let begin = if o >= n {
                ((o - n) / 2) as i64
            } else {
                -(((n - o) / 2) as i64)
            };
            maps.push(pad_map(o, n, begin, Mode::Constant)?);
            oshape[d] = o;
        }
        dispatch_any!(x.dtype(), T => {
            let v = gather_maps(x.as_slice::<T>()?, x.shape(), &maps, &T::default());
            Ok(vec![super::common::mk(x.dtype(), oshape, v)?])
        })
    }
}
