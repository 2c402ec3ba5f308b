//! Identity: y = x. Any dtype.

use crate::prelude::*;

#[derive(Debug)]
pub struct Identity;

pub fn register(r: &mut Registry) {
    r.register("", "Identity", |_| Ok(Box::new(Identity)));
}

impl Op for Identity {
    fn op_type(&self) -> &str {
        "Identity"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        Ok(vec![ctx
            .inputs
            .first()
            .cloned()
            .flatten()
            .unwrap_or_default()])
    }
    fn is_identity(&self, _: &[Option<ValueInfo>], _: &[Option<&Tensor>]) -> bool {
        true
    }
    fn eval(&self, _: &EvalCtx, mut inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        Ok(vec![take(&mut inputs, 0)?])
    }
}
