//! `ai.smelt::LinearDequantize`: a linearly quantized weight expanded to float (Core ML's
//! `constexpr_affine_dequantize` / `constexpr_blockwise_shift_scale`).
//!
//! Inputs: `codes` u8[ceil(n*bits/8)] (packed as described in [`super::packed`]), `scale`
//! float with the weight's rank (its shape is the parameter grid), optional `zero_point`
//! (integer or float, the scale's shape), optional `offset` (float, the scale's shape).
//! Attributes: `shape` (the dense shape), `bits` (2..=8), `signed` (1: codes are two's
//! complement, the default), `to` (output dtype as an ONNX code, f32 by default; f16 and
//! bf16 allowed). Output: `(q - zero_point) * scale + offset`, in f32 in that order.
//!
//! The offset makes blocks of the form `d * q + m` exact (GGUF's Q4_1 and Q5_1: a float
//! minimum per block), which an integer zero point cannot, and a float one `-m / d` only
//! approximately.
//!
//! The CPU backend fuses this node into the MatMul, Gemm, Conv or Gather that reads it, so a
//! run decodes tiles, never the whole weight; this evaluation is the reference.

use super::packed::Packed;
use crate::prelude::*;

pub const DOMAIN: &str = "ai.smelt";

#[derive(Debug)]
pub struct LinearDequantize {
    pub shape: Vec<usize>,
    pub bits: u32,
    pub signed: bool,
    pub to: DType,
}

pub(crate) fn shape_attr(a: &Attributes) -> Result<Vec<usize>> {
    let s = a.req_ints("shape")?;
    let dims = s
        .iter()
        .map(|&d| {
            usize::try_from(d)
                .map_err(|_| Error::invalid(format!("shape {s:?} has a negative dim")))
        })
        .collect::<Result<Vec<_>>>()?;
    smelt_core::check_dims(&dims.iter().map(|&d| Dim::Fixed(d)).collect::<Vec<_>>())?;
    Ok(dims)
}

pub(crate) fn to_attr(a: &Attributes) -> Result<DType> {
    let to = dtype_from_onnx(a.int_or("to", 1)?)?;
    ensure!(
        matches!(to, DType::F32 | DType::F16 | DType::BF16),
        "to must be float, float16 or bfloat16, got {to}"
    );
    Ok(to)
}

pub(crate) fn out_tensor(to: DType, shape: Vec<usize>, v: Vec<f32>) -> Result<Tensor> {
    match to {
        DType::F16 => Tensor::from_vec(shape, v.into_iter().map(f16::from_f32).collect::<Vec<_>>()),
        DType::BF16 => {
            Tensor::from_vec(shape, v.into_iter().map(bf16::from_f32).collect::<Vec<_>>())
        }
        _ => Tensor::from_vec(shape, v),
    }
}

pub fn register(r: &mut Registry) {
    r.register(DOMAIN, "LinearDequantize", |ctx| {
        Ok(Box::new(LinearDequantize::from_attrs(ctx.attrs)?))
    });
}

impl LinearDequantize {
    pub fn from_attrs(a: &Attributes) -> Result<Self> {
        let bits = a.int_or("bits", 8)?;
        ensure!((2..=8).contains(&bits), "bits must be 2..=8, got {bits}");
        Ok(LinearDequantize {
            shape: shape_attr(a)?,
            bits: bits as u32,
            signed: a.int_or("signed", 1)? != 0,
            to: to_attr(a)?,
        })
    }

    /// The weight this node decodes, from its input tensors.
    pub fn packed(&self, inputs: &[Option<Tensor>]) -> Result<Packed> {
        let (codes, scale, zero) = (req(inputs, 0)?.clone(), req(inputs, 1)?, opt(inputs, 2));
        match opt(inputs, 3) {
            Some(offset) => {
                ensure!(
                    offset.dtype().is_float(),
                    "offset must be float, got {}",
                    offset.dtype()
                );
                Packed::linear_offset(
                    &self.shape,
                    self.bits,
                    self.signed,
                    codes,
                    scale,
                    zero,
                    offset,
                )
            }
            None => Packed::linear(&self.shape, self.bits, self.signed, codes, scale, zero),
        }
    }
}

impl Op for LinearDequantize {
    fn op_type(&self) -> &str {
        "LinearDequantize"
    }
    fn infer(&self, _: &InferCtx) -> Result<Vec<ValueInfo>> {
        Ok(vec![ValueInfo::fixed(self.to, &self.shape)])
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let w = self.packed(&inputs)?;
        Ok(vec![out_tensor(
            self.to,
            self.shape.clone(),
            w.decode_all(),
        )?])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::packed::pack;

    fn node(shape: &[i64], bits: i64, signed: i64) -> LinearDequantize {
        let a = Attributes::new()
            .with("shape", Attr::Ints(shape.to_vec()))
            .with("bits", Attr::Int(bits))
            .with("signed", Attr::Int(signed));
        LinearDequantize::from_attrs(&a).unwrap()
    }

    fn eval(op: &LinearDequantize, inputs: Vec<Option<Tensor>>) -> Result<Vec<f32>> {
        let w = op.packed(&inputs)?;
        Ok(w.decode_all())
    }

    /// `d * q + m` per block of 4 along the last axis, exactly as f32 computes it.
    #[test]
    fn float_offset_per_block() {
        let q: Vec<u32> = (0..16).map(|i| (i * 7 + 3) % 16).collect();
        let codes = Tensor::from_vec(vec![8], pack(q.iter().copied(), 4)).unwrap();
        let d = [0.1f32, -0.37, 1.0e-3, 3.3];
        let m = [-0.7f32, 0.25, 1.0e-5, -8.1];
        let scale = Tensor::from_vec(
            vec![2, 2],
            d.iter().map(|&v| f16::from_f32(v)).collect::<Vec<_>>(),
        )
        .unwrap();
        let offset = Tensor::from_vec(
            vec![2, 2],
            m.iter().map(|&v| f16::from_f32(v)).collect::<Vec<_>>(),
        )
        .unwrap();
        let op = node(&[2, 8], 4, 0);
        let got = eval(
            &op,
            vec![Some(codes.clone()), Some(scale.clone()), None, Some(offset)],
        )
        .unwrap();
        let want: Vec<f32> = q
            .iter()
            .enumerate()
            .map(|(i, &q)| {
                let c = i / 4;
                q as f32 * f16::from_f32(d[c]).to_f32() + f16::from_f32(m[c]).to_f32()
            })
            .collect();
        assert_eq!(
            got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            want.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        // an offset of another shape than the scale, or not float, is an error
        let bad = Tensor::from_vec(vec![2, 1], vec![0.0f32; 2]).unwrap();
        assert!(eval(
            &op,
            vec![Some(codes.clone()), Some(scale.clone()), None, Some(bad)]
        )
        .is_err());
        let ints = Tensor::from_vec(vec![2, 2], vec![0i32; 4]).unwrap();
        assert!(eval(&op, vec![Some(codes), Some(scale), None, Some(ints)]).is_err());
    }
}
