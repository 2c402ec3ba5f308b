//! GEMMs through cuBLASLt where an epilogue saves a pass: `D = alpha * A B + bias` with the
//! bias (f32, one value per output column in row-major terms) added by the GEMM's own
//! epilogue (a MatMul folded with its bias Add, see `plan::fold`). One cuBLASLt handle per
//! stream; the matmul descriptor, layouts and the algorithm cuBLASLt's heuristic ranks
//! first are cached per shape. It shares the stream's cuBLAS workspace (both run in stream
//! order).

use super::stream::Stream;
use crate::precision::Precision;
use cudarc::cublaslt::{result, sys};
use smelt_core::{Error, Result};
use std::collections::HashMap;
use std::ffi::c_void;

/// One planned shape: row-major D [m, n] = A [m, k] (or its transpose) times B [k, n].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct LtKey {
    pub m: u64,
    pub n: u64,
    pub k: u64,
    pub trans_a: bool,
    pub trans_b: bool,
    pub precision: Precision,
    /// D (and C, the bias) in the precision's 16-bit type (fp16 / bf16 only), else f32.
    pub out16: bool,
}

struct LtPlan {
    desc: sys::cublasLtMatmulDesc_t,
    a: sys::cublasLtMatrixLayout_t,
    b: sys::cublasLtMatrixLayout_t,
    d: sys::cublasLtMatrixLayout_t,
    algo: sys::cublasLtMatmulAlgo_t,
}

impl Drop for LtPlan {
    fn drop(&mut self) {
        // SAFETY: created by `plan`, destroyed once.
        unsafe {
            let _ = result::destroy_matrix_layout(self.a);
            let _ = result::destroy_matrix_layout(self.b);
            let _ = result::destroy_matrix_layout(self.d);
            let _ = result::destroy_matmul_desc(self.desc);
        }
    }
}

/// The stream's cuBLASLt handle and plans.
pub(crate) struct Lt {
    handle: sys::cublasLtHandle_t,
    plans: HashMap<LtKey, Option<LtPlan>>,
}

// SAFETY: the handle and descriptors are used under the stream's lock only.
unsafe impl Send for Lt {}

impl Drop for Lt {
    fn drop(&mut self) {
        self.plans.clear();
        // SAFETY: created in `new`, destroyed once, after its plans.
        unsafe {
            let _ = result::destroy_handle(self.handle);
        }
    }
}

fn lt_err(what: &str, e: impl std::fmt::Debug) -> Error {
    Error::unsupported("cublasLt", format!("{what}: {e:?}"))
}

impl Lt {
    pub(crate) fn new() -> Result<Lt> {
        let handle = result::create_handle().map_err(|e| lt_err("creating the handle", e))?;
        Ok(Lt {
            handle,
            plans: HashMap::new(),
        })
    }

    /// Row-major `d = alpha * op(a) * op(b) + c + bias` for `key` on stream `s`; `a` and
    /// `b` in the key's operand type, `d`, `bias` (n values) and `c` (d's shape, read only
    /// when given) f32, or all three in the 16-bit type with `key.out16` (the sum of the
    /// product, bias and c is f32, rounded once). `Err(UnsupportedOp)` when
    /// cuBLASLt has no algorithm for it (the caller then runs the GEMM and the bias apart).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn gemm_bias(
        &mut self,
        s: &Stream,
        key: LtKey,
        a: u64,
        b: u64,
        d: u64,
        bias: u64,
        c: Option<u64>,
        alpha: f32,
    ) -> Result<()> {
        if !self.plans.contains_key(&key) {
            let p = self.plan(s, &key).ok();
            self.plans.insert(key, p);
        }
        let Some(p) = self.plans.get(&key).and_then(|p| p.as_ref()) else {
            return Err(Error::unsupported(
                "cublasLt",
                format!("no algorithm for {key:?}"),
            ));
        };
        // SAFETY: the bias pointer attribute is a device address of n f32 values.
        unsafe {
            result::set_matmul_desc_attribute(
                p.desc,
                sys::cublasLtMatmulDescAttributes_t::CUBLASLT_MATMUL_DESC_BIAS_POINTER,
                &bias as *const u64 as *const c_void,
                std::mem::size_of::<u64>(),
            )
        }
        .map_err(|e| lt_err("bias pointer", e))?;
        // C: the residual (beta 1), else not read (beta 0) and aliasing D
        let (beta, c) = match c {
            Some(c) => (1f32, c),
            None => (0f32, d),
        };
        let (ws, ws_size) = s.workspace();
        // Column-major D^T [n, m] = B^T [n, k] * A^T [k, m]: cuBLASLt's A is our b.
        // SAFETY: live device blocks of the planned shapes (the caller's contract); C has
        // D's layout.
        unsafe {
            result::matmul(
                self.handle,
                p.desc,
                &alpha as *const f32 as *const c_void,
                &beta as *const f32 as *const c_void,
                b as *const c_void,
                p.b,
                a as *const c_void,
                p.a,
                c as *const c_void,
                p.d,
                d as *mut c_void,
                p.d,
                &p.algo,
                ws as *mut c_void,
                ws_size,
                s.stream.cu_stream() as sys::cudaStream_t,
            )
        }
        .map_err(|e| Error::device("cuda", format!("cublasLtMatmul: {e:?}")))
    }

    fn plan(&self, s: &Stream, k: &LtKey) -> Result<LtPlan> {
        use sys::cublasLtMatmulDescAttributes_t as A;
        let (ty, compute) = match k.precision {
            Precision::F32 => (
                sys::cudaDataType::CUDA_R_32F,
                sys::cublasComputeType_t::CUBLAS_COMPUTE_32F,
            ),
            Precision::Tf32 => (
                sys::cudaDataType::CUDA_R_32F,
                sys::cublasComputeType_t::CUBLAS_COMPUTE_32F_FAST_TF32,
            ),
            Precision::F16 => (
                sys::cudaDataType::CUDA_R_16F,
                sys::cublasComputeType_t::CUBLAS_COMPUTE_32F,
            ),
            Precision::Bf16 => (
                sys::cudaDataType::CUDA_R_16BF,
                sys::cublasComputeType_t::CUBLAS_COMPUTE_32F,
            ),
        };
        let op = |t: bool| {
            if t {
                cudarc::cublas::sys::cublasOperation_t::CUBLAS_OP_T
            } else {
                cudarc::cublas::sys::cublasOperation_t::CUBLAS_OP_N
            }
        };
        let desc = result::create_matmul_desc(compute, sys::cudaDataType::CUDA_R_32F)
            .map_err(|e| lt_err("matmul descriptor", e))?;
        // the plan owns what is made from here on (dropped on error)
        let mut p = LtPlan {
            desc,
            a: std::ptr::null_mut(),
            b: std::ptr::null_mut(),
            d: std::ptr::null_mut(),
            // SAFETY: plain data, written by the heuristic below before use
            algo: unsafe { std::mem::zeroed() },
        };
        // column-major: cuBLASLt's A = our b (n x k, or k x n transposed), B = our a
        let (ta, tb) = (op(k.trans_b), op(k.trans_a));
        let epilogue = sys::cublasLtEpilogue_t::CUBLASLT_EPILOGUE_BIAS;
        let attr = |a: A, v: *const c_void, size: usize| {
            // SAFETY: v points to `size` bytes of the attribute's type.
            unsafe { result::set_matmul_desc_attribute(p.desc, a, v, size) }
                .map_err(|e| lt_err("matmul attribute", e))
        };
        attr(
            A::CUBLASLT_MATMUL_DESC_TRANSA,
            &ta as *const _ as *const c_void,
            4,
        )?;
        attr(
            A::CUBLASLT_MATMUL_DESC_TRANSB,
            &tb as *const _ as *const c_void,
            4,
        )?;
        attr(
            A::CUBLASLT_MATMUL_DESC_EPILOGUE,
            &epilogue as *const _ as *const c_void,
            4,
        )?;
        // the bias takes D's type
        let d_type = match k.precision {
            Precision::F16 | Precision::Bf16 if k.out16 => ty,
            _ if k.out16 => return Err(lt_err("16-bit output", k.precision.name())),
            _ => sys::cudaDataType::CUDA_R_32F,
        };
        // our b stored row-major k x n (n x k when transposed) = column-major n x k (k x n)
        let (br, bc) = if k.trans_b { (k.k, k.n) } else { (k.n, k.k) };
        let (ar, ac) = if k.trans_a { (k.m, k.k) } else { (k.k, k.m) };
        p.b =
            result::create_matrix_layout(ty, br, bc, br as i64).map_err(|e| lt_err("layout", e))?;
        p.a =
            result::create_matrix_layout(ty, ar, ac, ar as i64).map_err(|e| lt_err("layout", e))?;
        p.d = result::create_matrix_layout(d_type, k.n, k.m, k.n as i64)
            .map_err(|e| lt_err("layout", e))?;
        let pref = result::create_matmul_pref().map_err(|e| lt_err("preference", e))?;
        let ws = s.workspace().1;
        // SAFETY: pref is live; the attribute is a u64 byte count.
        let r = unsafe {
            result::set_matmul_pref_attribute(
                pref,
                sys::cublasLtMatmulPreferenceAttributes_t::CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                &(ws as u64) as *const u64 as *const c_void,
                8,
            )
            .and_then(|_| {
                result::get_matmul_algo_heuristic(self.handle, p.desc, p.b, p.a, p.d, p.d, pref)
            })
        };
        // SAFETY: made above, destroyed once.
        unsafe {
            let _ = result::destroy_matmul_pref(pref);
        }
        p.algo = r.map_err(|e| lt_err("no algorithm", e))?.algo;
        Ok(p)
    }
}
