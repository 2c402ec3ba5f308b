//! Bernoulli (opset 15): y[i] = 1 with probability x[i] (a float tensor of probabilities in
//! [0, 1]), else 0. Output dtype `dtype` (default: x's dtype; any numeric or bool type).
//! Values come from smelt's own generator (see random.rs), fixed by `seed` when given.

use super::random::Rng;
use crate::prelude::*;
use crate::signal::{ensure_float, from_f64_any};

#[derive(Debug)]
pub struct Bernoulli {
    dtype: Option<DType>,
    seed: Option<f32>,
}

pub fn register(r: &mut Registry) {
    r.register("", "Bernoulli", |c| {
        let dtype = c.attrs.int("dtype")?.map(dtype_from_onnx).transpose()?;
        if let Some(d) = dtype {
            ensure!(
                (d.is_numeric() && !d.is_low_float()) || d == DType::Bool,
                "Bernoulli: dtype must be numeric or bool, got {d}"
            );
        }
        Ok(Box::new(Bernoulli {
            dtype,
            seed: c.attrs.float("seed")?,
        }))
    });
}

impl Op for Bernoulli {
    /// Unseeded draws differ on every evaluation: never folded, merged or dropped.
    fn is_pure(&self) -> bool {
        self.seed.is_some()
    }
    fn op_type(&self) -> &str {
        "Bernoulli"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        ensure_float(x, "Bernoulli input")?;
        let p = x.to_f64_vec()?;
        if let Some(bad) = p.iter().find(|&&q| !(0.0..=1.0).contains(&q)) {
            bail!("Bernoulli: probability {bad} outside [0, 1]");
        }
        let mut rng = Rng::new(self.seed);
        let v: Vec<f64> = p
            .iter()
            .map(|&q| if rng.uniform() < q { 1.0 } else { 0.0 })
            .collect();
        Ok(vec![from_f64_any(
            self.dtype.unwrap_or(x.dtype()),
            x.shape().to_vec(),
            v,
        )?])
    }
}
