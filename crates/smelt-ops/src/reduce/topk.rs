//! TopK: the `k` largest (or smallest, `largest=0`) elements along `axis` (default -1), with
//! their i64 indices. `k` is an attribute in opset 1 and a 1-element i64 input from opset 10.
//! Outputs are always sorted (which also satisfies `sorted=0`): by value, then equal values
//! by lower index first. NaN ranks above every number. Any numeric dtype.

use crate::prelude::*;
use std::cmp::Ordering;

#[derive(Debug)]
pub struct TopK {
    axis: i64,
    largest: bool,
    /// `k` attribute (opset 1).
    k_attr: Option<i64>,
}

pub fn register(r: &mut Registry) {
    r.register("", "TopK", |ctx| {
        let k_attr = if ctx.opset < 10 {
            Some(ctx.attrs.req_int("k")?)
        } else {
            None
        };
        Ok(Box::new(TopK {
            axis: ctx.attrs.int_or("axis", -1)?,
            largest: ctx.attrs.int_or("largest", 1)? != 0,
            k_attr,
        }))
    });
}

/// Total order on a partially ordered value: NaN (`v != v`) above everything.
#[allow(clippy::eq_op)]
fn ord<T: PartialOrd>(a: &T, b: &T) -> Ordering {
    a.partial_cmp(b).unwrap_or_else(|| match (a != a, b != b) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        _ => Ordering::Less,
    })
}

/// Values and indices of the top `k` along the middle dim of `outer x n x inner`.
fn topk<T: PartialOrd + Copy>(
    x: &[T],
    outer: usize,
    n: usize,
    inner: usize,
    k: usize,
    largest: bool,
) -> (Vec<T>, Vec<i64>) {
    let mut vals = Vec::with_capacity(outer * k * inner);
    let mut idxs = vec![0i64; outer * k * inner];
    let mut vals_buf: Vec<Option<T>> = vec![None; outer * k * inner];
    let mut lane: Vec<(T, usize)> = Vec::with_capacity(n);
    for o in 0..outer {
        for i in 0..inner {
            lane.clear();
            lane.extend((0..n).map(|j| (x[(o * n + j) * inner + i], j)));
            let cmp = |a: &(T, usize), b: &(T, usize)| {
                let c = if largest {
                    ord(&b.0, &a.0)
                } else {
                    ord(&a.0, &b.0)
                };
                c.then(a.1.cmp(&b.1))
            };
            if k < n && k > 0 {
                lane.select_nth_unstable_by(k - 1, cmp);
                lane.truncate(k);
            }
            lane.sort_unstable_by(cmp);
            for (r, &(v, j)) in lane.iter().take(k).enumerate() {
                let p = (o * k + r) * inner + i;
                vals_buf[p] = Some(v);
                idxs[p] = j as i64;
            }
        }
    }
    vals.extend(vals_buf.into_iter().flatten());
    (vals, idxs)
}

impl Op for TopK {
    fn op_type(&self) -> &str {
        "TopK"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let x = ctx.inputs.first().cloned().flatten().unwrap_or_default();
        let k = match self.k_attr {
            Some(k) => Some(k),
            None => ctx
                .consts
                .get(1)
                .and_then(|c| c.as_ref())
                .and_then(|c| c.to_i64_vec().ok())
                .and_then(|v| v.first().copied()),
        };
        let shape = match (&x.shape, k) {
            (Some(d), Some(k)) if k >= 0 => {
                let a = norm_axis(self.axis, d.len())?;
                let mut s = d.clone();
                s[a] = Dim::Fixed(k as usize);
                Some(s)
            }
            _ => None,
        };
        Ok(vec![
            ValueInfo {
                dtype: x.dtype,
                shape: shape.clone(),
            },
            ValueInfo {
                dtype: Some(DType::I64),
                shape,
            },
        ])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let k = match self.k_attr {
            Some(k) => k,
            None => {
                let kt = req(&inputs, 1)?;
                let v = kt.to_i64_vec()?;
                ensure!(
                    v.len() == 1,
                    "TopK: K must hold one value, got shape {:?}",
                    kt.shape()
                );
                v[0]
            }
        };
        ensure!(x.rank() > 0, "TopK: input must have rank >= 1");
        let a = norm_axis(self.axis, x.rank())?;
        let sh = x.shape();
        let n = sh[a];
        ensure!(
            k >= 0 && k as usize <= n,
            "TopK: k = {k} out of range for axis {a} of size {n}"
        );
        let k = k as usize;
        let outer: usize = sh[..a].iter().product();
        let inner: usize = sh[a + 1..].iter().product();
        let mut shape = sh.to_vec();
        shape[a] = k;
        let (v, i) = dispatch_numeric!(x.dtype(), T => {
            let (v, i) = topk(x.as_slice::<T>()?, outer, n, inner, k, self.largest);
            (Tensor::from_vec(shape.clone(), v)?, i)
        }, d => return Err(Error::dtype(d, "TopK input")));
        Ok(vec![v, Tensor::from_vec(shape, i)?])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn stable_ties() {
        let x = [3i64, 1, 3, 2, 3];
        let (v, i) = topk(&x, 1, 5, 1, 3, true);
        assert_eq!(v, vec![3, 3, 3]);
        assert_eq!(i, vec![0, 2, 4]);
        let (v, i) = topk(&x, 1, 5, 1, 2, false);
        assert_eq!(v, vec![1, 2]);
        assert_eq!(i, vec![1, 3]);
    }
    #[test]
    fn strided_axis() {
        // 2 x 3, top-1 along axis 0
        let x = [1.0f32, 5.0, 2.0, 4.0, 0.5, 2.0];
        let (v, i) = topk(&x, 1, 2, 3, 1, true);
        assert_eq!(v, vec![4.0, 5.0, 2.0]);
        assert_eq!(i, vec![1, 0, 0]);
    }
}
