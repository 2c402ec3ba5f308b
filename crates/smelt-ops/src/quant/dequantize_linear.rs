//! DequantizeLinear: y = (x - x_zero_point) * x_scale, computed in f32.
//!
//! Opset 10: per-tensor. 13: `axis`. 19: float8 x, f16/bf16 scales. 21: `block_size`,
//! u16/i16/u4/i4. 23+: float4e2m1, `output_dtype`. x may be int32 (no zero point or an
//! int32 one). The output dtype is `output_dtype` when set, else the scale's dtype.

use super::common::ParamMap;
use super::lowbit::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct DequantizeLinear {
    axis: i64,
    block_size: i64,
    output_dtype: Option<DType>,
}

pub fn register(r: &mut Registry) {
    r.register("", "DequantizeLinear", |ctx| {
        let a = ctx.attrs;
        let output_dtype = match a.int("output_dtype")? {
            Some(0) | None => None,
            Some(c) => Some(dtype_from_onnx(c)?),
        };
        let block_size = a.int_or("block_size", 0)?;
        ensure!(block_size >= 0, "block_size must be >= 0, got {block_size}");
        Ok(Box::new(DequantizeLinear {
            axis: a.int_or("axis", 1)?,
            block_size,
            output_dtype,
        }))
    });
}

impl Op for DequantizeLinear {
    fn op_type(&self) -> &str {
        "DequantizeLinear"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let x = ctx.inputs.first().cloned().flatten().unwrap_or_default();
        let s = ctx.inputs.get(1).cloned().flatten().and_then(|v| v.dtype);
        Ok(vec![ValueInfo {
            dtype: self.output_dtype.or(s),
            shape: x.shape,
        }])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let scale = req(&inputs, 1)?;
        let zp = opt(&inputs, 2);
        ensure!(
            scale.dtype().is_float(),
            "x_scale must be float, got {}",
            scale.dtype()
        );
        let xd = x.dtype();
        ensure!(
            int_range(xd).is_some() || xd.is_low_float(),
            "DequantizeLinear does not take x of dtype {xd}"
        );
        let out_dt = self.output_dtype.unwrap_or(scale.dtype());
        ensure!(
            out_dt.is_float(),
            "output_dtype must be a float type, got {out_dt}"
        );
        let smap = ParamMap::new(x.shape(), scale.shape(), self.axis, self.block_size)?;
        let sv = to_f32(scale)?;
        let xv = to_f32(x)?;
        let zero = match zp {
            Some(z) => {
                ensure!(
                    z.dtype() == xd,
                    "zero point dtype {} != x dtype {xd}",
                    z.dtype()
                );
                ensure!(
                    z.shape() == scale.shape() || z.len() == 1 && scale.len() == 1,
                    "zero point shape {:?} != scale shape {:?}",
                    z.shape(),
                    scale.shape()
                );
                let zv = to_f32(z)?;
                if xd.is_low_float() && xd != DType::F4E2M1 {
                    ensure!(
                        zv.iter().all(|&v| v == 0.0),
                        "float8 zero point must be zero"
                    );
                }
                Some((
                    ParamMap::new(x.shape(), z.shape(), self.axis, self.block_size)?,
                    zv,
                ))
            }
            None => None,
        };
        let v: Vec<f32> = if xd == DType::I32 {
            // exact centring in i64 before the float multiply
            let xi = x.to_i64_vec()?;
            let zi = match zp {
                Some(z) => z.to_i64_vec()?,
                None => vec![0],
            };
            let zm = zero.as_ref().map(|(m, _)| m);
            xi.iter()
                .enumerate()
                .map(|(i, &q)| (q - zm.map_or(0, |m| zi[m.index(i)])) as f32 * sv[smap.index(i)])
                .collect()
        } else {
            xv.iter()
                .enumerate()
                .map(|(i, &q)| {
                    (q - zero.as_ref().map_or(0.0, |(m, z)| z[m.index(i)])) * sv[smap.index(i)]
                })
                .collect()
        };
        Ok(vec![float_tensor(out_dt, x.shape().to_vec(), v)?])
    }
}
