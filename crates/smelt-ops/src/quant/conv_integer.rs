//! ConvInteger (opset 10): Y (i32) = conv(x - x_zero_point, w - w_zero_point). x, w: u8 / i8;
//! x_zero_point scalar; w_zero_point scalar or one per output channel. Conv attributes as in
//! Conv (auto_pad, dilations, group, kernel_shape, pads, strides); padding is zero after
//! centring.

use super::common::{int_conv, to_i32, ConvAttrs};
use crate::prelude::*;

#[derive(Debug)]
pub struct ConvInteger {
    attrs: ConvAttrs,
}

pub fn register(r: &mut Registry) {
    r.register("", "ConvInteger", |ctx| Ok(Box::new(ConvInteger { attrs: ConvAttrs::parse(ctx.attrs)? })));
}

/// Subtracts zero points: `x_zp` scalar; `w_zp` scalar or per output channel (w's dim 0).
pub fn centre(x: &Tensor, x_zp: Option<&Tensor>, w: &Tensor, w_zp: Option<&Tensor>) -> Result<(Vec<i32>, Vec<i32>)> {
    let mut xv = to_i32(x)?;
    let mut wv = to_i32(w)?;
    if let Some(z) = x_zp {
        let z = to_i32(z)?;
        ensure!(z.len() == 1, "x zero point must be a scalar, has {} elements", z.len());
        xv.iter_mut().for_each(|v| *v -= z[0]);
    }
    if let Some(z) = w_zp {
        let z = to_i32(z)?;
        let m = w.shape().first().copied().unwrap_or(0);
        let per = if m == 0 { 0 } else { w.len() / m };
        if z.len() == 1 {
            wv.iter_mut().for_each(|v| *v -= z[0]);
        } else {
            ensure!(z.len() == m, "w zero point has {} elements, expected 1 or {m}", z.len());
            for (i, v) in wv.iter_mut().enumerate() {
                *v -= z[i / per];
            }
        }
    }
    Ok((xv, wv))
}

impl Op for ConvInteger {
    fn op_type(&self) -> &str {
        "ConvInteger"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let w = req(&inputs, 1)?;
        for t in [Some(x), Some(w), opt(&inputs, 2), opt(&inputs, 3)].into_iter().flatten() {
            ensure!(matches!(t.dtype(), DType::U8 | DType::I8), "ConvInteger takes u8 / i8, got {}", t.dtype());
        }
        let (xv, wv) = centre(x, opt(&inputs, 2), w, opt(&inputs, 3))?;
        let (shape, v) = int_conv(&xv, x.shape(), &wv, w.shape(), &self.attrs)?;
        Ok(vec![Tensor::from_vec(shape, v)?])
    }
}
