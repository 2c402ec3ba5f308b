//! The shared matrix-multiply kernel: `C = alpha * A·B + beta * C` on strided matrices.
//!
//! Used by MatMul, Gemm, Einsum and Conv here, and by other families (LSTM, MatMulInteger,
//! attention). f32 and f64 go through the `gemm` crate (SIMD, rayon for large products);
//! f16 and bf16 compute in f32; integer types use a plain loop with wrapping arithmetic.
//!
//! Layout contract: `A` is `m x k`, `B` is `k x n`, each given as a slice plus
//! `[row_stride, col_stride]` in elements (so a transposed operand is just swapped strides).
//! `C` is `m x n`, row-major with row stride `ldc` (>= n) and column stride 1. Every element
//! addressed through the strides must lie inside its slice; this is checked and a violation
//! panics (it is a caller bug, never a user-data condition).

use crate::prelude::*;
use rayon::prelude::*;

/// `[row_stride, col_stride]` of a matrix, in elements.
pub type MatStrides = [usize; 2];

/// Row-major strides for a matrix with `cols` columns.
pub fn row_major(cols: usize) -> MatStrides {
    [cols, 1]
}

/// Strides of the transpose of a row-major matrix with `cols` columns.
pub fn transposed(cols: usize) -> MatStrides {
    [1, cols]
}

/// Products below this many multiply-adds run single-threaded.
const PAR_THRESHOLD: usize = 48 * 48 * 48;

/// Index of the last element a strided `rows x cols` matrix addresses (0 for an empty one).
fn extent(rows: usize, cols: usize, s: MatStrides) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * s[0] + (cols - 1) * s[1] + 1
    }
}

fn check(
    m: usize,
    n: usize,
    k: usize,
    la: usize,
    sa: MatStrides,
    lb: usize,
    sb: MatStrides,
    lc: usize,
    ldc: usize,
) {
    assert!(
        extent(m, k, sa) <= la,
        "gemm: A ({m}x{k}, strides {sa:?}) exceeds its slice of {la}"
    );
    assert!(
        extent(k, n, sb) <= lb,
        "gemm: B ({k}x{n}, strides {sb:?}) exceeds its slice of {lb}"
    );
    assert!(
        m == 0 || n == 0 || (ldc >= n && (m - 1) * ldc + n <= lc),
        "gemm: C ({m}x{n}, ldc {ldc}) exceeds its slice of {lc}"
    );
}

/// Element types the kernel multiplies.
pub trait GemmScalar: Elem + Copy {
    fn zero() -> Self;
    fn one() -> Self;
    /// `v` converted with `as` semantics (ints truncate toward zero and saturate).
    fn from_f64(v: f64) -> Self;
    /// `C = alpha * A·B + beta * C` (see the module contract). With `beta == 0`, `C` is
    /// not read (NaNs in it do not propagate). `par` allows multi-threading.
    #[allow(clippy::too_many_arguments)]
    fn gemm(
        m: usize,
        n: usize,
        k: usize,
        a: &[Self],
        sa: MatStrides,
        b: &[Self],
        sb: MatStrides,
        c: &mut [Self],
        ldc: usize,
        alpha: Self,
        beta: Self,
        par: bool,
    );
}

macro_rules! gemm_crate_impl {
    ($t:ty) => {
        impl GemmScalar for $t {
            fn zero() -> Self {
                0.0
            }
            fn one() -> Self {
                1.0
            }
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            fn gemm(
                m: usize,
                n: usize,
                k: usize,
                a: &[Self],
                sa: MatStrides,
                b: &[Self],
                sb: MatStrides,
                c: &mut [Self],
                ldc: usize,
                alpha: Self,
                beta: Self,
                par: bool,
            ) {
                check(m, n, k, a.len(), sa, b.len(), sb, c.len(), ldc);
                if m == 0 || n == 0 {
                    return;
                }
                if k == 0 {
                    for r in 0..m {
                        for x in &mut c[r * ldc..r * ldc + n] {
                            *x = if beta == 0.0 { 0.0 } else { *x * beta };
                        }
                    }
                    return;
                }
                let parallelism = if par
                    && m.saturating_mul(n).saturating_mul(k) >= PAR_THRESHOLD
                    && rayon::current_num_threads() > 1
                {
                    gemm::Parallelism::Rayon(rayon::current_num_threads())
                } else {
                    gemm::Parallelism::None
                };
                // SAFETY: `check` proved every addressed element of A, B and C lies inside
                // its slice; C is exclusively borrowed and distinct from A and B.
                // The crate computes dst = alpha_g*dst + beta_g*lhs*rhs.
                unsafe {
                    gemm::gemm(
                        m,
                        n,
                        k,
                        c.as_mut_ptr(),
                        1,
                        ldc as isize,
                        beta != 0.0,
                        a.as_ptr(),
                        sa[1] as isize,
                        sa[0] as isize,
                        b.as_ptr(),
                        sb[1] as isize,
                        sb[0] as isize,
                        beta,
                        alpha,
                        false,
                        false,
                        false,
                        parallelism,
                    );
                }
            }
        }
    };
}
gemm_crate_impl!(f32);
gemm_crate_impl!(f64);

/// Copies a strided matrix into a dense row-major f32 buffer.
fn to_f32_dense<T: Copy>(
    rows: usize,
    cols: usize,
    x: &[T],
    s: MatStrides,
    f: impl Fn(T) -> f32,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        for col in 0..cols {
            out.push(f(x[r * s[0] + col * s[1]]));
        }
    }
    out
}

macro_rules! half_impl {
    ($t:ty) => {
        impl GemmScalar for $t {
            fn zero() -> Self {
                <$t>::ZERO
            }
            fn one() -> Self {
                <$t>::ONE
            }
            fn from_f64(v: f64) -> Self {
                <$t>::from_f64(v)
            }
            fn gemm(
                m: usize,
                n: usize,
                k: usize,
                a: &[Self],
                sa: MatStrides,
                b: &[Self],
                sb: MatStrides,
                c: &mut [Self],
                ldc: usize,
                alpha: Self,
                beta: Self,
                par: bool,
            ) {
                check(m, n, k, a.len(), sa, b.len(), sb, c.len(), ldc);
                let a32 = to_f32_dense(m, k, a, sa, |x| x.to_f32());
                let b32 = to_f32_dense(k, n, b, sb, |x| x.to_f32());
                let beta = beta.to_f32();
                let mut c32 = vec![0f32; m * n];
                if beta != 0.0 {
                    for r in 0..m {
                        for j in 0..n {
                            c32[r * n + j] = c[r * ldc + j].to_f32();
                        }
                    }
                }
                f32::gemm(
                    m,
                    n,
                    k,
                    &a32,
                    row_major(k),
                    &b32,
                    row_major(n),
                    &mut c32,
                    n,
                    alpha.to_f32(),
                    beta,
                    par,
                );
                for r in 0..m {
                    for j in 0..n {
                        c[r * ldc + j] = <$t>::from_f32(c32[r * n + j]);
                    }
                }
            }
        }
    };
}
half_impl!(f16);
half_impl!(bf16);

macro_rules! int_impl {
    ($($t:ty),*) => {$(
        impl GemmScalar for $t {
            fn zero() -> Self {
                0
            }
            fn one() -> Self {
                1
            }
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            fn gemm(m: usize, n: usize, k: usize, a: &[Self], sa: MatStrides, b: &[Self], sb: MatStrides, c: &mut [Self], ldc: usize, alpha: Self, beta: Self, _par: bool) {
                check(m, n, k, a.len(), sa, b.len(), sb, c.len(), ldc);
                let mut acc = vec![0 as $t; n];
                for r in 0..m {
                    acc.iter_mut().for_each(|x| *x = 0);
                    for p in 0..k {
                        let av = a[r * sa[0] + p * sa[1]];
                        if av == 0 {
                            continue;
                        }
                        let brow = p * sb[0];
                        for (j, x) in acc.iter_mut().enumerate() {
                            *x = x.wrapping_add(av.wrapping_mul(b[brow + j * sb[1]]));
                        }
                    }
                    let crow = &mut c[r * ldc..r * ldc + n];
                    for (cv, &s) in crow.iter_mut().zip(&acc) {
                        let base = if beta == 0 { 0 } else { cv.wrapping_mul(beta) };
                        *cv = base.wrapping_add(alpha.wrapping_mul(s));
                    }
                }
            }
        }
    )*};
}
int_impl!(i8, u8, i16, u16, i32, u32, i64, u64);

/// `C = alpha * A·B + beta * C` in f32 (see the module contract for layouts).
#[allow(clippy::too_many_arguments)]
pub fn sgemm(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    sa: MatStrides,
    b: &[f32],
    sb: MatStrides,
    c: &mut [f32],
    ldc: usize,
    alpha: f32,
    beta: f32,
) {
    f32::gemm(m, n, k, a, sa, b, sb, c, ldc, alpha, beta, true)
}

/// `C = alpha * A·B + beta * C` in f64.
#[allow(clippy::too_many_arguments)]
pub fn dgemm(
    m: usize,
    n: usize,
    k: usize,
    a: &[f64],
    sa: MatStrides,
    b: &[f64],
    sb: MatStrides,
    c: &mut [f64],
    ldc: usize,
    alpha: f64,
    beta: f64,
) {
    f64::gemm(m, n, k, a, sa, b, sb, c, ldc, alpha, beta, true)
}

/// A batch of products `C[i] = A[i]·B[i]` (alpha 1, beta 0). `a_off[i]`, `b_off[i]` are the
/// element offsets of each batch's matrices; `C` is dense, `m x n` per batch, in batch order.
/// Small matrices run batch-parallel, large ones let the kernel parallelise each product.
#[allow(clippy::too_many_arguments)]
pub fn batched_gemm<T: GemmScalar>(
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    sa: MatStrides,
    a_off: &[usize],
    b: &[T],
    sb: MatStrides,
    b_off: &[usize],
    c: &mut [T],
) {
    let batch = a_off.len();
    assert!(
        b_off.len() == batch && c.len() == batch * m * n,
        "batched_gemm: batch sizes differ"
    );
    if m * n == 0 {
        return;
    }
    let ea = extent(m, k, sa);
    let eb = extent(k, n, sb);
    let run = |i: usize, ci: &mut [T], par: bool| {
        let (ao, bo) = (a_off[i], b_off[i]);
        T::gemm(
            m,
            n,
            k,
            &a[ao..ao + ea],
            sa,
            &b[bo..bo + eb],
            sb,
            ci,
            n,
            T::one(),
            T::zero(),
            par,
        );
    };
    let small = m.saturating_mul(n).saturating_mul(k) < PAR_THRESHOLD;
    if batch > 1 && small && rayon::current_num_threads() > 1 {
        c.par_chunks_mut(m * n)
            .enumerate()
            .for_each(|(i, ci)| run(i, ci, false));
    } else {
        c.chunks_mut(m * n)
            .enumerate()
            .for_each(|(i, ci)| run(i, ci, true));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random values in [-1, 1).
    pub(crate) fn rand_vec(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 33) as f64 / (1u64 << 31) as f64) * 2.0 - 1.0
            })
            .collect()
    }

    fn naive(
        m: usize,
        n: usize,
        k: usize,
        a: &[f64],
        sa: MatStrides,
        b: &[f64],
        sb: MatStrides,
        c: &[f64],
        alpha: f64,
        beta: f64,
    ) -> Vec<f64> {
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0;
                for p in 0..k {
                    s += a[i * sa[0] + p * sa[1]] * b[p * sb[0] + j * sb[1]];
                }
                out[i * n + j] = alpha * s + beta * c[i * n + j];
            }
        }
        out
    }

    /// f32 accumulation over k <= 70 terms of magnitude <= 1.
    const F32_TOL: f64 = 1e-4;
    const F64_TOL: f64 = 1e-12;

    #[test]
    fn f32_f64_match_naive_on_odd_sizes() {
        let sizes = [1usize, 7, 31, 32, 33, 64];
        let mut seed = 1;
        for &m in &sizes {
            for &n in &sizes {
                for &k in &[1usize, 7, 31, 32, 33, 64] {
                    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                        seed += 1;
                        let a = rand_vec(m * k, seed);
                        let b = rand_vec(k * n, seed + 1000);
                        let c = rand_vec(m * n, seed + 2000);
                        let sa = if ta { transposed(m) } else { row_major(k) };
                        let sb = if tb { transposed(k) } else { row_major(n) };
                        let (alpha, beta) = (0.75, if seed % 2 == 0 { 0.0 } else { -1.5 });
                        let want = naive(m, n, k, &a, sa, &b, sb, &c, alpha, beta);
                        let mut c64 = c.clone();
                        dgemm(m, n, k, &a, sa, &b, sb, &mut c64, n, alpha, beta);
                        let a32: Vec<f32> = a.iter().map(|&x| x as f32).collect();
                        let b32: Vec<f32> = b.iter().map(|&x| x as f32).collect();
                        let mut c32: Vec<f32> = c.iter().map(|&x| x as f32).collect();
                        sgemm(
                            m,
                            n,
                            k,
                            &a32,
                            sa,
                            &b32,
                            sb,
                            &mut c32,
                            n,
                            alpha as f32,
                            beta as f32,
                        );
                        for i in 0..m * n {
                            assert!(
                                (c64[i] - want[i]).abs() < F64_TOL,
                                "f64 {m}x{n}x{k} t{ta}{tb} at {i}"
                            );
                            assert!(
                                (c32[i] as f64 - want[i]).abs() < F32_TOL,
                                "f32 {m}x{n}x{k} t{ta}{tb} at {i}: {} vs {}",
                                c32[i],
                                want[i]
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn ints_and_halves_match_naive() {
        for &(m, n, k) in &[
            (1usize, 1usize, 1usize),
            (7, 33, 31),
            (32, 31, 33),
            (33, 64, 7),
        ] {
            let a: Vec<i32> = rand_vec(m * k, 3)
                .iter()
                .map(|x| (x * 100.0) as i32)
                .collect();
            let b: Vec<i32> = rand_vec(k * n, 4)
                .iter()
                .map(|x| (x * 100.0) as i32)
                .collect();
            let af: Vec<f64> = a.iter().map(|&x| x as f64).collect();
            let bf: Vec<f64> = b.iter().map(|&x| x as f64).collect();
            let want = naive(
                m,
                n,
                k,
                &af,
                row_major(k),
                &bf,
                transposed(k),
                &vec![0.0; m * n],
                1.0,
                0.0,
            );
            let mut c = vec![7i32; m * n];
            i32::gemm(
                m,
                n,
                k,
                &a,
                row_major(k),
                &b,
                transposed(k),
                &mut c,
                n,
                1,
                0,
                true,
            );
            assert!(c.iter().zip(&want).all(|(&x, &y)| x as f64 == y));
            let ah: Vec<f16> = rand_vec(m * k, 5)
                .iter()
                .map(|&x| f16::from_f64(x))
                .collect();
            let bh: Vec<f16> = rand_vec(k * n, 6)
                .iter()
                .map(|&x| f16::from_f64(x))
                .collect();
            let af: Vec<f64> = ah.iter().map(|x| x.to_f64()).collect();
            let bf: Vec<f64> = bh.iter().map(|x| x.to_f64()).collect();
            let want = naive(
                m,
                n,
                k,
                &af,
                row_major(k),
                &bf,
                row_major(n),
                &vec![0.0; m * n],
                1.0,
                0.0,
            );
            let mut c = vec![f16::ZERO; m * n];
            f16::gemm(
                m,
                n,
                k,
                &ah,
                row_major(k),
                &bh,
                row_major(n),
                &mut c,
                n,
                f16::ONE,
                f16::ZERO,
                true,
            );
            // one f16 rounding of a value of magnitude <= 33
            assert!(c
                .iter()
                .zip(&want)
                .all(|(x, y)| (x.to_f64() - y).abs() <= 0.02 + y.abs() * 1e-3));
        }
    }

    #[test]
    fn batched_matches_single() {
        let (m, n, k, batch) = (5, 33, 9, 4);
        let a = rand_vec(batch * m * k, 7);
        let b = rand_vec(k * n, 8);
        let mut c = vec![0.0; batch * m * n];
        let a_off: Vec<usize> = (0..batch).map(|i| i * m * k).collect();
        batched_gemm(
            m,
            n,
            k,
            &a,
            row_major(k),
            &a_off,
            &b,
            row_major(n),
            &[0; 4],
            &mut c,
        );
        for i in 0..batch {
            let want = naive(
                m,
                n,
                k,
                &a[i * m * k..],
                row_major(k),
                &b,
                row_major(n),
                &vec![0.0; m * n],
                1.0,
                0.0,
            );
            for j in 0..m * n {
                assert!((c[i * m * n + j] - want[j]).abs() < F64_TOL);
            }
        }
    }
}
