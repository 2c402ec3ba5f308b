//! Compress: keeps the slices along `axis` (or the elements of the flattened input when no
//! axis) whose entry in the 1-D bool `condition` is true; condition may be shorter than the
//! dim (missing entries count as false), not longer. Any dtype.

use super::common::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct Compress {
    axis: Option<i64>,
}

pub fn register(r: &mut Registry) {
    r.register("", "Compress", |ctx| {
        Ok(Box::new(Compress {
            axis: ctx.attrs.int("axis")?,
        }))
    });
}

impl Op for Compress {
    fn op_type(&self) -> &str {
        "Compress"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let cond = req(&inputs, 1)?;
        ensure!(
            cond.rank() == 1,
            "Compress condition must be 1-D, has shape {:?}",
            cond.shape()
        );
        let cv = cond.to_i64_vec()?;
        let (shape, a) = match self.axis {
            Some(ax) => (x.shape().to_vec(), norm_axis(ax, x.rank())?),
            None => (vec![x.len()], 0),
        };
        let dim = shape[a];
        ensure!(
            cv.len() <= dim,
            "Compress condition has {} entries for a dim of {dim}",
            cv.len()
        );
        let keep: Vec<usize> = cv
            .iter()
            .enumerate()
            .filter(|(_, &c)| c != 0)
            .map(|(i, _)| i)
            .collect();
        let outer: usize = shape[..a].iter().product();
        let inner: usize = shape[a + 1..].iter().product();
        let mut oshape = shape.clone();
        oshape[a] = keep.len();
        dispatch_any!(x.dtype(), T => {
            let s = x.as_slice::<T>()?;
            let mut out: Vec<T> = Vec::with_capacity(numel(&oshape));
            for o in 0..outer {
                for &k in &keep {
                    out.extend_from_slice(&s[(o * dim + k) * inner..(o * dim + k + 1) * inner]);
                }
            }
            Ok(vec![mk(x.dtype(), oshape, out)?])
        })
    }
}
