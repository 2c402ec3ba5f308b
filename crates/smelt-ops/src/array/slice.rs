//! Slice: numpy-style `x[start:end:step]` on chosen axes. Opset 1 takes `starts`/`ends`/`axes`
//! attributes; opset >= 10 takes inputs starts, ends, axes?, steps? (steps may be negative).
//! Starts and ends are clamped to the dim, never an error. Any dtype.

use super::common::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct Slice {
    /// (starts, ends, axes) from attributes (opset < 10).
    attrs: Option<(Vec<i64>, Vec<i64>, Option<Vec<i64>>)>,
}

pub fn register(r: &mut Registry) {
    r.register("", "Slice", |ctx| {
        let attrs = if ctx.opset < 10 {
            Some((
                ctx.attrs.req_ints("starts")?,
                ctx.attrs.req_ints("ends")?,
                ctx.attrs.ints("axes")?,
            ))
        } else {
            None
        };
        Ok(Box::new(Slice { attrs }))
    });
}

/// Per-dim (start, step, count) after clamping, for a dim of size `d`.
pub fn clamp_range(start: i64, end: i64, step: i64, d: usize) -> Result<(i64, i64, usize)> {
    ensure!(step != 0, "slice step must not be 0");
    let d = d as i64;
    let fix = |v: i64| if v < 0 { v.saturating_add(d) } else { v };
    let (s, e) = (fix(start), fix(end));
    let (s, e) = if step > 0 {
        (s.clamp(0, d), e.clamp(0, d))
    } else {
        (s.clamp(0, (d - 1).max(0)), e.clamp(-1, d - 1))
    };
    let n = if step > 0 {
        (e - s + step - 1).div_euclid(step)
    } else {
        (s - e + (-step) - 1).div_euclid(-step)
    };
    let n = if d == 0 { 0 } else { n.max(0) as usize };
    Ok((s, step, n))
}

/// Slices `x` with the given parameters (axes default to 0..len, steps to 1).
pub fn slice(
    x: &Tensor,
    starts: &[i64],
    ends: &[i64],
    axes: Option<&[i64]>,
    steps: Option<&[i64]>,
) -> Result<Tensor> {
    let r = x.rank();
    ensure!(
        starts.len() == ends.len(),
        "starts {starts:?} and ends {ends:?} differ in length"
    );
    let axes: Vec<usize> = match axes {
        Some(a) => {
            ensure!(
                a.len() == starts.len(),
                "axes {a:?} and starts {starts:?} differ in length"
            );
            norm_axes(a, r)?
        }
        None => {
            ensure!(starts.len() <= r, "{} starts for rank {r}", starts.len());
            (0..starts.len()).collect()
        }
    };
    if let Some(s) = steps {
        ensure!(
            s.len() == starts.len(),
            "steps {s:?} and starts {starts:?} differ in length"
        );
    }
    let st = istrides(x.shape());
    let mut shape = x.shape().to_vec();
    let mut vstrides = st.clone();
    let mut base = 0isize;
    for (k, &a) in axes.iter().enumerate() {
        let step = steps.map_or(1, |s| s[k]);
        let (s, step, n) = clamp_range(starts[k], ends[k], step, x.shape()[a])?;
        shape[a] = n;
        if n > 0 {
            base += s as isize * st[a];
        }
        vstrides[a] = st[a] * step as isize;
    }
    if shape == x.shape() && base == 0 && vstrides == st {
        return Ok(x.clone());
    }
    dispatch_any!(x.dtype(), T => {
        let v = strided_copy(x.as_slice::<T>()?, base, &shape, &vstrides)?;
        mk(x.dtype(), shape, v)
    })
}

impl Op for Slice {
    fn op_type(&self) -> &str {
        "Slice"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let x = in_info(ctx, 0).cloned().unwrap_or_default();
        let Some(xs) = x.shape.clone() else {
            return Ok(vec![ValueInfo {
                dtype: x.dtype,
                shape: None,
            }]);
        };
        let ints = |i: usize| in_const(ctx, i).map(|t| t.to_i64_vec()).transpose();
        let (starts, ends, axes, steps) = match &self.attrs {
            Some((s, e, a)) => (Some(s.clone()), Some(e.clone()), a.clone(), None),
            None => {
                // an axes input that is not constant leaves every dim unknown
                if in_info(ctx, 3).is_some() && in_const(ctx, 3).is_none() {
                    return Ok(vec![ValueInfo {
                        dtype: x.dtype,
                        shape: Some(vec![Dim::Unknown; xs.len()]),
                    }]);
                }
                (ints(1)?, ints(2)?, ints(3)?, ints(4)?)
            }
        };
        let n = starts.as_ref().or(ends.as_ref()).map(|v| v.len());
        let axes: Vec<usize> = match (axes, n) {
            (Some(a), _) => norm_axes(&a, xs.len())?,
            (None, Some(n)) => (0..n.min(xs.len())).collect(),
            (None, None) => (0..xs.len()).collect(),
        };
        let mut out = xs.clone();
        for (k, &a) in axes.iter().enumerate() {
            let known = (|| {
                Some((
                    starts.as_ref()?.get(k)?,
                    ends.as_ref()?.get(k)?,
                    xs[a].fixed()?,
                ))
            })();
            let step = steps.as_ref().map_or(Some(1), |s| s.get(k).copied());
            out[a] = match (known, step) {
                (Some((&s, &e, d)), Some(st)) => Dim::Fixed(clamp_range(s, e, st, d)?.2),
                _ => Dim::Unknown,
            };
        }
        Ok(vec![ValueInfo {
            dtype: x.dtype,
            shape: Some(out),
        }])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let y = match &self.attrs {
            Some((s, e, a)) => slice(x, s, e, a.as_deref(), None)?,
            None => {
                let s = req(&inputs, 1)?.to_i64_vec()?;
                let e = req(&inputs, 2)?.to_i64_vec()?;
                let a = opt(&inputs, 3).map(|t| t.to_i64_vec()).transpose()?;
                let st = opt(&inputs, 4).map(|t| t.to_i64_vec()).transpose()?;
                slice(x, &s, &e, a.as_deref(), st.as_deref())?
            }
        };
        Ok(vec![y])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn clamping() {
        assert_eq!(clamp_range(0, i64::MAX, 1, 5).unwrap(), (0, 1, 5));
        assert_eq!(clamp_range(-1, i64::MIN, -1, 5).unwrap(), (4, -1, 5));
        assert_eq!(clamp_range(10, 20, 1, 5).unwrap().2, 0);
        assert_eq!(clamp_range(4, 0, -2, 5).unwrap(), (4, -2, 2));
        assert!(clamp_range(0, 1, 0, 5).is_err());
    }
    #[test]
    fn negative_step() {
        let x = Tensor::from_vec(
            vec![2, 33],
            (0..66).map(|i| i as f32 + 0.5).collect::<Vec<_>>(),
        )
        .unwrap();
        let y = slice(
            &x,
            &[-1, -2],
            &[i64::MIN, 0],
            Some(&[0, 1]),
            Some(&[-1, -3]),
        )
        .unwrap();
        assert_eq!(y.shape(), &[2, 11]);
        let v = y.as_slice::<f32>().unwrap();
        assert_eq!(v[0], 33.0 + 31.0 + 0.5);
        assert_eq!(v[1], 33.0 + 28.0 + 0.5);
        assert_eq!(v[11], 31.5);
    }
}
