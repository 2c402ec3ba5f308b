//! ScatterND: a copy of `data` where each index tuple indices[..., :k] selects the slice
//! data[i0..ik, ...] that is combined with the matching slice of `updates` (shape
//! indices.shape[..-1] ++ data.shape[k..]) by `reduction` (none/add/mul/max/min).

use super::common::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct ScatterND {
    reduction: Reduction,
}

pub fn register(r: &mut Registry) {
    r.register("", "ScatterND", |ctx| {
        Ok(Box::new(ScatterND {
            reduction: Reduction::parse(&ctx.attrs.string_or("reduction", "none".into())?)?,
        }))
    });
}

fn run<T: Elem>(
    x: Tensor,
    offs: &[usize],
    slice: usize,
    up: &Tensor,
    f: impl Fn(&mut T, &T),
) -> Result<Tensor> {
    let dtype = x.dtype();
    let shape = x.shape().to_vec();
    let mut v = x.into_vec::<T>()?;
    let u = up.as_slice::<T>()?;
    for (t, &o) in offs.iter().enumerate() {
        for (d, s) in v[o..o + slice]
            .iter_mut()
            .zip(&u[t * slice..(t + 1) * slice])
        {
            f(d, s);
        }
    }
    mk(dtype, shape, v)
}

impl Op for ScatterND {
    fn op_type(&self) -> &str {
        "ScatterND"
    }
    fn eval(&self, _: &EvalCtx, mut inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = take(&mut inputs, 0)?;
        let it = req(&inputs, 1)?;
        let up = req(&inputs, 2)?;
        let (ds, is) = (x.shape().to_vec(), it.shape());
        ensure!(!is.is_empty(), "ScatterND indices must have rank >= 1");
        let k = is[is.len() - 1];
        ensure!(
            k <= ds.len(),
            "index tuples of length {k} too long for data {ds:?}"
        );
        let want: Vec<usize> = is[..is.len() - 1].iter().chain(&ds[k..]).copied().collect();
        ensure!(
            up.shape() == want,
            "updates shape {:?} should be {want:?}",
            up.shape()
        );
        ensure!(
            up.dtype() == x.dtype(),
            "updates are {}, data is {}",
            up.dtype(),
            x.dtype()
        );
        let st = strides(&ds);
        let slice: usize = ds[k..].iter().product();
        let idx = it.to_i64_vec()?;
        let n: usize = is[..is.len() - 1].iter().product();
        let mut offs = Vec::with_capacity(n);
        for t in 0..n {
            let mut off = 0;
            for j in 0..k {
                off += wrap_index(idx[t * k + j], ds[j], "ScatterND")? * st[j];
            }
            offs.push(off);
        }
        let y = if self.reduction == Reduction::None {
            dispatch_any!(x.dtype(), T => run::<T>(x, &offs, slice, up, |d, u| *d = u.clone())?)
        } else {
            let r = self.reduction;
            dispatch_arith!(x.dtype(), T => run::<T>(x, &offs, slice, up, |d, u| r.apply(d, u)))?
        };
        Ok(vec![y])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn slices_and_bad_index() {
        let x = Tensor::from_vec(vec![3, 2], vec![1f32, 2., 3., 4., 5., 6.]).unwrap();
        let it = Tensor::from_vec(vec![2, 1], vec![-1i64, 0]).unwrap();
        let up = Tensor::from_vec(vec![2, 2], vec![7f32, 8., 9., 10.]).unwrap();
        let y = eval_op(
            &ScatterND {
                reduction: Reduction::Mul,
            },
            vec![x.clone(), it, up.clone()],
            1,
        )
        .unwrap();
        assert_eq!(
            y[0].as_slice::<f32>().unwrap(),
            &[9., 20., 3., 4., 35., 48.]
        );
        let bad = Tensor::from_vec(vec![2, 1], vec![0i64, -4]).unwrap();
        let e = eval_op(
            &ScatterND {
                reduction: Reduction::None,
            },
            vec![x, bad, up],
            1,
        )
        .unwrap_err();
        assert!(e.to_string().contains("-4"), "{e}");
    }
}
