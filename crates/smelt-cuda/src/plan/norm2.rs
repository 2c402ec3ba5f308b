//! RMSNormalization (opset 23): `Y = X / sqrt(mean(X^2 over dims axis..) + epsilon) * Scale`,
//! Scale broadcast to `shape[axis..]` (numpy rules), as the CPU op
//! (`smelt_ops::norm::layernorm`). f32 only.

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
