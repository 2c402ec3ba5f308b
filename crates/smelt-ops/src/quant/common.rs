//! Shared by the quantize ops: mapping each element of `x` to its scale / zero-point entry for
//! per-tensor, per-axis and blocked quantization; integer conv and matmul (shapes, zero
//! points, broadcasting, im2col) on the integer GEMM of `int_gemm`.

use super::int_gemm::{gemm, QMat};
use crate::nn::im2col::im2col;
use crate::nn::spatial::Geometry;
use crate::prelude::*;
use rayon::prelude::*;

/// How scale / zero point broadcast over `x`.
#[derive(Clone, Debug)]
pub struct ParamMap {
    /// Elements of x before the axis, along it, and after it.
    outer: usize,
    dim: usize,
    inner: usize,
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    Tensor,
    Axis,
    /// Blocks along the axis: block size and number of blocks.
    Block(usize, usize),
}

impl ParamMap {
    /// Validates a scale (or zero point) of shape `p` against `x`:
    /// scalar or one element → per tensor; 1-D of `x.shape[axis]` → per axis (block_size 0);
    /// same rank as x with `ceil(x.shape[axis] / block_size)` on the axis → blocked.
    pub fn new(x: &[usize], p: &[usize], axis: i64, block_size: i64) -> Result<ParamMap> {
        let np = numel(p);
        if np == 1 && (p.len() <= 1 || block_size <= 0) {
            return Ok(ParamMap {
                outer: 1,
                dim: numel(x),
                inner: 1,
                kind: Kind::Tensor,
            });
        }
        let ax = norm_axis(axis, x.len())?;
        let outer = numel(&x[..ax]);
        let dim = x[ax];
        let inner = numel(&x[ax + 1..]);
        if block_size <= 0 {
            ensure!(p.len() == 1 && p[0] == dim, "scale / zero point shape {p:?} is neither scalar nor 1-D of x.shape[{ax}] = {dim} (x {x:?})");
            return Ok(ParamMap {
                outer,
                dim,
                inner,
                kind: Kind::Axis,
            });
        }
        let bs = block_size as usize;
        let nb = dim.div_ceil(bs);
        ensure!(
            p.len() == x.len(),
            "blocked scale rank {} != x rank {}",
            p.len(),
            x.len()
        );
        for (i, (&a, &b)) in x.iter().zip(p).enumerate() {
            let want = if i == ax { nb } else { a };
            ensure!(
                b == want,
                "blocked scale shape {p:?} does not fit x {x:?} with block_size {bs} on axis {ax}"
            );
        }
        Ok(ParamMap {
            outer,
            dim,
            inner,
            kind: Kind::Block(bs, nb),
        })
    }

    /// Index into the parameter for flat element `i` of x.
    #[inline]
    pub fn index(&self, i: usize) -> usize {
        match self.kind {
            Kind::Tensor => 0,
            Kind::Axis => (i / self.inner) % self.dim,
            Kind::Block(bs, nb) => {
                let o = i / (self.dim * self.inner);
                let a = (i / self.inner) % self.dim;
                let r = i % self.inner;
                (o * nb + a / bs) * self.inner + r
            }
        }
    }

    /// The map as plain numbers for a device kernel: (kind: 0 per tensor, 1 per axis,
    /// 2 blocked; dim; inner; block size; number of blocks), with `index` computed as above.
    pub fn layout(&self) -> (u8, usize, usize, usize, usize) {
        match self.kind {
            Kind::Tensor => (0, self.dim, self.inner, 0, 0),
            Kind::Axis => (1, self.dim, self.inner, 0, 0),
            Kind::Block(bs, nb) => (2, self.dim, self.inner, bs, nb),
        }
    }

    #[allow(dead_code)]
    pub fn outer(&self) -> usize {
        self.outer
    }
}

/// Integer tensor as i32 values (u8 / i8 / u16 / i16 / i32 / low-bit ints).
pub fn to_i32(t: &Tensor) -> Result<Vec<i32>> {
    Ok(match t.dtype() {
        DType::U8 | DType::U4 => t.as_slice::<u8>()?.iter().map(|&v| v as i32).collect(),
        DType::I8 | DType::I4 => t.as_slice::<i8>()?.iter().map(|&v| v as i32).collect(),
        DType::U16 => t.as_slice::<u16>()?.iter().map(|&v| v as i32).collect(),
        DType::I16 => t.as_slice::<i16>()?.iter().map(|&v| v as i32).collect(),
        DType::I32 => t.as_slice::<i32>()?.to_vec(),
        d => return Err(Error::dtype(d, "integer quantized input")),
    })
}

/// An 8-bit tensor's bytes and whether they hold i8 (else u8).
pub fn bytes8<'a>(t: &'a Tensor, what: &str) -> Result<(&'a [u8], bool)> {
    match t.dtype() {
        DType::U8 => Ok((t.as_slice::<u8>()?, false)),
        DType::I8 => Ok((bytemuck::cast_slice(t.as_slice::<i8>()?), true)),
        d => Err(Error::dtype(d, what)),
    }
}

/// A zero point as i32: absent → `[0]`, else 1 or `len` entries.
fn zero_point(t: Option<&Tensor>, len: usize, what: &str) -> Result<Vec<i32>> {
    let Some(t) = t else { return Ok(vec![0]) };
    let v = to_i32(t)?;
    ensure!(
        v.len() == 1 || v.len() == len,
        "{what} zero point has {} elements, expected 1 or {len}",
        v.len()
    );
    Ok(v)
}

/// Batched integer matmul with numpy broadcasting of batch dims: a [..., M, K] (1-D a is
/// [K]), b [..., K, N] (1-D b is [K]), both u8 / i8; `a_zp` is scalar or per row of a
/// (M entries), `b_zp` scalar or per column of b (N entries). Returns the output shape and
/// i32 values. A 2-D (or 1-D) b folds a's batch dims into M: one GEMM call.
pub fn int_matmul(
    a: &Tensor,
    b: &Tensor,
    a_zp: Option<&Tensor>,
    b_zp: Option<&Tensor>,
) -> Result<(Vec<usize>, Vec<i32>)> {
    let (ad, a_signed) = bytes8(a, "integer matmul A (u8 / i8)")?;
    let (bd, b_signed) = bytes8(b, "integer matmul B (u8 / i8)")?;
    ensure!(
        a.rank() >= 1 && b.rank() >= 1,
        "matmul inputs must have rank >= 1 (got {:?} and {:?})",
        a.shape(),
        b.shape()
    );
    let a_shape: Vec<usize> = if a.rank() == 1 {
        vec![1, a.shape()[0]]
    } else {
        a.shape().to_vec()
    };
    let b_shape: Vec<usize> = if b.rank() == 1 {
        vec![b.shape()[0], 1]
    } else {
        b.shape().to_vec()
    };
    let (m, k) = (a_shape[a_shape.len() - 2], a_shape[a_shape.len() - 1]);
    let (k2, n) = (b_shape[b_shape.len() - 2], b_shape[b_shape.len() - 1]);
    ensure!(
        k == k2,
        "matmul inner dims differ: a {:?}, b {:?}",
        a.shape(),
        b.shape()
    );
    let azp = zero_point(a_zp, m, "a")?;
    let bzp = zero_point(b_zp, n, "b")?;
    let ab = &a_shape[..a_shape.len() - 2];
    let bb = &b_shape[..b_shape.len() - 2];
    let batch = broadcast_shapes(&[ab, bb])?;
    let nbatch = numel(&batch);
    let mut out = vec![0i32; nbatch * m * n];
    if bb.is_empty() {
        // a [batch * M, K] @ b [K, N]; per-row zero points repeat per batch
        let rows = nbatch * m;
        let azp: Vec<i32> = if azp.len() == 1 {
            azp
        } else {
            azp.iter().copied().cycle().take(rows).collect()
        };
        let qa = QMat::new(ad, a_signed, rows, k, k)?;
        let qb = QMat::new(bd, b_signed, k, n, n)?;
        gemm(qa, &azp, qb, &bzp, &mut out, n)?;
    } else {
        let sa = broadcast_strides(ab, &batch);
        let sb = broadcast_strides(bb, &batch);
        let mut offsets = Vec::with_capacity(nbatch);
        for_each_broadcast(&batch, &[sa, sb], |o, offs| {
            offsets.push((o, offs[0], offs[1]))
        });
        for (o, pa, pb) in offsets {
            let qa = QMat::new(&ad[pa * m * k..], a_signed, m, k, k)?;
            let qb = QMat::new(&bd[pb * k * n..], b_signed, k, n, n)?;
            gemm(qa, &azp, qb, &bzp, &mut out[o * m * n..][..m * n], n)?;
        }
    }
    let mut shape = batch;
    if a.rank() > 1 {
        shape.push(m);
    }
    if b.rank() > 1 {
        shape.push(n);
    }
    Ok((shape, out))
}

/// Conv attributes (shared by ConvInteger and QLinearConv).
#[derive(Clone, Debug)]
pub struct ConvAttrs {
    pub auto_pad: String,
    pub dilations: Vec<i64>,
    pub group: i64,
    pub kernel_shape: Vec<i64>,
    pub pads: Vec<i64>,
    pub strides: Vec<i64>,
}

impl ConvAttrs {
    pub fn parse(a: &Attributes) -> Result<ConvAttrs> {
        let c = ConvAttrs {
            auto_pad: a.string_or("auto_pad", "NOTSET".into())?,
            dilations: a.ints_or("dilations", vec![])?,
            group: a.int_or("group", 1)?,
            kernel_shape: a.ints_or("kernel_shape", vec![])?,
            pads: a.ints_or("pads", vec![])?,
            strides: a.ints_or("strides", vec![])?,
        };
        ensure!(c.group >= 1, "group must be >= 1, got {}", c.group);
        ensure!(
            ["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"].contains(&c.auto_pad.as_str()),
            "bad auto_pad '{}'",
            c.auto_pad
        );
        Ok(c)
    }
}

/// The window geometry of an integer conv of x `[N, C, spatial...]` by w
/// `[M, C / group, kernel...]`, checking channels, group and attributes.
pub fn conv_geometry(xs: &[usize], ws: &[usize], c: &ConvAttrs) -> Result<Geometry> {
    ensure!(
        xs.len() >= 3 && ws.len() == xs.len(),
        "conv needs x [N,C,...] and w of the same rank (x {xs:?}, w {ws:?})"
    );
    let nsp = xs.len() - 2;
    let (ci, m, cg) = (xs[1], ws[0], ws[1]);
    let g = c.group as usize;
    ensure!(
        ci == cg * g,
        "x channels {ci} != w channels {cg} * group {g}"
    );
    ensure!(m % g == 0, "output channels {m} not divisible by group {g}");
    let kshape: Vec<usize> = ws[2..].to_vec();
    ensure!(
        kshape.iter().all(|&k| k >= 1),
        "kernel dims must be >= 1, got {kshape:?}"
    );
    if !c.kernel_shape.is_empty() {
        ensure!(
            c.kernel_shape.len() == nsp
                && c.kernel_shape
                    .iter()
                    .zip(&kshape)
                    .all(|(&a, &b)| a == b as i64),
            "kernel_shape {:?} != w spatial {kshape:?}",
            c.kernel_shape
        );
    }
    let get = |v: &[i64]| -> Result<Vec<usize>> {
        if v.is_empty() {
            return Ok(vec![1; nsp]);
        }
        ensure!(
            v.len() == nsp && v.iter().all(|&x| (1..=i32::MAX as i64).contains(&x)),
            "bad strides / dilations {v:?} for {nsp} spatial dims"
        );
        Ok(v.iter().map(|&x| x as usize).collect())
    };
    let strides = get(&c.strides)?;
    let dil = get(&c.dilations)?;
    let mut pb = vec![0usize; nsp];
    let mut pe = vec![0usize; nsp];
    let mut osz = vec![0usize; nsp];
    for d in 0..nsp {
        let too_big = || Error::shape(format!("conv spatial dim {d} is too large"));
        let isz = i64::try_from(xs[2 + d]).map_err(|_| too_big())?;
        let ek = (kshape[d] - 1)
            .checked_mul(dil[d])
            .and_then(|x| x.checked_add(1))
            .and_then(|x| i64::try_from(x).ok())
            .ok_or_else(too_big)?;
        let s = strides[d] as i64;
        let (b, e) = match c.auto_pad.as_str() {
            "SAME_UPPER" | "SAME_LOWER" => {
                let o = (isz + s - 1) / s;
                let total = ((o - 1).max(0) * s + ek - isz).max(0);
                let small = total / 2;
                if c.auto_pad == "SAME_UPPER" {
                    (small, total - small)
                } else {
                    (total - small, small)
                }
            }
            "VALID" => (0, 0),
            _ if c.pads.is_empty() => (0, 0),
            _ => {
                ensure!(
                    c.pads.len() == 2 * nsp
                        && c.pads.iter().all(|&p| (0..=i32::MAX as i64).contains(&p)),
                    "bad pads {:?}",
                    c.pads
                );
                (c.pads[d], c.pads[d + nsp])
            }
        };
        let span = isz + b + e - ek;
        ensure!(
            span >= 0,
            "kernel larger than padded input on spatial dim {d}"
        );
        (pb[d], pe[d], osz[d]) = (b as usize, e as usize, (span / s + 1) as usize);
    }
    Ok(Geometry {
        input: xs[2..].to_vec(),
        output: osz,
        kernel: kshape,
        strides,
        dilations: dil,
        pads_begin: pb,
        pads_end: pe,
    })
}

/// N-D grouped integer convolution: x `[N, C, spatial...]` and w `[M, C / group, kernel...]`
/// (each u8 / i8), `y = conv(x - x_zp, w - w_zp)` with `x_zp` scalar and `w_zp` scalar or per
/// output channel; padding stands for `x_zp` (zero after centring). Per image and group, one
/// GEMM `w_g [M / group, C / group * prod(kernel)] @ columns [.., prod(output)]` (the columns
/// are x itself for an unpadded 1x1 stride-1 kernel, else its im2col). Returns the output
/// shape `[N, M, output...]` and the i32 accumulators.
pub fn int_conv(
    x: &Tensor,
    x_zp: Option<&Tensor>,
    w: &Tensor,
    w_zp: Option<&Tensor>,
    c: &ConvAttrs,
) -> Result<(Vec<usize>, Vec<i32>)> {
    let (xd, x_signed) = bytes8(x, "integer conv x (u8 / i8)")?;
    let (wd, w_signed) = bytes8(w, "integer conv w (u8 / i8)")?;
    let (xs, ws) = (x.shape(), w.shape());
    let geo = conv_geometry(xs, ws, c)?;
    let (n, ci, m, cg) = (xs[0], xs[1], ws[0], ws[1]);
    let g = c.group as usize;
    let mg = m / g;
    let xz = zero_point(x_zp, 1, "x")?[0];
    let wz = zero_point(w_zp, m, "w")?;
    let (lo, hi) = if x_signed { (-128, 127) } else { (0, 255) };
    ensure!(
        (lo..=hi).contains(&xz),
        "x zero point {xz} is outside the range of x's type"
    );
    let pad = xz as u8;
    let in_sp = numel(&geo.input);
    let on = numel(&geo.output);
    let kdim = cg * numel(&geo.kernel);
    let mut oshape = vec![n, m];
    oshape.extend(&geo.output);
    let mut out = vec![0i32; n * m * on];
    if out.is_empty() {
        return Ok((oshape, out));
    }
    let direct = geo.kernel.iter().all(|&k| k == 1)
        && geo.strides.iter().all(|&s| s == 1)
        && geo.pads_begin.iter().chain(&geo.pads_end).all(|&p| p == 0);
    // one (image, group) item: its output rows are the chunk `dst` of mg * on values
    let item = |idx: usize, dst: &mut [i32]| -> Result<()> {
        let (b, gi) = (idx / g, idx % g);
        let xg = &xd[(b * ci + gi * cg) * in_sp..][..cg * in_sp];
        let qw = QMat::new(&wd[gi * mg * kdim..], w_signed, mg, kdim, kdim)?;
        let za = if wz.len() == 1 {
            &wz[..]
        } else {
            &wz[gi * mg..][..mg]
        };
        if direct {
            let qx = QMat::new(xg, x_signed, cg, on, on)?;
            gemm(qw, za, qx, &[xz], dst, on)
        } else {
            let mut col = vec![0u8; kdim * on];
            im2col(xg, cg, &geo, pad, &mut col);
            let qx = QMat::new(&col, x_signed, kdim, on, on)?;
            gemm(qw, za, qx, &[xz], dst, on)
        }
    };
    let items = n * g;
    let macs = mg.saturating_mul(kdim).saturating_mul(on);
    let threads = rayon::current_num_threads();
    // many small items (grouped / depthwise convs, batches): one item per task; else the
    // GEMM of each item spreads over the threads itself
    if threads > 1 && items >= 2 * threads && macs < PAR_ITEM_MACS {
        out.par_chunks_mut(mg * on)
            .enumerate()
            .try_for_each(|(i, dst)| item(i, dst))?;
    } else {
        for (i, dst) in out.chunks_mut(mg * on).enumerate() {
            item(i, dst)?;
        }
    }
    Ok((oshape, out))
}

/// Multiply-adds per (image, group) under which a conv runs its items in parallel.
const PAR_ITEM_MACS: usize = 1 << 22;
