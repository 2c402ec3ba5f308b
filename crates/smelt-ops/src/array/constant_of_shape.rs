//! ConstantOfShape: a tensor of the given shape (1-D int64 input) filled with the one-element
//! `value` attribute (default f32 0). Any dtype.

use super::common::*;
use crate::prelude::*;

/// The largest output rank inference spells out from a shape input's declared length.
const MAX_INFERRED_RANK: usize = 1024;

#[derive(Debug)]
pub struct ConstantOfShape {
    value: Tensor,
}

pub fn register(r: &mut Registry) {
    r.register("", "ConstantOfShape", |ctx| {
        let value = ctx
            .attrs
            .tensor("value")?
            .unwrap_or_else(|| Tensor::scalar(0f32));
        ensure!(
            value.len() == 1,
            "ConstantOfShape value must hold one element, has shape {:?}",
            value.shape()
        );
        Ok(Box::new(ConstantOfShape { value }))
    });
}

impl Op for ConstantOfShape {
    fn op_type(&self) -> &str {
        "ConstantOfShape"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let shape = match in_const(ctx, 0) {
            Some(t) => Some(
                shape_input(t, "ConstantOfShape shape")?
                    .into_iter()
                    .map(Dim::Fixed)
                    .collect(),
            ),
            // the output rank is the shape input's declared length: a number from the
            // file, not data present, so a rank past MAX_INFERRED_RANK is left unknown
            None => in_info(ctx, 0)
                .and_then(|i| i.concrete_shape())
                .and_then(|s| s.first().copied())
                .filter(|&n| n <= MAX_INFERRED_RANK)
                .map(|n| vec![Dim::Unknown; n]),
        };
        Ok(vec![ValueInfo {
            dtype: Some(self.value.dtype()),
            shape,
        }])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let shape = shape_input(req(&inputs, 0)?, "ConstantOfShape shape")?;
        let n = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| Error::shape(format!("shape {shape:?} overflows")))?;
        let v = &self.value;
        dispatch_any!(v.dtype(), T => {
            let x = v.as_slice::<T>()?[0].clone();
            Ok(vec![mk(v.dtype(), shape, vec![x; n])?])
        })
    }
}
