//! im2col / col2im between an image `[C, D1, ..., Dn]` and a column matrix
//! `[C * prod(kernel), prod(output)]` (row = channel and kernel tap, column = output
//! position), for the geometry of a convolution. Conv multiplies weights by the columns;
//! ConvTranspose scatters columns back with col2im.

use super::spatial::Geometry;
use rayon::prelude::*;

/// Work (elements) under which the copies stay single-threaded.
const PAR_MIN: usize = 1 << 16;

/// Multi-index of `flat` in a row-major `shape`.
fn unflatten(mut flat: usize, shape: &[usize], out: &mut [usize]) {
    for d in (0..shape.len()).rev() {
        out[d] = flat % shape[d];
        flat /= shape[d];
    }
}

/// Calls `f(out_outer_flat, Some(in_outer_offset))` for every output position over all dims
/// but the last, with the input offset of the taps `k` over those dims (None if outside).
fn for_outer(
    g: &Geometry,
    k: &[usize],
    in_strides: &[usize],
    mut f: impl FnMut(usize, Option<usize>),
) {
    let nd = g.output.len();
    let outer = &g.output[..nd - 1];
    let n: usize = outer.iter().product();
    let mut idx = vec![0usize; nd - 1];
    for flat in 0..n {
        unflatten(flat, outer, &mut idx);
        let mut off = Some(0usize);
        for d in 0..nd - 1 {
            off = match (off, g.tap(d, idx[d], k[d])) {
                (Some(o), Some(i)) => Some(o + i * in_strides[d]),
                _ => None,
            };
        }
        f(flat, off);
    }
}

fn in_strides(g: &Geometry) -> Vec<usize> {
    smelt_core::tensor::strides(&g.input)
}

/// Fills `col` (`[c * prod(kernel), prod(output)]`) from `x` (`[c, input...]`).
pub fn im2col<T: Copy + Send + Sync>(x: &[T], c: usize, g: &Geometry, zero: T, col: &mut [T]) {
    let kprod: usize = g.kernel.iter().product();
    let oprod: usize = g.output.iter().product();
    let iprod: usize = g.input.iter().product();
    let nd = g.output.len();
    debug_assert!(x.len() >= c * iprod && col.len() == c * kprod * oprod);
    if oprod == 0 {
        return;
    }
    let ist = in_strides(g);
    let (ol, sl, dl, pl, il) = (
        g.output[nd - 1],
        g.strides[nd - 1],
        g.dilations[nd - 1],
        g.pads_begin[nd - 1],
        g.input[nd - 1],
    );
    if nd == 2 {
        let row2 = |r: usize, dst: &mut [T]| im2col_row_2d(x, r, g, zero, dst);
        if col.len() >= PAR_MIN {
            col.par_chunks_mut(oprod)
                .enumerate()
                .for_each(|(r, dst)| row2(r, dst));
        } else {
            col.chunks_mut(oprod)
                .enumerate()
                .for_each(|(r, dst)| row2(r, dst));
        }
        return;
    }
    let row = |r: usize, dst: &mut [T]| {
        let ch = r / kprod;
        let mut k = vec![0usize; nd];
        unflatten(r % kprod, &g.kernel, &mut k);
        let xc = &x[ch * iprod..(ch + 1) * iprod];
        let valid = g.valid_outputs(nd - 1, k[nd - 1]);
        for_outer(g, &k, &ist, |of, off| {
            let seg = &mut dst[of * ol..(of + 1) * ol];
            match off {
                None => seg.fill(zero),
                Some(base) => {
                    seg[..valid.start].fill(zero);
                    seg[valid.end..].fill(zero);
                    if valid.is_empty() {
                        return;
                    }
                    // input index along the last dim for output o: o*s + k*d - p
                    let first = base + valid.start * sl + k[nd - 1] * dl - pl;
                    if sl == 1 {
                        seg[valid.clone()].copy_from_slice(&xc[first..first + valid.len()]);
                    } else {
                        for (j, o) in valid.clone().enumerate() {
                            seg[o] = xc[first + j * sl];
                        }
                    }
                    debug_assert!(first + (valid.len() - 1) * sl < base + il);
                }
            }
        });
    };
    if col.len() >= PAR_MIN {
        col.par_chunks_mut(oprod)
            .enumerate()
            .for_each(|(r, dst)| row(r, dst));
    } else {
        col.chunks_mut(oprod)
            .enumerate()
            .for_each(|(r, dst)| row(r, dst));
    }
}

/// Column-matrix row `r` (channel `r / (kh * kw)`, tap `(ky, kx)`) of a 2-D geometry into
/// `dst` (`[OH * OW]`): per output row, the input row of that tap copied (strided when the
/// stride is not 1) between the zeros of the padding. The same values as the n-d path.
fn im2col_row_2d<T: Copy>(x: &[T], r: usize, g: &Geometry, zero: T, dst: &mut [T]) {
    let (kh, kw) = (g.kernel[0], g.kernel[1]);
    let (ih, iw) = (g.input[0], g.input[1]);
    let ow = g.output[1];
    let (ch, ky, kx) = (r / (kh * kw), (r / kw) % kh, r % kw);
    let xc = &x[ch * ih * iw..(ch + 1) * ih * iw];
    let valid = g.valid_outputs(1, kx);
    let sx = g.strides[1];
    for (oy, seg) in dst.chunks_mut(ow).enumerate() {
        let Some(iy) = g.tap(0, oy, ky) else {
            seg.fill(zero);
            continue;
        };
        seg[..valid.start].fill(zero);
        seg[valid.end..].fill(zero);
        if valid.is_empty() {
            continue;
        }
        let first = iy * iw + valid.start * sx + kx * g.dilations[1] - g.pads_begin[1];
        let src = &xc[first..first + (valid.len() - 1) * sx + 1];
        if sx == 1 {
            seg[valid.clone()].copy_from_slice(src);
        } else {
            for (d, s) in seg[valid.clone()].iter_mut().zip(src.iter().step_by(sx)) {
                *d = *s;
            }
        }
    }
}

/// Adds `col` (`[c * prod(kernel), prod(g.output)]`) back into the image `y` (`[c, g.input...]`),
/// the adjoint of [`im2col`]. ConvTranspose calls it with the forward geometry of the
/// convolution whose input is `y`.
pub fn col2im<T: Copy + Send + Sync + std::ops::AddAssign>(
    col: &[T],
    c: usize,
    g: &Geometry,
    y: &mut [T],
) {
    let kprod: usize = g.kernel.iter().product();
    let oprod: usize = g.output.iter().product();
    let iprod: usize = g.input.iter().product();
    let nd = g.output.len();
    debug_assert!(y.len() == c * iprod && col.len() == c * kprod * oprod);
    if oprod == 0 || iprod == 0 {
        return;
    }
    let ist = in_strides(g);
    let (ol, sl, dl, pl) = (
        g.output[nd - 1],
        g.strides[nd - 1],
        g.dilations[nd - 1],
        g.pads_begin[nd - 1],
    );
    let plane = |ch: usize, yc: &mut [T]| {
        let mut k = vec![0usize; nd];
        for kf in 0..kprod {
            unflatten(kf, &g.kernel, &mut k);
            let src = &col[(ch * kprod + kf) * oprod..(ch * kprod + kf + 1) * oprod];
            let valid = g.valid_outputs(nd - 1, k[nd - 1]);
            if valid.is_empty() {
                continue;
            }
            for_outer(g, &k, &ist, |of, off| {
                if let Some(base) = off {
                    let seg = &src[of * ol..(of + 1) * ol];
                    let first = base + valid.start * sl + k[nd - 1] * dl - pl;
                    for (j, o) in valid.clone().enumerate() {
                        yc[first + j * sl] += seg[o];
                    }
                }
            });
        }
    };
    if col.len() >= PAR_MIN && c > 1 {
        y.par_chunks_mut(iprod)
            .enumerate()
            .for_each(|(ch, yc)| plane(ch, yc));
    } else {
        y.chunks_mut(iprod)
            .enumerate()
            .for_each(|(ch, yc)| plane(ch, yc));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each column element straight from its definition: the input under tap (ky, kx) of
    /// output (oy, ox), or zero on padding.
    fn brute_force(x: &[f32], c: usize, g: &Geometry) -> Vec<f32> {
        let (kh, kw, oh, ow, ih, iw) = (
            g.kernel[0],
            g.kernel[1],
            g.output[0],
            g.output[1],
            g.input[0],
            g.input[1],
        );
        let mut col = Vec::new();
        for ch in 0..c {
            for ky in 0..kh {
                for kx in 0..kw {
                    for oy in 0..oh {
                        for ox in 0..ow {
                            col.push(match (g.tap(0, oy, ky), g.tap(1, ox, kx)) {
                                (Some(iy), Some(ix)) => x[(ch * ih + iy) * iw + ix],
                                _ => 0.0,
                            });
                        }
                    }
                }
            }
        }
        col
    }

    #[test]
    fn two_d_columns_match_their_definition() {
        let mut seed = 0x2545_f491_u64;
        for (ih, iw, k, s, d, p) in [
            (5, 7, 3, 1, 1, 1),
            (8, 8, 3, 2, 1, 1),
            (9, 13, 7, 2, 1, 3),
            (6, 6, 3, 1, 2, 2),
            (4, 5, 1, 1, 1, 0),
            (3, 3, 5, 1, 1, 2),
            (40, 33, 3, 2, 1, 0),
        ] {
            let c = 3;
            let out = |i: usize| (i + 2 * p - d * (k - 1) - 1) / s + 1;
            let g = Geometry {
                input: vec![ih, iw],
                output: vec![out(ih), out(iw)],
                kernel: vec![k, k],
                strides: vec![s, s],
                dilations: vec![d, d],
                pads_begin: vec![p, p],
                pads_end: vec![p, p],
            };
            let x: Vec<f32> = (0..c * ih * iw)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    (seed % 1000) as f32 / 100.0 - 5.0
                })
                .collect();
            let want = brute_force(&x, c, &g);
            let mut got = vec![f32::NAN; want.len()];
            im2col(&x, c, &g, 0.0, &mut got);
            assert_eq!(got, want, "{ih}x{iw} k{k} s{s} d{d} p{p}");
        }
    }
}
