//! Conv: N-d convolution (1-D, 2-D, 3-D, ...) with groups, strides, dilations, pads and
//! auto_pad. `X: [N, C, D1..Dn]`, `W: [M, C/group, k1..kn]`, optional `B: [M]` ->
//! `Y: [N, M, O1..On]`. kernel_shape defaults to W's spatial dims.
//!
//! Per image and group, `Y_g = W_g · im2col(X_g)` with the shared GEMM kernel; 1x1 kernels
//! with unit strides and no padding multiply `X_g` directly. A batch of at least as many
//! images as threads runs an image per task; otherwise groups run in parallel when each
//! group's product is small (depthwise convs), and the GEMM itself is threaded. f16/bf16
//! compute in f32.

use super::im2col::im2col;
use super::spatial::{split_nc, Geometry, WindowAttrs};
use crate::linalg::blas::{row_major, GemmScalar};
use crate::prelude::*;
use rayon::prelude::*;

#[derive(Debug)]
pub struct Conv {
    window: WindowAttrs,
    group: usize,
}

pub fn register(r: &mut Registry) {
    r.register("", "Conv", |ctx| Ok(Box::new(Conv::from_attrs(ctx.attrs)?)));
}

impl Conv {
    pub fn from_attrs(a: &Attributes) -> Result<Conv> {
        let group = a.int_or("group", 1)?;
        ensure!(group >= 1, "Conv: group must be >= 1, got {group}");
        Ok(Conv {
            window: WindowAttrs::parse(a)?,
            group: group as usize,
        })
    }

    /// f32 convolution of `x` with a weight of shape `w_shape` read through `w` (a
    /// compressed weight decodes blocks of output channels as the kernel asks), each block
    /// of the output passed through `epilogue` when given.
    pub fn run_f32_with(
        &self,
        x: &Tensor,
        w_shape: &[usize],
        w: &(impl WeightRows<f32> + ?Sized),
        b: Option<&Tensor>,
        epilogue: Option<&Epilogue<'_, f32>>,
    ) -> Result<Tensor> {
        ensure!(
            x.dtype() == DType::F32,
            "Conv: X is {}, this kernel takes float",
            x.dtype()
        );
        let (n, c, m, g) = conv_geometry(&self.window, self.group, x.shape(), w_shape)?;
        let bias = match b {
            Some(b) => {
                ensure!(
                    b.shape() == [m] && b.dtype() == DType::F32,
                    "Conv: bias must be float [{m}], got {} {:?}",
                    b.dtype(),
                    b.shape()
                );
                Some(b.as_slice::<f32>()?)
            }
            None => None,
        };
        let mut shape = vec![n, m];
        shape.extend(&g.output);
        let y = conv_raw(
            x.as_slice::<f32>()?,
            n,
            c,
            m,
            &g,
            w,
            bias,
            self.group,
            epilogue,
        );
        Tensor::from_vec(shape, y)
    }
}

/// [`conv_geometry`] with `conv`'s attributes.
pub fn conv_geometry_of(
    conv: &Conv,
    x: &[usize],
    w: &[usize],
) -> Result<(usize, usize, usize, Geometry)> {
    conv_geometry(&conv.window, conv.group, x, w)
}

/// Checks shapes and resolves the geometry: returns (N, C, M, geometry).
pub fn conv_geometry(
    window: &WindowAttrs,
    group: usize,
    x: &[usize],
    w: &[usize],
) -> Result<(usize, usize, usize, Geometry)> {
    let (n, c, sp) = split_nc(x, "Conv")?;
    ensure!(
        w.len() == x.len(),
        "Conv: weights {w:?} must have the rank of the input {x:?}"
    );
    let m = w[0];
    ensure!(
        Some(c) == w[1].checked_mul(group),
        "Conv: input has {c} channels but weights {w:?} with group {group} expect {}",
        w[1] as u128 * group as u128
    );
    ensure!(
        m % group == 0,
        "Conv: {m} output channels are not divisible by group {group}"
    );
    let kernel = window.kernel(sp.len(), Some(&w[2..]))?;
    let g = window.resolve(&sp, &kernel)?;
    Ok((n, c, m, g))
}

/// The depthwise plane kernel per element type: f32 runs a copy of [`depthwise_2d`]
/// compiled for the best instruction set the CPU has (the same operations in the same
/// order, so the same results, 16 lanes at a time on AVX-512).
pub trait DepthwisePlane: Sized {
    fn depthwise_plane(x: &[Self], w: &[Self], g: &Geometry, y: &mut [Self]);
}

impl DepthwisePlane for f32 {
    fn depthwise_plane(x: &[f32], w: &[f32], g: &Geometry, y: &mut [f32]) {
        depthwise_2d_f32(x, w, g, y)
    }
}

impl DepthwisePlane for f64 {
    fn depthwise_plane(x: &[f64], w: &[f64], g: &Geometry, y: &mut [f64]) {
        depthwise_2d(x, w, g, y)
    }
}

crate::multiversion!(
    fn depthwise_2d_f32(x: &[f32], w: &[f32], g: &Geometry, y: &mut [f32]) {
        depthwise_2d(x, w, g, y)
    }
);

/// Depthwise 2-D convolution of one plane (`x`: `[H, W]`, `w`: `[kh, kw]`) into `y`
/// (`[OH, OW]`, pre-filled with the bias): one scaled row add per kernel tap and output row.
#[inline(always)]
fn depthwise_2d<T: GemmScalar + std::ops::Mul<Output = T> + std::ops::AddAssign>(
    x: &[T],
    w: &[T],
    g: &Geometry,
    y: &mut [T],
) {
    let (iw, ow) = (g.input[1], g.output[1]);
    let (kh, kw) = (g.kernel[0], g.kernel[1]);
    let (sy, sx) = (g.strides[0], g.strides[1]);
    for ky in 0..kh {
        let rows = g.valid_outputs(0, ky);
        for kx in 0..kw {
            let wv = w[ky * kw + kx];
            let cols = g.valid_outputs(1, kx);
            if cols.is_empty() {
                continue;
            }
            for oy in rows.clone() {
                let iy = oy * sy + ky * g.dilations[0] - g.pads_begin[0];
                let ix0 = cols.start * sx + kx * g.dilations[1] - g.pads_begin[1];
                let xrow = &x[iy * iw..(iy + 1) * iw];
                let yrow = &mut y[oy * ow + cols.start..oy * ow + cols.end];
                if sx == 1 {
                    for (yv, &xv) in yrow.iter_mut().zip(&xrow[ix0..ix0 + cols.len()]) {
                        *yv += wv * xv;
                    }
                } else {
                    for (j, yv) in yrow.iter_mut().enumerate() {
                        *yv += wv * xrow[ix0 + j * sx];
                    }
                }
            }
        }
    }
}

/// Where a convolution reads its weight matrix `[M, C/group * prod(kernel)]`: a dense slice,
/// or a compressed weight decoded a block of output channels at a time.
pub trait WeightRows<T>: Sync {
    /// Output channels per block the kernel asks for; `usize::MAX` reads a group at once.
    fn block_rows(&self, cols: usize) -> usize;
    /// Rows `r0..r1` (each `cols` long): borrowed, or decoded into `scratch`.
    fn rows<'a>(&'a self, r0: usize, r1: usize, cols: usize, scratch: &'a mut Vec<T>) -> &'a [T];
}

impl<T: Copy + Sync> WeightRows<T> for [T] {
    fn block_rows(&self, _: usize) -> usize {
        usize::MAX
    }
    fn rows<'a>(&'a self, r0: usize, r1: usize, cols: usize, _: &'a mut Vec<T>) -> &'a [T] {
        &self[r0 * cols..r1 * cols]
    }
}

impl<T: Copy + Sync> WeightRows<T> for Vec<T> {
    fn block_rows(&self, _: usize) -> usize {
        usize::MAX
    }
    fn rows<'a>(&'a self, r0: usize, r1: usize, cols: usize, _: &'a mut Vec<T>) -> &'a [T] {
        &self[r0 * cols..r1 * cols]
    }
}

/// A fused convolution's epilogue: `f(offset, block)` rewrites a block of Y's elements in
/// place (`offset`: the block's first element in Y, `[N, M, output...]` row-major), called
/// once per block as soon as the block is final, while it is in cache. Every element of Y
/// is passed exactly once.
pub type Epilogue<'a, T> = dyn Fn(usize, &mut [T]) + Sync + 'a;

/// Runs `epilogue` over `y` (starting at element `offset` of Y), in parallel chunks when
/// `par` and the block is large enough for threads to pay.
fn finish_block<T: Send>(
    epilogue: Option<&Epilogue<'_, T>>,
    offset: usize,
    y: &mut [T],
    par: bool,
) {
    const PAR_MIN: usize = 1 << 15;
    let Some(f) = epilogue else { return };
    if par && y.len() >= 2 * PAR_MIN {
        let chunk = y
            .len()
            .div_ceil(rayon::current_num_threads().max(1))
            .max(PAR_MIN);
        y.par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, c)| f(offset + i * chunk, c));
    } else {
        f(offset, y);
    }
}

/// The convolution on raw slices; returns Y's elements (`[N, M, output...]`), each block
/// passed through `epilogue` when given.
#[allow(clippy::too_many_arguments)]
pub fn conv_raw<
    T: GemmScalar + DepthwisePlane + std::ops::Mul<Output = T> + std::ops::AddAssign,
>(
    x: &[T],
    n: usize,
    c: usize,
    m: usize,
    g: &Geometry,
    w: &(impl WeightRows<T> + ?Sized),
    bias: Option<&[T]>,
    group: usize,
    epilogue: Option<&Epilogue<'_, T>>,
) -> Vec<T> {
    let iprod: usize = g.input.iter().product();
    let oprod: usize = g.output.iter().product();
    let kprod: usize = g.kernel.iter().product();
    let (cg, mg) = (c / group, m / group);
    let kk = cg * kprod; // GEMM inner dim
    let mut y = vec![T::zero(); n * m * oprod];
    if y.is_empty() {
        return y;
    }
    let pointwise = kprod == 1
        && g.strides.iter().all(|&s| s == 1)
        && g.pads_begin.iter().all(|&p| p == 0)
        && g.input == g.output;
    let beta = if bias.is_some() { T::one() } else { T::zero() };
    let depthwise = cg == 1 && mg == 1 && g.input.len() == 2 && kprod > 1;
    // one group of one image: y_g [mg, oprod] = w_g [mg, kk] x cols [kk, oprod]
    let blk = w.block_rows(kk).clamp(1, mg.max(1));
    let run_group =
        |img: usize, gi: usize, yg: &mut [T], bufs: &mut (Vec<T>, Vec<T>), par: bool| {
            let (col, scratch) = bufs;
            if let Some(b) = bias {
                for (r, row) in yg.chunks_mut(oprod).enumerate() {
                    row.fill(b[gi * mg + r]);
                }
            }
            let xg = &x[(img * c + gi * cg) * iprod..(img * c + (gi + 1) * cg) * iprod];
            let base = (img * m + gi * mg) * oprod;
            if depthwise {
                if bias.is_none() {
                    yg.fill(T::zero());
                }
                T::depthwise_plane(xg, w.rows(gi, gi + 1, kk, scratch), g, yg);
                finish_block(epilogue, base, yg, false);
                return;
            }
            let cols: &[T] = if pointwise {
                xg
            } else {
                col.resize(kk * oprod, T::zero());
                im2col(xg, cg, g, T::zero(), col);
                col
            };
            for r0 in (0..mg).step_by(blk) {
                let r1 = (r0 + blk).min(mg);
                T::gemm(
                    r1 - r0,
                    oprod,
                    kk,
                    w.rows(gi * mg + r0, gi * mg + r1, kk, scratch),
                    row_major(kk),
                    cols,
                    row_major(oprod),
                    &mut yg[r0 * oprod..r1 * oprod],
                    oprod,
                    T::one(),
                    beta,
                    par,
                );
                let yb = &mut yg[r0 * oprod..r1 * oprod];
                finish_block(epilogue, base + r0 * oprod, yb, par);
            }
        };
    let group_work = mg * oprod * kk;
    // As many images as threads: one image per task, each single-threaded inside (no
    // synchronisation within the GEMMs; the images' columns stay in each thread's cache).
    if n > 1 && n >= rayon::current_num_threads() && group_work * group >= 1 << 14 {
        y.par_chunks_mut(m * oprod).enumerate().for_each_init(
            || (Vec::new(), Vec::new()),
            |bufs, (img, yi)| {
                for (gi, yg) in yi.chunks_mut(mg * oprod).enumerate() {
                    run_group(img, gi, yg, bufs, false);
                }
            },
        );
        return y;
    }
    for (img, yi) in y.chunks_mut(m * oprod).enumerate() {
        if group > 1 && group_work < (1 << 18) {
            yi.par_chunks_mut(mg * oprod).enumerate().for_each_init(
                || (Vec::new(), Vec::new()),
                |bufs, (gi, yg)| run_group(img, gi, yg, bufs, false),
            );
        } else {
            let mut bufs = (Vec::new(), Vec::new());
            for (gi, yg) in yi.chunks_mut(mg * oprod).enumerate() {
                run_group(img, gi, yg, &mut bufs, true);
            }
        }
    }
    y
}

fn to_f32<T: Copy>(v: &[T], f: impl Fn(T) -> f32) -> Vec<f32> {
    v.iter().map(|&x| f(x)).collect()
}

impl Conv {
    fn run(&self, x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
        ensure!(
            w.dtype() == x.dtype(),
            "Conv: X is {} but W is {}",
            x.dtype(),
            w.dtype()
        );
        let (n, c, m, g) = conv_geometry(&self.window, self.group, x.shape(), w.shape())?;
        if let Some(b) = b {
            ensure!(
                b.dtype() == x.dtype(),
                "Conv: X is {} but B is {}",
                x.dtype(),
                b.dtype()
            );
            ensure!(
                b.shape() == [m],
                "Conv: bias must have shape [{m}], got {:?}",
                b.shape()
            );
        }
        let mut shape = vec![n, m];
        shape.extend(&g.output);
        macro_rules! via_f32 {
            ($t:ty) => {{
                let f = |v: &[$t]| to_f32(v, |a: $t| a.to_f32());
                let bias = match b {
                    Some(b) => Some(f(b.as_slice::<$t>()?)),
                    None => None,
                };
                let y = conv_raw::<f32>(
                    &f(x.as_slice::<$t>()?),
                    n,
                    c,
                    m,
                    &g,
                    &f(w.as_slice::<$t>()?)[..],
                    bias.as_deref(),
                    self.group,
                    None,
                );
                Tensor::from_vec(
                    shape,
                    y.into_iter().map(<$t>::from_f32).collect::<Vec<$t>>(),
                )
            }};
        }
        match x.dtype() {
            DType::F32 => Tensor::from_vec(
                shape,
                conv_raw(
                    x.as_slice::<f32>()?,
                    n,
                    c,
                    m,
                    &g,
                    w.as_slice::<f32>()?,
                    b.map(|b| b.as_slice::<f32>()).transpose()?,
                    self.group,
                    None,
                ),
            ),
            DType::F64 => Tensor::from_vec(
                shape,
                conv_raw(
                    x.as_slice::<f64>()?,
                    n,
                    c,
                    m,
                    &g,
                    w.as_slice::<f64>()?,
                    b.map(|b| b.as_slice::<f64>()).transpose()?,
                    self.group,
                    None,
                ),
            ),
            DType::F16 => via_f32!(f16),
            DType::BF16 => via_f32!(bf16),
            other => Err(Error::dtype(other, "Conv")),
        }
    }
}

impl Op for Conv {
    fn op_type(&self) -> &str {
        "Conv"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let x = ctx.inputs.first().cloned().flatten().unwrap_or_default();
        let w = ctx.inputs.get(1).cloned().flatten().unwrap_or_default();
        let shape = match (x.concrete_shape(), w.concrete_shape()) {
            (Some(xs), Some(ws)) => conv_geometry(&self.window, self.group, &xs, &ws)
                .ok()
                .map(|(n, _, m, g)| [n, m].into_iter().chain(g.output).map(Dim::Fixed).collect()),
            _ => None,
        };
        Ok(vec![ValueInfo {
            dtype: x.dtype,
            shape,
        }])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        Ok(vec![self.run(
            req(&inputs, 0)?,
            req(&inputs, 1)?,
            opt(&inputs, 2),
        )?])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::spatial::AutoPad;

    fn rand_vec(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed.wrapping_mul(0x9E3779B97F4A7C15).wrapping_add(7);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 33) as f64 / (1u64 << 31) as f64) * 2.0 - 1.0
            })
            .collect()
    }

    /// Direct convolution, one output element at a time.
    fn naive(
        x: &[f64],
        n: usize,
        c: usize,
        m: usize,
        g: &Geometry,
        w: &[f64],
        b: Option<&[f64]>,
        group: usize,
    ) -> Vec<f64> {
        let (cg, mg) = (c / group, m / group);
        let nd = g.input.len();
        let iprod: usize = g.input.iter().product();
        let oprod: usize = g.output.iter().product();
        let kprod: usize = g.kernel.iter().product();
        let ist = strides(&g.input);
        let mut y = vec![0.0; n * m * oprod];
        for img in 0..n {
            for oc in 0..m {
                let gi = oc / mg;
                for of in 0..oprod {
                    let mut o = vec![0; nd];
                    let mut t = of;
                    for d in (0..nd).rev() {
                        o[d] = t % g.output[d];
                        t /= g.output[d];
                    }
                    let mut s = b.map_or(0.0, |b| b[oc]);
                    for ic in 0..cg {
                        for kf in 0..kprod {
                            let mut k = vec![0; nd];
                            let mut t = kf;
                            for d in (0..nd).rev() {
                                k[d] = t % g.kernel[d];
                                t /= g.kernel[d];
                            }
                            let mut off = Some(0);
                            for d in 0..nd {
                                let i = (o[d] * g.strides[d] + k[d] * g.dilations[d]) as i64
                                    - g.pads_begin[d] as i64;
                                if i < 0 || i >= g.input[d] as i64 {
                                    off = None;
                                    break;
                                }
                                off = off.map(|v| v + i as usize * ist[d]);
                            }
                            if let Some(off) = off {
                                s += x[(img * c + gi * cg + ic) * iprod + off]
                                    * w[(oc * cg + ic) * kprod + kf];
                            }
                        }
                    }
                    y[(img * m + oc) * oprod + of] = s;
                }
            }
        }
        y
    }

    /// f32 sums of up to ~300 products of values in [-1, 1].
    const CONV_F32_TOL: f64 = 1e-4;
    const CONV_F64_TOL: f64 = 1e-11;

    #[test]
    fn conv_matches_direct() {
        // (input spatial, kernel, strides, dilations, pads, auto_pad, n, c, m, group)
        type Case = (
            Vec<usize>,
            Vec<usize>,
            Vec<i64>,
            Vec<i64>,
            Vec<i64>,
            AutoPad,
            usize,
            usize,
            usize,
            usize,
        );
        let cases: Vec<Case> = vec![
            // a batch of more images than threads: one image per task
            (
                vec![9, 10],
                vec![3, 3],
                vec![1, 1],
                vec![1, 1],
                vec![1, 1, 1, 1],
                AutoPad::NotSet,
                5,
                8,
                8,
                2,
            ),
            (
                vec![33],
                vec![3],
                vec![1],
                vec![1],
                vec![1, 1],
                AutoPad::NotSet,
                2,
                3,
                4,
                1,
            ),
            (
                vec![32],
                vec![5],
                vec![2],
                vec![2],
                vec![0, 3],
                AutoPad::NotSet,
                1,
                4,
                4,
                2,
            ),
            (
                vec![7, 31],
                vec![3, 3],
                vec![1, 1],
                vec![1, 1],
                vec![1, 1, 1, 1],
                AutoPad::NotSet,
                1,
                3,
                5,
                1,
            ),
            (
                vec![9, 8],
                vec![3, 2],
                vec![2, 3],
                vec![2, 1],
                vec![2, 0, 1, 1],
                AutoPad::NotSet,
                2,
                4,
                6,
                2,
            ),
            (
                vec![12, 11],
                vec![3, 3],
                vec![2, 2],
                vec![1, 1],
                vec![0; 4],
                AutoPad::SameUpper,
                1,
                6,
                6,
                6,
            ),
            (
                vec![10, 10],
                vec![3, 3],
                vec![1, 1],
                vec![1, 1],
                vec![0; 4],
                AutoPad::SameLower,
                1,
                4,
                8,
                4,
            ),
            (
                vec![16, 17],
                vec![1, 1],
                vec![1, 1],
                vec![1, 1],
                vec![0; 4],
                AutoPad::NotSet,
                2,
                33,
                31,
                1,
            ),
            (
                vec![16, 17],
                vec![1, 1],
                vec![2, 2],
                vec![1, 1],
                vec![0; 4],
                AutoPad::NotSet,
                1,
                8,
                4,
                2,
            ),
            (
                vec![5, 6, 7],
                vec![3, 2, 3],
                vec![1, 2, 1],
                vec![1, 1, 2],
                vec![1, 0, 1, 1, 1, 0],
                AutoPad::NotSet,
                1,
                2,
                3,
                1,
            ),
            (
                vec![4, 4, 4],
                vec![2, 2, 2],
                vec![1, 1, 1],
                vec![1, 1, 1],
                vec![0; 6],
                AutoPad::Valid,
                2,
                4,
                2,
                2,
            ),
            (
                vec![64, 64],
                vec![3, 3],
                vec![1, 1],
                vec![1, 1],
                vec![1, 1, 1, 1],
                AutoPad::NotSet,
                1,
                32,
                32,
                32,
            ),
            (
                vec![40, 40],
                vec![3, 3],
                vec![2, 2],
                vec![1, 1],
                vec![1, 1, 1, 1],
                AutoPad::NotSet,
                1,
                16,
                32,
                1,
            ),
        ];
        for (i, (sp, k, s, d, p, ap, n, c, m, group)) in cases.into_iter().enumerate() {
            let wa = WindowAttrs {
                kernel: None,
                strides: Some(s),
                pads: Some(p),
                dilations: Some(d),
                auto_pad: ap,
                ceil_mode: false,
            };
            let xs: Vec<usize> = [n, c].into_iter().chain(sp.iter().copied()).collect();
            let ws: Vec<usize> = [m, c / group]
                .into_iter()
                .chain(k.iter().copied())
                .collect();
            let (_, _, _, g) = conv_geometry(&wa, group, &xs, &ws).unwrap();
            let x = rand_vec(numel(&xs), i as u64 * 3 + 1);
            let w = rand_vec(numel(&ws), i as u64 * 3 + 2);
            let b = rand_vec(m, i as u64 * 3 + 3);
            let bias = (i % 2 == 0).then_some(b.as_slice());
            let want = naive(&x, n, c, m, &g, &w, bias, group);
            let got = conv_raw(&x, n, c, m, &g, &w, bias, group, None);
            assert_eq!(got.len(), want.len());
            for (j, (a, e)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (a - e).abs() < CONV_F64_TOL,
                    "case {i} f64 at {j}: {a} vs {e}"
                );
            }
            let f = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<f32>>();
            let b32 = bias.map(f);
            let got = conv_raw(&f(&x), n, c, m, &g, &f(&w), b32.as_deref(), group, None);
            for (j, (a, e)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (*a as f64 - e).abs() < CONV_F32_TOL,
                    "case {i} f32 at {j}: {a} vs {e}"
                );
            }
        }
    }

    #[test]
    fn bad_shapes_are_errors() {
        let wa = WindowAttrs {
            kernel: None,
            strides: None,
            pads: None,
            dilations: None,
            auto_pad: AutoPad::NotSet,
            ceil_mode: false,
        };
        assert!(conv_geometry(&wa, 1, &[1, 3, 5, 5], &[2, 2, 3, 3]).is_err());
        assert!(conv_geometry(&wa, 2, &[1, 4, 5, 5], &[3, 2, 3, 3]).is_err());
        assert!(conv_geometry(&wa, 1, &[1, 3, 2, 2], &[2, 3, 3, 3]).is_err());
        assert!(conv_geometry(&wa, 1, &[1, 3, 5], &[2, 3, 3, 3]).is_err());
    }

    /// The convolutions of ResNet-50 at 224x224, batch 1: `cargo test -p smelt-ops --lib
    /// resnet50_convs -- --ignored --nocapture` prints the time.
    #[test]
    #[ignore]
    fn resnet50_convs() {
        // (in channels, out channels, kernel, stride, input size, repeats)
        let mut layers = vec![(3usize, 64usize, 7usize, 2usize, 224usize, 1usize)];
        for (i, (mid, out, size, blocks)) in [
            (64usize, 256usize, 56usize, 3usize),
            (128, 512, 28, 4),
            (256, 1024, 14, 6),
            (512, 2048, 7, 3),
        ]
        .into_iter()
        .enumerate()
        {
            let inc = if i == 0 { 64 } else { out / 2 };
            let s = if i == 0 { 1 } else { 2 };
            let in_size = size * s;
            layers.push((inc, mid, 1, 1, in_size, 1));
            layers.push((mid, mid, 3, s, in_size, 1));
            layers.push((mid, out, 1, 1, size, blocks));
            layers.push((inc, out, 1, s, in_size, 1));
            layers.push((out, mid, 1, 1, size, blocks - 1));
            layers.push((mid, mid, 3, 1, size, blocks - 1));
        }
        let start = std::time::Instant::now();
        let mut flops = 0.0;
        let mut im2col_t = 0.0;
        for (c, m, k, s, size, reps) in layers {
            let p = (k / 2) as i64;
            let wa = WindowAttrs {
                kernel: None,
                strides: Some(vec![s as i64; 2]),
                pads: Some(vec![p; 4]),
                dilations: None,
                auto_pad: AutoPad::NotSet,
                ceil_mode: false,
            };
            let (_, _, _, g) = conv_geometry(&wa, 1, &[1, c, size, size], &[m, c, k, k]).unwrap();
            let x: Vec<f32> = rand_vec(c * size * size, 1)
                .into_iter()
                .map(|v| v as f32)
                .collect();
            let w: Vec<f32> = rand_vec(m * c * k * k, 2)
                .into_iter()
                .map(|v| v as f32)
                .collect();
            let b = vec![0.5f32; m];
            if k > 1 || s > 1 {
                let t0 = std::time::Instant::now();
                let mut col = vec![0f32; c * k * k * g.output.iter().product::<usize>()];
                for _ in 0..reps {
                    super::im2col(&x, c, &g, 0.0, &mut col);
                }
                im2col_t += t0.elapsed().as_secs_f64();
            }
            for _ in 0..reps {
                let y = conv_raw(&x, 1, c, m, &g, &w, Some(&b), 1, None);
                assert_eq!(y.len(), m * g.output.iter().product::<usize>());
                flops += 2.0 * (m * c * k * k * g.output.iter().product::<usize>()) as f64;
            }
        }
        let t = start.elapsed().as_secs_f64();
        println!("im2col part: {:.3}s", im2col_t);
        println!(
            "resnet50 convs: {:.2} GFLOP in {t:.3}s ({:.1} GFLOP/s)",
            flops / 1e9,
            flops / 1e9 / t
        );
    }

    /// Depthwise 3x3 convolutions at OCR-detector sizes (ignored; prints the time).
    #[test]
    #[ignore]
    fn depthwise_timing() {
        for (c, size) in [(32usize, 320usize), (96, 80), (240, 40)] {
            let wa = WindowAttrs {
                kernel: None,
                strides: None,
                pads: Some(vec![1; 4]),
                dilations: None,
                auto_pad: AutoPad::NotSet,
                ceil_mode: false,
            };
            let (_, _, _, g) = conv_geometry(&wa, c, &[1, c, size, size], &[c, 1, 3, 3]).unwrap();
            let x: Vec<f32> = rand_vec(c * size * size, 1)
                .into_iter()
                .map(|v| v as f32)
                .collect();
            let w: Vec<f32> = rand_vec(c * 9, 2).into_iter().map(|v| v as f32).collect();
            let start = std::time::Instant::now();
            let y = conv_raw(&x, 1, c, c, &g, &w, None, c, None);
            println!(
                "depthwise c={c} {size}x{size}: {:.1} ms",
                start.elapsed().as_secs_f64() * 1e3
            );
            assert_eq!(y.len(), c * size * size);
        }
    }
}
