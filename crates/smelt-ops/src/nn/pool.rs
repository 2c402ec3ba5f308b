//! Window reductions shared by MaxPool, AveragePool, LpPool and the global pools. Every
//! `[N, C]` plane is reduced independently (planes run in parallel); the window of each
//! output position is precomputed once as a list of in-plane offsets of the taps that fall
//! inside the input (taps on padding are skipped), with the number of taps inside the padded
//! input (`[-pad_begin, input + pad_end)`, the `count_include_pad` divisor).

use super::spatial::Geometry;
use crate::prelude::*;
use rayon::prelude::*;

/// The windows of all output positions of one plane, in CSR form.
pub struct Windows {
    /// `offs[starts[o]..starts[o + 1]]` are the in-plane offsets of output `o`'s window.
    pub starts: Vec<usize>,
    pub offs: Vec<usize>,
    /// Taps of output `o` inside the explicitly padded input.
    pub padded: Vec<usize>,
}

impl Windows {
    pub fn new(g: &Geometry) -> Windows {
        let nd = g.input.len();
        let ist = strides(&g.input);
        // per dim, per output index: valid input indices and padded-tap counts
        let mut valid: Vec<Vec<Vec<usize>>> = Vec::with_capacity(nd);
        let mut padded: Vec<Vec<usize>> = Vec::with_capacity(nd);
        for d in 0..nd {
            let ext = g.input[d] + g.pads_begin[d] + g.pads_end[d];
            let mut vd = Vec::with_capacity(g.output[d]);
            let mut pd = Vec::with_capacity(g.output[d]);
            for o in 0..g.output[d] {
                vd.push(
                    (0..g.kernel[d])
                        .filter_map(|k| g.tap(d, o, k))
                        .collect::<Vec<_>>(),
                );
                pd.push(
                    (0..g.kernel[d])
                        .filter(|&k| o * g.strides[d] + k * g.dilations[d] < ext)
                        .count(),
                );
            }
            valid.push(vd);
            padded.push(pd);
        }
        let oprod: usize = g.output.iter().product();
        let mut w = Windows {
            starts: Vec::with_capacity(oprod + 1),
            offs: Vec::new(),
            padded: Vec::with_capacity(oprod),
        };
        let mut idx = vec![0usize; nd];
        let mut cur: Vec<usize> = Vec::new();
        let mut next: Vec<usize> = Vec::new();
        for _ in 0..oprod {
            cur.clear();
            cur.push(0);
            let mut pc = 1;
            for d in 0..nd {
                next.clear();
                for &e in &cur {
                    next.extend(valid[d][idx[d]].iter().map(|&i| e + i * ist[d]));
                }
                std::mem::swap(&mut cur, &mut next);
                pc *= padded[d][idx[d]];
            }
            w.starts.push(w.offs.len());
            w.offs.extend_from_slice(&cur);
            w.padded.push(pc);
            for d in (0..nd).rev() {
                idx[d] += 1;
                if idx[d] < g.output[d] {
                    break;
                }
                idx[d] = 0;
            }
        }
        w.starts.push(w.offs.len());
        w
    }

    pub fn window(&self, o: usize) -> &[usize] {
        &self.offs[self.starts[o]..self.starts[o + 1]]
    }
}

/// Runs `f(plane_index, x_plane, y_plane)` over all planes, in parallel when large.
pub fn for_planes<A: Sync, B: Send>(
    x: &[A],
    in_prod: usize,
    y: &mut [B],
    out_prod: usize,
    f: impl Fn(usize, &[A], &mut [B]) + Sync + Send,
) {
    if out_prod == 0 || in_prod == 0 {
        return;
    }
    let planes = y.len() / out_prod;
    if planes > 1 && x.len() >= 1 << 14 {
        y.par_chunks_mut(out_prod)
            .enumerate()
            .for_each(|(p, yp)| f(p, &x[p * in_prod..(p + 1) * in_prod], yp));
    } else {
        y.chunks_mut(out_prod)
            .enumerate()
            .for_each(|(p, yp)| f(p, &x[p * in_prod..(p + 1) * in_prod], yp));
    }
}

/// Max over each window; with `want_idx`, also the flat input index of the maximum (the
/// first one on ties), row-major within the plane or column-major for `storage_order` 1.
/// A window with no tap inside the input yields the element type's default.
#[allow(clippy::eq_op)] // `x != x` is the NaN test for a generic PartialOrd element
pub fn max_pool<T: Elem + Copy + PartialOrd>(
    x: &[T],
    planes: usize,
    g: &Geometry,
    want_idx: bool,
    storage_order: i64,
) -> (Vec<T>, Vec<i64>) {
    let in_prod: usize = g.input.iter().product();
    let out_prod: usize = g.output.iter().product();
    let w = Windows::new(g);
    let mut y = vec![T::default(); planes * out_prod];
    let mut best = vec![0usize; if want_idx { planes * out_prod } else { 0 }];
    let reduce = |xp: &[T], yp: &mut [T], bp: Option<&mut [usize]>| {
        let mut bp = bp;
        for (o, yv) in yp.iter_mut().enumerate() {
            let win = w.window(o);
            let Some(&first) = win.first() else { continue };
            let (mut m, mut at) = (xp[first], first);
            for &off in &win[1..] {
                // NaN in the window wins, as with numpy's max
                if xp[off] > m || (xp[off] != xp[off] && m == m) {
                    m = xp[off];
                    at = off;
                }
            }
            *yv = m;
            if let Some(b) = bp.as_deref_mut() {
                b[o] = at;
            }
        }
    };
    if want_idx {
        y.chunks_mut(out_prod.max(1))
            .zip(best.chunks_mut(out_prod.max(1)))
            .enumerate()
            .for_each(|(p, (yp, bp))| reduce(&x[p * in_prod..(p + 1) * in_prod], yp, Some(bp)));
    } else {
        for_planes(x, in_prod, &mut y, out_prod, |_, xp, yp| {
            reduce(xp, yp, None)
        });
    }
    let nd = g.input.len();
    let idx = best
        .iter()
        .enumerate()
        .map(|(i, &off)| {
            let plane = (i / out_prod.max(1)) * in_prod;
            if storage_order == 0 {
                return (plane + off) as i64;
            }
            // column-major position within the plane
            let (mut t, mut col, mut cs) = (off, 0usize, 1usize);
            let mut id = vec![0; nd];
            for d in (0..nd).rev() {
                id[d] = t % g.input[d];
                t /= g.input[d];
            }
            for d in 0..nd {
                col += id[d] * cs;
                cs *= g.input[d];
            }
            (plane + col) as i64
        })
        .collect();
    (y, idx)
}

/// `finish(sum, count)` over `sum(map(x))` per window, in f64. `count` is the number of taps
/// inside the input, or inside the padded input with `count_pad`.
pub fn sum_pool<T: Elem + Copy>(
    x: &[T],
    planes: usize,
    g: &Geometry,
    count_pad: bool,
    map: impl Fn(T) -> f64 + Sync + Send,
    finish: impl Fn(f64, usize) -> T + Sync + Send,
) -> Vec<T> {
    let in_prod: usize = g.input.iter().product();
    let out_prod: usize = g.output.iter().product();
    let w = Windows::new(g);
    let mut y = vec![T::default(); planes * out_prod];
    for_planes(x, in_prod, &mut y, out_prod, |_, xp, yp| {
        for (o, yv) in yp.iter_mut().enumerate() {
            let win = w.window(o);
            let s: f64 = win.iter().map(|&off| map(xp[off])).sum();
            *yv = finish(s, if count_pad { w.padded[o] } else { win.len() });
        }
    });
    y
}

/// Conversions between a float element type and f64 for the averaging pools.
pub trait PoolFloat: Elem + Copy {
    fn to_f64(self) -> f64;
    fn from_f64(v: f64) -> Self;
}
impl PoolFloat for f32 {
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}
impl PoolFloat for f64 {
    fn to_f64(self) -> f64 {
        self
    }
    fn from_f64(v: f64) -> Self {
        v
    }
}
impl PoolFloat for f16 {
    fn to_f64(self) -> f64 {
        f16::to_f64(self)
    }
    fn from_f64(v: f64) -> Self {
        f16::from_f64(v)
    }
}
impl PoolFloat for bf16 {
    fn to_f64(self) -> f64 {
        bf16::to_f64(self)
    }
    fn from_f64(v: f64) -> Self {
        bf16::from_f64(v)
    }
}

/// Output shape `[N, C, 1, ..., 1]` of a global pool over `shape`, and (planes, plane size).
/// Shape inference of the windowed pools: x [N, C, spatial..] -> [N, C, output..] with x's
/// dtype; the shape stays unknown unless x's shape is concrete and `geometry` accepts it.
pub fn infer_pooled(
    ctx: &InferCtx,
    geometry: impl Fn(&[usize]) -> Result<(usize, Geometry)>,
) -> ValueInfo {
    let x = ctx.inputs.first().cloned().flatten().unwrap_or_default();
    let shape = x.concrete_shape().and_then(|s| {
        let (_, g) = geometry(&s).ok()?;
        Some(
            s[..2]
                .iter()
                .copied()
                .chain(g.output)
                .map(Dim::Fixed)
                .collect(),
        )
    });
    ValueInfo {
        dtype: x.dtype,
        shape,
    }
}

pub fn global_shape(shape: &[usize], what: &str) -> Result<(Vec<usize>, usize, usize)> {
    ensure!(
        shape.len() >= 2,
        "{what}: input must be [N, C, D1, ...], got shape {shape:?}"
    );
    let mut out = shape.to_vec();
    out[2..].iter_mut().for_each(|d| *d = 1);
    let plane: usize = shape[2..].iter().product();
    Ok((out, shape[0] * shape[1], plane))
}

/// Reduces each plane of `x` with `f`.
pub fn global_reduce<T: Elem + Copy>(
    x: &Tensor,
    what: &str,
    f: impl Fn(&[T]) -> T + Sync + Send,
) -> Result<Tensor> {
    let (shape, planes, plane) = global_shape(x.shape(), what)?;
    let xs = x.as_slice::<T>()?;
    let mut y = vec![T::default(); planes];
    if plane > 0 {
        for_planes(xs, plane, &mut y, 1, |_, xp, yp| yp[0] = f(xp));
    }
    Tensor::from_vec(shape, y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::spatial::{AutoPad, WindowAttrs};

    fn geom(
        input: &[usize],
        kernel: &[usize],
        strides: Vec<i64>,
        pads: Vec<i64>,
        dil: Vec<i64>,
        ceil: bool,
    ) -> Geometry {
        let w = WindowAttrs {
            kernel: None,
            strides: Some(strides),
            pads: Some(pads),
            dilations: Some(dil),
            auto_pad: AutoPad::NotSet,
            ceil_mode: ceil,
        };
        w.resolve(input, kernel).unwrap()
    }

    #[test]
    fn windows_match_brute_force() {
        let g = geom(
            &[7, 6],
            &[3, 2],
            vec![2, 3],
            vec![1, 0, 2, 1],
            vec![1, 2],
            true,
        );
        let w = Windows::new(&g);
        let mut o = 0;
        for oy in 0..g.output[0] {
            for ox in 0..g.output[1] {
                let mut want = vec![];
                for ky in 0..3 {
                    for kx in 0..2 {
                        let (y, x) = ((oy * 2 + ky) as i64 - 1, (ox * 3 + kx * 2) as i64);
                        if (0..7).contains(&y) && (0..6).contains(&x) {
                            want.push(y as usize * 6 + x as usize);
                        }
                    }
                }
                assert_eq!(w.window(o), want.as_slice(), "output ({oy}, {ox})");
                o += 1;
            }
        }
    }

    #[test]
    fn max_indices_both_orders() {
        // one 3x4 plane, 2x2 windows with stride 2
        let x: Vec<f32> = vec![1., 9., 2., 3., 4., 5., 8., 6., 0., 1., 7., 2.];
        let g = geom(&[3, 4], &[2, 2], vec![2, 2], vec![0; 4], vec![1, 1], false);
        let (y, i) = max_pool(&x, 1, &g, true, 0);
        assert_eq!((y, i.clone()), (vec![9., 8.], vec![1, 6]));
        let (_, i) = max_pool(&x, 1, &g, true, 1);
        // (0, 1) -> 0 + 1 * 3; (1, 2) -> 1 + 2 * 3
        assert_eq!(i, vec![3, 7]);
    }

    #[test]
    fn global_shape_needs_nc() {
        assert!(global_shape(&[3], "GlobalAveragePool").is_err());
        assert_eq!(
            global_shape(&[2, 3, 4, 5], "x").unwrap(),
            (vec![2, 3, 1, 1], 6, 20)
        );
    }
}
