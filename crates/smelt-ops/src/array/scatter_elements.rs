//! ScatterElements (and the older Scatter): a copy of `data` where, for every element i of
//! `indices`, out[i with i[axis] replaced by indices[i]] is combined with updates[i] by
//! `reduction` (none replaces; add/mul from opset 16, max/min from 18). Negative indices wrap;
//! duplicate indices apply in order.

use super::common::*;
use super::gather_elements::base_offsets;
use crate::prelude::*;

#[derive(Debug)]
pub struct ScatterElements {
    axis: i64,
    reduction: Reduction,
    name: &'static str,
}

pub fn register(r: &mut Registry) {
    r.register("", "ScatterElements", |ctx| {
        Ok(Box::new(ScatterElements {
            axis: ctx.attrs.int_or("axis", 0)?,
            reduction: Reduction::parse(&ctx.attrs.string_or("reduction", "none".into())?)?,
            name: "ScatterElements",
        }))
    });
    r.register("", "Scatter", |ctx| Ok(Box::new(ScatterElements { axis: ctx.attrs.int_or("axis", 0)?, reduction: Reduction::None, name: "Scatter" })));
}

fn run<T: Elem>(x: Tensor, base: &[usize], idx: &[i64], up: &Tensor, dim: usize, sa: usize, f: impl Fn(&mut T, &T)) -> Result<Tensor> {
    let dtype = x.dtype();
    let shape = x.shape().to_vec();
    let mut v = x.into_vec::<T>()?;
    let u = up.as_slice::<T>()?;
    for ((&b, &i), uv) in base.iter().zip(idx).zip(u) {
        let o = b + wrap_index(i, dim, "scatter")? * sa;
        f(&mut v[o], uv);
    }
    mk(dtype, shape, v)
}

impl Op for ScatterElements {
    fn op_type(&self) -> &str {
        self.name
    }
    fn eval(&self, _: &EvalCtx, mut inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = take(&mut inputs, 0)?;
        let it = req(&inputs, 1)?;
        let up = req(&inputs, 2)?;
        ensure!(up.shape() == it.shape(), "updates shape {:?} differs from indices shape {:?}", up.shape(), it.shape());
        ensure!(up.dtype() == x.dtype(), "updates are {}, data is {}", up.dtype(), x.dtype());
        let a = norm_axis(self.axis, x.rank())?;
        let dim = x.shape()[a];
        let sa = strides(x.shape())[a];
        let base = base_offsets(x.shape(), it.shape(), a)?;
        let idx = it.to_i64_vec()?;
        let y = if self.reduction == Reduction::None {
            dispatch_any!(x.dtype(), T => run::<T>(x, &base, &idx, up, dim, sa, |d, u| *d = u.clone())?)
        } else {
            let r = self.reduction;
            dispatch_arith!(x.dtype(), T => run::<T>(x, &base, &idx, up, dim, sa, |d, u| r.apply(d, u)))?
        };
        Ok(vec![y])
    }
}
