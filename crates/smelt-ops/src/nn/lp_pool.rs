//! LpPool: `(sum |x|^p)^(1/p)` over sliding windows (padding contributes zeros).
//! `X: [N, C, D1..Dn] -> Y: [N, C, O1..On]`; `p` defaults to 2. Float dtypes.

use super::pool::{infer_pooled, sum_pool, PoolFloat};
use super::spatial::{split_nc, Geometry, WindowAttrs};
use crate::prelude::*;

#[derive(Debug)]
pub struct LpPool {
    window: WindowAttrs,
    p: f64,
}

pub fn register(r: &mut Registry) {
    r.register("", "LpPool", |ctx| {
        let window = WindowAttrs::parse(ctx.attrs)?;
        ensure!(
            window.kernel.is_some(),
            "LpPool: missing attribute 'kernel_shape'"
        );
        // opset 1 had a float `p`; later opsets an int
        let p = match ctx.attrs.get("p") {
            Some(Attr::Float(f)) => *f as f64,
            _ => ctx.attrs.int_or("p", 2)? as f64,
        };
        ensure!(p > 0.0, "LpPool: p must be positive, got {p}");
        Ok(Box::new(LpPool { window, p }))
    });
}

impl LpPool {
    fn geometry(&self, x: &[usize]) -> Result<(usize, Geometry)> {
        let (n, c, sp) = split_nc(x, "LpPool")?;
        let kernel = self.window.kernel(sp.len(), None)?;
        Ok((n * c, self.window.resolve(&sp, &kernel)?))
    }
    fn run<T: PoolFloat>(&self, x: &Tensor) -> Result<Tensor> {
        let (planes, g) = self.geometry(x.shape())?;
        let mut shape = x.shape()[..2].to_vec();
        shape.extend(&g.output);
        let p = self.p;
        let y = sum_pool::<T>(
            x.as_slice::<T>()?,
            planes,
            &g,
            false,
            |v| v.to_f64().abs().powf(p),
            |s, _| T::from_f64(s.powf(1.0 / p)),
        );
        Tensor::from_vec(shape, y)
    }
}

impl Op for LpPool {
    fn op_type(&self) -> &str {
        "LpPool"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        Ok(vec![infer_pooled(ctx, |s| self.geometry(s))])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        Ok(vec![
            dispatch_float!(x.dtype(), T => self.run::<T>(x)?, other => return Err(Error::dtype(other, "LpPool"))),
        ])
    }
}
