//! The K-quants: super-blocks of 256 elements split into sub-blocks of 16 or 32, each with
//! its own small integer scale (and min) quantized against the super-block's f16 scale(s).
//! Layouts, little-endian, in the order the bytes sit in a block:
//!
//! ```text
//! Q2_K   84 bytes: scales[16] | qs[64] | d f16 | dmin f16
//!        16 sub-blocks of 16: x = d*(sc & 15) * q - dmin*(sc >> 4), q = 2 bits
//! Q3_K  110 bytes: hmask[32] | qs[64] | scales[12] | d f16
//!        16 sub-blocks of 16, 6-bit scales s: x = d*(s - 32) * q, q = 3 bits - 4
//!        (the high bit, from hmask, set means no -4)
//! Q4_K  144 bytes: d f16 | dmin f16 | scales[12] | qs[128]
//!        8 sub-blocks of 32, 6-bit scale sc and min m: x = d*sc * q - dmin*m, q = 4 bits
//! Q5_K  176 bytes: d f16 | dmin f16 | scales[12] | qh[32] | qs[128]
//!        as Q4_K, q = 5 bits (the fifth from qh)
//! Q6_K  210 bytes: ql[128] | qh[64] | scales[16] i8 | d f16
//!        16 sub-blocks of 16: x = d*sc * (q - 32), q = 6 bits (4 from ql, 2 from qh)
//! Q8_K  292 bytes: d f32 | qs[256] i8 | bsums[16] i16     x = d * q (bsums unused here)
//! ```
//!
//! The bit packing, element `e` of a block (`h = e / 128`, `l = e % 32`):
//! - Q2_K, Q3_K: the 2 low bits are `qs[32h + l] >> 2k` with `k = (e % 128) / 32`; Q3_K's
//!   high bit is bit `e / 32` of `hmask[l]`. The scale is sub-block `e / 16`.
//! - Q4_K, Q5_K: 64 elements share 32 bytes of `qs` (`c = e / 64`): the first 32 are the low
//!   nibbles of `qs[32c..32c + 32]`, the next 32 the high nibbles; Q5_K's fifth bit is bit
//!   `e / 32` of `qh[l]`. Sub-block `e / 32` takes its 6-bit scale and min from the 12 scale
//!   bytes: for `j < 4`, `sc = s[j] & 63`, `m = s[j + 4] & 63`; otherwise the low 4 bits come
//!   from `s[j + 4]` (scale low nibble, min high nibble) and the top 2 from bits 6-7 of
//!   `s[j - 4]` (scale) and `s[j]` (min).
//! - Q6_K: per half `h`, quarter `k = (e % 128) / 32`: the low 4 bits are the low (k < 2) or
//!   high (k >= 2) nibble of `ql[64h + 32(k % 2) + l]`, the top 2 bits are
//!   `qh[32h + l] >> 2k`. The scale is `scales[e / 16]`.
//!
//! Each function takes whole blocks (checked by [`super::dequantize`]).

use super::{f16_at, QK_K};

pub fn q2_k(data: &[u8], out: &mut [f32]) {
    for (b, y) in data.chunks_exact(84).zip(out.chunks_exact_mut(QK_K)) {
        let (scales, qs) = (&b[0..16], &b[16..80]);
        let d = f16_at(b, 80);
        let dmin = f16_at(b, 82);
        for (e, y) in y.iter_mut().enumerate() {
            let sc = scales[e / 16];
            let dl = d * (sc & 0x0f) as f32;
            let ml = dmin * (sc >> 4) as f32;
            let shift = 2 * ((e % 128) / 32);
            let q = (qs[32 * (e / 128) + e % 32] >> shift) & 3;
            *y = dl * q as f32 - ml;
        }
    }
}

/// The sixteen 6-bit scales of a Q3_K block, minus their offset 32: scale `j` has its low
/// 4 bits in nibble `j / 8` of byte `j % 8`, its top 2 bits at bit `2 (j / 4)` of byte
/// `8 + j % 4`.
fn q3_k_scales(s: &[u8]) -> [i32; 16] {
    let mut out = [0i32; 16];
    for (j, o) in out.iter_mut().enumerate() {
        let low = (s[j % 8] >> (4 * (j / 8))) & 0x0f;
        let high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
        *o = (low | (high << 4)) as i32 - 32;
    }
    out
}

pub fn q3_k(data: &[u8], out: &mut [f32]) {
    for (b, y) in data.chunks_exact(110).zip(out.chunks_exact_mut(QK_K)) {
        let (hmask, qs) = (&b[0..32], &b[32..96]);
        let scales = q3_k_scales(&b[96..108]);
        let d = f16_at(b, 108);
        for (e, y) in y.iter_mut().enumerate() {
            let dl = d * scales[e / 16] as f32;
            let l = e % 32;
            let low = ((qs[32 * (e / 128) + l] >> (2 * ((e % 128) / 32))) & 3) as i32;
            let high_set = (hmask[l] >> (e / 32)) & 1 == 1;
            let q = low - if high_set { 0 } else { 4 };
            *y = dl * q as f32;
        }
    }
}

/// Scale and min of sub-block `j` (0..8) of a Q4_K or Q5_K block, from its 12 scale bytes.
fn scale_min(j: usize, s: &[u8]) -> (u8, u8) {
    if j < 4 {
        (s[j] & 63, s[j + 4] & 63)
    } else {
        (
            (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4),
            (s[j + 4] >> 4) | ((s[j] >> 6) << 4),
        )
    }
}

/// Q4_K and Q5_K: `low4(e)` gives element `e`'s 4 low bits, `high(e)` its fifth bit (0 for
/// Q4_K) already shifted to 16.
fn k_with_mins(y: &mut [f32], b: &[u8], low4: impl Fn(usize) -> u8, high: impl Fn(usize) -> u8) {
    let d = f16_at(b, 0);
    let dmin = f16_at(b, 2);
    let scales = &b[4..16];
    for sub in 0..8 {
        let (sc, m) = scale_min(sub, scales);
        let d1 = d * sc as f32;
        let m1 = dmin * m as f32;
        for (e, y) in y.iter_mut().enumerate().skip(32 * sub).take(32) {
            *y = d1 * (low4(e) + high(e)) as f32 - m1;
        }
    }
}

/// The low or high nibble of the byte holding element `e` in Q4_K/Q5_K's `qs`.
fn k_nibble(qs: &[u8], e: usize) -> u8 {
    let byte = qs[32 * (e / 64) + e % 32];
    if e % 64 < 32 {
        byte & 0x0f
    } else {
        byte >> 4
    }
}

pub fn q4_k(data: &[u8], out: &mut [f32]) {
    for (b, y) in data.chunks_exact(144).zip(out.chunks_exact_mut(QK_K)) {
        let qs = &b[16..144];
        k_with_mins(y, b, |e| k_nibble(qs, e), |_| 0);
    }
}

pub fn q5_k(data: &[u8], out: &mut [f32]) {
    for (b, y) in data.chunks_exact(176).zip(out.chunks_exact_mut(QK_K)) {
        let (qh, qs) = (&b[16..48], &b[48..176]);
        k_with_mins(
            y,
            b,
            |e| k_nibble(qs, e),
            |e| ((qh[e % 32] >> (e / 32)) & 1) << 4,
        );
    }
}

pub fn q6_k(data: &[u8], out: &mut [f32]) {
    for (b, y) in data.chunks_exact(210).zip(out.chunks_exact_mut(QK_K)) {
        let (ql, qh, scales) = (&b[0..128], &b[128..192], &b[192..208]);
        let d = f16_at(b, 208);
        for (e, y) in y.iter_mut().enumerate() {
            let (h, k, l) = (e / 128, (e % 128) / 32, e % 32);
            let byte = ql[64 * h + 32 * (k % 2) + l];
            let low = if k < 2 { byte & 0x0f } else { byte >> 4 };
            let high = (qh[32 * h + l] >> (2 * k)) & 3;
            let q = (low | (high << 4)) as i32 - 32;
            *y = d * scales[e / 16] as i8 as f32 * q as f32;
        }
    }
}

pub fn q8_k(data: &[u8], out: &mut [f32]) {
    for (b, y) in data.chunks_exact(292).zip(out.chunks_exact_mut(QK_K)) {
        let d = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        for (y, &q) in y.iter_mut().zip(&b[4..260]) {
            *y = d * q as i8 as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Q4_K's packed 6-bit scales and mins, each sub-block given a distinct pair.
    #[test]
    fn scale_min_packing() {
        let sc: [u8; 8] = [1, 2, 3, 4, 60, 61, 62, 63];
        let mn: [u8; 8] = [5, 6, 7, 8, 33, 40, 50, 17];
        // packed as llama.cpp's quantizer does
        let mut s = [0u8; 12];
        for j in 0..8 {
            if j < 4 {
                s[j] = sc[j];
                s[j + 4] = mn[j];
            } else {
                s[j + 4] = (sc[j] & 0x0f) | ((mn[j] & 0x0f) << 4);
                s[j - 4] |= (sc[j] >> 4) << 6;
                s[j] |= (mn[j] >> 4) << 6;
            }
        }
        for j in 0..8 {
            assert_eq!(scale_min(j, &s), (sc[j], mn[j]), "sub-block {j}");
        }
    }

    #[test]
    fn q8_k_block() {
        let mut b = vec![0u8; 292];
        b[..4].copy_from_slice(&0.25f32.to_le_bytes());
        for (i, q) in b[4..260].iter_mut().enumerate() {
            *q = (i as i8).wrapping_sub(100) as u8;
        }
        let mut y = [0f32; 256];
        q8_k(&b, &mut y);
        for (i, y) in y.iter().enumerate() {
            assert_eq!(*y, 0.25 * (i as i8).wrapping_sub(100) as f32);
        }
    }

    /// Q6_K: the values 0..=63 written through the documented packing come back in place.
    #[test]
    fn q6_k_packing() {
        let q: Vec<u8> = (0..256).map(|e| ((e * 7) % 64) as u8).collect();
        let mut b = vec![0u8; 210];
        for (e, &qe) in q.iter().enumerate() {
            let (h, k, l) = (e / 128, (e % 128) / 32, e % 32);
            let nibble = qe & 0x0f;
            b[64 * h + 32 * (k % 2) + l] |= if k < 2 { nibble } else { nibble << 4 };
            b[128 + 32 * h + l] |= (qe >> 4) << (2 * k);
        }
        for s in 0..16 {
            b[192 + s] = 1;
        }
        b[208..210].copy_from_slice(&0x3c00u16.to_le_bytes()); // d = 1
        let mut y = [0f32; 256];
        q6_k(&b, &mut y);
        for e in 0..256 {
            assert_eq!(y[e], q[e] as f32 - 32.0, "element {e}");
        }
    }
}
