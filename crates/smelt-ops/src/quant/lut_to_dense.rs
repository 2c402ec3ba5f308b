//! `ai.smelt::LutToDense`: a palettized weight expanded to float (Core ML's
//! `constexpr_lut_to_dense`).
//!
//! Inputs: `indices` u8[ceil(n*bits/8)] (packed as described in [`super::packed`]) and `lut`
//! float of shape `grid ++ [2^bits]`: one table per grid cell (per tensor, or per group of
//! output channels). Attributes: `shape` (the dense shape), `bits` (1..=8), `to` (output
//! dtype as an ONNX code, f32 by default). Output: `lut[cell][index]`.
//!
//! The CPU backend fuses this node into the op that reads it (see `LinearDequantize`).

use super::linear_dequantize::{out_tensor, shape_attr, to_attr, DOMAIN};
use super::packed::Packed;
use crate::prelude::*;

#[derive(Debug)]
pub struct LutToDense {
    pub shape: Vec<usize>,
    pub bits: u32,
    pub to: DType,
}

pub fn register(r: &mut Registry) {
    r.register(DOMAIN, "LutToDense", |ctx| {
        Ok(Box::new(LutToDense::from_attrs(ctx.attrs)?))
    });
}

impl LutToDense {
    pub fn from_attrs(a: &Attributes) -> Result<Self> {
        let bits = a.req_int("bits")?;
        ensure!((1..=8).contains(&bits), "bits must be 1..=8, got {bits}");
        Ok(LutToDense {
            shape: shape_attr(a)?,
            bits: bits as u32,
            to: to_attr(a)?,
        })
    }

    /// The weight this node decodes, from its input tensors.
    pub fn packed(&self, inputs: &[Option<Tensor>]) -> Result<Packed> {
        Packed::lut(
            &self.shape,
            self.bits,
            req(inputs, 0)?.clone(),
            req(inputs, 1)?,
        )
    }
}

impl Op for LutToDense {
    fn op_type(&self) -> &str {
        "LutToDense"
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
