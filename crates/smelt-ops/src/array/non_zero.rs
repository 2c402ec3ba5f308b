//! NonZero: the coordinates of the non-zero (non-default) elements, as int64 [rank, count] in
//! row-major order (a scalar is treated as a 1-element 1-D tensor).

use super::common::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct NonZero;

pub fn register(r: &mut Registry) {
    r.register("", "NonZero", |_| Ok(Box::new(NonZero)));
}

impl Op for NonZero {
    fn op_type(&self) -> &str {
        "NonZero"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let r = in_info(ctx, 0)
            .and_then(|i| i.shape.as_ref())
            .map_or(Dim::Unknown, |s| Dim::Fixed(s.len().max(1)));
        Ok(vec![ValueInfo::new(DType::I64, vec![r, Dim::Unknown])])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let shape: Vec<usize> = if x.rank() == 0 {
            vec![1]
        } else {
            x.shape().to_vec()
        };
        let hits: Vec<usize> = dispatch_any!(x.dtype(), T => {
            let z = T::default();
            x.as_slice::<T>()?.iter().enumerate().filter(|(_, v)| **v != z).map(|(i, _)| i).collect()
        });
        let r = shape.len();
        let n = hits.len();
        let mut out = vec![0i64; r * n];
        for (k, &h) in hits.iter().enumerate() {
            let mut rem = h;
            for d in (0..r).rev() {
                out[d * n + k] = (rem % shape[d]) as i64;
                rem /= shape[d];
            }
        }
        Ok(vec![Tensor::from_vec(vec![r, n], out)?])
    }
}
