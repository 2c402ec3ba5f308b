//! ArrayFeatureExtractor (ai.onnx.ml 1): selects entries of X's last dim by the int64 indices
//! Y (flattened). Output [..., len(Y)] (a 1-D X gives [1, len(Y)]); X's dtype (any).

use crate::prelude::*;

#[derive(Debug)]
pub struct ArrayFeatureExtractor;

pub fn register(r: &mut Registry) {
    r.register("ai.onnx.ml", "ArrayFeatureExtractor", |_| {
        Ok(Box::new(ArrayFeatureExtractor))
    });
}

impl Op for ArrayFeatureExtractor {
    fn op_type(&self) -> &str {
        "ArrayFeatureExtractor"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let idx = req(&inputs, 1)?.to_i64_vec()?;
        ensure!(
            x.rank() >= 1,
            "ArrayFeatureExtractor: input must have rank >= 1"
        );
        let c = x.shape()[x.rank() - 1];
        let idx: Vec<usize> = idx
            .iter()
            .map(|&i| {
                if i >= 0 && (i as usize) < c {
                    Ok(i as usize)
                } else {
                    Err(Error::invalid(format!(
                        "ArrayFeatureExtractor: index {i} out of range for last dim {c}"
                    )))
                }
            })
            .collect::<Result<_>>()?;
        let rows = if c == 0 { 0 } else { x.len() / c };
        let mut shape = if x.rank() == 1 {
            vec![1]
        } else {
            x.shape()[..x.rank() - 1].to_vec()
        };
        shape.push(idx.len());
        dispatch_any!(x.dtype(), T => {
            let s = x.as_slice::<T>()?;
            let mut v: Vec<T> = Vec::with_capacity(rows * idx.len());
            for r in 0..rows {
                v.extend(idx.iter().map(|&i| s[r * c + i].clone()));
            }
            Ok(vec![Tensor::new(x.dtype(), shape, T::into_data(v))?])
        })
    }
}
