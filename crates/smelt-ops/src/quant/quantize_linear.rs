//! QuantizeLinear: y = saturate(round(x / y_scale) + y_zero_point).
//!
//! Opset 10: per-tensor, u8/i8. 13: `axis` (per-axis, 1-D scale). 19: float8 outputs,
//! `saturate`, f16/bf16 x. 21: `block_size` (blocked scales, same rank as x), `output_dtype`,
//! u16/i16/u4/i4. 23+: float4e2m1, `precision` (dtype the division is done in).
//! The output dtype is the zero point's, else `output_dtype`, else u8. Integer outputs round
//! half to even and clamp; float outputs convert with round-to-nearest-even (saturating when
//! `saturate`, float8 only; float4 always saturates).

use super::common::ParamMap;
use super::lowbit::*;
use crate::prelude::*;

#[derive(Debug)]
pub struct QuantizeLinear {
    axis: i64,
    saturate: bool,
    block_size: i64,
    output_dtype: Option<DType>,
    precision: Option<DType>,
}

pub fn register(r: &mut Registry) {
    r.register("", "QuantizeLinear", |ctx| {
        let a = ctx.attrs;
        let output_dtype = match a.int("output_dtype")? {
            Some(0) | None => None,
            Some(c) => Some(dtype_from_onnx(c)?),
        };
        let precision = match a.int("precision")? {
            Some(0) | None => None,
            Some(c) => Some(dtype_from_onnx(c)?),
        };
        let block_size = a.int_or("block_size", 0)?;
        ensure!(block_size >= 0, "block_size must be >= 0, got {block_size}");
        Ok(Box::new(QuantizeLinear {
            axis: a.int_or("axis", 1)?,
            saturate: a.int_or("saturate", 1)? != 0,
            block_size,
            output_dtype,
            precision,
        }))
    });
}

impl Op for QuantizeLinear {
    fn op_type(&self) -> &str {
        "QuantizeLinear"
    }
    fn infer(&self, ctx: &InferCtx) -> Result<Vec<ValueInfo>> {
        let x = ctx.inputs.first().cloned().flatten().unwrap_or_default();
        let zp = ctx.inputs.get(2).cloned().flatten().and_then(|v| v.dtype);
        let dtype = zp.or(self.output_dtype).unwrap_or(DType::U8);
        Ok(vec![ValueInfo {
            dtype: Some(dtype),
            shape: x.shape,
        }])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let scale = req(&inputs, 1)?;
        let zp = opt(&inputs, 2);
        let out_dt = match (zp, self.output_dtype) {
            (Some(z), Some(o)) if z.dtype() != o => bail!(
                "output_dtype {o} differs from zero point dtype {}",
                z.dtype()
            ),
            (Some(z), _) => z.dtype(),
            (None, Some(o)) => o,
            (None, None) => DType::U8,
        };
        ensure!(
            scale.dtype().is_float(),
            "y_scale must be float, got {}",
            scale.dtype()
        );
        ensure!(
            x.dtype().is_float() || x.dtype() == DType::I32,
            "x must be float or int32, got {}",
            x.dtype()
        );
        let smap = ParamMap::new(x.shape(), scale.shape(), self.axis, self.block_size)?;
        let zmap = match zp {
            Some(z) => {
                ensure!(
                    z.shape() == scale.shape() || z.len() == 1 && scale.len() == 1,
                    "zero point shape {:?} != scale shape {:?}",
                    z.shape(),
                    scale.shape()
                );
                Some((
                    ParamMap::new(x.shape(), z.shape(), self.axis, self.block_size)?,
                    to_f32(z)?,
                ))
            }
            None => None,
        };
        let sv = to_f32(scale)?;
        // The dtype x / scale is computed in: `precision`, else numpy's promotion of x and scale.
        let calc_dt = self.precision.unwrap_or_else(|| {
            let (a, b) = (x.dtype(), scale.dtype());
            if a == b || a == DType::I32 {
                b
            } else {
                DType::F32
            }
        });
        let xv: Vec<f64> = if x.dtype() == DType::I32 {
            x.to_i64_vec()?.into_iter().map(|v| v as f64).collect()
        } else {
            to_f32(x)?.into_iter().map(|v| v as f64).collect()
        };
        let n = xv.len();
        let q = |i: usize| -> f64 {
            let s = sv[smap.index(i)];
            let v = if calc_dt == DType::F64 {
                xv[i] / s as f64
            } else {
                round_to(
                    calc_dt,
                    round_to(calc_dt, xv[i] as f32) / round_to(calc_dt, s),
                ) as f64
            };
            v
        };
        let zpv = |i: usize| -> f64 { zmap.as_ref().map_or(0.0, |(m, z)| z[m.index(i)] as f64) };
        let shape = x.shape().to_vec();
        if let Some((lo, hi)) = int_range(out_dt) {
            ensure!(out_dt != DType::I32, "QuantizeLinear cannot output int32");
            let v: Vec<i64> = (0..n)
                .map(|i| (round_half_even(q(i)) + zpv(i)).clamp(lo as f64, hi as f64) as i64)
                .collect();
            return Ok(vec![int_tensor(out_dt, shape, v)?]);
        }
        if out_dt.is_low_float() {
            let sat = self.saturate || out_dt == DType::F4E2M1;
            let v: Vec<u8> = (0..n)
                .map(|i| f32_to_lowfloat(out_dt, (q(i) + zpv(i)) as f32, sat))
                .collect();
            return Ok(vec![Tensor::new(out_dt, shape, Data::U8(v))?]);
        }
        Err(Error::dtype(out_dt, "QuantizeLinear output"))
    }
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;
    use crate::rnn::common::testing::eval;

    #[test]
    fn blocked_with_remainder_block() {
        // x [2, 5], blocks of 2 along axis 1 -> 3 blocks, the last holding one element
        let x = Tensor::from_vec(
            vec![2, 5],
            vec![1f32, 2., 3., 4., 5., -1., -2., -3., -4., -5.],
        )
        .unwrap();
        let s = Tensor::from_vec(vec![2, 3], vec![1f32, 2., 0.5, 1., 2., 0.5]).unwrap();
        let z = Tensor::from_vec(vec![2, 3], vec![0i8, 1, 2, 0, 1, 2]).unwrap();
        let a = Attributes::new()
            .with("axis", Attr::Int(1))
            .with("block_size", Attr::Int(2));
        let y = eval(
            "QuantizeLinear",
            21,
            a.clone(),
            vec![Some(x.clone()), Some(s.clone()), Some(z.clone())],
            1,
        )
        .unwrap();
        // 1/1, 2/1, 3/2=1.5->2 +1, 4/2=2 +1, 5/0.5=10 +2; -3/2=-1.5->-2 +1
        assert_eq!(
            y[0].as_slice::<i8>().unwrap(),
            &[1, 2, 3, 3, 12, -1, -2, -1, -1, -8]
        );
        let d = eval(
            "DequantizeLinear",
            21,
            a,
            vec![Some(y[0].clone()), Some(s), Some(z)],
            1,
        )
        .unwrap();
        assert_eq!(
            d[0].as_slice::<f32>().unwrap(),
            &[1., 2., 4., 4., 5., -1., -2., -4., -4., -5.]
        );
    }

    #[test]
    fn int4_and_f16_and_errors() {
        let x = Tensor::from_vec(
            vec![4],
            vec![
                f16::from_f32(-20.),
                f16::from_f32(3.),
                f16::from_f32(2.5),
                f16::from_f32(100.),
            ],
        )
        .unwrap();
        let s = Tensor::scalar(f16::from_f32(1.0));
        let z = Tensor::new(DType::I4, vec![], Data::I8(vec![1])).unwrap();
        let y = eval(
            "QuantizeLinear",
            21,
            Attributes::new(),
            vec![Some(x.clone()), Some(s.clone()), Some(z)],
            1,
        )
        .unwrap();
        assert_eq!(y[0].dtype(), DType::I4);
        assert_eq!(y[0].as_slice::<i8>().unwrap(), &[-8, 4, 3, 7]);
        let u = Tensor::new(DType::U4, vec![], Data::U8(vec![1])).unwrap();
        let y = eval(
            "QuantizeLinear",
            21,
            Attributes::new(),
            vec![Some(x.clone()), Some(s.clone()), Some(u)],
            1,
        )
        .unwrap();
        assert_eq!(y[0].as_slice::<u8>().unwrap(), &[0, 4, 3, 15]);
        // per-axis scale of the wrong length
        let bad = Tensor::from_vec(vec![3], vec![1f32, 2., 3.]).unwrap();
        let x2 = Tensor::from_vec(vec![2, 2], vec![1f32, 2., 3., 4.]).unwrap();
        assert!(eval(
            "QuantizeLinear",
            13,
            Attributes::new(),
            vec![Some(x2), Some(bad), None],
            1
        )
        .is_err());
        // output_dtype disagreeing with the zero point
        let a = Attributes::new().with("output_dtype", Attr::Int(3));
        let z = Tensor::scalar(0u8);
        assert!(eval("QuantizeLinear", 21, a, vec![Some(x), Some(s), Some(z)], 1).is_err());
    }

    #[test]
    fn dequantize_int32_and_f8() {
        let x = Tensor::from_vec(vec![3], vec![i32::MAX, -5, 0]).unwrap();
        let s = Tensor::scalar(0.5f32);
        let d = eval(
            "DequantizeLinear",
            13,
            Attributes::new(),
            vec![Some(x), Some(s.clone())],
            1,
        )
        .unwrap();
        assert_eq!(
            d[0].as_slice::<f32>().unwrap(),
            &[i32::MAX as f32 * 0.5, -2.5, 0.]
        );
        let y = eval(
            "QuantizeLinear",
            19,
            Attributes::new().with("output_dtype", Attr::Int(17)),
            vec![
                Some(Tensor::from_vec(vec![2], vec![1000f32, -3.]).unwrap()),
                Some(s.clone()),
            ],
            1,
        );
        // opset 19 has no output_dtype, but the value is accepted; saturate clamps 2000 to 448
        let y = y.unwrap();
        assert_eq!(y[0].dtype(), DType::F8E4M3FN);
        let d = eval(
            "DequantizeLinear",
            19,
            Attributes::new(),
            vec![Some(y[0].clone()), Some(s)],
            1,
        )
        .unwrap();
        assert_eq!(d[0].as_slice::<f32>().unwrap(), &[224., -3.]);
    }
}
