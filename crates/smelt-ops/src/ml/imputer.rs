//! Imputer (ai.onnx.ml 1): replaces `replaced_value_float` (NaN matches NaN; default 0) or
//! `replaced_value_int64` (default 0) in X ([N, C] or [C]) by the column's imputed value
//! (`imputed_value_floats` / `imputed_value_int64s`, 1 or C values). Output: X's dtype, shape.

use crate::prelude::*;
use crate::signal::from_f64_any;

#[derive(Debug)]
pub struct Imputer {
    values: Vec<f64>,
    replace: f64,
}

pub fn register(r: &mut Registry) {
    r.register("ai.onnx.ml", "Imputer", |c| {
        let a = c.attrs;
        let fl = a.floats_or("imputed_value_floats", vec![])?;
        let (values, replace) = if !fl.is_empty() {
            (
                fl.into_iter().map(|x| x as f64).collect(),
                a.float_or("replaced_value_float", 0.0)? as f64,
            )
        } else {
            let iv = a.ints_or("imputed_value_int64s", vec![])?;
            ensure!(
                !iv.is_empty(),
                "Imputer: needs imputed_value_floats or imputed_value_int64s"
            );
            (
                iv.into_iter().map(|x| x as f64).collect(),
                a.int_or("replaced_value_int64", 0)? as f64,
            )
        };
        Ok(Box::new(Imputer { values, replace }))
    });
}

impl Op for Imputer {
    fn op_type(&self) -> &str {
        "Imputer"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        ensure!(
            x.dtype().is_numeric() && !x.dtype().is_low_float(),
            "Imputer: input must be numeric, got {}",
            x.dtype()
        );
        ensure!(
            x.rank() == 1 || x.rank() == 2,
            "Imputer: input must be [C] or [N, C], got {:?}",
            x.shape()
        );
        let c = x.shape().last().copied().unwrap_or(1).max(1);
        ensure!(
            self.values.len() == 1 || self.values.len() == c,
            "Imputer: {} imputed values for {c} columns",
            self.values.len()
        );
        let mut v = x.to_f64_vec()?;
        let nan = self.replace.is_nan();
        for (i, a) in v.iter_mut().enumerate() {
            if (nan && a.is_nan()) || *a == self.replace {
                *a = self.values[if self.values.len() == 1 { 0 } else { i % c }];
            }
        }
        Ok(vec![from_f64_any(x.dtype(), x.shape().to_vec(), v)?])
    }
}
