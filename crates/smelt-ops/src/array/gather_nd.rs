//! GatherND: indices[..., k] address the first k dims (after `batch_dims` shared leading
//! dims) of data; each index tuple picks the slice data[b, i0..ik, ...]. Output shape:
//! indices.shape[..-1] ++ data.shape[batch_dims + k..]. Negative indices wrap.

use super::common::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct GatherND {
    batch_dims: usize,
}

pub fn register(r: &mut Registry) {
    r.register("", "GatherND", |ctx| {
        let b = ctx.attrs.int_or("batch_dims", 0)?;
        ensure!(b >= 0, "batch_dims {b} must be >= 0");
        Ok(Box::new(GatherND {
            batch_dims: b as usize,
        }))
    });
}

impl Op for GatherND {
    fn op_type(&self) -> &str {
        "GatherND"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let it = req(&inputs, 1)?;
        let b = self.batch_dims;
        let (ds, is) = (x.shape(), it.shape());
        ensure!(
            is.len() >= 1 && b < is.len() && b < ds.len(),
            "batch_dims {b} too large for data {ds:?} and indices {is:?}"
        );
        ensure!(
            ds[..b] == is[..b],
            "batch dims of data {ds:?} and indices {is:?} differ"
        );
        let k = is[is.len() - 1];
        ensure!(
            b + k <= ds.len(),
            "index tuples of length {k} too long for data {ds:?} with batch_dims {b}"
        );
        let batch: usize = ds[..b].iter().product();
        let tuples_per_batch: usize = is[b..is.len() - 1].iter().product();
        let slice: usize = ds[b + k..].iter().product();
        let dst = strides(&ds[b..]);
        let batch_stride: usize = ds[b..].iter().product();
        let idx = it.to_i64_vec()?;
        let shape: Vec<usize> = is[..is.len() - 1]
            .iter()
            .chain(&ds[b + k..])
            .copied()
            .collect();
        let mut offs = Vec::with_capacity(batch * tuples_per_batch);
        for bi in 0..batch {
            for t in 0..tuples_per_batch {
                let tup = &idx[(bi * tuples_per_batch + t) * k..][..k];
                let mut off = bi * batch_stride;
                for (j, &i) in tup.iter().enumerate() {
                    off += wrap_index(i, ds[b + j], "GatherND")? * dst[j];
                }
                offs.push(off);
            }
        }
        dispatch_any!(x.dtype(), T => {
            let s = x.as_slice::<T>()?;
            let mut out: Vec<T> = Vec::with_capacity(numel(&shape));
            for &o in &offs {
                out.extend_from_slice(&s[o..o + slice]);
            }
            Ok(vec![mk(x.dtype(), shape, out)?])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn batch_dims_and_errors() {
        let x =
            Tensor::from_vec(vec![2, 2, 2], (1..=8).map(|v| v as f32).collect::<Vec<_>>()).unwrap();
        let it = Tensor::from_vec(vec![2, 1], vec![1i64, -2]).unwrap();
        let y = eval_op(&GatherND { batch_dims: 1 }, vec![x.clone(), it], 1).unwrap();
        assert_eq!(y[0].shape(), &[2, 2]);
        assert_eq!(y[0].as_slice::<f32>().unwrap(), &[3., 4., 5., 6.]);
        let bad = Tensor::from_vec(vec![1, 2], vec![0i64, 2]).unwrap();
        assert!(
            eval_op(&GatherND { batch_dims: 0 }, vec![x.clone(), bad], 1)
                .unwrap_err()
                .to_string()
                .contains("index 2")
        );
        let long = Tensor::from_vec(vec![1, 4], vec![0i64; 4]).unwrap();
        assert!(eval_op(&GatherND { batch_dims: 0 }, vec![x, long], 1).is_err());
    }
}
