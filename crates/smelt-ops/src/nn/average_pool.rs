//! AveragePool: mean over sliding windows. `X: [N, C, D1..Dn] -> Y: [N, C, O1..On]`.
//! Padding taps count toward the divisor only with `count_include_pad` (and then only up to
//! the explicit pads, not the ceil_mode overhang). dilations from opset 19. Float dtypes.

use super::pool::{infer_pooled, sum_pool, PoolFloat};
use super::spatial::{split_nc, Geometry, WindowAttrs};
use crate::prelude::*;

#[derive(Debug)]
pub struct AveragePool {
    window: WindowAttrs,
    count_include_pad: bool,
}

pub fn register(r: &mut Registry) {
    r.register("", "AveragePool", |ctx| {
        let window = WindowAttrs::parse(ctx.attrs)?;
        ensure!(
            window.kernel.is_some(),
            "AveragePool: missing attribute 'kernel_shape'"
        );
        Ok(Box::new(AveragePool {
            window,
            count_include_pad: ctx.attrs.int_or("count_include_pad", 0)? != 0,
        }))
    });
}

impl AveragePool {
    fn geometry(&self, x: &[usize]) -> Result<(usize, Geometry)> {
        let (n, c, sp) = split_nc(x, "AveragePool")?;
        let kernel = self.window.kernel(sp.len(), None)?;
        Ok((n * c, self.window.resolve(&sp, &kernel)?))
    }
    fn run<T: PoolFloat>(&self, x: &Tensor) -> Result<Tensor> {
        let (planes, g) = self.geometry(x.shape())?;
        let mut shape = x.shape()[..2].to_vec();
        shape.extend(&g.output);
        let y = sum_pool::<T>(
            x.as_slice::<T>()?,
            planes,
            &g,
            self.count_include_pad,
            |v| v.to_f64(),
            |s, n| T::from_f64(if n == 0 { f64::NAN } else { s / n as f64 }),
        );
        Tensor::from_vec(shape, y)
    }
}

impl Op for AveragePool {
    fn op_type(&self) -> &str {
        "AveragePool"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        Ok(vec![infer_pooled(ctx, |s| self.geometry(s))])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        Ok(vec![
            dispatch_float!(x.dtype(), T => self.run::<T>(x)?, other => return Err(Error::dtype(other, "AveragePool"))),
        ])
    }
}
