//! One-input math ops. Float-only functions are one line each in the table below; Abs, Neg,
//! Sign take any numeric type; IsNaN / IsInf map floats (incl. float8) to bool; Not takes bool,
//! BitwiseNot integers. The output has the input's shape.

use super::kernels::*;
use crate::prelude::*;
use num_traits::Float;

/// An op applying a [`FloatFn`] to f16 / bf16 / f32 / f64 tensors.
#[derive(Debug)]
pub struct FloatUnary<F: FloatFn> {
    pub name: &'static str,
    pub f: F,
}

impl<F: FloatFn> Op for FloatUnary<F> {
    fn op_type(&self) -> &str {
        self.name
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        infer_same(ctx)
    }
    fn eval(&self, _: &EvalCtx, mut inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        Ok(vec![map_float(take(&mut inputs, 0)?, &self.f, self.name)?])
    }
    /// What `eval` runs on an f32 tensor: the fast kernel where there is one, else the
    /// reference computed in f32.
    fn f32_map(&self) -> Option<smelt_ir::F32Map> {
        let f = self.f.clone();
        Some(match f.f32_kernel() {
            Some(k) => Arc::new(k),
            None => Arc::new(move |s: &mut [f32]| {
                for x in s {
                    *x = f.call(*x);
                }
            }),
        })
    }
}

macro_rules! float_fns {
    ($($name:ident => |$x:ident| $body:expr;)*) => {
        $(
            #[derive(Debug, Clone, Copy)]
            pub struct $name;
            impl FloatFn for $name {
                #[inline(always)]
                fn call<C: Float>(&self, $x: C) -> C { $body }
            }
        )*
        fn register_table(r: &mut Registry) {
            $( r.register("", stringify!($name), |_| Ok(Box::new(FloatUnary { name: stringify!($name), f: $name }))); )*
        }
    };
}

float_fns! {
    Exp => |x| x.exp();
    Log => |x| x.ln();
    Sqrt => |x| x.sqrt();
    Reciprocal => |x| x.recip();
    Floor => |x| x.floor();
    Ceil => |x| x.ceil();
    Round => |x| round_half_even(x);
    Sin => |x| x.sin();
    Cos => |x| x.cos();
    Tan => |x| x.tan();
    Asin => |x| x.asin();
    Acos => |x| x.acos();
    Atan => |x| x.atan();
    Sinh => |x| x.sinh();
    Cosh => |x| x.cosh();
    Asinh => |x| x.asinh();
    Acosh => |x| x.acosh();
    Atanh => |x| x.atanh();
    Erf => |x| erf(x);
    Tanh => |x| x.tanh();
    Sigmoid => |x| sigmoid(x);
    Softsign => |x| x / (C::one() + x.abs());
    Softplus => |x| softplus(x);
    Mish => |x| x * softplus(x).tanh();
}

/// Rounds to the nearest integer, ties to even.
#[inline(always)]
pub fn round_half_even<C: Float>(x: C) -> C {
    let r = x.round();
    if (r - x).abs() == k(0.5) {
        (x * k(0.5)).round() * k(2.0)
    } else {
        r
    }
}

/// Logistic function, stable for large |x|.
#[inline(always)]
pub fn sigmoid<C: Float>(x: C) -> C {
    if x >= C::zero() {
        C::one() / (C::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (C::one() + e)
    }
}

/// ln(1 + e^x), stable for large |x|.
#[inline(always)]
pub fn softplus<C: Float>(x: C) -> C {
    if x > k(20.0) {
        x
    } else {
        x.exp().ln_1p()
    }
}

/// Error function (computed in f64; max error about 1e-15 over the real line).
#[inline(always)]
pub fn erf<C: Float>(x: C) -> C {
    k(erf_f64(x.to_f64().unwrap_or(f64::NAN)))
}

/// erf in f64: Taylor series near 0, continued-fraction-free complementary form elsewhere
/// (W. J. Cody's rational approximations).
pub fn erf_f64(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let ax = x.abs();
    let r = if ax < 0.5 {
        // Cody: erf(x) = x * P(x^2) / Q(x^2)
        const P: [f64; 5] = [
            3.16112374387056560e00,
            1.13864154151050156e02,
            3.77485237685302021e02,
            3.20937758913846947e03,
            1.85777706184603153e-1,
        ];
        const Q: [f64; 4] = [
            2.36012909523441209e01,
            2.44024637934444173e02,
            1.28261652607737228e03,
            2.84423683343917062e03,
        ];
        let z = ax * ax;
        let mut num = P[4] * z;
        let mut den = z;
        for i in 0..3 {
            num = (num + P[i]) * z;
            den = (den + Q[i]) * z;
        }
        return x * (num + P[3]) / (den + Q[3]);
    } else if ax < 4.0 {
        const P: [f64; 9] = [
            5.64188496988670089e-1,
            8.88314979438837594e00,
            6.61191906371416295e01,
            2.98635138197400131e02,
            8.81952221241769090e02,
            1.71204761263407058e03,
            2.05107837782607147e03,
            1.23033935479799725e03,
            2.15311535474403846e-8,
        ];
        const Q: [f64; 8] = [
            1.57449261107098347e01,
            1.17693950891312499e02,
            5.37181101862009858e02,
            1.62138957456669019e03,
            3.29079923573345963e03,
            4.36261909014324716e03,
            3.43936767414372164e03,
            1.23033935480374942e03,
        ];
        let mut num = P[8] * ax;
        let mut den = ax;
        for i in 0..7 {
            num = (num + P[i]) * ax;
            den = (den + Q[i]) * ax;
        }
        let erfc = (num + P[7]) / (den + Q[7]) * (-ax * ax).exp();
        1.0 - erfc
    } else if ax < 27.0 {
        const P: [f64; 6] = [
            3.05326634961232344e-1,
            3.60344899949804439e-1,
            1.25781726111229246e-1,
            1.60837851487422766e-2,
            6.58749161529837803e-4,
            1.63153871373020978e-2,
        ];
        const Q: [f64; 5] = [
            2.56852019228982242e00,
            1.87295284992346725e00,
            5.27905102951428412e-1,
            6.05183413124413191e-2,
            2.33520497626869185e-3,
        ];
        let z = 1.0 / (ax * ax);
        let mut num = P[5] * z;
        let mut den = z;
        for i in 0..4 {
            num = (num + P[i]) * z;
            den = (den + Q[i]) * z;
        }
        let mut res = z * (num + P[4]) / (den + Q[4]);
        res = (1.0 / std::f64::consts::PI.sqrt() - res) / ax;
        1.0 - res * (-ax * ax).exp()
    } else {
        1.0
    };
    if x < 0.0 {
        -r
    } else {
        r
    }
}

/// Abs / Neg / Sign over every numeric type.
#[derive(Debug, Clone, Copy)]
enum NumKind {
    Abs,
    Neg,
    Sign,
}

#[derive(Debug)]
struct NumUnary(NumKind);

impl Op for NumUnary {
    fn op_type(&self) -> &str {
        match self.0 {
            NumKind::Abs => "Abs",
            NumKind::Neg => "Neg",
            NumKind::Sign => "Sign",
        }
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        infer_same(ctx)
    }
    fn eval(&self, _: &EvalCtx, mut inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = take(&mut inputs, 0)?;
        let kind = self.0;
        let y = dispatch_numeric!(x.dtype(), T => match kind {
            NumKind::Abs => map_inplace::<T>(x, Arith::abs),
            NumKind::Neg => map_inplace::<T>(x, Arith::neg),
            NumKind::Sign => map_inplace::<T>(x, Arith::signum),
        }, other => Err(Error::dtype(other, self.op_type())))?;
        Ok(vec![y])
    }
}

/// IsNaN, and IsInf with `detect_positive` / `detect_negative`.
#[derive(Debug)]
struct IsSpecial {
    nan: bool,
    pos: bool,
    neg: bool,
}

impl Op for IsSpecial {
    fn op_type(&self) -> &str {
        if self.nan {
            "IsNaN"
        } else {
            "IsInf"
        }
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let shape = ctx.inputs.first().cloned().flatten().and_then(|v| v.shape);
        Ok(vec![ValueInfo {
            dtype: Some(DType::Bool),
            shape,
        }])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let x = if x.dtype().is_low_float() {
            super::cast::cast(x, DType::F32, false)?
        } else {
            x.clone()
        };
        let (nan, pos, neg) = (self.nan, self.pos, self.neg);
        let test = move |v: f64| {
            if nan {
                v.is_nan()
            } else {
                (pos && v == f64::INFINITY) || (neg && v == f64::NEG_INFINITY)
            }
        };
        let y = dispatch_float!(x.dtype(), T => unary_map::<T, bool>(&x, |v| test(Arith::to_f64(v))),
            other => Err(Error::dtype(other, self.op_type())))?;
        Ok(vec![y])
    }
}

/// Not (bool) and BitwiseNot (integers).
#[derive(Debug)]
struct NotOp {
    bitwise: bool,
}

impl Op for NotOp {
    fn op_type(&self) -> &str {
        if self.bitwise {
            "BitwiseNot"
        } else {
            "Not"
        }
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        infer_same(ctx)
    }
    fn eval(&self, _: &EvalCtx, mut inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = take(&mut inputs, 0)?;
        macro_rules! bnot {
            ($($d:ident => $t:ty),*) => {
                match x.dtype() {
                    DType::Bool if !self.bitwise => map_inplace::<bool>(x, |v| !v),
                    $(DType::$d if self.bitwise => map_inplace::<$t>(x, |v| !v),)*
                    other => Err(Error::dtype(other, self.op_type())),
                }
            };
        }
        Ok(vec![
            bnot!(I8 => i8, U8 => u8, I16 => i16, U16 => u16, I32 => i32, U32 => u32, I64 => i64, U64 => u64)?,
        ])
    }
}

pub fn register(r: &mut Registry) {
    register_table(r);
    r.register("", "Abs", |_| Ok(Box::new(NumUnary(NumKind::Abs))));
    r.register("", "Neg", |_| Ok(Box::new(NumUnary(NumKind::Neg))));
    r.register("", "Sign", |_| Ok(Box::new(NumUnary(NumKind::Sign))));
    r.register("", "IsNaN", |_| {
        Ok(Box::new(IsSpecial {
            nan: true,
            pos: false,
            neg: false,
        }))
    });
    r.register("", "IsInf", |c| {
        Ok(Box::new(IsSpecial {
            nan: false,
            pos: c.attrs.int_or("detect_positive", 1)? != 0,
            neg: c.attrs.int_or("detect_negative", 1)? != 0,
        }))
    });
    r.register("", "Not", |_| Ok(Box::new(NotOp { bitwise: false })));
    r.register("", "BitwiseNot", |_| Ok(Box::new(NotOp { bitwise: true })));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_ties_to_even() {
        for (x, want) in [
            (0.5f32, 0.0f32),
            (1.5, 2.0),
            (2.5, 2.0),
            (-0.5, -0.0),
            (-1.5, -2.0),
            (2.3, 2.0),
            (-2.7, -3.0),
        ] {
            assert_eq!(round_half_even(x), want, "{x}");
        }
    }

    #[test]
    fn erf_accuracy() {
        // reference values of erf
        for (x, want) in [
            (0.1, 0.1124629160182849),
            (0.5, 0.5204998778130465),
            (1.0, 0.8427007929497149),
            (2.0, 0.9953222650189527),
            (-3.0, -0.9999779095030014),
            (5.0, 0.9999999999984626),
        ] {
            assert!((erf_f64(x) - want).abs() < 1e-13, "{x}: {}", erf_f64(x));
        }
    }
}
