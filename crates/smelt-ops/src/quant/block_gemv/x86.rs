//! The x86-64 kernels of [`super`]: AVX2 + FMA (F32 and Q8 activations) and AVX-512 VNNI
//! (Q8), each computing one output column for up to four rows.

use super::{BlockRows, Isa, Rows, Values, QK};
use std::arch::x86_64::*;

/// [`super::column_scalar`] with AVX2 (F32 and Q8) or AVX-512 VNNI (Q8), four rows at
/// most.
pub(super) fn column(isa: Isa, w: &BlockRows, j: usize, a: &Rows, r0: usize, out: &mut [f32]) {
    let nb = a.blocks;
    let rb = w.row_bytes();
    // the bounds every pointer below stays within
    let codes = &w.codes[j * rb..(j + 1) * rb];
    let scale = &w.scale[j * nb..(j + 1) * nb];
    let rows = out.len();
    assert!(rows <= 4 && r0 + rows <= a.m && scale.len() * QK * w.bits as usize / 8 == rb);
    let (e0, e1) = (r0 * nb * QK, (r0 + rows) * nb * QK);
    let mut acc = [0.0f32; 4];
    // SAFETY: the features are present (`isa` is available, checked by `matmul_with`);
    // `codes` holds nb blocks of the row, the values and scales of X nb blocks of each
    // of `rows` rows (asserted above), which is all the kernels read.
    unsafe {
        match (&a.values, isa) {
            (Values::F32(x), _) => {
                blocks_f32(w.bits, w.signed, codes, scale, &x[e0..e1], rows, &mut acc)
            }
            (Values::Q8(q, d), Isa::Avx512Vnni) => {
                let d = &d[r0 * nb..(r0 + rows) * nb];
                blocks_vnni(
                    w.bits,
                    w.signed,
                    codes,
                    scale,
                    &q[e0..e1],
                    d,
                    rows,
                    &mut acc,
                )
            }
            (Values::Q8(q, d), _) => {
                let d = &d[r0 * nb..(r0 + rows) * nb];
                blocks_avx2(
                    w.bits,
                    w.signed,
                    codes,
                    scale,
                    &q[e0..e1],
                    d,
                    rows,
                    &mut acc,
                )
            }
        }
    }
    for (o, v) in out.iter_mut().zip(acc) {
        *o += v;
    }
}

/// The F32 block loop of one weight row against `rows` (<= 4) rows of X: per block, the
/// 32 codes widened once to four vectors of f32, then per row `s * sum_i q'_i x_i` into
/// eight f32 lanes.
///
/// Safety: the caller has avx2 and fma, `codes` holds `scale.len()` blocks and `x`
/// `rows * scale.len()` blocks of [`QK`] values.
#[target_feature(enable = "avx2,fma")]
unsafe fn blocks_f32(
    bits: u32,
    signed: bool,
    codes: &[u8],
    scale: &[f32],
    x: &[f32],
    rows: usize,
    acc: &mut [f32; 4],
) {
    let nb = scale.len();
    let m4 = _mm_set1_epi8(15);
    let flip4 = _mm_set1_epi8(if signed { 8 } else { 0 });
    let flip8 = _mm256_set1_epi8(if signed { 0 } else { -128 });
    let mut lanes = [_mm256_setzero_ps(); 4];
    for b in 0..nb {
        let q = if bits == 4 {
            let raw = _mm_loadu_si128(codes.as_ptr().add(b * QK / 2) as *const __m128i);
            let lo = _mm_xor_si128(_mm_and_si128(raw, m4), flip4);
            let hi = _mm_xor_si128(_mm_and_si128(_mm_srli_epi16(raw, 4), m4), flip4);
            let w = |v: __m128i| _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v));
            [
                w(lo),
                w(_mm_srli_si128(lo, 8)),
                w(hi),
                w(_mm_srli_si128(hi, 8)),
            ]
        } else {
            let raw = _mm256_xor_si256(
                _mm256_loadu_si256(codes.as_ptr().add(b * QK) as *const __m256i),
                flip8,
            );
            let (lo, hi) = (
                _mm256_castsi256_si128(raw),
                _mm256_extracti128_si256(raw, 1),
            );
            let w = |v: __m128i| _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v));
            [
                w(lo),
                w(_mm_srli_si128(lo, 8)),
                w(hi),
                w(_mm_srli_si128(hi, 8)),
            ]
        };
        let s = _mm256_set1_ps(*scale.get_unchecked(b));
        for (r, lane) in lanes.iter_mut().enumerate().take(rows) {
            let p = x.as_ptr().add((r * nb + b) * QK);
            let mut t = _mm256_mul_ps(q[0], _mm256_loadu_ps(p));
            t = _mm256_fmadd_ps(q[1], _mm256_loadu_ps(p.add(8)), t);
            t = _mm256_fmadd_ps(q[2], _mm256_loadu_ps(p.add(16)), t);
            t = _mm256_fmadd_ps(q[3], _mm256_loadu_ps(p.add(24)), t);
            *lane = _mm256_fmadd_ps(t, s, *lane);
        }
    }
    hsums(lanes, rows, acc)
}

/// The eight lanes of each of the first `rows` vectors, summed into `acc`.
#[inline(always)]
unsafe fn hsums(lanes: [__m256; 4], rows: usize, acc: &mut [f32; 4]) {
    for (o, lane) in acc.iter_mut().zip(lanes).take(rows) {
        let h = _mm_add_ps(_mm256_castps256_ps128(lane), _mm256_extractf128_ps(lane, 1));
        let h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        let h = _mm_add_ss(h, _mm_movehdup_ps(h));
        *o = _mm_cvtss_f32(h);
    }
}

#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn blocks_avx2(
    bits: u32,
    signed: bool,
    codes: &[u8],
    scale: &[f32],
    acts: &[i8],
    d: &[f32],
    rows: usize,
    acc: &mut [f32; 4],
) {
    blocks::<false>(bits, signed, codes, scale, acts, d, rows, acc)
}

#[target_feature(enable = "avx2,fma,avx512vnni,avx512vl")]
#[allow(clippy::too_many_arguments)]
unsafe fn blocks_vnni(
    bits: u32,
    signed: bool,
    codes: &[u8],
    scale: &[f32],
    acts: &[i8],
    d: &[f32],
    rows: usize,
    acc: &mut [f32; 4],
) {
    blocks::<true>(bits, signed, codes, scale, acts, d, rows, acc)
}

/// The Q8 block loop of one weight row against `rows` (<= 4) rows of X: per block,
/// the 32 codes unpacked once into a vector of bytes, then per row the integer dot
/// product with the row's block, scaled by `s * d` into eight f32 lanes.
///
/// Safety: the caller has the target features (avx2, fma; with VNNI avx512vnni,
/// avx512vl), `codes` holds `scale.len()` blocks, `acts` `rows * scale.len()` blocks of
/// [`QK`] bytes and `d` `rows * scale.len()` scales.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn blocks<const VNNI: bool>(
    bits: u32,
    signed: bool,
    codes: &[u8],
    scale: &[f32],
    acts: &[i8],
    d: &[f32],
    rows: usize,
    acc: &mut [f32; 4],
) {
    let nb = scale.len();
    let m4 = _mm_set1_epi8(15);
    let flip4 = _mm256_set1_epi8(if signed { 8 } else { 0 });
    let flip8 = _mm256_set1_epi8(if signed { 0 } else { -128 });
    let ones = _mm256_set1_epi16(1);
    let mut lanes = [_mm256_setzero_ps(); 4];
    for b in 0..nb {
        // u: unsigned bytes for vpmaddubsw / vpdpbusd; sg: the sign to move onto a
        let (u, sg) = if bits == 4 {
            let raw = _mm_loadu_si128(codes.as_ptr().add(b * QK / 2) as *const __m128i);
            let lo = _mm_and_si128(raw, m4);
            let hi = _mm_and_si128(_mm_srli_epi16(raw, 4), m4);
            (_mm256_xor_si256(_mm256_set_m128i(hi, lo), flip4), None)
        } else {
            let q = _mm256_xor_si256(
                _mm256_loadu_si256(codes.as_ptr().add(b * QK) as *const __m256i),
                flip8,
            );
            (_mm256_sign_epi8(q, q), Some(q))
        };
        let s = *scale.get_unchecked(b);
        for (r, lane) in lanes.iter_mut().enumerate().take(rows) {
            let mut av = _mm256_loadu_si256(acts.as_ptr().add((r * nb + b) * QK) as *const __m256i);
            if let Some(q) = sg {
                av = _mm256_sign_epi8(av, q);
            }
            let dot = if VNNI {
                _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, av)
            } else {
                _mm256_madd_epi16(_mm256_maddubs_epi16(u, av), ones)
            };
            let f = _mm256_set1_ps(s * *d.get_unchecked(r * nb + b));
            *lane = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), f, *lane);
        }
    }
    hsums(lanes, rows, acc)
}
