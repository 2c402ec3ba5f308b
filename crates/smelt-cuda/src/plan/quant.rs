//! QuantizeLinear (f32 -> u8), DequantizeLinear (u8 -> f32) and DynamicQuantizeLinear
//! (f32 -> u8, scale, zero point), after the CPU ops in `smelt_ops::quant`: per-tensor,
//! per-axis and blocked scales through the CPU op's `ParamMap`. Other dtypes (i8, 16-bit,
//! 4-bit, float8, f16 scales), `precision` and a non-default `output_dtype` stay on the CPU.

use smelt_core::{DType, Error, Result};
use smelt_ir::{Attributes, Graph, Node};
use smelt_ops::quant::common::ParamMap;

#[derive(Clone, Debug, PartialEq)]
pub struct QuantAttrs {
    /// DequantizeLinear (else QuantizeLinear)
    pub dequant: bool,
    pub axis: i64,
    pub block_size: i64,
}

impl QuantAttrs {
    /// Parses the attributes; a case the kernels do not run is an `unsupported` error.
    pub fn parse(a: &Attributes, dequant: bool) -> Result<QuantAttrs> {
        let op = if dequant {
            "DequantizeLinear"
        } else {
            "QuantizeLinear"
        };
        let want = if dequant { 1 } else { 2 }; // f32, u8
        match a.int("output_dtype")? {
            None | Some(0) => {}
            Some(c) if c == want => {}
            Some(c) => return Err(Error::unsupported(op, format!("output_dtype {c}"))),
        }
        if !matches!(a.int("precision")?, None | Some(0)) {
            return Err(Error::unsupported(op, "a precision attribute"));
        }
        let block_size = a.int_or("block_size", 0)?;
        if block_size < 0 {
            return Err(Error::invalid(format!(
                "block_size must be >= 0, got {block_size}"
            )));
        }
        Ok(QuantAttrs {
            dequant,
            axis: a.int_or("axis", 1)?,
            block_size,
        })
    }
}

/// The dtype contract: Quantize x f32, Dequantize x u8; scale f32; zero point u8.
pub fn check_types(node: &Node, graph: &Graph, dequant: bool) -> std::result::Result<(), String> {
    for (i, inp) in node.inputs.iter().enumerate() {
        let Some(id) = inp else { continue };
        let v = &graph.values[*id];
        let Some(d) = v.info.dtype else {
            return Err(format!("dtype of input '{}' unknown", v.name));
        };
        let want = match i {
            0 if dequant => DType::U8,
            1 | 0 => DType::F32,
            _ => DType::U8,
        };
        if d != want {
            return Err(format!(
                "{} input {i} '{}' is {d}; the GPU kernel takes {want}",
                node.op_type, v.name
            ));
        }
    }
    Ok(())
}

/// A parameter map as the kernels read it (`QMap` in quant.cu).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QMap {
    /// 0 per tensor, 1 per axis, 2 blocked
    pub kind: i32,
    pub dim: i32,
    pub inner: i32,
    pub bs: i32,
    pub nb: i32,
}

/// The map of a scale / zero point of shape `p` over x, as the CPU op validates it.
pub fn qmap(x: &[usize], p: &[usize], axis: i64, block_size: i64) -> Result<QMap> {
    let (kind, dim, inner, bs, nb) = ParamMap::new(x, p, axis, block_size)?.layout();
    let i = |v: usize| super::i32_of(v, "quantize parameter layout");
    Ok(QMap {
        kind: kind as i32,
        dim: i(dim)?,
        inner: i(inner)?,
        bs: i(bs)?,
        nb: i(nb)?,
    })
}

/// The zero point's shape must be the scale's (or both hold one value).
pub fn check_zero_point(scale: &[usize], zp: &[usize]) -> Result<()> {
    let n = |s: &[usize]| s.iter().product::<usize>();
    if scale != zp && !(n(scale) == 1 && n(zp) == 1) {
        return Err(Error::invalid(format!(
            "zero point shape {zp:?} != scale shape {scale:?}"
        )));
    }
    Ok(())
}
