//! StringConcat (opset 20): element-wise `x + y` on string tensors with numpy broadcasting.

use crate::prelude::*;

#[derive(Debug)]
pub struct StringConcat;

pub fn register(r: &mut Registry) {
    r.register("", "StringConcat", |_| Ok(Box::new(StringConcat)));
}

impl Op for StringConcat {
    fn op_type(&self) -> &str {
        "StringConcat"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let (a, b) = (req(&inputs, 0)?, req(&inputs, 1)?);
        ensure!(
            a.dtype() == DType::String && b.dtype() == DType::String,
            "StringConcat: inputs must be strings, got {} and {}",
            a.dtype(),
            b.dtype()
        );
        Ok(vec![binary_map::<String, String, String>(a, b, |x, y| {
            x + &y
        })?])
    }
}
