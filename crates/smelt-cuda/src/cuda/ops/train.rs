//! Launches of the optimizer steps: outputs are the new X of each group, then the new
//! states kind-major (all first states, then all second states), as the CPU op returns.

use super::{geom, Ins};
use crate::cuda::stream::{args, Stream};
use crate::cuda::tensor::GpuTensor;
use crate::plan::train;
use smelt_core::{DType, Error, Result};
use smelt_ops::misc::optimizers::Rule;

pub(super) fn optimizer(
    s: &Stream,
    rule: &Rule,
    ins: &Ins,
    n_inputs: usize,
) -> Result<Vec<GpuTensor>> {
    let scalar = |i: usize, what: &str| -> Result<f64> {
        let t = ins
            .host(i)?
            .ok_or_else(|| Error::invalid(format!("{}: {what} missing", rule.name())))?;
        let v = t.to_f64_vec()?;
        if v.len() != 1 {
            return Err(Error::shape(format!(
                "{}: {what} must be a scalar, got {:?}",
                rule.name(),
                t.shape()
            )));
        }
        Ok(v[0])
    };
    let (r, t) = (scalar(0, "R")?, scalar(1, "T")?);
    let n = train::groups(rule, n_inputs)?;
    let states = rule.per_group() - 2;
    let mut xs = Vec::with_capacity(n);
    let mut st: Vec<Vec<GpuTensor>> = vec![Vec::with_capacity(n); states];
    for gi in 0..n {
        let group: Vec<&GpuTensor> = (0..2 + states)
            .map(|j| ins.f32(2 + j * n + gi))
            .collect::<Result<_>>()?;
        let shape = group[0].shape().to_vec();
        if group.iter().any(|g| g.shape() != shape) {
            return Err(Error::shape(format!(
                "{} group {gi}: X, G and state tensors must share a shape",
                rule.name()
            )));
        }
        let p = train::params(rule, r, t, group[0].len())?;
        let yx = s.alloc(DType::F32, &shape)?;
        let ys0 = s.alloc(DType::F32, &shape)?;
        let ys1 = if states > 1 {
            Some(s.alloc(DType::F32, &shape)?)
        } else {
            None
        };
        let s1 = if states > 1 { group[3].ptr() } else { 0u64 };
        let (xp, gp, s0p) = (group[0].ptr(), group[1].ptr(), group[2].ptr());
        let (yxp, ys0p, ys1p) = (yx.ptr(), ys0.ptr(), ys1.as_ref().map_or(0u64, |t| t.ptr()));
        let (g, b) = geom(group[0].len());
        s.launch(
            "optimizer_f32",
            g,
            b,
            args![&xp, &gp, &s0p, &s1, &yxp, &ys0p, &ys1p, &p],
        )?;
        xs.push(yx);
        st[0].push(ys0);
        if let Some(y) = ys1 {
            st[1].push(y);
        }
    }
    Ok(xs.into_iter().chain(st.into_iter().flatten()).collect())
}
