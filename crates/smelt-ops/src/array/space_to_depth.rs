//! SpaceToDepth: [N, C, H, W] -> [N, C*b², H/b, W/b], channels ordered (b, b, C). The
//! inverse of DepthToSpace in DCR mode. Any dtype.

use super::common::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct SpaceToDepth {
    block: usize,
}

pub fn register(r: &mut Registry) {
    r.register("", "SpaceToDepth", |ctx| {
        let b = ctx.attrs.req_int("blocksize")?;
        ensure!(b >= 1, "blocksize {b} must be >= 1");
        Ok(Box::new(SpaceToDepth { block: b as usize }))
    });
}

impl Op for SpaceToDepth {
    fn op_type(&self) -> &str {
        "SpaceToDepth"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        ensure!(
            x.rank() == 4,
            "SpaceToDepth input must be 4-D, has shape {:?}",
            x.shape()
        );
        let (n, c, h, w) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
        let b = self.block;
        ensure!(
            h % b == 0 && w % b == 0,
            "spatial dims {h}x{w} not divisible by blocksize {b}"
        );
        let v = x.reshape(vec![n, c, h / b, b, w / b, b])?;
        Ok(vec![transpose(&v, &[0, 3, 5, 1, 2, 4])?.reshape(vec![
            n,
            c * b * b,
            h / b,
            w / b,
        ])?])
    }
}
