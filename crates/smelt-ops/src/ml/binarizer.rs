//! Binarizer (ai.onnx.ml 1): y = 1 where x > `threshold` (default 0), else 0; x's dtype and shape.

use crate::prelude::*;
use crate::signal::from_f64_any;

#[derive(Debug)]
pub struct Binarizer {
    threshold: f64,
}

pub fn register(r: &mut Registry) {
    r.register("ai.onnx.ml", "Binarizer", |c| {
        Ok(Box::new(Binarizer {
            threshold: c.attrs.float_or("threshold", 0.0)? as f64,
        }))
    });
}

impl Op for Binarizer {
    fn op_type(&self) -> &str {
        "Binarizer"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        ensure!(
            x.dtype().is_numeric() && !x.dtype().is_low_float(),
            "Binarizer: input must be numeric, got {}",
            x.dtype()
        );
        let v = x
            .to_f64_vec()?
            .into_iter()
            .map(|a| if a > self.threshold { 1.0 } else { 0.0 })
            .collect();
        Ok(vec![from_f64_any(x.dtype(), x.shape().to_vec(), v)?])
    }
}
