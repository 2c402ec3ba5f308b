//! Linear quantization: `w ≈ (q - z) * s` per grid cell, q a `bits`-wide signed integer.
//!
//! Symmetric: z = 0, q in `[-(2^(b-1) - 1), 2^(b-1) - 1]` (the restricted range, so the
//! grid is symmetric about zero). Affine: q in `[-2^(b-1), 2^(b-1) - 1]`, the range
//! `[min(w, 0), max(w, 0)]` mapped onto it with an integer zero point (zero stays exact).
//!
//! The min/max scale is then refined: with the codes fixed, the least-squares scale
//! `s = Σ w·(q-z) / Σ (q-z)²` is optimal, and with the scale fixed rounding gives the best
//! codes, so alternating the two never raises the error (`REFINE` rounds).

use crate::grid::Cells;
use rayon::prelude::*;

/// Rounds of scale refinement after the min/max start.
const REFINE: usize = 1;

/// A quantized weight: codes (one per element, in range, as two's-complement bytes; for
/// 8 bits this is already the packed stream), scales and zero points per cell.
pub struct Quantized {
    pub codes: Vec<u8>,
    pub scale: Vec<f32>,
    pub zero: Option<Vec<i8>>,
}

/// Round half to even for |x| < 2^22, branch-free (vectorizes without SSE4.1).
#[inline(always)]
fn rint(x: f32) -> f32 {
    const M: f32 = 12582912.0; // 1.5 * 2^23
    (x + M) - M
}

/// The code of `w`: `round(w / s) + z` clamped to `[lo, hi]` (`inv` = 1 / s).
#[inline(always)]
pub(crate) fn code(w: f32, inv: f32, z: f32, lo: f32, hi: f32) -> f32 {
    let q = w * inv + z;
    rint(if q < lo {
        lo
    } else if q > hi {
        hi
    } else {
        q
    })
}

/// Lanes of the hand-split reductions below (floats do not reassociate on their own, so
/// a single accumulator would not vectorize).
const LANES: usize = 8;

/// (min, max) of `v`.
fn min_max(v: &[f32]) -> (f32, f32) {
    let mut a = [f32::INFINITY; LANES];
    let mut c = [f32::NEG_INFINITY; LANES];
    let mut it = v.chunks_exact(LANES);
    for ch in &mut it {
        for k in 0..LANES {
            a[k] = if ch[k] < a[k] { ch[k] } else { a[k] };
            c[k] = if ch[k] > c[k] { ch[k] } else { c[k] };
        }
    }
    for &x in it.remainder() {
        a[0] = a[0].min(x);
        c[0] = c[0].max(x);
    }
    (
        a.iter().fold(f32::INFINITY, |m, &x| m.min(x)),
        c.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x)),
    )
}

/// (Σ w·(q-z), Σ (q-z)²) over `v` for the codes of scale `1/inv`, zero point `z`.
fn ls_sums(v: &[f32], inv: f32, z: f32, lo: f32, hi: f32) -> (f32, f32) {
    let mut n = [0.0f32; LANES];
    let mut d = [0.0f32; LANES];
    let mut it = v.chunks_exact(LANES);
    for ch in &mut it {
        for k in 0..LANES {
            let q = code(ch[k], inv, z, lo, hi) - z;
            n[k] += ch[k] * q;
            d[k] += q * q;
        }
    }
    for &x in it.remainder() {
        let q = code(x, inv, z, lo, hi) - z;
        n[0] += x * q;
        d[0] += q * q;
    }
    (n.iter().sum(), d.iter().sum())
}

/// A code already rounded and clamped to the i8 range, as i8.
#[inline(always)]
pub(crate) fn to_i8(q: f32) -> i8 {
    // SAFETY: `code` clamps to [lo, hi] within [-128, 127] and rounds: finite and in range
    // (a NaN weight is refused before quantization).
    unsafe { q.to_int_unchecked::<i32>() as i8 }
}

/// Visits every last-dim row with its cells: `f(values, base cell, run length)`.
fn rows<'a>(
    w: &'a [f32],
    shape: &[usize],
    cells: &Cells,
    mut f: impl FnMut(&'a [f32], usize, usize),
) {
    let last = shape[shape.len() - 1].max(1);
    for (row, wr) in w.chunks(last).enumerate() {
        let (base, bl) = cells.row(row);
        f(wr, base, bl);
    }
}

/// The code range `[lo, hi]` of `bits`-wide codes.
pub fn code_range(bits: u32, symmetric: bool) -> (f32, f32) {
    let half = 1i32 << (bits - 1);
    if symmetric {
        (-(half - 1) as f32, (half - 1) as f32)
    } else {
        (-half as f32, (half - 1) as f32)
    }
}

/// Quantizes `w` (shape `shape`) per cell of `grid`.
pub fn quantize(
    w: &[f32],
    shape: &[usize],
    grid: &[usize],
    bits: u32,
    symmetric: bool,
) -> Quantized {
    let half = 1i32 << (bits - 1);
    let (lo, hi) = if symmetric {
        (-(half - 1) as f32, (half - 1) as f32)
    } else {
        (-half as f32, (half - 1) as f32)
    };
    let cells: usize = grid.iter().product();
    let map = Cells::new(shape, grid);
    // pass 1: min and max per cell (with 0, so zero stays exact)
    let mut mn = vec![0.0f32; cells];
    let mut mx = vec![0.0f32; cells];
    rows(w, shape, &map, |wr, base, bl| {
        if bl == 1 {
            // a cell per column (per-channel along the last axis): elementwise over the row
            let (a, c) = (
                &mut mn[base..base + wr.len()],
                &mut mx[base..base + wr.len()],
            );
            for ((a, c), &v) in a.iter_mut().zip(c.iter_mut()).zip(wr) {
                *a = if v < *a { v } else { *a };
                *c = if v > *c { v } else { *c };
            }
            return;
        }
        for (b, wb) in wr.chunks(bl).enumerate() {
            let (a, c) = min_max(wb);
            mn[base + b] = mn[base + b].min(a);
            mx[base + b] = mx[base + b].max(c);
        }
    });
    let mut scale = vec![1.0f32; cells];
    let mut zero = vec![0.0f32; cells];
    for c in 0..cells {
        if symmetric {
            let m = mn[c].abs().max(mx[c]);
            if m > 0.0 {
                scale[c] = m / hi;
            }
        } else {
            if mx[c] > mn[c] {
                scale[c] = (mx[c] - mn[c]) / (hi - lo);
            }
            zero[c] = (lo - mn[c] / scale[c]).round().clamp(lo, hi);
        }
    }
    // refinement: least-squares scale for the codes of the current one
    for _ in 0..REFINE {
        let mut num = vec![0.0f64; cells];
        let mut den = vec![0.0f64; cells];
        let inv: Vec<f32> = scale.iter().map(|s| 1.0 / s).collect();
        rows(w, shape, &map, |wr, base, bl| {
            if bl == 1 {
                let r = base..base + wr.len();
                let (n, d) = (&mut num[r.clone()], &mut den[r.clone()]);
                for ((((n, d), &v), &i), &z) in n
                    .iter_mut()
                    .zip(d.iter_mut())
                    .zip(wr)
                    .zip(&inv[r.clone()])
                    .zip(&zero[r])
                {
                    let q = code(v, i, z, lo, hi) - z;
                    *n += (v * q) as f64;
                    *d += (q * q) as f64;
                }
                return;
            }
            for (b, wb) in wr.chunks(bl).enumerate() {
                let c = base + b;
                let (inv, z) = (1.0 / scale[c], zero[c]);
                let (n, d) = ls_sums(wb, inv, z, lo, hi);
                num[c] += n as f64;
                den[c] += d as f64;
            }
        });
        for c in 0..cells {
            if den[c] > 0.0 && num[c] > 0.0 {
                scale[c] = (num[c] / den[c]) as f32;
            }
        }
    }
    let mut codes = vec![0u8; w.len()];
    let last = shape[shape.len() - 1].max(1);
    let inv: Vec<f32> = scale.iter().map(|s| 1.0 / s).collect();
    codes
        .par_chunks_mut(last)
        .zip(w.par_chunks(last))
        .enumerate()
        .with_min_len(64)
        .for_each(|(row, (out, wr))| {
            let (base, bl) = map.row(row);
            if bl == 1 {
                let r = base..base + wr.len();
                for (((c, &v), &i), &z) in out.iter_mut().zip(wr).zip(&inv[r.clone()]).zip(&zero[r])
                {
                    *c = to_i8(code(v, i, z, lo, hi)) as u8;
                }
                return;
            }
            for (b, (o, wb)) in out.chunks_mut(bl).zip(wr.chunks(bl)).enumerate() {
                let (i, z) = (inv[base + b], zero[base + b]);
                for (c, &v) in o.iter_mut().zip(wb) {
                    *c = to_i8(code(v, i, z, lo, hi)) as u8;
                }
            }
        });
    Quantized {
        codes,
        scale,
        zero: (!symmetric).then(|| zero.iter().map(|&z| z as i8).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rand(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 2.0
            })
            .collect()
    }

    fn mse(w: &[f32], q: &Quantized, shape: &[usize], grid: &[usize]) -> f64 {
        let mut err = 0.0;
        crate::grid::for_each_run(shape, grid, |s, l, c| {
            let z = q.zero.as_ref().map_or(0.0, |z| z[c] as f32);
            for e in s..s + l {
                let d = (q.codes[e] as i8 as f32 - z) * q.scale[c] - w[e];
                err += (d * d) as f64;
            }
        });
        err / w.len() as f64
    }

    #[test]
    fn codes_stay_in_range_and_error_is_bounded_by_half_a_step() {
        let shape = [16, 64];
        let w = rand(1024, 3);
        for (bits, sym) in [(8, true), (8, false), (4, true), (4, false)] {
            for grid in [vec![1, 1], vec![16, 1], vec![16, 2]] {
                let q = quantize(&w, &shape, &grid, bits, sym);
                let half = 1i32 << (bits - 1);
                assert!(q
                    .codes
                    .iter()
                    .all(|&c| (c as i8 as i32) < half && (c as i8 as i32) >= -half));
                if sym {
                    assert!(q.codes.iter().all(|&c| c as i8 as i32 > -half));
                }
                let step = q.scale.iter().fold(0.0f32, |m, &s| m.max(s));
                assert!(mse(&w, &q, &shape, &grid) <= (step * step / 4.0) as f64);
            }
        }
    }

    #[test]
    fn refinement_never_raises_the_error() {
        // the same quantization without refinement: plain min/max symmetric
        let shape = [8, 128];
        let w = rand(1024, 9);
        let q = quantize(&w, &shape, &[8, 1], 4, true);
        let mut plain = 0.0f64;
        for r in 0..8 {
            let row = &w[r * 128..(r + 1) * 128];
            let s = row.iter().fold(0.0f32, |m, v| m.max(v.abs())) / 7.0;
            for &v in row {
                let d = (v / s).round().clamp(-7.0, 7.0) * s - v;
                plain += (d * d) as f64;
            }
        }
        assert!(mse(&w, &q, &shape, &[8, 1]) <= plain / 1024.0 + 1e-12);
    }
}
