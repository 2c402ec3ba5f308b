//! MatMul and Gemm as strided-batched row-major GEMMs: C[b] = A[b] (m x k) * B[b] (k x n),
//! each operand dense, batch b at `stride_*` elements apart (0: shared by every batch).

use super::{broadcast_strides, i32_of, pack_strides, Strides};
use smelt_core::{Error, Result};
use smelt_ir::Attributes;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GemmPlan {
    pub batch: usize,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    /// Operand A is stored k x m (transposed) rather than m x k.
    pub trans_a: bool,
    /// Operand B is stored n x k rather than k x n.
    pub trans_b: bool,
    pub stride_a: usize,
    pub stride_b: usize,
    pub out_shape: Vec<usize>,
}

/// ONNX MatMul (numpy matmul) of `a` and `b`. Batch dims broadcast when one side has no
/// batch (or all ones) or both sides have the same batch; other broadcasts are
/// `Unsupported` (the executor then runs the node on the CPU).
pub fn matmul(a: &[usize], b: &[usize]) -> Result<GemmPlan> {
    let d = smelt_ops::linalg::matmul::matmul_dims(a, b)?;
    let (m, n, k) = (d.m, d.n, d.k);
    let (ba, bb) = (&d.batch_a, &d.batch_b);
    let na: usize = ba.iter().product();
    let nb: usize = bb.iter().product();
    let nbatch: usize = d.batch.iter().product();
    let out_shape = d.out_shape;
    let plan = if nb == 1 {
        // every batch of A against one B: one GEMM with A's batches stacked into rows
        GemmPlan {
            batch: 1,
            m: m * na,
            n,
            k,
            trans_a: false,
            trans_b: false,
            stride_a: 0,
            stride_b: 0,
            out_shape,
        }
    } else if na == 1 || (na == nbatch && nb == nbatch) {
        // one A for every batch of B, or the same batch dims on both sides (equal counts
        // mean no dim of either side is broadcast)
        GemmPlan {
            batch: nbatch,
            m,
            n,
            k,
            trans_a: false,
            trans_b: false,
            stride_a: if na == 1 { 0 } else { m * k },
            stride_b: k * n,
            out_shape,
        }
    } else {
        return Err(Error::unsupported(
            "MatMul",
            format!(
                "batch dims {ba:?} and {bb:?} broadcast both ways (GPU runs one-sided batches)"
            ),
        ));
    };
    for v in [
        plan.m * plan.k,
        plan.k * plan.n,
        plan.m * plan.n * plan.batch,
    ] {
        i32_of(v, "matrix size")?;
    }
    Ok(plan)
}

/// Gemm's attributes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GemmAttrs {
    pub alpha: f32,
    pub beta: f32,
    pub trans_a: bool,
    pub trans_b: bool,
}

impl GemmAttrs {
    pub fn parse(a: &Attributes) -> Result<GemmAttrs> {
        Ok(GemmAttrs {
            alpha: a.float_or("alpha", 1.0)?,
            beta: a.float_or("beta", 1.0)?,
            trans_a: a.int_or("transA", 0)? != 0,
            trans_b: a.int_or("transB", 0)? != 0,
        })
    }
}

/// Gemm: Y (m x n) = alpha * A' * B' + beta * C, with C broadcast to [m, n]. Returns the
/// GEMM and, when C is given, the strides that expand C into Y before the GEMM.
pub fn gemm(
    g: &GemmAttrs,
    a: &[usize],
    b: &[usize],
    c: Option<&[usize]>,
) -> Result<(GemmPlan, Option<Strides>)> {
    if a.len() != 2 || b.len() != 2 {
        return Err(Error::shape(format!(
            "Gemm needs 2-d A and B, got {a:?} and {b:?}"
        )));
    }
    let (m, k) = if g.trans_a {
        (a[1], a[0])
    } else {
        (a[0], a[1])
    };
    let (kb, n) = if g.trans_b {
        (b[1], b[0])
    } else {
        (b[0], b[1])
    };
    if k != kb {
        return Err(Error::shape(format!(
            "Gemm {a:?} x {b:?}: inner dims differ"
        )));
    }
    for v in [m * k, k * n, m * n] {
        i32_of(v, "matrix size")?;
    }
    let out = vec![m, n];
    let cs = match c {
        Some(c) => {
            if super::broadcast_shape(&[c, &out])? != out {
                return Err(Error::shape(format!(
                    "Gemm C {c:?} does not broadcast to {out:?}"
                )));
            }
            Some(pack_strides(&out, &[&broadcast_strides(c, &out)])?)
        }
        None => None,
    };
    Ok((
        GemmPlan {
            batch: 1,
            m,
            n,
            k,
            trans_a: g.trans_a,
            trans_b: g.trans_b,
            stride_a: 0,
            stride_b: 0,
            out_shape: out,
        },
        cs,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn matmul_batches() {
        let p = matmul(&[2, 3, 4, 5], &[5, 6]).unwrap();
        assert_eq!((p.batch, p.m, p.n, p.k), (1, 24, 6, 5));
        assert_eq!(p.out_shape, vec![2, 3, 4, 6]);
        let p = matmul(&[4, 5], &[7, 5, 6]).unwrap();
        assert_eq!((p.batch, p.stride_a, p.stride_b), (7, 0, 30));
        assert_eq!(p.out_shape, vec![7, 4, 6]);
        let p = matmul(&[5], &[5, 6]).unwrap();
        assert_eq!(p.out_shape, vec![6]);
        assert!(matmul(&[2, 1, 4, 5], &[1, 3, 5, 6])
            .unwrap_err()
            .is_unsupported());
        assert!(matmul(&[4, 5], &[4, 6]).is_err());
    }
}
