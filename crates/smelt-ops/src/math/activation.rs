//! Element-wise activations with attributes: LeakyRelu, Elu, Selu, Celu, HardSigmoid,
//! HardSwish, ThresholdedRelu, Gelu (float types), and Relu / Shrink (any numeric type).
//! Sigmoid, Tanh, Softplus, Softsign, Mish have no attributes and live in `unary.rs`.
//! Output shape and dtype are the input's.

use super::kernels::*;
use super::unary::{erf, FloatUnary};
use crate::prelude::*;
use num_traits::Float;

#[derive(Debug, Clone, Copy)]
pub struct LeakyRelu(pub f64);
impl FloatFn for LeakyRelu {
    #[inline(always)]
    fn call<C: Float>(&self, x: C) -> C {
        if x < C::zero() {
            x * k(self.0)
        } else {
            x
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Elu(pub f64);
impl FloatFn for Elu {
    #[inline(always)]
    fn call<C: Float>(&self, x: C) -> C {
        if x < C::zero() {
            k::<C>(self.0) * x.exp_m1()
        } else {
            x
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Selu {
    pub alpha: f64,
    pub gamma: f64,
}
impl FloatFn for Selu {
    #[inline(always)]
    fn call<C: Float>(&self, x: C) -> C {
        let g = k::<C>(self.gamma);
        if x <= C::zero() {
            g * (k::<C>(self.alpha) * x.exp() - k::<C>(self.alpha))
        } else {
            g * x
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Celu(pub f64);
impl FloatFn for Celu {
    #[inline(always)]
    fn call<C: Float>(&self, x: C) -> C {
        let a = k::<C>(self.0);
        x.max(C::zero()) + (a * ((x / a).exp() - C::one())).min(C::zero())
    }
}

#[derive(Debug, Clone, Copy)]
pub struct HardSigmoid {
    pub alpha: f64,
    pub beta: f64,
}
impl FloatFn for HardSigmoid {
    #[inline(always)]
    fn call<C: Float>(&self, x: C) -> C {
        (k::<C>(self.alpha) * x + k::<C>(self.beta))
            .max(C::zero())
            .min(C::one())
    }
}

#[derive(Debug, Clone, Copy)]
pub struct HardSwish;
impl FloatFn for HardSwish {
    #[inline(always)]
    fn call<C: Float>(&self, x: C) -> C {
        x * (x / k::<C>(6.0) + k::<C>(0.5)).max(C::zero()).min(C::one())
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ThresholdedRelu(pub f64);
impl FloatFn for ThresholdedRelu {
    #[inline(always)]
    fn call<C: Float>(&self, x: C) -> C {
        if x > k(self.0) {
            x
        } else {
            C::zero()
        }
    }
}

/// Gelu: `x * Phi(x)`, or the tanh approximation. f32 tensors of the erf form run
/// [`super::fast_f32::gelu`].
#[derive(Debug, Clone, Copy)]
pub struct Gelu {
    pub tanh: bool,
}
impl FloatFn for Gelu {
    #[inline(always)]
    fn call<C: Float>(&self, x: C) -> C {
        let half = k::<C>(0.5);
        if self.tanh {
            let c = k::<C>((2.0 / std::f64::consts::PI).sqrt());
            half * x * (C::one() + (c * (x + k::<C>(0.044715) * x * x * x)).tanh())
        } else {
            half * x * (C::one() + erf(x * k::<C>(std::f64::consts::FRAC_1_SQRT_2)))
        }
    }
    fn f32_kernel(&self) -> Option<fn(&mut [f32])> {
        (!self.tanh).then_some(super::fast_f32::gelu as fn(&mut [f32]))
    }
}

/// Relu over float and signed integer types.
#[derive(Debug)]
struct Relu;
impl Op for Relu {
    fn op_type(&self) -> &str {
        "Relu"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        infer_same(ctx)
    }
    fn eval(&self, _: &EvalCtx, mut inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = take(&mut inputs, 0)?;
        let y = dispatch_numeric!(x.dtype(), T => {
            let z = T::zero();
            map_inplace::<T>(x, |v| if v < z { z } else { v })
        }, other => Err(Error::dtype(other, "Relu")))?;
        Ok(vec![y])
    }
    fn f32_map(&self) -> Option<smelt_ir::F32Map> {
        Some(Arc::new(|s: &mut [f32]| {
            for v in s {
                // a select, not a branch (signs are unpredictable); NaN and -0 stay as
                // they are, as in eval
                *v = if *v < 0.0 { 0.0 } else { *v };
            }
        }))
    }
}

/// Shrink: `x < -lambd ? x + bias : x > lambd ? x - bias : 0`, any numeric type.
#[derive(Debug)]
struct Shrink {
    bias: f64,
    lambd: f64,
}
impl Op for Shrink {
    fn op_type(&self) -> &str {
        "Shrink"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        infer_same(ctx)
    }
    fn eval(&self, _: &EvalCtx, mut inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = take(&mut inputs, 0)?;
        let (b, l) = (self.bias, self.lambd);
        let f = move |v: f64| {
            if v < -l {
                v + b
            } else if v > l {
                v - b
            } else {
                0.0
            }
        };
        let y = dispatch_numeric!(x.dtype(), T => map_inplace::<T>(x, |v| T::from_f64(f(v.to_f64()))),
            other => Err(Error::dtype(other, "Shrink")))?;
        Ok(vec![y])
    }
}

fn boxed<F: FloatFn>(name: &'static str, f: F) -> Result<Box<dyn Op>> {
    Ok(Box::new(FloatUnary { name, f }))
}

pub fn register(r: &mut Registry) {
    r.register("", "Relu", |_| Ok(Box::new(Relu)));
    r.register("", "LeakyRelu", |c| {
        boxed(
            "LeakyRelu",
            LeakyRelu(c.attrs.float_or("alpha", 0.01)? as f64),
        )
    });
    r.register("", "Elu", |c| {
        boxed("Elu", Elu(c.attrs.float_or("alpha", 1.0)? as f64))
    });
    r.register("", "Selu", |c| {
        let alpha = c.attrs.float_or("alpha", 1.673_263_192_176_818_8)? as f64;
        let gamma = c.attrs.float_or("gamma", 1.050_701_022_148_132_3)? as f64;
        boxed("Selu", Selu { alpha, gamma })
    });
    r.register("", "Celu", |c| {
        let a = c.attrs.float_or("alpha", 1.0)? as f64;
        ensure!(a != 0.0, "Celu: alpha must be non-zero");
        boxed("Celu", Celu(a))
    });
    r.register("", "HardSigmoid", |c| {
        boxed(
            "HardSigmoid",
            HardSigmoid {
                alpha: c.attrs.float_or("alpha", 0.2)? as f64,
                beta: c.attrs.float_or("beta", 0.5)? as f64,
            },
        )
    });
    r.register("", "HardSwish", |_| boxed("HardSwish", HardSwish));
    r.register("", "ThresholdedRelu", |c| {
        boxed(
            "ThresholdedRelu",
            ThresholdedRelu(c.attrs.float_or("alpha", 1.0)? as f64),
        )
    });
    r.register("", "Gelu", |c| {
        let tanh = match c.attrs.string_or("approximate", "none".into())?.as_str() {
            "none" => false,
            "tanh" => true,
            o => bail!("Gelu: approximate must be 'none' or 'tanh', got '{o}'"),
        };
        boxed("Gelu", Gelu { tanh })
    });
    r.register("", "Shrink", |c| {
        Ok(Box::new(Shrink {
            bias: c.attrs.float_or("bias", 0.0)? as f64,
            lambd: c.attrs.float_or("lambd", 0.5)? as f64,
        }))
    });
}
