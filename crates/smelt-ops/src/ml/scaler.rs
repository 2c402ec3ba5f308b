//! Scaler (ai.onnx.ml 1): y = (x − offset) · scale along the last dim (`offset`, `scale`
//! hold 1 or C values; defaults 0 and 1). Output float, X's shape.

use crate::prelude::*;

#[derive(Debug)]
pub struct Scaler {
    offset: Vec<f64>,
    scale: Vec<f64>,
}

pub fn register(r: &mut Registry) {
    r.register("ai.onnx.ml", "Scaler", |c| {
        let f = |n: &str| -> Result<Vec<f64>> {
            Ok(c.attrs
                .floats_or(n, vec![])?
                .into_iter()
                .map(|x| x as f64)
                .collect())
        };
        Ok(Box::new(Scaler {
            offset: f("offset")?,
            scale: f("scale")?,
        }))
    });
}

/// The per-column value of a 1-or-C list (`default` when empty).
fn col(v: &[f64], j: usize, default: f64) -> f64 {
    match v.len() {
        0 => default,
        1 => v[0],
        _ => v[j],
    }
}

impl Op for Scaler {
    fn op_type(&self) -> &str {
        "Scaler"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        ensure!(
            x.dtype().is_numeric() && !x.dtype().is_low_float(),
            "Scaler: input must be numeric, got {}",
            x.dtype()
        );
        let c = x.shape().last().copied().unwrap_or(1).max(1);
        for (n, v) in [("offset", &self.offset), ("scale", &self.scale)] {
            ensure!(
                v.len() <= 1 || v.len() == c,
                "Scaler: {n} has {} values, input has {c} columns",
                v.len()
            );
        }
        let v = x.to_f64_vec()?;
        let out: Vec<f32> = v
            .iter()
            .enumerate()
            .map(|(i, a)| {
                ((a - col(&self.offset, i % c, 0.0)) * col(&self.scale, i % c, 1.0)) as f32
            })
            .collect();
        Ok(vec![Tensor::from_vec(x.shape().to_vec(), out)?])
    }
}
