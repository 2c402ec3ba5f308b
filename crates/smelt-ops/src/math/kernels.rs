//! Shared machinery of the element-wise ops: the [`Arith`] element trait (wrapping integer
//! arithmetic, IEEE float arithmetic, f16/bf16 computed through f32), the [`FloatElem`] trait
//! for transcendental math, a row-based broadcasting kernel that reuses input buffers, and
//! broadcast shape inference.

use crate::prelude::*;
use num_traits::Float;

/// A numeric element with the arithmetic the element-wise ops need. Integer ops wrap on
/// overflow (like numpy); integer division by zero yields 0 here (callers check divisors
/// first and report an error); f16/bf16 compute through f32.
pub trait Arith: Elem + Copy + PartialOrd {
    const IS_FLOAT: bool;
    fn zero() -> Self;
    fn add(self, b: Self) -> Self;
    fn sub(self, b: Self) -> Self;
    fn mul(self, b: Self) -> Self;
    /// Integer division truncates toward zero (C semantics).
    fn div(self, b: Self) -> Self;
    /// Remainder with the sign of the dividend (C fmod).
    fn fmod(self, b: Self) -> Self;
    /// Remainder with the sign of the divisor (Python / numpy mod).
    fn pymod(self, b: Self) -> Self {
        let r = self.fmod(b);
        let z = Self::zero();
        if r != z && ((r < z) != (b < z)) {
            r.add(b)
        } else {
            r
        }
    }
    fn abs(self) -> Self;
    fn neg(self) -> Self;
    fn is_zero(self) -> bool;
    fn is_nan(self) -> bool;
    fn to_f64(self) -> f64;
    /// Float targets round; integer targets truncate and saturate (NaN gives 0).
    fn from_f64(v: f64) -> Self;
    /// Maximum that propagates NaN (numpy `maximum`).
    fn max_nan(self, b: Self) -> Self {
        if self.is_nan() || b.is_nan() {
            if self.is_nan() {
                self
            } else {
                b
            }
        } else if b > self {
            b
        } else {
            self
        }
    }
    /// Minimum that propagates NaN (numpy `minimum`).
    fn min_nan(self, b: Self) -> Self {
        if self.is_nan() || b.is_nan() {
            if self.is_nan() {
                self
            } else {
                b
            }
        } else if b < self {
            b
        } else {
            self
        }
    }
    fn signum(self) -> Self {
        let z = Self::zero();
        if self.is_nan() {
            self
        } else if self > z {
            Self::from_f64(1.0)
        } else if self < z {
            Self::from_f64(-1.0)
        } else {
            z
        }
    }
}

macro_rules! arith_int {
    ($($t:ty),*) => {$(
        impl Arith for $t {
            const IS_FLOAT: bool = false;
            #[inline(always)] fn zero() -> Self { 0 }
            #[inline(always)] fn add(self, b: Self) -> Self { self.wrapping_add(b) }
            #[inline(always)] fn sub(self, b: Self) -> Self { self.wrapping_sub(b) }
            #[inline(always)] fn mul(self, b: Self) -> Self { self.wrapping_mul(b) }
            #[inline(always)] fn div(self, b: Self) -> Self { if b == 0 { 0 } else { self.wrapping_div(b) } }
            #[inline(always)] fn fmod(self, b: Self) -> Self { if b == 0 { 0 } else { self.wrapping_rem(b) } }
            #[inline(always)] fn abs(self) -> Self { #[allow(unused_comparisons)] if self < 0 { self.wrapping_neg() } else { self } }
            #[inline(always)] fn neg(self) -> Self { self.wrapping_neg() }
            #[inline(always)] fn is_zero(self) -> bool { self == 0 }
            #[inline(always)] fn is_nan(self) -> bool { false }
            #[inline(always)] fn to_f64(self) -> f64 { self as f64 }
            #[inline(always)] fn from_f64(v: f64) -> Self { v as $t }
        }
    )*};
}
arith_int!(i8, u8, i16, u16, i32, u32, i64, u64);

macro_rules! arith_float {
    ($($t:ty),*) => {$(
        impl Arith for $t {
            const IS_FLOAT: bool = true;
            #[inline(always)] fn zero() -> Self { 0.0 }
            #[inline(always)] fn add(self, b: Self) -> Self { self + b }
            #[inline(always)] fn sub(self, b: Self) -> Self { self - b }
            #[inline(always)] fn mul(self, b: Self) -> Self { self * b }
            #[inline(always)] fn div(self, b: Self) -> Self { self / b }
            #[inline(always)] fn fmod(self, b: Self) -> Self { self % b }
            #[inline(always)] fn abs(self) -> Self { <$t>::abs(self) }
            #[inline(always)] fn neg(self) -> Self { -self }
            #[inline(always)] fn is_zero(self) -> bool { self == 0.0 }
            #[inline(always)] fn is_nan(self) -> bool { <$t>::is_nan(self) }
            #[inline(always)] fn to_f64(self) -> f64 { self as f64 }
            #[inline(always)] fn from_f64(v: f64) -> Self { v as $t }
        }
    )*};
}
arith_float!(f32, f64);

macro_rules! arith_half {
    ($($t:ty),*) => {$(
        impl Arith for $t {
            const IS_FLOAT: bool = true;
            #[inline(always)] fn zero() -> Self { <$t>::ZERO }
            #[inline(always)] fn add(self, b: Self) -> Self { <$t>::from_f32(self.to_f32() + b.to_f32()) }
            #[inline(always)] fn sub(self, b: Self) -> Self { <$t>::from_f32(self.to_f32() - b.to_f32()) }
            #[inline(always)] fn mul(self, b: Self) -> Self { <$t>::from_f32(self.to_f32() * b.to_f32()) }
            #[inline(always)] fn div(self, b: Self) -> Self { <$t>::from_f32(self.to_f32() / b.to_f32()) }
            #[inline(always)] fn fmod(self, b: Self) -> Self { <$t>::from_f32(self.to_f32() % b.to_f32()) }
            #[inline(always)] fn abs(self) -> Self { <$t>::from_bits(self.to_bits() & 0x7fff) }
            #[inline(always)] fn neg(self) -> Self { <$t>::from_bits(self.to_bits() ^ 0x8000) }
            #[inline(always)] fn is_zero(self) -> bool { self.to_f32() == 0.0 }
            #[inline(always)] fn is_nan(self) -> bool { self.to_f32().is_nan() }
            #[inline(always)] fn to_f64(self) -> f64 { self.to_f64() }
            #[inline(always)] fn from_f64(v: f64) -> Self { <$t>::from_f64(v) }
        }
    )*};
}
arith_half!(f16, bf16);

/// A float element and the native float it computes in (f16/bf16 go through f32).
pub trait FloatElem: Elem + Copy {
    type C: Float;
    fn up(self) -> Self::C;
    fn down(c: Self::C) -> Self;
}
impl FloatElem for f32 {
    type C = f32;
    #[inline(always)]
    fn up(self) -> f32 {
        self
    }
    #[inline(always)]
    fn down(c: f32) -> f32 {
        c
    }
}
impl FloatElem for f64 {
    type C = f64;
    #[inline(always)]
    fn up(self) -> f64 {
        self
    }
    #[inline(always)]
    fn down(c: f64) -> f64 {
        c
    }
}
impl FloatElem for f16 {
    type C = f32;
    #[inline(always)]
    fn up(self) -> f32 {
        self.to_f32()
    }
    #[inline(always)]
    fn down(c: f32) -> f16 {
        f16::from_f32(c)
    }
}
impl FloatElem for bf16 {
    type C = f32;
    #[inline(always)]
    fn up(self) -> f32 {
        self.to_f32()
    }
    #[inline(always)]
    fn down(c: f32) -> bf16 {
        bf16::from_f32(c)
    }
}

/// A float constant in the compute type `C` (attributes are f32/f64).
#[inline(always)]
pub fn k<C: Float>(v: f64) -> C {
    C::from(v).unwrap_or_else(C::nan)
}

/// A scalar function applied in the float compute type (f32 for f32/f16/bf16, f64 for f64).
pub trait FloatFn: Clone + Send + Sync + std::fmt::Debug + 'static {
    /// The reference: computed in `C` (f64 for f32 tensors).
    fn call<C: Float>(&self, x: C) -> C;
    /// An f32 slice kernel that computes in f32 within a stated error of [`FloatFn::call`]
    /// (see `super::fast_f32`), which f32 tensors then run instead.
    fn f32_kernel(&self) -> Option<fn(&mut [f32])> {
        None
    }
}

/// Applies `f` element-wise to a float tensor, in place when the buffer is not shared.
pub fn map_float<F: FloatFn>(t: Tensor, f: &F, what: &str) -> Result<Tensor> {
    if let (DType::F32, Some(k)) = (t.dtype(), f.f32_kernel()) {
        let shape = t.shape().to_vec();
        let mut v = t.into_vec::<f32>()?;
        k(&mut v);
        return Tensor::from_vec(shape, v);
    }
    dispatch_float!(t.dtype(), T => map_inplace::<T>(t, |x| T::down(f.call(x.up()))),
        other => Err(Error::dtype(other, what)))
}

/// `f` element-wise over `t`, writing into `t`'s buffer when it is not shared.
pub fn map_inplace<T: Elem + Copy>(t: Tensor, f: impl Fn(T) -> T) -> Result<Tensor> {
    let shape = t.shape().to_vec();
    let mut v = t.into_vec::<T>()?;
    for x in v.iter_mut() {
        *x = f(*x);
    }
    Tensor::from_vec(shape, v)
}

/// Drives a broadcast of `a` and `b` to `out` row by row: calls
/// `row(o, ia, sa, ib, sb, n)` for runs of `n` output elements starting at `o`, where input
/// `x` is read at `ix + j * sx` (`sx` is 0 or 1). Adjacent dims are merged first so rows are
/// as long as possible.
pub fn broadcast_rows(
    out: &[usize],
    a: &[usize],
    b: &[usize],
    mut row: impl FnMut(usize, usize, usize, usize, usize, usize),
) {
    let n = numel(out);
    if n == 0 {
        return;
    }
    let (sa, sb) = (broadcast_strides(a, out), broadcast_strides(b, out));
    // Merge dims (outer-to-inner) when both inputs step through them uniformly.
    let mut dims: Vec<(usize, usize, usize)> = Vec::new(); // (extent, stride a, stride b)
    for i in 0..out.len() {
        let d = (out[i], sa[i], sb[i]);
        if d.0 == 1 {
            continue;
        }
        if let Some(last) = dims.last_mut() {
            if last.1 == d.1 * d.0 && last.2 == d.2 * d.0 {
                *last = (last.0 * d.0, d.1, d.2);
                continue;
            }
        }
        dims.push(d);
    }
    if dims.is_empty() {
        row(0, 0, 0, 0, 0, 1);
        return;
    }
    let (len, ia_step, ib_step) = dims.pop().unwrap_or((1, 0, 0));
    // ia_step / ib_step are 0 or 1 here: the innermost kept dim is either contiguous or broadcast.
    let outer: Vec<_> = dims;
    let mut idx = vec![0usize; outer.len()];
    let (mut ia, mut ib) = (0usize, 0usize);
    let mut o = 0;
    while o < n {
        row(o, ia, ia_step, ib, ib_step, len);
        o += len;
        let mut d = outer.len();
        while d > 0 {
            d -= 1;
            idx[d] += 1;
            ia += outer[d].1;
            ib += outer[d].2;
            if idx[d] < outer[d].0 {
                break;
            }
            ia -= outer[d].1 * outer[d].0;
            ib -= outer[d].2 * outer[d].0;
            idx[d] = 0;
        }
    }
}

/// Element-wise `f(a, b) -> C` with broadcasting into a new buffer.
pub fn zip_to<A: Elem + Copy, B: Elem + Copy, C: Elem>(
    a: &Tensor,
    b: &Tensor,
    f: impl Fn(A, B) -> C,
) -> Result<Tensor> {
    let (xa, xb) = (a.as_slice::<A>()?, b.as_slice::<B>()?);
    let out = broadcast_shapes(&[a.shape(), b.shape()])?;
    if a.shape() == b.shape() {
        return Tensor::from_vec(out, xa.iter().zip(xb).map(|(&x, &y)| f(x, y)).collect());
    }
    let mut v: Vec<C> = Vec::with_capacity(numel(&out));
    broadcast_rows(&out, a.shape(), b.shape(), |_, ia, sa, ib, sb, n| {
        match (sa, sb) {
            (1, 1) => v.extend(
                xa[ia..ia + n]
                    .iter()
                    .zip(&xb[ib..ib + n])
                    .map(|(&x, &y)| f(x, y)),
            ),
            (1, _) => {
                let y = xb[ib];
                v.extend(xa[ia..ia + n].iter().map(|&x| f(x, y)))
            }
            (_, 1) => {
                let x = xa[ia];
                v.extend(xb[ib..ib + n].iter().map(|&y| f(x, y)))
            }
            _ => {
                let r = f(xa[ia], xb[ib]);
                v.extend(std::iter::repeat_n(r, n))
            }
        }
    });
    Tensor::from_vec(out, v)
}

/// Element-wise `f(a, b)` for one element type, with broadcasting. Writes into `a`'s (or
/// `b`'s) buffer when that input already has the output shape and is not shared.
pub fn zip_same<T: Elem + Copy>(a: Tensor, b: Tensor, f: impl Fn(T, T) -> T) -> Result<Tensor> {
    let out = broadcast_shapes(&[a.shape(), b.shape()])?;
    if a.shape() == out.as_slice() {
        let (sa, sb) = (a.shape().to_vec(), b.shape().to_vec());
        let mut v = a.into_vec::<T>()?;
        let xb = b.as_slice::<T>()?;
        if sa == sb {
            for (x, &y) in v.iter_mut().zip(xb) {
                *x = f(*x, y);
            }
        } else {
            broadcast_rows(&out, &sa, &sb, |o, _, _, ib, s, n| {
                let dst = &mut v[o..o + n];
                if s == 1 {
                    for (x, &y) in dst.iter_mut().zip(&xb[ib..ib + n]) {
                        *x = f(*x, y);
                    }
                } else {
                    let y = xb[ib];
                    for x in dst.iter_mut() {
                        *x = f(*x, y);
                    }
                }
            });
        }
        return Tensor::from_vec(out, v);
    }
    if b.shape() == out.as_slice() {
        let sa = a.shape().to_vec();
        let mut v = b.into_vec::<T>()?;
        let xa = a.as_slice::<T>()?;
        broadcast_rows(&out, &sa, &out, |o, ia, s, _, _, n| {
            let dst = &mut v[o..o + n];
            if s == 1 {
                for (y, &x) in dst.iter_mut().zip(&xa[ia..ia + n]) {
                    *y = f(x, *y);
                }
            } else {
                let x = xa[ia];
                for y in dst.iter_mut() {
                    *y = f(x, *y);
                }
            }
        });
        return Tensor::from_vec(out, v);
    }
    zip_to::<T, T, T>(&a, &b, f)
}

/// Error unless every element of an integer divisor is non-zero.
pub fn check_no_zero_divisor(b: &Tensor) -> Result<()> {
    if b.dtype().is_int() {
        dispatch_numeric!(b.dtype(), T => {
            if b.as_slice::<T>()?.iter().any(|x| x.is_zero()) {
                bail!("integer division by zero");
            }
        }, _o => {});
    }
    Ok(())
}

/// Broadcast of symbolic shapes (None when some input shape is unknown).
pub fn broadcast_dims(shapes: &[&[Dim]]) -> Result<Vec<Dim>> {
    let rank = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![Dim::Fixed(1); rank];
    for s in shapes {
        let off = rank - s.len();
        for (i, d) in s.iter().enumerate() {
            let o = &mut out[off + i];
            *o = match (&*o, d) {
                (Dim::Fixed(1), x) => x.clone(),
                (x, Dim::Fixed(1)) => x.clone(),
                (Dim::Fixed(p), Dim::Fixed(q)) if p != q => {
                    return Err(Error::shape(format!("cannot broadcast dim {p} with {q}")));
                }
                (x, y) if x == y => x.clone(),
                (Dim::Fixed(p), _) | (_, Dim::Fixed(p)) => Dim::Fixed(*p),
                _ => Dim::Unknown,
            };
        }
    }
    Ok(out)
}

/// Infers one output of broadcast shape over all given inputs; the dtype is `dtype` or,
/// when None, the first input's.
pub fn infer_broadcast(ctx: &InferCtx, dtype: Option<DType>) -> Result<Vec<ValueInfo>> {
    let ins: Vec<&ValueInfo> = ctx.inputs.iter().flatten().collect();
    let dtype = dtype.or_else(|| ins.first().and_then(|v| v.dtype));
    let shapes: Option<Vec<&[Dim]>> = ins.iter().map(|v| v.shape.as_deref()).collect();
    let shape = match shapes {
        Some(s) if !s.is_empty() => Some(broadcast_dims(&s)?),
        _ => None,
    };
    Ok(vec![ValueInfo { dtype, shape }])
}

/// Infers one output with the first input's type and shape.
pub fn infer_same(ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
    Ok(vec![ctx
        .inputs
        .first()
        .cloned()
        .flatten()
        .unwrap_or_default()])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &Tensor, b: &Tensor) -> Vec<f32> {
        binary_map::<f32, f32, f32>(a, b, |x, y| x * 3.0 - y)
            .unwrap()
            .to_vec()
            .unwrap()
    }

    fn rnd(shape: &[usize], seed: u32) -> Tensor {
        let n = numel(shape);
        let v = (0..n)
            .map(|i| {
                (((i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 8) % 1000) as f32
                    / 100.0
                    - 5.0
            })
            .collect();
        Tensor::from_vec(shape.to_vec(), v).unwrap()
    }

    #[test]
    fn zip_matches_naive_broadcast() {
        let cases: &[(&[usize], &[usize])] = &[
            (&[31], &[31]),
            (&[32], &[1]),
            (&[1], &[33]),
            (&[2, 3, 33], &[3, 1]),
            (&[4, 1, 32], &[1, 5, 32]),
            (&[2, 31, 3, 3], &[1, 31, 1, 1]),
            (&[3, 1, 1], &[33]),
            (&[], &[2, 3]),
            (&[0, 3], &[3]),
        ];
        for (i, (sa, sb)) in cases.iter().enumerate() {
            let a = rnd(sa, i as u32);
            let b = rnd(sb, 77 + i as u32);
            let want = naive(&a, &b);
            let got = zip_same::<f32>(a.clone(), b.clone(), |x, y| x * 3.0 - y).unwrap();
            assert_eq!(got.to_vec::<f32>().unwrap(), want, "{sa:?} {sb:?}");
            let got2 = zip_to::<f32, f32, f32>(&a, &b, |x, y| x * 3.0 - y).unwrap();
            assert_eq!(got2.to_vec::<f32>().unwrap(), want);
            assert_eq!(got.shape(), got2.shape());
        }
    }

    #[test]
    fn broadcast_mismatch_is_error() {
        assert!(zip_same::<f32>(rnd(&[3], 1), rnd(&[4], 2), |x, y| x + y).is_err());
    }

    #[test]
    fn int_mod_and_div() {
        assert_eq!((-7i32).pymod(3), 2);
        assert_eq!(7i32.pymod(-3), -2);
        assert_eq!((-7i32).fmod(3), -1);
        assert_eq!((-7i32).div(2), -3);
        assert_eq!(i8::MIN.div(-1), i8::MIN);
        assert_eq!(5u8.div(0), 0);
    }
}
