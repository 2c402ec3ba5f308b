//! Size: the input's element count as an int64 scalar.

use super::common::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct Size;

pub fn register(r: &mut Registry) {
    r.register("", "Size", |_| Ok(Box::new(Size)));
}

impl Op for Size {
    fn op_type(&self) -> &str {
        "Size"
    }
    fn infer(&self, _ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let _ = in_info;
        Ok(vec![ValueInfo::fixed(DType::I64, &[])])
    }
    fn value_from_types(&self, inputs: &[Option<ValueInfo>]) -> Option<Vec<Tensor>> {
        let dims = inputs.first()?.as_ref()?.concrete_shape()?;
        Some(vec![Tensor::scalar(dims.iter().product::<usize>() as i64)])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        Ok(vec![Tensor::scalar(req(&inputs, 0)?.len() as i64)])
    }
}
