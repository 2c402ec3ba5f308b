//! BitCast (opset 26): reinterprets each element's bits as another dtype of the same width.

use crate::prelude::*;

#[derive(Debug)]
pub struct BitCast {
    to: DType,
}

pub fn register(r: &mut Registry) {
    r.register("", "BitCast", |c| {
        let code = c.attrs.req_int("to")?;
        let to = DType::from_onnx(code)
            .ok_or_else(|| Error::Unsupported(format!("BitCast to ONNX type {code}")))?;
        ensure!(to != DType::String, "BitCast to string is not allowed");
        Ok(Box::new(BitCast { to }))
    });
}

/// Little-endian bytes of every element (one byte per element for 1-byte and low-bit types).
pub fn to_le_bytes(t: &Tensor) -> Result<Vec<u8>> {
    Ok(t.le_bytes()?.into_owned())
}

/// The tensor of `dtype` whose elements have these little-endian bytes (any nonzero byte is a
/// true bool).
pub fn from_le_bytes(dtype: DType, shape: Vec<usize>, b: &[u8]) -> Result<Tensor> {
    if dtype == DType::Bool {
        let v: Vec<bool> = b.iter().map(|&x| x != 0).collect();
        return Tensor::from_vec(shape, v);
    }
    Tensor::from_le_bytes(dtype, shape, b)
}

impl Op for BitCast {
    fn op_type(&self) -> &str {
        "BitCast"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let from = x.dtype();
        let low_bit = |d: DType| matches!(d, DType::I4 | DType::U4 | DType::F4E2M1);
        if low_bit(from) || low_bit(self.to) || from == DType::String {
            return Err(Error::Unsupported(format!("BitCast {from} -> {}", self.to)));
        }
        ensure!(
            from.size_of() == self.to.size_of(),
            "BitCast needs equal widths: {from} is {} bytes, {} is {}",
            from.size_of(),
            self.to,
            self.to.size_of()
        );
        Ok(vec![from_le_bytes(
            self.to,
            x.shape().to_vec(),
            &to_le_bytes(x)?,
        )?])
    }
}
