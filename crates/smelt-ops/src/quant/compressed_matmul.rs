//! `CompressedMatMul`: `Y = alpha * X · W (+ beta * bias)` with W a compressed 2-D weight,
//! decoded a block at a time inside the product. A lowered kernel: the CPU backend builds it
//! from MatMul / Gemm nodes whose weight comes from `LinearDequantize` / `LutToDense` on
//! constants; it is never saved in a package.
//!
//! Shapes: W is `[K, N]` (`trans_b` false) or `[N, K]` (`trans_b` true). X is `[.., K]`
//! (MatMul: any rank >= 1, leading dims folded into M) and Y is `[.., N]` (`[N]` for a 1-D
//! X). `bias`, when present, is `[N]` (Gemm's C broadcast along rows).
//!
//! Blocking: `[K, N]` weights are decoded `kb` rows at a time and accumulated
//! (`Y += X[:, k0..k1] · W[k0..k1, :]`); `[N, K]` weights `nb` rows at a time, each block
//! giving columns `n0..n1` of Y, the blocks spread over threads. The decoded block stays
//! near [`SCRATCH_ELEMS`] floats a thread, so memory stays near the compressed size
//! whatever the weight's.
//!
//! Small batches on blocks: with `trans_b`, at most [`block_gemv::MAX_ROWS`] rows of X and a
//! weight of 4- or 8-bit codes in blocks of 32 along K (GGUF's Q4_0 / Q4_1 / Q8_0), the
//! product is taken on the codes ([`block_gemv`]), the weight never decoded to memory: with
//! X in f32 (the same values as the decoded product, the sums in another order) or, when
//! `activations` is `Q8` (`SMELT_Q8_ACTIVATIONS=1` when the op is built), with X quantized
//! to 8 bits a block as llama.cpp does.

use super::block_gemv::{self, Activations, BlockRows};
use super::packed::Packed;
use crate::linalg::blas::{row_major, sgemm, transposed};
use crate::prelude::*;
use rayon::prelude::*;

/// Target size of one decoded weight block, in f32 elements (256 KiB).
pub const SCRATCH_ELEMS: usize = 1 << 16;

thread_local! {
    /// Each thread's decoded block, kept between calls (a fresh one each time would be
    /// pages mapped, zeroed and unmapped per block).
    static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[derive(Debug)]
pub struct CompressedMatMul {
    pub w: Arc<Packed>,
    pub trans_b: bool,
    pub alpha: f32,
    pub beta: f32,
    /// How small batches on block weights take X (see the module doc).
    pub activations: Activations,
}

impl CompressedMatMul {
    pub fn new(w: Arc<Packed>, trans_b: bool, alpha: f32, beta: f32) -> Result<Self> {
        ensure!(
            w.shape.len() == 2,
            "CompressedMatMul: weight must be 2-D, got {:?}",
            w.shape
        );
        Ok(CompressedMatMul {
            w,
            trans_b,
            alpha,
            beta,
            activations: if smelt_core::settings::flag("SMELT_Q8_ACTIVATIONS") {
                Activations::Q8
            } else {
                Activations::F32
            },
        })
    }

    /// (K, N) of the weight.
    fn kn(&self) -> (usize, usize) {
        let (r, c) = (self.w.shape[0], self.w.shape[1]);
        if self.trans_b {
            (c, r)
        } else {
            (r, c)
        }
    }

    pub fn run(&self, x: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        let (k, n) = self.kn();
        ensure!(
            x.dtype() == DType::F32,
            "CompressedMatMul: X must be float, got {}",
            x.dtype()
        );
        let xs = x.shape();
        ensure!(
            xs.last() == Some(&k),
            "CompressedMatMul: X {xs:?} must end in K={k} (weight {:?})",
            self.w.shape
        );
        let m = x.len() / k.max(1);
        let mut out_shape = xs[..xs.len() - 1].to_vec();
        out_shape.push(n);
        let mut y = vec![0.0f32; m * n];
        let mut beta = 0.0;
        if let Some(b) = bias {
            ensure!(
                b.dtype() == DType::F32 && b.len() == n,
                "CompressedMatMul: bias must be float with {n} values, got {} {:?}",
                b.dtype(),
                b.shape()
            );
            let bv = b.as_slice::<f32>()?;
            for row in y.chunks_mut(n.max(1)) {
                for (o, &v) in row.iter_mut().zip(bv) {
                    *o = self.beta * v;
                }
            }
            beta = 1.0;
        }
        if m == 0 || n == 0 {
            return Tensor::from_vec(out_shape, y);
        }
        if k == 0 {
            return Tensor::from_vec(out_shape, y);
        }
        let xv = x.as_slice::<f32>()?;
        if self.trans_b && m <= block_gemv::MAX_ROWS {
            if let Some(w) = BlockRows::of(&self.w) {
                block_gemv::matmul(&w, xv, m, self.alpha, &mut y, self.activations)?;
                return Tensor::from_vec(out_shape, y);
            }
        }
        let mut scratch = Vec::new();
        if !self.trans_b {
            // W [K, N]: accumulate over row blocks of K
            let kb = (SCRATCH_ELEMS / n).clamp(1, k);
            for k0 in (0..k).step_by(kb) {
                let k1 = (k0 + kb).min(k);
                self.w.decode_rows(k0, k1, &mut scratch);
                sgemm(
                    m,
                    n,
                    k1 - k0,
                    &xv[k0..],
                    row_major(k),
                    &scratch,
                    row_major(n),
                    &mut y,
                    n,
                    self.alpha,
                    beta,
                );
                beta = 1.0;
            }
        } else {
            // W [N, K]: each row block is a block of output columns, decoded and multiplied
            // on its own thread, then added into Y
            let nb = (SCRATCH_ELEMS / k).clamp(1, n);
            let starts: Vec<usize> = (0..n).step_by(nb).collect();
            let parts: Vec<Vec<f32>> = starts
                .par_iter()
                .map(|&n0| {
                    let n1 = (n0 + nb).min(n);
                    // taken, not borrowed: sgemm's own threads may run another block
                    // on this thread meanwhile
                    let mut scratch = SCRATCH.take();
                    self.w.decode_rows(n0, n1, &mut scratch);
                    let mut part = vec![0.0f32; m * (n1 - n0)];
                    sgemm(
                        m,
                        n1 - n0,
                        k,
                        xv,
                        row_major(k),
                        &scratch,
                        transposed(k),
                        &mut part,
                        n1 - n0,
                        self.alpha,
                        0.0,
                    );
                    SCRATCH.set(scratch);
                    part
                })
                .collect();
            for (&n0, part) in starts.iter().zip(&parts) {
                let w = part.len() / m;
                for (yr, pr) in y.chunks_mut(n).zip(part.chunks(w)) {
                    for (o, &v) in yr[n0..n0 + w].iter_mut().zip(pr) {
                        *o += v;
                    }
                }
            }
        }
        Tensor::from_vec(out_shape, y)
    }
}

impl Op for CompressedMatMul {
    fn op_type(&self) -> &str {
        "CompressedMatMul"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        Ok(vec![self.run(req(&inputs, 0)?, opt(&inputs, 1))?])
    }
}
