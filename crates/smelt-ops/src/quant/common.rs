//! Shared by the quantize ops: mapping each element of `x` to its scale / zero-point entry for
//! per-tensor, per-axis and blocked quantization; integer conv / matmul kernels with i32
//! accumulation.

use crate::prelude::*;

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

/// Products of at least this many multiply-adds go through the f64 GEMM.
const GEMM_THRESHOLD: usize = 1 << 15;

/// Batched integer matmul with numpy broadcasting of batch dims: a [..., M, K] (1-D a is
/// [K]), b [..., K, N] (1-D b is [K]); `a_zp` is scalar or per row of a (M entries),
/// `b_zp` scalar or per column of b (N entries). Returns the output shape and i32 values.
pub fn int_matmul(
    a: &Tensor,
    b: &Tensor,
    a_zp: Option<&Tensor>,
    b_zp: Option<&Tensor>,
) -> Result<(Vec<usize>, Vec<i32>)> {
    let (av, bv) = (to_i32(a)?, to_i32(b)?);
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
    let zp = |t: Option<&Tensor>, len: usize, what: &str| -> Result<Vec<i32>> {
        match t {
            None => Ok(vec![0; len]),
            Some(t) => {
                let v = to_i32(t)?;
                if v.len() == 1 {
                    Ok(vec![v[0]; len])
                } else if v.len() == len {
                    Ok(v)
                } else {
                    bail!(
                        "{what} zero point has {} elements, expected 1 or {len}",
                        v.len()
                    )
                }
            }
        }
    };
    let azp = zp(a_zp, m, "a")?;
    let bzp = zp(b_zp, n, "b")?;
    let ab = &a_shape[..a_shape.len() - 2];
    let bb = &b_shape[..b_shape.len() - 2];
    let batch = broadcast_shapes(&[ab, bb])?;
    let nbatch = numel(&batch);
    let sa = broadcast_strides(ab, &batch);
    let sb = broadcast_strides(bb, &batch);
    let mut out = vec![0i32; nbatch * m * n];
    if m * n * k >= GEMM_THRESHOLD {
        // Zero-point-shifted 8-bit operands are exact in f64, and so is every partial sum
        // (|term| <= 2^18, k < 2^35), so the f64 GEMM gives the exact integer result.
        let (mut af, mut bf, mut cf) = (vec![0f64; m * k], vec![0f64; k * n], vec![0f64; m * n]);
        for_each_broadcast(&batch, &[sa, sb], |o, offs| {
            let ap = &av[offs[0] * m * k..][..m * k];
            let bp = &bv[offs[1] * k * n..][..k * n];
            for i in 0..m {
                for p in 0..k {
                    af[i * k + p] = (ap[i * k + p] - azp[i]) as f64;
                }
            }
            for p in 0..k {
                for j in 0..n {
                    bf[p * n + j] = (bp[p * n + j] - bzp[j]) as f64;
                }
            }
            crate::linalg::blas::dgemm(
                m,
                n,
                k,
                &af,
                crate::linalg::blas::row_major(k),
                &bf,
                crate::linalg::blas::row_major(n),
                &mut cf,
                n,
                1.0,
                0.0,
            );
            for (o, c) in out[o * m * n..][..m * n].iter_mut().zip(&cf) {
                *o = *c as i64 as i32;
            }
        });
    } else {
        let mut bcol = vec![0i32; k];
        for_each_broadcast(&batch, &[sa, sb], |o, offs| {
            let ap = &av[offs[0] * m * k..][..m * k];
            let bp = &bv[offs[1] * k * n..][..k * n];
            let op = &mut out[o * m * n..][..m * n];
            for j in 0..n {
                for (p, c) in bcol.iter_mut().enumerate() {
                    *c = bp[p * n + j] - bzp[j];
                }
                for i in 0..m {
                    let row = &ap[i * k..][..k];
                    let z = azp[i];
                    let mut acc = 0i32;
                    for (x, y) in row.iter().zip(&bcol) {
                        acc = acc.wrapping_add((x - z).wrapping_mul(*y));
                    }
                    op[i * n + j] = acc;
                }
            }
        });
    }
    if nbatch == 0 {
        out.clear();
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

/// N-D grouped integer convolution, NC[spatial] input, M C/group [kernel] weights, with
/// zero points already subtracted (`x`, `w` hold centred values). `x_pad` is the value
/// padding stands for (0 after centring). Returns (output shape, i32 accumulators).
pub fn int_conv(
    x: &[i32],
    xs: &[usize],
    w: &[i32],
    ws: &[usize],
    c: &ConvAttrs,
) -> Result<(Vec<usize>, Vec<i32>)> {
    ensure!(
        xs.len() >= 3 && ws.len() == xs.len(),
        "conv needs x [N,C,...] and w of the same rank (x {xs:?}, w {ws:?})"
    );
    let nsp = xs.len() - 2;
    let (n, ci) = (xs[0], xs[1]);
    let (m, cg) = (ws[0], ws[1]);
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
            c.kernel_shape
                .iter()
                .map(|&k| k as usize)
                .collect::<Vec<_>>()
                == kshape,
            "kernel_shape {:?} != w spatial {kshape:?}",
            c.kernel_shape
        );
    }
    let get = |v: &[i64], d: i64| -> Result<Vec<usize>> {
        if v.is_empty() {
            return Ok(vec![d as usize; nsp]);
        }
        ensure!(
            v.len() == nsp && v.iter().all(|&x| x >= 1),
            "bad strides / dilations {v:?} for {nsp} spatial dims"
        );
        Ok(v.iter().map(|&x| x as usize).collect())
    };
    let strides = get(&c.strides, 1)?;
    let dil = get(&c.dilations, 1)?;
    let mut pb = vec![0i64; nsp];
    let mut pe = vec![0i64; nsp];
    let mut osz = vec![0usize; nsp];
    for d in 0..nsp {
        let isz = xs[2 + d] as i64;
        let ek = (dil[d] * (kshape[d] - 1) + 1) as i64;
        let s = strides[d] as i64;
        match c.auto_pad.as_str() {
            "SAME_UPPER" | "SAME_LOWER" => {
                let o = (isz + s - 1) / s;
                let total = ((o - 1) * s + ek - isz).max(0);
                if c.auto_pad == "SAME_UPPER" {
                    pb[d] = total / 2;
                } else {
                    pb[d] = total - total / 2;
                }
                pe[d] = total - pb[d];
            }
            "VALID" => {}
            _ => {
                if !c.pads.is_empty() {
                    ensure!(
                        c.pads.len() == 2 * nsp && c.pads.iter().all(|&p| p >= 0),
                        "bad pads {:?}",
                        c.pads
                    );
                    pb[d] = c.pads[d];
                    pe[d] = c.pads[d + nsp];
                }
            }
        }
        let span = isz + pb[d] + pe[d] - ek;
        ensure!(
            span >= 0,
            "kernel larger than padded input on spatial dim {d}"
        );
        osz[d] = (span / s + 1) as usize;
    }
    let mut oshape = vec![n, m];
    oshape.extend(&osz);
    let on = numel(&osz);
    let kn = numel(&kshape);
    let isp: Vec<usize> = xs[2..].to_vec();
    let in_sp = numel(&isp);
    let ist = strides_of(&isp);
    let kst = strides_of(&kshape);
    let ost = strides_of(&osz);
    let mg = m / g;
    let mut out = vec![0i32; n * m * on];
    let mut opos = vec![0i64; nsp];
    for b in 0..n {
        for oc in 0..m {
            let gi = oc / mg;
            for o in 0..on {
                for d in 0..nsp {
                    opos[d] = ((o / ost[d]) % osz[d]) as i64 * strides[d] as i64 - pb[d];
                }
                let mut acc = 0i32;
                for cc in 0..cg {
                    let ch = gi * cg + cc;
                    let xb = &x[(b * ci + ch) * in_sp..][..in_sp];
                    let wb = &w[(oc * cg + cc) * kn..][..kn];
                    'k: for (kk, &wv) in wb.iter().enumerate() {
                        let mut off = 0usize;
                        for d in 0..nsp {
                            let p = opos[d] + (((kk / kst[d]) % kshape[d]) * dil[d]) as i64;
                            if p < 0 || p >= isp[d] as i64 {
                                continue 'k;
                            }
                            off += p as usize * ist[d];
                        }
                        acc = acc.wrapping_add(xb[off].wrapping_mul(wv));
                    }
                }
                out[(b * m + oc) * on + o] = acc;
            }
        }
    }
    Ok((oshape, out))
}

fn strides_of(s: &[usize]) -> Vec<usize> {
    strides(s)
}

#[cfg(test)]
mod gemm_path_tests {
    use super::*;

    /// The f64-GEMM path of `int_matmul` against a direct integer loop, on random u8 x i8
    /// operands with per-row / per-column zero points, sizes straddling 31/32/33.
    #[test]
    fn gemm_path_matches_integer_loop() {
        let mut state = 0x9E3779B97F4A7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for &(m, k, n) in &[(31, 34, 32), (33, 64, 31), (32, 384, 33), (2, 1024, 17)] {
            assert!(m * n * k >= GEMM_THRESHOLD);
            let a: Vec<u8> = (0..m * k).map(|_| next() as u8).collect();
            let b: Vec<i8> = (0..k * n).map(|_| next() as i8).collect();
            let azp: Vec<u8> = (0..m).map(|_| next() as u8).collect();
            let bzp: Vec<i8> = (0..n).map(|_| next() as i8).collect();
            let ta = Tensor::from_vec(vec![m, k], a.clone()).unwrap();
            let tb = Tensor::from_vec(vec![k, n], b.clone()).unwrap();
            let tazp = Tensor::from_vec(vec![m], azp.clone()).unwrap();
            let tbzp = Tensor::from_vec(vec![n], bzp.clone()).unwrap();
            let (shape, got) = int_matmul(&ta, &tb, Some(&tazp), Some(&tbzp)).unwrap();
            assert_eq!(shape, vec![m, n]);
            for i in 0..m {
                for j in 0..n {
                    let want: i32 = (0..k)
                        .map(|p| {
                            (a[i * k + p] as i32 - azp[i] as i32)
                                * (b[p * n + j] as i32 - bzp[j] as i32)
                        })
                        .sum();
                    assert_eq!(got[i * n + j], want, "({m},{k},{n}) at [{i},{j}]");
                }
            }
        }
    }
}
