//! The scalar integer matmul and conv: the definitions the GEMM-based `int_matmul` and
//! `int_conv` are tested against (test builds only).

use super::common::{to_i32, ConvAttrs};
use crate::prelude::*;

/// Subtracts zero points: `x_zp` scalar; `w_zp` scalar or per output channel (w's dim 0).
pub fn centre(
    x: &Tensor,
    x_zp: Option<&Tensor>,
    w: &Tensor,
    w_zp: Option<&Tensor>,
) -> Result<(Vec<i32>, Vec<i32>)> {
    let mut xv = to_i32(x)?;
    let mut wv = to_i32(w)?;
    if let Some(z) = x_zp {
        let z = to_i32(z)?;
        ensure!(z.len() == 1, "x zero point must be a scalar");
        xv.iter_mut().for_each(|v| *v -= z[0]);
    }
    if let Some(z) = w_zp {
        let z = to_i32(z)?;
        let m = w.shape().first().copied().unwrap_or(0);
        let per = w.len().checked_div(m).unwrap_or(0);
        if z.len() == 1 {
            wv.iter_mut().for_each(|v| *v -= z[0]);
        } else {
            ensure!(z.len() == m, "w zero point has {} elements", z.len());
            for (i, v) in wv.iter_mut().enumerate() {
                *v -= z[i / per];
            }
        }
    }
    Ok((xv, wv))
}

/// Scalar batched integer matmul with numpy broadcasting of batch dims: a [..., M, K] (1-D a is
/// [K]), b [..., K, N] (1-D b is [K]); `a_zp` is scalar or per row of a (M entries),
/// `b_zp` scalar or per column of b (N entries). Returns the output shape and i32 values.
pub fn int_matmul_reference(
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

/// Scalar N-D grouped integer convolution, NC[spatial] input, M C/group [kernel] weights, with
/// zero points already subtracted (`x`, `w` hold centred values). `x_pad` is the value
/// padding stands for (0 after centring). Returns (output shape, i32 accumulators).
pub fn int_conv_reference(
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
    let ist = smelt_core::tensor::strides(&isp);
    let kst = smelt_core::tensor::strides(&kshape);
    let ost = smelt_core::tensor::strides(&osz);
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

/// The GEMM-based `int_matmul` / `int_conv` against the scalar definitions above, with each
/// kernel forced in turn.
#[cfg(test)]
mod tests {
    use super::super::common::{int_conv, int_matmul};
    use super::super::int_gemm::forced::each_isa;
    use super::*;

    /// xorshift bytes (never all zero).
    fn bytes(n: usize, seed: u64) -> Vec<u8> {
        let mut s = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 24) as u8
            })
            .collect()
    }

    /// A random u8 or i8 tensor.
    fn t8(shape: &[usize], signed: bool, seed: u64) -> Tensor {
        let b = bytes(numel(shape), seed);
        if signed {
            Tensor::from_vec(
                shape.to_vec(),
                b.iter().map(|&x| x as i8).collect::<Vec<_>>(),
            )
        } else {
            Tensor::from_vec(shape.to_vec(), b)
        }
        .unwrap()
    }

    const COMBOS: [(bool, bool); 4] = [(false, false), (false, true), (true, false), (true, true)];

    #[test]
    fn int_matmul_matches_reference() {
        let shapes: &[(&[usize], &[usize])] = &[
            (&[1, 1], &[1, 1]),
            (&[3, 17], &[17, 15]),
            (&[16, 33], &[33, 31]),
            (&[65, 64], &[64, 17]),
            (&[2, 33, 65], &[65, 16]),
            (&[2, 1, 17, 31], &[3, 31, 33]),
            (&[31], &[31, 3]),
            (&[5, 16], &[16]),
            (&[128, 384], &[384, 1536]),
        ];
        each_isa(|isa| {
            let mut seed = 0;
            for &(sa, sb) in &COMBOS {
                for &(ash, bsh) in shapes {
                    for per in [false, true] {
                        seed += 1;
                        let a = t8(ash, sa, seed);
                        let b = t8(bsh, sb, seed + 1000);
                        let m = if ash.len() == 1 {
                            1
                        } else {
                            ash[ash.len() - 2]
                        };
                        let n = if bsh.len() == 1 {
                            1
                        } else {
                            bsh[bsh.len() - 1]
                        };
                        let (za, zb) = if per {
                            (t8(&[m], sa, seed + 7), t8(&[n], sb, seed + 9))
                        } else {
                            (t8(&[], sa, seed + 7), t8(&[], sb, seed + 9))
                        };
                        let want = int_matmul_reference(&a, &b, Some(&za), Some(&zb)).unwrap();
                        let got = int_matmul(&a, &b, Some(&za), Some(&zb)).unwrap();
                        assert_eq!(
                            got, want,
                            "{isa:?} {ash:?} @ {bsh:?} signed {sa} {sb} per {per}"
                        );
                        if !per {
                            let want = int_matmul_reference(&a, &b, None, None).unwrap();
                            assert_eq!(int_matmul(&a, &b, None, None).unwrap(), want);
                        }
                    }
                }
            }
        });
    }

    #[test]
    fn int_matmul_bad_input_is_an_error() {
        let a = t8(&[3, 4], false, 1);
        let b = t8(&[5, 2], true, 2);
        assert!(int_matmul(&a, &b, None, None).is_err());
        let b = t8(&[4, 2], true, 2);
        assert!(int_matmul(&a, &b, Some(&t8(&[2], false, 3)), None).is_err());
        assert!(int_matmul(&a, &b, None, Some(&t8(&[3], true, 3))).is_err());
        let f = Tensor::from_vec(vec![4, 2], vec![0f32; 8]).unwrap();
        assert!(int_matmul(&a, &f, None, None).is_err());
    }

    /// (x shape, w shape, group, strides, dilations, pads)
    type ConvCase = (
        &'static [usize],
        &'static [usize],
        i64,
        &'static [i64],
        &'static [i64],
        &'static [i64],
    );

    #[test]
    fn int_conv_matches_reference() {
        let cases: &[ConvCase] = &[
            // 1x1, direct (no im2col), N over tile widths
            (&[2, 17, 5, 7], &[33, 17, 1, 1], 1, &[], &[], &[]),
            // 1x1 with stride and pads: im2col
            (
                &[1, 16, 9, 9],
                &[15, 16, 1, 1],
                1,
                &[2, 2],
                &[],
                &[1, 0, 0, 1],
            ),
            // 3x3 padded, K = 3 * 9 = 27
            (
                &[1, 3, 31, 33],
                &[16, 3, 3, 3],
                1,
                &[1, 1],
                &[1, 1],
                &[1, 1, 1, 1],
            ),
            // strides and dilations, groups
            (
                &[2, 6, 17, 15],
                &[9, 2, 3, 2],
                3,
                &[2, 1],
                &[1, 2],
                &[2, 0, 1, 2],
            ),
            // depthwise with a channel multiplier of 1 and 2
            (
                &[1, 8, 16, 17],
                &[8, 1, 3, 3],
                8,
                &[1, 1],
                &[],
                &[1, 1, 1, 1],
            ),
            (
                &[2, 4, 15, 15],
                &[8, 1, 3, 3],
                4,
                &[2, 2],
                &[],
                &[1, 1, 1, 1],
            ),
            // 1-D and 3-D
            (&[1, 5, 65], &[31, 5, 4], 1, &[3], &[2], &[2, 3]),
            (
                &[1, 4, 5, 6, 7],
                &[18, 2, 2, 3, 2],
                2,
                &[1, 2, 1],
                &[],
                &[0, 1, 1, 1, 0, 0],
            ),
            // large enough for threaded GEMM blocks and threaded items
            (
                &[1, 64, 28, 28],
                &[64, 64, 3, 3],
                1,
                &[],
                &[],
                &[1, 1, 1, 1],
            ),
            (
                &[4, 32, 24, 24],
                &[32, 1, 3, 3],
                32,
                &[],
                &[],
                &[1, 1, 1, 1],
            ),
        ];
        each_isa(|isa| {
            let mut seed = 50;
            for &(sx, sw) in &COMBOS {
                for &(xs, ws, g, st, dil, pads) in cases {
                    for per in [false, true] {
                        seed += 1;
                        let attrs = Attributes::new()
                            .with("group", Attr::Int(g))
                            .with("strides", Attr::Ints(st.to_vec()))
                            .with("dilations", Attr::Ints(dil.to_vec()))
                            .with("pads", Attr::Ints(pads.to_vec()));
                        let c = ConvAttrs::parse(&attrs).unwrap();
                        let x = t8(xs, sx, seed);
                        let w = t8(ws, sw, seed + 100);
                        let xz = t8(&[], sx, seed + 3);
                        let wz = if per {
                            t8(&[ws[0]], sw, seed + 4)
                        } else {
                            t8(&[], sw, seed + 4)
                        };
                        let (xv, wv) = centre(&x, Some(&xz), &w, Some(&wz)).unwrap();
                        let want = int_conv_reference(&xv, xs, &wv, ws, &c)
                            .unwrap_or_else(|e| panic!("{xs:?} {ws:?}: {e}"));
                        let got = int_conv(&x, Some(&xz), &w, Some(&wz), &c).unwrap();
                        assert_eq!(
                            got, want,
                            "{isa:?} x {xs:?} w {ws:?} g {g} signed {sx} {sw} per {per}"
                        );
                    }
                }
            }
        });
    }
}
