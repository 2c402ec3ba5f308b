//! Transpose: output dim i is input dim perm[i]; default perm reverses the dims. Any dtype.
//! Evaluated as one strided copy (tiled when the innermost output dim is strided).

use super::common::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct Transpose {
    perm: Option<Vec<i64>>,
}

pub fn register(r: &mut Registry) {
    r.register("", "Transpose", |ctx| {
        Ok(Box::new(Transpose {
            perm: ctx.attrs.ints("perm")?,
        }))
    });
}

impl Transpose {
    fn perm(&self, rank: usize) -> Result<Vec<usize>> {
        match &self.perm {
            None => Ok((0..rank).rev().collect()),
            Some(p) => {
                ensure!(
                    p.len() == rank,
                    "perm {p:?} has {} entries for rank {rank}",
                    p.len()
                );
                let v = norm_axes(p, rank)?;
                Ok(v)
            }
        }
    }
}

impl Op for Transpose {
    fn op_type(&self) -> &str {
        "Transpose"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let x = in_info(ctx, 0).cloned().unwrap_or_default();
        let shape = match &x.shape {
            Some(s) => Some(self.perm(s.len())?.iter().map(|&p| s[p].clone()).collect()),
            None => self.perm.as_ref().map(|p| vec![Dim::Unknown; p.len()]),
        };
        Ok(vec![ValueInfo {
            dtype: x.dtype,
            shape,
        }])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        Ok(vec![transpose(x, &self.perm(x.rank())?)?])
    }
}
