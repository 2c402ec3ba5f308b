//! Shape: the input's dims as a 1-D int64 tensor, optionally the slice [start, end) (opset
//! >= 15; negative values count from the end, both clamped to [0, rank]).

use super::common::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct Shape {
    start: i64,
    end: Option<i64>,
}

pub fn register(r: &mut Registry) {
    r.register("", "Shape", |ctx| {
        Ok(Box::new(Shape {
            start: ctx.attrs.int_or("start", 0)?,
            end: ctx.attrs.int("end")?,
        }))
    });
}

impl Shape {
    /// The output for an input of these dims.
    fn of(&self, dims: &[usize]) -> Result<Tensor> {
        let (a, b) = self.range(dims.len());
        let v: Vec<i64> = dims[a..b].iter().map(|&d| d as i64).collect();
        Tensor::from_vec(vec![v.len()], v)
    }

    /// The [start, end) range of dims kept for a rank.
    fn range(&self, rank: usize) -> (usize, usize) {
        let r = rank as i64;
        let fix = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
        let s = fix(self.start);
        let e = self.end.map_or(rank, fix);
        (s, e.max(s))
    }
}

impl Op for Shape {
    fn op_type(&self) -> &str {
        "Shape"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let len = in_info(ctx, 0).and_then(|x| x.shape.as_ref()).map(|s| {
            let (a, b) = self.range(s.len());
            Dim::Fixed(b - a)
        });
        Ok(vec![ValueInfo {
            dtype: Some(DType::I64),
            shape: Some(vec![len.unwrap_or(Dim::Unknown)]),
        }])
    }
    fn value_from_types(&self, inputs: &[Option<ValueInfo>]) -> Option<Vec<Tensor>> {
        let dims = inputs.first()?.as_ref()?.concrete_shape()?;
        self.of(&dims).ok().map(|t| vec![t])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        Ok(vec![self.of(req(&inputs, 0)?.shape())?])
    }
}
