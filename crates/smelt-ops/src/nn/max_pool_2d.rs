//! The 2-D f32 max pool that MaxPool runs when it can (no `Indices` output, dilations 1):
//! `X: [P, H, W]` planes -> `Y: [P, OH, OW]`, with strides, pads and ceil_mode given by the
//! resolved [`Geometry`]. Same results as the reference [`super::pool::max_pool`], NaN
//! included (a NaN in a window gives NaN; a window with no tap inside the input gives 0).
//!
//! Per output row, the valid input rows of its window are reduced into one row first (a
//! vectorizable element-wise max over `kh` rows), then each output column takes the max over
//! its clipped column range of that row: `kh * W + OW * kw` comparisons per output row
//! instead of `OW * kh * kw` gathered loads, compiled per vector ISA ([`crate::isa`]).
//! Planes run in parallel when the tensor is large.

use super::spatial::Geometry;
use rayon::prelude::*;

/// Elements of X under which planes are pooled on the calling thread.
const PAR_MIN: usize = 1 << 15;

/// Whether [`max_pool_2d`] takes this geometry.
pub fn applies(g: &Geometry) -> bool {
    g.input.len() == 2 && g.dilations.iter().all(|&d| d == 1)
}

/// For output index `o` along dim `d`: the input range its window covers, clipped to the
/// input (empty when the whole window lies on padding).
fn span(g: &Geometry, d: usize, o: usize) -> (usize, usize) {
    let start = (o * g.strides[d]) as isize - g.pads_begin[d] as isize;
    let end = start + g.kernel[d] as isize;
    let clip = |v: isize| v.clamp(0, g.input[d] as isize) as usize;
    (clip(start), clip(end))
}

/// The running max `a` updated with `b` as the reference does: `b` replaces `a` when
/// greater, or when it is NaN and `a` is not (so a NaN, once met, stays).
#[inline(always)]
fn max_nan(a: f32, b: f32) -> f32 {
    // non-short-circuit operators keep this a select, so loops over it vectorize
    #[allow(clippy::eq_op)]
    let take = (b > a) | ((b != b) & (a == a));
    if take {
        b
    } else {
        a
    }
}

/// A geometry's row and column windows, resolved once per call.
struct Windows2d {
    /// Per output row / column: its clipped input range.
    rows: Vec<(usize, usize)>,
    cols: Vec<(usize, usize)>,
    /// Output columns `inner.0..inner.1` have their whole window inside the input.
    inner: (usize, usize),
    kw: usize,
    sx: usize,
    px: usize,
    iw: usize,
    ow: usize,
}

crate::multiversion!(
    /// One `[H, W]` plane `xp` into `yp` (`[OH, OW]`); `acc` is scratch.
    fn pool_plane(w: &Windows2d, xp: &[f32], yp: &mut [f32], acc: &mut Vec<f32>) {
        let (iw, ow, kw, sx, px) = (w.iw, w.ow, w.kw, w.sx, w.px);
        let (lo, hi) = w.inner;
        acc.resize(iw, 0.0);
        for (yr, &(r0, r1)) in yp.chunks_mut(ow).zip(&w.rows) {
            if r0 == r1 {
                yr.fill(0.0);
                continue;
            }
            acc.copy_from_slice(&xp[r0 * iw..(r0 + 1) * iw]);
            for r in r0 + 1..r1 {
                for (a, &v) in acc.iter_mut().zip(&xp[r * iw..(r + 1) * iw]) {
                    *a = max_nan(*a, v);
                }
            }
            for o in (0..lo).chain(hi..ow) {
                yr[o] = match acc[w.cols[o].0..w.cols[o].1].split_first() {
                    None => 0.0,
                    Some((&first, rest)) => rest.iter().fold(first, |m, &v| max_nan(m, v)),
                };
            }
            let inner = &mut yr[lo..hi];
            if kw == 2 && sx == 2 {
                // the common 2x2 / stride 2 window: pairs
                let src = &acc[lo * 2 - px..hi * 2 - px];
                for (yv, p) in inner.iter_mut().zip(src.chunks_exact(2)) {
                    *yv = max_nan(p[0], p[1]);
                }
            } else {
                for (o, yv) in inner.iter_mut().enumerate() {
                    let base = (lo + o) * sx - px;
                    let win = &acc[base..base + kw];
                    *yv = win[1..].iter().fold(win[0], |m, &v| max_nan(m, v));
                }
            }
        }
    }
);

/// Pools every `[H, W]` plane of `x` into `y` (`[P, OH, OW]`, every element written).
pub fn max_pool_2d(x: &[f32], y: &mut [f32], g: &Geometry) {
    debug_assert!(applies(g));
    let (ih, iw) = (g.input[0], g.input[1]);
    let (oh, ow) = (g.output[0], g.output[1]);
    let (in_plane, out_plane) = (ih * iw, oh * ow);
    if out_plane == 0 {
        return;
    }
    let (kw, sx, px) = (g.kernel[1], g.strides[1], g.pads_begin[1]);
    let lo = px.div_ceil(sx).min(ow);
    let hi = (0..ow)
        .rev()
        .find(|&o| o * sx + kw <= iw + px)
        .map_or(lo, |o| (o + 1).max(lo));
    let w = Windows2d {
        rows: (0..oh).map(|o| span(g, 0, o)).collect(),
        cols: (0..ow).map(|o| span(g, 1, o)).collect(),
        inner: (lo, hi),
        kw,
        sx,
        px,
        iw,
        ow,
    };
    if x.len() >= PAR_MIN && y.len() > out_plane {
        y.par_chunks_mut(out_plane)
            .zip(x.par_chunks(in_plane))
            .for_each_init(Vec::new, |acc, (yp, xp)| pool_plane(&w, xp, yp, acc));
    } else {
        let mut acc = Vec::new();
        for (yp, xp) in y.chunks_mut(out_plane).zip(x.chunks(in_plane)) {
            pool_plane(&w, xp, yp, &mut acc);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::pool::max_pool;
    use super::*;

    use crate::testing::signed as noise;

    fn geometry(input: [usize; 2], k: usize, s: usize, pb: usize, pe: usize) -> Geometry {
        let out = |i: usize| (i + pb + pe).saturating_sub(k) / s + 1;
        Geometry {
            input: input.to_vec(),
            output: vec![out(input[0]), out(input[1])],
            kernel: vec![k, k],
            strides: vec![s, s],
            dilations: vec![1, 1],
            pads_begin: vec![pb, pb],
            pads_end: vec![pe, pe],
        }
    }

    #[test]
    fn matches_the_reference_on_sizes_around_the_window() {
        let mut seed = 1;
        for (h, w) in [(1, 1), (2, 3), (7, 7), (14, 15), (33, 17), (112, 112)] {
            for (k, s, pb, pe) in [
                (2, 2, 0, 0),
                (3, 2, 1, 1),
                (3, 1, 1, 1),
                (3, 2, 0, 1),
                (5, 3, 2, 2),
            ] {
                if h + pb + pe < k || w + pb + pe < k {
                    continue;
                }
                let g = geometry([h, w], k, s, pb, pe);
                let planes = 3;
                seed += 1;
                let mut x = noise(planes * h * w, seed);
                if h * w > 4 {
                    x[h * w + 2] = f32::NAN; // a NaN in the second plane
                }
                let (want, _) = max_pool::<f32>(&x, planes, &g, false, 0);
                let mut got = vec![f32::INFINITY; want.len()];
                max_pool_2d(&x, &mut got, &g);
                for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                        "{h}x{w} k{k} s{s} p{pb},{pe} at {i}: {a} vs {b}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_large_tensor_runs_in_parallel_with_the_same_result() {
        let g = geometry([56, 56], 3, 2, 1, 1);
        let planes = 16;
        let x = noise(planes * 56 * 56, 7);
        assert!(x.len() >= PAR_MIN);
        let (want, _) = max_pool::<f32>(&x, planes, &g, false, 0);
        let mut got = vec![0.0; want.len()];
        max_pool_2d(&x, &mut got, &g);
        assert_eq!(got, want);
    }
}
