//! Normalizer (ai.onnx.ml 1): divides each row of X ([N, C], or [C] as one row) by its
//! `norm` (MAX: max |x|, L1: Σ|x|, L2: √Σx²), floored at 1e-30. Output float, X's shape.

use crate::prelude::*;

#[derive(Debug, Clone, Copy)]
enum Norm {
    Max,
    L1,
    L2,
}

#[derive(Debug)]
pub struct Normalizer {
    norm: Norm,
}

pub fn register(r: &mut Registry) {
    r.register("ai.onnx.ml", "Normalizer", |c| {
        let norm = match c.attrs.string_or("norm", "MAX".into())?.as_str() {
            "MAX" => Norm::Max,
            "L1" => Norm::L1,
            "L2" => Norm::L2,
            o => bail!("Normalizer: norm must be MAX, L1 or L2, got '{o}'"),
        };
        Ok(Box::new(Normalizer { norm }))
    });
}

impl Op for Normalizer {
    fn op_type(&self) -> &str {
        "Normalizer"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        ensure!(
            x.rank() == 1 || x.rank() == 2,
            "Normalizer: input must be [C] or [N, C], got {:?}",
            x.shape()
        );
        ensure!(
            x.dtype().is_numeric() && !x.dtype().is_low_float(),
            "Normalizer: input must be numeric, got {}",
            x.dtype()
        );
        let c = *x.shape().last().unwrap_or(&1);
        let v = x.to_f64_vec()?;
        let mut out = Vec::with_capacity(v.len());
        for row in v.chunks(c.max(1)) {
            let d = match self.norm {
                Norm::Max => row.iter().fold(0.0f64, |m, a| m.max(a.abs())),
                Norm::L1 => row.iter().map(|a| a.abs()).sum(),
                Norm::L2 => row.iter().map(|a| a * a).sum::<f64>().sqrt(),
            }
            .max(1e-30);
            out.extend(row.iter().map(|a| (a / d) as f32));
        }
        Ok(vec![Tensor::from_vec(x.shape().to_vec(), out)?])
    }
}
