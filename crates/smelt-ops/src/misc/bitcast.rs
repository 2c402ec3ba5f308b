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

/// The tensor of `dtype` whose elements have these little-endian bytes.
pub fn from_le_bytes(dtype: DType, shape: Vec<usize>, b: &[u8]) -> Result<Tensor> {
    fn chunks<const N: usize, T>(b: &[u8], f: impl Fn([u8; N]) -> T) -> Vec<T> {
        b.chunks_exact(N)
            .map(|c| f(c.try_into().expect("chunk of N bytes")))
            .collect()
    }
    let data = match dtype {
        DType::F32 => Data::F32(chunks(b, f32::from_le_bytes)),
        DType::F64 => Data::F64(chunks(b, f64::from_le_bytes)),
        DType::F16 => Data::F16(chunks(b, |c| f16::from_bits(u16::from_le_bytes(c)))),
        DType::BF16 => Data::BF16(chunks(b, |c| bf16::from_bits(u16::from_le_bytes(c)))),
        DType::I8 => Data::I8(b.iter().map(|&x| x as i8).collect()),
        DType::I16 => Data::I16(chunks(b, i16::from_le_bytes)),
        DType::U16 => Data::U16(chunks(b, u16::from_le_bytes)),
        DType::I32 => Data::I32(chunks(b, i32::from_le_bytes)),
        DType::U32 => Data::U32(chunks(b, u32::from_le_bytes)),
        DType::I64 => Data::I64(chunks(b, i64::from_le_bytes)),
        DType::U64 => Data::U64(chunks(b, u64::from_le_bytes)),
        DType::Bool => Data::Bool(b.iter().map(|&x| x != 0).collect()),
        DType::U8 | DType::F8E4M3FN | DType::F8E4M3FNUZ | DType::F8E5M2 | DType::F8E5M2FNUZ => {
            Data::U8(b.to_vec())
        }
        d => return Err(Error::dtype(d, "byte view")),
    };
    Tensor::new(dtype, shape, data)
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
