//! QLinearConv (opset 10): y = saturate(round(conv(x - x_zp, w - w_zp) + B) * x_scale *
//! w_scale / y_scale) + y_zp). x, w, y: u8 / i8; w_scale and w_zero_point scalar or one per
//! output channel; B optional i32 [M]. Conv attributes as in Conv.

use super::common::{int_conv, ConvAttrs};
use super::lowbit::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct QLinearConv {
    attrs: ConvAttrs,
}

pub fn register(r: &mut Registry) {
    r.register("", "QLinearConv", |ctx| {
        Ok(Box::new(QLinearConv {
            attrs: ConvAttrs::parse(ctx.attrs)?,
        }))
    });
}

impl Op for QLinearConv {
    fn op_type(&self) -> &str {
        "QLinearConv"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let x_s = req(&inputs, 1)?;
        let w = req(&inputs, 3)?;
        let w_s = req(&inputs, 4)?;
        let y_s = req(&inputs, 6)?;
        let y_zp = opt(&inputs, 7);
        for t in [x, w] {
            ensure!(
                matches!(t.dtype(), DType::U8 | DType::I8),
                "QLinearConv takes u8 / i8, got {}",
                t.dtype()
            );
        }
        let (shape, mut acc) = int_conv(x, opt(&inputs, 2), w, opt(&inputs, 5), &self.attrs)?;
        let m = shape[1];
        let sp = numel(&shape[2..]);
        if let Some(b) = opt(&inputs, 8) {
            let bv = b
                .as_slice::<i32>()
                .map_err(|_| Error::dtype(b.dtype(), "QLinearConv bias (int32)"))?;
            ensure!(
                bv.len() == m,
                "bias has {} elements, expected {m}",
                bv.len()
            );
            for (i, v) in acc.iter_mut().enumerate() {
                *v = v.wrapping_add(bv[(i / sp) % m]);
            }
        }
        let xs = to_f32(x_s)?;
        let ws = to_f32(w_s)?;
        let ys = to_f32(y_s)?;
        ensure!(
            xs.len() == 1 && ys.len() == 1,
            "x_scale and y_scale must be scalars"
        );
        ensure!(
            ws.len() == 1 || ws.len() == m,
            "w_scale has {} elements, expected 1 or {m}",
            ws.len()
        );
        let out_dt = y_zp.map_or(x.dtype(), |z| z.dtype());
        let (lo, hi) =
            int_range(out_dt).ok_or_else(|| Error::dtype(out_dt, "QLinearConv output"))?;
        let yz = match y_zp {
            Some(z) => {
                let v = z.to_i64_vec()?;
                ensure!(v.len() == 1, "y_zero_point must be a scalar");
                v[0] as f32
            }
            None => 0.0,
        };
        // one multiplier per output channel; acc is [N, M, spatial]
        let mut v: Vec<i64> = Vec::with_capacity(acc.len());
        for (i, plane) in acc.chunks(sp.max(1)).enumerate() {
            let oc = i % m;
            let mul = (xs[0] * ws[if ws.len() == 1 { 0 } else { oc }] / ys[0]) as f64;
            v.extend(
                plane
                    .iter()
                    .map(|&c| (round_half_even(c as f64 * mul + yz as f64) as i64).clamp(lo, hi)),
            );
        }
        Ok(vec![int_tensor(out_dt, shape, v)?])
    }
}
