//! Softmax / LogSoftmax, LayerNormalization and BatchNormalization (inference): shapes and
//! the row decomposition the row kernels take.

use super::{axis, i32_of};
use smelt_core::{Error, Result};

/// Rows of `n` contiguous elements each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rows {
    pub rows: usize,
    pub n: usize,
}

fn rows_from(shape: &[usize], ax: usize) -> Result<Rows> {
    let n: usize = shape[ax..].iter().product();
    let total: usize = shape.iter().product();
    i32_of(total, "element count")?;
    Ok(Rows {
        rows: total.checked_div(n).unwrap_or(0),
        n,
    })
}

/// Softmax over `axis` (None: the attribute is absent). The GPU runs the cases on which
/// every opset agrees: the last axis (opset 13's per-axis softmax and the older flattened
/// form coincide there); others are `Unsupported`.
pub fn softmax(shape: &[usize], ax: Option<i64>) -> Result<Rows> {
    let r = shape.len();
    let ax = match ax {
        Some(a) => axis(a, r, "Softmax axis")?,
        None if r <= 2 => r.saturating_sub(1),
        None => {
            return Err(Error::unsupported(
                "Softmax",
                "no axis attribute on rank > 2 (the default differs by opset)",
            ))
        }
    };
    if r == 0 {
        return Ok(Rows { rows: 1, n: 1 });
    }
    if shape[ax + 1..].iter().any(|&d| d != 1) {
        return Err(Error::unsupported(
            "Softmax",
            format!("axis {ax} of {shape:?} is not the last (the GPU kernel is row-wise)"),
        ));
    }
    rows_from(shape, ax)
}

/// LayerNormalization over dims `axis..`; scale (and bias) must hold one value per
/// normalised element.
pub fn layer_norm(
    shape: &[usize],
    ax: i64,
    scale: &[usize],
    bias: Option<&[usize]>,
) -> Result<Rows> {
    let ax = axis(ax, shape.len(), "LayerNormalization axis")?;
    let rows = rows_from(shape, ax)?;
    let full = |s: &[usize]| s.iter().product::<usize>() == rows.n;
    if !full(scale) || bias.is_some_and(|b| !full(b)) {
        return Err(Error::unsupported(
            "LayerNormalization",
            format!(
                "scale {scale:?} / bias {bias:?} broadcast over {:?}",
                &shape[ax..]
            ),
        ));
    }
    Ok(rows)
}

/// BatchNormalization of x [N, C, ...] with per-channel parameters of C elements:
/// returns (C, inner = elements per channel per image, total elements).
pub fn batch_norm(x: &[usize], params: &[&[usize]]) -> Result<(usize, usize, usize)> {
    if x.len() < 2 {
        return Err(Error::shape(format!(
            "BatchNormalization input {x:?} has no channel dim"
        )));
    }
    let c = x[1];
    for p in params {
        if p.iter().product::<usize>() != c {
            return Err(Error::shape(format!(
                "BatchNormalization parameter {p:?} does not hold {c} channels"
            )));
        }
    }
    let total: usize = x.iter().product();
    i32_of(total, "element count")?;
    Ok((c, x[2..].iter().product(), total))
}

/// Softmax-family over `axis` as [outer, n, inner]: with `coerce` (opset < 13) the dims
/// `axis..` form one row (inner = 1), else the axis alone is normalised.
pub fn softmax3(shape: &[usize], ax: i64, coerce: bool) -> Result<(usize, usize, usize)> {
    i32_of(shape.iter().product(), "element count")?;
    if shape.is_empty() {
        return Ok((1, 1, 1));
    }
    let a = axis(ax, shape.len(), "Softmax axis")?;
    let outer = shape[..a].iter().product();
    Ok(if coerce {
        (outer, shape[a..].iter().product(), 1)
    } else {
        (outer, shape[a], shape[a + 1..].iter().product())
    })
}
