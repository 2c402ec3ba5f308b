//! DynamicQuantizeLinear (opset 11): f32 x -> (y u8, y_scale f32 scalar, y_zero_point u8
//! scalar), with the range [min(0, min x), max(0, max x)] mapped onto 0..=255.

use super::lowbit::rint32;
use crate::prelude::*;

#[derive(Debug)]
pub struct DynamicQuantizeLinear;

pub fn register(r: &mut Registry) {
    r.register("", "DynamicQuantizeLinear", |_| {
        Ok(Box::new(DynamicQuantizeLinear))
    });
}

impl Op for DynamicQuantizeLinear {
    fn op_type(&self) -> &str {
        "DynamicQuantizeLinear"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let x = ctx.inputs.first().cloned().flatten().unwrap_or_default();
        Ok(vec![
            ValueInfo {
                dtype: Some(DType::U8),
                shape: x.shape,
            },
            ValueInfo::fixed(DType::F32, &[]),
            ValueInfo::fixed(DType::U8, &[]),
        ])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let xv = x
            .as_slice::<f32>()
            .map_err(|_| Error::dtype(x.dtype(), "DynamicQuantizeLinear x (f32 only)"))?;
        let (qmin, qmax) = (0f32, 255f32);
        let maxx = xv.iter().fold(0f32, |a, &b| a.max(b));
        let minx = xv.iter().fold(0f32, |a, &b| a.min(b));
        let scale = if maxx == minx { 1.0 } else { maxx - minx } / (qmax - qmin);
        let zp = rint32((qmin - minx / scale).clamp(qmin, qmax));
        let y: Vec<u8> = xv
            .iter()
            .map(|&v| (rint32(v / scale) + zp).clamp(qmin, qmax) as u8)
            .collect();
        Ok(vec![
            Tensor::from_vec(x.shape().to_vec(), y)?,
            Tensor::scalar(scale),
            Tensor::scalar(zp as u8),
        ])
    }
}
