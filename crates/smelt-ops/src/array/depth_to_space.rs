//! DepthToSpace: [N, C, H, W] -> [N, C/b², H*b, W*b]. Mode DCR (default) reads channels as
//! (b, b, C/b²), CRD as (C/b², b, b). A reshape and one strided transpose. Any dtype.

use super::common::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct DepthToSpace {
    block: usize,
    crd: bool,
}

pub fn register(r: &mut Registry) {
    r.register("", "DepthToSpace", |ctx| {
        let b = ctx.attrs.req_int("blocksize")?;
        ensure!(b >= 1, "blocksize {b} must be >= 1");
        let crd = match ctx.attrs.string_or("mode", "DCR".into())?.as_str() {
            "DCR" => false,
            "CRD" => true,
            m => bail!("unknown DepthToSpace mode '{m}' (expected DCR or CRD)"),
        };
        Ok(Box::new(DepthToSpace {
            block: b as usize,
            crd,
        }))
    });
}

impl Op for DepthToSpace {
    fn op_type(&self) -> &str {
        "DepthToSpace"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        ensure!(
            x.rank() == 4,
            "DepthToSpace input must be 4-D, has shape {:?}",
            x.shape()
        );
        let (n, c, h, w) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
        let b = self.block;
        ensure!(
            c % (b * b) == 0,
            "channels {c} not divisible by blocksize² {}",
            b * b
        );
        let c2 = c / (b * b);
        let (v, perm) = if self.crd {
            (x.reshape(vec![n, c2, b, b, h, w])?, [0, 1, 4, 2, 5, 3])
        } else {
            (x.reshape(vec![n, b, b, c2, h, w])?, [0, 3, 4, 1, 5, 2])
        };
        Ok(vec![transpose(&v, &perm)?.reshape(vec![
            n,
            c2,
            h * b,
            w * b,
        ])?])
    }
}
