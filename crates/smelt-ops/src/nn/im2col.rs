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
