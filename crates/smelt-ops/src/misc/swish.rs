//! Swish (opset 24): y = x * sigmoid(alpha * x). Float dtypes; f16/bf16 computed in f32.

use crate::prelude::*;
use num_traits::{Float, NumCast};

#[derive(Debug)]
pub struct Swish {
    alpha: f32,
}

pub fn register(r: &mut Registry) {
    r.register("", "Swish", |c| {
        Ok(Box::new(Swish {
            alpha: c.attrs.float_or("alpha", 1.0)?,
        }))
    });
}

impl Op for Swish {
    fn op_type(&self) -> &str {
        "Swish"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let a = self.alpha as f64;
        dispatch_float!(x.dtype(), T => {
            Ok(vec![unary_map::<T, T>(x, |v| {
                let f: f64 = NumCast::from(v).unwrap_or(f64::NAN);
                <T as NumCast>::from(f / (1.0 + (-a * f).exp())).unwrap_or(T::nan())
            })?])
        }, d => Err(Error::dtype(d, "Swish")))
    }
}
