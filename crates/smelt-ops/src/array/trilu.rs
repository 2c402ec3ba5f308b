//! Trilu: keeps the upper (`upper`=1: j - i >= k) or lower (j - i <= k) triangle of each
//! trailing [N, M] matrix, zeroing the rest; k is the optional scalar input #1. Any dtype.

use super::common::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct Trilu {
    upper: bool,
}

pub fn register(r: &mut Registry) {
    r.register("", "Trilu", |ctx| {
        Ok(Box::new(Trilu {
            upper: ctx.attrs.int_or("upper", 1)? != 0,
        }))
    });
}

impl Op for Trilu {
    fn op_type(&self) -> &str {
        "Trilu"
    }
    fn eval(&self, _: &EvalCtx, mut inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let k = match opt(&inputs, 1) {
            Some(t) => {
                ensure!(
                    t.len() == 1,
                    "Trilu k must be a scalar, has shape {:?}",
                    t.shape()
                );
                t.to_i64_vec()?[0]
            }
            None => 0,
        };
        let x = take(&mut inputs, 0)?;
        ensure!(
            x.rank() >= 2,
            "Trilu input must have rank >= 2, has shape {:?}",
            x.shape()
        );
        let (nr, nc) = (x.shape()[x.rank() - 2], x.shape()[x.rank() - 1]);
        let (dtype, shape) = (x.dtype(), x.shape().to_vec());
        let upper = self.upper;
        dispatch_any!(dtype, T => {
            let mut v = x.into_vec::<T>()?;
            if nr * nc > 0 {
                for m in v.chunks_mut(nr * nc) {
                    for i in 0..nr {
                        for j in 0..nc {
                            let d = j as i64 - i as i64;
                            if if upper { d < k } else { d > k } {
                                m[i * nc + j] = T::default();
                            }
                        }
                    }
                }
            }
            Ok(vec![mk(dtype, shape, v)?])
        })
    }
}
