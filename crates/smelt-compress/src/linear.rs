//! Linear quantization: `w ≈ (q - z) * s` per grid cell, q a `bits`-wide signed integer.
//!
//! Symmetric: z = 0, q in `[-(2^(b-1) - 1), 2^(b-1) - 1]` (the restricted range, so the
//! grid is symmetric about zero). Affine: q in `[-2^(b-1), 2^(b-1) - 1]`, the range
//! `[min(w, 0), max(w, 0)]` mapped onto it with an integer zero point (zero stays exact).
//!
//! The min/max scale is then refined: with the codes fixed, the least-squares scale
//! `s = Σ w·(q-z) / Σ (q-z)²` is optimal, and with the scale fixed rounding gives the best
//! codes, so alternating the two never raises the error (`REFINE` rounds).

use crate::grid::{row_cells, runs_by_cell};
use rayon::prelude::*;

/// Rounds of scale refinement after the min/max start.
const REFINE: usize = 2;

/// A quantized weight: codes (one per element, in range), scales and zero points per cell.
pub struct Quantized {
    pub codes: Vec<i8>,
    pub scale: Vec<f32>,
    pub zero: Option<Vec<i8>>,
}

fn code(w: f32, s: f32, z: f32, lo: f32, hi: f32) -> f32 {
    ((w / s).round() + z).clamp(lo, hi)
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
    let cells = runs_by_cell(shape, grid);
    let params: Vec<(f32, f32)> = cells
        .par_iter()
        .map(|runs| {
            let vals = || runs.iter().flat_map(|&(s, l)| &w[s..s + l]);
            let (mn, mx) = vals().fold((0.0f32, 0.0f32), |(a, b), &v| (a.min(v), b.max(v)));
            let (mut s, z) = if symmetric {
                let m = mn.abs().max(mx);
                (if m > 0.0 { m / hi } else { 1.0 }, 0.0)
            } else {
                let s = if mx > mn { (mx - mn) / (hi - lo) } else { 1.0 };
                (s, (lo - mn / s).round().clamp(lo, hi))
            };
            for _ in 0..REFINE {
                let (mut num, mut den) = (0.0f64, 0.0f64);
                for &v in vals() {
                    let q = (code(v, s, z, lo, hi) - z) as f64;
                    num += v as f64 * q;
                    den += q * q;
                }
                if den > 0.0 && num > 0.0 {
                    s = (num / den) as f32;
                }
            }
            (s, z)
        })
        .collect();
    let mut codes = vec![0i8; w.len()];
    let last = shape[shape.len() - 1].max(1);
    codes
        .par_chunks_mut(last)
        .zip(w.par_chunks(last))
        .enumerate()
        .for_each(|(row, (out, wr))| {
            let (base, bl) = row_cells(shape, grid, row);
            for (b, (o, wb)) in out.chunks_mut(bl).zip(wr.chunks(bl)).enumerate() {
                let (sc, z) = params[base + b];
                for (c, &v) in o.iter_mut().zip(wb) {
                    *c = code(v, sc, z, lo, hi) as i8;
                }
            }
        });
    Quantized {
        codes,
        scale: params.iter().map(|p| p.0).collect(),
        zero: (!symmetric).then(|| params.iter().map(|p| p.1 as i8).collect()),
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
                let d = (q.codes[e] as f32 - z) * q.scale[c] - w[e];
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
                    .all(|&c| (c as i32) < half && (c as i32) >= -half));
                if sym {
                    assert!(q.codes.iter().all(|&c| c as i32 > -half));
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
