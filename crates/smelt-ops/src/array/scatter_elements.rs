//! ScatterElements (and the older Scatter): a copy of `data` where, for every element i of
//! `indices`, out[i with i[axis] replaced by indices[i]] is combined with updates[i] by
//! `reduction` (none replaces; add/mul from opset 16, max/min from 18). Negative indices wrap;
//! duplicate indices apply in order.

use super::common::*;
use super::gather_elements::base_offsets;
use crate::prelude::*;

#[derive(Debug)]
pub struct ScatterElements {
    axis: i64,
    reduction: Reduction,
    name: &'static str,
}

pub fn register(r: &mut Registry) {
    r.register("", "ScatterElements", |ctx| {
        Ok(Box::new(ScatterElements {
            axis: ctx.attrs.int_or("axis", 0)?,
            reduction: Reduction::parse(&ctx.attrs.string_or("reduction", "none".into())?)?,
            name: "ScatterElements",
        }))
    });
    r.register("", "Scatter", |ctx| {
        Ok(Box::new(ScatterElements {
            axis: ctx.attrs.int_or("axis", 0)?,
            reduction: Reduction::None,
            name: "Scatter",
        }))
    });
}

fn run<T: Elem>(
    x: Tensor,
    base: &[usize],
    idx: &[i64],
    up: &Tensor,
    dim: usize,
    sa: usize,
    f: impl Fn(&mut T, &T),
) -> Result<Tensor> {
    let dtype = x.dtype();
    let shape = x.shape().to_vec();
    let mut v = x.into_vec::<T>()?;
    let u = up.as_slice::<T>()?;
    for ((&b, &i), uv) in base.iter().zip(idx).zip(u) {
        let o = b + wrap_index(i, dim, "scatter")? * sa;
        f(&mut v[o], uv);
    }
    mk(dtype, shape, v)
}

impl Op for ScatterElements {
    fn op_type(&self) -> &str {
        self.name
    }
    fn eval(&self, _: &EvalCtx, mut inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = take(&mut inputs, 0)?;
        let it = req(&inputs, 1)?;
        let up = req(&inputs, 2)?;
        ensure!(
            up.shape() == it.shape(),
            "updates shape {:?} differs from indices shape {:?}",
            up.shape(),
            it.shape()
        );
        ensure!(
            up.dtype() == x.dtype(),
            "updates are {}, data is {}",
            up.dtype(),
            x.dtype()
        );
        let a = norm_axis(self.axis, x.rank())?;
        let dim = x.shape()[a];
        let sa = strides(x.shape())[a];
        let base = base_offsets(x.shape(), it.shape(), a)?;
        let idx = it.to_i64_vec()?;
        let y = if self.reduction == Reduction::None {
            dispatch_any!(x.dtype(), T => run::<T>(x, &base, &idx, up, dim, sa, |d, u| *d = u.clone())?)
        } else {
            let r = self.reduction;
            dispatch_arith!(x.dtype(), T => run::<T>(x, &base, &idx, up, dim, sa, |d, u| r.apply(d, u)))?
        };
        Ok(vec![y])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn reductions_wrap_and_errors() {
        let x = Tensor::from_vec(vec![2, 3], vec![1i32, 2, 3, 4, 5, 6]).unwrap();
        let it = Tensor::from_vec(vec![2, 2], vec![0i64, -1, 2, 2]).unwrap();
        let up = Tensor::from_vec(vec![2, 2], vec![10i32, 20, 30, 40]).unwrap();
        let op = |r| ScatterElements {
            axis: 1,
            reduction: r,
            name: "ScatterElements",
        };
        let y = eval_op(
            &op(Reduction::Add),
            vec![x.clone(), it.clone(), up.clone()],
            1,
        )
        .unwrap();
        assert_eq!(y[0].as_slice::<i32>().unwrap(), &[11, 2, 23, 4, 5, 76]);
        let y = eval_op(
            &op(Reduction::None),
            vec![x.clone(), it.clone(), up.clone()],
            1,
        )
        .unwrap();
        assert_eq!(y[0].as_slice::<i32>().unwrap(), &[10, 2, 20, 4, 5, 40]);
        let y = eval_op(&op(Reduction::Min), vec![x.clone(), it, up.clone()], 1).unwrap();
        assert_eq!(y[0].as_slice::<i32>().unwrap(), &[1, 2, 3, 4, 5, 6]);
        let bad = Tensor::from_vec(vec![2, 2], vec![0i64, 3, 0, 0]).unwrap();
        let e = eval_op(&op(Reduction::None), vec![x.clone(), bad, up.clone()], 1).unwrap_err();
        assert!(e.to_string().contains("index 3"), "{e}");
        let s = Tensor::from_vec(vec![2], vec!["a".to_string(), "b".into()]).unwrap();
        let i1 = Tensor::from_vec(vec![1], vec![1i64]).unwrap();
        let u1 = Tensor::from_vec(vec![1], vec!["z".to_string()]).unwrap();
        let y = eval_op(
            &ScatterElements {
                axis: 0,
                reduction: Reduction::None,
                name: "Scatter",
            },
            vec![s.clone(), i1.clone(), u1.clone()],
            1,
        )
        .unwrap();
        assert_eq!(
            y[0].as_slice::<String>().unwrap(),
            &["a".to_string(), "z".into()]
        );
        assert!(eval_op(&op(Reduction::Add), vec![s, i1, u1], 1).is_err());
    }
}
