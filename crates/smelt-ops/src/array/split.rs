//! Split: cuts the input along `axis` into parts. Part sizes come from the `split` attribute
//! (opset < 13) or input #1 (opset >= 13); otherwise equal parts, one per output, or from
//! opset 18 `num_outputs` parts of ceil(dim/num_outputs) with a smaller last part. Any dtype.

use super::common::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct Split {
    axis: i64,
    attr_split: Option<Vec<i64>>,
    num_outputs: Option<i64>,
    n_outputs: usize,
}

pub fn register(r: &mut Registry) {
    r.register("", "Split", |ctx| {
        Ok(Box::new(Split {
            axis: ctx.attrs.int_or("axis", 0)?,
            attr_split: if ctx.opset < 13 {
                ctx.attrs.ints("split")?
            } else {
                None
            },
            num_outputs: match ctx.attrs.int("num_outputs")? {
                // the part count is the node's output count: never size anything by the
                // attribute alone
                Some(n) if ctx.opset >= 18 => {
                    ensure!(
                        usize::try_from(n) == Ok(ctx.n_outputs),
                        "num_outputs {n} does not match the node's {} outputs",
                        ctx.n_outputs
                    );
                    Some(n)
                }
                _ => None,
            },
            n_outputs: ctx.n_outputs,
        }))
    });
}

impl Split {
    fn sizes(&self, dim: usize, split: Option<&Tensor>, n_out: usize) -> Result<Vec<usize>> {
        let given = match (&self.attr_split, split) {
            (Some(s), _) => Some(s.clone()),
            (None, Some(t)) if !t.is_empty() => Some(t.to_i64_vec()?),
            _ => None,
        };
        if let Some(s) = given {
            ensure!(s.iter().all(|&v| v >= 0), "split sizes {s:?} must be >= 0");
            ensure!(
                s.iter().sum::<i64>() == dim as i64,
                "split sizes {s:?} do not sum to the axis size {dim}"
            );
            return Ok(s.iter().map(|&v| v as usize).collect());
        }
        if let Some(n) = self.num_outputs {
            ensure!(n >= 1, "num_outputs {n} must be >= 1");
            let n = n as usize;
            let chunk = dim.div_ceil(n);
            let mut v = Vec::with_capacity(n);
            let mut left = dim;
            for _ in 0..n {
                let c = chunk.min(left);
                v.push(c);
                left -= c;
            }
            return Ok(v);
        }
        ensure!(n_out >= 1, "Split has no outputs");
        ensure!(
            dim % n_out == 0,
            "axis size {dim} does not split evenly into {n_out} outputs"
        );
        Ok(vec![dim / n_out; n_out])
    }
}

impl Op for Split {
    fn op_type(&self) -> &str {
        "Split"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let x = in_info(ctx, 0).cloned().unwrap_or_default();
        let n = ctx.n_outputs;
        let Some(xs) = x.shape.clone() else {
            return Ok(vec![
                ValueInfo {
                    dtype: x.dtype,
                    shape: None
                };
                n
            ]);
        };
        let a = norm_axis(self.axis, xs.len())?;
        let split_unknown =
            self.attr_split.is_none() && in_info(ctx, 1).is_some() && in_const(ctx, 1).is_none();
        let sizes = match xs[a].fixed() {
            Some(d) if !split_unknown => Some(self.sizes(d, in_const(ctx, 1), n)?),
            _ => None,
        };
        Ok((0..n)
            .map(|i| {
                let mut s = xs.clone();
                s[a] = sizes
                    .as_ref()
                    .and_then(|v| v.get(i))
                    .map_or(Dim::Unknown, |&d| Dim::Fixed(d));
                ValueInfo {
                    dtype: x.dtype,
                    shape: Some(s),
                }
            })
            .collect())
    }
    fn eval(&self, ctx: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let a = norm_axis(self.axis, x.rank())?;
        let n_out = self.n_outputs.max(ctx.n_outputs);
        let sizes = self.sizes(x.shape()[a], opt(&inputs, 1), n_out)?;
        let outer: usize = x.shape()[..a].iter().product();
        let inner: usize = x.shape()[a + 1..].iter().product();
        let dim = x.shape()[a];
        dispatch_any!(x.dtype(), T => {
            let s = x.as_slice::<T>()?;
            let mut outs = Vec::with_capacity(sizes.len());
            let mut start = 0;
            for &len in &sizes {
                let mut v: Vec<T> = Vec::with_capacity(outer * len * inner);
                for o in 0..outer {
                    let b = (o * dim + start) * inner;
                    v.extend_from_slice(&s[b..b + len * inner]);
                }
                let mut shape = x.shape().to_vec();
                shape[a] = len;
                outs.push(mk(x.dtype(), shape, v)?);
                start += len;
            }
            Ok(outs)
        })
    }
}
