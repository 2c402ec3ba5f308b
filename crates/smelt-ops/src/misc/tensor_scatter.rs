//! TensorScatter (opset 24): writes `update` [B, .., S_upd, ..] into a copy of `past_cache`
//! [B, .., S_max, ..] along `axis` (default -2), at per-batch offsets `write_indices` [B]
//! (default 0); mode `circular` wraps positions modulo S_max. KV-cache update.

use crate::prelude::*;

#[derive(Debug)]
pub struct TensorScatter {
    circular: bool,
    axis: i64,
}

pub fn register(r: &mut Registry) {
    r.register("", "TensorScatter", |c| {
        let mode = c.attrs.string_or("mode", "linear".into())?;
        ensure!(
            mode == "linear" || mode == "circular",
            "unknown mode '{mode}' (linear, circular)"
        );
        Ok(Box::new(TensorScatter {
            circular: mode == "circular",
            axis: c.attrs.int_or("axis", -2)?,
        }))
    });
}

impl Op for TensorScatter {
    fn op_type(&self) -> &str {
        "TensorScatter"
    }
    fn eval(&self, _: &EvalCtx, mut inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let past = take(&mut inputs, 0)?;
        let upd = req(&inputs, 1)?;
        ensure!(
            past.dtype() == upd.dtype(),
            "update is {}, cache is {}",
            upd.dtype(),
            past.dtype()
        );
        ensure!(
            past.rank() == upd.rank() && past.rank() >= 2,
            "cache {:?} and update {:?} must have the same rank >= 2",
            past.shape(),
            upd.shape()
        );
        let axis = norm_axis(self.axis, past.rank())?;
        ensure!(axis > 0, "axis must not be the batch axis");
        for d in 0..past.rank() {
            let ok = if d == axis {
                upd.shape()[d] <= past.shape()[d]
            } else {
                upd.shape()[d] == past.shape()[d]
            };
            ensure!(
                ok,
                "update {:?} does not fit cache {:?} on axis {d}",
                upd.shape(),
                past.shape()
            );
        }
        let b = past.shape()[0];
        let idx = match opt(&inputs, 2) {
            Some(t) => t.to_i64_vec()?,
            None => vec![0; b],
        };
        ensure!(
            idx.len() == b,
            "write_indices has {} entries, batch is {b}",
            idx.len()
        );
        let (smax, supd) = (past.shape()[axis], upd.shape()[axis]);
        let inner: usize = past.shape()[axis + 1..].iter().product();
        let per_batch: usize = past.shape()[1..axis].iter().product();
        let shape = past.shape().to_vec();
        let dtype = past.dtype();
        dispatch_any!(dtype, T => {
            let mut out = past.into_vec::<T>()?;
            let u = upd.as_slice::<T>()?;
            for bi in 0..b {
                for p in 0..per_batch {
                    let outer = bi * per_batch + p;
                    for s in 0..supd {
                        let mut pos = idx[bi] + s as i64;
                        if self.circular {
                            pos = pos.rem_euclid(smax as i64);
                        }
                        ensure!(pos >= 0 && (pos as usize) < smax, "write position {pos} outside cache length {smax} (batch {bi})");
                        let dst = (outer * smax + pos as usize) * inner;
                        let src = (outer * supd + s) * inner;
                        out[dst..dst + inner].clone_from_slice(&u[src..src + inner]);
                    }
                }
            }
            Ok(vec![Tensor::new(dtype, shape, <T as Elem>::into_data(out))?])
        })
    }
}
