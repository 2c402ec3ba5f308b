//! Softmax, LogSoftmax, Hardmax.
//!
//! Opset < 13: `axis` defaults to 1 and the input is coerced to 2-D `[prod(shape[..axis]),
//! prod(shape[axis..])]`, normalizing each row. Opset >= 13: `axis` defaults to -1 and only
//! that one dim is normalized. Softmax subtracts the max first (stable); an all -inf slice
//! gives NaN. Hardmax is 1 at the first maximum, 0 elsewhere. Floats only; f16/bf16 compute
//! in f32.

use super::common::*;
use crate::prelude::*;
use num_traits::Float;

/// Elements above which rows are split across threads.
const PAR_MIN: usize = 1 << 15;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Soft,
    LogSoft,
    Hard,
}

#[derive(Debug)]
pub struct Softmax {
    kind: Kind,
    axis: i64,
    /// Opset < 13: flatten `[axis..]` into one normalized dim.
    coerce_2d: bool,
}

/// The axis and the opset rule of a Softmax-family node: before opset 13 the default axis
/// is 1 and the dims `axis..` are flattened into one (`coerce_2d`); from 13, -1 and the axis
/// alone.
pub fn rule(opset: i64, attrs: &crate::prelude::Attributes) -> Result<(i64, bool)> {
    let coerce_2d = opset < 13;
    Ok((
        attrs.int_or("axis", if coerce_2d { 1 } else { -1 })?,
        coerce_2d,
    ))
}

fn factory(ctx: &OpCtx, kind: Kind) -> Result<Box<dyn Op>> {
    let (axis, coerce_2d) = rule(ctx.opset, ctx.attrs)?;
    Ok(Box::new(Softmax {
        kind,
        axis,
        coerce_2d,
    }))
}

pub fn register(r: &mut Registry) {
    r.register("", "Softmax", |c| factory(c, Kind::Soft));
    r.register("", "LogSoftmax", |c| factory(c, Kind::LogSoft));
    r.register("", "Hardmax", |c| factory(c, Kind::Hard));
}

/// `exp` as used by the softmax kernels: f32 uses a branch-free polynomial (Cephes expf,
/// about 1 ulp on the arguments softmax sees, `x <= 0`) that vectorizes; f64 uses `exp`.
pub trait SoftExp: Float + Send + Sync {
    fn fexp(self) -> Self;
}
impl SoftExp for f64 {
    #[inline(always)]
    fn fexp(self) -> f64 {
        self.exp()
    }
}
impl SoftExp for f32 {
    #[inline(always)]
    fn fexp(self) -> f32 {
        fast_exp(self)
    }
}

/// Branch-free `exp(x)` for f32: 0 below -87.3, clamped at 88.3 above, NaN stays NaN.
#[inline(always)]
pub fn fast_exp(x: f32) -> f32 {
    let xc = x.clamp(-87.3, 88.3);
    // n = round(x / ln 2) via the 1.5 * 2^23 trick (no libm call)
    let t = xc * std::f32::consts::LOG2_E;
    let n = (t + 12582912.0) - 12582912.0;
    let r = xc - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    let y = e * scale;
    if x < -87.3 {
        0.0
    } else if x.is_nan() {
        x
    } else {
        y
    }
}

/// Maximum of a slice (NaN-ignoring; -inf when empty) with 8 independent lanes.
#[inline]
fn max8<F: Float>(v: &[F]) -> F {
    let mut lanes = [F::neg_infinity(); 8];
    let mut ch = v.chunks_exact(8);
    for c in &mut ch {
        for j in 0..8 {
            lanes[j] = if c[j] > lanes[j] { c[j] } else { lanes[j] };
        }
    }
    let mut m = F::neg_infinity();
    for &x in ch.remainder().iter().chain(lanes.iter()) {
        m = if x > m { x } else { m };
    }
    m
}

/// One contiguous row, in place.
#[inline]
fn row<F: SoftExp>(v: &mut [F], kind: Kind) {
    let m = max8(v);
    match kind {
        Kind::Soft => {
            let mut lanes = [F::zero(); 8];
            let mut ch = v.chunks_exact_mut(8);
            for c in &mut ch {
                for j in 0..8 {
                    let e = (c[j] - m).fexp();
                    c[j] = e;
                    lanes[j] = lanes[j] + e;
                }
            }
            let mut s = F::zero();
            for x in ch.into_remainder() {
                let e = (*x - m).fexp();
                *x = e;
                s = s + e;
            }
            let s = lanes.iter().fold(s, |a, &b| a + b);
            let inv = F::one() / s;
            for x in v.iter_mut() {
                *x = *x * inv;
            }
        }
        Kind::LogSoft => {
            let s = sum_map(v, |x| (x - m).fexp());
            let l = m + s.ln();
            for x in v.iter_mut() {
                *x = *x - l;
            }
        }
        Kind::Hard => {
            let k = v.iter().position(|&x| x == m).unwrap_or(0);
            for (j, x) in v.iter_mut().enumerate() {
                *x = if j == k { F::one() } else { F::zero() };
            }
        }
    }
}

/// `outer x n x inner` along the middle dim (inner > 1), vectorized across `inner`.
fn strided<F: SoftExp>(x: &mut [F], outer: usize, n: usize, inner: usize, kind: Kind) {
    let mut m = vec![F::zero(); inner];
    let mut s = vec![F::zero(); inner];
    let mut arg = vec![0usize; inner];
    for o in 0..outer {
        let blk = &mut x[o * n * inner..(o + 1) * n * inner];
        m.iter_mut().for_each(|v| *v = F::neg_infinity());
        arg.iter_mut().for_each(|v| *v = 0);
        for k in 0..n {
            for i in 0..inner {
                let v = blk[k * inner + i];
                if v > m[i] {
                    m[i] = v;
                    arg[i] = k;
                }
            }
        }
        if kind == Kind::Hard {
            for k in 0..n {
                for i in 0..inner {
                    blk[k * inner + i] = if arg[i] == k { F::one() } else { F::zero() };
                }
            }
            continue;
        }
        s.iter_mut().for_each(|v| *v = F::zero());
        for k in 0..n {
            for i in 0..inner {
                let e = (blk[k * inner + i] - m[i]).fexp();
                if kind == Kind::Soft {
                    blk[k * inner + i] = e;
                }
                s[i] = s[i] + e;
            }
        }
        if kind == Kind::Soft {
            s.iter_mut().for_each(|v| *v = F::one() / *v);
            for k in 0..n {
                for i in 0..inner {
                    blk[k * inner + i] = blk[k * inner + i] * s[i];
                }
            }
        } else {
            for i in 0..inner {
                s[i] = m[i] + s[i].ln();
            }
            for k in 0..n {
                for i in 0..inner {
                    blk[k * inner + i] = blk[k * inner + i] - s[i];
                }
            }
        }
    }
}

/// Normalizes `x` (compute type) viewed as `outer x n x inner` along the middle dim.
pub fn apply<F: SoftExp>(x: &mut [F], outer: usize, n: usize, inner: usize, kind_soft: u8) {
    let kind = match kind_soft {
        0 => Kind::Soft,
        1 => Kind::LogSoft,
        _ => Kind::Hard,
    };
    if n == 0 || outer * inner == 0 {
        return;
    }
    if inner == 1 {
        if x.len() >= PAR_MIN && outer > 1 && rayon::current_num_threads() > 1 {
            use rayon::prelude::*;
            let rows_per = (PAR_MIN / n).max(1);
            x.par_chunks_mut(rows_per * n)
                .for_each(|blk| blk.chunks_exact_mut(n).for_each(|r| row(r, kind)));
        } else {
            for r in x.chunks_exact_mut(n) {
                row(r, kind);
            }
        }
    } else {
        strided(x, outer, n, inner, kind);
    }
}

fn run<T: FloatIo>(x: Tensor, dims: (usize, usize, usize), kind: Kind) -> Result<Tensor>
where
    T::C: SoftExp,
{
    let shape = x.shape().to_vec();
    let mut v: Vec<T::C> = if T::DTYPE == <T::C as Elem>::DTYPE {
        x.into_vec::<T::C>()?
    } else {
        float_input::<T>(&x)?.into_owned()
    };
    let k = match kind {
        Kind::Soft => 0,
        Kind::LogSoft => 1,
        Kind::Hard => 2,
    };
    apply(&mut v, dims.0, dims.1, dims.2, k);
    float_output::<T>(shape, v)
}

impl Op for Softmax {
    fn op_type(&self) -> &str {
        match self.kind {
            Kind::Soft => "Softmax",
            Kind::LogSoft => "LogSoftmax",
            Kind::Hard => "Hardmax",
        }
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        Ok(vec![ctx
            .inputs
            .first()
            .cloned()
            .flatten()
            .unwrap_or_default()])
    }
    fn eval(&self, _: &EvalCtx, mut inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = take(&mut inputs, 0)?;
        let sh = x.shape();
        let dims = if x.rank() == 0 {
            (1, 1, 1)
        } else {
            let a = norm_axis(self.axis, x.rank())?;
            if self.coerce_2d {
                (sh[..a].iter().product(), sh[a..].iter().product(), 1)
            } else {
                split3(sh, a)
            }
        };
        let what = format!("{} input", self.op_type());
        let kind = self.kind;
        Ok(vec![
            crate::norm_float!(x.dtype(), what, T => run::<T>(x, dims, kind)?),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn naive(x: &[f64], outer: usize, n: usize, inner: usize, log: bool) -> Vec<f64> {
        let mut y = x.to_vec();
        for o in 0..outer {
            for i in 0..inner {
                let at = |k: usize| (o * n + k) * inner + i;
                let m = (0..n).map(|k| x[at(k)]).fold(f64::NEG_INFINITY, f64::max);
                let s: f64 = (0..n).map(|k| (x[at(k)] - m).exp()).sum();
                for k in 0..n {
                    y[at(k)] = if log {
                        x[at(k)] - m - s.ln()
                    } else {
                        (x[at(k)] - m).exp() / s
                    };
                }
            }
        }
        y
    }
    #[test]
    fn matches_naive() {
        for &(outer, n, inner) in &[(3, 31, 1), (2, 32, 1), (1, 33, 1), (2, 5, 31), (2, 33, 3)] {
            let len = outer * n * inner;
            let x: Vec<f64> = (0..len)
                .map(|i| ((i * 37 % 101) as f64) * 0.173 - 7.0)
                .collect();
            for (k, log) in [(0u8, false), (1u8, true)] {
                let mut y: Vec<f32> = x.iter().map(|&v| v as f32).collect();
                apply(&mut y, outer, n, inner, k);
                let r = naive(&x, outer, n, inner, log);
                for (a, b) in y.iter().zip(&r) {
                    assert!((*a as f64 - b).abs() < 1e-5, "{a} vs {b}");
                }
            }
        }
    }
    #[test]
    fn fast_exp_accuracy() {
        let mut x = -90.0f32;
        while x < 88.0 {
            let (a, b) = (fast_exp(x), (x as f64).exp());
            if b > 1e-37 {
                assert!(
                    ((a as f64 - b) / b).abs() < 4e-7,
                    "exp({x}) = {a}, want {b}"
                );
            }
            x += 0.0137;
        }
        assert_eq!(fast_exp(f32::NEG_INFINITY), 0.0);
        assert!(fast_exp(f32::NAN).is_nan());
        assert_eq!(fast_exp(0.0), 1.0);
    }
    #[test]
    fn parallel_rows_match() {
        let (outer, n) = (1100, 33);
        let x: Vec<f32> = (0..outer * n)
            .map(|i| ((i * 31 % 89) as f32) * 0.11 - 3.0)
            .collect();
        let mut a = x.clone();
        apply(&mut a, outer, n, 1, 0);
        for (o, r) in x.chunks(n).enumerate() {
            let mut b = r.to_vec();
            row(&mut b, Kind::Soft);
            assert_eq!(&a[o * n..(o + 1) * n], &b[..]);
        }
    }
    #[test]
    fn large_values_stable() {
        let mut y = vec![1000f32, 1001., 1002.];
        apply(&mut y, 1, 3, 1, 0);
        assert!((y.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        let mut h = vec![1f32, 3., 3., 2.];
        apply(&mut h, 1, 4, 1, 2);
        assert_eq!(h, vec![0., 1., 0., 0.]);
    }
}
