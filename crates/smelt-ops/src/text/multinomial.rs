//! Multinomial (opset 7): draws `sample_size` (default 1) class indices per batch row from
//! x: [batch, classes] unnormalized log-probabilities. Output [batch, sample_size] of dtype
//! `dtype` (int32 default, or int64). Values come from smelt's own generator (random.rs).

use super::random::Rng;
use crate::prelude::*;
use crate::signal::{ensure_float, from_f64_any};

#[derive(Debug)]
pub struct Multinomial {
    dtype: DType,
    samples: usize,
    seed: Option<f32>,
}

pub fn register(r: &mut Registry) {
    r.register("", "Multinomial", |c| {
        let dtype = dtype_from_onnx(c.attrs.int_or("dtype", 6)?)?;
        ensure!(
            matches!(dtype, DType::I32 | DType::I64),
            "Multinomial: dtype must be int32 or int64, got {dtype}"
        );
        let n = c.attrs.int_or("sample_size", 1)?;
        ensure!(n >= 1, "Multinomial: sample_size must be positive, got {n}");
        Ok(Box::new(Multinomial {
            dtype,
            samples: n as usize,
            seed: c.attrs.float("seed")?,
        }))
    });
}

impl Op for Multinomial {
    /// Unseeded draws differ on every evaluation: never folded, merged or dropped.
    fn is_pure(&self) -> bool {
        self.seed.is_some()
    }
    fn op_type(&self) -> &str {
        "Multinomial"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        ensure_float(x, "Multinomial input")?;
        let [b, c] = *x.shape() else {
            bail!(
                "Multinomial: input must be [batch, classes], got {:?}",
                x.shape()
            )
        };
        ensure!(c >= 1, "Multinomial: no classes");
        let lp = x.to_f64_vec()?;
        let mut rng = Rng::new(self.seed);
        let mut out = Vec::with_capacity(b * self.samples);
        for row in lp.chunks(c) {
            let mx = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let w: Vec<f64> = row.iter().map(|&v| (v - mx).exp()).collect();
            let total: f64 = w.iter().sum();
            ensure!(
                total.is_finite() && total > 0.0,
                "Multinomial: row has no finite probabilities"
            );
            for _ in 0..self.samples {
                let mut u = rng.uniform() * total;
                let mut k = c - 1;
                for (i, &wi) in w.iter().enumerate() {
                    if u < wi {
                        k = i;
                        break;
                    }
                    u -= wi;
                }
                out.push(k as f64);
            }
        }
        Ok(vec![from_f64_any(self.dtype, vec![b, self.samples], out)?])
    }
}
