//! MaxPool: max over sliding windows. `X: [N, C, D1..Dn] -> Y: [N, C, O1..On]` and optional
//! `Indices` (int64, flat indices into X, row-major or column-major per `storage_order`
//! within each plane). kernel_shape, strides, pads, auto_pad, dilations, ceil_mode.
//! Float dtypes and int8/uint8 (every numeric dtype is accepted). 2-D f32 pooling without
//! Indices runs [`max_pool_2d`]; everything else the reference window reduction.

use super::max_pool_2d;
use super::pool::{infer_pooled, max_pool};
use super::spatial::{split_nc, Geometry, WindowAttrs};
use crate::prelude::*;

#[derive(Debug)]
pub struct MaxPool {
    window: WindowAttrs,
    storage_order: i64,
}

pub fn register(r: &mut Registry) {
    r.register("", "MaxPool", |ctx| {
        let storage_order = ctx.attrs.int_or("storage_order", 0)?;
        ensure!(
            storage_order == 0 || storage_order == 1,
            "MaxPool: storage_order must be 0 or 1, got {storage_order}"
        );
        let window = WindowAttrs::parse(ctx.attrs)?;
        ensure!(
            window.kernel.is_some(),
            "MaxPool: missing attribute 'kernel_shape'"
        );
        Ok(Box::new(MaxPool {
            window,
            storage_order,
        }))
    });
}

impl MaxPool {
    fn geometry(&self, x: &[usize]) -> Result<(usize, Geometry)> {
        let (n, c, sp) = split_nc(x, "MaxPool")?;
        let kernel = self.window.kernel(sp.len(), None)?;
        Ok((n * c, self.window.resolve(&sp, &kernel)?))
    }
}

impl Op for MaxPool {
    fn op_type(&self) -> &str {
        "MaxPool"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let y = infer_pooled(ctx, |s| self.geometry(s));
        let shape = y.shape.clone();
        let mut out = vec![y];
        if ctx.n_outputs > 1 {
            out.push(ValueInfo {
                dtype: Some(DType::I64),
                shape,
            });
        }
        Ok(out)
    }
    fn eval(&self, ctx: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let (planes, g) = self.geometry(x.shape())?;
        let mut shape = x.shape()[..2].to_vec();
        shape.extend(&g.output);
        let want_idx = ctx.n_outputs > 1;
        if !want_idx && x.dtype() == DType::F32 && max_pool_2d::applies(&g) {
            let mut y = vec![0f32; planes * g.output.iter().product::<usize>()];
            max_pool_2d::max_pool_2d(x.as_slice::<f32>()?, &mut y, &g);
            return Ok(vec![Tensor::from_vec(shape, y)?]);
        }
        let (y, idx) = dispatch_numeric!(x.dtype(), T => {
            let (y, idx) = max_pool::<T>(x.as_slice::<T>()?, planes, &g, want_idx, self.storage_order);
            (Tensor::from_vec(shape.clone(), y)?, idx)
        }, other => return Err(Error::dtype(other, "MaxPool")));
        let mut out = vec![y];
        if want_idx {
            out.push(Tensor::from_vec(shape, idx)?);
        }
        Ok(out)
    }
}
