//! OneHotEncoder (ai.onnx.ml 1): one-hot codes of X (strings against `cats_strings`, numbers
//! against `cats_int64s`). Output float [*X.shape, n_cats]. With `zeros` = 0 a value outside
//! the categories is an error; otherwise its row is all zeros.

use crate::prelude::*;

#[derive(Debug)]
pub struct OneHotEncoder {
    ints: Vec<i64>,
    strings: Vec<String>,
    zeros: bool,
}

pub fn register(r: &mut Registry) {
    r.register("ai.onnx.ml", "OneHotEncoder", |c| {
        let ints = c.attrs.ints_or("cats_int64s", vec![])?;
        let strings = c.attrs.strings_or("cats_strings", vec![])?;
        ensure!(
            !ints.is_empty() || !strings.is_empty(),
            "OneHotEncoder: needs cats_int64s or cats_strings"
        );
        Ok(Box::new(OneHotEncoder {
            ints,
            strings,
            zeros: c.attrs.int_or("zeros", 1)? != 0,
        }))
    });
}

impl Op for OneHotEncoder {
    fn op_type(&self) -> &str {
        "OneHotEncoder"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let hits: Vec<Option<usize>> = if x.dtype() == DType::String {
            ensure!(
                !self.strings.is_empty(),
                "OneHotEncoder: string input needs cats_strings"
            );
            x.as_slice::<String>()?
                .iter()
                .map(|s| self.strings.iter().position(|c| c == s))
                .collect()
        } else {
            ensure!(
                !self.ints.is_empty(),
                "OneHotEncoder: numeric input needs cats_int64s"
            );
            x.to_f64_vec()?
                .iter()
                .map(|&v| self.ints.iter().position(|&c| c as f64 == v))
                .collect()
        };
        let n = if x.dtype() == DType::String {
            self.strings.len()
        } else {
            self.ints.len()
        };
        let mut out = vec![0f32; hits.len() * n];
        for (i, h) in hits.iter().enumerate() {
            match h {
                Some(j) => out[i * n + j] = 1.0,
                None if !self.zeros => {
                    bail!("OneHotEncoder: element {i} is not a known category (zeros = 0)")
                }
                None => {}
            }
        }
        let mut shape = x.shape().to_vec();
        shape.push(n);
        Ok(vec![Tensor::from_vec(shape, out)?])
    }
}
