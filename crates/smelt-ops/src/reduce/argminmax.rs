//! ArgMax, ArgMin: i64 index of the largest / smallest element along `axis` (default 0).
//! `keepdims` (default 1) keeps the reduced dim as size 1. Ties give the first index, or the
//! last with `select_last_index` (opset 12+). NaN counts as the extreme (as numpy does): the
//! first (last) NaN wins. Any numeric dtype; f16/bf16 compare directly (exact).

use crate::prelude::*;

#[derive(Debug)]
pub struct ArgExt {
    max: bool,
    axis: i64,
    keepdims: bool,
    last: bool,
}

fn factory(ctx: &OpCtx, max: bool) -> Result<Box<dyn Op>> {
    Ok(Box::new(ArgExt {
        max,
        axis: ctx.attrs.int_or("axis", 0)?,
        keepdims: ctx.attrs.int_or("keepdims", 1)? != 0,
        last: ctx.attrs.int_or("select_last_index", 0)? != 0,
    }))
}

pub fn register(r: &mut Registry) {
    r.register("", "ArgMax", |c| factory(c, true));
    r.register("", "ArgMin", |c| factory(c, false));
}

/// Index along the middle dim of `x` viewed as `outer x n x inner`, for each (outer, inner).
fn arg<T: PartialOrd + Copy>(
    x: &[T],
    outer: usize,
    n: usize,
    inner: usize,
    max: bool,
    last: bool,
) -> Vec<i64> {
    let mut out = vec![0i64; outer * inner];
    #[allow(clippy::eq_op)]
    let better = |v: T, b: T| -> bool {
        let (vn, bn) = (v != v, b != b);
        if bn {
            return last && vn;
        }
        if vn {
            return true;
        }
        match (max, last) {
            (true, false) => v > b,
            (true, true) => v >= b,
            (false, false) => v < b,
            (false, true) => v <= b,
        }
    };
    for o in 0..outer {
        for i in 0..inner {
            let base = o * n * inner + i;
            let mut bi = 0usize;
            let mut bv = x[base];
            for k in 1..n {
                let v = x[base + k * inner];
                if better(v, bv) {
                    bi = k;
                    bv = v;
                }
            }
            out[o * inner + i] = bi as i64;
        }
    }
    out
}

impl Op for ArgExt {
    fn op_type(&self) -> &str {
        if self.max {
            "ArgMax"
        } else {
            "ArgMin"
        }
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let x = ctx.inputs.first().cloned().flatten().unwrap_or_default();
        let shape = match &x.shape {
            Some(d) => {
                let a = norm_axis(self.axis, d.len())?;
                let mut s = d.clone();
                if self.keepdims {
                    s[a] = Dim::Fixed(1);
                } else {
                    s.remove(a);
                }
                Some(s)
            }
            None => None,
        };
        Ok(vec![ValueInfo {
            dtype: Some(DType::I64),
            shape,
        }])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        ensure!(
            x.rank() > 0,
            "{}: input must have rank >= 1",
            self.op_type()
        );
        let a = norm_axis(self.axis, x.rank())?;
        let sh = x.shape();
        let n = sh[a];
        let outer: usize = sh[..a].iter().product();
        let inner: usize = sh[a + 1..].iter().product();
        let mut shape = sh.to_vec();
        if self.keepdims {
            shape[a] = 1;
        } else {
            shape.remove(a);
        }
        if outer * inner == 0 {
            return Ok(vec![Tensor::from_vec(shape, Vec::<i64>::new())?]);
        }
        ensure!(
            n > 0,
            "{}: cannot take the index over an empty axis {a} (shape {sh:?})",
            self.op_type()
        );
        let v = dispatch_numeric!(x.dtype(), T => arg(x.as_slice::<T>()?, outer, n, inner, self.max, self.last),
            d => return Err(Error::dtype(d, format!("{} input", self.op_type()))));
        Ok(vec![Tensor::from_vec(shape, v)?])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn ties_and_nan() {
        let x = [1.0f32, 3.0, 3.0, f32::NAN, 2.0, f32::NAN];
        assert_eq!(arg(&x[..3], 1, 3, 1, true, false), vec![1]);
        assert_eq!(arg(&x[..3], 1, 3, 1, true, true), vec![2]);
        assert_eq!(arg(&x, 1, 6, 1, true, false), vec![3]);
        assert_eq!(arg(&x, 1, 6, 1, false, true), vec![5]);
        assert_eq!(arg(&x[..3], 1, 3, 1, false, false), vec![0]);
    }
}
