//! DFT (opset 17/20): discrete Fourier transform along one signal axis.
//!
//! X: [batch..., signal..., C] with C = 1 (real) or 2 (complex as (re, im)). The transform
//! runs along `axis` (opset 17-19: attribute, default 1; opset 20: input #2, default -2;
//! negative counts from the back of X's full rank, must name a non-last dim).
//! `dft_length` (input #1) zero-pads or truncates the signal to that length (default: the
//! axis length, or 2·(len−1) for a one-sided inverse).
//! Forward: output C = 2, axis length n, or n/2+1 with `onesided`.
//! Inverse (scaled by 1/n): output C = 2; with `onesided` the input is a half spectrum and the
//! output is the real signal (C = 1, length n), as numpy's irfft.

use crate::prelude::*;
use crate::signal::{ensure_float, from_f64};

#[derive(Debug)]
pub struct Dft {
    /// Axis from the attribute (opset < 20); `None`: read input #2 (default -2).
    axis_attr: Option<i64>,
    inverse: bool,
    onesided: bool,
}

/// DFT's axis from the attribute before opset 20 (default 1); None from 20, where it is
/// input 2 (default -2).
pub fn axis_attr(opset: i64, attrs: &crate::prelude::Attributes) -> Result<Option<i64>> {
    Ok(if opset < 20 {
        Some(attrs.int_or("axis", 1)?)
    } else {
        None
    })
}

pub fn register(r: &mut Registry) {
    r.register("", "DFT", |c| {
        let axis_attr = axis_attr(c.opset, c.attrs)?;
        Ok(Box::new(Dft {
            axis_attr,
            inverse: c.attrs.int_or("inverse", 0)? != 0,
            onesided: c.attrs.int_or("onesided", 0)? != 0,
        }))
    });
}

/// In-place complex DFT of `re`/`im` (same length n): radix-2 FFT when n is a power of two,
/// the direct O(n²) sum otherwise. `inverse` uses e^{+i…} and scales by 1/n.
pub(crate) fn dft_inplace(re: &mut [f64], im: &mut [f64], inverse: bool) {
    let n = re.len();
    if n <= 1 {
        return;
    }
    let sign = if inverse { 1.0 } else { -1.0 };
    if n.is_power_of_two() {
        // bit-reversal permutation
        let mut j = 0;
        for i in 1..n {
            let mut bit = n >> 1;
            while j & bit != 0 {
                j ^= bit;
                bit >>= 1;
            }
            j |= bit;
            if i < j {
                re.swap(i, j);
                im.swap(i, j);
            }
        }
        let mut len = 2;
        while len <= n {
            let ang = sign * 2.0 * std::f64::consts::PI / len as f64;
            for start in (0..n).step_by(len) {
                for k in 0..len / 2 {
                    let (wr, wi) = ((ang * k as f64).cos(), (ang * k as f64).sin());
                    let (a, b) = (start + k, start + k + len / 2);
                    let (xr, xi) = (re[b] * wr - im[b] * wi, re[b] * wi + im[b] * wr);
                    re[b] = re[a] - xr;
                    im[b] = im[a] - xi;
                    re[a] += xr;
                    im[a] += xi;
                }
            }
            len <<= 1;
        }
    } else {
        let (r0, i0) = (re.to_vec(), im.to_vec());
        for k in 0..n {
            let (mut sr, mut si) = (0.0, 0.0);
            for t in 0..n {
                // (k·t mod n) keeps the angle small and exact
                let ang = sign * 2.0 * std::f64::consts::PI * ((k * t) % n) as f64 / n as f64;
                let (c, s) = (ang.cos(), ang.sin());
                sr += r0[t] * c - i0[t] * s;
                si += r0[t] * s + i0[t] * c;
            }
            re[k] = sr;
            im[k] = si;
        }
    }
    if inverse {
        let f = 1.0 / n as f64;
        re.iter_mut().chain(im.iter_mut()).for_each(|x| *x *= f);
    }
}

/// Reads a scalar integer input such as `dft_length` or `axis`.
pub(crate) fn scalar_i64(t: &Tensor, what: &str) -> Result<i64> {
    let v = t.to_i64_vec()?;
    ensure!(
        v.len() == 1,
        "{what} must be a scalar, got shape {:?}",
        t.shape()
    );
    Ok(v[0])
}

impl Op for Dft {
    fn op_type(&self) -> &str {
        "DFT"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        ensure_float(x, "DFT input")?;
        let sh = x.shape().to_vec();
        let rank = sh.len();
        ensure!(
            rank >= 2,
            "DFT: input needs a signal dim and a trailing complex dim, got {sh:?}"
        );
        let c = sh[rank - 1];
        ensure!(
            c == 1 || c == 2,
            "DFT: last dim must be 1 (real) or 2 (complex), got {c}"
        );
        let axis = match (self.axis_attr, opt(&inputs, 2)) {
            (Some(a), _) => a,
            (None, Some(t)) => scalar_i64(t, "DFT axis")?,
            (None, None) => -2,
        };
        let a = if axis < 0 { axis + rank as i64 } else { axis };
        ensure!(
            a >= 0 && a < rank as i64 - 1,
            "DFT: axis {axis} out of range for input rank {rank}"
        );
        let axis = a as usize;
        let in_len = sh[axis];
        let n = match opt(&inputs, 1) {
            Some(t) => {
                let n = scalar_i64(t, "DFT dft_length")?;
                ensure!(n >= 1, "DFT: dft_length must be positive, got {n}");
                n as usize
            }
            None if self.inverse && self.onesided => 2 * in_len.saturating_sub(1),
            None => in_len,
        };
        ensure!(n >= 1, "DFT: transform length is 0");
        let real_out = self.inverse && self.onesided;
        let out_len = if real_out || !self.onesided {
            n
        } else {
            n / 2 + 1
        };
        let out_c = if real_out { 1 } else { 2 };
        let outer: usize = sh[..axis].iter().product();
        let inner: usize = sh[axis + 1..rank - 1].iter().product();
        let xv = x.to_f64_vec()?;
        let mut out = vec![0.0f64; outer * out_len * inner * out_c];
        let (mut re, mut im) = (vec![0.0; n], vec![0.0; n]);
        for o in 0..outer {
            for i in 0..inner {
                re.iter_mut().chain(im.iter_mut()).for_each(|v| *v = 0.0);
                let at = |t: usize, part: usize| xv[((o * in_len + t) * inner + i) * c + part];
                if real_out {
                    // Hermitian extension of the half spectrum X[0..=n/2]
                    let h = (n / 2 + 1).min(in_len);
                    for k in 0..h {
                        re[k] = at(k, 0);
                        im[k] = if c == 2 { at(k, 1) } else { 0.0 };
                    }
                    for k in 1..n.div_ceil(2) {
                        if k < h {
                            re[n - k] = re[k];
                            im[n - k] = -im[k];
                        }
                    }
                } else {
                    for t in 0..in_len.min(n) {
                        re[t] = at(t, 0);
                        im[t] = if c == 2 { at(t, 1) } else { 0.0 };
                    }
                }
                dft_inplace(&mut re, &mut im, self.inverse);
                for k in 0..out_len {
                    let base = ((o * out_len + k) * inner + i) * out_c;
                    out[base] = re[k];
                    if out_c == 2 {
                        out[base + 1] = im[k];
                    }
                }
            }
        }
        let mut osh = sh.clone();
        osh[axis] = out_len;
        osh[rank - 1] = out_c;
        Ok(vec![from_f64(x.dtype(), osh, out)?])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn naive(re: &[f64], im: &[f64], inv: bool) -> (Vec<f64>, Vec<f64>) {
        let n = re.len();
        let s = if inv { 1.0 } else { -1.0 };
        let mut o = (vec![0.0; n], vec![0.0; n]);
        for k in 0..n {
            for t in 0..n {
                let a = s * 2.0 * std::f64::consts::PI * (k * t) as f64 / n as f64;
                o.0[k] += re[t] * a.cos() - im[t] * a.sin();
                o.1[k] += re[t] * a.sin() + im[t] * a.cos();
            }
            if inv {
                o.0[k] /= n as f64;
                o.1[k] /= n as f64;
            }
        }
        o
    }
    #[test]
    fn fft_matches_naive() {
        for n in [1usize, 2, 7, 31, 32, 33, 64] {
            let re: Vec<f64> = (0..n).map(|i| ((i * 37 % 11) as f64) - 5.3).collect();
            let im: Vec<f64> = (0..n).map(|i| ((i * 13 % 7) as f64) * 0.5 - 1.1).collect();
            for inv in [false, true] {
                let (mut r, mut i) = (re.clone(), im.clone());
                dft_inplace(&mut r, &mut i, inv);
                let (er, ei) = naive(&re, &im, inv);
                for k in 0..n {
                    assert!(
                        (r[k] - er[k]).abs() < 1e-8 && (i[k] - ei[k]).abs() < 1e-8,
                        "n={n} k={k}"
                    );
                }
            }
        }
    }
}
