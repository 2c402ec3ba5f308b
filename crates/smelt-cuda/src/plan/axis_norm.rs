//! Normalizations over given axes or channel groups, beside the row normalizations of
//! `plan::norm`: their shapes and the decompositions their kernels take.
//!
//! RMSNormalization (opset 23): `Y = X / sqrt(mean(X^2 over dims axis..) + epsilon) * Scale`,
//! Scale broadcast to `shape[axis..]` (numpy rules), as the CPU op
//! (`smelt_ops::norm::layernorm`); Group/InstanceNormalization, LpNormalization and
//! MeanVarianceNormalization. f32 only.

use super::norm::Rows;
use super::{axis, broadcast_strides, i32_of, pack_strides, Strides};
use smelt_core::{Error, Result};

/// Rows of the normalised dims, and the Scale's strides over them (the `a` list).
pub fn rms_norm(shape: &[usize], ax: i64, scale: &[usize]) -> Result<(Rows, Strides)> {
    if shape.is_empty() {
        return Err(Error::invalid(
            "RMSNormalization: input must have rank >= 1",
        ));
    }
    let ax = axis(ax, shape.len(), "RMSNormalization axis")?;
    let norm = &shape[ax..];
    let fits = scale.len() <= norm.len()
        && scale
            .iter()
            .rev()
            .zip(norm.iter().rev())
            .all(|(&a, &b)| a == b || a == 1);
    if !fits {
        return Err(Error::invalid(format!(
            "RMSNormalization: Scale of shape {scale:?} does not broadcast to {norm:?}"
        )));
    }
    let n: usize = norm.iter().product();
    let total: usize = shape.iter().product();
    i32_of(total, "element count")?;
    let st = broadcast_strides(scale, norm);
    let sp = pack_strides(norm, &[&st])?;
    Ok((
        Rows {
            rows: total.checked_div(n).unwrap_or(0),
            n,
        },
        sp,
    ))
}

/// GroupNormalization (`groups` Some) / InstanceNormalization (one group per channel) of
/// x [N, C, D1..]: scale / bias hold C values (per channel) or, GroupNormalization before
/// opset 21, one per group. Returns (rows = N * groups, groups, channels per group,
/// elements per channel, per_channel).
pub fn group_norm(
    x: &[usize],
    groups: Option<usize>,
    scale: usize,
    bias: usize,
) -> Result<(usize, usize, usize, usize, bool)> {
    if x.len() < 2 {
        return Err(Error::invalid(format!(
            "GroupNormalization: X must be N x C x ..., got {x:?}"
        )));
    }
    let (n, c) = (x[0], x[1]);
    let sp: usize = x[2..].iter().product();
    let g = groups.unwrap_or(c);
    if g == 0 || c % g != 0 {
        return Err(Error::invalid(format!(
            "GroupNormalization: {c} channels do not split into {g} groups"
        )));
    }
    let per_ch = scale == c;
    let want = if per_ch { c } else { g };
    if scale != want || bias != want {
        return Err(Error::invalid(format!(
            "GroupNormalization: scale/bias have {scale}/{bias} elements, expected {want}"
        )));
    }
    i32_of(x.iter().product(), "element count")?;
    Ok((n * g, g, c / g, sp, per_ch))
}

/// LpNormalization along `ax`: (outer, n, inner).
pub fn lp_norm(shape: &[usize], ax: i64) -> Result<(usize, usize, usize)> {
    if shape.is_empty() {
        return Err(Error::invalid("LpNormalization: input must have rank >= 1"));
    }
    let a = axis(ax, shape.len(), "LpNormalization axis")?;
    i32_of(shape.iter().product(), "element count")?;
    Ok((
        shape[..a].iter().product(),
        shape[a],
        shape[a + 1..].iter().product(),
    ))
}

/// MeanVarianceNormalization over `axes`: (groups, reduced count, the kept dims with x's
/// strides, the reduced dims with x's strides).
pub fn mvn(shape: &[usize], axes: &[i64]) -> Result<(usize, usize, Strides, Strides)> {
    let mut red = vec![false; shape.len()];
    for &a in axes {
        red[axis(a, shape.len(), "MeanVarianceNormalization axis")?] = true;
    }
    i32_of(shape.iter().product(), "element count")?;
    let st = super::dense_strides(shape);
    let pick = |want: bool| {
        let d: Vec<usize> = (0..shape.len())
            .filter(|&i| red[i] == want)
            .map(|i| shape[i])
            .collect();
        let s: Vec<i64> = (0..shape.len())
            .filter(|&i| red[i] == want)
            .map(|i| st[i])
            .collect();
        (d.iter().product::<usize>(), pack_strides(&d, &[&s]))
    };
    let (groups, kept) = pick(false);
    let (r, reduced) = pick(true);
    Ok((groups, r, kept?, reduced?))
}
