//! MatMul and Gemm through cuBLAS, in the stream's precision (see `crate::precision`):
//! fp32 SGEMM (no TF32) by default; TF32, fp16 or bf16 operands with fp32 accumulation and
//! an f32 output otherwise.

use super::geom;
use crate::cuda::device::cuda_err;
use crate::cuda::lt::LtKey;
use crate::cuda::stream::{args, Stream};
use crate::cuda::tensor::GpuTensor;
use crate::plan::i32_of;
use crate::plan::matmul::{self, GemmAttrs, GemmPlan};
use crate::precision::Precision;
use cudarc::cublas::{
    result as blas,
    sys::{cublasComputeType_t, cublasGemmAlgo_t, cublasOperation_t, cudaDataType},
};
use smelt_core::{DType, Error, Result};
use std::ffi::c_void;

/// A GEMM operand in the stream's precision: its address, and the 16-bit copy made for
/// this call (kept alive until the GEMM is queued; the stream orders its reuse).
pub(crate) struct Operand {
    pub ptr: u64,
    _tmp: Option<GpuTensor>,
}

/// The 16-bit kernels' `bf` argument: 0 = fp16, 1 = bf16.
fn bf_flag(p: Precision) -> i32 {
    (p == Precision::Bf16) as i32
}

/// `t` (f32) as a GEMM operand: itself at fp32/tf32, or when it already holds the 16-bit
/// type (stored so by its producer, see `exec/lowp.rs`); at fp16/bf16 a 16-bit copy, cached on
/// the stream when `t` is a constant (a weight: converted once), else made now unless it is
/// the activation converted last (Q, K and V projections of one input).
pub(crate) fn operand(s: &Stream, t: &GpuTensor) -> Result<Operand> {
    if !s.precision.is_16bit() || Some(t.dtype()) == s.precision.storage_16bit() {
        return Ok(Operand {
            ptr: t.ptr(),
            _tmp: None,
        });
    }
    let convert = || -> Result<GpuTensor> {
        // 16-bit elements, stored in an F16 tensor whatever the type (only the bytes matter)
        let y = s.alloc(DType::F16, &[t.len()])?;
        let (xp, yp, n, bf) = (
            t.ptr(),
            y.ptr(),
            i32_of(t.len(), "element count")?,
            bf_flag(s.precision),
        );
        let (g, b) = geom(t.len());
        s.launch("f32_to_16bit", g, b, args![&xp, &yp, &n, &bf])?;
        Ok(y)
    };
    let c = if s.is_constant(t) {
        s.lowp_cached(t, convert)?
    } else {
        s.lowp_last(t, convert)?
    };
    Ok(Operand {
        ptr: c.ptr(),
        _tmp: Some(c),
    })
}

/// The `bf` argument of the 16-bit kernels for the stream's precision.
pub(crate) fn bf16_flag(s: &Stream) -> i32 {
    bf_flag(s.precision)
}

/// Row-major C[b] = alpha * A[b] * B[b] + beta * C[b] (plan's transposes applied), as the
/// column-major product C^T = B^T * A^T. `c` is dense f32 m x n per batch; `a` and `b` are
/// in the stream's precision (see [`operand`]).
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
    s.traced(
        || {
            format!(
                "gemm {} m{} n{} k{} batch {}{}{}",
                s.precision.name(),
                p.m,
                p.n,
                p.k,
                p.batch,
                if p.trans_a { " At" } else { "" },
                if p.trans_b { " Bt" } else { "" }
            )
        },
        || gemm_launch(s, p, a, b, c, alpha, beta),
    )
}

fn gemm_launch(
    s: &Stream,
    p: &GemmPlan,
    a: u64,
    b: u64,
    c: u64,
    alpha: f32,
    beta: f32,
) -> Result<()> {
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
    if s.precision != Precision::F32 {
        let (ty, compute) = match s.precision {
            Precision::Tf32 => (
                cudaDataType::CUDA_R_32F,
                cublasComputeType_t::CUBLAS_COMPUTE_32F_FAST_TF32,
            ),
            Precision::F16 => (
                cudaDataType::CUDA_R_16F,
                cublasComputeType_t::CUBLAS_COMPUTE_32F,
            ),
            _ => (
                cudaDataType::CUDA_R_16BF,
                cublasComputeType_t::CUBLAS_COMPUTE_32F,
            ),
        };
        // SAFETY: as below; alpha and beta are f32 because the compute type is 32F.
        return unsafe {
            blas::gemm_strided_batched_ex(
                *s.blas.handle(),
                op(p.trans_b),
                op(p.trans_a),
                n,
                m,
                k.max(1),
                &alpha as *const f32 as *const c_void,
                b as *const c_void,
                ty,
                ldb.max(1),
                p.stride_b as i64,
                a as *const c_void,
                ty,
                lda.max(1),
                p.stride_a as i64,
                &beta as *const f32 as *const c_void,
                c as *mut c_void,
                cudaDataType::CUDA_R_32F,
                n,
                (p.m * p.n) as i64,
                i32_of(p.batch, "batch")?,
                compute,
                cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
            )
        }
        .map_err(|e| cuda_err("cublasGemmStridedBatchedEx", e));
    }
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

/// alpha * (a @ b), plus `bias` (f32, one value per output column: a folded bias Add, see
/// `plan::fold`) when given, plus `residual` (of the output's shape, f32 or with `out16`
/// that type: a folded residual Add, only with a bias) when given; f32 out. The bias goes in cuBLASLt's epilogue and
/// the residual in its C (beta 1) when the product is one GEMM; else the residual is
/// copied to the output, the GEMM accumulates into it and a kernel adds the bias. With
/// `out16` (the stream's 16-bit type) and a bias, cuBLASLt writes the output in 16 bits
/// where it can, adding the bias rounded to 16 bits and the residual in 16 bits (else
/// f32: readers take either).
pub(super) fn matmul(
    s: &Stream,
    a: &GpuTensor,
    b: &GpuTensor,
    alpha: f32,
    bias: Option<&GpuTensor>,
    residual: Option<&GpuTensor>,
    out16: Option<DType>,
) -> Result<GpuTensor> {
    let p = matmul::matmul(a.shape(), b.shape())?;
    if p.k == 0 {
        return Err(Error::unsupported("MatMul", "empty inner dimension"));
    }
    if let Some(c) = bias {
        if c.dtype() != DType::F32 || c.len() != p.n || c.shape().len() != 1 {
            return Err(Error::unsupported(
                "MatMul+Add",
                format!("bias {} {:?} for {} columns", c.dtype(), c.shape(), p.n),
            ));
        }
    }
    if let Some(r) = residual {
        let r_type_ok = r.dtype() == DType::F32
            || (out16.is_some() && Some(r.dtype()) == s.precision.storage_16bit());
        if !r_type_ok || r.shape() != p.out_shape.as_slice() || bias.is_none() {
            return Err(Error::unsupported(
                "MatMul+Add+Add",
                format!(
                    "residual {} {:?} for an output of {:?}",
                    r.dtype(),
                    r.shape(),
                    p.out_shape
                ),
            ));
        }
    }
    let (oa, ob) = (operand(s, a)?, operand(s, b)?);
    let key = |out16: bool| LtKey {
        m: p.m as u64,
        n: p.n as u64,
        k: p.k as u64,
        trans_a: p.trans_a,
        trans_b: p.trans_b,
        precision: s.precision,
        out16,
    };
    if let (Some(d), Some(c), 1) = (out16, bias, p.batch) {
        let y = s.alloc(d, &p.out_shape)?;
        if y.is_empty() {
            return Ok(y);
        }
        // the bias in 16 bits too (cuBLASLt's bias takes D's type), converted once, and the
        // residual as C in 16 bits (stored so by its producer, else converted)
        let c16 = operand(s, c)?;
        let r16 = residual.map(|r| operand(s, r)).transpose()?;
        let rp = r16.as_ref().map(|r| r.ptr);
        match s.gemm_bias(key(true), oa.ptr, ob.ptr, y.ptr(), c16.ptr, rp, alpha) {
            Ok(()) => return Ok(y),
            Err(e) if e.is_unsupported() => {}
            Err(e) => return Err(e),
        }
    }
    let y = s.alloc(DType::F32, &p.out_shape)?;
    let Some(c) = bias else {
        gemm_raw(s, &p, oa.ptr, ob.ptr, y.ptr(), alpha, 0.0)?;
        return Ok(y);
    };
    if y.is_empty() {
        return Ok(y);
    }
    // a 16-bit residual (for the 16-bit output cuBLASLt refused) widened
    let residual = residual.map(|r| super::as_f32(s, r)).transpose()?;
    let residual = residual.as_ref();
    let rp = residual.map(|r| r.ptr());
    let fused = if p.batch == 1 {
        s.gemm_bias(key(false), oa.ptr, ob.ptr, y.ptr(), c.ptr(), rp, alpha)
    } else {
        Err(Error::unsupported("cublasLt", "batched"))
    };
    match fused {
        Ok(()) => {}
        Err(e) if e.is_unsupported() => {
            let beta = match residual {
                Some(r) => {
                    s.copy_device(r, &y)?;
                    1.0
                }
                None => 0.0,
            };
            gemm_raw(s, &p, oa.ptr, ob.ptr, y.ptr(), alpha, beta)?;
            let (yp, cp, n, total) = (
                y.ptr(),
                c.ptr(),
                i32_of(p.n, "columns")?,
                i32_of(y.len(), "element count")?,
            );
            let (g, bl) = geom(y.len());
            s.launch("row_bias_f32", g, bl, args![&yp, &cp, &n, &total])?;
        }
        Err(e) => return Err(e),
    }
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
    let (oa, ob) = (operand(s, a)?, operand(s, b)?);
    gemm_raw(s, &p, oa.ptr, ob.ptr, y.ptr(), g.alpha, beta)?;
    Ok(y)
}
