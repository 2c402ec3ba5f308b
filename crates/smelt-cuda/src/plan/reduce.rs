//! Reductions (ReduceSum, ReduceMean, ..., GlobalAveragePool, GlobalMaxPool) as x viewed
//! [outer, r, inner] reduced over r.

use super::{axis, i32_of};
use smelt_core::{Error, Result};
use smelt_ir::Attributes;

/// The kernels' op codes (`reduce_*` in reduce.cu).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum ReduceOp {
    Sum = 0,
    Mean = 1,
    Max = 2,
    Min = 3,
    Prod = 4,
    SumSquare = 5,
    L1 = 6,
    L2 = 7,
    LogSum = 8,
    LogSumExp = 9,
}

pub fn reduce_op(op_type: &str) -> Option<ReduceOp> {
    use ReduceOp::*;
    Some(match op_type {
        "ReduceSum" => Sum,
        "ReduceMean" => Mean,
        "ReduceMax" => Max,
        "ReduceMin" => Min,
        "ReduceProd" => Prod,
        "ReduceSumSquare" => SumSquare,
        "ReduceL1" => L1,
        "ReduceL2" => L2,
        "ReduceLogSum" => LogSum,
        "ReduceLogSumExp" => LogSumExp,
        _ => return None,
    })
}

/// Whether the kernels reduce `d` with `op`: f32 (its own kernels), the other floats and
/// the integers (`reduce_typed_*`), bool for Max (any) and Min (all).
pub fn takes(op: ReduceOp, d: smelt_core::DType) -> bool {
    use super::elementwise::{is_float, is_int};
    match d {
        smelt_core::DType::Bool => matches!(op, ReduceOp::Max | ReduceOp::Min),
        d => is_float(d) || is_int(d),
    }
}

/// CumSum / CumProd attributes (the axis is input 1, read on the host).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanAttrs {
    pub prod: bool,
    pub exclusive: bool,
    pub reverse: bool,
}

impl ScanAttrs {
    pub fn parse(op_type: &str, a: &Attributes) -> Result<ScanAttrs> {
        Ok(ScanAttrs {
            prod: op_type == "CumProd",
            exclusive: a.int_or("exclusive", 0)? != 0,
            reverse: a.int_or("reverse", 0)? != 0,
        })
    }
    /// The dtypes the CPU op takes: CumSum floats and integers; CumProd floats and the
    /// 32/64-bit integers.
    pub fn takes(&self, d: smelt_core::DType) -> bool {
        use smelt_core::DType::*;
        if self.prod {
            super::elementwise::is_float(d) || matches!(d, I32 | I64 | U32 | U64)
        } else {
            super::elementwise::is_float(d) || super::elementwise::is_int(d)
        }
    }
}

/// A scan of `shape` along `axis` (CumSum's axis input, may be negative) as
/// (outer, n, inner).
pub fn scan_dims(shape: &[usize], ax: i64) -> Result<(usize, usize, usize)> {
    let a = axis(ax, shape.len(), "scan axis")?;
    if shape.is_empty() {
        return Err(Error::invalid("a scan of a rank-0 input"));
    }
    i32_of(shape.iter().product(), "element count")?;
    Ok((
        shape[..a].iter().product(),
        shape[a],
        shape[a + 1..].iter().product(),
    ))
}

#[derive(Clone, Debug, PartialEq)]
pub struct ReduceAttrs {
    pub op: ReduceOp,
    /// From the attribute (older opsets); `None`: from input 1, if given.
    pub axes: Option<Vec<i64>>,
    pub keepdims: bool,
    pub noop_with_empty_axes: bool,
}

impl ReduceAttrs {
    pub fn parse(op: ReduceOp, a: &Attributes) -> Result<ReduceAttrs> {
        Ok(ReduceAttrs {
            op,
            axes: a.ints("axes")?,
            keepdims: a.int_or("keepdims", 1)? != 0,
            noop_with_empty_axes: a.int_or("noop_with_empty_axes", 0)? != 0,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReducePlan {
    pub outer: usize,
    pub r: usize,
    pub inner: usize,
    pub out_shape: Vec<usize>,
    /// Nothing to reduce (empty axes with noop_with_empty_axes): the output is the input.
    pub identity: bool,
}

/// Plans a reduction of `shape` over `axes` (the attribute's or input's; empty or `None`:
/// all axes, unless `noop_with_empty_axes`). The reduced axes must be consecutive once
/// size-1 dims are ignored; others are `Unsupported`.
pub fn plan(
    shape: &[usize],
    axes: Option<&[i64]>,
    keepdims: bool,
    noop: bool,
) -> Result<ReducePlan> {
    let r = shape.len();
    let mut ax: Vec<usize> = match axes {
        Some(a) if !a.is_empty() => a
            .iter()
            .map(|&v| axis(v, r, "reduce axis"))
            .collect::<Result<_>>()?,
        _ if noop => {
            return Ok(ReducePlan {
                outer: 1,
                r: 1,
                inner: shape.iter().product(),
                out_shape: shape.to_vec(),
                identity: true,
            })
        }
        _ => (0..r).collect(),
    };
    ax.sort_unstable();
    ax.dedup();
    i32_of(shape.iter().product(), "element count")?;
    let big: Vec<usize> = ax.iter().copied().filter(|&a| shape[a] != 1).collect();
    if let (Some(&lo), Some(&hi)) = (big.first(), big.last()) {
        if (lo..=hi).any(|d| shape[d] != 1 && !ax.contains(&d)) {
            return Err(Error::unsupported(
                "Reduce",
                format!("axes {ax:?} of {shape:?} are not consecutive (the GPU reduces one run of dims)"),
            ));
        }
    }
    let (lo, hi) = match (big.first(), big.last()) {
        (Some(&lo), Some(&hi)) => (lo, hi),
        _ => (r, r.saturating_sub(1)), // nothing of size > 1 is reduced
    };
    let outer: usize = shape[..lo.min(r)].iter().product();
    let red: usize = if lo <= hi && lo < r {
        shape[lo..=hi].iter().product()
    } else {
        1
    };
    let inner: usize = if lo <= hi && lo < r {
        shape[hi + 1..].iter().product()
    } else {
        1
    };
    let out_shape: Vec<usize> = (0..r)
        .filter_map(|d| match (ax.contains(&d), keepdims) {
            (true, true) => Some(1),
            (true, false) => None,
            (false, _) => Some(shape[d]),
        })
        .collect();
    Ok(ReducePlan {
        outer,
        r: red,
        inner: if lo <= hi && lo < r {
            inner
        } else {
            shape.iter().product::<usize>() / outer.max(1)
        },
        out_shape,
        identity: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn reduce_plans() {
        let p = plan(&[2, 3, 4, 5], Some(&[1, 2]), true, false).unwrap();
        assert_eq!((p.outer, p.r, p.inner), (2, 12, 5));
        assert_eq!(p.out_shape, vec![2, 1, 1, 5]);
        let p = plan(&[2, 3, 1, 5], Some(&[-1, 1]), false, false).unwrap();
        assert!(p.r == 15 && p.outer == 2 && p.inner == 1, "{p:?}");
        assert_eq!(p.out_shape, vec![2, 1]);
        assert!(plan(&[2, 3, 4], Some(&[0, 2]), true, false)
            .unwrap_err()
            .is_unsupported());
        let p = plan(&[2, 3], None, false, false).unwrap();
        assert_eq!((p.outer, p.r, p.inner, p.out_shape.len()), (1, 6, 1, 0));
        assert!(plan(&[2, 3], Some(&[]), true, true).unwrap().identity);
        let p = plan(&[2, 1, 3], Some(&[1]), true, false).unwrap();
        assert_eq!((p.outer * p.r * p.inner), 6);
    }
}
