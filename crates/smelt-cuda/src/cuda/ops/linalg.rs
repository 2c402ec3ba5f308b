//! MatMul and Gemm through cuBLAS (fp32 compute, no TF32).

use super::geom;
use crate::cuda::device::cuda_err;
use crate::cuda::stream::{args, Stream};
use crate::cuda::tensor::GpuTensor;
use crate::plan::i32_of;
use crate::plan::matmul::{self, GemmAttrs, GemmPlan};
use cudarc::cublas::{result as blas, sys::cublasOperation_t};
use smelt_core::{DType, Error, Result};

/// Row-major C[b] = alpha * A[b] * B[b] + beta * C[b] (plan's transposes applied), as the
/// column-major product C^T = B^T * A^T. `c` is dense m x n per batch.
pub(crate) fn gemm_raw(
    s: &Stream,
    p: &GemmPlan,
    a: u64,
    b: u64,
    c: u64,
    alpha: f32,
    beta: f32,
) -> Result<()> {
    if p.m == 0 || p.n == 0 || p.batch == 0 {
        return Ok(());
    }
    let op = |t: bool| {
        if t {
            cublasOperation_t::CUBLAS_OP_T
        } else {
            cublasOperation_t::CUBLAS_OP_N
        }
    };
    let (m, n, k) = (i32_of(p.m, "m")?, i32_of(p.n, "n")?, i32_of(p.k, "k")?);
    let ldb = if p.trans_b { k } else { n };
    let lda = if p.trans_a { m } else { k };
    // SAFETY: a, b, c are live device blocks of the planned sizes; the handle is bound to
    // this stream.
    unsafe {
        blas::sgemm_strided_batched(
            *s.blas.handle(),
            op(p.trans_b),
            op(p.trans_a),
            n,
            m,
            k.max(1),
            &alpha,
            b as *const f32,
            ldb.max(1),
            p.stride_b as i64,
            a as *const f32,
            lda.max(1),
            p.stride_a as i64,
            &beta,
            c as *mut f32,
            n,
            (p.m * p.n) as i64,
            i32_of(p.batch, "batch")?,
        )
    }
    .map_err(|e| cuda_err("cublasSgemmStridedBatched", e))
}

pub(super) fn matmul(s: &Stream, a: &GpuTensor, b: &GpuTensor) -> Result<GpuTensor> {
    let p = matmul::matmul(a.shape(), b.shape())?;
    if p.k == 0 {
        return Err(Error::unsupported("MatMul", "empty inner dimension"));
    }
    let y = s.alloc(DType::F32, &p.out_shape)?;
    gemm_raw(s, &p, a.ptr(), b.ptr(), y.ptr(), 1.0, 0.0)?;
    Ok(y)
}

pub(super) fn gemm(
    s: &Stream,
    g: &GemmAttrs,
    a: &GpuTensor,
    b: &GpuTensor,
    c: Option<&GpuTensor>,
) -> Result<GpuTensor> {
    let (p, cs) = matmul::gemm(g, a.shape(), b.shape(), c.map(|c| c.shape()))?;
    if p.k == 0 {
        return Err(Error::unsupported("Gemm", "empty inner dimension"));
    }
    let y = s.alloc(DType::F32, &p.out_shape)?;
    let beta = match (c, cs) {
        (Some(c), Some(st)) if g.beta != 0.0 => {
            // Y = C broadcast, then the GEMM accumulates into it
            let n = i32_of(y.len(), "element count")?;
            let (cp, yp, base) = (c.ptr(), y.ptr(), 0i32);
            let (gr, bl) = geom(y.len());
            s.launch("strided_copy_32", gr, bl, args![&cp, &yp, &n, &base, &st])?;
            g.beta
        }
        _ => 0.0,
    };
    gemm_raw(s, &p, a.ptr(), b.ptr(), y.ptr(), g.alpha, beta)?;
    Ok(y)
}
