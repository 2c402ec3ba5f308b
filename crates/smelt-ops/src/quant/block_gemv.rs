//! Products of a few f32 rows with a block-quantized weight, on the codes: `Y += alpha *
//! X · Wᵀ` with W `[N, K]` (one row per output) of 4- or 8-bit linear codes in blocks of 32
//! along K, each block with its own scale (and optional zero point and float offset):
//! GGUF's Q4_0, Q4_1 and Q8_0 as `smelt-llm` imports them. X is `[M, K]`, Y `[M, N]`, M
//! small (decode: 1).
//!
//! A block of 32 costs one dot product of the codes with the row:
//!
//! ```text
//! w = (q - z) * s + o = q' * s + c     q' the code as the kernel reads it, c = o + (sh - z) * s
//! sum_i x_i w_i  =  s * sum_i q'_i x_i  +  c * sum_i x_i
//! ```
//!
//! where `sh` shifts the code into the kernel's integer range (signed 4-bit codes are read
//! unsigned, `q = q' - 8`; unsigned 8-bit ones signed, `q = q' + 128`). Two kinds of
//! [`Activations`]:
//!
//! - `F32`: the codes widened to f32 in registers and multiplied with X as given. Only the
//!   order of the f32 sums differs from the decoded product ([`F32_ULPS`]).
//! - `Q8`: each row of X quantized to 8 bits per block (scale `d = max|x| / 127`, codes
//!   `a = round(x / d)`, and the block's exact float sum), as llama.cpp does for its
//!   Q8_0 / Q8_1 activations, so `sum q'_i x_i ~= d * sum q'_i a_i` is an integer dot
//!   product (`vpmaddubsw`, `vpdpbusd`). Each x is off by at most `d / 2`, hence
//!   [`Q8_TOLERANCE`]; near ties of the logits can go the other way (as they do in
//!   llama.cpp against f32 weights).
//!
//! Kernels: AVX-512 VNNI (`vpdpbusd` on 256-bit vectors; Q8 only) and AVX2 + FMA in
//! `x86.rs`, picked at run time, and a portable scalar one. Threads: rayon over chunks of
//! output columns.

use super::packed::{Packed, Params};
use crate::prelude::*;
use rayon::prelude::*;

/// Elements of one quantization block along K.
pub const QK: usize = 32;

/// Rows of X up to which `CompressedMatMul` takes this path (decode and small batches);
/// larger M decodes weight tiles once and reuses them over the rows.
pub const MAX_ROWS: usize = 8;

/// Tolerance of the `F32` activations against the f64 product of the decoded weight, in
/// units of `f32::EPSILON` times `sum_i |x_i| (|q'_i s| + |c|)` (the magnitudes summed).
pub const F32_ULPS: f32 = 8.0;

/// Tolerance of the `Q8` activations against the f32 product, as a fraction of `sum_i |x_i w_i|`. Each
/// activation is off by at most 1/254 of its block's max |x|, so the bound holds where a
/// block's mean |x| is at least half its max (random rows, as in the tests); a block with
/// one large outlier has errors relative to that outlier instead.
pub const Q8_TOLERANCE: f32 = 1.0 / 127.0;

/// A weight as the kernels read it: N rows of K codes, blocks of [`QK`] along K.
#[derive(Clone, Copy, Debug)]
pub struct BlockRows<'a> {
    codes: &'a [u8],
    /// 4 (two codes a byte, the first in the low nibble) or 8.
    bits: u32,
    signed: bool,
    n: usize,
    k: usize,
    /// `[N, K / QK]` each.
    scale: &'a [f32],
    zero: Option<&'a [f32]>,
    offset: Option<&'a [f32]>,
}

impl<'a> BlockRows<'a> {
    /// The view of `w` as `[N, K]` rows when it has that form: 2-D, linear, 4 or 8 bits,
    /// one scale per row and block of exactly [`QK`] along the last axis. None otherwise.
    pub fn of(w: &'a Packed) -> Option<BlockRows<'a>> {
        let Params::Linear {
            scale,
            zero,
            offset,
            signed,
        } = &w.params
        else {
            return None;
        };
        let (n, k) = match w.shape[..] {
            [n, k] => (n, k),
            _ => return None,
        };
        if !matches!(w.bits, 4 | 8) || k == 0 || !k.is_multiple_of(QK) || w.grid() != [n, k / QK] {
            return None;
        }
        let codes = w.code_bytes();
        if codes.len() != n * k * w.bits as usize / 8 || scale.len() != n * (k / QK) {
            return None;
        }
        Some(BlockRows {
            codes,
            bits: w.bits,
            signed: *signed,
            n,
            k,
            scale,
            zero: zero.as_deref(),
            offset: offset.as_deref(),
        })
    }

    /// (N, K).
    pub fn dims(&self) -> (usize, usize) {
        (self.n, self.k)
    }

    /// `sh` of the module doc: the code's value minus the integer the kernel reads.
    fn shift(&self) -> f32 {
        match (self.bits, self.signed) {
            (4, true) => -8.0,
            (8, false) => 128.0,
            _ => 0.0,
        }
    }

    /// Whether the per-block term `c * sum(x)` is zero for every block.
    fn no_offset_term(&self) -> bool {
        self.offset.is_none() && self.zero.is_none() && self.shift() == 0.0
    }

    /// Bytes of one row's codes.
    fn row_bytes(&self) -> usize {
        self.k * self.bits as usize / 8
    }
}

/// How the rows of X enter the dot products (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activations {
    F32,
    Q8,
}

/// X as the kernels read it, per row and block of [`QK`]: the values (f32, or 8-bit codes
/// `|a| <= 127` with a scale `d`, `x ~= d * a`) and the exact float sum of the block's x.
/// For a 4-bit weight a block's values are in nibble order (elements 0, 2, .., 30, then 1,
/// 3, .., 31: low nibbles first, as the kernels unpack a weight block); for 8 bits in
/// element order.
#[derive(Debug)]
pub struct Rows {
    values: Values,
    /// `[M, K / QK]`.
    sum: Vec<f32>,
    m: usize,
    blocks: usize,
}

#[derive(Debug)]
enum Values {
    /// `[M, K]`.
    F32(Vec<f32>),
    /// `[M, K]` codes and `[M, K / QK]` scales.
    Q8(Vec<i8>, Vec<f32>),
}

impl Rows {
    /// `x` (`[m, k]`, k a multiple of [`QK`]) as `kind`. With `Q8`, a block holding a
    /// non-finite value gets scale NaN, so its products are NaN as the f32 ones would be.
    pub fn new(x: &[f32], m: usize, k: usize, nibble_order: bool, kind: Activations) -> Rows {
        debug_assert!(k.is_multiple_of(QK) && x.len() == m * k);
        let blocks = k / QK;
        let at = |i: usize| {
            if nibble_order {
                i / 2 + (i % 2) * (QK / 2)
            } else {
                i
            }
        };
        let sum: Vec<f32> = x.chunks_exact(QK).map(|b| b.iter().sum()).collect();
        let values = match kind {
            Activations::F32 => {
                let mut v = vec![0.0f32; m * k];
                for (xb, vb) in x.chunks_exact(QK).zip(v.chunks_exact_mut(QK)) {
                    for (i, &x) in xb.iter().enumerate() {
                        vb[at(i)] = x;
                    }
                }
                Values::F32(v)
            }
            Activations::Q8 => {
                let mut a = vec![0i8; m * k];
                let mut d = Vec::with_capacity(m * blocks);
                for ((xb, ab), s) in x.chunks_exact(QK).zip(a.chunks_exact_mut(QK)).zip(&sum) {
                    let amax = xb.iter().fold(0.0f32, |mx, v| mx.max(v.abs()));
                    let scale = amax / 127.0;
                    let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
                    for (i, &v) in xb.iter().enumerate() {
                        ab[at(i)] = (v * inv).round().clamp(-127.0, 127.0) as i8;
                    }
                    d.push(if s.is_finite() { scale } else { f32::NAN });
                }
                Values::Q8(a, d)
            }
        };
        Rows {
            values,
            sum,
            m,
            blocks,
        }
    }
}

/// Which kernel runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    Scalar,
    Avx2,
    Avx512Vnni,
}

impl Isa {
    /// The fastest kernel this CPU runs.
    pub fn detect() -> Isa {
        let f = crate::isa::Features::get();
        if f.avx512_vnni && f.avx512 && f.avx2 && f.fma {
            Isa::Avx512Vnni
        } else if f.avx2 && f.fma {
            Isa::Avx2
        } else {
            Isa::Scalar
        }
    }

    /// Whether this CPU runs the kernel.
    pub fn available(self) -> bool {
        match (self, Isa::detect()) {
            (Isa::Scalar, _) => true,
            (Isa::Avx2, d) => d != Isa::Scalar,
            (Isa::Avx512Vnni, d) => d == Isa::Avx512Vnni,
        }
    }
}

/// `y[M, N] += alpha * x[M, K] · wᵀ` on the codes, with the fastest kernel this CPU runs.
pub fn matmul(
    w: &BlockRows,
    x: &[f32],
    m: usize,
    alpha: f32,
    y: &mut [f32],
    kind: Activations,
) -> Result<()> {
    matmul_with(Isa::detect(), w, x, m, alpha, y, kind)
}

/// [`matmul`] with kernel `isa` (which must be [`Isa::available`]).
pub fn matmul_with(
    isa: Isa,
    w: &BlockRows,
    x: &[f32],
    m: usize,
    alpha: f32,
    y: &mut [f32],
    kind: Activations,
) -> Result<()> {
    let (n, k) = (w.n, w.k);
    ensure!(
        x.len() == m * k && y.len() == m * n,
        "block GEMV: X has {} values and Y {}, [{m}, {k}] x [{n}, {k}]ᵀ needs {} and {}",
        x.len(),
        y.len(),
        m * k,
        m * n
    );
    ensure!(isa.available(), "block GEMV: this CPU lacks {isa:?}");
    if m == 0 || n == 0 {
        return Ok(());
    }
    let a = Rows::new(x, m, k, w.bits == 4, kind);
    // Y transposed, [N, M]: each chunk of output columns is one contiguous slice
    let mut t = vec![0.0f32; n * m];
    let threads = rayon::current_num_threads().max(1);
    // about 64 Ki weight elements a task at least, and 4 tasks a thread when there is more
    let by_work = (1usize << 16).div_ceil(k);
    let chunk = by_work.max(n.div_ceil(4 * threads)).min(n);
    t.par_chunks_mut(chunk * m)
        .enumerate()
        .for_each(|(ci, part)| {
            for (j, out) in part.chunks_exact_mut(m).enumerate() {
                column(isa, w, ci * chunk + j, &a, out);
            }
        });
    for (j, tj) in t.chunks_exact(m).enumerate() {
        for (r, &v) in tj.iter().enumerate() {
            y[r * n + j] += alpha * v;
        }
    }
    Ok(())
}

/// `out[r] = sum_k a[r, k] w[j, k]` for every row r of `a` (`out.len() == a.m`).
fn column(isa: Isa, w: &BlockRows, j: usize, a: &Rows, out: &mut [f32]) {
    let mut r0 = 0;
    while r0 < a.m {
        let rows = (a.m - r0).min(4);
        let o = &mut out[r0..r0 + rows];
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 | Isa::Avx512Vnni => x86::column(isa, w, j, a, r0, o),
            _ => column_scalar(w, j, a, r0, o),
        }
        r0 += rows;
    }
    if !w.no_offset_term() {
        for (r, o) in out.iter_mut().enumerate() {
            *o += offset_term(w, j, a, r);
        }
    }
}

/// `sum_b c[j, b] * sum(x[r, block b])` (the module doc's `c`).
fn offset_term(w: &BlockRows, j: usize, a: &Rows, r: usize) -> f32 {
    let nb = a.blocks;
    let s = &w.scale[j * nb..(j + 1) * nb];
    let z = w.zero.map(|z| &z[j * nb..(j + 1) * nb]);
    let o = w.offset.map(|o| &o[j * nb..(j + 1) * nb]);
    let sums = &a.sum[r * nb..(r + 1) * nb];
    let sh = w.shift();
    // eight lanes, so the compiler keeps them in one vector
    let mut lanes = [0.0f32; 8];
    for b in 0..nb {
        let c = o.map_or(0.0, |o| o[b]) + (sh - z.map_or(0.0, |z| z[b])) * s[b];
        lanes[b % 8] += c * sums[b];
    }
    lanes.iter().sum()
}

/// The code part `sum_b s[j, b] * sum_i q'_i x_i` (Q8: `d[r, b] * sum_i q'_i a_i`) for rows `r0..r0 + out.len()`.
fn column_scalar(w: &BlockRows, j: usize, a: &Rows, r0: usize, out: &mut [f32]) {
    let nb = a.blocks;
    let rb = w.row_bytes();
    let codes = &w.codes[j * rb..(j + 1) * rb];
    let scale = &w.scale[j * nb..(j + 1) * nb];
    let mut q = [0i32; QK];
    for (b, &s) in scale.iter().enumerate() {
        if w.bits == 4 {
            let bytes = &codes[b * QK / 2..(b + 1) * QK / 2];
            for (i, &v) in bytes.iter().enumerate() {
                let (lo, hi) = ((v & 15) as i32, (v >> 4) as i32);
                // the unsigned nibble; a signed code reads as nibble ^ 8 (sh = -8)
                let flip = if w.signed { 8 } else { 0 };
                q[i] = lo ^ flip;
                q[i + QK / 2] = hi ^ flip;
            }
        } else {
            for (qi, &v) in q.iter_mut().zip(&codes[b * QK..(b + 1) * QK]) {
                *qi = if w.signed {
                    v as i8 as i32
                } else {
                    v as i32 - 128
                };
            }
        }
        for (r, o) in out.iter_mut().enumerate() {
            let at = (r0 + r) * nb + b;
            *o += match &a.values {
                Values::F32(x) => {
                    let xb = &x[at * QK..(at + 1) * QK];
                    s * q.iter().zip(xb).map(|(&q, &x)| q as f32 * x).sum::<f32>()
                }
                Values::Q8(codes, d) => {
                    let ab = &codes[at * QK..(at + 1) * QK];
                    let dot: i32 = q.iter().zip(ab).map(|(&q, &a)| q * a as i32).sum();
                    s * d[at] * dot as f32
                }
            };
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::packed::pack;

    use crate::testing::uniform;

    /// The block types of the kernels: (bits, signed, zero point, offset).
    const KINDS: [(u32, bool, bool, bool); 6] = [
        (8, true, false, false), // Q8_0
        (4, true, false, false), // Q4_0
        (4, false, false, true), // Q4_1
        (8, false, true, false), // u8 with a zero point
        (4, true, true, true),   // every parameter
        (8, true, false, true),  // signed 8 bits with an offset
    ];

    /// A random `[n, k]` weight of one kind, blocks of 32 along k.
    fn weight(kind: (u32, bool, bool, bool), n: usize, k: usize, seed: u64) -> Packed {
        let (bits, signed, zero, offset) = kind;
        let cells = n * k / QK;
        let codes = pack(
            uniform(n * k, seed)
                .iter()
                .map(|&u| (u * (1u32 << bits) as f32) as u32),
            bits,
        );
        let codes = Tensor::from_vec(vec![codes.len()], codes).unwrap();
        let grid = vec![n, k / QK];
        let scale: Vec<f32> = uniform(cells, seed + 1)
            .iter()
            .map(|u| 0.01 + u * 0.05)
            .collect();
        let scale = Tensor::from_vec(grid.clone(), scale).unwrap();
        let zp = zero.then(|| {
            let z: Vec<f32> = uniform(cells, seed + 2)
                .iter()
                .map(|u| (u * 6.0).floor() - 3.0)
                .collect();
            Tensor::from_vec(grid.clone(), z).unwrap()
        });
        match offset {
            true => {
                let o: Vec<f32> = uniform(cells, seed + 3)
                    .iter()
                    .map(|u| u * 0.2 - 0.1)
                    .collect();
                let o = Tensor::from_vec(grid.clone(), o).unwrap();
                Packed::linear_offset(&[n, k], bits, signed, codes, &scale, zp.as_ref(), &o)
            }
            false => Packed::linear(&[n, k], bits, signed, codes, &scale, zp.as_ref()),
        }
        .unwrap()
    }

    /// `x · wᵀ` from the decoded weight, in f64; per output `sum |x_i w_i|` (for
    /// [`Q8_TOLERANCE`]) and `sum |x_i| (|q'_i s| + |c|)` (for [`F32_ULPS`]).
    fn reference(w: &Packed, x: &[f32], m: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let (n, k) = (w.shape[0], w.shape[1]);
        let dense = w.decode_all();
        let bw = BlockRows::of(w).unwrap();
        let c = |cell: usize| {
            let (o, z) = (
                bw.offset.map_or(0.0, |o| o[cell]),
                bw.zero.map_or(0.0, |z| z[cell]),
            );
            (o + (bw.shift() - z) * bw.scale[cell]) as f64
        };
        let mut y = vec![0.0; m * n];
        let mut mag = vec![0.0; m * n];
        let mut parts = vec![0.0; m * n];
        for r in 0..m {
            for j in 0..n {
                for i in 0..k {
                    let (xv, wv) = (x[r * k + i] as f64, dense[j * k + i] as f64);
                    let cb = c((j * k + i) / QK);
                    y[r * n + j] += xv * wv;
                    mag[r * n + j] += (xv * wv).abs();
                    parts[r * n + j] += xv.abs() * ((wv - cb).abs() + cb.abs());
                }
            }
        }
        (y, mag, parts)
    }

    fn isas() -> Vec<Isa> {
        [Isa::Scalar, Isa::Avx2, Isa::Avx512Vnni]
            .into_iter()
            .filter(|i| i.available())
            .collect()
    }

    #[test]
    fn within_tolerance_of_f64_on_every_kind_and_kernel() {
        let mut seed = 1;
        for kind in KINDS {
            for k in [32, 64, 96, 576, 1536] {
                for n in [1, 7, 33, 576] {
                    seed += 10;
                    let w = weight(kind, n, k, seed);
                    let bw = BlockRows::of(&w).expect("a block weight");
                    for m in [1, 3, 5, 8] {
                        let x: Vec<f32> = uniform(m * k, seed + 7)
                            .iter()
                            .map(|u| 4.0 * u - 2.0)
                            .collect();
                        let (want, mag, parts) = reference(&w, &x, m);
                        for acts in [Activations::F32, Activations::Q8] {
                            let mut scalar = vec![0.0f32; m * n];
                            matmul_with(Isa::Scalar, &bw, &x, m, 1.0, &mut scalar, acts).unwrap();
                            for isa in isas() {
                                let mut y = vec![0.0f32; m * n];
                                matmul_with(isa, &bw, &x, m, 1.0, &mut y, acts).unwrap();
                                for i in 0..m * n {
                                    let f32_tol = (F32_ULPS * f32::EPSILON) as f64 * parts[i];
                                    let tol = match acts {
                                        Activations::F32 => f32_tol,
                                        Activations::Q8 => Q8_TOLERANCE as f64 * mag[i] + f32_tol,
                                    };
                                    let at = format!(
                                        "{kind:?} {acts:?} {isa:?} m {m} n {n} k {k} [{i}]"
                                    );
                                    assert!(
                                        (y[i] as f64 - want[i]).abs() <= tol,
                                        "{at}: {} vs {}, tolerance {tol}",
                                        y[i],
                                        want[i]
                                    );
                                    // the kernels agree up to the order of their float sums
                                    assert!(
                                        (y[i] - scalar[i]).abs() as f64 <= 2.0 * f32_tol,
                                        "{at}: {} vs scalar {}",
                                        y[i],
                                        scalar[i]
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Rows whose blocks are integers in [-127, 127] with a 127 in each quantize exactly
    /// (scale 1), so Q8 is as close as F32.
    #[test]
    fn q8_exact_when_the_rows_are_8_bit_integers() {
        for (ki, kind) in KINDS.into_iter().enumerate() {
            let (n, k, m) = (33, 96, 5);
            let w = weight(kind, n, k, 100 + ki as u64);
            let bw = BlockRows::of(&w).unwrap();
            let mut x: Vec<f32> = uniform(m * k, 5)
                .iter()
                .map(|u| (u * 255.0).floor() - 127.0)
                .collect();
            for b in x.chunks_mut(QK) {
                b[3] = 127.0;
            }
            let (want, _, parts) = reference(&w, &x, m);
            for isa in isas() {
                let mut y = vec![0.0f32; m * n];
                matmul_with(isa, &bw, &x, m, 1.0, &mut y, Activations::Q8).unwrap();
                for i in 0..m * n {
                    let tol = (F32_ULPS * f32::EPSILON) as f64 * parts[i];
                    assert!(
                        (y[i] as f64 - want[i]).abs() <= tol,
                        "{kind:?} {isa:?} [{i}]: {} vs {}",
                        y[i],
                        want[i]
                    );
                }
            }
        }
    }

    #[test]
    fn alpha_scales_and_adds_into_y() {
        let w = weight(KINDS[2], 7, 64, 3);
        let bw = BlockRows::of(&w).unwrap();
        let x = uniform(64, 4);
        let mut once = vec![0.0f32; 7];
        matmul(&bw, &x, 1, 1.0, &mut once, Activations::F32).unwrap();
        let mut y = vec![1.0f32; 7];
        matmul(&bw, &x, 1, -2.0, &mut y, Activations::F32).unwrap();
        for (a, b) in y.iter().zip(&once) {
            assert_eq!(*a, 1.0 - 2.0 * b);
        }
    }

    #[test]
    fn non_finite_rows_give_nan() {
        let w = weight(KINDS[0], 3, 64, 9);
        let bw = BlockRows::of(&w).unwrap();
        let mut x = uniform(64, 1);
        x[40] = f32::NAN;
        for acts in [Activations::F32, Activations::Q8] {
            let mut y = vec![0.0f32; 3];
            matmul(&bw, &x, 1, 1.0, &mut y, acts).unwrap();
            assert!(y.iter().all(|v| v.is_nan()), "{acts:?}");
        }
    }

    #[test]
    fn other_layouts_and_bad_sizes_are_refused() {
        // blocks of 64, 5 bits, a grid per column: not this kernel's
        let s =
            |g: Vec<usize>| Tensor::from_vec(g.clone(), vec![1.0f32; g.iter().product()]).unwrap();
        let c = |n: usize| Tensor::from_vec(vec![n], vec![0u8; n]).unwrap();
        assert!(BlockRows::of(
            &Packed::linear(&[4, 64], 4, true, c(128), &s(vec![4, 1]), None).unwrap()
        )
        .is_none());
        assert!(BlockRows::of(
            &Packed::linear(&[4, 64], 5, true, c(160), &s(vec![4, 2]), None).unwrap()
        )
        .is_none());
        assert!(BlockRows::of(
            &Packed::linear(&[64, 4], 8, true, c(256), &s(vec![2, 4]), None).unwrap()
        )
        .is_none());
        let w = Packed::linear(&[4, 64], 8, true, c(256), &s(vec![4, 2]), None).unwrap();
        let bw = BlockRows::of(&w).unwrap();
        assert_eq!(bw.dims(), (4, 64));
        assert!(matmul(&bw, &[0.0; 63], 1, 1.0, &mut [0.0; 4], Activations::Q8).is_err());
        assert!(matmul(&bw, &[0.0; 64], 1, 1.0, &mut [0.0; 3], Activations::Q8).is_err());
        assert!(matmul(&bw, &[], 0, 1.0, &mut [], Activations::Q8).is_ok());
    }
}
