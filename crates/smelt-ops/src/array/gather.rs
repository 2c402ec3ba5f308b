//! Gather: picks slices of `data` along `axis` by `indices` (int32/int64, negative wraps).
//! Output shape: data[..axis] ++ indices.shape ++ data[axis+1..]. Any data dtype; each
//! picked slice is one contiguous block copy.

use super::common::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct Gather {
    axis: i64,
}

pub fn register(r: &mut Registry) {
    r.register("", "Gather", |ctx| {
        Ok(Box::new(Gather {
            axis: ctx.attrs.int_or("axis", 0)?,
        }))
    });
}

impl Op for Gather {
    fn op_type(&self) -> &str {
        "Gather"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let x = in_info(ctx, 0).cloned().unwrap_or_default();
        let i = in_info(ctx, 1).cloned().unwrap_or_default();
        let shape = match (&x.shape, &i.shape) {
            (Some(xs), Some(is)) => {
                let a = norm_axis(self.axis, xs.len())?;
                Some(
                    xs[..a]
                        .iter()
                        .chain(is.iter())
                        .chain(xs[a + 1..].iter())
                        .cloned()
                        .collect(),
                )
            }
            _ => None,
        };
        Ok(vec![ValueInfo {
            dtype: x.dtype,
            shape,
        }])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let it = req(&inputs, 1)?;
        ensure!(x.rank() >= 1, "Gather data must have rank >= 1");
        let a = norm_axis(self.axis, x.rank())?;
        let dim = x.shape()[a];
        let idx: Vec<usize> = it
            .to_i64_vec()?
            .into_iter()
            .map(|i| wrap_index(i, dim, "Gather"))
            .collect::<Result<_>>()?;
        let outer: usize = x.shape()[..a].iter().product();
        let inner: usize = x.shape()[a + 1..].iter().product();
        let shape: Vec<usize> = x.shape()[..a]
            .iter()
            .chain(it.shape())
            .chain(&x.shape()[a + 1..])
            .copied()
            .collect();
        dispatch_any!(x.dtype(), T => {
            let s = x.as_slice::<T>()?;
            let mut out: Vec<T> = Vec::with_capacity(numel(&shape));
            for o in 0..outer {
                let blk = &s[o * dim * inner..(o + 1) * dim * inner];
                if inner == 1 {
                    out.extend(idx.iter().map(|&i| blk[i].clone()));
                } else {
                    for &i in &idx {
                        out.extend_from_slice(&blk[i * inner..(i + 1) * inner]);
                    }
                }
            }
            Ok(vec![mk(x.dtype(), shape, out)?])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn gather_matches_naive_and_rejects_bad_index() {
        for &(a, b) in &[(31usize, 33usize), (32, 1), (33, 32)] {
            let x = Tensor::from_vec(
                vec![a, b],
                (0..a * b).map(|i| (i as f32).cos()).collect::<Vec<_>>(),
            )
            .unwrap();
            let ids: Vec<i64> = (0..7)
                .map(|k| (k * 13 % b) as i64 - (k % 2) as i64 * b as i64)
                .collect();
            let it = Tensor::from_vec(vec![7], ids.clone()).unwrap();
            let y = eval_op(&Gather { axis: 1 }, vec![x.clone(), it], 1)
                .unwrap()
                .remove(0);
            assert_eq!(y.shape(), &[a, 7]);
            let xs = x.as_slice::<f32>().unwrap();
            let ys = y.as_slice::<f32>().unwrap();
            for r in 0..a {
                for (k, &i) in ids.iter().enumerate() {
                    let c = if i < 0 { i + b as i64 } else { i } as usize;
                    assert_eq!(ys[r * 7 + k], xs[r * b + c]);
                }
            }
            let bad = Tensor::from_vec(vec![1], vec![b as i64]).unwrap();
            let e = eval_op(&Gather { axis: 1 }, vec![x, bad], 1).unwrap_err();
            assert!(e.to_string().contains(&b.to_string()), "{e}");
        }
    }
}
