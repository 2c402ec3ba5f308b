//! FeatureVectorizer (ai.onnx.ml 1): concatenates inputs ([N, C_i] or [C_i] as one row)
//! along the feature axis, each cut or zero-padded to `inputdimensions[i]` columns.
//! Output float [N, Σ inputdimensions].

use crate::prelude::*;

#[derive(Debug)]
pub struct FeatureVectorizer {
    dims: Vec<usize>,
}

pub fn register(r: &mut Registry) {
    r.register("ai.onnx.ml", "FeatureVectorizer", |c| {
        let d = c.attrs.ints_or("inputdimensions", vec![])?;
        let dims = d
            .iter()
            .map(|&x| {
                usize::try_from(x).map_err(|_| {
                    Error::invalid(format!("FeatureVectorizer: negative input dimension {x}"))
                })
            })
            .collect::<Result<_>>()?;
        Ok(Box::new(FeatureVectorizer { dims }))
    });
}

impl Op for FeatureVectorizer {
    fn op_type(&self) -> &str {
        "FeatureVectorizer"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        ensure!(
            inputs.len() == self.dims.len(),
            "FeatureVectorizer: {} inputs but {} inputdimensions",
            inputs.len(),
            self.dims.len()
        );
        let mut n = None;
        let mut parts = vec![];
        for (i, &d) in self.dims.iter().enumerate() {
            let t = req(&inputs, i)?;
            let (rows, cols) = match t.shape() {
                [c] => (1, *c),
                [r, c] => (*r, *c),
                s => bail!("FeatureVectorizer: input {i} must be 1-D or 2-D, got {s:?}"),
            };
            ensure!(
                n.is_none_or(|n| n == rows),
                "FeatureVectorizer: input {i} has {rows} rows, expected {n:?}"
            );
            n = Some(rows);
            parts.push((t.to_f64_vec()?, cols, d));
        }
        let n = n.unwrap_or(0);
        let total: usize = self.dims.iter().sum();
        let mut out = vec![0f32; n * total];
        for r in 0..n {
            let mut off = r * total;
            for (v, cols, d) in &parts {
                for j in 0..(*cols).min(*d) {
                    out[off + j] = v[r * cols + j] as f32;
                }
                off += d;
            }
        }
        Ok(vec![Tensor::from_vec(vec![n, total], out)?])
    }
}
